//! Typed client of one Databricks workspace's REST API.
//!
//! Wire types use the API's field names (checked against the official Python SDK's
//! `databricks/sdk/service/{settings,workspace}.py`); unknown fields are ignored, fields the
//! API may omit are `Option`. Settings keep their raw JSON so fields this crate does not know
//! survive a read-modify-write.

mod account_api;
mod account_workspaces;
mod ip_access_lists;
mod network_connectivity;
mod network_policies;
mod private_access;
mod secrets;
mod settings;
mod tokens;
mod workspace_conf;

pub use account_workspaces::*;
pub use ip_access_lists::*;
pub use network_connectivity::*;
pub use network_policies::*;
pub use private_access::*;
pub use secrets::*;
pub use settings::*;
pub use tokens::*;
pub use workspace_conf::ConfRead;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::ClientOptions;
use super::auth::{Authorizer, Credential};
use super::error::ApiError;
use super::http::{Endpoint, HttpClient, HttpResponse, RequestSpec, SERVICE_DATABRICKS};

// ---------------------------------------------------------------------------------------------
// Client

/// Client of one Databricks workspace, or of one account's API. Cheap to clone.
#[derive(Clone)]
pub struct DatabricksClient {
    http: HttpClient,
    /// A PAT to scrub from error messages, should a server ever echo it.
    scrub: Option<SecretString>,
    /// `Some`: the account API (`/api/2.0/accounts/{account_id}/...`) of this account.
    account_id: Option<String>,
}

