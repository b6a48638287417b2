//! `mysql-k8s`: a real MariaDB (or MySQL) server per application and its providers:
//! `database` (mysql_client) with a confined user per relation, and the legacy `mysql`
//! and `mysql-root` endpoints that share one user per endpoint (charm-protocol §4).
//!
//! **Adopt mode** (see `charms::adopt`): with `external-endpoint` and `admin-secret` the
//! charm starts no server and manages `database` relation users on that server as an
//! admin with `CREATE USER`, `GRANT OPTION` and `CREATE` (read from `SHOW GRANTS`,
//! checked before anything is created). The server's own users are never touched:
//! `get-password`/`set-password` refuse, the legacy `mysql` endpoint's shared user is made
//! as a relation user is there (no `root_password` published), `mysql-root` (which hands
//! out the server's root password) is blocked; `rotate-admin-password` gives the admin a
//! new password (see `charms::adopt`).
//!
//! **High availability** (see `charms::mysql_ha`): deployed with more than one unit,
//! every unit runs a MariaDB and they form a Galera cluster; requirers are sent the
//! synced member that takes writes (`endpoints`) and the other synced members
//! (`read-only-endpoints`).

use super::adopt;
use super::galera_passwords;
use super::galera_restart;
use super::my_logs;
use super::my_settings;
use super::mysql_ha as ha;
use super::provider::{self, Offer, Request, Serve};
use super::reconcile::{self, InternalUser};
use super::rotation;
use super::server;
use super::server_hooks::ServerCharm;
use super::services::Services;
use super::settings_state;
use crate::engine::context::{Bag, HookContext};
use crate::engines::mysql::MyAdmin;
use crate::engines::mysql::{MariaDbSpec, ADOPTED_ROOT, DATA_DIR, ERROR_LOG};
use crate::engines::{DatabaseGrant, Ownership, RelationUser, UserAdmin};
use crate::secret::{generate_password, SecretString};
use anyhow::anyhow;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tether_core::charm_meta::{ActionParam, ActionSpec, CharmMeta, ConfigOption, Endpoint, OptionType, Role};
use tether_core::life::Life;
use tether_core::my_plan::{legacy_database, legacy_user, relation_user, SYSTEM_USERS};
use tether_core::names::validate_database;
use tether_core::status::WorkloadStatus;

pub struct MysqlCharm {
    services: Arc<Services>,
}

impl MysqlCharm {
    pub fn new(services: Arc<Services>) -> MysqlCharm {
        MysqlCharm { services }
    }
}

const DATABASE: &str = "database";
const PEERS: &str = "database-peers";
const LEGACY: [&str; 2] = ["mysql", "mysql-root"];
const PASSWORD_LEN: usize = 24;
const RERELATE: &str = "Remove and re-relate `mysql` relations in order to change config";
const SETTABLE: [&str; 3] = ["root", "serverconfig", "clusteradmin"];

pub fn meta() -> CharmMeta {
    let ep = Endpoint::new;
    let opt = |name: &str, kind, default: Option<Value>, d: &str| ConfigOption { name: name.into(), kind, default, description: d.into() };
    let param = |name: &str, default: Option<&str>, enums: &[&str], d: &str| ActionParam {
        name: name.into(),
        kind: "string".into(),
        description: d.into(),
        default: default.map(Into::into),
        enum_values: enums.iter().map(|s| s.to_string()).collect(),
    };
    CharmMeta {
        resources: vec![],
        storage: vec![],
        action_schemas: Default::default(),
        name: "mysql-k8s".into(),
        summary:
            "MySQL 8 or MariaDB server (whichever the machine has; status says which) with per-application databases, users and passwords."
                .into(),
        subordinate: false,
        endpoints: vec![
            ep(PEERS, Role::Peer, "mysql_peers"),
            ep("upgrade", Role::Peer, "upgrade"),
            ep("restart", Role::Peer, "rolling_op"),
            ep(DATABASE, Role::Provider, "mysql_client"),
            ep("mysql", Role::Provider, "mysql"),
            ep("mysql-root", Role::Provider, "mysql"),
            ep("metrics-endpoint", Role::Provider, "prometheus_scrape"),
            ep("grafana-dashboard", Role::Provider, "grafana_dashboard"),
            ep("replication-offer", Role::Provider, "mysql_async").limit(1),
            ep("certificates", Role::Requirer, "tls-certificates").limit(1),
            ep("s3-parameters", Role::Requirer, "s3").limit(1),
            ep("logging", Role::Requirer, "loki_push_api").limit(1),
            ep("replication", Role::Requirer, "mysql_async").limit(1),
            ep("tracing", Role::Requirer, "tracing").limit(1),
        ],
        config: vec![
            opt("cluster-name", OptionType::String, None, "cluster name, set once"),
            opt("cluster-set-name", OptionType::String, None, "cluster-set name"),
            opt("profile", OptionType::String, Some("production".into()), "production or testing"),
            opt("profile-limit-memory", OptionType::Int, None, "memory limit in MB"),
            opt("mysql-interface-user", OptionType::String, None, "user of the legacy mysql endpoint"),
            opt("mysql-interface-database", OptionType::String, None, "database of the legacy mysql endpoint"),
            opt("mysql-root-interface-user", OptionType::String, None, "user of the legacy mysql-root endpoint"),
            opt("mysql-root-interface-database", OptionType::String, None, "database of the legacy mysql-root endpoint"),
            opt("plugin-audit-enabled", OptionType::Boolean, Some(true.into()), "audit log plugin"),
            opt("plugin-audit-strategy", OptionType::String, Some("async".into()), "semi-async or async"),
            opt("binlog_retention_days", OptionType::Int, Some(7.into()), "binary log retention"),
            opt("logs_audit_policy", OptionType::String, Some("logins".into()), "all, logins or queries"),
            opt("logs_retention_period", OptionType::String, Some("auto".into()), "days (>=3) or auto"),
            opt("experimental-max-connections", OptionType::Int, None, "max connections"),
        ]
        .into_iter()
        .chain(adopt::config_options("CREATE USER, GRANT OPTION and CREATE on *.*"))
        .chain([adopt::tls_option()])
        .chain(rotation::config_options())
        .collect(),
        actions: vec![
            ActionSpec {
                name: "get-password".into(),
                description: "Shows an internal user's password.".into(),
                params: vec![param("username", Some("root"), &[], "root, serverconfig, clusteradmin, monitoring or backups")],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "set-password".into(),
                description: "Changes an internal user's password (random when none is given). Leader only.".into(),
                params: vec![
                    param("username", Some("root"), &SETTABLE, "root, serverconfig or clusteradmin"),
                    param("password", None, &[], "new password"),
                ],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "get-cluster-status".into(),
                description:
                    "Shows every member of the application's Galera cluster (address, state, primary component) and which one takes writes."
                        .into(),
                params: vec![],
                required: vec![],
                additional_properties: false,
            },
            adopt::rotate_action_spec(),
            rotation::action_spec(),
        ],
    }
}

