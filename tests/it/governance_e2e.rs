//! End to end on the real control plane: the audit trail of remediations (one Event per
//! control, `lastRemediation` per control), the kstatus conditions (`Reconciling`, `Stalled`)
//! and the Argo CD health check run on the statuses the controller writes.
//!
//! As in `controller_e2e`: each test has its own namespace, Lease, label selector and emulator.

use std::time::Duration;

use serde_json::Value;

use crate::argocd::health;
use crate::support::controller::Controller;
use crate::support::harness::{self, Harness};
use crate::support::kube::{
    apply, condition, condition_is, get_json, kubectl, reason_of, workspace,
};
use crate::support::wait_for;

const PAT: &str = "dapi-emulator";
const TIMEOUT: Duration = Duration::from_secs(90);

/// Every typed workspace-conf key of the policy (DESIGN: `policy.workspaceConf`), with a value
/// an emulator workspace (every key never set) does not have: one pass remediates all of them.
const WORKSPACE_CONF: &[(&str, &str, &str)] = &[
    ("exportNotebook", "false", "enableExportNotebook"),
    ("resultsDownloading", "false", "enableResultsDownloading"),
    (
        "notebookTableClipboard",
        "false",
        "enableNotebookTableClipboard",
    ),
    ("uploadDataUis", "false", "enableUploadDataUis"),
    (
        "mlflowRunArtifactDownload",
        "false",
        "mlflowRunArtifactDownloadEnabled",
    ),
    ("webTerminal", "false", "enableWebTerminal"),
    ("dbfsFileBrowser", "false", "enableDbfsFileBrowser"),
    ("verboseAuditLogs", "true", "enableVerboseAuditLogs"),
    ("xFrameOptions", "true", "enable-X-Frame-Options"),
    (
        "xContentTypeOptions",
        "true",
        "enable-X-Content-Type-Options",
    ),
    ("xXssProtection", "true", "enable-X-XSS-Protection"),
    ("maxUserInactiveDays", "90", "maxUserInactiveDays"),
    (
        "storeResultsInCustomerAccount",
        "true",
        "storeInteractiveNotebookResultsInCustomerAccount",
    ),
    ("fileStoreEndpoint", "false", "enableFileStoreEndpoint"),
    ("jobViewAcls", "true", "enableJobViewAcls"),
    ("clusterViewAcls", "true", "enforceClusterViewAcls"),
    ("workspaceViewAcls", "true", "enforceWorkspaceViewAcls"),
    ("gitFolders", "true", "enableProjectTypeInWorkspace"),
    ("userIsolation", "true", "enforceUserIsolation"),
    (
        "legacyGlobalInitScripts",
        "false",
        "enableDeprecatedGlobalInitScripts",
    ),
    (
        "legacyClusterNamedInitScripts",
        "false",
        "enableDeprecatedClusterNamedInitScripts",
    ),
];

/// The workspace's events as `(reason, action, note)`.
fn events(ns: &str, name: &str) -> Vec<(String, String, String)> {
    let selector = format!("involvedObject.name={name}");
    let list = get_json(&["events", "-n", ns, "--field-selector", &selector]);
    let text = |e: &Value, key: &str| e[key].as_str().unwrap_or_default().to_string();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (text(e, "reason"), text(e, "action"), text(e, "message")))
        .collect()
}

/// An in-process emulator on its own runtime.
struct Env {
    harness: Option<Harness>,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn start() -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let harness = rt.block_on(harness::start());
        Env {
            harness: Some(harness),
            rt,
        }
    }

    fn ws_url(&self, ws: &str) -> String {
        self.harness
            .as_ref()
            .expect("emulator")
            .emulator
            .workspace_url(ws)
    }
}

impl Env {
    /// The emulator's `workspace_conf` of workspace `ws`.
    fn conf(&self, ws: &str) -> Value {
        let state = self
            .harness
            .as_ref()
            .expect("emulator")
            .emulator
            .state(ws)
            .expect("workspace state");
        state["workspace_conf"].clone()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(harness) = self.harness.take() {
            self.rt.block_on(harness.shutdown());
        }
    }
}

fn namespace_with_secret(ns: &str) {
    kubectl(&["create", "namespace", ns]);
    apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: pat, namespace: {ns}}}\nstringData:\n  token: {PAT}\n"
    ));
}

/// A DatabricksWorkspace labelled `e2e=<label>`, `policy` indented under `spec.policy`.
fn workspace_yaml(
    ns: &str,
    name: &str,
    label: &str,
    host: &str,
    secret: &str,
    policy: &str,
) -> String {
    format!(
        r#"apiVersion: brickwarden.io/v1alpha1
kind: DatabricksWorkspace
metadata:
  name: {name}
  namespace: {ns}
  labels: {{e2e: {label}}}
spec:
  host: {host}
  auth:
    personalAccessToken:
      secretRef: {{name: {secret}, key: token}}
  resyncInterval: 5s
  policy:
{policy}"#
    )
}

