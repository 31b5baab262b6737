//! The desired security posture of a workspace, shared by `DatabricksWorkspace.spec.policy` and
//! `SecurityBaseline.spec.policy`.
//!
//! Every field is optional: an absent field is not managed. Validation that the apiserver must
//! enforce lives here as schema bounds and CEL rules, so `kubectl apply` rejects bad YAML and the
//! CLI (which has no apiserver) runs the very same rules through `kube::core::cel`.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest number of addresses Databricks accepts over all IP access lists of a workspace.
pub const MAX_IP_ACCESS_LIST_ADDRESSES: usize = 1000;

/// Whether drift is fixed or only reported.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    JsonSchema,
)]
pub enum Mode {
    /// Remediate drift the safety rules allow.
    #[default]
    Enforce,
    /// Report drift and the actions Enforce would take; change nothing.
    Audit,
}

/// What happens to live objects the resource does not declare.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Management {
    /// Undeclared objects are removed, so the live set equals the declared set.
    Exclusive,
    /// Undeclared objects are left alone; declared ones are created or corrected.
    #[default]
    Additive,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_access_lists: Option<IpAccessListsPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokensPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_conf: Option<WorkspaceConfPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsPolicy>,
    /// Secret scopes whose ACLs are managed; scopes not listed are not touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    #[x_kube(validation = kube::core::Rule::new("self.all(s, self.exists_one(t, t.scope == s.scope))").message("secretScopes: each scope may appear only once"))]
    pub secret_scopes: Option<Vec<SecretScopePolicy>>,
    /// Azure network and encryption posture, read and written through Azure Resource Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzurePolicy>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.lists) || self.lists.map(l, size(l.addresses)).sum() <= 1000").message("ipAccessLists: at most 1000 addresses in all lists together (Databricks QUOTA_EXCEEDED)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.lists) || self.lists.all(l, self.lists.exists_one(m, m.label == l.label))").message("ipAccessLists.lists: labels must be unique"))]
pub struct IpAccessListsPolicy {
    /// Overrides the workspace's mode for this family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// workspace-conf `enableIpAccessLists`: lists are inert until this is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Exclusive removes undeclared lists; Additive leaves them alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub lists: Option<Vec<IpAccessList>>,
    /// Addresses that must never be locked out (break-glass ranges, the controller's egress).
    /// A change that would block one of them is not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 18)))]
    #[x_kube(validation = ipv4_rule())]
    pub break_glass: Option<Vec<IpAddress>>,
}

/// An IPv4 address or CIDR prefix, e.g. `198.51.100.7` or `203.0.113.0/24`.
pub type IpAddress = String;

fn ipv4_rule() -> kube::core::Rule {
    kube::core::Rule::new(
        "self.all(a, isIP(a) ? ip(a).family() == 4 : (isCIDR(a) && cidr(a).ip().family() == 4))",
    )
    .message("addresses must be IPv4 addresses or CIDR prefixes such as 203.0.113.0/24")
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum ListType {
    #[serde(rename = "ALLOW")]
    Allow,
    #[serde(rename = "BLOCK")]
    Block,
}

impl ListType {
    pub fn as_api_str(self) -> &'static str {
        match self {
            ListType::Allow => "ALLOW",
            ListType::Block => "BLOCK",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAccessList {
    /// Identifies the list in the workspace; unique per workspace.
    #[schemars(length(min = 1, max = 100))]
    pub label: String,
    #[serde(rename = "type")]
    pub list_type: ListType,
    #[schemars(length(min = 1, max = 1000), inner(length(max = 18)))]
    #[x_kube(validation = ipv4_rule())]
    pub addresses: Vec<IpAddress>,
    /// A disabled list is kept but not enforced by Databricks.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// workspace-conf `enableTokensConfig`: whether personal access tokens may be used at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// workspace-conf `maxTokenLifetimeDays`; applies to new tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 730), extend("format" = "int32"))]
    pub max_lifetime_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<TokenPermissionsPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<TokenRevocation>,
}

/// Who may create and use personal access tokens (`CAN_USE` on `authorization/tokens`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPermissionsPolicy {
    /// Exclusive replaces the grant list (removing a principal deletes its tokens); Additive adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub can_use: Vec<Principal>,
}

/// Exactly one of `group`, `user` or `servicePrincipal`.
#[derive(
    Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, KubeSchema,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("[has(self.group), has(self.user), has(self.servicePrincipal)].filter(x, x).size() == 1").message("a principal names exactly one of group, user or servicePrincipal"))]
pub struct Principal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub user: Option<String>,
    /// The service principal's application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub service_principal: Option<String>,
}

/// Destructive token clean-up; each rule is opt-in.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRevocation {
    /// Revoke tokens that never expire.
    #[serde(default)]
    pub without_expiry: bool,
    /// Revoke tokens created longer ago than `maxLifetimeDays`.
    #[serde(default)]
    pub older_than_max_lifetime: bool,
}

