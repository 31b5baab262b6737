//! Personal access tokens (`/api/2.0/token/*`), token management
//! (`/api/2.0/token-management/*`) and the token permissions object
//! (`/api/2.0/permissions/authorization/tokens`).
//!
//! Tokens created here are accepted as bearer tokens by their workspace until they expire or
//! are deleted. Removing a principal's `CAN_USE` deletes the tokens it can no longer use, as
//! the real service does. The `admins` group always has `CAN_MANAGE`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::settings::restrict_workspace_admins_on;
use super::{Body, InWorkspace};
use crate::errors::{ApiError, Reply};
use crate::state::{
    AclPrincipal, Caller, Principal, PrincipalKind, TokenRecord, Workspace, now_ms, random_hex64,
};

const DAY_SECS: i64 = 86_400;
/// The lifetime bound when `maxTokenLifetimeDays` is `"0"` (the service default).
pub const DEFAULT_MAX_LIFETIME_DAYS: i64 = 730;

#[derive(Debug, Default, Deserialize)]
pub struct CreateRequest {
    pub lifetime_seconds: Option<i64>,
    pub comment: Option<String>,
    pub application_id: Option<String>,
}

#[derive(Deserialize)]
pub struct DeleteRequest {
    token_id: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenIdPath {
    token_id: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AccessControlRequest {
    pub user_name: Option<String>,
    pub group_name: Option<String>,
    pub service_principal_name: Option<String>,
    pub permission_level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PermissionsRequest {
    pub access_control_list: Option<Vec<AccessControlRequest>>,
}

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.principal.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "Only workspace admins can use the token management and token permissions APIs.",
        ))
    }
}

/// `maxTokenLifetimeDays` as a bound in days (`None`: never set, no bound).
pub fn max_lifetime_days(ws: &Workspace) -> Option<i64> {
    let raw = ws.conf.get("maxTokenLifetimeDays").cloned().flatten()?;
    match raw.parse::<i64>().ok()? {
        0 => Some(DEFAULT_MAX_LIFETIME_DAYS),
        n => Some(n),
    }
}

/// Whether `principal` may create and use tokens (`admins`, or a `CAN_USE` grant to it or to a
/// group it is in).
pub fn can_use_tokens(ws: &Workspace, principal: &Principal) -> bool {
    principal.is_admin()
        || ws.token_acl.contains_key(&principal.acl_principal())
        || principal
            .groups
            .iter()
            .any(|g| ws.token_acl.contains_key(&AclPrincipal::Group(g.clone())))
}

/// Creates a token owned by `owner` (created by `creator`), enforcing `enableTokensConfig`,
/// `CAN_USE` and `maxTokenLifetimeDays`.
pub fn create_token(
    ws: &mut Workspace,
    owner: &Principal,
    creator: &Principal,
    lifetime_seconds: Option<i64>,
    comment: Option<String>,
) -> Result<TokenRecord, ApiError> {
    if !ws.tokens_enabled() {
        return Err(ApiError::permission_denied(
            "Personal access tokens are disabled for this workspace (enableTokensConfig is false).",
        ));
    }
    if !can_use_tokens(ws, owner) {
        return Err(ApiError::permission_denied(format!(
            "{} does not have CAN_USE permission on tokens.",
            owner.name
        )));
    }
    let lifetime = lifetime_seconds.filter(|s| *s != 0 && *s != -1);
    if let Some(secs) = lifetime
        && secs < 0
    {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid lifetime_seconds {secs}: must be positive"
        )));
    }
    let max_days = max_lifetime_days(ws);
    let lifetime = match (lifetime, max_days) {
        (Some(secs), Some(days)) if secs > days * DAY_SECS => {
            return Err(ApiError::invalid_parameter(format!(
                "Token lifetime of {secs} seconds exceeds the maximum token lifetime of {days} days \
                 configured for this workspace (maxTokenLifetimeDays)."
            )));
        }
        (Some(secs), _) => Some(secs),
        (None, Some(days))
            if ws
                .conf
                .get("maxTokenLifetimeDays")
                .cloned()
                .flatten()
                .as_deref()
                != Some("0") =>
        {
            Some(days * DAY_SECS)
        }
        (None, _) => None,
    };
    let now = now_ms();
    let token = TokenRecord {
        token_id: random_hex64(),
        value: format!("dapi{}", uuid::Uuid::new_v4().simple()),
        comment: comment.unwrap_or_default(),
        owner_id: owner.id,
        owner_name: owner.name.clone(),
        created_by_id: creator.id,
        created_by_username: creator.name.clone(),
        creation_time: now,
        expiry_time: lifetime.map(|s| now + s * 1000).unwrap_or(-1),
    };
    ws.tokens.push(token.clone());
    Ok(token)
}

