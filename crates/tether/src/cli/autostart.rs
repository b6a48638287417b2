//! Starting, stopping and destroying the local controller from the CLI.
//!
//! Users (and jubilant) never have to run a daemon by hand: any command that needs a
//! controller starts one in the background when none answers, and says so in one
//! line on stderr. `controller stop` and `destroy-controller` are the way back down.
//! Every wait here is bounded and polls a condition; none sleeps and hopes.

use super::client::{self, ClientError};
use super::emit;
use super::error::CliError;
use crate::paths::Home;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tether_core::wire::{Reply, Request};

const POLL: Duration = Duration::from_millis(50);
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Long enough for the slowest clean stop: the members of one Galera application stop one
/// after another, each given up to a minute (a joiner whose peers left can take all of it)
/// before SIGKILL. A shorter wait reported a controller that was still stopping.
const STOP_TIMEOUT: Duration = Duration::from_secs(300);
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a controller that accepts and then drops connections is given to finish
/// going down before the CLI reports it.
const DYING_GRACE: Duration = Duration::from_secs(10);

/// Whether a controller answered before or had to be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    AlreadyRunning,
    Started,
}

/// `Ok(true)` when a controller answers `Ping`, `Ok(false)` when none listens.
///
/// A controller that dies (a crash, SIGKILL) keeps its socket for the moment its threads
/// take to exit: a connection made then is accepted and dropped. That is waited out
/// (bounded) instead of being reported, so the next command starts a new controller.
pub fn answers(home: &Home) -> Result<bool, CliError> {
    let deadline = Instant::now() + DYING_GRACE;
    loop {
        match client::call(home, Request::Ping, PING_TIMEOUT) {
            Ok(Reply::Error { message, .. }) => return Err(CliError::runtime(message)),
            Ok(_) => return Ok(true),
            Err(ClientError::NotRunning) => return Ok(false),
            Err(ClientError::Closed) if Instant::now() < deadline => std::thread::sleep(POLL),
            Err(e) => return Err(e.into_cli(home)),
        }
    }
}

/// Makes sure a controller answers, starting one (and saying so) if needed.
pub fn ensure_running(home: &Home) -> Result<Liveness, CliError> {
    if answers(home)? {
        return Ok(Liveness::AlreadyRunning);
    }
    start(home)?;
    emit::info(&format!("Started local controller in {}", home.root().display()));
    Ok(Liveness::Started)
}

fn create_home(home: &Home) -> Result<(), CliError> {
    let mkdir = |p: &Path| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(p)
            .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", p.display())))
    };
    mkdir(home.root())?;
    mkdir(&home.logs())
}

/// Spawns `tether controller run` detached and waits until it answers `Ping`.
fn start(home: &Home) -> Result<(), CliError> {
    create_home(home)?;
    let log_path = home.controller_log();
    let log = OpenOptions::new()
        .mode(0o600)
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| CliError::runtime(format!("cannot open {}: {e}", log_path.display())))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let log_err = log.try_clone().map_err(|e| CliError::runtime(format!("cannot open {}: {e}", log_path.display())))?;
    let exe = std::env::current_exe().map_err(|e| CliError::runtime(format!("cannot find the tether binary: {e}")))?;
    let mut child = Command::new(exe)
        .args(["controller", "run"])
        .env("TETHER_HOME", home.root())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .spawn()
        .map_err(|e| CliError::runtime(format!("cannot start the controller: {e}")))?;

    // While the daemon comes up the socket may exist before it accepts, or the token
    // may not be written yet: such failures are remembered, not fatal, until the child
    // exits or the deadline passes.
    let mut last_error: Option<String> = None;
    let mut poll = || match answers(home) {
        Ok(up) => up,
        Err(e) => {
            last_error = Some(e.message().to_string());
            false
        }
    };
    let deadline = Instant::now() + START_TIMEOUT;
    let failure = loop {
        if poll() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Another CLI may have started a controller at the same moment; give it a
            // moment to answer before calling this a failure.
            let grace = Instant::now() + Duration::from_secs(2);
            while Instant::now() < grace {
                if poll() {
                    return Ok(());
                }
                std::thread::sleep(POLL);
            }
            break format!("the controller exited during start-up ({status})");
        }
        if Instant::now() >= deadline {
            break format!("the controller did not answer within {}s", START_TIMEOUT.as_secs());
        }
        std::thread::sleep(POLL);
    };
    let last = last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default();
    Err(CliError::runtime(format!("{failure}{last}; log {}:\n{}", log_path.display(), log_tail(&log_path, log_start))))
}

/// The last lines the controller wrote since `from`.
fn log_tail(path: &Path, from: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = from.max(len.saturating_sub(8192));
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(the log is empty)".into();
    }
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// `bootstrap`: start a controller, or say that one already runs.
pub fn bootstrap(home: &Home) -> Result<(), CliError> {
    if answers(home)? {
        emit::info(&format!("Controller already running in {}", home.root().display()));
        return Ok(());
    }
    start(home)?;
    emit::info(&format!("Started local controller in {}", home.root().display()));
    Ok(())
}

/// Whether the pid file names a live process (a zombie counts as gone).
fn pid_alive(home: &Home) -> bool {
    let Ok(text) = std::fs::read_to_string(home.pid()) else { return false };
    let Ok(pid) = text.trim().parse::<u32>() else {
        // Being written right now, or garbage: only trust it while the file is there.
        return home.pid().exists();
    };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
            !matches!(state, Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}

/// `controller stop`: asks a running controller to stop and waits until it is gone.
/// Returns whether one was running.
pub fn stop(home: &Home) -> Result<bool, CliError> {
    let running = answers(home)?;
    if running {
        match client::call(home, Request::StopController, STOP_TIMEOUT) {
            Ok(Reply::Error { message, .. }) => return Err(CliError::runtime(message)),
            Ok(_) => {}
            // The daemon may close the socket as it goes down; the wait below decides.
            Err(ClientError::NotRunning) | Err(ClientError::Closed) | Err(ClientError::Failed(_)) => {}
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        let gone = !pid_alive(home) && !answers(home).unwrap_or(true);
        if gone {
            return Ok(running);
        }
        if Instant::now() >= deadline {
            return Err(CliError::runtime(format!(
                "the controller in {} did not stop within {}s",
                home.root().display(),
                STOP_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Refuses to delete a directory that cannot be a tether home.
fn check_deletable(home: &Home) -> Result<(), CliError> {
    let root = home.root();
    let user_home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    if root.parent().is_none() || user_home.as_deref() == Some(root) {
        return Err(CliError::runtime(format!("refusing to delete {}", root.display())));
    }
    let markers = [home.store(), home.key(), home.token(), home.socket(), home.logs()];
    let empty = std::fs::read_dir(root).map(|mut d| d.next().is_none()).unwrap_or(true);
    if !empty && !markers.iter().any(|m| m.exists()) {
        return Err(CliError::runtime(format!("refusing to delete {}: it does not look like a tether home", root.display())));
    }
    Ok(())
}

/// `destroy-controller -y`: stop, then delete the whole home.
pub fn destroy(home: &Home) -> Result<(), CliError> {
    if !home.root().exists() {
        emit::info(&format!("No controller in {}", home.root().display()));
        return Ok(());
    }
    check_deletable(home)?;
    stop(home)?;
    std::fs::remove_dir_all(home.root()).map_err(|e| CliError::runtime(format!("cannot delete {}: {e}", home.root().display())))?;
    emit::info(&format!("Destroyed controller in {}", home.root().display()));
    Ok(())
}
