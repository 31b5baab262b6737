//! Workspace configuration: `/api/2.0/workspace-conf`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::{Endpoint, RequestSpec};

const WORKSPACE_CONF: &str = "/api/2.0/workspace-conf";

impl DatabricksClient {
    // --- workspace-conf ----------------------------------------------------------------------

    /// Reads `keys` in one `?keys=` call. Every requested key is in the result; `None` means
    /// the API returned `null` (never set) or omitted it.
    pub async fn get_conf(
        &self,
        keys: &[&str],
    ) -> Result<BTreeMap<String, Option<String>>, ApiError> {
        if keys.is_empty() {
            return Ok(BTreeMap::new());
        }
        let spec =
            RequestSpec::get(Endpoint::new(WORKSPACE_CONF, &[])).query("keys", keys.join(","));
        let raw: Map<String, Value> = self.send_json(spec).await?;
        Ok(conf_values(keys, raw))
    }

    /// Reads `keys` like [`get_conf`](Self::get_conf), surviving keys the API refuses. One
    /// unknown or retired key fails the whole batched read (`400 Invalid keys: ["k"]`); the
    /// Terraform provider's workspace_conf resource then reads again without the keys the
    /// message names, and so does this, so that one retired key cannot blind the others.
    pub async fn read_conf(&self, keys: &[&str]) -> Result<ConfRead, ApiError> {
        let mut refused: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let asked: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| !refused.contains_key(*k))
                .collect();
            match self.get_conf(&asked).await {
                Ok(values) => return Ok(ConfRead { values, refused }),
                Err(error) => {
                    let invalid: Vec<String> = invalid_keys(&error)
                        .into_iter()
                        .filter(|k| asked.contains(&k.as_str()))
                        .collect();
                    // Nothing new to leave out: the error is not about keys.
                    if invalid.is_empty() {
                        return Err(error);
                    }
                    for key in invalid {
                        refused.insert(key, error.to_string());
                    }
                }
            }
        }
    }

    /// Writes workspace-conf values (always strings on the wire).
    pub async fn set_conf(&self, values: &BTreeMap<String, String>) -> Result<(), ApiError> {
        if values.is_empty() {
            return Ok(());
        }
        let spec = RequestSpec::patch(Endpoint::new(WORKSPACE_CONF, &[])).json(values)?;
        self.send(spec).await.map(drop)
    }
}

/// Maps a workspace-conf response onto the requested keys. Values are strings on the wire; a
/// non-string is kept as its JSON text rather than dropped.
pub(super) fn conf_values(
    keys: &[&str],
    mut raw: Map<String, Value>,
) -> BTreeMap<String, Option<String>> {
    keys.iter()
        .map(|k| {
            let value = match raw.remove(*k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                Some(other) => Some(other.to_string()),
            };
            (k.to_string(), value)
        })
        .collect()
}

/// A workspace-conf read: the values of the accepted keys, and the keys the API refused with
/// its answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfRead {
    pub values: BTreeMap<String, Option<String>>,
    pub refused: BTreeMap<String, String>,
}

/// The keys a `400 Invalid keys: ["a","b"]` names (the list after the colon is JSON).
fn invalid_keys(error: &ApiError) -> Vec<String> {
    let ApiError::Api {
        status: 400,
        message,
        ..
    } = error
    else {
        return Vec::new();
    };
    message
        .split_once("Invalid keys:")
        .and_then(|(_, list)| serde_json::from_str::<Vec<String>>(list.trim()).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_request(message: &str) -> ApiError {
        ApiError::Api {
            service: "databricks",
            endpoint: WORKSPACE_CONF,
            status: 400,
            error_code: Some("INVALID_PARAMETER_VALUE".into()),
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn invalid_keys_are_parsed_from_the_message() {
        assert_eq!(
            invalid_keys(&bad_request(r#"Invalid keys: ["foo","bar"]"#)),
            ["foo", "bar"]
        );
        assert!(invalid_keys(&bad_request("something else")).is_empty());
        assert!(invalid_keys(&bad_request("Invalid keys: not json")).is_empty());
    }
}
