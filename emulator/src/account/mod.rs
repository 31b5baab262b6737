//! The Databricks **account** API at `{base}/accounts` (the account console host,
//! `https://accounts.azuredatabricks.net` / `https://accounts.cloud.databricks.com`), one module
//! per API family. Paths, fields and status codes follow databricks-sdk-py 0.156.0
//! (`service/settings.py`, `service/provisioning.py`), which the conformance test
//! `tests/sdk/test_account_sdk_conformance.py` drives through its `AccountClient`.
//!
//! * discovery: `GET /.well-known/databricks-config` (what `Config._resolve_host_metadata`
//!   probes), `GET /oidc/accounts/{id}/.well-known/oauth-authorization-server` and the account
//!   OAuth token endpoint `POST /oidc/accounts/{id}/v1/token` (client credentials);
//! * `/api/2.0/accounts/{id}/ip-access-lists`, `.../settings/types/{type}/names/default`,
//!   `.../network-connectivity-configs` (+ private endpoint rules), `.../network-policies`,
//!   `.../workspaces` (+ `/{id}/network`), and on AWS `.../private-access-settings`.
//!
//! Authentication: account OAuth tokens from the account's own token endpoint and, on Azure,
//! Entra ID tokens for the Azure Databricks resource. Personal access tokens are workspace
//! credentials and are refused (401). The account's IP access lists apply to every account
//! request once `acct_ip_acl_enable` is on.

pub mod ip_access_lists;
pub mod ncc;
pub mod network_policies;
pub mod private_access;
pub mod settings;
pub mod workspaces;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth;
use crate::errors::{ApiError, OAuthError, method_not_allowed, not_found};
use crate::state::{Audience, IpAccessList, SettingRecord, World, now_ms};

/// The account id served unless configured otherwise (`--account-id`).
pub const DEFAULT_ACCOUNT_ID: &str = "00000000-0000-0000-0000-0000000acc01";

/// The cloud an account is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    #[default]
    Azure,
    Aws,
}

impl Cloud {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Azure => "azure",
            Self::Aws => "aws",
        }
    }

    /// Region of every workspace not placed elsewhere (`EmulatorConfig::regions`).
    pub fn default_region(self) -> &'static str {
        match self {
            Self::Azure => "westeurope",
            Self::Aws => "us-east-1",
        }
    }

    /// Whether `region` is a region Databricks serves on this cloud. Azure: the regions of
    /// "Azure Databricks regions" (learn.microsoft.com/azure/databricks/resources/supported-regions);
    /// AWS: "Databricks clouds and regions" (docs.databricks.com/aws/en/resources/supported-regions).
    pub fn is_region(self, region: &str) -> bool {
        const AZURE: &[&str] = &[
            "australiacentral",
            "australiacentral2",
            "australiaeast",
            "australiasoutheast",
            "brazilsouth",
            "canadacentral",
            "canadaeast",
            "centralindia",
            "centralus",
            "chinaeast2",
            "chinaeast3",
            "chinanorth2",
            "chinanorth3",
            "eastasia",
            "eastus",
            "eastus2",
            "francecentral",
            "germanywestcentral",
            "italynorth",
            "japaneast",
            "japanwest",
            "koreacentral",
            "mexicocentral",
            "northcentralus",
            "northeurope",
            "norwayeast",
            "polandcentral",
            "qatarcentral",
            "southafricanorth",
            "southcentralus",
            "southeastasia",
            "southindia",
            "spaincentral",
            "swedencentral",
            "switzerlandnorth",
            "switzerlandwest",
            "uaenorth",
            "uksouth",
            "ukwest",
            "westcentralus",
            "westeurope",
            "westindia",
            "westus",
            "westus2",
            "westus3",
        ];
        const AWS: &[&str] = &[
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ];
        match self {
            Self::Azure => AZURE.contains(&region),
            Self::Aws => AWS.contains(&region),
        }
    }
}

/// Who made an account request, as the authentication layer resolved it.
#[derive(Debug, Clone)]
pub struct AccountCaller {
    /// Client id (application id) of the OAuth or Entra ID token.
    pub client_id: String,
    /// Numeric id of that service principal in the account (`created_by` of IP access lists).
    pub principal_id: u64,
    pub ip: IpAddr,
}

