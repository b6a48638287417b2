//! `mongodb` deployed with more than one unit under FerretDB: every unit runs the
//! application's Patroni cluster (`charms::patroni`: an etcd member, a Patroni and its
//! PostgreSQL) and one FerretDB that stores its data there, so losing a unit loses
//! neither data (Patroni replicates synchronously and fails over) nor service (another
//! unit's FerretDB serves the same data).
//!
//! **Following the primary.** Every FerretDB is given every unit's PostgreSQL in one
//! libpq URL with `target_session_attrs=read-write` (FerretDB's pgx driver tries the
//! hosts in turn and keeps the one that takes writes) and `connect_timeout` (a frozen
//! PostgreSQL accepts connections and never answers: the driver moves on to the next
//! host instead of waiting on it), so it reaches the Patroni primary wherever it is,
//! without being re-pointed. Requirers get the FerretDB of the Patroni primary's unit as
//! `endpoints` and the other healthy members' as `read-only-endpoints` (they serve the
//! same data; `read-only` says what a requirer should use them for), naming only
//! FerretDBs that run.
//!
//! **FerretDB's cache.** FerretDB reads the list of databases and collections once, at its
//! first login, and never again. So a FerretDB restarts whenever the Patroni primary it
//! last started under is no longer the primary (on the `update-status` the watcher asks
//! for after a failover), and the leader publishes a unit's FerretDB as `endpoints` only
//! once that unit's FerretDB has (re)started under the current primary; a unit that
//! restarts asks for `update-status` on every unit so the leader publishes it at once.
//! A FerretDB that a restarted controller adopts keeps the primary it started under
//! (the unit state records its process id with it), so it restarts too when a failover
//! happened while no controller ran.
//! The restart goes through the supervisor, which retries a start that fails (the unit's
//! own PostgreSQL frozen, or rewinding after a failover) with backoff: a FerretDB is never
//! left stopped, and one found stopped is started again on the next `update-status`.
//!
//! **Units coming and going.** A FerretDB's URL names the units that existed when it
//! started; it is handed the current list on every `update-status` for its next restart.
//! A unit added later matters to it only once that unit's PostgreSQL is primary, and a
//! change of primary restarts every FerretDB with the current list, so the running ones
//! are not restarted when a unit is added (a removed unit's port refuses connections and
//! is skipped).
//!
//! **Mode.** As for `postgresql-k8s`: decided once by the leader at install (leader setting
//! `mongodb-mode`), `ferretdb-patroni` only for a `replication` application under FerretDB
//! (mongod keeps its own replica-set path), deployed with more than one unit and not
//! adopting a server; otherwise `single`, the charm as it always was.
//!
//! Not handled: `set-password` for `operator` (refused: every FerretDB logs in with it).

use super::super::ha_mode::Mode;
use super::super::patroni::{self, ClusterView, Layout, PasswordKeys, REST_PASSWORD_KEY};
use super::super::server;
use super::super::services::Services;
use crate::engine::context::HookContext;
use crate::engines::mongo::{MongoEngine, MongoSpec};
use crate::engines::postgres::SUPERUSER;
use crate::secret::SecretString;
use crate::workload::WorkloadState;
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tether_core::life::Life;

/// The label of the application's internal secret (MongoDB's passwords, and PostgreSQL's
/// and Patroni's under FerretDB over Patroni).
pub fn internal_label(app: &str) -> String {
    format!("{app}.app")
}

/// mongodb's cluster: PostgreSQL on its own port beside FerretDB's, Patroni beside the
/// unit's workload (FerretDB), its passwords as their own keys of the internal secret.
pub const LAYOUT: Layout = Layout {
    mode: Mode { key: "mongodb-mode", clustered: "ferretdb-patroni" },
    label: internal_label,
    passwords: PasswordKeys {
        superuser: "postgresql-operator-password",
        replication: "postgresql-replication-password",
        rewind: "postgresql-rewind-password",
        rest: REST_PASSWORD_KEY,
    },
    pg_port: "postgresql-port",
    patroni_suffix: "#patroni",
};

/// The internal-secret keys the cluster adds (made by the leader, never replaced).
pub fn password_keys() -> [&'static str; 4] {
    let k = &LAYOUT.passwords;
    [k.superuser, k.replication, k.rewind, k.rest]
}

/// FerretDB's PostgreSQL database.
const DATABASE: &str = "ferretdb";
/// Unit state: the Patroni primary (a unit) when this unit's FerretDB last started.
const STATE_STARTED_UNDER: &str = "ferretdb-started-under";
/// Unit state: that FerretDB's process id, so a controller that adopts the process
/// knows it still runs with what it read under that primary.
const STATE_STARTED_PID: &str = "ferretdb-started-pid";
/// Leader setting: FerretDB's first start made its `operator` user (the others wait for it,
/// so one FerretDB alone runs FerretDB's setup).
const SETUP_DONE: &str = "ferretdb-setup";
const WAIT_FOR_SETUP: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(500);
/// The status messages (Canonical's `Primary`, and what runs).
pub const PRIMARY_MESSAGE: &str = "Primary (FerretDB over Patroni)";
pub const REPLICA_MESSAGE: &str = "replica (FerretDB over Patroni)";

