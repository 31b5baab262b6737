//! Azure Resource Manager client for `Microsoft.Databricks/workspaces` and their diagnostic
//! settings.
//!
//! ARM's PATCH of a Databricks workspace changes tags only, so a property change is a GET of
//! the full resource, an edit of its JSON and a PUT of all of it: the typed [`ArmWorkspace`]
//! view is for reading, its `raw` JSON is what goes back.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::ClientOptions;
use super::auth::{Authorizer, Credential};
use super::error::ApiError;
use super::http::{Endpoint, HttpClient, HttpResponse, RequestSpec, SERVICE_ARM};

/// api-version of `Microsoft.Databricks/workspaces`.
pub const WORKSPACE_API_VERSION: &str = "2026-01-01";
/// api-version of `Microsoft.Insights/diagnosticSettings`.
pub const DIAGNOSTIC_SETTINGS_API_VERSION: &str = "2021-05-01-preview";

const WORKSPACE: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Databricks/workspaces/{workspaceName}";
const DIAGNOSTIC_SETTINGS: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Databricks/workspaces/{workspaceName}/providers/Microsoft.Insights/diagnosticSettings";
const DIAGNOSTIC_SETTING: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Databricks/workspaces/{workspaceName}/providers/Microsoft.Insights/diagnosticSettings/{name}";
/// Metrics label of async-operation polls (their URL is handed out by ARM).
const ASYNC_OPERATION: &str = "{azureAsyncOperation}";

/// The parts of a workspace resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceId {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl WorkspaceId {
    /// Parses `/subscriptions/S/resourceGroups/RG/providers/Microsoft.Databricks/workspaces/N`
    /// (literal segments case-insensitive, as ARM treats them).
    pub fn parse(resource_id: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::InvalidRequest(format!(
                "not a Microsoft.Databricks/workspaces resource id: {resource_id}"
            ))
        };
        let parts: Vec<&str> = resource_id.trim_end_matches('/').split('/').collect();
        let literal =
            |i: usize, want: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(want));
        let value = |i: usize| {
            parts
                .get(i)
                .filter(|p| !p.is_empty())
                .map(|p| p.to_string())
        };
        if parts.len() != 9
            || !parts[0].is_empty()
            || !literal(1, "subscriptions")
            || !literal(3, "resourceGroups")
            || !literal(5, "providers")
            || !literal(6, "Microsoft.Databricks")
            || !literal(7, "workspaces")
        {
            return Err(invalid());
        }
        Ok(Self {
            subscription_id: value(2).ok_or_else(invalid)?,
            resource_group: value(4).ok_or_else(invalid)?,
            name: value(8).ok_or_else(invalid)?,
        })
    }

    fn params(&self) -> [&str; 3] {
        [&self.subscription_id, &self.resource_group, &self.name]
    }
}

/// Typed view of a `Microsoft.Databricks/workspaces` resource, with the full JSON in `raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmWorkspace {
    pub id: Option<String>,
    pub name: Option<String>,
    pub location: Option<String>,
    /// `standard`, `premium` or `trial`.
    pub sku: Option<String>,
    pub provisioning_state: Option<String>,
    /// `Enabled` or `Disabled`.
    pub public_network_access: Option<String>,
    /// `AllRules`, `NoAzureDatabricksRules` or `NoAzureServiceRules`.
    pub required_nsg_rules: Option<String>,
    /// `properties.parameters.enableNoPublicIp.value`.
    pub enable_no_public_ip: Option<bool>,
    /// `properties.parameters.customVirtualNetworkId.value`: set when VNet-injected.
    pub custom_virtual_network_id: Option<String>,
    /// `properties.parameters.requireInfrastructureEncryption.value`.
    pub require_infrastructure_encryption: Option<bool>,
    /// `properties.encryption.entities.managedServices.keySource`.
    pub managed_services_key_source: Option<String>,
    /// `properties.encryption.entities.managedDisk.keySource`.
    pub managed_disk_key_source: Option<String>,
    /// `properties.enhancedSecurityCompliance.complianceSecurityProfile.value`.
    pub compliance_security_profile: Option<String>,
    /// `properties.enhancedSecurityCompliance.enhancedSecurityMonitoring.value`.
    pub enhanced_security_monitoring: Option<String>,
    /// `properties.enhancedSecurityCompliance.automaticClusterUpdate.value`.
    pub automatic_cluster_update: Option<String>,
    /// The resource as ARM returned it; edit this and PUT it back.
    pub raw: Value,
}

