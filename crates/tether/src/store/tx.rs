//! [`Tx`]: one store transaction with typed accessors; the accessors for each table live
//! in the sibling modules (`apps`, `relations`, `secrets`, ...), which reach its
//! connection and sealer through the crate-visible fields.

use super::error::{StoreError, StoreResult};
use super::seal::Sealer;
use rusqlite::OptionalExtension;

/// A transaction with typed accessors (grouped by table in the submodules).
pub struct Tx<'a> {
    pub(super) tx: &'a rusqlite::Transaction<'a>,
    pub(super) sealer: &'a Sealer,
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

/// Now, as stored (RFC 3339, UTC).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn json<T: serde::de::DeserializeOwned>(s: &str, what: &'static str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what))
}
