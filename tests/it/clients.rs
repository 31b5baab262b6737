//! Integration tests of `brickwarden::clients` against the in-process emulator.
//!
//! Each test starts its own emulator on an ephemeral port, so journals and injected faults
//! never leak between tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brickwarden::clients::arm::{ArmClient, PollOptions, WorkspaceUpdate};
use brickwarden::clients::databricks::{
    AccessControlRequest, AclPermission, ListType, ReplaceIpAccessList, SettingType, SettingValue,
    UpdateIpAccessList,
};
use brickwarden::clients::{
    ApiError, ClientOptions, Credential, DatabricksClient, RateLimit, RequestLabels,
    RequestObserver,
};
use brickwarden_emulator::EmulatorConfig;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::support;
use crate::support::harness::{
    CLIENT_ID, CLIENT_SECRET, PAT, azure_secret, databricks_oauth, new_list,
};

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
/// A syntactically valid (unsigned) JWT, as kubelet would project.
const FAKE_SA_JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZSIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpicmlja3dhcmRlbjpicmlja3dhcmRlbiIsImF1ZCI6WyJhcGk6Ly9BenVyZUFEVG9rZW5FeGNoYW5nZSJdfQ.c2lnbmF0dXJl";

// ---------------------------------------------------------------------------------------------
// Harness

/// Records what the clients report to their observer.
#[derive(Default)]
struct Recorder {
    responses: Mutex<Vec<(&'static str, &'static str, Option<u16>)>>,
    retries: Mutex<Vec<(&'static str, &'static str, String)>>,
}

impl RequestObserver for Recorder {
    fn on_response(&self, request: RequestLabels<'_>, status: Option<u16>, _elapsed: Duration) {
        assert_eq!(
            request.host, "127.0.0.1",
            "the emulator's host is the label"
        );
        self.responses
            .lock()
            .unwrap()
            .push((request.service, request.endpoint, status));
    }

    fn on_retry(&self, request: RequestLabels<'_>, reason: &str) {
        self.retries
            .lock()
            .unwrap()
            .push((request.service, request.endpoint, reason.to_string()));
    }
}

impl Recorder {
    fn retry_reasons(&self) -> Vec<String> {
        self.retries
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.2.clone())
            .collect()
    }
}

/// The shared harness, with what the clients built from [`Harness::options`] report.
struct Harness {
    shared: support::harness::Harness,
    recorder: Arc<Recorder>,
}

impl std::ops::Deref for Harness {
    type Target = support::harness::Harness;

    fn deref(&self) -> &Self::Target {
        &self.shared
    }
}

/// Every test's logs, at TRACE: the whole suite's output is checked for secrets.
static LOGS: std::sync::LazyLock<LogBuffer> = std::sync::LazyLock::new(LogBuffer::default);

/// Installs a process-wide subscriber once. A global one, not a per-test `set_default`:
/// tracing caches callsite interest process-wide, so a thread-local subscriber misses events
/// whose callsites another test's thread registered first.
fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(LOGS.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
    });
}

async fn start(config: EmulatorConfig) -> Harness {
    capture_logs();
    Harness {
        shared: support::harness::start_with(config).await,
        recorder: Arc::new(Recorder::default()),
    }
}

async fn start_default() -> Harness {
    start(EmulatorConfig::default()).await
}

impl Harness {
    /// Fast retries so tests take milliseconds, not the production seconds; what the clients
    /// do is reported to the recorder.
    fn options(&self) -> ClientOptions {
        let mut options = support::harness::fast_options(&self.emulator);
        options.http.observer = self.recorder.clone();
        options
    }

    fn workspace_url(&self, ws: &str) -> Url {
        url(&self.emulator.workspace_url(ws))
    }

    fn databricks(&self, credential: Credential) -> DatabricksClient {
        DatabricksClient::new(self.workspace_url("ws-1"), credential, self.options()).unwrap()
    }

    fn pat_client(&self) -> DatabricksClient {
        self.databricks(Credential::PersonalAccessToken(PAT.into()))
    }

    fn arm(&self, credential: Credential) -> ArmClient {
        ArmClient::new(url(&self.emulator.arm_url()), credential, self.options()).unwrap()
    }
}

fn url(s: &impl ToString) -> Url {
    Url::parse(&s.to_string()).unwrap()
}