/// The string at a JSON pointer of an ARM resource.
fn text_at(raw: &Value, pointer: &str) -> Option<String> {
    raw.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl ArmWorkspace {
    pub fn from_raw(raw: Value) -> Self {
        let s = |p: &str| text_at(&raw, p);
        let b = |p: &str| raw.pointer(p).and_then(Value::as_bool);
        Self {
            id: s("/id"),
            name: s("/name"),
            location: s("/location"),
            sku: s("/sku/name"),
            provisioning_state: s("/properties/provisioningState"),
            public_network_access: s("/properties/publicNetworkAccess"),
            required_nsg_rules: s("/properties/requiredNsgRules"),
            enable_no_public_ip: b("/properties/parameters/enableNoPublicIp/value"),
            custom_virtual_network_id: s("/properties/parameters/customVirtualNetworkId/value"),
            require_infrastructure_encryption: b(
                "/properties/parameters/requireInfrastructureEncryption/value",
            ),
            managed_services_key_source: s(
                "/properties/encryption/entities/managedServices/keySource",
            ),
            managed_disk_key_source: s("/properties/encryption/entities/managedDisk/keySource"),
            compliance_security_profile: s(
                "/properties/enhancedSecurityCompliance/complianceSecurityProfile/value",
            ),
            enhanced_security_monitoring: s(
                "/properties/enhancedSecurityCompliance/enhancedSecurityMonitoring/value",
            ),
            automatic_cluster_update: s(
                "/properties/enhancedSecurityCompliance/automaticClusterUpdate/value",
            ),
            raw,
        }
    }

    /// Whether the workspace is injected into a customer VNet.
    pub fn vnet_injected(&self) -> bool {
        self.custom_virtual_network_id
            .as_deref()
            .is_some_and(|v| !v.is_empty())
    }
}

/// The workspace properties brickwarden changes in place; `None`: left as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceUpdate {
    /// `properties.parameters.enableNoPublicIp.value`.
    pub enable_no_public_ip: Option<bool>,
    /// `properties.publicNetworkAccess`: `Enabled` or `Disabled`.
    pub public_network_access: Option<String>,
    /// `properties.enhancedSecurityCompliance.complianceSecurityProfile.value` (the compliance
    /// standards already set are kept).
    pub compliance_security_profile: Option<bool>,
    /// `properties.enhancedSecurityCompliance.enhancedSecurityMonitoring.value`.
    pub enhanced_security_monitoring: Option<bool>,
    /// `properties.enhancedSecurityCompliance.automaticClusterUpdate.value`.
    pub automatic_cluster_update: Option<bool>,
}

impl WorkspaceUpdate {
    pub fn is_empty(&self) -> bool {
        *self == WorkspaceUpdate::default()
    }

    /// This update with `other`'s properties added (`other` wins where both set one).
    pub fn merged(self, other: WorkspaceUpdate) -> WorkspaceUpdate {
        WorkspaceUpdate {
            enable_no_public_ip: other.enable_no_public_ip.or(self.enable_no_public_ip),
            public_network_access: other.public_network_access.or(self.public_network_access),
            compliance_security_profile: other
                .compliance_security_profile
                .or(self.compliance_security_profile),
            enhanced_security_monitoring: other
                .enhanced_security_monitoring
                .or(self.enhanced_security_monitoring),
            automatic_cluster_update: other
                .automatic_cluster_update
                .or(self.automatic_cluster_update),
        }
    }

    /// This update without the properties `part` sets.
    pub fn without(&self, part: &WorkspaceUpdate) -> WorkspaceUpdate {
        fn keep<T: Clone>(mine: &Option<T>, theirs: &Option<T>) -> Option<T> {
            if theirs.is_some() { None } else { mine.clone() }
        }
        WorkspaceUpdate {
            enable_no_public_ip: keep(&self.enable_no_public_ip, &part.enable_no_public_ip),
            public_network_access: keep(&self.public_network_access, &part.public_network_access),
            compliance_security_profile: keep(
                &self.compliance_security_profile,
                &part.compliance_security_profile,
            ),
            enhanced_security_monitoring: keep(
                &self.enhanced_security_monitoring,
                &part.enhanced_security_monitoring,
            ),
            automatic_cluster_update: keep(
                &self.automatic_cluster_update,
                &part.automatic_cluster_update,
            ),
        }
    }

