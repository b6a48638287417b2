//! [`MyAdmin`] on a MariaDB/MySQL server tether did not start (adopt mode), logged in as
//! that server's admin, which needs only `CREATE USER`, `GRANT OPTION` and `CREATE`
//! (see `my_plan::adopted` for why no roles are made there and how ownership is kept).
//!
//! A user is claimed in tether's registry before it is created, so a crash between the
//! two leaves a claim that the next attempt completes; a name someone else's user holds
//! makes `CREATE USER` fail, the claim is given back and the relation is blocked. Drift
//! repair lists, and `relation-broken` drops, only the users the registry gives this
//! application. An endpoint that answers but not as MySQL (a PostgreSQL server, say) is
//! told apart from an unreachable one by reading what it sends first.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use tether_core::my_plan::{self, adopted};
use tokio::io::AsyncReadExt;
use zeroize::Zeroizing;

use super::{step, MyAdmin, Session, Statements, CONNECT_TIMEOUT, OPERATION_TIMEOUT};
use crate::engines::admin_pool::AdoptedLogin;
use crate::engines::mysql::error::MyError;
use crate::engines::user_admin::{AdoptedAdmin, Ensured, RelationUser};
use crate::secret::SecretString;

/// How long an endpoint may take to greet before it is judged not to be MySQL.
const GREETING_TIMEOUT: Duration = Duration::from_secs(5);
/// The first byte of a MySQL server's first packet: the handshake's protocol version, or
/// an error packet (a server refusing this host).
const HANDSHAKE_V10: u8 = 10;
const ERROR_PACKET: u8 = 0xff;

impl MyAdmin {
    /// Logs in to an adopted server as its admin (see [`AdoptedLogin`]); its relation users
    /// are the login's scope's. With a CA, only over TLS to a server it vouches for.
    pub async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<MyAdmin, MyError> {
        let AdoptedLogin { host, port, user, password, scope, tls } = *login;
        match MyAdmin::connect_at(host, port, user, password, Some(scope), tls).await {
            Ok(admin) => Ok(admin),
            Err(e @ MyError::Connect { source: mysql_async::Error::Server(_), .. }) => Err(e),
            Err(e) => {
                // It may be another kind of server: say so rather than "unreachable".
                probe_greeting(host, port, user).await?;
                Err(e)
            }
        }
    }

    /// See `UserAdmin::ensure_relation_user`, on an adopted server.
    pub(super) async fn ensure_adopted_user(&self, owner: &str, req: &RelationUser<'_>, databases: &[&str]) -> Result<Ensured, MyError> {
        if !req.extra_user_roles.trim().is_empty() {
            return Err(MyError::Unsupported("extra-user-roles are not available on an adopted server (tether creates no roles there)"));
        }
        let auth = self.auth(req.password);
        let grants = Statements::new(adopted::relation_user(req.user, &auth, databases, true)?);
        let create = Statements::new(vec![adopted::create_user(req.user, &auth)?]);
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            let created = match s.owner_of(req.user).await?.as_deref() {
                Some(o) if o == owner => false,
                Some(_) => return Err(MyError::Foreign(req.user.to_string())),
                None => {
                    s.bound(adopted::CLAIM, (req.user, owner), "claiming the relation user").await?;
                    match s.run(&create, "creating the relation user", auth.is_clear()).await {
                        Err(MyError::Query { source: mysql_async::Error::Server(e), .. }) if e.code == adopted::ACCOUNT_TAKEN => {
                            s.bound(adopted::RELEASE, (req.user, owner), "giving the claim back").await?;
                            return Err(MyError::Foreign(req.user.to_string()));
                        }
                        other => other?,
                    }
                    true
                }
            };
            s.run(&grants, "ensuring the relation user and its databases", auth.is_clear()).await?;
            Ok(if created { Ensured::Created } else { Ensured::AlreadyThere })
        })
    }

    /// Drops `owner`'s relation user (a user the registry does not give it is left alone);
    /// its databases stay. As on a server tether runs, the account is locked first and its
    /// sessions are ended before the drop, but ending another user's sessions needs
    /// `CONNECTION ADMIN` (MariaDB) or `CONNECTION_ADMIN` and `PROCESS` (MySQL), which the
    /// admin may lack: then they go on until their clients leave (the account is locked
    /// and then gone, so no new one starts).
    pub(super) async fn drop_adopted_user(&self, owner: &str, user: &str) -> Result<(), MyError> {
        let lock = vec![my_plan::lock_account(user, my_plan::ANY_HOST)?];
        let drop = vec![adopted::drop_user(user)?];
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            if s.owner_of(user).await?.as_deref() != Some(owner) {
                return Ok(());
            }
            s.run(&lock, "locking the relation user's account", false).await?;
            if let Err(e) = s.end_sessions(self.dialect, user).await {
                if e.connection_lost() {
                    return Err(e);
                }
            }
            s.run(&drop, "dropping the relation user", false).await?;
            s.bound(adopted::RELEASE, (user, owner), "forgetting the relation user").await
        })
    }

    /// A new password for the adopted server's admin itself; later sessions use it.
    pub(super) async fn set_own_password(&self, password: &SecretString) -> Result<(), MyError> {
        let auth = self.auth(password);
        let statement = Statements::new(vec![adopted::set_own_password(&auth)?]);
        with_session!(self, |s| { s.run(&statement, "setting the admin's password", auth.is_clear()).await })?;
        self.update_password(password);
        Ok(())
    }

    /// `owner`'s relation users, sorted.
    pub(super) async fn list_adopted_users(&self, owner: &str) -> Result<Vec<String>, MyError> {
        let prefix = my_plan::RELATION_PREFIX;
        with_session!(self, |s| {
            self.ensure_setup(s).await?;
            let r = s.conn().exec::<String, _, _>(adopted::LIST, (owner, prefix, prefix)).await.map_err(step("listing users"));
            let mut users = s.check(r)?;
            // By bytes, as everywhere else: the table's collation may sort otherwise (`r`
            // before `_` ignoring case).
            users.sort();
            Ok(users)
        })
    }
}

