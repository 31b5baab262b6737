//! AWS private access settings (PrivateLink front-end access, reference 002): controls
//! `privateAccess/<name>`, `privateAccess/<name>/workspace/<id>` and `privateAccess/undeclared`.
//!
//! They exist on AWS only: on an Azure or GCP account every declared object is NotApplicable and
//! nothing is read (an emulator's host names no cloud, so it is managed there). Public access,
//! access level and allowed VPC endpoints are replaced in place (`PUT`); the region is fixed at
//! creation (RequiresRecreate). Turning public access off for a workspace is the same as closing
//! its public network access: the engine's rule holds it unless brickwarden reaches the
//! workspaces over PrivateLink.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::shared::{
    self, AccountWorkspaces, Binding, Common, DeclaredObjects, ObjectRef, claimed_twice,
    create_once, read_account_workspaces, same_region, undeclared_finding,
};
use super::{Account, AccountApis, Cloud};
use crate::api::{self, ControlState, WorkspaceId};
use crate::clients::ApiError;
use crate::clients::databricks::{
    PrivateAccessLevel, PrivateAccessSettings, PrivateAccessSettingsBody, WorkspaceUpdate,
};
use crate::controls::{Blocked, Effect, Family, Finding, Pass, Planned, ReadError, Reason, Step};

const REFERENCES: &[&str] = &[
    "reference 002 (AWS data exfiltration protection): workspaces reached over AWS PrivateLink, public access disabled",
    // security-analysis-tool d4355dc: NS-3 checks a workspace's private_access_settings_id.
    "SAT NS-3",
];

/// The private access settings family.
pub struct PrivateAccess;

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredAccess {
    pub settings: DeclaredObjects<api::PrivateAccessSettings>,
    /// `false` on Azure and GCP: every control is NotApplicable and nothing is read.
    pub applies: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedAccess {
    pub settings: Result<Vec<PrivateAccessSettings>, ReadError>,
    /// `None`: no declared object binds a workspace, so the workspaces were not read.
    pub workspaces: AccountWorkspaces,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessControl {
    Settings(String),
    Workspace {
        settings: String,
        workspace: WorkspaceId,
    },
    Undeclared,
}

/// Private access settings as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub region: String,
    pub public_access_enabled: bool,
    pub level: PrivateAccessLevel,
    pub endpoints: BTreeSet<String>,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            PrivateAccessLevel::Account => "ACCOUNT",
            PrivateAccessLevel::Endpoint => "ENDPOINT",
            PrivateAccessLevel::Unknown => "unknown level",
        };
        let public = if self.public_access_enabled {
            "public access enabled"
        } else {
            "public access disabled"
        };
        write!(f, "{}, {public}, {level}", self.region)?;
        if !self.endpoints.is_empty() {
            let endpoints: Vec<&str> = self.endpoints.iter().map(String::as_str).collect();
            write!(f, " [{}]", endpoints.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessValue {
    Settings(Shape),
    /// Absent, the settings a workspace uses, undeclared settings.
    Common(Common),
}

impl fmt::Display for AccessValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessValue::Settings(shape) => shape.fmt(f),
            AccessValue::Common(common) => common.render(f, "no private access settings"),
        }
    }
}

impl From<Common> for AccessValue {
    fn from(common: Common) -> Self {
        AccessValue::Common(common)
    }
}

/// Settings a change works on (created earlier in the same pass when their id is `None`).
pub type SettingsRef = ObjectRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChange {
    Create(PrivateAccessSettingsBody),
    Replace {
        id: String,
        body: PrivateAccessSettingsBody,
        /// Public access goes from enabled to disabled.
        closes_public_access: bool,
    },
    Delete {
        id: String,
        name: String,
    },
    Bind {
        workspace: WorkspaceId,
        settings: SettingsRef,
        /// The workspace loses its public access by the change.
        closes_public_access: bool,
    },
}

fn api_level(level: api::PrivateAccessLevel) -> PrivateAccessLevel {
    match level {
        api::PrivateAccessLevel::Account => PrivateAccessLevel::Account,
        api::PrivateAccessLevel::Endpoint => PrivateAccessLevel::Endpoint,
    }
}

