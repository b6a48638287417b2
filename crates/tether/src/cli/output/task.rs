//! `run` output and its exit code, as jubilant's error handling expects (spec A6).
//!
//! jubilant decides what happened from three things: stdout JSON keyed by unit, stderr
//! containing `task failed` or `timed out`, and the exit code. The rules are easy to
//! get subtly wrong, so they live in one pure function, [`render_run`], with tests.

use super::super::args::RunFormat;
use super::super::error::CliError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tether_core::wire::{OperationView, TaskView};

/// One unit's answer to `run`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub unit: String,
    pub task: TaskView,
    pub timed_out: bool,
}

/// Everything `run` prints, and how it exits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunOutput {
    /// Progress lines (stderr, printed first).
    pub progress: Vec<String>,
    pub stdout: String,
    /// Lines for stderr after stdout (the `ERROR ...` block, if any).
    pub stderr: Vec<String>,
    pub exit: u8,
}

/// `unit-app-0` for `app/0`.
fn unit_tag(unit: &str) -> String {
    format!("unit-{}", unit.replace('/', "-"))
}

/// The task's return code, whatever JSON type the controller used.
pub fn return_code(task: &TaskView) -> Option<i64> {
    match task.results.get("return-code")? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The `return-code` normalised to a JSON integer (a string `"0"` breaks jubilant).
fn normalised(task: &TaskView) -> TaskView {
    let mut t = task.clone();
    if let Some(code) = return_code(task) {
        t.results.insert("return-code".into(), Value::from(code));
    }
    t
}

/// The lines Juju prints on stderr before it waits for an operation's tasks.
pub fn progress(operation: &str, outcomes: &[TaskOutcome]) -> Vec<String> {
    if outcomes.is_empty() {
        return vec![];
    }
    let n = outcomes.len();
    let mut lines = vec![format!("Running operation {operation} with {n} task{}", if n == 1 { "" } else { "s" })];
    for o in outcomes {
        lines.push(format!("  - task {} on {}", o.task.id, unit_tag(&o.unit)));
    }
    lines.push(String::new());
    for o in outcomes {
        lines.push(format!("Waiting for task {}...", o.task.id));
    }
    lines
}

/// One `action-log` line (`<RFC 3339> <message>` as stored) as Juju shows it while
/// waiting: `HH:MM:SS message`.
pub fn log_line(line: &str, utc: bool) -> String {
    match line.split_once(' ') {
        Some((ts, msg)) if chrono::DateTime::parse_from_rfc3339(ts).is_ok() => format!("{} {msg}", super::format_time(ts, "%H:%M:%S", utc)),
        _ => line.to_string(),
    }
}

/// Whether a task has finished.
pub fn finished(task: &TaskView) -> bool {
    matches!(task.status.as_str(), "completed" | "failed" | "error" | "cancelled")
}

/// `show-operation` as Juju's YAML/JSON shows it: summary, status, action, timing and
/// the tasks by id (the action's parameters are not shown: they may hold a password).
pub fn operation_data(op: &OperationView) -> Value {
    let mut timing = Map::new();
    timing.insert("enqueued".into(), Value::from(op.enqueued.clone()));
    if let Some(s) = &op.started {
        timing.insert("started".into(), Value::from(s.clone()));
    }
    if let Some(s) = &op.completed {
        timing.insert("completed".into(), Value::from(s.clone()));
    }
    let mut tasks = Map::new();
    for t in &op.tasks {
        let mut v = serde_json::to_value(normalised(t)).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("id");
            let unit = m.remove("unit").unwrap_or(Value::Null);
            m.insert("host".into(), unit);
        }
        tasks.insert(t.id.clone(), v);
    }
    serde_json::json!({
        "summary": op.summary,
        "status": op.status,
        "action": {"name": op.action},
        "timing": timing,
        "tasks": tasks,
    })
}

/// `operations` in Juju's table: `ID  Status  Started  Finished  Task IDs  Summary`.
pub fn operations_table(ops: &[OperationView], utc: bool) -> String {
    let time = |t: &Option<String>| t.as_deref().map(|t| super::format_time(t, "%Y-%m-%dT%H:%M:%S", utc)).unwrap_or_default();
    let mut table = super::table::Table::new();
    table.header(&["ID", "Status", "Started", "Finished", "Task IDs", "Summary"]);
    for op in ops {
        let ids: Vec<&str> = op.tasks.iter().map(|t| t.id.as_str()).collect();
        table.row(vec![
            super::table::Cell::plain(op.id.clone()),
            super::table::Cell::plain(op.status.clone()),
            super::table::Cell::plain(time(&op.started)),
            super::table::Cell::plain(time(&op.completed)),
            super::table::Cell::plain(ids.join(",")),
            super::table::Cell::plain(op.summary.clone()),
        ]);
    }
    table.render(false)
}

