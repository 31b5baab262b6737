//! The reconcile pipeline: resolve -> observe -> evaluate -> plan -> guard -> apply -> report.
//!
//! Every step but observe and apply is a pure function, unit-tested without a network. The same
//! pipeline runs in the controller, in `brickwarden plan/apply` and in `brickwarden demo`; the
//! callers own credentials, Kubernetes and presentation.

pub mod credentials;

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use tracing::{debug, info, warn};

use crate::api::{ControlState, Mode, Policy, Summary};
use crate::clients::{ApiError, ArmClient, DatabricksClient};
use crate::controls::{
    Action, Change, ConfControl, ControlResult, EvalContext, Observed, ReadError, azure,
    ip_access_lists, secret_scopes, settings, tokens, workspace_conf,
};

/// What to reconcile: the resolved policy and the facts the guard needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub policy: Policy,
    pub mode: Mode,
    pub azure_resource_id: Option<String>,
    /// Addresses that must never be locked out: the policy's break-glass ranges and the
    /// controller's own egress.
    pub protected_addresses: Vec<Ipv4Net>,
    /// brickwarden reaches the workspace over Private Link: disabling public network access
    /// does not cut it off. Without it that change is blocked.
    pub private_network: bool,
}

/// How brickwarden itself reaches workspaces: what its own changes must never cut off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The controller's egress addresses, never blocked by IP access lists.
    pub egress: Vec<Ipv4Net>,
    /// The controller reaches workspaces over Private Link.
    pub private_network: bool,
}

/// The clients of one workspace.
#[derive(Debug, Clone)]
pub struct Connections {
    pub databricks: DatabricksClient,
    pub arm: Option<ArmClient>,
}

/// Step 1: the workspace's policy over its baseline's, field by field.
pub fn resolve(baseline: Option<&Policy>, workspace: Option<&Policy>) -> Policy {
    match (baseline, workspace) {
        (Some(b), Some(w)) => b.merged_with(w),
        (Some(b), None) => b.clone(),
        (None, Some(w)) => w.clone(),
        (None, None) => Policy::default(),
    }
}

/// Every workspace-conf key any family manages, read together in one call.
pub fn conf_controls(policy: &Policy, mode: Mode) -> Vec<ConfControl> {
    let mut controls = Vec::new();
    if let Some(p) = &policy.ip_access_lists {
        controls.extend(ip_access_lists::conf_controls(p, mode));
    }
    if let Some(p) = &policy.tokens {
        controls.extend(tokens::conf_controls(p, mode));
    }
    if let Some(p) = &policy.workspace_conf {
        controls.extend(workspace_conf::conf_controls(p, mode));
    }
    controls
}

/// Which API families a pass reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Families {
    pub conf: bool,
    pub ip_access_lists: bool,
    pub token_permissions: bool,
    pub tokens: bool,
    pub settings: bool,
    pub secret_scopes: bool,
    pub azure: bool,
}

impl Families {
    /// The families the policy manages.
    pub fn managed_by(policy: &Policy, conf: &[ConfControl]) -> Families {
        let tokens = policy.tokens.as_ref();
        Families {
            conf: !conf.is_empty(),
            ip_access_lists: policy
                .ip_access_lists
                .as_ref()
                .is_some_and(ip_access_lists::reads_lists),
            token_permissions: tokens.is_some_and(tokens::reads_permissions),
            tokens: tokens.is_some_and(tokens::reads_tokens),
            settings: policy
                .settings
                .as_ref()
                .is_some_and(settings::reads_settings),
            secret_scopes: policy
                .secret_scopes
                .as_deref()
                .is_some_and(secret_scopes::reads_scopes),
            azure: policy.azure.is_some(),
        }
    }

    /// The families an executed change touched, to be read again.
    fn touched_by(changes: &[&Change]) -> Families {
        let mut f = Families::default();
        for change in changes {
            match change {
                Change::PatchConf(_) => f.conf = true,
                Change::CreateIpAccessList { .. }
                | Change::ReplaceIpAccessList { .. }
                | Change::DeleteIpAccessList { .. } => f.ip_access_lists = true,
                Change::SetTokenPermissions { .. } | Change::AddTokenPermissions(_) => {
                    // Removing CAN_USE deletes tokens too.
                    f.token_permissions = true;
                    f.tokens = true;
                }
                Change::RevokeToken { .. } => f.tokens = true,
                Change::PatchSetting { .. } => f.settings = true,
                Change::PutSecretAcl { .. } | Change::DeleteSecretAcl { .. } => {
                    f.secret_scopes = true
                }
                Change::PutArmWorkspace { .. } | Change::PutDiagnosticSetting { .. } => {
                    f.azure = true
                }
            }
        }
        f
    }

