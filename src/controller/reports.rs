//! PolicyReports beside each resource (DESIGN "Reports").
//!
//! Where the `wgpolicyk8s.io/v1alpha2` `PolicyReport` CRD or its successor, the
//! `openreports.io/v1alpha1` `Report` CRD, is served, every reconciled resource gets one report in
//! its namespace, owned by it (garbage-collected with it), with one result per control.
//!
//! [`build`] is pure (owner, policy name, control results, time) so that the workspace reconcile
//! and the account reconcile share it and it is tested without a cluster; [`Reports`] writes its
//! output with server-side apply.
//!
//! Detection is discovery (`GET /apis/<group>/<version>`), repeated at most every
//! [`REDISCOVER_EVERY`] by the next pass that writes a report and by [`Reports::appeared`],
//! which re-queues every resource when a kind appears, rather than a watch on
//! CustomResourceDefinitions: discovery is open to every authenticated client, so a
//! least-privilege install (one namespace, no cluster-wide reads) needs no access to CRDs; it
//! answers exactly "is this version served", which a CRD watch would have to work out from the
//! CRD's versions and conditions; and it costs one request per group per interval, whatever the
//! fleet size, and nothing at all between passes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use ring::digest::{SHA256, digest};
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::api::ControlState;
use crate::controls::{ControlResult, severity};
use crate::metrics::Metrics;

/// `source` of every result.
pub const SOURCE: &str = "brickwarden";
/// `policy` of the results of a resource without `spec.baselineRef`.
pub const SPEC_POLICY: &str = "spec";
/// The report's content digest (timestamps excluded): after a restart, a report whose digest is
/// current is not written again.
pub const DIGEST_ANNOTATION: &str = "brickwarden.io/report-digest";
/// How long a discovery answer is trusted: a CRD installed later is picked up within this.
pub const REDISCOVER_EVERY: Duration = Duration::from_secs(30);

const FIELD_MANAGER: &str = "brickwarden";

/// The report kinds brickwarden writes, each where its CRD is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport` (the Policy WG's, read by Kyverno's and other
    /// policy reporters).
    PolicyReport,
    /// `openreports.io/v1alpha1` `Report`, its successor.
    OpenReport,
}

impl ReportKind {
    pub const ALL: [ReportKind; 2] = [ReportKind::PolicyReport, ReportKind::OpenReport];

    pub fn group(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "wgpolicyk8s.io",
            ReportKind::OpenReport => "openreports.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "v1alpha2",
            ReportKind::OpenReport => "v1alpha1",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "PolicyReport",
            ReportKind::OpenReport => "Report",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            ReportKind::PolicyReport => "policyreports",
            ReportKind::OpenReport => "reports",
        }
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    fn api_resource(self) -> ApiResource {
        ApiResource {
            group: self.group().into(),
            version: self.version().into(),
            api_version: self.api_version(),
            kind: self.kind().into(),
            plural: self.plural().into(),
        }
    }
}

impl std::fmt::Display for ReportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.plural(), self.group())
    }
}

/// The resource a report is about and owned by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub namespace: String,
}

impl Owner {
    /// A live namespaced resource; `None` before the apiserver gave it a uid and namespace.
    pub fn of<K: Resource<DynamicType = ()>>(obj: &K) -> Option<Owner> {
        Some(Owner {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            name: obj.meta().name.clone()?,
            uid: obj.meta().uid.clone()?,
            namespace: obj.meta().namespace.clone()?,
        })
    }
}

/// `metav1.Timestamp`, as the report schemas spell a result's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
}

/// One result: one control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportResult {
    pub source: &'static str,
    pub policy: String,
    pub rule: String,
    /// The family (`workspaceConf`, `ipAccessLists`, ...), so reporters can group by it.
    pub category: String,
    pub result: &'static str,
    pub severity: &'static str,
    pub message: String,
    /// Counted in the compliance score (not excepted, not applicable).
    pub scored: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    pub pass: u32,
    pub fail: u32,
    pub warn: u32,
    pub error: u32,
    pub skip: u32,
}

