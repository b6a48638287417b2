//! The fixture every end-to-end test starts from: a [`Controller`] of the test's own (a
//! fresh, private `$TETHER_HOME`, a real daemon), driven only through the built `tether`
//! binary, and the [`Output`] of each command. Dropping the controller runs
//! `destroy-controller -y` and makes sure no process it started outlives the test.

use super::processes::{is_ours, reap, started_pids};
use super::wait::poll_until;
use super::watchdog::{pass, say, watch, Watched};
use serde_json::Value;
use std::fmt;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The binary under test, built by cargo for this test run.
pub const TETHER: &str = env!("CARGO_BIN_EXE_tether");

/// The longest one CLI command may take before the test fails (a `run` waits 60 s by default).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(150);
/// How often a running command is checked for its exit (most take well under a second).
const EXIT_POLL: Duration = Duration::from_millis(20);

/// What one CLI command did.
#[derive(Debug, Clone)]
pub struct Output {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`tether {}` exited {}\n--- stdout\n{}--- stderr\n{}---", self.args.join(" "), self.code, self.stdout, self.stderr)
    }
}

impl Output {
    /// stdout parsed as JSON; panics with the whole output when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }

    /// The non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    /// Asserts Juju's error shape: a non-zero exit and stderr that is exactly one line,
    /// `ERROR <message>`, containing `needle`.
    pub fn assert_one_line_error(&self, needle: &str) -> &Self {
        assert_ne!(self.code, 0, "expected a failure:\n{self}");
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected exactly one line on stderr:\n{self}");
        assert!(lines[0].starts_with("ERROR "), "expected stderr to start with `ERROR `:\n{self}");
        assert!(lines[0].contains(needle), "expected the error to mention {needle:?}:\n{self}");
        self
    }

    /// Asserts a non-zero exit whose first stderr line is `ERROR ...` containing `needle`
    /// (Juju may add a hint on a second line, as it does for an existing relation).
    pub fn assert_error(&self, needle: &str) -> &Self {
        assert_ne!(self.code, 0, "expected a failure:\n{self}");
        let first = self.stderr_lines().first().copied().unwrap_or("");
        assert!(first.starts_with("ERROR "), "expected stderr to start with `ERROR `:\n{self}");
        assert!(self.stderr.contains(needle), "expected stderr to mention {needle:?}:\n{self}");
        self
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code:\n{self}");
        self
    }
}

/// A controller of the test's own, in a fresh temporary `$TETHER_HOME` (0700, as
/// `mktemp -d` makes it, so the `postgres` user's access is tested too). The watchdog
/// holds a weak handle on its [`Fixture`], to tear it down if the test hangs.
pub struct Controller {
    fixture: Arc<Fixture>,
    _watched: Watched,
}

/// What a controller's test owns: its home and where its commands' output goes.
struct Fixture {
    home: tempfile::TempDir,
    /// Where the CLI's stdout and stderr go (files, not pipes: a daemon that inherited a
    /// pipe could otherwise keep a test waiting forever). Outside the home, which
    /// `destroy-controller` deletes.
    scratch: tempfile::TempDir,
    calls: AtomicUsize,
}

impl Controller {
    /// A controller started with `tether bootstrap`.
    pub fn bootstrap() -> Controller {
        let c = Controller::unstarted();
        c.ok(&["bootstrap"]);
        c
    }

    /// A fixture whose home is empty: no controller runs until a command starts one.
    pub fn unstarted() -> Controller {
        let home = tempfile::Builder::new().prefix("tether-test-home-").tempdir().expect("create TETHER_HOME");
        let scratch = tempfile::Builder::new().prefix("tether-test-out-").tempdir().expect("create scratch dir");
        let fixture = Arc::new(Fixture { home, scratch, calls: AtomicUsize::new(0) });
        let weak = Arc::downgrade(&fixture);
        let watched = watch(move || {
            if let Some(fixture) = weak.upgrade() {
                say(&fixture.diagnostics());
                let (out, left) = fixture.tear_down();
                say(&format!("==== destroy-controller -y exited {}; killed {left:?}", out.code));
                let _ = fs::remove_dir_all(fixture.scratch.path());
            }
        });
        Controller { fixture, _watched: watched }
    }

    pub fn home(&self) -> &Path {
        self.fixture.home.path()
    }

    /// Runs `tether ARGS...` against this controller and returns what it did, whatever it did.
    pub fn tether(&self, args: &[&str]) -> Output {
        self.fixture.gated(None, args, COMMAND_TIMEOUT)
    }

