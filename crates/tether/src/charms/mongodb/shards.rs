//! Sharding between mongodb applications (charm-protocol §5.6, interface `shards`): the
//! config server's `config-server` endpoint and a shard's `sharding` endpoint.
//!
//! With mongod, joining a shard to a cluster takes three steps, each in a relation hook:
//! 1. The config server shares the cluster's `operator` and `backup` passwords and its
//!    keyfile (one secret, granted to the relation) and its hosts (`host`, a JSON list).
//! 2. The shard takes them: its own `operator` and `backup` get the cluster's passwords
//!    (so one login works across the cluster) and its mongod restarts on the cluster
//!    keyfile; then it publishes its replica set (`replset`, `host`).
//! 3. The config server adds it with `addShard`. That is a router command, so a config
//!    server runs a `mongos` of its own for administration (its port kept in unit state).
//!
//! Removing the relation starts `removeShard` (MongoDB drains the shard in the background).
//! FerretDB has no sharding: a shard on FerretDB is blocked (see the charm's status), and a
//! FerretDB config server blocks a `config-server` relation, saying why. The mongod path
//! follows MongoDB's documented sequence; it is not exercised here (no mongod in Debian).

use super::shared::{admin, engine_of, internal, internal_label, operator_password, primary, role, MongodbCharm};
use crate::charms::server_hooks::ServerCharm;
use crate::charms::{provider, server};
use crate::engine::context::{Bag, HookContext};
use crate::engines::mongo::router::RouterSpec;
use crate::engines::mongo::MongoAdmin;
use crate::engines::mongo::MongoEngine;
use crate::engines::mongo::{ClusterRole, MongoSpec};
use crate::secret::SecretString;
use anyhow::{anyhow, Context};
use std::sync::Arc;
use tether_core::life::Life;
use tether_core::status::WorkloadStatus;

pub(super) const CONFIG_SERVER: &str = "config-server";
pub(super) const SHARDING: &str = "sharding";
const STATE_ROUTER_PORT: &str = "admin-router-port";
const NOT_CONFIG_SERVER: &str = "Relation to shard not supported, config role must be config-server";
const REPLICAS_REFUSED: &str = "sharding interface cannot be used by replicas";
const CONFIG_SERVERS_REFUSED: &str = "sharding interface cannot be used by config-servers";
pub(super) const MISSING_CONFIG_SERVER: &str = "missing relation to config server";
const WAITING_SECRETS: &str = "Waiting for secrets from config-server";
/// The internal passwords a shard takes from its config server, by secret key.
const SHARED_PASSWORDS: [(&str, &str); 2] = [("operator", "operator-password"), ("backup", "backup-password")];

/// The unit's server: its replica set and place in a cluster, and the keyfile it shares
/// with the cluster (a shard's comes from its config server once shared).
pub(super) fn server_spec(ctx: &HookContext, port: u16, operator_password: SecretString) -> anyhow::Result<MongoSpec> {
    let engine = engine_of(ctx);
    let replset = (engine == MongoEngine::Mongod).then(|| ctx.app.clone());
    let mut spec = MongoSpec::for_unit(&ctx.unit_dir(), port, operator_password, engine, replset);
    spec.cluster_role = ClusterRole::from_config(&role(ctx));
    if engine == MongoEngine::Mongod {
        let own = internal(ctx)?.get("keyfile").cloned().map(SecretString::new);
        spec.keyfile = cluster_keyfile(ctx)?.or(own);
    }
    Ok(spec)
}

fn hosts_field(port: u16) -> String {
    serde_json::json!([format!("127.0.0.1:{port}")]).to_string()
}

fn admin_router_key(ctx: &HookContext) -> String {
    format!("{}/{}/admin-router", ctx.model_uuid, ctx.unit)
}

/// What the config server shared on a `sharding` relation, its secret resolved.
fn cluster_secrets(ctx: &HookContext, rel: i64) -> anyhow::Result<Option<Bag>> {
    let shared = ctx.remote_app_data(rel)?;
    let Some(uri) = shared.get("secret-extra") else { return Ok(None) };
    let content = ctx.secret_get(uri)?;
    Ok(SHARED_PASSWORDS.iter().all(|(_, k)| content.contains_key(*k)).then_some(content).filter(|c| c.contains_key("key-file")))
}

