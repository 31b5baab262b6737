//! `/api/2.0/settings/types/{type}/names/default`: etag-guarded settings objects.
//!
//! GET returns `{<field>: {...}, etag, setting_name: "default"}`. PATCH takes
//! `{allow_missing, field_mask, setting: {<field>: {...}, etag}}`. Without an etag, a setting
//! nobody ever wrote answers `404 NOT_FOUND` and one that was written `409 RESOURCE_CONFLICT`;
//! a stale etag answers `409 RESOURCE_CONFLICT`. Both carry the current etag in an `ErrorInfo`
//! detail, and both mean "retry with that etag": terraform-provider-databricks
//! `settings/generic_setting_test.go` (`TestQueryCreateDefaultNameSetting`: an update with an
//! empty etag gets 404 `NOT_FOUND` whose `ErrorInfo.metadata.etag` it retries with;
//! `TestQueryUpdateDefaultNameSettingWithConflict`: 409 `RESOURCE_CONFLICT`, same retry). Every write
//! changes the etag. The compliance security profile cannot be turned off once on, and turning
//! it on forces enhanced security monitoring and automatic cluster update on, as the real
//! service does.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Body, InWorkspace};
use crate::errors::{ApiError, Reply};
use crate::state::{SettingRecord, Workspace, fnv64};

/// One settings type the emulator serves.
#[derive(Debug)]
pub struct SettingDesc {
    /// Path segment: `/settings/types/{setting_type}/names/default`.
    pub setting_type: &'static str,
    /// Name of the field holding the message in the setting object.
    pub field: &'static str,
    /// Whether the real API has DELETE (revert to default) for it.
    pub deletable: bool,
}

pub const RESTRICT_WORKSPACE_ADMINS: &str = "restrict_workspace_admins";
pub const AUTOMATIC_CLUSTER_UPDATE: &str = "automatic_cluster_update";
pub const COMPLIANCE_SECURITY_PROFILE: &str = "shield_csp_enablement_ws_db";
pub const ENHANCED_SECURITY_MONITORING: &str = "shield_esm_enablement_ws_db";
pub const DISABLE_LEGACY_DBFS: &str = "disable_legacy_dbfs";

pub const SETTINGS: &[SettingDesc] = &[
    SettingDesc {
        setting_type: RESTRICT_WORKSPACE_ADMINS,
        field: "restrict_workspace_admins",
        deletable: true,
    },
    SettingDesc {
        setting_type: AUTOMATIC_CLUSTER_UPDATE,
        field: "automatic_cluster_update_workspace",
        deletable: false,
    },
    SettingDesc {
        setting_type: COMPLIANCE_SECURITY_PROFILE,
        field: "compliance_security_profile_workspace",
        deletable: false,
    },
    SettingDesc {
        setting_type: ENHANCED_SECURITY_MONITORING,
        field: "enhanced_security_monitoring_workspace",
        deletable: false,
    },
    SettingDesc {
        setting_type: DISABLE_LEGACY_DBFS,
        field: "disable_legacy_dbfs",
        deletable: true,
    },
];

/// databricks-sdk-py `settings.ComplianceStandard`, plus `ARC_AMPE` (CMS Acceptable Risk
/// Controls for ACA, Medicaid and Partner Entities), which the Databricks SDK generator's newer
/// `ComplianceStandard` enum has.
pub const COMPLIANCE_STANDARDS: &[&str] = &[
    "ARC_AMPE",
    "CANADA_PROTECTED_B",
    "CYBER_ESSENTIAL_PLUS",
    "FEDRAMP_HIGH",
    "FEDRAMP_IL5",
    "FEDRAMP_MODERATE",
    "GERMANY_C5",
    "GERMANY_TISAX",
    "HIPAA",
    "HITRUST",
    "IRAP_PROTECTED",
    "ISMAP",
    "ITAR_EAR",
    "KSA_ECC_CCC_DCC",
    "K_FSI",
    "NONE",
    "PCI_DSS",
];
const DAYS_OF_WEEK: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
const FREQUENCIES: &[&str] = &[
    "EVERY_WEEK",
    "FIRST_AND_THIRD_OF_MONTH",
    "FIRST_OF_MONTH",
    "FOURTH_OF_MONTH",
    "SECOND_AND_FOURTH_OF_MONTH",
    "SECOND_OF_MONTH",
    "THIRD_OF_MONTH",
];

