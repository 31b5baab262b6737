//! Azure Resource Manager at `/arm`: `Microsoft.Databricks/workspaces` (GET, PUT, PATCH, list
//! by resource group and by subscription), their long-running operations, and the workspaces'
//! `Microsoft.Insights/diagnosticSettings` (GET, PUT, DELETE, list).
//!
//! Shapes follow the REST API specs for Microsoft.Databricks 2026-01-01
//! (azure-rest-api-specs `specification/databricks/resource-manager/Microsoft.Databricks/
//! Databricks/stable/2026-01-01/databricks.json` and its `examples/`):
//!
//! * PUT (`Workspaces_CreateOrUpdate`) and PATCH (`Workspaces_Update`) are
//!   `x-ms-long-running-operation`s. PUT answers 201 for a create, 200 for an update, PATCH
//!   200; the body carries `provisioningState` `Accepted` (create) or `Updating`, and the
//!   headers `Azure-AsyncOperation` (an operation status resource: `{"status": "InProgress" |
//!   "Succeeded" | "Failed", "error"?}`), `Location` (202 while running, then the resource) and
//!   `Retry-After`, as the ARM resource provider contract has them. That is what azure-core's
//!   `LROBasePolling`/azure-mgmt-core's `ARMPolling` poll: the `Azure-AsyncOperation` URL until
//!   the status is terminal, then a final GET of the resource. The operation completes after
//!   [`crate::EmulatorConfig::arm_operation_delay`]; a fault with `operation_error` makes it
//!   end `Failed` (the change is not applied, the resource says `provisioningState: Failed`).
//!   A PUT or PATCH while an operation runs gets 409 `Conflict`.
//! * PUT keeps every property the body sends (so fields the emulator does not model, and
//!   fields a client does not own, survive a GET + PUT), validating the ones it knows:
//!   `computeMode` (required, `Hybrid`/`Serverless`, immutable), `parameters`,
//!   `publicNetworkAccess`, `requiredNsgRules`, `encryption`, `enhancedSecurityCompliance`,
//!   `accessConnector`, `defaultStorageFirewall`, `defaultCatalog`. Read-only fields stay the
//!   service's. Changes Azure cannot make in place (VNet injection, infrastructure encryption,
//!   compute mode, turning the compliance security profile off) are refused.
//! * PATCH changes tags only.
//!
//! Errors use the ARM envelope `{"error": {"code", "message"}}`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::app::App;
use super::auth;
use super::databricks::settings::COMPLIANCE_STANDARDS;
use super::errors::ArmError;
use super::faults::OperationError;
use super::state::{RESOURCE_GROUP, SUBSCRIPTION_ID, Workspace, World, fnv64};

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

/// Log categories Azure lists for `Microsoft.Databricks/workspaces` ("Supported logs for
/// Microsoft.Databricks/workspaces", Azure Monitor reference,
/// learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-databricks-workspaces-logs),
/// matched case-insensitively, plus the category groups.
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
    "files",
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

/// Properties only the service writes: a PUT cannot change them (what it sends is ignored).
const READ_ONLY_PROPERTIES: &[&str] = &[
    "provisioningState",
    "workspaceUrl",
    "workspaceId",
    "createdDateTime",
    "createdBy",
    "updatedBy",
    "isUcEnabled",
    "storageAccountIdentity",
    "managedDiskIdentity",
    "privateEndpointConnections",
];

/// The ARM id of workspace `name`.
pub fn resource_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Databricks/workspaces/{name}"
    )
}

/// `enhancedSecurityCompliance` of a workspace without the add-on (every feature `Disabled`).
fn esc_disabled() -> Value {
    json!({
        "automaticClusterUpdate": {"value": "Disabled"},
        "complianceSecurityProfile": {"value": "Disabled", "complianceStandards": []},
        "enhancedSecurityMonitoring": {"value": "Disabled"},
    })
}

