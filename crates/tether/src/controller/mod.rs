//! The controller daemon: owns the store, the event engine, the workloads and the
//! control socket.

use crate::paths::Home;

/// Runs the controller in the foreground until it is told to stop (request or signal).
pub fn run_foreground(_home: Home) -> anyhow::Result<()> {
    Ok(())
}
