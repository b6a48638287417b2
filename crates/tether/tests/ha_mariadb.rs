//! High availability of mysql-k8s, end to end on real servers: `deploy mysql-k8s -n 3`
//! runs one MariaDB per unit in a Galera cluster (Debian's galera-4). A data-integrator's
//! credentials are issued once on the write node and log in on every member; a row written
//! on the write node is read on every read-only endpoint; after SIGKILL of the write
//! node's mariadbd the endpoints name a synced member where the same credentials find
//! every committed row and a write commits, and the killed member rejoins; with the
//! write node's mariadbd frozen (SIGSTOP) the endpoints move to another synced member
//! and the member rejoins once resumed; `remove-unit`
//! of a member while a client writes loses no committed write; `add-unit` joins a new
//! member that serves every row. A single server given two units becomes a Galera
//! cluster with its rows and credentials (also with the controller killed in the middle);
//! a cluster whose members were all killed at once, also while no controller ran, comes
//! back by itself. `update-status` runs
//! every 10 minutes here, so what follows a fault is the charm's watcher. Every wait
//! polls a condition, bounded.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const MY: &str = "mysql-k8s";
const DI: &str = "data-integrator";

/// Waits until `get-cluster-status` shows `n` synced members in the primary component.
fn wait_synced(c: &Controller, n: usize, what: &str) -> Value {
    wait_until(what, SETTLE_TIMEOUT, || {
        let r = c.try_action_results(&format!("{MY}/leader"), "get-cluster-status", &[])?;
        let members = r["members"].as_object().ok_or_else(|| format!("no members: {r}"))?;
        let synced = members
            .values()
            .filter(|m| m["state"] == "Synced" && (m["primary-component"] == true || m["primary-component"] == "true"))
            .count();
        if synced == n && members.len() == n {
            Ok(r)
        } else {
            Err(format!("{r}"))
        }
    })
}

/// The unit whose member takes writes, from `get-cluster-status`.
fn write_unit(r: &Value) -> String {
    r["write-node"].as_str().filter(|s| !s.is_empty()).unwrap_or_else(|| panic!("no write node: {r:#}")).to_string()
}

/// Waits until the data-integrator's `endpoints` name one member (not `avoid`) that is
/// synced and where `login`'s user finds `rows` committed rows, and checks they are still
/// the credentials first `given`. Returns the credentials published then. (Right after a
/// SIGKILL the endpoints may still name the killed member, restarted by the supervisor
/// and rejoining: what converges is checked, not the first answer.)
fn endpoints_with_every_row(c: &Controller, login: &MyLogin, given: &Value, rows: i64, avoid: Option<u16>, what: &str) -> Value {
    let now = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", what, |m| {
        let Some(p) = m["endpoints"].as_str().map(ports_of) else { return false };
        let at = MyLogin { port: p[0], ..login.clone() };
        p.len() == 1 && Some(p[0]) != avoid && synced_at(&at) && at.count_rows("committed") == Ok(rows)
    });
    assert_eq!((&now["username"], &now["password"]), (&given["username"], &given["password"]), "the credentials stay the same");
    now
}

/// Waits until every member of `get-cluster-status`'s answer `r` has exactly `rows`
/// committed rows for `login`'s user.
fn wait_every_row_on_every_member(r: &Value, login: &MyLogin, rows: i64) {
    for p in member_ports(r) {
        let at = MyLogin { port: p, ..login.clone() };
        wait_until(&format!("every row on the member at {p}"), SETTLE_TIMEOUT, || match at.count_rows("committed")? {
            n if n == rows => Ok(()),
            n => Err(format!("{n} rows")),
        });
    }
}

/// One mysql-k8s unit (a plain server) integrated with a data-integrator, both active.
fn single_server_with_data_integrator(c: &Controller) {
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "--config", "profile=testing"]);
    c.ok(&["deploy", DI, "--config", "database-name=grow_db"]);
    c.ok(&["integrate", DI, MY]);
    c.wait_active(&[MY, DI]);
}

