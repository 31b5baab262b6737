//! Properties of the IP access list family and the lockout guard over random policies and live
//! states: a plan, applied, leaves the family compliant; planning again then finds nothing; the
//! guard never lets a plan lock out a protected address; addresses normalise stably.

use proptest::prelude::*;

use super::rules::{self, Context, LockoutGuard, Verdict};
use super::stage::Action;
use crate::api::{self, IpAccessListsPolicy, Management, Mode, Policy};
use crate::clients::databricks::{IpAccessList, ListType, ReplaceIpAccessList};
use crate::controls::access::{AccessState, address_set, parse_address};
use crate::controls::ip_access_lists::{IpAccessLists, IpChange};
use crate::controls::{Effect, Fact, Family, Pass, Workspace};

const POOL: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.3",
    "192.0.2.0/24",
    "198.51.100.7/32",
    "203.0.113.0/24",
    "127.0.0.1",
];
const LABELS: &[&str] = &["vpn", "office", "bad", "ci"];

fn pass() -> Pass<'static> {
    Pass {
        mode: Mode::Enforce,
        now: jiff::Timestamp::UNIX_EPOCH,
        protected: &[],
        private_network: false,
        exceptions: &[],
    }
}

fn addresses() -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(POOL, 1..4)
        .prop_map(|a| a.iter().map(|s| s.to_string()).collect())
}

fn declared() -> impl Strategy<Value = Vec<api::IpAccessList>> {
    proptest::sample::subsequence(LABELS, 0..=LABELS.len()).prop_flat_map(|labels| {
        let n = labels.len();
        (
            Just(labels),
            proptest::collection::vec((any::<bool>(), addresses(), any::<bool>()), n),
        )
            .prop_map(|(labels, shapes)| {
                labels
                    .iter()
                    .zip(shapes)
                    .map(|(label, (allow, addresses, enabled))| api::IpAccessList {
                        label: label.to_string(),
                        list_type: if allow {
                            api::ListType::Allow
                        } else {
                            api::ListType::Block
                        },
                        addresses,
                        enabled,
                    })
                    .collect()
            })
    })
}

fn live() -> impl Strategy<Value = Vec<IpAccessList>> {
    proptest::collection::vec(
        (
            proptest::sample::select(LABELS),
            any::<bool>(),
            addresses(),
            any::<bool>(),
        ),
        0..5,
    )
    .prop_map(|lists| {
        lists
            .into_iter()
            .enumerate()
            .map(|(i, (label, allow, ip_addresses, enabled))| IpAccessList {
                list_id: format!("id-{i}"),
                label: label.to_string(),
                list_type: if allow {
                    ListType::Allow
                } else {
                    ListType::Block
                },
                ip_addresses,
                enabled: Some(enabled),
                ..Default::default()
            })
            .collect()
    })
}

/// What the API does with a change, on the in-memory list of lists.
fn simulate(lists: &mut Vec<IpAccessList>, change: &IpChange, next_id: &mut usize) {
    match change {
        IpChange::Create(list) => {
            *next_id += 1;
            lists.push(IpAccessList {
                list_id: format!("new-{next_id}"),
                label: list.label.clone(),
                list_type: list.list_type,
                ip_addresses: list.ip_addresses.clone(),
                enabled: Some(list.enabled),
                ..Default::default()
            });
        }
        IpChange::Replace { list_id, list } => {
            if let Some(live) = lists.iter_mut().find(|l| &l.list_id == list_id) {
                live.label = list.label.clone();
                live.list_type = list.list_type;
                live.ip_addresses = list.ip_addresses.clone();
                live.enabled = Some(list.enabled);
            }
        }
        IpChange::Delete { list_id, .. } => lists.retain(|l| &l.list_id != list_id),
    }
}

fn plan_for(desired: &<IpAccessLists as Family>::Desired, lists: &[IpAccessList]) -> Vec<IpChange> {
    let observed = Ok(lists.to_vec());
    let findings = IpAccessLists::evaluate(desired, &observed, &pass());
    let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
    IpAccessLists::plan(desired, &observed, &drifted, &pass())
        .into_iter()
        .map(|p| p.change)
        .collect()
}

