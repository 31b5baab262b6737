//! `reconcile` and `error_policy` against a mocked apiserver (tower-test), the way kube-rs
//! `controller-rs` tests its reconciler: every request the controller sends is checked (method,
//! path, query, body) and answered with a canned response. A request that does not come within
//! a few seconds fails the test instead of hanging it, and so does any request beyond the expected
//! ones.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};
use tower_test::mock::{Handle, SendResponse};

use super::{Context, Error, NOT_READY_REQUEUE, error_policy, reconcile};
use crate::api::DatabricksWorkspace;
use crate::engine::Reach;
use crate::metrics::Metrics;

const NS: &str = "data-platform";
const SECRET_VALUE: &str = "dapi-super-secret-value";
/// How long the mock waits for the controller's next request.
const WAIT: Duration = Duration::from_secs(5);
const WORKSPACES: &str =
    "/apis/brickwarden.io/v1alpha1/namespaces/data-platform/databricksworkspaces";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/data-platform/events";

type ApiHandle = Handle<Request<Body>, Response<Body>>;

/// The mocked apiserver: hands out the controller's requests one by one and keeps every body it
/// received, to look for leaked secrets at the end.
struct ApiServer {
    handle: ApiHandle,
    bodies: Vec<String>,
}

/// One request the controller sent, with its body read.
struct Received {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: String,
    send: SendResponse<Response<Body>>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of {} {} is not JSON ({e}): {}",
                self.method, self.path, self.body
            )
        })
    }

    fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn respond(self, status: StatusCode, body: &Value) {
        let response = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap();
        self.send.send_response(response);
    }
}

