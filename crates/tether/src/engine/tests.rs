//! The engine's hook-commit rules, shown on a real [`Engine`] over a store in a temp
//! dir with small test charms (test doubles of a *charm*; the store is real): what a
//! successful hook commits and what a failed one discards, how a failed hook is retried,
//! how a failed action ends, and how hooks of different relations run in lanes. The
//! end-to-end tests exercise the same rules only through whole charms and the CLI.

use super::charm::Charm;
use super::testing::{bag, meta, relation_event, wait_for, World, APP, ENDPOINT, MODEL, UNIT, WAIT};
use super::{backoff, now_ms};
use crate::store::StoreError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tether_core::charm_meta::CharmMeta;
use tether_core::events::{Event, HookKind};

#[test]
fn backoff_doubles_to_five_minutes() {
    assert_eq!(backoff(0), Duration::from_secs(5));
    assert_eq!(backoff(1), Duration::from_secs(10));
    assert_eq!(backoff(10), Duration::from_secs(300));
}

// ---- what a commit applies and what a failure discards ----

/// In every hook: writes both bags of relation 0, sets a unit-state key, records an
/// audit entry, logs a line and sets an action result; then fails while `fail` is set.
#[derive(Default)]
struct Writer {
    fail: AtomicBool,
    runs: AtomicUsize,
}

#[async_trait::async_trait]
impl Charm for Writer {
    fn meta(&self) -> CharmMeta {
        meta()
    }

    async fn handle(&self, ctx: &mut super::HookContext, event: &Event) -> anyhow::Result<()> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        let hook = event.hook_name();
        ctx.relation_set_unit(0, &bag(&[("endpoint", "10.0.0.1:5432")]))?;
        ctx.relation_set_app(0, &bag(&[("user", "relation-0")]))?;
        ctx.state_set("last-hook", &hook);
        ctx.audit("issued", "db:0", "relation-0", "");
        ctx.action_set("user", "relation-0".into());
        ctx.log("INFO", &format!("writer ran {hook} (run {run})"));
        anyhow::ensure!(!self.fail.load(Ordering::SeqCst), "boom in {hook}");
        Ok(())
    }
}

/// A world whose engine runs a [`Writer`] that fails (or not) from the start.
fn with_writer(fail: bool) -> (World, Arc<Writer>, Arc<super::Engine>) {
    let w = World::new();
    let charm = Arc::new(Writer { fail: AtomicBool::new(fail), ..Default::default() });
    let engine = w.engine(charm.clone());
    (w, charm, engine)
}

/// What [`Writer`] buffers, as committed: the unit bag, the app bag, the state key,
/// the number of audit entries.
type Written = (crate::engine::context::Bag, crate::engine::context::Bag, Option<String>, usize);

fn written(w: &World) -> Written {
    w.store
        .read(|tx| {
            let state = tx.unit(MODEL, UNIT)?.and_then(|u| u.state.get("last-hook").cloned());
            Ok::<_, StoreError>((tx.databag(MODEL, 0, UNIT)?, tx.databag(MODEL, 0, APP)?, state, tx.audit_entries(Some(MODEL))?.len()))
        })
        .unwrap()
}

fn nothing_written() -> Written {
    (bag(&[]), bag(&[]), None, 0)
}

fn logs(w: &World) -> Vec<String> {
    let (records, _) = w.store.read(|tx| tx.log_records(MODEL, &Default::default(), None, None)).unwrap();
    records.into_iter().map(|r| format!("{}: {} {}", r.entity, r.level, r.message)).collect()
}

