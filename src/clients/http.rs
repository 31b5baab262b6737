//! The shared HTTP layer: timeouts, retries with backoff, a per-host rate limit, metrics hooks
//! and authorization, over one reqwest client per service and host.
//!
//! Retry rules (why they are what they are):
//! - `429`, `500`, `502`, `503`, `504`, timeouts and transport errors are retried for idempotent
//!   methods (GET, HEAD, PUT, DELETE, PATCH). A POST that creates something is retried only when
//!   the caller says it is safe ([`RequestSpec::retry_unsafe`]): a lost response to a create
//!   would otherwise create twice.
//! - Connect errors and `429` are retried for every method: the request was never processed.
//! - The delay is the server's `Retry-After` (capped) or exponential backoff with full jitter,
//!   bounded by a max attempt count and a total time budget.
//! - A `401` (or `403 Invalid access token.`) is retried once, immediately, with a freshly
//!   fetched token when the credential is OAuth-based: the cached token may have been revoked
//!   or rotated early.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::Authorizer;
use super::error::{ApiError, describe_reqwest_error, is_retryable_status};

/// Metric label of Databricks workspace API calls.
pub const SERVICE_DATABRICKS: &str = "databricks";
/// Metric label of Azure Resource Manager calls.
pub const SERVICE_ARM: &str = "arm";
/// Metric label of Entra ID token requests.
pub const SERVICE_ENTRA: &str = "entra";
/// Metric label of Databricks OAuth (`/oidc/v1/token`) token requests.
pub const SERVICE_DATABRICKS_OIDC: &str = "databricks-oidc";

/// Installs rustls' `ring` crypto provider as the process default, once.
///
/// reqwest is built with `rustls-no-provider`, so a TLS connection panics unless a provider is
/// installed. Every client constructor calls this; calling it again is free.
pub fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Err means another part of the process installed one first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The certificates of a PEM file (`--ca-bundle`), to trust in addition to the platform's roots.
/// The error names the file and what is wrong with it.
pub fn load_ca_bundle(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read the CA bundle {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        format!(
            "the CA bundle {} is not valid PEM: {}",
            path.display(),
            describe_reqwest_error(&e)
        )
    })?;
    if certs.is_empty() {
        return Err(format!(
            "the CA bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// Metrics hook called for every attempt. `endpoint` is a path template such as
/// `/api/2.0/ip-access-lists/{list_id}`: never a concrete id or a query string, so label
/// cardinality stays bounded.
pub trait RequestObserver: Send + Sync + 'static {
    /// One attempt finished: `status` is `None` when no response arrived (timeout, transport).
    fn on_response(&self, request: RequestLabels<'_>, status: Option<u16>, elapsed: Duration);

    /// An attempt failed and another one follows; `reason` is e.g. `status 429` or `timeout`.
    fn on_retry(&self, request: RequestLabels<'_>, reason: &str) {
        let _ = (request, reason);
    }
}

/// What an observation is about: the service, the host it was sent to (which workspace or
/// cloud endpoint) and the endpoint template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLabels<'a> {
    pub service: &'static str,
    pub host: &'a str,
    pub endpoint: &'static str,
}

/// Observer that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl RequestObserver for NoopObserver {
    fn on_response(&self, _: RequestLabels<'_>, _: Option<u16>, _: Duration) {}
}

/// When and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included; 1 disables retries.
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; doubles on each further retry.
    pub base_delay: Duration,
    /// Backoff ceiling of any single retry.
    pub max_delay: Duration,
    /// No retry starts if it would end its wait later than this after the first attempt.
    pub total_budget: Duration,
    /// `Retry-After` values above this are capped to it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            total_budget: Duration::from_secs(90),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Client-side request rate per host, shared by every client of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub requests_per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests_per_second: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// Options shared by every client.
#[derive(Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Whole-request timeout, response body included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// `None` disables the client-side limit.
    pub rate_limit: Option<RateLimit>,
    /// The global in-flight request budget: every client holding the same semaphore (all the
    /// controller creates, `brickwarden run --max-requests-in-flight`) has at most that many
    /// requests in flight at once, whatever the hosts. An attempt takes a permit after its
    /// host's rate limit let it go and holds it until its response body is read; waits
    /// between retries hold none. `None`: unbounded.
    pub max_in_flight: Option<Arc<tokio::sync::Semaphore>>,
    pub observer: Arc<dyn RequestObserver>,
    pub user_agent: String,
    /// Certificates trusted in addition to the platform's roots (`--ca-bundle`): a corporate
    /// TLS-inspecting proxy or a private endpoint's CA. Verification is never turned off.
    pub extra_roots: Vec<reqwest::Certificate>,
    /// One HTTP client (TLS configuration, connection pool) shared by every client built with
    /// these options, from [`HttpOptions::shared`]: a fleet then costs one, not one per
    /// workspace (each holds its own root store and pool, about 110 KiB).
    pub shared: Option<reqwest::Client>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rate_limit: Some(RateLimit::default()),
            max_in_flight: None,
            observer: Arc::new(NoopObserver),
            user_agent: concat!("brickwarden/", env!("CARGO_PKG_VERSION")).to_string(),
            extra_roots: Vec::new(),
            shared: None,
        }
    }
}

