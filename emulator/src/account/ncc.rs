//! `/api/2.0/accounts/{id}/network-connectivity-configs` (databricks-sdk-py
//! `NetworkConnectivityAPI`): network connectivity configs (NCCs) and their private endpoint
//! rules.
//!
//! * `POST {name, region}`: the name matches `^[0-9a-zA-Z-_]{3,30}$` and the region is one the
//!   cloud serves (`CreateNetworkConnectivityConfiguration` docs), else
//!   `400 INVALID_PARAMETER_VALUE`. Lists are `{items, next_page_token}` (one page here).
//! * A new private endpoint rule is `PENDING`: Databricks provisions the private endpoint and
//!   the owner of the target resource must approve it (`create_private_endpoint_rule` docs). It
//!   becomes `ESTABLISHED` (or `REJECTED`, `DISCONNECTED`, `EXPIRED`) only through the admin API
//!   `POST /_emulator/account/private-endpoint-rules/{rule_id}` `{"connection_state": ...}`.
//! * `DELETE` of a rule answers the rule. A `PENDING` or `EXPIRED` one is gone at once; any
//!   other is deactivated (`deactivated: true`, `deactivated_at`) and stays listed (the real
//!   service purges it a day later): `delete_private_endpoint_rule` docs.
//! * `PATCH ?update_mask=` on a rule changes only `domain_names` of a rule to a customer-managed
//!   resource, or `enabled` of an AWS rule (`update_private_endpoint_rule`,
//!   `UpdatePrivateEndpointRule` docs); nothing else of a rule can change in place.
//! * An NCC bound to a workspace cannot be deleted (`400 INVALID_STATE`): the emulator's guard,
//!   the API docs only say NCCs are shared by workspaces of one region.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Account, Cloud, InAccount, new_id};
use crate::databricks::Body;
use crate::databricks::settings::mask_paths;
use crate::errors::{ApiError, Reply};
use crate::state::{fnv64, now_ms};

/// `NccPrivateEndpointRulePrivateLinkConnectionState`.
pub const CONNECTION_STATES: &[&str] = &[
    "CREATE_FAILED",
    "CREATING",
    "DISCONNECTED",
    "ESTABLISHED",
    "EXPIRED",
    "PENDING",
    "REJECTED",
];

#[derive(Debug, Clone, Serialize)]
pub struct Ncc {
    pub network_connectivity_config_id: String,
    pub name: String,
    pub region: String,
    pub creation_time: i64,
    pub updated_time: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub rule_id: String,
    pub network_connectivity_config_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub endpoint_name: String,
    pub connection_state: String,
    pub creation_time: i64,
    pub updated_time: i64,
    pub deactivated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<i64>,
}

impl Rule {
    /// `NccPrivateEndpointRule` as the API answers it.
    pub fn render(&self, account: &Account) -> Value {
        let mut v = json!(self);
        v["account_id"] = json!(account.account_id);
        v
    }
}

fn subnet_hash(ncc_id: &str, i: u32) -> u64 {
    fnv64(&[ncc_id, &i.to_string()])
}

/// `NetworkConnectivityConfiguration`: the default (stable) egress rules of the cloud, and the
/// active private endpoint rules as target rules.
pub fn render(account: &Account, ncc: &Ncc) -> Value {
    let id = &ncc.network_connectivity_config_id;
    let rules: Vec<Value> = account
        .rules
        .iter()
        .filter(|r| &r.network_connectivity_config_id == id && !r.deactivated)
        .map(|r| r.render(account))
        .collect();
    let egress = match account.cloud {
        Cloud::Azure => json!({
            "default_rules": {"azure_service_endpoint_rule": {
                "subnets": (0..2).map(|i| format!(
                    "/subscriptions/{:08x}-0000-0000-0000-{:012x}/resourceGroups/prod-{}-snp-1/providers/Microsoft.Network/virtualNetworks/kaas-vnet/subnets/worker-subnet-{i}",
                    subnet_hash(id, i) >> 32, subnet_hash(id, i) & 0xffff_ffff_ffff, ncc.region
                )).collect::<Vec<_>>(),
                "target_region": ncc.region,
                "target_services": ["AZURE_BLOB_STORAGE"],
            }},
            "target_rules": {"azure_private_endpoint_rules": rules},
        }),
        Cloud::Aws => json!({
            "default_rules": {"aws_stable_ip_rule": {
                "cidr_blocks": (0..2).map(|i| {
                    let h = subnet_hash(id, i);
                    format!("52.{}.{}.{}/32", h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff)
                }).collect::<Vec<_>>(),
            }},
            "target_rules": {"aws_private_endpoint_rules": rules},
        }),
    };
    json!({
        "network_connectivity_config_id": id,
        "account_id": account.account_id,
        "name": ncc.name,
        "region": ncc.region,
        "creation_time": ncc.creation_time,
        "updated_time": ncc.updated_time,
        "egress_config": egress,
    })
}

