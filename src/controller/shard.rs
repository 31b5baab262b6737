//! Sharding a fleet across controllers: each shard owns the workspaces whose stable hash of
//! `namespace/name` falls on its index, and elects its own leader on a Lease of its own, so
//! every workspace has exactly one writer however many pods run.

use std::hash::Hasher;

/// This controller's shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The shard from `--shard-index/--shard-count`; without an index, the ordinal of a
    /// StatefulSet pod name (`brickwarden-3`) modulo the count, so that a StatefulSet of
    /// `count x replicas` pods runs every shard with standby replicas.
    pub fn new(index: Option<u32>, count: u32, pod_name: Option<&str>) -> Result<Shard, String> {
        if count == 0 {
            return Err("--shard-count must be at least 1".into());
        }
        let index = match index {
            Some(index) => index,
            None if count == 1 => 0,
            None => ordinal(pod_name).map(|o| o % count).ok_or_else(|| {
                format!(
                    "--shard-count is {count} but no --shard-index is given and the pod name \
                     ({}) ends in no StatefulSet ordinal: set --shard-index (BRICKWARDEN_SHARD_INDEX)",
                    pod_name.unwrap_or("unset")
                )
            })?,
        };
        if index >= count {
            return Err(format!(
                "--shard-index {index} is not below --shard-count {count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard reconciles the workspace `namespace/name`. FNV-1a is fixed by its
    /// definition, so every replica and every version agrees on the owner.
    pub fn owns(&self, namespace: &str, name: &str) -> bool {
        if self.count == 1 {
            return true;
        }
        let mut hasher = fnv::FnvHasher::default();
        hasher.write(namespace.as_bytes());
        hasher.write(b"/");
        hasher.write(name.as_bytes());
        hasher.finish() % u64::from(self.count) == u64::from(self.index)
    }

    /// The Lease of this shard: the base name alone when unsharded (upgrades keep their Lease).
    pub fn lease_name(&self, base: &str) -> String {
        if self.count == 1 {
            base.to_string()
        } else {
            format!("{base}-shard-{}", self.index)
        }
    }
}

fn ordinal(pod_name: Option<&str>) -> Option<u32> {
    pod_name?.rsplit_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workspace_has_exactly_one_shard() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        let mut per_shard = [0; 3];
        for n in 0..300 {
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns("data-platform", &format!("ws-{n}")))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "ws-{n}: {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        // Roughly even: no shard has fewer than half its share.
        assert!(per_shard.iter().all(|n| *n > 50), "{per_shard:?}");
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a 64 of "ns/a", computed independently: a change of algorithm would move
        // workspaces between shards on an upgrade.
        let mut hasher = fnv::FnvHasher::default();
        hasher.write(b"ns/a");
        assert_eq!(hasher.finish(), 0x4a7c_7bba_48dd_8b1e);
        let owner = 0x4a7c_7bba_48dd_8b1e_u64 % 3;
        assert!(
            Shard {
                index: owner as u32,
                count: 3
            }
            .owns("ns", "a")
        );
    }

    #[test]
    fn index_from_flags_or_statefulset_ordinal() {
        assert_eq!(Shard::new(None, 1, None), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(
            Shard::new(None, 2, Some("brickwarden-3")),
            Ok(Shard { index: 1, count: 2 })
        );
        assert_eq!(
            Shard::new(Some(1), 2, Some("brickwarden-0")),
            Ok(Shard { index: 1, count: 2 })
        );
        assert!(
            Shard::new(None, 2, Some("brickwarden-abc"))
                .unwrap_err()
                .contains("--shard-index")
        );
        assert!(Shard::new(Some(2), 2, None).is_err());
        assert!(Shard::new(None, 0, None).is_err());
        assert_eq!(Shard { index: 0, count: 1 }.lease_name("bw"), "bw");
        assert_eq!(Shard { index: 1, count: 2 }.lease_name("bw"), "bw-shard-1");
    }
}
