//! Issue 13, "nothing accepted and ignored": every flag of every verb, as clap itself
//! lists them (`tether __flags`), is either honoured (an entry names the test that shows
//! it, and that test must exist) or refused with exactly `ERROR option --X is not
//! supported by tether: <why>`, exit 2, before anything starts. A flag added later
//! without an entry here fails `every_flag_is_honoured_or_refused`.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// What tether does with one flag.
enum Is {
    /// Honoured; `path::function` (from the repository root) is a test that shows it.
    Honoured(&'static str),
    /// Refused; the argv (after `tether`) that passes it.
    Refused(&'static [&'static str]),
}

use Is::*;

const CLI_ERRORS: &str = "crates/tether/tests/cli_errors.rs::integrate_infers_endpoints_and_reports_juju_errors";
const DRY_RUNS: &str = "crates/tether/tests/every_flag.rs::models_machines_dry_runs_and_quiet";
const PY_MODEL: &str = "tests/python/test_cli.py::test_add_and_destroy_model";
const PY_UNITS: &str = "tests/python/test_postgresql.py::test_add_and_remove_units";
const PY_CONFIG: &str = "tests/python/test_postgresql.py::test_config_get_set";
const PY_SECRETS: &str = "tests/python/test_cli.py::test_model_secrets";
const PY_VERSION: &str = "tests/python/test_cli.py::test_version_show_model_model_config";
const EXTERNAL: &str = "crates/tether/tests/external_charm.rs::leader_settings_resources_storage_and_credentials";
const SHELL_CHARM: &str = "crates/tether/tests/external_charm.rs::shell_charm_runs_hooks_tools_and_commit_semantics";
const NO_SECRET: &str = "crates/tether/tests/no_secret_in_clear.rs::no_issued_password_in_any_file_log_or_view";
const SHOW_UNIT: &str = "crates/tether/tests/relation_rotation.rs::show_unit_fills_addresses_and_filters";
const PARAMS: &str = "crates/tether/src/cli/params.rs::values_are_yaml_typed_unless_string_args";
const STATUS: &str = "crates/tether/tests/status_wait.rs::status_selectors_formats_and_times";
const WATCH: &str = "crates/tether/tests/status_wait.rs::status_watch_prints_snapshots_until_stdout_closes";
const WAIT_FOR: &str = "crates/tether/tests/status_wait.rs::wait_for_goals_queries_timeouts_and_progress";
const STATUS_TABLE: &str = "crates/tether/src/cli/output/status.rs::tabular_status_matches_juju_layout";
const BUNDLES: &str = "crates/tether/tests/bundles.rs::a_bundle_deploys_the_seed_model_once_and_overlays_and_exports_round_trip";
const ACTIONS: &str = "crates/tether/tests/actions_verbs.rs::actions_and_show_action_describe_the_charms_actions";
const OPS: &str = "crates/tether/tests/ops_logs.rs::operations_tasks_and_their_texts_follow_juju";
const REFRESH: &str = "crates/tether/tests/refresh.rs::refresh_swaps_a_local_charm_and_keeps_config_and_relations";
const LOGS: &str = "crates/tether/tests/ops_logs.rs::debug_log_filters_formats_and_follows_and_status_history_is_kept";

