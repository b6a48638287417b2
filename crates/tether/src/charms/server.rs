//! What every database-server charm does the same way: claim a port and a role at
//! install, keep internal passwords in one application secret, find the unit that runs
//! the server, turn the supervisor's view of the workload into a status, stop and
//! remove the workload.
//!
//! The first unit (leader at install) is the primary and runs the server; other units
//! are standbys with no server of their own until high availability exists.

use crate::engine::context::{Bag, HookContext};
use crate::secret::{generate_password, SecretString};
use crate::workload::{ServerProcess, Supervisor, WorkloadState};
use anyhow::{anyhow, Context};
use std::collections::BTreeMap;
use tether_core::events::Event;
use tether_core::status::WorkloadStatus;

pub const STATE_PORT: &str = "port";
pub const STATE_ROLE: &str = "role";
pub const STATE_VERSION: &str = "version";

/// The primary unit: name, port, unit state.
pub type Primary = (String, u16, BTreeMap<String, String>);

/// The supervisor's key for this unit's workload: unique across models.
pub fn workload_key(ctx: &HookContext) -> String {
    unit_workload_key(ctx, &ctx.unit)
}

/// The supervisor's key of another unit of the model (one supervisor runs every unit's
/// workload).
pub fn unit_workload_key(ctx: &HookContext, unit: &str) -> String {
    format!("{}/{unit}", ctx.model_uuid)
}

pub fn is_primary(ctx: &HookContext) -> bool {
    ctx.state_get(STATE_ROLE).as_deref() == Some("primary")
}

pub fn own_port(ctx: &HookContext) -> anyhow::Result<u16> {
    ctx.state_get(STATE_PORT).and_then(|p| p.parse().ok()).ok_or_else(|| anyhow!("unit has no port"))
}

/// At install: a free port of 127.0.0.1, and the primary role for the leader.
pub fn claim_port_and_role(ctx: &mut HookContext) -> anyhow::Result<()> {
    if ctx.state_get(STATE_PORT).is_none() {
        let port = crate::workload::free_port().context("no free port on 127.0.0.1")?;
        ctx.state_set(STATE_PORT, &port.to_string());
    }
    claim_role(ctx);
    Ok(())
}

/// At install: the primary role for the leader (a unit managing an adopted server claims no port).
pub fn claim_role(ctx: &mut HookContext) {
    if ctx.state_get(STATE_ROLE).is_none() {
        ctx.state_set(STATE_ROLE, if ctx.leader { "primary" } else { "standby" });
    }
}

/// The unit that runs the server: its name, port and unit state.
pub fn primary(ctx: &HookContext) -> anyhow::Result<Option<Primary>> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units.into_iter().find(|u| u.state.get(STATE_ROLE).map(String::as_str) == Some("primary")).and_then(|u| {
        // This hook's own unit sees its pending state (a port moved during this hook).
        let state = if u.name == ctx.unit { ctx.unit_state().clone() } else { u.state };
        let port = state.get(STATE_PORT)?.parse().ok()?;
        Some((u.name, port, state))
    }))
}

pub fn primary_port(ctx: &HookContext) -> anyhow::Result<u16> {
    primary(ctx)?.map(|(_, p, _)| p).ok_or_else(|| anyhow!("no unit runs the database server"))
}

/// The server version recorded by the primary at start.
pub fn primary_version(ctx: &HookContext) -> Option<String> {
    ctx.state_get(STATE_VERSION).or_else(|| primary(ctx).ok().flatten().and_then(|(_, _, s)| s.get(STATE_VERSION).cloned()))
}

/// The internal secret's content.
pub fn internal(ctx: &HookContext, label: &str) -> anyhow::Result<Bag> {
    let id = ctx.secret_id_by_label(label)?.ok_or_else(|| anyhow!("internal passwords are not created yet"))?;
    Ok(ctx.secret_get(&id)?)
}

