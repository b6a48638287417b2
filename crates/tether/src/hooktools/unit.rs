//! The unit's own tools: logging, leadership, config, status, application version,
//! charm state, ports, networks and goal state (juju-compat.md §C4, §C5).

use super::args::{at_most, flag, parse, render, val, ToolError, ToolResult};
use crate::engine::context::HookContext;
use serde_json::{json, Map, Value};
use tether_core::charm_meta::CharmMeta;
use tether_core::life::Life;
use tether_core::status::WorkloadStatus;

/// The address every unit has on tether's local substrate (as `status` shows it).
const ADDRESS: &str = "127.0.0.1";
/// Unit-state keys the charm's `state-set` writes to live under this prefix, so that
/// they never collide with tether's own keys.
const CHARM_STATE: &str = "charm.";
const PORTS_KEY: &str = "tether.opened-ports";

pub fn juju_log(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["l", "log-level"]), flag(&["debug"])])?;
    if p.positional.is_empty() {
        return Err(ToolError::usage("no message specified"));
    }
    let level = if p.bool("debug")? { "DEBUG".to_string() } else { p.get("l").unwrap_or("INFO").to_uppercase() };
    ctx.log(&level, &p.positional.join(" "));
    Ok(String::new())
}

pub fn is_leader(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 0)?;
    Ok(render(&Value::Bool(ctx.leader), p.format()?))
}

pub fn config_get(ctx: &HookContext, meta: &CharmMeta, args: &[String]) -> ToolResult {
    let p = parse(args, &[flag(&["a", "all"])])?;
    at_most(&p, 1)?;
    if let Some(key) = p.positional.first() {
        return Ok(render(ctx.config.get(key).unwrap_or(&Value::Null), p.format()?));
    }
    let mut out: Map<String, Value> = ctx.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if p.bool("a")? {
        for o in &meta.config {
            out.entry(o.name.clone()).or_insert(Value::Null);
        }
    }
    Ok(render(&Value::Object(out), p.format()?))
}

pub fn status_set(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[flag(&["application"])])?;
    at_most(&p, 2)?;
    let word = p.positional.first().ok_or_else(|| ToolError::usage("invalid args, require <status> [message] [data]"))?;
    let status = match WorkloadStatus::parse(word) {
        Some(s @ (WorkloadStatus::Maintenance | WorkloadStatus::Blocked | WorkloadStatus::Waiting | WorkloadStatus::Active)) => s,
        _ => return Err(ToolError::usage(format!("invalid status {word:?}, expected one of [maintenance blocked waiting active]"))),
    };
    let message = p.positional.get(1).map(String::as_str).unwrap_or("");
    if p.bool("application")? {
        if !ctx.leader {
            return Err(ToolError::failed("this unit is not the leader"));
        }
        ctx.set_app_status(status, message)?;
    } else {
        ctx.set_status(status, message)?;
    }
    Ok(String::new())
}

pub fn status_get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[flag(&["application"]), flag(&["include-data"])])?;
    at_most(&p, 1)?;
    let (model, app, unit) = (ctx.model.clone(), ctx.app.clone(), ctx.unit.clone());
    let entry = |status: WorkloadStatus, message: &str| json!({"status": status.as_str(), "message": message, "status-data": {}});
    if p.bool("application")? {
        if !ctx.leader {
            return Err(ToolError::failed("finding application status: this unit is not the leader"));
        }
        let (row, units) =
            ctx.store().read(|tx| Ok::<_, crate::store::StoreError>((tx.app(&model, &app)?, tx.units(&model, Some(&app))?)))?;
        let row = row.ok_or_else(|| ToolError::failed(format!("application {app:?} not found")))?;
        let units: Map<String, Value> = units.iter().map(|u| (u.name.clone(), entry(u.workload, &u.message))).collect();
        if !p.bool("include-data")? {
            return Ok(render(&json!(row.status.as_str()), p.format()?));
        }
        let mut st = entry(row.status, &row.message);
        st["units"] = Value::Object(units);
        return Ok(render(&json!({ "application-status": st }), p.format()?));
    }
    let row = ctx.store().read(|tx| tx.unit(&model, &unit))?.ok_or_else(|| ToolError::failed(format!("unit {unit:?} not found")))?;
    if !p.bool("include-data")? {
        return Ok(render(&json!(row.workload.as_str()), p.format()?));
    }
    Ok(render(&entry(row.workload, &row.message), p.format()?))
}

pub fn application_version_set(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let version = p.positional.first().ok_or_else(|| ToolError::usage("no version specified"))?;
    ctx.state_set("version", version);
    Ok(String::new())
}

pub fn state_get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[flag(&["strict"])])?;
    at_most(&p, 1)?;
    if let Some(key) = p.positional.first() {
        return match ctx.state_get(&format!("{CHARM_STATE}{key}")) {
            Some(v) => Ok(render(&Value::String(v), p.format()?)),
            None if p.bool("strict")? => Err(ToolError::failed(format!("state key {key:?} not found"))),
            None => Ok(render(&Value::Null, p.format()?)),
        };
    }
    let all: Map<String, Value> = ctx
        .unit_state()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(CHARM_STATE).map(|k| (k.to_string(), Value::String(v.clone()))))
        .collect();
    Ok(render(&Value::Object(all), p.format()?))
}

