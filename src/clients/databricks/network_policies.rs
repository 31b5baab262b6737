//! Serverless network policies (egress control) and which policy each workspace uses:
//! `/api/2.0/accounts/{account_id}/network-policies[/{network_policy_id}]`
//! (databricks-sdk 0.156.0 `settings.NetworkPoliciesAPI`) and
//! `/api/2.0/accounts/{account_id}/workspaces/{workspace_id}/network`
//! (`settings.WorkspaceNetworkConfigurationAPI`). Account API only.
//!
//! An update is a `PUT` of the whole policy, so the policy types keep the fields this crate does
//! not manage (ingress, blocked destinations, Databricks destinations, AWS/GCP storage) in
//! `other`: a read-modify-write leaves them as they were.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::DatabricksClient;
use crate::clients::error::ApiError;

const POLICIES: &str = "/api/2.0/accounts/{account_id}/network-policies";
const POLICY: &str = "/api/2.0/accounts/{account_id}/network-policies/{network_policy_id}";
const WORKSPACE_NETWORK: &str = "/api/2.0/accounts/{account_id}/workspaces/{workspace_id}/network";

/// The policy every workspace without an explicit one uses; it cannot be deleted.
pub const DEFAULT_NETWORK_POLICY: &str = "default-policy";

/// `AccountNetworkPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct AccountNetworkPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<NetworkPolicyEgress>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `NetworkPolicyEgress`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct NetworkPolicyEgress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_access: Option<NetworkAccessPolicy>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `EgressNetworkPolicyNetworkAccessPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct NetworkAccessPolicy {
    #[serde(default)]
    pub restriction_mode: RestrictionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_internet_destinations: Option<Vec<InternetDestination>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_storage_destinations: Option<Vec<StorageDestination>>,
    /// Absent: `ENFORCED` (the SDK's documentation of `enforcement_mode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_enforcement: Option<PolicyEnforcement>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestrictionMode {
    FullAccess,
    RestrictedAccess,
    #[default]
    #[serde(other)]
    Unknown,
}

/// `EgressNetworkPolicyNetworkAccessPolicyInternetDestination`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct InternetDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Only `DNS_NAME` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_destination_type: Option<String>,
}

impl InternetDestination {
    pub fn dns_name(name: &str) -> InternetDestination {
        InternetDestination {
            destination: Some(name.to_string()),
            internet_destination_type: Some("DNS_NAME".to_string()),
        }
    }
}

/// `EgressNetworkPolicyNetworkAccessPolicyStorageDestination`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct StorageDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_storage_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_storage_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `AZURE_STORAGE`, `AWS_S3` or `GOOGLE_CLOUD_STORAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_destination_type: Option<String>,
}

impl StorageDestination {
    pub fn azure(account: &str, service: &str) -> StorageDestination {
        StorageDestination {
            azure_storage_account: Some(account.to_string()),
            azure_storage_service: Some(service.to_string()),
            storage_destination_type: Some("AZURE_STORAGE".to_string()),
            ..Default::default()
        }
    }
}

/// `EgressNetworkPolicyNetworkAccessPolicyPolicyEnforcement`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct PolicyEnforcement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement_mode: Option<EnforcementMode>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnforcementMode {
    Enforced,
    DryRun,
    #[serde(other)]
    Unknown,
}

/// `WorkspaceNetworkOption`: the policy a workspace's serverless compute follows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct WorkspaceNetworkOption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<i64>,
    /// Absent: the workspace uses `default-policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_id: Option<String>,
}

impl DatabricksClient {
    pub async fn list_network_policies(&self) -> Result<Vec<AccountNetworkPolicy>, ApiError> {
        self.account_list(POLICIES, &[]).await
    }

    pub async fn get_network_policy(&self, id: &str) -> Result<AccountNetworkPolicy, ApiError> {
        self.account_get(POLICY, &[id]).await
    }

    /// Creates a policy; its id is the `network_policy_id` sent. Not retried on server errors
    /// (a repeat would answer that the policy exists, hiding that the first one committed).
    pub async fn create_network_policy(
        &self,
        policy: &AccountNetworkPolicy,
    ) -> Result<AccountNetworkPolicy, ApiError> {
        self.account_write(Method::POST, POLICIES, &[], policy)
            .await?
            .json()
    }

