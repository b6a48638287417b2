//! Shared fixture for the end-to-end tests: each test gets a [`Controller`] of its own (a
//! fresh, private `$TETHER_HOME`, a real daemon, real PostgreSQL servers), drives it only
//! through the built `tether` binary, waits for conditions by polling
//! `status --format json` with a bound, and checks credentials by logging in to
//! PostgreSQL with [`PgLogin`]. Dropping the controller runs `destroy-controller -y` and
//! makes sure no process it started outlives the test.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use serde_json::Value;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The binary under test, built by cargo for this test run.
pub const TETHER: &str = env!("CARGO_BIN_EXE_tether");

/// The longest one CLI command may take before the test fails (a `run` waits 60 s by default).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(150);
/// The longest the model may take to reach a state the test waits for. Far above what a
/// healthy run needs (seconds); it only bounds a broken one.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(180);
/// How often a waiting test polls.
const POLL: Duration = Duration::from_millis(250);

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
/// `mktemp -d` makes it, so the `postgres` user's access is tested too).
pub struct Controller {
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
        let home = tempfile::Builder::new().prefix("tether-test-home-").tempdir().expect("create TETHER_HOME");
        let scratch = tempfile::Builder::new().prefix("tether-test-out-").tempdir().expect("create scratch dir");
        let c = Controller { home, scratch, calls: AtomicUsize::new(0) };
        c.ok(&["bootstrap"]);
        c
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `tether ARGS...` against this controller and returns what it did, whatever it did.
    pub fn tether(&self, args: &[&str]) -> Output {
        self.tether_with_timeout(args, COMMAND_TIMEOUT)
    }

