//! Typed client of one Databricks workspace's REST API.
//!
//! Wire types use the API's field names (checked against the official Python SDK's
//! `databricks/sdk/service/{settings,workspace}.py`); unknown fields are ignored, fields the
//! API may omit are `Option`. Settings keep their raw JSON so fields this crate does not know
//! survive a read-modify-write.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::ClientOptions;
use super::auth::{Authorizer, Credential};
use super::error::ApiError;
use super::http::{Endpoint, HttpClient, HttpResponse, RequestSpec, SERVICE_DATABRICKS};

const IP_ACCESS_LISTS: &str = "/api/2.0/ip-access-lists";
const IP_ACCESS_LIST: &str = "/api/2.0/ip-access-lists/{list_id}";
const WORKSPACE_CONF: &str = "/api/2.0/workspace-conf";
const TOKENS: &str = "/api/2.0/token-management/tokens";
const TOKEN: &str = "/api/2.0/token-management/tokens/{token_id}";
const TOKEN_CREATE: &str = "/api/2.0/token/create";
const TOKEN_LIST: &str = "/api/2.0/token/list";
const TOKEN_PERMISSIONS: &str = "/api/2.0/permissions/authorization/tokens";
const SETTING: &str = "/api/2.0/settings/types/{setting_type}/names/default";
const SECRET_SCOPES: &str = "/api/2.0/secrets/scopes/list";
const SECRET_ACLS: &str = "/api/2.0/secrets/acls/list";
const SECRET_ACL_PUT: &str = "/api/2.0/secrets/acls/put";
const SECRET_ACL_DELETE: &str = "/api/2.0/secrets/acls/delete";

// ---------------------------------------------------------------------------------------------
// IP access lists

/// `ALLOW` or `BLOCK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListType {
    Allow,
    Block,
    /// A value this crate does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// An IP access list as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IpAccessList {
    #[serde(default)]
    pub list_id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub list_type: ListType,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    pub address_count: Option<u64>,
    pub enabled: Option<bool>,
    pub created_at: Option<i64>,
    pub created_by: Option<i64>,
    pub updated_at: Option<i64>,
    pub updated_by: Option<i64>,
}

/// Body of `POST /ip-access-lists`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewIpAccessList {
    pub label: String,
    pub list_type: ListType,
    pub ip_addresses: Vec<String>,
}

/// Body of `PUT /ip-access-lists/{id}`: every field replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaceIpAccessList {
    pub label: String,
    pub list_type: ListType,
    pub ip_addresses: Vec<String>,
    pub enabled: bool,
}

/// Body of `PATCH /ip-access-lists/{id}`: only the fields that are `Some` change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UpdateIpAccessList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_type: Option<ListType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
struct IpAccessListsResponse {
    #[serde(default)]
    ip_access_lists: Vec<IpAccessList>,
}

#[derive(Deserialize)]
struct IpAccessListResponse {
    ip_access_list: IpAccessList,
}

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

// ---------------------------------------------------------------------------------------------
// Settings

/// The workspace settings this crate manages (`/api/2.0/settings/types/{type}/names/default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SettingType {
    RestrictWorkspaceAdmins,
    AutomaticClusterUpdate,
    /// `shield_csp_enablement_ws_db`: compliance security profile; irreversible once on.
    ComplianceSecurityProfile,
    /// `shield_esm_enablement_ws_db`: enhanced security monitoring.
    EnhancedSecurityMonitoring,
    DisableLegacyDbfs,
}

impl SettingType {
    pub const ALL: [SettingType; 5] = [
        SettingType::RestrictWorkspaceAdmins,
        SettingType::AutomaticClusterUpdate,
        SettingType::ComplianceSecurityProfile,
        SettingType::EnhancedSecurityMonitoring,
        SettingType::DisableLegacyDbfs,
    ];

