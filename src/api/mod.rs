//! The custom resources: `DatabricksWorkspace`, `DatabricksAccount` and `SecurityBaseline`
//! (`brickwarden.io/v1alpha1`).

mod account;
mod baseline;
mod governance;
mod policy;
mod status;
mod validation;
mod workspace;

pub use account::*;
pub use baseline::*;
pub use governance::*;
pub use policy::*;
pub use status::*;
pub use validation::{Resource, ValidationError, validate_resource};
pub use workspace::*;

use kube::CustomResourceExt;

/// The CRDs as `brickwarden crd` prints them and `crds/` holds them.
#[expect(
    clippy::expect_used,
    reason = "derived CRDs always serialize; `tests/crds.rs` diffs the output"
)]
pub fn crds_yaml() -> String {
    let mut out = String::new();
    for crd in [
        DatabricksWorkspace::crd(),
        DatabricksAccount::crd(),
        SecurityBaseline::crd(),
    ] {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd).expect("CRD serializes to YAML"));
    }
    out
}