    fn tether_with_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let out_path = self.scratch.path().join(format!("{n}.out"));
        let err_path = self.scratch.path().join(format!("{n}.err"));
        let stdout = fs::File::create(&out_path).expect("create stdout file");
        let stderr = fs::File::create(&err_path).expect("create stderr file");
        let mut child = Command::new(TETHER)
            .args(args)
            .env("TETHER_HOME", self.home.path())
            .env_remove("JUJU_MODEL")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {TETHER}: {e}"));
        let deadline = Instant::now() + timeout;
        let code = loop {
            match child.try_wait().expect("wait for tether") {
                Some(status) => break status.code().unwrap_or(-1),
                None if Instant::now() >= deadline => {
                    // Our own child: stop it by its handle, then report.
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "`tether {}` did not finish within {timeout:?}\n--- stdout\n{}--- stderr\n{}",
                        args.join(" "),
                        fs::read_to_string(&out_path).unwrap_or_default(),
                        fs::read_to_string(&err_path).unwrap_or_default()
                    );
                }
                None => sleep(Duration::from_millis(20)),
            }
        };
        Output {
            args: args.iter().map(|s| s.to_string()).collect(),
            code,
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }

    /// Runs a command that must succeed; panics with its output otherwise.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.tether(args);
        assert_eq!(out.code, 0, "command failed:\n{out}");
        out
    }

    /// `status --format json`, which must succeed.
    pub fn status(&self) -> Value {
        self.ok(&["status", "--format", "json"]).json()
    }

    /// Polls `status --format json` until `check` says the model is ready (`Ok(true)`),
    /// failing at once when it says the model went wrong (`Err`), or after
    /// [`SETTLE_TIMEOUT`]. Returns the status that satisfied it.
    pub fn wait_for(&self, what: &str, mut check: impl FnMut(&Value) -> Result<bool, String>) -> Value {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let out = self.tether(&["status", "--format", "json"]);
            let last = if out.code == 0 {
                match serde_json::from_str::<Value>(&out.stdout) {
                    Ok(status) => match check(&status) {
                        Ok(true) => return status,
                        Ok(false) => serde_json::to_string_pretty(&status).unwrap_or_default(),
                        Err(why) => panic!("while waiting for {what}: {why}\nstatus:\n{status:#}"),
                    },
                    Err(e) => format!("stdout is not JSON ({e}):\n{out}"),
                }
            } else {
                out.to_string()
            };
            if Instant::now() >= deadline {
                panic!("timed out after {SETTLE_TIMEOUT:?} waiting for {what}; last status:\n{last}");
            }
            sleep(POLL);
        }
    }

    /// Waits until every named application and each of its units is `active`; fails at
    /// once if one of them is in `error`.
    pub fn wait_active(&self, apps: &[&str]) -> Value {
        self.wait_for(&format!("{apps:?} to be active"), |status| {
            let mut ready = true;
            for app in apps {
                let words = workload_words(status, app);
                if words.iter().any(|(_, w, _)| w == "error") {
                    return Err(format!("{app} is in error: {words:?}"));
                }
                ready &= words.len() >= 2 && words.iter().all(|(_, w, _)| w == "active");
            }
            Ok(ready)
        })
    }

    /// Runs `run UNIT ACTION PARAMS... --format json` and returns the output and the one
    /// task object (the first value of the JSON map, as jubilant reads it).
    pub fn run_action(&self, unit: &str, action: &str, params: &[&str]) -> (Output, Value) {
        let mut args = vec!["run", unit, action];
        args.extend_from_slice(params);
        args.extend_from_slice(&["--format", "json"]);
        let out = self.tether(&args);
        let task = if out.stdout.trim().is_empty() {
            Value::Null
        } else {
            let json = out.json();
            json.as_object().and_then(|m| m.values().next().cloned()).unwrap_or(Value::Null)
        };
        (out, task)
    }

    /// Runs an action that must complete with return code 0 and returns its `results`.
    pub fn action_results(&self, unit: &str, action: &str, params: &[&str]) -> Value {
        let (out, task) = self.run_action(unit, action, params);
        assert_eq!(out.code, 0, "action failed:\n{out}");
        assert_eq!(task["status"], "completed", "action did not complete:\n{out}");
        assert_eq!(task["results"]["return-code"], 0, "return-code must be the integer 0:\n{out}");
        task["results"].clone()
    }

    /// `run UNIT get-credentials` on a data-integrator unit: its `postgresql` map.
    pub fn postgresql_credentials(&self, unit: &str) -> Value {
        let results = self.action_results(unit, "get-credentials", &[]);
        assert!(matches!(&results["ok"], Value::String(s) if s == "True") || results["ok"] == true, "ok must be True: {results:#}");
        let pg = results["postgresql"].clone();
        assert!(pg.is_object(), "get-credentials has no `postgresql` key: {results:#}");
        pg
    }

    /// Polls `get-credentials` until `accept` takes the `postgresql` map (bounded).
    pub fn wait_postgresql_credentials(&self, unit: &str, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let (out, task) = self.run_action(unit, "get-credentials", &[]);
            let pg = &task["results"]["postgresql"];
            if out.code == 0 && pg.is_object() && accept(pg) {
                return pg.clone();
            }
            if Instant::now() >= deadline {
                panic!("timed out after {SETTLE_TIMEOUT:?} waiting for {what}; last:\n{out}");
            }
            sleep(POLL);
        }
    }

    /// Runs `cmd` in a test charm's `probe` action (`tests/charms/*`: a shell command with
    /// the hook tools on `PATH`); returns (exit code, stdout, stderr).
    pub fn probe(&self, unit: &str, cmd: &str) -> (i64, String, String) {
        let params = tempfile::NamedTempFile::new().expect("params file");
        fs::write(params.path(), serde_json::json!({ "cmd": cmd }).to_string()).expect("write params");
        let r = self.action_results(unit, "probe", &["--params", params.path().to_str().expect("utf-8 path")]);
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        (s("code").parse().unwrap_or(-1), s("out"), s("err"))
    }

    /// The operator password, from `run postgresql-k8s/leader get-password`.
    pub fn operator_password(&self, app: &str) -> String {
        let results = self.action_results(&format!("{app}/leader"), "get-password", &[]);
        results["password"].as_str().unwrap_or_else(|| panic!("get-password returned no password: {results:#}")).to_string()
    }

    /// Every `*.pid` under the home that names a live process: the daemon's pid file and
    /// each server's `postmaster.pid`. These are processes this test started (through tether).
    /// The controller and every server it started: the pids in pid files under the
    /// home, and any live process whose command line names the home (a MariaDB,
    /// FerretDB or mongod data directory), whatever its pid file says.
    fn started_pids(&self) -> Vec<(i32, PathBuf)> {
        let mut files = Vec::new();
        collect_pid_files(self.home.path(), 6, &mut files);
        let mut pids: Vec<(i32, PathBuf)> = files
            .into_iter()
            .filter_map(|f| {
                let text = fs::read_to_string(&f).ok()?;
                let pid: i32 = text.lines().next()?.trim().parse().ok()?;
                (pid > 1 && is_ours(pid)).then_some((pid, f))
            })
            .collect();
        for pid in processes_naming(self.home.path()) {
            if !pids.iter().any(|(p, _)| *p == pid) {
                pids.push((pid, PathBuf::from(format!("/proc/{pid}/cmdline"))));
            }
        }
        pids
    }

    fn dump_diagnostics(&self) {
        eprintln!("==== TETHER_HOME {} (kept for diagnosis until drop)", self.home.path().display());
        let mut logs = Vec::new();
        collect_files_named(self.home.path(), 6, &|p: &Path| p.extension().is_some_and(|e| e == "log"), &mut logs);
        for log in logs {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!("==== last {} lines of {}\n{}", tail.len(), log.display(), tail.join("\n"));
        }
        let out = self.tether_with_timeout(&["debug-log", "--limit", "80"], Duration::from_secs(20));
        eprintln!("==== tether debug-log --limit 80 (exit {})\n{}{}", out.code, out.stdout, out.stderr);
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking {
            self.dump_diagnostics();
        }
        let before = self.started_pids();
        let out = self.tether_with_timeout(&["destroy-controller", "-y"], Duration::from_secs(120));
        // Whatever destroy-controller did, no process the test started may outlive it.
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut alive: Vec<(i32, PathBuf)> = before.clone();
        while !alive.is_empty() && Instant::now() < deadline {
            alive.retain(|(pid, _)| is_ours(*pid));
            sleep(Duration::from_millis(100));
        }
        for (pid, file) in &alive {
            eprintln!("killing pid {pid} ({}) left behind by the test's controller", file.display());
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
        }
        if !panicking {
            assert_eq!(out.code, 0, "destroy-controller -y failed:\n{out}");
            assert!(alive.is_empty(), "processes outlived destroy-controller -y: {alive:?}");
        }
    }
}

