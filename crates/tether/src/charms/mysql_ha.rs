//! `mysql-k8s` deployed with more than one unit: every unit runs one MariaDB, and the
//! application's servers form one Galera cluster (`engines::mysql::galera`). Galera
//! decides membership and quorum; this module only starts the members and reads their
//! `wsrep_%` status to choose which synced member requirers write to.
//!
//! **Mode.** As for `postgresql-k8s` (see `charms::postgresql_ha`): the leader decides
//! once, at its install, from the number of units deployed with it (`galera` for more
//! than one, `single` otherwise, so single-unit deployments run exactly as before until
//! units are added), kept as a leader setting.
//!
//! **From one server to a cluster.** `add-unit` on a running single server (not an
//! adopted one, MariaDB with Galera installed) turns it into a cluster: the leader, whose
//! unit runs the server, stops it cleanly, records the mode as `galera` and starts it
//! again as the founder (`--wsrep-new-cluster` on its existing data), all in one hook
//! (the peer relation's `relation-joined`, or `update-status`); the new units, which
//! started as standbys, join by SST when the changed leader setting reaches them. A
//! controller killed in that hook runs it again: the server is taken back (adopted, or
//! restarted without wsrep), Galera state the interrupted attempt left is forgotten (no
//! other member can have joined: the mode was not committed) and the founding repeats.
//!
//! **Members.** Each unit claims its own ports (server, group communication, IST, SST) on
//! 127.0.0.1. The unit that was leader at install bootstraps the cluster at its first
//! start; every other unit waits (bounded) for a synced member and joins with SST, except
//! a member that was killed while in the primary component (its `gvwstate.dat` is there),
//! which starts at once: when every member was killed, also while no controller ran,
//! none can be synced before they all run again and Galera restores the cluster. Later
//! starts decide again from `grastate.dat` (see the engine module). `remove-unit` stops
//! the member with SIGTERM: it leaves the cluster cleanly.
//!
//! **Write node.** The lowest-numbered unit whose member is `Synced` in the primary
//! component takes writes (`endpoints`); the other synced members are
//! `read-only-endpoints`. Users and databases are created once, on the write node, by
//! the leader: Galera replicates the statements. A watcher task per application reads
//! every member's status every two seconds and asks the engine for `update-status` on
//! every unit when the synced set or the write node changes, so the endpoints move on
//! the next hook.

use super::ha_mode::Mode;
use super::server::{self, workload_key};
use super::services::Services;
use super::watcher::{self, Look};
use crate::engine::context::HookContext;
use crate::engines::mysql::galera::{self, GaleraOptions, WsrepStatus};
use crate::engines::mysql::{MariaDbSpec, ADMIN_USER, DATA_DIR};
use crate::secret::SecretString;
use crate::store::UnitRow;
use anyhow::{anyhow, Context};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tether_core::life::Life;

/// Leader setting holding the application's mode.
const MODE_KEY: &str = "mysql-mode";
const GALERA: &str = "galera";
/// Unit-state keys of the member's Galera ports.
const STATE_GROUP_PORT: &str = "galera-port";
const STATE_IST_PORT: &str = "galera-ist-port";
const STATE_SST_PORT: &str = "galera-sst-port";
/// Unit-state key: whether this unit's member took writes at the last look (`write`,
/// `read`, or the member's state).
const STATE_ROLE: &str = "galera-role";
/// Unit-state key: the write node and synced readers this unit's last hook saw (what the
/// watcher compares its own reading with).
const STATE_VIEW: &str = "galera-view";
/// While the units' recorded view differs from the watcher's, it asks again this often.
const REMIND_EVERY: Duration = Duration::from_secs(10);
/// How long a unit waits for the leader's mode, or for a synced member to join.
const WAIT_FOR_CLUSTER: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(500);
/// How often the watcher reads the members' status.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// The status message of the unit that takes writes.
pub const WRITE_MESSAGE: &str = "Primary";

/// The application's mode (see `charms::ha_mode`).
const MODE: Mode = Mode { key: MODE_KEY, clustered: GALERA };

/// At the leader's install: records the mode from the number of units deployed.
pub fn decide_mode(ctx: &mut HookContext) -> anyhow::Result<()> {
    MODE.decide(ctx)
}

