//! What a server charm remembers of its server's settings between hooks: the settings the
//! server runs with (so a change touches only what differs, and every later start or
//! restart, including the supervisor's after a crash, uses them) and why the config cannot
//! be honoured now (shown as `blocked`).

use crate::engine::context::HookContext;
use crate::engines::settings::SettingChanges;
use std::collections::BTreeMap;
use tether_core::status::WorkloadStatus;

/// Unit-state key: the settings the server runs with (JSON object).
const STATE_APPLIED: &str = "settings.applied";
/// Unit-state key: why the unit's config cannot be honoured now (a status message).
const STATE_PROBLEM: &str = "settings.problem";

/// The settings the server runs with (empty before its first start).
pub fn applied(ctx: &HookContext) -> BTreeMap<String, String> {
    ctx.state_get(STATE_APPLIED).and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
}

/// [`applied`] as another unit's committed state records it.
pub fn applied_in(state: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    state.get(STATE_APPLIED).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
}

/// Whether another unit's committed state says its config cannot be honoured.
pub fn has_problem_in(state: &BTreeMap<String, String>) -> bool {
    state.contains_key(STATE_PROBLEM)
}

/// The server now runs with `settings`.
pub fn record(ctx: &mut HookContext, settings: &BTreeMap<String, String>) -> anyhow::Result<()> {
    ctx.state_set(STATE_APPLIED, &serde_json::to_string(settings)?);
    Ok(())
}

/// What differs between the applied settings and `desired`.
pub fn changes(ctx: &HookContext, desired: &BTreeMap<String, String>) -> SettingChanges {
    let before = applied(ctx);
    let mut changes = SettingChanges::new();
    for name in before.keys().chain(desired.keys()) {
        let (old, new) = (before.get(name).cloned(), desired.get(name).cloned());
        if old != new {
            changes.insert(name.clone(), (old, new));
        }
    }
    changes
}

/// Why the config cannot be honoured, if it cannot.
pub fn problem(ctx: &HookContext) -> Option<String> {
    ctx.state_get(STATE_PROBLEM)
}

pub fn set_problem(ctx: &mut HookContext, message: &str) {
    ctx.state_set(STATE_PROBLEM, message);
}

pub fn clear_problem(ctx: &mut HookContext) {
    ctx.state_delete(STATE_PROBLEM);
}

/// What a running server had to do to run with the settings the config asks for.
pub enum Change {
    None,
    /// Applied live (a reload, `SET GLOBAL`).
    Applied,
    /// These settings differ and only a restart applies them.
    NeedsRestart(Vec<String>),
}

/// The status shown while a restart applies `names` to `server`.
pub fn restarting(ctx: &HookContext, server: &str, names: &[String]) -> anyhow::Result<()> {
    ctx.set_status(WorkloadStatus::Maintenance, &format!("restarting {server} to apply {}", names.join(", ")))?;
    Ok(())
}
