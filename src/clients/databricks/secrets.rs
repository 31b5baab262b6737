//! Secret scopes and their ACLs (never secret values).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::{Endpoint, RequestSpec};

const SECRET_SCOPES: &str = "/api/2.0/secrets/scopes/list";
const SECRET_ACLS: &str = "/api/2.0/secrets/acls/list";
const SECRET_ACL_PUT: &str = "/api/2.0/secrets/acls/put";
const SECRET_ACL_DELETE: &str = "/api/2.0/secrets/acls/delete";

// ---------------------------------------------------------------------------------------------
// Secrets

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecretScope {
    #[serde(default)]
    pub name: String,
    /// `DATABRICKS` or `AZURE_KEYVAULT`.
    pub backend_type: Option<String>,
    pub keyvault_metadata: Option<Value>,
}

#[derive(Deserialize)]
struct SecretScopesResponse {
    #[serde(default)]
    scopes: Vec<SecretScope>,
}

/// `READ`, `WRITE` or `MANAGE`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum AclPermission {
    Read,
    Write,
    Manage,
    #[default]
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AclItem {
    #[serde(default)]
    pub principal: String,
    #[serde(default)]
    pub permission: AclPermission,
}

#[derive(Deserialize)]
struct AclItemsResponse {
    #[serde(default)]
    items: Vec<AclItem>,
}

impl DatabricksClient {
    // --- secrets -----------------------------------------------------------------------------

    pub async fn list_secret_scopes(&self) -> Result<Vec<SecretScope>, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(SECRET_SCOPES, &[]));
        Ok(self.send_json::<SecretScopesResponse>(spec).await?.scopes)
    }

    pub async fn list_secret_acls(&self, scope: &str) -> Result<Vec<AclItem>, ApiError> {
        let spec = RequestSpec::get(Endpoint::new(SECRET_ACLS, &[])).query("scope", scope);
        Ok(self.send_json::<AclItemsResponse>(spec).await?.items)
    }

    /// Creates or overwrites a principal's ACL on a scope. A put is idempotent, so retried.
    pub async fn put_secret_acl(
        &self,
        scope: &str,
        principal: &str,
        permission: AclPermission,
    ) -> Result<(), ApiError> {
        let body = json!({ "scope": scope, "principal": principal, "permission": permission });
        let spec = RequestSpec::post(Endpoint::new(SECRET_ACL_PUT, &[]))
            .json(&body)?
            .retry_unsafe();
        self.send(spec).await.map(drop)
    }

    /// Removes a principal's ACL. Retried: a repeat after a lost response answers
    /// `RESOURCE_DOES_NOT_EXIST` ([`ApiError::is_not_found`]), which callers treat as done.
    pub async fn delete_secret_acl(&self, scope: &str, principal: &str) -> Result<(), ApiError> {
        let body = json!({ "scope": scope, "principal": principal });
        let spec = RequestSpec::post(Endpoint::new(SECRET_ACL_DELETE, &[]))
            .json(&body)?
            .retry_unsafe();
        self.send(spec).await.map(drop)
    }
}
