//! Argument parsing for hook tools, the way Juju's `gnuflag` does it: `--name value`,
//! `--name=value`, `-r value`, bool flags bare or as `--flag=False`, `--` ends the
//! flags, and flags may come after positionals (ops puts `--format=json` anywhere).

use super::registry::ToolOutput;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a tool refused or failed; becomes `ERROR <message>` on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The operation failed (exit 1).
    Failed(String),
}

impl ToolError {
    pub fn usage(m: impl Into<String>) -> Self {
        ToolError::Usage(m.into())
    }
    pub fn failed(m: impl Into<String>) -> Self {
        ToolError::Failed(m.into())
    }
    pub fn output(&self) -> ToolOutput {
        match self {
            ToolError::Usage(m) => ToolOutput::error(m, 2),
            ToolError::Failed(m) => ToolOutput::error(m, 1),
        }
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::Usage(m) | ToolError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<crate::engine::context::ContextError> for ToolError {
    fn from(e: crate::engine::context::ContextError) -> Self {
        ToolError::Failed(e.to_string())
    }
}

impl From<crate::store::StoreError> for ToolError {
    fn from(e: crate::store::StoreError) -> Self {
        ToolError::Failed(e.to_string())
    }
}

pub type ToolResult = Result<String, ToolError>;

/// A flag a tool accepts: its names (`"r"`, `"relation"`) and whether it takes a value.
pub struct Flag {
    pub names: &'static [&'static str],
    pub value: bool,
}

pub const fn val(names: &'static [&'static str]) -> Flag {
    Flag { names, value: true }
}

pub const fn flag(names: &'static [&'static str]) -> Flag {
    Flag { names, value: false }
}

#[derive(Debug, Default)]
pub struct Parsed {
    /// Canonical (first) name → values in order; bool flags hold `"true"`/`"false"`.
    values: BTreeMap<&'static str, Vec<String>>,
    pub positional: Vec<String>,
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
    /// A bool flag's value (Go's `strconv.ParseBool`).
    pub fn bool(&self, name: &str) -> Result<bool, ToolError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| ToolError::usage(format!("invalid value {v:?} for flag --{name}: parse error"))),
        }
    }
    /// `--format`: json, yaml or smart (the default).
    pub fn format(&self) -> Result<Format, ToolError> {
        match self.get("format").unwrap_or("smart") {
            "json" => Ok(Format::Json),
            "yaml" => Ok(Format::Yaml),
            "smart" => Ok(Format::Smart),
            other => Err(ToolError::usage(format!("invalid value {other:?} for option --format: unknown format {other:?}"))),
        }
    }
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` against `flags` (every tool also takes `--format`).
pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, ToolError> {
    const FORMAT: Flag = val(&["format"]);
    let find = |name: &str| flags.iter().chain(std::iter::once(&FORMAT)).find(|f| f.names.contains(&name));
    let mut out = Parsed::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            out.positional.extend(it.by_ref().cloned());
            break;
        }
        let body = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
            Some(b) if !b.is_empty() => b,
            _ => {
                out.positional.push(arg.clone());
                continue;
            }
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(f) = find(name) else { return Err(ToolError::usage(format!("flag provided but not defined: -{name}"))) };
        let value = match (f.value, inline) {
            (true, Some(v)) => v,
            (true, None) => it.next().cloned().ok_or_else(|| ToolError::usage(format!("flag needs an argument: -{name}")))?,
            (false, Some(v)) => v,
            (false, None) => "true".into(),
        };
        out.values.entry(f.names[0]).or_default().push(value);
    }
    Ok(out)
}

/// Rejects positionals beyond `max` (Juju: `unrecognized args: ["x" "y"]`).
pub fn at_most(p: &Parsed, max: usize) -> Result<(), ToolError> {
    if p.positional.len() <= max {
        return Ok(());
    }
    let extra: Vec<String> = p.positional[max..].iter().map(|a| format!("{a:?}")).collect();
    Err(ToolError::usage(format!("unrecognized args: [{}]", extra.join(" "))))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Smart,
}

/// Renders a tool's answer: JSON on one line; YAML; or Juju's "smart" format (strings
/// raw, booleans `True`/`False`, lists of strings one per line, anything else YAML).
pub fn render(v: &Value, format: Format) -> String {
    match format {
        Format::Json => format!("{}\n", serde_json::to_string(v).unwrap_or_default()),
        Format::Yaml => yaml(v),
        Format::Smart => match v {
            Value::Null => String::new(),
            Value::String(s) => format!("{s}\n"),
            Value::Bool(b) => if *b { "True\n" } else { "False\n" }.into(),
            Value::Number(n) => format!("{n}\n"),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(Value::as_str).map(|s| format!("{s}\n")).collect()
            }
            Value::Object(m) if m.is_empty() => String::new(),
            other => yaml(other),
        },
    }
}

fn yaml(v: &Value) -> String {
    serde_norway::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_gnuflag_forms() {
        let flags = [val(&["r", "relation"]), flag(&["app"]), val(&["file"])];
        let p = parse(&s(&["--format=json", "-r", "db:3", "--app", "-", "pg"]), &flags).unwrap();
        assert_eq!(p.get("r"), Some("db:3"));
        assert!(p.bool("app").unwrap());
        assert_eq!(p.format().unwrap(), Format::Json);
        assert_eq!(p.positional, ["-", "pg"]);
        let p = parse(&s(&["--application=False", "active", "--", "-x msg"]), &[flag(&["application"])]).unwrap();
        assert!(!p.bool("application").unwrap());
        assert_eq!(p.positional, ["active", "-x msg"]);
        assert!(matches!(parse(&s(&["--nope"]), &flags), Err(ToolError::Usage(_))));
        assert!(matches!(parse(&s(&["-r"]), &flags), Err(ToolError::Usage(_))));
    }

    #[test]
    fn renders_smart_json_and_yaml() {
        assert_eq!(render(&Value::Bool(true), Format::Smart), "True\n");
        assert_eq!(render(&Value::Bool(true), Format::Json), "true\n");
        assert_eq!(render(&serde_json::json!(["a:1", "b:2"]), Format::Smart), "a:1\nb:2\n");
        assert_eq!(render(&serde_json::json!({"k": "v"}), Format::Smart), "k: v\n");
    }
}
