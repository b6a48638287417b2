//! Patroni's own view of a highly available application, read straight from one unit's
//! Patroni REST API (plain HTTP on 127.0.0.1, the `restapi` address of its
//! `patroni.yml`): so that a test sees a failover while no controller runs, and waits
//! before a fault until Patroni has confirmed its synchronous standbys (before that,
//! Patroni rightly promotes no one: no replica is known to have every commit).

use super::controller::Controller;
use super::wait::{wait_until, SETTLE_TIMEOUT};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

/// `GET /cluster` from `unit`'s Patroni.
pub fn patroni_cluster(c: &Controller, unit: &str) -> Result<Value, String> {
    let yml = std::fs::read_to_string(c.unit_dir(unit).join("patroni/patroni.yml")).map_err(|e| e.to_string())?;
    let listen = yml
        .lines()
        .skip_while(|l| l.trim_end() != "restapi:")
        .find_map(|l| l.trim().strip_prefix("listen:"))
        .ok_or("patroni.yml names no restapi address")?
        .trim()
        .to_string();
    let mut http = std::net::TcpStream::connect(&listen).map_err(|e| format!("{listen}: {e}"))?;
    http.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    write!(http, "GET /cluster HTTP/1.0\r\nHost: {listen}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    http.read_to_string(&mut answer).map_err(|e| format!("{listen}: {e}"))?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("no HTTP body")?;
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}

/// The member (`app-N`) `unit`'s Patroni names as leader.
pub fn patroni_leader(c: &Controller, unit: &str) -> Result<String, String> {
    let cluster = patroni_cluster(c, unit)?;
    let members = cluster["members"].as_array().ok_or("no members")?;
    let leader = members.iter().find(|m| m["role"] == "leader").ok_or_else(|| format!("no leader yet: {cluster}"))?;
    Ok(leader["name"].as_str().unwrap_or_default().to_string())
}

impl Controller {
    /// Waits until `unit`'s Patroni lists `standbys` synchronous standbys (`sync_standby`)
    /// that stream.
    pub fn wait_synchronous_standbys(&self, unit: &str, standbys: usize) {
        wait_until(&format!("Patroni to confirm {standbys} synchronous standbys"), SETTLE_TIMEOUT, || {
            let cluster = patroni_cluster(self, unit)?;
            let members = cluster["members"].as_array().ok_or("no members")?;
            match members.iter().filter(|m| m["role"] == "sync_standby" && m["state"] == "streaming").count() {
                n if n == standbys => Ok(()),
                _ => Err(format!("{cluster}")),
            }
        })
    }
}
