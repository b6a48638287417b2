//! The secret tools: `secret-add`, `secret-get`, `secret-info-get`, `secret-set`,
//! `secret-grant`, `secret-revoke`, `secret-remove`, `secret-ids`.
//!
//! Owners are the application (changes need leadership) or the unit. Consumers see a
//! secret only once it is granted to their application; they track the revision they
//! last read (`--refresh` moves to the newest, `--peek` looks without moving) and may
//! give it a label of their own. Both the tracked revision and consumer labels live in
//! the unit's state, so they commit with the hook like everything else. Every refusal
//! of an unknown or unreadable secret says `not found`, which ops turns into
//! `SecretNotFoundError` (juju-compat.md §C7).

use super::args::{at_most, flag, parse, render, val, Parsed, ToolError, ToolResult};
use crate::engine::context::{Bag, ContextError, HookContext};
use crate::engine::TimingChange;
use crate::store::{secret_id_from_uri, SecretOwner, StoreError};
use serde_json::{json, Value};
use tether_core::secret_timing;

const CONSUMER_LABEL: &str = "tether.secret-label.";
use crate::engine::secret_events::TRACKED;

/// A secret as this hook sees it (committed state overlaid with pending changes).
struct Known {
    id: String,
    owner: SecretOwner,
    label: Option<String>,
    description: Option<String>,
    revision: i64,
}

fn not_found(what: &str) -> ToolError {
    ContextError::SecretNotFound(what.to_string()).into()
}

fn lookup(ctx: &HookContext, id: &str) -> Result<Option<Known>, ToolError> {
    if ctx.pending.removed_secrets.iter().any(|r| r == id) {
        return Ok(None);
    }
    let mut known = match ctx.pending.new_secrets.iter().find(|s| s.id == id) {
        Some(s) => {
            Known { id: s.id.clone(), owner: s.owner.clone(), label: s.label.clone(), description: s.description.clone(), revision: 1 }
        }
        None => match ctx.store().read(|tx| tx.secret(&ctx.model, id))? {
            Some(r) => Known { id: r.id, owner: r.owner, label: r.label, description: r.description, revision: r.revision },
            None => return Ok(None),
        },
    };
    if let Some((label, description)) = ctx.pending.secret_meta.get(id) {
        known.label = label.clone().or(known.label);
        known.description = description.clone().or(known.description);
    }
    Ok(Some(known))
}

/// Owned by this unit or its application.
fn owns(ctx: &HookContext, owner: &SecretOwner) -> bool {
    match owner {
        SecretOwner::App(a) => *a == ctx.app,
        SecretOwner::Unit(u) => *u == ctx.unit,
        SecretOwner::Model(_) => false,
    }
}

/// May change it: the unit's own secrets, the application's when leader.
fn manages(ctx: &HookContext, owner: &SecretOwner) -> bool {
    match owner {
        SecretOwner::App(a) => *a == ctx.app && ctx.leader,
        SecretOwner::Unit(u) => *u == ctx.unit,
        SecretOwner::Model(_) => false,
    }
}

/// An owned secret by its owner label (pending labels first).
fn by_owner_label(ctx: &HookContext, label: &str) -> Result<Option<String>, ToolError> {
    if let Some(s) = ctx.pending.new_secrets.iter().find(|s| s.label.as_deref() == Some(label)) {
        return Ok(Some(s.id.clone()));
    }
    if let Some((id, _)) = ctx.pending.secret_meta.iter().find(|(_, (l, _))| l.as_deref() == Some(label)) {
        return Ok(Some(id.clone()));
    }
    for owner in [SecretOwner::Unit(ctx.unit.clone()), SecretOwner::App(ctx.app.clone())] {
        if let Some(row) = ctx.store().read(|tx| tx.secret_by_label(&ctx.model, &owner, label))? {
            if !ctx.pending.removed_secrets.contains(&row.id) {
                return Ok(Some(row.id));
            }
        }
    }
    Ok(None)
}

/// The secret a tool addresses: `ID` (any URI form) or `--label`.
fn resolve(ctx: &HookContext, p: &Parsed, id_arg: Option<&String>) -> Result<String, ToolError> {
    if let Some(uri) = id_arg {
        return Ok(secret_id_from_uri(uri));
    }
    let label = p.get("label").ok_or_else(|| ToolError::usage("require either a secret URI or label"))?;
    if let Some(id) = by_owner_label(ctx, label)? {
        return Ok(id);
    }
    ctx.state_get(&format!("{CONSUMER_LABEL}{label}")).ok_or_else(|| not_found(label))
}

fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    b.len() >= 3
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !k.ends_with('-')
        && !k.contains("--")
}

/// `KEY=VALUE` and `KEY#base64=VALUE` arguments (the client already turned
/// `KEY#file=PATH` into `KEY=<contents>`).
fn content(args: &[String]) -> Result<Bag, ToolError> {
    let mut out = Bag::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else { return Err(ToolError::usage(format!("invalid key value {arg:?}"))) };
        let (key, value) = match key.strip_suffix("#base64") {
            Some(k) => (k, base64_decode(value).ok_or_else(|| ToolError::usage(format!("invalid base64 value for key {k:?}")))?),
            None => (key, value.to_string()),
        };
        if !valid_key(key) {
            return Err(ToolError::usage(format!("key {key:?} not valid")));
        }
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn base64_decode(s: &str) -> Option<String> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut acc, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        acc = (acc << 6) | ALPHA.iter().position(|a| *a == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn add(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["label"]), val(&["description"]), val(&["expire"]), val(&["rotate"]), val(&["owner"])])?;
    let values = content(&p.positional)?;
    if values.is_empty() {
        return Err(ToolError::usage("missing secret value"));
    }
    let owner = match p.get("owner").unwrap_or("application") {
        "application" => {
            if !ctx.leader {
                return Err(ToolError::failed("permission denied"));
            }
            SecretOwner::App(ctx.app.clone())
        }
        "unit" => SecretOwner::Unit(ctx.unit.clone()),
        other => return Err(ToolError::usage(format!("secret owner {other:?} not valid"))),
    };
    if let Some(label) = p.get("label") {
        if by_owner_label(ctx, label)?.is_some() {
            return Err(ToolError::failed(format!("secret with label {label:?} already exists")));
        }
    }
    let timing = timing_change(&p)?;
    let uri = ctx.secret_add(owner, p.get("label"), p.get("description"), values);
    if let Some(change) = timing {
        ctx.pending.secret_timing.insert(secret_id_from_uri(&uri), change);
    }
    Ok(format!("{uri}\n"))
}

/// `--rotate` and `--expire`, checked (`None` when neither is given).
fn timing_change(p: &Parsed) -> Result<Option<TimingChange>, ToolError> {
    if !p.has("rotate") && !p.has("expire") {
        return Ok(None);
    }
    let rotate =
        p.get("rotate").map(|r| secret_timing::validate_policy(r).map(|()| r.to_string())).transpose().map_err(ToolError::usage)?;
    let now = chrono::Utc::now().timestamp_millis();
    let expire_at = p.get("expire").map(|e| secret_timing::parse_expire(e, now)).transpose().map_err(ToolError::usage)?;
    Ok(Some(TimingChange { rotate, expire_at }))
}

/// The content a reader gets, and the revision a consumer should now track.
fn read_content(ctx: &HookContext, s: &Known, p: &Parsed) -> Result<(Bag, Option<i64>), ToolError> {
    if owns(ctx, &s.owner) {
        if let Some(c) = ctx.pending.secret_updates.get(&s.id) {
            return Ok((c.clone(), None));
        }
        if let Some(n) = ctx.pending.new_secrets.iter().find(|n| n.id == s.id) {
            return Ok((n.content.clone(), None));
        }
        let c = ctx.store().read(|tx| tx.secret_content(&ctx.model, &s.id, None))?;
        return c.map(|c| (c, None)).ok_or_else(|| not_found(&s.id));
    }
    let readable = ctx.store().read(|tx| tx.secret_readable_by(&ctx.model, &s.id, &ctx.unit))?;
    if !readable {
        return Err(not_found(&s.id));
    }
    let tracked = ctx.state_get(&format!("{TRACKED}{}", s.id)).and_then(|r| r.parse::<i64>().ok());
    let latest = p.bool("refresh")? || p.bool("peek")? || tracked.is_none();
    let rev = if latest { s.revision } else { tracked.unwrap_or(s.revision) };
    let (model, id) = (ctx.model.clone(), s.id.clone());
    let found = ctx.store().read(|tx| -> Result<_, StoreError> {
        Ok(match tx.secret_content(&model, &id, Some(rev))? {
            Some(c) => Some((c, rev)),
            None => tx.secret_content(&model, &id, None)?.map(|c| (c, s.revision)),
        })
    })?;
    let (c, rev) = found.ok_or_else(|| not_found(&s.id))?;
    let track = if p.bool("peek")? || tracked == Some(rev) { None } else { Some(rev) };
    Ok((c, track))
}

