//! The supervisor of all workloads of one controller.
//!
//! One watcher task per running unit owns the server process: it notices an unexpected
//! exit, restarts with exponential backoff (0.5 s doubling to 30 s; the count resets once
//! a server has stayed up for a minute) and publishes a readable [`WorkloadState`]. Stopping
//! and restarting on request ([`Supervisor::restart`]) go through the watcher so the
//! process is always stopped by the task that owns it, and a restart that fails is
//! retried like a crash, never left stopped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::WorkloadError;
use super::process::{stop_pid_blocking, Proc};
use super::server_process::{ServerProcess, StrayServer};
use super::state::WorkloadState;
use crate::paths::Home;

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A server that ran this long before dying restarts from the first backoff step.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long `ensure_running` waits for a restarting server.
const WAIT_RUNNING: Duration = Duration::from_secs(90);

#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    /// The controller's home: `remove_data` deletes nothing outside it.
    root: PathBuf,
    /// How each engine finds a server left running in a directory (`remove_data`).
    strays: Vec<Arc<dyn StrayServer>>,
    units: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One unit: its published state and, while supervised, its watcher.
struct Slot {
    state: watch::Sender<WorkloadState>,
    ctl: tokio::sync::Mutex<Option<Watcher>>,
}

struct Watcher {
    spec: Arc<Mutex<Arc<dyn ServerProcess>>>,
    stop: watch::Sender<bool>,
    /// Bumped to ask for a restart of the running process with the current spec.
    restart: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Supervisor {
    pub fn new(home: Home, strays: Vec<Arc<dyn StrayServer>>) -> Supervisor {
        Self::with_root(home.root().to_path_buf(), strays)
    }

    /// A supervisor whose `remove_data` is confined to `root`.
    pub fn with_root(root: PathBuf, strays: Vec<Arc<dyn StrayServer>>) -> Supervisor {
        Supervisor { inner: Arc::new(Inner { root, strays, units: Mutex::new(HashMap::new()) }) }
    }

    fn slot(&self, unit: &str) -> Arc<Slot> {
        let mut units = self.inner.units.lock().unwrap_or_else(|p| p.into_inner());
        units
            .entry(unit.to_string())
            .or_insert_with(|| Arc::new(Slot { state: watch::Sender::new(WorkloadState::Stopped), ctl: tokio::sync::Mutex::new(None) }))
            .clone()
    }

    fn existing_slot(&self, unit: &str) -> Option<Arc<Slot>> {
        self.inner.units.lock().unwrap_or_else(|p| p.into_inner()).get(unit).cloned()
    }

    /// Makes the unit's server run and be watched. Idempotent: initialises the data
    /// directory if needed, starts or adopts the server and returns once it accepts the
    /// admin login. When it is already supervised the new spec's credentials are taken
    /// for later restarts (a spec with another data directory or port restarts it), and
    /// a server in the middle of restarting is waited for.
    pub async fn ensure_running(&self, unit: &str, spec: impl ServerProcess + 'static) -> Result<(), WorkloadError> {
        self.ensure_running_arc(unit, Arc::new(spec)).await
    }

    async fn ensure_running_arc(&self, unit: &str, spec: Arc<dyn ServerProcess>) -> Result<(), WorkloadError> {
        let slot = self.slot(unit);
        let mut ctl = slot.ctl.lock().await;
        if let Some(w) = ctl.as_ref() {
            if !w.task.is_finished() {
                let same_place = same_place(&w.spec.lock().unwrap_or_else(|p| p.into_inner()), &spec);
                if same_place {
                    *w.spec.lock().unwrap_or_else(|p| p.into_inner()) = spec;
                    drop(ctl);
                    return wait_running(unit, &slot).await;
                }
            }
            if let Some(w) = ctl.take() {
                shut(w).await;
            }
        }
        slot.state.send_replace(WorkloadState::Starting);
        let proc = match spec.start().await {
            Ok(p) => p,
            Err(e) => {
                slot.state.send_replace(WorkloadState::Stopped);
                return Err(e);
            }
        };
        slot.state.send_replace(WorkloadState::Running { pid: proc.pid() });
        let spec = Arc::new(Mutex::new(spec));
        let (stop, stop_rx) = watch::channel(false);
        let (restart, restart_rx) = watch::channel(0);
        let task = tokio::spawn(watch_unit(slot.state.clone(), spec.clone(), proc, stop_rx, restart_rx));
        *ctl = Some(Watcher { spec, stop, restart, task });
        Ok(())
    }

    /// Replaces a supervised server's process with one started from `spec` (same data
    /// directory and port), under supervision: when that start fails the watcher retries
    /// it with backoff, as after a crash, so the server is never left stopped. A server
    /// already restarting just takes the spec; one not supervised is started as by
    /// [`Supervisor::ensure_running`]. Waits (bounded) until the new process runs, or
    /// returns the first attempt's error while the watcher goes on trying.
    pub async fn restart(&self, unit: &str, spec: impl ServerProcess + 'static) -> Result<(), WorkloadError> {
        let slot = self.slot(unit);
        let ctl = slot.ctl.lock().await;
        let spec: Arc<dyn ServerProcess> = Arc::new(spec);
        let running = slot.state.borrow().pid();
        let watcher = ctl.as_ref().filter(|w| !w.task.is_finished());
        let Some((w, old)) = watcher.zip(running).filter(|(w, _)| same_place(&w.spec.lock().unwrap_or_else(|p| p.into_inner()), &spec))
        else {
            drop(ctl);
            return self.ensure_running_arc(unit, spec).await;
        };
        *w.spec.lock().unwrap_or_else(|p| p.into_inner()) = spec;
        let mut rx = slot.state.subscribe();
        w.restart.send_modify(|n| *n += 1);
        drop(ctl);
        // Done when the new process runs, or its first start failed (the watcher goes on).
        let settled = |s: &WorkloadState| match s {
            WorkloadState::Running { pid } => *pid != old,
            WorkloadState::Restarting { attempt, .. } => *attempt > 1,
            WorkloadState::Stopped => true,
            WorkloadState::Starting => false,
        };
        let _ = tokio::time::timeout(WAIT_RUNNING, rx.wait_for(settled)).await;
        let now = slot.state.borrow().clone();
        match now {
            WorkloadState::Running { pid } if pid != old => Ok(()),
            _ => Err(not_running(unit, &slot)),
        }
    }

    /// Hands a supervised server (same data directory and port) the spec its later
    /// restarts use. Never starts anything: a server being stopped stays stopped. Returns
    /// whether a supervised server took the spec.
    pub async fn update_spec(&self, unit: &str, spec: impl ServerProcess + 'static) -> bool {
        let Some(slot) = self.existing_slot(unit) else { return false };
        let spec: Arc<dyn ServerProcess> = Arc::new(spec);
        let ctl = slot.ctl.lock().await;
        let Some(w) = ctl.as_ref().filter(|w| !w.task.is_finished()) else { return false };
        let mut current = w.spec.lock().unwrap_or_else(|p| p.into_inner());
        if !same_place(&current, &spec) {
            return false;
        }
        *current = spec;
        true
    }

    /// Stops the unit's server and stops watching it. Idempotent.
    pub async fn stop(&self, unit: &str) {
        let Some(slot) = self.existing_slot(unit) else { return };
        let mut ctl = slot.ctl.lock().await;
        if let Some(w) = ctl.take() {
            shut(w).await;
        }
        slot.state.send_replace(WorkloadState::Stopped);
    }

    /// Stops every supervised server (controller shutdown); data stays on disk.
    /// Servers whose spec [`ServerProcess::stops_in_turn`] stop one after another per
    /// application (the key without its unit number), highest-numbered unit first; all
    /// others, and the applications among themselves, at once.
    pub async fn stop_all(&self) {
        let units: Vec<(String, Arc<Slot>)> =
            self.inner.units.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, s)| (k.clone(), s.clone())).collect();
        let mut in_turn: std::collections::BTreeMap<String, Vec<(u64, String)>> = Default::default();
        let mut set = tokio::task::JoinSet::new();
        for (unit, slot) in units {
            let turn = slot.ctl.lock().await.as_ref().is_some_and(|w| w.spec.lock().unwrap_or_else(|p| p.into_inner()).stops_in_turn());
            match unit.rsplit_once('/').filter(|_| turn) {
                Some((app, n)) => in_turn.entry(app.to_string()).or_default().push((n.parse().unwrap_or(u64::MAX), unit.clone())),
                None => {
                    let me = self.clone();
                    set.spawn(async move { me.stop(&unit).await });
                }
            }
        }
        for (_, mut members) in in_turn {
            members.sort_by(|a, b| b.cmp(a));
            let me = self.clone();
            set.spawn(async move {
                for (_, unit) in members {
                    me.stop(&unit).await;
                }
            });
        }
        while set.join_next().await.is_some() {}
    }

    /// What the unit's workload is doing now.
    pub fn state(&self, unit: &str) -> WorkloadState {
        self.existing_slot(unit).map(|s| s.state.borrow().clone()).unwrap_or(WorkloadState::Stopped)
    }

    /// Stops the unit's server (also one nobody supervises whose lock file lies under
    /// `dir`) and deletes `dir`, which must be inside the controller's home.
    pub async fn remove_data(&self, unit: &str, dir: &Path) -> Result<(), WorkloadError> {
        let root = self.inner.root.as_path();
        let inside = dir.is_absolute() && dir.starts_with(root) && dir != root && !dir.components().any(|c| c.as_os_str() == "..");
        if !inside {
            return Err(WorkloadError::OutsideHome { path: dir.to_path_buf() });
        }
        self.stop(unit).await;
        stop_strays(&self.inner.strays, dir).await;
        if dir.exists() {
            let owned = dir.to_path_buf();
            tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&owned))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
                .map_err(|e| WorkloadError::Remove { path: dir.to_path_buf(), source: e })?;
        }
        self.inner.units.lock().unwrap_or_else(|p| p.into_inner()).remove(unit);
        Ok(())
    }
}

