//! `brickwarden plan` and `apply` as a user runs them: the binary, the files in `examples/`, and a
//! `brickwarden emulator` process, with credentials from the standard environment variables.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::controlplane::free_port;
use crate::support::emulator::Admin;
use crate::support::text;

const BIN: &str = env!("CARGO_BIN_EXE_brickwarden");
const EXAMPLE_BASE: &str = "http://127.0.0.1:8765";

/// A `brickwarden emulator` process, killed on drop.
struct EmulatorProcess {
    child: Child,
    base: String,
}

impl EmulatorProcess {
    fn start() -> EmulatorProcess {
        EmulatorProcess::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> EmulatorProcess {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["emulator", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start brickwarden emulator");
        let base = format!("http://127.0.0.1:{port}");
        let emulator = EmulatorProcess { child, base };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "emulator did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        emulator
    }

    /// Every request since start, read through the admin API.
    fn journal(&self) -> Vec<serde_json::Value> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(Admin::new(&self.base).journal_json(""))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The examples, pointed at this emulator.
fn examples(dir: &Path, base: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(EXAMPLE_BASE, base);
        std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
    }
}

fn brickwarden(base: &str, args: &[&str], with_secrets: bool) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("DATABRICKS_TOKEN")
        .env_remove("DATABRICKS_CLIENT_SECRET")
        .env_remove("AZURE_CLIENT_SECRET")
        .env("AZURE_AUTHORITY_HOST", format!("{base}/aad"))
        .env("BRICKWARDEN_ARM_URL", format!("{base}/arm"))
        .env("NO_COLOR", "1");
    if with_secrets {
        command
            .env("DATABRICKS_TOKEN", "dapi-emulator")
            .env("DATABRICKS_CLIENT_SECRET", "emulator-secret")
            .env("AZURE_CLIENT_SECRET", "emulator-secret");
    }
    command.output().expect("run brickwarden")
}

fn assert_no_secrets(out: &Output) {
    let all = text(out);
    for secret in ["dapi-emulator", "emulator-secret"] {
        assert!(!all.contains(secret), "{secret} leaked into output:\n{all}");
    }
}

#[test]
fn plan_reports_drift_as_json_apply_fixes_it() {
    let emulator = EmulatorProcess::start();
    let dir = tempfile::tempdir().unwrap();
    examples(dir.path(), &emulator.base);
    let files = dir.path().to_str().unwrap();

    let plan = brickwarden(&emulator.base, &["plan", "-f", files, "-o", "json"], true);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "plan exits 2 on drift:\n{}",
        text(&plan)
    );
    assert_no_secrets(&plan);
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&plan.stdout).expect("JSON on stdout");
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["contoso", "analytics-prod", "finance", "ml-sandbox"],
        "accounts first, then workspaces, each in input order"
    );
    let account = &results[0];
    assert_eq!(account["compliant"], false, "{account}");
    assert!(
        account["plannedActions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "POST network-connectivity-config ncc-westeurope in westeurope"),
        "the account's NCC is planned: {account}"
    );
    for r in &results[1..] {
        assert_eq!(r["compliant"], false, "{r}");
        assert!(!r["plannedActions"].as_array().unwrap().is_empty(), "{r}");
        let export = r["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "workspaceConf/enableExportNotebook")
            .expect("control present");
        assert_eq!(
            (
                export["state"].as_str(),
                export["desired"].as_str(),
                export["observed"].as_str()
            ),
            (Some("Drifted"), Some("false"), Some("unset"))
        );
    }
    // Token exchanges are POSTs to the token endpoints; the workspaces and ARM only see reads.
    let writes: Vec<_> = emulator
        .journal()
        .into_iter()
        .filter(|r| {
            r["workspace"] != "aad"
                && !r["path"].as_str().unwrap_or("").starts_with("/oidc/")
                && r["method"] != "GET"
        })
        .collect();
    assert!(writes.is_empty(), "plan never writes: {writes:?}");

    // The emulator is on loopback: this machine reaches it privately.
    let apply = brickwarden(
        &emulator.base,
        &["apply", "--private-network", "-f", files],
        true,
    );
    assert_no_secrets(&apply);
    assert_eq!(
        apply.status.code(),
        Some(2),
        "the Audit workspace stays drifted:\n{}",
        text(&apply)
    );
    assert!(String::from_utf8_lossy(&apply.stdout).contains("Remediated"));

    let enforced = [
        dir.path().join("analytics-prod.yaml"),
        dir.path().join("finance.yaml"),
    ];
    let args: Vec<&str> = ["plan", "--private-network", "-o", "json"]
        .into_iter()
        .chain(enforced.iter().flat_map(|p| ["-f", p.to_str().unwrap()]))
        .collect();
    let after = brickwarden(&emulator.base, &args, true);
    // Everything brickwarden can fix is fixed; what is left is the customer-managed key of the
    // Premium finance workspace, which is configured in Azure and only verified.
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&after.stdout).expect("JSON on stdout");
    let left: Vec<(&str, &str, &str)> = results
        .iter()
        .flat_map(|r| r["controls"].as_array().unwrap())
        .filter(|c| !matches!(c["state"].as_str(), Some("Compliant" | "NotApplicable")))
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["state"].as_str().unwrap(),
                c["reason"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        left,
        [("azure/customerManagedKeys", "Drifted", "VerifyOnly")],
        "Enforce workspaces are compliant after apply:\n{}",
        text(&after)
    );
    assert!(
        results
            .iter()
            .all(|r| r["plannedActions"].as_array().unwrap().is_empty())
    );
}

