//! Hostile strings through the CLI on a real PostgreSQL server: as application names
//! (deploy, integrate, run, config), endpoint names, action names, unit targets, typed
//! config values, action parameters and database names. Each is refused with exactly one
//! `ERROR` line on stderr (an action parameter the charm refuses fails its task instead),
//! and the server's catalog (`pg_roles`, `pg_database`) is unchanged afterwards.
//!
//! The same strings as an adopted server's options (`external-endpoint`, `admin-secret`)
//! and as the adopted server's action parameters leave that server's catalog alone too.
//!
//! NUL bytes cannot be passed in argv; they are covered by the property tests of
//! tether-core (`crates/tether-core/tests/hostile_input.rs`).

mod common;

use common::*;

fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        "a'; DROP ROLE operator; --",
        "x\"; DROP DATABASE postgres; --",
        "back\\slash",
        "semi;colon",
        "Robert'); DROP TABLE students;--",
        "数据库",
        "emoji😀",
        "rtl\u{202e}gnp.exe",
        "$(touch /tmp/tether-pwned)",
        "`id`",
        "../../etc/passwd",
        "UPPER.Case",
        "-leading.dash",
        "space in name",
        "new\nline",
        "tab\there",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(10 * 1024));
    v.push("é".repeat(5 * 1024));
    v
}

/// Runs each case (what it tries, the CLI's arguments) and requires exactly one `ERROR`
/// line on stderr, of bounded length, and a non-zero exit. Returns how many were refused.
fn assert_each_refused(c: &Controller, s: &str, cases: Vec<(&str, Vec<String>)>) -> usize {
    let count = cases.len();
    for (what, args) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = c.tether(&refs);
        assert_ne!(out.code, 0, "{what} {:?} was accepted:\n{out}", s.chars().take(40).collect::<String>());
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{what}: expected one stderr line:\n{out}");
        assert!(lines[0].starts_with("ERROR "), "{what}: expected `ERROR ...`:\n{out}");
        assert!(lines[0].len() < 2048, "{what}: the error echoes an unbounded input ({} bytes)", lines[0].len());
    }
    count
}

fn catalog(login: &PgLogin) -> (Vec<String>, Vec<String>) {
    let db = login.session();
    let col = |sql: &str| db.query(sql).into_iter().filter_map(|r| r.into_iter().next().flatten()).collect::<Vec<_>>();
    (col("SELECT rolname FROM pg_roles ORDER BY 1"), col("SELECT datname FROM pg_database ORDER BY 1"))
}

#[test]
fn hostile_strings_through_the_cli_are_refused_and_leave_the_catalog_alone() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", "postgresql-k8s"]);
    c.ok(&["deploy", "data-integrator", "probe", "--config", "database-name=probe_db"]);
    c.ok(&["deploy", "data-integrator", "idle"]);
    c.ok(&["integrate", "probe", "postgresql-k8s"]);
    c.wait_active(&["postgresql-k8s", "probe"]);
    let app = PgLogin::from_credentials(&c.postgresql_credentials("probe/leader"));
    let admin = app.as_user("operator", &c.operator_password("postgresql-k8s")).with_db("postgres");
    let before = catalog(&admin);
    let apps_before = app_names(&c.status());

    let mut refused = 0;
    for s in hostile() {
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("application name (deploy)", vec!["deploy".into(), "data-integrator".into(), s.clone()]),
            ("application name (integrate)", vec!["integrate".into(), s.clone(), "postgresql-k8s".into()]),
            ("endpoint name (integrate)", vec!["integrate".into(), format!("idle:{s}"), "postgresql-k8s".into()]),
            ("application name (config)", vec!["config".into(), s.clone(), "database-name=x".into()]),
            ("application name (remove-application)", vec!["remove-application".into(), s.clone()]),
            ("unit target (run)", vec!["run".into(), format!("{s}/leader"), "get-password".into()]),
            ("action name (run)", vec!["run".into(), "postgresql-k8s/0".into(), s.clone()]),
            ("database-name (config)", vec!["config".into(), "idle".into(), format!("database-name={s}")]),
            (
                "database-name (deploy)",
                vec!["deploy".into(), "data-integrator".into(), "hostile-db".into(), "--config".into(), format!("database-name={s}")],
            ),
            ("int config value", vec!["config".into(), "postgresql-k8s".into(), format!("profile_limit_memory={s}")]),
            ("boolean config value", vec!["config".into(), "postgresql-k8s".into(), format!("plugin_audit_enable={s}")]),
            ("extra-user-roles (config)", vec!["config".into(), "idle".into(), format!("extra-user-roles={s}")]),
        ];
        refused += assert_each_refused(&c, &s, cases);
        // An action parameter reaches the charm, which refuses an unknown user by failing the task.
        let (out, task) = c.run_action("postgresql-k8s/leader", "get-password", &[&format!("username={s}")]);
        assert!(out.code != 0 || task["status"] == "failed", "get-password username={s:?} did not fail:\n{out}");
        assert!(!out.stdout.contains("password\":"), "a password came back for username {s:?}:\n{out}");
    }
    assert!(!has_app(&c.status(), "hostile-db"), "an application with a hostile database name was deployed");
    assert_eq!(app_names(&c.status()), apps_before, "the model's applications changed");
    assert_eq!(catalog(&admin), before, "pg_roles / pg_database changed");
    assert!(!std::path::Path::new("/tmp/tether-pwned").exists(), "a shell ran an argument");
    eprintln!("hostile CLI: {} strings, {refused} refusals, catalog unchanged", hostile().len());
}

