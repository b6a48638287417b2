//! Running one real PostgreSQL server: finding the binaries, `initdb`, start or adopt,
//! readiness by a real login, and the settings every tether server runs with.
//!
//! The superuser is `operator`; its password reaches `initdb` through a pipe on stdin, so no
//! password file is ever written. Only SCRAM logins over 127.0.0.1 are allowed
//! (`pg_hba.conf` holds exactly one rule) and the unix socket is off. What keeps the server
//! private is passed as `-c` options at every start, so `postgresql.conf` stays as `initdb`
//! wrote it; the application's own settings (its config options) are written to
//! `postgresql.auto.conf` before each start, the file `ALTER SYSTEM` changes live. A server
//! left running by an earlier controller (its `postmaster.pid` names a live postgres that
//! accepts our login on the expected port) is adopted rather than started twice.

use crate::workload::login::LoginFailure;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio_postgres::error::SqlState;

use crate::secret::SecretString;
use crate::workload::process::{pid_alive, Proc};
use crate::workload::server_process::{ServerProcess, StrayServer};
use crate::workload::sysuser::{grant_traverse, own_dir, service_user, RunAs};
use crate::workload::WorkloadError;

/// The system user PostgreSQL runs as when tether is root.
pub const SYSTEM_USER: &str = "postgres";
/// The superuser `initdb` creates; tether's admin login.
pub const SUPERUSER: &str = "operator";

/// One PostgreSQL server: its data directory (whose parent is the unit directory), the log
/// file its stderr goes to, its port on 127.0.0.1 and the password of `operator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSpec {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub port: u16,
    pub operator_password: SecretString,
    /// The application's settings, written to `postgresql.auto.conf` before each start.
    pub settings: BTreeMap<String, String>,
}

impl PgSpec {
    /// The usual layout: `<unit dir>/pgdata` and `<unit dir>/postgres.log`, with
    /// PostgreSQL's own defaults until [`PgSpec::with_settings`].
    pub fn for_unit(unit_dir: &Path, port: u16, operator_password: SecretString) -> PgSpec {
        PgSpec {
            data_dir: unit_dir.join("pgdata"),
            log_file: unit_dir.join("postgres.log"),
            port,
            operator_password,
            settings: BTreeMap::new(),
        }
    }

    pub fn with_settings(self, settings: BTreeMap<String, String>) -> PgSpec {
        PgSpec { settings, ..self }
    }
}

/// How long a start may take until the server accepts a login.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// A refused connect costs well under a millisecond; polling often keeps deploy close to
/// the server's own start time.
const READY_POLL: Duration = Duration::from_millis(10);
/// Fast shutdown (SIGINT) gets this long before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
const HBA: &str = "# Managed by tether: SCRAM logins over loopback TCP only.\nhost all all 127.0.0.1/32 scram-sha-256\n";

/// Where the `initdb` and `postgres` binaries are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub dir: PathBuf,
}

impl PgBinaries {
    /// `$TETHER_PG_BIN`, else the highest `/usr/lib/postgresql/<v>/bin` with both binaries.
    pub fn find() -> Result<PgBinaries, WorkloadError> {
        if let Some(dir) = std::env::var_os("TETHER_PG_BIN").filter(|d| !d.is_empty()) {
            let b = PgBinaries { dir: PathBuf::from(dir) };
            return if b.complete() {
                Ok(b)
            } else {
                Err(not_found(format!("$TETHER_PG_BIN ({}) has no initdb and postgres", b.dir.display())))
            };
        }
        Self::highest_in(Path::new("/usr/lib/postgresql")).ok_or_else(|| {
            not_found("no /usr/lib/postgresql/*/bin with initdb and postgres: install postgresql or set $TETHER_PG_BIN".into())
        })
    }

    fn highest_in(root: &Path) -> Option<PgBinaries> {
        let mut found: Vec<(Vec<u32>, PgBinaries)> = std::fs::read_dir(root)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
                let b = PgBinaries { dir: e.path().join("bin") };
                Some((version?, b)).filter(|(_, b)| b.complete())
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.pop().map(|(_, b)| b)
    }

