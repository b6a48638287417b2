//! One etcd member: spawned as the database's system user (`postgres` when tether is
//! root), its stderr in `etcd.log`, its pid in `etcd.pid` beside its data so a member
//! left running by an earlier controller is adopted, or stopped when the unit goes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::engines::http;
use crate::engines::postgres::SYSTEM_USER;
use crate::workload::process::{pid_alive, spawn_logged, Proc};
use crate::workload::server_process::{ServerProcess, StrayServer};
use crate::workload::sysuser::{grant_traverse, own_dir, service_user};
use crate::workload::WorkloadError;

/// How long a member may take to report itself healthy (a joining member waits for the
/// cluster to accept it).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(100);
const STOP_GRACE: Duration = Duration::from_secs(15);
const BINARY: &str = "etcd";

/// One etcd member of an application's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdSpec {
    /// `<unit dir>/etcd`: holds `data/`, `etcd.log` and `etcd.pid`.
    pub dir: PathBuf,
    /// The member name (the unit's name with `/` as `-`).
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// `name=http://127.0.0.1:port,...`: the members the cluster expects, this one included.
    /// Read by etcd only when its data directory is new.
    pub initial_cluster: String,
    /// Whether this member founds the cluster (`new`) or joins it (`existing`).
    pub founding: bool,
    /// Keeps members of different applications from ever joining each other.
    pub token: String,
}

impl EtcdSpec {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn peer_url(&self) -> String {
        peer_url(self.peer_port)
    }
    fn pid_file(&self) -> PathBuf {
        self.dir.join("etcd.pid")
    }
}

/// The peer URL of a member listening on `port`.
pub fn peer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Finds an etcd member left running in a directory (by its pid file).
pub struct EtcdStrays;

impl StrayServer for EtcdStrays {
    fn find(&self, dir: &Path) -> Option<(u32, Signal, Duration)> {
        let pid = std::fs::read_to_string(dir.join("etcd.pid")).ok()?.trim().parse().ok()?;
        is_etcd_of(pid, dir).then_some((pid, Signal::SIGTERM, STOP_GRACE))
    }
}

/// Whether `pid` is an etcd whose data directory lies in `dir`.
fn is_etcd_of(pid: u32, dir: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut args = cmd.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned());
    let argv0 = args.next().unwrap_or_default();
    let data = dir.join("data").to_string_lossy().into_owned();
    argv0.ends_with(BINARY) && args.any(|a| a == data)
}

#[async_trait::async_trait]
impl ServerProcess for EtcdSpec {
    fn name(&self) -> &'static str {
        "etcd"
    }
    fn place(&self) -> (&Path, u16) {
        (&self.dir, self.client_port)
    }
    async fn start(&self) -> Result<Proc, WorkloadError> {
        let mut proc = match adopt(self) {
            Some(p) => p,
            None => spawn(self)?,
        };
        let ready = wait_healthy(self, &mut proc).await;
        proc.kept_if_ready(ready, Signal::SIGTERM, STOP_GRACE).await
    }
    fn stop_signal(&self) -> Signal {
        Signal::SIGTERM
    }
    fn stop_grace(&self) -> Duration {
        STOP_GRACE
    }
}

fn adopt(spec: &EtcdSpec) -> Option<Proc> {
    let pid: u32 = std::fs::read_to_string(spec.pid_file()).ok()?.trim().parse().ok()?;
    is_etcd_of(pid, &spec.dir).then_some(Proc::Adopted { pid })
}

fn spawn(spec: &EtcdSpec) -> Result<Proc, WorkloadError> {
    let run_as = service_user(SYSTEM_USER)?;
    let unit = spec.dir.parent().unwrap_or(Path::new("/"));
    own_dir(unit, run_as)?;
    grant_traverse(unit, SYSTEM_USER, run_as)?;
    own_dir(&spec.dir, run_as)?;
    let client = format!("http://127.0.0.1:{}", spec.client_port);
    let mut cmd = tokio::process::Command::new(BINARY);
    cmd.arg("--name")
        .arg(&spec.name)
        .arg("--data-dir")
        .arg(spec.data_dir())
        .arg("--listen-client-urls")
        .arg(&client)
        .arg("--advertise-client-urls")
        .arg(&client)
        .arg("--listen-peer-urls")
        .arg(spec.peer_url())
        .arg("--initial-advertise-peer-urls")
        .arg(spec.peer_url())
        .arg("--initial-cluster")
        .arg(&spec.initial_cluster)
        .arg("--initial-cluster-state")
        .arg(if spec.founding { "new" } else { "existing" })
        .arg("--initial-cluster-token")
        .arg(&spec.token)
        .args(["--logger", "zap", "--log-outputs", "stderr", "--auto-compaction-retention", "1"])
        .current_dir(&spec.dir);
    spawn_logged(cmd, Path::new(BINARY), &spec.dir.join("etcd.log"), &spec.pid_file(), run_as)
}

/// Polls `/health` until the member says it is healthy (it has joined a cluster with a
/// leader), it dies, or [`READY_TIMEOUT`] passes.
async fn wait_healthy(spec: &EtcdSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    let started = Instant::now();
    loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: spec.dir.join("etcd.log") });
        }
        let last_error = match http::get(spec.client_port, "/health").await {
            Ok(r) if r.json().and_then(|j| j.get("health").cloned()) == Some(serde_json::Value::from("true")) => return Ok(()),
            Ok(r) => format!("not healthy yet (HTTP {})", r.status),
            Err(e) => e.to_string(),
        };
        if started.elapsed() >= READY_TIMEOUT {
            return Err(WorkloadError::NotReady { port: spec.client_port, waited_secs: READY_TIMEOUT.as_secs(), last_error });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}