/// True while `pid` is a live (not zombie) tether or postgres process.
fn is_ours(pid: i32) -> bool {
    if !is_live(pid) {
        return false;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("tether") || cmdline.contains("postgres")
}

/// Live (not zombie) processes whose command line contains `dir`.
fn processes_naming(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .filter(|pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&needle) && is_live(*pid)
        })
        .collect()
}

fn is_live(pid: i32) -> bool {
    // The state is the first field after the parenthesised command name.
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

fn collect_pid_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    collect_files_named(dir, depth, &|p: &Path| p.file_name().is_some_and(|n| n == "postmaster.pid" || n == "controller.pid"), out);
}

fn collect_files_named(dir: &Path, depth: usize, want: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
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

// ---- reading status JSON (Juju's shape, juju-compat.md §A3) ----

/// `(name, workload word, message)` for the application itself and each of its units;
/// empty when the application is not in the status.
pub fn workload_words(status: &Value, app: &str) -> Vec<(String, String, String)> {
    let Some(a) = status["applications"].get(app) else { return Vec::new() };
    let word = |v: &Value| v["current"].as_str().unwrap_or("unknown").to_string();
    let msg = |v: &Value| v["message"].as_str().unwrap_or("").to_string();
    let mut words = vec![(app.to_string(), word(&a["application-status"]), msg(&a["application-status"]))];
    if let Some(units) = a["units"].as_object() {
        for (name, u) in units {
            words.push((name.clone(), word(&u["workload-status"]), msg(&u["workload-status"])));
        }
    }
    words
}

pub fn has_app(status: &Value, app: &str) -> bool {
    status["applications"].get(app).is_some()
}

/// The applications in the status, sorted.
pub fn app_names(status: &Value) -> Vec<String> {
    status["applications"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The `related-application` of each relation on `app:endpoint`, sorted.
pub fn related_apps(status: &Value, app: &str, endpoint: &str) -> Vec<String> {
    let mut apps: Vec<String> = status["applications"][app]["relations"][endpoint]
        .as_array()
        .map(|rels| rels.iter().filter_map(|r| r["related-application"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    apps.sort();
    apps
}

/// The unit names of `app`, sorted.
pub fn unit_names(status: &Value, app: &str) -> Vec<String> {
    status["applications"][app]["units"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

// ---- PostgreSQL logins ----

/// Everything needed to log in to PostgreSQL.
#[derive(Clone)]
pub struct PgLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
}

impl fmt::Debug for PgLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

/// Why a login did not work.
#[derive(Debug)]
pub enum LoginFailure {
    /// The server answered and said no (SQLSTATE and message).
    Refused { code: String, message: String },
    /// No server answered, or the connection broke.
    Unreachable(String),
}

impl LoginFailure {
    fn from_error(e: tokio_postgres::Error) -> LoginFailure {
        match e.as_db_error() {
            Some(db) => LoginFailure::Refused { code: db.code().code().to_string(), message: db.message().to_string() },
            None => LoginFailure::Unreachable(e.to_string()),
        }
    }
}

/// The first `host:port` of a comma-separated endpoint list.
pub fn first_endpoint(endpoints: &str) -> (String, u16) {
    let first = endpoints.split(',').next().unwrap_or("").trim();
    let (host, port) = first.rsplit_once(':').unwrap_or_else(|| panic!("endpoint {first:?} is not host:port"));
    (host.to_string(), port.parse().unwrap_or_else(|_| panic!("endpoint {first:?} has no numeric port")))
}

impl PgLogin {
    /// The login a data-integrator `postgresql` credentials map describes.
    pub fn from_credentials(pg: &Value) -> PgLogin {
        let field = |k: &str| pg[k].as_str().unwrap_or_else(|| panic!("credentials lack {k:?}: {pg:#}")).to_string();
        let (host, port) = first_endpoint(&field("endpoints"));
        PgLogin { host, port, user: field("username"), password: field("password"), dbname: field("database") }
    }

    pub fn with_db(&self, dbname: &str) -> PgLogin {
        PgLogin { dbname: dbname.to_string(), ..self.clone() }
    }

    pub fn as_user(&self, user: &str, password: &str) -> PgLogin {
        PgLogin { user: user.to_string(), password: password.to_string(), ..self.clone() }
    }

    fn config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.dbname)
            .application_name("tether-tests")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    pub fn connect(&self) -> Result<PgSession, LoginFailure> {
        PgSession::connect(self.config())
    }

    /// Logs in or panics with the reason.
    pub fn session(&self) -> PgSession {
        self.connect().unwrap_or_else(|e| panic!("cannot log in as {self:?}: {e:?}"))
    }

    /// Polls until the server refuses this login (not merely unreachable); bounded.
    pub fn wait_refused(&self) -> (String, String) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let outcome = self.connect();
            match outcome {
                Err(LoginFailure::Refused { code, message }) => return (code, message),
                _ if Instant::now() >= deadline => panic!("login {self:?} still not refused after {SETTLE_TIMEOUT:?}: {:?}", outcome.err()),
                _ => sleep(POLL),
            }
        }
    }

    /// Polls until no server answers at this login's address; bounded.
    pub fn wait_unreachable(&self) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            match self.connect() {
                Err(LoginFailure::Unreachable(_)) => return,
                other if Instant::now() >= deadline => panic!("{self:?} still answers after {SETTLE_TIMEOUT:?}: {:?}", other.err()),
                _ => sleep(POLL),
            }
        }
    }
}

/// Asserts that the server refuses `login` outright, as it does for a wrong password or a
/// role that is gone (SQLSTATE 28P01 or 28000).
pub fn assert_bad_credentials(login: &PgLogin) {
    match login.connect() {
        Err(LoginFailure::Refused { code, message }) => {
            assert!(code == "28P01" || code == "28000", "expected an authentication failure for {login:?}, got {code} {message}")
        }
        Err(other) => panic!("expected the server to refuse {login:?}, got {other:?}"),
        Ok(_) => panic!("{login:?} logged in, expected a refusal"),
    }
}

/// Asserts that the server refuses `login` (any refusal: authentication or privilege).
pub fn assert_refused(login: &PgLogin) -> (String, String) {
    match login.connect() {
        Err(LoginFailure::Refused { code, message }) => (code, message),
        Err(other) => panic!("expected the server to refuse {login:?}, got {other:?}"),
        Ok(_) => panic!("{login:?} logged in, expected a refusal"),
    }
}

/// One open PostgreSQL connection, with the small runtime that drives it.
pub struct PgSession {
    client: tokio_postgres::Client,
    rt: tokio::runtime::Runtime,
}

impl PgSession {
    fn connect(config: tokio_postgres::Config) -> Result<PgSession, LoginFailure> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let client = rt.block_on(async {
            let connecting = config.connect(tokio_postgres::NoTls);
            let (client, connection) = match tokio::time::timeout(Duration::from_secs(15), connecting).await {
                Ok(result) => result.map_err(LoginFailure::from_error)?,
                Err(_) => return Err(LoginFailure::Unreachable("connect timed out".into())),
            };
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        })?;
        Ok(PgSession { client, rt })
    }

    /// Logs in with a `postgresql://` URI.
    pub fn connect_uri(uri: &str) -> Result<PgSession, LoginFailure> {
        let mut config = tokio_postgres::Config::from_str(uri).map_err(|e| LoginFailure::Unreachable(format!("bad uri: {e}")))?;
        config.connect_timeout(Duration::from_secs(10));
        PgSession::connect(config)
    }

    /// Runs SQL (simple protocol) and returns every row's values as text.
    pub fn try_query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
        let messages = self.rt.block_on(self.client.simple_query(sql))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(String::from)).collect()),
                _ => None,
            })
            .collect())
    }

    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// The first row of a query that must return one, as non-null text.
    pub fn row(&self, sql: &str) -> Vec<String> {
        let rows = self.query(sql);
        let first = rows.first().unwrap_or_else(|| panic!("{sql}: no rows"));
        first.iter().map(|v| v.clone().unwrap_or_else(|| "NULL".into())).collect()
    }

    pub fn execute(&self, sql: &str) {
        self.rt.block_on(self.client.batch_execute(sql)).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

// ---- small helpers ----

/// `relation_id_<digits>`, the user name postgresql-k8s gives a relation (charm-protocol.md §3.4).
pub fn is_relation_user(name: &str) -> bool {
    name.strip_prefix("relation_id_").is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
}

// ---- MongoDB helpers (added for tests/mongodb.rs; kept apart from the rest) ----

impl Controller {
    /// `run UNIT get-credentials` on a data-integrator unit: the map under `key`
    /// (`mongodb`, `mongos`, ...), which must be there.
    pub fn credentials_for(&self, unit: &str, key: &str) -> Value {
        let results = self.action_results(unit, "get-credentials", &[]);
        assert!(matches!(&results["ok"], Value::String(s) if s == "True") || results["ok"] == true, "ok must be True: {results:#}");
        let map = results[key].clone();
        assert!(map.is_object(), "get-credentials has no `{key}` key: {results:#}");
        map
    }

    /// Polls `get-credentials` until `accept` takes the map under `key` (bounded).
    pub fn wait_credentials_for(&self, unit: &str, key: &str, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let (out, task) = self.run_action(unit, "get-credentials", &[]);
            let map = &task["results"][key];
            if out.code == 0 && task["status"] == "completed" && map.is_object() && accept(map) {
                return map.clone();
            }
            if Instant::now() >= deadline {
                panic!("timed out after {SETTLE_TIMEOUT:?} waiting for {what}; last:\n{out}");
            }
            sleep(POLL);
        }
    }

    /// The live processes named by tether's `tether-server.pid` files under this home:
    /// the MongoDB-wire servers (FerretDB, mongod, mongos) this test started through tether.
    pub fn mongo_server_pids(&self) -> Vec<i32> {
        let mut files = Vec::new();
        collect_files_named(self.home.path(), 8, &|p: &Path| p.file_name().is_some_and(|n| n == "tether-server.pid"), &mut files);
        files
            .into_iter()
            .filter_map(|f| fs::read_to_string(f).ok()?.lines().next()?.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 1 && is_live_process(*pid))
            .collect()
    }
}

