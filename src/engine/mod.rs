//! The reconcile pipeline: resolve -> observe -> evaluate -> plan -> guard -> apply -> report.
//!
//! Every step but observe and apply is a pure function of what the families found, unit-tested
//! without a network. The same pipeline runs in the controller, in `brickwarden plan/apply` and
//! in `brickwarden demo`; the callers own credentials, Kubernetes and presentation.
//!
//! The families of a resource are listed once ([`workspace_stages`]); every step runs over that
//! list, so adding a family is its module plus one line there.

mod apply;
pub mod approval;
mod conclude;
pub mod credentials;
pub mod rules;
pub mod stage;
pub mod subject;
pub mod window;

use ipnet::Ipv4Net;
use tracing::info;

pub use self::apply::{Outcome, Remediation, apply};
pub use self::conclude::conclude;
pub use self::stage::{Action, Overrule, Stage};
pub use self::subject::Subject;
use crate::api::{
    AccountPolicy, ControlState, Exception, Mode, Policy, SecurityBaselineSpec, Summary,
};
use crate::controls::account::{
    Account, AccountApis, AccountIpAccessLists, AccountSettings, Cloud,
};
use crate::controls::azure::Azure;
use crate::controls::ip_access_lists::IpAccessLists;
use crate::controls::secret_scopes::SecretScopes;
use crate::controls::settings::Settings;
use crate::controls::tokens::Tokens;
use crate::controls::workspace_conf::WorkspaceConf;
use crate::controls::{Blocked, ControlResult, Fact, Pass, Reason, Workspace, WorkspaceApis};

/// The clients of one workspace.
pub type Connections = WorkspaceApis;

/// What to reconcile: the resolved policy (a workspace's [`Policy`] or an account's
/// [`AccountPolicy`]) and the facts the guard needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Target<P = Policy> {
    pub policy: P,
    pub mode: Mode,
    /// Addresses that must never be locked out: the policy's break-glass ranges and the
    /// controller's own egress.
    pub protected_addresses: Vec<Ipv4Net>,
    /// brickwarden reaches the workspace over Private Link: disabling public network access
    /// does not cut it off. Without it that change is blocked.
    pub private_network: bool,
    /// The workspace's and its baseline's exceptions.
    pub exceptions: Vec<Exception>,
    /// When Enforce mode may write; empty: always.
    pub windows: Vec<window::Schedule>,
    /// Destructive changes wait for an approval.
    pub approval_required: bool,
    /// The digest a person approved (`brickwarden.io/approve`), unless already used.
    pub approved_digest: Option<String>,
}

impl<P> Target<P> {
    pub fn pass(&self, now: jiff::Timestamp) -> Pass<'_> {
        Pass {
            mode: self.mode,
            now,
            protected: &self.protected_addresses,
            private_network: self.private_network,
            exceptions: &self.exceptions,
        }
    }

    /// Who releases this pass's destructive changes.
    pub fn approval(&self) -> approval::Approval<'_> {
        if self.approval_required {
            approval::Approval::Required {
                approved: self.approved_digest.as_deref(),
            }
        } else {
            approval::Approval::Automatic
        }
    }

    /// Whether this pass may write at `now`.
    pub fn window(&self, now: jiff::Timestamp) -> window::Window {
        window::at(&self.windows, now)
    }

    /// When the next unexpired exception lapses: the controller looks again at that moment
    /// rather than at the next resync.
    pub fn next_expiry(&self, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        self.exceptions
            .iter()
            .map(|e| e.expires.0)
            .filter(|expires| *expires > now)
            .min()
    }
}

/// The longest an exception may run: risks are reviewed at least yearly.
pub const MAX_EXCEPTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(366 * 24);

/// Why a resource cannot be reconciled as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    InvalidSpec(String),
    #[error("{0}")]
    ExceptionTooLong(String),
}

impl TargetError {
    /// The `Ready=False` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            TargetError::InvalidSpec(_) => crate::api::not_ready::INVALID_SPEC,
            TargetError::ExceptionTooLong(_) => crate::api::not_ready::EXCEPTION_TOO_LONG,
        }
    }
}

