//! Workload supervision on real servers: a database server SIGKILLed under a running
//! controller is restarted with backoff, the unit reports the outage in its status, and
//! credentials issued before the kill still log in afterwards; a command that meets a
//! dying controller starts a new one.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The server's pid and pid file (the only database server in the model).
fn server(c: &Controller) -> (i32, PathBuf) {
    let found = c.server_pid_files();
    assert_eq!(found.len(), 1, "expected exactly one database server: {found:?}");
    found.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// Kills the server `kills` times; returns the restart delays and whether the status
/// showed the outage.
fn kill_and_watch(c: &Controller, app: &str, kills: usize, login_ok: &dyn Fn() -> bool) -> (Vec<Duration>, Vec<String>) {
    let mut delays = Vec::new();
    let mut outage_messages = Vec::new();
    for _ in 0..kills {
        let (pid, file) = server(c);
        let at = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("SIGKILL the server");
        assert!(c.wait_pid_gone(pid, Duration::from_secs(30)), "server {pid} ({}) survived SIGKILL", file.display());
        // Watch the status while it comes back (update-status runs every 2 s).
        // Polled more often than most waits: the time it took is the restart delay.
        let restarted = poll_until(Duration::from_secs(120), Duration::from_millis(100), || {
            let status = c.status();
            for (_, word, msg) in workload_words(&status, app) {
                if word != "active" && !msg.is_empty() && !outage_messages.contains(&format!("{word}: {msg}")) {
                    outage_messages.push(format!("{word}: {msg}"));
                }
            }
            match c.server_pid_files().into_iter().find(|(p, _)| *p != pid) {
                Some((p, _)) => Ok((p, at.elapsed())),
                None => Err(format!("{status:#}")),
            }
        });
        let (new_pid, delay) =
            restarted.unwrap_or_else(|last| panic!("the server was not restarted within 120 s of the kill of {pid}; last status:\n{last}"));
        eprintln!("{app}: server {pid} killed, {new_pid} running {delay:?} later");
        delays.push(delay);
        wait_until("credentials issued before the kill to log in after the restart", Duration::from_secs(60), || {
            if login_ok() {
                Ok(())
            } else {
                Err("they do not".into())
            }
        });
    }
    c.wait_active(&[app]);
    (delays, outage_messages)
}

#[test]
fn postgresql_server_killed_is_restarted_and_old_credentials_work() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    c.ok(&["deploy", "postgresql-k8s"]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=sup_db"]);
    c.ok(&["integrate", "data-integrator", "postgresql-k8s"]);
    c.wait_active(&["postgresql-k8s", "data-integrator"]);
    let login = PgLogin::from_credentials(&c.postgresql_credentials("data-integrator/leader"));
    login.session().execute("CREATE TABLE before_kill (v text); INSERT INTO before_kill VALUES ('kept')");
    let (_, file) = server(&c);
    assert!(file.ends_with("postmaster.pid"), "{}", file.display());

    let ok = || login.connect().is_ok_and(|s| s.try_query("SELECT v FROM before_kill").is_ok());
    let (delays, outage) = kill_and_watch(&c, "postgresql-k8s", 3, &ok);
    eprintln!("postgresql restart delays after SIGKILL: {delays:?}; outage shown in status: {outage:?}");
    assert_eq!(login.session().row("SELECT v FROM before_kill"), ["kept"]);
    let again = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(again["password"].as_str(), Some(login.password.as_str()), "the credentials did not change");
}

#[test]
fn mariadb_server_killed_is_restarted_and_old_credentials_work() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    c.ok(&["deploy", "mysql-k8s"]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=sup_db"]);
    c.ok(&["integrate", "data-integrator", "mysql-k8s"]);
    c.wait_active(&["mysql-k8s", "data-integrator"]);
    let login = MyLogin::from_credentials(&c.credentials_for("data-integrator/leader", "mysql"));
    login.session().execute("CREATE TABLE before_kill (v text)");
    login.session().execute("INSERT INTO before_kill VALUES ('kept')");

    let ok = || login.connect().is_ok_and(|mut s| s.try_query("SELECT v FROM before_kill").is_ok());
    let (delays, outage) = kill_and_watch(&c, "mysql-k8s", 3, &ok);
    eprintln!("mariadb restart delays after SIGKILL: {delays:?}; outage shown in status: {outage:?}");
    assert_eq!(login.session().row("SELECT v FROM before_kill"), ["kept"]);
}

/// A port taken by another process while the controller was stopped: the unit moves its
/// server to a new port, re-publishes the endpoints to its relations, and the relation's
/// credentials work at the new address.
#[test]
fn a_taken_port_moves_the_server_and_republishes_endpoints() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", "postgresql-k8s"]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=moved"]);
    c.ok(&["integrate", "data-integrator", "postgresql-k8s"]);
    c.wait_active(&["postgresql-k8s", "data-integrator"]);
    let before = c.postgresql_credentials("data-integrator/leader");
    let (_, old_port) = first_endpoint(before["endpoints"].as_str().unwrap_or_default());
    c.ok(&["controller", "stop"]);
    // Someone else takes the port (and accepts connections without ever answering).
    let squatter = std::net::TcpListener::bind(("127.0.0.1", old_port)).expect("take the server's port");
    c.ok(&["status"]);
    let after = c.wait_postgresql_credentials("data-integrator/leader", "endpoints on a new port", |pg| {
        pg["endpoints"].as_str().is_some_and(|e| first_endpoint(e).1 != old_port)
    });
    let session = PgLogin::from_credentials(&after).session();
    assert_eq!(session.row("SELECT current_database()"), vec!["moved".to_string()]);
    drop(squatter);
}

/// A controller that is going down keeps its socket for a moment and drops what it
/// accepts; the next command waits that out and starts a new controller instead of
/// failing with "closed the connection".
#[test]
fn a_command_during_a_controller_death_starts_a_new_controller() {
    use std::os::unix::net::UnixListener;
    let c = Controller::unstarted();
    let socket = c.home().join("controller.sock");
    std::fs::write(c.home().join("controller.token"), "left-by-the-dying-controller\n").expect("write token");
    let listener = UnixListener::bind(&socket).expect("bind the dying controller's socket");
    listener.set_nonblocking(true).expect("nonblocking");
    let dying = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_millis(1500);
        let mut dropped = 0;
        while Instant::now() < until {
            match listener.accept() {
                Ok((conn, _)) => {
                    drop(conn);
                    dropped += 1;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        drop(listener);
        let _ = std::fs::remove_file(&socket);
        dropped
    });
    let out = c.tether(&["status", "--format", "json"]);
    let dropped = dying.join().expect("the dying listener");
    assert!(dropped > 0, "the command never met the dying controller");
    assert_eq!(out.code, 0, "the command must start a new controller:\n{out}");
    assert!(out.stderr.contains("Started local controller"), "{out}");
}
