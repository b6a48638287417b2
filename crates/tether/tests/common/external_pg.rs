//! [`ExternalPg`]: a PostgreSQL server started outside tether (as tether's adopt mode
//! finds servers in the wild): `initdb` and `pg_ctl start` as the `postgres` user in a
//! temporary directory, on a free port of 127.0.0.1 (or, with [`ExternalPg::start_in`],
//! on the remote address of a [`NetNs`], run inside that namespace: another host),
//! superuser `postgres` with a random password; stopped by its pid when dropped (or by the
//! watchdog when it ends a hung binary). With
//! [`ExternalPg::start_with_tls`] it has `ssl = on` and a certificate a [`TestCa`] signed,
//! and every login but the superuser's must use TLS (`hostssl`).

use super::netns::{runuser, NetNs};
use super::postgres::{PgLogin, PgSession};
use super::processes::{live_pid, stop_own_server, watch_own_server};
use super::tls::TestCa;
use super::wait::{wait_until, SETTLE_TIMEOUT};
use super::watchdog::Watched;
use nix::sys::signal::Signal;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long a stopping server is waited for.
const STOP_GRACE: Duration = Duration::from_secs(60);

pub struct ExternalPg {
    /// The address it listens on.
    pub host: String,
    pub port: u16,
    /// The namespace it runs in (its name), if not this one.
    netns: Option<String>,
    pub superuser: PgLogin,
    data: PathBuf,
    dir: tempfile::TempDir,
    _watched: Watched,
}

/// The highest installed `/usr/lib/postgresql/<v>/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<u32> = fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort();
    PathBuf::from(format!("/usr/lib/postgresql/{}/bin", versions.last().expect("a PostgreSQL version")))
}

/// The watchdog's hold on a server of `data` in `dir`: a fast shutdown, as [`ExternalPg::stop`].
fn watched(data: &Path, dir: &tempfile::TempDir) -> Watched {
    watch_own_server(data.join("postmaster.pid"), Signal::SIGINT, STOP_GRACE, dir.path().to_path_buf())
}