    fn complete(&self) -> bool {
        self.initdb().is_file() && self.postgres().is_file()
    }
    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }
    pub fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }
}

/// What this machine gives a server: its memory, its cores, and which of the libraries
/// the charm preloads are installed next to the binaries.
pub fn host_resources() -> Result<tether_core::pg_config::Host, WorkloadError> {
    let bins = PgBinaries::find()?;
    let lib_dir = bins.dir.parent().map(|v| v.join("lib")).unwrap_or_default();
    let libraries = tether_core::pg_config::PRELOADED_LIBRARIES
        .iter()
        .filter(|l| lib_dir.join(format!("{l}.so")).is_file())
        .map(|l| l.to_string())
        .collect();
    let cpu_cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    Ok(tether_core::pg_config::Host { memory_bytes: crate::workload::host::total_memory_bytes(), cpu_cores, libraries })
}

fn not_found(hint: String) -> WorkloadError {
    WorkloadError::BinariesNotFound { engine: "PostgreSQL", hint }
}

/// The unit directory that holds the data directory (owned by the server's user too).
fn unit_dir(spec: &PgSpec) -> PathBuf {
    spec.data_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
}

/// Finds a PostgreSQL server left running on a data directory.
pub struct PgStrays;

impl StrayServer for PgStrays {
    fn find(&self, dir: &Path) -> Option<(u32, Signal, Duration)> {
        let (pid, _) = read_postmaster_pid(dir)?;
        is_postgres_of(pid, dir).then_some((pid, Signal::SIGINT, STOP_GRACE))
    }
}

#[async_trait::async_trait]
impl ServerProcess for PgSpec {
    fn place(&self) -> (&Path, u16) {
        (&self.data_dir, self.port)
    }
    fn name(&self) -> &'static str {
        "postgresql"
    }
    async fn start(&self) -> Result<Proc, WorkloadError> {
        start(self).await
    }
    fn stop_signal(&self) -> Signal {
        Signal::SIGINT
    }
    fn stop_grace(&self) -> Duration {
        STOP_GRACE
    }
}

/// Prepares directories, initialises the cluster if needed, then adopts a live server or
/// starts one, and returns once it accepts a login as `operator`.
pub async fn start(spec: &PgSpec) -> Result<Proc, WorkloadError> {
    let bins = PgBinaries::find()?;
    let run_as = service_user(SYSTEM_USER)?;
    prepare(&bins, spec, run_as).await?;
    if let Some(proc) = adopt(spec).await? {
        return Ok(proc);
    }
    spawn_and_wait(&bins, spec, run_as).await
}

/// Unit and data directories, traverse ACLs, `initdb` when there is no cluster yet, and
/// tether's `pg_hba.conf`.
pub async fn prepare(bins: &PgBinaries, spec: &PgSpec, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let unit = unit_dir(spec);
    own_dir(&unit, run_as)?;
    grant_traverse(&unit, SYSTEM_USER, run_as)?;
    if !spec.data_dir.join("PG_VERSION").is_file() {
        initdb(bins, spec, run_as).await?;
    }
    write_owned(&spec.data_dir.join("pg_hba.conf"), HBA, run_as, "write pg_hba.conf")?;
    let auto_conf = tether_core::pg_config::render_auto_conf(&spec.settings);
    write_owned(&spec.data_dir.join("postgresql.auto.conf"), &auto_conf, run_as, "write postgresql.auto.conf")
}

/// Before Patroni takes over a data directory a plain server ran (the unit becomes the
/// first member of a cluster): `postgresql.auto.conf` loses the settings tether wrote there,
/// because PostgreSQL reads that file after `postgresql.conf`, so they would override the
/// ones Patroni writes from the cluster's shared configuration (which now carries them).
pub fn release_settings_to_patroni(data_dir: &Path) -> Result<(), WorkloadError> {
    let run_as = service_user(SYSTEM_USER)?;
    let text = "# Settings live in Patroni's configuration since this server joined a Patroni cluster.\n";
    write_owned(&data_dir.join("postgresql.auto.conf"), text, run_as, "empty postgresql.auto.conf")
}

