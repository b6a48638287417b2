//! [`PgAdmin`]: tether's admin session on one PostgreSQL server, logged in as `operator`
//! over 127.0.0.1 on a server tether runs, or as the operator's own admin login on an
//! adopted server (any host; [`PgAdmin::connect_adopted`]), managing relation users,
//! system users and their databases.
//!
//! Sessions on the maintenance database are pooled: at most [`POOL_CAP`] operations run
//! at once on one server (each on its own session, reused by the next; a closed one is
//! replaced), so integrations of different relations proceed side by side while the
//! server's connection slots stay bounded. Two operations on the same user never
//! overlap because the engine runs one relation's hooks in order. `CREATE DATABASE` runs
//! on its own (it cannot be in a transaction); role statements run in a transaction with
//! `SET LOCAL log_statement = 'none'`, with the password already hashed into a
//! SCRAM-SHA-256 verifier.

use std::collections::{BTreeMap, HashSet};
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use postgres_protocol::password::scram_sha_256;
use tether_core::pg_plan::{self, Admin};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::error::{step, PgError};
use super::settings::{self, ExtensionProblems};
use super::tls::VerifyFull;
use crate::engines::admin_pool::AdoptedLogin;
use crate::engines::settings::SettingChanges;
use crate::engines::tls::TlsCa;
/// The registry lives next door; charms name it through this module too.
#[allow(unused_imports)]
use crate::engines::user_admin::{AdoptedAdmin, Ensured, Ownership, RelationUser, UserAdmin};
use crate::secret::SecretString;

/// The maintenance database every server has.
const MAINTENANCE_DB: &str = "postgres";
const QUIET: &str = "SET LOCAL log_statement = 'none'";
/// Admin operations (and so maintenance sessions) at once on one server.
pub const POOL_CAP: usize = 8;

/// How long data sent to a server may go unacknowledged before the connection is closed.
const UNACKED_TIMEOUT: Duration = Duration::from_secs(10);

/// The host of every server tether runs itself.
pub const LOOPBACK: &str = "127.0.0.1";

/// What an adopted server's admin login lacks of what tether needs (see
/// `AdoptedAdmin::missing_privileges`).
pub const NEEDED_PRIVILEGES: [&str; 2] = ["CREATEROLE", "CREATEDB"];

pub struct PgAdmin {
    host: String,
    port: u16,
    /// Whether the server is adopted (not started by tether; the login is not `operator`).
    adopted: bool,
    /// Whether the login may turn statement logging off for its transactions
    /// (`log_statement` is superuser-only unless granted with `GRANT SET ON PARAMETER`).
    quiet: std::sync::atomic::AtomicBool,
    /// The ownership comment of the relation users this client manages.
    marker: String,
    /// The CA an adopted server's certificate must chain to (`tls-ca`): every connection
    /// is then TLS with the server's name checked; `None`: unencrypted, as on the servers
    /// tether runs on 127.0.0.1.
    tls: Option<TlsCa>,
    user: String,
    password: RwLock<SecretString>,
    /// Maintenance-database sessions not in use.
    idle: Mutex<Vec<Client>>,
    /// One permit per operation in flight, [`POOL_CAP`] in all.
    slots: tokio::sync::Semaphore,
    /// Done once the group roles are known to exist on this server (saves a round trip
    /// per integration).
    groups_ready: tokio::sync::OnceCell<()>,
}

/// A pooled maintenance session, returned to the pool when dropped (unless closed).
struct Session<'a> {
    admin: &'a PgAdmin,
    client: Option<Client>,
    _slot: tokio::sync::SemaphorePermit<'a>,
}

impl Deref for Session<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until drop")
    }
}

impl DerefMut for Session<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take().filter(|c| !c.is_closed()) {
            self.admin.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    }
}

impl std::fmt::Debug for PgAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAdmin").field("host", &self.host).field("port", &self.port).field("user", &self.user).finish_non_exhaustive()
    }
}

