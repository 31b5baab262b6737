//! The admin API under `/_emulator` (no authentication, never journaled, never faulted):
//!
//! * `GET /_emulator` — what is served (workspace URLs, ARM, token endpoints).
//! * `GET /_emulator/requests[?workspace=ws-1&since=SEQ]` — the journal, a JSON array in order;
//!   `DELETE` clears it.
//! * `POST /_emulator/faults` — inject a fault ([`FaultSpec`]); `GET` lists active faults;
//!   `DELETE` clears them.
//! * `GET /_emulator/workspaces` — `[{id, host, workspaceId, azureResourceId, sku, region}]`:
//!   `host` is the workspace's base URL, `workspaceId` its numeric id (a JSON number), `region`
//!   its region as the account API shows it.
//! * `GET /_emulator/state` — every workspace's state; `GET /_emulator/state/{ws}` — one.
//! * `PATCH /_emulator/state/{ws}` — set state directly, bypassing validation and guards
//!   (`workspace_conf`, `ip_access_lists`, `settings`, `arm`), e.g. to lock the caller out.
//! * `POST /_emulator/reset` — back to the seeded state (journal and faults cleared).
//! * `GET /_emulator/state/account` — the account's state (IP access lists, settings, NCCs and
//!   private endpoint rules, network policies, private access settings, workspaces and their
//!   bindings).
//! * `POST /_emulator/account/private-endpoint-rules/{rule_id}` `{"connection_state":
//!   "ESTABLISHED" | "REJECTED" | "DISCONNECTED" | "EXPIRED" | ...}` — what the owner of the
//!   target resource does on the real cloud: approve (or reject, ...) the private endpoint of a
//!   rule, which stays `PENDING` until then.
//!
//! The account API (`{base}/accounts`) is a service like the workspaces: its requests are
//! journaled with `workspace: "account"` (`GET /_emulator/requests?workspace=account`, `path`
//! relative to `/accounts`), and a fault with `"workspace": "account"` targets them (the
//! account token endpoint `/oidc/accounts/{id}/v1/token` included, answered with the OAuth
//! error envelope).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::access::{self, ListType};
use super::app::App;
use super::databricks::{Body, settings, workspace_conf};
use super::errors::{ApiError, Reply};
use super::faults::FaultSpec;
use super::state::{ADMIN_USER, IpAccessList, TENANT_ID, Workspace, now_ms};

pub fn router() -> Router<App> {
    Router::new()
        .route("/_emulator", get(info))
        .route(
            "/_emulator/requests",
            get(list_requests).delete(clear_requests),
        )
        .route(
            "/_emulator/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_emulator/workspaces", get(list_workspaces))
        .route("/_emulator/state", get(all_state))
        .route("/_emulator/state/{ws}", get(state).patch(patch_state))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/state/account", get(account_state))
        .route(
            "/_emulator/account/private-endpoint-rules/{rule_id}",
            post(set_rule_state),
        )
}

/// What the emulator serves, as `GET /_emulator` and the CLI report it.
pub fn describe(app: &App) -> Value {
    let listing = app.world().workspaces.listing();
    let workspaces: Vec<Value> = listing
        .into_iter()
        .map(|ws| {
            json!({
                "host": app.workspace_host(&ws.name),
                "arm_resource_id": super::arm::resource_id(&ws.name),
                "oauth_token_endpoint": format!("{}/oidc/v1/token", ws.url),
                "name": ws.name,
                "url": ws.url,
                "workspace_id": ws.workspace_id,
                "sku": ws.sku,
            })
        })
        .collect();
    json!({
        "base_url": app.base_url(),
        "workspaces": workspaces,
        "arm_url": app.arm_url(),
        "arm_api_version": "2026-01-01",
        "authority_host": app.authority_host(),
        "tenant_id": TENANT_ID,
        "entra_token_endpoint": format!("{}/{TENANT_ID}/oauth2/v2.0/token", app.authority_host()),
        "pat_user": ADMIN_USER,
        "admin_api": format!("{}/_emulator", app.base_url()),
        "account": {
            "host": format!("{}/accounts", app.base_url()),
            "account_id": app.config().account_id,
            "cloud": app.config().cloud.as_str(),
            "oauth_token_endpoint": format!(
                "{}/accounts/oidc/accounts/{}/v1/token",
                app.base_url(),
                app.config().account_id
            ),
        },
    })
}

