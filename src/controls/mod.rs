//! The controls: one module per policy family, each with the same three steps.
//!
//! - **observe** reads the live state the family needs (thin I/O through [`crate::clients`]);
//! - **evaluate** (pure) compares desired and observed into one [`ControlResult`] per control;
//! - **plan** (pure) turns drift into ordered [`Action`]s.
//!
//! Workspace-conf keys are shared by several families (`enableIpAccessLists`,
//! `enableTokensConfig`, `maxTokenLifetimeDays` and the `workspaceConf` keys), so every family
//! declares its keys as [`ConfControl`]s and the engine reads them all in one `?keys=` call.

pub mod azure;
pub mod ip_access_lists;
pub mod secret_scopes;
pub mod settings;
pub mod tokens;
pub mod workspace_conf;

use std::collections::BTreeMap;

use crate::api::{ControlState, Mode};
use crate::clients::ApiError;
use crate::clients::databricks::{
    AccessControlRequest, AclPermission, IpAccessList, ListType, Setting, TokenPermissions,
};

/// The evaluation of one control.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlResult {
    /// `family/name`, e.g. `workspaceConf/enableExportNotebook`.
    pub id: String,
    pub state: ControlState,
    pub desired: Option<String>,
    pub observed: Option<String>,
    /// A machine-readable reason, e.g. `RemediationBlocked`, `AuditMode`, `ReadFailed`.
    pub reason: Option<String>,
    pub message: Option<String>,
    pub references: Vec<String>,
}

impl ControlResult {
    fn new(id: impl Into<String>, state: ControlState) -> ControlResult {
        ControlResult {
            id: id.into(),
            state,
            desired: None,
            observed: None,
            reason: None,
            message: None,
            references: Vec::new(),
        }
    }

    /// Compares `desired` with `observed`: Compliant when equal, Drifted otherwise.
    pub fn compare(
        id: impl Into<String>,
        desired: impl Into<String>,
        observed: impl Into<String>,
    ) -> ControlResult {
        let (desired, observed) = (desired.into(), observed.into());
        let state = if desired == observed {
            ControlState::Compliant
        } else {
            ControlState::Drifted
        };
        ControlResult {
            desired: Some(desired),
            observed: Some(observed),
            ..ControlResult::new(id, state)
        }
    }

    pub fn with_state(
        id: impl Into<String>,
        state: ControlState,
        desired: impl Into<String>,
        observed: impl Into<String>,
    ) -> ControlResult {
        ControlResult {
            desired: Some(desired.into()),
            observed: Some(observed.into()),
            ..ControlResult::new(id, state)
        }
    }

    /// The family's state could not be read.
    pub fn read_failed(id: impl Into<String>, error: &ReadError) -> ControlResult {
        ControlResult {
            reason: Some("ReadFailed".into()),
            message: Some(error.to_string()),
            ..ControlResult::new(id, ControlState::Failed)
        }
    }

    pub fn not_applicable(id: impl Into<String>, why: impl Into<String>) -> ControlResult {
        ControlResult {
            reason: Some("NotApplicable".into()),
            message: Some(why.into()),
            ..ControlResult::new(id, ControlState::NotApplicable)
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> ControlResult {
        self.message = Some(message.into());
        self
    }

    pub fn with_references(mut self, references: &[&str]) -> ControlResult {
        self.references = references.iter().map(|r| r.to_string()).collect();
        self
    }

    pub fn is_drifted(&self) -> bool {
        self.state == ControlState::Drifted
    }
}

/// A failed read, kept per family so that one family's failure does not hide the others.
/// It carries what the API said, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub message: String,
}

impl From<&ApiError> for ReadError {
    fn from(error: &ApiError) -> ReadError {
        ReadError {
            status: error.status(),
            error_code: error.error_code().map(str::to_string),
            message: error.to_string(),
        }
    }
}

impl From<ApiError> for ReadError {
    fn from(error: ApiError) -> ReadError {
        ReadError::from(&error)
    }
}

/// What one family read: `None` when the policy does not manage it, so it was not read.
pub type Read<T> = Option<Result<T, ReadError>>;

/// The live state of a workspace, as far as the policy needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// workspace-conf values of every key any family manages (`None`: never set).
    pub conf: Read<BTreeMap<String, Option<String>>>,
    pub ip_access_lists: Read<Vec<IpAccessList>>,
    pub token_permissions: Read<TokenPermissions>,
    /// Read only when a revocation rule is on.
    pub tokens: Read<tokens::TokenInventory>,
    /// One GET per declared setting, each with its own result.
    pub settings: Option<settings::SettingsRead>,
    /// The scope list and the ACLs of each declared scope.
    pub secret_scopes: Read<secret_scopes::SecretScopesRead>,
    /// The ARM resource and diagnostic setting, or why ARM cannot be read.
    pub azure: Option<azure::AzureRead>,
}