/// A freshly created workspace resource, shaped like the spec's `WorkspaceGet.json` example:
/// `Hybrid` compute mode, public IPs, public network access, no CMK, no VNet injection, no
/// infrastructure encryption, the Enhanced Security and Compliance features `Disabled`.
pub fn seed_resource(name: &str, workspace_id: u64, sku: &str, url: &str) -> Value {
    let host = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let creator = json!({
        "oid": "22222222-2222-2222-2222-222222222222",
        "puid": "33333333",
        "applicationId": "44444444-4444-4444-4444-444444444444",
    });
    json!({
        "id": resource_id(name),
        "name": name,
        "type": "Microsoft.Databricks/workspaces",
        "location": LOCATION,
        "sku": {"name": sku},
        "tags": {"environment": "emulator"},
        "properties": {
            "computeMode": "Hybrid",
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
            "enhancedSecurityCompliance": esc_disabled(),
            "provisioningState": "Succeeded",
            "authorizations": [{
                "principalId": "9a74af6f-d153-4348-988a-e2672920bee9",
                "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            }],
            "createdBy": creator,
            "updatedBy": creator,
            "workspaceUrl": host,
            "workspaceId": workspace_id.to_string(),
            "isUcEnabled": true,
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

fn enabled_value(section: &Value, what: &str) -> Result<Option<&'static str>, ArmError> {
    match section.get("value") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) if v.eq_ignore_ascii_case("Enabled") => Ok(Some("Enabled")),
        Some(Value::String(v)) if v.eq_ignore_ascii_case("Disabled") => Ok(Some("Disabled")),
        Some(other) => Err(bad(
            "InvalidParameter",
            format!(
                "The value '{other}' of property 'enhancedSecurityCompliance.{what}.value' is \
                 invalid. Allowed values: Enabled, Disabled."
            ),
        )),
    }
}

/// Validates `enhancedSecurityCompliance` (spec: `EnhancedSecurityComplianceDefinition`)
/// against the current value and returns the stored one.
///
/// The compliance security profile cannot be turned off once on (Azure Databricks docs,
/// "Compliance security profile"; terraform-provider-databricks
/// `compliance_security_profile_workspace_setting`: "This setting can NOT be disabled once it
/// is enabled"), and turning it on turns enhanced security monitoring and automatic cluster
/// update on. The add-on needs the premium tier. `complianceStandards` is a free string in the
/// spec; the emulator accepts the standards the Databricks SDKs know
/// ([`COMPLIANCE_STANDARDS`], including `ARC_AMPE`) and refuses others.
fn validate_esc(current: &Value, sent: &Value, sku: &str) -> Result<Value, ArmError> {
    let Some(obj) = sent.as_object() else {
        return Err(invalid_content(
            "'properties.enhancedSecurityCompliance' must be an object",
        ));
    };
    let mut out = esc_disabled();
    for (key, _) in obj {
        if ![
            "automaticClusterUpdate",
            "complianceSecurityProfile",
            "enhancedSecurityMonitoring",
        ]
        .contains(&key.as_str())
        {
            // Unknown members are kept as sent.
            out[key] = obj[key].clone();
        }
    }
    for feature in ["automaticClusterUpdate", "enhancedSecurityMonitoring"] {
        let value = enabled_value(&sent[feature], feature)?.unwrap_or("Disabled");
        out[feature]["value"] = json!(value);
    }
    let csp = &sent["complianceSecurityProfile"];
    let csp_value = enabled_value(csp, "complianceSecurityProfile")?.unwrap_or("Disabled");
    let standards = match &csp["complianceStandards"] {
        Value::Null => Vec::new(),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                let known = item.as_str().and_then(|s| {
                    COMPLIANCE_STANDARDS
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(s))
                });
                match known {
                    Some(k) => out.push(json!(k)),
                    None => {
                        return Err(bad(
                            "InvalidParameter",
                            format!(
                                "The compliance standard {item} is not supported. Supported \
                                 standards: {}.",
                                COMPLIANCE_STANDARDS.join(", ")
                            ),
                        ));
                    }
                }
            }
            out
        }
        other => {
            return Err(invalid_content(format!(
                "'complianceStandards' must be an array, got {other}"
            )));
        }
    };
    let was_on = current
        .pointer("/complianceSecurityProfile/value")
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("Enabled"));
    if was_on && csp_value == "Disabled" {
        return Err(bad(
            "ComplianceSecurityProfileCannotBeDisabled",
            "The compliance security profile cannot be disabled once it has been enabled on a \
             workspace.",
        ));
    }
    out["complianceSecurityProfile"] =
        json!({"value": csp_value, "complianceStandards": standards});
    if csp_value == "Enabled" {
        out["automaticClusterUpdate"]["value"] = json!("Enabled");
        out["enhancedSecurityMonitoring"]["value"] = json!("Enabled");
    }
    let any_on = [
        "automaticClusterUpdate",
        "complianceSecurityProfile",
        "enhancedSecurityMonitoring",
    ]
    .iter()
    .any(|f| out[*f]["value"] == "Enabled");
    if any_on && sku != "premium" {
        return Err(bad(
            "EnhancedSecurityComplianceNotSupportedForSku",
            format!(
                "The Enhanced Security and Compliance add-on needs the premium pricing tier; the \
                 workspace uses '{sku}'."
            ),
        ));
    }
    Ok(out)
}

