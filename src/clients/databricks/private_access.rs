//! AWS private access settings (PrivateLink):
//! `/api/2.0/accounts/{account_id}/private-access-settings[/{id}]`
//! (databricks-sdk 0.156.0 `provisioning.PrivateAccessAPI`). Account API only.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::DatabricksClient;
use crate::clients::error::ApiError;

const SETTINGS: &str = "/api/2.0/accounts/{account_id}/private-access-settings";
const SETTING: &str =
    "/api/2.0/accounts/{account_id}/private-access-settings/{private_access_settings_id}";

/// `ACCOUNT` (the default) or `ENDPOINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PrivateAccessLevel {
    #[default]
    Account,
    Endpoint,
    /// A value this crate does not know.
    #[serde(other)]
    Unknown,
}

/// Private access settings as the API returns them (`provisioning.PrivateAccessSettings`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct PrivateAccessSettings {
    #[serde(default)]
    pub private_access_settings_id: String,
    #[serde(default)]
    pub private_access_settings_name: String,
    pub region: Option<String>,
    /// Absent: `false`, the API's default.
    pub public_access_enabled: Option<bool>,
    /// Absent: `ACCOUNT`, the API's default.
    pub private_access_level: Option<PrivateAccessLevel>,
    pub allowed_vpc_endpoint_ids: Option<Vec<String>>,
    pub account_id: Option<String>,
}

/// Body of a create (`POST`) or a replace (`PUT`, which overwrites every field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivateAccessSettingsBody {
    pub private_access_settings_name: String,
    pub region: String,
    pub public_access_enabled: bool,
    pub private_access_level: PrivateAccessLevel,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_vpc_endpoint_ids: Vec<String>,
}

impl DatabricksClient {
    /// Every private access settings object (a plain array, unpaginated).
    pub async fn list_private_access_settings(
        &self,
    ) -> Result<Vec<PrivateAccessSettings>, ApiError> {
        self.account_get(SETTINGS, &[]).await
    }

    /// Creates settings. Not retried on server errors: a lost response would create them twice.
    pub async fn create_private_access_settings(
        &self,
        body: &PrivateAccessSettingsBody,
    ) -> Result<PrivateAccessSettings, ApiError> {
        self.account_write(Method::POST, SETTINGS, &[], body)
            .await?
            .json()
    }

    /// Overwrites every field of the settings (`PUT`); every workspace using them is affected.
    pub async fn replace_private_access_settings(
        &self,
        id: &str,
        body: &PrivateAccessSettingsBody,
    ) -> Result<(), ApiError> {
        self.account_write(Method::PUT, SETTING, &[id], body)
            .await
            .map(drop)
    }

    pub async fn delete_private_access_settings(&self, id: &str) -> Result<(), ApiError> {
        self.account_delete(SETTING, &[id]).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_tolerate_missing_and_unknown_fields() {
        let s: PrivateAccessSettings = serde_json::from_value(json!({
            "private_access_settings_id": "p1", "private_access_settings_name": "prod",
            "region": "us-east-1", "private_access_level": "SOMETHING", "new": 1
        }))
        .unwrap();
        assert_eq!(s.public_access_enabled, None);
        assert_eq!(s.private_access_level, Some(PrivateAccessLevel::Unknown));
        let body = PrivateAccessSettingsBody {
            private_access_settings_name: "prod".into(),
            region: "us-east-1".into(),
            public_access_enabled: false,
            private_access_level: PrivateAccessLevel::Account,
            allowed_vpc_endpoint_ids: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"private_access_settings_name": "prod", "region": "us-east-1",
                   "public_access_enabled": false, "private_access_level": "ACCOUNT"})
        );
    }
}
