//! `mongodb`: a MongoDB-wire server per application (real `mongod` where installed,
//! FerretDB otherwise) and two providers: `database` (mongodb_client) for replica-set
//! clients and `cluster` (config-server) for mongos routers (charm-protocol §5).
//!
//! The role (`replication`, `config-server`, `shard`) and the engine are fixed at deploy.
//! Shards join a config server's cluster through [`shards`].
//! What FerretDB cannot do (replica sets, sharding, role enforcement) is said in the
//! unit's status, never pretended.
//!
//! **High availability** (see [`ha`]): a `replication` application under FerretDB deployed
//! with more than one unit runs FerretDB on every unit over its own Patroni cluster; with
//! mongod (see [`replset`]), every unit runs a member of the application's replica set.
//!
//! **Adopt mode** (see `charms::adopt`): with `external-endpoint` and `admin-secret` (role
//! `replication` only) the charm starts no server and no router, and manages `database`
//! relation users on that server as an admin with `createUser`, `dropUser` and
//! `grantRole` (read from `connectionStatus`, checked before anything is created; under
//! FerretDB, which enforces no roles, a login is enough). The server's own users are never
//! touched: `get-password`/`set-password` refuse; `rotate-admin-password` gives the admin a
//! new password.

mod ha;
mod meta;
mod replset;
mod shards;
mod shared;

pub use meta::meta;
use meta::{CLUSTER, DATABASE};
use shards::server_spec;
pub use shared::MongodbCharm;
use shared::{adopted_engine_name, engine_of, internal, internal_label, managing_admin, operator_password, primary, role, STATE_ENGINE};

use super::adopt;
use super::provider::{self, Offer, Request, Serve};
use super::reconcile::{self, InternalUser, RotateError};
use super::rotation;
use super::server;
use super::server_hooks::ServerCharm;
use super::services::Services;
use crate::engine::context::HookContext;
use crate::engines::mongo::MongoEngine;
use crate::engines::mongo::MongoSpec;
use crate::engines::{DatabaseGrant, Ensured, Ownership, RelationUser, UserAdmin};
use crate::secret::{generate_password, SecretString};
use anyhow::anyhow;
use serde_json::Value;
use std::collections::BTreeMap;
use tether_core::charm_meta::CharmMeta;
use tether_core::life::Life;
use tether_core::mongo_plan::{relation_user, render_uri, roles_for, validate_database, SYSTEM_USERS};
use tether_core::status::WorkloadStatus;

const PASSWORD_LEN: usize = 32;
const KEYFILE_LEN: usize = 1024;
const ROLES: [&str; 3] = ["replication", "config-server", "shard"];
const SHARDING_REFUSED: &str = "Sharding roles do not support database interface.";
const SHARD_ON_FERRETDB: &str = "role shard needs mongod: FerretDB has no sharding";
const CLUSTER_REFUSED: &str = "Relation to mongos not supported, config role must be config-server";
const OPERATOR_PASSWORD_UNDER_PATRONI: &str =
    "set-password for operator is not available under FerretDB over Patroni: every unit's FerretDB logs in with it";
const ADOPTED_GET_PASSWORD: &str = "get-password is not available on an adopted server: tether has no internal users there";

/// A relation user that exists on the server, with the requests it answers.
struct Issued {
    requests: Vec<Request>,
    user: String,
    password: SecretString,
}

/// The `backup` and `monitor` users on the server `admin` manages.
async fn ensure_system_users(ctx: &HookContext, admin: &crate::engines::mongo::MongoAdmin) -> anyhow::Result<()> {
    let passwords = internal(ctx)?;
    for (user, key) in SYSTEM_USERS.iter().filter(|(u, _)| *u != "operator") {
        if let Some(p) = passwords.get(*key) {
            let roles = roles_for(if *user == "backup" { "backup" } else { "monitor" }, "admin").unwrap_or_default();
            admin.ensure_user(user, &SecretString::new(p.clone()), &roles).await?;
        }
    }
    Ok(())
}