fn valid_name(name: &str) -> bool {
    (3..=30).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn find(account: &Account, ncc_id: &str) -> Result<usize, ApiError> {
    account
        .nccs
        .iter()
        .position(|n| n.network_connectivity_config_id == ncc_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Network connectivity config {ncc_id} does not exist"
            ))
        })
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateNcc {
    pub name: Option<String>,
    pub region: Option<String>,
}

pub fn create(account: &mut Account, req: CreateNcc) -> Result<Value, ApiError> {
    let name = req.name.unwrap_or_default();
    if !valid_name(&name) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid name '{name}': the name can contain alphanumeric characters, hyphens and \
             underscores, between 3 and 30 characters (^[0-9a-zA-Z-_]{{3,30}}$)"
        )));
    }
    let region = req.region.unwrap_or_default();
    if !account.cloud.is_region(&region) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid region '{region}': not a region Databricks serves on {}",
            account.cloud.as_str()
        )));
    }
    let now = now_ms();
    let ncc = Ncc {
        network_connectivity_config_id: new_id(),
        name,
        region,
        creation_time: now,
        updated_time: now,
    };
    account.nccs.push(ncc.clone());
    Ok(render(account, &ncc))
}

pub fn delete(account: &mut Account, ncc_id: &str) -> Result<(), ApiError> {
    let idx = find(account, ncc_id)?;
    if let Some((index, _)) = account
        .bindings
        .iter()
        .find(|(_, b)| b.network_connectivity_config_id.as_deref() == Some(ncc_id))
    {
        return Err(ApiError::invalid_state(format!(
            "Network connectivity config {ncc_id} is attached to workspace ws-{index}: detach it \
             first"
        )));
    }
    account.nccs.remove(idx);
    account
        .rules
        .retain(|r| r.network_connectivity_config_id != ncc_id);
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateRule {
    pub resource_id: Option<String>,
    pub group_id: Option<String>,
    pub domain_names: Option<Vec<String>>,
    pub endpoint_service: Option<String>,
    pub resource_names: Option<Vec<String>>,
    pub error_message: Option<String>,
    pub gcp_endpoint: Option<Value>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

pub fn create_rule(
    account: &mut Account,
    ncc_id: &str,
    req: CreateRule,
) -> Result<Value, ApiError> {
    find(account, ncc_id)?;
    let customer_managed = req.domain_names.as_ref().is_some_and(|d| !d.is_empty());
    match account.cloud {
        Cloud::Azure => {
            let resource_id = non_empty(&req.resource_id).ok_or_else(|| {
                ApiError::invalid_parameter("Missing required field: resource_id")
            })?;
            if !resource_id.starts_with("/subscriptions/") {
                return Err(ApiError::invalid_parameter(format!(
                    "Invalid resource_id '{resource_id}': expected an Azure resource id \
                     (/subscriptions/.../providers/...)"
                )));
            }
            if !customer_managed && non_empty(&req.group_id).is_none() {
                return Err(ApiError::invalid_parameter(
                    "Missing required field: group_id",
                ));
            }
        }
        Cloud::Aws => {
            if non_empty(&req.endpoint_service).is_none() {
                return Err(ApiError::invalid_parameter(
                    "Missing required field: endpoint_service",
                ));
            }
        }
    }
    let rule_id = new_id();
    let now = now_ms();
    let rule = Rule {
        endpoint_name: format!(
            "databricks-{}-pe-{}",
            &ncc_id[..8.min(ncc_id.len())],
            &rule_id[..8]
        ),
        rule_id,
        network_connectivity_config_id: ncc_id.to_string(),
        resource_id: non_empty(&req.resource_id).map(str::to_string),
        group_id: non_empty(&req.group_id).map(str::to_string),
        domain_names: req.domain_names.filter(|d| !d.is_empty()),
        endpoint_service: non_empty(&req.endpoint_service).map(str::to_string),
        enabled: (account.cloud == Cloud::Aws).then_some(true),
        resource_names: req.resource_names,
        connection_state: "PENDING".to_string(),
        creation_time: now,
        updated_time: now,
        deactivated: false,
        deactivated_at: None,
    };
    account.rules.push(rule.clone());
    touch(account, ncc_id, now);
    Ok(rule.render(account))
}

fn touch(account: &mut Account, ncc_id: &str, now: i64) {
    if let Some(n) = account
        .nccs
        .iter_mut()
        .find(|n| n.network_connectivity_config_id == ncc_id)
    {
        n.updated_time = now;
    }
}

pub fn find_rule(account: &Account, ncc_id: &str, rule_id: &str) -> Result<usize, ApiError> {
    find(account, ncc_id)?;
    account
        .rules
        .iter()
        .position(|r| r.rule_id == rule_id && r.network_connectivity_config_id == ncc_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("Private endpoint rule {rule_id} does not exist"))
        })
}

