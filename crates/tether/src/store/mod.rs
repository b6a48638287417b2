//! The model store: the single source of truth for intent.
//!
//! One SQLite database in WAL mode holds models, applications, units, relations and
//! their databags, secrets, the per-unit hook queues, tasks, logs and the audit trail.
//! Every change goes through [`Store::write`], one transaction per call, so a hook's
//! effects and the events they cause land together or not at all. Values that may
//! carry credentials are sealed (encrypted) by [`seal::Sealer`] before they are stored.
//!
//! The schema is a list of numbered migrations (`schema`, `rusqlite_migration`,
//! version in SQLite's `user_version`): a store is brought up to the latest on open, in
//! one transaction. A change to the schema is a new migration at the end, never an edit
//! of an old one.

mod app_bags;
mod apps;
mod error;
mod logs;
mod queue;
mod relations;
mod schema;
pub mod seal;
mod secret_timers;
mod secrets;
mod tasks;
mod tx;

pub use app_bags::AppBag;
pub use apps::{AppRow, ModelRow, UnitRow};
pub use error::{StoreError, StoreResult};
pub use logs::AuditEntry;
pub use relations::{RelEndpoint, RelationRow};
pub use secret_timers::{Due, SecretTiming};
pub use secrets::{new_secret_id, secret_id_from_uri, SecretOwner, SecretRow};
pub use tasks::{OperationRow, TaskRow};
pub use tx::{now, Tx};

use rusqlite::Connection;
use schema::{adopt_unnumbered, migrations};
use seal::Sealer;
use std::path::Path;
use std::sync::Mutex;

pub struct Store {
    /// The one writer (SQLite allows one write transaction at a time anyway).
    conn: Mutex<Connection>,
    /// Idle read-only connections: in WAL mode readers see the last commit without
    /// waiting for the writer, so a large `status` never holds up hook commits.
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
    sealer: Sealer,
}

/// Read connections kept open at most (more are opened while needed, then closed).
const IDLE_READERS: usize = 4;

impl Store {
    /// Opens (creating if needed) the store at `path` with the key at `key_path`.
    pub fn open(path: &Path, key_path: &Path) -> StoreResult<Store> {
        let sealer = Sealer::load_or_create(key_path)?;
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        adopt_unnumbered(&mut conn)?;
        migrations().to_latest(&mut conn)?;
        Ok(Store { conn: Mutex::new(conn), readers: Mutex::new(Vec::new()), path: path.to_path_buf(), sealer })
    }

    fn open_reader(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }

    /// Runs `f` in one transaction; commits when it returns `Ok`, rolls back otherwise.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let wrapped = Tx { tx: &tx, sealer: &self.sealer };
        let out = f(&wrapped)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Runs `f` in a read transaction on a reader connection: it sees everything
    /// committed before it began, and neither waits for nor holds up the writer.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = {
            let tx = conn.transaction().map_err(StoreError::from)?;
            let wrapped = Tx { tx: &tx, sealer: &self.sealer };
            f(&wrapped)
        };
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() < IDLE_READERS {
            readers.push(conn);
        }
        out
    }
}

#[cfg(test)]
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db"), &dir.path().join("k")).unwrap();
    (dir, store)
}

#[cfg(test)]
mod tests {
    use super::{temp_store, StoreError};

    /// `units` as the first builds made it (no `queued`).
    const OLD_UNITS: &str = "CREATE TABLE units(model TEXT NOT NULL, name TEXT NOT NULL, app TEXT NOT NULL, \
        number INTEGER NOT NULL, leader INTEGER NOT NULL DEFAULT 0, principal TEXT, workload TEXT NOT NULL DEFAULT 'waiting', \
        message TEXT NOT NULL DEFAULT '', since TEXT NOT NULL, agent TEXT NOT NULL DEFAULT 'allocating', \
        agent_message TEXT NOT NULL DEFAULT '', error_hook TEXT, retry_at INTEGER, retries INTEGER NOT NULL DEFAULT 0, \
        life TEXT NOT NULL DEFAULT 'alive', state TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(model, name));";

