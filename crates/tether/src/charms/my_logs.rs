//! mysql-k8s's server logs and `logs_retention_period`: once a day (the first
//! `update-status` of a new day on a unit that runs a server) the error log is renamed
//! `mariadb.log-<YYYYMMDD>` and the server reopens it by name (`FLUSH ERROR LOGS`), and the
//! audit plugin, when loaded, starts a new file (its old ones are `server_audit.log.<n>` in
//! the data directory); rotated files last written longer ago than the retention period
//! are deleted. Canonical's charm does the same with logrotate; the live files are never
//! touched.

use crate::engine::context::HookContext;
use crate::engines::mysql::MyAdmin;
use std::path::Path;
use std::time::SystemTime;
use tether_core::my_config::{log_expired, logs_retention_days};

/// Unit-state key: the day (`YYYYMMDD`) the logs were last rotated or first seen.
const STATE_ROTATED_ON: &str = "logs.rotated-on";
/// The audit plugin's file in the data directory.
const AUDIT_LOG: &str = "server_audit.log";

/// Rotates the logs when the day changed since the last rotation, then deletes rotated
/// files past the retention period. `audit`: whether the audit plugin is loaded.
pub async fn rotate_and_expire(
    ctx: &mut HookContext,
    admin: &MyAdmin,
    error_log: &Path,
    data_dir: &Path,
    audit: bool,
) -> anyhow::Result<()> {
    let log_dir = error_log.parent().unwrap_or(Path::new("/"));
    let log_name = error_log.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    match ctx.state_get(STATE_ROTATED_ON) {
        // The first look only starts the count.
        None => ctx.state_set(STATE_ROTATED_ON, &today),
        Some(day) if day != today => {
            let rotated = log_dir.join(format!("{log_name}-{day}"));
            if error_log.exists() && !rotated.exists() {
                std::fs::rename(error_log, &rotated)?;
            }
            admin.reopen_logs(audit).await?;
            ctx.state_set(STATE_ROTATED_ON, &today);
        }
        Some(_) => {}
    }
    let days = logs_retention_days(&ctx.config);
    let mut removed = Vec::new();
    for (dir, prefix) in [(log_dir, format!("{log_name}-")), (data_dir, format!("{AUDIT_LOG}."))] {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(suffix) = name.strip_prefix(&prefix) else { continue };
            if suffix.is_empty() || !suffix.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let age = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| SystemTime::now().duration_since(t).ok());
            if age.is_some_and(|a| log_expired(a.as_secs(), days)) && std::fs::remove_file(entry.path()).is_ok() {
                removed.push(name);
            }
        }
    }
    if !removed.is_empty() {
        ctx.log("INFO", &format!("removed rotated server logs older than {days} days: {}", removed.join(", ")));
    }
    Ok(())
}