/// True while `pid` is a live (not zombie) process.
pub fn is_live_process(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

// ---- MySQL / MariaDB logins (mysql_async) ----

impl Controller {
    /// `show-unit UNIT --format json`: the unit's object.
    pub fn show_unit(&self, unit: &str) -> Value {
        let json = self.ok(&["show-unit", unit, "--format", "json"]).json();
        let u = json[unit].clone();
        assert!(u.is_object(), "show-unit has no {unit:?} key: {json:#}");
        u
    }

    /// Polls `show-unit` until `pick` finds what the test waits for (bounded) and returns it.
    pub fn wait_show_unit<T>(&self, unit: &str, what: &str, pick: impl Fn(&Value) -> Option<T>) -> T {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let out = self.tether(&["show-unit", unit, "--format", "json"]);
            if out.code == 0 {
                if let Ok(json) = serde_json::from_str::<Value>(&out.stdout) {
                    if let Some(found) = pick(&json[unit]) {
                        return found;
                    }
                }
            }
            if Instant::now() >= deadline {
                panic!("timed out after {SETTLE_TIMEOUT:?} waiting for {what}; last:\n{out}");
            }
            sleep(POLL);
        }
    }
}

/// In a show-unit object, the relation on the unit's `endpoint` whose related endpoint is
/// `related_endpoint`.
pub fn relation_info<'a>(unit: &'a Value, endpoint: &str, related_endpoint: &str) -> Option<&'a Value> {
    unit["relation-info"].as_array()?.iter().find(|r| r["endpoint"] == endpoint && r["related-endpoint"] == related_endpoint)
}

