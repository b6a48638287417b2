//! Running one MongoDB-wire server: the real `mongod` where it is installed, else FerretDB.
//!
//! **Which engine** ([`MongoEngine::detect`]): `mongod` on `PATH` first (what production
//! users run), else FerretDB, found at `$TETHER_FERRETDB_BIN`, else `ferretdb` on `PATH`,
//! else `.tools/bin/ferretdb` in a directory above the running executable (where
//! `scripts/install-ferretdb` puts it, so a tether built in the repository finds it). A
//! config option can force either.
//!
//! **FerretDB** (v1.24, SQLite backend under the data directory, or PostgreSQL when the
//! spec gives a `postgresql_url` (a highly available application's own Patroni cluster),
//! with its new authentication:
//! users stored in `admin.system.users`, SCRAM-SHA-256). `operator` is created by
//! FerretDB's own setup on the first start (setup runs only while `admin` does not exist);
//! its password reaches the child through the `FERRETDB_SETUP_PASSWORD` environment
//! variable, never argv or a file. Other `FERRETDB_*` variables of tether's environment
//! are not passed on. FerretDB has no replica sets (the spec's `replset` is not used and
//! clients get no `replicaSet`), no keyfile and no roles. The PostgreSQL URL holds a
//! password, so it reaches the child as `FERRETDB_POSTGRESQL_URL`, never argv. FerretDB
//! loads the backend's list of databases and collections once, at its first login, and
//! keeps it: one started before another FerretDB created a collection does not see it
//! until it restarts (the charm restarts it when that matters, see `charms::mongodb::ha`).
//!
//! **mongod** (`--auth --keyFile --replSet <replset> --bind_ip 127.0.0.1 --port`): on the
//! first start the replica set is initiated and `operator` created through the localhost
//! exception, then every later login is authenticated. The keyfile is generated per unit
//! (`<unit dir>/mongod.keyfile`, 0400, mongod reads it only from a file) from the
//! application's secret, so every member and router of one cluster shares it; a shard
//! takes its config server's. A config server runs with `--configsvr`, a shard with
//! `--shardsvr`. A member that joins a set another unit founded (`joins`, a highly
//! available application's later units) skips both: it is ready once it answers `hello`,
//! and gets its users by syncing once the primary adds it. This path cannot be tested here (no mongod in Debian); it follows
//! MongoDB's documented sequence.
//!
//! Either way tether records `pid` and `port` in `<data dir>/tether-server.pid`; a later
//! start adopts a live server of the same binary and data directory instead of starting a
//! second one. Ready means an authenticated `ping` as `operator` succeeded (bounded poll).
//! The server runs as the controller's user (neither server refuses root).

use crate::workload::login::LoginFailure;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mongodb::bson::doc;
use nix::sys::signal::Signal;

use super::admin::replset::initiate_document;
use super::admin::{client_options, ADMIN_USER};
use super::error::{error_code, is_auth_refused};
use crate::secret::{generate_password, SecretString};
use crate::workload::process::{pid_alive, Proc};
use crate::workload::server_process::{ServerProcess, StrayServer};
use crate::workload::WorkloadError;

/// One MongoDB-wire server (see the module docs): its data directory (whose parent is the unit
/// directory), the log file, its port on 127.0.0.1, the password of `operator`, the engine
/// and, for mongod, the replica set name, the member's place in a sharded cluster and the
/// keyfile its members share (FerretDB has none of these and ignores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoSpec {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub port: u16,
    pub operator_password: SecretString,
    pub engine: MongoEngine,
    pub replset: Option<String>,
    pub cluster_role: ClusterRole,
    /// The content of mongod's `--keyFile`; `None` keeps the file there (or makes a random one).
    pub keyfile: Option<SecretString>,
    /// FerretDB's PostgreSQL backend (a libpq URL with its password); `None`: SQLite.
    pub postgresql_url: Option<SecretString>,
    /// mongod only: a member of a replica set another unit founded. It never initiates a
    /// set nor uses the localhost exception; it is ready once it answers `hello` (it has
    /// no users until the primary adds it and it syncs them).
    pub joins: bool,
}

