//! The fleet benchmark's driver (`bench/fleet/run.sh`) and its smoke run in the suite.
//!
//! One run for a fleet of `n` workspaces: the shared test control plane (etcd +
//! kube-apiserver), an in-process emulator serving `ws-1`..`ws-n`, each at a port of its own,
//! with 50 ms added to every request, and `n` DatabricksWorkspaces of one policy on a fresh
//! (fully drifted) emulator. Then:
//!
//! 1. **converge**: `brickwarden run` (default settings) starts; the clock runs until every
//!    workspace is Ready and Compliant at its `observedGeneration` (a watch on the resources);
//! 2. **resync**: the journal is cleared; the clock runs until every workspace was read again
//!    by its resync (`resyncInterval`, spread by ±10%) and the controller counted as many more
//!    reconciles; reads and writes per workspace come from the journal, CPU per reconcile
//!    from `/proc/PID/stat` and the `brickwarden_reconcile_duration_seconds_count` metric;
//! 3. the controller's peak RSS (`VmHWM`), then SIGTERM;
//! 4. **plan**: `brickwarden plan -f DIR` over the same `n` workspaces, its wall time against
//!    the bound the concurrency sets (requests x latency / concurrency).
//!
//! The smoke test runs it at n = 50 and asserts convergence and the request counts (no
//! timing); `bench/fleet/run.sh` runs the ignored [`benchmark`] with release binaries for
//! n = 10, 100, 1000 (and more, `BENCH_FLEET_SIZES`) and writes one JSON per n.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brickwarden::api::DatabricksWorkspace;
use brickwarden_emulator::{Emulator, EmulatorConfig, JournalEntry};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use serde_json::{Value, json};

use crate::support::controlplane::{cluster_with_crds, free_port};

const PAT: &str = "dapi-emulator";
/// Latency the emulator adds to every request: a round trip to a real workspace.
pub const LATENCY: Duration = Duration::from_millis(50);
/// `brickwarden plan --concurrency` default.
const PLAN_CONCURRENCY: u64 = 16;
/// Reads of one pass over a compliant workspace of [`policy`]: the theoretical minimum is one
/// per API family the policy touches: workspace-conf (every key in one `?keys=` call), the IP
/// access list collection and the token permissions.
pub const MIN_READS: usize = 3;
/// Writes that bring a fresh emulator workspace to [`policy`], one per remediation action:
/// workspace-conf keys (one PATCH), the two IP access lists (one POST each), turning IP access
/// lists on (one PATCH, after the ALLOW list exists) and the token permissions (one PUT).
pub const MIN_CONVERGE_WRITES: usize = 5;
/// The families read again after their changes were applied (all three here).
pub const MIN_REREADS: usize = 3;

/// The policy of every workspace (no baseline, no ARM): the one `BENCHMARKS.md`'s compliant
/// pass uses (and `engine_emulator`'s drift and compliant-pass tests).
pub fn policy() -> Value {
    json!({
        "workspaceConf": {"exportNotebook": false, "verboseAuditLogs": true, "extra": {"enableWorkspaceFilesystem": "true"}},
        "ipAccessLists": {"enabled": true, "management": "Exclusive", "lists": [
            {"label": "ctl", "type": "ALLOW", "addresses": ["127.0.0.1", "203.0.113.0/24"]},
            {"label": "bad", "type": "BLOCK", "addresses": ["192.0.2.0/24"]}]},
        "tokens": {"enabled": true, "maxLifetimeDays": 90, "permissions": {"management": "Exclusive", "canUse": [{"group": "data-engineers"}]}}
    })
}