impl HttpOptions {
    /// These options with one HTTP client built now and shared by every client made from
    /// them. Build it after the last change to timeouts, user agent or extra roots.
    pub fn shared(mut self) -> Result<HttpOptions, ApiError> {
        self.shared = Some(build_client(&self)?);
        Ok(self)
    }
}

/// The HTTP client these options describe.
fn build_client(options: &HttpOptions) -> Result<reqwest::Client, ApiError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(options.user_agent.clone())
        // A redirect is an error here (Private Link misconfiguration sends the caller to a
        // login page); following it could also carry credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        // The platform verifier (system roots) plus any `--ca-bundle` certificates.
        .tls_certs_merge(options.extra_roots.iter().cloned())
        .build()
        .map_err(|e| ApiError::InvalidRequest(describe_reqwest_error(&e)))
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field(
                "max_in_flight_available",
                &self.max_in_flight.as_ref().map(|s| s.available_permits()),
            )
            .field("user_agent", &self.user_agent)
            .field("extra_roots", &self.extra_roots.len())
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

/// A request path and the template it was built from (the metrics label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    template: &'static str,
    path: String,
}

impl Endpoint {
    /// Fills the `{placeholders}` of `template`, in order, with percent-encoded `params`.
    pub fn new(template: &'static str, params: &[&str]) -> Self {
        let mut path = String::with_capacity(template.len() + 32);
        let mut params = params.iter();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .unwrap_or(rest.len() - 1);
            path.push_str(&rest[..open]);
            let value = params.next();
            debug_assert!(value.is_some(), "too few parameters for {template}");
            path.push_str(&encode_segment(value.copied().unwrap_or_default()));
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
        debug_assert!(
            params.next().is_none(),
            "too many parameters for {template}"
        );
        Self { template, path }
    }

    /// An endpoint whose path the caller has built and validated (e.g. ARM resource ids,
    /// whose slashes are part of the path).
    pub(crate) fn from_parts(template: &'static str, path: String) -> Self {
        Self { template, path }
    }

    pub fn template(&self) -> &'static str {
        self.template
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an id can never add a
/// path segment or a query.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Appends `path` to the base URL's path, keeping any prefix (`/ws/ws-1`), unlike
/// [`Url::join`], which replaces the base path for absolute paths.
pub fn join_path(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    let suffix = path.trim_start_matches('/');
    url.set_path(&format!("{prefix}/{suffix}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// A request body, kept as bytes so each attempt can resend it.
#[derive(Clone)]
enum Body {
    Json(Vec<u8>),
    Form(Vec<u8>),
}

/// One logical request; [`HttpClient::send`] makes one or more attempts of it.
#[derive(Clone)]
pub struct RequestSpec {
    method: Method,
    endpoint: Endpoint,
    absolute_url: Option<Url>,
    query: Vec<(String, String)>,
    body: Option<Body>,
    retry_unsafe: bool,
}

impl fmt::Debug for RequestSpec {
    // Bodies may carry secrets (token requests); only the shape is printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("endpoint", &self.endpoint.template)
            .field("has_body", &self.body.is_some())
            .finish_non_exhaustive()
    }
}

impl RequestSpec {
    pub fn new(method: Method, endpoint: Endpoint) -> Self {
        Self {
            method,
            endpoint,
            absolute_url: None,
            query: Vec::new(),
            body: None,
            retry_unsafe: false,
        }
    }

    pub fn get(endpoint: Endpoint) -> Self {
        Self::new(Method::GET, endpoint)
    }

    pub fn post(endpoint: Endpoint) -> Self {
        Self::new(Method::POST, endpoint)
    }

    pub fn put(endpoint: Endpoint) -> Self {
        Self::new(Method::PUT, endpoint)
    }

    pub fn patch(endpoint: Endpoint) -> Self {
        Self::new(Method::PATCH, endpoint)
    }

    pub fn delete(endpoint: Endpoint) -> Self {
        Self::new(Method::DELETE, endpoint)
    }

    /// A request to a URL the server handed out (e.g. `Azure-AsyncOperation`); it must have
    /// the client's origin so credentials never go to another host.
    pub fn absolute(method: Method, template: &'static str, url: Url) -> Self {
        let mut spec = Self::new(
            method,
            Endpoint::from_parts(template, url.path().to_string()),
        );
        spec.absolute_url = Some(url);
        spec
    }

    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, ApiError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::InvalidRequest(format!("cannot encode body: {e}")))?;
        self.body = Some(Body::Json(bytes));
        Ok(self)
    }

    /// An `application/x-www-form-urlencoded` body (token requests).
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let text = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.body = Some(Body::Form(text.into_bytes()));
        self
    }

