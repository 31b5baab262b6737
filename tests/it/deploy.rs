//! Deployment artefacts against a real kube-apiserver (`support::controlplane`):
//!
//! * the generated CRDs install and become Established, and their OpenAPI + CEL validation
//!   rejects bad `DatabricksWorkspace`s at `kubectl apply` with a readable message;
//! * every manifest of `deploy/` (and its kustomization) passes `kubectl apply --dry-run=server`;
//! * the RBAC of `deploy/02-rbac.yaml` and of the chart is least privilege, probed with
//!   `kubectl auth can-i` as the controller's ServiceAccount;
//! * the Helm chart lints, renders objects the apiserver accepts (the prometheus-operator CRDs are
//!   stand-ins from `tests/fixtures/monitoring-coreos-crds.yaml`), installs with `helm install`,
//!   and its copies of the CRDs, baselines and monitoring files match their sources.
//!
//! All tests share one control plane and use namespaces of their own; pods never run (there is
//! no scheduler), so workloads are checked with server-side dry runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::support::controlplane::{self, ControlPlane, cluster_with_crds, install_crds_once};

const CRDS: &str = "crds/brickwarden.io.yaml";
const CHART: &str = "charts/brickwarden";
const MONITORING_CRDS: &str = "tests/fixtures/monitoring-coreos-crds.yaml";
const CONTROLLER_SA: &str = "system:serviceaccount:brickwarden-system:brickwarden";

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Tests that create (or dry-run create) cluster-scoped objects such as the built-in
/// SecurityBaselines take turns: a dry-run create racing a real create answers AlreadyExists.
fn cluster_scoped_objects() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn path(rel: &str) -> String {
    repo().join(rel).to_string_lossy().into_owned()
}

fn cp() -> &'static ControlPlane {
    ControlPlane::shared().expect("shared control plane starts")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The (stdout, stderr) of `program ARGS`, panicking with its stderr unless it succeeded.
fn succeeded(program: &str, args: &[&str], out: Output) -> (String, String) {
    assert!(
        out.status.success(),
        "{program} {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        stderr(&out)
    );
    (stdout(&out), stderr(&out))
}

/// `kubectl ARGS`, panicking with its stderr unless it succeeds; returns (stdout, stderr).
fn kubectl_ok(args: &[&str]) -> (String, String) {
    succeeded("kubectl", args, cp().kubectl(args).expect("kubectl runs"))
}

/// `kubectl ARGS` with `input` on stdin, panicking unless it succeeds; returns (stdout, stderr).
fn kubectl_stdin_ok(args: &[&str], input: &str) -> (String, String) {
    let out = cp()
        .kubectl_stdin(args, input.as_bytes())
        .expect("kubectl runs");
    succeeded("kubectl", args, out)
}

/// `helm ARGS`, panicking with its stderr unless it succeeds; returns stdout.
fn helm_ok(args: &[&str]) -> String {
    succeeded("helm", args, cp().helm(args).expect("helm runs")).0
}

/// Creates a namespace (idempotent), optionally with labels.
fn namespace(name: &str, labels: &[(&str, &str)]) {
    let mut yaml = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    if !labels.is_empty() {
        yaml.push_str("  labels:\n");
        for (k, v) in labels {
            let _ = writeln!(yaml, "    {k}: {v:?}");
        }
    }
    kubectl_stdin_ok(&["apply", "--server-side", "-f", "-"], &yaml);
}

/// The stand-in prometheus-operator CRDs (ServiceMonitor, PrometheusRule).
fn monitoring_crds() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    install_crds_once(
        &DONE,
        MONITORING_CRDS,
        &[
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
        ],
        &[
            "servicemonitors.monitoring.coreos.com",
            "prometheusrules.monitoring.coreos.com",
        ],
    );
}

/// The built-in baselines of `deploy/baselines/` as the apiserver accepts them (server-side dry
/// run).
fn deployed_baselines() -> Vec<Value> {
    let (out, _) = kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        &path("deploy/baselines"),
    ]);
    objects(&out)
}

/// `metadata.name` -> `spec` of `objs`.
fn specs_by_name<'a>(objs: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, Value> {
    objs.into_iter()
        .map(|o| {
            (
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                o["spec"].clone(),
            )
        })
        .collect()
}

/// The objects of a `kubectl ... -o json` answer (one object or a List).
fn objects(json_text: &str) -> Vec<Value> {
    let value: Value = serde_json::from_str(json_text)
        .unwrap_or_else(|e| panic!("kubectl printed invalid JSON ({e}):\n{json_text}"));
    match value.get("kind").and_then(Value::as_str) {
        Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
        _ => vec![value],
    }
}

fn find<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    let found = find(objs, kind);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, found {}",
        found.len()
    );
    found[0]
}

fn kinds(objs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = objs
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or("?").to_string())
        .collect();
    k.sort();
    k
}

/// No PodSecurity (restricted) warning and no other warning in kubectl's stderr.
fn assert_no_warnings(what: &str, err: &str) {
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("Warning") || l.contains("would violate PodSecurity"))
        // Client-side apply over objects first created by server-side apply.
        .filter(|l| !l.contains("last-applied-configuration"))
        .collect();
    assert!(warnings.is_empty(), "{what} produced warnings:\n{err}");
}

/// What the controller's Deployment must look like, from deploy/ or from the chart.
fn assert_controller_deployment(dep: &Value, expected_args: &[&str]) {
    let pod = &dep["spec"]["template"]["spec"];
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true, "pod runAsNonRoot: {psc}");
    assert_eq!(psc["runAsUser"], 65532, "pod runAsUser: {psc}");
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault", "{psc}");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    // Throughput tuning flags carry the values' defaults; they are checked where they matter.
    let tuning = ["--concurrency=", "--max-requests-in-flight="];
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .filter(|a| !tuning.iter().any(|t| a.starts_with(t)))
        .collect();
    assert_eq!(args, expected_args, "container args");
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{sc}");
    assert_eq!(sc["runAsUser"], 65532, "{sc}");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{sc}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{sc}");
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{sc}");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{sc}");
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or_default(), e))
        .collect();
    assert_eq!(
        env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(
        c["ports"],
        json!([{"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"}])
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http-metrics");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http-metrics");
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
}