impl MongodbCharm {
    /// Start under Patroni (see [`ha`]): the unit's cluster member and FerretDB; then the
    /// leader makes the system users (once: they live in the shared PostgreSQL) and
    /// serves every relation.
    async fn start_ha(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.set_status(WorkloadStatus::Maintenance, "starting etcd, Patroni and FerretDB")?;
        let (pw, port) = ha::start(ctx, &self.services).await?;
        let admin = self.services.mongo.get(port, &pw).await?;
        if ctx.leader {
            ensure_system_users(ctx, &admin).await?;
        }
        let version = admin.version().await.unwrap_or_default();
        ctx.state_set(server::STATE_VERSION, &format!("{} {version}", MongoEngine::FerretDb.name()));
        self.repair_drift(ctx).await?;
        self.settle_status(ctx)
    }

    /// Start of a mongod replica set member (see [`replset`]); the leader then adds the
    /// started members, makes the system users on the primary and serves every relation.
    async fn start_replset(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.set_status(WorkloadStatus::Maintenance, "starting mongod (replica set member)")?;
        let template = server_spec(ctx, 0, SecretString::new(String::new()))?;
        let (pw, _) = replset::start(ctx, &self.services, template).await?;
        if ctx.leader {
            replset::converge(ctx, &self.services, &pw).await?;
            if let Some(port) = replset::primary_port(ctx).await? {
                let admin = self.services.mongo.get(port, &pw).await?;
                ensure_system_users(ctx, &admin).await?;
                let version = admin.version().await.unwrap_or_default();
                ctx.state_set(server::STATE_VERSION, &format!("{} {version}", MongoEngine::Mongod.name()));
            }
        }
        replset::note_role(ctx).await;
        self.repair_drift(ctx).await?;
        self.settle_status(ctx)
    }

    /// Records (or clears) why relation `rel` is refused, then sets the status.
    fn block(&self, ctx: &mut HookContext, rel: i64, reason: Option<&str>) -> anyhow::Result<()> {
        server::set_blocked(ctx, rel, reason);
        self.settle_status(ctx)
    }

    /// The common part of serving `database` and `cluster` (leader only): check the
    /// application's role, read the requests, check the names and roles (blocking on bad ones), ensure the relation user with the roles of
    /// every request. `None` means nothing to publish (no request yet, or blocked).
    async fn ensure_relation_user(&self, ctx: &mut HookContext, rel: i64, endpoint: &str, mode: Serve) -> anyhow::Result<Option<Issued>> {
        if !ctx.leader {
            return Ok(None);
        }
        // `database` is for replica sets, `cluster` for config servers (§5.4, §5.7).
        let (needed, refusal) = if endpoint == CLUSTER { ("config-server", CLUSTER_REFUSED) } else { ("replication", SHARDING_REFUSED) };
        if role(ctx) != needed {
            self.block(ctx, rel, Some(refusal))?;
            return Ok(None);
        }
        let requests = Request::read_all(&ctx.remote_app_data(rel)?);
        if requests.is_empty() || (mode == Serve::IfChanged && provider::already_answered(ctx, rel, &requests)?) {
            return Ok(None);
        }
        for request in &requests {
            if let Err(e) = validate_database(&request.database) {
                ctx.log("WARNING", &format!("relation {rel}: {e}"));
                self.block(ctx, rel, Some("invalid database name requested"))?;
                return Ok(None);
            }
        }
        // A `database` relation's login rotates (the newest is served); a router's does not.
        let user = if endpoint == DATABASE { rotation::current_login(ctx, rel, &relation_user(rel))? } else { relation_user(rel) };
        let password = provider::issued_password(ctx, endpoint, rel, &user)?.unwrap_or_else(|| generate_password(PASSWORD_LEN));
        let Some(admin) = managing_admin(&self.services, ctx).await? else {
            self.settle_status(ctx)?;
            return Ok(None);
        };
        // Each request's extra roles on its own database: one user serves them all.
        let grants: Vec<DatabaseGrant> = requests
            .iter()
            .map(|r| DatabaseGrant { name: &r.database, ownership: Ownership::Shared, extra_user_roles: &r.extra_user_roles })
            .collect();
        let roles = provider::union_roles(&requests);
        let wanted = RelationUser { user: &user, password: &password, extra_user_roles: &roles, databases: &grants, acts_as: None };
        let Some(ensured) = reconcile::issue_relation_user(ctx, &*admin, endpoint, rel, &wanted).await? else {
            self.settle_status(ctx)?;
            return Ok(None);
        };
        if ensured == Ensured::Created && mode == Serve::Always && provider::already_answered(ctx, rel, &requests)? {
            reconcile::note_recreated(ctx, &user, rel);
        }
        Ok(Some(Issued { requests, user, password }))
    }

