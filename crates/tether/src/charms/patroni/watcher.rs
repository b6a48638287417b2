//! Follows an application's Patroni cluster between hooks: one task per application asks
//! Patroni every [`WATCH_EVERY`] who is primary and which replicas are healthy; when that
//! changes (a failover, a replica back) every unit is asked for `update-status` at once,
//! so the leader rewrites the endpoints on every relation and each unit its status
//! without waiting for the timer. The task ends when the application has no units left.

use super::layout::{port, STATE_PATRONI_PORT};
use crate::charms::services::Services;
use crate::charms::watcher::{self, Look};
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni_api::{self, Member};
use crate::store::UnitRow;
use std::sync::Arc;
use std::time::Duration;

/// How often the watcher asks Patroni who is primary.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// What the watcher compares: the primary's member name and the healthy replicas'.
fn published(members: &[Member]) -> Option<(String, Vec<String>)> {
    let primary = members.iter().find(|m| m.is_primary())?.name.clone();
    let mut replicas: Vec<String> = members.iter().filter(|m| m.is_healthy_replica()).map(|m| m.name.clone()).collect();
    replicas.sort();
    Some((primary, replicas))
}

/// The Patroni cluster's last reading: who was primary, which replicas were healthy.
#[derive(Default)]
struct Patroni {
    last: Option<(String, Vec<String>)>,
}

#[async_trait::async_trait]
impl Look for Patroni {
    async fn look(&mut self, units: &[UnitRow]) -> Option<bool> {
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
        let Some(seen) = seen else { return Some(false) };
        // The first look wakes the units too: the cluster may have changed while no
        // watcher ran (controller restart, replicas becoming healthy after start).
        let changed = self.last.as_ref() != Some(&seen);
        self.last = Some(seen);
        Some(changed)
    }
}

/// Starts the application's watcher unless one runs.
pub fn watch(ctx: &HookContext, services: &Arc<Services>) {
    watcher::spawn(ctx, services, "patroni", WATCH_EVERY, Patroni::default());
}