/// Commits one more row where `creds` point.
fn commit_one_more(creds: &Value, rows: &mut i64) {
    *rows += 1;
    MyLogin::from_credentials(creds).session().execute(&format!("INSERT INTO committed VALUES ({rows})"));
}

#[test]
fn galera_cluster_of_three_keeps_writes_through_sigkill_remove_unit_and_add_unit() {
    let c = Controller::bootstrap();
    // Endpoints follow the cluster through the watcher, not the update-status timer.
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "-n", "3", "--config", "profile=testing"]);
    c.ok(&["deploy", DI, "--config", "database-name=ha_db"]);
    c.ok(&["integrate", DI, MY]);
    c.wait_active(&[MY, DI]);

    // Three synced members, one write node whose status says so.
    let r = wait_synced(&c, 3, "three synced Galera members");
    let writer = write_unit(&r);
    assert_eq!(writer, format!("{MY}/0"), "the lowest-numbered synced member takes writes: {r:#}");
    c.wait_for("the write node's status message to be Primary, and only its", |s| {
        // The application's own line first, then its units.
        let words = workload_words(s, MY);
        Ok(words.len() == 4 && words.iter().skip(1).all(|(u, w, m)| w == "active" && (m == "Primary") == (*u == writer)))
    });
    let my = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "two read-only endpoints published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    let write_port = ports_of(my["endpoints"].as_str().unwrap_or_default());
    assert_eq!(write_port.len(), 1, "one write endpoint: {my:#}");
    let readers = ports_of(my["read-only-endpoints"].as_str().unwrap_or_default());
    assert!(!readers.contains(&write_port[0]), "a reader is not the write node: {my:#}");

    // The credentials log in on the write node; a row written there is read on every
    // read-only endpoint with the same credentials (Galera replicated the user too).
    let login = MyLogin::from_credentials(&my);
    let mut db = login.session();
    db.execute("CREATE TABLE committed (id INT PRIMARY KEY)");
    let mut rows = 50;
    for i in 1..=rows {
        db.execute(&format!("INSERT INTO committed VALUES ({i})"));
    }
    drop(db);
    for p in &readers {
        let at = MyLogin { port: *p, ..login.clone() };
        wait_until(&format!("the rows on the reader at {p}"), SETTLE_TIMEOUT, || match at.count_rows("committed")? {
            n if n == rows => Ok(()),
            n => Err(format!("{n} rows")),
        });
    }

    // Fault 1: SIGKILL of the write node's mariadbd. The endpoints move to a synced
    // member (or the supervisor's restart rejoins first); the same credentials log in
    // there, every committed row is there, a new write commits; the killed member
    // rejoins and the cluster has three synced members again.
    let pid_file = c.unit_dir(&writer).join("mysqld.pid");
    let pid = live_pid(&pid_file).expect("the write node's mariadbd runs");
    sigkill(pid);
    let after = endpoints_with_every_row(&c, &login, &my, rows, None, "endpoints name a synced member after the SIGKILL");
    commit_one_more(&after, &mut rows);
    wait_until("the killed mariadbd restarted by the supervisor", SETTLE_TIMEOUT, || match live_pid(&pid_file) {
        Some(p) if p != pid => Ok(()),
        other => Err(format!("mysqld.pid: {other:?}")),
    });
    let r = wait_synced(&c, 3, "the killed member to rejoin (three synced again)");
    let killed_port = write_port[0];
    let moved = ports_of(after["endpoints"].as_str().unwrap_or_default()) != [killed_port];
    eprintln!("after the SIGKILL the endpoints {}", if moved { "moved to another synced member" } else { "named the restarted member" });
    let rejoined = MyLogin { port: killed_port, ..login.clone() };
    wait_until("the rejoined member to have every row", SETTLE_TIMEOUT, || match rejoined.count_rows("committed")? {
        n if n == rows => Ok(()),
        n => Err(format!("{n} rows")),
    });
    eprintln!("after the SIGKILL: {r}");

    // Fault 2: the write node's mariadbd frozen (SIGSTOP): the supervisor sees a live
    // process, so only Galera's eviction and tether's watcher act. The endpoints move to
    // another synced member, where the credentials find every row and a write commits;
    // resumed (SIGCONT), the member rejoins.
    let r = c.try_action_results(&format!("{MY}/leader"), "get-cluster-status", &[]).expect("get-cluster-status");
    let frozen_unit = write_unit(&r);
    let frozen_pid = live_pid(&c.unit_dir(&frozen_unit).join("mysqld.pid")).expect("the write node's mariadbd runs");
    // The endpoints may still name the member that wrote while the killed one was away:
    // wait until they follow the write node back (the watcher's next reading).
    let write_address = r["members"][frozen_unit.replace('/', "-")]["address"].as_str().unwrap_or_default().to_string();
    let frozen_port = vec![first_endpoint(&write_address).1];
    c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "endpoints name the write node before the freeze", |m| {
        m["endpoints"].as_str().map(ports_of).as_ref() == Some(&frozen_port)
    });
    signal(frozen_pid, nix::sys::signal::Signal::SIGSTOP);
    let moved = endpoints_with_every_row(&c, &login, &my, rows, Some(frozen_port[0]), "endpoints to leave the frozen write node");
    commit_one_more(&moved, &mut rows);
    signal(frozen_pid, nix::sys::signal::Signal::SIGCONT);
    wait_synced(&c, 3, "the resumed member to rejoin (three synced again)");
    let resumed = MyLogin { port: frozen_port[0], ..login.clone() };
    wait_until("the resumed member to have every row", SETTLE_TIMEOUT, || match resumed.count_rows("committed")? {
        n if n == rows => Ok(()),
        n => Err(format!("{n} rows")),
    });

    // Fault 2b: the controller SIGKILLed, then the write node's mariadbd SIGKILLed while no
    // controller runs (nothing supervises it then): Galera evicts it on its own; the next
    // command starts a controller, which restarts the member, follows the cluster again
    // and republishes endpoints where the same credentials find every row.
    let r = c.try_action_results(&format!("{MY}/leader"), "get-cluster-status", &[]).expect("get-cluster-status");
    let dead_unit = write_unit(&r);
    let dead_pid = live_pid(&c.unit_dir(&dead_unit).join("mysqld.pid")).expect("the write node's mariadbd runs");
    c.kill_controller().expect("a controller runs");
    sigkill(dead_pid);
    let republished = endpoints_with_every_row(&c, &login, &my, rows, None, "endpoints after a kill while the controller was down");
    commit_one_more(&republished, &mut rows);
    wait_synced(&c, 3, "the member killed while the controller was down to rejoin (three synced again)");

    // Fault 3: remove-unit of a member that does not take writes while a client writes
    // on the write node: every write that returned is there afterwards.
    let r = c.try_action_results(&format!("{MY}/leader"), "get-cluster-status", &[]).expect("get-cluster-status");
    let writer = write_unit(&r);
    let leaving = (0..3).map(|n| format!("{MY}/{n}")).find(|u| *u != writer && !u.ends_with("/0")).expect("a reader");
    let creds = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "endpoints name the write node", |m| {
        m["endpoints"].as_str().is_some_and(|e| !e.is_empty())
    });
    let writing = MyLogin::from_credentials(&creds);
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (stop, writing) = (stop.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut committed = Vec::new();
            let mut s = writing.session();
            let mut i = 1000;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                if s.try_query(&format!("INSERT INTO committed VALUES ({i})")).is_ok() {
                    committed.push(i);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            committed
        })
    };
    c.ok(&["remove-unit", &leaving]);
    c.wait_for(&format!("{leaving} gone"), |s| Ok(unit_names(s, MY).len() == 2));
    wait_synced(&c, 2, "two synced members after remove-unit");
    stop.store(true, Ordering::SeqCst);
    let committed = client.join().expect("the writing client");
    assert!(!committed.is_empty(), "the client committed writes during remove-unit");
    let mut s = writing.session();
    let present: Vec<String> = s.column("SELECT id FROM committed WHERE id > 1000 ORDER BY id");
    let present: Vec<i32> = present.iter().map(|v| v.parse().expect("id")).collect();
    for id in &committed {
        assert!(present.contains(id), "committed write {id} lost after remove-unit");
    }
    let total = rows + committed.len() as i64;
    assert_eq!(writing.count_rows("committed"), Ok(total), "every committed row, no other");

    // add-unit: the new member joins (SST) and serves every row as a reader.
    c.ok(&["add-unit", MY]);
    let r = wait_synced(&c, 3, "the added member synced");
    let added = format!("{MY}/3");
    assert!(r["members"].as_object().is_some_and(|m| m.values().any(|v| v["unit"] == added.as_str())), "{added} is a member: {r:#}");
    let creds = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "the added member among the readers", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    for p in ports_of(creds["read-only-endpoints"].as_str().unwrap_or_default()) {
        assert_eq!(MyLogin { port: p, ..writing.clone() }.count_rows("committed"), Ok(total), "every row on the reader at {p}");
    }
}

