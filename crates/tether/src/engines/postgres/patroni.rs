//! One Patroni managing one unit's PostgreSQL, for an application deployed highly
//! available: Patroni bootstraps the cluster (or a replica from the primary), holds the
//! leader lock in the application's etcd, promotes a synchronous standby when the primary
//! fails and rewinds a former primary with `pg_rewind`. tether never decides a failover
//! itself; it starts Patroni, watches it as a `ServerProcess` and reads its REST API.
//!
//! Patroni (the program `tether_core::patroni_install` names: PyPI's, in a virtual
//! environment of Debian's `/usr/bin/python3`) and the PostgreSQL it starts run as
//! `postgres`. Its configuration holds the internal passwords, so it is written owner-only
//! (0600, owned by `postgres`) inside the unit directory, never logged, and rewritten at
//! every start. The settings follow Canonical's charm: `synchronous_mode` with every
//! replica synchronous (its default `synchronous_node_count: all`), `use_pg_rewind`;
//! `primary_start_timeout: 0` makes a crashed primary fail over to a synchronous standby
//! instead of restarting in place.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use super::server::{read_postmaster_pid, PgBinaries, SUPERUSER, SYSTEM_USER};
use crate::engines::http;
use crate::secret::SecretString;
use crate::workload::process::{pid_alive, spawn_logged, Proc};
use crate::workload::server_process::{ServerProcess, StrayServer};
use crate::workload::sysuser::{grant_traverse, own_dir, service_user, RunAs};
use crate::workload::WorkloadError;

/// A replica's first start copies the primary (`pg_basebackup`); that may take a while.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
const READY_POLL: Duration = Duration::from_millis(200);
/// Patroni stops PostgreSQL (fast) and releases its leader lock before it exits.
const STOP_GRACE: Duration = Duration::from_secs(60);
/// Leader lock lifetime, loop period and retry timeout: one definition shared with the
/// benchmark's bare Patroni floor (`tether_core::patroni_timing`).
use tether_core::patroni_timing::{LOOP_WAIT_SECS, RETRY_TIMEOUT_SECS, TTL_SECS};
/// "Every replica synchronous": Patroni takes at most this many.
const SYNCHRONOUS_NODE_COUNT: u32 = 16;
/// The user Patroni's REST API asks of unsafe requests (switchover, restart).
pub const REST_USER: &str = "patroni";

/// The passwords Patroni needs: its superuser, replication and rewind users, and its REST API's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatroniPasswords {
    pub operator: SecretString,
    pub replication: SecretString,
    pub rewind: SecretString,
    pub rest: SecretString,
}

/// One unit's Patroni.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatroniSpec {
    /// `<unit dir>/patroni`: `patroni.yml`, `patroni.log`, `patroni.pid`, `pgpass`.
    pub dir: PathBuf,
    /// `<unit dir>/pgdata`.
    pub data_dir: PathBuf,
    /// The member name (the unit's name with `/` as `-`).
    pub name: String,
    /// The cluster: one per application (model uuid and application name).
    pub scope: String,
    pub rest_port: u16,
    pub pg_port: u16,
    /// `127.0.0.1:port` of every etcd member known at start (Patroni learns the rest).
    pub etcd_hosts: Vec<String>,
    pub passwords: PatroniPasswords,
    /// The application's settings, in the cluster's bootstrap configuration (later changes
    /// go through Patroni's dynamic configuration).
    pub parameters: BTreeMap<String, String>,
}

impl PatroniSpec {
    /// The usual layout under a unit directory.
    pub fn for_unit(
        unit_dir: &Path,
        name: &str,
        scope: &str,
        ports: (u16, u16),
        etcd_hosts: Vec<String>,
        passwords: PatroniPasswords,
    ) -> Self {
        PatroniSpec {
            dir: unit_dir.join("patroni"),
            data_dir: unit_dir.join("pgdata"),
            name: name.to_string(),
            scope: scope.to_string(),
            rest_port: ports.0,
            pg_port: ports.1,
            etcd_hosts,
            passwords,
            parameters: BTreeMap::new(),
        }
    }

    /// Whether a Patroni was ever configured in this unit directory: from then on its data
    /// directory is Patroni's, and no plain server may start on it again.
    pub fn configured_in(unit_dir: &Path) -> bool {
        unit_dir.join("patroni").join("patroni.yml").is_file()
    }

