//! `DatabricksAccount`: one Databricks account and the posture only the account console reaches
//! (serverless network connectivity and egress, account IP access lists and settings, AWS
//! PrivateLink access settings).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    DatabricksWorkspaceStatus, Governance, IpAccessListsPolicy, Management, Mode, WorkspaceAuth,
};

/// An account's status has the shape of a workspace's: conditions, per-control results,
/// planned actions, pending approval.
pub type DatabricksAccountStatus = DatabricksWorkspaceStatus;

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "brickwarden.io",
    version = "v1alpha1",
    kind = "DatabricksAccount",
    namespaced,
    shortname = "dba",
    category = "brickwarden",
    status = "DatabricksAccountStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Account","type":"string","jsonPath":".spec.accountId"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Compliant","type":"string","jsonPath":".status.conditions[?(@.type==\"Compliant\")].status"}"#,
    printcolumn = r#"{"name":"Score","type":"string","jsonPath":".status.score"}"#,
    printcolumn = r#"{"name":"Drifted","type":"integer","jsonPath":".status.summary.drifted"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new("!has(self.spec.auth.personalAccessToken)").message("spec.auth: the account API does not accept personal access tokens; use databricksOAuth (an account service principal), azureClientSecret or azureWorkloadIdentity").field_path(".spec.auth"),
)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksAccountSpec {
    /// The account console's API host: `https://accounts.azuredatabricks.net` (Azure),
    /// `https://accounts.cloud.databricks.com` (AWS), `https://accounts.gcp.databricks.com`.
    /// A path prefix is kept.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("host must be an http(s) URL"))]
    pub host: String,
    /// The account id, a UUID (account console, top right).
    #[schemars(length(min = 36, max = 36))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')").message("accountId must be the account's UUID, e.g. 00000000-0000-0000-0000-0000000acc01"))]
    pub account_id: String,
    /// How brickwarden authenticates: an account service principal (Databricks OAuth M2M), or
    /// on Azure an Entra ID identity that is an account admin. Exactly one method.
    pub auth: WorkspaceAuth,
    /// Name of a cluster-scoped SecurityBaseline whose `account` section this account follows;
    /// `policy` overrides it field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub baseline_ref: Option<String>,
    #[serde(flatten)]
    pub governance: Governance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<AccountPolicy>,
}

/// The desired posture of an account. Every field is optional: an absent field is not managed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountPolicy {
    /// The account console's IP access lists (`acct_ip_acl_enable` turns them on), with the
    /// same lockout guard as a workspace's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_access_lists: Option<IpAccessListsPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<AccountSettingsPolicy>,
    /// What happens to network connectivity configs, private endpoint rules, network policies
    /// and private access settings that exist but are not declared here: Exclusive deletes
    /// them, Additive (the default) only reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
    /// Serverless egress through private endpoints (Azure), one NCC per region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = kube::core::Rule::new("self.all(n, self.exists_one(m, m.name == n.name))").message("networkConnectivityConfigs: names must be unique"))]
    pub network_connectivity_configs: Option<Vec<NetworkConnectivityConfig>>,
    /// Serverless egress control: which destinations serverless compute may reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = kube::core::Rule::new("self.all(n, self.exists_one(m, m.name == n.name))").message("networkPolicies: names must be unique"))]
    pub network_policies: Option<Vec<NetworkPolicy>>,
    /// AWS PrivateLink: public access to the workspaces bound to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = kube::core::Rule::new("self.all(n, self.exists_one(m, m.name == n.name))").message("privateAccessSettings: names must be unique"))]
    pub private_access_settings: Option<Vec<PrivateAccessSettings>>,
}

/// Account settings (`/api/2.0/accounts/{id}/settings/types/{type}/names/default`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountSettingsPolicy {
    /// Overrides the account's mode for this family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `disable_legacy_features`: new workspaces start without DBFS root, Hive metastore and
    /// No-isolation clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_legacy_features: Option<bool>,
    /// `dcp_acct_enable`: `On` lets every user create Personal Compute resources, `Off`
    /// (`DELEGATE` in the API) leaves it to each workspace's grants. Quote the value in YAML
    /// (`"Off"`): unquoted, YAML 1.1 parsers such as kubectl's read it as a boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_compute: Option<PersonalCompute>,
    /// `shield_csp_enablement_ac`: new workspaces get the compliance security profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_security_profile_for_new_workspaces: Option<bool>,
    /// `shield_esm_enablement_ac`: new workspaces get enhanced security monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_security_monitoring_for_new_workspaces: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PersonalCompute {
    On,
    Off,
}

/// A Databricks workspace id (the number in `adb-<id>.<n>.azuredatabricks.net`).
pub type WorkspaceId = i64;