/// The server port of every member, from `get-cluster-status`.
fn member_ports(r: &Value) -> Vec<u16> {
    let members = r["members"].as_object().unwrap_or_else(|| panic!("no members: {r:#}"));
    members.values().map(|m| first_endpoint(m["address"].as_str().unwrap_or_default()).1).collect()
}

/// `get-password` of an internal user, on `unit`.
fn password_of(c: &Controller, unit: &str, user: &str) -> String {
    let r = c.action_results(unit, "get-password", &[&format!("username={user}")]);
    r["password"].as_str().unwrap_or_else(|| panic!("get-password returned no password: {r:#}")).to_string()
}

/// `user` logs in with `new` on every member and is refused with `old`.
fn new_password_everywhere(ports: &[u16], user: &str, new: &str, old: &str, what: &str) {
    for &port in ports {
        let login = MyLogin { host: "127.0.0.1".into(), port, user: user.into(), password: new.into(), dbname: None };
        wait_until(&format!("{what}: {user}'s new password on the member at {port}"), SETTLE_TIMEOUT, || match login.outcome() {
            LoginOutcome::Accepted => Ok(()),
            other => Err(format!("{other:?}")),
        });
        let stale = login.as_user(user, old).outcome();
        assert!(matches!(stale, LoginOutcome::BadCredentials(_)), "{what}: {user}'s old password must be refused at {port}: {stale:?}");
    }
}

