//! `refresh APP --path DIR` (issue 13 item 8), as Juju 3.6 refreshes a local charm:
//! the new metadata replaces the old, every unit's charm directory is swapped (keeping
//! what the charm wrote there), `upgrade-charm` then `config-changed` run in the new
//! charm, config values and relations are kept; a charm that drops an endpoint still in
//! use, or a built-in charm, is refused and nothing changes.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

const CHARM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/shell-probe");

/// shell-probe's files, with `dispatch` kept as `dispatch-v1` behind a new `dispatch`
/// (version `label`) that handles `upgrade-charm` (it records that it ran) and
/// `config-changed` and `start` (they report whether upgrade-charm ran before them, in
/// the new charm; `start` too, since a restarted controller runs it on every unit) and
/// hands every other hook to v1.
fn new_version(dir: &Path, label: &str, metadata: Option<&str>) {
    for f in ["actions.yaml", "config.yaml", "metadata.yaml"] {
        std::fs::copy(Path::new(CHARM).join(f), dir.join(f)).unwrap();
    }
    std::fs::copy(Path::new(CHARM).join("dispatch"), dir.join("dispatch-v1")).unwrap();
    let dispatch = format!(
        "#!/bin/sh\n\
         case \"$JUJU_DISPATCH_PATH\" in\n\
         hooks/upgrade-charm) echo \"upgraded to {label} by $JUJU_UNIT_NAME\" > upgraded; exit 0 ;;\n\
         hooks/config-changed|hooks/start) status-set active \"{label}, $(cat upgraded 2>/dev/null || echo not upgraded), fail-hook=$(config-get fail-hook)\"; exit 0 ;;\n\
         esac\n\
         exec ./dispatch-v1\n"
    );
    std::fs::write(dir.join("dispatch"), dispatch).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("dispatch"), std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(m) = metadata {
        std::fs::write(dir.join("metadata.yaml"), m).unwrap();
    }
}

