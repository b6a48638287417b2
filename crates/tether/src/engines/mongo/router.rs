//! The router a `mongos` unit runs beside its principal: clients connect to it, never to
//! the config server directly.
//!
//! - With real MongoDB it is a `mongos` process: `--configdb <config-server-db>` (the
//!   `<replset>/<host:port>,...` string the config server publishes), `--keyFile` (the
//!   cluster keyfile from the `cluster` relation, written 0400 into the router's
//!   directory: mongos reads it only from a file), `--bind_ip 127.0.0.1 --port <port>`.
//!   Not testable here (no MongoDB in Debian).
//! - Under FerretDB, which has no sharding and no `mongos`, the router is a TCP forwarder
//!   (a tokio task in the controller) listening on its own port and relaying every
//!   connection byte for byte to the config server. Clients still authenticate with SCRAM
//!   end to end against the config server's users, so removing the user (or stopping the
//!   router) really cuts them off; what they reach is the config server's data, which is
//!   what a mongos in front of a cluster without shards would serve too.
//!
//! The forwarder lives only as long as the controller; the charm's start hook (queued for
//! every unit when a controller starts) brings it back. A `mongos` process records its pid
//! in `<dir>/tether-server.pid` and is adopted like the servers. Neither is restarted by
//! the supervisor when it dies: [`Routers::ensure_running`] starts it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongodb::bson::doc;
use nix::sys::signal::Signal;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::admin::client_options;
use super::server::{is_server_of, mongos_bin, read_pid_file, write_keyfile, MongoEngine, PID_FILE};
use crate::secret::SecretString;
use crate::workload::process::Proc;
use crate::workload::WorkloadError;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(30);
const KEYFILE: &str = "mongos.keyfile";

/// What one router needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    /// The router's own directory (log, keyfile and pid file of a `mongos` process).
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The config server as published in `config-server-db`: `<replset>/<host:port>,...`
    /// (the `<replset>/` part is optional).
    pub config_db: String,
    /// The cluster keyfile (used by a `mongos` process only).
    pub keyfile: SecretString,
    pub engine: MongoEngine,
}

impl RouterSpec {
    /// The config server's `host:port` list.
    pub fn upstreams(&self) -> Vec<String> {
        let hosts = self.config_db.split_once('/').map_or(self.config_db.as_str(), |(_, h)| h);
        hosts.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect()
    }
}

/// A running router.
#[derive(Debug)]
pub enum Router {
    Forwarder { stop: watch::Sender<bool>, task: JoinHandle<()> },
    Mongos { proc: Proc },
}

fn prep<'a>(step: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WorkloadError + 'a {
    move |source| WorkloadError::Prepare { step, path: path.to_path_buf(), source }
}

/// Starts the router (or adopts a live `mongos` of `spec.dir`) and returns once it
/// listens (forwarder) or answers `hello` (mongos).
pub async fn start(spec: &RouterSpec) -> Result<Router, WorkloadError> {
    if spec.upstreams().is_empty() {
        let e = std::io::Error::other(format!("config-server-db {:?} names no host", spec.config_db));
        return Err(prep("read config server address", &spec.dir)(e));
    }
    match spec.engine {
        MongoEngine::FerretDb => start_forwarder(spec).await,
        MongoEngine::Mongod => start_mongos(spec).await,
    }
}

/// Stops the router; for a forwarder this also closes every relayed connection.
pub async fn stop(router: Router) -> Result<(), WorkloadError> {
    match router {
        Router::Forwarder { stop, task, .. } => {
            let _ = stop.send(true);
            let _ = task.await;
            Ok(())
        }
        Router::Mongos { mut proc } => proc.terminate(Signal::SIGTERM, STOP_GRACE).await,
    }
}

async fn start_forwarder(spec: &RouterSpec) -> Result<Router, WorkloadError> {
    let listener = TcpListener::bind(("127.0.0.1", spec.port)).await.map_err(prep("listen on the router port", &spec.dir))?;
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(forward(listener, spec.upstreams(), stop_rx));
    Ok(Router::Forwarder { stop, task })
}

