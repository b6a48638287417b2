//! A single server becoming the application's Patroni cluster when units are added
//! (`add-unit` on an application deployed with one unit), in two steps so a controller
//! killed anywhere converges:
//!
//! 1. [`begin`], on the leader that runs the single server, once it sees more than one live
//!    unit: claims the cluster's ports (PostgreSQL keeps the unit's port) and records the
//!    mode as [`CONVERTING`], committed with that hook before anything outside changes.
//! 2. The next hook of the leader that sees [`pending`] (the peer relation's next hook, the
//!    `update-status` [`begin`] asks for, or `start` after a restart) hands the data
//!    directory over: the charm readies the plain server for Patroni (the replication and
//!    rewind users, which Patroni does not create on an existing data directory) and stops
//!    it, then [`finish`] records the clustered mode and the unit starts as at deploy:
//!    Patroni, finding a data directory and no cluster in etcd, writes the cluster's system
//!    id and runs that server, which keeps its data, users and port. Once a Patroni
//!    configuration was written ([`handed_over`]) the plain server never starts again.
//!
//! The added units wait ([`note_waiting`]) and start under Patroni when the mode becomes
//! clustered (replicas by `pg_basebackup`, as any added unit). Only `postgresql-k8s` does
//! this; a `mongodb` under FerretDB keeps its single server (its data is FerretDB's SQLite
//! there, not a PostgreSQL Patroni could take over).

use super::layout::{peers, Layout};
use crate::charms::services::Services;
use crate::engine::context::{Bag, HookContext};
use crate::engines::postgres::patroni::PatroniSpec;
use std::sync::Arc;

/// The mode while a single server is being turned into the cluster.
pub const CONVERTING: &str = "converting";
/// Unit-state key of an added unit that waits for the cluster to exist.
const STATE_WAITING: &str = "patroni-awaiting-cluster";

fn mode(layout: &Layout, ctx: &HookContext) -> Option<String> {
    ctx.leader_settings().ok().and_then(|s| s.get(layout.mode.key).cloned())
}

/// Whether a conversion was begun and not finished.
pub fn pending(layout: &Layout, ctx: &HookContext) -> bool {
    mode(layout, ctx).as_deref() == Some(CONVERTING)
}

/// On the leader running the single server: when the application has other live units,
/// claims the cluster's ports, records [`CONVERTING`] and asks for an `update-status` that
/// carries the conversion out. Returns whether it began one.
pub fn begin(layout: &Layout, ctx: &mut HookContext, services: &Arc<Services>) -> anyhow::Result<bool> {
    let single = matches!(mode(layout, ctx).as_deref(), None | Some("single"));
    if !ctx.leader || !single || peers(ctx)?.is_empty() {
        return Ok(false);
    }
    layout.claim_ports(ctx)?;
    ctx.leader_set(&Bag::from([(layout.mode.key.to_string(), CONVERTING.to_string())]))?;
    ctx.log("INFO", &format!("{} has more than one unit: its server becomes a Patroni cluster", ctx.app));
    if let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) {
        // Queued now, run after this hook commits (one hook at a time per unit).
        engine.request_update_status(&ctx.model, &ctx.unit)?;
    }
    Ok(true)
}

/// Whether this unit's data directory was already handed to Patroni.
pub fn handed_over(ctx: &HookContext) -> bool {
    PatroniSpec::configured_in(&ctx.unit_dir())
}

/// Records the clustered mode (committed with the hook that started the unit under Patroni).
pub fn finish(layout: &Layout, ctx: &mut HookContext) -> anyhow::Result<()> {
    ctx.leader_set(&Bag::from([(layout.mode.key.to_string(), layout.mode.clustered.to_string())]))?;
    Ok(())
}

/// An added unit that found no cluster yet: it starts under Patroni once the mode is
/// clustered (on `leader-settings-changed`).
pub fn note_waiting(ctx: &mut HookContext) {
    ctx.state_set(STATE_WAITING, "true");
}

/// Whether this unit waits for the cluster.
pub fn waiting(ctx: &HookContext) -> bool {
    ctx.state_get(STATE_WAITING).is_some()
}

/// The unit runs under Patroni: it waits no more.
pub fn joined(ctx: &mut HookContext) {
    ctx.state_delete(STATE_WAITING);
}
