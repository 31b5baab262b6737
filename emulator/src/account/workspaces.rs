//! `/api/2.0/accounts/{id}/workspaces[/{workspace_id}]` (databricks-sdk-py `WorkspacesAPI`):
//! the emulator's workspaces as the account sees them. `GET` of the collection is a bare JSON
//! array (`[Workspace.from_dict(v) for v in res]`). `PATCH /{workspace_id}` (body: a
//! `Workspace`, optional `?update_mask=`) binds a network connectivity config and, on AWS, a
//! private access settings object; both must be in the workspace's region ("Only workspaces
//! in the same region can be attached to the network connectivity configuration":
//! `CreateNetworkConnectivityConfiguration.region` docs). The real refusal's wording is not
//! documented: `400 INVALID_PARAMETER_VALUE` naming both regions. Without `update_mask` the
//! fields present in the body apply, as older clients send them (terraform-provider-databricks
//! issue #3934: `PATCH .../workspaces/{id}` `{"network_connectivity_config_id": ...}`); a
//! workspace has one NCC, so binding another replaces it (issue #5399).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Cloud, InAccount};
use crate::databricks::Body;
use crate::errors::{ApiError, Reply};
use crate::state::{Listing, RESOURCE_GROUP, SUBSCRIPTION_ID, World};

/// What the account adds to a workspace.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    pub network_connectivity_config_id: Option<String>,
    pub private_access_settings_id: Option<String>,
    /// `None`: `default-policy`.
    pub network_policy_id: Option<String>,
}

/// Workspace creation time: fixed per workspace, a year before the emulator's epoch of ids.
fn creation_time(workspace_id: u64) -> i64 {
    1_700_000_000_000 + (workspace_id % 1_000_000) as i64
}

/// The `Workspace` object of one workspace.
pub fn render(world: &World, ws: &Listing) -> Value {
    let account = &world.account;
    let binding = account.bindings.get(&ws.index).cloned().unwrap_or_default();
    let region = account.region_of(ws.index);
    let mut v = json!({
        "workspace_id": ws.workspace_id,
        "workspace_name": ws.name,
        "deployment_name": ws.name,
        "account_id": account.account_id,
        "cloud": account.cloud.as_str(),
        "pricing_tier": ws.sku.to_ascii_uppercase(),
        "workspace_status": "RUNNING",
        "workspace_status_message": "Workspace is running.",
        "creation_time": creation_time(ws.workspace_id),
    });
    match account.cloud {
        Cloud::Azure => {
            v["location"] = json!(region);
            v["azure_workspace_info"] =
                json!({"subscription_id": SUBSCRIPTION_ID, "resource_group": RESOURCE_GROUP});
        }
        Cloud::Aws => v["aws_region"] = json!(region),
    }
    if let Some(id) = binding.network_connectivity_config_id {
        v["network_connectivity_config_id"] = json!(id);
    }
    if let Some(id) = binding.private_access_settings_id {
        v["private_access_settings_id"] = json!(id);
    }
    v
}

pub fn list(world: &World) -> Vec<Value> {
    world
        .workspaces
        .listing()
        .iter()
        .map(|ws| render(world, ws))
        .collect()
}

/// `{workspace_id, network_policy_id}` of every workspace.
pub fn network_options(world: &World) -> Vec<Value> {
    world
        .workspaces
        .listing()
        .iter()
        .map(|ws| {
            json!({
                "workspace_id": ws.workspace_id,
                "network_policy_id": world.account.bindings.get(&ws.index)
                    .and_then(|b| b.network_policy_id.clone())
                    .unwrap_or_else(|| super::network_policies::DEFAULT_POLICY.to_string()),
            })
        })
        .collect()
}

/// The workspace with numeric id `workspace_id` (as the path has it).
pub fn find(world: &World, workspace_id: &str) -> Result<Listing, ApiError> {
    let id: u64 = workspace_id.parse().map_err(|_| {
        ApiError::invalid_parameter(format!(
            "Invalid workspace_id '{workspace_id}': expected a number"
        ))
    })?;
    world
        .workspaces
        .listing()
        .into_iter()
        .find(|ws| ws.workspace_id == id)
        .ok_or_else(|| ApiError::not_found(format!("Workspace {id} does not exist")))
}

const BINDABLE: &[&str] = &[
    "network_connectivity_config_id",
    "private_access_settings_id",
];

pub fn update(
    world: &mut World,
    workspace_id: &str,
    mask: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let ws = find(world, workspace_id)?;
    let fields: Vec<&str> = match mask.map(str::trim).filter(|m| !m.is_empty()) {
        Some("*") => BINDABLE
            .iter()
            .copied()
            .filter(|f| body.get(*f).is_some_and(|v| !v.is_null()))
            .collect(),
        Some(mask) => mask.split(',').map(str::trim).collect(),
        None => BINDABLE
            .iter()
            .copied()
            .filter(|f| body.get(*f).is_some_and(|v| !v.is_null()))
            .collect(),
    };
    if fields.is_empty() {
        return Err(ApiError::invalid_parameter(
            "Nothing to update: give network_connectivity_config_id or private_access_settings_id",
        ));
    }
    let account = &world.account;
    let region = account.region_of(ws.index);
    let mut binding = account.bindings.get(&ws.index).cloned().unwrap_or_default();
    for field in fields {
        let value = body[field].as_str().unwrap_or_default();
        match field {
            "network_connectivity_config_id" => {
                let idx = super::ncc::find(account, value)?;
                let ncc = &account.nccs[idx];
                if ncc.region != region {
                    return Err(ApiError::invalid_parameter(format!(
                        "Network connectivity config {value} is in region {}, but workspace {} is \
                         in region {region}: only workspaces in the same region can be attached",
                        ncc.region, ws.workspace_id
                    )));
                }
                binding.network_connectivity_config_id = Some(value.to_string());
            }
            "private_access_settings_id" => {
                if account.cloud != Cloud::Aws {
                    return Err(ApiError::invalid_parameter(
                        "private_access_settings_id applies to AWS workspaces only",
                    ));
                }
                let pas = super::private_access::find(account, value)?;
                if pas.region != region {
                    return Err(ApiError::invalid_parameter(format!(
                        "Private access settings {value} are for region {}, but workspace {} is in \
                         region {region}",
                        pas.region, ws.workspace_id
                    )));
                }
                binding.private_access_settings_id = Some(value.to_string());
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "Field '{other}' cannot be updated here (the emulator updates \
                     network_connectivity_config_id and private_access_settings_id)"
                )));
            }
        }
    }
    world.account.bindings.insert(ws.index, binding);
    Ok(render(world, &ws))
}

/// The `{workspace_id}` of an account workspace path.
#[derive(Deserialize)]
pub struct WorkspacePath {
    pub workspace_id: String,
}

pub async fn list_handler(account: InAccount) -> Reply {
    account.run(|world| Ok(Json(json!(list(world)))))
}

pub async fn get_handler(account: InAccount, Path(p): Path<WorkspacePath>) -> Reply {
    account.run(|world| {
        let ws = find(world, &p.workspace_id)?;
        Ok(Json(render(world, &ws)))
    })
}

pub async fn update_handler(
    account: InAccount,
    Path(p): Path<WorkspacePath>,
    Query(query): Query<HashMap<String, String>>,
    Body(body): Body<Value>,
) -> Reply {
    account.run(|world| {
        update(
            world,
            &p.workspace_id,
            query.get("update_mask").map(String::as_str),
            &body,
        )
        .map(Json)
    })
}
