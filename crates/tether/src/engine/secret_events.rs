//! The secret hooks Juju sends, decided when a hook's changes commit:
//! - `secret-changed` to the consumers when the owner makes a new revision;
//! - `secret-remove` to the owner when a revision becomes obsolete: it is not the newest
//!   and no consumer tracks it any more (at once, when nobody tracked the old revision,
//!   or later, when the last consumer moves to a newer one with `secret-get --refresh`).
//!   The owner then prunes it with `secret-remove ID --revision N`.
//!
//! Only external (local) charms hear these: the native charms read secrets afresh in
//! every hook, and their old revisions are pruned by the store.

use crate::store::{SecretOwner, StoreResult, Tx};
use std::collections::{BTreeMap, BTreeSet};
use tether_core::charm_meta::CharmOrigin;
use tether_core::events::{Event, HookKind};

/// Unit-state key prefix under which a consumer keeps the revision it tracks.
pub const TRACKED: &str = "tether.secret-rev.";

fn is_external(tx: &Tx<'_>, model: &str, app: &str) -> StoreResult<bool> {
    Ok(tx.app(model, app)?.is_some_and(|a| a.origin == CharmOrigin::Local))
}

fn secret_event(kind: HookKind, id: &str, rev: i64) -> Event {
    Event { secret: Some((format!("secret:{id}"), rev)), ..Event::simple(kind) }
}

/// Queues `secret-changed` for the units the secret is granted to (every unit of a
/// granted application, or the one unit of a unit grant).
pub fn changed(tx: &Tx<'_>, model: &str, id: &str, rev: i64, woken: &mut BTreeSet<String>) -> StoreResult<()> {
    for target in consumers(tx, model, id)? {
        tx.enqueue(model, &target, &secret_event(HookKind::SecretChanged, id, rev))?;
        woken.insert(target);
    }
    Ok(())
}

/// The units of external charms that may read the secret as consumers.
fn consumers(tx: &Tx<'_>, model: &str, id: &str) -> StoreResult<BTreeSet<String>> {
    let grantees: BTreeSet<String> = tx.secret_grants(model, id)?.into_iter().map(|(_, g)| g).collect();
    let mut targets = BTreeSet::new();
    for grantee in grantees {
        let app = grantee.split('/').next().unwrap_or(&grantee).to_string();
        if !is_external(tx, model, &app)? {
            continue;
        }
        let only = grantee.contains('/').then_some(grantee.as_str());
        targets.extend(tx.units(model, Some(&app))?.into_iter().map(|u| u.name).filter(|n| only.is_none_or(|o| o == n)));
    }
    Ok(targets)
}

/// Whether some consumer still tracks revision `rev`.
fn tracked(tx: &Tx<'_>, model: &str, id: &str, rev: i64) -> StoreResult<bool> {
    let key = format!("{TRACKED}{id}");
    for unit in consumers(tx, model, id)? {
        if tx.unit(model, &unit)?.and_then(|u| u.state.get(&key).cloned()).and_then(|r| r.parse::<i64>().ok()) == Some(rev) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The unit that hears the owner's hooks: the unit itself, or the application's leader.
pub fn owner_unit(tx: &Tx<'_>, model: &str, owner: &SecretOwner) -> StoreResult<Option<String>> {
    match owner {
        SecretOwner::Unit(u) => Ok(Some(u.clone())),
        SecretOwner::App(a) => Ok(tx.units(model, Some(a))?.into_iter().find(|u| u.leader).map(|u| u.name)),
        SecretOwner::Model(_) => Ok(None),
    }
}

/// Queues `secret-remove` for revision `rev` on the owner if it is obsolete now.
pub fn remove_if_obsolete(tx: &Tx<'_>, model: &str, id: &str, rev: i64, woken: &mut BTreeSet<String>) -> StoreResult<()> {
    let Some(secret) = tx.secret(model, id)? else { return Ok(()) };
    if rev <= 0 || rev >= secret.revision || !is_external(tx, model, secret.owner.app())? || tracked(tx, model, id, rev)? {
        return Ok(());
    }
    if let Some(unit) = owner_unit(tx, model, &secret.owner)? {
        tx.enqueue(model, &unit, &secret_event(HookKind::SecretRemove, id, rev))?;
        woken.insert(unit);
    }
    Ok(())
}

/// After a consumer's unit state changed: the revisions it stopped tracking may be obsolete.
pub fn untracked(
    tx: &Tx<'_>,
    model: &str,
    before: &BTreeMap<String, String>,
    changes: &BTreeMap<String, Option<String>>,
    woken: &mut BTreeSet<String>,
) -> StoreResult<()> {
    for (key, new) in changes {
        let Some(id) = key.strip_prefix(TRACKED) else { continue };
        let Some(old) = before.get(key).and_then(|r| r.parse::<i64>().ok()) else { continue };
        if new.as_deref() != Some(old.to_string().as_str()) {
            remove_if_obsolete(tx, model, id, old, woken)?;
        }
    }
    Ok(())
}