impl ApiServer {
    /// The next request, which must be `method path` (path without the query).
    async fn expect(&mut self, method: Method, path: &str) -> Received {
        let (request, send) = tokio::time::timeout(WAIT, self.handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("no request within {WAIT:?}; expected {method} {path}"))
            .unwrap_or_else(|| panic!("client gone; expected {method} {path}"));
        let (parts, body) = request.into_parts();
        let body = String::from_utf8(body.collect_bytes().await.unwrap().to_vec()).unwrap();
        self.bodies.push(body.clone());
        let received = Received {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_string()),
            body,
            send,
        };
        assert_eq!(
            (&received.method, received.path.as_str()),
            (&method, path),
            "unexpected request; body: {}",
            received.body
        );
        received
    }

    /// No request beyond the expected ones: once the reconcile is over and the context dropped,
    /// the client is gone and the mock sees the end of its requests.
    async fn expect_no_more(mut self) -> Vec<String> {
        match tokio::time::timeout(WAIT, self.handle.next_request()).await {
            Ok(None) => self.bodies,
            Ok(Some((request, _))) => panic!(
                "unexpected extra request {} {}",
                request.method(),
                request.uri()
            ),
            Err(_) => panic!("the kube client was not dropped (a Context still alive?)"),
        }
    }

    /// A 404 for GET of a missing object, as the apiserver writes it.
    async fn not_found(&mut self, path: &str, kind: &str, name: &str) {
        self.expect(Method::GET, path).await.respond(
            StatusCode::NOT_FOUND,
            &json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "reason": "NotFound", "code": 404,
                "message": format!("{kind} \"{name}\" not found"),
                "details": {"name": name, "kind": kind},
            }),
        );
    }

    /// The discovery of the report CRDs after a pass (`controller::reports`), answered as a
    /// cluster without them: no report is written.
    async fn no_report_crds(&mut self) {
        for group in [
            "/apis/wgpolicyk8s.io/v1alpha2",
            "/apis/openreports.io/v1alpha1",
        ] {
            self.expect(Method::GET, group).await.respond(
                StatusCode::NOT_FOUND,
                &json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "reason": "NotFound", "code": 404,
                    "message": "the server could not find the requested resource",
                }),
            );
        }
    }

    /// The server-side-apply status patch of workspace `ws`, answered with the workspace carrying
    /// the applied status. Returns the applied status.
    async fn status_patch(&mut self, ws: &DatabricksWorkspace) -> Value {
        let name = ws.metadata.name.as_deref().unwrap();
        let request = self
            .expect(Method::PATCH, &format!("{WORKSPACES}/{name}/status"))
            .await;
        assert_eq!(request.query("fieldManager"), Some("brickwarden"));
        assert_eq!(request.query("force"), Some("true"));
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "status is written by server-side apply"
        );
        let patch = request.json();
        assert_eq!(patch["apiVersion"], "brickwarden.io/v1alpha1");
        assert_eq!(patch["kind"], "DatabricksWorkspace");
        let status = patch["status"].clone();
        assert!(status.is_object(), "no status in {patch}");
        let mut answer = serde_json::to_value(ws).unwrap();
        answer["status"] = status.clone();
        request.respond(StatusCode::OK, &answer);
        status
    }

    /// The GET of the workspace's Secret `ws-auth`, answered with `secret`.
    async fn serve_secret(&mut self, secret: &Value) {
        self.expect(
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/secrets/ws-auth"),
        )
        .await
        .respond(StatusCode::OK, secret);
    }

    /// The end of a reconcile of `ws` that is not ready for `reason`: a `Ready=False` status,
    /// a Warning event, a requeue after [`NOT_READY_REQUEUE`] and no request more. Returns the
    /// status, the event and every request body.
    async fn not_ready(
        mut self,
        ws: &DatabricksWorkspace,
        (ctx, task): (Arc<Context>, tokio::task::JoinHandle<Result<Action, Error>>),
        reason: &str,
    ) -> (Value, Value, Vec<String>) {
        let status = self.status_patch(ws).await;
        assert_eq!(status["observedGeneration"], 7);
        let ready = ready(&status);
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], reason);
        assert_eq!(ready["observedGeneration"], 7);
        let event = self.event(ws).await;
        assert_eq!(event["type"], "Warning");
        assert_eq!(event["reason"], reason);
        assert_eq!(event["action"], "Reconcile");
        assert_eq!(
            finished(task).await.unwrap(),
            Action::requeue(NOT_READY_REQUEUE)
        );
        drop(ctx);
        let bodies = self.expect_no_more().await;
        (status, event, bodies)
    }

    /// One Event created for workspace `ws`, answered 201. Returns the Event.
    async fn event(&mut self, ws: &DatabricksWorkspace) -> Value {
        let request = self.expect(Method::POST, EVENTS).await;
        let event = request.json();
        assert_eq!(event["regarding"]["kind"], "DatabricksWorkspace");
        assert_eq!(event["regarding"]["apiVersion"], "brickwarden.io/v1alpha1");
        assert_eq!(event["regarding"]["namespace"], NS);
        assert_eq!(
            event["regarding"]["name"],
            ws.metadata.name.as_deref().unwrap()
        );
        assert_eq!(
            event["regarding"]["uid"],
            ws.metadata.uid.as_deref().unwrap()
        );
        assert_eq!(event["reportingController"], "brickwarden");
        request.respond(StatusCode::CREATED, &event);
        event
    }
}

/// A context on a mocked apiserver. Databricks reads are not retried, so an unreachable host
/// fails at once.
fn context() -> (Arc<Context>, Arc<Metrics>, ApiServer) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, NS);
    let metrics = Arc::new(Metrics::new());
    let mut ctx = Context::new(
        client,
        metrics.clone(),
        Reach::default(),
        "http://127.0.0.1:1/arm".parse().unwrap(),
        Reporter {
            controller: "brickwarden".into(),
            instance: Some("brickwarden-test".into()),
        },
    );
    ctx.options.http.retry.max_attempts = 1;
    ctx.options.http.connect_timeout = Duration::from_secs(2);
    let server = ApiServer {
        handle,
        bodies: Vec::new(),
    };
    (Arc::new(ctx), metrics, server)
}

fn workspace(name: &str, metadata: Value, spec: Value) -> Arc<DatabricksWorkspace> {
    let mut object = json!({
        "apiVersion": "brickwarden.io/v1alpha1",
        "kind": "DatabricksWorkspace",
        "metadata": {
            "name": name,
            "namespace": NS,
            "generation": 7,
            "uid": format!("uid-of-{name}"),
            "resourceVersion": "42",
        },
        "spec": spec,
    });
    if let (Some(target), Some(extra)) = (object["metadata"].as_object_mut(), metadata.as_object())
    {
        target.extend(extra.clone());
    }
    Arc::new(serde_json::from_value(object).unwrap())
}

