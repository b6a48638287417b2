//! MySQL/MariaDB user naming, privilege plans and statement rendering (charm-protocol §4).
//!
//! Account statements (`CREATE USER`, `GRANT`, `SET DEFAULT ROLE`) cannot take bound
//! parameters, so they are rendered here, in one place, with [`quote_ident`] and
//! [`quote_literal`]. Passwords never appear: the adapter turns them into the
//! `mysql_native_password` hash (`*` + hex SHA1(SHA1(password))) and only a string that
//! *is* such a hash is accepted by [`password_hash`]. Lookups that take values are bound
//! parameters in the adapter.
//!
//! The statements are MariaDB's (10.5+). Three decisions follow from MariaDB:
//!
//! - **Literal quoting** doubles `'` and `\`. That is only right while the session's
//!   `sql_mode` lacks `NO_BACKSLASH_ESCAPES`, so the adapter pins [`SESSION_SQL_MODE`] on
//!   every connection.
//! - **Database grants are patterns**: in `GRANT … ON db.*` the characters `_` and `%`
//!   are wildcards, so `app_1` would also open `appX1`. [`grant_scope`] escapes them.
//! - **Roles**: MariaDB has roles but no `activate_all_roles_on_login`, and a user has at
//!   most one default role. The roles of `extra-user-roles` are therefore granted to one
//!   per-user *bundle* role ([`bundle_role`]), which becomes the user's default role and
//!   so is active at every login. Later grants to the predefined roles (say `charmed_read`
//!   on a database created afterwards) reach the user through the bundle.
//!
//! MySQL 8 is the other [`Dialect`]. Where it differs, the choice is made here, in pure
//! functions, so both renderings are unit-tested side by side:
//!
//! - **Passwords**: MySQL 8.4 disables `mysql_native_password` and 9.0 removes it, so
//!   accounts get `IDENTIFIED WITH caching_sha2_password BY '<password>'` ([`Auth::Sha2`]).
//!   The clear password is then in the statement text: the adapter's sessions run with
//!   `sql_log_off`, MySQL rewrites it out of its binary, slow and general logs, and an
//!   error of such a statement is reported without the server's text. mysql_async logs in
//!   to such accounts over plain TCP by fetching the server's RSA key (the
//!   `get_server_public_key` exchange), so no TLS set-up is needed on loopback. MySQL 8's
//!   dual passwords (`RETAIN CURRENT PASSWORD`, then `DISCARD OLD PASSWORD`) are rendered
//!   too ([`set_password_retaining_current`], [`discard_old_password`]); nothing runs
//!   them yet.
//! - **Roles**: real roles in both; the bundle role of a user becomes its default role
//!   with `SET DEFAULT ROLE … TO` (MySQL) instead of `… FOR` (MariaDB). A role's account
//!   host is `%` in MySQL and empty in MariaDB ([`Dialect::role_host`]).
//! - **Privileges**: MariaDB's `BINLOG MONITOR` / `SLAVE MONITOR` are MySQL's
//!   `REPLICATION CLIENT`; `mysql-root` gets `ALL` and then the charm's `REVOKE` of
//!   MySQL's dynamic privileges (§4.5) instead of an explicit MariaDB list.
//! - **Ownership marker**: the same `tether_meta.managed_users` registry on both (a MySQL
//!   user `ATTRIBUTE` would do, but one mechanism keeps drift repair identical).

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub mod adopted;

/// Users and roles tether creates for relations start with this.
pub const RELATION_PREFIX: &str = "relation-";
/// Length limit of a `database` relation user name (charm-protocol §4.4.2).
pub const RELATION_USER_LEN: usize = 26;

/// The session `sql_mode` of tether's admin connections: strict, and without
/// `NO_BACKSLASH_ESCAPES` so that [`quote_literal`] is correct.
pub const SESSION_SQL_MODE: &str = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION";

/// Internal users of the charm, with the application-secret key of each password (§4.3).
pub const SYSTEM_USERS: [(&str, &str); 5] = [
    ("root", "root-password"),
    ("serverconfig", "server-config-password"),
    ("clusteradmin", "cluster-admin-password"),
    ("monitoring", "monitoring-password"),
    ("backups", "backups-password"),
];

/// The hosts of `root`: `localhost` (unix socket, as in the charm) and `127.0.0.1`,
/// because the server runs with `skip-name-resolve` and tether connects over loopback TCP,
/// where `localhost` accounts never match.
pub const ROOT_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];
/// The host of every other user.
pub const ANY_HOST: &str = "%";

/// Which server speaks: decided once per server from `SELECT VERSION()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MariaDb,
    MySql,
}

