//! Token policy: `tokens/enabled`, `tokens/maxLifetimeDays`, `tokens/permissions`,
//! `tokens/revoke`.

use std::collections::BTreeSet;

use super::{Action, Change, ConfControl, ControlResult, Read, Step, family_mode};
use crate::api::{ControlState, Management, Mode, Principal, TokensPolicy};
use crate::clients::ApiError;
use crate::clients::databricks::{
    AccessControlRequest, AccessControlResponse, DatabricksClient, TokenInfo, TokenPermissions,
};

pub const CAN_USE: &str = "CAN_USE";
const PERMISSIONS_ID: &str = "tokens/permissions";
const REVOKE_ID: &str = "tokens/revoke";
const REFERENCES: &[&str] = &["best practices: token management"];
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub fn conf_controls(policy: &TokensPolicy, workspace_mode: Mode) -> Vec<ConfControl> {
    let mode = family_mode(workspace_mode, policy.mode);
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

/// All tokens and the caller's own, read together (only when a revocation rule is on).
pub async fn observe(client: &DatabricksClient) -> Result<TokenInventory, ApiError> {
    let (tokens, own) = tokio::try_join!(client.list_tokens(), client.list_own_tokens())?;
    Ok(TokenInventory {
        tokens,
        own: own.into_iter().map(|t| t.token_id).collect(),
    })
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

pub fn evaluate(
    policy: &TokensPolicy,
    permissions: &Read<TokenPermissions>,
    tokens: &Read<TokenInventory>,
    now_ms: i64,
) -> Vec<ControlResult> {
    let mut results = Vec::new();
    if let Some(desired) = &policy.permissions {
        let result = match permissions {
            None => None,
            Some(Err(error)) => Some(ControlResult::read_failed(PERMISSIONS_ID, error)),
            Some(Ok(live)) => {
                let want: BTreeSet<String> = desired.can_use.iter().map(principal_name).collect();
                let have = direct_grants(live, CAN_USE);
                Some(match desired.management.unwrap_or_default() {
                    Management::Exclusive => {
                        ControlResult::compare(PERMISSIONS_ID, join(&want), join(&have))
                    }
                    Management::Additive => {
                        let state = if want.is_subset(&have) {
                            ControlState::Compliant
                        } else {
                            ControlState::Drifted
                        };
                        ControlResult::with_state(
                            PERMISSIONS_ID,
                            state,
                            format!("includes {}", join(&want)),
                            join(&have),
                        )
                    }
                })
            }
        };
        results.extend(result.map(|r| r.with_references(REFERENCES)));
    }
    if reads_tokens(policy) {
        let result = match tokens {
            None => None,
            Some(Err(error)) => Some(ControlResult::read_failed(REVOKE_ID, error)),
            Some(Ok(live)) => {
                let offending = revocable(policy, live, now_ms);
                let observed = if offending.is_empty() {
                    "none".to_string()
                } else {
                    format!(
                        "{} token(s): {}",
                        offending.len(),
                        offending
                            .iter()
                            .map(|(t, why)| format!("{} ({why})", t.token_id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let kept = kept_own(policy, live, now_ms);
                let result = ControlResult::compare(REVOKE_ID, "none", observed);
                Some(if kept == 0 {
                    result
                } else {
                    result.with_message(format!(
                        "{kept} token(s) of brickwarden's own identity match a rule and are kept: \
                         one may be the token it authenticates with"
                    ))
                })
            }
        };
        results.extend(result.map(|r| {
            r.with_references(&["best practices: token management", "SAT IA-4", "SAT IA-6"])
        }));
    }
    results
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

pub fn plan(
    policy: &TokensPolicy,
    workspace_mode: Mode,
    permissions: &Read<TokenPermissions>,
    tokens: &Read<TokenInventory>,
    results: &[ControlResult],
    now_ms: i64,
) -> Vec<Action> {
    let mode = family_mode(workspace_mode, policy.mode);
    let drifted = |id: &str| results.iter().any(|r| r.id == id && r.is_drifted());
    let mut actions = Vec::new();
    if let (Some(desired), Some(Ok(live)), true) =
        (&policy.permissions, permissions, drifted(PERMISSIONS_ID))
    {
        let have = direct_grants(live, CAN_USE);
        let change = match desired.management.unwrap_or_default() {
            Management::Exclusive => {
                let want: BTreeSet<String> = desired.can_use.iter().map(principal_name).collect();
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
                acl.extend(desired.can_use.iter().map(|p| request_for(p, CAN_USE)));
                Change::SetTokenPermissions {
                    acl,
                    removed: have.difference(&want).cloned().collect(),
                }
            }
            Management::Additive => Change::AddTokenPermissions(
                desired
                    .can_use
                    .iter()
                    .filter(|p| !have.contains(&principal_name(p)))
                    .map(|p| request_for(p, CAN_USE))
                    .collect(),
            ),
        };
        actions.push(Action {
            controls: vec![PERMISSIONS_ID.into()],
            step: Step::Configure,
            mode,
            change,
        });
    }
    if let (Some(Ok(live)), true) = (tokens, drifted(REVOKE_ID)) {
        for (token, why) in revocable(policy, live, now_ms) {
            actions.push(Action {
                controls: vec![REVOKE_ID.into()],
                step: Step::Revoke,
                mode,
                change: Change::RevokeToken {
                    token_id: token.token_id.clone(),
                    owner: token
                        .created_by_username
                        .clone()
                        .unwrap_or_else(|| "unknown owner".into()),
                    why,
                },
            });
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{TokenPermissionsPolicy, TokenRevocation};
    use crate::clients::databricks::Permission;

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
        let actions = plan(&p, Mode::Enforce, &observed, &None, &results, 0);
        assert_eq!(actions.len(), 1);
        let Change::SetTokenPermissions { acl, removed } = &actions[0].change else {
            panic!("{actions:?}")
        };
        assert_eq!(removed, &["group:users".to_string()]);
        assert!(
            acl.contains(&AccessControlRequest::group("admins", "CAN_MANAGE")),
            "admins keep CAN_MANAGE"
        );
        assert!(acl.contains(&AccessControlRequest::group("data-engineers", CAN_USE)));
        assert!(actions[0].describe().contains("deletes their tokens"));
    }

    #[test]
    fn additive_only_adds_and_never_removes() {
        let p = policy(Management::Additive, &["data-engineers"]);
        let observed = live(vec![grant("users", CAN_USE, false)]);
        let results = evaluate(&p, &observed, &None, 0);
        assert_eq!(results[0].state, ControlState::Drifted);
        let actions = plan(&p, Mode::Enforce, &observed, &None, &results, 0);
        assert_eq!(
            actions[0].change,
            Change::AddTokenPermissions(vec![AccessControlRequest::group(
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
        assert!(plan(&p, Mode::Enforce, &satisfied, &None, &results, 0).is_empty());
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
            let results = evaluate(&p, &None, &tokens, now);
            let actions = plan(&p, Mode::Enforce, &None, &tokens, &results, now);
            let revoked: Vec<_> = actions
                .iter()
                .map(|a| match &a.change {
                    Change::RevokeToken { token_id, .. } => token_id.as_str(),
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
        let actions = plan(&p, Mode::Enforce, &None, &tokens, &results, now);
        assert_eq!(actions.len(), 1);
        assert!(
            matches!(&actions[0].change, Change::RevokeToken { token_id, .. } if token_id == "theirs")
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
