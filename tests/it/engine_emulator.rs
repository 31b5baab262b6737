//! The reconcile pipeline against the emulator over real HTTP: Audit reports without writing,
//! Enforce remediates, the lockout guard and Additive management hold, and a compliant workspace
//! costs reads only (asserted on the emulator's request journal).

use brickwarden::api::{ControlState, Mode};
use brickwarden::clients::databricks::{DatabricksClient, ListType};
use brickwarden::clients::{ClientOptions, Credential};
use brickwarden::engine::{self, Apply, Connections, Outcome, Report};
use brickwarden_emulator::Emulator;
use secrecy::SecretString;
use serde_json::json;
use url::Url;

use crate::fleet_bench::policy;
use crate::support::emulator::{Admin, requests_of};
use crate::support::harness::{self, PAT, control, new_list, target};

async fn emulator() -> Emulator {
    harness::start().await.emulator
}

fn client(emulator: &Emulator, ws: &str) -> DatabricksClient {
    DatabricksClient::new(
        Url::parse(&emulator.workspace_url(ws)).unwrap(),
        Credential::PersonalAccessToken(SecretString::from(PAT)),
        ClientOptions::default(),
    )
    .unwrap()
}

fn connections(emulator: &Emulator, ws: &str) -> Connections {
    Connections {
        databricks: client(emulator, ws),
        arm: None,
        azure_resource_id: None,
    }
}

fn state(report: &Report, id: &str) -> ControlState {
    control(report, id).state
}

/// Requests of one workspace since the journal was last cleared: (method, path).
fn journal(emulator: &Emulator, ws: &str) -> Vec<(String, String)> {
    requests_of(emulator, ws, 0)
        .into_iter()
        .map(|(_, m, p, _)| (m, p))
        .collect()
}

fn writes(emulator: &Emulator, ws: &str) -> Vec<(String, String)> {
    journal(emulator, ws)
        .into_iter()
        .filter(|(m, _)| m != "GET")
        .collect()
}

async fn clear_journal(emulator: &Emulator) {
    Admin::new(&emulator.base_url()).clear_journal().await;
}

#[tokio::test]
async fn audit_reports_drift_with_a_plan_and_writes_nothing() {
    let emulator = emulator().await;
    clear_journal(&emulator).await;
    let report = engine::reconcile(
        &target(Mode::Audit, policy(), &["127.0.0.1"]),
        &connections(&emulator, "ws-1"),
        Apply::Enforce,
    )
    .await;
    for id in [
        "workspaceConf/enableExportNotebook",
        "ipAccessLists/enabled",
        "ipAccessLists/list/ctl",
        "tokens/maxLifetimeDays",
        "tokens/permissions",
    ] {
        assert_eq!(state(&report, id), ControlState::Drifted, "{id}");
    }
    let export = control(&report, "workspaceConf/enableExportNotebook");
    assert_eq!(export.reason.map(|r| r.as_str()), Some("AuditMode"));
    assert!(
        export
            .message
            .as_deref()
            .unwrap()
            .contains("enableExportNotebook=false"),
        "{export:?}"
    );
    assert!(
        report
            .planned_actions
            .iter()
            .any(|a| a.starts_with("POST ip-access-list ctl ALLOW")),
        "{:?}",
        report.planned_actions
    );
    assert!(
        report
            .planned_actions
            .iter()
            .any(|a| a.contains("enableIpAccessLists=true"))
    );
    assert!(report.executed.is_empty());
    assert_eq!(writes(&emulator, "ws-1"), Vec::<(String, String)>::new());
}

