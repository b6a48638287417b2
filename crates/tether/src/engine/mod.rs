//! The event engine: one worker per unit runs that unit's hook queue, one hook at a
//! time; units run concurrently.
//!
//! A worker takes the head of its queue, gives the unit's charm a [`HookContext`], and
//! when the charm returns `Ok` commits everything the hook buffered together with the
//! removal of the event (see [`commit`]). When it fails the writes are dropped, the unit
//! shows `error` with `hook failed: "<hook>"`, and the same hook is retried with
//! backoff or at once on `resolve`. Workers sleep on a [`Notify`] when idle, so new work
//! starts without polling; an idle unit gets `update-status` on the model's interval.
//!
//! One exception to one-hook-at-a-time, for throughput: a native charm may declare that
//! a hook touches only its own relation (a provider serving `database`). Then the
//! worker keeps up to [`MAX_CONCURRENT_HOOKS`] such hooks of *different* relations in
//! flight, each committed atomically as soon as it is done, and starts none past a hook
//! that must run alone; a relation's own hooks never overlap or reorder.

pub mod charm;
pub mod commit;
pub mod context;
pub mod secret_events;
mod secret_timer;
#[cfg(test)]
mod testing;

pub use secret_timer::TimingChange;

use crate::paths::Home;
use crate::store::{Store, StoreError, UnitRow};
use charm::{Charm, CharmSource};
use context::{ActionState, HookContext};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tether_core::charm_meta::CharmOrigin;
use tether_core::events::{Event, HookKind};
use tether_core::life::Life;
use tokio::sync::{broadcast, Notify};

const INSTALLED_KEY: &str = "tether.installed";
const DEFAULT_UPDATE_STATUS: Duration = Duration::from_secs(300);
/// Hooks of different relations one unit may run at once, for charms that allow it
/// ([`Charm::runs_beside_other_relations`]); matches the admin pools' cap.
const MAX_CONCURRENT_HOOKS: usize = 8;
/// How far past the head of a queue the engine looks for such hooks.
const LOOKAHEAD: usize = 64;
/// How long [`Engine::shutdown`] lets the running hooks finish before it abandons them.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(30);

/// A hook's context, its result and how long the charm took.
type HookOutcome = (HookContext, anyhow::Result<()>, Duration);

pub struct Engine {
    store: Arc<Store>,
    home: Home,
    charms: Arc<dyn CharmSource>,
    workers: Mutex<HashMap<(String, String), Arc<Notify>>>,
    tasks_done: broadcast::Sender<(String, i64)>,
    /// The unit workers' tasks.
    workers_running: Mutex<tokio::task::JoinSet<()>>,
    /// The secret timer's task: it never ends by itself, so shutdown aborts it.
    secret_timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set once [`Engine::shutdown`] began: no worker starts and no hook begins after
    /// it, so nothing a charm's watcher asks for while the servers stop runs against them.
    stopping: AtomicBool,
}

enum Step {
    Ran,
    Idle,
    RetryIn(Duration),
    Gone,
}

/// What [`Engine::pick_beside`] found in the queue.
enum Beside {
    Hook(Box<Picked>),
    /// The next hook must run alone: start nothing more until the lanes drain.
    MustWait,
    Nothing,
}

struct Picked {
    seq: i64,
    event: Event,
    unit: UnitRow,
    charm: String,
    origin: CharmOrigin,
    meta: tether_core::charm_meta::CharmMeta,
    config: std::collections::BTreeMap<String, serde_json::Value>,
    model_uuid: String,
    action: Option<ActionState>,
}

