//! What the account's network families (NCCs, network policies, private access settings) have
//! in common: objects declared by name and matched with live ones by name, workspaces bound to
//! them, undeclared objects that only management: Exclusive deletes, and creates that must not
//! run twice.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use super::Account;
use crate::api::{
    self, ControlState, Management, Mode, NetworkConnectivityConfig, NetworkPolicy, WorkspaceId,
};
use crate::clients::databricks::{
    AccountNetworkPolicy, AccountWorkspace, NetworkConnectivityConfiguration, PrivateAccessSettings,
};
use crate::clients::{ApiError, DatabricksClient};
use crate::controls::{Blocked, Finding, Pass, ReadError, Reason};

/// Regions compared as the APIs spell them in different places (`westeurope`, `West Europe`).
pub(super) fn same_region(a: &str, b: &str) -> bool {
    let norm = |r: &str| -> String {
        r.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    norm(a) == norm(b)
}

/// What one of these families is to make true: its declared objects, whether undeclared
/// ones are deleted, and the mode.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredObjects<D> {
    pub declared: Vec<D>,
    /// Undeclared objects are deleted (management: Exclusive).
    pub exclusive: bool,
    pub mode: Mode,
}

impl<D: Clone> DeclaredObjects<D> {
    /// `None` when the policy has no such list: the family is not managed.
    pub(super) fn of(declared: Option<&Vec<D>>, account: &Account, pass: &Pass) -> Option<Self> {
        Some(DeclaredObjects {
            declared: declared?.clone(),
            exclusive: account.policy.management == Some(Management::Exclusive),
            mode: pass.mode,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Declared and live objects

/// A declared object: a name and the workspaces bound to it.
pub(super) trait Declared {
    fn name(&self) -> &str;
    fn workspaces(&self) -> &[WorkspaceId];
}

impl Declared for NetworkConnectivityConfig {
    fn name(&self) -> &str {
        &self.name
    }
    fn workspaces(&self) -> &[WorkspaceId] {
        &self.workspaces
    }
}

impl Declared for NetworkPolicy {
    fn name(&self) -> &str {
        &self.name
    }
    fn workspaces(&self) -> &[WorkspaceId] {
        &self.workspaces
    }
}

impl Declared for api::PrivateAccessSettings {
    fn name(&self) -> &str {
        &self.name
    }
    fn workspaces(&self) -> &[WorkspaceId] {
        &self.workspaces
    }
}

/// The declared object of that name.
pub(super) fn declared<'a, D: Declared>(declared: &'a [D], name: &str) -> Option<&'a D> {
    declared.iter().find(|d| d.name() == name)
}

/// Whether any declared object binds a workspace (only then are bindings read).
pub(super) fn binds<D: Declared>(declared: &[D]) -> bool {
    declared.iter().any(|d| !d.workspaces().is_empty())
}

/// Every control of the declared objects in the order they are reported: each object's own
/// controls, then one per bound workspace; last the control of the undeclared ones.
pub(super) fn controls<D: Declared, C>(
    declared: &[D],
    own: impl Fn(&D) -> Vec<C>,
    workspace: impl Fn(&D, WorkspaceId) -> C,
    undeclared: C,
) -> Vec<C> {
    let mut all = Vec::new();
    for d in declared {
        all.extend(own(d));
        all.extend(d.workspaces().iter().map(|w| workspace(d, *w)));
    }
    all.push(undeclared);
    all
}

/// A live object as an account API lists it.
pub(super) trait Live {
    /// `None` for an object the API sent without one: no declared object matches it.
    fn name(&self) -> Option<&str>;
    /// The id a workspace refers to it by.
    fn id(&self) -> &str;
}

impl Live for NetworkConnectivityConfiguration {
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
    fn id(&self) -> &str {
        &self.network_connectivity_config_id
    }
}

/// A network policy's id is its name.
impl Live for AccountNetworkPolicy {
    fn name(&self) -> Option<&str> {
        self.network_policy_id.as_deref()
    }
    fn id(&self) -> &str {
        self.network_policy_id.as_deref().unwrap_or_default()
    }
}

impl Live for PrivateAccessSettings {
    fn name(&self) -> Option<&str> {
        Some(&self.private_access_settings_name)
    }
    fn id(&self) -> &str {
        &self.private_access_settings_id
    }
}

/// The live object a declared one of that name is matched with.
pub(super) fn live<'a, T: Live>(live: &'a [T], name: &str) -> Option<&'a T> {
    live.iter().find(|l| l.name() == Some(name))
}

