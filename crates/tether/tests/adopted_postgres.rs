//! Adopt mode of postgresql-k8s, end to end through the CLI: a PostgreSQL server started
//! outside tether ([`ExternalPg`]) is managed as a non-superuser admin with `CREATEROLE`
//! and `CREATEDB` only; tether starts no server of its own, issues and revokes relation
//! users there, and never touches the server's own users, databases or process.

mod common;

use common::*;

const PG: &str = "postgresql-k8s";
const APP: &str = "pg-ext";

fn deploy_adopted(c: &Controller, server: &ExternalPg, uri: &str) {
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    c.ok(&["deploy", PG, APP, "--config", &endpoint, "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", "pg-admin", APP]);
}

#[test]
fn seed_flow_on_an_adopted_server_with_a_createrole_createdb_admin() {
    let server = ExternalPg::start();
    let su = server.session();
    su.execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    su.execute("CREATE ROLE their_user LOGIN PASSWORD 'theirs'");
    su.execute("CREATE DATABASE their_db OWNER their_user");
    drop(su);
    server.login("their_user", "theirs", "their_db").session().execute("CREATE TABLE payroll (v text); INSERT INTO payroll VALUES ('x')");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");

    // Refused before anything is stored: not host:port, a list, an option alone.
    let bad = c.tether(&["deploy", PG, "pg-bad", "--config", "external-endpoint=nonsense", "--config", &format!("admin-secret={uri}")]);
    bad.assert_one_line_error("external-endpoint must be host:port");
    for (list, refusal) in [
        (format!("127.0.0.1:{0},127.0.0.1:{0}", server.port), "more than once"),
        (format!("127.0.0.1:{},", server.port), "empty element"),
        (format!("127.0.0.1:{},replica", server.port), "must be host:port"),
    ] {
        let option = format!("external-endpoint={list}");
        c.tether(&["deploy", PG, "pg-bad", "--config", &option, "--config", &format!("admin-secret={uri}")]).assert_one_line_error(refusal);
    }
    assert!(!has_app(&c.status(), "pg-bad"), "a refused deploy creates no application");

    deploy_adopted(&c, &server, &uri);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=adopted_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let status = c.wait_active(&[APP, "data-integrator"]);
    let (_, message) = unit_words(&status, APP).expect("the unit");
    assert!(message.contains(&format!("127.0.0.1:{}", server.port)) && message.contains("PostgreSQL 15"), "{message}");
    assert!(!message.contains("dba-secret-pw"));

    // The credentials point at the adopted server and are confined to their database.
    let first = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(first["endpoints"], format!("127.0.0.1:{}", server.port), "{first:#}");
    let old = PgLogin::from_credentials(&first);
    let db = old.session();
    assert_eq!(db.row("SELECT current_database(), rolsuper::text FROM pg_roles WHERE rolname = current_user"), ["adopted_db", "false"]);
    db.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')");
    drop(db);
    // tether's database refuses the server's other users; the server's own databases
    // (open to PUBLIC as their owner left them) give the relation user nothing.
    assert_refused(&server.login("their_user", "theirs", "adopted_db"));
    let theirs = old.with_db("their_db").session();
    let denied = theirs.try_query("SELECT v FROM payroll").expect_err("payroll must be out of reach");
    assert_eq!(denied.code().map(|c| c.code()), Some("42501"), "{denied:?}");

    // The options are fixed; set-password never touches the server's users.
    c.tether(&["config", APP, "external-endpoint=127.0.0.1:1"]).assert_one_line_error("fixed at deploy");
    let (_, task) = c.run_action(&format!("{APP}/leader"), "set-password", &["username=operator"]);
    assert_eq!(task["status"], "failed", "{task:#}");
    assert!(task["message"].as_str().unwrap_or_default().contains("adopted server"), "{task:#}");

    // remove-relation: the user is refused, the database stays; integrating again issues a new user.
    c.ok(&["remove-relation", "data-integrator", APP]);
    old.wait_bad_credentials();
    assert!(server.exists("SELECT 1 FROM pg_database WHERE datname = 'adopted_db'"));
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    let old_user = old.user.clone();
    let second = c.wait_postgresql_credentials("data-integrator/leader", "a new relation user", |pg| pg["username"] != old_user.as_str());
    let new = PgLogin::from_credentials(&second);
    assert_eq!(new.session().row("SELECT v FROM kept"), ["before"], "data survives the new user");

    // Issue 16 on an adopted server (an admin with CREATEROLE only): the rotated login acts
    // as the first user; the old one loses its login when the grace period ends.
    c.ok(&["config", APP, "credential-grace-period=3s"]);
    c.action_results(&format!("{APP}/leader"), "rotate-credentials", &["application=data-integrator"]);
    let rotated = PgLogin::from_credentials(&c.wait_postgresql_credentials("data-integrator/leader", "rotated credentials", |pg| {
        pg["username"].as_str().is_some_and(|u| u != new.user)
    }));
    let s = rotated.session();
    assert_eq!(s.row("SELECT session_user, current_user"), [rotated.user.as_str(), new.user.as_str()]);
    s.execute("INSERT INTO kept VALUES ('rotated')");
    drop(s);
    new.wait_bad_credentials();
    assert!(
        server.exists(&format!("SELECT 1 FROM pg_roles WHERE rolname = '{}' AND NOT rolcanlogin", new.user)),
        "the first user stays as owner"
    );
    let new = rotated;

    // Drift repair: a password changed by hand is reset; a look-alike marked by another
    // tether (another application adopting this server) is not this one's to sweep.
    let su = server.session();
    su.execute("CREATE ROLE relation_id_999 LOGIN PASSWORD 'other'");
    su.execute("COMMENT ON ROLE relation_id_999 IS 'managed by tether'");
    su.execute(&format!("ALTER ROLE \"{}\" PASSWORD 'changed-by-hand'", new.user));
    drop(su);
    wait_until("drift repair to restore the password", SETTLE_TIMEOUT, || match new.outcome() {
        LoginOutcome::Accepted => Ok(()),
        other => Err(format!("{other:?}")),
    });
    assert!(server.exists("SELECT 1 FROM pg_roles WHERE rolname = 'relation_id_999'"), "another application's user survives");

    // The server going away: waiting, with the endpoint; back: active again.
    server.stop();
    let waiting = c.wait_unit(APP, "waiting", &format!("127.0.0.1:{}", server.port));
    assert!(waiting.contains("unreachable") && !waiting.contains("dba-secret-pw"), "{waiting}");
    // Work queued while it is away is done when it answers: a relation removed meanwhile
    // loses its user.
    c.ok(&["remove-relation", "data-integrator", APP]);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, APP, "database").is_empty()));
    server.start_again();
    c.wait_active(&[APP]);
    new.wait_bad_credentials();

    // remove-application: the server, its own users and databases, and the data stay.
    c.ok(&["remove-application", APP]);
    c.wait_for("pg-ext to be gone", |s| Ok(!has_app(s, APP)));
    assert!(server.pid().is_some(), "the adopted server keeps running");
    for sql in [
        "SELECT 1 FROM pg_database WHERE datname = 'their_db'",
        "SELECT 1 FROM pg_database WHERE datname = 'adopted_db'",
        "SELECT 1 FROM pg_roles WHERE rolname = 'their_user'",
        "SELECT 1 FROM pg_roles WHERE rolname = 'dba'",
    ] {
        assert!(server.exists(sql), "{sql} after remove-application");
    }
    assert!(
        pids_mentioning(&c.home().display().to_string()).iter().all(|pid| {
            !String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).contains("postgres")
        }),
        "tether started no PostgreSQL server of its own"
    );
}