impl PgAdmin {
    /// Logs in to the `postgres` database of 127.0.0.1:`port` (failing now if it cannot).
    pub async fn connect(port: u16, user: &str, password: &SecretString) -> Result<PgAdmin, PgError> {
        PgAdmin::connect_at(LOOPBACK, port, user, password, None, None).await
    }

    /// Logs in to the `postgres` database of an adopted server as its admin (failing now
    /// if it cannot). Its relation users are marked as the login's scope's (see
    /// `pg_plan::adopted_marker`): it neither lists nor changes anyone else's. With a CA,
    /// only over TLS to a server whose certificate that CA vouches for.
    pub async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<PgAdmin, PgError> {
        PgAdmin::connect_at(login.host, login.port, login.user, login.password, Some(login.scope), login.tls).await
    }

    async fn connect_at(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        scope: Option<&str>,
        tls: Option<&TlsCa>,
    ) -> Result<PgAdmin, PgError> {
        let adopted = scope.is_some();
        let admin = PgAdmin {
            tls: tls.cloned(),
            marker: scope.map(pg_plan::adopted_marker).unwrap_or_else(|| pg_plan::OWNERSHIP_COMMENT.to_string()),
            host: host.to_string(),
            port,
            adopted,
            quiet: std::sync::atomic::AtomicBool::new(!adopted),
            user: user.to_string(),
            password: RwLock::new(password.clone()),
            idle: Default::default(),
            slots: tokio::sync::Semaphore::new(POOL_CAP),
            groups_ready: Default::default(),
        };
        let session = admin.session().await?;
        if adopted {
            // PostgreSQL 15 can grant SET on the parameter; older servers have no such check.
            let may = session
                .query_one(
                    "SELECT rolsuper OR has_parameter_privilege('log_statement', 'SET') FROM pg_roles WHERE rolname = current_user",
                    &[],
                )
                .await
                .map(|r| r.get::<_, bool>(0))
                .unwrap_or(false);
            admin.quiet.store(may, std::sync::atomic::Ordering::Relaxed);
        }
        drop(session);
        Ok(admin)
    }

    fn quiet(&self) -> bool {
        self.quiet.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The ownership comment of its relation users.
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// The login this client uses.
    pub fn login(&self) -> &str {
        &self.user
    }

    /// The CA its connections trust, when they use TLS.
    pub fn tls(&self) -> Option<&TlsCa> {
        self.tls.as_ref()
    }

    /// Whether the server offers TLS (`SHOW ssl`), whatever this client's connections use.
    async fn offers_tls(&self) -> Result<bool, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let row = c.query_one("SHOW ssl", &[]).await.map_err(step("reading whether the server offers TLS"))?;
        Ok(row.get::<_, String>(0) == "on")
    }

