//! Azure Resource Manager at `/arm`: `Microsoft.Databricks/workspaces/{name}` (GET, PUT,
//! PATCH) and its `Microsoft.Insights/diagnosticSettings` (GET, PUT, DELETE, list).
//!
//! Errors use the ARM envelope `{"error": {"code", "message"}}`. PUT replaces the resource but
//! refuses changes Azure cannot make in place (VNet injection, infrastructure encryption);
//! PATCH changes tags only; customer-managed keys need the premium tier.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::app::App;
use super::auth;
use super::errors::ArmError;
use super::state::{RESOURCE_GROUP, SUBSCRIPTION_ID, Workspace, fnv64};

/// API versions of `Microsoft.Databricks/workspaces` the emulator accepts.
pub const WORKSPACE_API_VERSIONS: &[&str] = &[
    "2018-04-01",
    "2022-04-01-preview",
    "2023-02-01",
    "2023-09-15-preview",
    "2024-05-01",
    "2024-09-01-preview",
    "2025-03-01-preview",
    "2025-08-01-preview",
    "2025-10-01-preview",
    "2026-01-01",
];
/// API versions of `Microsoft.Insights/diagnosticSettings` the emulator accepts.
pub const DIAGNOSTIC_API_VERSIONS: &[&str] = &["2017-05-01-preview", "2021-05-01-preview"];

const LOCATION: &str = "westeurope";

/// Log categories Azure Databricks emits (plus the category groups).
const LOG_CATEGORIES: &[&str] = &[
    "accounts",
    "apps",
    "brickStoreHttpGateway",
    "budgetPolicyCentral",
    "capsule8Dataplane",
    "clamAVScan",
    "cloudStorageMetadata",
    "clusterLibraries",
    "clusterPolicies",
    "clusters",
    "dashboards",
    "databrickssql",
    "dataMonitoring",
    "dataRooms",
    "dbfs",
    "deltaPipelines",
    "featureStore",
    "filesystem",
    "genie",
    "gitCredentials",
    "globalInitScripts",
    "iamRole",
    "ingestion",
    "instancePools",
    "jobs",
    "lakeviewConfig",
    "lineageTracking",
    "marketplaceConsumer",
    "marketplaceProvider",
    "mlflowAcledArtifact",
    "mlflowExperiment",
    "modelRegistry",
    "notebook",
    "partnerHub",
    "predictiveOptimization",
    "remoteHistoryService",
    "repos",
    "secrets",
    "serverlessRealTimeInference",
    "sqlanalytics",
    "sqlPermissions",
    "ssh",
    "unityCatalog",
    "vectorSearch",
    "webTerminal",
    "workspace",
    "workspaceFiles",
    "workflows",
];
const CATEGORY_GROUPS: &[&str] = &["allLogs", "audit"];

const BOOL_PARAMETERS: &[&str] = &[
    "enableNoPublicIp",
    "requireInfrastructureEncryption",
    "prepareEncryption",
];

/// The ARM id of workspace `name`.
pub fn resource_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Databricks/workspaces/{name}"
    )
}

/// A freshly created workspace resource: public IPs, public network access, no CMK, no VNet
/// injection, no infrastructure encryption.
pub fn seed_resource(name: &str, workspace_id: u64, sku: &str, url: &str) -> Value {
    let host = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    json!({
        "id": resource_id(name),
        "name": name,
        "type": "Microsoft.Databricks/workspaces",
        "location": LOCATION,
        "sku": {"name": sku},
        "tags": {"environment": "emulator"},
        "properties": {
            "managedResourceGroupId": format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/databricks-rg-{name}"),
            "parameters": {
                "enableNoPublicIp": {"type": "Bool", "value": false},
                "prepareEncryption": {"type": "Bool", "value": false},
                "requireInfrastructureEncryption": {"type": "Bool", "value": false},
                "storageAccountName": {"type": "String", "value": format!("dbstorage{workspace_id}")},
                "storageAccountSkuName": {"type": "String", "value": "Standard_GRS"},
                "vnetAddressPrefix": {"type": "String", "value": "10.139"},
            },
            "publicNetworkAccess": "Enabled",
            "requiredNsgRules": "AllRules",
            "provisioningState": "Succeeded",
            "workspaceUrl": host,
            "workspaceId": workspace_id.to_string(),
            "createdDateTime": "2024-01-15T09:30:00.0000000Z",
        },
    })
}

