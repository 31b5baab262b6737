//! Token management and token permissions.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::{Endpoint, RequestSpec};

const TOKENS: &str = "/api/2.0/token-management/tokens";
const TOKEN: &str = "/api/2.0/token-management/tokens/{token_id}";
const TOKEN_CREATE: &str = "/api/2.0/token/create";
const TOKEN_LIST: &str = "/api/2.0/token/list";
const TOKEN_PERMISSIONS: &str = "/api/2.0/permissions/authorization/tokens";

// ---------------------------------------------------------------------------------------------
// Tokens and token permissions

/// A token as token management lists it. `expiry_time` is `-1` for tokens without expiry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenInfo {
    #[serde(default)]
    pub token_id: String,
    pub comment: Option<String>,
    pub created_by_id: Option<i64>,
    pub created_by_username: Option<String>,
    pub owner_id: Option<i64>,
    /// Milliseconds since the epoch.
    pub creation_time: Option<i64>,
    /// Milliseconds since the epoch, `-1` for none.
    pub expiry_time: Option<i64>,
    pub last_used_day: Option<i64>,
    pub workspace_id: Option<i64>,
}

#[derive(Deserialize)]
struct TokenInfosResponse {
    #[serde(default)]
    token_infos: Vec<TokenInfo>,
}

/// Metadata of a token created by [`DatabricksClient::create_token`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PublicTokenInfo {
    #[serde(default)]
    pub token_id: String,
    pub comment: Option<String>,
    pub creation_time: Option<i64>,
    pub expiry_time: Option<i64>,
}

/// A newly created PAT; its value is shown once and kept secret.
#[derive(Clone, Deserialize)]
pub struct CreatedToken {
    pub token_value: SecretString,
    #[serde(default)]
    pub token_info: PublicTokenInfo,
}

impl fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedToken")
            .field("token_value", &format_args!("[REDACTED]"))
            .field("token_info", &self.token_info)
            .finish()
    }
}

/// One grant in a permissions request: exactly one principal field is set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AccessControlRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_principal_name: Option<String>,
    /// e.g. `CAN_USE`.
    pub permission_level: String,
}

impl AccessControlRequest {
    pub fn user(name: impl Into<String>, level: impl Into<String>) -> Self {
        Self {
            user_name: Some(name.into()),
            permission_level: level.into(),
            ..Self::default()
        }
    }

    pub fn group(name: impl Into<String>, level: impl Into<String>) -> Self {
        Self {
            group_name: Some(name.into()),
            permission_level: level.into(),
            ..Self::default()
        }
    }

    /// `name` is the service principal's application id.
    pub fn service_principal(name: impl Into<String>, level: impl Into<String>) -> Self {
        Self {
            service_principal_name: Some(name.into()),
            permission_level: level.into(),
            ..Self::default()
        }
    }
}

/// One principal's permissions in a permissions response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccessControlResponse {
    pub user_name: Option<String>,
    pub group_name: Option<String>,
    pub service_principal_name: Option<String>,
    pub display_name: Option<String>,
    #[serde(default)]
    pub all_permissions: Vec<Permission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Permission {
    pub permission_level: Option<String>,
    pub inherited: Option<bool>,
    #[serde(default)]
    pub inherited_from_object: Vec<String>,
}

/// `GET /permissions/authorization/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenPermissions {
    pub object_id: Option<String>,
    pub object_type: Option<String>,
    #[serde(default)]
    pub access_control_list: Vec<AccessControlResponse>,
}

impl DatabricksClient {
    // --- tokens ------------------------------------------------------------------------------

    /// All tokens of the workspace (token management; admin only).
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(TOKENS, &[]));
        Ok(self
            .send_json::<TokenInfosResponse>(spec)
            .await?
            .token_infos)
    }

    /// The caller's own tokens (`GET /api/2.0/token/list`): those of brickwarden's identity.
    pub async fn list_own_tokens(&self) -> Result<Vec<PublicTokenInfo>, ApiError> {
        #[derive(Deserialize)]
        struct OwnTokens {
            #[serde(default)]
            token_infos: Vec<PublicTokenInfo>,
        }
        let spec = RequestSpec::get(Endpoint::new(TOKEN_LIST, &[]));
        Ok(self.send_json::<OwnTokens>(spec).await?.token_infos)
    }

    pub async fn delete_token(&self, token_id: &str) -> Result<(), ApiError> {
        let spec = RequestSpec::delete(Endpoint::new(TOKEN, &[token_id]));
        self.send(spec).await.map(drop)
    }

    /// Creates a PAT for the caller (used by tests and demos). Not retried on server errors.
    pub async fn create_token(
        &self,
        comment: Option<&str>,
        lifetime: Option<Duration>,
    ) -> Result<CreatedToken, ApiError> {
        let mut body = Map::new();
        if let Some(c) = comment {
            body.insert("comment".into(), json!(c));
        }
        if let Some(l) = lifetime {
            body.insert("lifetime_seconds".into(), json!(l.as_secs()));
        }
        let spec = RequestSpec::post(Endpoint::new(TOKEN_CREATE, &[])).json(&body)?;
        self.send_json(spec).await
    }

    pub async fn get_token_permissions(&self) -> Result<TokenPermissions, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(TOKEN_PERMISSIONS, &[]));
        self.send_json(spec).await
    }

    /// Replaces all direct grants (`PUT`). Removing `CAN_USE` deletes that principal's tokens.
    pub async fn set_token_permissions(
        &self,
        acl: &[AccessControlRequest],
    ) -> Result<TokenPermissions, ApiError> {
        let body = json!({ "access_control_list": acl });
        let spec = RequestSpec::put(Endpoint::new(TOKEN_PERMISSIONS, &[])).json(&body)?;
        self.send_json(spec).await
    }

    /// Adds grants (`PATCH`), leaving others in place.
    pub async fn update_token_permissions(
        &self,
        acl: &[AccessControlRequest],
    ) -> Result<TokenPermissions, ApiError> {
        let body = json!({ "access_control_list": acl });
        let spec = RequestSpec::patch(Endpoint::new(TOKEN_PERMISSIONS, &[])).json(&body)?;
        self.send_json(spec).await
    }
}
