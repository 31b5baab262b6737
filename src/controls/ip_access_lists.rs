//! IP access lists: `ipAccessLists/list/<label>` and `ipAccessLists/undeclared`
//! (`ipAccessLists/enabled` is a workspace-conf key, read and written with the others), and
//! through the same family an account's: `account/ipAccessLists/...` (its switch is the account
//! setting `acct_ip_acl_enable`).
//!
//! The family plans widen-before-narrow and describes every list change as an [`Effect`], so the
//! engine's lockout guard can simulate who may reach the workspace after each step.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use super::access::{address_set, networks};
use super::family::{AccessList, Blocked, Effect, Fact, Family, Finding, Pass, Planned, Step};
use super::result::{ReadError, Reason};
use super::workspace_conf::ConfControl;
use super::{Scope, Workspace, WorkspaceScope};
use crate::api::{self, IpAccessListsPolicy, Management, Mode};
use crate::clients::databricks::{
    IpAccessList, ListType, NewIpAccessList, ReplaceIpAccessList, UpdateIpAccessList,
};
use crate::clients::{ApiError, DatabricksClient};

pub const ENABLE_KEY: &str = "enableIpAccessLists";
const ENABLED_ID: &str = "ipAccessLists/enabled";
const REFERENCES: &[&str] = &["best practices: IP access lists", "SAT NS-5"];

/// `enableIpAccessLists`, ordered after the ALLOW lists are in place when turned on.
pub fn conf_control(policy: &IpAccessListsPolicy, pass: &Pass) -> Option<ConfControl> {
    policy.enabled.map(|enabled| ConfControl {
        id: ENABLED_ID.to_string(),
        key: ENABLE_KEY.to_string(),
        desired: enabled.to_string(),
        unset_means: Some("false"),
        references: REFERENCES,
        mode: pass.mode_of(policy.mode),
        step: if enabled {
            Step::EnableIpAccessLists
        } else {
            Step::WidenAccess
        },
    })
}

/// Whether the lists themselves must be read.
pub fn reads_lists(policy: &IpAccessListsPolicy) -> bool {
    policy.lists.is_some() || policy.management == Some(Management::Exclusive)
}

pub fn list_type_str(list_type: ListType) -> &'static str {
    match list_type {
        ListType::Allow => "ALLOW",
        ListType::Block => "BLOCK",
        ListType::Unknown => "UNKNOWN",
    }
}

fn api_list_type(list_type: api::ListType) -> ListType {
    match list_type {
        api::ListType::Allow => ListType::Allow,
        api::ListType::Block => ListType::Block,
    }
}

/// The controls of the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpControl {
    /// A declared list, by label.
    List(String),
    /// Live lists that no declared list accounts for.
    Undeclared,
}

/// A list as compared: type, normalised addresses and whether it is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpValue {
    List {
        list_type: ListType,
        addresses: BTreeSet<String>,
        enabled: bool,
    },
    Absent,
    /// The labels of undeclared lists.
    Labels(Vec<String>),
    /// Additive management: undeclared lists are not brickwarden's.
    LeftAlone,
}

impl fmt::Display for IpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpValue::List {
                list_type,
                addresses,
                enabled,
            } => {
                let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
                write!(
                    f,
                    "{} [{}]{}",
                    list_type_str(*list_type),
                    addresses.join(", "),
                    if *enabled { "" } else { " disabled" }
                )
            }
            IpValue::Absent => f.write_str("absent"),
            IpValue::Labels(labels) if labels.is_empty() => f.write_str("none"),
            IpValue::Labels(labels) => f.write_str(&labels.join(", ")),
            IpValue::LeftAlone => f.write_str("left alone"),
        }
    }
}

fn value_of(list: &IpAccessList) -> IpValue {
    IpValue::List {
        list_type: list.list_type,
        addresses: address_set(&list.ip_addresses),
        enabled: list.enabled.unwrap_or(true),
    }
}

fn declared_value(list: &api::IpAccessList) -> IpValue {
    IpValue::List {
        list_type: api_list_type(list.list_type),
        addresses: address_set(&list.addresses),
        enabled: list.enabled,
    }
}

