//! Workspace identity endpoints: host metadata and OIDC discovery (what the SDKs probe at
//! start-up), the Databricks OAuth M2M token endpoint, and SCIM `Me`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::InWorkspace;
use crate::app::{App, ViaOwnHost};
use crate::auth;
use crate::errors::{ApiError, OAuthError, Reply};
use crate::state::{Audience, PrincipalKind};

#[derive(Deserialize)]
pub struct WsPath {
    ws: String,
}

/// `GET /.well-known/databricks-config`.
pub async fn host_metadata(
    State(app): State<App>,
    Path(p): Path<WsPath>,
    via: Option<Extension<ViaOwnHost>>,
) -> Reply {
    let base = app.request_base(&p.ws, via.as_deref());
    let mut world = app.world();
    let ws = world
        .workspaces
        .get(&p.ws)
        .ok_or_else(|| ApiError::not_found(format!("Workspace {} does not exist", p.ws)))?;
    Ok(Json(json!({
        "oidc_endpoint": format!("{base}/oidc"),
        "workspace_id": ws.workspace_id.to_string(),
    })))
}

/// `GET /oidc/.well-known/oauth-authorization-server`.
pub async fn oidc_discovery(
    State(app): State<App>,
    Path(p): Path<WsPath>,
    via: Option<Extension<ViaOwnHost>>,
) -> Json<Value> {
    let base = app.request_base(&p.ws, via.as_deref());
    Json(oidc_metadata(&format!("{base}/oidc")))
}

/// The OAuth authorization server metadata of the Databricks OIDC endpoint `oidc` (a
/// workspace's `{host}/oidc` or an account's `{host}/oidc/accounts/{id}`).
pub fn oidc_metadata(oidc: &str) -> Value {
    json!({
        "issuer": oidc,
        "authorization_endpoint": format!("{oidc}/v1/authorize"),
        "token_endpoint": format!("{oidc}/v1/token"),
        "jwks_uri": format!("{oidc}/v1/keys"),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "scopes_supported": ["all-apis", "offline_access", "openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    })
}

/// `POST /oidc/v1/token`: client credentials via HTTP Basic or the form.
pub async fn oidc_token(
    State(app): State<App>,
    Path(p): Path<WsPath>,
    via: Option<Extension<ViaOwnHost>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client_id, scope) = match client_credentials(&app, &headers, &body) {
        Ok(granted) => granted,
        Err(refused) => return refused.into_response(),
    };
    let lifetime = app.config().token_lifetime;
    let issuer = format!("{}/oidc", app.request_base(&p.ws, via.as_deref()));
    let token = {
        let mut world = app.world();
        if !world.workspaces.contains_key(&p.ws) {
            return OAuthError::new(
                StatusCode::NOT_FOUND,
                "invalid_request",
                "Unknown workspace",
            )
            .into_response();
        }
        auth::issue(
            &mut world,
            Audience::Workspace(p.ws.clone()),
            &client_id,
            &issuer,
            lifetime,
        )
    };
    token_response(&token, lifetime, &scope)
}

/// A Databricks OAuth M2M token request (a workspace's `/oidc/v1/token` or an account's
/// `/oidc/accounts/{id}/v1/token`): `grant_type=client_credentials` with the configured secret,
/// in HTTP Basic (databricks-sdk-py `ClientCredentials(use_header=True)`) or in the form. The
/// client id and the granted scope (`all-apis` unless asked otherwise), or the OAuth error to
/// answer.
pub fn client_credentials(
    app: &App,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, String), OAuthError> {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body).into_owned().collect();
    let grant = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    if grant != "client_credentials" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type '{grant}' is not supported; use client_credentials"),
        ));
    }
    let (client_id, secret) = match auth::basic(headers) {
        Some(creds) => creds,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if client_id.is_empty() || secret != app.config().client_secret {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        ));
    }
    let scope = form
        .get("scope")
        .cloned()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "all-apis".to_string());
    Ok((client_id, scope))
}

/// The token endpoint's answer.
pub fn token_response(token: &str, lifetime: std::time::Duration, scope: &str) -> Response {
    Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": scope,
    }))
    .into_response()
}

/// `GET /api/2.0/preview/scim/v2/Me`.
pub async fn scim_me(call: InWorkspace) -> Reply {
    call.run(|_| {
        let p = &call.caller.principal;
        let groups: Vec<Value> = p
            .groups
            .iter()
            .map(|g| json!({"display": g, "type": "direct", "value": format!("group-{g}")}))
            .collect();
        let mut me = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": p.id.to_string(),
            "userName": p.name,
            "displayName": p.display_name,
            "active": true,
            "groups": groups,
        });
        match p.kind {
            PrincipalKind::User => {
                me["emails"] = json!([{"value": p.name, "type": "work", "primary": true}]);
            }
            PrincipalKind::ServicePrincipal => {
                me["applicationId"] = json!(p.name);
            }
        }
        Ok(Json(me))
    })
}
