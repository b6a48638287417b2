//! The small traits each database engine implements so the supervisor can run it without
//! knowing which engine it is: [`ServerProcess`] (start or adopt, how to stop, where it
//! lives) and [`StrayServer`] (finding a server an earlier controller left running in a
//! directory about to be deleted). The engines (`crate::engines`) implement them; the
//! supervisor is handed them.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::error::WorkloadError;
use super::process::Proc;

#[async_trait::async_trait]
pub trait ServerProcess: Send + Sync + std::fmt::Debug {
    /// Short name for logs and errors.
    fn name(&self) -> &'static str;
    /// Where the server lives: the same engine, data directory and port mean the same
    /// server (a spec that differs only in credentials does not restart it).
    fn place(&self) -> (&Path, u16);
    /// Prepares the data directory if needed, then adopts a live server or starts one,
    /// returning once it accepts the admin login. Must be idempotent.
    async fn start(&self) -> Result<Proc, WorkloadError>;
    /// The signal that asks the server for a clean, quick shutdown.
    fn stop_signal(&self) -> Signal;
    /// How long a clean shutdown may take before SIGKILL.
    fn stop_grace(&self) -> Duration;
    /// Whether, at controller shutdown, this server stops one at a time with the other
    /// units of its application (highest-numbered first) instead of all at once: a Galera
    /// cluster whose members all stop together marks none safe to bootstrap, and would not
    /// start again by itself.
    fn stops_in_turn(&self) -> bool {
        false
    }
}

/// A server of one engine that may still run from a directory nobody supervises.
pub trait StrayServer: Send + Sync {
    /// The live server whose data lies in `dir`, with the signal and grace that stop it.
    fn find(&self, dir: &Path) -> Option<(u32, Signal, Duration)>;
}
