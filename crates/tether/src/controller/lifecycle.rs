//! The hook sequences of units and relations coming and going, queued inside a store
//! transaction: a unit's deploy hooks and its joins, a unit's departure, a relation's
//! removal, an application's removal. Deploy, add-unit and remove-unit
//! (`applications`), integrate and remove-relation (`relations`) and destroy-model
//! (`models`) all change who is related to whom, so the plans are written once here.

use super::error::ApiError;
use super::lookup::existing_app;
use super::state::Controller;
use crate::store::{RelationRow, StoreError, Tx, UnitRow};
use tether_core::charm_meta::Scope;
use tether_core::events::{deploy_plan, join_plan, remove_plan, Event, HookKind};
use tether_core::life::Life;

/// A leaving unit's last hooks: stop, `<name>-storage-detaching` for each of its
/// storage instances, remove.
fn enqueue_teardown(tx: &Tx<'_>, model: &str, unit: &UnitRow) -> Result<(), StoreError> {
    tx.enqueue(model, &unit.name, &Event::simple(HookKind::Stop))?;
    if let Some(app) = tx.app(model, &unit.app)? {
        for id in tether_core::storage::unit_instances(&app.meta, &unit.state) {
            tx.enqueue(model, &unit.name, &Event::storage(HookKind::StorageDetaching, &id))?;
        }
    }
    tx.enqueue(model, &unit.name, &Event::simple(HookKind::Remove))
}

/// Creates `n` units and queues their deploy hooks plus the joins with every existing
/// relation (both directions).
pub fn add_units(tx: &Tx<'_>, model: &str, app: &str, n: u32) -> Result<Vec<String>, StoreError> {
    let mut created = Vec::new();
    for _ in 0..n {
        created.extend(create_unit_with_joins(tx, model, app, None)?);
    }
    Ok(created)
}

/// Creates one unit (attached to `principal` when it is a subordinate's), queues its
/// deploy hooks and its joins in both directions, and creates the subordinate units its
/// container-scoped relations call for. Returns every unit created.
pub fn create_unit_with_joins(tx: &Tx<'_>, model: &str, app: &str, principal: Option<&str>) -> Result<Vec<String>, StoreError> {
    let rels: Vec<RelationRow> = tx.relations(model, Some(app))?.into_iter().filter(|r| r.life == Life::Alive).collect();
    let number = tx.next_unit_number(model, app)?;
    let leader = !tx.units(model, Some(app))?.iter().any(|u| u.leader);
    let unit = tx.create_unit(model, app, number, leader, principal)?;
    let existing: Vec<(i64, String, String)> =
        rels.iter().filter_map(|r| Some((r.id, r.local(app)?.endpoint.clone(), r.remote(app)?.app.clone()))).collect();
    let storage = tx.app(model, app)?.map(|a| a.meta.storage_ids(|_| 0)).unwrap_or_default();
    tx.enqueue_all(model, &unit, &deploy_plan(leader, &existing, &storage))?;
    let mut created = vec![unit.clone()];
    for r in &rels {
        let (Some(local), Some(remote)) = (r.local(app), r.remote(app)) else { continue };
        let remote_units = tx.scope_units(model, r, &unit)?;
        tx.enqueue_all(model, &unit, &join_plan(r.id, &local.endpoint, &remote.app, &remote_units))?;
        for ru in &remote_units {
            tx.enqueue_all(model, ru, &join_plan(r.id, &remote.endpoint, app, std::slice::from_ref(&unit)))?;
        }
        if principal.is_none() && r.scope == Scope::Container && !r.is_peer() {
            created.extend(create_unit_with_joins(tx, model, &remote.app, Some(&unit))?);
        }
    }
    Ok(created)
}

