//! The action tools: `action-get`, `action-set`, `action-fail`, `action-log`, with
//! Juju's key rules (juju-compat.md §C5). Outside an action they fail as Juju's do.

use super::args::{at_most, parse, render, ToolError, ToolResult};
use crate::engine::context::{ActionState, HookContext};
use serde_json::Value;
use tether_core::params::{bad_key_message, insert_nested, parse_assignment, AssignmentError};

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

pub fn set(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    if p.positional.is_empty() {
        return Err(ToolError::usage("no key=value pairs specified"));
    }
    let mut pairs = Vec::new();
    for arg in &p.positional {
        let (path, value) = parse_assignment(arg).map_err(|e| match e {
            AssignmentError::NotKeyValue => ToolError::usage(format!("argument {arg:?} must be of the form key...=value")),
            AssignmentError::BadKey(bad) => ToolError::usage(bad_key_message(&bad)),
        })?;
        let key = path.join(".");
        if RESERVED.contains(&key.as_str()) {
            return Err(ToolError::usage(format!("cannot set reserved action key {key:?}")));
        }
        pairs.push((path, value));
    }
    let action = running(ctx)?;
    for (path, value) in pairs {
        insert_nested(&mut action.results, &path, Value::String(value.to_string()));
    }
    Ok(String::new())
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