/// The leader makes sure every key exists in the internal secret (`(key, length)`),
/// generating missing values and never replacing one.
pub fn ensure_internal_secret(ctx: &mut HookContext, label: &str, keys: &[(&str, usize)]) -> anyhow::Result<()> {
    let existing = ctx.secret_id_by_label(label)?;
    let mut content = match &existing {
        Some(id) => ctx.secret_get(id)?,
        None => Bag::new(),
    };
    let before = content.clone();
    for (key, len) in keys {
        content.entry(key.to_string()).or_insert_with(|| generate_password(*len).expose().to_string());
    }
    match existing {
        Some(id) if content != before => ctx.secret_set(&id, content)?,
        Some(_) => {}
        None => {
            ctx.secret_add_app(Some(label), content)?;
        }
    }
    Ok(())
}

/// The key under which an admin password change in flight is recorded.
fn pending_key(key: &str) -> String {
    format!("{key}-pending")
}

/// Before changing the admin's password on the server: record the new one durably
/// (committed now, not with the hook), so a crash between the server change and the
/// hook's commit cannot lose the password that works.
pub fn record_pending_admin_password(ctx: &HookContext, label: &str, key: &str, new: &SecretString) -> anyhow::Result<()> {
    let id = ctx.secret_id_by_label(label)?.ok_or_else(|| anyhow!("internal passwords are not created yet"))?;
    let mut content = ctx.secret_get(&id)?;
    content.insert(pending_key(key), new.expose().to_string());
    ctx.secret_set_now(&format!("secret:{id}"), &content)?;
    Ok(())
}

/// The new admin password an interrupted change recorded, if any.
pub fn pending_admin_password(ctx: &HookContext, label: &str, key: &str) -> anyhow::Result<Option<SecretString>> {
    Ok(internal(ctx, label)?.get(&pending_key(key)).cloned().map(SecretString::new))
}

/// After the server accepted `new` (or after a restart found that it did): make it the
/// stored password and forget the pending record (committed with the hook).
pub fn settle_admin_password(ctx: &mut HookContext, label: &str, key: &str, new: &SecretString) -> anyhow::Result<()> {
    let id = ctx.secret_id_by_label(label)?.ok_or_else(|| anyhow!("internal passwords are not created yet"))?;
    let mut content = ctx.secret_get(&id)?;
    content.insert(key.to_string(), new.expose().to_string());
    content.remove(&pending_key(key));
    ctx.secret_set(&id, content)?;
    Ok(())
}

/// Stores a new password of a non-admin internal user (committed with the hook).
pub fn store_internal_password(ctx: &mut HookContext, label: &str, key: &str, new: &SecretString) -> anyhow::Result<()> {
    let id = ctx.secret_id_by_label(label)?.ok_or_else(|| anyhow!("internal passwords are not created yet"))?;
    let mut content = ctx.secret_get(&id)?;
    content.insert(key.to_string(), new.expose().to_string());
    ctx.secret_set(&id, content)?;
    Ok(())
}

/// Starts (or adopts) the workload with the stored admin password, on the unit's port.
/// If it cannot start because another process holds that port, the unit moves to a free
/// port (the caller then re-publishes its endpoints). Returns the working admin password,
/// the port, and whether it moved.
pub async fn start_workload<S: ServerProcess + 'static>(
    ctx: &mut HookContext,
    supervisor: &Supervisor,
    label: &str,
    key: &str,
    spec_for: impl Fn(u16, SecretString) -> S,
) -> anyhow::Result<(SecretString, u16, bool)> {
    let port = own_port(ctx)?;
    match ensure_running_with_admin(ctx, supervisor, label, key, |pw| spec_for(port, pw)).await {
        Ok(pw) => Ok((pw, port, false)),
        Err(e) if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() && !server_running(ctx, supervisor) => {
            let moved = crate::workload::free_port().context("no free port on 127.0.0.1")?;
            ctx.log("WARNING", &format!("port {port} is taken by another process ({e}); moving to port {moved}"));
            ctx.state_set(STATE_PORT, &moved.to_string());
            let pw = ensure_running_with_admin(ctx, supervisor, label, key, |pw| spec_for(moved, pw)).await?;
            Ok((pw, moved, true))
        }
        Err(e) => Err(e),
    }
}

