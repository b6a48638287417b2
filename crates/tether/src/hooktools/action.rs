//! The action tools: `action-get`, `action-set`, `action-fail`, `action-log`, with
//! Juju's key rules (juju-compat.md §C5). Outside an action they fail as Juju's do.

use super::args::{at_most, parse, render, ToolError, ToolResult};
use crate::engine::context::{ActionState, HookContext};
use serde_json::{Map, Value};

const RESERVED: [&str; 4] = ["stdout", "stdout-encoding", "stderr", "stderr-encoding"];

fn running(ctx: &mut HookContext) -> Result<&mut ActionState, ToolError> {
    ctx.action.as_mut().ok_or_else(|| ToolError::failed("not running an action"))
}

pub fn get(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let params = Value::Object(running(ctx)?.params.clone());
    let out = match p.positional.first() {
        None => params,
        Some(path) => path.split('.').try_fold(&params, |v, k| v.get(k)).cloned().unwrap_or(Value::Null),
    };
    Ok(render(&out, p.format()?))
}

/// A key segment starts and ends with a lowercase letter or digit and holds only
/// those and hyphens.
fn valid_segment(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.chars().next().is_some_and(ok) && s.chars().last().is_some_and(ok) && s.chars().all(|c| ok(c) || c == '-')
}

pub fn set(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    if p.positional.is_empty() {
        return Err(ToolError::usage("no key=value pairs specified"));
    }
    let mut pairs = Vec::new();
    for arg in &p.positional {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ToolError::usage(format!("argument {arg:?} must be of the form key...=value")));
        };
        let path: Vec<&str> = key.split('.').collect();
        if let Some(bad) = path.iter().find(|s| !valid_segment(s)) {
            return Err(ToolError::usage(format!(
                "key {bad:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric and hyphens"
            )));
        }
        if RESERVED.contains(&key) {
            return Err(ToolError::usage(format!("cannot set reserved action key {key:?}")));
        }
        pairs.push((path.into_iter().map(str::to_string).collect::<Vec<_>>(), value.to_string()));
    }
    let action = running(ctx)?;
    for (path, value) in pairs {
        insert(&mut action.results, &path, value);
    }
    Ok(String::new())
}

/// Merges `value` at a dotted path, turning a string in the way into a map.
fn insert(map: &mut Map<String, Value>, path: &[String], value: String) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = map;
    for k in parents {
        let slot = cur.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else { return };
        cur = next;
    }
    cur.insert(last.clone(), Value::String(value));
}

pub fn fail(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let message = p.positional.first().cloned().unwrap_or_else(|| "action failed without reason given, check action for errors".into());
    running(ctx)?.failed = Some(message);
    Ok(String::new())
}

pub fn log(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    if p.positional.is_empty() {
        return Err(ToolError::usage("no message specified"));
    }
    running(ctx)?;
    ctx.action_log(&p.positional.join(" "));
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_nest_and_segments_are_checked() {
        let mut m = Map::new();
        insert(&mut m, &["a".into(), "b".into()], "1".into());
        insert(&mut m, &["a".into(), "c".into()], "2".into());
        insert(&mut m, &["ok".into()], "True".into());
        assert_eq!(Value::Object(m), serde_json::json!({"a": {"b": "1", "c": "2"}, "ok": "True"}));
        assert!(valid_segment("a-1") && !valid_segment("A") && !valid_segment("-a") && !valid_segment("a-") && !valid_segment(""));
    }
}
