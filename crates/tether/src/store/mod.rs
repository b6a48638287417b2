//! The model store: the single source of truth for intent.
//!
//! One SQLite database in WAL mode holds models, applications, units, relations and
//! their databags, secrets, the per-unit hook queues, tasks, logs and the audit trail.
//! Every change goes through [`Store::write`], one transaction per call, so a hook's
//! effects and the events they cause land together or not at all. Values that may
//! carry credentials are sealed (encrypted) by [`seal::Sealer`] before they are stored.
//!
//! The schema is a list of numbered migrations ([`migrations`], `rusqlite_migration`,
//! version in SQLite's `user_version`): a store is brought up to the latest on open, in
//! one transaction. A change to the schema is a new migration at the end, never an edit
//! of an old one.

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
    #[error("store: migrating the schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
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

/// One migration: columns added to existing tables (with their back-fill), then the
/// tables, indexes and triggers it creates. `objects` uses `IF NOT EXISTS` throughout: it
/// is also run over stores made before migrations were numbered ([`adopt_unnumbered`]).
struct Migration {
    columns: &'static str,
    objects: &'static str,
}

/// The store's schema, oldest first: migration N is `MIGRATIONS[N - 1]`, and a store at
/// version N (SQLite's `user_version`) has had the first N.
const MIGRATIONS: [Migration; 3] = [
    Migration { columns: "", objects: SCHEMA_1 },
    Migration { columns: EVENT_RELATIONS_2, objects: EVENT_RELATIONS_2_INDEX },
    Migration { columns: QUEUE_COUNT_3, objects: QUEUE_COUNT_3_TRIGGERS },
];

/// Migration 1: the schema as the first builds made it.
const SCHEMA_1: &str = r#"
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
  life TEXT NOT NULL DEFAULT 'alive', state TEXT NOT NULL DEFAULT '{}',
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
  running INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_by_unit ON events(model, unit, seq);
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

/// Migration 2: events carry their relation, so relation lanes find them by index. The
/// relation of each queued event is taken once from its JSON (`relation: [id, endpoint]`).
const EVENT_RELATIONS_2: &str = r#"
ALTER TABLE events ADD COLUMN relation_id INTEGER;
UPDATE events SET relation_id = json_extract(event, '$.relation[0]');
"#;
const EVENT_RELATIONS_2_INDEX: &str = r#"
CREATE INDEX IF NOT EXISTS events_by_relation ON events(model, relation_id);
"#;

/// Migration 3: each unit's queue length, counted by triggers from now on and counted
/// once here for what is already queued (the queue cap reads it).
const QUEUE_COUNT_3: &str = r#"
ALTER TABLE units ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
UPDATE units SET queued = (SELECT COUNT(*) FROM events e WHERE e.model = units.model AND e.unit = units.name);
"#;
const QUEUE_COUNT_3_TRIGGERS: &str = r#"
CREATE INDEX IF NOT EXISTS events_by_unit_relation ON events(model, unit, relation_id);
CREATE TRIGGER IF NOT EXISTS events_count_in AFTER INSERT ON events BEGIN
  UPDATE units SET queued = queued + 1 WHERE model = NEW.model AND name = NEW.unit;
END;
CREATE TRIGGER IF NOT EXISTS events_count_out AFTER DELETE ON events BEGIN
  UPDATE units SET queued = queued - 1 WHERE model = OLD.model AND name = OLD.unit;
END;
"#;

/// [`MIGRATIONS`] as `rusqlite_migration` runs them (each one's text once, for the program's life).
fn migrations() -> rusqlite_migration::Migrations<'static> {
    static TEXTS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| MIGRATIONS.iter().map(|m| format!("{}{}", m.columns, m.objects)).collect());
    rusqlite_migration::Migrations::new(TEXTS.iter().map(|sql| rusqlite_migration::M::up(sql)).collect())
}

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

/// Gives a store made before migrations were numbered the version its columns show.
///
/// Those builds left `user_version` at 0 and added columns by hand on open, so such a
/// store may be at any version while it says 0; running the migrations from 0 would
/// re-add columns it has. Its version is read off the columns each migration added
/// (in order: an `events.relation_id` came before `units.queued`), and the objects of
/// each migration up to that version are created where missing (a store from the earliest
/// builds may lack tables added later). A new store (no tables) is left at 0.
fn adopt_unnumbered(conn: &mut Connection) -> StoreResult<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has_units: bool = conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'units'", [], |r| r.get(0))?;
    if version != 0 || !has_units {
        return Ok(());
    }
    let has_column = |table: &str, column: &str| -> rusqlite::Result<bool> {
        conn.query_row("SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2", [table, column], |r| r.get(0))
    };
    let version = match (has_column("events", "relation_id")?, has_column("units", "queued")?) {
        (false, _) => 1,
        (true, false) => 2,
        (true, true) => 3,
    };
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for m in &MIGRATIONS[..version] {
        tx.execute_batch(m.objects)?;
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
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
        assert_eq!(before.1, super::MIGRATIONS.len() as i64);
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
        for version in 0..super::MIGRATIONS.len() {
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
    /// had added: a store made by the last of them has everything and must not be
    /// migrated again.
    #[test]
    fn an_unnumbered_store_with_every_column_is_adopted_as_up_to_date() {
        let fresh = fresh_schema();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let mut old = rusqlite::Connection::open(&path).unwrap();
            super::migrations().to_latest(&mut old).unwrap();
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
