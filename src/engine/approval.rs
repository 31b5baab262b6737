//! Approval of destructive changes: with `approval.destructive: Required`, the destructive
//! actions of a pass (those with an [`Effect::Destructive`]: token revocation, removed grants or
//! ACLs, deleted lists) wait until the annotation `brickwarden.io/approve` carries the digest of
//! exactly that set. A changed set has another digest, so a stale approval releases nothing.

use ring::digest::{SHA256, digest};

use super::Guarded;
use crate::api::Mode;
use crate::controls::{Blocked, Effect, Reason};

/// What the resource says about destructive changes in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Approval<'a> {
    /// Destructive actions run like any other (the default).
    #[default]
    Automatic,
    /// They wait for this digest (the annotation, unless already used).
    Required { approved: Option<&'a str> },
}

/// Destructive actions waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub digest: String,
    pub actions: Vec<String>,
}

/// What the approval step decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Still waiting: the digest to approve and the actions it covers.
    pub pending: Option<Pending>,
    /// This digest was approved and its actions released.
    pub released: Option<String>,
}

/// The digest of a set of actions: SHA-256 over their descriptions, in plan order.
pub fn digest_of(actions: &[&str]) -> String {
    let text = actions.join("\n");
    digest(&SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Holds the destructive Enforce-mode actions the guard allowed unless `approval` releases
/// exactly them.
pub fn gate(guarded: &mut [Guarded], approval: Approval) -> Decision {
    let Approval::Required { approved } = approval else {
        return Decision::default();
    };
    let destructive: Vec<usize> = guarded
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            g.blocked.is_none()
                && g.action.mode == Mode::Enforce
                && g.action.effects.contains(&Effect::Destructive)
        })
        .map(|(i, _)| i)
        .collect();
    if destructive.is_empty() {
        return Decision::default();
    }
    let actions: Vec<String> = destructive
        .iter()
        .map(|i| guarded[*i].action.describe().to_string())
        .collect();
    let digest = digest_of(&actions.iter().map(String::as_str).collect::<Vec<_>>());
    if approved == Some(digest.as_str()) {
        return Decision {
            pending: None,
            released: Some(digest),
        };
    }
    let message = format!(
        "a destructive change waits for approval: annotate the resource with \
         brickwarden.io/approve={digest}"
    );
    for i in destructive {
        guarded[i].blocked = Some(Blocked::new(Reason::ApprovalRequired, message.clone()));
    }
    Decision {
        pending: Some(Pending { digest, actions }),
        released: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::Step;
    use crate::engine::Action;

    fn guarded(description: &str, effects: Vec<Effect>, mode: Mode) -> Guarded {
        Guarded {
            action: Action {
                stage: 0,
                index: 0,
                controls: vec!["c".into()],
                step: Step::Configure,
                mode,
                effects,
                description: description.into(),
                per_control: Vec::new(),
            },
            blocked: None,
        }
    }

    fn plan() -> Vec<Guarded> {
        vec![
            guarded("PATCH workspace-conf a=b", vec![], Mode::Enforce),
            guarded(
                "DELETE token 1 of x (no expiry)",
                vec![Effect::Destructive],
                Mode::Enforce,
            ),
            guarded(
                "DELETE ip-access-list old",
                vec![Effect::Destructive],
                Mode::Enforce,
            ),
            guarded(
                "DELETE token 2 of y (no expiry)",
                vec![Effect::Destructive],
                Mode::Audit,
            ),
        ]
    }

    #[test]
    fn destructive_actions_wait_for_their_digest_and_the_rest_runs() {
        let mut g = plan();
        let decision = gate(&mut g, Approval::Required { approved: None });
        let pending = decision.pending.clone().unwrap();
        assert_eq!(
            pending.actions,
            [
                "DELETE token 1 of x (no expiry)",
                "DELETE ip-access-list old"
            ]
        );
        assert!(g[0].blocked.is_none(), "non-destructive changes proceed");
        assert_eq!(
            g[1].blocked.as_ref().unwrap().reason,
            Reason::ApprovalRequired
        );
        assert!(
            g[1].blocked
                .as_ref()
                .unwrap()
                .message
                .contains(&pending.digest)
        );
        assert!(g[3].blocked.is_none(), "Audit actions never run anyway");

        // The matching digest releases exactly this set.
        let mut g = plan();
        let released = gate(
            &mut g,
            Approval::Required {
                approved: Some(&pending.digest),
            },
        );
        assert_eq!(released.released, Some(pending.digest.clone()));
        assert!(g.iter().all(|g| g.blocked.is_none()));

        // A changed set has another digest: the old approval does nothing.
        let mut changed = plan();
        changed[2].action.description = "DELETE ip-access-list other".into();
        let stale = gate(
            &mut changed,
            Approval::Required {
                approved: Some(&pending.digest),
            },
        );
        assert!(stale.released.is_none());
        assert_ne!(stale.pending.unwrap().digest, pending.digest);
    }

    #[test]
    fn automatic_and_nothing_destructive_need_no_approval() {
        let mut g = plan();
        assert_eq!(gate(&mut g, Approval::Automatic), Decision::default());
        let mut calm = vec![guarded("PATCH workspace-conf a=b", vec![], Mode::Enforce)];
        assert_eq!(
            gate(&mut calm, Approval::Required { approved: None }),
            Decision::default()
        );
    }
}
