//! MySQL/MariaDB logins: [`MyLogin`] (the credentials a charm hands out, or a legacy
//! databag), [`MySession`] (one open connection driven by `mysql_async`), and the checks and
//! bounded waits tests make with them.

use super::login::{first_endpoint, wait_until_refused, LoginFailure, LoginOutcome};
use super::wait::{wait_until, SETTLE_TIMEOUT};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Everything needed to log in to MySQL/MariaDB over TCP.
#[derive(Clone)]
pub struct MyLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The default database, if any.
    pub dbname: Option<String>,
}

impl fmt::Debug for MyLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}/{}", self.user, self.host, self.port, self.dbname.as_deref().unwrap_or(""))
    }
}

/// Why a MySQL login or statement did not work: refused with an error code (e.g. 1045
/// access denied) and message, or unreachable.
pub type MyFailure = LoginFailure<u16>;

impl MyFailure {
    fn from_error(e: mysql_async::Error) -> MyFailure {
        match e {
            mysql_async::Error::Server(s) => MyFailure::Refused { code: s.code, message: s.message },
            other => MyFailure::Unreachable(other.to_string()),
        }
    }
}

impl MyLogin {
    /// The login a data-integrator `mysql` credentials map describes.
    pub fn from_credentials(my: &Value) -> MyLogin {
        let field = |k: &str| my[k].as_str().unwrap_or_else(|| panic!("credentials lack {k:?}: {my:#}")).to_string();
        let (host, port) = first_endpoint(&field("endpoints"));
        MyLogin { host, port, user: field("username"), password: field("password"), dbname: Some(field("database")) }
    }

    /// The login a legacy `mysql`/`mysql-root` unit databag describes (`host`, `port`,
    /// `user`, `password`, `database`).
    pub fn from_legacy_bag(bag: &Value) -> MyLogin {
        let field = |k: &str| bag[k].as_str().unwrap_or_else(|| panic!("legacy databag lacks {k:?}: {bag:#}")).to_string();
        let port = field("port").parse().unwrap_or_else(|_| panic!("legacy port is not a number: {bag:#}"));
        MyLogin { host: field("host"), port, user: field("user"), password: field("password"), dbname: Some(field("database")) }
    }

    pub fn with_db(&self, dbname: Option<&str>) -> MyLogin {
        MyLogin { dbname: dbname.map(String::from), ..self.clone() }
    }

    pub fn as_user(&self, user: &str, password: &str) -> MyLogin {
        MyLogin { user: user.to_string(), password: password.to_string(), ..self.clone() }
    }

    pub fn connect(&self) -> Result<MySession, MyFailure> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .prefer_socket(false)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .db_name(self.dbname.clone());
        let conn = rt.block_on(async {
            match tokio::time::timeout(Duration::from_secs(15), mysql_async::Conn::new(opts)).await {
                Ok(r) => r.map_err(MyFailure::from_error),
                Err(_) => Err(MyFailure::Unreachable("connect timed out".into())),
            }
        })?;
        Ok(MySession { conn: Some(conn), rt })
    }

    /// Logs in or panics with the reason.
    pub fn session(&self) -> MySession {
        self.connect().unwrap_or_else(|e| panic!("cannot log in as {self:?}: {e:?}"))
    }

    /// Polls until the server refuses this login (not merely unreachable); bounded.
    pub fn wait_refused(&self) -> (u16, String) {
        wait_until_refused(self, || self.connect())
    }

    /// Polls until the server refuses this login as a user it does not know: 1045, or
    /// 1698, which MariaDB answers for a user it just dropped; bounded. 4151 (account
    /// locked) is the moment before: tether locks a user, ends its sessions, then drops it.
    /// Returns the refusal's code and message.
    pub fn wait_denied(&self) -> (u16, String) {
        wait_until(&format!("the server to deny {self:?} as an unknown user"), SETTLE_TIMEOUT, || match self.connect() {
            Err(MyFailure::Refused { code, message }) if code == 1045 || code == 1698 => Ok((code, message)),
            other => Err(format!("{:?}", other.err())),
        })
    }

    /// Polls until this login works; bounded.
    pub fn wait_session(&self) -> MySession {
        wait_until(&format!("a login as {self:?}"), SETTLE_TIMEOUT, || self.connect().map_err(|e| format!("{e:?}")))
    }

    /// `SELECT count(*)` of `table` as this login, or why it could not be read (a member
    /// that is down or not synced is an observation, not a failure).
    pub fn count_rows(&self, table: &str) -> Result<i64, String> {
        let mut s = self.connect().map_err(|e| format!("{e:?}"))?;
        s.try_row(&format!("SELECT count(*) FROM {table}"))?[0].parse().map_err(|e| format!("{e}"))
    }
}

