//! Error envelopes of the three services the emulator imitates.
//!
//! * Databricks REST: `{"error_code": "...", "message": "...", "details"?: [...]}`.
//! * Azure Resource Manager: `{"error": {"code": "...", "message": "..."}}`.
//! * Entra ID / OAuth token endpoints: `{"error": "...", "error_description": "...", ...}`.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What a Databricks API handler answers: a JSON body, or the error envelope.
pub type Reply = Result<Json<Value>, ApiError>;

/// A Databricks REST API error (`{error_code, message, details?}`).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_code: String,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u64>,
    /// The workspace gateway (authentication, IP access lists) answers with the HTTP status as
    /// a JSON number in `error_code` (`{"error_code": 403, "message": "Invalid access token."}`),
    /// unlike the API services behind it, whose codes are strings.
    pub numeric_code: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code: error_code.to_string(),
            message: message.into(),
            details: None,
            retry_after: None,
            numeric_code: false,
        }
    }

    /// An error of the workspace gateway: `error_code` is the HTTP status, as a number.
    /// Observed real answers (quoted in public bug reports and client code):
    /// `401 {"error_code":401,"message":"Credential was not sent or was of an unsupported type
    /// for this API."}`, `403 {"error_code":403,"message":"Invalid access token."}` and
    /// `403 {"error_code":403,"message":"Source IP address: X is blocked by Databricks IP ACL for
    /// workspace: N"}`. databricks-sdk-py maps them by status (no string code to match):
    /// `Unauthenticated` for 401, `PermissionDenied` for 403.
    pub fn gateway(status: StatusCode, message: impl Into<String>) -> Self {
        let mut err = Self::new(status, &status.as_u16().to_string(), message);
        err.numeric_code = true;
        err
    }

    /// 401: no credentials (or an unsupported scheme).
    pub fn no_credentials() -> Self {
        Self::gateway(
            StatusCode::UNAUTHORIZED,
            "Credential was not sent or was of an unsupported type for this API.",
        )
    }

    /// 403: a bearer token the workspace does not accept (unknown, expired, revoked, issued for
    /// another workspace or audience).
    pub fn invalid_token() -> Self {
        Self::gateway(StatusCode::FORBIDDEN, "Invalid access token.")
    }

    /// 403 `FEATURE_DISABLED`: a Premium-only API on a Standard-tier workspace.
    ///
    /// `FEATURE_DISABLED` is the code Databricks uses for "a feature unavailable for the
    /// workspace" (databricks-sdk-py `jobs.TerminationCodeCode.FEATURE_DISABLED`); the exact
    /// status and wording of the Standard-tier refusal is not documented publicly.
    pub fn premium_only(feature: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "FEATURE_DISABLED",
            format!(
                "{feature} is not available in your pricing tier: it requires the Premium tier."
            ),
        )
    }

    /// 400 `INVALID_PARAMETER_VALUE`.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// 400 `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// 400 `INVALID_STATE`.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_STATE", message)
    }

    /// 400 `MALFORMED_REQUEST` (unparsable JSON body).
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", message)
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// 400 `RESOURCE_ALREADY_EXISTS`.
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", message)
    }

    /// 403 `PERMISSION_DENIED`.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", message)
    }

    /// 401 `UNAUTHENTICATED`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
    }

    /// 404 `ENDPOINT_NOT_FOUND` for a path no API serves.
    pub fn endpoint_not_found(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            format!("No API found for '{method} {path}'"),
        )
    }

    /// 405 for a known path used with the wrong method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "ENDPOINT_NOT_FOUND",
            format!("Method {method} is not allowed for '{path}'"),
        )
    }

    /// 409 `RESOURCE_CONFLICT` for a stale settings etag; the fresh etag travels in an
    /// `ErrorInfo` detail (`metadata.etag`), which is where the official SDKs and the
    /// Terraform provider read it from to retry.
    pub fn stale_etag(setting: &str, current_etag: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "RESOURCE_CONFLICT",
            format!(
                "Setting {setting} was updated concurrently: the etag in the request is stale. \
                 Retry with the etag in the error details."
            ),
        )
        .with_etag(current_etag)
    }

    /// 404 `NOT_FOUND` for a settings PATCH without an etag on a setting nobody wrote; the
    /// current etag travels in an `ErrorInfo` detail, as with [`ApiError::stale_etag`].
    pub fn missing_setting(setting: &str, current_etag: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "Setting {setting} does not exist yet: retry with the etag in the error details."
            ),
        )
        .with_etag(current_etag)
    }

    /// The settings `ErrorInfo` detail (reason: the error code) carrying `etag`.
    fn with_etag(mut self, etag: &str) -> Self {
        self.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": self.error_code,
            "domain": "settings.databricks.com",
            "metadata": {"etag": etag}
        }]));
        self
    }

    /// An injected fault (429/503/5xx...) with the envelope the real service uses.
    pub fn fault(status: StatusCode, retry_after: Option<u64>) -> Self {
        let (code, message) = match status.as_u16() {
            429 => (
                "REQUEST_LIMIT_EXCEEDED",
                "Too many requests. Please wait a moment and try again.",
            ),
            503 => (
                "TEMPORARILY_UNAVAILABLE",
                "The service is temporarily unavailable. Please try again later.",
            ),
            500 => (
                "INTERNAL_ERROR",
                "Internal error (injected by the emulator).",
            ),
            504 => ("DEADLINE_EXCEEDED", "The request timed out."),
            502 => ("TEMPORARILY_UNAVAILABLE", "Bad gateway."),
            401 => ("UNAUTHENTICATED", "Invalid access token."),
            403 => (
                "PERMISSION_DENIED",
                "Permission denied (injected by the emulator).",
            ),
            404 => (
                "RESOURCE_DOES_NOT_EXIST",
                "Not found (injected by the emulator).",
            ),
            409 => ("RESOURCE_CONFLICT", "Conflict (injected by the emulator)."),
            _ => ("BAD_REQUEST", "Error injected by the emulator."),
        };
        let mut err = Self::new(status, code, message);
        err.retry_after = retry_after;
        err
    }

    pub fn body(&self) -> Value {
        let code = if self.numeric_code {
            json!(self.status.as_u16())
        } else {
            json!(self.error_code)
        };
        let mut body = json!({"error_code": code, "message": self.message});
        if let Some(details) = &self.details {
            body["details"] = details.clone();
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error_code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        add_retry_after(&mut response, self.retry_after);
        response
    }
}