fn declared_shape(declared: &api::PrivateAccessSettings) -> Shape {
    Shape {
        region: declared.region.clone(),
        public_access_enabled: declared.public_access_enabled,
        level: api_level(declared.private_access_level),
        endpoints: declared.allowed_vpc_endpoint_ids.iter().cloned().collect(),
    }
}

/// Absent fields read as the API's defaults: public access off, `ACCOUNT` level.
fn live_shape(live: &PrivateAccessSettings) -> Shape {
    Shape {
        region: live.region.clone().unwrap_or_default(),
        public_access_enabled: live.public_access_enabled.unwrap_or(false),
        level: live.private_access_level.unwrap_or_default(),
        endpoints: live
            .allowed_vpc_endpoint_ids
            .iter()
            .flatten()
            .cloned()
            .collect(),
    }
}

fn body(declared: &api::PrivateAccessSettings) -> PrivateAccessSettingsBody {
    PrivateAccessSettingsBody {
        private_access_settings_name: declared.name.clone(),
        region: declared.region.clone(),
        public_access_enabled: declared.public_access_enabled,
        private_access_level: api_level(declared.private_access_level),
        allowed_vpc_endpoint_ids: declared.allowed_vpc_endpoint_ids.clone(),
    }
}

fn controls(desired: &DesiredAccess) -> Vec<AccessControl> {
    let own = |s: &api::PrivateAccessSettings| vec![AccessControl::Settings(s.name.clone())];
    let workspace = |s: &api::PrivateAccessSettings, workspace| AccessControl::Workspace {
        settings: s.name.clone(),
        workspace,
    };
    shared::controls(
        &desired.settings.declared,
        own,
        workspace,
        AccessControl::Undeclared,
    )
}

type AccessFinding = Finding<AccessControl, AccessValue>;

fn evaluate_settings(
    declared: &api::PrivateAccessSettings,
    settings: &[PrivateAccessSettings],
) -> AccessFinding {
    let control = AccessControl::Settings(declared.name.clone());
    let want = declared_shape(declared);
    let Some(live) = shared::live(settings, &declared.name) else {
        return Finding::compare(control, AccessValue::Settings(want), Common::Absent.into());
    };
    let have = live_shape(live);
    if !same_region(&have.region, &want.region) {
        let why = format!(
            "private access settings {} are for {} but declared for {}: their region is set \
             when they are created; delete them (after moving their workspaces) to have them \
             created in {}",
            declared.name, have.region, want.region, want.region
        );
        return Finding::compare(
            control,
            AccessValue::Settings(want),
            AccessValue::Settings(have),
        )
        .held(
            ControlState::RequiresRecreate,
            Reason::RequiresRecreate,
            why,
        );
    }
    // The region is compared as the API may spell it; the rest as typed.
    let have = Shape {
        region: want.region.clone(),
        ..have
    };
    Finding::compare(
        control,
        AccessValue::Settings(want),
        AccessValue::Settings(have),
    )
}

fn evaluate_binding(
    declared: &api::PrivateAccessSettings,
    id: WorkspaceId,
    observed: &ObservedAccess,
    settings: &[PrivateAccessSettings],
    claimed: &BTreeMap<WorkspaceId, Vec<&str>>,
) -> AccessFinding {
    let control = AccessControl::Workspace {
        settings: declared.name.clone(),
        workspace: id,
    };
    let binding = Binding::new(control, &declared.name, id);
    if let Err(finding) = binding.unclaimed(claimed, "private access settings object") {
        return finding;
    }
    let other_region = |region: &str| {
        format!(
            "workspace {id} is in {region} but private access settings {} are for {}: a \
             workspace uses only settings of its own region",
            declared.name, declared.region
        )
    };
    let workspaces = observed.workspaces.as_ref();
    let workspace = match binding.account_workspace(workspaces, &declared.region, other_region) {
        Ok(workspace) => workspace,
        Err(finding) => return finding,
    };
    let bound = workspace.private_access_settings_id.as_deref();
    binding.judge(settings, &declared.name, bound)
}