#[tokio::test]
async fn enforce_remediates_then_a_compliant_pass_only_reads() {
    let emulator = emulator().await;
    let stray = client(&emulator, "ws-1")
        .create_ip_access_list(&new_list("stray", ListType::Allow, &["10.0.0.0/8"]))
        .await
        .unwrap();
    let t = target(Mode::Enforce, policy(), &["127.0.0.1"]);
    let c = connections(&emulator, "ws-1");
    let report = engine::reconcile(&t, &c, Apply::Enforce).await;
    for id in [
        "workspaceConf/enableExportNotebook",
        "workspaceConf/enableWorkspaceFilesystem",
        "ipAccessLists/enabled",
        "ipAccessLists/list/ctl",
        "ipAccessLists/list/bad",
        "ipAccessLists/undeclared",
        "tokens/maxLifetimeDays",
        "tokens/permissions",
    ] {
        assert!(state(&report, id).is_compliant(), "{id}: {report:#?}");
    }
    assert_eq!(
        state(&report, "ipAccessLists/undeclared"),
        ControlState::Remediated
    );
    assert!(
        report
            .executed
            .iter()
            .all(|r| r.outcome == Outcome::Applied),
        "{:#?}",
        report.executed
    );
    let live = emulator.state("ws-1").unwrap();
    assert_eq!(
        live["workspace_conf"]["enableExportNotebook"],
        json!("false"),
        "{live}"
    );
    assert!(
        !live.to_string().contains(&stray.list_id),
        "the undeclared list is deleted under Exclusive"
    );

    // Safe ordering: the ALLOW list exists before IP access lists are turned on.
    let order: Vec<_> = report
        .executed
        .iter()
        .map(|r| r.description.clone())
        .collect();
    let allow = order
        .iter()
        .position(|d| d.starts_with("POST ip-access-list ctl"))
        .unwrap();
    let enable = order
        .iter()
        .position(|d| d.contains("enableIpAccessLists=true"))
        .unwrap();
    let delete = order
        .iter()
        .position(|d| d.starts_with("DELETE ip-access-list stray"))
        .unwrap();
    assert!(allow < enable && enable < delete, "{order:?}");

    clear_journal(&emulator).await;
    let again = engine::reconcile(&t, &c, Apply::Enforce).await;
    assert!(
        again
            .controls
            .iter()
            .all(|r| r.state == ControlState::Compliant),
        "{again:#?}"
    );
    assert!(
        writes(&emulator, "ws-1").is_empty(),
        "{:?}",
        journal(&emulator, "ws-1")
    );
    let reads = journal(&emulator, "ws-1");
    // One read per family: workspace-conf (all keys in one ?keys= call), lists, permissions.
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert_eq!(
        reads
            .iter()
            .filter(|(_, p)| p.starts_with("/api/2.0/workspace-conf"))
            .count(),
        1
    );
}

#[tokio::test]
async fn lockout_guard_blocks_lists_that_exclude_the_controller() {
    let emulator = emulator().await;
    let excluding = json!({"ipAccessLists": {"enabled": true, "lists": [{"label": "vpn", "type": "ALLOW", "addresses": ["203.0.113.0/24"]}]}});

    // With the controller's egress declared, the guard refuses before any request.
    let report = engine::reconcile(
        &target(Mode::Enforce, excluding.clone(), &["127.0.0.1"]),
        &connections(&emulator, "ws-1"),
        Apply::Enforce,
    )
    .await;
    let enabled = control(&report, "ipAccessLists/enabled");
    assert_eq!(enabled.state, ControlState::Failed);
    assert_eq!(
        enabled.reason.map(|r| r.as_str()),
        Some("RemediationBlocked")
    );
    assert!(
        enabled.message.as_deref().unwrap().contains("LockoutGuard"),
        "{enabled:?}"
    );
    assert_eq!(report.blocked().len(), 1);
    assert_eq!(
        emulator.state("ws-1").unwrap()["workspace_conf"]["enableIpAccessLists"],
        json!(null),
        "lists stay off"
    );

    // Without it, Databricks' INVALID_STATE is surfaced as blocked, not retried (ws-3: a
    // Premium workspace whose lists are untouched by the first half).
    clear_journal(&emulator).await;
    let report = engine::reconcile(
        &target(Mode::Enforce, excluding, &[]),
        &connections(&emulator, "ws-3"),
        Apply::Enforce,
    )
    .await;
    let blocked = report.blocked();
    assert_eq!(blocked.len(), 1, "{:#?}", report.executed);
    assert!(
        matches!(&blocked[0].outcome, Outcome::Blocked { message, .. } if message.contains("INVALID_STATE") || message.contains("will not be allowed")),
        "{blocked:?}"
    );
    let conf_patches = writes(&emulator, "ws-3")
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/2.0/workspace-conf"))
        .count();
    assert_eq!(conf_patches, 1, "INVALID_STATE is not retried");
    assert_eq!(
        state(&report, "ipAccessLists/enabled"),
        ControlState::Failed
    );
}

#[tokio::test]
async fn additive_never_deletes_undeclared_lists() {
    let emulator = emulator().await;
    let legacy = client(&emulator, "ws-1")
        .create_ip_access_list(&new_list("legacy", ListType::Allow, &["10.0.0.0/8"]))
        .await
        .unwrap();
    let additive = json!({"ipAccessLists": {"management": "Additive", "lists": [{"label": "ctl", "type": "ALLOW", "addresses": ["127.0.0.1"]}]}});
    let report = engine::reconcile(
        &target(Mode::Enforce, additive, &["127.0.0.1"]),
        &connections(&emulator, "ws-1"),
        Apply::Enforce,
    )
    .await;
    assert_eq!(
        state(&report, "ipAccessLists/list/ctl"),
        ControlState::Remediated
    );
    assert_eq!(
        state(&report, "ipAccessLists/undeclared"),
        ControlState::Compliant
    );
    assert!(writes(&emulator, "ws-1").iter().all(|(m, _)| m != "DELETE"));
    assert!(
        emulator
            .state("ws-1")
            .unwrap()
            .to_string()
            .contains(&legacy.list_id)
    );
}

