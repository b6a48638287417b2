//! `mongos`: the subordinate router of a sharded MongoDB cluster (charm-protocol §6).
//!
//! Placed beside each unit of its host (data-integrator) through the container-scoped
//! `mongos_proxy` endpoint; asks the config server for a user over `cluster`; runs a
//! router (a real `mongos` where installed, a forwarder to the config server under
//! FerretDB, see `workload::mongos_router`); and hands the host `username`, `password`,
//! `database` and `uris` that point at the router.

use super::services::Services;
use crate::engine::charm::Charm;
use crate::engine::context::{Bag, HookContext};
use crate::engines::mongo::router::RouterSpec;
use crate::engines::mongo::MongoEngine;
use crate::secret::SecretString;
use anyhow::{anyhow, Context};
use std::sync::Arc;
use tether_core::charm_meta::{CharmMeta, Endpoint, Role};
use tether_core::events::{Event, HookKind};
use tether_core::life::Life;
use tether_core::mongo_plan::render_uri;
use tether_core::status::WorkloadStatus;

pub struct MongosCharm {
    services: Arc<Services>,
}

impl MongosCharm {
    pub fn new(services: Arc<Services>) -> MongosCharm {
        MongosCharm { services }
    }
}

const PROXY: &str = "mongos_proxy";
const CLUSTER: &str = "cluster";
const DEFAULT_DATABASE: &str = "mongos-database";
const STATE_PORT: &str = "port";
const MISSING_CLUSTER: &str = "Missing relation to config-server.";
/// What mongos asks the config server to send as secrets.
const REQUESTED_SECRETS: [&str; 6] = ["username", "password", "tls", "tls-ca", "key-file", "int-ca-secret"];

pub fn meta() -> CharmMeta {
    let ep = Endpoint::new;
    CharmMeta {
        resources: vec![],
        storage: vec![],
        action_schemas: Default::default(),
        name: "mongos".into(),
        summary: "Router to a sharded MongoDB cluster, placed beside its host application.".into(),
        subordinate: true,
        endpoints: vec![
            ep("router-peers", Role::Peer, "mongos-peers"),
            ep("upgrade-version-a", Role::Peer, "upgrade"),
            ep("certificates", Role::Requirer, "tls-certificates").limit(1),
            ep(PROXY, Role::Requirer, "mongos_client").limit(1).container(),
            ep(CLUSTER, Role::Requirer, "config-server").limit(1),
        ],
        config: vec![],
        actions: vec![],
    }
}

fn router_key(ctx: &HookContext) -> String {
    format!("{}/{}", ctx.model_uuid, ctx.unit)
}

/// The host's request on `mongos_proxy`: database and roles (with the charm's defaults).
fn host_request(ctx: &HookContext) -> anyhow::Result<Option<(i64, String, String)>> {
    let Some(rel) = ctx.relation_ids(PROXY)?.into_iter().next() else { return Ok(None) };
    let host = ctx.remote_app_data(rel)?;
    let database = host.get("database").cloned().unwrap_or_else(|| DEFAULT_DATABASE.into());
    let roles = host.get("extra-user-roles").cloned().unwrap_or_else(|| "default".into());
    Ok(Some((rel, database, roles)))
}

/// Credentials and config-server address from the config server's bag, secrets resolved.
fn cluster_data(ctx: &HookContext, rel: i64) -> anyhow::Result<Bag> {
    let mut out = Bag::new();
    for (k, v) in ctx.remote_app_data(rel)? {
        if k.starts_with("secret-") {
            out.extend(ctx.secret_get(&v)?);
        } else {
            out.insert(k, v);
        }
    }
    Ok(out)
}

impl MongosCharm {
    /// The leader forwards the host's request into the cluster relation.
    fn send_request(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        let (database, roles) = match host_request(ctx)? {
            Some((_, d, r)) => (d, r),
            None => (DEFAULT_DATABASE.to_string(), "default".to_string()),
        };
        for rel in ctx.relation_ids(CLUSTER)? {
            let want = Bag::from([
                ("database".to_string(), database.clone()),
                ("extra-user-roles".to_string(), roles.clone()),
                ("requested-secrets".to_string(), serde_json::to_string(&REQUESTED_SECRETS).unwrap_or_default()),
            ]);
            let own = ctx.relation_get(rel, &ctx.app.clone())?;
            if want.iter().any(|(k, v)| own.get(k) != Some(v)) {
                ctx.relation_set_app(rel, &want)?;
            }
        }
        Ok(())
    }

