//! The `brickwarden` command line.

mod demo;
mod files;
mod output;
mod plan;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::engine::Apply;
use crate::telemetry::LogFormat;

#[derive(Parser, Debug)]
#[command(
    name = "brickwarden",
    version,
    about = "Keeps Databricks workspaces at a declared security posture"
)]
pub struct Cli {
    /// Log format on stderr; levels come from RUST_LOG.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "BRICKWARDEN_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller against the current cluster (in-cluster config or kubeconfig).
    Run(crate::controller::RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Evaluate resources from files without a cluster; exit 0 compliant, 2 drift, 1 error.
    Plan(plan::PlanArgs),
    /// Remediate the drift of resources from files once, without a cluster; exit codes as plan.
    Apply(plan::PlanArgs),
    /// Serve a local Databricks workspace + ARM + token-endpoint emulator.
    Emulator(brickwarden_emulator::EmulatorArgs),
    /// Show brickwarden finding and fixing drift on an embedded emulator.
    Demo(demo::DemoArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the CLI print for people on stdout; only warnings are logged unless asked.
    let default_level = match cli.command {
        Command::Run(_) | Command::Emulator(_) => "info",
        _ => "warn",
    };
    crate::telemetry::init(cli.log_format, default_level);
    if let Command::Crd = cli.command {
        print!("{}", crate::api::crds_yaml());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let result = match cli.command {
            Command::Plan(args) => return plan::run(args, Apply::Never).await,
            Command::Apply(args) => return plan::run(args, Apply::Enforce).await,
            Command::Run(args) => crate::controller::run(args).await,
            Command::Emulator(args) => brickwarden_emulator::run_cli(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Crd => unreachable!("handled above"),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