fn internal_label(app: &str) -> String {
    format!("database-peers.{app}.app")
}

fn internal(ctx: &HookContext) -> anyhow::Result<Bag> {
    server::internal(ctx, &internal_label(&ctx.app))
}

/// The charm's internal users other than root, with their stored passwords, made to exist.
async fn ensure_system_users(ctx: &HookContext, admin: &MyAdmin) -> anyhow::Result<()> {
    let passwords = internal(ctx)?;
    let users: Vec<(&str, SecretString)> = SYSTEM_USERS
        .iter()
        .filter(|(u, _)| *u != "root")
        .filter_map(|(u, k)| Some((*u, SecretString::new(passwords.get(*k)?.clone()))))
        .collect();
    let refs: Vec<(&str, &SecretString)> = users.iter().map(|(u, p)| (*u, p)).collect();
    Ok(admin.ensure_system_users(&refs).await?)
}

fn root_password(ctx: &HookContext) -> anyhow::Result<SecretString> {
    internal(ctx)?.get("root-password").cloned().map(SecretString::new).ok_or_else(|| anyhow!("root password missing"))
}

/// How messages name the server before it is known which one answers.
const ENGINE: &str = "MySQL/MariaDB";
const ADOPTED_GET_PASSWORD: &str = "get-password is not available on an adopted server: tether has no internal users there";

/// The admin client of the server this application manages; in adopt mode `None` when
/// the adopted server cannot be managed now (the reason is in the unit state, see
/// `charms::adopt`), and nothing may be created.
async fn admin(services: &Services, ctx: &mut HookContext) -> anyhow::Result<Option<Arc<MyAdmin>>> {
    if adopt::endpoint(ctx).is_none() {
        let password = root_password(ctx)?;
        let port = if ha::is_ha(ctx) { ha::addresses(ctx, &password).await?.0 } else { server::primary_port(ctx)? };
        return Ok(Some(services.mysql.get(port, &password).await?));
    }
    let admin = adopt::admin(ctx, ENGINE, |t| async move { services.mysql.adopted(&t.admin_login()).await }).await?;
    if let Some(a) = &admin {
        ctx.state_set(STATE_ENGINE, a.dialect().name());
    }
    Ok(admin)
}

/// The addresses requirers are given: the adopted server's (its replicas, when
/// `external-endpoint` lists them, as the read-only endpoints), or the primary unit's port
/// on 127.0.0.1, each also as the read-only endpoints; under Galera the write node and the
/// other synced members (a comma list, empty when there are none).
async fn addresses(ctx: &HookContext) -> anyhow::Result<((String, u16), String)> {
    let a = match adopt::endpoint(ctx) {
        Some(a) => a,
        None if ha::is_ha(ctx) => {
            let (port, ro) = ha::addresses(ctx, &root_password(ctx)?).await?;
            return Ok((("127.0.0.1".to_string(), port), ro));
        }
        None => ("127.0.0.1".to_string(), server::primary_port(ctx)?),
    };
    // An adopted server's replicas are the rest of `external-endpoint`'s list.
    let replicas = adopt::replicas(ctx);
    let ro = if replicas.is_empty() { format!("{}:{}", a.0, a.1) } else { replicas.join(",") };
    Ok((a, ro))
}

