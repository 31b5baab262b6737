//! End to end on the real control plane: the audit trail of remediations (one Event per
//! control, `lastRemediation` per control), the kstatus conditions (`Reconciling`, `Stalled`)
//! and the Argo CD health check run on the statuses the controller writes; exceptions,
//! maintenance windows, approvals and PolicyReports (issue 12's "Done when").
//!
//! As in `controller_e2e`: each test has its own namespace, Lease, label selector and emulator.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use brickwarden::controller::reports::REDISCOVER_EVERY;
use brickwarden_emulator::EmulatorConfig;
use serde_json::{Value, json};

use crate::argocd::health;
use crate::support::controller::{Controller, TIMEOUT, diag, wait_ready_compliant, wait_workspace};
use crate::support::controlplane::{cluster_with_crds, install_crds_once};
use crate::support::harness::BlockingHarness;
use crate::support::kube::{
    self, apply, apply_secret, condition, condition_is, control, expect_control, get_json, kubectl,
    lease_holder, reason_of, workspace,
};
use crate::support::wait_for;

const PAT: &str = "dapi-emulator";

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
    let list = kube::events(ns, name);
    let text = |e: &Value, key: &str| e[key].as_str().unwrap_or_default().to_string();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (text(e, "reason"), text(e, "action"), text(e, "message")))
        .collect()
}

/// An in-process emulator on its own runtime.
type Env = BlockingHarness;

/// What these tests read and change of the emulator.
trait GovernanceEnv {
    fn conf(&self, ws: &str) -> Value;
    fn journal(&self, ws: &str) -> Vec<Request>;
    fn patch_state(&self, ws: &str, patch: Value);
}

impl GovernanceEnv for Env {
    /// The emulator's `workspace_conf` of workspace `ws`.
    fn conf(&self, ws: &str) -> Value {
        let state = self.harness().emulator.state(ws).expect("workspace state");
        state["workspace_conf"].clone()
    }

    /// `GET /_emulator/requests?workspace=ws`: every request to `ws`, in order, as
    /// `(method, path, status, timestamp)`.
    fn journal(&self, ws: &str) -> Vec<Request> {
        self.rt
            .block_on(self.harness().journal_json(&format!("?workspace={ws}")))
            .into_iter()
            .map(|e| Request {
                method: e["method"].as_str().expect("method").to_string(),
                path: e["path"].as_str().expect("path").to_string(),
                status: e["status"].as_u64().expect("status") as u16,
                at: e["timestamp"]
                    .as_str()
                    .expect("timestamp")
                    .parse()
                    .expect("RFC 3339"),
            })
            .collect()
    }

    fn patch_state(&self, ws: &str, patch: Value) {
        self.rt.block_on(self.harness().patch_state(ws, patch));
    }
}

/// One entry of the emulator's journal.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    status: u16,
    at: jiff::Timestamp,
}

impl Request {
    fn is(&self, method: &str, path_prefix: &str) -> bool {
        self.method == method && self.path.starts_with(path_prefix)
    }

    /// Answered with a 2xx status.
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Neither a read nor a token exchange.
    fn is_write(&self) -> bool {
        self.method != "GET" && !self.path.ends_with("/oidc/v1/token")
    }
}

fn namespace_with_secret(ns: &str) {
    kubectl(&["create", "namespace", ns]);
    apply_secret(ns, "pat", "token", PAT);
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
    kube::workspace_yaml(
        ns,
        name,
        label,
        host,
        secret,
        "5s",
        &format!("  policy:\n{policy}"),
    )
}

