//! Models, applications and units.

use super::error::StoreResult;
use super::tx::{json, now, Tx};
use rusqlite::{params, OptionalExtension, Row};
use serde_json::Value;
use std::collections::BTreeMap;
use tether_core::charm_meta::CharmMeta;
use tether_core::charm_meta::CharmOrigin;
use tether_core::life::Life;
use tether_core::status::WorkloadStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub name: String,
    pub uuid: String,
    pub config: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct AppRow {
    pub name: String,
    pub charm: String,
    pub meta: CharmMeta,
    pub origin: CharmOrigin,
    pub rev: i64,
    pub config: BTreeMap<String, Value>,
    pub status: WorkloadStatus,
    pub message: String,
    pub since: String,
    pub life: Life,
}

#[derive(Debug, Clone)]
pub struct UnitRow {
    pub name: String,
    pub app: String,
    pub leader: bool,
    pub principal: Option<String>,
    pub workload: WorkloadStatus,
    pub message: String,
    pub since: String,
    pub agent: String,
    pub agent_message: String,
    pub error_hook: Option<String>,
    pub retry_at: Option<i64>,
    pub retries: i64,
    pub life: Life,
    pub state: BTreeMap<String, String>,
}

#[cfg(test)]
impl AppRow {
    /// A freshly deployed, alive built-in application with no config, for tests that
    /// need an application row (shared by the store's and the engine's tests).
    pub(crate) fn for_test(name: &str, meta: CharmMeta) -> AppRow {
        AppRow {
            name: name.into(),
            charm: name.into(),
            meta,
            origin: CharmOrigin::Builtin,
            rev: 0,
            config: Default::default(),
            status: WorkloadStatus::Unknown,
            message: String::new(),
            since: String::new(),
            life: Life::Alive,
        }
    }
}

fn status(s: String) -> WorkloadStatus {
    WorkloadStatus::parse(&s).unwrap_or(WorkloadStatus::Unknown)
}

/// An application row as read, before its JSON columns are parsed.
type RawApp = (String, String, String, String, i64, String, String, String, String, String);