/// Everything needed to log in to MySQL/MariaDB over TCP.
#[derive(Clone)]
pub struct MyLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The default database, if any.
    pub dbname: Option<String>,
}

impl fmt::Debug for MyLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}/{}", self.user, self.host, self.port, self.dbname.as_deref().unwrap_or(""))
    }
}

/// Why a MySQL login or statement did not work.
#[derive(Debug)]
pub enum MyFailure {
    /// The server answered and said no (error code, e.g. 1045 access denied, and message).
    Refused { code: u16, message: String },
    /// No server answered, or the connection broke.
    Unreachable(String),
}

impl MyFailure {
    fn from_error(e: mysql_async::Error) -> MyFailure {
        match e {
            mysql_async::Error::Server(s) => MyFailure::Refused { code: s.code, message: s.message },
            other => MyFailure::Unreachable(other.to_string()),
        }
    }
}

impl MyLogin {
    /// The login a data-integrator `mysql` credentials map describes.
    pub fn from_credentials(my: &Value) -> MyLogin {
        let field = |k: &str| my[k].as_str().unwrap_or_else(|| panic!("credentials lack {k:?}: {my:#}")).to_string();
        let (host, port) = first_endpoint(&field("endpoints"));
        MyLogin { host, port, user: field("username"), password: field("password"), dbname: Some(field("database")) }
    }

