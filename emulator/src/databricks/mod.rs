//! The Databricks workspace REST API, one module per API family. Every module exposes plain
//! functions over [`Workspace`] (testable without HTTP) and thin axum handlers.

pub mod identity;
pub mod ip_access_lists;
pub mod secrets;
pub mod settings;
pub mod tokens;
pub mod workspace_conf;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{Extension, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use super::app::App;
use super::errors::{ApiError, method_not_allowed, not_found};
use super::state::{Caller, Workspace};

/// A JSON request body whose rejection is the Databricks error envelope
/// (`400 MALFORMED_REQUEST`). An empty body reads as `{}`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::malformed(e.to_string()))?;
        let raw: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(raw).map(Body).map_err(|e| {
            ApiError::malformed(format!(
                "Invalid JSON given in the body of the request - {e}"
            ))
        })
    }
}

/// What a workspace handler starts from: the caller the authentication layer resolved, and
/// the app that holds the caller's workspace.
pub struct InWorkspace {
    app: App,
    pub caller: Caller,
}

impl FromRequestParts<App> for InWorkspace {
    type Rejection = ExtensionRejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Extension(caller) = Extension::<Caller>::from_request_parts(parts, app).await?;
        Ok(Self {
            app: app.clone(),
            caller,
        })
    }
}

impl InWorkspace {
    /// Runs `f` on the caller's workspace under the world lock.
    pub fn run<T>(
        &self,
        f: impl FnOnce(&mut Workspace) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut world = self.app.world();
        let name = &self.caller.workspace;
        let ws = world
            .workspaces
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("Workspace {name} does not exist")))?;
        f(ws)
    }
}

/// Routes of one workspace, relative to its base URL (`/ws/{ws}`).
pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/.well-known/databricks-config",
            get(identity::host_metadata),
        )
        .route(
            "/oidc/.well-known/oauth-authorization-server",
            get(identity::oidc_discovery),
        )
        .route("/oidc/v1/token", post(identity::oidc_token))
        .route("/api/2.0/preview/scim/v2/Me", get(identity::scim_me))
        .route(
            "/api/2.0/ip-access-lists",
            get(ip_access_lists::list_handler).post(ip_access_lists::create_handler),
        )
        .route(
            "/api/2.0/ip-access-lists/{list_id}",
            get(ip_access_lists::get_handler)
                .put(ip_access_lists::modify_handler)
                .patch(ip_access_lists::modify_handler)
                .delete(ip_access_lists::delete_handler),
        )
        .route(
            "/api/2.0/workspace-conf",
            get(workspace_conf::get_handler).patch(workspace_conf::patch_handler),
        )
        .route("/api/2.0/token/create", post(tokens::create_handler))
        .route("/api/2.0/token/list", get(tokens::list_handler))
        .route("/api/2.0/token/delete", post(tokens::delete_handler))
        .route(
            "/api/2.0/token-management/tokens",
            get(tokens::management_list_handler),
        )
        .route(
            "/api/2.0/token-management/tokens/{token_id}",
            get(tokens::management_get_handler).delete(tokens::management_delete_handler),
        )
        .route(
            "/api/2.0/token-management/on-behalf-of/tokens",
            post(tokens::obo_create_handler),
        )
        .route(
            "/api/2.0/permissions/authorization/tokens",
            get(tokens::permissions_get_handler)
                .put(tokens::permissions_set_handler)
                .patch(tokens::permissions_set_handler),
        )
        .route(
            "/api/2.0/permissions/authorization/tokens/permissionLevels",
            get(tokens::permission_levels_handler),
        )
        .route(
            "/api/2.0/settings/types/{setting_type}/names/{name}",
            get(settings::get_handler)
                .patch(settings::patch_handler)
                .delete(settings::delete_handler),
        )
        .route(
            "/api/2.0/secrets/scopes/list",
            get(secrets::list_scopes_handler),
        )
        .route(
            "/api/2.0/secrets/scopes/create",
            post(secrets::create_scope_handler),
        )
        .route(
            "/api/2.0/secrets/scopes/delete",
            post(secrets::delete_scope_handler),
        )
        .route(
            "/api/2.0/secrets/acls/list",
            get(secrets::list_acls_handler),
        )
        .route("/api/2.0/secrets/acls/get", get(secrets::get_acl_handler))
        .route("/api/2.0/secrets/acls/put", post(secrets::put_acl_handler))
        .route(
            "/api/2.0/secrets/acls/delete",
            post(secrets::delete_acl_handler),
        )
        .route("/api/2.0/secrets/put", post(secrets::put_secret_handler))
        .route("/api/2.0/secrets/list", get(secrets::list_secrets_handler))
        .route(
            "/api/2.0/secrets/delete",
            post(secrets::delete_secret_handler),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}
