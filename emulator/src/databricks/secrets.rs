//! `/api/2.0/secrets/*`: scopes, ACLs and secret metadata. Secret values are accepted by
//! `secrets/put` and immediately dropped: the emulator never stores or returns them.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::Query;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Body, InWorkspace};
use crate::errors::{ApiError, Reply};
use crate::state::{Caller, SecretMeta, SecretScope, Workspace, now_ms};

/// The query string of the GET endpoints.
type Params = HashMap<String, String>;

const PERMISSIONS: &[&str] = &["READ", "WRITE", "MANAGE"];

#[derive(Debug, Default, Deserialize)]
pub struct ScopeRequest {
    pub scope: Option<String>,
    pub initial_manage_principal: Option<String>,
    pub scope_backend_type: Option<String>,
    pub backend_azure_keyvault: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AclRequest {
    pub scope: Option<String>,
    pub principal: Option<String>,
    pub permission: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SecretRequest {
    pub scope: Option<String>,
    pub key: Option<String>,
    pub string_value: Option<String>,
    pub bytes_value: Option<String>,
}

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter(format!("Missing required field: {field}")))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

fn scope_mut<'a>(ws: &'a mut Workspace, scope: &str) -> Result<&'a mut SecretScope, ApiError> {
    ws.secret_scopes
        .get_mut(scope)
        .ok_or_else(|| ApiError::not_found(format!("Scope {scope} does not exist!")))
}

fn scope_ref<'a>(ws: &'a Workspace, scope: &str) -> Result<&'a SecretScope, ApiError> {
    ws.secret_scopes
        .get(scope)
        .ok_or_else(|| ApiError::not_found(format!("Scope {scope} does not exist!")))
}

pub fn create_scope(
    ws: &mut Workspace,
    caller: &Caller,
    req: ScopeRequest,
) -> Result<(), ApiError> {
    let name = required(req.scope, "scope")?;
    if !valid_name(&name) {
        return Err(ApiError::invalid_parameter(format!(
            "Scope name '{name}' is invalid: it must consist of alphanumeric characters, dashes, \
             underscores, '@' and periods, and may not exceed 128 characters."
        )));
    }
    if ws.secret_scopes.contains_key(&name) {
        return Err(ApiError::already_exists(format!(
            "Scope {name} already exists!"
        )));
    }
    let backend_type = req
        .scope_backend_type
        .unwrap_or_else(|| "DATABRICKS".into());
    let keyvault_metadata = match backend_type.as_str() {
        "DATABRICKS" => None,
        "AZURE_KEYVAULT" => Some(req.backend_azure_keyvault.ok_or_else(|| {
            ApiError::invalid_parameter(
                "backend_azure_keyvault is required for AZURE_KEYVAULT scopes",
            )
        })?),
        other => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid scope_backend_type '{other}': must be one of [DATABRICKS, AZURE_KEYVAULT]"
            )));
        }
    };
    let mut acls = BTreeMap::new();
    match req.initial_manage_principal.as_deref() {
        None | Some("") => {
            acls.insert(
                caller.principal.acl_name().to_string(),
                "MANAGE".to_string(),
            );
        }
        Some("users") => {
            acls.insert("users".to_string(), "MANAGE".to_string());
        }
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "initial_manage_principal must be 'users' or omitted, got '{other}'"
            )));
        }
    }
    ws.secret_scopes.insert(
        name.clone(),
        SecretScope {
            name,
            backend_type,
            keyvault_metadata,
            acls,
            secrets: BTreeMap::new(),
        },
    );
    Ok(())
}

pub fn put_acl(ws: &mut Workspace, req: AclRequest) -> Result<(), ApiError> {
    let scope = required(req.scope, "scope")?;
    let principal = required(req.principal, "principal")?;
    let permission = required(req.permission, "permission")?;
    if !PERMISSIONS.contains(&permission.as_str()) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid permission '{permission}': must be one of [READ, WRITE, MANAGE]"
        )));
    }
    scope_mut(ws, &scope)?.acls.insert(principal, permission);
    Ok(())
}

pub fn delete_acl(ws: &mut Workspace, req: AclRequest) -> Result<(), ApiError> {
    let scope = required(req.scope, "scope")?;
    let principal = required(req.principal, "principal")?;
    let s = scope_mut(ws, &scope)?;
    if s.acls.remove(&principal).is_none() {
        return Err(ApiError::not_found(format!(
            "Failed to delete secret ACL for principal {principal} on scope {scope}: no such ACL."
        )));
    }
    Ok(())
}

fn acl_items(scope: &SecretScope) -> Vec<Value> {
    scope
        .acls
        .iter()
        .map(|(principal, permission)| json!({"principal": principal, "permission": permission}))
        .collect()
}

pub async fn list_scopes_handler(call: InWorkspace) -> Reply {
    call.run(|ws| {
        let scopes: Vec<Value> = ws
            .secret_scopes
            .values()
            .map(|s| {
                let mut v = json!({"name": s.name, "backend_type": s.backend_type});
                if let Some(meta) = &s.keyvault_metadata {
                    v["keyvault_metadata"] = meta.clone();
                }
                v
            })
            .collect();
        Ok(Json(json!({"scopes": scopes})))
    })
}

