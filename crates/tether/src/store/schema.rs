//! The store's schema as numbered migrations (`rusqlite_migration`, the version in
//! SQLite's `user_version`), and the adoption of stores made before the numbering.

use super::error::StoreResult;
use rusqlite::Connection;

/// One migration: columns added to existing tables (with their back-fill), then the
/// tables, indexes and triggers it creates. `objects` uses `IF NOT EXISTS` throughout: it
/// is also run over stores made before migrations were numbered ([`adopt_unnumbered`]).
pub(super) struct Migration {
    columns: &'static str,
    objects: &'static str,
}

/// The store's schema, oldest first: migration N is `MIGRATIONS[N - 1]`, and a store at
/// version N (SQLite's `user_version`) has had the first N.
pub(super) const MIGRATIONS: [Migration; 5] = [
    Migration { columns: "", objects: SCHEMA_1 },
    Migration { columns: EVENT_RELATIONS_2, objects: EVENT_RELATIONS_2_INDEX },
    Migration { columns: QUEUE_COUNT_3, objects: QUEUE_COUNT_3_TRIGGERS },
    Migration { columns: LOG_MODULE_4, objects: STATUS_HISTORY_4 },
    Migration { columns: TASK_OPERATION_5, objects: OPERATIONS_5 },
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

/// Migration 4: log lines carry Juju's module (`unit.app/0.juju-log`, `juju.worker.uniter`;
/// older lines get the uniter's), and every change of a unit's workload or agent status
/// and of an application's status is kept in `status_history` by triggers, in the
/// transaction that changes it, at most 100 rows per entity (the oldest dropped).
const LOG_MODULE_4: &str = r#"
ALTER TABLE logs ADD COLUMN module TEXT NOT NULL DEFAULT 'juju.worker.uniter';
"#;
const STATUS_HISTORY_4: &str = r#"
CREATE TABLE IF NOT EXISTS status_history(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, entity TEXT NOT NULL, kind TEXT NOT NULL,
  status TEXT NOT NULL, message TEXT NOT NULL, ts TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
CREATE INDEX IF NOT EXISTS status_history_by_entity ON status_history(model, entity, seq);
CREATE TRIGGER IF NOT EXISTS status_history_cap AFTER INSERT ON status_history BEGIN
  DELETE FROM status_history WHERE model = NEW.model AND entity = NEW.entity AND seq NOT IN
    (SELECT seq FROM status_history WHERE model = NEW.model AND entity = NEW.entity ORDER BY seq DESC LIMIT 100);
END;
CREATE TRIGGER IF NOT EXISTS status_history_unit_in AFTER INSERT ON units BEGIN
  INSERT INTO status_history(model, entity, kind, status, message) VALUES(NEW.model, NEW.name, 'juju-unit', NEW.agent, NEW.agent_message);
  INSERT INTO status_history(model, entity, kind, status, message) VALUES(NEW.model, NEW.name, 'workload', NEW.workload, NEW.message);
END;
CREATE TRIGGER IF NOT EXISTS status_history_workload AFTER UPDATE OF workload, message ON units
  WHEN OLD.workload IS NOT NEW.workload OR OLD.message IS NOT NEW.message BEGIN
  INSERT INTO status_history(model, entity, kind, status, message) VALUES(NEW.model, NEW.name, 'workload', NEW.workload, NEW.message);
END;
CREATE TRIGGER IF NOT EXISTS status_history_agent AFTER UPDATE OF agent, agent_message ON units
  WHEN OLD.agent IS NOT NEW.agent OR OLD.agent_message IS NOT NEW.agent_message BEGIN
  INSERT INTO status_history(model, entity, kind, status, message) VALUES(NEW.model, NEW.name, 'juju-unit', NEW.agent, NEW.agent_message);
END;
CREATE TRIGGER IF NOT EXISTS status_history_app_in AFTER INSERT ON applications BEGIN
  INSERT INTO status_history(model, entity, kind, status, message) VALUES(NEW.model, NEW.name, 'application', NEW.status, NEW.message);
END;
CREATE TRIGGER IF NOT EXISTS status_history_app AFTER UPDATE OF status, message ON applications
  WHEN OLD.status IS NOT NEW.status OR OLD.message IS NOT NEW.message BEGIN
  INSERT INTO status_history(model, entity, kind, status, message) VALUES(NEW.model, NEW.name, 'application', NEW.status, NEW.message);
END;
CREATE TRIGGER IF NOT EXISTS status_history_unit_out AFTER DELETE ON units BEGIN
  DELETE FROM status_history WHERE model = OLD.model AND entity = OLD.name;
END;
CREATE TRIGGER IF NOT EXISTS status_history_app_out AFTER DELETE ON applications BEGIN
  DELETE FROM status_history WHERE model = OLD.model AND entity = OLD.name;
END;
"#;

/// Migration 5: operations. `run` makes one operation with one task per unit; operation
/// and task ids come from the model's one task counter (operation 1 with task 2, as
/// Juju numbers them). A task from before has no operation.
const TASK_OPERATION_5: &str = r#"
ALTER TABLE tasks ADD COLUMN operation INTEGER;
"#;
const OPERATIONS_5: &str = r#"
CREATE TABLE IF NOT EXISTS operations(
  model TEXT NOT NULL, id INTEGER NOT NULL, action TEXT NOT NULL, summary TEXT NOT NULL, enqueued TEXT NOT NULL,
  PRIMARY KEY(model, id));
CREATE INDEX IF NOT EXISTS tasks_by_operation ON tasks(model, operation);
"#;

/// [`MIGRATIONS`] as `rusqlite_migration` runs them (each one's text once, for the program's life).
pub(super) fn migrations() -> rusqlite_migration::Migrations<'static> {
    static TEXTS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| MIGRATIONS.iter().map(|m| format!("{}{}", m.columns, m.objects)).collect());
    rusqlite_migration::Migrations::new(TEXTS.iter().map(|sql| rusqlite_migration::M::up(sql)).collect())
}

/// Gives a store made before migrations were numbered the version its columns show.
///
/// Those builds left `user_version` at 0 and added columns by hand on open, so such a
/// store may be at any version while it says 0; running the migrations from 0 would
/// re-add columns it has. Its version is read off the columns each migration added
/// (in order: an `events.relation_id` came before `units.queued`), and the objects of
/// each migration up to that version are created where missing (a store from the earliest
/// builds may lack tables added later). A new store (no tables) is left at 0.
pub(super) fn adopt_unnumbered(conn: &mut Connection) -> StoreResult<()> {
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
