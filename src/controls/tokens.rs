//! Token policy: `tokens/permissions` and `tokens/revoke` (`tokens/enabled` and
//! `tokens/maxLifetimeDays` are workspace-conf keys, read and written with the others).

use std::collections::BTreeSet;
use std::fmt;

use super::family::{Effect, Family, Finding, Pass, Planned, Step};
use super::result::ReadError;
use super::workspace_conf::ConfControl;
use super::{Workspace, WorkspaceApis};
use crate::api::{Management, Mode, Principal, TokensPolicy};
use crate::clients::ApiError;
use crate::clients::databricks::{
    AccessControlRequest, AccessControlResponse, TokenInfo, TokenPermissions,
};

pub const CAN_USE: &str = "CAN_USE";
const REFERENCES: &[&str] = &["best practices: token management"];
const REVOKE_REFERENCES: &[&str] = &["best practices: token management", "SAT IA-4", "SAT IA-6"];
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `enableTokensConfig` and `maxTokenLifetimeDays`.
pub fn conf_controls(policy: &TokensPolicy, pass: &Pass) -> Vec<ConfControl> {
    let mode = pass.mode_of(policy.mode);
    let enabled = policy.enabled.map(|enabled| ConfControl {
        id: "tokens/enabled".into(),
        key: "enableTokensConfig".into(),
        desired: enabled.to_string(),
        unset_means: Some("true"),
        references: REFERENCES,
        mode,
        step: Step::Configure,
    });
    let lifetime = policy.max_lifetime_days.map(|days| ConfControl {
        id: "tokens/maxLifetimeDays".into(),
        key: "maxTokenLifetimeDays".into(),
        desired: days.to_string(),
        unset_means: None,
        references: &["best practices: token management", "SAT IA-5"],
        mode,
        step: Step::Configure,
    });
    enabled.into_iter().chain(lifetime).collect()
}

/// Every token of the workspace, and which of them belong to brickwarden's own identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenInventory {
    pub tokens: Vec<TokenInfo>,
    /// Ids of the caller's own tokens: never revoked, since one of them may be the very token
    /// brickwarden authenticates with.
    pub own: BTreeSet<String>,
}

pub fn reads_permissions(policy: &TokensPolicy) -> bool {
    policy.permissions.is_some()
}

pub fn reads_tokens(policy: &TokensPolicy) -> bool {
    policy.revoke.as_ref().is_some_and(|r| {
        r.without_expiry || (r.older_than_max_lifetime && policy.max_lifetime_days.is_some())
    })
}

/// `group:name`, `user:name` or `servicePrincipal:id`: one spelling for declared principals and
/// the API's grants, so the two compare as strings.
fn principal_label(group: &Option<String>, user: &Option<String>, sp: &Option<String>) -> String {
    match (group, user, sp) {
        (Some(g), _, _) => format!("group:{g}"),
        (_, Some(u), _) => format!("user:{u}"),
        (_, _, Some(s)) => format!("servicePrincipal:{s}"),
        _ => "unknown".into(),
    }
}

fn principal_name(p: &Principal) -> String {
    principal_label(&p.group, &p.user, &p.service_principal)
}

fn principal_of_response(e: &AccessControlResponse) -> String {
    principal_label(&e.group_name, &e.user_name, &e.service_principal_name)
}

pub(crate) fn principal_of_request(e: &AccessControlRequest) -> String {
    principal_label(&e.group_name, &e.user_name, &e.service_principal_name)
}

fn request_for(principal: &Principal, level: &str) -> AccessControlRequest {
    match (
        &principal.group,
        &principal.user,
        &principal.service_principal,
    ) {
        (Some(g), _, _) => AccessControlRequest::group(g, level),
        (_, Some(u), _) => AccessControlRequest::user(u, level),
        (_, _, Some(s)) => AccessControlRequest::service_principal(s, level),
        _ => AccessControlRequest {
            permission_level: level.into(),
            ..Default::default()
        },
    }
}