/// The account's own state. Workspaces are the emulator's workspaces (`world.workspaces`);
/// only what the account adds to them (region, bindings) lives here.
#[derive(Debug, Clone)]
pub struct Account {
    pub account_id: String,
    pub cloud: Cloud,
    pub ip_access_lists: Vec<IpAccessList>,
    pub settings: BTreeMap<String, SettingRecord>,
    /// Network connectivity configs, in creation order.
    pub nccs: Vec<ncc::Ncc>,
    /// Private endpoint rules of every NCC, in creation order.
    pub rules: Vec<ncc::Rule>,
    /// Network policies, `default-policy` first.
    pub policies: Vec<network_policies::Policy>,
    /// AWS private access settings, in creation order.
    pub private_access: Vec<private_access::Pas>,
    /// Per-workspace account data by workspace index.
    pub bindings: BTreeMap<usize, workspaces::Binding>,
    /// Workspace index -> region, for workspaces not in the cloud's default region.
    pub regions: HashMap<usize, String>,
    /// Service principals seen (client id -> numeric id).
    principals: BTreeMap<String, u64>,
}

impl Account {
    pub fn seed(account_id: &str, cloud: Cloud, regions: &[(usize, String)]) -> Self {
        Self {
            account_id: account_id.to_string(),
            cloud,
            ip_access_lists: Vec::new(),
            settings: settings::initial_settings(),
            nccs: Vec::new(),
            rules: Vec::new(),
            policies: vec![network_policies::default_policy(account_id)],
            private_access: Vec::new(),
            bindings: BTreeMap::new(),
            regions: regions.iter().cloned().collect(),
            principals: BTreeMap::new(),
        }
    }

    /// The region of workspace `index`.
    pub fn region_of(&self, index: usize) -> String {
        self.regions
            .get(&index)
            .cloned()
            .unwrap_or_else(|| self.cloud.default_region().to_string())
    }

    /// Whether the account's IP access lists apply (`acct_ip_acl_enable`).
    pub fn ip_access_lists_enabled(&self) -> bool {
        settings::ip_access_lists_enabled(self)
    }

    /// Whether `ip` may call the account API.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        !self.ip_access_lists_enabled()
            || crate::databricks::ip_access_lists::allowed_with(&self.ip_access_lists, ip)
    }

    /// The numeric id of service principal `client_id`, assigned on first use.
    pub fn principal_id(&mut self, client_id: &str) -> u64 {
        let next = 5_000_000_000_000_000 + self.principals.len() as u64 + 1;
        *self.principals.entry(client_id.to_string()).or_insert(next)
    }
}

impl Default for Account {
    fn default() -> Self {
        Self::seed(DEFAULT_ACCOUNT_ID, Cloud::Azure, &[])
    }
}

/// The account's whole state as JSON, for `GET /_emulator/state/account`.
pub fn dump(world: &World) -> Value {
    let account = &world.account;
    let settings: serde_json::Map<String, Value> = settings::SETTINGS
        .iter()
        .map(|d| (d.setting_type.to_string(), settings::render(account, d)))
        .collect();
    json!({
        "account_id": account.account_id,
        "cloud": account.cloud,
        "ip_access_lists": account.ip_access_lists,
        "settings": settings,
        "network_connectivity_configs": account.nccs.iter().map(|n| ncc::render(account, n)).collect::<Vec<_>>(),
        "private_endpoint_rules": account.rules.iter().map(|r| r.render(account)).collect::<Vec<_>>(),
        "network_policies": account.policies,
        "private_access_settings": account.private_access,
        "workspaces": workspaces::list(world),
        "workspace_network_options": workspaces::network_options(world),
    })
}

/// Account paths served without authentication (discovery and the token endpoint), as on the
/// real account host.
pub fn is_public(rel: &str) -> bool {
    rel == "/.well-known/databricks-config" || rel.starts_with("/oidc/")
}

