//! `mongodb` deployed with more than one unit where `mongod` is the engine: a real MongoDB
//! replica set named after the application, one member per unit, so losing a unit loses
//! neither data nor service (mongod replicates and elects a new primary itself).
//!
//! **Members.** Every unit runs its own `mongod --replSet <app>` under the supervisor, on
//! its own 127.0.0.1 port, data in its unit directory, with the application's keyfile for
//! internal authentication (the spec of `shards::server_spec`). The unit that claimed the
//! primary role at install (the leader then) founds the set: its first start initiates it
//! with itself and creates `operator` through the localhost exception. The other units
//! start as joiners (`MongoSpec::joins`: ready once they answer `hello`), and the leader
//! adds each started one with `replSetReconfig`, one member per reconfiguration and
//! `version` + 1, as MongoDB requires (planned in `tether_core::mongo_replset`), on the
//! primary. A unit that goes (`stop` at `remove-unit`) steps down if it is the primary
//! and has itself removed; the leader's `update-status` removes any member whose unit is
//! gone anyway.
//!
//! **Primary.** Never decided by tether: it is whatever `hello` reports. Users are made
//! by the leader on the primary; requirers get every member as `endpoints`, `replset` =
//! the application and a `uris` naming every member with `replicaSet`, so their driver
//! finds the primary. A watcher asks every unit for `update-status` when the primary or
//! the started members change, so statuses (`Primary`, `replica`) and relation data
//! follow at once.
//!
//! **Mode.** `mongodb-mode` = `replica-set`, decided by the leader at install (see
//! `charms::ha_mode`) for a `replication` application under mongod deployed with more
//! than one unit. Single-unit and FerretDB applications never see this module.
//!
//! Not run on the machine it was written on (no mongod there): unit-tested in its
//! planning and documents, proven end to end only by the `TETHER_TEST_MONGO_ENGINE=mongod`
//! tests. Not handled: `set-password` for `operator` (refused: every member's start
//! logs in with it) and `promote-to-primary` (mongod elects).

use super::ha::internal_label;
use crate::charms::ha_mode::Mode;
use crate::charms::server;
use crate::charms::services::Services;
use crate::charms::watcher::{self, Look};
use crate::engine::context::HookContext;
use crate::engines::mongo::replset::hello_at;
use crate::engines::mongo::MongoSpec;
use crate::secret::SecretString;
use crate::store::UnitRow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tether_core::life::Life;
use tether_core::mongo_replset::{self, host};

/// The mode (the key FerretDB over Patroni uses too; one value per application).
pub const MODE: Mode = Mode { key: "mongodb-mode", clustered: "replica-set" };
/// Unit state: this unit's member has started (the leader may add it).
const STATE_MEMBER: &str = "replset-member";
/// Unit state: what `hello` said at the last look (`primary`, `secondary`, `joining`).
const STATE_ROLE: &str = "replset-role";
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How long a departing primary waits for another to be elected.
const HAND_OVER: Duration = Duration::from_secs(30);
pub const REFUSED_OPERATOR_PASSWORD: &str =
    "set-password for operator is not available on a mongod replica set: every member's start logs in with it";

/// At the leader's install: the mode (see the module docs).
pub fn decide_mode(ctx: &mut HookContext, clusterable: bool) -> anyhow::Result<()> {
    MODE.decide_if(ctx, clusterable)
}

/// Whether the application is a mongod replica set of its units (as far as is committed).
pub fn is_replset(ctx: &HookContext) -> bool {
    MODE.is_clustered(ctx)
}

/// Each alive unit's name and state, this hook's unit with its pending state.
fn units(ctx: &HookContext) -> anyhow::Result<Vec<(String, std::collections::BTreeMap<String, String>)>> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units
        .into_iter()
        .filter(|u| u.life == Life::Alive || u.name == ctx.unit)
        .map(|u| if u.name == ctx.unit { (u.name, ctx.unit_state().clone()) } else { (u.name, u.state) })
        .collect())
}

fn port_of(state: &std::collections::BTreeMap<String, String>) -> Option<u16> {
    state.get(server::STATE_PORT)?.parse().ok()
}

/// The members the set should have: every alive unit whose mongod has started.
fn wanted_hosts(ctx: &HookContext, leaving: Option<&str>) -> anyhow::Result<Vec<String>> {
    Ok(units(ctx)?
        .iter()
        .filter(|(name, state)| Some(name.as_str()) != leaving && state.get(STATE_MEMBER).is_some())
        .filter_map(|(_, state)| port_of(state).map(host))
        .collect())
}

