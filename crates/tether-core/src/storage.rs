//! Which storage instances a unit has: the ones its charm declares (`count` each) plus
//! the ones `storage-add` added, which the unit's state records as a count per storage
//! name under [`ADDED`]. Instance ids (`data/0`) count per unit.

use crate::charm_meta::CharmMeta;
use std::collections::BTreeMap;

/// Unit-state key prefix of the instances `storage-add` added, by storage name.
pub const ADDED: &str = "tether.storage-added.";

/// The unit-state key counting the instances `storage-add` added to storage `name`.
pub fn added_key(name: &str) -> String {
    format!("{ADDED}{name}")
}

/// A unit's storage instance ids, from the charm's metadata and the unit's state.
pub fn unit_instances(meta: &CharmMeta, unit_state: &BTreeMap<String, String>) -> Vec<String> {
    meta.storage_ids(|name| unit_state.get(&added_key(name)).and_then(|n| n.parse().ok()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(storage_yaml: &str, state: &[(&str, &str)], expected: &[&str]) {
        let meta = CharmMeta::from_yaml(&format!("name: c\n{storage_yaml}"), None, None).unwrap();
        let state = state.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(unit_instances(&meta, &state), expected, "{storage_yaml} with {state:?}");
    }

    #[test]
    fn instances_are_the_declared_ones_plus_the_added_ones() {
        check("", &[], &[]);
        check("storage:\n  data:\n    type: filesystem\n", &[], &["data/0"]);
        check("storage:\n  data:\n    type: filesystem\n", &[("tether.storage-added.data", "2")], &["data/0", "data/1", "data/2"]);
        check("storage:\n  data:\n    type: filesystem\n", &[("tether.storage-added.data", "junk")], &["data/0"]);
        check("storage:\n  data:\n    type: filesystem\n", &[("tether.storage-added.logs", "1")], &["data/0"]);
    }
}
