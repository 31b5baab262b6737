//! `/api/2.0/accounts/{id}/ip-access-lists[/{ip_access_list_id}]` (databricks-sdk-py
//! `AccountIpAccessListsAPI`): the workspace lists' wire shapes and rules (quota of 1000
//! addresses, one list per `(list_type, label)`, no change that would block the caller while
//! the lists apply), through the same functions as the workspace lists. The lists apply once
//! the account setting `acct_ip_acl_enable` is on.

use axum::Json;
use axum::extract::{Extension, Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AccountCaller, with_account};
use crate::app::App;
use crate::databricks::Body;
use crate::databricks::ip_access_lists::{ListRequest, create_in, delete_in, find_in, modify_in};
use crate::errors::ApiError;

#[derive(Deserialize)]
pub struct ListsPath {
    account_id: String,
}

#[derive(Deserialize)]
pub struct ListPath {
    account_id: String,
    list_id: String,
}

pub async fn list_handler(
    State(app): State<App>,
    Path(p): Path<ListsPath>,
) -> Result<Json<Value>, ApiError> {
    with_account(&app, &p.account_id, |world| {
        Ok(Json(
            json!({"ip_access_lists": world.account.ip_access_lists}),
        ))
    })
}

pub async fn create_handler(
    State(app): State<App>,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<ListsPath>,
    Body(req): Body<ListRequest>,
) -> Result<Json<Value>, ApiError> {
    with_account(&app, &p.account_id, |world| {
        let account = &mut world.account;
        let enforced = account.ip_access_lists_enabled();
        let list = create_in(
            &mut account.ip_access_lists,
            enforced,
            caller.principal_id,
            caller.ip,
            req,
        )?;
        Ok(Json(json!({"ip_access_list": list})))
    })
}

pub async fn get_handler(
    State(app): State<App>,
    Path(p): Path<ListPath>,
) -> Result<Json<Value>, ApiError> {
    with_account(&app, &p.account_id, |world| {
        let lists = &world.account.ip_access_lists;
        let idx = find_in(lists, &p.list_id)?;
        Ok(Json(json!({"ip_access_list": lists[idx]})))
    })
}

fn modify(
    app: &App,
    caller: &AccountCaller,
    p: &ListPath,
    req: ListRequest,
    replace: bool,
) -> Result<Json<Value>, ApiError> {
    with_account(app, &p.account_id, |world| {
        let account = &mut world.account;
        let enforced = account.ip_access_lists_enabled();
        modify_in(
            &mut account.ip_access_lists,
            enforced,
            caller.principal_id,
            caller.ip,
            &p.list_id,
            req,
            replace,
        )
    })?;
    Ok(Json(json!({})))
}

pub async fn replace_handler(
    State(app): State<App>,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<ListPath>,
    Body(req): Body<ListRequest>,
) -> Result<Json<Value>, ApiError> {
    modify(&app, &caller, &p, req, true)
}

pub async fn update_handler(
    State(app): State<App>,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<ListPath>,
    Body(req): Body<ListRequest>,
) -> Result<Json<Value>, ApiError> {
    modify(&app, &caller, &p, req, false)
}

pub async fn delete_handler(
    State(app): State<App>,
    Extension(caller): Extension<AccountCaller>,
    Path(p): Path<ListPath>,
) -> Result<Json<Value>, ApiError> {
    with_account(&app, &p.account_id, |world| {
        let account = &mut world.account;
        let enforced = account.ip_access_lists_enabled();
        delete_in(
            &mut account.ip_access_lists,
            enforced,
            caller.ip,
            &p.list_id,
        )
    })?;
    Ok(Json(json!({})))
}
