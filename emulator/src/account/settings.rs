//! `/api/2.0/accounts/{id}/settings/types/{type}/names/default`: the account settings, with
//! the etag rules, field masks and error answers of the workspace settings (shared functions
//! of [`crate::databricks::settings`]).
//!
//! Types and message fields are databricks-sdk-py's (`AccountSettingsAPI`):
//!
//! | type                        | field                    | value                                   | DELETE |
//! |-----------------------------|--------------------------|-----------------------------------------|--------|
//! | `acct_ip_acl_enable`        | `acct_ip_acl_enable`     | `BooleanMessage {value}`                | yes    |
//! | `disable_legacy_features`   | `disable_legacy_features`| `BooleanMessage {value}`                | yes    |
//! | `dcp_acct_enable`           | `personal_compute`       | `{value: ON \| DELEGATE}`               | yes    |
//! | `shield_csp_enablement_ac`  | `csp_enablement_account` | `{is_enforced, compliance_standards}`   | no     |
//! | `shield_esm_enablement_ac`  | `esm_enablement_account` | `{is_enforced}`                         | no     |
//!
//! Personal Compute is `ON` or `DELEGATE` (`PersonalComputeMessageEnum`), not `OFF`.
//! `acct_ip_acl_enable` starts off here (account IP access lists inert until switched on, as the
//! account console ships them), although the SDK's docstring of its DELETE speaks of reverting
//! "to default (ON)"; turning it on while the lists would block the caller is refused with
//! `400 INVALID_STATE`, as `enableIpAccessLists` is on a workspace.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::Json;
use axum::extract::{Extension, Path, Query};
use serde_json::{Value, json};

use super::{Account, AccountCaller, InAccount};
use crate::access;
use crate::databricks::Body;
use crate::databricks::ip_access_lists::allowed_with;
use crate::databricks::settings::{
    PatchRequest, Records, SettingDesc, SettingPath, compliance_standards, expect_bool, lookup_in,
    masked_value, one_of, render_in, reset_in, seed, write_in,
};
use crate::errors::{ApiError, Reply};

pub const ACCT_IP_ACL_ENABLE: &str = "acct_ip_acl_enable";
pub const DISABLE_LEGACY_FEATURES: &str = "disable_legacy_features";
pub const PERSONAL_COMPUTE: &str = "dcp_acct_enable";
pub const CSP_ENABLEMENT: &str = "shield_csp_enablement_ac";
pub const ESM_ENABLEMENT: &str = "shield_esm_enablement_ac";

pub const SETTINGS: &[SettingDesc] = &[
    SettingDesc {
        setting_type: ACCT_IP_ACL_ENABLE,
        field: "acct_ip_acl_enable",
        deletable: true,
    },
    SettingDesc {
        setting_type: DISABLE_LEGACY_FEATURES,
        field: "disable_legacy_features",
        deletable: true,
    },
    SettingDesc {
        setting_type: PERSONAL_COMPUTE,
        field: "personal_compute",
        deletable: true,
    },
    SettingDesc {
        setting_type: CSP_ENABLEMENT,
        field: "csp_enablement_account",
        deletable: false,
    },
    SettingDesc {
        setting_type: ESM_ENABLEMENT,
        field: "esm_enablement_account",
        deletable: false,
    },
];

pub fn default_value(setting_type: &str) -> Value {
    match setting_type {
        ACCT_IP_ACL_ENABLE | DISABLE_LEGACY_FEATURES => json!({"value": false}),
        PERSONAL_COMPUTE => json!({"value": "ON"}),
        CSP_ENABLEMENT => json!({"is_enforced": false, "compliance_standards": []}),
        ESM_ENABLEMENT => json!({"is_enforced": false}),
        _ => json!({}),
    }
}

pub fn initial_settings() -> Records {
    seed(SETTINGS, default_value)
}

pub fn render(account: &Account, d: &SettingDesc) -> Value {
    render_in(&account.settings, &account.account_id, d)
}

pub fn ip_access_lists_enabled(account: &Account) -> bool {
    account
        .settings
        .get(ACCT_IP_ACL_ENABLE)
        .is_some_and(|r| r.value["value"] == true)
}

fn validate(
    account: &Account,
    d: &SettingDesc,
    mut next: Value,
    ip: IpAddr,
) -> Result<Value, ApiError> {
    match d.setting_type {
        ACCT_IP_ACL_ENABLE => {
            let on = expect_bool(&next, "value", d.field)?;
            next = json!({"value": on});
            if on && !allowed_with(&account.ip_access_lists, ip) {
                return Err(ApiError::invalid_state(access::lockout_message(ip)));
            }
        }
        DISABLE_LEGACY_FEATURES => {
            let on = expect_bool(&next, "value", d.field)?;
            next = json!({"value": on});
        }
        PERSONAL_COMPUTE => {
            one_of(
                &next["value"],
                &["ON", "DELEGATE"],
                "personal_compute.value",
            )?;
        }
        CSP_ENABLEMENT => {
            let on = expect_bool(&next, "is_enforced", d.field)?;
            next["is_enforced"] = json!(on);
            compliance_standards(&mut next)?;
        }
        ESM_ENABLEMENT => {
            let on = expect_bool(&next, "is_enforced", d.field)?;
            next = json!({"is_enforced": on});
        }
        _ => {}
    }
    Ok(next)
}

