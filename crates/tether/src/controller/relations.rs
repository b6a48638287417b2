//! `integrate` and `remove-relation`: endpoint inference (tether-core) against the
//! model's charms, then the relation recorded and Juju's relation hooks queued on
//! every unit of both sides.

use super::error::{ApiError, ApiResult};
use super::lifecycle::{create_unit_with_joins, dissolve_relation};
use super::lookup::resolve_model;
use super::state::Controller;
use crate::store::{AppRow, RelEndpoint, RelationRow};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tether_core::charm_meta::CharmMeta;
use tether_core::charm_meta::Scope;
use tether_core::endpoints::{infer, relation_key, AppEndpoint, EndpointArg, InferError};
use tether_core::events::integrate_plan;
use tether_core::life::Life;
use tether_core::wire::Reply;

/// The metadata of the named applications that are alive (only those: a model of
/// thousands of applications must not be read whole to relate two of them).
fn live_metas(c: &Controller, model: &str, names: [&str; 2]) -> Result<BTreeMap<String, CharmMeta>, ApiError> {
    let apps: Vec<AppRow> = c.store.read(|tx| names.iter().filter_map(|n| tx.app(model, n).transpose()).collect::<Result<_, _>>())?;
    Ok(apps.into_iter().filter(|a| a.life == Life::Alive).map(|a| (a.name, a.meta)).collect())
}

fn inferred(c: &Controller, model: &str, a: &str, b: &str) -> Result<(AppEndpoint, AppEndpoint, String), ApiError> {
    let (ea, eb) = (EndpointArg::parse(a)?, EndpointArg::parse(b)?);
    let metas = live_metas(c, model, [&ea.app, &eb.app])?;
    let (x, y) = infer(&ea, &eb, |n| metas.get(n))?;
    let key = relation_key(&x, &y);
    Ok((x, y, key))
}

/// The longest an `integrate` waits for a relation of the same key to be removed.
const MAX_REMOVAL_WAIT: Duration = Duration::from_secs(120);

fn refused_existing(key: &str, life: Life) -> String {
    let what = if life == Life::Alive { "already exists" } else { "is still being removed" };
    format!("cannot add relation {key:?}: relation {key} {what}")
}

