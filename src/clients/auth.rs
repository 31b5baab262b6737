//! Credentials and OAuth token providers.
//!
//! # Why not `azure_identity` / `azure_core`
//!
//! They were evaluated (azure_identity 1.1.0-beta.1, azure_core 1.2.0-beta.1) and not used:
//! - `get_authority_host` rejects any authority host whose scheme is not `https`, so the
//!   emulator's `http://127.0.0.1:PORT/aad` (and any plain-http test double) cannot be used;
//! - their `reqwest` feature turns on `reqwest/rustls`, which brings the `aws-lc-rs` crypto
//!   provider (a C build) next to the `ring` provider this crate uses — a second TLS stack;
//! - they bring their own HTTP pipeline (retry policy, `typespec_client_core`, `time`,
//!   `async-trait`), so token calls would bypass this crate's rate limit, retry budget and
//!   metrics hook, and they cannot serve Databricks OAuth M2M or PATs anyway;
//! - both are pre-release (`-beta`).
//!
//! The client-credentials exchange itself is one form POST, written here by hand: client
//! secret, or a federated `client_assertion` re-read from the projected token file on every
//! exchange (kubelet rotates it). Tokens are cached per (credential, scope), refreshed before
//! expiry under a single-flight lock, and dropped on a `401` so the next call fetches anew.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::error::ApiError;
use super::http::{
    Endpoint, HttpClient, HttpOptions, RequestSpec, SERVICE_DATABRICKS_OIDC, SERVICE_ENTRA,
};

/// Entra ID scope of the Azure Databricks first-party application.
pub const DATABRICKS_AZURE_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";
/// Entra ID scope of Azure Resource Manager (public cloud).
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// Entra ID authority of the public cloud.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Azure Resource Manager endpoint of the public cloud.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
/// Environment variable that overrides the authority (sovereign clouds, the emulator).
pub const AZURE_AUTHORITY_HOST_ENV: &str = "AZURE_AUTHORITY_HOST";

const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime assumed when a token response has no `expires_in`.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Refresh at most this long before expiry...
const MAX_REFRESH_WINDOW: Duration = Duration::from_secs(300);
/// ...or within this fraction of the token's lifetime, whichever is shorter.
const REFRESH_FRACTION: f64 = 0.10;

/// How a client authenticates. Secrets are [`SecretString`]s and never printed.
#[derive(Clone)]
pub enum Credential {
    /// Databricks personal access token, sent as a bearer token.
    PersonalAccessToken(SecretString),
    /// Databricks OAuth machine-to-machine: a service principal's OAuth secret exchanged at
    /// `{workspace}/oidc/v1/token`.
    DatabricksOAuth {
        client_id: String,
        client_secret: SecretString,
    },
    /// Entra ID service principal with a client secret.
    AzureClientSecret {
        tenant_id: String,
        client_id: String,
        client_secret: SecretString,
    },
    /// Entra ID workload identity federation: the Kubernetes service account token in
    /// `token_file` is the client assertion.
    AzureWorkloadIdentity {
        tenant_id: String,
        client_id: String,
        token_file: PathBuf,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::PersonalAccessToken(_) => f
                .debug_tuple("PersonalAccessToken")
                .field(&Redacted)
                .finish(),
            Credential::DatabricksOAuth { client_id, .. } => f
                .debug_struct("DatabricksOAuth")
                .field("client_id", client_id)
                .field("client_secret", &Redacted)
                .finish(),
            Credential::AzureClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("AzureClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &Redacted)
                .finish(),
            Credential::AzureWorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => f
                .debug_struct("AzureWorkloadIdentity")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("token_file", token_file)
                .finish(),
        }
    }
}

/// Prints `[REDACTED]` in `Debug` output in place of a secret.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Credential {
    /// A short name for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::PersonalAccessToken(_) => "personal access token",
            Credential::DatabricksOAuth { .. } => "Databricks OAuth M2M",
            Credential::AzureClientSecret { .. } => "Entra ID client secret",
            Credential::AzureWorkloadIdentity { .. } => "Entra ID workload identity",
        }
    }

    /// Whether this is an Entra ID identity, the only kind ARM accepts.
    pub fn is_azure(&self) -> bool {
        matches!(
            self,
            Credential::AzureClientSecret { .. } | Credential::AzureWorkloadIdentity { .. }
        )
    }
}

