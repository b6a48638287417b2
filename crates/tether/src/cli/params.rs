//! Turning command-line text into the values a request carries: action params for
//! `run`, `key=value` lists for `deploy --config` / `config --file`, and comma-separated
//! lists (`--reset a,b`, `grant-secret ID app1,app2`).
//!
//! Juju types `run` arguments as YAML (`true` becomes a bool, `10` an int) unless
//! `--string-args` is given, nests dotted keys (`a.b=1`), and lets command-line values
//! override a `--params` YAML file. These rules are pure functions here so they can be
//! tested without a controller.

use super::error::CliError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tether_core::charm_meta::yaml_to_json;
use tether_core::params::{bad_key_message, insert_nested, parse_assignment, AssignmentError};

/// How `run` should type `key=value` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueTyping {
    Yaml,
    Strings,
}

/// The units, action and raw `key=value` arguments of `run`, split apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTarget {
    pub units: Vec<String>,
    pub action: String,
    pub assignments: Vec<String>,
}

/// User input as a usage error echoes it: at most 64 characters (`…` when cut), NUL escaped.
pub fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect::<String>().replace('\0', "\\0");
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// A comma-separated list, blanks dropped; flags that repeat take one such list each.
pub fn split_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect()
}

fn looks_like_unit(s: &str) -> bool {
    tether_core::names::UnitTarget::parse(s).is_ok()
}

/// Splits `run`'s positionals: leading unit names, then the action, then `key=value`s.
pub fn split_run_args(args: &[String]) -> Result<RunTarget, CliError> {
    let units: Vec<String> = args.iter().take_while(|a| looks_like_unit(a)).cloned().collect();
    if units.is_empty() {
        return Err(match args.first() {
            None => CliError::usage("no unit specified"),
            Some(a) if a.contains('/') => CliError::usage(format!("invalid unit or action name {:?}", shown(a))),
            Some(_) => CliError::usage("no unit specified"),
        });
    }
    let Some(action) = args.get(units.len()) else {
        return Err(CliError::usage("no action specified"));
    };
    if tether_core::names::validate_action(action).is_err() {
        return Err(CliError::usage(format!("invalid unit or action name {:?}", shown(action))));
    }
    let first_app = units[0].split('/').next().unwrap_or_default();
    if units.iter().any(|u| u.split('/').next().unwrap_or_default() != first_app) {
        return Err(CliError::usage("all units must be of the same application"));
    }
    let assignments = args[units.len() + 1..].to_vec();
    Ok(RunTarget { units, action: action.clone(), assignments })
}

/// Builds the params map: the `--params` file's map (if any), overridden by `key=value`s.
pub fn run_params(file: Option<&str>, assignments: &[String], typing: ValueTyping) -> Result<BTreeMap<String, Value>, CliError> {
    let mut params = Map::new();
    if let Some(text) = file {
        let parsed: serde_norway::Value = serde_norway::from_str(text)
            .map_err(|e| CliError::usage(format!("cannot parse params file: {}", first_line(&e.to_string()))))?;
        match yaml_to_json(parsed) {
            Value::Object(m) => params = m,
            Value::Null => {}
            _ => return Err(CliError::usage("params file must contain a YAML map")),
        }
    }
    for arg in assignments {
        let (keys, raw) = parse_assignment(arg).map_err(|e| match e {
            AssignmentError::NotKeyValue => CliError::usage(format!("argument {:?} must be of the form key...=value", shown(arg))),
            AssignmentError::BadKey(k) => CliError::usage(bad_key_message(&shown(&k))),
        })?;
        insert_nested(&mut params, &keys, typed(raw, typing));
    }
    Ok(params.into_iter().collect())
}

/// Types one value as YAML would; text YAML cannot parse stays a string.
fn typed(raw: &str, typing: ValueTyping) -> Value {
    if typing == ValueTyping::Strings || raw.is_empty() {
        return Value::String(raw.to_string());
    }
    match serde_norway::from_str::<serde_norway::Value>(raw) {
        Ok(serde_norway::Value::Null) if !matches!(raw.trim(), "null" | "~" | "Null" | "NULL") => Value::String(raw.to_string()),
        Ok(v) => yaml_to_json(v),
        Err(_) => Value::String(raw.to_string()),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(200).collect()
}

/// Expands `--config` values for deploy/config: `key=value` passes through; anything
/// else must be a YAML file whose map (flat, or nested under the application name)
/// becomes `key=value` strings.
pub fn config_assignments(values: &[String], app: Option<&str>) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for v in values {
        if let Some((k, _)) = v.split_once('=') {
            if k.is_empty() || k.contains(char::is_whitespace) {
                return Err(CliError::usage(format!("invalid --config value {:?}: expected key=value or a YAML file", shown(v))));
            }
            out.push(v.clone());
            continue;
        }
        let text = std::fs::read_to_string(v)
            .map_err(|_| CliError::usage(format!("invalid --config value {:?}: expected key=value or a YAML file", shown(v))))?;
        out.extend(config_file_assignments(&text, app)?);
    }
    Ok(out)
}

