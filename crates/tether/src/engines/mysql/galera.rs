//! MariaDB under Galera (Debian's `galera-4`): the `wsrep` options one member of a
//! cluster starts with, whether a start bootstraps a new cluster or joins the others, and
//! reading a member's `wsrep_%` status. Galera decides membership and quorum; nothing
//! here elects anything.
//!
//! **Ports.** Every member listens on 127.0.0.1 only: the server port, Galera's group
//! communication port (`gmcast.listen_addr`, also `wsrep_node_address`), the IST port
//! (`ist.recv_addr`) and the rsync SST port (`wsrep_sst_receive_address`).
//!
//! **Bootstrap or join**, decided at every start (also the supervisor's restarts):
//! - the founding member (the application's install-time leader) bootstraps
//!   (`--wsrep-new-cluster`) at its first start, when its data directory has no
//!   `grastate.dat` yet;
//! - otherwise a member joins the others (IST, or SST with rsync) when one of their group
//!   ports answers;
//! - when none answers, it bootstraps only if its `grastate.dat` says
//!   `safe_to_bootstrap: 1` (Galera writes that on the last member to leave a cluster
//!   cleanly, so it has the most advanced state); else it starts as a joiner, which fails
//!   when no member appears, and the supervisor retries with backoff. When every member
//!   crashed at once (none safe to bootstrap), they all restart as joiners of each other
//!   and Galera restores the last primary component itself once they see each other
//!   (`pc.recovery`, on by default, from each member's `gvwstate.dat`): tether chooses
//!   nothing there.
//!
//! A member that is not the founder never bootstraps an empty address list: with no other
//! member known its start fails instead of making a second cluster.

use std::path::Path;
use std::time::Duration;

use super::error::MyError;
use crate::secret::SecretString;

/// Galera's provider library as Debian's `galera-4` installs it.
pub const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";
/// How long a status query or a group-port probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One member's Galera options (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaleraOptions {
    /// `wsrep_cluster_name` (the same on every member).
    pub cluster_name: String,
    /// `wsrep_node_name`.
    pub node_name: String,
    pub group_port: u16,
    pub ist_port: u16,
    pub sst_port: u16,
    /// The other members' group-communication ports on 127.0.0.1.
    pub peers: Vec<u16>,
    /// The member that bootstraps the cluster at its first start.
    pub founder: bool,
}

/// Whether this machine has the Galera provider.
pub fn available() -> bool {
    Path::new(PROVIDER).is_file()
}

impl GaleraOptions {
    /// The server options (after the common ones): `bootstrap` adds `--wsrep-new-cluster`.
    pub fn args(&self, server_port: u16, bootstrap: bool) -> Vec<String> {
        let peers: Vec<String> = self.peers.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut args = vec![
            "--wsrep-on=ON".to_string(),
            format!("--wsrep-provider={PROVIDER}"),
            format!("--wsrep-cluster-name={}", self.cluster_name),
            format!("--wsrep-node-name={}", self.node_name),
            format!("--wsrep-cluster-address=gcomm://{}", peers.join(",")),
            format!("--wsrep-node-address=127.0.0.1:{}", self.group_port),
            format!("--wsrep-node-incoming-address=127.0.0.1:{server_port}"),
            format!(
                "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{}",
                self.group_port, self.ist_port
            ),
            format!("--wsrep-sst-receive-address=127.0.0.1:{}", self.sst_port),
            "--wsrep-sst-method=rsync".into(),
            "--binlog-format=ROW".into(),
            "--default-storage-engine=InnoDB".into(),
            "--innodb-autoinc-lock-mode=2".into(),
        ];
        if bootstrap {
            args.push("--wsrep-new-cluster".into());
        }
        args
    }