/// The fallback of the routers: a path no API serves.
pub async fn not_found(method: Method, request: Request) -> Response {
    ApiError::endpoint_not_found(method.as_str(), request.uri().path()).into_response()
}

/// The fallback of the routers for a known path used with the wrong method.
pub async fn method_not_allowed(method: Method, request: Request) -> Response {
    ApiError::method_not_allowed(method.as_str(), request.uri().path()).into_response()
}

/// An Azure Resource Manager error (`{"error": {"code", "message"}}`).
#[derive(Debug, Clone)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn fault(status: StatusCode, retry_after: Option<u64>) -> Self {
        let (code, message) = match status.as_u16() {
            429 => (
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type.",
            ),
            503 => (
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            500 => ("InternalServerError", "Encountered internal server error."),
            504 => (
                "GatewayTimeout",
                "The gateway did not receive a response in time.",
            ),
            _ => ("BadRequest", "Error injected by the emulator."),
        };
        let mut err = Self::new(status, code, message);
        err.retry_after = retry_after;
        err
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", \
                     error=\"invalid_token\", error_description=\"The authentication failed\"",
                ),
            );
        }
        add_retry_after(&mut response, self.retry_after);
        response
    }
}

/// An OAuth 2.0 token endpoint error (Entra ID adds `error_codes`, trace and correlation ids).
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: String,
    pub description: String,
    pub aad_code: Option<u32>,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_string(),
            description: description.into(),
            aad_code: None,
            retry_after: None,
        }
    }

    /// An Entra ID (AADSTS) error: the description is prefixed with `AADSTS{code}: `.
    pub fn aad(status: StatusCode, error: &str, code: u32, description: &str) -> Self {
        let mut err = Self::new(status, error, format!("AADSTS{code}: {description}"));
        err.aad_code = Some(code);
        err
    }

    pub fn fault(status: StatusCode, retry_after: Option<u64>) -> Self {
        let error = match status.as_u16() {
            429 | 503 => "temporarily_unavailable",
            s if s >= 500 => "server_error",
            _ => "invalid_request",
        };
        let mut err = Self::new(status, error, "Error injected by the emulator.");
        err.retry_after = retry_after;
        err
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.error, "error_description": self.description});
        if let Some(code) = self.aad_code {
            let trace = uuid::Uuid::new_v4().to_string();
            let correlation = uuid::Uuid::new_v4().to_string();
            body["error_description"] = Value::String(format!(
                "{} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {}",
                self.description,
                jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%SZ")
            ));
            body["error_codes"] = json!([code]);
            body["timestamp"] = json!(
                jiff::Timestamp::now()
                    .strftime("%Y-%m-%d %H:%M:%SZ")
                    .to_string()
            );
            body["trace_id"] = json!(trace);
            body["correlation_id"] = json!(correlation);
            body["error_uri"] = json!(format!(
                "https://login.microsoftonline.com/error?code={code}"
            ));
        }
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        add_retry_after(&mut response, self.retry_after);
        response
    }
}

fn add_retry_after(response: &mut Response, retry_after: Option<u64>) {
    if let Some(seconds) = retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_etag_carries_fresh_etag_in_error_info() {
        let err = ApiError::stale_etag("restrict_workspace_admins", "abc");
        let body = err.body();
        assert_eq!(body["error_code"], "RESOURCE_CONFLICT");
        assert_eq!(body["details"][0]["metadata"]["etag"], "abc");
        assert_eq!(
            body["details"][0]["@type"],
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
    }

    #[test]
    fn fault_envelopes_use_real_codes() {
        assert_eq!(
            ApiError::fault(StatusCode::TOO_MANY_REQUESTS, Some(2)).error_code,
            "REQUEST_LIMIT_EXCEEDED"
        );
        assert_eq!(
            ApiError::fault(StatusCode::SERVICE_UNAVAILABLE, None).error_code,
            "TEMPORARILY_UNAVAILABLE"
        );
        assert_eq!(
            ArmError::fault(StatusCode::TOO_MANY_REQUESTS, None).code,
            "TooManyRequests"
        );
    }
}