    /// Who runs the statements (and owns what tether creates) on this server.
    fn steward(&self) -> Admin<'_> {
        if self.adopted {
            Admin::Adopted { login: &self.user, marker: &self.marker }
        } else {
            Admin::Operator
        }
    }

    /// Which of [`NEEDED_PRIVILEGES`] the login lacks (none for a superuser).
    async fn lacking_privileges(&self) -> Result<Vec<&'static str>, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let row = c
            .query_one("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user", &[])
            .await
            .map_err(step("reading the admin's privileges"))?;
        let (superuser, createrole, createdb): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
        Ok(NEEDED_PRIVILEGES.into_iter().zip([createrole, createdb]).filter(|(_, has)| !superuser && !has).map(|(p, _)| p).collect())
    }

    /// Replaces the credentials used for future connections (open ones stay).
    pub fn update_password(&self, password: &SecretString) {
        *self.password.write().unwrap_or_else(|p| p.into_inner()) = password.clone();
    }

    /// Closes every cached connection; the next operation reconnects.
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn disconnect(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    async fn open(&self, database: &str) -> Result<Client, PgError> {
        let password = self.password.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(password.expose())
            .dbname(database)
            .application_name("tether")
            .connect_timeout(Duration::from_secs(10))
            // A server cut off by the network (an adopted one elsewhere) would otherwise
            // hold a query, and the hook, until TCP gives up after many minutes: data
            // unacknowledged this long closes the connection, which callers retry.
            .tcp_user_timeout(UNACKED_TIMEOUT);
        let failed = |source| PgError::Connect {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            database: database.to_string(),
            source,
        };
        let Some(ca) = &self.tls else {
            let (client, conn) = cfg.connect(NoTls).await.map_err(failed)?;
            tokio::spawn(conn);
            return Ok(client);
        };
        cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
        match cfg.connect(VerifyFull::new(ca)).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                Ok(client)
            }
            Err(e) if e.as_db_error().is_none() && super::tls::refuses_tls(&self.host, self.port).await => Err(PgError::NoTls),
            Err(e) => Err(failed(e)),
        }
    }

    /// A maintenance session for one operation: waits for a free slot, then reuses an
    /// idle session that is still open or opens a new one.
    async fn session(&self) -> Result<Session<'_>, PgError> {
        let slot = self.slots.acquire().await.expect("the semaphore is never closed");
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|c| !c.is_closed());
            idle.pop()
        };
        let client = match reused {
            Some(c) => c,
            None => self.open(MAINTENANCE_DB).await?,
        };
        Ok(Session { admin: self, client: Some(client), _slot: slot })
    }

    /// The second token of `SELECT version()`, e.g. `15.18`.
    async fn server_version(&self) -> Result<String, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let row = c.query_one("SELECT version()", &[]).await.map_err(step("reading the server version"))?;
        let full: String = row.get(0);
        Ok(full.split_whitespace().nth(1).unwrap_or_default().to_string())
    }

    /// Whether a role of that name exists (bound parameter).
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn role_exists(&self, name: &str) -> Result<bool, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        role_exists(c, name).await
    }

    /// Creates the `relation_access` and `admin` groups if missing and gives `admin` its rights.
    pub async fn ensure_groups(&self) -> Result<(), PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        ensure_groups(c).await
    }

    /// Makes a system user (operator, replication, ...) exist with this password.
    pub async fn ensure_system_user(&self, user: &str, password: &SecretString) -> Result<(), PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let exists = role_exists(c, user).await?;
        let statements = pg_plan::ensure_system_user(user, &verifier(password), exists)?;
        quiet_transaction(c, self.quiet(), &statements, "ensuring a system user").await?;
        if user == self.user {
            self.update_password(password);
        }
        Ok(())
    }

    /// Makes `database` exist (owned by `operator`), for a server's own use such as
    /// FerretDB's storage; a concurrent creation counts as done.
    pub async fn ensure_database(&self, database: &str) -> Result<(), PgError> {
        let session = self.session().await?;
        if database_exists(&session, database).await? {
            return Ok(());
        }
        match session.batch_execute(&pg_plan::create_database_as(self.steward(), database)?).await {
            Err(e) if e.code() != Some(&SqlState::DUPLICATE_DATABASE) => Err(step("creating the database")(e)),
            _ => Ok(()),
        }
    }

    /// Makes a relation user exist with exactly this password and these extra roles, its
    /// database exist and be reachable only by it (and the admins), and gives it the
    /// database's objects. Idempotent; returns whether the user was created.
    /// `acts_as`: the relation's owner role a rotated login joins and acts as (see
    /// `RelationUser::acts_as`); it then gets the database's objects instead of the login.
    pub async fn ensure_user_on_database(
        &self,
        user: &str,
        password: &SecretString,
        extra_user_roles: &str,
        database: &str,
        ownership: Ownership,
        acts_as: Option<&str>,
    ) -> Result<bool, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let roles = role_names(c).await?;
        let plan = pg_plan::classify_roles(extra_user_roles, |r| roles.contains(r))?;
        if self.adopted && plan.admin {
            return Err(PgError::Unsupported("extra-user-roles admin needs the admin group, which tether creates only on its own servers"));
        }
        if self.adopted && plan.superuser && !is_superuser(c).await? {
            return Err(PgError::Unsupported(
                "a superuser (db-admin, or extra-user-roles superuser) needs an adopted admin that is a superuser; nothing was created",
            ));
        }
        let adopted = self.adopted;
        let quiet = self.quiet();
        self.groups_ready.get_or_try_init(|| ensure_groups_for(&mut *c, adopted, quiet)).await?;
        if !database_exists(c, database).await? {
            match c.batch_execute(&pg_plan::create_database_as(self.steward(), database)?).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => return Err(step("creating the database")(e)),
            }
        }
        let tx = c.transaction().await.map_err(step("beginning the user transaction"))?;
        if self.quiet() {
            tx.batch_execute(QUIET).await.map_err(step("disabling statement logging"))?;
        }
        let found = tx
            .query_opt("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", &[&user])
            .await
            .map_err(step("checking whether the user exists"))?;
        let exists = found.is_some();
        // On an adopted server a role of that name that is not ours (the server's own, or
        // another application's) is never taken over.
        if self.adopted && found.is_some_and(|r| r.get::<_, Option<String>>(0).as_deref() != Some(self.marker.as_str())) {
            return Err(PgError::Foreign(user.to_string()));
        }
        let owner = acts_as.filter(|o| *o != user);
        let mut statements = match owner {
            None => pg_plan::ensure_user_as(self.steward(), user, &verifier(password), &plan, exists)?,
            Some(owner) => {
                let owner_exists = tx
                    .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&owner])
                    .await
                    .map_err(step("checking whether the owner exists"))?
                    .is_some();
                let mut st = pg_plan::ensure_owner_role_as(self.steward(), owner, &plan, owner_exists)?;
                st.extend(pg_plan::member_login_as(self.steward(), user, owner, &verifier(password), &plan, exists)?);
                st.extend(pg_plan::database_access_as(self.steward(), database, owner)?);
                st
            }
        };
        statements.extend(pg_plan::database_access_as(self.steward(), database, user)?);
        for s in &statements {
            tx.batch_execute(s).await.map_err(step("ensuring the relation user"))?;
        }
        tx.commit().await.map_err(step("committing the relation user"))?;
        // Application databases get a short-lived connection: keeping one per database
        // would exhaust the server's connection slots as integrations grow.
        let app = self.open(database).await?;
        app.batch_execute(&pg_plan::take_over_objects(owner.unwrap_or(user), ownership)?)
            .await
            .map_err(step("granting the database's objects"))?;
        Ok(!exists)
    }

    /// Takes `user`'s access to `database` away and ends its sessions there (a v1
    /// requirer withdrew that request; the user keeps its other databases).
    pub async fn withdraw_database(&self, user: &str, database: &str) -> Result<(), PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        if !database_exists(c, database).await? {
            return Ok(());
        }
        c.batch_execute(&pg_plan::withdraw_database_access(database, user)?).await.map_err(step("withdrawing database access"))?;
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND datname = $2", &[&user, &database])
            .await
            .map_err(step("ending the user's sessions"))?;
        Ok(())
    }

    /// Ends the user's sessions, hands what it owns in every database to `operator`, and
    /// drops it. A missing user is success.
    pub async fn drop_relation_user(&self, user: &str) -> Result<(), PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        if !role_exists(c, user).await? {
            return Ok(());
        }
        end_sessions(c, user).await?;
        let heir = self.steward().owner().to_string();
        self.release_and_drop(c, user, &heir).await
    }

    /// A rotated relation login's grace period is over: it can no longer log in, its open
    /// sessions are ended (in that order, so none can start in between), and unless it is
    /// the relation's owner (which stays, without login, owning the relation's objects) it
    /// is dropped, what it owns handed to the owner. A missing login is success.
    pub async fn retire_login(&self, login: &str, owner: &str) -> Result<(), PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        if !role_exists(c, login).await? {
            return Ok(());
        }
        quiet_transaction(c, self.quiet(), &[pg_plan::disable_login(login)?], "disabling the login").await?;
        end_sessions(c, login).await?;
        if login == owner {
            return Ok(());
        }
        self.release_and_drop(c, login, owner).await
    }

    /// Hands what `user` owns in every database to `heir`, drops its privileges there, and
    /// drops it.
    async fn release_and_drop(&self, c: &mut Client, user: &str, heir: &str) -> Result<(), PgError> {
        // Only the databases where the user owns objects or holds privileges (its shared
        // dependencies) need releasing, not every database on the server; the maintenance
        // database always, because DROP OWNED there also revokes database-level grants.
        let mut databases: Vec<String> = c
            .query(
                "SELECT DISTINCT d.datname::text FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid \
                 JOIN pg_roles r ON r.oid = s.refobjid WHERE r.rolname = $1 AND NOT d.datistemplate AND d.datallowconn ORDER BY 1",
                &[&user],
            )
            .await
            .map_err(step("listing databases"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !databases.iter().any(|d| d == MAINTENANCE_DB) {
            databases.insert(0, MAINTENANCE_DB.to_string());
        }
        let release = pg_plan::release_objects_to(user, heir)?;
        for db in databases {
            let opened;
            let dc = if db == MAINTENANCE_DB {
                &*c
            } else {
                opened = match self.open(&db).await {
                    Ok(dc) => dc,
                    // Dropped since we listed it: nothing to release there.
                    Err(PgError::Connect { source, .. }) if source.code() == Some(&SqlState::INVALID_CATALOG_NAME) => continue,
                    Err(e) => return Err(e),
                };
                &opened
            };
            for s in &release {
                dc.batch_execute(s).await.map_err(step("releasing the user's objects"))?;
            }
        }
        c.batch_execute(&pg_plan::drop_user(user)?).await.map_err(step("dropping the user"))?;
        Ok(())
    }

    /// Sets a user's password; when it is the admin's own, later connections use it.
    pub async fn set_password(&self, user: &str, password: &SecretString) -> Result<(), PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let statement = pg_plan::set_password(user, &verifier(password))?;
        quiet_transaction(c, self.quiet(), &[statement], "setting the password").await?;
        if user == self.user {
            self.update_password(password);
        }
        Ok(())
    }

    /// The roles named `relation_id_<n>` that carry tether's ownership comment, sorted.
    pub async fn list_relation_users(&self) -> Result<Vec<String>, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        let rows = c
            .query(
                "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'relation\\_id\\_%' \
                 AND shobj_description(oid, 'pg_authid') = $1 ORDER BY rolname",
                &[&self.marker],
            )
            .await
            .map_err(step("listing relation users"))?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).filter(|n| pg_plan::is_relation_user(n)).collect())
    }
}