impl Observed {
    /// The families `fresh` read replace the earlier reads; the rest are kept.
    pub fn overlaid_with(&self, fresh: Observed) -> Observed {
        Observed {
            conf: fresh.conf.or_else(|| self.conf.clone()),
            ip_access_lists: fresh
                .ip_access_lists
                .or_else(|| self.ip_access_lists.clone()),
            token_permissions: fresh
                .token_permissions
                .or_else(|| self.token_permissions.clone()),
            tokens: fresh.tokens.or_else(|| self.tokens.clone()),
            settings: fresh.settings.or_else(|| self.settings.clone()),
            secret_scopes: fresh.secret_scopes.or_else(|| self.secret_scopes.clone()),
            azure: fresh.azure.or_else(|| self.azure.clone()),
        }
    }
}

/// Facts a pure step needs that are not part of desired or observed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalContext {
    /// Milliseconds since the epoch, the unit of the token API.
    pub now_ms: i64,
}

/// A workspace-conf key that a control manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfControl {
    pub id: String,
    pub key: String,
    pub desired: String,
    /// The value Databricks applies when the key was never set, if that counts as set.
    pub unset_means: Option<&'static str>,
    pub references: &'static [&'static str],
    pub mode: Mode,
    /// Which step of the plan the change belongs to (enabling IP access lists is ordered).
    pub step: Step,
}

/// The order in which actions run; within a step, the plan's order. Access is widened before it
/// is narrowed so that no intermediate state locks anybody out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Create or widen ALLOW lists, remove BLOCK entries, turn IP access lists off.
    WidenAccess,
    /// Turn `enableIpAccessLists` on, once an ALLOW list covers the callers.
    EnableIpAccessLists,
    /// Narrow or delete ALLOW lists, add BLOCK lists.
    NarrowAccess,
    /// Every other configuration change.
    Configure,
    /// Destructive clean-up: token revocation.
    Revoke,
    /// Azure network changes, last: disabling public network access can cut the controller
    /// off from the workspace API.
    Network,
}

/// One change to a workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// One PATCH of workspace-conf carrying every key of a step.
    PatchConf(Vec<ConfWrite>),
    CreateIpAccessList {
        label: String,
        list_type: ListType,
        addresses: Vec<String>,
        enabled: bool,
    },
    ReplaceIpAccessList {
        list_id: String,
        label: String,
        list_type: ListType,
        addresses: Vec<String>,
        enabled: bool,
    },
    DeleteIpAccessList {
        list_id: String,
        label: String,
    },
    /// PUT: the grant list becomes exactly this.
    SetTokenPermissions {
        acl: Vec<AccessControlRequest>,
        removed: Vec<String>,
    },
    /// PATCH: these grants are added.
    AddTokenPermissions(Vec<AccessControlRequest>),
    RevokeToken {
        token_id: String,
        owner: String,
        why: String,
    },
    /// PATCH a setting, with the object (and etag) just read, turned on or off.
    PatchSetting {
        read: Setting,
        on: bool,
    },
    PutSecretAcl {
        scope: String,
        principal: String,
        permission: AclPermission,
    },
    DeleteSecretAcl {
        scope: String,
        principal: String,
    },
    /// GET + PUT of the full ARM resource with these properties changed.
    PutArmWorkspace {
        resource_id: String,
        enable_no_public_ip: Option<bool>,
        public_network_access: Option<String>,
    },
    /// PUT (create or replace) a diagnostic setting of the workspace resource.
    PutDiagnosticSetting {
        resource_id: String,
        name: String,
        body: serde_json::Value,
    },
}

/// One key of a workspace-conf PATCH and the control it fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfWrite {
    pub control: String,
    pub key: String,
    pub value: String,
}

/// The request body of a workspace-conf PATCH.
pub fn conf_values(writes: &[ConfWrite]) -> BTreeMap<String, String> {
    writes
        .iter()
        .map(|w| (w.key.clone(), w.value.clone()))
        .collect()
}

/// A planned change, the controls it fixes and the mode it runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub controls: Vec<String>,
    pub step: Step,
    pub mode: Mode,
    pub change: Change,
}

