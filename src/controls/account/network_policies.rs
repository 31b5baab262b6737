//! Serverless network policies: deny-by-default egress for serverless compute (reference 001).
//! Controls `networkPolicy/<name>`, `networkPolicy/<name>/workspace/<id>` and
//! `networkPolicy/undeclared`.
//!
//! A policy's id is its declared name. Restriction mode, allowed internet destinations (a set of
//! DNS names), allowed storage destinations (a set) and enforcement are compared typed; an
//! update is a read-modify-write `PUT` that keeps what brickwarden does not manage (ingress,
//! blocked destinations). Which policy a workspace follows is read and written per workspace
//! (`/workspaces/{id}/network`); the built-in `default-policy` is never reported as undeclared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::shared::{
    self, Binding, Common, DeclaredObjects, claimed_twice, create_once, undeclared_finding,
};
use super::{Account, AccountApis};
use crate::api::{self, NetworkPolicy, WorkspaceId};
use crate::clients::ApiError;
use crate::clients::databricks::{
    AccountNetworkPolicy, DEFAULT_NETWORK_POLICY, EnforcementMode, InternetDestination,
    NetworkAccessPolicy, NetworkPolicyEgress, PolicyEnforcement, RestrictionMode,
    StorageDestination, WorkspaceNetworkOption,
};
use crate::controls::{Blocked, Effect, Family, Finding, Pass, Planned, ReadError, Reason, Step};

const REFERENCES: &[&str] = &[
    "reference 001 (serverless Private Link): deny-by-default outbound access, explicitly allowed destinations",
    // security-analysis-tool d4355dc, configs/security_best_practices.csv: a workspace without
    // a restricted, enforced serverless network policy fails NS-9.
    "SAT NS-9",
];

/// The network policies family.
pub struct NetworkPolicies;

/// The declared network policies, management and mode resolved.
pub type DesiredPolicies = DeclaredObjects<NetworkPolicy>;

/// The account's policies and the network option of every workspace a declared policy binds.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedPolicies {
    pub policies: Result<Vec<AccountNetworkPolicy>, ReadError>,
    pub bindings: BTreeMap<WorkspaceId, Result<WorkspaceNetworkOption, ReadError>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyControl {
    Policy(String),
    Workspace {
        policy: String,
        workspace: WorkspaceId,
    },
    Undeclared,
}

/// A storage destination as compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Storage {
    Azure {
        account: String,
        service: String,
    },
    /// A destination of another cloud (S3 bucket, GCS), rendered as the API describes it.
    Other(String),
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Azure { account, service } => write!(f, "{account}/{service}"),
            Storage::Other(what) => f.write_str(what),
        }
    }
}

/// What a policy says about egress, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    pub restriction_mode: RestrictionMode,
    pub internet: BTreeSet<String>,
    pub storage: BTreeSet<Storage>,
    pub enforcement: EnforcementMode,
}

fn mode_str(mode: RestrictionMode) -> &'static str {
    match mode {
        RestrictionMode::FullAccess => "FULL_ACCESS",
        RestrictionMode::RestrictedAccess => "RESTRICTED_ACCESS",
        RestrictionMode::Unknown => "unknown restriction mode",
    }
}

fn enforcement_str(enforcement: EnforcementMode) -> &'static str {
    match enforcement {
        EnforcementMode::Enforced => "ENFORCED",
        EnforcementMode::DryRun => "DRY_RUN",
        EnforcementMode::Unknown => "unknown enforcement",
    }
}

impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let internet: Vec<&str> = self.internet.iter().map(String::as_str).collect();
        let storage: Vec<String> = self.storage.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{}, internet [{}], storage [{}], {}",
            mode_str(self.restriction_mode),
            internet.join(", "),
            storage.join(", "),
            enforcement_str(self.enforcement)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyValue {
    Policy(Egress),
    /// Absent, the policy a workspace follows (`default-policy` when none is set, so never
    /// `None`), undeclared policies.
    Common(Common),
}

impl fmt::Display for PolicyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyValue::Policy(egress) => egress.fmt(f),
            PolicyValue::Common(common) => common.render(f, DEFAULT_NETWORK_POLICY),
        }
    }
}

