//! `postgresql-k8s` deployed with more than one unit: every unit runs one etcd member (the
//! application's units form one etcd cluster) and one Patroni managing the unit's
//! PostgreSQL. Patroni elects the primary and fails over; this module starts the two
//! processes under the supervisor, asks Patroni who is primary, and gives the charm the
//! addresses requirers are sent.
//!
//! **Mode.** The leader decides once, at its install, from the number of units deployed
//! with it: more than one means `patroni`, one means `single` (today's plain server, so
//! single-unit deployments behave exactly as before, also after `add-unit`). The mode is
//! a leader setting, so every unit reads the same answer; a unit that starts before the
//! leader's install is committed waits for it (bounded).
//!
//! **Following failovers.** A watcher task per application (started by the first unit
//! `start` under Patroni) asks Patroni every two seconds who is primary and which
//! replicas are healthy; when that changes it queues `update-status` on every unit, whose
//! leader then rewrites `endpoints` and `read-only-endpoints` on every relation.
//!
//! **etcd membership.** The unit that was leader at install founds the etcd cluster; every
//! other unit (at deploy or `add-unit`) is first added to it through a live member, then
//! starts with the member list the cluster answered. A unit leaving removes its member so
//! the quorum shrinks with the application.

use super::ha_mode::Mode;
use super::server::{self, workload_key};
use super::services::Services;
use super::settings_state;
use crate::engine::context::HookContext;
use crate::engines::etcd::{self, EtcdSpec};
pub use crate::engines::postgres::patroni::REST_USER;
use crate::engines::postgres::patroni::{PatroniPasswords, PatroniSpec};
use crate::engines::postgres::patroni_api::{self, Member};
use crate::secret::SecretString;
use anyhow::{anyhow, Context};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tether_core::life::Life;

/// Leader setting holding the application's mode.
const MODE_KEY: &str = "postgresql-mode";
const PATRONI: &str = "patroni";
/// Unit-state keys of the ports a unit's Patroni and etcd member listen on.
const STATE_PATRONI_PORT: &str = "patroni-port";
const STATE_ETCD_CLIENT: &str = "etcd-client-port";
const STATE_ETCD_PEER: &str = "etcd-peer-port";
/// Unit-state key: this unit's role as Patroni last reported it (`primary`, `replica`).
const STATE_HA_ROLE: &str = "ha-role";
/// Internal-secret key of Patroni's REST API password (Canonical's key name).
pub const REST_PASSWORD_KEY: &str = "patroni-password";
/// How long a unit waits for the leader's mode, or for a live etcd member to join.
const WAIT_FOR_CLUSTER: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(500);
/// How often the watcher asks Patroni who is primary.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How long a switchover waits for a synchronous standby to exist.
const HAND_OVER_WAIT: Duration = Duration::from_secs(60);

/// The application's mode (see `charms::ha_mode`).
const MODE: Mode = Mode { key: MODE_KEY, clustered: PATRONI };

/// At the leader's install: records the mode from the number of units deployed.
pub fn decide_mode(ctx: &mut HookContext) -> anyhow::Result<()> {
    MODE.decide(ctx)
}

/// Whether the application runs Patroni, as far as is committed (or set by this hook).
pub fn is_ha(ctx: &HookContext) -> bool {
    MODE.is_clustered(ctx)
}

/// The mode, waiting (bounded) for the leader's install to record it.
pub async fn await_mode(ctx: &HookContext) -> anyhow::Result<bool> {
    MODE.wait(ctx).await
}

/// The member name of a unit in Patroni and etcd (`app/0` → `app-0`).
fn member_name(unit: &str) -> String {
    unit.replace('/', "-")
}

fn scope(ctx: &HookContext) -> String {
    format!("{}.{}", ctx.model_uuid, ctx.app)
}

fn port(state: &std::collections::BTreeMap<String, String>, key: &str) -> Option<u16> {
    state.get(key).and_then(|p| p.parse().ok())
}

/// The application's other live units with their unit state (as committed).
fn peers(ctx: &HookContext) -> anyhow::Result<Vec<(String, std::collections::BTreeMap<String, String>)>> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units.into_iter().filter(|u| u.name != ctx.unit && u.life == Life::Alive).map(|u| (u.name, u.state)).collect())
}

