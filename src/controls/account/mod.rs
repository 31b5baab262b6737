//! The account-level families: what only the account console reaches.
//!
//! The account's IP access lists and settings are the workspace families over an account
//! scope (the API differs only by `/api/2.0/accounts/{account_id}` in its paths); serverless
//! network connectivity, network policies and private access settings are families of their
//! own.

use super::Pass;
use super::ip_access_lists::ListsScope;
use super::settings::{DesiredSettings, SettingControl, SettingsScope};
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

/// The scope of an account's IP access lists.
pub struct AccountLists;

impl ListsScope for AccountLists {
    type Policy = Account;
    type Apis = AccountApis;
    const FAMILY: &'static str = "account/ipAccessLists";

    fn policy(account: &Account) -> Option<&IpAccessListsPolicy> {
        account.policy.ip_access_lists.as_ref()
    }

    fn client(apis: &AccountApis) -> &DatabricksClient {
        &apis.databricks
    }
}

/// An account's IP access lists.
pub type AccountIpAccessLists = super::ip_access_lists::IpAccessListsFamily<AccountLists>;

/// The scope of an account's settings, including `acct_ip_acl_enable` (the switch of the
/// account's IP access lists, declared as `ipAccessLists.enabled` and following its mode).
pub struct AccountSettingsScope;

impl SettingsScope for AccountSettingsScope {
    type Policy = Account;
    type Apis = AccountApis;

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

    fn client(apis: &AccountApis) -> &DatabricksClient {
        &apis.databricks
    }
}

/// An account's settings.
pub type AccountSettings = super::settings::SettingsFamily<AccountSettingsScope>;
