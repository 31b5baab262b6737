//! Settings: a workspace's at `/api/2.0/settings/types/{type}/names/default`, an account's at
//! `/api/2.0/accounts/{account_id}/settings/types/{type}/names/default` (databricks-sdk
//! `settings.py`: `AccountIpAccessEnable`, `DisableLegacyFeatures`, `PersonalComputeSetting`,
//! `CspEnablementAccountSetting`, `EsmEnablementAccountSetting`). Both are etag-guarded alike.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::RequestSpec;

const SETTING: &str = "/api/2.0/settings/types/{setting_type}/names/default";
const ACCOUNT_SETTING: &str =
    "/api/2.0/accounts/{account_id}/settings/types/{setting_type}/names/default";

// ---------------------------------------------------------------------------------------------
// Settings

/// The settings this crate manages, a workspace's or an account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SettingType {
    RestrictWorkspaceAdmins,
    AutomaticClusterUpdate,
    /// `shield_csp_enablement_ws_db`: compliance security profile; irreversible once on.
    ComplianceSecurityProfile,
    /// `shield_esm_enablement_ws_db`: enhanced security monitoring.
    EnhancedSecurityMonitoring,
    DisableLegacyDbfs,
    /// Account: `acct_ip_acl_enable`, whether the account console's IP access lists apply.
    AccountIpAccessLists,
    /// Account: `disable_legacy_features` for new workspaces.
    DisableLegacyFeatures,
    /// Account: `dcp_acct_enable`, the Personal Compute policy (`ON` / `OFF`).
    PersonalCompute,
    /// Account: `shield_csp_enablement_ac`, the compliance security profile of new workspaces.
    CspForNewWorkspaces,
    /// Account: `shield_esm_enablement_ac`, enhanced security monitoring of new workspaces.
    EsmForNewWorkspaces,
}

impl SettingType {
    /// The workspace settings.
    pub const ALL: [SettingType; 5] = [
        SettingType::RestrictWorkspaceAdmins,
        SettingType::AutomaticClusterUpdate,
        SettingType::ComplianceSecurityProfile,
        SettingType::EnhancedSecurityMonitoring,
        SettingType::DisableLegacyDbfs,
    ];

    /// The account settings.
    pub const ACCOUNT: [SettingType; 5] = [
        SettingType::AccountIpAccessLists,
        SettingType::DisableLegacyFeatures,
        SettingType::PersonalCompute,
        SettingType::CspForNewWorkspaces,
        SettingType::EsmForNewWorkspaces,
    ];

    /// The `{type}` path segment.
    pub fn api_name(self) -> &'static str {
        match self {
            SettingType::RestrictWorkspaceAdmins => "restrict_workspace_admins",
            SettingType::AutomaticClusterUpdate => "automatic_cluster_update",
            SettingType::ComplianceSecurityProfile => "shield_csp_enablement_ws_db",
            SettingType::EnhancedSecurityMonitoring => "shield_esm_enablement_ws_db",
            SettingType::DisableLegacyDbfs => "disable_legacy_dbfs",
            SettingType::AccountIpAccessLists => "acct_ip_acl_enable",
            SettingType::DisableLegacyFeatures => "disable_legacy_features",
            SettingType::PersonalCompute => "dcp_acct_enable",
            SettingType::CspForNewWorkspaces => "shield_csp_enablement_ac",
            SettingType::EsmForNewWorkspaces => "shield_esm_enablement_ac",
        }
    }

    /// The field of the setting object that holds the value.
    pub fn value_field(self) -> &'static str {
        match self {
            SettingType::RestrictWorkspaceAdmins => "restrict_workspace_admins",
            SettingType::AutomaticClusterUpdate => "automatic_cluster_update_workspace",
            SettingType::ComplianceSecurityProfile => "compliance_security_profile_workspace",
            SettingType::EnhancedSecurityMonitoring => "enhanced_security_monitoring_workspace",
            SettingType::DisableLegacyDbfs => "disable_legacy_dbfs",
            SettingType::AccountIpAccessLists => "acct_ip_acl_enable",
            SettingType::DisableLegacyFeatures => "disable_legacy_features",
            SettingType::PersonalCompute => "personal_compute",
            SettingType::CspForNewWorkspaces => "csp_enablement_account",
            SettingType::EsmForNewWorkspaces => "esm_enablement_account",
        }
    }

    pub fn from_api_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::ACCOUNT)
            .find(|t| t.api_name() == name)
    }
}