    /// The login a legacy `mysql`/`mysql-root` unit databag describes (`host`, `port`,
    /// `user`, `password`, `database`).
    pub fn from_legacy_bag(bag: &Value) -> MyLogin {
        let field = |k: &str| bag[k].as_str().unwrap_or_else(|| panic!("legacy databag lacks {k:?}: {bag:#}")).to_string();
        let port = field("port").parse().unwrap_or_else(|_| panic!("legacy port is not a number: {bag:#}"));
        MyLogin { host: field("host"), port, user: field("user"), password: field("password"), dbname: Some(field("database")) }
    }

    pub fn with_db(&self, dbname: Option<&str>) -> MyLogin {
        MyLogin { dbname: dbname.map(String::from), ..self.clone() }
    }

    pub fn as_user(&self, user: &str, password: &str) -> MyLogin {
        MyLogin { user: user.to_string(), password: password.to_string(), ..self.clone() }
    }

    pub fn connect(&self) -> Result<MySession, MyFailure> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .prefer_socket(false)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .db_name(self.dbname.clone());
        let conn = rt.block_on(async {
            match tokio::time::timeout(Duration::from_secs(15), mysql_async::Conn::new(opts)).await {
                Ok(r) => r.map_err(MyFailure::from_error),
                Err(_) => Err(MyFailure::Unreachable("connect timed out".into())),
            }
        })?;
        Ok(MySession { conn: Some(conn), rt })
    }

    /// Logs in or panics with the reason.
    pub fn session(&self) -> MySession {
        self.connect().unwrap_or_else(|e| panic!("cannot log in as {self:?}: {e:?}"))
    }

    /// Polls until the server refuses this login (not merely unreachable); bounded.
    pub fn wait_refused(&self) -> (u16, String) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let outcome = self.connect();
            match outcome {
                Err(MyFailure::Refused { code, message }) => return (code, message),
                _ if Instant::now() >= deadline => panic!("login {self:?} still not refused after {SETTLE_TIMEOUT:?}: {:?}", outcome.err()),
                _ => sleep(POLL),
            }
        }
    }

    /// Polls until this login works; bounded.
    pub fn wait_session(&self) -> MySession {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            match self.connect() {
                Ok(s) => return s,
                Err(e) if Instant::now() >= deadline => panic!("cannot log in as {self:?} after {SETTLE_TIMEOUT:?}: {e:?}"),
                Err(_) => sleep(POLL),
            }
        }
    }
}

/// Asserts that the server refuses `login` with "access denied" (1045: wrong password or
/// no such user; 1044: the user exists but may not use that database).
pub fn assert_my_refused(login: &MyLogin) -> (u16, String) {
    match login.connect() {
        Err(MyFailure::Refused { code, message }) => {
            assert!(code == 1045 || code == 1044, "expected an access-denied refusal for {login:?}, got {code} {message}");
            (code, message)
        }
        Err(other) => panic!("expected the server to refuse {login:?}, got {other:?}"),
        Ok(_) => panic!("{login:?} logged in, expected a refusal"),
    }
}

