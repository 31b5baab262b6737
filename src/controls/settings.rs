//! Settings (`/api/2.0/settings/types/{type}/names/default`): a workspace's `settings/<name>`,
//! and through the same family an account's (`accountSettings/<name>`,
//! `account/ipAccessLists/enabled`), whose API differs only in its path.
//!
//! Each declared setting is read with one GET; a fix is a PATCH of the object just read, carrying
//! its etag. The compliance security profile is irreversible: it is only ever turned on (the
//! engine's guard refuses the [`Effect::TurnsOffIrreversible`] of any change that would).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use super::family::{Effect, Fact, Family, Finding, Pass, Planned, Step};
use super::result::{ReadError, Reason};
use super::{Scope, Workspace, WorkspaceScope};
use crate::api::{ControlState, Mode, SettingsPolicy};
use crate::clients::ApiError;
use crate::clients::databricks::{
    PERSONAL_COMPUTE_OFF, PERSONAL_COMPUTE_ON, RESTRICT_ADMINS_OFF, RESTRICT_ADMINS_ON, Setting,
    SettingType, SettingValue,
};

/// What the settings family read: one result per declared setting, so one failed GET fails
/// only its own control.
pub type SettingsRead = BTreeMap<SettingType, Result<Setting, ReadError>>;

/// The string shown for a value the API did not return.
pub const UNSET: &str = "unset";

/// One declared setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingControl {
    pub setting_type: SettingType,
    pub desired: bool,
}

/// The control id of a setting: `settings/<policy field name>`.
pub fn control_id(setting_type: SettingType) -> &'static str {
    match setting_type {
        SettingType::RestrictWorkspaceAdmins => "settings/restrictWorkspaceAdmins",
        SettingType::AutomaticClusterUpdate => "settings/automaticClusterUpdate",
        SettingType::ComplianceSecurityProfile => "settings/complianceSecurityProfile",
        SettingType::EnhancedSecurityMonitoring => "settings/enhancedSecurityMonitoring",
        SettingType::DisableLegacyDbfs => "settings/disableLegacyDbfs",
        SettingType::AccountIpAccessLists => "account/ipAccessLists/enabled",
        SettingType::DisableLegacyFeatures => "accountSettings/disableLegacyFeatures",
        SettingType::PersonalCompute => "accountSettings/personalCompute",
        SettingType::CspForNewWorkspaces => {
            "accountSettings/complianceSecurityProfileForNewWorkspaces"
        }
        SettingType::EsmForNewWorkspaces => {
            "accountSettings/enhancedSecurityMonitoringForNewWorkspaces"
        }
    }
}

pub fn references(setting_type: SettingType) -> &'static [&'static str] {
    match setting_type {
        SettingType::RestrictWorkspaceAdmins => &[
            "best practices: separate admin accounts from normal user accounts",
            "SAT GOV-35",
        ],
        SettingType::AutomaticClusterUpdate => &[
            "best practices: restart clusters on a regular schedule",
            "SAT GOV-36",
        ],
        SettingType::ComplianceSecurityProfile => {
            &["best practices: highly-secure deployments", "SAT INFO-39"]
        }
        SettingType::EnhancedSecurityMonitoring => {
            &["best practices: highly-secure deployments", "SAT INFO-40"]
        }
        SettingType::DisableLegacyDbfs => {
            &["best practices: avoid storing production data in DBFS"]
        }
        SettingType::AccountIpAccessLists => &[
            "best practices: IP access lists for the account console",
            "SAT NS-8",
            "SAT NS-13",
        ],
        SettingType::DisableLegacyFeatures => &[
            "best practices: disable legacy features for new workspaces",
            "SAT GOV-37",
        ],
        SettingType::PersonalCompute => &["best practices: restrict who can create compute"],
        SettingType::CspForNewWorkspaces => &[
            "best practices: highly-secure deployments (new workspaces)",
            "SAT INFO-37",
        ],
        SettingType::EsmForNewWorkspaces => {
            &["best practices: highly-secure deployments (new workspaces)"]
        }
    }
}