/// A report's content, the same for every [`ReportKind`].
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyReport {
    pub name: String,
    pub namespace: String,
    pub owner: Owner,
    pub results: Vec<ReportResult>,
    pub summary: ReportSummary,
    /// SHA-256 of everything above but the results' timestamps.
    pub digest: String,
}

impl PolicyReport {
    /// The whole object of `kind`, as server-side apply sends it.
    pub fn manifest(&self, kind: ReportKind) -> serde_json::Value {
        json!({
            "apiVersion": kind.api_version(),
            "kind": kind.kind(),
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "brickwarden"},
                "annotations": {DIGEST_ANNOTATION: self.digest},
                // No blockOwnerDeletion: setting it needs update on the owner's finalizers.
                "ownerReferences": [OwnerReference {
                    api_version: self.owner.api_version.clone(),
                    kind: self.owner.kind.clone(),
                    name: self.owner.name.clone(),
                    uid: self.owner.uid.clone(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }],
            },
            "scope": ObjectReference {
                api_version: Some(self.owner.api_version.clone()),
                kind: Some(self.owner.kind.clone()),
                name: Some(self.owner.name.clone()),
                namespace: Some(self.owner.namespace.clone()),
                uid: Some(self.owner.uid.clone()),
                ..ObjectReference::default()
            },
            "results": self.results,
            "summary": self.summary,
        })
    }
}

/// The PolicyReport result of a control state.
pub fn outcome(state: ControlState) -> &'static str {
    match state {
        ControlState::Compliant | ControlState::Remediated => "pass",
        ControlState::Drifted => "fail",
        ControlState::Failed => "error",
        ControlState::Excepted | ControlState::NotApplicable | ControlState::RequiresRecreate => {
            "skip"
        }
    }
}

/// `brickwarden-<name>` for a workspace (DESIGN); other kinds add their lowercased kind, so a
/// workspace and an account of the same name in one namespace never share a report. A name
/// too long for an object name keeps its start and ends in a hash of the whole.
pub fn report_name(owner_kind: &str, owner_name: &str) -> String {
    let full = if owner_kind == "DatabricksWorkspace" {
        format!("brickwarden-{owner_name}")
    } else {
        format!(
            "brickwarden-{}-{owner_name}",
            owner_kind
                .trim_start_matches("Databricks")
                .to_ascii_lowercase()
        )
    };
    const MAX: usize = 253;
    if full.len() <= MAX {
        return full;
    }
    let hash = hex(digest(&SHA256, full.as_bytes()).as_ref(), 4);
    let keep = full
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i < MAX - hash.len())
        .last()
        .unwrap_or(0);
    format!("{}-{hash}", full[..keep].trim_end_matches(['-', '.']))
}

/// The report of `owner` after a pass: one result per control, sorted by control id.
pub fn build(
    owner: &Owner,
    policy: &str,
    controls: &[ControlResult],
    now: jiff::Timestamp,
) -> PolicyReport {
    let timestamp = Timestamp {
        seconds: now.as_second(),
        nanos: 0,
    };
    let mut results: Vec<ReportResult> = controls
        .iter()
        .map(|c| result_of(c, policy, timestamp))
        .collect();
    results.sort_by(|a, b| a.rule.cmp(&b.rule));
    let mut summary = ReportSummary::default();
    for r in &results {
        match r.result {
            "pass" => summary.pass += 1,
            "fail" => summary.fail += 1,
            "error" => summary.error += 1,
            "skip" => summary.skip += 1,
            _ => summary.warn += 1,
        }
    }
    let name = report_name(&owner.kind, &owner.name);
    let digest = content_digest(&name, owner, &results, &summary);
    PolicyReport {
        name,
        namespace: owner.namespace.clone(),
        owner: owner.clone(),
        results,
        summary,
        digest,
    }
}

