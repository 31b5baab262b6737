//! `/api/2.0/ip-access-lists`: list, create, get, replace (PUT), update (PATCH), delete.
//!
//! Lists are inert until workspace-conf `enableIpAccessLists` is `"true"`. While enforced, a
//! write that would block the caller's own IP is refused with `400 INVALID_STATE`. A
//! `(list_type, label)` pair names at most one list: creating or renaming into a pair that
//! exists is refused with `400 RESOURCE_ALREADY_EXISTS` (DESIGN, "API facts").

use std::net::IpAddr;

use axum::Json;
use axum::extract::Path;
use axum::http::Method;
use serde::Deserialize;
use serde_json::json;

use super::{Body, InWorkspace};
use crate::access::{self, ListType, ListView};
use crate::errors::{ApiError, Reply};
use crate::state::{Caller, IpAccessList, Workspace, now_ms};

#[derive(Debug, Default, Deserialize)]
pub struct ListRequest {
    pub label: Option<String>,
    pub list_type: Option<String>,
    pub ip_addresses: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// The `{list_id}` of a workspace's or the account's list path.
#[derive(Deserialize)]
pub struct ListIdPath {
    pub list_id: String,
}

fn views(lists: &[IpAccessList]) -> Vec<ListView<'_>> {
    lists
        .iter()
        .map(|l| ListView {
            list_type: l.list_type,
            enabled: l.enabled,
            addresses: &l.ip_addresses,
        })
        .collect()
}

/// Whether `ip` passes `lists` (as if the feature were enabled).
pub fn allowed_with(lists: &[IpAccessList], ip: IpAddr) -> bool {
    access::is_allowed(&views(lists), ip)
}

fn validate_label(label: Option<&str>) -> Result<String, ApiError> {
    match label.map(str::trim) {
        Some(l) if !l.is_empty() => Ok(l.to_string()),
        _ => Err(ApiError::invalid_parameter("Label cannot be empty")),
    }
}

fn validate_type(list_type: Option<&str>) -> Result<ListType, ApiError> {
    let raw = list_type.unwrap_or_default();
    ListType::parse(raw).ok_or_else(|| {
        ApiError::invalid_parameter(format!(
            "Invalid list_type '{raw}': must be one of [ALLOW, BLOCK]"
        ))
    })
}

fn validate_addresses(addresses: &[String]) -> Result<(), ApiError> {
    if let Some(bad) = access::first_invalid(addresses) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid IP address or CIDR block: {bad}. Only IPv4 addresses and CIDR ranges are supported"
        )));
    }
    Ok(())
}

/// Quota and (when the lists are `enforced`) lockout checks on the lists a write would
/// produce; shared by the workspace and the account IP access lists, whose rules are the same
/// (databricks-sdk-py `AccountIpAccessListsAPI.create` documents the same `QUOTA_EXCEEDED` and
/// `INVALID_STATE` answers as `IpAccessListsAPI.create`).
pub fn check_lists(candidate: &[IpAccessList], enforced: bool, ip: IpAddr) -> Result<(), ApiError> {
    let total = access::total_addresses(&views(candidate));
    if total > access::MAX_ADDRESSES {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "QUOTA_EXCEEDED",
            format!(
                "The total number of IP addresses and CIDR ranges in all IP access lists ({total}) \
                 exceeds the maximum of {}",
                access::MAX_ADDRESSES
            ),
        ));
    }
    if enforced && !allowed_with(candidate, ip) {
        return Err(ApiError::invalid_state(access::lockout_message(ip)));
    }
    Ok(())
}

/// Refuses a list whose `(list_type, label)` another list (not `except`) already has.
fn check_unique(
    lists: &[IpAccessList],
    list_type: ListType,
    label: &str,
    except: Option<usize>,
) -> Result<(), ApiError> {
    let taken = lists
        .iter()
        .enumerate()
        .any(|(i, l)| Some(i) != except && l.list_type == list_type && l.label == label);
    if taken {
        return Err(ApiError::already_exists(format!(
            "IP access list with type {} and label {label} already exists",
            list_type.as_str()
        )));
    }
    Ok(())
}

