//! Step 6: executes the allowed Enforce-mode actions in order.

use tracing::{debug, warn};

use super::Guarded;
use super::stage::Stage;
use crate::api::Mode;
use crate::controls::Reason;

/// What happened to one Enforce-mode action.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    Failed(String),
    /// Not attempted (guard) or refused by the API as unsafe (`INVALID_STATE`).
    Blocked {
        reason: Reason,
        message: String,
    },
}

impl Outcome {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Outcome::Applied => "success",
            Outcome::Failed(_) => "failure",
            Outcome::Blocked { .. } => "blocked",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Remediation {
    /// Position of the action in the guarded plan.
    pub index: usize,
    pub controls: Vec<String>,
    pub description: String,
    pub outcome: Outcome,
}

/// Executes the allowed Enforce-mode actions in order. After an access change does not run
/// (failed, blocked, or waiting for approval), the access changes after it are not attempted:
/// the guard judged them on a state that now will not exist.
pub async fn apply<A: Sync>(
    stages: &[Box<dyn Stage<A>>],
    apis: &A,
    guarded: &[Guarded],
) -> Vec<Remediation> {
    // Why the first access change that did not run did not, once one did not.
    let mut access_stopped: Option<&'static str> = None;
    let mut done = Vec::new();
    for (index, g) in guarded
        .iter()
        .enumerate()
        .filter(|(_, g)| g.action.mode == Mode::Enforce)
    {
        let action = &g.action;
        let description = action.describe().to_string();
        let outcome = if let Some(blocked) = &g.blocked {
            Outcome::Blocked {
                reason: blocked.reason,
                message: blocked.message.clone(),
            }
        } else if let Some(why) = access_stopped.filter(|_| action.touches_access()) {
            Outcome::Blocked {
                reason: Reason::DependsOnFailedAction,
                message: format!(
                    "an earlier IP access change {why}; not attempted, since the guard judged \
                     this change on the state after that one and no intermediate state may lock \
                     anybody out"
                ),
            }
        } else {
            match stages[action.stage].execute(action.index, apis).await {
                Ok(()) => Outcome::Applied,
                Err(e) if e.is_invalid_state() => Outcome::Blocked {
                    reason: Reason::LockoutGuard,
                    message: format!("Databricks refused the change: {e}"),
                },
                Err(e) => Outcome::Failed(e.to_string()),
            }
        };
        if access_stopped.is_none() && action.touches_access() {
            access_stopped = match &outcome {
                Outcome::Applied => None,
                Outcome::Failed(_) => Some("failed"),
                Outcome::Blocked {
                    reason: Reason::ApprovalRequired,
                    ..
                } => Some("waits for approval"),
                Outcome::Blocked { .. } => Some("was blocked"),
            };
        }
        match &outcome {
            Outcome::Applied => {
                debug!(controls = ?action.controls, action = %description, "action applied")
            }
            Outcome::Failed(error) => {
                warn!(controls = ?action.controls, action = %description, %error, "remediation failed")
            }
            Outcome::Blocked { reason, message } => {
                warn!(controls = ?action.controls, action = %description, %reason, %message, "remediation blocked")
            }
        }
        done.push(Remediation {
            index,
            controls: action.controls.clone(),
            description,
            outcome,
        });
    }
    done
}
