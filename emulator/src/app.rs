//! The shared server state ([`App`]), the top-level router and the edge middleware that every
//! non-admin request passes: fault injection, workspace IP access lists, authentication and
//! the journal.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use super::EmulatorConfig;
use super::admin;
use super::arm;
use super::auth;
use super::conn::Peer;
use super::databricks;
use super::errors::{ApiError, ArmError, OAuthError, not_found};
use super::faults::{Fault, Faults};
use super::journal::{Journal, JournalEntry, redact_query};
use super::oauth;
use super::state::{Caller, World};

struct Shared {
    config: EmulatorConfig,
    base_url: String,
    /// Own base URL of workspace `ws-{i+1}` (empty without per-workspace hosts).
    hosts: Vec<String>,
    world: Mutex<World>,
    journal: Mutex<Journal>,
    faults: Mutex<Faults>,
}

/// Cheaply clonable handle to the server state.
#[derive(Clone)]
pub struct App(Arc<Shared>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl App {
    pub fn new(config: EmulatorConfig, base_url: String) -> Self {
        Self::with_hosts(config, base_url, Vec::new())
    }

    /// An app whose seeded workspaces also have base URLs of their own: `hosts[i]` for
    /// `ws-{i+1}`.
    pub fn with_hosts(config: EmulatorConfig, base_url: String, hosts: Vec<String>) -> Self {
        let world = seed_world(&config, &base_url);
        let journal = Journal::with_capacity(config.journal_capacity);
        Self(Arc::new(Shared {
            config,
            base_url,
            hosts,
            world: Mutex::new(world),
            journal: Mutex::new(journal),
            faults: Mutex::new(Faults::default()),
        }))
    }

    /// Locks the world. Never hold the guard across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.0.world)
    }

    pub fn journal(&self) -> MutexGuard<'_, Journal> {
        lock(&self.0.journal)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.0.faults)
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.0.config
    }

    pub fn base_url(&self) -> &str {
        &self.0.base_url
    }

    /// `{base}/ws/{name}`: the workspace's path-prefixed base URL on the main address.
    pub fn workspace_url(&self, name: &str) -> String {
        format!("{}/ws/{name}", self.0.base_url)
    }

    /// The workspace's own base URL (`http://127.0.0.1:PORT`, a port of its own) when it has
    /// one, else [`App::workspace_url`].
    pub fn workspace_host(&self, name: &str) -> String {
        name.strip_prefix("ws-")
            .filter(|digits| !digits.starts_with('0'))
            .and_then(|digits| digits.parse::<usize>().ok())
            .and_then(|i| self.0.hosts.get(i.checked_sub(1)?))
            .cloned()
            .unwrap_or_else(|| self.workspace_url(name))
    }

    /// The base URL a request to workspace `name` came to: its own host when it came there.
    pub fn request_base(&self, name: &str, via: Option<&ViaOwnHost>) -> String {
        match via {
            Some(_) => self.workspace_host(name),
            None => self.workspace_url(name),
        }
    }

    pub fn arm_url(&self) -> String {
        format!("{}/arm", self.0.base_url)
    }

    pub fn authority_host(&self) -> String {
        format!("{}/aad", self.0.base_url)
    }

    /// Back to the seeded state: workspaces, issued tokens, journal and faults.
    pub fn reset(&self) {
        *self.world() = seed_world(&self.0.config, &self.0.base_url);
        self.journal().clear();
        self.faults().clear();
    }
}

/// The seeded world of `config`: its workspaces and its account.
fn seed_world(config: &EmulatorConfig, base_url: &str) -> World {
    let mut world = World::seed(config.workspaces, &config.standard_workspaces, base_url);
    world.account =
        super::account::Account::seed(&config.account_id, config.cloud, &config.regions);
    world
}

/// Marks a request that came to a workspace's own address (host) rather than its
/// path-prefixed URL on the main address.
#[derive(Debug, Clone)]
pub struct ViaOwnHost;

