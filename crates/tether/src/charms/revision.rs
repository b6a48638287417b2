//! A change every unit of an application must follow (internal passwords changed by
//! `set-password` under Patroni or Galera): the leader bumps a revision in the leader
//! settings, committed with the hook that made the change, and each unit, on
//! `leader-settings-changed`, catches up once and records the revision it follows.

use crate::engine::context::HookContext;
use std::collections::BTreeMap;

/// One such revision: its leader-settings key and the unit-state key of the one followed.
pub struct Revision {
    pub setting: &'static str,
    pub seen: &'static str,
}

impl Revision {
    /// On the leader: the next revision, set and recorded as followed by this unit.
    pub fn bump(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let next = ctx.leader_settings()?.get(self.setting).and_then(|r| r.parse::<u64>().ok()).unwrap_or(0) + 1;
        ctx.leader_set(&BTreeMap::from([(self.setting.to_string(), next.to_string())]))?;
        ctx.state_set(self.seen, &next.to_string());
        Ok(())
    }

    /// The leader's revision when this unit does not follow it yet.
    pub fn behind(&self, ctx: &HookContext) -> anyhow::Result<Option<String>> {
        let revision = ctx.leader_settings()?.get(self.setting).cloned();
        Ok(revision.filter(|r| ctx.state_get(self.seen).as_deref() != Some(r.as_str())))
    }

    /// Records that this unit follows `revision`.
    pub fn followed(&self, ctx: &mut HookContext, revision: &str) {
        ctx.state_set(self.seen, revision);
    }
}
