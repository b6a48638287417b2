//! [`StoreError`]: why a store operation failed. Never carries a sealed value.

use super::seal;

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
