//! `brickwarden demo`: the real pipeline on the resources in `examples/`, against an embedded
//! emulator whose workspaces have drifted in different ways. Every figure printed comes from the
//! pipeline; nothing is canned.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use brickwarden_emulator::{Emulator, EmulatorConfig};
use clap::Args;
use secrecy::SecretString;
use url::Url;

use super::files::{self, Inputs};
use super::output::{self, WorkspaceResult};
use crate::api::{ControlState, Mode, Resource};
use crate::clients::databricks::{DatabricksClient, ListType, NewIpAccessList};
use crate::clients::{ClientOptions, Credential};
use crate::controller::posture::Posture;
use crate::controller::{Readiness, http, shutdown_on_signals};
use crate::engine::{self, Apply, Report, Subject, credentials};
use crate::metrics::Metrics;

/// The example resources, embedded so the demo runs from any directory.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "examples/account.yaml",
        include_str!("../../examples/account.yaml"),
    ),
    (
        "examples/analytics-prod.yaml",
        include_str!("../../examples/analytics-prod.yaml"),
    ),
    (
        "examples/ml-sandbox.yaml",
        include_str!("../../examples/ml-sandbox.yaml"),
    ),
    (
        "examples/finance.yaml",
        include_str!("../../examples/finance.yaml"),
    ),
];

/// The emulator is on loopback, the demo's private network: disabling a workspace's public
/// network access does not cut the demo off.
const DEMO_REACH: engine::Reach = engine::Reach {
    egress: Vec::new(),
    private_network: true,
};

/// The host the examples name; the demo points it at its own emulator.
const EXAMPLE_BASE: &str = "http://127.0.0.1:8765";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Exit after one pass instead of keeping /metrics up.
    #[arg(long)]
    pub once: bool,
    /// Where /metrics is served while the demo stays up.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_listen: SocketAddr,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::clients::install_crypto_provider();
    let started = Instant::now();
    let config = EmulatorConfig::default();
    let emulator = Emulator::start("127.0.0.1:0".parse()?, config.clone()).await?;
    println!(
        "brickwarden demo: an embedded Databricks + ARM emulator at {}\n",
        emulator.base_url()
    );

    let metrics = Arc::new(Metrics::new());
    let mut options = ClientOptions::default();
    options.http.observer = metrics.clone();
    options.authority_host = Url::parse(&emulator.authority_host())?;
    let arm_url = Url::parse(&emulator.arm_url())?;

    let inputs = embedded_examples(&emulator)?;
    drift(&emulator, &config, &options).await?;
    // Count only what the pipeline sends from here on.
    reqwest::Client::new()
        .delete(format!("{}/_emulator/requests", emulator.base_url()))
        .send()
        .await?
        .error_for_status()?;

    let colour = output::colour_enabled();
    let mut totals = (0, 0);
    let mut show = |shown: Shown, before: &Report, after: &Report| {
        metrics.record_report(&shown.namespace, &shown.series, after);
        print_result(&shown, before, after, colour);
        totals.0 += after
            .executed
            .iter()
            .filter(|r| r.outcome == engine::Outcome::Applied)
            .count();
        totals.1 += after.summary().drifted as usize;
    };
    // The account first: it governs the workspaces' serverless egress.
    for account in &inputs.accounts {
        let (before, after) =
            reconcile_twice(account, &inputs, &config, &options, &arm_url).await?;
        show(
            Shown::of(account, &account.spec.governance.mode),
            &before,
            &after,
        );
    }
    for ws in &inputs.workspaces {
        let (before, after) = reconcile_twice(ws, &inputs, &config, &options, &arm_url).await?;
        show(Shown::of(ws, &ws.spec.governance.mode), &before, &after);
    }
    let writes = emulator
        .requests()
        .iter()
        // Writes to workspaces and ARM; token exchanges are POSTs too, but change nothing.
        .filter(|r| {
            r.method != "GET"
                && r.workspace.as_deref() != Some("aad")
                && !r.path.starts_with("/oidc/")
        })
        .count();
    println!(
        "{} remediation(s) applied with {writes} write request(s); {} control(s) left drifted (Audit mode or not fixable); {:.1}s.",
        totals.0,
        totals.1,
        started.elapsed().as_secs_f64()
    );

    if args.once {
        emulator.shutdown().await;
        return Ok(());
    }
    let shutdown = shutdown_on_signals();
    let readiness = Arc::new(Readiness::default());
    readiness
        .electing
        .store(true, std::sync::atomic::Ordering::Relaxed);
    println!(
        "\nMetrics: curl http://{}/metrics   (the emulator stays up at {}; Ctrl-C to stop)",
        args.metrics_listen,
        emulator.base_url()
    );
    http::serve(args.metrics_listen, metrics, readiness, shutdown).await?;
    emulator.shutdown().await;
    Ok(())
}

/// The examples with their hosts pointed at this emulator.
fn embedded_examples(emulator: &Emulator) -> anyhow::Result<Inputs> {
    let mut inputs = Inputs::default();
    for (path, text) in EXAMPLES {
        let text = text.replace(EXAMPLE_BASE, &emulator.base_url());
        for resource in files::parse_documents(&text, Path::new(path))? {
            match resource {
                Resource::Workspace(ws) => inputs.workspaces.push(*ws),
                Resource::Account(account) => inputs.accounts.push(*account),
                Resource::Baseline(_) => {}
            }
        }
    }
    Ok(inputs)
}

