//! Running one real MariaDB server: finding the binaries, initialising the data
//! directory, start or adopt, readiness by a real login, and the options every tether
//! MariaDB server runs with.
//!
//! Initialisation never writes a password anywhere, not even a hash to a file:
//! `mariadb-install-db` creates the system tables in a staging directory with `root@localhost`
//! reachable only through the unix socket, then a `mariadbd --bootstrap` run (no network,
//! no socket, statements on a pipe to its stdin) gives `root` at `localhost` and `127.0.0.1`
//! the `mysql_native_password` hash of the password and removes every other account but
//! MariaDB's own `mariadb.sys`. Only then is the staging directory renamed into place, so
//! a crash midway never leaves a data directory that looks initialised. (Starting with
//! `--skip-grant-tables` or a socket bootstrap would leave a window with an open server.)
//!
//! Every start passes all options on the command line after `--no-defaults`, so the
//! machine's `/etc/mysql` configuration never applies: loopback TCP on the unit's port,
//! the socket and pid file in the unit directory, `skip-name-resolve`, utf8mb4, and
//! `secure-file-priv` confined to the unit. A server left running by an earlier controller
//! (its pid file names a live `mariadbd` of this data directory on the expected port that
//! accepts our login) is adopted rather than started twice.
//!
//! When tether is root the server runs as `mysql`, with the same directory ownership and
//! traverse-only ACLs as PostgreSQL (see [`super::sysuser`]).
//!
//! A machine whose `mysqld --version` says MySQL 8 (and has no `mariadbd`) runs that
//! instead: initialised by [`mysql8`] (`--initialize-insecure`, then root's password over
//! a private socket), started with the same options plus MySQL's own ([`mysql8::mysql8_args`]).
//! The account statements for it are `my_plan`'s MySQL dialect.

use crate::workload::login::LoginFailure;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncWriteExt;

use super::layout::*;
use super::mysql8;
use crate::secret::SecretString;
use crate::workload::process::Proc;
use crate::workload::server_process::{ServerProcess, StrayServer};
use crate::workload::sysuser::{grant_traverse, own_dir, service_user, RunAs};
use crate::workload::WorkloadError;
use tether_core::my_plan::Dialect;

/// A clean shutdown (SIGTERM) gets this long before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(60);
/// Finds a MariaDB/MySQL server left running in a unit directory (its pid file lies next
/// to `mysqldata`).
pub struct MyStrays;

impl StrayServer for MyStrays {
    fn find(&self, dir: &Path) -> Option<(u32, Signal, Duration)> {
        let pid = read_pid_file(dir)?;
        is_mariadb_of(pid, &dir.join(DATA_DIR)).then_some((pid, Signal::SIGTERM, STOP_GRACE))
    }
}

#[async_trait::async_trait]
impl ServerProcess for MariaDbSpec {
    fn place(&self) -> (&Path, u16) {
        (&self.data_dir, self.port)
    }
    fn name(&self) -> &'static str {
        "mariadb"
    }
    async fn start(&self) -> Result<Proc, WorkloadError> {
        start(self).await
    }
    fn stop_signal(&self) -> Signal {
        Signal::SIGTERM
    }
    fn stops_in_turn(&self) -> bool {
        self.galera.is_some()
    }
    fn stop_grace(&self) -> Duration {
        STOP_GRACE
    }
}

/// Prepares directories, initialises the data directory if needed, then adopts a live
/// server or starts one, and returns once `root` can log in over 127.0.0.1.
pub async fn start(spec: &MariaDbSpec) -> Result<Proc, WorkloadError> {
    let bins = MariaDbBinaries::find()?;
    let run_as = service_user(SYSTEM_USER)?;
    prepare(&bins, spec, run_as).await?;
    if let Some(proc) = adopt(spec).await? {
        return Ok(proc);
    }
    spawn_and_wait(&bins, spec, run_as).await
}

/// Unit directory, traverse ACLs, the files directory, and initialisation when there is no
/// data directory yet.
pub async fn prepare(bins: &MariaDbBinaries, spec: &MariaDbSpec, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let unit = unit_dir(spec);
    own_dir(&unit, run_as)?;
    grant_traverse(&unit, SYSTEM_USER, run_as)?;
    own_dir(&files_dir(spec), run_as)?;
    own_dir(&tmp_dir(spec), run_as)?;
    if !spec.data_dir.join("mysql").is_dir() {
        initialise(bins, spec, run_as).await?;
    }
    Ok(())
}