/// `(verb, flag, what tether does)`; verb `""` is a global flag.
const FLAGS: &[(&str, &str, Is)] = &[
    ("", "--model", Honoured(PY_MODEL)),
    ("", "--debug", Refused(&["status", "--debug"])),
    ("", "--verbose", Refused(&["status", "--verbose"])),
    ("", "--quiet", Honoured(DRY_RUNS)),
    ("add-model", "--no-switch", Honoured(PY_MODEL)),
    ("add-model", "--controller", Refused(&["add-model", "m", "--controller", "c"])),
    ("add-model", "--credential", Refused(&["add-model", "m", "--credential", "x"])),
    ("add-model", "--config", Refused(&["add-model", "m", "--config", "a=b"])),
    ("models", "--format", Honoured(DRY_RUNS)),
    ("models", "--controller", Refused(&["models", "-c", "c"])),
    ("destroy-model", "--no-prompt", Honoured(PY_MODEL)),
    ("destroy-model", "--force", Honoured(PY_MODEL)),
    // A unit's data always goes with it: destroying storage is what tether does.
    ("destroy-model", "--destroy-storage", Honoured(PY_MODEL)),
    ("destroy-model", "--release-storage", Refused(&["destroy-model", "m", "--release-storage"])),
    ("destroy-model", "--no-wait", Refused(&["destroy-model", "m", "--no-wait"])),
    ("destroy-model", "--timeout", Honoured(PY_MODEL)),
    ("deploy", "--config", Honoured(CLI_ERRORS)),
    ("deploy", "--num-units", Honoured(PY_UNITS)),
    ("deploy", "--channel", Refused(&["deploy", "postgresql-k8s", "--channel", "14/stable"])),
    ("deploy", "--trust", Honoured(EXTERNAL)),
    ("deploy", "--base", Refused(&["deploy", "postgresql-k8s", "--base", "ubuntu@22.04"])),
    ("deploy", "--series", Refused(&["deploy", "postgresql-k8s", "--series", "jammy"])),
    ("deploy", "--revision", Refused(&["deploy", "postgresql-k8s", "--revision", "5"])),
    ("deploy", "--constraints", Refused(&["deploy", "postgresql-k8s", "--constraints", "mem=1G"])),
    ("deploy", "--to", Refused(&["deploy", "postgresql-k8s", "--to", "0"])),
    ("deploy", "--bind", Refused(&["deploy", "postgresql-k8s", "--bind", "space"])),
    ("deploy", "--force", Refused(&["deploy", "postgresql-k8s", "--force"])),
    ("deploy", "--resource", Honoured(EXTERNAL)),
    ("deploy", "--storage", Refused(&["deploy", "postgresql-k8s", "--storage", "pgdata=1G"])),
    ("deploy", "--overlay", Honoured(BUNDLES)),
    ("trust", "--remove", Honoured(BUNDLES)),
    ("refresh", "--path", Honoured(REFRESH)),
    ("refresh", "--config", Honoured(REFRESH)),
    ("refresh", "--trust", Honoured(REFRESH)),
    ("refresh", "--channel", Refused(&["refresh", "a", "--channel", "latest/edge"])),
    ("refresh", "--revision", Refused(&["refresh", "a", "--revision", "3"])),
    ("refresh", "--switch", Refused(&["refresh", "a", "--switch", "other"])),
    ("refresh", "--base", Refused(&["refresh", "a", "--base", "ubuntu@22.04"])),
    ("refresh", "--force-base", Refused(&["refresh", "a", "--force-base"])),
    ("refresh", "--bind", Refused(&["refresh", "a", "--bind", "space"])),
    ("refresh", "--force", Refused(&["refresh", "a", "--force"])),
    ("refresh", "--force-units", Refused(&["refresh", "a", "--force-units"])),
    ("refresh", "--resource", Refused(&["refresh", "a", "--resource", "r=/tmp/x"])),
    ("refresh", "--storage", Refused(&["refresh", "a", "--storage", "data=1G"])),
    ("actions", "--schema", Honoured(ACTIONS)),
    ("actions", "--format", Honoured(ACTIONS)),
    ("trust", "--scope", Refused(&["trust", "pg", "--scope", "cluster"])),
    ("diff-bundle", "--overlay", Honoured(BUNDLES)),
    ("export-bundle", "--filename", Honoured(BUNDLES)),
    ("deploy", "--attach-storage", Refused(&["deploy", "postgresql-k8s", "--attach-storage", "a/0"])),
    ("deploy", "--dry-run", Honoured(DRY_RUNS)),
    ("remove-application", "--no-prompt", Honoured(EXTERNAL)),
    ("remove-application", "--force", Refused(&["remove-application", "pg", "--force"])),
    ("remove-application", "--destroy-storage", Honoured(PY_MODEL)),
    ("remove-application", "--no-wait", Refused(&["remove-application", "pg", "--no-wait"])),
    ("remove-application", "--dry-run", Honoured(DRY_RUNS)),
    ("add-unit", "--num-units", Honoured(PY_UNITS)),
    ("add-unit", "--to", Refused(&["add-unit", "pg", "--to", "0"])),
    ("add-unit", "--attach-storage", Refused(&["add-unit", "pg", "--attach-storage", "a/0"])),
    ("remove-unit", "--no-prompt", Honoured(PY_UNITS)),
    ("remove-unit", "--num-units", Honoured(PY_UNITS)),
    ("remove-unit", "--force", Refused(&["remove-unit", "pg/0", "--force"])),
    ("remove-unit", "--destroy-storage", Honoured(PY_UNITS)),
    ("remove-unit", "--no-wait", Refused(&["remove-unit", "pg/0", "--no-wait"])),
    ("integrate", "--via", Refused(&["integrate", "a", "b", "--via", "10.0.0.0/8"])),
    ("remove-relation", "--force", Refused(&["remove-relation", "a", "b", "--force"])),
    ("config", "--reset", Honoured(PY_CONFIG)),
    ("config", "--file", Honoured(SHELL_CHARM)),
    ("config", "--format", Honoured(PY_CONFIG)),
    ("run", "--params", Honoured(PARAMS)),
    ("run", "--wait", Honoured("crates/tether/tests/crash_recovery.rs::set_password")),
    ("run", "--string-args", Honoured(PARAMS)),
    ("run", "--background", Honoured(DRY_RUNS)),
    ("run", "--format", Honoured(NO_SECRET)),
    ("run", "--utc", Honoured(OPS)),
    ("run", "--color", Refused(&["run", "pg/0", "act", "--color"])),
    // tether never colours run's output.
    ("run", "--no-color", Honoured(DRY_RUNS)),
    ("status", "--format", Honoured(STATUS)),
    ("status", "--relations", Honoured(STATUS_TABLE)),
    ("status", "--color", Honoured(STATUS)),
    ("status", "--no-color", Honoured(STATUS)),
    ("status", "--utc", Honoured(STATUS)),
    ("status", "--storage", Refused(&["status", "--storage"])),
    ("status", "--watch", Honoured(WATCH)),
    ("wait-for", "--query", Honoured(WAIT_FOR)),
    ("wait-for", "--timeout", Honoured(WAIT_FOR)),
    ("wait-for", "--summary", Honoured(WAIT_FOR)),
    ("show-unit", "--format", Honoured(SHOW_UNIT)),
    ("show-unit", "--app", Honoured(SHOW_UNIT)),
    ("show-unit", "--endpoint", Honoured(SHOW_UNIT)),
    ("show-unit", "--related-unit", Honoured(SHOW_UNIT)),
    ("debug-log", "--limit", Honoured(LOGS)),
    ("debug-log", "--replay", Honoured(LOGS)),
    ("debug-log", "--no-tail", Honoured(LOGS)),
    ("debug-log", "--tail", Honoured(LOGS)),
    ("debug-log", "--level", Honoured(LOGS)),
    ("debug-log", "--include", Honoured(LOGS)),
    ("debug-log", "--exclude", Honoured(LOGS)),
    ("debug-log", "--lines", Honoured(LOGS)),
    ("debug-log", "--include-module", Honoured(LOGS)),
    ("debug-log", "--exclude-module", Honoured(LOGS)),
    ("debug-log", "--date", Honoured(LOGS)),
    ("debug-log", "--ms", Honoured(LOGS)),
    ("debug-log", "--utc", Honoured(LOGS)),
    ("debug-log", "--color", Refused(&["debug-log", "--color"])),
    ("debug-log", "--location", Refused(&["debug-log", "--location"])),
    ("show-status-log", "--days", Honoured(LOGS)),
    ("show-status-log", "", Honoured(LOGS)),
    ("show-status-log", "--type", Honoured(LOGS)),
    ("show-status-log", "--format", Honoured(LOGS)),
    ("show-status-log", "--utc", Honoured(LOGS)),
    ("operations", "--format", Honoured(OPS)),
    ("operations", "--utc", Honoured(OPS)),
    ("show-operation", "--format", Honoured(OPS)),
    ("show-operation", "--utc", Honoured(OPS)),
    ("show-task", "--watch", Honoured(OPS)),
    ("show-task", "--format", Honoured(OPS)),
    ("show-task", "--utc", Honoured(OPS)),
    ("resolve", "--no-retry", Refused(&["resolve", "pg/0", "--no-retry"])),
    ("secrets", "--format", Honoured(NO_SECRET)),
    ("secrets", "--owner", Honoured("crates/tether/src/cli/output/secrets.rs::owner_filter_accepts_juju_forms")),
    ("show-secret", "--reveal", Honoured(PY_SECRETS)),
    ("show-secret", "--format", Honoured(PY_SECRETS)),
    ("show-secret", "--revisions", Refused(&["show-secret", "x", "--revisions"])),
    ("show-secret", "--revision", Refused(&["show-secret", "x", "--revision", "1"])),
    ("version", "--format", Honoured(PY_VERSION)),
    ("version", "--all", Honoured(PY_VERSION)),
    (
        "info",
        "--format",
        Honoured("crates/tether/tests/local_charms.rs::local_directory_and_packed_charm_deploy_as_passive_apps_and_show_in_info"),
    ),
    ("audit", "--format", Honoured(NO_SECRET)),
    ("audit", "--all-models", Honoured(DRY_RUNS)),
    ("model-config", "--reset", Honoured(PY_VERSION)),
    ("model-config", "--format", Honoured(PY_VERSION)),
    ("show-model", "--format", Honoured(PY_VERSION)),
    ("add-secret", "--info", Honoured(PY_SECRETS)),
    ("add-secret", "--file", Honoured(PY_SECRETS)),
    ("update-secret", "--info", Honoured(PY_SECRETS)),
    ("update-secret", "--name", Honoured(PY_SECRETS)),
    ("update-secret", "--file", Honoured(PY_SECRETS)),
    ("update-secret", "--auto-prune", Refused(&["update-secret", "x", "--auto-prune"])),
    ("remove-secret", "--revision", Refused(&["remove-secret", "x", "--revision", "1"])),
    ("exec", "--unit", Honoured(DRY_RUNS)),
    ("exec", "--machine", Refused(&["exec", "--machine", "0", "--", "true"])),
    ("exec", "--wait", Honoured(DRY_RUNS)),
    ("exec", "--format", Honoured(DRY_RUNS)),
    (
        "charms",
        "--format",
        Honoured("crates/tether/tests/local_charms.rs::local_directory_and_packed_charm_deploy_as_passive_apps_and_show_in_info"),
    ),
    ("charms", "--controller", Refused(&["charms", "--controller", "c"])),
    ("machines", "--format", Honoured(DRY_RUNS)),
    ("machines", "--controller", Refused(&["machines", "-c", "c"])),
    ("destroy-controller", "--no-prompt", Honoured(EXTERNAL)),
    // destroy-controller always destroys every model and its data.
    ("destroy-controller", "--destroy-all-models", Honoured(EXTERNAL)),
    ("destroy-controller", "--destroy-storage", Honoured(EXTERNAL)),
    ("destroy-controller", "--force", Refused(&["destroy-controller", "-y", "--force"])),
];

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).expect("repository root")
}

