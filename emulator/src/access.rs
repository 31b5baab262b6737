//! Pure IP access list logic: parsing addresses/CIDRs, quota, and whether a caller is allowed.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;

/// The most addresses/CIDRs all lists of one workspace may hold together.
pub const MAX_ADDRESSES: usize = 1000;

/// `ALLOW` or `BLOCK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListType {
    Allow,
    Block,
}

impl ListType {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ALLOW" => Some(Self::Allow),
            "BLOCK" => Some(Self::Block),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Block => "BLOCK",
        }
    }
}

/// Parses one entry of `ip_addresses`: an IPv4 address or an IPv4 CIDR block.
pub fn parse_entry(entry: &str) -> Option<Ipv4Net> {
    let entry = entry.trim();
    if entry.contains('/') {
        entry.parse::<Ipv4Net>().ok()
    } else {
        entry.parse::<Ipv4Addr>().ok().map(Ipv4Net::from)
    }
}

/// The first entry that is not a valid IPv4 address or CIDR.
pub fn first_invalid<'a>(entries: impl IntoIterator<Item = &'a String>) -> Option<&'a String> {
    entries.into_iter().find(|e| parse_entry(e).is_none())
}

/// The view of a list the access decision needs.
#[derive(Debug, Clone, Copy)]
pub struct ListView<'a> {
    pub list_type: ListType,
    pub enabled: bool,
    pub addresses: &'a [String],
}

fn list_contains(addresses: &[String], ip: Ipv4Addr) -> bool {
    addresses
        .iter()
        .filter_map(|e| parse_entry(e))
        .any(|net| net.contains(&ip))
}

/// Normalises the peer address to IPv4 (IPv4-mapped IPv6 included). Pure IPv6 callers match
/// no IPv4 list.
pub fn caller_ipv4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

/// Whether `ip` may access a workspace whose lists are enforced: block lists win; if any
/// enabled allow list exists the caller must be in one. Disabled lists are ignored.
pub fn is_allowed(lists: &[ListView<'_>], ip: IpAddr) -> bool {
    let v4 = caller_ipv4(ip);
    let enabled = || lists.iter().filter(|l| l.enabled);
    if let Some(v4) = v4
        && enabled().any(|l| l.list_type == ListType::Block && list_contains(l.addresses, v4))
    {
        return false;
    }
    let mut allow_lists = enabled()
        .filter(|l| l.list_type == ListType::Allow)
        .peekable();
    if allow_lists.peek().is_none() {
        return true;
    }
    match v4 {
        Some(v4) => allow_lists.any(|l| list_contains(l.addresses, v4)),
        None => false,
    }
}

/// Total address count over all lists (one CIDR counts as one value).
pub fn total_addresses(lists: &[ListView<'_>]) -> usize {
    lists.iter().map(|l| l.addresses.len()).sum()
}

/// The message the real service answers with `INVALID_STATE` when a change would lock the
/// caller out.
pub fn lockout_message(ip: IpAddr) -> String {
    let shown = caller_ipv4(ip).map(IpAddr::V4).unwrap_or(ip);
    format!(
        "Your current IP {shown} will not be allowed to access the workspace under current configuration"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn view(list_type: ListType, enabled: bool, addresses: &[String]) -> ListView<'_> {
        ListView {
            list_type,
            enabled,
            addresses,
        }
    }

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn parses_addresses_and_cidrs() {
        assert!(parse_entry("10.0.0.1").is_some());
        assert!(parse_entry("10.0.0.0/8").is_some());
        assert!(parse_entry("0.0.0.0/0").is_some());
        assert!(parse_entry("10.0.0.0/33").is_none());
        assert!(parse_entry("10.0.0").is_none());
        assert!(parse_entry("::1").is_none());
        assert!(parse_entry("2001:db8::/32").is_none());
        assert!(parse_entry("hello").is_none());
        let entries = s(&["1.2.3.4", "1.2.3.4/40"]);
        assert_eq!(first_invalid(&entries).unwrap(), "1.2.3.4/40");
    }

    #[test]
    fn cidr_matching() {
        let a = s(&["127.0.0.0/8"]);
        assert!(list_contains(&a, Ipv4Addr::new(127, 0, 0, 1)));
        assert!(!list_contains(&a, Ipv4Addr::new(128, 0, 0, 1)));
        let b = s(&["127.0.0.1"]);
        assert!(list_contains(&b, Ipv4Addr::new(127, 0, 0, 1)));
        assert!(!list_contains(&b, Ipv4Addr::new(127, 0, 0, 2)));
    }

    #[test]
    fn no_lists_allows_everyone() {
        assert!(is_allowed(&[], LOCAL));
    }

    #[test]
    fn allow_list_must_contain_caller() {
        let other = s(&["10.0.0.0/8"]);
        let mine = s(&["127.0.0.1/32"]);
        let lists = [view(ListType::Allow, true, &other)];
        assert!(!is_allowed(&lists, LOCAL));
        let lists = [
            view(ListType::Allow, true, &other),
            view(ListType::Allow, true, &mine),
        ];
        assert!(is_allowed(&lists, LOCAL));
    }

    #[test]
    fn block_wins_over_allow() {
        let all = s(&["0.0.0.0/0"]);
        let me = s(&["127.0.0.1"]);
        let lists = [
            view(ListType::Allow, true, &all),
            view(ListType::Block, true, &me),
        ];
        assert!(!is_allowed(&lists, LOCAL));
    }

    #[test]
    fn disabled_lists_are_ignored() {
        let other = s(&["10.0.0.0/8"]);
        let lists = [view(ListType::Allow, false, &other)];
        assert!(is_allowed(&lists, LOCAL));
        let me = s(&["127.0.0.1"]);
        let lists = [view(ListType::Block, false, &me)];
        assert!(is_allowed(&lists, LOCAL));
    }

    #[test]
    fn mapped_ipv6_is_treated_as_ipv4() {
        let mine = s(&["127.0.0.1"]);
        let lists = [view(ListType::Allow, true, &mine)];
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(is_allowed(&lists, mapped));
        let v6: IpAddr = "::1".parse().unwrap();
        assert!(!is_allowed(&lists, v6));
        assert!(lockout_message(mapped).contains("127.0.0.1 will not be allowed"));
    }

    #[test]
    fn quota_counts_entries() {
        let a = s(&["1.1.1.1", "2.2.2.0/24"]);
        let b = s(&["3.3.3.3"]);
        let lists = [
            view(ListType::Allow, true, &a),
            view(ListType::Block, false, &b),
        ];
        assert_eq!(total_addresses(&lists), 3);
    }
}
