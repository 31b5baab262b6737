//! Azure posture read through Azure Resource Manager: `azure/noPublicIp`,
//! `azure/publicNetworkAccess`, `azure/vnetInjection`, `azure/infrastructureEncryption`,
//! `azure/customerManagedKeys`, `azure/diagnosticLogs`.
//!
//! The two properties that can be changed in place (`enableNoPublicIp`, `publicNetworkAccess`)
//! are fixed together by one read-modify-write of the full resource. VNet injection and
//! infrastructure encryption are set when a workspace is created (`RequiresRecreate`);
//! customer-managed keys need key details brickwarden does not have (verified only).

use std::fmt;

use super::family::{Effect, Fact, Family, Finding, Pass, Planned, Split, Step};
use super::result::{ReadError, Reason};
use super::settings::{self, IN_ARM_ON_AZURE, SettingControl, Switch};
use super::{Workspace, WorkspaceApis};
use crate::api::{
    AzurePolicy, ControlState, CustomerManagedKeys, DiagnosticLogs, Mode, PublicNetworkAccess,
};
use crate::clients::ApiError;
use crate::clients::arm::{
    ArmWorkspace, DiagnosticSetting, WorkspaceUpdate, diagnostic_setting_body,
};
use crate::clients::databricks::SettingType;

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

/// `keySource` of a customer-managed key.
const KEY_VAULT: &str = "Microsoft.Keyvault";
/// The category group that covers every log category.
const ALL_LOGS: &str = "allLogs";

/// The controls of the family, in the order of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureControl {
    NoPublicIp,
    PublicNetworkAccess,
    VnetInjection,
    InfrastructureEncryption,
    CustomerManagedKeys,
    DiagnosticLogs,
    /// A security profile setting, which on Azure lives in `enhancedSecurityCompliance`
    /// (its control id stays `settings/<name>`).
    Security(SettingType),
}

impl AzureControl {
    pub fn id(self) -> &'static str {
        match self {
            AzureControl::Security(setting_type) => settings::control_id(setting_type),
            AzureControl::NoPublicIp => "azure/noPublicIp",
            AzureControl::PublicNetworkAccess => "azure/publicNetworkAccess",
            AzureControl::VnetInjection => "azure/vnetInjection",
            AzureControl::InfrastructureEncryption => "azure/infrastructureEncryption",
            AzureControl::CustomerManagedKeys => "azure/customerManagedKeys",
            AzureControl::DiagnosticLogs => "azure/diagnosticLogs",
        }
    }

    fn references(self) -> &'static [&'static str] {
        match self {
            AzureControl::Security(setting_type) => settings::references(setting_type),
            AzureControl::NoPublicIp => NPIP,
            AzureControl::PublicNetworkAccess => PRIVATE_LINK,
            AzureControl::VnetInjection => VNET,
            AzureControl::InfrastructureEncryption => DOUBLE_ENCRYPTION,
            AzureControl::CustomerManagedKeys => CMK,
            AzureControl::DiagnosticLogs => DIAGNOSTICS,
        }
    }

    /// The controls `policy` declares.
    fn declared(policy: &AzurePolicy) -> Vec<AzureControl> {
        let cmk = policy
            .customer_managed_keys
            .as_ref()
            .is_some_and(|c| c.managed_services.is_some() || c.managed_disks.is_some());
        [
            (AzureControl::NoPublicIp, policy.no_public_ip.is_some()),
            (
                AzureControl::PublicNetworkAccess,
                policy.public_network_access.is_some(),
            ),
            (AzureControl::VnetInjection, policy.vnet_injection.is_some()),
            (
                AzureControl::InfrastructureEncryption,
                policy.infrastructure_encryption.is_some(),
            ),
            (AzureControl::CustomerManagedKeys, cmk),
            (
                AzureControl::DiagnosticLogs,
                policy.diagnostic_logs.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(control, declared)| declared.then_some(control))
        .collect()
    }
}