/// Asserts that the server refuses `login` with "access denied" (1045: wrong password or
/// no such user; 1044: the user exists but may not use that database).
pub fn assert_my_refused(login: &MyLogin) -> (u16, String) {
    match login.connect() {
        Err(MyFailure::Refused { code, message }) => {
            assert!(code == 1045 || code == 1044, "expected an access-denied refusal for {login:?}, got {code} {message}");
            (code, message)
        }
        Err(other) => panic!("expected the server to refuse {login:?}, got {other:?}"),
        Ok(_) => panic!("{login:?} logged in, expected a refusal"),
    }
}

/// One open MySQL connection, with the small runtime that drives it.
pub struct MySession {
    conn: Option<mysql_async::Conn>,
    rt: tokio::runtime::Runtime,
}

impl MySession {
    /// Runs SQL (text protocol) and returns every row's values as text.
    pub fn try_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, MyFailure> {
        use mysql_async::prelude::Queryable;
        let conn = self.conn.as_mut().expect("connection open");
        let rows: Vec<mysql_async::Row> = self.rt.block_on(conn.query(sql)).map_err(MyFailure::from_error)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                        Some(mysql_async::Value::NULL) | None => None,
                        Some(other) => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect())
    }

    pub fn query(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// The first row of a query that must return one, as text (`NULL` for null).
    pub fn row(&mut self, sql: &str) -> Vec<String> {
        self.try_row(sql).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`MySession::row`] for a probe that polls a server which may restart under it: a
    /// cut connection or an error is an observation, not a failure.
    pub fn try_row(&mut self, sql: &str) -> Result<Vec<String>, String> {
        let rows = self.try_query(sql).map_err(|e| format!("{sql}: {e:?}"))?;
        let first = rows.into_iter().next().ok_or_else(|| format!("{sql}: no rows"))?;
        Ok(first.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect())
    }

    /// The first column of every row.
    pub fn column(&mut self, sql: &str) -> Vec<String> {
        self.query(sql).into_iter().filter_map(|row| row.into_iter().next().flatten()).collect()
    }

    pub fn execute(&mut self, sql: &str) {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// Runs a statement that the server must refuse; returns the error code and message.
    pub fn refused(&mut self, sql: &str) -> (u16, String) {
        match self.try_query(sql) {
            Err(MyFailure::Refused { code, message }) => (code, message),
            Err(other) => panic!("{sql}: expected the server to refuse it, got {other:?}"),
            Ok(rows) => panic!("{sql}: expected the server to refuse it, it returned {rows:?}"),
        }
    }
}

impl Drop for MySession {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), conn.disconnect()).await });
        }
    }
}

/// `relation-<id>_<model uuid without dashes>` cut to 26 characters: the user name
/// mysql-k8s gives a `database` relation (charm-protocol.md §4.4).
pub fn is_mysql_relation_user(name: &str) -> bool {
    let Some((id, uuid)) = name.strip_prefix("relation-").and_then(|rest| rest.split_once('_')) else { return false };
    name.len() == 26
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_digit())
        && !uuid.is_empty()
        && uuid.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

impl MyLogin {
    /// Logs in and classifies the result like [`PgLogin::outcome`] (1045: bad credentials;
    /// 1698, MariaDB's answer for a user it dropped a moment ago, too).
    pub fn outcome(&self) -> LoginOutcome {
        match self.connect() {
            Ok(_) => LoginOutcome::Accepted,
            Err(MyFailure::Refused { code: code @ (1045 | 1698), message }) => LoginOutcome::BadCredentials(format!("{code} {message}")),
            Err(e) => LoginOutcome::Other(format!("{e:?}")),
        }
    }
}