    /// Allows retrying a non-idempotent request: the caller knows repeating it is harmless.
    pub fn retry_unsafe(mut self) -> Self {
        self.retry_unsafe = true;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn idempotent_or_allowed(&self) -> bool {
        self.retry_unsafe
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::PATCH
            )
    }
}

/// A successful response, body read in full.
#[derive(Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    service: &'static str,
    endpoint: &'static str,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("service", &self.service)
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    /// Decodes the body; an empty body decodes as `{}` so "no content" answers fit
    /// all-optional types.
    ///
    /// A body that is not JSON is an [`ApiError::Decode`] naming the endpoint and what came
    /// instead (`expected JSON, got text/html`): a proxy's sign-in page or a captive portal
    /// answering 200 is a misrouted request, not data. A JSON body that does not parse
    /// (truncated) says so with its content type. (A server that labels valid JSON with another
    /// content type is still understood.)
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| {
            let mut err = ApiError::decode(self.service, self.endpoint, &e);
            let what = match e.classify() {
                serde_json::error::Category::Eof => "truncated",
                serde_json::error::Category::Syntax => "invalid",
                // Valid JSON of another shape: serde's message says which field.
                _ => return err,
            };
            if let ApiError::Decode { message, .. } = &mut err {
                *message = match self.media_type() {
                    Some(media_type) if !is_json_media_type(&media_type) => format!(
                        "expected JSON, got {media_type} ({} bytes, status {})",
                        self.body.len(),
                        self.status.as_u16()
                    ),
                    media_type => {
                        let shown = media_type.as_deref().unwrap_or("no content type");
                        format!("{what} JSON ({shown}): {message}")
                    }
                };
            }
            err
        })
    }

    /// The `Content-Type` without parameters, lowercased (`text/html`), if any.
    fn media_type(&self) -> Option<String> {
        let value = self.header(CONTENT_TYPE.as_str())?;
        let media_type = value.split(';').next().unwrap_or_default().trim();
        (!media_type.is_empty()).then(|| media_type.to_ascii_lowercase())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `application/json`, `application/problem+json`, `text/json` and the like.
fn is_json_media_type(media_type: &str) -> bool {
    media_type == "application/json" || media_type == "text/json" || media_type.ends_with("+json")
}

/// An HTTP client for one service and host. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    service: &'static str,
    base_url: Url,
    options: HttpOptions,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    authorizer: Authorizer,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("service", &self.inner.service)
            .field("base_url", &self.inner.base_url.as_str())
            .field("authorizer", &self.inner.authorizer)
            .field("options", &self.inner.options)
            .finish()
    }
}

