//! mysql-k8s's configuration on the server: the published options' rules (with Canonical's
//! messages) and the server settings they become.
//!
//! The sizing follows Canonical's charm so that the same config gives the same server:
//! `testing` is a small fixed footprint, `production` gives InnoDB's buffer pool three
//! quarters of the memory (half when less than 1 GB would be left) and derives
//! `max_connections` from what remains, unless `experimental-max-connections` says it.
//! The audit options drive MariaDB's own audit plugin (`server_audit`): its events follow
//! `logs_audit_policy`. Everything here is pure; the charm applies the result.

use serde_json::Value;
use std::collections::BTreeMap;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// The fewest connections a production server gets (and `experimental-max-connections` may ask).
pub const MAX_CONNECTIONS_FLOOR: i64 = 10;
/// Memory each connection is counted for when sizing `max_connections`.
const PER_CONNECTION: u64 = 12 * MIB;

/// What the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub memory_bytes: u64,
    /// Whether MariaDB's `server_audit` plugin is installed.
    pub audit_plugin: bool,
}

/// Settings that only a restart applies (the rest are set live with `SET GLOBAL`).
pub const STATIC_SETTINGS: [&str; 3] = ["innodb_buffer_pool_size", "innodb_buffer_pool_chunk_size", "plugin_load_add"];

fn text<'a>(config: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    config.get(key).and_then(Value::as_str)
}

fn int(config: &BTreeMap<String, Value>, key: &str) -> Option<i64> {
    config.get(key).and_then(Value::as_i64)
}

/// Checks the options set in `config` against the charm's rules; the first violation is
/// the error.
/// How many days rotated server logs are kept (`logs_retention_period`; `auto`, the
/// default, keeps the shortest period the option allows: 3 days).
pub fn logs_retention_days(config: &BTreeMap<String, Value>) -> u64 {
    text(config, "logs_retention_period").and_then(|r| r.parse::<u64>().ok()).filter(|d| *d >= 3).unwrap_or(3)
}

/// Whether a rotated log last written `age_secs` ago is past `days` of retention.
pub fn log_expired(age_secs: u64, days: u64) -> bool {
    age_secs > days.saturating_mul(86_400)
}

pub fn check(config: &BTreeMap<String, Value>) -> Result<(), String> {
    if let Some(p) = text(config, "profile") {
        if p != "testing" && p != "production" {
            return Err("Value not one of 'testing' or 'production'".into());
        }
    }
    for key in ["cluster-name", "cluster-set-name"] {
        if let Some(name) = text(config, key) {
            check_cluster_name(name)?;
        }
    }
    if let Some(mb) = int(config, "profile-limit-memory") {
        if mb < 600 {
            return Err("MySQL Charm requires at least 600MB for bootstrapping".into());
        }
        if mb > 9_999_999 {
            return Err("`profile-limit-memory` limited to 7 digits (9999999MB)".into());
        }
    }
    for key in ["mysql-interface-user", "mysql-root-interface-user"] {
        if text(config, key).is_some_and(|u| u.chars().count() > 32) {
            return Err("User name constrained to 32 characters".into());
        }
    }
    for key in ["mysql-interface-database", "mysql-root-interface-database"] {
        if let Some(db) = text(config, key) {
            let bad = db.is_empty() || db.chars().count() > 64 || db.chars().any(|c| "\\/?%*:|\"<>.".contains(c) || c.is_control());
            if bad {
                return Err("Database name cannot contain slashes, dots or characters not allowed for directories, and are limited to 64 characters".into());
            }
        }
    }
    if int(config, "experimental-max-connections").is_some_and(|n| n < MAX_CONNECTIONS_FLOOR) {
        return Err(format!("experimental-max-connections must be greater than {MAX_CONNECTIONS_FLOOR}"));
    }
    if text(config, "plugin-audit-strategy").is_some_and(|s| s != "async" && s != "semi-async") {
        return Err("Value not one of 'async' or 'semi-async'".into());
    }
    if text(config, "logs_audit_policy").is_some_and(|s| !["all", "logins", "queries"].contains(&s)) {
        return Err("Value not one of 'all', 'logins' or 'queries'".into());
    }
    if let Some(r) = text(config, "logs_retention_period") {
        if r != "auto" && !r.parse::<i64>().is_ok_and(|d| d >= 3) {
            return Err("logs_retention_period must be 'auto' or an integer of 3 or more".into());
        }
    }
    if int(config, "binlog_retention_days").is_some_and(|d| d < 0) {
        return Err("binlog_retention_days must not be negative".into());
    }
    Ok(())
}

fn check_cluster_name(name: &str) -> Result<(), String> {
    if name.chars().count() > 63 {
        return Err("cluster, cluster-set name must be less than 63 characters".into());
    }
    if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err("cluster, cluster-set name must start with a letter".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err("cluster, cluster-set name must contain only alphanumeric characters, hyphens, underscores and periods".into());
    }
    Ok(())
}

