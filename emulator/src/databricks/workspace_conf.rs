//! `/api/2.0/workspace-conf`: `GET ?keys=a,b` and `PATCH {key: "value"}`.
//!
//! Values are always strings. Unknown keys answer `400 Invalid keys: ["x"]` (a JSON array,
//! which is what the Terraform provider parses: `parseInvalidKeysFromError` in
//! terraform-provider-databricks `workspace/resource_workspace_conf.go` unmarshals the text
//! after `Invalid keys: ` as JSON and re-reads the valid keys); one unknown key fails the whole
//! batched GET. Values a key does not accept answer
//! `400 Some values are not allowed: {"key":"value"}`.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::{Body, InWorkspace};
use crate::access;
use crate::errors::ApiError;
use crate::state::{Caller, Workspace};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int { min: i64, max: i64 },
    Text,
}

/// Every key the emulator knows, with what it accepts and its value on a fresh workspace
/// (`None`: never set, read back as `null`). A new workspace has set none of them: a key reads
/// `null` until someone writes it, and `null` means the platform default (see DESIGN, "API
/// facts": never-set keys read as `null`).
const KEYS: &[(&str, Kind, Option<&str>)] = &[
    ("enableIpAccessLists", Kind::Bool, None),
    ("enableTokensConfig", Kind::Bool, None),
    ("maxTokenLifetimeDays", Kind::Int { min: 0, max: 730 }, None),
    ("enableExportNotebook", Kind::Bool, None),
    ("enableResultsDownloading", Kind::Bool, None),
    ("enableNotebookTableClipboard", Kind::Bool, None),
    ("enableUploadDataUis", Kind::Bool, None),
    ("mlflowRunArtifactDownloadEnabled", Kind::Bool, None),
    ("enableWebTerminal", Kind::Bool, None),
    ("enableDbfsFileBrowser", Kind::Bool, None),
    ("enableVerboseAuditLogs", Kind::Bool, None),
    ("enable-X-Frame-Options", Kind::Bool, None),
    ("enable-X-Content-Type-Options", Kind::Bool, None),
    ("enable-X-XSS-Protection", Kind::Bool, None),
    ("maxUserInactiveDays", Kind::Int { min: 1, max: 3650 }, None),
    (
        "storeInteractiveNotebookResultsInCustomerAccount",
        Kind::Bool,
        None,
    ),
    ("enableFileStoreEndpoint", Kind::Bool, None),
    ("enableJobViewAcls", Kind::Bool, None),
    ("enforceClusterViewAcls", Kind::Bool, None),
    ("enforceWorkspaceViewAcls", Kind::Bool, None),
    ("enableProjectTypeInWorkspace", Kind::Bool, None),
    ("enforceUserIsolation", Kind::Bool, None),
    ("enableDeprecatedGlobalInitScripts", Kind::Bool, None),
    ("enableDeprecatedClusterNamedInitScripts", Kind::Bool, None),
    ("enableWorkspaceFilesystem", Kind::Bool, None),
    ("enableHlsRuntime", Kind::Bool, None),
    ("enableDcs", Kind::Bool, None),
    ("enableGp3", Kind::Bool, None),
    ("enableEnforceImdsV2", Kind::Bool, None),
    ("enableProjectsAllowList", Kind::Bool, None),
    ("projectsAllowList", Kind::Text, None),
    ("enableJobsEmailsV2", Kind::Bool, None),
    ("enableNotebookGitVersioning", Kind::Bool, None),
    (
        "enableLibraryAndInitScriptOnSharedCluster",
        Kind::Bool,
        None,
    ),
];

fn kind_of(key: &str) -> Option<Kind> {
    KEYS.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, kind, _)| *kind)
}