/// At the leader's install: the mode (see the module docs).
pub fn decide_mode(ctx: &mut HookContext, clusterable: bool) -> anyhow::Result<()> {
    LAYOUT.mode.decide_if(ctx, clusterable)
}

/// Whether the application runs FerretDB over Patroni (as far as is committed).
pub fn is_ha(ctx: &HookContext) -> bool {
    LAYOUT.mode.is_clustered(ctx)
}

/// The mode, waiting (bounded) for the leader's install to record it.
pub async fn await_mode(ctx: &HookContext) -> anyhow::Result<bool> {
    LAYOUT.mode.wait(ctx).await
}

/// How long FerretDB's driver waits for one PostgreSQL of the list before trying the next:
/// a frozen server (a stopped process, a cut link) accepts the connection and never
/// answers. FerretDB gives its whole first connection 5 s and exits when that fails, so a
/// host must give up well within it, or a FerretDB whose list names a frozen server
/// before the primary cannot start at all. TLS is off (`sslmode=disable`): every server is
/// on 127.0.0.1 without it, and the refused TLS attempt cost a round trip per host.
const CONNECT_TIMEOUT_SECS: u32 = 2;

/// `postgres://operator:…@<every unit's PostgreSQL>/ferretdb?target_session_attrs=read-write&connect_timeout=2&sslmode=disable`.
fn postgresql_url(ctx: &HookContext) -> anyhow::Result<SecretString> {
    let password = LAYOUT.patroni_passwords(ctx)?.operator;
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    let mut hosts: Vec<String> = ctx.state_get(LAYOUT.pg_port).into_iter().map(|p| format!("127.0.0.1:{p}")).collect();
    hosts.extend(
        units
            .iter()
            .filter(|u| u.name != ctx.unit && u.life == Life::Alive)
            .filter_map(|u| u.state.get(LAYOUT.pg_port))
            .map(|p| format!("127.0.0.1:{p}")),
    );
    Ok(SecretString::new(format!(
        "postgres://{SUPERUSER}:{}@{}/{DATABASE}?target_session_attrs=read-write&connect_timeout={CONNECT_TIMEOUT_SECS}&sslmode=disable",
        percent_encode(password.expose()),
        hosts.join(",")
    )))
}

/// Percent-encodes everything but ASCII letters and digits (a password in a URL).
fn percent_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The unit's FerretDB over the cluster, on `port` with `operator`'s password.
fn ferretdb_spec(ctx: &HookContext, port: u16, operator_password: SecretString) -> anyhow::Result<MongoSpec> {
    let base = MongoSpec::for_unit(&ctx.unit_dir(), port, operator_password, MongoEngine::FerretDb, None);
    Ok(MongoSpec { postgresql_url: Some(postgresql_url(ctx)?), ..base })
}

/// Starts the unit's etcd member and Patroni, waits for a primary, makes FerretDB's
/// database there, then starts the unit's FerretDB (a unit other than the leader once the
/// leader's FerretDB has run FerretDB's setup). Returns `operator`'s working password and
/// FerretDB's port.
pub async fn start(ctx: &mut HookContext, services: &Arc<Services>) -> anyhow::Result<(SecretString, u16)> {
    patroni::start(&LAYOUT, ctx, services, BTreeMap::new()).await?;
    let view = patroni::await_primary(ctx).await?;
    patroni::note_role(ctx, &view);
    patroni::watch(ctx, services);
    let (_, pg_port) = view.primary.clone().ok_or_else(|| anyhow!("the Patroni cluster has no primary now"))?;
    let pg = services.pg.get(pg_port, &LAYOUT.patroni_passwords(ctx)?.operator).await?;
    pg.ensure_database(DATABASE).await?;
    if !ctx.leader {
        await_setup(ctx).await?;
    }
    let label = internal_label(&ctx.app);
    let spec = |port, pw| ferretdb_spec(ctx, port, pw);
    let template = spec(0, SecretString::new(String::new()))?;
    let (pw, port, _) = server::start_workload(ctx, &services.supervisor, &label, "operator-password", |port, operator_password| {
        MongoSpec { port, operator_password, ..template.clone() }
    })
    .await?;
    if ctx.leader {
        ctx.leader_set(&BTreeMap::from([(SETUP_DONE.to_string(), "done".to_string())]))?;
    }
    // A FerretDB adopted from an earlier controller keeps the primary it started under:
    // if that is no longer the primary, `follow` restarts it.
    let adopted = running_pid(ctx, services).is_some_and(|pid| ctx.state_get(STATE_STARTED_PID) == Some(pid.to_string()));
    if !adopted {
        started_under(ctx, services, &view);
    }
    Ok((pw, port))
}