/// The Entra ID authority: `AZURE_AUTHORITY_HOST` if set and valid, else the public cloud.
#[expect(clippy::expect_used, reason = "a constant URL, parsed in a unit test")]
pub fn default_authority_host() -> Url {
    std::env::var(AZURE_AUTHORITY_HOST_ENV)
        .ok()
        .and_then(|v| Url::parse(v.trim()).ok())
        .unwrap_or_else(|| Url::parse(DEFAULT_AUTHORITY_HOST).expect("valid default authority"))
}

/// What goes into the `Authorization` header of a client's requests.
#[derive(Clone, Default)]
pub enum Authorizer {
    /// No header (token endpoints that take credentials in the body).
    #[default]
    None,
    /// A static bearer token (PAT).
    Bearer(SecretString),
    /// HTTP Basic (Databricks OAuth token endpoint).
    Basic {
        username: String,
        password: SecretString,
    },
    /// A cached, refreshed OAuth token.
    Provider(Arc<TokenProvider>),
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authorizer::None => f.write_str("None"),
            Authorizer::Bearer(_) => f.debug_tuple("Bearer").field(&Redacted).finish(),
            Authorizer::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &Redacted)
                .finish(),
            Authorizer::Provider(p) => f.debug_tuple("Provider").field(p).finish(),
        }
    }
}

/// An `Authorization` header value and, for refreshable tokens, which token it was.
pub(crate) struct Authorization {
    pub(crate) header: HeaderValue,
    /// `Some` when a `401` should drop this token and retry with a fresh one.
    pub(crate) generation: Option<u64>,
}

impl Authorizer {
    /// The authorizer of a Databricks API client: a workspace's, or with `account_id` an
    /// account's (whose OAuth token endpoint is `{host}/oidc/accounts/{account_id}/v1/token`).
    pub fn for_databricks(
        credential: &Credential,
        base_url: &Url,
        account_id: Option<&str>,
        authority_host: &Url,
        http: &HttpOptions,
    ) -> Result<Self, ApiError> {
        let provider = match credential {
            Credential::PersonalAccessToken(token) => return Ok(Authorizer::Bearer(token.clone())),
            Credential::DatabricksOAuth {
                client_id,
                client_secret,
            } => TokenProvider::databricks_oauth(
                base_url.clone(),
                account_id.map(str::to_string),
                client_id.clone(),
                client_secret.clone(),
                http.clone(),
            )?,
            azure => TokenProvider::entra(
                authority_host.clone(),
                azure,
                DATABRICKS_AZURE_SCOPE.to_string(),
                http.clone(),
            )?,
        };
        Ok(Authorizer::Provider(Arc::new(provider)))
    }

    /// The authorizer of an ARM client: Entra ID credentials only.
    pub fn for_arm(
        credential: &Credential,
        authority_host: &Url,
        scope: &str,
        http: &HttpOptions,
    ) -> Result<Self, ApiError> {
        let provider = TokenProvider::entra(
            authority_host.clone(),
            credential,
            scope.to_string(),
            http.clone(),
        )?;
        Ok(Authorizer::Provider(Arc::new(provider)))
    }

    pub(crate) async fn authorization(&self) -> Result<Option<Authorization>, ApiError> {
        let (value, generation) = match self {
            Authorizer::None => return Ok(None),
            Authorizer::Bearer(token) => (format!("Bearer {}", token.expose_secret()), None),
            Authorizer::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose_secret());
                (
                    format!("Basic {}", BASE64_STANDARD.encode(pair.as_bytes())),
                    None,
                )
            }
            Authorizer::Provider(p) => {
                let (token, generation) = p.current().await?;
                (
                    format!("Bearer {}", token.expose_secret()),
                    Some(generation),
                )
            }
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            ApiError::auth("credential contains characters not allowed in a header")
        })?;
        header.set_sensitive(true);
        Ok(Some(Authorization { header, generation }))
    }

    /// Drops the token of `generation` after the server rejected it.
    pub(crate) async fn invalidate(&self, generation: u64) {
        if let Authorizer::Provider(p) = self {
            p.invalidate(generation).await;
        }
    }
}

/// Where and how a provider exchanges its credential for a token.
enum Exchange {
    DatabricksOAuth {
        client_id: String,
        client_secret: SecretString,
        /// The account whose token endpoint to use; `None`: the workspace's.
        account_id: Option<String>,
    },
    Entra(EntraExchange),
}

/// A client-credentials exchange with Entra ID, for `scope`.
struct EntraExchange {
    tenant_id: String,
    client_id: String,
    scope: String,
    secret: EntraSecret,
}

enum EntraSecret {
    ClientSecret(SecretString),
    FederatedTokenFile(PathBuf),
}