    fn intersect(self, other: Families) -> Families {
        Families {
            conf: self.conf && other.conf,
            ip_access_lists: self.ip_access_lists && other.ip_access_lists,
            token_permissions: self.token_permissions && other.token_permissions,
            tokens: self.tokens && other.tokens,
            settings: self.settings && other.settings,
            secret_scopes: self.secret_scopes && other.secret_scopes,
            azure: self.azure && other.azure,
        }
    }
}

fn read<T>(result: Result<T, ApiError>) -> Option<Result<T, ReadError>> {
    Some(result.map_err(ReadError::from))
}

/// Step 2: one read per family, all families at once; workspace-conf keys in one `?keys=` call.
pub async fn observe(
    target: &Target,
    connections: &Connections,
    conf: &[ConfControl],
    families: Families,
) -> Observed {
    let client = &connections.databricks;
    let policy = &target.policy;
    let keys: Vec<&str> = {
        let mut keys: Vec<&str> = conf.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    let (conf, lists, permissions, tokens, settings_read, scopes, azure_read) = tokio::join!(
        async {
            if families.conf {
                read(client.get_conf(&keys).await)
            } else {
                None
            }
        },
        async {
            if families.ip_access_lists {
                read(ip_access_lists::observe(client).await)
            } else {
                None
            }
        },
        async {
            if families.token_permissions {
                read(client.get_token_permissions().await)
            } else {
                None
            }
        },
        async {
            if families.tokens {
                read(tokens::observe(client).await)
            } else {
                None
            }
        },
        async {
            match &policy.settings {
                Some(p) if families.settings => Some(settings::observe(client, p).await),
                _ => None,
            }
        },
        async {
            match &policy.secret_scopes {
                Some(p) if families.secret_scopes => read(secret_scopes::observe(client, p).await),
                _ => None,
            }
        },
        async {
            match &policy.azure {
                Some(p) if families.azure => Some(
                    azure::observe(
                        connections.arm.as_ref(),
                        target.azure_resource_id.as_deref(),
                        p,
                    )
                    .await,
                ),
                _ => None,
            }
        },
    );
    Observed {
        conf,
        ip_access_lists: lists,
        token_permissions: permissions,
        tokens,
        settings: settings_read,
        secret_scopes: scopes,
        azure: azure_read,
    }
}

/// Step 3 (pure): one result per control, in a stable order.
pub fn evaluate(
    target: &Target,
    conf: &[ConfControl],
    observed: &Observed,
    ctx: EvalContext,
) -> Vec<ControlResult> {
    let mut results = workspace_conf::evaluate(conf, &observed.conf);
    if let Some(p) = &target.policy.ip_access_lists {
        results.extend(ip_access_lists::evaluate(p, &observed.ip_access_lists));
    }
    if let Some(p) = &target.policy.tokens {
        results.extend(tokens::evaluate(
            p,
            &observed.token_permissions,
            &observed.tokens,
            ctx.now_ms,
        ));
    }
    if let Some(p) = &target.policy.settings {
        results.extend(settings::evaluate(p, &observed.settings));
    }
    if let Some(p) = &target.policy.secret_scopes {
        results.extend(secret_scopes::evaluate(p, &observed.secret_scopes));
    }
    if let Some(p) = &target.policy.azure {
        results.extend(azure::evaluate(p, &observed.azure));
    }
    // Behind Private Link only, IP access lists do not apply (and nothing is planned for them).
    if azure::private_link_only(&observed.azure) {
        for result in results
            .iter_mut()
            .filter(|r| r.id.starts_with("ipAccessLists/"))
        {
            let references = std::mem::take(&mut result.references);
            *result = ControlResult {
                references,
                ..ControlResult::not_applicable(&result.id, azure::PRIVATE_LINK_ONLY)
            };
        }
    }
    results
}

/// Step 4 (pure): the actions that fix the drift, in execution order.
pub fn plan(
    target: &Target,
    conf: &[ConfControl],
    observed: &Observed,
    results: &[ControlResult],
    ctx: EvalContext,
) -> Vec<Action> {
    let mut actions = workspace_conf::plan(conf, results);
    if let Some(p) = &target.policy.ip_access_lists {
        actions.extend(ip_access_lists::plan(
            p,
            target.mode,
            &observed.ip_access_lists,
            results,
        ));
    }
    if let Some(p) = &target.policy.tokens {
        actions.extend(tokens::plan(
            p,
            target.mode,
            &observed.token_permissions,
            &observed.tokens,
            results,
            ctx.now_ms,
        ));
    }
    if let Some(p) = &target.policy.settings {
        actions.extend(settings::plan(p, target.mode, &observed.settings, results));
    }
    if let Some(p) = &target.policy.secret_scopes {
        actions.extend(secret_scopes::plan(
            p,
            target.mode,
            &observed.secret_scopes,
            results,
        ));
    }
    if let Some(p) = &target.policy.azure {
        actions.extend(azure::plan(
            p,
            target.mode,
            target.azure_resource_id.as_deref(),
            &observed.azure,
            results,
            target.private_network,
        ));
    }
    // A stable sort keeps each family's own order within a step.
    actions.sort_by_key(|a| a.step);
    actions
}

/// An action with the guard's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded {
    pub action: Action,
    pub blocked: Option<ip_access_lists::Blocked>,
}

