//! Secret scope ACLs: `secretScopes/<scope>`.
//!
//! brickwarden manages who may read, write and manage a scope's secrets, never the scopes
//! themselves and never the secrets: nothing here reads, holds or logs a secret value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::family::{Blocked, Effect, Family, Finding, Pass, Planned, Step};
use super::result::{ReadError, Reason};
use super::{Workspace, WorkspaceApis};
use crate::api::{ControlState, Management, Mode, SecretPermission, SecretScopePolicy};
use crate::clients::ApiError;
use crate::clients::databricks::{AclItem, AclPermission};

const REFERENCES: &[&str] = &[
    "best practices: store and use secrets securely",
    "secret management: access control",
    "SAT DP-1",
];

pub const MISSING_SCOPE: &str = "scope does not exist; brickwarden manages ACLs, not scopes";

/// What the family read: the names of every scope (one list call) and the ACLs of each declared
/// scope that exists (one call per scope).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretScopesRead {
    pub scopes: BTreeSet<String>,
    pub acls: BTreeMap<String, Result<Vec<AclItem>, ReadError>>,
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

/// A scope's ACLs as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclsValue {
    /// Exactly these ACLs.
    Exactly(BTreeMap<String, AclPermission>),
    /// At least these ACLs (Additive management).
    Includes(BTreeMap<String, AclPermission>),
    /// The scope does not exist.
    Absent,
}

impl fmt::Display for AclsValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclsValue::Exactly(acls) => f.write_str(&show(acls)),
            AclsValue::Includes(acls) => write!(f, "includes {}", show(acls)),
            AclsValue::Absent => f.write_str("absent"),
        }
    }
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

/// One ACL change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclChange {
    Put {
        scope: String,
        principal: String,
        permission: AclPermission,
    },
    Delete {
        scope: String,
        principal: String,
    },
}

/// The declared scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredScopes {
    pub scopes: Vec<SecretScopePolicy>,
    /// The resource's mode, which a scope's own `mode` overrides.
    pub mode: Mode,
}

impl DesiredScopes {
    fn scope(&self, name: &str) -> Option<&SecretScopePolicy> {
        self.scopes.iter().find(|s| s.scope == name)
    }
}

/// The ACLs of the declared secret scopes. A control is one scope, by name.
pub struct SecretScopes;

impl Family for SecretScopes {
    type Policy = Workspace;
    type Apis = WorkspaceApis;
    type Desired = DesiredScopes;
    type Observed = Result<SecretScopesRead, ReadError>;
    type Control = String;
    type Value = AclsValue;
    type Change = AclChange;

    fn desired(workspace: &Workspace, pass: &Pass) -> Option<DesiredScopes> {
        let policy = &workspace.policy;
        let scopes = policy.secret_scopes.as_ref().filter(|s| !s.is_empty())?;
        Some(DesiredScopes {
            scopes: scopes.clone(),
            mode: pass.mode,
        })
    }

