//! [`MyAdmin`]: tether's admin session on one MariaDB server, logged in (normally as
//! `root`) over 127.0.0.1, managing the charm's internal users, relation users, legacy
//! endpoint users and their databases (charm-protocol §4).
//!
//! Every account statement is rendered by `tether_core::my_plan`; passwords are turned into
//! their `mysql_native_password` hash here before any statement exists, so the server, its
//! logs and every error text only ever see the hash. Lookups (does this account exist?)
//! are bound parameters. One connection is kept and operations run one at a time, so
//! "ensure" and "drop" of the same user never interleave; the connection pins its
//! `sql_mode` (see [`my_plan::SESSION_SQL_MODE`]) and turns the general log off for itself.
//! Account statements commit implicitly in MariaDB, so each "ensure" is a sequence of
//! idempotent statements that a retried hook simply runs again.

use std::sync::RwLock;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tether_core::my_plan;

use super::{DbError, UserAdmin, UserRequest};
use crate::secret::SecretString;
use crate::workload::mariadb::{native_password_hash, tcp_opts};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct MyAdmin {
    port: u16,
    user: String,
    password: RwLock<SecretString>,
    /// The open connection; the lock also serialises operations.
    conn: tokio::sync::Mutex<Option<Conn>>,
    /// Set once the predefined roles exist on this server (they are created once, not per
    /// integration).
    roles_ready: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for MyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyAdmin").field("port", &self.port).field("user", &self.user).finish_non_exhaustive()
    }
}

fn step(step: &'static str) -> impl FnOnce(mysql_async::Error) -> DbError {
    move |source| DbError::MyQuery { step, source }
}

impl MyAdmin {
    /// Logs in to 127.0.0.1:`port` (failing now if it cannot).
    pub async fn connect(port: u16, user: &str, password: &SecretString) -> Result<MyAdmin, DbError> {
        let admin = MyAdmin {
            port,
            user: user.to_string(),
            password: RwLock::new(password.clone()),
            conn: Default::default(),
            roles_ready: Default::default(),
        };
        let c = admin.open().await?;
        *admin.conn.lock().await = Some(c);
        Ok(admin)
    }

    /// Replaces the credentials used for future connections (the open one stays).
    pub fn update_password(&self, password: &SecretString) {
        *self.password.write().unwrap_or_else(|p| p.into_inner()) = password.clone();
    }

    /// Closes the connection; the next operation reconnects.
    pub async fn disconnect(&self) {
        if let Some(c) = self.conn.lock().await.take() {
            let _ = c.disconnect().await;
        }
    }

