//! The model log (`debug-log`) and the credential audit trail.
//!
//! Neither ever holds a secret: callers log names and outcomes, never values. Both are
//! bounded: old lines are pruned as new ones arrive.

use super::error::StoreResult;
use super::tx::{now, Tx};
use rusqlite::params;
use tether_core::log_filter::LogFilter;
use tether_core::wire::{LogRecord, StatusLogEntry};

const MAX_LOG_LINES: i64 = 20_000;
/// At most this many lines are read per poll of a following `debug-log`.
const MAX_LINES_PER_POLL: i64 = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub ts: String,
    pub model: String,
    pub app: String,
    pub relation: String,
    /// `issued`, `rotated`, `revoked`.
    pub operation: String,
    pub db_user: String,
    pub detail: String,
}

impl Tx<'_> {
    /// A line from the unit agent or the controller (module `juju.worker.uniter`, or
    /// `juju.controller` for the controller's own lines).
    pub fn log(&self, model: &str, entity: &str, level: &str, message: &str) -> StoreResult<()> {
        let module = if entity.starts_with("unit-") { "juju.worker.uniter" } else { "juju.controller" };
        self.log_module(model, entity, module, level, message)
    }

    /// A line with its module (a charm's own lines are `unit.<unit>.juju-log`).
    pub fn log_module(&self, model: &str, entity: &str, module: &str, level: &str, message: &str) -> StoreResult<()> {
        self.tx
            .prepare_cached("INSERT INTO logs(model, ts, entity, level, module, message) VALUES(?1,?2,?3,?4,?5,?6)")?
            .execute(params![model, now(), entity, level, module, message])?;
        let last = self.tx.last_insert_rowid();
        if last % 1000 == 0 {
            self.tx.execute("DELETE FROM logs WHERE seq <= ?1", [last - MAX_LOG_LINES])?;
        }
        Ok(())
    }

    /// The log lines of a model that `filter` shows, oldest first, and the cursor to
    /// poll on from. Without `after`: the last `limit` of them (all when None). With
    /// `after`: those logged after that cursor, a bounded batch per call.
    pub fn log_records(
        &self,
        model: &str,
        filter: &LogFilter,
        limit: Option<u64>,
        after: Option<i64>,
    ) -> StoreResult<(Vec<LogRecord>, i64)> {
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, LogRecord)> {
            Ok((r.get(0)?, LogRecord { ts: r.get(1)?, entity: r.get(2)?, level: r.get(3)?, module: r.get(4)?, message: r.get(5)? }))
        };
        const COLUMNS: &str = "SELECT seq, ts, entity, level, module, message FROM logs";
        let mut out = Vec::new();
        let cursor;
        match after {
            Some(after) => {
                let mut st = self.tx.prepare(&format!("{COLUMNS} WHERE model = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"))?;
                let mut last = after;
                for r in st.query_map(params![model, after, MAX_LINES_PER_POLL], row)? {
                    let (seq, rec) = r?;
                    last = seq;
                    if filter.matches(&rec.entity, &rec.level, &rec.module) {
                        out.push(rec);
                    }
                }
                cursor = last;
            }
            None => {
                cursor = self.tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM logs", [], |r| r.get(0))?;
                let want = limit.unwrap_or(u64::MAX) as usize;
                let mut st = self.tx.prepare(&format!("{COLUMNS} WHERE model = ?1 AND seq <= ?2 ORDER BY seq DESC"))?;
                for r in st.query_map(params![model, cursor], row)? {
                    if out.len() >= want {
                        break;
                    }
                    let (_, rec) = r?;
                    if filter.matches(&rec.entity, &rec.level, &rec.module) {
                        out.push(rec);
                    }
                }
                out.reverse();
            }
        }
        Ok((out, cursor))
    }

    /// The status history of a unit (`app/0`) or an application, oldest first: the
    /// last `limit` rows of the given kinds no older than `since` (RFC 3339).
    pub fn status_history(
        &self,
        model: &str,
        entity: &str,
        kinds: &[&str],
        since: Option<&str>,
        limit: Option<u32>,
    ) -> StoreResult<Vec<StatusLogEntry>> {
        let mut st = self.tx.prepare(
            "SELECT ts, kind, status, message FROM status_history WHERE model = ?1 AND entity = ?2 AND (?3 IS NULL OR ts >= ?3) ORDER BY seq DESC",
        )?;
        let want = limit.map(|l| l as usize).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for r in st.query_map(params![model, entity, since], |r| {
            Ok(StatusLogEntry { time: r.get(0)?, kind: r.get(1)?, status: r.get(2)?, message: r.get(3)? })
        })? {
            let e = r?;
            if kinds.contains(&e.kind.as_str()) {
                out.push(e);
                if out.len() >= want {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    pub fn audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.tx.execute(
            "INSERT INTO audit(ts, model, app, relation, operation, db_user, detail) VALUES(?1,?2,?3,?4,?5,?6,?7)",
            params![now(), e.model, e.app, e.relation, e.operation, e.db_user, e.detail],
        )?;
        Ok(())
    }

    pub fn audit_entries(&self, model: Option<&str>) -> StoreResult<Vec<AuditEntry>> {
        let mut st = self.tx.prepare(
            "SELECT ts, model, app, relation, operation, db_user, detail FROM audit WHERE ?1 IS NULL OR model = ?1 ORDER BY seq",
        )?;
        let rows = st
            .query_map([model], |r| {
                Ok(AuditEntry {
                    ts: r.get(0)?,
                    model: r.get(1)?,
                    app: r.get(2)?,
                    relation: r.get(3)?,
                    operation: r.get(4)?,
                    db_user: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
