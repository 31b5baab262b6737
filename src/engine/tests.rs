//! The pure steps of the pipeline that span families: guard and conclude.

use super::*;
use crate::api::Management;
use crate::clients::databricks::ListType;
use crate::controls::ControlResult;

fn target(policy: serde_json::Value, private_network: bool) -> Target {
    Target {
        policy: serde_json::from_value(policy).unwrap(),
        mode: Mode::Enforce,
        azure_resource_id: Some(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Databricks/workspaces/w".into(),
        ),
        protected_addresses: Vec::new(),
        private_network,
    }
}

fn action(id: &str, mode: Mode, change: Change) -> Action {
    Action {
        controls: vec![id.into()],
        step: crate::controls::Step::Configure,
        mode,
        change,
    }
}

fn close_public_access() -> Change {
    Change::PutArmWorkspace {
        resource_id: "r".into(),
        enable_no_public_ip: None,
        public_network_access: Some("Disabled".into()),
    }
}

#[test]
fn guard_blocks_closing_public_access_without_private_network() {
    let actions = || {
        vec![action(
            "azure/publicNetworkAccess",
            Mode::Enforce,
            close_public_access(),
        )]
    };
    let guarded = guard(
        &target(serde_json::json!({}), false),
        &Observed::default(),
        actions(),
    );
    let blocked = guarded[0].blocked.as_ref().expect("blocked");
    assert_eq!(blocked.reason, "LockoutGuard");
    let guarded = guard(
        &target(serde_json::json!({}), true),
        &Observed::default(),
        actions(),
    );
    assert!(guarded[0].blocked.is_none());
}

#[test]
fn guard_never_deletes_under_additive_management() {
    let policy = serde_json::json!({"ipAccessLists": {"management": "Additive"}});
    let delete = action(
        "ipAccessLists/undeclared",
        Mode::Enforce,
        Change::DeleteIpAccessList {
            list_id: "1".into(),
            label: "legacy".into(),
        },
    );
    let guarded = guard(&target(policy, true), &Observed::default(), vec![delete]);
    assert_eq!(
        guarded[0].blocked.as_ref().unwrap().reason,
        "AdditiveManagement"
    );
    let exclusive = target(
        serde_json::json!({"ipAccessLists": {"management": "Exclusive"}}),
        true,
    );
    assert_eq!(
        exclusive.policy.ip_access_lists.unwrap().management,
        Some(Management::Exclusive)
    );
}

fn drifted(id: &str) -> ControlResult {
    ControlResult::compare(id, "false", "true")
}

fn create_list() -> Change {
    Change::CreateIpAccessList {
        label: "vpn".into(),
        list_type: ListType::Allow,
        addresses: vec!["10.0.0.0/8".into()],
        enabled: true,
    }
}

#[test]
fn conclude_states_each_outcome() {
    let guarded = vec![
        Guarded {
            action: action("a", Mode::Enforce, create_list()),
            blocked: None,
        },
        Guarded {
            action: action("b", Mode::Enforce, create_list()),
            blocked: None,
        },
        Guarded {
            action: action("c", Mode::Audit, create_list()),
            blocked: None,
        },
        Guarded {
            action: action("d", Mode::Enforce, create_list()),
            blocked: None,
        },
    ];
    let executed = vec![
        Remediation {
            index: 0,
            controls: vec!["a".into()],
            description: "x".into(),
            outcome: Outcome::Applied,
        },
        Remediation {
            index: 1,
            controls: vec!["b".into()],
            description: "x".into(),
            outcome: Outcome::Failed("boom".into()),
        },
        Remediation {
            index: 3,
            controls: vec!["d".into()],
            description: "x".into(),
            outcome: Outcome::Blocked {
                reason: "LockoutGuard".into(),
                message: "no".into(),
            },
        },
    ];
    let before = vec![
        drifted("a"),
        drifted("b"),
        drifted("c"),
        drifted("d"),
        ControlResult::compare("e", "1", "1"),
    ];
    let after = vec![
        ControlResult::compare("a", "false", "false"),
        drifted("b"),
        drifted("d"),
    ];
    let (results, planned) = conclude(before, &after, &guarded, &executed);
    let states: Vec<_> = results
        .iter()
        .map(|r| (r.id.as_str(), r.state, r.reason.as_deref()))
        .collect();
    assert_eq!(
        states,
        [
            ("a", ControlState::Remediated, None),
            ("b", ControlState::Failed, Some("RemediationFailed")),
            ("c", ControlState::Drifted, Some("AuditMode")),
            ("d", ControlState::Failed, Some("RemediationBlocked")),
            ("e", ControlState::Compliant, None),
        ]
    );
    assert_eq!(
        planned.len(),
        3,
        "everything not applied stays planned: {planned:?}"
    );
    assert!(
        planned
            .iter()
            .any(|p| p.ends_with("(blocked: LockoutGuard)"))
    );
    assert!(planned.iter().any(|p| p.ends_with("(failed)")));
}

#[test]
fn resolve_prefers_the_workspace_over_its_baseline() {
    let baseline: Policy = serde_json::from_value(
        serde_json::json!({"workspaceConf": {"exportNotebook": false, "webTerminal": false}}),
    )
    .unwrap();
    let workspace: Policy =
        serde_json::from_value(serde_json::json!({"workspaceConf": {"webTerminal": true}}))
            .unwrap();
    let resolved = resolve(Some(&baseline), Some(&workspace));
    let conf = resolved.workspace_conf.unwrap();
    assert_eq!(
        (conf.export_notebook, conf.web_terminal),
        (Some(false), Some(true))
    );
    assert_eq!(resolve(None, None), Policy::default());
}
