//! Operations and tasks: `run`, `operations`, `show-operation`, `show-task`.
//!
//! `run` asks the controller for one operation with one task per unit and returns at
//! once; it then polls the operation every 250 ms until every task has finished or
//! `--wait` is over, printing each task's `action-log` lines on stderr as they arrive
//! (`HH:MM:SS message`, as Juju does). `--wait` is a Go duration: unset or 0 means
//! Juju's 60 s, a negative one means wait for as long as it takes. `--background`
//! prints where to look instead (`tether show-operation N`, `tether show-task M`).

use super::args::{DataFormat, OperationsArgs, RunArgs, RunFormat, ShowOperationArgs, ShowTaskArgs, TableFormat};
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output::{self, task::TaskOutcome};
use super::params::{self, shown, ValueTyping};
use super::reply::unexpected;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tether_core::duration::parse_signed_duration;
use tether_core::wire::{OperationView, Reply, Request, TaskView};

/// The default `run --wait`.
const DEFAULT_RUN_WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);
/// The first look after scheduling; each later pause doubles up to [`POLL`].
const FIRST_POLL: Duration = Duration::from_millis(4);

/// How long `run` waits: None is forever (a negative `--wait`); unset or zero is 60 s.
/// `--background` with a positive wait is refused, as Juju refuses it.
pub fn run_wait(wait: Option<&str>, background: bool) -> Result<Option<Duration>, CliError> {
    let parsed = wait
        .map(|w| {
            parse_signed_duration(w)
                .map_err(|_| CliError::usage(format!("invalid value {:?} for option --wait: invalid duration", shown(w))))
        })
        .transpose()?;
    match parsed {
        Some(d) if background && !d.negative && !d.magnitude.is_zero() => {
            Err(CliError::usage("cannot specify both --wait and --background"))
        }
        Some(d) if d.negative => Ok(None),
        Some(d) if !d.magnitude.is_zero() => Ok(Some(d.magnitude)),
        _ => Ok(Some(DEFAULT_RUN_WAIT)),
    }
}

fn read_params_file(path: Option<&std::path::Path>) -> Result<Option<String>, CliError> {
    path.map(|p| std::fs::read_to_string(p).map_err(|e| CliError::usage(format!("cannot read params file {}: {e}", p.display()))))
        .transpose()
}

/// Checks what `run` can check before anything is sent.
pub fn validate_run(a: &RunArgs) -> Result<(), CliError> {
    run_wait(a.wait.as_deref(), a.background)?;
    let target = params::split_run_args(&a.args)?;
    let file = read_params_file(a.params.as_deref())?;
    let typing = if a.string_args { ValueTyping::Strings } else { ValueTyping::Yaml };
    params::run_params(file.as_deref(), &target.assignments, typing).map(|_| ())
}

fn show_operation_request(ctx: &Ctx, id: &str) -> Result<OperationView, CliError> {
    match ctx.send(Request::ShowOperation { model: ctx.model.clone(), id: id.to_string() }, DEFAULT_TIMEOUT)? {
        Reply::Operation { operation } => Ok(operation),
        other => Err(unexpected(&other)),
    }
}

/// Prints the `action-log` lines of `tasks` not printed yet (`printed` counts them per task).
fn print_new_log_lines(tasks: &[TaskView], printed: &mut BTreeMap<String, usize>, utc: bool) {
    for t in tasks {
        let seen = printed.entry(t.id.clone()).or_default();
        for line in t.log.iter().skip(*seen) {
            emit::info(&output::task::log_line(line, utc));
        }
        *seen = (*seen).max(t.log.len());
    }
}