/// One change to the lists.
#[derive(Debug, Clone, PartialEq)]
pub enum IpChange {
    /// A declared list that does not exist, with every field it must have.
    Create(ReplaceIpAccessList),
    /// A live list whose every field is set to the declared ones.
    Replace {
        list_id: String,
        list: ReplaceIpAccessList,
    },
    Delete {
        list_id: String,
        label: String,
    },
}

/// The live list a declared label is matched with: the first one carrying that label.
fn find<'a>(observed: &'a [IpAccessList], label: &str) -> Option<&'a IpAccessList> {
    observed.iter().find(|l| l.label == label)
}

/// Live lists that no declared list accounts for (including second lists with a declared label).
fn undeclared<'a>(
    policy: &IpAccessListsPolicy,
    observed: &'a [IpAccessList],
) -> Vec<&'a IpAccessList> {
    let declared: BTreeSet<&str> = policy
        .lists
        .iter()
        .flatten()
        .map(|l| l.label.as_str())
        .collect();
    let mut matched = BTreeSet::new();
    observed
        .iter()
        .filter(|l| !(declared.contains(l.label.as_str()) && matched.insert(l.label.as_str())))
        .collect()
}

/// Whether replacing `old` with `new` can only let more addresses in.
fn only_widens(old: &IpAccessList, new: &api::IpAccessList) -> bool {
    let new_type = api_list_type(new.list_type);
    if old.list_type != new_type {
        return false;
    }
    let (old_set, new_set) = (address_set(&old.ip_addresses), address_set(&new.addresses));
    let was_enabled = old.enabled.unwrap_or(true);
    match new_type {
        ListType::Allow => new_set.is_superset(&old_set) && (new.enabled || !was_enabled),
        _ => new_set.is_subset(&old_set) || !new.enabled,
    }
}

/// Whose lists an [`IpAccessListsFamily`] manages: where the policy is, through which client,
/// and the prefix of its control ids.
pub trait ListsScope: Scope {
    /// `ipAccessLists` or `account/ipAccessLists`.
    const FAMILY: &'static str;
    /// The documents and SAT checks the lists' controls come from.
    const REFERENCES: &'static [&'static str];
    fn policy(policy: &Self::Policy) -> Option<&IpAccessListsPolicy>;
}

/// The IP access lists of a workspace or an account.
pub struct IpAccessListsFamily<S>(PhantomData<S>);

/// A workspace's IP access lists.
pub type IpAccessLists = IpAccessListsFamily<WorkspaceScope>;

impl ListsScope for WorkspaceScope {
    const FAMILY: &'static str = "ipAccessLists";
    const REFERENCES: &'static [&'static str] = REFERENCES;

    fn policy(workspace: &Workspace) -> Option<&IpAccessListsPolicy> {
        workspace.policy.ip_access_lists.as_ref()
    }
}

/// The lists policy with its mode resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredLists {
    pub policy: IpAccessListsPolicy,
    pub mode: Mode,
}

/// Whether a failed create may have been carried out all the same: the server failed or the
/// answer was lost (5xx, reset, timeout, an unreadable body) after the request was sent. A
/// create is never repeated blindly (the client does not retry a POST on these); the lists are
/// read again instead.
fn may_have_committed(err: &ApiError) -> bool {
    match err {
        ApiError::Api { status, .. } => *status >= 500,
        ApiError::Transport { connect, .. } => !connect,
        ApiError::Timeout { .. } | ApiError::Decode { .. } => true,
        _ => false,
    }
}

/// After a create whose answer was lost: the list it made, if the lists now hold one with its
/// label, type and addresses (the plan creates a list only when none has its label). A failed
/// read finds nothing: the create's own error stands, and the next pass reads again.
async fn find_created(client: &DatabricksClient, new: &NewIpAccessList) -> Option<IpAccessList> {
    let lists = client.list_ip_access_lists().await.ok()?;
    let wanted: BTreeSet<&str> = new.ip_addresses.iter().map(String::as_str).collect();
    let found = lists.into_iter().find(|l| {
        l.label == new.label
            && l.list_type == new.list_type
            && l.ip_addresses
                .iter()
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                == wanted
    })?;
    tracing::info!(
        label = %new.label,
        "IP access list create answered with an error, but the list exists: not creating it again"
    );
    Some(found)
}

