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
