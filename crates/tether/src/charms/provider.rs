//! The provider side of the data-interfaces protocol, shared by every database charm.
//!
//! A requirer asks in one of two contracts: v0 (`database`, `extra-user-roles`,
//! `requested-secrets` as flat keys, as Canonical's `data_interfaces` v0 writes them) or
//! v1 (`version: v1` and a `requests` list of `{resource, request-id, salt, ...}`, as the
//! `dpcharmlibs-interfaces` package writes them). [`Request::read`] understands both;
//! [`publish`] answers in the contract the requirer used: in v0 each field goes to a
//! secret only if it was requested (else stays plain), in v1 credentials always travel in
//! secrets and the reply carries the request's id and salt. Both write `data`, the
//! provider's copy of what it answered, which requirers diff against.

use crate::engine::context::{Bag, HookContext};
use crate::secret::SecretString;
use serde_json::{Map, Value};

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
    /// The first request in a requirer's application bag, if it asked for a database.
    pub fn read(bag: &Bag) -> Option<Request> {
        if bag.get("version").map(String::as_str) == Some("v1") {
            let list: Vec<Value> = serde_json::from_str(bag.get("requests")?).ok()?;
            let raw = list.into_iter().next()?;
            let database = str_field(&raw, "resource").or_else(|| str_field(&raw, "database"))?;
            let salt = str_field(&raw, "salt").unwrap_or_default();
            let request_id = str_field(&raw, "request-id").unwrap_or_default();
            return Some(Request {
                database,
                extra_user_roles: str_field(&raw, "extra-user-roles").unwrap_or_default(),
                requested_secrets: vec![],
                v1: Some(V1Request { request_id, salt, raw }),
                raw_v0: Bag::new(),
            });
        }
        let database = bag.get("database")?.clone();
        Some(Request {
            database,
            extra_user_roles: bag.get("extra-user-roles").cloned().unwrap_or_default(),
            requested_secrets: bag.get("requested-secrets").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default(),
            v1: None,
            raw_v0: bag.clone(),
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

fn label(endpoint: &str, rel: i64, group: &str) -> String {
    format!("{endpoint}.{rel}.{group}.secret")
}

/// The password already issued to `user` on this relation (from its secret or, for a
/// v0 requirer without secrets, from the provider's own bag), so serving a relation
/// again never rotates it.
pub fn issued_password(ctx: &HookContext, endpoint: &str, rel: i64, user: &str) -> anyhow::Result<Option<SecretString>> {
    if let Some(id) = ctx.secret_id_by_label(&label(endpoint, rel, "user"))? {
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
    for group in ["user", "tls", "extra"] {
        if let Some(id) = ctx.secret_id_by_label(&label(endpoint, rel, group))? {
            ctx.secret_remove(&id);
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

/// Whether this relation already carries the answer to exactly this request (so serving
/// it again would change nothing and the database work can be skipped).
pub fn already_answered(ctx: &HookContext, rel: i64, request: &Request) -> anyhow::Result<bool> {
    let own = ctx.relation_get(rel, &ctx.app.clone())?;
    let answered = own.contains_key("secret-user") || own.contains_key("username") || own.contains_key("requests");
    Ok(answered && own.get("data") == Some(&data_field(request)))
}

/// The `data` key: the provider's copy of the request it answered.
fn data_field(request: &Request) -> String {
    match &request.v1 {
        None => serde_json::to_string(&request.raw_v0).unwrap_or_default(),
        Some(v1) => Value::Object([(v1.request_id.clone(), v1.raw.clone())].into_iter().collect()).to_string(),
    }
}

/// Answers `request` on relation `rel` of `endpoint` with `offer`, in the request's contract.
pub fn publish(ctx: &mut HookContext, rel: i64, endpoint: &str, request: &Request, offer: Offer) -> anyhow::Result<()> {
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
            let uri = upsert_secret(ctx, rel, &label(endpoint, rel, group), secret)?;
            fields.insert(format!("secret-{group}"), uri);
        }
    }
    let bag = match &request.v1 {
        None => {
            fields.insert("data".into(), data_field(request));
            fields
        }
        Some(v1) => {
            let mut entry: Map<String, Value> = fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            entry.insert("request-id".into(), Value::String(v1.request_id.clone()));
            entry.insert("resource".into(), Value::String(request.database.clone()));
            entry.insert("salt".into(), Value::String(v1.salt.clone()));
            Bag::from([
                ("version".to_string(), "v1".to_string()),
                ("requests".to_string(), Value::Array(vec![Value::Object(entry)]).to_string()),
                ("data".to_string(), data_field(request)),
            ])
        }
    };
    ctx.relation_replace_app(rel, &bag)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_v0_request() {
        let bag = Bag::from([
            ("database".to_string(), "mydb".to_string()),
            ("requested-secrets".to_string(), r#"["username","password"]"#.to_string()),
        ]);
        let r = Request::read(&bag).unwrap();
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
        let r = Request::read(&bag).unwrap();
        assert_eq!((r.database.as_str(), r.extra_user_roles.as_str()), ("appdb", "admin"));
        assert!(r.v1.is_some() && r.wants_secret("uris"));
    }

    #[test]
    fn no_request_without_a_database() {
        assert!(Request::read(&Bag::new()).is_none());
        assert!(
            Request::read(&Bag::from([("version".to_string(), "v1".to_string()), ("requests".to_string(), "[]".to_string())])).is_none()
        );
    }
}
