//! Admin clients of the database servers tether runs: the only code that sends
//! user-management SQL to a server.
//!
//! Statements are rendered by `tether_core::pg_plan` (quoted identifiers and literals,
//! nothing concatenated here); values that can be bound (does this role exist?) are bound
//! parameters; every password is turned into a SCRAM verifier before it is put into a
//! statement, and role statements run with `log_statement` off. Each engine implements
//! [`UserAdmin`] so charms can treat PostgreSQL, MySQL and MongoDB alike.

pub mod error;
/// Used by the mongodb and mongos charms (issue 4); until they land only the workload uses it.
#[cfg_attr(not(test), allow(dead_code))]
pub mod mongo;
/// Used by the mysql-k8s charm (issue 3); until it lands only tests use it.
#[cfg_attr(not(test), allow(dead_code))]
pub mod mysql;
pub mod postgres;
pub mod registry;

// The module's API, whichever path callers prefer.
#[allow(unused_imports)]
pub use error::DbError;
#[allow(unused_imports)]
pub use postgres::PgAdmin;
#[allow(unused_imports)]
pub use registry::PgAdmins;

use crate::secret::SecretString;

/// What an application's user must look like after [`UserAdmin::ensure_user`].
#[allow(dead_code)] // the adapter surface MySQL and MongoDB follow; charms call PgAdmin directly today
#[derive(Debug, Clone, Copy)]
pub struct UserRequest<'a> {
    pub user: &'a str,
    pub password: &'a SecretString,
    /// The requirer's `extra-user-roles` (comma-separated; may be empty).
    pub extra_user_roles: &'a str,
    pub database: &'a str,
    /// Whether this user is the only one using `database` (it then owns its objects).
    pub sole_user: bool,
}

/// What every engine's admin client offers the charms.
#[allow(dead_code)] // the adapter surface MySQL and MongoDB follow; charms call PgAdmin directly today
#[async_trait::async_trait]
pub trait UserAdmin: Send + Sync {
    /// Creates or updates the user (idempotent), creating its database when missing.
    async fn ensure_user(&self, req: &UserRequest<'_>) -> Result<(), DbError>;
    /// Drops the user and releases what it owns; a missing user is success.
    async fn drop_user_if_exists(&self, user: &str) -> Result<(), DbError>;
    /// The users tether manages for relations.
    async fn list_managed_users(&self) -> Result<Vec<String>, DbError>;
    /// Changes the admin's own password and keeps using the new one.
    async fn set_admin_password(&self, password: &SecretString) -> Result<(), DbError>;
    /// The server version as charms publish it (e.g. `15.18`).
    async fn version(&self) -> Result<String, DbError>;
}
