//! What security teams add on top of the policy: accepted risks with an expiry and windows
//! for changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::Mode;

/// The annotation that suspends a resource like `spec.suspend: true` does.
pub const SUSPEND_ANNOTATION: &str = "brickwarden.io/suspend";

/// The default interval between two reconciles of a compliant resource.
pub const DEFAULT_RESYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

// What every managed resource's spec holds besides where it is and what it must look like:
// how brickwarden treats it (mode, resync, suspend) and the governance of its changes.
// Flattened into the spec, so the fields stand at `spec.mode`, `spec.exceptions`, ... (A `//`
// comment: schemars would make a doc comment the description of every spec it is flattened into.)
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Governance {
    /// Enforce remediates drift; Audit only reports it. A policy family with a `mode` of its
    /// own overrides it.
    #[serde(default)]
    pub mode: Mode,
    /// How often the resource is re-read, e.g. `5m`, `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')").message("resyncInterval must be a duration such as 30s, 5m or 1h"))]
    pub resync_interval: Option<String>,
    /// Stops all reads and writes while true (the annotation `brickwarden.io/suspend: "true"`
    /// does the same).
    #[serde(default)]
    pub suspend: bool,
    /// Accepted risks, each with a reason and an expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub exceptions: Vec<Exception>,
    /// Whether destructive changes wait for a person's approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalPolicy>,
    /// When Enforce mode may write; none declared: whenever drift is found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub maintenance_windows: Vec<MaintenanceWindow>,
}

impl Governance {
    /// Suspended through `spec.suspend` or the `brickwarden.io/suspend: "true"` annotation.
    pub fn suspends(&self, metadata: &kube::api::ObjectMeta) -> bool {
        self.suspend
            || metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SUSPEND_ANNOTATION))
                .is_some_and(|v| v == "true")
    }

    /// `resyncInterval` parsed; the schema has already checked its syntax. Absent or zero:
    /// the default.
    pub fn resync_interval(&self) -> std::time::Duration {
        self.resync_interval
            .as_deref()
            .and_then(|s| s.parse::<kube::core::Duration>().ok())
            .map(std::time::Duration::from)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_RESYNC_INTERVAL)
    }
}

/// An accepted risk: the matched controls are reported `Excepted` (with this reason, approver and
/// expiry), never remediated and not counted in the score, until `expires`. After it the
/// exception is ignored everywhere and the controls are judged again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Exception {
    /// Control ids (`workspaceConf/enableWebTerminal`) or a family glob (`secretScopes/*`).
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = kube::core::Rule::new("self.all(c, c.matches('^[A-Za-z]+/([*]|[^*\\\\s]+)$'))").message("exceptions[].controls: each entry is a control id (family/name) or family/*"))]
    pub controls: Vec<ControlPattern>,
    /// Why the risk is accepted, e.g. the ticket that tracks it.
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    /// When the exception stops applying (RFC 3339). brickwarden refuses one more than a year
    /// ahead.
    pub expires: Time,
    /// Who accepted the risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub approved_by: Option<String>,
}

/// When Enforce mode may write: from each start of `schedule` (cron, in `timeZone`) for
/// `duration`. Outside every window drift is reported, planned and not written.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// A cron expression (minute hour day-of-month month day-of-week), e.g. `0 2 * * 6`.
    #[schemars(length(min = 9, max = 128))]
    pub schedule: String,
    /// How long the window stays open, e.g. `4h`.
    #[schemars(length(min = 2, max = 32))]
    pub duration: String,
    /// The IANA time zone of the schedule, e.g. `Europe/Berlin`.
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
}

/// Who releases destructive changes (token revocation, removed grants or ACLs under
/// `Exclusive`, deleted lists).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPolicy {
    #[serde(default)]
    pub destructive: DestructiveApproval,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum DestructiveApproval {
    /// They run like any other change.
    #[default]
    Automatic,
    /// They wait in `status.pendingApproval` until the annotation `brickwarden.io/approve`
    /// carries its digest.
    Required,
}

/// The annotation that releases the destructive changes whose digest it carries, once.
pub const APPROVE_ANNOTATION: &str = "brickwarden.io/approve";

/// A control id or `family/*`.
pub type ControlPattern = BoundedString;

/// A string short enough for CEL's cost budget.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(transparent)]
pub struct BoundedString(#[schemars(length(min = 1, max = 128))] pub String);

impl Exception {
    /// Whether the exception covers `control`.
    pub fn covers(&self, control: &str) -> bool {
        self.controls
            .iter()
            .any(|pattern| match pattern.0.strip_suffix("/*") {
                Some(family) => control
                    .strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with('/')),
                None => pattern.0 == control,
            })
    }

    /// Whether the exception applies at `now`.
    pub fn active_at(&self, now: jiff::Timestamp) -> bool {
        now < self.expires.0
    }

    /// How the exception is shown on a control it holds.
    pub fn describe(&self) -> String {
        let approver = self
            .approved_by
            .as_deref()
            .map(|a| format!(", approved by {a}"))
            .unwrap_or_default();
        format!(
            "excepted until {}{approver}: {}",
            self.expires.0, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspended_by_spec_or_annotation() {
        let suspended = |suspend: bool, annotation: Option<&str>| {
            let metadata = kube::api::ObjectMeta {
                annotations: annotation
                    .map(|v| [(SUSPEND_ANNOTATION.to_string(), v.to_string())].into()),
                ..Default::default()
            };
            Governance {
                suspend,
                ..Governance::default()
            }
            .suspends(&metadata)
        };
        assert!(!suspended(false, None));
        assert!(suspended(true, None));
        assert!(suspended(false, Some("true")));
        assert!(!suspended(false, Some("false")));
    }

    #[test]
    fn resync_interval_parses_with_a_default() {
        let interval = |s: Option<&str>| {
            Governance {
                resync_interval: s.map(str::to_string),
                ..Governance::default()
            }
            .resync_interval()
        };
        assert_eq!(interval(None), DEFAULT_RESYNC_INTERVAL);
        assert_eq!(interval(Some("30s")), std::time::Duration::from_secs(30));
        assert_eq!(
            interval(Some("1h30m")),
            std::time::Duration::from_secs(5400)
        );
        assert_eq!(
            interval(Some("0s")),
            DEFAULT_RESYNC_INTERVAL,
            "zero would spin"
        );
    }

    fn exception(controls: &[&str], expires: i64) -> Exception {
        Exception {
            controls: controls
                .iter()
                .map(|c| BoundedString(c.to_string()))
                .collect(),
            reason: "SEC-123".into(),
            expires: Time(jiff::Timestamp::from_second(expires).unwrap()),
            approved_by: Some("security@example.com".into()),
        }
    }

    #[test]
    fn ids_and_family_globs() {
        let e = exception(&["workspaceConf/enableWebTerminal", "secretScopes/*"], 100);
        assert!(e.covers("workspaceConf/enableWebTerminal"));
        assert!(!e.covers("workspaceConf/enableExportNotebook"));
        assert!(e.covers("secretScopes/etl"));
        assert!(!e.covers("secretScopesX/etl"));
        assert!(!e.covers("tokens/enabled"));
    }

    #[test]
    fn expiry_is_exclusive() {
        let e = exception(&["tokens/*"], 100);
        assert!(e.active_at(jiff::Timestamp::from_second(99).unwrap()));
        assert!(!e.active_at(jiff::Timestamp::from_second(100).unwrap()));
        assert!(
            e.describe()
                .contains("approved by security@example.com: SEC-123")
        );
    }
}