    /// The `{type}` path segment.
    pub fn api_name(self) -> &'static str {
        match self {
            SettingType::RestrictWorkspaceAdmins => "restrict_workspace_admins",
            SettingType::AutomaticClusterUpdate => "automatic_cluster_update",
            SettingType::ComplianceSecurityProfile => "shield_csp_enablement_ws_db",
            SettingType::EnhancedSecurityMonitoring => "shield_esm_enablement_ws_db",
            SettingType::DisableLegacyDbfs => "disable_legacy_dbfs",
        }
    }

    /// The field of the setting object that holds the value.
    pub fn value_field(self) -> &'static str {
        match self {
            SettingType::RestrictWorkspaceAdmins => "restrict_workspace_admins",
            SettingType::AutomaticClusterUpdate => "automatic_cluster_update_workspace",
            SettingType::ComplianceSecurityProfile => "compliance_security_profile_workspace",
            SettingType::EnhancedSecurityMonitoring => "enhanced_security_monitoring_workspace",
            SettingType::DisableLegacyDbfs => "disable_legacy_dbfs",
        }
    }

    pub fn from_api_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.api_name() == name)
    }
}

impl fmt::Display for SettingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// `restrict_workspace_admins.status` values.
pub const RESTRICT_ADMINS_ON: &str = "RESTRICT_TOKENS_AND_JOB_RUN_AS";
pub const RESTRICT_ADMINS_OFF: &str = "ALLOW_ALL";

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestrictWorkspaceAdminsMessage {
    /// `ALLOW_ALL` or `RESTRICT_TOKENS_AND_JOB_RUN_AS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterAutoRestartMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_toggle: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_even_if_no_updates_available: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ComplianceSecurityProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    /// e.g. `HIPAA`, `PCI_DSS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_standards: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnhancedSecurityMonitoring {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BooleanMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<bool>,
}

/// Typed view of a setting's value field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    RestrictWorkspaceAdmins(RestrictWorkspaceAdminsMessage),
    AutomaticClusterUpdate(ClusterAutoRestartMessage),
    ComplianceSecurityProfile(ComplianceSecurityProfile),
    EnhancedSecurityMonitoring(EnhancedSecurityMonitoring),
    DisableLegacyDbfs(BooleanMessage),
}

impl SettingValue {
    /// The value that turns a setting on or off (for restrict-admins: restrict or allow all).
    pub fn switch(setting_type: SettingType, on: bool) -> Self {
        match setting_type {
            SettingType::RestrictWorkspaceAdmins => {
                let status = if on {
                    RESTRICT_ADMINS_ON
                } else {
                    RESTRICT_ADMINS_OFF
                };
                SettingValue::RestrictWorkspaceAdmins(RestrictWorkspaceAdminsMessage {
                    status: Some(status.to_string()),
                })
            }
            SettingType::AutomaticClusterUpdate => {
                SettingValue::AutomaticClusterUpdate(ClusterAutoRestartMessage {
                    enabled: Some(on),
                    ..Default::default()
                })
            }
            SettingType::ComplianceSecurityProfile => {
                SettingValue::ComplianceSecurityProfile(ComplianceSecurityProfile {
                    is_enabled: Some(on),
                    compliance_standards: None,
                })
            }
            SettingType::EnhancedSecurityMonitoring => {
                SettingValue::EnhancedSecurityMonitoring(EnhancedSecurityMonitoring {
                    is_enabled: Some(on),
                })
            }
            SettingType::DisableLegacyDbfs => {
                SettingValue::DisableLegacyDbfs(BooleanMessage { value: Some(on) })
            }
        }
    }

    pub fn setting_type(&self) -> SettingType {
        match self {
            SettingValue::RestrictWorkspaceAdmins(_) => SettingType::RestrictWorkspaceAdmins,
            SettingValue::AutomaticClusterUpdate(_) => SettingType::AutomaticClusterUpdate,
            SettingValue::ComplianceSecurityProfile(_) => SettingType::ComplianceSecurityProfile,
            SettingValue::EnhancedSecurityMonitoring(_) => SettingType::EnhancedSecurityMonitoring,
            SettingValue::DisableLegacyDbfs(_) => SettingType::DisableLegacyDbfs,
        }
    }