/// The charms stored for the model's applications (nothing staged or set aside left over).
fn stored_charms(c: &Controller) -> Vec<String> {
    let models: Vec<_> = std::fs::read_dir(c.home().join("charms")).unwrap().flatten().collect();
    assert_eq!(models.len(), 1);
    let mut names: Vec<String> =
        std::fs::read_dir(models[0].path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn message(status: &Value, unit: &str) -> String {
    let app = unit.split('/').next().unwrap();
    status["applications"][app]["units"][unit]["workload-status"]["message"].as_str().unwrap_or("").to_string()
}

#[test]
fn refresh_swaps_a_local_charm_and_keeps_config_and_relations() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", CHARM, "a", "-n", "2"]);
    c.ok(&["deploy", CHARM, "b"]);
    c.ok(&["deploy", "data-integrator", "di"]);
    c.ok(&["config", "a", "fail-hook=never"]);
    c.ok(&["integrate", "a:out", "b:in"]);
    c.wait_for("b to hear a's greeting", |s| Ok(message(s, "b/0").starts_with("got: hello from a/")));
    // A file the charm makes in its own directory, which a refresh must keep.
    assert_eq!(c.probe("a/0", "echo mine > made-by-charm").0, 0);

    // A new version that drops the `out` endpoint, still related: Juju's refusal, nothing changed.
    let dropped = tempfile::tempdir().unwrap();
    let meta = std::fs::read_to_string(Path::new(CHARM).join("metadata.yaml"))
        .unwrap()
        .replace("provides:\n  out:\n    interface: shell-probe\n", "");
    new_version(dropped.path(), "v2", Some(&meta));
    c.tether(&["refresh", "a", "--path", dropped.path().to_str().unwrap()])
        .assert_one_line_error("cannot upgrade application \"a\" to charm \"local:shell-probe-1\": would break relation \"b:in a:out\"");
    // A new version whose option's type refuses the value set now: refused, naming it.
    let retyped = tempfile::tempdir().unwrap();
    new_version(retyped.path(), "v2", None);
    std::fs::write(retyped.path().join("config.yaml"), "options:\n  fail-hook:\n    type: int\n    default: 0\n").unwrap();
    c.tether(&["refresh", "a", "--path", retyped.path().to_str().unwrap()])
        .assert_one_line_error("to charm \"local:shell-probe-1\": option \"fail-hook\" expected int, got \"never\"");
    // A built-in charm is not refreshed from a path.
    c.tether(&["refresh", "di", "--path", CHARM]).assert_one_line_error("it runs tether's built-in charm \"data-integrator\"");
    // Without --path there is nowhere to refresh from.
    c.tether(&["refresh", "a"]).assert_one_line_error("refresh a local charm with --path");
    let status = c.status();
    assert_eq!(status["applications"]["a"]["charm"], "local:shell-probe-0", "{status}");
    assert_eq!(stored_charms(&c), ["a", "b"], "a refused refresh left something behind");

    // The new version: upgrade-charm, then config-changed, in the new charm on every unit.
    // Version two also brings a new peer endpoint, which gets its relation.
    let v2 = tempfile::tempdir().unwrap();
    let peers = "  probe-peers:\n    interface: shell-probe-peers\n";
    let meta = std::fs::read_to_string(Path::new(CHARM).join("metadata.yaml")).unwrap();
    assert!(meta.contains(peers), "{meta}");
    new_version(v2.path(), "v2", Some(&meta.replace(peers, &format!("{peers}  v2-peers:\n    interface: shell-probe-v2\n"))));
    let out = c.ok(&["refresh", "a", "--path", v2.path().to_str().unwrap(), "--config", "fail-hook=nothing", "--trust"]);
    assert!(out.stderr.contains("Added local charm \"shell-probe\", revision 1, to the model"), "{out}");
    let status = c.wait_for("a's units to run the new charm", |s| {
        Ok(["a/0", "a/1"].iter().all(|u| message(s, u) == format!("v2, upgraded to v2 by {u}, fail-hook=nothing")))
    });
    let app = &status["applications"]["a"];
    assert_eq!((app["charm"].as_str(), app["charm-rev"].as_i64()), (Some("local:shell-probe-1"), Some(1)), "{status}");

    // Kept: the relation (and its data), what the charm wrote in its directory; changed: config and trust.
    assert_eq!(related_apps(&status, "a", "out"), ["b"], "{status}");
    assert_eq!(related_apps(&status, "a", "v2-peers"), ["a"], "{status}");
    let peer_joined =
        |s: &Value| Ok(message(s, "a/0").starts_with("v2") && c.probe("a/0", "relation-list -r $(relation-ids v2-peers)").1 == "a/1");
    c.wait_for("a/1 to join a/0 on the new peer relation", peer_joined);
    let (code, out, _) = c.probe("b/0", "relation-get -r $(relation-ids in) greeting a/0");
    assert_eq!((code, out.as_str()), (0, "hello from a/0"));
    assert_eq!(c.probe("a/0", "cat made-by-charm").1, "mine");
    assert_eq!(c.probe("a/0", "test -e dispatch-v1 && echo new files").1, "new files");
    assert_eq!(stored_charms(&c), ["a", "b"]);
    let config = c.ok(&["config", "a", "--format", "json"]).json();
    assert_eq!(config["settings"]["fail-hook"]["value"], "nothing", "{config}");
    assert_eq!(config["application-config"]["trust"]["value"], true, "{config}");
}

/// Restarts the controller with `failpoint` armed, runs `args`, and requires the
/// controller to die there; the next command starts a plain one.
fn crash_at(c: &Controller, failpoint: &str, args: &[&str]) {
    c.ok(&["controller", "stop"]);
    c.start_controller_with_env(&[("TETHER_FAILPOINT", failpoint)]);
    let pid = c.controller_pid().expect("the armed controller runs");
    let out = c.tether(args);
    assert!(c.wait_pid_gone(pid, DEATH_TIMEOUT), "failpoint {failpoint} never fired: {out}");
    let log = std::fs::read_to_string(c.home().join("logs").join("controller.log")).unwrap_or_default();
    assert!(log.contains(&format!("failpoint {failpoint} ")), "the controller died, but not at {failpoint}: {out}");
}

#[test]
fn a_refresh_killed_midway_completes_when_run_again_or_restarted() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", CHARM, "a"]);
    c.wait_for("a to be ready", |s| Ok(message(s, "a/0") == "ready"));
    let v2 = tempfile::tempdir().unwrap();
    new_version(v2.path(), "v2", None);
    let refresh = ["refresh", "a", "--path", v2.path().to_str().unwrap()];

    // Killed after the new charm is stored, before the store names it: the unit runs on
    // its own old copy, and the same refresh run again completes it.
    crash_at(&c, "refresh.after-swap", &refresh);
    let status = c.status();
    assert_eq!(status["applications"]["a"]["charm"], "local:shell-probe-0", "{status}");
    assert_eq!(message(&status, "a/0"), "ready", "{status}");
    c.ok(&refresh);
    c.wait_for("a/0 to run the new charm", |s| Ok(message(s, "a/0") == "v2, upgraded to v2 by a/0, fail-hook="));

    // Killed in upgrade-charm after the unit's copy was swapped, before the hook
    // committed: on restart the hook runs again, swapping again to the same result.
    let v3 = tempfile::tempdir().unwrap();
    new_version(v3.path(), "v3", None);
    crash_at(&c, "hook.upgrade-charm.after-effects", &["refresh", "a", "--path", v3.path().to_str().unwrap()]);
    c.wait_for("a/0 to finish the interrupted upgrade", |s| {
        Ok(s["applications"]["a"]["charm-rev"] == 2 && message(s, "a/0") == "v3, upgraded to v3 by a/0, fail-hook=")
    });
    assert_eq!(c.probe("a/0", "test -e dispatch-v1 && cat upgraded").1, "upgraded to v3 by a/0");
}