/// How brickwarden itself reaches workspaces: what its own changes must never cut off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The controller's egress addresses, never blocked by IP access lists.
    pub egress: Vec<Ipv4Net>,
    /// The controller reaches workspaces over Private Link.
    pub private_network: bool,
}

/// Step 1: a resource's own policy over its baseline's, field by field (a workspace's
/// [`Policy`] or an account's [`AccountPolicy`]).
pub fn resolve<P>(baseline: Option<&P>, own: Option<&P>) -> P
where
    P: Clone + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    match (baseline, own) {
        (Some(b), Some(o)) => crate::api::merge_patch(b, o),
        (Some(b), None) => b.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => P::default(),
    }
}

/// A resource kind's policy: what a baseline says of it, and the IP access lists whose
/// break-glass ranges no change may lock out.
pub trait KindPolicy:
    Clone + Default + serde::Serialize + serde::de::DeserializeOwned + Send + Sync
{
    /// Its section of a `SecurityBaseline`.
    fn in_baseline(baseline: &SecurityBaselineSpec) -> Option<&Self>;
    fn ip_access_lists(&self) -> Option<&crate::api::IpAccessListsPolicy>;
}

impl KindPolicy for Policy {
    fn in_baseline(baseline: &SecurityBaselineSpec) -> Option<&Self> {
        Some(&baseline.policy)
    }

    fn ip_access_lists(&self) -> Option<&crate::api::IpAccessListsPolicy> {
        self.ip_access_lists.as_ref()
    }
}

impl KindPolicy for AccountPolicy {
    fn in_baseline(baseline: &SecurityBaselineSpec) -> Option<&Self> {
        baseline.account.as_ref()
    }

    fn ip_access_lists(&self) -> Option<&crate::api::IpAccessListsPolicy> {
        self.ip_access_lists.as_ref()
    }
}

