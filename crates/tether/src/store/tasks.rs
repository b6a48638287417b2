//! Tasks: one action run on one unit, with its (sealed) parameters and results, and
//! operations: one `run`, with one task per unit.

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
    /// The operation the task belongs to (None only for tasks from older stores).
    pub operation: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRow {
    pub id: i64,
    pub action: String,
    pub summary: String,
    pub enqueued: String,
}

const TASK_COLUMNS: &str =
    "SELECT id, unit, action, params, status, results, message, log, enqueued, started, completed, operation FROM tasks";

impl Tx<'_> {
    pub fn create_task(
        &self,
        model: &str,
        id: i64,
        operation: Option<i64>,
        unit: &str,
        action: &str,
        params_: &Map<String, Value>,
    ) -> StoreResult<()> {
        self.tx.execute(
            "INSERT INTO tasks(model, id, unit, action, params, status, enqueued, operation) VALUES(?1,?2,?3,?4,?5,'pending',?6,?7)",
            params![model, id, unit, action, self.sealer.seal_json(params_), now(), operation],
        )?;
        Ok(())
    }

    pub fn create_operation(&self, model: &str, id: i64, action: &str, summary: &str) -> StoreResult<()> {
        self.tx.execute(
            "INSERT INTO operations(model, id, action, summary, enqueued) VALUES(?1,?2,?3,?4,?5)",
            params![model, id, action, summary, now()],
        )?;
        Ok(())
    }

    pub fn operation(&self, model: &str, id: i64) -> StoreResult<Option<OperationRow>> {
        Ok(self
            .tx
            .query_row("SELECT id, action, summary, enqueued FROM operations WHERE model = ?1 AND id = ?2", params![model, id], |r| {
                Ok(OperationRow { id: r.get(0)?, action: r.get(1)?, summary: r.get(2)?, enqueued: r.get(3)? })
            })
            .optional()?)
    }

    /// A model's operations, oldest first.
    pub fn operations(&self, model: &str) -> StoreResult<Vec<OperationRow>> {
        let mut st = self.tx.prepare("SELECT id, action, summary, enqueued FROM operations WHERE model = ?1 ORDER BY id")?;
        let rows = st
            .query_map([model], |r| Ok(OperationRow { id: r.get(0)?, action: r.get(1)?, summary: r.get(2)?, enqueued: r.get(3)? }))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The tasks of an operation, by id.
    pub fn operation_tasks(&self, model: &str, operation: i64) -> StoreResult<Vec<TaskRow>> {
        let mut st = self.tx.prepare(&format!("{TASK_COLUMNS} WHERE model = ?1 AND operation = ?2 ORDER BY id"))?;
        let raws = st.query_map(params![model, operation], raw_task)?.collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(|r| self.open_task(r)).collect()
    }

    /// Appends one `action-log` line to a running task at once (the whole log is
    /// written again when the task finishes), so a waiting `run` can show it.
    pub fn append_task_log(&self, model: &str, id: i64, line: &str) -> StoreResult<()> {
        self.tx.execute("UPDATE tasks SET log = json_insert(log, '$[#]', ?3) WHERE model = ?1 AND id = ?2", params![model, id, line])?;
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
        let row = self.tx.query_row(&format!("{TASK_COLUMNS} WHERE model = ?1 AND id = ?2"), params![model, id], raw_task).optional()?;
        row.map(|r| self.open_task(r)).transpose()
    }

    fn open_task(&self, r: RawTask) -> StoreResult<TaskRow> {
        Ok(TaskRow {
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
            operation: r.11,
        })
    }
}

type RawTask = (i64, String, String, Vec<u8>, String, Option<Vec<u8>>, String, String, String, Option<String>, Option<String>, Option<i64>);

fn raw_task(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawTask> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
    ))
}
