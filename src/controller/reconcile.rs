//! `reconcile(Arc<K>, Arc<Context>) -> Result<Action>` and its error policy, for every
//! [`Posture`] kind (`DatabricksWorkspace`, `DatabricksAccount`).
//!
//! Kubernetes I/O only: loading the baseline and the Secret, writing status and events. Everything
//! about the workspace or account itself happens in [`crate::engine`].

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::DynamicObject;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, Resource, ResourceExt};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use tracing::{Instrument, info, info_span, warn};

use super::expiry;
use super::posture::{ClientCache, Posture, metrics_name_of};
use super::status::{self, NotReady};
use crate::api::{
    DatabricksAccount, DatabricksWorkspace, DatabricksWorkspaceStatus, SecurityBaseline, not_ready,
};
use crate::clients::ClientOptions;
use crate::controls::WorkspaceApis;
use crate::controls::account::AccountApis;
use crate::engine::{self, Reach, Subject, credentials};
use crate::metrics::Metrics;

const FIELD_MANAGER: &str = "brickwarden";
/// How soon a workspace that is not ready is looked at again (watches on Secrets and baselines
/// usually trigger sooner).
const NOT_READY_REQUEUE: Duration = Duration::from_secs(60);
/// A status that did not change is written again at most this often, so `lastReconcileTime`
/// stays a useful heartbeat without one write per workspace per resync.
const STATUS_HEARTBEAT: Duration = Duration::from_secs(3600);

/// Requests in flight at once over every client of a [`Context`], unless
/// [`Context::with_max_requests_in_flight`] says otherwise.
pub const DEFAULT_MAX_REQUESTS_IN_FLIGHT: usize = 64;

/// The resync interval, spread by ±10%: workspaces that started together (a restart, a new
/// fleet) drift apart instead of reading their APIs in the same second every interval.
fn spread(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.9..1.1))
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
}

/// A workspace or account, its kind kept.
type Key = ObjectRef<DynamicObject>;

pub fn key_of<K: Posture>(obj: &K) -> Key {
    ObjectRef::from_obj(obj).erase()
}

/// Shared state of the reconcilers.
pub struct Context {
    client: Client,
    metrics: Arc<Metrics>,
    reach: Reach,
    arm_url: url::Url,
    recorder: Recorder,
    options: ClientOptions,
    /// Clients per workspace and per account, reused while host, auth and secret stay the
    /// same, so tokens are cached across passes. The key's fingerprint never leaves the process.
    pub(super) workspace_clients: ClientCache<DatabricksWorkspace, WorkspaceApis>,
    pub(super) account_clients: ClientCache<DatabricksAccount, AccountApis>,
    /// Consecutive failures per resource, for the error backoff.
    failures: Mutex<HashMap<Key, u32>>,
    /// Every resource reconciled since start, so that a deleted one is forgotten even when it
    /// never got clients (not ready) or its delete event was missed.
    seen: Mutex<std::collections::HashSet<Key>>,
    /// PolicyReports: where their CRDs are served and what was last written.
    reports: Arc<super::reports::Reports>,
}

