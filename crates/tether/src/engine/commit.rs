//! Committing a successful hook: every buffered effect and the events they cause, in
//! one store transaction.
//!
//! Juju's rules for who hears about a databag change (charm-protocol D4): a unit-bag
//! write reaches every unit on the other side; an application-bag write reaches every
//! unit of the remote application (on a peer relation: every unit, the writer too).

use super::context::{apply_changes, Pending};
use crate::store::{StoreResult, Tx};
use std::collections::BTreeSet;
use tether_core::events::{Event, HookKind};

/// Applies `pending` for `unit` of `app`; returns the units that got new events.
pub fn apply_pending(tx: &Tx<'_>, model: &str, app: &str, unit: &str, pending: &Pending) -> StoreResult<BTreeSet<String>> {
    let mut woken = BTreeSet::new();
    for ((rel_id, owner), changes) in &pending.databags {
        let Some(rel) = tx.relation(model, *rel_id)? else { continue };
        let mut bag = tx.databag(model, *rel_id, owner)?;
        let before = bag.clone();
        apply_changes(&mut bag, changes);
        if bag == before {
            continue;
        }
        tx.set_databag(model, *rel_id, owner, &bag)?;
        if rel.life != "alive" {
            continue;
        }
        let is_app_bag = owner == app;
        let Some(remote) = rel.remote(app) else { continue };
        for target in tx.units(model, Some(&remote.app))? {
            if target.name == unit && !(rel.is_peer() && is_app_bag) {
                continue;
            }
            let ev = Event::relation(HookKind::RelationChanged, *rel_id, &remote.endpoint, app, if is_app_bag { None } else { Some(unit) });
            tx.enqueue(model, &target.name, &ev)?;
            woken.insert(target.name);
        }
    }
    for s in &pending.new_secrets {
        tx.create_secret(model, &s.id, &s.owner, s.label.as_deref(), None, &s.content)?;
    }
    for (id, content) in &pending.secret_updates {
        tx.update_secret(model, id, content)?;
    }
    for (id, rel, grantee) in &pending.grants {
        tx.grant_secret(model, id, *rel, grantee)?;
    }
    for id in &pending.removed_secrets {
        tx.delete_secret(model, id)?;
    }
    if let Some(state) = &pending.unit_state {
        tx.set_unit_state(model, unit, state)?;
    }
    for entry in &pending.audit {
        tx.audit(entry)?;
    }
    Ok(woken)
}
