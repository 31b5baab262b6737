//! `SecurityBaseline`: a cluster-wide posture that workspaces reference by name.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::Policy;

/// Switches and bounds shared by many workspaces. Organisation-specific values (addresses of IP
/// access lists, principals of token permissions and ACLs) come from each workspace's own policy,
/// which overrides the baseline field by field.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "brickwarden.io",
    version = "v1alpha1",
    kind = "SecurityBaseline",
    shortname = "dbsb",
    category = "brickwarden",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Description","type":"string","jsonPath":".spec.description"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SecurityBaselineSpec {
    /// What this baseline is for and which benchmark it follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    #[serde(default)]
    pub policy: Policy,
    /// The posture of the accounts that reference this baseline (`DatabricksAccount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<super::AccountPolicy>,
    /// Accepted risks for every workspace on this baseline, each with a reason and an expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub exceptions: Vec<super::Exception>,
}