fn evaluate_all(
    desired: &DesiredAccess,
    observed: &ObservedAccess,
    settings: &[PrivateAccessSettings],
) -> Vec<AccessFinding> {
    let claimed = claimed_twice(&desired.settings.declared);
    let mut findings = Vec::new();
    for declared in &desired.settings.declared {
        findings.push(evaluate_settings(declared, settings));
        for id in &declared.workspaces {
            findings.push(evaluate_binding(
                declared, *id, observed, settings, &claimed,
            ));
        }
    }
    let names = shared::undeclared(settings, &desired.settings.declared)
        .map(|(_, name)| name.to_string())
        .collect();
    findings.push(undeclared_finding(
        AccessControl::Undeclared,
        "private access settings",
        names,
        desired.settings.exclusive,
    ));
    findings
}

impl Family for PrivateAccess {
    type Policy = Account;
    type Apis = AccountApis;
    type Desired = DesiredAccess;
    type Observed = ObservedAccess;
    type Control = AccessControl;
    type Value = AccessValue;
    type Change = AccessChange;

    fn desired(account: &Account, pass: &Pass) -> Option<DesiredAccess> {
        let settings = account.policy.private_access_settings.as_ref();
        Some(DesiredAccess {
            settings: DeclaredObjects::of(settings, account, pass)?,
            applies: matches!(account.cloud, Cloud::Aws | Cloud::Unknown),
        })
    }

    /// One listing of the settings and, when a binding is declared, one of the workspaces; on
    /// Azure and GCP nothing.
    async fn observe(desired: &DesiredAccess, apis: &AccountApis) -> ObservedAccess {
        if !desired.applies {
            return ObservedAccess {
                settings: Ok(Vec::new()),
                workspaces: None,
            };
        }
        let client = &apis.databricks;
        let workspaces = read_account_workspaces(client, shared::binds(&desired.settings.declared));
        let (settings, workspaces) =
            futures::join!(client.list_private_access_settings(), workspaces);
        ObservedAccess {
            settings: settings.map_err(ReadError::from),
            workspaces,
        }
    }

    fn evaluate(
        desired: &DesiredAccess,
        observed: &ObservedAccess,
        _pass: &Pass,
    ) -> Vec<AccessFinding> {
        if !desired.applies {
            return controls(desired)
                .into_iter()
                .map(|c| {
                    Finding::not_applicable(
                        c,
                        "private access settings are AWS PrivateLink objects; this account is \
                         not on AWS",
                    )
                    .with_references(REFERENCES)
                })
                .collect();
        }
        shared::over_listing(
            &observed.settings,
            || controls(desired),
            |settings| evaluate_all(desired, observed, settings),
            |_| REFERENCES,
        )
    }

    fn plan(
        desired: &DesiredAccess,
        observed: &ObservedAccess,
        drifted: &[&AccessFinding],
        _pass: &Pass,
    ) -> Vec<Planned<AccessControl, AccessChange>> {
        let Ok(settings) = &observed.settings else {
            return Vec::new();
        };
        if !desired.applies {
            return Vec::new();
        }
        let workspaces = match &observed.workspaces {
            Some(Ok(workspaces)) => workspaces.as_slice(),
            _ => &[],
        };
        let mut actions = Vec::new();
        for finding in drifted.iter().filter(|f| f.reason.is_none()) {
            let control = &finding.control;
            let mut push = |step, change| {
                actions.push(Planned::one(
                    control.clone(),
                    step,
                    desired.settings.mode,
                    change,
                ));
            };
            match control {
                AccessControl::Settings(name) => {
                    let Some(declared) = shared::declared(&desired.settings.declared, name) else {
                        continue;
                    };
                    let change = match shared::live(settings, name) {
                        None => AccessChange::Create(body(declared)),
                        Some(live) => AccessChange::Replace {
                            id: live.private_access_settings_id.clone(),
                            body: body(declared),
                            closes_public_access: !declared.public_access_enabled
                                && live_shape(live).public_access_enabled,
                        },
                    };
                    push(Step::Network, change);
                }
                AccessControl::Workspace {
                    settings: name,
                    workspace,
                } => {
                    let Some(declared) = shared::declared(&desired.settings.declared, name) else {
                        continue;
                    };
                    // Public before the change: no settings, or settings that allow it.
                    let was_public = shared::account_workspace(workspaces, *workspace)
                        .and_then(|w| w.private_access_settings_id.as_deref())
                        .and_then(|id| settings.iter().find(|s| s.private_access_settings_id == id))
                        .is_none_or(|s| live_shape(s).public_access_enabled);
                    push(
                        Step::Network,
                        AccessChange::Bind {
                            workspace: *workspace,
                            settings: ObjectRef::to(settings, name),
                            closes_public_access: was_public && !declared.public_access_enabled,
                        },
                    );
                }
                AccessControl::Undeclared if desired.settings.exclusive => {
                    for (live, name) in shared::undeclared(settings, &desired.settings.declared) {
                        push(
                            Step::Revoke,
                            AccessChange::Delete {
                                id: live.private_access_settings_id.clone(),
                                name: name.to_string(),
                            },
                        );
                    }
                }
                AccessControl::Undeclared => {}
            }
        }
        actions
    }

