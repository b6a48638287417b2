//! The processes a test's controller starts: finding them (pid files under the home,
//! command lines that name it), telling whether one still runs, killing the controller on
//! purpose, and making sure none outlives the test ([`reap`]), also a test's own server
//! when the watchdog ends a hung binary ([`watch_own_server`]).

use super::controller::{Controller, Output};
use super::wait::{poll_until, DEATH_TIMEOUT};
use super::watchdog::{watch, Watched};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Sends `sig` to `pid` (a process the test's controller started), failing the test when
/// that is refused.
pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap_or_else(|e| panic!("{sig} to {pid}: {e}"));
}

/// SIGKILL to `pid`, the fault the HA tests cause.
pub fn sigkill(pid: i32) {
    signal(pid, nix::sys::signal::Signal::SIGKILL);
}

/// `pid`'s state letter and parent, from `/proc/<pid>/stat` (the first two fields after
/// the parenthesised command name).
fn state_and_parent(pid: i32) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(") ")?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// True while `pid` is a live (not zombie) process.
pub fn is_live_process(pid: i32) -> bool {
    state_and_parent(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

/// True while `pid` is stopped (SIGSTOP: state `T`).
fn is_stopped(pid: i32) -> bool {
    state_and_parent(pid).is_some_and(|(state, _)| state == 'T')
}

/// True while `pid` is a live (not zombie) tether or postgres process.
pub(super) fn is_ours(pid: i32) -> bool {
    if !is_live_process(pid) {
        return false;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("tether") || cmdline.contains("postgres")
}

/// The pids of live processes whose command line mentions `needle` (such as a test's
/// `$TETHER_HOME`, which every server tether starts names in its arguments).
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let me = std::process::id() as i32;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            if !is_live_process(*pid) {
                return false;
            }
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(needle)
        })
        .collect()
}

/// The live children of `pid` (a postmaster's backends and helpers), from `/proc`.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|child| state_and_parent(*child).is_some_and(|(state, ppid)| ppid == pid && !matches!(state, 'Z' | 'X')))
        .collect()
}

/// Every file under `dir` (at most `depth` folders down) that `want` takes.
pub(super) fn collect_files_named(dir: &Path, depth: usize, want: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() && depth > 0 {
            collect_files_named(&path, depth - 1, want, out);
        } else if kind.is_file() && want(&path) {
            out.push(path);
        }
    }
}

/// The pid on the first line of each pid file under `dir` that `want` takes, when `alive`
/// says that process runs.
fn live_pids_in(dir: &Path, depth: usize, want: &dyn Fn(&Path) -> bool, alive: fn(i32) -> bool) -> Vec<(i32, PathBuf)> {
    let mut files = Vec::new();
    collect_files_named(dir, depth, want, &mut files);
    files
        .into_iter()
        .filter_map(|f| {
            let pid: i32 = fs::read_to_string(&f).ok()?.lines().next()?.trim().parse().ok()?;
            (pid > 1 && alive(pid)).then_some((pid, f))
        })
        .collect()
}

/// Waits up to `grace` for each of `procs` (pid, description) to end (`alive` tells whether
/// one still runs), then SIGKILLs the rest, saying so. Returns those it had to kill.
pub fn reap(mut procs: Vec<(i32, String)>, grace: Duration, alive: impl Fn(i32, &str) -> bool) -> Vec<(i32, String)> {
    let _ = poll_until(grace, Duration::from_millis(100), || {
        procs.retain(|(pid, what)| alive(*pid, what));
        if procs.is_empty() {
            Ok(())
        } else {
            Err(format!("{procs:?}"))
        }
    });
    for (pid, what) in &procs {
        eprintln!("killing pid {pid} ({what}): still running after {grace:?}");
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
    }
    procs
}

/// The controller of `home` and every server it started: the pids in pid files under
/// the home (the daemon's pid file and each server's `postmaster.pid`), and any live
/// process whose command line names the home (a MariaDB, FerretDB or mongod data
/// directory), whatever its pid file says, and the stopped descendants of those. These are
/// processes a test started (through tether).
pub(super) fn started_pids(home: &Path) -> Vec<(i32, String)> {
    let pid_file = |p: &Path| p.file_name().is_some_and(|n| n == "postmaster.pid" || n == "controller.pid");
    let mut pids: Vec<(i32, String)> =
        live_pids_in(home, 6, &pid_file, is_ours).into_iter().map(|(pid, f)| (pid, f.display().to_string())).collect();
    for pid in pids_mentioning(&home.to_string_lossy()) {
        if !pids.iter().any(|(p, _)| *p == pid) {
            pids.push((pid, format!("/proc/{pid}/cmdline")));
        }
    }
    // Their stopped children too (a postmaster's backends name no home): one the test
    // stopped (SIGSTOP) never ends by itself once its postmaster is gone. Only stopped
    // ones: the others end with their parent, and a short-lived one's pid may be reused
    // by another test's process before the reaping looks again.
    let mut i = 0;
    while i < pids.len() {
        let (parent, _) = pids[i];
        for child in children(parent).into_iter().filter(|c| is_stopped(*c)) {
            if !pids.iter().any(|(p, _)| *p == child) {
                pids.push((child, format!("stopped child of {parent}")));
            }
        }
        i += 1;
    }
    pids
}

