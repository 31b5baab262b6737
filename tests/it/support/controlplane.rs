//! A real Kubernetes control plane (etcd + kube-apiserver) for integration tests.
//!
//! The integration tests reach it as `crate::support::controlplane` (`tests/it/support/`).
//!
//! * [`bin_dir`] builds the binaries once per machine with `tests/controlplane/build.sh`
//!   (kube-apiserver, kubectl, etcd, helm, promtool; cached outside the repository) and once
//!   per test process runs the script's fast path. Tests that only need `promtool` or `helm`
//!   call it without starting a cluster.
//! * [`ControlPlane::start`] starts a private etcd + kube-apiserver on free loopback ports,
//!   with an admin token in `system:masters`, RBAC authorization and a kubeconfig. Dropping
//!   the value kills and reaps both processes and removes its temporary directory.
//! * [`ControlPlane::shared`] is one control plane for the whole test binary, for tests that
//!   can share a cluster (use a namespace of your own); it is torn down when the process exits.
//!   [`cluster_with_crds`] is the same one with brickwarden's CRDs installed.
//!
//! Child processes are spawned from one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`,
//! so they die with the test process even when it is killed, not only when `Drop` runs.
//!
//! There is no kube-controller-manager or scheduler: like envtest, namespaces stay
//! `Terminating`, owner-reference garbage collection does not happen, and pods are never
//! scheduled. The `ServiceAccount` admission plugin is disabled so pods can be created
//! without a token controller.
//!
//! Environment:
//! * `BRICKWARDEN_CONTROLPLANE_BIN_DIR` — use binaries from this directory instead of running
//!   `build.sh`.
//! * `BRICKWARDEN_CONTROLPLANE_TIMEOUT_SECS` — how long to wait for `/readyz` (default 180).
//! * `BRICKWARDEN_KEEP_CONTROLPLANE_DIR=1` — keep the temporary directory (certificates,
//!   kubeconfig, etcd data and logs) after teardown and print its path.
//!
//! A failed build or start-up is an error (the test fails); nothing is skipped, in CI or not.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Lines of each log file quoted in a start-up error.
const LOG_TAIL_LINES: usize = 40;

/// Directory holding kube-apiserver, kubectl, etcd, helm and promtool.
///
/// Runs `tests/controlplane/build.sh` the first time it is called in a test process (a cold
/// build takes tens of minutes; later runs return at once) and caches the answer, error
/// included.
pub fn bin_dir() -> Result<PathBuf> {
    static BIN_DIR: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN_DIR
        .get_or_init(|| build_binaries().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("control-plane binaries are not available: {e}"))
}

/// Path of one binary in [`bin_dir`], e.g. `binary("promtool")`.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.is_file() {
        bail!("{} does not exist", path.display());
    }
    Ok(path)
}

fn build_binaries() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BRICKWARDEN_CONTROLPLANE_BIN_DIR") {
        let dir = PathBuf::from(dir);
        for name in ["kube-apiserver", "kubectl", "etcd", "helm", "promtool"] {
            if !dir.join(name).is_file() {
                bail!(
                    "BRICKWARDEN_CONTROLPLANE_BIN_DIR={} has no {name}",
                    dir.display()
                );
            }
        }
        return Ok(dir);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/controlplane/build.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", script.display()))?;
    // Stream the build's progress to the real stderr (not captured by the test harness, so a
    // long cold build shows what it is doing) and keep its tail for the error message.
    let stderr = child.stderr.take().expect("piped stderr");
    let echo = std::thread::spawn(move || {
        let mut tail = VecDeque::new();
        for line in BufReader::new(stderr).lines().map_while(io::Result::ok) {
            let _ = writeln!(io::stderr(), "{line}");
            if tail.len() == LOG_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        tail.into_iter().collect::<Vec<_>>().join("\n")
    });
    let mut stdout = String::new();
    io::Read::read_to_string(child.stdout.as_mut().expect("piped stdout"), &mut stdout)?;
    let status = child.wait()?;
    let stderr_tail = echo.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "{} failed ({status}); last lines of its stderr:\n{stderr_tail}",
            script.display()
        );
    }
    let dir = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| anyhow!("{} printed no bin directory", script.display()))?;
    if !dir.is_dir() {
        bail!(
            "{} printed {}, which is not a directory",
            script.display(),
            dir.display()
        );
    }
    Ok(dir)
}

