//! What the pipeline reconciles, whoever calls it (the controller, `plan`/`apply`, `demo`): a
//! `DatabricksWorkspace` or a `DatabricksAccount`. Each has its own policy, clients and
//! families; resolving, connecting and one pass look the same from outside.

use std::future::Future;

use url::Url;

use super::credentials::{self, CredentialError};
use super::{Apply, KindPolicy, Reach, Report, Target, TargetError};
use crate::api::{
    AccountPolicy, DatabricksAccount, DatabricksWorkspace, Governance, Policy,
    SecurityBaselineSpec, WorkspaceAuth,
};
use crate::clients::{ClientOptions, Credential};
use crate::controls::WorkspaceApis;
use crate::controls::account::AccountApis;

pub trait Subject: Send + Sync {
    type Policy: KindPolicy;
    type Apis: Clone + Send + Sync;

    /// What logs and messages call it: `workspace` or `account`.
    const NOUN: &'static str;

    /// Where its API is.
    fn host(&self) -> &str;
    fn auth(&self) -> &WorkspaceAuth;
    fn baseline_ref(&self) -> Option<&str>;
    fn governance(&self) -> &Governance;
    /// Its own policy, over its baseline's.
    fn policy(&self) -> Option<&Self::Policy>;

    fn connect(
        &self,
        credential: Credential,
        options: &ClientOptions,
        arm_url: &Url,
    ) -> Result<Self::Apis, CredentialError>;

    /// One pass over its families.
    fn reconcile(
        target: &Target<Self::Policy>,
        apis: &Self::Apis,
        apply: Apply,
    ) -> impl Future<Output = Report> + Send;

    /// Step 1: the resolved policy over `baseline` and the governance of the pass.
    fn target(
        &self,
        baseline: Option<&SecurityBaselineSpec>,
        reach: &Reach,
        now: jiff::Timestamp,
    ) -> Result<Target<Self::Policy>, TargetError> {
        super::target_for(self.policy(), self.governance(), baseline, reach, now)
    }
}

impl Subject for DatabricksWorkspace {
    type Policy = Policy;
    type Apis = WorkspaceApis;
    const NOUN: &'static str = "workspace";

    fn host(&self) -> &str {
        &self.spec.host
    }

    fn auth(&self) -> &WorkspaceAuth {
        &self.spec.auth
    }

    fn baseline_ref(&self) -> Option<&str> {
        self.spec.baseline_ref.as_deref()
    }

    fn governance(&self) -> &Governance {
        &self.spec.governance
    }

    fn policy(&self) -> Option<&Policy> {
        self.spec.policy.as_ref()
    }

    fn connect(
        &self,
        credential: Credential,
        options: &ClientOptions,
        arm_url: &Url,
    ) -> Result<WorkspaceApis, CredentialError> {
        credentials::connect(&self.spec, credential, options, arm_url)
    }

    async fn reconcile(target: &Target<Policy>, apis: &WorkspaceApis, apply: Apply) -> Report {
        super::reconcile(target, apis, apply).await
    }
}

impl Subject for DatabricksAccount {
    type Policy = AccountPolicy;
    type Apis = AccountApis;
    const NOUN: &'static str = "account";

    fn host(&self) -> &str {
        &self.spec.host
    }

    fn auth(&self) -> &WorkspaceAuth {
        &self.spec.auth
    }

    fn baseline_ref(&self) -> Option<&str> {
        self.spec.baseline_ref.as_deref()
    }

    fn governance(&self) -> &Governance {
        &self.spec.governance
    }

    fn policy(&self) -> Option<&AccountPolicy> {
        self.spec.policy.as_ref()
    }

    /// The account API needs no ARM.
    fn connect(
        &self,
        credential: Credential,
        options: &ClientOptions,
        _arm_url: &Url,
    ) -> Result<AccountApis, CredentialError> {
        credentials::connect_account(&self.spec, credential, options)
    }

    async fn reconcile(target: &Target<AccountPolicy>, apis: &AccountApis, apply: Apply) -> Report {
        super::reconcile_account(target, apis, apply).await
    }
}