impl PgAdmin {
    /// See `settings::change_settings`: returns the settings that wait for a restart.
    pub async fn change_settings(&self, changes: &SettingChanges) -> Result<Vec<String>, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        settings::change_settings(c, changes).await
    }

    /// Which of these settings PostgreSQL applies only at a restart.
    pub async fn restart_only(&self, names: &[String]) -> Result<Vec<String>, PgError> {
        let mut session = self.session().await?;
        let c: &mut Client = &mut session;
        settings::restart_only(c, names.iter()).await
    }

    /// Makes each extension exist (`true`) or not (`false`) in every database. When an
    /// enabled one is not installed on this machine nothing is created.
    pub async fn set_extensions(&self, wanted: &BTreeMap<String, bool>) -> Result<ExtensionProblems, PgError> {
        let databases = {
            let mut session = self.session().await?;
            let c: &mut Client = &mut session;
            let missing = settings::missing_extensions(c, wanted).await?;
            if !missing.is_empty() {
                return Ok(ExtensionProblems { missing, ..ExtensionProblems::default() });
            }
            settings::databases(c).await?
        };
        let mut problems = ExtensionProblems::default();
        for db in databases {
            let c = self.open(&db).await?;
            settings::set_extensions_in(&c, wanted, &mut problems).await?;
        }
        Ok(problems)
    }
}

