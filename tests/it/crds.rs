//! `crds/` holds exactly what `brickwarden crd` prints: regenerate with
//! `cargo run -- crd > crds/brickwarden.io.yaml` after changing the API types.

use std::process::Command;

#[test]
fn committed_crds_match_generated() {
    let output = Command::new(env!("CARGO_BIN_EXE_brickwarden"))
        .arg("crd")
        .output()
        .expect("run brickwarden crd");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).expect("utf-8");
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crds/brickwarden.io.yaml"
    ))
    .expect("read crds/brickwarden.io.yaml");
    assert!(
        generated == committed,
        "crds/brickwarden.io.yaml is stale: run `cargo run -- crd > crds/brickwarden.io.yaml`"
    );
    assert!(
        generated.contains("x-kubernetes-validations"),
        "CEL rules are part of the CRDs"
    );
}