impl<S: ListsScope> Family for IpAccessListsFamily<S> {
    type Policy = S::Policy;
    type Apis = S::Apis;
    type Desired = DesiredLists;
    type Observed = Result<Vec<IpAccessList>, ReadError>;
    type Control = IpControl;
    type Value = IpValue;
    type Change = IpChange;

    fn desired(policy: &S::Policy, pass: &Pass) -> Option<DesiredLists> {
        let p = S::policy(policy).filter(|p| reads_lists(p))?;
        Some(DesiredLists {
            policy: p.clone(),
            mode: pass.mode_of(p.mode),
        })
    }

    async fn observe(_: &DesiredLists, apis: &S::Apis) -> Self::Observed {
        Ok(S::databricks(apis).list_ip_access_lists().await?)
    }

    fn evaluate(
        desired: &DesiredLists,
        observed: &Self::Observed,
        _pass: &Pass,
    ) -> Vec<Finding<IpControl, IpValue>> {
        let policy = &desired.policy;
        let controls = policy
            .lists
            .iter()
            .flatten()
            .map(|l| IpControl::List(l.label.clone()))
            .chain([IpControl::Undeclared]);
        let lists = match observed {
            Err(error) => {
                return controls
                    .map(|c| Finding::read_failed(c, error).with_references(S::REFERENCES))
                    .collect();
            }
            Ok(lists) => lists,
        };
        let mut findings: Vec<_> = policy
            .lists
            .iter()
            .flatten()
            .map(|declared| {
                let live = find(lists, &declared.label).map_or(IpValue::Absent, value_of);
                Finding::compare(
                    IpControl::List(declared.label.clone()),
                    declared_value(declared),
                    live,
                )
                .with_references(S::REFERENCES)
            })
            .collect();
        let labels: Vec<String> = undeclared(policy, lists)
            .iter()
            .map(|l| l.label.clone())
            .collect();
        let undeclared = match policy.management.unwrap_or_default() {
            Management::Exclusive => Finding::compare(
                IpControl::Undeclared,
                IpValue::Labels(Vec::new()),
                IpValue::Labels(labels),
            ),
            Management::Additive => Finding::compare(
                IpControl::Undeclared,
                IpValue::LeftAlone,
                IpValue::LeftAlone,
            )
            .with_note(format!(
                "Additive management: undeclared lists are never deleted ({})",
                if labels.is_empty() {
                    "none exist".to_string()
                } else {
                    labels.join(", ")
                }
            )),
        };
        findings.push(undeclared.with_references(S::REFERENCES));
        findings
    }

    fn plan(
        desired: &DesiredLists,
        observed: &Self::Observed,
        drifted: &[&Finding<IpControl, IpValue>],
        _pass: &Pass,
    ) -> Vec<Planned<IpControl, IpChange>> {
        let Ok(lists) = observed else {
            return Vec::new();
        };
        let policy = &desired.policy;
        let planned = |control, step, change| Planned::one(control, step, desired.mode, change);
        let mut actions = Vec::new();
        for finding in drifted {
            match &finding.control {
                IpControl::List(label) => {
                    let Some(declared) = policy.lists.iter().flatten().find(|l| &l.label == label)
                    else {
                        continue;
                    };
                    let list = ReplaceIpAccessList {
                        label: label.clone(),
                        list_type: api_list_type(declared.list_type),
                        ip_addresses: declared.addresses.clone(),
                        enabled: declared.enabled,
                    };
                    let (widens, change) = match find(lists, label) {
                        None => (list.list_type == ListType::Allow, IpChange::Create(list)),
                        Some(live) => (
                            only_widens(live, declared),
                            IpChange::Replace {
                                list_id: live.list_id.clone(),
                                list,
                            },
                        ),
                    };
                    let step = if widens {
                        Step::WidenAccess
                    } else {
                        Step::NarrowAccess
                    };
                    actions.push(planned(finding.control.clone(), step, change));
                }
                IpControl::Undeclared if policy.management == Some(Management::Exclusive) => {
                    for live in undeclared(policy, lists) {
                        let step = if live.list_type == ListType::Allow {
                            Step::NarrowAccess
                        } else {
                            Step::WidenAccess
                        };
                        let change = IpChange::Delete {
                            list_id: live.list_id.clone(),
                            label: live.label.clone(),
                        };
                        actions.push(planned(IpControl::Undeclared, step, change));
                    }
                }
                IpControl::Undeclared => {}
            }
        }
        actions
    }

