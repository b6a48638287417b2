//! Printing replies in Juju's shapes.
//!
//! The JSON/YAML forms are the wire's view types serialised unchanged (they are
//! already shaped like Juju's `--format json`; [`data`] picks one for a `--format`); the submodules draw the human forms
//! and make the few decisions that depend on the reply (such as `run`'s exit code).
//! Everything here returns strings so it can be tested without a terminal.

pub mod charms;
pub mod config;
pub mod logs;
pub mod models;
pub mod secrets;
pub mod show_unit;
pub mod status;
pub mod table;
pub mod task;

use super::args::DataFormat;
use super::error::CliError;
use serde::Serialize;
use std::cmp::Ordering;

/// An RFC 3339 time from the controller in `fmt` (chrono's), local unless `utc`; the
/// text as given when it does not parse.
pub fn format_time(rfc3339: &str, fmt: &str, utc: bool) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) if utc => t.with_timezone(&chrono::Utc).format(fmt).to_string(),
        Ok(t) => t.with_timezone(&chrono::Local).format(fmt).to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// Compact JSON plus a newline, as Juju prints `--format json`.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, CliError> {
    serde_json::to_string(value).map(|s| s + "\n").map_err(|e| CliError::runtime(format!("cannot encode output: {e}")))
}

/// YAML, as Juju prints `--format yaml`.
pub fn yaml<T: Serialize + ?Sized>(value: &T) -> Result<String, CliError> {
    serde_norway::to_string(value).map_err(|e| CliError::runtime(format!("cannot encode output: {e}")))
}

/// `--format json|yaml` of a command that has no tabular form.
pub fn data<T: Serialize + ?Sized>(format: DataFormat, value: &T) -> Result<String, CliError> {
    match format {
        DataFormat::Json => json(value),
        DataFormat::Yaml => yaml(value),
    }
}

/// Natural order: runs of digits compare as numbers (`pg/2` < `pg/10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let xl = x.find(|c: char| !c.is_ascii_digit()).unwrap_or(x.len());
                let yl = y.find(|c: char| !c.is_ascii_digit()).unwrap_or(y.len());
                let (xn, yn) = (x[..xl].trim_start_matches('0'), y[..yl].trim_start_matches('0'));
                let ord = xn.len().cmp(&yn.len()).then_with(|| xn.cmp(yn));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[xl..];
                y = &y[yl..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x = &x[c.len_utf8()..];
                y = &y[d.len_utf8()..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut v = vec!["pg/10", "pg/2", "pg/0", "app", "app-2", "app-10"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["app", "app-2", "app-10", "pg/0", "pg/2", "pg/10"]);
        assert_eq!(natural_cmp("a/007", "a/7"), Ordering::Equal);
    }
}