impl Session<'_> {
    async fn owner_of(&mut self, user: &str) -> Result<Option<String>, MyError> {
        let r = self.conn().exec_first(adopted::OWNER_OF, (user,)).await.map_err(step("looking up the relation user's owner"));
        self.check(r)
    }

    async fn bound(&mut self, sql: &str, params: (&str, &str), what: &'static str) -> Result<(), MyError> {
        let r = self.conn().exec_drop(sql, params).await.map_err(step(what));
        self.check(r)
    }
}

#[async_trait::async_trait]
impl AdoptedAdmin for MyAdmin {
    async fn missing_privileges(&self) -> Result<Vec<&'static str>, MyError> {
        with_session!(self, |s| {
            // The lines carry the admin's password hash: read, never kept or shown.
            let r = s.conn().query::<String, _>("SHOW GRANTS FOR CURRENT_USER()").await.map_err(step("reading the admin's grants"));
            let lines = Zeroizing::new(s.check(r)?);
            Ok(adopted::missing_privileges(&lines))
        })
        .inspect(|missing| {
            if !missing.is_empty() {
                // Global privileges reach a session when it logs in: once granted, only
                // new sessions have them, so none of these is reused.
                self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }
        })
    }

    /// `have_ssl` is `YES` when the server has a certificate and key loaded.
    async fn server_tls(&self) -> Result<bool, MyError> {
        with_session!(self, |s| {
            let r = s.conn().query_first::<String, _>("SELECT @@have_ssl").await.map_err(step("reading whether the server offers TLS"));
            Ok(s.check(r)?.as_deref() == Some("YES"))
        })
    }
}

/// Reads what `host:port` sends first: a MySQL server greets (or refuses with an error
/// packet) at once; anything else, or silence, is not MySQL.
async fn probe_greeting(host: &str, port: u16, user: &str) -> Result<(), MyError> {
    let unreachable = |source: std::io::Error| MyError::Connect {
        host: host.to_string(),
        port,
        user: user.to_string(),
        source: mysql_async::Error::Io(source.into()),
    };
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host, port))).await {
        Ok(r) => r.map_err(unreachable)?,
        Err(_) => return Err(unreachable(std::io::Error::other("no answer within 10 s"))),
    };
    let not_mysql = |what: &str| MyError::NotMysql(format!("{host}:{port} does not answer as a MySQL/MariaDB server ({what})"));
    let mut header = [0u8; 5];
    match tokio::time::timeout(GREETING_TIMEOUT, stream.read_exact(&mut header)).await {
        Ok(Ok(_)) if matches!(header[4], HANDSHAKE_V10 | ERROR_PACKET) => Ok(()),
        Ok(Ok(_)) => Err(not_mysql("its first packet is not a MySQL greeting")),
        Ok(Err(_)) => Err(not_mysql("it closed the connection without a greeting")),
        Err(_) => Err(not_mysql("no greeting within 5 s")),
    }
}
