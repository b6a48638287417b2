//! No issued password in clear anywhere tether writes or prints: after a full flow on
//! real PostgreSQL and MariaDB servers (integrate, get-credentials, remove and integrate
//! again, set-password with a chosen and a random password, get-password for every
//! internal user, an external charm's leader setting and Juju secret, an adopted
//! PostgreSQL's admin before and after `rotate-admin-password` and its relation users), every file under `$TETHER_HOME` (store, its WAL, the key directory,
//! controller and server logs; not the databases' own data directories) and the output of
//! `status`, `show-unit`, `debug-log`, `audit`, `secrets` (unrevealed), `show-model` and
//! `model-config` is searched for every password. Zero hits are allowed.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Data directories of the database servers themselves: they hold the servers' own
/// (hashed) credentials and are not tether's to write.
const DATA_DIRS: [&str; 3] = ["pgdata", "mysqldata", "mongodata"];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if !p.file_name().is_some_and(|n| DATA_DIRS.iter().any(|d| n == *d)) {
                files_under(&p, out);
            }
        } else if kind.is_file() {
            out.push(p);
        }
    }
}

fn password_of(results: &Value) -> String {
    results["password"].as_str().unwrap_or_else(|| panic!("no password in {results:#}")).to_string()
}

/// An adopted PostgreSQL (started here, outside tether): its admin's password as given,
/// a relation user's, and the admin's after `rotate-admin-password`. The audit trail
/// records the relation user's issue and revocation by name.
fn adopted_passwords(c: &Controller, server: &ExternalPg, issued: &mut Vec<(String, String)>) {
    let given = "AdoptedAdminGiven7pw";
    server.session().execute(&format!("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD '{given}'"));
    issued.push(("adopted admin (given)".into(), given.into()));
    let uri = c.ok(&["add-secret", "pg-admin", "username=dba", &format!("password={given}")]).stdout.trim().to_string();
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    c.ok(&["deploy", "postgresql-k8s", "pg-ext", "--config", &endpoint, "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", "pg-admin", "pg-ext"]);
    c.ok(&["deploy", "data-integrator", "di-ext", "--config", "database-name=leak_ext"]);
    c.ok(&["integrate", "di-ext", "pg-ext"]);
    c.wait_active(&["pg-ext", "di-ext"]);
    let first = c.credentials_for("di-ext/leader", "postgresql");
    issued.push(("adopted relation".into(), password_of(&first)));
    let user = first["username"].as_str().expect("a user name").to_string();
    c.action_results("pg-ext/leader", "rotate-admin-password", &[]);
    let (_, admin) = c.revealed_secret("pg-admin");
    let rotated = admin["password"].as_str().expect("the admin secret holds a password").to_string();
    assert_ne!(rotated, given, "rotate-admin-password must change the admin's password");
    issued.push(("adopted admin (rotated)".into(), rotated));
    c.ok(&["remove-relation", "di-ext", "pg-ext"]);
    c.wait_for("di-ext's relation to be gone", |s| Ok(related_apps(s, "pg-ext", "database").is_empty()));
    wait_until("the adopted relation user to be dropped", SETTLE_TIMEOUT, || {
        match server.exists(&format!("SELECT 1 FROM pg_roles WHERE rolname = '{user}'")) {
            true => Err(format!("{user} is still on the adopted server")),
            false => Ok(()),
        }
    });
    let trail = c.ok(&["audit", "--format", "json"]).json();
    let entries = trail.as_array().cloned().unwrap_or_default();
    let mentions = |e: &Value| e.to_string().contains(&format!("\"{user}\""));
    assert!(entries.iter().filter(|e| mentions(e)).count() >= 2, "the audit trail must record {user}'s issue and revocation: {trail:#}");
}

