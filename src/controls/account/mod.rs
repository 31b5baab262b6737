//! The account-level families: what only the account console reaches.
//!
//! The account's IP access lists and settings are the workspace families over an account
//! scope (the API differs only by `/api/2.0/accounts/{account_id}` in its paths); serverless
//! network connectivity, network policies and private access settings are families of their
//! own.

pub mod ncc;
pub mod network_policies;
pub mod private_access;
mod shared;

use super::ip_access_lists::ListsScope;
use super::settings::{DesiredSettings, SettingControl, SettingsScope};
use super::{Pass, Scope};
use crate::api::{AccountPolicy, IpAccessListsPolicy, PersonalCompute};
use crate::clients::DatabricksClient;
use crate::clients::databricks::SettingType;

/// An account as its families see it: the resolved policy and the cloud it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub policy: AccountPolicy,
    pub cloud: Cloud,
}

/// The cloud of an account, from its console host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Azure,
    Aws,
    Gcp,
    /// A host that names no cloud (an emulator, a proxy): every family applies.
    Unknown,
}

impl Cloud {
    /// `accounts.azuredatabricks.net`, `accounts.cloud.databricks.com`,
    /// `accounts.gcp.databricks.com`.
    pub fn of_host(host: &str) -> Cloud {
        if host.ends_with(".azuredatabricks.net") {
            Cloud::Azure
        } else if host.ends_with(".gcp.databricks.com") {
            Cloud::Gcp
        } else if host.ends_with(".cloud.databricks.com") {
            Cloud::Aws
        } else {
            Cloud::Unknown
        }
    }
}

/// Where an account's families read and write: the account API.
#[derive(Debug, Clone)]
pub struct AccountApis {
    /// A client of the account API ([`DatabricksClient::for_account`]).
    pub databricks: DatabricksClient,
}

/// An account as the scope of the families it shares with workspaces.
pub struct AccountScope;

impl Scope for AccountScope {
    type Policy = Account;
    type Apis = AccountApis;

    fn databricks(apis: &AccountApis) -> &DatabricksClient {
        &apis.databricks
    }
}

impl ListsScope for AccountScope {
    const FAMILY: &'static str = "account/ipAccessLists";
    /// SAT (security-analysis-tool d4355dc, `configs/security_best_practices.csv`) checks the
    /// account console's lists as NS-8 and NS-13, not as the workspace's NS-5.
    const REFERENCES: &'static [&'static str] = &[
        "best practices: IP access lists for the account console",
        "SAT NS-8",
        "SAT NS-13",
    ];

    fn policy(account: &Account) -> Option<&IpAccessListsPolicy> {
        account.policy.ip_access_lists.as_ref()
    }
}

/// An account's IP access lists.
pub type AccountIpAccessLists = super::ip_access_lists::IpAccessListsFamily<AccountScope>;

/// An account's settings include `acct_ip_acl_enable` (the switch of the account's IP access
/// lists, declared as `ipAccessLists.enabled` and following its mode).
impl SettingsScope for AccountScope {
    fn desired(account: &Account, pass: &Pass) -> Option<DesiredSettings> {
        let policy = &account.policy;
        let lists = policy.ip_access_lists.as_ref();
        let settings = policy.settings.clone().unwrap_or_default();
        let declared = [
            (
                SettingType::AccountIpAccessLists,
                lists.and_then(|l| l.enabled),
            ),
            (
                SettingType::DisableLegacyFeatures,
                settings.disable_legacy_features,
            ),
            (
                SettingType::PersonalCompute,
                settings.personal_compute.map(|p| p == PersonalCompute::On),
            ),
            (
                SettingType::CspForNewWorkspaces,
                settings.compliance_security_profile_for_new_workspaces,
            ),
            (
                SettingType::EsmForNewWorkspaces,
                settings.enhanced_security_monitoring_for_new_workspaces,
            ),
        ];
        let controls: Vec<SettingControl> = declared
            .into_iter()
            .filter_map(|(setting_type, desired)| {
                desired.map(|desired| SettingControl {
                    setting_type,
                    desired,
                })
            })
            .collect();
        let lists_mode = pass.mode_of(lists.and_then(|l| l.mode));
        (!controls.is_empty()).then(|| DesiredSettings {
            controls,
            needs_arm: Vec::new(),
            mode: pass.mode_of(settings.mode),
            modes: vec![(SettingType::AccountIpAccessLists, lists_mode)],
        })
    }
}

