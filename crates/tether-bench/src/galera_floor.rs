//! The floor of the Galera failover figure: a bare three-node MariaDB Galera cluster the
//! harness starts itself (as `mysql`, free 127.0.0.1 ports, rsync SST, the `wsrep`
//! options tether's `engines::mysql::galera` passes), and a failover on it: SIGKILL of the
//! node that takes writes (the lowest-numbered, as tether chooses it), timed until a
//! member accepts a write. Between samples the killed node is started again (it rejoins by
//! IST), untimed. Everything is stopped by the pids the harness started.

use crate::floor::{free_port, is_root, password, port_seed, stop_child, user_ids};
use crate::mariadb;
use anyhow::{bail, Context, Result};
use mysql_async::prelude::Queryable;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tether_core::my_plan;

const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";
const WRITE_ATTEMPT: Duration = Duration::from_secs(1);
const SETTLE: Duration = Duration::from_secs(300);
/// The database and table the write checks use.
pub const DATABASE: &str = "benchha";
const TABLE: &str = "bench_ha";

/// One write on `port` (a new connection to `db` and an `INSERT`), acknowledged within
/// [`WRITE_ATTEMPT`].
pub async fn write_once(port: u16, user: &str, pw: &str, db: &str) -> bool {
    let attempt = async {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .prefer_socket(false)
            .user(Some(user))
            .pass(Some(pw))
            .db_name(Some(db));
        let mut c = mysql_async::Conn::new(opts).await.ok()?;
        let r = c.query_drop(format!("INSERT INTO {TABLE} (at) VALUES (now(6))")).await.ok();
        let _ = c.disconnect().await;
        r
    };
    matches!(tokio::time::timeout(WRITE_ATTEMPT, attempt).await, Ok(Some(())))
}

/// Polls `ports` until one takes a write; returns that port.
pub fn first_writable(rt: &tokio::runtime::Runtime, ports: &[u16], user: &str, pw: &str, db: &str) -> Result<u16> {
    crate::failover::first_writable(rt, ports, SETTLE, |p| write_once(p, user, pw, db))
}

/// The SQL statement that creates the write table (for the relation's user on tether's cluster).
pub fn create_table() -> String {
    format!("CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))")
}

struct Node {
    dir: PathBuf,
    port: u16,
    group: u16,
    ist: u16,
    sst: u16,
    child: Option<Child>,
}

pub struct GaleraCluster {
    _dir: tempfile::TempDir,
    nodes: Vec<Node>,
    ids: Option<(u32, u32)>,
    pw: String,
}

impl GaleraCluster {
    /// Initialises node 0 (`mariadb-install-db`, root's password by `mariadbd --bootstrap`),
    /// bootstraps the cluster on it, and joins nodes 1 and 2 with empty data directories
    /// (rsync SST), until all three are synced.
    pub fn start(rt: &tokio::runtime::Runtime) -> Result<GaleraCluster> {
        let ids = if is_root() { Some(user_ids("mysql")?) } else { None };
        let dir = tempfile::Builder::new().prefix("tether-bench-galera-").tempdir().context("create the Galera floor's dir")?;
        let mut nodes = Vec::new();
        for i in 0..3 {
            let d = dir.path().join(format!("node{i}"));
            for p in [d.clone(), d.join("data"), d.join("tmp")] {
                std::fs::create_dir_all(&p)?;
                if let Some((uid, gid)) = ids {
                    std::os::unix::fs::chown(&p, Some(uid), Some(gid))?;
                }
            }
            nodes.push(Node { dir: d, port: free_port()?, group: free_port()?, ist: free_port()?, sst: free_port()?, child: None });
        }
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let mut c = GaleraCluster { _dir: dir, nodes, ids, pw: password(port_seed()) };
        c.init_first()?;
        c.spawn(0, true)?;
        c.wait_synced(rt, &[0])?;
        for i in 1..3 {
            c.spawn(i, false)?;
        }
        c.wait_synced(rt, &[0, 1, 2])?;
        rt.block_on(async {
            let mut s = mariadb::connect(c.nodes[0].port, "root", &c.pw).await?;
            s.query_drop(format!("CREATE DATABASE IF NOT EXISTS {DATABASE}")).await?;
            s.query_drop(format!("USE {DATABASE}")).await?;
            s.query_drop(create_table()).await?;
            anyhow::Ok(())
        })
        .context("create the write table")?;
        Ok(c)
    }

