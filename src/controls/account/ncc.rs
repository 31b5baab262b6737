//! Network connectivity configs (NCCs): the stable egress of serverless compute in one region,
//! with private endpoints to the customer's resources (reference 001). Controls `ncc/<name>`,
//! `ncc/<name>/rule/<resource name>/<group>`, `ncc/<name>/undeclared`,
//! `ncc/<name>/workspace/<id>` and `ncc/undeclared`.
//!
//! What the API allows shapes the plan: an NCC's region is fixed at creation (RequiresRecreate),
//! a private endpoint rule cannot be updated in place (a failed one is deleted and created again,
//! one destructive change), and a new endpoint waits for the resource owner's approval
//! (`PENDING`), which brickwarden reports and never tries to hurry by recreating. A workspace
//! binds only to an NCC of its own region.

use std::collections::BTreeMap;
use std::fmt;

use super::shared::{
    self, AccountWorkspaces, Binding, Common, Created, DeclaredObjects, ObjectRef, claimed_twice,
    create_once, read_account_workspaces, same_region, undeclared_finding,
};
use super::{Account, AccountApis};
use crate::api::{ControlState, NetworkConnectivityConfig, WorkspaceId};
use crate::clients::databricks::{
    AccountWorkspace, ConnectionState, NccPrivateEndpointRule, NetworkConnectivityConfiguration,
    NewNetworkConnectivityConfig, NewPrivateEndpointRule, WorkspaceUpdate,
};
use crate::clients::{ApiError, DatabricksClient};
use crate::controls::{Blocked, Effect, Family, Finding, Pass, Planned, ReadError, Reason, Step};

const NCC_REFERENCES: &[&str] = &[
    "reference 001 (serverless Private Link): define network connectivity configurations and attach them to workspaces",
];
const RULE_REFERENCES: &[&str] = &[
    "reference 001 (serverless Private Link): a private endpoint rule for each resource, approved on the resource",
];

// ---------------------------------------------------------------------------------------------
// Types

/// The NCC family.
pub struct Nccs;

/// The declared NCCs, management and mode resolved (`exclusive` also deletes undeclared
/// rules).
pub type DesiredNccs = DeclaredObjects<NetworkConnectivityConfig>;

/// What the family read: the NCCs, the rules of every declared NCC that exists (by NCC id) and,
/// when a binding is declared, the account's workspaces.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedNccs {
    pub nccs: Result<Vec<NetworkConnectivityConfiguration>, ReadError>,
    pub rules: BTreeMap<String, Result<Vec<NccPrivateEndpointRule>, ReadError>>,
    /// `None`: no declared NCC binds a workspace, so the workspaces were not read.
    pub workspaces: AccountWorkspaces,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NccControl {
    Ncc(String),
    Rule {
        ncc: String,
        resource_id: String,
        group_id: String,
    },
    /// Live rules of a declared NCC that no declared rule accounts for.
    UndeclaredRules(String),
    Workspace {
        ncc: String,
        workspace: WorkspaceId,
    },
    /// Live NCCs that are not declared.
    Undeclared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NccValue {
    /// An NCC, in its region.
    Ncc { region: String },
    /// What a declared rule should be: an endpoint requested (pending) or connected.
    Requested,
    /// A live rule's connection state.
    State(ConnectionState),
    /// Absent, the NCC a workspace is bound to, undeclared NCCs or rules.
    Common(Common),
}

impl fmt::Display for NccValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NccValue::Ncc { region } => write!(f, "in {region}"),
            NccValue::Requested => f.write_str("PENDING or ESTABLISHED"),
            NccValue::State(state) => f.write_str(state.as_str()),
            NccValue::Common(common) => common.render(f, "no NCC"),
        }
    }
}

impl From<Common> for NccValue {
    fn from(common: Common) -> Self {
        NccValue::Common(common)
    }
}

/// An NCC a change works on (created earlier in the same pass when its id is `None`).
pub type NccRef = ObjectRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NccChange {
    CreateNcc {
        name: String,
        region: String,
    },
    CreateRule {
        ncc: NccRef,
        resource_id: String,
        group_id: String,
    },
    /// A rule whose endpoint failed (rejected, disconnected, expired, creation failed) is
    /// deleted and created again: rules cannot be updated in place.
    RecreateRule {
        ncc_id: String,
        ncc: String,
        rule_id: String,
        resource_id: String,
        group_id: String,
        was: ConnectionState,
    },
    DeleteRule {
        ncc_id: String,
        ncc: String,
        rule_id: String,
        resource_id: String,
        group_id: String,
    },
    DeleteNcc {
        id: String,
        name: String,
    },
    Bind {
        workspace: WorkspaceId,
        ncc: NccRef,
    },
}

/// The last segment of an Azure resource id: the name in control ids and messages.
pub fn resource_name(resource_id: &str) -> &str {
    resource_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(resource_id)
}

fn same_target(rule: &NccPrivateEndpointRule, resource_id: &str, group_id: &str) -> bool {
    rule.resource_id
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case(resource_id))
        && rule.group_id.as_deref() == Some(group_id)
}

