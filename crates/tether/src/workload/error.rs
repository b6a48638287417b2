//! Why starting or stopping a workload failed, one variant per step.
//!
//! Messages name the step, the path or the port involved and the underlying cause; they
//! never carry a password (passwords only travel as [`crate::secret::SecretString`]).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{engine} server binaries not found: {hint}")]
    BinariesNotFound { engine: &'static str, hint: String },
    #[error("system user {user:?} not found (it must exist when tether runs as root)")]
    NoSystemUser { user: String },
    #[error("preparing {path}: {step}: {source}")]
    Prepare { step: &'static str, path: PathBuf, source: std::io::Error },
    #[error("granting traverse on {path} to {user}: {detail}")]
    Acl { path: PathBuf, user: String, detail: String },
    #[error("{path} is not empty and holds no PostgreSQL cluster; refusing to initialise it")]
    NotACluster { path: PathBuf },
    #[error("{path} is not empty and holds no MariaDB data directory; refusing to initialise it")]
    NotAMariaDbDir { path: PathBuf },
    #[error("{step} failed: {detail}")]
    InitFailed { step: &'static str, detail: String },
    #[error("initdb failed: {detail}")]
    Initdb { detail: String },
    #[error("could not start {program}: {source}")]
    Spawn { program: PathBuf, source: std::io::Error },
    #[error("the server exited while starting ({status}); see {log}")]
    ExitedDuringStart { status: String, log: PathBuf },
    #[error("the server on 127.0.0.1:{port} did not accept a login within {waited_secs} s: {last_error}")]
    NotReady { port: u16, waited_secs: u64, last_error: String },
    #[error("the server on 127.0.0.1:{port} refuses the login of {user:?} (the stored password does not match)")]
    LoginRefused { port: u16, user: String },
    #[error("stopping process {pid}: {detail}")]
    Stop { pid: u32, detail: String },
    #[error("workload of {unit} is not running: {reason}")]
    NotRunning { unit: String, reason: String },
    #[error("refusing to remove {path}: it is not under the controller's home")]
    OutsideHome { path: PathBuf },
    #[error("removing {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
}
