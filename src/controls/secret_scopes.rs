//! Secret scope ACLs: `secretScopes/<scope>`.
//!
//! brickwarden manages who may read, write and manage a scope's secrets, never the scopes
//! themselves and never the secrets: nothing here reads, holds or logs a secret value.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Change, ControlResult, Read, ReadError, Step, family_mode};
use crate::api::{ControlState, Management, Mode, SecretPermission, SecretScopePolicy};
use crate::clients::ApiError;
use crate::clients::databricks::{AclItem, AclPermission, DatabricksClient};

const REFERENCES: &[&str] = &[
    "best practices: store and use secrets securely",
    "secret management: access control",
    "SAT DP-1",
];

pub const MISSING_SCOPE: &str = "scope does not exist; brickwarden manages ACLs, not scopes";

pub fn control_id(scope: &str) -> String {
    format!("secretScopes/{scope}")
}

/// What the family read: the names of every scope (one list call) and the ACLs of each declared
/// scope that exists (one call per scope).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretScopesRead {
    pub scopes: BTreeSet<String>,
    pub acls: BTreeMap<String, Result<Vec<AclItem>, ReadError>>,
}

pub fn reads_scopes(policy: &[SecretScopePolicy]) -> bool {
    !policy.is_empty()
}

pub async fn observe(
    client: &DatabricksClient,
    policy: &[SecretScopePolicy],
) -> Result<SecretScopesRead, ApiError> {
    let scopes: BTreeSet<String> = client
        .list_secret_scopes()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let reads = policy
        .iter()
        .filter(|p| scopes.contains(&p.scope))
        .map(|p| async move {
            let acls = client
                .list_secret_acls(&p.scope)
                .await
                .map_err(ReadError::from);
            (p.scope.clone(), acls)
        });
    let acls = futures::future::join_all(reads).await.into_iter().collect();
    Ok(SecretScopesRead { scopes, acls })
}

pub fn api_permission(permission: SecretPermission) -> AclPermission {
    match permission {
        SecretPermission::Read => AclPermission::Read,
        SecretPermission::Write => AclPermission::Write,
        SecretPermission::Manage => AclPermission::Manage,
    }
}

pub fn permission_str(permission: AclPermission) -> &'static str {
    match permission {
        AclPermission::Read => "READ",
        AclPermission::Write => "WRITE",
        AclPermission::Manage => "MANAGE",
        AclPermission::Unknown => "UNKNOWN",
    }
}

fn desired_acls(policy: &SecretScopePolicy) -> BTreeMap<String, AclPermission> {
    policy
        .acls
        .iter()
        .map(|a| (a.principal.clone(), api_permission(a.permission)))
        .collect()
}

fn live_acls(items: &[AclItem]) -> BTreeMap<String, AclPermission> {
    items
        .iter()
        .map(|a| (a.principal.clone(), a.permission))
        .collect()
}