fn result_of(c: &ControlResult, policy: &str, timestamp: Timestamp) -> ReportResult {
    let mut properties = BTreeMap::new();
    if let Some(desired) = &c.desired {
        properties.insert("desired".to_string(), desired.clone());
    }
    if let Some(observed) = &c.observed {
        properties.insert("observed".to_string(), observed.clone());
    }
    // `skip` covers three states and `fail` several reasons: keep which one.
    properties.insert("state".to_string(), c.state.as_str().to_string());
    if let Some(reason) = c.reason {
        properties.insert("reason".to_string(), reason.as_str().to_string());
    }
    let message = c
        .message
        .clone()
        .unwrap_or_else(|| match (&c.desired, &c.observed) {
            (Some(_), Some(o)) if c.state.is_compliant() => format!("{}: {o}", c.state),
            (Some(d), Some(o)) => format!("{}: desired {d}, observed {o}", c.state),
            _ => c.state.to_string(),
        });
    ReportResult {
        source: SOURCE,
        policy: policy.to_string(),
        rule: c.id.clone(),
        category: c.id.split('/').next().unwrap_or_default().to_string(),
        result: outcome(c.state),
        severity: severity(&c.id).as_str(),
        message,
        scored: !matches!(
            c.state,
            ControlState::Excepted | ControlState::NotApplicable
        ),
        properties,
        timestamp,
    }
}

fn content_digest(
    name: &str,
    owner: &Owner,
    results: &[ReportResult],
    summary: &ReportSummary,
) -> String {
    let timeless: Vec<ReportResult> = results
        .iter()
        .map(|r| ReportResult {
            timestamp: Timestamp {
                seconds: 0,
                nanos: 0,
            },
            ..r.clone()
        })
        .collect();
    let content = json!({
        "name": name,
        "owner": [&owner.api_version, &owner.kind, &owner.name, &owner.uid, &owner.namespace],
        "results": timeless,
        "summary": summary,
    });
    hex(digest(&SHA256, content.to_string().as_bytes()).as_ref(), 16)
}

fn hex(bytes: &[u8], n: usize) -> String {
    bytes.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

/// Where each report kind is served, as last discovered.
#[derive(Debug, Default)]
struct Discovery {
    served: Vec<ReportKind>,
    at: Option<Instant>,
    /// What was last logged, so each change is logged once.
    announced: Option<Vec<ReportKind>>,
}

/// Writes reports where their CRDs are served, each only when its content changed.
#[derive(Debug)]
pub struct Reports {
    rediscover: Duration,
    discovery: tokio::sync::Mutex<Discovery>,
    /// The digest last written (or found current) per kind and report.
    written: std::sync::Mutex<HashMap<(ReportKind, String, String), String>>,
    /// How many times a discovery found a kind the previous one had not.
    gained: AtomicU64,
}

impl Default for Reports {
    fn default() -> Self {
        Reports::new(REDISCOVER_EVERY)
    }
}

/// What happened to one report of one kind, as metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written,
    Unchanged,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
        }
    }
}

impl Reports {
    pub fn new(rediscover: Duration) -> Reports {
        Reports {
            rediscover,
            discovery: tokio::sync::Mutex::default(),
            written: std::sync::Mutex::default(),
            gained: AtomicU64::new(0),
        }
    }

    /// Builds and writes the report of `owner` after a pass. Never fails: a report that cannot
    /// be written is logged and counted, and the next pass tries again.
    pub async fn publish(
        &self,
        client: &Client,
        metrics: &Metrics,
        owner: Option<Owner>,
        policy: &str,
        controls: &[ControlResult],
    ) {
        let Some(owner) = owner else { return };
        let report = build(&owner, policy, controls, jiff::Timestamp::now());
        for (kind, outcome) in self.write(client, &report).await {
            metrics.record_policy_report(kind.kind(), outcome.as_str());
        }
    }

