//! mysql-k8s's config options on the server it runs: the settings they become
//! (`tether_core::my_config`), passed at each start and changed live on `config-changed`
//! with `SET GLOBAL`, or by a restart when one of them is static (the buffer pool, the
//! audit plugin's loading). What was applied is kept in the unit state (`settings_state`).

use super::settings_state::{self, Change};
use crate::engine::context::HookContext;
use crate::engines::mysql::{host_resources, MyAdmin};
use std::collections::BTreeMap;
use tether_core::my_config::{self, STATIC_SETTINGS};

/// The settings the application's config asks for on this machine.
pub fn desired(ctx: &HookContext) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(my_config::settings(&ctx.config, &host_resources()?))
}

/// Applies `desired` to the running server live when it can; says when a restart must.
pub async fn change(ctx: &mut HookContext, admin: &MyAdmin, desired: &BTreeMap<String, String>) -> anyhow::Result<Change> {
    let changes = settings_state::changes(ctx, desired);
    if changes.is_empty() {
        return Ok(Change::None);
    }
    let restart: Vec<String> = changes.keys().filter(|k| STATIC_SETTINGS.contains(&k.as_str())).cloned().collect();
    if !restart.is_empty() {
        return Ok(Change::NeedsRestart(restart));
    }
    admin.set_globals(&changes).await?;
    settings_state::record(ctx, desired)?;
    Ok(Change::Applied)
}