async fn info(State(app): State<App>) -> Json<Value> {
    Json(describe(&app))
}

async fn list_requests(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let since = query
        .get("since")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let workspace = query.get("workspace");
    let journal = app.journal();
    let entries: Vec<_> = journal
        .entries()
        .filter(|e| e.seq > since)
        .filter(|e| workspace.is_none_or(|w| e.workspace.as_ref() == Some(w)))
        .collect();
    Json(json!(entries))
}

async fn clear_requests(State(app): State<App>) -> StatusCode {
    app.journal().clear();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(app): State<App>) -> Json<Value> {
    Json(json!(app.faults().list()))
}

async fn add_fault(State(app): State<App>, Body(spec): Body<FaultSpec>) -> Response {
    match app.faults().add(spec) {
        Ok(fault) => (StatusCode::CREATED, Json(json!(fault))).into_response(),
        Err(message) => ApiError::invalid_parameter(message).into_response(),
    }
}

async fn clear_faults(State(app): State<App>) -> StatusCode {
    app.faults().clear();
    StatusCode::NO_CONTENT
}

/// `GET /_emulator/workspaces`: `host` is the workspace's own base URL (a port of its own)
/// when it has one, else its path-prefixed URL.
pub fn workspaces(app: &App) -> Value {
    let world = app.world();
    let listing = world.workspaces.listing();
    let items: Vec<Value> = listing
        .into_iter()
        .map(|ws| {
            json!({
                "host": app.workspace_host(&ws.name),
                "workspaceId": ws.workspace_id,
                "azureResourceId": super::arm::resource_id(&ws.name),
                "sku": ws.sku,
                "region": world.account.region_of(ws.index),
                "id": ws.name,
            })
        })
        .collect();
    json!(items)
}

async fn list_workspaces(State(app): State<App>) -> Json<Value> {
    Json(workspaces(&app))
}

async fn all_state(State(app): State<App>) -> Json<Value> {
    let mut world = app.world();
    super::arm::settle(&mut world);
    let all: Map<String, Value> = world
        .workspaces
        .all()
        .into_iter()
        .map(|ws| (ws.name.clone(), ws.dump()))
        .collect();
    Json(Value::Object(all))
}

#[derive(Deserialize)]
struct WsPath {
    ws: String,
}

fn unknown_workspace(name: &str) -> ApiError {
    ApiError::not_found(format!("Workspace {name} does not exist in this emulator"))
}

async fn state(State(app): State<App>, Path(p): Path<WsPath>) -> Reply {
    let mut world = app.world();
    super::arm::settle(&mut world);
    let ws = world
        .workspaces
        .get(&p.ws)
        .ok_or_else(|| unknown_workspace(&p.ws))?;
    Ok(Json(ws.dump()))
}

/// A direct state change (no validation beyond shape, no lockout guard).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatePatch {
    /// Raw workspace-conf values; `null` unsets. Keys must be known.
    pub workspace_conf: Option<Map<String, Value>>,
    /// Replaces every IP access list.
    pub ip_access_lists: Option<Vec<ListSeed>>,
    /// Setting type -> inner message (e.g. `{"restrict_workspace_admins": {"status": "..."}}`).
    pub settings: Option<Map<String, Value>>,
    /// JSON merge patch (RFC 7396) applied to the ARM resource.
    pub arm: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSeed {
    pub label: String,
    pub list_type: String,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    pub enabled: Option<bool>,
}