impl Context {
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        reach: Reach,
        arm_url: url::Url,
        reporter: Reporter,
    ) -> Context {
        let mut options = ClientOptions::default();
        options.http.observer = metrics.clone();
        options.http.max_in_flight = Some(Arc::new(tokio::sync::Semaphore::new(
            DEFAULT_MAX_REQUESTS_IN_FLIGHT,
        )));
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            reach,
            arm_url,
            options,
            workspace_clients: Mutex::default(),
            account_clients: Mutex::default(),
            failures: Mutex::default(),
            seen: Mutex::default(),
            reports: Arc::default(),
        }
        .share_http_client()
    }

    /// Drops cached clients and metric series of the resources of kind `K` that no longer
    /// exist (`live` is every one that does).
    pub fn forget_deleted<K: Posture>(&self, live: &[Arc<K>]) {
        let live: std::collections::HashSet<Key> = live.iter().map(|w| key_of(&**w)).collect();
        let kind = K::kind(&());
        let gone: Vec<Key> = crate::lock::lock(&self.seen)
            .iter()
            .filter(|k| k.dyntype.kind == kind && !live.contains(k))
            .cloned()
            .collect();
        for key in gone {
            self.forget(&key);
        }
    }

    /// Drops the cached clients, failure count and metric series of a deleted workspace or
    /// account.
    pub fn forget(&self, key: &Key) {
        if !crate::lock::lock(&self.seen).remove(key) {
            return;
        }
        let kind = key.dyntype.kind.as_str();
        let noun = if kind == DatabricksAccount::kind(&()) {
            DatabricksAccount::NOUN
        } else {
            DatabricksWorkspace::NOUN
        };
        info!(namespace = ?key.namespace, name = %key.name, "{noun} deleted: no longer managed");
        if kind == DatabricksAccount::kind(&()) {
            forget_clients(&self.account_clients, key);
        } else {
            forget_clients(&self.workspace_clients, key);
        }
        crate::lock::lock(&self.failures).remove(key);
        let namespace = key.namespace.as_deref().unwrap_or_default();
        self.reports.forget(kind, namespace, &key.name);
        self.metrics
            .forget_workspace(namespace, &metrics_name_of(kind, &key.name));
    }

    /// The PolicyReport writer every reconciler of this context shares.
    pub fn reports(&self) -> Arc<super::reports::Reports> {
        self.reports.clone()
    }

    /// At most `n` requests in flight at once over every client this context creates
    /// (`--max-requests-in-flight`; default [`DEFAULT_MAX_REQUESTS_IN_FLIGHT`]).
    pub fn with_max_requests_in_flight(mut self, n: usize) -> Self {
        self.options.http.max_in_flight = Some(Arc::new(tokio::sync::Semaphore::new(n.max(1))));
        self
    }

    /// Trusts these certificates in addition to the system roots (`--ca-bundle`).
    pub fn with_extra_roots(mut self, roots: Vec<reqwest::Certificate>) -> Self {
        self.options.http.extra_roots = roots;
        self.share_http_client()
    }

    /// Every workspace's clients share one HTTP client built from the final options (memory
    /// per workspace stays small at fleet scale). Should that fail, each builds its own and
    /// reports the same error itself.
    fn share_http_client(mut self) -> Self {
        let http = std::mem::take(&mut self.options.http);
        self.options.http = match http.clone().shared() {
            Ok(shared) => shared,
            Err(_) => http,
        };
        self
    }

    fn connections_for<K: Posture>(
        &self,
        obj: &K,
        secret: Option<SecretString>,
    ) -> Result<K::Apis, NotReady> {
        let key = ObjectRef::from_obj(obj);
        let cache = K::cache(self);
        let mut hasher = DefaultHasher::new();
        obj.host().hash(&mut hasher);
        obj.hash_connection(&mut hasher);
        serde_json::to_string(obj.auth())
            .unwrap_or_default()
            .hash(&mut hasher);
        secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .hash(&mut hasher);
        let fingerprint = hasher.finish();
        if let Some((f, c)) = crate::lock::lock(cache).get(&key)
            && *f == fingerprint
        {
            return Ok(c.clone());
        }
        let token_file = std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").map(Into::into);
        let hint = match obj.auth().secret_ref() {
            Some(r) => format!("key {:?} of Secret {:?}", r.key, r.name),
            None => "AZURE_FEDERATED_TOKEN_FILE".into(),
        };
        let connections = credentials::credential_for(obj.auth(), secret, token_file, &hint)
            .and_then(|credential| obj.connect(credential, &self.options, &self.arm_url))
            .map_err(|e| NotReady {
                reason: not_ready::INVALID_SPEC,
                message: e.to_string(),
            })?;
        crate::lock::lock(cache).insert(key, (fingerprint, connections.clone()));
        Ok(connections)
    }
}

pub async fn reconcile<K: Posture>(ws: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile",
        kind = K::NOUN,
        namespace = %ws.namespace().unwrap_or_default(),
        name = %ws.name_any(),
        host = %ws.host(),
        reconcile_id = %uuid::Uuid::new_v4().simple(),
    );
    let started = Instant::now();
    crate::lock::lock(&ctx.seen).insert(key_of(&*ws));
    let result = reconcile_inner(&*ws, &ctx).instrument(span).await;
    // Again: a delete event during the pass forgot it before this pass recorded its metrics.
    crate::lock::lock(&ctx.seen).insert(key_of(&*ws));
    ctx.metrics
        .record_reconcile(started.elapsed(), result.is_ok());
    if result.is_ok() {
        crate::lock::lock(&ctx.failures).remove(&key_of(&*ws));
    }
    result
}