impl Dialect {
    /// MariaDB's version string always names it (`10.11.6-MariaDB-0+deb12u1`); MySQL's
    /// does not (`8.0.36`, `8.0.31-0ubuntu0.22.04.1`).
    pub fn from_version(version: &str) -> Dialect {
        if version.contains("MariaDB") {
            Dialect::MariaDb
        } else {
            Dialect::MySql
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::MariaDb => "MariaDB",
            Dialect::MySql => "MySQL",
        }
    }

    /// The `Host` of a role's row in `mysql.user` / `mysql.db`.
    pub fn role_host(self) -> &'static str {
        match self {
            Dialect::MariaDb => "",
            Dialect::MySql => "%",
        }
    }

    /// `FOR` (MariaDB) or `TO` (MySQL) in `SET DEFAULT ROLE r … account`.
    fn default_role_word(self) -> &'static str {
        match self {
            Dialect::MariaDb => "FOR",
            Dialect::MySql => "TO",
        }
    }
}

/// How an account's password is given to the server. Its buffer is zeroed when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub enum Auth {
    /// MariaDB: the `mysql_native_password` hash (see [`password_hash`]).
    NativeHash(String),
    /// MySQL 8: the password itself, for `caching_sha2_password` (see the module docs).
    Sha2(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::NativeHash(h) => write!(f, "NativeHash({h})"),
            Auth::Sha2(_) => f.write_str("Sha2([REDACTED])"),
        }
    }
}

impl Auth {
    /// The `IDENTIFIED …` clause (zeroed when dropped: for MySQL 8 it holds the password).
    pub fn clause(&self) -> Result<Zeroizing<String>, PlanError> {
        match self {
            Auth::NativeHash(h) => Ok(Zeroizing::new(format!("IDENTIFIED BY PASSWORD {}", password_hash(h)?))),
            Auth::Sha2(p) => {
                if p.is_empty() {
                    return Err(PlanError::BadLiteral);
                }
                Ok(Zeroizing::new(joined(&["IDENTIFIED WITH caching_sha2_password BY", &Zeroizing::new(quote_literal(p)?)])))
            }
        }
    }

    /// Whether statements with this clause carry a password in clear (their errors must
    /// not be shown with the server's text).
    pub fn is_clear(&self) -> bool {
        matches!(self, Auth::Sha2(_))
    }
}

pub const ROLE_READ: &str = "charmed_read";
pub const ROLE_DML: &str = "charmed_dml";
pub const ROLE_DDL: &str = "charmed_ddl";
pub const ROLE_DBA: &str = "charmed_dba";
pub const ROLE_STATS: &str = "charmed_stats";
pub const ROLE_BACKUP: &str = "charmed_backup";
pub const ROLE_ROUTER: &str = "charmed_router";
pub const ROLE_ROUTER_LEGACY: &str = "mysqlrouter";
/// Prefix of the database-scoped DBA roles (`charmed_dba_<db-prefix>_<NN>`).
pub const DB_DBA_PREFIX: &str = "charmed_dba_";
/// Length limit of a database-scoped DBA role name.
pub const ROLE_MAX_LEN: usize = 32;

/// Privileges that change a database's schema (granted per database to `charmed_ddl`).
const SCHEMA_PRIVILEGES: &str =
    "ALTER, ALTER ROUTINE, CREATE, CREATE ROUTINE, CREATE TEMPORARY TABLES, CREATE VIEW, DROP, EVENT, INDEX, LOCK TABLES, REFERENCES, SHOW VIEW, TRIGGER";

/// MariaDB's privileges (10.11), i.e. what `ALL PRIVILEGES ON *.*` means there.
const MARIADB_GLOBAL_PRIVILEGES: [&str; 38] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "RELOAD",
    "SHUTDOWN",
    "PROCESS",
    "FILE",
    "REFERENCES",
    "INDEX",
    "ALTER",
    "SHOW DATABASES",
    "SUPER",
    "CREATE TEMPORARY TABLES",
    "LOCK TABLES",
    "EXECUTE",
    "REPLICATION SLAVE",
    "BINLOG MONITOR",
    "CREATE VIEW",
    "SHOW VIEW",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "CREATE USER",
    "EVENT",
    "TRIGGER",
    "CREATE TABLESPACE",
    "DELETE HISTORY",
    "SET USER",
    "FEDERATED ADMIN",
    "CONNECTION ADMIN",
    "READ_ONLY ADMIN",
    "REPLICATION SLAVE ADMIN",
    "REPLICATION MASTER ADMIN",
    "BINLOG ADMIN",
    "BINLOG REPLAY",
    "SLAVE MONITOR",
];