    /// Whether this start bootstraps a new cluster (see the module docs), or `Err` when it
    /// must not start at all (no other member is known and bootstrapping is not safe).
    pub fn decide_bootstrap(&self, data_dir: &Path) -> Result<bool, String> {
        let state = read_grastate(data_dir);
        if self.founder && state.is_none() {
            return Ok(true);
        }
        if self.peers.iter().any(|p| reachable(*p)) {
            return Ok(false);
        }
        if state.as_ref().is_some_and(|s| s.safe_to_bootstrap) {
            return Ok(true);
        }
        if self.peers.is_empty() {
            return Err("no other Galera member is known and this member may not bootstrap a new cluster".into());
        }
        Ok(false)
    }
}

/// What `grastate.dat` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraState {
    pub seqno: i64,
    pub safe_to_bootstrap: bool,
}

/// Reads `<data dir>/grastate.dat` (absent before the member's first start).
pub fn read_grastate(data_dir: &Path) -> Option<GraState> {
    parse_grastate(&std::fs::read_to_string(data_dir.join("grastate.dat")).ok()?)
}

fn parse_grastate(text: &str) -> Option<GraState> {
    let mut state = GraState { seqno: -1, safe_to_bootstrap: false };
    let mut seen = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        match k.trim() {
            "seqno" => {
                seen = true;
                state.seqno = v.trim().parse().unwrap_or(-1);
            }
            "safe_to_bootstrap" => state.safe_to_bootstrap = v.trim() == "1",
            _ => {}
        }
    }
    seen.then_some(state)
}

/// Whether a group port on 127.0.0.1 accepts a TCP connection.
fn reachable(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&std::net::SocketAddr::from(([127, 0, 0, 1], port)), PROBE_TIMEOUT).is_ok()
}

/// A member's view of itself, from `SHOW STATUS LIKE 'wsrep_%'`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsrepStatus {
    /// `wsrep_local_state_comment`: `Synced`, `Donor/Desynced`, `Joining`, `Joined`, ...
    pub state: String,
    /// `wsrep_cluster_status`: `Primary` when in the primary component.
    pub cluster_status: String,
    pub cluster_size: u32,
    /// `wsrep_ready`: `ON` when the member accepts queries.
    pub ready: bool,
}

impl WsrepStatus {
    pub fn in_primary_component(&self) -> bool {
        self.cluster_status == "Primary"
    }

    /// Synced, in the primary component and accepting queries: may take reads and writes.
    pub fn is_synced(&self) -> bool {
        self.state == "Synced" && self.in_primary_component() && self.ready
    }

    fn from_rows(rows: &[(String, String)]) -> WsrepStatus {
        let get = |k: &str| rows.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone()).unwrap_or_default();
        WsrepStatus {
            state: get("wsrep_local_state_comment"),
            cluster_status: get("wsrep_cluster_status"),
            cluster_size: get("wsrep_cluster_size").parse().unwrap_or(0),
            ready: get("wsrep_ready") == "ON",
        }
    }
}

