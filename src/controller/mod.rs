//! `brickwarden run`: the kube-runtime wiring around the engine.
//!
//! One `Controller` over `DatabricksWorkspace` and one over `DatabricksAccount` (optionally a
//! label-selected shard), each re-triggered by the SecurityBaselines and Secrets its resources
//! reference; leader election on a Lease so that only one replica reconciles and writes;
//! `/metrics`, `/healthz`, `/readyz` on one port; graceful shutdown on SIGTERM.

pub mod expiry;
pub mod http;
pub mod namespaces;
pub mod posture;
pub mod preflight;
mod reconcile;
pub mod reports;
pub mod shard;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Predicate, WatchStreamExt, predicates, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use tracing::{info, warn};

use self::posture::Posture;
use self::shard::Shard;
use crate::api::{DatabricksAccount, DatabricksWorkspace, SecurityBaseline};
use crate::metrics::Metrics;
pub use reconcile::Context;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Only manage DatabricksWorkspaces matching this label selector (to shard a fleet across
    /// Deployments, each with its own --lease-name).
    #[arg(long)]
    pub selector: Option<String>,
    /// The controller's own egress addresses: IP access list changes never lock them out.
    #[arg(
        long = "egress-address",
        visible_alias = "egress-addresses",
        value_name = "IP_OR_CIDR",
        env = "BRICKWARDEN_EGRESS_ADDRESSES",
        value_delimiter = ','
    )]
    pub egress_addresses: Vec<String>,
    /// brickwarden reaches the workspaces over Private Link, so it may disable their public
    /// network access without cutting itself off. Without this flag that change is blocked.
    #[arg(long, env = "BRICKWARDEN_PRIVATE_NETWORK")]
    pub private_network: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = "BRICKWARDEN_LEASE_NAME", default_value = "brickwarden")]
    pub lease_name: String,
    /// Namespace of the Lease: the pod's namespace in a cluster, else the kubeconfig
    /// context's namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds a Lease stays valid without renewal; a follower takes over after it.
    #[arg(long, default_value_t = 15)]
    pub lease_duration: u64,
    /// Azure Resource Manager endpoint (sovereign clouds, the emulator).
    #[arg(
        long,
        env = "BRICKWARDEN_ARM_URL",
        default_value = "https://management.azure.com"
    )]
    pub arm_url: url::Url,
    /// Split the fleet into this many shards, each with its own Lease (a stable hash of
    /// namespace/name picks a workspace's shard).
    #[arg(long, env = "BRICKWARDEN_SHARD_COUNT", default_value_t = 1)]
    pub shard_count: u32,
    /// This controller's shard; default: the StatefulSet ordinal of the pod name modulo the
    /// shard count (so extra replicas are standbys of their shard).
    #[arg(long, env = "BRICKWARDEN_SHARD_INDEX")]
    pub shard_index: Option<u32>,
    /// Reconciles in flight at once (never two of one workspace).
    #[arg(long, env = "BRICKWARDEN_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Requests to Databricks, ARM and the token endpoints in flight at once across all
    /// workspaces, besides each host's own rate limit: a large fleet never opens thousands of
    /// connections at once.
    #[arg(long, env = "BRICKWARDEN_MAX_REQUESTS_IN_FLIGHT", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_requests_in_flight: u16,
    /// Watch DatabricksWorkspaces and Secrets only in this namespace (repeat the flag, or a
    /// comma-separated BRICKWARDEN_WATCH_NAMESPACES): RBAC then needs Secret access only there.
    /// Default: every namespace (cluster-wide Secret read access). SecurityBaselines are
    /// cluster-scoped and always watched cluster-wide.
    #[arg(
        long = "watch-namespace",
        value_name = "NAMESPACE",
        env = "BRICKWARDEN_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    pub watch_namespaces: Vec<String>,
    /// PEM file of CA certificates to trust in addition to the system roots for Databricks, ARM
    /// and token endpoints (a TLS-inspecting proxy, a private CA). Verification stays on.
    #[arg(long, env = "BRICKWARDEN_CA_BUNDLE", value_name = "PATH")]
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// Health as `/readyz` reports it.
#[derive(Debug, Default)]
pub struct Readiness {
    /// Leader election is running (a follower is ready to take over).
    pub electing: AtomicBool,
    /// This replica leads and its controllers' caches are synced.
    pub leading_and_synced: AtomicBool,
    /// How many of the [`CONTROLLERS`] have synced their caches since this replica leads.
    synced_controllers: AtomicUsize,
    pub leader: AtomicBool,
}

