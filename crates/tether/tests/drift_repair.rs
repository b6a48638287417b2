//! Drift repair on real servers (issue 6 §3): the periodic `update-status` finds a managed
//! user whose password was changed by hand and resets it, finds one dropped by hand and
//! recreates it (saying so in `debug-log`), and never touches users tether does not own:
//! neither an unrelated user nor a look-alike named like tether's users but without its
//! ownership marker (PostgreSQL role comment, MariaDB registry). MongoDB's counterpart is
//! in mongodb.rs, beside its driver helpers.

mod common;

use common::*;
use std::time::Duration;

const REPAIR_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits until `login` works again (a repair pass ran), failing with `what` after a minute.
fn wait_repaired<S, E: std::fmt::Debug>(what: &str, login: impl Fn() -> Result<S, E>) {
    wait_until(&format!("{what} to be repaired"), REPAIR_TIMEOUT, || login().map(drop).map_err(|e| format!("{e:?}")));
}

fn assert_repair_logged(c: &Controller, user: &str) {
    let log = c.ok(&["debug-log", "--limit", "100000"]).stdout;
    assert!(log.contains("drift repaired: recreated") && log.contains(user), "debug-log does not tell the repair of {user}:\n{log}");
}

/// A controller whose `update-status` runs every 2 s, with one data-integrator
/// integrated with `app`.
fn integrated(app: &str, database: &str) -> Controller {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    c.ok(&["deploy", app]);
    c.ok(&["deploy", "data-integrator", "--config", &format!("database-name={database}")]);
    c.ok(&["integrate", "data-integrator", app]);
    c.wait_active(&[app, "data-integrator"]);
    c
}

#[test]
fn postgresql_drift_is_repaired_and_users_it_does_not_own_are_left_alone() {
    let c = integrated("postgresql-k8s", "drift_db");
    let creds = c.postgresql_credentials("data-integrator/leader");
    let user = creds["username"].as_str().expect("username").to_string();
    let login = PgLogin::from_credentials(&creds);
    let operator = login.as_user("operator", &c.operator_password("postgresql-k8s"));
    let admin = operator.with_db("postgres").session();
    admin.execute("CREATE ROLE relation_id_9999 LOGIN PASSWORD 'hand-made-1'; CREATE ROLE alice LOGIN PASSWORD 'hand-made-2'");

    admin.execute(&format!("ALTER ROLE \"{user}\" PASSWORD 'changed-by-hand'"));
    assert!(login.connect().is_err(), "the password was changed by hand");
    wait_repaired("a password changed by hand", || login.connect());

    // Dropped by hand, with what it owned.
    let in_db = operator.with_db("drift_db").session();
    in_db.execute(&format!("REASSIGN OWNED BY \"{user}\" TO operator; DROP OWNED BY \"{user}\""));
    admin.execute(&format!("DROP ROLE \"{user}\""));
    assert!(login.connect().is_err(), "the user was dropped by hand");
    wait_repaired("a user dropped by hand", || login.connect());
    login.session().execute("CREATE TABLE after_repair (v int)");
    assert_repair_logged(&c, &user);

    // The pass that recreated the user had seen both hand-made roles and kept them.
    let kept = admin.query("SELECT rolname::text FROM pg_roles WHERE rolname IN ('relation_id_9999', 'alice') ORDER BY 1");
    assert_eq!(kept, vec![vec![Some("alice".to_string())], vec![Some("relation_id_9999".to_string())]]);
}

#[test]
fn mariadb_drift_is_repaired_and_users_it_does_not_own_are_left_alone() {
    let c = integrated("mysql-k8s", "drift_db");
    let creds = c.credentials_for("data-integrator/leader", "mysql");
    let user = creds["username"].as_str().expect("username").to_string();
    let login = MyLogin::from_credentials(&creds);
    let mut root = login.as_user("root", &c.operator_password("mysql-k8s")).with_db(None).session();
    let hosts = root.column(&format!("SELECT Host FROM mysql.user WHERE User = '{user}'"));
    assert_eq!(hosts.len(), 1, "{user} has one account: {hosts:?}");
    let account = format!("'{user}'@'{}'", hosts[0]);
    let look_alike = format!("relation-9999_{}", "a".repeat(12));
    assert!(is_mysql_relation_user(&look_alike));
    root.execute(&format!("CREATE USER '{look_alike}'@'%' IDENTIFIED BY 'hand-made-1'"));
    root.execute("CREATE USER 'alice'@'%' IDENTIFIED BY 'hand-made-2'");

    root.execute(&format!("ALTER USER {account} IDENTIFIED BY 'changed-by-hand'"));
    assert!(login.connect().is_err(), "the password was changed by hand");
    wait_repaired("a password changed by hand", || login.connect());

    root.execute(&format!("DROP USER {account}"));
    assert!(login.connect().is_err(), "the user was dropped by hand");
    wait_repaired("a user dropped by hand", || login.connect());
    login.session().execute("CREATE TABLE after_repair (v int)");
    assert_repair_logged(&c, &user);

    let kept = root.column(&format!("SELECT User FROM mysql.user WHERE User IN ('{look_alike}', 'alice') ORDER BY User"));
    assert_eq!(kept, vec!["alice".to_string(), look_alike]);
}
