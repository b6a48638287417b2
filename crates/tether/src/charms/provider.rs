//! The provider side of the data-interfaces protocol, shared by every database charm.
//!
//! A requirer asks in one of two contracts: v0 (`database`, `extra-user-roles`,
//! `requested-secrets` as flat keys, as Canonical's `data_interfaces` v0 writes them) or
//! v1 (`version: v1` and a `requests` list of `{resource, request-id, salt, ...}`, as the
//! `dpcharmlibs-interfaces` package writes them). [`Request::read_all`] understands both;
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

/// The most requests of one relation a provider serves; later ones are ignored.
pub const MAX_REQUESTS: usize = 16;

/// One database request, in either contract.
#[derive(Debug, Clone)]
pub struct Request {
    pub database: String,
    pub extra_user_roles: String,
    requested_secrets: Vec<String>,
    v1: Option<V1Request>,
    /// The v0 requirer bag as received (for `data`).
    raw_v0: Bag,
}

#[derive(Debug, Clone)]
struct V1Request {
    request_id: String,
    salt: String,
    raw: Value,
}

/// What a provider offers for one request, by secret group.
#[derive(Debug, Default)]
pub struct Offer {
    /// Never secret: endpoints, version, database, replset...
    pub plain: Bag,
    /// `user` group: username, password, uris, read-only-uris.
    pub user: Bag,
    /// `tls` group: tls, tls-ca.
    pub tls: Bag,
    /// `extra` group: anything else the requirer wants as a secret (key-file...).
    pub extra: Bag,
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Request {
    /// Every request in a requirer's application bag: one in v0, each entry of `requests`
    /// that names a resource in v1 (at most [`MAX_REQUESTS`]).
    pub fn read_all(bag: &Bag) -> Vec<Request> {
        if bag.get("version").map(String::as_str) == Some("v1") {
            let list: Vec<Value> = bag.get("requests").and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
            return list.into_iter().filter_map(Request::from_v1).take(MAX_REQUESTS).collect();
        }
        let Some(database) = bag.get("database").cloned() else { return vec![] };
        vec![Request {
            database,
            extra_user_roles: bag.get("extra-user-roles").cloned().unwrap_or_default(),
            requested_secrets: bag.get("requested-secrets").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default(),
            v1: None,
            raw_v0: bag.clone(),
        }]
    }

    fn from_v1(raw: Value) -> Option<Request> {
        let database = str_field(&raw, "resource").or_else(|| str_field(&raw, "database"))?;
        let salt = str_field(&raw, "salt").unwrap_or_default();
        let request_id = str_field(&raw, "request-id").unwrap_or_default();
        Some(Request {
            database,
            extra_user_roles: str_field(&raw, "extra-user-roles").unwrap_or_default(),
            requested_secrets: vec![],
            v1: Some(V1Request { request_id, salt, raw }),
            raw_v0: Bag::new(),
        })
    }

    /// Whether a field travels in a secret: always in v1, when requested in v0.
    pub fn wants_secret(&self, field: &str) -> bool {
        self.v1.is_some() || self.requested_secrets.iter().any(|r| r == field)
    }
}

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

/// The label of the secret holding one group of the answer to request `index` of a
/// relation (the first request keeps the label it had before several were served).
fn label(endpoint: &str, rel: i64, group: &str, index: usize) -> String {
    match index {
        0 => format!("{endpoint}.{rel}.{group}.secret"),
        i => format!("{endpoint}.{rel}.{group}.{i}.secret"),
    }
}

const GROUPS: [&str; 3] = ["user", "tls", "extra"];

/// The union of the requests' `extra-user-roles` (one user serves them all).
pub fn union_roles(requests: &[Request]) -> String {
    let mut roles: Vec<&str> = Vec::new();
    for r in requests.iter().flat_map(|r| r.extra_user_roles.split(',')).map(str::trim).filter(|r| !r.is_empty()) {
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    roles.join(",")
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
    let own = ctx.relation_get(rel, &ctx.app.clone())?;
    let replies = own.get("requests").and_then(|r| serde_json::from_str::<Vec<Value>>(r).ok()).map(|r| r.len());
    Ok(replies.unwrap_or(1).clamp(1, MAX_REQUESTS))
}

/// Removes the secrets of the answers to requests `indices` (withdrawn ones, or all).
fn forget_answers(ctx: &mut HookContext, endpoint: &str, rel: i64, indices: std::ops::Range<usize>) -> anyhow::Result<()> {
    for index in indices {
        for group in GROUPS {
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
    let own = ctx.relation_get(rel, &ctx.app.clone())?;
    let answered = own.contains_key("secret-user") || own.contains_key("username") || own.contains_key("requests");
    Ok(answered && own.get("data") == Some(&data_field(requests)))
}

/// The databases of the requests this relation's published answer covers (from `data`,
/// the provider's copy of what it answered).
pub fn answered_databases(ctx: &HookContext, rel: i64) -> anyhow::Result<Vec<String>> {
    let own = ctx.relation_get(rel, &ctx.app.clone())?;
    let Some(data) = own.get("data").and_then(|d| serde_json::from_str::<Value>(d).ok()) else { return Ok(vec![]) };
    let database = |v: &Value| str_field(v, "resource").or_else(|| str_field(v, "database"));
    Ok(match own.contains_key("requests") {
        true => data.as_object().map(|m| m.values().filter_map(database).collect()).unwrap_or_default(),
        false => database(&data).into_iter().collect(),
    })
}

/// The `data` key: the provider's copy of the requests it answered (v0: the requirer's
/// bag; v1: each request by its id).
fn data_field(requests: &[Request]) -> String {
    match requests.first() {
        Some(Request { v1: None, raw_v0, .. }) => serde_json::to_string(raw_v0).unwrap_or_default(),
        _ => Value::Object(requests.iter().filter_map(|r| r.v1.as_ref()).map(|v1| (v1.request_id.clone(), v1.raw.clone())).collect())
            .to_string(),
    }
}

/// The fields answering request `index`: plain ones as they are, the others in secrets
/// (granted to the relation) when the request wants them so.
fn answer_fields(ctx: &mut HookContext, rel: i64, endpoint: &str, index: usize, request: &Request, offer: Offer) -> anyhow::Result<Bag> {
    let Offer { plain, user, mut tls, extra } = offer;
    if request.v1.is_some() {
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
    let is_v1 = requests.first().is_some_and(|r| r.v1.is_some());
    let answered_before = answered_count(ctx, rel)?;
    let mut replies = Vec::new();
    for (index, (request, offer)) in answers.into_iter().enumerate() {
        let fields = answer_fields(ctx, rel, endpoint, index, &request, offer)?;
        replies.push((request, fields));
    }
    forget_answers(ctx, endpoint, rel, count..answered_before.max(count))?;
    let bag = if !is_v1 {
        let mut fields = replies.into_iter().next().map(|(_, f)| f).unwrap_or_default();
        fields.insert("data".into(), data_field(&requests));
        fields
    } else {
        let entries: Vec<Value> = replies
            .into_iter()
            .map(|(request, fields)| {
                let v1 = request.v1.as_ref().expect("v1 request");
                let mut entry: Map<String, Value> = fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                entry.insert("request-id".into(), Value::String(v1.request_id.clone()));
                entry.insert("resource".into(), Value::String(request.database.clone()));
                entry.insert("salt".into(), Value::String(v1.salt.clone()));
                Value::Object(entry)
            })
            .collect();
        Bag::from([
            ("version".to_string(), "v1".to_string()),
            ("requests".to_string(), Value::Array(entries).to_string()),
            ("data".to_string(), data_field(&requests)),
        ])
    };
    ctx.relation_replace_app(rel, &bag)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(bag: &Bag) -> Option<Request> {
        Request::read_all(bag).into_iter().next()
    }

    #[test]
    fn reads_a_v0_request() {
        let bag = Bag::from([
            ("database".to_string(), "mydb".to_string()),
            ("requested-secrets".to_string(), r#"["username","password"]"#.to_string()),
        ]);
        let r = first(&bag).unwrap();
        assert_eq!(r.database, "mydb");
        assert!(r.v1.is_none());
        assert!(r.wants_secret("password"));
        assert!(!r.wants_secret("uris"));
    }

    #[test]
    fn reads_a_v1_request() {
        let bag = Bag::from([
            ("version".to_string(), "v1".to_string()),
            ("requests".to_string(), r#"[{"resource":"appdb","request-id":"abc123","salt":"s","extra-user-roles":"admin"}]"#.to_string()),
        ]);
        let r = first(&bag).unwrap();
        assert_eq!((r.database.as_str(), r.extra_user_roles.as_str()), ("appdb", "admin"));
        assert!(r.v1.is_some() && r.wants_secret("uris"));
    }

    #[test]
    fn reads_every_v1_request_and_unions_their_roles() {
        let bag = Bag::from([
            ("version".to_string(), "v1".to_string()),
            (
                "requests".to_string(),
                r#"[{"resource":"a","request-id":"1","salt":"s","extra-user-roles":"admin"},{"request-id":"x"},{"resource":"b","request-id":"2","salt":"t","extra-user-roles":"admin,CREATEDB"}]"#.to_string(),
            ),
        ]);
        let all = Request::read_all(&bag);
        assert_eq!(all.iter().map(|r| r.database.as_str()).collect::<Vec<_>>(), ["a", "b"], "an entry without a resource is skipped");
        assert_eq!(union_roles(&all), "admin,CREATEDB");
        let data: Value = serde_json::from_str(&data_field(&all)).unwrap();
        assert_eq!(data, serde_json::from_str::<Value>(r#"{"1":{"extra-user-roles":"admin","request-id":"1","resource":"a","salt":"s"},"2":{"extra-user-roles":"admin,CREATEDB","request-id":"2","resource":"b","salt":"t"}}"#).unwrap());
        let many = Value::Array((0..40).map(|i| serde_json::json!({"resource": format!("d{i}"), "request-id": i.to_string()})).collect());
        let bag = Bag::from([("version".to_string(), "v1".to_string()), ("requests".to_string(), many.to_string())]);
        assert_eq!(Request::read_all(&bag).len(), MAX_REQUESTS);
        assert_eq!(label("database", 7, "user", 0), "database.7.user.secret");
        assert_eq!(label("database", 7, "user", 2), "database.7.user.2.secret");
    }

    #[test]
    fn no_request_without_a_database() {
        assert!(first(&Bag::new()).is_none());
        assert!(first(&Bag::from([("version".to_string(), "v1".to_string()), ("requests".to_string(), "[]".to_string())])).is_none());
    }
}