/// What `mysql-root` withholds (§4.5), as MariaDB names it. MySQL's `SYSTEM_USER`,
/// `GROUP_REPLICATION_ADMIN`, `ENCRYPTION_KEY_ADMIN` and `VERSION_TOKEN_ADMIN` do not exist
/// in MariaDB; `SYSTEM_VARIABLES_ADMIN` is part of `SUPER` there; `SET_USER_ID` is `SET USER`.
pub const MYSQL_ROOT_WITHHELD: [&str; 5] = ["SUPER", "REPLICATION SLAVE ADMIN", "BINLOG ADMIN", "SET USER", "CONNECTION ADMIN"];

/// What `mysql-root` withholds on MySQL 8: the charm's own `REVOKE` list (§4.5).
pub const MYSQL8_ROOT_WITHHELD: [&str; 10] = [
    "SYSTEM_USER",
    "SYSTEM_VARIABLES_ADMIN",
    "SUPER",
    "REPLICATION_SLAVE_ADMIN",
    "GROUP_REPLICATION_ADMIN",
    "BINLOG_ADMIN",
    "SET_USER_ID",
    "ENCRYPTION_KEY_ADMIN",
    "VERSION_TOKEN_ADMIN",
    "CONNECTION_ADMIN",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("identifier is empty or contains a NUL byte")]
    BadIdentifier,
    #[error("literal contains a NUL byte")]
    BadLiteral,
    #[error("not a mysql_native_password hash")]
    BadHash,
    #[error("dual passwords need MySQL 8 (caching_sha2_password)")]
    NoDualPasswords,
    #[error("{0:?} is not an internal user of the charm")]
    UnknownSystemUser(String),
    /// Unknown or forbidden `extra-user-roles` (§4.4.6); the charm's blocked text.
    #[error("Failed to create scoped user")]
    InvalidRoles(Vec<String>),
}

/// Quotes an identifier with backticks (doubling backticks inside). Refuses empty names
/// and NUL, which no MariaDB identifier may contain.
pub fn quote_ident(name: &str) -> Result<String, PlanError> {
    if name.is_empty() || name.contains('\0') {
        return Err(PlanError::BadIdentifier);
    }
    Ok(format!("`{}`", name.replace('`', "``")))
}

/// Quotes a string literal: `'` and `\` doubled, NUL refused (see [`SESSION_SQL_MODE`]).
/// One allocation of the final size, so no partial copy of a password is left behind.
pub fn quote_literal(value: &str) -> Result<String, PlanError> {
    if value.contains('\0') {
        return Err(PlanError::BadLiteral);
    }
    let mut out = String::with_capacity(2 * value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// `parts` joined by spaces in one allocation of the final size: for statements that
/// carry a password, where `format!`'s reallocations would leave partial copies in freed
/// memory.
fn joined(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(p);
    }
    out
}

/// `'user'@'host'`. Both parts are literals; the user may not be empty.
pub fn account(user: &str, host: &str) -> Result<String, PlanError> {
    if user.is_empty() {
        return Err(PlanError::BadIdentifier);
    }
    Ok(format!("{}@{}", quote_literal(user)?, quote_literal(host)?))
}

/// A role name as a literal (roles have no host).
fn role(name: &str) -> Result<String, PlanError> {
    if name.is_empty() {
        return Err(PlanError::BadIdentifier);
    }
    quote_literal(name)
}

/// The literal of a `mysql_native_password` hash: `*` and 40 uppercase hex digits, and
/// nothing else, so a clear password can never be rendered by mistake.
pub fn password_hash(hash: &str) -> Result<String, PlanError> {
    let ok = hash.len() == 41 && hash.starts_with('*') && hash[1..].chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c));
    if ok {
        Ok(format!("'{hash}'"))
    } else {
        Err(PlanError::BadHash)
    }
}

/// `` `db`.* `` for `GRANT`, with `\`, `_` and `%` escaped so the name is not a pattern.
pub fn grant_scope(database: &str) -> Result<String, PlanError> {
    let escaped = database.replace('\\', "\\\\").replace('_', "\\_").replace('%', "\\%");
    Ok(format!("{}.*", quote_ident(&escaped)?))
}

/// The user of a `database` relation: `relation-<id>_<model-uuid-without-dashes>`, cut to
/// 26 characters (§4.4.2).
pub fn relation_user(relation_id: i64, model_uuid: &str) -> String {
    let uuid: String = model_uuid.chars().filter(|c| *c != '-').collect();
    format!("{RELATION_PREFIX}{relation_id}_{uuid}").chars().take(RELATION_USER_LEN).collect()
}