pub fn desc(setting_type: &str) -> Option<&'static SettingDesc> {
    SETTINGS.iter().find(|d| d.setting_type == setting_type)
}

/// The default message of each setting on a fresh workspace.
pub fn default_value(setting_type: &str) -> Value {
    match setting_type {
        RESTRICT_WORKSPACE_ADMINS => json!({"status": "ALLOW_ALL"}),
        AUTOMATIC_CLUSTER_UPDATE => json!({
            "enabled": false,
            "can_toggle": true,
            "restart_even_if_no_updates_available": false,
            "maintenance_window": {"week_day_based_schedule": {
                "day_of_week": "SUNDAY",
                "frequency": "FIRST_AND_THIRD_OF_MONTH",
                "window_start_time": {"hours": 1, "minutes": 0},
            }},
            "enablement_details": {
                "forced_for_compliance_mode": false,
                "unavailable_for_disabled_entitlement": false,
                "unavailable_for_non_enterprise_tier": false,
            },
        }),
        COMPLIANCE_SECURITY_PROFILE => json!({"is_enabled": false, "compliance_standards": []}),
        ENHANCED_SECURITY_MONITORING => json!({"is_enabled": false}),
        DISABLE_LEGACY_DBFS => json!({"value": false}),
        _ => json!({}),
    }
}

pub fn initial_settings() -> Records {
    seed(SETTINGS, default_value)
}

// ---------------------------------------------------------------------------------------------
// The settings of one scope: a workspace's (here) or an account's (`crate::account::settings`).
// Each has its own table of types, default values and etag scope (its id); records, etags,
// GET, the common checks of PATCH and DELETE work the same for both.

/// A scope's settings by type.
pub type Records = BTreeMap<String, SettingRecord>;

/// Every type of `table` at its default value, never written.
pub fn seed(table: &[SettingDesc], default_value: fn(&str) -> Value) -> Records {
    table
        .iter()
        .map(|d| {
            let record = SettingRecord {
                value: default_value(d.setting_type),
                version: 1,
                written: false,
            };
            (d.setting_type.to_string(), record)
        })
        .collect()
}

pub fn record_in<'a>(records: &'a Records, d: &SettingDesc) -> &'a SettingRecord {
    records
        .get(d.setting_type)
        .expect("every served setting is seeded")
}

/// The current etag of a setting of scope `scope`: changes on every write.
pub fn etag_in(records: &Records, scope: &str, d: &SettingDesc) -> String {
    etag_of(scope, d.setting_type, record_in(records, d).version)
}

/// The setting object as GET returns it.
pub fn render_in(records: &Records, scope: &str, d: &SettingDesc) -> Value {
    json!({
        d.field: record_in(records, d).value,
        "etag": etag_in(records, scope, d),
        "setting_name": "default",
    })
}

pub fn write_in(records: &mut Records, setting_type: &str, value: Value) {
    if let Some(r) = records.get_mut(setting_type) {
        r.value = value;
        r.version += 1;
        r.written = true;
    }
}

/// The type `setting_type` of `table` under its only name, `default`.
pub fn lookup_in(
    table: &'static [SettingDesc],
    setting_type: &str,
    name: &str,
) -> Result<&'static SettingDesc, ApiError> {
    let d = table
        .iter()
        .find(|d| d.setting_type == setting_type)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Setting type {setting_type} does not exist or is not supported"
            ))
        })?;
    if name != "default" {
        return Err(ApiError::not_found(format!(
            "Setting {setting_type}/{name} does not exist: the only name is 'default'"
        )));
    }
    Ok(d)
}