/// Queues the departure of one unit: departed/broken for each of its relations (the
/// other side hears relation-departed), then stop and remove; a new leader is
/// elected if it led.
pub fn depart_unit(tx: &Tx<'_>, model: &str, unit: &str) -> Result<Vec<String>, StoreError> {
    let Some(u) = tx.unit(model, unit)? else { return Ok(vec![]) };
    if u.life != Life::Alive {
        return Ok(vec![]);
    }
    tx.set_unit_life(model, unit, Life::Dying)?;
    let mut woken = vec![unit.to_string()];
    for r in tx.relations(model, Some(&u.app))? {
        let (Some(local), Some(remote)) = (r.local(&u.app), r.remote(&u.app)) else { continue };
        let remote_units = tx.scope_units(model, &r, unit)?;
        if r.life == Life::Alive {
            let mut plan = remove_plan(r.id, &local.endpoint, &remote.app, &remote_units);
            if r.is_peer() {
                plan.retain(|e| e.kind != HookKind::RelationBroken);
            }
            tx.enqueue_all(model, unit, &plan)?;
        }
        // A relation already being removed has its departures queued: add none after its broken.
        for ru in remote_units.into_iter().filter(|_| r.life == Life::Alive) {
            let ev = Event {
                departing_unit: Some(unit.to_string()),
                ..Event::relation(HookKind::RelationDeparted, r.id, &remote.endpoint, &u.app, Some(unit))
            };
            tx.enqueue(model, &ru, &ev)?;
            woken.push(ru);
        }
    }
    enqueue_teardown(tx, model, &u)?;
    for sub in tx.units(model, None)?.into_iter().filter(|s| s.principal.as_deref() == Some(unit)) {
        woken.extend(depart_unit(tx, model, &sub.name)?);
    }
    if u.leader {
        tx.set_unit_leader(model, unit, false)?;
        let next = tx.units(model, Some(&u.app))?.into_iter().find(|x| x.life == Life::Alive);
        if let Some(next) = next {
            tx.set_unit_leader(model, &next.name, true)?;
            tx.enqueue(model, &next.name, &Event::simple(HookKind::LeaderElected))?;
            woken.push(next.name);
        }
    }
    Ok(woken)
}

/// Queues the removal of a relation on every unit of both sides.
pub fn dissolve_relation(tx: &Tx<'_>, model: &str, rel: &RelationRow) -> Result<Vec<String>, StoreError> {
    tx.set_relation_life(model, rel.id, Life::Dying)?;
    let mut woken = Vec::new();
    let mut any_unit = false;
    let mut subordinates = Vec::new();
    for ep in &rel.endpoints {
        let Some(remote) = rel.remote(&ep.app) else { continue };
        for u in tx.units(model, Some(&ep.app))? {
            any_unit = true;
            tx.drop_relation_events(model, &u.name, rel.id)?;
            let others = tx.scope_units(model, rel, &u.name)?;
            tx.enqueue_all(model, &u.name, &remove_plan(rel.id, &ep.endpoint, &remote.app, &others))?;
            if rel.scope == Scope::Container && u.principal.is_some() {
                subordinates.push(u.name.clone());
            }
            woken.push(u.name);
        }
    }
    // Without its container relation a subordinate unit has no host: it goes too.
    for sub in subordinates {
        woken.extend(depart_unit(tx, model, &sub)?);
    }
    if !any_unit {
        tx.delete_relation(model, rel.id)?;
    }
    Ok(woken)
}

/// Marks the applications dying and queues their removal: every relation of theirs
/// dissolved, every unit torn down (an application without units goes at once). The
/// applications must be alive (checked again inside the transaction).
pub fn remove_applications(c: &Controller, model: &str, apps: &[String]) -> Result<(), ApiError> {
    let woken = c.store.write(|tx| {
        for a in apps {
            existing_app(tx, model, a)?;
        }
        // Aborting inside the transaction: nothing of it is committed.
        crate::failpoint::hit("remove-application.after-validate");
        let mut woken = Vec::new();
        for a in apps {
            tx.set_app_life(model, a, Life::Dying)?;
            for r in tx.relations(model, Some(a))? {
                if r.life == Life::Alive && !r.is_peer() {
                    woken.extend(dissolve_relation(tx, model, &r)?);
                }
            }
            let units = tx.units(model, Some(a))?;
            if units.is_empty() {
                tx.delete_app(model, a)?;
            }
            for u in units.into_iter().filter(|u| u.life == Life::Alive) {
                tx.set_unit_life(model, &u.name, Life::Dying)?;
                enqueue_teardown(tx, model, &u)?;
                woken.push(u.name);
            }
        }
        Ok::<_, ApiError>(woken)
    })?;
    crate::failpoint::hit("remove-application.after-store");
    c.engine.kick_all(model, woken);
    Ok(())
}