/// Whether the leader's running single server should become the founder of a Galera
/// cluster now: the application is not clustered yet, more than one unit is alive, this
/// unit runs the server, and Galera is installed. (The caller rules out adopted servers
/// and MySQL 8.)
pub fn wants_cluster(ctx: &HookContext, running: bool) -> anyhow::Result<bool> {
    if !ctx.leader || is_ha(ctx) || !server::is_primary(ctx) || !running || !galera::available() {
        return Ok(false);
    }
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units.iter().filter(|u| u.life == Life::Alive).count() > 1)
}

/// The single server becomes the founder: the mode is recorded as Galera (committed with
/// this hook, so the other units join only once it is), and Galera state left by a
/// conversion interrupted before that commit is forgotten, so the start that follows
/// bootstraps a new cluster from the server's data (nobody else ever joined it).
pub fn become_founder(ctx: &mut HookContext) -> anyhow::Result<()> {
    let grastate = ctx.unit_dir().join(DATA_DIR).join("grastate.dat");
    if grastate.exists() {
        std::fs::remove_file(&grastate).with_context(|| format!("removing {}", grastate.display()))?;
        ctx.log("WARNING", "an interrupted change to a Galera cluster is started again");
    }
    MODE.become_clustered(ctx)
}

/// Whether the application runs Galera, as far as is committed (or set by this hook).
pub fn is_ha(ctx: &HookContext) -> bool {
    MODE.is_clustered(ctx)
}

/// The mode, waiting (bounded) for the leader's install to record it.
pub async fn await_mode(ctx: &HookContext) -> anyhow::Result<bool> {
    MODE.wait(ctx).await
}