    pub fn closes_public_access(&self) -> bool {
        self.public_network_access.as_deref() == Some("Disabled")
    }

    /// The update as a JSON merge patch (RFC 7396) of the workspace resource.
    fn merge_patch(&self) -> Value {
        let mut properties = serde_json::Map::new();
        if let Some(value) = self.enable_no_public_ip {
            properties.insert(
                "parameters".into(),
                serde_json::json!({"enableNoPublicIp": {"value": value}}),
            );
        }
        if let Some(access) = &self.public_network_access {
            properties.insert("publicNetworkAccess".into(), Value::from(access.as_str()));
        }
        let switch =
            |on: bool| serde_json::json!({"value": if on { "Enabled" } else { "Disabled" }});
        let mut compliance = serde_json::Map::new();
        for (name, value) in [
            (
                "complianceSecurityProfile",
                self.compliance_security_profile,
            ),
            (
                "enhancedSecurityMonitoring",
                self.enhanced_security_monitoring,
            ),
            ("automaticClusterUpdate", self.automatic_cluster_update),
        ] {
            if let Some(on) = value {
                compliance.insert(name.into(), switch(on));
            }
        }
        if !compliance.is_empty() {
            properties.insert(
                "enhancedSecurityCompliance".into(),
                Value::Object(compliance),
            );
        }
        serde_json::json!({ "properties": properties })
    }
}

/// The PUT body that makes `current` (the live setting, if any) send the logs of `categories` to
/// the Log Analytics workspace: the live setting's properties with that workspace set and every
/// category enabled; other destinations and categories are kept. A setting with nothing enabled
/// gets the `allLogs` category group.
pub fn diagnostic_setting_body(
    log_analytics_workspace_id: &str,
    categories: &[String],
    current: Option<&DiagnosticSetting>,
) -> Value {
    let mut properties = current
        .and_then(|c| c.raw.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    properties.insert(
        "workspaceId".into(),
        Value::from(log_analytics_workspace_id),
    );
    let mut logs: Vec<Value> = properties
        .get("logs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let covered_by_all = logs.iter().any(|l| {
        l["enabled"] == true
            && l["categoryGroup"]
                .as_str()
                .is_some_and(|g| g.eq_ignore_ascii_case(ALL_LOGS))
    });
    if !covered_by_all {
        for category in categories {
            let existing = logs.iter_mut().find(|l| {
                l["category"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(category))
            });
            match existing {
                Some(log) => log["enabled"] = Value::Bool(true),
                None => logs.push(serde_json::json!({"category": category, "enabled": true})),
            }
        }
    }
    if !logs.iter().any(|l| l["enabled"] == true) {
        logs.push(serde_json::json!({"categoryGroup": ALL_LOGS, "enabled": true}));
    }
    properties.insert("logs".into(), Value::Array(logs));
    serde_json::json!({ "properties": properties })
}

/// The diagnostic-setting category group that covers every log category.
pub const ALL_LOGS: &str = "allLogs";

/// One log category of a diagnostic setting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticLog {
    pub category: Option<String>,
    pub category_group: Option<String>,
    #[serde(default)]
    pub enabled: bool,
}

/// Typed view of a `Microsoft.Insights/diagnosticSettings` resource, full JSON in `raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagnosticSetting {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Log Analytics workspace resource id (`properties.workspaceId`).
    pub workspace_id: Option<String>,
    pub storage_account_id: Option<String>,
    pub event_hub_authorization_rule_id: Option<String>,
    pub logs: Vec<DiagnosticLog>,
    pub raw: Value,
}

impl DiagnosticSetting {
    pub fn from_raw(raw: Value) -> Self {
        let s = |p: &str| text_at(&raw, p);
        // A log entry that does not parse counts as no entry: the control then reports the
        // category missing rather than failing the read.
        let logs = raw
            .pointer("/properties/logs")
            .and_then(Value::as_array)
            .map(|logs| {
                logs.iter()
                    .filter_map(|l| DiagnosticLog::deserialize(l).ok())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: s("/id"),
            name: s("/name"),
            workspace_id: s("/properties/workspaceId"),
            storage_account_id: s("/properties/storageAccountId"),
            event_hub_authorization_rule_id: s("/properties/eventHubAuthorizationRuleId"),
            logs,
            raw,
        }
    }
}

/// How long to wait for long-running ARM operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollOptions {
    /// Delay between polls when ARM sends no `Retry-After`.
    pub interval: Duration,
    /// Give up (with [`ApiError::Timeout`]) after this long.
    pub timeout: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
        }
    }
}