    /// Undeclared lists are never deleted under Additive management: the plan does not produce
    /// such a delete, and this makes sure none runs.
    fn guard(desired: &DesiredLists, change: &IpChange) -> Option<Blocked> {
        let exclusive = desired.policy.management == Some(Management::Exclusive);
        (matches!(change, IpChange::Delete { .. }) && !exclusive).then(|| {
            Blocked::new(
                Reason::AdditiveManagement,
                "undeclared lists are never deleted under Additive management",
            )
        })
    }

    async fn execute(change: &IpChange, apis: &S::Apis) -> Result<(), ApiError> {
        let client = S::databricks(apis);
        match change {
            IpChange::Create(list) => {
                // POST takes no `enabled`: a list is created enabled and disabled after.
                let new = NewIpAccessList {
                    label: list.label.clone(),
                    list_type: list.list_type,
                    ip_addresses: list.ip_addresses.clone(),
                };
                let created = match client.create_ip_access_list(&new).await {
                    Ok(created) => created,
                    Err(err) if may_have_committed(&err) => {
                        find_created(client, &new).await.ok_or(err)?
                    }
                    Err(err) => return Err(err),
                };
                if !list.enabled {
                    let disable = UpdateIpAccessList {
                        enabled: Some(false),
                        ..Default::default()
                    };
                    client
                        .update_ip_access_list(&created.list_id, &disable)
                        .await?;
                }
                Ok(())
            }
            IpChange::Replace { list_id, list } => {
                client.replace_ip_access_list(list_id, list).await
            }
            IpChange::Delete { list_id, .. } => client.delete_ip_access_list(list_id).await,
        }
    }

    fn control_id(control: &IpControl) -> String {
        match control {
            IpControl::List(label) => format!("{}/list/{label}", S::FAMILY),
            IpControl::Undeclared => format!("{}/undeclared", S::FAMILY),
        }
    }

    fn describe(change: &IpChange) -> String {
        let shape = |list: &ReplaceIpAccessList| {
            format!(
                "{} {} [{}]{}",
                list.label,
                list_type_str(list.list_type),
                list.ip_addresses.join(", "),
                if list.enabled { "" } else { " (disabled)" }
            )
        };
        match change {
            IpChange::Create(list) => format!("POST ip-access-list {}", shape(list)),
            IpChange::Replace { list, .. } => format!("PUT ip-access-list {}", shape(list)),
            IpChange::Delete { label, .. } => format!("DELETE ip-access-list {label}"),
        }
    }

    /// A created list is keyed by its label, a replaced one by its id, so the guard can tell
    /// the live list a change replaces.
    fn effects(change: &IpChange) -> Vec<Effect> {
        let puts = |key: &str, list: &ReplaceIpAccessList| {
            vec![Effect::PutsIpAccessList(AccessList {
                key: key.to_string(),
                list_type: list.list_type,
                enabled: list.enabled,
                addresses: networks(&list.ip_addresses),
            })]
        };
        match change {
            IpChange::Create(list) => puts(&list.label, list),
            IpChange::Replace { list_id, list } => puts(list_id, list),
            IpChange::Delete { list_id, .. } => vec![
                Effect::DeletesIpAccessList {
                    key: list_id.clone(),
                },
                Effect::Destructive,
            ],
        }
    }