/// The live rule a declared one is matched with: the first active rule to the same resource and
/// group. A deactivated rule is on its way out and counts as absent.
fn live_rule<'a>(
    rules: &'a [NccPrivateEndpointRule],
    resource_id: &str,
    group_id: &str,
) -> Option<&'a NccPrivateEndpointRule> {
    rules
        .iter()
        .find(|r| !r.is_deactivated() && same_target(r, resource_id, group_id))
}

/// Active live rules no declared rule accounts for (including a second rule to a declared target).
fn undeclared_rules<'a>(
    declared: &NetworkConnectivityConfig,
    rules: &'a [NccPrivateEndpointRule],
) -> Vec<&'a NccPrivateEndpointRule> {
    rules
        .iter()
        .filter(|r| !r.is_deactivated())
        .filter(|r| {
            let matched = declared
                .private_endpoint_rules
                .iter()
                .find(|d| same_target(r, &d.resource_id, &d.group_id))
                .and_then(|d| live_rule(rules, &d.resource_id, &d.group_id));
            matched.is_none_or(|first| first.rule_id != r.rule_id)
        })
        .collect()
}

fn rule_label(rule: &NccPrivateEndpointRule) -> String {
    format!(
        "{}/{}",
        resource_name(rule.resource_id.as_deref().unwrap_or("?")),
        rule.group_id.as_deref().unwrap_or("?")
    )
}

/// The judgement of a declared rule's live connection state.
fn judge_rule(
    control: NccControl,
    state: ConnectionState,
    resource_id: &str,
    exclusive: bool,
) -> Finding<NccControl, NccValue> {
    use ConnectionState as S;
    let observed = NccValue::State(state);
    match state {
        S::Established => Finding::judged(control, true, NccValue::Requested, observed),
        // brickwarden has done its part: the owner of the resource approves the endpoint.
        S::Pending | S::Init => Finding::judged(control, true, NccValue::Requested, observed)
            .with_note(format!("awaiting approval on {resource_id}")),
        S::Creating => Finding::judged(control, true, NccValue::Requested, observed).with_note(
            format!("the endpoint is being provisioned; then awaiting approval on {resource_id}"),
        ),
        S::Rejected | S::Disconnected | S::Expired | S::CreateFailed => {
            let finding = Finding::judged(control, false, NccValue::Requested, observed);
            if exclusive {
                finding.with_note(format!(
                    "the endpoint to {resource_id} is {}: it is deleted and created again",
                    state.as_str()
                ))
            } else {
                finding.held(
                    ControlState::Drifted,
                    Reason::AdditiveManagement,
                    format!(
                        "the endpoint to {resource_id} is {}; a rule cannot be updated, only \
                         deleted and created again, which management: Exclusive allows \
                         (or recreate it yourself)",
                        state.as_str()
                    ),
                )
            }
        }
        S::Unknown => Finding::judged(control, false, NccValue::Requested, observed).held(
            ControlState::Drifted,
            Reason::VerifyOnly,
            format!("the endpoint to {resource_id} is in a state brickwarden does not know"),
        ),
    }
}

/// Every control of the declared NCCs, in the order `evaluate` reports them.
fn controls(desired: &DesiredNccs) -> Vec<NccControl> {
    let own = |ncc: &NetworkConnectivityConfig| {
        let rules = ncc.private_endpoint_rules.iter().map(|r| NccControl::Rule {
            ncc: ncc.name.clone(),
            resource_id: r.resource_id.clone(),
            group_id: r.group_id.clone(),
        });
        std::iter::once(NccControl::Ncc(ncc.name.clone()))
            .chain(rules)
            .chain([NccControl::UndeclaredRules(ncc.name.clone())])
            .collect()
    };
    let workspace = |ncc: &NetworkConnectivityConfig, workspace| NccControl::Workspace {
        ncc: ncc.name.clone(),
        workspace,
    };
    shared::controls(&desired.declared, own, workspace, NccControl::Undeclared)
}

fn references(control: &NccControl) -> &'static [&'static str] {
    match control {
        NccControl::Rule { .. } | NccControl::UndeclaredRules(_) => RULE_REFERENCES,
        _ => NCC_REFERENCES,
    }
}

type NccFinding = Finding<NccControl, NccValue>;

fn evaluate_binding(
    desired: &NetworkConnectivityConfig,
    id: WorkspaceId,
    nccs: &[NetworkConnectivityConfiguration],
    workspaces: Option<&Result<Vec<AccountWorkspace>, ReadError>>,
    claimed: &BTreeMap<WorkspaceId, Vec<&str>>,
) -> NccFinding {
    let control = NccControl::Workspace {
        ncc: desired.name.clone(),
        workspace: id,
    };
    let binding = Binding::new(control, &desired.name, id);
    if let Err(finding) = binding.unclaimed(claimed, "NCC") {
        return finding;
    }
    let other_region = |region: &str| {
        format!(
            "workspace {id} is in {region} but NCC {} is in {}: a workspace binds only to an \
             NCC of its own region",
            desired.name, desired.region
        )
    };
    let workspace = match binding.account_workspace(workspaces, &desired.region, other_region) {
        Ok(workspace) => workspace,
        Err(finding) => return finding,
    };
    if let Some(live) =
        shared::live(nccs, &desired.name).filter(|l| !same_region(&l.region, &desired.region))
    {
        return binding.blocked(format!(
            "NCC {} is in {}, not {}: it has to be recreated before workspace {id} can bind to it",
            desired.name, live.region, desired.region
        ));
    }
    let bound = workspace.network_connectivity_config_id.as_deref();
    binding.judge(nccs, &desired.name, bound)
}