/// The default user of a legacy `mysql`/`mysql-root` endpoint (§4.5), and the user name of
/// older `database` relations.
pub fn legacy_user(relation_id: i64) -> String {
    format!("{RELATION_PREFIX}{relation_id}")
}

/// The default database of a legacy endpoint (§4.5).
pub fn legacy_database(relation_id: i64) -> String {
    format!("database-{relation_id}")
}

/// The login a relation gets at its `generation`th credential rotation (the first login,
/// generation 0, is `base` itself): `r<generation>` right after the relation id, so
/// `relation-7_<uuidhex>` becomes `relation-7r2_<uuidhex>` and the legacy `relation-7`
/// becomes `relation-7r2`, then cut to [`RELATION_USER_LEN`] like the first login. The
/// cut only ever shortens the model uuid's part: `relation-<id>r<generation>` is kept
/// whole, so a rotated login never equals its base or another generation's login and is
/// always a [`is_relation_user`]. That head fits the 26 characters while the id and
/// generation have 16 digits together (relation ids are a model's counter); beyond that
/// the name is longer than 26 rather than ambiguous. `base` may itself be a rotated login
/// (its generation is replaced); a name that is not a relation user gets `r<generation>`
/// at its end.
pub fn rotated_user(base: &str, generation: u32) -> String {
    let (head, tail) = match split_relation_user(base) {
        Some((id, _, tail)) => (format!("{RELATION_PREFIX}{id}r{generation}"), tail),
        None => (format!("{base}r{generation}"), ""),
    };
    let room = RELATION_USER_LEN.saturating_sub(head.chars().count());
    let mut out = head;
    out.extend(tail.chars().take(room));
    out
}

/// Whether a user name is one tether issues for relations: `relation-<id>` (legacy) or
/// `relation-<id>_<uuidhex>`, the id optionally followed by a rotation's `r<generation>`
/// (see [`rotated_user`]).
pub fn is_relation_user(name: &str) -> bool {
    split_relation_user(name).is_some()
}

/// A relation user's parts: the id's digits, the rotation generation's digits (if any)
/// and what follows (empty, or `_` and hex digits).
fn split_relation_user(name: &str) -> Option<(&str, Option<&str>, &str)> {
    let rest = name.strip_prefix(RELATION_PREFIX)?;
    let (ids, suffix) = match rest.find('_') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (id, generation) = match ids.split_once('r') {
        Some((id, generation)) => (id, Some(generation)),
        None => (ids, None),
    };
    let ok = digits(id) && generation.is_none_or(digits) && suffix.chars().skip(1).all(|c| c.is_ascii_hexdigit());
    ok.then_some((id, generation, suffix))
}

/// The per-user role that carries a user's extra roles (see the module docs).
pub fn bundle_role(user: &str) -> String {
    format!("{user}_roles")
}

/// The database-scoped DBA role `charmed_dba_<db-prefix>_<NN>`, at most 32 characters.
pub fn db_dba_role(database: &str, counter: u8) -> String {
    let room = ROLE_MAX_LEN - DB_DBA_PREFIX.len() - 3;
    let prefix: String = database.chars().take(room).collect();
    format!("{DB_DBA_PREFIX}{prefix}_{:02}", counter % 100)
}

/// Statements for `mariadbd --bootstrap` right after `mariadb-install-db`: `root` gets its
/// password hash at both [`ROOT_HOSTS`] (replacing the unix-socket login the installer
/// gives `root@localhost`), and only `root` and MariaDB's own `mariadb.sys` remain.
pub fn bootstrap_root(hash: &str) -> Result<Vec<String>, PlanError> {
    let h = password_hash(hash)?;
    let mut out = vec!["FLUSH PRIVILEGES".to_string()];
    out.push("DELETE FROM mysql.global_priv WHERE User NOT IN ('root', 'mariadb.sys') OR (User = 'root' AND Host <> 'localhost')".into());
    out.push("FLUSH PRIVILEGES".into());
    for host in ROOT_HOSTS {
        let a = account("root", host)?;
        out.push(format!("CREATE USER IF NOT EXISTS {a} IDENTIFIED BY PASSWORD {h}"));
        out.push(format!("ALTER USER {a} IDENTIFIED BY PASSWORD {h}"));
        out.push(format!("GRANT ALL PRIVILEGES ON *.* TO {a} WITH GRANT OPTION"));
    }
    Ok(out)
}