#[async_trait::async_trait]
impl AdoptedAdmin for PgAdmin {
    async fn missing_privileges(&self) -> Result<Vec<&'static str>, PgError> {
        self.lacking_privileges().await
    }
    async fn server_tls(&self) -> Result<bool, PgError> {
        self.offers_tls().await
    }
}

#[async_trait::async_trait]
impl UserAdmin for PgAdmin {
    type Error = PgError;

    async fn ensure_relation_user(&self, req: &RelationUser<'_>) -> Result<Ensured, PgError> {
        let mut created = false;
        for db in req.databases {
            created |=
                self.ensure_user_on_database(req.user, req.password, req.extra_user_roles, db.name, db.ownership, req.acts_as).await?;
        }
        Ok(if created { Ensured::Created } else { Ensured::AlreadyThere })
    }
    async fn drop_relation_user(&self, user: &str) -> Result<(), PgError> {
        PgAdmin::drop_relation_user(self, user).await
    }
    async fn retire_login(&self, login: &str, owner: &str) -> Result<(), PgError> {
        PgAdmin::retire_login(self, login, owner).await
    }
    async fn list_relation_users(&self) -> Result<Vec<String>, PgError> {
        PgAdmin::list_relation_users(self).await
    }
    async fn set_internal_password(&self, user: &str, password: &SecretString) -> Result<(), PgError> {
        self.set_password(user, password).await
    }
    async fn version(&self) -> Result<String, PgError> {
        self.server_version().await
    }
}