fn find(ws: &Workspace, list_id: &str) -> Result<usize, ApiError> {
    find_in(&ws.ip_access_lists, list_id)
}

/// The index of list `list_id` in `lists`, or `404 RESOURCE_DOES_NOT_EXIST`.
pub fn find_in(lists: &[IpAccessList], list_id: &str) -> Result<usize, ApiError> {
    lists
        .iter()
        .position(|l| l.list_id == list_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("Can't find an IP access list with id: {list_id}."))
        })
}

/// A write to a set of lists (a workspace's or the account's, whose rules are the same) on
/// behalf of `principal_id` calling from `ip`; `enforced`: whether the lists currently apply
/// (lockout guard).
pub struct Write<'a> {
    pub lists: &'a mut Vec<IpAccessList>,
    pub enforced: bool,
    pub principal_id: u64,
    pub ip: IpAddr,
}

impl Write<'_> {
    pub fn create(self, req: ListRequest) -> Result<IpAccessList, ApiError> {
        let label = validate_label(req.label.as_deref())?;
        let list_type = validate_type(req.list_type.as_deref())?;
        let ip_addresses = req.ip_addresses.unwrap_or_default();
        validate_addresses(&ip_addresses)?;
        check_unique(self.lists, list_type, &label, None)?;
        let now = now_ms();
        let list = IpAccessList {
            list_id: uuid::Uuid::new_v4().to_string(),
            label,
            list_type,
            address_count: ip_addresses.len(),
            ip_addresses,
            enabled: true,
            created_at: now,
            created_by: self.principal_id,
            updated_at: now,
            updated_by: self.principal_id,
        };
        let mut candidate = self.lists.clone();
        candidate.push(list.clone());
        self.commit(candidate)?;
        Ok(list)
    }

    /// PUT (`replace = true`: label, list_type and enabled required) or PATCH (partial).
    pub fn modify(self, list_id: &str, req: ListRequest, replace: bool) -> Result<(), ApiError> {
        let idx = find_in(self.lists, list_id)?;
        let mut list = self.lists[idx].clone();
        if replace {
            list.label = validate_label(req.label.as_deref())?;
            list.list_type = validate_type(req.list_type.as_deref())?;
            list.enabled = req
                .enabled
                .ok_or_else(|| ApiError::invalid_parameter("Missing required field: enabled"))?;
            list.ip_addresses = req.ip_addresses.unwrap_or_default();
        } else {
            if req.label.is_some() {
                list.label = validate_label(req.label.as_deref())?;
            }
            if req.list_type.is_some() {
                list.list_type = validate_type(req.list_type.as_deref())?;
            }
            if let Some(enabled) = req.enabled {
                list.enabled = enabled;
            }
            if let Some(addresses) = req.ip_addresses {
                list.ip_addresses = addresses;
            }
        }
        validate_addresses(&list.ip_addresses)?;
        check_unique(self.lists, list.list_type, &list.label, Some(idx))?;
        list.address_count = list.ip_addresses.len();
        list.updated_at = now_ms();
        list.updated_by = self.principal_id;
        let mut candidate = self.lists.clone();
        candidate[idx] = list;
        self.commit(candidate)
    }

    pub fn delete(self, list_id: &str) -> Result<(), ApiError> {
        let idx = find_in(self.lists, list_id)?;
        let mut candidate = self.lists.clone();
        candidate.remove(idx);
        self.commit(candidate)
    }

    /// The lists become `candidate` if it passes the quota and lockout checks.
    fn commit(self, candidate: Vec<IpAccessList>) -> Result<(), ApiError> {
        check_lists(&candidate, self.enforced, self.ip)?;
        *self.lists = candidate;
        Ok(())
    }
}

/// An `ALLOW` list of one range, for other modules' tests.
#[cfg(test)]
pub fn allow_list(label: &str, cidr: &str) -> ListRequest {
    ListRequest {
        label: Some(label.into()),
        list_type: Some("ALLOW".into()),
        ip_addresses: Some(vec![cidr.into()]),
        enabled: None,
    }
}