/// An account's settings.
pub type AccountSettings = super::settings::SettingsFamily<AccountScope>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Map, json};

    use super::*;
    use crate::api::{ControlState, Mode};
    use crate::clients::databricks::Setting;
    use crate::controls::settings::SettingsRead;
    use crate::controls::testing::{pass, render};
    use crate::controls::{Effect, Family, Step};

    fn account(policy: serde_json::Value) -> Account {
        Account {
            policy: serde_json::from_value(policy).unwrap(),
            cloud: Cloud::Azure,
        }
    }

    fn read(values: &[(SettingType, serde_json::Value)]) -> SettingsRead {
        values
            .iter()
            .map(|(t, v)| {
                let mut raw = Map::new();
                raw.insert("etag".into(), json!("e1"));
                raw.insert(t.value_field().into(), v.clone());
                (*t, Ok(Setting::from_raw(*t, raw)))
            })
            .collect::<BTreeMap<_, _>>()
    }

    #[test]
    fn cloud_comes_from_the_console_host() {
        assert_eq!(Cloud::of_host("accounts.azuredatabricks.net"), Cloud::Azure);
        assert_eq!(Cloud::of_host("accounts.cloud.databricks.com"), Cloud::Aws);
        assert_eq!(Cloud::of_host("accounts.gcp.databricks.com"), Cloud::Gcp);
        assert_eq!(Cloud::of_host("127.0.0.1"), Cloud::Unknown);
    }

    #[test]
    fn account_settings_are_judged_and_fixed_with_their_own_ids_steps_and_modes() {
        let account = account(json!({
            "ipAccessLists": {"enabled": true, "mode": "Audit"},
            "settings": {"disableLegacyFeatures": true, "personalCompute": "Off",
                         "complianceSecurityProfileForNewWorkspaces": true},
        }));
        let pass = pass(Mode::Enforce);
        let desired = AccountSettings::desired(&account, &pass).expect("settings are managed");
        let observed = read(&[
            (SettingType::AccountIpAccessLists, json!({"value": false})),
            (SettingType::DisableLegacyFeatures, json!({"value": true})),
            (SettingType::PersonalCompute, json!({"value": "ON"})),
            (
                SettingType::CspForNewWorkspaces,
                json!({"is_enforced": false}),
            ),
        ]);
        let findings = AccountSettings::evaluate(&desired, &observed, &pass);
        let results = render::<AccountSettings>(&findings);
        let states: Vec<(&str, ControlState, Option<&str>)> = results
            .iter()
            .map(|r| (r.id.as_str(), r.state, r.observed.as_deref()))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "account/ipAccessLists/enabled",
                    ControlState::Drifted,
                    Some("false")
                ),
                (
                    "accountSettings/disableLegacyFeatures",
                    ControlState::Compliant,
                    Some("true")
                ),
                (
                    "accountSettings/personalCompute",
                    ControlState::Drifted,
                    Some("ON")
                ),
                (
                    "accountSettings/complianceSecurityProfileForNewWorkspaces",
                    ControlState::Drifted,
                    Some("false")
                ),
            ]
        );
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        let planned = AccountSettings::plan(&desired, &observed, &drifted, &pass);
        let shape: Vec<(SettingType, Step, Mode, Vec<Effect>)> = planned
            .iter()
            .map(|p| {
                let t = p.change.read.setting_type();
                (t, p.step, p.mode, AccountSettings::effects(&p.change))
            })
            .collect();
        assert_eq!(
            shape,
            [
                (
                    SettingType::AccountIpAccessLists,
                    Step::EnableIpAccessLists,
                    Mode::Audit,
                    vec![Effect::EnablesIpAccessLists(true)]
                ),
                (
                    SettingType::PersonalCompute,
                    Step::Configure,
                    Mode::Enforce,
                    vec![]
                ),
                (
                    SettingType::CspForNewWorkspaces,
                    Step::Configure,
                    Mode::Enforce,
                    vec![]
                ),
            ],
            "the list switch waits for the ALLOW lists and follows ipAccessLists.mode"
        );
        assert_eq!(
            AccountSettings::describe(&planned[1].change),
            "PATCH setting dcp_acct_enable=DELEGATE"
        );
        // The lockout guard learns whether the account's lists are on.
        assert_eq!(
            AccountSettings::facts(&desired, &observed),
            [crate::controls::Fact::IpAccessListsEnabled(false)]
        );
    }

    #[test]
    fn account_lists_have_account_ids_and_nothing_unmanaged_is_read() {
        let account = account(json!({
            "ipAccessLists": {"management": "Exclusive",
                              "lists": [{"label": "corp", "type": "ALLOW", "addresses": ["203.0.113.0/24"]}]},
        }));
        let pass = pass(Mode::Enforce);
        let desired = AccountIpAccessLists::desired(&account, &pass).expect("lists are managed");
        let findings = AccountIpAccessLists::evaluate(&desired, &Ok(Vec::new()), &pass);
        let ids: Vec<String> = render::<AccountIpAccessLists>(&findings)
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            ids,
            [
                "account/ipAccessLists/list/corp",
                "account/ipAccessLists/undeclared"
            ]
        );
        // Only lists: no settings family; nothing declared: neither family reads.
        assert!(AccountSettings::desired(&account, &pass).is_none());
        let empty = super::tests::account(json!({}));
        assert!(AccountSettings::desired(&empty, &pass).is_none());
        assert!(AccountIpAccessLists::desired(&empty, &pass).is_none());
    }
}