impl fmt::Debug for DatabricksClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabricksClient")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl DatabricksClient {
    /// A client for the workspace at `base_url`; a path prefix (`/ws/ws-1`) is kept.
    pub fn new(
        base_url: Url,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        Self::connect(base_url, None, credential, options)
    }

    /// A client for the account API of `account_id` at `host` (e.g.
    /// `https://accounts.azuredatabricks.net`); a path prefix is kept.
    pub fn for_account(
        host: Url,
        account_id: &str,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        Self::connect(host, Some(account_id.to_string()), credential, options)
    }

    fn connect(
        base_url: Url,
        account_id: Option<String>,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        let authorizer = Authorizer::for_databricks(
            &credential,
            &base_url,
            account_id.as_deref(),
            &options.authority_host,
            &options.http,
        )?;
        let scrub = match &credential {
            Credential::PersonalAccessToken(t) => Some(t.clone()),
            _ => None,
        };
        let http = HttpClient::new(SERVICE_DATABRICKS, base_url, options.http, authorizer)?;
        Ok(Self {
            http,
            scrub,
            account_id,
        })
    }

    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// The account this client speaks for; `None` for a workspace client.
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// The endpoint of an API both workspaces and accounts serve: `workspace` (e.g.
    /// `/api/2.0/ip-access-lists/{list_id}`) for a workspace client, `account` (the same with
    /// `/api/2.0/accounts/{account_id}` in front) with the account id first for an account
    /// client.
    pub(super) fn scoped(
        &self,
        workspace: &'static str,
        account: &'static str,
        params: &[&str],
    ) -> Endpoint {
        match &self.account_id {
            None => Endpoint::new(workspace, params),
            Some(id) => {
                let mut all = Vec::with_capacity(params.len() + 1);
                all.push(id.as_str());
                all.extend_from_slice(params);
                Endpoint::new(account, &all)
            }
        }
    }

    /// An account API endpoint (`/api/2.0/accounts/{account_id}/...`): the account id first,
    /// then `params`. Fails on a workspace client, which has no account.
    #[allow(dead_code, reason = "the account network clients use it")]
    pub(super) fn account_endpoint(
        &self,
        template: &'static str,
        params: &[&str],
    ) -> Result<Endpoint, ApiError> {
        let id = self.account_id.as_deref().ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "{template} is an account API: this client is a workspace's"
            ))
        })?;
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(id);
        all.extend_from_slice(params);
        Ok(Endpoint::new(template, &all))
    }

    pub(super) async fn send(&self, spec: RequestSpec) -> Result<HttpResponse, ApiError> {
        self.http.send(spec).await.map_err(|e| match &self.scrub {
            Some(s) => e.redact(s.expose_secret()),
            None => e,
        })
    }

    pub(super) async fn send_json<T: DeserializeOwned>(
        &self,
        spec: RequestSpec,
    ) -> Result<T, ApiError> {
        self.send(spec).await?.json()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::workspace_conf::conf_values;
    use super::*;

    #[test]
    fn ip_access_list_tolerates_unknown_and_missing_fields() {
        let l: IpAccessList = serde_json::from_str(
            r#"{"list_id":"abc","label":"corp","list_type":"ALLOW","ip_addresses":["1.2.3.4"],
                "address_count":1,"enabled":true,"created_at":1,"new_field":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(l.list_type, ListType::Allow);
        assert_eq!(l.updated_by, None);
        let l: IpAccessList = serde_json::from_str(r#"{"list_type":"SOMETHING"}"#).unwrap();
        assert_eq!(l.list_type, ListType::Unknown);
    }

    #[test]
    fn update_body_skips_unset_fields() {
        let body = UpdateIpAccessList {
            enabled: Some(false),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"enabled":false}"#
        );
        let body = NewIpAccessList {
            label: "x".into(),
            list_type: ListType::Block,
            ip_addresses: vec!["192.0.2.0/24".into()],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"label":"x","list_type":"BLOCK","ip_addresses":["192.0.2.0/24"]})
        );
    }

    #[test]
    fn conf_values_cover_every_requested_key() {
        let raw = json!({"a":"true","b":null,"c":5})
            .as_object()
            .unwrap()
            .clone();
        let got = conf_values(&["a", "b", "c", "d"], raw);
        assert_eq!(got["a"].as_deref(), Some("true"));
        assert_eq!(got["b"], None);
        assert_eq!(got["c"].as_deref(), Some("5"));
        assert_eq!(got["d"], None);
    }

    #[test]
    fn setting_round_trip_keeps_unknown_fields() {
        let raw = json!({
            "etag": "e1",
            "setting_name": "default",
            "automatic_cluster_update_workspace": {
                "enabled": false,
                "can_toggle": true,
                "maintenance_window": {"week_day_based_schedule": {"day_of_week": "MONDAY"}}
            },
            "future_field": 1
        });
        let mut s = Setting::from_raw(
            SettingType::AutomaticClusterUpdate,
            raw.as_object().unwrap().clone(),
        );
        assert_eq!(s.etag(), Some("e1"));
        assert_eq!(s.value().is_on(), Some(false));
        let mask = s
            .set_value(&SettingValue::switch(
                SettingType::AutomaticClusterUpdate,
                true,
            ))
            .unwrap();
        assert_eq!(mask, "automatic_cluster_update_workspace.enabled");
        assert_eq!(s.value().is_on(), Some(true));
        let v = Value::Object(s.raw().clone());
        assert_eq!(v["future_field"], 1);
        assert_eq!(
            v["automatic_cluster_update_workspace"]["maintenance_window"]["week_day_based_schedule"]
                ["day_of_week"],
            "MONDAY"
        );
        assert_eq!(v["automatic_cluster_update_workspace"]["can_toggle"], true);
    }

    #[test]
    fn setting_switches_use_wire_shapes() {
        let cases = [
            (
                SettingType::RestrictWorkspaceAdmins,
                json!({"restrict_workspace_admins":{"status":"RESTRICT_TOKENS_AND_JOB_RUN_AS"}}),
                "restrict_workspace_admins.status",
            ),
            (
                SettingType::ComplianceSecurityProfile,
                json!({"compliance_security_profile_workspace":{"is_enabled":true}}),
                "compliance_security_profile_workspace.is_enabled",
            ),
            (
                SettingType::EnhancedSecurityMonitoring,
                json!({"enhanced_security_monitoring_workspace":{"is_enabled":true}}),
                "enhanced_security_monitoring_workspace.is_enabled",
            ),
            (
                SettingType::DisableLegacyDbfs,
                json!({"disable_legacy_dbfs":{"value":true}}),
                "disable_legacy_dbfs.value",
            ),
        ];
        for (t, expected, expected_mask) in cases {
            let mut s = Setting::from_raw(t, Map::new());
            let mask = s.set_value(&SettingValue::switch(t, true)).unwrap();
            assert_eq!(mask, expected_mask);
            assert_eq!(Value::Object(s.raw().clone()), expected);
            assert_eq!(s.value().is_on(), Some(true));
        }
        let mut s = Setting::new(SettingType::DisableLegacyDbfs);
        assert!(
            s.set_value(&SettingValue::switch(
                SettingType::AutomaticClusterUpdate,
                true
            ))
            .is_err()
        );
    }

    #[test]
    fn restrict_admins_reads_status() {
        let s = Setting::from_raw(
            SettingType::RestrictWorkspaceAdmins,
            json!({"restrict_workspace_admins":{"status":"ALLOW_ALL"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(s.value().is_on(), Some(false));
        assert_eq!(
            Setting::new(SettingType::RestrictWorkspaceAdmins)
                .value()
                .is_on(),
            None
        );
    }

    #[test]
    fn setting_type_names() {
        for t in SettingType::ALL {
            assert_eq!(SettingType::from_api_name(t.api_name()), Some(t));
        }
        assert_eq!(
            SettingType::ComplianceSecurityProfile.api_name(),
            "shield_csp_enablement_ws_db"
        );
    }

    #[test]
    fn acl_request_serializes_one_principal() {
        let a = AccessControlRequest::group("data-engineers", "CAN_USE");
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"group_name":"data-engineers","permission_level":"CAN_USE"})
        );
    }

    #[test]
    fn created_token_debug_is_redacted() {
        let t: CreatedToken = serde_json::from_str(
            r#"{"token_value":"dapi-very-secret","token_info":{"token_id":"t1","expiry_time":-1}}"#,
        )
        .unwrap();
        let text = format!("{t:?}");
        assert!(!text.contains("dapi-very-secret"));
        assert!(text.contains("t1"));
    }

    #[test]
    fn client_debug_is_redacted() {
        let c = DatabricksClient::new(
            Url::parse("http://127.0.0.1:1/ws/ws-1").unwrap(),
            Credential::PersonalAccessToken("dapi-secret-pat".into()),
            ClientOptions::default(),
        )
        .unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("dapi-secret-pat"), "{text}");
        assert!(text.contains("/ws/ws-1"));
    }
}