fn own(ctx: &HookContext, key: &str) -> anyhow::Result<u16> {
    ctx.state_get(key).and_then(|p| p.parse().ok()).ok_or_else(|| anyhow!("unit has no {key}"))
}

/// Free ports for Patroni's REST API and the etcd member, claimed once.
fn claim_ports(ctx: &mut HookContext) -> anyhow::Result<()> {
    for key in [STATE_PATRONI_PORT, STATE_ETCD_CLIENT, STATE_ETCD_PEER] {
        if ctx.state_get(key).is_none() {
            let mut p = crate::workload::free_port().context("no free port on 127.0.0.1")?;
            // free_port may hand out the same port twice before anything binds it.
            while [STATE_PATRONI_PORT, STATE_ETCD_CLIENT, STATE_ETCD_PEER, server::STATE_PORT]
                .iter()
                .any(|k| ctx.state_get(k).as_deref() == Some(p.to_string().as_str()))
            {
                p = crate::workload::free_port().context("no free port on 127.0.0.1")?;
            }
            ctx.state_set(key, &p.to_string());
        }
    }
    Ok(())
}

/// The supervisor's key for the unit's etcd member.
fn etcd_key(ctx: &HookContext) -> String {
    format!("{}#etcd", workload_key(ctx))
}

/// Starts the unit's etcd member (founding, joining or restarting) and its Patroni.
pub async fn start(ctx: &mut HookContext, services: &Services, label: &str, parameters: BTreeMap<String, String>) -> anyhow::Result<()> {
    claim_ports(ctx)?;
    ensure_etcd(ctx, services).await?;
    let spec = patroni_spec(ctx, label, parameters)?;
    services.supervisor.ensure_running(&workload_key(ctx), spec).await?;
    Ok(())
}

/// Unit-state key: the revision of the internal passwords this unit's Patroni runs with.
const STATE_PASSWORDS_SEEN: &str = "patroni-passwords-seen";
/// Leader-settings key: the revision of the internal passwords Patroni must run with,
/// bumped by `set-password` so every unit rewrites its configuration.
const PASSWORDS_REVISION: &str = "patroni-passwords";

/// After `set-password` changed an internal password under Patroni (on the leader, once the
/// server has it): every unit's Patroni must run with it. The leader rewrites its own
/// configuration now and bumps the revision the others follow ([`follow_passwords`]).
pub async fn passwords_changed(
    ctx: &mut HookContext,
    services: &Services,
    label: &str,
    parameters: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let next = ctx.leader_settings()?.get(PASSWORDS_REVISION).and_then(|r| r.parse::<u64>().ok()).unwrap_or(0) + 1;
    ctx.leader_set(&BTreeMap::from([(PASSWORDS_REVISION.to_string(), next.to_string())]))?;
    reload_passwords(ctx, services, label, parameters).await?;
    ctx.state_set(STATE_PASSWORDS_SEEN, &next.to_string());
    Ok(())
}

/// On `leader-settings-changed`: a unit whose Patroni runs with an older revision of the
/// internal passwords rewrites its configuration and reloads it.
pub async fn follow_passwords(
    ctx: &mut HookContext,
    services: &Services,
    label: &str,
    parameters: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let Some(revision) = ctx.leader_settings()?.get(PASSWORDS_REVISION).cloned() else { return Ok(()) };
    if ctx.state_get(STATE_PASSWORDS_SEEN).as_deref() == Some(revision.as_str()) || !is_ha(ctx) {
        return Ok(());
    }
    reload_passwords(ctx, services, label, parameters).await?;
    ctx.state_set(STATE_PASSWORDS_SEEN, &revision);
    ctx.log("INFO", "Patroni's configuration follows the changed internal passwords");
    Ok(())
}

