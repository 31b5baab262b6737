//! Azure posture read through Azure Resource Manager: `azure/noPublicIp`,
//! `azure/publicNetworkAccess`, `azure/vnetInjection`, `azure/infrastructureEncryption`,
//! `azure/customerManagedKeys`, `azure/diagnosticLogs`.
//!
//! ARM's PATCH of a Databricks workspace changes tags only, so the two properties that can be
//! changed in place (`enableNoPublicIp`, `publicNetworkAccess`) are fixed together by one GET and
//! one PUT of the full resource. VNet injection and infrastructure encryption are set when a
//! workspace is created (`RequiresRecreate`); customer-managed keys need key details brickwarden
//! does not have (verified only).

use serde_json::{Map, Value, json};

use super::{Action, Change, ControlResult, Read, ReadError, Step, family_mode};
use crate::api::{
    AzurePolicy, ControlState, CustomerManagedKeys, DiagnosticLogs, Mode, PublicNetworkAccess,
};
use crate::clients::ApiError;
use crate::clients::arm::{ArmClient, ArmWorkspace, DiagnosticSetting};

pub const NO_PUBLIC_IP_ID: &str = "azure/noPublicIp";
pub const PUBLIC_NETWORK_ACCESS_ID: &str = "azure/publicNetworkAccess";
pub const VNET_INJECTION_ID: &str = "azure/vnetInjection";
pub const INFRASTRUCTURE_ENCRYPTION_ID: &str = "azure/infrastructureEncryption";
pub const CUSTOMER_MANAGED_KEYS_ID: &str = "azure/customerManagedKeys";
pub const DIAGNOSTIC_LOGS_ID: &str = "azure/diagnosticLogs";

/// Why the azure controls do not apply to a workspace without an ARM resource id.
pub const NO_RESOURCE_ID: &str = "needs spec.azureResourceId and an Entra ID identity \
                                  (azureWorkloadIdentity or azureClientSecret)";
/// Why the azure controls do not apply when the workspace's identity cannot call ARM.
pub const NO_ENTRA_IDENTITY: &str = "needs spec.azureResourceId and an Entra ID identity \
                                     (azureWorkloadIdentity or azureClientSecret): spec.auth \
                                     uses a method Azure Resource Manager does not accept";
pub const CMK_VERIFY_ONLY: &str = "configure the key in Azure; brickwarden verifies only";
/// Why IP access lists do not apply to a workspace reachable only over Private Link.
pub const PRIVATE_LINK_ONLY: &str = "publicNetworkAccess is Disabled: the workspace is reachable \
                                     only over Private Link, where IP access lists do not apply";

/// `keySource` of a customer-managed key.
const KEY_VAULT: &str = "Microsoft.Keyvault";
/// The category group that covers every log category.
const ALL_LOGS: &str = "allLogs";

const NPIP: &[&str] = &[
    "best practices: secure cluster connectivity (No Public IP / NPIP)",
    "SAT NS-6",
];
const PRIVATE_LINK: &[&str] = &["best practices: configure Azure Private Link"];
const VNET: &[&str] = &[
    "best practices: deploy Azure Databricks in your own Azure virtual network (VNet injection)",
    "SAT NS-4",
];
const DOUBLE_ENCRYPTION: &[&str] =
    &["best practices: encrypt storage accounts and restrict access"];
const CMK: &[&str] = &[
    "best practices: add a customer-managed key for managed services",
    "best practices: add a customer-managed key for managed disks",
];
const DIAGNOSTICS: &[&str] = &["best practices: diagnostic log delivery", "SAT GOV-3"];

/// What the azure family read.
#[derive(Debug, Clone, PartialEq)]
pub enum AzureRead {
    /// ARM cannot be read for this workspace: every azure control is NotApplicable, with this
    /// reason.
    Unavailable(String),
    Read(Box<ArmRead>),
}

/// What was read from ARM.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmRead {
    pub workspace: Result<ArmWorkspace, ReadError>,
    /// Read only when `diagnosticLogs` is declared; `Ok(None)`: no setting of that name.
    pub diagnostic_setting: Read<Option<DiagnosticSetting>>,
}