impl From<Common> for PolicyValue {
    fn from(common: Common) -> Self {
        PolicyValue::Common(common)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PolicyChange {
    Create {
        name: String,
        body: AccountNetworkPolicy,
    },
    /// A `PUT` of the live policy with the declared fields set.
    Update {
        name: String,
        body: AccountNetworkPolicy,
    },
    Delete {
        name: String,
    },
    Bind {
        workspace: WorkspaceId,
        policy: String,
    },
}

fn declared_egress(policy: &NetworkPolicy) -> Egress {
    Egress {
        restriction_mode: match policy.restriction_mode {
            api::RestrictionMode::FullAccess => RestrictionMode::FullAccess,
            api::RestrictionMode::RestrictedAccess => RestrictionMode::RestrictedAccess,
        },
        internet: policy
            .allowed_internet_destinations
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        storage: policy
            .allowed_storage_destinations
            .iter()
            .map(|s| Storage::Azure {
                account: s.azure_storage_account.to_ascii_lowercase(),
                service: s.service.to_ascii_lowercase(),
            })
            .collect(),
        enforcement: match policy.enforcement {
            api::Enforcement::Enforced => EnforcementMode::Enforced,
            api::Enforcement::DryRun => EnforcementMode::DryRun,
        },
    }
}

fn live_storage(s: &StorageDestination) -> Storage {
    match (&s.azure_storage_account, &s.azure_storage_service) {
        (Some(account), Some(service)) => Storage::Azure {
            account: account.to_ascii_lowercase(),
            service: service.to_ascii_lowercase(),
        },
        _ => Storage::Other(
            [
                s.storage_destination_type.as_deref(),
                s.bucket_name.as_deref(),
                s.region.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        ),
    }
}

fn live_egress(policy: &AccountNetworkPolicy) -> Egress {
    let access = policy
        .egress
        .as_ref()
        .and_then(|e| e.network_access.as_ref());
    Egress {
        restriction_mode: access.map_or(RestrictionMode::Unknown, |a| a.restriction_mode),
        internet: access
            .and_then(|a| a.allowed_internet_destinations.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|d| d.destination.as_deref())
            .map(str::to_ascii_lowercase)
            .collect(),
        storage: access
            .and_then(|a| a.allowed_storage_destinations.as_ref())
            .into_iter()
            .flatten()
            .map(live_storage)
            .collect(),
        // Absent: ENFORCED (SDK `EgressNetworkPolicyNetworkAccessPolicyPolicyEnforcement`).
        enforcement: access
            .and_then(|a| a.policy_enforcement.as_ref())
            .and_then(|p| p.enforcement_mode)
            .unwrap_or(EnforcementMode::Enforced),
    }
}

/// `base` with the declared policy's fields set; whatever else `base` carries is kept.
fn with_declared(mut base: AccountNetworkPolicy, declared: &NetworkPolicy) -> AccountNetworkPolicy {
    let egress = declared_egress(declared);
    base.network_policy_id = Some(declared.name.clone());
    let access = base
        .egress
        .get_or_insert_with(NetworkPolicyEgress::default)
        .network_access
        .get_or_insert_with(NetworkAccessPolicy::default);
    access.restriction_mode = egress.restriction_mode;
    access.allowed_internet_destinations = Some(
        declared
            .allowed_internet_destinations
            .iter()
            .map(|d| InternetDestination::dns_name(d))
            .collect(),
    );
    access.allowed_storage_destinations = Some(
        declared
            .allowed_storage_destinations
            .iter()
            .map(|s| StorageDestination::azure(&s.azure_storage_account, &s.service))
            .collect(),
    );
    access
        .policy_enforcement
        .get_or_insert_with(PolicyEnforcement::default)
        .enforcement_mode = Some(egress.enforcement);
    base
}

/// Undeclared policies but the built-in `default-policy`, which is never reported.
fn undeclared<'a>(desired: &DesiredPolicies, policies: &'a [AccountNetworkPolicy]) -> Vec<&'a str> {
    shared::undeclared(policies, &desired.declared)
        .map(|(_, name)| name)
        .filter(|name| *name != DEFAULT_NETWORK_POLICY)
        .collect()
}

fn controls(desired: &DesiredPolicies) -> Vec<PolicyControl> {
    let own = |policy: &NetworkPolicy| vec![PolicyControl::Policy(policy.name.clone())];
    let workspace = |policy: &NetworkPolicy, workspace| PolicyControl::Workspace {
        policy: policy.name.clone(),
        workspace,
    };
    shared::controls(&desired.declared, own, workspace, PolicyControl::Undeclared)
}

type PolicyFinding = Finding<PolicyControl, PolicyValue>;

fn evaluate_binding(
    policy: &NetworkPolicy,
    id: WorkspaceId,
    observed: &ObservedPolicies,
    claimed: &BTreeMap<WorkspaceId, Vec<&str>>,
) -> PolicyFinding {
    let control = PolicyControl::Workspace {
        policy: policy.name.clone(),
        workspace: id,
    };
    let binding = Binding::new(control, &policy.name, id);
    if let Err(finding) = binding.unclaimed(claimed, "network policy") {
        return finding;
    }
    match observed.bindings.get(&id) {
        None => Finding::read_failed(
            binding.control,
            &ReadError::not_read(format!("the network option of workspace {id}")),
        ),
        Some(Err(error)) if error.status == Some(404) => binding.not_in_account(),
        Some(Err(error)) => Finding::read_failed(binding.control, error),
        Some(Ok(option)) => {
            let bound = option
                .network_policy_id
                .clone()
                .unwrap_or_else(|| DEFAULT_NETWORK_POLICY.to_string());
            let observed = Common::BoundTo(Some(bound)).into();
            Finding::compare(binding.control, binding.want, observed)
        }
    }
}

fn evaluate_policies(
    desired: &DesiredPolicies,
    observed: &ObservedPolicies,
    policies: &[AccountNetworkPolicy],
) -> Vec<PolicyFinding> {
    let claimed = claimed_twice(&desired.declared);
    let mut findings = Vec::new();
    for declared in &desired.declared {
        let live = shared::live(policies, &declared.name).map_or(Common::Absent.into(), |p| {
            PolicyValue::Policy(live_egress(p))
        });
        findings.push(Finding::compare(
            PolicyControl::Policy(declared.name.clone()),
            PolicyValue::Policy(declared_egress(declared)),
            live,
        ));
        for id in &declared.workspaces {
            findings.push(evaluate_binding(declared, *id, observed, &claimed));
        }
    }
    let names = undeclared(desired, policies)
        .into_iter()
        .map(str::to_string)
        .collect();
    findings.push(undeclared_finding(
        PolicyControl::Undeclared,
        "network policies",
        names,
        desired.exclusive,
    ));
    findings
}

impl Family for NetworkPolicies {
    type Policy = Account;
    type Apis = AccountApis;
    type Desired = DesiredPolicies;
    type Observed = ObservedPolicies;
    type Control = PolicyControl;
    type Value = PolicyValue;
    type Change = PolicyChange;