fn logged(w: &World, needle: &str) -> bool {
    logs(w).iter().any(|l| l.contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_succeeds_commits_its_writes_with_the_removal_of_its_event_in_one_transaction() {
    let (w, charm, engine) = with_writer(false);
    w.enqueue(&[Event::simple(HookKind::ConfigChanged)]);
    engine.kick(MODEL, UNIT);
    // Every snapshot the engine lets a reader see is before (event queued, nothing
    // written) or after (event gone, everything written): never a mix.
    let after = wait_for("config-changed to be committed", || {
        let (queued, written) = w
            .store
            .read(|tx| {
                let state = tx.unit(MODEL, UNIT)?.and_then(|u| u.state.get("last-hook").cloned());
                let snapshot = (tx.databag(MODEL, 0, UNIT)?, tx.databag(MODEL, 0, APP)?, state, tx.audit_entries(Some(MODEL))?.len());
                Ok::<_, StoreError>((tx.has_events(MODEL, UNIT)?, snapshot))
            })
            .unwrap();
        match queued {
            true => {
                assert_eq!(written, nothing_written(), "writes visible while the event is still queued");
                None
            }
            false => Some(written),
        }
    })
    .await;
    let want: Written = (bag(&[("endpoint", "10.0.0.1:5432")]), bag(&[("user", "relation-0")]), Some("config-changed".into()), 1);
    assert_eq!(after, want, "the event left the queue without the hook's writes");
    assert!(logged(&w, "writer ran config-changed (run 1)"), "{:#?}", logs(&w));
    assert!(logged(&w, "DEBUG ran \"config-changed\" hook in"), "{:#?}", logs(&w));
    let u = w.unit();
    assert_eq!((u.error_hook, u.retry_at, u.agent.as_str()), (None, None, "idle"));
    assert_eq!(charm.runs.load(Ordering::SeqCst), 1);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_fails_keeps_none_of_its_writes_stays_at_the_head_and_runs_again_on_resolve() {
    let (w, charm, engine) = with_writer(true);
    w.enqueue(&[Event::simple(HookKind::ConfigChanged), Event::simple(HookKind::Start)]);
    let queued = w.queue();
    let started = now_ms();
    engine.kick(MODEL, UNIT);
    let u = wait_for("the unit to be in error", || Some(w.unit()).filter(|u| u.error_hook.is_some())).await;
    let failed = now_ms();

    // `status` shows this as `error` / `hook failed: "config-changed"` (from error_hook).
    assert_eq!(u.error_hook.as_deref(), Some("config-changed"));
    assert_eq!((u.retries, u.agent.as_str()), (1, "idle"));
    let first_backoff = backoff(0).as_millis() as i64;
    let retry_at = u.retry_at.expect("an automatic retry is scheduled");
    assert!((started + first_backoff..=failed + first_backoff).contains(&retry_at), "retry at {retry_at}, failed at {failed}");
    assert_eq!(w.queue(), queued, "the failed event stays at the head, with what follows it behind");
    assert_eq!(written(&w), nothing_written(), "a failed hook's writes were committed");
    assert!(logged(&w, "writer ran config-changed (run 1)"), "log lines are immediate, failure or not");
    assert!(logged(&w, "ERROR hook \"config-changed\" failed: boom in config-changed"), "{:#?}", logs(&w));
    assert_eq!(charm.runs.load(Ordering::SeqCst), 1, "nothing behind a failed hook runs");

    // `resolve`: the charm is fixed, the retry time cleared, the worker woken.
    charm.fail.store(false, Ordering::SeqCst);
    w.store.write(|tx| tx.set_unit_retry_now(MODEL, UNIT)).unwrap();
    engine.kick(MODEL, UNIT);
    wait_for("the queue to drain after resolve", || w.queue().is_empty().then_some(())).await;
    assert!(now_ms() < retry_at, "the hook ran again because of resolve, not the automatic retry");
    assert!(logged(&w, "writer ran config-changed (run 2)"), "the failed hook runs again first: {:#?}", logs(&w));
    assert_eq!(charm.runs.load(Ordering::SeqCst), 3, "config-changed twice, then start");
    let u = w.unit();
    assert_eq!((u.error_hook, u.retry_at, u.retries), (None, None, 0), "a success clears the error");
    let (unit_bag, app_bag, state, audits) = written(&w);
    assert_eq!((unit_bag.len(), app_bag.len(), state.as_deref(), audits), (1, 1, Some("start"), 2), "both successful runs committed");
    engine.shutdown().await;
}

/// Queues the action `rotate` on the unit, runs it and waits until its task is reported
/// finished; returns the task id.
async fn run_rotate_to_its_end(w: &World, engine: &Arc<super::Engine>) -> i64 {
    let mut done = engine.task_events();
    let task = w
        .store
        .write(|tx| {
            let id = tx.next_task_id(MODEL)?;
            tx.create_task(MODEL, id, None, UNIT, "rotate", &Default::default())?;
            tx.enqueue(MODEL, UNIT, &Event::action(id, "rotate"))?;
            Ok::<_, StoreError>(id)
        })
        .unwrap();
    engine.kick(MODEL, UNIT);
    let finished = tokio::time::timeout(WAIT, done.recv()).await.expect("the task to finish").unwrap();
    assert_eq!(finished, (MODEL.to_string(), task));
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_action_is_committed_as_a_failed_task_with_nothing_else_it_buffered() {
    let (w, _, engine) = with_writer(true);
    let task = run_rotate_to_its_end(&w, &engine).await;

    let t = w.store.read(|tx| tx.task(MODEL, task)).unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.message.as_str()), ("failed", "boom in rotate"));
    // What the action reported with action-set before failing stays on the task, as in Juju.
    assert_eq!(t.results.get("user"), Some(&"relation-0".into()));
    assert_eq!(written(&w), nothing_written(), "a failed action's other writes were committed");
    assert!(w.queue().is_empty(), "the action left the queue with its task's result");
    let u = w.unit();
    assert_eq!((u.error_hook, u.agent.as_str()), (None, "idle"), "a failed action does not put the unit in error");
    assert!(logged(&w, "writer ran rotate (run 1)"));
    engine.shutdown().await;
}

/// A charm whose every hook panics.
struct Panics;

#[async_trait::async_trait]
impl Charm for Panics {
    fn meta(&self) -> CharmMeta {
        meta()
    }

    async fn handle(&self, _ctx: &mut super::HookContext, event: &Event) -> anyhow::Result<()> {
        panic!("charm bug in {}", event.hook_name())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_whose_charm_panics_ends_as_a_failed_task_and_does_not_run_again() {
    let w = World::new();
    let engine = w.engine(Arc::new(Panics));
    let task = run_rotate_to_its_end(&w, &engine).await;
    let t = w.store.read(|tx| tx.task(MODEL, task)).unwrap().unwrap();
    assert_eq!(t.status, "failed");
    assert!(t.message.contains("charm bug in rotate"), "{}", t.message);
    assert!(w.queue().is_empty(), "the action left the queue");
    let u = w.unit();
    assert_eq!((u.error_hook, u.agent.as_str()), (None, "idle"), "a failed action does not put the unit in error");
    engine.shutdown().await;
}

// ---- lanes: hooks of different relations side by side ----

/// How long a lane hook waits at the barrier for its partner before it fails.
const MEET: Duration = Duration::from_secs(3);

/// Lets every `db` relation hook run beside other relations' hooks; notes each hook's
/// start and end (as `<relation>:<hook>` or `<hook>`) in a journal, sets a state key
/// per hook, and makes the hooks named in `meet` wait for each other at a barrier (on
/// their first run: a retry runs alone); the
/// hook named in `failing` fails right after the barrier.
struct Lanes {
    journal: Mutex<Vec<String>>,
    meet: Vec<&'static str>,
    failing: Mutex<Option<&'static str>>,
    barrier: tokio::sync::Barrier,
    pause: Duration,
}

impl Lanes {
    fn new(meet: Vec<&'static str>, pause: Duration) -> Arc<Lanes> {
        let barrier = tokio::sync::Barrier::new(meet.len().max(1));
        Arc::new(Lanes { journal: Mutex::default(), meet, failing: Mutex::default(), barrier, pause })
    }

    fn note(&self, what: String) {
        self.journal.lock().unwrap().push(what);
    }

    fn journal(&self) -> Vec<String> {
        self.journal.lock().unwrap().clone()
    }
}

fn label(event: &Event) -> String {
    match &event.relation {
        Some((rel, _)) => format!("{rel}:{}", event.hook_name()),
        None => event.hook_name(),
    }
}

#[async_trait::async_trait]
impl Charm for Lanes {
    fn meta(&self) -> CharmMeta {
        meta()
    }

    fn runs_beside_other_relations(&self, event: &Event) -> bool {
        event.relation.as_ref().is_some_and(|(_, endpoint)| endpoint == ENDPOINT)
    }

    async fn handle(&self, ctx: &mut super::HookContext, event: &Event) -> anyhow::Result<()> {
        let me = label(event);
        let first_run = !self.journal().contains(&format!("start {me}"));
        self.note(format!("start {me}"));
        if first_run && self.meet.contains(&me.as_str()) {
            tokio::time::timeout(MEET, self.barrier.wait()).await.map_err(|_| anyhow::anyhow!("{me} waited alone at the barrier"))?;
        }
        if *self.failing.lock().unwrap() == Some(me.as_str()) {
            self.note(format!("fail {me}"));
            anyhow::bail!("{me} failed");
        }
        tokio::time::sleep(self.pause).await;
        ctx.state_set(&format!("ran {me}"), "yes");
        self.note(format!("end {me}"));
        Ok(())
    }
}

/// A world whose engine runs `charm`, with `events` queued in one transaction and the
/// unit's worker started.
fn start_lanes(charm: &Arc<Lanes>, events: &[Event]) -> (World, Arc<super::Engine>) {
    let w = World::new();
    let engine = w.engine(charm.clone());
    w.enqueue(events);
    engine.kick(MODEL, UNIT);
    (w, engine)
}

async fn drained(w: &World) {
    wait_for("the queue to drain", || w.queue().is_empty().then_some(())).await;
}

/// Runs `events` with a [`Lanes`] charm (hooks in `meet` wait for each other, every
/// hook takes `pause`) until the queue is empty and checks that no hook failed; returns
/// the world and the charm's journal.
async fn run_lanes(meet: Vec<&'static str>, pause: Duration, events: &[Event]) -> (World, Vec<String>) {
    let charm = Lanes::new(meet, pause);
    let (w, engine) = start_lanes(&charm, events);
    drained(&w).await;
    engine.shutdown().await;
    assert_eq!(w.unit().error_hook, None, "a hook failed: {:#?}", logs(&w));
    (w, charm.journal())
}

fn changed(rel: i64) -> Event {
    relation_event(HookKind::RelationChanged, rel)
}

/// Where `entry` is in the journal.
fn at(journal: &[String], entry: &str) -> usize {
    journal.iter().position(|e| e == entry).unwrap_or_else(|| panic!("{entry:?} not in {journal:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_of_different_relations_run_side_by_side_and_each_commits() {
    // Each waits at a barrier for the other: run one after the other, both would fail.
    let meet = vec!["0:db-relation-changed", "1:db-relation-changed"];
    let (w, j) = run_lanes(meet, Duration::ZERO, &[changed(0), changed(1)]).await;
    assert!(at(&j, "start 1:db-relation-changed") < at(&j, "end 0:db-relation-changed"), "{j:#?}");
    // Committed separately, and neither lost the other's state key.
    let state = w.unit().state;
    assert!(state.contains_key("ran 0:db-relation-changed") && state.contains_key("ran 1:db-relation-changed"), "{state:?}");
    assert!(logged(&w, "ran 2 hooks of different relations side by side"), "{:#?}", logs(&w));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_of_one_relation_never_overlap_and_keep_queue_order() {
    // The first hooks of relations 0 and 1 meet, so the lanes surely overlap; the pause
    // gives a second hook of a relation time to start too early if the engine let it.
    let meet = vec!["0:db-relation-created", "1:db-relation-joined"];
    let events = [
        relation_event(HookKind::RelationCreated, 0),
        relation_event(HookKind::RelationJoined, 0),
        relation_event(HookKind::RelationJoined, 1),
        changed(0),
        changed(1),
    ];
    let (_, j) = run_lanes(meet, Duration::from_millis(50), &events).await;
    for (rel, hooks) in [(0, &["created", "joined", "changed"][..]), (1, &["joined", "changed"][..])] {
        let prefix = format!("{rel}:");
        let of_rel: Vec<&str> =
            j.iter().map(String::as_str).filter(|e| e.split_once(' ').is_some_and(|(_, l)| l.starts_with(&prefix))).collect();
        let want: Vec<String> = hooks.iter().flat_map(|h| ["start", "end"].map(|s| format!("{s} {rel}:db-relation-{h}"))).collect();
        assert_eq!(of_rel, want, "relation {rel}'s hooks overlapped or reordered: {j:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_must_run_alone_waits_for_the_lanes_before_it_and_holds_back_those_after_it() {
    let meet = vec!["0:db-relation-changed", "1:db-relation-changed"];
    let events = [changed(0), changed(1), Event::simple(HookKind::UpdateStatus), changed(2)];
    let (_, j) = run_lanes(meet, Duration::from_millis(20), &events).await;
    let alone = at(&j, "start update-status");
    assert!(at(&j, "end 0:db-relation-changed") < alone && at(&j, "end 1:db-relation-changed") < alone, "{j:#?}");
    assert!(at(&j, "end update-status") < at(&j, "start 2:db-relation-changed"), "a lane started past a hook that runs alone: {j:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_hook_that_fails_goes_to_the_head_of_the_queue_while_the_lanes_beside_it_commit() {
    // 0:joined and 1:changed run side by side; 1:changed fails at once, 0:joined ends
    // later and commits; 0:changed (queued before 1:changed) has not started.
    let charm = Lanes::new(vec!["0:db-relation-joined", "1:db-relation-changed"], Duration::from_millis(200));
    *charm.failing.lock().unwrap() = Some("1:db-relation-changed");
    let (w, engine) = start_lanes(&charm, &[relation_event(HookKind::RelationJoined, 0), changed(0), changed(1)]);
    let u = wait_for("the unit to be in error", || Some(w.unit()).filter(|u| u.error_hook.is_some())).await;
    wait_for("0:joined to commit", || w.queue().iter().all(|(_, hook)| hook != "db-relation-joined").then_some(())).await;
    assert_eq!(u.error_hook.as_deref(), Some("db-relation-changed"));
    let rels: Vec<i64> = w.store.read(|tx| tx.queued(MODEL, UNIT)).unwrap().iter().map(|q| q.event.relation.clone().unwrap().0).collect();
    assert_eq!(rels, [1, 0], "the failed hook is what the unit runs next, ahead of the hook queued before it");
    let state = w.unit().state;
    assert!(state.contains_key("ran 0:db-relation-joined") && !state.contains_key("ran 1:db-relation-changed"), "{state:?}");

    // Resolved: the failed hook runs first (alone), then the rest.
    *charm.failing.lock().unwrap() = None;
    w.store.write(|tx| tx.set_unit_retry_now(MODEL, UNIT)).unwrap();
    engine.kick(MODEL, UNIT);
    drained(&w).await;
    engine.shutdown().await;
    let j = charm.journal();
    let retried = j.iter().rposition(|e| e == "start 1:db-relation-changed").unwrap();
    assert!(at(&j, "fail 1:db-relation-changed") < retried && retried < at(&j, "start 0:db-relation-changed"), "{j:#?}");
    assert_eq!(w.unit().error_hook, None);
}

// ---- shutdown ----

/// Counts its hooks; a hook blocks until `release` is notified, then counts as ended.
#[derive(Default)]
struct Blocking {
    started: AtomicUsize,
    ended: AtomicUsize,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl Charm for Blocking {
    fn meta(&self) -> CharmMeta {
        meta()
    }

    async fn handle(&self, _ctx: &mut super::HookContext, _event: &Event) -> anyhow::Result<()> {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.release.notified().await;
        self.ended.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_hook_finish_and_starts_nothing_after_it() {
    let w = World::new();
    let charm = Arc::new(Blocking::default());
    let engine = w.engine(charm.clone());
    w.enqueue(&[Event::simple(HookKind::ConfigChanged), Event::simple(HookKind::UpdateStatus)]);
    engine.kick(MODEL, UNIT);
    wait_for("the hook to start", || (charm.started.load(Ordering::SeqCst) == 1).then_some(())).await;

    let stopping = tokio::spawn({
        let engine = engine.clone();
        async move { engine.shutdown().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!stopping.is_finished(), "shutdown returned while a hook was still running");
    charm.release.notify_waiters();
    stopping.await.unwrap();
    // The running hook ended and was committed; the one queued behind it did not begin.
    assert_eq!(charm.ended.load(Ordering::SeqCst), 1, "the running hook was cut short");
    assert_eq!(charm.started.load(Ordering::SeqCst), 1, "a queued hook began during shutdown");
    assert!(w.store.read(|tx| tx.has_events(MODEL, UNIT)).unwrap(), "the queued hook stays for the next start");

    // A watcher asking for update-status while the servers stop: queued, not run.
    engine.request_update_status(MODEL, UNIT).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(charm.started.load(Ordering::SeqCst), 1, "a hook started after shutdown");
    let u = w.unit();
    assert_eq!((u.error_hook, u.retry_at), (None, None));
}

#[tokio::test(start_paused = true)]
async fn shutdown_abandons_a_hook_that_outlasts_the_drain() {
    let w = World::new();
    let charm = Arc::new(Blocking::default());
    let engine = w.engine(charm.clone());
    w.enqueue(&[Event::simple(HookKind::ConfigChanged)]);
    engine.kick(MODEL, UNIT);
    wait_for("the hook to start", || (charm.started.load(Ordering::SeqCst) == 1).then_some(())).await;

    // Never released: shutdown returns once the drain is over, with the hook gone.
    engine.shutdown().await;
    charm.release.notify_waiters();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(charm.ended.load(Ordering::SeqCst), 0, "the abandoned hook ran on after shutdown");
    assert!(w.store.read(|tx| tx.has_events(MODEL, UNIT)).unwrap(), "the abandoned hook stays queued for the next start");
    let u = w.unit();
    assert_eq!((u.error_hook, u.retry_at), (None, None));
}