impl Controller {
    /// The pid in `$TETHER_HOME/controller.pid` when it names a live process.
    pub fn controller_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.home().join("controller.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        (pid > 1 && is_live_process(pid)).then_some(pid)
    }

    /// Waits (bounded) until process `pid` is gone; false on timeout.
    pub fn wait_pid_gone(&self, pid: i32, timeout: Duration) -> bool {
        poll_until(timeout, Duration::from_millis(50), || if is_live_process(pid) { Err(format!("{pid} runs")) } else { Ok(()) }).is_ok()
    }

    /// Restarts the controller with `failpoint` armed (`TETHER_FAILPOINT`), runs `op`, and
    /// requires the controller to die at that failpoint (its log names it); then a plain
    /// command starts it again.
    pub fn crash_at(&self, failpoint: &str, op: impl FnOnce(&Controller) -> Output) -> Output {
        self.ok(&["controller", "stop"]);
        self.start_controller_with_env(&[("TETHER_FAILPOINT", failpoint)]);
        let pid = self.controller_pid().expect("the armed controller runs");
        let out = op(self);
        assert!(self.wait_pid_gone(pid, DEATH_TIMEOUT), "failpoint {failpoint} never fired (op: {out})");
        let log = fs::read_to_string(self.home().join("logs").join("controller.log")).unwrap_or_default();
        let name = failpoint.rsplit_once(':').map_or(failpoint, |(n, _)| n);
        assert!(log.contains(&format!("failpoint {name} ")), "the controller died, but not at {failpoint}; op: {out}\nlog:\n{log}");
        let restarted = self.tether(&["status", "--format", "json"]);
        assert_eq!(restarted.code, 0, "a plain command must start the controller again:\n{restarted}");
        out
    }

    /// SIGKILLs the running controller (the pid from its pid file) and waits until it is
    /// gone. Returns the pid killed, or `None` when none was running.
    pub fn kill_controller(&self) -> Option<i32> {
        let pid = self.controller_pid()?;
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        assert!(self.wait_pid_gone(pid, DEATH_TIMEOUT), "controller {pid} survived SIGKILL");
        Some(pid)
    }

    /// Every `postmaster.pid` / `*.pid` file under `units/` whose first line names a live
    /// process: the database servers of this controller.
    pub fn server_pid_files(&self) -> Vec<(i32, PathBuf)> {
        let server_pid_file = |p: &Path| p.extension().is_some_and(|e| e == "pid") || p.file_name().is_some_and(|n| n == "postmaster.pid");
        live_pids_in(&self.home().join("units"), 8, &server_pid_file, is_live_process)
    }

    /// The live processes named by tether's `tether-server.pid` files under this home:
    /// the MongoDB-wire servers (FerretDB, mongod, mongos) this test started through tether.
    pub fn mongo_server_pids(&self) -> Vec<i32> {
        let wire_pid_file = |p: &Path| p.file_name().is_some_and(|n| n == "tether-server.pid");
        live_pids_in(self.home(), 8, &wire_pid_file, is_live_process).into_iter().map(|(pid, _)| pid).collect()
    }
}

impl Controller {
    /// A unit's directory under the controller's home (`units/<model uuid>/<app>-<n>`).
    pub fn unit_dir(&self, unit: &str) -> PathBuf {
        let name = unit.replace('/', "-");
        let units = self.home().join("units");
        fs::read_dir(&units)
            .unwrap_or_else(|e| panic!("{}: {e}", units.display()))
            .flatten()
            .map(|m| m.path().join(&name))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| panic!("no directory for {unit} under {}", units.display()))
    }
}

/// Stops a test's own server, the process its pid file names (if it runs): `graceful`,
/// then SIGKILL once `grace` has passed.
pub fn stop_own_server(pid_file: &Path, graceful: nix::sys::signal::Signal, grace: Duration) {
    if let Some(pid) = live_pid(pid_file) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), graceful);
        reap(vec![(pid, pid_file.display().to_string())], grace, |pid, _| is_live_process(pid));
    }
}

/// A test's own server, for the watchdog to end when the fixture that stops it will never
/// be dropped: [`stop_own_server`], then its directory goes.
pub fn watch_own_server(pid_file: PathBuf, graceful: nix::sys::signal::Signal, grace: Duration, dir: PathBuf) -> Watched {
    watch(move || {
        stop_own_server(&pid_file, graceful, grace);
        let _ = fs::remove_dir_all(&dir);
    })
}

/// The first line of a pid file, when it names a live process.
pub fn live_pid(path: &Path) -> Option<i32> {
    let pid: i32 = fs::read_to_string(path).ok()?.lines().next()?.trim().parse().ok()?;
    is_live_process(pid).then_some(pid)
}