/// The conf of a fresh workspace.
pub fn initial_conf() -> BTreeMap<String, Option<String>> {
    KEYS.iter()
        .map(|(k, _, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

/// Whether `key` is one the emulator serves.
pub fn is_known(key: &str) -> bool {
    kind_of(key).is_some()
}

/// The normalised value if `value` is acceptable for `key`.
fn normalise(kind: Kind, value: &str) -> Option<String> {
    match kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            v @ ("true" | "false") => Some(v.to_string()),
            _ => None,
        },
        Kind::Int { min, max } => value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(|n| n.to_string()),
        Kind::Text => Some(value.to_string()),
    }
}

fn invalid_keys(keys: &[String]) -> ApiError {
    let list = serde_json::to_string(keys).unwrap_or_default();
    ApiError::bad_request(format!("Invalid keys: {list}"))
}

pub fn get(ws: &Workspace, keys: &str) -> Result<Map<String, Value>, ApiError> {
    let requested: Vec<String> = keys
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let unknown: Vec<String> = requested.iter().filter(|k| !is_known(k)).cloned().collect();
    if !unknown.is_empty() {
        return Err(invalid_keys(&unknown));
    }
    Ok(requested
        .into_iter()
        .map(|k| {
            let v = ws
                .conf
                .get(&k)
                .cloned()
                .flatten()
                .map(Value::String)
                .unwrap_or(Value::Null);
            (k, v)
        })
        .collect())
}

pub fn patch(
    ws: &mut Workspace,
    caller: &Caller,
    body: Map<String, Value>,
) -> Result<(), ApiError> {
    let unknown: Vec<String> = body.keys().filter(|k| !is_known(k)).cloned().collect();
    if !unknown.is_empty() {
        return Err(invalid_keys(&unknown));
    }
    let mut updates = BTreeMap::new();
    let mut rejected = Map::new();
    for (key, value) in &body {
        let Value::String(raw) = value else {
            return Err(ApiError::malformed(format!(
                "Invalid JSON given in the body of the request - value of '{key}' must be a string"
            )));
        };
        match kind_of(key).and_then(|kind| normalise(kind, raw)) {
            Some(v) => {
                updates.insert(key.clone(), v);
            }
            None => {
                rejected.insert(key.clone(), value.clone());
            }
        }
    }
    if !rejected.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Some values are not allowed: {}",
            Value::Object(rejected)
        )));
    }
    if updates.get("enableIpAccessLists").map(String::as_str) == Some("true")
        && !super::ip_access_lists::allowed_with(&ws.ip_access_lists, caller.ip)
    {
        return Err(ApiError::invalid_state(access::lockout_message(caller.ip)));
    }
    for (k, v) in updates {
        ws.conf.insert(k, Some(v));
    }
    Ok(())
}

pub async fn get_handler(
    call: InWorkspace,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let keys = query.get("keys").cloned().unwrap_or_default();
    call.run(|ws| get(ws, &keys).map(Json))
}

pub async fn patch_handler(
    call: InWorkspace,
    Body(body): Body<Map<String, Value>>,
) -> Result<StatusCode, ApiError> {
    call.run(|ws| patch(ws, &call.caller, body))?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::super::ip_access_lists;
    use super::*;
    use crate::state::seeded_with_admin;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn get_returns_null_for_never_set_keys() {
        let (ws, _) = seeded_with_admin();
        let got = get(&ws, "enableIpAccessLists, enableTokensConfig").unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"enableIpAccessLists": null, "enableTokensConfig": null})
        );
        assert!(
            ws.conf.values().all(Option::is_none),
            "a new workspace set no key"
        );
    }

    #[test]
    fn unknown_keys_are_listed_as_json() {
        let (mut ws, c) = seeded_with_admin();
        let err = get(&ws, "enableIpAccessLists,foo,bar").unwrap_err();
        assert_eq!(err.message, r#"Invalid keys: ["foo","bar"]"#);
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = patch(&mut ws, &c, obj(json!({"nope": "true"}))).unwrap_err();
        assert_eq!(err.message, r#"Invalid keys: ["nope"]"#);
    }

    #[test]
    fn values_are_validated_per_key() {
        let (mut ws, c) = seeded_with_admin();
        let err = patch(&mut ws, &c, obj(json!({"enableExportNotebook": "yes"}))).unwrap_err();
        assert!(err.message.starts_with("Some values are not allowed"));
        let err = patch(&mut ws, &c, obj(json!({"maxTokenLifetimeDays": "731"}))).unwrap_err();
        assert!(err.message.contains("731"));
        let err = patch(&mut ws, &c, obj(json!({"enableExportNotebook": false}))).unwrap_err();
        assert_eq!(err.error_code, "MALFORMED_REQUEST");
        patch(
            &mut ws,
            &c,
            obj(json!({"maxTokenLifetimeDays": "90", "enableExportNotebook": "FALSE"})),
        )
        .unwrap();
        assert_eq!(ws.conf["maxTokenLifetimeDays"].as_deref(), Some("90"));
        assert_eq!(ws.conf["enableExportNotebook"].as_deref(), Some("false"));
    }

    #[test]
    fn enabling_ip_access_lists_guards_against_lockout() {
        let (mut ws, c) = seeded_with_admin();
        // No lists: enabling is fine (everyone allowed).
        patch(&mut ws, &c, obj(json!({"enableIpAccessLists": "true"}))).unwrap();
        patch(&mut ws, &c, obj(json!({"enableIpAccessLists": "false"}))).unwrap();
        ip_access_lists::create(
            &mut ws,
            &c,
            ip_access_lists::allow_list("corp", "203.0.113.0/24"),
        )
        .unwrap();
        let err = patch(&mut ws, &c, obj(json!({"enableIpAccessLists": "true"}))).unwrap_err();
        assert_eq!(err.error_code, "INVALID_STATE");
        assert!(ws.conf["enableIpAccessLists"].as_deref() == Some("false"));
    }
}
