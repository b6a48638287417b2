//! The Juju-style command line: a thin client of the controller daemon.
//!
//! Every verb is parsed once ([`args`]), turned into one [`tether_core::wire::Request`]
//! ([`commands`], or the module of its noun: [`models`], [`secrets`], [`exec`]), sent
//! over the control socket ([`context`], [`client`]) after making sure a controller
//! answers ([`autostart`]), and its [`tether_core::wire::Reply`] printed in Juju's shapes
//! ([`reply`], [`output`]). This file only declares the modules and maps a
//! [`error::CliError`] to the exit code; imports only go downwards, so no two CLI
//! modules import each other. Nothing here touches the store or the workloads: the CLI
//! only speaks the wire protocol, so the daemon stays the single owner of state.
//!
//! Exit codes follow Juju: 0 success, 1 runtime error, 2 usage error; every failure is
//! one `ERROR <message>` line on stderr.

mod actions;
mod args;
mod autostart;
mod bundles;
mod client;
mod commands;
mod context;
mod emit;
mod error;
mod exec;
mod logs;
mod models;
mod ops;
mod output;
mod params;
mod relations;
mod reply;
mod secrets;
mod status;
mod unsupported;

use error::CliError;
use std::process::ExitCode;

/// Parses `std::env::args_os()`, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let parsed = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(args::ParseOutcome::Printed) => return ExitCode::SUCCESS,
        Err(args::ParseOutcome::Error(e)) => return fail(&e),
    };
    match commands::run(parsed) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    emit::error(e.message());
    ExitCode::from(e.exit_code())
}
