//! IP access lists: `ipAccessLists/enabled`, `ipAccessLists/list/<label>`,
//! `ipAccessLists/undeclared`, and the lockout guard.
//!
//! Databricks semantics: lists are inert until workspace-conf `enableIpAccessLists` is `"true"`;
//! then an address in an enabled BLOCK list is refused, and if any enabled ALLOW list exists an
//! address must be in one of them.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{
    Action, Change, ConfControl, ControlResult, Observed, Read, Step, family_mode, list_type_str,
};
use crate::api::{self, IpAccessListsPolicy, Management, Mode};
use crate::clients::ApiError;
use crate::clients::databricks::{DatabricksClient, IpAccessList, ListType};

pub const ENABLE_KEY: &str = "enableIpAccessLists";
const ENABLED_ID: &str = "ipAccessLists/enabled";
const UNDECLARED_ID: &str = "ipAccessLists/undeclared";
const REFERENCES: &[&str] = &["best practices: IP access lists", "SAT NS-5"];

pub fn list_control_id(label: &str) -> String {
    format!("ipAccessLists/list/{label}")
}

/// `enableIpAccessLists`, ordered after the ALLOW lists are in place when turned on.
pub fn conf_controls(policy: &IpAccessListsPolicy, workspace_mode: Mode) -> Vec<ConfControl> {
    policy
        .enabled
        .map(|enabled| ConfControl {
            id: ENABLED_ID.to_string(),
            key: ENABLE_KEY.to_string(),
            desired: enabled.to_string(),
            unset_means: Some("false"),
            references: REFERENCES,
            mode: family_mode(workspace_mode, policy.mode),
            step: if enabled {
                Step::EnableIpAccessLists
            } else {
                Step::WidenAccess
            },
        })
        .into_iter()
        .collect()
}

/// Whether the lists themselves must be read.
pub fn reads_lists(policy: &IpAccessListsPolicy) -> bool {
    policy.lists.is_some() || policy.management == Some(Management::Exclusive)
}

pub async fn observe(client: &DatabricksClient) -> Result<Vec<IpAccessList>, ApiError> {
    client.list_ip_access_lists().await
}

fn api_list_type(list_type: api::ListType) -> ListType {
    match list_type {
        api::ListType::Allow => ListType::Allow,
        api::ListType::Block => ListType::Block,
    }
}

/// Parses an address the way Databricks reads it: a plain IPv4 address is a /32.
fn parse_address(address: &str) -> Option<Ipv4Net> {
    address
        .parse::<Ipv4Net>()
        .or_else(|_| address.parse::<Ipv4Addr>().map(Ipv4Net::from))
        .ok()
        .map(|net| net.trunc())
}

/// Addresses as a set, so order, duplicates and `/32` spelling do not count as drift.
fn address_set(addresses: &[String]) -> BTreeSet<String> {
    addresses
        .iter()
        .map(|a| match parse_address(a) {
            Some(net) if net.prefix_len() == 32 => net.addr().to_string(),
            Some(net) => net.to_string(),
            None => a.clone(),
        })
        .collect()
}