    /// Writes `report` as every served kind whose copy is not current.
    pub async fn write(
        &self,
        client: &Client,
        report: &PolicyReport,
    ) -> Vec<(ReportKind, Outcome)> {
        let mut outcomes = Vec::new();
        for kind in self.served(client).await {
            let key = (kind, report.namespace.clone(), report.name.clone());
            let known = crate::lock::lock(&self.written).get(&key).cloned();
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &report.namespace, &kind.api_resource());
            let current = match known {
                Some(digest) => digest == report.digest,
                // First pass since start: read what an earlier run left rather than write it
                // again.
                None => match api.get_opt(&report.name).await {
                    Ok(existing) => existing.as_ref().is_some_and(|o| {
                        o.annotations().get(DIGEST_ANNOTATION) == Some(&report.digest)
                    }),
                    Err(_) => false,
                },
            };
            let outcome = if current {
                Outcome::Unchanged
            } else {
                match api
                    .patch(
                        &report.name,
                        &PatchParams::apply(FIELD_MANAGER).force(),
                        &Patch::Apply(report.manifest(kind)),
                    )
                    .await
                {
                    Ok(_) => Outcome::Written,
                    Err(error) => {
                        warn!(%error, report = %report.name, namespace = %report.namespace, %kind, "could not write the report; the next pass tries again");
                        if matches!(&error, kube::Error::Api(s) if s.code == 404) {
                            // The CRD went away: look again at the next pass.
                            self.discovery.lock().await.at = None;
                        }
                        Outcome::Failed
                    }
                }
            };
            let mut written = crate::lock::lock(&self.written);
            if outcome == Outcome::Failed {
                written.remove(&key);
            } else {
                written.insert(key, report.digest.clone());
            }
            outcomes.push((kind, outcome));
        }
        outcomes
    }

    /// Forgets what was written for `owner_kind` `owner_name` (the owner was deleted; its reports
    /// go with it).
    pub fn forget(&self, owner_kind: &str, namespace: &str, owner_name: &str) {
        let name = report_name(owner_kind, owner_name);
        crate::lock::lock(&self.written).retain(|(_, ns, n), _| !(ns == namespace && *n == name));
    }

    /// Yields whenever a report kind becomes served after the controller started without it,
    /// looking every rediscovery interval: the caller re-queues every resource, so each gets its
    /// report within about two intervals of the CRD's installation instead of at its next
    /// resync.
    pub fn appeared(self: Arc<Self>, client: Client) -> impl futures::Stream<Item = ()> + Send {
        let seen = self.gained.load(Ordering::Relaxed);
        futures::stream::unfold((self, client, seen), |(reports, client, seen)| async move {
            loop {
                tokio::time::sleep(reports.rediscover).await;
                reports.served(&client).await;
                let gained = reports.gained.load(Ordering::Relaxed);
                if gained > seen {
                    return Some(((), (reports, client, gained)));
                }
            }
        })
    }

    /// The kinds served now, discovering again when the last answer is older than the interval.
    async fn served(&self, client: &Client) -> Vec<ReportKind> {
        let mut discovery = self.discovery.lock().await;
        if discovery
            .at
            .is_some_and(|at| at.elapsed() < self.rediscover)
        {
            return discovery.served.clone();
        }
        let mut served = Vec::new();
        for kind in ReportKind::ALL {
            match client.list_api_group_resources(&kind.api_version()).await {
                Ok(list) => {
                    if list.resources.iter().any(|r| r.name == kind.plural()) {
                        served.push(kind);
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(error) => {
                    // Unknown is not absent: keep what was known, ask again next pass.
                    warn!(%error, %kind, "report CRD discovery failed");
                    return discovery.served.clone();
                }
            }
        }
        if let Some(before) = &discovery.announced
            && served.iter().any(|kind| !before.contains(kind))
        {
            self.gained.fetch_add(1, Ordering::Relaxed);
        }
        if discovery.announced.as_ref() != Some(&served) {
            if served.is_empty() {
                info!(
                    every = ?self.rediscover,
                    "neither the PolicyReport (wgpolicyk8s.io/v1alpha2) nor the Report (openreports.io/v1alpha1) CRD is installed: no reports are written; looking again periodically"
                );
            } else {
                let kinds: Vec<String> = served.iter().map(ToString::to_string).collect();
                info!(kinds = %kinds.join(", "), "writing a report beside each resource");
            }
            discovery.announced = Some(served.clone());
        }
        discovery.served = served.clone();
        discovery.at = Some(Instant::now());
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::Reason;

    fn owner() -> Owner {
        Owner {
            api_version: "brickwarden.io/v1alpha1".into(),
            kind: "DatabricksWorkspace".into(),
            name: "analytics-prod".into(),
            uid: "0e6f6c1a-0000-4000-8000-000000000001".into(),
            namespace: "data-platform".into(),
        }
    }

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).unwrap()
    }

    fn controls() -> Vec<ControlResult> {
        let mut drifted =
            ControlResult::new("workspaceConf/enableExportNotebook", ControlState::Drifted)
                .with_values("false", "true");
        drifted.reason = Some(Reason::OutsideMaintenanceWindow);
        vec![
            drifted,
            ControlResult::new("ipAccessLists/enabled", ControlState::Remediated)
                .with_values("true", "true"),
            ControlResult::new("tokens/maxLifetimeDays", ControlState::Compliant)
                .with_values("90", "90"),
            ControlResult::new("azure/noPublicIp", ControlState::NotApplicable),
            ControlResult::new("workspaceConf/enableWebTerminal", ControlState::Excepted),
            ControlResult::new("azure/vnetInjection", ControlState::RequiresRecreate),
            ControlResult {
                message: Some("read failed: 500".into()),
                ..ControlResult::new("secretScopes/prod", ControlState::Failed)
            },
        ]
    }

    #[test]
    fn one_result_per_control_with_the_summary() {
        let report = build(&owner(), "highly-secure", &controls(), at(1_800_000_000));
        assert_eq!(report.name, "brickwarden-analytics-prod");
        assert_eq!(report.namespace, "data-platform");
        assert_eq!(report.results.len(), 7);
        assert_eq!(
            report.summary,
            ReportSummary {
                pass: 2,
                fail: 1,
                warn: 0,
                error: 1,
                skip: 3
            }
        );
        let rules: Vec<&str> = report.results.iter().map(|r| r.rule.as_str()).collect();
        let mut sorted = rules.clone();
        sorted.sort();
        assert_eq!(rules, sorted);
        let export = report
            .results
            .iter()
            .find(|r| r.rule == "workspaceConf/enableExportNotebook")
            .unwrap();
        assert_eq!(export.source, "brickwarden");
        assert_eq!(export.policy, "highly-secure");
        assert_eq!(export.result, "fail");
        assert_eq!(export.severity, "high");
        assert_eq!(export.category, "workspaceConf");
        assert_eq!(export.message, "Drifted: desired false, observed true");
        assert_eq!(export.properties["desired"], "false");
        assert_eq!(export.properties["observed"], "true");
        assert_eq!(export.properties["reason"], "OutsideMaintenanceWindow");
        assert_eq!(
            export.timestamp,
            Timestamp {
                seconds: 1_800_000_000,
                nanos: 0
            }
        );
        let na = report
            .results
            .iter()
            .find(|r| r.rule == "azure/noPublicIp")
            .unwrap();
        assert_eq!((na.result, na.scored), ("skip", false));
        assert!(!na.properties.contains_key("desired"));
        assert!(!na.properties.contains_key("observed"));
        let failed = report
            .results
            .iter()
            .find(|r| r.rule == "secretScopes/prod")
            .unwrap();
        assert_eq!(
            (failed.result, failed.message.as_str()),
            ("error", "read failed: 500")
        );
    }

    #[test]
    fn every_state_has_its_result() {
        let expected = [
            (ControlState::Compliant, "pass"),
            (ControlState::Remediated, "pass"),
            (ControlState::Drifted, "fail"),
            (ControlState::Failed, "error"),
            (ControlState::Excepted, "skip"),
            (ControlState::NotApplicable, "skip"),
            (ControlState::RequiresRecreate, "skip"),
        ];
        assert_eq!(expected.len(), ControlState::ALL.len());
        for (state, result) in expected {
            assert_eq!(outcome(state), result, "{state}");
        }
    }

    #[test]
    fn the_digest_ignores_time_and_follows_content() {
        let a = build(&owner(), "spec", &controls(), at(1_800_000_000));
        let b = build(&owner(), "spec", &controls(), at(1_800_000_600));
        assert_ne!(a.results[0].timestamp, b.results[0].timestamp);
        assert_eq!(a.digest, b.digest);
        let mut changed = controls();
        changed[0].state = ControlState::Remediated;
        let c = build(&owner(), "spec", &changed, at(1_800_000_000));
        assert_ne!(a.digest, c.digest);
        let d = build(&owner(), "recommended", &controls(), at(1_800_000_000));
        assert_ne!(a.digest, d.digest);
    }

    #[test]
    fn the_manifest_is_owned_by_and_scoped_to_the_resource() {
        let report = build(&owner(), "spec", &controls(), at(1_800_000_000));
        for kind in ReportKind::ALL {
            let m = report.manifest(kind);
            assert_eq!(m["apiVersion"], kind.api_version());
            assert_eq!(m["kind"], kind.kind());
            assert_eq!(m["metadata"]["name"], "brickwarden-analytics-prod");
            assert_eq!(m["metadata"]["namespace"], "data-platform");
            assert_eq!(
                m["metadata"]["annotations"][DIGEST_ANNOTATION],
                report.digest
            );
            let owner_ref = &m["metadata"]["ownerReferences"][0];
            assert_eq!(owner_ref["apiVersion"], "brickwarden.io/v1alpha1");
            assert_eq!(owner_ref["kind"], "DatabricksWorkspace");
            assert_eq!(owner_ref["name"], "analytics-prod");
            assert_eq!(owner_ref["uid"], owner().uid);
            assert_eq!(owner_ref["controller"], true);
            assert_eq!(m["scope"]["kind"], "DatabricksWorkspace");
            assert_eq!(m["scope"]["namespace"], "data-platform");
            assert_eq!(m["scope"]["uid"], owner().uid);
            assert_eq!(m["summary"]["skip"], 3);
            assert_eq!(m["results"].as_array().unwrap().len(), 7);
            assert_eq!(
                m["results"][0]["timestamp"],
                json!({"seconds": 1_800_000_000, "nanos": 0})
            );
        }
    }

    #[test]
    fn other_kinds_and_long_names_get_distinct_valid_names() {
        assert_eq!(
            report_name("DatabricksAccount", "contoso"),
            "brickwarden-account-contoso"
        );
        let long = "a".repeat(253);
        let name = report_name("DatabricksWorkspace", &long);
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.starts_with("brickwarden-aaa"));
        assert_ne!(name, report_name("DatabricksWorkspace", &"a".repeat(252)));
    }

    #[test]
    fn an_account_report_uses_the_same_builder() {
        let account = Owner {
            api_version: "brickwarden.io/v1alpha1".into(),
            kind: "DatabricksAccount".into(),
            name: "contoso".into(),
            uid: "uid-2".into(),
            namespace: "platform".into(),
        };
        let controls = vec![
            ControlResult::new("account/ipAccessLists/enabled", ControlState::Drifted),
            ControlResult::new("ncc/ncc-westeurope", ControlState::Compliant),
        ];
        let report = build(&account, SPEC_POLICY, &controls, at(0));
        assert_eq!(report.name, "brickwarden-account-contoso");
        assert_eq!(report.results[0].severity, "critical");
        assert_eq!(report.results[1].severity, "high");
        assert_eq!(report.summary.fail, 1);
        assert_eq!(report.summary.pass, 1);
    }
}