#[test]
fn an_admin_without_createrole_blocks_naming_it_and_creates_nothing() {
    let server = ExternalPg::start();
    server.session().execute("CREATE ROLE weak LOGIN CREATEDB PASSWORD 'weak-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "weak", "weak-secret-pw");
    deploy_adopted(&c, &server, &uri);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=weak_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let message = c.wait_unit(APP, "blocked", "CREATEROLE");
    assert!(!message.contains("CREATEDB") && !message.contains("weak-secret-pw"), "{message}");
    assert!(!server.exists("SELECT 1 FROM pg_roles WHERE rolname LIKE 'relation\\_id\\_%' OR rolname = 'relation_access'"));
    assert!(!server.exists("SELECT 1 FROM pg_database WHERE datname = 'weak_db'"));

    // Given the privilege, the queued relation is served.
    server.session().execute("ALTER ROLE weak CREATEROLE");
    c.wait_active(&[APP, "data-integrator"]);
    PgLogin::from_credentials(&c.postgresql_credentials("data-integrator/leader")).session();

    // add-unit gives an adopted server no replicas: the added unit says it runs nothing
    // and starts nothing (no Patroni cluster is formed); removed, the application is active.
    c.ok(&["add-unit", APP]);
    let extra = format!("{APP}/1");
    c.wait_for("the added unit blocked, saying it runs nothing", |s| {
        Ok(workload_words(s, APP)
            .iter()
            .any(|(u, w, m)| *u == extra && w == "blocked" && m.contains("an adopted server gets no replicas from add-unit")))
    });
    let started: Vec<String> = pids_mentioning(&c.home().display().to_string())
        .iter()
        .map(|pid| String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).into_owned())
        .filter(|cmd| ["postgres", "patroni", "etcd"].iter().any(|p| cmd.contains(p)))
        .collect();
    assert!(started.is_empty(), "tether started no server, Patroni or etcd: {started:?}");
    c.ok(&["remove-unit", &extra]);
    c.wait_active(&[APP]);

    // The admin secret changed by hand, then removed: noticed and reported.
    c.ok(&["update-secret", "pg-admin", "username=weak", "password=wrong-by-hand"]);
    let refused = c.wait_unit(APP, "blocked", "admin login was refused");
    assert!(!refused.contains("wrong-by-hand"), "{refused}");
    c.ok(&["remove-secret", "pg-admin"]);
    c.wait_unit(APP, "blocked", "cannot be read");
}

