//! A local, stateful Databricks workspace + Azure Resource Manager + token endpoint server for
//! tests, the demo and users' own CI (`brickwarden emulator`).
//!
//! It serves, on one port:
//!
//! * workspaces `ws-1`..`ws-N` at `{base}/ws/ws-i` (and each at a port of its own, its `host`
//!   in `GET /_emulator/workspaces`, so per-host client limits behave as against a fleet): IP access lists, workspace-conf, tokens and
//!   token management, token permissions, the five security settings, secret scopes/ACLs,
//!   host metadata and OIDC discovery, Databricks OAuth M2M (`/oidc/v1/token`), SCIM `Me`;
//! * Azure Resource Manager at `{base}/arm` (`Microsoft.Databricks/workspaces/ws-i` and its
//!   diagnostic settings);
//! * an Entra ID token endpoint at `{base}/aad/{tenant}/oauth2/v2.0/token`;
//! * the Databricks account API at `{base}/accounts` for account
//!   [`EmulatorConfig::account_id`] on [`EmulatorConfig::cloud`] (see [`account`]): host
//!   metadata and account OIDC discovery, account OAuth M2M
//!   (`/oidc/accounts/{id}/v1/token`; Entra ID tokens too on Azure, PATs never), and under
//!   `/api/2.0/accounts/{id}` the account IP access lists, settings (`acct_ip_acl_enable`,
//!   `disable_legacy_features`, `dcp_acct_enable`, `shield_csp_enablement_ac`,
//!   `shield_esm_enablement_ac`), network connectivity configs and their private endpoint
//!   rules, network policies and workspace network options, the workspaces (region, NCC and
//!   private access settings bindings) and, on AWS, private access settings;
//! * the admin API at `{base}/_emulator` (journal, fault injection, state dump, private
//!   endpoint approval; see [`admin`]).
//!
//! Wire shapes (field names, status codes, error envelopes) follow the real services closely
//! enough for the official `databricks-sdk` for Python to work against it
//! (`tests/sdk/test_sdk_conformance.py`, `tests/sdk/test_account_sdk_conformance.py`).

pub mod access;
pub mod account;
pub mod admin;
pub mod app;
pub mod arm;
pub mod auth;
pub mod conn;
pub mod databricks;
pub mod errors;
pub mod faults;
pub mod journal;
pub mod oauth;
pub mod state;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use account::{Cloud, DEFAULT_ACCOUNT_ID};
pub use faults::FaultSpec;
pub use journal::JournalEntry;
pub use state::{RESOURCE_GROUP, SUBSCRIPTION_ID, TENANT_ID};

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// How many workspaces (`ws-1`..`ws-N`) to serve.
    pub workspaces: usize,
    /// The accepted personal access token (a workspace admin in every workspace).
    pub token: String,
    /// The accepted OAuth / Entra ID client secret (any client id).
    pub client_secret: String,
    /// Lifetime of access tokens issued by the token endpoints.
    pub token_lifetime: Duration,
    /// Which workspaces (by index: 2 is `ws-2`) are on the Standard pricing tier, where the
    /// Premium-only APIs are refused; every other workspace is Premium.
    pub standard_workspaces: Vec<usize>,
    /// How long an ARM long-running operation (workspace PUT/PATCH) stays `InProgress`.
    pub arm_operation_delay: Duration,
    /// Whether each seeded workspace also listens on an address of its own (a port of its own
    /// on the listen IP), so per-host client limits behave as against a real fleet.
    pub workspace_hosts: bool,
    /// Port of `ws-1`'s own address; `ws-i` gets this + i - 1. `None`: ports the OS picks.
    pub first_workspace_port: Option<u16>,
    /// Added to every request except the admin API's (a network round trip), on top of any
    /// injected latency fault.
    pub latency: Duration,
    /// Journal entries kept before the oldest are dropped.
    pub journal_capacity: usize,
    /// Id of the Databricks account the workspaces belong to (the account API at
    /// `{base}/accounts` answers for it only).
    pub account_id: String,
    /// The cloud the account is on: region fields, Entra ID tokens and the AWS-only APIs
    /// (private access settings) follow it.
    pub cloud: Cloud,
    /// Workspaces (by index: 2 is `ws-2`) in a region other than the cloud's default
    /// ([`Cloud::default_region`]).
    pub regions: Vec<(usize, String)>,
}

