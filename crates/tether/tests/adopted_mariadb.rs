//! Adopt mode of mysql-k8s, end to end through the CLI: a MariaDB server started outside
//! tether ([`ExternalMariaDb`]) is managed by an admin that is not a superuser (no
//! `SUPER`, no `CONNECTION ADMIN`: `CREATE USER`, `CREATE` and the database privileges,
//! with `GRANT OPTION`); tether starts no server of its own, issues and revokes relation
//! users there, and never touches the server's own users, databases or process.

mod common;

use common::*;

const MY: &str = "mysql-k8s";
const APP: &str = "my-ext";
/// What a database-level `ALL` is made of on MariaDB 10.11 (the admin must hold it to grant it).
const DB_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, \
     LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY";

fn deploy_adopted(c: &Controller, app: &str, endpoint: &str, uri: &str, secret: &str) {
    c.ok(&["deploy", MY, app, "--config", &format!("external-endpoint={endpoint}"), "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", secret, app]);
}

fn count(server: &ExternalMariaDb, sql: &str) -> usize {
    server.session().row(sql)[0].parse().expect("a count")
}

fn integrator_login(c: &Controller) -> MyLogin {
    MyLogin::from_credentials(&c.credentials_for("data-integrator/leader", "mysql"))
}

#[test]
fn seed_flow_on_an_adopted_mariadb_with_a_non_superuser_admin() {
    let server = ExternalMariaDb::start();
    let mut su = server.session();
    su.execute(&format!(
        "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT {DB_PRIVILEGES}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION"
    ));
    su.execute(
        "CREATE USER 'their_user'@'%' IDENTIFIED BY 'theirs'; CREATE DATABASE their_db; GRANT ALL ON their_db.* TO 'their_user'@'%'",
    );
    su.execute("CREATE TABLE their_db.payroll (v TEXT); INSERT INTO their_db.payroll VALUES ('x')");
    drop(su);
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    let endpoint = format!("127.0.0.1:{}", server.port);

    // Refused before anything is stored.
    c.tether(&["deploy", MY, "my-bad", "--config", "external-endpoint=nonsense", "--config", &format!("admin-secret={uri}")])
        .assert_one_line_error("external-endpoint must be host:port");
    c.tether(&["deploy", MY, "my-bad", "--config", &format!("external-endpoint={endpoint}")]).assert_one_line_error("go together");
    assert!(!has_app(&c.status(), "my-bad"), "a refused deploy creates no application");

    deploy_adopted(&c, APP, &endpoint, &uri, "my-admin");
    c.ok(&["deploy", "data-integrator", "--config", "database-name=adopted_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let status = c.wait_active(&[APP, "data-integrator"]);
    let (_, message) = unit_words(&status, APP).expect("the unit");
    assert!(message.contains(&endpoint) && message.contains("MariaDB") && message.contains("10.11"), "{message}");
    assert!(!message.contains("dba-secret-pw"));

    // The credentials point at the adopted server and reach their database only.
    let old = integrator_login(&c);
    assert_eq!((old.host.as_str(), old.port), ("127.0.0.1", server.port));
    let mut db = old.session();
    db.execute("CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('before')");
    let (code, _) = db.refused("SELECT v FROM their_db.payroll");
    assert!(code == 1142 || code == 1044, "their_db must be out of reach, got {code}");
    assert_eq!(db.column("SHOW DATABASES"), ["adopted_db", "information_schema"]);
    drop(db);
    let owners = server.session().column(&format!("SELECT owner FROM tether_meta.adopted_users WHERE user = '{}'", old.user));
    assert!(owners.len() == 1 && owners[0].ends_with(&format!("/{APP}")), "{owners:?}");

    // The options are fixed; the server's own users are not tether's to show or change.
    c.tether(&["config", APP, "external-endpoint=127.0.0.1:1"]).assert_one_line_error("fixed at deploy");
    for action in ["set-password", "get-password"] {
        let (_, task) = c.run_action(&format!("{APP}/leader"), action, &["username=root"]);
        assert_eq!(task["status"], "failed", "{task:#}");
        assert!(task["message"].as_str().unwrap_or_default().contains("adopted server"), "{task:#}");
    }

    // remove-relation: the user is refused, the database stays; integrating again issues a new user.
    c.ok(&["remove-relation", "data-integrator", APP]);
    old.wait_denied();
    assert_eq!(count(&server, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'adopted_db'"), 1);
    // The next relation's user name, taken on the server by someone else beforehand: the
    // relation is blocked, never given that user; once it is gone the relation is served.
    let id: i64 = old.user.trim_start_matches("relation-").split('_').next().and_then(|n| n.parse().ok()).expect("relation id");
    let squatter: String = format!("relation-{}_{}", id + 1, c.model_uuid_hex()).chars().take(26).collect();
    server.session().execute(&format!("CREATE USER '{squatter}'@'%' IDENTIFIED BY 'squat'"));
    c.ok(&["integrate", "data-integrator", APP]);
    let blocked = c.wait_unit(APP, "blocked", "is not this application's");
    assert!(blocked.contains(&squatter), "{blocked}");
    assert_eq!(server.login(&squatter, "squat", None).outcome(), LoginOutcome::Accepted, "the squatter is left as it was");
    server.session().execute(&format!("DROP USER '{squatter}'@'%'"));
    c.wait_active(&[APP, "data-integrator"]);
    let old_user = old.user.clone();
    let second = c.wait_credentials_for("data-integrator/leader", "mysql", "a new relation user", |my| my["username"] != old_user.as_str());
    let new = MyLogin::from_credentials(&second);
    assert_eq!(new.session().column("SELECT v FROM kept"), ["before"], "data survives the new user");

    // Issue 16 on an adopted server: a second user with the same grants, owned (in the
    // registry) by this application; the old one is dropped after the grace period.
    c.ok(&["config", APP, "credential-grace-period=3s"]);
    c.action_results(&format!("{APP}/leader"), "rotate-credentials", &["application=data-integrator"]);
    let rotated = MyLogin::from_credentials(
        &c.wait_credentials_for("data-integrator/leader", "mysql", "rotated credentials", |my| my["username"] != new.user.as_str()),
    );
    rotated.session().execute("INSERT INTO kept VALUES ('rotated')");
    new.wait_denied();
    let owners = server.session().column(&format!("SELECT owner FROM tether_meta.adopted_users WHERE user = '{}'", rotated.user));
    assert!(owners.len() == 1 && owners[0].ends_with(&format!("/{APP}")), "{owners:?}");
    assert_eq!(count(&server, &format!("SELECT COUNT(*) FROM tether_meta.adopted_users WHERE user = '{}'", new.user)), 0);
    let new = rotated;

    // Drift repair: a password changed by hand is reset; look-alikes that are not this
    // application's (another application's, or nobody's) are left alone.
    let mut su = server.session();
    su.execute(&format!("SET PASSWORD FOR '{}'@'%' = PASSWORD('changed-by-hand')", new.user));
    su.execute("CREATE USER 'relation-999_aaaa'@'%' IDENTIFIED BY 'x'; CREATE USER 'relation-998_bbbb'@'%' IDENTIFIED BY 'x'");
    su.execute("INSERT INTO tether_meta.adopted_users (user, owner) VALUES ('relation-999_aaaa', 'another-model/another-app')");
    drop(su);
    wait_until("drift repair to restore the password", SETTLE_TIMEOUT, || match new.outcome() {
        LoginOutcome::Accepted => Ok(()),
        other => Err(format!("{other:?}")),
    });
    c.wait_settled(std::time::Duration::from_secs(3), |_| true);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM mysql.user WHERE User IN ('relation-999_aaaa', 'relation-998_bbbb')"), 2);

    // The server going away: waiting, with the endpoint; work queued meanwhile (a
    // relation removed) is done when it answers again.
    server.stop();
    let waiting = c.wait_unit(APP, "waiting", &endpoint);
    assert!(waiting.contains("unreachable") && !waiting.contains("dba-secret-pw"), "{waiting}");
    c.ok(&["remove-relation", "data-integrator", APP]);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, APP, "database").is_empty()));
    server.start_again();
    c.wait_active(&[APP]);
    let users = format!("SELECT COUNT(*) FROM mysql.user WHERE User = '{}'", new.user);
    wait_until("the removed relation's user to be dropped", SETTLE_TIMEOUT, || match count(&server, &users) {
        0 => Ok(()),
        n => Err(format!("{n} left")),
    });
    new.wait_denied();

    // remove-application: the server, its own users and databases, and the data stay.
    c.ok(&["remove-application", APP]);
    c.wait_for("my-ext to be gone", |s| Ok(!has_app(s, APP)));
    assert!(server.pid().is_some(), "the adopted server keeps running");
    assert_eq!(count(&server, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('their_db', 'adopted_db')"), 2);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM mysql.user WHERE User IN ('their_user', 'dba')"), 2);
    assert_eq!(server.login("their_user", "theirs", Some("their_db")).session().column("SELECT v FROM payroll"), ["x"]);
    assert!(
        pids_mentioning(&c.home().display().to_string()).iter().all(|pid| {
            !String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).contains("mariadbd")
        }),
        "tether started no MariaDB server of its own"
    );
}

