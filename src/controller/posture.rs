//! What the reconciler needs to know of a resource kind: a `DatabricksWorkspace` or a
//! `DatabricksAccount`. Both have the same life (baseline, Secret, target, clients, one engine
//! pass, status, events, reports, metrics); they differ in their policy, their clients and the
//! families the engine runs over them.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use kube::Resource;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::api::{
    AccountPolicy, DatabricksAccount, DatabricksWorkspace, DatabricksWorkspaceStatus, Policy,
    SecurityBaselineSpec, WorkspaceAuth,
};
use crate::clients::{ClientOptions, Credential};
use crate::controls::WorkspaceApis;
use crate::controls::account::AccountApis;
use crate::engine::credentials::{self, CredentialError};
use crate::engine::{self, Apply, Reach, Report, Target, TargetError};

/// Cached clients of one resource kind, with the fingerprint of what they were built from.
pub type ClientCache<K, A> = Mutex<HashMap<ObjectRef<K>, (u64, A)>>;

/// A resource brickwarden reconciles.
pub trait Posture:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    type Policy: Send + Sync;
    type Apis: Clone + Send + Sync;

    /// What logs and messages call it: `workspace` or `account`.
    const NOUN: &'static str;

    /// The `workspace` label of its metric series: a workspace's name, `account/<name>` for
    /// an account (Kubernetes names hold no `/`, so the two never collide).
    fn metrics_name(name: &str) -> String;

    fn status(&self) -> Option<&DatabricksWorkspaceStatus>;
    fn is_suspended(&self) -> bool;
    fn resync_interval(&self) -> Duration;
    fn baseline_ref(&self) -> Option<&str>;
    fn auth(&self) -> &WorkspaceAuth;
    /// Where its API is, for the span and the client cache's fingerprint.
    fn host(&self) -> &str;
    /// Whatever else its clients are built from (beyond host, auth and secret).
    fn hash_connection(&self, hasher: &mut impl Hasher);

    fn target(
        &self,
        baseline: Option<&SecurityBaselineSpec>,
        reach: &Reach,
        now: jiff::Timestamp,
    ) -> Result<Target<Self::Policy>, TargetError>;

    fn connect(
        &self,
        credential: Credential,
        options: &ClientOptions,
        arm_url: &Url,
    ) -> Result<Self::Apis, CredentialError>;

    /// One engine pass.
    fn run(target: &Target<Self::Policy>, apis: &Self::Apis)
    -> impl Future<Output = Report> + Send;

    /// Its kind's client cache in `ctx`.
    fn cache(ctx: &super::Context) -> &ClientCache<Self, Self::Apis>;
}

impl Posture for DatabricksWorkspace {
    type Policy = Policy;
    type Apis = WorkspaceApis;
    const NOUN: &'static str = "workspace";

    fn metrics_name(name: &str) -> String {
        name.to_string()
    }

    fn status(&self) -> Option<&DatabricksWorkspaceStatus> {
        self.status.as_ref()
    }

    fn is_suspended(&self) -> bool {
        DatabricksWorkspace::is_suspended(self)
    }

    fn resync_interval(&self) -> Duration {
        self.spec.resync_interval()
    }

    fn baseline_ref(&self) -> Option<&str> {
        self.spec.baseline_ref.as_deref()
    }

    fn auth(&self) -> &WorkspaceAuth {
        &self.spec.auth
    }

    fn host(&self) -> &str {
        &self.spec.host
    }

    fn hash_connection(&self, hasher: &mut impl Hasher) {
        self.spec.azure_resource_id.hash(hasher);
    }

    fn target(
        &self,
        baseline: Option<&SecurityBaselineSpec>,
        reach: &Reach,
        now: jiff::Timestamp,
    ) -> Result<Target<Policy>, TargetError> {
        engine::target_for(&self.spec, baseline, reach, now)
    }

    fn connect(
        &self,
        credential: Credential,
        options: &ClientOptions,
        arm_url: &Url,
    ) -> Result<WorkspaceApis, CredentialError> {
        credentials::connect(&self.spec, credential, options, arm_url)
    }

    async fn run(target: &Target<Policy>, apis: &WorkspaceApis) -> Report {
        engine::reconcile(target, apis, Apply::Enforce).await
    }

    fn cache(ctx: &super::Context) -> &ClientCache<Self, WorkspaceApis> {
        &ctx.workspace_clients
    }
}

impl Posture for DatabricksAccount {
    type Policy = AccountPolicy;
    type Apis = AccountApis;
    const NOUN: &'static str = "account";

    fn metrics_name(name: &str) -> String {
        format!("account/{name}")
    }

    fn status(&self) -> Option<&DatabricksWorkspaceStatus> {
        self.status.as_ref()
    }

    fn is_suspended(&self) -> bool {
        DatabricksAccount::is_suspended(self)
    }

    fn resync_interval(&self) -> Duration {
        self.spec.resync_interval()
    }

    fn baseline_ref(&self) -> Option<&str> {
        self.spec.baseline_ref.as_deref()
    }

    fn auth(&self) -> &WorkspaceAuth {
        &self.spec.auth
    }

    fn host(&self) -> &str {
        &self.spec.host
    }

    fn hash_connection(&self, hasher: &mut impl Hasher) {
        self.spec.account_id.hash(hasher);
    }

    fn target(
        &self,
        baseline: Option<&SecurityBaselineSpec>,
        reach: &Reach,
        now: jiff::Timestamp,
    ) -> Result<Target<AccountPolicy>, TargetError> {
        engine::target_for_account(&self.spec, baseline, reach, now)
    }

    fn connect(
        &self,
        credential: Credential,
        options: &ClientOptions,
        _arm_url: &Url,
    ) -> Result<AccountApis, CredentialError> {
        credentials::connect_account(&self.spec, credential, options)
    }

    async fn run(target: &Target<AccountPolicy>, apis: &AccountApis) -> Report {
        engine::reconcile_account(target, apis, Apply::Enforce).await
    }

    fn cache(ctx: &super::Context) -> &ClientCache<Self, AccountApis> {
        &ctx.account_clients
    }
}

/// The metrics name of a resource given by kind and name (a deleted object's erased ref).
pub fn metrics_name_of(kind: &str, name: &str) -> String {
    if kind == DatabricksAccount::kind(&()) {
        DatabricksAccount::metrics_name(name)
    } else {
        DatabricksWorkspace::metrics_name(name)
    }
}