/// What a PATCH asks for, before the scope's own validation: the request is well-formed, its
/// etag current, and its field mask applied to the stored value.
pub fn masked_value(
    records: &Records,
    scope: &str,
    d: &SettingDesc,
    req: PatchRequest,
) -> Result<Value, ApiError> {
    let setting = req
        .setting
        .ok_or_else(|| ApiError::invalid_parameter("Missing required field: setting"))?;
    if !setting.is_object() {
        return Err(ApiError::invalid_parameter("setting must be an object"));
    }
    let record = record_in(records, d);
    check_etag_of(
        record,
        &etag_in(records, scope, d),
        d.setting_type,
        setting["etag"].as_str(),
    )?;
    let mask = req
        .field_mask
        .ok_or_else(|| ApiError::invalid_parameter("Missing required field: field_mask"))?;
    apply_mask(&record.value, d, &setting, &mask)
}

/// DELETE: back to the default value, where the real API has a DELETE (`path` names the
/// refused request otherwise).
pub fn reset_in(
    records: &mut Records,
    scope: &str,
    d: &SettingDesc,
    etag_param: Option<&str>,
    default_value: fn(&str) -> Value,
    path: &str,
) -> Result<Value, ApiError> {
    if !d.deletable {
        return Err(ApiError::method_not_allowed("DELETE", path));
    }
    check_etag_of(
        record_in(records, d),
        &etag_in(records, scope, d),
        d.setting_type,
        etag_param,
    )?;
    write_in(records, d.setting_type, default_value(d.setting_type));
    Ok(json!({"etag": etag_in(records, scope, d)}))
}

fn scope(ws: &Workspace) -> String {
    ws.workspace_id.to_string()
}

fn record<'a>(ws: &'a Workspace, d: &SettingDesc) -> &'a SettingRecord {
    record_in(&ws.settings, d)
}

/// The current etag of a setting: changes on every write.
pub fn etag(ws: &Workspace, d: &SettingDesc) -> String {
    etag_in(&ws.settings, &scope(ws), d)
}

/// The etag of version `version` of a setting of scope `scope` (a workspace or account id).
pub fn etag_of(scope: &str, setting_type: &str, version: u64) -> String {
    let hash = fnv64(&[scope, setting_type, &version.to_string()]);
    format!("{version}-{hash:016x}")
}

/// The setting object as GET returns it.
pub fn render(ws: &Workspace, d: &SettingDesc) -> Value {
    render_in(&ws.settings, &scope(ws), d)
}

/// Whether `restrict_workspace_admins` is `RESTRICT_TOKENS_AND_JOB_RUN_AS`.
pub fn restrict_workspace_admins_on(ws: &Workspace) -> bool {
    ws.settings
        .get(RESTRICT_WORKSPACE_ADMINS)
        .is_some_and(|r| r.value["status"] == "RESTRICT_TOKENS_AND_JOB_RUN_AS")
}

fn is_on(ws: &Workspace, setting_type: &str, key: &str) -> bool {
    ws.settings
        .get(setting_type)
        .is_some_and(|r| r.value[key].as_bool() == Some(true))
}

/// The etag rules of every settings write (workspace or account): see the module docs.
pub fn check_etag_of(
    record: &SettingRecord,
    current: &str,
    setting_type: &str,
    given: Option<&str>,
) -> Result<(), ApiError> {
    let given = given.filter(|g| !g.is_empty());
    if given.is_none() && !record.written {
        return Err(ApiError::missing_setting(setting_type, current));
    }
    if given != Some(current) {
        return Err(ApiError::stale_etag(setting_type, current));
    }
    Ok(())
}

fn set_path(target: &mut Value, path: &[&str], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = target;
    for p in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()
            .expect("just made an object")
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    let obj = cur.as_object_mut().expect("just made an object");
    match value {
        Some(v) => {
            obj.insert(last.to_string(), v);
        }
        None => {
            obj.remove(*last);
        }
    }
}

fn get_path<'a>(source: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(source, |v, p| v.get(*p))
}

