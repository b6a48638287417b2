//! [`MyAdmin`]: tether's admin sessions on one MariaDB or MySQL 8 server, logged in
//! (normally as `root`) over 127.0.0.1, managing the charm's internal users, relation
//! users, legacy endpoint users and their databases (charm-protocol §4).
//!
//! Every account statement is rendered by `tether_core::my_plan` for the server's
//! [`Dialect`] (read once from `SELECT VERSION()` at the first login). On MariaDB
//! passwords are turned into their `mysql_native_password` hash here, so the server, its
//! logs and every error text only ever see the hash. On MySQL 8 accounts use
//! `caching_sha2_password` and the statement carries the password: sessions run with
//! `sql_log_off`, the error of such a statement is reported by code only ([`withheld`]),
//! and the rendered statements are [`Statements`], zeroed when dropped. Lookups are
//! bound parameters.
//!
//! Hooks of different relations run at once, so the admin keeps a small pool (at most
//! [`POOL_CAP`] sessions per server) instead of one session under a lock: each operation
//! checks a session out ([`Session`]), and returns it when done. A session whose
//! connection broke is discarded and the operation runs again once on a fresh one (every
//! operation is a sequence of idempotent lookups and statements). A password change bumps
//! a generation: sessions logged in with an older password are closed rather than reused.
//! Each session pins its `sql_mode` (see [`my_plan::SESSION_SQL_MODE`]) and turns the
//! general log off for itself. Account statements commit implicitly, so each "ensure" is
//! a sequence of idempotent statements that a retried hook simply runs again; the
//! engine never runs two operations on the same user at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, SslOpts};
use tether_core::my_plan::{self, Auth, Dialect};
use zeroize::Zeroizing;

use super::error::MyError;
use super::server::{native_password_hash, tcp_opts};
use crate::engines::admin_pool::{AdminPool, AdoptedLogin, PooledAdmin};
use crate::engines::settings::SettingChanges;
use crate::engines::tls::TlsCa;
use crate::engines::user_admin::{DatabaseGrant, Ensured, Ownership, RelationUser, UserAdmin};
use crate::secret::SecretString;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one admin operation (a few statements) may take (see `with_session!`).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// The host of every server tether runs itself.
const LOOPBACK: &str = "127.0.0.1";
/// Admin sessions per server (issue 6: connection pools per engine capped).
pub const POOL_CAP: usize = 4;
/// A session idle longer than this is pinged before use (a server restart in between
/// would otherwise cost the first operation a failure); fresher ones are used as they are
/// and a broken one is caught by the retry.
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);
/// `KILL` of a session that is already gone.
const ER_NO_SUCH_THREAD: u16 = 1094;

pub struct MyAdmin {
    host: String,
    port: u16,
    /// On an adopted server: the application (`<model uuid>/<app>`) whose relation users
    /// this client manages (see [`adopted`]); `None` on a server tether runs.
    owner: Option<String>,
    /// The CA an adopted server's certificate must chain to (`tls-ca`): every session is
    /// then TLS with the server's name checked; `None`: unencrypted.
    tls: Option<TlsCa>,
    user: String,
    password: RwLock<SecretString>,
    /// Bumped by every password change; sessions remember the one they logged in with.
    generation: AtomicU64,
    idle: Mutex<Vec<Idle>>,
    /// One permit per session in use or idle: at most [`POOL_CAP`] connections.
    slots: tokio::sync::Semaphore,
    dialect: Dialect,
    /// The predefined roles and the ownership registry exist (made once per server).
    setup: tokio::sync::OnceCell<()>,
}

struct Idle {
    conn: Conn,
    generation: u64,
    since: Instant,
}

impl std::fmt::Debug for MyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyAdmin")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

fn step(step: &'static str) -> impl FnOnce(mysql_async::Error) -> MyError {
    move |source| MyError::Query { step, source }
}