pub fn state_set(ctx: &mut HookContext, args: &[String], stdin: Option<&str>) -> ToolResult {
    let p = parse(args, &[val(&["file"])])?;
    for (k, v) in super::relation::settings(&p, stdin)? {
        let key = format!("{CHARM_STATE}{k}");
        if v.is_empty() {
            ctx.state_delete(&key);
        } else {
            ctx.state_set(&key, &v);
        }
    }
    Ok(String::new())
}

pub fn state_delete(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 1)?;
    let key = p.positional.first().ok_or_else(|| ToolError::usage("no key specified"))?;
    ctx.state_delete(&format!("{CHARM_STATE}{key}"));
    Ok(String::new())
}

/// Validates a port spec (`80`, `80/tcp`, `8000-8999/udp`, `icmp`) into Juju's form.
fn port_spec(spec: &str) -> Result<String, ToolError> {
    let bad = || ToolError::usage(format!("invalid port range {spec:?}"));
    if spec == "icmp" {
        return Ok(spec.into());
    }
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    if proto != "tcp" && proto != "udp" {
        return Err(bad());
    }
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let (lo, hi): (u16, u16) = (lo.parse().map_err(|_| bad())?, hi.parse().map_err(|_| bad())?);
    if lo == 0 || hi < lo {
        return Err(bad());
    }
    Ok(if lo == hi { format!("{lo}/{proto}") } else { format!("{lo}-{hi}/{proto}") })
}

fn opened(ctx: &HookContext) -> Vec<String> {
    ctx.state_get(PORTS_KEY).map(|s| s.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

pub fn open_close_port(ctx: &mut HookContext, args: &[String], open: bool) -> ToolResult {
    let p = parse(args, &[val(&["endpoints"])])?;
    at_most(&p, 1)?;
    let spec = port_spec(p.positional.first().ok_or_else(|| ToolError::usage("no port or range specified"))?)?;
    let mut ports = opened(ctx);
    ports.retain(|x| x != &spec);
    if open {
        ports.push(spec);
    }
    ctx.state_set(PORTS_KEY, &ports.join(","));
    Ok(String::new())
}

pub fn opened_ports(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[flag(&["endpoints"])])?;
    at_most(&p, 0)?;
    Ok(render(&json!(opened(ctx)), p.format()?))
}

pub fn network_get(ctx: &HookContext, meta: &CharmMeta, args: &[String]) -> ToolResult {
    let p = parse(
        args,
        &[
            val(&["r", "relation"]),
            flag(&["bind-address"]),
            flag(&["ingress-address"]),
            flag(&["egress-subnets"]),
            flag(&["primary-address"]),
        ],
    )?;
    at_most(&p, 1)?;
    if p.has("r") {
        super::relation::relation_id(ctx, &p)?;
    }
    let binding = match p.positional.first() {
        Some(b) => b.clone(),
        None if p.has("r") => String::new(),
        None => return Err(ToolError::usage("no endpoint binding name specified")),
    };
    if !binding.is_empty() && meta.endpoint(&binding).is_none() && binding != "juju-info" {
        return Err(ToolError::failed(format!("no network config found for binding {binding:?}")));
    }
    let cidr = format!("{ADDRESS}/32");
    let full = json!({
        "bind-addresses": [{"mac-address": "", "interface-name": "lo", "addresses": [{"hostname": "", "value": ADDRESS, "address": ADDRESS, "cidr": "127.0.0.0/8"}]}],
        "egress-subnets": [cidr],
        "ingress-addresses": [ADDRESS],
    });
    let picked: Vec<(&str, Value)> = [
        ("bind-address", json!(ADDRESS)),
        ("ingress-address", json!(ADDRESS)),
        ("egress-subnets", json!(cidr)),
        ("primary-address", json!(ADDRESS)),
    ]
    .into_iter()
    .filter(|(k, _)| p.has(k))
    .collect();
    let out = match picked.len() {
        0 => full,
        1 => picked.into_iter().next().map(|(_, v)| v).unwrap_or_default(),
        _ => Value::Object(picked.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
    };
    Ok(render(&out, p.format()?))
}

pub fn goal_state(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 0)?;
    let (model, app) = (ctx.model.clone(), ctx.app.clone());
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (units, rels) =
        ctx.store().read(|tx| Ok::<_, crate::store::StoreError>((tx.units(&model, Some(&app))?, tx.relations(&model, Some(&app))?)))?;
    let entry = |status: &str| json!({"status": status, "since": since});
    let own: Map<String, Value> =
        units.iter().map(|u| (u.name.clone(), entry(if u.life == Life::Alive { "active" } else { "dying" }))).collect();
    let mut relations = Map::new();
    for rel in rels.iter().filter(|r| r.life == Life::Alive) {
        let (Some(local), Some(remote)) = (rel.local(&app), rel.remote(&app)) else { continue };
        let ep = relations.entry(local.endpoint.clone()).or_insert_with(|| json!({}));
        if !rel.is_peer() {
            ep[&remote.app] = entry("joined");
        }
        let remote_units = ctx.store().read(|tx| tx.units(&model, Some(&remote.app)))?;
        for u in remote_units.iter().filter(|u| u.name != ctx.unit) {
            ep[&u.name] = entry(if u.life == Life::Alive { "active" } else { "dying" });
        }
    }
    Ok(render(&json!({"units": own, "relations": relations}), p.format()?))
}