#[test]
fn galera_set_password_changes_every_member_once_and_survives_a_restart_a_controller_kill_and_stop() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "-n", "3", "--config", "profile=testing"]);
    c.ok(&["deploy", DI, "--config", "database-name=pw_db"]);
    c.ok(&["integrate", DI, MY]);
    c.wait_active(&[MY, DI]);
    let ports = member_ports(&wait_synced(&c, 3, "three synced Galera members"));
    assert_eq!(ports.len(), 3);
    let leader = format!("{MY}/leader");

    // set-password for root and for serverconfig, on the leader: one change each,
    // replicated by Galera; every member takes the new one and refuses the old.
    let old_root = password_of(&c, &leader, "root");
    let root = "GaleraRoot1pw";
    c.action_results(&leader, "set-password", &[&format!("password={root}")]);
    new_password_everywhere(&ports, "root", root, &old_root, "set-password");
    let old_config = password_of(&c, &leader, "serverconfig");
    c.action_results(&leader, "set-password", &["username=serverconfig", "password=GaleraConfig1pw"]);
    new_password_everywhere(&ports, "serverconfig", "GaleraConfig1pw", &old_config, "set-password serverconfig");
    for unit in [leader.as_str(), &format!("{MY}/1"), &format!("{MY}/2")] {
        assert_eq!(password_of(&c, unit, "root"), root, "get-password on {unit}");
    }
    c.wait_active(&[MY, DI]);

    // A member that does not take writes, killed afterwards: the supervisor restarts it
    // (its readiness login is the new root password, handed to every unit), it rejoins
    // (IST/SST need no password here) and the relation's credentials work on it.
    let r = c.try_action_results(&format!("{MY}/leader"), "get-cluster-status", &[]).expect("get-cluster-status");
    let writer = write_unit(&r);
    let victim = (0..3).map(|n| format!("{MY}/{n}")).find(|u| *u != writer).expect("a reader");
    let pid_file = c.unit_dir(&victim).join("mysqld.pid");
    let pid = live_pid(&pid_file).expect("the member's mariadbd runs");
    sigkill(pid);
    wait_until("the killed member restarted", SETTLE_TIMEOUT, || match live_pid(&pid_file) {
        Some(p) if p != pid => Ok(()),
        other => Err(format!("mysqld.pid: {other:?}")),
    });
    wait_synced(&c, 3, "the restarted member to rejoin");
    c.wait_active(&[MY, DI]);
    new_password_everywhere(&ports, "root", root, &old_root, "after a member's restart");
    let my = c.credentials_for(&format!("{DI}/leader"), "mysql");
    let login = MyLogin::from_credentials(&my);
    for &port in &ports {
        let at = MyLogin { port, ..login.clone() };
        wait_until(&format!("the relation's login at {port}"), SETTLE_TIMEOUT, || match at.outcome() {
            LoginOutcome::Accepted => Ok(()),
            other => Err(format!("{other:?}")),
        });
    }

    // The controller killed after the change reached the cluster but before the hook
    // committed: the next controller finds which password the members take, and
    // get-password says the chosen one. The controller is SIGKILLed rather than stopped
    // before the failpoint is armed, so the members keep running (a `controller stop`
    // stops all three at once, and Galera then marks none safe to bootstrap).
    let crashed = "GaleraRoot2pw";
    c.kill_controller().expect("a controller runs");
    c.start_controller_with_env(&[("TETHER_FAILPOINT", "hook.set-password.after-effects")]);
    let armed = c.controller_pid().expect("the armed controller runs");
    let out = c.tether(&["run", &leader, "set-password", &format!("password={crashed}")]);
    assert!(c.wait_pid_gone(armed, std::time::Duration::from_secs(120)), "the failpoint never fired: {out}");
    let log = std::fs::read_to_string(c.home().join("logs/controller.log")).unwrap_or_default();
    assert!(log.contains("failpoint hook.set-password.after-effects "), "the controller died elsewhere: {out}");
    assert_eq!(c.tether(&["status"]).code, 0, "a plain command starts the controller again");
    c.wait_settled(std::time::Duration::from_millis(2500), |_| true);
    if password_of(&c, &leader, "root") != crashed {
        c.action_results(&leader, "set-password", &[&format!("password={crashed}")]);
    }
    assert_eq!(password_of(&c, &leader, "root"), crashed);
    new_password_everywhere(&ports, "root", crashed, root, "after a controller kill");
    wait_synced(&c, 3, "three synced members after the controller kill");
    c.wait_active(&[MY, DI]);
    assert_eq!(password_of(&c, &format!("{MY}/2"), "root"), crashed, "get-password on a non-leader");

    // `controller stop` stops the members one at a time, so the last marks itself safe to
    // bootstrap: the next controller starts the cluster again by itself, and the changed
    // password is the one it runs with.
    c.ok(&["controller", "stop"]);
    assert_eq!(c.tether(&["status"]).code, 0, "a plain command starts the controller again");
    wait_synced(&c, 3, "the cluster again after controller stop");
    c.wait_active(&[MY, DI]);
    new_password_everywhere(&ports, "root", crashed, root, "after controller stop and a restart");
}

