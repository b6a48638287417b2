//! Committing a successful hook: every buffered effect and the events they cause, in
//! one store transaction.
//!
//! Juju's rules for who hears about a databag change (charm-protocol D4): a unit-bag
//! write reaches every unit on the other side; an application-bag write reaches every
//! unit of the remote application (on a peer relation: every unit, the writer too).

use super::context::{apply_changes, Bag, Pending};
use super::{secret_events, secret_timer};
use crate::store::{AppBag, StoreResult, Tx};
use std::collections::BTreeSet;
use tether_core::events::{Event, HookKind};
use tether_core::life::Life;

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
        if rel.life != Life::Alive {
            continue;
        }
        let is_app_bag = owner == app;
        let Some(remote) = rel.remote(app) else { continue };
        let targets: Vec<String> = if is_app_bag {
            tx.units(model, Some(&remote.app))?.into_iter().map(|u| u.name).filter(|u| u != unit || rel.is_peer()).collect()
        } else {
            tx.scope_units(model, &rel, unit)?
        };
        for target in targets {
            let ev = Event::relation(HookKind::RelationChanged, *rel_id, &remote.endpoint, app, if is_app_bag { None } else { Some(unit) });
            tx.enqueue(model, &target, &ev)?;
            woken.insert(target);
        }
    }
    for s in &pending.new_secrets {
        tx.create_secret(model, &s.id, &s.owner, s.label.as_deref(), s.description.as_deref(), &s.content)?;
    }
    for (id, content) in &pending.secret_updates {
        let before = tx.secret(model, id)?.map(|s| s.revision);
        let rev = tx.update_secret(model, id, content)?;
        if before.is_some_and(|b| rev > b) {
            secret_events::changed(tx, model, id, rev, &mut woken)?;
            secret_events::remove_if_obsolete(tx, model, id, rev - 1, &mut woken)?;
            secret_timer::revision_made(tx, model, id, pending.secret_timing.get(id))?;
        }
    }
    for (id, (label, description)) in &pending.secret_meta {
        tx.set_secret_meta(model, id, label.as_deref(), description.as_deref())?;
    }
    for (id, rel, grantee) in &pending.grants {
        tx.grant_secret(model, id, *rel, grantee)?;
    }
    for (id, rel, app) in &pending.revokes {
        tx.revoke_secret(model, id, *rel, app.as_deref())?;
    }
    for id in &pending.removed_secrets {
        tx.delete_secret(model, id)?;
    }
    for (id, rev) in &pending.removed_revisions {
        tx.delete_secret_revision(model, id, *rev)?;
    }
    if !pending.state_changes.is_empty() {
        if let Some(u) = tx.unit(model, unit)? {
            let before = u.state.clone();
            let mut state = u.state;
            apply_changes(&mut state, &pending.state_changes);
            tx.set_unit_state(model, unit, &state)?;
            secret_events::untracked(tx, model, &before, &pending.state_changes, &mut woken)?;
            if pending.state_changes.keys().any(|k| k.starts_with(tether_core::storage::ADDED)) {
                storage_attached(tx, model, app, unit, &before, &state, &mut woken)?;
            }
        }
    }
    for (id, change) in &pending.secret_timing {
        secret_timer::apply(tx, model, id, change)?;
    }
    if !pending.leader_settings.is_empty() {
        leader_settings_changed(tx, model, app, unit, pending, &mut woken)?;
    }
    for entry in &pending.audit {
        tx.audit(entry)?;
    }
    Ok(woken)
}

/// Queues `<name>-storage-attached` for the storage instances this hook added
/// (`storage-add`), after the hook, as Juju does.
fn storage_attached(
    tx: &Tx<'_>,
    model: &str,
    app: &str,
    unit: &str,
    before: &Bag,
    after: &Bag,
    woken: &mut BTreeSet<String>,
) -> StoreResult<()> {
    let Some(row) = tx.app(model, app)? else { return Ok(()) };
    let old = tether_core::storage::unit_instances(&row.meta, before);
    for id in tether_core::storage::unit_instances(&row.meta, after).into_iter().filter(|id| !old.contains(id)) {
        tx.enqueue(model, unit, &Event::storage(HookKind::StorageAttached, &id))?;
        woken.insert(unit.to_string());
    }
    Ok(())
}

/// Stores the leader's new settings and, when they changed, queues
/// `leader-settings-changed` for every other unit of the application.
fn leader_settings_changed(
    tx: &Tx<'_>,
    model: &str,
    app: &str,
    unit: &str,
    pending: &Pending,
    woken: &mut BTreeSet<String>,
) -> StoreResult<()> {
    let mut settings = tx.app_bag(model, app, AppBag::LeaderSettings)?;
    let before = settings.clone();
    apply_changes(&mut settings, &pending.leader_settings);
    if settings == before {
        return Ok(());
    }
    tx.set_app_bag(model, app, AppBag::LeaderSettings, &settings)?;
    for other in tx.units(model, Some(app))?.into_iter().map(|u| u.name).filter(|n| n != unit) {
        tx.enqueue(model, &other, &Event::simple(HookKind::LeaderSettingsChanged))?;
        woken.insert(other);
    }
    Ok(())
}