    fn guard(desired: &DesiredAccess, change: &AccessChange) -> Option<Blocked> {
        let deletes = matches!(change, AccessChange::Delete { .. });
        shared::additive_guard(
            deletes,
            desired.settings.exclusive,
            "private access settings",
        )
    }

    async fn execute(change: &AccessChange, apis: &AccountApis) -> Result<(), ApiError> {
        let client = &apis.databricks;
        match change {
            AccessChange::Create(body) => {
                // After a lost answer, settings of that name on re-reading count as created.
                let name = &body.private_access_settings_name;
                let exists = async {
                    let listing = client.list_private_access_settings();
                    shared::find(listing, name, missing).await.is_ok()
                };
                create_once(client.create_private_access_settings(body), exists)
                    .await
                    .map(drop)
            }
            AccessChange::Replace { id, body, .. } => {
                client.replace_private_access_settings(id, body).await
            }
            AccessChange::Delete { id, .. } => client.delete_private_access_settings(id).await,
            AccessChange::Bind {
                workspace,
                settings,
                ..
            } => {
                let id = settings
                    .resolve(client.list_private_access_settings(), missing)
                    .await?;
                let update = WorkspaceUpdate {
                    private_access_settings_id: Some(id),
                    ..Default::default()
                };
                client.update_account_workspace(*workspace, &update).await
            }
        }
    }

    fn control_id(control: &AccessControl) -> String {
        match control {
            AccessControl::Settings(name) => format!("privateAccess/{name}"),
            AccessControl::Workspace {
                settings,
                workspace,
            } => format!("privateAccess/{settings}/workspace/{workspace}"),
            AccessControl::Undeclared => "privateAccess/undeclared".to_string(),
        }
    }

    fn describe(change: &AccessChange) -> String {
        let shape = |b: &PrivateAccessSettingsBody| {
            Shape {
                region: b.region.clone(),
                public_access_enabled: b.public_access_enabled,
                level: b.private_access_level,
                endpoints: b.allowed_vpc_endpoint_ids.iter().cloned().collect(),
            }
            .to_string()
        };
        match change {
            AccessChange::Create(b) => format!(
                "POST private-access-settings {} {}",
                b.private_access_settings_name,
                shape(b)
            ),
            AccessChange::Replace { body: b, .. } => format!(
                "PUT private-access-settings {} {}",
                b.private_access_settings_name,
                shape(b)
            ),
            AccessChange::Delete { name, .. } => format!("DELETE private-access-settings {name}"),
            AccessChange::Bind {
                workspace,
                settings,
                ..
            } => format!(
                "PATCH workspace {workspace} private_access_settings_id to {}",
                settings.name
            ),
        }
    }