impl fmt::Display for SettingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// `restrict_workspace_admins.status` values.
pub const RESTRICT_ADMINS_ON: &str = "RESTRICT_TOKENS_AND_JOB_RUN_AS";
pub const RESTRICT_ADMINS_OFF: &str = "ALLOW_ALL";

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestrictWorkspaceAdminsMessage {
    /// `ALLOW_ALL` or `RESTRICT_TOKENS_AND_JOB_RUN_AS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterAutoRestartMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_toggle: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_even_if_no_updates_available: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ComplianceSecurityProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    /// e.g. `HIPAA`, `PCI_DSS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_standards: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnhancedSecurityMonitoring {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
}

/// `personal_compute.value`: `ON` lets every user create Personal Compute resources;
/// `DELEGATE` leaves it to each workspace's ACLs on the policy. The API knows no other value
/// (databricks-sdk `PersonalComputeMessageEnum`: `ON`, `DELEGATE`).
pub const PERSONAL_COMPUTE_ON: &str = "ON";
pub const PERSONAL_COMPUTE_OFF: &str = "DELEGATE";

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonalComputeMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `csp_enablement_account` and `esm_enablement_account`: the default of new workspaces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnforcedForNewWorkspaces {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enforced: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_standards: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BooleanMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<bool>,
}

/// Typed view of a setting's value field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    RestrictWorkspaceAdmins(RestrictWorkspaceAdminsMessage),
    AutomaticClusterUpdate(ClusterAutoRestartMessage),
    ComplianceSecurityProfile(ComplianceSecurityProfile),
    EnhancedSecurityMonitoring(EnhancedSecurityMonitoring),
    DisableLegacyDbfs(BooleanMessage),
    AccountIpAccessLists(BooleanMessage),
    DisableLegacyFeatures(BooleanMessage),
    PersonalCompute(PersonalComputeMessage),
    CspForNewWorkspaces(EnforcedForNewWorkspaces),
    EsmForNewWorkspaces(EnforcedForNewWorkspaces),
}

impl SettingValue {
    /// The value that turns a setting on or off (for restrict-admins: restrict or allow all).
    pub fn switch(setting_type: SettingType, on: bool) -> Self {
        match setting_type {
            SettingType::RestrictWorkspaceAdmins => {
                let status = if on {
                    RESTRICT_ADMINS_ON
                } else {
                    RESTRICT_ADMINS_OFF
                };
                SettingValue::RestrictWorkspaceAdmins(RestrictWorkspaceAdminsMessage {
                    status: Some(status.to_string()),
                })
            }
            SettingType::AutomaticClusterUpdate => {
                SettingValue::AutomaticClusterUpdate(ClusterAutoRestartMessage {
                    enabled: Some(on),
                    ..Default::default()
                })
            }
            SettingType::ComplianceSecurityProfile => {
                SettingValue::ComplianceSecurityProfile(ComplianceSecurityProfile {
                    is_enabled: Some(on),
                    compliance_standards: None,
                })
            }
            SettingType::EnhancedSecurityMonitoring => {
                SettingValue::EnhancedSecurityMonitoring(EnhancedSecurityMonitoring {
                    is_enabled: Some(on),
                })
            }
            SettingType::DisableLegacyDbfs => {
                SettingValue::DisableLegacyDbfs(BooleanMessage { value: Some(on) })
            }
            SettingType::AccountIpAccessLists => {
                SettingValue::AccountIpAccessLists(BooleanMessage { value: Some(on) })
            }
            SettingType::DisableLegacyFeatures => {
                SettingValue::DisableLegacyFeatures(BooleanMessage { value: Some(on) })
            }
            SettingType::PersonalCompute => SettingValue::PersonalCompute(PersonalComputeMessage {
                value: Some(
                    if on {
                        PERSONAL_COMPUTE_ON
                    } else {
                        PERSONAL_COMPUTE_OFF
                    }
                    .into(),
                ),
            }),
            SettingType::CspForNewWorkspaces => {
                SettingValue::CspForNewWorkspaces(EnforcedForNewWorkspaces {
                    is_enforced: Some(on),
                    compliance_standards: None,
                })
            }
            SettingType::EsmForNewWorkspaces => {
                SettingValue::EsmForNewWorkspaces(EnforcedForNewWorkspaces {
                    is_enforced: Some(on),
                    compliance_standards: None,
                })
            }
        }
    }

