//! Serverless egress network policies (databricks-sdk-py `NetworkPoliciesAPI`,
//! `WorkspaceNetworkConfigurationAPI`):
//!
//! * `/api/2.0/accounts/{id}/network-policies`: `POST` an `AccountNetworkPolicy`, `GET` list
//!   `{items, next_page_token}`, `GET`/`PUT` (update, the whole policy)/`DELETE`
//!   `/{network_policy_id}`. The id is the client's (the policy's name). Every account has
//!   `default-policy`, which cannot be deleted but can be updated; a workspace without a policy
//!   of its own uses it ("Each Databricks account includes a default policy named
//!   'default-policy'...": `NetworkPoliciesAPI` docs).
//! * `/api/2.0/accounts/{id}/workspaces/{workspace_id}/network`: `GET`/`PUT`
//!   `{workspace_id, network_policy_id}`.
//!
//! `egress.network_access` follows `EgressNetworkPolicyNetworkAccessPolicy`: `restriction_mode`
//! (`FULL_ACCESS` | `RESTRICTED_ACCESS`, required), `allowed_internet_destinations`
//! `[{destination, internet_destination_type: DNS_NAME}]`, `allowed_storage_destinations`
//! `[{azure_storage_account, azure_storage_service, bucket_name, region,
//! storage_destination_type: AWS_S3 | AZURE_STORAGE | GOOGLE_CLOUD_STORAGE}]`,
//! `policy_enforcement {enforcement_mode: ENFORCED | DRY_RUN, dry_run_mode_product_filter:
//! [DBSQL | ML_SERVING]}`. Deleting a policy that workspaces use puts them back on
//! `default-policy` (the API docs say nothing of a refusal).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::workspaces::WorkspacePath;
use super::{Account, InAccount};
use crate::databricks::Body;
use crate::databricks::settings::one_of;
use crate::errors::{ApiError, Reply};

pub const DEFAULT_POLICY: &str = "default-policy";

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub network_policy_id: String,
    pub account_id: String,
    pub egress: Value,
}

pub fn default_policy(account_id: &str) -> Policy {
    Policy {
        network_policy_id: DEFAULT_POLICY.to_string(),
        account_id: account_id.to_string(),
        egress: json!({"network_access": {"restriction_mode": "FULL_ACCESS"}}),
    }
}

fn each<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], ApiError> {
    match &v[key] {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        other => Err(ApiError::invalid_parameter(format!(
            "Invalid value {other} for {key}: expected a list"
        ))),
    }
}

/// Validates `egress` (an `NetworkPolicyEgress`).
fn validate_egress(egress: &Value) -> Result<Value, ApiError> {
    let access = &egress["network_access"];
    if !access.is_object() {
        return Err(ApiError::invalid_parameter(
            "Missing required field: egress.network_access",
        ));
    }
    one_of(
        &access["restriction_mode"],
        &["FULL_ACCESS", "RESTRICTED_ACCESS"],
        "egress.network_access.restriction_mode",
    )?;
    for key in [
        "allowed_internet_destinations",
        "blocked_internet_destinations",
    ] {
        for d in each(access, key)? {
            if d["destination"].as_str().is_none_or(str::is_empty) {
                return Err(ApiError::invalid_parameter(format!(
                    "Missing required field: {key}.destination"
                )));
            }
            if !d["internet_destination_type"].is_null() {
                one_of(
                    &d["internet_destination_type"],
                    &["DNS_NAME"],
                    "internet_destination_type",
                )?;
            }
        }
    }
    for d in each(access, "allowed_storage_destinations")? {
        one_of(
            &d["storage_destination_type"],
            &["AWS_S3", "AZURE_STORAGE", "GOOGLE_CLOUD_STORAGE"],
            "storage_destination_type",
        )?;
    }
    let enforcement = &access["policy_enforcement"];
    if !enforcement.is_null() {
        if !enforcement["enforcement_mode"].is_null() {
            one_of(
                &enforcement["enforcement_mode"],
                &["ENFORCED", "DRY_RUN"],
                "policy_enforcement.enforcement_mode",
            )?;
        }
        for f in each(enforcement, "dry_run_mode_product_filter")? {
            one_of(f, &["DBSQL", "ML_SERVING"], "dry_run_mode_product_filter")?;
        }
    }
    Ok(egress.clone())
}

pub fn find(account: &Account, id: &str) -> Result<usize, ApiError> {
    account
        .policies
        .iter()
        .position(|p| p.network_policy_id == id)
        .ok_or_else(|| ApiError::not_found(format!("Network policy {id} does not exist")))
}

#[derive(Debug, Default, Deserialize)]
pub struct PolicyBody {
    pub network_policy_id: Option<String>,
    pub egress: Option<Value>,
}

pub fn create(account: &mut Account, body: PolicyBody) -> Result<Policy, ApiError> {
    let id = body
        .network_policy_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Missing required field: network_policy_id"))?;
    if find(account, &id).is_ok() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "RESOURCE_ALREADY_EXISTS",
            format!("Network policy {id} already exists"),
        ));
    }
    let egress = validate_egress(&body.egress.unwrap_or(Value::Null))?;
    let policy = Policy {
        network_policy_id: id,
        account_id: account.account_id.clone(),
        egress,
    };
    account.policies.push(policy.clone());
    Ok(policy)
}