fn bad(code: &str, message: impl Into<String>) -> ArmError {
    ArmError::bad_request(code, message)
}

fn invalid_content(message: impl Into<String>) -> ArmError {
    bad(
        "InvalidRequestContent",
        format!(
            "The request content was invalid and could not be deserialized: {}",
            message.into()
        ),
    )
}

fn param_value<'a>(props: &'a Value, name: &str) -> Option<&'a Value> {
    props["parameters"]
        .get(name)
        .map(|p| p.get("value").unwrap_or(p))
        .filter(|v| !v.is_null())
}

fn string_param(props: &Value, name: &str) -> String {
    param_value(props, name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn bool_param(props: &Value, name: &str) -> bool {
    param_value(props, name)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn enum_field(
    props: &Value,
    field: &str,
    default: &str,
    allowed: &[&str],
) -> Result<String, ArmError> {
    match props.get(field) {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(v)) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v))
            .map(|a| a.to_string())
            .ok_or_else(|| {
                bad(
                    "InvalidParameter",
                    format!(
                        "The value '{v}' of property '{field}' is invalid. Allowed values: {}.",
                        allowed.join(", ")
                    ),
                )
            }),
        Some(other) => Err(invalid_content(format!(
            "'{field}' must be a string, got {other}"
        ))),
    }
}

fn normalise_parameters(body_props: &Value) -> Result<Map<String, Value>, ArmError> {
    let mut out = Map::new();
    let Some(params) = body_props.get("parameters") else {
        return Ok(out);
    };
    let Some(params) = params.as_object() else {
        return Err(invalid_content("'properties.parameters' must be an object"));
    };
    for (name, param) in params {
        let value = param.get("value").unwrap_or(param).clone();
        let (kind, value) = if BOOL_PARAMETERS.contains(&name.as_str()) {
            match value {
                Value::Bool(b) => ("Bool", Value::Bool(b)),
                Value::Null => continue,
                other => {
                    return Err(invalid_content(format!(
                        "parameter '{name}' must be a boolean, got {other}"
                    )));
                }
            }
        } else {
            match value {
                Value::String(s) => ("String", Value::String(s)),
                Value::Null => continue,
                Value::Object(o) => ("Object", Value::Object(o)),
                other => ("String", Value::String(other.to_string())),
            }
        };
        out.insert(name.clone(), json!({"type": kind, "value": value}));
    }
    Ok(out)
}

fn validate_key(entity: &str, spec: &Value) -> Result<(), ArmError> {
    let key_source = spec["keySource"].as_str().unwrap_or_default();
    if !key_source.eq_ignore_ascii_case("Microsoft.Keyvault") {
        return Err(bad(
            "InvalidEncryptionConfiguration",
            format!(
                "encryption.entities.{entity}.keySource must be 'Microsoft.Keyvault', got '{key_source}'."
            ),
        ));
    }
    let kv = &spec["keyVaultProperties"];
    for field in ["keyVaultUri", "keyName", "keyVersion"] {
        if kv[field].as_str().is_none_or(str::is_empty) {
            return Err(bad(
                "InvalidEncryptionConfiguration",
                format!("encryption.entities.{entity}.keyVaultProperties.{field} is required."),
            ));
        }
    }
    if !kv["keyVaultUri"]
        .as_str()
        .unwrap_or_default()
        .starts_with("https://")
    {
        return Err(bad(
            "InvalidEncryptionConfiguration",
            format!(
                "encryption.entities.{entity}.keyVaultProperties.keyVaultUri must be an https URI."
            ),
        ));
    }
    Ok(())
}