    async fn serve_database(&self, ctx: &mut HookContext, rel: i64, mode: Serve) -> anyhow::Result<()> {
        let Some(Issued { requests, user, password }) = self.ensure_relation_user(ctx, rel, DATABASE, mode).await? else { return Ok(()) };
        let mut read_only = None;
        let (hosts, replset) = match adopt::endpoint(ctx) {
            // An adopted server is given as the address it was adopted at (the primary of
            // `external-endpoint`'s list), connected to directly; its replicas are the
            // read-only endpoints.
            Some((host, port)) => {
                let replicas = adopt::replicas(ctx);
                read_only = (!replicas.is_empty()).then(|| replicas.join(","));
                (vec![format!("{host}:{port}")], None)
            }
            None if replset::is_replset(ctx) => {
                // No primary now: what was published stays (the watcher looks again).
                let Some(hosts) = replset::member_hosts(ctx, &self.services, &operator_password(ctx)?).await? else { return Ok(()) };
                (hosts, Some(ctx.app.clone()))
            }
            None if ha::is_ha(ctx) => {
                // The primary's FerretDB not serving yet: what was published stays.
                let Some(e) = ha::endpoints(ctx, &self.services).await? else {
                    ha::look_again_soon(ctx, &self.services);
                    return Ok(());
                };
                if !e.left_out.is_empty() {
                    // A healthy replica's FerretDB is not named yet (it starts, or its
                    // start hook has not committed): nothing else would wake the leader
                    // once it does, the Patroni view having not changed.
                    ha::look_again_soon(ctx, &self.services);
                }
                ha::note_left_out(ctx, &e.left_out);
                read_only = Some(e.read_only.iter().map(|(_, p)| format!("127.0.0.1:{p}")).collect::<Vec<_>>().join(","));
                (vec![format!("127.0.0.1:{}", e.primary.1)], None)
            }
            None => {
                let (_, port, engine) = primary(ctx)?.ok_or_else(|| anyhow!("no unit runs the MongoDB server"))?;
                (vec![format!("127.0.0.1:{port}")], (engine == MongoEngine::Mongod).then(|| ctx.app.clone()))
            }
        };
        let answers = requests
            .into_iter()
            .map(|request| {
                let mut offer = Offer::default();
                offer.plain.insert("database".into(), request.database.clone());
                offer.plain.insert("endpoints".into(), hosts.join(","));
                if let Some(ro) = &read_only {
                    offer.plain.insert("read-only-endpoints".into(), ro.clone());
                }
                if let Some(r) = &replset {
                    offer.plain.insert("replset".into(), r.clone());
                }
                let uri = render_uri(&user, password.expose(), &hosts, &request.database, replset.as_deref());
                offer.user.insert("uris".into(), uri);
                offer.user.insert("username".into(), user.clone());
                offer.user.insert("password".into(), password.expose().to_string());
                (request, offer)
            })
            .collect();
        provider::publish(ctx, rel, DATABASE, answers)?;
        self.block(ctx, rel, None)
    }