/// A DNS name as RFC 1123 allows it (labels of 1 to 63 letters, digits and inner hyphens;
/// 253 characters at most): the one kind of hostile string that is a valid host.
fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[test]
fn hostile_strings_for_an_adopted_server_are_refused_and_leave_its_catalog_alone() {
    let server = ExternalPg::start();
    server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
    let (c, uri) = Controller::for_adoption("pg-admin", "dba", "dba-secret-pw");
    let endpoint = format!("external-endpoint=127.0.0.1:{}", server.port);
    let admin_secret = format!("admin-secret={uri}");
    c.ok(&["deploy", "postgresql-k8s", "pg-ext", "--config", &endpoint, "--config", &admin_secret]);
    c.ok(&["grant-secret", "pg-admin", "pg-ext"]);
    c.ok(&["deploy", "data-integrator", "probe", "--config", "database-name=probe_db"]);
    c.ok(&["integrate", "probe", "pg-ext"]);
    c.wait_active(&["pg-ext", "probe"]);
    let before = catalog(&server.superuser);
    let apps_before = app_names(&c.status());

    let mut refused = 0;
    for s in hostile() {
        let deploy = |config: Vec<String>| {
            let mut args: Vec<String> = vec!["deploy".into(), "postgresql-k8s".into(), "pg-hostile".into()];
            for kv in config {
                args.push("--config".into());
                args.push(kv);
            }
            args
        };
        let mut cases: Vec<(&str, Vec<String>)> = vec![
            ("external-endpoint port", deploy(vec![format!("external-endpoint=127.0.0.1:{s}"), admin_secret.clone()])),
            ("admin-secret", deploy(vec![endpoint.clone(), format!("admin-secret={s}")])),
            ("external-endpoint (config)", vec!["config".into(), "pg-ext".into(), format!("external-endpoint={s}")]),
            ("admin-secret (config)", vec!["config".into(), "pg-ext".into(), format!("admin-secret={s}")]),
        ];
        if !is_host_name(&s) {
            cases.push(("external-endpoint host", deploy(vec![format!("external-endpoint={s}:5432"), admin_secret.clone()])));
        }
        refused += assert_each_refused(&c, &s, cases);
        // Action parameters reach the adopted server's charm, which refuses them by failing the task.
        for (action, param) in [("rotate-credentials", "application"), ("rotate-credentials", "relation-id"), ("get-password", "username")]
        {
            let (out, task) = c.run_action("pg-ext/leader", action, &[&format!("{param}={s}")]);
            assert!(out.code != 0 || task["status"] == "failed", "{action} {param}={s:?} did not fail:\n{out}");
            assert!(!out.stdout.contains("password\":"), "a password came back for {param} {s:?}:\n{out}");
        }
    }
    assert!(!has_app(&c.status(), "pg-hostile"), "an adopted application with a hostile option was deployed");
    assert_eq!(app_names(&c.status()), apps_before, "the model's applications changed");
    assert_eq!(catalog(&server.superuser), before, "the adopted server's pg_roles / pg_database changed");
    assert!(!std::path::Path::new("/tmp/tether-pwned").exists(), "a shell ran an argument");
    eprintln!("hostile CLI (adopted): {} strings, {refused} refusals, catalog unchanged", hostile().len());
}
