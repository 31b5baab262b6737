//! Workspace-conf controls: `/api/2.0/workspace-conf` keys, compared as the API's strings.
//!
//! Several families keep switches in workspace-conf (`enableIpAccessLists`,
//! `enableTokensConfig`, `maxTokenLifetimeDays`, the `workspaceConf` keys). Each declares them as
//! [`ConfControl`]s, and this family reads them all in one `?keys=` call and writes them in one
//! PATCH per step (turning IP access lists on is ordered around the list changes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::family::{Effect, Fact, Family, Finding, Pass, Planned, Step};
use super::result::ReadError;
use super::{Workspace, WorkspaceApis, ip_access_lists, tokens};
use crate::api::{ControlState, Mode, WorkspaceConfPolicy};
use crate::clients::ApiError;
use crate::clients::databricks::ConfRead;

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

/// A workspace-conf key that a control manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfControl {
    pub id: String,
    pub key: String,
    pub desired: String,
    /// The value Databricks applies when the key was never set, if that counts as set.
    pub unset_means: Option<&'static str>,
    pub references: &'static [&'static str],
    pub mode: Mode,
    /// Which step of the plan the change belongs to (enabling IP access lists is ordered).
    pub step: Step,
}

/// The conf controls of `spec.policy.workspaceConf`.
pub fn conf_controls(policy: &WorkspaceConfPolicy, pass: &Pass) -> Vec<ConfControl> {
    let mode = pass.mode_of(policy.mode);
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

/// A workspace-conf value as the API returns it; `None`: never set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfValue(pub Option<String>);

impl fmt::Display for ConfValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or(UNSET))
    }
}

/// Every conf key of the policy, and the keys read only for other families' rules.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredConf {
    pub controls: Vec<ConfControl>,
    /// Read, never written: `enableIpAccessLists` whenever the lists are managed, so the lockout
    /// guard knows whether they are enforced even when the policy does not manage that switch.
    pub watched: Vec<&'static str>,
}

impl DesiredConf {
    /// The keys of one `?keys=` read, sorted and unique.
    pub fn keys(&self) -> Vec<&str> {
        let keys: BTreeSet<&str> = self
            .controls
            .iter()
            .map(|c| c.key.as_str())
            .chain(self.watched.iter().copied())
            .collect();
        keys.into_iter().collect()
    }
}

/// One key of a workspace-conf PATCH and the control it fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfWrite {
    pub control: String,
    pub key: String,
    pub value: String,
}

/// The workspace-conf family.
pub struct WorkspaceConf;

impl Family for WorkspaceConf {
    type Policy = Workspace;
    type Apis = WorkspaceApis;
    type Desired = DesiredConf;
    type Observed = Result<ConfRead, ReadError>;
    type Control = ConfControl;
    type Value = ConfValue;
    /// One PATCH carrying every key of a step.
    type Change = Vec<ConfWrite>;

    fn desired(workspace: &Workspace, pass: &Pass) -> Option<DesiredConf> {
        let policy = &workspace.policy;
        let mut controls = Vec::new();
        if let Some(p) = &policy.ip_access_lists {
            controls.extend(ip_access_lists::conf_control(p, pass));
        }
        if let Some(p) = &policy.tokens {
            controls.extend(tokens::conf_controls(p, pass));
        }
        if let Some(p) = &policy.workspace_conf {
            controls.extend(conf_controls(p, pass));
        }
        let watched = policy
            .ip_access_lists
            .as_ref()
            .filter(|p| ip_access_lists::reads_lists(p))
            .map(|_| ip_access_lists::ENABLE_KEY)
            .into_iter()
            .collect::<Vec<_>>();
        (!controls.is_empty() || !watched.is_empty()).then_some(DesiredConf { controls, watched })
    }

    async fn observe(desired: &DesiredConf, apis: &WorkspaceApis) -> Result<ConfRead, ReadError> {
        Ok(apis.databricks.read_conf(&desired.keys()).await?)
    }