impl Action {
    /// What this action does for one control: for a batched workspace-conf PATCH only that
    /// control's key, so a status message names what concerns it.
    pub fn describe_for(&self, control: &str) -> String {
        match &self.change {
            Change::PatchConf(writes) if writes.len() > 1 => {
                let own: Vec<String> = writes
                    .iter()
                    .filter(|w| w.control == control)
                    .map(|w| format!("{}={}", w.key, w.value))
                    .collect();
                format!(
                    "PATCH workspace-conf {} (with {} other keys)",
                    own.join(" "),
                    writes.len() - own.len()
                )
            }
            _ => self.describe(),
        }
    }

    /// A one-line, secret-free description, as shown in `status.plannedActions` and events.
    pub fn describe(&self) -> String {
        match &self.change {
            Change::PatchConf(writes) => format!(
                "PATCH workspace-conf {}",
                writes
                    .iter()
                    .map(|w| format!("{}={}", w.key, w.value))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Change::CreateIpAccessList {
                label,
                list_type,
                addresses,
                enabled,
            } => format!(
                "POST ip-access-list {label} {} [{}]{}",
                list_type_str(*list_type),
                addresses.join(", "),
                if *enabled { "" } else { " (disabled)" }
            ),
            Change::ReplaceIpAccessList {
                label,
                list_type,
                addresses,
                enabled,
                ..
            } => format!(
                "PUT ip-access-list {label} {} [{}]{}",
                list_type_str(*list_type),
                addresses.join(", "),
                if *enabled { "" } else { " (disabled)" }
            ),
            Change::DeleteIpAccessList { label, .. } => {
                format!("DELETE ip-access-list {label}")
            }
            Change::SetTokenPermissions { acl, removed } => {
                let mut line = format!(
                    "PUT token permissions CAN_USE=[{}]",
                    acl.iter()
                        .filter(|a| a.permission_level == tokens::CAN_USE)
                        .map(tokens::principal_of_request)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if !removed.is_empty() {
                    line.push_str(&format!(
                        "; removes CAN_USE from {} and deletes their tokens",
                        removed.join(", ")
                    ));
                }
                line
            }
            Change::AddTokenPermissions(acl) => format!(
                "PATCH token permissions add CAN_USE for {}",
                acl.iter()
                    .map(tokens::principal_of_request)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Change::RevokeToken {
                token_id,
                owner,
                why,
            } => format!("DELETE token {token_id} of {owner} ({why})"),
            Change::PatchSetting { read, on } => format!(
                "PATCH setting {}={}",
                read.setting_type().api_name(),
                settings::render(read.setting_type(), *on)
            ),
            Change::PutSecretAcl {
                scope,
                principal,
                permission,
            } => format!(
                "PUT secret ACL {scope} {principal}={}",
                secret_scopes::permission_str(*permission)
            ),
            Change::DeleteSecretAcl { scope, principal } => {
                format!("DELETE secret ACL {scope} {principal}")
            }
            Change::PutArmWorkspace {
                enable_no_public_ip,
                public_network_access,
                ..
            } => {
                let mut line = "PUT ARM workspace".to_string();
                if let Some(v) = enable_no_public_ip {
                    line.push_str(&format!(" enableNoPublicIp={v}"));
                }
                if let Some(v) = public_network_access {
                    line.push_str(&format!(" publicNetworkAccess={v}"));
                }
                line
            }
            Change::PutDiagnosticSetting { name, .. } => {
                format!("PUT diagnostic setting {name}")
            }
        }
    }
}

pub(crate) fn list_type_str(list_type: ListType) -> &'static str {
    match list_type {
        ListType::Allow => "ALLOW",
        ListType::Block => "BLOCK",
        ListType::Unknown => "UNKNOWN",
    }
}

/// The effective mode of a family: its own override, else the workspace's.
pub fn family_mode(workspace: Mode, family: Option<Mode>) -> Mode {
    family.unwrap_or(workspace)
}

impl ControlResult {
    /// The control as `status.controls` and `plan -o json` show it.
    pub fn to_status(&self) -> crate::api::ControlStatus {
        crate::api::ControlStatus {
            id: self.id.clone(),
            state: self.state,
            desired: self.desired.clone(),
            observed: self.observed.clone(),
            reason: self.reason.clone(),
            message: self.message.clone(),
            references: self.references.clone(),
            last_transition_time: None,
        }
    }
}