/// One open MySQL connection, with the small runtime that drives it.
pub struct MySession {
    conn: Option<mysql_async::Conn>,
    rt: tokio::runtime::Runtime,
}

impl MySession {
    /// Runs SQL (text protocol) and returns every row's values as text.
    pub fn try_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, MyFailure> {
        use mysql_async::prelude::Queryable;
        let conn = self.conn.as_mut().expect("connection open");
        let rows: Vec<mysql_async::Row> = self.rt.block_on(conn.query(sql)).map_err(MyFailure::from_error)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                        Some(mysql_async::Value::NULL) | None => None,
                        Some(other) => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect())
    }

    pub fn query(&mut self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// The first row of a query that must return one, as text (`NULL` for null).
    pub fn row(&mut self, sql: &str) -> Vec<String> {
        let rows = self.query(sql);
        let first = rows.first().unwrap_or_else(|| panic!("{sql}: no rows"));
        first.iter().map(|v| v.clone().unwrap_or_else(|| "NULL".into())).collect()
    }

    /// The first column of every row.
    pub fn column(&mut self, sql: &str) -> Vec<String> {
        self.query(sql).into_iter().filter_map(|row| row.into_iter().next().flatten()).collect()
    }

    pub fn execute(&mut self, sql: &str) {
        self.try_query(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// Runs a statement that the server must refuse; returns the error code and message.
    pub fn refused(&mut self, sql: &str) -> (u16, String) {
        match self.try_query(sql) {
            Err(MyFailure::Refused { code, message }) => (code, message),
            Err(other) => panic!("{sql}: expected the server to refuse it, got {other:?}"),
            Ok(rows) => panic!("{sql}: expected the server to refuse it, it returned {rows:?}"),
        }
    }
}

impl Drop for MySession {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), conn.disconnect()).await });
        }
    }
}

/// `relation-<id>_<model uuid without dashes>` cut to 26 characters: the user name
/// mysql-k8s gives a `database` relation (charm-protocol.md §4.4).
pub fn is_mysql_relation_user(name: &str) -> bool {
    let Some((id, uuid)) = name.strip_prefix("relation-").and_then(|rest| rest.split_once('_')) else { return false };
    name.len() == 26
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_digit())
        && !uuid.is_empty()
        && uuid.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
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

// ---- reliability helpers (crash, supervision, leak and hostile-input tests; issue 6) ----

/// How long a controller may take to die once its failpoint should have fired, or after
/// a SIGKILL.
pub const DEATH_TIMEOUT: Duration = Duration::from_secs(90);