/// Principals holding a direct (not inherited) grant of `level`.
fn direct_grants(permissions: &TokenPermissions, level: &str) -> BTreeSet<String> {
    permissions
        .access_control_list
        .iter()
        .filter(|entry| {
            entry.all_permissions.iter().any(|p| {
                p.permission_level.as_deref() == Some(level) && !p.inherited.unwrap_or(false)
            })
        })
        .map(principal_of_response)
        .collect()
}

fn join(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Tokens an opted-in revocation rule applies to, with the rule, except brickwarden's own.
fn revocable<'a>(
    policy: &TokensPolicy,
    inventory: &'a TokenInventory,
    now_ms: i64,
) -> Vec<(&'a TokenInfo, String)> {
    matching(policy, inventory, now_ms)
        .into_iter()
        .filter(|(token, _)| !inventory.own.contains(&token.token_id))
        .collect()
}

/// How many of brickwarden's own tokens a rule matches (and the guard keeps).
fn kept_own(policy: &TokensPolicy, inventory: &TokenInventory, now_ms: i64) -> usize {
    matching(policy, inventory, now_ms)
        .iter()
        .filter(|(token, _)| inventory.own.contains(&token.token_id))
        .count()
}

fn matching<'a>(
    policy: &TokensPolicy,
    inventory: &'a TokenInventory,
    now_ms: i64,
) -> Vec<(&'a TokenInfo, String)> {
    let Some(rules) = &policy.revoke else {
        return Vec::new();
    };
    inventory
        .tokens
        .iter()
        .filter_map(|token| {
            let never_expires = token.expiry_time.is_none_or(|e| e < 0);
            if rules.without_expiry && never_expires {
                return Some((token, "no expiry".to_string()));
            }
            let max_days = policy
                .max_lifetime_days
                .filter(|_| rules.older_than_max_lifetime)?;
            let age_ms = now_ms - token.creation_time?;
            (age_ms > i64::from(max_days) * DAY_MS)
                .then(|| (token, format!("older than {max_days} days")))
        })
        .collect()
}

/// The controls of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenControl {
    Permissions,
    Revoke,
}

/// What the controls compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenValue {
    /// Exactly these principals hold CAN_USE.
    Grants(BTreeSet<String>),
    /// At least these principals hold CAN_USE (Additive management).
    Includes(BTreeSet<String>),
    /// Tokens an opted-in revocation rule applies to, with the rule.
    Revocable(Vec<(String, String)>),
}