/// Validates a PUT body against the current resource and returns the new resource.
pub fn put_workspace(current: &Value, body: &Value) -> Result<Value, ArmError> {
    let Some(body_obj) = body.as_object() else {
        return Err(invalid_content("the request body must be a JSON object"));
    };
    let name = current["name"].as_str().unwrap_or_default();
    if let Some(location) = body_obj.get("location").and_then(Value::as_str) {
        let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
        if norm(location) != norm(LOCATION) {
            return Err(bad(
                "InvalidResourceLocation",
                format!(
                    "The resource '{name}' already exists in location '{LOCATION}' in resource group \
                     '{RESOURCE_GROUP}'. A resource with the same name cannot be created in location \
                     '{location}'. Please select a new resource name."
                ),
            ));
        }
    }
    let sku = match body.pointer("/sku/name") {
        None | Some(Value::Null) => current["sku"]["name"]
            .as_str()
            .unwrap_or("premium")
            .to_string(),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            v @ ("standard" | "premium" | "trial") => v.to_string(),
            _ => {
                return Err(bad(
                    "InvalidParameter",
                    format!(
                        "The value '{s}' of property 'sku.name' is invalid. Allowed values: standard, premium, trial."
                    ),
                ));
            }
        },
        Some(other) => {
            return Err(invalid_content(format!(
                "'sku.name' must be a string, got {other}"
            )));
        }
    };
    let props = body_obj
        .get("properties")
        .filter(|p| p.is_object())
        .ok_or_else(|| invalid_content("Required property 'properties' not found in JSON."))?;
    let cur_props = &current["properties"];

    let old_vnet = string_param(cur_props, "customVirtualNetworkId");
    let new_vnet = string_param(props, "customVirtualNetworkId");
    if !old_vnet.eq_ignore_ascii_case(&new_vnet) {
        return Err(bad(
            "VirtualNetworkIdChangeNotAllowed",
            format!(
                "Updating required Virtual Network from {old_vnet} to {new_vnet} is currently not allowed."
            ),
        ));
    }
    let old_infra = bool_param(cur_props, "requireInfrastructureEncryption");
    let new_infra = bool_param(props, "requireInfrastructureEncryption");
    if old_infra != new_infra {
        return Err(bad(
            "InfrastructureEncryptionChangeNotAllowed",
            format!(
                "Updating requireInfrastructureEncryption from {old_infra} to {new_infra} is not allowed: \
                 infrastructure encryption can only be set when the workspace is created."
            ),
        ));
    }

    let mut parameters = cur_props["parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (k, v) in normalise_parameters(props)? {
        parameters.insert(k, v);
    }
    let public_network_access = enum_field(
        props,
        "publicNetworkAccess",
        "Enabled",
        &["Enabled", "Disabled"],
    )?;
    let required_nsg_rules = enum_field(
        props,
        "requiredNsgRules",
        "AllRules",
        &["AllRules", "NoAzureDatabricksRules", "NoAzureServiceRules"],
    )?;

    let encryption = props.get("encryption").filter(|e| !e.is_null()).cloned();
    if let Some(enc) = &encryption {
        let entities = enc
            .get("entities")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !entities.is_empty() && sku != "premium" {
            return Err(bad(
                "CustomerManagedKeyNotSupportedForSku",
                format!(
                    "Customer-managed keys are only supported for workspaces on the premium pricing tier; \
                     workspace '{name}' uses '{sku}'."
                ),
            ));
        }
        for (entity, spec) in &entities {
            match entity.as_str() {
                "managedServices" | "managedDisk" => validate_key(entity, spec)?,
                other => {
                    return Err(invalid_content(format!(
                        "unknown encryption entity '{other}'"
                    )));
                }
            }
        }
    }

    let tags = match body_obj.get("tags") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(t)) if t.values().all(Value::is_string) => Value::Object(t.clone()),
        Some(_) => return Err(invalid_content("'tags' must be an object of strings")),
    };

    let mut new_props = json!({
        "managedResourceGroupId": cur_props["managedResourceGroupId"],
        "parameters": parameters,
        "publicNetworkAccess": public_network_access,
        "requiredNsgRules": required_nsg_rules,
        "provisioningState": "Succeeded",
        "workspaceUrl": cur_props["workspaceUrl"],
        "workspaceId": cur_props["workspaceId"],
        "createdDateTime": cur_props["createdDateTime"],
    });
    if let Some(enc) = encryption {
        if enc.pointer("/entities/managedDisk").is_some() {
            new_props["managedDiskIdentity"] = json!({
                "principalId": uuid::Uuid::from_u64_pair(
                    fnv64(&[&current["id"].to_string(), "disk"]),
                    fnv64(&[&current["id"].to_string(), "identity"]),
                )
                .to_string(),
                "tenantId": super::state::TENANT_ID,
                "type": "SystemAssigned",
            });
        }
        new_props["encryption"] = enc;
    }
    Ok(json!({
        "id": current["id"],
        "name": current["name"],
        "type": current["type"],
        "location": LOCATION,
        "sku": {"name": sku},
        "tags": tags,
        "properties": new_props,
    }))
}