    pub fn with_parameters(self, parameters: BTreeMap<String, String>) -> Self {
        PatroniSpec { parameters, ..self }
    }

    /// Rewrites `patroni.yml` from this spec and has the running Patroni read it again
    /// (SIGHUP, its reload): how changed passwords reach a running member without a
    /// restart. A member that is not running reads the file when it starts.
    pub fn rewrite_and_reload(&self) -> Result<(), WorkloadError> {
        let bins = PgBinaries::find()?;
        prepare(self, &bins, service_user(SYSTEM_USER)?)?;
        let pid: Option<u32> = std::fs::read_to_string(self.pid_file()).ok().and_then(|p| p.trim().parse().ok());
        if let Some(pid) = pid.filter(|p| is_patroni_of(*p, &self.config_file())) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGHUP);
        }
        Ok(())
    }
    fn config_file(&self) -> PathBuf {
        self.dir.join("patroni.yml")
    }
    fn pid_file(&self) -> PathBuf {
        self.dir.join("patroni.pid")
    }
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("patroni.log")
    }

    /// The application's settings, then what replication needs (which always wins).
    fn bootstrap_parameters(&self) -> serde_json::Value {
        let mut p: serde_json::Map<String, serde_json::Value> =
            self.parameters.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect();
        for (k, v) in [
            ("wal_level", json!("replica")),
            ("hot_standby", json!("on")),
            ("wal_log_hints", json!("on")),
            ("max_wal_senders", json!(10)),
            ("max_replication_slots", json!(10)),
            ("password_encryption", json!("scram-sha-256")),
        ] {
            p.insert(k.to_string(), v);
        }
        serde_json::Value::Object(p)
    }

    /// Patroni's configuration (passwords in clear: only ever written to the 0600 file).
    fn config(&self, bins: &PgBinaries) -> serde_json::Value {
        let pg = format!("127.0.0.1:{}", self.pg_port);
        let rest = format!("127.0.0.1:{}", self.rest_port);
        json!({
            "scope": self.scope,
            "namespace": "/tether/",
            "name": self.name,
            "log": { "level": "INFO" },
            "restapi": {
                "listen": rest,
                "connect_address": rest,
                "authentication": { "username": REST_USER, "password": self.passwords.rest.expose() },
            },
            "etcd3": { "hosts": self.etcd_hosts },
            "bootstrap": {
                "dcs": {
                    "ttl": TTL_SECS,
                    "loop_wait": LOOP_WAIT_SECS,
                    "retry_timeout": RETRY_TIMEOUT_SECS,
                    "maximum_lag_on_failover": 1_048_576,
                    "synchronous_mode": true,
                    "synchronous_node_count": SYNCHRONOUS_NODE_COUNT,
                    "primary_start_timeout": 0,
                    "postgresql": {
                        "use_pg_rewind": true,
                        "use_slots": true,
                        "parameters": self.bootstrap_parameters(),
                    },
                },
                "initdb": [{ "encoding": "UTF8" }, { "locale": "C" }, { "auth": "scram-sha-256" }],
            },
            "postgresql": {
                "listen": pg,
                "connect_address": pg,
                "data_dir": self.data_dir,
                "bin_dir": bins.dir,
                "pgpass": self.dir.join("pgpass"),
                "remove_data_directory_on_rewind_failure": true,
                "remove_data_directory_on_diverged_timelines": true,
                // A new replica's copy starts at once instead of waiting out a spread
                // checkpoint of the primary (minutes with `checkpoint_timeout` 5 min).
                "basebackup": [{ "checkpoint": "fast" }],
                "authentication": {
                    "superuser": { "username": SUPERUSER, "password": self.passwords.operator.expose() },
                    "replication": { "username": "replication", "password": self.passwords.replication.expose() },
                    "rewind": { "username": "rewind", "password": self.passwords.rewind.expose() },
                },
                "parameters": {
                    "unix_socket_directories": "",
                    "password_encryption": "scram-sha-256",
                    "log_statement": "none",
                    "logging_collector": "off",
                },
                "pg_hba": [
                    "host replication replication 127.0.0.1/32 scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                ],
            },
        })
    }
}

/// Finds a Patroni left running in a directory (by its pid file).
pub struct PatroniStrays;

