//! Workspace-conf controls: `/api/2.0/workspace-conf` keys, compared as the API's strings.
//!
//! Every family's conf keys are evaluated and planned here, so one PATCH carries all the
//! configuration changes of a pass (except `enableIpAccessLists`, which the IP access list
//! family orders around its list changes).

use std::collections::BTreeMap;

use super::{Action, Change, ConfControl, ConfWrite, ControlResult, Read, Step, family_mode};
use crate::api::{Mode, WorkspaceConfPolicy};

/// One typed key of `spec.policy.workspaceConf`.
struct Key {
    key: &'static str,
    get: fn(&WorkspaceConfPolicy) -> Option<String>,
    /// What Databricks applies while the key was never set, when SAT counts unset as that value.
    unset_means: Option<&'static str>,
    references: &'static [&'static str],
}

macro_rules! bool_key {
    ($key:literal, $field:ident, $unset:expr, [$($reference:expr),*]) => {
        Key {
            key: $key,
            get: |p| p.$field.map(|v| v.to_string()),
            unset_means: $unset,
            references: &[$($reference),*],
        }
    };
}

const EXFILTRATION: &str = "best practices: admin console exfiltration settings";
const HEADERS: &str = "best practices: security headers";

/// The typed keys, in the order of DESIGN.md.
const KEYS: &[Key] = &[
    bool_key!(
        "enableExportNotebook",
        export_notebook,
        None,
        [EXFILTRATION, "SAT DP-6"]
    ),
    bool_key!(
        "enableResultsDownloading",
        results_downloading,
        None,
        [EXFILTRATION, "SAT DP-5"]
    ),
    bool_key!(
        "enableNotebookTableClipboard",
        notebook_table_clipboard,
        None,
        [EXFILTRATION, "SAT DP-7"]
    ),
    bool_key!("enableUploadDataUis", upload_data_uis, None, [EXFILTRATION]),
    bool_key!(
        "mlflowRunArtifactDownloadEnabled",
        mlflow_run_artifact_download,
        None,
        [EXFILTRATION]
    ),
    bool_key!("enableWebTerminal", web_terminal, None, [EXFILTRATION]),
    bool_key!(
        "enableDbfsFileBrowser",
        dbfs_file_browser,
        None,
        ["best practices: avoid storing production data in DBFS"]
    ),
    bool_key!(
        "enableVerboseAuditLogs",
        verbose_audit_logs,
        None,
        ["best practices: diagnostic log delivery", "SAT GOV-15"]
    ),
    bool_key!("enable-X-Frame-Options", x_frame_options, None, [HEADERS]),
    bool_key!(
        "enable-X-Content-Type-Options",
        x_content_type_options,
        None,
        [HEADERS]
    ),
    bool_key!("enable-X-XSS-Protection", x_xss_protection, None, [HEADERS]),
    Key {
        key: "maxUserInactiveDays",
        get: |p| p.max_user_inactive_days.map(|v| v.to_string()),
        unset_means: None,
        references: &["best practices: identity and access"],
    },
    bool_key!(
        "storeInteractiveNotebookResultsInCustomerAccount",
        store_results_in_customer_account,
        None,
        [EXFILTRATION, "SAT DP-8"]
    ),
    bool_key!(
        "enableFileStoreEndpoint",
        file_store_endpoint,
        None,
        [EXFILTRATION, "SAT DP-9"]
    ),
    bool_key!(
        "enableJobViewAcls",
        job_view_acls,
        Some("true"),
        ["SAT INFO-8"]
    ),
    bool_key!(
        "enforceClusterViewAcls",
        cluster_view_acls,
        Some("true"),
        ["SAT INFO-9"]
    ),
    bool_key!(
        "enforceWorkspaceViewAcls",
        workspace_view_acls,
        Some("true"),
        ["SAT INFO-10"]
    ),
    bool_key!(
        "enableProjectTypeInWorkspace",
        git_folders,
        Some("true"),
        ["SAT INFO-11"]
    ),
    bool_key!("enforceUserIsolation", user_isolation, None, ["SAT GOV-13"]),
    bool_key!(
        "enableDeprecatedGlobalInitScripts",
        legacy_global_init_scripts,
        Some("false"),
        ["SAT GOV-24"]
    ),
    bool_key!(
        "enableDeprecatedClusterNamedInitScripts",
        legacy_cluster_named_init_scripts,
        Some("false"),
        ["SAT GOV-26"]
    ),
];