    pub fn setting_type(&self) -> SettingType {
        match self {
            SettingValue::RestrictWorkspaceAdmins(_) => SettingType::RestrictWorkspaceAdmins,
            SettingValue::AutomaticClusterUpdate(_) => SettingType::AutomaticClusterUpdate,
            SettingValue::ComplianceSecurityProfile(_) => SettingType::ComplianceSecurityProfile,
            SettingValue::EnhancedSecurityMonitoring(_) => SettingType::EnhancedSecurityMonitoring,
            SettingValue::DisableLegacyDbfs(_) => SettingType::DisableLegacyDbfs,
            SettingValue::AccountIpAccessLists(_) => SettingType::AccountIpAccessLists,
            SettingValue::DisableLegacyFeatures(_) => SettingType::DisableLegacyFeatures,
            SettingValue::PersonalCompute(_) => SettingType::PersonalCompute,
            SettingValue::CspForNewWorkspaces(_) => SettingType::CspForNewWorkspaces,
            SettingValue::EsmForNewWorkspaces(_) => SettingType::EsmForNewWorkspaces,
        }
    }

    /// Whether the setting is on; `None` when the API did not say.
    pub fn is_on(&self) -> Option<bool> {
        match self {
            SettingValue::RestrictWorkspaceAdmins(m) => {
                m.status.as_deref().map(|s| s == RESTRICT_ADMINS_ON)
            }
            SettingValue::AutomaticClusterUpdate(m) => m.enabled,
            SettingValue::ComplianceSecurityProfile(m) => m.is_enabled,
            SettingValue::EnhancedSecurityMonitoring(m) => m.is_enabled,
            SettingValue::DisableLegacyDbfs(m)
            | SettingValue::AccountIpAccessLists(m)
            | SettingValue::DisableLegacyFeatures(m) => m.value,
            SettingValue::PersonalCompute(m) => {
                m.value.as_deref().map(|v| v == PERSONAL_COMPUTE_ON)
            }
            SettingValue::CspForNewWorkspaces(m) | SettingValue::EsmForNewWorkspaces(m) => {
                m.is_enforced
            }
        }
    }

    fn to_json(&self) -> Value {
        let v = match self {
            SettingValue::RestrictWorkspaceAdmins(m) => serde_json::to_value(m),
            SettingValue::AutomaticClusterUpdate(m) => serde_json::to_value(m),
            SettingValue::ComplianceSecurityProfile(m) => serde_json::to_value(m),
            SettingValue::EnhancedSecurityMonitoring(m) => serde_json::to_value(m),
            SettingValue::DisableLegacyDbfs(m)
            | SettingValue::AccountIpAccessLists(m)
            | SettingValue::DisableLegacyFeatures(m) => serde_json::to_value(m),
            SettingValue::PersonalCompute(m) => serde_json::to_value(m),
            SettingValue::CspForNewWorkspaces(m) | SettingValue::EsmForNewWorkspaces(m) => {
                serde_json::to_value(m)
            }
        };
        v.unwrap_or(Value::Null)
    }
}

/// A setting object (`{etag, setting_name, <value_field>: {...}}`), raw JSON kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    setting_type: SettingType,
    raw: Map<String, Value>,
}

impl Setting {
    /// An empty setting of `setting_type` (for `allow_missing` updates without a prior read).
    pub fn new(setting_type: SettingType) -> Self {
        let mut raw = Map::new();
        raw.insert("setting_name".into(), Value::String("default".into()));
        raw.insert(setting_type.value_field().into(), Value::Object(Map::new()));
        Self { setting_type, raw }
    }

    /// Wraps a setting object as the API returned it.
    pub fn from_raw(setting_type: SettingType, raw: Map<String, Value>) -> Self {
        Self { setting_type, raw }
    }

    pub fn setting_type(&self) -> SettingType {
        self.setting_type
    }