#[test]
fn rotate_admin_password_gives_the_adopted_admin_a_password_only_tether_knows_even_across_a_crash() {
    let server = ExternalPg::start();
    server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");
    deploy_adopted(&c, &server, &uri);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=rotated_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    let (revision, _) = c.revealed_secret("pg-admin");

    // Only on an adopted server, and the password is never shown.
    let results = c.action_results(&format!("{APP}/leader"), "rotate-admin-password", &[]);
    assert!(!results.to_string().contains("password\":"), "{results:#}");
    let (rotated, content) = c.revealed_secret("pg-admin");
    assert!(rotated > revision, "the admin secret gets a new revision ({revision} → {rotated})");
    let new = content["password"].as_str().expect("a password").to_string();
    assert!(new != "dba-secret-pw" && content.get("password-pending").is_none(), "{content:#}");
    assert!(matches!(server.login("dba", "dba-secret-pw", "postgres").outcome(), LoginOutcome::BadCredentials(_)));
    assert_eq!(server.login("dba", &new, "postgres").outcome(), LoginOutcome::Accepted);

    // Killed after the server took a newer password, before the hook committed: the
    // restarted controller finds the recorded password and completes the change.
    c.crash_at("hook.rotate-admin-password.after-effects", |c| c.tether(&["run", &format!("{APP}/leader"), "rotate-admin-password"]));
    assert!(
        matches!(server.login("dba", &new, "postgres").outcome(), LoginOutcome::BadCredentials(_)),
        "the server took the newer password before the crash"
    );
    let settled = wait_until("the admin secret to hold the password the server takes", SETTLE_TIMEOUT, || {
        let (_, content) = c.revealed_secret("pg-admin");
        if content.get("password-pending").is_some() {
            return Err("a rotation is still recorded as in flight".to_string());
        }
        let password = content["password"].as_str().unwrap_or_default().to_string();
        match server.login("dba", &password, "postgres").outcome() {
            LoginOutcome::Accepted => Ok(password),
            other => Err(format!("{other:?}")),
        }
    });
    assert_ne!(settled, new);
    c.wait_active(&[APP]);
    // tether works with it: a new relation gets a user that logs in.
    c.ok(&["remove-relation", "data-integrator", APP]);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, APP, "database").is_empty()));
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    PgLogin::from_credentials(&c.postgresql_credentials("data-integrator/leader")).session();
}