/// A cached access token.
struct CachedToken {
    value: SecretString,
    obtained: Instant,
    expires: Instant,
    generation: u64,
}

#[derive(Default)]
struct TokenState {
    token: Option<CachedToken>,
    generation: u64,
}

/// Fetches, caches and refreshes one OAuth access token for one (credential, scope).
///
/// The cache sits behind a tokio mutex held across the exchange: concurrent callers that find
/// the token due queue behind one request instead of stampeding the token endpoint.
pub struct TokenProvider {
    http: HttpClient,
    exchange: Exchange,
    state: tokio::sync::Mutex<TokenState>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TokenProvider");
        d.field("service", &self.http.service());
        match &self.exchange {
            Exchange::DatabricksOAuth { client_id, .. } => d
                .field("client_id", client_id)
                .field("client_secret", &Redacted),
            Exchange::Entra(entra) => {
                d.field("tenant_id", &entra.tenant_id)
                    .field("client_id", &entra.client_id)
                    .field("scope", &entra.scope);
                match &entra.secret {
                    EntraSecret::ClientSecret(_) => d.field("client_secret", &Redacted),
                    EntraSecret::FederatedTokenFile(p) => d.field("token_file", p),
                }
            }
        };
        d.field("token", &Redacted).finish()
    }
}

impl TokenProvider {
    /// Databricks OAuth M2M at `{base_url}/oidc/v1/token`, or for an account at
    /// `{base_url}/oidc/accounts/{account_id}/v1/token`.
    pub fn databricks_oauth(
        base_url: Url,
        account_id: Option<String>,
        client_id: String,
        client_secret: SecretString,
        http: HttpOptions,
    ) -> Result<Self, ApiError> {
        // The secret travels as HTTP Basic, as the Databricks SDKs send it.
        let basic = Authorizer::Basic {
            username: client_id.clone(),
            password: client_secret.clone(),
        };
        Ok(Self {
            http: HttpClient::new(SERVICE_DATABRICKS_OIDC, base_url, http, basic)?,
            exchange: Exchange::DatabricksOAuth {
                client_id,
                client_secret,
                account_id,
            },
            state: Default::default(),
        })
    }

    /// Entra ID client credentials at `{authority_host}/{tenant}/oauth2/v2.0/token`.
    pub fn entra(
        authority_host: Url,
        credential: &Credential,
        scope: String,
        http: HttpOptions,
    ) -> Result<Self, ApiError> {
        let (tenant_id, client_id, secret) = match credential {
            Credential::AzureClientSecret {
                tenant_id,
                client_id,
                client_secret,
            } => (
                tenant_id,
                client_id,
                EntraSecret::ClientSecret(client_secret.clone()),
            ),
            Credential::AzureWorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => (
                tenant_id,
                client_id,
                EntraSecret::FederatedTokenFile(token_file.clone()),
            ),
            other => {
                return Err(ApiError::auth(format!(
                    "a {} cannot obtain Entra ID tokens",
                    other.kind()
                )));
            }
        };
        Ok(Self {
            http: HttpClient::new(SERVICE_ENTRA, authority_host, http, Authorizer::None)?,
            exchange: Exchange::Entra(EntraExchange {
                tenant_id: tenant_id.clone(),
                client_id: client_id.clone(),
                scope,
                secret,
            }),
            state: Default::default(),
        })
    }

    /// A valid access token, fetched if none is cached or the cached one is due for refresh.
    pub async fn token(&self) -> Result<SecretString, ApiError> {
        Ok(self.current().await?.0)
    }

    /// Drops the cached token so the next call fetches a new one.
    pub async fn force_refresh(&self) {
        self.state.lock().await.token = None;
    }