/// The declared settings, in the order of DESIGN.md.
pub fn controls(policy: &SettingsPolicy) -> Vec<SettingControl> {
    [
        (
            SettingType::RestrictWorkspaceAdmins,
            policy.restrict_workspace_admins,
        ),
        (
            SettingType::AutomaticClusterUpdate,
            policy.automatic_cluster_update,
        ),
        (
            SettingType::ComplianceSecurityProfile,
            policy.compliance_security_profile,
        ),
        (
            SettingType::EnhancedSecurityMonitoring,
            policy.enhanced_security_monitoring,
        ),
        (SettingType::DisableLegacyDbfs, policy.disable_legacy_dbfs),
    ]
    .into_iter()
    .filter_map(|(setting_type, desired)| {
        desired.map(|desired| SettingControl {
            setting_type,
            desired,
        })
    })
    .collect()
}

/// How a value is shown: the status string of restrict-admins, `ON`/`OFF` for Personal
/// Compute, `true`/`false` otherwise.
pub fn render(setting_type: SettingType, on: bool) -> String {
    match (setting_type, on) {
        (SettingType::RestrictWorkspaceAdmins, true) => RESTRICT_ADMINS_ON.to_string(),
        (SettingType::RestrictWorkspaceAdmins, false) => RESTRICT_ADMINS_OFF.to_string(),
        (SettingType::PersonalCompute, true) => PERSONAL_COMPUTE_ON.to_string(),
        (SettingType::PersonalCompute, false) => PERSONAL_COMPUTE_OFF.to_string(),
        (_, on) => on.to_string(),
    }
}

/// The observed value (a value the API left out is the default, off).
fn observed_value(setting: &Setting) -> Switch {
    let value = setting.value();
    let shown = match &value {
        // Show an unknown status as the API spelled it rather than as "off".
        SettingValue::RestrictWorkspaceAdmins(m) => m.status.clone(),
        SettingValue::PersonalCompute(m) => m.value.clone(),
        other => other.is_on().map(|on| on.to_string()),
    };
    Switch {
        on: value.is_on().unwrap_or(false),
        shown: shown.unwrap_or_else(|| UNSET.to_string()),
    }
}

/// A setting's value: whether it is on, and how the API spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub on: bool,
    pub shown: String,
}