    /// Starts the router once the config server has answered, then shares credentials.
    async fn converge(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let Some(cluster) =
            ctx.relation_ids(CLUSTER)?.into_iter().find(|r| ctx.relation(*r).map(|x| x.life == Life::Alive).unwrap_or(false))
        else {
            ctx.set_status(WorkloadStatus::Blocked, MISSING_CLUSTER)?;
            return Ok(());
        };
        let data = cluster_data(ctx, cluster)?;
        let (Some(keyfile), Some(config_db)) = (data.get("key-file"), data.get("config-server-db")) else {
            ctx.set_status(WorkloadStatus::Waiting, "Waiting for secrets from config-server")?;
            return Ok(());
        };
        let port: u16 = ctx.state_get(STATE_PORT).and_then(|p| p.parse().ok()).ok_or_else(|| anyhow!("unit has no port"))?;
        // The router follows the config server's engine (a FerretDB config server needs the
        // forwarder even where mongos is installed); an older config server does not say.
        let engine = match data.get("engine").map(String::as_str) {
            Some("mongod") => MongoEngine::Mongod,
            Some(_) => MongoEngine::FerretDb,
            None => MongoEngine::detect(None).unwrap_or(MongoEngine::FerretDb),
        };
        let spec = RouterSpec {
            dir: self.services.home.unit_dir(&ctx.model_uuid, &ctx.unit),
            port,
            config_db: config_db.clone(),
            keyfile: SecretString::new(keyfile.clone()),
            engine,
        };
        if !self.services.routers.is_running(&router_key(ctx)).await {
            ctx.set_status(WorkloadStatus::Maintenance, "starting mongos")?;
        }
        self.services.routers.ensure_running(&router_key(ctx), spec).await?;
        self.share(ctx, &data)?;
        let how = if engine == MongoEngine::FerretDb { "router forwarding to the config server (ferretdb)" } else { "" };
        ctx.set_status(WorkloadStatus::Active, how)?;
        Ok(())
    }

    /// The leader gives the host the cluster user and a URI through the routers.
    fn share(&self, ctx: &mut HookContext, data: &Bag) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        let Some((proxy, _, _)) = host_request(ctx)? else { return Ok(()) };
        let (Some(user), Some(password), Some(database)) = (data.get("username"), data.get("password"), data.get("database")) else {
            return Ok(());
        };
        let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
        let hosts: Vec<String> = units.iter().filter_map(|u| u.state.get(STATE_PORT).map(|p| format!("127.0.0.1:{p}"))).collect();
        let uris = render_uri(user, password, &hosts, database, None);
        let request = ctx.remote_app_data(proxy)?;
        let requested: Vec<String> = request.get("requested-secrets").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        let user_fields =
            Bag::from([("username".to_string(), user.clone()), ("password".to_string(), password.clone()), ("uris".to_string(), uris)]);
        let (secret, mut bag): (Bag, Bag) = user_fields.into_iter().partition(|(k, _)| requested.iter().any(|r| r == k));
        if !secret.is_empty() {
            let label = format!("{PROXY}.{proxy}.user.secret");
            let uri = match ctx.secret_id_by_label(&label)? {
                Some(id) => {
                    let uri = format!("secret:{id}");
                    if ctx.secret_get(&uri)? != secret {
                        ctx.secret_set(&uri, secret)?;
                    }
                    uri
                }
                None => ctx.secret_add_app(Some(&label), secret)?,
            };
            ctx.secret_grant(&uri, proxy)?;
            bag.insert("secret-user".into(), uri);
        }
        bag.insert("database".into(), database.clone());
        bag.insert("subordinated".into(), "true".into());
        bag.insert("data".into(), serde_json::to_string(&request).unwrap_or_default());
        ctx.relation_replace_app(proxy, &bag)?;
        ctx.relation_set_unit(proxy, &Bag::from([("state".to_string(), "ready".to_string())]))?;
        Ok(())
    }

    /// The cluster relation went: stop the router and take the host's credentials away.
    async fn cluster_gone(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        self.services.routers.stop(&router_key(ctx)).await?;
        if ctx.leader {
            if let Some((proxy, _, _)) = host_request(ctx)? {
                if let Some(id) = ctx.secret_id_by_label(&format!("{PROXY}.{proxy}.user.secret"))? {
                    ctx.secret_remove(&id);
                }
                let keep = Bag::from([("subordinated".to_string(), "true".to_string())]);
                ctx.relation_replace_app(proxy, &keep)?;
            }
        }
        ctx.set_status(WorkloadStatus::Blocked, MISSING_CLUSTER)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Charm for MongosCharm {
    fn meta(&self) -> CharmMeta {
        meta()
    }

    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()> {
        let endpoint = event.relation.as_ref().map(|(_, ep)| ep.as_str());
        match (event.kind, endpoint) {
            (HookKind::Install, _) => {
                ctx.set_status(WorkloadStatus::Maintenance, "installing mongos")?;
                if ctx.state_get(STATE_PORT).is_none() {
                    let port = crate::workload::free_port().context("no free port on 127.0.0.1")?;
                    ctx.state_set(STATE_PORT, &port.to_string());
                }
                Ok(())
            }
            (HookKind::RelationCreated, Some(CLUSTER)) => {
                self.send_request(ctx)?;
                ctx.set_status(WorkloadStatus::Waiting, "Connecting to config-server")?;
                Ok(())
            }
            (HookKind::RelationBroken, Some(CLUSTER)) => {
                if ctx.relation(event.relation.as_ref().map(|(id, _)| *id).unwrap_or_default())?.life == Life::Alive {
                    return Ok(());
                }
                self.cluster_gone(ctx).await
            }
            (HookKind::RelationChanged | HookKind::RelationJoined, Some(PROXY)) | (HookKind::RelationCreated, Some(PROXY)) => {
                self.send_request(ctx)?;
                self.converge(ctx).await
            }
            (HookKind::Stop | HookKind::Remove, _) => {
                self.services.routers.stop(&router_key(ctx)).await?;
                Ok(())
            }
            (HookKind::Action, _) => Err(anyhow!("mongos has no actions")),
            (HookKind::RelationBroken, _) => Ok(()),
            _ => self.converge(ctx).await,
        }
    }
}
