//! End to end through the CLI, on real PostgreSQL servers: the commands of the PostgreSQL
//! how-to (../shared/seeds/001_*.txt) with `juju` replaced by `tether`, and what the
//! credentials they hand out can and cannot do.

mod common;

use common::*;

const PG: &str = "postgresql-k8s";

/// deploy postgresql-k8s; deploy data-integrator --config database-name=DB; integrate; wait.
fn deploy_integrated(c: &Controller, integrator: &str, database: &str) {
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", integrator, "--config", &format!("database-name={database}")]);
    c.ok(&["integrate", integrator, PG]);
    c.wait_active(&[PG, integrator]);
}

#[test]
fn seed_commands_give_data_integrator_working_postgresql_credentials() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=seed_db"]);
    c.ok(&["integrate", "data-integrator", PG]);
    let status = c.wait_active(&[PG, "data-integrator"]);

    // Juju-3 shaped relations in status (juju-compat.md §A3).
    assert_eq!(related_apps(&status, PG, "database"), ["data-integrator"], "{status:#}");
    assert_eq!(related_apps(&status, "data-integrator", "postgresql"), [PG], "{status:#}");
    assert_eq!(status["applications"][PG]["relations"]["database"][0]["interface"], "postgresql_client", "{status:#}");

    // The seed's command, default output format.
    let plain = c.ok(&["run", "data-integrator/leader", "get-credentials"]);
    assert!(plain.stdout.contains("postgresql") && plain.stdout.contains("relation_id_"), "{plain}");

    let pg = c.postgresql_credentials("data-integrator/leader");
    let user = pg["username"].as_str().unwrap_or_default();
    assert!(is_relation_user(user), "username {user:?} is not relation_id_<n>: {pg:#}");
    let password = pg["password"].as_str().unwrap_or_default();
    assert!(password.len() == 16 && password.chars().all(|ch| ch.is_ascii_alphanumeric()), "password must be 16 letters/digits: {pg:#}");
    assert_eq!(pg["database"], "seed_db");
    let uri = pg["uris"].as_str().unwrap_or_default();
    assert!(uri.starts_with("postgresql://"), "uris: {pg:#}");
    assert!(pg["endpoints"].as_str().is_some_and(|e| !e.is_empty()), "endpoints: {pg:#}");

    let login = PgLogin::from_credentials(&pg);
    let db = login.session();
    assert_eq!(db.row("SELECT current_user, current_database()"), [user, "seed_db"]);
    db.execute("CREATE TABLE seed_check (id int PRIMARY KEY, note text NOT NULL)");
    db.execute("INSERT INTO seed_check VALUES (1, 'from the seed test')");
    assert_eq!(db.row("SELECT note FROM seed_check WHERE id = 1"), ["from the seed test"]);

    // The uri is a working connection string too.
    let by_uri = PgSession::connect_uri(uri).unwrap_or_else(|e| panic!("cannot log in with uris: {e:?}"));
    assert_eq!(by_uri.row("SELECT current_user, count(*)::text FROM seed_check"), [user, "1"]);
}