/// In front of the router: a request that came to a workspace's own address is routed as if
/// it had come to `/ws/{name}` on the main address (everything on such a host is the
/// workspace's, as on a real one: `/_emulator` there is an unknown endpoint).
pub async fn route_own_hosts(mut request: Request, next: Next) -> Response {
    let workspace = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .and_then(|c| c.0.workspace.clone());
    if let Some(name) = workspace {
        let path_and_query = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let prefixed = format!("/ws/{name}{path_and_query}");
        match axum::http::Uri::try_from(prefixed) {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => {
                return ApiError::bad_request("Invalid request path".to_string()).into_response();
            }
        }
        request.extensions_mut().insert(ViaOwnHost);
    }
    next.run(request).await
}

/// The whole emulator: admin API, Entra ID, ARM and the workspaces.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(admin::router())
        .route("/aad/{tenant}/oauth2/v2.0/token", post(oauth::token))
        .route(
            "/aad/{tenant}/v2.0/.well-known/openid-configuration",
            get(oauth::openid_configuration),
        )
        .route("/arm", any(arm::dispatch))
        .route("/arm/{*rest}", any(arm::dispatch))
        .nest("/ws/{ws}", databricks::router())
        .nest("/accounts", super::account::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), edge))
        .with_state(app)
}

/// Which service a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Area {
    Admin,
    Workspace { name: String, rel: String },
    Arm { rel: String },
    Aad { rel: String },
    Account { rel: String },
    Unknown,
}

fn classify(path: &str) -> Area {
    if path == "/_emulator" || path.starts_with("/_emulator/") {
        return Area::Admin;
    }
    if let Some(rest) = path.strip_prefix("/ws/") {
        let (name, rel) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if !name.is_empty() {
            return Area::Workspace {
                name: name.to_string(),
                rel: rel.to_string(),
            };
        }
    }
    if path == "/arm" || path.starts_with("/arm/") {
        return Area::Arm {
            rel: path["/arm".len()..].to_string(),
        };
    }
    if path == "/accounts" || path.starts_with("/accounts/") {
        return Area::Account {
            rel: path["/accounts".len()..].to_string(),
        };
    }
    if let Some(rest) = path.strip_prefix("/aad") {
        return Area::Aad {
            rel: rest.to_string(),
        };
    }
    Area::Unknown
}

/// Workspace paths served without authentication (as on the real service).
fn is_public(rel: &str) -> bool {
    matches!(
        rel,
        "/.well-known/databricks-config"
            | "/oidc/.well-known/oauth-authorization-server"
            | "/oidc/v1/token"
    )
}

/// The Premium-only API a Standard-tier workspace refuses, if `rel` is one. Azure Databricks
/// pricing (Premium tier features): IP access lists, access control of tokens and secrets
/// (token permissions, secret ACLs) and the workspace security settings.
fn premium_only_feature(rel: &str) -> Option<&'static str> {
    const PREMIUM: &[(&str, &str)] = &[
        ("/api/2.0/ip-access-lists", "IP access lists"),
        (
            "/api/2.0/permissions/authorization/tokens",
            "Token permissions",
        ),
        ("/api/2.0/secrets/acls/", "Secret access control"),
        ("/api/2.0/settings/", "The workspace settings API"),
    ];
    PREMIUM
        .iter()
        .find(|(prefix, _)| rel.starts_with(prefix))
        .map(|(_, feature)| *feature)
}

/// The answer of a fault that answers: its raw body, or the service's error envelope (the
/// OAuth one for token endpoints).
fn fault_response(area: &Area, fault: &Fault) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(body) = &fault.body {
        let mut response = (status, body.clone()).into_response();
        let content_type = fault.content_type.as_deref().unwrap_or("text/html");
        if let Ok(value) = HeaderValue::from_str(content_type) {
            response.headers_mut().insert(CONTENT_TYPE, value);
        }
        if let Some(value) = fault
            .retry_after_seconds
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return response;
    }
    match area {
        Area::Arm { .. } => ArmError::fault(status, fault.retry_after_seconds).into_response(),
        Area::Aad { .. } => OAuthError::fault(status, fault.retry_after_seconds).into_response(),
        Area::Workspace { rel, .. } | Area::Account { rel } if rel.starts_with("/oidc/") => {
            OAuthError::fault(status, fault.retry_after_seconds).into_response()
        }
        _ => ApiError::fault(status, fault.retry_after_seconds).into_response(),
    }
}

