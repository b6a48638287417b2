//! The hook context: what a charm sees and may change while one hook runs.
//!
//! It offers what Juju's hook tools offer (relation data, leadership, config, status,
//! action parameters and results, secrets, unit state, logging). Reads come from the
//! store's committed state overlaid with this hook's own pending writes; writes are
//! buffered in [`Pending`] and committed by the engine in one transaction only when the
//! hook succeeds. Status and log lines act immediately, as in Juju.

use crate::paths::Home;
use crate::store::{AppBag, AuditEntry, RelationRow, SecretOwner, Store, StoreError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tether_core::events::Event;
use tether_core::status::WorkloadStatus;

pub type Bag = BTreeMap<String, String>;

/// Errors a charm gets from the context, with the texts Juju's hook tools use.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("relation {0} not found")]
    RelationNotFound(i64),
    #[error("cannot write relation settings")]
    NotLeader,
    #[error("cannot write settings: not the leader")]
    NotLeaderForSettings,
    #[error("permission denied")]
    PermissionDenied,
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a hook wants to change, applied by the engine on success.
#[derive(Debug, Default)]
pub struct Pending {
    /// `(relation id, owner)` → key → new value (`None` deletes).
    pub databags: BTreeMap<(i64, String), BTreeMap<String, Option<String>>>,
    pub new_secrets: Vec<NewSecret>,
    pub secret_updates: BTreeMap<String, Bag>,
    pub grants: Vec<(String, i64, String)>,
    pub removed_secrets: Vec<String>,
    /// Secret id → new (label, description); `None` keeps the current one.
    pub secret_meta: BTreeMap<String, (Option<String>, Option<String>)>,
    /// `(secret id, relation id, application)`; no application revokes the whole relation.
    pub revokes: Vec<(String, i64, Option<String>)>,
    /// Unit-state keys this hook set (`Some`) or deleted (`None`), merged into the
    /// stored state at commit so hooks of different relations that run at once keep
    /// each other's keys.
    pub state_changes: BTreeMap<String, Option<String>>,
    /// Rotation policy and expiry a hook gave its secrets (`--rotate`, `--expire`).
    pub secret_timing: BTreeMap<String, super::secret_timer::TimingChange>,
    /// `(secret id, revision)` pruned with `secret-remove --revision`.
    pub removed_revisions: Vec<(String, i64)>,
    /// Leader settings this hook set (`Some`) or deleted (`None`); leader only.
    pub leader_settings: BTreeMap<String, Option<String>>,
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone)]
pub struct NewSecret {
    pub id: String,
    pub owner: SecretOwner,
    pub label: Option<String>,
    pub description: Option<String>,
    pub content: Bag,
}

/// The state of the action a context runs, if it runs one.
#[derive(Debug, Default)]
pub struct ActionState {
    pub id: i64,
    pub params: Map<String, Value>,
    pub results: Map<String, Value>,
    pub failed: Option<String>,
    pub log: Vec<String>,
}

pub struct HookContext {
    pub model: String,
    pub model_uuid: String,
    pub unit: String,
    pub app: String,
    pub leader: bool,
    pub config: BTreeMap<String, Value>,
    pub event: Event,
    pub action: Option<ActionState>,
    pub(crate) pending: Pending,
    store: Arc<Store>,
    home: Home,
    unit_state: Bag,
}

