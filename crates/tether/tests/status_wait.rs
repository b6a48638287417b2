//! Issue 13, `status` as in Juju (selectors, formats, times in local time unless
//! `--utc`, `--watch`) and `wait-for` with Juju's query language, timeout and messages.
//! Passive data-integrator applications keep it quick: no database is started.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

/// Deploys data-integrator as `app` (blocked until it has a database name).
fn deploy_blocked(c: &Controller, app: &str) {
    c.ok(&["deploy", "data-integrator", app]);
}

#[test]
fn status_selectors_formats_and_times() {
    let c = Controller::bootstrap();
    deploy_blocked(&c, "di");
    deploy_blocked(&c, "di-two");
    deploy_blocked(&c, "other");
    c.ok(&["add-unit", "di", "--num-units", "1"]);
    c.ok(&["wait-for", "application", "di", "--query", r#"forEach(units, u => u.workload-status == "blocked") && status == "blocked""#]);
    c.ok(&["wait-for", "unit", "di/1", "--query", r#"workload-status == "blocked""#]);
    // Numbers, comparisons and Juju's built-ins: `len(units) == 2` as Juju's own example.
    c.ok(&["wait-for", "application", "di", "--query", r#"len(units) == 2 && len(units) >= 2 && startsWith(name, "d")"#]);
    c.tether(&["wait-for", "application", "di", "--query", "len(units) > 2", "--timeout", "1s"]).assert_code(1);
    c.tether(&["wait-for", "application", "di", "--query", "len(units) >= 2x"])
        .assert_one_line_error("a number is whole digits only at position 15")
        .assert_code(2);
    c.ok(&["wait-for", "unit", "other/0", "--query", r#"workload-status == "blocked""#]);
    c.ok(&["wait-for", "unit", "di-two/0", "--query", r#"workload-status == "blocked""#]);

    // Selectors: an application, a unit, a glob, several at once.
    let apps = |args: &[&str]| -> Vec<String> {
        let mut argv = vec!["status", "--format", "json"];
        argv.extend_from_slice(args);
        let s = c.ok(&argv).json();
        s["applications"].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(apps(&["di"]), ["di"]);
    assert_eq!(apps(&["di*"]), ["di", "di-two"]);
    assert_eq!(apps(&["other", "di-two"]), ["di-two", "other"]);
    assert!(apps(&["nosuch"]).is_empty());
    let s = c.ok(&["status", "--format", "json", "di/1"]).json();
    let units: Vec<&String> = s["applications"]["di"]["units"].as_object().unwrap().keys().collect();
    assert_eq!(units, ["di/1"]);
    let table = c.ok(&["status", "di/0", "other"]).stdout;
    assert!(table.contains("di/0*") && !table.contains("di/1") && table.contains("other/0") && !table.contains("di-two"), "{table}");

    // short, oneline and line: one line per unit, as Juju prints them.
    let short = c.ok(&["status", "--format", "short", "di"]).stdout;
    assert_eq!(short, "\n- di/0: 127.0.0.1 (agent:idle, workload:blocked)\n- di/1: 127.0.0.1 (agent:idle, workload:blocked)\n", "{short}");
    for f in ["oneline", "line"] {
        assert_eq!(c.ok(&["status", "--format", f, "di"]).stdout, short);
    }
    let summary = c.ok(&["status", "--format", "summary"]).stdout;
    for want in ["# Units:  (4)", "blocked:  4", "# Applications:  (3)", "di  2/2", "other  1/1"] {
        assert!(summary.contains(want), "{want}:\n{summary}");
    }

    // Times: local unless --utc, in Juju's forms.
    let local = c.tether_env(&[("TZ", "Asia/Kolkata")], &["status", "--format", "json", "di"]).json();
    let since = local["applications"]["di"]["application-status"]["since"].as_str().unwrap().to_string();
    assert!(since.ends_with("+05:30"), "{since}");
    let utc = c.tether_env(&[("TZ", "Asia/Kolkata")], &["status", "--format", "json", "--utc", "di"]).json();
    let since_utc = utc["applications"]["di"]["application-status"]["since"].as_str().unwrap().to_string();
    assert!(since_utc.ends_with('Z') && since_utc.len() == "24 Feb 2025 12:03:17Z".len(), "{since_utc}");
    let table = c.tether_env(&[("TZ", "Asia/Kolkata")], &["status"]).stdout;
    let stamp = table.lines().nth(1).and_then(|l| l.split_whitespace().last()).unwrap_or_default().to_string();
    assert!(stamp.ends_with("+05:30") && stamp.len() == "12:04:55+05:30".len(), "{table}");
    let table = c.tether_env(&[("TZ", "Asia/Kolkata")], &["status", "--utc"]).stdout;
    assert!(table.lines().nth(1).unwrap_or_default().ends_with('Z'), "{table}");

    // Colours only when asked (or on a terminal), and NO_COLOR wins over the terminal.
    assert!(c.ok(&["status", "--color"]).stdout.contains("\x1b["));
    assert!(!c.ok(&["status"]).stdout.contains('\x1b'));
    assert!(!c.ok(&["status", "--color", "--no-color"]).stdout.contains('\x1b'));

    // --storage is refused by name; a bad --watch is a usage error.
    c.tether(&["status", "--storage"]).assert_code(2).assert_one_line_error("option --storage is not supported by tether: ");
    c.tether(&["status", "--watch", "soon"]).assert_code(2).assert_one_line_error("invalid value \"soon\" for option --watch");
    c.tether(&["status", "--watch", "0s"]).assert_code(2).assert_one_line_error("must be more than zero");
}

#[test]
fn status_watch_prints_snapshots_until_stdout_closes() {
    let c = Controller::bootstrap();
    deploy_blocked(&c, "di");
    let mut child = c.spawn(&["status", "--watch", "200ms", "--format", "short"], Stdio::piped(), Stdio::null());
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    // Snapshots separated by a blank line (a pipe is not a terminal: no screen clearing).
    let mut got = Vec::new();
    while got.iter().filter(|l: &&String| l.starts_with("- di/0:")).count() < 3 {
        let mut line = String::new();
        assert!(lines.read_line(&mut line).expect("read") > 0, "status --watch stopped early: {got:?}");
        got.push(line);
    }
    assert!(got.iter().all(|l| l == "\n" || l.starts_with("- di/0: 127.0.0.1 (agent:")), "{got:?}");
    assert!(!got.concat().contains('\x1b'), "{got:?}");
    // Closing stdout ends it.
    drop(lines);
    let code = wait_until("status --watch to end once its stdout is closed", Duration::from_secs(20), || match child.try_wait() {
        Ok(Some(status)) => Ok(status.code()),
        _ => Err("still running".into()),
    });
    assert_eq!(code, Some(0));
}

#[test]
fn wait_for_goals_queries_timeouts_and_progress() {
    let c = Controller::bootstrap();
    // An application that does not exist yet is waited for.
    let mut late = c.spawn(
        &["wait-for", "application", "late", "--query", r#"status == "blocked""#, "--timeout", "3m"],
        Stdio::null(),
        Stdio::piped(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(late.try_wait().expect("try_wait").is_none(), "wait-for ended before the application existed");
    deploy_blocked(&c, "late");
    let code = wait_until("wait-for to see the late application", SETTLE_TIMEOUT, || match late.try_wait() {
        Ok(Some(status)) => Ok(status.code()),
        _ => Err("still waiting".into()),
    });
    assert_eq!(code, Some(0));
    let mut progress = String::new();
    std::io::Read::read_to_string(&mut late.stderr.take().expect("stderr"), &mut progress).expect("read stderr");
    // Not a terminal: a plain line each time what it sees changes, then the goal.
    let lines: Vec<&str> = progress.lines().collect();
    assert!(lines[0].starts_with(r#"waiting for application "late" to reach status == "blocked": not found yet"#), "{progress}");
    assert!(lines.last().unwrap().contains("reached goal state"), "{progress}");
    assert!(!progress.contains('\x1b') && !progress.contains('\r'), "{progress}");
    assert_eq!(lines.iter().filter(|l| l.ends_with("not found yet")).count(), 1, "{progress}");

    // Unit fields, forEach, the model's default goal and --summary.
    let out = c.ok(&["wait-for", "unit", "late/0", "--query", r#"leader && (agent-status == "idle" || agent-status == "executing")"#]);
    assert!(out.stdout.is_empty(), "{out}");
    let out = c.ok(&["wait-for", "model", "default", "--summary"]);
    let summary: serde_json::Value = serde_norway::from_str(&out.stdout).expect("summary is YAML");
    assert_eq!((summary["name"].as_str(), summary["status"].as_str()), (Some("default"), Some("available")), "{out}");
    let out = c.ok(&["wait-for", "application", "late", "--summary", "--query", r#"forEach(units, u => u.workload-status != "active")"#]);
    assert!(out.stdout.contains("charm-name: data-integrator"), "{out}");

    // The default goal (active) is never reached by a blocked application: Juju's timeout.
    let out = c.tether(&["wait-for", "application", "late", "--timeout", "2s"]);
    out.assert_code(1);
    assert_eq!(out.stderr.lines().last(), Some(r#"ERROR timed out waiting for "late" to reach goal state"#), "{out}");
    assert!(
        out.stderr.starts_with(r#"waiting for application "late" to reach life=="alive" && status=="active": blocked (late/0 blocked/"#),
        "{out}"
    );

    // A query that does not parse is a usage error naming the position; a field the
    // kind does not have fails at once instead of waiting.
    c.tether(&["wait-for", "application", "late", "--query", r#"status = "active""#])
        .assert_code(2)
        .assert_one_line_error("unexpected character '=' at position 7");
    let out = c.tether(&["wait-for", "unit", "late/0", "--query", r#"status == "active""#, "--timeout", "1m"]);
    out.assert_code(1);
    assert!(out.stderr.lines().last().unwrap_or_default().contains(r#"unknown field "status""#), "{out}");
    c.tether(&["wait-for", "machine", "0"]).assert_code(2);
    c.tether(&["wait-for", "application", "late", "--timeout", "later"]).assert_code(2).assert_one_line_error("option --timeout");
}

/// Runs `tether ARGS` on a pseudo-terminal (util-linux `script`), with `env`; what the
/// terminal showed (stdout and stderr together) and the exit code. `None` without `script`.
fn on_terminal(c: &Controller, env: &[(&str, &str)], args: &str) -> Option<(String, i32)> {
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qfec", &format!("{TETHER} {args}"), "/dev/null"]).env("TETHER_HOME", c.home()).env_remove("JUJU_MODEL");
    cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().ok()?;
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code().unwrap_or(-1)))
}

#[test]
fn on_a_terminal_progress_updates_one_line_watch_clears_and_colours_follow_no_color() {
    let c = Controller::bootstrap();
    deploy_blocked(&c, "di");
    c.ok(&["wait-for", "unit", "di/0", "--query", r#"workload-status == "blocked""#, "--timeout", "1m"]);
    let Some((shown, code)) = on_terminal(&c, &[], "wait-for application di --timeout 2s") else {
        eprintln!("no `script` on this machine: the terminal forms are not checked");
        return;
    };
    assert_eq!(code, 1, "{shown:?}");
    // One line, rewritten in place (several updates), cleared before the error.
    let updates = shown.matches("\r\x1b[2Kwaiting for application \"di\"").count();
    assert!(updates >= 2, "{shown:?}");
    assert_eq!(shown.matches('\n').count(), 1, "only the error ends a line: {shown:?}");
    assert!(shown.ends_with("\r\x1b[2KERROR timed out waiting for \"di\" to reach goal state\r\n"), "{shown:?}");

    // status --watch clears the screen between prints; it ends when interrupted (here by
    // kill's SIGTERM).
    let (shown, _) = on_terminal(&c, &[], "status --watch 300ms --format short & sleep 2; kill $!").expect("script");
    assert!(shown.matches("\x1b[H\x1b[2J").count() >= 2, "{shown:?}");
    assert!(shown.contains("- di/0: 127.0.0.1 (agent:idle, workload:blocked)"), "{shown:?}");

    // Juju's colours on a terminal, none under NO_COLOR or --no-color.
    let (shown, _) = on_terminal(&c, &[], "status").expect("script");
    assert!(shown.contains("\x1b[31mblocked\x1b[0m"), "{shown:?}");
    let (shown, _) = on_terminal(&c, &[("NO_COLOR", "1")], "status").expect("script");
    assert!(!shown.contains('\x1b'), "{shown:?}");
    let (shown, _) = on_terminal(&c, &[], "status --no-color").expect("script");
    assert!(!shown.contains('\x1b'), "{shown:?}");
}

/// A charm whose `stop` hook waits (at most two minutes) until the file `release` exists,
/// so that an application being removed stays `dying` for as long as the test needs.
fn charm_with_slow_stop(dir: &std::path::Path, release: &std::path::Path) {
    std::fs::write(dir.join("metadata.yaml"), "name: slow-stop\nprovides:\n  out:\n    interface: slow-stop\n").unwrap();
    let dispatch = format!(
        "#!/bin/sh\n\
         case \"$JUJU_DISPATCH_PATH\" in\n\
         hooks/start) status-set active ready ;;\n\
         hooks/stop) n=0; while [ ! -e '{}' ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done ;;\n\
         esac\n",
        release.display()
    );
    std::fs::write(dir.join("dispatch"), dispatch).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("dispatch"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn life_is_shown_and_waited_for_while_an_application_is_removed() {
    let c = Controller::bootstrap();
    let files = tempfile::tempdir().expect("tempdir");
    let (charm, release) = (files.path().join("charm"), files.path().join("release"));
    std::fs::create_dir_all(&charm).unwrap();
    charm_with_slow_stop(&charm, &release);
    c.ok(&["deploy", charm.to_str().unwrap(), "slow"]);
    c.ok(&["wait-for", "application", "slow"]);
    // Alive: Juju's status leaves `life` out; queries see "alive".
    let status = c.status();
    assert!(status["applications"]["slow"].get("life").is_none(), "{status}");
    assert!(status["applications"]["slow"]["units"]["slow/0"]["juju-status"].get("life").is_none(), "{status}");
    c.ok(&["wait-for", "unit", "slow/0", "--query", r#"life == "alive""#]);

    c.ok(&["remove-application", "slow", "--no-prompt"]);
    c.ok(&["wait-for", "application", "slow", "--query", r#"life=="dying""#, "--timeout", "1m"]);
    c.ok(&["wait-for", "unit", "slow/0", "--query", r#"life == "dying" && agent-status == "executing""#, "--timeout", "1m"]);
    let status = c.status();
    assert_eq!(status["applications"]["slow"]["life"], "dying", "{status}");
    assert_eq!(status["applications"]["slow"]["units"]["slow/0"]["juju-status"]["life"], "dying", "{status}");
    // Still dying while its stop hook waits: a goal of alive is not reached.
    c.tether(&["wait-for", "application", "slow", "--query", r#"life == "alive""#, "--timeout", "1s"]).assert_code(1);

    std::fs::write(&release, "").unwrap();
    c.wait_for("slow to be gone", |s| Ok(!has_app(s, "slow")));
}