impl HttpClient {
    /// A client for `service` at `base_url` (any path prefix is kept).
    pub fn new(
        service: &'static str,
        base_url: Url,
        options: HttpOptions,
        authorizer: Authorizer,
    ) -> Result<Self, ApiError> {
        install_crypto_provider();
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host_str().is_none() {
            return Err(ApiError::InvalidRequest(format!(
                "base URL must be http(s) with a host: {}",
                super::error::redact_url(&base_url)
            )));
        }
        let client = match &options.shared {
            Some(client) => client.clone(),
            None => build_client(&options)?,
        };
        let limiter = options.rate_limit.map(|q| host_limiter(&base_url, q));
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                service,
                base_url,
                options,
                limiter,
                authorizer,
            }),
        })
    }

    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    pub fn options(&self) -> &HttpOptions {
        &self.inner.options
    }

    /// The full URL of an endpoint, base path prefix kept.
    pub fn url_for(&self, endpoint: &Endpoint) -> Url {
        join_path(&self.inner.base_url, endpoint.path())
    }

    /// Sends the request, retrying as the module docs describe, and returns a 2xx response or
    /// the last error.
    pub async fn send(&self, spec: RequestSpec) -> Result<HttpResponse, ApiError> {
        let url = self.target_url(&spec)?;
        let started = Instant::now();
        let attempt = std::sync::atomic::AtomicU32::new(0);
        let policy = &self.inner.options.retry;
        let backoff = ExponentialBuilder::new()
            .with_min_delay(policy.base_delay)
            .with_max_delay(policy.max_delay)
            .with_factor(2.0)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize);
        let allowed = spec.idempotent_or_allowed();
        let template = spec.endpoint.template;

        let run = || {
            let n = attempt.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            self.attempt_with_auth(&spec, &url, n)
        };
        run.retry(backoff)
            .sleep(tokio::time::sleep)
            // Token-endpoint errors carry their own service and were already retried there.
            .when(|e: &ApiError| is_own(e, self.inner.service) && should_retry(e, allowed))
            .adjust(|e, backoff| retry_delay(e, backoff, policy, started.elapsed(), jitter()))
            .notify(|e, delay| {
                let reason = retry_reason(e);
                tracing::debug!(
                    service = self.inner.service,
                    endpoint = template,
                    reason = %reason,
                    delay_ms = delay.as_millis() as u64,
                    "retrying request"
                );
                self.inner
                    .options
                    .observer
                    .on_retry(self.labels(template), &reason);
            })
            .await
    }

    /// Sends the request and decodes a JSON response.
    pub async fn send_json<T: DeserializeOwned>(&self, spec: RequestSpec) -> Result<T, ApiError> {
        self.send(spec).await?.json()
    }

    fn labels(&self, endpoint: &'static str) -> RequestLabels<'_> {
        RequestLabels {
            service: self.inner.service,
            host: self.inner.base_url.host_str().unwrap_or_default(),
            endpoint,
        }
    }

    fn target_url(&self, spec: &RequestSpec) -> Result<Url, ApiError> {
        let Some(url) = &spec.absolute_url else {
            return Ok(self.url_for(&spec.endpoint));
        };
        if url.origin() != self.inner.base_url.origin() {
            return Err(ApiError::InvalidRequest(format!(
                "refusing to send credentials to {} (client origin is {})",
                super::error::redact_url(url),
                super::error::redact_url(&self.inner.base_url)
            )));
        }
        Ok(url.clone())
    }

    /// One attempt, plus one immediate re-send with a fresh token after a `401` when the
    /// credential can be refreshed.
    async fn attempt_with_auth(
        &self,
        spec: &RequestSpec,
        url: &Url,
        n: u32,
    ) -> Result<HttpResponse, ApiError> {
        let auth = self.inner.authorizer.authorization().await?;
        let result = self
            .attempt(spec, url, auth.as_ref().map(|a| &a.header), n)
            .await;
        let generation = auth.as_ref().and_then(|a| a.generation);
        match (result, generation) {
            // 401, or the gateway's `403 Invalid access token.` for a revoked token.
            (Err(e), Some(generation))
                if is_own(&e, self.inner.service) && e.is_unauthenticated() =>
            {
                self.inner.options.observer.on_retry(
                    self.labels(spec.endpoint.template),
                    "unauthorized: refreshing token",
                );
                self.inner.authorizer.invalidate(generation).await;
                let auth = self.inner.authorizer.authorization().await?;
                self.attempt(spec, url, auth.as_ref().map(|a| &a.header), n)
                    .await
            }
            (result, _) => result,
        }
    }

    async fn attempt(
        &self,
        spec: &RequestSpec,
        url: &Url,
        authorization: Option<&HeaderValue>,
        n: u32,
    ) -> Result<HttpResponse, ApiError> {
        if let Some(limiter) = &self.inner.limiter {
            limiter.until_ready().await;
        }
        // Held until the body is read (the end of this function). A closed semaphore (never
        // closed here) would mean no budget.
        let _permit = match &self.inner.options.max_in_flight {
            Some(budget) => budget.acquire().await.ok(),
            None => None,
        };
        let service = self.inner.service;
        let template = spec.endpoint.template;
        let request = self.build(spec, url, authorization);
        let started = Instant::now();
        let outcome = self.execute(request, template, started).await;
        let elapsed = started.elapsed();
        let status = match &outcome {
            Ok(resp) => Some(resp.status.as_u16()),
            Err(e) => e.status(),
        };
        self.inner
            .options
            .observer
            .on_response(self.labels(template), status, elapsed);
        tracing::debug!(
            service,
            method = %spec.method,
            endpoint = template,
            status,
            elapsed_ms = elapsed.as_millis() as u64,
            attempt = n,
            "request finished"
        );
        outcome
    }

    fn build(
        &self,
        spec: &RequestSpec,
        url: &Url,
        authorization: Option<&HeaderValue>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.inner.client.request(spec.method.clone(), url.clone());
        if !spec.query.is_empty() {
            req = req.query(&spec.query);
        }
        if let Some(auth) = authorization {
            req = req.header(reqwest::header::AUTHORIZATION, auth.clone());
        }
        match &spec.body {
            Some(Body::Json(bytes)) => req
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Some(Body::Form(bytes)) => req
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(bytes.clone()),
            None => req,
        }
    }

    /// Executes one request: a 2xx becomes a response, anything else a typed error.
    async fn execute(
        &self,
        request: reqwest::RequestBuilder,
        template: &'static str,
        started: Instant,
    ) -> Result<HttpResponse, ApiError> {
        let service = self.inner.service;
        let transport = |e: reqwest::Error| transport_error(service, template, &e, started);
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        if !status.is_success() {
            return Err(ApiError::from_response(
                service, template, status, &headers, &body,
            ));
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            service,
            endpoint: template,
        })
    }
}

