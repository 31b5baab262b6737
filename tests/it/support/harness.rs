//! The harness of the tests that drive brickwarden against an in-process emulator: each test
//! starts its own emulator on a free loopback port, so journals and injected faults never leak
//! between tests.

use std::ops::Deref;
use std::time::Duration;

use brickwarden::api::Mode;
use brickwarden::clients::databricks::{ListType, NewIpAccessList};
use brickwarden::clients::{ClientOptions, Credential, HttpOptions, RateLimit, RetryPolicy};
use brickwarden::controls::ControlResult;
use brickwarden::engine::{Report, Target};
use brickwarden_emulator::{Emulator, EmulatorConfig, TENANT_ID};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::controller::TIMEOUT;
use super::emulator::Admin;
use super::wait_for;

/// An in-process emulator and a client of its admin API; the admin calls (`h.journal()`,
/// `h.fault(..)`, `h.state(..)`, ...) are available on the harness itself.
pub struct Harness {
    pub emulator: Emulator,
    pub admin: Admin,
}

/// A harness whose emulator has the default configuration (PAT `dapi-emulator`, client secret
/// `emulator-secret`, workspaces `ws-1`..`ws-3`).
pub async fn start() -> Harness {
    start_with(EmulatorConfig::default()).await
}

/// A harness whose emulator has `config`.
pub async fn start_with(config: EmulatorConfig) -> Harness {
    let emulator = Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("emulator starts");
    let admin = Admin::new(&emulator.base_url());
    Harness { emulator, admin }
}

/// The PAT the default emulator accepts.
pub const PAT: &str = "dapi-emulator";
/// The client secret the default emulator accepts, for any client id.
pub const CLIENT_SECRET: &str = "emulator-secret";
/// The client id of the tests' service principal.
pub const CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";

/// The tests' service principal with [`CLIENT_SECRET`] in Entra ID (the emulator's tenant).
pub fn azure_secret() -> Credential {
    Credential::AzureClientSecret {
        tenant_id: TENANT_ID.into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    }
}

/// The tests' service principal with [`CLIENT_SECRET`] in Databricks OAuth.
pub fn databricks_oauth() -> Credential {
    Credential::DatabricksOAuth {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    }
}

/// A new IP access list `label` of `list_type` with `addresses`.
pub fn new_list(label: &str, list_type: ListType, addresses: &[&str]) -> NewIpAccessList {
    NewIpAccessList {
        label: label.into(),
        list_type,
        ip_addresses: addresses.iter().map(|a| a.to_string()).collect(),
    }
}

/// The result of control `id` in a pass's report, which must be there.
pub fn control<'a>(report: &'a Report, id: &str) -> &'a ControlResult {
    report
        .controls
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no control {id}: {report:#?}"))
}

/// Just the emulator of [`start_with`], for tests that need no admin client.
pub async fn emulator_with(config: EmulatorConfig) -> Emulator {
    start_with(config).await.emulator
}

/// Client options for the emulator's workspaces with fast retries (4 attempts, 20-100 ms
/// apart) so tests take milliseconds, and no client-side rate limit to speak of.
pub fn fast_options(emulator: &Emulator) -> ClientOptions {
    ClientOptions {
        http: HttpOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(100),
                total_budget: Duration::from_secs(20),
                max_retry_after: Duration::from_secs(5),
            },
            rate_limit: Some(RateLimit {
                requests_per_second: 1000.try_into().unwrap(),
                burst: 1000.try_into().unwrap(),
            }),
            ..HttpOptions::default()
        },
        authority_host: Url::parse(&emulator.authority_host()).unwrap(),
        ..ClientOptions::default()
    }
}

/// An engine target of `policy` (a workspace or an account policy, as JSON) in `mode`, with
/// `protected` as the addresses never to lock out; no exceptions, windows or approvals.
pub fn target<P: DeserializeOwned>(mode: Mode, policy: Value, protected: &[&str]) -> Target<P> {
    let protected: Vec<String> = protected.iter().map(|a| a.to_string()).collect();
    Target {
        policy: serde_json::from_value(policy.clone())
            .unwrap_or_else(|e| panic!("not a policy: {e}\n{policy:#}")),
        mode,
        protected_addresses: brickwarden::controls::access::parse_protected(&protected)
            .expect("protected addresses"),
        private_network: false,
        exceptions: Vec::new(),
        windows: Vec::new(),
        approval_required: false,
        approved_digest: None,
    }
}

impl Harness {
    /// The numeric workspace id of emulator workspace `ws` (`GET /_emulator/workspaces`).
    pub fn workspace_id(&self, ws: &str) -> i64 {
        let list = self.emulator.workspace_list();
        list.as_array()
            .into_iter()
            .flatten()
            .find(|w| w["id"] == ws)
            .and_then(|w| w["workspaceId"].as_i64())
            .unwrap_or_else(|| panic!("no {ws} in the emulator's workspaces: {list:#}"))
    }

    /// Stops the emulator and waits for it.
    pub async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

impl Deref for Harness {
    type Target = Admin;

    fn deref(&self) -> &Admin {
        &self.admin
    }
}

/// A [`Harness`] on a runtime of its own, for the synchronous end-to-end tests (the controller
/// is a child process, the apiserver is driven with kubectl); the emulator is shut down on drop.
pub struct BlockingHarness {
    harness: Option<Harness>,
    pub rt: tokio::runtime::Runtime,
    /// For the controller's own endpoints and the emulator's admin API: they answer at once,
    /// so 10 s means a stuck server.
    http: reqwest::Client,
}

impl BlockingHarness {
    /// An emulator of the default configuration ([`start`]).
    pub fn start() -> BlockingHarness {
        BlockingHarness::start_with(EmulatorConfig::default())
    }

    /// An emulator of `config` ([`start_with`]).
    pub fn start_with(config: EmulatorConfig) -> BlockingHarness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let harness = rt.block_on(start_with(config));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        BlockingHarness {
            harness: Some(harness),
            rt,
            http,
        }
    }

    /// `GET url`: its status and body, `None` when it does not answer.
    pub fn get(&self, url: &str) -> Option<(u16, String)> {
        self.rt.block_on(async {
            let r = self.http.get(url).send().await.ok()?;
            let status = r.status().as_u16();
            Some((status, r.text().await.ok()?))
        })
    }

    /// `GET url`, waiting ([`TIMEOUT`]) for an answer: on a loaded machine one request can time
    /// out.
    pub fn answer(&self, url: &str) -> (u16, String) {
        wait_for(
            TIMEOUT,
            &format!("an answer from {url}"),
            String::new,
            || self.get(url),
        )
    }

    pub fn harness(&self) -> &Harness {
        self.harness.as_ref().expect("emulator")
    }

    pub fn emu(&self) -> &Emulator {
        &self.harness().emulator
    }

    /// The URL of emulator workspace `ws`.
    pub fn ws_url(&self, ws: &str) -> String {
        self.emu().workspace_url(ws)
    }
}

impl Drop for BlockingHarness {
    fn drop(&mut self) {
        if let Some(harness) = self.harness.take() {
            self.rt.block_on(harness.shutdown());
        }
    }
}