/// For statements that carry a password in clear (MySQL 8): the server's message may
/// quote the statement, so only its code is kept.
fn withheld(step: &'static str) -> impl FnOnce(mysql_async::Error) -> MyError {
    move |source| {
        let source = match source {
            // 1396 (the account exists, or does not) quotes only the account.
            mysql_async::Error::Server(s) if s.code != my_plan::adopted::ACCOUNT_TAKEN => mysql_async::Error::Other(
                format!("server error {} ({}); its text is withheld because the statement carries a password", s.code, s.state).into(),
            ),
            other => other,
        };
        MyError::Query { step, source }
    }
}

/// Rendered statements; on MySQL 8 some carry a password, so the buffers are zeroed when
/// dropped.
type Statements = Zeroizing<Vec<String>>;

/// A checked-out admin connection; returned to the pool when dropped unless it broke.
struct Session<'a> {
    admin: &'a MyAdmin,
    conn: Option<Conn>,
    generation: u64,
    _slot: tokio::sync::SemaphorePermit<'a>,
}

impl Session<'_> {
    fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a session holds its connection until dropped")
    }

    /// Marks the connection broken when `r` says so: it is closed, not pooled, and so are
    /// the idle ones (a lost connection usually means the server restarted, so they are
    /// broken too and the retry must not pick one of them).
    fn check<T>(&mut self, r: Result<T, MyError>) -> Result<T, MyError> {
        if let Err(e) = &r {
            if e.connection_lost() {
                self.conn = None;
                self.admin.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }
        }
        r
    }

    /// Runs rendered statements in order, in one round trip (a multi-statement text
    /// query: every statement was rendered with quoted identifiers by `my_plan`, and
    /// execution stops at the first error).
    async fn run(&mut self, statements: &[String], what: &'static str, clear: bool) -> Result<(), MyError> {
        if statements.is_empty() {
            return Ok(());
        }
        let text = Zeroizing::new(statements.join(";\n"));
        let r = self.conn().query_drop(text.as_str()).await;
        let r = if clear { r.map_err(withheld(what)) } else { r.map_err(step(what)) };
        self.check(r)
    }

    /// Ends every session of `user`: MariaDB's `KILL CONNECTION USER` in one statement;
    /// on MySQL each session `information_schema.PROCESSLIST` lists (bound: the user) is
    /// killed by its id, an integer the server gave, so nothing but digits is put in the
    /// statement. A session that ended meanwhile is fine.
    async fn end_sessions(&mut self, d: Dialect, user: &str) -> Result<(), MyError> {
        if let Some(kill) = my_plan::kill_sessions(d, user)? {
            let r = self.conn().query_drop(kill.as_str()).await.map_err(step("ending the user's sessions"));
            return self.check(r);
        }
        let r = self
            .conn()
            .exec::<u64, _, _>("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", (user,))
            .await
            .map_err(step("listing the user's sessions"));
        for id in self.check(r)? {
            let r = self.conn().query_drop(format!("KILL CONNECTION {id}")).await;
            match r {
                // Gone already: ER_NO_SUCH_THREAD.
                Err(mysql_async::Error::Server(e)) if e.code == ER_NO_SUCH_THREAD => {}
                r => self.check(r.map_err(step("ending the user's sessions")))?,
            }
        }
        Ok(())
    }

    async fn exists(&mut self, user: &str, host: &str) -> Result<bool, MyError> {
        let r = self
            .conn()
            .exec_first::<u8, _, _>("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", (user, host))
            .await
            .map_err(step("checking whether the user exists"));
        Ok(self.check(r)?.is_some())
    }

    /// Before an integration writes: the database's DBA role (the one holding it, else
    /// the first free) and whether `user` exists, in one round trip.
    async fn integration_lookup(&mut self, database: &str, user: &str) -> Result<(String, bool), MyError> {
        let d = self.admin.dialect;
        let pattern = my_plan::grant_scope_pattern(database)?;
        let prefix = my_plan::db_dba_role_prefix(database);
        let r = self
            .conn()
            .exec::<(Option<String>, i64), _, _>(my_plan::INTEGRATION_LOOKUP, (d.role_host(), &pattern, &prefix, &prefix, user))
            .await
            .map_err(step("looking up the database's DBA role and the user"));
        let rows = self.check(r)?;
        let mut roles = Vec::new();
        let mut user_exists = false;
        for (role, flag) in rows {
            match role {
                Some(r) => roles.push((r, flag != 0)),
                None => user_exists = flag != 0,
            }
        }
        Ok((my_plan::choose_dba_role(database, &roles), user_exists))
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.generation == self.admin.generation.load(Ordering::SeqCst) {
                let idle = Idle { conn, generation: self.generation, since: Instant::now() };
                self.admin.idle.lock().unwrap_or_else(|p| p.into_inner()).push(idle);
            }
            // Otherwise it logged in with a password that is no longer the truth: dropping
            // it closes it.
        }
    }
}