fn same_place(a: &Arc<dyn ServerProcess>, b: &Arc<dyn ServerProcess>) -> bool {
    a.name() == b.name() && a.place() == b.place()
}

/// Stops a server left running under `dir` (in it or one level down) by an earlier
/// controller, whichever engine it is.
async fn stop_strays(strays: &[Arc<dyn StrayServer>], dir: &Path) {
    let mut candidates = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        candidates.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for data_dir in candidates {
        for (pid, signal, grace) in strays.iter().filter_map(|s| s.find(&data_dir)) {
            let _ = tokio::task::spawn_blocking(move || stop_pid_blocking(pid, signal, grace)).await;
        }
    }
}

/// Asks the watcher to stop its server and waits until it has.
async fn shut(w: Watcher) {
    let _ = w.stop.send(true);
    let _ = w.task.await;
}

/// Waits for a supervised unit to be `Running`.
async fn wait_running(unit: &str, slot: &Slot) -> Result<(), WorkloadError> {
    let mut rx = slot.state.subscribe();
    let waited = tokio::time::timeout(WAIT_RUNNING, rx.wait_for(|s| matches!(s, WorkloadState::Running { .. }))).await;
    match waited {
        Ok(Ok(_)) => Ok(()),
        _ => Err(not_running(unit, slot)),
    }
}

