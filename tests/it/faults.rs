//! Failure modes a real network and real token endpoints produce, injected by the emulator
//! (`POST /_emulator/faults`: raw bodies, lost answers after a committed write, connection
//! resets, token endpoint outages and rejections), and what the clients and the engine make of
//! them, asserted request by request on the emulator's journal.

use std::time::{Duration, Instant};

use brickwarden::api::{ControlState, Mode};
use brickwarden::clients::databricks::{ListType, NewIpAccessList, UpdateIpAccessList};
use brickwarden::clients::{ApiError, Credential, DatabricksClient};
use brickwarden::controls::Reason;
use brickwarden::engine::{self, Apply, Connections, Outcome, Target};
use brickwarden_emulator::{Emulator, EmulatorConfig, FaultSpec, JournalEntry};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

use crate::support::emulator::{
    Admin, DATABRICKS_SCOPE, entra_token_request, ws_request, ws_token_request,
};
use crate::support::harness::{
    self, CLIENT_ID, CLIENT_SECRET, PAT, azure_secret, control, databricks_oauth, emulator_with,
    fast_options, new_list,
};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const INVALID_TOKEN: &str = r#"{"error_code": 403, "message": "Invalid access token."}"#;
const SIGN_IN_PAGE: &str = "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><form>...</form></body></html>";

// ---------------------------------------------------------------------------------------------
// Harness

async fn emulator() -> Emulator {
    emulator_with(EmulatorConfig::default()).await
}

fn client(emulator: &Emulator, credential: Credential) -> DatabricksClient {
    DatabricksClient::new(
        Url::parse(&emulator.workspace_url("ws-1")).unwrap(),
        credential,
        fast_options(emulator),
    )
    .unwrap()
}

fn pat() -> Credential {
    Credential::PersonalAccessToken(SecretString::from(PAT))
}

fn fault(emulator: &Emulator, spec: FaultSpec) {
    emulator.inject_fault(spec).unwrap();
}

fn on(workspace: &str, method: &str, path_prefix: &str) -> FaultSpec {
    FaultSpec {
        workspace: Some(workspace.into()),
        method: Some(method.into()),
        path_prefix: Some(path_prefix.into()),
        ..FaultSpec::default()
    }
}

async fn clear_journal(emulator: &Emulator) {
    Admin::new(&emulator.base_url()).clear_journal().await;
}

/// Journal entries of `method` whose service-relative path starts with `prefix`.
fn entries(emulator: &Emulator, method: &str, prefix: &str) -> Vec<JournalEntry> {
    emulator
        .requests()
        .into_iter()
        .filter(|e| e.method == method && e.path.starts_with(prefix))
        .collect()
}

/// Statuses the clients got for `method` on paths starting with `prefix` (0: reset).
fn statuses(emulator: &Emulator, method: &str, prefix: &str) -> Vec<u16> {
    entries(emulator, method, prefix)
        .iter()
        .map(|e| e.status)
        .collect()
}

/// Entra ID token requests (any tenant).
fn entra_token_requests(emulator: &Emulator) -> Vec<u16> {
    emulator
        .requests()
        .into_iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/oauth2/v2.0/token"))
        .map(|e| e.status)
        .collect()
}

fn lists_labelled(emulator: &Emulator, label: &str) -> Vec<Value> {
    let state = emulator.state("ws-1").unwrap();
    let lists = state["ip_access_lists"]
        .as_array()
        .cloned()
        .or_else(|| {
            state["ip_access_lists"]
                .as_object()
                .map(|o| o.values().cloned().collect())
        })
        .unwrap_or_default();
    lists.into_iter().filter(|l| l["label"] == label).collect()
}

fn corp_list() -> NewIpAccessList {
    new_list("corp", ListType::Allow, &["127.0.0.1", "203.0.113.0/24"])
}

// ---------------------------------------------------------------------------------------------
// The emulator's fault kinds over plain HTTP