#[test]
fn add_unit_turns_a_running_single_server_into_a_galera_cluster_that_keeps_rows_and_credentials() {
    let c = Controller::bootstrap();
    single_server_with_data_integrator(&c);
    let (out, _) = c.run_action(&format!("{MY}/leader"), "get-cluster-status", &[]);
    assert!(out.to_string().contains("runs one server"), "a single server is no cluster yet: {out}");
    let my = c.credentials_for(&format!("{DI}/leader"), "mysql");
    let login = MyLogin::from_credentials(&my);
    let single_pid = live_pid(&c.unit_dir(&format!("{MY}/0")).join("mysqld.pid")).expect("the single server runs");
    let mut db = login.session();
    db.execute("CREATE TABLE committed (id INT PRIMARY KEY)");
    let mut rows = 20;
    for i in 1..=rows {
        db.execute(&format!("INSERT INTO committed VALUES ({i})"));
    }
    drop(db);

    // Two units added: the single server restarts as the founder of a Galera cluster (on
    // its data) and the new units join it by SST.
    c.ok(&["add-unit", MY, "-n", "2"]);
    let r = wait_synced(&c, 3, "the single server and two new units synced in one Galera cluster");
    assert_eq!(write_unit(&r), format!("{MY}/0"), "the former single server takes writes: {r:#}");
    let founder_pid = live_pid(&c.unit_dir(&format!("{MY}/0")).join("mysqld.pid")).expect("the founder runs");
    assert_ne!(founder_pid, single_pid, "the single server restarted with wsrep on");
    let creds = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "two read-only endpoints published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    assert_eq!((&creds["username"], &creds["password"]), (&my["username"], &my["password"]), "the credentials stay the same");
    assert_eq!(ports_of(creds["endpoints"].as_str().unwrap_or_default()), [login.port], "writes stay on the former single server");
    wait_every_row_on_every_member(&r, &login, rows);
    c.wait_active(&[MY, DI]);

    // The cluster fails over like one deployed with three units: SIGKILL of the write
    // node's mariadbd, then the endpoints name a synced member where the same credentials
    // find every row and a write commits.
    sigkill(founder_pid);
    let after = endpoints_with_every_row(&c, &login, &my, rows, None, "endpoints name a synced member after the SIGKILL");
    commit_one_more(&after, &mut rows);
    wait_synced(&c, 3, "the killed member to rejoin (three synced again)");
}