    async fn observe(desired: &DesiredScopes, apis: &WorkspaceApis) -> Self::Observed {
        let client = &apis.databricks;
        let scopes: BTreeSet<String> = client
            .list_secret_scopes()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let reads = desired
            .scopes
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

    fn evaluate(
        desired: &DesiredScopes,
        observed: &Self::Observed,
        _pass: &Pass,
    ) -> Vec<Finding<String, AclsValue>> {
        desired
            .scopes
            .iter()
            .map(|scope| {
                let control = scope.scope.clone();
                let want = desired_acls(scope);
                let management = scope.management.unwrap_or_default();
                let wanted = match management {
                    Management::Exclusive => AclsValue::Exactly(want.clone()),
                    Management::Additive => AclsValue::Includes(want.clone()),
                };
                let finding = match observed {
                    Err(error) => Finding::read_failed(control, error),
                    Ok(read) if !read.scopes.contains(&scope.scope) => {
                        Finding::compare(control, wanted, AclsValue::Absent).held(
                            ControlState::Failed,
                            Reason::ScopeMissing,
                            MISSING_SCOPE,
                        )
                    }
                    Ok(read) => match read.acls.get(&scope.scope) {
                        None => Finding::read_failed(
                            control,
                            &ReadError::not_read(format!("the ACLs of scope {}", scope.scope)),
                        ),
                        Some(Err(error)) => Finding::read_failed(control, error),
                        Some(Ok(items)) => {
                            let have = live_acls(items);
                            let extra = undeclared(&want, &have);
                            let compliant = to_put(&want, &have).is_empty()
                                && (management == Management::Additive || extra.is_empty());
                            let finding = Finding::judged(
                                control,
                                compliant,
                                wanted,
                                AclsValue::Exactly(have),
                            );
                            if management == Management::Additive && !extra.is_empty() {
                                finding.with_note(format!(
                                    "Additive management: undeclared ACLs are never deleted ({})",
                                    extra.join(", ")
                                ))
                            } else {
                                finding
                            }
                        }
                    },
                };
                finding.with_references(REFERENCES)
            })
            .collect()
    }

    /// Per drifted scope: PUT every missing or different ACL first, then (Exclusive only) DELETE
    /// the undeclared ones, so no principal loses access it is declared to keep.
    fn plan(
        desired: &DesiredScopes,
        observed: &Self::Observed,
        drifted: &[&Finding<String, AclsValue>],
        pass: &Pass,
    ) -> Vec<Planned<String, AclChange>> {
        let Ok(read) = observed else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        for finding in drifted {
            let (Some(scope), Some(Ok(items))) = (
                desired.scope(&finding.control),
                read.acls.get(&finding.control),
            ) else {
                continue;
            };
            let mode = pass.mode_of(scope.mode);
            let want = desired_acls(scope);
            let have = live_acls(items);
            let mut action = |change| {
                actions.push(Planned::one(
                    scope.scope.clone(),
                    Step::Configure,
                    mode,
                    change,
                ))
            };
            for (principal, permission) in to_put(&want, &have) {
                action(AclChange::Put {
                    scope: scope.scope.clone(),
                    principal,
                    permission,
                });
            }
            if scope.management == Some(Management::Exclusive) {
                for principal in undeclared(&want, &have) {
                    action(AclChange::Delete {
                        scope: scope.scope.clone(),
                        principal,
                    });
                }
            }
        }
        actions
    }

    /// Undeclared ACLs are never deleted under Additive management.
    fn guard(desired: &DesiredScopes, change: &AclChange) -> Option<Blocked> {
        let AclChange::Delete { scope, .. } = change else {
            return None;
        };
        let exclusive = desired
            .scope(scope)
            .is_some_and(|s| s.management == Some(Management::Exclusive));
        (!exclusive).then(|| {
            Blocked::new(
                Reason::AdditiveManagement,
                "undeclared secret ACLs are never deleted under Additive management",
            )
        })
    }

    async fn execute(change: &AclChange, apis: &WorkspaceApis) -> Result<(), ApiError> {
        let client = &apis.databricks;
        match change {
            AclChange::Put {
                scope,
                principal,
                permission,
            } => client.put_secret_acl(scope, principal, *permission).await,
            AclChange::Delete { scope, principal } => {
                match client.delete_secret_acl(scope, principal).await {
                    // Already gone (e.g. a retried delete whose first answer was lost).
                    Err(e) if e.is_not_found() => Ok(()),
                    other => other,
                }
            }
        }
    }

    fn control_id(scope: &String) -> String {
        format!("secretScopes/{scope}")
    }

    fn describe(change: &AclChange) -> String {
        match change {
            AclChange::Put {
                scope,
                principal,
                permission,
            } => format!(
                "PUT secret ACL {scope} {principal}={}",
                permission_str(*permission)
            ),
            AclChange::Delete { scope, principal } => {
                format!("DELETE secret ACL {scope} {principal}")
            }
        }
    }

    fn effects(change: &AclChange) -> Vec<Effect> {
        match change {
            AclChange::Delete { .. } => vec![Effect::Destructive],
            AclChange::Put { .. } => Vec::new(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Policy;
    use crate::api::SecretAcl;
    use crate::controls::ControlResult;
    use crate::controls::Workspace;
    use crate::controls::testing::{pass, render};

    type Read<T> = Option<Result<T, ReadError>>;

    fn desired(policy: &[SecretScopePolicy]) -> DesiredScopes {
        DesiredScopes {
            scopes: policy.to_vec(),
            mode: Mode::Enforce,
        }
    }

    fn evaluate(
        policy: &[SecretScopePolicy],
        observed: &Read<SecretScopesRead>,
    ) -> Vec<ControlResult> {
        let Some(observed) = observed else {
            return Vec::new();
        };
        render::<SecretScopes>(&SecretScopes::evaluate(
            &desired(policy),
            observed,
            &pass(Mode::Enforce),
        ))
    }

    fn plan(
        policy: &[SecretScopePolicy],
        observed: &Read<SecretScopesRead>,
    ) -> Vec<Planned<String, AclChange>> {
        let Some(observed) = observed else {
            return Vec::new();
        };
        let desired = desired(policy);
        let findings = SecretScopes::evaluate(&desired, observed, &pass(Mode::Enforce));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        SecretScopes::plan(&desired, observed, &drifted, &pass(Mode::Enforce))
    }

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
            let described: Vec<String> = plan(&policy, &observed)
                .iter()
                .map(|a| SecretScopes::describe(&a.change))
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
        assert!(plan(&policy, &observed).is_empty());
    }

    #[test]
    fn read_failures() {
        let policy = vec![
            scope("etl", None, &[("a", S::Read)]),
            scope("ml", None, &[("a", S::Read)]),
        ];
        let error = ReadError::new(Some(500), None, "boom");
        // The scope list failed: every scope control fails.
        let results = evaluate(&policy, &Some(Err(error.clone())));
        assert!(
            results
                .iter()
                .all(|r| r.state == ControlState::Failed && r.reason == Some(Reason::ReadFailed))
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
        let actions = plan(&policy, &observed);
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].controls, ["ml"]);
    }

    #[test]
    fn each_scope_has_its_own_mode() {
        let mut audited = scope("etl", None, &[("a", S::Read)]);
        audited.mode = Some(Mode::Audit);
        let policy = vec![audited, scope("ml", None, &[("a", S::Read)])];
        let observed = read(&[("etl", items(&[])), ("ml", items(&[]))]);
        let modes: Vec<_> = plan(&policy, &observed).iter().map(|a| a.mode).collect();
        assert_eq!(modes, [Mode::Audit, Mode::Enforce]);
    }

    #[test]
    fn nothing_declared_reads_nothing() {
        let policy = Policy {
            secret_scopes: Some(Vec::new()),
            ..Default::default()
        };
        assert!(
            SecretScopes::desired(&Workspace::new(policy.clone()), &pass(Mode::Enforce)).is_none()
        );
    }

    #[test]
    fn additive_scopes_never_delete() {
        let d = desired(&[scope("etl", None, &[])]);
        let delete = AclChange::Delete {
            scope: "etl".into(),
            principal: "users".into(),
        };
        assert_eq!(
            SecretScopes::guard(&d, &delete).map(|b| b.reason),
            Some(Reason::AdditiveManagement)
        );
        assert_eq!(SecretScopes::effects(&delete), [Effect::Destructive]);
    }
}