fn app_row(r: &Row<'_>) -> rusqlite::Result<RawApp> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

const APP_COLS: &str = "name, charm, meta, origin, rev, config, status, message, since, life";
const UNIT_COLS: &str =
    "name, app, number, leader, principal, workload, message, since, agent, agent_message, error_hook, retry_at, retries, life, state";

fn unit_row(r: &Row<'_>) -> rusqlite::Result<(UnitRow, String)> {
    Ok((
        UnitRow {
            name: r.get(0)?,
            app: r.get(1)?,
            leader: r.get::<_, i64>(3)? != 0,
            principal: r.get(4)?,
            workload: status(r.get(5)?),
            message: r.get(6)?,
            since: r.get(7)?,
            agent: r.get(8)?,
            agent_message: r.get(9)?,
            error_hook: r.get(10)?,
            retry_at: r.get(11)?,
            retries: r.get(12)?,
            life: Life::parse(&r.get::<_, String>(13)?),
            state: BTreeMap::new(),
        },
        r.get(14)?,
    ))
}

impl Tx<'_> {
    // ---- models ----

    pub fn create_model(&self, name: &str, uuid: &str) -> StoreResult<()> {
        self.tx.execute("INSERT INTO models(name, uuid, created) VALUES(?1, ?2, ?3)", params![name, uuid, now()])?;
        Ok(())
    }

    pub fn model(&self, name: &str) -> StoreResult<Option<ModelRow>> {
        let row: Option<(String, String, String)> = self
            .tx
            .query_row("SELECT name, uuid, config FROM models WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        row.map(|(name, uuid, config)| Ok(ModelRow { name, uuid, config: json(&config, "models.config")? })).transpose()
    }

    pub fn models(&self) -> StoreResult<Vec<ModelRow>> {
        let mut st = self.tx.prepare("SELECT name FROM models ORDER BY name")?;
        let names: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        names.iter().filter_map(|n| self.model(n).transpose()).collect()
    }

    pub fn set_model_config(&self, model: &str, config: &BTreeMap<String, Value>) -> StoreResult<()> {
        self.tx
            .execute("UPDATE models SET config = ?2 WHERE name = ?1", params![model, serde_json::to_string(config).unwrap_or_default()])?;
        Ok(())
    }

    /// Deletes a model and everything in it.
    pub fn delete_model(&self, model: &str) -> StoreResult<()> {
        for table in [
            "applications",
            "units",
            "relations",
            "relation_endpoints",
            "databags",
            "app_bags",
            "secrets",
            "secret_revisions",
            "secret_grants",
            "secret_timers",
            "events",
            "tasks",
            "logs",
        ] {
            self.tx.execute(&format!("DELETE FROM {table} WHERE model = ?1"), [model])?;
        }
        self.tx.execute("DELETE FROM models WHERE name = ?1", [model])?;
        Ok(())
    }

    /// Allocates the next relation id of a model (Juju: a model-wide sequence from 0).
    pub fn next_relation_id(&self, model: &str) -> StoreResult<i64> {
        let id: i64 = self.tx.query_row("SELECT next_relation_id FROM models WHERE name = ?1", [model], |r| r.get(0))?;
        self.tx.execute("UPDATE models SET next_relation_id = ?2 WHERE name = ?1", params![model, id + 1])?;
        Ok(id)
    }

    pub fn next_task_id(&self, model: &str) -> StoreResult<i64> {
        let id: i64 = self.tx.query_row("SELECT next_task_id FROM models WHERE name = ?1", [model], |r| r.get(0))?;
        self.tx.execute("UPDATE models SET next_task_id = ?2 WHERE name = ?1", params![model, id + 1])?;
        Ok(id)
    }

    // ---- applications ----

    pub fn create_app(&self, model: &str, app: &AppRow) -> StoreResult<()> {
        self.tx.execute(
            "INSERT INTO applications(model, name, charm, meta, origin, rev, config, since) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
            params![
                model,
                app.name,
                app.charm,
                serde_json::to_string(&app.meta).unwrap_or_default(),
                app.origin.as_str(),
                app.rev,
                serde_json::to_string(&app.config).unwrap_or_default(),
                now()
            ],
        )?;
        Ok(())
    }

    pub fn app(&self, model: &str, name: &str) -> StoreResult<Option<AppRow>> {
        let row = self
            .tx
            .query_row(&format!("SELECT {APP_COLS} FROM applications WHERE model = ?1 AND name = ?2"), [model, name], app_row)
            .optional()?;
        row.map(Self::to_app).transpose()
    }

    pub fn apps(&self, model: &str) -> StoreResult<Vec<AppRow>> {
        let mut st = self.tx.prepare(&format!("SELECT {APP_COLS} FROM applications WHERE model = ?1 ORDER BY name"))?;
        let rows: Vec<_> = st.query_map([model], app_row)?.collect::<Result<_, _>>()?;
        rows.into_iter().map(Self::to_app).collect()
    }

    fn to_app(r: RawApp) -> StoreResult<AppRow> {
        Ok(AppRow {
            name: r.0,
            charm: r.1,
            meta: json(&r.2, "applications.meta")?,
            origin: CharmOrigin::parse(&r.3),
            rev: r.4,
            config: json(&r.5, "applications.config")?,
            status: status(r.6),
            message: r.7,
            since: r.8,
            life: Life::parse(&r.9),
        })
    }

    pub fn set_app_config(&self, model: &str, app: &str, config: &BTreeMap<String, Value>) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE applications SET config = ?3 WHERE model = ?1 AND name = ?2",
            params![model, app, serde_json::to_string(config).unwrap_or_default()],
        )?;
        Ok(())
    }

    /// A refreshed charm: its metadata and revision replace the application's.
    pub fn set_app_charm(&self, model: &str, app: &str, meta: &CharmMeta, rev: i64) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE applications SET meta = ?3, rev = ?4 WHERE model = ?1 AND name = ?2",
            params![model, app, serde_json::to_string(meta).unwrap_or_default(), rev],
        )?;
        Ok(())
    }

    pub fn set_app_status(&self, model: &str, app: &str, st: WorkloadStatus, message: &str) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE applications SET status = ?3, message = ?4, since = CASE WHEN status = ?3 AND message = ?4 THEN since ELSE ?5 END WHERE model = ?1 AND name = ?2",
            params![model, app, st.as_str(), message, now()],
        )?;
        Ok(())
    }

    pub fn set_app_life(&self, model: &str, app: &str, life: Life) -> StoreResult<()> {
        self.tx.execute("UPDATE applications SET life = ?3 WHERE model = ?1 AND name = ?2", params![model, app, life.as_str()])?;
        Ok(())
    }

    pub fn delete_app(&self, model: &str, app: &str) -> StoreResult<()> {
        self.tx.execute("DELETE FROM applications WHERE model = ?1 AND name = ?2", [model, app])?;
        self.delete_app_bags(model, app)
    }

    /// Allocates the next unit number of an application.
    pub fn next_unit_number(&self, model: &str, app: &str) -> StoreResult<u32> {
        let n: u32 = self.tx.query_row("SELECT next_unit FROM applications WHERE model = ?1 AND name = ?2", [model, app], |r| r.get(0))?;
        self.tx.execute("UPDATE applications SET next_unit = ?3 WHERE model = ?1 AND name = ?2", params![model, app, n + 1])?;
        Ok(n)
    }

    // ---- units ----

    pub fn create_unit(&self, model: &str, app: &str, number: u32, leader: bool, principal: Option<&str>) -> StoreResult<String> {
        let name = format!("{app}/{number}");
        self.tx.execute(
            "INSERT INTO units(model, name, app, number, leader, principal, since) VALUES(?1,?2,?3,?4,?5,?6,?7)",
            params![model, name, app, number, leader as i64, principal, now()],
        )?;
        Ok(name)
    }

    pub fn unit(&self, model: &str, name: &str) -> StoreResult<Option<UnitRow>> {
        let row = self
            .tx
            .query_row(&format!("SELECT {UNIT_COLS} FROM units WHERE model = ?1 AND name = ?2"), [model, name], unit_row)
            .optional()?;
        row.map(|(mut u, state)| {
            u.state = json(&state, "units.state")?;
            Ok(u)
        })
        .transpose()
    }

    /// Units of an application (or of the whole model when `app` is None), by number.
    pub fn units(&self, model: &str, app: Option<&str>) -> StoreResult<Vec<UnitRow>> {
        let sql = format!("SELECT {UNIT_COLS} FROM units WHERE model = ?1 AND (?2 IS NULL OR app = ?2) ORDER BY app, number");
        let mut st = self.tx.prepare(&sql)?;
        let rows: Vec<_> = st.query_map(params![model, app], unit_row)?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(mut u, state)| {
                u.state = json(&state, "units.state")?;
                Ok(u)
            })
            .collect()
    }

    /// Every unit of every model, for restarting workers when the controller starts.
    pub fn all_units(&self) -> StoreResult<Vec<(String, String)>> {
        let mut st = self.tx.prepare("SELECT model, name FROM units ORDER BY model, app, number")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub fn set_unit_status(&self, model: &str, unit: &str, st: WorkloadStatus, message: &str) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE units SET workload = ?3, message = ?4, since = CASE WHEN workload = ?3 AND message = ?4 THEN since ELSE ?5 END WHERE model = ?1 AND name = ?2",
            params![model, unit, st.as_str(), message, now()],
        )?;
        Ok(())
    }

    pub fn set_unit_agent(&self, model: &str, unit: &str, agent: &str, message: &str) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE units SET agent = ?3, agent_message = ?4 WHERE model = ?1 AND name = ?2",
            params![model, unit, agent, message],
        )?;
        Ok(())
    }

    /// Records a failed hook (or clears it with `None`), with the next automatic retry time.
    pub fn set_unit_error(&self, model: &str, unit: &str, hook: Option<&str>, retry_at: Option<i64>) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE units SET error_hook = ?3, retry_at = ?4, retries = CASE WHEN ?3 IS NULL THEN 0 ELSE retries + 1 END WHERE model = ?1 AND name = ?2",
            params![model, unit, hook, retry_at],
        )?;
        Ok(())
    }

    pub fn set_unit_retry_now(&self, model: &str, unit: &str) -> StoreResult<()> {
        self.tx.execute("UPDATE units SET retry_at = 0 WHERE model = ?1 AND name = ?2", [model, unit])?;
        Ok(())
    }

    pub fn set_unit_state(&self, model: &str, unit: &str, state: &BTreeMap<String, String>) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE units SET state = ?3 WHERE model = ?1 AND name = ?2",
            params![model, unit, serde_json::to_string(state).unwrap_or_default()],
        )?;
        Ok(())
    }

    pub fn set_unit_leader(&self, model: &str, unit: &str, leader: bool) -> StoreResult<()> {
        self.tx.execute("UPDATE units SET leader = ?3 WHERE model = ?1 AND name = ?2", params![model, unit, leader as i64])?;
        Ok(())
    }

    pub fn set_unit_life(&self, model: &str, unit: &str, life: Life) -> StoreResult<()> {
        self.tx.execute("UPDATE units SET life = ?3 WHERE model = ?1 AND name = ?2", params![model, unit, life.as_str()])?;
        Ok(())
    }

    pub fn delete_unit(&self, model: &str, unit: &str) -> StoreResult<()> {
        self.tx.execute("DELETE FROM units WHERE model = ?1 AND name = ?2", [model, unit])?;
        self.tx.execute("DELETE FROM events WHERE model = ?1 AND unit = ?2", [model, unit])?;
        self.tx.execute("DELETE FROM databags WHERE model = ?1 AND owner = ?2", [model, unit])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::temp_store;
    use tether_core::charm_meta::CharmMeta;
    use tether_core::status::WorkloadStatus;

    fn app(name: &str) -> super::AppRow {
        let meta = CharmMeta {
            resources: vec![],
            storage: vec![],
            action_schemas: Default::default(),
            name: name.into(),
            summary: String::new(),
            subordinate: false,
            endpoints: vec![],
            config: vec![],
            actions: vec![],
        };
        super::AppRow::for_test(name, meta)
    }

    #[test]
    fn models_apps_and_units_persist() {
        let (_d, s) = temp_store();
        s.write(|tx| {
            tx.create_model("m", "uuid-1")?;
            tx.create_app("m", &app("pg"))?;
            let n = tx.next_unit_number("m", "pg")?;
            tx.create_unit("m", "pg", n, true, None)?;
            tx.set_unit_status("m", "pg/0", WorkloadStatus::Active, "")?;
            Ok::<_, crate::store::StoreError>(())
        })
        .unwrap();
        let (units, rel) = s
            .write(|tx| {
                Ok::<_, crate::store::StoreError>((tx.units("m", Some("pg"))?, (tx.next_relation_id("m")?, tx.next_relation_id("m")?)))
            })
            .unwrap();
        assert_eq!(units.len(), 1);
        assert!(units[0].leader);
        assert_eq!(units[0].workload, WorkloadStatus::Active);
        assert_eq!(rel, (0, 1));
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let (_d, s) = temp_store();
        let r: Result<(), crate::store::StoreError> = s.write(|tx| {
            tx.create_model("m", "u")?;
            tx.create_model("m", "u")?; // duplicate: fails
            Ok(())
        });
        assert!(r.is_err());
        assert!(s.read(|tx| tx.models()).unwrap().is_empty());
    }
}