/// Statements for the first login (as `root@localhost` with no password, over the unix
/// socket of a server without networking) to a MySQL 8 data directory that
/// `mysqld --initialize-insecure` just created: `root` gets its password at both
/// [`ROOT_HOSTS`]. MySQL's own locked `mysql.*` accounts stay.
pub fn mysql8_bootstrap_root(password: &str) -> Result<Vec<String>, PlanError> {
    let auth = Auth::Sha2(password.to_string());
    let mut out = Vec::new();
    for host in ROOT_HOSTS {
        out.extend(ensure_account("root", host, &auth)?);
        out.push(format!("GRANT ALL PRIVILEGES ON *.* TO {} WITH GRANT OPTION", account("root", host)?));
    }
    Ok(out)
}

/// `CREATE USER IF NOT EXISTS` then `ALTER USER`: the account exists with exactly this
/// password.
pub fn ensure_account(user: &str, host: &str, auth: &Auth) -> Result<Vec<String>, PlanError> {
    let a = account(user, host)?;
    let clause = auth.clause()?;
    Ok(vec![joined(&["CREATE USER IF NOT EXISTS", &a, &clause]), joined(&["ALTER USER", &a, &clause])])
}

/// `ALTER USER … IDENTIFIED …` for one account.
pub fn set_password(user: &str, host: &str, auth: &Auth) -> Result<String, PlanError> {
    Ok(joined(&["ALTER USER", &account(user, host)?, &auth.clause()?]))
}

/// MySQL 8's dual passwords, the first step: `ALTER USER … IDENTIFIED WITH
/// caching_sha2_password BY '<new>' RETAIN CURRENT PASSWORD` makes `password` the
/// account's password while the one it had keeps working as its secondary password, so
/// clients move over one by one. Only [`Auth::Sha2`] (MariaDB has no dual passwords); the
/// statement carries the password in clear, as every MySQL 8 account statement does (see
/// the module docs), and is zeroed when dropped.
pub fn set_password_retaining_current(user: &str, host: &str, auth: &Auth) -> Result<Zeroizing<String>, PlanError> {
    if !auth.is_clear() {
        return Err(PlanError::NoDualPasswords);
    }
    Ok(Zeroizing::new(joined(&["ALTER USER", &account(user, host)?, &auth.clause()?, "RETAIN CURRENT PASSWORD"])))
}

/// MySQL 8's dual passwords, the last step: `ALTER USER … DISCARD OLD PASSWORD`, after
/// which only the password set by [`set_password_retaining_current`] logs in.
pub fn discard_old_password(user: &str, host: &str) -> Result<String, PlanError> {
    Ok(format!("ALTER USER {} DISCARD OLD PASSWORD", account(user, host)?))
}

/// `ALTER USER IF EXISTS … ACCOUNT LOCK` (MariaDB 10.4+, MySQL 8): the account accepts
/// no new login; its open sessions go on until they are ended. A missing account is a
/// warning, not an error.
pub fn lock_account(user: &str, host: &str) -> Result<String, PlanError> {
    Ok(format!("ALTER USER IF EXISTS {} ACCOUNT LOCK", account(user, host)?))
}

/// Where tether records the users it manages (MariaDB has no user comments or
/// attributes; MySQL 8 uses the same registry): drift repair only ever touches users
/// listed here.
pub const META_DATABASE: &str = "tether_meta";
pub const MANAGED_USERS_TABLE: &str = "managed_users";

/// The quoted `db`.`table` of the ownership registry.
pub fn registry() -> Result<String, PlanError> {
    Ok(format!("{}.{}", quote_ident(META_DATABASE)?, quote_ident(MANAGED_USERS_TABLE)?))
}

/// Creates the ownership registry if missing.
pub fn managed_users_registry() -> Result<Vec<String>, PlanError> {
    let db = quote_ident(META_DATABASE)?;
    Ok(vec![
        format!("CREATE DATABASE IF NOT EXISTS {db}"),
        format!("CREATE TABLE IF NOT EXISTS {} (user VARCHAR(128) PRIMARY KEY) ENGINE=InnoDB", registry()?),
    ])
}

/// Records `user` in the registry (idempotent), as one more statement of the batch that
/// creates the user.
pub fn mark_managed(user: &str) -> Result<String, PlanError> {
    Ok(format!("INSERT IGNORE INTO {} (user) VALUES ({})", registry()?, quote_literal(user)?))
}

/// Removes `user` from the registry.
pub fn forget_managed(user: &str) -> Result<String, PlanError> {
    Ok(format!("DELETE FROM {} WHERE user = {}", registry()?, quote_literal(user)?))
}

