//! End-to-end tests of `brickwarden run`: the real binary as a child process, against the shared
//! test control plane (etcd + kube-apiserver) and an in-process Databricks emulator.
//!
//! Every test uses its own namespace, its own Lease and its own label (`e2e=<test>`, passed to the
//! controller as `--selector`), so controllers of tests running in parallel never manage each
//! other's workspaces. Every test starts its own emulator, so journals never mix either.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::crash;
use crate::support::controller::{
    Controller, LEASE_DURATION_SECS, LEASE_GRACE_SECS, TIMEOUT, wait_ready_compliant,
    wait_workspace,
};
use crate::support::controlplane::cluster_with_crds;
use crate::support::emulator::requests_of;
use crate::support::harness::BlockingHarness;
use crate::support::kube::{
    self, apply, apply_secret, condition, condition_is, control, events, get_json, kubectl,
    lease_holder, lease_state, reason_of, workspace,
};
use crate::support::wait_for;

const PAT: &str = "dapi-emulator";
/// `resyncInterval` of [`workspace_yaml`]; passes are requeued after it, spread by ±10%.
const RESYNC: Duration = Duration::from_secs(5);
/// The longest wait between two passes of one workspace ([`RESYNC`] + 10%).
const RESYNC_MAX: Duration = Duration::from_millis(RESYNC.as_millis() as u64 * 11 / 10);
/// The controllers' `--lease-duration`.
const LEASE_DURATION: Duration = Duration::from_secs(LEASE_DURATION_SECS);
/// How often a Lease holder renews: the duration minus the grace period.
const RENEW_PERIOD: Duration = Duration::from_secs(LEASE_DURATION_SECS - LEASE_GRACE_SECS);

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn create_namespace(ns: &str) {
    kubectl(&["create", "namespace", ns]);
}

fn event_reasons(ns: &str, name: &str) -> Vec<String> {
    events(ns, name)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect()
}

