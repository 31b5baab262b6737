//! Step 1's second half: from a workspace's `auth` and the secret value its caller loaded (from a
//! Kubernetes Secret in the controller, from the environment in the CLI) to connected clients.

use std::path::PathBuf;

use secrecy::SecretString;
use url::Url;

use super::Connections;
use crate::api::{DatabricksAccountSpec, DatabricksWorkspaceSpec, WorkspaceAuth};
use crate::clients::{ArmClient, ClientOptions, Credential, DatabricksClient};
use crate::controls::account::AccountApis;

/// Where AKS workload identity mounts the federated token, unless `AZURE_FEDERATED_TOKEN_FILE`
/// says otherwise.
pub const DEFAULT_FEDERATED_TOKEN_FILE: &str = "/var/run/secrets/azure/tokens/azure-identity-token";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("auth.{method} needs a secret value, but none was provided ({hint})")]
    MissingSecret { method: &'static str, hint: String },
    #[error("spec.auth sets no method")]
    NoMethod,
    #[error("spec.host {host:?} is not a valid URL: {reason}")]
    BadHost { host: String, reason: String },
    #[error("could not build the API client: {0}")]
    Client(String),
}

/// Builds the credential of `auth`. `secret` is the value of the method's Secret key (or the
/// matching environment variable); `hint` says where it should have come from.
pub fn credential_for(
    auth: &WorkspaceAuth,
    secret: Option<SecretString>,
    federated_token_file: Option<PathBuf>,
    hint: &str,
) -> Result<Credential, CredentialError> {
    let method = auth.method_name();
    let secret = || {
        secret
            .clone()
            .ok_or_else(|| CredentialError::MissingSecret {
                method,
                hint: hint.to_string(),
            })
    };
    if auth.personal_access_token.is_some() {
        return Ok(Credential::PersonalAccessToken(secret()?));
    }
    if let Some(a) = &auth.databricks_oauth {
        return Ok(Credential::DatabricksOAuth {
            client_id: a.client_id.clone(),
            client_secret: secret()?,
        });
    }
    if let Some(a) = &auth.azure_client_secret {
        return Ok(Credential::AzureClientSecret {
            tenant_id: a.tenant_id.clone(),
            client_id: a.client_id.clone(),
            client_secret: secret()?,
        });
    }
    if let Some(a) = &auth.azure_workload_identity {
        return Ok(Credential::AzureWorkloadIdentity {
            tenant_id: a.tenant_id.clone(),
            client_id: a.client_id.clone(),
            token_file: federated_token_file
                .unwrap_or_else(|| PathBuf::from(DEFAULT_FEDERATED_TOKEN_FILE)),
        });
    }
    Err(CredentialError::NoMethod)
}

/// Connects to the account API of `spec.accountId` at `spec.host`.
pub fn connect_account(
    spec: &DatabricksAccountSpec,
    credential: Credential,
    options: &ClientOptions,
) -> Result<AccountApis, CredentialError> {
    let host = Url::parse(&spec.host).map_err(|e| CredentialError::BadHost {
        host: spec.host.clone(),
        reason: e.to_string(),
    })?;
    let databricks =
        DatabricksClient::for_account(host, &spec.account_id, credential, options.clone())
            .map_err(|e| CredentialError::Client(e.to_string()))?;
    Ok(AccountApis { databricks })
}

/// Connects to the workspace and, when it has an `azureResourceId` and an Entra ID identity, to
/// ARM.
pub fn connect(
    spec: &DatabricksWorkspaceSpec,
    credential: Credential,
    options: &ClientOptions,
    arm_base_url: &Url,
) -> Result<Connections, CredentialError> {
    let host = Url::parse(&spec.host).map_err(|e| CredentialError::BadHost {
        host: spec.host.clone(),
        reason: e.to_string(),
    })?;
    let arm = match (&spec.azure_resource_id, credential.is_azure()) {
        (Some(_), true) => Some(
            ArmClient::new(arm_base_url.clone(), credential.clone(), options.clone())
                .map_err(|e| CredentialError::Client(e.to_string()))?,
        ),
        _ => None,
    };
    let databricks = DatabricksClient::new(host, credential, options.clone())
        .map_err(|e| CredentialError::Client(e.to_string()))?;
    Ok(Connections {
        databricks,
        arm,
        azure_resource_id: spec.azure_resource_id.clone(),
    })
}