fn pat_spec(host: &str) -> Value {
    json!({
        "host": host,
        "auth": {"personalAccessToken": {"secretRef": {"name": "ws-auth", "key": "token"}}},
        "policy": {"workspaceConf": {"exportNotebook": false, "webTerminal": false}},
    })
}

/// A Secret `ws-auth` whose `token` key holds [`SECRET_VALUE`].
fn secret_with_token() -> Value {
    use base64::Engine;
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "ws-auth", "namespace": NS},
        "data": {"token": base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_VALUE}\n"))},
    })
}

/// The Ready condition of a status as sent to the apiserver.
fn ready(status: &Value) -> &Value {
    let conditions = status["conditions"].as_array().expect("conditions");
    let ready: Vec<&Value> = conditions.iter().filter(|c| c["type"] == "Ready").collect();
    assert_eq!(ready.len(), 1, "exactly one Ready condition in {status}");
    ready[0]
}

/// Runs `reconcile` in its own task, so the test can answer its requests.
fn spawn_reconcile(
    ws: &Arc<DatabricksWorkspace>,
    ctx: &Arc<Context>,
) -> tokio::task::JoinHandle<Result<Action, Error>> {
    tokio::spawn(reconcile(ws.clone(), ctx.clone()))
}

async fn finished(task: tokio::task::JoinHandle<Result<Action, Error>>) -> Result<Action, Error> {
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("reconcile did not finish")
        .expect("reconcile panicked")
}

/// The value of the one exported sample whose line contains every fragment.
fn sample(metrics: &Metrics, name: &str, fragments: &[&str]) -> Option<f64> {
    let text = metrics.encode();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && fragments.iter().all(|f| l.contains(f)))
        .collect();
    assert!(lines.len() <= 1, "several samples match: {lines:?}");
    lines
        .first()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

fn assert_no_secret(bodies: &[String]) {
    assert!(!bodies.is_empty());
    for body in bodies {
        assert!(
            !body.contains(SECRET_VALUE) && !body.contains("dapi-"),
            "a secret reached the apiserver: {body}"
        );
    }
}

#[tokio::test]
async fn missing_secret_is_not_ready_with_status_event_and_requeue() {
    let (ctx, metrics, mut api) = context();
    let ws = workspace("analytics", json!({}), pat_spec("http://127.0.0.1:1"));
    let task = spawn_reconcile(&ws, &ctx);

    api.not_found(
        "/api/v1/namespaces/data-platform/secrets/ws-auth",
        "secrets",
        "ws-auth",
    )
    .await;
    let (status, event, _) = api.not_ready(&ws, (ctx, task), "SecretNotFound").await;
    assert!(status["lastReconcileTime"].is_string());
    let message = ready(&status)["message"].as_str().unwrap();
    assert!(
        message.contains("data-platform/ws-auth") && message.contains("\"token\""),
        "the message names the Secret and its key: {message}"
    );
    assert_eq!(event["note"], message);

    let ws_labels = ["namespace=\"data-platform\"", "workspace=\"analytics\""];
    assert_eq!(
        sample(&metrics, "brickwarden_workspace_ready", &ws_labels),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_errors_total",
            &[ws_labels[0], ws_labels[1], "reason=\"SecretNotFound\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_errors_total",
            &[ws_labels[0], ws_labels[1], "reason=\"BaselineNotFound\""]
        ),
        Some(0.0)
    );
    // Not ready is a handled outcome, not a reconcile error.
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_duration_seconds_count",
            &["result=\"success\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_duration_seconds_count",
            &["result=\"error\""]
        ),
        None
    );
}

#[tokio::test]
async fn missing_baseline_is_not_ready_before_the_secret_is_read() {
    let (ctx, _metrics, mut api) = context();
    let mut spec = pat_spec("http://127.0.0.1:1");
    spec["baselineRef"] = json!("highly-secure");
    let ws = workspace("analytics", json!({}), spec);
    let task = spawn_reconcile(&ws, &ctx);

    api.not_found(
        "/apis/brickwarden.io/v1alpha1/securitybaselines/highly-secure",
        "securitybaselines.brickwarden.io",
        "highly-secure",
    )
    .await;
    // No Secret read: the next request is the status.
    let (status, event, _) = api.not_ready(&ws, (ctx, task), "BaselineNotFound").await;
    assert!(
        ready(&status)["message"]
            .as_str()
            .unwrap()
            .contains("SecurityBaseline \"highly-secure\" does not exist")
    );
    assert!(event["note"].as_str().unwrap().contains("highly-secure"));
}