/// A mongod's place in a sharded cluster (`--configsvr`, `--shardsvr`, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterRole {
    #[default]
    ReplicaSet,
    ConfigServer,
    Shard,
}

impl ClusterRole {
    /// From the mongodb charm's `role` option.
    pub fn from_config(role: &str) -> ClusterRole {
        match role {
            "config-server" => ClusterRole::ConfigServer,
            "shard" => ClusterRole::Shard,
            _ => ClusterRole::ReplicaSet,
        }
    }
}

impl MongoSpec {
    /// The usual layout: `<unit dir>/mongodata` and `<unit dir>/mongo.log`, a plain replica
    /// set member with the keyfile already on disk.
    pub fn for_unit(
        unit_dir: &Path,
        port: u16,
        operator_password: SecretString,
        engine: MongoEngine,
        replset: Option<String>,
    ) -> MongoSpec {
        MongoSpec {
            data_dir: unit_dir.join("mongodata"),
            log_file: unit_dir.join("mongo.log"),
            port,
            operator_password,
            engine,
            replset,
            cluster_role: ClusterRole::ReplicaSet,
            keyfile: None,
            postgresql_url: None,
            joins: false,
        }
    }
}

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(100);
const STOP_GRACE: Duration = Duration::from_secs(30);
/// tether's record of the running server, in the data directory.
pub const PID_FILE: &str = "tether-server.pid";
const KEYFILE: &str = "mongod.keyfile";

/// The server program a MongoDB unit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MongoEngine {
    Mongod,
    FerretDb,
}

impl MongoEngine {
    /// `forced` is a config value: `mongod`, `ferretdb`, or empty/`auto` for the first
    /// installed one (mongod first).
    pub fn detect(forced: Option<&str>) -> Result<MongoEngine, WorkloadError> {
        match forced.map(str::trim).filter(|f| !f.is_empty() && *f != "auto") {
            None if mongod_bin().is_ok() => Ok(MongoEngine::Mongod),
            None => ferretdb_bin().map(|_| MongoEngine::FerretDb).map_err(|_| not_found("neither mongod nor FerretDB is installed: install MongoDB, or run scripts/install-ferretdb (or set $TETHER_FERRETDB_BIN)".into())),
            Some("mongod") => mongod_bin().map(|_| MongoEngine::Mongod),
            Some("ferretdb") => ferretdb_bin().map(|_| MongoEngine::FerretDb),
            Some(other) => Err(not_found(format!("unknown engine {other:?}: expected mongod, ferretdb or auto"))),
        }
    }

    /// The name shown in status and logs.
    pub fn name(self) -> &'static str {
        match self {
            MongoEngine::Mongod => "mongod",
            MongoEngine::FerretDb => "ferretdb",
        }
    }

    /// The binary this engine runs.
    pub fn binary(self) -> Result<PathBuf, WorkloadError> {
        match self {
            MongoEngine::Mongod => mongod_bin(),
            MongoEngine::FerretDb => ferretdb_bin(),
        }
    }
}

fn not_found(hint: String) -> WorkloadError {
    WorkloadError::BinariesNotFound { engine: "MongoDB", hint }
}

/// `name` in one of the `PATH` directories.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn mongod_bin() -> Result<PathBuf, WorkloadError> {
    on_path("mongod").ok_or_else(|| not_found("mongod is not on PATH".into()))
}

pub(crate) fn mongos_bin() -> Result<PathBuf, WorkloadError> {
    on_path("mongos").ok_or_else(|| not_found("mongos is not on PATH".into()))
}

