//! Network connectivity configurations (NCCs) and their private endpoint rules:
//! `/api/2.0/accounts/{account_id}/network-connectivity-configs[/{id}/private-endpoint-rules]`
//! (databricks-sdk 0.156.0 `settings.NetworkConnectivityAPI`). Account API only.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::DatabricksClient;
use crate::clients::error::ApiError;

const NCCS: &str = "/api/2.0/accounts/{account_id}/network-connectivity-configs";
const NCC: &str = "/api/2.0/accounts/{account_id}/network-connectivity-configs/{ncc_id}";
const RULES: &str =
    "/api/2.0/accounts/{account_id}/network-connectivity-configs/{ncc_id}/private-endpoint-rules";
const RULE: &str = "/api/2.0/accounts/{account_id}/network-connectivity-configs/{ncc_id}/private-endpoint-rules/{rule_id}";

/// An NCC as the API returns it (`NetworkConnectivityConfiguration`); its `egress_config` is
/// not needed here and is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct NetworkConnectivityConfiguration {
    #[serde(default)]
    pub network_connectivity_config_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub region: String,
    pub account_id: Option<String>,
    pub creation_time: Option<i64>,
    pub updated_time: Option<i64>,
}

/// Body of `POST /network-connectivity-configs` (`CreateNetworkConnectivityConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewNetworkConnectivityConfig {
    pub name: String,
    pub region: String,
}

/// `connection_state` of a private endpoint rule
/// (`NccPrivateEndpointRulePrivateLinkConnectionState`; `INIT` is an older API's first state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionState {
    Init,
    Creating,
    /// Created; waits for the resource owner's approval.
    Pending,
    Established,
    Rejected,
    Disconnected,
    /// Not approved within 14 days.
    Expired,
    CreateFailed,
    /// A value this crate does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Init => "INIT",
            ConnectionState::Creating => "CREATING",
            ConnectionState::Pending => "PENDING",
            ConnectionState::Established => "ESTABLISHED",
            ConnectionState::Rejected => "REJECTED",
            ConnectionState::Disconnected => "DISCONNECTED",
            ConnectionState::Expired => "EXPIRED",
            ConnectionState::CreateFailed => "CREATE_FAILED",
            ConnectionState::Unknown => "UNKNOWN",
        }
    }
}

/// A private endpoint rule as the API returns it (`NccPrivateEndpointRule`, Azure fields).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct NccPrivateEndpointRule {
    #[serde(default)]
    pub rule_id: String,
    pub network_connectivity_config_id: Option<String>,
    pub resource_id: Option<String>,
    pub group_id: Option<String>,
    pub connection_state: Option<ConnectionState>,
    pub endpoint_name: Option<String>,
    /// A deactivated rule is being deleted (a delete marks it, clean-up happens later).
    pub deactivated: Option<bool>,
    pub deactivated_at: Option<i64>,
    pub error_message: Option<String>,
    pub creation_time: Option<i64>,
    pub updated_time: Option<i64>,
}

impl NccPrivateEndpointRule {
    pub fn is_deactivated(&self) -> bool {
        self.deactivated == Some(true)
    }
}

/// Body of `POST .../private-endpoint-rules` (`CreatePrivateEndpointRule`, Azure fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPrivateEndpointRule {
    pub resource_id: String,
    pub group_id: String,
}

impl DatabricksClient {
    pub async fn list_network_connectivity_configs(
        &self,
    ) -> Result<Vec<NetworkConnectivityConfiguration>, ApiError> {
        self.account_list(NCCS, &[]).await
    }

    pub async fn get_network_connectivity_config(
        &self,
        ncc_id: &str,
    ) -> Result<NetworkConnectivityConfiguration, ApiError> {
        self.account_get(NCC, &[ncc_id]).await
    }

    /// Creates an NCC. Not retried on server errors: a lost response would create it twice.
    pub async fn create_network_connectivity_config(
        &self,
        ncc: &NewNetworkConnectivityConfig,
    ) -> Result<NetworkConnectivityConfiguration, ApiError> {
        self.account_write(Method::POST, NCCS, &[], ncc)
            .await?
            .json()
    }

    pub async fn delete_network_connectivity_config(&self, ncc_id: &str) -> Result<(), ApiError> {
        self.account_delete(NCC, &[ncc_id]).await
    }

    pub async fn list_private_endpoint_rules(
        &self,
        ncc_id: &str,
    ) -> Result<Vec<NccPrivateEndpointRule>, ApiError> {
        self.account_list(RULES, &[ncc_id]).await
    }

    /// Creates a rule; Databricks then provisions the endpoint asynchronously. Not retried on
    /// server errors: a lost response would create a second endpoint.
    pub async fn create_private_endpoint_rule(
        &self,
        ncc_id: &str,
        rule: &NewPrivateEndpointRule,
    ) -> Result<NccPrivateEndpointRule, ApiError> {
        self.account_write(Method::POST, RULES, &[ncc_id], rule)
            .await?
            .json()
    }

    /// Deletes (deactivates) a rule; the API answers with the rule, now `deactivated`.
    pub async fn delete_private_endpoint_rule(
        &self,
        ncc_id: &str,
        rule_id: &str,
    ) -> Result<(), ApiError> {
        self.account_delete(RULE, &[ncc_id, rule_id]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_tolerate_unknown_and_missing_fields() {
        let r: NccPrivateEndpointRule = serde_json::from_str(
            r#"{"rule_id":"r1","resource_id":"/subscriptions/s/x","group_id":"dfs",
                "connection_state":"PENDING","gcp_endpoint":{"a":1},"new":true}"#,
        )
        .unwrap();
        assert_eq!(r.connection_state, Some(ConnectionState::Pending));
        assert!(!r.is_deactivated());
        let r: NccPrivateEndpointRule =
            serde_json::from_str(r#"{"connection_state":"SOMETHING_NEW","deactivated":true}"#)
                .unwrap();
        assert_eq!(r.connection_state, Some(ConnectionState::Unknown));
        assert!(r.is_deactivated());
        let n: NetworkConnectivityConfiguration = serde_json::from_str(
            r#"{"network_connectivity_config_id":"n1","name":"a","region":"westeurope",
                "egress_config":{"default_rules":{}}}"#,
        )
        .unwrap();
        assert_eq!(n.region, "westeurope");
    }

    #[test]
    fn create_bodies_use_wire_names() {
        let body = NewPrivateEndpointRule {
            resource_id: "/subscriptions/s/r".into(),
            group_id: "blob".into(),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"resource_id": "/subscriptions/s/r", "group_id": "blob"})
        );
        assert_eq!(
            ConnectionState::CreateFailed.as_str(),
            serde_json::to_value(ConnectionState::CreateFailed).unwrap()
        );
    }
}