/// Every password the flow hands out, with where it came from.
fn issue_passwords(c: &Controller, adopted: &ExternalPg) -> Vec<(String, String)> {
    let mut issued = Vec::new();
    adopted_passwords(c, adopted, &mut issued);
    c.ok(&["deploy", "postgresql-k8s"]);
    c.ok(&["deploy", "mysql-k8s"]);
    c.ok(&["deploy", "data-integrator", "di-pg", "--config", "database-name=leak_pg"]);
    c.ok(&["deploy", "data-integrator", "di-my", "--config", "database-name=leak_my"]);
    c.ok(&["integrate", "di-pg", "postgresql-k8s"]);
    c.ok(&["integrate", "di-my", "mysql-k8s"]);
    c.wait_active(&["postgresql-k8s", "mysql-k8s", "di-pg", "di-my"]);

    let first = c.credentials_for("di-pg/leader", "postgresql");
    issued.push(("di-pg relation (first)".into(), password_of(&first)));
    issued.push(("di-my relation".into(), password_of(&c.credentials_for("di-my/leader", "mysql"))));
    // Rotation by remove + integrate: both the revoked and the new password.
    c.ok(&["remove-relation", "di-pg", "postgresql-k8s"]);
    c.wait_for("di-pg's relation to be gone", |s| Ok(related_apps(s, "postgresql-k8s", "database").is_empty()));
    c.ok(&["integrate", "di-pg", "postgresql-k8s"]);
    c.wait_active(&["postgresql-k8s", "di-pg"]);
    let old_user = first["username"].clone();
    let second = c.wait_credentials_for("di-pg/leader", "postgresql", "a new relation user", |m| m["username"] != old_user);
    issued.push(("di-pg relation (second)".into(), password_of(&second)));
    // Rotation without downtime, on both engines: the new passwords, with the old ones
    // retired after a short grace period.
    for (app, di, key) in [("postgresql-k8s", "di-pg", "postgresql"), ("mysql-k8s", "di-my", "mysql")] {
        c.ok(&["config", app, "credential-grace-period=2s"]);
        let before = c.credentials_for(&format!("{di}/leader"), key);
        c.action_results(&format!("{app}/leader"), "rotate-credentials", &[&format!("application={di}")]);
        let old_user = before["username"].clone();
        let rotated = c.wait_credentials_for(&format!("{di}/leader"), key, "rotated credentials", |m| m["username"] != old_user);
        issued.push((format!("{di} relation (rotated)"), password_of(&rotated)));
    }

    for (app, users) in [
        ("postgresql-k8s", &["operator", "replication", "rewind", "monitoring", "backup"][..]),
        ("mysql-k8s", &["root", "serverconfig", "clusteradmin", "monitoring", "backups"][..]),
    ] {
        let unit = format!("{app}/leader");
        for user in users {
            let r = c.action_results(&unit, "get-password", &[&format!("username={user}")]);
            issued.push((format!("{app} {user} (initial)"), password_of(&r)));
        }
        let chosen = format!("Leak{}Chosen9pw", app.len());
        let admin = users[0];
        let r = c.action_results(&unit, "set-password", &[&format!("username={admin}"), &format!("password={chosen}")]);
        assert_eq!(password_of(&c.action_results(&unit, "get-password", &[&format!("username={admin}")])), chosen, "{r:#}");
        issued.push((format!("{app} {admin} (chosen)"), chosen));
        c.action_results(&unit, "set-password", &[&format!("username={admin}")]);
        let random = password_of(&c.action_results(&unit, "get-password", &[&format!("username={admin}")]));
        issued.push((format!("{app} {admin} (random)"), random));
    }
    // An external charm's own secrets: leader settings and a Juju secret it adds, by a
    // hook tool (the shell-probe charm's probe action runs the command).
    c.ok(&["deploy", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/shell-probe"), "ext"]);
    c.wait_active(&["ext"]);
    let leader_pw = "LeakLeaderSetting7pw";
    assert_eq!(c.probe("ext/0", &format!("leader-set db-password={leader_pw}")).0, 0);
    assert_eq!(c.probe("ext/0", "leader-get db-password").1, leader_pw);
    issued.push(("ext leader setting".into(), leader_pw.into()));
    let secret_pw = "LeakCharmSecret8pw";
    assert_eq!(c.probe("ext/0", &format!("secret-add --label mine token={secret_pw}")).0, 0);
    issued.push(("ext charm secret".into(), secret_pw.into()));
    // Later integrations work with the rotated admin passwords (the flow is real).
    c.wait_active(&["postgresql-k8s", "mysql-k8s", "di-pg", "di-my"]);
    for (what, p) in &issued {
        assert!(p.len() >= 8, "{what}: password {p:?} too short to search for meaningfully");
    }
    issued
}

fn hits(haystack: &[u8], issued: &[(String, String)]) -> Vec<String> {
    issued.iter().filter(|(_, p)| haystack.windows(p.len()).any(|w| w == p.as_bytes())).map(|(what, _)| what.clone()).collect()
}

#[test]
fn no_issued_password_in_any_file_log_or_view() {
    let c = Controller::bootstrap();
    let adopted = ExternalPg::start();
    let issued = issue_passwords(&c, &adopted);
    let mut leaks = Vec::new();

    // What users see.
    let mut views: Vec<(String, Vec<&str>)> = vec![
        ("status".into(), vec!["status"]),
        ("status --format json".into(), vec!["status", "--format", "json"]),
        ("debug-log".into(), vec!["debug-log", "--limit", "100000"]),
        ("audit".into(), vec!["audit"]),
        ("audit --format json".into(), vec!["audit", "--format", "json"]),
        ("secrets".into(), vec!["secrets", "--format", "json"]),
        ("show-model".into(), vec!["show-model"]),
        ("model-config".into(), vec!["model-config"]),
    ];
    let units = ["postgresql-k8s/0", "mysql-k8s/0", "di-pg/0", "di-my/0", "pg-ext/0", "di-ext/0"];
    for u in units {
        views.push((format!("show-unit {u}"), vec!["show-unit", u, "--format", "json"]));
    }
    let mut views_checked = 0;
    for (name, args) in &views {
        let out = c.tether(args);
        assert_eq!(out.code, 0, "{name}:\n{out}");
        views_checked += 1;
        for what in hits(format!("{}{}", out.stdout, out.stderr).as_bytes(), &issued) {
            leaks.push(format!("`tether {name}` shows {what}"));
        }
    }
    // An error that mentions a secret's id does not reveal it either.
    let err = c.tether(&["show-secret", "no-such-secret"]);
    assert_ne!(err.code, 0);

    // Every file under the home, while the controller runs (the WAL holds the latest
    // writes) and after it stopped (checkpointed).
    let mut scanned = 0;
    let mut bytes = 0u64;
    for phase in ["running", "stopped"] {
        if phase == "stopped" {
            c.ok(&["controller", "stop"]);
        }
        let mut files = Vec::new();
        files_under(c.home(), &mut files);
        assert!(files.iter().any(|f| f.ends_with("store.db")), "the store must be among the files: {files:?}");
        for f in &files {
            let Ok(data) = std::fs::read(f) else { continue };
            scanned += 1;
            bytes += data.len() as u64;
            for what in hits(&data, &issued) {
                leaks.push(format!("{} ({phase}) holds {what}", f.display()));
            }
        }
    }
    eprintln!(
        "no-secret-in-clear: {} passwords searched in {scanned} files ({bytes} bytes) and {views_checked} command outputs; {} leaks",
        issued.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "passwords in clear:\n{}", leaks.join("\n"));
}