/// `kubectl auth can-i` as `user`: true for "yes".
fn can_i(user: &str, args: &[&str]) -> bool {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    let as_flag = format!("--as={user}");
    all.push(&as_flag);
    let out = cp().kubectl(&all).expect("kubectl runs");
    match stdout(&out).trim() {
        "yes" => true,
        "no" => false,
        other => panic!(
            "kubectl {}: unexpected answer {other:?}: {}",
            all.join(" "),
            stderr(&out)
        ),
    }
}

/// The permissions the controller needs, and nothing the safety rules forbid.
fn assert_least_privilege(sa: &str, lease_namespace: &str, elsewhere: &str) {
    // kubectl resolves a resource name through discovery: the report kinds must be served.
    crate::governance_e2e::install_report_crds();
    let allowed: &[&[&str]] = &[
        &[
            "patch",
            "databricksworkspaces.brickwarden.io",
            "--subresource=status",
            "-n",
            elsewhere,
        ],
        &[
            "update",
            "databricksworkspaces.brickwarden.io",
            "--subresource=status",
            "-n",
            elsewhere,
        ],
        &[
            "get",
            "databricksworkspaces.brickwarden.io",
            "--subresource=status",
            "-n",
            elsewhere,
        ],
        &[
            "get",
            "databricksworkspaces.brickwarden.io",
            "-n",
            elsewhere,
        ],
        &[
            "list",
            "databricksworkspaces.brickwarden.io",
            "--all-namespaces",
        ],
        &[
            "watch",
            "databricksworkspaces.brickwarden.io",
            "--all-namespaces",
        ],
        &[
            "patch",
            "databricksworkspaces.brickwarden.io",
            "-n",
            elsewhere,
        ],
        &[
            "patch",
            "databricksaccounts.brickwarden.io",
            "--subresource=status",
            "-n",
            elsewhere,
        ],
        &[
            "list",
            "databricksaccounts.brickwarden.io",
            "--all-namespaces",
        ],
        &[
            "watch",
            "databricksaccounts.brickwarden.io",
            "--all-namespaces",
        ],
        &["get", "databricksaccounts.brickwarden.io", "-n", elsewhere],
        &["create", "policyreports.wgpolicyk8s.io", "-n", elsewhere],
        &["patch", "policyreports.wgpolicyk8s.io", "-n", elsewhere],
        &["patch", "reports.openreports.io", "-n", elsewhere],
        &["get", "securitybaselines.brickwarden.io"],
        &["list", "securitybaselines.brickwarden.io"],
        &["watch", "securitybaselines.brickwarden.io"],
        &["get", "secrets", "-n", elsewhere],
        &["list", "secrets", "-n", elsewhere],
        &["watch", "secrets", "--all-namespaces"],
        &["create", "events", "-n", elsewhere],
        &["patch", "events", "-n", elsewhere],
        &["create", "events.events.k8s.io", "-n", elsewhere],
        &["patch", "events.events.k8s.io", "-n", elsewhere],
        &[
            "create",
            "leases.coordination.k8s.io",
            "-n",
            lease_namespace,
        ],
        &["get", "leases.coordination.k8s.io", "-n", lease_namespace],
        &[
            "update",
            "leases.coordination.k8s.io",
            "-n",
            lease_namespace,
        ],
        &["patch", "leases.coordination.k8s.io", "-n", lease_namespace],
        &["watch", "leases.coordination.k8s.io", "-n", lease_namespace],
        &["list", "leases.coordination.k8s.io", "-n", lease_namespace],
    ];
    let denied: &[&[&str]] = &[
        &[
            "delete",
            "databricksaccounts.brickwarden.io",
            "-n",
            elsewhere,
        ],
        &["delete", "policyreports.wgpolicyk8s.io", "-n", elsewhere],
        &["create", "secrets", "-n", elsewhere],
        &["update", "secrets", "-n", elsewhere],
        &["patch", "secrets", "-n", elsewhere],
        &["delete", "secrets", "-n", elsewhere],
        &["deletecollection", "secrets", "-n", elsewhere],
        &["get", "pods", "-n", elsewhere],
        &["create", "pods", "-n", elsewhere],
        &["get", "configmaps", "-n", elsewhere],
        &[
            "create",
            "databricksworkspaces.brickwarden.io",
            "-n",
            elsewhere,
        ],
        &[
            "update",
            "databricksworkspaces.brickwarden.io",
            "-n",
            elsewhere,
        ],
        &[
            "delete",
            "databricksworkspaces.brickwarden.io",
            "-n",
            elsewhere,
        ],
        &["create", "securitybaselines.brickwarden.io"],
        &["patch", "securitybaselines.brickwarden.io"],
        &["delete", "securitybaselines.brickwarden.io"],
        &["create", "leases.coordination.k8s.io", "-n", "default"],
        &["get", "leases.coordination.k8s.io", "-n", "default"],
        &[
            "delete",
            "leases.coordination.k8s.io",
            "-n",
            lease_namespace,
        ],
        &["delete", "events", "-n", elsewhere],
        &["impersonate", "serviceaccounts", "-n", elsewhere],
        &["create", "clusterrolebindings.rbac.authorization.k8s.io"],
        &["create", "customresourcedefinitions.apiextensions.k8s.io"],
    ];
    let mut wrong = Vec::new();
    for args in allowed {
        if !can_i(sa, args) {
            wrong.push(format!("cannot {} (needed)", args.join(" ")));
        }
    }
    for args in denied {
        if can_i(sa, args) {
            wrong.push(format!("can {} (must not)", args.join(" ")));
        }
    }
    assert!(wrong.is_empty(), "{sa}:\n{}", wrong.join("\n"));
}