/// The Standard-tier workspace by default: `ws-2`. `ws-1` and `ws-3` stay Premium because the
/// examples run the `highly-secure` baseline (Premium-only controls) against `ws-3`.
pub const DEFAULT_STANDARD_WORKSPACE: usize = 2;

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            workspaces: 3,
            token: "dapi-emulator".to_string(),
            client_secret: "emulator-secret".to_string(),
            token_lifetime: Duration::from_secs(3600),
            standard_workspaces: vec![DEFAULT_STANDARD_WORKSPACE],
            arm_operation_delay: Duration::from_millis(200),
            workspace_hosts: true,
            first_workspace_port: None,
            latency: Duration::ZERO,
            journal_capacity: journal::CAPACITY,
            account_id: DEFAULT_ACCOUNT_ID.to_string(),
            cloud: Cloud::Azure,
            regions: Vec::new(),
        }
    }
}

/// The most workspaces an emulator serves.
pub const MAX_WORKSPACES: usize = 5000;

/// A running emulator. Dropping it stops the server too; [`Emulator::shutdown`] waits for it.
pub struct Emulator {
    addr: SocketAddr,
    app: app::App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `listen` (port 0 picks a free port) and serves in the background.
    pub async fn start(listen: SocketAddr, config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the emulator to {listen}"))?;
        let addr = listener.local_addr()?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        let base_url = format!("http://{host}:{}", addr.port());
        if config.workspaces > MAX_WORKSPACES {
            anyhow::bail!(
                "--workspaces {} is more than the {MAX_WORKSPACES} an emulator serves",
                config.workspaces
            );
        }
        if let Some((i, region)) = config
            .regions
            .iter()
            .find(|(_, region)| !config.cloud.is_region(region))
        {
            anyhow::bail!(
                "ws-{i}'s region {region} is not a region Databricks serves on {}",
                config.cloud.as_str()
            );
        }
        let mut own = Vec::new();
        let mut hosts = Vec::new();
        if config.workspace_hosts {
            for i in 1..=config.workspaces {
                let port = match config.first_workspace_port {
                    Some(first) => u16::try_from(usize::from(first) + i - 1).context(
                        "--first-workspace-port leaves too few ports for the workspaces",
                    )?,
                    None => 0,
                };
                let at = SocketAddr::new(addr.ip(), port);
                let bound = tokio::net::TcpListener::bind(at).await.with_context(|| {
                    format!(
                        "binding ws-{i}'s own address {at} (each workspace listens on a port of \
                         its own: raise `ulimit -n` for large fleets, or pass \
                         --no-workspace-hosts)"
                    )
                })?;
                hosts.push(format!("http://{host}:{}", bound.local_addr()?.port()));
                own.push((std::sync::Arc::<str>::from(format!("ws-{i}")), bound));
            }
        }
        let app = app::App::with_hosts(config, base_url, hosts);
        let router = app::router(app.clone());
        // The per-host routing runs before the router matches a route: an outer router whose
        // only service is the real one, as its fallback.
        let service = axum::Router::new()
            .fallback_service(router)
            .layer(axum::middleware::from_fn(app::route_own_hosts));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(
                conn::ResettableListener::fleet(listener, own),
                service.into_make_service_with_connect_info::<conn::Peer>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "emulator server failed");
            }
        });
        Ok(Emulator {
            addr,
            app,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.app.base_url().to_string()
    }

    /// `{base}/ws/{name}`: the workspace's Databricks host, path-prefixed on the main address.
    pub fn workspace_url(&self, name: &str) -> String {
        self.app.workspace_url(name)
    }

    /// The workspace's own base URL (`http://127.0.0.1:PORT`, a port of its own), as
    /// `GET /_emulator/workspaces` lists it as `host`; the path-prefixed URL when it has none.
    pub fn workspace_host(&self, name: &str) -> String {
        self.app.workspace_host(name)
    }

    /// `{base}/arm`: the ARM endpoint.
    pub fn arm_url(&self) -> String {
        self.app.arm_url()
    }

    /// `{base}/aad`: use as `AZURE_AUTHORITY_HOST`; tokens at
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_host(&self) -> String {
        self.app.authority_host()
    }

    /// The ARM id of workspace `name`.
    pub fn arm_resource_id(&self, name: &str) -> String {
        arm::resource_id(name)
    }

    /// Names of the served workspaces.
    pub fn workspaces(&self) -> Vec<String> {
        self.app.world().workspaces.names().collect()
    }

    /// In-process read of a workspace's state (same JSON as `GET /_emulator/state/{name}`).
    pub fn state(&self, name: &str) -> Option<serde_json::Value> {
        let mut world = self.app.world();
        arm::settle(&mut world);
        world.workspaces.get(name).map(state::Workspace::dump)
    }

    /// The served workspaces as `GET /_emulator/workspaces` lists them.
    pub fn workspace_list(&self) -> serde_json::Value {
        admin::workspaces(&self.app)
    }

    /// In-process read of the journal (same entries as `GET /_emulator/requests`).
    pub fn requests(&self) -> Vec<JournalEntry> {
        self.app.journal().entries().cloned().collect()
    }

    /// The journal entries with a sequence number above `seq`, without copying the others.
    pub fn requests_since(&self, seq: u64) -> Vec<JournalEntry> {
        self.app
            .journal()
            .entries()
            .filter(|e| e.seq > seq)
            .cloned()
            .collect()
    }

    /// Clears the journal in-process (same as `DELETE /_emulator/requests`); sequence numbers
    /// go on.
    pub fn clear_requests(&self) {
        self.app.journal().clear();
    }

    /// Injects a fault in-process (same as `POST /_emulator/faults`).
    pub fn inject_fault(&self, spec: FaultSpec) -> anyhow::Result<()> {
        self.app
            .faults()
            .add(spec)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// Back to the seeded state (same as `POST /_emulator/reset`).
    pub fn reset(&self) {
        self.app.reset();
    }

    /// What is served, as JSON (same as `GET /_emulator`).
    pub fn describe(&self) -> serde_json::Value {
        admin::describe(&self.app)
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// `brickwarden emulator` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        default_value = "127.0.0.1:8765",
        env = "BRICKWARDEN_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,
    /// Number of workspaces to serve (ws-1..ws-N, at most 5000). Each also listens on a port
    /// of its own (see `GET /_emulator/workspaces`); a workspace's state is created on first
    /// use.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=MAX_WORKSPACES as u64))]
    pub workspaces: u64,
    /// Serve the workspaces only at their path-prefixed URLs ({base}/ws/ws-i), without a port
    /// of their own.
    #[arg(long)]
    pub no_workspace_hosts: bool,
    /// Port of ws-1's own address; ws-i listens on this + i - 1 (default: ports the OS picks).
    #[arg(long)]
    pub first_workspace_port: Option<u16>,
    /// Latency added to every request (except the admin API's), in ms: a network round trip.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Request journal entries kept before the oldest are dropped.
    #[arg(long, default_value_t = journal::CAPACITY)]
    pub journal_capacity: usize,
    /// Personal access token the workspaces accept.
    #[arg(
        long,
        default_value = "dapi-emulator",
        env = "BRICKWARDEN_EMULATOR_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// Client secret the OAuth and Entra ID token endpoints accept (any client id).
    #[arg(
        long,
        default_value = "emulator-secret",
        env = "BRICKWARDEN_EMULATOR_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: String,
    /// Lifetime in seconds of access tokens the token endpoints issue.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime_seconds: u64,
    /// Index of a Standard-tier workspace (repeatable; default 2, i.e. ws-2). The others are
    /// Premium.
    #[arg(long = "standard-workspace", default_values_t = [DEFAULT_STANDARD_WORKSPACE])]
    pub standard_workspaces: Vec<usize>,
    /// How long an ARM long-running operation (workspace PUT/PATCH) stays InProgress, in ms.
    #[arg(long, default_value_t = 200)]
    pub arm_operation_delay_ms: u64,
    /// Id of the Databricks account served at {base}/accounts.
    #[arg(long, default_value = DEFAULT_ACCOUNT_ID)]
    pub account_id: String,
    /// Cloud of the account: azure (workspaces have `location`) or aws (`aws_region`, private
    /// access settings).
    #[arg(long, value_enum, default_value_t = Cloud::Azure)]
    pub cloud: Cloud,
}

impl From<&EmulatorArgs> for EmulatorConfig {
    fn from(args: &EmulatorArgs) -> Self {
        Self {
            workspaces: args.workspaces as usize,
            token: args.token.clone(),
            client_secret: args.client_secret.clone(),
            token_lifetime: Duration::from_secs(args.token_lifetime_seconds),
            standard_workspaces: args.standard_workspaces.clone(),
            arm_operation_delay: Duration::from_millis(args.arm_operation_delay_ms),
            workspace_hosts: !args.no_workspace_hosts,
            first_workspace_port: args.first_workspace_port,
            latency: Duration::from_millis(args.latency_ms),
            journal_capacity: args.journal_capacity,
            account_id: args.account_id.clone(),
            cloud: args.cloud,
            regions: Vec::new(),
        }
    }
}

/// Human-readable summary of what a running emulator serves (secrets not included).
pub fn summary(emulator: &Emulator) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "brickwarden emulator listening on {}\n\n",
        emulator.base_url()
    ));
    out.push_str("Databricks workspaces (auth: Bearer PAT, OAuth M2M or Entra ID token):\n");
    let listing = emulator.app.world().workspaces.listing();
    const SHOWN: usize = 20;
    for ws in listing.iter().take(SHOWN) {
        out.push_str(&format!(
            "  {:<6} {}  also {}  ({} tier, workspace id {})\n",
            ws.name,
            emulator.app.workspace_host(&ws.name),
            ws.url,
            ws.sku,
            ws.workspace_id
        ));
    }
    if listing.len() > SHOWN {
        out.push_str(&format!(
            "  ... and {} more (GET {}/_emulator/workspaces lists them all)\n",
            listing.len() - SHOWN,
            emulator.base_url()
        ));
    }
    out.push_str(&format!(
        "\nAzure Resource Manager: {}  (api-version 2026-01-01)\n",
        emulator.arm_url()
    ));
    if let Some(first) = emulator.workspaces().first() {
        out.push_str(&format!(
            "  e.g. {}{}\n",
            emulator.arm_url(),
            emulator.arm_resource_id(first)
        ));
    }
    out.push_str(&format!(
        "\nToken endpoints:\n  Entra ID:         {}/{TENANT_ID}/oauth2/v2.0/token  (AZURE_AUTHORITY_HOST={})\n  Databricks OAuth: {{workspace url}}/oidc/v1/token\n",
        emulator.authority_host(),
        emulator.authority_host()
    ));
    out.push_str(&format!(
        "\nDatabricks account {} ({}): {}/accounts  (auth: account OAuth M2M{})\n  OAuth token endpoint: {}/accounts/oidc/accounts/{}/v1/token\n",
        emulator.app.config().account_id,
        emulator.app.config().cloud.as_str(),
        emulator.base_url(),
        if emulator.app.config().cloud == Cloud::Azure { " or Entra ID token" } else { "" },
        emulator.base_url(),
        emulator.app.config().account_id,
    ));
    out.push_str(&format!(
        "\nAdmin API (no auth): {base}/_emulator\n  GET    {base}/_emulator/workspaces   the workspaces (id, host, workspaceId, azureResourceId, sku)\n  GET    {base}/_emulator/requests     request journal (DELETE clears)\n  POST   {base}/_emulator/faults       inject faults (GET lists, DELETE clears)\n  GET    {base}/_emulator/state/ws-1   state dump (PATCH sets state directly)\n  GET    {base}/_emulator/state/account   the account's state\n  POST   {base}/_emulator/account/private-endpoint-rules/ID   approve/reject a rule\n  POST   {base}/_emulator/reset        back to the seeded state\n",
        base = emulator.base_url()
    ));
    out
}

/// Runs `brickwarden emulator` until Ctrl-C or SIGTERM.
pub async fn run_cli(args: EmulatorArgs) -> anyhow::Result<()> {
    let emulator = Emulator::start(args.listen, EmulatorConfig::from(&args)).await?;
    println!("{}", summary(&emulator));
    println!("Press Ctrl-C to stop.");
    wait_for_signal().await;
    println!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