#[test]
fn app_user_reaches_only_its_own_database_and_is_not_superuser() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", "di-alpha", "--config", "database-name=alpha_db"]);
    c.ok(&["deploy", "data-integrator", "di-beta", "--config", "database-name=beta_db"]);
    c.ok(&["integrate", "di-alpha", PG]);
    // The seed's explicit-endpoint form.
    c.ok(&["integrate", &format!("{PG}:database"), "di-beta"]);
    c.wait_active(&[PG, "di-alpha", "di-beta"]);

    let alpha = PgLogin::from_credentials(&c.postgresql_credentials("di-alpha/leader"));
    let beta = PgLogin::from_credentials(&c.postgresql_credentials("di-beta/leader"));
    assert_ne!(alpha.user, beta.user, "each relation gets its own user");
    assert_eq!((alpha.dbname.as_str(), beta.dbname.as_str()), ("alpha_db", "beta_db"));

    for (own, name) in [(&alpha, "alpha"), (&beta, "beta")] {
        let db = own.session();
        db.execute(&format!("CREATE TABLE {name}_rows (v text); INSERT INTO {name}_rows VALUES ('{name}')"));
        assert_eq!(db.row(&format!("SELECT v FROM {name}_rows")), [name]);
        assert_eq!(
            db.row("SELECT rolsuper::text, rolcreaterole::text FROM pg_roles WHERE rolname = current_user"),
            ["false", "false"],
            "{own:?} must not be a superuser nor create roles"
        );
    }

    let (code, message) = assert_refused(&alpha.with_db("beta_db"));
    assert!(code != "3D000", "beta_db must exist and refuse alpha's user, got {code} {message}");
    let (code, message) = assert_refused(&beta.with_db("alpha_db"));
    assert!(code != "3D000", "alpha_db must exist and refuse beta's user, got {code} {message}");
}

#[test]
fn remove_relation_revokes_user_and_reintegrate_issues_new_one_keeping_data() {
    let c = Controller::bootstrap();
    deploy_integrated(&c, "data-integrator", "rotate_db");
    let first = c.postgresql_credentials("data-integrator/leader");
    let old = PgLogin::from_credentials(&first);
    let db = old.session();
    db.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before rotation')");
    drop(db);

    // The seed's rotation: remove the integration, then integrate again.
    c.ok(&["remove-relation", "data-integrator", PG]);
    // Until the role is gone the server may refuse the database first (42501): wait for
    // the credentials themselves to be refused.
    old.wait_bad_credentials();
    assert_bad_credentials(&old);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, PG, "database").is_empty()));

    c.ok(&["integrate", "data-integrator", PG]);
    c.wait_active(&[PG, "data-integrator"]);
    let old_user = old.user.clone();
    let second = c.wait_postgresql_credentials("data-integrator/leader", "a new relation user", |pg| pg["username"] != old_user.as_str());
    let new = PgLogin::from_credentials(&second);
    assert!(is_relation_user(&new.user), "{second:#}");
    assert_ne!(new.user, old.user);
    assert_ne!(new.password, old.password);
    assert_eq!(new.dbname, "rotate_db");

    let db = new.session();
    assert_eq!(db.row("SELECT v FROM kept"), ["before rotation"], "data written before the rotation is readable");
    db.execute("INSERT INTO kept VALUES ('after rotation')");
    assert_eq!(db.row("SELECT count(*)::text FROM kept"), ["2"]);
    assert_bad_credentials(&old);
}

#[test]
fn operator_password_can_be_read_set_and_randomised() {
    let c = Controller::bootstrap();
    // An integration first, to learn where the server listens.
    deploy_integrated(&c, "di-before", "before_db");
    let app_before = PgLogin::from_credentials(&c.postgresql_credentials("di-before/leader"));
    let operator = |password: &str| app_before.as_user("operator", password).with_db("postgres");

    // get-password: the operator's password by default.
    let initial = c.operator_password(PG);
    assert_eq!(operator(&initial).session().row("SELECT current_user"), ["operator"]);

    // set-password password=X: X works, the old one is refused.
    let chosen = "Chosen0perator7Pw";
    let set = c.action_results(&format!("{PG}/leader"), "set-password", &[&format!("password={chosen}")]);
    assert_eq!(set["password"], chosen, "set-password reports the password it set: {set:#}");
    assert_eq!(operator(chosen).session().row("SELECT current_user"), ["operator"]);
    assert_bad_credentials(&operator(&initial));
    assert_eq!(c.operator_password(PG), chosen);

    // set-password without a password: a fresh random one, reported in the results.
    let random = c.action_results(&format!("{PG}/leader"), "set-password", &[]);
    let random = random["password"].as_str().unwrap_or_else(|| panic!("no password in {random:#}")).to_string();
    assert!(random.len() >= 16 && random != chosen && random != initial, "a fresh random password: {random:?}");
    assert_eq!(operator(&random).session().row("SELECT current_user"), ["operator"]);
    assert_bad_credentials(&operator(chosen));
    assert_eq!(c.operator_password(PG), random);

    // Integrations made after the rotations still work: tether manages the server with
    // the password it now has. The earlier one is untouched.
    c.ok(&["deploy", "data-integrator", "di-after", "--config", "database-name=after_db"]);
    c.ok(&["integrate", "di-after", PG]);
    c.wait_active(&[PG, "di-before", "di-after"]);
    let app_after = PgLogin::from_credentials(&c.postgresql_credentials("di-after/leader"));
    let db = app_after.session();
    db.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (42)");
    assert_eq!(db.row("SELECT v FROM t"), ["42"]);
    assert_eq!(app_before.session().row("SELECT current_database()"), ["before_db"]);
}