impl Switch {
    fn desired(setting_type: SettingType, on: bool) -> Switch {
        Switch {
            on,
            shown: render(setting_type, on),
        }
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A PATCH of a setting, with the object (and etag) just read, turned on or off.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingChange {
    pub read: Setting,
    pub on: bool,
}

/// The settings that, on Azure, are properties of the ARM workspace resource
/// (`properties.enhancedSecurityCompliance`) rather than objects of the settings API; the
/// Terraform provider's docs for these three settings say "on Azure use
/// azurerm_databricks_workspace".
pub const IN_ARM_ON_AZURE: [SettingType; 3] = [
    SettingType::AutomaticClusterUpdate,
    SettingType::ComplianceSecurityProfile,
    SettingType::EnhancedSecurityMonitoring,
];

/// Why such a setting is not managed on an Azure workspace without its ARM resource.
pub const NEEDS_ARM: &str = "on Azure this setting is a property of the ARM workspace resource \
                             (enhancedSecurityCompliance): set spec.azureResourceId and an Entra \
                             ID identity (azureWorkloadIdentity or azureClientSecret)";

/// Judges a switch against its desired value. The compliance security profile is
/// irreversible: a policy that wants it off once it is on is reported, never drift to fix.
pub fn judge<C>(control: C, desired: SettingControl, live: Switch) -> Finding<C, Switch> {
    let turns_off_profile = desired.setting_type == SettingType::ComplianceSecurityProfile
        && live.on
        && !desired.desired;
    let finding = Finding::judged(
        control,
        live.on == desired.desired,
        Switch::desired(desired.setting_type, desired.desired),
        live,
    )
    .with_references(references(desired.setting_type));
    if turns_off_profile {
        finding.held(
            ControlState::Failed,
            Reason::Irreversible,
            "the compliance security profile cannot be turned off once enabled; brickwarden \
             never turns it off: declare true or leave it out",
        )
    } else {
        finding
    }
}

/// The `Effect` of setting `setting_type` to `on`.
pub fn effects_of(setting_type: SettingType, on: bool) -> Vec<Effect> {
    match (setting_type, on) {
        (SettingType::ComplianceSecurityProfile, false) => vec![Effect::TurnsOffIrreversible {
            what: "the compliance security profile",
        }],
        // The account's IP access lists are switched on like a workspace's
        // `enableIpAccessLists`: the lockout guard judges it.
        (SettingType::AccountIpAccessLists, on) => vec![Effect::EnablesIpAccessLists(on)],
        _ => Vec::new(),
    }
}

/// When a setting change runs: the IP access list switch once the ALLOW lists are in place
/// (on) or before they are narrowed (off), every other setting with the configuration.
fn step_of(setting_type: SettingType, on: bool) -> Step {
    match (setting_type, on) {
        (SettingType::AccountIpAccessLists, true) => Step::EnableIpAccessLists,
        (SettingType::AccountIpAccessLists, false) => Step::WidenAccess,
        _ => Step::Configure,
    }
}

/// The declared settings this family manages through the settings API, those it reports
/// as not manageable (on Azure without an ARM resource), and the family's mode.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredSettings {
    pub controls: Vec<SettingControl>,
    pub needs_arm: Vec<SettingControl>,
    pub mode: Mode,
    /// Settings that follow another part of the policy's mode (the account's IP access list
    /// switch follows `ipAccessLists.mode`).
    pub modes: Vec<(SettingType, Mode)>,
}

impl DesiredSettings {
    fn mode_of(&self, setting_type: SettingType) -> Mode {
        self.modes
            .iter()
            .find(|(t, _)| *t == setting_type)
            .map_or(self.mode, |(_, mode)| *mode)
    }
}

/// Whose settings a [`SettingsFamily`] manages: which of the policy's settings, through which
/// client (a workspace's, or an account's that puts `/accounts/{id}` in the path).
pub trait SettingsScope: Scope {
    fn desired(policy: &Self::Policy, pass: &Pass) -> Option<DesiredSettings>;
}

/// The settings API of a workspace or an account: one GET per declared setting, one
/// etag-guarded PATCH per drifted one.
pub struct SettingsFamily<S>(PhantomData<S>);

/// A workspace's settings.
pub type Settings = SettingsFamily<WorkspaceScope>;

impl SettingsScope for WorkspaceScope {
    /// On a workspace with an ARM resource the three [`IN_ARM_ON_AZURE`] settings belong to
    /// the azure family; on an Azure workspace without one they are reported not applicable.
    fn desired(workspace: &Workspace, pass: &Pass) -> Option<DesiredSettings> {
        let p = workspace.policy.settings.as_ref()?;
        let declared = controls(p);
        let in_arm = |c: &SettingControl| IN_ARM_ON_AZURE.contains(&c.setting_type);
        let (controls, needs_arm): (Vec<_>, Vec<_>) =
            match (&workspace.azure_resource_id, workspace.on_azure) {
                (Some(_), _) => (
                    declared.into_iter().filter(|c| !in_arm(c)).collect(),
                    vec![],
                ),
                (None, true) => declared.into_iter().partition(|c| !in_arm(c)),
                (None, false) => (declared, vec![]),
            };
        (!controls.is_empty() || !needs_arm.is_empty()).then(|| DesiredSettings {
            controls,
            needs_arm,
            mode: pass.mode_of(p.mode),
            modes: Vec::new(),
        })
    }
}

impl<S: SettingsScope> Family for SettingsFamily<S> {
    type Policy = S::Policy;
    type Apis = S::Apis;
    type Desired = DesiredSettings;
    type Observed = SettingsRead;
    type Control = SettingControl;
    type Value = Switch;
    type Change = SettingChange;

    fn desired(policy: &S::Policy, pass: &Pass) -> Option<DesiredSettings> {
        S::desired(policy, pass)
    }