    /// Runs `tether ARGS...` with extra environment variables: a controller that this
    /// command starts (`bootstrap`, or any verb when none runs) inherits them, which is
    /// how a test arms `TETHER_FAILPOINT` (never inherited from the test's own environment
    /// here).
    pub fn tether_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.fixture.gated(Some(env), args, COMMAND_TIMEOUT)
    }

    /// Starts `tether ARGS...` against this controller without waiting for it (a command
    /// that follows or waits: `status --watch`, `wait-for`, `debug-log --tail`), stdin
    /// closed and stdout/stderr as given. The caller owns the child and must reap it.
    pub fn spawn(&self, args: &[&str], stdout: Stdio, stderr: Stdio) -> std::process::Child {
        let _open = pass();
        Command::new(TETHER)
            .args(args)
            .env("TETHER_HOME", self.home())
            .env_remove("JUJU_MODEL")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `tether {}`: {e}", args.join(" ")))
    }

    /// Runs a command that must succeed; panics with its output otherwise.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.tether(args);
        assert_eq!(out.code, 0, "command failed:\n{out}");
        out
    }

    /// Starts the controller (`bootstrap`) with extra environment; none may be running.
    pub fn start_controller_with_env(&self, env: &[(&str, &str)]) {
        assert!(self.controller_pid().is_none(), "a controller is already running");
        let out = self.tether_env(env, &["bootstrap"]);
        assert_eq!(out.code, 0, "bootstrap with {env:?} failed:\n{out}");
    }
}

impl Fixture {
    /// A test's command: [`Fixture::run`] once the watchdog's gate lets it through.
    fn gated(&self, env: Option<&[(&str, &str)]>, args: &[&str], timeout: Duration) -> Output {
        let _open = pass();
        self.run(env, args, timeout)
    }

    /// Runs the binary with this home, bounded by `timeout`; `env`, when given, replaces
    /// any inherited `TETHER_FAILPOINT`.
    fn run(&self, env: Option<&[(&str, &str)]>, args: &[&str], timeout: Duration) -> Output {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let out_path = self.scratch.path().join(format!("{n}.out"));
        let err_path = self.scratch.path().join(format!("{n}.err"));
        let stdout = fs::File::create(&out_path).expect("create stdout file");
        let stderr = fs::File::create(&err_path).expect("create stderr file");
        let mut cmd = Command::new(TETHER);
        cmd.args(args).env("TETHER_HOME", self.home.path()).env_remove("JUJU_MODEL");
        if let Some(env) = env {
            cmd.env_remove("TETHER_FAILPOINT");
            for (k, v) in env {
                cmd.env(k, v);
            }
        }
        let mut child =
            cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr).spawn().unwrap_or_else(|e| panic!("cannot start {TETHER}: {e}"));
        let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
        let exited = poll_until(timeout, EXIT_POLL, || match child.try_wait().expect("wait for tether") {
            Some(status) => Ok(status.code().unwrap_or(-1)),
            None => Err("still running".into()),
        });
        let code = exited.unwrap_or_else(|_| {
            // Our own child: stop it by its handle, then report.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`tether {}` did not finish within {timeout:?}\n--- stdout\n{}--- stderr\n{}",
                args.join(" "),
                read(&out_path),
                read(&err_path)
            );
        });
        Output { args: args.iter().map(|s| s.to_string()).collect(), code, stdout: read(&out_path), stderr: read(&err_path) }
    }

    /// The tail of every log under the home and of `debug-log`, to print when a test failed.
    fn diagnostics(&self) -> String {
        let mut text = format!("==== TETHER_HOME {} (kept for diagnosis until drop)\n", self.home.path().display());
        let mut logs = Vec::new();
        super::processes::collect_files_named(self.home.path(), 6, &|p: &Path| p.extension().is_some_and(|e| e == "log"), &mut logs);
        for log in logs {
            let content = fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            text += &format!("==== last {} lines of {}\n{}\n", tail.len(), log.display(), tail.join("\n"));
        }
        // INFO and above: a test polling an action fills the DEBUG lines with its own hooks.
        let out = self.run(None, &["debug-log", "--level", "INFO", "--limit", "120"], Duration::from_secs(20));
        text += &format!("==== tether debug-log --level INFO --limit 120 (exit {})\n{}{}", out.code, out.stdout, out.stderr);
        let out = self.run(None, &["status"], Duration::from_secs(20));
        text += &format!("==== tether status (exit {})\n{}{}", out.code, out.stdout, out.stderr);
        text
    }

    /// `destroy-controller -y`, then no process the test started may outlive it: those
    /// still running after a grace are killed. Returns what destroy did and those killed.
    fn tear_down(&self) -> (Output, Vec<(i32, String)>) {
        let before = started_pids(self.home.path());
        let out = self.run(None, &["destroy-controller", "-y"], Duration::from_secs(120));
        let left = reap(before, Duration::from_secs(15), |pid, _| is_ours(pid));
        (out, left)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        // `TETHER_TEST_SHOW_LOGS=1`: also after a test that passed (to compare with a failure).
        if panicking || std::env::var_os("TETHER_TEST_SHOW_LOGS").is_some() {
            eprintln!("{}", self.fixture.diagnostics());
        }
        let (out, left) = self.fixture.tear_down();
        if !panicking {
            assert_eq!(out.code, 0, "destroy-controller -y failed:\n{out}");
            assert!(left.is_empty(), "processes outlived destroy-controller -y: {left:?}");
        }
    }
}
