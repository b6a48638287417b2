//! Whether a server application runs one server or a cluster (Patroni for postgresql-k8s,
//! Galera for mysql-k8s), decided once, by the leader at install, from the number of
//! units deployed, and kept as a leader setting, so that every unit reads the same
//! answer. Written once for both charms; each names its setting and its clustered mode in
//! a [`Mode`]. Both charms turn a running single server into a cluster when units are
//! added: mysql-k8s (Galera) changes the setting once its founder runs
//! ([`Mode::become_clustered`]); postgresql-k8s moves it through `converting` (see
//! `charms::patroni::convert`).

use super::server;
use crate::engine::context::{Bag, HookContext};
use anyhow::anyhow;
use std::time::{Duration, Instant};

/// One charm's mode setting.
pub struct Mode {
    /// The leader-settings key.
    pub key: &'static str,
    /// The value that means "a cluster" (the other is `single`).
    pub clustered: &'static str,
}

const SINGLE: &str = "single";
/// How long a unit waits for the leader's install to record the mode.
const WAIT_FOR_MODE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(500);

impl Mode {
    /// At the leader's install: records the mode from the number of units deployed.
    pub fn decide(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        self.decide_if(ctx, true)
    }

    /// As [`Mode::decide`], but `single` whatever the number of units unless `clusterable`
    /// (a charm whose configuration rules a cluster out).
    pub fn decide_if(&self, ctx: &mut HookContext, clusterable: bool) -> anyhow::Result<()> {
        if !ctx.leader || ctx.leader_settings()?.contains_key(self.key) {
            return Ok(());
        }
        let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
        let mode = if clusterable && units.len() > 1 { self.clustered } else { SINGLE };
        ctx.leader_set(&Bag::from([(self.key.to_string(), mode.to_string())]))?;
        Ok(())
    }

    /// On the leader of a running single server that becomes a cluster (mysql-k8s when
    /// units are added): records the clustered mode, committed with the hook that turned
    /// the server into the cluster's founder.
    pub fn become_clustered(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.leader_set(&Bag::from([(self.key.to_string(), self.clustered.to_string())]))?;
        Ok(())
    }

    /// Whether the application is a cluster, as far as is committed (or set by this hook).
    pub fn is_clustered(&self, ctx: &HookContext) -> bool {
        ctx.leader_settings().ok().and_then(|s| s.get(self.key).cloned()).as_deref() == Some(self.clustered)
    }

    /// The mode, waiting (bounded) for the leader's install to record it. An application
    /// installed before modes existed has a primary unit and no mode: single.
    pub async fn wait(&self, ctx: &HookContext) -> anyhow::Result<bool> {
        let started = Instant::now();
        loop {
            if let Some(mode) = ctx.leader_settings()?.get(self.key) {
                return Ok(mode == self.clustered);
            }
            let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
            if units.iter().any(|u| u.state.get(server::STATE_ROLE).map(String::as_str) == Some("primary") && u.name != ctx.unit) {
                return Ok(false);
            }
            if ctx.leader || started.elapsed() > WAIT_FOR_MODE {
                return Err(anyhow!("the application's mode is not recorded yet (the leader has not installed)"));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