/// The API keys of the typed fields, for documentation and tests.
pub fn typed_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|k| k.key)
}

/// The conf controls of `spec.policy.workspaceConf`.
pub fn conf_controls(policy: &WorkspaceConfPolicy, workspace_mode: Mode) -> Vec<ConfControl> {
    let mode = family_mode(workspace_mode, policy.mode);
    let typed = KEYS.iter().filter_map(|k| {
        (k.get)(policy).map(|desired| ConfControl {
            id: format!("workspaceConf/{}", k.key),
            key: k.key.to_string(),
            desired,
            unset_means: k.unset_means,
            references: k.references,
            mode,
            step: Step::Configure,
        })
    });
    let extra = policy
        .extra
        .iter()
        .flatten()
        .map(|(key, value)| ConfControl {
            id: format!("workspaceConf/{key}"),
            key: key.clone(),
            desired: value.clone(),
            unset_means: None,
            references: &[],
            mode,
            step: Step::Configure,
        });
    typed.chain(extra).collect()
}

/// The string shown for a key that was never set.
pub const UNSET: &str = "unset";

/// Evaluates conf controls against one `?keys=` read.
pub fn evaluate(
    controls: &[ConfControl],
    observed: &Read<BTreeMap<String, Option<String>>>,
) -> Vec<ControlResult> {
    controls
        .iter()
        .map(|c| {
            let result = match observed {
                None => unreachable!("conf keys are read whenever a conf control exists"),
                Some(Err(error)) => ControlResult::read_failed(&c.id, error),
                Some(Ok(values)) => match values.get(&c.key) {
                    // The key is missing from the answer: the API did not accept it.
                    None => ControlResult::with_state(
                        &c.id,
                        crate::api::ControlState::Failed,
                        &c.desired,
                        UNSET,
                    )
                    .with_message(format!("workspace-conf did not return key {}", c.key)),
                    Some(value) => {
                        let effective = value.as_deref().or(c.unset_means);
                        let mut result = ControlResult::compare(
                            &c.id,
                            &c.desired,
                            value.as_deref().unwrap_or(UNSET),
                        );
                        if effective == Some(c.desired.as_str()) {
                            result.state = crate::api::ControlState::Compliant;
                        }
                        result
                    }
                },
            };
            result.with_references(c.references)
        })
        .collect()
}

