//! How much a control matters when it is not met: the `severity` of its PolicyReport result.
//!
//! The ranking follows the threat model of the Azure Databricks security best practices
//! (reference 003, "Databricks threat model"), which orders the risks as account takeover, data
//! exfiltration, accidental insider exposure, resource abuse. A control is
//!
//! * `critical` when, unmet, it leaves the front door or the network path open to anyone who
//!   holds (or steals) a credential: IP access lists, public network access, secure cluster
//!   connectivity, long-lived or unexpiring personal access tokens ("a proxy for the user who
//!   generates it, allowing full privileges"), and at account level private access settings;
//! * `high` when it is a listed mitigation of account takeover or data exfiltration that needs
//!   an attacker already inside: token management, admin separation, the admin console
//!   exfiltration settings, secret ACLs, audit and diagnostic logs, user isolation, serverless
//!   egress (NCC private endpoints, network policies, reference 001);
//! * `medium` for defence in depth of the "most deployments" list and the "highly-secure
//!   deployments" extras that do not by themselves open a path (security headers, view ACLs,
//!   legacy init scripts and DBFS, patching, customer-managed keys, compliance profiles);
//! * `low` for hygiene with no direct exposure (Git folders) and for ids brickwarden does not
//!   know (raw `workspaceConf` keys from `policy.workspaceConf.extra`, which carry no benchmark),
//!   so an unknown id is never reported as more urgent than a known one.

use std::fmt;

/// The severities of the PolicyReport schema that brickwarden uses (`info` is never used: every
/// control is a security control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The PolicyReport spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Patterns in order, first match wins: an exact id, or `prefix*` for a family or a sub-family
/// whose members share a severity. Account-level ids (DESIGN "DatabricksAccount") are here too.
const RULES: &[(&str, Severity)] = &[
    // Account takeover: who may reach the workspace and with what credential.
    ("ipAccessLists/*", Severity::Critical),
    ("account/ipAccessLists/*", Severity::Critical),
    ("azure/noPublicIp", Severity::Critical),
    ("azure/publicNetworkAccess", Severity::Critical),
    ("privateAccess/*", Severity::Critical),
    ("tokens/revoke", Severity::Critical),
    // Token management and admin separation: mitigations of account takeover.
    ("tokens/*", Severity::High),
    ("settings/restrictWorkspaceAdmins", Severity::High),
    // Admin console exfiltration settings (reference 003, "data exfiltration", mitigation 3).
    ("workspaceConf/enableExportNotebook", Severity::High),
    ("workspaceConf/enableResultsDownloading", Severity::High),
    ("workspaceConf/enableNotebookTableClipboard", Severity::High),
    ("workspaceConf/enableUploadDataUis", Severity::High),
    (
        "workspaceConf/mlflowRunArtifactDownloadEnabled",
        Severity::High,
    ),
    ("workspaceConf/enableWebTerminal", Severity::High),
    (
        "workspaceConf/storeInteractiveNotebookResultsInCustomerAccount",
        Severity::High,
    ),
    ("workspaceConf/enableFileStoreEndpoint", Severity::High),
    // Monitoring user activity (account takeover, mitigation 4).
    ("workspaceConf/enableVerboseAuditLogs", Severity::High),
    ("azure/diagnosticLogs", Severity::High),
    // Accidental insider exposure: one user's code reaching another's data.
    ("workspaceConf/enforceUserIsolation", Severity::High),
    // Secrets are credentials: who may read them (reference 004).
    ("secretScopes/*", Severity::High),
    // Serverless egress (reference 001 "deny-by-default egress", 002 exfiltration protection).
    ("ncc/*", Severity::High),
    ("networkPolicy/*", Severity::High),
    // Account settings that weaken every workspace at once.
    ("accountSettings/personalCompute", Severity::High),
    ("accountSettings/*", Severity::Medium),
    // Defence in depth.
    ("workspaceConf/enableProjectTypeInWorkspace", Severity::Low),
    ("workspaceConf/enableDbfsFileBrowser", Severity::Medium),
    ("workspaceConf/enable-X-Frame-Options", Severity::Medium),
    (
        "workspaceConf/enable-X-Content-Type-Options",
        Severity::Medium,
    ),
    ("workspaceConf/enable-X-XSS-Protection", Severity::Medium),
    ("workspaceConf/maxUserInactiveDays", Severity::Medium),
    ("workspaceConf/enableJobViewAcls", Severity::Medium),
    ("workspaceConf/enforceClusterViewAcls", Severity::Medium),
    ("workspaceConf/enforceWorkspaceViewAcls", Severity::Medium),
    (
        "workspaceConf/enableDeprecatedGlobalInitScripts",
        Severity::Medium,
    ),
    (
        "workspaceConf/enableDeprecatedClusterNamedInitScripts",
        Severity::Medium,
    ),
    ("settings/*", Severity::Medium),
    ("azure/*", Severity::Medium),
];

