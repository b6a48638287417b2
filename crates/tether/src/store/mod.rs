//! The model store: the single source of truth for intent.
//!
//! One SQLite database in WAL mode holds models, applications, units, relations and
//! their databags, secrets, the per-unit hook queues, tasks, logs and the audit trail.
//! Every change goes through [`Store::write`], one transaction per call, so a hook's
//! effects and the events they cause land together or not at all. Values that may
//! carry credentials are sealed (encrypted) by [`seal::Sealer`] before they are stored.

mod app_bags;
mod apps;
mod logs;
mod queue;
mod relations;
pub mod seal;
mod secret_timers;
mod secrets;
mod tasks;

pub use app_bags::AppBag;
pub use apps::{AppRow, ModelRow, UnitRow};
pub use logs::AuditEntry;
pub use relations::{RelEndpoint, RelationRow};
pub use secret_timers::{Due, SecretTiming};
pub use secrets::{new_secret_id, secret_id_from_uri, SecretOwner, SecretRow};
pub use tasks::TaskRow;

use rusqlite::{Connection, OptionalExtension};
use seal::Sealer;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    #[error("store holds malformed data in {0}")]
    Corrupt(&'static str),
    #[error("unit {unit} already has {limit} hooks waiting; try again when it has caught up")]
    QueueFull { unit: String, limit: usize },
}

pub type StoreResult<T> = Result<T, StoreError>;

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

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models(
  name TEXT PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
  next_relation_id INTEGER NOT NULL DEFAULT 0, next_task_id INTEGER NOT NULL DEFAULT 1,
  config TEXT NOT NULL DEFAULT '{}', life TEXT NOT NULL DEFAULT 'alive');
CREATE TABLE IF NOT EXISTS applications(
  model TEXT NOT NULL, name TEXT NOT NULL, charm TEXT NOT NULL, meta TEXT NOT NULL,
  origin TEXT NOT NULL, rev INTEGER NOT NULL, config TEXT NOT NULL, next_unit INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'unknown', message TEXT NOT NULL DEFAULT '', since TEXT NOT NULL,
  life TEXT NOT NULL DEFAULT 'alive', PRIMARY KEY(model, name));
CREATE TABLE IF NOT EXISTS units(
  model TEXT NOT NULL, name TEXT NOT NULL, app TEXT NOT NULL, number INTEGER NOT NULL,
  leader INTEGER NOT NULL DEFAULT 0, principal TEXT,
  workload TEXT NOT NULL DEFAULT 'waiting', message TEXT NOT NULL DEFAULT 'waiting for agent', since TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT 'allocating', agent_message TEXT NOT NULL DEFAULT '',
  error_hook TEXT, retry_at INTEGER, retries INTEGER NOT NULL DEFAULT 0,
  life TEXT NOT NULL DEFAULT 'alive', state TEXT NOT NULL DEFAULT '{}', queued INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(model, name));
CREATE TABLE IF NOT EXISTS relations(
  model TEXT NOT NULL, id INTEGER NOT NULL, key TEXT NOT NULL, interface TEXT NOT NULL, scope TEXT NOT NULL,
  life TEXT NOT NULL DEFAULT 'alive', PRIMARY KEY(model, id));
CREATE TABLE IF NOT EXISTS relation_endpoints(
  model TEXT NOT NULL, relation_id INTEGER NOT NULL, app TEXT NOT NULL, endpoint TEXT NOT NULL, role TEXT NOT NULL,
  PRIMARY KEY(model, relation_id, app, endpoint));
CREATE TABLE IF NOT EXISTS databags(
  model TEXT NOT NULL, relation_id INTEGER NOT NULL, owner TEXT NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(model, relation_id, owner));
CREATE TABLE IF NOT EXISTS secrets(
  model TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, label TEXT, description TEXT,
  revision INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY(model, id));
CREATE TABLE IF NOT EXISTS secret_revisions(
  model TEXT NOT NULL, secret_id TEXT NOT NULL, revision INTEGER NOT NULL, content BLOB NOT NULL, created TEXT NOT NULL,
  PRIMARY KEY(model, secret_id, revision));
CREATE TABLE IF NOT EXISTS secret_timers(
  model TEXT NOT NULL, secret_id TEXT NOT NULL, rotate TEXT, next_rotate INTEGER, expire_at INTEGER, expire_rev INTEGER,
  PRIMARY KEY(model, secret_id));
