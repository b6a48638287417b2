//! The requirer's side of the data-interfaces protocol, read without any I/O: what a
//! requirer asked for, in either contract, and the bookkeeping a provider keeps of what it
//! answered.
//!
//! A requirer asks in one of two contracts: v0 (`database`, `extra-user-roles`,
//! `requested-secrets` as flat keys, as Canonical's `data_interfaces` v0 writes them) or
//! v1 (`version: v1` and a `requests` list of `{resource, request-id, salt, ...}`, as the
//! `dpcharmlibs-interfaces` package writes them). [`Request::read_all`] understands both.
//! The provider's own bag keeps `data`, its copy of the requests it answered
//! ([`answered_data`]), which requirers diff against and which tells a provider what it
//! already served ([`answered_databases`]).

use serde_json::Value;
use std::collections::BTreeMap;

/// A relation databag.
pub type Bag = BTreeMap<String, String>;

/// The most requests of one relation a provider serves; later ones are ignored.
pub const MAX_REQUESTS: usize = 16;

/// The secret groups an answer's fields are sorted into.
pub const SECRET_GROUPS: [&str; 3] = ["user", "tls", "extra"];

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

    /// Whether the requirer speaks v1 (one reply per request, credentials in secrets).
    pub fn is_v1(&self) -> bool {
        self.v1.is_some()
    }

    /// A v1 request's `(request-id, salt)`, which its reply carries back.
    pub fn v1_reply_ids(&self) -> Option<(&str, &str)> {
        self.v1.as_ref().map(|v| (v.request_id.as_str(), v.salt.as_str()))
    }

    /// Whether a field travels in a secret: always in v1, when requested in v0.
    pub fn wants_secret(&self, field: &str) -> bool {
        self.v1.is_some() || self.requested_secrets.iter().any(|r| r == field)
    }
}