    /// Whether the setting is on; `None` when the API did not say.
    pub fn is_on(&self) -> Option<bool> {
        match self {
            SettingValue::RestrictWorkspaceAdmins(m) => {
                m.status.as_deref().map(|s| s == RESTRICT_ADMINS_ON)
            }
            SettingValue::AutomaticClusterUpdate(m) => m.enabled,
            SettingValue::ComplianceSecurityProfile(m) => m.is_enabled,
            SettingValue::EnhancedSecurityMonitoring(m) => m.is_enabled,
            SettingValue::DisableLegacyDbfs(m) => m.value,
        }
    }

    fn to_json(&self) -> Value {
        let v = match self {
            SettingValue::RestrictWorkspaceAdmins(m) => serde_json::to_value(m),
            SettingValue::AutomaticClusterUpdate(m) => serde_json::to_value(m),
            SettingValue::ComplianceSecurityProfile(m) => serde_json::to_value(m),
            SettingValue::EnhancedSecurityMonitoring(m) => serde_json::to_value(m),
            SettingValue::DisableLegacyDbfs(m) => serde_json::to_value(m),
        };
        v.unwrap_or(Value::Null)
    }
}

/// A setting object (`{etag, setting_name, <value_field>: {...}}`), raw JSON kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    setting_type: SettingType,
    raw: Map<String, Value>,
}

impl Setting {
    /// An empty setting of `setting_type` (for `allow_missing` updates without a prior read).
    pub fn new(setting_type: SettingType) -> Self {
        let mut raw = Map::new();
        raw.insert("setting_name".into(), Value::String("default".into()));
        raw.insert(setting_type.value_field().into(), Value::Object(Map::new()));
        Self { setting_type, raw }
    }

    /// Wraps a setting object as the API returned it.
    pub fn from_raw(setting_type: SettingType, raw: Map<String, Value>) -> Self {
        Self { setting_type, raw }
    }

    pub fn setting_type(&self) -> SettingType {
        self.setting_type
    }

    /// The optimistic-concurrency token to send back with an update.
    pub fn etag(&self) -> Option<&str> {
        self.raw.get("etag").and_then(Value::as_str)
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The typed value; fields the API omitted are `None`.
    pub fn value(&self) -> SettingValue {
        let field = self.raw.get(self.setting_type.value_field());
        fn typed<T: DeserializeOwned + Default>(v: Option<&Value>) -> T {
            v.and_then(|v| T::deserialize(v).ok()).unwrap_or_default()
        }
        match self.setting_type {
            SettingType::RestrictWorkspaceAdmins => {
                SettingValue::RestrictWorkspaceAdmins(typed(field))
            }
            SettingType::AutomaticClusterUpdate => {
                SettingValue::AutomaticClusterUpdate(typed(field))
            }
            SettingType::ComplianceSecurityProfile => {
                SettingValue::ComplianceSecurityProfile(typed(field))
            }
            SettingType::EnhancedSecurityMonitoring => {
                SettingValue::EnhancedSecurityMonitoring(typed(field))
            }
            SettingType::DisableLegacyDbfs => SettingValue::DisableLegacyDbfs(typed(field)),
        }
    }

    /// Merges the `Some` fields of `value` into the value object (other fields, known or not,
    /// are kept) and returns the `field_mask` naming exactly the fields set.
    pub fn set_value(&mut self, value: &SettingValue) -> Result<String, ApiError> {
        if value.setting_type() != self.setting_type {
            return Err(ApiError::InvalidRequest(format!(
                "value of {} given for setting {}",
                value.setting_type(),
                self.setting_type
            )));
        }
        let field = self.setting_type.value_field();
        let target = self
            .raw
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let target = target.as_object_mut().expect("object");
        let mut mask = Vec::new();
        if let Value::Object(updates) = value.to_json() {
            for (k, v) in updates {
                mask.push(format!("{field}.{k}"));
                target.insert(k, v);
            }
        }
        Ok(mask.join(","))
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecretScope {
    #[serde(default)]
    pub name: String,
    /// `DATABRICKS` or `AZURE_KEYVAULT`.
    pub backend_type: Option<String>,
    pub keyvault_metadata: Option<Value>,
}

#[derive(Deserialize)]
struct SecretScopesResponse {
    #[serde(default)]
    scopes: Vec<SecretScope>,
}

/// `READ`, `WRITE` or `MANAGE`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum AclPermission {
    Read,
    Write,
    Manage,
    #[default]
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AclItem {
    #[serde(default)]
    pub principal: String,
    #[serde(default)]
    pub permission: AclPermission,
}

#[derive(Deserialize)]
struct AclItemsResponse {
    #[serde(default)]
    items: Vec<AclItem>,
}

// ---------------------------------------------------------------------------------------------
// Client

/// Client of one Databricks workspace. Cheap to clone.
#[derive(Clone)]
pub struct DatabricksClient {
    http: HttpClient,
    /// A PAT to scrub from error messages, should a server ever echo it.
    scrub: Option<SecretString>,
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
        let authorizer = Authorizer::for_databricks(
            &credential,
            &base_url,
            &options.authority_host,
            &options.http,
        )?;
        let scrub = match &credential {
            Credential::PersonalAccessToken(t) => Some(t.clone()),
            _ => None,
        };
        let http = HttpClient::new(SERVICE_DATABRICKS, base_url, options.http, authorizer)?;
        Ok(Self { http, scrub })
    }

    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    async fn send(&self, spec: RequestSpec) -> Result<HttpResponse, ApiError> {
        self.http.send(spec).await.map_err(|e| match &self.scrub {
            Some(s) => e.redact(s.expose_secret()),
            None => e,
        })
    }

    async fn send_json<T: DeserializeOwned>(&self, spec: RequestSpec) -> Result<T, ApiError> {
        self.send(spec).await?.json()
    }

    // --- IP access lists ---------------------------------------------------------------------

    pub async fn list_ip_access_lists(&self) -> Result<Vec<IpAccessList>, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(IP_ACCESS_LISTS, &[]));
        Ok(self
            .send_json::<IpAccessListsResponse>(spec)
            .await?
            .ip_access_lists)
    }

