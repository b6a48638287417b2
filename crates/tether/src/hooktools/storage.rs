//! Storage tools (`storage-list`, `storage-get`, `storage-add`). tether's substrate is
//! the local machine, so every storage instance a charm declares is a filesystem
//! directory in the unit's directory, `storage/<name>-<n>`, made when first needed.
//! Instance ids (`data/0`) count per unit: a unit only ever sees its own storage.

use super::args::{at_most, parse, render, val, ToolError, ToolResult};
use crate::engine::context::HookContext;
use serde_json::{json, Value};
use std::path::PathBuf;
use tether_core::charm_meta::CharmMeta;

/// The most instances one `storage-add` may ask for.
const MAX_ADD: u32 = 100;

/// The unit's storage instance ids.
pub fn instances(ctx: &HookContext, meta: &CharmMeta) -> Vec<String> {
    tether_core::storage::unit_instances(meta, ctx.unit_state())
}

/// Where instance `id` lives (created if missing), with its kind.
pub fn location(ctx: &HookContext, meta: &CharmMeta, id: &str) -> Result<(PathBuf, String), ToolError> {
    let (name, index) = id.split_once('/').ok_or_else(|| ToolError::failed(format!("invalid storage ID {id:?}")))?;
    if !instances(ctx, meta).iter().any(|i| i == id) {
        return Err(ToolError::failed(format!("storage instance {id:?} not found")));
    }
    let kind = meta.storage.iter().find(|s| s.name == name).map(|s| s.kind.clone()).unwrap_or_else(|| "filesystem".into());
    let dir = ctx.unit_dir().join("storage").join(format!("{name}-{index}"));
    std::fs::create_dir_all(&dir).map_err(|e| ToolError::failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok((dir, kind))
}

/// `storage-list [NAME]`: the unit's instance ids (of one storage).
pub fn list(ctx: &HookContext, meta: &CharmMeta, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let wanted = p.positional.first();
    let ids: Vec<Value> = instances(ctx, meta)
        .into_iter()
        .filter(|id| wanted.is_none_or(|w| id.split('/').next() == Some(w.as_str())))
        .map(Value::String)
        .collect();
    Ok(render(&Value::Array(ids), p.format()?))
}

/// `storage-get [-s ID] [KEY]`: `kind` and `location` of an instance (the hook's own by
/// default, `JUJU_STORAGE_ID`).
pub fn get(ctx: &HookContext, meta: &CharmMeta, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["s"])])?;
    at_most(&p, 1)?;
    let id = match p.get("s") {
        Some(id) => id.to_string(),
        None => ctx.event.storage.clone().ok_or_else(|| ToolError::usage("no storage instance specified"))?,
    };
    let (dir, kind) = location(ctx, meta, &id)?;
    let all = json!({"kind": kind, "location": dir.display().to_string()});
    let out = match p.positional.first() {
        None => all,
        Some(key) => all.get(key).cloned().ok_or_else(|| ToolError::failed(format!("invalid storage attribute {key:?}")))?,
    };
    Ok(render(&out, p.format()?))
}

/// `storage-add NAME[=COUNT] ...`: more instances, committed with the hook.
pub fn add(ctx: &mut HookContext, meta: &CharmMeta, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    if p.positional.is_empty() {
        return Err(ToolError::usage("storage add requires a storage directive"));
    }
    let mut adds = Vec::new();
    for arg in &p.positional {
        let (name, count) = match arg.split_once('=') {
            Some((n, c)) => (n, c.parse::<u32>().ok().filter(|c| (1..=MAX_ADD).contains(c))),
            None => (arg.as_str(), Some(1)),
        };
        let count =
            count.ok_or_else(|| ToolError::usage(format!("cannot parse storage directive {arg:?}: count must be 1 to {MAX_ADD}")))?;
        if !meta.storage.iter().any(|s| s.name == name) {
            return Err(ToolError::failed(format!("storage {name:?} not found in the charm's metadata")));
        }
        adds.push((name.to_string(), count));
    }
    for (name, count) in adds {
        let key = tether_core::storage::added_key(&name);
        let before: u32 = ctx.state_get(&key).and_then(|n| n.parse().ok()).unwrap_or(0);
        ctx.state_set(&key, &(before + count).to_string());
    }
    Ok(String::new())
}