#[test]
fn missing_credentials_and_bad_files_exit_1_with_a_reason() {
    let emulator = EmulatorProcess::start();
    let dir = tempfile::tempdir().unwrap();
    examples(dir.path(), &emulator.base);
    let ws = dir.path().join("analytics-prod.yaml");

    let out = brickwarden(&emulator.base, &["plan", "-f", ws.to_str().unwrap()], false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("DATABRICKS_TOKEN"),
        "says which variable is missing:\n{}",
        text(&out)
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksWorkspace\nmetadata: {name: bad}\nspec:\n  host: https://h\n  auth: {}\n  policy: {tokens: {maxLifetimeDays: 0}}\n").unwrap();
    let out = brickwarden(&emulator.base, &["plan", "-f", bad.to_str().unwrap()], true);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("bad.yaml") && message.contains("maxLifetimeDays"),
        "{message}"
    );
    assert!(
        emulator.journal().is_empty(),
        "nothing is read for an invalid file"
    );

    let out = brickwarden(&emulator.base, &["plan", "-f", "/nonexistent/dir"], true);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("does not exist"));
}

/// The README's first command: the demo finds and fixes drift, prints the Audit plan, and logs
/// each remediation once as a JSON line with the control, desired and observed values.
#[test]
fn demo_fixes_drift_and_logs_remediations_as_json() {
    let out = Command::new(BIN)
        .args(["--log-format", "json", "demo", "--once"])
        .env("RUST_LOG", "brickwarden=info")
        .env("NO_COLOR", "1")
        .output()
        .expect("run brickwarden demo");
    assert!(out.status.success(), "{}", text(&out));
    assert_no_secrets(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "data-platform/analytics-prod",
        "Remediated",
        "Audit mode: nothing was changed. Enforce would run:",
        "NotApplicable",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let summary = stdout.lines().last().expect("a summary line");
    // "N remediation(s) applied with M write request(s); ...": one write per action.
    let words: Vec<&str> = summary.split(' ').collect();
    let applied: u32 = words[0].parse().expect("count of remediations");
    let writes: u32 = words[4].parse().expect("count of writes");
    assert!(applied > 0, "{summary}");
    assert_eq!(
        writes, applied,
        "each remediation is one write request: {summary}"
    );

    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let remediated: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "remediated")
        .collect();
    assert!(!remediated.is_empty(), "{lines:#?}");
    let export = remediated
        .iter()
        .find(|l| l["control"] == "workspaceConf/enableExportNotebook")
        .expect("the exportNotebook remediation is logged");
    // A new workspace has never set the key: it reads `null`, shown as `unset`.
    assert_eq!(
        (export["desired"].as_str(), export["observed"].as_str()),
        (Some("false"), Some("unset"))
    );
    // Two Enforce workspaces fix exportNotebook: logged once each, the Audit one not at all.
    let export_lines = remediated
        .iter()
        .filter(|l| l["control"] == "workspaceConf/enableExportNotebook")
        .count();
    assert_eq!(export_lines, 2, "{remediated:#?}");
}