pub fn run(ctx: &Ctx, a: RunArgs) -> CmdResult {
    let wait = run_wait(a.wait.as_deref(), a.background)?;
    let target = params::split_run_args(&a.args)?;
    let file = read_params_file(a.params.as_deref())?;
    let typing = if a.string_args { ValueTyping::Strings } else { ValueTyping::Yaml };
    let params = params::run_params(file.as_deref(), &target.assignments, typing)?;
    let request =
        Request::Run { model: ctx.model.clone(), units: target.units.clone(), action: target.action.clone(), params, wait_ms: Some(0) };
    let mut op = match ctx.send(request, DEFAULT_TIMEOUT)? {
        Reply::Operation { operation } => operation,
        other => return Err(unexpected(&other)),
    };
    if a.background {
        background_info(&op)?;
        return Ok(0);
    }
    let outcomes = |op: &OperationView, timed_out: bool| -> Vec<TaskOutcome> {
        op.tasks
            .iter()
            .map(|t| TaskOutcome { unit: t.unit.clone(), task: t.clone(), timed_out: timed_out && !output::task::finished(t) })
            .collect()
    };
    for line in output::task::progress(&op.id, &outcomes(&op, false)) {
        emit::info(&line);
    }
    let deadline = wait.map(|w| Instant::now() + w);
    let mut printed = BTreeMap::new();
    // Most actions finish in milliseconds: look again soon, then every POLL.
    let mut pause = FIRST_POLL;
    let timed_out = loop {
        print_new_log_lines(&op.tasks, &mut printed, a.utc);
        if op.tasks.iter().all(output::task::finished) {
            break false;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break true;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(POLL);
        op = show_operation_request(ctx, &op.id)?;
    };
    let rendered = output::task::render_run(&op.id, &outcomes(&op, timed_out), a.format)?;
    if !rendered.stdout.is_empty() {
        emit::out_line(&rendered.stdout);
    }
    for line in &rendered.stderr {
        emit::info(line);
    }
    Ok(rendered.exit)
}

/// What `run --background` prints (Juju's lines, naming `tether`).
fn background_info(op: &OperationView) -> Result<(), CliError> {
    if let [task] = op.tasks.as_slice() {
        emit::info(&format!("Scheduled operation {} with task {}", op.id, task.id));
        emit::info(&format!("Check operation status with 'tether show-operation {}'", op.id));
        emit::info(&format!("Check task status with 'tether show-task {}'", task.id));
    } else {
        emit::info(&format!("Scheduled operation {} with {} tasks", op.id, op.tasks.len()));
        let ids: BTreeMap<&str, BTreeMap<&str, &str>> =
            op.tasks.iter().map(|t| (t.unit.as_str(), BTreeMap::from([("id", t.id.as_str())]))).collect();
        emit::out(&output::yaml(&ids)?);
        emit::info(&format!("Check operation status with 'tether show-operation {}'", op.id));
        emit::info("Check task status with 'tether show-task <id>'");
    }
    Ok(())
}

pub fn operations(ctx: &Ctx, a: OperationsArgs) -> CmdResult {
    match ctx.send(Request::Operations { model: ctx.model.clone() }, DEFAULT_TIMEOUT)? {
        Reply::Operations { operations } => {
            emit::out(&match a.format {
                TableFormat::Tabular if operations.is_empty() => {
                    emit::info("No matching operations.");
                    String::new()
                }
                TableFormat::Tabular => output::task::operations_table(&operations, a.utc),
                TableFormat::Json => output::json(&output::task::operations_data(&operations))?,
                TableFormat::Yaml => output::yaml(&output::task::operations_data(&operations))?,
            });
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

pub fn show_operation(ctx: &Ctx, a: ShowOperationArgs) -> CmdResult {
    let op = show_operation_request(ctx, &a.id)?;
    let data = output::task::operation_data(&op);
    emit::out(&match a.format {
        DataFormat::Yaml => output::yaml(&data)?,
        DataFormat::Json => output::json(&data)?,
    });
    Ok(0)
}

pub fn show_task(ctx: &Ctx, a: ShowTaskArgs) -> CmdResult {
    let mut printed = BTreeMap::new();
    let task = loop {
        let task = match ctx.send(Request::ShowTask { model: ctx.model.clone(), id: a.id.clone() }, DEFAULT_TIMEOUT)? {
            Reply::Task { task, .. } => task,
            other => return Err(unexpected(&other)),
        };
        if !a.watch || output::task::finished(&task) {
            break task;
        }
        // While watching, log lines go to stderr as they arrive (as `run` shows them).
        if a.format == RunFormat::Plain {
            print_new_log_lines(std::slice::from_ref(&task), &mut printed, a.utc);
        }
        std::thread::sleep(POLL);
    };
    emit::out(&match a.format {
        RunFormat::Plain => {
            let mut t = task.clone();
            t.log = t.log.split_off(printed.get(&task.id).copied().unwrap_or(0).min(t.log.len()));
            output::task::show_task_plain(&t, a.utc)?
        }
        RunFormat::Json => output::json(&task)?,
        RunFormat::Yaml => output::yaml(&task)?,
    });
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_waits_as_juju_does() {
        assert_eq!(run_wait(None, false), Ok(Some(DEFAULT_RUN_WAIT)));
        assert_eq!(run_wait(Some("0"), false), Ok(Some(DEFAULT_RUN_WAIT)));
        assert_eq!(run_wait(Some("1m30s"), false), Ok(Some(Duration::from_secs(90))));
        assert_eq!(run_wait(Some("500ms"), false), Ok(Some(Duration::from_millis(500))));
        assert_eq!(run_wait(Some("-1s"), false), Ok(None));
        assert_eq!(run_wait(Some("-1s"), true), Ok(None));
        assert_eq!(run_wait(Some("0s"), true), Ok(Some(DEFAULT_RUN_WAIT)));
        assert_eq!(run_wait(Some("5s"), true), Err(CliError::usage("cannot specify both --wait and --background")));
        assert!(matches!(run_wait(Some("soon"), false), Err(CliError::Usage(_))));
    }
}