/// A member's `wsrep_%` status over one short-lived login on 127.0.0.1:`port` (bounded).
pub async fn status(port: u16, user: &str, password: &SecretString) -> Result<WsrepStatus, MyError> {
    use mysql_async::prelude::Queryable;
    let work = async {
        // 127.0.0.1 over TCP only, never the socket (as every tether login).
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .prefer_socket(false)
            .user(Some(user))
            .pass(Some(password.expose()));
        let mut conn = mysql_async::Conn::new(opts).await.map_err(|source| MyError::Connect {
            host: "127.0.0.1".into(),
            port,
            user: user.into(),
            source,
        })?;
        let rows: Result<Vec<(String, String)>, _> = conn.query("SHOW STATUS LIKE 'wsrep_%'").await;
        let _ = conn.disconnect().await;
        rows.map_err(|source| MyError::Query { step: "reading wsrep status", source })
    };
    match tokio::time::timeout(PROBE_TIMEOUT, work).await {
        Ok(rows) => Ok(WsrepStatus::from_rows(&rows?)),
        Err(_) => Err(MyError::Unsupported("the wsrep status query timed out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(founder: bool, peers: Vec<u16>) -> GaleraOptions {
        GaleraOptions {
            cluster_name: "my".into(),
            node_name: "my-0".into(),
            group_port: 4567,
            ist_port: 4568,
            sst_port: 4444,
            peers,
            founder,
        }
    }

    #[test]
    fn args_name_every_port_on_loopback_and_bootstrap_only_when_asked() {
        let a = opts(false, vec![5001, 5002]).args(3306, false);
        for want in [
            "--wsrep-on=ON",
            "--wsrep-provider=/usr/lib/galera/libgalera_smm.so",
            "--wsrep-cluster-address=gcomm://127.0.0.1:5001,127.0.0.1:5002",
            "--wsrep-node-address=127.0.0.1:4567",
            "--wsrep-node-incoming-address=127.0.0.1:3306",
            "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:4567;ist.recv_addr=127.0.0.1:4568",
            "--wsrep-sst-receive-address=127.0.0.1:4444",
            "--wsrep-sst-method=rsync",
            "--binlog-format=ROW",
            "--innodb-autoinc-lock-mode=2",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        assert!(!a.iter().any(|x| x == "--wsrep-new-cluster"));
        assert!(opts(true, vec![]).args(3306, true).iter().any(|x| x == "--wsrep-new-cluster"));
    }

    #[test]
    fn grastate_is_parsed() {
        let text =
            "# GALERA saved state\nversion: 2.1\nuuid:    8bcf4a34-aedb-14e5-bcc3-d3e36277729f\nseqno:   1133\nsafe_to_bootstrap: 1\n";
        assert_eq!(parse_grastate(text), Some(GraState { seqno: 1133, safe_to_bootstrap: true }));
        assert_eq!(parse_grastate("seqno: -1\nsafe_to_bootstrap: 0\n"), Some(GraState { seqno: -1, safe_to_bootstrap: false }));
        assert_eq!(parse_grastate(""), None);
    }

    #[test]
    fn bootstrap_decision() {
        let dir = tempfile::tempdir().unwrap();
        // Founder, never started: bootstraps.
        assert_eq!(opts(true, vec![]).decide_bootstrap(dir.path()), Ok(true));
        // Not the founder, nobody known: refuses rather than making a second cluster.
        assert!(opts(false, vec![]).decide_bootstrap(dir.path()).is_err());
        // A peer that does not answer, no safe state: starts as a joiner.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert_eq!(opts(true, vec![closed]).decide_bootstrap(dir.path()), Ok(true));
        std::fs::write(dir.path().join("grastate.dat"), "seqno: 5\nsafe_to_bootstrap: 0\n").unwrap();
        assert_eq!(opts(true, vec![closed]).decide_bootstrap(dir.path()), Ok(false));
        // The last to leave bootstraps when nobody answers ...
        std::fs::write(dir.path().join("grastate.dat"), "seqno: 5\nsafe_to_bootstrap: 1\n").unwrap();
        assert_eq!(opts(false, vec![closed]).decide_bootstrap(dir.path()), Ok(true));
        // ... and joins when somebody does.
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(opts(false, vec![open.local_addr().unwrap().port()]).decide_bootstrap(dir.path()), Ok(false));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_of_a_frozen_server_fails_in_bounded_time() {
        // A listener that accepts (the kernel does) and never answers, as a SIGSTOPped server.
        let frozen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = frozen.local_addr().unwrap().port();
        let started = std::time::Instant::now();
        let r = status(port, "root", &SecretString::new(String::from("x"))).await;
        assert!(r.is_err(), "{r:?}");
        assert!(started.elapsed() < PROBE_TIMEOUT + Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn status_rows() {
        let rows: Vec<(String, String)> = [
            ("wsrep_local_state_comment", "Synced"),
            ("wsrep_cluster_status", "Primary"),
            ("wsrep_cluster_size", "3"),
            ("wsrep_ready", "ON"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let s = WsrepStatus::from_rows(&rows);
        assert!(s.is_synced() && s.in_primary_component());
        assert_eq!(s.cluster_size, 3);
        assert!(!WsrepStatus { state: "Joining".into(), ..s }.is_synced());
    }
}
