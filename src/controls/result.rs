//! What a pass reports per control, rendered from typed findings at the very end.

use crate::api::ControlState;
use crate::clients::ApiError;

/// Why a control is in its state. The names are part of the contract (status, events, metrics,
/// `plan -o json`, docs): they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    ReadFailed,
    NotApplicable,
    RequiresRecreate,
    /// Held by an unexpired exception.
    Excepted,
    /// Drift brickwarden reports but cannot fix (e.g. customer-managed keys).
    VerifyOnly,
    /// A secret scope that does not exist: brickwarden manages ACLs, not scopes.
    ScopeMissing,
    /// The policy asks to turn off what can never be turned off.
    Irreversible,
    AuditMode,
    PlanOnly,
    /// A destructive change waits for `brickwarden.io/approve: <digest>`.
    ApprovalRequired,
    /// Enforce mode outside every maintenance window: planned, not written.
    OutsideMaintenanceWindow,
    RemediationBlocked,
    RemediationFailed,
    // Why an action was blocked.
    LockoutGuard,
    NoAllowList,
    AdditiveManagement,
    DependsOnFailedAction,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ReadFailed => "ReadFailed",
            Reason::NotApplicable => "NotApplicable",
            Reason::RequiresRecreate => "RequiresRecreate",
            Reason::Excepted => "Excepted",
            Reason::VerifyOnly => "VerifyOnly",
            Reason::ScopeMissing => "ScopeMissing",
            Reason::Irreversible => "Irreversible",
            Reason::AuditMode => "AuditMode",
            Reason::PlanOnly => "PlanOnly",
            Reason::ApprovalRequired => "ApprovalRequired",
            Reason::OutsideMaintenanceWindow => "OutsideMaintenanceWindow",
            Reason::RemediationBlocked => "RemediationBlocked",
            Reason::RemediationFailed => "RemediationFailed",
            Reason::LockoutGuard => "LockoutGuard",
            Reason::NoAllowList => "NoAllowList",
            Reason::AdditiveManagement => "AdditiveManagement",
            Reason::DependsOnFailedAction => "DependsOnFailedAction",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed read, kept per family so that one family's failure does not hide the others.
/// It carries what the API said, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    pub status: Option<u16>,
    pub error_code: Option<String>,
    /// The credentials were refused (401/403 or an invalid client), as the client judged it.
    pub unauthenticated: bool,
    /// The API exists only on a higher pricing tier than the workspace's.
    pub needs_premium: bool,
    pub message: String,
}

impl ReadError {
    /// A read that failed with `status` and `error_code`, neither for the caller's identity
    /// nor for the pricing tier.
    pub fn new(status: Option<u16>, error_code: Option<&str>, message: impl Into<String>) -> Self {
        ReadError {
            status,
            error_code: error_code.map(str::to_string),
            unauthenticated: false,
            needs_premium: false,
            message: message.into(),
        }
    }

    /// The same read failure, refused for the caller's identity.
    pub fn unauthenticated(self) -> Self {
        ReadError {
            unauthenticated: true,
            ..self
        }
    }

    /// A part of the family's state that the family did not read although it should have.
    pub fn not_read(what: impl std::fmt::Display) -> ReadError {
        ReadError::new(None, None, format!("{what} was not read"))
    }
}

impl From<&ApiError> for ReadError {
    fn from(error: &ApiError) -> ReadError {
        ReadError {
            status: error.status(),
            error_code: error.error_code().map(str::to_string),
            needs_premium: error.is_tier_refusal(),
            unauthenticated: (error.is_unauthenticated() || error.is_permission_denied())
                && !error.is_tier_refusal(),
            message: error.to_string(),
        }
    }
}

impl From<ApiError> for ReadError {
    fn from(error: ApiError) -> ReadError {
        ReadError::from(&error)
    }
}

/// The evaluation of one control, rendered for status and output.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlResult {
    /// `family/name`, e.g. `workspaceConf/enableExportNotebook`.
    pub id: String,
    pub state: ControlState,
    pub desired: Option<String>,
    pub observed: Option<String>,
    pub reason: Option<Reason>,
    pub message: Option<String>,
    /// The failed read behind a `ReadFailed` control.
    pub error: Option<ReadError>,
    /// The state an exception holds back (the control is `Excepted`).
    pub excepted_from: Option<ControlState>,
    pub references: Vec<String>,
}

impl ControlResult {
    /// A control in `state`, with nothing more to say yet (reports built outside a pass, e.g.
    /// in tests of the reporting code).
    pub fn new(id: impl Into<String>, state: ControlState) -> ControlResult {
        ControlResult {
            id: id.into(),
            state,
            desired: None,
            observed: None,
            reason: None,
            message: None,
            error: None,
            excepted_from: None,
            references: Vec::new(),
        }
    }

    pub fn with_values(mut self, desired: impl Into<String>, observed: impl Into<String>) -> Self {
        self.desired = Some(desired.into());
        self.observed = Some(observed.into());
        self
    }

    pub fn with_reason(mut self, reason: Reason, message: impl Into<String>) -> Self {
        self.reason = Some(reason);
        self.message = Some(message.into());
        self
    }

    pub fn is_drifted(&self) -> bool {
        self.state == ControlState::Drifted
    }

    /// The control as `status.controls` and `plan -o json` show it.
    pub fn to_status(&self) -> crate::api::ControlStatus {
        crate::api::ControlStatus {
            id: self.id.clone(),
            state: self.state,
            desired: self.desired.clone(),
            observed: self.observed.clone(),
            reason: self.reason.map(|r| r.as_str().to_string()),
            message: self.message.clone(),
            references: self.references.clone(),
            last_transition_time: None,
            last_remediation: None,
        }
    }
}