fn workload_identity(file: &std::path::Path) -> Credential {
    Credential::AzureWorkloadIdentity {
        tenant_id: TENANT.into(),
        client_id: CLIENT_ID.into(),
        token_file: file.to_path_buf(),
    }
}

/// Reads one thing from every API family the controller observes.
async fn observe_all(client: &DatabricksClient) {
    client.list_ip_access_lists().await.unwrap();
    let conf = client
        .get_conf(&["enableIpAccessLists", "maxTokenLifetimeDays"])
        .await
        .unwrap();
    assert_eq!(conf.len(), 2);
    client.list_tokens().await.unwrap();
    client.get_token_permissions().await.unwrap();
    for t in SettingType::ALL {
        let s = client.get_setting(t).await.unwrap();
        assert_eq!(s.setting_type(), t);
    }
    client.list_secret_scopes().await.unwrap();
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "secret {s:?} leaked into: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Auth flows

#[tokio::test]
async fn pat_reads_every_api_family() {
    let h = start_default().await;
    let client = h.pat_client();
    observe_all(&client).await;

    // Metrics labels are templates, never concrete ids or query strings.
    let responses = h.recorder.responses.lock().unwrap().clone();
    assert!(!responses.is_empty());
    for (service, endpoint, status) in &responses {
        assert_eq!(*service, "databricks");
        assert!(endpoint.starts_with("/api/"), "{endpoint}");
        assert!(!endpoint.contains('?'), "{endpoint}");
        assert_eq!(*status, Some(200), "{endpoint}");
    }
    assert!(
        responses
            .iter()
            .any(|r| r.1 == "/api/2.0/settings/types/{setting_type}/names/default")
    );
    assert!(
        responses
            .iter()
            .all(|r| !r.1.contains("restrict_workspace_admins"))
    );
}

#[tokio::test]
async fn databricks_oauth_m2m_obtains_data() {
    let h = start_default().await;
    let client = h.databricks(databricks_oauth());
    observe_all(&client).await;
    let token_calls = h.statuses("POST", "/oidc/v1/token").await;
    assert_eq!(
        token_calls,
        vec![200],
        "one token exchange, cached afterwards"
    );
    let services: Vec<_> = h
        .recorder
        .responses
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0)
        .collect();
    assert!(services.contains(&"databricks-oidc"));
}

#[tokio::test]
async fn entra_client_secret_obtains_databricks_and_arm_data() {
    let h = start_default().await;
    let client = h.databricks(azure_secret());
    observe_all(&client).await;

    let arm = h.arm(azure_secret());
    let ws = arm
        .get_workspace(&h.emulator.arm_resource_id("ws-1"))
        .await
        .unwrap();
    assert_eq!(ws.name.as_deref(), Some("ws-1"));
    assert!(ws.raw.get("properties").is_some());

    // One token per scope: Databricks and ARM.
    let token_calls = h.statuses("POST", "/oauth2/v2.0/token").await;
    assert_eq!(token_calls, vec![200, 200]);
}

#[tokio::test]
async fn entra_workload_identity_reads_the_token_file() {
    let h = start_default().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, format!("{FAKE_SA_JWT}\n")).unwrap();

    let client = h.databricks(workload_identity(&file));
    client.list_ip_access_lists().await.unwrap();
    let arm = h.arm(workload_identity(&file));
    arm.get_workspace(&h.emulator.arm_resource_id("ws-1"))
        .await
        .unwrap();

    // A missing file is a typed authentication error, not a panic or a transport error.
    let missing = h.databricks(workload_identity(&dir.path().join("absent")));
    let err = missing.list_ip_access_lists().await.unwrap_err();
    assert!(err.is_unauthenticated(), "{err:?}");
}

#[tokio::test]
async fn wrong_client_secret_is_an_auth_error_without_the_secret() {
    let h = start_default().await;
    let wrong = "not-the-emulator-secret";
    let client = h.databricks(Credential::AzureClientSecret {
        tenant_id: TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret: wrong.into(),
    });
    let err = client.list_ip_access_lists().await.unwrap_err();
    assert!(err.is_unauthenticated(), "{err:?}");
    assert!(matches!(err, ApiError::Auth { .. }), "{err:?}");
    assert_no_secret(&format!("{err} {err:?}"), &[wrong]);
}

