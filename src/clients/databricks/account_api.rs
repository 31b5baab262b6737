//! How the account network clients speak to the account API
//! (`/api/2.0/accounts/{account_id}/...`): one way to read, list, write and delete, so each
//! client file holds only its paths and wire types.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::{HttpResponse, RequestSpec};

/// Most pages a listing follows: a server that keeps handing out tokens must not hold a pass.
const MAX_PAGES: usize = 1000;

/// One page of a paginated account listing (`{items, next_page_token}`, as
/// `ListNetworkConnectivityConfigurationsResponse` and `ListNetworkPoliciesResponse`).
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    next_page_token: Option<String>,
}

impl DatabricksClient {
    /// A `GET` of an account API path, its answer decoded: an object, or a listing the API
    /// answers with as a plain array.
    pub(super) async fn account_get<T: DeserializeOwned>(
        &self,
        template: &'static str,
        params: &[&str],
    ) -> Result<T, ApiError> {
        let spec = RequestSpec::get(self.account_endpoint(template, params)?);
        self.send_json(spec).await
    }

    /// Every item of a paginated listing, following `next_page_token` (`page_token` in the
    /// query) until the server sends none, as the SDK's iterators do. A token repeated by the
    /// server ends the listing with an error rather than a loop.
    pub(super) async fn account_list<T: DeserializeOwned>(
        &self,
        template: &'static str,
        params: &[&str],
    ) -> Result<Vec<T>, ApiError> {
        let endpoint = self.account_endpoint(template, params)?;
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut spec = RequestSpec::get(endpoint.clone());
            if let Some(token) = &token {
                spec = spec.query("page_token", token.clone());
            }
            let page: Page<T> = self.send_json(spec).await?;
            items.extend(page.items);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                None => return Ok(items),
                Some(next) if Some(&next) == token.as_ref() => break,
                Some(next) => token = Some(next),
            }
        }
        Err(ApiError::InvalidRequest(format!(
            "{}: the listing did not end (a page token repeated or more than {MAX_PAGES} pages)",
            endpoint.template()
        )))
    }

    /// A `POST`, `PUT` or `PATCH` of `body` to an account API path; the caller decodes the
    /// answer it needs. Sent once like every write: the client does not repeat a `POST` whose
    /// answer was lost.
    pub(super) async fn account_write<B: Serialize + ?Sized>(
        &self,
        method: Method,
        template: &'static str,
        params: &[&str],
        body: &B,
    ) -> Result<HttpResponse, ApiError> {
        let spec = RequestSpec::new(method, self.account_endpoint(template, params)?).json(body)?;
        self.send(spec).await
    }

    /// A `DELETE` of an account API path; the answer is not needed.
    pub(super) async fn account_delete(
        &self,
        template: &'static str,
        params: &[&str],
    ) -> Result<(), ApiError> {
        let spec = RequestSpec::delete(self.account_endpoint(template, params)?);
        self.send(spec).await.map(drop)
    }
}