/// What the azure controls compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureValue {
    Switch(bool),
    Access(String),
    /// `name=uses a Key Vault key` per declared part.
    Keys(Vec<(&'static str, bool)>),
    /// A diagnostic setting: name, destination and enabled logs (empty: any).
    Diagnostics {
        name: String,
        destination: String,
        logs: Vec<String>,
    },
    /// A security profile setting.
    Setting(Switch),
    /// A diagnostic setting with no log enabled.
    NoLogs {
        name: String,
        destination: String,
    },
    Absent,
}

impl fmt::Display for AzureValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AzureValue::Switch(on) => write!(f, "{on}"),
            AzureValue::Access(access) => f.write_str(access),
            AzureValue::Keys(parts) => f.write_str(
                &parts
                    .iter()
                    .map(|(name, on)| format!("{name}={on}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            AzureValue::Diagnostics {
                name,
                destination,
                logs,
            } => {
                let logs = if logs.is_empty() {
                    "any".to_string()
                } else {
                    logs.join(", ")
                };
                write!(f, "{name} to {destination}, logs: {logs}")
            }
            AzureValue::NoLogs { name, destination } => {
                write!(f, "{name} to {destination}, logs: none")
            }
            AzureValue::Setting(switch) => switch.fmt(f),
            AzureValue::Absent => f.write_str("absent"),
        }
    }
}

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
    pub diagnostic_setting: Option<Result<Option<DiagnosticSetting>, ReadError>>,
}

/// One ARM change.
#[derive(Debug, Clone, PartialEq)]
pub enum AzureChange {
    /// One read-modify-write of the full workspace resource with these properties changed.
    PutWorkspace(WorkspaceUpdate),
    /// PUT (create or replace) a diagnostic setting of the workspace resource.
    PutDiagnosticSetting {
        name: String,
        body: serde_json::Value,
    },
}

/// The azure policy with its mode resolved, and the security profile settings that live in
/// the ARM resource, with the settings family's mode.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredAzure {
    pub policy: AzurePolicy,
    pub mode: Mode,
    pub security: Vec<SettingControl>,
    pub security_mode: Mode,
}

/// The workspace's Azure resource.
pub struct Azure;

impl Family for Azure {
    type Policy = Workspace;
    type Apis = WorkspaceApis;
    type Desired = DesiredAzure;
    type Observed = AzureRead;
    type Control = AzureControl;
    type Value = AzureValue;
    type Change = AzureChange;

