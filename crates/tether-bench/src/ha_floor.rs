//! The floors of the high-availability figures, started by the harness itself so tether's
//! numbers stand next to what the same software costs without tether:
//!
//! - a bare three-member Patroni + etcd cluster with the charm's own timings (`ttl`,
//!   `loop_wait`, `retry_timeout` from `tether_core::patroni_timing`, the one definition
//!   the charm's Patroni configuration also uses) and its replication settings
//!   (`synchronous_mode`, every replica synchronous, `primary_start_timeout: 0`,
//!   `pg_rewind`): a failover is the time from SIGKILL of the primary's `postgres` until a
//!   member accepts a write;
//! - three servers by hand: one `initdb` and start of a primary, then two
//!   `pg_basebackup -R` replicas (taken side by side) started until the primary sees both
//!   streaming.
//!
//! Everything runs as `postgres` on free 127.0.0.1 ports in a temporary directory, and is
//! stopped by the pids the harness started (never by name).

use crate::floor::{self, free_port, is_root, password, pg_bin_dir, port_seed, user_ids, OPERATOR};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tether_core::patroni_timing::{LOOP_WAIT_SECS, RETRY_TIMEOUT_SECS, TTL_SECS};

/// How long one write attempt may take before it counts as "not yet" (a commit waiting for
/// a synchronous standby that is gone blocks until Patroni changes the standby list).
const WRITE_ATTEMPT: Duration = Duration::from_secs(1);
const SETTLE: Duration = Duration::from_secs(300);
/// The table the write checks insert into.
pub const TABLE: &str = "bench_ha";

/// Runs `cmd` as `postgres` when the harness is root (the servers refuse to run as root).
fn as_postgres(cmd: &mut Command, ids: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    cmd.process_group(0).stdin(Stdio::null());
}

fn owned_dir(path: &Path, ids: Option<(u32, u32)>) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(())
}

fn log_file(path: &Path, ids: Option<(u32, u32)>) -> Result<std::fs::File> {
    let f = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    Ok(f)
}