fn evaluate_ncc(
    declared: &NetworkConnectivityConfig,
    desired: &DesiredNccs,
    observed: &ObservedNccs,
    nccs: &[NetworkConnectivityConfiguration],
    claimed: &BTreeMap<WorkspaceId, Vec<&str>>,
) -> Vec<NccFinding> {
    let name = &declared.name;
    let live = shared::live(nccs, name);
    let mut findings = Vec::new();
    let want = NccValue::Ncc {
        region: declared.region.clone(),
    };
    findings.push(match live {
        None => Finding::compare(NccControl::Ncc(name.clone()), want, Common::Absent.into()),
        Some(l) if same_region(&l.region, &declared.region) => Finding::judged(
            NccControl::Ncc(name.clone()),
            true,
            want,
            NccValue::Ncc {
                region: l.region.clone(),
            },
        ),
        Some(l) => Finding::compare(
            NccControl::Ncc(name.clone()),
            want,
            NccValue::Ncc {
                region: l.region.clone(),
            },
        )
        .held(
            ControlState::RequiresRecreate,
            Reason::RequiresRecreate,
            format!(
                "NCC {name} is in {} but declared in {}: an NCC's region is set when it is \
                 created; delete it (after moving its workspaces) to have it created in {}",
                l.region, declared.region, declared.region
            ),
        ),
    });
    // The rules of a live NCC as read; `None` for an NCC that does not exist yet (no rules).
    let rules = live.map(|l| {
        observed
            .rules
            .get(&l.network_connectivity_config_id)
            .cloned()
            .unwrap_or_else(|| Err(ReadError::not_read(format!("the rules of NCC {name}"))))
    });
    let misplaced = live.is_some_and(|l| !same_region(&l.region, &declared.region));
    for rule in &declared.private_endpoint_rules {
        let control = NccControl::Rule {
            ncc: name.clone(),
            resource_id: rule.resource_id.clone(),
            group_id: rule.group_id.clone(),
        };
        findings.push(match &rules {
            None => Finding::compare(control, NccValue::Requested, Common::Absent.into()),
            Some(Err(error)) => Finding::read_failed(control, error),
            Some(Ok(live_rules)) => {
                match live_rule(live_rules, &rule.resource_id, &rule.group_id) {
                    None => Finding::compare(control, NccValue::Requested, Common::Absent.into()),
                    Some(r) => judge_rule(
                        control,
                        r.connection_state.unwrap_or_default(),
                        &rule.resource_id,
                        desired.exclusive,
                    ),
                }
            }
        });
        if let Some(last) = findings.last_mut().filter(|f| misplaced && f.is_drifted()) {
            let why = format!(
                "NCC {name} has to be recreated in {} before its endpoints are fixed",
                declared.region
            );
            *last = last
                .clone()
                .held(ControlState::Drifted, Reason::RequiresRecreate, why);
        }
    }
    let control = NccControl::UndeclaredRules(name.clone());
    findings.push(match &rules {
        Some(Err(error)) => Finding::read_failed(control, error),
        None => undeclared_finding(
            control,
            "private endpoint rules",
            Vec::new(),
            desired.exclusive,
        ),
        Some(Ok(live_rules)) => {
            let names = undeclared_rules(declared, live_rules)
                .into_iter()
                .map(rule_label)
                .collect();
            undeclared_finding(control, "private endpoint rules", names, desired.exclusive)
        }
    });
    for id in &declared.workspaces {
        findings.push(evaluate_binding(
            declared,
            *id,
            nccs,
            observed.workspaces.as_ref(),
            claimed,
        ));
    }
    findings
}

fn evaluate_nccs(
    desired: &DesiredNccs,
    observed: &ObservedNccs,
    nccs: &[NetworkConnectivityConfiguration],
) -> Vec<NccFinding> {
    let claimed = claimed_twice(&desired.declared);
    let mut findings: Vec<NccFinding> = desired
        .declared
        .iter()
        .flat_map(|declared| evaluate_ncc(declared, desired, observed, nccs, &claimed))
        .collect();
    let undeclared = shared::undeclared(nccs, &desired.declared)
        .map(|(_, name)| name.to_string())
        .collect();
    findings.push(undeclared_finding(
        NccControl::Undeclared,
        "NCCs",
        undeclared,
        desired.exclusive,
    ));
    findings
}

impl Family for Nccs {
    type Policy = Account;
    type Apis = AccountApis;
    type Desired = DesiredNccs;
    type Observed = ObservedNccs;
    type Control = NccControl;
    type Value = NccValue;
    type Change = NccChange;

    fn desired(account: &Account, pass: &Pass) -> Option<DesiredNccs> {
        DeclaredObjects::of(
            account.policy.network_connectivity_configs.as_ref(),
            account,
            pass,
        )
    }