    /// One GET per declared setting, all at once.
    async fn observe(desired: &DesiredSettings, apis: &S::Apis) -> SettingsRead {
        let client = S::databricks(apis);
        let reads = desired.controls.iter().map(|c| async move {
            let read = client
                .get_setting(c.setting_type)
                .await
                .map_err(ReadError::from);
            (c.setting_type, read)
        });
        futures::future::join_all(reads).await.into_iter().collect()
    }

    fn evaluate(
        desired: &DesiredSettings,
        observed: &SettingsRead,
        _pass: &Pass,
    ) -> Vec<Finding<SettingControl, Switch>> {
        let read = desired
            .controls
            .iter()
            .map(|c| match observed.get(&c.setting_type) {
                None => Finding::read_failed(
                    *c,
                    &ReadError::not_read(format!("setting {}", c.setting_type)),
                )
                .with_references(references(c.setting_type)),
                Some(Err(error)) => {
                    Finding::read_failed(*c, error).with_references(references(c.setting_type))
                }
                Some(Ok(setting)) => judge(*c, *c, observed_value(setting)),
            });
        let not_applicable = desired.needs_arm.iter().map(|c| {
            Finding::not_applicable(*c, NEEDS_ARM).with_references(references(c.setting_type))
        });
        read.chain(not_applicable).collect()
    }

    /// One PATCH per drifted setting, with the setting as read (its etag). The compliance
    /// security profile goes last: turning it on forces other settings on and changes their
    /// etags.
    fn plan(
        desired: &DesiredSettings,
        observed: &SettingsRead,
        drifted: &[&Finding<SettingControl, Switch>],
        _pass: &Pass,
    ) -> Vec<Planned<SettingControl, SettingChange>> {
        let mut drifted: Vec<&SettingControl> = drifted.iter().map(|f| &f.control).collect();
        drifted.sort_by_key(|c| c.setting_type == SettingType::ComplianceSecurityProfile);
        drifted
            .into_iter()
            .filter_map(|c| {
                let Some(Ok(setting)) = observed.get(&c.setting_type) else {
                    return None;
                };
                let change = SettingChange {
                    read: setting.clone(),
                    on: c.desired,
                };
                let step = step_of(c.setting_type, c.desired);
                Some(Planned::one(
                    *c,
                    step,
                    desired.mode_of(c.setting_type),
                    change,
                ))
            })
            .collect()
    }

    async fn execute(change: &SettingChange, apis: &S::Apis) -> Result<(), ApiError> {
        S::databricks(apis)
            .switch_setting(&change.read, change.on)
            .await
    }

    fn control_id(control: &SettingControl) -> String {
        control_id(control.setting_type).to_string()
    }

    fn describe(change: &SettingChange) -> String {
        let setting_type = change.read.setting_type();
        format!(
            "PATCH setting {}={}",
            setting_type.api_name(),
            render(setting_type, change.on)
        )
    }

    fn effects(change: &SettingChange) -> Vec<Effect> {
        effects_of(change.read.setting_type(), change.on)
    }

