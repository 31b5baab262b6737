//! Who may reach a workspace or account through its IP access lists: address parsing and the
//! simulation the lockout guard runs over a plan's [`Effect`]s.
//!
//! Databricks semantics: lists are inert until enforcement is on; then an address in an enabled
//! BLOCK list is refused, and if any enabled ALLOW list exists an address must be in one of them.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::family::{AccessList, Effect, Fact};
use crate::clients::databricks::ListType;

/// Parses an address the way Databricks reads it: a plain IPv4 address is a /32.
pub fn parse_address(address: &str) -> Option<Ipv4Net> {
    address
        .parse::<Ipv4Net>()
        .or_else(|_| address.parse::<Ipv4Addr>().map(Ipv4Net::from))
        .ok()
        .map(|net| net.trunc())
}

/// The addresses of a list as networks; what does not parse cannot let anybody in.
pub fn networks(addresses: &[String]) -> Vec<Ipv4Net> {
    addresses.iter().filter_map(|a| parse_address(a)).collect()
}

/// Addresses as a normalised set, so order, duplicates and `/32` spelling do not count as drift.
/// An address that does not parse is kept as written.
pub fn address_set(addresses: &[String]) -> BTreeSet<String> {
    addresses
        .iter()
        .map(|a| match parse_address(a) {
            Some(net) if net.prefix_len() == 32 => net.addr().to_string(),
            Some(net) => net.to_string(),
            None => a.clone(),
        })
        .collect()
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

/// The access-relevant state of a workspace or account, simulated change by change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessState {
    pub enabled: bool,
    pub lists: Vec<AccessList>,
}

impl AccessState {
    /// The state the facts describe; `None` when the lists were not read (nothing to guard).
    /// Enforcement not read counts as off, as Databricks applies it by default.
    pub fn from_facts(facts: &[Fact]) -> Option<AccessState> {
        let lists = facts.iter().find_map(|f| match f {
            Fact::IpAccessLists(lists) => Some(lists.clone()),
            _ => None,
        })?;
        let enabled = facts
            .iter()
            .any(|f| matches!(f, Fact::IpAccessListsEnabled(true)));
        Some(AccessState { enabled, lists })
    }

    /// Whether all of `range` may reach the resource.
    pub fn allows(&self, range: &Ipv4Net) -> bool {
        if !self.enabled {
            return true;
        }
        let active = |t: ListType| {
            self.lists
                .iter()
                .filter(move |l| l.list_type == t && l.enabled)
                .flat_map(|l| l.addresses.iter())
        };
        let blocked = active(ListType::Block)
            .any(|net| net.contains(&range.network()) || range.contains(&net.network()));
        let mut allows = active(ListType::Allow).peekable();
        let in_allow = allows.peek().is_none() || allows.any(|net| net.contains(range));
        !blocked && in_allow
    }

    pub fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::EnablesIpAccessLists(on) => self.enabled = *on,
            Effect::PutsIpAccessList(list) => {
                match self.lists.iter_mut().find(|l| l.key == list.key) {
                    Some(existing) => *existing = list.clone(),
                    None => self.lists.push(list.clone()),
                }
            }
            Effect::DeletesIpAccessList { key } => self.lists.retain(|l| &l.key != key),
            _ => {}
        }
    }
}