    /// One listing of the NCCs, one of the rules of each declared NCC that exists, and one of
    /// the account's workspaces when a binding is declared.
    async fn observe(desired: &DesiredNccs, apis: &AccountApis) -> ObservedNccs {
        let client = &apis.databricks;
        let workspaces = read_account_workspaces(client, shared::binds(&desired.declared));
        let nccs_and_rules = async {
            let nccs = client
                .list_network_connectivity_configs()
                .await
                .map_err(ReadError::from);
            let mut rules = BTreeMap::new();
            if let Ok(nccs) = &nccs {
                let ids: Vec<String> = desired
                    .declared
                    .iter()
                    .filter_map(|d| shared::live(nccs, &d.name))
                    .map(|n| n.network_connectivity_config_id.clone())
                    .collect();
                let read = futures::future::join_all(
                    ids.iter().map(|id| client.list_private_endpoint_rules(id)),
                )
                .await;
                for (id, result) in ids.into_iter().zip(read) {
                    rules.insert(id, result.map_err(ReadError::from));
                }
            }
            (nccs, rules)
        };
        let ((nccs, rules), workspaces) = futures::join!(nccs_and_rules, workspaces);
        ObservedNccs {
            nccs,
            rules,
            workspaces,
        }
    }

    fn evaluate(desired: &DesiredNccs, observed: &ObservedNccs, _pass: &Pass) -> Vec<NccFinding> {
        shared::over_listing(
            &observed.nccs,
            || controls(desired),
            |nccs| evaluate_nccs(desired, observed, nccs),
            references,
        )
    }

    fn plan(
        desired: &DesiredNccs,
        observed: &ObservedNccs,
        drifted: &[&NccFinding],
        _pass: &Pass,
    ) -> Vec<Planned<NccControl, NccChange>> {
        let Ok(nccs) = &observed.nccs else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        let mut push = |control: &NccControl, step, change| {
            actions.push(Planned::one(control.clone(), step, desired.mode, change));
        };
        let ncc_ref = |name: &str| ObjectRef::to(nccs, name);
        let live_rules = |ncc_id: &str| match observed.rules.get(ncc_id) {
            Some(Ok(rules)) => Some(rules.as_slice()),
            _ => None,
        };
        for finding in drifted {
            // A drift brickwarden holds back (Additive management, an unknown state) stays.
            if finding.reason.is_some() {
                continue;
            }
            let control = &finding.control;
            match control {
                NccControl::Ncc(name) => {
                    let Some(declared) = shared::declared(&desired.declared, name) else {
                        continue;
                    };
                    if shared::live(nccs, name).is_none() {
                        let change = NccChange::CreateNcc {
                            name: name.clone(),
                            region: declared.region.clone(),
                        };
                        push(control, Step::Configure, change);
                    }
                }
                NccControl::Rule {
                    ncc,
                    resource_id,
                    group_id,
                } => {
                    let target = ncc_ref(ncc);
                    let live = target
                        .id
                        .as_deref()
                        .and_then(live_rules)
                        .and_then(|rules| live_rule(rules, resource_id, group_id));
                    let change = match (live, &target.id) {
                        (Some(rule), Some(ncc_id)) if desired.exclusive => {
                            NccChange::RecreateRule {
                                ncc_id: ncc_id.clone(),
                                ncc: ncc.clone(),
                                rule_id: rule.rule_id.clone(),
                                resource_id: resource_id.clone(),
                                group_id: group_id.clone(),
                                was: rule.connection_state.unwrap_or_default(),
                            }
                        }
                        (Some(_), _) => continue,
                        (None, _) => NccChange::CreateRule {
                            ncc: target,
                            resource_id: resource_id.clone(),
                            group_id: group_id.clone(),
                        },
                    };
                    push(control, Step::Configure, change);
                }
                NccControl::Workspace { ncc, workspace } => {
                    let change = NccChange::Bind {
                        workspace: *workspace,
                        ncc: ncc_ref(ncc),
                    };
                    push(control, Step::Configure, change);
                }
                NccControl::UndeclaredRules(name) if desired.exclusive => {
                    let (Some(declared), Some(live)) = (
                        shared::declared(&desired.declared, name),
                        shared::live(nccs, name),
                    ) else {
                        continue;
                    };
                    let id = &live.network_connectivity_config_id;
                    for rule in live_rules(id)
                        .map(|r| undeclared_rules(declared, r))
                        .into_iter()
                        .flatten()
                    {
                        let change = NccChange::DeleteRule {
                            ncc_id: id.clone(),
                            ncc: name.clone(),
                            rule_id: rule.rule_id.clone(),
                            resource_id: rule.resource_id.clone().unwrap_or_default(),
                            group_id: rule.group_id.clone().unwrap_or_default(),
                        };
                        push(control, Step::Revoke, change);
                    }
                }
                NccControl::Undeclared if desired.exclusive => {
                    for (live, name) in shared::undeclared(nccs, &desired.declared) {
                        let change = NccChange::DeleteNcc {
                            id: live.network_connectivity_config_id.clone(),
                            name: name.to_string(),
                        };
                        push(control, Step::Revoke, change);
                    }
                }
                NccControl::UndeclaredRules(_) | NccControl::Undeclared => {}
            }
        }
        actions
    }

    /// Nothing is deleted under Additive management: the plan makes no such change, and this
    /// makes sure none runs.
    fn guard(desired: &DesiredNccs, change: &NccChange) -> Option<Blocked> {
        let deletes = matches!(
            change,
            NccChange::DeleteNcc { .. }
                | NccChange::DeleteRule { .. }
                | NccChange::RecreateRule { .. }
        );
        shared::additive_guard(
            deletes,
            desired.exclusive,
            "NCCs and private endpoint rules",
        )
    }

