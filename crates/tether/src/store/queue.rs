//! The per-unit hook queues.
//!
//! Events are appended in the same transaction as the operation that causes them and
//! removed in the same transaction that commits the hook's effects, so a controller
//! that dies mid-hook runs that hook again on restart (hooks are idempotent).

use super::error::StoreResult;
use super::tx::{json, Tx};
use rusqlite::{params, OptionalExtension};
use tether_core::events::{Event, HookKind};

/// The most hooks one unit may have waiting. An operation that would queue more is
/// refused as a whole (its transaction rolls back), so the queue stays bounded without
/// dropping an event a charm must hear.
pub const QUEUE_LIMIT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub seq: i64,
    pub event: Event,
}

impl Tx<'_> {
    /// Appends an event to a unit's queue. A `relation-changed` identical to one that is
    /// still waiting (not running) is coalesced, as Juju coalesces settings versions.
    pub fn enqueue(&self, model: &str, unit: &str, event: &Event) -> StoreResult<()> {
        let encoded = serde_json::to_string(event).unwrap_or_default();
        let relation_id = event.relation.as_ref().map(|(id, _)| *id);
        if event.kind == HookKind::RelationChanged || event.kind == HookKind::UpdateStatus {
            // Only this relation's waiting events are compared (an index), not the
            // whole queue of a provider with thousands of relations.
            let dup: Option<i64> = self
                .tx
                .prepare_cached(
                    "SELECT seq FROM events WHERE model = ?1 AND unit = ?2 AND relation_id IS ?4 AND event = ?3 AND running = 0 LIMIT 1",
                )?
                .query_row(params![model, unit, encoded, relation_id], |r| r.get(0))
                .optional()?;
            if dup.is_some() {
                return Ok(());
            }
        }
        // The count is kept by triggers on `events` (see the schema), so this is one
        // primary-key lookup however long the queue is.
        let queued: i64 = self
            .tx
            .prepare_cached("SELECT queued FROM units WHERE model = ?1 AND name = ?2")?
            .query_row(params![model, unit], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        if queued >= QUEUE_LIMIT as i64 {
            return Err(super::StoreError::QueueFull { unit: unit.to_string(), limit: QUEUE_LIMIT });
        }
        self.tx.prepare_cached("INSERT INTO events(model, unit, event, relation_id) VALUES(?1, ?2, ?3, ?4)")?.execute(params![
            model,
            unit,
            encoded,
            relation_id
        ])?;
        Ok(())
    }

    pub fn enqueue_all(&self, model: &str, unit: &str, events: &[Event]) -> StoreResult<()> {
        events.iter().try_for_each(|e| self.enqueue(model, unit, e))
    }

    /// The head of a unit's queue, marked as running.
    pub fn next_event(&self, model: &str, unit: &str) -> StoreResult<Option<QueuedEvent>> {
        let row: Option<(i64, String)> = self
            .tx
            .prepare_cached("SELECT seq, event FROM events WHERE model = ?1 AND unit = ?2 ORDER BY seq LIMIT 1")?
            .query_row([model, unit], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((seq, ev)) = row else { return Ok(None) };
        self.mark_running(seq)?;
        Ok(Some(QueuedEvent { seq, event: json(&ev, "events.event")? }))
    }

    /// The first `limit` events of a unit's queue, running or not, in order. The engine
    /// reads them to find relation hooks it may run beside those in flight.
    pub fn queue_head(&self, model: &str, unit: &str, limit: usize) -> StoreResult<Vec<QueuedEvent>> {
        let mut st = self.tx.prepare_cached("SELECT seq, event FROM events WHERE model = ?1 AND unit = ?2 ORDER BY seq LIMIT ?3")?;
        let rows: Vec<(i64, String)> =
            st.query_map(params![model, unit, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter().map(|(seq, e)| Ok(QueuedEvent { seq, event: json(&e, "events.event")? })).collect()
    }

    /// Puts a queued event before every other of its unit (a failed hook that ran beside
    /// others becomes the one the unit retries first). Only used for hooks of a
    /// relation that has nothing else queued ahead of it, so no relation's order changes.
    pub fn move_to_front(&self, model: &str, unit: &str, seq: i64) -> StoreResult<()> {
        let first: i64 = self
            .tx
            .prepare_cached("SELECT COALESCE(MIN(seq), 0) FROM events WHERE model = ?1 AND unit = ?2")?
            .query_row(params![model, unit], |r| r.get(0))?;
        if first < seq {
            // Below every seq of this unit, and not used by another unit's event.
            let free: i64 = self.tx.query_row("SELECT COALESCE(MIN(seq), 1) - 1 FROM events", [], |r| r.get(0))?;
            let target = free.min(first - 1);
            self.tx.prepare_cached("UPDATE events SET seq = ?2 WHERE seq = ?1")?.execute(params![seq, target])?;
        }
        Ok(())
    }

    /// Marks a queued event as running (a coalescing `enqueue` no longer merges into it).
    pub fn mark_running(&self, seq: i64) -> StoreResult<()> {
        self.tx.prepare_cached("UPDATE events SET running = 1 WHERE seq = ?1")?.execute([seq])?;
        Ok(())
    }

    pub fn finish_event(&self, seq: i64) -> StoreResult<()> {
        self.tx.prepare_cached("DELETE FROM events WHERE seq = ?1")?.execute([seq])?;
        Ok(())
    }

    /// Drops a unit's waiting hooks for a relation that is going away, except its
    /// departed/broken hooks.
    pub fn drop_relation_events(&self, model: &str, unit: &str, relation_id: i64) -> StoreResult<()> {
        for q in self.queued(model, unit)? {
            let same = q.event.relation.as_ref().is_some_and(|(id, _)| *id == relation_id);
            let keep = matches!(q.event.kind, HookKind::RelationDeparted | HookKind::RelationBroken);
            if same && !keep {
                self.tx.execute("DELETE FROM events WHERE seq = ?1 AND running = 0", [q.seq])?;
            }
        }
        Ok(())
    }

    pub fn queued(&self, model: &str, unit: &str) -> StoreResult<Vec<QueuedEvent>> {
        let mut st = self.tx.prepare_cached("SELECT seq, event FROM events WHERE model = ?1 AND unit = ?2 ORDER BY seq")?;
        let rows: Vec<(i64, String)> = st.query_map([model, unit], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter().map(|(seq, e)| Ok(QueuedEvent { seq, event: json(&e, "events.event")? })).collect()
    }

    /// How many queued hooks (any unit) still refer to a relation.
    pub fn events_for_relation(&self, model: &str, relation_id: i64) -> StoreResult<usize> {
        let n: i64 = self
            .tx
            .prepare_cached("SELECT COUNT(*) FROM events WHERE model = ?1 AND relation_id = ?2")?
            .query_row(params![model, relation_id], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Whether a unit has hooks waiting (used to tell `executing` from `idle`).
    pub fn has_events(&self, model: &str, unit: &str) -> StoreResult<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM events WHERE model = ?1 AND unit = ?2 LIMIT 1")?
            .query_row([model, unit], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{temp_store, StoreError};
    use tether_core::events::{Event, HookKind};

    #[test]
    fn queue_is_fifo_and_coalesces_waiting_changes() {
        let (_d, s) = temp_store();
        let changed = Event::relation(HookKind::RelationChanged, 1, "db", "x", Some("x/0"));
        let order = s
            .write(|tx| {
                tx.enqueue("m", "a/0", &Event::simple(HookKind::Install))?;
                tx.enqueue("m", "a/0", &changed)?;
                tx.enqueue("m", "a/0", &changed)?;
                let first = tx.next_event("m", "a/0")?.unwrap();
                tx.finish_event(first.seq)?;
                let second = tx.next_event("m", "a/0")?.unwrap();
                // Running now: a new change must queue again.
                tx.enqueue("m", "a/0", &changed)?;
                tx.finish_event(second.seq)?;
                let third = tx.next_event("m", "a/0")?;
                Ok::<_, StoreError>((first.event.kind, second.event.kind, third.map(|q| q.event.kind)))
            })
            .unwrap();
        assert_eq!(order, (HookKind::Install, HookKind::RelationChanged, Some(HookKind::RelationChanged)));
    }

    #[test]
    fn a_failed_hook_moves_to_the_front_of_its_queue() {
        let (_d, s) = temp_store();
        let ev = |rel| Event::relation(HookKind::RelationChanged, rel, "database", "x", None);
        let order = s
            .write(|tx| {
                tx.enqueue("m", "b/0", &ev(9))?;
                for rel in 1..=4 {
                    tx.enqueue("m", "a/0", &ev(rel))?;
                }
                let head = tx.queue_head("m", "a/0", 2)?;
                assert_eq!(head.len(), 2);
                let third = tx.queue_head("m", "a/0", 10)?[2].seq;
                tx.move_to_front("m", "a/0", third)?;
                let rels = |u| -> Result<Vec<i64>, StoreError> {
                    Ok(tx.queue_head("m", u, 10)?.iter().map(|q| q.event.relation.clone().unwrap().0).collect())
                };
                Ok::<_, StoreError>((rels("a/0")?, rels("b/0")?))
            })
            .unwrap();
        assert_eq!(order, (vec![3, 1, 2, 4], vec![9]));
    }

    #[test]
    fn a_full_queue_refuses_more_and_keeps_what_it_has() {
        let (_d, s) = temp_store();
        s.write(|tx| {
            tx.create_unit("m", "a", 0, true, None)?;
            tx.create_unit("m", "b", 0, true, None)
        })
        .unwrap();
        let err = s
            .write(|tx| {
                for i in 0..super::QUEUE_LIMIT {
                    tx.enqueue("m", "a/0", &Event::relation(HookKind::RelationJoined, i as i64, "db", "x", Some("x/0")))?;
                }
                tx.enqueue("m", "a/0", &Event::simple(HookKind::ConfigChanged))
            })
            .unwrap_err();
        assert!(err.to_string().contains("a/0 already has 10000 hooks waiting"), "{err}");
        // The refused operation rolled back as a whole: nothing of it is queued.
        assert!(s.read(|tx| tx.queued("m", "a/0")).unwrap().is_empty());
        s.write(|tx| tx.enqueue("m", "b/0", &Event::simple(HookKind::ConfigChanged))).unwrap();
        // The count follows what is queued and done.
        let count = |s: &crate::store::Store| {
            s.read(|tx| Ok::<i64, StoreError>(tx.tx.query_row("SELECT queued FROM units WHERE name = 'b/0'", [], |r| r.get(0))?)).unwrap()
        };
        assert_eq!(count(&s), 1);
        s.write(|tx| {
            let q = tx.next_event("m", "b/0")?.unwrap();
            tx.finish_event(q.seq)
        })
        .unwrap();
        assert_eq!(count(&s), 0);
    }
}