fn show(acls: &BTreeMap<String, AclPermission>) -> String {
    if acls.is_empty() {
        return "none".into();
    }
    acls.iter()
        .map(|(p, perm)| format!("{p}={}", permission_str(*perm)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Declared ACLs that are missing or carry another permission.
fn to_put(
    want: &BTreeMap<String, AclPermission>,
    have: &BTreeMap<String, AclPermission>,
) -> Vec<(String, AclPermission)> {
    want.iter()
        .filter(|(principal, perm)| have.get(*principal) != Some(perm))
        .map(|(p, perm)| (p.clone(), *perm))
        .collect()
}

/// Live ACLs no declared one accounts for.
fn undeclared(
    want: &BTreeMap<String, AclPermission>,
    have: &BTreeMap<String, AclPermission>,
) -> Vec<String> {
    have.keys()
        .filter(|p| !want.contains_key(*p))
        .cloned()
        .collect()
}

pub fn evaluate(
    policy: &[SecretScopePolicy],
    observed: &Read<SecretScopesRead>,
) -> Vec<ControlResult> {
    let Some(read) = observed else {
        return Vec::new();
    };
    policy
        .iter()
        .map(|scope| {
            let id = control_id(&scope.scope);
            let want = desired_acls(scope);
            let management = scope.management.unwrap_or_default();
            let desired = match management {
                Management::Exclusive => show(&want),
                Management::Additive => format!("includes {}", show(&want)),
            };
            let result = match read {
                Err(error) => ControlResult::read_failed(&id, error),
                Ok(read) if !read.scopes.contains(&scope.scope) => ControlResult {
                    reason: Some("ScopeMissing".into()),
                    ..ControlResult::with_state(&id, ControlState::Failed, desired, "absent")
                        .with_message(MISSING_SCOPE)
                },
                Ok(read) => match read.acls.get(&scope.scope) {
                    None => ControlResult::read_failed(
                        &id,
                        &ReadError {
                            status: None,
                            error_code: None,
                            message: format!("the ACLs of scope {} were not read", scope.scope),
                        },
                    ),
                    Some(Err(error)) => ControlResult::read_failed(&id, error),
                    Some(Ok(items)) => {
                        let have = live_acls(items);
                        let missing = to_put(&want, &have);
                        let extra = undeclared(&want, &have);
                        let compliant = missing.is_empty()
                            && (management == Management::Additive || extra.is_empty());
                        let state = if compliant {
                            ControlState::Compliant
                        } else {
                            ControlState::Drifted
                        };
                        let result = ControlResult::with_state(&id, state, desired, show(&have));
                        if management == Management::Additive && !extra.is_empty() {
                            result.with_message(format!(
                                "Additive management: undeclared ACLs are never deleted ({})",
                                extra.join(", ")
                            ))
                        } else {
                            result
                        }
                    }
                },
            };
            result.with_references(REFERENCES)
        })
        .collect()
}

/// Per drifted scope: PUT every missing or different ACL first, then (Exclusive only) DELETE the
/// undeclared ones, so no principal loses access it is declared to keep.
pub fn plan(
    policy: &[SecretScopePolicy],
    workspace_mode: Mode,
    observed: &Read<SecretScopesRead>,
    results: &[ControlResult],
) -> Vec<Action> {
    let Some(Ok(read)) = observed else {
        return Vec::new();
    };
    let drifted = |id: &str| results.iter().any(|r| r.id == id && r.is_drifted());
    let mut actions = Vec::new();
    for scope in policy {
        let id = control_id(&scope.scope);
        let Some(Ok(items)) = read.acls.get(&scope.scope) else {
            continue;
        };
        if !drifted(&id) {
            continue;
        }
        let mode = family_mode(workspace_mode, scope.mode);
        let want = desired_acls(scope);
        let have = live_acls(items);
        let action = |change| Action {
            controls: vec![id.clone()],
            step: Step::Configure,
            mode,
            change,
        };
        for (principal, permission) in to_put(&want, &have) {
            actions.push(action(Change::PutSecretAcl {
                scope: scope.scope.clone(),
                principal,
                permission,
            }));
        }
        if scope.management == Some(Management::Exclusive) {
            for principal in undeclared(&want, &have) {
                actions.push(action(Change::DeleteSecretAcl {
                    scope: scope.scope.clone(),
                    principal,
                }));
            }
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecretAcl;

    fn scope(
        name: &str,
        management: Option<Management>,
        acls: &[(&str, SecretPermission)],
    ) -> SecretScopePolicy {
        SecretScopePolicy {
            scope: name.into(),
            mode: None,
            management,
            acls: acls
                .iter()
                .map(|(p, perm)| SecretAcl {
                    principal: p.to_string(),
                    permission: *perm,
                })
                .collect(),
        }
    }

    fn items(acls: &[(&str, AclPermission)]) -> Vec<AclItem> {
        acls.iter()
            .map(|(p, perm)| AclItem {
                principal: p.to_string(),
                permission: *perm,
            })
            .collect()
    }

    fn read(scopes: &[(&str, Vec<AclItem>)]) -> Read<SecretScopesRead> {
        Some(Ok(SecretScopesRead {
            scopes: scopes.iter().map(|(s, _)| s.to_string()).collect(),
            acls: scopes
                .iter()
                .map(|(s, acls)| (s.to_string(), Ok(acls.clone())))
                .collect(),
        }))
    }

    use AclPermission as A;
    use SecretPermission as S;

    #[test]
    fn compares_acls_per_management() {
        // (management, declared, live) -> state, planned descriptions
        type Case<'a> = (
            Option<Management>,
            Vec<(&'a str, S)>,
            Vec<(&'a str, A)>,
            ControlState,
            Vec<&'a str>,
        );
        let table: Vec<Case> = vec![
            // Exact match.
            (
                Some(Management::Exclusive),
                vec![("data-engineers", S::Read)],
                vec![("data-engineers", A::Read)],
                ControlState::Compliant,
                vec![],
            ),
            // Missing, different and undeclared, Exclusive: put then delete.
            (
                Some(Management::Exclusive),
                vec![("data-engineers", S::Read), ("admins", S::Manage)],
                vec![("admins", A::Read), ("users", A::Read)],
                ControlState::Drifted,
                vec![
                    "PUT secret ACL etl admins=MANAGE",
                    "PUT secret ACL etl data-engineers=READ",
                    "DELETE secret ACL etl users",
                ],
            ),
            // Only undeclared, Exclusive: delete.
            (
                Some(Management::Exclusive),
                vec![],
                vec![("users", A::Read)],
                ControlState::Drifted,
                vec!["DELETE secret ACL etl users"],
            ),
            // Only undeclared, Additive (the default): left alone.
            (
                None,
                vec![("data-engineers", S::Read)],
                vec![("data-engineers", A::Read), ("users", A::Manage)],
                ControlState::Compliant,
                vec![],
            ),
            // Different permission, Additive: put, never delete.
            (
                Some(Management::Additive),
                vec![("data-engineers", S::Write)],
                vec![("data-engineers", A::Read), ("users", A::Read)],
                ControlState::Drifted,
                vec!["PUT secret ACL etl data-engineers=WRITE"],
            ),
            // Missing, Additive.
            (
                Some(Management::Additive),
                vec![("data-engineers", S::Read)],
                vec![],
                ControlState::Drifted,
                vec!["PUT secret ACL etl data-engineers=READ"],
            ),
        ];
        for (management, declared, live, state, planned) in table {
            let policy = vec![scope("etl", management, &declared)];
            let observed = read(&[("etl", items(&live))]);
            let results = evaluate(&policy, &observed);
            let case = format!("{management:?} {declared:?} {live:?}");
            assert_eq!(results.len(), 1);
            assert_eq!(results[0].id, "secretScopes/etl");
            assert_eq!(results[0].state, state, "{case}");
            assert!(results[0].references.contains(&"SAT DP-1".to_string()));
            let described: Vec<String> = plan(&policy, Mode::Enforce, &observed, &results)
                .iter()
                .map(|a| a.describe())
                .collect();
            assert_eq!(described, planned, "{case}");
        }
    }

    #[test]
    fn shows_desired_and_observed() {
        let policy = vec![
            scope(
                "etl",
                Some(Management::Exclusive),
                &[("data-engineers", S::Read)],
            ),
            scope("ml", None, &[("ml-team", S::Write)]),
        ];
        let observed = read(&[
            ("etl", items(&[("admin@example.com", A::Manage)])),
            ("ml", items(&[])),
        ]);
        let results = evaluate(&policy, &observed);
        assert_eq!(results[0].desired.as_deref(), Some("data-engineers=READ"));
        assert_eq!(
            results[0].observed.as_deref(),
            Some("admin@example.com=MANAGE")
        );
        assert_eq!(
            results[1].desired.as_deref(),
            Some("includes ml-team=WRITE")
        );
        assert_eq!(results[1].observed.as_deref(), Some("none"));
    }

    #[test]
    fn missing_scope_fails_and_is_never_created() {
        let policy = vec![scope(
            "nope",
            Some(Management::Exclusive),
            &[("a", S::Read)],
        )];
        let observed = read(&[("etl", items(&[]))]);
        let results = evaluate(&policy, &observed);
        assert_eq!(results[0].state, ControlState::Failed);
        assert_eq!(results[0].message.as_deref(), Some(MISSING_SCOPE));
        assert_eq!(results[0].observed.as_deref(), Some("absent"));
        assert!(plan(&policy, Mode::Enforce, &observed, &results).is_empty());
    }

    #[test]
    fn read_failures() {
        let policy = vec![
            scope("etl", None, &[("a", S::Read)]),
            scope("ml", None, &[("a", S::Read)]),
        ];
        let error = ReadError {
            status: Some(500),
            error_code: None,
            message: "boom".into(),
        };
        // The scope list failed: every scope control fails.
        let results = evaluate(&policy, &Some(Err(error.clone())));
        assert!(
            results
                .iter()
                .all(|r| r.state == ControlState::Failed
                    && r.reason.as_deref() == Some("ReadFailed"))
        );
        // One scope's ACLs failed: only that control fails.
        let observed = Some(Ok(SecretScopesRead {
            scopes: ["etl".to_string(), "ml".to_string()].into(),
            acls: BTreeMap::from([
                ("etl".to_string(), Err(error)),
                ("ml".to_string(), Ok(items(&[]))),
            ]),
        }));
        let results = evaluate(&policy, &observed);
        let states: Vec<_> = results.iter().map(|r| r.state).collect();
        assert_eq!(states, [ControlState::Failed, ControlState::Drifted]);
        let actions = plan(&policy, Mode::Enforce, &observed, &results);
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].controls, ["secretScopes/ml"]);
    }

    #[test]
    fn each_scope_has_its_own_mode() {
        let mut audited = scope("etl", None, &[("a", S::Read)]);
        audited.mode = Some(Mode::Audit);
        let policy = vec![audited, scope("ml", None, &[("a", S::Read)])];
        let observed = read(&[("etl", items(&[])), ("ml", items(&[]))]);
        let results = evaluate(&policy, &observed);
        let modes: Vec<_> = plan(&policy, Mode::Enforce, &observed, &results)
            .iter()
            .map(|a| a.mode)
            .collect();
        assert_eq!(modes, [Mode::Audit, Mode::Enforce]);
    }

    #[test]
    fn nothing_declared_reads_nothing() {
        assert!(!reads_scopes(&[]));
        assert!(evaluate(&[], &None).is_empty());
    }
}