/// Starts (or adopts) the workload with the stored admin password; if the server refuses
/// it and an interrupted change left a pending password, retries with that one and makes
/// it the stored password. Returns the password that works.
async fn ensure_running_with_admin<S: ServerProcess + 'static>(
    ctx: &mut HookContext,
    supervisor: &Supervisor,
    label: &str,
    key: &str,
    spec_for: impl Fn(SecretString) -> S,
) -> anyhow::Result<SecretString> {
    let content = internal(ctx, label)?;
    let stored = SecretString::new(content.get(key).cloned().ok_or_else(|| anyhow!("{key} missing"))?);
    let pending = content.get(&pending_key(key)).cloned().map(SecretString::new);
    let wk = workload_key(ctx);
    match supervisor.ensure_running(&wk, spec_for(stored.clone())).await {
        Ok(()) => {
            if pending.is_some() {
                settle_admin_password(ctx, label, key, &stored)?;
            }
            Ok(stored)
        }
        Err(first) => {
            let Some(pending) = pending else { return Err(first.into()) };
            supervisor.ensure_running(&wk, spec_for(pending.clone())).await.map_err(|_| first)?;
            ctx.log("WARNING", &format!("an interrupted password change of {key} was completed at start"));
            settle_admin_password(ctx, label, key, &pending)?;
            Ok(pending)
        }
    }
}

pub fn server_running(ctx: &HookContext, supervisor: &Supervisor) -> bool {
    matches!(supervisor.state(&workload_key(ctx)), WorkloadState::Running { .. })
}

/// The status a primary shows when its server is not running (None when it is).
pub fn workload_problem(ctx: &HookContext, supervisor: &Supervisor, server: &str) -> Option<(WorkloadStatus, String)> {
    match supervisor.state(&workload_key(ctx)) {
        WorkloadState::Running { .. } => None,
        WorkloadState::Restarting { attempt, reason } => {
            Some((WorkloadStatus::Maintenance, format!("{server} restarting (attempt {attempt}): {reason}")))
        }
        WorkloadState::Starting => Some((WorkloadStatus::Maintenance, format!("starting {server}"))),
        WorkloadState::Stopped => Some((WorkloadStatus::Waiting, format!("{server} is stopped"))),
    }
}

/// A standby says it runs no server of its own, naming the primary.
pub fn standby_status(ctx: &HookContext, what: &str) -> anyhow::Result<()> {
    let p = primary(ctx)?.map(|(u, _, _)| u).unwrap_or_else(|| "none".into());
    ctx.set_status(WorkloadStatus::Waiting, &format!("no server of its own: {what} is not built yet (primary is {p})"))?;
    Ok(())
}

pub async fn stop(ctx: &HookContext, supervisor: &Supervisor) {
    supervisor.stop(&workload_key(ctx)).await;
}

/// Stops the workload and deletes its data; returns the port it used.
pub async fn remove(ctx: &HookContext, supervisor: &Supervisor) -> anyhow::Result<Option<u16>> {
    supervisor.remove_data(&workload_key(ctx), &ctx.unit_dir()).await?;
    Ok(own_port(ctx).ok())
}

/// Unit-state key holding why one relation's request is refused.
fn blocked_key(rel: i64) -> String {
    format!("blocked.{rel}")
}

/// Records (or clears, with `None`) why a relation's request cannot be served. One key
/// per relation, so hooks of different relations that run at once never overwrite each
/// other's entry.
pub fn set_blocked(ctx: &mut HookContext, rel: i64, reason: Option<&str>) {
    match reason {
        Some(r) => ctx.state_set(&blocked_key(rel), r),
        None => ctx.state_delete(&blocked_key(rel)),
    }
}

/// Whether a relation's request is refused now.
pub fn is_blocked(ctx: &HookContext, rel: i64) -> bool {
    ctx.state_get(&blocked_key(rel)).is_some()
}

/// The reason of the lowest-numbered blocked relation, if any.
pub fn first_blocked(ctx: &HookContext) -> Option<String> {
    ctx.unit_state()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("blocked.")?.parse::<i64>().ok()?, v)))
        .min_by_key(|(rel, _)| *rel)
        .map(|(_, v)| v.clone())
}

/// Whether `event` is a relation hook of `endpoint` that a provider serves from that
/// relation's own data alone (see `Charm::runs_beside_other_relations`).
pub fn serves_one_relation(event: &Event, endpoint: &str) -> bool {
    use tether_core::events::HookKind::*;
    matches!(event.kind, RelationCreated | RelationJoined | RelationChanged | RelationDeparted | RelationBroken)
        && event.relation.as_ref().is_some_and(|(_, ep)| ep == endpoint)
}
