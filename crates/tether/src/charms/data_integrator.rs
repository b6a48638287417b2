//! `data-integrator`: credentials for applications tether does not manage
//! (charm-protocol §7). It asks each related database for a database named by its
//! `database-name` option and hands back whatever the provider published, secrets
//! resolved, through the `get-credentials` action.

use crate::engine::charm::Charm;
use crate::engine::context::{Bag, HookContext};
use anyhow::anyhow;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tether_core::charm_meta::{ActionSpec, CharmMeta, ConfigOption, Endpoint, OptionType, Role};
use tether_core::events::{Event, HookKind};
use tether_core::life::Life;
use tether_core::names::validate_database;
use tether_core::status::WorkloadStatus;

pub struct DataIntegratorCharm;

/// Requirer endpoints that speak the data_interfaces database protocol.
const DATABASE_ENDPOINTS: [&str; 4] = ["postgresql", "mysql", "mongodb", "mongos"];
/// Every product key `get-credentials` may return, in Juju's order.
const PRODUCTS: [&str; 11] =
    ["mysql", "postgresql", "mongodb", "mongos", "zookeeper", "kyuubi", "kafka", "opensearch", "cassandra", "etcd", "valkey"];
/// What the DI library asks to receive as secrets.
const REQUESTED_SECRETS: [&str; 8] = ["username", "password", "tls", "tls-ca", "uris", "read-only-uris", "entity-name", "entity-password"];
const NAME_OPTIONS: [&str; 5] = ["topic-name", "database-name", "index-name", "prefix-name", "keyspace-name"];

pub fn meta() -> CharmMeta {
    let req = |name: &str, iface: &str| Endpoint::new(name, Role::Requirer, iface).limit(1);
    let opt = |name: &str, description: &str| ConfigOption {
        name: name.into(),
        kind: OptionType::String,
        default: None,
        description: description.into(),
    };
    CharmMeta {
        resources: vec![],
        storage: vec![],
        action_schemas: Default::default(),
        name: "data-integrator".into(),
        summary: "Credentials and endpoints for applications outside tether.".into(),
        subordinate: false,
        endpoints: vec![
            Endpoint::new("data-integrator-peers", Role::Peer, "data-integrator-peers"),
            req("mysql", "mysql_client"),
            req("postgresql", "postgresql_client"),
            req("mongodb", "mongodb_client"),
            req("kafka", "kafka_client"),
            req("zookeeper", "zookeeper"),
            req("opensearch", "opensearch_client"),
            req("kyuubi", "kyuubi_client"),
            req("etcd", "etcd_client"),
            req("cassandra", "cassandra_client"),
            req("valkey", "valkey_client"),
            Endpoint::new("mongos", Role::Provider, "mongos_client").limit(1),
        ],
        config: vec![
            opt("database-name", "database to request (MySQL, PostgreSQL, MongoDB, mongos)"),
            opt("topic-name", "Kafka topic"),
            opt("index-name", "OpenSearch index"),
            opt("prefix-name", "etcd or Valkey prefix"),
            opt("keyspace-name", "Cassandra keyspace"),
            opt("entity-type", "USER or GROUP for a custom entity"),
            opt("entity-permissions", "JSON list of entity permissions"),
            opt("extra-user-roles", "comma-separated extra roles, e.g. admin"),
            opt("extra-group-roles", "comma-separated extra group roles"),
            opt("consumer-group-prefix", "Kafka consumer group prefix"),
            opt("mtls-cert", "client certificate for etcd"),
            opt("requested-entities-secret", "secret URI with entity name and password"),
        ],
        actions: vec![ActionSpec {
            name: "get-credentials".into(),
            description: "Shows the credentials and endpoints of every related product.".into(),
            params: vec![],
            required: vec![],
            additional_properties: false,
        }],
    }
}

fn is_database_endpoint(ep: &str) -> bool {
    DATABASE_ENDPOINTS.contains(&ep)
}

impl DataIntegratorCharm {
    /// The request a database endpoint sends: database, roles, secrets wanted.
    fn request(&self, ctx: &HookContext) -> Bag {
        let mut bag = Bag::new();
        if let Some(db) = ctx.config_str("database-name") {
            bag.insert("database".into(), db);
        }
        if let Some(roles) = ctx.config_str("extra-user-roles") {
            bag.insert("extra-user-roles".into(), roles);
        }
        bag.insert("external-node-connectivity".into(), "true".into());
        bag.insert("requested-secrets".into(), serde_json::to_string(&REQUESTED_SECRETS).unwrap_or_default());
        bag
    }