impl StrayServer for PatroniStrays {
    fn find(&self, dir: &Path) -> Option<(u32, Signal, Duration)> {
        let pid = std::fs::read_to_string(dir.join("patroni.pid")).ok()?.trim().parse().ok()?;
        is_patroni_of(pid, &dir.join("patroni.yml")).then_some((pid, Signal::SIGTERM, STOP_GRACE))
    }
}

/// Whether `pid` is a Patroni running with `config`.
fn is_patroni_of(pid: u32, config: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let config = config.to_string_lossy();
    let args: Vec<String> = cmd.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    args.iter().any(|a| a.ends_with("patroni")) && args.iter().any(|a| *a == config)
}

#[async_trait::async_trait]
impl ServerProcess for PatroniSpec {
    fn name(&self) -> &'static str {
        "patroni"
    }
    fn place(&self) -> (&Path, u16) {
        (&self.dir, self.rest_port)
    }
    async fn start(&self) -> Result<Proc, WorkloadError> {
        let bins = PgBinaries::find()?;
        let run_as = service_user(SYSTEM_USER)?;
        prepare(self, &bins, run_as)?;
        let pid: Option<u32> = std::fs::read_to_string(self.pid_file()).ok().and_then(|p| p.trim().parse().ok());
        // A Patroni an earlier controller left running is in charge of its PostgreSQL,
        // which may be down for good reasons (a rewind, a base backup, a restart): it is
        // adopted once it answers. Waiting for its server instead held the unit's hooks
        // (the leader's, which publish the endpoints) for as long as a rewind took.
        let adopted = pid.filter(|p| is_patroni_of(*p, &self.config_file()));
        let mut proc = match adopted {
            Some(pid) => Proc::Adopted { pid },
            None => spawn(self, run_as)?,
        };
        let ready = match adopted {
            Some(_) => wait_answering(self, &mut proc).await,
            None => wait_running(self, &mut proc).await,
        };
        proc.kept_if_ready(ready, Signal::SIGTERM, STOP_GRACE).await
    }
    fn stop_signal(&self) -> Signal {
        Signal::SIGTERM
    }
    fn stop_grace(&self) -> Duration {
        STOP_GRACE
    }
}

/// Directories owned by the server user, and the configuration written 0600 for it.
fn prepare(spec: &PatroniSpec, bins: &PgBinaries, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let unit = spec.dir.parent().unwrap_or(Path::new("/"));
    own_dir(unit, run_as)?;
    grant_traverse(unit, SYSTEM_USER, run_as)?;
    own_dir(&spec.dir, run_as)?;
    let path = spec.config_file();
    let err = |step, e| WorkloadError::Prepare { step, path: path.clone(), source: e };
    let yaml = zeroize::Zeroizing::new(
        serde_norway::to_string(&spec.config(bins)).map_err(|e| err("render patroni.yml", std::io::Error::other(e.to_string())))?,
    );
    let staging = spec.dir.join("patroni.yml.new");
    let _ = std::fs::remove_file(&staging);
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&staging).map_err(|e| err("write patroni.yml", e))?;
    f.write_all(yaml.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| err("write patroni.yml", e))?;
    if let Some(r) = run_as {
        std::os::unix::fs::chown(&staging, Some(r.uid), Some(r.gid)).map_err(|e| err("chown patroni.yml", e))?;
    }
    std::fs::rename(&staging, &path).map_err(|e| err("move patroni.yml into place", e))
}

fn spawn(spec: &PatroniSpec, run_as: Option<RunAs>) -> Result<Proc, WorkloadError> {
    let program = tether_core::patroni_install::program();
    let mut cmd = tokio::process::Command::new(&program);
    cmd.arg(spec.config_file())
        .env("HOME", &spec.dir)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("PGPASSWORD")
        .current_dir(&spec.dir);
    spawn_logged(cmd, &program, &spec.log_file(), &spec.pid_file(), run_as)
}

