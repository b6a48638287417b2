//! The small trait each database engine implements so the supervisor can run it:
//! PostgreSQL and MongoDB (mongod or FerretDB) today; MariaDB becomes more implementations (and more
//! [`WorkloadSpec`] variants) without touching the supervisor.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::process::Proc;
use super::{WorkloadError, WorkloadSpec};

#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// Short name for logs and errors.
    fn name(&self) -> &'static str;
    /// Prepares the data directory if needed, then adopts a live server or starts one,
    /// returning once it accepts the admin login. Must be idempotent.
    async fn start(&self) -> Result<Proc, WorkloadError>;
    /// The signal that asks the server for a clean, quick shutdown.
    fn stop_signal(&self) -> Signal;
    /// How long a clean shutdown may take before SIGKILL.
    fn stop_grace(&self) -> Duration;
}

impl WorkloadSpec {
    /// The engine that runs this spec.
    pub fn engine(&self) -> Box<dyn Engine> {
        match self {
            WorkloadSpec::Postgres(spec) => Box::new(super::postgres::PgEngine { spec: spec.clone() }),
            WorkloadSpec::Mongo(spec) => Box::new(super::mongo::MongoServer { spec: spec.clone() }),
            WorkloadSpec::MariaDb(spec) => Box::new(super::mariadb::MariaDbEngine { spec: spec.clone() }),
        }
    }

    /// Where the server lives: the same data directory and port mean the same server.
    pub fn place(&self) -> (&std::path::Path, u16) {
        match self {
            WorkloadSpec::Postgres(s) => (&s.data_dir, s.port),
            WorkloadSpec::Mongo(s) => (&s.data_dir, s.port),
            WorkloadSpec::MariaDb(s) => (&s.data_dir, s.port),
        }
    }
}