    /// Replaces the whole policy (`PUT`).
    pub async fn update_network_policy(
        &self,
        id: &str,
        policy: &AccountNetworkPolicy,
    ) -> Result<AccountNetworkPolicy, ApiError> {
        self.account_write(Method::PUT, POLICY, &[id], policy)
            .await?
            .json()
    }

    pub async fn delete_network_policy(&self, id: &str) -> Result<(), ApiError> {
        self.account_delete(POLICY, &[id]).await
    }

    pub async fn get_workspace_network(
        &self,
        workspace_id: i64,
    ) -> Result<WorkspaceNetworkOption, ApiError> {
        let id = workspace_id.to_string();
        self.account_get(WORKSPACE_NETWORK, &[&id]).await
    }

    /// Sets the network policy of a workspace (`PUT`, `update_workspace_network_option_rpc`).
    pub async fn update_workspace_network(
        &self,
        workspace_id: i64,
        network_policy_id: &str,
    ) -> Result<WorkspaceNetworkOption, ApiError> {
        let id = workspace_id.to_string();
        let body = WorkspaceNetworkOption {
            workspace_id: Some(workspace_id),
            network_policy_id: Some(network_policy_id.to_string()),
        };
        self.account_write(Method::PUT, WORKSPACE_NETWORK, &[&id], &body)
            .await?
            .json()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_policy_round_trip_keeps_fields_it_does_not_manage() {
        let raw = json!({
            "network_policy_id": "p",
            "account_id": "a",
            "ingress": {"public_access": {"restriction_mode": "RESTRICTED_ACCESS"}},
            "egress": {"network_access": {
                "restriction_mode": "RESTRICTED_ACCESS",
                "allowed_internet_destinations": [{"destination": "pypi.org", "internet_destination_type": "DNS_NAME"}],
                "blocked_internet_destinations": [{"destination": "evil.example"}],
                "policy_enforcement": {"enforcement_mode": "DRY_RUN", "dry_run_mode_product_filter": ["DBSQL"]}
            }}
        });
        let mut p: AccountNetworkPolicy = serde_json::from_value(raw.clone()).unwrap();
        let access = p.egress.as_mut().unwrap().network_access.as_mut().unwrap();
        assert_eq!(access.restriction_mode, RestrictionMode::RestrictedAccess);
        assert_eq!(
            access.policy_enforcement.as_ref().unwrap().enforcement_mode,
            Some(EnforcementMode::DryRun)
        );
        access.policy_enforcement.as_mut().unwrap().enforcement_mode =
            Some(EnforcementMode::Enforced);
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["ingress"], raw["ingress"]);
        let access = &back["egress"]["network_access"];
        assert_eq!(
            access["blocked_internet_destinations"][0]["destination"],
            "evil.example"
        );
        assert_eq!(access["policy_enforcement"]["enforcement_mode"], "ENFORCED");
        assert_eq!(
            access["policy_enforcement"]["dry_run_mode_product_filter"][0],
            "DBSQL"
        );
    }

    #[test]
    fn unknown_enums_and_missing_fields_are_tolerated() {
        let p: AccountNetworkPolicy = serde_json::from_value(json!({
            "network_policy_id": "p",
            "egress": {"network_access": {"restriction_mode": "SOMETHING"}}
        }))
        .unwrap();
        let access = p.egress.unwrap().network_access.unwrap();
        assert_eq!(access.restriction_mode, RestrictionMode::Unknown);
        assert_eq!(access.policy_enforcement, None);
        let o: WorkspaceNetworkOption = serde_json::from_value(json!({"workspace_id": 7})).unwrap();
        assert_eq!(o.network_policy_id, None);
        assert_eq!(
            serde_json::to_value(StorageDestination::azure("lake", "dfs")).unwrap(),
            json!({"azure_storage_account": "lake", "azure_storage_service": "dfs",
                   "storage_destination_type": "AZURE_STORAGE"})
        );
    }
}