    async fn open(&self) -> Result<Conn, DbError> {
        let password = self.password.read().unwrap_or_else(|p| p.into_inner()).clone();
        let init = vec![format!("SET SESSION sql_mode = '{}'", my_plan::SESSION_SQL_MODE), "SET SESSION sql_log_off = 1".to_string()];
        let opts = tcp_opts(self.port, &self.user, &password).init(init);
        let err = |source| DbError::MyConnect { port: self.port, user: self.user.clone(), source };
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(r) => r.map_err(err),
            Err(_) => Err(err(mysql_async::Error::Other("no answer within 10 s".into()))),
        }
    }

    /// The open connection, (re)opened when missing or no longer answering.
    async fn conn<'a>(&self, slot: &'a mut Option<Conn>) -> Result<&'a mut Conn, DbError> {
        let alive = match slot.as_mut() {
            Some(c) => c.ping().await.is_ok(),
            None => false,
        };
        if !alive {
            *slot = Some(self.open().await?);
        }
        Ok(slot.as_mut().expect("opened above"))
    }

    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub async fn version(&self) -> Result<String, DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        let v: Option<String> = c.query_first("SELECT VERSION()").await.map_err(step("reading the server version"))?;
        Ok(v.unwrap_or_default())
    }

    /// Whether the account `user@host` exists (bound parameters).
    pub async fn user_exists(&self, user: &str, host: &str) -> Result<bool, DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        account_exists(c, user, host).await
    }

    /// Makes the charm's internal users (§4.3) exist with these passwords and their
    /// privileges, after the predefined roles. When the admin's own login is among them,
    /// later connections use the new password.
    pub async fn ensure_system_users(&self, users: &[(&str, &SecretString)]) -> Result<(), DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        self.ensure_setup(c).await?;
        for (user, password) in users {
            run(c, &my_plan::system_user(user, &native_password_hash(password))?, "ensuring an internal user").await?;
            if *user == self.user {
                self.update_password(password);
            }
        }
        Ok(())
    }

    /// Makes a `database` relation user exist with exactly this password, confined to
    /// `database` (created if missing) or holding exactly the `extra_user_roles` (§4.4.6).
    /// Unknown or forbidden roles fail with the charm's text before anything changes.
    pub async fn ensure_relation_user(
        &self,
        user: &str,
        password: &SecretString,
        database: &str,
        extra_user_roles: &str,
    ) -> Result<(), DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        self.ensure_setup(c).await?;
        let roles: Vec<String> = c.query("SELECT User FROM mysql.user WHERE is_role = 'Y'").await.map_err(step("listing roles"))?;
        let extra = my_plan::classify_roles(extra_user_roles, |r| roles.iter().any(|x| x == r))?;
        let hash = native_password_hash(password);
        // Validate and render everything before the first change.
        let user_statements = my_plan::ensure_relation_user(user, &hash, database, &extra)?;
        if !extra.router {
            ensure_database(c, database).await?;
        }
        run(c, &user_statements, "ensuring the relation user").await?;
        mark_managed(c, user).await
    }

    /// Makes the shared user of a legacy `mysql` (`root == false`) or `mysql-root` endpoint
    /// exist with its database (§4.5). For `mysql-root`, `root@'%'` is also created with the
    /// admin's password when it is missing and the admin is `root`.
    pub async fn ensure_legacy_user(&self, user: &str, password: &SecretString, database: &str, root: bool) -> Result<(), DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        let statements = my_plan::ensure_legacy_user(user, &native_password_hash(password), database, root)?;
        self.ensure_setup(c).await?;
        ensure_database(c, database).await?;
        run(c, &statements, "ensuring the legacy user").await?;
        mark_managed(c, user).await?;
        if root && self.user == "root" && !account_exists(c, "root", my_plan::ANY_HOST).await? {
            let own = self.password.read().unwrap_or_else(|p| p.into_inner()).clone();
            let mut s = my_plan::ensure_account("root", my_plan::ANY_HOST, &native_password_hash(&own))?;
            s.push(my_plan::mysql_root_grant("root", my_plan::ANY_HOST)?);
            run(c, &s, "creating root@'%'").await?;
        }
        Ok(())
    }

    /// Ends the user's sessions and drops it (and its bundle role). Its database stays. A
    /// missing user is success.
    pub async fn drop_user(&self, user: &str) -> Result<(), DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        let sessions: Vec<u64> = c
            .exec("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", (user,))
            .await
            .map_err(step("listing the user's sessions"))?;
        for id in sessions {
            // Gone already is fine: ER_NO_SUCH_THREAD.
            if let Err(e) = c.query_drop(format!("KILL CONNECTION {id}")).await {
                if !matches!(&e, mysql_async::Error::Server(s) if s.code == 1094) {
                    return Err(step("ending the user's sessions")(e));
                }
            }
        }
        run(c, &my_plan::drop_user(user, my_plan::ANY_HOST)?, "dropping the user").await?;
        self.ensure_setup(c).await?;
        c.exec_drop(format!("DELETE FROM {} WHERE user = ?", registry()), (user,)).await.map_err(step("forgetting a managed user"))
    }

    /// The predefined roles and the ownership registry, once per server.
    async fn ensure_setup(&self, c: &mut Conn) -> Result<(), DbError> {
        if !self.roles_ready.load(std::sync::atomic::Ordering::Relaxed) {
            let mut statements = my_plan::predefined_roles()?;
            statements.extend(my_plan::managed_users_registry()?);
            run(c, &statements, "creating the predefined roles and the user registry").await?;
            self.roles_ready.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sets `user@host`'s password. For `root` every root account tether keeps
    /// (`localhost`, `127.0.0.1`, `%`) changes together, since they are one user to the
    /// charm. When it is the admin's own login, later connections use the new password.
    pub async fn set_password(&self, user: &str, host: &str, password: &SecretString) -> Result<(), DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        let hash = native_password_hash(password);
        let hosts: Vec<String> = if user == "root" {
            c.exec("SELECT Host FROM mysql.user WHERE User = ? AND is_role = 'N' ORDER BY Host", (user,))
                .await
                .map_err(step("listing root's accounts"))?
        } else {
            vec![host.to_string()]
        };
        let statements = hosts.iter().map(|h| my_plan::set_password(user, h, &hash)).collect::<Result<Vec<_>, _>>()?;
        run(c, &statements, "setting the password").await?;
        if user == self.user {
            self.update_password(password);
        }
        Ok(())
    }

    /// The users (not roles) whose name starts with `prefix`, sorted, without duplicates.
    pub async fn list_users(&self, prefix: &str) -> Result<Vec<String>, DbError> {
        let mut slot = self.conn.lock().await;
        let c = self.conn(&mut slot).await?;
        self.ensure_setup(c).await?;
        // Only users tether recorded as its own: a look-alike created by hand is not ours.
        c.exec(
            format!(
                "SELECT DISTINCT User FROM mysql.user WHERE is_role = 'N' AND LEFT(User, CHAR_LENGTH(?)) = ? \
                 AND User IN (SELECT user FROM {}) ORDER BY User",
                registry()
            ),
            (prefix, prefix),
        )
        .await
        .map_err(step("listing users"))
    }
}