/// Writes one of the server's files (mode 0600, owned by the server's user).
fn write_owned(path: &Path, text: &str, run_as: Option<RunAs>, step: &'static str) -> Result<(), WorkloadError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |step, source| WorkloadError::Prepare { step, path: path.to_path_buf(), source };
    std::fs::write(path, text).map_err(|e| err(step, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| err("chmod", e))?;
    if let Some(r) = run_as {
        std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid)).map_err(|e| err("chown", e))?;
    }
    Ok(())
}

/// Runs `initdb` into a sibling directory and renames it into place, so a crash midway
/// never leaves a half-made cluster that looks initialised.
async fn initdb(bins: &PgBinaries, spec: &PgSpec, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let data = &spec.data_dir;
    if data.exists() {
        let empty = std::fs::read_dir(data).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            return Err(WorkloadError::NotACluster { path: data.clone() });
        }
        std::fs::remove_dir(data).map_err(|e| WorkloadError::Prepare {
            step: "remove empty data directory",
            path: data.clone(),
            source: e,
        })?;
    }
    let staging = data.with_extension("initdb");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| WorkloadError::Prepare {
            step: "remove stale initdb directory",
            path: staging.clone(),
            source: e,
        })?;
    }
    let stdin = password_pipe(&spec.operator_password, run_as)?;
    let mut cmd = tokio::process::Command::new(bins.initdb());
    cmd.arg("-D")
        .arg(&staging)
        .arg(format!("--username={SUPERUSER}"))
        .arg("--pwfile=/dev/stdin")
        .arg("--auth=scram-sha-256")
        .args(["-E", "UTF8", "--locale=C", "--no-instructions"])
        .current_dir(unit_dir(spec))
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A hook abandoned at shutdown must not leave it writing into the home.
        .kill_on_drop(true);
    if let Some(r) = run_as {
        cmd.uid(r.uid).gid(r.gid);
    }
    let out = cmd.output().await.map_err(|e| WorkloadError::Spawn { program: bins.initdb(), source: e })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let detail = format!("{} ({})", tail.into_iter().rev().collect::<Vec<_>>().join(" | "), out.status);
        return Err(WorkloadError::Initdb { detail });
    }
    std::fs::rename(&staging, data).map_err(|e| WorkloadError::Prepare {
        step: "move initialised cluster into place",
        path: data.clone(),
        source: e,
    })
}

/// A pipe whose read end carries the password (one line) to the child's stdin. When the
/// child runs as another user the read end is handed to that user, because reopening
/// `/dev/stdin` checks the pipe's owner.
fn password_pipe(password: &SecretString, run_as: Option<RunAs>) -> Result<Stdio, WorkloadError> {
    let err = |step, e: std::io::Error| WorkloadError::Prepare { step, path: PathBuf::from("/dev/stdin"), source: e };
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| err("create password pipe", e.into()))?;
    if let Some(r) = run_as {
        nix::unistd::fchown(&read, Some(nix::unistd::Uid::from_raw(r.uid)), Some(nix::unistd::Gid::from_raw(r.gid)))
            .map_err(|e| err("hand the password pipe to the server user", e.into()))?;
    }
    let mut w = std::fs::File::from(write);
    w.write_all(password.expose().as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(|e| err("write password pipe", e))?;
    drop(w);
    Ok(Stdio::from(read))
}

/// `(pid, port)` from `postmaster.pid`, if it is there and readable.
pub fn read_postmaster_pid(data_dir: &Path) -> Option<(u32, Option<u16>)> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let port = lines.nth(2).and_then(|p| p.trim().parse().ok());
    Some((pid, port))
}

/// Whether `pid` is a postgres server whose working directory is `data_dir` (postgres
/// chdirs into its data directory). When `/proc/<pid>/cwd` is unreadable the command name
/// alone decides.
pub fn is_postgres_of(pid: u32, data_dir: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmd.split(|b| *b == 0).next().unwrap_or_default();
    if !String::from_utf8_lossy(argv0).ends_with("postgres") {
        return false;
    }
    match (std::fs::read_link(format!("/proc/{pid}/cwd")), data_dir.canonicalize()) {
        (Ok(cwd), Ok(dir)) => cwd == dir,
        _ => true,
    }
}