#[tokio::test]
async fn secret_without_the_key_is_not_ready_after_the_baseline_is_read() {
    let (ctx, _metrics, mut api) = context();
    let mut spec = pat_spec("http://127.0.0.1:1");
    spec["baselineRef"] = json!("recommended");
    let ws = workspace("analytics", json!({}), spec);
    let task = spawn_reconcile(&ws, &ctx);

    api.expect(
        Method::GET,
        "/apis/brickwarden.io/v1alpha1/securitybaselines/recommended",
    )
    .await
    .respond(
        StatusCode::OK,
        &json!({
            "apiVersion": "brickwarden.io/v1alpha1", "kind": "SecurityBaseline",
            "metadata": {"name": "recommended"},
            "spec": {"policy": {"workspaceConf": {"exportNotebook": false}}},
        }),
    );
    let mut secret = secret_with_token();
    secret["data"] = json!({"other": "eA=="});
    api.serve_secret(&secret).await;
    api.not_ready(&ws, (ctx, task), "SecretKeyMissing").await;
}

/// A local port that counts as the workspace host: a suspended workspace must never connect.
fn watched_host() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    (listener, host)
}

fn assert_never_connected(listener: &TcpListener) {
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the workspace host was contacted from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
}

async fn assert_suspended(ws: Arc<DatabricksWorkspace>, listener: &TcpListener) {
    let (ctx, metrics, mut api) = context();
    let task = spawn_reconcile(&ws, &ctx);
    // The first request is the status: no baseline, no Secret read.
    let status = api.status_patch(&ws).await;
    assert_eq!(status["observedGeneration"], 7);
    let ready = ready(&status);
    assert_eq!(ready["status"], "True");
    assert_eq!(ready["reason"], "Suspended");
    assert_eq!(
        finished(task).await.unwrap(),
        Action::requeue(crate::api::DEFAULT_RESYNC_INTERVAL)
    );
    drop(ctx);
    // No event either.
    api.expect_no_more().await;
    assert_never_connected(listener);
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_workspace_ready",
            &["workspace=\"analytics\""]
        ),
        None,
        "a suspended workspace has no readiness series"
    );
}

#[tokio::test]
async fn suspended_by_spec_reads_and_writes_nothing_but_status() {
    let (listener, host) = watched_host();
    let mut spec = pat_spec(&host);
    spec["suspend"] = json!(true);
    spec["baselineRef"] = json!("recommended");
    assert_suspended(workspace("analytics", json!({}), spec), &listener).await;
}

#[tokio::test]
async fn suspended_by_annotation_reads_and_writes_nothing_but_status() {
    let (listener, host) = watched_host();
    let ws = workspace(
        "analytics",
        json!({"annotations": {"brickwarden.io/suspend": "true"}}),
        pat_spec(&host),
    );
    assert_suspended(ws, &listener).await;
}

#[tokio::test]
async fn unreachable_workspace_is_read_failed_and_the_token_never_reaches_the_apiserver() {
    let (ctx, metrics, mut api) = context();
    let ws = workspace("analytics", json!({}), pat_spec("http://127.0.0.1:1"));
    let task = spawn_reconcile(&ws, &ctx);

    api.serve_secret(&secret_with_token()).await;
    let status = api.status_patch(&ws).await;
    api.no_report_crds().await;
    assert_eq!(status["observedGeneration"], 7);
    let ready = ready(&status);
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ReadFailed");
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.contains("http://127.0.0.1:1/api/2.0/workspace-conf"),
        "the read was attempted: {message}"
    );
    // Nothing was remediated, so no event; the next pass comes after the resync interval,
    // spread by ±10%.
    let resync = crate::api::DEFAULT_RESYNC_INTERVAL.as_secs_f64();
    let action = finished(task).await.unwrap();
    assert!(
        (resync * 0.9..=resync * 1.1).contains(&requeue_seconds(&action)),
        "{action:?}"
    );
    drop(ctx);
    let bodies = api.expect_no_more().await;
    assert_no_secret(&bodies);
    assert!(
        !metrics.encode().contains(SECRET_VALUE),
        "the token reached the metrics"
    );
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_errors_total",
            &["workspace=\"analytics\"", "reason=\"ReadFailed\""]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn secret_values_stay_out_of_not_ready_status_and_events() {
    // The Secret exists but the auth method cannot use it: whatever the message says, it must not
    // quote the value.
    let (ctx, _metrics, mut api) = context();
    let ws = workspace(
        "analytics",
        json!({}),
        json!({
            "host": "not a url",
            "auth": {"personalAccessToken": {"secretRef": {"name": "ws-auth", "key": "token"}}},
            "policy": {"workspaceConf": {"exportNotebook": false}},
        }),
    );
    let task = spawn_reconcile(&ws, &ctx);
    api.serve_secret(&secret_with_token()).await;
    let (_, _, bodies) = api.not_ready(&ws, (ctx, task), "InvalidSpec").await;
    assert_no_secret(&bodies);
}

