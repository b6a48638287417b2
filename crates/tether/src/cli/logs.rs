//! `debug-log` and `show-status-log`.
//!
//! `debug-log` follows Juju (3.6 and 4.0 alike): it follows the log when stdout is a
//! terminal and prints the existing lines and exits when it is not (a pipe, a file, a
//! test), unless `--tail` or `--no-tail` says otherwise; `--limit N` prints the last N
//! lines and exits (`--limit 0`: all of them, which is what jubilant's
//! `debug_log(limit=0)` expects). So scripts and tests that read the log keep getting
//! it printed in full and returned, as Juju gives it to them, and nobody's pipe hangs.
//! By default the last 10 matching lines are shown (`-n`), `--replay` shows all of them.
//!
//! The controller filters (level, entities, modules), so following ships only what is
//! printed: the CLI polls with the cursor of its last answer every 250 ms. Following
//! ends quietly (exit 0, as Juju's does) when stdout's reader goes away or the
//! controller stops; Ctrl-C ends it as it ends any program.

use super::args::{DebugLogArgs, ShowStatusLogArgs, TableFormat};
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output::{self, logs::TimeStyle};
use super::reply::unexpected;
use std::io::IsTerminal;
use std::time::Duration;
use tether_core::log_filter::{parse_level, LogFilter};
use tether_core::wire::{Reply, Request};

const DEFAULT_LINES: u64 = 10;
const POLL: Duration = Duration::from_millis(250);

/// What a `debug-log` invocation asks for: the backlog (None: all), and whether to follow.
fn plan(a: &DebugLogArgs, stdout_is_terminal: bool) -> Result<(Option<u64>, bool), CliError> {
    if a.tail && a.no_tail {
        return Err(CliError::usage("setting --tail and --no-tail not valid"));
    }
    if a.tail && a.limit.is_some() {
        return Err(CliError::usage("setting --tail and --limit not valid"));
    }
    if a.limit.is_some() && a.lines.is_some() {
        return Err(CliError::usage("setting --limit and --lines not valid"));
    }
    let backlog = match (a.replay, a.limit) {
        (true, _) | (false, Some(0)) => None,
        (false, Some(n)) => Some(n),
        (false, None) => Some(a.lines.unwrap_or(DEFAULT_LINES)),
    };
    let follow = if a.tail {
        true
    } else if a.no_tail || a.limit.is_some() {
        false
    } else {
        stdout_is_terminal
    };
    Ok((backlog, follow))
}

pub fn debug_log(ctx: &Ctx, a: DebugLogArgs) -> CmdResult {
    let (backlog, follow) = plan(&a, std::io::stdout().is_terminal())?;
    let level = a.level.as_deref().map(parse_level).transpose().map_err(CliError::Usage)?;
    let filter = LogFilter {
        level,
        include: a.include.clone(),
        exclude: a.exclude.clone(),
        include_module: a.include_module.clone(),
        exclude_module: a.exclude_module.clone(),
    };
    let style = TimeStyle { date: a.date, ms: a.ms, utc: a.utc };
    let mut after = None;
    loop {
        let request = Request::DebugLog { model: ctx.model.clone(), limit: backlog, filter: filter.clone(), after };
        let reply = match ctx.send(request, DEFAULT_TIMEOUT) {
            Ok(r) => r,
            // The controller went away while following: stop as Juju's stream does.
            Err(CliError::Runtime(_)) if after.is_some() => return Ok(0),
            Err(e) => return Err(e),
        };
        let Reply::Log { records, cursor } = reply else { return Err(unexpected(&reply)) };
        let text: String = records.iter().map(|r| output::logs::log_line(r, style) + "\n").collect();
        if !text.is_empty() && !emit::try_out(&text) {
            return Ok(0);
        }
        if !follow {
            return Ok(0);
        }
        after = Some(cursor);
        std::thread::sleep(POLL);
    }
}

pub fn show_status_log(ctx: &Ctx, a: ShowStatusLogArgs) -> CmdResult {
    let request = Request::StatusLog { model: ctx.model.clone(), entity: a.entity, kind: a.kind, days: a.days, limit: a.n };
    match ctx.send(request, DEFAULT_TIMEOUT)? {
        Reply::StatusLog { entries } => {
            emit::out(&match a.format {
                TableFormat::Tabular => output::logs::status_table(&entries, a.utc),
                TableFormat::Json => output::json(&entries)?,
                TableFormat::Yaml => output::yaml(&entries)?,
            });
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str]) -> DebugLogArgs {
        let mut full = vec!["tether", "debug-log"];
        full.extend_from_slice(argv);
        match super::super::args::parse(full) {
            Ok(cli) => match cli.command {
                super::super::args::Command::DebugLog(a) => a,
                _ => panic!("not debug-log"),
            },
            Err(_) => panic!("{argv:?} did not parse"),
        }
    }

    #[test]
    fn following_and_backlog_follow_juju() {
        assert_eq!(plan(&args(&[]), true), Ok((Some(10), true)));
        assert_eq!(plan(&args(&[]), false), Ok((Some(10), false)));
        assert_eq!(plan(&args(&["--tail"]), false), Ok((Some(10), true)));
        assert_eq!(plan(&args(&["--no-tail", "-n", "3"]), true), Ok((Some(3), false)));
        assert_eq!(plan(&args(&["--replay"]), false), Ok((None, false)));
        assert_eq!(plan(&args(&["--limit", "0"]), true), Ok((None, false)));
        assert_eq!(plan(&args(&["--limit", "5"]), true), Ok((Some(5), false)));
        assert!(matches!(plan(&args(&["--tail", "--no-tail"]), true), Err(CliError::Usage(_))));
        assert!(matches!(plan(&args(&["--limit", "5", "-n", "2"]), true), Err(CliError::Usage(_))));
    }
}