fn all_workspace_conf() -> String {
    let mut policy = String::from("    workspaceConf:\n");
    for (field, value, _) in WORKSPACE_CONF {
        policy.push_str(&format!("      {field}: {value}\n"));
    }
    policy
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

    let ws = wait_ready_compliant(ns, name, &ctl);
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
        let control = expect_control(&ws, id);
        assert!(control["lastRemediation"].is_null(), "{control:#}");
    }

    // Status: each control remembers its remediation.
    for id in &ids {
        let control = expect_control(&ws, id);
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

    let nosecret = wait_workspace(ns, "nosecret", &ctl, "nosecret: Stalled", |ws| {
        settled(ws) && condition_is(ws, "Stalled", "True")
    });
    assert_eq!(reason_of(&nosecret, "Stalled"), "SecretNotFound");
    assert_eq!(reason_of(&nosecret, "Ready"), "SecretNotFound");
    assert!(condition_is(&nosecret, "Ready", "False"));
    assert!(condition(&nosecret, "Reconciling").is_none());
    let (status, message) = health(&nosecret);
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("SecretNotFound: "), "{message}");

    let lockout = wait_workspace(ns, "lockout", &ctl, "lockout: Stalled", |ws| {
        settled(ws) && condition_is(ws, "Stalled", "True")
    });
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

    let audit = wait_workspace(ns, "audit", &ctl, "audit: Compliant=False", |ws| {
        settled(ws) && condition_is(ws, "Compliant", "False")
    });
    assert!(condition_is(&audit, "Ready", "True"));
    assert!(condition(&audit, "Reconciling").is_none() && condition(&audit, "Stalled").is_none());
    let (status, message) = health(&audit);
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("Drifted: "), "{message}");

    // The Secret appears: Ready, Compliant, Stalled removed, Healthy.
    apply_secret(ns, "absent", "token", PAT);
    let fixed = wait_workspace(ns, "nosecret", &ctl, "nosecret: Healthy", |ws| {
        health(ws).0 == "Healthy"
    });
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

// ---------------------------------------------------------------------------------------------
// Issue 12, "Done when": exceptions, maintenance windows, approvals and PolicyReports, one
// controller and one emulator for all of them (a workspace per scenario), every claim checked
// also against the emulator's journal.
// ---------------------------------------------------------------------------------------------

/// `resyncInterval` of the workspaces of the scenarios that count passes.
const RESYNC_SECS: u64 = 5;
/// An exception that expires this long after its workspace is applied: long enough for the first
/// pass to see it held on a loaded machine, short enough to keep the test quick.
const EXPIRES_IN_SECS: i64 = 20;
/// What the controller logs when neither report CRD is served.
const NO_REPORTS: &str = "no reports are written";
const POLICY_REPORTS: &str = "policyreports.v1alpha2.wgpolicyk8s.io";
const OPEN_REPORTS: &str = "reports.v1alpha1.openreports.io";

static POLICY_REPORT: OnceLock<Result<(), String>> = OnceLock::new();
static OPEN_REPORT: OnceLock<Result<(), String>> = OnceLock::new();
/// Held by a test that needs a controller to start while no report CRD is installed: the
/// installation below waits for it.
static REPORT_CRDS_ABSENT: Mutex<()> = Mutex::new(());

/// The upstream report CRDs of `tests/fixtures`, installed into the shared control plane once
/// per test process (other tests' controllers then write reports too, which they may).
pub(crate) fn install_report_crds() {
    let _absent = REPORT_CRDS_ABSENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    cluster_with_crds();
    install_crds_once(
        &POLICY_REPORT,
        "tests/fixtures/wgpolicyk8s.io_policyreports.yaml",
        &["crd/policyreports.wgpolicyk8s.io"],
        &[POLICY_REPORTS],
    );
    install_crds_once(
        &OPEN_REPORT,
        "tests/fixtures/openreports.io_reports.yaml",
        &["crd/reports.openreports.io"],
        &[OPEN_REPORTS],
    );
}

/// The report of workspace `name` as `resource`, if it exists.
fn report(resource: &str, ns: &str, name: &str) -> Option<Value> {
    let out = cluster_with_crds()
        .kubectl([
            "get",
            resource,
            "-n",
            ns,
            &format!("brickwarden-{name}"),
            "-o",
            "json",
        ])
        .expect("kubectl runs");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("kubectl -o json"))
}

/// A DatabricksWorkspace of the scenarios: `spec` lines (exceptions, windows, approval) before
/// the policy, indented as spec fields.
fn governed_yaml(
    ns: &str,
    name: &str,
    host: &str,
    resync: &str,
    spec: &str,
    policy: &str,
) -> String {
    let spec = format!("{spec}  policy:\n{policy}");
    kube::workspace_yaml(ns, name, "gov-done", host, "pat", resync, &spec)
}

