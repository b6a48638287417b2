//! Hook events and the order Juju fires them in.
//!
//! The controller turns each user operation into per-unit lists of [`Event`]s with the
//! planning functions here, and appends them to the units' queues in the same store
//! transaction that records the operation. Units then run their queues one hook at a
//! time. Keeping the plans pure makes Juju's ordering rules testable as tables.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    Install,
    LeaderElected,
    LeaderSettingsChanged,
    ConfigChanged,
    Start,
    Stop,
    Remove,
    UpdateStatus,
    RelationCreated,
    RelationJoined,
    RelationChanged,
    RelationDeparted,
    RelationBroken,
    SecretChanged,
    SecretRemove,
    SecretRotate,
    SecretExpired,
    StorageAttached,
    StorageDetaching,
    /// The application's charm was refreshed (`refresh --path`).
    UpgradeCharm,
    Action,
}

impl HookKind {
    pub fn is_relation(self) -> bool {
        matches!(
            self,
            HookKind::RelationCreated
                | HookKind::RelationJoined
                | HookKind::RelationChanged
                | HookKind::RelationDeparted
                | HookKind::RelationBroken
        )
    }

    fn suffix(self) -> &'static str {
        match self {
            HookKind::Install => "install",
            HookKind::LeaderElected => "leader-elected",
            HookKind::LeaderSettingsChanged => "leader-settings-changed",
            HookKind::ConfigChanged => "config-changed",
            HookKind::Start => "start",
            HookKind::Stop => "stop",
            HookKind::Remove => "remove",
            HookKind::UpdateStatus => "update-status",
            HookKind::RelationCreated => "relation-created",
            HookKind::RelationJoined => "relation-joined",
            HookKind::RelationChanged => "relation-changed",
            HookKind::RelationDeparted => "relation-departed",
            HookKind::RelationBroken => "relation-broken",
            HookKind::SecretChanged => "secret-changed",
            HookKind::SecretRemove => "secret-remove",
            HookKind::SecretRotate => "secret-rotate",
            HookKind::SecretExpired => "secret-expired",
            HookKind::StorageAttached => "storage-attached",
            HookKind::StorageDetaching => "storage-detaching",
            HookKind::UpgradeCharm => "upgrade-charm",
            HookKind::Action => "action",
        }
    }
}

/// One queued hook for one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: HookKind,
    /// Relation id and local endpoint name, for relation hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<(i64, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departing_unit: Option<String>,
    /// Task id and action name, for actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<(i64, String)>,
    /// Secret URI and revision, for secret hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<(String, i64)>,
    /// Storage id (`data/0`), for storage hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

impl Event {
    pub fn simple(kind: HookKind) -> Self {
        Event { kind, relation: None, remote_app: None, remote_unit: None, departing_unit: None, action: None, secret: None, storage: None }
    }

    pub fn relation(kind: HookKind, id: i64, endpoint: &str, remote_app: &str, remote_unit: Option<&str>) -> Self {
        Event {
            relation: Some((id, endpoint.to_string())),
            remote_app: Some(remote_app.to_string()),
            remote_unit: remote_unit.map(str::to_string),
            ..Event::simple(kind)
        }
    }

    pub fn action(task: i64, name: &str) -> Self {
        Event { action: Some((task, name.to_string())), ..Event::simple(HookKind::Action) }
    }

    /// A storage hook for storage instance `id` (`data/0`).
    pub fn storage(kind: HookKind, id: &str) -> Self {
        Event { storage: Some(id.to_string()), ..Event::simple(kind) }
    }

    /// The hook name Juju shows (`install`, `database-relation-changed`,
    /// `data-storage-attached`, or the action name).
    pub fn hook_name(&self) -> String {
        match (&self.relation, &self.action, &self.storage) {
            (Some((_, ep)), _, _) => format!("{ep}-{}", self.kind.suffix()),
            (_, Some((_, name)), _) => name.clone(),
            (_, _, Some(id)) => format!("{}-{}", id.split('/').next().unwrap_or(id), self.kind.suffix()),
            _ => self.kind.suffix().to_string(),
        }
    }
}

/// A relation as the planner sees it: its id and, per side, the endpoint and the units.
#[derive(Debug, Clone)]
pub struct RelationSide<'a> {
    pub app: &'a str,
    pub endpoint: &'a str,
    pub units: Vec<String>,
}

/// Hooks a new unit runs when it is deployed or added, before the relation hooks of
/// existing relations: `<name>-storage-attached` for each of its storage instances,
/// install, relation-created for each existing relation (peers first), leader-elected or
/// leader-settings-changed, config-changed, start.
pub fn deploy_plan(leader: bool, existing: &[(i64, String, String)], storage: &[String]) -> Vec<Event> {
    let mut plan: Vec<Event> = storage.iter().map(|id| Event::storage(HookKind::StorageAttached, id)).collect();
    plan.push(Event::simple(HookKind::Install));
    for (id, endpoint, remote_app) in existing {
        plan.push(Event::relation(HookKind::RelationCreated, *id, endpoint, remote_app, None));
    }
    plan.push(Event::simple(if leader { HookKind::LeaderElected } else { HookKind::LeaderSettingsChanged }));
    plan.push(Event::simple(HookKind::ConfigChanged));
    plan.push(Event::simple(HookKind::Start));
    plan
}