/// Step 5 (pure): blocks actions that would lock anybody protected out, that would delete what
/// Additive management must leave alone, or that would turn an irreversible setting off.
pub fn guard(target: &Target, observed: &Observed, actions: Vec<Action>) -> Vec<Guarded> {
    let ip_policy = target.policy.ip_access_lists.clone().unwrap_or_default();
    let verdicts =
        ip_access_lists::guard(&actions, &ip_policy, observed, &target.protected_addresses);
    actions
        .into_iter()
        .zip(verdicts)
        .map(|(action, blocked)| {
            let additive_delete = matches!(action.change, Change::DeleteIpAccessList { .. })
                && ip_policy.management != Some(crate::api::Management::Exclusive);
            let blocked = blocked
                .or_else(|| {
                    additive_delete.then(|| ip_access_lists::Blocked {
                        reason: "AdditiveManagement",
                        message: "undeclared lists are never deleted under Additive management"
                            .into(),
                    })
                })
                .or_else(|| guard_other_families(target, &action.change));
            Guarded { action, blocked }
        })
        .collect()
}

/// The guard of the settings and secret scope families: the plan never produces these
/// changes; the guard makes sure they never run.
fn guard_other_families(target: &Target, change: &Change) -> Option<ip_access_lists::Blocked> {
    match change {
        Change::PutArmWorkspace {
            public_network_access: Some(access),
            ..
        } if access == "Disabled" && !target.private_network => Some(ip_access_lists::Blocked {
            reason: "LockoutGuard",
            message: "disabling public network access would cut brickwarden off from the \
                      workspace unless it reaches it over Private Link: run it with \
                      --private-network once it does"
                .into(),
        }),
        Change::PatchSetting { read, on: false }
            if read.setting_type()
                == crate::clients::databricks::SettingType::ComplianceSecurityProfile =>
        {
            Some(ip_access_lists::Blocked {
                reason: "Irreversible",
                message: "the compliance security profile is never turned off".into(),
            })
        }
        Change::DeleteSecretAcl { scope, .. } => {
            let exclusive = target.policy.secret_scopes.iter().flatten().any(|s| {
                &s.scope == scope && s.management == Some(crate::api::Management::Exclusive)
            });
            (!exclusive).then(|| ip_access_lists::Blocked {
                reason: "AdditiveManagement",
                message: "undeclared secret ACLs are never deleted under Additive management"
                    .into(),
            })
        }
        _ => None,
    }
}

/// What happened to one Enforce-mode action.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    Failed(String),
    /// Not attempted (guard) or refused by the API as unsafe (`INVALID_STATE`).
    Blocked {
        reason: String,
        message: String,
    },
}