/// `accessConnector` (spec: `{id, identityType: SystemAssigned|UserAssigned,
/// userAssignedIdentityId}`, `id` and `identityType` required, `userAssignedIdentityId`
/// "required for type 'UserAssigned' and not valid for type 'SystemAssigned'").
fn validate_access_connector(sent: &Value) -> Result<(), ArmError> {
    let id = sent["id"].as_str().unwrap_or_default();
    if !id
        .to_ascii_lowercase()
        .contains("/providers/microsoft.databricks/accessconnectors/")
    {
        return Err(bad(
            "InvalidParameter",
            format!(
                "accessConnector.id '{id}' is not the id of a Microsoft.Databricks/accessConnectors \
                 resource."
            ),
        ));
    }
    let kind = sent["identityType"].as_str().unwrap_or_default();
    let user_assigned = sent["userAssignedIdentityId"]
        .as_str()
        .is_some_and(|s| !s.is_empty());
    match kind {
        "SystemAssigned" if !user_assigned => Ok(()),
        "UserAssigned" if user_assigned => Ok(()),
        "SystemAssigned" | "UserAssigned" => Err(bad(
            "InvalidParameter",
            "accessConnector.userAssignedIdentityId is required for identityType 'UserAssigned' \
             and not valid for 'SystemAssigned'.",
        )),
        other => Err(bad(
            "InvalidParameter",
            format!(
                "The value '{other}' of property 'accessConnector.identityType' is invalid. \
                 Allowed values: SystemAssigned, UserAssigned."
            ),
        )),
    }
}

/// Validates a PUT body against the current resource and returns the new resource (with the
/// current `provisioningState`; the caller starts the operation).
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
        .and_then(Value::as_object)
        .ok_or_else(|| invalid_content("Required property 'properties' not found in JSON."))?;
    let props_value = Value::Object(props.clone());
    let props_ref = &props_value;
    let cur_props = &current["properties"];

    // computeMode: required since 2026-01-01 ("required": ["computeMode"] in
    // WorkspaceProperties); azure-mgmt-databricks `ComputeMode`: "Required on create, cannot
    // be changed".
    let compute_mode = enum_field(props_ref, "computeMode", "", &["Hybrid", "Serverless"])?;
    if compute_mode.is_empty() {
        return Err(invalid_content(
            "Required property 'computeMode' not found in JSON. Path 'properties'.",
        ));
    }
    let old_mode = cur_props["computeMode"].as_str().unwrap_or("Hybrid");
    if !old_mode.eq_ignore_ascii_case(&compute_mode) {
        return Err(bad(
            "ComputeModeChangeNotAllowed",
            format!("Updating computeMode from {old_mode} to {compute_mode} is not allowed."),
        ));
    }

    let old_vnet = string_param(cur_props, "customVirtualNetworkId");
    let new_vnet = string_param(props_ref, "customVirtualNetworkId");
    if !old_vnet.eq_ignore_ascii_case(&new_vnet) {
        return Err(bad(
            "VirtualNetworkIdChangeNotAllowed",
            format!(
                "Updating required Virtual Network from {old_vnet} to {new_vnet} is currently not allowed."
            ),
        ));
    }
    let old_infra = bool_param(cur_props, "requireInfrastructureEncryption");
    let new_infra = bool_param(props_ref, "requireInfrastructureEncryption");
    if old_infra != new_infra {
        return Err(bad(
            "InfrastructureEncryptionChangeNotAllowed",
            format!(
                "Updating requireInfrastructureEncryption from {old_infra} to {new_infra} is not allowed: \
                 infrastructure encryption can only be set when the workspace is created."
            ),
        ));
    }
    if let Some(mrg) = props.get("managedResourceGroupId").and_then(Value::as_str)
        && let Some(old) = cur_props["managedResourceGroupId"].as_str()
        && !mrg.eq_ignore_ascii_case(old)
    {
        return Err(bad(
            "InvalidParameter",
            format!(
                "The managed resource group of workspace '{name}' cannot be changed from {old} to {mrg}."
            ),
        ));
    }

    // Every property sent is kept; the known ones are validated and normalised below.
    let mut new_props = props.clone();
    let mut parameters = cur_props["parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (k, v) in normalise_parameters(props_ref)? {
        parameters.insert(k, v);
    }
    new_props.insert("parameters".into(), Value::Object(parameters));
    new_props.insert("computeMode".into(), json!(compute_mode));
    new_props.insert(
        "publicNetworkAccess".into(),
        json!(enum_field(
            props_ref,
            "publicNetworkAccess",
            "Enabled",
            &["Enabled", "Disabled"]
        )?),
    );
    new_props.insert(
        "requiredNsgRules".into(),
        json!(enum_field(
            props_ref,
            "requiredNsgRules",
            "AllRules",
            &["AllRules", "NoAzureDatabricksRules", "NoAzureServiceRules"],
        )?),
    );
    if new_props
        .get("managedResourceGroupId")
        .is_none_or(Value::is_null)
    {
        new_props.insert(
            "managedResourceGroupId".into(),
            cur_props["managedResourceGroupId"].clone(),
        );
    }

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

    let cur_esc = cur_props
        .get("enhancedSecurityCompliance")
        .cloned()
        .unwrap_or_else(esc_disabled);
    let esc = match props.get("enhancedSecurityCompliance") {
        // Not sent: unchanged (the add-on is not switched off by a client that omits it).
        None | Some(Value::Null) => validate_esc(&cur_esc, &cur_esc, &sku)?,
        Some(sent) => validate_esc(&cur_esc, sent, &sku)?,
    };
    new_props.insert("enhancedSecurityCompliance".into(), esc);

    if let Some(connector) = props.get("accessConnector").filter(|v| !v.is_null()) {
        validate_access_connector(connector)?;
    }
    if props
        .get("defaultStorageFirewall")
        .is_some_and(|v| !v.is_null())
    {
        let firewall = enum_field(
            props_ref,
            "defaultStorageFirewall",
            "Disabled",
            &["Disabled", "Enabled"],
        )?;
        // Azure Databricks docs, "Enable firewall support for your workspace storage account":
        // the workspace reaches its storage through an access connector.
        if firewall == "Enabled" && props.get("accessConnector").is_none_or(Value::is_null) {
            return Err(bad(
                "InvalidParameter",
                "defaultStorageFirewall 'Enabled' requires an accessConnector.",
            ));
        }
        new_props.insert("defaultStorageFirewall".into(), json!(firewall));
    }
    if let Some(catalog) = props.get("defaultCatalog").filter(|v| !v.is_null()) {
        // spec: DefaultCatalogProperties {initialType: HiveMetastore|UnityCatalog, initialName}.
        enum_field(
            catalog,
            "initialType",
            "HiveMetastore",
            &["HiveMetastore", "UnityCatalog"],
        )?;
    }

    for key in READ_ONLY_PROPERTIES {
        new_props.remove(*key);
        if let Some(v) = cur_props.get(*key) {
            new_props.insert((*key).to_string(), v.clone());
        }
    }
    if let Some(enc) = encryption
        && enc.pointer("/entities/managedDisk").is_some()
    {
        new_props.insert(
            "managedDiskIdentity".into(),
            json!({
                "principalId": uuid::Uuid::from_u64_pair(
                    fnv64(&[&current["id"].to_string(), "disk"]),
                    fnv64(&[&current["id"].to_string(), "identity"]),
                )
                .to_string(),
                "tenantId": super::state::TENANT_ID,
                "type": "SystemAssigned",
            }),
        );
    }

    let tags = match body_obj.get("tags") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(t)) if t.values().all(Value::is_string) => Value::Object(t.clone()),
        Some(_) => return Err(invalid_content("'tags' must be an object of strings")),
    };
    Ok(json!({
        "id": current["id"],
        "name": current["name"],
        "type": current["type"],
        "location": current["location"],
        "sku": {"name": sku},
        "tags": tags,
        "properties": Value::Object(new_props),
    }))
}

