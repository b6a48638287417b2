//! Adopt mode beyond one server on loopback: PostgreSQL and MariaDB servers on another
//! host (a network namespace this test creates, reached over a veth pair whose addresses exist
//! only on that pair), and one controller managing several adopted servers at once, each
//! its own application, each integration landing on its own server.

mod common;

use common::*;

const PG: &str = "postgresql-k8s";

/// The inode of a process's network namespace.
fn net_ns(pid: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("read the network namespace")
}

#[test]
fn seed_flow_on_a_postgresql_server_on_another_host() {
    let ns = NetNs::create();
    let server = ExternalPg::start_in(&ns);
    // It is another host: its address is on no interface here, its process in another namespace.
    let here = std::process::Command::new("ip").args(["-4", "addr"]).output().expect("ip addr").stdout;
    assert!(!String::from_utf8_lossy(&here).contains(&format!("{}/", ns.remote)), "{} must exist only in the namespace", ns.remote);
    let pid = server.pid().expect("the server runs");
    assert_ne!(net_ns(&pid.to_string()), net_ns("self"), "the server runs in the namespace");

    server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");
    let endpoint = format!("{}:{}", ns.remote, server.port);
    c.ok(&["deploy", PG, "pg-remote", "--config", &format!("external-endpoint={endpoint}"), "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", "pg-admin", "pg-remote"]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=remote_db"]);
    c.ok(&["integrate", "data-integrator", "pg-remote"]);
    let status = c.wait_active(&["pg-remote", "data-integrator"]);
    let (_, message) = unit_words(&status, "pg-remote").expect("the unit");
    assert!(message.contains(&endpoint), "{message}");

    // The application's credentials reach the remote server, confined to their database.
    let creds = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(creds["endpoints"], endpoint.as_str(), "{creds:#}");
    let login = PgLogin::from_credentials(&creds);
    let db = login.session();
    assert_eq!(db.row("SELECT current_database(), host(inet_server_addr())"), ["remote_db", ns.remote.as_str()]);
    db.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('remote')");
    drop(db);

    // remove-relation revokes the user there and keeps the database; a new relation gets a new user.
    c.ok(&["remove-relation", "data-integrator", "pg-remote"]);
    login.wait_bad_credentials();
    assert!(server.exists("SELECT 1 FROM pg_database WHERE datname = 'remote_db'"));
    c.ok(&["integrate", "data-integrator", "pg-remote"]);
    let old_user = login.user.clone();
    let again = c.wait_postgresql_credentials("data-integrator/leader", "a new relation user", |pg| pg["username"] != old_user.as_str());
    assert_eq!(PgLogin::from_credentials(&again).session().row("SELECT v FROM kept"), ["remote"]);

    // A network partition: the unit waits, naming the endpoint; healed, it is active again
    // and work queued meanwhile (a relation removed) is done.
    ns.set_link(false);
    let waiting = c.wait_unit("pg-remote", "waiting", &endpoint);
    assert!(waiting.contains("unreachable"), "{waiting}");
    c.ok(&["remove-relation", "data-integrator", "pg-remote"]);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, "pg-remote", "database").is_empty()));
    ns.set_link(true);
    c.wait_active(&["pg-remote"]);
    PgLogin::from_credentials(&again).wait_bad_credentials();

    // remove-application leaves the remote server and its data alone.
    c.ok(&["remove-application", "pg-remote"]);
    c.wait_for("pg-remote to be gone", |s| Ok(!has_app(s, "pg-remote")));
    assert!(server.pid().is_some(), "the remote server keeps running");
    assert!(server.exists("SELECT 1 FROM pg_roles WHERE rolname = 'dba'"));
}

