//! What the options become on the server: PostgreSQL settings and extensions.
//!
//! The naming follows Canonical's charm, so that a value a Juju user set lands on the
//! same setting: an option of one of the parameter families is the setting named by the
//! rest of its name (`memory_work_mem` → `work_mem`), with the few renames PostgreSQL's
//! own spelling needs; `cpu_max_*` resolve `auto` from the machine's cores; `profile`
//! sizes memory; `plugin_<name>_enable` names one extension (or SPI's four).

use super::OPTIONS;
use serde_json::Value;
use std::collections::BTreeMap;

/// Option name prefixes whose options are server settings.
const PARAMETER_FAMILIES: [&str; 12] = [
    "connection",
    "cpu",
    "durability",
    "instance",
    "logging",
    "memory",
    "optimizer",
    "request",
    "response",
    "session",
    "storage",
    "vacuum",
];

/// The four modules the `spi` plugin stands for.
const SPI_MODULES: [&str; 4] = ["refint", "autoinc", "insert_username", "moddatetime"];

/// Extensions that need others enabled first (Canonical's dependency list).
pub const EXTENSIONS_WITH_DEPENDENCIES: [(&str, &[&str]); 6] = [
    ("address_standardizer", &["postgis"]),
    ("address_standardizer_data_us", &["postgis"]),
    ("jsonb_plperl", &["plperl"]),
    ("postgis_raster", &["postgis"]),
    ("postgis_tiger_geocoder", &["postgis", "fuzzystrmatch"]),
    ("postgis_topology", &["postgis"]),
];

/// Libraries the server loads at start when this machine has them: the two Canonical's
/// charm preloads that exist in Debian.
pub const PRELOADED_LIBRARIES: [&str; 2] = ["pgaudit", "pg_stat_statements"];

/// What the server runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub memory_bytes: u64,
    pub cpu_cores: u32,
    /// Which of [`PRELOADED_LIBRARIES`] this machine has.
    pub libraries: Vec<String>,
}

/// `plugin_<name>_enable` → `<name>`.
pub(super) fn plugin_of(option: &str) -> Option<&str> {
    option.strip_prefix("plugin_")?.strip_suffix("_enable")
}

/// The extensions one plugin option creates.
pub(super) fn plugin_extensions(plugin: &str) -> Vec<&str> {
    match plugin {
        "spi" => SPI_MODULES.to_vec(),
        "audit" => vec!["pgaudit"],
        "uuid_ossp" => vec!["uuid-ossp"],
        other => vec![other],
    }
}

/// The server setting an option sets, if it is one.
pub(super) fn parameter_of(option: &str) -> Option<String> {
    let (family, rest) = option.split_once('_')?;
    if !PARAMETER_FAMILIES.contains(&family) {
        return None;
    }
    Some(match rest {
        // Patroni's failover setting, not the server's.
        "maximum_lag_on_failover" => return None,
        "date_style" => "DateStyle".into(),
        "time_zone" => "TimeZone".into(),
        r => match r.strip_prefix("pg_stat_statements_") {
            Some(sub) => format!("pg_stat_statements.{sub}"),
            None => r.to_string(),
        },
    })
}

fn setting_text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(if *b { "on" } else { "off" }.into()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The server's settings for the effective config `config` (defaults included) on `host`.
/// Errors are the charm's own texts for values only the machine can refuse.
pub fn parameters(config: &BTreeMap<String, Value>, host: &Host) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for o in OPTIONS {
        let Some(param) = parameter_of(o.name) else { continue };
        if o.name.starts_with("cpu_max_") {
            continue;
        }
        if let Some(text) = config.get(o.name).and_then(setting_text) {
            out.insert(param, text);
        }
    }
    out.extend(workers(config, host.cpu_cores)?);
    let max_connections = match config.get("experimental_max_connections").and_then(Value::as_i64) {
        Some(n) => n,
        None => (4 * i64::from(host.cpu_cores)).max(100),
    };
    out.insert("max_connections".into(), max_connections.to_string());
    memory(config, host, &mut out)?;
    if !host.libraries.is_empty() {
        out.insert("shared_preload_libraries".into(), host.libraries.join(","));
    }
    Ok(out)
}

fn worker_value(config: &BTreeMap<String, Value>, option: &str) -> Option<String> {
    config.get(option).and_then(Value::as_str).map(str::to_string)
}

