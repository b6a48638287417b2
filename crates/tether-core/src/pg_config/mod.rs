//! postgresql-k8s's whole configuration surface, as Canonical's charm publishes it.
//!
//! Bundles and scripts written for Juju set these options by name; an option tether did
//! not know would make them fail, and an option accepted and ignored would make every
//! other setting suspect. So the table ([`OPTIONS`]) carries every option of the published
//! `config.yaml` with its type, default and allowed values, [`check`] refuses a value before
//! anything changes (with the text Canonical's charm validates with, where it has one), and
//! [`parameters`] and [`extensions`] say what the options become on the server. Everything
//! here is pure; the charm applies the result.

mod parameters;
mod table;

pub use parameters::{extensions, parameters, patroni_dcs, render_auto_conf, Host, EXTENSIONS_WITH_DEPENDENCIES, PRELOADED_LIBRARIES};
pub use table::OPTIONS;

use crate::charm_meta::{ConfigOption, OptionType};
use serde_json::Value;
use std::collections::BTreeMap;

/// A default as the table writes it (a `const` cannot hold a JSON value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fixed {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl Fixed {
    fn to_json(self) -> Value {
        match self {
            Fixed::Bool(b) => Value::Bool(b),
            Fixed::Int(i) => Value::from(i),
            Fixed::Float(f) => serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
            Fixed::Str(s) => Value::String(s.to_string()),
        }
    }
}

/// What a value must be, beyond its type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Any,
    /// An integer in `[min, max]`.
    Int(i64, i64),
    /// A number in `[min, max]`.
    Float(f64, f64),
    /// One of the strings, else the charm's own message.
    OneOf(&'static [&'static str], &'static str),
    /// One of the strings (a typed literal in the charm: the message names them).
    Literal(&'static [&'static str]),
    /// `auto`, or an integer of at least the given value (a string option).
    AutoOrAtLeast(i64),
    /// `all`, `majority` or a positive integer (a string option).
    AllMajorityOrPositive,
}

/// One option of the table.
#[derive(Debug, Clone, Copy)]
pub struct PgOption {
    pub name: &'static str,
    pub kind: OptionType,
    pub default: Option<Fixed>,
    pub rule: Rule,
}

/// The options as charm metadata, described in tether's own words.
pub fn options() -> Vec<ConfigOption> {
    OPTIONS
        .iter()
        .map(|o| ConfigOption { name: o.name.into(), kind: o.kind, default: o.default.map(Fixed::to_json), description: describe(o.name) })
        .collect()
}

fn describe(name: &str) -> String {
    if let Some(plugin) = parameters::plugin_of(name) {
        let exts = parameters::plugin_extensions(plugin).join(", ");
        return format!("create the {exts} extension(s) in every database; false drops them where nothing depends on them");
    }
    match name {
        "profile" => {
            "production sizes shared_buffers and effective_cache_size from the memory available; testing keeps PostgreSQL's defaults".into()
        }
        "profile_limit_memory" => "the memory (MB) the production profile sizes from, when less than the machine's".into(),
        "experimental_max_connections" => "max_connections (unset: the larger of 100 and 4 per CPU core)".into(),
        "synchronous_node_count" => {
            "how many replicas confirm each commit in a high-availability cluster: all, majority or a number".into()
        }
        "synchronous_mode_strict" => "whether commits wait for a synchronous replica even when none is available".into(),
        "durability_maximum_lag_on_failover" => "the most WAL (bytes) a replica may lag and still be promoted".into(),
        "ldap_map" => "LDAP group to PostgreSQL role mappings (group=role,...), used with an LDAP integration".into(),
        "ldap_search_filter" => "the LDAP search filter, used with an LDAP integration".into(),
        _ => match parameters::parameter_of(name) {
            Some(p) => format!("the server's {p} setting"),
            None => String::new(),
        },
    }
}

/// Checks every option set in `config` against its rule; the first violation is the
/// error, naming the option. Types were checked when the values were parsed.
pub fn check(config: &BTreeMap<String, Value>) -> Result<(), String> {
    for o in OPTIONS {
        if let Some(v) = config.get(o.name).filter(|v| !v.is_null()) {
            check_value(o.rule, v).map_err(|why| format!("option {:?}: {why}", o.name))?;
        }
    }
    Ok(())
}

fn check_value(rule: Rule, v: &Value) -> Result<(), String> {
    let text = v.as_str().unwrap_or_default();
    if text.chars().any(char::is_control) {
        // A setting is one line of the server's configuration file.
        return Err("control characters (such as a newline) are not allowed".into());
    }
    match rule {
        Rule::Any => Ok(()),
        Rule::Int(min, max) => bounded(v.as_i64().map(|i| i as f64), min as f64, max as f64, &|x| format!("{}", x as i64)),
        Rule::Float(min, max) => bounded(v.as_f64(), min, max, &|x| format!("{x}")),
        Rule::OneOf(values, message) => one_of(values, text).map_err(|_| message.to_string()),
        Rule::Literal(values) => one_of(values, text).map_err(|_| {
            let permitted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
            format!("unexpected value; permitted: {}", permitted.join(", "))
        }),
        Rule::AutoOrAtLeast(min) => match text {
            "auto" => Ok(()),
            _ => match text.parse::<i64>() {
                Ok(n) if n >= min => Ok(()),
                Ok(_) => Err(format!("ensure this value is greater than or equal to {min}")),
                Err(_) => Err("value is not a valid integer or 'auto'".into()),
            },
        },
        Rule::AllMajorityOrPositive => match text {
            "all" | "majority" => Ok(()),
            _ => match text.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(()),
                Ok(_) => Err("ensure this value is greater than 0".into()),
                Err(_) => Err("unexpected value; permitted: 'all', 'majority' or a positive integer".into()),
            },
        },
    }
}

fn one_of(values: &[&str], text: &str) -> Result<(), ()> {
    if values.contains(&text) {
        Ok(())
    } else {
        Err(())
    }
}

fn bounded(x: Option<f64>, min: f64, max: f64, show: &dyn Fn(f64) -> String) -> Result<(), String> {
    match x {
        Some(x) if x < min => Err(format!("ensure this value is greater than or equal to {}", show(min))),
        Some(x) if x > max => Err(format!("ensure this value is less than or equal to {}", show(max))),
        Some(_) => Ok(()),
        None => Err("value is not a valid number".into()),
    }
}

#[cfg(test)]
mod tests;
