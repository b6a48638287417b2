//! A static setting changed under Galera (the buffer pool, a plugin) restarts every
//! member, each on its own unit's `config-changed`. Restarted together the members would
//! leave no primary component and no write node until they all rejoined; so they restart
//! one at a time, in unit order, and the cluster keeps a write node throughout (the write
//! endpoint moves off a restarting member and back, as after a failure).
//!
//! Galera has no rolling restart of its own, and tether decides nothing about the
//! cluster: it only orders its own restarts. A unit's turn comes when every
//! lower-numbered live unit runs with the settings asked for (its recorded applied
//! settings, committed by that unit's own hook) or says it cannot (a settings problem),
//! and every other member is synced. The wait is bounded: a member down for another
//! reason must not hold the change forever, so past the bound the unit restarts anyway
//! and logs why it did not wait longer.

use super::mysql_ha::{self as ha, ClusterView};
use super::settings_state;
use crate::engine::context::HookContext;
use crate::engines::mysql::galera::WsrepStatus;
use crate::secret::SecretString;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a unit waits for its turn before restarting anyway.
const WAIT_FOR_TURN: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(500);

/// Why `me` may not restart yet for `desired`, or `None` when its turn has come. `units`
/// are the live units with their committed state, lowest-numbered first.
fn not_yet(
    me: &str,
    desired: &BTreeMap<String, String>,
    units: &[(String, BTreeMap<String, String>)],
    view: &ClusterView,
) -> Option<String> {
    let earlier = units.iter().take_while(|(u, _)| u != me);
    if let Some((u, _)) = earlier.into_iter().find(|(_, s)| settings_state::applied_in(s) != *desired && !settings_state::has_problem_in(s))
    {
        return Some(format!("{u} has not restarted with the new settings yet"));
    }
    let unsynced = view.members.iter().find(|m| m.unit != me && !m.status.as_ref().is_some_and(WsrepStatus::is_synced));
    unsynced.map(|m| format!("{} is not synced", m.unit))
}

/// Waits (bounded) until this unit's member may restart to take `desired`.
pub async fn await_turn(ctx: &HookContext, password: &SecretString, desired: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let view = ha::cluster(ctx, password).await?;
        let Some(why) = not_yet(&ctx.unit, desired, &ha::members(ctx)?, &view) else { return Ok(()) };
        if started.elapsed() > WAIT_FOR_TURN {
            ctx.log("WARNING", &format!("restarting MariaDB for a static setting without waiting longer: {why}"));
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charms::mysql_ha::Member;

    fn synced() -> WsrepStatus {
        WsrepStatus { state: "Synced".into(), cluster_status: "Primary".into(), ready: true, cluster_size: 3 }
    }

    fn view(synced_units: &[&str], all: &[&str]) -> ClusterView {
        let members = all
            .iter()
            .enumerate()
            .map(|(i, u)| Member { unit: u.to_string(), port: 3306 + i as u16, status: synced_units.contains(u).then(synced) })
            .collect();
        ClusterView { members }
    }

    fn unit(name: &str, applied: Option<&BTreeMap<String, String>>) -> (String, BTreeMap<String, String>) {
        let mut state = BTreeMap::new();
        if let Some(a) = applied {
            state.insert("settings.applied".to_string(), serde_json::to_string(a).unwrap());
        }
        (name.to_string(), state)
    }

    #[test]
    fn members_restart_in_unit_order_each_once_the_others_are_synced() {
        let old = BTreeMap::from([("innodb_buffer_pool_size".to_string(), "1".to_string())]);
        let new = BTreeMap::from([("innodb_buffer_pool_size".to_string(), "2".to_string())]);
        let all = ["my/0", "my/1", "my/2"];
        let everyone = view(&all, &all);
        let before = [unit("my/0", Some(&old)), unit("my/1", Some(&old)), unit("my/2", Some(&old))];
        assert_eq!(not_yet("my/0", &new, &before, &everyone), None, "the first unit goes first");
        assert!(not_yet("my/1", &new, &before, &everyone).unwrap().contains("my/0"), "the second waits for the first");
        let first_done = [unit("my/0", Some(&new)), unit("my/1", Some(&old)), unit("my/2", Some(&old))];
        assert!(not_yet("my/1", &new, &first_done, &view(&["my/1", "my/2"], &all)).unwrap().contains("my/0 is not synced"));
        assert_eq!(not_yet("my/1", &new, &first_done, &everyone), None, "then the second");
        assert!(not_yet("my/2", &new, &first_done, &everyone).unwrap().contains("my/1"));
    }

    #[test]
    fn a_unit_that_cannot_take_the_settings_does_not_hold_the_others() {
        let new = BTreeMap::from([("plugin_load_add".to_string(), "x".to_string())]);
        let mut stuck = unit("my/0", None);
        stuck.1.insert("settings.problem".to_string(), "Configuration Error".to_string());
        let all = ["my/0", "my/1"];
        assert_eq!(not_yet("my/1", &new, &[stuck, unit("my/1", None)], &view(&all, &all)), None);
    }
}
