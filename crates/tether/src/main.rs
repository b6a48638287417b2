//! Entry point of the one `tether` binary: the CLI, the controller daemon
//! (`tether controller run`) and, later, the hook tools an external charm calls.
//!
//! `main` only maps a `run()` result to an exit code; everything else lives in modules.

mod charms;
mod cli;
mod controller;
mod db;
mod engine;
mod paths;
mod secret;
mod store;
mod workload;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