impl Picked {
    /// Another queued event of the same unit, with everything else as picked here.
    fn clone_for(&self, seq: i64, event: Event) -> Picked {
        Picked {
            seq,
            event,
            unit: self.unit.clone(),
            charm: self.charm.clone(),
            origin: self.origin,
            meta: self.meta.clone(),
            config: self.config.clone(),
            model_uuid: self.model_uuid.clone(),
            action: None,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Automatic retry delay after the n-th consecutive failure: 5 s doubling to 5 min.
fn backoff(retries: i64) -> Duration {
    Duration::from_secs((5u64 << retries.clamp(0, 6) as u32).min(300))
}

impl Engine {
    pub fn new(store: Arc<Store>, home: Home, charms: Arc<dyn CharmSource>) -> Arc<Engine> {
        let (tasks_done, _) = broadcast::channel(256);
        Arc::new(Engine {
            store,
            home,
            charms,
            workers: Mutex::new(HashMap::new()),
            tasks_done,
            workers_running: Mutex::new(tokio::task::JoinSet::new()),
            secret_timer: Mutex::new(None),
            stopping: AtomicBool::new(false),
        })
    }

    /// Subscribes to `(model, task id)` completions.
    pub fn task_events(&self) -> broadcast::Receiver<(String, i64)> {
        self.tasks_done.subscribe()
    }

    /// Wakes a unit's worker, starting it if needed.
    pub fn kick(self: &Arc<Self>, model: &str, unit: &str) {
        let key = (model.to_string(), unit.to_string());
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        if let Some(n) = workers.get(&key) {
            n.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(key, notify.clone());
        let engine = self.clone();
        let (m, u) = (model.to_string(), unit.to_string());
        self.workers_running.lock().unwrap_or_else(|p| p.into_inner()).spawn(async move { engine.worker(m, u, notify).await });
    }

    /// Queues `update-status` for a unit and wakes it now: for a charm's own watcher that
    /// saw its workload change between hooks (a failover), so the change is acted on at
    /// once instead of at the next timer.
    pub fn request_update_status(self: &Arc<Self>, model: &str, unit: &str) -> Result<(), StoreError> {
        self.store.write(|tx| tx.enqueue(model, unit, &Event::simple(HookKind::UpdateStatus)))?;
        self.kick(model, unit);
        Ok(())
    }

    /// The store the engine runs hooks against.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn kick_all(self: &Arc<Self>, model: &str, units: impl IntoIterator<Item = String>) {
        for u in units {
            self.kick(model, &u);
        }
    }

    /// Stops all workers and waits until they are gone, before the caller stops the
    /// servers: no hook begins after it, a running hook is let finish (within
    /// [`SHUTDOWN_DRAIN`]) so it neither runs against stopping servers nor leaves behind a
    /// program it started and had not handed to the supervisor yet (an `initdb`, a server
    /// still coming up). One that outlasts the drain is abandoned; it runs again on next
    /// start.
    pub async fn shutdown(&self) {
        {
            // Under the workers' lock: a kick either finished starting its worker (its
            // task is drained below) or sees the flag.
            let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            self.stopping.store(true, Ordering::SeqCst);
            for notify in workers.values() {
                notify.notify_one();
            }
        }
        let timer = self.secret_timer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(timer) = timer {
            timer.abort();
            let _ = timer.await;
        }
        let mut running = std::mem::take(&mut *self.workers_running.lock().unwrap_or_else(|p| p.into_inner()));
        let drained = tokio::time::timeout(SHUTDOWN_DRAIN, async { while running.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("hooks still running {}s into shutdown are abandoned; they run again on next start", SHUTDOWN_DRAIN.as_secs());
            running.shutdown().await;
        }
        self.workers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// On controller start: every installed unit runs `start` again (as after a machine
    /// reboot in Juju), so its workload comes back; then every queue resumes.
    pub fn resume_all(self: &Arc<Self>) -> Result<(), StoreError> {
        let units = self.store.write(|tx| {
            let units = tx.all_units()?;
            for (model, unit) in &units {
                if let Some(u) = tx.unit(model, unit)? {
                    if u.state.contains_key(INSTALLED_KEY) && u.life == Life::Alive {
                        tx.enqueue(model, unit, &Event::simple(HookKind::Start))?;
                    }
                }
            }
            Ok::<_, StoreError>(units)
        })?;
        for (m, u) in units {
            self.kick(&m, &u);
        }
        self.start_secret_timer();
        Ok(())
    }

    async fn worker(self: Arc<Self>, model: String, unit: String, notify: Arc<Notify>) {
        loop {
            if self.is_stopping() {
                return;
            }
            let step = match self.step(&model, &unit).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = self.store.write(|tx| tx.log(&model, "controller", "ERROR", &format!("worker for {unit}: {e}")));
                    Step::RetryIn(Duration::from_secs(1))
                }
            };
            match step {
                Step::Ran => continue,
                Step::Gone => {
                    self.workers.lock().unwrap_or_else(|p| p.into_inner()).remove(&(model.clone(), unit.clone()));
                    return;
                }
                Step::RetryIn(d) => {
                    let _ = tokio::time::timeout(d, notify.notified()).await;
                }
                Step::Idle => {
                    let interval = self.update_status_interval(&model);
                    if tokio::time::timeout(interval, notify.notified()).await.is_err() {
                        let _ = self.store.write(|tx| tx.enqueue(&model, &unit, &Event::simple(HookKind::UpdateStatus)));
                    }
                }
            }
        }
    }

    fn update_status_interval(&self, model: &str) -> Duration {
        let cfg = self.store.read(|tx| tx.model(model)).ok().flatten().map(|m| m.config).unwrap_or_default();
        cfg.get("update-status-hook-interval")
            .and_then(|v| v.as_str())
            .and_then(|s| tether_core::duration::parse_duration(s).ok())
            .filter(|d| *d >= Duration::from_secs(1))
            .unwrap_or(DEFAULT_UPDATE_STATUS)
    }

    fn pick(&self, model: &str, unit: &str) -> Result<Result<Picked, Step>, StoreError> {
        self.store.write(|tx| {
            let Some(u) = tx.unit(model, unit)? else { return Ok(Err(Step::Gone)) };
            if u.error_hook.is_some() {
                if let Some(at) = u.retry_at {
                    let wait = at - now_ms();
                    if wait > 0 {
                        return Ok(Err(Step::RetryIn(Duration::from_millis(wait as u64))));
                    }
                }
            }
            let Some(q) = tx.next_event(model, unit)? else {
                if u.agent != "idle" && u.error_hook.is_none() {
                    tx.set_unit_agent(model, unit, "idle", "")?;
                }
                return Ok(Err(Step::Idle));
            };
            let Some(app) = tx.app(model, &u.app)? else { return Ok(Err(Step::Gone)) };
            let model_uuid = tx.model(model)?.map(|m| m.uuid).unwrap_or_default();
            let hook = q.event.hook_name();
            let agent_msg =
                if q.event.kind == HookKind::Action { format!("running action {hook}") } else { format!("running {hook} hook") };
            tx.set_unit_agent(model, unit, "executing", &agent_msg)?;
            let action = match &q.event.action {
                Some((id, _)) => {
                    tx.start_task(model, *id)?;
                    let params = tx.task(model, *id)?.map(|t| t.params).unwrap_or_default();
                    Some(ActionState { id: *id, params, ..Default::default() })
                }
                None => None,
            };
            let config = tether_core::config::effective(&app.meta, &app.config);
            Ok(Ok(Picked {
                seq: q.seq,
                event: q.event,
                unit: u,
                charm: app.charm,
                origin: app.origin,
                meta: app.meta,
                config,
                model_uuid,
                action,
            }))
        })
    }

    async fn step(self: &Arc<Self>, model: &str, unit: &str) -> Result<Step, StoreError> {
        let picked = match self.pick(model, unit)? {
            Ok(p) => p,
            Err(step) => return Ok(step),
        };
        let Some(charm) = self.charms.charm_for(&picked.charm, picked.origin, &picked.meta) else {
            let error = format!("charm {:?} is not available", picked.charm);
            match picked.event.kind {
                HookKind::Action => self.fail_action(model, unit, &picked, &error)?,
                _ => self.fail_hook(model, &picked, &error)?,
            }
            return Ok(Step::Ran);
        };
        if picked.unit.error_hook.is_none() && charm.runs_beside_other_relations(&picked.event) {
            return self.run_relation_lanes(model, unit, picked, charm).await;
        }
        let (hook, run) = self.hook_run(model, unit, &picked, charm);
        // Its own task, so a panic is caught as a failure; held in a set, so a worker
        // abandoned at shutdown takes its hook down with it (a bare spawned task would
        // run on, against servers the shutdown is stopping).
        let mut running = tokio::task::JoinSet::new();
        running.spawn(run);
        let Some(outcome) = running.join_next().await else { return Ok(Step::Ran) };
        self.finish_hook(model, unit, &picked, &hook, outcome, &mut false)?;
        Ok(Step::Ran)
    }

    /// Runs `head` and, beside it, the queued hooks of other relations that the charm
    /// lets run that way: at most [`MAX_CONCURRENT_HOOKS`] in flight, one per relation,
    /// each committed as soon as it is done. A new one starts whenever one ends, until
    /// the queue's next hook must run alone, a hook fails, or nothing is left.
    async fn run_relation_lanes(
        self: &Arc<Self>,
        model: &str,
        unit: &str,
        head: Picked,
        charm: Arc<dyn Charm>,
    ) -> Result<Step, StoreError> {
        let mut tasks = tokio::task::JoinSet::new();
        let mut running: HashMap<tokio::task::Id, (Picked, String)> = HashMap::new();
        let mut busy: BTreeSet<i64> = BTreeSet::new();
        let template = head.clone_for(head.seq, head.event.clone());
        let (mut failed, mut alone_next, mut ran) = (false, false, 0usize);
        let mut next = Some(head);
        loop {
            if let Some(p) = next.take() {
                busy.extend(p.event.relation.as_ref().map(|(id, _)| *id));
                let (hook, run) = self.hook_run(model, unit, &p, charm.clone());
                let id = tasks.spawn(run).id();
                running.insert(id, (p, hook));
            }
            if !failed && !alone_next && !self.is_stopping() && tasks.len() < MAX_CONCURRENT_HOOKS {
                match self.pick_beside(model, unit, &busy, &template, charm.as_ref())? {
                    Beside::Hook(p) => {
                        next = Some(*p);
                        continue;
                    }
                    Beside::MustWait => alone_next = true,
                    Beside::Nothing => {}
                }
            }
            let Some(done) = tasks.join_next_with_id().await else { break };
            let (id, outcome) = match done {
                Ok((id, outcome)) => (id, Ok(outcome)),
                Err(e) => (e.id(), Err(e)),
            };
            let Some((picked, hook)) = running.remove(&id) else { continue };
            if let Some((rel, _)) = &picked.event.relation {
                busy.remove(rel);
            }
            let failed_before = failed;
            self.finish_hook(model, unit, &picked, &hook, outcome, &mut failed)?;
            if failed && !failed_before {
                // The unit's error names this hook, so it is the one that runs next.
                self.store.write(|tx| tx.move_to_front(model, unit, picked.seq))?;
            }
            ran += 1;
        }
        if ran > 1 {
            let entity = format!("unit-{}", unit.replace('/', "-"));
            self.store.write(|tx| tx.log(model, &entity, "DEBUG", &format!("ran {ran} hooks of different relations side by side")))?;
            self.settle_after_batch(model, unit, &template, charm.as_ref())?;
        }
        Ok(Step::Ran)
    }

    /// The first queued hook of a relation with nothing in flight, if the charm lets it
    /// run beside the others and no hook that must run alone comes before it.
    fn pick_beside(
        &self,
        model: &str,
        unit: &str,
        busy: &BTreeSet<i64>,
        template: &Picked,
        charm: &dyn Charm,
    ) -> Result<Beside, StoreError> {
        self.store.write(|tx| {
            for q in tx.queue_head(model, unit, LOOKAHEAD)? {
                let Some((rel, _)) = q.event.relation.clone() else { return Ok(Beside::MustWait) };
                if !charm.runs_beside_other_relations(&q.event) {
                    return Ok(Beside::MustWait);
                }
                if busy.contains(&rel) {
                    continue;
                }
                tx.mark_running(q.seq)?;
                let mut picked = template.clone_for(q.seq, q.event);
                // The unit as committed now (hooks that ended since the head began may
                // have changed its state).
                match tx.unit(model, unit)? {
                    Some(u) => picked.unit = u,
                    None => return Ok(Beside::Nothing),
                }
                return Ok(Beside::Hook(Box::new(picked)));
            }
            Ok(Beside::Nothing)
        })
    }

    /// One hook ready to run on its own task (so a panic is caught as a failure), and
    /// its name.
    fn hook_run(
        &self,
        model: &str,
        unit: &str,
        picked: &Picked,
        charm: Arc<dyn Charm>,
    ) -> (String, impl std::future::Future<Output = HookOutcome> + Send + 'static) {
        let mut ctx = HookContext::new(
            self.store.clone(),
            self.home.clone(),
            model.to_string(),
            picked.model_uuid.clone(),
            unit.to_string(),
            picked.unit.leader,
            picked.config.clone(),
            picked.event.clone(),
            picked.unit.state.clone(),
        );
        ctx.action = picked.action.take_for_ctx();
        let event = picked.event.clone();
        let hook = event.hook_name();
        crate::failpoint::hook(&hook, "before");
        let run = async move {
            let started = std::time::Instant::now();
            let r = charm.handle(&mut ctx, &event).await;
            (ctx, r, started.elapsed())
        };
        (hook, run)
    }

    /// Commits a hook that succeeded (or an action that failed, as its task's result),
    /// or puts the unit in error for the first hook of the batch that failed; a later
    /// failure is logged and its hook stays queued behind the first.
    fn finish_hook(
        self: &Arc<Self>,
        model: &str,
        unit: &str,
        picked: &Picked,
        hook: &str,
        outcome: Result<HookOutcome, tokio::task::JoinError>,
        failed: &mut bool,
    ) -> Result<(), StoreError> {
        let error = match outcome {
            Ok((ctx, Ok(()), took)) => {
                crate::failpoint::hook(hook, "after-effects");
                self.commit(model, unit, picked, ctx, took)?;
                crate::failpoint::hook(hook, "after-commit");
                return Ok(());
            }
            Ok((mut ctx, Err(e), took)) if picked.event.kind == HookKind::Action => {
                ctx.action_fail(&format!("{e:#}"));
                // A failed action is reported on its task; nothing it buffered is kept.
                ctx.pending = Default::default();
                return self.commit(model, unit, picked, ctx, took);
            }
            Ok((_, Err(e), _)) => format!("{e:#}"),
            // An action is reported on its task whatever went wrong, as Juju does.
            Err(join) if picked.event.kind == HookKind::Action => return self.fail_action(model, unit, picked, &format!("{join}")),
            Err(join) => format!("hook panicked: {join}"),
        };
        if std::mem::replace(failed, true) {
            let entity = format!("unit-{}", unit.replace('/', "-"));
            return self.store.write(|tx| tx.log(model, &entity, "ERROR", &format!("hook {hook:?} failed: {error}")));
        }
        self.fail_hook(model, picked, &error)
    }

    /// After hooks ran side by side, lets the charm set the unit's status from what
    /// they committed together.
    fn settle_after_batch(&self, model: &str, unit: &str, head: &Picked, charm: &dyn Charm) -> Result<(), StoreError> {
        let Some(u) = self.store.read(|tx| tx.unit(model, unit))? else { return Ok(()) };
        let ctx = HookContext::new(
            self.store.clone(),
            self.home.clone(),
            model.to_string(),
            head.model_uuid.clone(),
            unit.to_string(),
            u.leader,
            head.config.clone(),
            head.event.clone(),
            u.state,
        );
        if let Err(e) = charm.settle_after_concurrent_hooks(&ctx) {
            let entity = format!("unit-{}", unit.replace('/', "-"));
            self.store.write(|tx| tx.log(model, &entity, "WARNING", &format!("settling status: {e:#}")))?;
        }
        Ok(())
    }

    fn commit(self: &Arc<Self>, model: &str, unit: &str, picked: &Picked, mut ctx: HookContext, took: Duration) -> Result<(), StoreError> {
        if picked.event.kind == HookKind::Install {
            ctx.state_set(INSTALLED_KEY, "true");
        }
        let app = ctx.app.clone();
        let mut app_gone = false;
        let woken: BTreeSet<String> = self.store.write(|tx| {
            let mut woken = commit::apply_pending(tx, model, &app, unit, &ctx.pending)?;
            // What `debug-log` shows of each hook, like Juju's "ran ... hook" line, with
            // the charm's own time (the figure a profile of integrate starts from).
            let entity = format!("unit-{}", unit.replace('/', "-"));
            let ran = format!("ran {:?} hook in {:.1} ms", picked.event.hook_name(), took.as_secs_f64() * 1000.0);
            tx.log(model, &entity, "DEBUG", &ran)?;
            tx.finish_event(picked.seq)?;
            if picked.unit.error_hook.is_some() {
                tx.set_unit_error(model, unit, None, None)?;
            }
            if let Some(a) = &ctx.action {
                let (status, message) = match &a.failed {
                    Some(m) => ("failed", m.clone()),
                    None => ("completed", String::new()),
                };
                let mut results = a.results.clone();
                // An external charm reports its process exit code itself.
                results.entry("return-code").or_insert(0.into());
                tx.finish_task(model, a.id, status, &results, &message, &a.log)?;
            }
            // A relation being removed goes when the last hook that refers to it is done.
            if let Some((rel_id, _)) = &picked.event.relation {
                let dying = tx.relation(model, *rel_id)?.is_some_and(|r| r.life != Life::Alive);
                if dying && tx.events_for_relation(model, *rel_id)? == 0 {
                    tx.delete_relation(model, *rel_id)?;
                }
            }
            if picked.event.kind == HookKind::Remove {
                tx.delete_unit(model, unit)?;
                let dying_app = tx.app(model, &app)?.is_some_and(|a| a.life != Life::Alive);
                if dying_app && tx.units(model, Some(&app))?.is_empty() {
                    for id in tx.secrets_owned_by_app(model, &app)? {
                        tx.delete_secret(model, &id)?;
                    }
                    for rel in tx.relations(model, Some(&app))? {
                        // The other side may still have hooks queued for it (both
                        // applications removed at once): its last relation-broken deletes it.
                        if tx.events_for_relation(model, rel.id)? == 0 {
                            tx.delete_relation(model, rel.id)?;
                        }
                    }
                    tx.delete_app(model, &app)?;
                    app_gone = true;
                }
            }
            if !tx.has_events(model, unit)? && tx.unit(model, unit)?.is_some() {
                tx.set_unit_agent(model, unit, "idle", "")?;
            }
            woken.remove(unit);
            Ok::<_, StoreError>(woken)
        })?;
        if app_gone {
            // What deploy kept on disk for it: the charm and the attached resources.
            let _ = std::fs::remove_dir_all(self.home.charm_dir(&ctx.model_uuid, &app));
            let _ = std::fs::remove_dir_all(self.home.resources_dir(&ctx.model_uuid, &app));
        }
        if let Some(a) = &ctx.action {
            let _ = self.tasks_done.send((model.to_string(), a.id));
        }
        for u in woken {
            self.kick(model, &u);
        }
        Ok(())
    }

    /// An action that could not run to its end (its charm panicked or is missing): its
    /// task is failed with the reason, the event leaves the queue, and nothing it buffered
    /// is kept; the unit does not go into error (as for an action that returned an error).
    fn fail_action(&self, model: &str, unit: &str, picked: &Picked, error: &str) -> Result<(), StoreError> {
        let id = picked.action.as_ref().map(|a| a.id);
        let entity = format!("unit-{}", unit.replace('/', "-"));
        self.store.write(|tx| {
            tx.log(model, &entity, "ERROR", &format!("action {:?} failed: {error}", picked.event.hook_name()))?;
            tx.finish_event(picked.seq)?;
            if let Some(id) = id {
                tx.finish_task(model, id, "failed", &serde_json::Map::new(), error, &[])?;
            }
            if !tx.has_events(model, unit)? && tx.unit(model, unit)?.is_some() {
                tx.set_unit_agent(model, unit, "idle", "")?;
            }
            Ok::<_, StoreError>(())
        })?;
        if let Some(id) = id {
            let _ = self.tasks_done.send((model.to_string(), id));
        }
        Ok(())
    }

    fn fail_hook(&self, model: &str, picked: &Picked, error: &str) -> Result<(), StoreError> {
        let hook = picked.event.hook_name();
        let unit = &picked.unit.name;
        let retry_at = now_ms() + backoff(picked.unit.retries).as_millis() as i64;
        let entity = format!("unit-{}", unit.replace('/', "-"));
        self.store.write(|tx| {
            tx.log(model, &entity, "ERROR", &format!("hook {hook:?} failed: {error}"))?;
            tx.set_unit_error(model, unit, Some(&hook), Some(retry_at))?;
            tx.set_unit_agent(model, unit, "idle", "")?;
            Ok::<_, StoreError>(())
        })
    }
}

/// The secret timer (see [`secret_timer`]): one task per controller, stopped with the workers.
impl Engine {
    /// The controller's secret timer (stopped with the workers).
    fn start_secret_timer(self: &Arc<Self>) {
        let engine = self.clone();
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(secret_timer::TICK).await;
                // A read first: the writer is taken only when something fell due.
                let due = engine.store.read(|tx| tx.due_secret_timers(secret_timer::now_ms())).map(|d| !d.is_empty()).unwrap_or(false);
                if !due {
                    continue;
                }
                match engine.store.write(secret_timer::fire_due) {
                    Ok(woken) => {
                        for (model, unit) in woken {
                            engine.kick(&model, &unit);
                        }
                    }
                    Err(e) => tracing::error!("secret timer: {e}"),
                }
            }
        });
        *self.secret_timer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }
}

trait TakeForCtx {
    fn take_for_ctx(&self) -> Option<ActionState>;
}

impl TakeForCtx for Option<ActionState> {
    fn take_for_ctx(&self) -> Option<ActionState> {
        self.as_ref().map(|a| ActionState { id: a.id, params: a.params.clone(), ..Default::default() })
    }
}

#[cfg(test)]
mod tests;
