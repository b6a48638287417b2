//! The CLI's refusals, end to end: endpoint inference and its Juju error texts
//! (juju-compat.md §B3, §B4), and bad input that must be refused with one clear line
//! before anything runs (issue 2, "Tests").

mod common;

use common::*;

const PG: &str = "postgresql-k8s";

#[test]
fn integrate_infers_endpoints_and_reports_juju_errors() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=infer_db"]);
    c.ok(&["deploy", "data-integrator", "di-spare", "--config", "database-name=spare_db"]);

    // Inferred from the one compatible pair: postgresql-k8s:database <-> data-integrator:postgresql.
    c.ok(&["integrate", PG, "data-integrator"]);

    // The same relation again, in any spelling, is refused (requirer first in the key).
    let key = "data-integrator:postgresql postgresql-k8s:database";
    for args in [
        &["integrate", PG, "data-integrator"][..],
        &["integrate", "data-integrator:postgresql", "postgresql-k8s:database"],
        &["relate", "data-integrator", PG],
    ] {
        c.tether(args).assert_code(1).assert_error(&format!("cannot add relation \"{key}\": relation {key} already exists"));
    }

    let out = c.tether(&["integrate", "nosuch", "data-integrator"]);
    out.assert_code(1).assert_one_line_error(r#"application "nosuch" not found"#);
    assert_eq!(out.stderr.trim_end(), r#"ERROR application "nosuch" not found"#);

    c.tether(&["integrate", "postgresql-k8s:nope", "di-spare"]).assert_one_line_error("nope");
    c.tether(&["integrate", "postgresql-k8s:database-peers", "di-spare"]).assert_one_line_error("no relations found");
    c.tether(&["integrate", PG, PG]).assert_one_line_error("no relations found");
    c.tether(&["integrate", "postgresql-k8s:", "di-spare"]).assert_one_line_error("not valid");

    // Usage errors exit 2.
    c.tether(&["integrate", "data-integrator"]).assert_code(2).assert_error("");
    c.tether(&["integrate", PG, "data-integrator", "di-spare"]).assert_code(2).assert_error("");

    c.tether(&["remove-relation", PG, "nosuch"]).assert_code(1).assert_one_line_error(r#"application "nosuch" not found"#);
    c.tether(&["remove-relation", PG, "di-spare"])
        .assert_code(1)
        .assert_one_line_error(r#"relation "di-spare:postgresql postgresql-k8s:database" not found"#);
    c.tether(&["remove-relation", "x"]).assert_error(r#"relation ID "x" not valid"#);

    // None of the refusals left a relation behind.
    let status = c.wait_active(&[PG, "data-integrator"]);
    assert_eq!(related_apps(&status, PG, "database"), ["data-integrator"], "{status:#}");
    assert!(related_apps(&status, "di-spare", "postgresql").is_empty(), "{status:#}");

    // The seed's explicit forms: integrate postgresql-k8s:database <charm>, then remove-relation postgresql-k8s <charm>.
    c.ok(&["integrate", "postgresql-k8s:database", "di-spare"]);
    c.wait_active(&[PG, "data-integrator", "di-spare"]);
    let spare = PgLogin::from_credentials(&c.postgresql_credentials("di-spare/leader"));
    assert_eq!(spare.session().row("SELECT current_database()"), ["spare_db"]);
    c.ok(&["remove-relation", PG, "di-spare"]);
    spare.wait_refused();
    let status = c.wait_for("di-spare's relation to be gone", |s| Ok(related_apps(s, PG, "database") == ["data-integrator"]));
    assert!(related_apps(&status, "di-spare", "postgresql").is_empty(), "{status:#}");
}

/// The operator's view of what exists on the server: databases and roles.
fn server_objects(operator: &PgSession) -> (Vec<String>, Vec<String>) {
    let list = |sql: &str| operator.query(sql).into_iter().filter_map(|row| row.into_iter().next().flatten()).collect::<Vec<_>>();
    (list("SELECT datname FROM pg_database ORDER BY 1"), list("SELECT rolname FROM pg_roles ORDER BY 1"))
}

#[test]
fn bad_database_names_and_malformed_config_are_refused_before_anything_runs() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", "di-probe", "--config", "database-name=probe_db"]);
    c.ok(&["integrate", "di-probe", PG]);
    // Related but with no database-name yet: nothing is requested until one is set.
    c.ok(&["deploy", "data-integrator", "di-bad"]);
    c.ok(&["integrate", "di-bad", PG]);
    c.wait_active(&[PG, "di-probe"]);
    c.wait_for("di-bad to be blocked", |s| Ok(workload_words(s, "di-bad").first().is_some_and(|(_, w, _)| w == "blocked")));

    let probe = PgLogin::from_credentials(&c.postgresql_credentials("di-probe/leader"));
    let operator = probe.as_user("operator", &c.operator_password(PG)).with_db("postgres").session();
    let before = server_objects(&operator);

    // Deploy-time config with quotes or a semicolon.
    for (app, value) in
        [("di-quote", "database-name=a\"b"), ("di-semi", "database-name=x;y"), ("di-drop", "database-name=x; DROP DATABASE probe_db")]
    {
        c.tether(&["deploy", "data-integrator", app, "--config", value]).assert_one_line_error("database");
        assert!(!has_app(&c.status(), app), "{app} must not exist after a refused deploy");
    }
    // Runtime config: quotes, semicolons, control characters (a NUL cannot be in argv).
    for value in ["a\"b", "x;y", "it's", "a\u{1}b", "tab\there", "new\nline", "del\u{7f}"] {
        c.tether(&["config", "di-bad", &format!("database-name={value}")]).assert_one_line_error("database");
    }
    // Malformed and unknown --config entries.
    c.tether(&["deploy", "data-integrator", "di-x", "--config", "novalue"]).assert_one_line_error("novalue");
    c.tether(&["deploy", "data-integrator", "di-y", "--config", "no-such-option=1"]).assert_one_line_error("no-such-option");

    let status = c.status();
    for app in ["di-quote", "di-semi", "di-drop", "di-x", "di-y"] {
        assert!(!has_app(&status, app), "{app} must not exist: {status:#}");
    }
    let config = c.ok(&["config", "di-bad", "--format", "json"]).json();
    let value = &config["settings"]["database-name"]["value"];
    assert!(value.is_null() || value == "", "database-name must still be unset: {config:#}");
    assert_eq!(server_objects(&operator), before, "no database or role was created or dropped");

    // Control: a good name on the same application is acted on, so the checks above could
    // have seen a database appear.
    c.ok(&["config", "di-bad", "database-name=good_db"]);
    c.wait_active(&["di-bad"]);
    let (dbs, roles) = server_objects(&operator);
    let new_dbs: Vec<&String> = dbs.iter().filter(|d| !before.0.contains(d)).collect();
    assert_eq!(new_dbs, ["good_db"], "only the good database appears");
    let new_roles: Vec<&String> = roles.iter().filter(|r| !before.1.contains(r)).collect();
    assert!(new_roles.len() == 1 && is_relation_user(new_roles[0]), "one new relation user: {new_roles:?}");
}

#[test]
fn unknown_application_unit_action_or_parameter_is_an_error() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.wait_active(&[PG]);
    let password = c.operator_password(PG);

    c.tether(&["config", "nosuch"]).assert_one_line_error(r#"application "nosuch" not found"#);
    c.tether(&["add-unit", "nosuch"]).assert_one_line_error(r#"application "nosuch" not found"#);
    c.tether(&["run", "nosuch/0", "get-password"]).assert_one_line_error("nosuch");
    c.tether(&["run", "postgresql-k8s/7", "get-password"]).assert_one_line_error("postgresql-k8s/7");
    c.tether(&["run", "postgresql-k8s/0", "nosuch-action"]).assert_one_line_error("nosuch-action");
    c.tether(&["run", "postgresql-k8s/leader", "set-password", "password=Never0Applied1234", "nosuch=1"]).assert_one_line_error("nosuch");
    let out = c.tether(&["deploy", "nosuch-charm"]);
    out.assert_one_line_error("nosuch-charm");

    let status = c.status();
    assert_eq!(app_names(&status), [PG], "nothing was deployed: {status:#}");
    assert_eq!(c.operator_password(PG), password, "the refused set-password did not run");
}

#[test]
fn set_password_on_a_non_leader_unit_fails_with_the_leader_only_text() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.wait_active(&[PG]);
    c.ok(&["add-unit", PG]);
    let status = c.wait_for("postgresql-k8s/1 to exist", |s| Ok(unit_names(s, PG).iter().any(|u| u == "postgresql-k8s/1")));
    assert_eq!(status["applications"][PG]["units"]["postgresql-k8s/0"]["leader"], true, "the first unit leads: {status:#}");
    let password = c.operator_password(PG);

    let (out, task) = c.run_action("postgresql-k8s/1", "set-password", &["password=NotTheLeader12345"]);
    let failed = out.code != 0 || task["status"] == "failed";
    assert!(failed, "set-password on a non-leader must fail:\n{out}");
    assert!(
        out.stdout.contains("The action can be run only on leader unit")
            || out.stderr.contains("The action can be run only on leader unit"),
        "expected charm-protocol.md §3.3's leader-only text:\n{out}"
    );
    assert_eq!(c.operator_password(PG), password, "the password did not change");

    // get-password may run on any unit and reads the same application secret.
    let on_follower = c.action_results("postgresql-k8s/1", "get-password", &[]);
    assert_eq!(on_follower["password"], password.as_str());
}