/// Why a unit's server is not running now.
fn not_running(unit: &str, slot: &Slot) -> WorkloadError {
    let reason = match &*slot.state.borrow() {
        WorkloadState::Restarting { reason, .. } => reason.clone(),
        other => format!("{other:?}"),
    };
    WorkloadError::NotRunning { unit: unit.to_string(), reason }
}

/// Resolves once a stop is asked for (or the supervisor is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    (BACKOFF_START * factor).min(BACKOFF_MAX)
}

/// What ended a server process's run under its watcher.
enum Ended {
    /// Stop asked for (or the supervisor is gone).
    Stop,
    /// A restart asked for ([`Supervisor::restart`]).
    Restart,
    /// It exited on its own, with this reason.
    Died(String),
}

/// Owns one server process: restarts it when it dies or a restart is asked for, stops it
/// when asked (or when the supervisor is gone).
async fn watch_unit(
    state: watch::Sender<WorkloadState>,
    spec: Arc<Mutex<Arc<dyn ServerProcess>>>,
    mut proc: Proc,
    mut stop: watch::Receiver<bool>,
    mut restart: watch::Receiver<u64>,
) {
    let engine = || spec.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut attempt = 0u32;
    let mut started = Instant::now();
    loop {
        let ended = tokio::select! {
            _ = stopped(&mut stop) => Ended::Stop,
            r = restart.changed() => if r.is_ok() { Ended::Restart } else { Ended::Stop },
            r = proc.wait_exit() => Ended::Died(format!("{}: {r}", engine().name())),
        };
        let (reason, at_once) = match ended {
            Ended::Died(reason) => {
                if started.elapsed() >= STABLE_AFTER {
                    attempt = 0;
                }
                (reason, false)
            }
            stop_or_restart => {
                let e = engine();
                let _ = proc.terminate(e.stop_signal(), e.stop_grace()).await;
                if matches!(stop_or_restart, Ended::Stop) {
                    state.send_replace(WorkloadState::Stopped);
                    return;
                }
                // Asked for: the first attempt at once, later ones as after a crash.
                attempt = 0;
                (format!("{}: restarted on request", e.name()), true)
            }
        };
        match restart_until_running(&state, &engine, &mut stop, &mut restart, &mut attempt, reason, at_once).await {
            Some(p) => proc = p,
            None => return,
        }
        started = Instant::now();
    }
}