/// The primary's Patroni reads its new configuration in place (SIGHUP): restarting it
/// would stop the primary. A replica's Patroni is restarted with it (its PostgreSQL with
/// it, for seconds): Patroni's reload does not reach a replica's streaming connection, and
/// fails outright when the replica's own server is briefly away, which a password changed
/// under it makes likely.
async fn reload_passwords(ctx: &HookContext, services: &Services, label: &str, parameters: BTreeMap<String, String>) -> anyhow::Result<()> {
    let spec = patroni_spec(ctx, label, parameters)?;
    let primary = cluster(ctx).await.ok().and_then(|v| v.primary).is_some_and(|(u, _)| u == ctx.unit);
    let key = workload_key(ctx);
    if primary {
        spec.rewrite_and_reload()?;
    } else {
        services.supervisor.stop(&key).await;
    }
    // Same place: the supervisor keeps the new configuration (and starts a stopped one).
    services.supervisor.ensure_running(&key, spec).await?;
    Ok(())
}

/// The unit's Patroni as the stored passwords and ports say it.
fn patroni_spec(ctx: &HookContext, label: &str, parameters: BTreeMap<String, String>) -> anyhow::Result<PatroniSpec> {
    let passwords = server::internal(ctx, label)?;
    let pw = |k: &str| passwords.get(k).cloned().map(SecretString::new).ok_or_else(|| anyhow!("internal password {k} missing"));
    let passwords = PatroniPasswords {
        operator: pw("operator-password")?,
        replication: pw("replication-password")?,
        rewind: pw("rewind-password")?,
        rest: pw(REST_PASSWORD_KEY)?,
    };
    let mut hosts = vec![format!("127.0.0.1:{}", own(ctx, STATE_ETCD_CLIENT)?)];
    hosts.extend(peers(ctx)?.iter().filter_map(|(_, s)| port(s, STATE_ETCD_CLIENT)).map(|p| format!("127.0.0.1:{p}")));
    let spec = PatroniSpec::for_unit(
        &ctx.unit_dir(),
        &member_name(&ctx.unit),
        &scope(ctx),
        (own(ctx, STATE_PATRONI_PORT)?, server::own_port(ctx)?),
        hosts,
        passwords,
    )
    .with_parameters(parameters);
    Ok(spec)
}

/// Unit-state key: Patroni's own options (`synchronous_mode_strict`, ...) as the leader last
/// put them in the shared configuration.
const STATE_DCS_APPLIED: &str = "patroni-dcs-applied";

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

/// How long a member may take to notice a configuration change that waits for a restart
/// (Patroni reads the shared configuration once per loop).
const PENDING_WAIT: Duration = Duration::from_secs(30);