    async fn current(&self) -> Result<(SecretString, u64), ApiError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(t) = &state.token
            && !refresh_due(t.obtained, t.expires, now)
        {
            return Ok((t.value.clone(), t.generation));
        }
        match self.fetch().await {
            Ok((value, lifetime)) => {
                state.generation += 1;
                let obtained = Instant::now();
                let token = CachedToken {
                    value: value.clone(),
                    obtained,
                    expires: obtained + lifetime,
                    generation: state.generation,
                };
                state.token = Some(token);
                Ok((value, state.generation))
            }
            // A refresh ahead of expiry failed: the old token still works, use it and try
            // again on the next call.
            Err(e) => match &state.token {
                Some(t) if now < t.expires => {
                    tracing::warn!(error = %e, "token refresh failed; using the cached token until it expires");
                    Ok((t.value.clone(), t.generation))
                }
                _ => Err(e),
            },
        }
    }

    async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        // Only the token that was rejected: a concurrent caller may already have replaced it.
        if state.token.as_ref().map(|t| t.generation) == Some(generation) {
            state.token = None;
        }
    }

    /// One token exchange: `(access_token, lifetime)`.
    async fn fetch(&self) -> Result<(SecretString, Duration), ApiError> {
        let (spec, secret) = self.token_request().await?;
        // Boxed: a token request is itself an HTTP request, which may need authorization,
        // making the future type recursive.
        let result = Box::pin(self.http.send_json::<TokenResponse>(spec)).await;
        let response = result.map_err(|e| self.auth_error(e, secret.as_ref()))?;
        let lifetime = response
            .expires_in
            .and_then(|e| e.seconds())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        if response.access_token.expose_secret().is_empty() {
            return Err(ApiError::auth(
                "token endpoint returned an empty access_token",
            ));
        }
        tracing::debug!(
            service = self.http.service(),
            lifetime_s = lifetime.as_secs(),
            "obtained access token"
        );
        Ok((response.access_token, lifetime))
    }

    /// The token request and the secret it carries (to scrub from errors).
    async fn token_request(&self) -> Result<(RequestSpec, Option<SecretString>), ApiError> {
        match &self.exchange {
            Exchange::DatabricksOAuth {
                client_secret,
                account_id,
                ..
            } => {
                let endpoint = match account_id {
                    None => Endpoint::new("/oidc/v1/token", &[]),
                    Some(id) => Endpoint::new("/oidc/accounts/{account_id}/v1/token", &[id]),
                };
                let spec = RequestSpec::post(endpoint)
                    .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
                    .retry_unsafe();
                Ok((spec, Some(client_secret.clone())))
            }
            Exchange::Entra(entra) => {
                let endpoint = Endpoint::new("/{tenant}/oauth2/v2.0/token", &[&entra.tenant_id]);
                let base = [
                    ("grant_type", "client_credentials"),
                    ("client_id", entra.client_id.as_str()),
                    ("scope", entra.scope.as_str()),
                ];
                let (spec, secret) = match &entra.secret {
                    EntraSecret::ClientSecret(s) => {
                        let mut form = base.to_vec();
                        form.push(("client_secret", s.expose_secret()));
                        (RequestSpec::post(endpoint).form(&form), s.clone())
                    }
                    EntraSecret::FederatedTokenFile(path) => {
                        let assertion = read_federated_token(path).await?;
                        let mut form = base.to_vec();
                        form.push(("client_assertion_type", JWT_BEARER_ASSERTION));
                        form.push(("client_assertion", assertion.expose_secret()));
                        (RequestSpec::post(endpoint).form(&form), assertion)
                    }
                };
                // A client-credentials exchange creates nothing: safe to repeat.
                Ok((spec.retry_unsafe(), Some(secret)))
            }
        }
    }

    /// Rejections (4xx) become [`ApiError::Auth`]; throttling and outages pass through so
    /// callers can tell "wrong credentials" from "try later".
    fn auth_error(&self, err: ApiError, secret: Option<&SecretString>) -> ApiError {
        let err = match secret {
            Some(s) => err.redact(s.expose_secret()),
            None => err,
        };
        match err.status() {
            Some(status) if (400..500).contains(&status) && status != 429 => ApiError::Auth {
                message: format!("{} token request rejected: {err}", self.http.service()),
                source: Some(Box::new(err)),
            },
            _ => err,
        }
    }
}