/// Waits (bounded) until the leader's FerretDB has made `operator`.
async fn await_setup(ctx: &HookContext) -> anyhow::Result<()> {
    let started = Instant::now();
    while !ctx.leader_settings()?.contains_key(SETUP_DONE) {
        if started.elapsed() > WAIT_FOR_SETUP {
            return Err(anyhow!("the leader's FerretDB has not started yet"));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Records that this unit's FerretDB (as running now) started under `view`'s primary.
fn started_under(ctx: &mut HookContext, services: &Services, view: &ClusterView) {
    if let Some((primary, _)) = &view.primary {
        ctx.state_set(STATE_STARTED_UNDER, primary);
        match running_pid(ctx, services) {
            Some(pid) => ctx.state_set(STATE_STARTED_PID, &pid.to_string()),
            None => ctx.state_delete(STATE_STARTED_PID),
        }
    }
}

/// The process id of this unit's FerretDB while the supervisor has it running.
fn running_pid(ctx: &HookContext, services: &Services) -> Option<u32> {
    services.supervisor.state(&server::workload_key(ctx)).pid()
}

/// On `update-status`: the unit learns its role, and keeps its FerretDB running under the
/// current primary. It restarts it when the Patroni primary changed since it started
/// (FerretDB's cache, see the module docs), and starts it again when it is not running
/// at all; either way through the supervisor's [`restart`](crate::workload::Supervisor::restart),
/// which keeps retrying a start that fails (say while this unit's PostgreSQL is frozen or
/// being rewound), so FerretDB is never left stopped. Once it runs under the new primary
/// it asks for `update-status` on every unit so the leader publishes it; until then it
/// asks again soon. A running FerretDB is also handed the current spec (every unit's
/// PostgreSQL, see [`postgresql_url`]) for its next restart. `None` while Patroni elects.
pub async fn follow(ctx: &mut HookContext, services: &Arc<Services>) -> anyhow::Result<Option<ClusterView>> {
    let view = match patroni::cluster(ctx).await {
        Ok(v) if v.primary.is_some() => v,
        Ok(_) => return Ok(None),
        Err(e) => {
            ctx.log("WARNING", &format!("cannot learn the primary: {e}"));
            return Ok(None);
        }
    };
    patroni::note_role(ctx, &view);
    let primary = view.primary.as_ref().map(|(u, _)| u.clone());
    let started = ctx.state_get(STATE_STARTED_UNDER);
    // Not started by the start hook yet, or leaving: the start and stop hooks decide.
    if started.is_none() || !alive(ctx)? {
        return Ok(Some(view));
    }
    let key = server::workload_key(ctx);
    let internal = server::internal(ctx, &internal_label(&ctx.app))?;
    let password = internal.get("operator-password").cloned().map(SecretString::new).ok_or_else(|| anyhow!("operator password missing"))?;
    let spec = ferretdb_spec(ctx, server::own_port(ctx)?, password)?;
    let state = services.supervisor.state(&key);
    let stale = started != primary;
    match state {
        WorkloadState::Running { .. } if !stale => {
            services.supervisor.update_spec(&key, spec).await;
            return Ok(Some(view));
        }
        // The supervisor restarts it (and the new process reads the catalogue afresh).
        WorkloadState::Restarting { .. } | WorkloadState::Starting if !stale => return Ok(Some(view)),
        WorkloadState::Running { .. } => ctx.log("INFO", "FerretDB restarts to read the databases of the new primary"),
        _ => ctx.log("INFO", &format!("FerretDB is not running ({state:?}): starting it under the primary")),
    }
    if let Err(e) = services.supervisor.restart(&key, spec).await {
        ctx.log("WARNING", &format!("FerretDB is not running under the new primary yet (the supervisor tries again): {e}"));
        look_again_soon(ctx, services);
        return Ok(Some(view));
    }
    started_under(ctx, services, &view);
    if let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) {
        for u in ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?.iter().filter(|u| u.name != ctx.unit) {
            let _ = engine.request_update_status(&ctx.model, &u.name);
        }
    }
    Ok(Some(view))
}

/// Whether this unit is alive (not being removed), as committed.
fn alive(ctx: &HookContext) -> anyhow::Result<bool> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units.iter().any(|u| u.name == ctx.unit && u.life == Life::Alive))
}