    #[test]
    fn status_history_is_kept_by_the_store_and_capped_per_entity() {
        let (_d, s) = temp_store();
        s.write(|tx| {
            tx.tx.execute("INSERT INTO units(model, name, app, number, since) VALUES('m', 'a/0', 'a', 0, '')", [])?;
            for i in 0..150 {
                tx.tx.execute("UPDATE units SET workload = 'active', message = ?1 WHERE name = 'a/0'", [format!("step {i}")])?;
            }
            // An unchanged status adds nothing.
            tx.tx.execute("UPDATE units SET workload = 'active', message = 'step 149' WHERE name = 'a/0'", [])?;
            tx.tx.execute("UPDATE units SET agent = 'idle' WHERE name = 'a/0'", [])?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let all = s.read(|tx| tx.status_history("m", "a/0", &["workload", "juju-unit"], None, None)).unwrap();
        assert_eq!(all.len(), 100);
        assert_eq!(all.last().map(|e| (e.kind.as_str(), e.status.as_str())), Some(("juju-unit", "idle")));
        assert_eq!(all[all.len() - 2].message, "step 149");
        let workload = s.read(|tx| tx.status_history("m", "a/0", &["workload"], None, Some(3))).unwrap();
        assert_eq!(workload.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["step 147", "step 148", "step 149"]);
        s.write(|tx| Ok::<_, StoreError>(tx.tx.execute("DELETE FROM units WHERE name = 'a/0'", [])?)).unwrap();
        assert!(s.read(|tx| tx.status_history("m", "a/0", &["workload"], None, None)).unwrap().is_empty());
    }

    #[test]
    fn a_store_from_before_the_queue_count_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let old = rusqlite::Connection::open(&path).unwrap();
            old.execute_batch(&format!(
                "{OLD_UNITS} CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, unit TEXT NOT NULL, \
                 event TEXT NOT NULL, running INTEGER NOT NULL DEFAULT 0, relation_id INTEGER); \
                 INSERT INTO units(model, name, app, number, since) VALUES('m', 'a/0', 'a', 0, ''); \
                 INSERT INTO events(model, unit, event) VALUES('m', 'a/0', '{{}}'), ('m', 'a/0', '{{}}');",
            ))
            .unwrap();
        }
        let s = super::Store::open(&path, &dir.path().join("k")).unwrap();
        let n: i64 = s.read(|tx| Ok::<_, StoreError>(tx.tx.query_row("SELECT queued FROM units", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 2);
        drop(s);
        assert_eq!(
            indexes_and_triggers(schema(&path)),
            indexes_and_triggers(fresh_schema()),
            "the relation index is created where missing"
        );
    }

    #[test]
    fn a_store_from_before_event_relations_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let old = rusqlite::Connection::open(&path).unwrap();
            old.execute_batch(&format!(
                "{OLD_UNITS} CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, unit TEXT NOT NULL, \
                 event TEXT NOT NULL, running INTEGER NOT NULL DEFAULT 0); \
                 INSERT INTO units(model, name, app, number, since) VALUES('m', 'a/0', 'a', 0, ''); \
                 INSERT INTO events(model, unit, event) VALUES('m', 'a/0', '{{\"kind\":\"install\"}}'), \
                 ('m', 'a/0', '{{\"kind\":\"relation-changed\",\"relation\":[7,\"database\"]}}');",
            ))
            .unwrap();
        }
        let s = super::Store::open(&path, &dir.path().join("k")).unwrap();
        let ids: Vec<Option<i64>> = s
            .read(|tx| {
                let mut q = tx.tx.prepare("SELECT relation_id FROM events ORDER BY seq")?;
                let rows = q.query_map([], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
                Ok::<_, StoreError>(rows)
            })
            .unwrap();
        assert_eq!(ids, [None, Some(7)]);
        let n: i64 = s.read(|tx| Ok::<_, StoreError>(tx.tx.query_row("SELECT queued FROM units", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 2, "and the queue count is migrated after it");
        drop(s);
        assert_eq!(indexes_and_triggers(schema(&path)), indexes_and_triggers(fresh_schema()));
    }

    /// What a store's schema is made of: each table's columns, the indexes and the
    /// triggers (not their text: a column added later reads differently from one created
    /// with the table), and its version.
    fn schema(path: &std::path::Path) -> (Vec<String>, i64) {
        let c = rusqlite::Connection::open(path).unwrap();
        let mut q = c
            .prepare(
                "SELECT m.type || ' ' || m.name || ' ' || COALESCE((SELECT group_concat(p.name || ':' || p.type || ':' || p.\"notnull\" \
                 || ':' || COALESCE(p.dflt_value, ''), ',') FROM pragma_table_info(m.name) p), '') \
                 FROM sqlite_master m WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.type, m.name",
            )
            .unwrap();
        let objects = q.query_map([], |r| r.get(0)).unwrap().collect::<Result<Vec<String>, _>>().unwrap();
        (objects, c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap())
    }

    /// For the stores above, whose hand-made tables differ from the real ones in defaults.
    fn indexes_and_triggers((objects, _): (Vec<String>, i64)) -> Vec<String> {
        objects.into_iter().filter(|o| !o.starts_with("table ")).collect()
    }

    /// A store opened once by this build: what every migrated store must look like.
    fn fresh_schema() -> (Vec<String>, i64) {
        let dir = tempfile::tempdir().unwrap();
        super::Store::open(&dir.path().join("s.db"), &dir.path().join("k")).unwrap();
        schema(&dir.path().join("s.db"))
    }

    #[test]
    fn opening_an_up_to_date_store_again_changes_nothing() {
        let (dir, s) = temp_store();
        s.write(|tx| tx.set_meta("k", "v")).unwrap();
        drop(s);
        let path = dir.path().join("s.db");
        let before = schema(&path);
        assert_eq!(before.1, super::schema::MIGRATIONS.len() as i64);
        for _ in 0..2 {
            let s = super::Store::open(&path, &dir.path().join("k")).unwrap();
            assert_eq!(s.read(|tx| tx.meta("k")).unwrap().as_deref(), Some("v"));
            drop(s);
            assert_eq!(schema(&path), before);
        }
    }

    #[test]
    fn a_store_at_each_older_version_is_migrated() {
        let fresh = fresh_schema();
        for version in 0..super::schema::MIGRATIONS.len() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.db");
            {
                let mut old = rusqlite::Connection::open(&path).unwrap();
                super::migrations().to_version(&mut old, version).unwrap();
                // A queued relation event, as the build at that version wrote it.
                let event = match version {
                    0 => "",
                    1 => "INSERT INTO events(model, unit, event) VALUES('m', 'a/0', '{\"relation\":[3,\"db\"]}');",
                    _ => "INSERT INTO events(model, unit, event, relation_id) VALUES('m', 'a/0', '{\"relation\":[3,\"db\"]}', 3);",
                };
                if version >= 1 {
                    old.execute_batch(&format!(
                        "INSERT INTO units(model, name, app, number, since) VALUES('m', 'a/0', 'a', 0, ''); {event}"
                    ))
                    .unwrap();
                }
            }
            let s = super::Store::open(&path, &dir.path().join("k")).unwrap();
            if version >= 1 {
                let (rel, queued): (Option<i64>, i64) = s
                    .read(|tx| {
                        Ok::<_, StoreError>(
                            tx.tx.query_row("SELECT e.relation_id, u.queued FROM events e, units u", [], |r| Ok((r.get(0)?, r.get(1)?)))?,
                        )
                    })
                    .unwrap();
                assert_eq!((rel, queued), (Some(3), 1), "from version {version}");
            }
            drop(s);
            assert_eq!(schema(&path), fresh, "from version {version}");
        }
    }

    /// Builds before numbered migrations left `user_version` at 0 whatever columns they
    /// had added: a store made by the last of them has every column of migration 3 (the
    /// last one they knew), must not be migrated again up to there, and gets the later
    /// migrations.
    #[test]
    fn an_unnumbered_store_with_every_column_is_adopted_as_up_to_date() {
        let fresh = fresh_schema();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let mut old = rusqlite::Connection::open(&path).unwrap();
            super::migrations().to_version(&mut old, 3).unwrap();
            old.execute_batch(
                "PRAGMA user_version = 0; \
                 INSERT INTO units(model, name, app, number, since) VALUES('m', 'a/0', 'a', 0, ''); \
                 INSERT INTO events(model, unit, event, relation_id) VALUES('m', 'a/0', '{}', 5);",
            )
            .unwrap();
        }
        let s = super::Store::open(&path, &dir.path().join("k")).unwrap();
        let n: i64 = s.read(|tx| Ok::<_, StoreError>(tx.tx.query_row("SELECT queued FROM units", [], |r| r.get(0))?)).unwrap();
        assert_eq!(n, 1);
        drop(s);
        assert_eq!(schema(&path), fresh);
    }

    #[test]
    fn reads_see_commits_and_cannot_write() {
        let (_d, s) = temp_store();
        s.write(|tx| tx.set_meta("k", "v1")).unwrap();
        assert_eq!(s.read(|tx| tx.meta("k")).unwrap().as_deref(), Some("v1"));
        s.write(|tx| tx.set_meta("k", "v2")).unwrap();
        assert_eq!(s.read(|tx| tx.meta("k")).unwrap().as_deref(), Some("v2"));
        let refused: Result<(), StoreError> = s.read(|tx| tx.set_meta("k", "v3"));
        assert!(refused.is_err(), "a read transaction wrote");
        assert_eq!(s.read(|tx| tx.meta("k")).unwrap().as_deref(), Some("v2"));
    }
}
