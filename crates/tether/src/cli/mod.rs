//! The Juju-style command line: a thin client of the controller daemon.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