/// `mariadb-install-db` into a staging directory, the bootstrap that sets root's password
/// hash, then the rename into place.
async fn initialise(bins: &MariaDbBinaries, spec: &MariaDbSpec, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let data = &spec.data_dir;
    if data.exists() {
        let empty = std::fs::read_dir(data).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            return Err(WorkloadError::NotAMariaDbDir { path: data.clone() });
        }
        std::fs::remove_dir(data).map_err(prep_err("remove empty data directory", data))?;
    }
    let staging = data.with_extension("init");
    if bins.flavor == Dialect::MySql {
        mysql8::initialise(bins, spec, &staging, run_as).await?;
        return std::fs::rename(&staging, data).map_err(prep_err("move initialised data directory into place", data));
    }
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(prep_err("remove stale staging directory", &staging))?;
    }
    let mut install = tokio::process::Command::new(&bins.install_db);
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", staging.display()))
        .args(["--skip-test-db", "--skip-name-resolve", "--auth-root-socket-user=root"])
        .arg(format!("--tmpdir={}", tmp_dir(spec).display()))
        .env("TMPDIR", tmp_dir(spec))
        .current_dir(unit_dir(spec))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(r) = run_as {
        install.uid(r.uid).gid(r.gid);
    }
    let out = install.output().await.map_err(|e| WorkloadError::Spawn { program: bins.install_db.clone(), source: e })?;
    if !out.status.success() {
        return Err(WorkloadError::InitFailed { step: "mariadb-install-db", detail: tail(&out.stderr, &out.status) });
    }

    let hash = native_password_hash(&spec.root_password);
    let sql = tether_core::my_plan::bootstrap_root(&hash)
        .map_err(|e| WorkloadError::InitFailed { step: "rendering the bootstrap statements", detail: e.to_string() })?;
    let mut boot = tokio::process::Command::new(&bins.mariadbd);
    boot.arg("--no-defaults")
        .arg("--bootstrap")
        .arg(format!("--datadir={}", staging.display()))
        .args(["--skip-networking", "--skip-name-resolve", "--log-warnings=0"])
        .arg(format!("--tmpdir={}", tmp_dir(spec).display()))
        .current_dir(unit_dir(spec))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(r) = run_as {
        boot.uid(r.uid).gid(r.gid);
    }
    let mut child = boot.spawn().map_err(|e| WorkloadError::Spawn { program: bins.mariadbd.clone(), source: e })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let script: String = sql.iter().map(|s| format!("{s};\n")).collect();
    let written = stdin.write_all(script.as_bytes()).await;
    drop(stdin);
    let out = child.wait_with_output().await.map_err(|e| WorkloadError::Spawn { program: bins.mariadbd.clone(), source: e })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if written.is_err() || !out.status.success() || stderr.contains("ERROR") {
        return Err(WorkloadError::InitFailed { step: "mariadbd --bootstrap", detail: tail(&out.stderr, &out.status) });
    }
    std::fs::rename(&staging, data).map_err(prep_err("move initialised data directory into place", data))
}

/// The `mysql_native_password` hash of a password: `*` and the uppercase hex of
/// SHA1(SHA1(password)). It is all the server (and any statement) ever sees of it.
pub fn native_password_hash(password: &SecretString) -> String {
    use sha1::{Digest, Sha1};
    // SHA1(password) logs in as well as the password does: zeroed when dropped.
    let inner = zeroize::Zeroizing::new(<[u8; 20]>::from(Sha1::digest(password.expose().as_bytes())));
    let outer = Sha1::digest(inner.as_slice());
    let hex: String = outer.iter().map(|b| format!("{b:02X}")).collect();
    format!("*{hex}")
}

/// Adopts a live server of this data directory (by its pid file, or by its command line
/// when the pid file is not written yet), or clears a stale pid file.
async fn adopt(spec: &MariaDbSpec) -> Result<Option<Proc>, WorkloadError> {
    let unit = unit_dir(spec);
    let pid = match read_pid_file(&unit) {
        Some(pid) if is_mariadb_of(pid, &spec.data_dir) => pid,
        stale => {
            if stale.is_some() {
                let path = pid_file(spec);
                std::fs::remove_file(&path).map_err(prep_err("remove stale pid file", &path))?;
            }
            match find_server_of(&spec.data_dir) {
                Some(pid) => pid,
                None => return Ok(None),
            }
        }
    };
    let mut proc = Proc::Adopted { pid };
    let args = cmdline(pid);
    if !args.iter().any(|a| a == &format!("--port={}", spec.port)) || !started_alike(spec, &args) {
        // Ours, but listening elsewhere, or a Galera member where a single server is
        // wanted (or the other way round): restart it as the spec says.
        proc.terminate(Signal::SIGTERM, STOP_GRACE).await?;
        return Ok(None);
    }
    wait_ready(spec, &mut proc).await?;
    Ok(Some(proc))
}

/// Whether a live server's command line is the spec's kind of server: a Galera member on
/// the spec's group port, or a server without wsrep (a single server left running by an
/// interrupted change to a cluster is not adopted as a member, nor a member as a single
/// server).
fn started_alike(spec: &MariaDbSpec, args: &[String]) -> bool {
    match &spec.galera {
        Some(g) => args.iter().any(|a| *a == format!("--wsrep-node-address=127.0.0.1:{}", g.group_port)),
        None => !args.iter().any(|a| a == "--wsrep-on=ON"),
    }
}

