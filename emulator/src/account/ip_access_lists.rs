//! `/api/2.0/accounts/{id}/ip-access-lists[/{ip_access_list_id}]` (databricks-sdk-py
//! `AccountIpAccessListsAPI`): the workspace lists' wire shapes and rules (quota of 1000
//! addresses, one list per `(list_type, label)`, no change that would block the caller while
//! the lists apply), through the same functions as the workspace lists. The lists apply once
//! the account setting `acct_ip_acl_enable` is on.

use axum::Json;
use axum::extract::{Extension, Path};
use axum::http::Method;
use serde_json::json;

use super::{Account, AccountCaller, InAccount};
use crate::databricks::Body;
use crate::databricks::ip_access_lists::{ListIdPath, ListRequest, Write, find_in};
use crate::errors::Reply;

/// A write to the account's lists by `caller`.
fn write<'a>(account: &'a mut Account, caller: &AccountCaller) -> Write<'a> {
    Write {
        enforced: account.ip_access_lists_enabled(),
        lists: &mut account.ip_access_lists,
        principal_id: caller.principal_id,
        ip: caller.ip,
    }
}

pub async fn list_handler(account: InAccount) -> Reply {
    account.run(|world| {
        Ok(Json(
            json!({"ip_access_lists": world.account.ip_access_lists}),
        ))
    })
}

pub async fn create_handler(
    account: InAccount,
    Extension(caller): Extension<AccountCaller>,
    Body(req): Body<ListRequest>,
) -> Reply {
    account.run(|world| {
        let list = write(&mut world.account, &caller).create(req)?;
        Ok(Json(json!({"ip_access_list": list})))
    })
}

pub async fn get_handler(account: InAccount, Path(p): Path<ListIdPath>) -> Reply {
    account.run(|world| {
        let lists = &world.account.ip_access_lists;
        let idx = find_in(lists, &p.list_id)?;
        Ok(Json(json!({"ip_access_list": lists[idx]})))
    })
}

/// PUT replaces a list (every field required), PATCH updates the fields given.
pub async fn modify_handler(
    account: InAccount,
    method: Method,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<ListIdPath>,
    Body(req): Body<ListRequest>,
) -> Reply {
    let replace = method == Method::PUT;
    account.run(|world| write(&mut world.account, &caller).modify(&p.list_id, req, replace))?;
    Ok(Json(json!({})))
}

pub async fn delete_handler(
    account: InAccount,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<ListIdPath>,
) -> Reply {
    account.run(|world| write(&mut world.account, &caller).delete(&p.list_id))?;
    Ok(Json(json!({})))
}