fn transport_error(
    service: &'static str,
    endpoint: &'static str,
    err: &reqwest::Error,
    started: Instant,
) -> ApiError {
    if err.is_timeout() {
        ApiError::Timeout {
            service,
            endpoint,
            elapsed: started.elapsed(),
        }
    } else {
        let mut message = describe_reqwest_error(err);
        if message.contains("invalid peer certificate") {
            message.push_str(
                " (TLS certificate verification failed: if a private CA issued the server's \
                 certificate, trust it with --ca-bundle or BRICKWARDEN_CA_BUNDLE)",
            );
        }
        ApiError::Transport {
            service,
            endpoint,
            message,
            connect: err.is_connect(),
        }
    }
}

/// The process-wide limiter of a host (`host:port`) and quota. Clients of the same host share
/// one token bucket, so N workspaces' clients cannot multiply the rate towards shared ARM.
fn host_limiter(base_url: &Url, quota: RateLimit) -> Arc<DefaultDirectRateLimiter> {
    type Registry = Mutex<HashMap<(String, RateLimit), Arc<DefaultDirectRateLimiter>>>;
    static LIMITERS: OnceLock<Registry> = OnceLock::new();
    let host = format!(
        "{}:{}",
        base_url.host_str().unwrap_or_default(),
        base_url.port_or_known_default().unwrap_or_default()
    );
    let mut map = LIMITERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry((host, quota))
        .or_insert_with(|| {
            let q = Quota::per_second(quota.requests_per_second).allow_burst(quota.burst);
            Arc::new(RateLimiter::direct(q))
        })
        .clone()
}

/// Errors produced by this client (not by the token provider it called).
fn is_own(err: &ApiError, service: &'static str) -> bool {
    err.service() == Some(service)
}

/// Whether an attempt's error may be retried; `allowed` is false for non-idempotent requests.
fn should_retry(err: &ApiError, allowed: bool) -> bool {
    match err {
        ApiError::Api { status, .. } => is_retryable_status(*status) && (allowed || *status == 429),
        ApiError::Transport { connect, .. } => allowed || *connect,
        ApiError::Timeout { .. } => allowed,
        _ => false,
    }
}