/// Resets the request's connection (see [`crate::conn`]); the returned answer is never sent.
/// Without the emulator's listener (a router served some other way) there is no connection to
/// reset: the caller gets a 502 instead.
fn reset_connection(request_peer: Option<&Peer>) -> Response {
    match request_peer {
        Some(peer) => peer.reset(),
        None => tracing::warn!("reset fault on a connection that cannot be reset: answering 502"),
    }
    ApiError::fault(StatusCode::BAD_GATEWAY, None).into_response()
}

/// Workspace gate: the workspace exists, the caller's IP passes its IP access lists, and
/// (except on public paths) the bearer token is valid. Returns the caller or the response.
fn gate_workspace(
    app: &App,
    name: &str,
    rel: &str,
    ip: IpAddr,
    request: &Request,
) -> Result<Option<Caller>, ApiError> {
    let mut world = app.world();
    let Some(ws) = world.workspaces.get(name) else {
        return Err(ApiError::not_found(format!(
            "Workspace {name} does not exist in this emulator"
        )));
    };
    if !ws.ip_allowed(ip) {
        let shown = super::access::caller_ipv4(ip).map(IpAddr::V4).unwrap_or(ip);
        return Err(ApiError::gateway(
            StatusCode::FORBIDDEN,
            format!(
                "Source IP address: {shown} is blocked by Databricks IP ACL for workspace: {}",
                ws.workspace_id
            ),
        ));
    }
    if is_public(rel) {
        return Ok(None);
    }
    let standard = ws.sku() == "standard";
    let token = auth::bearer(request.headers());
    let principal = auth::authenticate_workspace(&mut world, &app.config().token, name, token)?;
    if standard && let Some(feature) = premium_only_feature(rel) {
        return Err(ApiError::premium_only(feature));
    }
    Ok(Some(Caller {
        workspace: name.to_string(),
        principal,
        ip,
    }))
}

/// Account gate: the caller's IP passes the account's IP access lists (once
/// `acct_ip_acl_enable` is on) and, except on public paths, the bearer token is an account
/// credential. Returns the caller or the response.
fn gate_account(
    app: &App,
    rel: &str,
    ip: IpAddr,
    request: &Request,
) -> Result<Option<super::account::AccountCaller>, ApiError> {
    let mut world = app.world();
    if !world.account.ip_allowed(ip) {
        return Err(super::account::ip_blocked(ip, &world.account.account_id));
    }
    if super::account::is_public(rel) {
        return Ok(None);
    }
    let token = auth::bearer(request.headers());
    super::account::authenticate(&mut world, &app.config().token, token, ip).map(Some)
}

