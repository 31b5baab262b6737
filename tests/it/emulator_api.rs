//! HTTP-level tests of the emulator: admin API (faults, latency, journal, state dump, direct
//! state changes), token expiry, IP access list enforcement, error envelopes and shutdown.

use std::time::{Duration, Instant};

use brickwarden_emulator::{Emulator, EmulatorConfig, FaultSpec, TENANT_ID, summary};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::emulator::{
    ARM_SCOPE, Admin, DATABRICKS_SCOPE, entra_token_request, http, ws_request, ws_token_request,
};
use crate::support::harness::emulator_with;

const PAT: &str = "dapi-api-test";
const SECRET: &str = "api-test-secret";

/// Three workspaces, with this file's PAT and client secret.
fn config() -> EmulatorConfig {
    EmulatorConfig {
        workspaces: 3,
        token: PAT.into(),
        client_secret: SECRET.into(),
        ..EmulatorConfig::default()
    }
}

async fn start(token_lifetime: Duration) -> Emulator {
    emulator_with(EmulatorConfig {
        token_lifetime,
        ..config()
    })
    .await
}

/// Sends `request` and returns the status and the JSON body (a string if it is not JSON).
async fn call(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    json_of(request.send().await.unwrap()).await
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

async fn ws_get(
    c: &reqwest::Client,
    emu: &Emulator,
    ws: &str,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    call(ws_request(c, emu, Method::GET, ws, path, token)).await
}

/// `{arm_url}{resource id of ws}?api-version=...`: workspace `ws` in ARM.
fn arm_resource_url(emu: &Emulator, ws: &str) -> String {
    format!(
        "{}{}?api-version=2026-01-01",
        emu.arm_url(),
        emu.arm_resource_id(ws)
    )
}

async fn journal(emu: &Emulator, query: &str) -> Vec<Value> {
    Admin::new(&emu.base_url()).journal_json(query).await
}

#[tokio::test]
async fn injected_429_carries_retry_after_then_requests_succeed() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let (status, fault) = call(
c.post(format!("{}/_emulator/faults", emu.base_url()))
            .json(&json!({"workspace": "ws-1", "path_prefix": "/api/2.0/ip-access-lists", "status": 429, "count": 2, "retry_after_seconds": 7})),
)
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(fault["remaining"], 2);

    for _ in 0..2 {
        let resp = c
            .get(format!(
                "{}/api/2.0/ip-access-lists",
                emu.workspace_url("ws-1")
            ))
            .bearer_auth(PAT)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "7");
        let (_, body) = json_of(resp).await;
        assert_eq!(body["error_code"], "REQUEST_LIMIT_EXCEEDED");
        assert!(body["message"].is_string());
    }
    // Other workspaces and paths were never affected; the fault is used up.
    let (status, _) = ws_get(&c, &emu, "ws-3", "/api/2.0/ip-access-lists", PAT).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ws_get(&c, &emu, "ws-1", "/api/2.0/ip-access-lists", PAT).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ip_access_lists": []}));

    let entries = journal(&emu, "?workspace=ws-1").await;
    let statuses: Vec<u64> = entries
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    assert_eq!(entries[0]["fault"], true);
    assert_eq!(entries[2]["fault"], false);

    // 503 on ARM uses the ARM envelope; faults can be listed and cleared.
    emu.inject_fault(FaultSpec {
        workspace: Some("arm".into()),
        status: Some(503),
        ..Default::default()
    })
    .unwrap();
    let (_, faults) = call(c.get(format!("{}/_emulator/faults", emu.base_url()))).await;
    assert_eq!(faults.as_array().unwrap().len(), 1);
    let resp = c.get(arm_resource_url(&emu, "ws-1")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "1");
    let (_, body) = json_of(resp).await;
    assert_eq!(body["error"]["code"], "ServiceUnavailable");

    emu.inject_fault(FaultSpec {
        status: Some(500),
        count: Some(5),
        ..Default::default()
    })
    .unwrap();
    let resp = c
        .delete(format!("{}/_emulator/faults", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, _) = ws_get(&c, &emu, "ws-1", "/api/2.0/ip-access-lists", PAT).await;
    assert_eq!(status, StatusCode::OK);

    // A fault without status or latency is refused.
    let resp = c
        .post(format!("{}/_emulator/faults", emu.base_url()))
        .json(&json!({"workspace": "ws-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    emu.shutdown().await;
}

#[tokio::test]
async fn injected_latency_delays_without_changing_the_answer() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let resp = c
        .post(format!("{}/_emulator/faults", emu.base_url()))
        .json(&json!({"workspace": "ws-2", "path_prefix": "/api/2.0/workspace-conf", "latency_ms": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let conf = "/api/2.0/workspace-conf?keys=enableTokensConfig";
    let started = Instant::now();
    let (status, body) = ws_get(&c, &emu, "ws-2", conf, PAT).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"enableTokensConfig": null}));
    let started = Instant::now();
    ws_get(&c, &emu, "ws-2", conf, PAT).await;
    assert!(started.elapsed() < Duration::from_millis(400));
    let entries = journal(&emu, "").await;
    assert!(entries[0]["duration_ms"].as_u64().unwrap() >= 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn journal_records_requests_in_order_without_secrets() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    ws_get(&c, &emu, "ws-1", "/api/2.0/token/list", PAT).await;
    let resp = ws_request(
        &c,
        &emu,
        Method::PATCH,
        "ws-1",
        "/api/2.0/workspace-conf",
        PAT,
    )
    .json(&json!({"enableExportNotebook": "false"}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = entra_token_request(&c, &emu, "ci", SECRET, ARM_SCOPE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    ws_get(&c, &emu, "ws-1", "/api/2.0/token/list", "wrong-token").await;
    c.get(format!("{}/_emulator/state/ws-1", emu.base_url()))
        .send()
        .await
        .unwrap();

    let entries = journal(&emu, "").await;
    let summary: Vec<(String, String, String, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["workspace"].as_str().unwrap_or("-").to_string(),
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "ws-1".into(),
                "GET".into(),
                "/api/2.0/token/list".into(),
                200
            ),
            (
                "ws-1".into(),
                "PATCH".into(),
                "/api/2.0/workspace-conf".into(),
                204
            ),
            (
                "aad".into(),
                "POST".into(),
                format!("/{TENANT_ID}/oauth2/v2.0/token"),
                200
            ),
            (
                "ws-1".into(),
                "GET".into(),
                "/api/2.0/token/list".into(),
                403
            ),
        ]
    );
    assert_eq!(entries[0]["principal"], "admin@example.com");
    assert_eq!(entries[0]["full_path"], "/ws/ws-1/api/2.0/token/list");
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let raw = c
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains(PAT) && !raw.contains(SECRET) && !raw.contains("wrong-token"));

    assert_eq!(journal(&emu, &format!("?since={}", seqs[2])).await.len(), 1);
    assert_eq!(journal(&emu, "?workspace=aad").await.len(), 1);
    let resp = c
        .delete(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(journal(&emu, "").await.is_empty());
    assert!(emu.requests().is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn state_dump_has_every_family_and_no_token_values() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let (status, created) = call(
        ws_request(&c, &emu, Method::POST, "ws-1", "/api/2.0/token/create", PAT)
            .json(&json!({"comment": "dump", "lifetime_seconds": 600})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let value = created["token_value"].as_str().unwrap().to_string();
    let (status, dump) = call(c.get(format!("{}/_emulator/state/ws-1", emu.base_url()))).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "workspace",
        "workspace_id",
        "url",
        "sku",
        "ip_access_lists",
        "workspace_conf",
        "tokens",
        "token_permissions",
        "settings",
        "secret_scopes",
        "arm",
        "diagnostic_settings",
        "principals",
    ] {
        assert!(dump.get(key).is_some(), "state dump lacks {key}");
    }
    assert_eq!(dump["tokens"].as_array().unwrap().len(), 3);
    assert!(!dump.to_string().contains(&value));
    assert_eq!(
        dump["settings"]["restrict_workspace_admins"]["restrict_workspace_admins"]["status"],
        "ALLOW_ALL"
    );
    assert_eq!(dump["secret_scopes"][0]["name"], "etl");
    assert_eq!(dump["arm"]["sku"]["name"], "premium");
    assert_eq!(emu.state("ws-2").unwrap()["sku"], "standard");
    assert_eq!(emu.state("ws-3").unwrap()["sku"], "premium");
    assert!(emu.state("ws-9").is_none());
    let (status, all) = call(c.get(format!("{}/_emulator/state", emu.base_url()))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_object().unwrap().len(), 3);
    let (status, _) = call(c.get(format!("{}/_emulator/state/ws-9", emu.base_url()))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, info) = call(c.get(format!("{}/_emulator", emu.base_url()))).await;
    assert_eq!(info["workspaces"][0]["url"], emu.workspace_url("ws-1"));
    assert_eq!(info["arm_url"], emu.arm_url());
    emu.shutdown().await;
}

#[tokio::test]
async fn issued_tokens_expire() {
    let emu = start(Duration::from_secs(1)).await;
    let c = http();
    let (status, token) = call(ws_token_request(&c, &emu, "ws-1", "ci-client", SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 1);
    assert_eq!(token["scope"], "all-apis");
    let access = token["access_token"].as_str().unwrap().to_string();
    let (status, me) = ws_get(&c, &emu, "ws-1", "/api/2.0/preview/scim/v2/Me", &access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["userName"], "ci-client");

    let (status, arm_token) = call(entra_token_request(
        &c,
        &emu,
        "ci-client",
        SECRET,
        ARM_SCOPE,
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let arm_access = arm_token["access_token"].as_str().unwrap().to_string();
    let arm_url = arm_resource_url(&emu, "ws-2");
    let resp = c
        .get(&arm_url)
        .bearer_auth(&arm_access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = ws_get(&c, &emu, "ws-1", "/api/2.0/preview/scim/v2/Me", &access).await;
    // An expired token: the gateway's 403 with a numeric code.
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error_code": 403, "message": "Invalid access token."})
    );
    let (status, body) = call(c.get(&arm_url).bearer_auth(&arm_access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
    // The PAT never expires.
    let (status, _) = ws_get(&c, &emu, "ws-1", "/api/2.0/preview/scim/v2/Me", PAT).await;
    assert_eq!(status, StatusCode::OK);
    emu.shutdown().await;
}

#[tokio::test]
async fn locked_out_caller_gets_403_and_admin_api_recovers() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let (status, _) = call(
        c.patch(format!("{}/_emulator/state/ws-1", emu.base_url()))
            .json(&json!({
                "workspace_conf": {"enableIpAccessLists": "true"},
                "ip_access_lists": [
                    {"label": "corp", "list_type": "ALLOW", "ip_addresses": ["203.0.113.0/24"]}
                ]
            })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Blocked before authentication, like the real service.
    for token in [PAT, "no-such-token"] {
        let (status, body) = ws_get(&c, &emu, "ws-1", "/api/2.0/ip-access-lists", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error_code"], 403);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("127.0.0.1 is blocked")
        );
    }
    let (status, _) = ws_get(&c, &emu, "ws-3", "/api/2.0/ip-access-lists", PAT).await;
    assert_eq!(status, StatusCode::OK);
    let resp = c
        .post(format!("{}/_emulator/reset", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, _) = ws_get(&c, &emu, "ws-1", "/api/2.0/ip-access-lists", PAT).await;
    assert_eq!(status, StatusCode::OK);
    emu.shutdown().await;
}

#[tokio::test]
async fn error_envelopes() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let (status, body) = ws_get(&c, &emu, "ws-1", "/api/2.0/token/list", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error_code": 401, "message": "Credential was not sent or was of an unsupported type for this API."})
    );
    let (status, body) = ws_get(&c, &emu, "ws-1", "/api/2.0/token/list", "dapi-wrong").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error_code"], 403);
    // Premium-only APIs on the Standard workspace (ws-2).
    for path in [
        "/api/2.0/ip-access-lists",
        "/api/2.0/permissions/authorization/tokens",
        "/api/2.0/secrets/acls/list?scope=etl",
        "/api/2.0/settings/types/restrict_workspace_admins/names/default",
    ] {
        let (status, body) = ws_get(&c, &emu, "ws-2", path, PAT).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error_code"], "FEATURE_DISABLED", "{path}");
    }
    let resp = c
        .get(format!("{}/api/2.0/token/list", emu.workspace_url("ws-1")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = ws_get(&c, &emu, "ws-1", "/api/2.0/no-such-api", PAT).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND");
    assert_eq!(
        body["message"],
        "No API found for 'GET /api/2.0/no-such-api'"
    );
    let (status, body) = call(
        c.delete(format!(
            "{}/api/2.0/workspace-conf",
            emu.workspace_url("ws-1")
        ))
        .bearer_auth(PAT),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error_code"].is_string());
    let (status, body) = ws_get(&c, &emu, "ws-9", "/api/2.0/token/list", PAT).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    let (status, body) = call(
        c.post(format!(
            "{}/api/2.0/ip-access-lists",
            emu.workspace_url("ws-1")
        ))
        .bearer_auth(PAT)
        .header("content-type", "application/json")
        .body("{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "MALFORMED_REQUEST");
    let (status, body) = call(c.get(format!("{}/nowhere", emu.base_url()))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND");
    // Public discovery endpoints need no token.
    let (status, meta) = call(c.get(format!(
        "{}/.well-known/databricks-config",
        emu.workspace_url("ws-2")
    )))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        meta["oidc_endpoint"],
        format!("{}/oidc", emu.workspace_url("ws-2"))
    );
    let (status, oidc) = call(c.get(format!(
        "{}/oidc/.well-known/oauth-authorization-server",
        emu.workspace_url("ws-2")
    )))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        oidc["token_endpoint"],
        format!("{}/oidc/v1/token", emu.workspace_url("ws-2"))
    );
    // OAuth errors use the OAuth envelope.
    let (status, body) = call(ws_token_request(&c, &emu, "ws-1", "ci", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    emu.shutdown().await;
}

#[tokio::test]
async fn workspace_list_names_hosts_ids_and_tiers() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let (_, listed) = call(c.get(format!("{}/_emulator/workspaces", emu.base_url()))).await;
    assert_eq!(listed, emu.workspace_list());
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], "ws-1");
    // `host` is the workspace's own address (a port of its own), not the path-prefixed URL.
    assert_eq!(items[0]["host"], emu.workspace_host("ws-1"));
    assert_ne!(items[0]["host"], emu.workspace_url("ws-1"));
    assert!(items[0]["workspaceId"].is_u64());
    assert_eq!(items[0]["azureResourceId"], emu.arm_resource_id("ws-1"));
    let tiers: Vec<&str> = items.iter().map(|w| w["sku"].as_str().unwrap()).collect();
    assert_eq!(tiers, ["premium", "standard", "premium"]);
}

#[tokio::test]
async fn arm_put_is_a_long_running_operation() {
    let emu = start(Duration::from_secs(3600)).await;
    let c = http();
    let token = access_token(entra_token_request(&c, &emu, "arm-test", SECRET, ARM_SCOPE)).await;
    let url = arm_resource_url(&emu, "ws-1");
    let (_, mut res) = call(c.get(&url).bearer_auth(&token)).await;
    res["properties"]["publicNetworkAccess"] = json!("Disabled");
    let resp = c
        .put(&url)
        .bearer_auth(&token)
        .json(&res)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let async_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(resp.headers()["retry-after"], "1");
    let (_, body) = json_of(resp).await;
    assert_eq!(body["properties"]["provisioningState"], "Updating");
    // While it runs: InProgress, 202 on Location, 409 for another write.
    let (_, op) = call(c.get(&async_url).bearer_auth(&token)).await;
    assert_eq!(op["status"], "InProgress");
    let (status, _) = call(c.get(&location).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, err) = call(c.put(&url).bearer_auth(&token).json(&res)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "Conflict");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, op) = call(c.get(&async_url).bearer_auth(&token)).await;
    assert_eq!(op["status"], "Succeeded");
    let (status, done) = call(c.get(&location).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["properties"]["provisioningState"], "Succeeded");
    assert_eq!(done["properties"]["publicNetworkAccess"], "Disabled");
    assert_eq!(
        emu.state("ws-1").unwrap()["arm"]["properties"]["provisioningState"],
        "Succeeded"
    );
}

#[tokio::test]
async fn shutdown_is_graceful_and_summary_lists_urls() {
    let emu = start(Duration::from_secs(3600)).await;
    let text = summary(&emu);
    assert!(text.contains(&emu.workspace_url("ws-1")));
    assert!(text.contains(&emu.arm_url()));
    assert!(text.contains("/_emulator/requests"));
    assert!(!text.contains(PAT) && !text.contains(SECRET));
    assert_eq!(emu.workspaces(), vec!["ws-1", "ws-2", "ws-3"]);
    assert_eq!(
        emu.arm_resource_id("ws-2"),
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws-2"
    );
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(emu.authority_host(), format!("{}/aad", emu.base_url()));
    let addr = emu.addr();
    emu.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

// --- the account API (`{base}/accounts`) ----------------------------------------------------

async fn start_account(cloud: brickwarden_emulator::Cloud) -> Emulator {
    let config = EmulatorConfig {
        cloud,
        regions: vec![(
            2,
            match cloud {
                brickwarden_emulator::Cloud::Azure => "northeurope",
                brickwarden_emulator::Cloud::Aws => "us-west-2",
            }
            .to_string(),
        )],
        workspace_hosts: false,
        ..config()
    };
    emulator_with(config).await
}

const ACCOUNT: &str = brickwarden_emulator::DEFAULT_ACCOUNT_ID;

fn account_api(emu: &Emulator, rest: &str) -> String {
    format!(
        "{}/accounts/api/2.0/accounts/{ACCOUNT}{rest}",
        emu.base_url()
    )
}

/// An account OAuth token for client `client_id` (client credentials in HTTP Basic, as the
/// SDKs send them).
async fn account_token(c: &reqwest::Client, emu: &Emulator, client_id: &str) -> String {
    access_token(account_token_request(c, emu, client_id)).await
}

/// The account's client-credentials token request for `client_id`.
fn account_token_request(
    c: &reqwest::Client,
    emu: &Emulator,
    client_id: &str,
) -> reqwest::RequestBuilder {
    c.post(format!(
        "{}/accounts/oidc/accounts/{ACCOUNT}/v1/token",
        emu.base_url()
    ))
    .basic_auth(client_id, Some(SECRET))
    .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
}

async fn entra_token(c: &reqwest::Client, emu: &Emulator) -> String {
    access_token(entra_token_request(
        c,
        emu,
        "entra-app",
        SECRET,
        DATABRICKS_SCOPE,
    ))
    .await
}

/// The access token a token `request` answers with, which must succeed.
async fn access_token(request: reqwest::RequestBuilder) -> String {
    let (status, body) = call(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn account_requests_are_journaled_and_faultable_as_service_account() {
    let emu = start_account(brickwarden_emulator::Cloud::Azure).await;
    let c = http();
    let token = account_token(&c, &emu, "acct-client").await;
    let (status, body) = call(
        c.get(account_api(&emu, "/ip-access-lists"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ip_access_lists": []}));

    let entries = journal(&emu, "?workspace=account").await;
    let seen: Vec<(&str, &str, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let token_path = format!("/oidc/accounts/{ACCOUNT}/v1/token");
    let lists_path = format!("/api/2.0/accounts/{ACCOUNT}/ip-access-lists");
    assert_eq!(
        seen,
        [
            ("POST", token_path.as_str(), 200),
            ("GET", lists_path.as_str(), 200)
        ]
    );
    assert_eq!(entries[1]["principal"], "acct-client");
    assert_eq!(
        entries[1]["full_path"],
        format!("/accounts/api/2.0/accounts/{ACCOUNT}/ip-access-lists")
    );
    let raw = serde_json::to_string(&entries).unwrap();
    assert!(!raw.contains(&token) && !raw.contains(SECRET));

    // A fault naming the account hits account requests only, with the Databricks envelope.
    let admin = Admin::new(&emu.base_url());
    admin
        .fault(json!({"workspace": "account", "path_prefix": "/api/2.0/accounts", "status": 503, "count": 1}))
        .await;
    let (status, _) = ws_get(&c, &emu, "ws-1", "/api/2.0/ip-access-lists", PAT).await;
    assert_eq!(status, StatusCode::OK);
    let resp = c
        .get(account_api(&emu, "/network-policies"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "1");
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE");
    let (status, _) = call(
        c.get(account_api(&emu, "/network-policies"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let faulted: Vec<Value> = journal(&emu, "?workspace=account")
        .await
        .into_iter()
        .filter(|e| e["fault"] == true)
        .collect();
    assert_eq!(faulted.len(), 1);
    assert_eq!(faulted[0]["status"], 503);

    // The account token endpoint answers a fault with the OAuth envelope.
    admin
        .fault(json!({"workspace": "account", "path_prefix": "/oidc/", "status": 429, "count": 1}))
        .await;
    let (status, body) = call(account_token_request(&c, &emu, "acct-client")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn account_api_takes_account_oauth_and_entra_tokens_never_pats() {
    let emu = start_account(brickwarden_emulator::Cloud::Azure).await;
    let c = http();
    let url = account_api(&emu, "/workspaces");
    // No credentials, and a PAT (the configured one or one created in a workspace): 401.
    let (status, body) = call(c.get(&url)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_code"], 401);
    let (status, body) = call(c.get(&url).bearer_auth(PAT)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Personal access tokens are not supported"),
        "{body}"
    );
    let (status, created) = call(
        ws_request(&c, &emu, Method::POST, "ws-1", "/api/2.0/token/create", PAT)
            .json(&json!({"comment": "ci", "lifetime_seconds": 3600})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        c.get(&url)
            .bearer_auth(created["token_value"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A workspace's own OAuth token is not an account credential.
    let (status, ws_token) = call(ws_token_request(&c, &emu, "ws-1", "acct-client", SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        c.get(&url)
            .bearer_auth(ws_token["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error_code": 403, "message": "Invalid access token."})
    );
    // Account OAuth and, on Azure, Entra ID tokens are.
    let token = account_token(&c, &emu, "acct-client").await;
    let (status, listed) = call(c.get(&url).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let regions: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["location"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["westeurope", "northeurope", "westeurope"]);
    let entra = entra_token(&c, &emu).await;
    let (status, _) = call(c.get(&url).bearer_auth(&entra)).await;
    assert_eq!(status, StatusCode::OK);
    // Another account's id in the path: not found.
    let (status, _) = call(
        c.get(format!(
            "{}/accounts/api/2.0/accounts/someone-else/workspaces",
            emu.base_url()
        ))
        .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // On AWS, Entra ID tokens mean nothing to the account.
    let aws = start_account(brickwarden_emulator::Cloud::Aws).await;
    let entra = entra_token(&c, &aws).await;
    let (status, _) = call(c.get(account_api(&aws, "/workspaces")).bearer_auth(&entra)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let token = account_token(&c, &aws, "acct-client").await;
    let (status, listed) = call(c.get(account_api(&aws, "/workspaces")).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["aws_region"], "us-east-1");
    assert_eq!(listed[1]["aws_region"], "us-west-2");
    assert!(listed[0].get("location").is_none());
}

#[tokio::test]
async fn account_state_dump_and_private_endpoint_approval() {
    let emu = start_account(brickwarden_emulator::Cloud::Azure).await;
    let c = http();
    let token = account_token(&c, &emu, "acct-client").await;
    let (status, ncc) = call(
        c.post(account_api(&emu, "/network-connectivity-configs"))
            .bearer_auth(&token)
            .json(&json!({"name": "ncc-weu", "region": "westeurope"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ncc}");
    let ncc_id = ncc["network_connectivity_config_id"].as_str().unwrap();
    let (status, rule) = call(
        c.post(account_api(
            &emu,
            &format!("/network-connectivity-configs/{ncc_id}/private-endpoint-rules"),
        ))
        .bearer_auth(&token)
        .json(&json!({"resource_id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake", "group_id": "blob"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!(rule["connection_state"], "PENDING");
    let rule_id = rule["rule_id"].as_str().unwrap();

    let approve = |state: &'static str, id: String| {
        let c = c.clone();
        let base = emu.base_url();
        async move {
            call(
                c.post(format!(
                    "{base}/_emulator/account/private-endpoint-rules/{id}"
                ))
                .json(&json!({"connection_state": state})),
            )
            .await
        }
    };
    let (status, body) = approve("APPROVED", rule_id.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = approve("ESTABLISHED", "no-such-rule".to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = approve("ESTABLISHED", rule_id.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["connection_state"], "ESTABLISHED");
    // The admin API is not journaled; the approval shows through the account API.
    assert!(
        journal(&emu, "")
            .await
            .iter()
            .all(|e| !e["full_path"].as_str().unwrap().starts_with("/_emulator"))
    );

    let state = Admin::new(&emu.base_url()).state("account").await;
    assert_eq!(state["account_id"], ACCOUNT);
    assert_eq!(state["cloud"], "azure");
    assert_eq!(
        state["private_endpoint_rules"][0]["connection_state"],
        "ESTABLISHED"
    );
    assert_eq!(
        state["network_connectivity_configs"][0]["network_connectivity_config_id"],
        ncc_id
    );
    assert_eq!(
        state["network_policies"][0]["network_policy_id"],
        "default-policy"
    );
    let settings: Vec<&String> = state["settings"].as_object().unwrap().keys().collect();
    assert_eq!(
        settings,
        [
            "acct_ip_acl_enable",
            "dcp_acct_enable",
            "disable_legacy_features",
            "shield_csp_enablement_ac",
            "shield_esm_enablement_ac"
        ]
    );
    assert_eq!(state["workspaces"].as_array().unwrap().len(), 3);
    assert_eq!(state["workspaces"][1]["location"], "northeurope");
    assert_eq!(
        state["workspace_network_options"][0]["network_policy_id"],
        "default-policy"
    );
    assert!(!state.to_string().contains(&token));
    // /_emulator/workspaces tells each workspace's region and numeric id.
    let listed = emu.workspace_list();
    assert_eq!(listed[1]["region"], "northeurope");
    assert_eq!(
        listed[1]["workspaceId"],
        state["workspaces"][1]["workspace_id"]
    );

    // Reset seeds the account again.
    emu.reset();
    let state = Admin::new(&emu.base_url()).state("account").await;
    assert_eq!(state["network_connectivity_configs"], json!([]));
    assert_eq!(state["private_endpoint_rules"], json!([]));
}