/// A network connectivity config: the stable egress of serverless compute in one region,
/// with private endpoints to the customer's resources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConnectivityConfig {
    /// 3 to 30 characters: letters, digits, `-` and `_` (the API's rule).
    #[schemars(length(min = 3, max = 30))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-zA-Z_-]{3,30}$')").message("name must be 3 to 30 letters, digits, '-' or '_'"))]
    pub name: String,
    /// The cloud region of the NCC; only workspaces of this region can bind to it.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z0-9-]+$')").message("region must be a cloud region name such as westeurope or us-east-1"))]
    pub region: String,
    /// Private endpoints from serverless compute to these resources; each must be approved
    /// on the resource by its owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["resourceId", "groupId"]))]
    pub private_endpoint_rules: Vec<PrivateEndpointRule>,
    /// Workspaces bound to this NCC (through the account workspaces API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 500), inner(range(min = 1)), extend("x-kubernetes-list-type" = "set"))]
    pub workspaces: Vec<WorkspaceId>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateEndpointRule {
    /// The Azure resource id of the target, e.g. a storage account.
    #[schemars(length(min = 1, max = 512))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/.+$')").message("resourceId must be an Azure resource id such as /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<name>"))]
    pub resource_id: String,
    /// The sub-resource of the target: `blob`, `dfs`, `sqlServer`, `mysqlServer`, ...
    #[schemars(length(min = 1, max = 64))]
    pub group_id: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RestrictionMode {
    /// Serverless compute may reach any destination.
    FullAccess,
    /// Only the allowed destinations (deny by default).
    RestrictedAccess,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Enforcement {
    /// Denied requests are blocked.
    #[default]
    Enforced,
    /// Denied requests are only logged.
    DryRun,
}

/// A serverless network policy (egress control), bound to workspaces.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    /// The policy's id in the account (`network_policy_id`).
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-zA-Z_-]{1,64}$')").message("name must be 1 to 64 letters, digits, '-' or '_'"))]
    pub name: String,
    pub restriction_mode: RestrictionMode,
    /// DNS names serverless compute may reach under RestrictedAccess.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 253)))]
    #[x_kube(validation = kube::core::Rule::new("self.all(d, d.matches('^[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\\\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$'))").message("allowedInternetDestinations must be DNS names such as pypi.org"))]
    pub allowed_internet_destinations: Vec<String>,
    /// Storage serverless compute may reach under RestrictedAccess.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub allowed_storage_destinations: Vec<StorageDestination>,
    #[serde(default)]
    pub enforcement: Enforcement,
    /// Workspaces whose serverless compute this policy governs
    /// (`/accounts/{id}/workspaces/{workspace_id}/network`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 500), inner(range(min = 1)), extend("x-kubernetes-list-type" = "set"))]
    pub workspaces: Vec<WorkspaceId>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageDestination {
    /// The Azure storage account name.
    #[schemars(length(min = 3, max = 24))]
    pub azure_storage_account: String,
    /// `blob` or `dfs`.
    #[schemars(length(min = 1, max = 16))]
    pub service: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PrivateAccessLevel {
    /// Any VPC endpoint registered in the account may reach the workspaces.
    #[default]
    Account,
    /// Only the VPC endpoints listed in `allowedVpcEndpointIds`.
    Endpoint,
}

/// AWS private access settings (PrivateLink), bound to workspaces.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateAccessSettings {
    /// `private_access_settings_name`, unique in the account.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// The AWS region, e.g. `us-east-1`.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]+$')").message("region must be an AWS region such as us-east-1"))]
    pub region: String,
    /// Whether the workspaces stay reachable from the public internet.
    pub public_access_enabled: bool,
    #[serde(default)]
    pub private_access_level: PrivateAccessLevel,
    /// With `privateAccessLevel: Endpoint`, the VPC endpoint ids allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 64)))]
    pub allowed_vpc_endpoint_ids: Vec<String>,
    /// Workspaces that use these settings (`private_access_settings_id` of the workspace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 500), inner(range(min = 1)), extend("x-kubernetes-list-type" = "set"))]
    pub workspaces: Vec<WorkspaceId>,
}

impl AccountPolicy {
    /// Every workspace id the policy binds to an NCC, a network policy or private access
    /// settings.
    pub fn bound_workspaces(&self) -> impl Iterator<Item = WorkspaceId> + '_ {
        let ncc = self.network_connectivity_configs.iter().flatten();
        let policies = self.network_policies.iter().flatten();
        let pas = self.private_access_settings.iter().flatten();
        ncc.flat_map(|n| n.workspaces.iter().copied())
            .chain(policies.flat_map(|p| p.workspaces.iter().copied()))
            .chain(pas.flat_map(|p| p.workspaces.iter().copied()))
    }
}
