//! Crash consistency: `brickwarden apply` is SIGKILLed at seeded random points of a remediation
//! that creates, enables and narrows IP access lists (every list and conf request delayed), and
//! after every kill the caller can still reach the workspace, no list is duplicated, and the
//! final pass leaves exactly the declared lists.
//!
//! The suite runs a short loop; `BRICKWARDEN_CRASH_ITERATIONS=100` (and optionally
//! `BRICKWARDEN_CRASH_SEED`) runs the long one (docs/reliability.md has its result).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use brickwarden_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

use crate::support::emulator::Admin;

const BIN: &str = env!("CARGO_BIN_EXE_brickwarden");
const PAT: &str = "dapi-emulator";
/// Every list and conf request of ws-1 answers this late, so a kill lands between steps.
const LATENCY_MS: u64 = 150;
/// Kill points spread over the whole remediation (seven delayed requests and more).
const MAX_KILL_AFTER_MS: u64 = 1_600;

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The scenario's DatabricksWorkspace (also `controller_e2e`'s, whose controllers are killed
/// on it): `metadata` in flow style, `host`, `extra` spec lines (indented by 2), and two IP
/// access lists under Exclusive management.
pub fn workspace_yaml(metadata: &str, host: &str, extra: &str) -> String {
    format!(
        "apiVersion: brickwarden.io/v1alpha1
kind: DatabricksWorkspace
metadata: {metadata}
spec:
  host: {host}
  auth: {{personalAccessToken: {{secretRef: {{name: pat, key: token}}}}}}
{extra}  policy:
    ipAccessLists:
      enabled: true
      management: Exclusive
      lists:
        - {{label: ctl, type: ALLOW, addresses: [127.0.0.1, 10.0.0.0/8]}}
        - {{label: bad, type: BLOCK, addresses: [192.0.2.0/24]}}
"
    )
}

/// The starting point: lists off, a broad legacy ALLOW list and a stale one, both undeclared.
pub fn initial_state() -> Value {
    json!({
        "workspace_conf": {"enableIpAccessLists": "false"},
        "ip_access_lists": [
            {"label": "legacy", "list_type": "ALLOW", "ip_addresses": ["127.0.0.0/8"]},
            {"label": "old-vpn", "list_type": "ALLOW", "ip_addresses": ["203.0.113.0/24"]},
        ],
    })
}

fn apply(file: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["apply", "--egress-address", "127.0.0.1", "-f"])
        .arg(file)
        .env("DATABRICKS_TOKEN", PAT)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// What the workspace looks like to a caller at 127.0.0.1 now.
struct Seen {
    reachable: bool,
    labels: BTreeMap<String, usize>,
}

async fn look(emulator: &Emulator, admin: &Admin) -> Seen {
    let reachable = reqwest::Client::new()
        .get(format!(
            "{}/api/2.0/ip-access-lists",
            emulator.workspace_url("ws-1")
        ))
        .bearer_auth(PAT)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    let state = admin.state("ws-1").await;
    let mut labels = BTreeMap::new();
    for list in state["ip_access_lists"].as_array().into_iter().flatten() {
        *labels
            .entry(list["label"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    Seen { reachable, labels }
}

/// Waits until the emulator's journal has not grown for one latency period; every delayed
/// request lands within that, so nothing is in flight afterwards.
async fn settle(emulator: &Emulator) {
    let period = Duration::from_millis(LATENCY_MS * 2);
    let deadline = Instant::now() + period * 10;
    let mut seen = emulator.requests().len();
    loop {
        tokio::time::sleep(period).await;
        let now = emulator.requests().len();
        if now == seen || Instant::now() >= deadline {
            return;
        }
        seen = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_applies_never_lock_out_or_duplicate_and_the_last_one_converges() {
    let iterations: u32 = std::env::var("BRICKWARDEN_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("BRICKWARDEN_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261204);
    let mut rng = Seeded(seed);
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let admin = Admin::new(&emulator.base_url().to_string());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crash.yaml");
    std::fs::write(
        &file,
        workspace_yaml(
            "{name: crash, namespace: crash}",
            &emulator.workspace_url("ws-1"),
            "",
        ),
    )
    .unwrap();

    let mut kills = 0;
    for iteration in 0..iterations {
        // Each iteration starts over from the undeclared lists, so every kill point of the
        // remediation is reachable; odd iterations continue from where the last kill left off.
        if iteration % 2 == 0 {
            admin.patch_state("ws-1", initial_state()).await;
        }
        admin.clear_faults().await;
        admin
            .fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/ip-access-lists", "latency_ms": LATENCY_MS, "count": 1000}))
            .await;
        admin
            .fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/workspace-conf", "latency_ms": LATENCY_MS, "count": 1000}))
            .await;
        let kill_after = Duration::from_millis(rng.next() % MAX_KILL_AFTER_MS);
        let mut child = apply(&file).spawn().expect("start apply");
        let started = Instant::now();
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            if started.elapsed() >= kill_after {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        if !finished {
            // SIGKILL: no chance to clean up.
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        // A request cut off by the kill may still be served by the emulator: wait until
        // nothing lands for one whole latency period (bounded), so no write of the killed
        // process is still in flight when the next one starts.
        settle(&emulator).await;
        let seen = look(&emulator, &admin).await;
        assert!(
            seen.reachable,
            "seed {seed} iteration {iteration}: locked out after a kill at {kill_after:?}"
        );
        let duplicated: Vec<_> = seen.labels.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            duplicated.is_empty(),
            "seed {seed} iteration {iteration}: duplicated lists {duplicated:?}"
        );
    }
    assert!(kills > 0, "some applies were killed mid-way");

    // The last apply runs to the end: exactly the declared lists, enforced.
    admin.clear_faults().await;
    let status = apply(&file).status().unwrap();
    assert_eq!(status.code(), Some(0), "the final apply converges");
    let seen = look(&emulator, &admin).await;
    assert!(seen.reachable);
    assert_eq!(
        seen.labels,
        BTreeMap::from([("bad".to_string(), 1), ("ctl".to_string(), 1)]),
        "seed {seed}: exactly the declared lists"
    );
    let state = admin.state("ws-1").await;
    assert_eq!(state["workspace_conf"]["enableIpAccessLists"], "true");
    eprintln!(
        "crash loop: seed {seed}, {iterations} iterations, {kills} kills, 0 lockouts, 0 duplicates, final state as declared"
    );
}