pub fn delete_rule(account: &mut Account, ncc_id: &str, rule_id: &str) -> Result<Value, ApiError> {
    let idx = find_rule(account, ncc_id, rule_id)?;
    let now = now_ms();
    let immediate = matches!(
        account.rules[idx].connection_state.as_str(),
        "PENDING" | "EXPIRED"
    );
    let mut rule = account.rules[idx].clone();
    if !rule.deactivated {
        rule.deactivated = true;
        rule.deactivated_at = Some(now);
        rule.updated_time = now;
    }
    if immediate {
        account.rules.remove(idx);
    } else {
        account.rules[idx] = rule.clone();
    }
    touch(account, ncc_id, now);
    Ok(rule.render(account))
}

pub fn update_rule(
    account: &mut Account,
    ncc_id: &str,
    rule_id: &str,
    mask: &str,
    body: Value,
) -> Result<Value, ApiError> {
    let idx = find_rule(account, ncc_id, rule_id)?;
    let paths = mask_paths(mask, "update_mask")?;
    let mut rule = account.rules[idx].clone();
    for path in paths {
        match path {
            "domain_names" if rule.domain_names.is_some() => {
                let names: Vec<String> = serde_json::from_value(body["domain_names"].clone())
                    .map_err(|_| {
                        ApiError::invalid_parameter("domain_names must be a list of strings")
                    })?;
                if names.is_empty() {
                    return Err(ApiError::invalid_parameter(
                        "domain_names of a rule to a customer-managed resource cannot be empty",
                    ));
                }
                rule.domain_names = Some(names);
            }
            "enabled" if account.cloud == Cloud::Aws => {
                rule.enabled = Some(body["enabled"].as_bool().unwrap_or(false));
            }
            "domain_names" => {
                return Err(ApiError::invalid_parameter(
                    "Only private endpoint rules to customer-managed resources (with domain_names) \
                     can be updated",
                ));
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "Field '{other}' of a private endpoint rule cannot be updated: delete the rule \
                     and create a new one"
                )));
            }
        }
    }
    rule.updated_time = now_ms();
    account.rules[idx] = rule.clone();
    Ok(rule.render(account))
}

/// The admin API's approval (or rejection, ...) of a rule, wherever it is.
pub fn set_connection_state(
    account: &mut Account,
    rule_id: &str,
    state: &str,
) -> Result<Value, ApiError> {
    if !CONNECTION_STATES.contains(&state) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid connection_state '{state}': must be one of {CONNECTION_STATES:?}"
        )));
    }
    let rule = account
        .rules
        .iter_mut()
        .find(|r| r.rule_id == rule_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("Private endpoint rule {rule_id} does not exist"))
        })?;
    rule.connection_state = state.to_string();
    rule.updated_time = now_ms();
    let rule = rule.clone();
    Ok(rule.render(account))
}

#[derive(Deserialize)]
pub struct NccPath {
    ncc_id: String,
}

#[derive(Deserialize)]
pub struct RulePath {
    ncc_id: String,
    rule_id: String,
}

pub async fn list_handler(account: InAccount) -> Reply {
    account.run(|world| {
        let a = &world.account;
        let items: Vec<Value> = a.nccs.iter().map(|n| render(a, n)).collect();
        Ok(Json(json!({"items": items})))
    })
}

pub async fn create_handler(account: InAccount, Body(req): Body<CreateNcc>) -> Reply {
    account.run(|world| create(&mut world.account, req).map(Json))
}

pub async fn get_handler(account: InAccount, Path(p): Path<NccPath>) -> Reply {
    account.run(|world| {
        let a = &world.account;
        let idx = find(a, &p.ncc_id)?;
        Ok(Json(render(a, &a.nccs[idx])))
    })
}

pub async fn delete_handler(account: InAccount, Path(p): Path<NccPath>) -> Reply {
    account.run(|world| delete(&mut world.account, &p.ncc_id))?;
    Ok(Json(json!({})))
}

