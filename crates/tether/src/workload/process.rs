//! A running server process, whether tether spawned it or adopted it from an earlier
//! controller: waiting for it to exit and stopping it by pid, without `unsafe`.
//!
//! An adopted process is not our child, so its exit is noticed by polling `/proc`; a
//! zombie counts as exited.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::error::WorkloadError;

/// How often an adopted process is checked for liveness.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub enum Proc {
    /// Spawned by this controller (we reap it).
    Child { child: tokio::process::Child, pid: u32 },
    /// Left running by an earlier controller and adopted.
    Adopted { pid: u32 },
}

impl Proc {
    pub fn from_child(child: tokio::process::Child) -> Proc {
        let pid = child.id().unwrap_or(0);
        Proc::Child { child, pid }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Proc::Child { pid, .. } | Proc::Adopted { pid } => *pid,
        }
    }

    /// Whether it has exited, and how, without waiting.
    pub fn try_exited(&mut self) -> Option<String> {
        match self {
            Proc::Child { child, .. } => match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(format!("cannot wait for it: {e}")),
            },
            Proc::Adopted { pid } => (!pid_alive(*pid)).then(|| format!("process {pid} is gone")),
        }
    }

    /// Waits until the process exits; returns a human-readable reason.
    pub async fn wait_exit(&mut self) -> String {
        match self {
            Proc::Child { child, pid } => match child.wait().await {
                Ok(status) => format!("process {pid} {status}"),
                Err(e) => format!("cannot wait for process {pid}: {e}"),
            },
            Proc::Adopted { pid } => {
                while pid_alive(*pid) {
                    tokio::time::sleep(POLL).await;
                }
                format!("process {pid} is gone")
            }
        }
    }

    /// The process once its start-up check `ready` passed; when it failed, the process is
    /// stopped (`graceful`, then SIGKILL after `grace`) so a failed start leaves nothing
    /// running, and the check's error is returned.
    pub async fn kept_if_ready(
        mut self,
        ready: Result<(), WorkloadError>,
        graceful: Signal,
        grace: Duration,
    ) -> Result<Proc, WorkloadError> {
        if let Err(e) = ready {
            let _ = self.terminate(graceful, grace).await;
            return Err(e);
        }
        Ok(self)
    }

    /// Sends `graceful`, waits up to `grace`, then SIGKILL and waits again (bounded).
    pub async fn terminate(&mut self, graceful: Signal, grace: Duration) -> Result<(), WorkloadError> {
        let pid = self.pid();
        if self.try_exited().is_some() {
            return Ok(());
        }
        signal(pid, graceful)?;
        if tokio::time::timeout(grace, self.wait_exit()).await.is_ok() {
            return Ok(());
        }
        signal(pid, Signal::SIGKILL)?;
        match tokio::time::timeout(Duration::from_secs(10), self.wait_exit()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(WorkloadError::Stop { pid, detail: "still alive 10 s after SIGKILL".into() }),
        }
    }
}

/// Sends a signal; a process that is already gone is not an error.
pub fn signal(pid: u32, sig: Signal) -> Result<(), WorkloadError> {
    let raw = i32::try_from(pid).map_err(|_| WorkloadError::Stop { pid, detail: "pid out of range".into() })?;
    if raw <= 0 {
        return Err(WorkloadError::Stop { pid, detail: "refusing to signal a process group".into() });
    }
    match kill(Pid::from_raw(raw), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(WorkloadError::Stop { pid, detail: format!("{sig}: {e}") }),
    }
}

/// Whether `pid` names a live (non-zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    match stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()) {
        Some(state) => !matches!(state, "Z" | "X" | "x"),
        None => false,
    }
}

/// Synchronous stop by pid, for `Drop` guards and clean-up paths without a runtime:
/// `graceful`, up to `grace` of polling, then SIGKILL.
pub fn stop_pid_blocking(pid: u32, graceful: Signal, grace: Duration) {
    if !pid_alive(pid) {
        return;
    }
    let _ = signal(pid, graceful);
    let deadline = std::time::Instant::now() + grace;
    while pid_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if pid_alive(pid) {
        let _ = signal(pid, Signal::SIGKILL);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pid_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts a supervised helper program (etcd, Patroni): `cmd` in its own process group, as
/// `run_as` when given, its stdout and stderr appended to `log` (created if missing), and
/// its pid written to `pid_file` so a later controller can find it.
pub fn spawn_logged(
    mut cmd: tokio::process::Command,
    program: &std::path::Path,
    log: &std::path::Path,
    pid_file: &std::path::Path,
    run_as: Option<super::sysuser::RunAs>,
) -> Result<Proc, WorkloadError> {
    let prep = |step, path: &std::path::Path| {
        let path = path.to_path_buf();
        move |e| WorkloadError::Prepare { step, path, source: e }
    };
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(prep("open log", log))?;
    let err = out.try_clone().map_err(prep("open log", log))?;
    cmd.stdin(std::process::Stdio::null()).stdout(out).stderr(err).kill_on_drop(false).process_group(0);
    if let Some(r) = run_as {
        cmd.uid(r.uid).gid(r.gid);
    }
    let child = cmd.spawn().map_err(|e| WorkloadError::Spawn { program: program.to_path_buf(), source: e })?;
    let proc = Proc::from_child(child);
    std::fs::write(pid_file, format!("{}\n", proc.pid())).map_err(prep("write pid file", pid_file))?;
    Ok(proc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_nonsense_is_not() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
        assert!(signal(0, Signal::SIGTERM).is_err());
    }
}