/// Starts the server again until it runs, with backoff between attempts (none before the
/// first when `at_once`); `None` when a stop was asked for meanwhile.
async fn restart_until_running(
    state: &watch::Sender<WorkloadState>,
    engine: &impl Fn() -> Arc<dyn ServerProcess>,
    stop: &mut watch::Receiver<bool>,
    restart: &mut watch::Receiver<u64>,
    attempt: &mut u32,
    mut reason: String,
    at_once: bool,
) -> Option<Proc> {
    let first = *attempt + 1;
    loop {
        *attempt += 1;
        state.send_replace(WorkloadState::Restarting { attempt: *attempt, reason: reason.clone() });
        let pause = if at_once && *attempt == first { Duration::ZERO } else { backoff(*attempt) };
        tokio::select! {
            _ = stopped(stop) => {
                state.send_replace(WorkloadState::Stopped);
                return None;
            }
            _ = tokio::time::sleep(pause) => {}
        }
        // The start below uses the spec as it is now, so a restart asked for until now is
        // done by it.
        restart.borrow_and_update();
        match engine().start().await {
            Ok(p) => {
                state.send_replace(WorkloadState::Running { pid: p.pid() });
                return Some(p);
            }
            Err(err) => reason = err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::postgres::testing::TestHome;
    use crate::workload::process::pid_alive;

    async fn wait_state(sup: &Supervisor, unit: &str, ok: impl Fn(&WorkloadState) -> bool) -> WorkloadState {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = sup.state(unit);
            if ok(&s) || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn running_pid(s: &WorkloadState) -> u32 {
        match s {
            WorkloadState::Running { pid } => *pid,
            other => panic!("not running: {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn supervisor_restarts_a_killed_server_and_stops_it() {
        let t = TestHome::new();
        let sup = Supervisor::with_root(t.home.path().to_path_buf(), crate::engines::stray_servers());
        let unit = "postgresql-k8s/0";
        assert_eq!(sup.state(unit), WorkloadState::Stopped);
        sup.ensure_running(unit, t.spec.clone()).await.expect("start");
        let pid = running_pid(&sup.state(unit));
        t.guard.track(pid);
        sup.ensure_running(unit, t.spec.clone()).await.expect("idempotent");
        assert_eq!(running_pid(&sup.state(unit)), pid);

        super::super::process::signal(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let s = wait_state(&sup, unit, |s| matches!(s, WorkloadState::Running { pid: p } if *p != pid)).await;
        let new_pid = running_pid(&s);
        t.guard.track(new_pid);
        sup.ensure_running(unit, t.spec.clone()).await.expect("running again");
        assert!(sup.update_spec(unit, t.spec.clone()).await, "a supervised server takes a new spec");
        assert_eq!(running_pid(&sup.state(unit)), new_pid, "without a restart");

        sup.stop(unit).await;
        assert_eq!(sup.state(unit), WorkloadState::Stopped);
        assert!(!pid_alive(new_pid));
        sup.stop(unit).await;
        assert!(!sup.update_spec(unit, t.spec.clone()).await, "a stopped server takes no spec");
        assert_eq!(sup.state(unit), WorkloadState::Stopped, "and is not started by it");

        // Back again from the same data, then stop_all and remove_data.
        sup.ensure_running(unit, t.spec.clone()).await.expect("restart from disk");
        t.guard.track(running_pid(&sup.state(unit)));
        sup.stop_all().await;
        assert_eq!(sup.state(unit), WorkloadState::Stopped);
        assert!(t.spec.data_dir.join("PG_VERSION").is_file(), "state kept on disk");
        let unit_dir = t.spec.data_dir.parent().unwrap().to_path_buf();
        assert!(matches!(sup.remove_data(unit, Path::new("/tmp")).await, Err(WorkloadError::OutsideHome { .. })));
        sup.remove_data(unit, &unit_dir).await.expect("remove");
        assert!(!unit_dir.exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restarts_use_the_password_given_last() {
        let t = TestHome::new();
        let sup = Supervisor::with_root(t.home.path().to_path_buf(), crate::engines::stray_servers());
        let unit = "postgresql-k8s/0";
        sup.ensure_running(unit, t.spec.clone()).await.expect("start");
        let pid = running_pid(&sup.state(unit));
        t.guard.track(pid);
        let admin = crate::engines::postgres::PgAdmin::connect(t.spec.port, "operator", t.password()).await.unwrap();
        let new = crate::secret::generate_password(16);
        admin.set_password("operator", &new).await.unwrap();
        let mut spec = t.spec.clone();
        spec.operator_password = new;
        sup.ensure_running(unit, spec).await.expect("same server, new password");
        assert_eq!(running_pid(&sup.state(unit)), pid);

        super::super::process::signal(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let s = wait_state(&sup, unit, |s| matches!(s, WorkloadState::Running { pid: p } if *p != pid)).await;
        t.guard.track(running_pid(&s));
        sup.stop_all().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_that_fails_is_retried_never_left_stopped() {
        let t = TestHome::new();
        let sup = Supervisor::with_root(t.home.path().to_path_buf(), crate::engines::stray_servers());
        let unit = "postgresql-k8s/0";
        sup.restart(unit, t.spec.clone()).await.expect("not supervised: started");
        let pid = running_pid(&sup.state(unit));
        t.guard.track(pid);
        sup.restart(unit, t.spec.clone()).await.expect("restarted");
        let second = running_pid(&sup.state(unit));
        t.guard.track(second);
        assert_ne!(second, pid, "a new process");
        assert!(!pid_alive(pid), "the old one is gone");

        // A spec whose start fails (its password is refused): the supervisor keeps trying.
        let mut refused = t.spec.clone();
        refused.operator_password = crate::secret::generate_password(16);
        assert!(sup.restart(unit, refused).await.is_err(), "the refused start is reported");
        assert!(matches!(sup.state(unit), WorkloadState::Restarting { .. }), "retried, not stopped: {:?}", sup.state(unit));
        // Given a spec that works, the next attempt runs it.
        sup.restart(unit, t.spec.clone()).await.expect("running again");
        t.guard.track(running_pid(&sup.state(unit)));
        sup.stop_all().await;
        assert_eq!(sup.state(unit), WorkloadState::Stopped);
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(100), Duration::from_secs(30));
    }
}
