//! The one shape every control family has, workspace- or account-level.
//!
//! A family reads the live state it manages (`observe`), compares it with its slice of the
//! policy into typed [`Finding`]s (`evaluate`), turns the drifted ones into ordered changes
//! (`plan`), refuses what its own rules forbid (`guard`) and carries a change out (`execute`).
//! Every step but `observe` and `execute` is pure. What concerns several families (who may reach
//! the workspace, Private Link, irreversible settings, destructive changes) is not decided by the
//! families themselves: they describe it as data, [`Fact`]s about what they read and
//! [`Effect`]s of what they change, and the engine's rules judge those once for every family.

use std::fmt::{Debug, Display};
use std::future::Future;

use ipnet::Ipv4Net;

use super::result::{ReadError, Reason};
use crate::api::{ControlState, Exception, Mode};
use crate::clients::ApiError;
use crate::clients::databricks::ListType;

/// What every step of one pass may know besides desired and observed state.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    /// The resource's mode; a family's own `mode` overrides it ([`Pass::mode_of`]).
    pub mode: Mode,
    /// The pass's clock, read once so that every step judges time alike.
    pub now: jiff::Timestamp,
    /// Addresses no change may lock out: break-glass ranges and the controller's own egress.
    pub protected: &'a [Ipv4Net],
    /// brickwarden reaches the workspaces over Private Link, so closing public network access
    /// does not cut it off.
    pub private_network: bool,
    /// Accepted risks; each applies only while `now` is before its expiry.
    pub exceptions: &'a [Exception],
}

impl Pass<'_> {
    /// The effective mode of a family: its own override, else the resource's.
    pub fn mode_of(&self, family: Option<Mode>) -> Mode {
        family.unwrap_or(self.mode)
    }
}

/// The order in which actions run; within a step, the plan's order. Access is widened before it
/// is narrowed so that no intermediate state locks anybody out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Create or widen ALLOW lists, remove BLOCK entries, turn IP access lists off.
    WidenAccess,
    /// Turn IP access lists on, once an ALLOW list covers the callers.
    EnableIpAccessLists,
    /// Narrow or delete ALLOW lists, add BLOCK lists.
    NarrowAccess,
    /// Every other configuration change.
    Configure,
    /// Destructive clean-up: token revocation.
    Revoke,
    /// Azure network changes, last: disabling public network access can cut the controller
    /// off from the workspace API.
    Network,
}

/// The verdict on one control, with typed desired and observed values: drift is decided on
/// these, and they are rendered to strings only for status and output.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding<C, V> {
    pub control: C,
    pub state: ControlState,
    pub desired: Option<V>,
    pub observed: Option<V>,
    pub reason: Option<Reason>,
    /// What the control has to say beyond its values (e.g. tokens deliberately kept).
    pub note: Option<String>,
    /// The read that failed, kept typed (an authentication failure is known by its status).
    pub error: Option<ReadError>,
    /// The state an exception holds back (the control is `Excepted`).
    pub excepted_from: Option<ControlState>,
    pub references: &'static [&'static str],
}

impl<C, V: PartialEq> Finding<C, V> {
    /// Compliant when the typed values are equal, Drifted otherwise.
    pub fn compare(control: C, desired: V, observed: V) -> Self {
        let compliant = desired == observed;
        Finding::judged(control, compliant, desired, observed)
    }

    /// Compliant or Drifted as the family judged (e.g. "includes" under Additive management).
    pub fn judged(control: C, compliant: bool, desired: V, observed: V) -> Self {
        let state = if compliant {
            ControlState::Compliant
        } else {
            ControlState::Drifted
        };
        Finding {
            desired: Some(desired),
            observed: Some(observed),
            ..Finding::bare(control, state)
        }
    }
}

impl<C, V> Finding<C, V> {
    fn bare(control: C, state: ControlState) -> Self {
        Finding {
            control,
            state,
            desired: None,
            observed: None,
            reason: None,
            note: None,
            error: None,
            excepted_from: None,
            references: &[],
        }
    }

    /// The family's state could not be read. A refusal for the workspace's pricing tier is no
    /// failure: the control does not apply to the workspace.
    pub fn read_failed(control: C, error: &ReadError) -> Self {
        if error.needs_premium {
            return Finding::not_applicable(
                control,
                format!("needs the Premium pricing tier: {}", error.message),
            );
        }
        Finding {
            reason: Some(Reason::ReadFailed),
            error: Some(error.clone()),
            ..Finding::bare(control, ControlState::Failed)
        }
    }

    pub fn not_applicable(control: C, why: impl Into<String>) -> Self {
        Finding {
            reason: Some(Reason::NotApplicable),
            note: Some(why.into()),
            ..Finding::bare(control, ControlState::NotApplicable)
        }
    }

    /// The control is not what it should be and brickwarden will not change it: `state` with
    /// `reason`, and a message saying why.
    pub fn held(mut self, state: ControlState, reason: Reason, why: impl Into<String>) -> Self {
        self.state = state;
        self.reason = Some(reason);
        self.note = Some(why.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn with_references(mut self, references: &'static [&'static str]) -> Self {
        self.references = references;
        self
    }

    pub fn is_drifted(&self) -> bool {
        self.state == ControlState::Drifted
    }

    /// The same finding with its values converted (a family reusing another's judgement).
    pub fn map_values<W>(self, f: impl Fn(V) -> W) -> Finding<C, W> {
        Finding {
            control: self.control,
            state: self.state,
            desired: self.desired.map(&f),
            observed: self.observed.map(&f),
            reason: self.reason,
            note: self.note,
            error: self.error,
            excepted_from: self.excepted_from,
            references: self.references,
        }
    }
}

/// A change a family plans, the controls it fixes and the mode it runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned<C, X> {
    pub controls: Vec<C>,
    pub step: Step,
    pub mode: Mode,
    pub change: X,
}