/// The command line of a live process.
fn cmdline(pid: i32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

#[test]
fn a_controller_killed_while_a_single_server_becomes_a_cluster_converges() {
    let c = Controller::bootstrap();
    single_server_with_data_integrator(&c);
    let my = c.credentials_for(&format!("{DI}/leader"), "mysql");
    let login = MyLogin::from_credentials(&my);
    let mut db = login.session();
    db.execute("CREATE TABLE committed (id INT PRIMARY KEY)");
    db.execute("INSERT INTO committed VALUES (1), (2), (3)");
    drop(db);

    // The controller dies once the leader's hook has restarted its server as the founder
    // (wsrep on), before that hook commits (the mode still single).
    let single_pid = live_pid(&c.unit_dir(&format!("{MY}/0")).join("mysqld.pid")).expect("the single server runs");
    let failpoint = "galera.after-founding";
    c.kill_controller().expect("a controller runs");
    c.start_controller_with_env(&[("TETHER_FAILPOINT", failpoint)]);
    let armed = c.controller_pid().expect("the armed controller runs");
    c.ok(&["add-unit", MY]);
    assert!(c.wait_pid_gone(armed, std::time::Duration::from_secs(120)), "the failpoint never fired");
    let log = std::fs::read_to_string(c.home().join("logs/controller.log")).unwrap_or_default();
    assert!(log.contains(&format!("failpoint {failpoint} ")), "the controller died elsewhere");
    let at_kill = live_pid(&c.unit_dir(&format!("{MY}/0")).join("mysqld.pid")).expect("the founder outlives the controller");
    assert_ne!(at_kill, single_pid, "the single server was restarted");
    assert!(cmdline(at_kill).iter().any(|a| a == "--wsrep-on=ON"), "the server runs as a Galera founder at the kill");

    // The next controller takes the server back and makes the change again: two synced
    // members, every row on both, the same credentials.
    assert_eq!(c.tether(&["status"]).code, 0, "a plain command starts the controller again");
    let r = wait_synced(&c, 2, "two synced members after the restart");
    let creds = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "one read-only endpoint published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(1)
    });
    assert_eq!((&creds["username"], &creds["password"]), (&my["username"], &my["password"]), "the credentials stay the same");
    wait_every_row_on_every_member(&r, &login, 3);
    c.wait_active(&[MY, DI]);
}

