//! What the controller reports on a `DatabricksWorkspace`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksWorkspaceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Compliant` and `RemediationBlocked`, plus the kstatus conditions `Reconciling`
    /// and `Stalled` while they are true; `lastTransitionTime` changes only when a condition's
    /// status does.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Compliant controls over applicable controls, e.g. `19/21`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    /// When the status last changed, refreshed at least hourly while it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconcile_time: Option<Time>,
    #[serde(default)]
    pub controls: Vec<ControlStatus>,
    /// What Enforce mode would do (or, in Enforce mode, what was left to do).
    #[serde(default)]
    pub planned_actions: Vec<String>,
    /// Destructive changes waiting for `brickwarden.io/approve: <digest>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_approval: Option<PendingApproval>,
    /// The last digest an approval released: it never releases anything again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_digest: Option<String>,
    /// A workspace's `spec.accountRef`: the account-level controls that govern it, as its
    /// account last reported them (not part of this workspace's score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<GoverningAccount>,
}

/// The account-level controls that name one workspace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GoverningAccount {
    /// The `DatabricksAccount`'s name.
    pub name: String,
    /// Why no controls are shown (the account does not exist, has no status yet, or the
    /// workspace id is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `ncc/<name>/workspace/<id>`, `networkPolicy/<name>/workspace/<id>`,
    /// `privateAccess/<name>/workspace/<id>` with their state and message.
    #[serde(default)]
    pub controls: Vec<GoverningControl>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GoverningControl {
    pub id: String,
    pub state: ControlState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Destructive changes waiting for a person.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingApproval {
    /// Annotate the resource with `brickwarden.io/approve: <digest>` to release exactly these.
    pub digest: String,
    pub actions: Vec<String>,
    /// Since when this set has been waiting.
    pub since: Time,
}

/// The reasons of `Ready=False`: what a workspace needs before it can be reconciled. They are
/// part of the contract (docs/troubleshooting.md, alerts), so they are named once, here.
pub mod not_ready {
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
    pub const BASELINE_NOT_FOUND: &str = "BaselineNotFound";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    pub const READ_FAILED: &str = "ReadFailed";
    /// An exception expires more than a year ahead.
    pub const EXCEPTION_TOO_LONG: &str = "ExceptionTooLong";
    pub const ALL: [&str; 7] = [
        SECRET_NOT_FOUND,
        SECRET_KEY_MISSING,
        BASELINE_NOT_FOUND,
        INVALID_SPEC,
        AUTHENTICATION_FAILED,
        READ_FAILED,
        EXCEPTION_TOO_LONG,
    ];
}

/// The outcome of one control.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum ControlState {
    Compliant,
    Drifted,
    Remediated,
    Failed,
    NotApplicable,
    RequiresRecreate,
    /// Held by an unexpired exception: not remediated, not in the score.
    Excepted,
}

impl ControlState {
    pub const ALL: [ControlState; 7] = [
        ControlState::Compliant,
        ControlState::Drifted,
        ControlState::Remediated,
        ControlState::Failed,
        ControlState::NotApplicable,
        ControlState::RequiresRecreate,
        ControlState::Excepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlState::Compliant => "Compliant",
            ControlState::Drifted => "Drifted",
            ControlState::Remediated => "Remediated",
            ControlState::Failed => "Failed",
            ControlState::NotApplicable => "NotApplicable",
            ControlState::RequiresRecreate => "RequiresRecreate",
            ControlState::Excepted => "Excepted",
        }
    }

    /// Whether the live state matches the policy after this pass.
    pub fn is_compliant(self) -> bool {
        matches!(self, ControlState::Compliant | ControlState::Remediated)
    }
}

impl std::fmt::Display for ControlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlStatus {
    /// `family/name`, e.g. `workspaceConf/enableExportNotebook`.
    pub id: String,
    pub state: ControlState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The benchmarks this control comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The last Enforce-mode write that fixed this control, kept across passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_remediation: Option<LastRemediation>,
}

/// When brickwarden last remediated a control, and what it wrote.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRemediation {
    pub time: Time,
    /// The action as planned, e.g. `PATCH workspace-conf enableExportNotebook=false`.
    pub action: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    #[schemars(extend("format" = "int32"))]
    pub compliant: u32,
    #[schemars(extend("format" = "int32"))]
    pub drifted: u32,
    #[schemars(extend("format" = "int32"))]
    pub remediated: u32,
    #[schemars(extend("format" = "int32"))]
    pub failed: u32,
    #[schemars(extend("format" = "int32"))]
    pub not_applicable: u32,
    #[schemars(extend("format" = "int32"))]
    pub requires_recreate: u32,
    #[serde(default)]
    #[schemars(extend("format" = "int32"))]
    pub excepted: u32,
}

impl Summary {
    pub fn count(states: impl IntoIterator<Item = ControlState>) -> Summary {
        let mut s = Summary::default();
        for state in states {
            *match state {
                ControlState::Compliant => &mut s.compliant,
                ControlState::Drifted => &mut s.drifted,
                ControlState::Remediated => &mut s.remediated,
                ControlState::Failed => &mut s.failed,
                ControlState::NotApplicable => &mut s.not_applicable,
                ControlState::RequiresRecreate => &mut s.requires_recreate,
                ControlState::Excepted => &mut s.excepted,
            } += 1;
        }
        s
    }

    /// Controls that apply to this workspace.
    pub fn applicable(&self) -> u32 {
        self.compliant + self.drifted + self.remediated + self.failed + self.requires_recreate
    }

    /// `compliant/applicable`, where a remediated control counts as compliant.
    pub fn score(&self) -> String {
        format!("{}/{}", self.compliant + self.remediated, self.applicable())
    }
}
