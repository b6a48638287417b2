//! The PostgreSQL floor (and what every floor shares: logins, passwords, ports, stopping
//! a server started by hand): the same PostgreSQL work tether's charms must cause, done directly.
//!
//! Statements come from `tether_core::pg_plan`, the one place tether renders them, so the
//! floor cannot drift from what an integration really runs: `CREATE DATABASE`, then in one
//! transaction `CREATE ROLE` (with a SCRAM verifier, as tether sends it), its comment and
//! group, `REVOKE ALL ... FROM PUBLIC` and the `GRANT`s, then one login as the new user.
//! They go in as few round trips as the protocol allows, on an operator connection that is
//! already open: the least any client could pay. Deploy's floor is `initdb` and `postgres`
//! run by hand with the flags tether's workload module uses, until an operator login works.

use anyhow::{anyhow, bail, Context, Result};
use postgres_protocol::password::scram_sha_256;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tether_core::pg_plan;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// The superuser tether's servers have.
pub const OPERATOR: &str = "operator";

/// One login to 127.0.0.1:`port`, kept open.
pub async fn connect(port: u16, user: &str, password: &str, db: &str) -> Result<Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1").port(port).user(user).password(password).dbname(db).connect_timeout(Duration::from_secs(10));
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// How a login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Ok,
    /// The server answered and refused these credentials.
    Refused,
    Other(String),
}

/// One login, closed at once.
pub async fn login(port: u16, user: &str, password: &str, db: &str) -> Login {
    match connect(port, user, password, db).await {
        Ok(c) => {
            drop(c);
            Login::Ok
        }
        Err(e) => match e.as_db_error().map(|d| d.code().clone()) {
            Some(c) if c == SqlState::INVALID_PASSWORD || c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => Login::Refused,
            _ => Login::Other(e.to_string()),
        },
    }
}

/// The floor of one integration: database, user, grants, the new database's schema
/// handed to the user (PostgreSQL 15 gives nobody `CREATE` on `public`, so without it the
/// user could not create a table; it takes an operator session inside the new database,
/// as it does for tether), then one login as that user.
pub async fn integrate(admin: &Client, port: u16, operator_pw: &str, db: &str, user: &str, password: &str) -> Result<()> {
    admin.batch_execute(&pg_plan::create_database(db)?).await.context("CREATE DATABASE")?;
    let mut statements = pg_plan::ensure_user(user, &scram_sha_256(password.as_bytes()), &pg_plan::RolePlan::default(), false)?;
    statements.extend(pg_plan::database_access(db, user)?);
    admin.batch_execute(&format!("BEGIN; {}; COMMIT", statements.join("; "))).await.context("user and grants")?;
    let in_db = connect(port, OPERATOR, operator_pw, db).await.context("operator login to the new database")?;
    in_db
        .batch_execute(&pg_plan::take_over_objects(user, tether_core::ownership::Ownership::Sole)?)
        .await
        .context("handing the schema to the user")?;
    drop(in_db);
    match login(port, user, password, db).await {
        Login::Ok => Ok(()),
        other => bail!("floor login as {user} failed: {other:?}"),
    }
}

/// The floor of one rotation: a second login `login` with the grants of the relation's
/// first user `first`, as tether issues it (`pg_plan::member_login_as`: a login with a SCRAM
/// verifier that joins `first` and acts as it, `SET role`; `pg_plan::database_access_as`:
/// `CONNECT` and the rest on `db`), in one transaction, then one login as `login`.
pub async fn rotate(admin: &Client, port: u16, db: &str, first: &str, login_name: &str, password: &str) -> Result<()> {
    let op = pg_plan::Admin::Operator;
    let plan = pg_plan::RolePlan::default();
    let mut statements = pg_plan::member_login_as(op, login_name, first, &scram_sha_256(password.as_bytes()), &plan, false)?;
    statements.extend(pg_plan::database_access_as(op, db, login_name)?);
    admin.batch_execute(&format!("BEGIN; {}; COMMIT", statements.join("; "))).await.context("the rotated login and its grants")?;
    match login(port, login_name, password, db).await {
        Login::Ok => Ok(()),
        other => bail!("floor login as the rotated {login_name} failed: {other:?}"),
    }
}

/// A new connection as `user` and one query (`SELECT 1`), closed at once: what the
/// client querying through a rotation does each time.
pub async fn query(port: u16, user: &str, password: &str, db: &str) -> Result<(), String> {
    let c = connect(port, user, password, db).await.map_err(|e| e.to_string())?;
    c.simple_query("SELECT 1").await.map(drop).map_err(|e| e.to_string())
}

/// The floor of removing one relation user: release what it owns in its database, drop
/// the role, then one login with its credentials that must be refused.
pub async fn remove(admin: &Client, port: u16, operator_pw: &str, db: &str, user: &str, password: &str) -> Result<()> {
    let u = pg_plan::quote_ident(user)?;
    let in_db = connect(port, OPERATOR, operator_pw, db).await.context("operator login to the user's database")?;
    in_db.batch_execute(&pg_plan::release_objects(user)?.join("; ")).await.context("REASSIGN/DROP OWNED")?;
    drop(in_db);
    admin.batch_execute(&format!("DROP ROLE {u}")).await.context("DROP ROLE")?;
    match login(port, user, password, db).await {
        Login::Refused => Ok(()),
        other => bail!("the dropped user {user} was not refused: {other:?}"),
    }
}