/// Drift beyond a new workspace's insecure defaults, made through the normal API: a stray
/// IP access list on ws-1 and a service principal's token that never expires on ws-2.
async fn drift(
    emulator: &Emulator,
    config: &EmulatorConfig,
    options: &ClientOptions,
) -> anyhow::Result<()> {
    let client = |ws: &str| -> anyhow::Result<DatabricksClient> {
        Ok(DatabricksClient::new(
            Url::parse(&emulator.workspace_url(ws))?,
            Credential::PersonalAccessToken(SecretString::from(config.token.clone())),
            options.clone(),
        )?)
    };
    client("ws-1")?
        .create_ip_access_list(&NewIpAccessList {
            label: "legacy-office".into(),
            list_type: ListType::Allow,
            ip_addresses: vec!["0.0.0.0/0".into()],
        })
        .await?;
    // A service principal's token that never expires (brickwarden's own tokens are never
    // revoked, so the drift comes from another identity).
    DatabricksClient::new(
        Url::parse(&emulator.workspace_url("ws-2"))?,
        Credential::DatabricksOAuth {
            client_id: "notebook-automation".into(),
            client_secret: SecretString::from(config.client_secret.clone()),
        },
        options.clone(),
    )?
    .create_token(Some("notebook automation"), None)
    .await?;
    // An account console IP access list nobody declared, open to the world.
    DatabricksClient::for_account(
        Url::parse(&format!("{}/accounts", emulator.base_url()))?,
        &config.account_id,
        Credential::DatabricksOAuth {
            client_id: "account-admin".into(),
            client_secret: SecretString::from(config.client_secret.clone()),
        },
        options.clone(),
    )?
    .create_ip_access_list(&NewIpAccessList {
        label: "legacy-vendor".into(),
        list_type: ListType::Allow,
        ip_addresses: vec!["0.0.0.0/0".into()],
    })
    .await?;
    Ok(())
}

/// A plan pass (before) and an Enforce pass (after) of one example workspace or account.
async fn reconcile_twice<S: Subject>(
    subject: &S,
    inputs: &Inputs,
    config: &EmulatorConfig,
    options: &ClientOptions,
    arm_url: &Url,
) -> anyhow::Result<(Report, Report)> {
    let baseline = subject
        .baseline_ref()
        .and_then(|b| inputs.baseline(b))
        .map(|b| b.spec);
    let target = subject.target(baseline.as_ref(), &DEMO_REACH, jiff::Timestamp::now())?;
    let secret = if subject.auth().personal_access_token.is_some() {
        &config.token
    } else {
        &config.client_secret
    };
    let credential = credentials::credential_for(
        subject.auth(),
        Some(SecretString::from(secret.clone())),
        None,
        "demo",
    )?;
    let connections = subject.connect(credential, options, arm_url)?;
    let before = S::reconcile(&target, &connections, Apply::Never).await;
    let after = S::reconcile(&target, &connections, Apply::Enforce).await;
    Ok((before, after))
}

/// What the demo prints about a workspace or an account besides its controls.
struct Shown {
    namespace: String,
    name: String,
    /// Its metric series' name.
    series: String,
    host: String,
    mode: Mode,
    baseline: String,
}

impl Shown {
    fn of<S: Posture>(subject: &S, mode: &Mode) -> Shown {
        let name = subject.meta().name.clone().unwrap_or_default();
        Shown {
            namespace: subject.meta().namespace.clone().unwrap_or_default(),
            series: S::metrics_name(&name),
            name,
            host: subject.host().to_string(),
            mode: *mode,
            baseline: subject.baseline_ref().unwrap_or("none").to_string(),
        }
    }
}

fn print_result(shown: &Shown, before: &Report, after: &Report, colour: bool) {
    let Shown {
        namespace, name, ..
    } = shown;
    let result = WorkspaceResult::from_report(namespace, name, &shown.host, after);
    println!(
        "━━ {namespace}/{name}  mode {:?}  baseline {}  score {} → {}",
        shown.mode,
        shown.baseline,
        before.summary().score(),
        after.summary().score()
    );
    let found = |id: &str| before.controls.iter().find(|b| b.id == id);
    let rows: Vec<_> = after
        .controls
        .iter()
        .filter(|c| {
            c.state != ControlState::Compliant
                || found(&c.id).is_some_and(|b| b.state != ControlState::Compliant)
        })
        .collect();
    let width = rows
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(7)
        .clamp(7, 52);
    println!(
        "  {:<width$}  {:<16}  {:<24}  {:<24}",
        "CONTROL", "RESULT", "BEFORE", "AFTER"
    );
    for c in &rows {
        let before_value = found(&c.id)
            .and_then(|b| b.observed.as_deref())
            .unwrap_or("-");
        println!(
            "  {:<width$}  {}  {:<24}  {:<24}",
            output::clip(&c.id, width),
            output::paint(&format!("{:<16}", c.state.as_str()), c.state, colour),
            output::clip(before_value, 24),
            output::clip(c.observed.as_deref().unwrap_or("-"), 24),
        );
        // Why a control is not fixed; Audit-mode plans are listed once below instead.
        if !c.state.is_compliant()
            && c.reason != Some(crate::controls::Reason::AuditMode)
            && let Some(message) = &c.message
        {
            println!("  {:<width$}    ↳ {}", "", message);
        }
    }
    println!(
        "  ({} more control(s) were compliant before and after)",
        after.controls.len() - rows.len()
    );
    if let Some(pending) = &after.pending_approval {
        println!(
            "  destructive changes wait for approval: annotate it with brickwarden.io/approve={}",
            pending.digest
        );
    }
    if shown.mode == Mode::Audit && !result.planned_actions.is_empty() {
        println!("  Audit mode: nothing was changed. Enforce would run:");
        for a in &result.planned_actions {
            println!("    - {a}");
        }
    }
    println!();
}
