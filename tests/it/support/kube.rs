//! The apiserver as the end-to-end tests read and write it: kubectl against the shared control
//! plane with the CRDs installed, DatabricksWorkspace conditions, Lease holders.

use serde_json::Value;

use super::controlplane::cluster_with_crds;

pub fn kubectl(args: &[&str]) -> String {
    cluster_with_crds()
        .kubectl_ok(args)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

pub fn apply(yaml: &str) {
    let out = cluster_with_crds()
        .kubectl_stdin(["apply", "-f", "-"], yaml.as_bytes())
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl apply failed: {}\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A DatabricksWorkspace `ns/name` labelled `e2e=<label>` at `host`, with the PAT in Secret
/// `secret` (key `token`) and resynced every `resync` (`5s`); `spec` (YAML indented by 2)
/// completes its spec.
pub fn workspace_yaml(
    ns: &str,
    name: &str,
    label: &str,
    host: &str,
    secret: &str,
    resync: &str,
    spec: &str,
) -> String {
    let spec = format!(
        r#"  host: {host}
  auth:
    personalAccessToken:
      secretRef: {{name: {secret}, key: token}}
  resyncInterval: {resync}
{spec}"#
    );
    resource_yaml("DatabricksWorkspace", ns, name, label, &spec)
}

/// A brickwarden `kind` `ns/name` labelled `e2e=<label>` with `spec` (YAML indented by 2).
pub fn resource_yaml(kind: &str, ns: &str, name: &str, label: &str, spec: &str) -> String {
    format!(
        r#"apiVersion: brickwarden.io/v1alpha1
kind: {kind}
metadata:
  name: {name}
  namespace: {ns}
  labels: {{e2e: {label}}}
spec:
{spec}"#
    )
}

/// Applies Secret `name` in namespace `ns` holding `value` under `key`.
pub fn apply_secret(ns: &str, name: &str, key: &str, value: &str) {
    apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData:\n  {key}: {value}\n"
    ));
}

pub fn get_json(args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&kubectl(&full)).expect("kubectl -o json")
}

/// The Events of the objects named `name` in namespace `ns` (an EventList).
pub fn events(ns: &str, name: &str) -> Value {
    let selector = format!("involvedObject.name={name}");
    get_json(&["events", "-n", ns, "--field-selector", &selector])
}

pub fn workspace(ns: &str, name: &str) -> Value {
    get_json(&["dbw", "-n", ns, name])
}

pub fn condition<'a>(ws: &'a Value, type_: &str) -> Option<&'a Value> {
    ws["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Control `id` of a resource's `status.controls`.
pub fn control<'a>(resource: &'a Value, id: &str) -> Option<&'a Value> {
    resource["status"]["controls"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
}

/// Control `id` of a resource's `status.controls`, which must be there.
pub fn expect_control<'a>(resource: &'a Value, id: &str) -> &'a Value {
    control(resource, id).unwrap_or_else(|| panic!("no control {id} in {:#}", resource["status"]))
}

pub fn condition_is(ws: &Value, type_: &str, status: &str) -> bool {
    condition(ws, type_).is_some_and(|c| c["status"] == status)
}

pub fn reason_of(ws: &Value, type_: &str) -> String {
    condition(ws, type_)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The holder of a Lease, if it exists and is held.
pub fn lease_holder(ns: &str, lease: &str) -> Option<String> {
    lease_fields(ns, lease, "{.spec.holderIdentity}").filter(|holder| !holder.is_empty())
}

/// `(holderIdentity, renewTime)` of a Lease, as the apiserver has them.
pub fn lease_state(ns: &str, lease: &str) -> Option<(String, String)> {
    let text = lease_fields(ns, lease, "{.spec.holderIdentity} {.spec.renewTime}")?;
    let (holder, renew) = text.split_once(' ')?;
    (!holder.is_empty()).then(|| (holder.to_string(), renew.to_string()))
}

/// A jsonpath of a Lease; `None` when it does not exist.
fn lease_fields(ns: &str, lease: &str, jsonpath: &str) -> Option<String> {
    let out = cluster_with_crds()
        .kubectl([
            "get",
            "lease",
            "-n",
            ns,
            lease,
            "-o",
            &format!("jsonpath={jsonpath}"),
        ])
        .expect("kubectl runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
