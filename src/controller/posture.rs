//! What the reconciler needs to know of a resource kind beyond the pipeline's [`Subject`]: a
//! `DatabricksWorkspace` or a `DatabricksAccount` as a Kubernetes object (its status, whether it
//! is suspended, its resync interval, its metric series, its client cache).

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use kube::Resource;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{DatabricksAccount, DatabricksWorkspace, DatabricksWorkspaceStatus};
use crate::engine::Subject;

/// Cached clients of one resource kind, with the fingerprint of what they were built from.
pub type ClientCache<K, A> = Mutex<HashMap<ObjectRef<K>, (u64, A)>>;

/// A resource the controller reconciles.
pub trait Posture:
    Subject
    + Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// The `workspace` label of its metric series: a workspace's name, `account/<name>` for
    /// an account (Kubernetes names hold no `/`, so the two never collide).
    fn metrics_name(name: &str) -> String;

    fn status(&self) -> Option<&DatabricksWorkspaceStatus>;
    /// Whatever its clients are built from beyond host, auth and secret.
    fn hash_connection(&self, hasher: &mut impl Hasher);

    /// Its kind's client cache in `ctx`.
    fn cache(ctx: &super::Context) -> &ClientCache<Self, Self::Apis>;

    /// The `DatabricksAccount` that governs it and its workspace id, for `status.account`.
    fn governed_by(&self) -> Option<(&str, Option<i64>)> {
        None
    }

    fn is_suspended(&self) -> bool {
        self.governance().suspends(self.meta())
    }

    fn resync_interval(&self) -> Duration {
        self.governance().resync_interval()
    }
}

impl Posture for DatabricksWorkspace {
    fn metrics_name(name: &str) -> String {
        name.to_string()
    }

    fn status(&self) -> Option<&DatabricksWorkspaceStatus> {
        self.status.as_ref()
    }

    fn hash_connection(&self, hasher: &mut impl Hasher) {
        self.spec.azure_resource_id.hash(hasher);
    }

    fn cache(ctx: &super::Context) -> &ClientCache<Self, Self::Apis> {
        &ctx.workspace_clients
    }

    fn governed_by(&self) -> Option<(&str, Option<i64>)> {
        let account = self.spec.account_ref.as_deref()?;
        Some((account, self.spec.workspace_id()))
    }
}

impl Posture for DatabricksAccount {
    fn metrics_name(name: &str) -> String {
        format!("account/{name}")
    }

    fn status(&self) -> Option<&DatabricksWorkspaceStatus> {
        self.status.as_ref()
    }

    fn hash_connection(&self, hasher: &mut impl Hasher) {
        self.spec.account_id.hash(hasher);
    }

    fn cache(ctx: &super::Context) -> &ClientCache<Self, Self::Apis> {
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