/// Runs `$body` (which uses the session `$s`) on a pooled session, once more on a fresh
/// session if the connection turned out to be broken. A body that takes longer than
/// [`OPERATION_TIMEOUT`] (a server cut off by the network) is abandoned with its session,
/// which is closed rather than pooled half-way through a query.
macro_rules! with_session {
    ($admin:expr, |$s:ident| $body:block) => {{
        let mut attempt = 0;
        loop {
            let mut session = $admin.session().await?;
            let $s = &mut session;
            let outcome = tokio::time::timeout(OPERATION_TIMEOUT, async { $body }).await;
            let r = match outcome {
                Ok(r) => r,
                Err(_) => {
                    session.conn = None;
                    Err(MyError::Query {
                        step: "waiting for the server",
                        source: mysql_async::Error::Io(std::io::Error::from(std::io::ErrorKind::TimedOut).into()),
                    })
                }
            };
            match r {
                Err(e) if attempt == 0 && MyError::connection_lost(&e) => attempt += 1,
                other => break other,
            }
        }
    }};
}

impl MyAdmin {
    /// Logs in to 127.0.0.1:`port` (failing now if it cannot) and learns which server it
    /// is.
    pub async fn connect(port: u16, user: &str, password: &SecretString) -> Result<MyAdmin, MyError> {
        MyAdmin::connect_at(LOOPBACK, port, user, password, None, None).await
    }

    async fn connect_at(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        owner: Option<&str>,
        tls: Option<&TlsCa>,
    ) -> Result<MyAdmin, MyError> {
        let mut conn = open(host, port, user, password, owner.is_none(), tls).await?;
        let version: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(step("reading the server version"))?;
        let admin = MyAdmin {
            host: host.to_string(),
            port,
            owner: owner.map(str::to_string),
            tls: tls.cloned(),
            user: user.to_string(),
            password: RwLock::new(password.clone()),
            generation: AtomicU64::new(0),
            idle: Mutex::new(vec![Idle { conn, generation: 0, since: Instant::now() }]),
            slots: tokio::sync::Semaphore::new(POOL_CAP),
            dialect: Dialect::from_version(&version.unwrap_or_default()),
            setup: Default::default(),
        };
        Ok(admin)
    }