#[tokio::test]
async fn emulator_answers_raw_bodies_lost_answers_and_resets() {
    let emu = emulator().await;
    let http = reqwest::Client::new();
    let conf = format!(
        "{}/api/2.0/workspace-conf?keys=enableIpAccessLists",
        emu.workspace_url("ws-1")
    );

    // A raw body: an HTML sign-in page answered 200, as a misrouted proxy does.
    fault(
        &emu,
        FaultSpec {
            body: Some(SIGN_IN_PAGE.into()),
            ..on("ws-1", "GET", "/api/2.0/workspace-conf")
        },
    );
    let resp = http.get(&conf).bearer_auth(PAT).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), SIGN_IN_PAGE);

    // A reset: no HTTP answer at all.
    fault(
        &emu,
        FaultSpec {
            reset: true,
            ..on("ws-1", "GET", "/api/2.0/workspace-conf")
        },
    );
    let err = http.get(&conf).bearer_auth(PAT).send().await.unwrap_err();
    assert!(
        !err.is_connect(),
        "the connection was made, then reset: {err:?}"
    );
    assert!(err.status().is_none());
    // The connection pool recovers: the next request is answered.
    let resp = http.get(&conf).bearer_auth(PAT).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // after_handler: the write commits, its answer is a 503.
    fault(
        &emu,
        FaultSpec {
            status: Some(503),
            after_handler: true,
            ..on("ws-1", "PATCH", "/api/2.0/workspace-conf")
        },
    );
    let resp = ws_request(
        &http,
        &emu,
        Method::PATCH,
        "ws-1",
        "/api/2.0/workspace-conf",
        PAT,
    )
    .json(&json!({"enableIpAccessLists": "false"}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        emu.state("ws-1").unwrap()["workspace_conf"]["enableIpAccessLists"],
        "false",
        "the write committed"
    );

    // after_handler + reset on a create: the list exists, the caller heard nothing.
    fault(
        &emu,
        FaultSpec {
            reset: true,
            after_handler: true,
            ..on("ws-1", "POST", "/api/2.0/ip-access-lists")
        },
    );
    let err = ws_request(
        &http,
        &emu,
        Method::POST,
        "ws-1",
        "/api/2.0/ip-access-lists",
        PAT,
    )
    .json(&json!({"label": "corp", "list_type": "ALLOW", "ip_addresses": ["127.0.0.1"]}))
    .send()
    .await
    .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(lists_labelled(&emu, "corp").len(), 1);

    let journal = emu.requests();
    let html = &journal[0];
    assert!(html.fault && !html.reset && html.status == 200);
    let reset = &journal[1];
    assert!(reset.fault && reset.reset && reset.status == 0, "{reset:?}");
    assert_eq!(reset.handled_status, None, "a reset before the handler");
    let lost = journal.iter().find(|e| e.method == "PATCH").unwrap();
    assert_eq!((lost.status, lost.handled_status), (503, Some(204)));
    let created = journal.iter().find(|e| e.method == "POST").unwrap();
    assert_eq!(
        (created.status, created.handled_status, created.reset),
        (0, Some(200), true)
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn emulator_token_endpoints_take_faults() {
    let emu = emulator().await;
    let http = reqwest::Client::new();
    // Entra ID: the OAuth error envelope.
    fault(
        &emu,
        FaultSpec {
            workspace: Some("aad".into()),
            path_prefix: Some(format!("/{TENANT}/oauth2/v2.0/token")),
            status: Some(503),
            retry_after_seconds: Some(0),
            ..FaultSpec::default()
        },
    );
    let resp = entra_token_request(&http, &emu, CLIENT_ID, CLIENT_SECRET, DATABRICKS_SCOPE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    // Databricks OAuth: the OAuth envelope too, not the REST API's.
    fault(
        &emu,
        FaultSpec {
            status: Some(401),
            ..on("ws-1", "POST", "/oidc/v1/token")
        },
    );
    let resp = ws_token_request(&http, &emu, "ws-1", CLIENT_ID, CLIENT_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    // A reset of a token request.
    fault(
        &emu,
        FaultSpec {
            reset: true,
            ..on("ws-1", "POST", "/oidc/v1/token")
        },
    );
    let err = ws_token_request(&http, &emu, "ws-1", CLIENT_ID, CLIENT_SECRET)
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn issued_token_lifetime_is_kept_to_the_millisecond() {
    // A one-second token is good for a whole second after it is issued, whenever in the
    // second that happens (it used to expire at the next whole second, possibly 1 ms later).
    let emu = emulator_with(EmulatorConfig {
        token_lifetime: Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let me = format!("{}/api/2.0/preview/scim/v2/Me", emu.workspace_url("ws-1"));
    for _ in 0..3 {
        let token: Value = ws_token_request(&http, &emu, "ws-1", CLIENT_ID, CLIENT_SECRET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let issued = Instant::now();
        let access = token["access_token"].as_str().unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let resp = http.get(&me).bearer_auth(access).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{:?} after issue", issued.elapsed());
        tokio::time::sleep(Duration::from_millis(600)).await;
        let resp = http.get(&me).bearer_auth(access).send().await.unwrap();
        assert_eq!(
            resp.status(),
            403,
            "expired {:?} after issue",
            issued.elapsed()
        );
    }
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Clients: answers that are not what they claim

#[tokio::test]
async fn non_json_answers_are_named_decode_errors_without_retries() {
    let emu = emulator().await;
    let client = client(&emu, pat());

    // An HTML sign-in page with status 200 (a proxy or Private Link misroute).
    fault(
        &emu,
        FaultSpec {
            body: Some(SIGN_IN_PAGE.into()),
            count: Some(10),
            ..on("ws-1", "GET", "/api/2.0/workspace-conf")
        },
    );
    let err = client.get_conf(&["enableIpAccessLists"]).await.unwrap_err();
    assert!(matches!(err, ApiError::Decode { .. }), "{err:?}");
    assert_eq!(err.endpoint(), Some("/api/2.0/workspace-conf"));
    let text = err.to_string();
    assert!(text.contains("/api/2.0/workspace-conf"), "{text}");
    assert!(text.contains("expected JSON, got text/html"), "{text}");
    assert!(
        !text.contains("Sign in"),
        "the page stays out of the error: {text}"
    );
    assert!(!err.is_transient() && !err.is_unauthenticated());
    assert_eq!(
        statuses(&emu, "GET", "/api/2.0/workspace-conf"),
        vec![200],
        "a decode error is not retried"
    );

    // Truncated JSON, labelled JSON.
    fault(
        &emu,
        FaultSpec {
            body: Some(r#"{"ip_access_lists": [{"list_id": "abc", "lab"#.into()),
            content_type: Some("application/json".into()),
            count: Some(10),
            ..on("ws-1", "GET", "/api/2.0/ip-access-lists")
        },
    );
    let err = client.list_ip_access_lists().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ApiError::Decode { .. }), "{err:?}");
    assert!(text.contains("/api/2.0/ip-access-lists"), "{text}");
    assert!(text.contains("truncated JSON (application/json)"), "{text}");
    assert_eq!(statuses(&emu, "GET", "/api/2.0/ip-access-lists"), vec![200]);
    emu.shutdown().await;
}

#[tokio::test]
async fn engine_reports_a_non_json_answer_as_a_failed_control_naming_the_endpoint() {
    let emu = emulator().await;
    fault(
        &emu,
        FaultSpec {
            body: Some(SIGN_IN_PAGE.into()),
            count: Some(100),
            ..on("ws-1", "GET", "/api/2.0/workspace-conf")
        },
    );
    let report = engine::reconcile(
        &target(
            Mode::Enforce,
            json!({"workspaceConf": {"exportNotebook": false, "webTerminal": false}}),
        ),
        &connections(&emu, pat()),
        Apply::Enforce,
    )
    .await;
    for id in [
        "workspaceConf/enableExportNotebook",
        "workspaceConf/enableWebTerminal",
    ] {
        let control = control(&report, id);
        assert_eq!(control.state, ControlState::Failed, "{control:?}");
        let message = control.message.as_deref().unwrap_or_default();
        assert!(
            message.contains("/api/2.0/workspace-conf") && message.contains("text/html"),
            "{control:?}"
        );
    }
    assert!(!report.authentication_failed());
    let reads = statuses(&emu, "GET", "/api/2.0/workspace-conf");
    assert!(
        !reads.is_empty() && reads.len() <= 2,
        "one batched read (and at most one more): {reads:?}"
    );
    assert!(
        entries(&emu, "PATCH", "/api/2.0/workspace-conf").is_empty(),
        "nothing written on a read that failed"
    );
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Clients and engine: lost answers and resets

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_repeated_by_the_client() {
    let emu = emulator().await;
    let client = client(&emu, pat());
    for (lost, label) in [
        (
            FaultSpec {
                status: Some(503),
                after_handler: true,
                ..on("ws-1", "POST", "/api/2.0/ip-access-lists")
            },
            "lost-503",
        ),
        (
            FaultSpec {
                reset: true,
                after_handler: true,
                ..on("ws-1", "POST", "/api/2.0/ip-access-lists")
            },
            "lost-reset",
        ),
    ] {
        clear_journal(&emu).await;
        fault(&emu, lost);
        let err = client
            .create_ip_access_list(&NewIpAccessList {
                label: label.into(),
                ..corp_list()
            })
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        let posts = entries(&emu, "POST", "/api/2.0/ip-access-lists");
        assert_eq!(posts.len(), 1, "a POST is not retried blindly: {posts:?}");
        assert_eq!(posts[0].handled_status, Some(200), "the create committed");
        assert_eq!(lists_labelled(&emu, label).len(), 1);
    }
    emu.shutdown().await;
}

fn ip_policy() -> Value {
    json!({"ipAccessLists": {"enabled": true, "management": "Additive", "lists": [
        {"label": "ctl", "type": "ALLOW", "addresses": ["127.0.0.1", "203.0.113.0/24"]}]}})
}

#[tokio::test]
async fn engine_resolves_a_lost_create_by_reading_the_lists_again() {
    for lost in [
        FaultSpec {
            status: Some(503),
            after_handler: true,
            ..on("ws-1", "POST", "/api/2.0/ip-access-lists")
        },
        FaultSpec {
            reset: true,
            after_handler: true,
            ..on("ws-1", "POST", "/api/2.0/ip-access-lists")
        },
    ] {
        let emu = emulator().await;
        let t = target(Mode::Enforce, ip_policy());
        let c = connections(&emu, pat());
        fault(&emu, lost.clone());
        let report = engine::reconcile(&t, &c, Apply::Enforce).await;
        assert_eq!(
            lists_labelled(&emu, "ctl").len(),
            1,
            "{lost:?}: exactly one list"
        );
        let posts = entries(&emu, "POST", "/api/2.0/ip-access-lists");
        assert_eq!(posts.len(), 1, "{posts:?}");
        assert_eq!(posts[0].handled_status, Some(200));
        // The lists were read again right after the lost answer...
        let after_post: Vec<_> = emu
            .requests()
            .into_iter()
            .skip_while(|e| e.method != "POST")
            .skip(1)
            .collect();
        assert_eq!(
            (after_post[0].method.as_str(), after_post[0].path.as_str()),
            ("GET", "/api/2.0/ip-access-lists"),
            "{after_post:?}"
        );
        // ...so the pass went on and converged.
        for id in ["ipAccessLists/list/ctl", "ipAccessLists/enabled"] {
            assert_eq!(
                control(&report, id).state,
                ControlState::Remediated,
                "{lost:?} {id}: {report:#?}"
            );
        }
        assert_eq!(
            emu.state("ws-1").unwrap()["workspace_conf"]["enableIpAccessLists"],
            "true"
        );

        // A second pass finds everything in place and creates nothing.
        clear_journal(&emu).await;
        let again = engine::reconcile(&t, &c, Apply::Enforce).await;
        assert!(again.executed.is_empty(), "{:#?}", again.executed);
        assert!(entries(&emu, "POST", "/").is_empty());
        assert_eq!(lists_labelled(&emu, "ctl").len(), 1);
        assert!(!again.drifted(), "{again:#?}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn resets_of_idempotent_writes_are_retried_with_backoff() {
    let emu = emulator().await;
    let client = client(&emu, pat());
    let list = client.create_ip_access_list(&corp_list()).await.unwrap();
    let list_path = format!("/api/2.0/ip-access-lists/{}", list.list_id);

    // PATCH workspace-conf: two resets before the handler, then served.
    fault(
        &emu,
        FaultSpec {
            reset: true,
            count: Some(2),
            ..on("ws-1", "PATCH", "/api/2.0/workspace-conf")
        },
    );
    let started = Instant::now();
    client
        .set_conf(&[("enableExportNotebook".to_string(), "false".to_string())].into())
        .await
        .unwrap();
    let patches = entries(&emu, "PATCH", "/api/2.0/workspace-conf");
    assert_eq!(
        patches
            .iter()
            .map(|e| (e.status, e.reset))
            .collect::<Vec<_>>(),
        vec![(0, true), (0, true), (204, false)],
        "{patches:?}"
    );
    eprintln!("two resets, then served, in {:?}", started.elapsed());

    // PUT: the answer of a committed replace is lost in a reset; the replace is repeated.
    fault(
        &emu,
        FaultSpec {
            reset: true,
            after_handler: true,
            ..on("ws-1", "PUT", &list_path)
        },
    );
    client
        .replace_ip_access_list(
            &list.list_id,
            &brickwarden::clients::databricks::ReplaceIpAccessList {
                label: "corp".into(),
                list_type: ListType::Allow,
                ip_addresses: vec!["127.0.0.1".into()],
                enabled: true,
            },
        )
        .await
        .unwrap();
    let puts = entries(&emu, "PUT", &list_path);
    assert_eq!(
        puts.iter()
            .map(|e| (e.status, e.handled_status))
            .collect::<Vec<_>>(),
        vec![(0, Some(200)), (200, None)],
        "{puts:?}"
    );

    // PATCH of a list, then DELETE: resets retried until the attempts run out (4).
    fault(
        &emu,
        FaultSpec {
            reset: true,
            ..on("ws-1", "PATCH", &list_path)
        },
    );
    client
        .update_ip_access_list(
            &list.list_id,
            &UpdateIpAccessList {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(statuses(&emu, "PATCH", &list_path), vec![0, 200]);
    fault(
        &emu,
        FaultSpec {
            reset: true,
            count: Some(10),
            ..on("ws-1", "DELETE", &list_path)
        },
    );
    let err = client
        .delete_ip_access_list(&list.list_id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Transport { connect: false, .. }),
        "{err:?}"
    );
    assert_eq!(
        statuses(&emu, "DELETE", &list_path),
        vec![0; 4],
        "max_attempts = 4"
    );
    clear_faults(&emu).await;
    client.delete_ip_access_list(&list.list_id).await.unwrap();
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Token endpoints failing, tokens refused

/// A token good for 5 s is due for refresh 0.5 s before it expires (10% of its lifetime). In
/// that half second a failing token endpoint is bridged by the cached token; once the token has
/// expired, the failure is an authentication failure.
async fn failing_token_endpoint_falls_back_to_the_cached_token(
    credential: Credential,
    token_fault: FaultSpec,
    token_path: &str,
) {
    const LIFETIME: Duration = Duration::from_secs(5);
    let emu = emulator_with(EmulatorConfig {
        token_lifetime: LIFETIME,
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu, credential);
    let token_requests = || statuses(&emu, "POST", token_path);
    let obtained = Instant::now();
    client.list_ip_access_lists().await.unwrap();
    assert_eq!(token_requests(), vec![200]);

    // Into the refresh window, with the token still valid for ~0.4 s.
    tokio::time::sleep_until((obtained + Duration::from_millis(4_600)).into()).await;
    // An outage (503 until the retries run out), then a rejection of the credential.
    fault(
        &emu,
        FaultSpec {
            status: Some(503),
            retry_after_seconds: Some(0),
            count: Some(4),
            ..token_fault.clone()
        },
    );
    client.list_ip_access_lists().await.unwrap();
    fault(
        &emu,
        FaultSpec {
            status: Some(401),
            count: Some(100),
            ..token_fault.clone()
        },
    );
    client.list_ip_access_lists().await.unwrap();
    assert!(
        obtained.elapsed() < LIFETIME,
        "the cached token was still valid: the test ran late ({:?})",
        obtained.elapsed()
    );
    assert_eq!(
        token_requests(),
        vec![200, 503, 503, 503, 503, 401],
        "each call in the window tries to refresh once (with retries on 503)"
    );
    assert_eq!(
        statuses(&emu, "GET", "/api/2.0/ip-access-lists"),
        vec![200, 200, 200],
        "the cached token was used"
    );

    // Expired: no token to fall back on.
    tokio::time::sleep_until((obtained + LIFETIME + Duration::from_millis(200)).into()).await;
    let err = client.list_ip_access_lists().await.unwrap_err();
    assert!(err.is_unauthenticated(), "{err:?}");
    assert!(matches!(err, ApiError::Auth { .. }), "{err:?}");
    assert_eq!(
        statuses(&emu, "GET", "/api/2.0/ip-access-lists").len(),
        3,
        "no request without a token"
    );

    // The endpoint is back: a new token.
    clear_faults(&emu).await;
    client.list_ip_access_lists().await.unwrap();
    assert_eq!(token_requests().last(), Some(&200));
    emu.shutdown().await;
}

#[tokio::test]
async fn failing_entra_token_endpoint_falls_back_to_the_cached_token() {
    failing_token_endpoint_falls_back_to_the_cached_token(
        azure_secret(),
        FaultSpec {
            workspace: Some("aad".into()),
            method: Some("POST".into()),
            path_prefix: Some(format!("/{TENANT}/oauth2/v2.0/token")),
            ..FaultSpec::default()
        },
        &format!("/{TENANT}/oauth2/v2.0/token"),
    )
    .await;
}

#[tokio::test]
async fn failing_databricks_oidc_token_endpoint_falls_back_to_the_cached_token() {
    failing_token_endpoint_falls_back_to_the_cached_token(
        databricks_oauth(),
        on("ws-1", "POST", "/oidc/v1/token"),
        "/oidc/v1/token",
    )
    .await;
}

#[tokio::test]
async fn invalid_access_token_answer_refreshes_the_token_once() {
    let emu = emulator().await;
    let client = client(&emu, azure_secret());
    client.list_ip_access_lists().await.unwrap();
    let invalid = |count| FaultSpec {
        status: Some(403),
        body: Some(INVALID_TOKEN.into()),
        content_type: Some("application/json".into()),
        count: Some(count),
        ..on("ws-1", "GET", "/api/2.0/ip-access-lists")
    };

    // Once: the token is dropped, a new one fetched, the request repeated.
    fault(&emu, invalid(1));
    client.list_ip_access_lists().await.unwrap();
    assert_eq!(entra_token_requests(&emu), vec![200, 200]);
    assert_eq!(
        statuses(&emu, "GET", "/api/2.0/ip-access-lists"),
        vec![200, 403, 200]
    );

    // Again and again: one refresh, then unauthenticated (no loop, no retries).
    clear_journal(&emu).await;
    fault(&emu, invalid(100));
    let err = client.list_ip_access_lists().await.unwrap_err();
    assert!(err.is_unauthenticated(), "{err:?}");
    assert_eq!(err.status(), Some(403));
    assert_eq!(entra_token_requests(&emu), vec![200], "exactly one refresh");
    assert_eq!(
        statuses(&emu, "GET", "/api/2.0/ip-access-lists"),
        vec![403, 403]
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn engine_pass_whose_every_read_is_refused_is_an_authentication_failure() {
    // The token endpoint rejects the credential (a rotated client secret).
    let emu = emulator().await;
    fault(
        &emu,
        FaultSpec {
            status: Some(401),
            count: Some(1000),
            ..on("ws-1", "POST", "/oidc/v1/token")
        },
    );
    let report = engine::reconcile(
        &target(Mode::Enforce, policy()),
        &connections(&emu, databricks_oauth()),
        Apply::Enforce,
    )
    .await;
    assert!(report.authentication_failed(), "{report:#?}");
    assert!(report.executed.is_empty());
    assert!(
        emu.requests().iter().all(|e| e.path == "/oidc/v1/token"),
        "no API request without a token"
    );

    // Every API answer is the gateway's 403 Invalid access token (a revoked PAT).
    let emu2 = emulator().await;
    fault(
        &emu2,
        FaultSpec {
            workspace: Some("ws-1".into()),
            path_prefix: Some("/api/".into()),
            status: Some(403),
            body: Some(INVALID_TOKEN.into()),
            content_type: Some("application/json".into()),
            count: Some(1000),
            ..FaultSpec::default()
        },
    );
    let report = engine::reconcile(
        &target(Mode::Enforce, policy()),
        &connections(&emu2, pat()),
        Apply::Enforce,
    )
    .await;
    assert!(report.authentication_failed(), "{report:#?}");
    assert!(emu2.requests().iter().all(|e| e.method == "GET"));
    emu.shutdown().await;
    emu2.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Engine: a failed write stops the IP access steps that depend on it

#[tokio::test]
async fn failed_list_create_stops_the_enable_and_the_next_pass_converges() {
    let emu = emulator().await;
    let t = target(Mode::Enforce, ip_policy());
    let c = connections(&emu, pat());
    // More 500s than any retry policy makes: the create fails, nothing is committed.
    fault(
        &emu,
        FaultSpec {
            status: Some(500),
            count: Some(50),
            ..on("ws-1", "POST", "/api/2.0/ip-access-lists")
        },
    );
    let report = engine::reconcile(&t, &c, Apply::Enforce).await;
    assert_eq!(
        statuses(&emu, "POST", "/api/2.0/ip-access-lists"),
        vec![500],
        "a create is not retried on a 500"
    );
    let ctl = control(&report, "ipAccessLists/list/ctl");
    assert_eq!(ctl.state, ControlState::Failed, "{ctl:?}");
    // The enable is blocked, not attempted: the control says why (its reason is the status
    // condition's RemediationBlocked, its message the engine's DependsOnFailedAction).
    let enabled = control(&report, "ipAccessLists/enabled");
    assert_eq!(enabled.state, ControlState::Failed, "{enabled:?}");
    assert_eq!(
        enabled.reason.map(|r| r.as_str()),
        Some("RemediationBlocked"),
        "{enabled:?}"
    );
    assert!(
        enabled
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("DependsOnFailedAction:"),
        "{enabled:?}"
    );
    let blocked: Vec<_> = report
        .executed
        .iter()
        .filter(|r| {
            matches!(
                &r.outcome,
                Outcome::Blocked {
                    reason: Reason::DependsOnFailedAction,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(blocked.len(), 1, "{:#?}", report.executed);
    assert!(
        blocked[0].description.contains("enableIpAccessLists"),
        "{blocked:?}"
    );
    assert_ne!(enabled.state, ControlState::Remediated);
    assert!(
        entries(&emu, "PATCH", "/api/2.0/workspace-conf").is_empty(),
        "enableIpAccessLists was not attempted"
    );
    assert!(lists_labelled(&emu, "ctl").is_empty());
    assert_ne!(
        emu.state("ws-1").unwrap()["workspace_conf"]["enableIpAccessLists"],
        "true"
    );

    // The fault is gone: the next pass converges, in the safe order.
    clear_faults(&emu).await;
    clear_journal(&emu).await;
    let report = engine::reconcile(&t, &c, Apply::Enforce).await;
    for id in ["ipAccessLists/list/ctl", "ipAccessLists/enabled"] {
        assert_eq!(control(&report, id).state, ControlState::Remediated, "{id}");
    }
    let writes: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|e| e.method != "GET")
        .map(|e| (e.method, e.path))
        .collect();
    assert_eq!(
        writes,
        vec![
            ("POST".to_string(), "/api/2.0/ip-access-lists".to_string()),
            ("PATCH".to_string(), "/api/2.0/workspace-conf".to_string()),
        ]
    );
    assert_eq!(lists_labelled(&emu, "ctl").len(), 1);
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Engine helpers

async fn clear_faults(emulator: &Emulator) {
    Admin::new(&emulator.base_url()).clear_faults().await;
}

fn connections(emulator: &Emulator, credential: Credential) -> Connections {
    Connections {
        databricks: client(emulator, credential),
        arm: None,
        azure_resource_id: None,
    }
}

/// A target of `policy` in `mode` that protects the tests' own address.
fn target(mode: Mode, policy: Value) -> Target {
    harness::target(mode, policy, &["127.0.0.1"])
}

fn policy() -> Value {
    json!({
        "workspaceConf": {"exportNotebook": false},
        "ipAccessLists": {"enabled": true, "management": "Additive", "lists": [
            {"label": "ctl", "type": "ALLOW", "addresses": ["127.0.0.1"]}]},
        "tokens": {"enabled": true, "maxLifetimeDays": 90}
    })
}
