//! `brickwarden run` as a child process against the shared test control plane, with its logs
//! and its `/metrics`, `/healthz` and `/readyz` port.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::controlplane::{cluster_with_crds, free_port};
use super::kube::{condition_is, workspace};
use super::wait_for;

/// How long the end-to-end tests wait for what a controller does.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// `--lease-duration` of every test controller, in seconds: tests derive their bounds from it.
pub const LEASE_DURATION_SECS: u64 = 4;
/// How long before expiry the holder renews (`brickwarden run`: a third of the duration, at
/// least 2 s): the holder renews every `LEASE_DURATION_SECS - LEASE_GRACE_SECS` seconds.
pub const LEASE_GRACE_SECS: u64 = 2;

/// What a failed wait on workspace `ns/name` shows: its status and the last lines of `ctl`'s log.
pub fn diag(ns: &str, name: &str, ctl: &Controller) -> String {
    format!("{:#}\n{}", workspace(ns, name)["status"], ctl.tail())
}

/// Waits ([`TIMEOUT`]) until workspace `ns/name` is `done`, and returns it; on timeout fails
/// with `what`, the workspace's status and `ctl`'s log tail.
pub fn wait_workspace(
    ns: &str,
    name: &str,
    ctl: &Controller,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(
        TIMEOUT,
        what,
        || diag(ns, name, ctl),
        || {
            let ws = workspace(ns, name);
            done(&ws).then_some(ws)
        },
    )
}

/// Waits ([`TIMEOUT`]) until `ctl` has made workspace `ns/name` Ready=True and Compliant=True,
/// and returns it.
pub fn wait_ready_compliant(ns: &str, name: &str, ctl: &Controller) -> Value {
    wait_workspace(
        ns,
        name,
        ctl,
        &format!("{ns}/{name} Ready=True and Compliant=True"),
        |ws| condition_is(ws, "Ready", "True") && condition_is(ws, "Compliant", "True"),
    )
}

/// A `brickwarden run` child process; killed (SIGKILL) and reaped on drop.
pub struct Controller {
    child: Option<Child>,
    pub identity: String,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Controller {
    /// Starts `brickwarden run` on a free port for the workspaces that match `selector`, as
    /// `identity` electing a leader on Lease `lease` in `lease_ns` (4 s lease duration). Its log
    /// level is `E2E_CONTROLLER_LOG` (default `info`).
    pub fn start(lease_ns: &str, lease: &str, identity: &str, selector: &str) -> Controller {
        Controller::start_with(
            lease_ns,
            lease,
            identity,
            selector,
            cluster_with_crds().kubeconfig_path(),
            &[],
            &[],
        )
    }

    /// [`Controller::start`] with another kubeconfig (e.g. a ServiceAccount's token), extra
    /// arguments of `brickwarden run` (e.g. `--watch-namespace`) and extra environment
    /// variables (they win over the defaults, e.g. `RUST_LOG`).
    pub fn start_with(
        lease_ns: &str,
        lease: &str,
        identity: &str,
        selector: &str,
        kubeconfig: &std::path::Path,
        extra_args: &[&str],
        envs: &[(&str, &str)],
    ) -> Controller {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("controller.log");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_brickwarden"))
            .args([
                "run",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--selector",
                selector,
                "--egress-address",
                "127.0.0.1",
                "--lease-name",
                lease,
                "--identity",
                identity,
                "--lease-duration",
                &LEASE_DURATION_SECS.to_string(),
            ])
            .args(extra_args)
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", lease_ns)
            .env_remove("POD_NAME")
            .env(
                "RUST_LOG",
                std::env::var("E2E_CONTROLLER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("BRICKWARDEN_ARM_URL", "http://127.0.0.1:9/arm")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("stdout.log")).expect("log file"))
            .stderr(File::create(&log).expect("log file"))
            .spawn()
            .expect("brickwarden run starts");
        Controller {
            child: Some(child),
            identity: identity.to_string(),
            port,
            log,
            _dir: dir,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Everything it has logged so far (stderr, then stdout).
    pub fn logs(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        if let Ok(mut f) = File::open(self.log.with_file_name("stdout.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The last 40 lines of its logs, for a failure message.
    pub fn tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "--- {} logs (last 40 lines):\n{}",
            self.identity,
            lines[from..].join("\n")
        )
    }

    /// `http://127.0.0.1:PORT{path}` of its metrics and probes port.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process has not exited (it is not reaped here, so a later check still sees it).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
    }
}