async fn reconcile_inner<K: Posture>(ws: &K, ctx: &Context) -> Result<Action, Error> {
    let namespace = ws.namespace().unwrap_or_default();
    let name = ws.name_any();
    let series = K::metrics_name(&name);
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let previous = ws.status();
    let generation = ws.meta().generation;
    let now = || Time(jiff::Timestamp::now());

    if ws.is_suspended() {
        info!("suspended: no reads, no writes");
        // A suspended resource is not managed: no drift or staleness is reported for it.
        ctx.metrics.forget_workspace(&namespace, &series);
        write_status(&api, &name, status::suspended(previous, generation, now())).await?;
        return Ok(Action::requeue(ws.resync_interval()));
    }

    let loaded = match load_inputs(ws, ctx, &namespace).await? {
        Ok(loaded) => loaded,
        Err(why) => return not_ready(ws, ctx, &api, why).await,
    };
    let (baseline, secret) = loaded;
    let pass_started = jiff::Timestamp::now();
    let target = match ws
        .target(baseline.as_ref(), &ctx.reach, pass_started)
        .map(|target| with_approval(target, ws))
    {
        Ok(target) => target,
        Err(error) => {
            let why = NotReady {
                reason: error.reason(),
                message: error.to_string(),
            };
            return not_ready(ws, ctx, &api, why).await;
        }
    };
    let connections = match ctx.connections_for(ws, secret) {
        Ok(c) => c,
        Err(why) => return not_ready(ws, ctx, &api, why).await,
    };

    let report = K::reconcile(&target, &connections, engine::Apply::Enforce).await;
    let mut new_status = status::reconciled(previous, generation, &report, now());
    if let Some((account, workspace_id)) = ws.governed_by() {
        let governing = Api::<DatabricksAccount>::namespaced(ctx.client.clone(), &namespace)
            .get_opt(account)
            .await?;
        new_status.account = Some(status::governing_account(
            account,
            governing.as_ref().and_then(|a| a.status.as_ref()),
            workspace_id,
        ));
    }
    let ready = new_status
        .conditions
        .iter()
        .find(|c| c.type_ == status::READY);
    let (is_ready, reason) = ready.map_or((false, "Unknown".to_string()), |c| {
        (c.status == "True", c.reason.clone())
    });
    let lapsed = expiry::lapsed(previous, &target.exceptions, jiff::Timestamp::now());
    if status::worth_writing(previous, &new_status, STATUS_HEARTBEAT) {
        write_status(&api, &name, new_status).await?;
    }
    let policy = ws.baseline_ref().unwrap_or(super::reports::SPEC_POLICY);
    let owner = super::reports::Owner::of(ws);
    ctx.reports
        .publish(&ctx.client, &ctx.metrics, owner, policy, &report.controls)
        .await;
    publish_remediation_events(ws, ctx, &report).await;
    for (controls, exception) in lapsed {
        let note = format!(
            "the exception for {controls} expired at {} ({}); the controls are judged again",
            exception.expires.0, exception.reason
        );
        publish(
            ctx,
            ws,
            EventType::Normal,
            "ExceptionExpired",
            "Expire",
            note,
        )
        .await;
    }
    if is_ready {
        ctx.metrics.record_report(&namespace, &series, &report);
    }
    ctx.metrics
        .record_ready(&namespace, &series, is_ready, &reason);
    ctx.metrics
        .record_exceptions(&namespace, &series, &target.exceptions);
    let summary = report.summary();
    info!(score = %summary.score(), drifted = summary.drifted, remediated = summary.remediated, failed = summary.failed, excepted = summary.excepted, "reconciled");
    let resync = spread(ws.resync_interval());
    let next = expiry::next_pass(resync, &target, &report, jiff::Timestamp::now());
    Ok(Action::requeue(next))
}

/// The digest the `brickwarden.io/approve` annotation carries, unless an earlier pass already
/// used it: an approval releases its set once.
fn with_approval<K: Posture>(
    mut target: engine::Target<K::Policy>,
    ws: &K,
) -> engine::Target<K::Policy> {
    let used = ws.status().and_then(|s| s.approved_digest.as_deref());
    target.approved_digest = ws
        .annotations()
        .get(crate::api::APPROVE_ANNOTATION)
        .filter(|digest| Some(digest.as_str()) != used)
        .cloned();
    target
}

type Loaded = (
    Option<crate::api::SecurityBaselineSpec>,
    Option<SecretString>,
);

