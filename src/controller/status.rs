//! The status of a `DatabricksWorkspace` (pure): conditions whose `lastTransitionTime` changes
//! only when their status does, and per-control transition times kept the same way.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{ControlState, DatabricksWorkspaceStatus, not_ready};
use crate::engine::Report;

pub const READY: &str = "Ready";
pub const COMPLIANT: &str = "Compliant";
pub const REMEDIATION_BLOCKED: &str = "RemediationBlocked";

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
                crate::engine::Outcome::Blocked { reason, .. } => reason.as_str(),
                _ => "Blocked",
            };
            let message = blocked
                .iter()
                .map(|r| match &r.outcome {
                    crate::engine::Outcome::Blocked { message, .. } => {
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
    let controls = report
        .controls
        .iter()
        .map(|result| {
            let mut status = result.to_status();
            status.last_transition_time = old
                .controls
                .iter()
                .find(|c| c.id == result.id && same_bucket(c.state, result.state))
                .and_then(|c| c.last_transition_time.clone())
                .or_else(|| Some(now.clone()));
            status
        })
        .collect();
    DatabricksWorkspaceStatus {
        observed_generation: generation,
        conditions: vec![ready, compliant, blocked_condition],
        score: Some(summary.score()),
        summary: Some(summary),
        last_reconcile_time: Some(now),
        controls,
        planned_actions: report.planned_actions.clone(),
    }
}

/// Remediated is Compliant reached by a fix: the control did not transition again.
fn same_bucket(a: ControlState, b: ControlState) -> bool {
    a == b || (a.is_compliant() && b.is_compliant())
}

/// The status when a pass could not reach the workspace: previous results stay visible.
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
    with_ready(
        previous,
        generation,
        true,
        "Suspended",
        "spec.suspend or the brickwarden.io/suspend annotation stops all reads and writes".into(),
        &now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::ControlResult;
    use crate::engine::{Outcome, Remediation};

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
        r.controls[0].error = Some(crate::controls::ReadError {
            status: None,
            error_code: None,
            unauthenticated: false,
            needs_premium: false,
            message: "connection refused".into(),
        });
        r.controls[0].message = Some("connection refused".into());
        let status = reconciled(None, None, &r, at(1));
        let ready = find(&status, READY);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ReadFailed")
        );
        assert!(ready.message.contains("connection refused"));

        r.controls[0].error = Some(crate::controls::ReadError {
            status: Some(401),
            error_code: Some("UNAUTHENTICATED".into()),
            unauthenticated: true,
            needs_premium: false,
            message: "databricks /api/2.0/workspace-conf: 401 UNAUTHENTICATED".into(),
        });
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
}