    fn effects(change: &AccessChange) -> Vec<Effect> {
        match change {
            AccessChange::Delete { .. } => vec![Effect::Destructive],
            AccessChange::Replace {
                closes_public_access: true,
                ..
            }
            | AccessChange::Bind {
                closes_public_access: true,
                ..
            } => vec![Effect::ClosesPublicNetworkAccess],
            _ => Vec::new(),
        }
    }
}

fn missing(name: &str) -> String {
    format!("private access settings {name} do not exist (was their creation refused?)")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::Mode;
    use crate::api::{AccountPolicy, Management};
    use crate::clients::databricks::AccountWorkspace;
    use crate::controls::ControlResult;
    use crate::controls::testing::{pass, render};

    fn desired(cloud: Cloud, management: Management, settings: serde_json::Value) -> DesiredAccess {
        let account = Account {
            policy: AccountPolicy {
                private_access_settings: Some(serde_json::from_value(settings).unwrap()),
                management: Some(management),
                ..Default::default()
            },
            cloud,
        };
        PrivateAccess::desired(&account, &pass(Mode::Enforce)).expect("settings are managed")
    }

    fn prod() -> serde_json::Value {
        json!([{"name": "pas-prod", "region": "us-east-1", "publicAccessEnabled": false,
                "privateAccessLevel": "Account", "workspaces": [7]}])
    }

    fn live(id: &str, name: &str, region: &str, public: Option<bool>) -> PrivateAccessSettings {
        PrivateAccessSettings {
            private_access_settings_id: id.into(),
            private_access_settings_name: name.into(),
            region: Some(region.into()),
            public_access_enabled: public,
            ..Default::default()
        }
    }

    fn workspace(id: i64, region: &str, pas: Option<&str>) -> AccountWorkspace {
        AccountWorkspace {
            workspace_id: id,
            aws_region: Some(region.into()),
            private_access_settings_id: pas.map(str::to_string),
            ..Default::default()
        }
    }

    fn observed(
        settings: Vec<PrivateAccessSettings>,
        workspaces: Vec<AccountWorkspace>,
    ) -> ObservedAccess {
        ObservedAccess {
            settings: Ok(settings),
            workspaces: Some(Ok(workspaces)),
        }
    }

    fn evaluate(d: &DesiredAccess, o: &ObservedAccess) -> Vec<ControlResult> {
        render::<PrivateAccess>(&PrivateAccess::evaluate(d, o, &pass(Mode::Enforce)))
    }

    fn plan(d: &DesiredAccess, o: &ObservedAccess) -> Vec<Planned<AccessControl, AccessChange>> {
        let findings = PrivateAccess::evaluate(d, o, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        PrivateAccess::plan(d, o, &drifted, &pass(Mode::Enforce))
    }

    #[test]
    fn on_azure_and_gcp_every_declared_object_is_not_applicable() {
        for cloud in [Cloud::Azure, Cloud::Gcp] {
            let d = desired(cloud, Management::Exclusive, prod());
            assert!(!d.applies);
            let o = ObservedAccess {
                settings: Ok(Vec::new()),
                workspaces: None,
            };
            let results = evaluate(&d, &o);
            assert_eq!(results.len(), 3);
            for r in &results {
                assert_eq!(r.state, ControlState::NotApplicable);
                assert!(r.message.as_deref().unwrap().contains("not on AWS"));
            }
            assert!(plan(&d, &o).is_empty());
        }
        assert!(desired(Cloud::Unknown, Management::Additive, prod()).applies);
    }

    #[test]
    fn new_settings_are_created_then_bound_by_name_closing_public_access() {
        let d = desired(Cloud::Aws, Management::Additive, prod());
        let o = observed(vec![], vec![workspace(7, "us-east-1", None)]);
        let results = evaluate(&d, &o);
        let states: Vec<(&str, ControlState)> =
            results.iter().map(|r| (r.id.as_str(), r.state)).collect();
        assert_eq!(
            states,
            [
                ("privateAccess/pas-prod", ControlState::Drifted),
                ("privateAccess/pas-prod/workspace/7", ControlState::Drifted),
                ("privateAccess/undeclared", ControlState::Compliant),
            ]
        );
        let planned = plan(&d, &o);
        let described: Vec<String> = planned
            .iter()
            .map(|p| PrivateAccess::describe(&p.change))
            .collect();
        assert_eq!(
            described,
            [
                "POST private-access-settings pas-prod us-east-1, public access disabled, ACCOUNT",
                "PATCH workspace 7 private_access_settings_id to pas-prod",
            ]
        );
        assert!(matches!(
            &planned[1].change,
            AccessChange::Bind {
                settings: SettingsRef { id: None, .. },
                closes_public_access: true,
                ..
            }
        ));
        assert_eq!(
            PrivateAccess::effects(&planned[1].change),
            [Effect::ClosesPublicNetworkAccess]
        );
        assert!(PrivateAccess::effects(&planned[0].change).is_empty());
    }

    #[test]
    fn public_access_is_replaced_in_place_and_a_region_change_requires_recreation() {
        let d = desired(Cloud::Aws, Management::Additive, prod());
        let o = observed(
            vec![live("p1", "pas-prod", "us-east-1", Some(true))],
            vec![workspace(7, "us-east-1", Some("p1"))],
        );
        let results = evaluate(&d, &o);
        assert_eq!(results[0].state, ControlState::Drifted);
        assert_eq!(
            results[0].observed.as_deref(),
            Some("us-east-1, public access enabled, ACCOUNT")
        );
        assert_eq!(results[1].state, ControlState::Compliant);
        let planned = plan(&d, &o);
        assert_eq!(planned.len(), 1);
        assert!(matches!(
            &planned[0].change,
            AccessChange::Replace { id, closes_public_access: true, .. } if id == "p1"
        ));

        // Omitted fields are the API's defaults: public access off, ACCOUNT level.
        let o = observed(
            vec![live("p1", "pas-prod", "us-east-1", None)],
            vec![workspace(7, "us-east-1", Some("p1"))],
        );
        assert!(plan(&d, &o).is_empty());

        let o = observed(
            vec![live("p1", "pas-prod", "us-west-2", Some(false))],
            vec![workspace(7, "us-east-1", Some("p1"))],
        );
        let results = evaluate(&d, &o);
        assert_eq!(results[0].state, ControlState::RequiresRecreate);
        assert!(plan(&d, &o).is_empty());
    }

    #[test]
    fn bindings_fail_for_other_regions_and_unknown_workspaces() {
        let d = desired(
            Cloud::Aws,
            Management::Additive,
            json!([{"name": "pas-prod", "region": "us-east-1", "publicAccessEnabled": false,
                    "workspaces": [7, 8]}]),
        );
        let o = observed(
            vec![live("p1", "pas-prod", "us-east-1", Some(false))],
            vec![workspace(7, "eu-west-1", None)],
        );
        let results = evaluate(&d, &o);
        assert_eq!(results[1].state, ControlState::Failed);
        assert!(results[1].message.as_deref().unwrap().contains("eu-west-1"));
        assert!(results[1].message.as_deref().unwrap().contains("us-east-1"));
        assert_eq!(results[2].state, ControlState::Failed);
        assert!(
            results[2]
                .message
                .as_deref()
                .unwrap()
                .contains("workspace 8")
        );
        assert!(plan(&d, &o).is_empty());
    }

    #[test]
    fn undeclared_settings_are_deleted_only_under_exclusive() {
        let o = observed(vec![live("p9", "old", "us-east-1", Some(true))], vec![]);
        let additive = desired(Cloud::Aws, Management::Additive, json!([]));
        assert!(plan(&additive, &o).is_empty());
        let exclusive = desired(Cloud::Aws, Management::Exclusive, json!([]));
        let planned = plan(&exclusive, &o);
        assert_eq!(
            planned.iter().map(|p| &p.change).collect::<Vec<_>>(),
            [&AccessChange::Delete {
                id: "p9".into(),
                name: "old".into()
            }]
        );
        assert_eq!(
            PrivateAccess::effects(&planned[0].change),
            [Effect::Destructive]
        );
        assert!(PrivateAccess::guard(&additive, &planned[0].change).is_some());
    }
}