/// The union of the requests' `extra-user-roles` (one user serves them all), in first-seen order.
pub fn union_roles(requests: &[Request]) -> String {
    let mut roles: Vec<&str> = Vec::new();
    for r in requests.iter().flat_map(|r| r.extra_user_roles.split(',')).map(str::trim).filter(|r| !r.is_empty()) {
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    roles.join(",")
}

/// The `data` key: the provider's copy of the requests it answered (v0: the requirer's
/// bag; v1: each request by its id).
pub fn answered_data(requests: &[Request]) -> String {
    match requests.first() {
        Some(Request { v1: None, raw_v0, .. }) => serde_json::to_string(raw_v0).unwrap_or_default(),
        _ => Value::Object(requests.iter().filter_map(|r| r.v1.as_ref()).map(|v1| (v1.request_id.clone(), v1.raw.clone())).collect())
            .to_string(),
    }
}

/// The databases of the requests a provider's own bag says it answered (from `data`).
pub fn answered_databases(own: &Bag) -> Vec<String> {
    let Some(data) = own.get("data").and_then(|d| serde_json::from_str::<Value>(d).ok()) else { return vec![] };
    let database = |v: &Value| str_field(v, "resource").or_else(|| str_field(v, "database"));
    match own.contains_key("requests") {
        true => data.as_object().map(|m| m.values().filter_map(database).collect()).unwrap_or_default(),
        false => database(&data).into_iter().collect(),
    }
}

/// How many requests a provider's own bag answers (v1: its replies; v0: one).
pub fn answered_count(own: &Bag) -> usize {
    let replies = own.get("requests").and_then(|r| serde_json::from_str::<Vec<Value>>(r).ok()).map(|r| r.len());
    replies.unwrap_or(1).clamp(1, MAX_REQUESTS)
}

/// Whether a provider's own bag already carries the answer to exactly these requests.
pub fn already_answered(own: &Bag, requests: &[Request]) -> bool {
    let answered = own.contains_key("secret-user") || own.contains_key("username") || own.contains_key("requests");
    answered && own.get("data") == Some(&answered_data(requests))
}

/// The label of the secret holding one group of the answer to request `index` of a
/// relation (the first request keeps the label it had before several were served).
pub fn answer_label(endpoint: &str, rel: i64, group: &str, index: usize) -> String {
    match index {
        0 => format!("{endpoint}.{rel}.{group}.secret"),
        i => format!("{endpoint}.{rel}.{group}.{i}.secret"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(pairs: &[(&str, &str)]) -> Bag {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn first(bag: &Bag) -> Option<Request> {
        Request::read_all(bag).into_iter().next()
    }

    #[test]
    fn reads_a_v0_request() {
        let r = first(&bag(&[("database", "mydb"), ("requested-secrets", r#"["username","password"]"#)])).unwrap();
        assert_eq!(r.database, "mydb");
        assert!(!r.is_v1());
        assert!(r.wants_secret("password"));
        assert!(!r.wants_secret("uris"));
    }

    #[test]
    fn reads_a_v1_request() {
        let requests = r#"[{"resource":"appdb","request-id":"abc123","salt":"s","extra-user-roles":"admin"}]"#;
        let r = first(&bag(&[("version", "v1"), ("requests", requests)])).unwrap();
        assert_eq!((r.database.as_str(), r.extra_user_roles.as_str()), ("appdb", "admin"));
        assert!(r.is_v1() && r.wants_secret("uris"));
        assert_eq!(r.v1_reply_ids(), Some(("abc123", "s")));
    }

    #[test]
    fn reads_every_v1_request_and_unions_their_roles() {
        let requests = r#"[{"resource":"a","request-id":"1","salt":"s","extra-user-roles":"admin"},{"request-id":"x"},{"resource":"b","request-id":"2","salt":"t","extra-user-roles":"admin,CREATEDB"}]"#;
        let all = Request::read_all(&bag(&[("version", "v1"), ("requests", requests)]));
        assert_eq!(all.iter().map(|r| r.database.as_str()).collect::<Vec<_>>(), ["a", "b"], "an entry without a resource is skipped");
        assert_eq!(union_roles(&all), "admin,CREATEDB");
        let data: Value = serde_json::from_str(&answered_data(&all)).unwrap();
        assert_eq!(data, serde_json::from_str::<Value>(r#"{"1":{"extra-user-roles":"admin","request-id":"1","resource":"a","salt":"s"},"2":{"extra-user-roles":"admin,CREATEDB","request-id":"2","resource":"b","salt":"t"}}"#).unwrap());
        let many = Value::Array((0..40).map(|i| serde_json::json!({"resource": format!("d{i}"), "request-id": i.to_string()})).collect());
        assert_eq!(Request::read_all(&bag(&[("version", "v1"), ("requests", &many.to_string())])).len(), MAX_REQUESTS);
    }

    #[test]
    fn no_request_without_a_database() {
        assert!(first(&Bag::new()).is_none());
        assert!(first(&bag(&[("version", "v1"), ("requests", "[]")])).is_none());
    }

    #[test]
    fn labels_keep_the_first_answer_unnumbered() {
        assert_eq!(answer_label("database", 7, "user", 0), "database.7.user.secret");
        assert_eq!(answer_label("database", 7, "user", 2), "database.7.user.2.secret");
    }

    #[test]
    fn the_providers_bag_says_what_it_answered() {
        let cases: [(Bag, Vec<&str>, usize); 4] = [
            (Bag::new(), vec![], 1),
            (bag(&[("data", r#"{"database":"x"}"#), ("username", "u")]), vec!["x"], 1),
            (bag(&[("data", r#"{"1":{"resource":"a"},"2":{"resource":"b"}}"#), ("requests", "[{},{}]")]), vec!["a", "b"], 2),
            (bag(&[("data", "not json"), ("requests", "[]")]), vec![], 1),
        ];
        for (own, databases, count) in cases {
            assert_eq!(answered_databases(&own), databases, "{own:?}");
            assert_eq!(answered_count(&own), count, "{own:?}");
        }
    }

    #[test]
    fn an_answer_counts_only_for_the_same_requests() {
        let v0 = bag(&[("database", "x")]);
        let requests = Request::read_all(&v0);
        let own = bag(&[("username", "u"), ("data", &answered_data(&requests))]);
        assert!(already_answered(&own, &requests));
        assert!(!already_answered(&own, &Request::read_all(&bag(&[("database", "y")]))));
        assert!(!already_answered(&bag(&[("data", &answered_data(&requests))]), &requests), "no credentials published yet");
    }
}