impl fmt::Display for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenValue::Grants(set) => f.write_str(&join(set)),
            TokenValue::Includes(set) => write!(f, "includes {}", join(set)),
            TokenValue::Revocable(tokens) if tokens.is_empty() => f.write_str("none"),
            TokenValue::Revocable(tokens) => write!(
                f,
                "{} token(s): {}",
                tokens.len(),
                tokens
                    .iter()
                    .map(|(id, why)| format!("{id} ({why})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// One change to who may use tokens, or to the tokens themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenChange {
    /// PUT: the grant list becomes exactly this.
    SetPermissions {
        acl: Vec<AccessControlRequest>,
        removed: Vec<String>,
    },
    /// PATCH: these grants are added.
    AddPermissions(Vec<AccessControlRequest>),
    Revoke {
        token_id: String,
        owner: String,
        why: String,
    },
}

/// The token policy with its mode resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredTokens {
    pub policy: TokensPolicy,
    pub mode: Mode,
}

/// What the family read: the grants when declared, the tokens when a revocation rule is on.
#[derive(Debug, Clone, PartialEq)]
pub struct TokensRead {
    pub permissions: Option<Result<TokenPermissions, ReadError>>,
    pub inventory: Option<Result<TokenInventory, ReadError>>,
}

/// Who may use personal access tokens, and which tokens are revoked.
pub struct Tokens;

impl Family for Tokens {
    type Policy = Workspace;
    type Apis = WorkspaceApis;
    type Desired = DesiredTokens;
    type Observed = TokensRead;
    type Control = TokenControl;
    type Value = TokenValue;
    type Change = TokenChange;

    fn desired(workspace: &Workspace, pass: &Pass) -> Option<DesiredTokens> {
        let policy = &workspace.policy;
        let p = policy
            .tokens
            .as_ref()
            .filter(|p| reads_permissions(p) || reads_tokens(p))?;
        Some(DesiredTokens {
            policy: p.clone(),
            mode: pass.mode_of(p.mode),
        })
    }

    async fn observe(desired: &DesiredTokens, apis: &WorkspaceApis) -> TokensRead {
        let client = &apis.databricks;
        let (permissions, inventory) = tokio::join!(
            async {
                if !reads_permissions(&desired.policy) {
                    return None;
                }
                Some(
                    client
                        .get_token_permissions()
                        .await
                        .map_err(ReadError::from),
                )
            },
            async {
                if !reads_tokens(&desired.policy) {
                    return None;
                }
                let read = tokio::try_join!(client.list_tokens(), client.list_own_tokens());
                Some(
                    read.map(|(tokens, own)| TokenInventory {
                        tokens,
                        own: own.into_iter().map(|t| t.token_id).collect(),
                    })
                    .map_err(ReadError::from),
                )
            }
        );
        TokensRead {
            permissions,
            inventory,
        }
    }

    fn evaluate(
        desired: &DesiredTokens,
        observed: &TokensRead,
        pass: &Pass,
    ) -> Vec<Finding<TokenControl, TokenValue>> {
        let policy = &desired.policy;
        let now_ms = pass.now.as_millisecond();
        let mut findings = Vec::new();
        if let (Some(declared), Some(read)) = (&policy.permissions, &observed.permissions) {
            let control = TokenControl::Permissions;
            let finding = match read {
                Err(error) => Finding::read_failed(control, error),
                Ok(live) => {
                    let want: BTreeSet<String> =
                        declared.can_use.iter().map(principal_name).collect();
                    let have = direct_grants(live, CAN_USE);
                    match declared.management.unwrap_or_default() {
                        Management::Exclusive => Finding::compare(
                            control,
                            TokenValue::Grants(want),
                            TokenValue::Grants(have),
                        ),
                        Management::Additive => Finding::judged(
                            control,
                            want.is_subset(&have),
                            TokenValue::Includes(want),
                            TokenValue::Grants(have),
                        ),
                    }
                }
            };
            findings.push(finding.with_references(REFERENCES));
        }
        if let Some(read) = &observed.inventory {
            let control = TokenControl::Revoke;
            let finding = match read {
                Err(error) => Finding::read_failed(control, error),
                Ok(live) => {
                    let offending = revocable(policy, live, now_ms)
                        .into_iter()
                        .map(|(t, why)| (t.token_id.clone(), why))
                        .collect();
                    let finding = Finding::compare(
                        control,
                        TokenValue::Revocable(Vec::new()),
                        TokenValue::Revocable(offending),
                    );
                    match kept_own(policy, live, now_ms) {
                        0 => finding,
                        kept => finding.with_note(format!(
                            "{kept} token(s) of brickwarden's own identity match a rule and are \
                             kept: one may be the token it authenticates with"
                        )),
                    }
                }
            };
            findings.push(finding.with_references(REVOKE_REFERENCES));
        }
        findings
    }

    fn plan(
        desired: &DesiredTokens,
        observed: &TokensRead,
        drifted: &[&Finding<TokenControl, TokenValue>],
        pass: &Pass,
    ) -> Vec<Planned<TokenControl, TokenChange>> {
        let policy = &desired.policy;
        let planned = |control, step, change| Planned::one(control, step, desired.mode, change);
        let mut actions = Vec::new();
        for finding in drifted {
            match finding.control {
                TokenControl::Permissions => {
                    let (Some(declared), Some(Ok(live))) =
                        (&policy.permissions, &observed.permissions)
                    else {
                        continue;
                    };
                    let change = permissions_change(declared, live);
                    actions.push(planned(TokenControl::Permissions, Step::Configure, change));
                }
                TokenControl::Revoke => {
                    let Some(Ok(live)) = &observed.inventory else {
                        continue;
                    };
                    for (token, why) in revocable(policy, live, pass.now.as_millisecond()) {
                        let change = TokenChange::Revoke {
                            token_id: token.token_id.clone(),
                            owner: token
                                .created_by_username
                                .clone()
                                .unwrap_or_else(|| "unknown owner".into()),
                            why,
                        };
                        actions.push(planned(TokenControl::Revoke, Step::Revoke, change));
                    }
                }
            }
        }
        actions
    }

    async fn execute(change: &TokenChange, apis: &WorkspaceApis) -> Result<(), ApiError> {
        let client = &apis.databricks;
        match change {
            TokenChange::SetPermissions { acl, .. } => {
                client.set_token_permissions(acl).await.map(drop)
            }
            TokenChange::AddPermissions(acl) => {
                client.update_token_permissions(acl).await.map(drop)
            }
            TokenChange::Revoke { token_id, .. } => client.delete_token(token_id).await,
        }
    }

    fn control_id(control: &TokenControl) -> String {
        match control {
            TokenControl::Permissions => "tokens/permissions",
            TokenControl::Revoke => "tokens/revoke",
        }
        .to_string()
    }

    fn describe(change: &TokenChange) -> String {
        match change {
            TokenChange::SetPermissions { acl, removed } => {
                let mut line = format!(
                    "PUT token permissions CAN_USE=[{}]",
                    acl.iter()
                        .filter(|a| a.permission_level == CAN_USE)
                        .map(principal_of_request)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if !removed.is_empty() {
                    line.push_str(&format!(
                        "; removes CAN_USE from {} and deletes their tokens",
                        removed.join(", ")
                    ));
                }
                line
            }
            TokenChange::AddPermissions(acl) => format!(
                "PATCH token permissions add CAN_USE for {}",
                acl.iter()
                    .map(principal_of_request)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TokenChange::Revoke {
                token_id,
                owner,
                why,
            } => format!("DELETE token {token_id} of {owner} ({why})"),
        }
    }

    /// Removing CAN_USE deletes that principal's tokens: as destructive as revoking them.
    fn effects(change: &TokenChange) -> Vec<Effect> {
        match change {
            TokenChange::SetPermissions { removed, .. } if !removed.is_empty() => {
                vec![Effect::Destructive]
            }
            TokenChange::Revoke { .. } => vec![Effect::Destructive],
            _ => Vec::new(),
        }
    }
}

/// The grant change that makes `live` meet `declared`.
fn permissions_change(
    declared: &crate::api::TokenPermissionsPolicy,
    live: &TokenPermissions,
) -> TokenChange {
    let have = direct_grants(live, CAN_USE);
    match declared.management.unwrap_or_default() {
        Management::Exclusive => {
            let want: BTreeSet<String> = declared.can_use.iter().map(principal_name).collect();
            // PUT replaces the whole list: keep every grant that is not CAN_USE (e.g. the
            // admins' CAN_MANAGE) exactly as it is.
            let mut acl: Vec<AccessControlRequest> = live
                .access_control_list
                .iter()
                .flat_map(|entry| {
                    entry
                        .all_permissions
                        .iter()
                        .filter(|p| !p.inherited.unwrap_or(false))
                        .filter_map(|p| {
                            let level = p.permission_level.as_deref()?;
                            (level != CAN_USE).then(|| AccessControlRequest {
                                user_name: entry.user_name.clone(),
                                group_name: entry.group_name.clone(),
                                service_principal_name: entry.service_principal_name.clone(),
                                permission_level: level.to_string(),
                            })
                        })
                })
                .collect();
            acl.extend(declared.can_use.iter().map(|p| request_for(p, CAN_USE)));
            TokenChange::SetPermissions {
                acl,
                removed: have.difference(&want).cloned().collect(),
            }
        }
        Management::Additive => TokenChange::AddPermissions(
            declared
                .can_use
                .iter()
                .filter(|p| !have.contains(&principal_name(p)))
                .map(|p| request_for(p, CAN_USE))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ControlState, TokenPermissionsPolicy, TokenRevocation};
    use crate::clients::databricks::Permission;
    use crate::controls::ControlResult;
    use crate::controls::testing::{pass_at, render};

    type Read<T> = Option<Result<T, ReadError>>;

    fn desired(policy: &TokensPolicy) -> DesiredTokens {
        DesiredTokens {
            policy: policy.clone(),
            mode: Mode::Enforce,
        }
    }

    fn evaluate(
        policy: &TokensPolicy,
        permissions: &Read<TokenPermissions>,
        inventory: &Read<TokenInventory>,
        now_ms: i64,
    ) -> Vec<ControlResult> {
        let observed = TokensRead {
            permissions: permissions.clone(),
            inventory: inventory.clone(),
        };
        render::<Tokens>(&Tokens::evaluate(
            &desired(policy),
            &observed,
            &pass_at(now_ms),
        ))
    }

    fn plan(
        policy: &TokensPolicy,
        permissions: &Read<TokenPermissions>,
        inventory: &Read<TokenInventory>,
        now_ms: i64,
    ) -> Vec<Planned<TokenControl, TokenChange>> {
        let observed = TokensRead {
            permissions: permissions.clone(),
            inventory: inventory.clone(),
        };
        let desired = desired(policy);
        let findings = Tokens::evaluate(&desired, &observed, &pass_at(now_ms));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        Tokens::plan(&desired, &observed, &drifted, &pass_at(now_ms))
    }

    fn group(name: &str) -> Principal {
        Principal {
            group: Some(name.into()),
            user: None,
            service_principal: None,
        }
    }

    fn grant(group: &str, level: &str, inherited: bool) -> AccessControlResponse {
        AccessControlResponse {
            group_name: Some(group.into()),
            all_permissions: vec![Permission {
                permission_level: Some(level.into()),
                inherited: Some(inherited),
                inherited_from_object: vec![],
            }],
            ..Default::default()
        }
    }

    fn live(grants: Vec<AccessControlResponse>) -> Read<TokenPermissions> {
        Some(Ok(TokenPermissions {
            access_control_list: grants,
            ..Default::default()
        }))
    }

    fn policy(management: Management, can_use: &[&str]) -> TokensPolicy {
        TokensPolicy {
            permissions: Some(TokenPermissionsPolicy {
                management: Some(management),
                can_use: can_use.iter().map(|g| group(g)).collect(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn exclusive_replaces_and_says_whose_tokens_go() {
        let p = policy(Management::Exclusive, &["data-engineers"]);
        let observed = live(vec![
            grant("admins", "CAN_MANAGE", false),
            grant("users", CAN_USE, false),
            grant("data-engineers", CAN_USE, false),
        ]);
        let results = evaluate(&p, &observed, &None, 0);
        assert_eq!(results[0].state, ControlState::Drifted);
        assert_eq!(
            results[0].observed.as_deref(),
            Some("group:data-engineers, group:users")
        );
        let actions = plan(&p, &observed, &None, 0);
        assert_eq!(actions.len(), 1);
        let TokenChange::SetPermissions { acl, removed } = &actions[0].change else {
            panic!("{actions:?}")
        };
        assert_eq!(removed, &["group:users".to_string()]);
        assert!(
            acl.contains(&AccessControlRequest::group("admins", "CAN_MANAGE")),
            "admins keep CAN_MANAGE"
        );
        assert!(acl.contains(&AccessControlRequest::group("data-engineers", CAN_USE)));
        assert!(Tokens::describe(&actions[0].change).contains("deletes their tokens"));
        assert_eq!(Tokens::effects(&actions[0].change), [Effect::Destructive]);
    }

    #[test]
    fn additive_only_adds_and_never_removes() {
        let p = policy(Management::Additive, &["data-engineers"]);
        let observed = live(vec![grant("users", CAN_USE, false)]);
        let results = evaluate(&p, &observed, &None, 0);
        assert_eq!(results[0].state, ControlState::Drifted);
        let actions = plan(&p, &observed, &None, 0);
        assert_eq!(
            actions[0].change,
            TokenChange::AddPermissions(vec![AccessControlRequest::group(
                "data-engineers",
                CAN_USE
            )])
        );

        let satisfied = live(vec![
            grant("users", CAN_USE, false),
            grant("data-engineers", CAN_USE, false),
        ]);
        let results = evaluate(&p, &satisfied, &None, 0);
        assert_eq!(results[0].state, ControlState::Compliant);
        assert!(plan(&p, &satisfied, &None, 0).is_empty());
    }

    #[test]
    fn inherited_grants_do_not_count() {
        let p = policy(Management::Exclusive, &["data-engineers"]);
        let observed = live(vec![grant("data-engineers", CAN_USE, true)]);
        assert_eq!(
            evaluate(&p, &observed, &None, 0)[0].state,
            ControlState::Drifted
        );
    }

    fn token(id: &str, created_days_ago: i64, expiry: i64, now: i64) -> TokenInfo {
        TokenInfo {
            token_id: id.into(),
            creation_time: Some(now - created_days_ago * DAY_MS),
            expiry_time: Some(expiry),
            created_by_username: Some("a@example.com".into()),
            ..Default::default()
        }
    }

    #[test]
    fn revocation_rules_are_opt_in_and_precise() {
        let now = 1_000 * DAY_MS;
        let tokens = Some(Ok(TokenInventory {
            tokens: vec![
                token("forever", 1, -1, now),
                token("old", 100, now + DAY_MS, now),
                token("fresh", 10, now + DAY_MS, now),
            ],
            own: BTreeSet::new(),
        }));
        let table = [
            (false, false, vec![]),
            (true, false, vec!["forever"]),
            (false, true, vec!["old"]),
            (true, true, vec!["forever", "old"]),
        ];
        for (without_expiry, older, expected) in table {
            let p = TokensPolicy {
                max_lifetime_days: Some(90),
                revoke: Some(TokenRevocation {
                    without_expiry,
                    older_than_max_lifetime: older,
                }),
                ..Default::default()
            };
            let actions = plan(&p, &None, &tokens, now);
            let revoked: Vec<_> = actions
                .iter()
                .map(|a| match &a.change {
                    TokenChange::Revoke { token_id, .. } => token_id.as_str(),
                    _ => "?",
                })
                .collect();
            assert_eq!(
                revoked, expected,
                "without_expiry={without_expiry} older={older}"
            );
            assert!(actions.iter().all(|a| a.step == Step::Revoke));
        }
    }

    #[test]
    fn brickwarden_never_revokes_its_own_tokens() {
        let now = 1_000 * DAY_MS;
        let tokens = Some(Ok(TokenInventory {
            tokens: vec![token("mine", 1, -1, now), token("theirs", 1, -1, now)],
            own: BTreeSet::from(["mine".to_string()]),
        }));
        let p = TokensPolicy {
            revoke: Some(TokenRevocation {
                without_expiry: true,
                older_than_max_lifetime: false,
            }),
            ..Default::default()
        };
        let results = evaluate(&p, &None, &tokens, now);
        assert_eq!(results[0].state, ControlState::Drifted);
        assert!(
            results[0]
                .message
                .as_deref()
                .unwrap()
                .contains("1 token(s) of brickwarden's own identity")
        );
        let actions = plan(&p, &None, &tokens, now);
        assert_eq!(actions.len(), 1);
        assert!(
            matches!(&actions[0].change, TokenChange::Revoke { token_id, .. } if token_id == "theirs")
        );

        // Only its own tokens left: compliant, with the reason they stay.
        let only_mine = Some(Ok(TokenInventory {
            tokens: vec![token("mine", 1, -1, now)],
            own: BTreeSet::from(["mine".to_string()]),
        }));
        let results = evaluate(&p, &None, &only_mine, now);
        assert_eq!(results[0].state, ControlState::Compliant);
        assert!(results[0].message.is_some());
    }
}