/// Typed workspace-conf keys; values are written as the API's strings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceConfPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_notebook: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_downloading: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook_table_clipboard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_data_uis: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_run_artifact_download: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_terminal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbfs_file_browser: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose_audit_logs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_frame_options: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_content_type_options: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_xss_protection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650), extend("format" = "int32"))]
    pub max_user_inactive_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_results_in_customer_account: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_store_endpoint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_view_acls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_view_acls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_view_acls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_folders: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_isolation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_global_init_scripts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_cluster_named_init_scripts: Option<bool>,
    /// Any other workspace-conf key with its raw string value. An unknown key is reported by
    /// Databricks as `Invalid keys` and shows up as a failed control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 100))]
    pub extra: Option<std::collections::BTreeMap<String, String>>,
}

/// `/api/2.0/settings` objects, each guarded by an etag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.complianceSecurityProfile) || self.complianceSecurityProfile").message("complianceSecurityProfile cannot be turned off once enabled: set true or leave it out"))]
pub struct SettingsPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_workspace_admins: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_cluster_update: Option<bool>,
    /// Irreversible: brickwarden only ever turns it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_security_profile: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_security_monitoring: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_legacy_dbfs: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretScopePolicy {
    #[schemars(length(min = 1, max = 128))]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
    /// Keyed by principal: the apiserver rejects a principal listed twice.
    #[serde(default)]
    #[schemars(length(max = 200), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["principal"]))]
    pub acls: Vec<SecretAcl>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretAcl {
    #[schemars(length(min = 1, max = 256))]
    pub principal: String,
    pub permission: SecretPermission,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum SecretPermission {
    #[serde(rename = "READ")]
    Read,
    #[serde(rename = "WRITE")]
    Write,
    #[serde(rename = "MANAGE")]
    Manage,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PublicNetworkAccess {
    Enabled,
    Disabled,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzurePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Secure cluster connectivity (`enableNoPublicIp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_public_ip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_network_access: Option<PublicNetworkAccess>,
    /// Cannot be changed in place: drift is reported as RequiresRecreate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnet_injection: Option<bool>,
    /// Cannot be changed in place: drift is reported as RequiresRecreate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_encryption: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_managed_keys: Option<CustomerManagedKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic_logs: Option<DiagnosticLogs>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerManagedKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_services: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_disks: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticLogs {
    /// Name of the diagnostic setting on the workspace resource.
    #[serde(default = "default_diagnostic_name")]
    #[schemars(length(min = 1, max = 260))]
    pub name: String,
    /// Resource id of the Log Analytics workspace; a baseline may leave it to the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub log_analytics_workspace_id: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub categories: Vec<String>,
}

fn default_diagnostic_name() -> String {
    "brickwarden".to_string()
}

impl Policy {
    /// Merges `overrides` over `self` field by field (a JSON merge patch): scalars and lists in
    /// `overrides` replace, objects merge recursively, absent fields keep the base value.
    pub fn merged_with(&self, overrides: &Policy) -> Policy {
        merge_patch(self, overrides)
    }
}

/// `overrides` over `base` as a JSON merge patch.
#[expect(
    clippy::expect_used,
    reason = "policies are plain data: they serialize, and a merge patch of two serialized \
              policies (objects merge, values replace) deserializes as one"
)]
pub fn merge_patch<T: Serialize + serde::de::DeserializeOwned>(base: &T, overrides: &T) -> T {
    let mut merged = serde_json::to_value(base).expect("policy serializes");
    json_patch::merge(
        &mut merged,
        &serde_json::to_value(overrides).expect("policy serializes"),
    );
    serde_json::from_value(merged).expect("a merge of two policies is a policy")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_overrides_field_by_field() {
        let baseline: Policy = serde_json::from_value(serde_json::json!({
            "workspaceConf": {"exportNotebook": false, "webTerminal": false},
            "tokens": {"maxLifetimeDays": 90, "permissions": {"canUse": [{"group": "a"}]}},
            "settings": {"restrictWorkspaceAdmins": true},
        }))
        .unwrap();
        let spec: Policy = serde_json::from_value(serde_json::json!({
            "workspaceConf": {"webTerminal": true},
            "tokens": {"permissions": {"canUse": [{"group": "b"}]}},
        }))
        .unwrap();
        let merged = baseline.merged_with(&spec);
        let conf = merged.workspace_conf.unwrap();
        assert_eq!(conf.export_notebook, Some(false));
        assert_eq!(conf.web_terminal, Some(true));
        let tokens = merged.tokens.unwrap();
        assert_eq!(tokens.max_lifetime_days, Some(90));
        assert_eq!(
            tokens.permissions.unwrap().can_use,
            vec![Principal {
                group: Some("b".into()),
                user: None,
                service_principal: None
            }],
            "lists replace, they do not concatenate"
        );
        assert_eq!(
            merged.settings.unwrap().restrict_workspace_admins,
            Some(true)
        );
    }

    #[test]
    fn merge_with_empty_overrides_is_identity() {
        let baseline: Policy = serde_json::from_value(serde_json::json!({
            "ipAccessLists": {"enabled": true, "management": "Exclusive"}
        }))
        .unwrap();
        assert_eq!(baseline.merged_with(&Policy::default()), baseline);
        assert_eq!(Policy::default().merged_with(&baseline), baseline);
    }
}