#[test]
fn one_controller_manages_several_adopted_servers_each_its_own_application() {
    let (first, second) = (ExternalPg::start(), ExternalPg::start());
    let maria = ExternalMariaDb::start();
    for pg in [&first, &second] {
        pg.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    }
    maria
        .session()
        .execute("CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%' WITH GRANT OPTION");
    let (c, uri) = Controller::for_adoption("db-admin", "dba", "dba-secret-pw");
    let apps = [("pg-one", PG, first.port), ("pg-two", PG, second.port), ("my-one", "mysql-k8s", maria.port)];
    for (app, charm, port) in apps {
        c.ok(&[
            "deploy",
            charm,
            app,
            "--config",
            &format!("external-endpoint=127.0.0.1:{port}"),
            "--config",
            &format!("admin-secret={uri}"),
        ]);
        c.ok(&["grant-secret", "db-admin", app]);
        let integrator = format!("di-{app}");
        c.ok(&["deploy", "data-integrator", &integrator, "--config", &format!("database-name={}_db", app.replace('-', "_"))]);
        c.ok(&["integrate", &integrator, app]);
    }
    c.wait_active(&["pg-one", "pg-two", "my-one", "di-pg-one", "di-pg-two", "di-my-one"]);

    // Each integration's database and user are on its own server, and only there.
    for (app, server, other) in [("pg-one", &first, &second), ("pg-two", &second, &first)] {
        let creds = c.postgresql_credentials(&format!("di-{app}/leader"));
        assert_eq!(creds["endpoints"], format!("127.0.0.1:{}", server.port), "{creds:#}");
        let login = PgLogin::from_credentials(&creds);
        assert_eq!(login.session().row("SELECT current_database()"), [format!("{}_db", app.replace('-', "_"))]);
        let role = format!("SELECT 1 FROM pg_roles WHERE rolname = '{}'", login.user);
        assert!(server.exists(&role) && !other.exists(&role), "{app}'s user lives on its own server only");
        let database = format!("SELECT 1 FROM pg_database WHERE datname = '{}_db'", app.replace('-', "_"));
        assert!(!other.exists(&database), "{app}'s database is not on the other server");
    }
    let my = MyLogin::from_credentials(&c.credentials_for("di-my-one/leader", "mysql"));
    assert_eq!(my.port, maria.port);
    assert_eq!(my.session().column("SELECT DATABASE()"), ["my_one_db"]);

    // Removing one application's relation touches its server only.
    c.ok(&["remove-relation", "di-pg-one", "pg-one"]);
    c.wait_for("pg-one's relation to be gone", |s| Ok(related_apps(s, "pg-one", "database").is_empty()));
    let two = PgLogin::from_credentials(&c.postgresql_credentials("di-pg-two/leader"));
    wait_until("pg-one's user to be dropped", SETTLE_TIMEOUT, || {
        match first.session().row("SELECT count(*)::text FROM pg_roles WHERE rolname LIKE 'relation\\_id\\_%'")[0].as_str() {
            "0" => Ok(()),
            n => Err(format!("{n} relation users left")),
        }
    });
    two.session();
    my.session();
}

#[test]
fn a_mariadb_on_another_host_survives_a_network_partition() {
    let ns = NetNs::create();
    let server = ExternalMariaDb::start_in(&ns);
    server
        .session()
        .execute("CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%' WITH GRANT OPTION");
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    let endpoint = format!("{}:{}", ns.remote, server.port);
    c.ok(&[
        "deploy",
        "mysql-k8s",
        "my-remote",
        "--config",
        &format!("external-endpoint={endpoint}"),
        "--config",
        &format!("admin-secret={uri}"),
    ]);
    c.ok(&["grant-secret", "my-admin", "my-remote"]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=remote_db"]);
    c.ok(&["integrate", "data-integrator", "my-remote"]);
    c.wait_active(&["my-remote", "data-integrator"]);
    let login = MyLogin::from_credentials(&c.credentials_for("data-integrator/leader", "mysql"));
    assert_eq!((login.host.as_str(), login.port), (ns.remote.as_str(), server.port));
    login.session().execute("CREATE TABLE kept (v TEXT)");

    // Cut: the unit waits, naming the endpoint (its hooks are not held by the lost
    // sessions); healed: active, and the relation removed meanwhile loses its user.
    ns.set_link(false);
    let waiting = c.wait_unit("my-remote", "waiting", &endpoint);
    assert!(waiting.contains("unreachable"), "{waiting}");
    c.ok(&["remove-relation", "data-integrator", "my-remote"]);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, "my-remote", "database").is_empty()));
    ns.set_link(true);
    c.wait_active(&["my-remote"]);
    login.wait_denied();
    assert_eq!(server.session().column("SHOW DATABASES LIKE 'remote\\_db'"), ["remote_db"], "the database stays");
}