/// `$TETHER_FERRETDB_BIN`, `ferretdb` on `PATH`, `.tools/bin/ferretdb` above the executable.
fn ferretdb_bin() -> Result<PathBuf, WorkloadError> {
    if let Some(p) = std::env::var_os("TETHER_FERRETDB_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(not_found(format!("$TETHER_FERRETDB_BIN ({}) is not an executable", p.display())))
        };
    }
    if let Some(p) = on_path("ferretdb") {
        return Ok(p);
    }
    let exe = std::env::current_exe().ok();
    exe.iter()
        .flat_map(|e| e.ancestors().skip(1))
        .map(|d| d.join(".tools/bin/ferretdb"))
        .find(|p| is_executable(p))
        .ok_or_else(|| not_found("FerretDB not found: run scripts/install-ferretdb or set $TETHER_FERRETDB_BIN".into()))
}

/// Finds a mongod or FerretDB left running on a data directory.
pub struct MongoStrays;

impl StrayServer for MongoStrays {
    fn find(&self, dir: &Path) -> Option<(u32, Signal, Duration)> {
        let (pid, _) = read_pid_file(dir)?;
        is_server_of(pid, dir).then_some((pid, Signal::SIGTERM, STOP_GRACE))
    }
}

#[async_trait::async_trait]
impl ServerProcess for MongoSpec {
    fn place(&self) -> (&Path, u16) {
        (&self.data_dir, self.port)
    }
    fn name(&self) -> &'static str {
        self.engine.name()
    }
    async fn start(&self) -> Result<Proc, WorkloadError> {
        start(self).await
    }
    fn stop_signal(&self) -> Signal {
        Signal::SIGTERM
    }
    fn stop_grace(&self) -> Duration {
        STOP_GRACE
    }
}

fn prep<'a>(step: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WorkloadError + 'a {
    move |source| WorkloadError::Prepare { step, path: path.to_path_buf(), source }
}

fn unit_dir(spec: &MongoSpec) -> PathBuf {
    spec.data_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
}

/// Makes the data directory (0700), then adopts a live server of it or starts one, and
/// returns once `operator` can log in.
pub async fn start(spec: &MongoSpec) -> Result<Proc, WorkloadError> {
    let bin = spec.engine.binary()?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&spec.data_dir).map_err(prep("create data directory", &spec.data_dir))?;
    if let Some(proc) = adopt(spec, &bin).await? {
        return Ok(proc);
    }
    let mut proc = spawn(spec, &bin)?;
    let ready = match spec.engine {
        MongoEngine::FerretDb => wait_ready(spec, &mut proc).await,
        MongoEngine::Mongod if spec.joins => wait_answering(spec, &mut proc, Instant::now()).await,
        MongoEngine::Mongod => initiate_mongod(spec, &mut proc).await,
    };
    let kept = proc.kept_if_ready(ready, Signal::SIGTERM, STOP_GRACE).await;
    if kept.is_err() {
        let _ = std::fs::remove_file(spec.data_dir.join(PID_FILE));
    }
    kept
}

use std::os::unix::fs::DirBuilderExt;

/// The argv (after the program) of each engine; the data directory is always in it, so
/// [`is_server_of`] can recognise the process.
pub fn args(spec: &MongoSpec, keyfile: &Path) -> Vec<String> {
    let dir = spec.data_dir.display();
    match spec.engine {
        MongoEngine::FerretDb => {
            let backend = match spec.postgresql_url {
                // The URL itself comes through the environment (it holds a password).
                Some(_) => vec!["--handler=postgresql".into()],
                None => vec!["--handler=sqlite".into(), format!("--sqlite-url=file:{dir}/")],
            };
            backend.into_iter().chain(ferretdb_common_args(spec)).collect()
        }
        MongoEngine::Mongod => {
            let mut a = vec![
                "--dbpath".into(),
                dir.to_string(),
                "--port".into(),
                spec.port.to_string(),
                "--bind_ip".into(),
                "127.0.0.1".into(),
                "--auth".into(),
                "--keyFile".into(),
                keyfile.display().to_string(),
            ];
            if let Some(rs) = spec.replset.as_deref().filter(|r| !r.is_empty()) {
                a.extend(["--replSet".into(), rs.to_string()]);
            }
            match spec.cluster_role {
                ClusterRole::ReplicaSet => {}
                ClusterRole::ConfigServer => a.push("--configsvr".into()),
                ClusterRole::Shard => a.push("--shardsvr".into()),
            }
            a
        }
    }
}

