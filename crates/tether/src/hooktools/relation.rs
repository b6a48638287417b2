//! The relation tools: `relation-ids`, `relation-list`, `relation-get`, `relation-set`,
//! `relation-model-get`, with Juju's defaults (the hook's own relation and remote
//! unit), access rules and error texts (juju-compat.md §C4, §C5, §C7).

use super::args::{at_most, flag, parse, render, val, Flag, Parsed, ToolError, ToolResult};
use crate::engine::context::{Bag, ContextError, HookContext};
use serde_json::{json, Value};

const REL: Flag = val(&["r", "relation"]);

/// The relation a tool addresses: `-r N` or `-r endpoint:N` (only the number after the
/// last `:` counts), else the hook's own. It must involve this application.
pub fn relation_id(ctx: &HookContext, p: &Parsed) -> Result<i64, ToolError> {
    let id = match p.get("r") {
        Some(v) => {
            let tail = v.rsplit(':').next().unwrap_or(v);
            tail.trim().parse::<i64>().map_err(|_| ToolError::usage(format!("invalid value {v:?} for option -r: invalid relation id")))?
        }
        None => ctx.event.relation.as_ref().map(|(id, _)| *id).ok_or_else(|| ToolError::failed("no relation id specified"))?,
    };
    let rel = ctx.relation(id)?;
    if rel.local(&ctx.app).is_none() {
        return Err(ContextError::RelationNotFound(id).into());
    }
    Ok(id)
}

pub fn ids(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let endpoint = match p.positional.first() {
        Some(e) => e.clone(),
        None => ctx.event.relation.as_ref().map(|(_, e)| e.clone()).ok_or_else(|| ToolError::usage("no endpoint name specified"))?,
    };
    let ids: Vec<String> = ctx.relation_ids(&endpoint)?.into_iter().map(|id| format!("{endpoint}:{id}")).collect();
    Ok(render(&json!(ids), p.format()?))
}

pub fn list(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[REL, flag(&["app"])])?;
    at_most(&p, 0)?;
    let id = relation_id(ctx, &p)?;
    if p.bool("app")? {
        return Ok(render(&json!(ctx.remote_app(id)?), p.format()?));
    }
    let mut units = ctx.remote_units(id)?;
    units.sort_by(|a, b| tether_core::events::natural_unit_order(a, b));
    Ok(render(&json!(units), p.format()?))
}

pub fn model_get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[REL])?;
    at_most(&p, 0)?;
    relation_id(ctx, &p)?;
    Ok(render(&json!({ "uuid": ctx.model_uuid }), p.format()?))
}

/// The member whose bag `relation-get` reads, and whether it is an application bag.
fn member(ctx: &HookContext, id: i64, given: Option<&str>, app_flag: bool) -> Result<(String, bool), ToolError> {
    let own_relation = ctx.event.relation.as_ref().is_some_and(|(r, _)| *r == id);
    let name = match given {
        Some(n) => n.to_string(),
        None => match (own_relation, ctx.event.remote_unit.as_deref().filter(|u| !u.is_empty())) {
            (true, Some(u)) if !app_flag => u.to_string(),
            (true, _) => ctx.event.remote_app.clone().unwrap_or(ctx.remote_app(id)?),
            (false, _) if app_flag => ctx.remote_app(id)?,
            (false, _) => return Err(ToolError::usage("no unit or application specified")),
        },
    };
    let is_app = !name.contains('/');
    if is_app && !app_flag && given.is_some() {
        return Err(ToolError::failed(format!("expected unit name, got application name {name:?}")));
    }
    let owner = if app_flag || is_app { name.split('/').next().unwrap_or(&name).to_string() } else { name };
    let app = owner.split('/').next().unwrap_or(&owner).to_string();
    let rel = ctx.relation(id)?;
    if rel.local(&app).is_none() {
        return Err(ToolError::failed("permission denied"));
    }
    Ok((owner, app_flag || is_app))
}

pub fn get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[REL, flag(&["app"])])?;
    at_most(&p, 2)?;
    let id = relation_id(ctx, &p)?;
    let key = p.positional.first().map(String::as_str).filter(|k| *k != "-");
    let (owner, _) = member(ctx, id, p.positional.get(1).map(String::as_str), p.bool("app")?)?;
    let bag = ctx.relation_get(id, &owner)?;
    let out = match key {
        Some(k) => bag.get(k).map(|v| Value::String(v.clone())).unwrap_or(Value::Null),
        None => json!(bag),
    };
    Ok(render(&out, p.format()?))
}

/// Reads `relation-set`/`state-set` settings: a YAML (or JSON) map from `--file`, then
/// `key=value` arguments on top. Empty values mean "delete".
pub fn settings(p: &Parsed, stdin: Option<&str>) -> Result<Bag, ToolError> {
    let mut out = Bag::new();
    if p.has("file") {
        let text = stdin.unwrap_or_default();
        let parsed: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| ToolError::failed(format!("cannot parse settings file: {e}")))?;
        match parsed {
            serde_norway::Value::Null => {}
            serde_norway::Value::Mapping(m) => {
                for (k, v) in m {
                    let key = scalar(k).ok_or_else(|| ToolError::failed("cannot parse settings file: keys must be strings"))?;
                    let value = match v {
                        serde_norway::Value::Null => String::new(),
                        other => scalar(other)
                            .ok_or_else(|| ToolError::failed(format!("cannot parse settings file: value of {key:?} is not a string")))?,
                    };
                    out.insert(key, value);
                }
            }
            _ => return Err(ToolError::failed("cannot parse settings file: expected a map of settings")),
        }
    }
    for arg in &p.positional {
        let Some((k, v)) = arg.split_once('=') else { return Err(ToolError::usage(format!("expected \"key=value\", got {arg:?}"))) };
        if k.is_empty() {
            return Err(ToolError::usage(format!("expected \"key=value\", got {arg:?}")));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn scalar(v: serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::String(s) => Some(s),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn set(ctx: &mut HookContext, args: &[String], stdin: Option<&str>) -> ToolResult {
    let p = parse(args, &[REL, flag(&["app"]), val(&["file"])])?;
    let id = relation_id(ctx, &p)?;
    let values = settings(&p, stdin)?;
    if p.bool("app")? {
        ctx.relation_set_app(id, &values)?;
    } else {
        ctx.relation_set_unit(id, &values)?;
    }
    Ok(String::new())
}
