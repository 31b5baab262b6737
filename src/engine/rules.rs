//! The rules that concern several families, each stated once: which controls a fact makes
//! moot, and which changes must not run whatever family plans them (lockout, closing public
//! access, irreversible settings). They read [`Fact`]s and [`Effect`]s, never a family's types.

use ipnet::Ipv4Net;

use super::stage::Action;
use crate::api::Exception;
use crate::controls::access::AccessState;
use crate::controls::azure::PRIVATE_LINK_ONLY;
use crate::controls::{Blocked, Effect, Fact, Reason};

/// Controls that a fact makes moot: (fact, control id prefix, why).
const MOOT: &[(Fact, &str, &str)] = &[
    // Behind Private Link only, IP access lists do not apply (and nothing is planned for them).
    (Fact::PrivateLinkOnly, "ipAccessLists/", PRIVATE_LINK_ONLY),
];

/// Why a control is moot given the facts of the pass, if it is.
pub fn moot(facts: &[Fact]) -> impl Fn(&str) -> Option<&'static str> + '_ {
    move |control| {
        MOOT.iter()
            .find(|(fact, prefix, _)| control.starts_with(prefix) && facts.contains(fact))
            .map(|(_, _, why)| *why)
    }
}

/// The exception that holds `control` at `now`, as the control's message; expired exceptions
/// hold nothing.
pub fn excepted(
    exceptions: &[Exception],
    now: jiff::Timestamp,
) -> impl Fn(&str) -> Option<String> + '_ {
    move |control| {
        exceptions
            .iter()
            .filter(|e| e.active_at(now))
            .find(|e| e.covers(control))
            .map(Exception::describe)
    }
}

/// What the cross-family rules need besides the plan.
pub struct Context<'a> {
    pub facts: &'a [Fact],
    /// Addresses no change may lock out.
    pub protected: &'a [Ipv4Net],
    /// brickwarden reaches the resource over Private Link.
    pub private_network: bool,
}

/// A rule's refusal of one effect of an action.
struct Refusal<'e> {
    effect: &'e Effect,
    blocked: Blocked,
}

/// The rules that judge one action on its own.
fn refuse<'e>(action: &'e Action, ctx: &Context) -> Option<Refusal<'e>> {
    action.effects.iter().find_map(|effect| {
        let blocked = match effect {
            Effect::TurnsOffIrreversible { what } => {
                Blocked::new(Reason::Irreversible, format!("{what} is never turned off"))
            }
            Effect::ClosesPublicNetworkAccess if !ctx.private_network => Blocked::new(
                Reason::LockoutGuard,
                "disabling public network access would cut brickwarden off from the workspace \
                 unless it reaches it over Private Link: run it with --private-network once it \
                 does",
            ),
            _ => return None,
        };
        Some(Refusal { effect, blocked })
    })
}

/// The lockout guard: runs the access effects of the actions (already in execution order)
/// through a simulation of who may reach the resource, and blocks an action that would lock
/// out a protected address allowed before it, or that would turn IP access lists on without a
/// declared enabled ALLOW list. A blocked action's effect is left out of the simulation, so the
/// actions after it are judged against the state that will really exist.
pub struct LockoutGuard<'a> {
    state: Option<AccessState>,
    declares_allow_list: bool,
    protected: &'a [Ipv4Net],
}

impl<'a> LockoutGuard<'a> {
    pub fn new(ctx: &Context<'a>) -> Self {
        LockoutGuard {
            state: AccessState::from_facts(ctx.facts),
            declares_allow_list: ctx.facts.contains(&Fact::DeclaresAllowList(true)),
            protected: ctx.protected,
        }
    }

    pub fn judge(&mut self, action: &Action) -> Option<Blocked> {
        let state = self.state.as_mut()?;
        if !action.touches_access() {
            return None;
        }
        let mut next = state.clone();
        for effect in &action.effects {
            next.apply(effect);
        }
        if next.enabled && !state.enabled && !self.declares_allow_list {
            return Some(Blocked::new(
                Reason::NoAllowList,
                "IP access lists would be turned on, but no enabled ALLOW list is declared: \
                 declare one in spec.policy.ipAccessLists.lists",
            ));
        }
        let locked_out: Vec<String> = self
            .protected
            .iter()
            .filter(|range| state.allows(range) && !next.allows(range))
            .map(|range| range.to_string())
            .collect();
        if !locked_out.is_empty() {
            return Some(Blocked::new(
                Reason::LockoutGuard,
                format!(
                    "{} would lock out protected address(es) {}",
                    action.describe(),
                    locked_out.join(", ")
                ),
            ));
        }
        *state = next;
        None
    }
}

/// The verdict of the cross-family rules on one action.
pub enum Verdict {
    Allowed,
    Blocked(Blocked),
    /// Refused for one `effect`: when the change is divisible, the rest of it may still run.
    Refused {
        effect: Effect,
        blocked: Blocked,
    },
}

