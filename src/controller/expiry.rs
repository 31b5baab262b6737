//! Governance over time: the next pass comes exactly when an exception lapses or a maintenance
//! window opens, and each lapse that released controls is told once, as an `ExceptionExpired`
//! Event.

use std::time::Duration;

use crate::api::{ControlState, DatabricksWorkspaceStatus, Exception};
use crate::engine::{Report, Target};

/// When to look again: after `resync`, but exactly when an exception lapses or the maintenance
/// window the pass waited for opens, and at once when an exception lapsed while it ran.
pub fn next_pass<P>(
    resync: Duration,
    target: &Target<P>,
    report: &Report,
    now: jiff::Timestamp,
) -> Duration {
    if report.exception_lapsed {
        return Duration::ZERO;
    }
    [target.next_expiry(now), report.window_opens]
        .into_iter()
        .flatten()
        .filter_map(|at| Duration::try_from(at.duration_since(now)).ok())
        .fold(resync, Duration::min)
}

/// The exceptions that held controls in the last status and have expired by `now`, each with
/// the controls it held (`a, b`).
pub fn lapsed<'e>(
    previous: Option<&DatabricksWorkspaceStatus>,
    exceptions: &'e [Exception],
    now: jiff::Timestamp,
) -> Vec<(String, &'e Exception)> {
    let held: Vec<&str> = previous
        .iter()
        .flat_map(|s| &s.controls)
        .filter(|c| c.state == ControlState::Excepted)
        .map(|c| c.id.as_str())
        .collect();
    exceptions
        .iter()
        .filter(|e| !e.active_at(now))
        .filter_map(|e| {
            let controls: Vec<&str> = held.iter().copied().filter(|id| e.covers(id)).collect();
            (!controls.is_empty()).then(|| (controls.join(", "), e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ControlStatus, Policy};

    fn exception(controls: &[&str], expires: jiff::Timestamp) -> Exception {
        serde_json::from_value(serde_json::json!({
            "controls": controls, "reason": "SEC-1", "expires": expires.to_string(),
        }))
        .unwrap()
    }

    fn target(exceptions: Vec<Exception>) -> Target {
        Target {
            policy: Policy::default(),
            mode: crate::api::Mode::Enforce,
            protected_addresses: Vec::new(),
            private_network: false,
            exceptions,
            windows: Vec::new(),
            approval_required: false,
            approved_digest: None,
        }
    }

    #[test]
    fn the_next_pass_comes_at_the_next_expiry() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let resync = Duration::from_secs(300);
        let soon = now + jiff::SignedDuration::from_secs(42);
        let t = target(vec![
            exception(&["a/*"], now - jiff::SignedDuration::from_secs(5)),
            exception(&["b/*"], soon),
        ]);
        let report = Report::default();
        assert_eq!(next_pass(resync, &t, &report, now), Duration::from_secs(42));
        let lapsed = Report {
            exception_lapsed: true,
            ..Report::default()
        };
        assert_eq!(next_pass(resync, &t, &lapsed, now), Duration::ZERO);
        let later = target(vec![exception(
            &["b/*"],
            now + jiff::SignedDuration::from_hours(1),
        )]);
        assert_eq!(next_pass(resync, &later, &report, now), resync);
        // Waiting for a maintenance window: exactly when it opens.
        let waiting = Report {
            window_opens: Some(now + jiff::SignedDuration::from_secs(7)),
            ..Report::default()
        };
        assert_eq!(
            next_pass(resync, &later, &waiting, now),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn a_lapse_is_told_once_for_the_controls_it_held() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let control = |id: &str, state: ControlState| -> ControlStatus {
            serde_json::from_value(serde_json::json!({"id": id, "state": state})).unwrap()
        };
        let previous = DatabricksWorkspaceStatus {
            controls: vec![
                control("tokens/enabled", ControlState::Excepted),
                control("tokens/maxLifetimeDays", ControlState::Excepted),
                control("workspaceConf/enableWebTerminal", ControlState::Drifted),
            ],
            ..Default::default()
        };
        let expired = exception(&["tokens/*"], now - jiff::SignedDuration::from_secs(1));
        let running = exception(
            &["workspaceConf/*"],
            now + jiff::SignedDuration::from_secs(1),
        );
        let exceptions = [expired, running];
        let lapsed = lapsed(Some(&previous), &exceptions, now);
        assert_eq!(lapsed.len(), 1);
        assert_eq!(lapsed[0].0, "tokens/enabled, tokens/maxLifetimeDays");
        // Once the status no longer holds them, nothing more is told.
        let released = DatabricksWorkspaceStatus {
            controls: vec![control("tokens/enabled", ControlState::Drifted)],
            ..Default::default()
        };
        assert!(super::lapsed(Some(&released), &exceptions, now).is_empty());
    }
}