/// Checks `ok` every 250ms for `window` and fails at the first violation: a bounded observation
/// that something does *not* happen, its window derived from the configured durations.
fn hold_for(
    window: Duration,
    what: &str,
    diag: impl Fn() -> String,
    mut ok: impl FnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + window;
    loop {
        if let Err(why) = ok() {
            panic!("{what}: {why}\n{}", diag());
        }
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Passes the controller has finished (`brickwarden_reconcile_duration_seconds_count`, all
/// results).
fn passes(env: &Env, ctl: &Controller) -> u64 {
    let Some((_, metrics)) = env.get(&ctl.url("/metrics")) else {
        return 0;
    };
    metrics
        .lines()
        .filter(|l| l.starts_with("brickwarden_reconcile_duration_seconds_count"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|v| find_key(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}

/// The shared harness (an in-process emulator) on its own runtime, plus a blocking way to call
/// HTTP endpoints.
struct Env {
    emulator: BlockingHarness,
    http: reqwest::Client,
}

impl std::ops::Deref for Env {
    type Target = BlockingHarness;

    fn deref(&self) -> &BlockingHarness {
        &self.emulator
    }
}

impl Env {
    fn start() -> Env {
        // First the harness: its admin client installs the rustls provider reqwest needs.
        let emulator = BlockingHarness::start();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        Env { emulator, http }
    }

    /// The emulator's `workspace-conf` value of `key` in workspace `ws`.
    fn conf(&self, ws: &str, key: &str) -> Option<String> {
        let state = self.emu().state(ws)?;
        find_key(&state, key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// The highest journal sequence number so far (requests after it are "new").
    fn mark(&self) -> u64 {
        self.emu()
            .requests()
            .iter()
            .map(|e| e.seq)
            .max()
            .unwrap_or(0)
    }

    /// `(method, path, status)` of the requests to `ws` after `mark`.
    fn requests_since(&self, ws: &str, mark: u64) -> Vec<(String, String, u16)> {
        requests_of(self.emu(), ws, mark)
            .into_iter()
            .map(|(_, m, p, s)| (m, p, s))
            .collect()
    }

    /// Drift made the way a human would: the workspace's own API with the PAT.
    fn drift_export_notebook(&self, ws: &str) {
        let url = format!("{}/api/2.0/workspace-conf", self.ws_url(ws));
        let response = self
            .rt
            .block_on(async {
                self.http
                    .patch(url)
                    .bearer_auth(PAT)
                    .json(&serde_json::json!({"enableExportNotebook": "true"}))
                    .send()
                    .await
            })
            .expect("PATCH workspace-conf");
        assert!(
            response.status().is_success(),
            "drift PATCH: {}",
            response.status()
        );
        assert_eq!(
            self.conf(ws, "enableExportNotebook").as_deref(),
            Some("true")
        );
    }
}

/// A DatabricksWorkspace labelled `e2e=<label>` with the policy of these tests.
fn workspace_yaml(
    ns: &str,
    name: &str,
    label: &str,
    host: &str,
    secret: &str,
    extra_spec: &str,
) -> String {
    let spec = format!(
        r#"{extra_spec}  policy:
    workspaceConf:
      exportNotebook: false
      verboseAuditLogs: true
    ipAccessLists:
      enabled: true
      lists:
        - {{label: ctl, type: ALLOW, addresses: [127.0.0.1]}}
    tokens:
      maxLifetimeDays: 90
"#
    );
    kube::workspace_yaml(ns, name, label, host, secret, "5s", &spec)
}

/// Namespace `ns` with the PAT in Secret `pat`, and workspace `name` labelled `e2e=<label>`
/// ([`workspace_yaml`] with `extra_spec`) on workspace `ws` of a new emulator, which is returned.
fn namespace_with_workspace(ns: &str, name: &str, label: &str, ws: &str, extra_spec: &str) -> Env {
    create_namespace(ns);
    let env = Env::start();
    apply_secret(ns, "pat", "token", PAT);
    apply(&workspace_yaml(
        ns,
        name,
        label,
        &env.ws_url(ws),
        "pat",
        extra_spec,
    ));
    env
}

fn assert_full_score(ws: &Value) {
    let score = ws["status"]["score"].as_str().expect("status.score");
    let (a, b) = score.split_once('/').expect("score N/M");
    assert!(
        a == b && a.parse::<u32>().expect("number") > 0,
        "score {score}"
    );
}

/// Sets `spec.suspend` of workspace `ns/name`.
fn set_suspend(ns: &str, name: &str, suspend: bool) {
    let patch = format!(r#"{{"spec":{{"suspend":{suspend}}}}}"#);
    kubectl(&["patch", "dbw", "-n", ns, name, "--type=merge", "-p", &patch]);
}

fn poke(ns: &str, name: &str) {
    let value = format!("e2e/poke={}", rand_suffix());
    kubectl(&["annotate", "dbw", "-n", ns, name, &value, "--overwrite"]);
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn assert_no_secret(text: &str, what: &str) {
    assert!(
        !text.contains(PAT),
        "the secret value appears in {what}:\n{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Enforce: drift is remediated, status/events/printer columns/describe are right, new drift is
/// remediated again, metrics and readiness are served, and no secret leaks anywhere.
#[test]
fn enforce_remediates_and_reports() {
    let (ns, name, label) = ("e2e-enforce", "enforce", "enforce");
    let env = namespace_with_workspace(ns, name, label, "ws-1", "");
    let ctl = Controller::start(ns, "e2e-enforce", "enforce-a", &format!("e2e={label}"));

    let ws = wait_ready_compliant(ns, name, &ctl);
    assert_eq!(
        ws["status"]["observedGeneration"], ws["metadata"]["generation"],
        "observedGeneration"
    );
    assert_full_score(&ws);
    let export = control(&ws, "workspaceConf/enableExportNotebook")
        .unwrap_or_else(|| panic!("no export control: {:#}", ws["status"]["controls"]));
    assert!(
        export["state"] == "Remediated" || export["state"] == "Compliant",
        "{export:#}"
    );
    assert_eq!(
        env.conf("ws-1", "enableExportNotebook").as_deref(),
        Some("false")
    );
    assert_eq!(
        env.conf("ws-1", "enableVerboseAuditLogs").as_deref(),
        Some("true")
    );

    wait_for(
        Duration::from_secs(30),
        "a Remediated event",
        || format!("{:#}", events(ns, name)),
        || {
            event_reasons(ns, name)
                .iter()
                .any(|r| r == "Remediated")
                .then_some(())
        },
    );

    let table = kubectl(&["get", "dbw", "-n", ns]);
    let header = table.lines().next().unwrap_or_default();
    for column in [
        "NAME",
        "HOST",
        "MODE",
        "COMPLIANT",
        "SCORE",
        "DRIFTED",
        "AGE",
    ] {
        assert!(header.contains(column), "column {column} in:\n{table}");
    }
    assert!(table.contains(&env.ws_url("ws-1")), "{table}");
    let describe = kubectl(&["describe", "dbw", "-n", ns, name]);
    for word in ["Ready", "Compliant", "Conditions"] {
        assert!(describe.contains(word), "{word} in:\n{describe}");
    }

    // New drift through the workspace API is remediated on the next pass.
    env.drift_export_notebook("ws-1");
    poke(ns, name);
    wait_for(
        TIMEOUT,
        "the new drift to be remediated",
        || ctl.tail(),
        || (env.conf("ws-1", "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
    // ... and by the resync alone, without a poke.
    env.drift_export_notebook("ws-1");
    wait_for(
        Duration::from_secs(30),
        "drift to be remediated by resync",
        || ctl.tail(),
        || (env.conf("ws-1", "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
    let ws = wait_ready_compliant(ns, name, &ctl);
    assert_full_score(&ws);

    // Metrics and liveness of the leader (its /readyz: see `leader_readyz_is_200`).
    let (status, metrics) = env.answer(&ctl.url("/metrics"));
    assert_eq!(status, 200);
    for needle in [
        "brickwarden_control_drift",
        "brickwarden_reconcile_duration_seconds",
        "brickwarden_api_requests_total",
        "brickwarden_leader 1",
    ] {
        assert!(metrics.contains(needle), "{needle} in /metrics:\n{metrics}");
    }
    let (status, _) = env.answer(&ctl.url("/healthz"));
    assert_eq!(status, 200);

    // No secret value in status, events, metrics or logs.
    assert_no_secret(
        &kubectl(&["get", "dbw", "-n", ns, name, "-o", "yaml"]),
        "status",
    );
    assert_no_secret(&events(ns, name).to_string(), "events");
    assert_no_secret(&metrics, "metrics");
    let logs = ctl.logs();
    assert!(logs.contains("reconciled"), "logs:\n{logs}");
    assert_no_secret(&logs, "controller logs");
}

/// Audit: drift is reported with the plan, and nothing is written.
#[test]
fn audit_reports_without_writing() {
    let (ns, name, label) = ("e2e-audit", "audit", "audit");
    let env = namespace_with_workspace(ns, name, label, "ws-1", "  mode: Audit\n");
    let mark = env.mark();
    let ctl = Controller::start(ns, "e2e-audit", "audit-a", &format!("e2e={label}"));

    let ws = wait_workspace(ns, name, &ctl, "Ready=True with drift reported", |ws| {
        condition_is(ws, "Ready", "True") && ws["status"]["controls"].is_array()
    });
    assert!(
        condition_is(&ws, "Compliant", "False"),
        "{:#}",
        ws["status"]
    );
    let export = control(&ws, "workspaceConf/enableExportNotebook").expect("export control");
    assert_eq!(export["state"], "Drifted", "{export:#}");
    let drifted = ws["status"]["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "Drifted")
        .count();
    assert!(drifted > 0);
    let planned = ws["status"]["plannedActions"]
        .as_array()
        .expect("plannedActions");
    assert!(!planned.is_empty(), "{:#}", ws["status"]);

    // Two more complete passes, then: reads only.
    let before = passes(&env, &ctl);
    poke(ns, name);
    wait_for(
        TIMEOUT,
        "two more passes",
        || ctl.tail(),
        || (passes(&env, &ctl) >= before + 2).then_some(()),
    );
    let requests = env.requests_since("ws-1", mark);
    assert!(
        requests.iter().any(|(m, _, _)| m == "GET"),
        "the workspace was read: {requests:?}"
    );
    let writes: Vec<_> = requests.iter().filter(|(m, _, _)| m != "GET").collect();
    assert!(writes.is_empty(), "Audit mode wrote: {writes:?}");
    assert!(
        matches!(
            env.conf("ws-1", "enableExportNotebook").as_deref(),
            None | Some("null")
        ),
        "the seeded (never set) value is untouched"
    );
}

/// Suspend: Ready reason Suspended, and no request at all while suspended.
#[test]
fn suspend_stops_all_requests() {
    let (ns, name, label) = ("e2e-suspend", "suspend", "suspend");
    let env = namespace_with_workspace(ns, name, label, "ws-1", "");
    let ctl = Controller::start(ns, "e2e-suspend", "suspend-a", &format!("e2e={label}"));
    wait_ready_compliant(ns, name, &ctl);

    set_suspend(ns, name, true);
    let ws = wait_workspace(ns, name, &ctl, "Ready reason Suspended", |ws| {
        reason_of(ws, "Ready") == "Suspended"
    });
    assert_eq!(
        ws["status"]["observedGeneration"],
        ws["metadata"]["generation"]
    );
    let mark = env.mark();
    env.drift_export_notebook("ws-1");
    let mark_after_drift = env.mark();
    assert!(mark_after_drift > mark);
    // Two complete passes of the suspended workspace (requeued every resync interval) make no
    // request at all.
    let before = passes(&env, &ctl);
    poke(ns, name);
    wait_for(
        TIMEOUT,
        "two passes while suspended",
        || ctl.tail(),
        || (passes(&env, &ctl) >= before + 2).then_some(()),
    );
    let requests = env.requests_since("ws-1", mark_after_drift);
    assert!(
        requests.is_empty(),
        "requests while suspended: {requests:?}\n{}",
        ctl.tail()
    );
    assert_eq!(reason_of(&workspace(ns, name), "Ready"), "Suspended");

    // Resuming remediates the drift made while suspended.
    set_suspend(ns, name, false);
    wait_for(
        TIMEOUT,
        "drift remediated after resume",
        || ctl.tail(),
        || (env.conf("ws-1", "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
}

/// A missing Secret makes only its own workspace not ready; the others are reconciled.
#[test]
fn missing_secret_is_reported_and_isolated() {
    let (ns, label) = ("e2e-secret", "secret");
    create_namespace(ns);
    let env = Env::start();
    apply_secret(ns, "pat", "token", PAT);
    apply(&workspace_yaml(
        ns,
        "bad",
        label,
        &env.ws_url("ws-1"),
        "absent",
        "",
    ));
    // An exception (for controls this policy does not manage) gives the exception expiry
    // gauge a sample too.
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30);
    apply(&workspace_yaml(
        ns,
        "good",
        label,
        &env.ws_url("ws-3"),
        "pat",
        &format!(
            "  exceptions: [{{controls: [\"settings/*\"], reason: e2e, expires: \"{expires}\"}}]\n"
        ),
    ));
    let ctl = Controller::start(ns, "e2e-secret", "secret-a", &format!("e2e={label}"));

    let bad = wait_workspace(
        ns,
        "bad",
        &ctl,
        "bad: Ready=False reason SecretNotFound",
        |ws| condition_is(ws, "Ready", "False") && reason_of(ws, "Ready") == "SecretNotFound",
    );
    let message = condition(&bad, "Ready").unwrap()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("absent"), "{message}");
    wait_ready_compliant(ns, "good", &ctl);
    assert_eq!(
        env.conf("ws-3", "enableExportNotebook").as_deref(),
        Some("false")
    );
    assert!(
        matches!(
            env.conf("ws-1", "enableExportNotebook").as_deref(),
            None | Some("null")
        ),
        "the workspace without credentials is not touched (its key stays never set)"
    );
    assert!(
        env.requests_since("ws-1", 0).is_empty(),
        "no request to the workspace without credentials"
    );

    // A throttled read is retried; with the not-ready workspace's error, every metric family
    // now has a sample, and the running controller exports each one the alerts and the
    // dashboard query.
    let mark = env.mark();
    env.emu()
        .inject_fault(brickwarden_emulator::FaultSpec {
            workspace: Some("ws-3".into()),
            path_prefix: Some("/api/2.0/workspace-conf".into()),
            method: Some("GET".into()),
            status: Some(429),
            count: Some(1),
            retry_after_seconds: Some(0),
            latency_ms: None,
            ..Default::default()
        })
        .expect("inject 429");
    poke(ns, "good");
    wait_for(
        TIMEOUT,
        "a 429 then a retried read",
        || ctl.tail(),
        || {
            let seen = env.requests_since("ws-3", mark);
            let throttled = seen
                .iter()
                .position(|(_, p, s)| p == "/api/2.0/workspace-conf" && *s == 429)?;
            seen[throttled + 1..]
                .iter()
                .any(|(_, p, s)| p == "/api/2.0/workspace-conf" && *s == 200)
                .then_some(())
        },
    );
    let (_, metrics) = env.answer(&ctl.url("/metrics"));
    assert_alert_and_dashboard_metrics_are_exported(&metrics);
    wait_for(
        Duration::from_secs(30),
        "a SecretNotFound event",
        || format!("{:#}", events(ns, "bad")),
        || {
            event_reasons(ns, "bad")
                .iter()
                .any(|r| r == "SecretNotFound")
                .then_some(())
        },
    );

    // Creating the Secret is picked up by the Secret watch, well before the 60s not-ready requeue.
    let created = Instant::now();
    apply_secret(ns, "absent", "token", PAT);
    wait_ready_compliant(ns, "bad", &ctl);
    assert!(
        created.elapsed() < Duration::from_secs(45),
        "took {:?}",
        created.elapsed()
    );
    assert_eq!(
        env.conf("ws-1", "enableExportNotebook").as_deref(),
        Some("false")
    );
    assert_no_secret(&ctl.logs(), "controller logs");
}

/// Deleting a workspace resource: the controller keeps running, the workspace's metric series
/// leave /metrics, and nothing reads or writes that workspace afterwards.
#[test]
fn deleted_workspace_is_no_longer_managed() {
    let (ns, name, label) = ("e2e-delete", "delete", "delete");
    let env = namespace_with_workspace(ns, name, label, "ws-1", "");
    let mut ctl = Controller::start(ns, "e2e-delete", "delete-a", &format!("e2e={label}"));
    wait_ready_compliant(ns, name, &ctl);
    let series = |env: &Env, ctl: &Controller| -> Vec<String> {
        let (_, metrics) = env.answer(&ctl.url("/metrics"));
        metrics
            .lines()
            .filter(|l| l.contains(&format!("namespace=\"{ns}\"")))
            .map(str::to_string)
            .collect()
    };
    // Requests are flowing (resync every 5s) and the workspace has metric series.
    let mark = env.mark();
    wait_for(
        RESYNC_MAX * 3,
        "a resync pass",
        || ctl.tail(),
        || (!env.requests_since("ws-1", mark).is_empty()).then_some(()),
    );
    wait_for(
        Duration::from_secs(30),
        "the workspace's metric series",
        || ctl.tail(),
        || (!series(&env, &ctl).is_empty()).then_some(()),
    );

    kubectl(&["delete", "dbw", "-n", ns, name, "--wait=true"]);
    // Its series leave /metrics: at once on the delete event, or by the sweep after a pass
    // that was in flight.
    wait_for(
        RESYNC_MAX * 2 + Duration::from_secs(10),
        "the deleted workspace's metric series to be gone",
        || format!("{:#?}\n{}", series(&env, &ctl), ctl.tail()),
        || series(&env, &ctl).is_empty().then_some(()),
    );
    let mark = env.mark();
    env.drift_export_notebook("ws-1");
    let mark = mark.max(env.mark());
    // Over two resync periods (the pass it would have had, twice over) the controller stays up
    // and nothing reads or writes the workspace, nor do its series come back.
    hold_for(
        RESYNC_MAX * 2,
        "a deleted workspace is no longer managed",
        || ctl.tail(),
        || {
            let requests = env.requests_since("ws-1", mark);
            if !requests.is_empty() {
                return Err(format!("requests after deletion: {requests:?}"));
            }
            let left = series(&env, &ctl);
            if !left.is_empty() {
                return Err(format!("metric series came back: {left:#?}"));
            }
            Ok(())
        },
    );
    assert!(ctl.is_running(), "the controller exited\n{}", ctl.tail());
    assert!(
        ctl.logs().contains("workspace deleted: no longer managed"),
        "{}",
        ctl.tail()
    );
    assert_eq!(
        env.conf("ws-1", "enableExportNotebook").as_deref(),
        Some("true")
    );
}

/// Two replicas on one Lease: one leads; SIGKILL of the leader hands over within the lease
/// duration; SIGTERM exits 0 promptly and releases the Lease.
#[test]
fn leader_election_hands_over() {
    let (ns, name, label, lease) = ("e2e-leader", "leader", "leader", "e2e-leader");
    let env = namespace_with_workspace(ns, name, label, "ws-1", "");
    let selector = format!("e2e={label}");
    let mut replicas = vec![
        Controller::start(ns, lease, "replica-a", &selector),
        Controller::start(ns, lease, "replica-b", &selector),
    ];
    let diag = |rs: &Vec<Controller>| rs.iter().map(|c| c.tail()).collect::<Vec<_>>().join("\n");

    let holder = wait_for(
        TIMEOUT,
        "a lease holder",
        || diag(&replicas),
        || lease_holder(ns, lease),
    );
    assert!(
        holder == "replica-a" || holder == "replica-b",
        "holder {holder}"
    );
    wait_ready_compliant(ns, name, &replicas[0]);
    let leader = replicas.iter().position(|c| c.identity == holder).unwrap();
    let follower = 1 - leader;

    // Only the leader is the leader in metrics; the follower is ready (electing).
    // A pass is timed when it ends, after its status (and report) writes: wait for both.
    wait_for(
        Duration::from_secs(30),
        "leader metrics with a timed pass",
        || diag(&replicas),
        || {
            env.get(&replicas[leader].url("/metrics")).filter(|(_, m)| {
                m.contains("brickwarden_leader 1")
                    && m.contains("brickwarden_reconcile_duration_seconds")
            })
        },
    );
    let (status, follower_metrics) = env.answer(&replicas[follower].url("/metrics"));
    assert_eq!(status, 200);
    assert!(
        follower_metrics.contains("brickwarden_leader 0"),
        "{follower_metrics}"
    );
    let (status, _) = env.answer(&replicas[follower].url("/readyz"));
    assert_eq!(status, 200, "a follower is ready to take over");
    // The holder stays put while it renews: renewTime advances at least twice, always by the
    // same holder (it renews every RENEW_PERIOD; the bound allows a late renewal or two).
    let (_, first_renewal) = lease_state(ns, lease).expect("lease");
    let renewals = std::cell::RefCell::new(vec![first_renewal]);
    wait_for(
        RENEW_PERIOD * 2 + LEASE_DURATION * 3,
        "renewTime to advance twice by the same holder",
        || format!("renewals {:?}\n{}", renewals.borrow(), diag(&replicas)),
        || {
            let (now_holder, renew) = lease_state(ns, lease).expect("lease");
            assert_eq!(now_holder, holder, "the holder changed while renewing");
            let mut renewals = renewals.borrow_mut();
            if renewals.last() != Some(&renew) {
                renewals.push(renew);
            }
            (renewals.len() >= 3).then_some(())
        },
    );
    // Only the Lease holder reconciles and writes: the follower has done neither.
    assert!(
        !follower_metrics.contains("brickwarden_api_requests_total")
            && !follower_metrics.contains("brickwarden_remediations_total"),
        "a follower makes no API calls:\n{follower_metrics}"
    );
    let follower_logs = replicas[follower].logs();
    assert!(
        !follower_logs.contains("reconciled") && !follower_logs.contains("remediated"),
        "a follower does not reconcile:\n{follower_logs}"
    );

    // SIGKILL the leader: the follower takes over and remediates new drift.
    let killed_at = Instant::now();
    replicas[leader].kill();
    let new_holder = replicas[follower].identity.clone();
    wait_for(
        // The dead leader's Lease expires after LEASE_DURATION; the follower checks it at
        // least every renew period.
        LEASE_DURATION * 2 + RENEW_PERIOD * 2,
        "the follower to take the lease",
        || diag(&replicas),
        || (lease_holder(ns, lease).as_deref() == Some(new_holder.as_str())).then_some(()),
    );
    let takeover = killed_at.elapsed();
    env.drift_export_notebook("ws-1");
    poke(ns, name);
    wait_for(
        TIMEOUT,
        "the new leader to remediate drift",
        || diag(&replicas),
        || (env.conf("ws-1", "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
    assert!(
        replicas[follower].logs().contains("leading"),
        "{}",
        replicas[follower].tail()
    );

    // A third replica joins; SIGTERM of the leader exits 0 and hands over promptly.
    replicas.push(Controller::start(ns, lease, "replica-c", &selector));
    // replica-c is electing (a follower's /readyz is 200 once its election runs).
    let replica_c = replicas.len() - 1;
    wait_for(
        Duration::from_secs(30),
        "replica-c to be electing",
        || diag(&replicas),
        || {
            env.get(&replicas[replica_c].url("/readyz"))
                .filter(|(s, _)| *s == 200)
                .map(|_| ())
        },
    );
    let terminated_at = Instant::now();
    let status = replicas[follower]
        .terminate(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit 10s after SIGTERM\n{}", diag(&replicas)));
    assert!(
        status.success(),
        "exit status {status}\n{}",
        replicas[follower].tail()
    );
    assert!(
        replicas[follower].logs().contains("lease released"),
        "{}",
        replicas[follower].tail()
    );
    wait_for(
        LEASE_DURATION,
        "replica-c to take over before the lease would have expired",
        || format!("holder {:?}\n{}", lease_holder(ns, lease), diag(&replicas)),
        || (lease_holder(ns, lease).as_deref() == Some("replica-c")).then_some(()),
    );
    let handover = terminated_at.elapsed();
    env.drift_export_notebook("ws-1");
    poke(ns, name);
    wait_for(
        TIMEOUT,
        "replica-c to remediate drift",
        || diag(&replicas),
        || (env.conf("ws-1", "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
    eprintln!("takeover after SIGKILL: {takeover:?}; hand-over after SIGTERM: {handover:?}");
    for r in &replicas {
        assert_no_secret(&r.logs(), "controller logs");
    }
}

/// `/readyz` answers 200 on the leader once its caches are synced.
///
/// The leader's `/readyz` turns 200 once its caches are synced (a Deployment's leader becomes
/// Ready).
#[test]
fn leader_readyz_is_200() {
    let (ns, name, label) = ("e2e-readyz", "readyz", "readyz");
    let env = namespace_with_workspace(ns, name, label, "ws-1", "");
    let ctl = Controller::start(ns, "e2e-readyz", "readyz-a", &format!("e2e={label}"));
    wait_ready_compliant(ns, name, &ctl);
    wait_for(
        Duration::from_secs(30),
        "the leader's /metrics to say brickwarden_leader 1",
        || ctl.tail(),
        || {
            env.get(&ctl.url("/metrics"))
                .filter(|(_, m)| m.contains("brickwarden_leader 1"))
        },
    );
    wait_for(
        Duration::from_secs(30),
        "the leader's /readyz to answer 200",
        || {
            format!(
                "/readyz: {:?}\n{}",
                env.get(&ctl.url("/readyz")),
                ctl.tail()
            )
        },
        || env.get(&ctl.url("/readyz")).filter(|(s, _)| *s == 200),
    );
}

/// Every `brickwarden_*` name that the alerts and the dashboard query is a family the running
/// controller exports (prometheus-client lists a family once it has a sample).
fn assert_alert_and_dashboard_metrics_are_exported(scrape: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let sources = [
        "deploy/monitoring/prometheusrule.yaml",
        "deploy/monitoring/grafana-dashboard.json",
    ];
    let mut names = std::collections::BTreeSet::new();
    for source in sources {
        let text = std::fs::read_to_string(format!("{root}/{source}")).expect(source);
        let mut rest = text.as_str();
        while let Some(at) = rest.find("brickwarden_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    assert!(names.len() >= 5, "found too few metric names: {names:?}");
    for name in names {
        let family = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        assert!(
            scrape.contains(&format!("# TYPE {family} ")),
            "{name} is used by deploy/monitoring but the controller does not export {family}:\n{scrape}"
        );
    }
}

/// A SecurityBaseline change re-reconciles the workspaces that reference it, without waiting for
/// their resync.
#[test]
fn baseline_change_rereconciles_referencing_workspaces() {
    let (ns, name, label) = ("e2e-baseline", "baseline", "baseline");
    let baseline = format!("e2e-{}", rand_suffix() % 1_000_000_000);
    create_namespace(ns);
    let env = Env::start();
    apply_secret(ns, "pat", "token", PAT);
    let baseline_yaml = |web_terminal: bool| {
        format!(
            "apiVersion: brickwarden.io/v1alpha1\nkind: SecurityBaseline\nmetadata: {{name: {baseline}}}\nspec:\n  policy:\n    workspaceConf: {{webTerminal: {web_terminal}, exportNotebook: false}}\n"
        )
    };
    apply(&baseline_yaml(false));
    apply(&kube::workspace_yaml(
        ns,
        name,
        label,
        &env.ws_url("ws-3"),
        "pat",
        "1h",
        &format!("  baselineRef: {baseline}\n"),
    ));
    let ctl = Controller::start(
        ns,
        "brickwarden-baseline",
        "baseline-a",
        &format!("e2e={label}"),
    );
    wait_ready_compliant(ns, name, &ctl);
    assert_eq!(
        env.conf("ws-3", "enableWebTerminal").as_deref(),
        Some("false")
    );

    apply(&baseline_yaml(true));
    wait_for(
        Duration::from_secs(30),
        "the baseline change to reach the workspace (resync is 1h)",
        || ctl.tail(),
        || (env.conf("ws-3", "enableWebTerminal").as_deref() == Some("true")).then_some(()),
    );
    kubectl(&["delete", "securitybaseline", &baseline]);
}

/// A controller killed in the middle of a reconcile is replaced, and the workspace converges
/// without duplicate writes (one IP access list, not two).
#[test]
fn restart_mid_reconcile_converges_without_duplicate_writes() {
    let (ns, name, label) = ("e2e-restart", "restart", "restart");
    create_namespace(ns);
    let env = Env::start();
    apply_secret(ns, "pat", "token", PAT);
    // The list creation answers slowly: the first controller is killed while it waits.
    env.emu()
        .inject_fault(brickwarden_emulator::FaultSpec {
            workspace: Some("ws-3".into()),
            path_prefix: Some("/api/2.0/ip-access-lists".into()),
            method: Some("POST".into()),
            status: None,
            count: Some(1),
            retry_after_seconds: None,
            latency_ms: Some(2000),
            ..Default::default()
        })
        .expect("inject latency");
    apply(&workspace_yaml(
        ns,
        name,
        label,
        &env.ws_url("ws-3"),
        "pat",
        "",
    ));
    let lease = "brickwarden-restart";
    let mut first = Controller::start(ns, lease, "restart-a", &format!("e2e={label}"));
    wait_for(
        TIMEOUT,
        "the first controller to start reconciling",
        || first.tail(),
        || {
            env.requests_since("ws-3", 0)
                .iter()
                .any(|(m, p, _)| m == "GET" && p == "/api/2.0/ip-access-lists")
                .then_some(())
        },
    );
    // The slow creation has started (its one-shot latency fault is used up): kill now.
    let faults = format!("{}/_emulator/faults", env.emu().base_url());
    wait_for(
        TIMEOUT,
        "the first controller to send the slow list creation",
        || first.tail(),
        || {
            env.get(&faults)
                .filter(|(status, body)| *status == 200 && !body.contains("ip-access-lists"))
                .map(|_| ())
        },
    );
    first.kill();

    let second = Controller::start(ns, lease, "restart-b", &format!("e2e={label}"));
    wait_ready_compliant(ns, name, &second);
    let state = env.emu().state("ws-3").expect("state");
    let lists = state["ip_access_lists"].as_array().expect("lists").clone();
    let ctl_lists = lists.iter().filter(|l| l["label"] == "ctl").count();
    assert_eq!(
        ctl_lists,
        1,
        "exactly one list labelled ctl: {lists:#?}\n{}",
        second.tail()
    );
    let creates = env
        .requests_since("ws-3", 0)
        .into_iter()
        .filter(|(m, p, status)| m == "POST" && p == "/api/2.0/ip-access-lists" && *status < 300)
        .count();
    assert!(
        creates <= 1,
        "{creates} successful creations of the same list"
    );
}

/// A replica whose Lease is taken over by another holder stops reconciling at once, reports
/// that it no longer leads, and leads again once the other holder stops renewing.
#[test]
fn a_replica_that_loses_its_lease_stops_writing() {
    let (ns, name, label) = ("e2e-lost", "lost", "lost");
    let env = namespace_with_workspace(ns, name, label, "ws-3", "");
    let lease = "brickwarden-lost";
    let ctl = Controller::start(ns, lease, "lost-a", &format!("e2e={label}"));
    wait_ready_compliant(ns, name, &ctl);

    // Another holder takes the Lease and keeps renewing it, as a live leader would.
    let renewing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let usurper = {
        let renewing = renewing.clone();
        std::thread::spawn(move || {
            while renewing.load(std::sync::atomic::Ordering::Relaxed) {
                let patch = format!(
                    r#"{{"spec":{{"holderIdentity":"someone-else","renewTime":"{}"}}}}"#,
                    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
                );
                let _ = cluster_with_crds().kubectl([
                    "patch",
                    "lease",
                    "-n",
                    ns,
                    lease,
                    "--type=merge",
                    "-p",
                    &patch,
                ]);
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    wait_for(
        TIMEOUT,
        "the replica to notice it no longer leads",
        || ctl.tail(),
        || {
            let (_, metrics) = env.get(&ctl.url("/metrics"))?;
            metrics.contains("brickwarden_leader 0").then_some(())
        },
    );
    assert!(ctl.logs().contains("lost the Lease"), "{}", ctl.tail());

    // New drift is left alone while another replica leads.
    let mark = env.mark();
    env.drift_export_notebook("ws-3");
    poke(ns, name);
    // Over two resync periods (when a leader would have passed twice), only the test's own
    // drift PATCH reaches the workspace and the replica keeps reporting that it follows.
    hold_for(
        RESYNC_MAX * 2,
        "a replica without the Lease must not touch the workspace",
        || format!("holder {:?}\n{}", lease_holder(ns, lease), ctl.tail()),
        || {
            let seen = env.requests_since("ws-3", mark);
            if !seen
                .iter()
                .all(|(m, p, _)| m == "PATCH" && p == "/api/2.0/workspace-conf")
            {
                return Err(format!("requests: {seen:?}"));
            }
            if env.conf("ws-3", "enableExportNotebook").as_deref() != Some("true") {
                return Err("the drift was remediated".into());
            }
            match env.get(&ctl.url("/metrics")) {
                Some((_, m)) if m.contains("brickwarden_leader 0") => Ok(()),
                other => Err(format!("not a follower: {:?}", other.map(|(s, _)| s))),
            }
        },
    );

    // The other holder goes away: this replica leads again and fixes the drift.
    renewing.store(false, std::sync::atomic::Ordering::Relaxed);
    usurper.join().expect("renewing thread");
    wait_for(
        TIMEOUT,
        "the replica to lead again and remediate",
        || ctl.tail(),
        || (env.conf("ws-3", "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
}

// ---------------------------------------------------------------------------------------------
// Start-up errors and least privilege: the real binary, real identities.
// ---------------------------------------------------------------------------------------------

/// How long a failing start-up may take before it has exited.
const STARTUP_BOUND: Duration = Duration::from_secs(30);

/// Runs `brickwarden run ARGS` with `KUBECONFIG=kubeconfig` until it exits (failing after
/// [`STARTUP_BOUND`]); returns whether it succeeded and its stderr.
fn run_to_exit(kubeconfig: &std::path::Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let home = tempfile::tempdir().expect("tempdir");
    let stderr = home.path().join("stderr");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_brickwarden"))
        .arg("run")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        // No in-cluster configuration and no ~/.kube/config to fall back on.
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("POD_NAMESPACE")
        .env_remove("POD_NAME")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("brickwarden run starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > STARTUP_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "brickwarden run still running after {STARTUP_BOUND:?}:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, std::fs::read_to_string(&stderr).unwrap_or_default())
}

/// A failed start-up: non-zero exit, one line on stderr naming the cause (`cause`) and the fix
/// (`fix`), no API status dump.
fn assert_startup_error(status: std::process::ExitStatus, stderr: &str, cause: &str, fix: &str) {
    assert!(!status.success(), "exit {status}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line:\n{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(cause), "cause {cause:?} in: {stderr}");
    assert!(stderr.contains(fix), "fix {fix:?} in: {stderr}");
    assert!(!stderr.contains("Status {"), "no status dump: {stderr}");
}

/// A kubeconfig for the shared control plane as ServiceAccount `ns/sa` (a TokenRequest token).
fn service_account_kubeconfig(ns: &str, sa: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let cp = cluster_with_crds();
    let _ = cp.kubectl(["create", "serviceaccount", sa, "-n", ns]);
    let token = kubectl(&["create", "token", sa, "-n", ns, "--duration=1h"]);
    let ca = std::fs::read_to_string(cp.ca_cert_path()).expect("CA");
    let ca_file = dir.join("ca.crt");
    std::fs::write(&ca_file, ca).expect("write CA");
    let path = dir.join(format!("kubeconfig-{sa}"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {sa}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context: {{cluster: test, user: {sa}, namespace: {ns}}}\ncurrent-context: test\n",
            server = cp.server_url(),
            ca = ca_file.display(),
            token = token.trim(),
        ),
    )
    .expect("write kubeconfig");
    path
}

#[test]
fn startup_without_kubeconfig_names_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-kubeconfig");
    let (status, stderr) = run_to_exit(&missing, &[]);
    assert_startup_error(
        status,
        &stderr,
        "no Kubernetes configuration",
        "point KUBECONFIG at a kubeconfig",
    );
}

/// A fresh control plane of its own, where brickwarden's CRDs were never installed.
#[test]
fn startup_before_the_crds_are_installed_names_the_fix() {
    let bare = crate::support::controlplane::ControlPlane::start().expect("control plane starts");
    let (status, stderr) = run_to_exit(bare.kubeconfig_path(), &["--lease-namespace", "default"]);
    assert_startup_error(
        status,
        &stderr,
        "the CRD databricksworkspaces.brickwarden.io is not installed",
        "kubectl apply --server-side -f crds/",
    );
}

#[test]
fn startup_with_a_missing_lease_namespace_names_the_fix() {
    let ns = format!("e2e-no-such-ns-{}", rand_suffix() % 1_000_000_000);
    let (status, stderr) = run_to_exit(
        cluster_with_crds().kubeconfig_path(),
        &["--lease-namespace", &ns],
    );
    assert_startup_error(
        status,
        &stderr,
        &format!("the Lease namespace \"{ns}\" does not exist"),
        &format!("kubectl create namespace {ns}"),
    );
}

/// A ServiceAccount bound to nothing may not list DatabricksWorkspaces.
#[test]
fn startup_without_rbac_names_the_fix() {
    let ns = "e2e-norbac";
    let _ = cluster_with_crds().kubectl(["create", "namespace", ns]);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = service_account_kubeconfig(ns, "unbound", dir.path());
    let (status, stderr) = run_to_exit(&kubeconfig, &[]);
    assert_startup_error(
        status,
        &stderr,
        "forbidden to list databricksworkspaces.brickwarden.io",
        "bind the controller's identity to the brickwarden ClusterRole",
    );
    // In namespaced mode the fix names the namespace's Role.
    let (status, stderr) = run_to_exit(&kubeconfig, &["--watch-namespace", ns]);
    assert_startup_error(
        status,
        &stderr,
        &format!(
            "forbidden to list databricksworkspaces.brickwarden.io in the watched namespace \"{ns}\""
        ),
        "watchNamespaces",
    );
}

/// Namespaced mode end to end: the controller runs as a ServiceAccount with exactly the chart's
/// namespaced-mode RBAC (`watchNamespaces: [<watched>]`), reconciles the workspace in the
/// watched namespace, and neither reads nor manages the one in another namespace.
#[test]
fn namespaced_mode_manages_only_watched_namespaces_with_the_charts_rbac() {
    let (release_ns, watched, other, label) = (
        "e2e-nsmode",
        "e2e-nsmode-watched",
        "e2e-nsmode-other",
        "nsmode",
    );
    for ns in [release_ns, watched, other] {
        let _ = cluster_with_crds().kubectl(["create", "namespace", ns]);
    }
    // The chart's RBAC and ServiceAccount only (no pod runs here), applied as rendered.
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/brickwarden");
    let watch = format!("watchNamespaces={{{watched}}}");
    let out = cluster_with_crds()
        .helm([
            "template",
            "e2e-nsmode",
            chart,
            "--namespace",
            release_ns,
            "--set",
            &watch,
            "--show-only",
            "templates/serviceaccount.yaml",
            "--show-only",
            "templates/rbac.yaml",
        ])
        .expect("helm runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    apply(&String::from_utf8_lossy(&out.stdout));
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = service_account_kubeconfig(release_ns, "e2e-nsmode-brickwarden", dir.path());

    let env = Env::start();
    for ns in [watched, other] {
        apply_secret(ns, "pat", "token", PAT);
    }
    apply(&workspace_yaml(
        watched,
        "mine",
        label,
        &env.ws_url("ws-1"),
        "pat",
        "",
    ));
    apply(&workspace_yaml(
        other,
        "not-mine",
        label,
        &env.ws_url("ws-3"),
        "pat",
        "",
    ));
    let ctl = Controller::start_with(
        release_ns,
        "nsmode",
        "nsmode-a",
        &format!("e2e={label}"),
        &kubeconfig,
        &["--watch-namespace", watched],
        &[],
    );
    let ws = wait_ready_compliant(watched, "mine", &ctl);
    assert_full_score(&ws);
    // The workspace elsewhere: never reconciled, never read, no status. The watched one has
    // been through passes meanwhile (two resyncs).
    let before = passes(&env, &ctl);
    wait_for(
        TIMEOUT,
        "two more passes in the watched namespace",
        || ctl.tail(),
        || (passes(&env, &ctl) >= before + 2).then_some(()),
    );
    assert!(
        env.requests_since("ws-3", 0).is_empty(),
        "the unwatched namespace's workspace was read"
    );
    assert!(
        workspace(other, "not-mine")["status"].is_null(),
        "{:#}",
        workspace(other, "not-mine")
    );
    let logs = ctl.logs();
    assert!(!logs.to_lowercase().contains("forbidden"), "{}", ctl.tail());
    assert_no_secret(&logs, "controller logs");
}

/// Two shards, each with a standby replica: every workspace is reconciled by exactly the shard
/// its stable hash picks (each shard's leader exports metrics for its own workspaces only), and
/// a shard whose leader dies is taken over by its standby, which goes on remediating.
#[test]
fn shards_split_the_fleet_and_a_standby_takes_over() {
    use brickwarden::controller::shard::Shard;
    let (ns, label, lease) = ("e2e-shards", "shards", "e2e-shards");
    create_namespace(ns);
    let env = Env::start();
    apply_secret(ns, "pat", "token", PAT);
    let owner = |name: &str| {
        (0..2).find(|i| {
            Shard {
                index: *i,
                count: 2,
            }
            .owns(ns, name)
        })
    };
    let names: Vec<String> = (0..20).map(|i| format!("fleet-{i}")).collect();
    let first_of = |shard: u32| {
        names
            .iter()
            .find(|n| owner(n) == Some(shard))
            .cloned()
            .expect("a name of each shard")
    };
    // One workspace per shard, each on its own emulator workspace.
    let placed = [(first_of(0), "ws-1"), (first_of(1), "ws-3")];
    for (name, ws) in &placed {
        apply(&workspace_yaml(ns, name, label, &env.ws_url(ws), "pat", ""));
    }
    let selector = format!("e2e={label}");
    let shard_args = |i: u32| {
        vec![
            "--shard-count".to_string(),
            "2".into(),
            "--shard-index".into(),
            i.to_string(),
        ]
    };
    let start = |identity: &str, shard: u32| {
        let args = shard_args(shard);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Controller::start_with(
            ns,
            lease,
            identity,
            &selector,
            cluster_with_crds().kubeconfig_path(),
            &args,
            &[],
        )
    };
    let mut replicas = vec![
        (0, start("shard0-a", 0)),
        (0, start("shard0-b", 0)),
        (1, start("shard1-a", 1)),
        (1, start("shard1-b", 1)),
    ];
    let diag = |rs: &Vec<(u32, Controller)>| {
        rs.iter()
            .map(|(_, c)| c.tail())
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (name, _) in &placed {
        wait_ready_compliant(ns, name, &replicas[0].1);
    }
    let shard_lease = |i: u32| format!("{lease}-shard-{i}");
    for shard in 0..2u32 {
        let holder = wait_for(
            TIMEOUT,
            "each shard's lease holder",
            || diag(&replicas),
            || lease_holder(ns, &shard_lease(shard)),
        );
        assert!(holder.starts_with(&format!("shard{shard}-")), "{holder}");
        let leader = replicas
            .iter()
            .find(|(_, c)| c.identity == holder)
            .map(|(_, c)| c)
            .unwrap();
        let (_, metrics) = env.answer(&leader.url("/metrics"));
        for (name, _) in &placed {
            let series = format!("workspace=\"{name}\"");
            assert_eq!(
                metrics.contains(&series),
                owner(name) == Some(shard),
                "shard {shard} ({holder}) and {name} (owned by {:?}):\n{metrics}",
                owner(name)
            );
        }
    }
    // Standbys neither reconcile nor call APIs.
    for (_, c) in &replicas {
        let holds = (0..2)
            .any(|s| lease_holder(ns, &shard_lease(s)).as_deref() == Some(c.identity.as_str()));
        if !holds {
            assert!(
                !c.logs().contains("reconciled"),
                "standby {} reconciled",
                c.identity
            );
        }
    }

    // Shard 0's leader dies: its standby takes the shard's Lease and remediates its workspace.
    let holder0 = lease_holder(ns, &shard_lease(0)).expect("shard 0 holder");
    let dead = replicas
        .iter()
        .position(|(_, c)| c.identity == holder0)
        .unwrap();
    replicas[dead].1.kill();
    let standby = if holder0 == "shard0-a" {
        "shard0-b"
    } else {
        "shard0-a"
    };
    wait_for(
        LEASE_DURATION * 2 + RENEW_PERIOD * 2,
        "shard 0's standby to take its lease",
        || diag(&replicas),
        || (lease_holder(ns, &shard_lease(0)).as_deref() == Some(standby)).then_some(()),
    );
    let (name0, ws0) = &placed[0];
    env.drift_export_notebook(ws0);
    poke(ns, name0);
    wait_for(
        TIMEOUT,
        "the standby of shard 0 to remediate its workspace",
        || diag(&replicas),
        || (env.conf(ws0, "enableExportNotebook").as_deref() == Some("false")).then_some(()),
    );
    let new_leader = replicas
        .iter()
        .find(|(_, c)| c.identity == standby)
        .unwrap();
    // The remediating write lands before the pass ends and logs "reconciled".
    wait_for(
        TIMEOUT,
        "the standby of shard 0 to finish its pass",
        || new_leader.1.tail(),
        || new_leader.1.logs().contains("reconciled").then_some(()),
    );
    // Shard 1 kept its leader throughout.
    assert!(lease_holder(ns, &shard_lease(1)).is_some_and(|h| h.starts_with("shard1-")));
}

/// Crash consistency of the controller: `brickwarden run` is SIGKILLed at seeded random points
/// of a remediation that creates, enables and narrows IP access lists (every list and conf
/// request delayed); after each kill the caller still reaches the workspace and no list is
/// duplicated, and a last controller converges to exactly the declared lists. The suite runs
/// 3 kills; `BRICKWARDEN_CONTROLLER_CRASH_ITERATIONS` runs more (docs/reliability.md).
#[test]
fn killed_controllers_never_lock_out_or_duplicate_and_the_next_converges() {
    let iterations: u64 = std::env::var("BRICKWARDEN_CONTROLLER_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (ns, name, label) = ("e2e-crash", "crash", "crash");
    create_namespace(ns);
    let env = Env::start();
    apply_secret(ns, "pat", "token", PAT);
    let ws = "ws-3";
    let admin = |method: reqwest::Method, path: &str, body: Value| {
        let url = format!("{}/_emulator/{path}", env.emu().base_url());
        env.rt.block_on(async {
            let response = env
                .http
                .request(method, url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{:?}",
                response.text().await
            );
        })
    };
    let initial = || {
        admin(
            reqwest::Method::PATCH,
            &format!("state/{ws}"),
            crash::initial_state(),
        )
    };
    for path in ["/api/2.0/ip-access-lists", "/api/2.0/workspace-conf"] {
        admin(
            reqwest::Method::POST,
            "faults",
            json!({"workspace": ws, "path_prefix": path, "latency_ms": 150, "count": 100000}),
        );
    }
    apply(&crash::workspace_yaml(
        &format!("{{name: {name}, namespace: {ns}, labels: {{e2e: {label}}}}}"),
        &env.ws_url(ws),
        "  resyncInterval: 5s\n",
    ));
    let seen = || {
        let state = env.emu().state(ws).expect("state");
        let mut labels = std::collections::BTreeMap::<String, usize>::new();
        for list in state["ip_access_lists"].as_array().into_iter().flatten() {
            *labels
                .entry(list["label"].as_str().unwrap_or_default().into())
                .or_default() += 1;
        }
        let reachable = env.rt.block_on(async {
            env.http
                .get(format!("{}/api/2.0/ip-access-lists", env.ws_url(ws)))
                .bearer_auth(PAT)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        });
        (reachable, labels)
    };
    // Nothing of a killed controller is still in flight once the journal stops growing for
    // twice the injected latency.
    let settle = || {
        let period = Duration::from_millis(300);
        let deadline = Instant::now() + period * 20;
        let mut count = env.emu().requests().len();
        loop {
            std::thread::sleep(period);
            let now = env.emu().requests().len();
            if now == count || Instant::now() >= deadline {
                return;
            }
            count = now;
        }
    };
    let mut seed: u64 = 20261204;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    let selector = format!("e2e={label}");
    for iteration in 0..iterations {
        if iteration % 2 == 0 {
            initial();
        }
        // A Lease of its own per controller: no waiting for a dead holder's Lease to expire.
        let mut ctl = Controller::start(ns, &format!("crash-{iteration}"), "crash", &selector);
        let kill_after = Duration::from_millis(1000 + next() % 3000);
        let started = Instant::now();
        while started.elapsed() < kill_after && ctl.is_running() {
            std::thread::sleep(Duration::from_millis(20));
        }
        ctl.kill();
        settle();
        let (reachable, labels) = seen();
        assert!(
            reachable,
            "iteration {iteration}: locked out after {kill_after:?}"
        );
        assert!(
            labels.values().all(|n| *n == 1),
            "iteration {iteration}: duplicated lists {labels:?}"
        );
    }
    let last = Controller::start(ns, "crash-last", "crash", &selector);
    wait_ready_compliant(ns, name, &last);
    let (reachable, labels) = seen();
    assert!(reachable);
    assert_eq!(
        labels,
        std::collections::BTreeMap::from([("bad".to_string(), 1), ("ctl".to_string(), 1)])
    );
    assert_eq!(env.conf(ws, "enableIpAccessLists").as_deref(), Some("true"));
}

/// A controller reconciling one workspace per auth method (PAT, Databricks OAuth, Entra ID
/// client secret, Entra ID workload identity) at trace level: no credential value (the secrets,
/// the federated token, any access token the token endpoints issued) is in its logs, the
/// workspaces' status, their events or /metrics.
#[test]
fn no_credential_reaches_logs_status_events_or_metrics_with_any_auth_method() {
    let (ns, label) = ("e2e-creds", "creds");
    create_namespace(ns);
    let env = Env::start();
    let secret = "emulator-secret";
    apply_secret(ns, "pat", "token", PAT);
    apply_secret(ns, "sp", "secret", secret);
    let dir = tempfile::tempdir().unwrap();
    let federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YnJpY2t3YXJkZW4ifQ.ZmVkZXJhdGVkLXNpZ25hdHVyZQ";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, federated).unwrap();
    let ids = "tenantId: 11111111-1111-1111-1111-111111111111, clientId: 22222222-2222-2222-2222-222222222222";
    let methods = [
        (
            "pat",
            "personalAccessToken: {secretRef: {name: pat, key: token}}".to_string(),
        ),
        (
            "oauth",
            "databricksOAuth: {clientId: etl-pipeline, clientSecretRef: {name: sp, key: secret}}"
                .to_string(),
        ),
        (
            "entra",
            format!("azureClientSecret: {{{ids}, clientSecretRef: {{name: sp, key: secret}}}}"),
        ),
        ("workload", format!("azureWorkloadIdentity: {{{ids}}}")),
    ];
    for (name, auth) in &methods {
        apply(&format!(
            "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksWorkspace\nmetadata: {{name: {name}, namespace: {ns}, labels: {{e2e: {label}}}}}\nspec:\n  host: {}\n  auth: {{{auth}}}\n  resyncInterval: 5s\n  policy: {{workspaceConf: {{exportNotebook: false}}}}\n",
            env.ws_url("ws-1")
        ));
    }
    let authority = format!(
        "{}/aad",
        env.emu().base_url().to_string().trim_end_matches('/')
    );
    let ctl = Controller::start_with(
        ns,
        "e2e-creds",
        "creds-a",
        &format!("e2e={label}"),
        cluster_with_crds().kubeconfig_path(),
        &[],
        &[
            ("RUST_LOG", "trace"),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
        ],
    );
    for (name, _) in &methods {
        wait_ready_compliant(ns, name, &ctl);
    }
    let (_, metrics) = env.answer(&ctl.url("/metrics"));
    let everything = [
        ctl.logs(),
        get_json(&["dbw", "-n", ns]).to_string(),
        get_json(&["events", "-n", ns]).to_string(),
        metrics,
    ]
    .join("\n");
    assert!(everything.len() > 10_000, "trace logs were written");
    for leaked in [PAT, secret, federated] {
        assert!(!everything.contains(leaked), "{leaked} leaked");
    }
    let access_token = everything
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .find(|word| word.starts_with("eyJ") && word.matches('.').count() == 2);
    assert_eq!(access_token, None, "an issued access token leaked");
}