/// A client of workspace `ws` as another identity than brickwarden's: a service principal
/// using OAuth, whose tokens brickwarden may revoke.
fn other_identity(emulator: &Emulator, ws: &str) -> DatabricksClient {
    DatabricksClient::new(
        Url::parse(&emulator.workspace_url(ws)).unwrap(),
        Credential::DatabricksOAuth {
            client_id: "etl-pipeline".into(),
            client_secret: SecretString::from("emulator-secret"),
        },
        ClientOptions::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn token_revocation_is_opt_in_and_exact() {
    let emulator = emulator().await;
    // Tokens of another identity (a service principal using OAuth) ...
    let other = other_identity(&emulator, "ws-2");
    let forever = other.create_token(Some("forever"), None).await.unwrap();
    let bounded = other
        .create_token(Some("bounded"), Some(std::time::Duration::from_secs(3600)))
        .await
        .unwrap();
    // ... and one of brickwarden's own identity, which it never revokes.
    let own = client(&emulator, "ws-2")
        .create_token(Some("brickwarden"), None)
        .await
        .unwrap();
    let keep_all = json!({"tokens": {"maxLifetimeDays": 90}});
    let report = engine::reconcile(
        &target(Mode::Enforce, keep_all, &[]),
        &connections(&emulator, "ws-2"),
        Apply::Enforce,
    )
    .await;
    assert!(
        report.controls.iter().all(|c| c.id != "tokens/revoke"),
        "no revocation unless asked"
    );

    let revoke = json!({"tokens": {"maxLifetimeDays": 90, "revoke": {"withoutExpiry": true}}});
    let report = engine::reconcile(
        &target(Mode::Enforce, revoke, &[]),
        &connections(&emulator, "ws-2"),
        Apply::Enforce,
    )
    .await;
    assert_eq!(
        state(&report, "tokens/revoke"),
        ControlState::Remediated,
        "{report:#?}"
    );
    let live = emulator.state("ws-2").unwrap().to_string();
    assert!(!live.contains(&forever.token_info.token_id));
    assert!(live.contains(&bounded.token_info.token_id));
    assert!(
        live.contains(&own.token_info.token_id),
        "brickwarden's own token is kept"
    );
    let revoke_control = control(&report, "tokens/revoke");
    assert!(
        revoke_control
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("own identity"),
        "{revoke_control:?}"
    );
}

#[tokio::test]
async fn plan_never_writes_even_in_enforce_mode() {
    let emulator = emulator().await;
    clear_journal(&emulator).await;
    let report = engine::reconcile(
        &target(Mode::Enforce, policy(), &["127.0.0.1"]),
        &connections(&emulator, "ws-3"),
        Apply::Never,
    )
    .await;
    assert!(report.drifted());
    assert!(!report.planned_actions.is_empty());
    assert!(writes(&emulator, "ws-3").is_empty());
}

/// With `approval.destructive: Required`, revoking a token waits for the digest of exactly that
/// change while the rest of the pass proceeds; the digest releases it once, and a digest of
/// another set releases nothing.
#[tokio::test]
async fn destructive_changes_wait_for_the_approved_digest() {
    let emulator = emulator().await;
    let other = other_identity(&emulator, "ws-3");
    let forever = other.create_token(Some("forever"), None).await.unwrap();
    let policy = json!({
        "tokens": {"revoke": {"withoutExpiry": true}},
        "workspaceConf": {"exportNotebook": false},
    });
    let mut target = target(Mode::Enforce, policy, &[]);
    target.approval_required = true;
    let connections = connections(&emulator, "ws-3");
    clear_journal(&emulator).await;

    let waiting = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let revoke = control(&waiting, "tokens/revoke");
    assert_eq!(revoke.state, ControlState::Drifted);
    assert_eq!(revoke.reason.map(|r| r.as_str()), Some("ApprovalRequired"));
    let pending = waiting
        .pending_approval
        .clone()
        .expect("a pending approval");
    assert_eq!(pending.actions.len(), 1, "{pending:?}");
    assert!(pending.actions[0].contains(&forever.token_info.token_id));
    assert!(revoke.message.as_deref().unwrap().contains(&pending.digest));
    assert_eq!(
        state(&waiting, "workspaceConf/enableExportNotebook"),
        ControlState::Remediated,
        "non-destructive changes proceed"
    );
    assert!(
        writes(&emulator, "ws-3").iter().all(|(m, _)| m != "DELETE"),
        "nothing is revoked before the approval"
    );

    // A digest of another set releases nothing.
    target.approved_digest = Some("0123456789abcdef01234567".into());
    let stale = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert!(stale.approval_released.is_none());
    assert_eq!(
        stale.pending_approval.as_ref().map(|p| &p.digest),
        Some(&pending.digest)
    );

    // The matching digest releases exactly that set.
    target.approved_digest = Some(pending.digest.clone());
    let approved = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(approved.approval_released, Some(pending.digest.clone()));
    assert_eq!(state(&approved, "tokens/revoke"), ControlState::Remediated);
    let deletes: Vec<_> = writes(&emulator, "ws-3")
        .into_iter()
        .filter(|(m, _)| m == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
}