    async fn execute(change: &NccChange, apis: &AccountApis) -> Result<(), ApiError> {
        let client = &apis.databricks;
        match change {
            NccChange::CreateNcc { name, region } => {
                let new = NewNetworkConnectivityConfig {
                    name: name.clone(),
                    region: region.clone(),
                };
                let exists = async { find_ncc(client, name).await.is_ok() };
                let created =
                    create_once(client.create_network_connectivity_config(&new), exists).await?;
                if created == Created::FoundAfterError {
                    tracing::info!(
                        ncc = %name,
                        "NCC create answered with an error, but the NCC exists: not creating it \
                         again"
                    );
                }
                Ok(())
            }
            NccChange::CreateRule {
                ncc,
                resource_id,
                group_id,
            } => {
                let ncc_id = resolve(client, ncc).await?;
                create_rule(client, &ncc_id, resource_id, group_id).await
            }
            NccChange::RecreateRule {
                ncc_id,
                rule_id,
                resource_id,
                group_id,
                ..
            } => {
                match client.delete_private_endpoint_rule(ncc_id, rule_id).await {
                    Ok(()) => {}
                    Err(err) if err.is_not_found() => {}
                    Err(err) => return Err(err),
                }
                create_rule(client, ncc_id, resource_id, group_id).await
            }
            NccChange::DeleteRule {
                ncc_id, rule_id, ..
            } => client.delete_private_endpoint_rule(ncc_id, rule_id).await,
            NccChange::DeleteNcc { id, .. } => client.delete_network_connectivity_config(id).await,
            NccChange::Bind { workspace, ncc } => {
                let update = WorkspaceUpdate {
                    network_connectivity_config_id: Some(resolve(client, ncc).await?),
                    ..Default::default()
                };
                client.update_account_workspace(*workspace, &update).await
            }
        }
    }

    fn control_id(control: &NccControl) -> String {
        match control {
            NccControl::Ncc(name) => format!("ncc/{name}"),
            NccControl::Rule {
                ncc,
                resource_id,
                group_id,
            } => format!("ncc/{ncc}/rule/{}/{group_id}", resource_name(resource_id)),
            NccControl::UndeclaredRules(name) => format!("ncc/{name}/undeclared"),
            NccControl::Workspace { ncc, workspace } => format!("ncc/{ncc}/workspace/{workspace}"),
            NccControl::Undeclared => "ncc/undeclared".to_string(),
        }
    }

    fn describe(change: &NccChange) -> String {
        match change {
            NccChange::CreateNcc { name, region } => {
                format!("POST network-connectivity-config {name} in {region}")
            }
            NccChange::CreateRule {
                ncc,
                resource_id,
                group_id,
            } => format!(
                "POST private-endpoint-rule {}/{group_id} on NCC {}",
                resource_name(resource_id),
                ncc.name
            ),
            NccChange::RecreateRule {
                ncc,
                resource_id,
                group_id,
                was,
                ..
            } => format!(
                "DELETE and POST private-endpoint-rule {}/{group_id} on NCC {ncc} (endpoint {})",
                resource_name(resource_id),
                was.as_str()
            ),
            NccChange::DeleteRule {
                ncc,
                resource_id,
                group_id,
                ..
            } => format!(
                "DELETE private-endpoint-rule {}/{group_id} of NCC {ncc}",
                resource_name(resource_id)
            ),
            NccChange::DeleteNcc { name, .. } => {
                format!("DELETE network-connectivity-config {name}")
            }
            NccChange::Bind { workspace, ncc } => format!(
                "PATCH workspace {workspace} network_connectivity_config_id to NCC {}",
                ncc.name
            ),
        }
    }

    fn effects(change: &NccChange) -> Vec<Effect> {
        match change {
            NccChange::RecreateRule { .. }
            | NccChange::DeleteRule { .. }
            | NccChange::DeleteNcc { .. } => vec![Effect::Destructive],
            _ => Vec::new(),
        }
    }
}

/// The live NCC of that name.
async fn find_ncc(
    client: &DatabricksClient,
    name: &str,
) -> Result<NetworkConnectivityConfiguration, ApiError> {
    shared::find(client.list_network_connectivity_configs(), name, missing).await
}

fn missing(name: &str) -> String {
    format!("NCC {name} does not exist (was its creation refused?)")
}

/// The id of the NCC a change works on; one listing when it was created in the same pass.
async fn resolve(client: &DatabricksClient, ncc: &NccRef) -> Result<String, ApiError> {
    ncc.resolve(client.list_network_connectivity_configs(), missing)
        .await
}

