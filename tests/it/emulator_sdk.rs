//! Runs the official Databricks SDK for Python, and the Azure SDKs for Python
//! (`azure-mgmt-databricks`, `azure-mgmt-monitor`) against the emulator's `/arm`, against the
//! emulator: starts an emulator in-process (ws-2 on the Standard tier, ws-3 in another region;
//! and a second one whose account is on AWS, for the account API), prepares the pinned
//! virtualenv with `scripts/python-env.sh` and runs `pytest tests/sdk`. Fails (never skips) when Python or the virtualenv cannot be set up.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use brickwarden_emulator::{Cloud, Emulator, EmulatorConfig, TENANT_ID};
use tokio::process::Command;

const PAT: &str = "dapi-sdk-conformance";
const CLIENT_SECRET: &str = "sdk-conformance-secret";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) async fn python() -> String {
    let script = repo_root().join("scripts/python-env.sh");
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scripts/python-env.sh failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let python = stdout.lines().last().unwrap_or_default().trim().to_string();
    assert!(
        !python.is_empty() && std::path::Path::new(&python).exists(),
        "scripts/python-env.sh printed no usable python path:\n{stdout}"
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_works_against_the_emulator() {
    let python = python().await;
    let config = EmulatorConfig {
        workspaces: 3,
        token: PAT.to_string(),
        client_secret: CLIENT_SECRET.to_string(),
        standard_workspaces: vec![2],
        // The account conformance test binds NCCs across regions.
        regions: vec![(3, "northeurope".to_string())],
        ..EmulatorConfig::default()
    };
    let account_id = config.account_id.clone();
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator starts");
    // The AWS-only account APIs (private access settings) need an account on AWS.
    let aws = Emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorConfig {
            workspaces: 2,
            token: PAT.to_string(),
            client_secret: CLIENT_SECRET.to_string(),
            cloud: Cloud::Aws,
            workspace_hosts: false,
            ..EmulatorConfig::default()
        },
    )
    .await
    .expect("AWS-mode emulator starts");

    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/sdk"])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // The SDK reads DATABRICKS_*/ARM_*/AZURE_* variables and ~/.databrickscfg: keep the
    // developer's own configuration out of the test.
    for (key, _) in std::env::vars() {
        if key.starts_with("DATABRICKS_") || key.starts_with("ARM_") || key.starts_with("AZURE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("EMULATOR_BASE_URL", emulator.base_url())
        .env("EMULATOR_AWS_BASE_URL", aws.base_url())
        .env("EMULATOR_ACCOUNT_ID", &account_id)
        .env("EMULATOR_WS_URL", emulator.workspace_url("ws-1"))
        .env("EMULATOR_WS2_URL", emulator.workspace_url("ws-2"))
        .env("EMULATOR_TOKEN", PAT)
        .env("EMULATOR_CLIENT_SECRET", CLIENT_SECRET)
        .env("EMULATOR_ARM_URL", emulator.arm_url())
        .env("EMULATOR_AUTHORITY_HOST", emulator.authority_host())
        .env("EMULATOR_TENANT_ID", TENANT_ID)
        .env("EMULATOR_ARM_RESOURCE_ID", emulator.arm_resource_id("ws-1"))
        .env(
            "EMULATOR_ARM_RESOURCE_ID_STANDARD",
            emulator.arm_resource_id("ws-2"),
        );

    let output = tokio::time::timeout(Duration::from_secs(480), cmd.output())
        .await
        .expect("pytest finished within 8 minutes")
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    emulator.shutdown().await;
    aws.shutdown().await;
    assert!(
        output.status.success(),
        "pytest tests/sdk failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(" passed"),
        "pytest ran no test:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
}