/// A random password of 16 letters and digits (the floor's own users; not secret).
pub fn password(seed: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// Where `initdb` and `postgres` are: `$TETHER_PG_BIN`, else the highest
/// `/usr/lib/postgresql/<v>/bin`, as tether finds them.
pub fn pg_bin_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("TETHER_PG_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("read /usr/lib/postgresql")?
        .flatten()
        .filter_map(|e| {
            let v: Option<Vec<u32>> = e.file_name().to_string_lossy().split('.').map(|p| p.parse().ok()).collect();
            let bin = e.path().join("bin");
            Some((v?, bin)).filter(|(_, b)| b.join("initdb").is_file() && b.join("postgres").is_file())
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).ok_or_else(|| anyhow!("no PostgreSQL binaries in /usr/lib/postgresql"))
}

/// `postgres --version`, e.g. `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)`.
pub fn pg_version() -> String {
    pg_bin_dir()
        .ok()
        .and_then(|d| Command::new(d.join("postgres")).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A seed that differs between runs (the floor's passwords need not be secret).
pub fn port_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}

/// uid and gid of a system user (`postgres`, `mysql`), from /etc/passwd.
pub fn user_ids(name: &str) -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("read /etc/passwd")?;
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))).flatten()
        })
        .ok_or_else(|| anyhow!("no {name} user in /etc/passwd"))
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:")).map(|v| v.split_whitespace().next() == Some("0")))
        .unwrap_or(false)
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it right after).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The settings tether passes at every start (`workload::postgres::settings`).
fn settings(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("listen_addresses", "127.0.0.1".into()),
        ("port", port.to_string()),
        ("unix_socket_directories", String::new()),
        ("password_encryption", "scram-sha-256".into()),
        ("log_statement", "none".into()),
        ("logging_collector", "off".into()),
        ("log_destination", "stderr".into()),
    ]
}

const HBA: &str = "host all all 127.0.0.1/32 scram-sha-256\n";

/// Deploy's floor: `initdb` into a fresh directory, `postgres` started, polled with an
/// operator login every 10 ms until it succeeds. Returns the time that took; the server
/// is stopped (SIGINT to the pid we started, then waited for) and the directory removed.
pub fn initdb_and_start(rt: &tokio::runtime::Runtime) -> Result<Duration> {
    let bins = pg_bin_dir()?;
    let ids = if is_root() { Some(user_ids("postgres")?) } else { None };
    let dir = tempfile::Builder::new().prefix("tether-bench-floor-").tempdir().context("create floor dir")?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).context("chown floor dir")?;
    }
    let data = dir.path().join("data");
    let pw = password(port_seed());
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, format!("{pw}\n"))?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
    }
    let port = free_port()?;
    let as_user = |c: &mut Command| {
        if let Some((uid, gid)) = ids {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(gid);
        }
    };

    let start = Instant::now();
    let mut initdb = Command::new(bins.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .arg(format!("--username={OPERATOR}"))
        .arg(format!("--pwfile={}", pwfile.display()))
        .arg("--auth=scram-sha-256")
        .args(["-E", "UTF8", "--locale=C", "--no-instructions"])
        .current_dir(dir.path())
        .stdin(Stdio::null());
    as_user(&mut initdb);
    let out = initdb.output().context("run initdb")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::write(data.join("pg_hba.conf"), HBA)?;
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(dir.path().join("server.log"), Some(uid), Some(gid))?;
    }
    let mut pg = Command::new(bins.join("postgres"));
    pg.arg("-D").arg(&data);
    for (k, v) in settings(port) {
        pg.arg("-c").arg(format!("{k}={v}"));
    }
    pg.current_dir(dir.path()).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    as_user(&mut pg);
    {
        use std::os::unix::process::CommandExt;
        pg.process_group(0);
    }
    let mut child = pg.spawn().context("start postgres")?;
    let ready = loop {
        if let Some(status) = child.try_wait()? {
            break Err(anyhow!("postgres exited during start ({status}); log in {}", dir.path().display()));
        }
        match rt.block_on(login(port, OPERATOR, &pw, "postgres")) {
            Login::Ok => break Ok(start.elapsed()),
            Login::Refused => break Err(anyhow!("operator login refused")),
            Login::Other(_) if start.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(10)),
            Login::Other(e) => break Err(anyhow!("postgres not ready after 60 s: {e}")),
        }
    };
    stop_child(&mut child, "-INT");
    ready
}

/// A signal (`-INT` is PostgreSQL's fast shutdown, `-TERM` MariaDB's and FerretDB's) to a
/// server we started, by its pid, then wait for it.
pub fn stop_child(child: &mut std::process::Child, signal: &str) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args([signal, &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