pub async fn list_rules_handler(account: InAccount, Path(p): Path<NccPath>) -> Reply {
    account.run(|world| {
        let a = &world.account;
        find(a, &p.ncc_id)?;
        let items: Vec<Value> = a
            .rules
            .iter()
            .filter(|r| r.network_connectivity_config_id == p.ncc_id)
            .map(|r| r.render(a))
            .collect();
        Ok(Json(json!({"items": items})))
    })
}

pub async fn create_rule_handler(
    account: InAccount,
    Path(p): Path<NccPath>,
    Body(req): Body<CreateRule>,
) -> Reply {
    account.run(|world| create_rule(&mut world.account, &p.ncc_id, req).map(Json))
}

pub async fn get_rule_handler(account: InAccount, Path(p): Path<RulePath>) -> Reply {
    account.run(|world| {
        let a = &world.account;
        let idx = find_rule(a, &p.ncc_id, &p.rule_id)?;
        Ok(Json(a.rules[idx].render(a)))
    })
}

pub async fn update_rule_handler(
    account: InAccount,
    Path(p): Path<RulePath>,
    Query(query): Query<HashMap<String, String>>,
    Body(body): Body<Value>,
) -> Reply {
    let mask = query.get("update_mask").cloned().unwrap_or_default();
    account
        .run(|world| update_rule(&mut world.account, &p.ncc_id, &p.rule_id, &mask, body).map(Json))
}

pub async fn delete_rule_handler(account: InAccount, Path(p): Path<RulePath>) -> Reply {
    account.run(|world| delete_rule(&mut world.account, &p.ncc_id, &p.rule_id).map(Json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ncc(a: &mut Account) -> String {
        create(
            a,
            CreateNcc {
                name: Some("ncc-weu".into()),
                region: Some("westeurope".into()),
            },
        )
        .unwrap()["network_connectivity_config_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn rule_req() -> CreateRule {
        CreateRule {
            resource_id: Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake".into()),
            group_id: Some("dfs".into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_and_regions_are_validated() {
        let mut a = Account::default();
        for (name, region) in [
            ("ab", "westeurope"),
            ("has space", "westeurope"),
            ("okname", "mars-1"),
            ("okname", "us-east-1"),
        ] {
            let err = create(
                &mut a,
                CreateNcc {
                    name: Some(name.into()),
                    region: Some(region.into()),
                },
            )
            .unwrap_err();
            assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE", "{name} {region}");
        }
        let id = ncc(&mut a);
        let n = render(&a, &a.nccs[0]);
        assert_eq!(n["network_connectivity_config_id"], id.as_str());
        assert_eq!(
            n["egress_config"]["default_rules"]["azure_service_endpoint_rule"]["target_region"],
            "westeurope"
        );
    }

    #[test]
    fn rules_start_pending_and_delete_depends_on_state() {
        let mut a = Account::default();
        let id = ncc(&mut a);
        let r = create_rule(&mut a, &id, rule_req()).unwrap();
        assert_eq!(r["connection_state"], "PENDING");
        let rid = r["rule_id"].as_str().unwrap().to_string();
        // A pending rule is deleted at once.
        let del = delete_rule(&mut a, &id, &rid).unwrap();
        assert_eq!(del["deactivated"], true);
        assert!(a.rules.is_empty());
        // An established one is deactivated and kept.
        let r = create_rule(&mut a, &id, rule_req()).unwrap();
        let rid = r["rule_id"].as_str().unwrap().to_string();
        set_connection_state(&mut a, &rid, "ESTABLISHED").unwrap();
        assert_eq!(
            render(&a, &a.nccs[0])["egress_config"]["target_rules"]["azure_private_endpoint_rules"]
                [0]["connection_state"],
            "ESTABLISHED"
        );
        let del = delete_rule(&mut a, &id, &rid).unwrap();
        assert_eq!(del["deactivated"], true);
        assert!(del["deactivated_at"].is_i64());
        assert_eq!(a.rules.len(), 1);
        assert!(set_connection_state(&mut a, &rid, "APPROVED").is_err());
        // Nothing but domain_names of a customer-managed rule changes in place.
        let err =
            update_rule(&mut a, &id, &rid, "group_id", json!({"group_id": "blob"})).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let mut cm = rule_req();
        cm.group_id = None;
        cm.domain_names = Some(vec!["a.example.com".into()]);
        let r = create_rule(&mut a, &id, cm).unwrap();
        let out = update_rule(
            &mut a,
            &id,
            r["rule_id"].as_str().unwrap(),
            "domain_names",
            json!({"domain_names": ["b.example.com"]}),
        )
        .unwrap();
        assert_eq!(out["domain_names"][0], "b.example.com");
    }
}
