//! `exec --unit U -- COMMAND...`: runs a command in the unit's directory on the
//! controller and prints it as Juju prints an exec task (the shapes of `run`).

use super::args::ExecArgs;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output::{self, task::TaskOutcome};
use super::reply::unexpected;
use std::time::Duration;
use tether_core::wire::{Reply, Request};

/// The default `exec --wait`.
const EXEC_WAIT: Duration = Duration::from_secs(300);

pub fn exec(ctx: &Ctx, a: ExecArgs) -> CmdResult {
    let unit = match (a.unit, a.machine) {
        (Some(u), _) => u,
        (None, Some(_)) => return Err(CliError::usage("tether has no machines: use --unit")),
        (None, None) => return Err(CliError::usage("you must specify a target, either through --unit or --machine")),
    };
    let wait = match &a.wait {
        Some(w) => tether_core::duration::parse_duration(w).map_err(|e| CliError::usage(e.to_string()))?,
        None => EXEC_WAIT,
    };
    let request = Request::Exec { model: ctx.model.clone(), unit, command: a.command, wait_ms: Some(wait.as_millis() as u64) };
    match ctx.send(request, wait + Duration::from_secs(30))? {
        Reply::Task { unit, task, timed_out, operation } => {
            let operation = operation.unwrap_or_else(|| task.id.clone());
            let rendered = output::task::render_run(&operation, &[TaskOutcome { unit, task, timed_out }], a.format)?;
            emit::out(&rendered.stdout);
            for line in &rendered.stderr {
                emit::info(line);
            }
            Ok(rendered.exit)
        }
        other => Err(unexpected(&other)),
    }
}