/// FerretDB's arguments whatever its backend; `--state-dir` names the data directory.
fn ferretdb_common_args(spec: &MongoSpec) -> Vec<String> {
    vec![
        format!("--state-dir={}", spec.data_dir.display()),
        format!("--listen-addr=127.0.0.1:{}", spec.port),
        "--debug-addr=-".into(),
        "--telemetry=disable".into(),
        "--test-enable-new-auth".into(),
        format!("--setup-username={ADMIN_USER}"),
        "--setup-database=admin".into(),
        "--log-format=text".into(),
    ]
}

/// A path FerretDB's `file:` SQLite URL carries unchanged (no escaping happens there).
fn url_safe(p: &Path) -> bool {
    p.to_str().is_some_and(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+@=,".contains(c)))
}

fn spawn(spec: &MongoSpec, bin: &Path) -> Result<Proc, WorkloadError> {
    let keyfile = unit_dir(spec).join(KEYFILE);
    match spec.engine {
        MongoEngine::Mongod => write_keyfile(&keyfile, spec.keyfile.as_ref())?,
        MongoEngine::FerretDb if spec.postgresql_url.is_none() && !url_safe(&spec.data_dir) => {
            let e = std::io::Error::other("FerretDB's SQLite URL cannot hold this path (use letters, digits and / . _ - + @ = , only)");
            return Err(prep("check data directory", &spec.data_dir)(e));
        }
        MongoEngine::FerretDb => {}
    }
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(&spec.log_file).map_err(prep("open server log", &spec.log_file))?;
    let log2 = log.try_clone().map_err(prep("open server log", &spec.log_file))?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args(spec, &keyfile));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FERRETDB_") {
            cmd.env_remove(k);
        }
    }
    if spec.engine == MongoEngine::FerretDb {
        cmd.env("FERRETDB_SETUP_PASSWORD", spec.operator_password.expose());
        if let Some(url) = &spec.postgresql_url {
            cmd.env("FERRETDB_POSTGRESQL_URL", url.expose());
        }
    }
    cmd.current_dir(&spec.data_dir).stdin(Stdio::null()).stdout(log).stderr(log2).kill_on_drop(false).process_group(0);
    let child = cmd.spawn().map_err(|e| WorkloadError::Spawn { program: bin.to_path_buf(), source: e })?;
    let proc = Proc::from_child(child);
    let pid_file = spec.data_dir.join(PID_FILE);
    std::fs::write(&pid_file, format!("{}\n{}\n", proc.pid(), spec.port)).map_err(prep("write pid file", &pid_file))?;
    Ok(proc)
}

/// mongod's keyfile, 0400: `content` when given (rewritten if it differs: a shard takes
/// its config server's), else the one already there, else a random one.
pub(crate) fn write_keyfile(path: &Path, content: Option<&SecretString>) -> Result<(), WorkloadError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let current = std::fs::read_to_string(path).ok();
    let wanted = match (content, &current) {
        (Some(c), Some(cur)) if c.expose() == cur => return Ok(()),
        (None, Some(_)) => return Ok(()),
        (Some(c), _) => c.clone(),
        (None, None) => generate_password(1024),
    };
    if current.is_some() {
        std::fs::remove_file(path).map_err(prep("replace keyfile", path))?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o400).open(path).map_err(prep("create keyfile", path))?;
    f.write_all(wanted.expose().as_bytes()).map_err(prep("write keyfile", path))
}