/// `psql` (libpq) with `sslmode=verify-full` and the published CA: what a requirer does
/// with `uris` and `tls-ca`. Returns whether the session is encrypted, or libpq's error.
fn psql_verify_full(uri: &str, ca: &std::path::Path) -> Result<String, String> {
    assert!(uri.ends_with("?sslmode=verify-full"), "the published uri asks for verify-full: {uri:.20}...");
    let full = format!("{uri}&sslrootcert={}", ca.display());
    let out = std::process::Command::new("psql")
        .args([&full, "-XtAc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
    }
}

#[test]
fn tls_ca_makes_tether_and_its_requirers_verify_the_adopted_server() {
    let ca = TestCa::new("tether test CA");
    let server = ExternalPg::start_with_tls(&ca);
    // The admin may log in only over TLS (hostssl): tether's connections must use it.
    server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");

    // A tls-ca that is not PEM certificates, or one without an endpoint: refused at deploy.
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    let secret = format!("admin-secret={uri}");
    c.tether(&["deploy", PG, "pg-bad", "--config", &endpoint, "--config", &secret, "--config", "tls-ca=not a certificate"])
        .assert_one_line_error("tls-ca");
    c.tether(&["deploy", PG, "pg-bad", "--config", &format!("tls-ca={}", ca.pem)]).assert_one_line_error("tls-ca is for an adopted server");
    assert!(!has_app(&c.status(), "pg-bad"), "a refused deploy creates no application");

    c.ok(&["deploy", PG, APP, "--config", &endpoint, "--config", &secret, "--config", &format!("tls-ca={}", ca.pem)]);
    c.ok(&["grant-secret", "pg-admin", APP]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=tls_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);

    // Published: tls, the CA (through the tls secret), and uris asking for verify-full.
    let creds = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(creds["tls"], "True", "{creds:#}");
    assert_eq!(creds["tls-ca"].as_str(), Some(ca.pem.as_str()), "{creds:#}");
    let bag = c.show_unit("data-integrator/0").to_string();
    assert!(bag.contains("secret-tls"), "the CA travels in the tls secret: {bag}");
    let uris = creds["uris"].as_str().expect("uris");
    let published_ca = std::env::temp_dir().join(format!("tether-published-ca-{}.pem", std::process::id()));
    std::fs::write(&published_ca, creds["tls-ca"].as_str().unwrap()).expect("write the published CA");
    assert_eq!(psql_verify_full(uris, &published_ca), Ok("t".to_string()), "libpq verifies the server with the published CA");
    // Another CA does not vouch for the server: libpq refuses, as tether would.
    let other = TestCa::new("another CA");
    assert!(psql_verify_full(uris, &other.path()).is_err());
    std::fs::remove_file(&published_ca).ok();

    // An application adopting the same server with the wrong CA: blocked, saying why,
    // and nothing created for its relation.
    c.ok(&["deploy", PG, "pg-wrong", "--config", &endpoint, "--config", &secret, "--config", &format!("tls-ca={}", other.pem)]);
    c.ok(&["grant-secret", "pg-admin", "pg-wrong"]);
    c.ok(&["deploy", "data-integrator", "di-wrong", "--config", "database-name=wrong_db"]);
    c.ok(&["integrate", "di-wrong", "pg-wrong"]);
    let message = c.wait_unit("pg-wrong", "blocked", "not trusted with tls-ca");
    assert!(!message.contains("dba-secret-pw") && !message.contains("BEGIN"), "{message}");
    assert!(!server.exists("SELECT 1 FROM pg_database WHERE datname = 'wrong_db'"));
    // The first application is unaffected.
    c.wait_active(&[APP]);

    // Without tls-ca tether does not encrypt: a server that takes only TLS refuses it,
    // and the unit says what to do rather than wait.
    c.ok(&["deploy", PG, "pg-notls", "--config", &endpoint, "--config", &secret]);
    c.ok(&["grant-secret", "pg-admin", "pg-notls"]);
    let message = c.wait_unit("pg-notls", "blocked", "needs tls-ca");
    assert!(!message.contains("dba-secret-pw"), "{message}");
}

#[test]
fn tls_ca_on_a_server_without_tls_blocks_saying_so() {
    let server = ExternalPg::start();
    server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");
    let ca = TestCa::new("unused CA");
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    c.ok(&[
        "deploy",
        PG,
        APP,
        "--config",
        &endpoint,
        "--config",
        &format!("admin-secret={uri}"),
        "--config",
        &format!("tls-ca={}", ca.pem),
    ]);
    c.ok(&["grant-secret", "pg-admin", APP]);
    c.wait_unit(APP, "blocked", "does not offer TLS, but tls-ca is set");

    // Without tls-ca, a server that offers no TLS is published as such.
    c.ok(&["deploy", PG, "pg-plain", "--config", &endpoint, "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", "pg-admin", "pg-plain"]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=plain_db"]);
    c.ok(&["integrate", "data-integrator", "pg-plain"]);
    c.wait_active(&["pg-plain", "data-integrator"]);
    let creds = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(creds["tls"], "False", "{creds:#}");
    assert!(creds.get("tls-ca").is_none() && !creds["uris"].as_str().unwrap_or_default().contains("sslmode"), "{creds:#}");
}

#[test]
fn a_list_of_endpoints_adopts_the_first_and_hands_out_the_rest_as_read_only_replicas() {
    let primary = ExternalPg::start();
    primary.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let replica = primary.start_replica();
    assert_eq!(replica.session().row("SELECT pg_is_in_recovery()::text"), ["true"], "a hot standby");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");
    let (first, second) = (format!("127.0.0.1:{}", primary.port), format!("127.0.0.1:{}", replica.port));
    let endpoint = format!("external-endpoint={first},{second}");
    c.ok(&["deploy", PG, APP, "--config", &endpoint, "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", "pg-admin", APP]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=listed_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let status = c.wait_active(&[APP, "data-integrator"]);
    let (_, message) = unit_words(&status, APP).expect("the unit");
    assert!(message.contains(&first) && !message.contains(&second), "the status names the primary: {message}");

    // endpoints: the primary; read-only-endpoints and read-only-uris: the replica.
    let creds = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(creds["endpoints"], first.as_str(), "{creds:#}");
    assert_eq!(creds["read-only-endpoints"], second.as_str(), "{creds:#}");
    let ro_uri = creds["read-only-uris"].as_str().expect("read-only-uris");
    assert!(ro_uri.contains(&format!("@{second}/listed_db")), "read-only-uris name the replica");
    let writer = PgLogin::from_credentials(&creds);
    writer.session().execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('written on the primary')");

    // The user reached the replica by replication: it logs in there, reads, cannot write.
    let reader = PgLogin { port: replica.port, ..writer.clone() };
    let row = wait_until("the relation user and its data to reach the replica", SETTLE_TIMEOUT, || {
        let s = reader.connect().map_err(|e| format!("{e:?}"))?;
        s.try_query("SELECT v FROM t").map_err(|e| format!("{e:?}")).map(|rows| rows.len())
    });
    assert_eq!(row, 1);
    let s = reader.session();
    assert_eq!(s.row("SELECT pg_is_in_recovery()::text"), ["true"]);
    let refused = s.try_query("INSERT INTO t VALUES ('on the replica')").expect_err("a replica is read-only");
    assert_eq!(refused.code().map(|c| c.code()), Some("25006"), "{refused:?}");
    // The role is there by replication only (a standby takes no CREATE ROLE).
    assert!(replica.exists(&format!("SELECT 1 FROM pg_roles WHERE rolname = '{}'", writer.user)));

    // A v1 requirer's reply says the same.
    c.ok(&["deploy", V1_REQUIRER, "req"]);
    c.ok(&["integrate", "req", APP]);
    c.wait_active(&["req"]);
    let (code, _, err) = c.probe(
        "req/0",
        r#"relation-set -r $(relation-ids database) --app version=v1 requests='[{"resource":"v1_db","request-id":"r1","salt":"s1"}]'"#,
    );
    assert_eq!(code, 0, "{err}");
    let reply = wait_until("the v1 reply", SETTLE_TIMEOUT, || {
        let (code, out, err) = c.probe("req/0", &format!("relation-get -r $(relation-ids database) --app --format=json - {APP}"));
        let bag: serde_json::Value = serde_json::from_str(&out).map_err(|e| format!("{code} {err} {e}"))?;
        let replies: Vec<serde_json::Value> = bag["requests"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
        replies.into_iter().find(|r| r.get("secret-user").is_some()).ok_or_else(|| format!("{bag}"))
    });
    assert_eq!(
        (reply["endpoints"].as_str(), reply["read-only-endpoints"].as_str()),
        (Some(first.as_str()), Some(second.as_str())),
        "{reply}"
    );
}

const V1_REQUIRER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/v1-requirer");