    fn desired(account: &Account, pass: &Pass) -> Option<DesiredPolicies> {
        DeclaredObjects::of(account.policy.network_policies.as_ref(), account, pass)
    }

    /// One listing of the policies and one read of each bound workspace's network option.
    async fn observe(desired: &DesiredPolicies, apis: &AccountApis) -> ObservedPolicies {
        let client = &apis.databricks;
        let ids: BTreeSet<WorkspaceId> = desired
            .declared
            .iter()
            .flat_map(|p| p.workspaces.iter().copied())
            .collect();
        let bindings = futures::future::join_all(ids.iter().map(|id| async move {
            let option = client
                .get_workspace_network(*id)
                .await
                .map_err(ReadError::from);
            (*id, option)
        }));
        let (policies, bindings) = futures::join!(client.list_network_policies(), bindings);
        ObservedPolicies {
            policies: policies.map_err(ReadError::from),
            bindings: bindings.into_iter().collect(),
        }
    }

    fn evaluate(
        desired: &DesiredPolicies,
        observed: &ObservedPolicies,
        _pass: &Pass,
    ) -> Vec<PolicyFinding> {
        shared::over_listing(
            &observed.policies,
            || controls(desired),
            |policies| evaluate_policies(desired, observed, policies),
            |_| REFERENCES,
        )
    }