/// Builds the pass's target from a resource's own policy and governance and its baseline
/// (pure). The protected addresses are the policy's break-glass ranges plus the controller's
/// own egress; the exceptions are the baseline's and the resource's, none more than a year
/// ahead of `now`.
pub fn target_for<P: KindPolicy>(
    own: Option<&P>,
    governance: &crate::api::Governance,
    baseline: Option<&SecurityBaselineSpec>,
    reach: &Reach,
    now: jiff::Timestamp,
) -> Result<Target<P>, TargetError> {
    let policy = resolve(baseline.and_then(P::in_baseline), own);
    let exceptions: Vec<Exception> = baseline
        .map(|b| b.exceptions.as_slice())
        .unwrap_or_default()
        .iter()
        .chain(&governance.exceptions)
        .cloned()
        .collect();
    if let Some(far) = exceptions
        .iter()
        .find(|e| e.expires.0.duration_since(now) > MAX_EXCEPTION)
    {
        return Err(TargetError::ExceptionTooLong(format!(
            "the exception for {} expires {}, more than a year ahead: accepted risks are \
             reviewed at least yearly, set an earlier expires",
            far.controls
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            far.expires.0
        )));
    }
    let break_glass = policy
        .ip_access_lists()
        .and_then(|p| p.break_glass.clone())
        .unwrap_or_default();
    let windows = governance
        .maintenance_windows
        .iter()
        .map(window::Schedule::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(TargetError::InvalidSpec)?;
    let mut protected =
        crate::controls::access::parse_protected(&break_glass).map_err(TargetError::InvalidSpec)?;
    protected.extend_from_slice(&reach.egress);
    Ok(Target {
        policy,
        mode: governance.mode,
        protected_addresses: protected,
        private_network: reach.private_network,
        exceptions,
        windows,
        approval_required: governance
            .approval
            .as_ref()
            .is_some_and(|a| a.destructive == crate::api::DestructiveApproval::Required),
        approved_digest: None,
    })
}

/// The families of a workspace, in report and plan order, each only when the policy manages
/// something of it. A new workspace family is one line here.
pub fn workspace_stages(workspace: &Workspace, pass: &Pass) -> Vec<Box<dyn Stage<WorkspaceApis>>> {
    [
        stage::start::<WorkspaceConf>(workspace, pass),
        stage::start::<IpAccessLists>(workspace, pass),
        stage::start::<Tokens>(workspace, pass),
        stage::start::<Settings>(workspace, pass),
        stage::start::<SecretScopes>(workspace, pass),
        stage::start::<Azure>(workspace, pass),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The families of an account, in report and plan order. A new account family is one line
/// here.
pub fn account_stages(account: &Account, pass: &Pass) -> Vec<Box<dyn Stage<AccountApis>>> {
    [
        stage::start::<AccountSettings>(account, pass),
        stage::start::<AccountIpAccessLists>(account, pass),
        stage::start::<crate::controls::account::ncc::Nccs>(account, pass),
        stage::start::<crate::controls::account::network_policies::NetworkPolicies>(account, pass),
        stage::start::<crate::controls::account::private_access::PrivateAccess>(account, pass),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Step 2: every family reads at once.
pub async fn observe<A: Sync>(stages: &mut [Box<dyn Stage<A>>], apis: &A) {
    futures::future::join_all(stages.iter_mut().map(|s| s.observe(apis))).await;
}

/// Step 3 (pure): every family evaluates its last observation, then the facts of all of them
/// make controls moot where a rule says so. Returns the facts.
pub fn evaluate<A>(stages: &mut [Box<dyn Stage<A>>], pass: &Pass) -> Vec<Fact> {
    for stage in stages.iter_mut() {
        stage.evaluate(pass);
    }
    let facts: Vec<Fact> = stages.iter().flat_map(|s| s.facts()).collect();
    {
        let moot = rules::moot(&facts);
        let excepted = rules::excepted(pass.exceptions, pass.now);
        let rule = |control: &str| {
            moot(control)
                .map(Overrule::Moot)
                .or_else(|| excepted(control).map(Overrule::Excepted))
        };
        for stage in stages.iter_mut() {
            stage.overrule(&rule);
        }
    }
    facts
}

fn results<A>(stages: &[Box<dyn Stage<A>>]) -> Vec<ControlResult> {
    stages.iter().flat_map(|s| s.results()).collect()
}

/// Step 4 (pure): the actions that fix the drift, in execution order (a stable sort keeps each
/// family's own order within a step).
pub fn plan<A>(stages: &mut [Box<dyn Stage<A>>], pass: &Pass) -> Vec<Action> {
    let mut actions: Vec<Action> = stages
        .iter_mut()
        .enumerate()
        .flat_map(|(i, s)| s.plan(i, pass))
        .collect();
    actions.sort_by_key(|a| a.step);
    actions
}

/// An action with the guard's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarded {
    pub action: Action,
    pub blocked: Option<Blocked>,
}

/// Step 5 (pure): each family's own refusals, then the rules every family shares. A change
/// refused for one of its effects is split, when its family can, so that the rest still runs.
pub fn guard<A>(
    stages: &mut [Box<dyn Stage<A>>],
    actions: Vec<Action>,
    facts: &[Fact],
    pass: &Pass,
) -> Vec<Guarded> {
    let ctx = rules::Context {
        facts,
        protected: pass.protected,
        private_network: pass.private_network,
    };
    let mut lockout = rules::LockoutGuard::new(&ctx);
    let mut queue: std::collections::VecDeque<Action> = actions.into();
    let mut guarded = Vec::new();
    while let Some(action) = queue.pop_front() {
        if let Some(blocked) = stages[action.stage].guard(action.index) {
            guarded.push(Guarded {
                action,
                blocked: Some(blocked),
            });
            continue;
        }
        let blocked = match rules::judge(&action, &ctx, &mut lockout) {
            rules::Verdict::Allowed => None,
            rules::Verdict::Blocked(blocked) => Some(blocked),
            rules::Verdict::Refused { effect, blocked } => {
                match stages[action.stage].split(action.stage, action.index, &effect) {
                    // The rest is judged again; the part with the effect is refused.
                    Some([rest, part]) => {
                        queue.push_front(rest);
                        guarded.push(Guarded {
                            action: part,
                            blocked: Some(blocked),
                        });
                        continue;
                    }
                    None => Some(blocked),
                }
            }
        };
        guarded.push(Guarded { action, blocked });
    }
    // Splitting keeps the plan's order within a step.
    guarded.sort_by_key(|g| g.action.step);
    guarded
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
    /// An exception expired while the pass ran: look again at once.
    pub exception_lapsed: bool,
    /// Enforce mode waited for a maintenance window: the next one opens then.
    pub window_opens: Option<jiff::Timestamp>,
    /// Destructive changes that wait for an approval.
    pub pending_approval: Option<approval::Pending>,
    /// The approved digest whose changes this pass released.
    pub approval_released: Option<String>,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary::count(self.controls.iter().map(|c| c.state))
    }

    /// Whether a control is not as declared (excepted and not applicable ones are not).
    pub fn drifted(&self) -> bool {
        self.controls.iter().any(|c| {
            !c.state.is_compliant()
                && !matches!(
                    c.state,
                    ControlState::NotApplicable | ControlState::Excepted
                )
        })
    }

    /// The blocked remediations, for the `RemediationBlocked` condition.
    pub fn blocked(&self) -> Vec<&Remediation> {
        self.executed
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Blocked { .. }))
            .collect()
    }

    /// The controls that could not be read, when no control could (NotApplicable ones need no
    /// read).
    fn read_failures(&self) -> Option<Vec<&ControlResult>> {
        let needing_reads: Vec<&ControlResult> = self
            .controls
            .iter()
            .filter(|c| c.state != ControlState::NotApplicable)
            .collect();
        let all_failed =
            !needing_reads.is_empty() && needing_reads.iter().all(|c| c.error.is_some());
        all_failed.then_some(needing_reads)
    }

    /// Enforce mode would have written, but every maintenance window is closed: what it would
    /// do says so, and when the next window opens.
    fn defer_to(&mut self, opens: Option<jiff::Timestamp>) {
        let next = opens.map_or("no window opens again".to_string(), |t| {
            format!("the next window opens at {t}")
        });
        for control in self
            .controls
            .iter_mut()
            .filter(|c| c.reason == Some(Reason::PlanOnly))
        {
            control.reason = Some(Reason::OutsideMaintenanceWindow);
            let would = control.message.take().unwrap_or_default();
            control.message = Some(format!("outside every maintenance window: {would}; {next}"));
        }
        self.window_opens = opens;
    }

    /// Whether no API family could be read at all.
    pub fn unreachable(&self) -> bool {
        self.read_failures().is_some()
    }

    /// Whether every read failed because the credentials were refused.
    pub fn authentication_failed(&self) -> bool {
        self.read_failures().is_some_and(|failed| {
            failed
                .iter()
                .all(|c| c.error.as_ref().is_some_and(|e| e.unauthenticated))
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

/// The workspace as its families see it: the target's policy and where the workspace lives.
pub fn workspace_of(target: &Target, apis: &WorkspaceApis) -> Workspace {
    Workspace {
        policy: target.policy.clone(),
        azure_resource_id: apis.azure_resource_id.clone(),
        on_azure: apis
            .databricks
            .base_url()
            .host_str()
            .is_some_and(|h| h.ends_with(".azuredatabricks.net")),
    }
}

/// One full pass over a workspace. Outside every maintenance window, Enforce plans only.
pub async fn reconcile(target: &Target, apis: &WorkspaceApis, apply_mode: Apply) -> Report {
    let workspace = workspace_of(target, apis);
    governed_pass(target, apis, apply_mode, |pass| {
        workspace_stages(&workspace, pass)
    })
    .await
}

/// The account as its families see it.
pub fn account_of(target: &Target<AccountPolicy>, apis: &AccountApis) -> Account {
    Account {
        policy: target.policy.clone(),
        cloud: Cloud::of_host(apis.databricks.base_url().host_str().unwrap_or_default()),
    }
}

/// One full pass over an account, governed as a workspace's is.
pub async fn reconcile_account(
    target: &Target<AccountPolicy>,
    apis: &AccountApis,
    apply_mode: Apply,
) -> Report {
    let account = account_of(target, apis);
    governed_pass(target, apis, apply_mode, |pass| {
        account_stages(&account, pass)
    })
    .await
}

/// One pass over the stages `stages_for` lists, under the target's window and approvals:
/// outside every maintenance window, Enforce plans only.
async fn governed_pass<P, A: Sync>(
    target: &Target<P>,
    apis: &A,
    apply_mode: Apply,
    stages_for: impl FnOnce(&Pass) -> Vec<Box<dyn Stage<A>>>,
) -> Report {
    let now = jiff::Timestamp::now();
    let pass = target.pass(now);
    let stages = stages_for(&pass);
    let approval = target.approval();
    match (apply_mode, target.window(now)) {
        (Apply::Enforce, window::Window::Closed { opens }) => {
            let mut report = run(stages, apis, &pass, Apply::Never, approval).await;
            report.defer_to(opens);
            report
        }
        _ => run(stages, apis, &pass, apply_mode, approval).await,
    }
}

/// One pass over the stages of a resource, whatever its kind.
pub async fn run<A: Sync>(
    mut stages: Vec<Box<dyn Stage<A>>>,
    apis: &A,
    pass: &Pass<'_>,
    apply_mode: Apply,
    approval: approval::Approval<'_>,
) -> Report {
    observe(&mut stages, apis).await;
    let facts = evaluate(&mut stages, pass);
    let before = results(&stages);
    let actions = plan(&mut stages, pass);
    let mut guarded = guard(&mut stages, actions, &facts, pass);
    let decision = approval::gate(&mut guarded, approval);

    let executed = match apply_mode {
        Apply::Never => Vec::new(),
        Apply::Enforce => apply(&stages, apis, &guarded).await,
    };
    // The families a change touched read again; every family evaluates again, since a fresh
    // fact (public access closed) can make another family's controls moot.
    let mut touched: Vec<usize> = executed
        .iter()
        .filter(|r| r.outcome == Outcome::Applied)
        .map(|r| guarded[r.index].action.stage)
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let after = if touched.is_empty() {
        Vec::new()
    } else {
        let rereads = stages
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| touched.contains(i))
            .map(|(_, s)| s.observe(apis));
        futures::future::join_all(rereads).await;
        evaluate(&mut stages, pass);
        results(&stages)
    };
    let (mut controls, planned_actions) = conclude(before.clone(), &after, &guarded, &executed);
    // An exception that lapsed while the pass ran holds nothing any more: its controls are
    // reported as they are, and the caller looks again at once.
    let ended = jiff::Timestamp::now();
    let mut lapsed = false;
    for control in controls.iter_mut() {
        let still_held = pass
            .exceptions
            .iter()
            .any(|e| e.active_at(ended) && e.covers(&control.id));
        if let (ControlState::Excepted, Some(held), false) =
            (control.state, control.excepted_from, still_held)
        {
            control.state = held;
            control.reason = None;
            control.excepted_from = None;
            control.message =
                Some("the exception expired during this pass; judged again on the next".into());
            lapsed = true;
        }
    }
    // Each remediation is logged once, with what was found and what was set (never a secret:
    // controls carry configuration values only).
    for c in controls
        .iter()
        .filter(|c| c.state == ControlState::Remediated)
    {
        let observed_before = before
            .iter()
            .find(|b| b.id == c.id)
            .and_then(|b| b.observed.as_deref());
        info!(
            control = %c.id,
            desired = c.desired.as_deref().unwrap_or("-"),
            observed = observed_before.unwrap_or("-"),
            "remediated"
        );
    }
    Report {
        controls,
        planned_actions,
        executed,
        exception_lapsed: lapsed,
        window_opens: None,
        pending_approval: decision.pending,
        approval_released: decision.released,
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