/// The SCRAM-SHA-256 verifier of a password: all the server ever sees of it.
fn verifier(password: &SecretString) -> String {
    scram_sha_256(password.expose().as_bytes())
}

/// Ends every session logged in as `user` (`usename` is the login, whatever role the
/// session set, so another login acting as the same owner keeps its sessions).
async fn end_sessions(c: &Client, user: &str) -> Result<(), PgError> {
    c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", &[&user])
        .await
        .map_err(step("ending the user's sessions"))?;
    Ok(())
}

async fn role_exists(c: &Client, name: &str) -> Result<bool, PgError> {
    Ok(c.query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name]).await.map_err(step("checking whether a role exists"))?.is_some())
}

async fn role_names(c: &Client) -> Result<HashSet<String>, PgError> {
    let rows = c.query("SELECT rolname::text FROM pg_roles", &[]).await.map_err(step("listing roles"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether the session's own role is a superuser (an adopted server's admin may not be).
async fn is_superuser(c: &Client) -> Result<bool, PgError> {
    let row = c
        .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[])
        .await
        .map_err(step("reading the admin's attributes"))?;
    Ok(row.get(0))
}

async fn database_exists(c: &Client, name: &str) -> Result<bool, PgError> {
    Ok(c.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(step("checking whether the database exists"))?
        .is_some())
}

async fn ensure_groups(c: &mut Client) -> Result<(), PgError> {
    ensure_groups_for(c, false, true).await
}

async fn ensure_groups_for(c: &mut Client, adopted: bool, quiet: bool) -> Result<(), PgError> {
    let roles = role_names(c).await?;
    let statements =
        if adopted { pg_plan::bootstrap_adopted_groups(|g| roles.contains(g))? } else { pg_plan::bootstrap_groups(|g| roles.contains(g))? };
    quiet_transaction(c, quiet, &statements, "creating the access groups").await
}

/// Runs rendered statements in one transaction, with statement logging off when the
/// login may turn it off (`quiet`; an adopted server's admin often may not: the server
/// then logs what its own settings say, which holds SCRAM verifiers, never a password).
async fn quiet_transaction(c: &mut Client, quiet: bool, statements: &[String], what: &'static str) -> Result<(), PgError> {
    let tx = c.transaction().await.map_err(step(what))?;
    if quiet {
        tx.batch_execute(QUIET).await.map_err(step(what))?;
    }
    for s in statements {
        tx.batch_execute(s).await.map_err(step(what))?;
    }
    tx.commit().await.map_err(step(what))
}

#[cfg(test)]
mod tests;