/// One PATCH per step for the drifted keys.
pub fn plan(controls: &[ConfControl], results: &[ControlResult]) -> Vec<Action> {
    let mut by_step: BTreeMap<(Step, Mode), (Vec<String>, Vec<ConfWrite>)> = BTreeMap::new();
    for control in controls {
        let drifted = results.iter().any(|r| r.id == control.id && r.is_drifted());
        if !drifted {
            continue;
        }
        let entry = by_step.entry((control.step, control.mode)).or_default();
        entry.0.push(control.id.clone());
        entry.1.push(ConfWrite {
            control: control.id.clone(),
            key: control.key.clone(),
            value: control.desired.clone(),
        });
    }
    by_step
        .into_iter()
        .map(|((step, mode), (ids, values))| Action {
            controls: ids,
            step,
            mode,
            change: Change::PatchConf(values),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ControlState;

    fn policy() -> WorkspaceConfPolicy {
        WorkspaceConfPolicy {
            export_notebook: Some(false),
            job_view_acls: Some(true),
            max_user_inactive_days: Some(90),
            extra: Some([("enableWorkspaceFilesystem".to_string(), "true".to_string())].into()),
            ..Default::default()
        }
    }

    fn observed(pairs: &[(&str, Option<&str>)]) -> Read<BTreeMap<String, Option<String>>> {
        Some(Ok(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()))
    }

    fn state_of(results: &[ControlResult], id: &str) -> ControlState {
        results.iter().find(|r| r.id == id).expect(id).state
    }

    #[test]
    fn only_declared_keys_become_controls() {
        let controls = conf_controls(&policy(), Mode::Enforce);
        let ids: Vec<_> = controls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "workspaceConf/enableExportNotebook",
                "workspaceConf/maxUserInactiveDays",
                "workspaceConf/enableJobViewAcls",
                "workspaceConf/enableWorkspaceFilesystem"
            ]
        );
    }

    #[test]
    fn evaluates_strings_and_unset_semantics() {
        let controls = conf_controls(&policy(), Mode::Enforce);
        let table = [
            // (exportNotebook, maxUserInactiveDays, jobViewAcls, fs) -> drifted ids
            (
                [Some("false"), Some("90"), Some("true"), Some("true")],
                vec![],
            ),
            (
                [Some("true"), Some("90"), None, Some("true")],
                vec!["workspaceConf/enableExportNotebook"],
            ),
            (
                [None, Some("30"), Some("false"), None],
                vec![
                    "workspaceConf/enableExportNotebook",
                    "workspaceConf/maxUserInactiveDays",
                    "workspaceConf/enableJobViewAcls",
                    "workspaceConf/enableWorkspaceFilesystem",
                ],
            ),
        ];
        for (values, drifted) in table {
            let read = observed(&[
                ("enableExportNotebook", values[0]),
                ("maxUserInactiveDays", values[1]),
                ("enableJobViewAcls", values[2]),
                ("enableWorkspaceFilesystem", values[3]),
            ]);
            let results = evaluate(&controls, &read);
            let got: Vec<_> = results
                .iter()
                .filter(|r| r.is_drifted())
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(got, drifted, "{values:?}");
        }
    }

    #[test]
    fn unset_is_shown_as_unset_even_when_it_counts_as_compliant() {
        let controls = conf_controls(&policy(), Mode::Enforce);
        let results = evaluate(&controls, &observed(&[("enableJobViewAcls", None)]));
        let acl = results
            .iter()
            .find(|r| r.id == "workspaceConf/enableJobViewAcls")
            .unwrap();
        assert_eq!(acl.state, ControlState::Compliant);
        assert_eq!(acl.observed.as_deref(), Some(UNSET));
        assert_eq!(acl.references, ["SAT INFO-8"]);
        // A key the API left out of its answer is a failure, not drift.
        assert_eq!(
            state_of(&results, "workspaceConf/enableExportNotebook"),
            ControlState::Failed
        );
    }

    #[test]
    fn read_failure_fails_every_conf_control() {
        let controls = conf_controls(&policy(), Mode::Enforce);
        let error = super::super::ReadError {
            status: Some(403),
            error_code: Some("PERMISSION_DENIED".into()),
            message: "no".into(),
        };
        let results = evaluate(&controls, &Some(Err(error)));
        assert!(results.iter().all(|r| r.state == ControlState::Failed));
    }

    #[test]
    fn plans_one_patch_with_all_drifted_keys() {
        let controls = conf_controls(&policy(), Mode::Audit);
        let read = observed(&[
            ("enableExportNotebook", Some("true")),
            ("maxUserInactiveDays", Some("90")),
            ("enableJobViewAcls", Some("false")),
            ("enableWorkspaceFilesystem", Some("true")),
        ]);
        let actions = plan(&controls, &evaluate(&controls, &read));
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].mode, Mode::Audit);
        assert_eq!(
            actions[0].describe(),
            "PATCH workspace-conf enableExportNotebook=false enableJobViewAcls=true"
        );
    }

    #[test]
    fn every_design_key_is_typed() {
        let keys: Vec<_> = typed_keys().collect();
        assert_eq!(keys.len(), 21);
        assert!(keys.contains(&"enable-X-XSS-Protection"));
        assert!(keys.contains(&"storeInteractiveNotebookResultsInCustomerAccount"));
    }
}