/// Validates a diagnostic setting PUT body and returns the stored resource.
pub fn put_diagnostic_setting(
    resource_id: &str,
    name: &str,
    body: &Value,
) -> Result<Value, ArmError> {
    let props = body
        .get("properties")
        .filter(|p| p.is_object())
        .ok_or_else(|| invalid_content("Required property 'properties' not found in JSON."))?;
    let destinations = [
        "workspaceId",
        "storageAccountId",
        "eventHubAuthorizationRuleId",
        "marketplacePartnerId",
    ];
    if !destinations
        .iter()
        .any(|d| props[*d].as_str().is_some_and(|s| !s.is_empty()))
    {
        return Err(bad(
            "BadRequest",
            "At least one of 'workspaceId', 'storageAccountId', 'eventHubAuthorizationRuleId' or \
             'marketplacePartnerId' must be set.",
        ));
    }
    let logs = props.get("logs").cloned().unwrap_or_else(|| json!([]));
    let Some(log_items) = logs.as_array() else {
        return Err(invalid_content("'properties.logs' must be an array"));
    };
    for log in log_items {
        match (log["category"].as_str(), log["categoryGroup"].as_str()) {
            (Some(c), None) if LOG_CATEGORIES.iter().any(|k| k.eq_ignore_ascii_case(c)) => {}
            (None, Some(g)) if CATEGORY_GROUPS.iter().any(|k| k.eq_ignore_ascii_case(g)) => {}
            (Some(c), None) => {
                return Err(bad(
                    "BadRequest",
                    format!("Category '{c}' is not supported."),
                ));
            }
            (None, Some(g)) => {
                return Err(bad(
                    "BadRequest",
                    format!("Category group '{g}' is not supported."),
                ));
            }
            _ => {
                return Err(bad(
                    "BadRequest",
                    "Each log settings entry must set exactly one of 'category' and 'categoryGroup'.",
                ));
            }
        }
        if !log["enabled"].is_boolean() {
            return Err(invalid_content(
                "'enabled' of each log settings entry must be a boolean",
            ));
        }
    }
    let mut stored = props.clone();
    stored["logs"] = logs;
    if stored.get("metrics").is_none() {
        stored["metrics"] = json!([]);
    }
    Ok(json!({
        "id": format!("{resource_id}/providers/microsoft.insights/diagnosticSettings/{name}"),
        "name": name,
        "type": "Microsoft.Insights/diagnosticSettings",
        "location": null,
        "properties": stored,
    }))
}