/// The cluster keyfile a shard runs with, once its config server shared it.
pub(super) fn cluster_keyfile(ctx: &HookContext) -> anyhow::Result<Option<SecretString>> {
    for rel in ctx.relation_ids(SHARDING)? {
        if let Some(shared) = cluster_secrets(ctx, rel)? {
            return Ok(shared.get("key-file").cloned().map(SecretString::new));
        }
    }
    Ok(None)
}

/// Whether a live `sharding` relation exists (a shard without one is blocked).
pub(super) fn has_config_server(ctx: &HookContext) -> anyhow::Result<bool> {
    Ok(ctx.relation_ids(SHARDING)?.into_iter().any(|r| ctx.relation(r).map(|x| x.life == Life::Alive).unwrap_or(false)))
}

impl MongodbCharm {
    /// Config-server side: share the cluster's secrets, and add the shard once it says
    /// it runs on them.
    pub(super) async fn serve_shard(&self, ctx: &mut HookContext, rel: i64) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        if role(ctx) != "config-server" {
            return self.block(ctx, rel, Some(NOT_CONFIG_SERVER));
        }
        let shard = ctx.remote_app(rel)?;
        if engine_of(ctx) == MongoEngine::FerretDb {
            return self.block(ctx, rel, Some(&format!("cannot add shard {shard}: FerretDB has no sharding")));
        }
        let Some((_, port, _)) = primary(ctx)? else { return Ok(()) };
        let passwords = internal(ctx)?;
        let mut content: Bag = SHARED_PASSWORDS.iter().filter_map(|(_, k)| Some((k.to_string(), passwords.get(*k)?.clone()))).collect();
        content.insert("key-file".into(), passwords.get("keyfile").cloned().ok_or_else(|| anyhow!("cluster keyfile missing"))?);
        let uri = provider::upsert_secret(ctx, rel, &format!("{CONFIG_SERVER}.{rel}.extra.secret"), content)?;
        let own = Bag::from([("secret-extra".to_string(), uri), ("host".to_string(), hosts_field(port))]);
        if ctx.relation_get(rel, &ctx.app.clone())? != own {
            ctx.relation_replace_app(rel, &own)?;
        }
        let reply = ctx.remote_app_data(rel)?;
        let hosts: Option<Vec<String>> = reply.get("host").and_then(|h| serde_json::from_str(h).ok());
        let (Some(replset), Some(hosts)) = (reply.get("replset"), hosts) else { return self.block(ctx, rel, None) };
        ctx.set_status(WorkloadStatus::Maintenance, &format!("Adding shard {shard} to config-server"))?;
        self.admin_router(ctx, port).await?.add_shard(&shard, replset, &hosts).await?;
        ctx.log("INFO", &format!("shard {shard} ({replset}) is part of the cluster"));
        self.block(ctx, rel, None)
    }

    /// Config-server side of relation-broken: drain the shard, forget its secret.
    pub(super) async fn shard_gone(&self, ctx: &mut HookContext, rel: i64) -> anyhow::Result<()> {
        if !ctx.leader || ctx.relation(rel)?.life == Life::Alive {
            return Ok(());
        }
        if role(ctx) == "config-server" && engine_of(ctx) == MongoEngine::Mongod {
            if let Some((_, port, _)) = primary(ctx)? {
                let shard = ctx.remote_app(rel)?;
                self.admin_router(ctx, port).await?.remove_shard(&shard).await?;
                ctx.log("INFO", &format!("shard {shard} is draining out of the cluster"));
            }
        }
        provider::forget_secrets(ctx, CONFIG_SERVER, rel)?;
        self.block(ctx, rel, None)
    }

    /// The config server's own `mongos`, for `addShard`/`removeShard`.
    async fn admin_router(&self, ctx: &mut HookContext, server_port: u16) -> anyhow::Result<Arc<MongoAdmin>> {
        let port = match ctx.state_get(STATE_ROUTER_PORT).and_then(|p| p.parse().ok()) {
            Some(p) => p,
            None => {
                let p = crate::workload::free_port().context("no free port on 127.0.0.1")?;
                ctx.state_set(STATE_ROUTER_PORT, &p.to_string());
                p
            }
        };
        let keyfile = internal(ctx)?.get("keyfile").cloned().ok_or_else(|| anyhow!("cluster keyfile missing"))?;
        let spec = RouterSpec {
            dir: ctx.unit_dir().join("admin-router"),
            port,
            config_db: format!("{}/127.0.0.1:{server_port}", ctx.app),
            keyfile: SecretString::new(keyfile),
            engine: MongoEngine::Mongod,
        };
        std::fs::create_dir_all(&spec.dir).with_context(|| format!("creating {}", spec.dir.display()))?;
        self.services.routers.ensure_running(&admin_router_key(ctx), spec).await?;
        Ok(self.services.mongo.get(port, &operator_password(ctx)?).await?)
    }

    /// Stops the config server's admin router (stop and remove hooks); idempotent.
    pub(super) async fn stop_admin_router(&self, ctx: &HookContext) {
        if let Err(e) = self.services.routers.stop(&admin_router_key(ctx)).await {
            ctx.log("WARNING", &format!("stopping the admin router: {e}"));
        }
    }

    /// Shard side: take the cluster's passwords and keyfile, then say which replica set to add.
    pub(super) async fn join_cluster(&self, ctx: &mut HookContext, rel: i64) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        match role(ctx).as_str() {
            "replication" => return self.block(ctx, rel, Some(REPLICAS_REFUSED)),
            "config-server" => return self.block(ctx, rel, Some(CONFIG_SERVERS_REFUSED)),
            _ => {}
        }
        if engine_of(ctx) == MongoEngine::FerretDb || !server::is_primary(ctx) || !server::server_running(ctx, &self.services.supervisor) {
            return self.settle_status(ctx);
        }
        let Some(shared) = cluster_secrets(ctx, rel)? else {
            return Ok(ctx.set_status(WorkloadStatus::Waiting, WAITING_SECRETS)?);
        };
        self.take_cluster_passwords(ctx, &shared).await?;
        let (_, port, _) = primary(ctx)?.ok_or_else(|| anyhow!("no unit runs the MongoDB server"))?;
        let keyfile_path = ctx.unit_dir().join("mongod.keyfile");
        let wanted = shared.get("key-file").cloned().unwrap_or_default();
        if std::fs::read_to_string(&keyfile_path).ok().as_deref() != Some(wanted.as_str()) {
            ctx.set_status(WorkloadStatus::Maintenance, "restarting on the cluster keyfile")?;
            self.services.supervisor.stop(&server::workload_key(ctx)).await;
        }
        // Restarts on the new keyfile, or only hands the supervisor the new password.
        let spec = server_spec(ctx, port, operator_password(ctx)?)?;
        self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?;
        let own = Bag::from([("replset".to_string(), ctx.app.clone()), ("host".to_string(), hosts_field(port))]);
        if ctx.relation_get(rel, &ctx.app.clone())? != own {
            ctx.relation_replace_app(rel, &own)?;
        }
        self.block(ctx, rel, None)
    }

    /// Sets the shard's `operator` and `backup` passwords to the cluster's.
    async fn take_cluster_passwords(&self, ctx: &mut HookContext, shared: &Bag) -> anyhow::Result<()> {
        let label = internal_label(&ctx.app);
        for (user, key) in SHARED_PASSWORDS {
            let new = SecretString::new(shared.get(key).cloned().unwrap_or_default());
            if internal(ctx)?.get(key).map(String::as_str) == Some(new.expose()) {
                continue;
            }
            let admin = admin(&self.services, ctx).await?;
            if user == "operator" {
                server::record_pending_admin_password(ctx, &label, key, &new)?;
            }
            admin.set_password(user, &new).await?;
            server::settle_admin_password(ctx, &label, key, &new)?;
            ctx.audit("rotated", &format!("{SHARDING}:cluster"), user, "internal password taken from the config server");
        }
        Ok(())
    }

    /// Shard side of relation-broken.
    pub(super) async fn left_cluster(&self, ctx: &mut HookContext, rel: i64) -> anyhow::Result<()> {
        self.block(ctx, rel, None)
    }
}
