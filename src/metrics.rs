//! Prometheus metrics, recorded at the engine's edge (one [`Metrics::record_report`] per
//! reconcile) and at the clients' edge (the [`RequestObserver`] hook), never inside controls.
//!
//! The exported names are a contract with `deploy/monitoring/` (alerts, dashboard); a test scrapes
//! a running controller and checks that every name those use exists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::ControlState;
use crate::clients::{RequestLabels, RequestObserver};
use crate::engine::Report;

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct WorkspaceLabels {
    pub namespace: String,
    pub workspace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControlLabels {
    pub namespace: String,
    pub workspace: String,
    pub control: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub namespace: String,
    pub workspace: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RemediationLabels {
    pub namespace: String,
    pub workspace: String,
    pub control: String,
    /// `success`, `failure` or `blocked`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `success` or `error`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileErrorLabels {
    pub namespace: String,
    pub workspace: String,
    /// The `Ready` condition's reason, e.g. `AuthenticationFailed`, `SecretNotFound`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// `databricks`, `arm`, `entra` or `databricks-oidc`.
    pub service: String,
    /// The workspace (or cloud endpoint) host the request went to.
    pub host: String,
    /// A path template, e.g. `/api/2.0/ip-access-lists/{list_id}`.
    pub endpoint: String,
    /// The HTTP status, or `error` when no response arrived.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiEndpointLabels {
    pub service: String,
    pub endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiRetryLabels {
    pub service: String,
    pub host: String,
    pub endpoint: String,
    pub reason: String,
}

/// Every metric brickwarden exports.
pub struct Metrics {
    registry: Registry,
    control_drift: Family<ControlLabels, Gauge>,
    workspace_controls: Family<StateLabels, Gauge>,
    compliance_ratio: Family<WorkspaceLabels, Gauge<f64, AtomicU64>>,
    remediations: Family<RemediationLabels, Counter>,
    reconcile_duration: Family<ReconcileLabels, Histogram>,
    reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    last_success: Family<WorkspaceLabels, Gauge<f64, AtomicU64>>,
    workspace_ready: Family<WorkspaceLabels, Gauge>,
    api_requests: Family<ApiLabels, Counter>,
    api_request_duration: Family<ApiEndpointLabels, Histogram>,
    api_retries: Family<ApiRetryLabels, Counter>,
    leader: Gauge,
    exception_expiry: Family<ExceptionLabels, Gauge<f64, AtomicU64>>,
    policy_reports: Family<PolicyReportLabels, Counter>,
    /// The control ids last reported per workspace, to drop series of controls that went away.
    reported_controls: Mutex<BTreeMap<WorkspaceLabels, BTreeSet<String>>>,
    /// The exception patterns last reported per workspace, likewise.
    reported_exceptions: Mutex<BTreeMap<WorkspaceLabels, BTreeSet<String>>>,
}

/// A report kind (`PolicyReport`, `Report`) and what happened to it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyReportLabels {
    pub kind: String,
    pub outcome: String,
}

/// One exception of a workspace, by the controls it names (`a, b`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct ExceptionLabels {
    pub namespace: String,
    pub workspace: String,
    pub controls: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("brickwarden");
        let m = Metrics {
            control_drift: Family::default(),
            workspace_controls: Family::default(),
            compliance_ratio: Family::default(),
            remediations: Family::default(),
            reconcile_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.05, 2.0, 12))
            }),
            reconcile_errors: Family::default(),
            last_success: Family::default(),
            workspace_ready: Family::default(),
            api_requests: Family::default(),
            api_request_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.01, 2.0, 12))
            }),
            api_retries: Family::default(),
            leader: Gauge::default(),
            exception_expiry: Family::default(),
            policy_reports: Family::default(),
            reported_controls: Mutex::default(),
            reported_exceptions: Mutex::default(),
            registry: Registry::default(),
        };
        registry.register(
            "exception_expiry_timestamp_seconds",
            "When each declared exception of a workspace expires (Unix seconds), labelled by the \
             controls it names",
            m.exception_expiry.clone(),
        );
        registry.register(
            "control_drift",
            "1 when the control is drifted (or failed to remediate) after the last reconcile, else 0",
            m.control_drift.clone(),
        );
        registry.register(
            "workspace_controls",
            "Number of controls of a workspace in each state after the last reconcile",
            m.workspace_controls.clone(),
        );
        registry.register(
            "workspace_compliance_ratio",
            "Compliant controls over applicable controls (1 = fully compliant)",
            m.compliance_ratio.clone(),
        );
        registry.register(
            "remediations",
            "Remediation actions executed, by control and result (success, failure, blocked)",
            m.remediations.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile of one workspace",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that ended with Ready=False, by reason",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "last_successful_reconcile_timestamp_seconds",
            "Unix time of the last reconcile that read the workspace successfully",
            m.last_success.clone(),
        );
        registry.register(
            "workspace_ready",
            "1 when the workspace's Ready condition is True",
            m.workspace_ready.clone(),
        );
        registry.register(
            "api_requests",
            "Requests to Databricks, ARM and token endpoints, by endpoint template and status",
            m.api_requests.clone(),
        );
        registry.register(
            "api_request_duration_seconds",
            "Duration of one API request attempt",
            m.api_request_duration.clone(),
        );
        registry.register(
            "api_retries",
            "API request attempts that were retried, by reason",
            m.api_retries.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and reconciles",
            m.leader.clone(),
        );
        registry.register(
            "policy_reports",
            "PolicyReport / Report writes after a pass, by kind and outcome (written, unchanged, failed)",
            m.policy_reports.clone(),
        );
        Metrics { registry, ..m }
    }

    /// One report of one kind after a pass: written, found unchanged (no write), or failed.
    pub fn record_policy_report(&self, kind: &str, outcome: &str) {
        self.policy_reports
            .get_or_create(&PolicyReportLabels {
                kind: kind.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; were it to, a partial exposition is still served.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records the outcome of one reconcile that reached the workspace.
    pub fn record_report(&self, namespace: &str, workspace: &str, report: &Report) {
        let ws = WorkspaceLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
        };
        let control = |id: &str| ControlLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
            control: id.into(),
        };
        let mut current = BTreeSet::new();
        for result in &report.controls {
            let drifted = matches!(
                result.state,
                ControlState::Drifted | ControlState::Failed | ControlState::RequiresRecreate
            );
            self.control_drift
                .get_or_create(&control(&result.id))
                .set(i64::from(drifted));
            current.insert(result.id.clone());
        }
        let previous = crate::lock::lock(&self.reported_controls)
            .insert(ws.clone(), current.clone())
            .unwrap_or_default();
        for gone in previous.difference(&current) {
            self.control_drift.remove(&control(gone));
        }
        for state in ControlState::ALL {
            let count = report.controls.iter().filter(|c| c.state == state).count();
            self.workspace_controls
                .get_or_create(&StateLabels {
                    namespace: namespace.into(),
                    workspace: workspace.into(),
                    state: state.as_str().into(),
                })
                .set(count as i64);
        }
        let summary = report.summary();
        let ratio = if summary.applicable() == 0 {
            1.0
        } else {
            f64::from(summary.compliant + summary.remediated) / f64::from(summary.applicable())
        };
        self.compliance_ratio.get_or_create(&ws).set(ratio);
        for executed in &report.executed {
            for id in &executed.controls {
                self.remediations
                    .get_or_create(&RemediationLabels {
                        namespace: namespace.into(),
                        workspace: workspace.into(),
                        control: id.clone(),
                        result: executed.outcome.metric_label().into(),
                    })
                    .inc();
            }
        }
        self.last_success
            .get_or_create(&ws)
            .set(jiff::Timestamp::now().as_millisecond() as f64 / 1000.0);
    }

    pub fn record_reconcile(&self, elapsed: Duration, ok: bool) {
        self.reconcile_duration
            .get_or_create(&ReconcileLabels {
                result: if ok { "success" } else { "error" }.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_ready(&self, namespace: &str, workspace: &str, ready: bool, reason: &str) {
        let ws = WorkspaceLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
        };
        self.workspace_ready
            .get_or_create(&ws)
            .set(i64::from(ready));
        let errors = |reason: &str| ReconcileErrorLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
            reason: reason.into(),
        };
        // Every reason's counter exists from the first pass, at 0: `increase()` then sees a
        // workspace's very first failure instead of a series born at 1.
        for known in crate::api::not_ready::ALL {
            drop(self.reconcile_errors.get_or_create(&errors(known)));
        }
        if !ready {
            self.reconcile_errors.get_or_create(&errors(reason)).inc();
        }
    }

    /// The expiry time of each exception a workspace declares (its own and its baseline's).
    pub fn record_exceptions(
        &self,
        namespace: &str,
        workspace: &str,
        exceptions: &[crate::api::Exception],
    ) {
        let labels = |controls: &str| ExceptionLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
            controls: controls.into(),
        };
        let mut current = BTreeSet::new();
        for exception in exceptions {
            let controls = exception
                .controls
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let expires = exception.expires.0.as_millisecond() as f64 / 1000.0;
            self.exception_expiry
                .get_or_create(&labels(&controls))
                .set(expires);
            current.insert(controls);
        }
        let ws = WorkspaceLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
        };
        let previous = crate::lock::lock(&self.reported_exceptions)
            .insert(ws, current.clone())
            .unwrap_or_default();
        for gone in previous.difference(&current) {
            self.exception_expiry.remove(&labels(gone));
        }
    }

    /// Drops every per-workspace series (when this replica stops leading).
    pub fn forget_all_workspaces(&self) {
        crate::lock::lock(&self.reported_controls).clear();
        crate::lock::lock(&self.reported_exceptions).clear();
        self.exception_expiry.clear();
        self.control_drift.clear();
        self.workspace_controls.clear();
        self.reconcile_errors.clear();
        self.compliance_ratio.clear();
        self.last_success.clear();
        self.workspace_ready.clear();
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Drops every series of a workspace that is no longer managed.
    pub fn forget_workspace(&self, namespace: &str, workspace: &str) {
        let ws = WorkspaceLabels {
            namespace: namespace.into(),
            workspace: workspace.into(),
        };
        let controls = crate::lock::lock(&self.reported_controls)
            .remove(&ws)
            .unwrap_or_default();
        for id in controls {
            // Remediation counters go too: a deleted workspace's series would otherwise stay
            // in /metrics for the life of the process.
            for result in ["success", "failure", "blocked"] {
                self.remediations.remove(&RemediationLabels {
                    namespace: namespace.into(),
                    workspace: workspace.into(),
                    control: id.clone(),
                    result: result.into(),
                });
            }
            self.control_drift.remove(&ControlLabels {
                namespace: namespace.into(),
                workspace: workspace.into(),
                control: id,
            });
        }
        for state in ControlState::ALL {
            self.workspace_controls.remove(&StateLabels {
                namespace: namespace.into(),
                workspace: workspace.into(),
                state: state.as_str().into(),
            });
        }
        for reason in crate::api::not_ready::ALL {
            self.reconcile_errors.remove(&ReconcileErrorLabels {
                namespace: namespace.into(),
                workspace: workspace.into(),
                reason: reason.into(),
            });
        }
        self.record_exceptions(namespace, workspace, &[]);
        crate::lock::lock(&self.reported_exceptions).remove(&ws);
        self.compliance_ratio.remove(&ws);
        self.last_success.remove(&ws);
        self.workspace_ready.remove(&ws);
    }
}