/// The paths of a comma-separated field mask; an empty mask is refused, naming its query
/// parameter `param`.
pub fn mask_paths<'a>(mask: &'a str, param: &str) -> Result<Vec<&'a str>, ApiError> {
    let paths: Vec<&str> = mask
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if paths.is_empty() {
        return Err(ApiError::invalid_parameter(format!(
            "{param} is required and must not be empty"
        )));
    }
    Ok(paths)
}

/// Applies `field_mask` paths of `setting` onto the current message.
pub fn apply_mask(
    current: &Value,
    d: &SettingDesc,
    setting: &Value,
    mask: &str,
) -> Result<Value, ApiError> {
    let mut next = current.clone();
    for path in mask_paths(mask, "field_mask")? {
        if path == "*" || path == d.field {
            next = setting
                .get(d.field)
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            continue;
        }
        let parts: Vec<&str> = path.split('.').collect();
        if parts.first() != Some(&d.field) || parts.len() < 2 {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid field mask path '{path}' for setting {}: paths must start with '{}'",
                d.setting_type, d.field
            )));
        }
        set_path(&mut next, &parts[1..], get_path(setting, &parts).cloned());
    }
    Ok(next)
}

pub fn expect_bool(value: &Value, key: &str, setting: &str) -> Result<bool, ApiError> {
    match &value[key] {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(ApiError::invalid_parameter(format!(
            "Invalid value {other} for {setting}.{key}: expected a boolean"
        ))),
    }
}

pub fn one_of(value: &Value, allowed: &[&str], what: &str) -> Result<(), ApiError> {
    match value.as_str() {
        Some(v) if allowed.contains(&v) => Ok(()),
        _ => Err(ApiError::invalid_parameter(format!(
            "Invalid value {value} for {what}: must be one of {allowed:?}"
        ))),
    }
}

/// Checks `compliance_standards` of a compliance profile message (the workspace's or the
/// account's); absent is an empty list.
pub fn compliance_standards(next: &mut Value) -> Result<(), ApiError> {
    match &next["compliance_standards"] {
        Value::Null => next["compliance_standards"] = json!([]),
        Value::Array(items) => {
            for item in items {
                one_of(item, COMPLIANCE_STANDARDS, "compliance_standards")?;
            }
        }
        other => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid value {other} for compliance_standards: expected a list"
            )));
        }
    }
    Ok(())
}

/// Validates `next` for setting `d` against the current state; may fix read-only fields.
fn validate(ws: &Workspace, d: &SettingDesc, mut next: Value) -> Result<Value, ApiError> {
    let current = &record(ws, d).value;
    match d.setting_type {
        RESTRICT_WORKSPACE_ADMINS => {
            one_of(
                &next["status"],
                &["ALLOW_ALL", "RESTRICT_TOKENS_AND_JOB_RUN_AS"],
                "restrict_workspace_admins.status",
            )?;
        }
        AUTOMATIC_CLUSTER_UPDATE => {
            let enabled = expect_bool(&next, "enabled", d.field)?;
            // Read-only fields stay the server's.
            next["can_toggle"] = current["can_toggle"].clone();
            next["enablement_details"] = current["enablement_details"].clone();
            if current["can_toggle"] == false && enabled != (current["enabled"] == true) {
                return Err(ApiError::invalid_parameter(
                    "Automatic cluster update is forced on by the compliance security profile and cannot be changed",
                ));
            }
            let schedule = &next["maintenance_window"]["week_day_based_schedule"];
            if !schedule.is_null() {
                if !schedule["day_of_week"].is_null() {
                    one_of(&schedule["day_of_week"], DAYS_OF_WEEK, "day_of_week")?;
                }
                if !schedule["frequency"].is_null() {
                    one_of(&schedule["frequency"], FREQUENCIES, "frequency")?;
                }
            }
        }
        COMPLIANCE_SECURITY_PROFILE => {
            let enabled = expect_bool(&next, "is_enabled", d.field)?;
            if current["is_enabled"] == true && !enabled {
                return Err(ApiError::invalid_parameter(
                    "The compliance security profile cannot be disabled once it has been enabled",
                ));
            }
            compliance_standards(&mut next)?;
        }
        ENHANCED_SECURITY_MONITORING => {
            let enabled = expect_bool(&next, "is_enabled", d.field)?;
            if !enabled && is_on(ws, COMPLIANCE_SECURITY_PROFILE, "is_enabled") {
                return Err(ApiError::invalid_parameter(
                    "Enhanced security monitoring is forced on by the compliance security profile and cannot be disabled",
                ));
            }
        }
        DISABLE_LEGACY_DBFS => {
            expect_bool(&next, "value", d.field)?;
        }
        _ => {}
    }
    Ok(next)
}