impl HookContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<Store>,
        home: Home,
        model: String,
        model_uuid: String,
        unit: String,
        leader: bool,
        config: BTreeMap<String, Value>,
        event: Event,
        unit_state: Bag,
    ) -> Self {
        let app = unit.split('/').next().unwrap_or_default().to_string();
        HookContext {
            model,
            model_uuid,
            unit,
            app,
            leader,
            config,
            event,
            action: None,
            pending: Pending::default(),
            store,
            home,
            unit_state,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This unit's directory under the controller's home (its workload data, storage,
    /// and an external charm's copy).
    pub fn unit_dir(&self) -> std::path::PathBuf {
        self.home.unit_dir(&self.model_uuid, &self.unit)
    }

    /// The controller's home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    // ---- config ----

    /// A string config value; unset and empty are both `None`.
    pub fn config_str(&self, key: &str) -> Option<String> {
        match self.config.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => None,
            Some(other) => Some(other.to_string()),
        }
    }

    // ---- relations ----

    /// Live relations of one of this application's endpoints (plus the event's own
    /// relation even while it is being removed, as Juju does until relation-broken ends).
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<i64>, ContextError> {
        let rels = self.store.read(|tx| tx.relation_ids_on(&self.model, &self.app, endpoint))?;
        let current = self.event.relation.as_ref().map(|(id, _)| *id);
        Ok(rels.into_iter().filter(|(id, life)| life.is_alive() || Some(*id) == current).map(|(id, _)| id).collect())
    }

    pub fn relation(&self, id: i64) -> Result<RelationRow, ContextError> {
        self.store.read(|tx| tx.relation(&self.model, id))?.ok_or(ContextError::RelationNotFound(id))
    }

    /// The application at the other end of a relation.
    pub fn remote_app(&self, id: i64) -> Result<String, ContextError> {
        let rel = self.relation(id)?;
        Ok(rel.remote(&self.app).map(|e| e.app.clone()).unwrap_or_default())
    }

    /// Remote units in the relation (for a peer relation: the other units of this app).
    pub fn remote_units(&self, id: i64) -> Result<Vec<String>, ContextError> {
        let rel = self.relation(id)?;
        Ok(self.store.read(|tx| tx.scope_units(&self.model, &rel, &self.unit))?)
    }

    /// Reads a databag (an application or unit name as `owner`), seeing this hook's
    /// own pending writes. A non-leader cannot read its own application's bag except
    /// on peer relations.
    pub fn relation_get(&self, id: i64, owner: &str) -> Result<Bag, ContextError> {
        let rel = self.relation(id)?;
        if owner == self.app && !self.leader && !rel.is_peer() {
            return Err(ContextError::PermissionDenied);
        }
        let mut bag = self.store.read(|tx| tx.databag(&self.model, id, owner))?;
        if let Some(changes) = self.pending.databags.get(&(id, owner.to_string())) {
            apply_changes(&mut bag, changes);
        }
        Ok(bag)
    }

    /// The remote application's bag of a relation.
    pub fn remote_app_data(&self, id: i64) -> Result<Bag, ContextError> {
        let remote = self.remote_app(id)?;
        self.relation_get(id, &remote)
    }

    /// Sets keys in this unit's bag; an empty value deletes the key.
    pub fn relation_set_unit(&mut self, id: i64, values: &Bag) -> Result<(), ContextError> {
        self.relation(id)?;
        let owner = self.unit.clone();
        self.buffer_write(id, owner, values);
        Ok(())
    }

    /// Sets keys in this application's bag (leader only); an empty value deletes the key.
    pub fn relation_set_app(&mut self, id: i64, values: &Bag) -> Result<(), ContextError> {
        self.relation(id)?;
        if !self.leader {
            return Err(ContextError::NotLeader);
        }
        let owner = self.app.clone();
        self.buffer_write(id, owner, values);
        Ok(())
    }

    /// Replaces this application's bag with exactly `values` (leader only).
    pub fn relation_replace_app(&mut self, id: i64, values: &Bag) -> Result<(), ContextError> {
        let current = self.relation_get(id, &self.app.clone())?;
        let mut changes: Bag = values.clone();
        for k in current.keys() {
            if !values.contains_key(k) {
                changes.insert(k.clone(), String::new());
            }
        }
        self.relation_set_app(id, &changes)
    }

    fn buffer_write(&mut self, id: i64, owner: String, values: &Bag) {
        let entry = self.pending.databags.entry((id, owner)).or_default();
        for (k, v) in values {
            entry.insert(k.clone(), if v.is_empty() { None } else { Some(v.clone()) });
        }
    }

    // ---- status and logs (immediate) ----

    pub fn set_status(&self, status: WorkloadStatus, message: &str) -> Result<(), ContextError> {
        self.store.write(|tx| tx.set_unit_status(&self.model, &self.unit, status, message))?;
        Ok(())
    }

    /// Sets the application status (leader only; ignored otherwise).
    pub fn set_app_status(&self, status: WorkloadStatus, message: &str) -> Result<(), ContextError> {
        if self.leader {
            self.store.write(|tx| tx.set_app_status(&self.model, &self.app, status, message))?;
        }
        Ok(())
    }

    /// Writes one line to the model log (never pass a secret).
    pub fn log(&self, level: &str, message: &str) {
        let entity = format!("unit-{}", self.unit.replace('/', "-"));
        let module = format!("unit.{}.juju-log", self.unit);
        let _ = self.store.write(|tx| tx.log_module(&self.model, &entity, &module, level, message));
    }

    /// Records a credential event in the audit trail (committed with the hook).
    pub fn audit(&mut self, operation: &str, relation: &str, db_user: &str, detail: &str) {
        self.pending.audit.push(AuditEntry {
            ts: String::new(),
            model: self.model.clone(),
            app: self.app.clone(),
            relation: relation.to_string(),
            operation: operation.to_string(),
            db_user: db_user.to_string(),
            detail: detail.to_string(),
        });
    }

    // ---- leader settings (leader-get / leader-set) ----

    /// The application's leader settings as this hook sees them.
    pub fn leader_settings(&self) -> Result<Bag, ContextError> {
        let mut bag = self.store.read(|tx| tx.app_bag(&self.model, &self.app, AppBag::LeaderSettings))?;
        apply_changes(&mut bag, &self.pending.leader_settings);
        Ok(bag)
    }

    /// Sets (or, with an empty value, deletes) leader settings; leader only. Committed
    /// with the hook, and the other units then hear `leader-settings-changed`.
    pub fn leader_set(&mut self, values: &Bag) -> Result<(), ContextError> {
        if !self.leader {
            return Err(ContextError::NotLeaderForSettings);
        }
        for (k, v) in values {
            self.pending.leader_settings.insert(k.clone(), (!v.is_empty()).then(|| v.clone()));
        }
        Ok(())
    }

    // ---- unit state (charm-private, like Juju's state-get/state-set) ----

    pub fn state_get(&self, key: &str) -> Option<String> {
        self.unit_state.get(key).cloned()
    }

    pub fn state_set(&mut self, key: &str, value: &str) {
        self.unit_state.insert(key.to_string(), value.to_string());
        self.pending.state_changes.insert(key.to_string(), Some(value.to_string()));
    }

    pub fn state_delete(&mut self, key: &str) {
        if self.unit_state.remove(key).is_some() {
            self.pending.state_changes.insert(key.to_string(), None);
        }
    }

    /// The whole unit state as this hook sees it.
    pub fn unit_state(&self) -> &Bag {
        &self.unit_state
    }

    // ---- secrets ----

    /// Creates an application-owned secret (leader only) and returns its URI.
    pub fn secret_add_app(&mut self, label: Option<&str>, content: Bag) -> Result<String, ContextError> {
        if !self.leader {
            return Err(ContextError::NotLeader);
        }
        let id = crate::store::new_secret_id();
        self.pending.new_secrets.push(NewSecret {
            id: id.clone(),
            owner: SecretOwner::App(self.app.clone()),
            label: label.map(str::to_string),
            description: None,
            content,
        });
        Ok(format!("secret:{id}"))
    }

    /// The id of a secret this application owns, by label.
    pub fn secret_id_by_label(&self, label: &str) -> Result<Option<String>, ContextError> {
        if let Some(s) = self.pending.new_secrets.iter().find(|s| s.label.as_deref() == Some(label)) {
            return Ok(Some(s.id.clone()));
        }
        let owner = SecretOwner::App(self.app.clone());
        let found = self.store.read(|tx| tx.secret_by_label(&self.model, &owner, label))?;
        Ok(found.map(|s| s.id).filter(|id| !self.pending.removed_secrets.contains(id)))
    }

    /// Reads a secret's latest content, if this application owns it or was granted it.
    pub fn secret_get(&self, uri: &str) -> Result<Bag, ContextError> {
        let id = crate::store::secret_id_from_uri(uri);
        if let Some(c) = self.pending.secret_updates.get(&id) {
            return Ok(c.clone());
        }
        if let Some(s) = self.pending.new_secrets.iter().find(|s| s.id == id) {
            return Ok(s.content.clone());
        }
        let (readable, content) = self.store.read(|tx| {
            Ok::<_, StoreError>((tx.secret_readable_by(&self.model, &id, &self.unit)?, tx.secret_content(&self.model, &id, None)?))
        })?;
        match (readable, content) {
            (true, Some(c)) => Ok(c),
            _ => Err(ContextError::SecretNotFound(id)),
        }
    }

    /// Sets new content on a secret this application owns (leader only).
    pub fn secret_set(&mut self, uri: &str, content: Bag) -> Result<(), ContextError> {
        if !self.leader {
            return Err(ContextError::NotLeader);
        }
        let id = crate::store::secret_id_from_uri(uri);
        if let Some(s) = self.pending.new_secrets.iter_mut().find(|s| s.id == id) {
            s.content = content;
            return Ok(());
        }
        self.pending.secret_updates.insert(id, content);
        Ok(())
    }

    /// Writes new content to a secret this application owns *now*, outside the hook's
    /// transaction. Only for recording an intent that must survive a crash in the middle
    /// of the hook (a password about to be changed on a server); everything else goes
    /// through the buffered [`HookContext::secret_set`].
    pub fn secret_set_now(&self, uri: &str, content: &Bag) -> Result<(), ContextError> {
        if !self.leader {
            return Err(ContextError::NotLeader);
        }
        let id = crate::store::secret_id_from_uri(uri);
        self.store.write(|tx| tx.update_secret(&self.model, &id, content))?;
        Ok(())
    }

    /// Grants a secret to the remote application of a relation.
    pub fn secret_grant(&mut self, uri: &str, relation_id: i64) -> Result<(), ContextError> {
        let remote = self.remote_app(relation_id)?;
        self.pending.grants.push((crate::store::secret_id_from_uri(uri), relation_id, remote));
        Ok(())
    }

    /// Creates a secret owned by `owner` without a leadership check (the caller decides)
    /// and returns its URI.
    pub fn secret_add(&mut self, owner: SecretOwner, label: Option<&str>, description: Option<&str>, content: Bag) -> String {
        let id = crate::store::new_secret_id();
        self.pending.new_secrets.push(NewSecret {
            id: id.clone(),
            owner,
            label: label.map(str::to_string),
            description: description.map(str::to_string),
            content,
        });
        format!("secret:{id}")
    }

    pub fn secret_remove(&mut self, uri: &str) {
        let id = crate::store::secret_id_from_uri(uri);
        self.pending.new_secrets.retain(|s| s.id != id);
        self.pending.secret_updates.remove(&id);
        self.pending.removed_secrets.push(id);
    }

    // ---- actions ----

    /// A parameter of the running action as a string (`None` when absent or null).
    pub fn action_param_str(&self, key: &str) -> Option<String> {
        match self.action.as_ref()?.params.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        }
    }

    pub fn action_set(&mut self, key: &str, value: Value) {
        if let Some(a) = self.action.as_mut() {
            a.results.insert(key.to_string(), value);
        }
    }

    pub fn action_fail(&mut self, message: &str) {
        if let Some(a) = self.action.as_mut() {
            a.failed = Some(message.to_string());
        }
    }

    pub fn action_log(&mut self, message: &str) {
        if let Some(a) = self.action.as_mut() {
            let line = format!("{} {message}", crate::store::now());
            // Written at once (as Juju's action-log is), so a waiting `run` shows it.
            let _ = self.store.write(|tx| tx.append_task_log(&self.model, a.id, &line));
            a.log.push(line);
        }
    }
}

