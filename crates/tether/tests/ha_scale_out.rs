//! `add-unit` on a running single postgresql-k8s turns it into the Patroni + etcd cluster:
//! the single server's data directory is taken over by Patroni on the same port, so rows
//! written before, the relation's user and password and the unit that was primary stay;
//! the added units join as replicas (basebackup) and are published in
//! `read-only-endpoints`; a switchover afterwards keeps the same credentials. A controller
//! SIGKILLed (failpoint) just before or once the data directory was handed over, before
//! anything was committed, converges when it starts again. Every wait polls a condition,
//! bounded.

mod common;

use common::*;
use std::collections::BTreeSet;

const PG: &str = "postgresql-k8s";
const DI: &str = "data-integrator";
const ROWS: i64 = 100;

/// One postgresql-k8s unit, a data-integrator, `ROWS` rows written through its
/// credentials; returns them (and checks the unit runs no Patroni).
fn single_server_with_rows(c: &Controller) -> serde_json::Value {
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", DI, "--config", "database-name=scale_db"]);
    c.ok(&["integrate", DI, PG]);
    c.wait_active(&[PG, DI]);
    let pg = c.postgresql_credentials(&format!("{DI}/leader"));
    let db = PgLogin::from_credentials(&pg).session();
    db.execute("CREATE TABLE committed (id int PRIMARY KEY)");
    db.execute(&format!("INSERT INTO committed SELECT generate_series(1, {ROWS})"));
    assert!(!c.unit_dir(&format!("{PG}/0")).join("patroni").exists(), "a single unit runs no Patroni");
    pg
}

/// After `add-unit -n 2`: three active units, `postgresql-k8s/0` still primary on the same
/// port with the same credentials, the two new units healthy replicas in
/// `read-only-endpoints` that hold every row (and a row written now). Returns every
/// server's port.
fn check_cluster_of_three(c: &Controller, before: &serde_json::Value, operator: &str) -> BTreeSet<u16> {
    c.wait_for("three active units, postgresql-k8s/0 Primary", |s| {
        let words = workload_words(s, PG);
        Ok(words.len() == 4 && words.iter().skip(1).all(|(u, w, m)| w == "active" && (m == "Primary") == (u == &format!("{PG}/0"))))
    });
    let creds = c.wait_postgresql_credentials(&format!("{DI}/leader"), "two healthy replicas published", |m| {
        m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2)
    });
    assert_eq!((&creds["username"], &creds["password"]), (&before["username"], &before["password"]), "the same credentials");
    assert_eq!(creds["endpoints"], before["endpoints"], "the single server's unit and port stay the primary: {creds:#}");
    assert_eq!(c.primary_unit(PG, "primary").as_deref(), Ok(format!("{PG}/0").as_str()));
    assert_eq!(c.operator_password(PG), operator, "the internal passwords stay");
    for n in 0..3 {
        let dir = c.unit_dir(&format!("{PG}/{n}"));
        assert!(live_pid(&dir.join("patroni/patroni.pid")).is_some(), "{PG}/{n} runs Patroni");
        assert!(live_pid(&dir.join("etcd/etcd.pid")).is_some(), "{PG}/{n} runs an etcd member");
    }
    let login = PgLogin::from_credentials(&creds);
    login.session().execute(&format!("INSERT INTO committed VALUES ({})", ROWS + 1));
    let replicas = ports_of(creds["read-only-endpoints"].as_str().unwrap_or_default());
    for port in &replicas {
        let on_replica = PgLogin { port: *port, ..login.clone() };
        let s = on_replica.session();
        assert_eq!(s.row("SELECT pg_is_in_recovery()::text")[0], "true", "{port} is a replica");
        wait_until("the replica to hold every row, old and new", SETTLE_TIMEOUT, || {
            let n = s.try_row("SELECT count(*)::text FROM committed")?[0].clone();
            if n == (ROWS + 1).to_string() {
                Ok(())
            } else {
                Err(format!("{n} rows on {port}"))
            }
        });
    }
    login.session().execute(&format!("DELETE FROM committed WHERE id = {}", ROWS + 1));
    let mut ports: BTreeSet<u16> = replicas.into_iter().collect();
    ports.insert(first_endpoint(creds["endpoints"].as_str().unwrap_or_default()).1);
    ports
}

#[test]
fn add_unit_turns_a_single_server_into_a_patroni_cluster_with_its_data_and_credentials() {
    let c = Controller::bootstrap();
    let before = single_server_with_rows(&c);
    let operator = c.operator_password(PG);

    c.ok(&["add-unit", PG, "-n", "2"]);
    let ports = check_cluster_of_three(&c, &before, &operator);

    // A switchover to an added unit: the endpoints follow, the same credentials log in
    // there and find every row, and a write commits.
    let target = format!("{PG}/1");
    c.action_results(&target, "promote-to-primary", &["scope=unit"]);
    assert_eq!(c.primary_unit(PG, "primary").as_deref(), Ok(target.as_str()), "the switchover is done when the action completes");
    let after = c.wait_postgresql_credentials(&format!("{DI}/leader"), "endpoints name the new primary", |m| {
        m["endpoints"] != before["endpoints"] && m["endpoints"].as_str().is_some_and(|e| ports.contains(&first_endpoint(e).1))
    });
    assert_eq!((&after["username"], &after["password"]), (&before["username"], &before["password"]), "the same credentials");
    let db = PgLogin::from_credentials(&after).session();
    assert_eq!(db.row("SELECT pg_is_in_recovery()::text")[0], "false", "endpoints name a writable server");
    assert_eq!(db.row("SELECT count(*)::text FROM committed")[0], ROWS.to_string(), "every row is on the new primary");
    db.execute(&format!("INSERT INTO committed VALUES ({})", ROWS + 2));
    // The former single server follows the new primary as a replica.
    let old = PgLogin { port: first_endpoint(before["endpoints"].as_str().unwrap_or_default()).1, ..PgLogin::from_credentials(&after) };
    wait_until("the former single server to replicate the new primary's write", SETTLE_TIMEOUT, || {
        let s = old.connect().map_err(|e| format!("{e:?}"))?;
        let r = s.try_row(&format!("SELECT pg_is_in_recovery()::text, count(*)::text FROM committed WHERE id = {}", ROWS + 2))?;
        if r == ["true", "1"] {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    });
}

#[test]
fn a_controller_killed_before_or_once_patroni_took_over_the_data_directory_converges() {
    // Killed with the plain server readied and stopped but no Patroni configured (the
    // restart starts it plainly again, then hands it over), and killed once the data
    // directory runs under Patroni and etcd; both before the hook that did it commits
    // anything (the mode still says "converting").
    for failpoint in ["patroni.convert.before-hand-over", "patroni.convert.after-hand-over"] {
        let c = Controller::bootstrap();
        let before = single_server_with_rows(&c);
        let operator = c.operator_password(PG);
        c.crash_at(failpoint, |c| c.tether(&["add-unit", PG, "-n", "2"]));
        check_cluster_of_three(&c, &before, &operator);
    }
}
