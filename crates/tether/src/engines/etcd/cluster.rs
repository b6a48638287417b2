//! The membership of an etcd cluster, through the JSON gateway of any live member
//! (`/v3/cluster/member/*`): list, add (before the new member starts) and remove (before
//! a unit's member stops for good, so the cluster's quorum shrinks with it).

use serde_json::{json, Value};

use crate::engines::http::{self, HttpError};

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("etcd on 127.0.0.1:{port} refused {what}: HTTP {status}: {message}")]
    Refused { port: u16, what: &'static str, status: u16, message: String },
}

/// A member as the cluster knows it. A member added but not started yet has no name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMember {
    /// etcd's uint64 id, as the gateway writes it (a decimal string).
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
}

async fn call(port: u16, what: &'static str, path: &str, body: Value) -> Result<Value, EtcdError> {
    let reply = http::post(port, path, &body, None).await?;
    match reply.json() {
        Some(v) if reply.ok() => Ok(v),
        other => {
            let message = other.and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string)).unwrap_or_default();
            Err(EtcdError::Refused { port, what, status: reply.status, message: message.chars().take(200).collect() })
        }
    }
}

fn parse_members(v: &Value) -> Vec<EtcdMember> {
    let text = |m: &Value, k: &str| match m.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    v.get("members")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| EtcdMember {
                    id: text(m, "ID"),
                    name: text(m, "name"),
                    peer_urls: m
                        .get("peerURLs")
                        .and_then(Value::as_array)
                        .map(|u| u.iter().filter_map(Value::as_str).map(str::to_string).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The members of the cluster the member on `port` belongs to.
pub async fn members(port: u16) -> Result<Vec<EtcdMember>, EtcdError> {
    Ok(parse_members(&call(port, "member list", "/v3/cluster/member/list", json!({})).await?))
}

/// Adds a member with `peer_url` (unless one with that URL is there already, as after an
/// interrupted join) and returns the members the cluster now expects.
pub async fn add_member(port: u16, peer_url: &str) -> Result<Vec<EtcdMember>, EtcdError> {
    let now = members(port).await?;
    if now.iter().any(|m| m.peer_urls.iter().any(|u| u == peer_url)) {
        return Ok(now);
    }
    call(port, "member add", "/v3/cluster/member/add", json!({ "peerURLs": [peer_url] })).await?;
    members(port).await
}

/// Removes the member with `peer_url`, if the cluster has one.
pub async fn remove_member(port: u16, peer_url: &str) -> Result<(), EtcdError> {
    let now = members(port).await?;
    if let Some(m) = now.iter().find(|m| m.peer_urls.iter().any(|u| u == peer_url)) {
        call(port, "member remove", "/v3/cluster/member/remove", json!({ "ID": m.id })).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_from_the_gateway_shape() {
        let v = json!({"header": {}, "members": [
            {"ID": "1234", "name": "pg-0", "peerURLs": ["http://127.0.0.1:1"], "clientURLs": []},
            {"ID": "99", "peerURLs": ["http://127.0.0.1:2"]}
        ]});
        let m = parse_members(&v);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].id.as_str(), m[0].name.as_str()), ("1234", "pg-0"));
        assert_eq!((m[1].name.as_str(), m[1].peer_urls[0].as_str()), ("", "http://127.0.0.1:2"));
    }
}
