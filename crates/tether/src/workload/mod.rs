//! Workloads: the real database server processes behind database units.
//!
//! Each database unit runs one server (today PostgreSQL) from the machine's binaries, with
//! its data under the unit's directory in `$TETHER_HOME` and a free port on 127.0.0.1. The
//! [`Supervisor`] starts servers (or adopts ones an earlier controller left running),
//! restarts them with backoff when they die, and stops them at controller shutdown while
//! their data stays on disk. Per-engine details live behind [`engine::Engine`].
//!
//! Code map: `postgres` (one PostgreSQL server), `mariadb` (one MariaDB server), `mongo` (one mongod or FerretDB server),
//! `mongos_router` (the router a mongos unit runs), `supervisor` (all workloads of the
//! controller), `engine` (the per-engine trait), `process` (spawned or adopted processes,
//! signals), `sysuser` (running as the server's system user when tether is root),
//! `error` (what failed).

pub mod engine;
pub mod error;
mod login;
// The mysql-k8s charm (issue 3) uses this; until it lands only tests do.
#[cfg_attr(not(test), allow(dead_code))]
pub mod mariadb;
// The mongodb and mongos charms (issue 4) use these; until they land only tests do.
#[cfg_attr(not(test), allow(dead_code))]
pub mod mongo;
#[cfg_attr(not(test), allow(dead_code))]
pub mod mongos_router;
pub mod postgres;
pub mod process;
pub mod supervisor;
pub mod sysuser;
#[cfg(test)]
pub mod testing;

use std::path::{Path, PathBuf};

pub use error::WorkloadError;
pub use mongo::MongoEngine;
pub use supervisor::Supervisor;

use crate::secret::SecretString;

/// What to run for a unit; one variant per engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadSpec {
    Postgres(PgSpec),
    #[cfg_attr(not(test), allow(dead_code))] // until the mongodb charm (issue 4) lands
    Mongo(MongoSpec),
    #[cfg_attr(not(test), allow(dead_code))] // the mysql-k8s charm (issue 3) constructs it
    MariaDb(MariaDbSpec),
}

/// One PostgreSQL server: its data directory (whose parent is the unit directory), the log
/// file its stderr goes to, its port on 127.0.0.1 and the password of `operator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSpec {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub port: u16,
    pub operator_password: SecretString,
}

impl PgSpec {
    /// The usual layout: `<unit dir>/pgdata` and `<unit dir>/postgres.log`.
    pub fn for_unit(unit_dir: &Path, port: u16, operator_password: SecretString) -> PgSpec {
        PgSpec { data_dir: unit_dir.join("pgdata"), log_file: unit_dir.join("postgres.log"), port, operator_password }
    }
}

/// One MongoDB-wire server (see [`mongo`]): its data directory (whose parent is the unit
/// directory), the log file, its port on 127.0.0.1, the password of `operator`, the engine
/// and, for mongod, the replica set name, the member's place in a sharded cluster and the
/// keyfile its members share (FerretDB has none of these and ignores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoSpec {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub port: u16,
    pub operator_password: SecretString,
    pub engine: MongoEngine,
    pub replset: Option<String>,
    pub cluster_role: ClusterRole,
    /// The content of mongod's `--keyFile`; `None` keeps the file there (or makes a random one).
    pub keyfile: Option<SecretString>,
}

/// A mongod's place in a sharded cluster (`--configsvr`, `--shardsvr`, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterRole {
    #[default]
    ReplicaSet,
    ConfigServer,
    Shard,
}

impl ClusterRole {
    /// From the mongodb charm's `role` option.
    pub fn from_config(role: &str) -> ClusterRole {
        match role {
            "config-server" => ClusterRole::ConfigServer,
            "shard" => ClusterRole::Shard,
            _ => ClusterRole::ReplicaSet,
        }
    }
}

impl MongoSpec {
    /// The usual layout: `<unit dir>/mongodata` and `<unit dir>/mongo.log`, a plain replica
    /// set member with the keyfile already on disk.
    pub fn for_unit(
        unit_dir: &Path,
        port: u16,
        operator_password: SecretString,
        engine: MongoEngine,
        replset: Option<String>,
    ) -> MongoSpec {
        MongoSpec {
            data_dir: unit_dir.join("mongodata"),
            log_file: unit_dir.join("mongo.log"),
            port,
            operator_password,
            engine,
            replset,
            cluster_role: ClusterRole::ReplicaSet,
            keyfile: None,
        }
    }
}

/// One MariaDB server (see [`mariadb`]): its data directory (whose parent is the unit
/// directory, which also holds its socket and pid file), its log file, its port on
/// 127.0.0.1 and the password of `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaDbSpec {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub port: u16,
    pub root_password: SecretString,
}

impl MariaDbSpec {
    /// The usual layout: `<unit dir>/mysqldata` and `<unit dir>/mariadb.log`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn for_unit(unit_dir: &Path, port: u16, root_password: SecretString) -> MariaDbSpec {
        MariaDbSpec { data_dir: unit_dir.join("mysqldata"), log_file: unit_dir.join("mariadb.log"), port, root_password }
    }
}

/// What a unit's workload is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadState {
    Stopped,
    Starting,
    Running {
        pid: u32,
    },
    /// It died unexpectedly (or a restart failed); the next attempt follows a backoff.
    Restarting {
        attempt: u32,
        reason: String,
    },
}

/// A port on 127.0.0.1 that is free now (the OS picks it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
