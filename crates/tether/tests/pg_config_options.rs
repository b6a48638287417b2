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
    try_show(admin, setting).unwrap_or_else(|e| panic!("{e}"))
}

/// A setting as the server shows it, for a probe: a server restarting under it is an
/// observation, not a failure.
fn try_show(admin: &PgLogin, setting: &str) -> Result<String, String> {
    let session = admin.connect().map_err(|e| format!("{e:?}"))?;
    Ok(session.try_row(&format!("SHOW {setting}"))?[0].clone())
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

/// A controller with postgresql-k8s and a data-integrator asking for `database`, active,
/// and the credentials it was given.
fn integrated(database: &str) -> (Controller, PgLogin) {
    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", "data-integrator", "--config", &format!("database-name={database}")]);
    c.ok(&["integrate", "data-integrator", PG]);
    c.wait_active(&[PG, "data-integrator"]);
    let app = PgLogin::from_credentials(&c.postgresql_credentials("data-integrator/leader"));
    (c, app)
}

#[test]
fn config_options_become_the_servers_settings_and_extensions() {
    let (c, app) = integrated("cfg_db");
    let admin = app.as_user("operator", &c.operator_password(PG)).with_db("postgres");

    // The published defaults are what the server runs with.
    assert_eq!(show(&admin, "TimeZone"), "UTC");
    assert_eq!(show(&admin, "log_connections"), "on");
    assert_eq!(show(&admin, "wal_keep_size"), "4GB");
    let shown = c.ok(&["config", PG, "--format", "json"]).json();
    assert_eq!(
        shown["settings"].as_object().map(|m| m.len()),
        Some(191),
        "every published option, the three adopt options (with tls-ca) and the two rotation options"
    );

    // A reloadable setting: changed live, same process.
    let pid = server_pid(&c);
    c.ok(&["config", PG, "memory_work_mem=2048", "request_time_zone=Europe/Paris"]);
    wait_until("work_mem reloaded", SETTLE_TIMEOUT, || match try_show(&admin, "work_mem") {
        Ok(w) if w == "2MB" => Ok(()),
        other => Err(format!("{other:?}")),
    });
    assert_eq!(show(&admin, "TimeZone"), "Europe/Paris");
    assert_eq!(server_pid(&c), pid, "a reloadable setting must not restart the server");

    // A setting that needs a restart: the server restarts, the credentials still work.
    c.ok(&["config", PG, "memory_max_prepared_transactions=7"]);
    wait_until("max_prepared_transactions after the restart", SETTLE_TIMEOUT, || {
        match admin.connect().map_err(|e| format!("{e:?}")).and_then(|s| s.try_row("SHOW max_prepared_transactions")) {
            Ok(v) if v[0] == "7" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_ne!(server_pid(&c), pid, "max_prepared_transactions needs a restart");
    c.wait_active(&[PG]);
    app.session().execute("CREATE TABLE IF NOT EXISTS kept (n int)");

    // A reloadable change after that restart (the supervisor must restart with it too).
    c.ok(&["config", PG, "memory_work_mem=3072"]);
    wait_until("work_mem reloaded again", SETTLE_TIMEOUT, || match try_show(&admin, "work_mem") {
        Ok(w) if w == "3MB" => Ok(()),
        other => Err(format!("{other:?}")),
    });

    // A value the server refuses: blocked with Canonical's text, the server unchanged.
    c.ok(&["config", PG, "request_time_zone=Mars/Olympus_Mons"]);
    wait_unit(&c, "blocked on the refused time zone", |s, m| s == "blocked" && m == "Configuration Error. Please check the logs");
    assert_eq!(show(&admin, "TimeZone"), "Europe/Paris");
    // The server killed meanwhile comes back with what it ran, never the refused value.
    let before_kill = server_pid(&c);
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(before_kill), nix::sys::signal::Signal::SIGKILL);
    wait_until("the server restarted by the supervisor", SETTLE_TIMEOUT, || match admin.connect() {
        Ok(s) if server_pid(&c) != before_kill => s.try_row("SHOW TimeZone"),
        _ => Err("not yet".to_string()),
    });
    assert_eq!(show(&admin, "TimeZone"), "Europe/Paris");
    assert_eq!(show(&admin, "work_mem"), "3MB", "a reloaded setting survives the supervisor's restart");
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

/// One option of every parameter family, and the setting it must produce.
const FAMILIES: [(&str, &str, &str); 14] = [
    ("connection_statement_timeout=60000", "statement_timeout", "1min"),
    ("cpu_parallel_leader_participation=false", "parallel_leader_participation", "off"),
    ("durability_synchronous_commit=remote_write", "synchronous_commit", "remote_write"),
    ("instance_default_text_search_config=pg_catalog.english", "default_text_search_config", "pg_catalog.english"),
    ("logging_log_lock_waits=true", "log_lock_waits", "on"),
    ("memory_temp_buffers=2048", "temp_buffers", "16MB"),
    ("optimizer_enable_seqscan=false", "enable_seqscan", "off"),
    ("request_lock_timeout=5000", "lock_timeout", "5s"),
    ("response_bytea_output=escape", "bytea_output", "escape"),
    ("session_idle_in_transaction_session_timeout=600000", "idle_in_transaction_session_timeout", "10min"),
    ("storage_bgwriter_lru_maxpages=50", "bgwriter_lru_maxpages", "50"),
    ("vacuum_autovacuum_naptime=30", "autovacuum_naptime", "30s"),
    ("experimental_max_connections=42", "max_connections", "42"),
    ("profile=testing", "effective_cache_size", "4GB"),
];

#[test]
fn one_option_of_every_family_reaches_the_server() {
    let (c, app) = integrated("families");
    let admin = app.as_user("operator", &c.operator_password(PG)).with_db("postgres");
    // The production profile sized memory; testing gives PostgreSQL's own default back.
    assert_ne!(show(&admin, "effective_cache_size"), "4GB");
    let mut args = vec!["config", PG];
    args.extend(FAMILIES.iter().map(|(a, _, _)| *a));
    c.ok(&args);
    wait_until("every family applied (one restart)", SETTLE_TIMEOUT, || {
        let s = admin.connect().map_err(|e| format!("{e:?}"))?;
        let mut wrong = Vec::new();
        for (_, setting, want) in FAMILIES {
            let got = s.try_row(&format!("SHOW {setting}"))?[0].clone();
            if got != *want {
                wrong.push(format!("{setting}={got} (want {want})"));
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join(", "))
        }
    });
    c.wait_active(&[PG]);
    app.session().row("SELECT 1");
}

/// Every plugin whose extension Debian packages, and a query that uses it (run as the
/// operator in the application's database: some are untrusted languages).
const PLUGINS: [(&str, &str, &str); 42] = [
    ("address_standardizer", "SELECT (parse_address('1 Devonshire Place, Boston, MA 02109')).city", "Boston"),
    ("address_standardizer_data_us", "SELECT (count(*) > 0)::text FROM us_lex", "true"),
    ("audit", "SELECT (count(*) = 1)::text FROM pg_settings WHERE name = 'pgaudit.log'", "true"),
    ("bloom", "CREATE TEMP TABLE b(a int); CREATE INDEX ON b USING bloom (a); SELECT 'ok'", "ok"),
    ("bool_plperl", "CREATE OR REPLACE FUNCTION t_bp(b bool) RETURNS bool TRANSFORM FOR TYPE bool LANGUAGE plperl AS 'return !$_[0];'; SELECT t_bp(false)::text", "true"),
    ("btree_gin", "CREATE TEMP TABLE bg(a int); CREATE INDEX ON bg USING gin (a); SELECT 'ok'", "ok"),
    ("btree_gist", "CREATE TEMP TABLE bs(a int); CREATE INDEX ON bs USING gist (a); SELECT 'ok'", "ok"),
    ("citext", "SELECT ('A'::citext = 'a'::citext)::text", "true"),
    ("cube", "SELECT cube_dim('(1,2,3)'::cube)::text", "3"),
    ("dict_int", "SELECT array_to_string(ts_lexize('intdict', '12345678'), ',')", "123456"),
    ("dict_xsyn", "SELECT (ts_lexize('xsyn', 'supernova') IS NULL)::text", "true"),
    ("earthdistance", "SELECT (earth_distance(ll_to_earth(0, 0), ll_to_earth(0, 1)) > 100000)::text", "true"),
    ("fuzzystrmatch", "SELECT levenshtein('kitten', 'sitting')::text", "3"),
    ("hll", "SELECT round(hll_cardinality(hll_add_agg(hll_hash_integer(x))))::int::text FROM generate_series(1, 10) x", "10"),
    ("hstore", "SELECT ('a=>1'::hstore) -> 'a'", "1"),
    ("hypopg", "SELECT count(*)::text FROM hypopg_list_indexes", "0"),
    ("icu_ext", "SELECT (icu_version() IS NOT NULL)::text", "true"),
    ("intarray", "SELECT icount('{1,2,3}'::int[])::text", "3"),
    ("ip4r", "SELECT ('10.0.0.1'::ip4 <<= '10.0.0.0/8'::ip4r)::text", "true"),
    ("isn", "SELECT isn_weak()::text", "false"),
    ("jsonb_plperl", "CREATE OR REPLACE FUNCTION t_jp(j jsonb) RETURNS int TRANSFORM FOR TYPE jsonb LANGUAGE plperl AS 'return $_[0]->{a};'; SELECT t_jp('{\"a\": 7}')::text", "7"),
    ("lo", "SELECT (lo_import IS NULL)::text FROM (SELECT NULL::lo AS lo_import) x", "true"),
    ("ltree", "SELECT nlevel('a.b.c'::ltree)::text", "3"),
    ("old_snapshot", "SELECT (count(*) >= 0)::text FROM pg_old_snapshot_time_mapping()", "true"),
    ("orafce", "SELECT oracle.nvl(NULL::int, 5)::text", "5"),
    ("pg_freespacemap", "SELECT (count(*) >= 0)::text FROM pg_freespace('pg_class')", "true"),
    ("pg_similarity", "SELECT (jaccard('alpha beta', 'alpha gamma') > 0)::text", "true"),
    ("pg_trgm", "SELECT (similarity('tether', 'tethers') > 0)::text", "true"),
    ("pg_visibility", "SELECT (count(*) > 0)::text FROM pg_visibility_map('pg_class')", "true"),
    ("pgrowlocks", "CREATE TEMP TABLE r(a int); SELECT count(*)::text FROM pgrowlocks('r')", "0"),
    ("pgstattuple", "SELECT (tuple_count > 0)::text FROM pgstattuple('pg_class')", "true"),
    ("pg_stat_statements", "SELECT (count(*) >= 0)::text FROM pg_stat_statements", "true"),
    ("plperl", "CREATE OR REPLACE FUNCTION t_pl(int) RETURNS int LANGUAGE plperl AS 'return $_[0] * 2;'; SELECT t_pl(21)::text", "42"),
    ("plpython3u", "CREATE OR REPLACE FUNCTION t_py(n int) RETURNS int LANGUAGE plpython3u AS 'return n * 2'; SELECT t_py(21)::text", "42"),
    ("pltcl", "CREATE OR REPLACE FUNCTION t_tcl(int) RETURNS int LANGUAGE pltcl AS 'return [expr {$1 * 2}]'; SELECT t_tcl(21)::text", "42"),
    ("postgis", "SELECT ST_AsText(ST_MakePoint(1, 2))", "POINT(1 2)"),
    ("postgis_raster", "SELECT ST_Width(ST_MakeEmptyRaster(3, 2, 0, 0, 1))::text", "3"),
    ("postgis_topology", "SELECT (count(*) >= 0)::text FROM topology.topology", "true"),
    ("prefix", "SELECT ('123'::prefix_range @> '12345')::text", "true"),
    ("seg", "SELECT seg_lower('1 .. 2'::seg)::text", "1"),
    ("spi", "SELECT (count(*) = 4)::text FROM pg_extension WHERE extname IN ('refint', 'autoinc', 'insert_username', 'moddatetime')", "true"),
    ("tablefunc", "SELECT count(*)::text FROM normal_rand(5, 0, 1)", "5"),
];

/// Plugins whose query needs nothing but the extension's presence.
const PRESENT_ONLY: [&str; 7] = ["postgis_tiger_geocoder", "tcn", "tds_fdw", "tsm_system_rows", "tsm_system_time", "unaccent", "uuid_ossp"];

#[test]
fn every_plugin_debian_packages_is_created_and_usable() {
    let (c, app) = integrated("plugins");
    let admin = app.as_user("operator", &c.operator_password(PG));
    let settings: Vec<String> = PLUGINS.iter().map(|(p, _, _)| *p).chain(PRESENT_ONLY).map(|p| format!("plugin_{p}_enable=true")).collect();
    let mut args = vec!["config", PG];
    args.extend(settings.iter().map(String::as_str));
    c.ok(&args);
    wait_until("every plugin's extension in the application's database", SETTLE_TIMEOUT, || {
        let present = admin.session().query("SELECT extname FROM pg_extension");
        let names: Vec<String> = present.into_iter().filter_map(|r| r[0].clone()).collect();
        let missing: Vec<&str> = ["postgis_tiger_geocoder", "tsm_system_time", "uuid-ossp", "unaccent", "postgis_raster", "plpython3u"]
            .into_iter()
            .filter(|e| !names.iter().any(|n| n == e))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing {missing:?}"))
        }
    });
    c.wait_active(&[PG]);
    let s = admin.session();
    let mut failures = Vec::new();
    for (plugin, sql, want) in PLUGINS {
        match s.try_query(sql) {
            Ok(rows) => {
                let got = rows.last().and_then(|r| r[0].clone()).unwrap_or_default();
                if got != want {
                    failures.push(format!("{plugin}: {sql} gave {got:?}, want {want:?}"));
                }
            }
            Err(e) => failures.push(format!("{plugin}: {sql}: {e}")),
        }
    }
    assert!(failures.is_empty(), "plugins that do not work:\n{}", failures.join("\n"));
    // The application's own user uses a trusted one in its database.
    assert_eq!(app.session().row("SELECT (similarity('a', 'a') = 1)::text")[0], "true");

    // Debian packages debversion and rdkit, but the server refuses to create them (their
    // operators clash with PostgreSQL 15's checks): blocked, naming them, nothing else lost.
    c.ok(&["config", PG, "plugin_debversion_enable=true", "plugin_rdkit_enable=true"]);
    wait_unit(&c, "blocked on extensions the server cannot create", |s, m| {
        s == "blocked" && m.contains("debversion") && m.contains("rdkit")
    });
    c.ok(&["config", PG, "--reset", "plugin_debversion_enable,plugin_rdkit_enable"]);
    wait_unit(&c, "active again", |s, _| s == "active");
    assert_eq!(s.row("SELECT levenshtein('a', 'b')::text")[0], "1");
}