    /// Which server this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Replaces the credentials used for future connections; pooled sessions logged in
    /// with another password are closed instead of reused. The same password again
    /// changes nothing.
    pub fn update_password(&self, password: &SecretString) {
        let mut current = self.password.write().unwrap_or_else(|p| p.into_inner());
        if current.expose() != password.expose() {
            *current = password.clone();
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// Closes the idle sessions; the next operation reconnects.
    #[cfg(test)]
    pub async fn disconnect(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for i in idle {
            let _ = i.conn.disconnect().await;
        }
    }

    /// How many sessions are idle in the pool.
    #[cfg(test)]
    pub fn idle_sessions(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// A session: an idle one of the current password (pinged if it idled long), else a
    /// new login. Waits while [`POOL_CAP`] sessions are in use.
    async fn session(&self) -> Result<Session<'_>, MyError> {
        let slot = self.slots.acquire().await.expect("the semaphore is never closed");
        let generation = self.generation.load(Ordering::SeqCst);
        loop {
            let next = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut idle) = next else { break };
            if idle.generation != generation {
                continue;
            }
            if idle.since.elapsed() >= PING_AFTER_IDLE
                && !matches!(tokio::time::timeout(CONNECT_TIMEOUT, idle.conn.ping()).await, Ok(Ok(())))
            {
                continue;
            }
            return Ok(Session { admin: self, conn: Some(idle.conn), generation, _slot: slot });
        }
        let password = self.password.read().unwrap_or_else(|p| p.into_inner()).clone();
        let conn = open(&self.host, self.port, &self.user, &password, self.owner.is_none(), self.tls.as_ref()).await?;
        Ok(Session { admin: self, conn: Some(conn), generation, _slot: slot })
    }

    /// How a password reaches this server (see the module docs).
    fn auth(&self, password: &SecretString) -> Auth {
        match self.dialect {
            Dialect::MariaDb => Auth::NativeHash(native_password_hash(password)),
            Dialect::MySql => Auth::Sha2(password.expose().to_string()),
        }
    }

    /// The predefined roles and the ownership registry, once per server (concurrent
    /// first callers wait for the one that runs it).
    async fn ensure_setup(&self, s: &mut Session<'_>) -> Result<(), MyError> {
        self.setup
            .get_or_try_init(|| async {
                if self.owner.is_some() {
                    return s.run(&my_plan::adopted::registry()?, "creating tether's user registry", false).await;
                }
                let mut statements = my_plan::predefined_roles(self.dialect)?;
                statements.extend(my_plan::managed_users_registry()?);
                s.run(&statements, "creating the predefined roles and the user registry", false).await
            })
            .await
            .map(|_| ())
    }

    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1` or `8.0.36`.
    async fn server_version(&self) -> Result<String, MyError> {
        with_session!(self, |s| {
            let r = s.conn().query_first::<String, _>("SELECT VERSION()").await.map_err(step("reading the server version"));
            Ok(s.check(r)?.unwrap_or_default())
        })
    }

    /// Sets server settings live (`SET GLOBAL`); a value the server refuses is an error.
    pub async fn set_globals(&self, changes: &SettingChanges) -> Result<(), MyError> {
        let statements =
            changes.iter().map(|(name, (_, new))| my_plan::set_global(name, new.as_deref())).collect::<Result<Vec<String>, _>>()?;
        with_session!(self, |s| { s.run(&statements, "changing server settings", false).await })
    }

    /// Makes the server reopen its error log by name (after tether renamed it) and, when the
    /// audit plugin is loaded, start a new audit file (`server_audit_file_rotate_now`).
    pub async fn reopen_logs(&self, audit: bool) -> Result<(), MyError> {
        let mut statements = vec!["FLUSH ERROR LOGS".to_string()];
        if audit {
            statements.push("SET GLOBAL server_audit_file_rotate_now = ON".to_string());
        }
        with_session!(self, |s| { s.run(&statements, "reopening the server's logs", false).await })
    }

    /// Whether the account `user@host` exists (bound parameters).
    #[cfg(test)]
    pub async fn user_exists(&self, user: &str, host: &str) -> Result<bool, MyError> {
        with_session!(self, |s| { s.exists(user, host).await })
    }

    /// Makes the charm's internal users (§4.3) exist with these passwords and their
    /// privileges, after the predefined roles, in one round trip. When the admin's own
    /// login is among them, later connections use the new password.
    pub async fn ensure_system_users(&self, users: &[(&str, &SecretString)]) -> Result<(), MyError> {
        let mut statements = Statements::default();
        let mut clear = false;
        for (user, password) in users {
            let auth = self.auth(password);
            clear |= auth.is_clear();
            statements.extend(my_plan::system_user(self.dialect, user, &auth)?);
        }
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            s.run(&statements, "ensuring the internal users", clear).await
        })?;
        for (user, password) in users {
            if *user == self.user {
                self.update_password(password);
            }
        }
        Ok(())
    }

    /// Makes a `database` relation user exist with exactly this password, confined to
    /// `database` (created if missing) or holding exactly the `extra_user_roles` (§4.4.6).
    /// Unknown or forbidden roles fail with the charm's text before anything changes.
    /// Returns whether the user was new. Two round trips: one lookup (the database's DBA
    /// role and whether the user exists), one batch of statements (plus one lookup per
    /// `charmed_dba_*` role asked for).
    #[cfg(test)]
    pub async fn ensure_user_on_database(
        &self,
        user: &str,
        password: &SecretString,
        database: &str,
        extra_user_roles: &str,
    ) -> Result<bool, MyError> {
        self.ensure_user_on_databases(user, password, &[database], extra_user_roles).await
    }

    /// [`MyAdmin::ensure_user_on_database`] for a user that serves several databases (the
    /// requests of one v1 relation): each is created with its DBA role, the user gets ALL
    /// on every one of them.
    pub async fn ensure_user_on_databases(
        &self,
        user: &str,
        password: &SecretString,
        databases: &[&str],
        extra_user_roles: &str,
    ) -> Result<bool, MyError> {
        let auth = self.auth(password);
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            let mut db_roles = Vec::new();
            for candidate in my_plan::db_role_candidates(extra_user_roles) {
                if s.exists(candidate, self.dialect.role_host()).await? {
                    db_roles.push(candidate.to_string());
                }
            }
            let extra = my_plan::classify_roles(extra_user_roles, |r| db_roles.iter().any(|x| x == r))?;
            // Validate and render everything before the first change.
            let mut statements = Statements::default();
            let mut existed = false;
            for database in databases {
                let (dba_role, user_exists) = s.integration_lookup(database, user).await?;
                existed = user_exists;
                if !extra.router {
                    statements.extend(my_plan::create_database(database, &dba_role)?);
                }
            }
            statements.extend(my_plan::ensure_relation_user(self.dialect, user, &auth, databases, &extra, !existed)?);
            s.run(&statements, "ensuring the relation user and its databases", auth.is_clear()).await?;
            Ok(!existed)
        })
    }

    /// Makes the shared user of a legacy `mysql` (`root == false`) or `mysql-root` endpoint
    /// exist with its database (§4.5). For `mysql-root`, `root@'%'` is also created with the
    /// admin's password when it is missing and the admin is `root`. On an adopted server
    /// the `mysql` user is made as a relation user is there (claimed in the registry, `ALL`
    /// on its database, nothing else); `mysql-root` is refused.
    pub async fn ensure_legacy_user(&self, user: &str, password: &SecretString, database: &str, root: bool) -> Result<(), MyError> {
        if let Some(owner) = &self.owner {
            if root {
                return Err(MyError::Unsupported(ADOPTED_ROOT));
            }
            let grants = [DatabaseGrant { name: database, ownership: Ownership::Shared, extra_user_roles: "" }];
            let req = RelationUser { user, password, extra_user_roles: "", databases: &grants, acts_as: None };
            return self.ensure_adopted_user(owner, &req, &[database]).await.map(drop);
        }
        let auth = self.auth(password);
        let user_statements = Statements::new(my_plan::ensure_legacy_user(self.dialect, user, &auth, database, root)?);
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            let (dba_role, _) = s.integration_lookup(database, user).await?;
            let mut statements = Statements::new(my_plan::create_database(database, &dba_role)?);
            statements.extend(user_statements.iter().cloned());
            s.run(&statements, "ensuring the legacy user and its database", auth.is_clear()).await?;
            if root && self.user == "root" && !s.exists("root", my_plan::ANY_HOST).await? {
                let own = self.password.read().unwrap_or_else(|p| p.into_inner()).clone();
                let own = self.auth(&own);
                let mut statements = Statements::new(my_plan::ensure_account("root", my_plan::ANY_HOST, &own)?);
                statements.extend(my_plan::mysql_root_grant(self.dialect, "root", my_plan::ANY_HOST)?);
                s.run(&statements, "creating root@'%'", own.is_clear()).await?;
            }
            Ok(())
        })
    }

    /// Ends a user for good, in this order so that no session outlives it: its account is
    /// locked (no new login from here on), every session it has is ended, then it is
    /// dropped with its bundle role and forgotten in the registry. Its database stays. A
    /// missing user is success.
    pub async fn drop_user(&self, user: &str) -> Result<(), MyError> {
        let lock = vec![my_plan::lock_account(user, my_plan::ANY_HOST)?];
        let drop = my_plan::drop_user(user, my_plan::ANY_HOST)?;
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            s.run(&lock, "locking the user's account", false).await?;
            s.end_sessions(self.dialect, user).await?;
            s.run(&drop, "dropping the user", false).await
        })
    }

    /// Sets `user@host`'s password. For `root` every root account tether keeps
    /// (`localhost`, `127.0.0.1`, `%`) changes together, since they are one user to the
    /// charm. When it is the admin's own login, later connections use the new password.
    pub async fn set_password(&self, user: &str, host: &str, password: &SecretString) -> Result<(), MyError> {
        let auth = self.auth(password);
        with_session!(self, |s| {
            let hosts: Vec<String> = if user == "root" {
                let r = s
                    .conn()
                    .exec("SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host", (user,))
                    .await
                    .map_err(step("listing root's accounts"));
                s.check(r)?
            } else {
                vec![host.to_string()]
            };
            let statements = Statements::new(hosts.iter().map(|h| my_plan::set_password(user, h, &auth)).collect::<Result<_, _>>()?);
            s.run(&statements, "setting the password", auth.is_clear()).await
        })?;
        if user == self.user {
            self.update_password(password);
        }
        Ok(())
    }

    /// The users tether recorded as its own whose name starts with `prefix`, sorted,
    /// without duplicates.
    pub async fn list_users(&self, prefix: &str) -> Result<Vec<String>, MyError> {
        // Only users in the registry: a look-alike created by hand is not ours (and roles
        // are never recorded there).
        let sql = format!(
            "SELECT DISTINCT User FROM mysql.user WHERE LEFT(User, CHAR_LENGTH(?)) = ? AND User IN (SELECT user FROM {}) ORDER BY User",
            my_plan::registry()?
        );
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            let r = s.conn().exec::<String, _, _>(sql.as_str(), (prefix, prefix)).await.map_err(step("listing users"));
            let mut users = s.check(r)?;
            // By bytes whatever the server's collation (`relation-7_…` before `relation-7r1_…`).
            users.sort();
            users.dedup();
            Ok(users)
        })
    }
}

/// One admin login with the session settings every admin connection runs with
/// (`quiet`: the general log off for the session, which needs `SUPER` on MariaDB, so an
/// adopted server's admin tries it on its own, see [`adopted`]).
async fn open(host: &str, port: u16, user: &str, password: &SecretString, quiet: bool, tls: Option<&TlsCa>) -> Result<Conn, MyError> {
    let log_off = if quiet { ", sql_log_off = 1" } else { "" };
    let init = vec![format!("SET SESSION sql_mode = '{}'{log_off}", my_plan::SESSION_SQL_MODE)];
    // With `tls-ca`: TLS that trusts that CA only and checks the server's name against
    // its certificate (mysql_async's default for a name), like `--ssl-verify-server-cert`.
    let ssl = tls.map(|ca| SslOpts::default().with_disable_built_in_roots(true).with_root_certs(vec![ca.pem().as_bytes().to_vec().into()]));
    let opts = tcp_opts(port, user, password).ip_or_hostname(host.to_string()).init(init).ssl_opts(ssl);
    let err = |source| MyError::Connect { host: host.to_string(), port, user: user.to_string(), source };
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
        Ok(r) => r.map_err(err)?,
        Err(_) => return Err(err(mysql_async::Error::Other("no answer within 10 s".into()))),
    };
    if !quiet {
        // Passwords reach MariaDB only as hashes; on MySQL 8 this keeps them out of the log where the login may.
        let _ = conn.query_drop("SET SESSION sql_log_off = 1").await;
    }
    Ok(conn)
}

/// Why `mysql-root` is refused on an adopted server.
pub const ADOPTED_ROOT: &str =
    "the legacy mysql-root endpoint is not available on an adopted server: it would hand out the server's root password; use database";

/// The pool of MySQL/MariaDB admin clients, one per server, logging in as `root` (see
/// `engines::admin_pool`).
pub type MyAdmins = AdminPool<MyAdmin>;

#[async_trait::async_trait]
impl PooledAdmin for MyAdmin {
    type Error = MyError;
    const ADMIN_USER: &'static str = "root";
    async fn connect(port: u16, user: &str, password: &SecretString) -> Result<MyAdmin, MyError> {
        MyAdmin::connect(port, user, password).await
    }
    async fn use_password(&self, password: &SecretString) -> Result<(), MyError> {
        self.update_password(password);
        Ok(())
    }
    async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<MyAdmin, MyError> {
        MyAdmin::connect_adopted(login).await
    }
    fn adopted_as(&self, login: &AdoptedLogin<'_>) -> bool {
        self.user == login.user && self.owner.as_deref() == Some(login.scope) && self.tls.as_ref() == login.tls
    }
}

#[async_trait::async_trait]
impl UserAdmin for MyAdmin {
    type Error = MyError;

    async fn ensure_relation_user(&self, req: &RelationUser<'_>) -> Result<Ensured, MyError> {
        let databases: Vec<&str> = req.databases.iter().map(|d| d.name).collect();
        if let Some(owner) = &self.owner {
            return self.ensure_adopted_user(owner, req, &databases).await;
        }
        let created = self.ensure_user_on_databases(req.user, req.password, &databases, req.extra_user_roles).await?;
        Ok(if created { Ensured::Created } else { Ensured::AlreadyThere })
    }
    async fn drop_relation_user(&self, user: &str) -> Result<(), MyError> {
        if let Some(owner) = &self.owner {
            return self.drop_adopted_user(owner, user).await;
        }
        self.drop_user(user).await
    }
    /// The login is dropped whoever `owner` is (MariaDB and MySQL objects have no owner):
    /// its account is locked first, so no new session starts, then its open sessions are
    /// ended and it is dropped, as [`UserAdmin::drop_relation_user`] does.
    async fn retire_login(&self, login: &str, _owner: &str) -> Result<(), MyError> {
        UserAdmin::drop_relation_user(self, login).await
    }
    async fn list_relation_users(&self) -> Result<Vec<String>, MyError> {
        if let Some(owner) = &self.owner {
            return self.list_adopted_users(owner).await;
        }
        self.list_users(my_plan::RELATION_PREFIX).await
    }
    async fn set_internal_password(&self, user: &str, password: &SecretString) -> Result<(), MyError> {
        if self.owner.is_some() {
            // On an adopted server tether has no internal users: only its admin login changes.
            if user != self.user {
                return Err(MyError::Unsupported("only the admin's own password changes on an adopted server"));
            }
            return self.set_own_password(password).await;
        }
        let host = if user == self.user { "localhost" } else { "%" };
        self.set_password(user, host, password).await
    }
    async fn version(&self) -> Result<String, MyError> {
        self.server_version().await
    }
}

mod adopted;
#[cfg(test)]
mod tests;