/// The live objects no declared object names, in the order listed.
pub(super) fn undeclared<'a, T: Live, D: Declared>(
    live: &'a [T],
    declared: &[D],
) -> impl Iterator<Item = (&'a T, &'a str)> {
    live.iter()
        .filter_map(|l| l.name().map(|name| (l, name)))
        .filter(|(_, name)| !declared.iter().any(|d| d.name() == *name))
}

/// An object a change works on: its id when it existed at plan time, else only its name (it is
/// created earlier in the same pass; the id is looked up when the change runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub name: String,
    pub id: Option<String>,
}

impl ObjectRef {
    pub(super) fn to<T: Live>(live_objects: &[T], name: &str) -> ObjectRef {
        ObjectRef {
            name: name.to_string(),
            id: live(live_objects, name).map(|l| l.id().to_string()),
        }
    }

    /// The id; one `listing` when the object was created in the same pass.
    pub(super) async fn resolve<T: Live>(
        &self,
        listing: impl Future<Output = Result<Vec<T>, ApiError>>,
        missing: impl FnOnce(&str) -> String,
    ) -> Result<String, ApiError> {
        match &self.id {
            Some(id) => Ok(id.clone()),
            None => Ok(find(listing, &self.name, missing).await?.id().to_string()),
        }
    }
}

/// The live object of that name in a fresh `listing`; `missing` says why there is none.
pub(super) async fn find<T: Live>(
    listing: impl Future<Output = Result<Vec<T>, ApiError>>,
    name: &str,
    missing: impl FnOnce(&str) -> String,
) -> Result<T, ApiError> {
    listing
        .await?
        .into_iter()
        .find(|l| l.name() == Some(name))
        .ok_or_else(|| ApiError::InvalidRequest(missing(name)))
}

// ---------------------------------------------------------------------------------------------
// Creating once

/// Whether a failed create may have been carried out all the same: the server failed or the
/// answer was lost after the request was sent. The client does not repeat such a POST; the
/// family reads again before it would create twice.
pub(super) fn may_have_committed(err: &ApiError) -> bool {
    match err {
        ApiError::Api { status, .. } => *status >= 500,
        ApiError::Transport { connect, .. } => !connect,
        ApiError::Timeout { .. } | ApiError::Decode { .. } => true,
        _ => false,
    }
}

/// How a create ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Created {
    Answered,
    /// The create failed in a way that may have committed, and `exists` found the object.
    FoundAfterError,
}

/// Runs a create; when it fails in a way that may have committed, `exists` (a re-read) decides
/// whether it counts as done, so a lost answer never leads to a second object.
pub(super) async fn create_once<T>(
    create: impl Future<Output = Result<T, ApiError>>,
    exists: impl Future<Output = bool>,
) -> Result<Created, ApiError> {
    match create.await {
        Ok(_) => Ok(Created::Answered),
        Err(err) if may_have_committed(&err) => {
            if exists.await {
                Ok(Created::FoundAfterError)
            } else {
                Err(err)
            }
        }
        Err(err) => Err(err),
    }
}

// ---------------------------------------------------------------------------------------------
// Values and findings

/// What every family's value may be besides its own objects' shapes. Each family's value has a
/// variant of this, so drift is still decided on one typed value per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Common {
    Absent,
    /// The object a workspace is bound to: its name, or its id when no live object has that
    /// id; `None`: none.
    BoundTo(Option<String>),
    /// Undeclared objects.
    Names(Vec<String>),
    /// Additive management: undeclared objects are not brickwarden's.
    LeftAlone,
}