/// The controllers a leader runs: workspaces and accounts.
const CONTROLLERS: usize = 2;

impl Readiness {
    /// One more controller's caches are synced; ready once all are.
    fn controller_synced(&self) {
        if self.synced_controllers.fetch_add(1, Ordering::Relaxed) + 1 >= CONTROLLERS {
            self.leading_and_synced.store(true, Ordering::Relaxed);
        }
    }

    fn stopped_leading(&self) {
        self.leader.store(false, Ordering::Relaxed);
        self.synced_controllers.store(0, Ordering::Relaxed);
        self.leading_and_synced.store(false, Ordering::Relaxed);
    }
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        if self.leader.load(Ordering::Relaxed) {
            self.leading_and_synced.load(Ordering::Relaxed)
        } else {
            self.electing.load(Ordering::Relaxed)
        }
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    crate::clients::install_crypto_provider();
    let extra_roots = match &args.ca_bundle {
        Some(path) => crate::clients::http::load_ca_bundle(path).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    let watch_namespaces = namespaces::normalise(&args.watch_namespaces);
    let client = preflight::client().await?;
    let lease_namespace = preflight::lease_namespace(args.lease_namespace.as_deref(), &client);
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::default());
    let reach = crate::engine::Reach {
        egress: crate::controls::access::parse_protected(&args.egress_addresses)
            .map_err(anyhow::Error::msg)?,
        private_network: args.private_network,
    };
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("brickwarden-{}", uuid::Uuid::new_v4().simple()));
    let shard = Shard::new(args.shard_index, args.shard_count, args.identity.as_deref())
        .map_err(anyhow::Error::msg)?;
    let lease_name = shard.lease_name(&args.lease_name);
    preflight::check(&client, &lease_namespace, &lease_name, &watch_namespaces).await?;
    if watch_namespaces.is_empty() {
        info!("watching DatabricksWorkspaces, DatabricksAccounts and Secrets in every namespace");
    } else {
        info!(namespaces = ?watch_namespaces, "watching DatabricksWorkspaces, DatabricksAccounts and Secrets only in these namespaces");
    }

    let shutdown = shutdown_on_signals();
    let server = tokio::spawn(http::serve(
        args.listen,
        metrics.clone(),
        readiness.clone(),
        shutdown.clone(),
    ));

    let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &lease_name)
        .with_namespace(&lease_namespace)
        .with_identity(&identity)
        .with_duration(args.lease_duration)
        .with_grace(args.lease_duration.div_ceil(3).max(2))
        .build()
        .await?;
    let (mut leading, lease_task) = manager.watch().await;
    readiness.electing.store(true, Ordering::Relaxed);
    info!(%identity, lease = %lease_name, namespace = %lease_namespace, shard = shard.index, shards = shard.count, "waiting for leadership");

    loop {
        // Wait until this replica leads, or shutdown.
        while !*leading.borrow_and_update() {
            tokio::select! {
                changed = leading.changed() => if changed.is_err() { anyhow::bail!("lease manager stopped") },
                _ = shutdown.notified() => break,
            }
        }
        if shutdown.is_triggered() {
            break;
        }
        info!(%identity, "leading: starting the controller");
        readiness.leader.store(true, Ordering::Relaxed);
        metrics.set_leader(true);

        let mut lost = leading.clone();
        let lost = async move {
            while lost.changed().await.is_ok() {
                if !*lost.borrow() {
                    break;
                }
            }
        };
        // SIGTERM lets in-flight reconciles finish; a lost Lease abandons them at once, so that
        // a replica that no longer leads stops writing before the new leader starts.
        let stop = || {
            let shutdown = shutdown.clone();
            async move { shutdown.notified().await }
        };
        let context = Arc::new(
            Context::new(
                client.clone(),
                metrics.clone(),
                reach.clone(),
                args.arm_url.clone(),
                Reporter {
                    controller: "brickwarden".into(),
                    instance: Some(identity.clone()),
                },
            )
            .with_extra_roots(extra_roots.clone())
            .with_max_requests_in_flight(args.max_requests_in_flight.into()),
        );
        let controllers = futures::future::join(
            run_controller::<DatabricksWorkspace>(
                client.clone(),
                &args,
                &watch_namespaces,
                shard,
                context.clone(),
                readiness.clone(),
                stop(),
            ),
            run_controller::<DatabricksAccount>(
                client.clone(),
                &args,
                &watch_namespaces,
                shard,
                context,
                readiness.clone(),
                stop(),
            ),
        );
        tokio::select! {
            _ = controllers => {}
            _ = lost => warn!(%identity, "lost the Lease: abandoning in-flight reconciles"),
        }

        readiness.stopped_leading();
        metrics.set_leader(false);
        // A follower reports nothing about workspaces: the new leader does.
        metrics.forget_all_workspaces();
        if shutdown.is_triggered() {
            break;
        }
        warn!(%identity, "lost leadership: controller stopped, waiting to lead again");
    }

    info!("shutting down: releasing the lease");
    drop(leading);
    match lease_task.await {
        Ok(Ok(_)) => info!("lease released"),
        Ok(Err(e)) => warn!(error = %e, "could not release the lease; it expires on its own"),
        Err(e) => warn!(error = %e, "lease task failed"),
    }
    shutdown.trigger();
    let _ = server.await;
    Ok(())
}