/// Azure Resource Manager client. Cheap to clone.
#[derive(Clone)]
pub struct ArmClient {
    http: HttpClient,
    poll: PollOptions,
}

impl fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmClient")
            .field("http", &self.http)
            .field("poll", &self.poll)
            .finish()
    }
}

impl ArmClient {
    /// A client for ARM at `arm_base_url` (e.g. `https://management.azure.com` or the
    /// emulator's `http://127.0.0.1:PORT/arm`). Only Entra ID credentials work with ARM.
    pub fn new(
        arm_base_url: Url,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        let authorizer = Authorizer::for_arm(
            &credential,
            &options.authority_host,
            &options.arm_scope,
            &options.http,
        )?;
        let http = HttpClient::new(SERVICE_ARM, arm_base_url, options.http, authorizer)?;
        Ok(Self {
            http,
            poll: PollOptions::default(),
        })
    }

    /// Overrides how long-running operations are polled.
    pub fn with_poll_options(mut self, poll: PollOptions) -> Self {
        self.poll = poll;
        self
    }

    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    pub async fn get_workspace(&self, resource_id: &str) -> Result<ArmWorkspace, ApiError> {
        let id = WorkspaceId::parse(resource_id)?;
        let spec = RequestSpec::get(Endpoint::new(WORKSPACE, &id.params()))
            .query("api-version", WORKSPACE_API_VERSION);
        Ok(ArmWorkspace::from_raw(self.http.send_json(spec).await?))
    }

