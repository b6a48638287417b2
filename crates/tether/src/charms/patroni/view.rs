//! Who is primary and which replicas are healthy, as Patroni's `/cluster` says (asked of
//! this unit's Patroni, else any other unit's), with member names turned back into units;
//! and the unit's role as its last hook recorded it, for the status.

use super::layout::{all_units, member_name, port, STATE_PATRONI_PORT};
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni_api::{self, Member};
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Unit-state key: this unit's role as Patroni last reported it (`primary`, `replica`).
const STATE_HA_ROLE: &str = "ha-role";
/// How long a fresh cluster may take to elect a primary, or a hand-over to find a standby.
pub(super) const WAIT_FOR_CLUSTER: Duration = Duration::from_secs(180);
pub(super) const HAND_OVER_WAIT: Duration = Duration::from_secs(60);
pub(super) const POLL: Duration = Duration::from_millis(500);

/// The cluster as Patroni reports it, with member names turned back into units.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// The primary unit and its PostgreSQL port.
    pub primary: Option<(String, u16)>,
    /// Healthy replicas, by unit name, with their PostgreSQL ports.
    pub replicas: Vec<(String, u16)>,
    /// The healthy replicas that are synchronous standbys (the ones Patroni may promote).
    pub sync: Vec<String>,
}

/// Asks this unit's Patroni, else any other unit's, who is primary.
pub async fn cluster(ctx: &HookContext) -> anyhow::Result<ClusterView> {
    let units = all_units(ctx)?;
    let mut last = None;
    for (_, state) in &units {
        let Some(p) = port(state, STATE_PATRONI_PORT) else { continue };
        match patroni_api::cluster(p).await {
            Ok(members) if !members.is_empty() => return Ok(view(&units, &members)),
            Ok(_) => last = Some("no members".to_string()),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(anyhow!("no Patroni of {} answers: {}", ctx.app, last.unwrap_or_else(|| "none started".into())))
}

fn view(units: &[(String, BTreeMap<String, String>)], members: &[Member]) -> ClusterView {
    let unit_of = |m: &Member| units.iter().find(|(u, _)| member_name(u) == m.name).map(|(u, _)| u.clone());
    let mut v = ClusterView::default();
    for m in members {
        let (Some(unit), Some(p)) = (unit_of(m), m.port) else { continue };
        if m.is_primary() {
            v.primary = Some((unit, p));
        } else if m.is_healthy_replica() {
            if m.is_sync_standby() {
                v.sync.push(unit.clone());
            }
            v.replicas.push((unit, p));
        }
    }
    v
}

/// The cluster once it has a primary (a fresh cluster elects one within Patroni's loop),
/// waiting at most [`WAIT_FOR_CLUSTER`].
pub async fn await_primary(ctx: &HookContext) -> anyhow::Result<ClusterView> {
    let started = Instant::now();
    loop {
        let last = match cluster(ctx).await {
            Ok(v) if v.primary.is_some() => return Ok(v),
            Ok(_) => "no primary yet".to_string(),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > WAIT_FOR_CLUSTER {
            return Err(anyhow!("the Patroni cluster of {} has no primary: {last}", ctx.app));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls the cluster (bounded by [`HAND_OVER_WAIT`]) until `ready` accepts it.
pub(super) async fn await_view(ctx: &HookContext, what: &str, ready: impl Fn(&ClusterView) -> bool) -> Result<ClusterView, String> {
    let started = Instant::now();
    loop {
        let last = match cluster(ctx).await {
            Ok(v) if ready(&v) => return Ok(v),
            Ok(v) => format!("{v:?}"),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > HAND_OVER_WAIT {
            return Err(format!("no {what} within {} s (last seen: {last})", HAND_OVER_WAIT.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Records this unit's role from a view, for the status.
pub fn note_role(ctx: &mut HookContext, v: &ClusterView) {
    let role = if v.primary.as_ref().is_some_and(|(u, _)| *u == ctx.unit) { "primary" } else { "replica" };
    ctx.state_set(STATE_HA_ROLE, role);
}

/// This unit's role as last recorded (`primary`, `replica`).
pub fn recorded_role(ctx: &HookContext) -> Option<String> {
    ctx.state_get(STATE_HA_ROLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_map_back_to_units_and_only_healthy_replicas_count() {
        let units: Vec<(String, BTreeMap<String, String>)> =
            ["pg/0", "pg/1", "pg/2"].iter().map(|u| (u.to_string(), Default::default())).collect();
        let m = |name: &str, role: &str, state: &str, port| Member {
            name: name.into(),
            role: role.into(),
            state: state.into(),
            port: Some(port),
        };
        let v =
            view(&units, &[m("pg-0", "replica", "streaming", 1), m("pg-1", "leader", "running", 2), m("pg-2", "replica", "stopped", 3)]);
        assert_eq!(v.primary, Some(("pg/1".to_string(), 2)));
        assert_eq!(v.replicas, vec![("pg/0".to_string(), 1)]);
        assert!(v.sync.is_empty());
    }
}
