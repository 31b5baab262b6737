//! End to end on the real control plane: `brickwarden run` reconciles a `DatabricksAccount`
//! against the emulator's account API to Ready/Compliant, with an Event per remediated control,
//! its metric series, and no write on the next pass; a `DatabricksWorkspace` naming the account
//! (`spec.accountRef`) shows the account's bindings of it.
//!
//! As in `controller_e2e`: the test has its own namespace, Lease, label selector and emulator.

use std::time::Duration;

use serde_json::Value;

use crate::support::controller::{Controller, TIMEOUT};
use crate::support::harness::BlockingHarness;
use crate::support::harness::PAT;
use crate::support::kube::{
    apply, apply_secret, condition_is, expect_control, get_json, kubectl, resource_yaml,
};
use crate::support::wait_for;

/// The account's `resyncInterval`; passes are requeued after it, spread by ±10%.
const RESYNC: Duration = Duration::from_secs(5);
const ACCOUNT_ID: &str = "00000000-0000-0000-0000-0000000acc01";

/// An in-process emulator on its own runtime.
type Env = BlockingHarness;

/// What these tests read of the emulator.
trait AccountEnv {
    fn account_url(&self) -> String;
    fn account_requests(&self) -> Vec<(u64, String, String, u16)>;
    fn account_state(&self) -> Value;
}

impl AccountEnv for Env {
    fn account_url(&self) -> String {
        format!("{}/accounts", self.harness().emulator.base_url())
    }

    /// `(seq, method, path, status)` of the account API's requests.
    fn account_requests(&self) -> Vec<(u64, String, String, u16)> {
        self.harness()
            .emulator
            .requests()
            .into_iter()
            .filter(|r| r.workspace.as_deref() == Some("account"))
            .map(|r| (r.seq, r.method, r.path, r.status))
            .collect()
    }

    fn account_state(&self) -> Value {
        self.rt.block_on(self.harness().state("account"))
    }
}

fn account(ns: &str, name: &str) -> Value {
    get_json(&["dba", "-n", ns, name])
}

fn account_yaml(ns: &str, name: &str, label: &str, host: &str, workspace_id: i64) -> String {
    let spec = format!(
        r#"  host: {host}
  accountId: {ACCOUNT_ID}
  auth:
    databricksOAuth:
      clientId: brickwarden-account-admin
      clientSecretRef: {{name: account-sp, key: secret}}
  resyncInterval: {resync}s
  policy:
    ipAccessLists:
      enabled: true
      lists:
        - {{label: controller, type: ALLOW, addresses: [127.0.0.1]}}
    settings:
      disableLegacyFeatures: true
    networkConnectivityConfigs:
      - name: ncc-westeurope
        region: westeurope
        privateEndpointRules:
          - {{resourceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake, groupId: dfs}}
        workspaces: [{workspace_id}]
    networkPolicies:
      - name: restricted
        restrictionMode: RestrictedAccess
        allowedInternetDestinations: [pypi.org]
        enforcement: Enforced
        workspaces: [{workspace_id}]
"#,
        resync = RESYNC.as_secs()
    );
    resource_yaml("DatabricksAccount", ns, name, label, &spec)
}