/// `(pid, port)` from tether's pid file, if it is there and readable.
pub fn read_pid_file(data_dir: &Path) -> Option<(u32, u16)> {
    let text = std::fs::read_to_string(data_dir.join(PID_FILE)).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.trim().parse().ok()?, lines.next()?.trim().parse().ok()?))
}

/// Whether `pid` is a live `mongod`/`ferretdb`/`mongos` whose argv names `data_dir`.
pub fn is_server_of(pid: u32, data_dir: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut argv = cmd.split(|b| *b == 0).map(String::from_utf8_lossy);
    let argv0 = argv.next().unwrap_or_default();
    let program = argv0.rsplit('/').next().unwrap_or_default();
    if !matches!(program, "mongod" | "ferretdb" | "mongos") {
        return false;
    }
    let dir = data_dir.display().to_string();
    // mongod: `--dbpath <dir>`; FerretDB: its state directory; mongos: its keyfile in `<dir>`.
    argv.any(|a| a == dir || a == format!("--state-dir={dir}") || Path::new(a.as_ref()).parent() == Some(data_dir))
}

/// Adopts a live server of this data directory, or clears a stale pid file.
async fn adopt(spec: &MongoSpec, _bin: &Path) -> Result<Option<Proc>, WorkloadError> {
    let Some((pid, port)) = read_pid_file(&spec.data_dir) else { return Ok(None) };
    let pid_file = spec.data_dir.join(PID_FILE);
    if !is_server_of(pid, &spec.data_dir) {
        std::fs::remove_file(&pid_file).map_err(prep("remove stale pid file", &pid_file))?;
        return Ok(None);
    }
    let mut proc = Proc::Adopted { pid };
    if port != spec.port {
        // Ours, but listening elsewhere: restart it on the expected port.
        proc.terminate(Signal::SIGTERM, STOP_GRACE).await?;
        return Ok(None);
    }
    if spec.joins && spec.engine == MongoEngine::Mongod {
        wait_answering(spec, &mut proc, Instant::now()).await?;
    } else {
        wait_ready(spec, &mut proc).await?;
    }
    Ok(Some(proc))
}

/// One authenticated `ping` as `user` on 127.0.0.1:`port`.
pub(crate) async fn try_login(port: u16, user: &str, password: &SecretString) -> Result<(), LoginFailure> {
    crate::workload::login::bounded(port, login_once(port, user, password)).await
}

async fn login_once(port: u16, user: &str, password: &SecretString) -> Result<(), LoginFailure> {
    let opts = client_options(port, Some((user, password)), Duration::from_secs(2));
    let client = mongodb::Client::with_options(opts).map_err(|e| LoginFailure::Other(e.to_string()))?;
    let result = client.database("admin").run_command(doc! { "ping": 1 }).await;
    client.shutdown().immediate(true).await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_auth_refused(&e) => Err(LoginFailure::Refused),
        Err(e) => Err(LoginFailure::Other(e.to_string())),
    }
}