/// The predefined roles of §4.4.6 and the instance-wide grants of each; idempotent.
pub fn predefined_roles(d: Dialect) -> Result<Vec<String>, PlanError> {
    let mut out = Vec::new();
    for r in [ROLE_READ, ROLE_DML, ROLE_DDL, ROLE_DBA, ROLE_STATS, ROLE_BACKUP, ROLE_ROUTER, ROLE_ROUTER_LEGACY] {
        out.push(format!("CREATE ROLE IF NOT EXISTS {}", role(r)?));
    }
    let q = role;
    out.push(format!("GRANT {} TO {}", q(ROLE_READ)?, q(ROLE_DML)?));
    out.push(format!("GRANT {} TO {}", q(ROLE_DML)?, q(ROLE_DDL)?));
    for parent in [ROLE_DDL, ROLE_STATS, ROLE_BACKUP] {
        out.push(format!("GRANT {} TO {}", q(parent)?, q(ROLE_DBA)?));
    }
    out.push(format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, {SCHEMA_PRIVILEGES}, SHOW DATABASES, CREATE USER ON *.* TO {}",
        q(ROLE_DBA)?
    ));
    // Replication status: two privileges in MariaDB, one in MySQL.
    let monitor = match d {
        Dialect::MariaDb => "BINLOG MONITOR, SLAVE MONITOR",
        Dialect::MySql => "REPLICATION CLIENT",
    };
    out.push(format!("GRANT PROCESS, RELOAD, {monitor} ON *.* TO {}", q(ROLE_STATS)?));
    out.push(format!("GRANT SELECT ON `performance_schema`.* TO {}", q(ROLE_STATS)?));
    let binlog = match d {
        Dialect::MariaDb => "BINLOG MONITOR",
        Dialect::MySql => "REPLICATION CLIENT",
    };
    out.push(format!(
        "GRANT SELECT, SHOW VIEW, EVENT, TRIGGER, EXECUTE, RELOAD, PROCESS, LOCK TABLES, {binlog} ON *.* TO {}",
        q(ROLE_BACKUP)?
    ));
    if d == Dialect::MySql {
        out.push(format!("GRANT BACKUP_ADMIN ON *.* TO {}", q(ROLE_BACKUP)?));
    }
    for router in [ROLE_ROUTER, ROLE_ROUTER_LEGACY] {
        out.push(format!("GRANT ALL PRIVILEGES ON *.* TO {} WITH GRANT OPTION", q(router)?));
    }
    Ok(out)
}

/// `SET DEFAULT ROLE <r> FOR|TO <account>`; `r` is a role literal or `NONE`.
fn set_default_role(d: Dialect, r: &str, account: &str) -> String {
    format!("SET DEFAULT ROLE {r} {} {account}", d.default_role_word())
}

/// Statements that make an internal user (§4.3) exist with this password and its
/// privileges. Run after [`predefined_roles`].
pub fn system_user(d: Dialect, user: &str, auth: &Auth) -> Result<Vec<String>, PlanError> {
    let mut out = Vec::new();
    if user == "root" {
        for host in ROOT_HOSTS {
            out.extend(ensure_account(user, host, auth)?);
            out.push(format!("GRANT ALL PRIVILEGES ON *.* TO {} WITH GRANT OPTION", account(user, host)?));
        }
        return Ok(out);
    }
    let a = account(user, ANY_HOST)?;
    out.extend(ensure_account(user, ANY_HOST, auth)?);
    match user {
        "serverconfig" | "clusteradmin" => out.push(format!("GRANT ALL PRIVILEGES ON *.* TO {a} WITH GRANT OPTION")),
        "monitoring" => {
            out.push(format!("GRANT {} TO {a}", role(ROLE_STATS)?));
            out.push(set_default_role(d, &role(ROLE_STATS)?, &a));
            out.push(format!("ALTER USER {a} WITH MAX_USER_CONNECTIONS 3"));
        }
        "backups" => {
            out.push(format!("GRANT {} TO {a}", role(ROLE_BACKUP)?));
            out.push(set_default_role(d, &role(ROLE_BACKUP)?, &a));
        }
        other => return Err(PlanError::UnknownSystemUser(other.to_string())),
    }
    Ok(out)
}

/// Statements that create a relation database (if missing) and give the predefined roles
/// their share of it (§4.4.5), plus its database-scoped DBA role `dba_role`.
pub fn create_database(database: &str, dba_role: &str) -> Result<Vec<String>, PlanError> {
    let scope = grant_scope(database)?;
    Ok(vec![
        format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database)?),
        format!("GRANT SELECT ON {scope} TO {}", role(ROLE_READ)?),
        format!("GRANT SELECT, INSERT, DELETE, UPDATE ON {scope} TO {}", role(ROLE_DML)?),
        format!("GRANT {SCHEMA_PRIVILEGES} ON {scope} TO {}", role(ROLE_DDL)?),
        format!("CREATE ROLE IF NOT EXISTS {}", role(dba_role)?),
        format!("GRANT ALL PRIVILEGES ON {scope} TO {}", role(dba_role)?),
    ])
}