/// Hooks every unit runs after its application's charm is refreshed: `upgrade-charm` in
/// the new charm, then `config-changed` (Juju fires it after every charm upgrade, since
/// the new charm may read its settings differently).
pub fn refresh_plan() -> Vec<Event> {
    vec![Event::simple(HookKind::UpgradeCharm), Event::simple(HookKind::ConfigChanged)]
}

/// Hooks one unit runs when a relation is integrated: relation-created, then for each
/// remote unit in name order relation-joined immediately followed by relation-changed.
pub fn integrate_plan(id: i64, local_endpoint: &str, remote_app: &str, remote_units: &[String]) -> Vec<Event> {
    let mut plan = vec![Event::relation(HookKind::RelationCreated, id, local_endpoint, remote_app, None)];
    plan.extend(join_plan(id, local_endpoint, remote_app, remote_units));
    plan
}

/// relation-joined + relation-changed for each remote unit, sorted by name.
pub fn join_plan(id: i64, local_endpoint: &str, remote_app: &str, remote_units: &[String]) -> Vec<Event> {
    let mut units = remote_units.to_vec();
    units.sort_by(|a, b| natural_unit_order(a, b));
    units
        .iter()
        .flat_map(|u| {
            [
                Event::relation(HookKind::RelationJoined, id, local_endpoint, remote_app, Some(u)),
                Event::relation(HookKind::RelationChanged, id, local_endpoint, remote_app, Some(u)),
            ]
        })
        .collect()
}

/// Hooks one unit runs when a relation is removed: relation-departed per remote unit
/// (the departing unit named), then one relation-broken.
pub fn remove_plan(id: i64, local_endpoint: &str, remote_app: &str, remote_units: &[String]) -> Vec<Event> {
    let mut units = remote_units.to_vec();
    units.sort_by(|a, b| natural_unit_order(a, b));
    let mut plan: Vec<Event> = units
        .iter()
        .map(|u| Event {
            departing_unit: Some(u.clone()),
            ..Event::relation(HookKind::RelationDeparted, id, local_endpoint, remote_app, Some(u))
        })
        .collect();
    plan.push(Event::relation(HookKind::RelationBroken, id, local_endpoint, remote_app, None));
    plan
}

/// Orders `app/2` before `app/10`.
pub fn natural_unit_order(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| -> (String, u64) {
        match s.rsplit_once('/') {
            Some((app, n)) => (app.to_string(), n.parse().unwrap_or(u64::MAX)),
            None => (s.to_string(), 0),
        }
    };
    split(a).cmp(&split(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: &[Event]) -> Vec<String> {
        plan.iter()
            .map(|e| format!("{}{}", e.hook_name(), e.remote_unit.as_deref().map(|u| format!("[{u}]")).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn deploy_order_follows_juju() {
        let plan = deploy_plan(true, &[(0, "database-peers".into(), "pg".into())], &[]);
        assert_eq!(names(&plan), ["install", "database-peers-relation-created", "leader-elected", "config-changed", "start"]);
        let plan = deploy_plan(false, &[], &["data/0".into(), "data/1".into()]);
        assert_eq!(
            names(&plan),
            ["data-storage-attached", "data-storage-attached", "install", "leader-settings-changed", "config-changed", "start"]
        );
        assert_eq!(plan[1].storage.as_deref(), Some("data/1"));
    }

    #[test]
    fn refresh_runs_upgrade_charm_then_config_changed() {
        assert_eq!(names(&refresh_plan()), ["upgrade-charm", "config-changed"]);
    }

    #[test]
    fn integrate_joins_each_remote_unit_in_natural_order() {
        let plan = integrate_plan(3, "database", "app", &["app/10".into(), "app/2".into()]);
        assert_eq!(
            names(&plan),
            [
                "database-relation-created",
                "database-relation-joined[app/2]",
                "database-relation-changed[app/2]",
                "database-relation-joined[app/10]",
                "database-relation-changed[app/10]"
            ]
        );
    }

    #[test]
    fn remove_departs_then_breaks_once() {
        let plan = remove_plan(3, "database", "app", &["app/0".into(), "app/1".into()]);
        assert_eq!(names(&plan), ["database-relation-departed[app/0]", "database-relation-departed[app/1]", "database-relation-broken"]);
        assert_eq!(plan[0].departing_unit.as_deref(), Some("app/0"));
        assert_eq!(remove_plan(1, "db", "x", &[]).len(), 1);
    }

    #[test]
    fn action_hook_name_is_the_action() {
        assert_eq!(Event::action(7, "get-password").hook_name(), "get-password");
    }
}
