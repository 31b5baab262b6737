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

/// Executes the allowed Enforce-mode actions in order. After an access change fails, the access
/// changes after it are not attempted: the guard judged them on a state that now will not exist.
pub async fn apply<A: Sync>(
    stages: &[Box<dyn Stage<A>>],
    apis: &A,
    guarded: &[Guarded],
) -> Vec<Remediation> {
    let mut access_failed = false;
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
        } else if access_failed && action.touches_access() {
            Outcome::Blocked {
                reason: Reason::DependsOnFailedAction,
                message: "an earlier IP access change failed; not attempted so that no \
                          intermediate state locks anybody out"
                    .into(),
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
        if outcome != Outcome::Applied && action.touches_access() {
            access_failed = true;
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