/// Reads the workspace resource and, when declared, the diagnostic setting, at once.
pub async fn observe(
    arm: Option<&ArmClient>,
    resource_id: Option<&str>,
    policy: &AzurePolicy,
) -> AzureRead {
    let (arm, resource_id) = match (arm, resource_id) {
        (_, None) => return AzureRead::Unavailable(NO_RESOURCE_ID.into()),
        (None, Some(_)) => return AzureRead::Unavailable(NO_ENTRA_IDENTITY.into()),
        (Some(arm), Some(id)) => (arm, id),
    };
    let (workspace, diagnostic_setting) = tokio::join!(arm.get_workspace(resource_id), async {
        let name = &policy.diagnostic_logs.as_ref()?.name;
        Some(match arm.get_diagnostic_setting(resource_id, name).await {
            Ok(setting) => Ok(Some(setting)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(ReadError::from(error)),
        })
    });
    AzureRead::Read(Box::new(ArmRead {
        workspace: workspace.map_err(ReadError::from),
        diagnostic_setting,
    }))
}

/// Whether the observed workspace has public network access disabled, so it is reachable only
/// over Private Link.
pub fn private_link_only(observed: &Option<AzureRead>) -> bool {
    let Some(AzureRead::Read(read)) = observed else {
        return false;
    };
    matches!(&read.workspace, Ok(ws)
        if ws.public_network_access.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("Disabled")))
}

fn access_str(access: PublicNetworkAccess) -> &'static str {
    match access {
        PublicNetworkAccess::Enabled => "Enabled",
        PublicNetworkAccess::Disabled => "Disabled",
    }
}

/// The declared controls, in the order of DESIGN.md.
fn declared_ids(policy: &AzurePolicy) -> Vec<&'static str> {
    [
        (NO_PUBLIC_IP_ID, policy.no_public_ip.is_some()),
        (
            PUBLIC_NETWORK_ACCESS_ID,
            policy.public_network_access.is_some(),
        ),
        (VNET_INJECTION_ID, policy.vnet_injection.is_some()),
        (
            INFRASTRUCTURE_ENCRYPTION_ID,
            policy.infrastructure_encryption.is_some(),
        ),
        (
            CUSTOMER_MANAGED_KEYS_ID,
            policy
                .customer_managed_keys
                .as_ref()
                .is_some_and(|c| c.managed_services.is_some() || c.managed_disks.is_some()),
        ),
        (DIAGNOSTIC_LOGS_ID, policy.diagnostic_logs.is_some()),
    ]
    .into_iter()
    .filter_map(|(id, declared)| declared.then_some(id))
    .collect()
}

fn references(id: &str) -> &'static [&'static str] {
    match id {
        NO_PUBLIC_IP_ID => NPIP,
        PUBLIC_NETWORK_ACCESS_ID => PRIVATE_LINK,
        VNET_INJECTION_ID => VNET,
        INFRASTRUCTURE_ENCRYPTION_ID => DOUBLE_ENCRYPTION,
        CUSTOMER_MANAGED_KEYS_ID => CMK,
        _ => DIAGNOSTICS,
    }
}

fn uses_key_vault(key_source: &Option<String>) -> bool {
    key_source
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case(KEY_VAULT))
}

/// A property Azure cannot change in place: RequiresRecreate when it differs.
fn fixed_at_creation(id: &str, what: &str, desired: bool, observed: bool) -> ControlResult {
    let result = ControlResult::compare(id, desired.to_string(), observed.to_string());
    if !result.is_drifted() {
        return result;
    }
    ControlResult {
        state: ControlState::RequiresRecreate,
        reason: Some("RequiresRecreate".into()),
        ..result
    }
    .with_message(format!(
        "{what} is set when the workspace is created and cannot be changed in place: recreate \
         the workspace to change it"
    ))
}

fn customer_managed_keys(desired: &CustomerManagedKeys, ws: &ArmWorkspace) -> ControlResult {
    if ws
        .sku
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("standard"))
    {
        return ControlResult::not_applicable(
            CUSTOMER_MANAGED_KEYS_ID,
            "customer-managed keys need the premium tier; the workspace's sku is standard",
        );
    }
    let parts = [
        (
            "managedServices",
            desired.managed_services,
            uses_key_vault(&ws.managed_services_key_source),
        ),
        (
            "managedDisks",
            desired.managed_disks,
            uses_key_vault(&ws.managed_disk_key_source),
        ),
    ];
    let (mut want, mut have) = (Vec::new(), Vec::new());
    for (name, desired, observed) in parts {
        if let Some(desired) = desired {
            want.push(format!("{name}={desired}"));
            have.push(format!("{name}={observed}"));
        }
    }
    let result = ControlResult::compare(CUSTOMER_MANAGED_KEYS_ID, want.join(" "), have.join(" "));
    if result.is_drifted() {
        ControlResult {
            reason: Some("VerifyOnly".into()),
            ..result
        }
        .with_message(CMK_VERIFY_ONLY)
    } else {
        result
    }
}

/// Whether a diagnostic setting has category (or a group covering it) enabled.
fn category_enabled(setting: &DiagnosticSetting, category: &str) -> bool {
    setting.logs.iter().any(|l| {
        l.enabled
            && (l
                .category
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(category))
                || l.category_group
                    .as_deref()
                    .is_some_and(|g| g.eq_ignore_ascii_case(ALL_LOGS)))
    })
}