/// What an ARM path addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Workspace(String),
    DiagnosticList(String),
    Diagnostic(String, String),
}

fn parse_target(path: &str) -> Result<Target, ArmError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let eq = |i: usize, s: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s));
    let not_found = || {
        ArmError::not_found(
            "InvalidResourceType",
            format!(
                "The resource path '{path}' is not served by the emulator's Azure Resource Manager."
            ),
        )
    };
    if segs.len() < 8
        || !eq(0, "subscriptions")
        || !eq(2, "resourceGroups")
        || !eq(4, "providers")
        || !eq(5, "Microsoft.Databricks")
        || !eq(6, "workspaces")
    {
        return Err(not_found());
    }
    if !segs[1].eq_ignore_ascii_case(SUBSCRIPTION_ID) {
        return Err(ArmError::not_found(
            "SubscriptionNotFound",
            format!("The subscription '{}' could not be found.", segs[1]),
        ));
    }
    if !segs[3].eq_ignore_ascii_case(RESOURCE_GROUP) {
        return Err(ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{}' could not be found.", segs[3]),
        ));
    }
    let name = segs[7].to_ascii_lowercase();
    match segs.len() {
        8 => Ok(Target::Workspace(name)),
        11 if eq(8, "providers") && eq(9, "Microsoft.Insights") && eq(10, "diagnosticSettings") => {
            Ok(Target::DiagnosticList(name))
        }
        12 if eq(8, "providers") && eq(9, "Microsoft.Insights") && eq(10, "diagnosticSettings") => {
            Ok(Target::Diagnostic(name, segs[11].to_string()))
        }
        _ => Err(not_found()),
    }
}

fn check_api_version(
    query: &HashMap<String, String>,
    allowed: &[&str],
    kind: &str,
) -> Result<(), ArmError> {
    let Some(version) = query.get("api-version").filter(|v| !v.is_empty()) else {
        return Err(bad(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if !allowed.contains(&version.as_str()) {
        return Err(bad(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{LOCATION}' and API version \
                 '{version}' for type '{kind}'. The supported api-versions are '{}'. The supported \
                 locations are 'westeurope, northeurope, eastus, eastus2, westus'.",
                allowed.join(", ")
            ),
        ));
    }
    Ok(())
}

fn method_not_allowed(method: &Method) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HttpMethodNotSupported",
        format!("The HTTP method '{method}' is not supported for this resource."),
    )
}

fn parse_body(body: &Bytes) -> Result<Value, ArmError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| invalid_content(e.to_string()))
}