    async fn serve_cluster(&self, ctx: &mut HookContext, rel: i64, mode: Serve) -> anyhow::Result<()> {
        let Some(Issued { requests, user, password }) = self.ensure_relation_user(ctx, rel, CLUSTER, mode).await? else { return Ok(()) };
        // A mongos asks for one database; a second request would get nothing more.
        let Some(request) = requests.into_iter().next() else { return Ok(()) };
        let (_, port, engine) = primary(ctx)?.ok_or_else(|| anyhow!("no unit runs the MongoDB server"))?;
        let mut offer = Offer::default();
        offer.plain.insert("database".into(), request.database.clone());
        // Which router mongos must run: a `mongos` process, or the FerretDB forwarder.
        offer.plain.insert("engine".into(), engine.name().into());
        offer.plain.insert("config-server-db".into(), format!("{}/127.0.0.1:{port}", ctx.app));
        offer.user.insert("username".into(), user);
        offer.user.insert("password".into(), password.expose().to_string());
        offer.extra.insert("key-file".into(), internal(ctx)?.get("keyfile").cloned().unwrap_or_default());
        provider::publish(ctx, rel, CLUSTER, vec![(request, offer)])?;
        self.block(ctx, rel, None)
    }

    async fn broken(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        if !ctx.leader || ctx.relation(rel)?.life == Life::Alive {
            return Ok(());
        }
        if (endpoint == DATABASE && role(ctx) != "replication") || (endpoint == CLUSTER && role(ctx) != "config-server") {
            return self.block(ctx, rel, None);
        }
        let request = ctx.remote_app_data(rel).unwrap_or_default();
        // Unreachable now: the orphan sweep of the next update-status drops the users.
        let Some(admin) = managing_admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        let logins = if endpoint == DATABASE { rotation::forget(ctx, rel, &relation_user(rel))? } else { vec![relation_user(rel)] };
        reconcile::revoke_relation_logins(ctx, &*admin, endpoint, rel, &logins).await?;
        if ctx.config.get("auto-delete") == Some(&Value::Bool(true)) {
            let mut wanted_elsewhere = Vec::new();
            for other in ctx.relation_ids(DATABASE)?.into_iter().filter(|r| *r != rel) {
                wanted_elsewhere.extend(Request::read_all(&ctx.remote_app_data(other).unwrap_or_default()).into_iter().map(|q| q.database));
            }
            for db in Request::read_all(&request).into_iter().map(|r| r.database) {
                if !wanted_elsewhere.contains(&db) && !tether_core::mongo_plan::is_system_database(&db) {
                    admin.drop_database(&db).await?;
                }
            }
        }
        self.block(ctx, rel, None)
    }

    async fn get_password(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_some() {
            ctx.action_fail(ADOPTED_GET_PASSWORD);
            return Ok(());
        }
        let username = ctx.action_param_str("username").unwrap_or_else(|| "operator".into());
        let Some((_, key)) = SYSTEM_USERS.iter().find(|(u, _)| *u == username) else {
            ctx.action_fail(&format!("The action can be run only for users used by the charm: operator, backup, monitor not {username}"));
            return Ok(());
        };
        let pw = internal(ctx)?.get(*key).cloned().unwrap_or_default();
        ctx.action_set("password", pw.into());
        Ok(())
    }