    /// PUTs the full resource. ARM answers 200/201 with the resource, or 201/202 with an
    /// `Azure-AsyncOperation` (or `Location`) to poll; after a polled operation succeeds the
    /// workspace is read again so the result is its final state.
    pub async fn put_workspace(
        &self,
        resource_id: &str,
        workspace: &Value,
    ) -> Result<ArmWorkspace, ApiError> {
        let id = WorkspaceId::parse(resource_id)?;
        let spec = RequestSpec::put(Endpoint::new(WORKSPACE, &id.params()))
            .query("api-version", WORKSPACE_API_VERSION)
            .json(workspace)?;
        let response = self.http.send(spec).await?;
        let polled = self.await_operation(&response).await?;
        let workspace = if polled || response.body.is_empty() {
            self.settled_workspace(resource_id).await?
        } else {
            let answered = ArmWorkspace::from_raw(response.json()?);
            if is_terminal(answered.provisioning_state.as_deref()) {
                answered
            } else {
                // No operation to poll, but the resource itself is still updating.
                self.settled_workspace(resource_id).await?
            }
        };
        if workspace
            .provisioning_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("Failed"))
        {
            return Err(ApiError::Api {
                service: SERVICE_ARM,
                endpoint: WORKSPACE,
                status: 200,
                error_code: Some("ProvisioningFailed".into()),
                message: "the workspace update ended with provisioningState Failed".into(),
                retry_after: None,
            });
        }
        Ok(workspace)
    }

    /// GETs the workspace until its `provisioningState` is terminal, so that brickwarden never
    /// starts a PUT while another operation runs (ARM answers 409 `Conflict` then).
    pub async fn settled_workspace(&self, resource_id: &str) -> Result<ArmWorkspace, ApiError> {
        let started = Instant::now();
        loop {
            let workspace = self.get_workspace(resource_id).await?;
            if is_terminal(workspace.provisioning_state.as_deref()) {
                return Ok(workspace);
            }
            self.wait(self.poll.interval, started)?;
            tokio::time::sleep(self.poll.interval).await;
        }
    }

    /// Changes the properties of `update` and nothing else: GET the full resource once no
    /// operation runs on it, merge the update into it, PUT all of it back (ARM's PATCH would
    /// change tags only), and wait for the operation. A `409 Conflict` (an operation started
    /// between the read and the write) is waited out and the change made once more.
    pub async fn update_workspace(
        &self,
        resource_id: &str,
        update: &WorkspaceUpdate,
    ) -> Result<(), ApiError> {
        let put = async || {
            let mut raw = self.settled_workspace(resource_id).await?.raw;
            json_patch::merge(&mut raw, &update.merge_patch());
            self.put_workspace(resource_id, &raw).await.map(drop)
        };
        match put().await {
            Err(error) if error.is_conflict() => put().await,
            other => other,
        }
    }

    pub async fn get_diagnostic_setting(
        &self,
        resource_id: &str,
        name: &str,
    ) -> Result<DiagnosticSetting, ApiError> {
        let spec = RequestSpec::get(self.diagnostic_endpoint(resource_id, name)?)
            .query("api-version", DIAGNOSTIC_SETTINGS_API_VERSION);
        Ok(DiagnosticSetting::from_raw(
            self.http.send_json(spec).await?,
        ))
    }

    /// Creates or replaces a diagnostic setting (`{properties: {workspaceId, logs, ...}}`).
    pub async fn put_diagnostic_setting(
        &self,
        resource_id: &str,
        name: &str,
        setting: &Value,
    ) -> Result<DiagnosticSetting, ApiError> {
        let spec = RequestSpec::put(self.diagnostic_endpoint(resource_id, name)?)
            .query("api-version", DIAGNOSTIC_SETTINGS_API_VERSION)
            .json(setting)?;
        Ok(DiagnosticSetting::from_raw(
            self.http.send_json(spec).await?,
        ))
    }

    pub async fn list_diagnostic_settings(
        &self,
        resource_id: &str,
    ) -> Result<Vec<DiagnosticSetting>, ApiError> {
        let id = WorkspaceId::parse(resource_id)?;
        let spec = RequestSpec::get(Endpoint::new(DIAGNOSTIC_SETTINGS, &id.params()))
            .query("api-version", DIAGNOSTIC_SETTINGS_API_VERSION);
        let list: Value = self.http.send_json(spec).await?;
        let items = list.get("value").and_then(Value::as_array).cloned();
        Ok(items
            .unwrap_or_default()
            .into_iter()
            .map(DiagnosticSetting::from_raw)
            .collect())
    }

    pub async fn delete_diagnostic_setting(
        &self,
        resource_id: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let spec = RequestSpec::delete(self.diagnostic_endpoint(resource_id, name)?)
            .query("api-version", DIAGNOSTIC_SETTINGS_API_VERSION);
        self.http.send(spec).await.map(drop)
    }

    fn diagnostic_endpoint(&self, resource_id: &str, name: &str) -> Result<Endpoint, ApiError> {
        let id = WorkspaceId::parse(resource_id)?;
        let [s, rg, w] = id.params();
        Ok(Endpoint::new(DIAGNOSTIC_SETTING, &[s, rg, w, name]))
    }

    /// Polls the long-running operation a response points at, if any. Returns whether there
    /// was one (and it succeeded).
    async fn await_operation(&self, response: &HttpResponse) -> Result<bool, ApiError> {
        if let Some(url) = response.header("azure-asyncoperation") {
            let url = self.operation_url(url)?;
            self.poll_async_operation(url, retry_after(response))
                .await?;
            return Ok(true);
        }
        // A `Location` without `Azure-AsyncOperation` is polled on 201 as on 202.
        if matches!(response.status.as_u16(), 201 | 202)
            && let Some(url) = response.header("location")
        {
            let url = self.operation_url(url)?;
            self.poll_location(url, retry_after(response)).await?;
            return Ok(true);
        }
        Ok(false)
    }

    fn operation_url(&self, text: &str) -> Result<Url, ApiError> {
        // Relative URLs are resolved against the ARM base; the HTTP layer refuses other hosts.
        self.http
            .base_url()
            .join(text)
            .map_err(|_| ApiError::InvalidRequest("ARM returned an invalid operation URL".into()))
    }

    /// `Azure-AsyncOperation`: GET until `status` is terminal.
    async fn poll_async_operation(
        &self,
        url: Url,
        first_delay: Option<Duration>,
    ) -> Result<(), ApiError> {
        let started = Instant::now();
        let mut delay = first_delay.unwrap_or(self.poll.interval);
        loop {
            self.wait(delay, started)?;
            tokio::time::sleep(delay).await;
            let spec = RequestSpec::absolute(Method::GET, ASYNC_OPERATION, url.clone());
            let response = self.http.send(spec).await?;
            let body: Value = response.json()?;
            match operation_state(&body) {
                OperationState::Succeeded => return Ok(()),
                OperationState::Failed {
                    status,
                    code,
                    message,
                } => {
                    return Err(ApiError::Api {
                        service: SERVICE_ARM,
                        endpoint: ASYNC_OPERATION,
                        status: response.status.as_u16(),
                        error_code: code.or(Some(status)),
                        message,
                        retry_after: None,
                    });
                }
                OperationState::Running => {
                    delay = retry_after(&response).unwrap_or(self.poll.interval);
                }
            }
        }
    }

    /// `Location`: GET until the answer is no longer 202.
    async fn poll_location(&self, url: Url, first_delay: Option<Duration>) -> Result<(), ApiError> {
        let started = Instant::now();
        let mut delay = first_delay.unwrap_or(self.poll.interval);
        loop {
            self.wait(delay, started)?;
            tokio::time::sleep(delay).await;
            let spec = RequestSpec::absolute(Method::GET, ASYNC_OPERATION, url.clone());
            let response = self.http.send(spec).await?;
            if response.status.as_u16() != 202 {
                return Ok(());
            }
            delay = retry_after(&response).unwrap_or(self.poll.interval);
        }
    }

    /// Errors if waiting `delay` more would pass the poll timeout.
    fn wait(&self, delay: Duration, started: Instant) -> Result<(), ApiError> {
        if started.elapsed() + delay > self.poll.timeout {
            return Err(ApiError::Timeout {
                service: SERVICE_ARM,
                endpoint: ASYNC_OPERATION,
                elapsed: started.elapsed(),
            });
        }
        Ok(())
    }
}

