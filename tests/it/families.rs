//! The settings, secret scope and azure families through the whole pipeline
//! (`brickwarden::engine::reconcile`) against the in-process emulator.
//!
//! For each family: drift is reported in Audit with the plan and no write reaches the emulator;
//! Enforce remediates it; a second, compliant pass only reads.

use std::time::Duration;

use brickwarden::api::{ControlState, DatabricksWorkspaceSpec, Mode};
use brickwarden::clients::{ClientOptions, RetryPolicy};
use brickwarden::engine::credentials::{connect, credential_for};
use brickwarden::engine::{self, Apply, Connections, Report, Target};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

use crate::support::emulator::Entry;
use crate::support::harness::{CLIENT_SECRET, Harness, PAT, control, fast_options, start};

const LOG_ANALYTICS: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/la";

enum Auth {
    Pat,
    EntraSecret,
}

/// What these tests add to the shared harness: clients built the way the controller builds
/// them, with fast retries.
trait Families {
    fn options(&self) -> ClientOptions;
    fn spec(&self, ws: &str, auth: Auth, with_resource_id: bool, policy: Value) -> Value;
    fn connect(&self, spec: Value) -> (Target, Connections);
}

impl Families for Harness {
    fn options(&self) -> ClientOptions {
        let mut options = fast_options(&self.emulator);
        // Fewer and shorter retries, and more time per request, than the shared fast options.
        options.http.request_timeout = Duration::from_secs(5);
        options.http.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            total_budget: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(1),
        };
        options
    }

    /// A workspace spec for `ws` with the given auth, resource id and policy.
    fn spec(&self, ws: &str, auth: Auth, with_resource_id: bool, policy: Value) -> Value {
        let auth = match auth {
            Auth::Pat => {
                json!({"personalAccessToken": {"secretRef": {"name": "pat", "key": "token"}}})
            }
            Auth::EntraSecret => json!({"azureClientSecret": {
                "tenantId": "11111111-1111-1111-1111-111111111111",
                "clientId": "22222222-2222-2222-2222-222222222222",
                "clientSecretRef": {"name": "sp", "key": "secret"},
            }}),
        };
        let mut spec = json!({
            "host": self.emulator.workspace_url(ws),
            "auth": auth,
            "mode": "Enforce",
            "policy": policy,
        });
        if with_resource_id {
            spec["azureResourceId"] = json!(self.emulator.arm_resource_id(ws));
        }
        spec
    }

    /// The target and connections of a spec, built the way the controller and CLI build them.
    fn connect(&self, spec: Value) -> (Target, Connections) {
        let spec: DatabricksWorkspaceSpec = serde_json::from_value(spec).unwrap();
        let secret = if spec.auth.personal_access_token.is_some() {
            PAT
        } else {
            CLIENT_SECRET
        };
        let credential =
            credential_for(&spec.auth, Some(SecretString::from(secret)), None, "test").unwrap();
        let arm = Url::parse(&self.emulator.arm_url()).unwrap();
        let connections = connect(&spec, credential, &self.options(), &arm).unwrap();
        // These tests reach the emulator as if over Private Link (see
        // `disabling_public_access_needs_private_network` for the other case).
        let reach = engine::Reach {
            egress: Vec::new(),
            private_network: true,
        };
        let (policy, governance) = (spec.policy.as_ref(), &spec.governance);
        let target =
            engine::target_for(policy, governance, None, &reach, jiff::Timestamp::now()).unwrap();
        (target, connections)
    }
}

fn audit(mut target: Target) -> Target {
    target.mode = Mode::Audit;
    target
}

fn state_of(report: &Report, id: &str) -> ControlState {
    control(report, id).state
}