fn workspace(ns: &str, name: &str, host: &str, resync: Duration) -> Value {
    json!({
        "apiVersion": "brickwarden.io/v1alpha1",
        "kind": "DatabricksWorkspace",
        "metadata": {"name": name, "namespace": ns, "labels": {"bench": ns}},
        "spec": {
            "host": host,
            "auth": {"personalAccessToken": {"secretRef": {"name": "pat", "key": "token"}}},
            "mode": "Enforce",
            "resyncInterval": format!("{}s", resync.as_secs()),
            "policy": policy(),
        }
    })
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRun {
    pub workspaces: usize,
    pub latency_ms: u64,
    pub resync_interval_s: u64,
    pub controller_binary: String,
    pub cores: usize,
    /// Controller start to every workspace Ready + Compliant at its observedGeneration.
    pub converge_s: f64,
    pub converge_reads: usize,
    pub converge_writes: usize,
    pub converge_other: usize,
    /// Every workspace read again by its resync, from the journal: first to last request.
    pub resync_span_s: f64,
    pub resync_reads: usize,
    pub resync_writes: usize,
    pub resync_reconciles: u64,
    pub resync_cpu_s: f64,
    /// Per reconcile of the resync phase (no-op passes), in ms.
    pub cpu_ms_per_noop_reconcile: f64,
    pub converge_reconciles: u64,
    pub converge_cpu_s: f64,
    /// The controller's peak resident set (`VmHWM`), in MiB.
    pub peak_rss_mib: f64,
    pub plan_s: f64,
    pub plan_exit: i32,
    pub plan_requests: usize,
    pub plan_bound_s: f64,
    /// Arrival times of the converge phase's requests, seconds after the controller started.
    pub converge_times: Vec<f64>,
    /// Arrival times of the resync phase's requests, seconds after convergence.
    pub resync_times: Vec<f64>,
}

/// Clock ticks per second of `/proc/PID/stat`.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// User + system CPU seconds of process `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / clock_ticks()
}

/// Peak resident set of process `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

