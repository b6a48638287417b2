//! External charms end to end (issue 5 part 2, juju-compat.md §C1–§C7): a charm written
//! in sh (`tests/charms/shell-probe`) deployed from its directory runs its hooks through
//! `dispatch`, talks back through the hook tools, and gets Juju's commit semantics and
//! error texts. Its `probe` action runs any shell command with the hook tools on `PATH`
//! and reports exit code, stdout and stderr, which is how the tool errors are checked.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const CHARM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/shell-probe");

fn probe(c: &Controller, unit: &str, cmd: &str) -> (i64, String, String) {
    c.probe(unit, cmd)
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
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!({"fail-hook": "", "slow-hook": ""}));

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

/// Leader settings, resources, storage and the cloud credential (juju-compat.md §C4):
/// `leader-set` by the leader only, heard by the others as `leader-settings-changed`;
/// `deploy --resource` copies the file and `resource-get` hands back its path; each
/// declared storage is a directory, attached before install; `credential-get` answers
/// only a trusted application. Bad `--resource` input deploys nothing.
#[test]
fn leader_settings_resources_storage_and_credentials() {
    let c = Controller::bootstrap();
    let files = tempfile::tempdir().expect("tempdir");
    let resource = files.path().join("settings.txt");
    std::fs::write(&resource, "resource content").expect("write resource");
    let resource_arg = format!("config-file={}", resource.display());

    c.tether(&["deploy", CHARM, "r", "--resource", "nonsense"]).assert_one_line_error("expected NAME=PATH");
    c.tether(&["deploy", CHARM, "r", "--resource", "unknown=/etc/hostname"]).assert_one_line_error("not found in charm metadata");
    c.tether(&["deploy", CHARM, "r", "--resource", "config-file=/nonexistent/file"]).assert_one_line_error("is not a readable file");
    assert!(!has_app(&c.status(), "r"), "a refused deploy records nothing");
    assert!(!c.home().join("resources").exists() || walk_files(&c.home().join("resources")).is_empty(), "and copies nothing");

    c.ok(&["deploy", CHARM, "r", "-n", "2", "--resource", &resource_arg, "--trust"]);
    c.ok(&["deploy", CHARM, "u"]);
    c.wait_active(&["r", "u"]);

    // resource-get: a private copy, which outlives the original.
    std::fs::remove_file(&resource).expect("remove the original");
    let (code, path, _) = probe(&c, "r/1", "resource-get config-file");
    assert_eq!(code, 0);
    assert!(path.starts_with(&c.home().display().to_string()), "{path}");
    assert_eq!(probe(&c, "r/0", "cat \"$(resource-get config-file)\""), (0, "resource content".into(), String::new()));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
    let (code, _, err) = probe(&c, "u/0", "resource-get config-file");
    assert_eq!(code, 1);
    assert!(err.starts_with("ERROR could not download resource") && err.contains("was not supplied"), "{err}");
    let (code, _, err) = probe(&c, "r/0", "resource-get nope");
    assert_eq!(code, 1, "{err}");

    // credential-get: trusted only.
    let (code, out, _) = probe(&c, "r/0", "credential-get --format=json");
    assert_eq!(code, 0);
    let cred: Value = serde_json::from_str(&out).expect("credential json");
    assert_eq!((cred["type"].as_str(), cred["credential"]["auth-type"].as_str()), (Some("local"), Some("empty")), "{cred}");
    let (code, _, err) = probe(&c, "u/0", "credential-get");
    assert_eq!(code, 1);
    assert!(err.starts_with("ERROR cannot access cloud credentials"), "{err}");
    let config: Value = serde_json::from_str(&c.ok(&["config", "r", "--format", "json"]).stdout).expect("config json");
    assert_eq!(config["application-config"]["trust"]["value"], json!(true), "{config}");

    // Storage: attached before install, a directory per instance; storage-add commits with the hook.
    assert_eq!(probe(&c, "r/0", "storage-list --format=json").1, r#"["data/0"]"#);
    let (code, out, _) = probe(&c, "r/0", "cat \"$(storage-get -s data/0 location)/attached\"");
    assert_eq!((code, out.as_str()), (0, "data/0 filesystem"), "the storage-attached hook ran with its environment");
    let (_, out, _) = probe(&c, "r/0", "storage-get --format=json -s data/0");
    let got: Value = serde_json::from_str(&out).expect("storage json");
    assert_eq!(got["kind"], "filesystem");
    assert!(got["location"].as_str().is_some_and(|l| l.starts_with(&c.home().display().to_string())), "{got}");
    assert_eq!(probe(&c, "r/0", "storage-add data=2").0, 0);
    assert_eq!(probe(&c, "r/0", "storage-list data --format=json").1, r#"["data/0","data/1","data/2"]"#);
    wait_until("storage-attached to run for the added data/2", Duration::from_secs(60), || {
        let (_, out, err) = probe(&c, "r/0", "cat \"$(storage-get -s data/2 location)/attached\"");
        if out == "data/2 filesystem" {
            Ok(())
        } else {
            Err(format!("{out}{err}"))
        }
    });
    let (code, _, err) = probe(&c, "r/0", "storage-get -s data/9");
    assert_eq!((code, err.as_str()), (1, "ERROR storage instance \"data/9\" not found"));
    assert_eq!(probe(&c, "r/0", "storage-add nope").0, 1);
    assert_eq!(probe(&c, "r/0", "storage-add data=0").0, 2);

    // Leader settings.
    let (code, _, err) = probe(&c, "r/1", "leader-set greeting=nope");
    assert_eq!((code, err.as_str()), (1, "ERROR cannot write settings: not the leader"));
    assert_eq!(probe(&c, "r/0", "leader-set greeting=hello other=x").0, 0);
    c.wait_for("r/1 to hear the leader's settings", |s| Ok(unit_message(s, "r/1") == ("active".into(), "leader says: hello".into())));
    assert_eq!(probe(&c, "r/1", "leader-get greeting"), (0, "hello".into(), String::new()));
    assert_eq!(probe(&c, "r/0", "leader-set other=").0, 0, "an empty value deletes");
    let (_, out, _) = probe(&c, "r/1", "leader-get --format=json");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!({"greeting": "hello"}));
    assert_eq!(probe(&c, "u/0", "leader-get --format=json").1, "{}", "settings are per application");

    // A leaving unit detaches its storage between stop and remove.
    c.ok(&["remove-unit", "r/1", "--no-prompt"]);
    wait_log(&c, "storage-detaching data/0 of r/1 at ");

    // Tools of other substrates say so.
    for tool in ["juju-reboot", "pod-spec-set", "add-metric key=1"] {
        let (code, _, err) = probe(&c, "r/0", tool);
        assert_eq!(code, 1, "{tool}: {err}");
        assert!(err.starts_with("ERROR") && err.contains("not supported"), "{tool}: {err}");
    }

    // Removing the application removes what deploy kept for it.
    assert!(!walk_files(&c.home().join("resources")).is_empty());
    c.ok(&["remove-application", "r", "--no-prompt"]);
    c.wait_for("r to go", |s| Ok(!has_app(s, "r")));
    assert!(walk_files(&c.home().join("resources")).is_empty(), "the resource copy is removed with its application");
}

/// `controller stop` while a hook runs: the controller lets the hook finish before it
/// stops, and keeps answering its hook tools meanwhile (they are requests on its socket),
/// so the hook neither dies half-way nor fails on a tool and comes back as an error.
#[test]
fn a_hook_running_when_the_controller_stops_finishes_and_its_tools_answer() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", CHARM, "a"]);
    c.wait_active(&["a"]);
    let unit = c.unit_dir("a/0");
    c.ok(&["config", "a", "slow-hook=config-changed"]);
    wait_until("the slow hook to start", Duration::from_secs(60), || {
        if unit.join("slow-hook-running").exists() {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    });
    c.ok(&["controller", "stop"]);
    let done = std::fs::read_to_string(unit.join("slow-hook-done")).unwrap_or_default();
    assert_eq!(done, "done\n", "the hook ran to its end and its status-set answered before the controller stopped");

    // The next controller finds the unit well, not in error.
    c.wait_for("a/0 active and idle after the restart", |s| {
        let agent = s["applications"]["a"]["units"]["a/0"]["juju-status"]["current"].as_str().unwrap_or_default().to_string();
        assert_ne!(agent, "error", "a/0 came back in error: {s:#}");
        Ok(agent == "idle" && unit_message(s, "a/0").0 == "active")
    });
}

/// Waits until `debug-log` has a line containing `needle`.
fn wait_log(c: &Controller, needle: &str) {
    wait_until(&format!("debug-log to say {needle:?}"), Duration::from_secs(60), || {
        let log = c.ok(&["debug-log", "--limit", "100000"]).stdout;
        if log.contains(needle) {
            Ok(())
        } else {
            Err(log)
        }
    });
}

/// The secret hooks an owner hears over time (juju-compat.md §C4, §C6): `secret-rotate`
/// when its rotation policy falls due (intervals shortened to 2 s for the test),
/// `secret-expired` when a revision's expiry passes, and `secret-remove` for a revision
/// no consumer tracks any more, which the charm then prunes with `secret-remove --revision`.
#[test]
fn secret_rotation_expiry_and_obsolete_revisions_reach_the_owner() {
    let c = Controller::bootstrap();
    c.ok(&["controller", "stop"]);
    c.start_controller_with_env(&[("TETHER_SECRET_ROTATE_INTERVAL", "2s")]);
    c.ok(&["deploy", CHARM, "a"]);
    c.ok(&["deploy", CHARM, "b"]);
    c.wait_active(&["a", "b"]);
    c.ok(&["integrate", "a:out", "b:in"]);
    c.wait_for("b to hear a", |s| Ok(unit_message(s, "b/0").1 == "got: hello from a/0"));

    let (code, _, err) = probe(&c, "a/0", "secret-add --rotate fortnightly key=1");
    assert_eq!(
        (code, err.as_str()),
        (2, "ERROR invalid secret rotate policy \"fortnightly\", expected one of never, hourly, daily, weekly, monthly, quarterly, yearly")
    );
    let (code, _, err) = probe(&c, "a/0", "secret-add --expire soon key=1");
    assert_eq!(code, 2, "{err}");

    let (_, rotating, _) = probe(&c, "a/0", "secret-add --label rot --rotate hourly password=one");
    let (_, info, _) = probe(&c, "a/0", "secret-info-get --label rot --format=json");
    let info: Value = serde_json::from_str(&info).expect("info json");
    let entry = info.as_object().and_then(|m| m.values().next()).cloned().unwrap_or_default();
    assert_eq!(entry["rotation"], "hourly", "{info}");
    assert!(entry["rotates"].as_str().is_some_and(|t| t.ends_with('Z')), "{info}");
    wait_log(&c, &format!("secret-rotate {rotating}"));

    let (_, expiring, _) = probe(&c, "a/0", "secret-add --label exp --expire 2s token=t");
    wait_log(&c, &format!("secret-expired {expiring} revision 1"));
    // An expiry belongs to its revision: a new revision without --expire has none.
    let (_, renewed, _) = probe(&c, "a/0", "secret-add --label exp2 --expire 1h token=t");
    assert!(probe(&c, "a/0", "secret-info-get --label exp2 --format=json").1.contains("\"expiry\""));
    assert_eq!(probe(&c, "a/0", &format!("secret-set {renewed} token=u")).0, 0);
    assert!(!probe(&c, "a/0", "secret-info-get --label exp2 --format=json").1.contains("\"expiry\""));

    // A consumer tracks revision 1: the new revision makes nothing obsolete until it refreshes.
    let (_, shared, _) = probe(&c, "a/0", "secret-add --label shared val=one");
    assert_eq!(probe(&c, "a/0", &format!("secret-grant -r $(relation-ids out) {shared}")).0, 0);
    assert_eq!(probe(&c, "b/0", &format!("secret-get {shared} val")).1, "one");
    assert_eq!(probe(&c, "a/0", &format!("secret-set {shared} val=two")).0, 0);
    assert_eq!(probe(&c, "b/0", &format!("secret-get {shared} val")).1, "one", "b still tracks revision 1");
    let log = c.ok(&["debug-log", "--limit", "100000"]).stdout;
    assert!(!log.contains(&format!("secret-remove {shared}")), "revision 1 is still tracked:\n{log}");
    assert_eq!(probe(&c, "b/0", &format!("secret-get --refresh {shared} val")).1, "two");
    wait_log(&c, &format!("secret-remove {shared} revision 1"));

    // Nobody tracks an unshared secret's old revision: it is obsolete at once.
    let (_, solo, _) = probe(&c, "a/0", "secret-add --label solo val=one");
    assert_eq!(probe(&c, "a/0", &format!("secret-set {solo} val=two")).0, 0);
    wait_log(&c, &format!("secret-remove {solo} revision 1"));
    let (code, _, err) = probe(&c, "a/0", &format!("secret-remove {solo} --revision x"));
    assert_eq!(code, 2, "{err}");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
