//! Follows an application's Patroni cluster between hooks: one task per application asks
//! Patroni every [`WATCH_EVERY`] who is primary and which replicas are healthy; when that
//! changes (a failover, a replica back) every unit is asked for `update-status` at once,
//! so the leader rewrites the endpoints on every relation and each unit its status
//! without waiting for the timer. The task ends when the application has no units left.

use super::layout::{port, STATE_PATRONI_PORT};
use crate::charms::services::Services;
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni_api::{self, Member};
use std::sync::Arc;
use std::time::Duration;
use tether_core::life::Life;

/// How often the watcher asks Patroni who is primary.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// What the watcher compares: the primary's member name and the healthy replicas'.
fn published(members: &[Member]) -> Option<(String, Vec<String>)> {
    let primary = members.iter().find(|m| m.is_primary())?.name.clone();
    let mut replicas: Vec<String> = members.iter().filter(|m| m.is_healthy_replica()).map(|m| m.name.clone()).collect();
    replicas.sort();
    Some((primary, replicas))
}

/// Starts the application's watcher unless one runs.
pub fn watch(ctx: &HookContext, services: &Arc<Services>) {
    let key = format!("{}/{}", ctx.model, ctx.app);
    if !services.watchers.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
        return;
    }
    let (model, app, services) = (ctx.model.clone(), ctx.app.clone(), services.clone());
    tokio::spawn(async move {
        let mut last = None;
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) else { break };
            let Ok(units) = engine.store().read(|tx| tx.units(&model, Some(&app))) else { continue };
            if units.is_empty() {
                break;
            }
            let mut seen = None;
            for p in units.iter().filter_map(|u| port(&u.state, STATE_PATRONI_PORT)) {
                if let Ok(members) = patroni_api::cluster(p).await {
                    seen = published(&members);
                    if seen.is_some() {
                        break;
                    }
                }
            }
            // No primary: Patroni is electing one; look again.
            let Some(seen) = seen else { continue };
            // The first look wakes the units too: the cluster may have changed while no
            // watcher ran (controller restart, replicas becoming healthy after start).
            if last.as_ref() != Some(&seen) {
                for u in units.iter().filter(|u| u.life == Life::Alive) {
                    let _ = engine.request_update_status(&model, &u.name);
                }
            }
            last = Some(seen);
        }
        services.watchers.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    });
}
