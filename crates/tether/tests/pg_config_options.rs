//! postgresql-k8s's config options on a real server: a setting that PostgreSQL reloads is
//! changed live (same server process), one that needs a restart restarts the server (the
//! unit's credentials keep working), a value the server refuses blocks the unit with
//! Canonical's text and changes nothing, a value outside the charm's rules is refused
//! before anything is stored, and a plugin option creates its extension in the
//! application's database (usable by the application's user) and drops it again.

mod common;

use common::*;

const PG: &str = "postgresql-k8s";

fn show(admin: &PgLogin, setting: &str) -> String {
    admin.session().row(&format!("SHOW {setting}"))[0].clone()
}

fn server_pid(c: &Controller) -> i32 {
    let pids = c.server_pid_files();
    assert_eq!(pids.len(), 1, "one server: {pids:?}");
    pids[0].0
}

fn unit_message(c: &Controller) -> (String, String) {
    let s = c.status();
    let words = workload_words(&s, PG);
    (words[0].1.clone(), words[0].2.clone())
}

fn wait_unit(c: &Controller, what: &str, want: impl Fn(&str, &str) -> bool) -> (String, String) {
    wait_until(what, SETTLE_TIMEOUT, || {
        let (status, message) = unit_message(c);
        if want(&status, &message) {
            Ok((status, message))
        } else {
            Err(format!("{status}: {message}"))
        }
    })
}

fn has_extension(login: &PgLogin, ext: &str) -> bool {
    !login.session().query(&format!("SELECT 1 FROM pg_extension WHERE extname = '{ext}'")).is_empty()
}

#[test]
fn config_options_become_the_servers_settings_and_extensions() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=cfg_db"]);
    c.ok(&["integrate", "data-integrator", PG]);
    c.wait_active(&[PG, "data-integrator"]);
    let app = PgLogin::from_credentials(&c.postgresql_credentials("data-integrator/leader"));
    let admin = app.as_user("operator", &c.operator_password(PG)).with_db("postgres");

    // The published defaults are what the server runs with.
    assert_eq!(show(&admin, "TimeZone"), "UTC");
    assert_eq!(show(&admin, "log_connections"), "on");
    assert_eq!(show(&admin, "wal_keep_size"), "4GB");
    let shown = c.ok(&["config", PG, "--format", "json"]).json();
    assert_eq!(shown["settings"].as_object().map(|m| m.len()), Some(188), "every published option and the two adopt options");

    // A reloadable setting: changed live, same process.
    let pid = server_pid(&c);
    c.ok(&["config", PG, "memory_work_mem=2048", "request_time_zone=Europe/Paris"]);
    wait_until("work_mem reloaded", SETTLE_TIMEOUT, || match show(&admin, "work_mem") {
        w if w == "2MB" => Ok(()),
        w => Err(w),
    });
    assert_eq!(show(&admin, "TimeZone"), "Europe/Paris");
    assert_eq!(server_pid(&c), pid, "a reloadable setting must not restart the server");

    // A setting that needs a restart: the server restarts, the credentials still work.
    c.ok(&["config", PG, "memory_max_prepared_transactions=7"]);
    wait_until("max_prepared_transactions after the restart", SETTLE_TIMEOUT, || {
        match admin.connect().map(|s| s.row("SHOW max_prepared_transactions")[0].clone()) {
            Ok(v) if v == "7" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_ne!(server_pid(&c), pid, "max_prepared_transactions needs a restart");
    c.wait_active(&[PG]);
    app.session().execute("CREATE TABLE IF NOT EXISTS kept (n int)");

    // A value the server refuses: blocked with Canonical's text, the server unchanged.
    c.ok(&["config", PG, "request_time_zone=Mars/Olympus_Mons"]);
    wait_unit(&c, "blocked on the refused time zone", |s, m| s == "blocked" && m == "Configuration Error. Please check the logs");
    assert_eq!(show(&admin, "TimeZone"), "Europe/Paris");
    c.ok(&["config", PG, "request_time_zone=UTC"]);
    wait_unit(&c, "active again", |s, _| s == "active");
    assert_eq!(show(&admin, "TimeZone"), "UTC");

    // Outside the charm's rules: refused before anything is stored.
    c.tether(&["config", PG, "memory_shared_buffers=15"]).assert_one_line_error("ensure this value is greater than or equal to 16");
    c.tether(&["config", PG, "profile=staging"]).assert_one_line_error("Value not one of 'testing' or 'production'");
    c.tether(&["config", PG, "plugin_postgis_topology_enable=true"]).assert_one_line_error("needs postgis enabled first");
    let kept = c.ok(&["config", PG, "memory_shared_buffers"]);
    assert!(kept.stdout.trim().is_empty(), "nothing stored: {kept}");

    // A plugin: the extension exists in the application's database and its user uses it.
    assert!(!has_extension(&app, "pg_trgm"));
    c.ok(&["config", PG, "plugin_pg_trgm_enable=true"]);
    wait_until("pg_trgm created", SETTLE_TIMEOUT, || if has_extension(&app, "pg_trgm") { Ok(()) } else { Err("absent".into()) });
    let similarity = app.session().row("SELECT similarity('tether', 'tethers')::text");
    assert!(similarity[0].starts_with("0."), "{similarity:?}");
    c.ok(&["config", PG, "plugin_pg_trgm_enable=false"]);
    wait_until("pg_trgm dropped", SETTLE_TIMEOUT, || if has_extension(&app, "pg_trgm") { Err("present".into()) } else { Ok(()) });

    // A plugin whose extension this machine does not package: blocked, naming it.
    c.ok(&["config", PG, "plugin_vector_enable=true"]);
    wait_unit(&c, "blocked on the missing extension", |s, m| s == "blocked" && m.contains("vector"));
    c.ok(&["config", PG, "--reset", "plugin_vector_enable"]);
    wait_unit(&c, "active without vector", |s, _| s == "active");
    assert!(app.session().row("SELECT count(*)::text FROM kept")[0] == "0");
}