fn ids_with_prefix<'a>(report: &'a Report, prefix: &str) -> Vec<&'a str> {
    report
        .controls
        .iter()
        .filter(|c| c.id.starts_with(prefix))
        .map(|c| c.id.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// settings

const SETTING_IDS: [&str; 5] = [
    "settings/restrictWorkspaceAdmins",
    "settings/automaticClusterUpdate",
    "settings/complianceSecurityProfile",
    "settings/enhancedSecurityMonitoring",
    "settings/disableLegacyDbfs",
];

fn all_settings_on() -> Value {
    json!({"settings": {
        "restrictWorkspaceAdmins": true,
        "automaticClusterUpdate": true,
        "complianceSecurityProfile": true,
        "enhancedSecurityMonitoring": true,
        "disableLegacyDbfs": true,
    }})
}

#[tokio::test]
async fn settings_audit_enforce_then_compliant() {
    let h = start().await;
    let (target, connections) = h.connect(h.spec("ws-1", Auth::Pat, false, all_settings_on()));

    // Audit: every setting drifted, five PATCHes planned (the compliance profile last), no write
    // even though the pass may apply.
    h.clear_journal().await;
    let report = engine::reconcile(&audit(target.clone()), &connections, Apply::Enforce).await;
    assert_eq!(ids_with_prefix(&report, "settings/"), SETTING_IDS);
    for id in SETTING_IDS {
        let c = control(&report, id);
        assert_eq!(c.state, ControlState::Drifted, "{id}");
        assert_eq!(c.reason.map(|r| r.as_str()), Some("AuditMode"), "{id}");
        assert!(
            c.references
                .iter()
                .any(|r| r.starts_with("SAT ") || r.starts_with("best practices")),
            "{id}"
        );
    }
    assert_eq!(
        control(&report, "settings/restrictWorkspaceAdmins")
            .observed
            .as_deref(),
        Some("ALLOW_ALL")
    );
    assert_eq!(
        report.planned_actions,
        [
            "PATCH setting restrict_workspace_admins=RESTRICT_TOKENS_AND_JOB_RUN_AS",
            "PATCH setting automatic_cluster_update=true",
            "PATCH setting shield_esm_enablement_ws_db=true",
            "PATCH setting disable_legacy_dbfs=true",
            "PATCH setting shield_csp_enablement_ws_db=true",
        ]
    );
    assert!(report.executed.is_empty());
    assert_eq!(h.writes().await, Vec::<Entry>::new());
    let gets = h.journal().await;
    assert_eq!(gets.len(), 5, "one GET per declared setting: {gets:?}");

    // Enforce: all remediated, one PATCH each.
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    for id in SETTING_IDS {
        assert_eq!(state_of(&report, id), ControlState::Remediated, "{id}");
    }
    assert!(
        report.planned_actions.is_empty(),
        "{:?}",
        report.planned_actions
    );
    let patches = h.write_calls().await;
    assert_eq!(patches.len(), 5, "{patches:?}");
    assert!(patches.iter().all(|(m, _, s)| m == "PATCH" && *s == 200));
    let state = h.state("ws-1").await;
    assert_eq!(
        state["settings"]["restrict_workspace_admins"]["restrict_workspace_admins"]["status"],
        "RESTRICT_TOKENS_AND_JOB_RUN_AS"
    );
    assert_eq!(
        state["settings"]["shield_csp_enablement_ws_db"]["compliance_security_profile_workspace"]["is_enabled"],
        true
    );

    // Compliant: reads only.
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    for id in SETTING_IDS {
        assert_eq!(state_of(&report, id), ControlState::Compliant, "{id}");
    }
    assert!(report.planned_actions.is_empty());
    assert_eq!(h.writes().await, Vec::<Entry>::new());
}

#[tokio::test]
async fn stale_setting_etag_is_reread_and_retried_once() {
    let h = start().await;
    let (target, connections) = h.connect(h.spec(
        "ws-1",
        Auth::Pat,
        false,
        json!({"settings": {"restrictWorkspaceAdmins": true}}),
    ));
    let pass = target.pass(jiff::Timestamp::now());
    let workspace = engine::workspace_of(&target, &connections);
    let mut stages = engine::workspace_stages(&workspace, &pass);
    engine::observe(&mut stages, &connections).await;
    let facts = engine::evaluate(&mut stages, &pass);
    let actions = engine::plan(&mut stages, &pass);
    let guarded = engine::guard(&mut stages, actions, &facts, &pass);
    assert_eq!(guarded.len(), 1);

    // Someone else writes the setting between our read and our PATCH: our etag is stale.
    h.patch_state(
        "ws-1",
        json!({"settings": {"restrict_workspace_admins": {"status": "ALLOW_ALL"}}}),
    )
    .await;
    h.clear_journal().await;
    let executed = engine::apply(&stages, &connections, &guarded).await;
    assert_eq!(executed.len(), 1);
    assert_eq!(executed[0].outcome, engine::Outcome::Applied);
    let calls: Vec<_> = h
        .journal()
        .await
        .into_iter()
        .map(|(_, m, _, s)| (m, s))
        .collect();
    assert_eq!(
        calls,
        [
            ("PATCH".to_string(), 409),
            ("GET".to_string(), 200),
            ("PATCH".to_string(), 200)
        ]
    );
    let state = h.state("ws-1").await;
    assert_eq!(
        state["settings"]["restrict_workspace_admins"]["restrict_workspace_admins"]["status"],
        "RESTRICT_TOKENS_AND_JOB_RUN_AS"
    );
}

// ---------------------------------------------------------------------------------------------
// secret scopes

#[tokio::test]
async fn secret_scope_acls_audit_enforce_then_compliant() {
    let h = start().await;
    // The emulator seeds scope `etl` with admin@example.com=MANAGE and users=READ.
    let policy = json!({"secretScopes": [
        {"scope": "etl", "management": "Exclusive", "acls": [
            {"principal": "admin@example.com", "permission": "MANAGE"},
            {"principal": "data-engineers", "permission": "READ"},
        ]},
        {"scope": "nope", "acls": [{"principal": "data-engineers", "permission": "READ"}]},
    ]});
    let (target, connections) = h.connect(h.spec("ws-1", Auth::Pat, false, policy));

    h.clear_journal().await;
    let report = engine::reconcile(&audit(target.clone()), &connections, Apply::Enforce).await;
    let etl = control(&report, "secretScopes/etl");
    assert_eq!(etl.state, ControlState::Drifted);
    assert_eq!(
        etl.observed.as_deref(),
        Some("admin@example.com=MANAGE, users=READ")
    );
    assert!(etl.references.contains(&"SAT DP-1".to_string()));
    let missing = control(&report, "secretScopes/nope");
    assert_eq!(missing.state, ControlState::Failed);
    assert_eq!(
        missing.message.as_deref(),
        Some("scope does not exist; brickwarden manages ACLs, not scopes")
    );
    assert_eq!(
        report.planned_actions,
        [
            "PUT secret ACL etl data-engineers=READ",
            "DELETE secret ACL etl users"
        ]
    );
    assert_eq!(h.writes().await, Vec::<Entry>::new());
    // One scope list, one ACL list for the scope that exists.
    let reads: Vec<_> = h
        .journal()
        .await
        .into_iter()
        .map(|(_, _, p, _)| p)
        .collect();
    assert_eq!(
        reads,
        ["/api/2.0/secrets/scopes/list", "/api/2.0/secrets/acls/list"]
    );

    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(
        state_of(&report, "secretScopes/etl"),
        ControlState::Remediated
    );
    assert_eq!(state_of(&report, "secretScopes/nope"), ControlState::Failed);
    let writes = h.write_calls().await;
    assert_eq!(
        writes,
        [
            (
                "POST".to_string(),
                "/api/2.0/secrets/acls/put".to_string(),
                200
            ),
            (
                "POST".to_string(),
                "/api/2.0/secrets/acls/delete".to_string(),
                200
            ),
        ]
    );
    let state = h.state("ws-1").await;
    let etl = state["secret_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "etl")
        .unwrap();
    assert_eq!(
        etl["acls"],
        json!([
            {"principal": "admin@example.com", "permission": "MANAGE"},
            {"principal": "data-engineers", "permission": "READ"},
        ])
    );
    // No secret value ever appears in a report.
    assert!(!format!("{report:?}").contains("storage-account-key"));

    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(
        state_of(&report, "secretScopes/etl"),
        ControlState::Compliant
    );
    assert_eq!(h.writes().await, Vec::<Entry>::new());
}

#[tokio::test]
async fn additive_secret_acls_never_delete() {
    let h = start().await;
    let policy = json!({"secretScopes": [
        {"scope": "etl", "management": "Additive", "acls": [
            {"principal": "data-engineers", "permission": "WRITE"},
        ]},
    ]});
    let (target, connections) = h.connect(h.spec("ws-1", Auth::Pat, false, policy));
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(
        state_of(&report, "secretScopes/etl"),
        ControlState::Remediated
    );
    let writes: Vec<_> = h.writes().await.into_iter().map(|(_, _, p, _)| p).collect();
    assert_eq!(writes, ["/api/2.0/secrets/acls/put"]);
    let state = h.state("ws-1").await;
    let etl = &state["secret_scopes"][0];
    assert_eq!(etl["name"], "etl");
    assert_eq!(
        etl["acls"],
        json!([
            {"principal": "admin@example.com", "permission": "MANAGE"},
            {"principal": "data-engineers", "permission": "WRITE"},
            {"principal": "users", "permission": "READ"},
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// azure

fn azure_policy() -> Value {
    json!({"azure": {
        "noPublicIp": true,
        "publicNetworkAccess": "Disabled",
        "vnetInjection": true,
        "infrastructureEncryption": false,
        "customerManagedKeys": {"managedServices": true, "managedDisks": true},
        "diagnosticLogs": {
            "name": "brickwarden",
            "logAnalyticsWorkspaceId": LOG_ANALYTICS,
            "categories": ["accounts", "secrets", "jobs"],
        },
    }})
}

const AZURE_IDS: [&str; 6] = [
    "azure/noPublicIp",
    "azure/publicNetworkAccess",
    "azure/vnetInjection",
    "azure/infrastructureEncryption",
    "azure/customerManagedKeys",
    "azure/diagnosticLogs",
];

#[tokio::test]
async fn azure_audit_enforce_then_compliant() {
    let h = start().await;
    let (target, connections) = h.connect(h.spec("ws-1", Auth::EntraSecret, true, azure_policy()));
    assert!(connections.arm.is_some());

    h.clear_journal().await;
    let report = engine::reconcile(&audit(target.clone()), &connections, Apply::Enforce).await;
    assert_eq!(ids_with_prefix(&report, "azure/"), AZURE_IDS);
    let states: Vec<_> = AZURE_IDS.iter().map(|id| state_of(&report, id)).collect();
    assert_eq!(
        states,
        [
            ControlState::Drifted,
            ControlState::Drifted,
            ControlState::RequiresRecreate,
            ControlState::Compliant,
            ControlState::Drifted,
            ControlState::Drifted,
        ]
    );
    assert!(
        control(&report, "azure/vnetInjection")
            .message
            .as_deref()
            .unwrap()
            .contains("recreate")
    );
    assert_eq!(
        control(&report, "azure/customerManagedKeys")
            .message
            .as_deref(),
        Some("configure the key in Azure; brickwarden verifies only")
    );
    assert!(
        control(&report, "azure/noPublicIp")
            .references
            .contains(&"SAT NS-6".to_string())
    );
    assert_eq!(
        report.planned_actions,
        [
            "PUT diagnostic setting brickwarden",
            "PUT ARM workspace enableNoPublicIp=true publicNetworkAccess=Disabled",
        ]
    );
    assert_eq!(h.writes().await, Vec::<Entry>::new());

    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let states: Vec<_> = AZURE_IDS.iter().map(|id| state_of(&report, id)).collect();
    assert_eq!(
        states,
        [
            ControlState::Remediated,
            ControlState::Remediated,
            ControlState::RequiresRecreate,
            ControlState::Compliant,
            ControlState::Drifted,
            ControlState::Remediated,
        ]
    );
    assert!(
        report.planned_actions.is_empty(),
        "{:?}",
        report.planned_actions
    );
    let writes = h.write_calls().await;
    let resource = h.emulator.arm_resource_id("ws-1");
    assert_eq!(
        writes,
        [
            (
                "PUT".to_string(),
                format!("{resource}/providers/Microsoft.Insights/diagnosticSettings/brickwarden"),
                200
            ),
            ("PUT".to_string(), resource.clone(), 200),
        ],
        "one PUT of the diagnostic setting, one PUT of the whole resource, no PATCH"
    );
    let state = h.state("ws-1").await;
    let props = &state["arm"]["properties"];
    assert_eq!(props["parameters"]["enableNoPublicIp"]["value"], true);
    assert_eq!(props["publicNetworkAccess"], "Disabled");
    // Nothing else of the resource changed.
    assert_eq!(state["arm"]["tags"], json!({"environment": "emulator"}));
    assert!(props["parameters"].get("customVirtualNetworkId").is_none());
    let diagnostic = &state["diagnostic_settings"][0]["properties"];
    assert_eq!(diagnostic["workspaceId"], LOG_ANALYTICS);
    assert_eq!(diagnostic["logs"].as_array().unwrap().len(), 3);

    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    for id in [
        "azure/noPublicIp",
        "azure/publicNetworkAccess",
        "azure/diagnosticLogs",
    ] {
        assert_eq!(state_of(&report, id), ControlState::Compliant, "{id}");
    }
    assert_eq!(
        state_of(&report, "azure/vnetInjection"),
        ControlState::RequiresRecreate
    );
    assert!(report.planned_actions.is_empty());
    assert_eq!(h.writes().await, Vec::<Entry>::new());
}

#[tokio::test]
async fn ip_access_lists_do_not_apply_behind_private_link() {
    let h = start().await;
    h.patch_state(
        "ws-1",
        json!({"arm": {"properties": {"publicNetworkAccess": "Disabled"}}}),
    )
    .await;
    let policy = json!({
        "azure": {"publicNetworkAccess": "Disabled"},
        "ipAccessLists": {
            "enabled": true,
            "management": "Exclusive",
            "lists": [{"label": "corp", "type": "ALLOW", "addresses": ["203.0.113.0/24"]}],
        },
    });
    let (target, connections) = h.connect(h.spec("ws-1", Auth::EntraSecret, true, policy));
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let ip = ids_with_prefix(&report, "ipAccessLists/");
    assert_eq!(
        ip,
        [
            "ipAccessLists/enabled",
            "ipAccessLists/list/corp",
            "ipAccessLists/undeclared"
        ]
    );
    for id in ip {
        let c = control(&report, id);
        assert_eq!(c.state, ControlState::NotApplicable, "{id}");
        assert!(
            c.message.as_deref().unwrap().contains("Private Link"),
            "{id}"
        );
    }
    assert_eq!(
        state_of(&report, "azure/publicNetworkAccess"),
        ControlState::Compliant
    );
    assert!(report.planned_actions.is_empty());
    assert_eq!(h.writes().await, Vec::<Entry>::new());
}

#[tokio::test]
async fn customer_managed_keys_do_not_apply_to_standard_tier() {
    let h = start().await;
    let policy =
        json!({"azure": {"customerManagedKeys": {"managedServices": true, "managedDisks": true}}});
    // ws-2 is the emulator's Standard-tier workspace.
    let (target, connections) = h.connect(h.spec("ws-2", Auth::EntraSecret, true, policy));
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let cmk = control(&report, "azure/customerManagedKeys");
    assert_eq!(cmk.state, ControlState::NotApplicable);
    assert!(
        cmk.message.as_deref().unwrap().contains("standard"),
        "{cmk:?}"
    );
    assert!(report.planned_actions.is_empty());
    assert_eq!(h.writes().await, Vec::<Entry>::new());
}

#[tokio::test]
async fn azure_controls_need_an_entra_identity() {
    let h = start().await;
    // A PAT cannot call ARM, even with a resource id.
    let (target, connections) = h.connect(h.spec("ws-1", Auth::Pat, true, azure_policy()));
    assert!(connections.arm.is_none());
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    for id in AZURE_IDS {
        let c = control(&report, id);
        assert_eq!(c.state, ControlState::NotApplicable, "{id}");
        assert!(
            c.message.as_deref().unwrap().contains("Entra ID identity"),
            "{id}: {c:?}"
        );
    }
    assert!(report.planned_actions.is_empty());
    assert!(h.journal().await.is_empty(), "nothing is read from ARM");

    // Without a resource id neither.
    let mut connections = connections;
    connections.azure_resource_id = None;
    let report = engine::reconcile(&target, &connections, Apply::Never).await;
    let c = control(&report, "azure/noPublicIp");
    assert_eq!(c.state, ControlState::NotApplicable);
    assert!(c.message.as_deref().unwrap().contains("azureResourceId"));
}

/// Without Private Link, closing public network access would cut brickwarden off: that change
/// is blocked, and the No Public IP fix still goes through on its own.
#[tokio::test]
async fn disabling_public_access_needs_private_network() {
    let h = start().await;
    let (mut target, connections) =
        h.connect(h.spec("ws-1", Auth::EntraSecret, true, azure_policy()));
    target.private_network = false;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(
        state_of(&report, "azure/noPublicIp"),
        ControlState::Remediated
    );
    let access = control(&report, "azure/publicNetworkAccess");
    assert_eq!(access.state, ControlState::Failed, "{access:?}");
    assert_eq!(
        access.reason.map(|r| r.as_str()),
        Some("RemediationBlocked")
    );
    assert!(
        access.message.as_deref().unwrap().contains("Private Link"),
        "{access:?}"
    );
    let state = h.state("ws-1").await;
    let props = &state["arm"]["properties"];
    assert_eq!(props["parameters"]["enableNoPublicIp"]["value"], true);
    assert_eq!(
        props["publicNetworkAccess"], "Enabled",
        "public access stays open"
    );
}

/// On a workspace with an ARM resource the compliance security profile, enhanced security
/// monitoring and automatic cluster update are ARM properties: one pass that also closes public
/// network access makes one GET and one PUT of the workspace resource, waits for its operation,
/// and writes nothing to the settings API.
#[tokio::test]
async fn security_profile_goes_through_arm_with_the_network_change_in_one_put() {
    let h = start().await;
    let policy = json!({
        "settings": {
            "complianceSecurityProfile": true,
            "enhancedSecurityMonitoring": true,
            "automaticClusterUpdate": true,
        },
        "azure": {"publicNetworkAccess": "Disabled"},
    });
    let (target, connections) = h.connect(h.spec("ws-1", Auth::EntraSecret, true, policy));
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    for id in [
        "settings/complianceSecurityProfile",
        "settings/enhancedSecurityMonitoring",
        "settings/automaticClusterUpdate",
        "azure/publicNetworkAccess",
    ] {
        assert_eq!(
            state_of(&report, id),
            ControlState::Remediated,
            "{id}: {report:#?}"
        );
    }
    let writes = h.writes().await;
    let arm_puts: Vec<_> = writes
        .iter()
        .filter(|(ws, m, p, _)| ws == "arm" && m == "PUT" && p.contains("/workspaces/"))
        .collect();
    assert_eq!(arm_puts.len(), 1, "one PUT of the workspace: {writes:?}");
    assert!(
        writes
            .iter()
            .all(|(_, _, p, _)| !p.contains("/api/2.0/settings")),
        "nothing goes to the settings API: {writes:?}"
    );
    let resource = h.state("ws-1").await;
    let compliance = &resource["arm"]["properties"]["enhancedSecurityCompliance"];
    assert_eq!(
        compliance["complianceSecurityProfile"]["value"], "Enabled",
        "{resource:#}"
    );
    assert_eq!(compliance["enhancedSecurityMonitoring"]["value"], "Enabled");
    assert_eq!(compliance["automaticClusterUpdate"]["value"], "Enabled");

    // The next pass reads and writes nothing more than the one ARM read.
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert!(!report.drifted(), "{report:#?}");
    assert!(h.writes().await.is_empty());
}

/// The compliance security profile is never turned off through ARM either: declared off while
/// on, it is reported `Irreversible`, and the other properties of the pass still change.
#[tokio::test]
async fn the_security_profile_is_never_turned_off_through_arm() {
    let h = start().await;
    let on = json!({"settings": {"complianceSecurityProfile": true}});
    let (target, connections) = h.connect(h.spec("ws-1", Auth::EntraSecret, true, on));
    engine::reconcile(&target, &connections, Apply::Enforce).await;
    let off = json!({
        "settings": {"complianceSecurityProfile": false},
        "azure": {"noPublicIp": true},
    });
    let (target, connections) = h.connect(h.spec("ws-1", Auth::EntraSecret, true, off));
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let csp = control(&report, "settings/complianceSecurityProfile");
    assert_eq!(csp.state, ControlState::Failed);
    assert_eq!(csp.reason.map(|r| r.as_str()), Some("Irreversible"));
    assert_eq!(
        state_of(&report, "azure/noPublicIp"),
        ControlState::Remediated
    );
    let resource = h.state("ws-1").await;
    assert_eq!(
        resource["arm"]["properties"]["enhancedSecurityCompliance"]["complianceSecurityProfile"]["value"],
        "Enabled"
    );
}

/// A Standard-tier workspace refuses the Premium-only APIs: those controls are NotApplicable
/// with the tier as the reason, each API is asked once (no retry), and nothing is written.
#[tokio::test]
async fn premium_only_controls_do_not_apply_to_a_standard_workspace() {
    let h = start().await;
    let policy = json!({
        "ipAccessLists": {"management": "Exclusive", "lists": [{"label": "vpn", "type": "ALLOW", "addresses": ["127.0.0.1"]}]},
        "tokens": {"permissions": {"management": "Exclusive", "canUse": [{"group": "data-engineers"}]}},
        "settings": {"restrictWorkspaceAdmins": true},
        "secretScopes": [{"scope": "etl", "acls": [{"principal": "data-engineers", "permission": "READ"}]}],
        "workspaceConf": {"exportNotebook": false},
    });
    // ws-2 is the emulator's Standard-tier workspace.
    let (target, connections) = h.connect(h.spec("ws-2", Auth::Pat, false, policy));
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    for id in [
        "ipAccessLists/list/vpn",
        "ipAccessLists/undeclared",
        "tokens/permissions",
        "settings/restrictWorkspaceAdmins",
    ] {
        let c = control(&report, id);
        assert_eq!(c.state, ControlState::NotApplicable, "{id}: {c:?}");
        assert!(
            c.message.as_deref().unwrap().contains("Premium"),
            "{id}: {c:?}"
        );
    }
    // workspace-conf is on every tier: it is fixed as usual.
    assert_eq!(
        state_of(&report, "workspaceConf/enableExportNotebook"),
        ControlState::Remediated
    );
    assert_eq!(report.summary().failed, 0, "{report:#?}");
    let refused: Vec<_> = h
        .journal()
        .await
        .into_iter()
        .filter(|(_, _, _, status)| *status == 403)
        .map(|(_, m, p, _)| format!("{m} {p}"))
        .collect();
    let mut unique = refused.clone();
    unique.dedup();
    assert_eq!(
        refused, unique,
        "a tier refusal is not retried: {refused:?}"
    );
    assert!(
        h.writes()
            .await
            .iter()
            .all(|(_, _, p, _)| p.starts_with("/api/2.0/workspace-conf")),
        "only workspace-conf is written"
    );
}

/// A workspace-conf key the service does not know (or retired) fails only its own control:
/// the other keys are read again without it and judged as usual.
#[tokio::test]
async fn a_retired_conf_key_fails_only_its_control() {
    let h = start().await;
    let policy = json!({"workspaceConf": {
        "exportNotebook": false,
        "webTerminal": false,
        "extra": {"enableRetiredFeature": "false"},
    }});
    let (target, connections) = h.connect(h.spec("ws-1", Auth::Pat, false, policy));
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let retired = control(&report, "workspaceConf/enableRetiredFeature");
    assert_eq!(retired.state, ControlState::Failed);
    assert!(
        retired
            .message
            .as_deref()
            .unwrap()
            .contains("enableRetiredFeature"),
        "{retired:?}"
    );
    for id in [
        "workspaceConf/enableExportNotebook",
        "workspaceConf/enableWebTerminal",
    ] {
        assert_eq!(state_of(&report, id), ControlState::Remediated, "{id}");
    }
    let conf_reads: Vec<u16> = h
        .journal()
        .await
        .into_iter()
        .filter(|(_, m, p, _)| m == "GET" && p.starts_with("/api/2.0/workspace-conf"))
        .map(|(_, _, _, status)| status)
        .collect();
    // The batched read, the read without the retired key, and the re-read after the PATCH.
    assert_eq!(conf_reads, [400, 200, 400, 200], "{conf_reads:?}");
}

/// Outside every maintenance window, Enforce plans and writes nothing: drifted controls say so
/// and when the next window opens. Inside one it remediates as usual.
#[tokio::test]
async fn enforce_writes_only_inside_a_maintenance_window() {
    let h = start().await;
    let with_window = |schedule: &str, duration: &str| {
        let mut spec = h.spec(
            "ws-1",
            Auth::Pat,
            false,
            json!({"workspaceConf": {"exportNotebook": false}}),
        );
        spec["maintenanceWindows"] =
            json!([{"schedule": schedule, "duration": duration, "timeZone": "Europe/Berlin"}]);
        h.connect(spec)
    };
    // New Year's midnight for one minute: closed now (unless this runs in that minute).
    let (target, connections) = with_window("0 0 1 1 *", "1m");
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    let export = control(&report, "workspaceConf/enableExportNotebook");
    assert_eq!(export.state, ControlState::Drifted);
    assert_eq!(
        export.reason.map(|r| r.as_str()),
        Some("OutsideMaintenanceWindow")
    );
    let message = export.message.as_deref().unwrap();
    assert!(
        message.contains("would PATCH workspace-conf") && message.contains("next window opens"),
        "{message}"
    );
    assert!(report.window_opens.is_some());
    assert_eq!(h.writes().await, Vec::<Entry>::new());

    // Every minute, for two: always open.
    let (target, connections) = with_window("* * * * *", "2m");
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(
        state_of(&report, "workspaceConf/enableExportNotebook"),
        ControlState::Remediated
    );
    assert!(report.window_opens.is_none());
}

/// A settings PATCH answered 404 `NOT_FOUND` (what the service answers for a setting never
/// written when the etag is missing or unknown; the Terraform provider re-reads then) is read
/// again and retried once, like a stale etag.
#[tokio::test]
async fn a_settings_not_found_answer_is_reread_and_retried_once() {
    let h = start().await;
    let (target, connections) = h.connect(h.spec(
        "ws-1",
        Auth::Pat,
        false,
        json!({"settings": {"disableLegacyDbfs": true}}),
    ));
    h.admin
        .fault(json!({
            "workspace": "ws-1",
            "path_prefix": "/api/2.0/settings",
            "method": "PATCH",
            "status": 404,
            "count": 1,
            "content_type": "application/json",
            "body": "{\"error_code\":\"NOT_FOUND\",\"message\":\"Setting disable_legacy_dbfs does not exist\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"RESOURCE_DOES_NOT_EXIST\",\"metadata\":{\"etag\":\"etag-from-404\"}}]}",
        }))
        .await;
    h.clear_journal().await;
    let report = engine::reconcile(&target, &connections, Apply::Enforce).await;
    assert_eq!(
        state_of(&report, "settings/disableLegacyDbfs"),
        ControlState::Remediated,
        "{report:#?}"
    );
    let calls: Vec<_> = h
        .journal()
        .await
        .into_iter()
        .filter(|(_, _, p, _)| p.starts_with("/api/2.0/settings"))
        .map(|(_, m, _, s)| (m, s))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET".to_string(), 200),
            ("PATCH".to_string(), 404),
            ("GET".to_string(), 200),
            ("PATCH".to_string(), 200),
            ("GET".to_string(), 200)
        ]
    );
}
