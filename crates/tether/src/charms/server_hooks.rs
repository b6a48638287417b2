//! The lifecycle every database-server charm shares, and the routing of an event to it.
//!
//! postgresql-k8s, mysql-k8s and mongodb answer the same hooks the same way: install
//! claims a port, leader-elected makes the internal passwords, start runs the server,
//! update-status repairs drift then settles the status, stop and remove end the workload.
//! What differs is behind [`ServerCharm`]: the relation endpoints a charm serves, its
//! actions, and what it keeps beside the server. [`dispatch`] is the one `match` from a
//! hook to those methods, and every `ServerCharm` is a [`Charm`] through it, with its
//! `database` relations running in lanes (see `Charm::runs_beside_other_relations`).

use super::server;
use super::services::Services;
use crate::engine::charm::Charm;
use crate::engine::context::HookContext;
use serde_json::Value;
use std::collections::BTreeMap;
use tether_core::charm_meta::CharmMeta;
use tether_core::events::{Event, HookKind};

/// The provider endpoint whose hooks of different relations run side by side.
const LANE_ENDPOINT: &str = "database";

/// A database-server charm's answers to the shared lifecycle.
#[async_trait::async_trait]
pub trait ServerCharm: Send + Sync {
    fn charm_meta(&self) -> CharmMeta;

    /// What the charm was built with (the supervisor runs its server).
    fn services(&self) -> &Services;

    /// See [`Charm::validate_config`].
    fn check_config(&self, _config: &BTreeMap<String, Value>) -> Result<(), String> {
        Ok(())
    }

    /// See [`Charm::validate_config_change`].
    fn check_config_change(&self, _old: &BTreeMap<String, Value>, _new: &BTreeMap<String, Value>) -> Result<(), String> {
        Ok(())
    }

    fn install(&self, ctx: &mut HookContext) -> anyhow::Result<()>;

    fn leader_elected(&self, ctx: &mut HookContext) -> anyhow::Result<()>;

    async fn start(&self, ctx: &mut HookContext) -> anyhow::Result<()>;

    /// The unit's status from what is known now.
    fn settle_status(&self, ctx: &HookContext) -> anyhow::Result<()>;

    /// config-changed: apply what the charm honours of its config, then settle the status.
    async fn config_changed(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        self.settle_status(ctx)
    }

    /// The periodic comparison of the users on the server with the live relations.
    async fn repair_drift(&self, ctx: &mut HookContext) -> anyhow::Result<()>;

    /// leader-settings-changed: what the leader shared (settings every unit follows).
    async fn leader_settings_changed(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        self.settle_status(ctx)
    }

    /// The credential rotation's schedule (see `charms::rotation::tick`), after
    /// update-status, config-changed and start.
    async fn rotation_tick(&self, _ctx: &mut HookContext) -> anyhow::Result<()> {
        Ok(())
    }

    /// relation-created, -joined or -changed on `endpoint` (ignores endpoints it does not serve).
    async fn serve_endpoint(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()>;

    /// relation-broken on `endpoint` (ignores endpoints it does not serve).
    async fn endpoint_broken(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()>;

    async fn run_action(&self, ctx: &mut HookContext, action: &str) -> anyhow::Result<()>;

    /// The stop hook: the workload, and whatever the charm runs beside it.
    async fn stop(&self, ctx: &mut HookContext) {
        server::stop(ctx, &self.services().supervisor).await;
    }

    /// After the remove hook removed the workload (whose port is given, if it had one):
    /// forget admin sessions and anything else kept for it.
    async fn after_remove(&self, ctx: &mut HookContext, port: Option<u16>);
}

#[async_trait::async_trait]
impl<T: ServerCharm> Charm for T {
    fn meta(&self) -> CharmMeta {
        self.charm_meta()
    }

    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()> {
        dispatch(self, ctx, event).await
    }

    fn validate_config(&self, config: &BTreeMap<String, Value>) -> Result<(), String> {
        self.check_config(config)
    }

    fn validate_config_change(&self, old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Result<(), String> {
        self.check_config_change(old, new)
    }

    fn runs_beside_other_relations(&self, event: &Event) -> bool {
        server::serves_one_relation(event, LANE_ENDPOINT)
    }

    fn settle_after_concurrent_hooks(&self, ctx: &HookContext) -> anyhow::Result<()> {
        self.settle_status(ctx)
    }
}

/// Routes one event to the charm's lifecycle methods.
pub async fn dispatch<C: ServerCharm + ?Sized>(charm: &C, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()> {
    let endpoint = event.relation.as_ref().map(|(_, ep)| ep.as_str());
    let rel = event.relation.as_ref().map(|(id, _)| *id).unwrap_or_default();
    match (event.kind, endpoint) {
        (HookKind::Install, _) => charm.install(ctx),
        (HookKind::LeaderElected, _) => charm.leader_elected(ctx),
        (HookKind::Start, _) => {
            charm.start(ctx).await?;
            charm.rotation_tick(ctx).await
        }
        (HookKind::UpdateStatus, _) => {
            charm.repair_drift(ctx).await?;
            charm.rotation_tick(ctx).await?;
            charm.settle_status(ctx)
        }
        (HookKind::ConfigChanged, _) => {
            charm.config_changed(ctx).await?;
            charm.rotation_tick(ctx).await
        }
        (HookKind::LeaderSettingsChanged, _) => charm.leader_settings_changed(ctx).await,
        (HookKind::RelationCreated | HookKind::RelationJoined | HookKind::RelationChanged, Some(ep)) => {
            charm.serve_endpoint(ctx, rel, ep).await
        }
        (HookKind::RelationBroken, Some(ep)) => charm.endpoint_broken(ctx, rel, ep).await,
        (HookKind::Stop, _) => {
            charm.stop(ctx).await;
            Ok(())
        }
        (HookKind::Remove, _) => {
            let port = server::remove(ctx, &charm.services().supervisor).await?;
            charm.after_remove(ctx, port).await;
            Ok(())
        }
        (HookKind::Action, _) => match event.action.as_ref().map(|(_, name)| name.as_str()) {
            Some(name) => charm.run_action(ctx, name).await,
            None => Ok(()),
        },
        _ => Ok(()),
    }
}