/// A unit other than the leader may start before the leader's `leader-elected` committed
/// the internal passwords: waits for them (bounded).
pub async fn await_internal<T>(ctx: &HookContext, read: impl Fn(&HookContext) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let started = Instant::now();
    loop {
        match read(ctx) {
            Ok(v) => return Ok(v),
            Err(e) if ctx.leader || started.elapsed() > WAIT_FOR_CLUSTER => return Err(e),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

fn port(state: &BTreeMap<String, String>, key: &str) -> Option<u16> {
    state.get(key).and_then(|p| p.parse().ok())
}

fn own(ctx: &HookContext, key: &str) -> anyhow::Result<u16> {
    ctx.state_get(key).and_then(|p| p.parse().ok()).ok_or_else(|| anyhow!("unit has no {key}"))
}

/// The number of a unit (`app/3` → 3), for "lowest-numbered".
fn unit_number(unit: &str) -> u64 {
    unit.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

/// The application's live units with their unit state, this unit's as this hook sees it,
/// lowest-numbered first.
pub(super) fn members(ctx: &HookContext) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    let mut out: Vec<(String, BTreeMap<String, String>)> = units
        .into_iter()
        .filter(|u| u.life == Life::Alive || u.name == ctx.unit)
        .map(|u| if u.name == ctx.unit { (u.name, ctx.unit_state().clone()) } else { (u.name, u.state) })
        .collect();
    if !out.iter().any(|(u, _)| *u == ctx.unit) {
        out.push((ctx.unit.clone(), ctx.unit_state().clone()));
    }
    out.sort_by_key(|(u, _)| unit_number(u));
    Ok(out)
}

/// Free ports for the member's group communication, IST and SST, claimed once.
pub fn claim_ports(ctx: &mut HookContext) -> anyhow::Result<()> {
    for key in [STATE_GROUP_PORT, STATE_IST_PORT, STATE_SST_PORT] {
        if ctx.state_get(key).is_none() {
            let p = crate::workload::free_port().context("no free port on 127.0.0.1")?;
            ctx.state_set(key, &p.to_string());
        }
    }
    Ok(())
}

/// The unit's server spec as a Galera member, with the other members' group ports as
/// they are committed now.
pub fn spec(ctx: &HookContext, password: SecretString, settings: BTreeMap<String, String>) -> anyhow::Result<MariaDbSpec> {
    let peers = members(ctx)?.iter().filter(|(u, _)| *u != ctx.unit).filter_map(|(_, s)| port(s, STATE_GROUP_PORT)).collect::<Vec<u16>>();
    let options = GaleraOptions {
        cluster_name: ctx.app.chars().take(32).collect(),
        node_name: ctx.unit.replace('/', "-"),
        group_port: own(ctx, STATE_GROUP_PORT)?,
        ist_port: own(ctx, STATE_IST_PORT)?,
        sst_port: own(ctx, STATE_SST_PORT)?,
        peers,
        founder: server::is_primary(ctx),
    };
    Ok(MariaDbSpec::for_unit(&ctx.unit_dir(), server::own_port(ctx)?, password).with_settings(settings).with_galera(options))
}

/// Whether this unit's start may bootstrap the cluster (the founder, never started yet,
/// or the last member to leave, by `grastate.dat`); every other start needs a member to join.
pub fn founds(ctx: &HookContext) -> bool {
    match galera::read_grastate(&ctx.unit_dir().join(DATA_DIR)) {
        None => server::is_primary(ctx),
        // The last member to leave a cluster that stopped whole starts it again.
        Some(state) => state.safe_to_bootstrap,
    }
}

/// Whether this unit's member was in the primary component when it last stopped without
/// leaving (killed: Galera keeps its view in `gvwstate.dat` then, and removes it on a
/// clean shutdown). Such a member starts at once, without waiting for a synced peer:
/// when every member crashed (a whole machine, or all while no controller ran) none is
/// synced, and Galera restores the primary component only once they all run again
/// (`pc.recovery`).
fn crashed_in_primary(ctx: &HookContext) -> bool {
    ctx.unit_dir().join(DATA_DIR).join("gvwstate.dat").exists()
}

/// Waits (bounded) until another unit's member is synced and its group port committed
/// (its start hook is over), before this one joins.
pub async fn await_synced_peer(ctx: &HookContext, password: &SecretString) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let units = members(ctx)?;
        let view = read_view(&units, password).await;
        let known = |unit: &str| units.iter().any(|(u, s)| u == unit && port(s, STATE_GROUP_PORT).is_some());
        if view.members.iter().any(|m| m.unit != ctx.unit && m.status.as_ref().is_some_and(WsrepStatus::is_synced) && known(&m.unit)) {
            return Ok(());
        }
        if started.elapsed() > WAIT_FOR_CLUSTER {
            return Err(anyhow!("no synced Galera member of {} to join", ctx.app));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One member as the cluster view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub unit: String,
    pub port: u16,
    /// `None` when the member does not answer.
    pub status: Option<WsrepStatus>,
}

/// Every member's status and the write node chosen from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Lowest-numbered unit first.
    pub members: Vec<Member>,
}

impl ClusterView {
    /// The write node: the lowest-numbered synced member in the primary component.
    pub fn write(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.status.as_ref().is_some_and(WsrepStatus::is_synced))
    }

    /// The other synced members.
    pub fn readers(&self) -> Vec<&Member> {
        let write = self.write().map(|m| m.unit.clone());
        self.members.iter().filter(|m| m.status.as_ref().is_some_and(WsrepStatus::is_synced) && Some(&m.unit) != write.as_ref()).collect()
    }

    /// What the watcher compares: the write node and the synced set.
    fn published(&self) -> (Option<String>, Vec<String>) {
        (self.write().map(|m| m.unit.clone()), self.readers().iter().map(|m| m.unit.clone()).collect())
    }

    /// [`ClusterView::published`] as one string (unit state).
    fn view_key(&self) -> String {
        let (write, readers) = self.published();
        format!("{}|{}", write.unwrap_or_default(), readers.join(","))
    }
}

async fn read_view(units: &[(String, BTreeMap<String, String>)], password: &SecretString) -> ClusterView {
    let mut view = ClusterView::default();
    for (unit, state) in units {
        let Some(p) = port(state, server::STATE_PORT) else { continue };
        let status = match galera::status(p, ADMIN_USER, password).await {
            Ok(s) => {
                tracing::debug!(unit = %unit, state = %s.state, cluster = %s.cluster_status, ready = s.ready, "Galera member status");
                Some(s)
            }
            Err(e) => {
                tracing::debug!(unit = %unit, error = %e, "Galera member status not read");
                None
            }
        };
        view.members.push(Member { unit: unit.clone(), port: p, status });
    }
    view
}

/// Every member's status, read now.
pub async fn cluster(ctx: &HookContext, password: &SecretString) -> anyhow::Result<ClusterView> {
    Ok(read_view(&members(ctx)?, password).await)
}

/// The write node's port and the read-only endpoints (comma list), or an error when no
/// member is synced now.
pub async fn addresses(ctx: &HookContext, password: &SecretString) -> anyhow::Result<(u16, String)> {
    let view = cluster(ctx, password).await?;
    let write = view.write().ok_or_else(|| anyhow!("no Galera member of {} is synced now", ctx.app))?.port;
    let ro: Vec<String> = view.readers().iter().map(|m| format!("127.0.0.1:{}", m.port)).collect();
    Ok((write, ro.join(",")))
}

/// Records this unit's role from a view, for the status.
pub fn note_role(ctx: &mut HookContext, view: &ClusterView) {
    let role = if view.write().is_some_and(|m| m.unit == ctx.unit) {
        "write".to_string()
    } else {
        match view.members.iter().find(|m| m.unit == ctx.unit).and_then(|m| m.status.clone()) {
            Some(s) if s.is_synced() => "read".into(),
            Some(s) if !s.state.is_empty() => s.state,
            _ => "unreachable".into(),
        }
    };
    ctx.state_set(STATE_ROLE, &role);
    ctx.state_set(STATE_VIEW, &view.view_key());
}

/// Whether this unit took writes at the last look.
pub fn takes_writes(ctx: &HookContext) -> bool {
    ctx.state_get(STATE_ROLE).as_deref() == Some("write")
}

/// The member's state when it is neither the write node nor a synced reader.
pub fn not_synced(ctx: &HookContext) -> Option<String> {
    ctx.state_get(STATE_ROLE).filter(|r| r != "write" && r != "read")
}

/// `get-cluster-status`: every member with its address, state and whether it is in the
/// primary component, and the unit that takes writes.
pub fn cluster_status_results(view: &ClusterView) -> serde_json::Value {
    let mut members = serde_json::Map::new();
    for m in &view.members {
        let (state, primary) = match &m.status {
            Some(s) => (s.state.clone(), s.in_primary_component()),
            None => ("unreachable".to_string(), false),
        };
        members.insert(
            m.unit.replace('/', "-"),
            serde_json::json!({
                "unit": m.unit,
                "address": format!("127.0.0.1:{}", m.port),
                "state": state,
                "primary-component": primary,
                "takes-writes": view.write().is_some_and(|w| w.unit == m.unit),
            }),
        );
    }
    serde_json::json!({
        "members": members,
        "write-node": view.write().map(|m| m.unit.clone()).unwrap_or_default(),
        "synced": view.members.iter().filter(|m| m.status.as_ref().is_some_and(WsrepStatus::is_synced)).count(),
    })
}

/// The admin password each application's watcher logs in with (kept current by every
/// hook that calls [`watch`], so a changed password reaches it).
fn watch_passwords() -> &'static Mutex<HashMap<String, SecretString>> {
    static PASSWORDS: OnceLock<Mutex<HashMap<String, SecretString>>> = OnceLock::new();
    PASSWORDS.get_or_init(Default::default)
}

