//! External charms end to end (issue 5 part 2, juju-compat.md §C1–§C7): a charm written
//! in sh (`tests/charms/shell-probe`) deployed from its directory runs its hooks through
//! `dispatch`, talks back through the hook tools, and gets Juju's commit semantics and
//! error texts. Its `probe` action runs any shell command with the hook tools on `PATH`
//! and reports exit code, stdout and stderr, which is how the tool errors are checked.

mod common;

use common::*;
use serde_json::{json, Value};

const CHARM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/shell-probe");

/// Runs `cmd` in the unit's `probe` action; returns (exit code, stdout, stderr).
fn probe(c: &Controller, unit: &str, cmd: &str) -> (i64, String, String) {
    let params = tempfile::NamedTempFile::new().expect("params file");
    std::fs::write(params.path(), json!({ "cmd": cmd }).to_string()).expect("write params");
    let r = c.action_results(unit, "probe", &["--params", params.path().to_str().unwrap()]);
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    (s("code").parse().unwrap_or(-1), s("out"), s("err"))
}

fn unit_message(status: &Value, unit: &str) -> (String, String) {
    let app = unit.split('/').next().unwrap();
    let w = &status["applications"][app]["units"][unit]["workload-status"];
    (w["current"].as_str().unwrap_or("").to_string(), w["message"].as_str().unwrap_or("").to_string())
}

#[test]
fn shell_charm_runs_hooks_tools_and_commit_semantics() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", CHARM, "a"]);
    c.ok(&["deploy", CHARM, "b", "-n", "2"]);
    // install → maintenance, start → active "ready" (status-set reaches status).
    let status = c.wait_active(&["a", "b"]);
    assert_eq!(unit_message(&status, "a/0"), ("active".into(), "ready".into()));

    // relation-set on a's side reaches relation-get on b's side.
    c.ok(&["integrate", "a:out", "b:in"]);
    c.wait_for("b to hear a's greeting", |s| Ok(["b/0", "b/1"].iter().all(|u| unit_message(s, u).1 == "got: hello from a/0")));
    let (code, out, _) = probe(&c, "b/0", "relation-get --format=json -r $(relation-ids in) --app - a");
    assert_eq!((code, serde_json::from_str::<Value>(&out).unwrap()), (0, json!({"app-greeting": "hi from a"})));
    assert_eq!(probe(&c, "b/1", "is-leader --format=json").1, "false");
    assert_eq!(probe(&c, "b/0", "is-leader").1, "True");
    let (_, out, _) = probe(&c, "b/0", "config-get --format=json");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!({"fail-hook": ""}));

    // Tool errors: Juju's texts, exit 1, `ERROR ...` on stderr.
    let (code, _, err) = probe(&c, "b/0", "relation-get -r 999 - a/0");
    assert_eq!((code, err.as_str()), (1, "ERROR relation 999 not found"));
    let (code, _, err) = probe(&c, "b/1", "relation-set -r $(relation-ids in) --app x=y");
    assert_eq!((code, err.as_str()), (1, "ERROR cannot write relation settings"));
    let (code, _, err) = probe(&c, "b/0", "echo '{\"a\":' | relation-set -r $(relation-ids in) --file -");
    assert_eq!(code, 1);
    assert!(err.starts_with("ERROR cannot parse settings file"), "{err}");
    let (code, _, err) = probe(&c, "b/0", "status-set dancing");
    assert_eq!((code, err.as_str()), (2, "ERROR invalid status \"dancing\", expected one of [maintenance blocked waiting active]"));

    // Secrets: not granted → not found; granted → readable.
    let (code, id, _) = probe(&c, "a/0", "secret-add --label s1 password=pw");
    assert_eq!(code, 0);
    assert!(id.starts_with("secret:"), "{id}");
    let (code, _, err) = probe(&c, "b/0", &format!("secret-get {id}"));
    assert_eq!(code, 1);
    assert!(err.starts_with("ERROR") && err.contains("not found"), "{err}");
    assert_eq!(probe(&c, "a/0", &format!("secret-grant -r $(relation-ids out) {id}")).0, 0);
    assert_eq!(probe(&c, "b/0", &format!("secret-get {id} password")), (0, "pw".into(), String::new()));
    let (_, info, _) = probe(&c, "a/0", "secret-info-get --label s1 --format=json");
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info.as_object().unwrap().values().next().unwrap()["revision"], 1, "{info}");

    // A failing hook: unit in error, its relation writes not committed; resolve retries.
    c.ok(&["config", "a", "fail-hook=config-changed"]);
    c.wait_for("a/0 to fail config-changed", |s| Ok(unit_message(s, "a/0") == ("error".into(), "hook failed: \"config-changed\"".into())));
    let (code, out, _) = probe(&c, "b/0", "relation-get -r $(relation-ids in) poison a/0");
    assert_eq!((code, out.as_str()), (0, ""), "the failed hook's relation-set must not be committed");
    c.ok(&["config", "a", "--reset", "fail-hook"]);
    c.ok(&["resolve", "a/0"]);
    // The retry runs after `resolve` returns, so `error` may still show for a moment.
    c.wait_for("a/0 to succeed on retry", |s| Ok(unit_message(s, "a/0") == ("active".into(), "ready".into())));

    // An action whose process fails: task failed, `exit status 4`, outputs in results.
    let (out, task) = c.run_action("a/0", "boom", &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("task failed"), "{out}");
    assert_eq!(task["status"], "failed", "{out}");
    assert_eq!(task["message"], "exit status 4", "{out}");
    assert_eq!(task["results"]["return-code"], 4, "{out}");
    assert_eq!(task["results"]["stdout"], "about to fail\n", "{out}");

    // The controller is unharmed by all of the above.
    assert_eq!(probe(&c, "a/0", "relation-ids out").0, 0);
    let logs = c.ok(&["debug-log", "--limit", "500"]);
    assert!(logs.stdout.contains("running hooks/install"), "{logs}");
}

#[test]
fn hook_tools_refuse_unknown_contexts() {
    let c = Controller::bootstrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ln -s {TETHER} \"$D/relation-get\" && \"$D/relation-get\" - a/0"))
        .env("D", c.home())
        .env("JUJU_AGENT_SOCKET_ADDRESS", c.home().join("controller.sock"))
        .env("JUJU_CONTEXT_ID", "app-0-install-guessed")
        .output()
        .expect("run relation-get");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ERROR permission denied"), "{err}");
    c.ok(&["status"]);
}