/// The resource a PUT to a new name creates, validated like an update of a fresh workspace.
fn create_workspace(
    name: &str,
    workspace_id: u64,
    url: &str,
    body: &Value,
) -> Result<Value, ArmError> {
    if body.get("location").and_then(Value::as_str).is_none() {
        return Err(invalid_content(
            "Required property 'location' not found in JSON.",
        ));
    }
    let sku = body
        .pointer("/sku/name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_content("Required property 'sku' not found in JSON."))?
        .to_ascii_lowercase();
    let mut fresh = seed_resource(name, workspace_id, &sku, url);
    // What the body does not set starts empty rather than seeded.
    fresh["tags"] = json!({});
    if let Some(mode) = body
        .pointer("/properties/computeMode")
        .and_then(Value::as_str)
    {
        fresh["properties"]["computeMode"] = json!(mode);
    }
    if let Some(params) = body.pointer("/properties/parameters") {
        for p in ["customVirtualNetworkId", "requireInfrastructureEncryption"] {
            if let Some(v) = params.get(p) {
                fresh["properties"]["parameters"][p] = v.clone();
            }
        }
    }
    if let Some(mrg) = body.pointer("/properties/managedResourceGroupId") {
        fresh["properties"]["managedResourceGroupId"] = mrg.clone();
    }
    let mut created = put_workspace(&fresh, body)?;
    if let Some(location) = body.get("location") {
        created["location"] = location.clone();
    }
    Ok(created)
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

/// Where a long-running operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl OperationStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

/// An ARM long-running operation (workspace PUT or PATCH).
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub workspace: String,
    pub status: OperationStatus,
    pub start_time: String,
    pub end_time: Option<String>,
    completes_at: Instant,
    /// The injected failure the operation ends with, if any.
    failure: Option<OperationError>,
    /// The resource as it was before, restored (`provisioningState: Failed`) on failure.
    previous: Value,
}

impl Operation {
    /// The operation status resource behind `Azure-AsyncOperation`.
    fn status_body(&self) -> Value {
        let mut body = json!({
            "id": operation_path(&self.id, "operationStatuses"),
            "name": self.id,
            "status": self.status.as_str(),
            "startTime": self.start_time,
        });
        if let Some(end) = &self.end_time {
            body["endTime"] = json!(end);
        }
        if let (OperationStatus::Failed, Some(failure)) = (self.status, &self.failure) {
            body["error"] = json!({"code": failure.code, "message": failure.message});
        }
        body
    }
}

fn operation_path(id: &str, kind: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Databricks/locations/{LOCATION}/{kind}/{id}"
    )
}