    /// Writes the request on relations that have not been answered yet.
    fn send_requests(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        for ep in DATABASE_ENDPOINTS {
            for rel in ctx.relation_ids(ep)? {
                if !self.answered(ctx, rel)? {
                    let req = self.request(ctx);
                    let own = ctx.relation_get(rel, &ctx.app.clone())?;
                    if req.iter().any(|(k, v)| own.get(k) != Some(v)) {
                        ctx.relation_set_app(rel, &req)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn answered(&self, ctx: &HookContext, rel: i64) -> anyhow::Result<bool> {
        let data = ctx.remote_app_data(rel)?;
        Ok(data.contains_key("secret-user") || (data.contains_key("username") && data.contains_key("password")))
    }

    /// The blocked/active status, in the order the real charm evaluates it.
    fn evaluate_status(&self, ctx: &HookContext) -> anyhow::Result<()> {
        if !NAME_OPTIONS.iter().any(|o| ctx.config_str(o).is_some()) {
            ctx.set_status(WorkloadStatus::Blocked, "Please specify either topic, index, database name, keyspace name, or prefix")?;
            return Ok(());
        }
        let mut delivered = Vec::new();
        for ep in DATABASE_ENDPOINTS {
            for rel in ctx.relation_ids(ep)? {
                if ctx.relation(rel)?.life == Life::Alive && self.answered(ctx, rel)? {
                    delivered.push(rel);
                }
            }
        }
        if delivered.is_empty() {
            ctx.set_status(WorkloadStatus::Blocked, "Please relate the data-integrator with the desired product")?;
            return Ok(());
        }
        for rel in delivered {
            if !ctx.leader {
                break;
            }
            let sent = ctx.relation_get(rel, &ctx.app.clone())?;
            if sent.get("extra-user-roles").cloned() != ctx.config_str("extra-user-roles") {
                ctx.set_status(WorkloadStatus::Blocked, "To change role info, please remove relation and add it again")?;
                return Ok(());
            }
            let active = sent.get("database").cloned().unwrap_or_default();
            if Some(&active) != ctx.config_str("database-name").as_ref() {
                ctx.set_status(
                    WorkloadStatus::Blocked,
                    &format!("To change database name: {active}, please remove relation and add it again"),
                )?;
                return Ok(());
            }
        }
        ctx.set_status(WorkloadStatus::Active, "")?;
        Ok(())
    }

    fn get_credentials(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if !NAME_OPTIONS.iter().any(|o| ctx.config_str(o).is_some()) {
            ctx.action_set("ok", "False".into());
            ctx.action_fail("The database name, topic name, index name, keyspace name, or prefix is not specified in the config.");
            return Ok(());
        }
        let mut results: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
        for product in PRODUCTS {
            for rel in ctx.relation_ids(product)? {
                if ctx.relation(rel)?.life != Life::Alive || !self.answered(ctx, rel)? {
                    continue;
                }
                results.insert(product, self.resolved_bag(ctx, rel)?);
            }
        }
        if results.is_empty() {
            ctx.action_set("ok", "False".into());
            ctx.action_fail("The action can be run only after relation is created.");
            return Ok(());
        }
        ctx.action_set("ok", "True".into());
        for (product, bag) in results {
            ctx.action_set(product, Value::Object(bag));
        }
        Ok(())
    }

    /// The provider's bag with every `secret-*` reference replaced by its content.
    fn resolved_bag(&self, ctx: &HookContext, rel: i64) -> anyhow::Result<Map<String, Value>> {
        let data = ctx.remote_app_data(rel)?;
        let mut out = Map::new();
        for (k, v) in &data {
            if k.starts_with("secret-") {
                let content = ctx.secret_get(v).map_err(|e| anyhow!("cannot read {k} of relation {rel}: {e}"))?;
                for (ck, cv) in content {
                    out.insert(ck, Value::String(cv));
                }
            } else {
                out.insert(k.clone(), Value::String(v.clone()));
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Charm for DataIntegratorCharm {
    fn meta(&self) -> CharmMeta {
        meta()
    }

    fn validate_config(&self, config: &BTreeMap<String, Value>) -> Result<(), String> {
        if let Some(Value::String(db)) = config.get("database-name") {
            validate_database(db).map_err(|e| e.to_string())?;
        }
        if let Some(Value::String(roles)) = config.get("extra-user-roles") {
            let ok = roles.split(',').all(|r| {
                let r = r.trim();
                !r.is_empty() && r.len() <= 63 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            if !ok {
                return Err(format!(
                    "extra-user-roles {:?} not valid: use comma-separated role names",
                    roles.chars().take(64).collect::<String>()
                ));
            }
        }
        Ok(())
    }

    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()> {
        let endpoint = event.relation.as_ref().map(|(_, ep)| ep.clone());
        match event.kind {
            HookKind::Install => Ok(()),
            HookKind::RelationCreated if endpoint.as_deref().is_some_and(is_database_endpoint) => {
                self.send_requests(ctx)?;
                self.evaluate_status(ctx)
            }
            HookKind::ConfigChanged | HookKind::LeaderElected => {
                self.send_requests(ctx)?;
                self.evaluate_status(ctx)
            }
            HookKind::Start
            | HookKind::UpdateStatus
            | HookKind::LeaderSettingsChanged
            | HookKind::RelationChanged
            | HookKind::RelationJoined
            | HookKind::RelationDeparted
            | HookKind::RelationBroken => self.evaluate_status(ctx),
            HookKind::Action => match event.action.as_ref().map(|(_, n)| n.as_str()) {
                Some("get-credentials") => self.get_credentials(ctx),
                other => Err(anyhow!("action {other:?} not implemented")),
            },
            _ => Ok(()),
        }
    }
}