fn has_destination(setting: &DiagnosticSetting) -> bool {
    [
        &setting.workspace_id,
        &setting.storage_account_id,
        &setting.event_hub_authorization_rule_id,
    ]
    .iter()
    .any(|d| d.as_deref().is_some_and(|d| !d.is_empty()))
}

fn describe_diagnostics(name: &str, destination: &str, logs: &[String]) -> String {
    let logs = if logs.is_empty() {
        "any".to_string()
    } else {
        logs.join(", ")
    };
    format!("{name} to {destination}, logs: {logs}")
}

/// Whether the live setting meets the declaration.
fn diagnostics_compliant(desired: &DiagnosticLogs, setting: &DiagnosticSetting) -> bool {
    let destination_ok = match &desired.log_analytics_workspace_id {
        // ARM resource ids compare case-insensitively.
        Some(want) => setting
            .workspace_id
            .as_deref()
            .is_some_and(|have| have.eq_ignore_ascii_case(want)),
        None => has_destination(setting),
    };
    let any_log = setting.logs.iter().any(|l| l.enabled);
    destination_ok
        && any_log
        && desired
            .categories
            .iter()
            .all(|c| category_enabled(setting, c))
}

fn diagnostic_logs(
    desired: &DiagnosticLogs,
    observed: &Read<Option<DiagnosticSetting>>,
) -> ControlResult {
    let want = describe_diagnostics(
        &desired.name,
        desired
            .log_analytics_workspace_id
            .as_deref()
            .unwrap_or("any destination"),
        &desired.categories,
    );
    let result = match observed {
        None => ControlResult::read_failed(
            DIAGNOSTIC_LOGS_ID,
            &ReadError {
                status: None,
                error_code: None,
                message: format!("diagnostic setting {} was not read", desired.name),
            },
        ),
        Some(Err(error)) => ControlResult::read_failed(DIAGNOSTIC_LOGS_ID, error),
        Some(Ok(None)) => {
            ControlResult::with_state(DIAGNOSTIC_LOGS_ID, ControlState::Drifted, want, "absent")
        }
        Some(Ok(Some(setting))) => {
            let mut enabled: Vec<String> = setting
                .logs
                .iter()
                .filter(|l| l.enabled)
                .filter_map(|l| l.category.clone().or_else(|| l.category_group.clone()))
                .collect();
            enabled.sort();
            let destination = setting
                .workspace_id
                .clone()
                .or_else(|| setting.storage_account_id.clone())
                .or_else(|| setting.event_hub_authorization_rule_id.clone())
                .unwrap_or_else(|| "no destination".into());
            let have = if enabled.is_empty() {
                format!("{} to {destination}, logs: none", desired.name)
            } else {
                describe_diagnostics(&desired.name, &destination, &enabled)
            };
            let state = if diagnostics_compliant(desired, setting) {
                ControlState::Compliant
            } else {
                ControlState::Drifted
            };
            ControlResult::with_state(DIAGNOSTIC_LOGS_ID, state, want, have)
        }
    };
    if result.is_drifted() && desired.log_analytics_workspace_id.is_none() {
        ControlResult {
            reason: Some("VerifyOnly".into()),
            ..result
        }
        .with_message(
            "no logAnalyticsWorkspaceId declared: brickwarden verifies the diagnostic setting only",
        )
    } else {
        result
    }
}

pub fn evaluate(policy: &AzurePolicy, observed: &Option<AzureRead>) -> Vec<ControlResult> {
    let Some(read) = observed else {
        return Vec::new();
    };
    let ids = declared_ids(policy);
    let (workspace, diagnostic_setting) = match read {
        AzureRead::Unavailable(reason) => {
            return ids
                .into_iter()
                .map(|id| ControlResult::not_applicable(id, reason).with_references(references(id)))
                .collect();
        }
        AzureRead::Read(read) => (&read.workspace, &read.diagnostic_setting),
    };
    ids.into_iter()
        .map(|id| {
            let result = match (id, workspace) {
                (DIAGNOSTIC_LOGS_ID, _) => {
                    let desired = policy.diagnostic_logs.as_ref().expect("declared");
                    diagnostic_logs(desired, diagnostic_setting)
                }
                (_, Err(error)) => ControlResult::read_failed(id, error),
                (NO_PUBLIC_IP_ID, Ok(ws)) => ControlResult::compare(
                    id,
                    policy.no_public_ip.expect("declared").to_string(),
                    ws.enable_no_public_ip.unwrap_or(false).to_string(),
                ),
                (PUBLIC_NETWORK_ACCESS_ID, Ok(ws)) => ControlResult::compare(
                    id,
                    access_str(policy.public_network_access.expect("declared")),
                    // ARM's default is Enabled.
                    ws.public_network_access.as_deref().unwrap_or("Enabled"),
                ),
                (VNET_INJECTION_ID, Ok(ws)) => fixed_at_creation(
                    id,
                    "VNet injection",
                    policy.vnet_injection.expect("declared"),
                    ws.vnet_injected(),
                ),
                (INFRASTRUCTURE_ENCRYPTION_ID, Ok(ws)) => fixed_at_creation(
                    id,
                    "Infrastructure encryption",
                    policy.infrastructure_encryption.expect("declared"),
                    ws.require_infrastructure_encryption.unwrap_or(false),
                ),
                (_, Ok(ws)) => customer_managed_keys(
                    policy.customer_managed_keys.as_ref().expect("declared"),
                    ws,
                ),
            };
            result.with_references(references(id))
        })
        .collect()
}

