//! What every database-server charm does the same way: claim a port and a role at
//! install, keep internal passwords in one application secret, find the unit that runs
//! the server, turn the supervisor's view of the workload into a status, stop and
//! remove the workload.
//!
//! The first unit (leader at install) is the primary and runs the server; other units
//! are standbys with no server of their own until high availability exists.

use crate::engine::context::{Bag, HookContext};
use crate::secret::generate_password;
use crate::workload::WorkloadState;
use anyhow::{anyhow, Context};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tether_core::status::WorkloadStatus;

pub const STATE_PORT: &str = "port";
pub const STATE_ROLE: &str = "role";
pub const STATE_VERSION: &str = "version";

/// The primary unit: name, port, unit state.
pub type Primary = (String, u16, BTreeMap<String, String>);

/// The supervisor's key for this unit's workload: unique across models.
pub fn workload_key(ctx: &HookContext) -> String {
    format!("{}/{}", ctx.model_uuid, ctx.unit)
}

pub fn unit_dir(ctx: &HookContext) -> PathBuf {
    ctx.services.home.unit_dir(&ctx.model_uuid, &ctx.unit)
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
    if ctx.state_get(STATE_ROLE).is_none() {
        ctx.state_set(STATE_ROLE, if ctx.leader { "primary" } else { "standby" });
    }
    Ok(())
}

/// The unit that runs the server: its name, port and unit state.
pub fn primary(ctx: &HookContext) -> anyhow::Result<Option<Primary>> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units.into_iter().find(|u| u.state.get(STATE_ROLE).map(String::as_str) == Some("primary")).and_then(|u| {
        let port = u.state.get(STATE_PORT)?.parse().ok()?;
        Some((u.name, port, u.state))
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

pub fn server_running(ctx: &HookContext) -> bool {
    matches!(ctx.services.supervisor.state(&workload_key(ctx)), WorkloadState::Running { .. })
}

/// The status a primary shows when its server is not running (None when it is).
pub fn workload_problem(ctx: &HookContext, server: &str) -> Option<(WorkloadStatus, String)> {
    match ctx.services.supervisor.state(&workload_key(ctx)) {
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

pub async fn stop(ctx: &HookContext) {
    ctx.services.supervisor.stop(&workload_key(ctx)).await;
}

/// Stops the workload and deletes its data; returns the port it used.
pub async fn remove(ctx: &HookContext) -> anyhow::Result<Option<u16>> {
    ctx.services.supervisor.remove_data(&workload_key(ctx), &unit_dir(ctx)).await?;
    Ok(own_port(ctx).ok())
}