/// Waits (at most `wait`) until the relation `key` is no longer being removed; true when
/// it is gone or alive, false when it is still being removed.
async fn removal_done(c: &Controller, model: &str, key: &str, wait: Duration) -> Result<bool, ApiError> {
    let deadline = Instant::now() + wait.min(MAX_REMOVAL_WAIT);
    loop {
        let removing = c.store.read(|tx| tx.relation_by_key(model, key))?.is_some_and(|r| r.life != Life::Alive);
        if !removing {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Relates two applications. A relation of the same key that is still being removed
/// (`remove-relation` then at once `integrate`, as the seeds do) is waited for up to
/// `wait_ms`; still there, the reply is `Pending` and nothing was done.
pub async fn integrate(c: &Controller, model: Option<String>, a: &str, b: &str, wait_ms: Option<u64>) -> ApiResult {
    let m = resolve_model(c, model)?;
    let (x, y, key) = inferred(c, &m.name, a, b)?;
    if x.endpoint.name == "juju-info" || y.endpoint.name == "juju-info" {
        return Err(ApiError::invalid(format!("cannot add relation {key:?}: juju-info relations are not supported")));
    }
    if let Some(ms) = wait_ms {
        if !removal_done(c, &m.name, &key, Duration::from_millis(ms)).await? {
            let message = format!("waiting for relation {key:?} to be removed...");
            return Ok(Reply::Pending { message, error: refused_existing(&key, Life::Dying) });
        }
    }
    crate::failpoint::hit("integrate.after-validate");
    let woken = c.store.write(|tx| {
        if let Some(existing) = tx.relation_by_key(&m.name, &key)? {
            return Err(ApiError::invalid(refused_existing(&key, existing.life)));
        }
        let id = tx.next_relation_id(&m.name)?;
        let scope =
            if x.endpoint.scope == Scope::Container || y.endpoint.scope == Scope::Container { Scope::Container } else { Scope::Global };
        let rel = RelationRow {
            id,
            key: key.clone(),
            interface: x.endpoint.interface.clone(),
            scope,
            life: Life::Alive,
            endpoints: [&x, &y]
                .iter()
                .map(|e| RelEndpoint { app: e.app.clone(), endpoint: e.endpoint.name.clone(), role: e.endpoint.role })
                .collect(),
        };
        tx.create_relation(&m.name, &rel)?;
        let mut woken = Vec::new();
        if scope == Scope::Container {
            // One subordinate unit beside each principal unit, as Juju places them.
            let (principal, sub) = if x.subordinate { (&y, &x) } else { (&x, &y) };
            for p in tx.units(&m.name, Some(&principal.app))? {
                let attached = tx.units(&m.name, Some(&sub.app))?.into_iter().find(|s| s.principal.as_deref() == Some(p.name.as_str()));
                match attached {
                    Some(s) => {
                        tx.enqueue_all(
                            &m.name,
                            &p.name,
                            &integrate_plan(id, &principal.endpoint.name, &sub.app, std::slice::from_ref(&s.name)),
                        )?;
                        tx.enqueue_all(
                            &m.name,
                            &s.name,
                            &integrate_plan(id, &sub.endpoint.name, &principal.app, std::slice::from_ref(&p.name)),
                        )?;
                        woken.push(s.name);
                    }
                    None => {
                        tx.enqueue_all(&m.name, &p.name, &integrate_plan(id, &principal.endpoint.name, &sub.app, &[]))?;
                        woken.extend(create_unit_with_joins(tx, &m.name, &sub.app, Some(&p.name))?);
                    }
                }
                woken.push(p.name);
            }
            return Ok::<_, ApiError>(woken);
        }
        for (local, remote) in [(&x, &y), (&y, &x)] {
            for u in tx.units(&m.name, Some(&local.app))? {
                let remote_units = tx.scope_units(&m.name, &rel, &u.name)?;
                tx.enqueue_all(&m.name, &u.name, &integrate_plan(id, &local.endpoint.name, &remote.app, &remote_units))?;
                woken.push(u.name);
            }
        }
        Ok::<_, ApiError>(woken)
    })?;
    crate::failpoint::hit("integrate.after-store");
    c.engine.kick_all(&m.name, woken);
    Ok(Reply::Done { info: vec![], output: None })
}

pub fn remove(c: &Controller, model: Option<String>, a: &str, b: Option<&str>) -> ApiResult {
    let m = resolve_model(c, model)?;
    let rel = match b {
        None => {
            let id: i64 =
                a.parse().map_err(|_| ApiError::Usage(format!("relation ID {:?} not valid", a.chars().take(64).collect::<String>())))?;
            c.store
                .read(|tx| tx.relation(&m.name, id))?
                .filter(|r| !r.is_peer())
                .ok_or_else(|| ApiError::invalid(format!("relation {id} not found")))?
        }
        Some(b) => {
            let (ea, eb) = (EndpointArg::parse(a)?, EndpointArg::parse(b)?);
            let metas = live_metas(c, &m.name, [&ea.app, &eb.app])?;
            for arg in [&ea, &eb] {
                if !metas.contains_key(&arg.app) {
                    return Err(InferError::AppNotFound(arg.app.clone()).into());
                }
            }
            // Prefer an existing relation between the two applications that matches the
            // named endpoints, so removal works even when inference would be ambiguous.
            let rels = c.store.read(|tx| tx.relations(&m.name, Some(&ea.app)))?;
            let matches = |arg: &EndpointArg, r: &RelationRow| {
                r.endpoints.iter().any(|e| e.app == arg.app && arg.endpoint.as_ref().is_none_or(|n| *n == e.endpoint))
            };
            let found: Vec<RelationRow> = rels.into_iter().filter(|r| !r.is_peer() && matches(&ea, r) && matches(&eb, r)).collect();
            match found.len() {
                1 => found.into_iter().next().unwrap_or_else(|| unreachable!()),
                0 => {
                    let key = inferred(c, &m.name, a, b).map(|(_, _, k)| k).unwrap_or_else(|_| format!("{a} {b}"));
                    return Err(ApiError::invalid(format!("relation {key:?} not found")));
                }
                _ => {
                    let keys: Vec<String> = found.iter().map(|r| format!("{:?}", r.key)).collect();
                    return Err(ApiError::invalid(format!("ambiguous relation: \"{a} {b}\" could refer to {}", keys.join("; "))));
                }
            }
        }
    };
    if rel.life != Life::Alive {
        return Ok(Reply::Done { info: vec![], output: None });
    }
    crate::failpoint::hit("remove-relation.after-validate");
    let woken = c.store.write(|tx| dissolve_relation(tx, &m.name, &rel))?;
    crate::failpoint::hit("remove-relation.after-store");
    c.engine.kick_all(&m.name, woken);
    Ok(Reply::Done { info: vec![], output: None })
}