CREATE TABLE IF NOT EXISTS secret_grants(
  model TEXT NOT NULL, secret_id TEXT NOT NULL, relation_id INTEGER NOT NULL, app TEXT NOT NULL,
  PRIMARY KEY(model, secret_id, relation_id, app));
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, unit TEXT NOT NULL, event TEXT NOT NULL,
  running INTEGER NOT NULL DEFAULT 0, relation_id INTEGER);
CREATE INDEX IF NOT EXISTS events_by_unit ON events(model, unit, seq);
CREATE INDEX IF NOT EXISTS events_by_relation ON events(model, relation_id);
CREATE INDEX IF NOT EXISTS events_by_unit_relation ON events(model, unit, relation_id);
CREATE TRIGGER IF NOT EXISTS events_count_in AFTER INSERT ON events BEGIN
  UPDATE units SET queued = queued + 1 WHERE model = NEW.model AND name = NEW.unit;
END;
CREATE TRIGGER IF NOT EXISTS events_count_out AFTER DELETE ON events BEGIN
  UPDATE units SET queued = queued - 1 WHERE model = OLD.model AND name = OLD.unit;
END;
CREATE INDEX IF NOT EXISTS units_by_app ON units(model, app, number);
CREATE INDEX IF NOT EXISTS relations_by_key ON relations(model, key);
CREATE INDEX IF NOT EXISTS relation_endpoints_by_app ON relation_endpoints(model, app, endpoint);
CREATE INDEX IF NOT EXISTS secrets_by_label ON secrets(model, label);
CREATE INDEX IF NOT EXISTS secret_grants_by_relation ON secret_grants(model, relation_id);
CREATE TABLE IF NOT EXISTS tasks(
  model TEXT NOT NULL, id INTEGER NOT NULL, unit TEXT NOT NULL, action TEXT NOT NULL, params BLOB NOT NULL,
  status TEXT NOT NULL, results BLOB, message TEXT NOT NULL DEFAULT '', log TEXT NOT NULL DEFAULT '[]',
  enqueued TEXT NOT NULL, started TEXT, completed TEXT, PRIMARY KEY(model, id));
CREATE TABLE IF NOT EXISTS logs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, ts TEXT NOT NULL, entity TEXT NOT NULL,
  level TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS app_bags(
  model TEXT NOT NULL, app TEXT NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY(model, app, kind));
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, model TEXT NOT NULL, app TEXT NOT NULL,
  relation TEXT NOT NULL, operation TEXT NOT NULL, db_user TEXT NOT NULL, detail TEXT NOT NULL);
"#;

impl Store {
    /// Opens (creating if needed) the store at `path` with the key at `key_path`.
    pub fn open(path: &Path, key_path: &Path) -> StoreResult<Store> {
        let sealer = Sealer::load_or_create(key_path)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&conn)?;
        conn.execute_batch(SCHEMA)?;
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

/// A transaction with typed accessors (grouped by table in the submodules).
pub struct Tx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    sealer: &'a Sealer,
}

impl Tx<'_> {
    pub fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.tx
            .execute("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])?;
        Ok(())
    }
}

/// Brings a store made by an earlier build up to [`SCHEMA`] (columns added since).
fn migrate(conn: &Connection) -> StoreResult<()> {
    let has_units: bool = conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'units'", [], |r| r.get(0))?;
    if !has_units {
        return Ok(());
    }
    let relation_known: bool =
        conn.query_row("SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'relation_id'", [], |r| r.get(0))?;
    if !relation_known {
        // The relation of each queued event, taken once from its JSON (`relation: [id, endpoint]`).
        conn.execute_batch(
            "BEGIN IMMEDIATE; \
             ALTER TABLE events ADD COLUMN relation_id INTEGER; \
             UPDATE events SET relation_id = json_extract(event, '$.relation[0]'); \
             COMMIT;",
        )?;
    }
    let queued_known: bool = conn.query_row("SELECT COUNT(*) FROM pragma_table_info('units') WHERE name = 'queued'", [], |r| r.get(0))?;
    if !queued_known {
        // Counted by triggers from now on; counted once here for what is already queued.
        conn.execute_batch(
            "BEGIN IMMEDIATE; \
             ALTER TABLE units ADD COLUMN queued INTEGER NOT NULL DEFAULT 0; \
             UPDATE units SET queued = (SELECT COUNT(*) FROM events e WHERE e.model = units.model AND e.unit = units.name); \
             COMMIT;",
        )?;
    }
    Ok(())
}

/// Now, as stored (RFC 3339, UTC).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn json<T: serde::de::DeserializeOwned>(s: &str, what: &'static str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what))
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