fn find_token(ws: &Workspace, token_id: &str) -> Result<usize, ApiError> {
    ws.tokens
        .iter()
        .position(|t| t.token_id == token_id)
        .ok_or_else(|| ApiError::not_found(format!("Token with id {token_id} does not exist.")))
}

/// The `authorization/tokens` permissions object as GET returns it.
pub fn permissions_json(ws: &Workspace) -> Value {
    let mut acl = vec![json!({
        "group_name": "admins",
        "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": false}],
    })];
    for (principal, level) in &ws.token_acl {
        let (field, name) = principal.field();
        let mut entry = json!({
            field: name,
            "all_permissions": [{"permission_level": level, "inherited": false}],
        });
        if let Some(p) = ws.principal_by_name(name)
            && !matches!(principal, AclPrincipal::Group(_))
        {
            entry["display_name"] = json!(p.display_name);
        }
        acl.push(entry);
    }
    json!({
        // The object id carries a leading slash, as in the real answer (DESIGN, "API facts").
        "object_id": "/authorization/tokens",
        "object_type": "tokens",
        "access_control_list": acl,
    })
}

fn parse_acl(entries: Vec<AccessControlRequest>) -> Result<Vec<(AclPrincipal, String)>, ApiError> {
    let mut out = Vec::new();
    for entry in entries {
        let principal = match (
            entry.user_name,
            entry.group_name,
            entry.service_principal_name,
        ) {
            (Some(u), None, None) => AclPrincipal::User(u),
            (None, Some(g), None) => AclPrincipal::Group(g),
            (None, None, Some(s)) => AclPrincipal::ServicePrincipal(s),
            _ => {
                return Err(ApiError::invalid_parameter(
                    "Each access control entry must set exactly one of user_name, group_name \
                     and service_principal_name",
                ));
            }
        };
        let level = entry.permission_level.unwrap_or_default();
        let is_admins = principal == AclPrincipal::Group("admins".into());
        match level.as_str() {
            "CAN_USE" if !is_admins => out.push((principal, level)),
            "CAN_MANAGE" if is_admins => out.push((principal, level)),
            "CAN_USE" => return Err(admins_downgrade("CAN_USE")),
            "CAN_MANAGE" => {
                return Err(ApiError::invalid_parameter(
                    "Permission CAN_MANAGE on tokens is reserved for the admins group",
                ));
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "Permission level '{other}' is not supported for tokens; allowed: [CAN_USE]"
                )));
            }
        }
    }
    Ok(out)
}

/// The refusal of a change that would take `admins` below `CAN_MANAGE`. The wording is the
/// real service's, as quoted by terraform-provider-databricks (`permissions/update/
/// customizers.go`, `AddAdmin`: "Prevent \"Cannot change permissions for group 'admins' to
/// None.\""), which adds `admins` CAN_MANAGE to every PUT for that reason.
fn admins_downgrade(to: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Cannot change permissions for group 'admins' to {to}."
    ))
}

/// Deletes tokens whose owners lost `CAN_USE`; returns the deleted ids.
fn revoke_unpermitted(ws: &mut Workspace) -> Vec<String> {
    let keep: Vec<bool> = ws
        .tokens
        .iter()
        .map(|t| match ws.directory.iter().find(|p| p.id == t.owner_id) {
            Some(owner) => can_use_tokens(ws, owner),
            None => false,
        })
        .collect();
    let mut removed = Vec::new();
    let mut i = 0;
    ws.tokens.retain(|t| {
        let k = keep[i];
        i += 1;
        if !k {
            removed.push(t.token_id.clone());
        }
        k
    });
    removed
}

/// PUT (`replace`) or PATCH (add) on the token permissions.
pub fn set_permissions(
    ws: &mut Workspace,
    req: PermissionsRequest,
    replace: bool,
) -> Result<Value, ApiError> {
    let entries = parse_acl(req.access_control_list.unwrap_or_default())?;
    let admins = AclPrincipal::Group("admins".into());
    // PUT replaces the whole ACL, so it must name admins with CAN_MANAGE; PATCH adds.
    if replace && !entries.iter().any(|(p, _)| *p == admins) {
        return Err(admins_downgrade("None"));
    }
    if replace {
        ws.token_acl.clear();
    }
    for (principal, level) in entries {
        if principal != admins {
            ws.token_acl.insert(principal, level);
        }
    }
    revoke_unpermitted(ws);
    Ok(permissions_json(ws))
}

pub async fn create_handler(call: InWorkspace, Body(req): Body<CreateRequest>) -> Reply {
    let me = &call.caller.principal;
    call.run(|ws| {
        let token = create_token(ws, me, me, req.lifetime_seconds, req.comment)?;
        Ok(Json(
            json!({"token_value": token.value, "token_info": token.public_info()}),
        ))
    })
}