    fn plan(
        desired: &DesiredPolicies,
        observed: &ObservedPolicies,
        drifted: &[&PolicyFinding],
        _pass: &Pass,
    ) -> Vec<Planned<PolicyControl, PolicyChange>> {
        let Ok(policies) = &observed.policies else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        for finding in drifted.iter().filter(|f| f.reason.is_none()) {
            let control = &finding.control;
            let mut push = |step, change| {
                actions.push(Planned::one(control.clone(), step, desired.mode, change));
            };
            match control {
                PolicyControl::Policy(name) => {
                    let Some(declared) = shared::declared(&desired.declared, name) else {
                        continue;
                    };
                    let change = match shared::live(policies, name) {
                        None => PolicyChange::Create {
                            name: name.clone(),
                            body: with_declared(AccountNetworkPolicy::default(), declared),
                        },
                        Some(live) => PolicyChange::Update {
                            name: name.clone(),
                            body: with_declared(live.clone(), declared),
                        },
                    };
                    push(Step::Configure, change);
                }
                PolicyControl::Workspace { policy, workspace } => push(
                    Step::Configure,
                    PolicyChange::Bind {
                        workspace: *workspace,
                        policy: policy.clone(),
                    },
                ),
                PolicyControl::Undeclared if desired.exclusive => {
                    for name in undeclared(desired, policies) {
                        push(
                            Step::Revoke,
                            PolicyChange::Delete {
                                name: name.to_string(),
                            },
                        );
                    }
                }
                PolicyControl::Undeclared => {}
            }
        }
        actions
    }

    /// Nothing is deleted under Additive management, and `default-policy` never.
    fn guard(desired: &DesiredPolicies, change: &PolicyChange) -> Option<Blocked> {
        let PolicyChange::Delete { name } = change else {
            return None;
        };
        if name == DEFAULT_NETWORK_POLICY {
            return Some(Blocked::new(
                Reason::RemediationBlocked,
                "default-policy is built in and is never deleted",
            ));
        }
        shared::additive_guard(true, desired.exclusive, "network policies")
    }

    async fn execute(change: &PolicyChange, apis: &AccountApis) -> Result<(), ApiError> {
        let client = &apis.databricks;
        match change {
            PolicyChange::Create { name, body } => {
                // After a lost answer, a policy of that id on re-reading counts as created.
                let exists = async { client.get_network_policy(name).await.is_ok() };
                create_once(client.create_network_policy(body), exists)
                    .await
                    .map(drop)
            }
            PolicyChange::Update { name, body } => {
                client.update_network_policy(name, body).await.map(drop)
            }
            PolicyChange::Delete { name } => client.delete_network_policy(name).await,
            PolicyChange::Bind { workspace, policy } => client
                .update_workspace_network(*workspace, policy)
                .await
                .map(drop),
        }
    }

    fn control_id(control: &PolicyControl) -> String {
        match control {
            PolicyControl::Policy(name) => format!("networkPolicy/{name}"),
            PolicyControl::Workspace { policy, workspace } => {
                format!("networkPolicy/{policy}/workspace/{workspace}")
            }
            PolicyControl::Undeclared => "networkPolicy/undeclared".to_string(),
        }
    }

    fn describe(change: &PolicyChange) -> String {
        let egress = |body: &AccountNetworkPolicy| live_egress(body).to_string();
        match change {
            PolicyChange::Create { name, body } => {
                format!("POST network-policy {name} {}", egress(body))
            }
            PolicyChange::Update { name, body } => {
                format!("PUT network-policy {name} {}", egress(body))
            }
            PolicyChange::Delete { name } => format!("DELETE network-policy {name}"),
            PolicyChange::Bind { workspace, policy } => {
                format!("PUT workspace {workspace} network_policy_id {policy}")
            }
        }
    }

