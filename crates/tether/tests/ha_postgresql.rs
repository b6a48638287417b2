//! High availability, end to end on real servers: `deploy postgresql-k8s -n 3` runs an
//! etcd member and a Patroni per unit; a data-integrator's credentials are issued once on
//! the primary and keep working after the primary's PostgreSQL is SIGKILLed (Patroni
//! promotes a synchronous standby, tether moves `endpoints`) and after the primary's
//! Patroni is SIGKILLed (the supervisor restarts it) and when the primary dies while the
//! controller is down (killed) or with every process of its unit; config options reach every member
//! through Patroni's shared configuration. `update-status` runs every 10 minutes
//! here, so what follows a failover is the charm's watcher. Every wait polls a condition,
//! bounded.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

const PG: &str = "postgresql-k8s";
const DI: &str = "data-integrator";

/// The pid and port of the unit's running PostgreSQL (from its `postmaster.pid`).
fn postmaster(c: &Controller, unit: &str) -> Option<(i32, u16)> {
    let text = std::fs::read_to_string(c.unit_dir(unit).join("pgdata/postmaster.pid")).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid: i32 = lines.first()?.trim().parse().ok()?;
    let port: u16 = lines.get(3)?.trim().parse().ok()?;
    is_live_process(pid).then_some((pid, port))
}

/// Which of `ports` take writes (`pg_is_in_recovery()` is false), logging in as the
/// relation's user; a port that does not answer counts as neither.
fn writable_ports(login: &PgLogin, ports: &BTreeSet<u16>) -> Vec<u16> {
    ports
        .iter()
        .copied()
        .filter(|p| {
            let at = PgLogin { port: *p, ..login.clone() };
            at.connect().ok().and_then(|s| s.try_query("SELECT pg_is_in_recovery()::text").ok()).and_then(|r| r.first()?.first()?.clone())
                == Some("false".into())
        })
        .collect()
}

/// After a fault: one primary, it is the one `endpoints` names, the same credentials log
/// in there and find every committed row, and a new write commits.
fn check_after_fault(c: &Controller, before: &serde_json::Value, ports: &BTreeSet<u16>, rows: i64, what: &str) -> u16 {
    let (user, password) = (before["username"].clone(), before["password"].clone());
    let login = PgLogin::from_credentials(before);
    let new_primary_port =
        wait_until(&format!("{what}: exactly one writable server"), SETTLE_TIMEOUT, || match writable_ports(&login, ports).as_slice() {
            [one] => Ok(*one),
            other => Err(format!("writable: {other:?}")),
        });
    let creds = c.wait_postgresql_credentials(&format!("{DI}/leader"), &format!("{what}: endpoints name the primary"), |m| {
        m["endpoints"].as_str().map(ports_of) == Some(vec![new_primary_port])
    });
    assert_eq!((creds["username"].clone(), creds["password"].clone()), (user, password), "{what}: the credentials stay the same");
    let db = PgLogin::from_credentials(&creds).session();
    assert_eq!(db.row("SELECT count(*)::text FROM committed")[0], rows.to_string(), "{what}: every committed row is there");
    db.execute(&format!("INSERT INTO committed VALUES ({})", rows + 1));
    db.execute(&format!("DELETE FROM committed WHERE id = {}", rows + 1));
    new_primary_port
}

