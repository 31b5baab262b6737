//! `brickwarden plan -f` and `brickwarden apply -f`: the pipeline without a cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;
use futures::StreamExt;
use secrecy::SecretString;
use url::Url;

use super::files;
use super::output::{self, WorkspaceResult};
use crate::api::WorkspaceAuth;
use crate::clients::ClientOptions;
use crate::engine::{self, Apply, Subject, credentials};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Files or directories of DatabricksWorkspace and DatabricksAccount (and SecurityBaseline)
    /// resources.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// This machine's egress addresses, never to be locked out by IP access list changes.
    #[arg(long = "egress-address", value_name = "IP_OR_CIDR")]
    pub egress_addresses: Vec<String>,
    /// This machine reaches the workspaces over Private Link, so `apply` may disable their
    /// public network access without cutting itself off.
    #[arg(long)]
    pub private_network: bool,
    /// Azure Resource Manager endpoint (sovereign clouds, the emulator).
    #[arg(
        long,
        env = "BRICKWARDEN_ARM_URL",
        default_value = "https://management.azure.com"
    )]
    pub arm_url: Url,
    /// Workspaces evaluated at once; results are reported in input order.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// PEM file of CA certificates to trust in addition to the system roots (a TLS-inspecting
    /// proxy, a private CA). Verification stays on.
    #[arg(long, env = "BRICKWARDEN_CA_BUNDLE", value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,
}

/// Where each auth method's secret comes from outside a cluster.
fn secret_from_env(auth: &WorkspaceAuth) -> (Option<SecretString>, Option<PathBuf>, &'static str) {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
    };
    if auth.personal_access_token.is_some() {
        (var("DATABRICKS_TOKEN"), None, "set DATABRICKS_TOKEN")
    } else if auth.databricks_oauth.is_some() {
        (
            var("DATABRICKS_CLIENT_SECRET"),
            None,
            "set DATABRICKS_CLIENT_SECRET",
        )
    } else if auth.azure_client_secret.is_some() {
        (var("AZURE_CLIENT_SECRET"), None, "set AZURE_CLIENT_SECRET")
    } else {
        (
            None,
            std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            "set AZURE_FEDERATED_TOKEN_FILE",
        )
    }
}

pub async fn run(args: PlanArgs, apply: Apply) -> ExitCode {
    match run_inner(&args, apply).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn run_inner(args: &PlanArgs, apply: Apply) -> anyhow::Result<ExitCode> {
    crate::clients::install_crypto_provider();
    let inputs = files::load(&args.files)?;
    if inputs.workspaces.is_empty() && inputs.accounts.is_empty() {
        anyhow::bail!(
            "no DatabricksWorkspace or DatabricksAccount resources found in the given files"
        );
    }
    let reach = engine::Reach {
        egress: crate::controls::access::parse_protected(&args.egress_addresses)
            .map_err(anyhow::Error::msg)?,
        private_network: args.private_network,
    };
    let mut options = ClientOptions::default();
    if let Some(path) = &args.ca_bundle {
        options.http.extra_roots =
            crate::clients::http::load_ca_bundle(path).map_err(anyhow::Error::msg)?;
    }
    // One HTTP client for every workspace of the run.
    options.http = std::mem::take(&mut options.http)
        .shared()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let progress = Progress::new(
        inputs.workspaces.len() + inputs.accounts.len(),
        args.output == OutputFormat::Table && std::io::stderr().is_terminal(),
    );
    let run = Run {
        inputs: &inputs,
        reach: &reach,
        options: &options,
        args,
        apply,
        progress: &progress,
    };
    // Accounts first: they govern the workspaces (serverless egress, NCC bindings).
    let mut results = run.all(&inputs.accounts).await;
    results.extend(run.all(&inputs.workspaces).await);
    progress.finish();
    let colour = output::colour_enabled();
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        OutputFormat::Table => {
            for r in &results {
                println!("{}", output::workspace_heading(r));
                if let Some(error) = &r.error {
                    println!("  error: {error}");
                }
                print!("{}", output::controls_table(&r.controls, colour));
                if !r.planned_actions.is_empty() {
                    println!("  planned actions:");
                    for a in &r.planned_actions {
                        println!("    - {a}");
                    }
                }
                if let Some(pending) = &r.pending_approval {
                    println!(
                        "  destructive changes wait for approval: annotate the resource with \
                         brickwarden.io/approve={}",
                        pending.digest
                    );
                }
                println!();
            }
        }
    }
    Ok(if results.iter().any(|r| r.error.is_some()) {
        ExitCode::from(1)
    } else if results.iter().any(|r| !r.compliant) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// What every resource of one `plan`/`apply` run shares.
struct Run<'a> {
    inputs: &'a files::Inputs,
    reach: &'a engine::Reach,
    options: &'a ClientOptions,
    args: &'a PlanArgs,
    apply: Apply,
    progress: &'a Progress,
}

impl Run<'_> {
    /// Every subject, `--concurrency` at once, reported in input order.
    async fn all<S: Subject + kube::Resource>(&self, subjects: &[S]) -> Vec<WorkspaceResult> {
        futures::stream::iter(subjects)
            .map(|subject| async {
                let result = one(
                    subject,
                    self.inputs,
                    self.reach,
                    self.options,
                    &self.args.arm_url,
                    self.apply,
                )
                .await;
                self.progress.advance();
                result
            })
            .buffered(usize::from(self.args.concurrency))
            .collect()
            .await
    }
}

async fn one<S: Subject + kube::Resource>(
    subject: &S,
    inputs: &files::Inputs,
    reach: &engine::Reach,
    options: &ClientOptions,
    arm_url: &Url,
    apply: Apply,
) -> WorkspaceResult {
    let namespace = subject
        .meta()
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = subject.meta().name.clone().unwrap_or_default();
    let host = subject.host();
    let failed = |error: String| WorkspaceResult {
        error: Some(error),
        compliant: false,
        ..WorkspaceResult::from_report(&namespace, &name, host, &engine::Report::default())
    };
    let baseline = match subject.baseline_ref() {
        None => None,
        Some(b) => match inputs.baseline(b) {
            Some(baseline) => Some(baseline.spec),
            None => {
                return failed(format!(
                    "SecurityBaseline {b:?} is neither in the given files nor built in"
                ));
            }
        },
    };
    let target = match subject.target(baseline.as_ref(), reach, jiff::Timestamp::now()) {
        Ok(t) => t,
        Err(e) => return failed(e.to_string()),
    };
    let (secret, token_file, hint) = secret_from_env(subject.auth());
    let connections = credentials::credential_for(subject.auth(), secret, token_file, hint)
        .and_then(|credential| subject.connect(credential, options, arm_url));
    let connections = match connections {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let report = S::reconcile(&target, &connections, apply).await;
    WorkspaceResult::from_report(&namespace, &name, host, &report)
}

/// `12/1000 workspaces` on stderr while a long run goes on, only on a terminal and never with
/// `-o json`.
struct Progress {
    total: usize,
    done: AtomicUsize,
    shown: bool,
}

impl Progress {
    fn new(total: usize, shown: bool) -> Progress {
        Progress {
            total,
            done: AtomicUsize::new(0),
            shown: shown && total > 1,
        }
    }

    fn advance(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{done}/{} workspaces", self.total);
            let _ = err.flush();
        }
    }

    fn finish(&self) {
        if self.shown {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}
