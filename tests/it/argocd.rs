//! The Argo CD health check (`deploy/argocd/health.lua`) run the way Argo CD runs it: a Lua 5.1
//! interpreter (Argo CD embeds gopher-lua, a Lua 5.1) with the resource as the global `obj`,
//! against the cases of `deploy/argocd/health_test.yaml` in Argo CD's own test layout.

use std::path::{Path, PathBuf};

use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaSerdeExt};
use serde::Deserialize;
use serde_json::Value;

fn argocd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `(status, message)` that `deploy/argocd/health.lua` returns for `obj`.
pub fn health(obj: &Value) -> (String, String) {
    let script = read(&argocd_dir().join("health.lua"));
    let lua = Lua::new();
    // JSON null is nil in Argo CD's conversion, not a truthy light userdata.
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let obj = lua.to_value_with(obj, options).expect("obj as a Lua value");
    lua.globals().set("obj", obj).expect("set obj");
    let hs: mlua::Table = lua
        .load(&script)
        .set_name("health.lua")
        .eval()
        .unwrap_or_else(|e| panic!("health.lua fails: {e}"));
    let field = |name: &str| -> String {
        hs.get::<Option<String>>(name)
            .expect("a string field")
            .unwrap_or_default()
    };
    (field("status"), field("message"))
}

#[derive(Deserialize)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: HealthStatus,
    input_path: String,
}

#[derive(Deserialize)]
struct HealthStatus {
    status: String,
    #[serde(default)]
    message: String,
}

#[test]
fn health_script_passes_its_argocd_test_cases() {
    let dir = argocd_dir();
    let cases: HealthTests =
        serde_saphyr::from_str(&read(&dir.join("health_test.yaml"))).expect("health_test.yaml");
    assert!(cases.tests.len() >= 8, "every health status is covered");
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for case in &cases.tests {
        let obj: Value = serde_saphyr::from_str(&read(&dir.join(&case.input_path)))
            .unwrap_or_else(|e| panic!("{}: {e}", case.input_path));
        let got = health(&obj);
        let want = (
            case.health_status.status.clone(),
            case.health_status.message.clone(),
        );
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", case.input_path));
        }
        seen.insert(want.0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["Degraded", "Healthy", "Progressing", "Suspended"]
    );
    // Every fixture is used by a case.
    for entry in std::fs::read_dir(dir.join("testdata")).expect("testdata") {
        let name = format!(
            "testdata/{}",
            entry.expect("entry").file_name().to_string_lossy()
        );
        assert!(
            cases.tests.iter().any(|c| c.input_path == name),
            "{name} is no case of health_test.yaml"
        );
    }
}

/// The argocd-cm patch users apply carries exactly the tested script, under the key Argo CD
/// reads for this group and kind.
#[test]
fn argocd_cm_patch_embeds_the_tested_script() {
    let dir = argocd_dir();
    let patch: Value =
        serde_saphyr::from_str(&read(&dir.join("argocd-cm-patch.yaml"))).expect("patch YAML");
    let embedded =
        patch["data"]["resource.customizations.health.brickwarden.io_DatabricksWorkspace"]
            .as_str()
            .expect("the health key in data");
    assert_eq!(embedded, read(&dir.join("health.lua")));
}

/// A status that is not an object, or conditions without reasons, still yield a health.
#[test]
fn health_script_tolerates_partial_statuses() {
    let obj = serde_json::json!({
        "metadata": {"name": "x", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False"}]},
    });
    assert_eq!(health(&obj), ("Degraded".into(), String::new()));
    let obj = serde_json::json!({
        "metadata": {"name": "x"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": null}]},
    });
    assert_eq!(
        health(&obj),
        (
            "Progressing".into(),
            "waiting for the Compliant condition".into()
        )
    );
}
