//! [`ExternalMariaDb`]: a MariaDB server started outside tether (as adopt mode finds
//! servers in the wild): `mariadb-install-db` and `mariadbd` as the `mysql` user in a
//! temporary directory, on a free port of 127.0.0.1 (or, with [`ExternalMariaDb::start_in`],
//! on the remote address of a [`NetNs`], run inside that namespace), with `root` reachable only over its
//! unix socket (by this root test process) and a superuser `su` with a random password
//! for the test's own checks over TCP; stopped by its pid when dropped (or by the watchdog
//! when it ends a hung binary). With
//! [`ExternalMariaDb::start_with_tls`] it has a certificate a [`TestCa`] signed (users
//! created `REQUIRE SSL` can then log in only over TLS).

use super::mysql::{MyLogin, MySession};
use super::netns::{runuser, NetNs};
use super::processes::{live_pid, stop_own_server, watch_own_server};
use super::tls::TestCa;
use super::wait::{wait_until, SETTLE_TIMEOUT};
use super::watchdog::Watched;
use nix::sys::signal::Signal;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

pub struct ExternalMariaDb {
    /// The address it listens on.
    pub host: String,
    pub port: u16,
    /// The namespace it runs in (its name), if not this one.
    netns: Option<String>,
    /// Its `--ssl-*` options, when it offers TLS.
    tls: Vec<String>,
    pub superuser: MyLogin,
    dir: tempfile::TempDir,
    /// The `runuser` that runs the server, reaped when the server stops.
    runner: Mutex<Option<Child>>,
    _watched: Watched,
}

/// The server's pid file, in its directory.
const PID_FILE: &str = "mysqld.pid";
/// How long a stopping server is waited for.
const STOP_GRACE: Duration = Duration::from_secs(60);

fn data(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data")
}

impl ExternalMariaDb {
    pub fn start() -> ExternalMariaDb {
        Self::start_on(None, None)
    }

    /// Started on 127.0.0.1 with TLS: a certificate from `ca` for 127.0.0.1.
    pub fn start_with_tls(ca: &TestCa) -> ExternalMariaDb {
        Self::start_on(None, Some(ca))
    }

    /// Started inside `ns`, listening on its remote address only.
    pub fn start_in(ns: &NetNs) -> ExternalMariaDb {
        Self::start_on(Some(ns), None)
    }

    fn start_on(ns: Option<&NetNs>, ca: Option<&TestCa>) -> ExternalMariaDb {
        let dir = tempfile::Builder::new().prefix("tether-external-mariadb-").tempdir().expect("temp dir");
        let status = Command::new("chown").arg("mysql:mysql").arg(dir.path()).status().expect("chown");
        assert!(status.success(), "chown the external server's directory to mysql");
        let out = runuser(None, "mysql")
            .args(["mariadb-install-db", "--no-defaults"])
            .arg(format!("--datadir={}", data(&dir).display()))
            .args(["--skip-test-db", "--skip-name-resolve", "--auth-root-socket-user=root"])
            .current_dir(dir.path())
            .output()
            .expect("mariadb-install-db");
        assert!(out.status.success(), "mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr));
        let (host, port) = match ns {
            // The namespace is new: nothing listens there.
            Some(ns) => (ns.remote.clone(), 3306),
            None => {
                ("127.0.0.1".to_string(), std::net::TcpListener::bind(("127.0.0.1", 0)).expect("free port").local_addr().unwrap().port())
            }
        };
        let password = format!("su{}", std::process::id() ^ 0x2b2b_4321);
        let superuser = MyLogin { host: host.clone(), port, user: "su".into(), password: password.clone(), dbname: None };
        let netns = ns.map(|n| n.name.clone());
        let tls = match ca {
            None => vec![],
            Some(ca) => {
                let (crt, key) = ca.issue(&host, dir.path(), "mysql");
                let ca_copy = dir.path().join("ca.pem");
                fs::write(&ca_copy, &ca.pem).expect("the CA for the server");
                vec![
                    format!("--ssl-ca={}", ca_copy.display()),
                    format!("--ssl-cert={}", crt.display()),
                    format!("--ssl-key={}", key.display()),
                ]
            }
        };
        let _watched = watch_own_server(dir.path().join(PID_FILE), Signal::SIGTERM, STOP_GRACE, dir.path().to_path_buf());
        let server = ExternalMariaDb { host, port, netns, tls, superuser, dir, runner: Mutex::new(None), _watched };
        server.start_again();
        server
            .socket_sql(&format!(
                "CREATE USER 'su'@'%' IDENTIFIED BY '{password}'; GRANT ALL PRIVILEGES ON *.* TO 'su'@'%' WITH GRANT OPTION"
            ))
            .expect("create the test's superuser");
        server
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join(PID_FILE)
    }

    /// Runs SQL as `root` over the unix socket (the `mariadb` client).
    fn socket_sql(&self, sql: &str) -> Result<(), String> {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-u", "root", "-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Starts the (stopped) server again on its port, waiting until it answers.
    pub fn start_again(&self) {
        let log = fs::File::create(self.dir.path().join("runner.log")).expect("runner log");
        let child = runuser(self.netns.as_deref(), "mysql")
            .args(["mariadbd", "--no-defaults"])
            .arg(format!("--datadir={}", data(&self.dir).display()))
            .args([&format!("--bind-address={}", self.host), &format!("--port={}", self.port)])
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", self.pid_file().display()))
            .arg(format!("--log-error={}", self.dir.path().join("server.log").display()))
            .arg("--skip-name-resolve")
            .args(&self.tls)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn mariadbd");
        *self.runner.lock().unwrap() = Some(child);
        wait_until("the external MariaDB to answer on its socket", SETTLE_TIMEOUT, || self.socket_sql("SELECT 1"));
    }

    /// A superuser session over TCP.
    pub fn session(&self) -> MySession {
        self.superuser.session()
    }

    /// A login on this server as `user`.
    pub fn login(&self, user: &str, password: &str, dbname: Option<&str>) -> MyLogin {
        MyLogin { user: user.into(), password: password.into(), dbname: dbname.map(String::from), ..self.superuser.clone() }
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<i32> {
        live_pid(&self.pid_file())
    }

    /// Shutdown by pid (SIGTERM), waiting until it is gone (SIGKILL past the grace).
    pub fn stop(&self) {
        stop_own_server(&self.pid_file(), Signal::SIGTERM, STOP_GRACE);
        if let Some(mut runner) = self.runner.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // Our own child: gone already once the server is, else ended now.
            let _ = runner.kill();
            let _ = runner.wait();
        }
    }
}

impl Drop for ExternalMariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}
