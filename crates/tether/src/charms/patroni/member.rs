//! A unit's Patroni under the supervisor: started after the unit's etcd member with the
//! ports claimed once and every etcd member known, stopped after handing over the primary
//! role, and following changed internal passwords (a revision in the leader settings that
//! every unit's Patroni configuration catches up with).

use super::etcd_member;
use super::layout::{member_name, own, peers, port, scope, Layout, STATE_ETCD_CLIENT, STATE_PATRONI_PORT};
use super::switchover::hand_over;
use super::view::cluster;
use crate::charms::revision::Revision;
use crate::charms::services::Services;
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni::PatroniSpec;
use std::collections::BTreeMap;

/// The revision of the internal passwords Patroni must run with (a leader setting bumped
/// by `set-password`, so every unit rewrites its configuration), and the one this unit's
/// Patroni runs with (unit state).
const PASSWORDS: Revision = Revision { setting: "patroni-passwords", seen: "patroni-passwords-seen" };

/// Starts the unit's etcd member (founding, joining or restarting) and its Patroni, with
/// the application's settings as `parameters` (the bootstrap configuration's).
pub async fn start(
    layout: &Layout,
    ctx: &mut HookContext,
    services: &Services,
    parameters: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    layout.claim_ports(ctx)?;
    etcd_member::ensure(ctx, services).await?;
    let spec = patroni_spec(layout, ctx, parameters)?;
    services.supervisor.ensure_running(&layout.patroni_key(ctx), spec).await?;
    Ok(())
}

/// The unit's Patroni as the stored passwords and ports say it.
fn patroni_spec(layout: &Layout, ctx: &HookContext, parameters: BTreeMap<String, String>) -> anyhow::Result<PatroniSpec> {
    let mut hosts = vec![format!("127.0.0.1:{}", own(ctx, STATE_ETCD_CLIENT)?)];
    hosts.extend(peers(ctx)?.iter().filter_map(|(_, s)| port(s, STATE_ETCD_CLIENT)).map(|p| format!("127.0.0.1:{p}")));
    let spec = PatroniSpec::for_unit(
        &ctx.unit_dir(),
        &member_name(&ctx.unit),
        &scope(ctx),
        (own(ctx, STATE_PATRONI_PORT)?, own(ctx, layout.pg_port)?),
        hosts,
        layout.patroni_passwords(ctx)?,
    )
    .with_parameters(parameters);
    Ok(spec)
}

/// After `set-password` changed an internal password under Patroni (on the leader, once the
/// server has it): every unit's Patroni must run with it. The leader rewrites its own
/// configuration now and bumps the revision the others follow ([`follow_passwords`]).
pub async fn passwords_changed(
    layout: &Layout,
    ctx: &mut HookContext,
    services: &Services,
    parameters: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    PASSWORDS.bump(ctx)?;
    reload_passwords(layout, ctx, services, parameters).await
}

/// On `leader-settings-changed`: a unit whose Patroni runs with an older revision of the
/// internal passwords rewrites its configuration and reloads it.
pub async fn follow_passwords(
    layout: &Layout,
    ctx: &mut HookContext,
    services: &Services,
    parameters: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let Some(revision) = PASSWORDS.behind(ctx)?.filter(|_| layout.mode.is_clustered(ctx)) else { return Ok(()) };
    reload_passwords(layout, ctx, services, parameters).await?;
    PASSWORDS.followed(ctx, &revision);
    ctx.log("INFO", "Patroni's configuration follows the changed internal passwords");
    Ok(())
}

/// The primary's Patroni reads its new configuration in place (SIGHUP): restarting it
/// would stop the primary. A replica's Patroni is restarted with it (its PostgreSQL with
/// it, for seconds): Patroni's reload does not reach a replica's streaming connection, and
/// fails outright when the replica's own server is briefly away, which a password changed
/// under it makes likely.
async fn reload_passwords(
    layout: &Layout,
    ctx: &HookContext,
    services: &Services,
    parameters: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let spec = patroni_spec(layout, ctx, parameters)?;
    let primary = cluster(ctx).await.ok().and_then(|v| v.primary).is_some_and(|(u, _)| u == ctx.unit);
    let key = layout.patroni_key(ctx);
    if primary {
        spec.rewrite_and_reload()?;
    } else {
        services.supervisor.stop(&key).await;
    }
    // Same place: the supervisor keeps the new configuration (and starts a stopped one).
    services.supervisor.ensure_running(&key, spec).await?;
    Ok(())
}

/// The stop hook: a primary first hands its role to a synchronous standby, then Patroni
/// stops, then this unit's etcd member leaves the cluster and stops.
pub async fn stop(layout: &Layout, ctx: &HookContext, services: &Services) {
    if let Err(e) = hand_over(layout, ctx).await {
        ctx.log("WARNING", &format!("{} stops without handing over the primary role: {e}", ctx.unit));
    }
    services.supervisor.stop(&layout.patroni_key(ctx)).await;
    etcd_member::leave(ctx, services).await;
}