/// A write to the workspace's lists by `caller`.
fn write<'a>(ws: &'a mut Workspace, caller: &Caller) -> Write<'a> {
    Write {
        enforced: ws.ip_access_lists_enabled(),
        lists: &mut ws.ip_access_lists,
        principal_id: caller.principal.id,
        ip: caller.ip,
    }
}

pub fn create(
    ws: &mut Workspace,
    caller: &Caller,
    req: ListRequest,
) -> Result<IpAccessList, ApiError> {
    write(ws, caller).create(req)
}

/// PUT (`replace = true`) or PATCH.
pub fn modify(
    ws: &mut Workspace,
    caller: &Caller,
    list_id: &str,
    req: ListRequest,
    replace: bool,
) -> Result<(), ApiError> {
    write(ws, caller).modify(list_id, req, replace)
}

pub fn delete(ws: &mut Workspace, caller: &Caller, list_id: &str) -> Result<(), ApiError> {
    write(ws, caller).delete(list_id)
}

pub async fn list_handler(call: InWorkspace) -> Reply {
    call.run(|ws| Ok(Json(json!({"ip_access_lists": ws.ip_access_lists}))))
}

pub async fn create_handler(call: InWorkspace, Body(req): Body<ListRequest>) -> Reply {
    call.run(|ws| {
        let list = create(ws, &call.caller, req)?;
        Ok(Json(json!({"ip_access_list": list})))
    })
}

pub async fn get_handler(call: InWorkspace, Path(p): Path<ListIdPath>) -> Reply {
    call.run(|ws| {
        let idx = find(ws, &p.list_id)?;
        Ok(Json(json!({"ip_access_list": ws.ip_access_lists[idx]})))
    })
}

/// PUT replaces a list (every field required), PATCH updates the fields given.
pub async fn modify_handler(
    call: InWorkspace,
    method: Method,
    Path(p): Path<ListIdPath>,
    Body(req): Body<ListRequest>,
) -> Reply {
    let replace = method == Method::PUT;
    call.run(|ws| modify(ws, &call.caller, &p.list_id, req, replace))?;
    Ok(Json(json!({})))
}