impl Outcome {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Outcome::Applied => "success",
            Outcome::Failed(_) => "failure",
            Outcome::Blocked { .. } => "blocked",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Remediation {
    /// Position of the action in the plan.
    pub index: usize,
    pub controls: Vec<String>,
    pub description: String,
    pub outcome: Outcome,
}

/// The result of one pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub controls: Vec<ControlResult>,
    /// What Enforce mode would do and has not done: every action in Audit mode, blocked and
    /// failed ones in Enforce mode.
    pub planned_actions: Vec<String>,
    /// Every Enforce-mode action of this pass with its outcome.
    pub executed: Vec<Remediation>,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary::count(self.controls.iter().map(|c| c.state))
    }

    pub fn drifted(&self) -> bool {
        self.controls
            .iter()
            .any(|c| !c.state.is_compliant() && c.state != ControlState::NotApplicable)
    }

    /// The blocked remediations, for the `RemediationBlocked` condition.
    pub fn blocked(&self) -> Vec<&Remediation> {
        self.executed
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Blocked { .. }))
            .collect()
    }

    /// The controls that could not be read (NotApplicable ones need no read).
    fn read_failures(&self) -> Option<Vec<&ControlResult>> {
        let needing_reads: Vec<&ControlResult> = self
            .controls
            .iter()
            .filter(|c| c.state != ControlState::NotApplicable)
            .collect();
        let all_failed = !needing_reads.is_empty()
            && needing_reads
                .iter()
                .all(|c| c.reason.as_deref() == Some("ReadFailed"));
        all_failed.then_some(needing_reads)
    }

    /// Whether no API family could be read at all.
    pub fn unreachable(&self) -> bool {
        self.read_failures().is_some()
    }

    /// Whether every read failed because the credentials were refused.
    pub fn authentication_failed(&self) -> bool {
        self.read_failures().is_some_and(|failed| {
            failed.iter().all(|c| {
                c.message.as_deref().is_some_and(|m| {
                    m.contains("401")
                        || m.contains("403")
                        || m.contains("UNAUTHENTICATED")
                        || m.contains("invalid_client")
                        || m.contains("Invalid access token")
                })
            })
        })
    }
}

/// Whether this pass may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// Plan only, whatever the modes say (`brickwarden plan`).
    Never,
    /// Execute the actions of families in Enforce mode.
    Enforce,
}

/// Step 6: executes the allowed Enforce-mode actions in order. After an access change fails, the
/// access changes after it are not attempted: the guard judged them on a state that now will not
/// exist.
pub async fn apply(connections: &Connections, guarded: &[Guarded]) -> Vec<Remediation> {
    let mut access_failed = false;
    let mut done = Vec::new();
    for (index, g) in guarded
        .iter()
        .enumerate()
        .filter(|(_, g)| g.action.mode == Mode::Enforce)
    {
        let description = g.action.describe();
        let outcome = if let Some(blocked) = &g.blocked {
            Outcome::Blocked {
                reason: blocked.reason.into(),
                message: blocked.message.clone(),
            }
        } else if access_failed && ip_access_lists::touches_access(&g.action.change) {
            Outcome::Blocked {
                reason: "DependsOnFailedAction".into(),
                message: "an earlier IP access change failed; not attempted so that no \
                          intermediate state locks anybody out"
                    .into(),
            }
        } else {
            match execute(connections, &g.action.change).await {
                Ok(()) => Outcome::Applied,
                Err(e) if e.is_invalid_state() => Outcome::Blocked {
                    reason: "LockoutGuard".into(),
                    message: format!("Databricks refused the change: {e}"),
                },
                Err(e) => Outcome::Failed(e.to_string()),
            }
        };
        if outcome != Outcome::Applied && ip_access_lists::touches_access(&g.action.change) {
            access_failed = true;
        }
        match &outcome {
            Outcome::Applied => {
                debug!(controls = ?g.action.controls, action = %description, "action applied")
            }
            Outcome::Failed(error) => {
                warn!(controls = ?g.action.controls, action = %description, %error, "remediation failed")
            }
            Outcome::Blocked { reason, message } => {
                warn!(controls = ?g.action.controls, action = %description, %reason, %message, "remediation blocked")
            }
        }
        done.push(Remediation {
            index,
            controls: g.action.controls.clone(),
            description,
            outcome,
        });
    }
    done
}