pub async fn list_handler(call: InWorkspace) -> Reply {
    call.run(|ws| {
        let infos: Vec<Value> = ws
            .tokens
            .iter()
            .filter(|t| t.owner_id == call.caller.principal.id)
            .map(TokenRecord::public_info)
            .collect();
        Ok(Json(json!({"token_infos": infos})))
    })
}

pub async fn delete_handler(call: InWorkspace, Body(req): Body<DeleteRequest>) -> Reply {
    let token_id = req
        .token_id
        .ok_or_else(|| ApiError::invalid_parameter("Missing required field: token_id"))?;
    call.run(|ws| {
        let idx = find_token(ws, &token_id)?;
        if ws.tokens[idx].owner_id != call.caller.principal.id {
            return Err(ApiError::not_found(format!(
                "Token with id {token_id} does not exist."
            )));
        }
        ws.tokens.remove(idx);
        Ok(Json(json!({})))
    })
}

pub async fn management_list_handler(
    call: InWorkspace,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    require_admin(&call.caller)?;
    let by_id = query
        .get("created_by_id")
        .and_then(|v| v.parse::<u64>().ok());
    let by_name = query.get("created_by_username").cloned();
    call.run(|ws| {
        let infos: Vec<Value> = ws
            .tokens
            .iter()
            .filter(|t| by_id.is_none_or(|id| t.created_by_id == id))
            .filter(|t| by_name.as_ref().is_none_or(|n| &t.created_by_username == n))
            .map(|t| t.token_info(ws.workspace_id))
            .collect();
        Ok(Json(json!({"token_infos": infos})))
    })
}

pub async fn management_get_handler(call: InWorkspace, Path(p): Path<TokenIdPath>) -> Reply {
    require_admin(&call.caller)?;
    call.run(|ws| {
        let idx = find_token(ws, &p.token_id)?;
        Ok(Json(
            json!({"token_info": ws.tokens[idx].token_info(ws.workspace_id)}),
        ))
    })
}

pub async fn management_delete_handler(call: InWorkspace, Path(p): Path<TokenIdPath>) -> Reply {
    require_admin(&call.caller)?;
    call.run(|ws| {
        let idx = find_token(ws, &p.token_id)?;
        ws.tokens.remove(idx);
        Ok(Json(json!({})))
    })
}

pub async fn obo_create_handler(call: InWorkspace, Body(req): Body<CreateRequest>) -> Reply {
    require_admin(&call.caller)?;
    let app_id = req
        .application_id
        .clone()
        .ok_or_else(|| ApiError::invalid_parameter("Missing required field: application_id"))?;
    call.run(|ws| {
        if restrict_workspace_admins_on(ws) {
            return Err(ApiError::permission_denied(format!(
                "Workspace admins are restricted (RESTRICT_TOKENS_AND_JOB_RUN_AS) from creating \
                 tokens on behalf of service principal {app_id}."
            )));
        }
        let owner = match ws.principal_by_name(&app_id) {
            Some(p) if p.kind == PrincipalKind::ServicePrincipal => p.clone(),
            _ => {
                return Err(ApiError::not_found(format!(
                    "Service principal with application id {app_id} does not exist in this workspace."
                )));
            }
        };
        let token = create_token(
            ws,
            &owner,
            &call.caller.principal,
            req.lifetime_seconds,
            req.comment,
        )?;
        Ok(Json(
            json!({"token_value": token.value, "token_info": token.token_info(ws.workspace_id)}),
        ))
    })
}

pub async fn permissions_get_handler(call: InWorkspace) -> Reply {
    require_admin(&call.caller)?;
    call.run(|ws| Ok(Json(permissions_json(ws))))
}

/// PUT replaces the token permissions, PATCH adds to them.
pub async fn permissions_set_handler(
    call: InWorkspace,
    method: Method,
    Body(req): Body<PermissionsRequest>,
) -> Reply {
    require_admin(&call.caller)?;
    let replace = method == Method::PUT;
    call.run(|ws| set_permissions(ws, req, replace).map(Json))
}

