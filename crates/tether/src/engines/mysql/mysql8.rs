//! Initialising a MySQL 8 data directory, the MySQL counterpart of MariaDB's
//! `mariadb-install-db` + `--bootstrap` (see the parent module).
//!
//! MySQL 8 has no bootstrap mode that reads statements from stdin, and its
//! `--init-file` would put root's password in a file, so: `mysqld --initialize-insecure`
//! creates the system tables in a staging directory with `root@localhost` and no
//! password; a server is then started on that directory with networking off and its unix
//! socket inside the unit directory (0700, owned by tether or `mysql`, so nobody else
//! can reach it during the few hundred milliseconds root has no password); tether logs
//! in through the socket, gives `root` at `localhost` and `127.0.0.1` its password
//! (`caching_sha2_password`, general log off for the session; MySQL also rewrites the
//! password out of its logs), and shuts that server down. Only then is the staging
//! directory renamed into place, so a crash midway never leaves a data directory that
//! looks initialised.
//!
//! Not exercised on the machine this was written on (Debian 12 has no MySQL 8 package);
//! the MariaDB path is.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::layout::{
    find_server_of, prep_err, tail, tmp_dir, unit_dir, MariaDbBinaries, MariaDbSpec, READY_POLL, READY_TIMEOUT, SYSTEM_USER,
};
use crate::workload::process::Proc;
use crate::workload::sysuser::RunAs;
use crate::workload::WorkloadError;

/// How long the bootstrap server gets to shut down after `SHUTDOWN`.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(60);

/// The options after `--no-defaults` that only MySQL 8 needs: no X Protocol listener
/// (it would take port 33060 for every unit) and binary logs kept as long as the charm's
/// `binlog_retention_days` default (7 days).
pub fn mysql8_args() -> Vec<String> {
    vec!["--mysqlx=OFF".into(), "--binlog-expire-logs-seconds=604800".into()]
}

/// `--user=mysql` when tether is root (mysqld refuses to run as root without it; the
/// process is also started as that user).
fn user_arg(run_as: Option<RunAs>) -> Option<String> {
    run_as.map(|_| format!("--user={SYSTEM_USER}"))
}

fn init_err(step: &'static str) -> impl FnOnce(String) -> WorkloadError {
    move |detail| WorkloadError::InitFailed { step, detail }
}

/// `mysqld --initialize-insecure` into `staging`, root's password through a private
/// socket, shutdown. The caller renames `staging` into place.
pub async fn initialise(bins: &MariaDbBinaries, spec: &MariaDbSpec, staging: &Path, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    // A bootstrap server left by a controller that died mid-initialisation (unlike
    // MariaDB's, it is not tied to tether's stdin pipe): end it before starting over.
    if let Some(pid) = find_server_of(staging) {
        Proc::Adopted { pid }.terminate(nix::sys::signal::Signal::SIGKILL, SHUTDOWN_WAIT).await?;
    }
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(prep_err("remove stale staging directory", staging))?;
    }
    let mut init = tokio::process::Command::new(&bins.mariadbd);
    init.arg("--no-defaults")
        .arg("--initialize-insecure")
        .args(user_arg(run_as))
        .arg(format!("--datadir={}", staging.display()))
        .arg(format!("--tmpdir={}", tmp_dir(spec).display()))
        .current_dir(unit_dir(spec))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(r) = run_as {
        init.uid(r.uid).gid(r.gid);
    }
    let out = init.output().await.map_err(|e| WorkloadError::Spawn { program: bins.mariadbd.clone(), source: e })?;
    if !out.status.success() {
        return Err(init_err("mysqld --initialize-insecure")(tail(&out.stderr, &out.status)));
    }

    let socket = unit_dir(spec).join("init.sock");
    let pid_file = unit_dir(spec).join("init.pid");
    let mut boot = tokio::process::Command::new(&bins.mariadbd);
    boot.arg("--no-defaults")
        .args(user_arg(run_as))
        .arg(format!("--datadir={}", staging.display()))
        .arg("--skip-networking")
        .args(mysql8_args())
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", pid_file.display()))
        .arg(format!("--tmpdir={}", tmp_dir(spec).display()))
        .arg(format!("--log-error={}", spec.log_file.display()))
        .current_dir(unit_dir(spec))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(r) = run_as {
        touch_owned(&spec.log_file, r)?;
        boot.uid(r.uid).gid(r.gid);
    }
    let child = boot.spawn().map_err(|e| WorkloadError::Spawn { program: bins.mariadbd.clone(), source: e })?;
    let mut proc = Proc::from_child(child);
    let result = set_root_password(spec, &socket, &mut proc).await;
    if result.is_err() {
        let _ = proc.terminate(nix::sys::signal::Signal::SIGTERM, SHUTDOWN_WAIT).await;
        return result;
    }
    // SHUTDOWN was sent: wait for the process to finish writing.
    let deadline = Instant::now() + SHUTDOWN_WAIT;
    while proc.try_exited().is_none() {
        if Instant::now() > deadline {
            let _ = proc.terminate(nix::sys::signal::Signal::SIGKILL, Duration::from_secs(5)).await;
            return Err(init_err("bootstrap server shutdown")("did not exit within 60 s".into()));
        }
        tokio::time::sleep(READY_POLL).await;
    }
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}

/// The server log must exist and belong to the server user before it appends to it.
fn touch_owned(path: &PathBuf, r: RunAs) -> Result<(), WorkloadError> {
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(prep_err("open server log", path))?;
    std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid)).map_err(prep_err("chown server log", path))
}

/// Logs in as password-less `root@localhost` through `socket` once the bootstrap server
/// listens, sets root's password at both hosts, and asks the server to shut down.
async fn set_root_password(spec: &MariaDbSpec, socket: &Path, proc: &mut Proc) -> Result<(), WorkloadError> {
    let opts = mysql_async::OptsBuilder::default().socket(Some(socket.to_string_lossy().into_owned())).user(Some("root")).pass(Some(""));
    let started = Instant::now();
    let mut conn = loop {
        if let Some(status) = proc.try_exited() {
            return Err(WorkloadError::ExitedDuringStart { status, log: spec.log_file.clone() });
        }
        match mysql_async::Conn::new(opts.clone()).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() >= READY_TIMEOUT => {
                return Err(init_err("waiting for the bootstrap server")(e.to_string()));
            }
            Err(_) => tokio::time::sleep(READY_POLL).await,
        }
    };
    let statements = tether_core::my_plan::mysql8_bootstrap_root(spec.root_password.expose())
        .map_err(|e| init_err("rendering the bootstrap statements")(e.to_string()))?;
    // The statements carry the password: their buffers are zeroed when dropped, and only
    // the server's error code is kept.
    let mut script = zeroize::Zeroizing::new(vec!["SET SESSION sql_log_off = 1".to_string()]);
    script.extend(statements);
    let text = zeroize::Zeroizing::new(script.join(";\n"));
    conn.query_drop(text.as_str()).await.map_err(|e| init_err("setting root's password")(code_only(&e)))?;
    // The connection ends with the server; its answer may never come.
    let _ = conn.query_drop("SHUTDOWN").await;
    Ok(())
}

fn code_only(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("server error {} ({})", s.code, s.state),
        other => other.to_string(),
    }
}