fn describe_list(list_type: ListType, addresses: &BTreeSet<String>, enabled: bool) -> String {
    let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
    format!(
        "{} [{}]{}",
        list_type_str(list_type),
        addresses.join(", "),
        if enabled { "" } else { " disabled" }
    )
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

pub fn evaluate(
    policy: &IpAccessListsPolicy,
    observed: &Read<Vec<IpAccessList>>,
) -> Vec<ControlResult> {
    let mut ids: Vec<String> = policy
        .lists
        .iter()
        .flatten()
        .map(|l| list_control_id(&l.label))
        .collect();
    ids.push(UNDECLARED_ID.to_string());
    let lists = match observed {
        None => return Vec::new(),
        Some(Err(error)) => {
            return ids
                .iter()
                .map(|id| ControlResult::read_failed(id, error).with_references(REFERENCES))
                .collect();
        }
        Some(Ok(lists)) => lists,
    };

    let mut results: Vec<ControlResult> = policy
        .lists
        .iter()
        .flatten()
        .map(|declared| {
            let desired = describe_list(
                api_list_type(declared.list_type),
                &address_set(&declared.addresses),
                declared.enabled,
            );
            let observed = find(lists, &declared.label).map_or_else(
                || "absent".to_string(),
                |live| {
                    describe_list(
                        live.list_type,
                        &address_set(&live.ip_addresses),
                        live.enabled.unwrap_or(true),
                    )
                },
            );
            ControlResult::compare(list_control_id(&declared.label), desired, observed)
                .with_references(REFERENCES)
        })
        .collect();

    let extra = undeclared(policy, lists);
    let labels: Vec<&str> = extra.iter().map(|l| l.label.as_str()).collect();
    let observed = if labels.is_empty() {
        "none".to_string()
    } else {
        labels.join(", ")
    };
    let undeclared_result = match policy.management.unwrap_or_default() {
        Management::Exclusive => ControlResult::compare(UNDECLARED_ID, "none", observed),
        Management::Additive => ControlResult::compare(UNDECLARED_ID, "left alone", "left alone")
            .with_message(format!(
                "Additive management: undeclared lists are never deleted ({})",
                if labels.is_empty() {
                    "none exist".to_string()
                } else {
                    labels.join(", ")
                }
            )),
    };
    results.push(undeclared_result.with_references(REFERENCES));
    results
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

pub fn plan(
    policy: &IpAccessListsPolicy,
    workspace_mode: Mode,
    observed: &Read<Vec<IpAccessList>>,
    results: &[ControlResult],
) -> Vec<Action> {
    let Some(Ok(lists)) = observed else {
        return Vec::new();
    };
    let mode = family_mode(workspace_mode, policy.mode);
    let drifted = |id: &str| results.iter().any(|r| r.id == id && r.is_drifted());
    let mut actions = Vec::new();
    for declared in policy.lists.iter().flatten() {
        let id = list_control_id(&declared.label);
        if !drifted(&id) {
            continue;
        }
        let list_type = api_list_type(declared.list_type);
        let (step, change) = match find(lists, &declared.label) {
            None => (
                if list_type == ListType::Allow {
                    Step::WidenAccess
                } else {
                    Step::NarrowAccess
                },
                Change::CreateIpAccessList {
                    label: declared.label.clone(),
                    list_type,
                    addresses: declared.addresses.clone(),
                    enabled: declared.enabled,
                },
            ),
            Some(live) => (
                if only_widens(live, declared) {
                    Step::WidenAccess
                } else {
                    Step::NarrowAccess
                },
                Change::ReplaceIpAccessList {
                    list_id: live.list_id.clone(),
                    label: declared.label.clone(),
                    list_type,
                    addresses: declared.addresses.clone(),
                    enabled: declared.enabled,
                },
            ),
        };
        actions.push(Action {
            controls: vec![id],
            step,
            mode,
            change,
        });
    }
    if policy.management == Some(Management::Exclusive) && drifted(UNDECLARED_ID) {
        for live in undeclared(policy, lists) {
            actions.push(Action {
                controls: vec![UNDECLARED_ID.to_string()],
                step: if live.list_type == ListType::Allow {
                    Step::NarrowAccess
                } else {
                    Step::WidenAccess
                },
                mode,
                change: Change::DeleteIpAccessList {
                    list_id: live.list_id.clone(),
                    label: live.label.clone(),
                },
            });
        }
    }
    actions
}

/// Why an action must not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub reason: &'static str,
    pub message: String,
}

/// The access-relevant state of a workspace, simulated action by action.
#[derive(Debug, Clone)]
struct AccessState {
    enabled: bool,
    /// (id or label, type, enabled, addresses)
    lists: Vec<(String, ListType, bool, Vec<Ipv4Net>)>,
}

impl AccessState {
    fn from_observed(observed: &Observed) -> Option<AccessState> {
        let lists = match &observed.ip_access_lists {
            Some(Ok(lists)) => lists,
            _ => return None,
        };
        let enabled = matches!(&observed.conf, Some(Ok(conf))
            if conf.get(ENABLE_KEY).and_then(|v| v.as_deref()) == Some("true"));
        Some(AccessState {
            enabled,
            lists: lists
                .iter()
                .map(|l| {
                    (
                        l.list_id.clone(),
                        l.list_type,
                        l.enabled.unwrap_or(true),
                        l.ip_addresses
                            .iter()
                            .filter_map(|a| parse_address(a))
                            .collect(),
                    )
                })
                .collect(),
        })
    }

    /// Whether all of `range` may reach the workspace.
    fn allows(&self, range: &Ipv4Net) -> bool {
        if !self.enabled {
            return true;
        }
        let active = |t: ListType| {
            self.lists
                .iter()
                .filter(move |(_, lt, enabled, _)| *lt == t && *enabled)
                .flat_map(|(_, _, _, nets)| nets.iter())
        };
        let blocked = active(ListType::Block)
            .any(|net| net.contains(&range.network()) || range.contains(&net.network()));
        let mut allows = active(ListType::Allow).peekable();
        let in_allow = allows.peek().is_none() || allows.any(|net| net.contains(range));
        !blocked && in_allow
    }

    fn apply(&mut self, change: &Change) {
        let nets =
            |addresses: &[String]| addresses.iter().filter_map(|a| parse_address(a)).collect();
        match change {
            Change::PatchConf(writes) => {
                if let Some(w) = writes.iter().find(|w| w.key == ENABLE_KEY) {
                    self.enabled = w.value == "true";
                }
            }
            Change::CreateIpAccessList {
                label,
                list_type,
                addresses,
                enabled,
            } => {
                self.lists
                    .push((label.clone(), *list_type, *enabled, nets(addresses)));
            }
            Change::ReplaceIpAccessList {
                list_id,
                list_type,
                addresses,
                enabled,
                ..
            } => {
                if let Some(l) = self.lists.iter_mut().find(|l| &l.0 == list_id) {
                    *l = (list_id.clone(), *list_type, *enabled, nets(addresses));
                }
            }
            Change::DeleteIpAccessList { list_id, .. } => self.lists.retain(|l| &l.0 != list_id),
            _ => {}
        }
    }
}

/// Runs the IP-relevant actions (already in execution order) through a simulation of the
/// workspace's access rules and returns, per action, why it must not run. An action is blocked
/// when it would lock out an address in `protected` (break-glass ranges and the controller's own
/// egress) that was allowed before it, or when it would turn IP access lists on without an
/// enabled ALLOW list declared. A blocked action's effect is left out of the simulation, so the
/// actions after it are judged against the state that will really exist.
pub fn guard(
    actions: &[Action],
    policy: &IpAccessListsPolicy,
    observed: &Observed,
    protected: &[Ipv4Net],
) -> Vec<Option<Blocked>> {
    let Some(mut state) = AccessState::from_observed(observed) else {
        return actions.iter().map(|_| None).collect();
    };
    let declares_allow_list = policy
        .lists
        .iter()
        .flatten()
        .any(|l| l.list_type == api::ListType::Allow && l.enabled);
    actions
        .iter()
        .map(|action| {
            if !touches_access(&action.change) {
                return None;
            }
            let mut next = state.clone();
            next.apply(&action.change);
            if next.enabled && !state.enabled && !declares_allow_list {
                return Some(Blocked {
                    reason: "NoAllowList",
                    message: "IP access lists would be turned on, but the workspace declares no \
                              enabled ALLOW list: declare one in spec.policy.ipAccessLists.lists"
                        .to_string(),
                });
            }
            let locked_out: Vec<String> = protected
                .iter()
                .filter(|range| state.allows(range) && !next.allows(range))
                .map(|range| range.to_string())
                .collect();
            if !locked_out.is_empty() {
                return Some(Blocked {
                    reason: "LockoutGuard",
                    message: format!(
                        "{} would lock out protected address(es) {}",
                        action.describe(),
                        locked_out.join(", ")
                    ),
                });
            }
            state = next;
            None
        })
        .collect()
}

/// Whether a change can alter who may reach the workspace.
pub fn touches_access(change: &Change) -> bool {
    match change {
        Change::PatchConf(writes) => writes.iter().any(|w| w.key == ENABLE_KEY),
        Change::CreateIpAccessList { .. }
        | Change::ReplaceIpAccessList { .. }
        | Change::DeleteIpAccessList { .. } => true,
        _ => false,
    }
}

/// Parses the protected addresses given on the command line or in the policy.
pub fn parse_protected(addresses: &[String]) -> Result<Vec<Ipv4Net>, String> {
    addresses
        .iter()
        .map(|a| {
            parse_address(a).ok_or_else(|| format!("{a} is not an IPv4 address or CIDR prefix"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::ControlState;
    use crate::controls::ReadError;

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

    fn policy(management: Management, lists: Vec<api::IpAccessList>) -> IpAccessListsPolicy {
        IpAccessListsPolicy {
            enabled: Some(true),
            management: Some(management),
            lists: Some(lists),
            ..Default::default()
        }
    }

    fn states(results: &[ControlResult]) -> Vec<(&str, ControlState)> {
        results.iter().map(|r| (r.id.as_str(), r.state)).collect()
    }

    #[test]
    fn address_sets_ignore_order_duplicates_and_host_prefix() {
        let p = policy(
            Management::Additive,
            vec![declared(
                "vpn",
                api::ListType::Allow,
                &["198.51.100.7", "203.0.113.0/24"],
            )],
        );
        let observed = Some(Ok(vec![live(
            "1",
            "vpn",
            ListType::Allow,
            &["203.0.113.0/24", "198.51.100.7/32", "198.51.100.7"],
        )]));
        let results = evaluate(&p, &observed);
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
        let p = policy(
            Management::Exclusive,
            vec![
                declared("vpn", api::ListType::Allow, &["10.0.0.0/8"]),
                declared("bad", api::ListType::Block, &["192.0.2.0/24"]),
                declared("new", api::ListType::Allow, &["172.16.0.0/12"]),
            ],
        );
        let mut disabled = live("3", "bad", ListType::Block, &["192.0.2.0/24"]);
        disabled.enabled = Some(false);
        let observed = Some(Ok(vec![
            live("1", "vpn", ListType::Block, &["10.0.0.0/8"]),
            disabled,
            live("4", "stray", ListType::Allow, &["0.0.0.0/0"]),
        ]));
        let results = evaluate(&p, &observed);
        assert_eq!(
            states(&results),
            [
                ("ipAccessLists/list/vpn", ControlState::Drifted),
                ("ipAccessLists/list/bad", ControlState::Drifted),
                ("ipAccessLists/list/new", ControlState::Drifted),
                ("ipAccessLists/undeclared", ControlState::Drifted)
            ]
        );
        assert_eq!(results[2].observed.as_deref(), Some("absent"));
        assert_eq!(results[3].observed.as_deref(), Some("stray"));

        let actions = plan(&p, Mode::Enforce, &observed, &results);
        let described: Vec<_> = actions.iter().map(|a| (a.step, a.describe())).collect();
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
        let p = policy(Management::Additive, vec![]);
        let observed = Some(Ok(vec![live(
            "9",
            "legacy",
            ListType::Allow,
            &["10.0.0.1"],
        )]));
        let results = evaluate(&p, &observed);
        assert_eq!(results[0].state, ControlState::Compliant);
        assert!(results[0].message.as_deref().unwrap().contains("legacy"));
        assert!(plan(&p, Mode::Enforce, &observed, &results).is_empty());
    }

    #[test]
    fn duplicate_labels_beyond_the_first_are_undeclared() {
        let p = policy(
            Management::Exclusive,
            vec![declared("vpn", api::ListType::Allow, &["10.0.0.0/8"])],
        );
        let observed = Some(Ok(vec![
            live("1", "vpn", ListType::Allow, &["10.0.0.0/8"]),
            live("2", "vpn", ListType::Allow, &["10.0.0.0/8"]),
        ]));
        let results = evaluate(&p, &observed);
        let actions = plan(&p, Mode::Enforce, &observed, &results);
        assert_eq!(actions.len(), 1);
        assert_eq!(
            actions[0].change,
            Change::DeleteIpAccessList {
                list_id: "2".into(),
                label: "vpn".into()
            }
        );
    }

    #[test]
    fn read_failure_fails_list_controls() {
        let p = policy(
            Management::Exclusive,
            vec![declared("vpn", api::ListType::Allow, &["10.0.0.0/8"])],
        );
        let error = ReadError {
            status: Some(500),
            error_code: None,
            message: "boom".into(),
        };
        let results = evaluate(&p, &Some(Err(error)));
        assert!(results.iter().all(|r| r.state == ControlState::Failed));
        assert!(
            plan(
                &p,
                Mode::Enforce,
                &Some(Err(ReadError {
                    status: None,
                    error_code: None,
                    message: String::new()
                })),
                &results
            )
            .is_empty()
        );
    }

    fn observed_state(enabled: bool, lists: Vec<IpAccessList>) -> Observed {
        Observed {
            conf: Some(Ok(BTreeMap::from([(
                ENABLE_KEY.to_string(),
                Some(enabled.to_string()),
            )]))),
            ip_access_lists: Some(Ok(lists)),
            ..Default::default()
        }
    }

    fn enable_action() -> Action {
        Action {
            controls: vec![ENABLED_ID.into()],
            step: Step::EnableIpAccessLists,
            mode: Mode::Enforce,
            change: Change::PatchConf(vec![super::super::ConfWrite {
                control: ENABLED_ID.into(),
                key: ENABLE_KEY.into(),
                value: "true".into(),
            }]),
        }
    }

    fn protected(addresses: &[&str]) -> Vec<Ipv4Net> {
        parse_protected(&addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn guard_blocks_enabling_lists_that_exclude_the_controller() {
        let p = policy(
            Management::Exclusive,
            vec![declared("vpn", api::ListType::Allow, &["203.0.113.0/24"])],
        );
        let observed = observed_state(
            false,
            vec![live("1", "vpn", ListType::Allow, &["203.0.113.0/24"])],
        );
        let verdicts = guard(
            &[enable_action()],
            &p,
            &observed,
            &protected(&["127.0.0.1"]),
        );
        assert_eq!(verdicts[0].as_ref().unwrap().reason, "LockoutGuard");
        // Once the controller's address is covered, the same change is safe.
        let verdicts = guard(
            &[enable_action()],
            &p,
            &observed,
            &protected(&["203.0.113.9"]),
        );
        assert_eq!(verdicts, [None]);
    }

    #[test]
    fn guard_allows_widen_then_enable_then_narrow() {
        let p = policy(
            Management::Exclusive,
            vec![declared(
                "vpn",
                api::ListType::Allow,
                &["127.0.0.0/8", "10.0.0.0/8"],
            )],
        );
        let observed = observed_state(
            false,
            vec![live("1", "old", ListType::Allow, &["127.0.0.1"])],
        );
        let mut actions = vec![
            Action {
                controls: vec![list_control_id("vpn")],
                step: Step::WidenAccess,
                mode: Mode::Enforce,
                change: Change::CreateIpAccessList {
                    label: "vpn".into(),
                    list_type: ListType::Allow,
                    addresses: vec!["127.0.0.0/8".into(), "10.0.0.0/8".into()],
                    enabled: true,
                },
            },
            enable_action(),
            Action {
                controls: vec![UNDECLARED_ID.into()],
                step: Step::NarrowAccess,
                mode: Mode::Enforce,
                change: Change::DeleteIpAccessList {
                    list_id: "1".into(),
                    label: "old".into(),
                },
            },
        ];
        let verdicts = guard(
            &actions,
            &p,
            &observed,
            &protected(&["127.0.0.1", "10.1.2.0/24"]),
        );
        assert_eq!(verdicts, [None, None, None]);

        // A BLOCK list over a break-glass range is refused, the rest still runs.
        actions.insert(
            2,
            Action {
                controls: vec![list_control_id("bad")],
                step: Step::NarrowAccess,
                mode: Mode::Enforce,
                change: Change::CreateIpAccessList {
                    label: "bad".into(),
                    list_type: ListType::Block,
                    addresses: vec!["10.1.0.0/16".into()],
                    enabled: true,
                },
            },
        );
        let verdicts = guard(
            &actions,
            &p,
            &observed,
            &protected(&["127.0.0.1", "10.1.2.0/24"]),
        );
        assert!(verdicts[0].is_none() && verdicts[1].is_none() && verdicts[3].is_none());
        let blocked = verdicts[2].as_ref().unwrap();
        assert_eq!(blocked.reason, "LockoutGuard");
        assert!(
            blocked.message.contains("10.1.2.0/24"),
            "{}",
            blocked.message
        );
    }

    #[test]
    fn guard_refuses_to_enable_without_a_declared_allow_list() {
        let p = IpAccessListsPolicy {
            enabled: Some(true),
            ..Default::default()
        };
        let observed = observed_state(false, vec![]);
        let verdicts = guard(&[enable_action()], &p, &observed, &[]);
        assert_eq!(verdicts[0].as_ref().unwrap().reason, "NoAllowList");
    }

    #[test]
    fn guard_ignores_changes_while_lists_are_off() {
        let p = policy(Management::Exclusive, vec![]);
        let observed = observed_state(
            false,
            vec![live("1", "vpn", ListType::Allow, &["127.0.0.1"])],
        );
        let delete = Action {
            controls: vec![UNDECLARED_ID.into()],
            step: Step::NarrowAccess,
            mode: Mode::Enforce,
            change: Change::DeleteIpAccessList {
                list_id: "1".into(),
                label: "vpn".into(),
            },
        };
        assert_eq!(
            guard(&[delete], &p, &observed, &protected(&["127.0.0.1"])),
            [None]
        );
    }

    #[test]
    fn enabled_control_orders_by_direction() {
        let on = conf_controls(
            &IpAccessListsPolicy {
                enabled: Some(true),
                ..Default::default()
            },
            Mode::Enforce,
        );
        assert_eq!(on[0].step, Step::EnableIpAccessLists);
        let off = conf_controls(
            &IpAccessListsPolicy {
                enabled: Some(false),
                mode: Some(Mode::Audit),
                ..Default::default()
            },
            Mode::Enforce,
        );
        assert_eq!((off[0].step, off[0].mode), (Step::WidenAccess, Mode::Audit));
    }
}
