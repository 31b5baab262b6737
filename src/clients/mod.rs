//! Remote API clients: Databricks workspace REST API, Azure Resource Manager and the token
//! endpoints behind them.
//!
//! Clients know no policy and no Kubernetes: they speak the wire format, retry what is safe to
//! retry, rate-limit per host, report each attempt to a [`RequestObserver`] and keep secrets out
//! of every `Debug`, `Display` and log line.

pub mod arm;
pub mod auth;
pub mod databricks;
pub mod error;
pub mod http;

use url::Url;

pub use arm::ArmClient;
pub use auth::{Credential, TokenProvider};
pub use databricks::DatabricksClient;
pub use error::ApiError;
pub use http::{
    HttpClient, HttpOptions, NoopObserver, RateLimit, RequestLabels, RequestObserver, RetryPolicy,
    install_crypto_provider,
};

/// Options of [`DatabricksClient`] and [`ArmClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Timeouts, retries, rate limit and metrics hook, shared by API and token requests.
    pub http: HttpOptions,
    /// Entra ID authority, e.g. `https://login.microsoftonline.com` or the emulator's
    /// `http://127.0.0.1:PORT/aad`.
    pub authority_host: Url,
    /// Entra ID scope of ARM tokens (differs in sovereign clouds).
    pub arm_scope: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            http: HttpOptions::default(),
            authority_host: auth::default_authority_host(),
            arm_scope: auth::ARM_SCOPE.to_string(),
        }
    }
}