#[test]
fn an_admin_without_create_user_or_grant_option_blocks_naming_them_and_creates_nothing() {
    let server = ExternalMariaDb::start();
    server.session().execute(&format!("CREATE USER 'weak'@'%' IDENTIFIED BY 'weak-secret-pw'; GRANT {DB_PRIVILEGES} ON *.* TO 'weak'@'%'"));
    let (c, uri) = Controller::for_adoption("my-admin", "weak", "weak-secret-pw");
    deploy_adopted(&c, APP, &format!("127.0.0.1:{}", server.port), &uri, "my-admin");
    c.ok(&["deploy", "data-integrator", "--config", "database-name=weak_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let message = c.wait_unit(APP, "blocked", "CREATE USER and GRANT OPTION");
    assert!(!message.contains("weak-secret-pw") && !message.contains('*'), "no secret nor hash: {message}");
    assert_eq!(count(&server, "SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'relation-%'"), 0);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('weak_db', 'tether_meta')"), 0);

    // Given the privileges, the queued relation is served.
    server.session().execute("GRANT CREATE USER ON *.* TO 'weak'@'%' WITH GRANT OPTION");
    c.wait_active(&[APP, "data-integrator"]);
    assert_eq!(integrator_login(&c).session().column("SELECT DATABASE()"), ["weak_db"]);

    // The admin secret changed by hand, then removed: noticed and reported.
    c.ok(&["update-secret", "my-admin", "username=weak", "password=wrong-by-hand"]);
    let refused = c.wait_unit(APP, "blocked", "admin login was refused");
    assert!(!refused.contains("wrong-by-hand"), "{refused}");
    c.ok(&["remove-secret", "my-admin"]);
    c.wait_unit(APP, "blocked", "cannot be read");
}

#[test]
fn bad_adoption_input_gives_a_clear_status_and_creates_nothing() {
    let pg = ExternalPg::start();
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    // A secret without `password`, an unknown secret, a PostgreSQL server, nobody listening.
    let no_pw = c.ok(&["add-secret", "no-pw", "username=dba"]).stdout.trim().to_string();
    let free = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    deploy_adopted(&c, "my-nopw", &format!("127.0.0.1:{}", pg.port), &no_pw, "no-pw");
    c.ok(&[
        "deploy",
        MY,
        "my-unknown",
        "--config",
        "external-endpoint=127.0.0.1:9",
        "--config",
        "admin-secret=secret:d0esn0texist00000000",
    ]);
    deploy_adopted(&c, "my-pg", &format!("127.0.0.1:{}", pg.port), &uri, "my-admin");
    deploy_adopted(&c, "my-nobody", &format!("127.0.0.1:{free}"), &uri, "my-admin");
    c.wait_unit("my-nopw", "blocked", "needs the keys username and password");
    c.wait_unit("my-unknown", "blocked", "cannot be read");
    let pg_message = c.wait_unit("my-pg", "blocked", "does not answer as a MySQL/MariaDB server");
    assert!(!pg_message.contains("dba-secret-pw"), "{pg_message}");
    let nobody = c.wait_unit("my-nobody", "waiting", &format!("127.0.0.1:{free}"));
    assert!(nobody.contains("unreachable"), "{nobody}");
    // The PostgreSQL server was not touched.
    assert_eq!(pg.session().row("SELECT count(*)::text FROM pg_roles WHERE rolname LIKE 'relation%'"), ["0"]);
}

#[test]
fn rotate_admin_password_gives_the_adopted_mariadb_admin_a_password_only_tether_knows_even_across_a_crash() {
    let server = ExternalMariaDb::start();
    server.session().execute(&format!(
        "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT {DB_PRIVILEGES}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION"
    ));
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    deploy_adopted(&c, APP, &format!("127.0.0.1:{}", server.port), &uri, "my-admin");
    c.ok(&["deploy", "data-integrator", "--config", "database-name=rotated_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    let first = integrator_login(&c);
    let (revision, _) = c.revealed_secret("my-admin");

    let results = c.action_results(&format!("{APP}/leader"), "rotate-admin-password", &[]);
    assert!(!results.to_string().contains("password\":"), "{results:#}");
    let (rotated, content) = c.revealed_secret("my-admin");
    assert!(rotated > revision, "the admin secret gets a new revision ({revision} → {rotated})");
    let new = content["password"].as_str().expect("a password").to_string();
    assert!(new != "dba-secret-pw" && content.get("password-pending").is_none(), "{content:#}");
    assert_eq!(server.login("dba", &new, None).outcome(), LoginOutcome::Accepted);
    assert_my_refused(&server.login("dba", "dba-secret-pw", None));

    // Killed after the server took a newer password, before the hook committed: the
    // restarted controller finds the recorded password and completes the change.
    c.crash_at("hook.rotate-admin-password.after-effects", |c| c.tether(&["run", &format!("{APP}/leader"), "rotate-admin-password"]));
    assert_my_refused(&server.login("dba", &new, None));
    let settled = wait_until("the admin secret to hold the password the server takes", SETTLE_TIMEOUT, || {
        let (_, content) = c.revealed_secret("my-admin");
        let password = content["password"].as_str().unwrap_or_default().to_string();
        match (content.get("password-pending"), server.login("dba", &password, None).outcome()) {
            (None, LoginOutcome::Accepted) => Ok(password),
            other => Err(format!("{other:?}")),
        }
    });
    assert_ne!(settled, new);
    c.wait_active(&[APP]);

    // tether goes on with the new password: a removed relation's user is dropped, a new one issued.
    c.ok(&["remove-relation", "data-integrator", APP]);
    first.wait_denied();
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    let first_user = first.user.clone();
    let again =
        c.wait_credentials_for("data-integrator/leader", "mysql", "a new relation user", |my| my["username"] != first_user.as_str());
    assert_eq!(MyLogin::from_credentials(&again).session().column("SELECT DATABASE()"), ["rotated_db"]);
}

/// The `mariadb` client verifying the server with `ca` (`--ssl-verify-server-cert`): what
/// a requirer does with the published endpoint and `tls-ca`. The session's cipher, or the
/// client's error.
fn mariadb_verified(login: &MyLogin, ca: &std::path::Path) -> Result<String, String> {
    let out = std::process::Command::new("mariadb")
        .arg("--no-defaults")
        .args(["-h", &login.host, "-P", &login.port.to_string(), "-u", &login.user])
        .arg(format!("--ssl-ca={}", ca.display()))
        .args(["--ssl-verify-server-cert", "--connect-timeout=10", "-N", "-e", "SHOW STATUS LIKE 'Ssl_cipher'"])
        .env("MYSQL_PWD", &login.password)
        .output()
        .expect("mariadb");
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("Ssl_cipher").trim().to_string()),
        false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
    }
}

#[test]
fn tls_ca_makes_tether_and_its_requirers_verify_the_adopted_mariadb() {
    let ca = TestCa::new("tether test CA");
    let server = ExternalMariaDb::start_with_tls(&ca);
    // The admin may log in only over TLS: tether's sessions must use it.
    server.session().execute(&format!(
        "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw' REQUIRE SSL; GRANT {DB_PRIVILEGES}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION"
    ));
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    let secret = format!("admin-secret={uri}");
    c.ok(&["deploy", MY, APP, "--config", &endpoint, "--config", &secret, "--config", &format!("tls-ca={}", ca.pem)]);
    c.ok(&["grant-secret", "my-admin", APP]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=tls_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);

    let creds = c.credentials_for("data-integrator/leader", "mysql");
    assert_eq!(creds["tls"], "True", "{creds:#}");
    assert_eq!(creds["tls-ca"].as_str(), Some(ca.pem.as_str()), "{creds:#}");
    let published_ca = std::env::temp_dir().join(format!("tether-published-my-ca-{}.pem", std::process::id()));
    std::fs::write(&published_ca, creds["tls-ca"].as_str().unwrap()).expect("write the published CA");
    let login = MyLogin::from_credentials(&creds);
    let cipher = mariadb_verified(&login, &published_ca).expect("the client verifies the server with the published CA");
    assert!(!cipher.is_empty(), "the session is encrypted");
    let other = TestCa::new("another CA");
    assert!(mariadb_verified(&login, &other.path()).is_err(), "another CA does not vouch for the server");
    std::fs::remove_file(&published_ca).ok();

    // Another application adopting it with the wrong CA: blocked, saying why, nothing created.
    c.ok(&["deploy", MY, "my-wrong", "--config", &endpoint, "--config", &secret, "--config", &format!("tls-ca={}", other.pem)]);
    c.ok(&["grant-secret", "my-admin", "my-wrong"]);
    c.ok(&["deploy", "data-integrator", "di-wrong", "--config", "database-name=wrong_db"]);
    c.ok(&["integrate", "di-wrong", "my-wrong"]);
    let message = c.wait_unit("my-wrong", "blocked", "not trusted with tls-ca");
    assert!(!message.contains("dba-secret-pw") && !message.contains("BEGIN"), "{message}");
    assert_eq!(count(&server, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'wrong_db'"), 0);
    c.wait_active(&[APP]);
}

/// A passive charm (only `metadata.yaml`) in `dir` that requires `db` on the legacy
/// `mysql` interface.
fn legacy_charm(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).expect("create charm dir");
    std::fs::write(path.join("metadata.yaml"), format!("name: {name}\nrequires:\n  db:\n    interface: mysql\n")).expect("write metadata");
    path.to_str().expect("utf-8 path").to_string()
}

#[test]
fn the_legacy_mysql_endpoint_works_on_an_adopted_mariadb_and_mysql_root_stays_blocked() {
    let server = ExternalMariaDb::start();
    server.session().execute(&format!(
        "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT {DB_PRIVILEGES}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION"
    ));
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    let endpoint = format!("127.0.0.1:{}", server.port);
    deploy_adopted(&c, APP, &endpoint, &uri, "my-admin");
    let charms = tempfile::tempdir().expect("tempdir");
    c.ok(&["deploy", &legacy_charm(charms.path(), "legacy-app")]);
    c.ok(&["deploy", &legacy_charm(charms.path(), "legacy-root")]);
    c.wait_active(&[APP, "legacy-app", "legacy-root"]);

    // mysql: the shared user on the adopted server, confined to its database; no root password.
    c.ok(&["integrate", &format!("{APP}:mysql"), "legacy-app"]);
    let bag = c.wait_show_unit("legacy-app/0", "the legacy credentials", |u| {
        let bag = &relation_info(u, "db", "mysql")?["related-units"][format!("{APP}/0")]["data"];
        bag["password"].as_str().is_some().then(|| bag.clone())
    });
    assert_eq!((bag["host"].as_str(), bag["port"].as_str()), (Some("127.0.0.1"), Some(server.port.to_string().as_str())), "{bag:#}");
    assert!(bag.get("root_password").is_none(), "an adopted server's root password is not handed out: {bag:#}");
    let legacy = MyLogin::from_legacy_bag(&bag);
    let mut db = legacy.session();
    db.execute("CREATE TABLE legacy_rows (v TEXT); INSERT INTO legacy_rows VALUES ('legacy')");
    let (code, _) = db.refused("CREATE DATABASE not_mine");
    assert_eq!(code, 1044, "confined to its database");
    drop(db);
    let owners = server.session().column(&format!("SELECT owner FROM tether_meta.adopted_users WHERE user = '{}'", legacy.user));
    assert!(owners.len() == 1 && owners[0].ends_with(&format!("/{APP}")), "{owners:?}");
    c.wait_active(&[APP]);

    // mysql-root stays blocked, saying why; the mysql user survives drift repair.
    c.ok(&["integrate", &format!("{APP}:mysql-root"), "legacy-root"]);
    let blocked = c.wait_unit(APP, "blocked", "mysql-root endpoint is not available on an adopted server");
    assert!(!blocked.contains("dba-secret-pw"), "{blocked}");
    std::thread::sleep(std::time::Duration::from_secs(6)); // a few update-status runs (every 2 s)
    assert_eq!(legacy.session().row("SELECT v FROM legacy_rows"), ["legacy"]);
    c.ok(&["remove-relation", &format!("{APP}:mysql-root"), "legacy-root"]);
    c.wait_active(&[APP]);

    // The endpoint's last relation gone: its user is dropped, the database stays.
    c.ok(&["remove-relation", &format!("{APP}:mysql"), "legacy-app"]);
    legacy.wait_denied();
    let database = legacy.dbname.clone().expect("database");
    assert_eq!(count(&server, &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{database}'")), 1);
}

#[test]
fn a_list_of_endpoints_publishes_the_rest_as_read_only_endpoints() {
    let server = ExternalMariaDb::start();
    server.session().execute(&format!(
        "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT {DB_PRIVILEGES}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION"
    ));
    let (c, uri) = Controller::for_adoption("my-admin", "dba", "dba-secret-pw");
    // tether never connects to a replica: its addresses are only handed on.
    let (primary, replicas) = (format!("127.0.0.1:{}", server.port), "10.0.0.7:3306,replica.example:3307");
    deploy_adopted(&c, APP, &format!("{primary},{replicas}"), &uri, "my-admin");
    c.ok(&["deploy", "data-integrator", "--config", "database-name=listed_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let status = c.wait_active(&[APP, "data-integrator"]);
    let (_, message) = unit_words(&status, APP).expect("the unit");
    assert!(message.contains(&primary) && !message.contains("10.0.0.7"), "the status names the primary: {message}");
    let creds = c.credentials_for("data-integrator/leader", "mysql");
    assert_eq!((creds["endpoints"].as_str(), creds["read-only-endpoints"].as_str()), (Some(primary.as_str()), Some(replicas)), "{creds:#}");
    integrator_login(&c).session();
}