/// What turning the compliance security profile on forces.
fn enforce_compliance_profile(ws: &mut Workspace) {
    if !is_on(ws, ENHANCED_SECURITY_MONITORING, "is_enabled") {
        write_in(
            &mut ws.settings,
            ENHANCED_SECURITY_MONITORING,
            json!({"is_enabled": true}),
        );
    }
    let mut acu = ws.settings[AUTOMATIC_CLUSTER_UPDATE].value.clone();
    if acu["enabled"] != true || acu["can_toggle"] != false {
        acu["enabled"] = json!(true);
        acu["can_toggle"] = json!(false);
        acu["enablement_details"]["forced_for_compliance_mode"] = json!(true);
        write_in(&mut ws.settings, AUTOMATIC_CLUSTER_UPDATE, acu);
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PatchRequest {
    pub allow_missing: Option<bool>,
    pub field_mask: Option<String>,
    pub setting: Option<Value>,
}

#[cfg(test)]
impl PatchRequest {
    /// The body the SDKs send: `setting` under field mask `mask`, `allow_missing` set.
    pub fn masked(setting: Value, mask: &str) -> Self {
        Self {
            allow_missing: Some(true),
            field_mask: Some(mask.into()),
            setting: Some(setting),
        }
    }
}

pub fn get(ws: &Workspace, setting_type: &str, name: &str) -> Result<Value, ApiError> {
    let d = lookup_in(SETTINGS, setting_type, name)?;
    Ok(render(ws, d))
}

pub fn patch(
    ws: &mut Workspace,
    setting_type: &str,
    name: &str,
    req: PatchRequest,
) -> Result<Value, ApiError> {
    let d = lookup_in(SETTINGS, setting_type, name)?;
    let next = masked_value(&ws.settings, &scope(ws), d, req)?;
    let next = validate(ws, d, next)?;
    write_in(&mut ws.settings, d.setting_type, next);
    if d.setting_type == COMPLIANCE_SECURITY_PROFILE
        && is_on(ws, COMPLIANCE_SECURITY_PROFILE, "is_enabled")
    {
        enforce_compliance_profile(ws);
    }
    Ok(render(ws, d))
}

pub fn delete(
    ws: &mut Workspace,
    setting_type: &str,
    name: &str,
    etag_param: Option<&str>,
) -> Result<Value, ApiError> {
    let d = lookup_in(SETTINGS, setting_type, name)?;
    let scope = scope(ws);
    reset_in(
        &mut ws.settings,
        &scope,
        d,
        etag_param,
        default_value,
        &format!("/api/2.0/settings/types/{setting_type}/names/{name}"),
    )
}

/// The `{setting_type}/names/{name}` of a workspace's or the account's setting path.
#[derive(Deserialize)]
pub struct SettingPath {
    pub setting_type: String,
    pub name: String,
}

pub async fn get_handler(call: InWorkspace, Path(p): Path<SettingPath>) -> Reply {
    call.run(|ws| get(ws, &p.setting_type, &p.name).map(Json))
}

pub async fn patch_handler(
    call: InWorkspace,
    Path(p): Path<SettingPath>,
    Body(req): Body<PatchRequest>,
) -> Reply {
    call.run(|ws| patch(ws, &p.setting_type, &p.name, req).map(Json))
}

pub async fn delete_handler(
    call: InWorkspace,
    Path(p): Path<SettingPath>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let etag_param = query.get("etag").cloned();
    call.run(|ws| delete(ws, &p.setting_type, &p.name, etag_param.as_deref()).map(Json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> Workspace {
        Workspace::seed(1, "http://x")
    }

    /// PATCH of the `default` setting of `setting_type`, `setting` under field mask `mask`.
    fn patch_default(
        w: &mut Workspace,
        setting_type: &str,
        setting: Value,
        mask: &str,
    ) -> Result<Value, ApiError> {
        patch(
            w,
            setting_type,
            "default",
            PatchRequest::masked(setting, mask),
        )
    }

    #[test]
    fn defaults_render_with_sdk_field_names() {
        let w = ws();
        let r = get(&w, RESTRICT_WORKSPACE_ADMINS, "default").unwrap();
        assert_eq!(r["restrict_workspace_admins"]["status"], "ALLOW_ALL");
        assert_eq!(r["setting_name"], "default");
        assert!(r["etag"].is_string());
        let r = get(&w, COMPLIANCE_SECURITY_PROFILE, "default").unwrap();
        assert_eq!(
            r["compliance_security_profile_workspace"]["is_enabled"],
            false
        );
        let r = get(&w, ENHANCED_SECURITY_MONITORING, "default").unwrap();
        assert_eq!(
            r["enhanced_security_monitoring_workspace"]["is_enabled"],
            false
        );
        let r = get(&w, AUTOMATIC_CLUSTER_UPDATE, "default").unwrap();
        assert_eq!(r["automatic_cluster_update_workspace"]["enabled"], false);
        let r = get(&w, DISABLE_LEGACY_DBFS, "default").unwrap();
        assert_eq!(r["disable_legacy_dbfs"]["value"], false);
        assert!(get(&w, "nope", "default").is_err());
        assert!(get(&w, DISABLE_LEGACY_DBFS, "other").is_err());
    }

    #[test]
    fn patch_requires_fresh_etag_and_changes_it() {
        let mut w = ws();
        let cur = get(&w, RESTRICT_WORKSPACE_ADMINS, "default").unwrap();
        let etag0 = cur["etag"].as_str().unwrap().to_string();
        let body = json!({"restrict_workspace_admins": {"status": "RESTRICT_TOKENS_AND_JOB_RUN_AS"}, "etag": etag0});
        let out = patch_default(
            &mut w,
            RESTRICT_WORKSPACE_ADMINS,
            body.clone(),
            "restrict_workspace_admins.status",
        )
        .unwrap();
        assert_eq!(
            out["restrict_workspace_admins"]["status"],
            "RESTRICT_TOKENS_AND_JOB_RUN_AS"
        );
        assert_ne!(out["etag"], etag0.as_str());
        // Stale etag: 409 with the fresh etag in details.
        let err = patch_default(
            &mut w,
            RESTRICT_WORKSPACE_ADMINS,
            body,
            "restrict_workspace_admins",
        )
        .unwrap_err();
        assert_eq!(err.status.as_u16(), 409);
        assert_eq!(err.error_code, "RESOURCE_CONFLICT");
        assert_eq!(err.body()["details"][0]["metadata"]["etag"], out["etag"]);
        // Missing etag on a written setting: stale too.
        let err = patch_default(
            &mut w,
            RESTRICT_WORKSPACE_ADMINS,
            json!({"restrict_workspace_admins": {"status": "ALLOW_ALL"}}),
            "*",
        )
        .unwrap_err();
        assert_eq!(err.status.as_u16(), 409);
    }

    #[test]
    fn never_written_setting_without_etag_is_not_found_with_the_etag() {
        let mut w = ws();
        let current = get(&w, DISABLE_LEGACY_DBFS, "default").unwrap()["etag"].clone();
        let body = json!({"disable_legacy_dbfs": {"value": true}});
        let err = patch_default(
            &mut w,
            DISABLE_LEGACY_DBFS,
            body.clone(),
            "disable_legacy_dbfs.value",
        )
        .unwrap_err();
        assert_eq!(err.status.as_u16(), 404);
        assert_eq!(err.error_code, "NOT_FOUND");
        assert_eq!(err.body()["details"][0]["metadata"]["etag"], current);
        let mut retry = body;
        retry["etag"] = current;
        patch_default(
            &mut w,
            DISABLE_LEGACY_DBFS,
            retry,
            "disable_legacy_dbfs.value",
        )
        .unwrap();
    }

    #[test]
    fn invalid_values_and_masks_are_rejected() {
        let mut w = ws();
        let etag0 = get(&w, RESTRICT_WORKSPACE_ADMINS, "default").unwrap()["etag"].clone();
        let body = json!({"restrict_workspace_admins": {"status": "NOPE"}, "etag": etag0});
        let err = patch_default(
            &mut w,
            RESTRICT_WORKSPACE_ADMINS,
            body.clone(),
            "restrict_workspace_admins",
        )
        .unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let err =
            patch_default(&mut w, RESTRICT_WORKSPACE_ADMINS, body, "other.status").unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn compliance_profile_is_irreversible_and_forces_dependents() {
        let mut w = ws();
        let e = get(&w, COMPLIANCE_SECURITY_PROFILE, "default").unwrap()["etag"].clone();
        let on = json!({"compliance_security_profile_workspace": {"is_enabled": true, "compliance_standards": ["HIPAA"]}, "etag": e});
        let out = patch_default(
            &mut w,
            COMPLIANCE_SECURITY_PROFILE,
            on,
            "compliance_security_profile_workspace",
        )
        .unwrap();
        assert_eq!(
            out["compliance_security_profile_workspace"]["compliance_standards"][0],
            "HIPAA"
        );
        assert!(is_on(&w, ENHANCED_SECURITY_MONITORING, "is_enabled"));
        let acu = get(&w, AUTOMATIC_CLUSTER_UPDATE, "default").unwrap();
        assert_eq!(acu["automatic_cluster_update_workspace"]["enabled"], true);
        assert_eq!(
            acu["automatic_cluster_update_workspace"]["can_toggle"],
            false
        );
        let off = json!({"compliance_security_profile_workspace": {"is_enabled": false}, "etag": out["etag"]});
        let err = patch_default(
            &mut w,
            COMPLIANCE_SECURITY_PROFILE,
            off,
            "compliance_security_profile_workspace.is_enabled",
        )
        .unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        let esm = get(&w, ENHANCED_SECURITY_MONITORING, "default").unwrap();
        let off = json!({"enhanced_security_monitoring_workspace": {"is_enabled": false}, "etag": esm["etag"]});
        assert!(patch_default(&mut w, ENHANCED_SECURITY_MONITORING, off, "*").is_err());
    }

    #[test]
    fn delete_reverts_where_supported() {
        let mut w = ws();
        let e = get(&w, DISABLE_LEGACY_DBFS, "default").unwrap()["etag"].clone();
        let on = json!({"disable_legacy_dbfs": {"value": true}, "etag": e});
        let out =
            patch_default(&mut w, DISABLE_LEGACY_DBFS, on, "disable_legacy_dbfs.value").unwrap();
        assert_eq!(out["disable_legacy_dbfs"]["value"], true);
        assert!(delete(&mut w, DISABLE_LEGACY_DBFS, "default", Some("stale")).is_err());
        let del = delete(&mut w, DISABLE_LEGACY_DBFS, "default", out["etag"].as_str()).unwrap();
        assert!(del["etag"].is_string());
        assert_eq!(
            get(&w, DISABLE_LEGACY_DBFS, "default").unwrap()["disable_legacy_dbfs"]["value"],
            false
        );
        let e = get(&w, AUTOMATIC_CLUSTER_UPDATE, "default").unwrap()["etag"].clone();
        let err = delete(&mut w, AUTOMATIC_CLUSTER_UPDATE, "default", e.as_str()).unwrap_err();
        assert_eq!(err.status.as_u16(), 405);
    }
}
