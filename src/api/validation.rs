//! The apiserver's validation, run without an apiserver.
//!
//! `brickwarden plan -f` reads resources from files, so it must reject exactly what
//! `kubectl apply` would: the OpenAPI schema (types, enums, ranges, lengths) and the CEL rules
//! (`x-kubernetes-validations`) of the generated CRDs. Both come from the CRD itself, so there is
//! one source of truth for the two paths.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use super::{DatabricksAccount, DatabricksWorkspace, SecurityBaseline};

struct CompiledCrd {
    schema: Value,
    structural: jsonschema::Validator,
}

impl CompiledCrd {
    #[expect(
        clippy::expect_used,
        reason = "the CRDs are derived at compile time and their schemas are tested to compile"
    )]
    fn new(crd: CustomResourceDefinition) -> CompiledCrd {
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("derived CRDs carry an openAPIV3Schema"),
        )
        .expect("schema serializes");
        let structural = jsonschema::validator_for(&schema).expect("generated schema compiles");
        CompiledCrd { schema, structural }
    }

    fn validate(&self, object: &Value) -> Result<(), Vec<String>> {
        let mut problems: Vec<String> = self
            .structural
            .iter_errors(object)
            .map(|e| format!("{}: {}", display_path(&e.instance_path().to_string()), e))
            .collect();
        // CEL rules assume a structurally valid object; evaluating them on a broken one only
        // repeats the same problem in a more confusing form.
        if problems.is_empty()
            && let Err(errors) =
                kube::core::cel::Validator::new().validate(&self.schema, object, None)
        {
            problems.extend(errors.into_vec().into_iter().map(|e| e.to_string()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn display_path(pointer: &str) -> String {
    if pointer.is_empty() {
        "<root>".to_string()
    } else {
        pointer.trim_start_matches('/').replace('/', ".")
    }
}

fn workspace_crd() -> &'static CompiledCrd {
    static CRD: OnceLock<CompiledCrd> = OnceLock::new();
    CRD.get_or_init(|| CompiledCrd::new(DatabricksWorkspace::crd()))
}

fn account_crd() -> &'static CompiledCrd {
    static CRD: OnceLock<CompiledCrd> = OnceLock::new();
    CRD.get_or_init(|| CompiledCrd::new(DatabricksAccount::crd()))
}

fn baseline_crd() -> &'static CompiledCrd {
    static CRD: OnceLock<CompiledCrd> = OnceLock::new();
    CRD.get_or_init(|| CompiledCrd::new(SecurityBaseline::crd()))
}

/// A resource read from a file, validated as the apiserver would.
#[derive(Debug, Clone)]
pub enum Resource {
    Workspace(Box<DatabricksWorkspace>),
    Account(Box<DatabricksAccount>),
    Baseline(Box<SecurityBaseline>),
}

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{kind} {name}: {}", problems.join("; "))]
    Invalid {
        kind: String,
        name: String,
        problems: Vec<String>,
    },
    #[error(
        "unsupported resource {api_version}/{kind}: expected brickwarden.io/v1alpha1 DatabricksWorkspace, DatabricksAccount or SecurityBaseline"
    )]
    UnsupportedKind { api_version: String, kind: String },
}