pub async fn create_scope_handler(call: InWorkspace, Body(req): Body<ScopeRequest>) -> Reply {
    call.run(|ws| create_scope(ws, &call.caller, req))?;
    Ok(Json(json!({})))
}

pub async fn delete_scope_handler(call: InWorkspace, Body(req): Body<ScopeRequest>) -> Reply {
    let scope = required(req.scope, "scope")?;
    call.run(|ws| {
        ws.secret_scopes
            .remove(&scope)
            .map(|_| Json(json!({})))
            .ok_or_else(|| ApiError::not_found(format!("Scope {scope} does not exist!")))
    })
}

pub async fn list_acls_handler(call: InWorkspace, Query(query): Query<Params>) -> Reply {
    let scope = required(query.get("scope").cloned(), "scope")?;
    call.run(|ws| Ok(Json(json!({"items": acl_items(scope_ref(ws, &scope)?)}))))
}

pub async fn get_acl_handler(call: InWorkspace, Query(query): Query<Params>) -> Reply {
    let scope = required(query.get("scope").cloned(), "scope")?;
    let principal = required(query.get("principal").cloned(), "principal")?;
    call.run(|ws| {
        let s = scope_ref(ws, &scope)?;
        let permission = s.acls.get(&principal).ok_or_else(|| {
            ApiError::not_found(format!(
                "Failed to get secret ACL for principal {principal} on scope {scope}: no such ACL."
            ))
        })?;
        Ok(Json(
            json!({"principal": principal, "permission": permission}),
        ))
    })
}

pub async fn put_acl_handler(call: InWorkspace, Body(req): Body<AclRequest>) -> Reply {
    call.run(|ws| put_acl(ws, req))?;
    Ok(Json(json!({})))
}

pub async fn delete_acl_handler(call: InWorkspace, Body(req): Body<AclRequest>) -> Reply {
    call.run(|ws| delete_acl(ws, req))?;
    Ok(Json(json!({})))
}

pub async fn put_secret_handler(call: InWorkspace, Body(req): Body<SecretRequest>) -> Reply {
    let scope = required(req.scope, "scope")?;
    let key = required(req.key, "key")?;
    if !valid_name(&key) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid secret key '{key}': it must consist of alphanumeric characters, dashes, \
             underscores and periods, and may not exceed 128 characters."
        )));
    }
    if req.string_value.is_some() == req.bytes_value.is_some() {
        return Err(ApiError::invalid_parameter(
            "Exactly one of string_value and bytes_value must be specified",
        ));
    }
    call.run(|ws| {
        let s = scope_mut(ws, &scope)?;
        s.secrets.insert(
            key.clone(),
            SecretMeta {
                key,
                last_updated_timestamp: now_ms(),
            },
        );
        Ok(Json(json!({})))
    })
}

pub async fn list_secrets_handler(call: InWorkspace, Query(query): Query<Params>) -> Reply {
    let scope = required(query.get("scope").cloned(), "scope")?;
    call.run(|ws| {
        let s = scope_ref(ws, &scope)?;
        Ok(Json(
            json!({"secrets": s.secrets.values().collect::<Vec<_>>()}),
        ))
    })
}

pub async fn delete_secret_handler(call: InWorkspace, Body(req): Body<SecretRequest>) -> Reply {
    let scope = required(req.scope, "scope")?;
    let key = required(req.key, "key")?;
    call.run(|ws| {
        let s = scope_mut(ws, &scope)?;
        s.secrets
            .remove(&key)
            .map(|_| Json(json!({})))
            .ok_or_else(|| {
                ApiError::not_found(format!("Secret {key} does not exist in scope {scope}!"))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::seeded_with_admin;

    fn scope(name: &str) -> ScopeRequest {
        ScopeRequest {
            scope: Some(name.into()),
            ..Default::default()
        }
    }

    fn acl(scope: &str, principal: &str, permission: Option<&str>) -> AclRequest {
        AclRequest {
            scope: Some(scope.into()),
            principal: Some(principal.into()),
            permission: permission.map(Into::into),
        }
    }

    #[test]
    fn create_scope_grants_creator_manage() {
        let (mut ws, c) = seeded_with_admin();
        create_scope(&mut ws, &c, scope("new")).unwrap();
        assert_eq!(ws.secret_scopes["new"].acls["admin@example.com"], "MANAGE");
        let err = create_scope(&mut ws, &c, scope("new")).unwrap_err();
        assert_eq!(err.error_code, "RESOURCE_ALREADY_EXISTS");
        let err = create_scope(&mut ws, &c, scope("bad name")).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn acls_put_and_delete() {
        let (mut ws, _) = seeded_with_admin();
        put_acl(&mut ws, acl("etl", "data-engineers", Some("READ"))).unwrap();
        assert_eq!(ws.secret_scopes["etl"].acls["data-engineers"], "READ");
        let err = put_acl(&mut ws, acl("etl", "x", Some("OWN"))).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let err = put_acl(&mut ws, acl("nope", "x", Some("READ"))).unwrap_err();
        assert_eq!(err.error_code, "RESOURCE_DOES_NOT_EXIST");
        delete_acl(&mut ws, acl("etl", "data-engineers", None)).unwrap();
        let err = delete_acl(&mut ws, acl("etl", "data-engineers", None)).unwrap_err();
        assert_eq!(err.error_code, "RESOURCE_DOES_NOT_EXIST");
    }
}
