//! Tasks: one action run on one unit, with its (sealed) parameters and results.

use super::error::StoreResult;
use super::tx::{now, Tx};
use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: i64,
    pub unit: String,
    pub action: String,
    pub params: Map<String, Value>,
    /// `pending`, `running`, `completed`, `failed`, `error`.
    pub status: String,
    pub results: Map<String, Value>,
    pub message: String,
    pub log: Vec<String>,
    pub enqueued: String,
    pub started: Option<String>,
    pub completed: Option<String>,
}

impl Tx<'_> {
    pub fn create_task(&self, model: &str, id: i64, unit: &str, action: &str, params_: &Map<String, Value>) -> StoreResult<()> {
        self.tx.execute(
            "INSERT INTO tasks(model, id, unit, action, params, status, enqueued) VALUES(?1,?2,?3,?4,?5,'pending',?6)",
            params![model, id, unit, action, self.sealer.seal_json(params_), now()],
        )?;
        Ok(())
    }

    pub fn start_task(&self, model: &str, id: i64) -> StoreResult<()> {
        self.tx.execute("UPDATE tasks SET status = 'running', started = ?3 WHERE model = ?1 AND id = ?2", params![model, id, now()])?;
        Ok(())
    }

    pub fn finish_task(
        &self,
        model: &str,
        id: i64,
        status: &str,
        results: &Map<String, Value>,
        message: &str,
        log: &[String],
    ) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE tasks SET status = ?3, results = ?4, message = ?5, log = ?6, completed = ?7 WHERE model = ?1 AND id = ?2",
            params![model, id, status, self.sealer.seal_json(results), message, serde_json::to_string(log).unwrap_or_default(), now()],
        )?;
        Ok(())
    }

    pub fn task(&self, model: &str, id: i64) -> StoreResult<Option<TaskRow>> {
        type Raw = (i64, String, String, Vec<u8>, String, Option<Vec<u8>>, String, String, String, Option<String>, Option<String>);
        let row: Option<Raw> = self
            .tx
            .query_row(
                "SELECT id, unit, action, params, status, results, message, log, enqueued, started, completed FROM tasks WHERE model = ?1 AND id = ?2",
                params![model, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?)),
            )
            .optional()?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(TaskRow {
            id: r.0,
            unit: r.1,
            action: r.2,
            params: self.sealer.open_json(&r.3)?,
            status: r.4,
            results: r.5.map(|s| self.sealer.open_json(&s)).transpose()?.unwrap_or_default(),
            message: r.6,
            log: serde_json::from_str(&r.7).unwrap_or_default(),
            enqueued: r.8,
            started: r.9,
            completed: r.10,
        }))
    }
}