fn with_workspace<T>(
    app: &App,
    name: &str,
    f: impl FnOnce(&mut Workspace) -> Result<T, ArmError>,
) -> Result<T, ArmError> {
    let mut world = app.world();
    let ws = world.workspaces.get_mut(name).ok_or_else(|| {
        ArmError::not_found(
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Databricks/workspaces/{name}' under resource group \
                 '{RESOURCE_GROUP}' was not found. For more details please go to \
                 https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    })?;
    f(ws)
}

/// Every `/arm/...` request.
pub async fn dispatch(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, &method, &uri, &query, &headers, &body) {
        Ok((status, value)) => (status, Json(value)).into_response(),
        Err(err) => err.into_response(),
    }
}

fn handle(
    app: &App,
    method: &Method,
    uri: &Uri,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(StatusCode, Value), ArmError> {
    auth::authenticate_arm(&app.world(), headers)?;
    let path = uri.path().strip_prefix("/arm").unwrap_or(uri.path());
    let target = parse_target(path)?;
    match target {
        Target::Workspace(name) => {
            check_api_version(query, WORKSPACE_API_VERSIONS, "workspaces")?;
            with_workspace(app, &name, |ws| match *method {
                Method::GET => Ok((StatusCode::OK, ws.arm.clone())),
                Method::PUT => {
                    let next = put_workspace(&ws.arm, &parse_body(body)?)?;
                    ws.arm = next.clone();
                    Ok((StatusCode::OK, next))
                }
                Method::PATCH => {
                    let patch = parse_body(body)?;
                    match patch.get("tags") {
                        None => {}
                        Some(Value::Object(t)) if t.values().all(Value::is_string) => {
                            ws.arm["tags"] = Value::Object(t.clone());
                        }
                        Some(_) => {
                            return Err(invalid_content("'tags' must be an object of strings"));
                        }
                    }
                    Ok((StatusCode::OK, ws.arm.clone()))
                }
                _ => Err(method_not_allowed(method)),
            })
        }
        Target::DiagnosticList(name) => {
            check_api_version(query, DIAGNOSTIC_API_VERSIONS, "diagnosticSettings")?;
            if *method != Method::GET {
                return Err(method_not_allowed(method));
            }
            with_workspace(app, &name, |ws| {
                let items: Vec<Value> = ws.diagnostic_settings.values().cloned().collect();
                Ok((StatusCode::OK, json!({"value": items})))
            })
        }
        Target::Diagnostic(name, setting) => {
            check_api_version(query, DIAGNOSTIC_API_VERSIONS, "diagnosticSettings")?;
            with_workspace(app, &name, |ws| {
                let key = setting.to_ascii_lowercase();
                match *method {
                    Method::GET => ws
                        .diagnostic_settings
                        .get(&key)
                        .cloned()
                        .map(|v| (StatusCode::OK, v))
                        .ok_or_else(|| {
                            ArmError::not_found(
                                "ResourceNotFound",
                                format!("The diagnostic setting '{setting}' doesn't exist."),
                            )
                        }),
                    Method::PUT => {
                        let id = ws.arm["id"].as_str().unwrap_or_default().to_string();
                        let stored = put_diagnostic_setting(&id, &setting, &parse_body(body)?)?;
                        ws.diagnostic_settings.insert(key, stored.clone());
                        Ok((StatusCode::OK, stored))
                    }
                    Method::DELETE => match ws.diagnostic_settings.remove(&key) {
                        Some(_) => Ok((StatusCode::OK, json!({}))),
                        None => Ok((StatusCode::NO_CONTENT, json!({}))),
                    },
                    _ => Err(method_not_allowed(method)),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(sku: &str) -> Value {
        seed_resource("ws-1", 42, sku, "http://127.0.0.1:1/ws/ws-1")
    }

    #[test]
    fn seed_is_insecure() {
        let r = seeded("premium");
        assert_eq!(
            r["properties"]["parameters"]["enableNoPublicIp"]["value"],
            false
        );
        assert_eq!(r["properties"]["publicNetworkAccess"], "Enabled");
        assert!(r["properties"].get("encryption").is_none());
        assert!(
            r["properties"]["parameters"]
                .get("customVirtualNetworkId")
                .is_none()
        );
        assert_eq!(r["properties"]["workspaceUrl"], "127.0.0.1:1/ws/ws-1");
    }

    #[test]
    fn put_roundtrip_changes_mutable_fields() {
        let cur = seeded("premium");
        let mut next = cur.clone();
        next["properties"]["parameters"]["enableNoPublicIp"]["value"] = json!(true);
        next["properties"]["publicNetworkAccess"] = json!("Disabled");
        next["properties"]["requiredNsgRules"] = json!("NoAzureDatabricksRules");
        next["properties"]["encryption"] = json!({"entities": {"managedServices": {
            "keySource": "Microsoft.Keyvault",
            "keyVaultProperties": {"keyVaultUri": "https://kv.vault.azure.net/", "keyName": "k", "keyVersion": "1"}
        }}});
        let out = put_workspace(&cur, &next).unwrap();
        assert_eq!(
            out["properties"]["parameters"]["enableNoPublicIp"]["value"],
            true
        );
        assert_eq!(out["properties"]["publicNetworkAccess"], "Disabled");
        assert_eq!(
            out["properties"]["encryption"]["entities"]["managedServices"]["keyVaultProperties"]["keyName"],
            "k"
        );
        assert_eq!(out["properties"]["provisioningState"], "Succeeded");
        // Idempotent.
        assert_eq!(put_workspace(&out, &out).unwrap(), out);
    }

    #[test]
    fn immutable_changes_are_refused() {
        let cur = seeded("premium");
        let mut next = cur.clone();
        next["properties"]["parameters"]["customVirtualNetworkId"] =
            json!({"value": "/subscriptions/x/vnet"});
        assert_eq!(
            put_workspace(&cur, &next).unwrap_err().code,
            "VirtualNetworkIdChangeNotAllowed"
        );
        let mut next = cur.clone();
        next["properties"]["parameters"]["requireInfrastructureEncryption"] =
            json!({"value": true});
        assert_eq!(
            put_workspace(&cur, &next).unwrap_err().code,
            "InfrastructureEncryptionChangeNotAllowed"
        );
        let mut next = cur.clone();
        next["location"] = json!("eastus");
        assert_eq!(
            put_workspace(&cur, &next).unwrap_err().code,
            "InvalidResourceLocation"
        );
        let mut next = cur.clone();
        next["properties"]["publicNetworkAccess"] = json!("Sometimes");
        assert_eq!(
            put_workspace(&cur, &next).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn cmk_needs_premium() {
        let cur = seeded("standard");
        let mut next = cur.clone();
        next["properties"]["encryption"] = json!({"entities": {"managedDisk": {
            "keySource": "Microsoft.Keyvault",
            "keyVaultProperties": {"keyVaultUri": "https://kv.vault.azure.net/", "keyName": "k", "keyVersion": "1"}
        }}});
        assert_eq!(
            put_workspace(&cur, &next).unwrap_err().code,
            "CustomerManagedKeyNotSupportedForSku"
        );
        next["sku"]["name"] = json!("premium");
        let out = put_workspace(&cur, &next).unwrap();
        assert!(out["properties"]["managedDiskIdentity"].is_object());
    }

    #[test]
    fn parses_targets() {
        let id = resource_id("WS-1");
        assert_eq!(parse_target(&id).unwrap(), Target::Workspace("ws-1".into()));
        assert_eq!(
            parse_target(&format!(
                "{id}/providers/Microsoft.Insights/diagnosticSettings"
            ))
            .unwrap(),
            Target::DiagnosticList("ws-1".into())
        );
        assert_eq!(
            parse_target(&format!(
                "{id}/providers/microsoft.insights/diagnosticSettings/bw"
            ))
            .unwrap(),
            Target::Diagnostic("ws-1".into(), "bw".into())
        );
        assert_eq!(
            parse_target(
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/a"
            )
            .unwrap_err()
            .code,
            "SubscriptionNotFound"
        );
        assert!(parse_target("/foo").is_err());
    }

    #[test]
    fn diagnostic_settings_validation() {
        let ok = json!({"properties": {"workspaceId": "/subscriptions/x/law", "logs": [{"category": "accounts", "enabled": true}]}});
        let out = put_diagnostic_setting("/r", "bw", &ok).unwrap();
        assert_eq!(out["properties"]["logs"][0]["category"], "accounts");
        assert_eq!(out["type"], "Microsoft.Insights/diagnosticSettings");
        let no_dest = json!({"properties": {"logs": []}});
        assert!(put_diagnostic_setting("/r", "bw", &no_dest).is_err());
        let bad_cat = json!({"properties": {"workspaceId": "x", "logs": [{"category": "nope", "enabled": true}]}});
        assert!(put_diagnostic_setting("/r", "bw", &bad_cat).is_err());
    }
}
