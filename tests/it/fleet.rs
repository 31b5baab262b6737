//! A fleet of workspaces: the emulator serving each workspace at an address of its own (so
//! per-host client limits behave as against real workspaces), the product's global in-flight
//! request budget, and the fleet benchmark's smoke run (`bench/fleet`, N = 50).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use brickwarden_emulator::{Emulator, EmulatorConfig, FaultSpec};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::emulator::{Admin, http};
use crate::support::harness::emulator_with;

const PAT: &str = "dapi-emulator";

async fn fleet(workspaces: usize, latency: Duration) -> Emulator {
    let config = EmulatorConfig {
        workspaces,
        latency,
        ..EmulatorConfig::default()
    };
    emulator_with(config).await
}

async fn get(c: &reqwest::Client, url: String) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let resp = c.get(url).bearer_auth(PAT).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

#[tokio::test]
async fn each_workspace_answers_at_its_own_host_and_at_its_path_prefix() {
    let emu = fleet(3, Duration::ZERO).await;
    let c = http();
    let listed = emu.workspace_list();
    let hosts: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["host"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts.len(), 3);
    assert_eq!(hosts.iter().collect::<HashSet<_>>().len(), 3, "{hosts:?}");
    for (i, host) in hosts.iter().enumerate() {
        let name = format!("ws-{}", i + 1);
        assert_eq!(*host, emu.workspace_host(&name));
        let url = url::Url::parse(host).unwrap();
        assert_eq!(
            url.path(),
            "/",
            "a host of its own has no path prefix: {host}"
        );
        assert_ne!(url.port(), emu.addr().port().into());
    }

    // Writes through one address are seen through the other.
    let admin = Admin::new(&emu.base_url());
    let resp = c
        .patch(format!("{}/api/2.0/workspace-conf", hosts[2]))
        .bearer_auth(PAT)
        .json(&serde_json::json!({"enableIpAccessLists": "true"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, body, headers) = get(
        &c,
        format!(
            "{}/api/2.0/workspace-conf?keys=enableIpAccessLists",
            emu.workspace_url("ws-3")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["enableIpAccessLists"], "true");
    let org_id = headers["x-databricks-org-id"].to_str().unwrap().to_string();
    let (_, _, headers) = get(&c, format!("{}/api/2.0/token/list", hosts[2])).await;
    assert_eq!(headers["x-databricks-org-id"].to_str().unwrap(), org_id);

    // The journal names the workspace either way, with the same service-relative path.
    let journal = admin.journal().await;
    assert_eq!(
        journal,
        [
            (
                "ws-3".into(),
                "PATCH".into(),
                "/api/2.0/workspace-conf".into(),
                204
            ),
            (
                "ws-3".into(),
                "GET".into(),
                "/api/2.0/workspace-conf".into(),
                200
            ),
            (
                "ws-3".into(),
                "GET".into(),
                "/api/2.0/token/list".into(),
                200
            ),
        ]
    );

    // A host is its workspace's alone: no other workspace, no admin API behind it.
    let (status, body, _) = get(&c, format!("{}/ws/ws-1/api/2.0/token/list", hosts[2])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, _) = get(&c, format!("{}/_emulator/requests", hosts[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // What the SDKs probe points back at the host they probed; a token works at both.
    let (status, meta, _) = get(&c, format!("{}/.well-known/databricks-config", hosts[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        meta["oidc_endpoint"],
        format!("{}/oidc", hosts[0].trim_end_matches('/'))
    );
    let (_, meta, _) = get(
        &c,
        format!(
            "{}/.well-known/databricks-config",
            emu.workspace_url("ws-1")
        ),
    )
    .await;
    assert_eq!(
        meta["oidc_endpoint"],
        format!("{}/oidc", emu.workspace_url("ws-1"))
    );

    // Faults name the workspace, whichever address the request came to.
    emu.inject_fault(FaultSpec {
        workspace: Some("ws-2".into()),
        status: Some(503),
        ..Default::default()
    })
    .unwrap();
    let (status, _, _) = get(&c, format!("{}/api/2.0/token/list", hosts[1])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Shutting down closes every address.
    let first = hosts[0].clone();
    emu.shutdown().await;
    assert!(c.get(first).send().await.is_err());
}

/// Reads the soft limit on open files of this process.
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1024)
}

#[tokio::test]
async fn a_large_fleet_is_cheap_until_touched_and_latency_applies_to_every_host() {
    // One port per workspace: as many as the process may open, leaving room for the other
    // tests of the binary (5000 where `ulimit -n` allows it).
    let n = 5000
        .min(open_files_limit().saturating_sub(4000) / 2)
        .max(50);
    let latency = Duration::from_millis(50);
    let started = Instant::now();
    let emu = fleet(n, latency).await;
    let start_time = started.elapsed();
    let listed = emu.workspace_list();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), n);
    let hosts: HashSet<&str> = listed.iter().map(|w| w["host"].as_str().unwrap()).collect();
    assert_eq!(hosts.len(), n);
    assert_eq!(listed[n - 1]["id"], format!("ws-{n}"));
    assert!(
        start_time < Duration::from_secs(10),
        "binding {n} addresses took {start_time:?}"
    );

    // A latency fault on every workspace plus the configured latency, requests to many hosts
    // at once: each takes about the sum, not more for the number of faults or workspaces.
    for i in 1..=n {
        emu.inject_fault(FaultSpec {
            workspace: Some(format!("ws-{i}")),
            latency_ms: Some(20),
            count: Some(u32::MAX),
            ..Default::default()
        })
        .unwrap();
    }
    let c = http();
    let sample: Vec<usize> = (1..=n).step_by((n / 50).max(1)).collect();
    let started = Instant::now();
    let answers = futures::future::join_all(sample.iter().map(|i| {
        let c = c.clone();
        let host = emu.workspace_host(&format!("ws-{i}"));
        async move { get(&c, format!("{host}/api/2.0/token/list")).await.0 }
    }))
    .await;
    let elapsed = started.elapsed();
    assert!(answers.iter().all(|s| *s == StatusCode::OK), "{answers:?}");
    assert!(elapsed >= Duration::from_millis(70), "{elapsed:?}");
    let journal = emu.requests();
    assert_eq!(journal.len(), sample.len());
    for entry in &journal {
        assert!(entry.duration_ms >= 70, "{entry:?}");
        assert!(entry.fault);
    }
}

/// The most requests the emulator was serving at once, from the journal: each entry's arrival
/// time and duration (server-side, so a request answered and the next one sent after it never
/// overlap).
fn max_overlap(entries: &[brickwarden_emulator::JournalEntry]) -> usize {
    let mut edges: Vec<(i128, i32)> = Vec::new();
    for e in entries {
        let start: jiff::Timestamp = e.timestamp.parse().unwrap();
        let start = start.as_nanosecond();
        let end = start + i128::from(e.duration_ms) * 1_000_000;
        edges.push((start, 1));
        edges.push((end, -1));
    }
    // Ends before starts at the same instant.
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        max = max.max(now);
    }
    max as usize
}

/// Sends `per_workspace` reads to each workspace's own host at once, through clients sharing
/// `options`, and returns the most requests the emulator served at once.
async fn concurrent_reads(
    emu: &Emulator,
    workspaces: usize,
    per_workspace: usize,
    options: brickwarden::clients::ClientOptions,
) -> usize {
    use brickwarden::clients::{Credential, DatabricksClient};
    let clients: Vec<DatabricksClient> = (1..=workspaces)
        .map(|i| {
            let host = url::Url::parse(&emu.workspace_host(&format!("ws-{i}"))).unwrap();
            DatabricksClient::new(
                host,
                Credential::PersonalAccessToken(PAT.to_string().into()),
                options.clone(),
            )
            .unwrap()
        })
        .collect();
    let reads = clients.iter().flat_map(|c| {
        (0..per_workspace).map(move |_| async move { c.read_conf(&["enableIpAccessLists"]).await })
    });
    let results = futures::future::join_all(reads).await;
    assert!(results.iter().all(Result::is_ok));
    let journal = emu.requests();
    assert_eq!(journal.len(), workspaces * per_workspace);
    max_overlap(&journal)
}

#[tokio::test]
async fn the_global_budget_bounds_requests_in_flight_across_hosts() {
    use brickwarden::clients::{ClientOptions, HttpOptions, RateLimit};
    let emu = fleet(12, Duration::from_millis(100)).await;
    let options = |budget: Option<usize>| ClientOptions {
        http: HttpOptions {
            rate_limit: Some(RateLimit {
                requests_per_second: 1000.try_into().unwrap(),
                burst: 1000.try_into().unwrap(),
            }),
            max_in_flight: budget.map(|n| std::sync::Arc::new(tokio::sync::Semaphore::new(n))),
            ..HttpOptions::default()
        },
        ..ClientOptions::default()
    };

    // Unbounded: the per-host limits let every request of the 12 hosts go at once.
    let unbounded = concurrent_reads(&emu, 12, 3, options(None)).await;
    assert!(
        unbounded > 3,
        "without a budget {unbounded} were in flight at most"
    );

    // A budget of 3 shared by the 12 clients: never more than 3 at once, and all 3 used.
    emu.reset();
    let started = Instant::now();
    let bounded = concurrent_reads(&emu, 12, 3, options(Some(3))).await;
    assert_eq!(bounded, 3);
    // 36 requests of at least 100 ms, 3 at a time.
    assert!(started.elapsed() >= Duration::from_millis(1200));
}