/// Polls an authenticated `ping` until it succeeds, the process dies, the password is
/// refused, or [`READY_TIMEOUT`] passes.
async fn wait_ready(spec: &MongoSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    let started = Instant::now();
    loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: spec.log_file.clone() });
        }
        // Only try the driver once the port accepts connections: a driver that finds no
        // server waits out its own heartbeat (about half a second) before trying again.
        if tokio::net::TcpStream::connect(("127.0.0.1", spec.port)).await.is_err() {
            if started.elapsed() >= READY_TIMEOUT {
                return Err(WorkloadError::NotReady {
                    port: spec.port,
                    waited_secs: READY_TIMEOUT.as_secs(),
                    last_error: "not listening".into(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
            continue;
        }
        let last_error = match try_login(spec.port, ADMIN_USER, &spec.operator_password).await {
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

/// Polls an anonymous `hello` (it needs no authentication) until mongod answers, the
/// process dies, or [`READY_TIMEOUT`] after `started` passes.
async fn wait_answering(spec: &MongoSpec, proc: &mut Proc, started: Instant) -> Result<(), WorkloadError> {
    let anon = mongodb::Client::with_options(client_options(spec.port, None, Duration::from_secs(2)))
        .map_err(|e| WorkloadError::NotReady { port: spec.port, waited_secs: 0, last_error: e.to_string() })?;
    let result = loop {
        if let Some(status) = proc.try_exited() {
            break Err(WorkloadError::ExitedDuringStart { status, log: spec.log_file.clone() });
        }
        match anon.database("admin").run_command(doc! { "hello": 1 }).await {
            Ok(_) => break Ok(()),
            Err(e) if started.elapsed() >= READY_TIMEOUT => {
                break Err(WorkloadError::NotReady { port: spec.port, waited_secs: started.elapsed().as_secs(), last_error: e.to_string() })
            }
            Err(_) => tokio::time::sleep(READY_POLL).await,
        }
    };
    anon.shutdown().immediate(true).await;
    result
}

/// mongod's first start: wait until it answers, then (once) initiate the replica set and
/// create `operator` through the localhost exception; finally wait for an authenticated
/// login. Later starts find `operator` and skip the exception.
async fn initiate_mongod(spec: &MongoSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    let started = Instant::now();
    let anon = mongodb::Client::with_options(client_options(spec.port, None, Duration::from_secs(2)))
        .map_err(|e| WorkloadError::NotReady { port: spec.port, waited_secs: 0, last_error: e.to_string() })?;
    let admin = anon.database("admin");
    let fail = |e: String| WorkloadError::NotReady { port: spec.port, waited_secs: started.elapsed().as_secs(), last_error: e };
    wait_answering(spec, proc, started).await?;
    if matches!(try_login(spec.port, ADMIN_USER, &spec.operator_password).await, Err(LoginFailure::Refused)) {
        if let Some(rs) = spec.replset.as_deref().filter(|r| !r.is_empty()) {
            // The founder's set is itself; the other units are added one reconfiguration
            // at a time by the leader (`charms::mongodb::replset`).
            let mut config = initiate_document(&tether_core::mongo_replset::initiate(rs, &[tether_core::mongo_replset::host(spec.port)]));
            if spec.cluster_role == ClusterRole::ConfigServer {
                // A config server's replica set must say so, or mongos refuses it.
                config.insert("configsvr", true);
            }
            if let Err(e) = admin.run_command(doc! { "replSetInitiate": config }).await {
                // 23: AlreadyInitialized (a retried first start).
                if error_code(&e) != Some(23) {
                    return Err(fail(format!("replSetInitiate: {e}")));
                }
            }
            // The localhost exception creates users only on the primary.
            loop {
                let hello = admin.run_command(doc! { "hello": 1 }).await.map_err(|e| fail(e.to_string()))?;
                if hello.get_bool("isWritablePrimary").unwrap_or(false) {
                    break;
                }
                if started.elapsed() >= READY_TIMEOUT {
                    return Err(fail("replica set has no primary".into()));
                }
                tokio::time::sleep(READY_POLL).await;
            }
        }
        let roles: Vec<_> =
            tether_core::mongo_plan::operator_roles().into_iter().map(|(role, db)| doc! { "role": role, "db": db }).collect();
        let create = doc! {
            "createUser": ADMIN_USER, "pwd": spec.operator_password.expose(), "roles": roles,
            "mechanisms": ["SCRAM-SHA-256"], "customData": { "managedBy": "tether" },
        };
        if let Err(e) = admin.run_command(create).await {
            // Users already exist: the exception is closed and the password is wrong.
            if error_code(&e) != Some(51003) {
                return Err(fail(format!("creating {ADMIN_USER} through the localhost exception: {e}")));
            }
        }
    }
    anon.shutdown().immediate(true).await;
    wait_ready(spec, proc).await
}

#[cfg(test)]
pub(crate) mod tests;