/// The baseline and the secret value a workspace references; `Err(NotReady)` says what is missing.
async fn load_inputs<K: Posture>(
    ws: &K,
    ctx: &Context,
    namespace: &str,
) -> Result<Result<Loaded, NotReady>, Error> {
    let baseline = match ws.baseline_ref() {
        None => None,
        Some(name) => match Api::<SecurityBaseline>::all(ctx.client.clone())
            .get_opt(name)
            .await?
        {
            Some(b) => Some(b.spec),
            None => {
                return Ok(Err(NotReady {
                    reason: not_ready::BASELINE_NOT_FOUND,
                    message: format!(
                        "SecurityBaseline {name:?} does not exist: create it or fix spec.baselineRef"
                    ),
                }));
            }
        },
    };
    let secret = match ws.auth().secret_ref() {
        None => None,
        // Namespace isolation: only the workspace resource's own namespace is read.
        Some(r) => match Api::<Secret>::namespaced(ctx.client.clone(), namespace)
            .get_opt(&r.name)
            .await?
        {
            None => {
                return Ok(Err(NotReady {
                    reason: not_ready::SECRET_NOT_FOUND,
                    message: format!(
                        "Secret {namespace}/{} does not exist: create it with key {:?}",
                        r.name, r.key
                    ),
                }));
            }
            Some(secret) => {
                let value = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get(&r.key))
                    .map(|bytes| String::from_utf8_lossy(&bytes.0).trim_end().to_string())
                    .or_else(|| {
                        secret
                            .string_data
                            .as_ref()
                            .and_then(|d| d.get(&r.key))
                            .cloned()
                    })
                    .filter(|v| !v.is_empty());
                match value {
                    Some(v) => Some(SecretString::from(v)),
                    None => {
                        return Ok(Err(NotReady {
                            reason: not_ready::SECRET_KEY_MISSING,
                            message: format!(
                                "Secret {namespace}/{} has no non-empty key {:?}",
                                r.name, r.key
                            ),
                        }));
                    }
                }
            }
        },
    };
    Ok(Ok((baseline, secret)))
}

async fn not_ready<K: Posture>(
    ws: &K,
    ctx: &Context,
    api: &Api<K>,
    why: NotReady,
) -> Result<Action, Error> {
    let (namespace, name) = (ws.namespace().unwrap_or_default(), ws.name_any());
    warn!(reason = why.reason, message = %why.message, "{} not ready", K::NOUN);
    write_status(
        api,
        &name,
        status::not_ready(
            ws.status(),
            ws.meta().generation,
            &why,
            Time(jiff::Timestamp::now()),
        ),
    )
    .await?;
    publish(
        ctx,
        ws,
        EventType::Warning,
        why.reason,
        "Reconcile",
        why.message.clone(),
    )
    .await;
    ctx.metrics
        .record_ready(&namespace, &K::metrics_name(&name), false, why.reason);
    Ok(Action::requeue(NOT_READY_REQUEUE))
}

async fn write_status<K: Posture>(
    api: &Api<K>,
    name: &str,
    status: DatabricksWorkspaceStatus,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// One Event per control of every Enforce-mode action, its `action` the control id, so that the
/// recorder's aggregation never folds two controls into one Event (see [`events`]).
async fn publish_remediation_events<K: Posture>(ws: &K, ctx: &Context, report: &engine::Report) {
    for event in events::remediation_events(report) {
        publish_event(ctx, ws, &event).await;
    }
}

async fn publish<K: Posture>(
    ctx: &Context,
    ws: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(events::truncate(&note, events::NOTE_LIMIT)),
        action: events::truncate(action, events::ACTION_LIMIT),
        secondary: None,
    };
    publish_event(ctx, ws, &event).await;
}

async fn publish_event<K: Posture>(ctx: &Context, ws: &K, event: &Event) {
    if let Err(e) = ctx.recorder.publish(event, &ws.object_ref(&())).await {
        warn!(error = %e, reason = %event.reason, action = %event.action, "could not publish event");
    }
}

fn forget_clients<K: Posture, A>(cache: &ClientCache<K, A>, key: &Key) {
    crate::lock::lock(cache).retain(|k, _| !(k.name == key.name && k.namespace == key.namespace));
}

/// Exponential backoff with jitter per workspace: 5s, 10s, 20s ... capped at 5 minutes.
pub fn error_policy<K: Posture>(ws: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = key_of(&*ws);
    let attempts = {
        let mut failures = crate::lock::lock(&ctx.failures);
        let n = failures.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    let delay = backoff(attempts, rand::rng().random_range(0.5..1.5));
    warn!(namespace = ?ws.namespace(), name = %ws.name_any(), %error, attempts, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn backoff(attempts: u32, jitter: f64) -> Duration {
    let base = 5.0 * 2f64.powi(attempts.saturating_sub(1).min(16) as i32);
    Duration::from_secs_f64(base.min(300.0) * jitter)
}

mod events;

#[cfg(test)]
mod apiserver_tests;

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(7, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(100, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(1, 0.5), Duration::from_millis(2500));
    }
}