async fn run_controller<K: Posture>(
    client: Client,
    args: &RunArgs,
    watch_namespaces: &[String],
    shard: Shard,
    context: Arc<Context>,
    readiness: Arc<Readiness>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let mut config = watcher::Config::default().any_semantic();
    if let Some(selector) = &args.selector {
        config = config.labels(selector);
    }
    let (store, writer) = reflector::store();
    // Our own status writes change resourceVersion but neither generation nor annotations:
    // reacting to them would read every workspace twice per pass. Annotations still trigger
    // (the suspend annotation, manual pokes); Secrets and baselines trigger through watches.
    let changes =
        (predicates::generation as fn(&K) -> Option<u64>).combine(predicates::annotations);
    // Other shards' workspaces stay in the store (the Secret and baseline watches map through
    // it) but never reach this shard's reconciler.
    let owned = move |ws: &K| {
        shard.owns(
            ws.namespace().as_deref().unwrap_or_default(),
            &ws.name_any(),
        )
    };
    // Cluster-wide, or one watch per namespace merged so that one store follows them all.
    let workspace_events = if watch_namespaces.is_empty() {
        watcher(Api::<K>::all(client.clone()), config)
            .default_backoff()
            .boxed()
    } else {
        namespaces::merge(
            watch_namespaces
                .iter()
                .map(|ns| {
                    watcher(Api::<K>::namespaced(client.clone(), ns), config.clone())
                        .default_backoff()
                })
                .collect(),
        )
        .boxed()
    };
    // Deleted workspaces stop being reported at once (the periodic sweep below catches the
    // ones that vanished while a watch was reconnecting).
    let deleted_context = context.clone();
    let workspaces = workspace_events
        .inspect_ok(move |event| {
            if let watcher::Event::Delete(ws) = event {
                deleted_context.forget(&reconcile::key_of(ws));
            }
        })
        .reflect(writer)
        .applied_objects()
        .try_filter(move |ws| std::future::ready(owned(ws)))
        .predicate_filter(changes, Default::default());
    let controller = Controller::for_stream(workspaces, store.clone());

    let baseline_store = store.clone();
    let secret_store = store.clone();
    // Metadata only: the controller never caches Secret data, it reads one key when it needs it.
    let secret_apis = if watch_namespaces.is_empty() {
        vec![Api::<PartialObjectMeta<Secret>>::all(client.clone())]
    } else {
        watch_namespaces
            .iter()
            .map(|ns| Api::<PartialObjectMeta<Secret>>::namespaced(client.clone(), ns))
            .collect()
    };
    let secrets = futures::stream::select_all(secret_apis.into_iter().map(|api| {
        // Changes only: the initial listing would queue every workspace a second time right
        // after the workspace watch's own initial listing queued it.
        watcher(api, watcher::Config::default())
            .default_backoff()
            .try_filter_map(|event| {
                std::future::ready(Ok(match event {
                    watcher::Event::Apply(secret) | watcher::Event::Delete(secret) => Some(secret),
                    watcher::Event::Init
                    | watcher::Event::InitApply(_)
                    | watcher::Event::InitDone => None,
                }))
            })
            .boxed()
    }));
    let controller = controller
        .watches(
            Api::<SecurityBaseline>::all(client.clone()),
            watcher::Config::default(),
            move |baseline| {
                let name = baseline.name_any();
                baseline_store
                    .state()
                    .into_iter()
                    .filter(|ws| owned(ws))
                    .filter(|ws| ws.baseline_ref() == Some(name.as_str()))
                    .map(|ws| ObjectRef::from_obj(&*ws))
                    .collect::<Vec<_>>()
            },
        )
        .watches_stream(secrets, move |secret| {
            let (name, namespace) = (secret.name_any(), secret.namespace());
            secret_store
                .state()
                .into_iter()
                .filter(|ws| {
                    owned(ws)
                        && ws.namespace() == namespace
                        && ws.auth().secret_ref().is_some_and(|r| r.name == name)
                })
                .map(|ws| ObjectRef::from_obj(&*ws))
                .collect::<Vec<_>>()
        });

    // A report CRD installed after the start: every owned resource gets its report within a
    // rediscovery interval or two, not only at its next resync.
    let report_store = store.clone();
    let controller = controller.reconcile_on(context.reports().appeared(client.clone()).flat_map(
        move |()| {
            futures::stream::iter(
                report_store
                    .state()
                    .into_iter()
                    .filter(|obj| owned(obj))
                    .map(|obj| ObjectRef::from_obj(&*obj))
                    .collect::<Vec<_>>(),
            )
        },
    ));

    let synced_store = store.clone();
    let synced = readiness.clone();
    // The Controller awaits the same store's readiness, and that signal wakes only its latest
    // waiter: poll with a timeout instead of awaiting it once.
    let _ready_task = AbortOnDrop(tokio::spawn(async move {
        loop {
            let wait = synced_store.wait_until_ready();
            match tokio::time::timeout(std::time::Duration::from_millis(500), wait).await {
                Ok(Ok(())) => {
                    synced.controller_synced();
                    break;
                }
                Ok(Err(_)) => break, // the store's writer is gone: the controller stopped
                Err(_) => continue,
            }
        }
    }));
    let gc_context = context.clone();
    let gc_store = store.clone();
    let _gc_task = AbortOnDrop(tokio::spawn(async move {
        // Cheap (a walk over the store): a pass that was in flight when its workspace was
        // deleted may have recorded metrics after the delete event forgot them.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            gc_context.forget_deleted(&gc_store.state());
        }
    }));

    controller
        .with_config(controller::Config::default().concurrency(args.concurrency))
        .graceful_shutdown_on(stop)
        .run(
            reconcile::reconcile::<K>,
            reconcile::error_policy::<K>,
            context,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile loop event");
            }
        })
        .await;
}

/// A helper task that ends with the controller run that spawned it, however that run ends
/// (finished, or dropped when the Lease is lost).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A shutdown signal that SIGTERM and Ctrl-C trigger, observable many times.
#[derive(Clone)]
pub struct Shutdown {
    notify: Arc<tokio::sync::Notify>,
    triggered: Arc<AtomicBool>,
}

impl Shutdown {
    pub fn trigger(&self) {
        self.triggered.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::SeqCst)
    }

    pub async fn notified(&self) {
        let notified = self.notify.notified();
        if self.is_triggered() {
            return;
        }
        notified.await;
    }
}

/// Installs the signal handlers.
pub fn shutdown_on_signals() -> Shutdown {
    let shutdown = Shutdown {
        notify: Arc::new(tokio::sync::Notify::new()),
        triggered: Arc::new(AtomicBool::new(false)),
    };
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let sigterm = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => term.recv().await,
                Err(error) => {
                    warn!(%error, "cannot install the SIGTERM handler; only an interrupt stops");
                    std::future::pending().await
                }
            }
        };
        tokio::select! {
            _ = sigterm => info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => info!("interrupt received"),
        }
        on_signal.trigger();
    });
    shutdown
}