    fn evaluate(
        desired: &DesiredConf,
        observed: &Self::Observed,
        _pass: &Pass,
    ) -> Vec<Finding<ConfControl, ConfValue>> {
        desired
            .controls
            .iter()
            .map(|c| {
                let want = ConfValue(Some(c.desired.clone()));
                let finding = match observed {
                    Err(error) => Finding::read_failed(c.clone(), error),
                    Ok(read) if read.refused.contains_key(&c.key) => Finding::read_failed(
                        c.clone(),
                        &ReadError::new(
                            Some(400),
                            None,
                            format!(
                                "workspace-conf refused key {} (unknown or retired): {}",
                                c.key, read.refused[&c.key]
                            ),
                        ),
                    ),
                    // The key is missing from the answer: the API did not accept it.
                    Ok(read) => match read.values.get(&c.key) {
                        None => Finding {
                            state: ControlState::Failed,
                            ..Finding::compare(c.clone(), want, ConfValue(None))
                        }
                        .with_note(format!("workspace-conf did not return key {}", c.key)),
                        Some(value) => {
                            let effective = value.as_deref().or(c.unset_means);
                            let compliant = effective == Some(c.desired.as_str());
                            Finding::judged(c.clone(), compliant, want, ConfValue(value.clone()))
                        }
                    },
                };
                finding.with_references(c.references)
            })
            .collect()
    }

    /// One PATCH per step and mode for the drifted keys.
    fn plan(
        _desired: &DesiredConf,
        _observed: &Self::Observed,
        drifted: &[&Finding<ConfControl, ConfValue>],
        _pass: &Pass,
    ) -> Vec<Planned<ConfControl, Vec<ConfWrite>>> {
        let mut by_step: BTreeMap<(Step, Mode), Planned<ConfControl, Vec<ConfWrite>>> =
            BTreeMap::new();
        for finding in drifted {
            let c = &finding.control;
            let planned = by_step.entry((c.step, c.mode)).or_insert_with(|| Planned {
                controls: Vec::new(),
                step: c.step,
                mode: c.mode,
                change: Vec::new(),
            });
            planned.controls.push(c.clone());
            planned.change.push(ConfWrite {
                control: c.id.clone(),
                key: c.key.clone(),
                value: c.desired.clone(),
            });
        }
        by_step.into_values().collect()
    }

    async fn execute(change: &Vec<ConfWrite>, apis: &WorkspaceApis) -> Result<(), ApiError> {
        let values: BTreeMap<String, String> = change
            .iter()
            .map(|w| (w.key.clone(), w.value.clone()))
            .collect();
        apis.databricks.set_conf(&values).await
    }

    fn control_id(control: &ConfControl) -> String {
        control.id.clone()
    }

