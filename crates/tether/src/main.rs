//! Entry point of the one `tether` binary: the CLI, the controller daemon
//! (`tether controller run`) and the hook tools an external charm calls (the binary
//! run through a link named after a tool, as Juju's agent binary is).
//!
//! `main` only maps a `run()` result to an exit code; everything else lives in modules.

mod charms;
mod cli;
mod controller;
mod engine;
mod engines;
mod failpoint;
mod hooktools;
mod paths;
mod secret;
mod store;
mod workload;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    if hooktools::is_tool(&name) {
        return hooktools::client::main(&name);
    }
    cli::main()
}
