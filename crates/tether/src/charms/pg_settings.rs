//! postgresql-k8s's config options on the server it runs: the settings they become,
//! written before each start and changed live on `config-changed` (a reload, or a restart
//! when PostgreSQL needs one), and the plugin extensions in every database.
//!
//! What was applied is kept in the unit state (`settings_state`), so a change touches only
//! the settings that differ and a restart happens only when one of them needs it. A value
//! the server refuses blocks the unit with Canonical's text and leaves the server as it
//! was; an enabled plugin whose extension this machine lacks blocks the unit naming it.

use super::settings_state::{self, clear_problem, problem, set_problem, Change};
use crate::engine::context::HookContext;
use crate::engines::postgres::{host_resources, ExtensionProblems, PgAdmin, PgError, CONFIGURATION_ERROR};
use anyhow::anyhow;
use std::collections::BTreeMap;
use tether_core::pg_config;
/// Canonical's status when a disabled plugin is still used by objects.
const EXTENSION_IN_USE: &str = "Cannot disable plugins: Existing objects depend on it. See logs";

/// The settings the application's config asks for on this machine.
pub fn desired(ctx: &HookContext) -> anyhow::Result<BTreeMap<String, String>> {
    let host = host_resources()?;
    pg_config::parameters(&ctx.config, &host).map_err(|e| anyhow!(e))
}

/// The settings a start writes: the config's, unless the server refused them (then what
/// it last ran with, so that a refused value never keeps the server from starting).
pub fn for_start(ctx: &HookContext) -> anyhow::Result<BTreeMap<String, String>> {
    let applied = settings_state::applied(ctx);
    if problem(ctx).as_deref() == Some(CONFIGURATION_ERROR) && !applied.is_empty() {
        return Ok(applied);
    }
    desired(ctx)
}

/// Changes the running server's settings to `desired`. A value the server refuses
/// leaves everything as it was and records the problem.
pub async fn change(ctx: &mut HookContext, admin: &PgAdmin, desired: &BTreeMap<String, String>) -> anyhow::Result<Change> {
    let changes = settings_state::changes(ctx, desired);
    if changes.is_empty() {
        clear_problem(ctx);
        return Ok(Change::None);
    }
    match admin.change_settings(&changes).await {
        Ok(restart) => {
            clear_problem(ctx);
            settings_state::record(ctx, desired)?;
            Ok(if restart.is_empty() { Change::Applied } else { Change::NeedsRestart(restart) })
        }
        Err(e @ PgError::RefusedSetting { .. }) => {
            ctx.log("ERROR", &format!("Invalid configuration: {e}"));
            set_problem(ctx, CONFIGURATION_ERROR);
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
            set_problem(ctx, "Unsatisfied plugin dependencies. Please check the logs");
            return Ok(());
        }
    };
    let ExtensionProblems { missing, in_use, failed } = admin.set_extensions(&wanted).await?;
    if !missing.is_empty() {
        set_problem(ctx, &format!("extension(s) not installed on this machine: {}", missing.join(", ")));
    } else if !failed.is_empty() {
        for (ext, reason) in &failed {
            ctx.log("ERROR", &format!("failed to create extension {ext}: {reason}"));
        }
        let names: Vec<&str> = failed.iter().map(|(e, _)| e.as_str()).collect();
        set_problem(ctx, &format!("extension(s) the server cannot create: {}. See logs", names.join(", ")));
    } else if !in_use.is_empty() {
        ctx.log("ERROR", &format!("Failed to disable plugin(s) {}: objects depend on them", in_use.join(", ")));
        set_problem(ctx, EXTENSION_IN_USE);
    } else if problem(ctx).is_some_and(|p| p != CONFIGURATION_ERROR) {
        clear_problem(ctx);
    }
    Ok(())
}