/// `plan` evaluates workspaces concurrently and reports them in input order: with the first
/// workspace answering slowly, the others are read while it waits (the emulator journals a
/// request when it answers), yet the output keeps the order of the files.
#[test]
fn plan_is_concurrent_and_keeps_input_order() {
    let emulator = EmulatorProcess::start_with(&["--workspaces", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let order = ["ws-4", "ws-1", "ws-3", "ws-2"];
    let files: Vec<String> = order
        .iter()
        .map(|ws| {
            let path = dir.path().join(format!("{ws}.yaml"));
            let yaml = [
                "apiVersion: brickwarden.io/v1alpha1".to_string(),
                "kind: DatabricksWorkspace".to_string(),
                format!("metadata: {{name: {ws}, namespace: fleet}}"),
                "spec:".to_string(),
                format!("  host: {}/ws/{ws}", emulator.base),
                "  auth: {personalAccessToken: {secretRef: {name: pat, key: token}}}".to_string(),
                "  policy: {workspaceConf: {exportNotebook: false}}".to_string(),
            ]
            .join("\n");
            std::fs::write(&path, yaml).unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect();
    let slow = Command::new("curl")
        .args([
            "-sf",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"workspace": "ws-4", "path_prefix": "/api/2.0/workspace-conf", "latency_ms": 1500, "count": 1}"#,
            &format!("{}/_emulator/faults", emulator.base),
        ])
        .status()
        .unwrap();
    assert!(slow.success());
    let plan = |concurrency: &str| {
        let mut args = vec!["plan", "-o", "json", "--concurrency", concurrency];
        for f in &files {
            args.extend(["-f", f.as_str()]);
        }
        brickwarden(&emulator.base, &args, true)
    };
    let answered_order = || -> Vec<String> {
        emulator
            .journal()
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/api/2.0/workspace-conf"))
            })
            .map(|r| r["workspace"].as_str().unwrap().to_string())
            .collect()
    };

    let out = plan("4");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, order, "output in input order");
    let answered = answered_order();
    assert_eq!(answered.len(), 4, "{answered:?}");
    assert_eq!(
        answered.last().map(String::as_str),
        Some("ws-4"),
        "the slow one answered last: the others did not wait for it"
    );

    // One at a time, the first file is answered first.
    Command::new("curl")
        .args([
            "-sf",
            "-X",
            "DELETE",
            &format!("{}/_emulator/requests", emulator.base),
        ])
        .status()
        .unwrap();
    let out = plan("1");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(answered_order(), order);
}

