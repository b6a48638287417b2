//! The application's settings and Patroni's own options (`synchronous_mode_strict`, ...)
//! through Patroni's shared configuration (`PATCH /config`: every member reloads), with
//! the members that then wait for a restart restarted through `POST /restart`, replicas
//! first and the primary last. The leader's part of config-changed.

use super::layout::{all_units, own, peers, port, Layout, STATE_PATRONI_PORT};
use super::view::{cluster, POLL};
use crate::charms::settings_state;
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni_api;
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Unit-state key: Patroni's own options as the leader last put them in the shared
/// configuration.
const STATE_DCS_APPLIED: &str = "patroni-dcs-applied";
/// How long a member may take to notice a configuration change that waits for a restart
/// (Patroni reads the shared configuration once per loop).
const PENDING_WAIT: Duration = Duration::from_secs(30);

/// Patroni's own options as the config and the number of units say them.
fn dcs_wanted(ctx: &HookContext) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let units = 1 + peers(ctx)?.len();
    Ok(tether_core::pg_config::patroni_dcs(&ctx.config, units))
}

/// Whether Patroni's own options differ from what the leader last put in the shared
/// configuration (a change of them alone must reach Patroni too).
pub fn dcs_pending(ctx: &HookContext) -> anyhow::Result<bool> {
    let wanted = serde_json::Value::Object(dcs_wanted(ctx)?).to_string();
    Ok(ctx.state_get(STATE_DCS_APPLIED).as_deref() != Some(wanted.as_str()))
}

/// The settings that differ from what the cluster runs with, and Patroni's own options,
/// go into the shared configuration; when one of them needs a restart (`restart_only`),
/// every member restarts once it notices. Returns the settings that needed the restart.
pub async fn apply_settings(
    layout: &Layout,
    ctx: &mut HookContext,
    desired: &BTreeMap<String, String>,
    restart_only: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let changes = settings_state::changes(ctx, desired);
    let mut body = dcs_wanted(ctx)?;
    let dcs_text = serde_json::Value::Object(body.clone()).to_string();
    let parameters: serde_json::Map<String, serde_json::Value> =
        changes.iter().map(|(k, (_, new))| (k.clone(), new.clone().map_or(serde_json::Value::Null, serde_json::Value::from))).collect();
    body.insert("postgresql".into(), serde_json::json!({ "parameters": parameters }));
    let password = layout.rest_password(ctx).map_err(|e| anyhow!(e))?;
    let own_rest = own(ctx, STATE_PATRONI_PORT)?;
    patroni_api::patch_config(own_rest, &password, &serde_json::Value::Object(body)).await.map_err(|e| anyhow!(e))?;
    settings_state::record(ctx, desired)?;
    ctx.state_set(STATE_DCS_APPLIED, &dcs_text);
    if restart_only.is_empty() {
        return Ok(restart_only);
    }
    let view = cluster(ctx).await?;
    let mut rest_ports: Vec<(String, u16)> =
        all_units(ctx)?.into_iter().filter_map(|(unit, state)| port(&state, STATE_PATRONI_PORT).map(|p| (unit, p))).collect();
    let primary = view.primary.map(|(u, _)| u);
    rest_ports.sort_by_key(|(u, _)| Some(u) == primary.as_ref());
    for (unit, rest) in rest_ports {
        let started = Instant::now();
        let mut pending = false;
        while !pending && started.elapsed() < PENDING_WAIT {
            pending = patroni_api::pending_restart(rest).await.unwrap_or(false);
            if !pending {
                tokio::time::sleep(POLL).await;
            }
        }
        // A member that (re)started after the change already runs with it: nothing waits.
        if pending {
            patroni_api::restart_pending(rest, &password).await.map_err(|e| anyhow!("restarting {unit}: {e}"))?;
        }
    }
    Ok(restart_only)
}