/// A running etcd + kube-apiserver pair. Dropping it kills and reaps both processes.
pub struct ControlPlane {
    bin_dir: PathBuf,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    etcd: Option<Child>,
    apiserver: Option<Child>,
    etcd_url: String,
    server_url: String,
    token: String,
    kubeconfig: PathBuf,
    ca_cert: PathBuf,
}

impl ControlPlane {
    /// Builds the binaries if needed, then starts a fresh control plane and waits until its
    /// `/readyz` answers 200 and the `default` namespace exists.
    pub fn start() -> Result<ControlPlane> {
        let bin_dir = bin_dir()?;
        let mut attempt = 1;
        loop {
            match Self::start_once(&bin_dir) {
                Ok(cp) => return Ok(cp),
                // Free ports are found by binding port 0 and closing it again, so another
                // process may take one before etcd or kube-apiserver binds it.
                Err(e) if attempt < 3 && format!("{e:#}").contains("address already in use") => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One control plane shared by every test of this test binary, started on first use.
    ///
    /// Tests sharing it must not depend on a clean cluster: create a namespace per test.
    /// It is stopped, and its directory removed, when the test process exits.
    pub fn shared() -> Result<&'static ControlPlane> {
        static SHARED: OnceLock<std::result::Result<ControlPlane, String>> = OnceLock::new();
        let cp = SHARED.get_or_init(|| {
            let cp = ControlPlane::start().map_err(|e| format!("{e:#}"))?;
            register_exit_cleanup(&cp);
            Ok(cp)
        });
        cp.as_ref()
            .map_err(|e| anyhow!("shared control plane failed to start: {e}"))
    }

    fn start_once(bin_dir: &Path) -> Result<ControlPlane> {
        for name in ["etcd", "kube-apiserver", "kubectl"] {
            if !bin_dir.join(name).is_file() {
                bail!("{} has no {name}", bin_dir.display());
            }
        }
        remove_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .context("creating the control-plane temporary directory")?;
        let d = dir.path().to_path_buf();
        fs::write(d.join(OWNER_FILE), std::process::id().to_string())?;

        let pki = d.join("pki");
        fs::create_dir_all(&pki)?;
        generate_pki(&pki)?;
        let token = random_hex(32);
        fs::write(
            d.join("tokens.csv"),
            format!("{token},admin,admin-uid,\"system:masters\"\n"),
        )?;

        let [etcd_port, etcd_peer_port, api_port] = free_ports::<3>()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let etcd_peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let server_url = format!("https://127.0.0.1:{api_port}");

        let mut cp = ControlPlane {
            bin_dir: bin_dir.to_path_buf(),
            dir: Some(dir),
            dir_path: d.clone(),
            etcd: None,
            apiserver: None,
            etcd_url: etcd_url.clone(),
            server_url: server_url.clone(),
            token: token.clone(),
            kubeconfig: d.join("kubeconfig"),
            ca_cert: pki.join("ca.crt"),
        };

        let mut etcd = Command::new(bin_dir.join("etcd"));
        etcd.args([
            "--name=brickwarden-test".to_string(),
            format!("--data-dir={}", d.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={etcd_peer_url}"),
            format!("--initial-advertise-peer-urls={etcd_peer_url}"),
            format!("--initial-cluster=brickwarden-test={etcd_peer_url}"),
            "--initial-cluster-state=new".to_string(),
            // Test data is thrown away; fsync only slows every write down.
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ]);
        cp.etcd = Some(spawn_logged(etcd, &d.join("etcd.log")).context("starting etcd")?);

        let mut apiserver = Command::new(bin_dir.join("kube-apiserver"));
        apiserver.args([
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            // The endpoint reconciler rejects a loopback advertise address, and nothing
            // in-cluster needs the `kubernetes` service's endpoints.
            "--endpoint-reconciler-type=none".to_string(),
            format!("--secure-port={api_port}"),
            format!("--cert-dir={}", d.join("apiserver-certs").display()),
            format!("--tls-cert-file={}", pki.join("apiserver.crt").display()),
            format!(
                "--tls-private-key-file={}",
                pki.join("apiserver.key").display()
            ),
            format!("--client-ca-file={}", pki.join("ca.crt").display()),
            format!("--token-auth-file={}", d.join("tokens.csv").display()),
            "--authorization-mode=RBAC".to_string(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
            format!(
                "--service-account-key-file={}",
                pki.join("sa.pub").display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                pki.join("sa.key").display()
            ),
            "--service-cluster-ip-range=10.96.0.0/16".to_string(),
            // No controller-manager creates service accounts or their tokens.
            "--disable-admission-plugins=ServiceAccount".to_string(),
            "--allow-privileged=true".to_string(),
            "--profiling=false".to_string(),
            "--v=1".to_string(),
        ]);
        cp.apiserver = Some(
            spawn_logged(apiserver, &d.join("kube-apiserver.log"))
                .context("starting kube-apiserver")?,
        );

        let ca_pem = fs::read(&cp.ca_cert)?;
        fs::write(
            &cp.kubeconfig,
            format!(
                "apiVersion: v1\n\
                 kind: Config\n\
                 clusters:\n\
                 - name: brickwarden-test\n  \
                   cluster:\n    \
                     server: {server_url}\n    \
                     certificate-authority-data: {ca}\n\
                 users:\n\
                 - name: admin\n  \
                   user:\n    \
                     token: {token}\n\
                 contexts:\n\
                 - name: brickwarden-test\n  \
                   context:\n    \
                     cluster: brickwarden-test\n    \
                     user: admin\n    \
                     namespace: default\n\
                 current-context: brickwarden-test\n",
                ca = STANDARD.encode(&ca_pem),
            ),
        )?;

        if let Err(e) = cp.wait_ready() {
            return Err(anyhow!("{e:#}\n{}", cp.log_tails()));
        }
        Ok(cp)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let timeout = std::env::var("BRICKWARDEN_CONTROLPLANE_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180);
        let deadline = Instant::now() + Duration::from_secs(timeout);
        loop {
            for (name, child) in [
                ("etcd", &mut self.etcd),
                ("kube-apiserver", &mut self.apiserver),
            ] {
                if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                    bail!("{name} exited during start-up ({status})");
                }
            }
            let ready = self.kubectl(["get", "--raw", "/readyz", "--request-timeout=5s"])?;
            let last = if ready.status.success() {
                // /readyz is 200 once the post-start hooks ran; the default namespace is
                // created by a controller shortly after.
                let ns = self.kubectl(["get", "--raw", "/api/v1/namespaces/default"])?;
                if ns.status.success() {
                    return Ok(());
                }
                format!("/readyz ok, namespace default: {}", stderr_of(&ns))
            } else {
                format!("/readyz: {}", stderr_of(&ready))
            };
            if Instant::now() >= deadline {
                bail!(
                    "kube-apiserver at {} was not ready after {timeout}s (last: {last})",
                    self.server_url
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_tails(&self) -> String {
        let mut s = String::from("control-plane start-up failed");
        for name in ["etcd.log", "kube-apiserver.log"] {
            let path = self.dir_path.join(name);
            let text = fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            s.push_str(&format!(
                "\n--- last {} lines of {name} ---\n{}",
                tail.len(),
                tail.join("\n")
            ));
        }
        s
    }

    /// `https://127.0.0.1:PORT`
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The static bearer token of user `admin` in group `system:masters`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig with the server, the CA (inline) and the admin token; namespace `default`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// PEM of the CA that signed the serving certificate and that the apiserver trusts for
    /// client certificates (its key is `ca.key` next to it).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert
    }

    /// `http://127.0.0.1:PORT` of the etcd behind the apiserver.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// The control plane's temporary directory (pki/, kubeconfig, *.log, etcd/).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// Directory of the built binaries (same as the free function [`bin_dir`]).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A `kubectl --kubeconfig <ours>` command, to add arguments, stdin or env to.
    pub fn kubectl_command(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("kubectl"));
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .env_remove("KUBECONFIG")
            .env("KUBECACHEDIR", self.dir_path.join("kube-cache"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs kubectl against this control plane and returns its output, whatever its status.
    pub fn kubectl<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.kubectl_command();
        cmd.args(args);
        cmd.output().context("running kubectl")
    }

    /// Runs kubectl with `stdin` as its standard input, e.g. `kubectl_stdin(["apply", "-f", "-"], yaml)`.
    pub fn kubectl_stdin<I, S>(&self, args: I, stdin: &[u8]) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.kubectl_command();
        cmd.args(args);
        run_with_stdin(cmd, stdin).context("running kubectl")
    }

    /// Runs kubectl and returns its stdout; an error (with stderr) unless it exits 0.
    pub fn kubectl_ok<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let out = self.kubectl(args)?;
        if !out.status.success() {
            bail!(
                "kubectl {} failed ({}): {}",
                shown.join(" "),
                out.status,
                stderr_of(&out)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A `helm --kubeconfig <ours>` command whose cache, config and data live in the
    /// control plane's directory.
    pub fn helm_command(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("helm"));
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .env_remove("KUBECONFIG")
            .env("HELM_CACHE_HOME", self.dir_path.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir_path.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir_path.join("helm/data"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs helm against this control plane and returns its output, whatever its status.
    pub fn helm<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.helm_command();
        cmd.args(args);
        cmd.output().context("running helm")
    }

    /// Applies the CustomResourceDefinitions of `file` (relative to the repository) server-side,
    /// as the README says, and waits until `crds` are Established and `resources` are served.
    pub fn install_crds(&self, file: &str, crds: &[&str], resources: &[&str]) -> Result<()> {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let file = file.to_string_lossy();
        let out = self.kubectl(["apply", "--server-side", "-f", &file])?;
        if !out.status.success() {
            bail!(
                "kubectl apply --server-side -f {file} was rejected by kube-apiserver:\n{}",
                stderr_of(&out)
            );
        }
        let mut wait = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        wait.extend_from_slice(crds);
        let out = self.kubectl(&wait)?;
        if !out.status.success() {
            bail!("CRDs of {file} not Established:\n{}", stderr_of(&out));
        }
        // Established is set before discovery serves the new group: wait until kubectl sees it.
        let deadline = Instant::now() + Duration::from_secs(30);
        for resource in resources {
            loop {
                let out = self.kubectl(["get", resource, "-A", "-o", "name"])?;
                if out.status.success() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("{resource} is not served: {}", stderr_of(&out));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// A kube-rs client for this control plane (admin token, namespace `default`).
    pub async fn kube_client(&self) -> Result<kube::Client> {
        // Harmless when a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        Ok(kube::Client::try_from(config)?)
    }

    fn stop(&mut self) {
        // The apiserver first, so it does not log etcd errors on the way down.
        for child in [self.apiserver.take(), self.etcd.take()]
            .into_iter()
            .flatten()
        {
            kill_and_reap(child);
        }
        // Unless kept, the TempDir removes itself when dropped here.
        if let Some(dir) = self.dir.take()
            && std::env::var_os("BRICKWARDEN_KEEP_CONTROLPLANE_DIR").is_some()
        {
            let path = dir.keep();
            let _ = writeln!(
                io::stderr(),
                "control-plane directory kept: {}",
                path.display()
            );
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kill_and_reap(mut child: Child) {
    let _ = child.kill(); // SIGKILL; an error means it has already exited
    let _ = child.wait();
}

fn stderr_of(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr);
    let s = s.trim();
    if s.is_empty() {
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    } else {
        s.to_string()
    }
}

fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> io::Result<Output> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut pipe = child.stdin.take().expect("piped stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let out = child.wait_with_output()?;
    // A process that exits without reading all of stdin breaks the pipe; its status says more.
    let _ = writer.join();
    Ok(out)
}

/// [`ControlPlane::install_crds`] on the shared control plane, once per test process: `done`
/// keeps the outcome, so every test that needs the CRDs waits for the first install, and a
/// failed install fails each of them.
pub fn install_crds_once(
    done: &'static OnceLock<std::result::Result<(), String>>,
    file: &str,
    crds: &[&str],
    resources: &[&str],
) -> &'static ControlPlane {
    let cp = ControlPlane::shared().expect("shared control plane starts");
    let installed = done.get_or_init(|| {
        cp.install_crds(file, crds, resources)
            .map_err(|e| format!("{e:#}"))
    });
    if let Err(e) = installed {
        panic!("{e}");
    }
    cp
}

/// The shared control plane with brickwarden's CRDs (`crds/brickwarden.io.yaml`) installed,
/// Established and served.
pub fn cluster_with_crds() -> &'static ControlPlane {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    install_crds_once(
        &DONE,
        "crds/brickwarden.io.yaml",
        &[
            "crd/databricksworkspaces.brickwarden.io",
            "crd/securitybaselines.brickwarden.io",
        ],
        &[
            "databricksworkspaces.brickwarden.io",
            "securitybaselines.brickwarden.io",
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Child processes that die with the test process.

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` with stdout and stderr appended to `log`, from the spawner thread.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not the process.
/// Test threads end after each test (and a shared control plane outlives the test that
/// started it), so every child is forked by one thread that lives as long as the process.
fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child> {
    let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // system calls; it allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("controlplane-spawner".into())
            .spawn(move || {
                // Never returns while the process lives: the Sender sits in a static.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("starting the control-plane spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    let program = cmd.get_program().to_string_lossy().into_owned();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| anyhow!("control-plane spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| anyhow!("control-plane spawner thread is gone"))?
        .with_context(|| format!("spawning {program}"))
}

/// Processes and directory of the shared control plane, cleaned up by `atexit`.
static EXIT_CLEANUP: Mutex<Option<(Vec<u32>, PathBuf, bool)>> = Mutex::new(None);

fn register_exit_cleanup(cp: &ControlPlane) {
    let pids = [&cp.apiserver, &cp.etcd]
        .into_iter()
        .flatten()
        .map(Child::id)
        .collect();
    let keep = std::env::var_os("BRICKWARDEN_KEEP_CONTROLPLANE_DIR").is_some();
    *EXIT_CLEANUP.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((pids, cp.dir_path.clone(), keep));
    extern "C" fn cleanup() {
        let Ok(mut guard) = EXIT_CLEANUP.try_lock() else {
            return;
        };
        if let Some((pids, dir, keep)) = guard.take() {
            for pid in pids {
                // PDEATHSIG would kill them a moment later anyway; kill now so that the
                // directory is not in use while it is removed.
                // SAFETY: plain system call on a pid we spawned (not yet reaped).
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
            if !keep {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }
    // SAFETY: registering a plain extern "C" function with the C library.
    unsafe {
        libc::atexit(cleanup);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const DIR_PREFIX: &str = "brickwarden-controlplane-";
const OWNER_FILE: &str = "owner.pid";

/// Removes the directories of control planes whose test process died without cleaning up
/// (killed by a signal; its etcd and apiserver died with it). The etcd WAL alone is 64 MiB.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        let owner = fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let dead = match owner {
            Some(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
            // Being created right now, or not ours: only remove it once it is old.
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600)),
        };
        if dead {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// A free loopback TCP port (free when chosen: another process may take it before it is bound).
pub fn free_port() -> u16 {
    let [port] = free_ports::<1>().expect("a free loopback port");
    port
}

/// `N` distinct free loopback TCP ports (held open together while choosing).
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()
        .context("finding free loopback ports")?;
    let mut ports = [0u16; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

/// CA, apiserver serving certificate (127.0.0.1, localhost) and service-account key pair.
fn generate_pki(pki: &Path) -> Result<()> {
    let p = |name: &str| pki.join(name).to_string_lossy().into_owned();
    fs::write(
        pki.join("apiserver.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,\
         DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\n",
    )?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        [
            &["req", "-x509"][..],
            &ec[..],
            &[
                "-days",
                "7",
                "-subj",
                "/CN=brickwarden-test-ca",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
        &[("-keyout", p("ca.key")), ("-out", p("ca.crt"))],
    )?;
    openssl(
        [&["req"][..], &ec[..], &["-subj", "/CN=kube-apiserver"]].concat(),
        &[
            ("-keyout", p("apiserver.key")),
            ("-out", p("apiserver.csr")),
        ],
    )?;
    openssl(
        vec!["x509", "-req", "-days", "7", "-set_serial", "2"],
        &[
            ("-in", p("apiserver.csr")),
            ("-CA", p("ca.crt")),
            ("-CAkey", p("ca.key")),
            ("-extfile", p("apiserver.ext")),
            ("-out", p("apiserver.crt")),
        ],
    )?;
    openssl(
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        &[("-out", p("sa.key"))],
    )?;
    openssl(
        vec!["pkey", "-pubout"],
        &[("-in", p("sa.key")), ("-out", p("sa.pub"))],
    )?;
    Ok(())
}

fn openssl(args: Vec<&str>, paths: &[(&str, String)]) -> Result<()> {
    let mut cmd = Command::new("openssl");
    cmd.args(&args);
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("running openssl (is the openssl CLI installed?)")?;
    if !out.status.success() {
        bail!("openssl {} failed: {}", args.join(" "), stderr_of(&out));
    }
    Ok(())
}

/// `2 * bytes` hex digits from the standard library's randomly seeded hasher.
fn random_hex(bytes: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::with_capacity(bytes * 2);
    while s.len() < bytes * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(s.len());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(bytes * 2);
    s
}
