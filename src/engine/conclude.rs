//! Step 7 (pure): the final state of each control after apply.

use std::collections::BTreeMap;

use super::Guarded;
use super::apply::{Outcome, Remediation};
use crate::api::{ControlState, Mode};
use crate::controls::{ControlResult, Reason};

/// The final state of each control after apply, from the results before apply, the results of
/// the re-read and what each action did; and what is left to do.
pub fn conclude(
    before: Vec<ControlResult>,
    after: &[ControlResult],
    guarded: &[Guarded],
    executed: &[Remediation],
) -> (Vec<ControlResult>, Vec<String>) {
    let after: BTreeMap<&str, &ControlResult> = after.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut planned = Vec::new();
    for (index, g) in guarded.iter().enumerate() {
        let outcome = executed.iter().find(|r| r.index == index);
        match outcome.map(|r| &r.outcome) {
            Some(Outcome::Applied) => {}
            Some(Outcome::Blocked { reason, .. }) => {
                planned.push(format!("{} (blocked: {reason})", g.action.describe()))
            }
            Some(Outcome::Failed(_)) => planned.push(format!("{} (failed)", g.action.describe())),
            None => planned.push(g.action.describe().to_string()),
        }
    }
    let results = before
        .into_iter()
        .map(|mut result| {
            let actions: Vec<&Guarded> = guarded
                .iter()
                .filter(|g| g.action.controls.contains(&result.id))
                .collect();
            let outcomes: Vec<&Outcome> = executed
                .iter()
                .filter(|r| r.controls.contains(&result.id))
                .map(|r| &r.outcome)
                .collect();
            if result.state != ControlState::Drifted || actions.is_empty() {
                return result;
            }
            if let Some(reread) = after.get(result.id.as_str()) {
                if reread.state == ControlState::Compliant {
                    let mut remediated = (*reread).clone();
                    remediated.state = ControlState::Remediated;
                    let done = format!("remediated: {}", describe_for(&actions, &result.id));
                    // What the control still has to say (e.g. tokens it deliberately kept) stays.
                    remediated.message = Some(match &reread.message {
                        Some(note) => format!("{done}; {note}"),
                        None => done,
                    });
                    return remediated;
                }
                // The pass itself can make a control moot (IP access lists once the workspace
                // is reachable only over Private Link): report what holds now.
                if reread.state == ControlState::NotApplicable {
                    return (*reread).clone();
                }
                result.observed = reread.observed.clone();
            }
            if let Some(Outcome::Blocked { message, .. }) = outcomes.iter().find(|o| {
                matches!(o, Outcome::Blocked { reason, .. } if *reason == Reason::ApprovalRequired)
            }) {
                // Waiting for a person is not a failure: the drift stands, with what releases it.
                result.reason = Some(Reason::ApprovalRequired);
                result.message = Some(message.clone());
            } else if let Some(Outcome::Blocked { reason, message }) = outcomes
                .iter()
                .find(|o| matches!(o, Outcome::Blocked { .. }))
            {
                result.state = ControlState::Failed;
                result.reason = Some(Reason::RemediationBlocked);
                result.message = Some(format!("{reason}: {message}"));
            } else if let Some(Outcome::Failed(error)) =
                outcomes.iter().find(|o| matches!(o, Outcome::Failed(_)))
            {
                result.state = ControlState::Failed;
                result.reason = Some(Reason::RemediationFailed);
                result.message = Some(error.clone());
            } else if actions.iter().all(|g| g.action.mode == Mode::Audit) {
                result.reason = Some(Reason::AuditMode);
                result.message = Some(format!(
                    "Audit mode: would {}",
                    describe_for(&actions, &result.id)
                ));
            } else if outcomes.is_empty() {
                result.reason = Some(Reason::PlanOnly);
                result.message = Some(format!("would {}", describe_for(&actions, &result.id)));
            }
            result
        })
        .collect();
    (results, planned)
}
fn describe_for(actions: &[&Guarded], control: &str) -> String {
    actions
        .iter()
        .map(|g| g.action.describe_for(control))
        .collect::<Vec<_>>()
        .join("; ")
}
