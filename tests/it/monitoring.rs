//! `deploy/monitoring/`: the alert rules of the PrometheusRule pass `promtool check rules` and
//! their unit tests (`promtool test rules`), every alert has a severity, annotations, a runbook
//! section and firing and silent unit tests, the Grafana dashboard is well formed, and every
//! metric name that an alert, the dashboard or a PromQL block of `docs/runbook.md` uses is one
//! brickwarden exports.
//!
//! promtool reads plain rule files, so the PrometheusRule's `spec` is written to `rules.yaml` in a
//! temporary directory next to a copy of `deploy/monitoring/tests/` (whose files name
//! `../rules.yaml`). A failing run keeps the directory and prints its path.
//!
//! promtool is built from Go modules by `tests/controlplane/build.sh` (see
//! `tests/controlplane/README.md`); when it cannot be built these tests fail, they never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use brickwarden::api::ControlState;
use brickwarden::clients::{RequestLabels, RequestObserver};
use brickwarden::controls::{ControlResult, Reason};
use brickwarden::engine::{Outcome, Remediation, Report};
use brickwarden::metrics::Metrics;
use serde_json::Value;

use crate::support::{controlplane, text};

/// The alerts the monitoring contract promises, each with a runbook section.
const ALERTS: [&str; 7] = [
    "BrickwardenDriftPersisting",
    "BrickwardenRemediationFailing",
    "BrickwardenReconcileStale",
    "BrickwardenAuthenticationFailing",
    "BrickwardenApiThrottled",
    "BrickwardenNoLeader",
    "BrickwardenExceptionExpiringSoon",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

fn promtool() -> PathBuf {
    controlplane::binary("promtool")
        .unwrap_or_else(|e| panic!("promtool is needed and could not be built: {e:#}"))
}

/// Runs promtool in `dir` and fails the test with its whole output unless it succeeds; the
/// directory is then kept for a look.
fn run_promtool(dir: tempfile::TempDir, args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("promtool runs");
    let text = text(&out);
    if !out.status.success() {
        let kept = dir.keep();
        panic!(
            "promtool {} failed ({}) in {}:\n{text}",
            args.join(" "),
            out.status,
            kept.display()
        );
    }
    text
}

/// The promtool unit-test files under `deploy/monitoring/tests/`.
fn promtool_test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo("deploy/monitoring/tests"))
        .expect("deploy/monitoring/tests exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no promtool tests in deploy/monitoring/tests"
    );
    files
}

/// The PrometheusRule.
fn prometheus_rule() -> Value {
    yaml("deploy/monitoring/prometheusrule.yaml")
}

/// Every rule of the PrometheusRule, in order.
fn rules() -> Vec<Value> {
    let resource = prometheus_rule();
    let groups = resource["spec"]["groups"]
        .as_array()
        .expect("prometheusrule.yaml has spec.groups");
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("group has rules").clone())
        .collect()
}

/// A directory holding the PrometheusRule's `spec` as `rules.yaml` and a copy of the promtool
/// tests under `tests/`, as those expect.
fn extracted_rules() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("monitoring-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory");
    let spec = &prometheus_rule()["spec"];
    let text = serde_saphyr::to_string(spec).expect("spec serializes to YAML");
    fs::write(dir.path().join("rules.yaml"), text).expect("write rules.yaml");
    fs::create_dir(dir.path().join("tests")).expect("create tests/");
    for file in promtool_test_files() {
        let name = file.file_name().expect("file name");
        fs::copy(&file, dir.path().join("tests").join(name)).expect("copy promtool test");
    }
    dir
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {value}"))
}

