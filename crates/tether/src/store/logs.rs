//! The model log (`debug-log`) and the credential audit trail.
//!
//! Neither ever holds a secret: callers log names and outcomes, never values. Both are
//! bounded: old lines are pruned as new ones arrive.

use super::error::StoreResult;
use super::tx::{now, Tx};
use rusqlite::params;

const MAX_LOG_LINES: i64 = 20_000;

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
    pub fn log(&self, model: &str, entity: &str, level: &str, message: &str) -> StoreResult<()> {
        let seq = self
            .tx
            .prepare_cached("INSERT INTO logs(model, ts, entity, level, message) VALUES(?1,?2,?3,?4,?5)")?
            .execute(params![model, now(), entity, level, message])?;
        let _ = seq;
        let last = self.tx.last_insert_rowid();
        if last % 1000 == 0 {
            self.tx.execute("DELETE FROM logs WHERE seq <= ?1", [last - MAX_LOG_LINES])?;
        }
        Ok(())
    }

    /// The last `limit` lines of a model's log (all when None), formatted like Juju's.
    pub fn logs(&self, model: &str, limit: Option<u64>) -> StoreResult<Vec<String>> {
        let limit = limit.filter(|l| *l > 0).map(|l| l as i64).unwrap_or(i64::MAX);
        let mut st = self.tx.prepare(
            "SELECT ts, entity, level, message FROM (SELECT * FROM logs WHERE model = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
        )?;
        let rows = st
            .query_map(params![model, limit], |r| {
                let (ts, entity, level, msg): (String, String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                Ok(format!("{entity}: {ts} {level} {msg}"))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
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
