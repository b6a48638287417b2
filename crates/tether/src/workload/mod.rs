//! Workloads: running real database server processes, whatever the engine.
//!
//! Each database unit runs one server from the machine's binaries, with its data under the
//! unit's directory in `$TETHER_HOME` and a free port on 127.0.0.1. The [`Supervisor`]
//! starts servers (or adopts ones an earlier controller left running), restarts them with
//! backoff when they die, and stops them at controller shutdown while their data stays on
//! disk. What differs per engine is behind [`ServerProcess`], implemented in `engines`.
//!
//! Code map: `supervisor` (all workloads of the controller), `server_process` (the
//! per-engine trait), `process` (spawned or adopted processes, signals), `sysuser`
//! (running as the server's system user when tether is root), `login` (bounded readiness
//! logins), `state` (what a workload is doing), `ports`, `error` (what failed).

pub mod error;
pub mod host;
pub mod login;
pub mod ports;
pub mod process;
pub mod server_process;
pub mod state;
pub mod supervisor;
pub mod sysuser;

pub use error::WorkloadError;
pub use ports::free_port;
pub use server_process::{ServerProcess, StrayServer};
pub use state::WorkloadState;
pub use supervisor::Supervisor;
