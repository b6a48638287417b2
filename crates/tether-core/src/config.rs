//! Typing and validation of application config values (`--config k=v`, `config APP k=v`).

use crate::charm_meta::{CharmMeta, OptionType};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("expected \"key=value\", got {0:?}")]
    Malformed(String),
    #[error("unknown option {0:?}")]
    Unknown(String),
    #[error("option {key:?} expected {kind}, got {value:?}")]
    BadValue { key: String, kind: &'static str, value: String },
}

fn short(s: &str) -> String {
    s.chars().take(64).collect::<String>().replace('\0', "\\0")
}

/// Splits `key=value` (the value may contain `=`).
pub fn split_assignment(s: &str) -> Result<(String, String), ConfigError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => Ok((k.to_string(), v.to_string())),
        _ => Err(ConfigError::Malformed(short(s))),
    }
}

/// Converts one raw value to the option's JSON type.
pub fn typed_value(meta: &CharmMeta, key: &str, raw: &str) -> Result<Value, ConfigError> {
    let opt = meta.option(key).ok_or_else(|| ConfigError::Unknown(short(key)))?;
    let bad = |kind| ConfigError::BadValue { key: key.to_string(), kind, value: short(raw) };
    if raw.contains('\0') {
        return Err(bad(opt.kind.as_str()));
    }
    Ok(match opt.kind {
        OptionType::String | OptionType::Secret => Value::String(raw.to_string()),
        OptionType::Int => Value::from(raw.trim().parse::<i64>().map_err(|_| bad("int"))?),
        OptionType::Float => {
            let f: f64 = raw.trim().parse().map_err(|_| bad("float"))?;
            serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| bad("float"))?
        }
        OptionType::Boolean => match raw.trim() {
            "true" | "True" | "TRUE" | "yes" | "on" => Value::Bool(true),
            "false" | "False" | "FALSE" | "no" | "off" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
    })
}

/// Applies assignments and resets to a stored config map, returning the new map.
/// Every assignment is validated before anything changes.
pub fn apply(
    meta: &CharmMeta,
    current: &BTreeMap<String, Value>,
    set: &[(String, String)],
    reset: &[String],
) -> Result<BTreeMap<String, Value>, ConfigError> {
    let mut next = current.clone();
    for key in reset {
        meta.option(key).ok_or_else(|| ConfigError::Unknown(short(key)))?;
        next.remove(key);
    }
    for (k, v) in set {
        let value = typed_value(meta, k, v)?;
        // Juju stores an empty string as "unset" for string options.
        if value == Value::String(String::new()) {
            next.remove(k);
        } else {
            next.insert(k.clone(), value);
        }
    }
    Ok(next)
}

/// The values set under the old charm that a refreshed charm keeps: those of options it
/// still has, each still of the option's type; an option it no longer has is dropped. A
/// value the new option's type refuses is an error (reset it first), so a refresh never
/// leaves a value the charm cannot read.
pub fn carry_over(meta: &CharmMeta, set: &BTreeMap<String, Value>) -> Result<BTreeMap<String, Value>, ConfigError> {
    let mut kept = BTreeMap::new();
    for (key, value) in set {
        let Some(opt) = meta.option(key) else { continue };
        let fits = match opt.kind {
            OptionType::String | OptionType::Secret => value.is_string(),
            OptionType::Int => value.is_i64() || value.is_u64(),
            OptionType::Float => value.is_number(),
            OptionType::Boolean => value.is_boolean(),
        };
        if !fits {
            let shown = match value {
                Value::String(s) => short(s),
                other => short(&other.to_string()),
            };
            return Err(ConfigError::BadValue { key: key.clone(), kind: opt.kind.as_str(), value: shown });
        }
        kept.insert(key.clone(), value.clone());
    }
    Ok(kept)
}

/// The effective config a charm sees: defaults overlaid with set values, unset
/// options without defaults omitted.
pub fn effective(meta: &CharmMeta, set: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for o in &meta.config {
        if let Some(v) = set.get(&o.name).or(o.default.as_ref()) {
            if !v.is_null() {
                out.insert(o.name.clone(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm_meta::ConfigOption;

    fn meta() -> CharmMeta {
        let opt = |n: &str, k, d: Option<Value>| ConfigOption { name: n.into(), kind: k, default: d, description: String::new() };
        CharmMeta {
            resources: vec![],
            storage: vec![],
            action_schemas: Default::default(),
            name: "x".into(),
            summary: String::new(),
            subordinate: false,
            endpoints: vec![],
            config: vec![
                opt("s", OptionType::String, None),
                opt("i", OptionType::Int, Some(3.into())),
                opt("b", OptionType::Boolean, Some(false.into())),
            ],
            actions: vec![],
        }
    }

    #[test]
    fn values_are_typed_and_checked() {
        let m = meta();
        assert_eq!(typed_value(&m, "i", "42").unwrap(), Value::from(42));
        assert_eq!(typed_value(&m, "b", "true").unwrap(), Value::Bool(true));
        assert_eq!(typed_value(&m, "s", "a=b").unwrap(), Value::from("a=b"));
        assert_eq!(typed_value(&m, "i", "x").unwrap_err().to_string(), "option \"i\" expected int, got \"x\"");
        assert_eq!(typed_value(&m, "zz", "1").unwrap_err().to_string(), "unknown option \"zz\"");
    }

    #[test]
    fn a_refresh_keeps_values_the_new_charm_can_read() {
        let m = meta();
        let set =
            BTreeMap::from([("s".to_string(), Value::from("x")), ("gone".to_string(), Value::from(1)), ("i".to_string(), Value::from(7))]);
        assert_eq!(carry_over(&m, &set).unwrap(), BTreeMap::from([("s".to_string(), Value::from("x")), ("i".to_string(), Value::from(7))]));
        let retyped = BTreeMap::from([("i".to_string(), Value::from("seven"))]);
        assert_eq!(carry_over(&m, &retyped).unwrap_err().to_string(), "option \"i\" expected int, got \"seven\"");
        let flag = BTreeMap::from([("b".to_string(), Value::from(1))]);
        assert_eq!(carry_over(&m, &flag).unwrap_err().to_string(), "option \"b\" expected boolean, got \"1\"");
    }

    #[test]
    fn assignments_split_once() {
        assert_eq!(split_assignment("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(split_assignment("novalue").is_err());
        assert!(split_assignment("=v").is_err());
    }

    #[test]
    fn apply_validates_everything_first() {
        let m = meta();
        let cur = BTreeMap::new();
        assert!(apply(&m, &cur, &[("s".into(), "ok".into()), ("i".into(), "bad".into())], &[]).is_err());
        let next = apply(&m, &cur, &[("s".into(), "ok".into())], &[]).unwrap();
        assert_eq!(effective(&m, &next).get("s"), Some(&Value::from("ok")));
        assert_eq!(effective(&m, &next).get("i"), Some(&Value::from(3)));
        let reset = apply(&m, &next, &[], &["s".into()]).unwrap();
        assert!(!effective(&m, &reset).contains_key("s"));
    }
}