    fn as_mysql(&self, cmd: &mut Command, dir: &Path) {
        use std::os::unix::process::CommandExt;
        if let Some((uid, gid)) = self.ids {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(dir);
    }

    fn init_first(&self) -> Result<()> {
        let n = &self.nodes[0];
        let tmpdir = format!("--tmpdir={}", n.dir.join("tmp").display());
        let mut install = Command::new("/usr/bin/mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", n.dir.join("data").display()))
            .args(["--skip-test-db", "--skip-name-resolve", "--auth-root-socket-user=root"])
            .arg(&tmpdir)
            .stdin(Stdio::null());
        self.as_mysql(&mut install, &n.dir);
        let out = install.output().context("run mariadb-install-db")?;
        if !out.status.success() {
            bail!("mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut boot = Command::new("/usr/sbin/mariadbd");
        boot.arg("--no-defaults")
            .arg("--bootstrap")
            .arg(format!("--datadir={}", n.dir.join("data").display()))
            .args(["--skip-networking", "--skip-name-resolve", "--log-warnings=0"])
            .arg(&tmpdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.as_mysql(&mut boot, &n.dir);
        let mut child = boot.spawn().context("run mariadbd --bootstrap")?;
        let script: String = my_plan::bootstrap_root(&mariadb::native_hash(&self.pw))?.iter().map(|s| format!("{s};\n")).collect();
        child.stdin.take().context("bootstrap stdin")?.write_all(script.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("mariadbd --bootstrap failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Starts node `i`: a new cluster (`--wsrep-new-cluster`) or joining the others.
    fn spawn(&mut self, i: usize, bootstrap: bool) -> Result<()> {
        let n = &self.nodes[i];
        let peers: Vec<String> =
            self.nodes.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, m)| format!("127.0.0.1:{}", m.group)).collect();
        let mut cmd = Command::new("/usr/sbin/mariadbd");
        cmd.arg("--no-defaults").args([
            format!("--datadir={}", n.dir.join("data").display()),
            format!("--tmpdir={}", n.dir.join("tmp").display()),
            "--bind-address=127.0.0.1".into(),
            format!("--port={}", n.port),
            format!("--socket={}", n.dir.join("mysqld.sock").display()),
            format!("--pid-file={}", n.dir.join("mysqld.pid").display()),
            format!("--log-error={}", n.dir.join("error.log").display()),
            "--skip-name-resolve".into(),
            "--wsrep-on=ON".into(),
            format!("--wsrep-provider={PROVIDER}"),
            "--wsrep-cluster-name=tether-bench".into(),
            format!("--wsrep-node-name=node{i}"),
            format!("--wsrep-cluster-address=gcomm://{}", peers.join(",")),
            format!("--wsrep-node-address=127.0.0.1:{}", n.group),
            format!("--wsrep-node-incoming-address=127.0.0.1:{}", n.port),
            format!("--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{}", n.group, n.ist),
            format!("--wsrep-sst-receive-address=127.0.0.1:{}", n.sst),
            "--wsrep-sst-method=rsync".into(),
            "--binlog-format=ROW".into(),
            "--default-storage-engine=InnoDB".into(),
            "--innodb-autoinc-lock-mode=2".into(),
        ]);
        if bootstrap {
            cmd.arg("--wsrep-new-cluster");
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let dir = n.dir.clone();
        self.as_mysql(&mut cmd, &dir);
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        self.nodes[i].child = Some(cmd.spawn().context("start mariadbd (Galera)")?);
        Ok(())
    }

    async fn synced(port: u16, pw: &str) -> bool {
        let Ok(Ok(mut c)) = tokio::time::timeout(WRITE_ATTEMPT, mariadb::connect(port, "root", pw)).await else { return false };
        let r: Option<(String, String)> = c.query_first("SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'").await.ok().flatten();
        let _ = c.disconnect().await;
        r.is_some_and(|(_, v)| v == "Synced")
    }

    fn wait_synced(&self, rt: &tokio::runtime::Runtime, which: &[usize]) -> Result<()> {
        let start = Instant::now();
        loop {
            if rt.block_on(async {
                for &i in which {
                    if !Self::synced(self.nodes[i].port, &self.pw).await {
                        return false;
                    }
                }
                true
            }) {
                return Ok(());
            }
            if start.elapsed() > SETTLE {
                bail!("Galera floor: nodes {which:?} not synced within {SETTLE:?} (logs in {})", self.nodes[0].dir.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One failover: SIGKILL of node 0 (the write node), timed until a member takes a
    /// write; then node 0 started again and awaited (untimed).
    pub fn failover(&mut self, rt: &tokio::runtime::Runtime) -> Result<Duration> {
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        let mut child = self.nodes[0].child.take().context("node 0 runs")?;
        let start = Instant::now();
        child.kill().context("SIGKILL node 0")?;
        let _ = child.wait();
        first_writable(rt, &ports[1..], "root", &self.pw, DATABASE)?;
        let took = start.elapsed();
        self.spawn(0, false)?;
        self.wait_synced(rt, &[0, 1, 2])?;
        Ok(took)
    }
}

impl Drop for GaleraCluster {
    fn drop(&mut self) {
        for n in self.nodes.iter_mut().rev() {
            if let Some(c) = n.child.as_mut() {
                stop_child(c, "-TERM");
            }
        }
    }
}