async fn execute(connections: &Connections, change: &Change) -> Result<(), ApiError> {
    use crate::clients::databricks::{NewIpAccessList, ReplaceIpAccessList, UpdateIpAccessList};
    let client = &connections.databricks;
    let arm = || {
        connections.arm.as_ref().ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "{}: {}",
                change_family(change),
                azure::NO_ENTRA_IDENTITY
            ))
        })
    };
    match change {
        Change::PatchConf(writes) => client.set_conf(&crate::controls::conf_values(writes)).await,
        Change::CreateIpAccessList {
            label,
            list_type,
            addresses,
            enabled,
        } => {
            let created = client
                .create_ip_access_list(&NewIpAccessList {
                    label: label.clone(),
                    list_type: *list_type,
                    ip_addresses: addresses.clone(),
                })
                .await?;
            if !enabled {
                client
                    .update_ip_access_list(
                        &created.list_id,
                        &UpdateIpAccessList {
                            enabled: Some(false),
                            ..Default::default()
                        },
                    )
                    .await?;
            }
            Ok(())
        }
        Change::ReplaceIpAccessList {
            list_id,
            label,
            list_type,
            addresses,
            enabled,
        } => {
            client
                .replace_ip_access_list(
                    list_id,
                    &ReplaceIpAccessList {
                        label: label.clone(),
                        list_type: *list_type,
                        ip_addresses: addresses.clone(),
                        enabled: *enabled,
                    },
                )
                .await
        }
        Change::DeleteIpAccessList { list_id, .. } => client.delete_ip_access_list(list_id).await,
        Change::SetTokenPermissions { acl, .. } => {
            client.set_token_permissions(acl).await.map(drop)
        }
        Change::AddTokenPermissions(acl) => client.update_token_permissions(acl).await.map(drop),
        Change::RevokeToken { token_id, .. } => client.delete_token(token_id).await,
        Change::PatchSetting { read, on } => settings::execute(client, read, *on).await,
        Change::PutSecretAcl {
            scope,
            principal,
            permission,
        } => client.put_secret_acl(scope, principal, *permission).await,
        Change::DeleteSecretAcl { scope, principal } => {
            match client.delete_secret_acl(scope, principal).await {
                // Already gone (e.g. a retried delete whose first answer was lost).
                Err(e) if e.is_not_found() => Ok(()),
                other => other,
            }
        }
        Change::PutArmWorkspace {
            resource_id,
            enable_no_public_ip,
            public_network_access,
        } => {
            azure::put_workspace(
                arm()?,
                resource_id,
                *enable_no_public_ip,
                public_network_access.as_deref(),
            )
            .await
        }
        Change::PutDiagnosticSetting {
            resource_id,
            name,
            body,
        } => arm()?
            .put_diagnostic_setting(resource_id, name, body)
            .await
            .map(drop),
    }
}

fn change_family(change: &Change) -> &'static str {
    match change {
        Change::PutArmWorkspace { .. } => "ARM workspace",
        Change::PutDiagnosticSetting { .. } => "diagnostic setting",
        _ => "change",
    }
}

/// Step 7 (pure): the final state of each control after apply, from the results before apply,
/// the results of the re-read (for the families that changed) and what each action did.
pub fn conclude(
    before: Vec<ControlResult>,
    after: &[ControlResult],
    guarded: &[Guarded],
    executed: &[Remediation],
) -> (Vec<ControlResult>, Vec<String>) {
    let after: BTreeMap<&str, &ControlResult> = after.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut planned = Vec::new();
    for (index, g) in guarded.iter().enumerate() {
        let outcome = executed.iter().find(|r| r.index == index);
        match outcome.map(|r| &r.outcome) {
            Some(Outcome::Applied) => {}
            Some(Outcome::Blocked { reason, .. }) => {
                planned.push(format!("{} (blocked: {reason})", g.action.describe()))
            }
            Some(Outcome::Failed(_)) => planned.push(format!("{} (failed)", g.action.describe())),
            None => planned.push(g.action.describe()),
        }
    }
    let results = before
        .into_iter()
        .map(|mut result| {
            let actions: Vec<&Guarded> = guarded
                .iter()
                .filter(|g| g.action.controls.contains(&result.id))
                .collect();
            let outcomes: Vec<&Outcome> = executed
                .iter()
                .filter(|r| r.controls.contains(&result.id))
                .map(|r| &r.outcome)
                .collect();
            if result.state != ControlState::Drifted || actions.is_empty() {
                return result;
            }
            if let Some(reread) = after.get(result.id.as_str()) {
                if reread.state == ControlState::Compliant {
                    let mut remediated = (*reread).clone();
                    remediated.state = ControlState::Remediated;
                    let done = format!("remediated: {}", describe_for(&actions, &result.id));
                    // What the control still has to say (e.g. tokens it deliberately kept) stays.
                    remediated.message = Some(match &reread.message {
                        Some(note) => format!("{done}; {note}"),
                        None => done,
                    });
                    return remediated;
                }
                // The pass itself can make a control moot (IP access lists once the workspace
                // is reachable only over Private Link): report what holds now.
                if reread.state == ControlState::NotApplicable {
                    return (*reread).clone();
                }
                result.observed = reread.observed.clone();
            }
            if let Some(Outcome::Blocked { reason, message }) = outcomes
                .iter()
                .find(|o| matches!(o, Outcome::Blocked { .. }))
            {
                result.state = ControlState::Failed;
                result.reason = Some("RemediationBlocked".into());
                result.message = Some(format!("{reason}: {message}"));
            } else if let Some(Outcome::Failed(error)) =
                outcomes.iter().find(|o| matches!(o, Outcome::Failed(_)))
            {
                result.state = ControlState::Failed;
                result.reason = Some("RemediationFailed".into());
                result.message = Some(error.clone());
            } else if actions.iter().all(|g| g.action.mode == Mode::Audit) {
                result.reason = Some("AuditMode".into());
                result.message = Some(format!(
                    "Audit mode: would {}",
                    describe_for(&actions, &result.id)
                ));
            } else if outcomes.is_empty() {
                result.reason = Some("PlanOnly".into());
                result.message = Some(format!("would {}", describe_for(&actions, &result.id)));
            }
            result
        })
        .collect();
    (results, planned)
}