/// Resolves the caller of an account request from its bearer token.
///
/// Accepted: unexpired tokens of this account's token endpoint, and on Azure unexpired Entra ID
/// tokens for the Azure Databricks resource (Azure account admins call the account API with
/// them: learn.microsoft.com/azure/databricks/dev-tools/auth/azure-sp). A personal access token
/// (the configured PAT or one created in a workspace) is a workspace credential: the account
/// API refuses it with 401 (databricks-sdk-py `AccountClient` lists no PAT auth for accounts on
/// Azure; docs.databricks.com "Authorizing access to Databricks resources": account-level APIs
/// take OAuth only). The exact wording of the real refusal is not documented publicly.
pub fn authenticate(
    world: &mut World,
    pat: &str,
    token: Option<&str>,
    ip: IpAddr,
) -> Result<AccountCaller, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::no_credentials());
    };
    let now = now_ms();
    let Some(issued) = world.issued.get(token).cloned() else {
        let is_pat = token == pat
            || token.starts_with("dapi")
            || world
                .workspaces
                .all_materialised()
                .any(|ws| ws.tokens.iter().any(|t| t.value == token));
        if is_pat {
            return Err(ApiError::gateway(
                StatusCode::UNAUTHORIZED,
                "Personal access tokens are not supported by the account API: authenticate with \
                 OAuth (a service principal's client credentials) or a Microsoft Entra ID token.",
            ));
        }
        return Err(ApiError::invalid_token());
    };
    let account = &world.account;
    let accepted = match &issued.audience {
        Audience::Account(id) => *id == account.account_id,
        Audience::AzureDatabricks => account.cloud == Cloud::Azure,
        _ => false,
    };
    if !accepted || issued.expires_at_ms <= now {
        return Err(ApiError::invalid_token());
    }
    let principal_id = world.account.principal_id(&issued.client_id);
    Ok(AccountCaller {
        client_id: issued.client_id,
        principal_id,
        ip,
    })
}

/// The 403 of a caller the account's IP access lists block (the workspace gateway's wording,
/// for the account).
pub fn ip_blocked(ip: IpAddr, account_id: &str) -> ApiError {
    let shown = crate::access::caller_ipv4(ip).map(IpAddr::V4).unwrap_or(ip);
    ApiError::gateway(
        StatusCode::FORBIDDEN,
        format!(
            "Source IP address: {shown} is blocked by Databricks IP ACL for account: {account_id}"
        ),
    )
}

#[derive(Deserialize)]
pub struct AccountPath {
    account_id: String,
}

/// What an account handler starts from: the account id of the path
/// (`/api/2.0/accounts/{account_id}/...`) and the app that holds the account. The path's other
/// ids a handler reads with a `Path` of its own.
pub struct InAccount {
    app: App,
    account_id: String,
}

impl FromRequestParts<App> for InAccount {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Path(p) = Path::<AccountPath>::from_request_parts(parts, app).await?;
        Ok(Self {
            app: app.clone(),
            account_id: p.account_id,
        })
    }
}

impl InAccount {
    /// Runs `f` on the account under the world lock, after checking the account id of the
    /// path. Another account id is one the caller has no access to: 404, as for any unknown
    /// resource.
    pub fn run<T>(&self, f: impl FnOnce(&mut World) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut world = self.app.world();
        if world.account.account_id != self.account_id {
            return Err(ApiError::not_found(format!(
                "Account {} does not exist or you have no access to it",
                self.account_id
            )));
        }
        f(&mut world)
    }
}