    fn describe(change: &Vec<ConfWrite>) -> String {
        format!(
            "PATCH workspace-conf {}",
            change
                .iter()
                .map(|w| format!("{}={}", w.key, w.value))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }

    /// For a batched PATCH only that control's key, so a status message names what concerns it.
    fn describe_for(change: &Vec<ConfWrite>, control: &ConfControl) -> String {
        if change.len() <= 1 {
            return Self::describe(change);
        }
        let own: Vec<String> = change
            .iter()
            .filter(|w| w.control == control.id)
            .map(|w| format!("{}={}", w.key, w.value))
            .collect();
        format!(
            "PATCH workspace-conf {} (with {} other keys)",
            own.join(" "),
            change.len() - own.len()
        )
    }

    fn effects(change: &Vec<ConfWrite>) -> Vec<Effect> {
        change
            .iter()
            .filter(|w| w.key == ip_access_lists::ENABLE_KEY)
            .map(|w| Effect::EnablesIpAccessLists(w.value == "true"))
            .collect()
    }

    fn facts(_desired: &DesiredConf, observed: &Self::Observed) -> Vec<Fact> {
        match observed {
            Ok(read) => read
                .values
                .get(ip_access_lists::ENABLE_KEY)
                .map(|v| Fact::IpAccessListsEnabled(v.as_deref() == Some("true")))
                .into_iter()
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Policy;
    use crate::controls::Workspace;
    use crate::controls::testing::{pass, render};

    fn policy() -> WorkspaceConfPolicy {
        WorkspaceConfPolicy {
            export_notebook: Some(false),
            job_view_acls: Some(true),
            max_user_inactive_days: Some(90),
            extra: Some([("enableWorkspaceFilesystem".to_string(), "true".to_string())].into()),
            ..Default::default()
        }
    }

    fn desired(mode: Mode) -> DesiredConf {
        let policy = Policy {
            workspace_conf: Some(policy()),
            ..Default::default()
        };
        WorkspaceConf::desired(&Workspace::new(policy.clone()), &pass(mode)).expect("conf controls")
    }

    fn observed(pairs: &[(&str, Option<&str>)]) -> <WorkspaceConf as Family>::Observed {
        Ok(ConfRead {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            refused: BTreeMap::new(),
        })
    }

    fn results(
        desired: &DesiredConf,
        observed: &<WorkspaceConf as Family>::Observed,
    ) -> Vec<crate::controls::ControlResult> {
        render::<WorkspaceConf>(&WorkspaceConf::evaluate(
            desired,
            observed,
            &pass(Mode::Enforce),
        ))
    }

    #[test]
    fn only_declared_keys_become_controls() {
        let desired = desired(Mode::Enforce);
        let ids: Vec<_> = desired.controls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "workspaceConf/enableExportNotebook",
                "workspaceConf/maxUserInactiveDays",
                "workspaceConf/enableJobViewAcls",
                "workspaceConf/enableWorkspaceFilesystem"
            ]
        );
        assert!(desired.watched.is_empty());
    }

    #[test]
    fn managed_lists_watch_their_enablement() {
        let policy = Policy {
            ip_access_lists: Some(crate::api::IpAccessListsPolicy {
                lists: Some(Vec::new()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let desired = WorkspaceConf::desired(&Workspace::new(policy.clone()), &pass(Mode::Enforce))
            .expect("watched");
        assert!(desired.controls.is_empty());
        assert_eq!(desired.keys(), [ip_access_lists::ENABLE_KEY]);
        let facts = WorkspaceConf::facts(
            &desired,
            &observed(&[(ip_access_lists::ENABLE_KEY, Some("true"))]),
        );
        assert_eq!(facts, [Fact::IpAccessListsEnabled(true)]);
    }

    #[test]
    fn evaluates_strings_and_unset_semantics() {
        let desired = desired(Mode::Enforce);
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
            let results = results(&desired, &read);
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
        let results = results(
            &desired(Mode::Enforce),
            &observed(&[("enableJobViewAcls", None)]),
        );
        let acl = results
            .iter()
            .find(|r| r.id == "workspaceConf/enableJobViewAcls")
            .unwrap();
        assert_eq!(acl.state, ControlState::Compliant);
        assert_eq!(acl.observed.as_deref(), Some(UNSET));
        assert_eq!(acl.references, ["SAT INFO-8"]);
        // A key the API left out of its answer is a failure, not drift.
        let export = results
            .iter()
            .find(|r| r.id == "workspaceConf/enableExportNotebook")
            .unwrap();
        assert_eq!(export.state, ControlState::Failed);
    }

    #[test]
    fn a_refused_key_fails_only_its_control() {
        let mut read = observed(&[
            ("enableExportNotebook", Some("false")),
            ("maxUserInactiveDays", Some("90")),
            ("enableJobViewAcls", Some("true")),
        ]);
        if let Ok(read) = &mut read {
            read.refused.insert(
                "enableWorkspaceFilesystem".into(),
                r#"HTTP 400: Invalid keys: ["enableWorkspaceFilesystem"]"#.into(),
            );
        }
        let results = results(&desired(Mode::Enforce), &read);
        let failed: Vec<_> = results
            .iter()
            .filter(|r| r.state == ControlState::Failed)
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, "workspaceConf/enableWorkspaceFilesystem");
        assert!(
            failed[0]
                .message
                .as_deref()
                .unwrap()
                .contains("refused key enableWorkspaceFilesystem")
        );
        assert!(
            results
                .iter()
                .filter(|r| r.state != ControlState::Failed)
                .all(|r| r.state == ControlState::Compliant)
        );
    }

    #[test]
    fn read_failure_fails_every_conf_control() {
        let error = ReadError::new(Some(403), Some("PERMISSION_DENIED"), "no");
        let results = results(&desired(Mode::Enforce), &Err(error));
        assert!(results.iter().all(|r| r.state == ControlState::Failed));
        assert!(results.iter().all(|r| r.error.is_some()));
    }

    #[test]
    fn plans_one_patch_with_all_drifted_keys() {
        let desired = desired(Mode::Audit);
        let read = observed(&[
            ("enableExportNotebook", Some("true")),
            ("maxUserInactiveDays", Some("90")),
            ("enableJobViewAcls", Some("false")),
            ("enableWorkspaceFilesystem", Some("true")),
        ]);
        let findings = WorkspaceConf::evaluate(&desired, &read, &pass(Mode::Audit));
        let drifted: Vec<_> = findings.iter().filter(|f| f.is_drifted()).collect();
        let actions = WorkspaceConf::plan(&desired, &read, &drifted, &pass(Mode::Audit));
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].mode, Mode::Audit);
        assert_eq!(
            WorkspaceConf::describe(&actions[0].change),
            "PATCH workspace-conf enableExportNotebook=false enableJobViewAcls=true"
        );
        assert_eq!(
            WorkspaceConf::describe_for(&actions[0].change, &actions[0].controls[1]),
            "PATCH workspace-conf enableJobViewAcls=true (with 1 other keys)"
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
