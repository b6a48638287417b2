//! PostgreSQL logins: [`PgLogin`] (the credentials a charm hands out), [`PgSession`] (one
//! open connection driven by `tokio_postgres`), and the checks and bounded waits tests make
//! with them (refused, unreachable, bad credentials).

use super::login::{first_endpoint, wait_until_refused, LoginFailure, LoginOutcome};
use super::wait::{wait_until, SETTLE_TIMEOUT};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Everything needed to log in to PostgreSQL.
#[derive(Clone)]
pub struct PgLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
}

impl fmt::Debug for PgLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

/// PostgreSQL's refusals carry the SQLSTATE.
impl LoginFailure {
    fn from_error(e: tokio_postgres::Error) -> LoginFailure {
        match e.as_db_error() {
            Some(db) => LoginFailure::Refused { code: db.code().code().to_string(), message: db.message().to_string() },
            None => LoginFailure::Unreachable(e.to_string()),
        }
    }
}

impl PgLogin {
    /// The login a data-integrator `postgresql` credentials map describes.
    pub fn from_credentials(pg: &Value) -> PgLogin {
        let field = |k: &str| pg[k].as_str().unwrap_or_else(|| panic!("credentials lack {k:?}: {pg:#}")).to_string();
        let (host, port) = first_endpoint(&field("endpoints"));
        PgLogin { host, port, user: field("username"), password: field("password"), dbname: field("database") }
    }

    pub fn with_db(&self, dbname: &str) -> PgLogin {
        PgLogin { dbname: dbname.to_string(), ..self.clone() }
    }

    pub fn as_user(&self, user: &str, password: &str) -> PgLogin {
        PgLogin { user: user.to_string(), password: password.to_string(), ..self.clone() }
    }

    fn config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.dbname)
            .application_name("tether-tests")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    pub fn connect(&self) -> Result<PgSession, LoginFailure> {
        PgSession::connect(self.config())
    }

    /// Logs in or panics with the reason.
    pub fn session(&self) -> PgSession {
        self.connect().unwrap_or_else(|e| panic!("cannot log in as {self:?}: {e:?}"))
    }

    /// Polls until the server refuses this login (not merely unreachable); bounded.
    pub fn wait_refused(&self) -> (String, String) {
        wait_until_refused(self, || self.connect())
    }

    /// Polls until the server refuses this login's credentials outright (the role is gone
    /// or its password changed: SQLSTATE 28P01 or 28000); bounded. A revocation in
    /// progress may first refuse the database (42501); that is waited through.
    pub fn wait_bad_credentials(&self) {
        wait_until(&format!("the server to refuse the credentials of {self:?}"), SETTLE_TIMEOUT, || match self.connect() {
            Err(LoginFailure::Refused { code, .. }) if code == "28P01" || code == "28000" => Ok(()),
            other => Err(format!("{:?}", other.err())),
        })
    }

    /// Polls until no server answers at this login's address; bounded.
    pub fn wait_unreachable(&self) {
        wait_until(&format!("no server to answer at {self:?}"), SETTLE_TIMEOUT, || match self.connect() {
            Err(LoginFailure::Unreachable(_)) => Ok(()),
            other => Err(format!("{:?}", other.err())),
        })
    }
}

/// Asserts that the server refuses `login` outright, as it does for a wrong password or a
/// role that is gone (SQLSTATE 28P01 or 28000).
pub fn assert_bad_credentials(login: &PgLogin) {
    match login.connect() {
        Err(LoginFailure::Refused { code, message }) => {
            assert!(code == "28P01" || code == "28000", "expected an authentication failure for {login:?}, got {code} {message}")
        }
        Err(other) => panic!("expected the server to refuse {login:?}, got {other:?}"),
        Ok(_) => panic!("{login:?} logged in, expected a refusal"),
    }
}

/// Asserts that the server refuses `login` (any refusal: authentication or privilege).
pub fn assert_refused(login: &PgLogin) -> (String, String) {
    match login.connect() {
        Err(LoginFailure::Refused { code, message }) => (code, message),
        Err(other) => panic!("expected the server to refuse {login:?}, got {other:?}"),
        Ok(_) => panic!("{login:?} logged in, expected a refusal"),
    }
}

/// One open PostgreSQL connection, with the small runtime that drives it.
pub struct PgSession {
    client: tokio_postgres::Client,
    rt: tokio::runtime::Runtime,
}

impl PgSession {
    fn connect(config: tokio_postgres::Config) -> Result<PgSession, LoginFailure> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let client = rt.block_on(async {
            let connecting = config.connect(tokio_postgres::NoTls);
            let (client, connection) = match tokio::time::timeout(Duration::from_secs(15), connecting).await {
                Ok(result) => result.map_err(LoginFailure::from_error)?,
                Err(_) => return Err(LoginFailure::Unreachable("connect timed out".into())),
            };
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        })?;
        Ok(PgSession { client, rt })
    }

    /// Logs in with a `postgresql://` URI.
    pub fn connect_uri(uri: &str) -> Result<PgSession, LoginFailure> {
        let mut config = tokio_postgres::Config::from_str(uri).map_err(|e| LoginFailure::Unreachable(format!("bad uri: {e}")))?;
        config.connect_timeout(Duration::from_secs(10));
        PgSession::connect(config)
    }

    /// Runs SQL (simple protocol) and returns every row's values as text.
    pub fn try_query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
        let messages = self.rt.block_on(self.client.simple_query(sql))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(String::from)).collect()),
                _ => None,
            })
            .collect())
    }

    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// The first row of a query that must return one, as text (`NULL` for null).
    pub fn row(&self, sql: &str) -> Vec<String> {
        self.try_row(sql).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`PgSession::row`] for a probe that polls a server which may restart under it: a
    /// cut connection or an error is an observation, not a failure.
    pub fn try_row(&self, sql: &str) -> Result<Vec<String>, String> {
        let rows = self.try_query(sql).map_err(|e| format!("{sql}: {e:?}"))?;
        let first = rows.into_iter().next().ok_or_else(|| format!("{sql}: no rows"))?;
        Ok(first.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect())
    }

    pub fn execute(&self, sql: &str) {
        self.rt.block_on(self.client.batch_execute(sql)).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

/// `relation_id_<digits>`, the user name postgresql-k8s gives a relation (charm-protocol.md §3.4).
pub fn is_relation_user(name: &str) -> bool {
    name.strip_prefix("relation_id_").is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
}

impl PgLogin {
    /// Logs in and classifies the result: 28P01/28000 are bad credentials.
    pub fn outcome(&self) -> LoginOutcome {
        match self.connect() {
            Ok(_) => LoginOutcome::Accepted,
            Err(LoginFailure::Refused { code, message }) if code == "28P01" || code == "28000" => {
                LoginOutcome::BadCredentials(format!("{code} {message}"))
            }
            Err(e) => LoginOutcome::Other(format!("{e:?}")),
        }
    }
}