/// The primary's port as the members' `hello` reports it (this unit's first); `None`
/// while the set elects.
pub async fn primary_port(ctx: &HookContext) -> anyhow::Result<Option<u16>> {
    let mut ports: Vec<u16> = server::own_port(ctx).ok().into_iter().collect();
    ports.extend(units(ctx)?.iter().filter(|(n, _)| *n != ctx.unit).filter_map(|(_, s)| port_of(s)));
    for port in ports {
        let Ok(hello) = hello_at(port).await else { continue };
        if hello.writable_primary && hello.set_name.is_some() {
            return Ok(Some(port));
        }
        if let Some(p) = hello.primary.and_then(|h| h.rsplit_once(':').and_then(|(_, p)| p.parse().ok())) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The unit whose member is the primary, if one is.
pub async fn primary_unit(ctx: &HookContext) -> anyhow::Result<Option<String>> {
    let Some(port) = primary_port(ctx).await? else { return Ok(None) };
    Ok(units(ctx)?.into_iter().find(|(_, s)| port_of(s) == Some(port)).map(|(n, _)| n))
}

/// Starts (or adopts) this unit's member: the founder initiates the set, the others wait
/// to be added. `template` is the unit's mongod spec (`shards::server_spec`) whose port
/// and password are set here. Returns `operator`'s password and the port.
pub async fn start(ctx: &mut HookContext, services: &Arc<Services>, template: MongoSpec) -> anyhow::Result<(SecretString, u16)> {
    let joins = !server::is_primary(ctx);
    let label = internal_label(&ctx.app);
    let (pw, port, _) = server::start_workload(ctx, &services.supervisor, &label, "operator-password", |port, operator_password| {
        MongoSpec { port, operator_password, joins, ..template.clone() }
    })
    .await?;
    ctx.state_set(STATE_MEMBER, "started");
    watch(ctx, services);
    Ok((pw, port))
}

/// The leader, on the primary: adds started units and removes gone ones, one change per
/// reconfiguration. Nothing while the set has no primary (a later look adds them).
/// `operator` is the operator's password.
pub async fn converge(ctx: &HookContext, services: &Services, operator: &SecretString) -> anyhow::Result<()> {
    converge_without(ctx, services, operator, None).await
}

async fn converge_without(ctx: &HookContext, services: &Services, operator: &SecretString, leaving: Option<&str>) -> anyhow::Result<()> {
    let wanted = wanted_hosts(ctx, leaving)?;
    let Some(port) = primary_port(ctx).await? else { return Ok(()) };
    if wanted.is_empty() || (leaving.is_none() && !wanted.contains(&host(port))) {
        // The primary is always one of the started units (a departing primary steps down
        // in its own stop hook first): anything else is a view to distrust rather than a
        // set to shrink to, and MongoDB would refuse to remove its primary anyway.
        return Ok(());
    }
    let admin = services.mongo.get(port, operator).await?;
    for change in admin.converge_members(&wanted).await? {
        ctx.log("INFO", &format!("replica set {}: {change:?}", ctx.app));
    }
    Ok(())
}

/// Records what this unit's member is now (for the status).
pub async fn note_role(ctx: &mut HookContext) {
    let Ok(port) = server::own_port(ctx) else { return };
    let role = match hello_at(port).await {
        Ok(h) if h.set_name.is_none() => "joining",
        Ok(h) if h.writable_primary => "primary",
        Ok(_) => "secondary",
        Err(_) => return,
    };
    ctx.state_set(STATE_ROLE, role);
}

/// The unit's status message: Canonical's `Primary` or `replica`; `None` while the
/// member waits to be added.
pub fn role_message(ctx: &HookContext) -> Option<&'static str> {
    match ctx.state_get(STATE_ROLE).as_deref() {
        Some("joining") | None => None,
        Some(role) => Some(mongo_replset::role_message(role == "primary")),
    }
}

/// The members requirers are given, read from the primary's configuration; `None` while
/// there is no primary (what was published stays).
pub async fn member_hosts(ctx: &HookContext, services: &Services, operator: &SecretString) -> anyhow::Result<Option<Vec<String>>> {
    let Some(port) = primary_port(ctx).await? else { return Ok(None) };
    let admin = services.mongo.get(port, operator).await?;
    Ok(Some(admin.replset_hosts().await?).filter(|h| !h.is_empty()))
}

/// The stop hook of a unit that goes: hands the primary role over (step down, wait for
/// another primary), has its member removed, then stops mongod. Best effort: the last
/// members of an application that goes whole cannot all be removed.
pub async fn leave(ctx: &HookContext, services: &Services, operator: &SecretString) {
    if let Err(e) = hand_over_and_leave(ctx, services, operator).await {
        ctx.log("WARNING", &format!("the member of {} was not removed from the replica set: {e}", ctx.unit));
    }
    server::stop(ctx, &services.supervisor).await;
}

async fn hand_over_and_leave(ctx: &HookContext, services: &Services, operator: &SecretString) -> anyhow::Result<()> {
    let own = server::own_port(ctx)?;
    if wanted_hosts(ctx, Some(&ctx.unit))?.is_empty() {
        return Ok(());
    }
    if primary_port(ctx).await? == Some(own) {
        services.mongo.get(own, operator).await?.step_down(60).await?;
        services.mongo.forget(own).await;
        let started = Instant::now();
        while primary_port(ctx).await?.is_none_or(|p| p == own) {
            if started.elapsed() > HAND_OVER {
                anyhow::bail!("no other member became primary");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    converge_without(ctx, services, operator, Some(&ctx.unit)).await
}

/// The replica set's last reading: who was primary, which members had started.
#[derive(Default)]
struct ReplicaSet {
    last: Option<(Option<String>, Vec<u16>)>,
}

#[async_trait::async_trait]
impl Look for ReplicaSet {
    async fn look(&mut self, units: &[UnitRow]) -> Option<bool> {
        let started: Vec<u16> = units
            .iter()
            .filter(|u| u.life == Life::Alive && u.state.contains_key(STATE_MEMBER))
            .filter_map(|u| port_of(&u.state))
            .collect();
        let mut primary = None;
        for port in &started {
            if let Ok(h) = hello_at(*port).await {
                if h.primary.is_some() {
                    primary = h.primary;
                    break;
                }
            }
        }
        let seen = Some((primary, started));
        let changed = self.last != seen;
        self.last = seen;
        Some(changed)
    }
}

/// Starts the application's watcher unless one runs: every [`WATCH_EVERY`] it asks the
/// members who is primary and reads which members started; on a change every unit is
/// asked for `update-status`. It ends when the application has no units left. Started at
/// a member's start and again at `update-status` (a restarted controller runs none).
pub fn watch(ctx: &HookContext, services: &Arc<Services>) {
    watcher::spawn(ctx, services, "replset", WATCH_EVERY, ReplicaSet::default());
}