impl Common {
    /// `unbound`: how a workspace bound to no object reads.
    pub(super) fn render(&self, f: &mut fmt::Formatter<'_>, unbound: &str) -> fmt::Result {
        match self {
            Common::Absent => f.write_str("absent"),
            Common::BoundTo(Some(name)) => f.write_str(name),
            Common::BoundTo(None) => f.write_str(unbound),
            Common::Names(names) if names.is_empty() => f.write_str("none"),
            Common::Names(names) => f.write_str(&names.join(", ")),
            Common::LeftAlone => f.write_str("left alone"),
        }
    }
}

/// A family's value, which the shared findings build from [`Common`].
pub(super) trait ObjectValue: From<Common> + Clone + PartialEq {}

impl<V: From<Common> + Clone + PartialEq> ObjectValue for V {}

/// A family's findings over the listing of its objects: what `evaluate` finds in it, or every
/// one of `controls` failed by the read; each finding with its `references`.
pub(super) fn over_listing<T, C, V>(
    listing: &Result<Vec<T>, ReadError>,
    controls: impl FnOnce() -> Vec<C>,
    evaluate: impl FnOnce(&[T]) -> Vec<Finding<C, V>>,
    references: impl Fn(&C) -> &'static [&'static str],
) -> Vec<Finding<C, V>> {
    let findings = match listing {
        Ok(live) => evaluate(live),
        Err(error) => controls()
            .into_iter()
            .map(|c| Finding::read_failed(c, error))
            .collect(),
    };
    findings
        .into_iter()
        .map(|f| {
            let references = references(&f.control);
            f.with_references(references)
        })
        .collect()
}

/// The finding of undeclared objects (`what`, plural): to be deleted under Exclusive, left
/// alone (and listed in the note) under Additive management.
pub(super) fn undeclared_finding<C, V: ObjectValue>(
    control: C,
    what: &str,
    names: Vec<String>,
    exclusive: bool,
) -> Finding<C, V> {
    if exclusive {
        let want = Common::Names(Vec::new()).into();
        return Finding::compare(control, want, Common::Names(names).into());
    }
    let which = if names.is_empty() {
        "none exist".to_string()
    } else {
        names.join(", ")
    };
    let left_alone = || Common::LeftAlone.into();
    Finding::compare(control, left_alone(), left_alone()).with_note(format!(
        "Additive management: undeclared {what} are never deleted ({which})"
    ))
}