    fn effects(change: &PolicyChange) -> Vec<Effect> {
        match change {
            PolicyChange::Delete { .. } => vec![Effect::Destructive],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::Mode;
    use crate::api::{AccountPolicy, ControlState, Management};
    use crate::controls::ControlResult;
    use crate::controls::account::Cloud;
    use crate::controls::testing::{pass, render};

    fn desired(management: Management, policies: serde_json::Value) -> DesiredPolicies {
        let account = Account {
            policy: AccountPolicy {
                network_policies: Some(serde_json::from_value(policies).unwrap()),
                management: Some(management),
                ..Default::default()
            },
            cloud: Cloud::Azure,
        };
        NetworkPolicies::desired(&account, &pass(Mode::Enforce)).expect("policies are managed")
    }

    fn restricted() -> serde_json::Value {
        json!([{
            "name": "restricted",
            "restrictionMode": "RestrictedAccess",
            "allowedInternetDestinations": ["pypi.org", "files.pythonhosted.org"],
            "allowedStorageDestinations": [{"azureStorageAccount": "lake", "service": "dfs"}],
            "enforcement": "Enforced",
            "workspaces": [7]
        }])
    }

    fn live(raw: serde_json::Value) -> AccountNetworkPolicy {
        serde_json::from_value(raw).unwrap()
    }

    fn observed(
        policies: Vec<AccountNetworkPolicy>,
        bindings: Vec<(WorkspaceId, Result<Option<&str>, ReadError>)>,
    ) -> ObservedPolicies {
        ObservedPolicies {
            policies: Ok(policies),
            bindings: bindings
                .into_iter()
                .map(|(id, b)| {
                    let option = b.map(|p| WorkspaceNetworkOption {
                        workspace_id: Some(id),
                        network_policy_id: p.map(str::to_string),
                    });
                    (id, option)
                })
                .collect(),
        }
    }

    fn evaluate(d: &DesiredPolicies, o: &ObservedPolicies) -> Vec<ControlResult> {
        render::<NetworkPolicies>(&NetworkPolicies::evaluate(d, o, &pass(Mode::Enforce)))
    }

    fn plan(
        d: &DesiredPolicies,
        o: &ObservedPolicies,
    ) -> Vec<Planned<PolicyControl, PolicyChange>> {
        let findings = NetworkPolicies::evaluate(d, o, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        NetworkPolicies::plan(d, o, &drifted, &pass(Mode::Enforce))
    }

    fn described(planned: &[Planned<PolicyControl, PolicyChange>]) -> Vec<String> {
        planned
            .iter()
            .map(|p| NetworkPolicies::describe(&p.change))
            .collect()
    }

    #[test]
    fn a_missing_policy_is_created_then_bound() {
        let d = desired(Management::Additive, restricted());
        let o = observed(
            vec![live(json!({"network_policy_id": "default-policy",
                "egress": {"network_access": {"restriction_mode": "FULL_ACCESS"}}}))],
            vec![(7, Ok(None))],
        );
        let results = evaluate(&d, &o);
        let states: Vec<(&str, ControlState)> =
            results.iter().map(|r| (r.id.as_str(), r.state)).collect();
        assert_eq!(
            states,
            [
                ("networkPolicy/restricted", ControlState::Drifted),
                (
                    "networkPolicy/restricted/workspace/7",
                    ControlState::Drifted
                ),
                ("networkPolicy/undeclared", ControlState::Compliant),
            ]
        );
        assert_eq!(results[1].observed.as_deref(), Some("default-policy"));
        assert!(
            results[2]
                .message
                .as_deref()
                .unwrap()
                .contains("none exist")
        );
        assert!(results.iter().all(|r| !r.references.is_empty()));
        let planned = plan(&d, &o);
        assert_eq!(
            described(&planned),
            [
                "POST network-policy restricted RESTRICTED_ACCESS, internet \
                 [files.pythonhosted.org, pypi.org], storage [lake/dfs], ENFORCED",
                "PUT workspace 7 network_policy_id restricted",
            ]
        );
        let PolicyChange::Create { body, .. } = &planned[0].change else {
            panic!("{planned:?}");
        };
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({"network_policy_id": "restricted", "egress": {"network_access": {
                "restriction_mode": "RESTRICTED_ACCESS",
                "allowed_internet_destinations": [
                    {"destination": "pypi.org", "internet_destination_type": "DNS_NAME"},
                    {"destination": "files.pythonhosted.org", "internet_destination_type": "DNS_NAME"}],
                "allowed_storage_destinations": [{"azure_storage_account": "lake",
                    "azure_storage_service": "dfs", "storage_destination_type": "AZURE_STORAGE"}],
                "policy_enforcement": {"enforcement_mode": "ENFORCED"}}}})
        );
    }

    #[test]
    fn destinations_compare_as_sets_and_an_update_keeps_what_is_not_managed() {
        let d = desired(Management::Additive, restricted());
        let same = live(
            json!({"network_policy_id": "restricted", "egress": {"network_access": {
            "restriction_mode": "RESTRICTED_ACCESS",
            "allowed_internet_destinations": [
                {"destination": "Files.PythonHosted.org", "internet_destination_type": "DNS_NAME"},
                {"destination": "pypi.org", "internet_destination_type": "DNS_NAME"}],
            "allowed_storage_destinations": [{"azure_storage_account": "lake",
                "azure_storage_service": "dfs", "storage_destination_type": "AZURE_STORAGE"}]}}}),
        );
        let o = observed(vec![same], vec![(7, Ok(Some("restricted")))]);
        assert!(
            evaluate(&d, &o)
                .iter()
                .all(|r| r.state == ControlState::Compliant)
        );
        assert!(plan(&d, &o).is_empty());

        let dry_run = live(json!({"network_policy_id": "restricted",
            "ingress": {"public_access": {"restriction_mode": "RESTRICTED_ACCESS"}},
            "egress": {"network_access": {
                "restriction_mode": "RESTRICTED_ACCESS",
                "allowed_internet_destinations": [{"destination": "pypi.org"}],
                "blocked_internet_destinations": [{"destination": "evil.example"}],
                "policy_enforcement": {"enforcement_mode": "DRY_RUN"}}}}));
        let o = observed(vec![dry_run], vec![(7, Ok(Some("restricted")))]);
        let results = evaluate(&d, &o);
        assert_eq!(results[0].state, ControlState::Drifted);
        assert_eq!(
            results[0].observed.as_deref(),
            Some("RESTRICTED_ACCESS, internet [pypi.org], storage [], DRY_RUN")
        );
        let planned = plan(&d, &o);
        assert_eq!(planned.len(), 1);
        let PolicyChange::Update { body, .. } = &planned[0].change else {
            panic!("{planned:?}");
        };
        let body = serde_json::to_value(body).unwrap();
        assert_eq!(
            body["ingress"]["public_access"]["restriction_mode"],
            "RESTRICTED_ACCESS"
        );
        let access = &body["egress"]["network_access"];
        assert_eq!(
            access["blocked_internet_destinations"][0]["destination"],
            "evil.example"
        );
        assert_eq!(access["policy_enforcement"]["enforcement_mode"], "ENFORCED");
        assert_eq!(
            access["allowed_internet_destinations"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn undeclared_policies_are_deleted_only_under_exclusive_and_never_the_default() {
        let policies = vec![
            live(json!({"network_policy_id": "default-policy"})),
            live(json!({"network_policy_id": "legacy"})),
        ];
        let additive = desired(Management::Additive, json!([]));
        let o = observed(policies.clone(), vec![]);
        let results = evaluate(&additive, &o);
        assert_eq!(results[0].state, ControlState::Compliant);
        assert!(results[0].message.as_deref().unwrap().contains("legacy"));
        assert!(
            !results[0]
                .message
                .as_deref()
                .unwrap()
                .contains("default-policy")
        );
        assert!(plan(&additive, &o).is_empty());

        let exclusive = desired(Management::Exclusive, json!([]));
        let results = evaluate(&exclusive, &o);
        assert_eq!(results[0].observed.as_deref(), Some("legacy"));
        let planned = plan(&exclusive, &o);
        assert_eq!(described(&planned), ["DELETE network-policy legacy"]);
        assert_eq!(planned[0].step, Step::Revoke);
        assert_eq!(
            NetworkPolicies::effects(&planned[0].change),
            [Effect::Destructive]
        );
        assert!(NetworkPolicies::guard(&additive, &planned[0].change).is_some());
        let default = PolicyChange::Delete {
            name: DEFAULT_NETWORK_POLICY.into(),
        };
        assert!(NetworkPolicies::guard(&exclusive, &default).is_some());
    }

    #[test]
    fn a_workspace_outside_the_account_fails_with_its_id() {
        let d = desired(Management::Additive, restricted());
        let not_found = ReadError::new(Some(404), Some("NOT_FOUND"), "not found");
        let o = observed(vec![], vec![(7, Err(not_found))]);
        let results = evaluate(&d, &o);
        assert_eq!(results[1].state, ControlState::Failed);
        assert_eq!(
            results[1].message.as_deref(),
            Some("workspace 7 is not a workspace of this account")
        );
        assert_eq!(
            described(&plan(&d, &o)).len(),
            1,
            "only the policy is created"
        );
    }
}