/// The FerretDB requirers write to (the Patroni primary's unit, once its FerretDB started
/// under that primary) and the other healthy members' FerretDBs: unit and port each.
/// Only FerretDBs the supervisor has running are named.
pub struct Endpoints {
    pub primary: (String, u16),
    pub read_only: Vec<(String, u16)>,
    /// The replicas Patroni calls healthy that are not named, each with why: one whose
    /// FerretDB does not run yet, or whose start hook has not committed its port, is left
    /// out until then.
    pub left_out: Vec<(String, String)>,
}

/// Where requirers are sent now; `None` while the primary's FerretDB does not run under
/// it yet (the endpoints already published stay).
pub async fn endpoints(ctx: &HookContext, services: &Services) -> anyhow::Result<Option<Endpoints>> {
    let view = patroni::cluster(ctx).await?;
    let Some((primary, _)) = view.primary else { return Ok(None) };
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    let state_of = |unit: &str| {
        if unit == ctx.unit {
            Some(ctx.unit_state().clone())
        } else {
            units.iter().find(|u| u.name == unit).map(|u| u.state.clone())
        }
    };
    let supervised = |unit: &str| services.supervisor.state(&server::unit_workload_key(ctx, unit));
    let port_of = |state: &BTreeMap<String, String>| state.get(server::STATE_PORT).and_then(|p| p.parse::<u16>().ok());
    let Some(state) = state_of(&primary) else { return Ok(None) };
    if state.get(STATE_STARTED_UNDER) != Some(&primary) || supervised(&primary).pid().is_none() {
        return Ok(None);
    }
    let Some(port) = port_of(&state) else { return Ok(None) };
    let (mut read_only, mut left_out) = (Vec::new(), Vec::new());
    for (unit, _) in &view.replicas {
        let supervised = supervised(unit);
        match state_of(unit).as_ref().and_then(port_of) {
            Some(port) if supervised.pid().is_some() => read_only.push((unit.clone(), port)),
            Some(_) => left_out.push((unit.clone(), format!("its FerretDB is {supervised:?}"))),
            None => left_out.push((unit.clone(), "its start hook has not committed a port".into())),
        }
    }
    Ok(Some(Endpoints { primary: (primary, port), read_only, left_out }))
}

/// Leader's unit state: the healthy replicas `read-only-endpoints` last left out, and why.
const STATE_LEFT_OUT: &str = "ferretdb-left-out";

/// Logs the healthy replicas the endpoints leave out, and why, when that changes (the
/// leader looks again every [`LOOK_AGAIN`] while any is left out).
pub fn note_left_out(ctx: &mut HookContext, left_out: &[(String, String)]) {
    let now = left_out.iter().map(|(u, why)| format!("{u} ({why})")).collect::<Vec<_>>().join(", ");
    if ctx.state_get(STATE_LEFT_OUT).unwrap_or_default() == now {
        return;
    }
    match now.as_str() {
        "" => {
            ctx.log("INFO", "read-only-endpoints name every healthy replica again");
            ctx.state_delete(STATE_LEFT_OUT);
        }
        _ => {
            ctx.log("INFO", &format!("read-only-endpoints leave out {now} for now"));
            ctx.state_set(STATE_LEFT_OUT, &now);
        }
    }
}

/// How soon the leader looks again when the primary's FerretDB has not restarted under
/// it yet (that unit's hook may commit after the leader's hook began).
const LOOK_AGAIN: Duration = Duration::from_secs(2);

/// Asks for `update-status` on every unit of the application after [`LOOK_AGAIN`]: the
/// primary's unit restarts its FerretDB if it could not yet (it was itself restarting),
/// and the leader looks again.
pub fn look_again_soon(ctx: &HookContext, services: &Arc<Services>) {
    let (model, app, services) = (ctx.model.clone(), ctx.app.clone(), services.clone());
    tokio::spawn(async move {
        tokio::time::sleep(LOOK_AGAIN).await;
        let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) else { return };
        let Ok(units) = engine.store().read(|tx| tx.units(&model, Some(&app))) else { return };
        for u in units.iter().filter(|u| u.life == Life::Alive) {
            let _ = engine.request_update_status(&model, &u.name);
        }
    });
}

/// The stop hook: FerretDB, then the cluster's part of the unit (see `patroni::stop`).
pub async fn stop(ctx: &HookContext, services: &Services) {
    server::stop(ctx, &services.supervisor).await;
    patroni::stop(&LAYOUT, ctx, services).await;
}

/// The unit's status message from its recorded role.
pub fn role_message(ctx: &HookContext) -> &'static str {
    if patroni::recorded_role(ctx).as_deref() == Some("primary") {
        PRIMARY_MESSAGE
    } else {
        REPLICA_MESSAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_percent_encoded() {
        assert_eq!(percent_encode("aZ9"), "aZ9");
        assert_eq!(percent_encode("a@b/c:d%"), "a%40b%2Fc%3Ad%25");
    }
}
