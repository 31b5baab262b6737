//! Smoke test of the integration-test control plane (`support::controlplane`):
//! a real etcd + kube-apiserver answers kubectl, and helm and promtool run.

use crate::support::controlplane::ControlPlane;

#[test]
fn control_plane_serves_kubectl_and_tools_run() {
    let cp = ControlPlane::start().expect("control plane starts");

    let readyz = cp
        .kubectl_ok(["get", "--raw", "/readyz"])
        .expect("kubectl get --raw /readyz");
    assert_eq!(readyz.trim(), "ok");

    let created = cp
        .kubectl_ok(["create", "namespace", "smoke"])
        .expect("kubectl create namespace smoke");
    assert!(created.contains("namespace/smoke created"), "{created}");
    let phase = cp
        .kubectl_ok([
            "get",
            "namespace",
            "smoke",
            "-o",
            "jsonpath={.status.phase}",
        ])
        .expect("kubectl get namespace smoke");
    assert_eq!(phase, "Active");

    // RBAC is enforced: an unknown token is rejected.
    let anonymous = cp
        .kubectl(["get", "namespaces", "--token=not-a-valid-token"])
        .expect("kubectl runs");
    assert!(
        !anonymous.status.success(),
        "an unknown token must be rejected"
    );

    let version = cp
        .kubectl_ok(["version", "-o", "json"])
        .expect("kubectl version");
    assert!(version.contains("\"gitVersion\": \"v1.37."), "{version}");

    let helm = cp.helm(["version", "--short"]).expect("helm runs");
    assert!(
        helm.status.success(),
        "helm version: {}",
        String::from_utf8_lossy(&helm.stderr)
    );
    assert!(String::from_utf8_lossy(&helm.stdout).starts_with("v3."));

    let promtool = std::process::Command::new(cp.bin_dir().join("promtool"))
        .arg("--version")
        .output()
        .expect("promtool runs");
    assert!(
        promtool.status.success(),
        "promtool --version: {}",
        String::from_utf8_lossy(&promtool.stderr)
    );
    assert!(String::from_utf8_lossy(&promtool.stdout).contains("promtool, version 3."));

    let dir = cp.dir().to_path_buf();
    drop(cp);
    assert!(
        !dir.exists(),
        "the control plane's directory is removed on drop"
    );
}

#[test]
fn kube_client_talks_to_the_shared_control_plane() {
    let cp = ControlPlane::shared().expect("shared control plane starts");
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let client = cp.kube_client().await.expect("kube client");
        let info = client.apiserver_version().await.expect("GET /version");
        assert_eq!(info.major, "1");
        assert!(
            info.git_version.starts_with("v1.37."),
            "{}",
            info.git_version
        );
    });
}