/// A full `apply` at trace level with each of the four auth methods, once with the right
/// credentials and once with wrong ones: no credential value (PAT, client secrets, the
/// federated token, any access token the token endpoints issued) is in the output, the logs or
/// the error strings.
#[test]
fn no_credential_reaches_output_or_trace_logs_with_any_auth_method() {
    let emulator = EmulatorProcess::start();
    let dir = tempfile::tempdir().unwrap();
    // A federated token as AKS mounts it: a JWT the emulator accepts as client_assertion.
    let federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YnJpY2t3YXJkZW4ifQ.ZmVkZXJhdGVkLXNpZ25hdHVyZQ";
    let token_file = dir.path().join("federated-token");
    std::fs::write(&token_file, federated).unwrap();
    let resource = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws-1";
    let ids = "tenantId: 11111111-1111-1111-1111-111111111111, clientId: 22222222-2222-2222-2222-222222222222";
    let methods = [
        ("pat", "personalAccessToken: {secretRef: {name: s, key: k}}".to_string(), "DATABRICKS_TOKEN"),
        ("oauth", "databricksOAuth: {clientId: 22222222-2222-2222-2222-222222222222, clientSecretRef: {name: s, key: k}}".to_string(), "DATABRICKS_CLIENT_SECRET"),
        ("entra", format!("azureClientSecret: {{{ids}, clientSecretRef: {{name: s, key: k}}}}"), "AZURE_CLIENT_SECRET"),
        ("workload", format!("azureWorkloadIdentity: {{{ids}}}"), "AZURE_FEDERATED_TOKEN_FILE"),
    ];
    let jwt = |text: &str| {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
            .any(|word| word.starts_with("eyJ") && word.matches('.').count() == 2)
    };
    for (name, auth, variable) in methods {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksWorkspace\nmetadata: {{name: {name}, namespace: leak}}\nspec:\n  host: {}/ws/ws-1\n  azureResourceId: {resource}\n  auth: {{{auth}}}\n  policy:\n    workspaceConf: {{exportNotebook: false}}\n    azure: {{noPublicIp: true}}\n",
                emulator.base
            ),
        )
        .unwrap();
        for (secret, right) in [
            ("dapi-emulator", true),
            ("emulator-secret", true),
            ("wrong-secret-value", false),
        ] {
            if (variable == "DATABRICKS_TOKEN") != secret.starts_with("dapi") && right {
                continue;
            }
            let value = if variable == "AZURE_FEDERATED_TOKEN_FILE" {
                token_file.to_string_lossy().into_owned()
            } else {
                secret.to_string()
            };
            let out = Command::new(BIN)
                .args(["apply", "--private-network", "-f"])
                .arg(&file)
                .env_remove("DATABRICKS_TOKEN")
                .env_remove("AZURE_CLIENT_SECRET")
                .env(variable, &value)
                .env("AZURE_AUTHORITY_HOST", format!("{}/aad", emulator.base))
                .env("BRICKWARDEN_ARM_URL", format!("{}/arm", emulator.base))
                .env("RUST_LOG", "trace")
                .env("NO_COLOR", "1")
                .output()
                .expect("run brickwarden");
            let all = text(&out);
            assert!(all.len() > 1000, "{name}: trace logs were written:\n{all}");
            for leaked in [secret, federated] {
                assert!(!all.contains(leaked), "{name}: {leaked} leaked:\n{all}");
            }
            assert!(!jwt(&all), "{name}: an access token leaked:\n{all}");
            if right {
                assert_eq!(out.status.code(), Some(0), "{name}:\n{all}");
            } else if variable != "AZURE_FEDERATED_TOKEN_FILE" {
                assert_ne!(
                    out.status.code(),
                    Some(0),
                    "{name} with a wrong secret:\n{all}"
                );
            }
        }
    }
}

/// `plan` honours exceptions while they run and ignores them after: an excepted drift is
/// reported `Excepted` and does not make the plan exit 2; the same exception expired does.
#[test]
fn plan_reports_excepted_controls_until_the_exception_expires() {
    let emulator = EmulatorProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = |expires: &str| {
        let file = dir.path().join("excepted.yaml");
        std::fs::write(
            &file,
            [
                "apiVersion: brickwarden.io/v1alpha1".to_string(),
                "kind: DatabricksWorkspace".to_string(),
                "metadata: {name: excepted, namespace: governance}".to_string(),
                "spec:".to_string(),
                format!("  host: {}/ws/ws-1", emulator.base),
                "  auth: {personalAccessToken: {secretRef: {name: pat, key: token}}}".to_string(),
                format!("  exceptions: [{{controls: [workspaceConf/enableWebTerminal], reason: SEC-123, expires: \"{expires}\", approvedBy: security@example.com}}]"),
                "  policy: {workspaceConf: {webTerminal: false}}".to_string(),
            ]
            .join("\n"),
        )
        .unwrap();
        let out = brickwarden(
            &emulator.base,
            &["plan", "-o", "json", "-f", file.to_str().unwrap()],
            true,
        );
        let results: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        (out.status.code(), results[0]["controls"][0].clone())
    };
    let in_a_month = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(720)).to_string();
    let (code, control) = plan(&in_a_month);
    assert_eq!(code, Some(0), "{control}");
    assert_eq!(control["state"], "Excepted");
    assert!(control["message"].as_str().unwrap().contains("SEC-123"));

    let (code, control) = plan("2020-01-01T00:00:00Z");
    assert_eq!(code, Some(2), "{control}");
    assert_eq!(control["state"], "Drifted");
}
