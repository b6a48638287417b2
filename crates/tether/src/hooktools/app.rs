//! Application-level tools: leader settings (`leader-get`, `leader-set`), resources
//! (`resource-get`) and the cloud credential (`credential-get`), as Juju gives them to
//! a charm (juju-compat.md §C4).

use super::args::{at_most, parse, render, val, ToolError, ToolResult};
use super::relation::settings;
use crate::engine::context::HookContext;
use crate::store::AppBag;
use serde_json::{json, Map, Value};
use tether_core::charm_meta::CharmMeta;

/// `leader-get [KEY|-]`: one setting (or `null`), or all of them.
pub fn leader_get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let all = ctx.leader_settings()?;
    let out = match p.positional.first().map(String::as_str) {
        None | Some("-") => Value::Object(all.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>()),
        Some(key) => all.get(key).map(|v| Value::String(v.clone())).unwrap_or(Value::Null),
    };
    Ok(render(&out, p.format()?))
}

/// `leader-set [--file F] KEY=VALUE ...`: leader only; an empty value deletes the key.
/// Committed with the hook; the other units then run `leader-settings-changed`.
pub fn leader_set(ctx: &mut HookContext, args: &[String], stdin: Option<&str>) -> ToolResult {
    let p = parse(args, &[val(&["file"])])?;
    let values = settings(&p, stdin)?;
    ctx.leader_set(&values)?;
    Ok(String::new())
}

/// `resource-get NAME`: the path of the file attached at deploy.
pub fn resource_get(ctx: &HookContext, meta: &CharmMeta, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let name = p.positional.first().ok_or_else(|| ToolError::usage("missing required resource name"))?;
    if !meta.resources.iter().any(|r| &r.name == name) {
        return Err(ToolError::failed(format!("could not download resource: resource {name:?} not found in the charm's metadata")));
    }
    let attached = ctx.store().read(|tx| tx.app_bag(&ctx.model, &ctx.app, AppBag::Resources))?;
    match attached.get(name) {
        Some(path) => Ok(format!("{path}\n")),
        None => Err(ToolError::failed(format!(
            "could not download resource: resource {name:?} of {:?} was not supplied (deploy --resource {name}=PATH)",
            ctx.app
        ))),
    }
}

/// `credential-get`: tether runs on the local machine, which has no cloud credential.
/// An application deployed without `--trust` is refused as on Juju; a trusted one gets
/// the local cloud's empty credential.
pub fn credential_get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 0)?;
    let settings = ctx.store().read(|tx| tx.app_bag(&ctx.model, &ctx.app, AppBag::Settings))?;
    if settings.get("trust").map(String::as_str) != Some("true") {
        return Err(ToolError::failed("cannot access cloud credentials: the application is not trusted (deploy --trust)"));
    }
    let credential = json!({
        "type": "local",
        "name": "localhost",
        "region": "localhost",
        "credential": {"auth-type": "empty", "attrs": {}, "redacted": []},
        "is-controller-cloud": true,
    });
    Ok(render(&credential, p.format()?))
}
