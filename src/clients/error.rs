//! Typed errors for every remote call the clients make.
//!
//! Nothing in an [`ApiError`] — neither its `Display` nor its `Debug` — may carry a token, a
//! client secret, an `Authorization` header or a request body. Messages come from the server's
//! error envelope (which does not echo credentials), from transport errors with their URL's
//! query string removed, and from JSON decode errors with quoted string values blanked out.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

/// Upper bound on how much of a non-JSON error body is quoted in a message.
const MAX_BODY_SNIPPET: usize = 200;

/// Error from a Databricks, ARM or Entra ID call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with a non-success status.
    #[error(
        "{service} {endpoint}: HTTP {status}{}: {message}",
        code_suffix(error_code)
    )]
    Api {
        service: &'static str,
        /// Path template, e.g. `/api/2.0/ip-access-lists/{list_id}`.
        endpoint: &'static str,
        status: u16,
        /// Databricks `error_code`, ARM `error.code` or Entra `error`.
        error_code: Option<String>,
        message: String,
        /// `Retry-After` as sent by the server (not capped).
        retry_after: Option<Duration>,
    },
    /// The request never produced a response (DNS, connect, TLS, reset).
    #[error("{service} {endpoint}: transport error: {message}")]
    Transport {
        service: &'static str,
        endpoint: &'static str,
        message: String,
        /// True when the connection could not be established, so the request was never sent.
        connect: bool,
    },
    /// No response within the configured request timeout.
    #[error("{service} {endpoint}: timed out after {elapsed:?}")]
    Timeout {
        service: &'static str,
        endpoint: &'static str,
        elapsed: Duration,
    },
    /// The response did not have the expected shape.
    #[error("{service} {endpoint}: cannot decode response: {message}")]
    Decode {
        service: &'static str,
        endpoint: &'static str,
        message: String,
    },
    /// Credentials are missing, unreadable or were rejected by the token endpoint.
    #[error("authentication failed: {message}")]
    Auth {
        message: String,
        #[source]
        source: Option<Box<ApiError>>,
    },
    /// The caller asked for something the client cannot express (bad resource id, URL, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

impl ApiError {
    pub(crate) fn auth(message: impl Into<String>) -> Self {
        ApiError::Auth {
            message: message.into(),
            source: None,
        }
    }

    /// The service whose call failed (`None` for auth and invalid-request errors).
    pub fn service(&self) -> Option<&'static str> {
        match self {
            ApiError::Api { service, .. }
            | ApiError::Transport { service, .. }
            | ApiError::Timeout { service, .. }
            | ApiError::Decode { service, .. } => Some(service),
            _ => None,
        }
    }

    /// The endpoint template whose call failed.
    pub fn endpoint(&self) -> Option<&'static str> {
        match self {
            ApiError::Api { endpoint, .. }
            | ApiError::Transport { endpoint, .. }
            | ApiError::Timeout { endpoint, .. }
            | ApiError::Decode { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// HTTP status of an [`ApiError::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Server error code of an [`ApiError::Api`].
    pub fn error_code(&self) -> Option<&str> {
        match self {
            ApiError::Api { error_code, .. } => error_code.as_deref(),
            _ => None,
        }
    }

    /// `Retry-After` the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn code_is(&self, codes: &[&str]) -> bool {
        self.error_code().is_some_and(|c| codes.contains(&c))
    }

    /// 404, or an error code that means the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
            || self.code_is(&[
                "RESOURCE_DOES_NOT_EXIST",
                "NOT_FOUND",
                "ResourceNotFound",
                "ResourceGroupNotFound",
            ])
    }

    /// `INVALID_STATE`: e.g. an IP access list change that would lock the caller out.
    pub fn is_invalid_state(&self) -> bool {
        self.code_is(&["INVALID_STATE"])
    }

    /// 409: a stale settings etag or a concurrent ARM operation.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 429 or a rate-limit error code.
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429) || self.code_is(&["REQUEST_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS"])
    }

    /// 401, credentials that could not produce a token, or the workspace gateway's
    /// `403 Invalid access token.` (how real workspaces reject a bad or expired PAT).
    pub fn is_unauthenticated(&self) -> bool {
        match self {
            ApiError::Auth { .. } => true,
            ApiError::Api {
                status, message, ..
            } => {
                *status == 401
                    || self.code_is(&["UNAUTHENTICATED"])
                    || (*status == 403 && message.contains("Invalid access token"))
            }
            _ => false,
        }
    }

    /// The workspace's pricing tier lacks the API (a Standard workspace asked for a Premium
    /// feature): `FEATURE_DISABLED`, or a message naming the pricing tier.
    pub fn is_tier_refusal(&self) -> bool {
        match self {
            ApiError::Api { message, .. } => {
                self.code_is(&["FEATURE_DISABLED"]) || message.contains("pricing tier")
            }
            _ => false,
        }
    }

    /// 403: authenticated but not allowed.
    pub fn is_permission_denied(&self) -> bool {
        (self.status() == Some(403) || self.code_is(&["PERMISSION_DENIED"]))
            && !self.is_unauthenticated()
    }

    /// Worth trying again later: throttling, server errors, timeouts and transport errors.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Api { status, .. } => is_retryable_status(*status),
            ApiError::Transport { .. } | ApiError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Replaces every occurrence of `secret` in messages with `[REDACTED]`.
    ///
    /// Defence in depth: servers should never echo a credential, but the clients scrub the
    /// secrets they know of before an error leaves them.
    pub(crate) fn redact(self, secret: &str) -> Self {
        if secret.len() < 4 {
            return self; // too short to scrub without mangling unrelated text
        }
        let scrub = |m: String| m.replace(secret, "[REDACTED]");
        match self {
            ApiError::Api {
                service,
                endpoint,
                status,
                error_code,
                message,
                retry_after,
            } => ApiError::Api {
                service,
                endpoint,
                status,
                error_code: error_code.map(scrub),
                message: scrub(message),
                retry_after,
            },
            ApiError::Transport {
                service,
                endpoint,
                message,
                connect,
            } => ApiError::Transport {
                service,
                endpoint,
                message: scrub(message),
                connect,
            },
            ApiError::Decode {
                service,
                endpoint,
                message,
            } => ApiError::Decode {
                service,
                endpoint,
                message: scrub(message),
            },
            ApiError::Auth { message, source } => ApiError::Auth {
                message: scrub(message),
                source: source.map(|s| Box::new(s.redact(secret))),
            },
            ApiError::InvalidRequest(m) => ApiError::InvalidRequest(scrub(m)),
            other @ ApiError::Timeout { .. } => other,
        }
    }

    /// Builds an [`ApiError::Api`] from a non-success response.
    pub(crate) fn from_response(
        service: &'static str,
        endpoint: &'static str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        let (error_code, message) = parse_envelope(body).unwrap_or_else(|| {
            let fallback = status.canonical_reason().unwrap_or("error").to_string();
            (None, body_snippet(body).unwrap_or(fallback))
        });
        ApiError::Api {
            service,
            endpoint,
            status: status.as_u16(),
            error_code,
            message,
            retry_after: parse_retry_after(headers, jiff::Timestamp::now()),
        }
    }

    /// Builds an [`ApiError::Decode`] whose message cannot leak response values.
    pub(crate) fn decode(
        service: &'static str,
        endpoint: &'static str,
        err: &serde_json::Error,
    ) -> Self {
        ApiError::Decode {
            service,
            endpoint,
            message: sanitize_serde_error(err),
        }
    }
}