pub async fn delete_handler(call: InWorkspace, Path(p): Path<ListIdPath>) -> Reply {
    call.run(|ws| delete(ws, &call.caller, &p.list_id))?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::seeded_with_admin;

    fn req(label: &str, t: &str, addrs: &[&str]) -> ListRequest {
        ListRequest {
            label: Some(label.into()),
            list_type: Some(t.into()),
            ip_addresses: Some(addrs.iter().map(|s| s.to_string()).collect()),
            enabled: None,
        }
    }

    #[test]
    fn create_validates_and_counts() {
        let (mut ws, c) = seeded_with_admin();
        let list = create(
            &mut ws,
            &c,
            req("corp", "ALLOW", &["10.0.0.0/8", "1.2.3.4"]),
        )
        .unwrap();
        assert_eq!(list.address_count, 2);
        assert!(list.enabled);
        assert_eq!(list.created_by, c.principal.id);
        let err = create(&mut ws, &c, req("bad", "ALLOW", &["1.2.3"])).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let err = create(&mut ws, &c, req("bad", "MAYBE", &[])).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
        let err = create(&mut ws, &c, req(" ", "ALLOW", &[])).unwrap_err();
        assert_eq!(err.error_code, "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn type_and_label_name_one_list() {
        let (mut ws, c) = seeded_with_admin();
        create(&mut ws, &c, req("corp", "ALLOW", &["10.0.0.0/8"])).unwrap();
        let err = create(&mut ws, &c, req("corp", "ALLOW", &["11.0.0.0/8"])).unwrap_err();
        assert_eq!(err.error_code, "RESOURCE_ALREADY_EXISTS");
        assert_eq!(err.status.as_u16(), 400);
        // Same label, other type: a different list.
        let block = create(&mut ws, &c, req("corp", "BLOCK", &["1.2.3.4"])).unwrap();
        let err = modify(
            &mut ws,
            &c,
            &block.list_id,
            req("corp", "ALLOW", &[]),
            false,
        )
        .unwrap_err();
        assert_eq!(err.error_code, "RESOURCE_ALREADY_EXISTS");
        // Replacing a list with its own type and label is fine.
        let mut same = req("corp", "BLOCK", &["1.2.3.5"]);
        same.enabled = Some(true);
        modify(&mut ws, &c, &block.list_id, same, true).unwrap();
    }

    #[test]
    fn quota_is_over_all_lists() {
        let (mut ws, c) = seeded_with_admin();
        let many: Vec<String> = (0..600)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        create(&mut ws, &c, req("a", "ALLOW", &many_refs)).unwrap();
        let more: Vec<String> = (0..401)
            .map(|i| format!("11.0.{}.{}", i / 256, i % 256))
            .collect();
        let more_refs: Vec<&str> = more.iter().map(String::as_str).collect();
        let err = create(&mut ws, &c, req("b", "BLOCK", &more_refs)).unwrap_err();
        assert_eq!(err.error_code, "QUOTA_EXCEEDED");
        assert_eq!(ws.ip_access_lists.len(), 1);
        create(&mut ws, &c, req("b", "BLOCK", &more_refs[..400])).unwrap();
    }

    #[test]
    fn lockout_only_checked_when_enforced() {
        let (mut ws, c) = seeded_with_admin();
        // Not enforced: anything goes.
        create(&mut ws, &c, req("other", "ALLOW", &["10.0.0.0/8"])).unwrap();
        ws.conf
            .insert("enableIpAccessLists".into(), Some("true".into()));
        // Enforced, and the only ALLOW list misses 127.0.0.1: adding a list that does not
        // cover the caller still blocks it.
        let err = create(&mut ws, &c, req("x", "ALLOW", &["192.168.0.0/16"])).unwrap_err();
        assert_eq!(err.error_code, "INVALID_STATE");
        assert!(
            err.message
                .contains("Your current IP 127.0.0.1 will not be allowed")
        );
        // Adding the caller's range fixes it.
        let mine = create(&mut ws, &c, req("mine", "ALLOW", &["127.0.0.0/8"])).unwrap();
        // Deleting the caller's list would lock it out again.
        let err = delete(&mut ws, &c, &mine.list_id).unwrap_err();
        assert_eq!(err.error_code, "INVALID_STATE");
        // Disabling it too.
        let disable = ListRequest {
            enabled: Some(false),
            ..Default::default()
        };
        let err = modify(&mut ws, &c, &mine.list_id, disable, false).unwrap_err();
        assert_eq!(err.error_code, "INVALID_STATE");
        // A BLOCK list covering the caller is refused.
        let err = create(&mut ws, &c, req("blk", "BLOCK", &["127.0.0.1"])).unwrap_err();
        assert_eq!(err.error_code, "INVALID_STATE");
    }

    #[test]
    fn replace_requires_all_fields_and_patch_is_partial() {
        let (mut ws, c) = seeded_with_admin();
        let list = create(&mut ws, &c, req("a", "ALLOW", &["1.1.1.1"])).unwrap();
        let err = modify(&mut ws, &c, &list.list_id, req("a", "ALLOW", &[]), true).unwrap_err();
        assert!(err.message.contains("enabled"));
        let patch = ListRequest {
            label: Some("renamed".into()),
            ..Default::default()
        };
        modify(&mut ws, &c, &list.list_id, patch, false).unwrap();
        assert_eq!(ws.ip_access_lists[0].label, "renamed");
        assert_eq!(
            ws.ip_access_lists[0].ip_addresses,
            vec!["1.1.1.1".to_string()]
        );
        let err = delete(&mut ws, &c, "nope").unwrap_err();
        assert_eq!(err.error_code, "RESOURCE_DOES_NOT_EXIST");
    }
}