/// The severity of a control id; ids no rule names are `low` (see the module documentation).
pub fn severity(control_id: &str) -> Severity {
    RULES
        .iter()
        .find(|(pattern, _)| matches(pattern, control_id))
        .map_or(Severity::Low, |(_, severity)| *severity)
}

fn matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}

#[cfg(test)]
mod tests {
    use super::{RULES, Severity, severity};

    #[test]
    fn network_and_credential_controls_are_critical() {
        for id in [
            "ipAccessLists/enabled",
            "ipAccessLists/list/corp",
            "ipAccessLists/undeclared",
            "account/ipAccessLists/enabled",
            "account/ipAccessLists/list/vpn",
            "azure/noPublicIp",
            "azure/publicNetworkAccess",
            "privateAccess/pas-prod",
            "tokens/revoke",
        ] {
            assert_eq!(severity(id), Severity::Critical, "{id}");
        }
    }

    #[test]
    fn families_fall_back_to_their_glob() {
        assert_eq!(severity("tokens/maxLifetimeDays"), Severity::High);
        assert_eq!(severity("tokens/permissions"), Severity::High);
        assert_eq!(severity("secretScopes/prod"), Severity::High);
        assert_eq!(severity("ncc/ncc-westeurope/rule/lake/dfs"), Severity::High);
        assert_eq!(
            severity("networkPolicy/restricted/workspace/1"),
            Severity::High
        );
        assert_eq!(
            severity("settings/automaticClusterUpdate"),
            Severity::Medium
        );
        assert_eq!(severity("settings/restrictWorkspaceAdmins"), Severity::High);
        assert_eq!(severity("azure/customerManagedKeys"), Severity::Medium);
        assert_eq!(severity("accountSettings/personalCompute"), Severity::High);
        assert_eq!(
            severity("accountSettings/disableLegacyFeatures"),
            Severity::Medium
        );
    }

    #[test]
    fn exfiltration_settings_outrank_headers_and_unknown_keys_are_low() {
        assert_eq!(
            severity("workspaceConf/enableExportNotebook"),
            Severity::High
        );
        assert_eq!(
            severity("workspaceConf/enable-X-Frame-Options"),
            Severity::Medium
        );
        assert_eq!(
            severity("workspaceConf/enableProjectTypeInWorkspace"),
            Severity::Low
        );
        assert_eq!(severity("workspaceConf/someFutureKey"), Severity::Low);
        assert_eq!(severity("unknownFamily/x"), Severity::Low);
    }

    /// An exact rule after a glob that already covers it would never apply.
    #[test]
    fn no_rule_is_shadowed_by_an_earlier_one() {
        for (i, (pattern, _)) in RULES.iter().enumerate() {
            let probe = pattern.trim_end_matches('*');
            for (earlier, _) in &RULES[..i] {
                assert!(
                    !super::matches(earlier, probe) || earlier == pattern,
                    "{pattern} is shadowed by {earlier}"
                );
            }
        }
    }

    /// The Severity column of docs/controls.md says what this module does.
    #[test]
    fn the_controls_doc_agrees() {
        let doc = include_str!("../../docs/controls.md");
        let mut checked = 0;
        let mut header: Vec<&str> = Vec::new();
        for line in doc.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if !line.starts_with('|') {
                header.clear();
                continue;
            }
            if header.is_empty() {
                header = cells;
                continue;
            }
            let Some(column) = header.iter().position(|h| *h == "severity") else {
                continue;
            };
            let id = cells[1].trim_matches('`');
            if id.starts_with("---") {
                continue;
            }
            assert_eq!(
                cells[column],
                severity(id).as_str(),
                "docs/controls.md: {id}"
            );
            checked += 1;
        }
        assert!(checked >= 40, "only {checked} rows have a severity");
    }

    #[test]
    fn spelled_as_the_policy_report_schema() {
        let all = [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["low", "medium", "high", "critical"]);
    }
}