#[test]
fn a_galera_cluster_whose_members_were_all_killed_at_once_starts_again_with_every_row() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "-n", "3", "--config", "profile=testing"]);
    c.ok(&["deploy", DI, "--config", "database-name=all_db"]);
    c.ok(&["integrate", DI, MY]);
    c.wait_active(&[MY, DI]);
    wait_synced(&c, 3, "three synced Galera members");
    let my = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "two read-only endpoints published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    let login = MyLogin::from_credentials(&my);
    let mut db = login.session();
    db.execute("CREATE TABLE committed (id INT PRIMARY KEY)");
    let mut rows = 30;
    for i in 1..=rows {
        db.execute(&format!("INSERT INTO committed VALUES ({i})"));
    }
    drop(db);

    // Every member's mariadbd SIGKILLed at once: none is marked safe to bootstrap. The
    // members come back as one cluster (Galera's own rule decides which state wins), with
    // every committed row, and the same credentials write there.
    let pids: Vec<i32> =
        (0..3).map(|n| live_pid(&c.unit_dir(&format!("{MY}/{n}")).join("mysqld.pid")).expect("every member's mariadbd runs")).collect();
    for pid in &pids {
        sigkill(*pid);
    }
    let r = wait_synced(&c, 3, "the whole cluster back after every member was killed");
    eprintln!("after every member was killed: {r}");
    for n in 0..3 {
        let log = std::fs::read_to_string(c.unit_dir(&format!("{MY}/{n}")).join("mariadb.log")).unwrap_or_default();
        let how: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("primary-component") || l.contains("Recovered position") || l.contains("bootstrap"))
            .collect();
        eprintln!("{MY}/{n}: {how:#?}");
    }
    let after = endpoints_with_every_row(&c, &login, &my, rows, None, "endpoints name a synced member with every row");
    commit_one_more(&after, &mut rows);
    wait_every_row_on_every_member(&r, &login, rows);

    // The same while no controller runs (as a machine losing power): the controller
    // SIGKILLed, then every member's mariadbd; the next command's controller runs every
    // unit's `start`, which restarts the members as joiners of each other at once, and
    // Galera restores the cluster.
    c.kill_controller().expect("a controller runs");
    for n in 0..3 {
        sigkill(live_pid(&c.unit_dir(&format!("{MY}/{n}")).join("mysqld.pid")).expect("every member's mariadbd runs"));
    }
    assert_eq!(c.tether(&["status"]).code, 0, "a plain command starts the controller again");
    let r = wait_synced(&c, 3, "the whole cluster back after every member and the controller were killed");
    endpoints_with_every_row(&c, &login, &my, rows, None, "endpoints name a synced member with every row");
    for p in member_ports(&r) {
        assert_eq!(MyLogin { port: p, ..login.clone() }.count_rows("committed"), Ok(rows), "every row on the member at {p}");
    }
    c.wait_active(&[MY, DI]);
}

/// What the member at `at`'s port says of itself (as the relation's user: `SHOW STATUS`
/// needs no privilege): its `wsrep_local_state_comment` and whether it is in the primary
/// component, or why it did not answer.
fn member_state(at: &MyLogin) -> String {
    let mut s = match at.connect() {
        Ok(s) => s,
        // Nothing listens: the server is stopped (restarting).
        Err(e) if format!("{e:?}").contains("Connection refused") => return REFUSED.to_string(),
        Err(e) => return format!("no answer ({e:?})").chars().take(60).collect(),
    };
    let mut value = |name: &str| s.try_row(&format!("SHOW GLOBAL STATUS LIKE '{name}'")).map(|r| r[1].clone()).unwrap_or_else(|e| e);
    format!("{}/{}", value("wsrep_local_state_comment"), value("wsrep_cluster_status"))
}

/// A [`member_state`]: the member's port refuses connections (its server is stopped).
const REFUSED: &str = "refused";

/// Whether a [`member_state`] is synced in the primary component.
fn synced_state(state: &str) -> bool {
    state == "Synced/Primary"
}

/// Whether the member at `at`'s port is synced in the primary component.
fn synced_at(at: &MyLogin) -> bool {
    synced_state(&member_state(at))
}

