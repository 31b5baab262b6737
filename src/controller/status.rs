//! The status of a `DatabricksWorkspace` (pure): conditions whose `lastTransitionTime` changes
//! only when their status does, and per-control transition times kept the same way.
//!
//! Conditions: `Ready`, `Compliant` and `RemediationBlocked` are always present. `Reconciling`
//! and `Stalled` follow the kstatus convention (sigs.k8s.io/cli-utils/pkg/kstatus): abnormal-true,
//! present only while true, never both.
//!
//! - `Stalled=True`: no progress without a change by someone: `Ready=False` (same reason and
//!   message: a missing Secret or baseline, an invalid spec, refused credentials, an unreachable
//!   workspace), or an Enforce-mode remediation that a guard refused (the blocked reason, e.g.
//!   `LockoutGuard`).
//! - `Reconciling=True`: the controller itself still has work toward the spec: an Enforce-mode
//!   remediation failed, or waited on one that failed, and is retried on the next pass.
//!
//! While a pass runs, `status.observedGeneration` lagging `metadata.generation` is what says the
//! new spec is being worked on (kstatus reads it before any condition).

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{ControlState, DatabricksWorkspaceStatus, LastRemediation, not_ready};
use crate::controls::Reason;
use crate::engine::{Outcome, Report};

pub const READY: &str = "Ready";
pub const COMPLIANT: &str = "Compliant";
pub const REMEDIATION_BLOCKED: &str = "RemediationBlocked";
/// kstatus: the controller is still working toward the spec. Present only while true.
pub const RECONCILING: &str = "Reconciling";
/// kstatus: the controller cannot make progress without a change. Present only while true.
pub const STALLED: &str = "Stalled";
/// The `Reconciling` reason after failed remediations.
pub const RETRYING_REMEDIATION: &str = "RetryingRemediation";

/// Why a workspace could not be reconciled: the `Ready=False` reason and a message that says
/// what to do. Messages never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub reason: &'static str,
    pub message: String,
}

