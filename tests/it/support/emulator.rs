//! The emulator's admin API (`/_emulator`) as the tests use it: the request journal, fault
//! injection and state, over HTTP from any emulator (in-process or a `brickwarden emulator`
//! process), and the journal of an in-process emulator read directly.

use std::time::Duration;

use brickwarden_emulator::{Emulator, TENANT_ID};
use reqwest::{Client, Method, RequestBuilder};
use serde::Deserialize;
use serde_json::Value;

/// One entry of the request journal (`GET /_emulator/requests`) as tests compare it:
/// `(workspace, method, path, status)`. The workspace is `ws-N`, `arm`, `aad`, or empty for
/// unknown paths; the path is relative to the service base (`/api/2.0/...`,
/// `/subscriptions/...`, `/{tenant}/oauth2/v2.0/token`).
pub type Entry = (String, String, String, u16);

/// Whether a request changes something: neither a read nor a token exchange (Entra ID, or a
/// workspace's `/oidc/v1/token`).
pub fn is_write((workspace, method, path, _): &Entry) -> bool {
    method != "GET" && workspace != "aad" && !path.ends_with("/oidc/v1/token")
}

/// The fields of a journal entry the tests look at.
#[derive(Deserialize)]
struct Recorded {
    workspace: Option<String>,
    method: String,
    path: String,
    status: u16,
}

/// The journal of an in-process emulator, read without HTTP: the requests to workspace `ws`
/// with a sequence number above `after` (0: all since the journal was last cleared).
pub fn requests_of(emulator: &Emulator, ws: &str, after: u64) -> Vec<Entry> {
    emulator
        .requests()
        .into_iter()
        .filter(|e| e.seq > after && e.workspace.as_deref() == Some(ws))
        .map(|e| (e.workspace.unwrap_or_default(), e.method, e.path, e.status))
        .collect()
}

/// The Entra ID scope of the Azure Databricks resource.
pub const DATABRICKS_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";
/// The Entra ID scope of Azure Resource Manager.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// A client for raw HTTP requests to an emulator (20 s timeout).
pub fn http() -> Client {
    // reqwest needs a rustls provider even for http; harmless when one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// `method {workspace ws's URL}{path}` with bearer `token`.
pub fn ws_request(
    c: &Client,
    emu: &Emulator,
    method: Method,
    ws: &str,
    path: &str,
    token: &str,
) -> RequestBuilder {
    c.request(method, format!("{}{path}", emu.workspace_url(ws)))
        .bearer_auth(token)
}

/// A client-credentials token request to workspace `ws`'s OAuth endpoint (`/oidc/v1/token`,
/// the client in HTTP Basic, scope `all-apis`).
pub fn ws_token_request(
    c: &Client,
    emu: &Emulator,
    ws: &str,
    client_id: &str,
    secret: &str,
) -> RequestBuilder {
    c.post(format!("{}/oidc/v1/token", emu.workspace_url(ws)))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
}

/// A client-credentials token request to Entra ID (tenant [`TENANT_ID`]) for `scope`.
pub fn entra_token_request(
    c: &Client,
    emu: &Emulator,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> RequestBuilder {
    c.post(format!(
        "{}/{TENANT_ID}/oauth2/v2.0/token",
        emu.authority_host()
    ))
    .form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", scope),
    ])
}

/// A client of the admin API of the emulator at `base` (`http://127.0.0.1:PORT`).
#[derive(Clone)]
pub struct Admin {
    base: String,
    http: reqwest::Client,
}

impl Admin {
    pub fn new(base: &str) -> Admin {
        // reqwest needs a rustls provider even for http; harmless when one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Admin {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// `{base}/_emulator/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/_emulator/{path}", self.base)
    }

    /// The journal as the API answers it, one JSON object per request; `query` narrows it
    /// (`?workspace=ws-1`, `?since=SEQ`; empty: every request since the journal was cleared).
    pub async fn journal_json(&self, query: &str) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}{query}", self.url("requests")))
            .send()
            .await
            .expect("GET /_emulator/requests");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let body: Value = response.json().await.expect("the journal is JSON");
        body.as_array().expect("the journal is an array").clone()
    }

    /// Every request since the journal was last cleared, in order.
    pub async fn journal(&self) -> Vec<Entry> {
        self.journal_json("")
            .await
            .into_iter()
            .map(|e| {
                let e: Recorded = serde_json::from_value(e).expect("a journal entry");
                (e.workspace.unwrap_or_default(), e.method, e.path, e.status)
            })
            .collect()
    }

    /// The requests that change something ([`is_write`]).
    pub async fn writes(&self) -> Vec<Entry> {
        let mut journal = self.journal().await;
        journal.retain(is_write);
        journal
    }

    /// The requests that change something, as `(method, path, status)`.
    pub async fn write_calls(&self) -> Vec<(String, String, u16)> {
        self.writes()
            .await
            .into_iter()
            .map(|(_, method, path, status)| (method, path, status))
            .collect()
    }

    /// Statuses of the `method` requests whose path ends with `suffix`.
    pub async fn statuses(&self, method: &str, suffix: &str) -> Vec<u16> {
        self.journal()
            .await
            .into_iter()
            .filter(|(_, m, p, _)| m == method && p.ends_with(suffix))
            .map(|(_, _, _, status)| status)
            .collect()
    }

    /// `DELETE /_emulator/requests`.
    pub async fn clear_journal(&self) {
        let resp = self.http.delete(self.url("requests")).send().await.unwrap();
        assert!(resp.status().is_success());
    }

    /// `POST /_emulator/faults`.
    pub async fn fault(&self, fault: Value) {
        let resp = self
            .http
            .post(self.url("faults"))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "fault rejected: {fault}");
    }

    /// `DELETE /_emulator/faults`.
    pub async fn clear_faults(&self) {
        let resp = self.http.delete(self.url("faults")).send().await.unwrap();
        assert!(resp.status().is_success());
    }

    /// `GET /_emulator/state/{ws}`.
    pub async fn state(&self, ws: &str) -> Value {
        self.http
            .get(self.url(&format!("state/{ws}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `PATCH /_emulator/state/{ws}`: sets state directly, past validation and guards.
    pub async fn patch_state(&self, ws: &str, patch: Value) {
        let resp = self
            .http
            .patch(self.url(&format!("state/{ws}")))
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }
}