/// The `Db` value `mysql.db` keeps for a database granted through [`grant_scope`]: the
/// escaped name, as written between the backticks.
pub fn grant_scope_pattern(database: &str) -> Result<String, PlanError> {
    let scope = grant_scope(database)?;
    Ok(scope.trim_end_matches(".*").trim_matches('`').replace("``", "`"))
}

/// One lookup (bound parameters: role host, the [`grant_scope_pattern`], the role name
/// prefix, the user) that answers what an integration needs to know before it writes:
/// every existing database-scoped DBA role of this name prefix with whether it already
/// holds the database, and, as a row with a NULL role, whether the user exists.
pub const INTEGRATION_LOOKUP: &str = "SELECT u.User, EXISTS(SELECT 1 FROM mysql.db d WHERE d.User = u.User AND d.Host = ? AND d.Db = ?) \
     FROM mysql.user u WHERE LEFT(u.User, CHAR_LENGTH(?)) = ? \
     UNION ALL SELECT NULL, EXISTS(SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%')";

/// The prefix every DBA role of `database` shares (what [`db_dba_role`] puts before the
/// counter).
pub fn db_dba_role_prefix(database: &str) -> String {
    let r = db_dba_role(database, 0);
    r[..r.len() - 2].to_string()
}

/// The DBA role for `database` (§4.4.5): the one that already holds it, else the first
/// free counter; `existing` are the roles of this prefix with whether each holds it.
pub fn choose_dba_role(database: &str, existing: &[(String, bool)]) -> String {
    if let Some((r, _)) = existing.iter().find(|(_, holds)| *holds) {
        return r.clone();
    }
    (0..100u8)
        .map(|n| db_dba_role(database, n))
        .find(|r| !existing.iter().any(|(e, _)| e == r))
        .unwrap_or_else(|| db_dba_role(database, 99))
}

/// What `extra-user-roles` asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtraRoles {
    /// Roles to grant, in the order asked, without duplicates.
    pub roles: Vec<String>,
    /// A router role was asked for: the charm then creates no database.
    pub router: bool,
}

/// The `charmed_dba_*` names in an `extra-user-roles` value: the only ones whose
/// existence must be looked up before [`classify_roles`].
pub fn db_role_candidates(extra_user_roles: &str) -> Vec<&str> {
    extra_user_roles.split(',').map(str::trim).filter(|r| r.starts_with(DB_DBA_PREFIX)).collect()
}

/// Classifies a comma-separated `extra-user-roles` value (§4.4.6): the predefined roles,
/// and database-scoped DBA roles that `is_db_role` confirms exist. `charmed_backup` is
/// forbidden; anything else is unknown. Either error displays as the charm's text.
pub fn classify_roles(extra_user_roles: &str, is_db_role: impl Fn(&str) -> bool) -> Result<ExtraRoles, PlanError> {
    let mut plan = ExtraRoles::default();
    let mut invalid = Vec::new();
    for r in extra_user_roles.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let known = match r {
            ROLE_READ | ROLE_DML | ROLE_DDL | ROLE_DBA | ROLE_STATS => true,
            ROLE_ROUTER | ROLE_ROUTER_LEGACY => {
                plan.router = true;
                true
            }
            other => other.starts_with(DB_DBA_PREFIX) && is_db_role(other),
        };
        if !known {
            invalid.push(r.to_string());
        } else if !plan.roles.iter().any(|x| x == r) {
            plan.roles.push(r.to_string());
        }
    }
    if invalid.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError::InvalidRoles(invalid))
    }
}