pub fn update(account: &mut Account, id: &str, body: PolicyBody) -> Result<Policy, ApiError> {
    let idx = find(account, id)?;
    if let Some(other) = body.network_policy_id.as_deref().filter(|o| *o != id) {
        return Err(ApiError::invalid_parameter(format!(
            "network_policy_id {other} in the body does not match {id} in the path"
        )));
    }
    let egress = validate_egress(&body.egress.unwrap_or(Value::Null))?;
    account.policies[idx].egress = egress;
    Ok(account.policies[idx].clone())
}

pub fn delete(account: &mut Account, id: &str) -> Result<(), ApiError> {
    let idx = find(account, id)?;
    if id == DEFAULT_POLICY {
        return Err(ApiError::invalid_parameter(
            "default-policy is reserved and cannot be deleted",
        ));
    }
    account.policies.remove(idx);
    for binding in account.bindings.values_mut() {
        if binding.network_policy_id.as_deref() == Some(id) {
            binding.network_policy_id = None;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct PolicyPath {
    policy_id: String,
}

pub async fn list_handler(account: InAccount) -> Reply {
    account.run(|world| Ok(Json(json!({"items": world.account.policies}))))
}

pub async fn create_handler(account: InAccount, Body(body): Body<PolicyBody>) -> Reply {
    account.run(|world| create(&mut world.account, body).map(|p| Json(json!(p))))
}

pub async fn get_handler(account: InAccount, Path(p): Path<PolicyPath>) -> Reply {
    account.run(|world| {
        let idx = find(&world.account, &p.policy_id)?;
        Ok(Json(json!(world.account.policies[idx])))
    })
}

pub async fn update_handler(
    account: InAccount,
    Path(p): Path<PolicyPath>,
    Body(body): Body<PolicyBody>,
) -> Reply {
    account.run(|world| update(&mut world.account, &p.policy_id, body).map(|p| Json(json!(p))))
}

pub async fn delete_handler(account: InAccount, Path(p): Path<PolicyPath>) -> Reply {
    account.run(|world| delete(&mut world.account, &p.policy_id))?;
    Ok(Json(json!({})))
}

fn option(world: &crate::state::World, workspace_id: &str) -> Result<Value, ApiError> {
    let ws = super::workspaces::find(world, workspace_id)?;
    let policy = world
        .account
        .bindings
        .get(&ws.index)
        .and_then(|b| b.network_policy_id.clone())
        .unwrap_or_else(|| DEFAULT_POLICY.to_string());
    Ok(json!({"workspace_id": ws.workspace_id, "network_policy_id": policy}))
}

pub async fn get_workspace_handler(account: InAccount, Path(p): Path<WorkspacePath>) -> Reply {
    account.run(|world| option(world, &p.workspace_id).map(Json))
}

#[derive(Debug, Default, Deserialize)]
pub struct WorkspaceOption {
    pub workspace_id: Option<u64>,
    pub network_policy_id: Option<String>,
}

pub async fn put_workspace_handler(
    account: InAccount,
    Path(p): Path<WorkspacePath>,
    Body(body): Body<WorkspaceOption>,
) -> Reply {
    account.run(|world| {
        let ws = super::workspaces::find(world, &p.workspace_id)?;
        if let Some(other) = body.workspace_id.filter(|o| *o != ws.workspace_id) {
            return Err(ApiError::invalid_parameter(format!(
                "workspace_id {other} in the body does not match {} in the path",
                ws.workspace_id
            )));
        }
        let policy = body
            .network_policy_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                ApiError::invalid_parameter("Missing required field: network_policy_id")
            })?;
        find(&world.account, &policy)?;
        let binding = world.account.bindings.entry(ws.index).or_default();
        binding.network_policy_id = (policy != DEFAULT_POLICY).then_some(policy);
        option(world, &p.workspace_id).map(Json)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_validate_and_default_is_reserved() {
        let mut a = Account::default();
        assert_eq!(a.policies[0].network_policy_id, DEFAULT_POLICY);
        let bad = PolicyBody {
            network_policy_id: Some("p".into()),
            egress: Some(json!({"network_access": {"restriction_mode": "SOME"}})),
        };
        assert_eq!(
            create(&mut a, bad).unwrap_err().error_code,
            "INVALID_PARAMETER_VALUE"
        );
        let good = PolicyBody {
            network_policy_id: Some("p".into()),
            egress: Some(json!({"network_access": {
                "restriction_mode": "RESTRICTED_ACCESS",
                "allowed_internet_destinations": [{"destination": "pypi.org", "internet_destination_type": "DNS_NAME"}],
                "allowed_storage_destinations": [{"azure_storage_account": "lake", "azure_storage_service": "dfs", "storage_destination_type": "AZURE_STORAGE"}],
                "policy_enforcement": {"enforcement_mode": "DRY_RUN"},
            }})),
        };
        create(&mut a, good).unwrap();
        let dup = PolicyBody {
            network_policy_id: Some("p".into()),
            egress: Some(json!({"network_access": {"restriction_mode": "FULL_ACCESS"}})),
        };
        assert_eq!(create(&mut a, dup).unwrap_err().status.as_u16(), 409);
        assert!(delete(&mut a, DEFAULT_POLICY).is_err());
        delete(&mut a, "p").unwrap();
        assert_eq!(a.policies.len(), 1);
    }
}