    async fn set_password(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_some() {
            ctx.action_fail(adopt::SET_PASSWORD_REFUSED);
            return Ok(());
        }
        if role(ctx) == "shard" {
            ctx.action_fail("Cannot set password on shard, please set password on config-server.");
            return Ok(());
        }
        if !ctx.leader {
            ctx.action_fail("The action can be run only on leader unit.");
            return Ok(());
        }
        let username = ctx.action_param_str("username").unwrap_or_else(|| "operator".into());
        let Some((_, key)) = SYSTEM_USERS.iter().find(|(u, _)| *u == username) else {
            ctx.action_fail(&format!("The action can be run only for users used by the charm: operator, backup, monitor not {username}"));
            return Ok(());
        };
        let new = ctx.action_param_str("password").map(SecretString::new).unwrap_or_else(|| generate_password(PASSWORD_LEN));
        if new.expose().len() > 4096 {
            ctx.action_fail("Password cannot be longer than 4096 characters.");
            return Ok(());
        }
        if new.is_empty() {
            ctx.action_fail("Failed changing the password: the password is empty");
            return Ok(());
        }
        if username == "operator" && ha::is_ha(ctx) {
            ctx.action_fail(OPERATOR_PASSWORD_UNDER_PATRONI);
            return Ok(());
        }
        if username == "operator" && replset::is_replset(ctx) {
            ctx.action_fail(replset::REFUSED_OPERATOR_PASSWORD);
            return Ok(());
        }
        let label = internal_label(&ctx.app);
        if internal(ctx)?.get(*key).map(String::as_str) != Some(new.expose()) {
            let Some(admin) = managing_admin(&self.services, ctx).await? else { return Ok(()) };
            let who = InternalUser { user: &username, label: &label, key, is_admin_login: username == "operator" };
            let supervise = async |ctx: &mut HookContext| {
                let (_, port, _) = primary(ctx)?.ok_or_else(|| anyhow!("no unit runs the MongoDB server"))?;
                let spec = server_spec(ctx, port, new.clone())?;
                Ok(self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?)
            };
            match reconcile::rotate_internal_password(ctx, &*admin, &who, &new, supervise).await {
                Ok(()) => {}
                Err(RotateError::Server(e)) => {
                    ctx.action_fail(&format!("Failed changing the password: {e}"));
                    return Ok(());
                }
                Err(RotateError::Context(e)) => return Err(e),
            }
        }
        ctx.action_set("password", new.expose().into());
        ctx.action_set("secret-id", label.into());
        Ok(())
    }
}

#[async_trait::async_trait]
impl ServerCharm for MongodbCharm {
    fn charm_meta(&self) -> CharmMeta {
        meta()
    }

    fn services(&self) -> &Services {
        &self.services
    }

    fn check_config(&self, config: &BTreeMap<String, Value>) -> Result<(), String> {
        rotation::check_config(config)?;
        adopt::check_config(config)?;
        let adopting = config.get(adopt::EXTERNAL_ENDPOINT).and_then(Value::as_str).is_some_and(|e| !e.is_empty());
        if adopting && config.get("role").and_then(Value::as_str).is_some_and(|r| r != "replication") {
            return Err(format!("{} is for role replication only (tether shards no adopted server)", adopt::EXTERNAL_ENDPOINT));
        }
        if let Some(Value::String(r)) = config.get("role") {
            if !ROLES.contains(&r.as_str()) {
                return Err(format!(
                    "unknown role {:?}: expected replication, config-server or shard",
                    r.chars().take(64).collect::<String>()
                ));
            }
        }
        if let Some(Value::String(e)) = config.get("engine") {
            if !["auto", "mongod", "ferretdb"].contains(&e.as_str()) {
                return Err(format!("unknown engine {:?}: expected auto, mongod or ferretdb", e.chars().take(64).collect::<String>()));
            }
        }
        Ok(())
    }