    fn desired(workspace: &Workspace, pass: &Pass) -> Option<DesiredAzure> {
        let policy = &workspace.policy;
        let settings = policy
            .settings
            .as_ref()
            .filter(|_| workspace.azure_resource_id.is_some());
        let security: Vec<SettingControl> = settings
            .map(settings::controls)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| IN_ARM_ON_AZURE.contains(&c.setting_type))
            .collect();
        if policy.azure.is_none() && security.is_empty() {
            return None;
        }
        let azure = policy.azure.clone().unwrap_or_default();
        Some(DesiredAzure {
            mode: pass.mode_of(azure.mode),
            policy: azure,
            security,
            security_mode: pass.mode_of(settings.and_then(|s| s.mode)),
        })
    }

    /// Reads the workspace resource and, when declared, the diagnostic setting, at once.
    async fn observe(desired: &DesiredAzure, apis: &WorkspaceApis) -> AzureRead {
        let (arm, resource_id) = match (&apis.arm, &apis.azure_resource_id) {
            (_, None) => return AzureRead::Unavailable(NO_RESOURCE_ID.into()),
            (None, Some(_)) => return AzureRead::Unavailable(NO_ENTRA_IDENTITY.into()),
            (Some(arm), Some(id)) => (arm, id),
        };
        let (workspace, diagnostic_setting) = tokio::join!(arm.get_workspace(resource_id), async {
            let name = &desired.policy.diagnostic_logs.as_ref()?.name;
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

    fn evaluate(
        desired: &DesiredAzure,
        observed: &AzureRead,
        _pass: &Pass,
    ) -> Vec<Finding<AzureControl, AzureValue>> {
        let policy = &desired.policy;
        let mut controls = AzureControl::declared(policy);
        controls.extend(
            desired
                .security
                .iter()
                .map(|c| AzureControl::Security(c.setting_type)),
        );
        let read = match observed {
            AzureRead::Unavailable(reason) => {
                return controls
                    .into_iter()
                    .map(|c| Finding::not_applicable(c, reason).with_references(c.references()))
                    .collect();
            }
            AzureRead::Read(read) => read,
        };
        controls
            .into_iter()
            .filter_map(|control| {
                let finding = match (control, &read.workspace) {
                    (AzureControl::DiagnosticLogs, _) => {
                        diagnostic_logs(policy.diagnostic_logs.as_ref()?, &read.diagnostic_setting)
                    }
                    (_, Err(error)) => Finding::read_failed(control, error),
                    (AzureControl::NoPublicIp, Ok(ws)) => Finding::compare(
                        control,
                        AzureValue::Switch(policy.no_public_ip?),
                        AzureValue::Switch(ws.enable_no_public_ip.unwrap_or(false)),
                    ),
                    (AzureControl::PublicNetworkAccess, Ok(ws)) => Finding::compare(
                        control,
                        AzureValue::Access(access_str(policy.public_network_access?).into()),
                        // ARM's default is Enabled.
                        AzureValue::Access(
                            ws.public_network_access
                                .clone()
                                .unwrap_or_else(|| "Enabled".into()),
                        ),
                    ),
                    (AzureControl::VnetInjection, Ok(ws)) => fixed_at_creation(
                        control,
                        "VNet injection",
                        policy.vnet_injection?,
                        ws.vnet_injected(),
                    ),
                    (AzureControl::InfrastructureEncryption, Ok(ws)) => fixed_at_creation(
                        control,
                        "Infrastructure encryption",
                        policy.infrastructure_encryption?,
                        ws.require_infrastructure_encryption.unwrap_or(false),
                    ),
                    (AzureControl::CustomerManagedKeys, Ok(ws)) => {
                        customer_managed_keys(policy.customer_managed_keys.as_ref()?, ws)
                    }
                    (AzureControl::Security(setting_type), Ok(ws)) => {
                        let declared = desired
                            .security
                            .iter()
                            .find(|c| c.setting_type == setting_type)?;
                        settings::judge(control, *declared, security_value(ws, setting_type))
                            .map_values(AzureValue::Setting)
                    }
                };
                Some(finding.with_references(control.references()))
            })
            .collect()
    }

    /// The in-place properties in one read-modify-write; a diagnostic setting per PUT.
    fn plan(
        desired: &DesiredAzure,
        observed: &AzureRead,
        drifted: &[&Finding<AzureControl, AzureValue>],
        _pass: &Pass,
    ) -> Vec<Planned<AzureControl, AzureChange>> {
        let AzureRead::Read(read) = observed else {
            return Vec::new();
        };
        let policy = &desired.policy;
        let drifted = |control| drifted.iter().any(|f| f.control == control);
        let mut actions = Vec::new();

        let security = |setting_type| {
            desired
                .security
                .iter()
                .find(|c| c.setting_type == setting_type)
                .filter(|_| drifted(AzureControl::Security(setting_type)))
                .map(|c| c.desired)
        };
        let network = WorkspaceUpdate {
            enable_no_public_ip: policy
                .no_public_ip
                .filter(|_| drifted(AzureControl::NoPublicIp)),
            public_network_access: policy
                .public_network_access
                .filter(|_| drifted(AzureControl::PublicNetworkAccess))
                .map(|a| access_str(a).to_string()),
            ..WorkspaceUpdate::default()
        };
        let security = WorkspaceUpdate {
            compliance_security_profile: security(SettingType::ComplianceSecurityProfile),
            enhanced_security_monitoring: security(SettingType::EnhancedSecurityMonitoring),
            automatic_cluster_update: security(SettingType::AutomaticClusterUpdate),
            ..WorkspaceUpdate::default()
        };
        // Every in-place property in one read-modify-write when both parts run in one mode.
        let updates = if desired.mode == desired.security_mode {
            vec![(desired.mode, network.merged(security))]
        } else {
            vec![(desired.mode, network), (desired.security_mode, security)]
        };
        for (mode, update) in updates.into_iter().filter(|(_, u)| !u.is_empty()) {
            actions.push(Planned {
                controls: update_controls(&update),
                // Last: disabling public network access can cut the controller off.
                step: Step::Network,
                mode,
                change: AzureChange::PutWorkspace(update),
            });
        }

        if let (Some(logs), Some(Ok(current)), true) = (
            &policy.diagnostic_logs,
            &read.diagnostic_setting,
            drifted(AzureControl::DiagnosticLogs),
        ) && let Some(workspace_id) = &logs.log_analytics_workspace_id
        {
            let body = diagnostic_setting_body(workspace_id, &logs.categories, current.as_ref());
            let change = AzureChange::PutDiagnosticSetting {
                name: logs.name.clone(),
                body,
            };
            actions.push(Planned::one(
                AzureControl::DiagnosticLogs,
                Step::Configure,
                desired.mode,
                change,
            ));
        }
        actions
    }

    async fn execute(change: &AzureChange, apis: &WorkspaceApis) -> Result<(), ApiError> {
        let (Some(arm), Some(resource_id)) = (&apis.arm, &apis.azure_resource_id) else {
            return Err(ApiError::InvalidRequest(format!(
                "ARM workspace: {NO_ENTRA_IDENTITY}"
            )));
        };
        match change {
            AzureChange::PutWorkspace(update) => arm.update_workspace(resource_id, update).await,
            AzureChange::PutDiagnosticSetting { name, body } => arm
                .put_diagnostic_setting(resource_id, name, body)
                .await
                .map(drop),
        }
    }

    fn control_id(control: &AzureControl) -> String {
        control.id().to_string()
    }

    fn describe(change: &AzureChange) -> String {
        match change {
            AzureChange::PutWorkspace(update) => {
                let mut line = "PUT ARM workspace".to_string();
                if let Some(v) = update.enable_no_public_ip {
                    line.push_str(&format!(" enableNoPublicIp={v}"));
                }
                if let Some(v) = &update.public_network_access {
                    line.push_str(&format!(" publicNetworkAccess={v}"));
                }
                for (name, value) in [
                    (
                        "complianceSecurityProfile",
                        update.compliance_security_profile,
                    ),
                    (
                        "enhancedSecurityMonitoring",
                        update.enhanced_security_monitoring,
                    ),
                    ("automaticClusterUpdate", update.automatic_cluster_update),
                ] {
                    if let Some(on) = value {
                        let value = if on { "Enabled" } else { "Disabled" };
                        line.push_str(&format!(" {name}={value}"));
                    }
                }
                line
            }
            AzureChange::PutDiagnosticSetting { name, .. } => {
                format!("PUT diagnostic setting {name}")
            }
        }
    }

    fn effects(change: &AzureChange) -> Vec<Effect> {
        let AzureChange::PutWorkspace(update) = change else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        if update.closes_public_access() {
            effects.push(Effect::ClosesPublicNetworkAccess);
        }
        if let Some(on) = update.compliance_security_profile {
            effects.extend(settings::effects_of(
                SettingType::ComplianceSecurityProfile,
                on,
            ));
        }
        effects
    }

    /// A workspace PUT is split when one of its effects is refused, so that the other
    /// properties are not held back with it: the part that carries the effect goes alone.
    fn split_off(
        change: &AzureChange,
        effect: &Effect,
    ) -> Option<Split<AzureControl, AzureChange>> {
        let AzureChange::PutWorkspace(update) = change else {
            return None;
        };
        let part = match effect {
            Effect::ClosesPublicNetworkAccess => WorkspaceUpdate {
                public_network_access: update.public_network_access.clone(),
                ..WorkspaceUpdate::default()
            },
            Effect::TurnsOffIrreversible { .. } => WorkspaceUpdate {
                compliance_security_profile: update.compliance_security_profile,
                ..WorkspaceUpdate::default()
            },
            _ => return None,
        };
        let rest = update.without(&part);
        if rest.is_empty() {
            return None;
        }
        let split =
            |update: WorkspaceUpdate| (update_controls(&update), AzureChange::PutWorkspace(update));
        Some([split(rest), split(part)])
    }

    fn facts(_desired: &DesiredAzure, observed: &AzureRead) -> Vec<Fact> {
        private_link_only(observed)
            .then_some(Fact::PrivateLinkOnly)
            .into_iter()
            .collect()
    }
}

/// The controls a workspace update fixes.
fn update_controls(update: &WorkspaceUpdate) -> Vec<AzureControl> {
    [
        (
            AzureControl::NoPublicIp,
            update.enable_no_public_ip.is_some(),
        ),
        (
            AzureControl::PublicNetworkAccess,
            update.public_network_access.is_some(),
        ),
        (
            AzureControl::Security(SettingType::AutomaticClusterUpdate),
            update.automatic_cluster_update.is_some(),
        ),
        (
            AzureControl::Security(SettingType::ComplianceSecurityProfile),
            update.compliance_security_profile.is_some(),
        ),
        (
            AzureControl::Security(SettingType::EnhancedSecurityMonitoring),
            update.enhanced_security_monitoring.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(control, changed)| changed.then_some(control))
    .collect()
}

/// A security profile setting as the ARM resource holds it (`Enabled`/`Disabled`; absent is
/// off, as on a workspace created without it).
fn security_value(ws: &ArmWorkspace, setting_type: SettingType) -> Switch {
    let value = match setting_type {
        SettingType::ComplianceSecurityProfile => &ws.compliance_security_profile,
        SettingType::EnhancedSecurityMonitoring => &ws.enhanced_security_monitoring,
        _ => &ws.automatic_cluster_update,
    };
    Switch {
        on: value
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("Enabled")),
        shown: value.clone().unwrap_or_else(|| settings::UNSET.to_string()),
    }
}

/// Whether the observed workspace has public network access disabled, so it is reachable only
/// over Private Link.
pub fn private_link_only(observed: &AzureRead) -> bool {
    let AzureRead::Read(read) = observed else {
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

fn uses_key_vault(key_source: &Option<String>) -> bool {
    key_source
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case(KEY_VAULT))
}

type AzureFinding = Finding<AzureControl, AzureValue>;

/// A property Azure cannot change in place: RequiresRecreate when it differs.
fn fixed_at_creation(
    control: AzureControl,
    what: &str,
    desired: bool,
    observed: bool,
) -> AzureFinding {
    let finding = Finding::compare(
        control,
        AzureValue::Switch(desired),
        AzureValue::Switch(observed),
    );
    if !finding.is_drifted() {
        return finding;
    }
    finding.held(
        ControlState::RequiresRecreate,
        Reason::RequiresRecreate,
        format!(
            "{what} is set when the workspace is created and cannot be changed in place: \
             recreate the workspace to change it"
        ),
    )
}

fn customer_managed_keys(desired: &CustomerManagedKeys, ws: &ArmWorkspace) -> AzureFinding {
    let control = AzureControl::CustomerManagedKeys;
    if ws
        .sku
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("standard"))
    {
        return Finding::not_applicable(
            control,
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
            want.push((name, desired));
            have.push((name, observed));
        }
    }
    let finding = Finding::compare(control, AzureValue::Keys(want), AzureValue::Keys(have));
    if finding.is_drifted() {
        finding.held(ControlState::Drifted, Reason::VerifyOnly, CMK_VERIFY_ONLY)
    } else {
        finding
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
    observed: &Option<Result<Option<DiagnosticSetting>, ReadError>>,
) -> AzureFinding {
    let control = AzureControl::DiagnosticLogs;
    let want = AzureValue::Diagnostics {
        name: desired.name.clone(),
        destination: desired
            .log_analytics_workspace_id
            .clone()
            .unwrap_or_else(|| "any destination".into()),
        logs: desired.categories.clone(),
    };
    let finding = match observed {
        None => Finding::read_failed(
            control,
            &ReadError::not_read(format!("diagnostic setting {}", desired.name)),
        ),
        Some(Err(error)) => Finding::read_failed(control, error),
        Some(Ok(None)) => Finding::judged(control, false, want, AzureValue::Absent),
        Some(Ok(Some(setting))) => {
            let mut logs: Vec<String> = setting
                .logs
                .iter()
                .filter(|l| l.enabled)
                .filter_map(|l| l.category.clone().or_else(|| l.category_group.clone()))
                .collect();
            logs.sort();
            let destination = setting
                .workspace_id
                .clone()
                .or_else(|| setting.storage_account_id.clone())
                .or_else(|| setting.event_hub_authorization_rule_id.clone())
                .unwrap_or_else(|| "no destination".into());
            let name = desired.name.clone();
            let have = if logs.is_empty() {
                AzureValue::NoLogs { name, destination }
            } else {
                AzureValue::Diagnostics {
                    name,
                    destination,
                    logs,
                }
            };
            Finding::judged(control, diagnostics_compliant(desired, setting), want, have)
        }
    };
    if finding.is_drifted() && desired.log_analytics_workspace_id.is_none() {
        finding.held(
            ControlState::Drifted,
            Reason::VerifyOnly,
            "no logAnalyticsWorkspaceId declared: brickwarden verifies the diagnostic setting only",
        )
    } else {
        finding
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::api::ControlState as S;
    use crate::controls::ControlResult;
    use crate::controls::testing::{pass, render};

    const NO_PUBLIC_IP_ID: &str = "azure/noPublicIp";
    const PUBLIC_NETWORK_ACCESS_ID: &str = "azure/publicNetworkAccess";
    const VNET_INJECTION_ID: &str = "azure/vnetInjection";
    const INFRASTRUCTURE_ENCRYPTION_ID: &str = "azure/infrastructureEncryption";
    const CUSTOMER_MANAGED_KEYS_ID: &str = "azure/customerManagedKeys";
    const DIAGNOSTIC_LOGS_ID: &str = "azure/diagnosticLogs";

    type Read<T> = Option<Result<T, ReadError>>;

    fn desired(policy: &AzurePolicy) -> DesiredAzure {
        DesiredAzure {
            policy: policy.clone(),
            mode: policy.mode.unwrap_or(Mode::Enforce),
            security: Vec::new(),
            security_mode: Mode::Enforce,
        }
    }

    fn evaluate(policy: &AzurePolicy, observed: &Option<AzureRead>) -> Vec<ControlResult> {
        let Some(observed) = observed else {
            return Vec::new();
        };
        render::<Azure>(&Azure::evaluate(
            &desired(policy),
            observed,
            &pass(Mode::Enforce),
        ))
    }

    fn plan(
        policy: &AzurePolicy,
        observed: &Option<AzureRead>,
    ) -> Vec<Planned<AzureControl, AzureChange>> {
        let Some(observed) = observed else {
            return Vec::new();
        };
        let desired = desired(policy);
        let findings = Azure::evaluate(&desired, observed, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        Azure::plan(&desired, observed, &drifted, &pass(Mode::Enforce))
    }

    fn ids(controls: &[AzureControl]) -> Vec<&'static str> {
        controls.iter().map(|c| c.id()).collect()
    }

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
            assert!(plan(&full_policy(), &Some(AzureRead::Unavailable(reason.into()))).is_empty());
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

        let actions = plan(&full_policy(), &observed);
        let described: Vec<_> = actions.iter().map(|a| Azure::describe(&a.change)).collect();
        assert_eq!(
            described,
            [
                "PUT ARM workspace enableNoPublicIp=true publicNetworkAccess=Disabled",
                "PUT diagnostic setting brickwarden",
            ]
        );
        assert_eq!(
            ids(&actions[0].controls),
            [NO_PUBLIC_IP_ID, PUBLIC_NETWORK_ACCESS_ID]
        );
        assert_eq!(
            Azure::effects(&actions[0].change),
            [Effect::ClosesPublicNetworkAccess]
        );
        assert_eq!(actions[0].step, Step::Network);
        let AzureChange::PutDiagnosticSetting { body, .. } = &actions[1].change else {
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
        assert!(plan(&full_policy(), &observed).is_empty());
        assert!(private_link_only(observed.as_ref().unwrap()));
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
            let actions = plan(&policy, &observed);
            assert_eq!(
                actions
                    .iter()
                    .map(|a| Azure::describe(&a.change))
                    .collect::<Vec<_>>(),
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
            assert!(plan(&policy, &observed).is_empty());
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
                plan(&policy, &observed).is_empty(),
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
        let accounts = json!([{"category": "accounts", "enabled": true}]);
        let all_logs = json!([{"categoryGroup": "allLogs", "enabled": true}]);
        let jobs_off = json!([{"category": "accounts", "enabled": true}, {"category": "jobs", "enabled": false}]);
        let clusters = json!([{"category": "clusters", "enabled": true}]);
        let live = |la: &str, logs: &Value| Some(diagnostic(la, logs.clone()));
        let table: Vec<Case> = vec![
            (vec!["accounts"], Some(LA), None, S::Drifted, true),
            (vec!["accounts"], None, None, S::Drifted, false),
            (
                vec!["accounts"],
                Some(LA),
                live(LA, &accounts),
                S::Compliant,
                false,
            ),
            (
                vec!["accounts", "jobs"],
                Some(LA),
                live(LA, &all_logs),
                S::Compliant,
                false,
            ),
            (
                vec!["accounts", "jobs"],
                Some(LA),
                live(LA, &jobs_off),
                S::Drifted,
                true,
            ),
            (
                vec!["accounts"],
                Some(LA),
                live(other_la, &accounts),
                S::Drifted,
                true,
            ),
            (
                vec!["accounts"],
                None,
                live(other_la, &accounts),
                S::Compliant,
                false,
            ),
            (vec![], Some(LA), live(LA, &json!([])), S::Drifted, true),
            (
                vec!["accounts"],
                None,
                live(other_la, &clusters),
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
            let actions = plan(&policy, &observed);
            assert_eq!(actions.len(), usize::from(planned), "{case}");
        }
    }

    #[test]
    fn read_failures() {
        let error = ReadError::new(Some(403), Some("AuthorizationFailed"), "no").unauthenticated();
        let observed = Some(AzureRead::Read(Box::new(ArmRead {
            workspace: Err(error.clone()),
            diagnostic_setting: Some(Ok(None)),
        })));
        let results = evaluate(&full_policy(), &observed);
        // The workspace read failed: all but the diagnostic setting fail.
        for r in &results[..5] {
            assert_eq!((r.state, r.reason), (S::Failed, Some(Reason::ReadFailed)));
        }
        assert_eq!(results[5].state, S::Drifted);
        let observed = read(arm("premium", |_| {}), Some(Err(error)));
        let results = evaluate(&full_policy(), &observed);
        assert_eq!(results[5].state, S::Failed);
        assert!(!private_link_only(&AzureRead::Read(Box::new(ArmRead {
            workspace: Err(ReadError::not_read("workspace")),
            diagnostic_setting: None,
        }))));
    }
}
