//! The engines a run measures, as one table: which charm, which data-integrator
//! endpoint, which admin login, and which floor ([`Admin`]) stands for "the same work done
//! directly". The phases are written once against this; only the floors differ.

use crate::floor::{self, Login};
use crate::{ferretdb, mariadb};
use anyhow::{bail, Result};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Pg,
    My,
    Mongo,
}

pub const ALL: [Engine; 3] = [Engine::Pg, Engine::My, Engine::Mongo];

impl Engine {
    /// `--engines` names (and a few aliases).
    pub fn parse(s: &str) -> Result<Engine> {
        Ok(match s.trim() {
            "pg" | "postgresql" | "postgres" => Engine::Pg,
            "mysql" | "mariadb" | "my" => Engine::My,
            "mongo" | "mongodb" | "ferretdb" => Engine::Mongo,
            other => bail!("unknown engine {other:?}: expected pg, mysql or mongo"),
        })
    }

    pub fn flag(self) -> &'static str {
        match self {
            Engine::Pg => "pg",
            Engine::My => "mysql",
            Engine::Mongo => "mongo",
        }
    }

    /// The server, as the tables name it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Pg => "PostgreSQL",
            Engine::My => "MariaDB",
            Engine::Mongo => "FerretDB",
        }
    }

    pub fn charm(self) -> &'static str {
        match self {
            Engine::Pg => "postgresql-k8s",
            Engine::My => "mysql-k8s",
            Engine::Mongo => "mongodb",
        }
    }

    /// The key of `get-credentials`' results (and data-integrator's endpoint).
    pub fn product(self) -> &'static str {
        match self {
            Engine::Pg => "postgresql",
            Engine::My => "mysql",
            Engine::Mongo => "mongodb",
        }
    }

    /// The admin login `get-password` returns by default.
    pub fn admin_user(self) -> &'static str {
        match self {
            Engine::Pg | Engine::Mongo => "operator",
            Engine::My => "root",
        }
    }

    /// Application names: `<prefix>lat<i>`, `<prefix>tp<i>`, `<prefix>deploy<i>`.
    pub fn prefix(self) -> &'static str {
        match self {
            Engine::Pg => "di",
            Engine::My => "my",
            Engine::Mongo => "mg",
        }
    }

    /// Deploy's floor, for the table.
    pub fn deploy_floor(self) -> &'static str {
        match self {
            Engine::Pg => "initdb + start",
            Engine::My => "mariadb-install-db + bootstrap + start",
            Engine::Mongo => "ferretdb start",
        }
    }

    /// Whether a throughput phase runs for this engine (the issue asks PostgreSQL and
    /// MariaDB; FerretDB's hooks serialise the same way and are left out to keep runs short).
    pub fn throughput(self) -> bool {
        self != Engine::Mongo
    }

    /// The deploy floor, run once: the time until an admin login works.
    pub fn deploy_by_hand(self, rt: &tokio::runtime::Runtime, tether: &std::path::Path) -> Result<Duration> {
        match self {
            Engine::Pg => floor::initdb_and_start(rt),
            Engine::My => mariadb::install_db_and_start(rt),
            Engine::Mongo => ferretdb::start(rt, tether),
        }
    }

    /// One login as `user` to `db` (for FerretDB, a login and a write), closed at once.
    pub async fn login(self, port: u16, user: &str, password: &str, db: &str) -> Login {
        match self {
            Engine::Pg => floor::login(port, user, password, db).await,
            Engine::My => mariadb::login(port, user, password, db).await,
            Engine::Mongo => ferretdb::login(port, user, password, db).await,
        }
    }
}

impl Engine {
    /// A new connection as `user` and one query, closed at once (the client that queries
    /// through a rotation); `Err` says why it failed.
    pub async fn query(self, port: u16, user: &str, password: &str, db: &str) -> Result<(), String> {
        match self {
            Engine::Pg => floor::query(port, user, password, db).await,
            Engine::My => mariadb::query(port, user, password, db).await,
            Engine::Mongo => ferretdb::query(port, user, password, db).await,
        }
    }
}

/// An open admin session of the floor on one server.
pub enum Admin {
    Pg(tokio_postgres::Client),
    My(mysql_async::Conn),
    Mongo(mongodb::Client),
}

/// Where the floor runs: the server of the engine's charm and its admin password.
#[derive(Debug, Clone)]
pub struct Server {
    pub engine: Engine,
    pub port: u16,
    pub admin_pw: String,
}

impl Server {
    pub async fn admin(&self) -> Result<Admin> {
        let (port, user, pw) = (self.port, self.engine.admin_user(), self.admin_pw.as_str());
        Ok(match self.engine {
            Engine::Pg => Admin::Pg(floor::connect(port, user, pw, "postgres").await?),
            Engine::My => Admin::My(mariadb::connect(port, user, pw).await?),
            Engine::Mongo => Admin::Mongo(ferretdb::connect(port, user, pw).await?),
        })
    }

    /// The floor of one integration: database `name`, user `name`, one login.
    pub async fn integrate(&self, admin: &mut Admin, name: &str, pw: &str) -> Result<()> {
        match admin {
            Admin::Pg(c) => floor::integrate(c, self.port, &self.admin_pw, name, name, pw).await,
            Admin::My(c) => mariadb::integrate(c, self.port, name, name, pw).await,
            Admin::Mongo(c) => ferretdb::integrate(c, self.port, name, name, pw).await,
        }
    }

    /// The floor of one removal of what [`Server::integrate`] made, until refused.
    pub async fn remove(&self, admin: &mut Admin, name: &str, pw: &str) -> Result<()> {
        match admin {
            Admin::Pg(c) => floor::remove(c, self.port, &self.admin_pw, name, name, pw).await,
            Admin::My(c) => mariadb::remove(c, self.port, name, name, pw).await,
            Admin::Mongo(c) => ferretdb::remove(c, self.port, name, name, pw).await,
        }
    }

    /// The floor of one rotation of what [`Server::integrate`] made as `first`: a second
    /// login `login` with the same grants, then one login as it.
    pub async fn rotate(&self, admin: &mut Admin, first: &str, login: &str, pw: &str) -> Result<()> {
        match admin {
            Admin::Pg(c) => floor::rotate(c, self.port, first, first, login, pw).await,
            Admin::My(c) => mariadb::rotate(c, self.port, first, login, pw).await,
            Admin::Mongo(c) => ferretdb::rotate(c, self.port, first, login, pw).await,
        }
    }

    pub async fn login(&self, user: &str, password: &str, db: &str) -> Login {
        self.engine.login(self.port, user, password, db).await
    }
}