/// The leader's part of config-changed under Patroni: the settings that differ from what
/// the cluster runs with, and Patroni's own options, go into the cluster's shared
/// configuration (every member reloads); when one of them needs a restart
/// (`restart_only`), every member restarts once it notices, replicas first and the
/// primary last. Returns the settings that needed the restart.
pub async fn apply_settings(
    ctx: &mut HookContext,
    label: &str,
    desired: &BTreeMap<String, String>,
    restart_only: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let changes = settings_state::changes(ctx, desired);
    let mut body = dcs_wanted(ctx)?;
    let dcs_text = serde_json::Value::Object(body.clone()).to_string();
    let parameters: serde_json::Map<String, serde_json::Value> =
        changes.iter().map(|(k, (_, new))| (k.clone(), new.clone().map_or(serde_json::Value::Null, serde_json::Value::from))).collect();
    body.insert("postgresql".into(), serde_json::json!({ "parameters": parameters }));
    let password = rest_password(ctx, label).map_err(|e| anyhow!(e))?;
    let own_rest = own(ctx, STATE_PATRONI_PORT)?;
    patroni_api::patch_config(own_rest, &password, &serde_json::Value::Object(body)).await.map_err(|e| anyhow!(e))?;
    settings_state::record(ctx, desired)?;
    ctx.state_set(STATE_DCS_APPLIED, &dcs_text);
    if restart_only.is_empty() {
        return Ok(restart_only);
    }
    let view = cluster(ctx).await?;
    let mut rest_ports: Vec<(String, u16)> = Vec::new();
    let mut units = vec![(ctx.unit.clone(), ctx.unit_state().clone())];
    units.extend(peers(ctx)?);
    for (unit, state) in &units {
        if let Some(p) = port(state, STATE_PATRONI_PORT) {
            rest_ports.push((unit.clone(), p));
        }
    }
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

async fn ensure_etcd(ctx: &mut HookContext, services: &Services) -> anyhow::Result<()> {
    let name = member_name(&ctx.unit);
    let (client_port, peer_port) = (own(ctx, STATE_ETCD_CLIENT)?, own(ctx, STATE_ETCD_PEER)?);
    let my_peer = etcd::peer_url(peer_port);
    let mut spec = EtcdSpec {
        dir: ctx.unit_dir().join("etcd"),
        name: name.clone(),
        client_port,
        peer_port,
        initial_cluster: format!("{name}={my_peer}"),
        founding: false,
        token: scope(ctx),
    };
    let has_data = spec.data_dir().join("member").is_dir();
    if !has_data {
        let founder = server::is_primary(ctx);
        match live_member(ctx, !founder).await? {
            None => spec.founding = true,
            Some(live) => {
                let members = join(live, &my_peer).await?;
                let peers = peers(ctx)?;
                let named = |url: &str| {
                    peers
                        .iter()
                        .find(|(_, s)| port(s, STATE_ETCD_PEER).is_some_and(|p| etcd::peer_url(p) == url))
                        .map(|(u, _)| member_name(u))
                };
                let mut entries = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    for url in &m.peer_urls {
                        let n = if *url == my_peer {
                            name.clone()
                        } else if !m.name.is_empty() {
                            m.name.clone()
                        } else {
                            named(url).unwrap_or_else(|| format!("joining-{i}"))
                        };
                        entries.push(format!("{n}={url}"));
                    }
                }
                spec.initial_cluster = entries.join(",");
            }
        }
    }
    services.supervisor.ensure_running(&etcd_key(ctx), spec).await?;
    Ok(())
}