/// Statements that make a relation user (`user@%`) exist with exactly this password and
/// these privileges: with no extra roles ALL on each of its databases (a v1 requirer may
/// ask for several in one relation); with extra roles only
/// those, through its bundle role, which is its default role. A `fresh` user (the lookup
/// found none) is created with plain `CREATE USER`, which fails rather than skip if one
/// appeared meanwhile; an existing one is reset first (password, grants, bundle role).
/// Ends with the registry mark. Run after [`create_database`] (unless a router role was
/// asked for).
pub fn ensure_relation_user(
    d: Dialect,
    user: &str,
    auth: &Auth,
    databases: &[&str],
    extra: &ExtraRoles,
    fresh: bool,
) -> Result<Vec<String>, PlanError> {
    let a = account(user, ANY_HOST)?;
    let bundle = role(&bundle_role(user))?;
    let mut out = if fresh {
        vec![joined(&["CREATE USER", &a, &auth.clause()?])]
    } else {
        let mut s = ensure_account(user, ANY_HOST, auth)?;
        s.push(format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {a}"));
        s.push(format!("DROP ROLE IF EXISTS {bundle}"));
        s
    };
    if extra.roles.is_empty() {
        for database in databases {
            out.push(format!("GRANT ALL PRIVILEGES ON {} TO {a}", grant_scope(database)?));
        }
        if !fresh {
            out.push(set_default_role(d, "NONE", &a));
        }
    } else {
        if fresh {
            // A bundle left behind by a drop cut short.
            out.push(format!("DROP ROLE IF EXISTS {bundle}"));
        }
        out.push(format!("CREATE ROLE {bundle}"));
        for r in &extra.roles {
            out.push(format!("GRANT {} TO {bundle}", role(r)?));
        }
        out.push(format!("GRANT {bundle} TO {a}"));
        out.push(set_default_role(d, &bundle, &a));
    }
    out.push(mark_managed(user)?);
    Ok(out)
}

/// `ALL ON *.* WITH GRANT OPTION` minus what `mysql-root` withholds (§4.5): on MariaDB an
/// explicit list without [`MYSQL_ROOT_WITHHELD`], on MySQL `ALL` and then the charm's
/// `REVOKE` of [`MYSQL8_ROOT_WITHHELD`].
pub fn mysql_root_grant(d: Dialect, user: &str, host: &str) -> Result<Vec<String>, PlanError> {
    let a = account(user, host)?;
    Ok(match d {
        Dialect::MariaDb => {
            let privileges: Vec<&str> = MARIADB_GLOBAL_PRIVILEGES.into_iter().filter(|p| !MYSQL_ROOT_WITHHELD.contains(p)).collect();
            vec![format!("GRANT {} ON *.* TO {a} WITH GRANT OPTION", privileges.join(", "))]
        }
        Dialect::MySql => vec![
            format!("GRANT ALL PRIVILEGES ON *.* TO {a} WITH GRANT OPTION"),
            format!("REVOKE {} ON *.* FROM {a}", MYSQL8_ROOT_WITHHELD.join(", ")),
        ],
    })
}

/// Statements for the shared user of a legacy endpoint (§4.5): `mysql` users get ALL on
/// their database, `mysql-root` users the wide grant of [`mysql_root_grant`]. Ends with
/// the registry mark.
pub fn ensure_legacy_user(d: Dialect, user: &str, auth: &Auth, database: &str, root: bool) -> Result<Vec<String>, PlanError> {
    let a = account(user, ANY_HOST)?;
    let mut out = ensure_account(user, ANY_HOST, auth)?;
    out.push(format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {a}"));
    if root {
        out.extend(mysql_root_grant(d, user, ANY_HOST)?);
    } else {
        out.push(format!("GRANT ALL PRIVILEGES ON {} TO {a}", grant_scope(database)?));
    }
    out.push(mark_managed(user)?);
    Ok(out)
}

/// Ends every session of `user` in one statement where the server can (MariaDB's
/// `KILL CONNECTION USER`); MySQL has no such statement, and the adapter kills the
/// sessions it lists in `information_schema.PROCESSLIST` one by one.
pub fn kill_sessions(d: Dialect, user: &str) -> Result<Option<String>, PlanError> {
    Ok(match d {
        Dialect::MariaDb => Some(format!("KILL CONNECTION USER {}", account(user, ANY_HOST)?)),
        Dialect::MySql => None,
    })
}

/// Drops a user and its bundle role (both may be missing) and forgets it in the registry.
/// A bundle name longer than [`ROLE_MAX_LEN`] never exists (bundles are made only for
/// relation users, at most 26 characters) and MySQL refuses to even name it, so a long
/// (legacy) user has no `DROP ROLE`.
pub fn drop_user(user: &str, host: &str) -> Result<Vec<String>, PlanError> {
    let mut out = vec![format!("DROP USER IF EXISTS {}", account(user, host)?)];
    let bundle = bundle_role(user);
    if bundle.chars().count() <= ROLE_MAX_LEN {
        out.push(format!("DROP ROLE IF EXISTS {}", role(&bundle)?));
    }
    out.push(forget_managed(user)?);
    Ok(out)
}

#[cfg(test)]
mod tests;

/// `SET GLOBAL` of one server setting (the names come from the charm's option table):
/// an integer bare, `None` the server's default, anything else a string literal.
pub fn set_global(name: &str, value: Option<&str>) -> Result<String, PlanError> {
    let value = match value {
        None => "DEFAULT".to_string(),
        Some(v) if v.parse::<i64>().is_ok() => v.to_string(),
        Some(v) => quote_literal(v)?,
    };
    Ok(format!("SET GLOBAL {} = {value}", quote_ident(name)?))
}
