//! The provider side of the data-interfaces protocol, shared by every database charm.
//!
//! A requirer asks in one of two contracts: v0 (`database`, `extra-user-roles`,
//! `requested-secrets` as flat keys, as Canonical's `data_interfaces` v0 writes them) or
//! v1 (`version: v1` and a `requests` list of `{resource, request-id, salt, ...}`, as the
//! `dpcharmlibs-interfaces` package writes them). Reading them is pure and lives in
//! `tether_core::data_interfaces`; this module does what needs the hook context.
//! [`publish`] answers in the contract the requirer used: in v0 each field goes to a
//! secret only if it was requested (else stays plain), in v1 credentials always travel in
//! secrets and the reply carries the request's id and salt. Both write `data`, the
//! provider's copy of what it answered, which requirers diff against.
//!
//! A v1 requirer may make several requests in one relation: each gets its own reply (and
//! its own secrets, since the URIs name the database), all served by the relation's one
//! user, which gets every requested database and the union of the requested roles.

use crate::engine::context::{Bag, HookContext};
use crate::secret::SecretString;
use serde_json::{Map, Value};
use tether_core::data_interfaces::{answer_label as label, answered_data, SECRET_GROUPS};
pub use tether_core::data_interfaces::{union_roles, Offer, Request};

/// Creates or updates the labelled application secret and grants it to the relation.
pub fn upsert_secret(ctx: &mut HookContext, rel: i64, label: &str, content: Bag) -> anyhow::Result<String> {
    let uri = match ctx.secret_id_by_label(label)? {
        Some(id) => {
            let uri = format!("secret:{id}");
            if ctx.secret_get(&uri)? != content {
                ctx.secret_set(&uri, content)?;
            }
            uri
        }
        None => ctx.secret_add_app(Some(label), content)?,
    };
    ctx.secret_grant(&uri, rel)?;
    Ok(uri)
}

/// The password already issued to `user` on this relation (from its secret or, for a
/// v0 requirer without secrets, from the provider's own bag), so serving a relation
/// again never rotates it.
pub fn issued_password(ctx: &HookContext, endpoint: &str, rel: i64, user: &str) -> anyhow::Result<Option<SecretString>> {
    if let Some(id) = ctx.secret_id_by_label(&label(endpoint, rel, "user", 0))? {
        let c = ctx.secret_get(&id)?;
        if c.get("username").map(String::as_str) == Some(user) {
            return Ok(c.get("password").cloned().map(SecretString::new));
        }
    }
    let own = ctx.relation_get(rel, &ctx.app.clone())?;
    if own.get("username").map(String::as_str) == Some(user) {
        return Ok(own.get("password").cloned().map(SecretString::new));
    }
    Ok(None)
}

/// Removes the secrets a relation was given (on relation-broken).
pub fn forget_secrets(ctx: &mut HookContext, endpoint: &str, rel: i64) -> anyhow::Result<()> {
    let answered = answered_count(ctx, rel)?;
    forget_answers(ctx, endpoint, rel, 0..answered)
}

/// How many requests this relation's published answer covers (v1: its replies; v0: one).
fn answered_count(ctx: &HookContext, rel: i64) -> anyhow::Result<usize> {
    Ok(tether_core::data_interfaces::answered_count(&ctx.relation_get(rel, &ctx.app.clone())?))
}

/// Removes the secrets of the answers to requests `indices` (withdrawn ones, or all).
fn forget_answers(ctx: &mut HookContext, endpoint: &str, rel: i64, indices: std::ops::Range<usize>) -> anyhow::Result<()> {
    for index in indices {
        for group in SECRET_GROUPS {
            if let Some(id) = ctx.secret_id_by_label(&label(endpoint, rel, group, index))? {
                ctx.secret_remove(&id);
            }
        }
    }
    Ok(())
}

/// Whether serving a relation may skip the database when the answer is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    IfChanged,
    /// Re-ensure the user on the server (drift repair).
    Always,
}

/// Whether this relation already carries the answer to exactly these requests (so
/// serving it again would change nothing and the database work can be skipped).
pub fn already_answered(ctx: &HookContext, rel: i64, requests: &[Request]) -> anyhow::Result<bool> {
    Ok(tether_core::data_interfaces::already_answered(&ctx.relation_get(rel, &ctx.app.clone())?, requests))
}

/// The databases of the requests this relation's published answer covers.
pub fn answered_databases(ctx: &HookContext, rel: i64) -> anyhow::Result<Vec<String>> {
    Ok(tether_core::data_interfaces::answered_databases(&ctx.relation_get(rel, &ctx.app.clone())?))
}

/// The fields answering request `index`: plain ones as they are, the others in secrets
/// (granted to the relation) when the request wants them so.
fn answer_fields(ctx: &mut HookContext, rel: i64, endpoint: &str, index: usize, request: &Request, offer: Offer) -> anyhow::Result<Bag> {
    let Offer { plain, user, mut tls, extra } = offer;
    if request.is_v1() {
        // The v1 library reads `tls` as a JSON boolean.
        for v in tls.values_mut() {
            if v == "True" || v == "False" {
                *v = v.to_lowercase();
            }
        }
    }
    let mut fields = plain;
    for (group, content) in [("user", user), ("tls", tls), ("extra", extra)] {
        let (secret, clear): (Bag, Bag) = content.into_iter().partition(|(k, _)| request.wants_secret(k));
        fields.extend(clear);
        if !secret.is_empty() {
            let uri = upsert_secret(ctx, rel, &label(endpoint, rel, group, index), secret)?;
            fields.insert(format!("secret-{group}"), uri);
        }
    }
    Ok(fields)
}

/// Answers each request on relation `rel` of `endpoint` with its offer, in the requests'
/// contract: v0 flat keys, or v1 one reply per request (its id, resource and salt).
/// Secrets of requests no longer made are removed.
pub fn publish(ctx: &mut HookContext, rel: i64, endpoint: &str, answers: Vec<(Request, Offer)>) -> anyhow::Result<()> {
    let requests: Vec<Request> = answers.iter().map(|(r, _)| r.clone()).collect();
    let count = answers.len();
    let is_v1 = requests.first().is_some_and(Request::is_v1);
    let answered_before = answered_count(ctx, rel)?;
    let mut replies = Vec::new();
    for (index, (request, offer)) in answers.into_iter().enumerate() {
        let fields = answer_fields(ctx, rel, endpoint, index, &request, offer)?;
        replies.push((request, fields));
    }
    forget_answers(ctx, endpoint, rel, count..answered_before.max(count))?;
    let bag = if !is_v1 {
        let mut fields = replies.into_iter().next().map(|(_, f)| f).unwrap_or_default();
        fields.insert("data".into(), answered_data(&requests));
        fields
    } else {
        let entries: Vec<Value> = replies
            .into_iter()
            .map(|(request, fields)| {
                let (request_id, salt) = request.v1_reply_ids().unwrap_or_default();
                let mut entry: Map<String, Value> = fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                entry.insert("request-id".into(), Value::String(request_id.to_string()));
                entry.insert("resource".into(), Value::String(request.database.clone()));
                entry.insert("salt".into(), Value::String(salt.to_string()));
                Value::Object(entry)
            })
            .collect();
        Bag::from([
            ("version".to_string(), "v1".to_string()),
            ("requests".to_string(), Value::Array(entries).to_string()),
            ("data".to_string(), answered_data(&requests)),
        ])
    };
    ctx.relation_replace_app(rel, &bag)?;
    Ok(())
}