fn describe_for(actions: &[&Guarded], control: &str) -> String {
    actions
        .iter()
        .map(|g| g.action.describe_for(control))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One full pass over a workspace.
pub async fn reconcile(target: &Target, connections: &Connections, apply_mode: Apply) -> Report {
    let ctx = EvalContext {
        now_ms: jiff::Timestamp::now().as_millisecond(),
    };
    let conf = conf_controls(&target.policy, target.mode);
    let families = Families::managed_by(&target.policy, &conf);
    let observed = observe(target, connections, &conf, families).await;
    let before = evaluate(target, &conf, &observed, ctx);
    let actions = plan(target, &conf, &observed, &before, ctx);
    let guarded = guard(target, &observed, actions);

    let executed = match apply_mode {
        Apply::Never => Vec::new(),
        Apply::Enforce => apply(connections, &guarded).await,
    };
    let applied: Vec<&Change> = guarded
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            executed
                .iter()
                .any(|r| r.index == *index && r.outcome == Outcome::Applied)
        })
        .map(|(_, g)| &g.action.change)
        .collect();
    let after = if applied.is_empty() {
        Vec::new()
    } else {
        let reread = Families::touched_by(&applied).intersect(families);
        let fresh = observe(target, connections, &conf, reread).await;
        let merged = observed.overlaid_with(fresh);
        evaluate(target, &conf, &merged, ctx)
    };
    let observed_before: BTreeMap<String, Option<String>> = before
        .iter()
        .map(|c| (c.id.clone(), c.observed.clone()))
        .collect();
    let (controls, planned_actions) = conclude(before, &after, &guarded, &executed);
    // Each remediation is logged once, with what was found and what was set (never a secret:
    // controls carry configuration values only).
    for c in controls
        .iter()
        .filter(|c| c.state == ControlState::Remediated)
    {
        info!(
            control = %c.id,
            desired = c.desired.as_deref().unwrap_or("-"),
            observed = observed_before.get(&c.id).cloned().flatten().as_deref().unwrap_or("-"),
            "remediated"
        );
    }
    Report {
        controls,
        planned_actions,
        executed,
    }
}

#[cfg(test)]
mod tests;

/// Builds the pass's target from a workspace spec and its baseline (pure). The protected
/// addresses are the policy's break-glass ranges plus the controller's own egress.
pub fn target_for(
    spec: &crate::api::DatabricksWorkspaceSpec,
    baseline: Option<&Policy>,
    reach: &Reach,
) -> Result<Target, String> {
    let policy = resolve(baseline, spec.policy.as_ref());
    let break_glass = policy
        .ip_access_lists
        .as_ref()
        .and_then(|p| p.break_glass.clone())
        .unwrap_or_default();
    let mut protected = ip_access_lists::parse_protected(&break_glass)?;
    protected.extend_from_slice(&reach.egress);
    Ok(Target {
        policy,
        mode: spec.mode,
        azure_resource_id: spec.azure_resource_id.clone(),
        protected_addresses: protected,
        private_network: reach.private_network,
    })
}