/// The pid of the `postgres` postmaster of a data directory (`postmaster.pid`'s first line).
pub fn postmaster_pid(data: &Path) -> Option<i32> {
    std::fs::read_to_string(data.join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
}

pub fn sigkill(pid: i32) -> Result<()> {
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().context("run kill")?;
    if !status.success() {
        bail!("kill -KILL {pid} failed");
    }
    Ok(())
}

/// Whether the server on `port` is a primary (`Some(true)`), a replica (`Some(false)`) or
/// does not answer (`None`), as `user`.
pub async fn is_primary(port: u16, user: &str, pw: &str, db: &str) -> Option<bool> {
    let c = tokio::time::timeout(WRITE_ATTEMPT, floor::connect(port, user, pw, db)).await.ok()?.ok()?;
    let row = tokio::time::timeout(WRITE_ATTEMPT, c.query_one("SELECT pg_is_in_recovery()", &[])).await.ok()?.ok()?;
    Some(!row.get::<_, bool>(0))
}

/// One write on `port` (a new connection and an `INSERT`), acknowledged within
/// [`WRITE_ATTEMPT`].
pub async fn write_once(port: u16, user: &str, pw: &str, db: &str) -> bool {
    let attempt = async {
        let c = floor::connect(port, user, pw, db).await.ok()?;
        c.execute(&format!("INSERT INTO {TABLE} (at) VALUES (now())"), &[]).await.ok()
    };
    matches!(tokio::time::timeout(WRITE_ATTEMPT, attempt).await, Ok(Some(1)))
}

/// Polls `ports` until one of them takes a write; returns that port.
pub fn first_writable(rt: &tokio::runtime::Runtime, ports: &[u16], user: &str, pw: &str, db: &str) -> Result<u16> {
    crate::failover::first_writable(rt, ports, SETTLE, |p| write_once(p, user, pw, db))
}

/// Whether the cluster on `ports` is whole again: one primary that sees every other member
/// streaming (as a synchronous standby when `synchronous`), the others replicas.
pub fn settled(rt: &tokio::runtime::Runtime, ports: &[u16], pw: &str, synchronous: bool) -> bool {
    rt.block_on(async {
        let mut primaries = Vec::new();
        for &p in ports {
            match is_primary(p, OPERATOR, pw, "postgres").await {
                Some(true) => primaries.push(p),
                Some(false) => {}
                None => return false,
            }
        }
        let [primary] = primaries[..] else { return false };
        let Ok(c) = floor::connect(primary, OPERATOR, pw, "postgres").await else { return false };
        let q = match synchronous {
            true => "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'",
            false => "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        };
        matches!(c.query_one(q, &[]).await.map(|r| r.get::<_, i64>(0)), Ok(n) if n as usize + 1 == ports.len())
    })
}

/// Waits until the cluster is whole ([`settled`]), then one Patroni loop more: Patroni
/// confirms a synchronous standby in its `/sync` key (which alone makes it promotable)
/// after PostgreSQL reports it `sync`. Before that a killed primary is restarted in place
/// rather than failed over, which is another figure.
pub fn wait_settled(rt: &tokio::runtime::Runtime, ports: &[u16], pw: &str) -> Result<Duration> {
    let start = Instant::now();
    while !settled(rt, ports, pw, true) {
        if start.elapsed() > SETTLE {
            bail!("the cluster on {ports:?} did not settle (one primary, every replica a streaming synchronous standby) within {SETTLE:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(tether_core::patroni_timing::LOOP_WAIT_SECS + 1));
    Ok(start.elapsed())
}

struct Member {
    pg_port: u16,
    data: PathBuf,
}

/// A bare Patroni + etcd cluster of three members.
pub struct PatroniCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    /// etcd members first, then the Patronis (stopped in reverse).
    children: Vec<Child>,
    pub operator_pw: String,
}

impl PatroniCluster {
    /// Starts three etcd members and three Patronis, and waits until the cluster is whole
    /// and the write table exists.
    pub fn start(rt: &tokio::runtime::Runtime) -> Result<PatroniCluster> {
        let ids = if is_root() { Some(user_ids("postgres")?) } else { None };
        let dir = tempfile::Builder::new().prefix("tether-bench-patroni-").tempdir().context("create the Patroni floor's dir")?;
        owned_dir(dir.path(), ids)?;
        let mut c = PatroniCluster { dir, members: Vec::new(), children: Vec::new(), operator_pw: password(port_seed()) };
        let etcd: Vec<(u16, u16)> = (0..3).map(|_| Ok((free_port()?, free_port()?))).collect::<Result<_>>()?;
        let initial: Vec<String> = etcd.iter().enumerate().map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}")).collect();
        for (i, (client, peer)) in etcd.iter().enumerate() {
            let d = c.dir.path().join(format!("etcd{i}"));
            owned_dir(&d, ids)?;
            let log = log_file(&d.join("etcd.log"), ids)?;
            let mut cmd = Command::new("/usr/bin/etcd");
            cmd.args(["--name", &format!("e{i}")])
                .arg("--data-dir")
                .arg(d.join("data"))
                .args(["--listen-client-urls", &format!("http://127.0.0.1:{client}")])
                .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client}")])
                .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
                .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new", "--initial-cluster-token", "tether-bench"])
                .current_dir(&d)
                .stdout(log.try_clone()?)
                .stderr(log);
            as_postgres(&mut cmd, ids);
            c.children.push(cmd.spawn().context("start etcd")?);
        }
        let hosts: Vec<String> = etcd.iter().map(|(client, _)| format!("127.0.0.1:{client}")).collect();
        let bins = pg_bin_dir()?;
        for i in 0..3 {
            let d = c.dir.path().join(format!("member{i}"));
            owned_dir(&d, ids)?;
            let (rest, pg_port) = (free_port()?, free_port()?);
            let data = d.join("pgdata");
            let config = patroni_config(i, &hosts, rest, pg_port, &data, &bins, &d, &c.operator_pw);
            let path = d.join("patroni.yml");
            std::fs::write(&path, serde_json::to_string_pretty(&config)?)?;
            if let Some((uid, gid)) = ids {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
            }
            let log = log_file(&d.join("patroni.log"), ids)?;
            let mut cmd = Command::new(tether_core::patroni_install::program());
            cmd.arg(&path).env("HOME", &d).env_remove("PGPASSWORD").current_dir(&d).stdout(log.try_clone()?).stderr(log);
            as_postgres(&mut cmd, ids);
            c.children.push(cmd.spawn().context("start patroni")?);
            c.members.push(Member { pg_port, data });
        }
        let ports = c.ports();
        wait_settled(rt, &ports, &c.operator_pw).with_context(|| format!("bare Patroni cluster (logs in {})", c.dir.path().display()))?;
        let primary = first_primary(rt, &ports, &c.operator_pw)?;
        rt.block_on(async {
            let s = floor::connect(primary, OPERATOR, &c.operator_pw, "postgres").await?;
            s.batch_execute(&format!("CREATE TABLE IF NOT EXISTS {TABLE} (at timestamptz)")).await
        })
        .context("create the write table")?;
        Ok(c)
    }

    pub fn ports(&self) -> Vec<u16> {
        self.members.iter().map(|m| m.pg_port).collect()
    }

    /// One failover: SIGKILL of the primary's `postgres`, timed until a member accepts a
    /// write; then (untimed) until the cluster is whole again. Returns the time and whether
    /// another member took over (`false`: Patroni restarted the primary in place).
    pub fn failover(&self, rt: &tokio::runtime::Runtime) -> Result<(Duration, bool)> {
        let ports = self.ports();
        let primary = first_primary(rt, &ports, &self.operator_pw)?;
        let member = self.members.iter().find(|m| m.pg_port == primary).ok_or_else(|| anyhow!("no member on port {primary}"))?;
        let pid = postmaster_pid(&member.data).ok_or_else(|| anyhow!("no postmaster.pid in {}", member.data.display()))?;
        let start = Instant::now();
        sigkill(pid)?;
        let port = first_writable(rt, &ports, OPERATOR, &self.operator_pw, "postgres")?;
        let took = start.elapsed();
        wait_settled(rt, &ports, &self.operator_pw)?;
        Ok((took, port != primary))
    }
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        // Patronis first (they stop their PostgreSQL), then etcd; by our own pids.
        for child in self.children.iter_mut().rev() {
            floor::stop_child(child, "-TERM");
        }
        // A postgres Patroni left behind (it was killed before it could stop it).
        for m in &self.members {
            if let Some(pid) = postmaster_pid(&m.data).filter(|p| Path::new(&format!("/proc/{p}")).exists()) {
                let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
            }
        }
    }
}

/// The first of `ports` that is a primary.
pub fn first_primary(rt: &tokio::runtime::Runtime, ports: &[u16], pw: &str) -> Result<u16> {
    rt.block_on(async {
        for &p in ports {
            if is_primary(p, OPERATOR, pw, "postgres").await == Some(true) {
                return Ok(p);
            }
        }
        bail!("no primary among {ports:?}")
    })
}

/// One member's configuration: what the charm's `PatroniSpec::config` says about failover
/// and replication, with the floor's own ports and passwords (not secret).
#[allow(clippy::too_many_arguments)]
fn patroni_config(i: usize, hosts: &[String], rest: u16, pg: u16, data: &Path, bins: &Path, dir: &Path, pw: &str) -> serde_json::Value {
    let rest = format!("127.0.0.1:{rest}");
    let pg = format!("127.0.0.1:{pg}");
    json!({
        "scope": "tether-bench",
        "namespace": "/tether-bench/",
        "name": format!("member{i}"),
        "log": { "level": "INFO" },
        "restapi": { "listen": rest, "connect_address": rest },
        "etcd3": { "hosts": hosts },
        "bootstrap": {
            "dcs": {
                "ttl": TTL_SECS,
                "loop_wait": LOOP_WAIT_SECS,
                "retry_timeout": RETRY_TIMEOUT_SECS,
                "maximum_lag_on_failover": 1_048_576,
                "synchronous_mode": true,
                "synchronous_node_count": 16,
                "primary_start_timeout": 0,
                "postgresql": {
                    "use_pg_rewind": true,
                    "use_slots": true,
                    "parameters": {
                        "wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
                        "max_wal_senders": 10, "max_replication_slots": 10, "password_encryption": "scram-sha-256",
                    },
                },
            },
            "initdb": [{ "encoding": "UTF8" }, { "locale": "C" }, { "auth": "scram-sha-256" }],
        },
        "postgresql": {
            "listen": pg,
            "connect_address": pg,
            "data_dir": data,
            "bin_dir": bins,
            "pgpass": dir.join("pgpass"),
            "remove_data_directory_on_rewind_failure": true,
            "remove_data_directory_on_diverged_timelines": true,
            "basebackup": [{ "checkpoint": "fast" }],
            "authentication": {
                "superuser": { "username": OPERATOR, "password": pw },
                "replication": { "username": "replication", "password": pw },
                "rewind": { "username": "rewind", "password": pw },
            },
            "parameters": { "unix_socket_directories": "", "password_encryption": "scram-sha-256", "logging_collector": "off" },
            "pg_hba": [
                "host replication replication 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
        },
    })
}

/// Deploy `-n 3`'s floor: `initdb` and start of a primary, then two `pg_basebackup -R`
/// replicas (taken side by side) started, until the primary sees both streaming. The
/// servers are stopped and the directory removed afterwards.
pub fn three_by_hand(rt: &tokio::runtime::Runtime) -> Result<Duration> {
    let bins = pg_bin_dir()?;
    let ids = if is_root() { Some(user_ids("postgres")?) } else { None };
    let dir = tempfile::Builder::new().prefix("tether-bench-replicas-").tempdir().context("create the replicas floor's dir")?;
    owned_dir(dir.path(), ids)?;
    let pw = password(port_seed());
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, format!("{pw}\n"))?;
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
    }
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_>>()?;
    let datas: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("data{i}"))).collect();
    let mut children: Vec<Child> = Vec::new();
    let result = (|| -> Result<Duration> {
        let start = Instant::now();
        let mut initdb = Command::new(bins.join("initdb"));
        initdb
            .arg("-D")
            .arg(&datas[0])
            .arg(format!("--username={OPERATOR}"))
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("--auth=scram-sha-256")
            .args(["-E", "UTF8", "--locale=C", "--no-instructions"])
            .current_dir(dir.path());
        as_postgres(&mut initdb, ids);
        let out = initdb.output().context("run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::fs::write(
            datas[0].join("pg_hba.conf"),
            "host all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n",
        )?;
        children.push(start_server(&bins, &datas[0], ports[0], dir.path(), ids)?);
        wait_login(rt, ports[0], &pw)?;
        let mut backups = Vec::new();
        for data in &datas[1..] {
            let mut b = Command::new(bins.join("pg_basebackup"));
            b.arg("-D")
                .arg(data)
                .args(["-h", "127.0.0.1", "-p", &ports[0].to_string(), "-U", OPERATOR, "-R", "-X", "stream", "-c", "fast", "-w"])
                .env("PGPASSWORD", &pw)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            as_postgres(&mut b, ids);
            backups.push(b.spawn().context("run pg_basebackup")?);
        }
        for b in backups {
            let out = b.wait_with_output()?;
            if !out.status.success() {
                bail!("pg_basebackup failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        for i in 1..3 {
            children.push(start_server(&bins, &datas[i], ports[i], dir.path(), ids)?);
        }
        while !settled(rt, &ports, &pw, false) {
            if start.elapsed() > SETTLE {
                bail!("the replicas by hand did not stream within {SETTLE:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(start.elapsed())
    })();
    for c in children.iter_mut().rev() {
        floor::stop_child(c, "-INT");
    }
    result
}

fn start_server(bins: &Path, data: &Path, port: u16, dir: &Path, ids: Option<(u32, u32)>) -> Result<Child> {
    let log = log_file(&dir.join(format!("server-{port}.log")), ids)?;
    let mut pg = Command::new(bins.join("postgres"));
    pg.arg("-D").arg(data);
    for (k, v) in [
        ("listen_addresses", "127.0.0.1".to_string()),
        ("port", port.to_string()),
        ("unix_socket_directories", String::new()),
        ("password_encryption", "scram-sha-256".into()),
        ("logging_collector", "off".into()),
    ] {
        pg.arg("-c").arg(format!("{k}={v}"));
    }
    pg.current_dir(dir).stdout(log.try_clone()?).stderr(log);
    as_postgres(&mut pg, ids);
    pg.spawn().context("start postgres")
}

fn wait_login(rt: &tokio::runtime::Runtime, port: u16, pw: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        match rt.block_on(floor::login(port, OPERATOR, pw, "postgres")) {
            floor::Login::Ok => return Ok(()),
            floor::Login::Refused => bail!("operator login refused"),
            floor::Login::Other(e) if start.elapsed() > Duration::from_secs(60) => bail!("postgres not ready after 60 s: {e}"),
            floor::Login::Other(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}