/// The quoted `db.table` of the ownership registry.
fn registry() -> String {
    format!("`{}`.`{}`", my_plan::META_DATABASE, my_plan::MANAGED_USERS_TABLE)
}

/// Records `user` as managed by tether (idempotent; bound parameter).
async fn mark_managed(c: &mut Conn, user: &str) -> Result<(), DbError> {
    c.exec_drop(format!("INSERT IGNORE INTO {} (user) VALUES (?)", registry()), (user,)).await.map_err(step("recording a managed user"))
}

async fn account_exists(c: &mut Conn, user: &str, host: &str) -> Result<bool, DbError> {
    let row: Option<u8> = c
        .exec_first("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", (user, host))
        .await
        .map_err(step("checking whether the user exists"))?;
    Ok(row.is_some())
}

/// Creates the database if missing, with the predefined roles' grants and its
/// database-scoped DBA role (the first `charmed_dba_<prefix>_<NN>` that is free or already
/// holds this database).
async fn ensure_database(c: &mut Conn, database: &str) -> Result<(), DbError> {
    let scope = my_plan::grant_scope(database)?;
    // mysql.db keeps the name as written in GRANT, i.e. escaped: the text between backticks.
    let pattern = scope.trim_end_matches(".*").trim_matches('`').replace("``", "`");
    let mut chosen = None;
    for n in 0..100u8 {
        let role = my_plan::db_dba_role(database, n);
        let holds: Option<u8> = c
            .exec_first("SELECT 1 FROM mysql.db WHERE User = ? AND Host = '' AND Db = ?", (&role, &pattern))
            .await
            .map_err(step("looking up the database's DBA role"))?;
        let taken: Option<u8> =
            c.exec_first("SELECT 1 FROM mysql.user WHERE User = ?", (&role,)).await.map_err(step("looking up a role"))?;
        if holds.is_some() || taken.is_none() {
            chosen = Some(role);
            break;
        }
    }
    let role = chosen.unwrap_or_else(|| my_plan::db_dba_role(database, 99));
    run(c, &my_plan::create_database(database, &role)?, "creating the database").await
}

/// Runs rendered statements in order, in one round trip (a multi-statement text query:
/// every statement was rendered with quoted identifiers by `my_plan`, and execution stops
/// at the first error).
async fn run(c: &mut Conn, statements: &[String], what: &'static str) -> Result<(), DbError> {
    if statements.is_empty() {
        return Ok(());
    }
    c.query_drop(statements.join(";\n")).await.map_err(step(what))
}

/// [`MyAdmin`] sessions, one per MariaDB server (keyed by port), shared by every hook
/// that manages that server; the login is `root`.
#[derive(Clone, Default)]
pub struct MyAdmins {
    inner: std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<u16, std::sync::Arc<MyAdmin>>>>,
}

impl MyAdmins {
    /// The session of the server on `port`, logging in as `root` with `password` when there
    /// is none yet. The given password is the truth: a cached session takes it for its
    /// future connections.
    pub async fn get(&self, port: u16, password: &SecretString) -> Result<std::sync::Arc<MyAdmin>, DbError> {
        let mut map = self.inner.lock().await;
        if let Some(admin) = map.get(&port) {
            admin.update_password(password);
            return Ok(admin.clone());
        }
        let admin = std::sync::Arc::new(MyAdmin::connect(port, "root", password).await?);
        map.insert(port, admin.clone());
        Ok(admin)
    }

    /// Drops the session of `port` (its server was stopped or removed).
    pub async fn forget(&self, port: u16) {
        self.inner.lock().await.remove(&port);
    }
}

#[async_trait::async_trait]
impl UserAdmin for MyAdmin {
    async fn ensure_user(&self, req: &UserRequest<'_>) -> Result<(), DbError> {
        self.ensure_relation_user(req.user, req.password, req.database, req.extra_user_roles).await
    }
    async fn drop_user_if_exists(&self, user: &str) -> Result<(), DbError> {
        self.drop_user(user).await
    }
    async fn list_managed_users(&self) -> Result<Vec<String>, DbError> {
        Ok(self.list_users(my_plan::RELATION_PREFIX).await?.into_iter().filter(|u| my_plan::is_relation_user(u)).collect())
    }
    async fn set_admin_password(&self, password: &SecretString) -> Result<(), DbError> {
        let user = self.user.clone();
        self.set_password(&user, "localhost", password).await
    }
    async fn version(&self) -> Result<String, DbError> {
        MyAdmin::version(self).await
    }
}

#[cfg(test)]
mod tests;