/// A condition with the previous `lastTransitionTime` kept when the status did not change.
fn condition(
    previous: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The status after a pass that reached the workspace.
pub fn reconciled(
    previous: Option<&DatabricksWorkspaceStatus>,
    generation: Option<i64>,
    report: &Report,
    now: Time,
) -> DatabricksWorkspaceStatus {
    let old = previous.cloned().unwrap_or_default();
    let summary = report.summary();
    let not_compliant = summary.drifted + summary.failed + summary.requires_recreate;
    let blocked = report.blocked();
    let ready = if report.authentication_failed() {
        condition(
            &old.conditions,
            READY,
            false,
            not_ready::AUTHENTICATION_FAILED,
            "every read was refused: check the credentials in spec.auth and their Secret".into(),
            generation,
            &now,
        )
    } else if report.unreachable() {
        let first = report
            .controls
            .iter()
            .find_map(|c| c.message.clone())
            .unwrap_or_default();
        condition(
            &old.conditions,
            READY,
            false,
            not_ready::READ_FAILED,
            format!("no API family could be read; first error: {first}"),
            generation,
            &now,
        )
    } else {
        condition(
            &old.conditions,
            READY,
            true,
            "Reconciled",
            format!("{} controls evaluated", report.controls.len()),
            generation,
            &now,
        )
    };
    let compliant = if not_compliant == 0 {
        condition(
            &old.conditions,
            COMPLIANT,
            true,
            "Compliant",
            format!("all {} applicable controls compliant", summary.applicable()),
            generation,
            &now,
        )
    } else {
        condition(
            &old.conditions,
            COMPLIANT,
            false,
            "Drifted",
            format!(
                "{not_compliant} of {} controls drifted",
                summary.applicable()
            ),
            generation,
            &now,
        )
    };
    let blocked_condition = match blocked.first() {
        Some(first) => {
            let reason = match &first.outcome {
                Outcome::Blocked { reason, .. } => reason.as_str(),
                _ => "Blocked",
            };
            let message = blocked
                .iter()
                .map(|r| match &r.outcome {
                    Outcome::Blocked { message, .. } => {
                        format!("{}: {message}", r.description)
                    }
                    _ => r.description.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            condition(
                &old.conditions,
                REMEDIATION_BLOCKED,
                true,
                reason,
                message,
                generation,
                &now,
            )
        }
        None => condition(
            &old.conditions,
            REMEDIATION_BLOCKED,
            false,
            "NotBlocked",
            "no remediation was blocked".into(),
            generation,
            &now,
        ),
    };
    let progress = progress(report, &ready);
    // The last applied action per control (a control named by two actions keeps the later).
    let remediated: HashMap<&str, &str> = report
        .executed
        .iter()
        .filter(|r| r.outcome == Outcome::Applied)
        .flat_map(|r| {
            r.controls
                .iter()
                .map(|c| (c.as_str(), r.description.as_str()))
        })
        .collect();
    let controls = report
        .controls
        .iter()
        .map(|result| {
            let mut status = result.to_status();
            let before = old.controls.iter().find(|c| c.id == result.id);
            status.last_transition_time = before
                .filter(|c| same_bucket(c.state, result.state))
                .and_then(|c| c.last_transition_time.clone())
                .or_else(|| Some(now.clone()));
            status.last_remediation = match remediated.get(result.id.as_str()) {
                Some(action) => Some(LastRemediation {
                    time: now.clone(),
                    action: (*action).to_string(),
                }),
                None => before.and_then(|c| c.last_remediation.clone()),
            };
            status
        })
        .collect();
    let mut conditions = vec![ready, compliant, blocked_condition];
    set_progress(&mut conditions, &old.conditions, progress, generation, &now);
    DatabricksWorkspaceStatus {
        observed_generation: generation,
        conditions,
        // The caller refreshes it from the governing account.
        account: old.account.clone(),
        score: Some(summary.score()),
        summary: Some(summary),
        controls,
        planned_actions: report.planned_actions.clone(),
        pending_approval: report.pending_approval.as_ref().map(|p| {
            // The same set keeps the time it started waiting.
            let since = old
                .pending_approval
                .as_ref()
                .filter(|was| was.digest == p.digest)
                .map_or_else(|| now.clone(), |was| was.since.clone());
            crate::api::PendingApproval {
                digest: p.digest.clone(),
                actions: p.actions.clone(),
                since,
            }
        }),
        approved_digest: report
            .approval_released
            .clone()
            .or_else(|| old.approved_digest.clone()),
        last_reconcile_time: Some(now),
    }
}

/// What the kstatus conditions say after a pass: at most one of them is true.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    Done,
    Reconciling { reason: String, message: String },
    Stalled { reason: String, message: String },
}

/// Blocked remediations that only wait on another, failed one: the retry may release them.
fn waits_for_retry(reason: Reason) -> bool {
    matches!(reason, Reason::DependsOnFailedAction)
}

fn progress(report: &Report, ready: &Condition) -> Progress {
    if ready.status != "True" {
        return Progress::Stalled {
            reason: ready.reason.clone(),
            message: ready.message.clone(),
        };
    }
    let mut stuck = Vec::new();
    let mut retried = Vec::new();
    for r in &report.executed {
        match &r.outcome {
            Outcome::Applied => {}
            Outcome::Blocked { reason, .. } if waits_for_retry(*reason) => retried.push(r),
            Outcome::Blocked { reason, message } => stuck.push((*reason, r, message)),
            Outcome::Failed(_) => retried.push(r),
        }
    }
    if let Some((reason, _, _)) = stuck.first() {
        let message = stuck
            .iter()
            .map(|(_, r, message)| format!("{}: {message}", r.controls.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        return Progress::Stalled {
            reason: reason.as_str().to_string(),
            message: format!(
                "{} remediation(s) blocked until the spec, the workspace or an approval changes: {message}",
                stuck.len()
            ),
        };
    }
    if !retried.is_empty() {
        let controls = retried
            .iter()
            .flat_map(|r| r.controls.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ");
        return Progress::Reconciling {
            reason: RETRYING_REMEDIATION.into(),
            message: format!(
                "{} remediation(s) failed and are retried on the next pass: {controls}",
                retried.len()
            ),
        };
    }
    Progress::Done
}

/// Replaces `Reconciling` and `Stalled` in `conditions`: the one that is true is appended, the
/// other (and both when done) removed, as kstatus expects.
fn set_progress(
    conditions: &mut Vec<Condition>,
    previous: &[Condition],
    progress: Progress,
    generation: Option<i64>,
    now: &Time,
) {
    conditions.retain(|c| c.type_ != RECONCILING && c.type_ != STALLED);
    let (type_, reason, message) = match progress {
        Progress::Done => return,
        Progress::Reconciling { reason, message } => (RECONCILING, reason, message),
        Progress::Stalled { reason, message } => (STALLED, reason, message),
    };
    conditions.push(condition(
        previous, type_, true, &reason, message, generation, now,
    ));
}

/// Remediated is Compliant reached by a fix: the control did not transition again.
fn same_bucket(a: ControlState, b: ControlState) -> bool {
    a == b || (a.is_compliant() && b.is_compliant())
}

/// The status when a pass could not reach the workspace: previous results stay visible.
/// The controls of account `name` (its last status) that name workspace `workspace_id`: what
/// `kubectl describe dbw` shows under `status.account`.
pub fn governing_account(
    name: &str,
    account: Option<&DatabricksWorkspaceStatus>,
    workspace_id: Option<i64>,
) -> crate::api::GoverningAccount {
    let view = |message: &str| crate::api::GoverningAccount {
        name: name.to_string(),
        message: Some(message.to_string()),
        controls: Vec::new(),
    };
    let Some(id) = workspace_id else {
        return view(
            "the workspace id is unknown: set spec.workspaceId (an Azure host adb-<id>.<n> carries it)",
        );
    };
    let Some(status) = account else {
        return view("the DatabricksAccount does not exist or has not been reconciled yet");
    };
    let suffix = format!("/workspace/{id}");
    crate::api::GoverningAccount {
        name: name.to_string(),
        message: None,
        controls: status
            .controls
            .iter()
            .filter(|c| c.id.ends_with(&suffix))
            .map(|c| crate::api::GoverningControl {
                id: c.id.clone(),
                state: c.state,
                message: c.message.clone(),
            })
            .collect(),
    }
}

pub fn not_ready(
    previous: Option<&DatabricksWorkspaceStatus>,
    generation: Option<i64>,
    why: &NotReady,
    now: Time,
) -> DatabricksWorkspaceStatus {
    let mut status = with_ready(
        previous,
        generation,
        false,
        why.reason,
        why.message.clone(),
        &now,
    );
    let before = previous
        .map(|p| p.conditions.as_slice())
        .unwrap_or_default();
    let stalled = Progress::Stalled {
        reason: why.reason.to_string(),
        message: why.message.clone(),
    };
    set_progress(&mut status.conditions, before, stalled, generation, &now);
    status.last_reconcile_time = Some(now);
    status
}

/// The previous status with only its `Ready` condition (first) and generation replaced.
fn with_ready(
    previous: Option<&DatabricksWorkspaceStatus>,
    generation: Option<i64>,
    ready: bool,
    reason: &str,
    message: String,
    now: &Time,
) -> DatabricksWorkspaceStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let condition = condition(
        &status.conditions,
        READY,
        ready,
        reason,
        message,
        generation,
        now,
    );
    status.conditions.retain(|c| c.type_ != READY);
    status.conditions.insert(0, condition);
    status.observed_generation = generation;
    status
}

/// Whether `new` is worth a write over `previous`: anything but `lastReconcileTime` changed, or
/// the last write is older than `heartbeat`.
pub fn worth_writing(
    previous: Option<&DatabricksWorkspaceStatus>,
    new: &DatabricksWorkspaceStatus,
    heartbeat: std::time::Duration,
) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    let same = DatabricksWorkspaceStatus {
        last_reconcile_time: new.last_reconcile_time.clone(),
        ..previous.clone()
    } == *new;
    let fresh = match (&previous.last_reconcile_time, &new.last_reconcile_time) {
        (Some(Time(then)), Some(Time(now))) => now.duration_since(*then).unsigned_abs() < heartbeat,
        _ => false,
    };
    !(same && fresh)
}

/// The status of a suspended workspace: Ready with reason Suspended, nothing read.
pub fn suspended(
    previous: Option<&DatabricksWorkspaceStatus>,
    generation: Option<i64>,
    now: Time,
) -> DatabricksWorkspaceStatus {
    let mut status = with_ready(
        previous,
        generation,
        true,
        "Suspended",
        "spec.suspend or the brickwarden.io/suspend annotation stops all reads and writes".into(),
        &now,
    );
    // Nothing is worked on while suspended, and nothing is stuck.
    set_progress(
        &mut status.conditions,
        &[],
        Progress::Done,
        generation,
        &now,
    );
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::ControlResult;
    use crate::engine::{Outcome, Remediation};

    #[test]
    fn a_workspace_shows_the_account_controls_that_name_it() {
        let control = |id: &str, state| crate::api::ControlStatus {
            id: id.into(),
            state,
            ..serde_json::from_value(serde_json::json!({"id": "x", "state": "Compliant"})).unwrap()
        };
        let account = DatabricksWorkspaceStatus {
            controls: vec![
                control("ncc/west/workspace/7", ControlState::Compliant),
                control("ncc/west/workspace/77", ControlState::Drifted),
                control("networkPolicy/restricted/workspace/7", ControlState::Failed),
                control(
                    "accountSettings/disableLegacyFeatures",
                    ControlState::Drifted,
                ),
            ],
            ..Default::default()
        };
        let view = governing_account("contoso", Some(&account), Some(7));
        let shown: Vec<(&str, ControlState)> = view
            .controls
            .iter()
            .map(|c| (c.id.as_str(), c.state))
            .collect();
        assert_eq!(
            shown,
            [
                ("ncc/west/workspace/7", ControlState::Compliant),
                ("networkPolicy/restricted/workspace/7", ControlState::Failed),
            ]
        );
        assert_eq!(view.message, None);
        assert!(
            governing_account("contoso", None, Some(7))
                .message
                .is_some_and(|m| m.contains("does not exist"))
        );
        assert!(
            governing_account("contoso", Some(&account), None)
                .message
                .is_some_and(|m| m.contains("spec.workspaceId"))
        );
    }

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn report(states: &[(&str, ControlState)]) -> Report {
        Report {
            controls: states
                .iter()
                .map(|(id, s)| ControlResult::new(*id, *s).with_values("d", "o"))
                .collect(),
            ..Default::default()
        }
    }

    fn find<'a>(status: &'a DatabricksWorkspaceStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn transition_times_change_only_with_status() {
        let drifted = report(&[("a", ControlState::Drifted), ("b", ControlState::Compliant)]);
        let first = reconciled(None, Some(1), &drifted, at(100));
        assert_eq!(find(&first, COMPLIANT).status, "False");
        assert_eq!(find(&first, COMPLIANT).message, "1 of 2 controls drifted");
        assert_eq!(first.score.as_deref(), Some("1/2"));

        let again = reconciled(Some(&first), Some(1), &drifted, at(200));
        assert_eq!(find(&again, COMPLIANT).last_transition_time, at(100));
        assert_eq!(find(&again, READY).last_transition_time, at(100));
        assert_eq!(again.controls[0].last_transition_time, Some(at(100)));

        let fixed = report(&[
            ("a", ControlState::Remediated),
            ("b", ControlState::Compliant),
        ]);
        let third = reconciled(Some(&again), Some(2), &fixed, at(300));
        assert_eq!(find(&third, COMPLIANT).status, "True");
        assert_eq!(find(&third, COMPLIANT).last_transition_time, at(300));
        assert_eq!(third.controls[0].last_transition_time, Some(at(300)));
        assert_eq!(third.controls[1].last_transition_time, Some(at(100)));
        assert_eq!(third.observed_generation, Some(2));

        // Remediated then Compliant is no transition.
        let steady = reconciled(
            Some(&third),
            Some(2),
            &report(&[
                ("a", ControlState::Compliant),
                ("b", ControlState::Compliant),
            ]),
            at(400),
        );
        assert_eq!(steady.controls[0].last_transition_time, Some(at(300)));
    }

    #[test]
    fn blocked_remediation_sets_the_condition() {
        let mut r = report(&[("ipAccessLists/enabled", ControlState::Failed)]);
        r.executed.push(Remediation {
            index: 0,
            controls: vec!["ipAccessLists/enabled".into()],
            description: "PATCH workspace-conf enableIpAccessLists=true".into(),
            outcome: Outcome::Blocked {
                reason: crate::controls::Reason::LockoutGuard,
                message: "would lock out 127.0.0.1/32".into(),
            },
        });
        let status = reconciled(None, None, &r, at(1));
        let blocked = find(&status, REMEDIATION_BLOCKED);
        assert_eq!(
            (blocked.status.as_str(), blocked.reason.as_str()),
            ("True", "LockoutGuard")
        );
        assert!(blocked.message.contains("127.0.0.1"));
    }

    #[test]
    fn unreadable_workspace_is_not_ready() {
        let mut r = report(&[
            ("a", ControlState::Failed),
            ("b", ControlState::NotApplicable),
        ]);
        r.controls[0].error = Some(crate::controls::ReadError::new(
            None,
            None,
            "connection refused",
        ));
        r.controls[0].message = Some("connection refused".into());
        let status = reconciled(None, None, &r, at(1));
        let ready = find(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ReadFailed")
        );
        assert!(ready.message.contains("connection refused"));

        r.controls[0].error = Some(
            crate::controls::ReadError::new(
                Some(401),
                Some("UNAUTHENTICATED"),
                "databricks /api/2.0/workspace-conf: 401 UNAUTHENTICATED",
            )
            .unauthenticated(),
        );
        let status = reconciled(None, None, &r, at(1));
        assert_eq!(find(&status, READY).reason, "AuthenticationFailed");
    }

    #[test]
    fn not_ready_keeps_previous_results() {
        let first = reconciled(
            None,
            Some(1),
            &report(&[("a", ControlState::Compliant)]),
            at(1),
        );
        let why = NotReady {
            reason: "SecretNotFound",
            message: "Secret data-platform/pat not found".into(),
        };
        let status = not_ready(Some(&first), Some(2), &why, at(2));
        assert_eq!(find(&status, READY).reason, "SecretNotFound");
        assert_eq!(find(&status, READY).last_transition_time, at(2));
        assert_eq!(status.controls.len(), 1);
        assert_eq!(status.conditions[0].type_, READY);
    }

    #[test]
    fn unchanged_status_is_written_only_as_a_heartbeat() {
        let heartbeat = std::time::Duration::from_secs(3600);
        let r = report(&[("a", ControlState::Compliant)]);
        let first = reconciled(None, None, &r, at(1));
        assert!(worth_writing(None, &first, heartbeat));
        let same = reconciled(Some(&first), None, &r, at(60));
        assert!(
            !worth_writing(Some(&first), &same, heartbeat),
            "only the time moved"
        );
        let later = reconciled(Some(&first), None, &r, at(3601));
        assert!(worth_writing(Some(&first), &later, heartbeat), "heartbeat");
        let drifted = report(&[("a", ControlState::Drifted)]);
        let changed = reconciled(Some(&first), None, &drifted, at(60));
        assert!(worth_writing(Some(&first), &changed, heartbeat), "a change");
    }

    fn remediation(controls: &[&str], outcome: Outcome) -> Remediation {
        Remediation {
            index: 0,
            controls: controls.iter().map(|c| c.to_string()).collect(),
            description: format!("PATCH {}", controls.join(",")),
            outcome,
        }
    }

    fn blocked_by(controls: &[&str], reason: Reason, message: &str) -> Remediation {
        let message = message.to_string();
        remediation(controls, Outcome::Blocked { reason, message })
    }

    fn has(status: &DatabricksWorkspaceStatus, type_: &str) -> bool {
        status.conditions.iter().any(|c| c.type_ == type_)
    }

    #[test]
    fn kstatus_conditions_are_present_only_while_true() {
        let clean = report(&[("a", ControlState::Compliant)]);
        let first = reconciled(None, Some(1), &clean, at(1));
        assert_eq!(
            first
                .conditions
                .iter()
                .map(|c| c.type_.as_str())
                .collect::<Vec<_>>(),
            [READY, COMPLIANT, REMEDIATION_BLOCKED],
            "no Reconciling or Stalled when false"
        );

        // A failed write is retried by the controller itself: Reconciling.
        let mut failed = report(&[("a", ControlState::Failed)]);
        failed
            .executed
            .push(remediation(&["a"], Outcome::Failed("503".into())));
        let retrying = reconciled(Some(&first), Some(1), &failed, at(2));
        let reconciling = find(&retrying, RECONCILING);
        assert_eq!(
            (reconciling.status.as_str(), reconciling.reason.as_str()),
            ("True", RETRYING_REMEDIATION)
        );
        assert!(reconciling.message.contains('a'), "{}", reconciling.message);
        assert_eq!(reconciling.observed_generation, Some(1));
        assert!(!has(&retrying, STALLED));
        let again = reconciled(Some(&retrying), Some(1), &failed, at(3));
        assert_eq!(find(&again, RECONCILING).last_transition_time, at(2));

        // Waiting on a failed action is the same retry.
        let mut waiting = failed.clone();
        waiting.executed.push(blocked_by(
            &["b"],
            Reason::DependsOnFailedAction,
            "waits for a",
        ));
        let status = reconciled(Some(&again), Some(1), &waiting, at(4));
        assert!(has(&status, RECONCILING) && !has(&status, STALLED));

        // A guard's refusal needs a human: Stalled, and Reconciling is gone.
        let mut blocked = report(&[("ipAccessLists/enabled", ControlState::Failed)]);
        blocked.executed.push(blocked_by(
            &["ipAccessLists/enabled"],
            Reason::LockoutGuard,
            "would lock out 10.0.0.1",
        ));
        blocked
            .executed
            .push(remediation(&["a"], Outcome::Failed("503".into())));
        let stalled = reconciled(Some(&status), Some(1), &blocked, at(5));
        let condition = find(&stalled, STALLED);
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str()),
            ("True", "LockoutGuard")
        );
        assert!(
            condition.message.contains("ipAccessLists/enabled")
                && condition.message.contains("10.0.0.1"),
            "{}",
            condition.message
        );
        assert!(!has(&stalled, RECONCILING), "never both");
        assert_eq!(find(&stalled, READY).status, "True");

        // Destructive actions held for approval wait on a human too.
        let mut held = report(&[("tokens/revoke", ControlState::Drifted)]);
        held.executed.push(blocked_by(
            &["tokens/revoke"],
            Reason::ApprovalRequired,
            "annotate brickwarden.io/approve",
        ));
        let waiting = reconciled(Some(&stalled), Some(1), &held, at(5));
        assert_eq!(find(&waiting, STALLED).reason, "ApprovalRequired");
        assert!(!has(&waiting, RECONCILING));

        // Fixed: both removed, Ready's transition time untouched throughout.
        let done = reconciled(Some(&stalled), Some(2), &clean, at(6));
        assert!(!has(&done, RECONCILING) && !has(&done, STALLED));
        assert_eq!(find(&done, READY).last_transition_time, at(1));
        // Stalled again later is a new transition.
        let later = reconciled(Some(&done), Some(2), &blocked, at(7));
        assert_eq!(find(&later, STALLED).last_transition_time, at(7));
    }

    #[test]
    fn not_ready_is_stalled_with_the_same_reason() {
        let mut failed = report(&[("a", ControlState::Failed)]);
        failed
            .executed
            .push(remediation(&["a"], Outcome::Failed("503".into())));
        let retrying = reconciled(None, Some(1), &failed, at(1));
        assert!(has(&retrying, RECONCILING));
        for reason in not_ready::ALL {
            let why = NotReady {
                reason,
                message: format!("{reason}: fix it"),
            };
            let status = not_ready(Some(&retrying), Some(2), &why, at(2));
            let stalled = find(&status, STALLED);
            assert_eq!(
                (
                    stalled.status.as_str(),
                    stalled.reason.as_str(),
                    stalled.message.as_str()
                ),
                ("True", reason, why.message.as_str())
            );
            assert_eq!(stalled.observed_generation, Some(2));
            assert!(!has(&status, RECONCILING), "{reason}");
            assert_eq!(find(&status, READY).status, "False");
            // Still stalled on the next attempt: the transition time stays.
            let again = not_ready(Some(&status), Some(2), &why, at(3));
            assert_eq!(find(&again, STALLED).last_transition_time, at(2));
            // Fixed: Stalled is removed.
            let fixed = reconciled(Some(&again), Some(2), &report(&[]), at(4));
            assert!(!has(&fixed, STALLED), "{reason}");
        }

        // A pass whose every read is refused is Ready=False and Stalled alike.
        let mut refused = report(&[("a", ControlState::Failed)]);
        refused.controls[0].error =
            Some(crate::controls::ReadError::new(Some(401), None, "401").unauthenticated());
        let status = reconciled(None, Some(1), &refused, at(1));
        assert_eq!(
            find(&status, STALLED).reason,
            not_ready::AUTHENTICATION_FAILED
        );
    }

    #[test]
    fn suspended_is_neither_reconciling_nor_stalled() {
        let why = NotReady {
            reason: not_ready::SECRET_NOT_FOUND,
            message: "missing".into(),
        };
        let stalled = not_ready(None, Some(1), &why, at(1));
        let status = suspended(Some(&stalled), Some(2), at(2));
        assert!(!has(&status, STALLED) && !has(&status, RECONCILING));
        assert_eq!(find(&status, READY).reason, "Suspended");
    }

    #[test]
    fn each_control_keeps_its_last_remediation() {
        let mut fixed = report(&[
            ("a", ControlState::Remediated),
            ("b", ControlState::Remediated),
            ("c", ControlState::Failed),
        ]);
        fixed.executed = vec![
            remediation(&["a", "b"], Outcome::Applied),
            remediation(&["c"], Outcome::Failed("503".into())),
        ];
        let first = reconciled(None, Some(1), &fixed, at(10));
        let last = |s: &DatabricksWorkspaceStatus, id: &str| {
            s.controls
                .iter()
                .find(|c| c.id == id)
                .unwrap()
                .last_remediation
                .clone()
        };
        let applied = LastRemediation {
            time: at(10),
            action: "PATCH a,b".into(),
        };
        assert_eq!(last(&first, "a"), Some(applied.clone()));
        assert_eq!(last(&first, "b"), Some(applied.clone()));
        assert_eq!(last(&first, "c"), None, "a failed write is no remediation");

        // Later passes keep it, and a status that only kept it is not worth a write.
        let steady = report(&[
            ("a", ControlState::Compliant),
            ("b", ControlState::Compliant),
            ("c", ControlState::Failed),
        ]);
        let second = reconciled(Some(&first), Some(1), &steady, at(20));
        assert_eq!(last(&second, "a"), Some(applied.clone()));
        let third = reconciled(Some(&second), Some(1), &steady, at(30));
        assert!(!worth_writing(
            Some(&second),
            &third,
            std::time::Duration::from_secs(3600)
        ));

        // A new remediation of a replaces its record only.
        let mut again = steady.clone();
        again.controls[0].state = ControlState::Remediated;
        again.executed = vec![remediation(&["a"], Outcome::Applied)];
        let fourth = reconciled(Some(&third), Some(1), &again, at(40));
        assert_eq!(
            last(&fourth, "a"),
            Some(LastRemediation {
                time: at(40),
                action: "PATCH a".into()
            })
        );
        assert_eq!(last(&fourth, "b"), Some(applied));
        let json = serde_json::to_value(&fourth).unwrap();
        assert_eq!(
            json["controls"][0]["lastRemediation"]["action"], "PATCH a",
            "{json:#}"
        );
    }
}