    /// Whether the account's IP access lists are on, for the lockout guard.
    fn facts(_desired: &DesiredSettings, observed: &SettingsRead) -> Vec<Fact> {
        match observed.get(&SettingType::AccountIpAccessLists) {
            Some(Ok(setting)) => vec![Fact::IpAccessListsEnabled(
                setting.value().is_on().unwrap_or(false),
            )],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::api::Policy;
    use crate::controls::ControlResult;
    use crate::controls::Workspace;
    use crate::controls::testing::{pass, render as render_all};

    fn desired(policy: &SettingsPolicy) -> Option<DesiredSettings> {
        let policy = Policy {
            settings: Some(policy.clone()),
            ..Default::default()
        };
        Settings::desired(&Workspace::new(policy.clone()), &pass(Mode::Enforce))
    }

    fn evaluate(policy: &SettingsPolicy, read: &Option<SettingsRead>) -> Vec<ControlResult> {
        let (Some(desired), Some(read)) = (desired(policy), read) else {
            return Vec::new();
        };
        render_all::<Settings>(&Settings::evaluate(&desired, read, &pass(Mode::Enforce)))
    }

    fn plan(
        policy: &SettingsPolicy,
        read: &Option<SettingsRead>,
    ) -> Vec<Planned<SettingControl, SettingChange>> {
        let (Some(desired), Some(read)) = (desired(policy), read) else {
            return Vec::new();
        };
        let findings = Settings::evaluate(&desired, read, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        Settings::plan(&desired, read, &drifted, &pass(Mode::Enforce))
    }

    fn setting(setting_type: SettingType, value: Value) -> Setting {
        let mut raw = Map::new();
        raw.insert("etag".into(), json!("etag-1"));
        raw.insert("setting_name".into(), json!("default"));
        raw.insert(setting_type.value_field().into(), value);
        Setting::from_raw(setting_type, raw)
    }

    /// The API's message for a setting that is on or off.
    fn message(setting_type: SettingType, on: bool) -> Value {
        match setting_type {
            SettingType::RestrictWorkspaceAdmins => json!({"status": render(setting_type, on)}),
            SettingType::AutomaticClusterUpdate => json!({"enabled": on, "can_toggle": true}),
            SettingType::ComplianceSecurityProfile => {
                json!({"is_enabled": on, "compliance_standards": []})
            }
            SettingType::EnhancedSecurityMonitoring => json!({"is_enabled": on}),
            SettingType::DisableLegacyDbfs
            | SettingType::AccountIpAccessLists
            | SettingType::DisableLegacyFeatures => json!({"value": on}),
            SettingType::PersonalCompute => json!({"value": render(setting_type, on)}),
            SettingType::CspForNewWorkspaces | SettingType::EsmForNewWorkspaces => {
                json!({"is_enforced": on})
            }
        }
    }

    fn policy_with(setting_type: SettingType, desired: bool) -> SettingsPolicy {
        let mut p = SettingsPolicy::default();
        let field = match setting_type {
            SettingType::RestrictWorkspaceAdmins => &mut p.restrict_workspace_admins,
            SettingType::AutomaticClusterUpdate => &mut p.automatic_cluster_update,
            SettingType::ComplianceSecurityProfile => &mut p.compliance_security_profile,
            SettingType::EnhancedSecurityMonitoring => &mut p.enhanced_security_monitoring,
            SettingType::DisableLegacyDbfs => &mut p.disable_legacy_dbfs,
            account => panic!("{account} is an account setting"),
        };
        *field = Some(desired);
        p
    }

    fn read_of(setting_type: SettingType, value: Value) -> Option<SettingsRead> {
        Some(BTreeMap::from([(
            setting_type,
            Ok(setting(setting_type, value)),
        )]))
    }

    #[test]
    fn only_declared_settings_become_controls() {
        let p = SettingsPolicy {
            restrict_workspace_admins: Some(true),
            disable_legacy_dbfs: Some(false),
            ..Default::default()
        };
        let ids: Vec<_> = controls(&p)
            .iter()
            .map(|c| control_id(c.setting_type))
            .collect();
        assert_eq!(
            ids,
            [
                "settings/restrictWorkspaceAdmins",
                "settings/disableLegacyDbfs"
            ]
        );
        assert!(desired(&SettingsPolicy::default()).is_none());
        assert!(evaluate(&p, &None).is_empty());
    }

    #[test]
    fn every_setting_every_direction() {
        // (desired, observed on) -> state, planned
        let table = [
            (true, true, ControlState::Compliant, false),
            (true, false, ControlState::Drifted, true),
            (false, false, ControlState::Compliant, false),
            (false, true, ControlState::Drifted, true),
        ];
        for setting_type in SettingType::ALL {
            for (desired, on, state, planned) in table {
                let (state, planned) =
                    if setting_type == SettingType::ComplianceSecurityProfile && on && !desired {
                        (ControlState::Failed, false)
                    } else {
                        (state, planned)
                    };
                let p = policy_with(setting_type, desired);
                let read = read_of(setting_type, message(setting_type, on));
                let results = evaluate(&p, &read);
                let case = format!("{setting_type} desired={desired} on={on}");
                assert_eq!(results.len(), 1, "{case}");
                let r = &results[0];
                assert_eq!(r.id, control_id(setting_type), "{case}");
                assert_eq!(r.state, state, "{case}");
                assert_eq!(
                    r.desired.as_deref(),
                    Some(render(setting_type, desired).as_str())
                );
                assert_eq!(
                    r.observed.as_deref(),
                    Some(render(setting_type, on).as_str())
                );
                assert!(!r.references.is_empty(), "{case}");
                let actions = plan(&p, &read);
                assert_eq!(actions.len(), usize::from(planned), "{case}");
                if let Some(action) = actions.first() {
                    assert_eq!(
                        Settings::control_id(&action.controls[0]),
                        control_id(setting_type)
                    );
                    assert_eq!(
                        Settings::describe(&action.change),
                        format!(
                            "PATCH setting {}={}",
                            setting_type.api_name(),
                            render(setting_type, desired)
                        )
                    );
                    let SettingChange { read, on } = &action.change;
                    assert_eq!((read.etag(), *on), (Some("etag-1"), desired));
                }
            }
        }
    }

    #[test]
    fn sat_references() {
        let expected = [
            (SettingType::RestrictWorkspaceAdmins, "SAT GOV-35"),
            (SettingType::AutomaticClusterUpdate, "SAT GOV-36"),
            (SettingType::ComplianceSecurityProfile, "SAT INFO-39"),
            (SettingType::EnhancedSecurityMonitoring, "SAT INFO-40"),
        ];
        for (setting_type, sat) in expected {
            assert!(references(setting_type).contains(&sat), "{setting_type}");
        }
    }

    #[test]
    fn compliance_security_profile_is_never_turned_off() {
        let p = policy_with(SettingType::ComplianceSecurityProfile, false);
        let read = read_of(
            SettingType::ComplianceSecurityProfile,
            message(SettingType::ComplianceSecurityProfile, true),
        );
        let results = evaluate(&p, &read);
        assert_eq!(results[0].state, ControlState::Failed);
        assert_eq!(results[0].reason, Some(Reason::Irreversible));
        assert!(results[0].message.as_deref().unwrap().contains("never"));
        assert!(plan(&p, &read).is_empty());
        // A change that would turn it off says so, for the engine's guard.
        let Some(Some(Ok(setting))) =
            read.map(|r| r.get(&SettingType::ComplianceSecurityProfile).cloned())
        else {
            panic!("read")
        };
        let off = SettingChange {
            read: setting,
            on: false,
        };
        assert_eq!(
            Settings::effects(&off),
            [Effect::TurnsOffIrreversible {
                what: "the compliance security profile"
            }]
        );
    }

    #[test]
    fn missing_values_are_unset_and_off() {
        for setting_type in SettingType::ALL {
            let p = policy_with(setting_type, true);
            let read = read_of(setting_type, json!({}));
            let results = evaluate(&p, &read);
            assert_eq!(results[0].state, ControlState::Drifted, "{setting_type}");
            assert_eq!(results[0].observed.as_deref(), Some(UNSET));
            let p = policy_with(setting_type, false);
            let results = evaluate(&p, &read_of(setting_type, Value::Null));
            assert_eq!(results[0].state, ControlState::Compliant, "{setting_type}");
        }
    }

    #[test]
    fn unknown_restrict_status_is_shown_and_drifted() {
        let p = policy_with(SettingType::RestrictWorkspaceAdmins, true);
        let read = read_of(
            SettingType::RestrictWorkspaceAdmins,
            json!({"status": "SOMETHING_NEW"}),
        );
        let results = evaluate(&p, &read);
        assert_eq!(results[0].state, ControlState::Drifted);
        assert_eq!(results[0].observed.as_deref(), Some("SOMETHING_NEW"));
    }

    #[test]
    fn one_failed_read_fails_only_its_control() {
        let p = SettingsPolicy {
            restrict_workspace_admins: Some(true),
            enhanced_security_monitoring: Some(true),
            mode: Some(Mode::Audit),
            ..Default::default()
        };
        let error = ReadError::new(Some(403), Some("PERMISSION_DENIED"), "no");
        let read = Some(BTreeMap::from([
            (SettingType::RestrictWorkspaceAdmins, Err(error)),
            (
                SettingType::EnhancedSecurityMonitoring,
                Ok(setting(
                    SettingType::EnhancedSecurityMonitoring,
                    json!({"is_enabled": false}),
                )),
            ),
        ]));
        let results = evaluate(&p, &read);
        let states: Vec<_> = results.iter().map(|r| (r.id.as_str(), r.state)).collect();
        assert_eq!(
            states,
            [
                ("settings/restrictWorkspaceAdmins", ControlState::Failed),
                ("settings/enhancedSecurityMonitoring", ControlState::Drifted)
            ]
        );
        assert_eq!(results[0].reason, Some(Reason::ReadFailed));
        let actions = plan(&p, &read);
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].mode, Mode::Audit, "the family's mode wins");
        // A setting missing from the read is a failure, not drift.
        let results = evaluate(&p, &Some(BTreeMap::new()));
        assert!(results.iter().all(|r| r.state == ControlState::Failed));
    }

    #[test]
    fn compliance_profile_is_patched_last() {
        let p = SettingsPolicy {
            automatic_cluster_update: Some(true),
            compliance_security_profile: Some(true),
            enhanced_security_monitoring: Some(true),
            ..Default::default()
        };
        let read: SettingsRead = [
            SettingType::AutomaticClusterUpdate,
            SettingType::ComplianceSecurityProfile,
            SettingType::EnhancedSecurityMonitoring,
        ]
        .into_iter()
        .map(|t| (t, Ok(setting(t, message(t, false)))))
        .collect();
        let read = Some(read);
        let order: Vec<_> = plan(&p, &read)
            .iter()
            .map(|a| control_id(a.controls[0].setting_type))
            .collect();
        assert_eq!(
            order,
            [
                "settings/automaticClusterUpdate",
                "settings/enhancedSecurityMonitoring",
                "settings/complianceSecurityProfile"
            ]
        );
    }

    #[test]
    fn on_azure_the_security_profile_settings_live_in_arm() {
        let policy = Policy {
            settings: Some(SettingsPolicy {
                restrict_workspace_admins: Some(true),
                compliance_security_profile: Some(true),
                enhanced_security_monitoring: Some(true),
                automatic_cluster_update: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let types = |controls: &[SettingControl]| -> Vec<SettingType> {
            controls.iter().map(|c| c.setting_type).collect()
        };
        // Not on Azure: everything through the settings API.
        let elsewhere =
            Settings::desired(&Workspace::new(policy.clone()), &pass(Mode::Enforce)).unwrap();
        assert_eq!(elsewhere.controls.len(), 4);
        // On Azure with the ARM resource: the azure family owns the three.
        let with_arm = Workspace {
            azure_resource_id: Some(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.Databricks/workspaces/w"
                    .into(),
            ),
            on_azure: true,
            ..Workspace::new(policy.clone())
        };
        let desired = Settings::desired(&with_arm, &pass(Mode::Enforce)).unwrap();
        assert_eq!(
            types(&desired.controls),
            [SettingType::RestrictWorkspaceAdmins]
        );
        assert!(desired.needs_arm.is_empty());
        // On Azure without it: reported, never read.
        let without = Workspace {
            on_azure: true,
            ..Workspace::new(policy)
        };
        let desired = Settings::desired(&without, &pass(Mode::Enforce)).unwrap();
        assert_eq!(types(&desired.needs_arm).len(), 3);
        let results = render_all::<Settings>(&Settings::evaluate(
            &desired,
            &BTreeMap::new(),
            &pass(Mode::Enforce),
        ));
        let not_applicable: Vec<_> = results
            .iter()
            .filter(|r| r.state == ControlState::NotApplicable)
            .collect();
        assert_eq!(not_applicable.len(), 3);
        assert!(
            not_applicable
                .iter()
                .all(|r| r.message.as_deref() == Some(NEEDS_ARM))
        );
    }
}
