//! Operations, tasks and logs end to end, with the shell charm (`tests/charms/shell-probe`):
//! `run` makes operation N with task N+1 and streams `action-log` lines to stderr while it
//! waits; `--background`, `operations`, `show-operation`, `show-task` (the verb a failed
//! task's error names); `debug-log`'s filters, formats and following; `show-status-log`.

mod common;

use common::*;
use serde_json::Value;
use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CHARM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/shell-probe");

#[test]
fn operations_tasks_and_their_texts_follow_juju() {
    let c = Controller::bootstrap();
    c.ok(&["add-model", "m"]);
    c.ok(&["deploy", CHARM, "ext"]);
    c.wait_active(&["ext"]);

    // One operation with one task: ids from one counter, log lines on stderr as they come.
    let out =
        c.ok(&["run", "ext/0", "probe", "cmd=action-log step-one; sleep 1; action-log step-two", "--format", "json", "--wait", "1m30s"]);
    let v = out.json();
    assert_eq!(v["ext/0"]["id"], "2", "{out}");
    assert!(out.stderr.contains("Running operation 1 with 1 task"), "{out}");
    let one = out.stderr.find("step-one").expect("action-log line on stderr");
    let two = out.stderr.find("step-two").expect("action-log line on stderr");
    assert!(one < two, "{out}");
    assert!(!out.stdout.contains("Running operation"), "{out}");

    // A failed task names a verb that exists.
    let failed = c.tether(&["run", "ext/0", "boom"]);
    failed.assert_code(1);
    assert!(failed.stderr.contains("use 'tether show-task' to inspect the failure"), "{failed}");
    let shown = c.ok(&["show-task", "4", "--format", "json"]).json();
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["results"]["return-code"], 4);

    // --background: Juju's lines, then show-operation gives the result.
    let bg = c.ok(&["run", "ext/0", "probe", "cmd=echo later", "--background"]);
    assert!(bg.stderr.contains("Scheduled operation 5 with task 6"), "{bg}");
    assert!(bg.stderr.contains("Check operation status with 'tether show-operation 5'"), "{bg}");
    let op = wait_until("operation 5 to complete", Duration::from_secs(60), || {
        let op = c.ok(&["show-operation", "5", "--format", "json"]).json();
        if op["status"] == "completed" {
            Ok(op)
        } else {
            Err(format!("{op}"))
        }
    });
    assert_eq!(op["tasks"]["6"]["results"]["out"], "later");
    assert_eq!(op["tasks"]["6"]["host"], "ext/0");
    let table = c.ok(&["operations"]).stdout;
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split("  ").map(str::trim).filter(|s| !s.is_empty()).collect();
    assert_eq!(header, ["ID", "Status", "Started", "Finished", "Task IDs", "Summary"]);
    assert!(table.contains("failed") && table.contains("boom run on unit-ext-0"), "{table}");

    // exec is an operation of one task too, as in Juju: listed, shown, its task shown.
    let ex = c.ok(&["exec", "--unit", "ext/0", "--format", "json", "--", "echo", "from exec"]).json();
    assert_eq!(ex["ext/0"]["id"], "8", "{ex}");
    let op = c.ok(&["show-operation", "7", "--format", "json"]).json();
    assert_eq!(op["status"], "completed", "{op}");
    assert_eq!(op["tasks"]["8"]["results"]["stdout"], "from exec\n", "{op}");
    assert_eq!(c.ok(&["show-task", "8", "--format", "json"]).json()["results"]["return-code"], 0);
    let table = c.ok(&["operations"]).stdout;
    assert!(table.contains("juju-exec run on unit-ext-0"), "{table}");

    // show-task in plain form: the log, then the results; --watch on a finished task returns.
    let plain = c.ok(&["show-task", "2", "--watch"]).stdout;
    assert!(plain.contains("step-one") && plain.contains("code: '0'"), "{plain}");
    c.tether(&["show-task", "999"]).assert_one_line_error("task 999 not found").assert_code(1);
    c.tether(&["run", "ext/0", "probe", "cmd=true", "--wait", "5s", "--background"]).assert_code(2);
    let late = c.tether(&["run", "ext/0", "probe", "cmd=sleep 30", "--wait", "1s"]);
    late.assert_code(1);
    assert!(late.stderr.contains("ERROR timed out waiting for results from: unit ext/0") && late.stdout.is_empty(), "{late}");
}

