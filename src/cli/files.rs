//! Reading resources from files and directories, validated as the apiserver would.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::api::{
    DatabricksAccount, DatabricksWorkspace, Resource, SecurityBaseline, ValidationError,
    validate_resource,
};

/// The built-in baselines, the same files `deploy/baselines/` ships to clusters.
const BUILT_IN_BASELINES: &[(&str, &str)] = &[
    (
        "deploy/baselines/recommended.yaml",
        include_str!("../../deploy/baselines/recommended.yaml"),
    ),
    (
        "deploy/baselines/highly-secure.yaml",
        include_str!("../../deploy/baselines/highly-secure.yaml"),
    ),
];

/// Workspaces, accounts and baselines found in the inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    pub workspaces: Vec<DatabricksWorkspace>,
    pub accounts: Vec<DatabricksAccount>,
    pub baselines: Vec<SecurityBaseline>,
}

impl Inputs {
    /// A baseline from the inputs, else a built-in one.
    pub fn baseline(&self, name: &str) -> Option<SecurityBaseline> {
        let named = |b: &&SecurityBaseline| b.metadata.name.as_deref() == Some(name);
        self.baselines.iter().find(named).cloned().or_else(|| {
            built_in_baselines()
                .into_iter()
                .find(|b| b.metadata.name.as_deref() == Some(name))
        })
    }
}

#[expect(
    clippy::expect_used,
    reason = "the built-in baselines are compiled in and parsed by unit tests"
)]
pub fn built_in_baselines() -> Vec<SecurityBaseline> {
    BUILT_IN_BASELINES
        .iter()
        .flat_map(|(path, text)| {
            parse_documents(text, Path::new(path)).expect("built-in baselines are valid")
        })
        .filter_map(|r| match r {
            Resource::Baseline(b) => Some(*b),
            Resource::Workspace(_) | Resource::Account(_) => None,
        })
        .collect()
}

/// Loads every `.yaml`/`.yml`/`.json` file of `paths` (directories are read in name order).
/// Kubernetes objects of other kinds (Namespaces, Secrets) are skipped; an invalid brickwarden
/// resource fails the whole load, so nothing is half-applied.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Inputs> {
    let mut inputs = Inputs::default();
    for file in expand(paths)? {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        for resource in parse_documents(&text, &file)? {
            match resource {
                Resource::Workspace(w) => inputs.workspaces.push(*w),
                Resource::Account(a) => inputs.accounts.push(*a),
                Resource::Baseline(b) => inputs.baselines.push(*b),
            }
        }
    }
    Ok(inputs)
}

fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            bail!("{} does not exist", path.display());
        }
    }
    Ok(files)
}

pub(crate) fn parse_documents(text: &str, file: &Path) -> anyhow::Result<Vec<Resource>> {
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(text)
        .with_context(|| format!("{} is not valid YAML", file.display()))?;
    let mut resources = Vec::new();
    for document in documents.into_iter().filter(|d| !d.is_null()) {
        match validate_resource(document) {
            Ok(resource) => resources.push(resource),
            Err(ValidationError::UnsupportedKind { api_version, kind })
                if !api_version.starts_with("brickwarden.io/") =>
            {
                tracing::debug!(file = %file.display(), %api_version, %kind, "skipping a resource brickwarden does not manage");
            }
            Err(e) => bail!("{}: {e}", file.display()),
        }
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_baselines_are_valid_and_named() {
        let names: Vec<_> = built_in_baselines()
            .into_iter()
            .filter_map(|b| b.metadata.name)
            .collect();
        assert_eq!(names, ["recommended", "highly-secure"]);
    }

    #[test]
    fn examples_load() {
        let inputs = load(&[PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples"
        ))])
        .unwrap();
        assert_eq!(inputs.workspaces.len(), 3);
        for ws in &inputs.workspaces {
            let baseline = ws.spec.baseline_ref.as_deref().unwrap();
            assert!(inputs.baseline(baseline).is_some(), "{baseline}");
        }
        assert_eq!(inputs.accounts.len(), 1);
        let account = &inputs.accounts[0];
        let name = account.spec.baseline_ref.as_deref().unwrap();
        let baseline = inputs
            .baseline(name)
            .expect("the account's baseline is built in");
        assert!(
            baseline.spec.account.is_some(),
            "{name} has an account section"
        );
    }

    /// Each built-in baseline has an account section that sets switches only: the
    /// organisation's network objects (NCCs, network policies, private access settings) come
    /// from each DatabricksAccount.
    #[test]
    fn built_in_baselines_have_an_account_section_of_switches() {
        for baseline in built_in_baselines() {
            let name = baseline.metadata.name.clone().unwrap_or_default();
            let account = baseline.spec.account.expect("an account section");
            let lists = account.ip_access_lists.as_ref().expect("ipAccessLists");
            assert_eq!(lists.enabled, Some(true), "{name}");
            assert!(
                lists.lists.is_none(),
                "{name}: list addresses are the account's"
            );
            let settings = account.settings.as_ref().expect("settings");
            assert_eq!(settings.disable_legacy_features, Some(true), "{name}");
            assert!(account.management.is_some(), "{name}");
            assert_eq!(account.bound_workspaces().count(), 0, "{name}");
            assert!(account.network_connectivity_configs.is_none(), "{name}");
            assert!(account.network_policies.is_none(), "{name}");
            assert!(account.private_access_settings.is_none(), "{name}");
        }
    }

    #[test]
    fn invalid_resource_names_the_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, "apiVersion: brickwarden.io/v1alpha1\nkind: DatabricksWorkspace\nmetadata: {name: x}\nspec: {host: 'https://h', auth: {}}\n").unwrap();
        let error = load(&[file]).unwrap_err().to_string();
        assert!(
            error.contains("bad.yaml") && error.contains("exactly one of"),
            "{error}"
        );
    }
}