/// Refuses a deleting change under Additive management (the plan makes none; this makes sure
/// none runs). `what`, plural, is what is never deleted.
pub(super) fn additive_guard(deletes: bool, exclusive: bool, what: &str) -> Option<Blocked> {
    (deletes && !exclusive).then(|| {
        Blocked::new(
            Reason::AdditiveManagement,
            format!("{what} are never deleted under Additive management"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Workspace bindings

/// The account's workspaces as read: `None` when no declared object binds one.
pub(super) type AccountWorkspaces = Option<Result<Vec<AccountWorkspace>, ReadError>>;

/// The account's workspaces, read only when `binds`.
pub(super) async fn read_account_workspaces(
    client: &DatabricksClient,
    binds: bool,
) -> AccountWorkspaces {
    if !binds {
        return None;
    }
    Some(
        client
            .list_account_workspaces()
            .await
            .map_err(ReadError::from),
    )
}

/// The workspace of that id in the account's list.
pub(super) fn account_workspace(
    workspaces: &[AccountWorkspace],
    id: WorkspaceId,
) -> Option<&AccountWorkspace> {
    workspaces.iter().find(|w| w.workspace_id == id)
}

/// Workspaces that more than one declared object claims (a workspace has one NCC, one network
/// policy, one private access settings object), with the names of those objects.
pub(super) fn claimed_twice<D: Declared>(declared: &[D]) -> BTreeMap<WorkspaceId, Vec<&str>> {
    let mut claims: BTreeMap<WorkspaceId, Vec<&str>> = BTreeMap::new();
    for d in declared {
        for id in d.workspaces() {
            claims.entry(*id).or_default().push(d.name());
        }
    }
    claims.retain(|_, names| names.len() > 1);
    claims
}

/// The declared binding of one workspace to one object, judged step by step; each step that
/// cannot pass is the finding.
pub(super) struct Binding<C, V> {
    pub control: C,
    pub want: V,
    pub workspace: WorkspaceId,
}

impl<C: Clone, V: ObjectValue> Binding<C, V> {
    pub(super) fn new(control: C, object: &str, workspace: WorkspaceId) -> Self {
        Binding {
            control,
            want: Common::BoundTo(Some(object.to_string())).into(),
            workspace,
        }
    }

    /// Failed: brickwarden cannot make the binding, for `why`.
    pub(super) fn blocked(&self, why: String) -> Finding<C, V> {
        let absent = Common::Absent.into();
        Finding::compare(self.control.clone(), self.want.clone(), absent).held(
            ControlState::Failed,
            Reason::RemediationBlocked,
            why,
        )
    }

    /// Failed when another declared object (`what`) claims the workspace too.
    pub(super) fn unclaimed(
        &self,
        claimed: &BTreeMap<WorkspaceId, Vec<&str>>,
        what: &str,
    ) -> Result<(), Finding<C, V>> {
        let id = self.workspace;
        match claimed.get(&id) {
            None => Ok(()),
            Some(names) => Err(self.blocked(format!(
                "workspace {id} is declared for {what}s {}: a workspace has only one {what}",
                names.join(" and ")
            ))),
        }
    }

    /// Failed: the account has no workspace of this id.
    pub(super) fn not_in_account(&self) -> Finding<C, V> {
        let id = self.workspace;
        self.blocked(format!("workspace {id} is not a workspace of this account"))
    }

    /// The workspace in the account's list, which has to be in `region`; `other_region` says
    /// why a workspace of another region cannot bind.
    pub(super) fn account_workspace<'w>(
        &self,
        workspaces: Option<&'w Result<Vec<AccountWorkspace>, ReadError>>,
        region: &str,
        other_region: impl FnOnce(&str) -> String,
    ) -> Result<&'w AccountWorkspace, Finding<C, V>> {
        let workspaces = match workspaces {
            Some(Ok(workspaces)) => workspaces,
            Some(Err(error)) => return Err(Finding::read_failed(self.control.clone(), error)),
            None => {
                let error = ReadError::not_read("the account's workspaces");
                return Err(Finding::read_failed(self.control.clone(), &error));
            }
        };
        let Some(workspace) = account_workspace(workspaces, self.workspace) else {
            return Err(self.not_in_account());
        };
        match workspace.region() {
            Some(at) if !same_region(at, region) => Err(self.blocked(other_region(at))),
            _ => Ok(workspace),
        }
    }

    /// Compliant when the workspace refers to the live object of the declared name by its id
    /// (`bound`); the value names what it is bound to, or its id when no live object has it.
    pub(super) fn judge<T: Live>(
        self,
        live_objects: &[T],
        object: &str,
        bound: Option<&str>,
    ) -> Finding<C, V> {
        let bound_name = bound.map(|b| {
            live_objects
                .iter()
                .find(|l| l.id() == b)
                .and_then(|l| l.name())
                .unwrap_or(b)
                .to_string()
        });
        let compliant = live(live_objects, object).is_some_and(|l| Some(l.id()) == bound);
        let observed = Common::BoundTo(bound_name).into();
        Finding::judged(self.control, compliant, self.want, observed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_compare_as_spelt_anywhere() {
        assert!(same_region("westeurope", "West Europe"));
        assert!(!same_region("westeurope", "northeurope"));
    }

    #[test]
    fn a_workspace_claimed_by_two_objects_names_both() {
        let declared = |name: &str, workspaces: &[i64]| NetworkConnectivityConfig {
            name: name.into(),
            region: "westeurope".into(),
            private_endpoint_rules: Vec::new(),
            workspaces: workspaces.to_vec(),
        };
        let declared = [declared("a", &[1, 2]), declared("b", &[2])];
        let claims = claimed_twice(&declared);
        assert_eq!(claims, BTreeMap::from([(2, vec!["a", "b"])]));
    }
}
