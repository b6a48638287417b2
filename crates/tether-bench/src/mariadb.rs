//! The MariaDB floor: what an integration on `mysql-k8s` must cost at least, sent by
//! `mysql_async` as `root` on one open connection: `CREATE DATABASE`, `CREATE USER …
//! IDENTIFIED BY PASSWORD '<native hash>'` and `GRANT ALL ON db.*` in one round trip
//! (rendered with `tether_core::my_plan`'s quoting), then one login as the new user.
//! Removal: `DROP USER`, then a login that must be refused. Deploy: `mariadb-install-db`,
//! the `mariadbd --bootstrap` that gives root its hash, and `mariadbd` started by hand as
//! `mysql` with the options of tether's workload module, until a root login works.

use crate::floor::{free_port, is_root, password, port_seed, stop_child, user_ids, Login};
use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tether_core::my_plan;

/// `ER_ACCESS_DENIED_ERROR`.
const ACCESS_DENIED: u16 = 1045;
/// `ER_ACCOUNT_HAS_BEEN_LOCKED`: tether locks a login before it drops it.
const ACCOUNT_LOCKED: u16 = 4151;

fn opts(port: u16, user: &str, password: &str, db: Option<&str>) -> OptsBuilder {
    OptsBuilder::default().ip_or_hostname("127.0.0.1").tcp_port(port).prefer_socket(false).user(Some(user)).pass(Some(password)).db_name(db)
}

/// One login, kept open.
pub async fn connect(port: u16, user: &str, password: &str) -> Result<Conn> {
    tokio::time::timeout(Duration::from_secs(10), Conn::new(opts(port, user, password, None)))
        .await
        .map_err(|_| anyhow!("no answer from MariaDB on port {port} within 10 s"))?
        .with_context(|| format!("MariaDB login as {user} on port {port}"))
}

/// One login to `db`, closed at once.
pub async fn login(port: u16, user: &str, password: &str, db: &str) -> Login {
    match tokio::time::timeout(Duration::from_secs(10), Conn::new(opts(port, user, password, Some(db)))).await {
        Ok(Ok(c)) => {
            let _ = c.disconnect().await;
            Login::Ok
        }
        Ok(Err(mysql_async::Error::Server(e))) if e.code == ACCESS_DENIED || e.code == ACCOUNT_LOCKED => Login::Refused,
        Ok(Err(e)) => Login::Other(e.to_string()),
        Err(_) => Login::Other("no answer within 10 s".into()),
    }
}

/// `*` and the uppercase hex of SHA1(SHA1(password)), as tether sends it.
pub fn native_hash(password: &str) -> String {
    use sha1::{Digest, Sha1};
    let outer = Sha1::digest(Sha1::digest(password.as_bytes()));
    format!("*{}", outer.iter().map(|b| format!("{b:02X}")).collect::<String>())
}

/// The floor of one integration: database, user with its hash, grant, one login.
pub async fn integrate(admin: &mut Conn, port: u16, db: &str, user: &str, pw: &str) -> Result<()> {
    let account = my_plan::account(user, my_plan::ANY_HOST)?;
    let sql = format!(
        "CREATE DATABASE {}; CREATE USER {account} IDENTIFIED BY PASSWORD {}; GRANT ALL PRIVILEGES ON {} TO {account}",
        my_plan::quote_ident(db)?,
        my_plan::password_hash(&native_hash(pw))?,
        my_plan::grant_scope(db)?
    );
    admin.query_drop(sql).await.context("CREATE DATABASE, CREATE USER, GRANT")?;
    match login(port, user, pw, db).await {
        Login::Ok => Ok(()),
        other => bail!("floor login as {user} failed: {other:?}"),
    }
}

/// The floor of one rotation: a second user `login` with the first user's grants (`CREATE
/// USER … IDENTIFIED BY PASSWORD` and `GRANT ALL PRIVILEGES ON db.*`, one round trip), then
/// one login as it.
pub async fn rotate(admin: &mut Conn, port: u16, db: &str, login_name: &str, pw: &str) -> Result<()> {
    let account = my_plan::account(login_name, my_plan::ANY_HOST)?;
    let sql = format!(
        "CREATE USER {account} IDENTIFIED BY PASSWORD {}; GRANT ALL PRIVILEGES ON {} TO {account}",
        my_plan::password_hash(&native_hash(pw))?,
        my_plan::grant_scope(db)?
    );
    admin.query_drop(sql).await.context("CREATE USER, GRANT")?;
    match login(port, login_name, pw, db).await {
        Login::Ok => Ok(()),
        other => bail!("floor login as the rotated {login_name} failed: {other:?}"),
    }
}

/// A new connection as `user` to `db` and one query (`SELECT 1`), closed at once.
pub async fn query(port: u16, user: &str, password: &str, db: &str) -> Result<(), String> {
    let mut c = match tokio::time::timeout(Duration::from_secs(10), Conn::new(opts(port, user, password, Some(db)))).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no answer within 10 s".into()),
    };
    let r = c.query_drop("SELECT 1").await.map_err(|e| e.to_string());
    let _ = c.disconnect().await;
    r
}