/// The server's settings for the effective config `config` (defaults included) on `host`.
pub fn settings(config: &BTreeMap<String, Value>, host: &Host) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let explicit_connections = int(config, "experimental-max-connections");
    if text(config, "profile") == Some("testing") {
        out.insert("innodb_buffer_pool_size".into(), (20 * MIB).to_string());
        out.insert("innodb_buffer_pool_chunk_size".into(), MIB.to_string());
        out.insert("max_connections".into(), explicit_connections.unwrap_or(100).to_string());
    } else {
        let limit = int(config, "profile-limit-memory").map(|mb| mb as u64 * MIB);
        let mut available = limit.map_or(host.memory_bytes, |l| l.min(host.memory_bytes));
        if let Some(n) = explicit_connections {
            // The connections asked for come first; buffers keep at least 200 MiB.
            available = available.saturating_sub(n as u64 * PER_CONNECTION).max(200 * MIB);
        }
        let (pool, chunk) = buffer_pool(available);
        out.insert("innodb_buffer_pool_size".into(), pool.to_string());
        if let Some(chunk) = chunk {
            out.insert("innodb_buffer_pool_chunk_size".into(), chunk.to_string());
        }
        let left = available.saturating_sub(pool);
        let derived = ((left / PER_CONNECTION) as i64).max(MAX_CONNECTIONS_FLOOR);
        out.insert("max_connections".into(), explicit_connections.unwrap_or(derived).to_string());
    }
    let days = int(config, "binlog_retention_days").unwrap_or(7).max(0) as u64;
    out.insert("binlog_expire_logs_seconds".into(), (days * 24 * 60 * 60).to_string());
    if host.audit_plugin {
        out.insert("plugin_load_add".into(), "server_audit".into());
        let on = config.get("plugin-audit-enabled") != Some(&Value::Bool(false));
        out.insert("server_audit_logging".into(), if on { "ON" } else { "OFF" }.into());
        let events = match text(config, "logs_audit_policy") {
            Some("all") => "CONNECT,QUERY,TABLE",
            Some("queries") => "QUERY",
            _ => "CONNECT",
        };
        out.insert("server_audit_events".into(), events.into());
    }
    out
}

/// InnoDB's buffer pool for `available` bytes: three quarters, or half when less than
/// 1 GB would be left, in whole 128 MiB chunks (a smaller chunk when the pool is small).
fn buffer_pool(available: u64) -> (u64, Option<u64>) {
    let chunk_default = 128 * MIB;
    let mut pool = available / 4 * 3;
    if available - pool < GIB {
        pool = available / 2;
    }
    if pool < chunk_default {
        let chunk = (pool / MIB).max(1) * MIB;
        return (chunk, Some(chunk));
    }
    (pool / chunk_default * chunk_default, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        let mut c: BTreeMap<String, Value> = [
            ("profile", json!("production")),
            ("plugin-audit-enabled", json!(true)),
            ("plugin-audit-strategy", json!("async")),
            ("binlog_retention_days", json!(7)),
            ("logs_audit_policy", json!("logins")),
            ("logs_retention_period", json!("auto")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        c.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        c
    }

    const HOST: Host = Host { memory_bytes: 8 * GIB, audit_plugin: true };

    #[test]
    fn the_published_defaults_pass_and_bad_values_get_the_charms_text() {
        check(&config(&[])).unwrap();
        let cases: [(&str, Value, &str); 8] = [
            ("profile", json!("staging"), "Value not one of 'testing' or 'production'"),
            ("cluster-name", json!("1cluster"), "must start with a letter"),
            ("cluster-set-name", json!("a b"), "only alphanumeric characters"),
            ("profile-limit-memory", json!(500), "at least 600MB"),
            ("mysql-interface-database", json!("a.b"), "cannot contain slashes, dots"),
            ("experimental-max-connections", json!(5), "must be greater than 10"),
            ("logs_audit_policy", json!("none"), "'all', 'logins' or 'queries'"),
            ("logs_retention_period", json!("2"), "3 or more"),
        ];
        for (key, value, text) in cases {
            let err = check(&config(&[(key, value.clone())])).expect_err(key);
            assert!(err.contains(text), "{key}={value}: {err}");
        }
    }

    #[test]
    fn production_sizes_from_memory_and_testing_is_small() {
        let s = settings(&config(&[]), &HOST);
        assert_eq!(s["innodb_buffer_pool_size"], (6 * GIB).to_string());
        assert_eq!(s["max_connections"], (2 * GIB / PER_CONNECTION).to_string());
        assert_eq!(s["binlog_expire_logs_seconds"], "604800");
        assert_eq!((s["server_audit_logging"].as_str(), s["server_audit_events"].as_str()), ("ON", "CONNECT"));
        let s = settings(&config(&[("profile-limit-memory", json!(1024))]), &HOST);
        assert_eq!(s["innodb_buffer_pool_size"], (512 * MIB).to_string());
        let s = settings(&config(&[("profile", json!("testing")), ("logs_audit_policy", json!("queries"))]), &HOST);
        assert_eq!(s["innodb_buffer_pool_size"], (20 * MIB).to_string());
        assert_eq!(s["max_connections"], "100");
        assert_eq!(s["server_audit_events"], "QUERY");
        let s = settings(&config(&[("experimental-max-connections", json!(50)), ("plugin-audit-enabled", json!(false))]), &HOST);
        assert_eq!(s["max_connections"], "50");
        assert_eq!(s["server_audit_logging"], "OFF");
        let no_plugin = settings(&config(&[]), &Host { audit_plugin: false, ..HOST });
        assert!(!no_plugin.contains_key("plugin_load_add"));
    }

    #[test]
    fn rotated_logs_are_kept_for_the_retention_period() {
        let with = |v: &str| BTreeMap::from([("logs_retention_period".to_string(), json!(v))]);
        assert_eq!(logs_retention_days(&with("auto")), 3);
        assert_eq!(logs_retention_days(&with("10")), 10);
        assert_eq!(logs_retention_days(&BTreeMap::new()), 3);
        assert!(!log_expired(3 * 86_400, 3));
        assert!(log_expired(3 * 86_400 + 1, 3));
    }
}