/// Finishes the operations whose time has come: `provisioningState` becomes `Succeeded`, or
/// `Failed` with the previous resource restored. Called before anything reads ARM state.
pub fn settle(world: &mut World) {
    let now = Instant::now();
    let finished: Vec<String> = world
        .arm_operations
        .values()
        .filter(|op| op.status == OperationStatus::InProgress && op.completes_at <= now)
        .map(|op| op.id.clone())
        .collect();
    for id in finished {
        let Some(op) = world.arm_operations.get_mut(&id) else {
            continue;
        };
        op.end_time = Some(jiff::Timestamp::now().to_string());
        op.status = if op.failure.is_some() {
            OperationStatus::Failed
        } else {
            OperationStatus::Succeeded
        };
        let (status, previous, ws_name) = (op.status, op.previous.clone(), op.workspace.clone());
        if let Some(ws) = world.workspaces.get_mut(&ws_name) {
            if status == OperationStatus::Failed {
                ws.arm = previous;
                ws.arm["properties"]["provisioningState"] = json!("Failed");
            } else {
                ws.arm["properties"]["provisioningState"] = json!("Succeeded");
            }
            if ws.arm_operation.as_deref() == Some(id.as_str()) {
                ws.arm_operation = None;
            }
        }
    }
}

/// `Retry-After` in whole seconds (at least 1: azure-core falls back to its 30 s default for 0).
fn retry_after(delay: Duration) -> u64 {
    delay.as_millis().div_ceil(1000).max(1) as u64
}

/// Starts an operation on `ws` whose target resource is already in `ws.arm`.
fn start_operation(
    world_ops: &mut HashMap<String, Operation>,
    ws: &mut Workspace,
    previous: Value,
    delay: Duration,
    failure: Option<OperationError>,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    world_ops.insert(
        id.clone(),
        Operation {
            id: id.clone(),
            workspace: ws.name.clone(),
            status: OperationStatus::InProgress,
            start_time: jiff::Timestamp::now().to_string(),
            end_time: None,
            completes_at: Instant::now() + delay,
            failure,
            previous,
        },
    );
    ws.arm_operation = Some(id.clone());
    id
}

fn conflict(name: &str) -> ArmError {
    ArmError::new(
        StatusCode::CONFLICT,
        "Conflict",
        format!(
            "Operation on workspace '{name}' is not allowed: another operation is in progress on \
             the resource. Retry after it completes."
        ),
    )
}

/// What an ARM path addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Workspace(String),
    WorkspacesInGroup,
    WorkspacesInSubscription,
    OperationStatus(String),
    OperationResult(String),
    DiagnosticList(String),
    Diagnostic(String, String),
}