/// Statuses that are retried: throttling and transient server-side failures.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// The three error envelopes the clients meet, in one permissive shape.
///
/// Databricks: `{error_code, message, details?}` (older APIs: `{error: "text"}`).
/// ARM: `{error: {code, message}}`. Entra ID: `{error, error_description}`.
#[derive(Deserialize)]
struct Envelope {
    /// A string normally; the workspace gateway sends a number (`"error_code": 403`).
    error_code: Option<Code>,
    message: Option<String>,
    error: Option<ErrorField>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Code {
    Text(String),
    Number(i64),
}

impl Code {
    fn into_string(self) -> String {
        match self {
            Code::Text(t) => t,
            Code::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Arm {
        code: Option<String>,
        message: Option<String>,
    },
    Text(String),
}

/// Returns `(error_code, message)` if the body is one of the known JSON envelopes.
pub(crate) fn parse_envelope(body: &[u8]) -> Option<(Option<String>, String)> {
    let env: Envelope = serde_json::from_slice(body).ok()?;
    let error_code = env.error_code.map(Code::into_string);
    match env.error {
        Some(ErrorField::Arm { code, message }) => Some((code, message.unwrap_or_default())),
        // Entra ID: `error` is the code, `error_description` the text.
        Some(ErrorField::Text(code)) if env.error_description.is_some() => {
            Some((Some(code), env.error_description.unwrap_or_default()))
        }
        // Legacy Databricks: `error` is the text.
        Some(ErrorField::Text(text)) => Some((error_code, env.message.unwrap_or(text))),
        None if error_code.is_some() || env.message.is_some() => {
            Some((error_code, env.message.unwrap_or_default()))
        }
        None => None,
    }
}

/// A short, single-line quote of a plain-text error body; of an HTML page (the workspace
/// gateway's `Error 403 Invalid access token.`) only its `<title>`.
fn body_snippet(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let text = if text.starts_with('<') {
        html_title(text)?
    } else {
        text
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!one_line.is_empty()).then(|| one_line.chars().take(MAX_BODY_SNIPPET).collect())
}

fn html_title(html: &str) -> Option<&str> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    html.get(start..end)
}

/// Parses `Retry-After` as delta-seconds or an HTTP-date relative to `now`.
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let delta = now.duration_until(at);
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

/// serde_json's messages quote offending string values (`invalid type: string "..."`), which
/// could be a token in a token response; keep the structure, blank the quoted values.
pub(crate) fn sanitize_serde_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let mut out = String::with_capacity(text.len());
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            if !in_quotes {
                out.push_str("\"…\"");
            }
            in_quotes = !in_quotes;
        } else if !in_quotes {
            out.push(c);
        }
    }
    out
}