impl RequestObserver for Metrics {
    fn on_response(&self, request: RequestLabels<'_>, status: Option<u16>, elapsed: Duration) {
        self.api_requests
            .get_or_create(&ApiLabels {
                service: request.service.into(),
                host: request.host.into(),
                endpoint: request.endpoint.into(),
                status: status.map_or_else(|| "error".to_string(), |s| s.to_string()),
            })
            .inc();
        self.api_request_duration
            .get_or_create(&ApiEndpointLabels {
                service: request.service.into(),
                endpoint: request.endpoint.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    fn on_retry(&self, request: RequestLabels<'_>, reason: &str) {
        self.api_retries
            .get_or_create(&ApiRetryLabels {
                service: request.service.into(),
                host: request.host.into(),
                endpoint: request.endpoint.into(),
                reason: reason.into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_counters_start_at_zero_and_leave_with_the_workspace() {
        let metrics = Metrics::new();
        metrics.record_ready("ns", "ws", true, "Reconciled");
        let text = metrics.encode();
        for reason in crate::api::not_ready::ALL {
            let series = format!(
                "brickwarden_reconcile_errors_total{{namespace=\"ns\",workspace=\"ws\",reason=\"{reason}\"}} 0"
            );
            assert!(text.contains(&series), "{series} in:\n{text}");
        }
        metrics.record_ready("ns", "ws", false, "SecretNotFound");
        assert!(metrics.encode().contains("reason=\"SecretNotFound\"} 1"));

        metrics.forget_workspace("ns", "ws");
        let text = metrics.encode();
        assert!(!text.contains("workspace=\"ws\""), "{text}");
    }

    #[test]
    fn api_requests_are_labelled_with_the_host() {
        let metrics = Metrics::new();
        let request = RequestLabels {
            service: "databricks",
            host: "adb-1.7.azuredatabricks.net",
            endpoint: "/api/2.0/workspace-conf",
        };
        metrics.on_response(request, Some(429), Duration::from_millis(5));
        metrics.on_retry(request, "status 429");
        let text = metrics.encode();
        assert!(text.contains("brickwarden_api_requests_total{service=\"databricks\",host=\"adb-1.7.azuredatabricks.net\",endpoint=\"/api/2.0/workspace-conf\",status=\"429\"} 1"), "{text}");
        assert!(text.contains("brickwarden_api_retries_total{service=\"databricks\",host=\"adb-1.7.azuredatabricks.net\""), "{text}");
    }
}