/// The `key=value` strings a config YAML file stands for.
pub fn config_file_assignments(text: &str, app: Option<&str>) -> Result<Vec<String>, CliError> {
    let parsed: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| CliError::usage(format!("cannot parse config file: {}", first_line(&e.to_string()))))?;
    let Value::Object(top) = yaml_to_json(parsed) else {
        return Err(CliError::usage("config file must contain a YAML map"));
    };
    let section = match app.and_then(|a| top.get(a)) {
        Some(Value::Object(m)) => m.clone(),
        _ if top.len() == 1 && top.values().all(Value::is_object) => match top.values().next() {
            Some(Value::Object(m)) => m.clone(),
            _ => top,
        },
        _ => top,
    };
    let mut out = Vec::new();
    for (k, v) in section {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err(CliError::usage(format!("config value for {:?} must be a scalar", shown(&k)))),
        };
        out.push(format!("{k}={text}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn run_args_split_into_units_action_and_params() {
        let t = split_run_args(&strings(&["pg/leader", "set-password", "username=operator"])).unwrap();
        assert_eq!(t.units, ["pg/leader"]);
        assert_eq!(t.action, "set-password");
        assert_eq!(t.assignments, ["username=operator"]);
        let t = split_run_args(&strings(&["pg/0", "pg/1", "get-password"])).unwrap();
        assert_eq!(t.units, ["pg/0", "pg/1"]);
    }

    #[test]
    fn run_args_errors_use_juju_texts() {
        assert_eq!(split_run_args(&[]), Err(CliError::usage("no unit specified")));
        assert_eq!(split_run_args(&strings(&["pg/0"])), Err(CliError::usage("no action specified")));
        assert_eq!(split_run_args(&strings(&["pg/x", "a"])), Err(CliError::usage("invalid unit or action name \"pg/x\"")));
        assert_eq!(split_run_args(&strings(&["pg/0", "Bad_Action"])), Err(CliError::usage("invalid unit or action name \"Bad_Action\"")));
        assert_eq!(split_run_args(&strings(&["pg/0", "di/0", "act"])), Err(CliError::usage("all units must be of the same application")));
    }

    #[test]
    fn values_are_yaml_typed_unless_string_args() {
        let p =
            run_params(None, &strings(&["a=true", "b=10", "c=1.5", "d=hello", "e=", "f=null", "g=[1, 2]", "h=x: y"]), ValueTyping::Yaml)
                .unwrap();
        assert_eq!(p["a"], json!(true));
        assert_eq!(p["b"], json!(10));
        assert_eq!(p["c"], json!(1.5));
        assert_eq!(p["d"], json!("hello"));
        assert_eq!(p["e"], json!(""));
        assert_eq!(p["f"], Value::Null);
        assert_eq!(p["g"], json!([1, 2]));
        assert_eq!(p["h"], json!({"x": "y"}));
        let p = run_params(None, &strings(&["a=true", "b=10"]), ValueTyping::Strings).unwrap();
        assert_eq!(p["a"], json!("true"));
        assert_eq!(p["b"], json!("10"));
    }

    #[test]
    fn unparsable_yaml_stays_a_string() {
        let p = run_params(None, &strings(&["a=*nope", "b={", "c=p@ss:word"]), ValueTyping::Yaml).unwrap();
        assert_eq!(p["a"], json!("*nope"));
        assert_eq!(p["b"], json!("{"));
        assert_eq!(p["c"], json!("p@ss:word"));
    }

    #[test]
    fn dotted_keys_nest_and_override_the_file() {
        let file = "username: operator\nmysql:\n  host: h\n  port: 1\n";
        let p = run_params(Some(file), &strings(&["mysql.port=2", "a.b.c=x", "username=backup"]), ValueTyping::Yaml).unwrap();
        assert_eq!(p["username"], json!("backup"));
        assert_eq!(p["mysql"], json!({"host": "h", "port": 2}));
        assert_eq!(p["a"], json!({"b": {"c": "x"}}));
        let p = run_params(None, &strings(&["a=1", "a.b=2"]), ValueTyping::Yaml).unwrap();
        assert_eq!(p["a"], json!({"b": 2}));
    }

    #[test]
    fn bad_params_are_usage_errors() {
        assert!(matches!(run_params(None, &strings(&["novalue"]), ValueTyping::Yaml), Err(CliError::Usage(_))));
        assert!(matches!(run_params(None, &strings(&["Bad=1"]), ValueTyping::Yaml), Err(CliError::Usage(_))));
        assert!(matches!(run_params(None, &strings(&["a..b=1"]), ValueTyping::Yaml), Err(CliError::Usage(_))));
        assert!(matches!(run_params(Some("- 1\n- 2\n"), &[], ValueTyping::Yaml), Err(CliError::Usage(_))));
        assert!(matches!(run_params(Some("a: [\n"), &[], ValueTyping::Yaml), Err(CliError::Usage(_))));
        assert!(run_params(Some(""), &[], ValueTyping::Yaml).unwrap().is_empty());
    }

    #[test]
    fn config_values_pass_through_or_come_from_yaml() {
        assert_eq!(config_assignments(&strings(&["a=b=c"]), None).unwrap(), ["a=b=c"]);
        assert!(matches!(config_assignments(&strings(&["=x"]), None), Err(CliError::Usage(_))));
        assert!(matches!(config_assignments(&strings(&["/nonexistent/nope"]), None), Err(CliError::Usage(_))));
        let flat = config_file_assignments("a: 1\nb: true\nc: text\nd: null\n", Some("app")).unwrap();
        assert_eq!(flat, ["a=1", "b=true", "c=text"]);
        let nested = config_file_assignments("app:\n  database-name: x\n", Some("app")).unwrap();
        assert_eq!(nested, ["database-name=x"]);
        let single = config_file_assignments("other:\n  k: v\n", None).unwrap();
        assert_eq!(single, ["k=v"]);
        assert!(config_file_assignments("a: [1]\n", None).is_err());
    }
}