/// Reads the projected service account token; re-read on every exchange because kubelet
/// rotates the file.
async fn read_federated_token(path: &std::path::Path) -> Result<SecretString, ApiError> {
    let text = tokio::fs::read_to_string(path).await.map_err(|e| {
        ApiError::auth(format!(
            "cannot read federated token file {}: {}",
            path.display(),
            e.kind()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ApiError::auth(format!(
            "federated token file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(token))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<Seconds>,
}

/// `expires_in` is a number from Entra ID and Databricks, a string from some ADFS versions.
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    fn seconds(&self) -> Option<u64> {
        match self {
            Seconds::Number(n) => Some(*n),
            Seconds::Text(t) => t.trim().parse().ok(),
        }
    }
}

/// Whether a token obtained at `obtained` and expiring at `expires` should be replaced at
/// `now`: when less than min(5 min, 10% of its lifetime) remains.
pub(crate) fn refresh_due(obtained: Instant, expires: Instant, now: Instant) -> bool {
    let lifetime = expires.saturating_duration_since(obtained);
    let window = MAX_REFRESH_WINDOW.min(lifetime.mul_f64(REFRESH_FRACTION));
    now + window >= expires
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-value-1234";

    fn all_credentials() -> Vec<Credential> {
        vec![
            Credential::PersonalAccessToken(SECRET.into()),
            Credential::DatabricksOAuth {
                client_id: "cid".into(),
                client_secret: SECRET.into(),
            },
            Credential::AzureClientSecret {
                tenant_id: "tid".into(),
                client_id: "cid".into(),
                client_secret: SECRET.into(),
            },
            Credential::AzureWorkloadIdentity {
                tenant_id: "tid".into(),
                client_id: "cid".into(),
                token_file: "/var/run/secrets/azure/tokens/azure-identity-token".into(),
            },
        ]
    }

    #[test]
    fn credential_debug_is_redacted() {
        for c in all_credentials() {
            let text = format!("{c:?} {c:#?}");
            assert!(!text.contains(SECRET), "{text}");
            if !matches!(c, Credential::AzureWorkloadIdentity { .. }) {
                assert!(text.contains("[REDACTED]"), "{text}");
            }
        }
    }

    #[test]
    fn authorizer_and_provider_debug_are_redacted() {
        let http = HttpOptions::default();
        let ws = Url::parse("http://127.0.0.1:1/ws/ws-1").unwrap();
        let authority = Url::parse("http://127.0.0.1:1/aad").unwrap();
        for c in all_credentials() {
            let a = Authorizer::for_databricks(&c, &ws, None, &authority, &http).unwrap();
            let text = format!("{a:?}");
            assert!(!text.contains(SECRET), "{text}");
            assert!(text.contains("[REDACTED]"), "{text}");
        }
        let basic = Authorizer::Basic {
            username: "u".into(),
            password: SECRET.into(),
        };
        assert!(!format!("{basic:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn authorization_headers_are_sensitive() {
        let a = Authorizer::Bearer(SECRET.into());
        let auth = a.authorization().await.unwrap().unwrap();
        assert!(auth.header.is_sensitive());
        assert!(!format!("{:?}", auth.header).contains(SECRET));
        assert_eq!(auth.generation, None);
        let b = Authorizer::Basic {
            username: "Aladdin".into(),
            password: "open sesame".into(),
        };
        let auth = b.authorization().await.unwrap().unwrap();
        assert_eq!(
            auth.header.to_str().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn arm_rejects_databricks_only_credentials() {
        let authority = Url::parse(DEFAULT_AUTHORITY_HOST).unwrap();
        let http = HttpOptions::default();
        for c in all_credentials() {
            let r = Authorizer::for_arm(&c, &authority, ARM_SCOPE, &http);
            assert_eq!(r.is_ok(), c.is_azure(), "{c:?}");
            if let Err(e) = r {
                assert!(e.is_unauthenticated());
            }
        }
    }

    #[test]
    fn refresh_window_is_min_of_five_minutes_and_ten_percent() {
        let t0 = Instant::now();
        // One hour: window is 5 minutes.
        let exp = t0 + Duration::from_secs(3600);
        assert!(!refresh_due(t0, exp, t0 + Duration::from_secs(3294)));
        assert!(refresh_due(t0, exp, t0 + Duration::from_secs(3300)));
        // Ten minutes: window is 60 seconds.
        let exp = t0 + Duration::from_secs(600);
        assert!(!refresh_due(t0, exp, t0 + Duration::from_secs(539)));
        assert!(refresh_due(t0, exp, t0 + Duration::from_secs(540)));
        // Expired long ago.
        assert!(refresh_due(t0, exp, t0 + Duration::from_secs(10_000)));
        // Zero lifetime is always due.
        assert!(refresh_due(t0, t0, t0));
    }

    #[test]
    fn token_response_accepts_string_expiry() {
        let r: TokenResponse = serde_json::from_str(
            r#"{"access_token":"a","expires_in":"3599","token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(r.expires_in.and_then(|e| e.seconds()), Some(3599));
        let r: TokenResponse = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        assert!(r.expires_in.is_none());
    }

    #[tokio::test]
    async fn missing_token_file_is_an_auth_error() {
        let e = read_federated_token(std::path::Path::new("/nonexistent/token"))
            .await
            .unwrap_err();
        assert!(e.is_unauthenticated());
        assert!(e.to_string().contains("/nonexistent/token"));
    }
}