/// Every file under `dir`, relative path -> bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_tree(source: &str, copy: &str) {
    let (a, b) = (tree(&repo().join(source)), tree(&repo().join(copy)));
    let names = |t: &BTreeMap<PathBuf, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&a),
        names(&b),
        "{copy} must hold exactly the files of {source}: rm -r {copy} && cp -r {source} {copy}"
    );
    for (name, bytes) in &a {
        assert!(
            b[name] == *bytes,
            "{copy}/{} differs from {source}/{}: rm -r {copy} && cp -r {source} {copy}",
            name.display(),
            name.display()
        );
    }
}

/// `helm template RELEASE charts/brickwarden --namespace NAMESPACE FLAGS...`
fn helm_template(release: &str, namespace: &str, flags: &[&str]) -> String {
    let chart = path(CHART);
    let mut args = vec!["template", release, &chart, "--namespace", namespace];
    args.extend_from_slice(flags);
    helm_ok(&args)
}

/// Applies `yaml` with `kubectl apply --dry-run=server -o json`; returns the objects and stderr.
fn dry_run(yaml: &str) -> (Vec<Value>, String) {
    let (out, err) = kubectl_stdin_ok(
        &["apply", "--dry-run=server", "-o", "json", "-f", "-"],
        yaml,
    );
    (objects(&out), err)
}

// ---------------------------------------------------------------------------------------------
// Chart copies (no cluster).

#[test]
fn chart_crds_are_identical_to_generated_crds() {
    let generated = std::fs::read(repo().join(CRDS)).expect("read crds/brickwarden.io.yaml");
    let copy = std::fs::read(repo().join(CHART).join("crds/brickwarden.io.yaml"))
        .expect("read charts/brickwarden/crds/brickwarden.io.yaml");
    assert!(
        generated == copy,
        "charts/brickwarden/crds/brickwarden.io.yaml differs from {CRDS}: \
         cp {CRDS} charts/brickwarden/crds/"
    );
    let entries: Vec<_> = std::fs::read_dir(repo().join(CHART).join("crds"))
        .expect("chart crds/")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "chart crds/ holds only the generated file"
    );
}