/// Routes of the account host, relative to `{base}/accounts`.
pub fn router() -> Router<App> {
    const A: &str = "/api/2.0/accounts/{account_id}";
    Router::new()
        .route("/.well-known/databricks-config", get(host_metadata))
        .route(
            "/oidc/accounts/{account_id}/.well-known/oauth-authorization-server",
            get(oidc_discovery),
        )
        .route("/oidc/accounts/{account_id}/v1/token", post(oidc_token))
        .route(
            &format!("{A}/ip-access-lists"),
            get(ip_access_lists::list_handler).post(ip_access_lists::create_handler),
        )
        .route(
            &format!("{A}/ip-access-lists/{{list_id}}"),
            get(ip_access_lists::get_handler)
                .put(ip_access_lists::modify_handler)
                .patch(ip_access_lists::modify_handler)
                .delete(ip_access_lists::delete_handler),
        )
        .route(
            &format!("{A}/settings/types/{{setting_type}}/names/{{name}}"),
            get(settings::get_handler)
                .patch(settings::patch_handler)
                .delete(settings::delete_handler),
        )
        .route(
            &format!("{A}/network-connectivity-configs"),
            get(ncc::list_handler).post(ncc::create_handler),
        )
        .route(
            &format!("{A}/network-connectivity-configs/{{ncc_id}}"),
            get(ncc::get_handler).delete(ncc::delete_handler),
        )
        .route(
            &format!("{A}/network-connectivity-configs/{{ncc_id}}/private-endpoint-rules"),
            get(ncc::list_rules_handler).post(ncc::create_rule_handler),
        )
        .route(
            &format!(
                "{A}/network-connectivity-configs/{{ncc_id}}/private-endpoint-rules/{{rule_id}}"
            ),
            get(ncc::get_rule_handler)
                .patch(ncc::update_rule_handler)
                .delete(ncc::delete_rule_handler),
        )
        .route(
            &format!("{A}/network-policies"),
            get(network_policies::list_handler).post(network_policies::create_handler),
        )
        .route(
            &format!("{A}/network-policies/{{policy_id}}"),
            get(network_policies::get_handler)
                .put(network_policies::update_handler)
                .delete(network_policies::delete_handler),
        )
        .route(&format!("{A}/workspaces"), get(workspaces::list_handler))
        .route(
            &format!("{A}/workspaces/{{workspace_id}}"),
            get(workspaces::get_handler).patch(workspaces::update_handler),
        )
        .route(
            &format!("{A}/workspaces/{{workspace_id}}/network"),
            get(network_policies::get_workspace_handler)
                .put(network_policies::put_workspace_handler),
        )
        .route(
            &format!("{A}/private-access-settings"),
            get(private_access::list_handler).post(private_access::create_handler),
        )
        .route(
            &format!("{A}/private-access-settings/{{pas_id}}"),
            get(private_access::get_handler)
                .put(private_access::replace_handler)
                .delete(private_access::delete_handler),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

fn account_base(app: &App) -> String {
    format!("{}/accounts", app.base_url())
}

/// `GET /.well-known/databricks-config` on the account host. databricks-sdk-py
/// `Config._resolve_host_metadata` reads `oidc_endpoint` (with an `{account_id}` placeholder
/// on account hosts, which it substitutes), `account_id` and `cloud`; no `workspace_id` marks
/// an account host (it then uses the account id as the token audience).
async fn host_metadata(State(app): State<App>) -> Json<Value> {
    let account = app.world().account.clone();
    Json(json!({
        "oidc_endpoint": format!("{}/oidc/accounts/{{account_id}}", account_base(&app)),
        "account_id": account.account_id,
        "cloud": account.cloud.as_str(),
    }))
}

/// `GET /oidc/accounts/{id}/.well-known/oauth-authorization-server`
/// (databricks-sdk-py `oauth.get_account_endpoints`).
async fn oidc_discovery(State(app): State<App>, Path(p): Path<AccountPath>) -> Response {
    if app.world().account.account_id != p.account_id {
        return ApiError::not_found(format!("Account {} does not exist", p.account_id))
            .into_response();
    }
    let oidc = format!("{}/oidc/accounts/{}", account_base(&app), p.account_id);
    Json(crate::databricks::identity::oidc_metadata(&oidc)).into_response()
}

/// `POST /oidc/accounts/{id}/v1/token`: client credentials (HTTP Basic, as databricks-sdk-py
/// `ClientCredentials(use_header=True)` sends them, or in the form), `scope=all-apis`.
async fn oidc_token(
    State(app): State<App>,
    Path(p): Path<AccountPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client_id, scope) =
        match crate::databricks::identity::client_credentials(&app, &headers, &body) {
            Ok(granted) => granted,
            Err(refused) => return refused.into_response(),
        };
    let lifetime = app.config().token_lifetime;
    let issuer = format!("{}/oidc/accounts/{}", account_base(&app), p.account_id);
    let token = {
        let mut world = app.world();
        if world.account.account_id != p.account_id {
            return OAuthError::new(StatusCode::NOT_FOUND, "invalid_request", "Unknown account")
                .into_response();
        }
        auth::issue(
            &mut world,
            Audience::Account(p.account_id.clone()),
            &client_id,
            &issuer,
            lifetime,
        )
    };
    crate::databricks::identity::token_response(&token, lifetime, &scope)
}

/// A fresh id, as the account API's ids are (UUIDs).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