fn state_of(ws: &Value, id: &str) -> String {
    control(ws, id)
        .and_then(|c| c["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn is_compliant(state: &str) -> bool {
    state == "Compliant" || state == "Remediated"
}

/// The PolicyReport summary the workspace's status implies.
fn summary_of(ws: &Value) -> Value {
    let (mut pass, mut fail, mut error, mut skip) = (0, 0, 0, 0);
    for c in ws["status"]["controls"].as_array().into_iter().flatten() {
        match c["state"].as_str().unwrap_or_default() {
            "Compliant" | "Remediated" => pass += 1,
            "Drifted" => fail += 1,
            "Failed" => error += 1,
            _ => skip += 1,
        }
    }
    json!({"pass": pass, "fail": fail, "warn": 0, "error": error, "skip": skip})
}

/// GETs of `path` in the journal of `ws`: each pass of these workspaces reads it once.
fn reads(env: &Env, ws: &str, path: &str) -> usize {
    env.journal(ws).iter().filter(|r| r.is("GET", path)).count()
}

/// Waits until `ws` has been read at least twice more: at least one whole pass started after
/// the call. The bound is three resync intervals (passes come every `RESYNC_SECS`).
fn two_more_passes(env: &Env, ws: &str, path: &str, diag: impl Fn() -> String) {
    let before = reads(env, ws, path);
    wait_for(
        Duration::from_secs(3 * RESYNC_SECS + 10),
        &format!("two more passes over {ws}"),
        diag,
        || (reads(env, ws, path) >= before + 2).then_some(()),
    );
}

fn annotate_approval(ns: &str, name: &str, digest: &str) {
    kubectl(&[
        "annotate",
        "dbw",
        "-n",
        ns,
        name,
        &format!("brickwarden.io/approve={digest}"),
        "--overwrite",
    ]);
}

/// Issue 12's "Done when" on the real control plane, one controller for every scenario:
///
/// * `held`: an unexpired exception holds the web terminal control while the settings are
///   remediated; workspace-conf is never written.
/// * `expiring`: an exception that expires seconds after creation holds its control, then is
///   ignored: an `ExceptionExpired` Event, the control remediated in the pass the controller
///   requeued at the expiry (its resync is 10 minutes), no write before it.
/// * `window`: outside its only maintenance window (a one-minute daily window twelve hours
///   away) the drift is reported with the time the window opens, and never written.
/// * `approval`: deleting an undeclared IP access list under Exclusive waits with a digest while
///   the declared list's creation and a workspace-conf fix proceed; a stale digest releases
///   nothing; the right one releases the deletion, which runs exactly once.
/// * every workspace has a PolicyReport and an openreports.io Report (upstream CRDs) with one
///   result per control and the status' summary, owned by it; a pass that changes nothing
///   rewrites neither. The CRDs are installed after the controller started without them (unless
///   another test of this process installed them first), so this also shows that it finds them
///   later by itself; a restarted writer does not rewrite a current report either.
#[test]
fn exceptions_windows_approvals_and_reports_hold_on_the_real_control_plane() {
    let ns = "e2e-gov-done";
    // Unless another test of this process installed the report CRDs already, none is installed
    // until this controller has started without them.
    let absent = REPORT_CRDS_ABSENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let absent_at_start = POLICY_REPORT.get().is_none() && OPEN_REPORT.get().is_none();
    namespace_with_secret(ns);
    // ws-2 is the Standard-tier one (no settings API, no IP access lists): not used.
    let env = Env::start_with(EmulatorConfig {
        workspaces: 5,
        ..EmulatorConfig::default()
    });
    env.patch_state(
        "ws-5",
        json!({
            "workspace_conf": {"enableIpAccessLists": "true"},
            "ip_access_lists": [
                {"label": "stale", "list_type": "BLOCK", "ip_addresses": ["198.51.100.0/24"]},
            ],
        }),
    );
    let ctl = Controller::start(ns, "e2e-gov-done", "done-a", "e2e=gov-done");
    wait_for(
        TIMEOUT,
        "the controller leads",
        || ctl.tail(),
        || lease_holder(ns, "e2e-gov-done").filter(|holder| holder == "done-a"),
    );

    let now = jiff::Timestamp::now();
    let expires = jiff::Timestamp::from_second(now.as_second() + EXPIRES_IN_SECS).unwrap();
    let far = jiff::Timestamp::from_second(now.as_second() + 30 * 24 * 3600).unwrap();
    // A daily one-minute window twelve hours from now: closed now, whatever the date, and it
    // opens exactly then.
    let opens = jiff::Timestamp::from_second((now.as_second() + 12 * 3600) / 60 * 60).unwrap();
    let at = opens.to_zoned(jiff::tz::TimeZone::UTC);
    let schedule = format!("{} {} * * *", at.minute(), at.hour());

    apply(&governed_yaml(
        ns,
        "expiring",
        &env.ws_url("ws-3"),
        "10m",
        &format!(
            "  exceptions:\n    - controls: [workspaceConf/enableExportNotebook]\n      reason: \"e2e: expires in seconds\"\n      expires: \"{expires}\"\n"
        ),
        "    workspaceConf:\n      exportNotebook: false\n",
    ));
    apply(&governed_yaml(
        ns,
        "held",
        &env.ws_url("ws-1"),
        "5s",
        &format!(
            "  exceptions:\n    - controls: [workspaceConf/enableWebTerminal]\n      reason: \"e2e: until the bastion is ready (SEC-123)\"\n      expires: \"{far}\"\n      approvedBy: security@example.com\n"
        ),
        "    workspaceConf:\n      webTerminal: false\n    settings:\n      restrictWorkspaceAdmins: true\n      disableLegacyDbfs: true\n",
    ));
    apply(&governed_yaml(
        ns,
        "window",
        &env.ws_url("ws-4"),
        "5s",
        &format!(
            "  maintenanceWindows:\n    - {{schedule: \"{schedule}\", duration: 1m, timeZone: UTC}}\n"
        ),
        "    workspaceConf:\n      exportNotebook: false\n      resultsDownloading: false\n",
    ));
    apply(&governed_yaml(
        ns,
        "approval",
        &env.ws_url("ws-5"),
        "5s",
        "  approval: {destructive: Required}\n",
        "    workspaceConf:\n      exportNotebook: false\n    ipAccessLists:\n      enabled: true\n      management: Exclusive\n      lists:\n        - {label: ctl, type: ALLOW, addresses: [127.0.0.1]}\n",
    ));
    let diag_of = |name: &'static str| {
        let ctl = &ctl;
        move || diag(ns, name, ctl)
    };

    // --- expiring, before the expiry: held, nothing written.
    let until_expiry =
        Duration::try_from(expires.duration_since(jiff::Timestamp::now())).unwrap_or_default();
    wait_for(
        until_expiry,
        "expiring: the control is Excepted before the exception expires",
        diag_of("expiring"),
        || {
            let ws = workspace(ns, "expiring");
            (state_of(&ws, "workspaceConf/enableExportNotebook") == "Excepted").then_some(())
        },
    );

    // The report CRDs appear only now, after the controller found neither: it must find them
    // later by itself.
    if absent_at_start {
        wait_for(
            TIMEOUT,
            "the controller to find no report CRD",
            || ctl.tail(),
            || ctl.logs().contains(NO_REPORTS).then_some(()),
        );
    }
    drop(absent);
    install_report_crds();
    let installed = std::time::Instant::now();

    // --- held: the exception holds one control, the others are remediated.
    let held = wait_workspace(
        ns,
        "held",
        &ctl,
        "held: the settings remediated, the web terminal excepted",
        |ws| {
            settled(ws)
                && state_of(ws, "workspaceConf/enableWebTerminal") == "Excepted"
                && [
                    "settings/restrictWorkspaceAdmins",
                    "settings/disableLegacyDbfs",
                ]
                .iter()
                .all(|id| is_compliant(&state_of(ws, id)))
        },
    );
    let terminal = expect_control(&held, "workspaceConf/enableWebTerminal");
    let message = terminal["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("approved by security@example.com") && message.contains("SEC-123"),
        "{terminal:#}"
    );
    // Another pass, so "never" covers more than the first one.
    two_more_passes(&env, "ws-1", "/api/2.0/workspace-conf", diag_of("held"));
    let journal = env.journal("ws-1");
    for setting in ["restrict_workspace_admins", "disable_legacy_dbfs"] {
        let path = format!("/api/2.0/settings/types/{setting}/names/default");
        assert!(
            journal.iter().any(|r| r.is("PATCH", &path) && r.ok()),
            "{setting} is remediated: {journal:#?}"
        );
    }
    let conf_writes: Vec<&Request> = journal
        .iter()
        .filter(|r| r.is_write() && r.path.starts_with("/api/2.0/workspace-conf"))
        .collect();
    assert!(
        conf_writes.is_empty(),
        "the held control's workspace-conf is never written: {conf_writes:#?}"
    );
    assert!(env.conf("ws-1")["enableWebTerminal"].is_null());

    // --- window: drift reported, planned, not written; the status says when the window opens.
    let window = wait_workspace(
        ns,
        "window",
        &ctl,
        "window: drift held outside the maintenance window",
        |ws| settled(ws) && state_of(ws, "workspaceConf/enableExportNotebook") == "Drifted",
    );
    for id in [
        "workspaceConf/enableExportNotebook",
        "workspaceConf/enableResultsDownloading",
    ] {
        let control = expect_control(&window, id);
        assert_eq!(control["state"], "Drifted", "{control:#}");
        assert_eq!(control["reason"], "OutsideMaintenanceWindow", "{control:#}");
        let message = control["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("the next window opens at {opens}")),
            "{id}: {message}"
        );
    }
    assert!(condition_is(&window, "Compliant", "False"));
    two_more_passes(&env, "ws-4", "/api/2.0/workspace-conf", diag_of("window"));
    let journal = env.journal("ws-4");
    let writes: Vec<&Request> = journal.iter().filter(|r| r.is_write()).collect();
    assert!(
        writes.is_empty(),
        "nothing is written outside the window: {writes:#?}"
    );
    assert!(env.conf("ws-4")["enableExportNotebook"].is_null());

    // --- approval: the deletion waits for its digest; the rest proceeds.
    let (pending, digest) = wait_for(
        TIMEOUT,
        "approval: the deletion of the undeclared list waits for approval",
        diag_of("approval"),
        || {
            let ws = workspace(ns, "approval");
            let digest = ws["status"]["pendingApproval"]["digest"]
                .as_str()?
                .to_string();
            (is_compliant(&state_of(&ws, "ipAccessLists/list/ctl"))
                && is_compliant(&state_of(&ws, "workspaceConf/enableExportNotebook")))
            .then_some((ws, digest))
        },
    );
    let actions = pending["status"]["pendingApproval"]["actions"].to_string();
    assert!(actions.contains("stale"), "{actions}");
    let undeclared = expect_control(&pending, "ipAccessLists/undeclared");
    assert_eq!(undeclared["state"], "Drifted", "{undeclared:#}");
    assert_eq!(undeclared["reason"], "ApprovalRequired", "{undeclared:#}");
    let journal = env.journal("ws-5");
    assert!(
        journal
            .iter()
            .any(|r| r.is("POST", "/api/2.0/ip-access-lists") && r.ok()),
        "the declared list is created: {journal:#?}"
    );
    assert!(
        journal
            .iter()
            .any(|r| r.is("PATCH", "/api/2.0/workspace-conf") && r.ok()),
        "the workspace-conf drift is remediated: {journal:#?}"
    );
    let deletes = |journal: &[Request]| -> Vec<Request> {
        journal
            .iter()
            .filter(|r| r.is("DELETE", "/api/2.0/ip-access-lists/"))
            .cloned()
            .collect()
    };
    assert!(
        deletes(&journal).is_empty(),
        "nothing is deleted before the approval: {journal:#?}"
    );

    // A digest that is not the pending one releases nothing.
    annotate_approval(ns, "approval", "0123456789abcdef01234567");
    two_more_passes(
        &env,
        "ws-5",
        "/api/2.0/ip-access-lists",
        diag_of("approval"),
    );
    let journal = env.journal("ws-5");
    assert!(
        deletes(&journal).is_empty(),
        "a stale digest deletes nothing: {journal:#?}"
    );
    let still = workspace(ns, "approval");
    assert_eq!(
        still["status"]["pendingApproval"]["digest"],
        digest.as_str()
    );
    assert!(
        still["status"]["approvedDigest"].is_null(),
        "{:#}",
        still["status"]
    );

    // The pending digest releases the deletion, once.
    annotate_approval(ns, "approval", &digest);
    wait_workspace(
        ns,
        "approval",
        &ctl,
        "approval: the approved deletion ran",
        |ws| {
            ws["status"]["approvedDigest"] == digest.as_str()
                && ws["status"]["pendingApproval"].is_null()
                && is_compliant(&state_of(ws, "ipAccessLists/undeclared"))
        },
    );
    two_more_passes(
        &env,
        "ws-5",
        "/api/2.0/ip-access-lists",
        diag_of("approval"),
    );
    let journal = env.journal("ws-5");
    let done = deletes(&journal);
    assert_eq!(done.len(), 1, "exactly one DELETE: {journal:#?}");
    assert!(done[0].ok(), "{:?}", done[0]);
    let lists: Vec<String> =
        env.harness().emulator.state("ws-5").expect("state")["ip_access_lists"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| l["label"].as_str().unwrap_or_default().to_string())
            .collect();
    assert_eq!(lists, ["ctl"]);

    // --- expiring, after the expiry: an Event, the control judged again and remediated in the
    // pass the controller requeued at the expiry (its resync is ten minutes).
    let bound = Duration::try_from(expires.duration_since(jiff::Timestamp::now()))
        .unwrap_or_default()
        + TIMEOUT;
    let (_, _, note) = wait_for(
        bound,
        "expiring: an ExceptionExpired event",
        diag_of("expiring"),
        || {
            events(ns, "expiring")
                .into_iter()
                .find(|(reason, _, _)| reason == "ExceptionExpired")
        },
    );
    assert!(
        note.contains("workspaceConf/enableExportNotebook"),
        "{note}"
    );
    wait_workspace(
        ns,
        "expiring",
        &ctl,
        "expiring: the control remediated after the expiry",
        |ws| is_compliant(&state_of(ws, "workspaceConf/enableExportNotebook")),
    );
    let journal = env.journal("ws-3");
    let conf_writes: Vec<&Request> = journal
        .iter()
        .filter(|r| r.is("PATCH", "/api/2.0/workspace-conf"))
        .collect();
    assert_eq!(conf_writes.len(), 1, "{journal:#?}");
    assert!(
        conf_writes[0].at >= expires,
        "written only after the expiry ({expires}): {:?}",
        conf_writes[0]
    );
    let first_after = journal
        .iter()
        .find(|r| r.at >= expires && r.is("GET", "/api/2.0/workspace-conf"))
        .expect("a read after the expiry");
    let late = first_after.at.duration_since(expires);
    assert!(
        late < jiff::SignedDuration::from_secs(10),
        "the pass after the expiry came {late:?} late: it was not requeued at the expiry"
    );

    // --- reports: one result per control, the status' summary, owned by the workspace, also
    // for `expiring`, whose next resync is minutes away: the controller re-queues every
    // workspace once it finds a CRD (within two rediscovery intervals of its installation).
    let found_by = installed + 2 * REDISCOVER_EVERY + TIMEOUT;
    for name in ["held", "expiring", "window", "approval"] {
        for resource in [POLICY_REPORTS, OPEN_REPORTS] {
            let (ws, report) = wait_for(
                found_by.saturating_duration_since(std::time::Instant::now()),
                &format!("{name}: a {resource} that agrees with the status"),
                diag_of(name),
                || {
                    let ws = workspace(ns, name);
                    let report = report(resource, ns, name)?;
                    (report["summary"] == summary_of(&ws)).then_some((ws, report))
                },
            );
            assert_report(&ws, &report);
        }
    }

    // --- a pass that changes nothing writes no report.
    let versions = || {
        [POLICY_REPORTS, OPEN_REPORTS].map(|resource| {
            report(resource, ns, "window").expect("report")["metadata"]["resourceVersion"].clone()
        })
    };
    let before = versions();
    two_more_passes(&env, "ws-4", "/api/2.0/workspace-conf", diag_of("window"));
    assert_eq!(versions(), before, "the window's reports were rewritten");
    // Said once each: no CRD at the start, both found later.
    let logs = ctl.logs();
    let said = [
        (NO_REPORTS, usize::from(absent_at_start)),
        ("writing a report beside each resource", 1),
    ];
    for (line, times) in said {
        assert_eq!(
            logs.matches(line).count(),
            times,
            "{line:?} {times} times:\n{}",
            ctl.tail()
        );
    }
    writes_survive_a_restart(&env, ns);
    let (_, metrics) = env.answer(&ctl.url("/metrics"));
    assert!(
        metrics.contains(
            r#"brickwarden_policy_reports_total{kind="PolicyReport",outcome="unchanged"}"#
        ),
        "{metrics}"
    );
    drop(ctl);
}

/// The writer against the apiserver, without a controller: a report is created once, a second
/// write of the same content (another time) sends nothing, a new writer (a restarted
/// controller) finds the current report by its digest annotation instead of rewriting it, and a
/// change is written.
fn writes_survive_a_restart(env: &Env, ns: &str) {
    use brickwarden::api::ControlState;
    use brickwarden::controller::reports::{Outcome, Owner, ReportKind, Reports, build};
    use brickwarden::controls::ControlResult;

    kubectl(&["create", "configmap", "-n", ns, "restart-probe"]);
    let uid = get_json(&["configmap", "-n", ns, "restart-probe"])["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let owner = Owner {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "restart-probe".into(),
        uid,
        namespace: ns.into(),
    };
    let drifted = vec![
        ControlResult::new("workspaceConf/enableExportNotebook", ControlState::Drifted)
            .with_values("false", "true"),
    ];
    let at = |seconds| jiff::Timestamp::from_second(seconds).expect("time");
    let all = |outcome| ReportKind::ALL.map(|kind| (kind, outcome)).to_vec();
    let client = env
        .rt
        .block_on(cluster_with_crds().kube_client())
        .expect("kube client");
    let write = |reports: &Reports, controls: &[ControlResult], seconds| {
        let report = build(&owner, "spec", controls, at(seconds));
        env.rt.block_on(reports.write(&client, &report))
    };
    let versions = || {
        [POLICY_REPORTS, OPEN_REPORTS].map(|resource| {
            report(resource, ns, "configmap-restart-probe").expect("report")["metadata"]
                ["resourceVersion"]
                .clone()
        })
    };

    let first = Reports::default();
    assert_eq!(
        write(&first, &drifted, 1_800_000_000),
        all(Outcome::Written)
    );
    let written = versions();
    assert_eq!(
        write(&first, &drifted, 1_800_000_600),
        all(Outcome::Unchanged)
    );
    let restarted = Reports::default();
    assert_eq!(
        write(&restarted, &drifted, 1_800_001_200),
        all(Outcome::Unchanged)
    );
    assert_eq!(versions(), written);
    let fixed = vec![
        ControlResult::new(
            "workspaceConf/enableExportNotebook",
            ControlState::Remediated,
        )
        .with_values("false", "false"),
    ];
    assert_eq!(
        write(&restarted, &fixed, 1_800_001_800),
        all(Outcome::Written)
    );
    let report = report(POLICY_REPORTS, ns, "configmap-restart-probe").expect("report");
    assert_eq!(report["summary"]["pass"], 1, "{report:#}");
    assert_eq!(report["results"][0]["timestamp"]["seconds"], 1_800_001_800);
}

/// A report as DESIGN "Reports" describes it, against the workspace's status.
fn assert_report(ws: &Value, report: &Value) {
    let name = ws["metadata"]["name"].as_str().expect("name");
    let owner = &report["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "DatabricksWorkspace", "{report:#}");
    assert_eq!(owner["name"], name);
    assert_eq!(owner["uid"], ws["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(report["scope"]["kind"], "DatabricksWorkspace");
    assert_eq!(report["scope"]["name"], name);
    assert_eq!(report["scope"]["namespace"], ws["metadata"]["namespace"]);
    let controls = ws["status"]["controls"].as_array().expect("controls");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), controls.len(), "{report:#}");
    for control in controls {
        let id = control["id"].as_str().expect("id");
        let result = results
            .iter()
            .find(|r| r["rule"] == id)
            .unwrap_or_else(|| panic!("{name}: no result for {id}: {report:#}"));
        assert_eq!(result["source"], "brickwarden");
        assert_eq!(result["policy"], "spec");
        let expected = match control["state"].as_str().unwrap_or_default() {
            "Compliant" | "Remediated" => "pass",
            "Drifted" => "fail",
            "Failed" => "error",
            _ => "skip",
        };
        assert_eq!(result["result"], expected, "{id}: {result:#}");
        assert!(
            ["critical", "high", "medium", "low"]
                .contains(&result["severity"].as_str().unwrap_or_default()),
            "{id}: {result:#}"
        );
        for key in ["desired", "observed"] {
            assert_eq!(result["properties"][key], control[key], "{id}: {result:#}");
        }
        assert!(result["message"].is_string(), "{id}: {result:#}");
        assert!(result["timestamp"]["seconds"].as_i64().unwrap_or_default() > 0);
    }
}
