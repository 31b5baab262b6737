//! The Kubernetes Events of a pass's remediations (pure), built so that aggregation never hides
//! one.
//!
//! kube's `Recorder` folds events with the same type, reason, action, reporter and object into
//! one Event with a series count, keeping the first note. One Event per remediation with action
//! `Remediate` therefore left a single `Remediated` event naming the first control of a pass
//! that fixed 17. Here every control of every executed action gets its own Event whose `action`
//! is the control id: controls never share a series, and only the same control fixed again
//! (or failing again) on a later pass counts up its own series. The note names the control too,
//! since `kubectl describe` shows notes but not actions.

use kube::runtime::events::{Event, EventType};

use crate::engine::{Outcome, Remediation, Report};

/// The apiserver rejects Event notes longer than this many bytes (events.k8s.io/v1).
pub const NOTE_LIMIT: usize = 1024;
/// ... and actions longer than this many bytes.
pub const ACTION_LIMIT: usize = 128;
/// The action of an event that no control id names.
const FALLBACK_ACTION: &str = "Remediate";

pub const REMEDIATED: &str = "Remediated";
pub const REMEDIATION_FAILED: &str = "RemediationFailed";
pub const REMEDIATION_BLOCKED: &str = "RemediationBlocked";

/// One Event per control of every Enforce-mode action of the pass, in the order they ran.
pub fn remediation_events(report: &Report) -> Vec<Event> {
    report.executed.iter().flat_map(events_of).collect()
}

fn events_of(r: &Remediation) -> Vec<Event> {
    let (type_, reason, detail) = match &r.outcome {
        Outcome::Applied => (EventType::Normal, REMEDIATED, None),
        Outcome::Failed(error) => (EventType::Warning, REMEDIATION_FAILED, Some(error.clone())),
        Outcome::Blocked { reason, message } => (
            EventType::Warning,
            REMEDIATION_BLOCKED,
            Some(format!("{reason}: {message}")),
        ),
    };
    let event = |action: &str, subject: &str| {
        let mut note = format!("{subject}: {}", r.description);
        if let Some(detail) = &detail {
            note.push_str(": ");
            note.push_str(detail);
        }
        Event {
            type_,
            reason: reason.into(),
            note: Some(truncate(&note, NOTE_LIMIT)),
            action: truncate(action, ACTION_LIMIT),
            secondary: None,
        }
    };
    if r.controls.is_empty() {
        return vec![event(FALLBACK_ACTION, FALLBACK_ACTION)];
    }
    r.controls.iter().map(|c| event(c, c)).collect()
}

/// `text` cut to at most `max` bytes on a character boundary, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const ELLIPSIS: &str = "…";
    let mut end = max.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::Reason;

    fn remediation(controls: &[&str], outcome: Outcome) -> Remediation {
        Remediation {
            index: 0,
            controls: controls.iter().map(|c| c.to_string()).collect(),
            description: format!("PATCH workspace-conf {}", controls.join(",")),
            outcome,
        }
    }

    #[test]
    fn every_control_gets_its_own_action() {
        let report = Report {
            executed: vec![
                remediation(&["workspaceConf/a", "workspaceConf/b"], Outcome::Applied),
                remediation(&["tokens/enabled"], Outcome::Failed("503 busy".into())),
                remediation(
                    &["ipAccessLists/enabled"],
                    Outcome::Blocked {
                        reason: Reason::LockoutGuard,
                        message: "would lock out 10.0.0.1".into(),
                    },
                ),
            ],
            ..Default::default()
        };
        let events = remediation_events(&report);
        let summary: Vec<(&str, &str, &str)> = events
            .iter()
            .map(|e| {
                (
                    e.reason.as_str(),
                    e.action.as_str(),
                    e.note.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    REMEDIATED,
                    "workspaceConf/a",
                    "workspaceConf/a: PATCH workspace-conf workspaceConf/a,workspaceConf/b"
                ),
                (
                    REMEDIATED,
                    "workspaceConf/b",
                    "workspaceConf/b: PATCH workspace-conf workspaceConf/a,workspaceConf/b"
                ),
                (
                    REMEDIATION_FAILED,
                    "tokens/enabled",
                    "tokens/enabled: PATCH workspace-conf tokens/enabled: 503 busy"
                ),
                (
                    REMEDIATION_BLOCKED,
                    "ipAccessLists/enabled",
                    "ipAccessLists/enabled: PATCH workspace-conf ipAccessLists/enabled: \
                     LockoutGuard: would lock out 10.0.0.1"
                ),
            ]
        );
        assert_eq!(events[0].type_, EventType::Normal);
        assert_eq!(events[2].type_, EventType::Warning);
        assert_eq!(events[3].type_, EventType::Warning);
    }

    #[test]
    fn notes_and_actions_fit_the_apiserver_limits_in_bytes() {
        // 3-byte characters: 1000 of them are 3000 bytes, which a cut by characters let through.
        let long_id = format!("secretScopes/{}", "é".repeat(200));
        let r = remediation(&[long_id.as_str()], Outcome::Failed("€".repeat(1000)));
        let events = remediation_events(&Report {
            executed: vec![r],
            ..Default::default()
        });
        let note = events[0].note.as_deref().unwrap();
        assert!(note.len() <= NOTE_LIMIT, "{} bytes", note.len());
        assert!(note.ends_with('…'));
        assert!(events[0].action.len() <= ACTION_LIMIT);
        assert!(events[0].action.starts_with("secretScopes/é"));

        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abc…");
        // Never splits a character: "ü" is 2 bytes.
        for max in 4..12 {
            let cut = truncate("üüüüüüüüüü", max);
            assert!(cut.len() <= max, "{max}: {cut}");
        }
    }

    #[test]
    fn an_action_without_controls_is_still_reported() {
        let events = remediation_events(&Report {
            executed: vec![remediation(&[], Outcome::Applied)],
            ..Default::default()
        });
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, "Remediate");
    }
}