fn retry_after(response: &HttpResponse) -> Option<Duration> {
    super::error::parse_retry_after(&response.headers, jiff::Timestamp::now())
        .map(|d| d.min(Duration::from_secs(60)))
}

#[derive(Debug, PartialEq, Eq)]
enum OperationState {
    Running,
    Succeeded,
    Failed {
        status: String,
        code: Option<String>,
        message: String,
    },
}

/// Reads an async-operation body: `{status: InProgress|Succeeded|Failed|Canceled, error?}`.
/// Whether a `provisioningState` is final (absent counts as final: nothing to wait for).
fn is_terminal(state: Option<&str>) -> bool {
    state.is_none_or(|s| {
        ["Succeeded", "Failed", "Canceled"]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(s))
    })
}

fn operation_state(body: &Value) -> OperationState {
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("InProgress");
    match status {
        s if s.eq_ignore_ascii_case("Succeeded") => OperationState::Succeeded,
        s if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") => {
            let error = body.get("error");
            let text = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
            OperationState::Failed {
                status: s.to_string(),
                code: text("code").map(str::to_string),
                message: text("message")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("operation {s}")),
            }
        }
        _ => OperationState::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LA: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la";

    #[test]
    fn diagnostic_body_keeps_other_destinations_and_categories() {
        let live = DiagnosticSetting::from_raw(serde_json::json!({"properties": {
            "workspaceId": "/old",
            "storageAccountId": "/sa",
            "logs": [{"category": "jobs", "enabled": false}, {"category": "clusters", "enabled": true}],
        }}));
        let categories = ["jobs".to_string(), "accounts".to_string()];
        let body = diagnostic_setting_body(LA, &categories, Some(&live));
        assert_eq!(
            body,
            serde_json::json!({"properties": {
                "workspaceId": LA,
                "storageAccountId": "/sa",
                "logs": [
                    {"category": "jobs", "enabled": true},
                    {"category": "clusters", "enabled": true},
                    {"category": "accounts", "enabled": true},
                ],
            }})
        );
        // Nothing declared, nothing enabled: every category.
        assert_eq!(
            diagnostic_setting_body(LA, &[], None),
            serde_json::json!({"properties": {"workspaceId": LA, "logs": [{"categoryGroup": "allLogs", "enabled": true}]}})
        );
    }

    #[test]
    fn workspace_update_changes_only_its_properties() {
        let mut raw = serde_json::json!({
            "tags": {"team": "data"},
            "properties": {
                "computeMode": "Hybrid",
                "parameters": {"enableNoPublicIp": {"type": "Bool", "value": false}, "prepareEncryption": {"value": true}},
                "publicNetworkAccess": "Enabled",
            },
        });
        let update = WorkspaceUpdate {
            enable_no_public_ip: Some(true),
            public_network_access: Some("Disabled".into()),
            ..Default::default()
        };
        assert!(update.closes_public_access() && !update.is_empty());
        json_patch::merge(&mut raw, &update.merge_patch());
        assert_eq!(
            raw,
            serde_json::json!({
                "tags": {"team": "data"},
                "properties": {
                    "computeMode": "Hybrid",
                    "parameters": {"enableNoPublicIp": {"type": "Bool", "value": true}, "prepareEncryption": {"value": true}},
                    "publicNetworkAccess": "Disabled",
                },
            })
        );
        let mut bare = serde_json::json!({});
        json_patch::merge(
            &mut bare,
            &WorkspaceUpdate {
                enable_no_public_ip: Some(true),
                ..Default::default()
            }
            .merge_patch(),
        );
        assert_eq!(
            bare["properties"]["parameters"]["enableNoPublicIp"]["value"],
            true
        );
    }
    use serde_json::json;

    const ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws-1";

    #[test]
    fn parses_workspace_ids() {
        let id = WorkspaceId::parse(ID).unwrap();
        assert_eq!(id.resource_group, "rg");
        assert_eq!(id.name, "ws-1");
        let lower = ID.to_lowercase().replace("ws-1", "WS-1");
        assert_eq!(WorkspaceId::parse(&lower).unwrap().name, "WS-1");
        for bad in [
            "",
            "/subscriptions/s/resourceGroups/rg",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x",
            "subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/x",
            "/subscriptions//resourceGroups/rg/providers/Microsoft.Databricks/workspaces/x",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/x/extra",
        ] {
            assert!(WorkspaceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn workspace_endpoint_keeps_template_and_prefix() {
        let id = WorkspaceId::parse(ID).unwrap();
        let e = Endpoint::new(WORKSPACE, &id.params());
        assert_eq!(e.path(), ID);
        let base = Url::parse("http://127.0.0.1:9/arm").unwrap();
        assert_eq!(
            super::super::http::join_path(&base, e.path()).as_str(),
            format!("http://127.0.0.1:9/arm{ID}")
        );
    }

    #[test]
    fn typed_workspace_view() {
        let raw = json!({
            "id": ID, "name": "ws-1", "location": "westeurope", "sku": {"name": "premium"},
            "properties": {
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Disabled",
                "requiredNsgRules": "NoAzureDatabricksRules",
                "parameters": {
                    "enableNoPublicIp": {"type": "Bool", "value": true},
                    "customVirtualNetworkId": {"type": "String", "value": "/subscriptions/x/vnet"},
                    "requireInfrastructureEncryption": {"type": "Bool", "value": false}
                },
                "encryption": {"entities": {
                    "managedServices": {"keySource": "Microsoft.Keyvault"},
                    "managedDisk": {"keySource": "Microsoft.Keyvault"}
                }},
                "unknownProperty": 1
            }
        });
        let w = ArmWorkspace::from_raw(raw.clone());
        assert_eq!(w.sku.as_deref(), Some("premium"));
        assert_eq!(w.enable_no_public_ip, Some(true));
        assert_eq!(w.require_infrastructure_encryption, Some(false));
        assert!(w.vnet_injected());
        assert_eq!(
            w.managed_disk_key_source.as_deref(),
            Some("Microsoft.Keyvault")
        );
        assert_eq!(w.raw, raw);
        let empty = ArmWorkspace::from_raw(json!({}));
        assert!(!empty.vnet_injected());
        assert_eq!(empty.public_network_access, None);
    }

    #[test]
    fn typed_diagnostic_setting_view() {
        let d = DiagnosticSetting::from_raw(json!({
            "name": "brickwarden",
            "properties": {"workspaceId": "/subscriptions/x/la", "logs": [
                {"category": "accounts", "enabled": true},
                {"categoryGroup": "allLogs", "enabled": false}
            ]}
        }));
        assert_eq!(d.workspace_id.as_deref(), Some("/subscriptions/x/la"));
        assert_eq!(d.logs.len(), 2);
        assert_eq!(d.logs[1].category_group.as_deref(), Some("allLogs"));
        assert!(!d.logs[1].enabled);
    }

    #[test]
    fn operation_states() {
        assert_eq!(
            operation_state(&json!({"status": "InProgress"})),
            OperationState::Running
        );
        assert_eq!(operation_state(&json!({})), OperationState::Running);
        assert_eq!(
            operation_state(&json!({"status": "Succeeded"})),
            OperationState::Succeeded
        );
        assert_eq!(
            operation_state(
                &json!({"status": "Failed", "error": {"code": "Conflict", "message": "busy"}})
            ),
            OperationState::Failed {
                status: "Failed".into(),
                code: Some("Conflict".into()),
                message: "busy".into()
            }
        );
    }

    /// A minimal ARM + Entra double that answers PUT asynchronously, as real ARM does for
    /// long-running changes (the emulator answers synchronously).
    mod async_put {
        use super::*;
        use axum::Router;
        use axum::extract::State;
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        use axum::routing::{get, post};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};

        #[derive(Clone)]
        struct Double {
            base: String,
            polls: Arc<AtomicU32>,
            final_status: &'static str,
            operation_host: Option<&'static str>,
        }

        async fn token() -> impl IntoResponse {
            axum::Json(json!({"access_token": "arm-token", "expires_in": 3600}))
        }

        async fn put(State(d): State<Double>) -> impl IntoResponse {
            let op = match d.operation_host {
                Some(host) => format!("http://{host}/arm/operations/1?api-version=x"),
                None => format!("{}/arm/operations/1?api-version=x", d.base),
            };
            let mut headers = HeaderMap::new();
            headers.insert("azure-asyncoperation", op.parse().unwrap());
            headers.insert("retry-after", "0".parse().unwrap());
            let body = json!({"name": "ws-1", "properties": {"provisioningState": "Accepted"}});
            (StatusCode::CREATED, headers, axum::Json(body))
        }

        async fn get_ws() -> impl IntoResponse {
            axum::Json(json!({"name": "ws-1", "properties": {
                "provisioningState": "Succeeded", "publicNetworkAccess": "Disabled"}}))
        }

        async fn operation(State(d): State<Double>) -> impl IntoResponse {
            let n = d.polls.fetch_add(1, Ordering::SeqCst);
            let status = if n < 2 { "InProgress" } else { d.final_status };
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", "0".parse().unwrap());
            let body = json!({"status": status, "error": {"code": "Conflict", "message": "busy"}});
            (headers, axum::Json(body))
        }

        async fn serve(
            final_status: &'static str,
            operation_host: Option<&'static str>,
        ) -> (ArmClient, Arc<AtomicU32>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let polls = Arc::new(AtomicU32::new(0));
            let double = Double {
                base: base.clone(),
                polls: polls.clone(),
                final_status,
                operation_host,
            };
            let ws = "/arm/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Databricks/workspaces/{w}";
            let app = Router::new()
                .route("/aad/{tenant}/oauth2/v2.0/token", post(token))
                .route(ws, get(get_ws).put(put))
                .route("/arm/operations/1", get(operation))
                .with_state(double);
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            let options = ClientOptions {
                authority_host: Url::parse(&format!("{base}/aad")).unwrap(),
                ..ClientOptions::default()
            };
            let credential = Credential::AzureClientSecret {
                tenant_id: "t".into(),
                client_id: "c".into(),
                client_secret: "s3cret".into(),
            };
            let client = ArmClient::new(
                Url::parse(&format!("{base}/arm")).unwrap(),
                credential,
                options,
            )
            .unwrap()
            .with_poll_options(PollOptions {
                interval: Duration::from_millis(10),
                timeout: Duration::from_secs(10),
            });
            (client, polls)
        }

        #[tokio::test]
        async fn polls_async_operation_then_reads_final_state() {
            let (client, polls) = serve("Succeeded", None).await;
            let ws = client
                .put_workspace(ID, &json!({"properties": {}}))
                .await
                .unwrap();
            assert_eq!(polls.load(Ordering::SeqCst), 3);
            assert_eq!(ws.provisioning_state.as_deref(), Some("Succeeded"));
            assert_eq!(ws.public_network_access.as_deref(), Some("Disabled"));
        }

        #[tokio::test]
        async fn failed_operation_is_a_typed_error() {
            let (client, _) = serve("Failed", None).await;
            let err = client.put_workspace(ID, &json!({})).await.unwrap_err();
            assert_eq!(err.error_code(), Some("Conflict"), "{err:?}");
            assert_eq!(err.endpoint(), Some(ASYNC_OPERATION));
        }

        #[tokio::test]
        async fn operation_on_another_host_is_refused() {
            let (client, polls) = serve("Succeeded", Some("attacker.example")).await;
            let err = client.put_workspace(ID, &json!({})).await.unwrap_err();
            assert!(matches!(err, ApiError::InvalidRequest(_)), "{err:?}");
            assert_eq!(polls.load(Ordering::SeqCst), 0);
        }
    }
}
