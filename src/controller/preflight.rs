//! What `brickwarden run` checks before it waits for leadership, so that a start-up failure is
//! one line naming the cause and the fix instead of an API status dump: no Kubernetes
//! configuration, a missing Lease namespace, CRDs not installed, RBAC refusing what the
//! controller needs.

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};

use crate::api::{DatabricksAccount, DatabricksWorkspace, SecurityBaseline};

/// A start-up failure, as one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct StartupError(pub String);

/// The Kubernetes client, from the in-cluster service account or the kubeconfig.
pub async fn client() -> Result<Client, StartupError> {
    Client::try_default().await.map_err(|e| {
        StartupError(format!(
            "no Kubernetes configuration: run brickwarden in a cluster or point KUBECONFIG at a \
             kubeconfig ({e})"
        ))
    })
}

/// The namespace of the Lease: the flag or `POD_NAMESPACE` in a cluster, else the kubeconfig
/// context's namespace (as kubectl would use).
pub fn lease_namespace(flag: Option<&str>, client: &Client) -> String {
    flag.map(str::to_string)
        .unwrap_or_else(|| client.default_namespace().to_string())
}

/// Lists what the controller needs once, so that a missing CRD, namespace or permission is
/// named before anything else happens: the workspaces (cluster-wide, or in each watched
/// namespace), the baselines, and the Leases of `lease_namespace`, where a server-side dry run
/// of creating the Lease finds a missing namespace (a list there would answer an empty list).
pub async fn check(
    client: &Client,
    lease_namespace: &str,
    lease_name: &str,
    watch_namespaces: &[String],
) -> Result<(), StartupError> {
    let one = ListParams::default().limit(1);
    can_watch::<DatabricksWorkspace>(client, watch_namespaces).await?;
    can_watch::<DatabricksAccount>(client, watch_namespaces).await?;
    Api::<SecurityBaseline>::all(client.clone())
        .list_metadata(&one)
        .await
        .map_err(|e| explain(&e, Need::Crd("securitybaselines.brickwarden.io")))?;
    let leases = Api::<Lease>::namespaced(client.clone(), lease_namespace);
    leases
        .list_metadata(&one)
        .await
        .map_err(|e| explain(&e, Need::LeaseNamespace(lease_namespace)))?;
    let lease = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some(lease_name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    match leases.create(&dry_run, &lease).await {
        Ok(_) => Ok(()),
        // The Lease exists: so does its namespace.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(explain(&e, Need::LeaseNamespace(lease_namespace))),
    }
}

/// Lists one `K` cluster-wide, or in each watched namespace.
async fn can_watch<K: super::posture::Posture>(
    client: &Client,
    watch_namespaces: &[String],
) -> Result<(), StartupError> {
    let one = ListParams::default().limit(1);
    let crd = format!("{}.{}", K::plural(&()), K::group(&()));
    if watch_namespaces.is_empty() {
        Api::<K>::all(client.clone())
            .list_metadata(&one)
            .await
            .map_err(|e| explain(&e, Need::Crd(&crd)))?;
    }
    for ns in watch_namespaces {
        Api::<K>::namespaced(client.clone(), ns)
            .list_metadata(&one)
            .await
            .map_err(|e| explain(&e, Need::WatchedNamespace(&crd, ns)))?;
    }
    Ok(())
}

/// What a failed start-up request was for.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    Crd(&'a str),
    /// A CRD's resources in one watched namespace (`--watch-namespace`).
    WatchedNamespace(&'a str, &'a str),
    LeaseNamespace(&'a str),
}

/// One line for a failed start-up request: the cause and the fix.
pub fn explain(error: &kube::Error, need: Need) -> StartupError {
    let status = match error {
        kube::Error::Api(status) => Some(status.as_ref()),
        _ => None,
    };
    let code = status.map(|s| s.code).unwrap_or_default();
    let message = match (code, need) {
        (404, Need::Crd(crd)) => format!(
            "the CRD {crd} is not installed: kubectl apply --server-side -f crds/ (or install \
             the Helm chart)"
        ),
        (404, Need::WatchedNamespace(crd, _)) => format!(
            "the CRD {crd} is not installed: kubectl apply --server-side -f crds/ (or install \
             the Helm chart)"
        ),
        (403, Need::WatchedNamespace(crd, ns)) => format!(
            "forbidden to list {crd} in the watched namespace {ns:?}: bind the controller's \
             identity to the brickwarden Role there (the Helm chart's watchNamespaces), or stop \
             watching it (--watch-namespace, BRICKWARDEN_WATCH_NAMESPACES)"
        ),
        (404, Need::LeaseNamespace(ns)) => format!(
            "the Lease namespace {ns:?} does not exist: create it (kubectl create namespace \
             {ns}) or choose another with --lease-namespace or POD_NAMESPACE"
        ),
        (403, Need::Crd(crd)) => format!(
            "forbidden to list {crd}: bind the controller's identity to the brickwarden \
             ClusterRole (deploy/02-rbac.yaml or the Helm chart)"
        ),
        (403, Need::LeaseNamespace(ns)) => format!(
            "forbidden to use Leases in namespace {ns:?}: bind the controller's identity to the \
             brickwarden leader-election Role there (deploy/02-rbac.yaml or the Helm chart), or \
             choose another namespace with --lease-namespace"
        ),
        (401, _) => "the Kubernetes API refused the credentials of the kubeconfig or service \
                     account: refresh them (e.g. log in again) and retry"
            .to_string(),
        _ => {
            let what = match need {
                Need::Crd(crd) => format!("list {crd}"),
                Need::WatchedNamespace(crd, ns) => format!("list {crd} in namespace {ns:?}"),
                Need::LeaseNamespace(ns) => format!("list Leases in namespace {ns:?}"),
            };
            let why = status.map_or_else(|| error.to_string(), |s| s.message.clone());
            format!("cannot {what}: {why}: check that the Kubernetes API is reachable")
        }
    };
    StartupError(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: message.into(),
            reason: "x".into(),
            ..Default::default()
        }))
    }

    #[test]
    fn each_cause_is_one_line_with_its_fix() {
        let crd = Need::Crd("databricksworkspaces.brickwarden.io");
        let lease = Need::LeaseNamespace("brickwarden-system");
        let cases = [
            (
                api_error(404, "the server could not find"),
                crd,
                "kubectl apply --server-side -f crds/",
            ),
            (
                api_error(404, "namespaces \"brickwarden-system\" not found"),
                lease,
                "kubectl create namespace brickwarden-system",
            ),
            (api_error(403, "forbidden"), crd, "ClusterRole"),
            (api_error(403, "forbidden"), lease, "leader-election Role"),
            (api_error(401, "Unauthorized"), crd, "credentials"),
            (api_error(500, "etcd timeout"), lease, "etcd timeout"),
        ];
        for (error, need, fix) in cases {
            let StartupError(line) = explain(&error, need);
            assert!(line.contains(fix), "{line}");
            assert!(!line.contains('\n'), "{line}");
            assert!(!line.contains("Status {"), "no status dump: {line}");
        }
    }
}