/// Adopts a live server of this data directory, or clears a stale lock file.
async fn adopt(spec: &PgSpec) -> Result<Option<Proc>, WorkloadError> {
    let Some((pid, port)) = read_postmaster_pid(&spec.data_dir) else { return Ok(None) };
    if !is_postgres_of(pid, &spec.data_dir) {
        let path = spec.data_dir.join("postmaster.pid");
        std::fs::remove_file(&path).map_err(|e| WorkloadError::Prepare { step: "remove stale postmaster.pid", path, source: e })?;
        return Ok(None);
    }
    let mut proc = Proc::Adopted { pid };
    if port != Some(spec.port) {
        // Ours, but listening elsewhere: restart it on the expected port.
        proc.terminate(Signal::SIGINT, STOP_GRACE).await?;
        return Ok(None);
    }
    wait_ready(spec, &mut proc).await?;
    Ok(Some(proc))
}

async fn spawn_and_wait(bins: &PgBinaries, spec: &PgSpec, run_as: Option<RunAs>) -> Result<Proc, WorkloadError> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&spec.log_file).map_err(|e| WorkloadError::Prepare {
        step: "open server log",
        path: spec.log_file.clone(),
        source: e,
    })?;
    let log2 = log.try_clone().map_err(|e| WorkloadError::Prepare { step: "open server log", path: spec.log_file.clone(), source: e })?;
    let mut cmd = tokio::process::Command::new(bins.postgres());
    cmd.arg("-D").arg(&spec.data_dir);
    for (k, v) in settings(spec.port) {
        cmd.arg("-c").arg(format!("{k}={v}"));
    }
    cmd.current_dir(unit_dir(spec)).stdin(Stdio::null()).stdout(log).stderr(log2).kill_on_drop(false).process_group(0);
    if let Some(r) = run_as {
        cmd.uid(r.uid).gid(r.gid);
    }
    let child = cmd.spawn().map_err(|e| WorkloadError::Spawn { program: bins.postgres(), source: e })?;
    let mut proc = Proc::from_child(child);
    let ready = wait_ready(spec, &mut proc).await;
    proc.kept_if_ready(ready, Signal::SIGINT, STOP_GRACE).await
}

/// The `-c` settings of every tether PostgreSQL server.
pub fn settings(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("listen_addresses", "127.0.0.1".into()),
        ("port", port.to_string()),
        ("unix_socket_directories", String::new()),
        ("log_statement", "none".into()),
        ("logging_collector", "off".into()),
        ("log_destination", "stderr".into()),
    ]
}

/// Polls a real login as `operator` until it succeeds, the process dies, the password is
/// refused, or [`READY_TIMEOUT`] passes.
async fn wait_ready(spec: &PgSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    let started = Instant::now();
    loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: spec.log_file.clone() });
        }
        let last_error = match try_login(spec.port, SUPERUSER, &spec.operator_password).await {
            Ok(()) => return Ok(()),
            Err(LoginFailure::Refused) => return Err(WorkloadError::LoginRefused { port: spec.port, user: SUPERUSER.into() }),
            Err(LoginFailure::Other(e)) => e,
        };
        if started.elapsed() >= READY_TIMEOUT {
            return Err(WorkloadError::NotReady { port: spec.port, waited_secs: READY_TIMEOUT.as_secs(), last_error });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// One login to `postgres` on 127.0.0.1:`port`, closed cleanly at once.
pub(crate) async fn try_login(port: u16, user: &str, password: &SecretString) -> Result<(), LoginFailure> {
    crate::workload::login::bounded(port, login_once(port, user, password)).await
}

async fn login_once(port: u16, user: &str, password: &SecretString) -> Result<(), LoginFailure> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1").port(port).user(user).password(password.expose()).dbname("postgres").connect_timeout(Duration::from_secs(2));
    match cfg.connect(tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            let task = tokio::spawn(conn);
            drop(client);
            let _ = task.await;
            Ok(())
        }
        Err(e) => match e.as_db_error().map(|d| d.code().clone()) {
            Some(code) if code == SqlState::INVALID_PASSWORD || code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                Err(LoginFailure::Refused)
            }
            _ => Err(LoginFailure::Other(e.to_string())),
        },
    }
}

#[cfg(test)]
mod tests;
