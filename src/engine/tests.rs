//! The steps of the pipeline that span families, run over a toy family whose API is a map in
//! memory: it shows what a family needs (one module, one entry in a stage list) and lets guard,
//! apply and conclude be tested without a network.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use super::*;
use crate::clients::ApiError;
use crate::controls::family::Split;
use crate::controls::{Effect, Family, Finding, Planned, Reason, Step};

/// Switches by name; `closed` says whether a switch closes public access when it goes on.
#[derive(Default)]
struct ToyApi {
    switches: Mutex<BTreeMap<String, bool>>,
    writes: Mutex<Vec<String>>,
}

/// The toy policy: desired switches, and switches whose desired value closes public access.
struct ToyPolicy {
    switches: Vec<(&'static str, bool)>,
    closes_public_access: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
struct Flip {
    names: Vec<String>,
    on: bool,
    closes: Vec<String>,
}

struct Toy;

#[derive(Debug, Clone, PartialEq)]
struct On(bool);

impl fmt::Display for On {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Family for Toy {
    type Policy = ToyPolicy;
    type Apis = ToyApi;
    type Desired = Vec<(String, bool, bool)>;
    type Observed = BTreeMap<String, bool>;
    type Control = String;
    type Value = On;
    type Change = Flip;

    fn desired(policy: &ToyPolicy, _pass: &Pass) -> Option<Self::Desired> {
        let closes = |name: &str| policy.closes_public_access.contains(&name);
        Some(
            policy
                .switches
                .iter()
                .map(|(name, on)| (name.to_string(), *on, closes(name)))
                .collect(),
        )
    }

    async fn observe(_: &Self::Desired, apis: &ToyApi) -> Self::Observed {
        apis.switches.lock().expect("toy state").clone()
    }

    fn evaluate(
        desired: &Self::Desired,
        observed: &Self::Observed,
        _pass: &Pass,
    ) -> Vec<Finding<String, On>> {
        desired
            .iter()
            .map(|(name, on, _)| {
                let live = observed.get(name).copied().unwrap_or(false);
                Finding::compare(name.clone(), On(*on), On(live))
            })
            .collect()
    }

    /// Every drifted switch in one change, as a batched API would.
    fn plan(
        desired: &Self::Desired,
        _observed: &Self::Observed,
        drifted: &[&Finding<String, On>],
        pass: &Pass,
    ) -> Vec<Planned<String, Flip>> {
        if drifted.is_empty() {
            return Vec::new();
        }
        let names: Vec<String> = drifted.iter().map(|f| f.control.clone()).collect();
        let closes = desired
            .iter()
            .filter(|(name, _, closes)| *closes && names.contains(name))
            .map(|(name, _, _)| name.clone())
            .collect();
        vec![Planned {
            controls: names.clone(),
            step: Step::Configure,
            mode: pass.mode,
            change: Flip {
                names,
                on: true,
                closes,
            },
        }]
    }

    async fn execute(change: &Flip, apis: &ToyApi) -> Result<(), ApiError> {
        let mut switches = apis.switches.lock().expect("toy state");
        for name in &change.names {
            switches.insert(name.clone(), change.on);
        }
        apis.writes
            .lock()
            .expect("toy writes")
            .push(Toy::describe(change));
        Ok(())
    }

    fn control_id(name: &String) -> String {
        format!("toy/{name}")
    }

    fn describe(change: &Flip) -> String {
        format!("FLIP {}", change.names.join(","))
    }

    fn effects(change: &Flip) -> Vec<Effect> {
        if change.closes.is_empty() {
            Vec::new()
        } else {
            vec![Effect::ClosesPublicNetworkAccess]
        }
    }

    fn split_off(change: &Flip, effect: &Effect) -> Option<Split<String, Flip>> {
        if *effect != Effect::ClosesPublicNetworkAccess || change.closes.len() == change.names.len()
        {
            return None;
        }
        let (closing, rest): (Vec<String>, Vec<String>) = change
            .names
            .iter()
            .cloned()
            .partition(|n| change.closes.contains(n));
        let part = |names: Vec<String>, closes: Vec<String>| {
            (
                names.clone(),
                Flip {
                    names,
                    on: change.on,
                    closes,
                },
            )
        };
        Some([part(rest, Vec::new()), part(closing.clone(), closing)])
    }
}

fn pass(mode: Mode, private_network: bool) -> Pass<'static> {
    Pass {
        mode,
        now: jiff::Timestamp::UNIX_EPOCH,
        protected: &[],
        private_network,
    }
}

async fn run_toy(policy: &ToyPolicy, api: &ToyApi, pass: &Pass<'_>, apply: Apply) -> Report {
    let stages: Vec<Box<dyn Stage<ToyApi>>> = [stage::start::<Toy>(policy, pass)]
        .into_iter()
        .flatten()
        .collect();
    run(stages, api, pass, apply).await
}

fn states(report: &Report) -> Vec<(&str, ControlState, Option<Reason>)> {
    report
        .controls
        .iter()
        .map(|c| (c.id.as_str(), c.state, c.reason))
        .collect()
}

#[tokio::test]
async fn enforce_remediates_and_reads_again() {
    let policy = ToyPolicy {
        switches: vec![("a", true), ("b", true)],
        closes_public_access: vec![],
    };
    let api = ToyApi::default();
    api.switches.lock().unwrap().insert("a".into(), true);
    let report = run_toy(&policy, &api, &pass(Mode::Enforce, false), Apply::Enforce).await;
    assert_eq!(
        states(&report),
        [
            ("toy/a", ControlState::Compliant, None),
            ("toy/b", ControlState::Remediated, None)
        ]
    );
    assert_eq!(*api.writes.lock().unwrap(), ["FLIP b"]);
    assert!(report.planned_actions.is_empty());

    // A second pass finds nothing to do.
    let report = run_toy(&policy, &api, &pass(Mode::Enforce, false), Apply::Enforce).await;
    assert!(report.executed.is_empty());
    assert_eq!(api.writes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn audit_and_plan_only_write_nothing() {
    let policy = ToyPolicy {
        switches: vec![("a", true)],
        closes_public_access: vec![],
    };
    let api = ToyApi::default();
    let audit = run_toy(&policy, &api, &pass(Mode::Audit, false), Apply::Enforce).await;
    assert_eq!(
        states(&audit),
        [("toy/a", ControlState::Drifted, Some(Reason::AuditMode))]
    );
    assert_eq!(audit.planned_actions, ["FLIP a"]);
    let plan_only = run_toy(&policy, &api, &pass(Mode::Enforce, false), Apply::Never).await;
    assert_eq!(plan_only.controls[0].reason, Some(Reason::PlanOnly));
    assert!(api.writes.lock().unwrap().is_empty());
}

/// A change refused for one effect is split: the part without it still runs.
#[tokio::test]
async fn a_refused_effect_splits_the_change() {
    let policy = ToyPolicy {
        switches: vec![("npip", true), ("close", true)],
        closes_public_access: vec!["close"],
    };
    let api = ToyApi::default();
    let report = run_toy(&policy, &api, &pass(Mode::Enforce, false), Apply::Enforce).await;
    assert_eq!(
        states(&report),
        [
            ("toy/npip", ControlState::Remediated, None),
            (
                "toy/close",
                ControlState::Failed,
                Some(Reason::RemediationBlocked)
            )
        ]
    );
    assert_eq!(*api.writes.lock().unwrap(), ["FLIP npip"]);
    assert_eq!(
        report.planned_actions,
        ["FLIP close (blocked: LockoutGuard)"]
    );
    assert!(
        report.controls[1]
            .message
            .as_deref()
            .unwrap()
            .contains("--private-network")
    );

    // Reaching the workspace privately, the change runs whole.
    let api = ToyApi::default();
    let report = run_toy(&policy, &api, &pass(Mode::Enforce, true), Apply::Enforce).await;
    assert_eq!(*api.writes.lock().unwrap(), ["FLIP npip,close"]);
    assert!(
        report
            .controls
            .iter()
            .all(|c| c.state == ControlState::Remediated)
    );
}

fn result(id: &str, state: ControlState) -> ControlResult {
    ControlResult::new(id, state).with_values("false", "true")
}

fn guarded(id: &str, mode: Mode) -> Guarded {
    Guarded {
        action: Action {
            stage: 0,
            index: 0,
            controls: vec![id.into()],
            step: Step::Configure,
            mode,
            effects: Vec::new(),
            description: format!("FLIP {id}"),
            per_control: vec![format!("FLIP {id}")],
        },
        blocked: None,
    }
}

#[test]
fn conclude_states_each_outcome() {
    let guarded = vec![
        guarded("a", Mode::Enforce),
        guarded("b", Mode::Enforce),
        guarded("c", Mode::Audit),
        guarded("d", Mode::Enforce),
    ];
    let remediation = |index: usize, id: &str, outcome| Remediation {
        index,
        controls: vec![id.into()],
        description: "x".into(),
        outcome,
    };
    let executed = vec![
        remediation(0, "a", Outcome::Applied),
        remediation(1, "b", Outcome::Failed("boom".into())),
        remediation(
            3,
            "d",
            Outcome::Blocked {
                reason: Reason::LockoutGuard,
                message: "no".into(),
            },
        ),
    ];
    let before = vec![
        result("a", ControlState::Drifted),
        result("b", ControlState::Drifted),
        result("c", ControlState::Drifted),
        result("d", ControlState::Drifted),
        result("e", ControlState::Compliant),
    ];
    let after = vec![
        result("a", ControlState::Compliant),
        result("b", ControlState::Drifted),
        result("d", ControlState::Drifted),
    ];
    let (results, planned) = conclude(before, &after, &guarded, &executed);
    let states: Vec<_> = results
        .iter()
        .map(|r| (r.id.as_str(), r.state, r.reason))
        .collect();
    assert_eq!(
        states,
        [
            ("a", ControlState::Remediated, None),
            ("b", ControlState::Failed, Some(Reason::RemediationFailed)),
            ("c", ControlState::Drifted, Some(Reason::AuditMode)),
            ("d", ControlState::Failed, Some(Reason::RemediationBlocked)),
            ("e", ControlState::Compliant, None),
        ]
    );
    assert_eq!(
        planned.len(),
        3,
        "everything not applied stays planned: {planned:?}"
    );
    assert!(
        planned
            .iter()
            .any(|p| p.ends_with("(blocked: LockoutGuard)"))
    );
    assert!(planned.iter().any(|p| p.ends_with("(failed)")));
}

#[test]
fn resolve_prefers_the_workspace_over_its_baseline() {
    let baseline: Policy = serde_json::from_value(
        serde_json::json!({"workspaceConf": {"exportNotebook": false, "webTerminal": false}}),
    )
    .unwrap();
    let workspace: Policy =
        serde_json::from_value(serde_json::json!({"workspaceConf": {"webTerminal": true}}))
            .unwrap();
    let resolved = resolve(Some(&baseline), Some(&workspace));
    let conf = resolved.workspace_conf.unwrap();
    assert_eq!(
        (conf.export_notebook, conf.web_terminal),
        (Some(false), Some(true))
    );
    assert_eq!(resolve(None, None), Policy::default());
}

#[test]
fn the_workspace_families_start_only_when_managed() {
    let pass = pass(Mode::Enforce, false);
    assert!(workspace_stages(&Workspace::new(Policy::default()), &pass).is_empty());
    let policy: Policy = serde_json::from_value(serde_json::json!({
        "workspaceConf": {"exportNotebook": false},
        "settings": {"restrictWorkspaceAdmins": true},
    }))
    .unwrap();
    assert_eq!(workspace_stages(&Workspace::new(policy), &pass).len(), 2);
}
