//! The one task skeleton every HA mode's watcher runs (Patroni, Galera, a mongod replica
//! set): one task per application and kind, which every few seconds reads the
//! application's units from the store and lets the mode look at its cluster; when the
//! mode says so, every live unit is asked for `update-status`, so the leader rewrites the
//! endpoints without waiting for the timer. The task ends when the application has no
//! units left (or the mode says it is done); a second start while one runs is a no-op.

use super::services::Services;
use crate::engine::context::HookContext;
use crate::store::UnitRow;
use std::sync::Arc;
use std::time::Duration;
use tether_core::life::Life;

/// What a mode's watcher does at each look.
#[async_trait::async_trait]
pub trait Look: Send + 'static {
    /// Looks at the cluster the application's `units` run: `Some(true)` wakes every live
    /// unit, `Some(false)` waits for the next look, `None` ends the watch.
    async fn look(&mut self, units: &[UnitRow]) -> Option<bool>;
    /// When the watch ends: whatever the mode keeps for it goes.
    fn ended(&mut self) {}
}

/// Starts the application's watcher of this `kind` unless one runs.
pub fn spawn(ctx: &HookContext, services: &Arc<Services>, kind: &str, every: Duration, mut look: impl Look) {
    let key = format!("{}/{}#{kind}", ctx.model, ctx.app);
    if !services.watchers.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
        return;
    }
    let (model, app, services) = (ctx.model.clone(), ctx.app.clone(), services.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) else { break };
            let Ok(units) = engine.store().read(|tx| tx.units(&model, Some(&app))) else { continue };
            if units.is_empty() {
                break;
            }
            match look.look(&units).await {
                None => break,
                Some(false) => {}
                Some(true) => {
                    for u in units.iter().filter(|u| u.life == Life::Alive) {
                        let _ = engine.request_update_status(&model, &u.name);
                    }
                }
            }
        }
        look.ended();
        services.watchers.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    });
}