fn as_postgres(netns: Option<&str>, program: &Path, args: &[&str]) {
    let out = runuser(netns, "postgres").arg(program).args(args).output().expect("runuser");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl ExternalPg {
    /// initdb + start; SCRAM over loopback TCP only.
    pub fn start() -> ExternalPg {
        Self::start_on(None, None)
    }

    /// initdb + start on 127.0.0.1 with TLS (a certificate from `ca` for 127.0.0.1):
    /// the superuser may still log in unencrypted (the test's own checks), everyone else
    /// only over TLS.
    pub fn start_with_tls(ca: &TestCa) -> ExternalPg {
        Self::start_on(None, Some(ca))
    }

    /// initdb + start inside `ns`, listening on its remote address only; SCRAM over TCP
    /// from this side of the pair only.
    pub fn start_in(ns: &NetNs) -> ExternalPg {
        Self::start_on(Some(ns), None)
    }

    fn start_on(ns: Option<&NetNs>, tls: Option<&TestCa>) -> ExternalPg {
        let dir = tempfile::Builder::new().prefix("tether-external-pg-").tempdir().expect("temp dir");
        let status = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().expect("chown");
        assert!(status.success(), "chown the external server's directory to postgres");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let password = format!("su{}", std::process::id() ^ 0x5a5a_1234);
        let pwfile = dir.path().join("pw");
        fs::write(&pwfile, &password).expect("write pwfile");
        Command::new("chown").arg("postgres:postgres").arg(&pwfile).status().expect("chown pwfile");
        let data = dir.path().join("data");
        let pw_arg = format!("--pwfile={}", pwfile.display());
        as_postgres(None, &bin_dir().join("initdb"), &["-D", data.to_str().unwrap(), "-U", "postgres", "-A", "scram-sha-256", &pw_arg]);
        fs::remove_file(&pwfile).expect("remove pwfile");
        let (host, port) = match ns {
            Some(ns) => {
                // The namespace is new: nothing listens there. Only the pair's other end may log in.
                let hba = format!("host all all {}/32 scram-sha-256\n", ns.local);
                let mut text = fs::read_to_string(data.join("pg_hba.conf")).expect("pg_hba.conf");
                text.push_str(&hba);
                fs::write(data.join("pg_hba.conf"), text).expect("write pg_hba.conf");
                (ns.remote.clone(), 5432)
            }
            None => {
                ("127.0.0.1".to_string(), std::net::TcpListener::bind(("127.0.0.1", 0)).expect("free port").local_addr().unwrap().port())
            }
        };
        if let Some(ca) = tls {
            let (crt, key) = ca.issue(&host, &data, "postgres");
            let conf = format!("\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n", crt.display(), key.display());
            let mut text = fs::read_to_string(data.join("postgresql.conf")).expect("postgresql.conf");
            text.push_str(&conf);
            fs::write(data.join("postgresql.conf"), text).expect("write postgresql.conf");
            let hba = format!("host all postgres {host}/32 scram-sha-256\nhostssl all all {host}/32 scram-sha-256\n");
            fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        }
        let superuser = PgLogin { host: host.clone(), port, user: "postgres".into(), password, dbname: "postgres".into() };
        let netns = ns.map(|n| n.name.clone());
        let _watched = watched(&data, &dir);
        let server = ExternalPg { host, port, netns, superuser, data, dir, _watched };
        server.start_again();
        server
    }

    /// A streaming replica of this (running, local) server: `pg_basebackup -R` as
    /// `postgres` (the superuser replicates, as initdb's `pg_hba.conf` allows over
    /// 127.0.0.1) into a directory of its own, started as a hot standby on another free
    /// port; stopped by its pid when dropped.
    pub fn start_replica(&self) -> ExternalPg {
        assert!(self.netns.is_none(), "replicas are made of local servers only");
        let dir = tempfile::Builder::new().prefix("tether-external-pg-replica-").tempdir().expect("temp dir");
        let status = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().expect("chown");
        assert!(status.success(), "chown the replica's directory to postgres");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let data = dir.path().join("data");
        let su = &self.superuser;
        let source = format!("host={} port={} user={} password={}", su.host, su.port, su.user, su.password);
        as_postgres(None, &bin_dir().join("pg_basebackup"), &["-d", &source, "-D", data.to_str().unwrap(), "-R", "-X", "stream"]);
        let port = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("free port").local_addr().unwrap().port();
        let superuser = PgLogin { port, ..self.superuser.clone() };
        let _watched = watched(&data, &dir);
        let replica = ExternalPg { host: self.host.clone(), port, netns: None, superuser, data, dir, _watched };
        replica.start_again();
        replica
    }

    /// Starts the (stopped) server again on its port, waiting until it answers.
    pub fn start_again(&self) {
        let opts = format!("-p {} -c listen_addresses={} -c unix_socket_directories=", self.port, self.host);
        let log = self.dir.path().join("server.log");
        as_postgres(
            self.netns.as_deref(),
            &bin_dir().join("pg_ctl"),
            &["-D", self.data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &opts, "-w", "start"],
        );
        wait_until("the external server to accept its superuser", SETTLE_TIMEOUT, || {
            self.superuser.connect().map(drop).map_err(|e| format!("{e:?}"))
        });
    }

    /// Whether `sql` (a query) returns a row, asked as the superuser.
    pub fn exists(&self, sql: &str) -> bool {
        self.session().row(&format!("SELECT EXISTS({sql})::text"))[0] == "true"
    }

    /// A superuser session on `postgres`.
    pub fn session(&self) -> PgSession {
        self.superuser.session()
    }

    /// A login on this server as `user`.
    pub fn login(&self, user: &str, password: &str, dbname: &str) -> PgLogin {
        PgLogin { user: user.into(), password: password.into(), dbname: dbname.into(), ..self.superuser.clone() }
    }

    /// The postmaster's pid while it runs.
    pub fn pid(&self) -> Option<i32> {
        live_pid(&self.data.join("postmaster.pid"))
    }

    /// Fast shutdown by pid (SIGINT), waiting until it is gone (SIGKILL past the grace).
    pub fn stop(&self) {
        stop_own_server(&self.data.join("postmaster.pid"), Signal::SIGINT, STOP_GRACE);
    }
}

impl Drop for ExternalPg {
    fn drop(&mut self) {
        self.stop();
    }
}