/// The options of every tether MariaDB or MySQL server (after `--no-defaults`).
pub fn server_args(spec: &MariaDbSpec, flavor: Dialect) -> Vec<String> {
    let mut args = vec![
        format!("--datadir={}", spec.data_dir.display()),
        "--bind-address=127.0.0.1".into(),
        format!("--port={}", spec.port),
        format!("--socket={}", socket_path(spec).display()),
        format!("--pid-file={}", pid_file(spec).display()),
        format!("--log-error={}", spec.log_file.display()),
        format!("--secure-file-priv={}", files_dir(spec).display()),
        format!("--tmpdir={}", tmp_dir(spec).display()),
        "--skip-name-resolve".into(),
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_general_ci".into(),
        "--local-infile=0".into(),
    ];
    match flavor {
        // Deprecated (and the default) in MySQL 8.
        Dialect::MariaDb => args.push("--symbolic-links=0".into()),
        Dialect::MySql => args.extend(mysql8::mysql8_args()),
    }
    // The application's settings last (names from the charm's table, values checked).
    args.extend(spec.settings.iter().map(|(k, v)| format!("--{k}={v}")));
    args
}

async fn spawn_and_wait(bins: &MariaDbBinaries, spec: &MariaDbSpec, run_as: Option<RunAs>) -> Result<Proc, WorkloadError> {
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(&spec.log_file).map_err(prep_err("open server log", &spec.log_file))?;
    if let Some(r) = run_as {
        // mariadbd itself appends to --log-error as the server user.
        std::os::unix::fs::chown(&spec.log_file, Some(r.uid), Some(r.gid)).map_err(prep_err("chown server log", &spec.log_file))?;
    }
    let log2 = log.try_clone().map_err(prep_err("open server log", &spec.log_file))?;
    let mut cmd = tokio::process::Command::new(&bins.mariadbd);
    cmd.arg("--no-defaults").args(server_args(spec, bins.flavor));
    if let Some(g) = &spec.galera {
        if bins.flavor != Dialect::MariaDb || !super::galera::available() {
            return Err(WorkloadError::InitFailed {
                step: "starting a Galera member",
                detail: format!("Galera needs MariaDB and {}", super::galera::PROVIDER),
            });
        }
        let bootstrap = g
            .decide_bootstrap(&spec.data_dir)
            .map_err(|detail| WorkloadError::InitFailed { step: "joining the Galera cluster", detail })?;
        // After the application's settings, so a setting never turns replication's needs off.
        cmd.args(g.args(spec.port, bootstrap));
    }
    cmd.current_dir(unit_dir(spec)).stdin(Stdio::null()).stdout(log).stderr(log2).kill_on_drop(false).process_group(0);
    if let Some(r) = run_as {
        cmd.uid(r.uid).gid(r.gid);
    }
    let child = cmd.spawn().map_err(|e| WorkloadError::Spawn { program: bins.mariadbd.clone(), source: e })?;
    let mut proc = Proc::from_child(child);
    let ready = wait_ready(spec, &mut proc).await;
    proc.kept_if_ready(ready, Signal::SIGTERM, STOP_GRACE).await
}

/// Polls a real login as `root` until it succeeds, the process dies, the password is
/// refused, or [`READY_TIMEOUT`] passes.
async fn wait_ready(spec: &MariaDbSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    let started = Instant::now();
    loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: spec.log_file.clone() });
        }
        let last_error = match try_login(spec.port, ADMIN_USER, &spec.root_password).await {
            Ok(()) => return Ok(()),
            Err(LoginFailure::Refused) => return Err(WorkloadError::LoginRefused { port: spec.port, user: ADMIN_USER.into() }),
            Err(LoginFailure::Other(e)) => e,
        };
        if started.elapsed() >= READY_TIMEOUT {
            return Err(WorkloadError::NotReady { port: spec.port, waited_secs: READY_TIMEOUT.as_secs(), last_error });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Connection options for 127.0.0.1:`port` over TCP only (never the socket).
pub(crate) fn tcp_opts(port: u16, user: &str, password: &SecretString) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(password.expose()))
}

/// One login on 127.0.0.1:`port`, closed at once.
pub(crate) async fn try_login(port: u16, user: &str, password: &SecretString) -> Result<(), LoginFailure> {
    crate::workload::login::bounded(port, login_once(port, user, password)).await
}

async fn login_once(port: u16, user: &str, password: &SecretString) -> Result<(), LoginFailure> {
    match mysql_async::Conn::new(tcp_opts(port, user, password)).await {
        Ok(c) => {
            let _ = c.disconnect().await;
            Ok(())
        }
        Err(mysql_async::Error::Server(e)) if e.code == ER_ACCESS_DENIED => Err(LoginFailure::Refused),
        Err(e) => Err(LoginFailure::Other(e.to_string())),
    }
}

/// `ER_ACCESS_DENIED_ERROR`: wrong user or password.
pub(crate) const ER_ACCESS_DENIED: u16 = 1045;

#[cfg(test)]
mod tests;
