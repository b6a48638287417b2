//! Driving the `tether` binary under test: a controller of the harness's own in a fresh
//! temporary `$TETHER_HOME`, every command timed as a whole process (that is what a user
//! or jubilant pays), and readers for the JSON shapes the harness needs.
//!
//! Only the CLI is used, never the store or the socket, so the numbers include everything
//! tether does for a real caller.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// What one CLI command did, and how long the whole process took.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

pub struct Tether {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Tether {
    /// A controller started with `tether bootstrap` in a fresh `$TETHER_HOME`.
    pub fn bootstrap(bin: &Path) -> Result<Tether> {
        let home = tempfile::Builder::new().prefix("tether-bench-home-").tempdir().context("create TETHER_HOME")?;
        let t = Tether { bin: bin.to_path_buf(), home };
        // The daemon may inherit this command's stdout/stderr: give it a file, not a pipe
        // we would wait on forever.
        let log = std::fs::File::create(t.home.path().join("bootstrap.log")).context("create bootstrap log")?;
        let status = t.command(&["bootstrap"]).stdout(log.try_clone()?).stderr(log).status().context("run tether bootstrap")?;
        if !status.success() {
            bail!("tether bootstrap failed ({status}); see {}", t.home.path().join("bootstrap.log").display());
        }
        Ok(t)
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args).env("TETHER_HOME", self.home.path()).env_remove("JUJU_MODEL").stdin(Stdio::null());
        c
    }

    /// Runs `tether ARGS...` and returns what it did, whatever it did.
    pub fn run(&self, args: &[&str]) -> Result<Out> {
        let start = Instant::now();
        let out = self.command(args).output().with_context(|| format!("start {}", self.bin.display()))?;
        Ok(Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        })
    }

    /// Runs a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> Result<Out> {
        let out = self.run(args)?;
        if out.code != 0 {
            bail!("`tether {}` exited {}: {}", args.join(" "), out.code, out.stderr.trim());
        }
        Ok(out)
    }

    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let out = self.ok(args)?;
        serde_json::from_str(&out.stdout).with_context(|| format!("`tether {}` printed no JSON", args.join(" ")))
    }

    /// `status --format json` of a model (the current one when `None`).
    pub fn status(&self, model: Option<&str>) -> Result<Value> {
        match model {
            Some(m) => self.json(&["status", "-m", m, "--format", "json"]),
            None => self.json(&["status", "--format", "json"]),
        }
    }

    /// The results of an action on one unit (`run UNIT ACTION --format json`).
    pub fn action(&self, unit: &str, action: &str) -> Result<Value> {
        self.action_with(unit, action, &[])
    }

    /// The results of an action with parameters (`run UNIT ACTION KEY=VALUE... --format
    /// json`), which must have completed.
    pub fn action_with(&self, unit: &str, action: &str, params: &[&str]) -> Result<Value> {
        let mut args = vec!["run", unit, action];
        args.extend_from_slice(params);
        args.extend_from_slice(&["--format", "json"]);
        let v = self.json(&args)?;
        let task = v.as_object().and_then(|m| m.values().next()).ok_or_else(|| anyhow!("`run {unit} {action}` printed no task"))?;
        if let Some(status) = task["status"].as_str().filter(|s| *s != "completed") {
            bail!("`run {unit} {action}` {status}: {}", task["message"].as_str().unwrap_or_default());
        }
        task.get("results").cloned().ok_or_else(|| anyhow!("`run {unit} {action}` has no results"))
    }

    /// The controller daemon's pid, from its pid file.
    pub fn controller_pid(&self) -> Result<u32> {
        let path = self.home.path().join("controller.pid");
        let text = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        text.trim().parse().with_context(|| format!("{} holds no pid", path.display()))
    }

    /// The controller's resident set size in MiB (`VmRSS` of /proc/<pid>/status).
    pub fn rss_mib(&self) -> Result<f64> {
        let pid = self.controller_pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("read the controller's /proc status")?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no VmRSS for pid {pid}"))?;
        Ok(kib / 1024.0)
    }

    /// `destroy-controller -y`: stops the daemon and every server it started.
    pub fn destroy(&self) -> Result<()> {
        self.ok(&["destroy-controller", "-y"]).map(|_| ())
    }
}

/// The workload status words of an application's units (empty when it is not there).
pub fn unit_words(status: &Value, app: &str) -> Vec<String> {
    status["applications"][app]["units"]
        .as_object()
        .map(|units| units.values().map(|u| u["workload-status"]["current"].as_str().unwrap_or("unknown").to_string()).collect())
        .unwrap_or_default()
}

/// Whether the application has units and every one shows `word`; an `error` unit fails.
pub fn all_units(status: &Value, app: &str, word: &str) -> Result<bool> {
    let words = unit_words(status, app);
    if words.iter().any(|w| w == "error") {
        bail!("{app} has a unit in error: {}", status["applications"][app]);
    }
    Ok(!words.is_empty() && words.iter().all(|w| w == word))
}

/// Polls `check` every `every` until it says yes, failing after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, every: Duration, mut check: impl FnMut() -> Result<bool>) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if check()? {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        sleep(every);
    }
}

/// Finds the first value under `key` anywhere in a JSON document.
pub fn find_key<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find_key(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}