pub fn get(account: &Account, setting_type: &str, name: &str) -> Result<Value, ApiError> {
    Ok(render(account, lookup_in(SETTINGS, setting_type, name)?))
}

pub fn patch(
    account: &mut Account,
    setting_type: &str,
    name: &str,
    req: PatchRequest,
    ip: IpAddr,
) -> Result<Value, ApiError> {
    let d = lookup_in(SETTINGS, setting_type, name)?;
    let next = masked_value(&account.settings, &account.account_id, d, req)?;
    let next = validate(account, d, next, ip)?;
    write_in(&mut account.settings, d.setting_type, next);
    Ok(render(account, d))
}

pub fn delete(
    account: &mut Account,
    setting_type: &str,
    name: &str,
    etag_param: Option<&str>,
) -> Result<Value, ApiError> {
    let d = lookup_in(SETTINGS, setting_type, name)?;
    let path = format!(
        "/api/2.0/accounts/{}/settings/types/{setting_type}/names/{name}",
        account.account_id
    );
    reset_in(
        &mut account.settings,
        &account.account_id,
        d,
        etag_param,
        default_value,
        &path,
    )
}

pub async fn get_handler(account: InAccount, Path(p): Path<SettingPath>) -> Reply {
    account.run(|world| get(&world.account, &p.setting_type, &p.name).map(Json))
}

pub async fn patch_handler(
    account: InAccount,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<SettingPath>,
    Body(req): Body<PatchRequest>,
) -> Reply {
    account
        .run(|world| patch(&mut world.account, &p.setting_type, &p.name, req, caller.ip).map(Json))
}

pub async fn delete_handler(
    account: InAccount,
    Path(p): Path<SettingPath>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let etag_param = query.get("etag").cloned();
    account.run(|world| {
        delete(
            &mut world.account,
            &p.setting_type,
            &p.name,
            etag_param.as_deref(),
        )
        .map(Json)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databricks::ip_access_lists::{Write, allow_list};

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// PATCH from 127.0.0.1 of the `default` setting of `setting_type`, `setting` under field
    /// mask `mask`.
    fn patch_default(
        a: &mut Account,
        setting_type: &str,
        setting: Value,
        mask: &str,
    ) -> Result<Value, ApiError> {
        let req = PatchRequest::masked(setting, mask);
        patch(a, setting_type, "default", req, LOCAL)
    }

    #[test]
    fn defaults_and_etag_rules() {
        let mut a = Account::default();
        let r = get(&a, PERSONAL_COMPUTE, "default").unwrap();
        assert_eq!(r["personal_compute"]["value"], "ON");
        let e = r["etag"].clone();
        // Every write below carries the first etag.
        let set = |a: &mut Account, value: &str| {
            let setting = json!({"personal_compute": {"value": value}, "etag": e});
            patch_default(a, PERSONAL_COMPUTE, setting, "personal_compute.value")
        };
        let err = set(&mut a, "OFF").unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let out = set(&mut a, "DELEGATE").unwrap();
        assert_eq!(out["personal_compute"]["value"], "DELEGATE");
        let stale = set(&mut a, "ON").unwrap_err();
        assert_eq!(stale.status.as_u16(), 409);
        assert_eq!(stale.body()["details"][0]["metadata"]["etag"], out["etag"]);
        assert!(delete(&mut a, CSP_ENABLEMENT, "default", None).is_err());
    }

    #[test]
    fn enabling_the_lists_guards_against_lockout() {
        let mut a = Account::default();
        let lists = Write {
            lists: &mut a.ip_access_lists,
            enforced: false,
            principal_id: 1,
            ip: LOCAL,
        };
        lists.create(allow_list("corp", "10.0.0.0/8")).unwrap();
        let e = get(&a, ACCT_IP_ACL_ENABLE, "default").unwrap()["etag"].clone();
        let err = patch_default(
            &mut a,
            ACCT_IP_ACL_ENABLE,
            json!({"acct_ip_acl_enable": {"value": true}, "etag": e}),
            "acct_ip_acl_enable.value",
        )
        .unwrap_err();
        assert_eq!(err.error_code, "INVALID_STATE");
        assert!(!a.ip_access_lists_enabled());
        assert!(a.ip_allowed(LOCAL));
    }
}
