//! What tether asks a Patroni cluster through its REST API: who is primary and which
//! replicas are healthy (`/cluster`, answered by any member), and a switchover to a chosen
//! member (`/switchover`, authenticated). The answers are Patroni's, never guessed.

use serde_json::{json, Value};

use super::patroni::REST_USER;
use crate::engines::http::{self, Basic, HttpError};
use crate::secret::SecretString;

/// One member of the cluster as Patroni reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// `leader`, `sync_standby`, `replica`, `standby_leader`.
    pub role: String,
    /// `running`, `streaming`, `starting`, `stopped`, ...
    pub state: String,
    pub port: Option<u16>,
}

impl Member {
    pub fn is_primary(&self) -> bool {
        self.role == "leader" && self.state == "running"
    }
    /// A replica that streams from the primary. Patroni (3.0.4 on; tether runs 4.1) says
    /// `streaming` only while the replica's WAL receiver streams; `running` is a replica
    /// whose server runs but does not follow, such as an old primary not rewound yet, whose
    /// data is behind or diverged: not offered to readers, not a sign that it rejoined.
    pub fn is_healthy_replica(&self) -> bool {
        matches!(self.role.as_str(), "replica" | "sync_standby") && self.state == "streaming"
    }
    /// A healthy synchronous standby: in synchronous mode, the only kind Patroni promotes.
    pub fn is_sync_standby(&self) -> bool {
        self.role == "sync_standby" && self.is_healthy_replica()
    }
}

/// The members of the cluster, as known to the Patroni on `rest_port`.
pub async fn cluster(rest_port: u16) -> Result<Vec<Member>, HttpError> {
    let reply = http::get(rest_port, "/cluster").await?;
    Ok(parse_cluster(&reply.json().unwrap_or(Value::Null)))
}

fn parse_cluster(v: &Value) -> Vec<Member> {
    let text = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    v.get("members")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| Member {
                    name: text(m, "name"),
                    role: text(m, "role"),
                    state: text(m, "state"),
                    port: m.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asks the Patroni on `rest_port` to hand the primary role from `leader` to
/// `candidate` (or, with `None`, to a synchronous standby of Patroni's choice); Patroni
/// waits for it to happen. `Err` carries Patroni's refusal.
pub async fn switchover(rest_port: u16, rest_password: &SecretString, leader: &str, candidate: Option<&str>) -> Result<(), String> {
    let auth = Basic { user: REST_USER, password: rest_password };
    let body = match candidate {
        Some(c) => json!({ "leader": leader, "candidate": c }),
        None => json!({ "leader": leader }),
    };
    match http::post(rest_port, "/switchover", &body, Some(auth)).await {
        Ok(r) if r.ok() => Ok(()),
        Ok(r) => {
            Err(format!("Patroni refused the switchover (HTTP {}): {}", r.status, r.body.trim().chars().take(200).collect::<String>()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Changes the cluster's dynamic configuration (kept in etcd, read by every member on its
/// next loop): `body` is merged into it, a `null` removing a key.
pub async fn patch_config(rest_port: u16, rest_password: &SecretString, body: &Value) -> Result<(), String> {
    let auth = Basic { user: REST_USER, password: rest_password };
    match http::patch(rest_port, "/config", body, Some(auth)).await {
        Ok(r) if r.ok() => Ok(()),
        Ok(r) => {
            Err(format!("Patroni refused the configuration (HTTP {}): {}", r.status, r.body.trim().chars().take(200).collect::<String>()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Whether the member on `rest_port` has settings that wait for a restart.
pub async fn pending_restart(rest_port: u16) -> Result<bool, HttpError> {
    let reply = http::get(rest_port, "/patroni").await?;
    Ok(reply.json().and_then(|j| j.get("pending_restart").and_then(Value::as_bool)).unwrap_or(false))
}

/// Restarts the member on `rest_port` if it has settings waiting for a restart; Patroni
/// answers once its PostgreSQL runs again.
pub async fn restart_pending(rest_port: u16, rest_password: &SecretString) -> Result<(), String> {
    let auth = Basic { user: REST_USER, password: rest_password };
    match http::post(rest_port, "/restart", &json!({ "restart_pending": true }), Some(auth)).await {
        // Asked with only `restart_pending`, Patroni's "conditions are not satisfied" means
        // that nothing waits for a restart any more (the member restarted meanwhile).
        Ok(r)
            if r.ok()
                || r.status == 503
                    && (r.body.contains("restart is not pending") || r.body.contains("restart conditions are not satisfied")) =>
        {
            Ok(())
        }
        Ok(r) => Err(format!("Patroni refused the restart (HTTP {}): {}", r.status, r.body.trim().chars().take(200).collect::<String>())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_roles_are_read_as_patroni_writes_them() {
        let v = json!({"members": [
            {"name": "pg-0", "role": "leader", "state": "running", "host": "127.0.0.1", "port": 5001},
            {"name": "pg-1", "role": "sync_standby", "state": "streaming", "port": 5002},
            {"name": "pg-2", "role": "replica", "state": "starting", "port": 5003},
            {"name": "pg-3", "role": "replica", "state": "running", "port": 5004}
        ]});
        let m = parse_cluster(&v);
        assert!(m[0].is_primary() && !m[0].is_healthy_replica());
        assert!(m[1].is_healthy_replica() && m[1].is_sync_standby());
        assert!(!m[0].is_sync_standby());
        assert!(!m[2].is_healthy_replica(), "a replica still starting is not offered to readers");
        assert!(!m[3].is_healthy_replica(), "a replica that runs but does not stream (not rewound yet) is not offered either");
        assert_eq!(m[1].port, Some(5002));
        assert!(parse_cluster(&Value::Null).is_empty());
    }
}