/// Unit state: which server runs (`MariaDB` or `MySQL`), as its admin found it.
const STATE_ENGINE: &str = "engine";
/// Unit state: the unit started beside a single server, running none of its own.
const STATE_STANDBY: &str = "standby";

/// The active status names the server when its version does not: MariaDB's version
/// (shown as the workload version) always says MariaDB, MySQL's (`8.0.36`) does not.
fn active_message(ctx: &HookContext) -> String {
    match (ctx.state_get(STATE_ENGINE).as_deref(), ctx.state_get(server::STATE_VERSION)) {
        (Some("MySQL"), Some(v)) => format!("MySQL {v}"),
        _ => String::new(),
    }
}

/// Config values that end up as MySQL user names must be plain.
fn valid_user_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The keys in the internal secret that remember a legacy endpoint's names and password.
fn legacy_keys(endpoint: &str) -> (String, String, String) {
    (format!("{endpoint}-interface-user"), format!("{endpoint}-interface-database"), format!("{endpoint}-interface-password"))
}

impl MysqlCharm {
    /// Whether a legacy endpoint's name options changed while it has relations.
    fn legacy_config_changed(&self, ctx: &HookContext) -> anyhow::Result<bool> {
        let stored = internal(ctx).unwrap_or_default();
        for ep in LEGACY {
            if ctx.relation_ids(ep)?.is_empty() {
                continue;
            }
            let (ukey, dkey, _) = legacy_keys(ep);
            for (stored_key, option) in [(&ukey, format!("{ep}-interface-user")), (&dkey, format!("{ep}-interface-database"))] {
                if let (Some(v), Some(s)) = (ctx.config_str(&option), stored.get(stored_key)) {
                    if &v != s {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    async fn serve_database(&self, ctx: &mut HookContext, rel: i64, mode: Serve) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        let requests = Request::read_all(&ctx.remote_app_data(rel)?);
        if requests.is_empty() {
            return Ok(());
        }
        if mode == Serve::IfChanged && provider::already_answered(ctx, rel, &requests)? {
            return self.settle_status(ctx);
        }
        if requests.iter().any(|r| validate_database(&r.database).is_err()) {
            server::set_blocked(ctx, rel, Some("invalid database name requested"));
            return self.settle_status(ctx);
        }
        // One login per relation (after a rotation, the newest), with every database its
        // requests name.
        let user = rotation::current_login(ctx, rel, &relation_user(rel, &ctx.model_uuid))?;
        let password = provider::issued_password(ctx, DATABASE, rel, &user)?.unwrap_or_else(|| generate_password(PASSWORD_LEN));
        let grants: Vec<DatabaseGrant> = requests
            .iter()
            .map(|r| DatabaseGrant { name: &r.database, ownership: Ownership::Shared, extra_user_roles: &r.extra_user_roles })
            .collect();
        let roles = provider::union_roles(&requests);
        let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        let wanted = RelationUser { user: &user, password: &password, extra_user_roles: &roles, databases: &grants, acts_as: None };
        if reconcile::issue_relation_user(ctx, &*admin, DATABASE, rel, &wanted).await?.is_none() {
            return self.settle_status(ctx);
        }
        let ((host, port), read_only) = addresses(ctx).await?;
        let endpoint = format!("{host}:{port}");
        let version = server::primary_version(ctx);
        // Canonical's mysql-k8s publishes no `tls` (charm-protocol §4.4.7); an adopted
        // server that offers TLS is said to, with the CA when one is set.
        let (tls, tls_ca) = if adopt::endpoint(ctx).is_some() { adopt::published_tls(ctx) } else { (false, None) };
        let answers = requests
            .iter()
            .map(|request| {
                let mut offer = Offer::default();
                offer.plain.insert("database".into(), request.database.clone());
                offer.plain.insert("endpoints".into(), endpoint.clone());
                offer.plain.insert("read-only-endpoints".into(), read_only.clone());
                if let Some(v) = &version {
                    offer.plain.insert("version".into(), v.clone());
                }
                offer.user.insert("username".into(), user.clone());
                offer.user.insert("password".into(), password.expose().to_string());
                if tls {
                    offer.tls.insert("tls".into(), "True".into());
                    if let Some(ca) = &tls_ca {
                        offer.tls.insert("tls-ca".into(), ca.clone());
                    }
                }
                (request.clone(), offer)
            })
            .collect();
        provider::publish(ctx, rel, DATABASE, answers)?;
        self.settle_status(ctx)
    }

    /// The legacy endpoint's shared user and database: remembered names, else the config
    /// options, else `relation-<first id>` / `database-<first id>`. The leader creates them.
    async fn legacy_credentials(&self, ctx: &mut HookContext, endpoint: &str, rel: i64) -> anyhow::Result<Option<Bag>> {
        let (ukey, dkey, pkey) = legacy_keys(endpoint);
        let stored = internal(ctx)?;
        if let (Some(u), Some(d), Some(p)) = (stored.get(&ukey), stored.get(&dkey), stored.get(&pkey)) {
            return Ok(Some(Bag::from([("user".into(), u.clone()), ("database".into(), d.clone()), ("password".into(), p.clone())])));
        }
        if !ctx.leader {
            return Ok(None);
        }
        let first = ctx.relation_ids(endpoint)?.into_iter().min().unwrap_or(rel);
        let user = ctx.config_str(&format!("{endpoint}-interface-user")).unwrap_or_else(|| legacy_user(first));
        let database = ctx.config_str(&format!("{endpoint}-interface-database")).unwrap_or_else(|| legacy_database(first));
        let password = generate_password(PASSWORD_LEN);
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(None) };
        admin
            .ensure_legacy_user(&user, &password, &database, endpoint == "mysql-root")
            .await
            .map_err(|e| anyhow!("Failed to create relation database and users: {e}"))?;
        let id = ctx.secret_id_by_label(&internal_label(&ctx.app))?.ok_or_else(|| anyhow!("internal passwords are not created yet"))?;
        let mut content = stored.clone();
        content.insert(ukey, user.clone());
        content.insert(dkey, database.clone());
        content.insert(pkey, password.expose().to_string());
        ctx.secret_set(&id, content)?;
        ctx.audit("issued", &format!("{endpoint}:{rel}"), &user, &format!("database {database} (shared by the endpoint)"));
        Ok(Some(Bag::from([("user".into(), user), ("database".into(), database), ("password".into(), password.expose().to_string())])))
    }

    async fn serve_legacy(&self, ctx: &mut HookContext, endpoint: &str, rel: i64) -> anyhow::Result<()> {
        let adopted = adopt::endpoint(ctx).is_some();
        if adopted && endpoint == "mysql-root" {
            server::set_blocked(ctx, rel, Some(ADOPTED_ROOT));
            return self.settle_status(ctx);
        }
        if endpoint == "mysql-root" && !ctx.leader {
            return Ok(());
        }
        let Some(mut data) = self.legacy_credentials(ctx, endpoint, rel).await? else { return Ok(()) };
        let ((host, port), _) = addresses(ctx).await?;
        data.insert("host".into(), host);
        data.insert("port".into(), port.to_string());
        // An adopted server's root password is not tether's to know, nor to hand out.
        if !adopted {
            data.insert("root_password".into(), root_password(ctx)?.expose().to_string());
        }
        let own = ctx.relation_get(rel, &ctx.unit.clone())?;
        if data.iter().any(|(k, v)| own.get(k) != Some(v)) {
            ctx.relation_set_unit(rel, &data)?;
        }
        self.settle_status(ctx)
    }

    /// Only when an endpoint's last relation goes are its shared users removed.
    async fn legacy_broken(&self, ctx: &mut HookContext, endpoint: &str, rel: i64) -> anyhow::Result<()> {
        if !ctx.leader || ctx.relation(rel)?.life == Life::Alive {
            return Ok(());
        }
        if adopt::endpoint(ctx).is_some() {
            server::set_blocked(ctx, rel, None);
            if endpoint == "mysql-root" {
                return self.settle_status(ctx);
            }
        }
        let others = ctx.relation_ids(endpoint)?.into_iter().filter(|r| *r != rel).count();
        if others > 0 {
            return Ok(());
        }
        let (ukey, dkey, pkey) = legacy_keys(endpoint);
        let mut content = internal(ctx)?;
        if let Some(user) = content.get(&ukey).cloned() {
            let admin = admin(&self.services, ctx).await?.ok_or_else(|| anyhow!("the server cannot be managed now"))?;
            // On an adopted server only a user the registry gives this application.
            admin.drop_relation_user(&user).await.map_err(|e| anyhow!("Failed to delete database users: {e}"))?;
            ctx.audit("revoked", &format!("{endpoint}:{rel}"), &user, "last relation of the endpoint removed");
        }
        for k in [ukey, dkey, pkey] {
            content.remove(&k);
        }
        let id = ctx.secret_id_by_label(&internal_label(&ctx.app))?.ok_or_else(|| anyhow!("internal passwords are not created yet"))?;
        ctx.secret_set(&id, content)?;
        self.settle_status(ctx)
    }

    async fn broken(&self, ctx: &mut HookContext, rel: i64) -> anyhow::Result<()> {
        if !ctx.leader || ctx.relation(rel)?.life == Life::Alive {
            return Ok(());
        }
        // Unreachable now: the orphan sweep of the next update-status drops the users.
        let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        let logins = rotation::forget(ctx, rel, &relation_user(rel, &ctx.model_uuid))?;
        reconcile::revoke_relation_logins(ctx, &*admin, DATABASE, rel, &logins)
            .await
            .map_err(|e| anyhow!("Failed to delete users for relation {rel}: {e}"))?;
        self.settle_status(ctx)
    }

    /// Start under Galera: this unit's member (bootstrapping, joining or restarting); then
    /// the leader makes the system users on the write node (Galera replicates them) and
    /// re-serves every relation with the write node's address.
    async fn start_galera(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.set_status(WorkloadStatus::Maintenance, "starting MariaDB (Galera)")?;
        ctx.state_delete(STATE_STANDBY);
        let stored = ha::await_internal(ctx, root_password).await?;
        let password = galera_passwords::working_root(ctx, &internal_label(&ctx.app), stored).await?;
        let settings = my_settings::desired(ctx)?;
        ha::start(ctx, &self.services, &password, settings.clone()).await?;
        settings_state::record(ctx, &settings)?;
        let own = self.services.mysql.get(server::own_port(ctx)?, &password).await?;
        ctx.state_set(server::STATE_VERSION, &own.version().await?);
        ctx.state_set(STATE_ENGINE, own.dialect().name());
        ha::watch(ctx, &self.services, &password);
        if ctx.leader {
            let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
            ensure_system_users(ctx, &admin).await?;
        }
        // Every unit learns its role; the leader serves every relation with the write node.
        let view = ha::cluster(ctx, &password).await?;
        ha::note_role(ctx, &view);
        if ctx.leader && view.write().is_some() {
            for rel in ctx.relation_ids(DATABASE)? {
                self.serve_database(ctx, rel, Serve::Always).await?;
            }
        }
        if view.write().is_some() {
            self.reserve_legacy(ctx).await?;
        }
        self.settle_status(ctx)
    }

    /// Whether this unit is the leader of a running single MariaDB server (not adopted)
    /// that has more than one live unit now (see `charms::mysql_ha`).
    fn wants_galera(&self, ctx: &HookContext) -> anyhow::Result<bool> {
        if adopt::endpoint(ctx).is_some() || ctx.state_get(STATE_ENGINE).as_deref() != Some("MariaDB") {
            return Ok(false);
        }
        ha::wants_cluster(ctx, server::server_running(ctx, &self.services.supervisor))
    }

    /// Whether this live unit started as a standby beside a single server and runs no
    /// server (a unit that has not started yet starts its member in its own `start`).
    fn is_standby(&self, ctx: &HookContext) -> anyhow::Result<bool> {
        let alive = ctx.store().read(|tx| tx.unit(&ctx.model, &ctx.unit))?.is_some_and(|u| u.life == Life::Alive);
        Ok(alive && ctx.state_get(STATE_STANDBY).is_some() && !server::server_running(ctx, &self.services.supervisor))
    }

    /// The leader's single server becomes the founder of a Galera cluster: taken back
    /// first (a server an interrupted attempt left running with wsrep is restarted
    /// without), stopped cleanly, then started as the founder on its data; the relations
    /// are served again from the cluster (same credentials, read-only endpoints once
    /// members joined). The other units join on `leader-settings-changed`.
    async fn become_galera(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.set_status(WorkloadStatus::Maintenance, "turning the server into a Galera cluster")?;
        ctx.log("INFO", "units were added to a single server: it becomes the founder of a Galera cluster");
        let spec =
            MariaDbSpec::for_unit(&ctx.unit_dir(), server::own_port(ctx)?, root_password(ctx)?).with_settings(settings_state::applied(ctx));
        self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?;
        server::stop(ctx, &self.services.supervisor).await;
        ha::become_founder(ctx)?;
        self.start_galera(ctx).await?;
        crate::failpoint::hit("galera.after-founding");
        Ok(())
    }

    /// Serves every legacy relation again (a unit's databag is written only when a field
    /// changed), so `host`/`port` follow the server that takes writes.
    async fn reserve_legacy(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        for ep in LEGACY {
            for rel in ctx.relation_ids(ep)? {
                self.serve_legacy(ctx, ep, rel).await?;
            }
        }
        Ok(())
    }

    /// config-changed under Galera: every unit applies the settings to its own member,
    /// live, or by restarting it for a static setting (the member rejoins by IST), one
    /// member at a time in unit order (`galera_restart`).
    async fn config_changed_galera(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let password = root_password(ctx)?;
        let own = self.services.mysql.get(server::own_port(ctx)?, &password).await?;
        let desired = my_settings::desired(ctx)?;
        match my_settings::change(ctx, &own, &desired).await? {
            settings_state::Change::NeedsRestart(names) => {
                settings_state::restarting(ctx, "MySQL", &names)?;
                drop(own);
                galera_restart::await_turn(ctx, &password, &desired).await?;
                server::stop(ctx, &self.services.supervisor).await;
                self.start_galera(ctx).await?;
            }
            settings_state::Change::Applied => ha::refresh_peers(ctx, &self.services, &password, desired).await?,
            settings_state::Change::None => {}
        }
        self.settle_status(ctx)
    }

    /// `get-cluster-status`: the members of the Galera cluster and the write node.
    async fn get_cluster_status(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if !ha::is_ha(ctx) {
            ctx.action_fail("get-cluster-status: the application runs one server, not a Galera cluster (deploy with more than one unit)");
            return Ok(());
        }
        let view = ha::cluster(ctx, &root_password(ctx)?).await?;
        if let serde_json::Value::Object(results) = ha::cluster_status_results(&view) {
            for (k, v) in results {
                ctx.action_set(&k, v);
            }
        }
        Ok(())
    }

    async fn get_password(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_some() {
            ctx.action_fail(ADOPTED_GET_PASSWORD);
            return Ok(());
        }
        let username = ctx.action_param_str("username").unwrap_or_else(|| "root".into());
        let Some((_, key)) = SYSTEM_USERS.iter().find(|(u, _)| *u == username) else {
            ctx.action_fail(&format!("The action can be run only for users used by the charm: root, serverconfig, clusteradmin, monitoring, backups not {username}"));
            return Ok(());
        };
        let pw = internal(ctx)?.get(*key).cloned().unwrap_or_default();
        ctx.action_set("username", username.into());
        ctx.action_set("password", pw.into());
        Ok(())
    }

    async fn set_password(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_some() {
            ctx.action_fail(adopt::SET_PASSWORD_REFUSED);
            return Ok(());
        }
        if !ctx.leader {
            ctx.action_fail("set-password action can only be run on the leader unit.");
            return Ok(());
        }
        let galera = ha::is_ha(ctx);
        let username = ctx.action_param_str("username").unwrap_or_else(|| "root".into());
        let key = match SYSTEM_USERS.iter().find(|(u, _)| *u == username) {
            Some((_, key)) if SETTABLE.contains(&username.as_str()) => *key,
            _ => {
                ctx.action_fail(&format!("The action can be run only for users used by the charm: root, serverconfig, clusteradmin, monitoring, backups not {username}"));
                return Ok(());
            }
        };
        let new = ctx.action_param_str("password").map(SecretString::new).unwrap_or_else(|| generate_password(PASSWORD_LEN));
        if new.is_empty() {
            ctx.action_fail("the password cannot be empty");
            return Ok(());
        }
        if internal(ctx)?.get(key).map(String::as_str) == Some(new.expose()) {
            return Ok(());
        }
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(()) };
        let label = internal_label(&ctx.app);
        let who = InternalUser { user: &username, label: &label, key, is_admin_login: username == "root" };
        // The supervisor logs in to check a restarted server: give it the new password.
        // Under Galera the change reached every member by replication; this unit's member
        // and the watcher take it now, the other units follow the revision bumped below.
        let supervise = async |ctx: &mut HookContext| {
            if galera {
                return galera_passwords::use_root(ctx, &self.services, &new).await;
            }
            let spec =
                MariaDbSpec::for_unit(&ctx.unit_dir(), server::primary_port(ctx)?, new.clone()).with_settings(settings_state::applied(ctx));
            Ok(self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?)
        };
        reconcile::rotate_internal_password(ctx, &*admin, &who, &new, supervise).await?;
        if galera {
            galera_passwords::bump(ctx)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ServerCharm for MysqlCharm {
    fn charm_meta(&self) -> CharmMeta {
        meta()
    }

    fn services(&self) -> &Services {
        &self.services
    }

    fn check_config(&self, config: &BTreeMap<String, Value>) -> Result<(), String> {
        tether_core::my_config::check(config)?;
        rotation::check_config(config)?;
        adopt::check_config(config)?;
        for ep in LEGACY {
            if let Some(Value::String(u)) = config.get(&format!("{ep}-interface-user")) {
                if SYSTEM_USERS.iter().any(|(s, _)| s == u) || ["mysql", "mariadb.sys", "PUBLIC"].contains(&u.as_str()) {
                    return Err(format!("{ep}-interface-user {u:?} is reserved for the charm's own users"));
                }
                if !valid_user_name(u) {
                    return Err(format!(
                        "{ep}-interface-user {:?} not valid: use 1 to 32 letters, digits, '_' or '-'",
                        u.chars().take(64).collect::<String>()
                    ));
                }
            }
            if let Some(Value::String(d)) = config.get(&format!("{ep}-interface-database")) {
                validate_database(d).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn check_config_change(&self, old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Result<(), String> {
        adopt::check_config_change(old, new)
    }

    fn install(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_some() {
            server::claim_role(ctx);
            ctx.set_status(WorkloadStatus::Maintenance, "adopting an existing MySQL/MariaDB server")?;
            return Ok(());
        }
        ctx.set_status(WorkloadStatus::Maintenance, "installing MySQL")?;
        server::claim_port_and_role(ctx)?;
        ha::decide_mode(ctx)
    }

    fn leader_elected(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let keys: Vec<(&str, usize)> = SYSTEM_USERS.iter().map(|(_, k)| (*k, PASSWORD_LEN)).collect();
        server::ensure_internal_secret(ctx, &internal_label(&ctx.app), &keys)
    }

    async fn start(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopt::endpoint(ctx).is_none() && ha::await_mode(ctx).await? {
            return self.start_galera(ctx).await;
        }
        if !server::is_primary(ctx) {
            // Beside a single server: this unit joins once the leader makes it a cluster.
            ctx.state_set(STATE_STANDBY, "true");
            return server::standby_status(ctx, "high availability");
        }
        if adopt::endpoint(ctx).is_some() {
            // No server of our own: log in, check the admin, record the version.
            if let Some(admin) = admin(&self.services, ctx).await? {
                ctx.state_set(server::STATE_VERSION, &admin.version().await?);
                self.repair_drift(ctx).await?;
            }
            return self.settle_status(ctx);
        }
        ctx.set_status(WorkloadStatus::Maintenance, "starting MySQL")?;
        let dir = ctx.unit_dir();
        let label = internal_label(&ctx.app);
        let settings = my_settings::desired(ctx)?;
        let spec = |port, pw| MariaDbSpec::for_unit(&dir, port, pw).with_settings(settings.clone());
        let (pw, port, moved) = server::start_workload(ctx, &self.services.supervisor, &label, "root-password", spec).await?;
        settings_state::record(ctx, &settings)?;
        let admin = self.services.mysql.get(port, &pw).await?;
        ensure_system_users(ctx, &admin).await?;
        ctx.state_set(server::STATE_VERSION, &admin.version().await?);
        ctx.state_set(STATE_ENGINE, admin.dialect().name());
        if moved {
            // New endpoints for every relation (re-serving publishes them).
            self.repair_drift(ctx).await?;
        }
        // Units were added while no controller ran, or a change to a cluster was
        // interrupted: it is made now.
        if self.wants_galera(ctx)? {
            return self.become_galera(ctx).await;
        }
        self.settle_status(ctx)
    }

    /// Applies the config to the server tether runs (an adopted server's settings are its
    /// owner's): live with `SET GLOBAL`, or by a restart for a static setting.
    async fn config_changed(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let galera = ha::is_ha(ctx);
        if adopt::endpoint(ctx).is_some() || !(galera || server::is_primary(ctx)) || !server::server_running(ctx, &self.services.supervisor)
        {
            return self.settle_status(ctx);
        }
        if galera {
            return self.config_changed_galera(ctx).await;
        }
        let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        let desired = my_settings::desired(ctx)?;
        match my_settings::change(ctx, &admin, &desired).await? {
            settings_state::Change::NeedsRestart(names) => {
                settings_state::restarting(ctx, "MySQL", &names)?;
                server::stop(ctx, &self.services.supervisor).await;
                self.start(ctx).await?;
            }
            settings_state::Change::Applied => {
                // The supervisor's restarts (after a crash) start with what the server now runs.
                let password =
                    SecretString::new(internal(ctx)?.get("root-password").cloned().ok_or_else(|| anyhow!("root password missing"))?);
                let spec = MariaDbSpec::for_unit(&ctx.unit_dir(), server::primary_port(ctx)?, password).with_settings(desired);
                self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?;
            }
            settings_state::Change::None => {}
        }
        self.settle_status(ctx)
    }

    fn settle_status(&self, ctx: &HookContext) -> anyhow::Result<()> {
        let galera = ha::is_ha(ctx);
        if !galera && !server::is_primary(ctx) {
            return Ok(());
        }
        let adopted = adopt::endpoint(ctx);
        let problem = match adopted {
            Some(_) => adopt::problem(ctx),
            None => server::workload_problem(ctx, &self.services.supervisor, "MySQL"),
        };
        if let Some((status, message)) = problem {
            return Ok(ctx.set_status(status, &message)?);
        }
        if galera {
            if let Some(state) = ha::not_synced(ctx) {
                return Ok(ctx.set_status(WorkloadStatus::Waiting, &format!("Galera member {state}"))?);
            }
            if !ctx.leader {
                return Ok(ctx.set_status(WorkloadStatus::Active, if ha::takes_writes(ctx) { ha::WRITE_MESSAGE } else { "" })?);
            }
        }
        if ctx.leader && self.legacy_config_changed(ctx)? {
            return Ok(ctx.set_status(WorkloadStatus::Blocked, RERELATE)?);
        }
        match (server::first_blocked(ctx), adopted) {
            (Some(reason), _) => ctx.set_status(WorkloadStatus::Blocked, &reason)?,
            (None, Some((host, port))) => {
                let engine = ctx.state_get(STATE_ENGINE).unwrap_or_else(|| ENGINE.into());
                ctx.set_status(WorkloadStatus::Active, &adopt::active_message(ctx, &host, port, &engine))?
            }
            (None, None) if galera && ha::takes_writes(ctx) => ctx.set_status(WorkloadStatus::Active, ha::WRITE_MESSAGE)?,
            (None, None) => ctx.set_status(WorkloadStatus::Active, &active_message(ctx))?,
        }
        Ok(())
    }

    /// Drift repair on update-status (see postgresql-k8s): relation users no live relation
    /// owns are dropped, live ones re-ensured; users with other names are never touched.
    async fn repair_drift(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if self.wants_galera(ctx)? {
            return self.become_galera(ctx).await;
        }
        // Every unit that runs its own server keeps that server's logs (Galera: each member).
        if adopt::endpoint(ctx).is_none() && server::server_running(ctx, &self.services.supervisor) {
            let own = self.services.mysql.get(server::own_port(ctx)?, &root_password(ctx)?).await?;
            let audit = settings_state::applied(ctx).get("plugin_load_add").map(String::as_str) == Some("server_audit");
            let unit_dir = ctx.unit_dir();
            my_logs::rotate_and_expire(ctx, &own, &unit_dir.join(ERROR_LOG), &unit_dir.join(DATA_DIR), audit).await?;
        }
        let galera = ha::is_ha(ctx);
        let running = adopt::endpoint(ctx).is_some() || server::server_running(ctx, &self.services.supervisor);
        if galera {
            // Every unit learns its role and gives its running member the current peer
            // list; the leader re-serves below, which moves the endpoints when the write
            // node moved, also while its own member is down (the write node is another's).
            let password = root_password(ctx)?;
            if running {
                ha::refresh_peers(ctx, &self.services, &password, settings_state::applied(ctx)).await?;
            }
            ha::watch(ctx, &self.services, &password);
            let view = ha::cluster(ctx, &password).await?;
            ha::note_role(ctx, &view);
            if view.write().is_none() {
                ctx.log("WARNING", "no Galera member is synced now");
                return Ok(());
            }
        }
        // Every unit's legacy `mysql` databag names the write node (the leader's
        // `mysql-root` too): rewritten when it moved.
        if galera || running {
            self.reserve_legacy(ctx).await?;
        }
        if !ctx.leader || !(galera || (server::is_primary(ctx) && running)) {
            return Ok(());
        }
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(()) };
        let live = ctx.relation_ids(DATABASE)?;
        let stored = internal(ctx)?;
        let mut expected = rotation::expected_logins(self, ctx)?;
        expected.extend(LEGACY.iter().filter_map(|ep| stored.get(&legacy_keys(ep).0).cloned()));
        let existing = reconcile::drop_orphaned_users(ctx, &*admin, &expected).await?;
        for rel in live {
            let user = rotation::current_login(ctx, rel, &relation_user(rel, &ctx.model_uuid))?;
            self.serve_database(ctx, rel, Serve::Always).await?;
            if !existing.contains(&user) && !server::is_blocked(ctx, rel) {
                reconcile::note_recreated(ctx, &user, rel);
            }
        }
        Ok(())
    }

    /// Under Galera, a changed internal password (`set-password` on the leader) reaches
    /// this unit's supervisor and the watcher (see `charms::galera_passwords`).
    async fn leader_settings_changed(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if ha::is_ha(ctx) && server::server_running(ctx, &self.services.supervisor) {
            galera_passwords::follow(ctx, &self.services, &internal_label(&ctx.app)).await?;
        } else if ha::is_ha(ctx) && adopt::endpoint(ctx).is_none() && self.is_standby(ctx)? {
            // A unit that started beside a single server: the leader made it a Galera
            // cluster, so this unit's member joins it now.
            return self.start_galera(ctx).await;
        }
        self.settle_status(ctx)
    }

    async fn rotation_tick(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        rotation::tick(self, ctx, &self.services).await
    }

    async fn serve_endpoint(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE => self.serve_database(ctx, rel, Serve::IfChanged).await,
            "mysql" | "mysql-root" => self.serve_legacy(ctx, endpoint, rel).await,
            // A unit added to a single server: the leader turns it into a Galera cluster.
            PEERS if self.wants_galera(ctx)? => self.become_galera(ctx).await,
            _ => Ok(()),
        }
    }

    async fn endpoint_broken(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE => self.broken(ctx, rel).await,
            "mysql" | "mysql-root" => self.legacy_broken(ctx, endpoint, rel).await,
            _ => Ok(()),
        }
    }

    async fn run_action(&self, ctx: &mut HookContext, action: &str) -> anyhow::Result<()> {
        match action {
            "get-password" => self.get_password(ctx).await,
            "set-password" => self.set_password(ctx).await,
            "get-cluster-status" => self.get_cluster_status(ctx).await,
            adopt::ROTATE_ADMIN_PASSWORD => {
                adopt::rotate_action(ctx, async |ctx| admin(&self.services, ctx).await, generate_password(PASSWORD_LEN)).await
            }
            rotation::ACTION => rotation::run_action(self, ctx, &self.services).await,
            other => Err(anyhow!("action {other:?} not implemented")),
        }
    }

    async fn after_remove(&self, ctx: &mut HookContext, port: Option<u16>) {
        if let Some((host, port)) = adopt::endpoint(ctx) {
            // The adopted server is not ours: it keeps running, only our sessions go.
            self.services.mysql.forget_key(&format!("{host}:{port}")).await;
        } else if let Some(port) = port {
            self.services.mysql.forget(port).await;
        }
    }
}

/// Rotation covers the `database` endpoint; the legacy endpoints' users are shared by
/// every relation of the endpoint and change only with the endpoint's options.
#[async_trait::async_trait]
impl rotation::RotatingCharm for MysqlCharm {
    fn login_endpoints(&self) -> &'static [&'static str] {
        &[DATABASE]
    }

    fn first_user(&self, ctx: &HookContext, rel: i64) -> String {
        relation_user(rel, &ctx.model_uuid)
    }

    fn rotated_user(&self, first: &str, generation: u32) -> String {
        tether_core::my_plan::rotated_user(first, generation)
    }

    async fn republish(&self, ctx: &mut HookContext, rel: i64, _endpoint: &str) -> anyhow::Result<()> {
        self.serve_database(ctx, rel, Serve::Always).await
    }

    async fn retire(&self, ctx: &mut HookContext, login: &str, owner: &str) -> anyhow::Result<bool> {
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(false) };
        UserAdmin::retire_login(&*admin, login, owner).await?;
        Ok(true)
    }
}