async fn edge(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let area = classify(&path);
    if area == Area::Admin {
        return next.run(request).await;
    }
    let started = Instant::now();
    let timestamp = jiff::Timestamp::now().to_string();
    let method = request.method().clone();
    let query = request.uri().query().map(redact_query);
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|c| c.0.clone());
    let ip = peer
        .as_ref()
        .map(|p| p.addr.ip())
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if let Some(peer) = &peer {
        // Handlers that want the plain address find it as usual.
        request.extensions_mut().insert(ConnectInfo(peer.addr));
    }
    let (service, rel) = match &area {
        Area::Workspace { name, rel } => (Some(name.clone()), rel.clone()),
        Area::Arm { rel } => (Some("arm".to_string()), rel.clone()),
        Area::Aad { rel } => (Some("aad".to_string()), rel.clone()),
        Area::Account { rel } => (Some("account".to_string()), rel.clone()),
        _ => (None, path.clone()),
    };

    let fault = service
        .as_deref()
        .and_then(|s| app.faults().take(s, method.as_str(), &rel, &path));
    let latency =
        app.config().latency + Duration::from_millis(fault.as_ref().map_or(0, |f| f.latency_ms));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let mut principal = None;
    let mut reset = false;
    let mut handled_status = None;
    let response = match (&fault, &area) {
        (Some(f), _) if f.answers() && !f.after_handler => {
            if f.reset {
                reset = true;
                reset_connection(peer.as_ref())
            } else {
                fault_response(&area, f)
            }
        }
        (_, Area::Workspace { name, rel }) => {
            let mut response = match gate_workspace(&app, name, rel, ip, &request) {
                Err(err) => err.into_response(),
                Ok(caller) => {
                    if let Some(caller) = caller {
                        principal = Some(caller.principal.name.clone());
                        request.extensions_mut().insert(caller);
                    }
                    next.run(request).await
                }
            };
            // Like the real service: the workspace (org) id on every response.
            let org_id = app.world().workspaces.get(name).map(|ws| ws.workspace_id);
            if let Some(value) = org_id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
                response.headers_mut().insert("x-databricks-org-id", value);
            }
            response
        }
        (_, Area::Account { rel }) => match gate_account(&app, rel, ip, &request) {
            Err(err) => err.into_response(),
            Ok(caller) => {
                if let Some(caller) = caller {
                    principal = Some(caller.client_id.clone());
                    request.extensions_mut().insert(caller);
                }
                next.run(request).await
            }
        },
        (_, Area::Arm { .. }) => {
            principal = auth::bearer(request.headers())
                .and_then(|t| app.world().issued.get(t).map(|i| i.client_id.clone()));
            if let Some(error) = fault.as_ref().and_then(|f| f.operation_error.clone()) {
                request.extensions_mut().insert(error);
            }
            next.run(request).await
        }
        _ => next.run(request).await,
    };
    // The request was served (a write committed); its answer is lost on the way back.
    let response = match &fault {
        Some(f) if f.answers() && f.after_handler && !reset => {
            handled_status = Some(response.status().as_u16());
            if f.reset {
                reset = true;
                reset_connection(peer.as_ref())
            } else {
                fault_response(&area, f)
            }
        }
        _ => response,
    };

    app.journal().push(JournalEntry {
        seq: 0,
        timestamp,
        workspace: service,
        method: method.to_string(),
        path: rel,
        full_path: path,
        query,
        status: if reset { 0 } else { response.status().as_u16() },
        duration_ms: started.elapsed().as_millis() as u64,
        principal,
        fault: fault.is_some(),
        handled_status,
        reset,
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(classify("/_emulator/requests"), Area::Admin);
        assert_eq!(
            classify("/ws/ws-1/api/2.0/token/list"),
            Area::Workspace {
                name: "ws-1".into(),
                rel: "/api/2.0/token/list".into()
            }
        );
        assert_eq!(
            classify("/ws/ws-2"),
            Area::Workspace {
                name: "ws-2".into(),
                rel: "/".into()
            }
        );
        assert_eq!(
            classify("/arm/subscriptions/x"),
            Area::Arm {
                rel: "/subscriptions/x".into()
            }
        );
        assert_eq!(
            classify("/aad/t/oauth2/v2.0/token"),
            Area::Aad {
                rel: "/t/oauth2/v2.0/token".into()
            }
        );
        assert_eq!(
            classify("/accounts/api/2.0/accounts/a/workspaces"),
            Area::Account {
                rel: "/api/2.0/accounts/a/workspaces".into()
            }
        );
        assert_eq!(classify("/accountsx"), Area::Unknown);
        assert_eq!(classify("/foo"), Area::Unknown);
        assert!(is_public("/oidc/v1/token"));
        assert!(!is_public("/api/2.0/token/list"));
    }
}