/// The PUT body that makes `current` (the live setting, if any) meet `desired`: the live
/// setting's properties with the Log Analytics workspace set and every declared category
/// enabled; other destinations and categories are kept. A setting with nothing enabled gets the
/// `allLogs` category group.
pub fn diagnostic_setting_body(
    desired: &DiagnosticLogs,
    log_analytics_workspace_id: &str,
    current: Option<&DiagnosticSetting>,
) -> Value {
    let mut properties = current
        .and_then(|c| c.raw.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    properties.insert("workspaceId".into(), json!(log_analytics_workspace_id));
    let mut logs: Vec<Value> = properties
        .get("logs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let covered_by_all = |logs: &[Value]| {
        logs.iter().any(|l| {
            l["enabled"] == true
                && l["categoryGroup"]
                    .as_str()
                    .is_some_and(|g| g.eq_ignore_ascii_case(ALL_LOGS))
        })
    };
    if !covered_by_all(&logs) {
        for category in &desired.categories {
            let existing = logs.iter_mut().find(|l| {
                l["category"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(category))
            });
            match existing {
                Some(log) => log["enabled"] = json!(true),
                None => logs.push(json!({"category": category, "enabled": true})),
            }
        }
    }
    if !logs.iter().any(|l| l["enabled"] == true) {
        logs.push(json!({"categoryGroup": ALL_LOGS, "enabled": true}));
    }
    properties.insert("logs".into(), Value::Array(logs));
    json!({ "properties": properties })
}

pub fn plan(
    policy: &AzurePolicy,
    workspace_mode: Mode,
    resource_id: Option<&str>,
    observed: &Option<AzureRead>,
    results: &[ControlResult],
    private_network: bool,
) -> Vec<Action> {
    let (Some(resource_id), Some(AzureRead::Read(read))) = (resource_id, observed) else {
        return Vec::new();
    };
    let diagnostic_setting = &read.diagnostic_setting;
    let mode = family_mode(workspace_mode, policy.mode);
    let drifted = |id: &str| results.iter().any(|r| r.id == id && r.is_drifted());
    let mut actions = Vec::new();

    // Both in-place properties in one GET + PUT.
    let no_public_ip = policy.no_public_ip.filter(|_| drifted(NO_PUBLIC_IP_ID));
    let public_network_access = policy
        .public_network_access
        .filter(|_| drifted(PUBLIC_NETWORK_ACCESS_ID))
        .map(|a| access_str(a).to_string());
    let put = |enable_no_public_ip: Option<bool>, public_network_access: Option<String>| {
        let controls = [
            (NO_PUBLIC_IP_ID, enable_no_public_ip.is_some()),
            (PUBLIC_NETWORK_ACCESS_ID, public_network_access.is_some()),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(id, _)| id.to_string())
        .collect();
        Action {
            controls,
            step: Step::Network,
            mode,
            change: Change::PutArmWorkspace {
                resource_id: resource_id.to_string(),
                enable_no_public_ip,
                public_network_access,
            },
        }
    };
    // Disabling public access is blocked unless brickwarden reaches the workspace privately; it
    // then goes alone, so that the No Public IP fix is not held back with it.
    let closes_public_access = public_network_access.as_deref() == Some("Disabled");
    if closes_public_access && !private_network {
        if no_public_ip.is_some() {
            actions.push(put(no_public_ip, None));
        }
        actions.push(put(None, public_network_access));
    } else if no_public_ip.is_some() || public_network_access.is_some() {
        actions.push(put(no_public_ip, public_network_access));
    }

    if let (Some(desired), Some(Ok(current)), true) = (
        &policy.diagnostic_logs,
        diagnostic_setting,
        drifted(DIAGNOSTIC_LOGS_ID),
    ) && let Some(workspace_id) = &desired.log_analytics_workspace_id
    {
        actions.push(Action {
            controls: vec![DIAGNOSTIC_LOGS_ID.to_string()],
            step: Step::Configure,
            mode,
            change: Change::PutDiagnosticSetting {
                resource_id: resource_id.to_string(),
                name: desired.name.clone(),
                body: diagnostic_setting_body(desired, workspace_id, current.as_ref()),
            },
        });
    }
    actions
}

/// Sets `path` in `target`, creating objects on the way; fails if a non-object is in the way.
fn set_path(target: &mut Value, path: &[&str], value: Value) -> Result<(), ApiError> {
    let (last, parents) = path.split_last().expect("a non-empty path");
    let mut current = target;
    for key in parents {
        current = current
            .as_object_mut()
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!("ARM resource: {key} is not in an object"))
            })?
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    current
        .as_object_mut()
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!("ARM resource: {last} is not in an object"))
        })?
        .insert(last.to_string(), value);
    Ok(())
}

