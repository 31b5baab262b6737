//! The `brickwarden` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "brickwarden",
    version,
    about = "Keeps Databricks workspaces at a declared security posture"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller against the current cluster (in-cluster config or kubeconfig).
    Run,
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Evaluate resources from files without a cluster and show the drift.
    Plan,
    /// Remediate the drift of resources from files once, without a cluster.
    Apply,
    /// Serve a local Databricks workspace + ARM + token-endpoint emulator.
    Emulator,
    /// Show brickwarden finding and fixing drift on an embedded emulator.
    Demo,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", crate::api::crds_yaml());
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("error: `{other:?}` is not available in this build yet");
            ExitCode::FAILURE
        }
    }
}