/// The floor of removing one relation user: `DROP USER`, then a refused login.
pub async fn remove(admin: &mut Conn, port: u16, db: &str, user: &str, pw: &str) -> Result<()> {
    admin.query_drop(format!("DROP USER {}", my_plan::account(user, my_plan::ANY_HOST)?)).await.context("DROP USER")?;
    match login(port, user, pw, db).await {
        Login::Refused => Ok(()),
        other => bail!("the dropped user {user} was not refused: {other:?}"),
    }
}

/// `$TETHER_MARIADB_BIN` (a directory with both) or Debian's paths, as tether finds them.
fn binaries() -> (PathBuf, PathBuf) {
    match std::env::var_os("TETHER_MARIADB_BIN").filter(|d| !d.is_empty()) {
        Some(d) => (Path::new(&d).join("mariadbd"), Path::new(&d).join("mariadb-install-db")),
        None => ("/usr/sbin/mariadbd".into(), "/usr/bin/mariadb-install-db".into()),
    }
}

/// `mariadbd --version`.
pub fn version() -> String {
    Command::new(binaries().0)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "not installed".into())
}

/// Deploy's floor: install-db, bootstrap, start, root login (polled every 10 ms). The
/// server is stopped (SIGTERM to the pid we started) and its directory removed.
pub fn install_db_and_start(rt: &tokio::runtime::Runtime) -> Result<Duration> {
    let (mariadbd, install_db) = binaries();
    let ids = if is_root() { Some(user_ids("mysql")?) } else { None };
    let dir = tempfile::Builder::new().prefix("tether-bench-floor-my-").tempdir().context("create floor dir")?;
    let files = dir.path().join("mysql-files");
    std::fs::create_dir(&files)?;
    // tether gives every step a temporary directory inside the unit (`--tmpdir`).
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp)?;
    let tmpdir = format!("--tmpdir={}", tmp.display());
    let log_path = dir.path().join("server.log");
    std::fs::File::create(&log_path)?;
    if let Some((uid, gid)) = ids {
        for p in [dir.path(), &files, &tmp, &log_path] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).context("chown floor dir")?;
        }
    }
    let data = dir.path().join("data");
    let pw = password(port_seed());
    let port = free_port()?;
    let as_user = |c: &mut Command| {
        use std::os::unix::process::CommandExt;
        if let Some((uid, gid)) = ids {
            c.uid(uid).gid(gid);
        }
        c.current_dir(dir.path());
    };

    let start = Instant::now();
    let mut install = Command::new(&install_db);
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--skip-test-db", "--skip-name-resolve", "--auth-root-socket-user=root"])
        .arg(&tmpdir)
        .stdin(Stdio::null());
    as_user(&mut install);
    let out = install.output().context("run mariadb-install-db")?;
    if !out.status.success() {
        bail!("mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut boot = Command::new(&mariadbd);
    boot.arg("--no-defaults")
        .arg("--bootstrap")
        .arg(format!("--datadir={}", data.display()))
        .args(["--skip-networking", "--skip-name-resolve", "--log-warnings=0"])
        .arg(&tmpdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    as_user(&mut boot);
    let mut child = boot.spawn().context("run mariadbd --bootstrap")?;
    let script: String = my_plan::bootstrap_root(&native_hash(&pw))?.iter().map(|s| format!("{s};\n")).collect();
    child.stdin.take().expect("piped").write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("mariadbd --bootstrap failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut server = Command::new(&mariadbd);
    server.arg("--no-defaults").args([
        format!("--datadir={}", data.display()),
        "--bind-address=127.0.0.1".into(),
        format!("--port={port}"),
        format!("--socket={}", dir.path().join("mysqld.sock").display()),
        format!("--pid-file={}", dir.path().join("mysqld.pid").display()),
        format!("--log-error={}", log_path.display()),
        format!("--secure-file-priv={}", files.display()),
        tmpdir.clone(),
        "--skip-name-resolve".into(),
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_general_ci".into(),
        "--local-infile=0".into(),
        "--symbolic-links=0".into(),
    ]);
    server.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    as_user(&mut server);
    {
        use std::os::unix::process::CommandExt;
        server.process_group(0);
    }
    let mut child = server.spawn().context("start mariadbd")?;
    let ready = loop {
        if let Some(status) = child.try_wait()? {
            break Err(anyhow!("mariadbd exited during start ({status})"));
        }
        match rt.block_on(login(port, "root", &pw, "mysql")) {
            Login::Ok => break Ok(start.elapsed()),
            Login::Refused => break Err(anyhow!("root login refused")),
            Login::Other(_) if start.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(10)),
            Login::Other(e) => break Err(anyhow!("mariadbd not ready after 60 s: {e}")),
        }
    };
    stop_child(&mut child, "-TERM");
    ready
}