#[test]
fn a_static_setting_restarts_the_galera_members_one_at_a_time_keeping_a_write_node() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "-n", "3", "--config", "profile=testing"]);
    c.ok(&["deploy", DI, "--config", "database-name=rolling_db"]);
    c.ok(&["integrate", DI, MY]);
    c.wait_active(&[MY, DI]);
    let r = wait_synced(&c, 3, "three synced members");
    let my = c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "two read-only endpoints published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    let login = MyLogin::from_credentials(&my);
    let mut db = login.session();
    db.execute("CREATE TABLE committed (id INT PRIMARY KEY)");
    db.execute("INSERT INTO committed VALUES (1)");
    drop(db);
    let mut rows = 1;
    let pid_file = |n: usize| c.unit_dir(&format!("{MY}/{n}")).join("mysqld.pid");
    let before: Vec<i32> = (0..3).map(|n| live_pid(&pid_file(n)).expect("every member runs")).collect();

    // A watcher counts the synced members every 100 ms, each asked directly, while the
    // buffer pool (static for tether: a restart) changes from the testing profile's 20 MiB
    // to the production profile's: restarted one at a time, two members are always
    // synced; restarted together, fewer would be.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, logins) = (stop.clone(), member_ports(&r).into_iter().map(|p| MyLogin { port: p, ..login.clone() }).collect::<Vec<_>>());
        std::thread::spawn(move || {
            let (started, mut fewest, mut timeline) = (std::time::Instant::now(), logins.len(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let states: Vec<String> = logins.iter().map(member_state).collect();
                fewest = fewest.min(states.iter().filter(|s| synced_state(s)).count());
                if timeline.last().map(|(_, last)| last) != Some(&states) {
                    timeline.push((started.elapsed().as_millis(), states));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            (fewest, timeline)
        })
    };
    c.ok(&["config", MY, "profile=production", "profile-limit-memory=600"]);
    wait_until("every member restarted with the new buffer pool", SETTLE_TIMEOUT, || {
        let now: Vec<Option<i32>> = (0..3).map(|n| live_pid(&pid_file(n))).collect();
        match now.iter().zip(&before).all(|(n, b)| n.is_some_and(|n| n != *b)) {
            true => Ok(()),
            false => Err(format!("pids {now:?}, before {before:?}")),
        }
    });
    let r = wait_synced(&c, 3, "three synced members after the restarts");
    c.wait_active(&[MY, DI]);
    stop.store(true, Ordering::Relaxed);
    let (fewest, timeline) = watcher.join().expect("the watcher");
    eprintln!("members' states while the setting changed (ms since the watch began):");
    for (ms, states) in &timeline {
        eprintln!("{ms:>7} {states:?}");
    }
    // One member stopped at a time, in unit order. (A member rejoining takes a state
    // transfer from a donor, desynced meanwhile, so one synced member may be all there is
    // then; a member that does not answer in time on a loaded machine is not counted as
    // stopped: only a refused connection is.)
    let most_stopped = timeline.iter().map(|(_, st)| st.iter().filter(|s| *s == REFUSED).count()).max().unwrap_or(0);
    assert_eq!(most_stopped, 1, "the members stopped one at a time (and each did)");
    let first_stop: Vec<Option<u128>> =
        (0..3).map(|n| timeline.iter().find(|(_, st)| st.get(n).map(String::as_str) == Some(REFUSED)).map(|(ms, _)| *ms)).collect();
    assert!(first_stop.iter().all(Option::is_some) && first_stop.windows(2).all(|w| w[0] < w[1]), "in unit order: {first_stop:?}");
    eprintln!("the fewest synced members seen at once: {fewest}");
    for p in member_ports(&r) {
        let pool = MyLogin { port: p, ..login.clone() }.session().row("SELECT @@innodb_buffer_pool_size")[0].clone();
        assert_ne!(pool, (20 << 20).to_string(), "the member at {p} runs with the production profile's buffer pool");
    }
    let after = endpoints_with_every_row(&c, &login, &my, rows, None, "endpoints name a synced member with every row");
    commit_one_more(&after, &mut rows);
    wait_every_row_on_every_member(&r, &login, rows);
}