/// Follows the application's members between hooks (every [`WATCH_EVERY`]): when the
/// write node or the synced set changes (a member killed, back, joined or gone), every
/// unit is asked for `update-status` at once, so the leader rewrites the endpoints on
/// every relation. One task per application; it ends when the application has no units.
pub fn watch(ctx: &HookContext, services: &Arc<Services>, password: &SecretString) {
    let key = format!("{}/{}", ctx.model, ctx.app);
    watch_passwords().lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone(), password.clone());
    let members = Galera { key, app: ctx.app.clone(), last: None, kicked: Instant::now() };
    watcher::spawn(ctx, services, "galera", WATCH_EVERY, members);
}

/// The Galera members' last reading, and when the units were last asked to look.
struct Galera {
    /// The application's key in [`watch_passwords`].
    key: String,
    app: String,
    last: Option<(Option<String>, Vec<String>)>,
    kicked: Instant,
}

#[async_trait::async_trait]
impl Look for Galera {
    async fn look(&mut self, units: &[UnitRow]) -> Option<bool> {
        let password = watch_passwords().lock().unwrap_or_else(|p| p.into_inner()).get(&self.key).cloned()?;
        let mut live: Vec<(String, BTreeMap<String, String>)> =
            units.iter().filter(|u| u.life == Life::Alive).map(|u| (u.name.clone(), u.state.clone())).collect();
        live.sort_by_key(|(u, _)| unit_number(u));
        let view = read_view(&live, &password).await;
        let seen = view.published();
        let app = &self.app;
        tracing::debug!(app = %app, write = ?seen.0, readers = ?seen.1, "Galera members read");
        // The first look wakes the units too: the cluster may have changed while no
        // watcher ran (controller restart, members synced after their start). A unit
        // whose last hook saw another cluster (a change between two readings here, or
        // a hook that read the members at another moment) is asked again, every
        // REMIND_EVERY, until it records what the watcher sees.
        let key = view.view_key();
        let stale = live.iter().any(|(_, s)| s.get(STATE_VIEW) != Some(&key));
        let changed = self.last.as_ref() != Some(&seen);
        let wake = changed || (stale && self.kicked.elapsed() >= REMIND_EVERY);
        if wake {
            tracing::info!(app = %app, write = ?seen.0, readers = ?seen.1, changed, "Galera members: update-status on every unit");
            self.kicked = Instant::now();
        }
        self.last = Some(seen);
        Some(wake)
    }