#[test]
fn controller_stop_keeps_model_servers_and_credentials() {
    let c = Controller::bootstrap();
    deploy_integrated(&c, "data-integrator", "durable_db");
    let before = c.status();
    let pg = c.postgresql_credentials("data-integrator/leader");
    let login = PgLogin::from_credentials(&pg);
    login.session().execute("CREATE TABLE durable (v text); INSERT INTO durable VALUES ('survives')");

    c.ok(&["controller", "stop"]);
    login.wait_unreachable();

    // Any command brings the controller back and says so on stderr.
    let out = c.tether(&["status", "--format", "json"]);
    assert_eq!(out.code, 0, "{out}");
    let lowered = out.stderr.to_lowercase();
    assert!(lowered.contains("controller") && lowered.contains("start"), "stderr should say a controller was started:\n{out}");
    let after = out.json();
    assert_eq!(after["model"]["name"], before["model"]["name"], "same model");
    assert_eq!(app_names(&after), app_names(&before), "same applications");

    c.wait_active(&[PG, "data-integrator"]);
    let pg_after = c.postgresql_credentials("data-integrator/leader");
    assert_eq!(pg_after["username"], pg["username"], "same user");
    assert_eq!(pg_after["password"], pg["password"], "same password");
    assert_eq!(pg_after["database"], pg["database"]);
    let again = PgLogin::from_credentials(&pg_after);
    // The credentials handed out before the stop still log in, to the same data.
    let db = again.as_user(&login.user, &login.password).session();
    assert_eq!(db.row("SELECT v FROM durable"), ["survives"]);
}

/// Integrations issued at once are served side by side by the provider (relation hooks
/// of different relations run concurrently): every one ends with its own user that logs
/// in to its own database and nobody else's, one of them blocked for a bad request
/// leaves the others active, and removing half of them at once revokes exactly those.
#[test]
fn integrations_issued_at_once_each_get_working_confined_credentials() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    let apps: Vec<String> = (0..8).map(|i| format!("burst{i}")).collect();
    for (i, app) in apps.iter().enumerate() {
        c.ok(&["deploy", "data-integrator", app, "--config", &format!("database-name=burst_db{i}")]);
    }
    c.wait_active(&[PG]);
    std::thread::scope(|s| {
        for app in &apps {
            let c = &c;
            s.spawn(move || c.ok(&["integrate", app, PG]));
        }
    });
    let names: Vec<&str> = apps.iter().map(String::as_str).chain([PG]).collect();
    c.wait_active(&names);

    let creds: Vec<serde_json::Value> = apps.iter().map(|app| c.postgresql_credentials(&format!("{app}/leader"))).collect();
    let users: std::collections::BTreeSet<&str> = creds.iter().map(|pg| pg["username"].as_str().unwrap_or_default()).collect();
    assert_eq!(users.len(), apps.len(), "every integration has its own user: {creds:#?}");
    for (i, pg) in creds.iter().enumerate() {
        let login = PgLogin::from_credentials(pg);
        assert_eq!(login.session().row("SELECT current_database()"), [format!("burst_db{i}")]);
        let other = login.with_db(&format!("burst_db{}", (i + 1) % apps.len()));
        assert!(other.connect().is_err(), "{} reached another application's database", pg["username"]);
    }

    // Half of them removed at once: exactly those users are refused.
    for app in apps.iter().step_by(2) {
        c.ok(&["remove-relation", app, PG]);
    }
    for (i, pg) in creds.iter().enumerate() {
        let login = PgLogin::from_credentials(pg);
        if i % 2 == 0 {
            login.wait_refused();
        } else {
            login.session();
        }
    }
}