fn action(effects: Vec<Effect>) -> Action {
    Action {
        stage: 0,
        index: 0,
        controls: vec!["ipAccessLists/list/x".into()],
        step: crate::controls::Step::Configure,
        mode: Mode::Enforce,
        effects,
        description: "change".into(),
        per_control: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Applying the plan makes every list control compliant, and a second plan is empty.
    #[test]
    fn applied_plans_converge_and_are_idempotent(declared in declared(), mut lists in live()) {
        let workspace = Workspace::new(Policy {
            ip_access_lists: Some(IpAccessListsPolicy {
                management: Some(Management::Exclusive),
                lists: Some(declared),
                ..Default::default()
            }),
            ..Default::default()
        });
        let desired = IpAccessLists::desired(&workspace, &pass()).expect("lists are managed");
        let mut next_id = 0;
        for change in plan_for(&desired, &lists) {
            simulate(&mut lists, &change, &mut next_id);
        }
        let findings = IpAccessLists::evaluate(&desired, &Ok(lists.clone()), &pass());
        prop_assert!(findings.iter().all(|f| !f.is_drifted()), "{findings:#?}");
        prop_assert!(plan_for(&desired, &lists).is_empty());
    }

    /// Whatever the plan, no protected address that may reach the workspace before it is
    /// locked out after the changes the guard allows.
    #[test]
    fn the_guard_never_locks_out_a_protected_address(
        lists in live(),
        enabled in any::<bool>(),
        changes in proptest::collection::vec((0usize..4, proptest::sample::select(LABELS), any::<bool>(), addresses()), 0..6),
        protected in proptest::sample::subsequence(POOL, 1..3),
    ) {
        let protected: Vec<_> = protected.iter().filter_map(|a| parse_address(a)).collect();
        let mut facts = vec![
            Fact::IpAccessListsEnabled(enabled),
            Fact::DeclaresAllowList(true),
        ];
        let live_facts = IpAccessLists::facts(
            &IpAccessLists::desired(
                &Workspace::new(Policy {
                    ip_access_lists: Some(IpAccessListsPolicy {
                        lists: Some(Vec::new()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                &pass(),
            )
            .expect("managed"),
            &Ok(lists.clone()),
        );
        facts.extend(live_facts.into_iter().filter(|f| matches!(f, Fact::IpAccessLists(_))));
        let actions: Vec<Action> = changes
            .into_iter()
            .map(|(kind, label, allow, addresses)| {
                let list_type = if allow { ListType::Allow } else { ListType::Block };
                let list = |enabled| ReplaceIpAccessList {
                    label: label.into(),
                    list_type,
                    ip_addresses: addresses.clone(),
                    enabled,
                };
                let change = match kind {
                    0 => IpChange::Create(list(true)),
                    1 if !lists.is_empty() => IpChange::Replace {
                        list_id: lists[0].list_id.clone(),
                        list: list(allow),
                    },
                    2 if !lists.is_empty() => IpChange::Delete {
                        list_id: lists[lists.len() - 1].list_id.clone(),
                        label: label.into(),
                    },
                    _ => return action(vec![Effect::EnablesIpAccessLists(allow)]),
                };
                action(IpAccessLists::effects(&change))
            })
            .collect();
        let ctx = Context { facts: &facts, protected: &protected, private_network: false };
        let mut guard = LockoutGuard::new(&ctx);
        let initial = AccessState::from_facts(&facts).expect("lists were read");
        let mut state = initial.clone();
        for action in &actions {
            if matches!(rules::judge(action, &ctx, &mut guard), Verdict::Allowed) {
                for effect in &action.effects {
                    state.apply(effect);
                }
            }
        }
        for range in &protected {
            prop_assert!(!initial.allows(range) || state.allows(range), "{range} locked out");
        }
    }

    /// Normalised addresses parse back to the same networks.
    #[test]
    fn address_normalisation_round_trips(addresses in addresses()) {
        let once = address_set(&addresses);
        let twice = address_set(&once.iter().cloned().collect::<Vec<_>>());
        prop_assert_eq!(&once, &twice);
        for text in &once {
            prop_assert!(parse_address(text).is_some());
        }
    }
}