    fn check_config_change(&self, old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Result<(), String> {
        let role = |c: &BTreeMap<String, Value>| c.get("role").and_then(Value::as_str).unwrap_or("replication").to_string();
        if role(old) != role(new) {
            return Err(format!("Migration of sharding components not permitted, revert config role to {}", role(old)));
        }
        let engine = |c: &BTreeMap<String, Value>| c.get("engine").and_then(Value::as_str).unwrap_or("auto").to_string();
        if engine(old) != engine(new) {
            return Err(format!("the engine is fixed at deploy, revert config engine to {}", engine(old)));
        }
        adopt::check_config_change(old, new)
    }

    fn install(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_some() {
            server::claim_role(ctx);
            ctx.set_status(WorkloadStatus::Maintenance, "adopting an existing MongoDB server")?;
            return Ok(());
        }
        ctx.set_status(WorkloadStatus::Maintenance, "installing MongoDB")?;
        server::claim_port_and_role(ctx)?;
        if ctx.state_get(STATE_ENGINE).is_none() {
            match MongoEngine::detect(ctx.config_str("engine").as_deref()) {
                Ok(e) => ctx.state_set(STATE_ENGINE, e.name()),
                Err(e) => {
                    ctx.set_status(WorkloadStatus::Blocked, &e.to_string())?;
                    ctx.state_set(STATE_ENGINE, "none");
                }
            }
        }
        // One mode per application: FerretDB over Patroni, or mongod's own replica set.
        let replication = role(ctx) == "replication";
        match ctx.state_get(STATE_ENGINE).as_deref() {
            Some("mongod") => replset::decide_mode(ctx, replication),
            engine => ha::decide_mode(ctx, engine == Some("ferretdb") && replication),
        }
    }

    fn leader_elected(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let mut keys: Vec<(&str, usize)> = SYSTEM_USERS.iter().map(|(_, k)| (*k, PASSWORD_LEN)).collect();
        keys.push(("keyfile", KEYFILE_LEN));
        if ha::is_ha(ctx) {
            keys.extend(ha::password_keys().map(|k| (k, PASSWORD_LEN)));
        }
        server::ensure_internal_secret(ctx, &internal_label(&ctx.app), &keys)
    }

    async fn start(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_none() && ha::await_mode(ctx).await? {
            return self.start_ha(ctx).await;
        }
        if adopt::endpoint(ctx).is_none() && replset::is_replset(ctx) {
            return self.start_replset(ctx).await;
        }
        if !server::is_primary(ctx) {
            return server::standby_status(ctx, "a replica set");
        }
        if adopt::endpoint(ctx).is_some() {
            // No server of our own: log in, check the admin, record the version.
            if let Some(admin) = managing_admin(&self.services, ctx).await? {
                ctx.state_set(server::STATE_VERSION, &admin.version().await?);
                self.repair_drift(ctx).await?;
            }
            return self.settle_status(ctx);
        }
        if ctx.state_get(STATE_ENGINE).as_deref() == Some("none") {
            return Ok(());
        }
        let engine = engine_of(ctx);
        if role(ctx) == "shard" && engine == MongoEngine::FerretDb {
            ctx.set_status(WorkloadStatus::Blocked, SHARD_ON_FERRETDB)?;
            return Ok(());
        }
        ctx.set_status(WorkloadStatus::Maintenance, &format!("starting {}", engine.name()))?;
        let label = internal_label(&ctx.app);
        // The spec's parts that do not depend on port and password, read before starting.
        let template = server_spec(ctx, 0, SecretString::new(String::new()))?;
        let spec = |port, operator_password| MongoSpec { port, operator_password, ..template.clone() };
        let (pw, port, moved) = server::start_workload(ctx, &self.services.supervisor, &label, "operator-password", spec).await?;
        let admin = self.services.mongo.get(port, &pw).await?;
        ensure_system_users(ctx, &admin).await?;
        let version = admin.version().await.unwrap_or_default();
        ctx.state_set(server::STATE_VERSION, &format!("{} {version}", engine.name()));
        if moved {
            // New endpoints for every relation (re-serving publishes them).
            self.repair_drift(ctx).await?;
        }
        self.settle_status(ctx)
    }

    fn settle_status(&self, ctx: &HookContext) -> anyhow::Result<()> {
        if replset::is_replset(ctx) {
            let status = match (server::workload_problem(ctx, &self.services.supervisor, "mongod"), server::first_blocked(ctx)) {
                (Some(problem), _) => problem,
                (None, Some(reason)) => (WorkloadStatus::Blocked, reason),
                (None, None) => match replset::role_message(ctx) {
                    Some(message) => (WorkloadStatus::Active, message.to_string()),
                    None => (WorkloadStatus::Waiting, "waiting for the primary to add this member".to_string()),
                },
            };
            return Ok(ctx.set_status(status.0, &status.1)?);
        }
        if ha::is_ha(ctx) {
            let status = match (server::workload_problem(ctx, &self.services.supervisor, "FerretDB"), server::first_blocked(ctx)) {
                (Some(problem), _) => problem,
                (None, Some(reason)) => (WorkloadStatus::Blocked, reason),
                (None, None) => (WorkloadStatus::Active, ha::role_message(ctx).to_string()),
            };
            return Ok(ctx.set_status(status.0, &status.1)?);
        }
        if !server::is_primary(ctx) || ctx.state_get(STATE_ENGINE).as_deref() == Some("none") {
            return Ok(());
        }
        if let Some((host, port)) = adopt::endpoint(ctx) {
            let status = match (adopt::problem(ctx), server::first_blocked(ctx)) {
                (Some(problem), _) => problem,
                (None, Some(reason)) => (WorkloadStatus::Blocked, reason),
                (None, None) => (WorkloadStatus::Active, adopt::active_message(ctx, &host, port, adopted_engine_name(ctx))),
            };
            return Ok(ctx.set_status(status.0, &status.1)?);
        }
        let engine = engine_of(ctx);
        let role = role(ctx);
        if role == "shard" && engine == MongoEngine::FerretDb {
            return Ok(ctx.set_status(WorkloadStatus::Blocked, SHARD_ON_FERRETDB)?);
        }
        if let Some((status, message)) = server::workload_problem(ctx, &self.services.supervisor, engine.name()) {
            return Ok(ctx.set_status(status, &message)?);
        }
        if let Some(reason) = server::first_blocked(ctx) {
            return Ok(ctx.set_status(WorkloadStatus::Blocked, &reason)?);
        }
        if role == "shard" && !shards::has_config_server(ctx)? {
            return Ok(ctx.set_status(WorkloadStatus::Blocked, shards::MISSING_CONFIG_SERVER)?);
        }
        let note = match (engine, role.as_str()) {
            (MongoEngine::FerretDb, "config-server") => "config-server on ferretdb: no shards; mongos routers forward to it",
            (MongoEngine::FerretDb, _) => "ferretdb: no replica set, roles not enforced",
            (MongoEngine::Mongod, _) => "",
        };
        ctx.set_status(WorkloadStatus::Active, note)?;
        Ok(())
    }

    /// Drift repair on update-status (see postgresql-k8s): `relation-<n>` users no live
    /// relation owns are dropped, live ones re-ensured.
    async fn repair_drift(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let patroni = ha::is_ha(ctx);
        if patroni && ha::follow(ctx, &self.services).await?.is_none() {
            // Patroni elects a primary; the watcher asks again once it has.
            return Ok(());
        }
        let members = replset::is_replset(ctx);
        if members {
            replset::watch(ctx, &self.services);
            replset::note_role(ctx).await;
            if !ctx.leader || replset::primary_port(ctx).await?.is_none() {
                // mongod elects a primary; the watcher asks again once it has.
                return Ok(());
            }
            replset::converge(ctx, &self.services, &operator_password(ctx)?).await?;
        }
        let running = adopt::endpoint(ctx).is_some() || server::server_running(ctx, &self.services.supervisor);
        if !ctx.leader || !(patroni || members || (server::is_primary(ctx) && running)) {
            return Ok(());
        }
        let Some(admin) = managing_admin(&self.services, ctx).await? else { return Ok(()) };
        let database = ctx.relation_ids(DATABASE)?;
        let cluster = ctx.relation_ids(CLUSTER)?;
        let mut expected = rotation::expected_logins(self, ctx)?;
        expected.extend(cluster.iter().map(|r| relation_user(*r)));
        reconcile::drop_orphaned_users(ctx, &*admin, &expected).await?;
        for rel in database {
            self.serve_database(ctx, rel, Serve::Always).await?;
        }
        for rel in cluster {
            self.serve_cluster(ctx, rel, Serve::Always).await?;
        }
        Ok(())
    }

    async fn rotation_tick(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        rotation::tick(self, ctx, &self.services).await
    }

    async fn serve_endpoint(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE => self.serve_database(ctx, rel, Serve::IfChanged).await,
            CLUSTER => self.serve_cluster(ctx, rel, Serve::IfChanged).await,
            shards::CONFIG_SERVER => self.serve_shard(ctx, rel).await,
            shards::SHARDING => self.join_cluster(ctx, rel).await,
            _ => Ok(()),
        }
    }