/// The operations as `--format json|yaml` shows them, keyed by id.
pub fn operations_data(ops: &[OperationView]) -> BTreeMap<String, Value> {
    ops.iter().map(|op| (op.id.clone(), operation_data(op))).collect()
}

/// `show-task` in the plain form: the log lines, then what `run` prints for the task.
pub fn show_task_plain(task: &TaskView, utc: bool) -> Result<String, CliError> {
    let mut out: String = task.log.iter().map(|l| log_line(l, utc) + "\n").collect();
    out.push_str(&plain(&[TaskOutcome { unit: task.unit.clone(), task: task.clone(), timed_out: false }])?);
    if !finished(task) {
        out.push_str(&format!("Task {} is {}\n", task.id, task.status));
    } else if task.status != "completed" && !task.message.is_empty() {
        out.push_str(&format!("Task {} {}: {}\n", task.id, task.status, task.message));
    }
    Ok(out)
}

/// The plain form: action results as YAML (without Juju's own keys), then stdout/stderr.
fn plain(outcomes: &[TaskOutcome]) -> Result<String, CliError> {
    const FILTERED: [&str; 5] = ["return-code", "stdout", "stderr", "stdout-encoding", "stderr-encoding"];
    let mut out = String::new();
    if outcomes.len() == 1 {
        let task = &outcomes[0].task;
        // Sorted, whatever order the results map keeps, so output is stable.
        let data: BTreeMap<String, Value> =
            task.results.iter().filter(|(k, _)| !FILTERED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        if !data.is_empty() {
            out.push_str(&super::yaml(&data)?);
        }
    } else {
        let mut all = BTreeMap::new();
        for o in outcomes {
            let data: Map<String, Value> =
                o.task.results.iter().filter(|(k, _)| !FILTERED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut entry = Map::new();
            entry.insert("id".into(), Value::from(o.task.id.clone()));
            if !data.is_empty() {
                entry.insert("output".into(), Value::Object(data));
            }
            all.insert(o.unit.clone(), entry);
        }
        out.push_str(&super::yaml(&all)?);
    }
    for key in ["stdout", "stderr"] {
        for o in outcomes {
            if let Some(Value::String(s)) = o.task.results.get(key) {
                let s = s.trim_matches('\n');
                if !s.is_empty() {
                    out.push_str(s);
                    out.push('\n');
                }
            }
        }
    }
    Ok(out)
}

/// Decides what `run` prints and its exit code (spec A6):
/// - a timeout: no stdout, `ERROR timed out waiting for results from: unit U`, exit 1;
/// - a return code ≥ 1: the results on stdout, then `ERROR the following task failed:`
///   with the ids and codes, exit 1;
/// - otherwise (including `action-fail` with return code 0): the results, exit 0.
pub fn render_run(operation: &str, outcomes: &[TaskOutcome], format: RunFormat) -> Result<RunOutput, CliError> {
    let mut out = RunOutput { progress: progress(operation, outcomes), ..Default::default() };
    let timed_out: Vec<&TaskOutcome> = outcomes.iter().filter(|o| o.timed_out).collect();
    if !timed_out.is_empty() {
        let units: Vec<String> = timed_out.iter().map(|o| format!("unit {}", o.unit)).collect();
        out.stderr.push(format!("ERROR timed out waiting for results from: {}", units.join(", ")));
        out.exit = 1;
        return Ok(out);
    }
    let by_unit: BTreeMap<String, TaskView> = outcomes.iter().map(|o| (o.unit.clone(), normalised(&o.task))).collect();
    out.stdout = match format {
        RunFormat::Json => super::json(&by_unit)?,
        RunFormat::Yaml => super::yaml(&by_unit)?,
        RunFormat::Plain => plain(outcomes)?,
    };
    if format == RunFormat::Plain {
        for o in outcomes {
            if o.task.status != "completed" && !o.task.message.is_empty() {
                out.stderr.push(format!("Task {} {}: {}", o.task.id, o.task.status, o.task.message));
            }
        }
    }
    let failed: Vec<(&str, i64)> =
        outcomes.iter().filter_map(|o| return_code(&o.task).filter(|c| *c >= 1).map(|c| (o.task.id.as_str(), c))).collect();
    if !failed.is_empty() {
        let plural = if failed.len() == 1 { "task" } else { "tasks" };
        out.stderr.push(format!("ERROR the following {plural} failed:"));
        for (id, code) in failed {
            out.stderr.push(format!(" - id \"{id}\" with return code {code}"));
        }
        out.stderr.push(String::new());
        out.stderr.push(format!("use 'tether show-task' to inspect the failure{}", if plural == "task" { "" } else { "s" }));
        out.exit = 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(id: &str, status: &str, results: Value, message: &str) -> TaskView {
        TaskView {
            id: id.into(),
            status: status.into(),
            message: message.into(),
            results: results.as_object().cloned().unwrap_or_default(),
            log: vec![],
            unit: "pg/0".into(),
            timing: None,
        }
    }

    fn outcome(t: TaskView, timed_out: bool) -> Vec<TaskOutcome> {
        vec![TaskOutcome { unit: "pg/0".into(), task: t, timed_out }]
    }

    #[test]
    fn success_prints_json_keyed_by_unit_and_exits_zero() {
        let o = render_run("1", &outcome(task("2", "completed", json!({"return-code": 0, "password": "x"}), ""), false), RunFormat::Json)
            .unwrap();
        assert_eq!(o.exit, 0);
        assert!(o.stderr.is_empty());
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["pg/0"]["id"], "2");
        assert_eq!(v["pg/0"]["results"]["return-code"], 0);
        assert_eq!(v["pg/0"]["results"]["password"], "x");
        assert_eq!(o.progress[0], "Running operation 1 with 1 task");
        assert_eq!(o.progress[1], "  - task 2 on unit-pg-0");
        assert_eq!(o.progress.last().unwrap(), "Waiting for task 2...");
    }

    #[test]
    fn nonzero_return_code_prints_results_then_task_failed_and_exits_one() {
        let o = render_run(
            "1",
            &outcome(task("4", "failed", json!({"return-code": 1, "stderr": "boom"}), "exit status 1"), false),
            RunFormat::Json,
        )
        .unwrap();
        assert_eq!(o.exit, 1);
        assert!(o.stdout.contains("\"return-code\":1"));
        assert_eq!(
            o.stderr,
            ["ERROR the following task failed:", " - id \"4\" with return code 1", "", "use 'tether show-task' to inspect the failure"]
        );
    }

    #[test]
    fn action_fail_with_zero_return_code_exits_zero() {
        let o = render_run("1", &outcome(task("5", "failed", json!({"return-code": 0}), "leader only"), false), RunFormat::Json).unwrap();
        assert_eq!(o.exit, 0);
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["pg/0"]["status"], "failed");
        assert_eq!(v["pg/0"]["message"], "leader only");
        assert!(o.stderr.is_empty());
    }

    #[test]
    fn timeout_prints_nothing_on_stdout_and_exits_one() {
        let o = render_run("1", &outcome(task("6", "running", json!({}), ""), true), RunFormat::Json).unwrap();
        assert_eq!(o.exit, 1);
        assert!(o.stdout.is_empty());
        assert_eq!(o.stderr, ["ERROR timed out waiting for results from: unit pg/0"]);
    }

    #[test]
    fn action_log_lines_show_the_time_then_the_message() {
        assert_eq!(log_line("2024-05-06T14:03:22.123Z step one", true), "14:03:22 step one");
        assert_eq!(log_line("not-a-time step", true), "not-a-time step");
    }

    #[test]
    fn operations_show_in_jujus_table_and_shapes() {
        let op = OperationView {
            id: "1".into(),
            action: "probe".into(),
            summary: "probe run on unit-pg-0".into(),
            status: "completed".into(),
            enqueued: "2024-05-06T14:03:20Z".into(),
            started: Some("2024-05-06T14:03:21Z".into()),
            completed: Some("2024-05-06T14:03:22Z".into()),
            tasks: vec![task("2", "completed", json!({"return-code": "0"}), "")],
        };
        let table = operations_table(std::slice::from_ref(&op), true);
        let header: Vec<&str> = table.lines().next().unwrap().split("  ").map(str::trim).filter(|s| !s.is_empty()).collect();
        assert_eq!(header, ["ID", "Status", "Started", "Finished", "Task IDs", "Summary"]);
        assert!(table.lines().nth(1).unwrap().contains("2024-05-06T14:03:21"), "{table}");
        let v = operation_data(&op);
        assert_eq!(v["status"], "completed");
        assert_eq!(v["action"]["name"], "probe");
        assert_eq!(v["tasks"]["2"]["host"], "pg/0");
        assert_eq!(v["tasks"]["2"]["results"]["return-code"], 0);
    }

    #[test]
    fn string_return_codes_become_integers() {
        let o = render_run("1", &outcome(task("7", "completed", json!({"return-code": "0"}), ""), false), RunFormat::Json).unwrap();
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["pg/0"]["results"]["return-code"], json!(0));
    }

    #[test]
    fn plain_prints_results_without_juju_keys_then_stdout() {
        let o = render_run(
            "7",
            &outcome(task("8", "completed", json!({"return-code": 0, "stdout": "hi\n", "password": "x", "nested": {"a": "b"}}), ""), false),
            RunFormat::Plain,
        )
        .unwrap();
        assert_eq!(o.stdout, "nested:\n  a: b\npassword: x\nhi\n");
        let o = render_run("1", &outcome(task("9", "failed", json!({"return-code": 0}), "nope"), false), RunFormat::Plain).unwrap();
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr, ["Task 9 failed: nope"]);
        assert_eq!(o.exit, 0);
    }
}