    /// The optimistic-concurrency token to send back with an update.
    pub fn etag(&self) -> Option<&str> {
        self.raw.get("etag").and_then(Value::as_str)
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The typed value; fields the API omitted are `None`.
    pub fn value(&self) -> SettingValue {
        let field = self.raw.get(self.setting_type.value_field());
        fn typed<T: DeserializeOwned + Default>(v: Option<&Value>) -> T {
            v.and_then(|v| T::deserialize(v).ok()).unwrap_or_default()
        }
        match self.setting_type {
            SettingType::RestrictWorkspaceAdmins => {
                SettingValue::RestrictWorkspaceAdmins(typed(field))
            }
            SettingType::AutomaticClusterUpdate => {
                SettingValue::AutomaticClusterUpdate(typed(field))
            }
            SettingType::ComplianceSecurityProfile => {
                SettingValue::ComplianceSecurityProfile(typed(field))
            }
            SettingType::EnhancedSecurityMonitoring => {
                SettingValue::EnhancedSecurityMonitoring(typed(field))
            }
            SettingType::DisableLegacyDbfs => SettingValue::DisableLegacyDbfs(typed(field)),
            SettingType::AccountIpAccessLists => SettingValue::AccountIpAccessLists(typed(field)),
            SettingType::DisableLegacyFeatures => SettingValue::DisableLegacyFeatures(typed(field)),
            SettingType::PersonalCompute => SettingValue::PersonalCompute(typed(field)),
            SettingType::CspForNewWorkspaces => SettingValue::CspForNewWorkspaces(typed(field)),
            SettingType::EsmForNewWorkspaces => SettingValue::EsmForNewWorkspaces(typed(field)),
        }
    }

    /// Merges the `Some` fields of `value` into the value object (other fields, known or not,
    /// are kept) and returns the `field_mask` naming exactly the fields set.
    pub fn set_value(&mut self, value: &SettingValue) -> Result<String, ApiError> {
        if value.setting_type() != self.setting_type {
            return Err(ApiError::InvalidRequest(format!(
                "value of {} given for setting {}",
                value.setting_type(),
                self.setting_type
            )));
        }
        let field = self.setting_type.value_field();
        let target = self
            .raw
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let Value::Object(target) = target else {
            unreachable!("replaced by an object above")
        };
        let mut mask = Vec::new();
        if let Value::Object(updates) = value.to_json() {
            for (k, v) in updates {
                mask.push(format!("{field}.{k}"));
                target.insert(k, v);
            }
        }
        Ok(mask.join(","))
    }
}

impl DatabricksClient {
    // --- settings ----------------------------------------------------------------------------

    pub async fn get_setting(&self, setting_type: SettingType) -> Result<Setting, ApiError> {
        let spec =
            RequestSpec::get(self.scoped(SETTING, ACCOUNT_SETTING, &[setting_type.api_name()]));
        let raw: Map<String, Value> = self.send_json(spec).await?;
        Ok(Setting::from_raw(setting_type, raw))
    }

    /// `PATCH {allow_missing: true, field_mask, setting}`. The setting must carry the etag of
    /// the last read; a stale one fails with 409 ([`ApiError::is_conflict`]): re-read, retry.
    pub async fn update_setting(
        &self,
        setting_type: SettingType,
        setting: &Setting,
        field_mask: &str,
    ) -> Result<Setting, ApiError> {
        if setting.setting_type() != setting_type {
            return Err(ApiError::InvalidRequest(format!(
                "setting of type {} sent to {}",
                setting.setting_type(),
                setting_type
            )));
        }
        let body = json!({
            "allow_missing": true,
            "field_mask": field_mask,
            "setting": setting.raw(),
        });
        let spec =
            RequestSpec::patch(self.scoped(SETTING, ACCOUNT_SETTING, &[setting_type.api_name()]))
                .json(&body)?;
        let raw: Map<String, Value> = self.send_json(spec).await?;
        Ok(Setting::from_raw(setting_type, raw))
    }

    /// Turns the setting `read` on or off: PATCH with the etag read; on a stale etag (409), or
    /// the 404 `NOT_FOUND` a never-set setting may answer (its `details` carry the etag to
    /// use, as the Terraform provider's settings resources handle it), read again and retry
    /// once (or stop if the fresh read already is as wanted).
    pub async fn switch_setting(&self, read: &Setting, on: bool) -> Result<(), ApiError> {
        let setting_type = read.setting_type();
        let value = SettingValue::switch(setting_type, on);
        let mut setting = read.clone();
        let mask = setting.set_value(&value)?;
        match self.update_setting(setting_type, &setting, &mask).await {
            Err(error) if error.is_conflict() || error.is_not_found() => {
                let mut fresh = self.get_setting(setting_type).await?;
                if fresh.value().is_on() == Some(on) {
                    return Ok(());
                }
                let mask = fresh.set_value(&value)?;
                self.update_setting(setting_type, &fresh, &mask)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        }
    }
}