/// Validates one object (as parsed from YAML or JSON) against the CRD schemas and CEL rules.
pub fn validate_resource(object: Value) -> Result<Resource, ValidationError> {
    let str_field = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (api_version, kind) = (str_field("apiVersion"), str_field("kind"));
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let crd = match (api_version.as_str(), kind.as_str()) {
        ("brickwarden.io/v1alpha1", "DatabricksWorkspace") => workspace_crd(),
        ("brickwarden.io/v1alpha1", "DatabricksAccount") => account_crd(),
        ("brickwarden.io/v1alpha1", "SecurityBaseline") => baseline_crd(),
        _ => return Err(ValidationError::UnsupportedKind { api_version, kind }),
    };
    let invalid = |problems| ValidationError::Invalid {
        kind: kind.clone(),
        name: name.clone(),
        problems,
    };
    crd.validate(&object).map_err(invalid)?;
    let typed = match kind.as_str() {
        "DatabricksWorkspace" => {
            serde_json::from_value(object).map(|w| Resource::Workspace(Box::new(w)))
        }
        "DatabricksAccount" => {
            serde_json::from_value(object).map(|a| Resource::Account(Box::new(a)))
        }
        _ => serde_json::from_value(object).map(|b| Resource::Baseline(Box::new(b))),
    };
    typed.map_err(|e| invalid(vec![e.to_string()]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workspace(spec: Value) -> Value {
        json!({
            "apiVersion": "brickwarden.io/v1alpha1",
            "kind": "DatabricksWorkspace",
            "metadata": {"name": "analytics-prod", "namespace": "data-platform"},
            "spec": spec,
        })
    }

    fn pat_spec(policy: Value) -> Value {
        json!({
            "host": "https://adb-1.7.azuredatabricks.net",
            "auth": {"personalAccessToken": {"secretRef": {"name": "pat", "key": "token"}}},
            "policy": policy,
        })
    }

    fn problems(object: Value) -> String {
        match validate_resource(object) {
            Ok(_) => panic!("expected the resource to be rejected"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepts_the_design_example() {
        let ws = workspace(json!({
            "host": "https://adb-1234567890123456.7.azuredatabricks.net",
            "azureResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w",
            "auth": {"azureWorkloadIdentity": {"clientId": "c", "tenantId": "t"}},
            "baselineRef": "highly-secure",
            "mode": "Enforce",
            "resyncInterval": "5m",
            "policy": {
                "ipAccessLists": {"enabled": true, "management": "Exclusive", "lists": [
                    {"label": "corp-vpn", "type": "ALLOW", "addresses": ["203.0.113.0/24", "198.51.100.7"]},
                    {"label": "known-bad", "type": "BLOCK", "addresses": ["192.0.2.0/24"]}]},
                "tokens": {"enabled": true, "maxLifetimeDays": 90,
                    "permissions": {"management": "Exclusive", "canUse": [{"group": "data-engineers"}, {"servicePrincipal": "6f1c"}, {"user": "a@example.com"}]},
                    "revoke": {"withoutExpiry": false, "olderThanMaxLifetime": false}},
                "workspaceConf": {"exportNotebook": false, "maxUserInactiveDays": 90, "extra": {"enableWorkspaceFilesystem": "true"}},
                "settings": {"restrictWorkspaceAdmins": true, "complianceSecurityProfile": true},
                "secretScopes": [{"scope": "etl", "management": "Exclusive", "acls": [{"principal": "data-engineers", "permission": "READ"}]}],
                "azure": {"noPublicIp": true, "publicNetworkAccess": "Disabled", "vnetInjection": true,
                    "customerManagedKeys": {"managedServices": true, "managedDisks": true},
                    "diagnosticLogs": {"name": "brickwarden", "logAnalyticsWorkspaceId": "/subscriptions/x", "categories": ["accounts"]}}
            }
        }));
        let Resource::Workspace(ws) = validate_resource(ws).expect("valid") else {
            panic!("kind")
        };
        assert_eq!(
            ws.spec.governance.resync_interval(),
            std::time::Duration::from_secs(300)
        );
    }

    #[test]
    fn rejects_missing_and_double_auth() {
        let none = workspace(json!({"host": "https://h", "auth": {}}));
        assert!(problems(none).contains("exactly one of"));
        let two = workspace(json!({"host": "https://h", "auth": {
            "personalAccessToken": {"secretRef": {"name": "a", "key": "b"}},
            "azureWorkloadIdentity": {"clientId": "c", "tenantId": "t"}}}));
        assert!(problems(two).contains("exactly one of"));
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in ["10.0.0.0/33", "not-an-ip", "2001:db8::/32", "300.1.1.1"] {
            let ws = workspace(pat_spec(json!({"ipAccessLists": {"lists": [
                {"label": "x", "type": "ALLOW", "addresses": [bad]}]}})));
            assert!(
                problems(ws).contains("IPv4 addresses or CIDR"),
                "{bad} must be rejected"
            );
        }
        let ok = workspace(pat_spec(json!({"ipAccessLists": {"lists": [
            {"label": "x", "type": "ALLOW", "addresses": ["10.0.0.0/8", "192.0.2.1"]}]}})));
        validate_resource(ok).expect("IPv4 address and prefix are accepted");
    }

    #[test]
    fn rejects_more_than_1000_addresses_in_all_lists() {
        let addresses = |from: u32, n: u32| -> Vec<String> {
            (from..from + n)
                .map(|i| format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255))
                .collect()
        };
        let lists = |second: u32| {
            json!({"ipAccessLists": {"lists": [
            {"label": "a", "type": "ALLOW", "addresses": addresses(0, 600)},
            {"label": "b", "type": "ALLOW", "addresses": addresses(600, second)}]}})
        };
        validate_resource(workspace(pat_spec(lists(400)))).expect("exactly 1000 is fine");
        assert!(problems(workspace(pat_spec(lists(401)))).contains("at most 1000 addresses"));
    }

    #[test]
    fn rejects_duplicate_labels() {
        let ws = workspace(pat_spec(json!({"ipAccessLists": {"lists": [
            {"label": "x", "type": "ALLOW", "addresses": ["10.0.0.1"]},
            {"label": "x", "type": "BLOCK", "addresses": ["10.0.0.2"]}]}})));
        assert!(problems(ws).contains("labels must be unique"));
    }

    #[test]
    fn rejects_token_lifetime_out_of_range() {
        for days in [0, 731] {
            let ws = workspace(pat_spec(json!({"tokens": {"maxLifetimeDays": days}})));
            assert!(problems(ws).contains("maxLifetimeDays"), "{days}");
        }
        validate_resource(workspace(pat_spec(
            json!({"tokens": {"maxLifetimeDays": 730}}),
        )))
        .unwrap();
    }

    #[test]
    fn rejects_unknown_enums() {
        let mut ws = workspace(pat_spec(json!({})));
        ws["spec"]["mode"] = json!("Yolo");
        assert!(problems(ws).contains("mode"));
        let ws = workspace(pat_spec(
            json!({"tokens": {"permissions": {"management": "Sometimes"}}}),
        ));
        assert!(problems(ws).contains("management"));
        let ws = workspace(pat_spec(
            json!({"secretScopes": [{"scope": "s", "acls": [{"principal": "p", "permission": "OWN"}]}]}),
        ));
        assert!(problems(ws).contains("permission"));
    }

    #[test]
    fn rejects_principal_with_two_kinds() {
        let ws = workspace(pat_spec(
            json!({"tokens": {"permissions": {"canUse": [{"group": "g", "user": "u"}]}}}),
        ));
        assert!(problems(ws).contains("exactly one of group, user or servicePrincipal"));
    }

    #[test]
    fn azure_needs_a_resource_id() {
        let ws = workspace(pat_spec(json!({"azure": {"noPublicIp": true}})));
        assert!(problems(ws).contains("needs spec.azureResourceId"));
    }

    #[test]
    fn compliance_security_profile_cannot_be_declared_off() {
        let ws = workspace(pat_spec(
            json!({"settings": {"complianceSecurityProfile": false}}),
        ));
        assert!(problems(ws).contains("cannot be turned off"));
    }

    #[test]
    fn rejects_bad_resync_interval() {
        let mut ws = workspace(pat_spec(json!({})));
        ws["spec"]["resyncInterval"] = json!("five minutes");
        assert!(problems(ws).contains("resyncInterval"));
    }

    #[test]
    fn rejects_other_kinds() {
        let err = validate_resource(json!({"apiVersion": "v1", "kind": "ConfigMap"})).unwrap_err();
        assert!(matches!(err, ValidationError::UnsupportedKind { .. }));
    }

    #[test]
    fn every_rule_fits_the_apiserver_cost_budget() {
        for crd in [DatabricksWorkspace::crd(), SecurityBaseline::crd()] {
            let schema = serde_json::to_value(
                crd.spec.versions[0]
                    .schema
                    .as_ref()
                    .unwrap()
                    .open_api_v3_schema
                    .as_ref()
                    .unwrap(),
            )
            .unwrap();
            let compiled = kube::core::cel::compile_schema(&schema);
            assert!(
                !compiled.has_errors(),
                "{:?}",
                compiled.compilation_errors()
            );
        }
    }
}