/// Executes a [`Change::PutArmWorkspace`]: GET the full resource, change only the declared
/// properties, PUT all of it back (ARM's PATCH would change tags only).
pub async fn put_workspace(
    arm: &ArmClient,
    resource_id: &str,
    enable_no_public_ip: Option<bool>,
    public_network_access: Option<&str>,
) -> Result<(), ApiError> {
    let mut raw = arm.get_workspace(resource_id).await?.raw;
    if let Some(value) = enable_no_public_ip {
        set_path(
            &mut raw,
            &["properties", "parameters", "enableNoPublicIp", "value"],
            json!(value),
        )?;
    }
    if let Some(access) = public_network_access {
        set_path(
            &mut raw,
            &["properties", "publicNetworkAccess"],
            json!(access),
        )?;
    }
    arm.put_workspace(resource_id, &raw).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ControlState as S;

    fn arm(sku: &str, edit: impl FnOnce(&mut Value)) -> ArmWorkspace {
        let mut raw = json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w",
            "sku": {"name": sku},
            "properties": {
                "parameters": {
                    "enableNoPublicIp": {"type": "Bool", "value": false},
                    "requireInfrastructureEncryption": {"type": "Bool", "value": false},
                },
                "publicNetworkAccess": "Enabled",
            },
        });
        edit(&mut raw);
        ArmWorkspace::from_raw(raw)
    }

    const LA: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la";
    const RID: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w";

    fn diagnostic(workspace_id: &str, logs: Value) -> DiagnosticSetting {
        DiagnosticSetting::from_raw(json!({
            "name": "brickwarden",
            "properties": {"workspaceId": workspace_id, "logs": logs},
        }))
    }

    fn diagnostics(categories: &[&str], la: Option<&str>) -> DiagnosticLogs {
        DiagnosticLogs {
            name: "brickwarden".into(),
            log_analytics_workspace_id: la.map(str::to_string),
            categories: categories.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn read(ws: ArmWorkspace, diag: Read<Option<DiagnosticSetting>>) -> Option<AzureRead> {
        Some(AzureRead::Read(Box::new(ArmRead {
            workspace: Ok(ws),
            diagnostic_setting: diag,
        })))
    }

    fn full_policy() -> AzurePolicy {
        AzurePolicy {
            mode: None,
            no_public_ip: Some(true),
            public_network_access: Some(PublicNetworkAccess::Disabled),
            vnet_injection: Some(true),
            infrastructure_encryption: Some(true),
            customer_managed_keys: Some(CustomerManagedKeys {
                managed_services: Some(true),
                managed_disks: Some(true),
            }),
            diagnostic_logs: Some(diagnostics(&["accounts", "secrets"], Some(LA))),
        }
    }

    fn states(results: &[ControlResult]) -> Vec<(&str, ControlState)> {
        results.iter().map(|r| (r.id.as_str(), r.state)).collect()
    }

    #[test]
    fn unavailable_arm_makes_every_control_not_applicable() {
        for reason in [NO_RESOURCE_ID, NO_ENTRA_IDENTITY] {
            let results = evaluate(&full_policy(), &Some(AzureRead::Unavailable(reason.into())));
            assert_eq!(results.len(), 6);
            for r in &results {
                assert_eq!(r.state, S::NotApplicable, "{}", r.id);
                assert_eq!(r.message.as_deref(), Some(reason));
                assert!(!r.references.is_empty());
            }
            assert!(
                plan(
                    &full_policy(),
                    Mode::Enforce,
                    Some(RID),
                    &Some(AzureRead::Unavailable(reason.into())),
                    &results,
                    true
                )
                .is_empty()
            );
        }
        assert!(evaluate(&full_policy(), &None).is_empty());
    }

    #[test]
    fn insecure_premium_workspace() {
        let observed = read(arm("premium", |_| {}), Some(Ok(None)));
        let results = evaluate(&full_policy(), &observed);
        assert_eq!(
            states(&results),
            [
                (NO_PUBLIC_IP_ID, S::Drifted),
                (PUBLIC_NETWORK_ACCESS_ID, S::Drifted),
                (VNET_INJECTION_ID, S::RequiresRecreate),
                (INFRASTRUCTURE_ENCRYPTION_ID, S::RequiresRecreate),
                (CUSTOMER_MANAGED_KEYS_ID, S::Drifted),
                (DIAGNOSTIC_LOGS_ID, S::Drifted),
            ]
        );
        assert_eq!(results[4].message.as_deref(), Some(CMK_VERIFY_ONLY));
        assert_eq!(
            results[4].observed.as_deref(),
            Some("managedServices=false managedDisks=false")
        );
        assert_eq!(results[5].observed.as_deref(), Some("absent"));
        assert!(results[0].references.contains(&"SAT NS-6".to_string()));
        assert!(results[2].references.contains(&"SAT NS-4".to_string()));
        assert!(results[5].references.contains(&"SAT GOV-3".to_string()));

        let actions = plan(
            &full_policy(),
            Mode::Enforce,
            Some(RID),
            &observed,
            &results,
            true,
        );
        let described: Vec<_> = actions.iter().map(|a| a.describe()).collect();
        assert_eq!(
            described,
            [
                "PUT ARM workspace enableNoPublicIp=true publicNetworkAccess=Disabled",
                "PUT diagnostic setting brickwarden",
            ]
        );
        assert_eq!(
            actions[0].controls,
            [NO_PUBLIC_IP_ID, PUBLIC_NETWORK_ACCESS_ID]
        );
        assert_eq!(actions[0].step, Step::Network);
        let Change::PutDiagnosticSetting { body, .. } = &actions[1].change else {
            panic!()
        };
        assert_eq!(
            body,
            &json!({"properties": {"workspaceId": LA, "logs": [
                {"category": "accounts", "enabled": true},
                {"category": "secrets", "enabled": true},
            ]}})
        );
    }

    #[test]
    fn compliant_workspace_plans_nothing() {
        let ws = arm("premium", |raw| {
            let p = &mut raw["properties"];
            p["parameters"]["enableNoPublicIp"]["value"] = json!(true);
            p["parameters"]["requireInfrastructureEncryption"]["value"] = json!(true);
            p["parameters"]["customVirtualNetworkId"] = json!({"value": "/subscriptions/s/vnet"});
            p["publicNetworkAccess"] = json!("Disabled");
            p["encryption"] = json!({"entities": {
                "managedServices": {"keySource": "Microsoft.Keyvault"},
                "managedDisk": {"keySource": "microsoft.keyvault"},
            }});
        });
        let diag = diagnostic(
            &LA.to_uppercase(),
            json!([{"category": "accounts", "enabled": true}, {"category": "secrets", "enabled": true}, {"category": "jobs", "enabled": false}]),
        );
        let observed = read(ws, Some(Ok(Some(diag))));
        let results = evaluate(&full_policy(), &observed);
        assert!(
            results.iter().all(|r| r.state == S::Compliant),
            "{results:#?}"
        );
        assert!(
            plan(
                &full_policy(),
                Mode::Enforce,
                Some(RID),
                &observed,
                &results,
                true
            )
            .is_empty()
        );
        assert!(private_link_only(&observed));
    }

    #[test]
    fn one_property_one_put() {
        // (noPublicIp live, publicNetworkAccess live) -> description
        let table = [
            (
                false,
                "Enabled",
                Some("PUT ARM workspace enableNoPublicIp=true publicNetworkAccess=Disabled"),
            ),
            (
                true,
                "Enabled",
                Some("PUT ARM workspace publicNetworkAccess=Disabled"),
            ),
            (
                false,
                "Disabled",
                Some("PUT ARM workspace enableNoPublicIp=true"),
            ),
            (true, "Disabled", None),
        ];
        let policy = AzurePolicy {
            no_public_ip: Some(true),
            public_network_access: Some(PublicNetworkAccess::Disabled),
            mode: Some(Mode::Audit),
            ..Default::default()
        };
        for (npip, access, expected) in table {
            let ws = arm("premium", |raw| {
                raw["properties"]["parameters"]["enableNoPublicIp"]["value"] = json!(npip);
                raw["properties"]["publicNetworkAccess"] = json!(access);
            });
            let observed = read(ws, None);
            let results = evaluate(&policy, &observed);
            let actions = plan(&policy, Mode::Enforce, Some(RID), &observed, &results, true);
            assert_eq!(
                actions.iter().map(|a| a.describe()).collect::<Vec<_>>(),
                expected.into_iter().collect::<Vec<_>>(),
                "{npip} {access}"
            );
            assert!(actions.iter().all(|a| a.mode == Mode::Audit));
        }
    }

    #[test]
    fn recreate_properties_in_every_direction() {
        // (declared, live) -> state
        let table = [
            (true, true, S::Compliant),
            (true, false, S::RequiresRecreate),
            (false, true, S::RequiresRecreate),
            (false, false, S::Compliant),
        ];
        for (declared, live, state) in table {
            let policy = AzurePolicy {
                vnet_injection: Some(declared),
                infrastructure_encryption: Some(declared),
                ..Default::default()
            };
            let ws = arm("premium", |raw| {
                let p = &mut raw["properties"]["parameters"];
                p["requireInfrastructureEncryption"]["value"] = json!(live);
                if live {
                    p["customVirtualNetworkId"] = json!({"value": "/subscriptions/s/vnet"});
                }
            });
            let observed = read(ws, None);
            let results = evaluate(&policy, &observed);
            assert_eq!(
                states(&results),
                [
                    (VNET_INJECTION_ID, state),
                    (INFRASTRUCTURE_ENCRYPTION_ID, state)
                ],
                "{declared} {live}"
            );
            if state == S::RequiresRecreate {
                assert!(results[0].message.as_deref().unwrap().contains("recreate"));
            }
            assert!(plan(&policy, Mode::Enforce, Some(RID), &observed, &results, true).is_empty());
        }
    }

    #[test]
    fn customer_managed_keys_table() {
        // (sku, services declared, disks declared, services live, disks live) -> state
        let table = [
            (
                "standard",
                Some(true),
                Some(true),
                false,
                false,
                S::NotApplicable,
            ),
            ("premium", Some(true), Some(true), true, true, S::Compliant),
            ("premium", Some(true), Some(true), true, false, S::Drifted),
            ("premium", Some(true), None, true, false, S::Compliant),
            ("premium", None, Some(true), true, false, S::Drifted),
            ("premium", Some(false), None, true, false, S::Drifted),
            (
                "trial",
                Some(false),
                Some(false),
                false,
                false,
                S::Compliant,
            ),
        ];
        for (sku, services, disks, services_live, disks_live, state) in table {
            let policy = AzurePolicy {
                customer_managed_keys: Some(CustomerManagedKeys {
                    managed_services: services,
                    managed_disks: disks,
                }),
                ..Default::default()
            };
            let ws = arm(sku, |raw| {
                let mut entities = Map::new();
                if services_live {
                    entities.insert("managedServices".into(), json!({"keySource": KEY_VAULT}));
                }
                if disks_live {
                    entities.insert("managedDisk".into(), json!({"keySource": KEY_VAULT}));
                }
                raw["properties"]["encryption"] = json!({"entities": entities});
            });
            let observed = read(ws, None);
            let results = evaluate(&policy, &observed);
            let case = format!("{sku} {services:?} {disks:?} {services_live} {disks_live}");
            assert_eq!(
                states(&results),
                [(CUSTOMER_MANAGED_KEYS_ID, state)],
                "{case}"
            );
            match state {
                S::NotApplicable => assert!(
                    results[0].message.as_deref().unwrap().contains("standard"),
                    "{case}"
                ),
                S::Drifted => assert_eq!(results[0].message.as_deref(), Some(CMK_VERIFY_ONLY)),
                _ => {}
            }
            assert!(
                plan(&policy, Mode::Enforce, Some(RID), &observed, &results, true).is_empty(),
                "{case}: CMK drift is never fixed"
            );
        }
        // Nothing declared under customerManagedKeys: no control.
        let policy = AzurePolicy {
            customer_managed_keys: Some(CustomerManagedKeys::default()),
            ..Default::default()
        };
        assert!(evaluate(&policy, &read(arm("premium", |_| {}), None)).is_empty());
    }

    #[test]
    fn diagnostic_logs_table() {
        let other_la = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/other";
        // (declared categories, declared LA, live) -> state, planned
        type Case<'a> = (
            Vec<&'a str>,
            Option<&'a str>,
            Option<DiagnosticSetting>,
            S,
            bool,
        );
        let table: Vec<Case> = vec![
            (vec!["accounts"], Some(LA), None, S::Drifted, true),
            (vec!["accounts"], None, None, S::Drifted, false),
            (
                vec!["accounts"],
                Some(LA),
                Some(diagnostic(
                    LA,
                    json!([{"category": "accounts", "enabled": true}]),
                )),
                S::Compliant,
                false,
            ),
            (
                vec!["accounts", "jobs"],
                Some(LA),
                Some(diagnostic(
                    LA,
                    json!([{"categoryGroup": "allLogs", "enabled": true}]),
                )),
                S::Compliant,
                false,
            ),
            (
                vec!["accounts", "jobs"],
                Some(LA),
                Some(diagnostic(
                    LA,
                    json!([{"category": "accounts", "enabled": true}, {"category": "jobs", "enabled": false}]),
                )),
                S::Drifted,
                true,
            ),
            (
                vec!["accounts"],
                Some(LA),
                Some(diagnostic(
                    other_la,
                    json!([{"category": "accounts", "enabled": true}]),
                )),
                S::Drifted,
                true,
            ),
            (
                vec!["accounts"],
                None,
                Some(diagnostic(
                    other_la,
                    json!([{"category": "accounts", "enabled": true}]),
                )),
                S::Compliant,
                false,
            ),
            (
                vec![],
                Some(LA),
                Some(diagnostic(LA, json!([]))),
                S::Drifted,
                true,
            ),
            (
                vec!["accounts"],
                None,
                Some(diagnostic(
                    other_la,
                    json!([{"category": "clusters", "enabled": true}]),
                )),
                S::Drifted,
                false,
            ),
        ];
        for (categories, la, live, state, planned) in table {
            let policy = AzurePolicy {
                diagnostic_logs: Some(diagnostics(&categories, la)),
                ..Default::default()
            };
            let case = format!("{categories:?} {la:?} {live:?}");
            let observed = read(arm("premium", |_| {}), Some(Ok(live)));
            let results = evaluate(&policy, &observed);
            assert_eq!(states(&results), [(DIAGNOSTIC_LOGS_ID, state)], "{case}");
            if state == S::Drifted && la.is_none() {
                assert!(
                    results[0].message.as_deref().unwrap().contains("verifies"),
                    "{case}"
                );
            }
            let actions = plan(&policy, Mode::Enforce, Some(RID), &observed, &results, true);
            assert_eq!(actions.len(), usize::from(planned), "{case}");
        }
    }

    #[test]
    fn diagnostic_body_keeps_other_destinations_and_categories() {
        let live = DiagnosticSetting::from_raw(json!({"properties": {
            "workspaceId": "/old",
            "storageAccountId": "/sa",
            "logs": [{"category": "jobs", "enabled": false}, {"category": "clusters", "enabled": true}],
        }}));
        let body = diagnostic_setting_body(
            &diagnostics(&["jobs", "accounts"], Some(LA)),
            LA,
            Some(&live),
        );
        assert_eq!(
            body,
            json!({"properties": {
                "workspaceId": LA,
                "storageAccountId": "/sa",
                "logs": [
                    {"category": "jobs", "enabled": true},
                    {"category": "clusters", "enabled": true},
                    {"category": "accounts", "enabled": true},
                ],
            }})
        );
        // Nothing declared, nothing enabled: every category.
        let body = diagnostic_setting_body(&diagnostics(&[], Some(LA)), LA, None);
        assert_eq!(
            body,
            json!({"properties": {"workspaceId": LA, "logs": [{"categoryGroup": "allLogs", "enabled": true}]}})
        );
    }

    #[test]
    fn read_failures() {
        let error = ReadError {
            status: Some(403),
            error_code: Some("AuthorizationFailed".into()),
            message: "no".into(),
        };
        let observed = Some(AzureRead::Read(Box::new(ArmRead {
            workspace: Err(error.clone()),
            diagnostic_setting: Some(Ok(None)),
        })));
        let results = evaluate(&full_policy(), &observed);
        // The workspace read failed: all but the diagnostic setting fail.
        for r in &results[..5] {
            assert_eq!(
                (r.state, r.reason.as_deref()),
                (S::Failed, Some("ReadFailed"))
            );
        }
        assert_eq!(results[5].state, S::Drifted);
        let observed = read(arm("premium", |_| {}), Some(Err(error)));
        let results = evaluate(&full_policy(), &observed);
        assert_eq!(results[5].state, S::Failed);
        assert!(!private_link_only(&Some(AzureRead::Read(Box::new(
            ArmRead {
                workspace: Err(ReadError {
                    status: None,
                    error_code: None,
                    message: String::new()
                }),
                diagnostic_setting: None,
            }
        )))));
    }

    #[test]
    fn set_path_creates_objects_and_refuses_non_objects() {
        let mut raw = json!({"properties": {}});
        set_path(
            &mut raw,
            &["properties", "parameters", "enableNoPublicIp", "value"],
            json!(true),
        )
        .unwrap();
        assert_eq!(
            raw["properties"]["parameters"]["enableNoPublicIp"]["value"],
            true
        );
        let mut raw = json!({"properties": "nope"});
        assert!(
            set_path(
                &mut raw,
                &["properties", "publicNetworkAccess"],
                json!("Disabled")
            )
            .is_err()
        );
    }

    #[test]
    fn closing_public_access_goes_alone_without_private_network() {
        let observed = read(arm("premium", |_| {}), Some(Ok(None)));
        let results = evaluate(&full_policy(), &observed);
        let actions = plan(
            &full_policy(),
            Mode::Enforce,
            Some(RID),
            &observed,
            &results,
            false,
        );
        let described: Vec<_> = actions.iter().map(|a| a.describe()).collect();
        assert_eq!(
            described,
            [
                "PUT ARM workspace enableNoPublicIp=true",
                "PUT ARM workspace publicNetworkAccess=Disabled",
                "PUT diagnostic setting brickwarden",
            ]
        );
    }
}