/// Polls Patroni's `/health` (200 once its PostgreSQL runs, as primary or replica) until
/// it answers 200 (or Patroni runs a PostgreSQL it cannot log in to, see
/// [`runs_without_its_login`]), Patroni dies, or [`READY_TIMEOUT`] passes.
async fn wait_running(spec: &PatroniSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    poll(spec, proc, || async {
        match http::get(spec.rest_port, "/health").await {
            Ok(r) if r.ok() => Ok(()),
            Ok(_) if runs_without_its_login(spec).await => Ok(()),
            Ok(r) => Err(format!("PostgreSQL not running under Patroni yet (HTTP {})", r.status)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

/// Polls Patroni's `/patroni` until it answers at all, Patroni dies, or [`READY_TIMEOUT`]
/// passes (a Patroni that is stopped, `SIGSTOP`, does not answer).
async fn wait_answering(spec: &PatroniSpec, proc: &mut Proc) -> Result<(), WorkloadError> {
    poll(spec, proc, || async { http::get(spec.rest_port, "/patroni").await.map(|_| ()).map_err(|e| e.to_string()) }).await
}

/// Runs `probe` every [`READY_POLL`] until it succeeds, the process dies, or
/// [`READY_TIMEOUT`] passes (then the probe's last error is the reason).
async fn poll<F, Fut>(spec: &PatroniSpec, proc: &mut Proc, mut probe: F) -> Result<(), WorkloadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: spec.log_file() });
        }
        let last_error = match probe().await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if started.elapsed() >= READY_TIMEOUT {
            return Err(WorkloadError::NotReady { port: spec.rest_port, waited_secs: READY_TIMEOUT.as_secs(), last_error });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Whether Patroni answers, and runs its PostgreSQL, but cannot query it (`state`
/// `unknown`): its login is refused because the internal passwords changed while this
/// replica was not streaming yet, so its server still has the old ones. Patroni runs; the
/// unit's next password follow (already queued) restarts it with the passwords its
/// server gets once it streams. Waiting here instead held the unit's hooks for
/// [`READY_TIMEOUT`], that follow among them (Patroni 4 reports `unknown` where 3.0
/// reported `running`).
async fn runs_without_its_login(spec: &PatroniSpec) -> bool {
    let state = http::get(spec.rest_port, "/patroni").await.ok().and_then(|r| r.json()).and_then(|j| j["state"].as_str().map(String::from));
    state.as_deref() == Some("unknown") && read_postmaster_pid(&spec.data_dir).is_some_and(|(pid, _)| pid_alive(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_directory_is_handed_over_once_a_patroni_configuration_is_there() {
        let unit = tempfile::tempdir().expect("tempdir");
        assert!(!PatroniSpec::configured_in(unit.path()), "a plain server's unit directory");
        std::fs::create_dir_all(unit.path().join("patroni")).expect("mkdir");
        assert!(!PatroniSpec::configured_in(unit.path()), "an empty patroni directory");
        std::fs::write(unit.path().join("patroni/patroni.yml"), "scope: s\n").expect("write");
        assert!(PatroniSpec::configured_in(unit.path()));
        let pw = || SecretString::new(String::from("pw"));
        let passwords = PatroniPasswords { operator: pw(), replication: pw(), rewind: pw(), rest: pw() };
        let spec = PatroniSpec::for_unit(unit.path(), "pg-0", "s", (1, 2), vec![], passwords);
        assert_eq!(spec.config_file(), unit.path().join("patroni/patroni.yml"), "the file the spec writes is the one looked for");
    }

    #[test]
    fn config_keeps_canonicals_replication_settings_and_loopback_only() {
        let pw = || SecretString::new(String::from("pw"));
        let passwords = PatroniPasswords { operator: pw(), replication: pw(), rewind: pw(), rest: pw() };
        let spec = PatroniSpec::for_unit(Path::new("/h/u"), "pg-0", "s", (8008, 5432), vec!["127.0.0.1:2379".into()], passwords);
        let c = spec.config(&PgBinaries { dir: PathBuf::from("/usr/lib/postgresql/15/bin") });
        let dcs = &c["bootstrap"]["dcs"];
        assert_eq!(dcs["synchronous_mode"], json!(true));
        assert_eq!(dcs["postgresql"]["use_pg_rewind"], json!(true));
        assert!(dcs["loop_wait"].as_u64().unwrap() + 2 * dcs["retry_timeout"].as_u64().unwrap() <= dcs["ttl"].as_u64().unwrap());
        assert_eq!(c["postgresql"]["listen"], json!("127.0.0.1:5432"));
        assert_eq!(c["restapi"]["listen"], json!("127.0.0.1:8008"));
        assert_eq!(c["postgresql"]["data_dir"], json!("/h/u/pgdata"));
        for rule in c["postgresql"]["pg_hba"].as_array().unwrap() {
            assert!(rule.as_str().unwrap().ends_with("127.0.0.1/32 scram-sha-256"), "{rule}");
        }
    }
}
