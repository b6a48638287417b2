//! What the engine runs: a [`Charm`] receives one event at a time with a [`HookContext`],
//! and a [`CharmSource`] (handed to the engine by the controller) says which charm runs
//! an application. The engine owns these traits so that it never names a concrete charm:
//! the charms live above it and implement them.

use super::context::HookContext;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tether_core::charm_meta::{CharmMeta, CharmOrigin};
use tether_core::events::Event;

#[async_trait::async_trait]
pub trait Charm: Send + Sync {
    fn meta(&self) -> CharmMeta;

    /// Handles one hook or action.
    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()>;

    /// Refuses config values the charm cannot use, before they are stored. The
    /// message is shown to the user after `ERROR `.
    fn validate_config(&self, _config: &BTreeMap<String, Value>) -> Result<(), String> {
        Ok(())
    }

    /// Refuses a change of config that the charm only accepts at deploy.
    fn validate_config_change(&self, _old: &BTreeMap<String, Value>, _new: &BTreeMap<String, Value>) -> Result<(), String> {
        Ok(())
    }

    /// Whether this hook touches only its own relation's data, its own unit-state keys
    /// and the server, so the engine may run it beside hooks of *other* relations of
    /// the same unit (each still committed atomically, in queue order). Providers say
    /// yes for their per-relation endpoints, which is what lets many integrations with
    /// one server proceed at once; the default keeps Juju's one hook at a time.
    fn runs_beside_other_relations(&self, _event: &Event) -> bool {
        false
    }

    /// Sets the unit's status again from committed state after hooks ran side by side
    /// (each computed its status without seeing the others' writes).
    fn settle_after_concurrent_hooks(&self, _ctx: &HookContext) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Which charm runs an application; implemented above the engine.
pub trait CharmSource: Send + Sync {
    /// The charm of an application deployed from `charm` (a built-in name or a local
    /// charm's name) with this origin and metadata; `None` when it is not available.
    fn charm_for(&self, charm: &str, origin: CharmOrigin, meta: &CharmMeta) -> Option<Arc<dyn Charm>>;
}