/// Creates a rule; after a lost answer, a rule to the same target found on re-reading counts as
/// created (the plan creates one only when none is active).
async fn create_rule(
    client: &DatabricksClient,
    ncc_id: &str,
    resource_id: &str,
    group_id: &str,
) -> Result<(), ApiError> {
    let new = NewPrivateEndpointRule {
        resource_id: resource_id.to_string(),
        group_id: group_id.to_string(),
    };
    let exists = async {
        client
            .list_private_endpoint_rules(ncc_id)
            .await
            .is_ok_and(|rules| live_rule(&rules, resource_id, group_id).is_some())
    };
    let created = create_once(client.create_private_endpoint_rule(ncc_id, &new), exists).await?;
    if created == Created::FoundAfterError {
        tracing::info!(
            ncc_id,
            group_id,
            "private endpoint rule create answered with an error, but the rule exists: not \
             creating it again"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Mode;
    use crate::api::{AccountPolicy, Management, PrivateEndpointRule};
    use crate::controls::ControlResult;
    use crate::controls::account::Cloud;
    use crate::controls::testing::{pass, render};

    const LAKE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake";
    const SQL: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/db";

    fn declared(name: &str, region: &str, workspaces: &[i64]) -> NetworkConnectivityConfig {
        NetworkConnectivityConfig {
            name: name.into(),
            region: region.into(),
            private_endpoint_rules: vec![PrivateEndpointRule {
                resource_id: LAKE.into(),
                group_id: "dfs".into(),
            }],
            workspaces: workspaces.to_vec(),
        }
    }

    fn desired(management: Management, nccs: Vec<NetworkConnectivityConfig>) -> DesiredNccs {
        let account = Account {
            policy: AccountPolicy {
                network_connectivity_configs: Some(nccs),
                management: Some(management),
                ..Default::default()
            },
            cloud: Cloud::Azure,
        };
        Nccs::desired(&account, &pass(Mode::Enforce)).expect("NCCs are managed")
    }

    fn ncc(id: &str, name: &str, region: &str) -> NetworkConnectivityConfiguration {
        NetworkConnectivityConfiguration {
            network_connectivity_config_id: id.into(),
            name: name.into(),
            region: region.into(),
            ..Default::default()
        }
    }

    fn rule(
        id: &str,
        resource: &str,
        group: &str,
        state: ConnectionState,
    ) -> NccPrivateEndpointRule {
        NccPrivateEndpointRule {
            rule_id: id.into(),
            resource_id: Some(resource.into()),
            group_id: Some(group.into()),
            connection_state: Some(state),
            ..Default::default()
        }
    }

    fn workspace(id: i64, region: &str, ncc: Option<&str>) -> AccountWorkspace {
        AccountWorkspace {
            workspace_id: id,
            location: Some(region.into()),
            network_connectivity_config_id: ncc.map(str::to_string),
            ..Default::default()
        }
    }

    fn observed(
        nccs: Vec<NetworkConnectivityConfiguration>,
        rules: Vec<(&str, Vec<NccPrivateEndpointRule>)>,
        workspaces: Vec<AccountWorkspace>,
    ) -> ObservedNccs {
        ObservedNccs {
            nccs: Ok(nccs),
            rules: rules
                .into_iter()
                .map(|(id, r)| (id.to_string(), Ok(r)))
                .collect(),
            workspaces: Some(Ok(workspaces)),
        }
    }

    /// NCC ncc-we (id n1, in westeurope) with `rules`, the other live NCCs after it.
    fn ncc_we(
        others: Vec<NetworkConnectivityConfiguration>,
        rules: Vec<NccPrivateEndpointRule>,
        workspaces: Vec<AccountWorkspace>,
    ) -> ObservedNccs {
        let mut nccs = vec![ncc("n1", "ncc-we", "westeurope")];
        nccs.extend(others);
        observed(nccs, vec![("n1", rules)], workspaces)
    }

    fn evaluate(d: &DesiredNccs, o: &ObservedNccs) -> Vec<ControlResult> {
        render::<Nccs>(&Nccs::evaluate(d, o, &pass(Mode::Enforce)))
    }

    fn result<'a>(results: &'a [ControlResult], id: &str) -> &'a ControlResult {
        results
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no {id} in {results:#?}"))
    }

    fn plan(d: &DesiredNccs, o: &ObservedNccs) -> Vec<Planned<NccControl, NccChange>> {
        let findings = Nccs::evaluate(d, o, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        Nccs::plan(d, o, &drifted, &pass(Mode::Enforce))
    }

    fn described(planned: &[Planned<NccControl, NccChange>]) -> Vec<String> {
        planned.iter().map(|p| Nccs::describe(&p.change)).collect()
    }

    #[test]
    fn a_new_ncc_its_rule_and_its_binding_are_planned_in_order_by_name() {
        let d = desired(
            Management::Additive,
            vec![declared("ncc-we", "westeurope", &[7])],
        );
        let o = observed(vec![], vec![], vec![workspace(7, "westeurope", None)]);
        let results = evaluate(&d, &o);
        let ids: Vec<(&str, ControlState)> =
            results.iter().map(|r| (r.id.as_str(), r.state)).collect();
        assert_eq!(
            ids,
            [
                ("ncc/ncc-we", ControlState::Drifted),
                ("ncc/ncc-we/rule/lake/dfs", ControlState::Drifted),
                ("ncc/ncc-we/undeclared", ControlState::Compliant),
                ("ncc/ncc-we/workspace/7", ControlState::Drifted),
                ("ncc/undeclared", ControlState::Compliant),
            ]
        );
        assert!(results.iter().all(|r| !r.references.is_empty()));
        let planned = plan(&d, &o);
        assert_eq!(
            described(&planned),
            [
                "POST network-connectivity-config ncc-we in westeurope",
                "POST private-endpoint-rule lake/dfs on NCC ncc-we",
                "PATCH workspace 7 network_connectivity_config_id to NCC ncc-we",
            ]
        );
        // The NCC does not exist yet: the rule and the binding carry its name, resolved later.
        let unresolved = NccRef {
            name: "ncc-we".into(),
            id: None,
        };
        assert!(
            matches!(&planned[1].change, NccChange::CreateRule { ncc, .. } if *ncc == unresolved)
        );
        assert!(matches!(&planned[2].change, NccChange::Bind { ncc, .. } if *ncc == unresolved));
        assert!(planned.iter().all(|p| p.step == Step::Configure));
        assert!(planned.iter().all(|p| Nccs::effects(&p.change).is_empty()));
    }

    #[test]
    fn a_pending_endpoint_is_compliant_and_never_recreated() {
        for management in [Management::Additive, Management::Exclusive] {
            for state in [ConnectionState::Pending, ConnectionState::Init] {
                let d = desired(management, vec![declared("ncc-we", "westeurope", &[7])]);
                let o = ncc_we(
                    vec![],
                    vec![rule("r1", LAKE, "dfs", state)],
                    vec![workspace(7, "westeurope", Some("n1"))],
                );
                let results = evaluate(&d, &o);
                let r = result(&results, "ncc/ncc-we/rule/lake/dfs");
                assert_eq!(r.state, ControlState::Compliant);
                assert_eq!(
                    r.message.as_deref(),
                    Some(format!("awaiting approval on {LAKE}").as_str())
                );
                assert_eq!(r.observed.as_deref(), Some(state.as_str()));
                assert!(plan(&d, &o).is_empty(), "{management:?} {state:?}");
            }
        }
    }

    #[test]
    fn a_rejected_endpoint_is_recreated_only_under_exclusive() {
        let live = |state| ncc_we(vec![], vec![rule("r1", LAKE, "dfs", state)], vec![]);
        for state in [
            ConnectionState::Rejected,
            ConnectionState::Disconnected,
            ConnectionState::Expired,
        ] {
            let additive = desired(
                Management::Additive,
                vec![declared("ncc-we", "westeurope", &[])],
            );
            let results = evaluate(&additive, &live(state));
            let r = result(&results, "ncc/ncc-we/rule/lake/dfs");
            assert_eq!(r.state, ControlState::Drifted);
            assert_eq!(r.reason, Some(Reason::AdditiveManagement));
            assert!(r.message.as_deref().unwrap().contains(state.as_str()));
            assert!(r.message.as_deref().unwrap().contains("Exclusive"));
            assert!(plan(&additive, &live(state)).is_empty());

            let exclusive = desired(
                Management::Exclusive,
                vec![declared("ncc-we", "westeurope", &[])],
            );
            let planned = plan(&exclusive, &live(state));
            assert_eq!(planned.len(), 1, "one change: delete and create together");
            assert_eq!(
                planned[0].change,
                NccChange::RecreateRule {
                    ncc_id: "n1".into(),
                    ncc: "ncc-we".into(),
                    rule_id: "r1".into(),
                    resource_id: LAKE.into(),
                    group_id: "dfs".into(),
                    was: state,
                }
            );
            assert_eq!(Nccs::effects(&planned[0].change), [Effect::Destructive]);
            assert_eq!(Nccs::guard(&exclusive, &planned[0].change), None);
            assert_eq!(
                Nccs::guard(&additive, &planned[0].change).map(|b| b.reason),
                Some(Reason::AdditiveManagement)
            );
        }
    }

    #[test]
    fn a_deactivated_rule_counts_as_absent() {
        let d = desired(
            Management::Exclusive,
            vec![declared("ncc-we", "westeurope", &[])],
        );
        let mut gone = rule("r1", LAKE, "dfs", ConnectionState::Established);
        gone.deactivated = Some(true);
        let o = ncc_we(vec![], vec![gone], vec![]);
        let results = evaluate(&d, &o);
        assert_eq!(
            result(&results, "ncc/ncc-we/rule/lake/dfs")
                .observed
                .as_deref(),
            Some("absent")
        );
        assert_eq!(
            result(&results, "ncc/ncc-we/undeclared").state,
            ControlState::Compliant
        );
        assert_eq!(
            described(&plan(&d, &o)),
            ["POST private-endpoint-rule lake/dfs on NCC ncc-we"]
        );
    }

    #[test]
    fn additive_never_deletes_undeclared_nccs_or_rules() {
        let o = ncc_we(
            vec![ncc("n2", "legacy", "westeurope")],
            vec![
                rule("r1", LAKE, "dfs", ConnectionState::Established),
                rule("r2", SQL, "sqlServer", ConnectionState::Established),
                rule("r3", LAKE, "dfs", ConnectionState::Pending),
            ],
            vec![],
        );
        let additive = desired(
            Management::Additive,
            vec![declared("ncc-we", "westeurope", &[])],
        );
        let results = evaluate(&additive, &o);
        let undeclared = result(&results, "ncc/undeclared");
        assert_eq!(undeclared.state, ControlState::Compliant);
        assert!(undeclared.message.as_deref().unwrap().contains("legacy"));
        let rules = result(&results, "ncc/ncc-we/undeclared");
        assert_eq!(rules.state, ControlState::Compliant);
        assert!(
            rules
                .message
                .as_deref()
                .unwrap()
                .contains("db/sqlServer, lake/dfs")
        );
        assert!(plan(&additive, &o).is_empty());

        let exclusive = desired(
            Management::Exclusive,
            vec![declared("ncc-we", "westeurope", &[])],
        );
        let results = evaluate(&exclusive, &o);
        assert_eq!(
            result(&results, "ncc/undeclared").observed.as_deref(),
            Some("legacy")
        );
        let planned = plan(&exclusive, &o);
        assert_eq!(
            described(&planned),
            [
                "DELETE private-endpoint-rule db/sqlServer of NCC ncc-we",
                "DELETE private-endpoint-rule lake/dfs of NCC ncc-we",
                "DELETE network-connectivity-config legacy",
            ]
        );
        // The second rule to a declared target goes, the first (matched) one stays.
        assert!(
            matches!(&planned[1].change, NccChange::DeleteRule { rule_id, .. } if rule_id == "r3")
        );
        for p in &planned {
            assert_eq!(p.step, Step::Revoke);
            assert_eq!(Nccs::effects(&p.change), [Effect::Destructive]);
            assert!(Nccs::guard(&additive, &p.change).is_some());
        }
    }

    #[test]
    fn an_ncc_in_another_region_requires_recreation_and_is_never_attempted() {
        let d = desired(
            Management::Exclusive,
            vec![declared("ncc-we", "westeurope", &[7])],
        );
        let o = observed(
            vec![ncc("n1", "ncc-we", "northeurope")],
            vec![("n1", vec![])],
            vec![workspace(7, "westeurope", None)],
        );
        let results = evaluate(&d, &o);
        let n = result(&results, "ncc/ncc-we");
        assert_eq!(n.state, ControlState::RequiresRecreate);
        assert_eq!(n.observed.as_deref(), Some("in northeurope"));
        assert_eq!(
            result(&results, "ncc/ncc-we/rule/lake/dfs").reason,
            Some(Reason::RequiresRecreate)
        );
        assert_eq!(
            result(&results, "ncc/ncc-we/workspace/7").state,
            ControlState::Failed
        );
        assert!(plan(&d, &o).is_empty());
    }

    #[test]
    fn bindings_fail_for_other_regions_and_unknown_workspaces() {
        let d = desired(
            Management::Additive,
            vec![declared("ncc-we", "westeurope", &[7, 8, 9])],
        );
        let o = ncc_we(
            vec![ncc("n2", "ncc-ne", "northeurope")],
            vec![rule("r1", LAKE, "dfs", ConnectionState::Established)],
            vec![
                workspace(7, "northeurope", Some("n2")),
                workspace(8, "West Europe", Some("n2")),
            ],
        );
        let results = evaluate(&d, &o);
        let other_region = result(&results, "ncc/ncc-we/workspace/7");
        assert_eq!(other_region.state, ControlState::Failed);
        assert_eq!(
            other_region.message.as_deref(),
            Some(
                "workspace 7 is in northeurope but NCC ncc-we is in westeurope: a workspace \
                 binds only to an NCC of its own region"
            )
        );
        let drifted = result(&results, "ncc/ncc-we/workspace/8");
        assert_eq!(drifted.state, ControlState::Drifted);
        assert_eq!(drifted.observed.as_deref(), Some("ncc-ne"));
        let missing = result(&results, "ncc/ncc-we/workspace/9");
        assert_eq!(missing.state, ControlState::Failed);
        assert!(missing.message.as_deref().unwrap().contains("workspace 9"));
        let planned = plan(&d, &o);
        assert_eq!(
            planned.iter().map(|p| &p.change).collect::<Vec<_>>(),
            [&NccChange::Bind {
                workspace: 8,
                ncc: NccRef {
                    name: "ncc-we".into(),
                    id: Some("n1".into())
                }
            }]
        );
    }

    #[test]
    fn a_workspace_declared_for_two_nccs_fails_for_both() {
        let d = desired(
            Management::Additive,
            vec![
                declared("ncc-a", "westeurope", &[7]),
                declared("ncc-b", "westeurope", &[7]),
            ],
        );
        let o = observed(vec![], vec![], vec![workspace(7, "westeurope", None)]);
        let results = evaluate(&d, &o);
        for id in ["ncc/ncc-a/workspace/7", "ncc/ncc-b/workspace/7"] {
            let r = result(&results, id);
            assert_eq!(r.state, ControlState::Failed);
            assert!(r.message.as_deref().unwrap().contains("ncc-a and ncc-b"));
        }
    }

    #[test]
    fn a_failed_read_fails_every_control_and_plans_nothing() {
        let d = desired(
            Management::Exclusive,
            vec![declared("ncc-we", "westeurope", &[7])],
        );
        let o = ObservedNccs {
            nccs: Err(ReadError::not_read("the NCCs")),
            rules: BTreeMap::new(),
            workspaces: None,
        };
        let results = evaluate(&d, &o);
        assert_eq!(results.len(), 5);
        assert!(results.iter().all(|r| r.state == ControlState::Failed));
        assert!(plan(&d, &o).is_empty());
    }

    #[test]
    fn resource_names_are_the_last_segment() {
        assert_eq!(resource_name(LAKE), "lake");
        assert_eq!(resource_name("/subscriptions/s/x/"), "x");
        assert_eq!(resource_name("plain"), "plain");
    }
}