pub fn get(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["label"]), flag(&["refresh"]), flag(&["peek"])])?;
    at_most(&p, 2)?;
    if p.bool("refresh")? && p.bool("peek")? {
        return Err(ToolError::usage("specify one of --peek or --refresh but not both"));
    }
    let (id_arg, key) = match p.positional.first() {
        Some(first) if first.starts_with("secret:") || p.positional.len() == 2 || !p.has("label") => (Some(first), p.positional.get(1)),
        first => (None, first),
    };
    let id = resolve(ctx, &p, id_arg)?;
    let s = lookup(ctx, &id)?.ok_or_else(|| not_found(&id))?;
    let (content, track) = read_content(ctx, &s, &p)?;
    if let Some(rev) = track {
        ctx.state_set(&format!("{TRACKED}{id}"), &rev.to_string());
    }
    if let (Some(label), Some(_)) = (p.get("label"), id_arg) {
        if manages(ctx, &s.owner) {
            ctx.pending.secret_meta.entry(id.clone()).or_default().0 = Some(label.to_string());
        } else if !owns(ctx, &s.owner) {
            ctx.state_set(&format!("{CONSUMER_LABEL}{label}"), &id);
        }
    }
    let out = match key {
        Some(k) => content.get(k.as_str()).map(|v| Value::String(v.clone())).unwrap_or(Value::Null),
        None => json!(content),
    };
    Ok(render(&out, p.format()?))
}

pub fn info_get(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["label"])])?;
    at_most(&p, 1)?;
    if !p.positional.is_empty() && p.has("label") {
        return Err(ToolError::usage("specify either a secret URI or label but not both"));
    }
    let id = resolve(ctx, &p, p.positional.first())?;
    let s = lookup(ctx, &id)?.filter(|s| owns(ctx, &s.owner)).ok_or_else(|| not_found(&id))?;
    let mut info = json!({
        "revision": s.revision,
        "owner": match s.owner { SecretOwner::App(_) => "application", SecretOwner::Unit(_) => "unit", SecretOwner::Model(_) => "model" },
        "rotation": "never",
    });
    if let Some(l) = &s.label {
        info["label"] = json!(l);
    }
    if let Some(d) = &s.description {
        info["description"] = json!(d);
    }
    let timing = ctx.store().read(|tx| tx.secret_timing(&ctx.model, &id))?;
    if let (Some(policy), Some(next)) = (&timing.rotate, timing.next_rotate) {
        info["rotation"] = json!(policy);
        info["rotates"] = json!(secret_timing::rfc3339(next));
    }
    if let Some(at) = timing.expire_at {
        info["expiry"] = json!(secret_timing::rfc3339(at));
    }
    Ok(render(&json!({ s.id.clone(): info }), p.format()?))
}

/// A secret this unit may change, or the right refusal.
fn managed(ctx: &HookContext, uri: Option<&String>) -> Result<Known, ToolError> {
    let uri = uri.ok_or_else(|| ToolError::usage("missing secret URI"))?;
    let id = secret_id_from_uri(uri);
    let s = lookup(ctx, &id)?.ok_or_else(|| not_found(&id))?;
    if !owns(ctx, &s.owner) {
        return Err(not_found(&id));
    }
    if !manages(ctx, &s.owner) {
        return Err(ToolError::failed("permission denied"));
    }
    Ok(s)
}