impl<C, X> Planned<C, X> {
    /// A change that fixes one control.
    pub fn one(control: C, step: Step, mode: Mode, change: X) -> Self {
        Planned {
            controls: vec![control],
            step,
            mode,
            change,
        }
    }
}

/// Why an action must not run. `reason` is one of [`Reason`]'s blocking reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub reason: Reason,
    pub message: String,
}

impl Blocked {
    pub fn new(reason: Reason, message: impl Into<String>) -> Blocked {
        Blocked {
            reason,
            message: message.into(),
        }
    }
}

/// A change split in two parts, each with the controls it fixes: the part that may run and the
/// part that carries a refused effect.
pub type Split<C, X> = [(Vec<C>, X); 2];

/// One IP access list as the lockout guard sees it. `key` identifies the list across changes
/// (the list id of a live list, the label of one a change creates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList {
    pub key: String,
    pub list_type: ListType,
    pub enabled: bool,
    pub addresses: Vec<Ipv4Net>,
}

/// What a family read that other families' rules depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// IP access lists are enforced (workspace-conf `enableIpAccessLists`, or the account's
    /// enablement).
    IpAccessListsEnabled(bool),
    /// The live IP access lists.
    IpAccessLists(Vec<AccessList>),
    /// The policy declares an enabled ALLOW list, so turning lists on cannot shut everyone out.
    DeclaresAllowList(bool),
    /// Public network access is disabled: the resource is reachable only over Private Link.
    PrivateLinkOnly,
}

/// What a change does beyond its own family, for the rules that guard every family alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Turns IP access list enforcement on or off.
    EnablesIpAccessLists(bool),
    /// Creates, or replaces by `key`, one IP access list.
    PutsIpAccessList(AccessList),
    /// Deletes the IP access list `key`.
    DeletesIpAccessList { key: String },
    /// Disables public network access: afterwards only Private Link reaches the resource.
    ClosesPublicNetworkAccess,
    /// Turns off a setting that can never be turned off (the compliance security profile).
    TurnsOffIrreversible { what: &'static str },
    /// Removes something (a token, a grant, an ACL, a list): a destructive change.
    Destructive,
}

impl Effect {
    /// Whether the effect changes who may reach the resource.
    pub fn touches_access(&self) -> bool {
        matches!(
            self,
            Effect::EnablesIpAccessLists(_)
                | Effect::PutsIpAccessList(_)
                | Effect::DeletesIpAccessList { .. }
        )
    }
}

/// One policy family. The associated types keep each family's knowledge typed from read to
/// plan; the engine erases them only to order, guard and report actions across families.
pub trait Family: Send + Sync + 'static {
    /// The policy of the resource kind the family belongs to (a workspace's or an account's).
    type Policy: Sync;
    /// The API clients the family reads and writes through.
    type Apis: Sync;
    /// The family's slice of the policy, modes resolved; `None` from [`Family::desired`] when the
    /// policy manages nothing of the family, which is then neither read nor reported.
    type Desired: Send + Sync;
    type Observed: Send + Sync;
    /// Which control a finding is about.
    type Control: Clone + Debug + PartialEq + Send + Sync;
    /// A desired or observed value; `Display` renders it for status.
    type Value: Clone + Debug + PartialEq + Display + Send + Sync;
    type Change: Clone + Debug + PartialEq + Send + Sync;

    fn desired(policy: &Self::Policy, pass: &Pass) -> Option<Self::Desired>;

    fn observe(
        desired: &Self::Desired,
        apis: &Self::Apis,
    ) -> impl Future<Output = Self::Observed> + Send;

    /// One finding per control, in a stable order.
    fn evaluate(
        desired: &Self::Desired,
        observed: &Self::Observed,
        pass: &Pass,
    ) -> Vec<Finding<Self::Control, Self::Value>>;

    /// The changes that fix the `drifted` findings (the family's own, after the engine's rules),
    /// in the family's order.
    fn plan(
        desired: &Self::Desired,
        observed: &Self::Observed,
        drifted: &[&Finding<Self::Control, Self::Value>],
        pass: &Pass,
    ) -> Vec<Planned<Self::Control, Self::Change>>;

    /// The family's own refusals (e.g. a delete that Additive management forbids). The rules
    /// that concern several families are the engine's, judged on [`Family::effects`].
    fn guard(_desired: &Self::Desired, _change: &Self::Change) -> Option<Blocked> {
        None
    }

    fn execute(
        change: &Self::Change,
        apis: &Self::Apis,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The control id of a control, `family/name`: the same in status, metrics and output.
    fn control_id(control: &Self::Control) -> String;

    /// A one-line, secret-free description, as shown in `status.plannedActions` and events.
    fn describe(change: &Self::Change) -> String;

    /// What `change` does for one of its controls (a batched change names only that part).
    fn describe_for(change: &Self::Change, _control: &Self::Control) -> String {
        Self::describe(change)
    }

    fn effects(_change: &Self::Change) -> Vec<Effect> {
        Vec::new()
    }

    /// When a rule blocks `effect` of `change`: the part that may still run and the part that
    /// carries the effect, each with the controls it fixes. `None`: the change is indivisible
    /// and is blocked whole.
    fn split_off(
        _change: &Self::Change,
        _effect: &Effect,
    ) -> Option<Split<Self::Control, Self::Change>> {
        None
    }

    fn facts(_desired: &Self::Desired, _observed: &Self::Observed) -> Vec<Fact> {
        Vec::new()
    }
}
