//! IP access lists: `/api/2.0/ip-access-lists`. The account API serves the same lists, with
//! the same fields and rules, under `/api/2.0/accounts/{account_id}/ip-access-lists`
//! (databricks-sdk `AccountIpAccessListsAPI`).

use serde::{Deserialize, Serialize};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::RequestSpec;

const IP_ACCESS_LISTS: &str = "/api/2.0/ip-access-lists";
const IP_ACCESS_LIST: &str = "/api/2.0/ip-access-lists/{list_id}";
const ACCOUNT_IP_ACCESS_LISTS: &str = "/api/2.0/accounts/{account_id}/ip-access-lists";
const ACCOUNT_IP_ACCESS_LIST: &str = "/api/2.0/accounts/{account_id}/ip-access-lists/{list_id}";

// ---------------------------------------------------------------------------------------------
// IP access lists

/// `ALLOW` or `BLOCK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListType {
    Allow,
    Block,
    /// A value this crate does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// An IP access list as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IpAccessList {
    #[serde(default)]
    pub list_id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub list_type: ListType,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    pub address_count: Option<u64>,
    pub enabled: Option<bool>,
    pub created_at: Option<i64>,
    pub created_by: Option<i64>,
    pub updated_at: Option<i64>,
    pub updated_by: Option<i64>,
}

/// Body of `POST /ip-access-lists`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewIpAccessList {
    pub label: String,
    pub list_type: ListType,
    pub ip_addresses: Vec<String>,
}

/// Body of `PUT /ip-access-lists/{id}`: every field replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaceIpAccessList {
    pub label: String,
    pub list_type: ListType,
    pub ip_addresses: Vec<String>,
    pub enabled: bool,
}

/// Body of `PATCH /ip-access-lists/{id}`: only the fields that are `Some` change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UpdateIpAccessList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_type: Option<ListType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
struct IpAccessListsResponse {
    #[serde(default)]
    ip_access_lists: Vec<IpAccessList>,
}

#[derive(Deserialize)]
struct IpAccessListResponse {
    ip_access_list: IpAccessList,
}

impl DatabricksClient {
    // --- IP access lists ---------------------------------------------------------------------

    pub async fn list_ip_access_lists(&self) -> Result<Vec<IpAccessList>, ApiError> {
        let spec = RequestSpec::get(self.scoped(IP_ACCESS_LISTS, ACCOUNT_IP_ACCESS_LISTS, &[]));
        Ok(self
            .send_json::<IpAccessListsResponse>(spec)
            .await?
            .ip_access_lists)
    }

    pub async fn get_ip_access_list(&self, list_id: &str) -> Result<IpAccessList, ApiError> {
        let spec =
            RequestSpec::get(self.scoped(IP_ACCESS_LIST, ACCOUNT_IP_ACCESS_LIST, &[list_id]));
        Ok(self
            .send_json::<IpAccessListResponse>(spec)
            .await?
            .ip_access_list)
    }

    /// Creates a list. Not retried on server errors: a lost response would create it twice.
    pub async fn create_ip_access_list(
        &self,
        list: &NewIpAccessList,
    ) -> Result<IpAccessList, ApiError> {
        let spec = RequestSpec::post(self.scoped(IP_ACCESS_LISTS, ACCOUNT_IP_ACCESS_LISTS, &[]))
            .json(list)?;
        Ok(self
            .send_json::<IpAccessListResponse>(spec)
            .await?
            .ip_access_list)
    }

    /// Replaces every field of a list (`PUT`).
    pub async fn replace_ip_access_list(
        &self,
        list_id: &str,
        list: &ReplaceIpAccessList,
    ) -> Result<(), ApiError> {
        let spec =
            RequestSpec::put(self.scoped(IP_ACCESS_LIST, ACCOUNT_IP_ACCESS_LIST, &[list_id]))
                .json(list)?;
        self.send(spec).await.map(drop)
    }

    /// Changes the given fields of a list (`PATCH`).
    pub async fn update_ip_access_list(
        &self,
        list_id: &str,
        update: &UpdateIpAccessList,
    ) -> Result<(), ApiError> {
        let spec =
            RequestSpec::patch(self.scoped(IP_ACCESS_LIST, ACCOUNT_IP_ACCESS_LIST, &[list_id]))
                .json(update)?;
        self.send(spec).await.map(drop)
    }

    pub async fn delete_ip_access_list(&self, list_id: &str) -> Result<(), ApiError> {
        let spec =
            RequestSpec::delete(self.scoped(IP_ACCESS_LIST, ACCOUNT_IP_ACCESS_LIST, &[list_id]));
        self.send(spec).await.map(drop)
    }
}
