//! `run` output and its exit code, as jubilant's error handling expects (spec A6).
//!
//! jubilant decides what happened from three things: stdout JSON keyed by unit, stderr
//! containing `task failed` or `timed out`, and the exit code. The rules are easy to
//! get subtly wrong, so they live in one pure function, [`render_run`], with tests.

use super::super::args::RunFormat;
use super::super::error::CliError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tether_core::wire::TaskView;

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

fn progress(outcomes: &[TaskOutcome]) -> Vec<String> {
    let Some(first) = outcomes.first() else { return vec![] };
    let n = outcomes.len();
    let mut lines = vec![format!("Running operation {} with {n} task{}", first.task.id, if n == 1 { "" } else { "s" })];
    for o in outcomes {
        lines.push(format!("  - task {} on {}", o.task.id, unit_tag(&o.unit)));
    }
    lines.push(String::new());
    for o in outcomes {
        lines.push(format!("Waiting for task {}...", o.task.id));
    }
    lines
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
pub fn render_run(outcomes: &[TaskOutcome], format: RunFormat) -> Result<RunOutput, CliError> {
    let mut out = RunOutput { progress: progress(outcomes), ..Default::default() };
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
        out.stderr.push("use 'juju show-task' to inspect the failure".into());
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
        let o =
            render_run(&outcome(task("2", "completed", json!({"return-code": 0, "password": "x"}), ""), false), RunFormat::Json).unwrap();
        assert_eq!(o.exit, 0);
        assert!(o.stderr.is_empty());
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["pg/0"]["id"], "2");
        assert_eq!(v["pg/0"]["results"]["return-code"], 0);
        assert_eq!(v["pg/0"]["results"]["password"], "x");
        assert_eq!(o.progress[0], "Running operation 2 with 1 task");
        assert_eq!(o.progress[1], "  - task 2 on unit-pg-0");
        assert_eq!(o.progress.last().unwrap(), "Waiting for task 2...");
    }

    #[test]
    fn nonzero_return_code_prints_results_then_task_failed_and_exits_one() {
        let o =
            render_run(&outcome(task("4", "failed", json!({"return-code": 1, "stderr": "boom"}), "exit status 1"), false), RunFormat::Json)
                .unwrap();
        assert_eq!(o.exit, 1);
        assert!(o.stdout.contains("\"return-code\":1"));
        assert_eq!(
            o.stderr,
            ["ERROR the following task failed:", " - id \"4\" with return code 1", "use 'juju show-task' to inspect the failure"]
        );
    }

    #[test]
    fn action_fail_with_zero_return_code_exits_zero() {
        let o = render_run(&outcome(task("5", "failed", json!({"return-code": 0}), "leader only"), false), RunFormat::Json).unwrap();
        assert_eq!(o.exit, 0);
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["pg/0"]["status"], "failed");
        assert_eq!(v["pg/0"]["message"], "leader only");
        assert!(o.stderr.is_empty());
    }

    #[test]
    fn timeout_prints_nothing_on_stdout_and_exits_one() {
        let o = render_run(&outcome(task("6", "running", json!({}), ""), true), RunFormat::Json).unwrap();
        assert_eq!(o.exit, 1);
        assert!(o.stdout.is_empty());
        assert_eq!(o.stderr, ["ERROR timed out waiting for results from: unit pg/0"]);
    }

    #[test]
    fn string_return_codes_become_integers() {
        let o = render_run(&outcome(task("7", "completed", json!({"return-code": "0"}), ""), false), RunFormat::Json).unwrap();
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(v["pg/0"]["results"]["return-code"], json!(0));
    }

    #[test]
    fn plain_prints_results_without_juju_keys_then_stdout() {
        let o = render_run(
            &outcome(task("8", "completed", json!({"return-code": 0, "stdout": "hi\n", "password": "x", "nested": {"a": "b"}}), ""), false),
            RunFormat::Plain,
        )
        .unwrap();
        assert_eq!(o.stdout, "nested:\n  a: b\npassword: x\nhi\n");
        let o = render_run(&outcome(task("9", "failed", json!({"return-code": 0}), "nope"), false), RunFormat::Plain).unwrap();
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr, ["Task 9 failed: nope"]);
        assert_eq!(o.exit, 0);
    }
}