/// The reconciles the controller has counted (`brickwarden_reconcile_duration_seconds_count`,
/// every result).
async fn reconciles(http: &reqwest::Client, port: u16) -> u64 {
    let Ok(resp) = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
    else {
        return 0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("brickwarden_reconcile_duration_seconds_count"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn is_read(e: &JournalEntry) -> bool {
    e.method == "GET"
}

fn is_write(e: &JournalEntry) -> bool {
    e.method != "GET"
        && e.workspace.as_deref() != Some("aad")
        && !e.path.ends_with("/oidc/v1/token")
}

fn at(e: &JournalEntry) -> f64 {
    let t: jiff::Timestamp = e.timestamp.parse().expect("RFC 3339");
    t.as_nanosecond() as f64 / 1e9
}

fn unix_now() -> f64 {
    jiff::Timestamp::now().as_nanosecond() as f64 / 1e9
}

/// A `brickwarden run` child process, killed on drop.
struct Run {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    fn tail(&self) -> String {
        let logs = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The controller binary: `BRICKWARDEN_BENCH_BIN` (the release build, from `run.sh`) or the
/// test build.
fn controller_binary() -> PathBuf {
    std::env::var_os("BRICKWARDEN_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_brickwarden")))
}

fn start_controller(bin: &Path, ns: &str, dir: &Path, arm_url: &str) -> Run {
    let port = free_port();
    let log = dir.join("controller.log");
    let child = Command::new(bin)
        .args([
            "run",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--selector",
            &format!("bench={ns}"),
            "--egress-address",
            "127.0.0.1",
            "--lease-name",
            ns,
            "--identity",
            "bench",
        ])
        .env("KUBECONFIG", cluster_with_crds().kubeconfig_path())
        .env("POD_NAMESPACE", ns)
        .env_remove("POD_NAME")
        .env(
            "RUST_LOG",
            std::env::var("BENCH_CONTROLLER_LOG").unwrap_or_else(|_| "info".into()),
        )
        .env("BRICKWARDEN_ARM_URL", arm_url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("controller.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("brickwarden run starts");
    Run { child, port, log }
}

fn converged(ws: &DatabricksWorkspace) -> bool {
    let v = serde_json::to_value(ws).unwrap_or_default();
    let cond = |t: &str| {
        v["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
    };
    v["metadata"]["generation"].is_i64()
        && v["status"]["observedGeneration"] == v["metadata"]["generation"]
        && cond("Ready")
        && cond("Compliant")
}

/// Runs the benchmark for a fleet of `n` workspaces, each resynced every `resync`.
pub async fn run_fleet(n: usize, resync: Duration, work: &Path) -> FleetRun {
    let cp = cluster_with_crds();
    let client = cp.kube_client().await.expect("kube client");
    let ns = format!("fleet-{n}-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("namespace");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "pat"}, "stringData": {"token": PAT}}),
            )
            .unwrap(),
        )
        .await
        .expect("secret");

    let emu = Emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorConfig {
            workspaces: n,
            latency: LATENCY,
            journal_capacity: n * 40 + 10_000,
            // Every workspace Premium: the policy's APIs are Premium-only.
            standard_workspaces: Vec::new(),
            ..EmulatorConfig::default()
        },
    )
    .await
    .expect("emulator starts");
    let hosts: Vec<String> = (1..=n)
        .map(|i| emu.workspace_host(&format!("ws-{i}")))
        .collect();

    // The fleet, created concurrently.
    let api: Api<DatabricksWorkspace> = Api::namespaced(client.clone(), &ns);
    futures::stream::iter(hosts.iter().enumerate().map(|(i, host)| {
        let api = api.clone();
        let obj: DatabricksWorkspace =
            serde_json::from_value(workspace(&ns, &format!("ws-{}", i + 1), host, resync)).unwrap();
        async move { api.create(&PostParams::default(), &obj).await }
    }))
    .buffer_unordered(16)
    .try_collect::<Vec<_>>()
    .await
    .expect("workspaces created");

    // 1. Converge.
    emu.clear_requests();
    let dir = work.join(&ns);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = controller_binary();
    let http = reqwest::Client::new();
    let started_unix = unix_now();
    let started = Instant::now();
    let mut ctl = start_controller(&bin, &ns, &dir, &emu.arm_url());
    let pid = ctl.child.id();
    let converge_deadline = Duration::from_secs(120 + n as u64 / 5);
    let mut done: HashSet<String> = HashSet::new();
    let stream = watcher(
        api.clone(),
        watcher::Config::default().labels(&format!("bench={ns}")),
    )
    .applied_objects();
    futures::pin_mut!(stream);
    while done.len() < n {
        let next = tokio::time::timeout(
            converge_deadline.saturating_sub(started.elapsed()),
            stream.next(),
        )
        .await;
        match next {
            Ok(Some(Ok(ws))) => {
                let name = ws.metadata.name.clone().unwrap_or_default();
                if converged(&ws) {
                    done.insert(name);
                } else {
                    done.remove(&name);
                }
            }
            Ok(Some(Err(_))) => {}
            Ok(None) | Err(_) => panic!(
                "{} of {n} workspaces converged in {converge_deadline:?}\n{}",
                done.len(),
                ctl.tail()
            ),
        }
    }
    let converge = started.elapsed();
    // Passes still under way when the last status turned (a workspace enqueued again at
    // start-up, when the Secret watch lists the Secret) end before the resync is measured:
    // wait for a quiet second at the emulator.
    let mut seen = emu.requests().last().map_or(0, |e| e.seq);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = emu.requests().last().map_or(0, |e| e.seq);
        if now == seen {
            break;
        }
        seen = now;
    }
    let converge_cpu = cpu_seconds(pid);
    let converge_reconciles = reconciles(&http, ctl.port).await;
    let journal = emu.requests();
    let last_seq = journal.last().map_or(0, |e| e.seq);
    let converge_times: Vec<f64> = journal.iter().map(|e| at(e) - started_unix).collect();
    let converge_reads = journal.iter().filter(|e| is_read(e)).count();
    let converge_writes = journal.iter().filter(|e| is_write(e)).count();
    let converge_other = journal.len() - converge_reads - converge_writes;

    // 2. Resync: every workspace read again, and as many reconciles counted.
    let resync_start_unix = unix_now();
    let cpu_before = cpu_seconds(pid);
    let reconciles_before = reconciles(&http, ctl.port).await;
    let resync_deadline = Instant::now() + resync.mul_f64(1.1) + converge + Duration::from_secs(60);
    let mut since = last_seq;
    let mut reads: HashMap<String, usize> = HashMap::new();
    let mut resync_entries: Vec<JournalEntry> = Vec::new();
    loop {
        let fresh = emu.requests_since(since);
        if let Some(last) = fresh.last() {
            since = last.seq;
        }
        for e in &fresh {
            if is_read(e) {
                *reads
                    .entry(e.workspace.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        resync_entries.extend(fresh);
        let all_read = reads.len() >= n && reads.values().all(|r| *r >= MIN_READS);
        if all_read && reconciles(&http, ctl.port).await >= reconciles_before + n as u64 {
            break;
        }
        assert!(
            Instant::now() < resync_deadline,
            "resync: {} of {n} workspaces read again\n{}",
            reads.values().filter(|r| **r >= MIN_READS).count(),
            ctl.tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The last passes' status decisions (no write) are done once counted.
    let resync_cpu = cpu_seconds(pid) - cpu_before;
    let resync_reconciles = reconciles(&http, ctl.port).await - reconciles_before;
    resync_entries.extend(emu.requests_since(since));
    let resync_times: Vec<f64> = resync_entries
        .iter()
        .map(|e| at(e) - resync_start_unix)
        .collect();
    let span = match (resync_entries.first(), resync_entries.last()) {
        (Some(a), Some(b)) => at(b) - at(a),
        _ => 0.0,
    };
    let resync_reads = resync_entries.iter().filter(|e| is_read(e)).count();
    let resync_writes = resync_entries.iter().filter(|e| is_write(e)).count();

    // 3. Peak memory, then stop.
    let peak = peak_rss_mib(pid);
    ctl.terminate();
    drop(ctl);

    // 4. plan over the same fleet (compliant now: reads only).
    let files = dir.join("plan");
    std::fs::create_dir_all(&files).unwrap();
    for (i, host) in hosts.iter().enumerate() {
        let doc = workspace(&ns, &format!("ws-{}", i + 1), host, resync);
        std::fs::write(
            files.join(format!("ws-{}.yaml", i + 1)),
            serde_json::to_string(&doc).unwrap(),
        )
        .unwrap();
    }
    let plan_since = emu.requests().last().map_or(since, |e| e.seq);
    let plan_started = Instant::now();
    let out = tokio::process::Command::new(&bin)
        .args(["plan", "-f"])
        .arg(&files)
        .args(["-o", "json"])
        .env("DATABRICKS_TOKEN", PAT)
        .env("BRICKWARDEN_ARM_URL", emu.arm_url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("brickwarden plan runs");
    let plan = plan_started.elapsed();
    let plan_requests = emu.requests_since(plan_since).len();
    if out.status.code() != Some(0) {
        eprintln!(
            "plan exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    let _ = namespaces.delete(&ns, &Default::default()).await;
    emu.shutdown().await;
    FleetRun {
        workspaces: n,
        latency_ms: LATENCY.as_millis() as u64,
        resync_interval_s: resync.as_secs(),
        controller_binary: bin.display().to_string(),
        cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
        converge_s: converge.as_secs_f64(),
        converge_reads,
        converge_writes,
        converge_other,
        resync_span_s: span,
        resync_reads,
        resync_writes,
        resync_reconciles,
        resync_cpu_s: resync_cpu,
        cpu_ms_per_noop_reconcile: resync_cpu * 1000.0 / resync_reconciles.max(1) as f64,
        converge_reconciles,
        converge_cpu_s: converge_cpu,
        peak_rss_mib: peak,
        plan_s: plan.as_secs_f64(),
        plan_exit: out.status.code().unwrap_or(-1),
        plan_requests,
        plan_bound_s: plan_requests as f64 * LATENCY.as_secs_f64() / PLAN_CONCURRENCY as f64,
        converge_times,
        resync_times,
    }
}

fn summary(run: &FleetRun) -> String {
    let n = run.workspaces as f64;
    format!(
        "n={} converge {:.1}s ({:.2} reads + {:.2} writes /ws), resync span {:.1}s ({:.2} reads, {} writes /ws; {} reconciles, {:.3} ms CPU each), peak RSS {:.1} MiB, plan {:.2}s (bound {:.2}s, exit {})",
        run.workspaces,
        run.converge_s,
        run.converge_reads as f64 / n,
        run.converge_writes as f64 / n,
        run.resync_span_s,
        run.resync_reads as f64 / n,
        run.resync_writes,
        run.resync_reconciles,
        run.cpu_ms_per_noop_reconcile,
        run.peak_rss_mib,
        run.plan_s,
        run.plan_bound_s,
        run.plan_exit,
    )
}

/// The smoke run: 50 workspaces, every one converged with the minimum of requests, a resync
/// that only reads (the minimum) and a plan that finds them compliant. No timing assertion:
/// the waits are bounded by the resync interval and generous deadlines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_fifty_workspaces_converge_and_resync_with_the_minimum_of_requests() {
    const N: usize = 50;
    let work = tempfile::tempdir().unwrap();
    let run = run_fleet(N, Duration::from_secs(10), work.path()).await;
    eprintln!("{}", summary(&run));
    let summary = summary(&run);
    // Writes: exactly one per remediation action.
    assert_eq!(run.converge_writes, N * MIN_CONVERGE_WRITES, "{summary}");
    // Reads: the minimum, plus at most one more pass per workspace: at start-up the Secret
    // watch's initial listing enqueues every workspace that uses the Secret, and a workspace
    // whose first pass was already done by then is read once more (BENCHMARKS.md).
    let min = N * (MIN_READS + MIN_REREADS);
    assert!(
        (min..=min + N * MIN_READS).contains(&run.converge_reads),
        "{} reads converging, minimum {min}: {summary}",
        run.converge_reads
    );
    assert_eq!(run.converge_other, 0);
    assert_eq!(run.resync_reads, N * MIN_READS, "{summary}");
    assert_eq!(run.resync_writes, 0, "{summary}");
    assert_eq!(run.plan_exit, 0, "the converged fleet plans compliant");
    assert_eq!(run.plan_requests, N * MIN_READS);
}

/// The full benchmark (`bench/fleet/run.sh`): `BENCH_FLEET_SIZES` (default `10,100,1000`),
/// results as JSON in `BENCH_FLEET_OUT` (default `target/bench-fleet`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the fleet benchmark: bench/fleet/run.sh"]
async fn benchmark() {
    let sizes: Vec<usize> = std::env::var("BENCH_FLEET_SIZES")
        .unwrap_or_else(|_| "10,100,1000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_FLEET_SIZES: numbers"))
        .collect();
    let out = PathBuf::from(
        std::env::var("BENCH_FLEET_OUT").unwrap_or_else(|_| "target/bench-fleet".into()),
    );
    std::fs::create_dir_all(&out).unwrap();
    for n in sizes {
        // Long enough that every workspace converged before the first resync comes due
        // (`BENCH_FLEET_RESYNC_S` overrides it).
        let resync = std::env::var("BENCH_FLEET_RESYNC_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs((n as u64 * 60 / 1000).max(20)));
        let work = tempfile::tempdir().unwrap();
        let run = run_fleet(n, resync, work.path()).await;
        eprintln!("{}", summary(&run));
        std::fs::write(
            out.join(format!("fleet-{n}.json")),
            serde_json::to_vec_pretty(&run).unwrap(),
        )
        .unwrap();
    }
}
