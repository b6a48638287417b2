//! Native charms: Rust implementations of the charms tether ships, behind one trait.
//!
//! A charm receives one [`Event`] at a time with a [`HookContext`]; everything it writes
//! through the context is committed only if it returns `Ok`. Outside effects (database
//! users, servers) must therefore be idempotent: "ensure user X with password P", never
//! "create user X". [`Services`] is how a charm reaches the machine: the workload
//! supervisor and the pooled admin connections.

mod data_integrator;
pub mod external;
pub mod local;
mod mongodb;
mod mongos;
mod mysql;
mod postgresql;
mod provider;
mod server;
mod server_hooks;

use crate::engine::context::HookContext;
use crate::paths::Home;
use crate::workload::Supervisor;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tether_core::charm_meta::CharmMeta;
use tether_core::events::Event;

/// What a charm may use beyond its hook context.
pub struct Services {
    pub home: Home,
    pub supervisor: Supervisor,
    pub pg: crate::db::postgres::PgAdmins,
    pub mongo: crate::db::mongo::MongoAdmins,
    pub mysql: crate::db::mysql::MyAdmins,
    /// mongos routers, one per mongos unit.
    pub routers: crate::workload::mongos_router::Routers,
    /// Running external hooks by context id, for their hook tools.
    pub hook_tools: crate::hooktools::HookToolRegistry,
}

#[async_trait::async_trait]
pub trait Charm: Send + Sync {
    fn meta(&self) -> CharmMeta;

    /// Handles one hook or action.
    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()>;

    /// Refuses config values the charm cannot use, before they are stored. The
    /// message is shown to the user after `ERROR `.
    fn validate_config(&self, _config: &BTreeMap<String, Value>) -> Result<(), String> {
        Ok(())
    }

    /// Refuses a change of config that the charm only accepts at deploy.
    fn validate_config_change(&self, _old: &BTreeMap<String, Value>, _new: &BTreeMap<String, Value>) -> Result<(), String> {
        Ok(())
    }

    /// Whether this hook touches only its own relation's data, its own unit-state keys
    /// and the server, so the engine may run it beside hooks of *other* relations of
    /// the same unit (each still committed atomically, in queue order). Providers say
    /// yes for their per-relation endpoints, which is what lets many integrations with
    /// one server proceed at once; the default keeps Juju's one hook at a time.
    fn runs_beside_other_relations(&self, _event: &Event) -> bool {
        false
    }

    /// Sets the unit's status again from committed state after hooks ran side by side
    /// (each computed its status without seeing the others' writes).
    fn settle_after_concurrent_hooks(&self, _ctx: &HookContext) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The built-in charms by the names `deploy` accepts (aliases included).
pub fn builtin(name: &str) -> Option<Arc<dyn Charm>> {
    match name {
        "postgresql-k8s" | "postgresql" => Some(Arc::new(postgresql::PostgresqlCharm)),
        "data-integrator" => Some(Arc::new(data_integrator::DataIntegratorCharm)),
        "mongodb" | "mongodb-k8s" => Some(Arc::new(mongodb::MongodbCharm)),
        "mysql-k8s" | "mysql" => Some(Arc::new(mysql::MysqlCharm)),
        "mongos" | "mongos-k8s" => Some(Arc::new(mongos::MongosCharm)),
        _ => None,
    }
}

/// The charm that runs an application: a built-in by name, or a local charm by its
/// stored metadata.
pub fn for_app(charm: &str, origin: &str, meta: &CharmMeta) -> Option<Arc<dyn Charm>> {
    match origin {
        // A local charm with code runs as an external charm; one without is passive
        // (the external charm decides per hook from the stored charm directory).
        "local" => Some(Arc::new(external::ExternalCharm { meta: meta.clone() })),
        _ => builtin(charm),
    }
}

/// The canonical charm name for a built-in name or alias.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    match name {
        "postgresql-k8s" | "postgresql" => Some("postgresql-k8s"),
        "data-integrator" => Some("data-integrator"),
        "mongodb" | "mongodb-k8s" => Some("mongodb"),
        "mysql-k8s" | "mysql" => Some("mysql-k8s"),
        "mongos" | "mongos-k8s" => Some("mongos"),
        _ => None,
    }
}

/// Every built-in charm name (without aliases).
pub fn builtin_names() -> &'static [&'static str] {
    &["data-integrator", "mongodb", "mongos", "mysql-k8s", "postgresql-k8s"]
}

/// Reads a string parameter of the running action.
pub(crate) fn param_str(ctx: &HookContext, key: &str) -> Option<String> {
    match ctx.action_params().get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}
