//! `DatabricksWorkspace`: one Databricks workspace and the posture it must keep.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Governance, Policy, status::DatabricksWorkspaceStatus};

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "brickwarden.io",
    version = "v1alpha1",
    kind = "DatabricksWorkspace",
    namespaced,
    shortname = "dbw",
    category = "brickwarden",
    status = "DatabricksWorkspaceStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Host","type":"string","jsonPath":".spec.host"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Compliant","type":"string","jsonPath":".status.conditions[?(@.type==\"Compliant\")].status"}"#,
    printcolumn = r#"{"name":"Score","type":"string","jsonPath":".status.score"}"#,
    printcolumn = r#"{"name":"Drifted","type":"integer","jsonPath":".status.summary.drifted"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new("!has(self.spec.policy) || !has(self.spec.policy.azure) || has(self.spec.azureResourceId)").message("spec.policy.azure needs spec.azureResourceId").field_path(".spec.azureResourceId"),
)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksWorkspaceSpec {
    /// Base URL of the workspace, e.g. `https://adb-1234567890123456.7.azuredatabricks.net`.
    /// A path prefix is kept.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("host must be an http(s) URL"))]
    pub host: String,
    /// `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>`;
    /// enables the azure controls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Databricks/workspaces/[^/]+$')").message("azureResourceId must look like /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>"))]
    pub azure_resource_id: Option<String>,
    pub auth: WorkspaceAuth,
    /// Name of a cluster-scoped SecurityBaseline; `policy` overrides it field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub baseline_ref: Option<String>,
    /// Name of the `DatabricksAccount` (same namespace) that governs this workspace: its
    /// account-level controls that name this workspace (NCC, network policy and private
    /// access bindings) are shown in `status.account`. The account resource owns them; they
    /// never count as this workspace's drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub account_ref: Option<String>,
    /// The workspace's numeric id, which the account API uses. Taken from an Azure host
    /// (`adb-<id>.<n>.azuredatabricks.net`) when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub workspace_id: Option<i64>,
    #[serde(flatten)]
    pub governance: Governance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// How brickwarden authenticates to the workspace: exactly one method.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("[has(self.azureWorkloadIdentity), has(self.azureClientSecret), has(self.databricksOAuth), has(self.personalAccessToken)].filter(x, x).size() == 1").message("auth: set exactly one of azureWorkloadIdentity, azureClientSecret, databricksOAuth, personalAccessToken"))]
pub struct WorkspaceAuth {
    /// Entra ID workload identity: the pod's federated token is exchanged for an Entra ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_workload_identity: Option<AzureWorkloadIdentityAuth>,
    /// Entra ID service principal with a client secret read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_client_secret: Option<AzureClientSecretAuth>,
    /// Databricks OAuth machine-to-machine (any cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "databricksOAuth")]
    pub databricks_oauth: Option<DatabricksOAuthAuth>,
    /// A personal access token read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_access_token: Option<PersonalAccessTokenAuth>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureWorkloadIdentityAuth {
    #[schemars(length(min = 1, max = 64))]
    pub client_id: String,
    #[schemars(length(min = 1, max = 64))]
    pub tenant_id: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureClientSecretAuth {
    #[schemars(length(min = 1, max = 64))]
    pub tenant_id: String,
    #[schemars(length(min = 1, max = 64))]
    pub client_id: String,
    pub client_secret_ref: SecretKeyRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksOAuthAuth {
    #[schemars(length(min = 1, max = 256))]
    pub client_id: String,
    pub client_secret_ref: SecretKeyRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalAccessTokenAuth {
    pub secret_ref: SecretKeyRef,
}

/// A key of a Secret in the workspace resource's own namespace.
#[derive(
    Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub struct SecretKeyRef {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

impl WorkspaceAuth {
    /// The Secret this auth method reads, if any.
    pub fn secret_ref(&self) -> Option<&SecretKeyRef> {
        if let Some(a) = &self.azure_client_secret {
            return Some(&a.client_secret_ref);
        }
        if let Some(a) = &self.databricks_oauth {
            return Some(&a.client_secret_ref);
        }
        self.personal_access_token.as_ref().map(|a| &a.secret_ref)
    }

    /// A short, secret-free name of the method, for status messages and metrics.
    pub fn method_name(&self) -> &'static str {
        if self.azure_workload_identity.is_some() {
            "azureWorkloadIdentity"
        } else if self.azure_client_secret.is_some() {
            "azureClientSecret"
        } else if self.databricks_oauth.is_some() {
            "databricksOAuth"
        } else if self.personal_access_token.is_some() {
            "personalAccessToken"
        } else {
            "none"
        }
    }
}

impl DatabricksWorkspaceSpec {
    /// `workspaceId`, else the id an Azure host carries (`adb-<id>.<n>.azuredatabricks.net`).
    pub fn workspace_id(&self) -> Option<i64> {
        self.workspace_id.or_else(|| {
            let host = url::Url::parse(&self.host).ok()?;
            let label = host.host_str()?.split('.').next()?;
            label.strip_prefix("adb-")?.parse().ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_id_is_declared_or_read_from_an_azure_host() {
        let spec = |host: &str, id: Option<i64>| {
            DatabricksWorkspaceSpec {
                host: host.to_string(),
                azure_resource_id: None,
                auth: WorkspaceAuth::default(),
                baseline_ref: None,
                account_ref: None,
                workspace_id: id,
                governance: Governance::default(),
                policy: None,
            }
            .workspace_id()
        };
        assert_eq!(
            spec("https://adb-1234567890123456.7.azuredatabricks.net", None),
            Some(1234567890123456)
        );
        assert_eq!(
            spec("https://adb-1.7.azuredatabricks.net", Some(42)),
            Some(42)
        );
        assert_eq!(spec("https://dbc-a1b2.cloud.databricks.com", None), None);
        assert_eq!(spec("http://127.0.0.1:8765/ws/ws-1", None), None);
    }
}