/// The client port of another unit's etcd member that answers. With `wait`, polls
/// (bounded) until one does; without, looks once.
async fn live_member(ctx: &HookContext, wait: bool) -> anyhow::Result<Option<u16>> {
    let started = Instant::now();
    loop {
        for (_, state) in peers(ctx)? {
            if let Some(p) = port(&state, STATE_ETCD_CLIENT) {
                if etcd::members(p).await.is_ok() {
                    return Ok(Some(p));
                }
            }
        }
        if !wait {
            return Ok(None);
        }
        if started.elapsed() > WAIT_FOR_CLUSTER {
            return Err(anyhow!("no etcd member of {} answers: cannot join the cluster", ctx.app));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Adds this member through the member on `port`, retrying while the cluster refuses
/// (it refuses a second new member until the first has started).
async fn join(port: u16, my_peer: &str) -> anyhow::Result<Vec<etcd::EtcdMember>> {
    let started = Instant::now();
    loop {
        match etcd::add_member(port, my_peer).await {
            Ok(m) => return Ok(m),
            Err(e) if started.elapsed() > WAIT_FOR_CLUSTER => return Err(anyhow!("joining the etcd cluster: {e}")),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The stop hook in Patroni mode: a primary first hands its role to a synchronous standby
/// (a switchover: stopping a primary whose standbys are not synchronous yet, as right
/// after a switchover, would leave Patroni nobody it may promote), then Patroni stops,
/// then this unit's etcd member leaves the cluster and stops. Best effort: when the whole
/// application goes, the last members cannot reach a quorum to remove themselves.
pub async fn stop(ctx: &HookContext, services: &Services, label: &str) {
    if let Err(e) = hand_over(ctx, label).await {
        ctx.log("WARNING", &format!("{} stops without handing over the primary role: {e}", ctx.unit));
    }
    services.supervisor.stop(&workload_key(ctx)).await;
    if let (Ok(client), Ok(peer)) = (own(ctx, STATE_ETCD_CLIENT), own(ctx, STATE_ETCD_PEER)) {
        if let Err(e) = etcd::remove_member(client, &etcd::peer_url(peer)).await {
            ctx.log("WARNING", &format!("etcd member of {} not removed from the cluster: {e}", ctx.unit));
        }
    }
    services.supervisor.stop(&etcd_key(ctx)).await;
}

/// The cluster as Patroni reports it, with member names turned back into units.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// The primary unit and its PostgreSQL port.
    pub primary: Option<(String, u16)>,
    /// Healthy replicas, by unit name.
    pub replicas: Vec<(String, u16)>,
    /// The healthy replicas that are synchronous standbys (the ones Patroni may promote).
    pub sync: Vec<String>,
}

/// Asks this unit's Patroni, else any other unit's, who is primary.
pub async fn cluster(ctx: &HookContext) -> anyhow::Result<ClusterView> {
    let mut units = vec![(ctx.unit.clone(), ctx.unit_state().clone())];
    units.extend(peers(ctx)?);
    let mut last = None;
    for (_, state) in &units {
        let Some(p) = port(state, STATE_PATRONI_PORT) else { continue };
        match patroni_api::cluster(p).await {
            Ok(members) if !members.is_empty() => return Ok(view(&units, &members)),
            Ok(_) => last = Some("no members".to_string()),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(anyhow!("no Patroni of {} answers: {}", ctx.app, last.unwrap_or_else(|| "none started".into())))
}

fn view(units: &[(String, std::collections::BTreeMap<String, String>)], members: &[Member]) -> ClusterView {
    let unit_of = |m: &Member| units.iter().find(|(u, _)| member_name(u) == m.name).map(|(u, _)| u.clone());
    let mut v = ClusterView::default();
    for m in members {
        let (Some(unit), Some(p)) = (unit_of(m), m.port) else { continue };
        if m.is_primary() {
            v.primary = Some((unit, p));
        } else if m.is_healthy_replica() {
            if m.is_sync_standby() {
                v.sync.push(unit.clone());
            }
            v.replicas.push((unit, p));
        }
    }
    v
}

/// The cluster once it has a primary (a fresh cluster elects one within Patroni's loop),
/// waiting at most [`WAIT_FOR_CLUSTER`].
pub async fn await_primary(ctx: &HookContext) -> anyhow::Result<ClusterView> {
    let started = Instant::now();
    loop {
        let last = match cluster(ctx).await {
            Ok(v) if v.primary.is_some() => return Ok(v),
            Ok(_) => "no primary yet".to_string(),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > WAIT_FOR_CLUSTER {
            return Err(anyhow!("the Patroni cluster of {} has no primary: {last}", ctx.app));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What the watcher compares: the primary's member name and the healthy replicas'.
fn published(members: &[Member]) -> Option<(String, Vec<String>)> {
    let primary = members.iter().find(|m| m.is_primary())?.name.clone();
    let mut replicas: Vec<String> = members.iter().filter(|m| m.is_healthy_replica()).map(|m| m.name.clone()).collect();
    replicas.sort();
    Some((primary, replicas))
}

/// Follows the application's Patroni cluster between hooks (every [`WATCH_EVERY`]): when
/// the primary or the set of healthy replicas changes (a failover, a replica back), every
/// unit of the application is asked for `update-status` at once, so the leader rewrites
/// the endpoints on every relation and each unit its status without waiting for the
/// timer. One task per application; it ends when the application has no units left.
pub fn watch(ctx: &HookContext, services: &Arc<Services>) {
    let key = format!("{}/{}", ctx.model, ctx.app);
    if !services.watchers.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
        return;
    }
    let (model, app, services) = (ctx.model.clone(), ctx.app.clone(), services.clone());
    tokio::spawn(async move {
        let mut last = None;
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) else { break };
            let Ok(units) = engine.store().read(|tx| tx.units(&model, Some(&app))) else { continue };
            if units.is_empty() {
                break;
            }
            let mut seen = None;
            for p in units.iter().filter_map(|u| port(&u.state, STATE_PATRONI_PORT)) {
                if let Ok(members) = patroni_api::cluster(p).await {
                    seen = published(&members);
                    if seen.is_some() {
                        break;
                    }
                }
            }
            // No primary: Patroni is electing one; look again.
            let Some(seen) = seen else { continue };
            // The first look wakes the units too: the cluster may have changed while no
            // watcher ran (controller restart, replicas becoming healthy after start).
            if last.as_ref() != Some(&seen) {
                for u in units.iter().filter(|u| u.life == Life::Alive) {
                    let _ = engine.request_update_status(&model, &u.name);
                }
            }
            last = Some(seen);
        }
        services.watchers.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    });
}

/// Records this unit's role from a view, for the status.
pub fn note_role(ctx: &mut HookContext, v: &ClusterView) {
    let role = if v.primary.as_ref().is_some_and(|(u, _)| *u == ctx.unit) { "primary" } else { "replica" };
    ctx.state_set(STATE_HA_ROLE, role);
}

/// This unit's role as last recorded (`primary`, `replica`).
pub fn recorded_role(ctx: &HookContext) -> Option<String> {
    ctx.state_get(STATE_HA_ROLE)
}

/// Polls the cluster (bounded) until `ready` accepts it.
async fn await_view(ctx: &HookContext, what: &str, ready: impl Fn(&ClusterView) -> bool) -> Result<ClusterView, String> {
    let started = Instant::now();
    loop {
        let last = match cluster(ctx).await {
            Ok(v) if ready(&v) => return Ok(v),
            Ok(v) => format!("{v:?}"),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > HAND_OVER_WAIT {
            return Err(format!("no {what} within {} s (last seen: {last})", HAND_OVER_WAIT.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn rest_password(ctx: &HookContext, label: &str) -> Result<SecretString, String> {
    let rest = server::internal(ctx, label).map_err(|e| e.to_string())?;
    Ok(SecretString::new(rest.get(REST_PASSWORD_KEY).cloned().ok_or("Patroni's REST password is missing")?))
}

/// When this unit is the primary and has replicas: a switchover to a synchronous standby
/// of Patroni's choice, once there is one.
async fn hand_over(ctx: &HookContext, label: &str) -> Result<(), String> {
    let view = cluster(ctx).await.map_err(|e| e.to_string())?;
    if view.primary.as_ref().is_none_or(|(u, _)| *u != ctx.unit) || view.replicas.is_empty() {
        return Ok(());
    }
    await_view(ctx, "synchronous standby", |v| !v.sync.is_empty()).await?;
    let port = own(ctx, STATE_PATRONI_PORT).map_err(|e| e.to_string())?;
    patroni_api::switchover(port, &rest_password(ctx, label)?, &member_name(&ctx.unit), None).await
}

/// Switches the primary over to this unit, through its own Patroni, once this unit is a
/// synchronous standby (in synchronous mode Patroni promotes no other).
pub async fn promote_self(ctx: &HookContext, label: &str) -> Result<(), String> {
    let view = cluster(ctx).await.map_err(|e| e.to_string())?;
    let Some((primary, _)) = view.primary else { return Err("the cluster has no primary now".into()) };
    if primary == ctx.unit {
        return Err("the unit is already the primary".into());
    }
    let me = ctx.unit.clone();
    let view = await_view(ctx, "synchronous standby role for this unit", |v| v.sync.contains(&me)).await?;
    let primary = view.primary.map(|(u, _)| u).unwrap_or(primary);
    let port = own(ctx, STATE_PATRONI_PORT).map_err(|e| e.to_string())?;
    patroni_api::switchover(port, &rest_password(ctx, label)?, &member_name(&primary), Some(&member_name(&ctx.unit))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_map_back_to_units_and_only_healthy_replicas_count() {
        let units: Vec<(String, std::collections::BTreeMap<String, String>)> =
            ["pg/0", "pg/1", "pg/2"].iter().map(|u| (u.to_string(), Default::default())).collect();
        let m = |name: &str, role: &str, state: &str, port| Member {
            name: name.into(),
            role: role.into(),
            state: state.into(),
            port: Some(port),
        };
        let v = view(&units, &[m("pg-0", "replica", "running", 1), m("pg-1", "leader", "running", 2), m("pg-2", "replica", "stopped", 3)]);
        assert_eq!(v.primary, Some(("pg/1".to_string(), 2)));
        assert_eq!(v.replicas, vec![("pg/0".to_string(), 1)]);
        assert!(v.sync.is_empty());
        assert_eq!(member_name("postgresql-k8s/10"), "postgresql-k8s-10");
    }
}