fn parse_target(path: &str) -> Result<Target, ArmError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let eq = |i: usize, s: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s));
    let not_found = || {
        ArmError::not_found(
            "InvalidResourceType",
            format!(
                "The resource path '{path}' is not served by the emulator's Azure Resource Manager."
            ),
        )
    };
    if segs.len() < 2 || !eq(0, "subscriptions") {
        return Err(not_found());
    }
    if !segs[1].eq_ignore_ascii_case(SUBSCRIPTION_ID) {
        return Err(ArmError::not_found(
            "SubscriptionNotFound",
            format!("The subscription '{}' could not be found.", segs[1]),
        ));
    }
    if eq(2, "providers") && eq(3, "Microsoft.Databricks") {
        return match segs.len() {
            5 if eq(4, "workspaces") => Ok(Target::WorkspacesInSubscription),
            8 if eq(4, "locations") && eq(6, "operationStatuses") => {
                Ok(Target::OperationStatus(segs[7].to_string()))
            }
            8 if eq(4, "locations") && eq(6, "operationResults") => {
                Ok(Target::OperationResult(segs[7].to_string()))
            }
            _ => Err(not_found()),
        };
    }
    if segs.len() < 7
        || !eq(2, "resourceGroups")
        || !eq(4, "providers")
        || !eq(5, "Microsoft.Databricks")
        || !eq(6, "workspaces")
    {
        return Err(not_found());
    }
    if !segs[3].eq_ignore_ascii_case(RESOURCE_GROUP) {
        return Err(ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{}' could not be found.", segs[3]),
        ));
    }
    if segs.len() == 7 {
        return Ok(Target::WorkspacesInGroup);
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

fn workspace_not_found(name: &str) -> ArmError {
    ArmError::not_found(
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.Databricks/workspaces/{name}' under resource group \
             '{RESOURCE_GROUP}' was not found. For more details please go to \
             https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

fn with_workspace<T>(
    world: &mut World,
    name: &str,
    f: impl FnOnce(&mut Workspace) -> Result<T, ArmError>,
) -> Result<T, ArmError> {
    let ws = world
        .workspaces
        .get_mut(name)
        .ok_or_else(|| workspace_not_found(name))?;
    f(ws)
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, Json(value)).into_response()
}

fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// The answer that starts an operation: the resource plus `Azure-AsyncOperation`, `Location`
/// and `Retry-After`.
fn accepted(app: &App, status: StatusCode, resource: Value, op: &str, version: &str) -> Response {
    let mut response = json_response(status, resource);
    let arm = app.arm_url();
    set_header(
        &mut response,
        "azure-asyncoperation",
        &format!(
            "{arm}{}?api-version={version}",
            operation_path(op, "operationStatuses")
        ),
    );
    set_header(
        &mut response,
        "location",
        &format!(
            "{arm}{}?api-version={version}",
            operation_path(op, "operationResults")
        ),
    );
    set_header(
        &mut response,
        "retry-after",
        &retry_after(app.config().arm_operation_delay).to_string(),
    );
    response
}

/// Every `/arm/...` request.
pub async fn dispatch(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    failure: Option<Extension<OperationError>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let failure = failure.map(|Extension(f)| f);
    match handle(&app, &method, &uri, &query, &headers, &body, failure) {
        Ok(response) => response,
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
    failure: Option<OperationError>,
) -> Result<Response, ArmError> {
    let mut world = app.world();
    auth::authenticate_arm(&world, headers)?;
    settle(&mut world);
    let path = uri.path().strip_prefix("/arm").unwrap_or(uri.path());
    let version = query.get("api-version").cloned().unwrap_or_default();
    let delay = app.config().arm_operation_delay;
    match parse_target(path)? {
        Target::WorkspacesInGroup | Target::WorkspacesInSubscription => {
            check_api_version(query, WORKSPACE_API_VERSIONS, "workspaces")?;
            if *method != Method::GET {
                return Err(method_not_allowed(method));
            }
            let items: Vec<Value> = world
                .workspaces
                .all()
                .into_iter()
                .map(|ws| ws.arm.clone())
                .collect();
            Ok(json_response(StatusCode::OK, json!({"value": items})))
        }
        Target::OperationStatus(id) | Target::OperationResult(id)
            if !world.arm_operations.contains_key(&id) =>
        {
            Err(ArmError::not_found(
                "OperationNotFound",
                format!("The operation '{id}' was not found."),
            ))
        }
        Target::OperationStatus(id) => {
            check_api_version(query, WORKSPACE_API_VERSIONS, "locations/operationStatuses")?;
            let op = &world.arm_operations[&id];
            let mut response = json_response(StatusCode::OK, op.status_body());
            if op.status == OperationStatus::InProgress {
                set_header(
                    &mut response,
                    "retry-after",
                    &retry_after(delay).to_string(),
                );
            }
            Ok(response)
        }
        Target::OperationResult(id) => {
            check_api_version(query, WORKSPACE_API_VERSIONS, "locations/operationResults")?;
            let op = world.arm_operations[&id].clone();
            match op.status {
                OperationStatus::InProgress => {
                    let mut response = StatusCode::ACCEPTED.into_response();
                    set_header(
                        &mut response,
                        "location",
                        &format!(
                            "{}{}?api-version={version}",
                            app.arm_url(),
                            operation_path(&id, "operationResults")
                        ),
                    );
                    set_header(
                        &mut response,
                        "retry-after",
                        &retry_after(delay).to_string(),
                    );
                    Ok(response)
                }
                OperationStatus::Succeeded => {
                    let resource = world
                        .workspaces
                        .get(&op.workspace)
                        .map(|ws| ws.arm.clone())
                        .unwrap_or_else(|| json!({}));
                    Ok(json_response(StatusCode::OK, resource))
                }
                OperationStatus::Failed => {
                    let failure = op.failure.unwrap_or_default();
                    Err(bad(&failure.code, failure.message))
                }
            }
        }
        Target::Workspace(name) => {
            check_api_version(query, WORKSPACE_API_VERSIONS, "workspaces")?;
            if *method == Method::PUT && !world.workspaces.contains_key(&name) {
                return create(
                    app,
                    &mut world,
                    &name,
                    &parse_body(body)?,
                    failure,
                    &version,
                );
            }
            let World {
                workspaces,
                arm_operations,
                ..
            } = &mut *world;
            let ws = workspaces
                .get_mut(&name)
                .ok_or_else(|| workspace_not_found(&name))?;
            match *method {
                Method::GET => Ok(json_response(StatusCode::OK, ws.arm.clone())),
                Method::PUT | Method::PATCH => {
                    if ws.arm_operation.is_some() {
                        return Err(conflict(&name));
                    }
                    let body = parse_body(body)?;
                    let mut next = if *method == Method::PUT {
                        put_workspace(&ws.arm, &body)?
                    } else {
                        patch_tags(&ws.arm, &body)?
                    };
                    let previous = ws.arm.clone();
                    next["properties"]["provisioningState"] = json!("Updating");
                    ws.arm = next.clone();
                    let op = start_operation(arm_operations, ws, previous, delay, failure);
                    Ok(accepted(app, StatusCode::OK, next, &op, &version))
                }
                _ => Err(method_not_allowed(method)),
            }
        }
        Target::DiagnosticList(name) => {
            check_api_version(query, DIAGNOSTIC_API_VERSIONS, "diagnosticSettings")?;
            if *method != Method::GET {
                return Err(method_not_allowed(method));
            }
            with_workspace(&mut world, &name, |ws| {
                let items: Vec<Value> = ws.diagnostic_settings.values().cloned().collect();
                Ok(json_response(StatusCode::OK, json!({"value": items})))
            })
        }
        Target::Diagnostic(name, setting) => {
            check_api_version(query, DIAGNOSTIC_API_VERSIONS, "diagnosticSettings")?;
            with_workspace(&mut world, &name, |ws| {
                let key = setting.to_ascii_lowercase();
                match *method {
                    Method::GET => ws
                        .diagnostic_settings
                        .get(&key)
                        .cloned()
                        .map(|v| json_response(StatusCode::OK, v))
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
                        Ok(json_response(StatusCode::OK, stored))
                    }
                    Method::DELETE => match ws.diagnostic_settings.remove(&key) {
                        Some(_) => Ok(json_response(StatusCode::OK, json!({}))),
                        None => Ok(StatusCode::NO_CONTENT.into_response()),
                    },
                    _ => Err(method_not_allowed(method)),
                }
            })
        }
    }
}

/// PATCH (`WorkspaceUpdate`): tags only.
fn patch_tags(current: &Value, patch: &Value) -> Result<Value, ArmError> {
    let mut next = current.clone();
    match patch.get("tags") {
        None => {}
        Some(Value::Object(t)) if t.values().all(Value::is_string) => {
            next["tags"] = Value::Object(t.clone());
        }
        Some(_) => return Err(invalid_content("'tags' must be an object of strings")),
    }
    Ok(next)
}

/// PUT to a name that does not exist: a new workspace, served like the seeded ones.
fn create(
    app: &App,
    world: &mut World,
    name: &str,
    body: &Value,
    failure: Option<OperationError>,
    version: &str,
) -> Result<Response, ArmError> {
    let valid = name.len() >= 3
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(bad(
            "InvalidResourceName",
            format!("The workspace name '{name}' is invalid: 3 to 64 letters, digits, '-' or '_'."),
        ));
    }
    let index = world.workspaces.max_index() + 1;
    let sku = body
        .pointer("/sku/name")
        .and_then(Value::as_str)
        .unwrap_or("premium")
        .to_ascii_lowercase();
    let mut ws = Workspace::seed_named(name, index, &sku, app.base_url());
    let mut resource = create_workspace(name, ws.workspace_id, &ws.url, body)?;
    resource["properties"]["provisioningState"] = json!("Accepted");
    ws.arm = resource.clone();
    let op = start_operation(
        &mut world.arm_operations,
        &mut ws,
        resource.clone(),
        app.config().arm_operation_delay,
        failure,
    );
    world.workspaces.insert(name.to_string(), ws);
    Ok(accepted(app, StatusCode::CREATED, resource, &op, version))
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
    fn put_keeps_unknown_fields_and_validates_known_ones() {
        let cur = seeded("premium");
        assert_eq!(cur["properties"]["computeMode"], "Hybrid");
        assert_eq!(
            cur["properties"]["enhancedSecurityCompliance"]["complianceSecurityProfile"]["value"],
            "Disabled"
        );
        let mut next = cur.clone();
        next["properties"]["someFutureField"] = json!({"x": 1});
        next["properties"]["defaultCatalog"] = json!({"initialType": "UnityCatalog"});
        next["properties"]["accessConnector"] = json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/accessConnectors/ac",
            "identityType": "SystemAssigned",
        });
        next["properties"]["defaultStorageFirewall"] = json!("Enabled");
        next["properties"]["workspaceId"] = json!("tampered");
        let out = put_workspace(&cur, &next).unwrap();
        assert_eq!(out["properties"]["someFutureField"], json!({"x": 1}));
        assert_eq!(out["properties"]["defaultStorageFirewall"], "Enabled");
        assert_eq!(
            out["properties"]["accessConnector"]["identityType"],
            "SystemAssigned"
        );
        assert_eq!(
            out["properties"]["workspaceId"],
            cur["properties"]["workspaceId"]
        );
        // computeMode is required and immutable.
        let mut bad_mode = cur.clone();
        bad_mode["properties"]
            .as_object_mut()
            .unwrap()
            .remove("computeMode");
        assert_eq!(
            put_workspace(&cur, &bad_mode).unwrap_err().code,
            "InvalidRequestContent"
        );
        bad_mode["properties"]["computeMode"] = json!("Serverless");
        assert_eq!(
            put_workspace(&cur, &bad_mode).unwrap_err().code,
            "ComputeModeChangeNotAllowed"
        );
        // A firewall without an access connector, a user-assigned connector without identity.
        let mut fw = cur.clone();
        fw["properties"]["defaultStorageFirewall"] = json!("Enabled");
        assert!(put_workspace(&cur, &fw).is_err());
        let mut ac = next.clone();
        ac["properties"]["accessConnector"]["identityType"] = json!("UserAssigned");
        assert!(put_workspace(&cur, &ac).is_err());
    }

    #[test]
    fn compliance_profile_round_trips_and_is_irreversible() {
        let cur = seeded("premium");
        let mut next = cur.clone();
        next["properties"]["enhancedSecurityCompliance"] = json!({
            "complianceSecurityProfile": {"value": "Enabled", "complianceStandards": ["HIPAA", "ARC_AMPE"]},
        });
        let on = put_workspace(&cur, &next).unwrap();
        let esc = &on["properties"]["enhancedSecurityCompliance"];
        assert_eq!(
            esc["complianceSecurityProfile"]["complianceStandards"],
            json!(["HIPAA", "ARC_AMPE"])
        );
        // The profile forces monitoring and automatic cluster update on.
        assert_eq!(esc["enhancedSecurityMonitoring"]["value"], "Enabled");
        assert_eq!(esc["automaticClusterUpdate"]["value"], "Enabled");
        // Leaving the field out keeps it; turning the profile off is refused.
        let mut omit = on.clone();
        omit["properties"]
            .as_object_mut()
            .unwrap()
            .remove("enhancedSecurityCompliance");
        assert_eq!(
            put_workspace(&on, &omit).unwrap()["properties"]["enhancedSecurityCompliance"],
            *esc
        );
        let mut off = on.clone();
        off["properties"]["enhancedSecurityCompliance"]["complianceSecurityProfile"]["value"] =
            json!("Disabled");
        assert_eq!(
            put_workspace(&on, &off).unwrap_err().code,
            "ComplianceSecurityProfileCannotBeDisabled"
        );
        let mut unknown = cur.clone();
        unknown["properties"]["enhancedSecurityCompliance"] = json!({
            "complianceSecurityProfile": {"value": "Enabled", "complianceStandards": ["MADE_UP"]},
        });
        assert!(put_workspace(&cur, &unknown).is_err());
        // Standard tier: no add-on.
        let std = seeded("standard");
        let mut esm = std.clone();
        esm["properties"]["enhancedSecurityCompliance"]["enhancedSecurityMonitoring"]["value"] =
            json!("Enabled");
        assert_eq!(
            put_workspace(&std, &esm).unwrap_err().code,
            "EnhancedSecurityComplianceNotSupportedForSku"
        );
    }

    #[test]
    fn operations_settle_after_their_delay() {
        let mut world = World::seed(1, &[], "http://x");
        let ws = world.workspaces.get_mut("ws-1").unwrap();
        let previous = ws.arm.clone();
        ws.arm["properties"]["provisioningState"] = json!("Updating");
        ws.arm["tags"] = json!({"new": "tag"});
        let failure = Some(OperationError {
            code: "InternalServerError".into(),
            message: "boom".into(),
        });
        let id = start_operation(
            &mut world.arm_operations,
            ws,
            previous,
            Duration::ZERO,
            failure,
        );
        settle(&mut world);
        let ws = world.workspaces.get("ws-1").unwrap();
        assert_eq!(ws.arm["properties"]["provisioningState"], "Failed");
        assert_eq!(
            ws.arm["tags"],
            json!({"environment": "emulator"}),
            "change not applied"
        );
        assert!(ws.arm_operation.is_none());
        let body = world.arm_operations[&id].status_body();
        assert_eq!(body["status"], "Failed");
        assert_eq!(body["error"]["code"], "InternalServerError");
        assert_eq!(retry_after(Duration::from_millis(200)), 1);
        assert_eq!(retry_after(Duration::from_millis(2500)), 3);
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
        let sub = format!("/subscriptions/{SUBSCRIPTION_ID}");
        assert_eq!(
            parse_target(&format!("{sub}/providers/Microsoft.Databricks/workspaces")).unwrap(),
            Target::WorkspacesInSubscription
        );
        assert_eq!(
            parse_target(&format!(
                "{sub}/resourceGroups/rg/providers/Microsoft.Databricks/workspaces"
            ))
            .unwrap(),
            Target::WorkspacesInGroup
        );
        assert_eq!(
            parse_target(&format!(
                "{sub}/providers/Microsoft.Databricks/locations/westeurope/operationStatuses/op1"
            ))
            .unwrap(),
            Target::OperationStatus("op1".into())
        );
        // azure-mgmt-monitor joins `/{resourceUri}` with an id that starts with a slash.
        assert_eq!(
            parse_target(&format!(
                "/{id}/providers/Microsoft.Insights/diagnosticSettings"
            ))
            .unwrap(),
            Target::DiagnosticList("ws-1".into())
        );
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
        // Every category Azure lists, whatever the case.
        let all: Vec<Value> = LOG_CATEGORIES
            .iter()
            .map(|c| json!({"category": c.to_ascii_uppercase(), "enabled": true}))
            .collect();
        let every = json!({"properties": {"workspaceId": "x", "logs": all}});
        put_diagnostic_setting("/r", "bw", &every).unwrap();
    }
}