    fn facts(desired: &DesiredLists, observed: &Self::Observed) -> Vec<Fact> {
        let declares_allow = desired
            .policy
            .lists
            .iter()
            .flatten()
            .any(|l| l.list_type == api::ListType::Allow && l.enabled);
        let mut facts = vec![Fact::DeclaresAllowList(declares_allow)];
        if let Ok(lists) = observed {
            facts.push(Fact::IpAccessLists(
                lists
                    .iter()
                    .map(|l| AccessList {
                        key: l.list_id.clone(),
                        list_type: l.list_type,
                        enabled: l.enabled.unwrap_or(true),
                        addresses: networks(&l.ip_addresses),
                    })
                    .collect(),
            ));
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ControlState;
    use crate::api::Policy;
    use crate::controls::ControlResult;
    use crate::controls::Workspace;
    use crate::controls::testing::{pass, render};

    fn declared(label: &str, list_type: api::ListType, addresses: &[&str]) -> api::IpAccessList {
        api::IpAccessList {
            label: label.into(),
            list_type,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            enabled: true,
        }
    }

    fn live(id: &str, label: &str, list_type: ListType, addresses: &[&str]) -> IpAccessList {
        IpAccessList {
            list_id: id.into(),
            label: label.into(),
            list_type,
            ip_addresses: addresses.iter().map(|a| a.to_string()).collect(),
            enabled: Some(true),
            ..Default::default()
        }
    }

    fn desired(management: Management, lists: Vec<api::IpAccessList>) -> DesiredLists {
        let policy = Policy {
            ip_access_lists: Some(IpAccessListsPolicy {
                enabled: Some(true),
                management: Some(management),
                lists: Some(lists),
                ..Default::default()
            }),
            ..Default::default()
        };
        IpAccessLists::desired(&Workspace::new(policy.clone()), &pass(Mode::Enforce))
            .expect("lists are managed")
    }

    fn evaluate(
        desired: &DesiredLists,
        observed: &Result<Vec<IpAccessList>, ReadError>,
    ) -> Vec<ControlResult> {
        render::<IpAccessLists>(&IpAccessLists::evaluate(
            desired,
            observed,
            &pass(Mode::Enforce),
        ))
    }

    fn plan(
        desired: &DesiredLists,
        observed: &Result<Vec<IpAccessList>, ReadError>,
    ) -> Vec<Planned<IpControl, IpChange>> {
        let findings = IpAccessLists::evaluate(desired, observed, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        IpAccessLists::plan(desired, observed, &drifted, &pass(Mode::Enforce))
    }

    fn states(results: &[ControlResult]) -> Vec<(&str, ControlState)> {
        results.iter().map(|r| (r.id.as_str(), r.state)).collect()
    }

    #[test]
    fn address_sets_ignore_order_duplicates_and_host_prefix() {
        let d = desired(
            Management::Additive,
            vec![declared(
                "vpn",
                api::ListType::Allow,
                &["198.51.100.7", "203.0.113.0/24"],
            )],
        );
        let observed = Ok(vec![live(
            "1",
            "vpn",
            ListType::Allow,
            &["203.0.113.0/24", "198.51.100.7/32", "198.51.100.7"],
        )]);
        let results = evaluate(&d, &observed);
        assert_eq!(
            states(&results),
            [
                ("ipAccessLists/list/vpn", ControlState::Compliant),
                ("ipAccessLists/undeclared", ControlState::Compliant)
            ]
        );
        assert_eq!(
            results[0].desired.as_deref(),
            Some("ALLOW [198.51.100.7, 203.0.113.0/24]")
        );
    }

    #[test]
    fn evaluates_type_address_and_enabled_drift() {
        let d = desired(
            Management::Exclusive,
            vec![
                declared("vpn", api::ListType::Allow, &["10.0.0.0/8"]),
                declared("bad", api::ListType::Block, &["192.0.2.0/24"]),
                declared("new", api::ListType::Allow, &["172.16.0.0/12"]),
            ],
        );
        let mut disabled = live("3", "bad", ListType::Block, &["192.0.2.0/24"]);
        disabled.enabled = Some(false);
        let observed = Ok(vec![
            live("1", "vpn", ListType::Block, &["10.0.0.0/8"]),
            disabled,
            live("4", "stray", ListType::Allow, &["0.0.0.0/0"]),
        ]);
        let results = evaluate(&d, &observed);
        assert_eq!(
            states(&results),
            [
                ("ipAccessLists/list/vpn", ControlState::Drifted),
                ("ipAccessLists/list/bad", ControlState::Drifted),
                ("ipAccessLists/list/new", ControlState::Drifted),
                ("ipAccessLists/undeclared", ControlState::Drifted)
            ]
        );
        assert_eq!(
            results[1].observed.as_deref(),
            Some("BLOCK [192.0.2.0/24] disabled")
        );
        assert_eq!(results[2].observed.as_deref(), Some("absent"));
        assert_eq!(results[3].observed.as_deref(), Some("stray"));

        let described: Vec<_> = plan(&d, &observed)
            .iter()
            .map(|a| (a.step, IpAccessLists::describe(&a.change)))
            .collect();
        assert_eq!(
            described,
            [
                (
                    Step::NarrowAccess,
                    "PUT ip-access-list vpn ALLOW [10.0.0.0/8]".to_string()
                ),
                (
                    Step::WidenAccess,
                    "PUT ip-access-list bad BLOCK [192.0.2.0/24]".to_string()
                ),
                (
                    Step::WidenAccess,
                    "POST ip-access-list new ALLOW [172.16.0.0/12]".to_string()
                ),
                (
                    Step::NarrowAccess,
                    "DELETE ip-access-list stray".to_string()
                ),
            ]
        );
    }

    #[test]
    fn additive_never_deletes_undeclared_lists() {
        let d = desired(Management::Additive, vec![]);
        let observed = Ok(vec![live("9", "legacy", ListType::Allow, &["10.0.0.1"])]);
        let results = evaluate(&d, &observed);
        assert_eq!(results[0].state, ControlState::Compliant);
        assert!(results[0].message.as_deref().unwrap().contains("legacy"));
        assert!(plan(&d, &observed).is_empty());
        let delete = IpChange::Delete {
            list_id: "9".into(),
            label: "legacy".into(),
        };
        assert_eq!(
            IpAccessLists::guard(&d, &delete).map(|b| b.reason),
            Some(Reason::AdditiveManagement)
        );
    }

    #[test]
    fn duplicate_labels_beyond_the_first_are_undeclared() {
        let d = desired(
            Management::Exclusive,
            vec![declared("vpn", api::ListType::Allow, &["10.0.0.0/8"])],
        );
        let observed = Ok(vec![
            live("1", "vpn", ListType::Allow, &["10.0.0.0/8"]),
            live("2", "vpn", ListType::Allow, &["10.0.0.0/8"]),
        ]);
        let actions = plan(&d, &observed);
        assert_eq!(actions.len(), 1);
        assert_eq!(
            actions[0].change,
            IpChange::Delete {
                list_id: "2".into(),
                label: "vpn".into()
            }
        );
        assert!(IpAccessLists::effects(&actions[0].change).contains(&Effect::Destructive));
        assert_eq!(IpAccessLists::guard(&d, &actions[0].change), None);
    }

    #[test]
    fn read_failure_fails_list_controls() {
        let d = desired(
            Management::Exclusive,
            vec![declared("vpn", api::ListType::Allow, &["10.0.0.0/8"])],
        );
        let error = Err(ReadError::new(Some(500), None, "boom"));
        let results = evaluate(&d, &error);
        assert!(results.iter().all(|r| r.state == ControlState::Failed));
        assert!(plan(&d, &error).is_empty());
    }

    #[test]
    fn enabled_control_orders_by_direction() {
        let on = conf_control(
            &IpAccessListsPolicy {
                enabled: Some(true),
                ..Default::default()
            },
            &pass(Mode::Enforce),
        )
        .unwrap();
        assert_eq!(on.step, Step::EnableIpAccessLists);
        let off = conf_control(
            &IpAccessListsPolicy {
                enabled: Some(false),
                mode: Some(Mode::Audit),
                ..Default::default()
            },
            &pass(Mode::Enforce),
        )
        .unwrap();
        assert_eq!((off.step, off.mode), (Step::WidenAccess, Mode::Audit));
    }

    #[test]
    fn facts_describe_the_live_lists_and_the_declared_allow_list() {
        let d = desired(
            Management::Exclusive,
            vec![declared("vpn", api::ListType::Allow, &["10.0.0.0/8"])],
        );
        let facts = IpAccessLists::facts(
            &d,
            &Ok(vec![live("1", "vpn", ListType::Allow, &["10.0.0.1"])]),
        );
        assert_eq!(facts[0], Fact::DeclaresAllowList(true));
        let Fact::IpAccessLists(lists) = &facts[1] else {
            panic!("lists")
        };
        assert_eq!(lists[0].addresses, networks(&["10.0.0.1".into()]));
    }
}