fn all_workspace_conf() -> String {
    let mut policy = String::from("    workspaceConf:\n");
    for (field, value, _) in WORKSPACE_CONF {
        policy.push_str(&format!("      {field}: {value}\n"));
    }
    policy
}

fn find_control<'a>(ws: &'a Value, id: &str) -> &'a Value {
    ws["status"]["controls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}: {:#}", ws["status"]["controls"]))
}

fn diag(ns: &str, name: &str, ctl: &Controller) -> String {
    format!("{:#}\n{}", workspace(ns, name)["status"], ctl.tail())
}

fn settled(ws: &Value) -> bool {
    ws["status"]["observedGeneration"] == ws["metadata"]["generation"]
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// A pass that remediates many workspace-conf controls leaves one `Remediated` Event per
/// control (its action is the control id, its note names it), despite the recorder's
/// aggregation; each control keeps the time and action of its last remediation.
#[test]
fn every_remediated_control_has_its_own_event() {
    let (ns, name, label) = ("e2e-gov-trail", "trail", "gov-trail");
    namespace_with_secret(ns);
    let env = Env::start();
    apply(&workspace_yaml(
        ns,
        name,
        label,
        &env.ws_url("ws-1"),
        "pat",
        &all_workspace_conf(),
    ));
    let started = jiff::Timestamp::now();
    let ctl = Controller::start(ns, "e2e-gov-trail", "trail-a", &format!("e2e={label}"));

    let ws = wait_for(
        TIMEOUT,
        "Ready=True and Compliant=True",
        || format!("{:#}\n{}", workspace(ns, name)["status"], ctl.tail()),
        || {
            let ws = workspace(ns, name);
            (condition_is(&ws, "Ready", "True") && condition_is(&ws, "Compliant", "True"))
                .then_some(ws)
        },
    );
    // The emulator is the oracle: its keys start never set (null), so every key it now holds a
    // value for was written by the controller. (Some never-set keys already read as the
    // platform default the policy asks for, and are compliant without a write.)
    let conf = env.conf("ws-1");
    let (ids, untouched): (Vec<String>, Vec<String>) = WORKSPACE_CONF
        .iter()
        .map(|(_, _, key)| format!("workspaceConf/{key}"))
        .partition(|id| !conf[id.trim_start_matches("workspaceConf/")].is_null());
    assert!(
        ids.len() >= 10,
        "one pass remediates many controls: {ids:?} (conf {conf:#})"
    );
    for id in &untouched {
        let control = find_control(&ws, id);
        assert!(control["lastRemediation"].is_null(), "{control:#}");
    }

    // Status: each control remembers its remediation.
    for id in &ids {
        let control = find_control(&ws, id);
        let last = &control["lastRemediation"];
        let action = last["action"].as_str().unwrap_or_default();
        let key = id.trim_start_matches("workspaceConf/");
        assert!(action.contains(key), "{id}: lastRemediation {last:#}");
        let time: jiff::Timestamp = last["time"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: lastRemediation {last:#}"))
            .parse()
            .expect("RFC 3339");
        assert!(
            time >= started
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap()
        );
        assert!(control["lastTransitionTime"].is_string(), "{control:#}");
    }
    // kstatus: nothing in progress, nothing stuck; Argo CD: Healthy.
    assert!(condition(&ws, "Reconciling").is_none() && condition(&ws, "Stalled").is_none());
    assert_eq!(health(&ws).0, "Healthy", "{:#}", ws["status"]);

    // Events: one per control, each in its own series.
    let remediated = wait_for(
        Duration::from_secs(30),
        "a Remediated event for every control",
        || format!("{:#?}", events(ns, name)),
        || {
            let remediated: Vec<(String, String, String)> = events(ns, name)
                .into_iter()
                .filter(|(reason, _, _)| reason == "Remediated")
                .collect();
            ids.iter()
                .all(|id| remediated.iter().any(|(_, action, _)| action == id))
                .then_some(remediated)
        },
    );
    for id in &ids {
        let (_, _, note) = remediated
            .iter()
            .find(|(_, action, _)| action == id)
            .expect("found above");
        assert!(note.starts_with(&format!("{id}: ")), "{id}: note {note:?}");
        assert!(note.len() <= 1024, "{id}: {} bytes", note.len());
    }
    assert_eq!(
        remediated.len(),
        ids.len(),
        "exactly one Remediated event per remediated control: {remediated:#?}"
    );
    drop(ctl);
}

/// kstatus conditions and the Argo CD health of what the controller writes: a missing Secret is
/// Ready=False + Stalled (Degraded) and recovers to Healthy with Stalled removed; a remediation
/// the lockout guard refuses is Stalled (Degraded) with Ready=True; Audit-mode drift is neither
/// Reconciling nor Stalled and Degraded.
#[test]
fn kstatus_conditions_and_argocd_health_follow_the_workspace() {
    let (ns, label) = ("e2e-gov-health", "gov-health");
    namespace_with_secret(ns);
    let env = Env::start();
    let small = "    workspaceConf:\n      exportNotebook: false\n";
    apply(&workspace_yaml(
        ns,
        "nosecret",
        label,
        &env.ws_url("ws-1"),
        "absent",
        small,
    ));
    // An allow list without the controller's address (127.0.0.1) on a Premium workspace (ws-2 is
    // Standard: no IP access lists there): enabling it is refused.
    let lockout = "    ipAccessLists:\n      enabled: true\n      lists:\n        - {label: corp, type: ALLOW, addresses: [203.0.113.0/24]}\n";
    apply(&workspace_yaml(
        ns,
        "lockout",
        label,
        &env.ws_url("ws-3"),
        "pat",
        lockout,
    ));
    apply(
        &workspace_yaml(ns, "audit", label, &env.ws_url("ws-2"), "pat", small).replace(
            "  resyncInterval: 5s\n",
            "  resyncInterval: 5s\n  mode: Audit\n",
        ),
    );
    let ctl = Controller::start(ns, "e2e-gov-health", "health-a", &format!("e2e={label}"));

    let nosecret = wait_for(
        TIMEOUT,
        "nosecret: Stalled",
        || diag(ns, "nosecret", &ctl),
        || {
            let ws = workspace(ns, "nosecret");
            (settled(&ws) && condition_is(&ws, "Stalled", "True")).then_some(ws)
        },
    );
    assert_eq!(reason_of(&nosecret, "Stalled"), "SecretNotFound");
    assert_eq!(reason_of(&nosecret, "Ready"), "SecretNotFound");
    assert!(condition_is(&nosecret, "Ready", "False"));
    assert!(condition(&nosecret, "Reconciling").is_none());
    let (status, message) = health(&nosecret);
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("SecretNotFound: "), "{message}");

    let lockout = wait_for(
        TIMEOUT,
        "lockout: Stalled",
        || diag(ns, "lockout", &ctl),
        || {
            let ws = workspace(ns, "lockout");
            (settled(&ws) && condition_is(&ws, "Stalled", "True")).then_some(ws)
        },
    );
    assert!(condition_is(&lockout, "Ready", "True"));
    assert!(condition_is(&lockout, "RemediationBlocked", "True"));
    assert_eq!(
        reason_of(&lockout, "Stalled"),
        reason_of(&lockout, "RemediationBlocked")
    );
    assert!(condition(&lockout, "Reconciling").is_none());
    assert_eq!(health(&lockout).0, "Degraded", "{:#}", lockout["status"]);
    assert!(
        events(ns, "lockout")
            .iter()
            .any(|(reason, action, _)| reason == "RemediationBlocked"
                && action.starts_with("ipAccessLists/")),
        "{:#?}",
        events(ns, "lockout")
    );

    let audit = wait_for(
        TIMEOUT,
        "audit: Compliant=False",
        || diag(ns, "audit", &ctl),
        || {
            let ws = workspace(ns, "audit");
            (settled(&ws) && condition_is(&ws, "Compliant", "False")).then_some(ws)
        },
    );
    assert!(condition_is(&audit, "Ready", "True"));
    assert!(condition(&audit, "Reconciling").is_none() && condition(&audit, "Stalled").is_none());
    let (status, message) = health(&audit);
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("Drifted: "), "{message}");

    // The Secret appears: Ready, Compliant, Stalled removed, Healthy.
    apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: absent, namespace: {ns}}}\nstringData:\n  token: {PAT}\n"
    ));
    let fixed = wait_for(
        TIMEOUT,
        "nosecret: Healthy",
        || diag(ns, "nosecret", &ctl),
        || {
            let ws = workspace(ns, "nosecret");
            (health(&ws).0 == "Healthy").then_some(ws)
        },
    );
    assert!(
        condition(&fixed, "Stalled").is_none(),
        "{:#}",
        fixed["status"]
    );
    assert!(condition(&fixed, "Reconciling").is_none());

    // A spec change not yet reconciled is Progressing: stop the controller first.
    drop(ctl);
    kubectl(&[
        "patch",
        "dbw",
        "-n",
        ns,
        "audit",
        "--type=merge",
        "-p",
        r#"{"spec":{"resyncInterval":"6s"}}"#,
    ]);
    let pending = workspace(ns, "audit");
    assert_eq!(
        health(&pending),
        (
            "Progressing".to_string(),
            format!(
                "waiting for brickwarden to reconcile generation {}",
                pending["metadata"]["generation"]
            )
        )
    );
}
