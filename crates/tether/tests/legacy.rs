//! The legacy endpoints end to end, with local passive charms (a directory holding only
//! `metadata.yaml`): mysql-k8s's `mysql` and `mysql-root` (charm-protocol.md §4.5, the
//! MySQL how-to's legacy commands) and postgresql-k8s's `db` and `db-admin` (§3.5, the
//! PostgreSQL how-to's `mattermost-k8s` example). The credentials are read the way a user
//! would, from `tether show-unit`, and proved on the real servers.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

const MY: &str = "mysql-k8s";
const PG: &str = "postgresql-k8s";

/// Writes a passive charm `<dir>/<name>/metadata.yaml` that requires `db` on `interface`.
fn passive_charm(dir: &Path, name: &str, interface: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(&path).expect("create charm dir");
    fs::write(path.join("metadata.yaml"), format!("name: {name}\nrequires:\n  db:\n    interface: {interface}\n")).expect("write metadata");
    path
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Waits until the unit `unit` sees, on its `endpoint` related to `related_endpoint`, a
/// `password` in `related_unit`'s databag, and returns that databag.
fn wait_legacy_unit_bag(c: &Controller, unit: &str, related_endpoint: &str, related_unit: &str) -> Value {
    c.wait_show_unit(unit, &format!("{related_unit}'s credentials in {unit}'s show-unit"), |u| {
        let bag = &relation_info(u, "db", related_endpoint)?["related-units"][related_unit]["data"];
        bag["password"].as_str().is_some().then(|| bag.clone())
    })
}

fn the_relation_id(c: &Controller, unit: &str, related_endpoint: &str) -> u64 {
    let u = c.show_unit(unit);
    relation_info(&u, "db", related_endpoint).and_then(|r| r["relation-id"].as_u64()).unwrap_or_else(|| panic!("no relation-id: {u:#}"))
}

fn mysql_status_word(status: &Value) -> (String, String) {
    let (_, word, message) = workload_words(status, MY).into_iter().next().unwrap_or_default();
    (word, message)
}

const BLOCKED_TEXT: &str = "Remove and re-relate `mysql` relations in order to change config";

#[test]
fn mysql_and_mysql_root_give_a_passive_charm_working_shared_credentials() {
    let charms = tempfile::tempdir().expect("tempdir");
    let app = passive_charm(charms.path(), "legacy-app", "mysql");
    let two = passive_charm(charms.path(), "legacy-two", "mysql");
    let root_app = passive_charm(charms.path(), "legacy-root", "mysql");

    let c = Controller::bootstrap();
    c.ok(&["deploy", MY]);
    for p in [&app, &two, &root_app] {
        let out = c.ok(&["deploy", path_arg(p)]);
        assert!(out.stderr.contains("local charm") || out.stdout.contains("local charm"), "{out}");
    }
    // A charm with only metadata is a passive application: active before any relation.
    c.wait_active(&[MY, "legacy-app", "legacy-two", "legacy-root"]);

    // The seed's legacy commands.
    c.ok(&["integrate", "mysql-k8s:mysql", "legacy-app"]);
    c.ok(&["integrate", "mysql-k8s:mysql-root", "legacy-root"]);
    let status = c.wait_active(&[MY, "legacy-app", "legacy-root"]);
    assert_eq!(related_apps(&status, MY, "mysql"), ["legacy-app"], "{status:#}");
    assert_eq!(related_apps(&status, MY, "mysql-root"), ["legacy-root"], "{status:#}");
    assert_eq!(status["applications"][MY]["relations"]["mysql"][0]["interface"], "mysql", "{status:#}");

    // mysql: §4.5's unit-databag keys, read from show-unit.
    let bag = wait_legacy_unit_bag(&c, "legacy-app/0", "mysql", "mysql-k8s/0");
    for key in ["database", "host", "port", "user", "password", "root_password"] {
        assert!(bag[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing: {bag:#}");
    }
    let id = the_relation_id(&c, "legacy-app/0", "mysql");
    assert_eq!(bag["user"], format!("relation-{id}"), "named after the first relation: {bag:#}");
    assert_eq!(bag["database"], format!("database-{id}"), "named after the first relation: {bag:#}");
    let legacy = MyLogin::from_legacy_bag(&bag);
    let dbname = legacy.dbname.clone().expect("database");
    let mut db = legacy.session();
    db.execute("CREATE TABLE legacy_rows (v TEXT); INSERT INTO legacy_rows VALUES ('legacy')");
    assert_eq!(db.row("SELECT v FROM legacy_rows"), ["legacy"]);
    // Confined to its database.
    let (code, message) = db.refused("CREATE DATABASE not_mine");
    assert_eq!(code, 1044, "a mysql user creating a database: {code} {message}");
    let (code, message) = db.refused("SELECT user FROM mysql.user");
    assert!(code == 1142 || code == 1044, "a mysql user reading mysql.user: {code} {message}");
    assert!(!db.column("SHOW DATABASES").iter().any(|d| d == "mysql"), "sees only its own");
    drop(db);

    // root_password is the charm's root password.
    let root_password = bag["root_password"].as_str().unwrap_or_default().to_string();
    let got = c.action_results("mysql-k8s/leader", "get-password", &[]);
    assert_eq!(got["password"], root_password.as_str(), "root_password is root's: {got:#}");
    legacy.as_user("root", &root_password).with_db(None).session().row("SELECT 1");

    // A second relation on `mysql` shares the endpoint's user and database (§4.5).
    c.ok(&["integrate", "mysql-k8s:mysql", "legacy-two"]);
    let bag_two = wait_legacy_unit_bag(&c, "legacy-two/0", "mysql", "mysql-k8s/0");
    for key in ["user", "password", "database"] {
        assert_eq!(bag_two[key], bag[key], "{key} is shared by the endpoint's relations");
    }

    // mysql-root: extended permissions, may create databases and read the others.
    let root_bag = wait_legacy_unit_bag(&c, "legacy-root/0", "mysql-root", "mysql-k8s/0");
    for key in ["database", "host", "port", "user", "password", "root_password"] {
        assert!(root_bag[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing: {root_bag:#}");
    }
    assert_ne!(root_bag["user"], bag["user"], "each endpoint has its own user");
    let root_login = MyLogin::from_legacy_bag(&root_bag);
    let mut rdb = root_login.session();
    rdb.execute("CREATE TABLE own (v INT); INSERT INTO own VALUES (7)");
    rdb.execute("CREATE DATABASE made_by_root_user");
    rdb.execute("CREATE TABLE made_by_root_user.t (v INT); INSERT INTO made_by_root_user.t VALUES (1)");
    assert_eq!(rdb.row("SELECT COUNT(*) FROM made_by_root_user.t"), ["1"]);
    assert_eq!(rdb.row(&format!("SELECT v FROM `{dbname}`.legacy_rows")), ["legacy"], "mysql-root reads every database");
    drop(rdb);

    // Changing the legacy names while related blocks mysql-k8s with §4.5's text; changing
    // them back unblocks it.
    for key in ["mysql-interface-user", "mysql-root-interface-database"] {
        c.ok(&["config", MY, &format!("{key}=renamed")]);
        c.wait_for(&format!("{MY} to be blocked after {key} changed"), |s| {
            let (word, message) = mysql_status_word(s);
            Ok(word == "blocked" && message == BLOCKED_TEXT)
        });
        c.ok(&["config", MY, "--reset", key]);
        c.wait_active(&[MY]);
    }
    legacy.session().row("SELECT 1");

    // Hostile values in the four options are refused with one ERROR line; nothing changes.
    let before = c.ok(&["config", MY, "--format", "json"]).json()["settings"].clone();
    let long = "x".repeat(100);
    let hostile = ["a'b", "x;y", "a`b", "x y", "a\nb", "tab\there", "bob@host", "db.name", "%", "a\"b", "a\\b", long.as_str(), "d\u{7f}"];
    for key in ["mysql-interface-user", "mysql-interface-database", "mysql-root-interface-user", "mysql-root-interface-database"] {
        for value in hostile {
            let out = c.tether(&["config", MY, &format!("{key}={value}")]);
            out.assert_one_line_error("");
            // Canonical's message where the charm has one, tether's own otherwise.
            let known = ["not valid", "User name constrained to 32 characters", "Database name cannot contain slashes"];
            assert!(known.iter().any(|k| out.stderr.contains(k)), "{out}");
        }
    }
    let after = c.ok(&["config", MY, "--format", "json"]).json()["settings"].clone();
    assert_eq!(after, before, "refused values left the config as it was");
    let status = c.wait_active(&[MY]);
    assert_eq!(related_apps(&status, MY, "mysql"), ["legacy-app", "legacy-two"], "{status:#}");

    // The endpoint's user goes only with its last relation; the database stays.
    c.ok(&["remove-relation", MY, "legacy-app"]);
    c.wait_for("legacy-app's relation to be gone", |s| Ok(related_apps(s, MY, "mysql") == ["legacy-two"]));
    legacy.session().row("SELECT 1");
    c.ok(&["remove-relation", MY, "legacy-two"]);
    let (code, message) = legacy.wait_denied();
    assert_eq!(code, 1045, "the shared user is gone with the last relation: {message}");
    let mut admin = legacy.as_user("root", &root_password).with_db(None).session();
    assert_eq!(admin.row(&format!("SELECT v FROM `{dbname}`.legacy_rows")), ["legacy"], "the database stays");
}

/// The login a legacy `pgsql` databag's `master` (a libpq key=value string) describes.
fn pg_login_from_master(master: &str) -> PgLogin {
    let mut login = PgLogin { host: String::new(), port: 0, user: String::new(), password: String::new(), dbname: String::new() };
    for pair in master.split_whitespace() {
        let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("master {master:?}: {pair:?} is not key=value"));
        match k {
            "host" => login.host = v.to_string(),
            "port" => login.port = v.parse().unwrap_or_else(|_| panic!("master port {v:?}")),
            "user" => login.user = v.to_string(),
            "password" => login.password = v.to_string(),
            "dbname" => login.dbname = v.to_string(),
            _ => {}
        }
    }
    assert!(!login.host.is_empty() && login.port != 0 && !login.user.is_empty() && !login.password.is_empty(), "master {master:?}");
    login
}

/// Waits for the `pgsql` keys in postgresql-k8s's application databag, as mattermost-k8s/0
/// sees them in show-unit, whose `user` is not `not_user`; checks that the leader unit's
/// databag holds the same; returns the application databag.
fn wait_pgsql_bag(c: &Controller, related_endpoint: &str, not_user: Option<&str>) -> Value {
    c.wait_show_unit("mattermost-k8s/0", &format!("{related_endpoint} credentials"), |u| {
        let rel = relation_info(u, "db", related_endpoint)?;
        let app = &rel["application-data"];
        let user = app["user"].as_str()?;
        if Some(user) == not_user || app["master"].as_str().is_none() {
            return None;
        }
        let unit = &rel["related-units"]["postgresql-k8s/0"]["data"];
        for key in ["master", "user", "password", "database", "host", "port"] {
            if unit[key] != app[key] {
                return None;
            }
        }
        Some(app.clone())
    })
}

#[test]
fn postgresql_db_and_db_admin_with_a_passive_mattermost() {
    let charms = tempfile::tempdir().expect("tempdir");
    let mattermost = passive_charm(charms.path(), "mattermost-k8s", "pgsql");

    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", path_arg(&mattermost)]);
    c.wait_active(&[PG, "mattermost-k8s"]);

    // The seed: integrate postgresql-k8s:db mattermost-k8s:db.
    c.ok(&["integrate", "postgresql-k8s:db", "mattermost-k8s:db"]);
    let status = c.wait_active(&[PG, "mattermost-k8s"]);
    assert_eq!(related_apps(&status, PG, "db"), ["mattermost-k8s"], "{status:#}");
    assert_eq!(status["applications"][PG]["relations"]["db"][0]["interface"], "pgsql", "{status:#}");
    let bag = wait_pgsql_bag(&c, "db", None);
    for key in ["master", "standbys", "host", "port", "user", "password", "database", "allowed-units", "version"] {
        assert!(bag[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing: {bag:#}");
    }
    // A requirer that asks for no database gets one named after it.
    assert_eq!(bag["database"], "mattermost-k8s", "{bag:#}");
    assert!(bag["allowed-units"].as_str().unwrap_or_default().split(',').any(|u| u == "mattermost-k8s/0"), "{bag:#}");
    let user = bag["user"].as_str().unwrap_or_default().to_string();
    assert!(is_relation_user(&user), "{bag:#}");
    let master = bag["master"].as_str().unwrap_or_default();
    let login = pg_login_from_master(master);
    assert_eq!((login.user.as_str(), login.dbname.as_str()), (user.as_str(), "mattermost-k8s"), "master: {master}");
    assert_eq!(login.password, bag["password"].as_str().unwrap_or_default());
    assert_eq!(login.port.to_string(), bag["port"].as_str().unwrap_or_default());

    let db = login.session();
    assert_eq!(db.row("SELECT current_user, current_database()"), [user.as_str(), "mattermost-k8s"]);
    assert_eq!(
        db.row("SELECT rolsuper::text, rolcreaterole::text FROM pg_roles WHERE rolname = current_user"),
        ["false", "false"],
        "db user"
    );
    db.execute("CREATE TABLE posts (id int PRIMARY KEY, body text); INSERT INTO posts VALUES (1, 'hello')");
    assert!(db.try_query("CREATE ROLE intruder").is_err(), "a db user cannot create roles");
    drop(db);

    // The seed's alternative: the same charm on db-admin, after removing the db relation.
    c.ok(&["remove-relation", PG, "mattermost-k8s"]);
    login.wait_refused();
    c.wait_for("the db relation to be gone", |s| Ok(related_apps(s, PG, "db").is_empty()));
    c.ok(&["integrate", "postgresql-k8s:db-admin", "mattermost-k8s:db"]);
    let status = c.wait_active(&[PG, "mattermost-k8s"]);
    assert_eq!(related_apps(&status, PG, "db-admin"), ["mattermost-k8s"], "{status:#}");
    let admin_bag = wait_pgsql_bag(&c, "db-admin", Some(&user));
    assert_eq!(admin_bag["database"], "mattermost-k8s", "{admin_bag:#}");
    let admin = pg_login_from_master(admin_bag["master"].as_str().unwrap_or_default());
    assert_ne!(admin.user, user, "a new relation, a new user");
    let db = admin.session();
    assert_eq!(db.row("SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"), ["true"], "db-admin user is a superuser");
    assert_eq!(db.row("SELECT body FROM posts WHERE id = 1"), ["hello"], "the data stays");
    db.execute("CREATE DATABASE made_by_admin");
    assert_bad_credentials(&login);
    drop(db);

    // Issue 16: a legacy relation rotates too; the new keys reach both databags, the
    // new login acts as the relation's first user (a superuser here), and the old one
    // works until the grace period ends.
    c.ok(&["config", PG, "credential-grace-period=5s"]);
    let rel = the_relation_id(&c, "mattermost-k8s/0", "db-admin");
    c.action_results("postgresql-k8s/leader", "rotate-credentials", &[&format!("relation-id={rel}")]);
    let rotated_bag = wait_pgsql_bag(&c, "db-admin", Some(&admin.user));
    let rotated = pg_login_from_master(rotated_bag["master"].as_str().unwrap_or_default());
    assert_eq!(rotated.user, format!("{}_r1", admin.user), "{rotated_bag:#}");
    admin.session();
    let db = rotated.session();
    assert_eq!(db.row("SELECT session_user, current_user"), [rotated.user.as_str(), admin.user.as_str()]);
    assert_eq!(db.row("SELECT body FROM posts WHERE id = 1"), ["hello"]);
    db.execute("CREATE DATABASE made_by_rotated");
    admin.wait_bad_credentials();
    rotated.session();
}

/// Issue 14: the legacy `db` endpoint on an adopted server (started here, outside
/// tether, managed by a `CREATEROLE CREATEDB` admin): the same databags, the user on
/// that server, gone with the relation while its database stays. `db-admin` hands out a
/// superuser, which such an admin cannot make: the unit says so and nothing is created.
#[test]
fn postgresql_db_on_an_adopted_server_and_db_admin_refused_without_a_superuser_admin() {
    let charms = tempfile::tempdir().expect("tempdir");
    let mattermost = passive_charm(charms.path(), "mattermost-k8s", "pgsql");
    let server = ExternalPg::start();
    server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    c.ok(&["deploy", PG, "--config", &endpoint, "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", "pg-admin", PG]);
    c.ok(&["deploy", path_arg(&mattermost)]);
    c.wait_active(&[PG, "mattermost-k8s"]);

    c.ok(&["integrate", "postgresql-k8s:db", "mattermost-k8s:db"]);
    c.wait_active(&[PG, "mattermost-k8s"]);
    let bag = wait_pgsql_bag(&c, "db", None);
    let login = pg_login_from_master(bag["master"].as_str().unwrap_or_default());
    assert_eq!((login.host.as_str(), login.port), ("127.0.0.1", server.port), "{bag:#}");
    assert_eq!(bag["database"], "mattermost-k8s", "{bag:#}");
    let db = login.session();
    assert_eq!(db.row("SELECT rolsuper::text, rolcreaterole::text FROM pg_roles WHERE rolname = current_user"), ["false", "false"]);
    db.execute("CREATE TABLE posts (id int PRIMARY KEY, body text); INSERT INTO posts VALUES (1, 'hello')");
    drop(db);

    c.ok(&["remove-relation", PG, "mattermost-k8s"]);
    login.wait_refused();
    c.wait_for("the db relation to be gone", |s| Ok(related_apps(s, PG, "db").is_empty()));
    assert!(!server.exists(&format!("SELECT 1 FROM pg_roles WHERE rolname = '{}'", login.user)), "the relation user is dropped");
    let kept = server.login("postgres", &server.superuser.password, "mattermost-k8s").session();
    assert_eq!(kept.row("SELECT body FROM posts WHERE id = 1"), ["hello"], "the database stays");
    drop(kept);

    let roles_before = server.session().row("SELECT count(*)::text FROM pg_roles");
    c.ok(&["integrate", "postgresql-k8s:db-admin", "mattermost-k8s:db"]);
    let message = c.wait_unit(PG, "blocked", "superuser");
    assert!(!message.contains("dba-secret-pw"), "{message}");
    assert_eq!(server.session().row("SELECT count(*)::text FROM pg_roles"), roles_before, "nothing is created for db-admin");
}
