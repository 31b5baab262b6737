//! The account's workspaces: `/api/2.0/accounts/{account_id}/workspaces[/{workspace_id}]`
//! (databricks-sdk 0.156.0 `provisioning.WorkspacesAPI`). Only what binding a workspace to a
//! network connectivity config or to private access settings needs. Account API only.

use serde::{Deserialize, Serialize};

use super::DatabricksClient;
use crate::clients::error::ApiError;
use crate::clients::http::RequestSpec;

const WORKSPACES: &str = "/api/2.0/accounts/{account_id}/workspaces";
const WORKSPACE: &str = "/api/2.0/accounts/{account_id}/workspaces/{workspace_id}";

/// A workspace as the account API returns it (`provisioning.Workspace`, the fields used here).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct AccountWorkspace {
    #[serde(default)]
    pub workspace_id: i64,
    pub workspace_name: Option<String>,
    /// `AWS`, `AZURE` or `GCP`.
    pub cloud: Option<String>,
    /// The region of an Azure (or GCP) workspace.
    pub location: Option<String>,
    /// The region of an AWS workspace.
    pub aws_region: Option<String>,
    pub network_connectivity_config_id: Option<String>,
    pub private_access_settings_id: Option<String>,
    pub workspace_status: Option<String>,
    pub deployment_name: Option<String>,
}

impl AccountWorkspace {
    /// The workspace's region, whichever cloud's field carries it.
    pub fn region(&self) -> Option<&str> {
        self.location
            .as_deref()
            .or(self.aws_region.as_deref())
            .filter(|r| !r.is_empty())
    }
}

/// The fields of a workspace `PATCH` that change; the others are left as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WorkspaceUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_connectivity_config_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_access_settings_id: Option<String>,
}

impl WorkspaceUpdate {
    /// The `update_mask` naming exactly the fields sent (SDK 0.156.0 `WorkspacesAPI.update`).
    fn mask(&self) -> String {
        let mut fields = Vec::new();
        if self.network_connectivity_config_id.is_some() {
            fields.push("network_connectivity_config_id");
        }
        if self.private_access_settings_id.is_some() {
            fields.push("private_access_settings_id");
        }
        fields.join(",")
    }
}

impl DatabricksClient {
    /// Every workspace of the account (the API answers with a plain array, unpaginated).
    pub async fn list_account_workspaces(&self) -> Result<Vec<AccountWorkspace>, ApiError> {
        self.account_get(WORKSPACES, &[]).await
    }

    pub async fn get_account_workspace(
        &self,
        workspace_id: i64,
    ) -> Result<AccountWorkspace, ApiError> {
        let id = workspace_id.to_string();
        self.account_get(WORKSPACE, &[&id]).await
    }

    /// Changes the given fields of a workspace. The workspace update is a long-running
    /// operation on the account side; the fields read back at once, so it is not waited for.
    pub async fn update_account_workspace(
        &self,
        workspace_id: i64,
        update: &WorkspaceUpdate,
    ) -> Result<(), ApiError> {
        let id = workspace_id.to_string();
        let spec = RequestSpec::patch(self.account_endpoint(WORKSPACE, &[&id])?)
            .query("update_mask", update.mask())
            .json(update)?;
        self.send(spec).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn region_comes_from_either_cloud_field() {
        let azure: AccountWorkspace = serde_json::from_value(json!({
            "workspace_id": 1, "location": "westeurope", "cloud": "azure",
            "azure_workspace_info": {"subscription_id": "s"}
        }))
        .unwrap();
        assert_eq!(azure.region(), Some("westeurope"));
        let aws: AccountWorkspace =
            serde_json::from_value(json!({"workspace_id": 2, "aws_region": "us-east-1"})).unwrap();
        assert_eq!(aws.region(), Some("us-east-1"));
        assert_eq!(AccountWorkspace::default().region(), None);
    }

    #[test]
    fn an_update_sends_and_masks_only_its_fields() {
        let u = WorkspaceUpdate {
            network_connectivity_config_id: Some("n1".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"network_connectivity_config_id": "n1"})
        );
        assert_eq!(u.mask(), "network_connectivity_config_id");
    }
}
