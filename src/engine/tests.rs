//! The steps of the pipeline that span families, run over a toy family whose API is a map in
//! memory: it shows what a family needs (one module, one entry in a stage list) and lets guard,
//! apply and conclude be tested without a network.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use super::*;
use crate::api::Exception;
use crate::clients::ApiError;
use crate::controls::family::Split;
use crate::controls::{Effect, Family, Finding, Planned, Reason, Step};

/// Switches by name; `closed` says whether a switch closes public access when it goes on.
#[derive(Default)]
struct ToyApi {
    switches: Mutex<BTreeMap<String, bool>>,
    writes: Mutex<Vec<String>>,
    /// How long a read takes.
    latency: std::time::Duration,
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
        tokio::time::sleep(apis.latency).await;
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
        exceptions: &[],
    }
}

async fn run_toy(policy: &ToyPolicy, api: &ToyApi, pass: &Pass<'_>, apply: Apply) -> Report {
    let stages: Vec<Box<dyn Stage<ToyApi>>> = [stage::start::<Toy>(policy, pass)]
        .into_iter()
        .flatten()
        .collect();
    run(stages, api, pass, apply, approval::Approval::Automatic).await
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
    assert_eq!(resolve::<Policy>(None, None), Policy::default());
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

fn exception(controls: &[&str], expires: jiff::Timestamp) -> Exception {
    serde_json::from_value(serde_json::json!({
        "controls": controls,
        "reason": "SEC-123",
        "expires": expires.to_string(),
        "approvedBy": "security@example.com",
    }))
    .unwrap()
}

fn pass_with<'a>(now: jiff::Timestamp, exceptions: &'a [Exception]) -> Pass<'a> {
    Pass {
        now,
        exceptions,
        ..pass(Mode::Enforce, false)
    }
}

/// An unexpired exception holds its control: Excepted with reason, approver and expiry, not
/// remediated, not in the score; the other controls are fixed as usual.
#[tokio::test]
async fn an_exception_holds_its_control() {
    let policy = ToyPolicy {
        switches: vec![("a", true), ("b", true)],
        closes_public_access: vec![],
    };
    let api = ToyApi::default();
    let now = jiff::Timestamp::now();
    let exceptions = [exception(
        &["toy/a"],
        now + jiff::SignedDuration::from_hours(24),
    )];
    let report = run_toy(&policy, &api, &pass_with(now, &exceptions), Apply::Enforce).await;
    assert_eq!(
        states(&report),
        [
            ("toy/a", ControlState::Excepted, Some(Reason::Excepted)),
            ("toy/b", ControlState::Remediated, None)
        ]
    );
    let message = report.controls[0].message.as_deref().unwrap();
    assert!(
        message.contains("SEC-123") && message.contains("security@example.com"),
        "{message}"
    );
    assert_eq!(
        report.controls[0].observed.as_deref(),
        Some("false"),
        "values stay visible"
    );
    assert_eq!(*api.writes.lock().unwrap(), ["FLIP b"]);
    assert_eq!(report.summary().score(), "1/1");
    assert!(!report.drifted());
    assert!(!report.exception_lapsed);
}

/// After its expiry an exception holds nothing: the control is remediated.
#[tokio::test]
async fn an_expired_exception_is_ignored() {
    let policy = ToyPolicy {
        switches: vec![("a", true)],
        closes_public_access: vec![],
    };
    let api = ToyApi::default();
    let now = jiff::Timestamp::now();
    let exceptions = [exception(
        &["toy/*"],
        now - jiff::SignedDuration::from_secs(1),
    )];
    let report = run_toy(&policy, &api, &pass_with(now, &exceptions), Apply::Enforce).await;
    assert_eq!(states(&report), [("toy/a", ControlState::Remediated, None)]);
    assert_eq!(*api.writes.lock().unwrap(), ["FLIP a"]);
}

/// A pass that starts before the expiry and ends after it: nothing is written for the control
/// (the plan was made while it held), the report does not claim it still holds, and the
/// caller is told to look again at once.
#[tokio::test]
async fn an_exception_lapsing_during_the_pass_is_not_reported_as_holding() {
    let policy = ToyPolicy {
        switches: vec![("a", true)],
        closes_public_access: vec![],
    };
    let api = ToyApi {
        latency: std::time::Duration::from_millis(300),
        ..ToyApi::default()
    };
    let now = jiff::Timestamp::now();
    let exceptions = [exception(
        &["toy/a"],
        now + jiff::SignedDuration::from_millis(100),
    )];
    let report = run_toy(&policy, &api, &pass_with(now, &exceptions), Apply::Enforce).await;
    assert!(
        jiff::Timestamp::now() > exceptions[0].expires.0,
        "the pass outlived the exception"
    );
    assert_eq!(report.controls[0].state, ControlState::Drifted);
    assert!(
        report.controls[0]
            .message
            .as_deref()
            .unwrap()
            .contains("expired during this pass")
    );
    assert!(report.exception_lapsed);
    assert!(api.writes.lock().unwrap().is_empty());
}

#[test]
fn exceptions_are_taken_from_the_baseline_and_refused_beyond_a_year() {
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let spec = |expires: jiff::Timestamp| -> crate::api::DatabricksWorkspaceSpec {
        serde_json::from_value(serde_json::json!({
            "host": "https://h",
            "auth": {"personalAccessToken": {"secretRef": {"name": "s", "key": "k"}}},
            "exceptions": [{"controls": ["tokens/*"], "reason": "r", "expires": expires.to_string()}],
        }))
        .unwrap()
    };
    let baseline: crate::api::SecurityBaselineSpec = serde_json::from_value(serde_json::json!({
        "policy": {},
        "exceptions": [{"controls": ["secretScopes/*"], "reason": "b", "expires": (now + jiff::SignedDuration::from_hours(48)).to_string()}],
    }))
    .unwrap();
    let soon = now + jiff::SignedDuration::from_hours(24);
    let target_for = |spec: crate::api::DatabricksWorkspaceSpec, baseline| {
        target_for(
            spec.policy.as_ref(),
            &spec.governance,
            baseline,
            &Reach::default(),
            now,
        )
    };
    let target = target_for(spec(soon), Some(&baseline)).unwrap();
    assert_eq!(target.exceptions.len(), 2);
    assert_eq!(target.next_expiry(now), Some(soon));
    let far = now + jiff::SignedDuration::from_hours(367 * 24);
    let error = target_for(spec(far), None).unwrap_err();
    assert_eq!(error.reason(), "ExceptionTooLong");
    assert!(error.to_string().contains("tokens/*"), "{error}");
}