    fn ended(&mut self) {
        watch_passwords().lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

/// Starts (or adopts) this unit's member: the founder bootstraps at its first start,
/// every other unit first waits for a synced member to join.
pub async fn start(
    ctx: &mut HookContext,
    services: &Services,
    password: &SecretString,
    settings: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    claim_ports(ctx)?;
    if !founds(ctx) && !server::server_running(ctx, &services.supervisor) && !crashed_in_primary(ctx) {
        await_synced_peer(ctx, password).await?;
    }
    let spec = spec(ctx, password.clone(), settings)?;
    services.supervisor.ensure_running(&workload_key(ctx), spec).await?;
    await_own_synced(ctx, password).await
}

/// Waits (bounded) until this unit's own member is synced in the primary component. A
/// joiner takes a login before its state transfer is over and then closes connections
/// while the transfer runs, so nothing may use it before; after a whole-cluster crash
/// every member is synced only once all of them run again (`pc.recovery`), each in its
/// own unit's hook.
async fn await_own_synced(ctx: &HookContext, password: &SecretString) -> anyhow::Result<()> {
    let port = own(ctx, server::STATE_PORT)?;
    let started = Instant::now();
    loop {
        let last = match galera::status(port, ADMIN_USER, password).await {
            Ok(s) if s.is_synced() => return Ok(()),
            Ok(s) => format!("{}, {}", s.state, s.cluster_status),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > WAIT_FOR_CLUSTER {
            return Err(anyhow!("{}'s Galera member is not synced ({last})", ctx.unit));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Gives a supervised member the current list of the others (for its next restart);
/// never starts one (a member being stopped, as at `remove-unit` or controller shutdown,
/// stays stopped).
pub async fn refresh_peers(
    ctx: &HookContext,
    services: &Services,
    password: &SecretString,
    settings: BTreeMap<String, String>,
) -> anyhow::Result<()> {
    services.supervisor.update_spec(&workload_key(ctx), spec(ctx, password.clone(), settings)?).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(unit: &str, port: u16, state: Option<(&str, &str)>) -> Member {
        Member {
            unit: unit.into(),
            port,
            status: state.map(|(s, c)| WsrepStatus { state: s.into(), cluster_status: c.into(), cluster_size: 3, ready: true }),
        }
    }

    #[test]
    fn the_lowest_numbered_synced_member_takes_writes() {
        let view = ClusterView {
            members: vec![
                member("my/0", 1, None),
                member("my/1", 2, Some(("Donor/Desynced", "Primary"))),
                member("my/2", 3, Some(("Synced", "Primary"))),
                member("my/10", 4, Some(("Synced", "Primary"))),
                member("my/11", 5, Some(("Synced", "non-Primary"))),
            ],
        };
        assert_eq!(view.write().map(|m| m.unit.as_str()), Some("my/2"));
        assert_eq!(view.readers().iter().map(|m| m.port).collect::<Vec<_>>(), [4]);
        let r = cluster_status_results(&view);
        assert_eq!(r["write-node"], "my/2");
        assert_eq!(r["synced"], 2);
        assert_eq!(r["members"]["my-0"]["state"], "unreachable");
        assert_eq!(r["members"]["my-11"]["primary-component"], false);
        assert_eq!(unit_number("my/10"), 10);
        assert!(ClusterView::default().write().is_none());
    }
}