#[test]
fn promtool_checks_the_rules() {
    let out = run_promtool(extracted_rules(), &["check", "rules", "rules.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_unit_tests_pass() {
    let dir = extracted_rules();
    let mut args = vec!["test".to_string(), "rules".to_string()];
    for file in promtool_test_files() {
        let name = file.file_name().expect("file name").to_string_lossy();
        args.push(format!("tests/{name}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_promtool(dir, &args);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn prometheus_rule_is_an_operator_resource() {
    let resource = prometheus_rule();
    assert_eq!(resource["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(resource["kind"], "PrometheusRule");
    assert!(resource["metadata"]["name"].is_string(), "{resource}");
    let spec = resource["spec"].as_object().expect("spec");
    assert_eq!(
        spec.keys().collect::<Vec<_>>(),
        ["groups"],
        "spec holds only groups"
    );
}

#[test]
fn every_alert_is_labelled_annotated_and_has_a_runbook_section() {
    let runbook = read("docs/runbook.md");
    let sections: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| github_anchor(h.trim()))
        .collect();
    let mut names = BTreeSet::new();
    for rule in rules() {
        let name = str_of(&rule, "alert");
        names.insert(name.to_string());
        let severity = str_of(&rule["labels"], "severity");
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity {severity}"
        );
        let annotations = &rule["annotations"];
        for key in ["summary", "description"] {
            let text = str_of(annotations, key);
            assert!(
                text.contains("{{ $labels."),
                "{name}: {key} should name what is affected: {text}"
            );
        }
        let url = str_of(annotations, "runbook_url");
        let anchor = url
            .split_once("docs/runbook.md#")
            .unwrap_or_else(|| panic!("{name}: runbook_url {url} is not a docs/runbook.md section"))
            .1;
        assert_eq!(anchor, name.to_lowercase(), "{name}: runbook_url {url}");
        assert!(
            sections.contains(anchor),
            "{name}: docs/runbook.md has no `## {name}` section"
        );
    }
    let expected: BTreeSet<String> = ALERTS.iter().map(|a| a.to_string()).collect();
    assert_eq!(names, expected);
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, other punctuation dropped.
fn github_anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_is_unit_tested_firing_and_not_firing() {
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for path in promtool_test_files() {
        let text = fs::read_to_string(&path).expect("read promtool test");
        let file: Value = serde_saphyr::from_str(&text).expect("promtool test is YAML");
        for test in file["tests"].as_array().expect("tests") {
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                let name = str_of(case, "alertname").to_string();
                let expected = case["exp_alerts"].as_array().map_or(0, Vec::len);
                if expected == 0 {
                    silent.insert(name);
                } else {
                    firing.insert(name);
                }
            }
        }
    }
    for alert in ALERTS {
        assert!(
            firing.contains(alert),
            "no promtool case where {alert} fires"
        );
        assert!(
            silent.contains(alert),
            "no promtool case where {alert} stays silent"
        );
    }
}

/// The metric names of a real exposition, with a sample in every family.
///
/// This drives [`Metrics`] through every recording path (a report with every control state and
/// remediation outcome, a reconcile, a Ready=False, leadership and the client observer hook).
/// The end-to-end test additionally scrapes a running controller's `/metrics` and checks the
/// same names there.
fn exported_metric_names() -> BTreeSet<String> {
    let metrics = Metrics::new();
    let control = |id: &str, state: ControlState| {
        ControlResult::new(id, state).with_values("desired", "observed")
    };
    let report = Report {
        controls: vec![
            ControlResult::new(
                "workspaceConf/enableExportNotebook",
                ControlState::Compliant,
            )
            .with_values("false", "false"),
            ControlResult::new(
                "workspaceConf/enableResultsDownloading",
                ControlState::Drifted,
            )
            .with_values("false", "true"),
            control("tokens/maxLifetimeDays", ControlState::Remediated),
            control("ipAccessLists/enabled", ControlState::Failed),
            control("azure/vnetInjection", ControlState::RequiresRecreate),
            ControlResult::new("azure/customerManagedKeys", ControlState::NotApplicable)
                .with_reason(Reason::NotApplicable, "Standard tier"),
        ],
        planned_actions: vec!["PATCH workspace-conf enableResultsDownloading=false".into()],
        executed: vec![
            Remediation {
                index: 0,
                controls: vec!["tokens/maxLifetimeDays".into()],
                description: "PATCH workspace-conf maxTokenLifetimeDays=90".into(),
                outcome: Outcome::Applied,
            },
            Remediation {
                index: 1,
                controls: vec!["workspaceConf/enableResultsDownloading".into()],
                description: "PATCH workspace-conf enableResultsDownloading=false".into(),
                outcome: Outcome::Failed("503 TEMPORARILY_UNAVAILABLE".into()),
            },
            Remediation {
                index: 2,
                controls: vec!["ipAccessLists/enabled".into()],
                description: "PATCH workspace-conf enableIpAccessLists=true".into(),
                outcome: Outcome::Blocked {
                    reason: Reason::NoAllowList,
                    message: "no ALLOW list declared".into(),
                },
            },
        ],
        exception_lapsed: false,
        window_opens: None,
        pending_approval: None,
        approval_released: None,
    };
    metrics.record_report("data-platform", "analytics-prod", &report);
    metrics.record_reconcile(Duration::from_millis(840), true);
    metrics.record_reconcile(Duration::from_millis(120), false);
    metrics.record_ready("data-platform", "analytics-prod", true, "Reconciled");
    metrics.record_ready("data-platform", "finance", false, "AuthenticationFailed");
    let exception: brickwarden::api::Exception = serde_json::from_value(serde_json::json!({
        "controls": ["workspaceConf/enableWebTerminal"],
        "reason": "SEC-123",
        "expires": "2027-03-31T00:00:00Z",
    }))
    .unwrap();
    metrics.record_exceptions("data-platform", "analytics-prod", &[exception]);
    metrics.set_leader(true);
    let conf = RequestLabels {
        service: "databricks",
        host: "adb-1234567890123456.7.azuredatabricks.net",
        endpoint: "/api/2.0/workspace-conf",
    };
    let token = RequestLabels {
        service: "entra",
        host: "login.microsoftonline.com",
        endpoint: "/{tenant}/oauth2/v2.0/token",
    };
    metrics.on_response(conf, Some(429), Duration::from_millis(35));
    metrics.on_response(token, None, Duration::ZERO);
    metrics.on_retry(conf, "status 429");

    let exposition = metrics.encode();
    let mut families = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let family = rest.split_whitespace().next().expect("TYPE names a family");
            families.insert(family.to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    for family in &families {
        assert!(
            names.iter().any(|n| n.starts_with(family.as_str())),
            "family {family} has no sample in the synthetic exposition; record one:\n{exposition}"
        );
    }
    assert_eq!(families.len(), 13, "{exposition}");
    names
}

/// Metric names in a PromQL expression: identifiers starting with `brickwarden_`, outside
/// string literals.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = expr.chars().peekable();
    let mut ident = String::new();
    let flush = |ident: &mut String, names: &mut BTreeSet<String>| {
        if ident.starts_with("brickwarden_") {
            names.insert(ident.clone());
        }
        ident.clear();
    };
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            ident.push(c);
            continue;
        }
        flush(&mut ident, &mut names);
        if matches!(c, '"' | '\'' | '`') {
            while let Some(s) = chars.next() {
                if s == '\\' && c != '`' {
                    chars.next();
                } else if s == c {
                    break;
                }
            }
        }
    }
    flush(&mut ident, &mut names);
    names
}

/// Every string under a key named `key`, anywhere in `value`.
fn strings_under(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == key => out.push(s.clone()),
                    _ => strings_under(v, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

fn dashboard() -> Value {
    serde_json::from_str(&read("deploy/monitoring/grafana-dashboard.json"))
        .expect("grafana-dashboard.json is JSON")
}

/// The lines of the runbook's ```promql blocks, one query each.
fn runbook_promql() -> Vec<String> {
    let mut queries = Vec::new();
    let mut in_promql = false;
    for line in read("docs/runbook.md").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_promql = trimmed == "```promql";
        } else if in_promql && !trimmed.is_empty() {
            queries.push(trimmed.to_string());
        }
    }
    queries
}

/// promtool parses every dashboard query and every runbook query: each becomes a recording rule
/// of a throw-away rule file, with Grafana's variables replaced by values.
#[test]
fn dashboard_and_runbook_queries_parse() {
    let mut queries = Vec::new();
    strings_under(&dashboard()["panels"], "expr", &mut queries);
    let runbook = runbook_promql();
    assert!(
        !runbook.is_empty(),
        "docs/runbook.md has no ```promql blocks"
    );
    queries.extend(runbook);
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, query)| {
            let expr = query
                .replace("$__rate_interval", "2m")
                .replace("$__interval", "5m")
                .replace("$__range", "6h")
                .replace("$namespace", ".*")
                .replace("$workspace", ".*");
            serde_json::json!({"record": format!("check:query_{i}"), "expr": expr})
        })
        .collect();
    let file = serde_json::json!({"groups": [{"name": "queries", "rules": rules}]});
    let dir = tempfile::Builder::new()
        .prefix("monitoring-queries-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory");
    let text = serde_saphyr::to_string(&file).expect("rules serialize to YAML");
    fs::write(dir.path().join("queries.yaml"), text).expect("write queries.yaml");
    let out = run_promtool(dir, &["check", "rules", "queries.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn metric_names_are_extracted_from_promql() {
    let names = metric_names(
        r#"sum by (le) (rate(brickwarden_reconcile_duration_seconds_bucket[$__rate_interval]))
           / on (x) brickwarden_leader{job="brickwarden_not_a_metric"} and up"#,
    );
    let expected: BTreeSet<String> = [
        "brickwarden_reconcile_duration_seconds_bucket",
        "brickwarden_leader",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, expected);
}

#[test]
fn alerts_dashboard_and_runbook_use_only_exported_metrics() {
    let exported = exported_metric_names();
    // Where each name is used, for the failure message.
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut note = |names: BTreeSet<String>, place: &str| {
        for name in names {
            used.entry(name).or_default().insert(place.to_string());
        }
    };

    for rule in rules() {
        let place = format!("prometheusrule.yaml {}", str_of(&rule, "alert"));
        note(metric_names(str_of(&rule, "expr")), &place);
    }

    let dashboard = dashboard();
    let mut exprs = Vec::new();
    strings_under(&dashboard["panels"], "expr", &mut exprs);
    for expr in &exprs {
        note(metric_names(expr), "grafana-dashboard.json panel");
    }
    let mut queries = Vec::new();
    strings_under(&dashboard["templating"], "query", &mut queries);
    strings_under(&dashboard["templating"], "definition", &mut queries);
    for query in &queries {
        note(metric_names(query), "grafana-dashboard.json variable");
    }

    for query in runbook_promql() {
        note(metric_names(&query), "docs/runbook.md");
    }

    let unknown: Vec<String> = used
        .iter()
        .filter(|(name, _)| !exported.contains(*name))
        .map(|(name, places)| format!("{name} (in {places:?})"))
        .collect();
    assert!(
        unknown.is_empty(),
        "metric names that brickwarden does not export: {unknown:#?}\nexported: {exported:#?}"
    );

    // The dashboard covers what an SRE looks at first.
    let panel_names: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    for needed in [
        "brickwarden_workspace_compliance_ratio",
        "brickwarden_control_drift",
        "brickwarden_remediations_total",
        "brickwarden_reconcile_duration_seconds_bucket",
        "brickwarden_api_requests_total",
        "brickwarden_api_retries_total",
        "brickwarden_leader",
    ] {
        assert!(
            panel_names.contains(needed),
            "the dashboard shows no {needed}"
        );
    }
}

#[test]
fn dashboard_is_well_formed() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "brickwarden");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = str_of(panel, "title");
        let id = panel["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "duplicate panel id {id} ({title})");
        for key in ["h", "w", "x", "y"] {
            assert!(
                panel["gridPos"][key].is_u64(),
                "{title}: gridPos.{key} missing"
            );
        }
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{title}: use the datasource variable"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        let mut refs = BTreeSet::new();
        for target in targets {
            assert!(
                !str_of(target, "expr").trim().is_empty(),
                "{title}: empty expr"
            );
            assert!(
                refs.insert(str_of(target, "refId").to_string()),
                "{title}: duplicate refId"
            );
        }
    }
    let variables: BTreeSet<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| str_of(v, "name"))
        .collect();
    for variable in ["datasource", "namespace", "workspace"] {
        assert!(variables.contains(variable), "no ${variable} variable");
    }
}