/// Accepts connections until told to stop; each is relayed to the first upstream that
/// accepts, and cut when the router stops.
async fn forward(listener: TcpListener, upstreams: Vec<String>, mut stop: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let upstreams = upstreams.clone();
                let mut stop = conn_stop.clone();
                conns.spawn(async move {
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => {}
                        _ = relay(client, &upstreams) => {}
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}

async fn relay(mut client: TcpStream, upstreams: &[String]) {
    for up in upstreams {
        if let Ok(Ok(mut server)) = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(up.as_str())).await {
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            return;
        }
    }
}

async fn start_mongos(spec: &RouterSpec) -> Result<Router, WorkloadError> {
    use std::os::unix::fs::DirBuilderExt;
    let bin = mongos_bin()?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&spec.dir).map_err(prep("create router directory", &spec.dir))?;
    if let Some((pid, port)) = read_pid_file(&spec.dir) {
        if is_server_of(pid, &spec.dir) {
            let mut proc = Proc::Adopted { pid };
            if port == spec.port {
                wait_hello(spec.port, &mut proc, &spec.dir).await?;
                return Ok(Router::Mongos { proc });
            }
            proc.terminate(Signal::SIGTERM, STOP_GRACE).await?;
        }
    }
    let keyfile = spec.dir.join(KEYFILE);
    write_keyfile(&keyfile, Some(&spec.keyfile))?;
    let log_path = spec.dir.join("mongos.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(prep("open router log", &log_path))?;
    let log2 = log.try_clone().map_err(prep("open router log", &log_path))?;
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("--configdb").arg(&spec.config_db).args(["--bind_ip", "127.0.0.1", "--port"]).arg(spec.port.to_string());
    cmd.arg("--keyFile").arg(&keyfile);
    cmd.current_dir(&spec.dir).stdin(Stdio::null()).stdout(log).stderr(log2).kill_on_drop(false).process_group(0);
    let child = cmd.spawn().map_err(|e| WorkloadError::Spawn { program: bin.clone(), source: e })?;
    let mut proc = Proc::from_child(child);
    let pid_file = spec.dir.join(PID_FILE);
    std::fs::write(&pid_file, format!("{}\n{}\n", proc.pid(), spec.port)).map_err(prep("write pid file", &pid_file))?;
    let ready = wait_hello(spec.port, &mut proc, &log_path).await;
    Ok(Router::Mongos { proc: proc.kept_if_ready(ready, Signal::SIGTERM, STOP_GRACE).await? })
}

/// Waits until the router answers `hello` (no login needed), bounded.
async fn wait_hello(port: u16, proc: &mut Proc, log: &Path) -> Result<(), WorkloadError> {
    let started = Instant::now();
    let client = mongodb::Client::with_options(client_options(port, None, Duration::from_secs(2)))
        .map_err(|e| WorkloadError::NotReady { port, waited_secs: 0, last_error: e.to_string() })?;
    loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: log.to_path_buf() });
        }
        match client.database("admin").run_command(doc! { "hello": 1 }).await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() >= READY_TIMEOUT => {
                return Err(WorkloadError::NotReady { port, waited_secs: READY_TIMEOUT.as_secs(), last_error: e.to_string() })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The controller's routers, one per mongos unit.
#[derive(Clone, Default)]
pub struct Routers {
    inner: Arc<tokio::sync::Mutex<HashMap<String, (RouterSpec, Router)>>>,
}

impl Routers {
    /// Makes the unit's router run with `spec`. Idempotent: a running router with the same
    /// spec stays; a different spec (or a dead router) is replaced.
    pub async fn ensure_running(&self, unit: &str, spec: RouterSpec) -> Result<(), WorkloadError> {
        let mut map = self.inner.lock().await;
        if let Some((old, router)) = map.get_mut(unit) {
            let alive = match router {
                Router::Forwarder { task, .. } => !task.is_finished(),
                Router::Mongos { proc } => proc.try_exited().is_none(),
            };
            if *old == spec && alive {
                return Ok(());
            }
        }
        if let Some((_, router)) = map.remove(unit) {
            stop(router).await?;
        }
        let router = start(&spec).await?;
        map.insert(unit.to_string(), (spec, router));
        Ok(())
    }

    /// Stops the unit's router; idempotent.
    pub async fn stop(&self, unit: &str) -> Result<(), WorkloadError> {
        let removed = self.inner.lock().await.remove(unit);
        match removed {
            Some((_, router)) => stop(router).await,
            None => Ok(()),
        }
    }

    /// Whether the unit has a live router.
    pub async fn is_running(&self, unit: &str) -> bool {
        match self.inner.lock().await.get_mut(unit) {
            Some((_, Router::Forwarder { task, .. })) => !task.is_finished(),
            Some((_, Router::Mongos { proc })) => proc.try_exited().is_none(),
            None => false,
        }
    }

    /// Stops every router (controller shutdown).
    pub async fn stop_all(&self) {
        let all: Vec<_> = self.inner.lock().await.drain().collect();
        for (_, (_, router)) in all {
            let _ = stop(router).await;
        }
    }
}
