//! One module per database engine, each with its server process (init, start, adopt,
//! stop: run by `workload::Supervisor` through the `ServerProcess` trait) and its admin
//! client (users, grants, ownership markers: the [`UserAdmin`] trait) side by side, and
//! its own error type classified for callers ([`ErrorClass`]).
//!
//! - `postgres`: PostgreSQL (as the `postgres` system user), admin over tokio-postgres.
//! - `mysql`: MariaDB or MySQL 8 (as `mysql`), admin over mysql_async.
//! - `mongo`: mongod or FerretDB, mongos routers, admin over the mongodb driver.

pub mod admin_pool;
pub mod error_class;
pub mod etcd;
pub mod http;
pub mod mongo;
pub mod mysql;
pub mod postgres;
pub mod settings;
pub mod tls;
pub mod user_admin;

pub use error_class::{Classify, ErrorClass};

use crate::workload::StrayServer;
use std::sync::Arc;

/// How every engine finds a server an earlier controller left running (for the
/// supervisor's `remove_data`).
pub fn stray_servers() -> Vec<Arc<dyn StrayServer>> {
    vec![
        Arc::new(postgres::patroni::PatroniStrays),
        Arc::new(etcd::EtcdStrays),
        Arc::new(postgres::PgStrays),
        Arc::new(mysql::MyStrays),
        Arc::new(mongo::MongoStrays),
    ]
}
pub use user_admin::{AdoptedAdmin, DatabaseGrant, Ensured, Ownership, RelationUser, UserAdmin};