/// Applies buffered changes to a bag (`None` deletes).
pub fn apply_changes(bag: &mut Bag, changes: &BTreeMap<String, Option<String>>) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                bag.insert(k.clone(), v.clone());
            }
            None => {
                bag.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Read-your-writes: a hook reads its own pending writes; nobody else does until
    //! the engine commits them.

    use super::{Bag, ContextError, HookContext};
    use crate::engine::testing::{bag, relation_event, World, APP, MODEL, UNIT};
    use crate::store::{new_secret_id, SecretOwner, StoreError};
    use tether_core::events::HookKind;

    /// The world with committed data on relation 0: the unit bag `{a: 1, b: 2}`, the
    /// application bag `{x: 1, y: 2}`, and the unit state `{old: 1, keep: k}`.
    fn seeded() -> World {
        let w = World::new();
        w.store
            .write(|tx| {
                tx.set_databag(MODEL, 0, UNIT, &bag(&[("a", "1"), ("b", "2")]))?;
                tx.set_databag(MODEL, 0, APP, &bag(&[("x", "1"), ("y", "2")]))?;
                tx.set_unit_state(MODEL, UNIT, &bag(&[("old", "1"), ("keep", "k")]))
            })
            .unwrap();
        w
    }

    fn hook(w: &World) -> HookContext {
        w.context(relation_event(HookKind::RelationChanged, 0))
    }

    type Write = fn(&mut HookContext) -> Result<(), ContextError>;

    #[test]
    fn relation_get_returns_the_hooks_own_pending_values_and_deletions_and_nothing_else_sees_them() {
        let cases: [(&str, Write, &str, Bag); 5] = [
            (
                "unit bag: set, add, delete",
                |c| c.relation_set_unit(0, &bag(&[("a", "10"), ("b", ""), ("c", "3")])),
                UNIT,
                bag(&[("a", "10"), ("c", "3")]),
            ),
            ("app bag: add, delete", |c| c.relation_set_app(0, &bag(&[("x", ""), ("z", "9")])), APP, bag(&[("y", "2"), ("z", "9")])),
            ("app bag: replace drops the keys not given", |c| c.relation_replace_app(0, &bag(&[("z", "9")])), APP, bag(&[("z", "9")])),
            (
                "app bag: replace after a set in the same hook",
                |c| {
                    c.relation_set_app(0, &bag(&[("w", "1")]))?;
                    c.relation_replace_app(0, &bag(&[("x", "5")]))
                },
                APP,
                bag(&[("x", "5")]),
            ),
            (
                "unit bag: the last write of a key wins",
                |c| {
                    c.relation_set_unit(0, &bag(&[("a", "")]))?;
                    c.relation_set_unit(0, &bag(&[("a", "again")]))
                },
                UNIT,
                bag(&[("a", "again"), ("b", "2")]),
            ),
        ];
        for (name, write, owner, want) in cases {
            let w = seeded();
            let committed = w.databag(0, owner);
            let mut ctx = hook(&w);
            write(&mut ctx).unwrap();
            assert_eq!(ctx.relation_get(0, owner).unwrap(), want, "{name}: the hook reads its own writes");
            assert_eq!(w.databag(0, owner), committed, "{name}: the store is unchanged before commit");
            assert_eq!(hook(&w).relation_get(0, owner).unwrap(), committed, "{name}: another context sees only what is committed");
            let other_relation = ctx.relation_get(1, owner).unwrap();
            assert!(other_relation.is_empty(), "{name}: the writes stay on their relation: {other_relation:?}");
        }
    }

    #[test]
    fn state_get_returns_the_hooks_own_sets_and_deletes_and_the_store_keeps_the_committed_state() {
        let w = seeded();
        let mut ctx = hook(&w);
        ctx.state_set("new", "2");
        ctx.state_set("keep", "k2");
        ctx.state_delete("old");
        ctx.state_delete("never-there");
        assert_eq!(
            [ctx.state_get("new"), ctx.state_get("keep"), ctx.state_get("old")],
            [Some("2".into()), Some("k2".into()), None],
            "the hook reads its own state changes"
        );
        assert_eq!(ctx.unit_state(), &bag(&[("keep", "k2"), ("new", "2")]));
        // Only what the hook changed is pending: the commit merges it into the stored state.
        let pending: Vec<_> = ctx.pending.state_changes.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        assert_eq!(pending, [("keep", Some("k2")), ("new", Some("2")), ("old", None)]);
        let committed = bag(&[("keep", "k"), ("old", "1")]);
        assert_eq!(w.unit().state, committed, "the store is unchanged before commit");
        let other = hook(&w);
        assert_eq!(
            (other.state_get("old"), other.state_get("new")),
            (Some("1".into()), None),
            "another context sees only what is committed"
        );
    }

    #[test]
    fn a_secret_read_after_secret_set_in_the_same_hook_returns_the_new_content_and_only_there() {
        let w = seeded();
        let id = new_secret_id();
        let uri = format!("secret:{id}");
        w.store
            .write(|tx| tx.create_secret(MODEL, &id, &SecretOwner::App(APP.into()), Some("creds"), None, &bag(&[("password", "old")])))
            .unwrap();
        let stored = || {
            w.store
                .read(|tx| Ok::<_, StoreError>((tx.secret(MODEL, &id)?.map(|s| s.revision), tx.secret_content(MODEL, &id, None)?)))
                .unwrap()
        };
        let mut ctx = hook(&w);
        ctx.secret_set(&uri, bag(&[("password", "new")])).unwrap();
        assert_eq!(ctx.secret_get(&uri).unwrap(), bag(&[("password", "new")]), "the hook reads its own update");
        assert_eq!(stored(), (Some(1), Some(bag(&[("password", "old")]))), "no new revision before commit");
        assert_eq!(hook(&w).secret_get(&uri).unwrap(), bag(&[("password", "old")]), "another context reads the committed revision");

        // A secret the hook creates: readable (and findable by label) in the hook, absent elsewhere.
        let added = ctx.secret_add_app(Some("fresh"), bag(&[("token", "t1")])).unwrap();
        ctx.secret_set(&added, bag(&[("token", "t2")])).unwrap();
        assert_eq!(ctx.secret_get(&added).unwrap(), bag(&[("token", "t2")]));
        let added_id = crate::store::secret_id_from_uri(&added);
        assert_eq!(ctx.secret_id_by_label("fresh").unwrap(), Some(added_id.clone()));
        assert!(w.store.read(|tx| tx.secret(MODEL, &added_id)).unwrap().is_none(), "not in the store before commit");
        let other = hook(&w);
        assert!(matches!(other.secret_get(&added), Err(ContextError::SecretNotFound(_))), "another context cannot read it");
        assert_eq!(other.secret_id_by_label("fresh").unwrap(), None);
    }
}