/// `path::function` names a test function that exists.
fn test_exists(reference: &str) -> Result<(), String> {
    let (path, name) = reference.rsplit_once("::").ok_or_else(|| format!("{reference}: not path::function"))?;
    let text = std::fs::read_to_string(repo_root().join(path)).map_err(|e| format!("{reference}: {e}"))?;
    let defined = text.contains(&format!("fn {name}(")) || text.contains(&format!("def {name}("));
    if defined {
        Ok(())
    } else {
        Err(format!("{reference}: no such test"))
    }
}

#[test]
fn every_flag_is_honoured_or_refused() {
    let c = Controller::unstarted();
    let listed = c.ok(&["__flags"]);
    let flags: Vec<(String, String)> = listed
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            (v["verb"].as_str().unwrap_or_default().to_string(), v["flag"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    assert!(flags.len() > 50, "{}", listed.stdout);
    let mut problems = Vec::new();
    for (verb, flag) in &flags {
        if !FLAGS.iter().any(|(v, f, _)| v == verb && f == flag) {
            problems.push(format!("`{verb} {flag}` has no entry: honour it (naming its test) or refuse it"));
        }
    }
    for (verb, flag, is) in FLAGS {
        if !flags.iter().any(|(v, f)| v == verb && f == flag) {
            problems.push(format!("`{verb} {flag}` is listed here but clap has no such flag"));
            continue;
        }
        match is {
            Honoured(reference) => {
                if let Err(e) = test_exists(reference) {
                    problems.push(format!("`{verb} {flag}`: {e}"));
                }
            }
            Refused(argv) => {
                let out = c.tether(argv);
                let want = format!("ERROR option {flag} is not supported by tether: ");
                if out.code != 2 || out.stderr.lines().count() != 1 || !out.stderr.starts_with(&want) || !out.stdout.is_empty() {
                    problems.push(format!("`{verb} {flag}` is not refused as it should be:\n{out}"));
                }
            }
        }
    }
    // Refusals come before anything: no controller was started.
    let left: Vec<_> = std::fs::read_dir(c.home()).expect("home").flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "a refusal touched the home: {left:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn bootstrap_refuses_juju_flags_by_name() {
    let c = Controller::unstarted();
    for flag in ["--config", "--constraints", "--bootstrap-base", "--credential"] {
        c.tether(&["bootstrap", "localhost", "ctrl", flag, "x=y"])
            .assert_code(2)
            .assert_one_line_error(&format!("option {flag} is not supported by tether: "));
    }
    assert!(c.controller_pid().is_none());
}

#[test]
fn mistyped_verbs_and_flags_get_a_suggestion_on_one_line() {
    let c = Controller::unstarted();
    let out = c.tether(&["stauts"]);
    out.assert_code(2);
    assert_eq!(out.stderr, "ERROR unrecognized command \"stauts\"; did you mean \"status\"?\n");
    let out = c.tether(&["status", "--formt", "json"]);
    out.assert_code(2);
    assert_eq!(out.stderr, "ERROR option provided but not defined: --formt; did you mean \"--format\"?\n");
    let out = c.tether(&["status", "--zzzzzz"]);
    assert_eq!(out.stderr, "ERROR option provided but not defined: --zzzzzz\n");
    let huge = format!("--{}", "x".repeat(100_000));
    let out = c.tether(&["status", &huge]);
    assert!(out.stderr.len() < 200 && out.stderr.lines().count() == 1, "{out}");
}

/// The README's shell blocks name only verbs the CLI has.
#[test]
fn readme_names_only_verbs_that_exist() {
    let c = Controller::unstarted();
    let verbs: Vec<String> = c
        .ok(&["__flags"])
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["verb"].as_str().map(str::to_string))
        .collect();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let mut in_shell = false;
    let mut named = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_shell = line.starts_with("```shell") || line.starts_with("```sh") || line.starts_with("```bash");
            continue;
        }
        if in_shell {
            if let Some(rest) = line.trim_start().strip_prefix("tether ") {
                named.push(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
    }
    assert!(named.len() > 10, "{named:?}");
    for verb in &named {
        // A verb without flags of its own is not in `__flags`: ask clap for its help.
        let exists = verbs.iter().any(|v| v == verb || v.starts_with(&format!("{verb} "))) || c.tether(&[verb, "--help"]).code == 0;
        assert!(exists, "README.md names `tether {verb}`, which is not a verb");
    }
}

#[test]
fn models_machines_dry_runs_and_quiet() {
    let c = Controller::bootstrap();
    // models: Juju's columns, the current model starred; JSON keeps its shape.
    let table = c.ok(&["models"]).stdout;
    assert!(table.starts_with("Controller: tether\n\nModel"), "{table}");
    for column in ["Cloud/Region", "Type", "Status", "Units", "Access", "Last connection"] {
        assert!(table.contains(column), "{table}");
    }
    assert!(table.contains("default*"), "{table}");
    let models = c.ok(&["models", "--format", "json"]).json();
    assert_eq!(models["current-model"], "default");

    // machines: always none, in every format; an unknown model is an error.
    assert_eq!(c.ok(&["machines", "--format", "json"]).json(), serde_json::json!({"machines": {}}));
    let out = c.ok(&["machines"]);
    assert_eq!((out.stdout.as_str(), out.stderr.trim()), ("", "No machines to display."));
    c.tether(&["machines", "-m", "nosuch"]).assert_code(1);

    // deploy --dry-run says what would be deployed and deploys nothing.
    let before = c.status();
    let out = c.ok(&["deploy", "data-integrator", "di", "-n", "2", "--config", "database-name=dry", "--dry-run"]);
    for want in ["\"data-integrator\"", "\"di\"", "2 units", "database-name=dry", "nothing was deployed"] {
        assert!(out.stderr.contains(want), "{want}: {out}");
    }
    assert_eq!(c.status()["applications"], before["applications"]);
    // A dry run checks what a deploy would: a bad option is refused the same way.
    c.tether(&["deploy", "data-integrator", "--config", "nosuch=1", "--dry-run"]).assert_code(1).assert_one_line_error("nosuch");

    c.ok(&["deploy", "data-integrator", "di", "--config", "database-name=dry"]);
    c.tether(&["deploy", "data-integrator", "di", "--dry-run"]).assert_code(1).assert_one_line_error("already exists");
    // remove-application --dry-run names the application and its units, removes nothing.
    let out = c.ok(&["remove-application", "di", "--dry-run"]);
    assert_eq!(out.stderr, "will remove application di\n- will remove unit di/0\n");
    assert!(has_app(&c.status(), "di"));
    c.tether(&["remove-application", "nosuch", "--dry-run"]).assert_code(1).assert_one_line_error("not found");

    // --quiet drops the informational lines, never the error.
    assert_eq!(c.ok(&["remove-application", "di", "--dry-run", "--quiet"]).stderr, "");
    c.tether(&["remove-application", "nosuch", "--dry-run", "--quiet"]).assert_one_line_error("not found");

    // exec --unit/--wait/--format; run --background and --no-color (run never colours).
    let out = c.ok(&["exec", "--unit", "di/0", "--wait", "30s", "--format", "json", "--", "echo", "hi"]);
    assert_eq!(out.json()["di/0"]["results"]["stdout"], "hi\n", "{out}");
    let out = c.ok(&["run", "di/0", "get-credentials", "--background"]);
    assert!(out.stderr.starts_with("Scheduled operation"), "{out}");
    let out = c.tether(&["run", "di/0", "get-credentials", "--no-color"]);
    assert!(!out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'), "{out}");
    let out = c.ok(&["audit", "--all-models", "--format", "json"]);
    assert!(out.json().is_array(), "{out}");
}
