//! [`UserAdmin`]: the user administration every engine implements (PostgreSQL, MySQL /
//! MariaDB, MongoDB), so that relation users, drift repair and internal password rotation
//! are written once over it (see `charms::reconcile`). A server tether did not start will
//! implement it the same way.
//!
//! Every implementation renders its statements in `tether_core` (quoted identifiers,
//! passwords only as verifiers or hashes where the server allows it) and marks the users
//! it creates as tether's own, so that listing managed users never returns a user made by
//! hand.

use super::error_class::Classify;
use crate::secret::SecretString;

pub use tether_core::ownership::Ownership;

/// One database a relation user must reach.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseGrant<'a> {
    pub name: &'a str,
    pub ownership: Ownership,
    /// The `extra-user-roles` requested with this database. PostgreSQL and MySQL grant
    /// the union of every request's roles ([`RelationUser::extra_user_roles`]); MongoDB,
    /// whose roles are per database, grants each database its own.
    pub extra_user_roles: &'a str,
}

/// What a relation's user must look like after [`UserAdmin::ensure_relation_user`].
#[derive(Debug, Clone, Copy)]
pub struct RelationUser<'a> {
    pub user: &'a str,
    pub password: &'a SecretString,
    /// The requirer's `extra-user-roles` (comma-separated; may be empty).
    pub extra_user_roles: &'a str,
    /// Every database the relation's requests name (created when missing).
    pub databases: &'a [DatabaseGrant<'a>],
    /// After a credential rotation, the relation's first user, which keeps owning what the
    /// relation's logins create (PostgreSQL: a role the login joins and acts as, so nothing
    /// changes owner between logins). `None` (or the user itself) for the first login.
    /// Engines whose objects have no owner (MariaDB, MySQL, MongoDB) give the login the
    /// same grants and ignore it.
    pub acts_as: Option<&'a str>,
}

/// Whether [`UserAdmin::ensure_relation_user`] had to create the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    AlreadyThere,
}

/// What every engine's admin client offers the charms.
#[async_trait::async_trait]
pub trait UserAdmin: Send + Sync {
    type Error: std::error::Error + Classify + Send + Sync + 'static;

    /// Creates or updates the relation's user (idempotent: same name, same password, same
    /// grants), creating its databases when missing, and marks it as tether's own.
    async fn ensure_relation_user(&self, req: &RelationUser<'_>) -> Result<Ensured, Self::Error>;
    /// Drops the relation's user and releases what it owns; a missing user is success.
    async fn drop_relation_user(&self, user: &str) -> Result<(), Self::Error>;
    /// Ends a relation login at the end of a rotation's grace period: its open sessions are
    /// ended and it can no longer log in. `owner` is the relation's first user (see
    /// [`RelationUser::acts_as`]): when `login` is that user on an engine whose objects have
    /// owners (PostgreSQL), it stays as a role without login that keeps owning them;
    /// otherwise the login is dropped (what it owns handed to `owner`). A missing login is
    /// success.
    async fn retire_login(&self, login: &str, owner: &str) -> Result<(), Self::Error>;
    /// The relation users that exist and carry tether's ownership marker, sorted.
    async fn list_relation_users(&self) -> Result<Vec<String>, Self::Error>;
    /// Changes an internal (system) user's password on the server; for the admin's own
    /// login, later connections use the new one.
    async fn set_internal_password(&self, user: &str, password: &SecretString) -> Result<(), Self::Error>;
    /// The server version as charms publish it (e.g. `15.18`).
    async fn version(&self) -> Result<String, Self::Error>;
}

/// An engine's admin client on a server tether did not start (adopt mode).
#[async_trait::async_trait]
pub trait AdoptedAdmin: UserAdmin {
    /// The privileges tether needs that the admin lacks, in the engine's words (none for
    /// an admin that has everything). Checked before anything is created.
    async fn missing_privileges(&self) -> Result<Vec<&'static str>, Self::Error>;
    /// Whether the server offers TLS to its clients (what requirers are told as `tls`).
    async fn server_tls(&self) -> Result<bool, Self::Error> {
        Ok(false)
    }
}