const V1_REQUIRER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/v1-requirer");

/// The provider's reply on the requirer's relation: `(resource, uris)` per answered request.
fn v1_replies(c: &Controller, unit: &str) -> Vec<(String, String)> {
    let (code, out, err) = c.probe(unit, "relation-get -r $(relation-ids database) --app --format=json - postgresql-k8s");
    assert_eq!(code, 0, "{err}");
    let bag: serde_json::Value = serde_json::from_str(&out).expect("bag json");
    let replies: Vec<serde_json::Value> = bag["requests"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    replies
        .iter()
        .filter_map(|r| {
            let uri = r["secret-user"].as_str()?;
            let (code, secret, _) = c.probe(unit, &format!("secret-get {uri} --format=json"));
            let secret: serde_json::Value = serde_json::from_str(&secret).ok().filter(|_| code == 0)?;
            Some((r["resource"].as_str()?.to_string(), secret["uris"].as_str()?.to_string()))
        })
        .collect()
}

fn wait_v1_replies(c: &Controller, unit: &str, want: &[&str]) -> Vec<(String, String)> {
    wait_until(&format!("replies for {want:?}"), std::time::Duration::from_secs(60), || {
        let replies = v1_replies(c, unit);
        if replies.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>() == want {
            Ok(replies)
        } else {
            Err(format!("{replies:?}"))
        }
    })
}

/// A v1 requirer (`dpcharmlibs-interfaces`' `requests` list, written by hand here) that asks
/// for two databases in one relation gets a reply for each, both served by the relation's
/// one user; when it withdraws one request, the user loses that database and keeps the other.
#[test]
fn a_v1_requirer_gets_a_reply_per_request_and_loses_a_withdrawn_database() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", V1_REQUIRER, "req"]);
    c.wait_active(&[PG, "req"]);
    c.ok(&["integrate", "req", PG]);
    let set = |requests: &str| {
        let (code, _, err) = c.probe("req/0", &format!("relation-set -r $(relation-ids database) --app version=v1 requests='{requests}'"));
        assert_eq!(code, 0, "{err}");
    };
    set(r#"[{"resource":"v1_a","request-id":"ra","salt":"s1"},{"resource":"v1_b","request-id":"rb","salt":"s2"}]"#);
    let replies = wait_v1_replies(&c, "req/0", &["v1_a", "v1_b"]);
    let users: Vec<String> = replies
        .iter()
        .map(|(db, uri)| {
            let session = PgSession::connect_uri(uri).unwrap_or_else(|e| panic!("login to {db}: {e:?}"));
            assert_eq!(session.row("SELECT current_database()"), std::slice::from_ref(db));
            session.row("SELECT current_user")[0].clone()
        })
        .collect();
    assert_eq!(users[0], users[1], "one user serves both requests");

    set(r#"[{"resource":"v1_a","request-id":"ra","salt":"s1"}]"#);
    wait_v1_replies(&c, "req/0", &["v1_a"]);
    let (_, uri_a) = &replies[0];
    let (_, uri_b) = &replies[1];
    PgSession::connect_uri(uri_a).expect("the kept database still logs in");
    match PgSession::connect_uri(uri_b) {
        Ok(_) => panic!("the withdrawn database must refuse the user"),
        Err(e) => eprintln!("withdrawn database refused the login: {e:?}"),
    }

    // Issue 16: a rotation reaches a v1 requirer as `secret-changed` on the same secret,
    // whose newest revision (`secret-get --refresh`) logs in; the tracked one still works
    // during the grace period.
    c.ok(&["config", PG, "credential-grace-period=300s"]);
    c.action_results(&format!("{PG}/leader"), "rotate-credentials", &["application=req"]);
    wait_until("secret-changed on the v1 requirer", SETTLE_TIMEOUT, || {
        let log = c.ok(&["debug-log", "--replay", "--include", "req/0"]).stdout;
        if log.contains("secret-changed") {
            Ok(())
        } else {
            Err("no secret-changed hook yet".to_string())
        }
    });
    let (code, out, err) = c.probe("req/0", "relation-get -r $(relation-ids database) --app --format=json - postgresql-k8s");
    assert_eq!(code, 0, "{err}");
    let bag: serde_json::Value = serde_json::from_str(&out).expect("bag json");
    let replies: Vec<serde_json::Value> = bag["requests"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let secret = replies[0]["secret-user"].as_str().expect("secret-user").to_string();
    let (code, newest, err) = c.probe("req/0", &format!("secret-get {secret} --refresh --format=json"));
    assert_eq!(code, 0, "{err}");
    let newest: serde_json::Value = serde_json::from_str(&newest).expect("secret json");
    let rotated = PgSession::connect_uri(newest["uris"].as_str().expect("uris")).expect("the rotated login");
    assert_eq!(rotated.row("SELECT session_user")[0], format!("{}_r1", users[0]));
    assert_eq!(rotated.row("SELECT current_user")[0], users[0], "the rotated login acts as the relation's first user");
    PgSession::connect_uri(uri_a).expect("the previous login works during the grace period");
}

/// Issue 16: a v0 requirer that asks for no secrets reads its credentials as databag
/// fields; a rotation rewrites them (relation-changed) and both logins work until the
/// grace period ends.
#[test]
fn a_v0_requirer_without_secrets_sees_rotated_fields_in_the_databag() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG, "--config", "credential-grace-period=4s"]);
    c.ok(&["deploy", V1_REQUIRER, "req"]);
    c.wait_active(&[PG, "req"]);
    c.ok(&["integrate", "req", PG]);
    let (code, _, err) = c.probe("req/0", "relation-set -r $(relation-ids database) --app database=v0_db");
    assert_eq!(code, 0, "{err}");
    let fields = |c: &Controller| -> serde_json::Value {
        let (code, out, err) = c.probe("req/0", "relation-get -r $(relation-ids database) --app --format=json - postgresql-k8s");
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).expect("bag json")
    };
    let login = |bag: &serde_json::Value| {
        let (host, port) = first_endpoint(bag["endpoints"].as_str().expect("endpoints"));
        let field = |k: &str| bag[k].as_str().unwrap_or_else(|| panic!("{k} missing: {bag:#}")).to_string();
        PgLogin { host, port, user: field("username"), password: field("password"), dbname: field("database") }
    };
    let first = wait_until("the v0 answer in the databag", SETTLE_TIMEOUT, || {
        let bag = fields(&c);
        if bag["password"].as_str().is_some() && bag.get("secret-user").is_none() {
            Ok(bag)
        } else {
            Err(format!("{bag:#}"))
        }
    });
    let old = login(&first);
    old.session();
    c.action_results(&format!("{PG}/leader"), "rotate-credentials", &["application=req"]);
    let rotated = wait_until("the rotated fields in the databag", SETTLE_TIMEOUT, || {
        let bag = fields(&c);
        if bag["username"].as_str().is_some_and(|u| u != old.user) {
            Ok(bag)
        } else {
            Err(format!("{bag:#}"))
        }
    });
    let new = login(&rotated);
    assert_eq!(new.user, format!("{}_r1", old.user));
    new.session();
    old.wait_bad_credentials();
    new.session();
}