/// `cpu_max_*`: `auto` from the cores, explicit values capped at ten per core.
fn workers(config: &BTreeMap<String, Value>, cores: u32) -> Result<BTreeMap<String, String>, String> {
    let cap = 10 * i64::from(cores);
    let explicit = |option: &str, text: &str| -> Result<i64, String> {
        let n: i64 = text.parse().map_err(|_| format!("option {option:?}: value is not a valid integer or 'auto'"))?;
        if n > cap {
            return Err(format!("{option} value {n} exceeds maximum allowed of {cap} (10 * vCores). Please set a value <= {cap}."));
        }
        Ok(n)
    };
    let mut out = BTreeMap::new();
    let base = match worker_value(config, "cpu_max_worker_processes").as_deref() {
        Some("auto") => (2 * i64::from(cores)).min(8),
        Some(text) => explicit("cpu_max_worker_processes", text)?,
        None => 8,
    };
    if config.contains_key("cpu_max_worker_processes") {
        out.insert("max_worker_processes".into(), base.to_string());
    }
    for (option, param) in [
        ("cpu_max_parallel_workers", "max_parallel_workers"),
        ("cpu_max_parallel_maintenance_workers", "max_parallel_maintenance_workers"),
        ("cpu_max_logical_replication_workers", "max_logical_replication_workers"),
        ("cpu_max_sync_workers_per_subscription", "max_sync_workers_per_subscription"),
    ] {
        let value = match worker_value(config, option).as_deref() {
            Some("auto") => base,
            Some(text) if param == "max_parallel_workers" => explicit(option, text)?.min(base),
            Some(text) => explicit(option, text)?,
            None => continue,
        };
        out.insert(param.into(), value.to_string());
    }
    Ok(out)
}

/// `profile`: production gives a quarter of the memory to shared_buffers and the rest to
/// the planner's cache estimate; an explicit shared_buffers may take at most 40%.
fn memory(config: &BTreeMap<String, Value>, host: &Host, out: &mut BTreeMap<String, String>) -> Result<(), String> {
    let limit = config.get("profile_limit_memory").and_then(Value::as_u64).map(|mb| mb * 1_000_000);
    let available = limit.map_or(host.memory_bytes, |l| l.min(host.memory_bytes));
    // shared_buffers counts 8 kB pages.
    let max_mb = available * 4 / 10 / 1_000_000;
    let max_pages = max_mb * 1000 / 8;
    let explicit = config.get("memory_shared_buffers").and_then(Value::as_u64);
    if explicit.is_some_and(|pages| pages > max_pages) {
        return Err(format!("Shared buffers config option should be at most 40% of the available memory, which is {max_mb}MB"));
    }
    if config.get("profile").and_then(Value::as_str) != Some("production") {
        return Ok(());
    }
    let shared_bytes = match explicit {
        Some(pages) => pages * 8 * 1000,
        None => {
            let bytes = available / 4;
            out.insert("shared_buffers".into(), (bytes * 128 / 1_000_000).to_string());
            bytes
        }
    };
    let cache_mb = available.saturating_sub(shared_bytes) / 1_000_000;
    out.insert("effective_cache_size".into(), (cache_mb * 128).to_string());
    Ok(())
}

/// Every extension the plugin options name, and whether it should exist. An extension
/// whose dependencies are not all enabled is an error naming them.
pub fn extensions(config: &BTreeMap<String, Value>) -> Result<BTreeMap<String, bool>, String> {
    let enabled = |plugin: &str| config.get(&format!("plugin_{plugin}_enable")) == Some(&Value::Bool(true));
    let mut out = BTreeMap::new();
    for o in OPTIONS {
        let Some(plugin) = plugin_of(o.name) else { continue };
        let on = enabled(plugin);
        if on {
            if let Some((_, needs)) = EXTENSIONS_WITH_DEPENDENCIES.iter().find(|(e, _)| *e == plugin) {
                let missing: Vec<&str> = needs.iter().copied().filter(|n| !enabled(n)).collect();
                if !missing.is_empty() {
                    return Err(format!("plugin {plugin} needs {} enabled first", missing.join(", ")));
                }
            }
        }
        for ext in plugin_extensions(plugin) {
            out.insert(ext.to_string(), on);
        }
    }
    Ok(out)
}

/// The server's `postgresql.auto.conf` holding `settings`: one `name = 'value'` line each,
/// the value quoted as the configuration file parser reads it (quotes doubled, backslashes
/// escaped). Names come from the option table, never from the user.
pub fn render_auto_conf(settings: &BTreeMap<String, String>) -> String {
    let mut out = String::from("# Written by tether from the application's config before each start;\n# changed live with ALTER SYSTEM.\n");
    for (name, value) in settings {
        let quoted = value.replace('\\', "\\\\").replace('\'', "''");
        out.push_str(&format!("{name} = '{quoted}'\n"));
    }
    out
}

/// What the options set in a Patroni cluster's own configuration (beside the server
/// settings), for a cluster of `units` members: how many synchronous standbys (`all` is
/// every replica, `majority` half of the members), whether commits wait for one even when
/// none is there, and how far behind a replica may be and still be promoted.
pub fn patroni_dcs(config: &BTreeMap<String, Value>, units: usize) -> serde_json::Map<String, Value> {
    let replicas = units.saturating_sub(1).max(1) as i64;
    let mut out = serde_json::Map::new();
    let count = match config.get("synchronous_node_count").and_then(Value::as_str) {
        Some("majority") => ((units / 2) as i64).max(1),
        Some(n) => n.parse::<i64>().unwrap_or(replicas).min(replicas),
        None => replicas,
    };
    out.insert("synchronous_node_count".into(), Value::from(count));
    if let Some(strict) = config.get("synchronous_mode_strict").and_then(Value::as_bool) {
        out.insert("synchronous_mode_strict".into(), Value::from(strict));
    }
    if let Some(lag) = config.get("durability_maximum_lag_on_failover").and_then(Value::as_i64) {
        out.insert("maximum_lag_on_failover".into(), Value::from(lag));
    }
    out
}