#[test]
fn chart_copies_of_baselines_and_monitoring_match_deploy() {
    assert_same_tree("deploy/baselines", "charts/brickwarden/files/baselines");
    let monitoring = repo().join("deploy/monitoring");
    let chart_monitoring = repo().join("charts/brickwarden/files/monitoring");
    if monitoring.is_dir() {
        // The chart embeds the rules and dashboards: the top-level *.yaml, *.yml and *.json of
        // deploy/monitoring/ (not its promtool unit tests or README).
        let top_level = |dir: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
            tree(dir)
                .into_iter()
                .filter(|(name, _)| {
                    name.components().count() == 1
                        && matches!(
                            name.extension().and_then(|e| e.to_str()),
                            Some("yaml" | "yml" | "json")
                        )
                })
                .collect()
        };
        let (source, copy) = (top_level(&monitoring), tree(&chart_monitoring));
        let names = |t: &BTreeMap<PathBuf, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
        let fix = "cd charts/brickwarden/files/monitoring && rm -f * && \
                   cp ../../../../deploy/monitoring/*.{yaml,json} .";
        assert_eq!(
            names(&copy),
            names(&source),
            "charts/brickwarden/files/monitoring/ must hold the top-level rule and dashboard \
             files of deploy/monitoring/: {fix}"
        );
        for (name, bytes) in &source {
            assert!(
                copy[name] == *bytes,
                "charts/brickwarden/files/monitoring/{} differs from deploy/monitoring/: {fix}",
                name.display()
            );
        }
    } else {
        // Until deploy/monitoring/ exists the chart carries placeholders, marked as such, so
        // that this test starts failing (and the copy is made) the moment the real files land.
        for (name, bytes) in tree(&chart_monitoring) {
            assert!(
                String::from_utf8_lossy(&bytes).contains("PLACEHOLDER"),
                "charts/brickwarden/files/monitoring/{} is neither a copy of deploy/monitoring/ \
                 nor a marked placeholder",
                name.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CRDs and validation.

#[test]
fn crds_install_and_are_established() {
    cluster_with_crds();
    // (CRD, jsonpath, what it answers)
    for (crd, jsonpath, expected) in [
        (
            "databricksworkspaces.brickwarden.io",
            "{.spec.names.shortNames[0]} {.spec.scope}",
            "dbw Namespaced",
        ),
        (
            "databricksaccounts.brickwarden.io",
            "{.spec.names.shortNames[0]} {.spec.scope}",
            "dba Namespaced",
        ),
        (
            "securitybaselines.brickwarden.io",
            "{.spec.scope}",
            "Cluster",
        ),
    ] {
        let jsonpath = format!("jsonpath={jsonpath}");
        let (out, _) = kubectl_ok(&["get", "crd", crd, "-o", &jsonpath]);
        assert_eq!(out, expected, "{crd}");
    }
}

const VALID_MINIMAL: &str = "\
apiVersion: brickwarden.io/v1alpha1
kind: DatabricksWorkspace
metadata:
  name: minimal
  namespace: validation-e2e
spec:
  host: https://adb-1234567890123456.7.azuredatabricks.net
  auth:
    personalAccessToken:
      secretRef: {name: databricks-pat, key: token}
";

/// A workspace named `name` in namespace validation-e2e with `spec` (YAML, indented by 2).
fn workspace(name: &str, spec: &str) -> String {
    workspace_at(name, "https://adb-1.7.azuredatabricks.net", spec)
}

fn workspace_at(name: &str, host: &str, spec: &str) -> String {
    format!(
        "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksWorkspace\nmetadata:\n  name: {name}\n  \
         namespace: validation-e2e\nspec:\n  host: {host}\n{spec}"
    )
}

const PAT: &str = "  auth:\n    personalAccessToken:\n      secretRef: {name: pat, key: token}\n";

fn addresses(count: usize, third_octet_base: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "10.{}.{}.{}",
                third_octet_base + i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn valid_minimal_workspace_is_accepted() {
    cluster_with_crds();
    namespace("validation-e2e", &[]);
    let (out, _) = kubectl_stdin_ok(&["apply", "-f", "-"], VALID_MINIMAL);
    assert!(
        out.contains("databricksworkspace.brickwarden.io/minimal"),
        "{out}"
    );
    // Defaults from the schema are filled in by the apiserver.
    let (mode, _) = kubectl_ok(&[
        "get",
        "dbw",
        "minimal",
        "-n",
        "validation-e2e",
        "-o",
        "jsonpath={.spec.mode} {.spec.suspend}",
    ]);
    assert_eq!(mode, "Enforce false");
    // A full example of the documented shape is accepted too.
    let full = workspace(
        "full",
        &format!(
            "{PAT}  baselineRef: highly-secure\n  mode: Audit\n  resyncInterval: 5m\n  \
             azureResourceId: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w\n  \
             policy:\n    ipAccessLists:\n      enabled: true\n      management: Exclusive\n      \
             breakGlass: [198.51.100.7]\n      lists:\n        \
             - {{label: corp-vpn, type: ALLOW, addresses: [203.0.113.0/24, 198.51.100.7]}}\n        \
             - {{label: known-bad, type: BLOCK, addresses: [192.0.2.0/24]}}\n    \
             tokens: {{enabled: true, maxLifetimeDays: 90, permissions: {{management: Exclusive, \
             canUse: [{{group: data-engineers}}, {{user: a@example.com}}]}}}}\n    \
             settings: {{complianceSecurityProfile: true, restrictWorkspaceAdmins: true}}\n    \
             secretScopes:\n      - {{scope: etl, management: Exclusive, acls: [{{principal: data-engineers, permission: READ}}]}}\n    \
             azure: {{noPublicIp: true, publicNetworkAccess: Disabled}}\n"
        ),
    );
    kubectl_stdin_ok(&["apply", "-f", "-"], &full);
    // The boundary: exactly 1000 addresses across two lists is accepted.
    let at_limit = workspace(
        "at-limit",
        &format!(
            "{PAT}  policy:\n    ipAccessLists:\n      lists:\n        \
             - {{label: a, type: ALLOW, addresses: [{}]}}\n        \
             - {{label: b, type: ALLOW, addresses: [{}]}}\n",
            addresses(500, 0),
            addresses(500, 1)
        ),
    );
    kubectl_stdin_ok(&["apply", "-f", "-"], &at_limit);
}

#[test]
fn invalid_workspaces_are_rejected_with_readable_messages() {
    cluster_with_crds();
    namespace("validation-e2e", &[]);
    let lists = |body: &str| format!("{PAT}  policy:\n    ipAccessLists:\n      lists:\n{body}");
    // (name, spec, expected substring of kubectl's stderr)
    let cases: Vec<(&str, String, &str)> = vec![
        ("no-auth", "  auth: {}\n".to_string(), "exactly one of"),
        (
            "two-auth",
            "  auth:\n    personalAccessToken: {secretRef: {name: p, key: t}}\n    \
             azureWorkloadIdentity: {clientId: c, tenantId: t}\n"
                .to_string(),
            "exactly one of",
        ),
        (
            "cidr-33",
            lists("        - {label: a, type: ALLOW, addresses: [10.0.0.0/33]}\n"),
            "IPv4 addresses or CIDR",
        ),
        (
            "not-an-ip",
            lists("        - {label: a, type: ALLOW, addresses: [not-an-ip]}\n"),
            "IPv4 addresses or CIDR",
        ),
        (
            "ipv6",
            lists("        - {label: a, type: ALLOW, addresses: ['2001:db8::/32']}\n"),
            "IPv4 addresses or CIDR",
        ),
        (
            "lifetime-zero",
            format!("{PAT}  policy:\n    tokens:\n      maxLifetimeDays: 0\n"),
            "maxLifetimeDays",
        ),
        (
            "lifetime-731",
            format!("{PAT}  policy:\n    tokens:\n      maxLifetimeDays: 731\n"),
            "maxLifetimeDays",
        ),
        (
            "too-many-addresses",
            lists(&format!(
                "        - {{label: a, type: ALLOW, addresses: [{}]}}\n        \
                 - {{label: b, type: ALLOW, addresses: [{}]}}\n",
                addresses(501, 0),
                addresses(500, 1)
            )),
            "at most 1000 addresses",
        ),
        (
            "duplicate-labels",
            lists(
                "        - {label: corp, type: ALLOW, addresses: [203.0.113.0/24]}\n        \
                 - {label: corp, type: BLOCK, addresses: [192.0.2.0/24]}\n",
            ),
            "labels must be unique",
        ),
        (
            "mode-yolo",
            format!("{PAT}  mode: Yolo\n"),
            "Unsupported value",
        ),
        (
            "azure-without-resource-id",
            format!("{PAT}  policy:\n    azure: {{noPublicIp: true}}\n"),
            "azureResourceId",
        ),
        (
            "csp-off",
            format!("{PAT}  policy:\n    settings: {{complianceSecurityProfile: false}}\n"),
            "complianceSecurityProfile",
        ),
    ];
    let mut documents: Vec<(&str, String, &str)> = cases
        .iter()
        .map(|(name, spec, expected)| (*name, workspace(name, spec), *expected))
        .collect();
    documents.push((
        "bad-host",
        workspace_at("bad-host", "adb-1.7.azuredatabricks.net", PAT),
        "http(s) URL",
    ));
    assert_all_rejected("dbw", &documents);
}

/// Applies each `(name, document, expected)` case in namespace validation-e2e (objects of
/// `kind`) and fails, naming every case that went otherwise, unless each one is refused by
/// validation with `expected` in kubectl's message and nothing of it is stored.
fn assert_all_rejected(kind: &str, cases: &[(&str, String, &str)]) {
    let mut failures = Vec::new();
    for (name, yaml, expected) in cases {
        let out = cp()
            .kubectl_stdin(["apply", "-f", "-"], yaml.as_bytes())
            .expect("kubectl runs");
        let err = stderr(&out);
        if out.status.success() {
            failures.push(format!(
                "{name}: accepted, expected a rejection containing {expected:?}"
            ));
        } else if !err.contains(expected) {
            failures.push(format!("{name}: rejected without {expected:?}:\n{err}"));
        } else if !err.contains("is invalid") {
            failures.push(format!("{name}: not a validation error:\n{err}"));
        }
        // Nothing of a rejected object is stored.
        let get = cp()
            .kubectl(["get", kind, name, "-n", "validation-e2e"])
            .expect("kubectl runs");
        if get.status.success() {
            failures.push(format!("{name}: stored although rejected"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A DatabricksAccount named `name` in namespace validation-e2e with `spec` (YAML, indented by
/// 2) after its host and account id.
fn account(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksAccount\nmetadata:\n  name: {name}\n  \
         namespace: validation-e2e\nspec:\n  host: https://accounts.azuredatabricks.net\n  \
         accountId: 00000000-0000-0000-0000-0000000acc01\n{spec}"
    )
}

const ACCOUNT_OAUTH: &str =
    "  auth:\n    databricksOAuth: {clientId: sp, clientSecretRef: {name: sp, key: secret}}\n";

#[test]
fn valid_account_is_accepted_with_the_documented_shape() {
    cluster_with_crds();
    namespace("validation-e2e", &[]);
    let full = account(
        "contoso",
        &format!(
            "{ACCOUNT_OAUTH}  mode: Enforce\n  resyncInterval: 10m\n  policy:\n    \
             ipAccessLists:\n      enabled: true\n      management: Exclusive\n      \
             breakGlass: [198.51.100.7]\n      lists:\n        \
             - {{label: corp-vpn, type: ALLOW, addresses: [203.0.113.0/24]}}\n    \
             settings: {{disableLegacyFeatures: true, personalCompute: \"Off\", \
             complianceSecurityProfileForNewWorkspaces: true, \
             enhancedSecurityMonitoringForNewWorkspaces: true}}\n    \
             networkConnectivityConfigs:\n      - name: ncc-westeurope\n        region: westeurope\n        \
             privateEndpointRules:\n          - {{resourceId: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake, groupId: dfs}}\n        \
             workspaces: [1234567890000001]\n    \
             networkPolicies:\n      - name: restricted\n        restrictionMode: RestrictedAccess\n        \
             allowedInternetDestinations: [pypi.org, files.pythonhosted.org]\n        \
             allowedStorageDestinations: [{{azureStorageAccount: lake, service: dfs}}]\n        \
             enforcement: Enforced\n        workspaces: [1234567890000001]\n    \
             privateAccessSettings:\n      - {{name: pas-prod, region: us-east-1, publicAccessEnabled: false, privateAccessLevel: Account}}\n"
        ),
    );
    let (out, _) = kubectl_stdin_ok(&["apply", "-f", "-"], &full);
    assert!(
        out.contains("databricksaccount.brickwarden.io/contoso"),
        "{out}"
    );
    let (got, _) = kubectl_ok(&[
        "get",
        "dba",
        "contoso",
        "-n",
        "validation-e2e",
        "-o",
        "jsonpath={.spec.policy.networkPolicies[0].restrictionMode} {.spec.suspend}",
    ]);
    assert_eq!(got, "RestrictedAccess false");
}

#[test]
fn invalid_accounts_are_rejected_with_readable_messages() {
    cluster_with_crds();
    namespace("validation-e2e", &[]);
    let policy = |body: &str| format!("{ACCOUNT_OAUTH}  policy:\n{body}");
    let ncc = |body: &str| {
        policy(&format!(
            "    networkConnectivityConfigs:\n      - name: ncc-1\n        region: westeurope\n{body}"
        ))
    };
    // (name, document, expected substring of kubectl's stderr)
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "pat",
            account(
                "pat",
                "  auth:\n    personalAccessToken: {secretRef: {name: p, key: t}}\n",
            ),
            "does not accept personal access tokens",
        ),
        (
            "no-auth",
            account("no-auth", "  auth: {}\n"),
            "exactly one of",
        ),
        (
            "bad-account-id",
            format!(
                "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksAccount\nmetadata:\n  \
                 name: bad-account-id\n  namespace: validation-e2e\nspec:\n  \
                 host: https://accounts.azuredatabricks.net\n  accountId: not-a-uuid-but-36-characters-long-xx\n{ACCOUNT_OAUTH}"
            ),
            "accountId must be the account's UUID",
        ),
        (
            "bad-cidr",
            account(
                "bad-cidr",
                &policy(
                    "    ipAccessLists:\n      lists:\n        - {label: a, type: ALLOW, addresses: [10.0.0.0/33]}\n",
                ),
            ),
            "IPv4 addresses or CIDR",
        ),
        (
            "bad-ncc-name",
            account(
                "bad-ncc-name",
                &policy(
                    "    networkConnectivityConfigs:\n      - {name: 'a b', region: westeurope}\n",
                ),
            ),
            "name must be 3 to 30",
        ),
        (
            "bad-region",
            account(
                "bad-region",
                &policy(
                    "    networkConnectivityConfigs:\n      - {name: ncc-1, region: 'West Europe'}\n",
                ),
            ),
            "region must be a cloud region",
        ),
        (
            "workspace-zero",
            account("workspace-zero", &ncc("        workspaces: [0]\n")),
            "should be greater than or equal to 1",
        ),
        (
            "workspace-twice",
            account("workspace-twice", &ncc("        workspaces: [7, 7]\n")),
            "Duplicate value",
        ),
        (
            "bad-resource-id",
            account(
                "bad-resource-id",
                &ncc("        privateEndpointRules: [{resourceId: lake, groupId: dfs}]\n"),
            ),
            "resourceId must be an Azure resource id",
        ),
        (
            "duplicate-ncc",
            account(
                "duplicate-ncc",
                &policy(
                    "    networkConnectivityConfigs:\n      - {name: ncc-1, region: westeurope}\n      \
                     - {name: ncc-1, region: northeurope}\n",
                ),
            ),
            "names must be unique",
        ),
        (
            "bad-destination",
            account(
                "bad-destination",
                &policy(
                    "    networkPolicies:\n      - {name: p, restrictionMode: RestrictedAccess, \
                     allowedInternetDestinations: ['https://pypi.org/simple']}\n",
                ),
            ),
            "DNS names",
        ),
        (
            "bad-restriction",
            account(
                "bad-restriction",
                &policy("    networkPolicies:\n      - {name: p, restrictionMode: Open}\n"),
            ),
            "Unsupported value",
        ),
        (
            "bad-aws-region",
            account(
                "bad-aws-region",
                &policy(
                    "    privateAccessSettings:\n      - {name: pas, region: westeurope, publicAccessEnabled: false}\n",
                ),
            ),
            "AWS region",
        ),
    ];
    assert_all_rejected("dba", &cases);
}

// ---------------------------------------------------------------------------------------------
// deploy/

#[test]
fn deploy_manifests_pass_server_side_dry_run() {
    let _turn = cluster_scoped_objects();
    cluster_with_crds();
    // The namespace for real (objects of a namespace that does not exist cannot be dry-run).
    kubectl_ok(&[
        "apply",
        "--server-side",
        "-f",
        &path("deploy/00-namespace.yaml"),
    ]);

    let out = cp()
        .kubectl([
            "apply",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            &path("deploy"),
        ])
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl apply --dry-run=server -f deploy/:\n{}",
        stderr(&out)
    );
    assert_no_warnings("deploy/", &stderr(&out));
    let objs = objects(&stdout(&out));
    assert_eq!(
        kinds(&objs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Namespace",
            "NetworkPolicy",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    );
    let dep = one(&objs, "Deployment");
    assert_eq!(dep["metadata"]["namespace"], "brickwarden-system");
    assert_eq!(dep["spec"]["replicas"], 1);
    assert_controller_deployment(dep, &["run", "--log-format", "json"]);
    assert_eq!(
        dep["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let svc = one(&objs, "Service");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http-metrics");
    let np = one(&objs, "NetworkPolicy");
    assert_eq!(
        np["spec"]["ingress"],
        json!([{"ports": [{"port": 8080, "protocol": "TCP"}]}])
    );
    let egress_ports: Vec<Value> = np["spec"]["egress"]
        .as_array()
        .expect("egress")
        .iter()
        .flat_map(|r| r["ports"].as_array().cloned().unwrap_or_default())
        .map(|p| p["port"].clone())
        .collect();
    assert!(
        egress_ports.contains(&json!(53)) && egress_ports.contains(&json!(443)),
        "{egress_ports:?}"
    );
    // The restricted Pod Security level is enforced on the namespace, and the Deployment meets it.
    let ns = one(&objs, "Namespace");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );

    // The kustomization: the same objects plus the CRDs, referenced in place.
    let (built, _) = kubectl_ok(&[
        "kustomize",
        "--load-restrictor=LoadRestrictionsNone",
        &path("deploy"),
    ]);
    let (out, err) = kubectl_stdin_ok(
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            "-",
        ],
        &built,
    );
    assert_no_warnings("deploy/Kustomization", &err);
    let objs = objects(&out);
    // DatabricksWorkspace, DatabricksAccount, SecurityBaseline.
    assert_eq!(find(&objs, "CustomResourceDefinition").len(), 3);
    assert_eq!(objs.len(), 12, "{:?}", kinds(&objs));

    // The built-in baselines are valid SecurityBaselines.
    let names: Vec<String> = deployed_baselines()
        .iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["highly-secure", "recommended"]);
}

#[test]
fn deploy_rbac_is_least_privilege() {
    // `kubectl auth can-i` resolves resource names through discovery: the CRDs must be served.
    cluster_with_crds();
    kubectl_ok(&[
        "apply",
        "--server-side",
        "-f",
        &path("deploy/00-namespace.yaml"),
    ]);
    kubectl_ok(&["apply", "--server-side", "-f", &path("deploy/02-rbac.yaml")]);
    namespace("rbac-probe", &[]);
    assert_least_privilege(CONTROLLER_SA, "brickwarden-system", "rbac-probe");

    // No wildcard anywhere, and secrets are read-only.
    let (out, _) = kubectl_ok(&["get", "clusterrole", "brickwarden", "-o", "json"]);
    let role: Value = serde_json::from_str(&out).expect("json");
    for rule in role["rules"].as_array().expect("rules") {
        let text = rule.to_string();
        assert!(!text.contains('*'), "wildcard in {text}");
        if rule["resources"] == json!(["secrets"]) {
            assert_eq!(rule["verbs"], json!(["get", "list", "watch"]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Helm chart.

#[test]
fn chart_lints() {
    helm_ok(&["lint", "--strict", &path(CHART)]);
    helm_ok(&[
        "lint",
        "--strict",
        &path(CHART),
        "--set",
        "metrics.serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,replicas=2,podDisruptionBudget.enabled=true",
    ]);
    // values.schema.json rejects typos and bad values.
    for bad in [
        "logFormat=yaml",
        "replica=2",
        "controller.egressAddresses={10.0.0.0/33}",
    ] {
        let out = cp()
            .helm(["template", "x", &path(CHART), "--set", bad])
            .expect("helm runs");
        assert!(
            !out.status.success(),
            "helm template --set {bad} was accepted"
        );
        assert!(stderr(&out).contains("schema"), "{bad}: {}", stderr(&out));
    }
}

/// Every optional part of the chart on: a shard with workload identity and monitoring.
const EVERYTHING_ON: &str = r#"
replicas: 3
logFormat: text
logLevel: debug
controller:
  selector: shard=a
  egressAddresses: [203.0.113.7, 198.51.100.0/24]
  privateNetwork: true
serviceAccount:
  annotations:
    azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000001
podLabels:
  azure.workload.identity/use: "true"
metrics:
  serviceMonitor:
    enabled: true
    labels: {release: prometheus}
prometheusRule:
  enabled: true
grafanaDashboard:
  enabled: true
podDisruptionBudget:
  enabled: true
baselines:
  install: false
image:
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"#;

#[test]
fn chart_renders_objects_the_apiserver_accepts() {
    let _turn = cluster_scoped_objects();
    cluster_with_crds();
    monitoring_crds();
    let ns = "chart-render";
    namespace(ns, &[("pod-security.kubernetes.io/enforce", "restricted")]);

    // Defaults.
    let rendered = helm_template("brickwarden", ns, &[]);
    let (objs, err) = dry_run(&rendered);
    assert_no_warnings("chart defaults", &err);
    assert_eq!(
        kinds(&objs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "NetworkPolicy",
            "Role",
            "RoleBinding",
            "SecurityBaseline",
            "SecurityBaseline",
            "Service",
            "ServiceAccount",
        ]
    );
    let dep = one(&objs, "Deployment");
    assert_eq!(dep["metadata"]["name"], "brickwarden");
    assert_eq!(dep["spec"]["replicas"], 1);
    assert_controller_deployment(dep, &["run", "--log-format=json"]);
    assert!(
        dep["spec"]["template"]["spec"]["containers"][0]["args"]
            .to_string()
            .contains("--concurrency=16"),
        "the chart passes controller.concurrency"
    );

    // The chart's RBAC rules are those of deploy/02-rbac.yaml.
    let (out, _) = kubectl_ok(&[
        "apply",
        "--dry-run=client",
        "-o",
        "json",
        "-f",
        &path("deploy/02-rbac.yaml"),
    ]);
    let deploy_rbac = objects(&out);
    for kind in ["ClusterRole", "Role"] {
        assert_eq!(
            one(&objs, kind)["rules"],
            one(&deploy_rbac, kind)["rules"],
            "{kind} rules of the chart and of deploy/02-rbac.yaml"
        );
    }

    // The baselines are those of deploy/baselines/.
    let deployed = specs_by_name(&deployed_baselines());
    let charted = specs_by_name(find(&objs, "SecurityBaseline"));
    assert_eq!(charted, deployed);

    // Everything on, sharded, workload identity, three replicas.
    let values = cp().dir().join("chart-values-everything.yaml");
    std::fs::write(&values, EVERYTHING_ON).expect("write values");
    let rendered = helm_template("shard-a", ns, &["-f", &values.to_string_lossy()]);
    let (objs, err) = dry_run(&rendered);
    assert_no_warnings("chart with everything on", &err);
    assert!(find(&objs, "SecurityBaseline").is_empty());
    let dep = one(&objs, "Deployment");
    assert_eq!(dep["metadata"]["name"], "shard-a-brickwarden");
    assert_eq!(dep["spec"]["replicas"], 3);
    assert_controller_deployment(
        dep,
        &[
            "run",
            "--log-format=text",
            "--selector=shard=a",
            "--egress-addresses=203.0.113.7,198.51.100.0/24",
            "--private-network",
        ],
    );
    let pod = &dep["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    assert!(
        pod["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .ends_with("@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
    let env = pod["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains(r#""name":"RUST_LOG","value":"debug""#),
        "{env}"
    );
    assert_eq!(
        one(&objs, "ServiceAccount")["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "00000000-0000-0000-0000-000000000001"
    );
    let sm = one(&objs, "ServiceMonitor");
    assert_eq!(sm["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http-metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["honorLabels"], true);
    let svc = one(&objs, "Service");
    for (k, v) in sm["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels")
    {
        assert_eq!(
            &svc["metadata"]["labels"][k], v,
            "ServiceMonitor selects the Service"
        );
    }
    let rule = one(&objs, "PrometheusRule");
    assert!(
        !rule["spec"]["groups"]
            .as_array()
            .expect("groups")
            .is_empty()
    );
    let cm = one(&objs, "ConfigMap");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    for (name, text) in cm["data"].as_object().expect("data") {
        let dashboard: Value = serde_json::from_str(text.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("dashboard {name} is not JSON: {e}"));
        assert!(dashboard["panels"].is_array(), "{name} has panels");
    }
    assert_eq!(
        one(&objs, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        1
    );

    // The rules pass promtool.
    let rules_file = cp().dir().join("chart-rules.json");
    std::fs::write(
        &rules_file,
        json!({"groups": rule["spec"]["groups"]}).to_string(),
    )
    .expect("write rules");
    let promtool = controlplane::binary("promtool").expect("promtool");
    let out = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .arg(&rules_file)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn chart_installs_with_helm_and_its_rbac_is_least_privilege() {
    let _turn = cluster_scoped_objects();
    cluster_with_crds();
    let ns = "chart-install";
    namespace(ns, &[("pod-security.kubernetes.io/enforce", "restricted")]);
    namespace("chart-install-probe", &[]);
    helm_ok(&[
        "install",
        "bw",
        &path(CHART),
        "--namespace",
        ns,
        "--set",
        "networkPolicy.enabled=true",
    ]);
    let (out, _) = kubectl_ok(&[
        "get",
        "deployment,serviceaccount,service,networkpolicy",
        "-n",
        ns,
        "-o",
        "name",
    ]);
    for expected in [
        "deployment.apps/bw-brickwarden",
        "serviceaccount/bw-brickwarden",
        "service/bw-brickwarden-metrics",
        "networkpolicy.networking.k8s.io/bw-brickwarden",
    ] {
        assert!(out.contains(expected), "{expected} missing from:\n{out}");
    }
    let (out, _) = kubectl_ok(&["get", "securitybaselines", "-o", "name"]);
    assert!(
        out.contains("recommended") && out.contains("highly-secure"),
        "{out}"
    );

    let sa = format!("system:serviceaccount:{ns}:bw-brickwarden");
    assert_least_privilege(&sa, ns, "chart-install-probe");
    // Cluster-wide mode (the default, documented as such): Secrets readable in every namespace.
    for verb in ["get", "list", "watch"] {
        assert!(
            can_i(&sa, &[verb, "secrets", "--all-namespaces"]),
            "cluster-wide mode: {verb} secrets in every namespace"
        );
    }

    helm_ok(&["uninstall", "bw", "--namespace", ns]);
    // CRDs stay (Helm never deletes crds/); so do workspaces elsewhere.
    kubectl_ok(&["get", "crd", "databricksworkspaces.brickwarden.io"]);
}

/// Namespaced mode (`watchNamespaces`): the controller's ServiceAccount reads Secrets, manages
/// workspaces and records events only in the watched namespaces; cluster-wide it keeps only the
/// read-only SecurityBaselines. The Deployment passes one `--watch-namespace` per namespace.
#[test]
fn chart_namespaced_mode_grants_secrets_only_in_watched_namespaces() {
    let _turn = cluster_scoped_objects();
    cluster_with_crds();
    let (ns, team_a, team_b, other) = (
        "chart-nsmode",
        "chart-nsmode-team-a",
        "chart-nsmode-team-b",
        "chart-nsmode-other",
    );
    namespace(ns, &[("pod-security.kubernetes.io/enforce", "restricted")]);
    for n in [team_a, team_b, other] {
        namespace(n, &[]);
    }
    let watch = format!("watchNamespaces={{{team_a},{team_b}}}");

    // Rendered: the ClusterRole has only the baselines; a Role + RoleBinding per namespace.
    let rendered = helm_template(
        "nsmode",
        ns,
        &["--set", &watch, "--set", "baselines.install=false"],
    );
    let (objs, err) = dry_run(&rendered);
    assert_no_warnings("chart in namespaced mode", &err);
    let cluster_role = one(&objs, "ClusterRole");
    assert_eq!(
        cluster_role["rules"],
        json!([{"apiGroups": ["brickwarden.io"], "resources": ["securitybaselines"], "verbs": ["get", "list", "watch"]}]),
        "namespaced mode: nothing namespaced is granted cluster-wide"
    );
    let roles: BTreeMap<String, &Value> = find(&objs, "Role")
        .into_iter()
        .map(|r| {
            (
                r["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r,
            )
        })
        .collect();
    assert_eq!(
        roles.keys().map(String::as_str).collect::<Vec<_>>(),
        [ns, team_a, team_b],
        "the leader-election Role and one Role per watched namespace"
    );
    for n in [team_a, team_b] {
        let secrets = roles[n]["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["resources"] == json!(["secrets"]))
            .unwrap_or_else(|| panic!("no secrets rule in the Role of {n}"));
        assert_eq!(secrets["verbs"], json!(["get", "list", "watch"]));
    }
    let dep = one(&objs, "Deployment");
    let args = dep["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(
        args.contains(&format!("--watch-namespace={team_a}"))
            && args.contains(&format!("--watch-namespace={team_b}")),
        "{args}"
    );

    // Installed: what the ServiceAccount may do, asked of the apiserver.
    helm_ok(&[
        "install",
        "nsmode",
        &path(CHART),
        "--namespace",
        ns,
        "--set",
        &watch,
        "--set",
        "baselines.install=false",
    ]);
    let sa = format!("system:serviceaccount:{ns}:nsmode-brickwarden");
    let dbw = "databricksworkspaces.brickwarden.io";
    let mut allowed: Vec<Vec<&str>> = vec![
        vec!["list", "securitybaselines.brickwarden.io"],
        vec!["watch", "securitybaselines.brickwarden.io"],
        vec!["get", "leases.coordination.k8s.io", "-n", ns],
        vec!["create", "leases.coordination.k8s.io", "-n", ns],
    ];
    let mut denied: Vec<Vec<&str>> = vec![
        vec!["list", "secrets", "--all-namespaces"],
        vec!["watch", "secrets", "--all-namespaces"],
        vec!["get", "secrets", "-n", other],
        vec!["list", "secrets", "-n", other],
        vec!["watch", "secrets", "-n", other],
        vec!["list", "secrets", "-n", ns],
        vec!["list", dbw, "--all-namespaces"],
        vec!["list", dbw, "-n", other],
        vec!["patch", dbw, "--subresource=status", "-n", other],
        vec!["create", "events", "-n", other],
        vec!["patch", "securitybaselines.brickwarden.io"],
    ];
    for n in [team_a, team_b] {
        allowed.extend([
            vec!["get", "secrets", "-n", n],
            vec!["list", "secrets", "-n", n],
            vec!["watch", "secrets", "-n", n],
            vec!["list", dbw, "-n", n],
            vec!["watch", dbw, "-n", n],
            vec!["patch", dbw, "-n", n],
            vec!["patch", dbw, "--subresource=status", "-n", n],
            vec!["create", "events", "-n", n],
            vec!["create", "events.events.k8s.io", "-n", n],
        ]);
        denied.extend([
            vec!["create", "secrets", "-n", n],
            vec!["update", "secrets", "-n", n],
            vec!["delete", "secrets", "-n", n],
            vec!["delete", dbw, "-n", n],
        ]);
    }
    let mut wrong = Vec::new();
    for args in &allowed {
        if !can_i(&sa, args) {
            wrong.push(format!("cannot {} (needed)", args.join(" ")));
        }
    }
    for args in &denied {
        if can_i(&sa, args) {
            wrong.push(format!("can {} (must not)", args.join(" ")));
        }
    }
    helm_ok(&["uninstall", "nsmode", "--namespace", ns]);
    assert!(wrong.is_empty(), "{sa}:\n{}", wrong.join("\n"));
}

/// Every file in `examples/` is accepted by the apiserver, applied in name order as a user would.
#[test]
fn examples_apply() {
    cluster_with_crds();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in &files {
        let (out, err) = kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
        assert_no_warnings(&format!("kubectl apply -f {}", file.display()), &err);
        assert!(!out.is_empty(), "{}: {out}", file.display());
    }
    let (names, _) = kubectl_ok(&[
        "get",
        "dbw",
        "-n",
        "data-platform",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    assert_eq!(names.trim(), "analytics-prod finance ml-sandbox");
}
