//! The Entra ID (Azure AD) v2.0 token endpoint at `/aad/{tenant}/oauth2/v2.0/token`
//! (the `AZURE_AUTHORITY_HOST` convention) and its OpenID discovery document.
//!
//! `client_credentials` only, authenticated by `client_secret` or by a JWT
//! `client_assertion` (workload identity federation). The token's audience comes from
//! `scope`: `2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default` for Azure Databricks,
//! `https://management.azure.com/.default` for ARM.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::app::App;
use super::auth;
use super::errors::OAuthError;
use super::state::{Audience, DATABRICKS_RESOURCE_ID};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Deserialize)]
pub struct TenantPath {
    tenant: String,
}

/// Maps a `scope` to the audience of the token it asks for.
pub fn audience_for_scope(scope: &str) -> Option<Audience> {
    let resource = scope
        .split_whitespace()
        .find_map(|s| s.strip_suffix("/.default"))?
        .trim_end_matches('/');
    match resource {
        r if r == DATABRICKS_RESOURCE_ID => Some(Audience::AzureDatabricks),
        "https://management.azure.com" | "https://management.core.windows.net" => {
            Some(Audience::Arm)
        }
        _ => None,
    }
}

/// `POST /aad/{tenant}/oauth2/v2.0/token`.
pub async fn token(State(app): State<App>, Path(p): Path<TenantPath>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match issue(&app, &p.tenant, &form) {
        Ok(body) => Json(body).into_response(),
        Err(err) => err.into_response(),
    }
}

fn issue(app: &App, tenant: &str, form: &HashMap<String, String>) -> Result<Value, OAuthError> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return Err(OAuthError::aad(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. Only client_credentials is supported by the emulator.",
        ));
    }
    let required = |name: &str| match field(name) {
        "" => Err(OAuthError::aad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{name}'."),
        )),
        value => Ok(value),
    };
    let client_id = required("client_id")?;
    let scope = required("scope")?;
    let secret = field("client_secret");
    let assertion = field("client_assertion");
    if !assertion.is_empty() {
        if field("client_assertion_type") != JWT_BEARER {
            return Err(OAuthError::aad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "Invalid client_assertion_type: expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ));
        }
        if !auth::is_jwt(assertion) {
            return Err(OAuthError::aad(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            ));
        }
    } else if secret != app.config().client_secret {
        return Err(OAuthError::aad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the \
                 client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    let Some(audience) = audience_for_scope(scope) else {
        return Err(OAuthError::aad(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            500011,
            &format!(
                "The resource principal named {scope} was not found in the tenant named {tenant}. \
                 The emulator knows {DATABRICKS_RESOURCE_ID}/.default and https://management.azure.com/.default."
            ),
        ));
    };
    let lifetime = app.config().token_lifetime;
    let issuer = format!("{}/{tenant}/v2.0", app.authority_host());
    let token = {
        let mut world = app.world();
        auth::issue(&mut world, audience, client_id, &issuer, lifetime)
    };
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    }))
}

/// `GET /aad/{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(app): State<App>,
    Path(p): Path<TenantPath>,
) -> Json<Value> {
    let authority = format!("{}/{}", app.authority_host(), p.tenant);
    Json(json!({
        "issuer": format!("{authority}/v2.0"),
        "token_endpoint": format!("{authority}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{authority}/oauth2/v2.0/authorize"),
        "jwks_uri": format!("{authority}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "tenant_region_scope": "EU",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_to_audience() {
        assert_eq!(
            audience_for_scope("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"),
            Some(Audience::AzureDatabricks)
        );
        assert_eq!(
            audience_for_scope("https://management.azure.com/.default"),
            Some(Audience::Arm)
        );
        assert_eq!(
            audience_for_scope("https://management.core.windows.net//.default"),
            Some(Audience::Arm)
        );
        assert_eq!(
            audience_for_scope("https://graph.microsoft.com/.default"),
            None
        );
        assert_eq!(audience_for_scope("all-apis"), None);
    }
}