#[tokio::test]
async fn bad_pat_is_typed_unauthenticated() {
    let h = start_default().await;
    let bad = "dapi-wrong-token-0000";
    let client = h.databricks(Credential::PersonalAccessToken(bad.into()));
    let err = client.list_ip_access_lists().await.unwrap_err();
    // The workspace gateway answers an invalid token with 403 `Invalid access token.`
    // (numeric error_code), which is an authentication failure, not a permission one.
    assert!(err.is_unauthenticated(), "{err:?}");
    assert!(!err.is_permission_denied(), "{err:?}");
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.service(), Some("databricks"));
    assert_no_secret(&format!("{err} {err:?}"), &[bad, PAT]);
    // A PAT cannot be refreshed: exactly one attempt.
    assert_eq!(
        h.statuses("GET", "/api/2.0/ip-access-lists").await,
        vec![403]
    );
}

#[tokio::test]
async fn arm_rejects_databricks_only_credentials() {
    let h = start_default().await;
    let err = ArmClient::new(
        url(&h.emulator.arm_url()),
        Credential::PersonalAccessToken(PAT.into()),
        h.options(),
    )
    .unwrap_err();
    assert!(err.is_unauthenticated());
}

// ---------------------------------------------------------------------------------------------
// Token lifecycle

#[tokio::test]
async fn short_lived_tokens_are_refreshed() {
    let h = start(EmulatorConfig {
        token_lifetime: Duration::from_secs(2),
        ..EmulatorConfig::default()
    })
    .await;
    let client = h.databricks(azure_secret());
    client.list_ip_access_lists().await.unwrap();
    client.list_ip_access_lists().await.unwrap();
    assert_eq!(h.statuses("POST", "/oauth2/v2.0/token").await.len(), 1);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    client.list_ip_access_lists().await.unwrap();
    assert_eq!(
        h.statuses("POST", "/oauth2/v2.0/token").await.len(),
        2,
        "expired token replaced before use"
    );
    // No request was sent with the expired token.
    assert!(
        h.statuses("GET", "/api/2.0/ip-access-lists")
            .await
            .iter()
            .all(|s| *s == 200)
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let h = start_default().await;
    let client = h.databricks(databricks_oauth());
    let calls = (0..8).map(|_| {
        let c = client.clone();
        async move { c.list_ip_access_lists().await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(h.statuses("POST", "/oidc/v1/token").await.len(), 1);
}

#[tokio::test]
async fn unauthorized_oauth_token_is_refreshed_once() {
    let h = start_default().await;
    let client = h.databricks(azure_secret());
    client.list_ip_access_lists().await.unwrap();
    h.fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/ip-access-lists", "status": 401, "count": 1}))
        .await;
    client.list_ip_access_lists().await.unwrap();
    assert_eq!(
        h.statuses("POST", "/oauth2/v2.0/token").await.len(),
        2,
        "a 401 drops the cached token"
    );
    assert_eq!(
        h.statuses("GET", "/api/2.0/ip-access-lists").await,
        vec![200, 401, 200]
    );
}

// ---------------------------------------------------------------------------------------------
// Retries

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let h = start_default().await;
    let client = h.pat_client();
    h.fault(json!({
        "workspace": "ws-1", "path_prefix": "/api/2.0/workspace-conf",
        "status": 429, "count": 1, "retry_after_seconds": 1
    }))
    .await;
    let started = Instant::now();
    client.get_conf(&["enableIpAccessLists"]).await.unwrap();
    let elapsed = started.elapsed();
    eprintln!("429 with Retry-After: 1 -> success after {elapsed:?}");
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "waited {elapsed:?}");
    assert_eq!(
        h.statuses("GET", "/api/2.0/workspace-conf").await,
        vec![429, 200]
    );
    assert_eq!(h.recorder.retry_reasons(), vec!["status 429"]);
}

#[tokio::test]
async fn retries_on_503_and_500() {
    let h = start_default().await;
    let client = h.pat_client();
    for status in [503, 500] {
        h.clear_journal().await;
        h.fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/token-management/tokens", "status": status, "count": 2}))
            .await;
        client.list_tokens().await.unwrap();
        assert_eq!(
            h.statuses("GET", "/api/2.0/token-management/tokens").await,
            vec![status, status, 200]
        );
    }
}

#[tokio::test]
async fn retries_after_a_timeout() {
    let h = start_default().await;
    let mut options = h.options();
    options.http.request_timeout = Duration::from_millis(500);
    let client = DatabricksClient::new(
        h.workspace_url("ws-1"),
        Credential::PersonalAccessToken(PAT.into()),
        options,
    )
    .unwrap();
    h.fault(json!({
        "workspace": "ws-1", "path_prefix": "/api/2.0/secrets/scopes/list",
        "count": 1, "latency_ms": 1500
    }))
    .await;
    let started = Instant::now();
    client.list_secret_scopes().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(h.recorder.retry_reasons(), vec!["timeout"]);
    let responses = h.recorder.responses.lock().unwrap().clone();
    assert_eq!(
        responses.first().map(|r| r.2),
        Some(None),
        "timed-out attempt has no status"
    );
    assert_eq!(responses.last().map(|r| r.2), Some(Some(200)));
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_typed_error() {
    let h = start_default().await;
    let client = h.pat_client();
    h.fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/ip-access-lists", "status": 503, "count": 100}))
        .await;
    let err = client.list_ip_access_lists().await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert!(err.error_code().is_some(), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.endpoint(), Some("/api/2.0/ip-access-lists"));
    assert_eq!(
        h.statuses("GET", "/api/2.0/ip-access-lists").await,
        vec![503; 4],
        "max_attempts = 4"
    );
}

#[tokio::test]
async fn creates_are_not_retried_on_server_errors() {
    let h = start_default().await;
    let client = h.pat_client();
    h.fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/ip-access-lists", "status": 503, "count": 1}))
        .await;
    let err = client
        .create_ip_access_list(&new_list("corp", ListType::Allow, &["127.0.0.1"]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        h.statuses("POST", "/api/2.0/ip-access-lists").await,
        vec![503]
    );
}

#[tokio::test]
async fn per_host_rate_limit_spaces_requests() {
    let h = start(EmulatorConfig {
        workspaces: 3,
        ..EmulatorConfig::default()
    })
    .await;
    let mut options = h.options();
    options.http.rate_limit = Some(RateLimit {
        requests_per_second: 10.try_into().unwrap(),
        burst: 2.try_into().unwrap(),
    });
    // Two separately built clients of the same host (different workspaces) share one bucket.
    let client = |ws: &str| {
        DatabricksClient::new(
            h.workspace_url(ws),
            Credential::PersonalAccessToken(PAT.into()),
            options.clone(),
        )
        .unwrap()
    };
    // Two Premium workspaces (ws-2 is the Standard one, without IP access lists).
    let (a, b) = (client("ws-1"), client("ws-3"));
    let started = Instant::now();
    for i in 0..6 {
        let client = if i % 2 == 0 { &a } else { &b };
        client.list_ip_access_lists().await.unwrap();
    }
    let elapsed = started.elapsed();
    // Burst 2, then one request per 100 ms: 4 more need at least ~400 ms.
    assert!(elapsed >= Duration::from_millis(350), "{elapsed:?}");
    eprintln!("6 requests at 10 rps burst 2 took {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------
// Typed endpoints

#[tokio::test]
async fn ip_access_list_lifecycle() {
    let h = start_default().await;
    let client = h.pat_client();
    let created = client
        .create_ip_access_list(&new_list(
            "corp-vpn",
            ListType::Allow,
            &["127.0.0.1", "203.0.113.0/24"],
        ))
        .await
        .unwrap();
    assert!(!created.list_id.is_empty());
    assert_eq!(created.list_type, ListType::Allow);

    let id = created.list_id.as_str();
    client
        .replace_ip_access_list(
            id,
            &ReplaceIpAccessList {
                label: "corp-vpn".into(),
                list_type: ListType::Allow,
                ip_addresses: vec!["127.0.0.0/8".into()],
                enabled: true,
            },
        )
        .await
        .unwrap();
    client
        .update_ip_access_list(
            id,
            &UpdateIpAccessList {
                label: Some("corp".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = client.get_ip_access_list(id).await.unwrap();
    assert_eq!(got.label, "corp");
    assert_eq!(got.ip_addresses, vec!["127.0.0.0/8"]);

    // Enabling lists now is safe: 127.0.0.1 is allowed.
    client
        .set_conf(&BTreeMap::from([(
            "enableIpAccessLists".to_string(),
            "true".to_string(),
        )]))
        .await
        .unwrap();
    let conf = client.get_conf(&["enableIpAccessLists"]).await.unwrap();
    assert_eq!(conf["enableIpAccessLists"].as_deref(), Some("true"));

    // Narrowing the only ALLOW list away from the caller is refused with INVALID_STATE.
    let err = client
        .update_ip_access_list(
            id,
            &UpdateIpAccessList {
                ip_addresses: Some(vec!["203.0.113.0/24".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_state(), "{err:?}");

    client
        .set_conf(&BTreeMap::from([(
            "enableIpAccessLists".to_string(),
            "false".to_string(),
        )]))
        .await
        .unwrap();
    client.delete_ip_access_list(id).await.unwrap();
    let err = client.get_ip_access_list(id).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn unknown_conf_key_is_a_typed_error() {
    let h = start_default().await;
    let err = h
        .pat_client()
        .get_conf(&["enableIpAccessLists", "noSuchKey"])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("Invalid keys"), "{err}");
}

#[tokio::test]
async fn settings_update_with_etag_and_conflict_on_stale_etag() {
    let h = start_default().await;
    let client = h.pat_client();
    let t = SettingType::AutomaticClusterUpdate;
    let mut setting = client.get_setting(t).await.unwrap();
    let stale = setting.clone();
    let mask = setting.set_value(&SettingValue::switch(t, true)).unwrap();
    let updated = client.update_setting(t, &setting, &mask).await.unwrap();
    assert_eq!(updated.value().is_on(), Some(true));
    assert_ne!(updated.etag(), stale.etag());

    let mut stale = stale;
    let mask = stale.set_value(&SettingValue::switch(t, false)).unwrap();
    let err = client.update_setting(t, &stale, &mask).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");

    for t in [
        SettingType::RestrictWorkspaceAdmins,
        SettingType::EnhancedSecurityMonitoring,
        SettingType::DisableLegacyDbfs,
        SettingType::ComplianceSecurityProfile,
    ] {
        let mut s = client.get_setting(t).await.unwrap();
        let mask = s.set_value(&SettingValue::switch(t, true)).unwrap();
        let s = client.update_setting(t, &s, &mask).await.unwrap();
        assert_eq!(s.value().is_on(), Some(true), "{t}");
        assert_eq!(
            client.get_setting(t).await.unwrap().value().is_on(),
            Some(true)
        );
    }
}

#[tokio::test]
async fn tokens_and_permissions() {
    let h = start_default().await;
    let client = h.pat_client();
    let created = client
        .create_token(Some("it"), Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(!created.token_value.expose_secret().is_empty());
    assert_no_secret(
        &format!("{created:?}"),
        &[created.token_value.expose_secret()],
    );
    let tokens = client.list_tokens().await.unwrap();
    assert!(
        tokens
            .iter()
            .any(|t| t.token_id == created.token_info.token_id)
    );
    client
        .delete_token(&created.token_info.token_id)
        .await
        .unwrap();
    let tokens = client.list_tokens().await.unwrap();
    assert!(
        !tokens
            .iter()
            .any(|t| t.token_id == created.token_info.token_id)
    );

    let perms = client
        .update_token_permissions(&[AccessControlRequest::group("users", "CAN_USE")])
        .await
        .unwrap();
    assert!(
        perms
            .access_control_list
            .iter()
            .any(|a| a.group_name.as_deref() == Some("users"))
    );
    // A PUT replaces the list; it must keep the admins' CAN_MANAGE, which the service refuses
    // to drop.
    let perms = client
        .set_token_permissions(&[AccessControlRequest::group("admins", "CAN_MANAGE")])
        .await
        .unwrap();
    assert!(
        !perms
            .access_control_list
            .iter()
            .any(|a| a.group_name.as_deref() == Some("users")
                && a.all_permissions.iter().any(|p| p.inherited == Some(false)))
    );
}

#[tokio::test]
async fn secret_acls() {
    let h = start_default().await;
    let client = h.pat_client();
    let scopes = client.list_secret_scopes().await.unwrap();
    let Some(scope) = scopes.first() else {
        panic!("emulator seeds at least one secret scope");
    };
    let scope = scope.name.clone();
    client
        .put_secret_acl(&scope, "data-engineers", AclPermission::Read)
        .await
        .unwrap();
    let acls = client.list_secret_acls(&scope).await.unwrap();
    assert!(
        acls.iter()
            .any(|a| a.principal == "data-engineers" && a.permission == AclPermission::Read)
    );
    client
        .delete_secret_acl(&scope, "data-engineers")
        .await
        .unwrap();
    let acls = client.list_secret_acls(&scope).await.unwrap();
    assert!(!acls.iter().any(|a| a.principal == "data-engineers"));
}

#[tokio::test]
async fn arm_workspace_get_put_and_diagnostic_settings() {
    let h = start_default().await;
    let arm = h.arm(azure_secret());
    let id = h.emulator.arm_resource_id("ws-1");
    let ws = arm.get_workspace(&id).await.unwrap();

    let mut raw = ws.raw.clone();
    raw["properties"]["publicNetworkAccess"] = json!("Disabled");
    raw["properties"]["requiredNsgRules"] = json!("NoAzureDatabricksRules");
    let put = arm.put_workspace(&id, &raw).await.unwrap();
    assert_eq!(put.public_network_access.as_deref(), Some("Disabled"));
    let again = arm.get_workspace(&id).await.unwrap();
    assert_eq!(again.public_network_access.as_deref(), Some("Disabled"));

    let setting = json!({"properties": {
        "workspaceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la",
        "logs": [{"category": "accounts", "enabled": true}, {"category": "secrets", "enabled": true}]
    }});
    let d = arm
        .put_diagnostic_setting(&id, "brickwarden", &setting)
        .await
        .unwrap();
    assert_eq!(d.logs.len(), 2);
    let d = arm
        .get_diagnostic_setting(&id, "brickwarden")
        .await
        .unwrap();
    assert!(d.workspace_id.is_some_and(|w| w.ends_with("/la")));
    let all = arm.list_diagnostic_settings(&id).await.unwrap();
    assert!(all.iter().any(|d| d.name.as_deref() == Some("brickwarden")));
    arm.delete_diagnostic_setting(&id, "brickwarden")
        .await
        .unwrap();
    let err = arm
        .get_diagnostic_setting(&id, "brickwarden")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    let err = arm
        .get_workspace(&id.replace("ws-1", "no-such-ws"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.service(), Some("arm"));
}

#[tokio::test]
async fn workspaces_are_isolated_by_path_prefix() {
    let h = start(EmulatorConfig {
        workspaces: 3,
        ..EmulatorConfig::default()
    })
    .await;
    let ws1 = h.pat_client();
    // ws-3, not the Standard-tier ws-2, which has no IP access lists.
    let ws2 = DatabricksClient::new(
        h.workspace_url("ws-3"),
        Credential::PersonalAccessToken(PAT.into()),
        h.options(),
    )
    .unwrap();
    ws1.create_ip_access_list(&new_list("only-ws1", ListType::Block, &["192.0.2.0/24"]))
        .await
        .unwrap();
    let l1 = ws1.list_ip_access_lists().await.unwrap();
    let l2 = ws2.list_ip_access_lists().await.unwrap();
    assert!(l1.iter().any(|l| l.label == "only-ws1"));
    assert!(!l2.iter().any(|l| l.label == "only-ws1"));
}

// ---------------------------------------------------------------------------------------------
// Secrets never leak

#[tokio::test]
async fn debug_and_display_never_contain_secrets() {
    let h = start_default().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, FAKE_SA_JWT).unwrap();

    let credentials = [
        Credential::PersonalAccessToken(PAT.into()),
        databricks_oauth(),
        azure_secret(),
        workload_identity(&file),
    ];
    let mut texts = Vec::new();
    for c in &credentials {
        texts.push(format!("{c:?}"));
        let client = h.databricks(c.clone());
        client.list_ip_access_lists().await.unwrap();
        texts.push(format!("{client:?}"));
    }
    let arm = h.arm(azure_secret());
    arm.get_workspace(&h.emulator.arm_resource_id("ws-1"))
        .await
        .unwrap();
    texts.push(format!("{arm:?}"));

    // Access tokens the providers obtained must not show either.
    let provider = brickwarden::clients::TokenProvider::entra(
        url(&h.emulator.authority_host()),
        &azure_secret(),
        brickwarden::clients::auth::DATABRICKS_AZURE_SCOPE.to_string(),
        h.options().http,
    )
    .unwrap();
    let access_token: SecretString = provider.token().await.unwrap();
    texts.push(format!("{provider:?}"));

    // Errors of every auth flow.
    let bad_pat = h.databricks(Credential::PersonalAccessToken("dapi-bad-1234".into()));
    let e = bad_pat.list_ip_access_lists().await.unwrap_err();
    texts.push(format!("{e} {e:?}"));
    let bad_secret = h.databricks(Credential::DatabricksOAuth {
        client_id: CLIENT_ID.into(),
        client_secret: "wrong-secret-5678".into(),
    });
    let e = bad_secret.list_ip_access_lists().await.unwrap_err();
    texts.push(format!("{e} {e:?}"));

    let all = texts.join("\n");
    assert_no_secret(
        &all,
        &[
            PAT,
            CLIENT_SECRET,
            FAKE_SA_JWT,
            "dapi-bad-1234",
            "wrong-secret-5678",
            access_token.expose_secret(),
        ],
    );
    assert!(all.contains("[REDACTED]"));
}

/// A `MakeWriter` that appends log lines to a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn debug_logs_never_contain_secrets() {
    let h = start_default().await;
    let pat = h.pat_client();
    h.fault(json!({"workspace": "ws-1", "path_prefix": "/api/2.0/ip-access-lists", "status": 429, "count": 1, "retry_after_seconds": 0}))
        .await;
    pat.list_ip_access_lists().await.unwrap();
    let oauth = h.databricks(databricks_oauth());
    oauth.list_ip_access_lists().await.unwrap();
    let provider = brickwarden::clients::TokenProvider::databricks_oauth(
        h.workspace_url("ws-1"),
        None,
        CLIENT_ID.into(),
        CLIENT_SECRET.into(),
        h.options().http,
    )
    .unwrap();
    let access_token = provider.token().await.unwrap();

    let text = String::from_utf8(LOGS.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("request finished"), "{text}");
    assert!(text.contains("retrying request"), "{text}");
    assert!(text.contains("/api/2.0/ip-access-lists"), "{text}");
    assert_no_secret(
        &text,
        &[
            PAT,
            CLIENT_SECRET,
            access_token.expose_secret(),
            "Bearer",
            "Basic ",
        ],
    );
}

/// ARM PUTs are long-running: two changes of one workspace at once never overlap. Each waits
/// for the operation before it (or, when both read before either wrote, the one that meets
/// 409 Conflict waits and writes again), and both changes are in the final resource.
#[tokio::test]
async fn concurrent_arm_updates_wait_for_each_other() {
    let h = start(EmulatorConfig {
        arm_operation_delay: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let arm = h.arm(azure_secret()).with_poll_options(PollOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
    });
    let id = h.emulator.arm_resource_id("ws-1");
    let npip = WorkspaceUpdate {
        enable_no_public_ip: Some(true),
        ..Default::default()
    };
    let esm = WorkspaceUpdate {
        enhanced_security_monitoring: Some(true),
        ..Default::default()
    };
    let (a, b) = tokio::join!(
        arm.update_workspace(&id, &npip),
        arm.update_workspace(&id, &esm)
    );
    a.unwrap();
    b.unwrap();
    let ws = arm.get_workspace(&id).await.unwrap();
    assert_eq!(ws.enable_no_public_ip, Some(true));
    assert_eq!(ws.enhanced_security_monitoring.as_deref(), Some("Enabled"));
    assert_eq!(ws.provisioning_state.as_deref(), Some("Succeeded"));
    let puts = h.statuses("PUT", "/workspaces/ws-1").await;
    assert!(
        (2..=3).contains(&puts.len()) && puts.iter().filter(|s| **s == 409).count() <= 1,
        "two changes, at most one 409 met and retried: {puts:?}"
    );
}

/// An operation that ends `Failed` is reported as an error with ARM's code.
#[tokio::test]
async fn a_failed_arm_operation_is_an_error() {
    let h = start_default().await;
    let arm = h.arm(azure_secret()).with_poll_options(PollOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
    });
    h.fault(json!({
        "workspace": "arm",
        "method": "PUT",
        "path_prefix": "/subscriptions",
        "operation_error": {"code": "InternalServerError", "message": "the update failed"},
    }))
    .await;
    let update = WorkspaceUpdate {
        enable_no_public_ip: Some(true),
        ..Default::default()
    };
    let err = arm
        .update_workspace(&h.emulator.arm_resource_id("ws-1"), &update)
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("InternalServerError"), "{err:?}");
}
