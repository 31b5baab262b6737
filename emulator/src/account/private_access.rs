//! AWS private access settings `/api/2.0/accounts/{id}/private-access-settings` (databricks-sdk-py
//! `PrivateAccessAPI`): `POST {private_access_settings_name, region, public_access_enabled,
//! private_access_level: ACCOUNT | ENDPOINT, allowed_vpc_endpoint_ids}`, `GET` list (a bare
//! array), `GET`/`PUT` (replace with a whole `PrivateAccessSettings`)/`DELETE` (answers the
//! deleted object) `/{private_access_settings_id}`. `private_access_level` defaults to
//! `ACCOUNT` and `allowed_vpc_endpoint_ids` only matter with `ENDPOINT` (`create` docs).
//!
//! AWS only: the Azure account API has no such endpoint (Azure Private Link is configured on
//! the Azure resources), so on an Azure account these paths answer `404 ENDPOINT_NOT_FOUND`
//! like any path the service does not serve. An object a workspace uses cannot be deleted
//! (`400 INVALID_STATE`; the emulator's guard).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Account, Cloud, InAccount, new_id};
use crate::app::App;
use crate::databricks::Body;
use crate::databricks::settings::one_of;
use crate::errors::{ApiError, Reply};

#[derive(Debug, Clone, Serialize)]
pub struct Pas {
    pub private_access_settings_id: String,
    pub private_access_settings_name: String,
    pub account_id: String,
    pub region: String,
    pub public_access_enabled: bool,
    pub private_access_level: String,
    pub allowed_vpc_endpoint_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PasBody {
    pub private_access_settings_name: Option<String>,
    pub region: Option<String>,
    pub public_access_enabled: Option<bool>,
    pub private_access_level: Option<String>,
    pub allowed_vpc_endpoint_ids: Option<Vec<String>>,
}

pub fn find<'a>(account: &'a Account, id: &str) -> Result<&'a Pas, ApiError> {
    account
        .private_access
        .iter()
        .find(|p| p.private_access_settings_id == id)
        .ok_or_else(|| ApiError::not_found(format!("Private access settings {id} does not exist")))
}

fn build(account: &Account, id: String, body: PasBody) -> Result<Pas, ApiError> {
    let name = body
        .private_access_settings_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            ApiError::invalid_parameter("Missing required field: private_access_settings_name")
        })?;
    let region = body.region.unwrap_or_default();
    if !account.cloud.is_region(&region) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid region '{region}': not an AWS region Databricks serves"
        )));
    }
    let level = body
        .private_access_level
        .unwrap_or_else(|| "ACCOUNT".to_string());
    one_of(
        &json!(level),
        &["ACCOUNT", "ENDPOINT"],
        "private_access_level",
    )?;
    Ok(Pas {
        private_access_settings_id: id,
        private_access_settings_name: name,
        account_id: account.account_id.clone(),
        region,
        public_access_enabled: body.public_access_enabled.unwrap_or(false),
        private_access_level: level,
        allowed_vpc_endpoint_ids: body.allowed_vpc_endpoint_ids.unwrap_or_default(),
    })
}

/// An account request on a path only AWS accounts serve; on an Azure account it is a path the
/// service does not serve.
pub struct OnAws {
    account: InAccount,
    method: Method,
    uri: Uri,
}

impl FromRequestParts<App> for OnAws {
    type Rejection = PathRejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Self {
            account: InAccount::from_request_parts(parts, app).await?,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

impl OnAws {
    fn run<T>(&self, f: impl FnOnce(&mut Account) -> Result<T, ApiError>) -> Result<T, ApiError> {
        self.account.run(|world| {
            if world.account.cloud != Cloud::Aws {
                return Err(ApiError::endpoint_not_found(
                    self.method.as_str(),
                    self.uri.path(),
                ));
            }
            f(&mut world.account)
        })
    }
}

#[derive(Deserialize)]
pub struct PasPath {
    pas_id: String,
}

pub async fn list_handler(aws: OnAws) -> Reply {
    aws.run(|a| Ok(Json(json!(a.private_access))))
}

pub async fn create_handler(aws: OnAws, Body(body): Body<PasBody>) -> Reply {
    aws.run(|a| {
        let pas = build(a, new_id(), body)?;
        a.private_access.push(pas.clone());
        Ok(Json(json!(pas)))
    })
}

pub async fn get_handler(aws: OnAws, Path(p): Path<PasPath>) -> Reply {
    aws.run(|a| find(a, &p.pas_id).map(|pas| Json(json!(pas))))
}

pub async fn replace_handler(
    aws: OnAws,
    Path(p): Path<PasPath>,
    Body(body): Body<PasBody>,
) -> Reply {
    aws.run(|a| {
        find(a, &p.pas_id)?;
        let pas = build(a, p.pas_id.clone(), body)?;
        if let Some(slot) = a
            .private_access
            .iter_mut()
            .find(|x| x.private_access_settings_id == p.pas_id)
        {
            *slot = pas.clone();
        }
        Ok(Json(json!(pas)))
    })
}

pub async fn delete_handler(aws: OnAws, Path(p): Path<PasPath>) -> Reply {
    aws.run(|a| {
        let pas = find(a, &p.pas_id)?.clone();
        if let Some((index, _)) = a
            .bindings
            .iter()
            .find(|(_, b)| b.private_access_settings_id.as_deref() == Some(p.pas_id.as_str()))
        {
            return Err(ApiError::invalid_state(format!(
                "Private access settings {} are used by workspace ws-{index}",
                p.pas_id
            )));
        }
        a.private_access
            .retain(|x| x.private_access_settings_id != p.pas_id);
        Ok(Json(json!(pas)))
    })
}