#[test]
fn three_units_survive_sigkill_of_the_primarys_postgres_and_of_its_patroni() {
    let c = Controller::bootstrap();
    // Endpoints follow the primary through the watcher, not the update-status timer.
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", PG, "-n", "3"]);
    c.ok(&["deploy", DI, "--config", "database-name=ha_db"]);
    c.ok(&["integrate", DI, PG]);
    c.wait_active(&[PG, DI]);

    // Patroni's primary: status `Primary` on it alone, `endpoints` its port, the two
    // replicas in `read-only-endpoints`.
    let primary = wait_until("get-primary to name a unit", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let units: Vec<String> = (0..3).map(|n| format!("{PG}/{n}")).collect();
    assert!(units.contains(&primary), "{primary}");
    c.wait_for("the primary's status message to be Primary, and only its", |s| {
        let words = workload_words(s, PG);
        Ok(words.iter().skip(1).all(|(u, w, m)| w == "active" && (m == "Primary") == (*u == primary)))
    });
    let (primary_pid, primary_port) = postmaster(&c, &primary).expect("the primary's postgres runs");
    let pg = c.wait_postgresql_credentials(&format!("{DI}/leader"), "two healthy replicas published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    assert_eq!(ports_of(pg["endpoints"].as_str().unwrap_or_default()), [primary_port], "{pg:#}");
    let mut ports: BTreeSet<u16> = ports_of(pg["read-only-endpoints"].as_str().unwrap_or_default()).into_iter().collect();
    assert!(!ports.contains(&primary_port), "a replica is not the primary: {pg:#}");
    ports.insert(primary_port);
    assert_eq!(ports.len(), 3, "three servers: {pg:#}");
    for u in &units {
        assert!(live_pid(&c.unit_dir(u).join("patroni/patroni.pid")).is_some(), "{u} runs Patroni");
        assert!(live_pid(&c.unit_dir(u).join("etcd/etcd.pid")).is_some(), "{u} runs an etcd member");
    }

    // Rows committed one by one (autocommit) once Patroni confirmed both replicas as
    // synchronous standbys: each INSERT returned, so each is durable on them.
    c.wait_synchronous_standbys(&primary, 2);
    let login = PgLogin::from_credentials(&pg);
    let db = login.session();
    db.execute("CREATE TABLE committed (id int PRIMARY KEY)");
    let rows = 200;
    for i in 1..=rows {
        db.execute(&format!("INSERT INTO committed VALUES ({i})"));
    }
    drop(db);
    // Replicas got the relation's user by replication: it logs in on each, read-only.
    for p in &ports {
        let s = PgLogin { port: *p, ..login.clone() }.session();
        assert_eq!(s.row("SELECT current_user")[0], login.user);
    }

    // Fault 1: SIGKILL of the primary's postgres. With `primary_start_timeout: 0` Patroni
    // promotes a synchronous standby when its health check (2 s per standby, no retry)
    // confirms one; on a loaded machine it may not, and then it restarts the crashed
    // primary in place (seen in 1 of 4 runs here). Either way: one primary, the endpoints
    // name it, the credentials and every committed row are there.
    sigkill(primary_pid);
    let port = check_after_fault(&c, &pg, &ports, rows, "after SIGKILL of the primary's postgres");
    let new_primary = wait_until("get-primary to name the writable server's unit", SETTLE_TIMEOUT, || {
        let p = c.primary_unit(PG, "primary")?;
        match postmaster(&c, &p) {
            Some((_, at)) if at == port => Ok(p),
            other => Err(format!("{p} at {other:?}, writable port {port}")),
        }
    });
    if new_primary == primary {
        eprintln!("Patroni restarted the crashed primary {primary} in place");
        assert_ne!(postmaster(&c, &primary).map(|(pid, _)| pid), Some(primary_pid), "a new postgres runs");
    } else {
        // The old primary comes back as a replica (pg_rewind), never as a second primary.
        wait_until("the old primary to rejoin as a replica", SETTLE_TIMEOUT, || {
            let at = PgLogin { port: primary_port, ..login.clone() };
            let r = at.connect().map_err(|e| format!("{e:?}"))?.try_query("SELECT pg_is_in_recovery()::text").map_err(|e| e.to_string())?;
            match r.first().and_then(|row| row.first().cloned().flatten()).as_deref() {
                Some("true") => Ok(()),
                other => Err(format!("pg_is_in_recovery on the old primary: {other:?}")),
            }
        });
        c.wait_postgresql_credentials(&format!("{DI}/leader"), "the old primary listed as a healthy replica", |m| {
            m["read-only-endpoints"].as_str().is_some_and(|r| ports_of(r).contains(&primary_port))
        });
    }
    assert_eq!(writable_ports(&login, &ports), [port], "never two primaries");

    // Fault 2: SIGKILL of the (new) primary's Patroni. The supervisor restarts it; one
    // primary stays, whichever unit it is.
    let patroni_pid_file = c.unit_dir(&new_primary).join("patroni/patroni.pid");
    let patroni_pid = live_pid(&patroni_pid_file).expect("the primary's Patroni runs");
    sigkill(patroni_pid);
    wait_until("Patroni restarted by the supervisor", SETTLE_TIMEOUT, || match live_pid(&patroni_pid_file) {
        Some(p) if p != patroni_pid => Ok(()),
        other => Err(format!("patroni.pid: {other:?}")),
    });
    check_after_fault(&c, &pg, &ports, rows, "after SIGKILL of the primary's Patroni");
    assert_eq!(writable_ports(&login, &ports).len(), 1, "never two primaries");

    // Fault 3: the controller SIGKILLed, then the primary's postgres SIGKILLed while no
    // controller runs: Patroni fails over (or restarts in place) on its own; the next
    // command starts a controller, which follows the cluster again and republishes.
    let primary = wait_until("get-primary", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let (pid, _) = postmaster(&c, &primary).expect("the primary's postgres runs");
    c.kill_controller().expect("a controller runs");
    sigkill(pid);
    check_after_fault(&c, &pg, &ports, rows, "after a failover while the controller was down");
    assert_eq!(writable_ports(&login, &ports).len(), 1, "never two primaries");

    // Fault 4: every process of the primary's unit SIGKILLed at once (etcd, Patroni,
    // postgres): the others elect a primary, the supervisor brings the unit back, and it
    // rejoins as a replica with every row.
    let primary = wait_until("get-primary", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let dir = c.unit_dir(&primary);
    let (pg_pid, pg_port) = postmaster(&c, &primary).expect("the primary's postgres runs");
    for pid in [live_pid(&dir.join("etcd/etcd.pid")), live_pid(&dir.join("patroni/patroni.pid")), Some(pg_pid)].into_iter().flatten() {
        sigkill(pid);
    }
    check_after_fault(&c, &pg, &ports, rows, "after every process of the primary's unit was killed");
    wait_until("the killed unit's server back and following the primary", SETTLE_TIMEOUT, || {
        let at = PgLogin { port: pg_port, ..login.clone() };
        let s = at.connect().map_err(|e| format!("{e:?}"))?;
        let rows_there = s.try_row("SELECT count(*)::text FROM committed")?[0].clone();
        if rows_there == rows.to_string() {
            Ok(())
        } else {
            Err(format!("{rows_there} rows"))
        }
    });
    assert_eq!(writable_ports(&login, &ports).len(), 1, "never two primaries");
}

#[test]
fn switchover_add_unit_and_remove_unit_keep_one_primary_and_the_credentials() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", PG, "-n", "2"]);
    c.ok(&["deploy", DI, "--config", "database-name=ha_db"]);
    c.ok(&["integrate", DI, PG]);
    c.wait_active(&[PG, DI]);
    let pg = c.wait_postgresql_credentials(&format!("{DI}/leader"), "one healthy replica published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(1)
    });
    let login = PgLogin::from_credentials(&pg);
    let db = login.session();
    db.execute("CREATE TABLE committed (id int PRIMARY KEY)");
    let rows = 50;
    for i in 1..=rows {
        db.execute(&format!("INSERT INTO committed VALUES ({i})"));
    }
    drop(db);

    // Patroni's REST user has a password of its own, shown as Canonical's charm does.
    let rest = c.action_results(&format!("{PG}/leader"), "get-password", &["username=patroni"]);
    assert_eq!(rest["password"].as_str().map(str::len), Some(16), "{rest:#}");

    // set-password under Patroni: the server and every member's Patroni take the new
    // passwords. A replica whose postgres is killed streams again with the new replication
    // password; the REST password is proved by the switchover further down.
    for user in ["operator", "replication", "rewind", "patroni"] {
        let set = c.action_results(&format!("{PG}/leader"), "set-password", &[&format!("username={user}")]);
        let got = c.action_results(&format!("{PG}/leader"), "get-password", &[&format!("username={user}")]);
        assert_eq!(set["password"], got["password"], "{user}");
    }
    let operator = c.operator_password(PG);
    let primary = wait_until("get-primary", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let (_, primary_port) = postmaster(&c, &primary).expect("the primary's postgres");
    let admin = PgLogin { port: primary_port, ..login.as_user("operator", &operator).with_db("postgres") };
    admin.session();
    let replica_unit = [format!("{PG}/0"), format!("{PG}/1")].into_iter().find(|u| *u != primary).expect("a replica");
    std::thread::sleep(Duration::from_secs(3));
    let (replica_pid, replica_port) = postmaster(&c, &replica_unit).expect("the replica's postgres");
    sigkill(replica_pid);
    login.session().execute(&format!("INSERT INTO committed VALUES ({})", rows + 1));
    let on_replica = PgLogin { port: replica_port, ..login.clone() };
    wait_until("the restarted replica to stream with the new replication password", SETTLE_TIMEOUT, || {
        let n = on_replica.connect().map_err(|e| format!("{e:?}")).and_then(|s| s.try_row("SELECT count(*)::text FROM committed"))?;
        if n[0] == (rows + 1).to_string() {
            Ok(())
        } else {
            Err(format!("{} rows", n[0]))
        }
    });
    login.session().execute(&format!("DELETE FROM committed WHERE id = {}", rows + 1));

    // Config under Patroni: a reloadable and a restart-only setting reach every member
    // through Patroni's shared configuration (members restarted, replicas first); the
    // credentials and the rows are kept.
    c.ok(&["config", PG, "memory_work_mem=2048", "memory_max_prepared_transactions=9"]);
    let operator = c.operator_password(PG);
    for unit in [format!("{PG}/0"), format!("{PG}/1")] {
        wait_until(&format!("{unit} runs the new settings"), SETTLE_TIMEOUT, || {
            let (_, port) = postmaster(&c, &unit).ok_or_else(|| "not running".to_string())?;
            let admin = PgLogin { port, ..login.as_user("operator", &operator).with_db("postgres") };
            let s = admin.connect().map_err(|e| format!("{e:?}"))?;
            let got = (s.try_row("SHOW work_mem")?[0].clone(), s.try_row("SHOW max_prepared_transactions")?[0].clone());
            if got == ("2MB".to_string(), "9".to_string()) {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        });
    }
    c.wait_active(&[PG]);
    let counted = wait_until("the relation's user reads every row", SETTLE_TIMEOUT, || {
        login.connect().map_err(|e| format!("{e:?}")).and_then(|s| s.try_row("SELECT count(*)::text FROM committed")).map(|r| r[0].clone())
    });
    assert_eq!(counted, rows.to_string());

    // Credentials rotate under Patroni too: the new login is made on the primary and
    // reaches the replica by replication; the old one is retired after its grace period.
    c.ok(&["config", PG, "credential-grace-period=5s"]);
    c.action_results(&format!("{PG}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
    let rotated_pg = c.wait_postgresql_credentials(&format!("{DI}/leader"), "rotated credentials", |m| {
        m["username"].as_str().is_some_and(|u| u != login.user)
    });
    let rotated = PgLogin::from_credentials(&rotated_pg);
    for port in ports_of(c.postgresql_credentials(&format!("{DI}/leader"))["read-only-endpoints"].as_str().unwrap_or_default()) {
        let replica = PgLogin { port, ..rotated.clone() };
        wait_until("the rotated login on the replica", SETTLE_TIMEOUT, || {
            replica
                .connect()
                .map_err(|e| format!("{e:?}"))
                .and_then(|s| s.try_row("SELECT count(*)::text FROM committed"))
                .map(|r| r[0].clone())
        });
    }
    login.wait_bad_credentials();
    let (pg, login) = (rotated_pg, rotated);
    assert_eq!(login.session().row("SELECT count(*)::text FROM committed")[0], rows.to_string());

    // promote-to-primary: a bad scope is refused, scope unit switches over to that unit.
    let primary = wait_until("get-primary to name a unit", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let replica = [format!("{PG}/0"), format!("{PG}/1")].into_iter().find(|u| *u != primary).expect("two units");
    let (_, task) = c.run_action(&replica, "promote-to-primary", &["scope=nonsense"]);
    assert_eq!(task["status"], "failed", "{task:#}");
    assert_eq!(task["message"], "Scope should be either cluster or unit", "{task:#}");
    c.action_results(&replica, "promote-to-primary", &["scope=unit"]);
    assert_eq!(c.primary_unit(PG, "primary").as_deref(), Ok(replica.as_str()), "the switchover is done when the action completes");
    // Every unit's server, whether or not it was a healthy replica when `pg` was read.
    let mut ports: BTreeSet<u16> =
        [pg["endpoints"].as_str(), pg["read-only-endpoints"].as_str()].into_iter().flat_map(|e| ports_of(e.unwrap_or_default())).collect();
    ports.extend([format!("{PG}/0"), format!("{PG}/1")].iter().filter_map(|u| postmaster(&c, u)).map(|(_, p)| p));
    let port = check_after_fault(&c, &pg, &ports, rows, "after promote-to-primary");
    assert_eq!(postmaster(&c, &replica).map(|(_, p)| p), Some(port), "the promoted unit takes writes");

    // add-unit: the new unit joins etcd and Patroni and becomes a healthy replica.
    c.ok(&["add-unit", PG]);
    let new_unit = format!("{PG}/2");
    c.wait_for("three active units", |s| Ok(workload_words(s, PG).iter().skip(1).filter(|(_, w, _)| w == "active").count() == 3));
    let creds = c.wait_postgresql_credentials(&format!("{DI}/leader"), "two healthy replicas published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    let (_, new_port) = postmaster(&c, &new_unit).expect("the new unit's postgres runs");
    assert!(ports_of(creds["read-only-endpoints"].as_str().unwrap_or_default()).contains(&new_port), "{creds:#}");
    ports.insert(new_port);
    let on_new = PgLogin { port: new_port, ..login.clone() }.session();
    assert_eq!(on_new.row("SELECT count(*)::text FROM committed")[0], rows.to_string(), "the new replica has every row");
    drop(on_new);
    assert!(live_pid(&c.unit_dir(&new_unit).join("etcd/etcd.pid")).is_some(), "the new unit runs an etcd member");

    // remove-unit of the primary: Patroni hands over to a standby; its processes go.
    let primary_dir = c.unit_dir(&replica);
    let pids: Vec<i32> = ["patroni/patroni.pid", "etcd/etcd.pid"].iter().filter_map(|f| live_pid(&primary_dir.join(f))).collect();
    assert_eq!(pids.len(), 2, "the primary runs Patroni and etcd");
    c.ok(&["remove-unit", &replica]);
    for pid in pids {
        assert!(c.wait_pid_gone(pid, SETTLE_TIMEOUT), "process {pid} of the removed unit is gone");
    }
    ports.remove(&port);
    check_after_fault(&c, &pg, &ports, rows, "after remove-unit of the primary");
    wait_until("the removed unit's directory to go", SETTLE_TIMEOUT, || {
        if primary_dir.exists() {
            Err(format!("{} still there", primary_dir.display()))
        } else {
            Ok(())
        }
    });
    assert_eq!(writable_ports(&login, &ports).len(), 1, "never two primaries");

    // remove-unit of a replica while clients write (a new connection per insert and one
    // long-lived session): no write fails, every committed one is there. The last replica
    // of a strict cluster (Canonical's default) takes the primary's writes with it, as
    // Patroni's synchronous_mode_strict says; an operator shrinking to one unit turns it
    // off first, as this test does.
    c.ok(&["config", PG, "synchronous_mode_strict=false"]);
    c.wait_settled(Duration::from_secs(3), |_| true);
    let primary_now = wait_until("get-primary after the removal", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let leaving = [format!("{PG}/0"), format!("{PG}/1"), new_unit.clone()]
        .into_iter()
        .find(|u| *u != replica && *u != primary_now)
        .expect("a replica is left to remove");
    let (_, leaving_port) = postmaster(&c, &leaving).expect("the replica's postgres runs");
    let writer = PgLogin::from_credentials(&c.postgresql_credentials(&format!("{DI}/leader")));
    writer.session().execute("CREATE TABLE written (n int)");
    let traffic = Traffic::start(
        std::sync::Arc::new(std::sync::Mutex::new(writer.clone())),
        |l: &PgLogin| l.connect().map_err(|e| format!("{e:?}"))?.try_row("INSERT INTO written VALUES (1) RETURNING n").map(|_| ()),
        |l: &PgLogin| l.connect().map_err(|e| format!("{e:?}")),
        |s: &mut PgSession| s.try_row("INSERT INTO written VALUES (2) RETURNING n").map(|_| ()),
    );
    let leaving_dir = c.unit_dir(&leaving);
    let pids: Vec<i32> = ["patroni/patroni.pid", "etcd/etcd.pid"].iter().filter_map(|f| live_pid(&leaving_dir.join(f))).collect();
    c.ok(&["remove-unit", &leaving]);
    for pid in pids {
        assert!(c.wait_pid_gone(pid, SETTLE_TIMEOUT), "process {pid} of the removed replica is gone");
    }
    std::thread::sleep(Duration::from_secs(2));
    let report = traffic.stop();
    assert!(report.failures.is_empty() && report.long_lived_ended.is_none(), "no write failed: {report:?}");
    let written = writer.session().row("SELECT count(*)::text FROM written")[0].clone();
    assert_eq!(written, (report.queries + report.long_lived_queries).to_string(), "every committed write is there: {report:?}");
    ports.remove(&leaving_port);
    assert_eq!(writable_ports(&login, &ports).len(), 1, "one primary");

    // The controller stopped (its workloads with it) and started again: etcd and Patroni
    // come back from their data and the cluster serves the same credentials.
    c.ok(&["controller", "stop"]);
    assert!(writable_ports(&login, &ports).is_empty(), "the controller's stop stops its servers");
    c.ok(&["status"]);
    check_after_fault(&c, &pg, &ports, rows, "after a controller restart");
}
