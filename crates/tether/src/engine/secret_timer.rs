//! Secret rotation and expiry over time: a charm's `--rotate`/`--expire` are recorded
//! when its hook commits ([`apply`]); a controller task checks every second for what
//! fell due ([`Engine::run_secret_timer`]) and queues `secret-rotate` or
//! `secret-expired` on the owner (the unit, or the application's leader). A rotation
//! then waits another interval; an expiry belongs to one revision and fires once.

use super::secret_events::owner_unit;
use super::Engine;
use crate::store::{Due, SecretTiming, StoreResult, Tx};
use std::sync::Arc;
use std::time::Duration;
use tether_core::events::{Event, HookKind};

const TICK: Duration = Duration::from_secs(1);

/// What a hook asked for one secret (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct TimingChange {
    pub rotate: Option<String>,
    pub expire_at: Option<i64>,
}

/// How long after now a secret with `policy` rotates next (`None` for `never`).
/// `TETHER_SECRET_ROTATE_INTERVAL` (a duration) replaces every policy's interval, so a
/// test can watch `secret-rotate` without waiting an hour; unset in normal use.
fn interval(policy: &str) -> Option<Duration> {
    let every = tether_core::secret_timing::interval(policy)?;
    let scaled = std::env::var("TETHER_SECRET_ROTATE_INTERVAL").ok().and_then(|v| tether_core::duration::parse_duration(&v).ok());
    Some(scaled.unwrap_or(every))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Records a hook's rotation policy and expiry for a secret (at commit).
pub fn apply(tx: &Tx<'_>, model: &str, id: &str, change: &TimingChange) -> StoreResult<()> {
    let Some(secret) = tx.secret(model, id)? else { return Ok(()) };
    let mut t = tx.secret_timing(model, id)?;
    if let Some(policy) = &change.rotate {
        let next = interval(policy).map(|d| now_ms() + d.as_millis() as i64);
        t.rotate = next.map(|_| policy.clone());
        t.next_rotate = next;
    }
    if let Some(at) = change.expire_at {
        t.expire_at = Some(at);
        t.expire_rev = Some(secret.revision);
    }
    tx.set_secret_timing(model, id, &t)
}

/// A new revision has no expiry unless the same hook gave one: an earlier `--expire`
/// belonged to the earlier revision.
pub fn revision_made(tx: &Tx<'_>, model: &str, id: &str, change: Option<&TimingChange>) -> StoreResult<()> {
    if change.is_some_and(|c| c.expire_at.is_some()) {
        return Ok(());
    }
    let mut t = tx.secret_timing(model, id)?;
    if t.expire_at.is_some() {
        t.expire_at = None;
        t.expire_rev = None;
        tx.set_secret_timing(model, id, &t)?;
    }
    Ok(())
}

/// Queues the hooks of every timer due now and moves the timers on; returns the units to wake.
fn fire_due(tx: &Tx<'_>) -> StoreResult<Vec<(String, String)>> {
    let now = now_ms();
    let mut woken = Vec::new();
    for due in tx.due_secret_timers(now)? {
        let mut t: SecretTiming = tx.secret_timing(&due.model, &due.secret_id)?;
        let (kind, rev) = match due.due {
            Due::Rotate => {
                t.next_rotate = due.rotate.as_deref().and_then(interval).map(|d| now + d.as_millis() as i64);
                (HookKind::SecretRotate, 0)
            }
            Due::Expire(rev) => {
                t.expire_at = None;
                t.expire_rev = None;
                (HookKind::SecretExpired, rev)
            }
        };
        tx.set_secret_timing(&due.model, &due.secret_id, &t)?;
        let external = tx.app(&due.model, due.owner.app())?.is_some_and(|a| a.origin == "local");
        if let (true, Some(unit)) = (external, owner_unit(tx, &due.model, &due.owner)?) {
            let event = Event { secret: Some((format!("secret:{}", due.secret_id), rev)), ..Event::simple(kind) };
            tx.enqueue(&due.model, &unit, &event)?;
            woken.push((due.model.clone(), unit));
        }
    }
    Ok(woken)
}

impl Engine {
    /// The controller's secret timer (stopped with the workers).
    pub(super) fn start_secret_timer(self: &Arc<Self>) {
        let engine = self.clone();
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                // A read first: the writer is taken only when something fell due.
                let due = engine.store.read(|tx| tx.due_secret_timers(now_ms())).map(|d| !d.is_empty()).unwrap_or(false);
                if !due {
                    continue;
                }
                match engine.store.write(fire_due) {
                    Ok(woken) => {
                        for (model, unit) in woken {
                            engine.kick(&model, &unit);
                        }
                    }
                    Err(e) => tracing::error!("secret timer: {e}"),
                }
            }
        });
        self.handles.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
    }
}