pub async fn permission_levels_handler(call: InWorkspace) -> Reply {
    require_admin(&call.caller)?;
    call.run(|_| {
        Ok(Json(json!({"permission_levels": [
            {"permission_level": "CAN_USE", "description": "Can create and use personal access tokens"},
            {"permission_level": "CAN_MANAGE", "description": "Can manage token permissions (admins only)"},
        ]})))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> Workspace {
        Workspace::seed(1, "http://x")
    }

    /// A PUT body: `entries` plus the `admins` CAN_MANAGE every replace must carry.
    fn put_acl(entries: &[(&str, &str, &str)]) -> PermissionsRequest {
        let mut all = entries.to_vec();
        all.push(("group", "admins", "CAN_MANAGE"));
        acl(&all)
    }

    fn acl(entries: &[(&str, &str, &str)]) -> PermissionsRequest {
        PermissionsRequest {
            access_control_list: Some(
                entries
                    .iter()
                    .map(|(kind, name, level)| AccessControlRequest {
                        user_name: (*kind == "user").then(|| name.to_string()),
                        group_name: (*kind == "group").then(|| name.to_string()),
                        service_principal_name: (*kind == "sp").then(|| name.to_string()),
                        permission_level: Some(level.to_string()),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn initial_permissions_have_admins_and_users() {
        let w = ws();
        let p = permissions_json(&w);
        assert_eq!(p["object_id"], "/authorization/tokens");
        assert_eq!(p["object_type"], "tokens");
        assert_eq!(p["access_control_list"][0]["group_name"], "admins");
        assert_eq!(
            p["access_control_list"][0]["all_permissions"][0]["permission_level"],
            "CAN_MANAGE"
        );
        assert_eq!(p["access_control_list"][1]["group_name"], "users");
    }

    #[test]
    fn removing_can_use_revokes_tokens() {
        let mut w = ws();
        assert_eq!(w.tokens.len(), 2);
        // Replace users with data-engineers: alice is in data-engineers, keeps her token.
        set_permissions(
            &mut w,
            put_acl(&[("group", "data-engineers", "CAN_USE")]),
            true,
        )
        .unwrap();
        assert_eq!(w.tokens.len(), 2);
        // Replace with bob only: alice loses CAN_USE, her token goes; admin keeps his.
        set_permissions(
            &mut w,
            put_acl(&[("user", "bob@example.com", "CAN_USE")]),
            true,
        )
        .unwrap();
        assert_eq!(w.tokens.len(), 1);
        assert_eq!(w.tokens[0].owner_name, "admin@example.com");
    }

    #[test]
    fn patch_adds_and_admins_cannot_change() {
        let mut w = ws();
        let p = set_permissions(&mut w, acl(&[("sp", "6f1c", "CAN_USE")]), false).unwrap();
        assert_eq!(p["access_control_list"].as_array().unwrap().len(), 3);
        let err =
            set_permissions(&mut w, acl(&[("group", "admins", "CAN_USE")]), true).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let err =
            set_permissions(&mut w, put_acl(&[("user", "x", "CAN_MANAGE")]), true).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        // A PUT that leaves admins out would drop their CAN_MANAGE: refused, nothing changes.
        let before = permissions_json(&w);
        let err = set_permissions(&mut w, acl(&[("user", "bob@example.com", "CAN_USE")]), true)
            .unwrap_err();
        assert_eq!(
            err.message,
            "Cannot change permissions for group 'admins' to None."
        );
        assert_eq!(permissions_json(&w), before);
        // admins CAN_MANAGE in a PUT is accepted and stays.
        let p = set_permissions(&mut w, acl(&[("group", "admins", "CAN_MANAGE")]), true).unwrap();
        assert_eq!(p["access_control_list"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn lifetime_is_bounded_by_conf() {
        let mut w = ws();
        let admin = w.directory[0].clone();
        let t = create_token(&mut w, &admin, &admin, None, None).unwrap();
        assert_eq!(t.expiry_time, -1);
        w.conf
            .insert("maxTokenLifetimeDays".into(), Some("90".into()));
        let err = create_token(&mut w, &admin, &admin, Some(91 * DAY_SECS), None).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let t = create_token(&mut w, &admin, &admin, None, None).unwrap();
        assert!(t.expiry_time > 0);
        let t = create_token(&mut w, &admin, &admin, Some(3600), Some("c".into())).unwrap();
        assert_eq!(t.expiry_time - t.creation_time, 3_600_000);
        w.conf
            .insert("maxTokenLifetimeDays".into(), Some("0".into()));
        assert!(create_token(&mut w, &admin, &admin, Some(731 * DAY_SECS), None).is_err());
        assert_eq!(
            create_token(&mut w, &admin, &admin, None, None)
                .unwrap()
                .expiry_time,
            -1
        );
    }

    #[test]
    fn disabled_tokens_and_missing_can_use_fail() {
        let mut w = ws();
        let bob = w.principal_by_name("bob@example.com").unwrap().clone();
        create_token(&mut w, &bob, &bob, Some(60), None).unwrap();
        set_permissions(
            &mut w,
            put_acl(&[("group", "data-engineers", "CAN_USE")]),
            true,
        )
        .unwrap();
        let err = create_token(&mut w, &bob, &bob, Some(60), None).unwrap_err();
        assert_eq!(err.error_code, "PERMISSION_DENIED");
        w.conf
            .insert("enableTokensConfig".into(), Some("false".into()));
        let admin = w.directory[0].clone();
        let err = create_token(&mut w, &admin, &admin, Some(60), None).unwrap_err();
        assert_eq!(err.error_code, "PERMISSION_DENIED");
    }
}
