//! The controls: one module per policy family, each implementing [`Family`].
//!
//! A family knows its slice of the policy, the API state it reads and the changes it makes; it
//! knows no Kubernetes and no other family. What concerns several families is described as data
//! ([`Fact`], [`Effect`]) and judged by the engine's rules, once.

pub mod access;
pub mod account;
pub mod azure;
pub mod family;
pub mod ip_access_lists;
pub mod result;
pub mod secret_scopes;
pub mod settings;
pub mod severity;
pub mod tokens;
pub mod workspace_conf;

pub use family::{AccessList, Blocked, Effect, Fact, Family, Finding, Pass, Planned, Step};
pub use result::{ControlResult, ReadError, Reason};
pub use severity::{Severity, severity};

use crate::api::Policy;
use crate::clients::{ArmClient, DatabricksClient};

/// A workspace as its families see it: the resolved policy and where the workspace lives.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub policy: Policy,
    /// `spec.azureResourceId`: the ARM resource that holds the Azure posture.
    pub azure_resource_id: Option<String>,
    /// The workspace is an Azure Databricks workspace (its host says so), whose security
    /// profile settings live in ARM rather than in the settings API.
    pub on_azure: bool,
}

impl Workspace {
    /// A workspace that is not on Azure, as far as its families can tell.
    pub fn new(policy: Policy) -> Workspace {
        Workspace {
            policy,
            azure_resource_id: None,
            on_azure: false,
        }
    }
}

/// Whose API a family written for both kinds works on (IP access lists and settings): a
/// workspace's or an account's policy, through its Databricks client.
pub trait Scope: Send + Sync + 'static {
    type Policy: Sync;
    type Apis: Sync;
    fn databricks(apis: &Self::Apis) -> &DatabricksClient;
}

/// A workspace as the scope of the families it shares with accounts.
pub struct WorkspaceScope;

impl Scope for WorkspaceScope {
    type Policy = Workspace;
    type Apis = WorkspaceApis;

    fn databricks(apis: &WorkspaceApis) -> &DatabricksClient {
        &apis.databricks
    }
}

/// Where a workspace's families read and write: its Databricks API and, when it has an
/// `azureResourceId` and an Entra ID identity, its ARM resource.
#[derive(Debug, Clone)]
pub struct WorkspaceApis {
    pub databricks: DatabricksClient,
    pub arm: Option<ArmClient>,
    pub azure_resource_id: Option<String>,
}

/// Renders a family's findings for status and output: the only place values become strings.
pub fn render<F: Family>(findings: &[Finding<F::Control, F::Value>]) -> Vec<ControlResult> {
    findings
        .iter()
        .map(|f| ControlResult {
            id: F::control_id(&f.control),
            state: f.state,
            desired: f.desired.as_ref().map(ToString::to_string),
            observed: f.observed.as_ref().map(ToString::to_string),
            reason: f.reason,
            message: f
                .note
                .clone()
                .or_else(|| f.error.as_ref().map(ToString::to_string)),
            error: f.error.clone(),
            excepted_from: f.excepted_from,
            references: f.references.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::api::Mode;

    use super::Pass;

    pub use super::render;

    pub fn pass(mode: Mode) -> Pass<'static> {
        Pass {
            mode,
            now: jiff::Timestamp::UNIX_EPOCH,
            protected: &[],
            private_network: false,
            exceptions: &[],
        }
    }

    pub fn pass_at(now_ms: i64) -> Pass<'static> {
        Pass {
            now: jiff::Timestamp::from_millisecond(now_ms).expect("a valid test time"),
            ..pass(Mode::Enforce)
        }
    }
}