#[test]
fn debug_log_filters_formats_and_follows_and_status_history_is_kept() {
    let c = Controller::bootstrap();
    c.ok(&["add-model", "m"]);
    c.ok(&["deploy", CHARM, "ext"]);
    c.ok(&["deploy", CHARM, "other"]);
    c.wait_active(&["ext", "other"]);

    // Piped, without flags: the last 10 lines, then exit (as Juju does off a terminal).
    let last = c.ok(&["debug-log"]).stdout;
    assert_eq!(last.lines().count(), 10, "{last}");
    let all = c.ok(&["debug-log", "--replay", "--no-tail"]).stdout;
    assert!(all.lines().count() > 10);
    // Juju's line: entity, time, level, module, message.
    let line = all.lines().find(|l| l.contains("running hooks/install")).expect("an install line");
    let parts: Vec<&str> = line.splitn(5, ' ').collect();
    assert!(parts[0].starts_with("unit-") && parts[0].ends_with(':'), "{line}");
    assert_eq!(parts[1].len(), 8, "{line}");
    assert_eq!(parts[2], "DEBUG", "{line}");
    assert!(parts[3].starts_with("unit.") && parts[3].ends_with(".juju-log"), "{line}");
    let dated = c.ok(&["debug-log", "-n", "1", "--no-tail", "--date", "--ms", "--utc"]).stdout;
    let time = dated.split(' ').nth(1).unwrap_or_default().to_string() + " " + dated.split(' ').nth(2).unwrap_or_default();
    assert_eq!(time.len(), "2024-05-06 14:03:22.123".len(), "{dated}");

    for (args, must, must_not) in [
        (vec!["-i", "ext"], "unit-ext-0:", "unit-other-0:"),
        (vec!["-i", "other/0"], "unit-other-0:", "unit-ext-0:"),
        (vec!["-x", "unit-ext-0"], "unit-other-0:", "unit-ext-0:"),
        (vec!["--include-module", "juju.worker"], "juju.worker.uniter", ".juju-log"),
        (vec!["--exclude-module", "juju.worker.uniter"], ".juju-log", "juju.worker.uniter"),
    ] {
        let mut argv = vec!["debug-log", "--replay", "--no-tail"];
        argv.extend(args.iter());
        let out = c.ok(&argv).stdout;
        assert!(out.contains(must) && !out.contains(must_not), "{argv:?}:\n{out}");
    }
    c.tether(&["run", "ext/0", "boom"]).assert_code(1);
    let errors = c.ok(&["debug-log", "--replay", "--no-tail", "--level", "ERROR"]).stdout;
    assert!(errors.lines().all(|l| l.contains(" ERROR ")), "{errors}");
    let warnings = c.ok(&["debug-log", "--replay", "--no-tail", "--level", "warning"]).stdout;
    assert!(!warnings.contains(" DEBUG "), "{warnings}");
    c.tether(&["debug-log", "--level", "LOUD"]).assert_one_line_error("is not one of").assert_code(2);
    c.tether(&["debug-log", "--tail", "--no-tail"]).assert_code(2);

    // --tail follows: a line logged after it started arrives; it ends when killed.
    let mut child = c.spawn(&["debug-log", "--tail", "-n", "0", "-i", "ext/0"], Stdio::piped(), Stdio::null());
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    c.ok(&["run", "ext/0", "probe", "cmd=juju-log -- followed-line"]);
    c.ok(&["run", "other/0", "probe", "cmd=juju-log -- not-followed"]);
    let got = poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        let s = seen.lock().unwrap().clone();
        if s.contains("followed-line") {
            Ok(s)
        } else {
            Err(s)
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let got = got.unwrap_or_else(|s| panic!("debug-log --tail never showed the new line:\n{s}"));
    assert!(!got.contains("not-followed"), "{got}");

    // Status history: workload and agent for a unit, Juju's table and JSON.
    let table = c.ok(&["show-status-log", "ext/0"]).stdout;
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["Time", "Type", "Status", "Message"]);
    assert!(table.contains("juju-unit") && table.contains("workload") && table.contains("maintenance"), "{table}");
    let entries: Value = c.ok(&["show-status-log", "ext/0", "--type", "workload", "--format", "json"]).json();
    let entries = entries.as_array().expect("a list");
    assert!(entries.iter().all(|e| e["type"] == "workload"));
    assert_eq!(entries.last().map(|e| e["status"].clone()), Some(Value::from("active")));
    let two: Value = c.ok(&["show-status-log", "ext/0", "-n", "2", "--format", "json"]).json();
    assert_eq!(two.as_array().map(Vec::len), Some(2));
    let app: Value = c.ok(&["show-status-log", "ext", "--format", "json"]).json();
    assert!(app.as_array().is_some_and(|a| a.iter().all(|e| e["type"] == "application")));
    c.tether(&["show-status-log", "nosuch/0"]).assert_one_line_error("unit \"nosuch/0\" not found").assert_code(1);
    c.tether(&["show-status-log", "ext/0", "--type", "bogus"]).assert_code(2);
}