/// Delay before the next attempt, or `None` to give up.
///
/// `backoff` is backon's exponential ceiling for this retry (`None`: attempts exhausted);
/// `unit` in `[0, 1)` draws the full-jitter delay `unit * ceiling`. `Retry-After` wins over
/// the backoff but is capped. A retry that would start after the total budget is not made.
fn retry_delay(
    err: &ApiError,
    backoff: Option<Duration>,
    policy: &RetryPolicy,
    elapsed: Duration,
    unit: f64,
) -> Option<Duration> {
    let ceiling = backoff?;
    let delay = match err.retry_after() {
        Some(server) => server.min(policy.max_retry_after),
        None => ceiling.mul_f64(unit.clamp(0.0, 1.0)),
    };
    (elapsed + delay <= policy.total_budget).then_some(delay)
}

fn jitter() -> f64 {
    rand::random_range(0.0..1.0)
}

fn retry_reason(err: &ApiError) -> String {
    match err {
        ApiError::Api { status, .. } => format!("status {status}"),
        ApiError::Timeout { .. } => "timeout".to_string(),
        ApiError::Transport { connect: true, .. } => "connect error".to_string(),
        ApiError::Transport { .. } => "transport error".to_string(),
        _ => "error".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, retry_after: Option<u64>) -> ApiError {
        ApiError::Api {
            service: SERVICE_DATABRICKS,
            endpoint: "/x",
            status,
            error_code: None,
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn response(content_type: Option<&str>, body: &str) -> HttpResponse {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        HttpResponse {
            status: StatusCode::OK,
            headers,
            body: body.as_bytes().to_vec(),
            service: SERVICE_DATABRICKS,
            endpoint: "/api/2.0/workspace-conf",
        }
    }

    #[test]
    fn non_json_bodies_are_named_decode_errors() {
        let html = response(
            Some("text/html; charset=utf-8"),
            "<html><title>Sign in</title></html>",
        );
        let err = html.json::<serde_json::Value>().unwrap_err();
        assert!(matches!(err, ApiError::Decode { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("/api/2.0/workspace-conf"), "{text}");
        assert!(text.contains("expected JSON, got text/html"), "{text}");
        assert!(!text.contains("Sign in"), "no body in the message: {text}");

        let truncated = response(Some("application/json"), r#"{"enableIpAccessLists": "tr"#);
        let text = truncated
            .json::<serde_json::Value>()
            .unwrap_err()
            .to_string();
        assert!(text.contains("truncated JSON (application/json)"), "{text}");
        assert!(!text.contains("enableIpAccessLists"), "{text}");

        let garbage = response(None, "not json");
        let text = garbage.json::<serde_json::Value>().unwrap_err().to_string();
        assert!(text.contains("invalid JSON (no content type)"), "{text}");

        // Valid JSON under another label is still JSON; an empty body is `{}`.
        let mislabelled = response(Some("text/plain"), r#"{"a": 1}"#);
        assert_eq!(
            mislabelled.json::<serde_json::Value>().unwrap(),
            serde_json::json!({"a": 1})
        );
        let empty = response(Some("text/html"), "");
        assert_eq!(
            empty.json::<serde_json::Value>().unwrap(),
            serde_json::json!({})
        );
        assert!(is_json_media_type("application/problem+json"));
        assert!(!is_json_media_type("text/html"));
    }

    #[test]
    fn endpoint_fills_and_encodes_placeholders() {
        let e = Endpoint::new("/api/2.0/ip-access-lists/{list_id}", &["a/b?c d"]);
        assert_eq!(e.template(), "/api/2.0/ip-access-lists/{list_id}");
        assert_eq!(e.path(), "/api/2.0/ip-access-lists/a%2Fb%3Fc%20d");
        let e = Endpoint::new(
            "/api/2.0/settings/types/{type}/names/{name}",
            &["x", "default"],
        );
        assert_eq!(e.path(), "/api/2.0/settings/types/x/names/default");
        assert_eq!(Endpoint::new("/plain", &[]).path(), "/plain");
    }

    #[test]
    fn join_path_keeps_prefix() {
        let cases = [
            (
                "http://127.0.0.1:8765/ws/ws-1",
                "/api/2.0/workspace-conf",
                "http://127.0.0.1:8765/ws/ws-1/api/2.0/workspace-conf",
            ),
            (
                "http://127.0.0.1:8765/ws/ws-1/",
                "/api/x",
                "http://127.0.0.1:8765/ws/ws-1/api/x",
            ),
            (
                "https://adb-1.7.azuredatabricks.net",
                "/api/x",
                "https://adb-1.7.azuredatabricks.net/api/x",
            ),
            (
                "https://h.example/p?x=1",
                "/a%2Fb",
                "https://h.example/p/a%2Fb",
            ),
        ];
        for (base, path, joined) in cases {
            let base = Url::parse(base).unwrap();
            assert_eq!(join_path(&base, path).as_str(), joined, "{base} + {path}");
        }
    }

    #[test]
    fn retryable_statuses_and_methods() {
        for s in [429, 500, 502, 503, 504] {
            assert!(should_retry(&api(s, None), true), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 501] {
            assert!(!should_retry(&api(s, None), true), "{s}");
        }
        // Non-idempotent: only throttling and connect failures, which were never processed.
        assert!(should_retry(&api(429, None), false));
        assert!(!should_retry(&api(503, None), false));
        let connect = ApiError::Transport {
            service: "s",
            endpoint: "/",
            message: String::new(),
            connect: true,
        };
        assert!(should_retry(&connect, false));
        let timeout = ApiError::Timeout {
            service: "s",
            endpoint: "/",
            elapsed: Duration::ZERO,
        };
        assert!(!should_retry(&timeout, false));
        assert!(should_retry(&timeout, true));
        assert!(!should_retry(&ApiError::auth("x"), true));
    }

    #[test]
    fn idempotency_by_method() {
        let ep = || Endpoint::new("/x", &[]);
        assert!(RequestSpec::get(ep()).idempotent_or_allowed());
        assert!(RequestSpec::put(ep()).idempotent_or_allowed());
        assert!(RequestSpec::patch(ep()).idempotent_or_allowed());
        assert!(RequestSpec::delete(ep()).idempotent_or_allowed());
        assert!(!RequestSpec::post(ep()).idempotent_or_allowed());
        assert!(
            RequestSpec::post(ep())
                .retry_unsafe()
                .idempotent_or_allowed()
        );
    }

    #[test]
    fn backoff_is_full_jitter_within_exponential_bounds() {
        use backon::BackoffBuilder;
        let policy = RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            total_budget: Duration::from_secs(3600),
            max_retry_after: Duration::from_secs(60),
        };
        let ceilings: Vec<Duration> = ExponentialBuilder::new()
            .with_min_delay(policy.base_delay)
            .with_max_delay(policy.max_delay)
            .with_factor(2.0)
            .with_max_times(policy.max_attempts as usize - 1)
            .build()
            .collect();
        assert_eq!(ceilings.len(), 7, "max_attempts counts the first attempt");
        // backon multiplies in f32: compare at millisecond precision.
        let ms: Vec<u128> = ceilings.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 2000, 2000]);
        let err = api(503, None);
        for (i, c) in ceilings.iter().enumerate() {
            for _ in 0..50 {
                let d = retry_delay(&err, Some(*c), &policy, Duration::ZERO, jitter()).unwrap();
                assert!(d <= *c, "retry {i}: {d:?} > {c:?}");
            }
            let low = retry_delay(&err, Some(*c), &policy, Duration::ZERO, 0.0).unwrap();
            assert_eq!(low, Duration::ZERO);
        }
        assert_eq!(retry_delay(&err, None, &policy, Duration::ZERO, 0.5), None);
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let policy = RetryPolicy::default();
        let ceiling = Some(Duration::from_millis(100));
        assert_eq!(
            retry_delay(&api(429, Some(3)), ceiling, &policy, Duration::ZERO, 0.9),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_delay(&api(429, Some(3600)), ceiling, &policy, Duration::ZERO, 0.9),
            Some(policy.max_retry_after)
        );
    }

    #[test]
    fn total_budget_stops_retries() {
        let policy = RetryPolicy {
            total_budget: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let ceiling = Some(Duration::from_secs(1));
        assert!(
            retry_delay(
                &api(429, Some(5)),
                ceiling,
                &policy,
                Duration::from_secs(4),
                0.5
            )
            .is_some()
        );
        assert!(
            retry_delay(
                &api(429, Some(5)),
                ceiling,
                &policy,
                Duration::from_secs(6),
                0.5
            )
            .is_none()
        );
    }

    #[test]
    fn limiter_is_shared_per_host_and_quota() {
        let q = RateLimit::default();
        let a = host_limiter(&Url::parse("https://h.example/ws/1").unwrap(), q);
        let b = host_limiter(&Url::parse("https://h.example:443/ws/2").unwrap(), q);
        let c = host_limiter(&Url::parse("https://other.example/").unwrap(), q);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn crypto_provider_install_is_idempotent() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