/// The seconds of a requeue action.
fn requeue_seconds(action: &Action) -> f64 {
    let debug = format!("{action:?}");
    let inner = debug
        .split("Some(")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("not a requeue: {debug}"));
    inner
        .strip_suffix("ms")
        .map(|ms| ms.parse::<f64>().unwrap() / 1000.0)
        .or_else(|| inner.strip_suffix('s').map(|s| s.parse().unwrap()))
        .unwrap_or_else(|| panic!("unexpected duration {inner}"))
}

#[tokio::test]
async fn failed_status_write_is_an_error_with_growing_backoff_reset_by_success() {
    let (ctx, metrics, mut api) = context();
    let mut spec = pat_spec("http://127.0.0.1:1");
    spec["suspend"] = json!(true);
    let ws = workspace("analytics", json!({}), spec);
    let key = super::key_of(&*ws);
    let failures = |ctx: &Context| ctx.failures.lock().unwrap().get(&key).copied();

    for attempt in 1..=2u32 {
        let task = spawn_reconcile(&ws, &ctx);
        api.expect(Method::PATCH, &format!("{WORKSPACES}/analytics/status"))
            .await
            .respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "reason": "InternalError", "code": 500,
                    "message": "etcdserver: request timed out",
                }),
            );
        let error = finished(task).await.unwrap_err();
        assert!(matches!(error, Error::Kube(kube::Error::Api(ref s)) if s.code == 500));
        let delay = requeue_seconds(&error_policy(ws.clone(), &error, ctx.clone()));
        // 5s then 10s, with a jitter of 0.5..1.5.
        let base = 5.0 * f64::from(1 << (attempt - 1));
        assert!(
            (base * 0.5..base * 1.5).contains(&delay),
            "attempt {attempt}: {delay}s"
        );
        assert_eq!(failures(&ctx), Some(attempt));
    }
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_duration_seconds_count",
            &["result=\"error\""]
        ),
        Some(2.0)
    );

    // A pass that succeeds resets the backoff.
    let task = spawn_reconcile(&ws, &ctx);
    api.status_patch(&ws).await;
    finished(task).await.unwrap();
    assert_eq!(failures(&ctx), None);
    assert_eq!(
        sample(
            &metrics,
            "brickwarden_reconcile_duration_seconds_count",
            &["result=\"success\""]
        ),
        Some(1.0)
    );
    drop(ctx);
    api.expect_no_more().await;
}

#[tokio::test]
async fn the_token_goes_to_the_workspace_host_only() {
    // A workspace host that takes the request, checks its credentials and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    let databricks = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the request head");
            head.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&head).to_lowercase()
    });

    let (ctx, _metrics, mut api) = context();
    let ws = workspace("analytics", json!({}), pat_spec(&host));
    let task = spawn_reconcile(&ws, &ctx);
    api.serve_secret(&secret_with_token()).await;
    let head = tokio::time::timeout(WAIT, databricks)
        .await
        .expect("no request reached the workspace host")
        .unwrap();
    assert!(
        head.contains(&format!("authorization: bearer {SECRET_VALUE}")),
        "the Secret's value (trailing newline trimmed) is the bearer token: {head}"
    );
    let status = api.status_patch(&ws).await;
    api.no_report_crds().await;
    assert_eq!(ready(&status)["reason"], "ReadFailed");
    finished(task).await.unwrap();
    drop(ctx);
    assert_no_secret(&api.expect_no_more().await);
}