    pub async fn get_ip_access_list(&self, list_id: &str) -> Result<IpAccessList, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(IP_ACCESS_LIST, &[list_id]));
        Ok(self
            .send_json::<IpAccessListResponse>(spec)
            .await?
            .ip_access_list)
    }

    /// Creates a list. Not retried on server errors: a lost response would create it twice.
    pub async fn create_ip_access_list(
        &self,
        list: &NewIpAccessList,
    ) -> Result<IpAccessList, ApiError> {
        let spec = RequestSpec::post(Endpoint::new(IP_ACCESS_LISTS, &[])).json(list)?;
        Ok(self
            .send_json::<IpAccessListResponse>(spec)
            .await?
            .ip_access_list)
    }

    /// Replaces every field of a list (`PUT`).
    pub async fn replace_ip_access_list(
        &self,
        list_id: &str,
        list: &ReplaceIpAccessList,
    ) -> Result<(), ApiError> {
        let spec = RequestSpec::put(Endpoint::new(IP_ACCESS_LIST, &[list_id])).json(list)?;
        self.send(spec).await.map(drop)
    }

    /// Changes the given fields of a list (`PATCH`).
    pub async fn update_ip_access_list(
        &self,
        list_id: &str,
        update: &UpdateIpAccessList,
    ) -> Result<(), ApiError> {
        let spec = RequestSpec::patch(Endpoint::new(IP_ACCESS_LIST, &[list_id])).json(update)?;
        self.send(spec).await.map(drop)
    }

    pub async fn delete_ip_access_list(&self, list_id: &str) -> Result<(), ApiError> {
        let spec = RequestSpec::delete(Endpoint::new(IP_ACCESS_LIST, &[list_id]));
        self.send(spec).await.map(drop)
    }

    // --- workspace-conf ----------------------------------------------------------------------

    /// Reads `keys` in one `?keys=` call. Every requested key is in the result; `None` means
    /// the API returned `null` (never set) or omitted it.
    pub async fn get_conf(
        &self,
        keys: &[&str],
    ) -> Result<BTreeMap<String, Option<String>>, ApiError> {
        if keys.is_empty() {
            return Ok(BTreeMap::new());
        }
        let spec =
            RequestSpec::get(Endpoint::new(WORKSPACE_CONF, &[])).query("keys", keys.join(","));
        let raw: Map<String, Value> = self.send_json(spec).await?;
        Ok(conf_values(keys, raw))
    }

    /// Writes workspace-conf values (always strings on the wire).
    pub async fn set_conf(&self, values: &BTreeMap<String, String>) -> Result<(), ApiError> {
        if values.is_empty() {
            return Ok(());
        }
        let spec = RequestSpec::patch(Endpoint::new(WORKSPACE_CONF, &[])).json(values)?;
        self.send(spec).await.map(drop)
    }

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

    // --- settings ----------------------------------------------------------------------------

    pub async fn get_setting(&self, setting_type: SettingType) -> Result<Setting, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(SETTING, &[setting_type.api_name()]));
        let raw: Map<String, Value> = self.send_json(spec).await?;
        Ok(Setting::from_raw(setting_type, raw))
    }

    /// `PATCH {allow_missing: true, field_mask, setting}`. The setting must carry the etag of
    /// the last read; a stale one fails with 409 ([`ApiError::is_conflict`]): re-read, retry.
    pub async fn update_setting(
        &self,
        setting_type: SettingType,
        setting: &Setting,
        field_mask: &str,
    ) -> Result<Setting, ApiError> {
        if setting.setting_type() != setting_type {
            return Err(ApiError::InvalidRequest(format!(
                "setting of type {} sent to {}",
                setting.setting_type(),
                setting_type
            )));
        }
        let body = json!({
            "allow_missing": true,
            "field_mask": field_mask,
            "setting": setting.raw(),
        });
        let spec =
            RequestSpec::patch(Endpoint::new(SETTING, &[setting_type.api_name()])).json(&body)?;
        let raw: Map<String, Value> = self.send_json(spec).await?;
        Ok(Setting::from_raw(setting_type, raw))
    }

    // --- secrets -----------------------------------------------------------------------------

    pub async fn list_secret_scopes(&self) -> Result<Vec<SecretScope>, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(SECRET_SCOPES, &[]));
        Ok(self.send_json::<SecretScopesResponse>(spec).await?.scopes)
    }

    pub async fn list_secret_acls(&self, scope: &str) -> Result<Vec<AclItem>, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(SECRET_ACLS, &[])).query("scope", scope);
        Ok(self.send_json::<AclItemsResponse>(spec).await?.items)
    }

    /// Creates or overwrites a principal's ACL on a scope. A put is idempotent, so retried.
    pub async fn put_secret_acl(
        &self,
        scope: &str,
        principal: &str,
        permission: AclPermission,
    ) -> Result<(), ApiError> {
        let body = json!({ "scope": scope, "principal": principal, "permission": permission });
        let spec = RequestSpec::post(Endpoint::new(SECRET_ACL_PUT, &[]))
            .json(&body)?
            .retry_unsafe();
        self.send(spec).await.map(drop)
    }

    /// Removes a principal's ACL. Retried: a repeat after a lost response answers
    /// `RESOURCE_DOES_NOT_EXIST` ([`ApiError::is_not_found`]), which callers treat as done.
    pub async fn delete_secret_acl(&self, scope: &str, principal: &str) -> Result<(), ApiError> {
        let body = json!({ "scope": scope, "principal": principal });
        let spec = RequestSpec::post(Endpoint::new(SECRET_ACL_DELETE, &[]))
            .json(&body)?
            .retry_unsafe();
        self.send(spec).await.map(drop)
    }
}

/// Maps a workspace-conf response onto the requested keys. Values are strings on the wire; a
/// non-string is kept as its JSON text rather than dropped.
fn conf_values(keys: &[&str], mut raw: Map<String, Value>) -> BTreeMap<String, Option<String>> {
    keys.iter()
        .map(|k| {
            let value = match raw.remove(*k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                Some(other) => Some(other.to_string()),
            };
            (k.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
