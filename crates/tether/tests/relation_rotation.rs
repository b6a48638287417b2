//! Issue 13: the seeds' rotation, `remove-relation A B` then at once `integrate A B`,
//! always works (integrate waits for the removal), each time issuing a new user and
//! revoking the old one; and `show-unit` as Juju shows it (addresses in every unit bag,
//! `--endpoint`, `--app`, `--related-unit`).

mod common;

use common::*;
use serde_json::Value;

const PG: &str = "postgresql-k8s";
const DI: &str = "data-integrator";

fn deploy_integrated(c: &Controller, database: &str) {
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", DI, "--config", &format!("database-name={database}")]);
    c.ok(&["integrate", DI, PG]);
    c.wait_active(&[PG, DI]);
}

#[test]
fn remove_relation_then_integrate_at_once_rotates_the_user() {
    let c = Controller::bootstrap();
    deploy_integrated(&c, "rotation_db");
    let mut old = c.postgresql_credentials("data-integrator/leader");
    PgLogin::from_credentials(&old).session();
    for round in 0..3 {
        c.ok(&["remove-relation", DI, PG]);
        // Back to back, as the seeds write it: integrate waits for the removal.
        let out = c.ok(&["integrate", DI, PG]);
        assert!(out.stderr.lines().all(|l| l.starts_with("waiting for relation ")), "round {round}: {out}");
        let old_user = old["username"].as_str().unwrap_or_default().to_string();
        let new = c.wait_postgresql_credentials("data-integrator/leader", "a new user", |pg| {
            pg["username"].as_str().is_some_and(|u| !u.is_empty() && u != old_user)
        });
        let login = PgLogin::from_credentials(&new);
        assert_eq!(login.session().row("SELECT current_database()"), ["rotation_db"], "round {round}");
        PgLogin::from_credentials(&old).wait_refused();
        old = new;
    }
}

fn related<'a>(unit: &'a Value, endpoint: &str) -> &'a Value {
    unit["relation-info"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["endpoint"] == endpoint))
        .unwrap_or_else(|| panic!("no relation on {endpoint}: {unit:#}"))
}

#[test]
fn show_unit_fills_addresses_and_filters() {
    let c = Controller::bootstrap();
    deploy_integrated(&c, "show_db");
    let unit = c.show_unit("data-integrator/0");
    let rel = related(&unit, "postgresql");
    for bag in [&rel["local-unit"]["data"], &rel["related-units"]["postgresql-k8s/0"]["data"]] {
        assert_eq!(bag["ingress-address"], "127.0.0.1", "{unit:#}");
        assert_eq!(bag["private-address"], "127.0.0.1", "{unit:#}");
        assert_eq!(bag["egress-subnets"], "127.0.0.1/32", "{unit:#}");
    }
    assert!(rel["application-data"].as_object().is_some_and(|d| !d.is_empty()), "{unit:#}");

    // --endpoint keeps that endpoint's relations only.
    let shown = |args: &[&str]| {
        let mut argv = vec!["show-unit", "data-integrator/0", "--format", "json"];
        argv.extend_from_slice(args);
        c.ok(&argv).json()["data-integrator/0"].clone()
    };
    let only = shown(&["--endpoint", "postgresql"]);
    assert!(only["relation-info"].as_array().is_some_and(|r| r.len() == 1 && r[0]["endpoint"] == "postgresql"), "{only:#}");
    assert!(shown(&["--endpoint", "nosuch"]).get("relation-info").is_none());

    // --related-unit keeps that unit only; --app keeps the application's data only.
    let one = shown(&["--related-unit", "postgresql-k8s/0"]);
    let rel = related(&one, "postgresql");
    assert_eq!(rel["related-units"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()), Some(vec!["postgresql-k8s/0".to_string()]));
    assert!(shown(&["--related-unit", "postgresql-k8s/9"]).get("relation-info").is_none());
    let app = shown(&["--app"]);
    let rel = related(&app, "postgresql");
    assert!(rel.get("related-units").is_none() && rel.get("local-unit").is_none(), "{app:#}");
    assert!(rel["application-data"].as_object().is_some_and(|d| !d.is_empty()), "{app:#}");
}
