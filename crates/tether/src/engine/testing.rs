//! The world the engine's unit tests run in, built once here so that the
//! read-your-writes tests of `context.rs` and the commit, failure and lane tests of
//! `tests.rs` share it: a store and a home in one temp dir, holding a model with a
//! provider application `prov` (one leader unit, `prov/0`, endpoint `db`) related to
//! requirer applications `req0`, `req1`, … (relation `n` to `reqn`, which has no units,
//! so a commit wakes no other worker), and a [`CharmSource`] that hands the charm under
//! test to every application.

use super::charm::{Charm, CharmSource};
use super::context::{Bag, HookContext};
use super::Engine;
use crate::paths::Home;
use crate::store::{AppRow, RelEndpoint, RelationRow, Store, StoreError, UnitRow};
use std::sync::Arc;
use std::time::Duration;
use tether_core::charm_meta::{CharmMeta, CharmOrigin, Role, Scope};
use tether_core::events::{Event, HookKind};
use tether_core::life::Life;

pub const MODEL: &str = "m";
pub const APP: &str = "prov";
pub const UNIT: &str = "prov/0";
pub const ENDPOINT: &str = "db";
/// Relations `0..RELATIONS` exist, relation `n` to application `reqn`.
pub const RELATIONS: i64 = 3;
/// The longest any test waits for the engine; a broken engine fails, never hangs.
pub const WAIT: Duration = Duration::from_secs(10);

/// The provider's metadata (its application row and the test charms say the same).
pub fn meta() -> CharmMeta {
    let metadata = format!("name: {APP}\nprovides:\n  {ENDPOINT}:\n    interface: test\n");
    CharmMeta::from_yaml(&metadata, None, None).expect("valid metadata")
}

/// A bag from pairs.
pub fn bag(pairs: &[(&str, &str)]) -> Bag {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A hook of relation `rel` on the provider's endpoint, from the requirer's unit.
pub fn relation_event(kind: HookKind, rel: i64) -> Event {
    Event::relation(kind, rel, ENDPOINT, &format!("req{rel}"), Some(&format!("req{rel}/0")))
}

pub struct World {
    pub store: Arc<Store>,
    pub home: Home,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let (dir, store) = crate::store::temp_store();
        store
            .write(|tx| {
                tx.create_model(MODEL, "uuid-m")?;
                tx.create_app(MODEL, &AppRow::for_test(APP, meta()))?;
                tx.create_unit(MODEL, APP, 0, true, None)?;
                for id in 0..RELATIONS {
                    let remote = format!("req{id}");
                    tx.create_relation(
                        MODEL,
                        &RelationRow {
                            id,
                            key: format!("{APP}:{ENDPOINT} {remote}:{ENDPOINT}"),
                            interface: "test".into(),
                            scope: Scope::Global,
                            life: Life::Alive,
                            endpoints: vec![
                                RelEndpoint { app: APP.into(), endpoint: ENDPOINT.into(), role: Role::Provider },
                                RelEndpoint { app: remote, endpoint: ENDPOINT.into(), role: Role::Requirer },
                            ],
                        },
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let home = Home::at(dir.path());
        World { store: Arc::new(store), home, _dir: dir }
    }

    /// The provider unit as committed.
    pub fn unit(&self) -> UnitRow {
        self.store.read(|tx| tx.unit(MODEL, UNIT)).unwrap().expect("the unit exists")
    }

    /// A committed databag of a relation.
    pub fn databag(&self, rel: i64, owner: &str) -> Bag {
        self.store.read(|tx| tx.databag(MODEL, rel, owner)).unwrap()
    }

    /// The provider unit's queue, as `(seq, hook name)`.
    pub fn queue(&self) -> Vec<(i64, String)> {
        let q = self.store.read(|tx| tx.queued(MODEL, UNIT)).unwrap();
        q.into_iter().map(|q| (q.seq, q.event.hook_name())).collect()
    }

    /// Appends events to the provider unit's queue, all in one transaction.
    pub fn enqueue(&self, events: &[Event]) {
        self.store.write(|tx| tx.enqueue_all(MODEL, UNIT, events)).unwrap();
    }

    /// A context for `event` on the provider unit, from committed state, as the engine
    /// opens one.
    pub fn context(&self, event: Event) -> HookContext {
        let u = self.unit();
        HookContext::new(
            self.store.clone(),
            self.home.clone(),
            MODEL.into(),
            "uuid-m".into(),
            UNIT.into(),
            u.leader,
            Default::default(),
            event,
            u.state,
        )
    }

    /// An engine on this world whose every application runs `charm`.
    pub fn engine(&self, charm: Arc<dyn Charm>) -> Arc<Engine> {
        Engine::new(self.store.clone(), self.home.clone(), Arc::new(Source(charm)))
    }
}

/// Hands the same charm to every application.
struct Source(Arc<dyn Charm>);

impl CharmSource for Source {
    fn charm_for(&self, _charm: &str, _origin: CharmOrigin, _meta: &CharmMeta) -> Option<Arc<dyn Charm>> {
        Some(self.0.clone())
    }
}

/// Polls `probe` until it gives a value; panics (naming `what`) after [`WAIT`].
pub async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let poll = async {
        loop {
            if let Some(v) = probe() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, poll).await.unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}