pub fn set(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["label"]), val(&["description"]), val(&["expire"]), val(&["rotate"]), val(&["owner"])])?;
    let s = managed(ctx, p.positional.first())?;
    let values = content(&p.positional[1..])?;
    if let Some(change) = timing_change(&p)? {
        let entry = ctx.pending.secret_timing.entry(s.id.clone()).or_default();
        entry.rotate = change.rotate.or(entry.rotate.take());
        entry.expire_at = change.expire_at.or(entry.expire_at.take());
    }
    if let Some(label) = p.get("label") {
        if by_owner_label(ctx, label)?.is_some_and(|other| other != s.id) {
            return Err(ToolError::failed(format!("secret with label {label:?} already exists")));
        }
    }
    if !values.is_empty() {
        if let Some(n) = ctx.pending.new_secrets.iter_mut().find(|n| n.id == s.id) {
            n.content = values;
        } else {
            ctx.pending.secret_updates.insert(s.id.clone(), values);
        }
    }
    if p.has("label") || p.has("description") {
        let (label, description) = (p.get("label").map(str::to_string), p.get("description").map(str::to_string));
        if let Some(n) = ctx.pending.new_secrets.iter_mut().find(|n| n.id == s.id) {
            n.label = label.or(n.label.take());
            n.description = description.or(n.description.take());
        } else {
            let meta = ctx.pending.secret_meta.entry(s.id.clone()).or_default();
            meta.0 = label.or(meta.0.take());
            meta.1 = description.or(meta.1.take());
        }
    }
    Ok(String::new())
}

pub fn grant(ctx: &mut HookContext, args: &[String], revoke: bool) -> ToolResult {
    let p = parse(args, &[val(&["r", "relation"]), val(&["unit"]), val(&["app"])])?;
    at_most(&p, 1)?;
    let s = managed(ctx, p.positional.first())?;
    if !p.has("r") {
        return Err(ToolError::usage("missing relation"));
    }
    let rel = super::relation::relation_id(ctx, &p)?;
    // `--unit U` scopes the grant (or revoke) to that unit of the related application.
    let unit = match p.get("unit") {
        Some(u) => {
            let remote = ctx.remote_units(rel)?;
            if !remote.iter().any(|r| r == u) {
                return Err(ToolError::failed(format!("unit {u:?} is not in relation {rel}")));
            }
            Some(u.to_string())
        }
        None => None,
    };
    if revoke {
        let grantee = unit.or_else(|| p.get("app").map(str::to_string));
        ctx.pending.grants.retain(|(id, r, g)| {
            let covered = grantee.as_ref().is_none_or(|x| x == g || (!x.contains('/') && g.starts_with(&format!("{x}/"))));
            !(id == &s.id && *r == rel && covered)
        });
        ctx.pending.revokes.push((s.id, rel, grantee));
    } else {
        match unit {
            Some(u) => ctx.pending.grants.push((s.id, rel, u)),
            None => ctx.secret_grant(&s.id, rel)?,
        }
    }
    Ok(String::new())
}

pub fn remove(ctx: &mut HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[val(&["revision"])])?;
    at_most(&p, 1)?;
    let s = managed(ctx, p.positional.first())?;
    match p.get("revision") {
        None => ctx.secret_remove(&s.id),
        Some(r) => {
            let rev = r.parse::<i64>().ok().filter(|r| *r > 0).ok_or_else(|| ToolError::usage(format!("invalid revision {r:?}")))?;
            ctx.pending.removed_revisions.push((s.id.clone(), rev));
        }
    }
    Ok(String::new())
}

pub fn ids(ctx: &HookContext, args: &[String]) -> ToolResult {
    let p = parse(args, &[])?;
    at_most(&p, 0)?;
    let stored = ctx.store().read(|tx| tx.secrets(&ctx.model))?;
    let mut ids: Vec<String> = stored.into_iter().filter(|s| owns(ctx, &s.owner)).map(|s| s.id).collect();
    ids.extend(ctx.pending.new_secrets.iter().filter(|s| owns(ctx, &s.owner)).map(|s| s.id.clone()));
    ids.retain(|id| !ctx.pending.removed_secrets.contains(id));
    let uris: Vec<String> = ids.into_iter().map(|id| format!("secret:{id}")).collect();
    Ok(render(&json!(uris), p.format()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_base64_values() {
        assert!(valid_key("password") && valid_key("tls-ca") && !valid_key("ab") && !valid_key("Pass") && !valid_key("a--b"));
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ="), Some("hello world".into()));
        let c = content(&["username=bob".into(), "password#base64=czNjcjN0".into()]).unwrap();
        assert_eq!(c["password"], "s3cr3t");
        assert!(content(&["x=1".into()]).is_err());
    }
}