#[test]
fn an_account_is_remediated_to_compliant_with_events_metrics_and_no_second_write() {
    let (ns, name, label) = ("e2e-account", "contoso", "account");
    kubectl(&["create", "namespace", ns]);
    let env = Env::start();
    let secret = brickwarden_emulator::EmulatorConfig::default().client_secret;
    apply_secret(ns, "account-sp", "secret", &secret);
    let ws1 = env.harness().workspace_id("ws-1");
    apply(&account_yaml(ns, name, label, &env.account_url(), ws1));
    // ws-1 as a workspace resource that names its account.
    apply_secret(ns, "pat", "token", PAT);
    let workspace_url = env.harness().emulator.workspace_url("ws-1");
    apply(&format!(
        r#"apiVersion: brickwarden.io/v1alpha1
kind: DatabricksWorkspace
metadata: {{name: analytics, namespace: {ns}, labels: {{e2e: {label}}}}}
spec:
  host: {workspace_url}
  accountRef: {name}
  workspaceId: {ws1}
  auth: {{personalAccessToken: {{secretRef: {{name: pat, key: token}}}}}}
  resyncInterval: {resync}s
  policy: {{workspaceConf: {{exportNotebook: false}}}}
"#,
        resync = RESYNC.as_secs()
    ));
    // The upstream PolicyReport CRD: the account gets its report too.
    crate::governance_e2e::install_report_crds();
    let ctl = Controller::start(ns, "e2e-account", "account-a", &format!("e2e={label}"));

    let diag = || format!("{:#}\n{}", account(ns, name)["status"], ctl.tail());
    let compliant = wait_for(
        TIMEOUT,
        &format!("{ns}/{name} Ready=True and Compliant=True"),
        diag,
        || {
            let a = account(ns, name);
            (condition_is(&a, "Ready", "True") && condition_is(&a, "Compliant", "True"))
                .then_some(a)
        },
    );

    // Every account control, as declared.
    for id in [
        "account/ipAccessLists/enabled",
        "account/ipAccessLists/list/controller",
        "accountSettings/disableLegacyFeatures",
        "ncc/ncc-westeurope",
        "ncc/ncc-westeurope/rule/lake/dfs",
        &format!("ncc/ncc-westeurope/workspace/{ws1}"),
        "networkPolicy/restricted",
        &format!("networkPolicy/restricted/workspace/{ws1}"),
    ] {
        let c = expect_control(&compliant, id);
        assert!(
            c["state"] == "Compliant" || c["state"] == "Remediated",
            "{id}: {c:#}"
        );
    }
    // The private endpoint waits for its owner's approval: brickwarden has done its part.
    let rule = expect_control(&compliant, "ncc/ncc-westeurope/rule/lake/dfs");
    assert!(
        rule["message"]
            .as_str()
            .is_some_and(|m| m.contains("awaiting approval")),
        "{rule:#}"
    );
    // The account API holds what was declared.
    let state = env.account_state();
    let text = state.to_string();
    for fragment in ["ncc-westeurope", "restricted", "pypi.org", "controller"] {
        assert!(text.contains(fragment), "{fragment} missing from {state:#}");
    }

    // An Event per remediated control, the control id as its action.
    let selector = format!("involvedObject.name={name},involvedObject.kind=DatabricksAccount");
    let events = get_json(&["events", "-n", ns, "--field-selector", &selector]);
    let actions: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == "Remediated")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for id in [
        "accountSettings/disableLegacyFeatures",
        "ncc/ncc-westeurope",
        "networkPolicy/restricted",
    ] {
        assert!(
            actions.contains(&id),
            "no Remediated event for {id}: {actions:?}"
        );
    }

    // Its metric series, named account/<name>.
    let metrics = wait_for(
        TIMEOUT,
        "the account's metric series",
        || ctl.tail(),
        || {
            let (_, text) = env.get(&ctl.url("/metrics"))?;
            text.contains(&format!("workspace=\"account/{name}\""))
                .then_some(text)
        },
    );
    let ratio = format!(
        "brickwarden_workspace_compliance_ratio{{namespace=\"{ns}\",workspace=\"account/{name}\"}} 1"
    );
    assert!(metrics.contains(&ratio), "{ratio} not in\n{metrics}");

    // A PolicyReport beside the account: one result per control, the summary adding up.
    let report = wait_for(
        TIMEOUT,
        "the account's PolicyReport",
        || ctl.tail(),
        || {
            let out = crate::support::controlplane::cluster_with_crds()
                .kubectl([
                    "get",
                    "policyreports.v1alpha2.wgpolicyk8s.io",
                    "-n",
                    ns,
                    &format!("brickwarden-account-{name}"),
                    "-o",
                    "json",
                ])
                .ok()?;
            out.status
                .success()
                .then(|| serde_json::from_slice::<Value>(&out.stdout).expect("JSON"))
        },
    );
    let results = report["results"].as_array().expect("results");
    assert_eq!(
        results.len(),
        compliant["status"]["controls"].as_array().unwrap().len(),
        "one result per control: {report:#}"
    );
    assert!(results.iter().all(|r| r["source"] == "brickwarden"));
    assert_eq!(report["scope"]["kind"], "DatabricksAccount");
    assert_eq!(report["summary"]["pass"], results.len(), "{report:#}");

    // The workspace shows the account's bindings of it (once a pass of it ran after the
    // account's), which do not count in its own score.
    let bindings = [
        format!("ncc/ncc-westeurope/workspace/{ws1}"),
        format!("networkPolicy/restricted/workspace/{ws1}"),
    ];
    let workspace = wait_for(
        RESYNC * 3 + TIMEOUT / 3,
        "the workspace's status.account with both bindings",
        || {
            format!(
                "{:#}\n{}",
                get_json(&["dbw", "-n", ns, "analytics"])["status"],
                ctl.tail()
            )
        },
        || {
            let ws = get_json(&["dbw", "-n", ns, "analytics"]);
            let shown: Vec<String> = ws["status"]["account"]["controls"]
                .as_array()?
                .iter()
                .filter(|c| c["state"] == "Compliant" || c["state"] == "Remediated")
                .filter_map(|c| c["id"].as_str().map(str::to_string))
                .collect();
            bindings.iter().all(|b| shown.contains(b)).then_some(ws)
        },
    );
    assert_eq!(workspace["status"]["account"]["name"], name);
    assert!(
        workspace["status"]["controls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["id"].as_str().unwrap_or_default().contains("/workspace/")),
        "the account's bindings are not the workspace's controls: {:#}",
        workspace["status"]
    );

    // The next pass reads and writes nothing: it is already as declared.
    let mark = env.account_requests().last().map_or(0, |(seq, ..)| *seq);
    let next_pass = wait_for(
        RESYNC * 3 + TIMEOUT / 3,
        "a later pass over the account",
        || ctl.tail(),
        || {
            let after: Vec<_> = env
                .account_requests()
                .into_iter()
                .filter(|(seq, ..)| *seq > mark)
                .collect();
            // A pass reads the network policy list last of its families' first reads.
            after
                .iter()
                .any(|(_, m, p, _)| m == "GET" && p.ends_with("/network"))
                .then_some(after)
        },
    );
    let writes: Vec<_> = next_pass
        .iter()
        .filter(|(_, m, p, _)| m != "GET" && !p.contains("/oidc/"))
        .collect();
    assert!(
        writes.is_empty(),
        "a compliant account was written: {writes:?}"
    );

    // No secret in the status, the events or the logs.
    for (what, text) in [
        ("status", compliant.to_string()),
        ("events", events.to_string()),
        ("logs", ctl.logs()),
    ] {
        assert!(
            !text.contains(&secret),
            "the client secret appears in the {what}"
        );
    }
}