impl Controller {
    /// Runs `tether ARGS...` with extra environment variables: a controller that this
    /// command starts (`bootstrap`, or any verb when none runs) inherits them, which is
    /// how a test arms `TETHER_FAILPOINT`.
    pub fn tether_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let out_path = self.scratch.path().join(format!("{n}.out"));
        let err_path = self.scratch.path().join(format!("{n}.err"));
        let stdout = fs::File::create(&out_path).expect("create stdout file");
        let stderr = fs::File::create(&err_path).expect("create stderr file");
        let mut cmd = Command::new(TETHER);
        cmd.args(args).env("TETHER_HOME", self.home.path()).env_remove("JUJU_MODEL").env_remove("TETHER_FAILPOINT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr).spawn().unwrap_or_else(|e| panic!("cannot start {TETHER}: {e}"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let code = loop {
            match child.try_wait().expect("wait for tether") {
                Some(status) => break status.code().unwrap_or(-1),
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`tether {}` did not finish within {COMMAND_TIMEOUT:?}", args.join(" "));
                }
                None => sleep(Duration::from_millis(20)),
            }
        };
        Output {
            args: args.iter().map(|s| s.to_string()).collect(),
            code,
            stdout: fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }

    /// Starts the controller (`bootstrap`) with extra environment; none may be running.
    pub fn start_controller_with_env(&self, env: &[(&str, &str)]) {
        assert!(self.controller_pid().is_none(), "a controller is already running");
        let out = self.tether_env(env, &["bootstrap"]);
        assert_eq!(out.code, 0, "bootstrap with {env:?} failed:\n{out}");
    }

    /// The pid in `$TETHER_HOME/controller.pid` when it names a live process.
    pub fn controller_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.home.path().join("controller.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        (pid > 1 && is_live_process(pid)).then_some(pid)
    }

    /// Waits (bounded) until process `pid` is gone; false on timeout.
    pub fn wait_pid_gone(&self, pid: i32, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while is_live_process(pid) {
            if Instant::now() >= deadline {
                return false;
            }
            sleep(Duration::from_millis(50));
        }
        true
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
        let mut files = Vec::new();
        collect_files_named(
            &self.home.path().join("units"),
            8,
            &|p: &Path| p.extension().is_some_and(|e| e == "pid") || p.file_name().is_some_and(|n| n == "postmaster.pid"),
            &mut files,
        );
        files
            .into_iter()
            .filter_map(|f| {
                let pid: i32 = fs::read_to_string(&f).ok()?.lines().next()?.trim().parse().ok()?;
                (pid > 1 && is_live_process(pid)).then_some((pid, f))
            })
            .collect()
    }

    /// Waits until the model is quiet: every unit's agent `idle`, none in `error`, for
    /// `quiet` without interruption (hooks on one unit wake others, so one idle snapshot
    /// is not enough). Bounded by [`SETTLE_TIMEOUT`]; `check` must also hold.
    pub fn wait_settled(&self, quiet: Duration, mut check: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut since: Option<Instant> = None;
        loop {
            let out = self.tether(&["status", "--format", "json"]);
            let mut last = out.to_string();
            if out.code == 0 {
                if let Ok(status) = serde_json::from_str::<Value>(&out.stdout) {
                    let quiet_now = all_units(&status).iter().all(|u| {
                        u["juju-status"]["current"].as_str() == Some("idle") && u["workload-status"]["current"].as_str() != Some("error")
                    }) && check(&status);
                    if quiet_now {
                        let start = *since.get_or_insert_with(Instant::now);
                        if start.elapsed() >= quiet {
                            return status;
                        }
                    } else {
                        since = None;
                    }
                    last = format!("{status:#}");
                }
            } else {
                since = None;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {SETTLE_TIMEOUT:?} waiting for the model to settle; last:\n{last}");
            }
            sleep(POLL);
        }
    }

    /// Every secret of the current model reveals its content (`show-secret --reveal`).
    /// Returns how many there are.
    pub fn assert_every_secret_decrypts(&self) -> usize {
        let list = self.ok(&["secrets", "--format", "json"]).json();
        let ids: Vec<String> = list.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for id in &ids {
            let shown = self.ok(&["show-secret", id, "--reveal", "--format", "json"]).json();
            let entry = shown.as_object().and_then(|m| m.values().next()).unwrap_or_else(|| panic!("show-secret {id}: {shown:#}"));
            let content = &entry["content"];
            assert!(
                content.as_object().is_some_and(|m| !m.is_empty()) || content["Data"].as_object().is_some_and(|m| !m.is_empty()),
                "secret {id} revealed no content: {shown:#}"
            );
        }
        ids.len()
    }
}

/// Every unit object in a status (principals and their subordinates).
pub fn all_units(status: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for app in status["applications"].as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
        for u in app["units"].as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
            out.push(u.clone());
            for s in u["subordinates"].as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
                out.push(s.clone());
            }
        }
    }
    out
}

/// Whether a login was refused by the server, refused because the server is not there,
/// or accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Accepted,
    /// Authentication failed (the user is gone or its password changed).
    BadCredentials(String),
    /// Some other refusal or no answer.
    Other(String),
}

impl MyLogin {
    /// Logs in and classifies the result like [`PgLogin::outcome`] (1045: bad credentials).
    pub fn outcome(&self) -> LoginOutcome {
        match self.connect() {
            Ok(_) => LoginOutcome::Accepted,
            Err(MyFailure::Refused { code: 1045, message }) => LoginOutcome::BadCredentials(format!("1045 {message}")),
            Err(e) => LoginOutcome::Other(format!("{e:?}")),
        }
    }
}

impl PgLogin {
    /// Logs in and classifies the result: 28P01/28000 are bad credentials.
    pub fn outcome(&self) -> LoginOutcome {
        match self.connect() {
            Ok(_) => LoginOutcome::Accepted,
            Err(LoginFailure::Refused { code, message }) if code == "28P01" || code == "28000" => {
                LoginOutcome::BadCredentials(format!("{code} {message}"))
            }
            Err(e) => LoginOutcome::Other(format!("{e:?}")),
        }
    }
}
