//! Workspace settings (`/api/2.0/settings/types/{type}/names/default`): `settings/<name>`.
//!
//! Each declared setting is read with one GET; a fix is a PATCH of the object just read, carrying
//! its etag. The compliance security profile is irreversible: it is only ever turned on.

use std::collections::BTreeMap;

use super::{Action, Change, ControlResult, ReadError, Step, family_mode};
use crate::api::{ControlState, Mode, SettingsPolicy};
use crate::clients::ApiError;
use crate::clients::databricks::{
    DatabricksClient, RESTRICT_ADMINS_OFF, RESTRICT_ADMINS_ON, Setting, SettingType, SettingValue,
};

/// What the settings family read: one result per declared setting, so one failed GET fails
/// only its own control. `None` (in [`super::Observed`]) when no setting is declared.
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
    }
}

fn references(setting_type: SettingType) -> &'static [&'static str] {
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

/// Whether any setting is declared, so the family is read.
pub fn reads_settings(policy: &SettingsPolicy) -> bool {
    !controls(policy).is_empty()
}

/// One GET per declared setting, all at once.
pub async fn observe(client: &DatabricksClient, policy: &SettingsPolicy) -> SettingsRead {
    let reads = controls(policy).into_iter().map(|c| async move {
        let read = client
            .get_setting(c.setting_type)
            .await
            .map_err(ReadError::from);
        (c.setting_type, read)
    });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// How a value is shown: the status string of restrict-admins, `true`/`false` otherwise.
pub fn render(setting_type: SettingType, on: bool) -> String {
    match (setting_type, on) {
        (SettingType::RestrictWorkspaceAdmins, true) => RESTRICT_ADMINS_ON.to_string(),
        (SettingType::RestrictWorkspaceAdmins, false) => RESTRICT_ADMINS_OFF.to_string(),
        (_, on) => on.to_string(),
    }
}

/// The observed value as shown, and whether it is on (a value the API left out is the
/// default, off).
fn observed_value(setting: &Setting) -> (String, bool) {
    let value = setting.value();
    let shown = match &value {
        // Show an unknown status as the API spelled it rather than as "off".
        SettingValue::RestrictWorkspaceAdmins(m) => m.status.clone(),
        other => other.is_on().map(|on| on.to_string()),
    };
    (
        shown.unwrap_or_else(|| UNSET.to_string()),
        value.is_on().unwrap_or(false),
    )
}

pub fn evaluate(policy: &SettingsPolicy, observed: &Option<SettingsRead>) -> Vec<ControlResult> {
    let Some(read) = observed else {
        return Vec::new();
    };
    controls(policy)
        .into_iter()
        .map(|c| {
            let id = control_id(c.setting_type);
            let desired = render(c.setting_type, c.desired);
            let result = match read.get(&c.setting_type) {
                None => ControlResult::read_failed(
                    id,
                    &ReadError {
                        status: None,
                        error_code: None,
                        message: format!("setting {} was not read", c.setting_type),
                    },
                ),
                Some(Err(error)) => ControlResult::read_failed(id, error),
                Some(Ok(setting)) => {
                    let (shown, on) = observed_value(setting);
                    let state = if on == c.desired {
                        ControlState::Compliant
                    } else {
                        ControlState::Drifted
                    };
                    let result = ControlResult::with_state(id, state, desired, shown);
                    if c.setting_type == SettingType::ComplianceSecurityProfile && on && !c.desired
                    {
                        ControlResult {
                            state: ControlState::Failed,
                            reason: Some("Irreversible".into()),
                            message: Some(
                                "the compliance security profile cannot be turned off once \
                                 enabled; brickwarden never turns it off: declare true or leave \
                                 it out"
                                    .into(),
                            ),
                            ..result
                        }
                    } else {
                        result
                    }
                }
            };
            result.with_references(references(c.setting_type))
        })
        .collect()
}

/// One PATCH per drifted setting, with the setting as read (its etag). The compliance security
/// profile goes last: turning it on forces other settings on and changes their etags.
pub fn plan(
    policy: &SettingsPolicy,
    workspace_mode: Mode,
    observed: &Option<SettingsRead>,
    results: &[ControlResult],
) -> Vec<Action> {
    let Some(read) = observed else {
        return Vec::new();
    };
    let mode = family_mode(workspace_mode, policy.mode);
    let drifted = |id: &str| results.iter().any(|r| r.id == id && r.is_drifted());
    let mut controls = controls(policy);
    controls.sort_by_key(|c| c.setting_type == SettingType::ComplianceSecurityProfile);
    controls
        .into_iter()
        .filter(|c| drifted(control_id(c.setting_type)))
        // Never turn the compliance security profile off, whatever evaluate said.
        .filter(|c| c.setting_type != SettingType::ComplianceSecurityProfile || c.desired)
        .filter_map(|c| {
            let Some(Ok(setting)) = read.get(&c.setting_type) else {
                return None;
            };
            Some(Action {
                controls: vec![control_id(c.setting_type).to_string()],
                step: Step::Configure,
                mode,
                change: Change::PatchSetting {
                    read: setting.clone(),
                    on: c.desired,
                },
            })
        })
        .collect()
}

/// Executes a [`Change::PatchSetting`]: PATCH with the etag read; on a stale etag (409) read
/// again and retry once.
pub async fn execute(client: &DatabricksClient, read: &Setting, on: bool) -> Result<(), ApiError> {
    let setting_type = read.setting_type();
    if setting_type == SettingType::ComplianceSecurityProfile && !on {
        return Err(ApiError::InvalidRequest(
            "the compliance security profile is never turned off".into(),
        ));
    }
    let value = SettingValue::switch(setting_type, on);
    let mut setting = read.clone();
    let mask = setting.set_value(&value)?;
    match client.update_setting(setting_type, &setting, &mask).await {
        Err(error) if error.is_conflict() => {
            let mut fresh = client.get_setting(setting_type).await?;
            if fresh.value().is_on() == Some(on) {
                return Ok(());
            }
            let mask = fresh.set_value(&value)?;
            client
                .update_setting(setting_type, &fresh, &mask)
                .await
                .map(drop)
        }
        other => other.map(drop),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

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
            SettingType::DisableLegacyDbfs => json!({"value": on}),
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
        assert!(!reads_settings(&SettingsPolicy::default()));
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
                let actions = plan(&p, Mode::Enforce, &read, &results);
                assert_eq!(actions.len(), usize::from(planned), "{case}");
                if let Some(action) = actions.first() {
                    assert_eq!(action.controls, [control_id(setting_type)]);
                    assert_eq!(
                        action.describe(),
                        format!(
                            "PATCH setting {}={}",
                            setting_type.api_name(),
                            render(setting_type, desired)
                        )
                    );
                    let Change::PatchSetting { read, on } = &action.change else {
                        panic!("{case}: {:?}", action.change);
                    };
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
        let mut results = evaluate(&p, &read);
        assert_eq!(results[0].state, ControlState::Failed);
        assert_eq!(results[0].reason.as_deref(), Some("Irreversible"));
        assert!(results[0].message.as_deref().unwrap().contains("never"));
        // Even a result forced to Drifted plans nothing.
        results[0].state = ControlState::Drifted;
        assert!(plan(&p, Mode::Enforce, &read, &results).is_empty());
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
        let error = ReadError {
            status: Some(403),
            error_code: Some("PERMISSION_DENIED".into()),
            message: "no".into(),
        };
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
        assert_eq!(results[0].reason.as_deref(), Some("ReadFailed"));
        let actions = plan(&p, Mode::Enforce, &read, &results);
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
        let results = evaluate(&p, &read);
        let order: Vec<_> = plan(&p, Mode::Enforce, &read, &results)
            .iter()
            .map(|a| a.controls[0].clone())
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
}