/// A URL as text without userinfo, query or fragment.
pub(crate) fn redact_url(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// Describes a reqwest error by its cause chain, without URL query strings.
pub(crate) fn describe_reqwest_error(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut parts = Vec::new();
    let head = if err.is_connect() {
        "connect error"
    } else if err.is_body() || err.is_decode() {
        "error reading response body"
    } else if err.is_request() {
        "error sending request"
    } else {
        "HTTP error"
    };
    parts.push(head.to_string());
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if let Some(url) = err.url() {
        parts.push(format!("url {}", redact_url(url)));
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn api(body: &str, status: u16) -> ApiError {
        ApiError::from_response(
            "databricks",
            "/x",
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn parses_databricks_envelope() {
        let e = api(
            r#"{"error_code":"INVALID_STATE","message":"Your current IP 127.0.0.1 will not be allowed","details":[]}"#,
            400,
        );
        assert!(e.is_invalid_state());
        assert_eq!(e.status(), Some(400));
        assert_eq!(
            e.to_string(),
            "databricks /x: HTTP 400 INVALID_STATE: Your current IP 127.0.0.1 will not be allowed"
        );
    }

    #[test]
    fn parses_arm_envelope() {
        let e = api(
            r#"{"error":{"code":"ResourceNotFound","message":"The Resource was not found."}}"#,
            404,
        );
        assert!(e.is_not_found());
        assert_eq!(e.error_code(), Some("ResourceNotFound"));
    }

    #[test]
    fn parses_entra_envelope() {
        let e = api(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#,
            401,
        );
        assert_eq!(e.error_code(), Some("invalid_client"));
        assert!(e.to_string().contains("AADSTS7000215"));
        assert!(e.is_unauthenticated());
    }

    #[test]
    fn parses_legacy_and_plain_bodies() {
        let e = api(r#"{"error":"Bad Request: missing scope"}"#, 400);
        assert_eq!(e.error_code(), None);
        assert!(e.to_string().ends_with("Bad Request: missing scope"));

        let e = api("upstream connect error\n  or disconnect", 503);
        assert!(
            e.to_string()
                .ends_with("upstream connect error or disconnect")
        );

        let e = api("<html><body>login</body></html>", 502);
        assert!(e.to_string().ends_with("Bad Gateway"));
        assert!(e.is_transient());
    }

    #[test]
    fn gateway_invalid_token_is_unauthenticated() {
        // JSON with a numeric error_code, as workspaces answer a bad PAT.
        let e = api(
            r#"{"error_code": 403, "message": "Invalid access token."}"#,
            403,
        );
        assert_eq!(e.error_code(), Some("403"));
        assert!(e.is_unauthenticated());
        assert!(!e.is_permission_denied());
        // The older HTML page: its title is the message.
        let html = "<html><head><title>Error 403 Invalid access token.</title></head>\n<body><h2>HTTP ERROR 403</h2></body></html>";
        let e = api(html, 403);
        assert!(
            e.to_string().ends_with("Error 403 Invalid access token."),
            "{e}"
        );
        assert!(e.is_unauthenticated());
        let e = api(
            r#"{"error_code":"PERMISSION_DENIED","message":"not an admin"}"#,
            403,
        );
        assert!(e.is_permission_denied());
        assert!(!e.is_unauthenticated());
    }

    #[test]
    fn classifies_statuses() {
        assert!(api("{}", 409).is_conflict());
        assert!(api("{}", 429).is_throttled());
        assert!(
            api(
                r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow"}"#,
                400
            )
            .is_throttled()
        );
        assert!(
            api(
                r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no"}"#,
                400
            )
            .is_not_found()
        );
        assert!(!api("{}", 400).is_transient());
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_millis(500)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 01 Jan 2025 00:00:30 GMT"),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(30)));
        // A date in the past means "now".
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Tue, 31 Dec 2024 23:00:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-3"));
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn decode_errors_blank_string_values() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            expires_in: u64,
        }
        let err = serde_json::from_str::<T>(r#"{"expires_in":"eyJ0eXAi.secret.sig"}"#).unwrap_err();
        let e = ApiError::decode("entra", "/t", &err);
        let text = format!("{e} {e:?}");
        assert!(!text.contains("eyJ0eXAi"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
    }

    #[test]
    fn redact_scrubs_known_secret() {
        let e = api(
            r#"{"error_code":"X","message":"token dapi-123456 is bad"}"#,
            401,
        )
        .redact("dapi-123456");
        assert!(!format!("{e} {e:?}").contains("dapi-123456"));
    }

    #[test]
    fn redact_url_strips_query_and_userinfo() {
        let u = url::Url::parse("https://user:pw@h.example/a/b?code=secret#frag").unwrap();
        assert_eq!(redact_url(&u), "https://h.example/a/b");
    }
}