    async fn endpoint_broken(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE | CLUSTER => self.broken(ctx, rel, endpoint).await,
            shards::CONFIG_SERVER => self.shard_gone(ctx, rel).await,
            shards::SHARDING => self.left_cluster(ctx, rel).await,
            _ => Ok(()),
        }
    }

    async fn run_action(&self, ctx: &mut HookContext, action: &str) -> anyhow::Result<()> {
        match action {
            "get-password" => self.get_password(ctx).await,
            "set-password" => self.set_password(ctx).await,
            "get-primary" => {
                let p = if ha::is_ha(ctx) {
                    super::patroni::cluster(ctx).await?.primary.map(|(u, _)| u).unwrap_or_default()
                } else if replset::is_replset(ctx) {
                    replset::primary_unit(ctx).await?.unwrap_or_default()
                } else {
                    primary(ctx)?.map(|(u, _, _)| u).unwrap_or_default()
                };
                ctx.action_set("replica-set-primary", p.into());
                Ok(())
            }
            "promote-to-primary" if !ha::is_ha(ctx) => {
                ctx.action_fail("promote-to-primary needs FerretDB over Patroni (mongodb deployed with more than one unit)");
                Ok(())
            }
            "promote-to-primary" => {
                match super::patroni::promote_self(&ha::LAYOUT, ctx).await {
                    Ok(()) => ctx.action_log(&format!("{} is the primary", ctx.unit)),
                    Err(e) => ctx.action_fail(&format!("switchover failed: {e}")),
                }
                Ok(())
            }
            adopt::ROTATE_ADMIN_PASSWORD => {
                adopt::rotate_action(ctx, async |ctx| managing_admin(&self.services, ctx).await, generate_password(PASSWORD_LEN)).await
            }
            rotation::ACTION => rotation::run_action(self, ctx, &self.services).await,
            other => Err(anyhow!("action {other:?} not implemented")),
        }
    }

    async fn stop(&self, ctx: &mut HookContext) {
        self.stop_admin_router(ctx).await;
        if ha::is_ha(ctx) {
            ha::stop(ctx, &self.services).await;
        } else if replset::is_replset(ctx) {
            match operator_password(ctx) {
                Ok(operator) => replset::leave(ctx, &self.services, &operator).await,
                Err(e) => {
                    ctx.log("WARNING", &format!("the member of {} was not removed from the replica set: {e}", ctx.unit));
                    server::stop(ctx, &self.services.supervisor).await;
                }
            }
        } else {
            server::stop(ctx, &self.services.supervisor).await;
        }
    }

    async fn after_remove(&self, ctx: &mut HookContext, port: Option<u16>) {
        self.stop_admin_router(ctx).await;
        if let Some((host, port)) = adopt::endpoint(ctx) {
            // The adopted server is not ours: it keeps running, only our sessions go.
            self.services.mongo.forget_key(&format!("{host}:{port}")).await;
        } else if let Some(port) = port {
            self.services.mongo.forget(port).await;
        }
    }
}

/// Rotation covers the `database` endpoint; a router's `cluster` login is not rotated.
#[async_trait::async_trait]
impl rotation::RotatingCharm for MongodbCharm {
    fn login_endpoints(&self) -> &'static [&'static str] {
        &[DATABASE]
    }

    fn first_user(&self, _ctx: &HookContext, rel: i64) -> String {
        relation_user(rel)
    }

    fn rotated_user(&self, first: &str, generation: u32) -> String {
        tether_core::mongo_plan::rotated_user(first, generation)
    }

    async fn republish(&self, ctx: &mut HookContext, rel: i64, _endpoint: &str) -> anyhow::Result<()> {
        self.serve_database(ctx, rel, Serve::Always).await
    }

    async fn retire(&self, ctx: &mut HookContext, login: &str, owner: &str) -> anyhow::Result<bool> {
        let Some(admin) = managing_admin(&self.services, ctx).await? else { return Ok(false) };
        UserAdmin::retire_login(&*admin, login, owner).await?;
        Ok(true)
    }
}