pub fn judge(action: &Action, ctx: &Context, lockout: &mut LockoutGuard) -> Verdict {
    if let Some(refusal) = refuse(action, ctx) {
        return Verdict::Refused {
            effect: refusal.effect.clone(),
            blocked: refusal.blocked,
        };
    }
    match lockout.judge(action) {
        Some(blocked) => Verdict::Blocked(blocked),
        None => Verdict::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Mode;
    use crate::clients::databricks::ListType;
    use crate::controls::access::{networks, parse_protected};
    use crate::controls::{AccessList, Step};

    fn action(effects: Vec<Effect>) -> Action {
        Action {
            stage: 0,
            index: 0,
            controls: vec!["c".into()],
            step: Step::Configure,
            mode: Mode::Enforce,
            effects,
            description: "change".into(),
            per_control: vec!["change".into()],
        }
    }

    fn list(key: &str, list_type: ListType, addresses: &[&str]) -> AccessList {
        AccessList {
            key: key.into(),
            list_type,
            enabled: true,
            addresses: networks(&addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
        }
    }

    fn facts(enabled: bool, lists: Vec<AccessList>, declares_allow: bool) -> Vec<Fact> {
        vec![
            Fact::IpAccessListsEnabled(enabled),
            Fact::IpAccessLists(lists),
            Fact::DeclaresAllowList(declares_allow),
        ]
    }

    fn protected(addresses: &[&str]) -> Vec<Ipv4Net> {
        parse_protected(&addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn verdicts(facts: &[Fact], protected: &[Ipv4Net], actions: &[Action]) -> Vec<Option<Reason>> {
        let ctx = Context {
            facts,
            protected,
            private_network: false,
        };
        let mut lockout = LockoutGuard::new(&ctx);
        actions
            .iter()
            .map(|a| match judge(a, &ctx, &mut lockout) {
                Verdict::Allowed => None,
                Verdict::Blocked(b) | Verdict::Refused { blocked: b, .. } => Some(b.reason),
            })
            .collect()
    }

    fn enable() -> Action {
        action(vec![Effect::EnablesIpAccessLists(true)])
    }

    #[test]
    fn blocks_enabling_lists_that_exclude_the_controller() {
        let facts = facts(
            false,
            vec![list("1", ListType::Allow, &["203.0.113.0/24"])],
            true,
        );
        assert_eq!(
            verdicts(&facts, &protected(&["127.0.0.1"]), &[enable()]),
            [Some(Reason::LockoutGuard)]
        );
        // Once the controller's address is covered, the same change is safe.
        assert_eq!(
            verdicts(&facts, &protected(&["203.0.113.9"]), &[enable()]),
            [None]
        );
    }

    #[test]
    fn allows_widen_then_enable_then_narrow() {
        let facts = facts(
            false,
            vec![list("1", ListType::Allow, &["127.0.0.1"])],
            true,
        );
        let create = action(vec![Effect::PutsIpAccessList(list(
            "vpn",
            ListType::Allow,
            &["127.0.0.0/8", "10.0.0.0/8"],
        ))]);
        let delete = action(vec![
            Effect::DeletesIpAccessList { key: "1".into() },
            Effect::Destructive,
        ]);
        let guarded = protected(&["127.0.0.1", "10.1.2.0/24"]);
        let mut actions = vec![create, enable(), delete];
        assert_eq!(verdicts(&facts, &guarded, &actions), [None, None, None]);

        // A BLOCK list over a break-glass range is refused, the rest still runs.
        actions.insert(
            2,
            action(vec![Effect::PutsIpAccessList(list(
                "bad",
                ListType::Block,
                &["10.1.0.0/16"],
            ))]),
        );
        assert_eq!(
            verdicts(&facts, &guarded, &actions),
            [None, None, Some(Reason::LockoutGuard), None]
        );
    }

    #[test]
    fn refuses_to_enable_without_a_declared_allow_list() {
        let facts = facts(false, vec![], false);
        assert_eq!(
            verdicts(&facts, &[], &[enable()]),
            [Some(Reason::NoAllowList)]
        );
    }

    #[test]
    fn ignores_changes_while_lists_are_off() {
        let facts = facts(
            false,
            vec![list("1", ListType::Allow, &["127.0.0.1"])],
            true,
        );
        let delete = action(vec![Effect::DeletesIpAccessList { key: "1".into() }]);
        assert_eq!(
            verdicts(&facts, &protected(&["127.0.0.1"]), &[delete]),
            [None]
        );
    }

    #[test]
    fn nothing_to_guard_without_the_lists() {
        assert_eq!(
            verdicts(&[], &protected(&["127.0.0.1"]), &[enable()]),
            [None]
        );
    }

    #[test]
    fn irreversible_and_closing_public_access() {
        let off = action(vec![Effect::TurnsOffIrreversible {
            what: "the profile",
        }]);
        let close = action(vec![Effect::ClosesPublicNetworkAccess]);
        assert_eq!(
            verdicts(&[], &[], &[off.clone(), close.clone()]),
            [Some(Reason::Irreversible), Some(Reason::LockoutGuard)]
        );
        let ctx = Context {
            facts: &[],
            protected: &[],
            private_network: true,
        };
        let mut lockout = LockoutGuard::new(&ctx);
        assert!(matches!(
            judge(&close, &ctx, &mut lockout),
            Verdict::Allowed
        ));
        assert!(matches!(
            judge(&off, &ctx, &mut lockout),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn private_link_makes_ip_access_lists_moot() {
        let facts = [Fact::PrivateLinkOnly];
        let moot = moot(&facts);
        assert_eq!(moot("ipAccessLists/enabled"), Some(PRIVATE_LINK_ONLY));
        assert_eq!(moot("tokens/enabled"), None);
        assert_eq!(super::moot(&[])("ipAccessLists/enabled"), None);
    }
}
