//! postgresql-k8s's config options on the server it runs: the settings they become,
//! written before each start and changed live on `config-changed` (a reload, or a restart
//! when PostgreSQL needs one), and the plugin extensions in every database.
//!
//! What was applied is kept in the unit state, so a change touches only the settings that
//! differ and a restart happens only when one of them needs it. A value the server
//! refuses blocks the unit with Canonical's text and leaves the server as it was; an
//! enabled plugin whose extension this machine lacks blocks the unit naming it.

use crate::engine::context::HookContext;
use crate::engines::postgres::{host_resources, ExtensionProblems, PgAdmin, PgError, SettingChanges, CONFIGURATION_ERROR};
use anyhow::anyhow;
use std::collections::BTreeMap;
use tether_core::pg_config;
use tether_core::status::WorkloadStatus;

/// Unit-state key: the settings the server runs with (JSON object).
const STATE_APPLIED: &str = "settings.applied";
/// Unit-state key: why the unit's config cannot be honoured now (a status message).
const STATE_PROBLEM: &str = "settings.problem";
/// Canonical's status when a disabled plugin is still used by objects.
const EXTENSION_IN_USE: &str = "Cannot disable plugins: Existing objects depend on it. See logs";

/// The settings the application's config asks for on this machine.
pub fn desired(ctx: &HookContext) -> anyhow::Result<BTreeMap<String, String>> {
    let host = host_resources()?;
    pg_config::parameters(&ctx.config, &host).map_err(|e| anyhow!(e))
}

/// After a start with `settings`: they are what the server runs with.
pub fn started_with(ctx: &mut HookContext, settings: &BTreeMap<String, String>) -> anyhow::Result<()> {
    ctx.state_set(STATE_APPLIED, &serde_json::to_string(settings)?);
    Ok(())
}

fn applied(ctx: &HookContext) -> BTreeMap<String, String> {
    ctx.state_get(STATE_APPLIED).and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
}

/// Why the config cannot be honoured, if it cannot (shown as `blocked`).
pub fn problem(ctx: &HookContext) -> Option<String> {
    ctx.state_get(STATE_PROBLEM)
}

/// What a running server must do to run with `desired`.
pub enum Change {
    None,
    /// Applied live (reloaded).
    Reloaded,
    /// Applied to the file; these settings wait for a restart.
    NeedsRestart(Vec<String>),
}

/// Changes the running server's settings to `desired`. A value the server refuses
/// leaves everything as it was and records the problem.
pub async fn change(ctx: &mut HookContext, admin: &PgAdmin, desired: &BTreeMap<String, String>) -> anyhow::Result<Change> {
    let before = applied(ctx);
    let mut changes = SettingChanges::new();
    for name in before.keys().chain(desired.keys()) {
        let (old, new) = (before.get(name).cloned(), desired.get(name).cloned());
        if old != new {
            changes.insert(name.clone(), (old, new));
        }
    }
    if changes.is_empty() {
        ctx.state_delete(STATE_PROBLEM);
        return Ok(Change::None);
    }
    match admin.change_settings(&changes).await {
        Ok(restart) => {
            ctx.state_delete(STATE_PROBLEM);
            started_with(ctx, desired)?;
            Ok(if restart.is_empty() { Change::Reloaded } else { Change::NeedsRestart(restart) })
        }
        Err(e @ PgError::RefusedSetting { .. }) => {
            ctx.log("ERROR", &format!("Invalid configuration: {e}"));
            ctx.state_set(STATE_PROBLEM, CONFIGURATION_ERROR);
            Ok(Change::None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes the plugin extensions exist, or not, in every database as the config says.
pub async fn extensions(ctx: &mut HookContext, admin: &PgAdmin) -> anyhow::Result<()> {
    let wanted = match pg_config::extensions(&ctx.config) {
        Ok(w) => w,
        Err(e) => {
            ctx.log("ERROR", &e);
            ctx.state_set(STATE_PROBLEM, "Unsatisfied plugin dependencies. Please check the logs");
            return Ok(());
        }
    };
    let ExtensionProblems { missing, in_use, failed } = admin.set_extensions(&wanted).await?;
    if !missing.is_empty() {
        ctx.state_set(STATE_PROBLEM, &format!("extension(s) not installed on this machine: {}", missing.join(", ")));
    } else if !failed.is_empty() {
        for (ext, reason) in &failed {
            ctx.log("ERROR", &format!("failed to create extension {ext}: {reason}"));
        }
        let names: Vec<&str> = failed.iter().map(|(e, _)| e.as_str()).collect();
        ctx.state_set(STATE_PROBLEM, &format!("extension(s) the server cannot create: {}. See logs", names.join(", ")));
    } else if !in_use.is_empty() {
        ctx.log("ERROR", &format!("Failed to disable plugin(s) {}: objects depend on them", in_use.join(", ")));
        ctx.state_set(STATE_PROBLEM, EXTENSION_IN_USE);
    } else if problem(ctx).is_some_and(|p| p != CONFIGURATION_ERROR) {
        ctx.state_delete(STATE_PROBLEM);
    }
    Ok(())
}

/// The status to show while a restart applies settings.
pub fn restarting(ctx: &HookContext, names: &[String]) -> anyhow::Result<()> {
    ctx.set_status(WorkloadStatus::Maintenance, &format!("restarting PostgreSQL to apply {}", names.join(", ")))?;
    Ok(())
}