/// Applies a [`StatePatch`] to a workspace.
pub fn apply_patch(ws: &mut Workspace, patch: StatePatch) -> Result<(), ApiError> {
    if let Some(conf) = patch.workspace_conf {
        for (key, value) in conf {
            if !workspace_conf::is_known(&key) {
                return Err(ApiError::bad_request(format!("Invalid keys: [\"{key}\"]")));
            }
            let value = match value {
                Value::Null => None,
                Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            ws.conf.insert(key, value);
        }
    }
    if let Some(lists) = patch.ip_access_lists {
        let now = now_ms();
        let admin_id = ws
            .principal_by_name(ADMIN_USER)
            .map(|p| p.id)
            .unwrap_or_default();
        let mut out = Vec::new();
        for seed in lists {
            let list_type = ListType::parse(&seed.list_type).ok_or_else(|| {
                ApiError::invalid_parameter(format!("Invalid list_type '{}'", seed.list_type))
            })?;
            if let Some(bad) = access::first_invalid(&seed.ip_addresses) {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid IP address or CIDR block: {bad}"
                )));
            }
            out.push(IpAccessList {
                list_id: uuid::Uuid::new_v4().to_string(),
                label: seed.label,
                list_type,
                address_count: seed.ip_addresses.len(),
                ip_addresses: seed.ip_addresses,
                enabled: seed.enabled.unwrap_or(true),
                created_at: now,
                created_by: admin_id,
                updated_at: now,
                updated_by: admin_id,
            });
        }
        ws.ip_access_lists = out;
    }
    if let Some(values) = patch.settings {
        for (setting_type, value) in values {
            let record = ws
                .settings
                .get_mut(&setting_type)
                .filter(|_| settings::desc(&setting_type).is_some())
                .ok_or_else(|| {
                    ApiError::not_found(format!("Setting type {setting_type} is not served"))
                })?;
            record.value = value;
            record.version += 1;
            record.written = true;
        }
    }
    if let Some(arm_patch) = patch.arm {
        json_patch::merge(&mut ws.arm, &arm_patch);
    }
    Ok(())
}

async fn patch_state(
    State(app): State<App>,
    Path(p): Path<WsPath>,
    Body(patch): Body<StatePatch>,
) -> Reply {
    let mut world = app.world();
    let ws = world
        .workspaces
        .get_mut(&p.ws)
        .ok_or_else(|| unknown_workspace(&p.ws))?;
    apply_patch(ws, patch)?;
    Ok(Json(ws.dump()))
}

async fn account_state(State(app): State<App>) -> Json<Value> {
    Json(super::account::dump(&app.world()))
}

#[derive(Deserialize)]
struct RulePath {
    rule_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleState {
    connection_state: String,
}

async fn set_rule_state(
    State(app): State<App>,
    Path(p): Path<RulePath>,
    Body(body): Body<RuleState>,
) -> Reply {
    let mut world = app.world();
    super::account::ncc::set_connection_state(
        &mut world.account,
        &p.rule_id,
        &body.connection_state,
    )
    .map(Json)
}

async fn reset(State(app): State<App>) -> StatusCode {
    app.reset();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_bypasses_guards() {
        let mut ws = Workspace::seed(1, "http://x");
        let patch: StatePatch = serde_json::from_value(json!({
            "workspace_conf": {"enableIpAccessLists": "true", "maxTokenLifetimeDays": null},
            "ip_access_lists": [{"label": "corp", "list_type": "ALLOW", "ip_addresses": ["10.0.0.0/8"]}],
            "settings": {"restrict_workspace_admins": {"status": "RESTRICT_TOKENS_AND_JOB_RUN_AS"}},
            "arm": {"properties": {"publicNetworkAccess": "Disabled"}, "tags": null},
        }))
        .unwrap();
        apply_patch(&mut ws, patch).unwrap();
        assert!(!ws.ip_allowed("127.0.0.1".parse().unwrap()));
        assert_eq!(ws.arm["properties"]["publicNetworkAccess"], "Disabled");
        assert!(ws.arm.get("tags").is_none());
        assert_eq!(ws.arm["properties"]["provisioningState"], "Succeeded");
        assert!(settings::restrict_workspace_admins_on(&ws));
        let bad: StatePatch =
            serde_json::from_value(json!({"workspace_conf": {"nope": "1"}})).unwrap();
        assert!(apply_patch(&mut ws, bad).is_err());
        assert!(serde_json::from_value::<StatePatch>(json!({"unknown": 1})).is_err());
    }
}
