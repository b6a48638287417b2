//! `postgresql-k8s`: a real PostgreSQL server per application, and the
//! `postgresql_client` provider that gives every integrated application its own
//! database, user and password (charm-protocol §3).
//!
//! Deployed with one unit, the first unit (the leader at install) runs a plain server;
//! units added later wait while the leader turns that server into a Patroni cluster
//! (`patroni::convert`), then join it. Deployed with more than one unit, every unit
//! runs Patroni over its own PostgreSQL (`postgresql_ha`), and the server is whichever
//! unit Patroni made primary. All relation work happens on the leader, against the
//! primary, idempotently: the same relation served twice yields the same user and password.
//!
//! **Adopt mode**: with `external-endpoint` (`host:port`, or a list: the primary, then
//! read-only replicas published as such) and `admin-secret` (a user secret with
//! `username` and `password`, granted to the application) set at deploy, and optionally
//! `tls-ca` (verified TLS, published as `tls`/`tls-ca` and `sslmode=verify-full`), the
//! charm starts no server: it manages relation users on that server as that admin, which
//! needs only `CREATEROLE` and `CREATEDB` (checked before anything is created, at every
//! hook that would create something and on every `update-status`). The server's own
//! users and databases are never touched; `set-password` refuses, and
//! `rotate-admin-password` gives the admin a new password (see `charms::adopt`). Units
//! added to an adopted server run nothing and are `blocked` saying so.

use super::adopt;
use super::patroni as cluster_ha;
use super::patroni::convert;
use super::pg_settings;
use super::postgresql_ha::{self as ha, internal_label, LAYOUT};
use super::provider::{self, Offer, Request, Serve};
use super::reconcile::{self, InternalUser, RotateError};
use super::rotation;
use super::server;
use super::server_hooks::ServerCharm;
use super::services::Services;
use super::settings_state;
use crate::engine::context::{Bag, HookContext};
use crate::engines::postgres::{host_resources, PgAdmin, PgSpec, LOOPBACK};
use crate::engines::{DatabaseGrant, Ownership, RelationUser, UserAdmin};
use crate::secret::{generate_password, SecretString};
use anyhow::anyhow;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tether_core::charm_meta::{ActionParam, ActionSpec, CharmMeta, Endpoint, Role};
use tether_core::life::Life;
use tether_core::names::validate_database;
use tether_core::pg_config;
use tether_core::pg_plan::{relation_user, SYSTEM_USERS};
use tether_core::status::WorkloadStatus;

mod scale_out;

pub struct PostgresqlCharm {
    services: Arc<Services>,
}

impl PostgresqlCharm {
    pub fn new(services: Arc<Services>) -> PostgresqlCharm {
        PostgresqlCharm { services }
    }
}

const PEERS: &str = "database-peers";
/// How messages name the server.
const ENGINE: &str = "PostgreSQL";
const DATABASE: &str = "database";
const PASSWORD_LEN: usize = 16;
/// What standby units wait for.
const HA: &str = "high availability";
/// The primary unit's status message under Patroni (Canonical's).
const PRIMARY: &str = "Primary";
/// The leader's status while its single server becomes a Patroni cluster.
const CONVERTING: &str = "turning the server into a Patroni cluster for the added units";
/// An extra unit of an application that manages an adopted server.
const ADOPTED_EXTRA_UNIT: &str =
    "this unit runs nothing: an adopted server gets no replicas from add-unit (remove this unit with remove-unit)";
const INVALID_DATABASE: &str = "invalid database name requested";
/// The legacy `pgsql` endpoints (charm-protocol §3.5).
const LEGACY: [&str; 2] = ["db", "db-admin"];
const MIXED_ENDPOINTS: &str = "Please choose one endpoint to use. No need to relate all of them simultaneously!";
const EXTENSIONS_REQUESTED: &str = "extensions requested through relation";
const ROLES_REQUESTED: &str = "roles requested through relation, use postgresql_client interface instead";
/// The adopted server's address, when the application runs in adopt mode.
fn adopted(ctx: &HookContext) -> Option<(String, u16)> {
    adopt::endpoint(ctx)
}

/// The address requirers are given: the adopted server's, or the primary unit's port on
/// 127.0.0.1 (under Patroni: the unit Patroni reports as primary).
async fn server_address(ctx: &HookContext) -> anyhow::Result<(String, u16)> {
    Ok(addresses(ctx).await?.0)
}

/// The write address and the read-only endpoints (a comma list): under Patroni the
/// healthy replicas (empty when there are none, as Canonical's machine charm publishes),
/// on an adopted server the replicas `external-endpoint` lists after the primary,
/// otherwise the one server again.
async fn addresses(ctx: &HookContext) -> anyhow::Result<((String, u16), String)> {
    if let Some(a) = adopted(ctx) {
        let replicas = adopt::replicas(ctx);
        let ro = if replicas.is_empty() { format!("{}:{}", a.0, a.1) } else { replicas.join(",") };
        return Ok((a, ro));
    }
    if ha::is_ha(ctx) {
        let view = cluster_ha::cluster(ctx).await?;
        let (_, port) = view.primary.ok_or_else(|| anyhow!("the Patroni cluster has no primary now"))?;
        let ro: Vec<String> = view.replicas.iter().map(|(_, p)| format!("{LOOPBACK}:{p}")).collect();
        return Ok(((LOOPBACK.to_string(), port), ro.join(",")));
    }
    let port = server::primary_port(ctx)?;
    Ok(((LOOPBACK.to_string(), port), format!("{LOOPBACK}:{port}")))
}

pub fn meta() -> CharmMeta {
    let ep = Endpoint::new;
    CharmMeta {
        resources: vec![],
        storage: vec![],
        action_schemas: Default::default(),
        name: "postgresql-k8s".into(),
        summary: "PostgreSQL server with per-application databases, users and passwords.".into(),
        subordinate: false,
        endpoints: vec![
            ep(PEERS, Role::Peer, "postgresql_peers"),
            ep("restart", Role::Peer, "rolling_op"),
            ep("upgrade", Role::Peer, "upgrade"),
            ep(DATABASE, Role::Provider, "postgresql_client"),
            ep("db", Role::Provider, "pgsql"),
            ep("db-admin", Role::Provider, "pgsql"),
            ep("metrics-endpoint", Role::Provider, "prometheus_scrape"),
            ep("grafana-dashboard", Role::Provider, "grafana_dashboard"),
            ep("replication-offer", Role::Provider, "postgresql_async").limit(1),
            ep("replication", Role::Requirer, "postgresql_async").limit(1),
            ep("certificates", Role::Requirer, "tls-certificates").limit(1),
            ep("s3-parameters", Role::Requirer, "s3").limit(1),
            ep("logging", Role::Requirer, "loki_push_api").limit(1),
        ],
        config: pg_config::options()
            .into_iter()
            .chain(adopt::config_options("CREATEROLE and CREATEDB"))
            .chain([adopt::tls_option()])
            .chain(rotation::config_options())
            .collect(),
        actions: vec![
            ActionSpec {
                name: "get-password".into(),
                description: "Shows a system user's password.".into(),
                params: vec![ActionParam::string("username", "system user (default operator)").with_default("operator")],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "set-password".into(),
                description: "Changes a system user's password (random when none is given). Leader only.".into(),
                params: vec![
                    ActionParam::string("username", "system user (default operator)").with_default("operator"),
                    ActionParam::string("password", "new password (random when absent)"),
                ],
                required: vec![],
                additional_properties: false,
            },
            adopt::rotate_action_spec(),
            rotation::action_spec(),
            ActionSpec {
                name: "get-primary".into(),
                description: "Shows the unit that runs the primary server.".into(),
                params: vec![],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "promote-to-primary".into(),
                description: "Makes this unit the primary by a Patroni switchover (scope unit).".into(),
                params: vec![
                    ActionParam::string("scope", "unit (this unit becomes primary) or cluster").with_default("unit"),
                    ActionParam {
                        kind: "boolean".into(),
                        ..ActionParam::string("force", "not used by tether: a switchover never loses data")
                    },
                ],
                required: vec![],
                additional_properties: false,
            },
        ],
    }
}

fn operator_password(ctx: &HookContext) -> anyhow::Result<SecretString> {
    let pw = server::internal(ctx, &internal_label(&ctx.app))?;
    Ok(SecretString::new(pw.get("operator-password").cloned().ok_or_else(|| anyhow!("operator password missing"))?))
}

/// The groups and the charm's system users (with the internal secret's passwords) on the
/// server `admin` manages: made at every start on the primary, and before a single server
/// is handed to Patroni (which creates no users on an existing data directory).
async fn ensure_internal_roles(ctx: &HookContext, admin: &PgAdmin) -> anyhow::Result<()> {
    admin.ensure_groups().await?;
    let passwords = server::internal(ctx, &internal_label(&ctx.app))?;
    for (user, key) in SYSTEM_USERS {
        if let Some(p) = passwords.get(key) {
            admin.ensure_system_user(user, &SecretString::new(p.clone())).await?;
        }
    }
    Ok(())
}

/// The admin client of the server this application manages. In adopt mode `None` when
/// the adopted server cannot be managed now; the reason is then in the unit state (shown
/// by `settle_status`) and nothing may be created.
async fn admin(services: &Services, ctx: &mut HookContext) -> anyhow::Result<Option<Arc<PgAdmin>>> {
    if adopted(ctx).is_none() {
        let (_, port) = server_address(ctx).await?;
        return Ok(Some(services.pg.get(port, &operator_password(ctx)?).await?));
    }
    adopt::admin(ctx, ENGINE, |t| async move { services.pg.adopted(&t.admin_login()).await }).await
}

impl PostgresqlCharm {
    fn set_blocked(&self, ctx: &mut HookContext, rel: i64, reason: Option<&str>) {
        server::set_blocked(ctx, rel, reason);
    }

    /// Serves a `database` relation: user, database, grants, published fields.
    async fn serve(&self, ctx: &mut HookContext, rel: i64, mode: Serve) -> anyhow::Result<()> {
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
            ctx.log("WARNING", &format!("relation {rel}: refusing an invalid database name"));
            self.set_blocked(ctx, rel, Some(INVALID_DATABASE));
            return self.settle_status(ctx);
        }
        // One login per relation (after a rotation, the newest), with access to every
        // database its requests name.
        let first = relation_user(rel);
        let user = rotation::current_login(ctx, rel, &first)?;
        let password = provider::issued_password(ctx, DATABASE, rel, &user)?.unwrap_or_else(|| generate_password(PASSWORD_LEN));
        let roles = provider::union_roles(&requests);
        let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        // Databases of requests a v1 requirer withdrew: the user loses them.
        for gone in provider::answered_databases(ctx, rel)?.into_iter().filter(|d| !requests.iter().any(|r| &r.database == d)) {
            admin.withdraw_database(&user, &gone).await?;
            ctx.audit("revoked", &format!("{DATABASE}:{rel}"), &user, &format!("database {gone} (request withdrawn)"));
        }
        let mut grants = Vec::new();
        for request in &requests {
            let shared = self.database_shared(ctx, rel, &request.database)?;
            let ownership = if shared { Ownership::Shared } else { Ownership::Sole };
            grants.push(DatabaseGrant { name: &request.database, ownership, extra_user_roles: &request.extra_user_roles });
        }
        let wanted = RelationUser { user: &user, password: &password, extra_user_roles: &roles, databases: &grants, acts_as: Some(&first) };
        if reconcile::issue_relation_user(ctx, &*admin, DATABASE, rel, &wanted).await?.is_none() {
            return self.settle_status(ctx);
        }
        let ((host, port), read_only) = addresses(ctx).await?;
        let endpoint = format!("{host}:{port}");
        let version = server::primary_version(ctx);
        // An adopted server that offers TLS: requirers are told so, and given a CA they
        // verify the server's name as tether does.
        let (tls, tls_ca) = if adopted(ctx).is_some() { adopt::published_tls(ctx) } else { (false, None) };
        let options = if tls_ca.is_some() { "?sslmode=verify-full" } else { "" };
        let answers = requests
            .iter()
            .map(|request| {
                let database = &request.database;
                let uris = format!("postgresql://{user}:{}@{endpoint}/{database}{options}", password.expose());
                let mut offer = Offer::default();
                offer.user.insert("username".into(), user.clone());
                offer.user.insert("password".into(), password.expose().to_string());
                offer.user.insert("uris".into(), uris.clone());
                if request.wants_secret("read-only-uris") {
                    // The replicas (a libpq multi-host list), or the primary while there are none.
                    let readers = if read_only.is_empty() { &endpoint } else { &read_only };
                    let read_only_uris = format!("postgresql://{user}:{}@{readers}/{database}{options}", password.expose());
                    offer.user.insert("read-only-uris".into(), read_only_uris);
                }
                offer.tls.insert("tls".into(), if tls { "True" } else { "False" }.into());
                if let Some(ca) = &tls_ca {
                    offer.tls.insert("tls-ca".into(), ca.clone());
                }
                offer.plain.insert("database".into(), database.clone());
                offer.plain.insert("endpoints".into(), endpoint.clone());
                offer.plain.insert("read-only-endpoints".into(), read_only.clone());
                if let Some(v) = &version {
                    offer.plain.insert("version".into(), v.clone());
                }
                (request.clone(), offer)
            })
            .collect();
        provider::publish(ctx, rel, DATABASE, answers)?;
        self.settle_status(ctx)
    }

    /// Serves a legacy `db`/`db-admin` relation: the requirer's `database` (or, for a
    /// requirer that writes nothing, its application name), a user that is a superuser
    /// only on `db-admin`, and the pgsql keys in the application and leader-unit bags.
    async fn serve_legacy(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        if !ctx.leader {
            return Ok(());
        }
        let remote = ctx.remote_app(rel)?;
        let mut request = ctx.remote_app_data(rel)?;
        if !request.contains_key("database") {
            for u in ctx.remote_units(rel)? {
                let bag = ctx.relation_get(rel, &u)?;
                if bag.contains_key("database") {
                    request = bag;
                    break;
                }
            }
        }
        if request.contains_key("roles") {
            self.set_blocked(ctx, rel, Some(ROLES_REQUESTED));
            return self.settle_status(ctx);
        }
        if let Some(ext) = request.get("extensions").filter(|e| !e.is_empty()) {
            let enabled = |name: &str| ctx.config.get(&format!("plugin_{}_enable", name.replace('-', "_"))) == Some(&Value::Bool(true));
            if ext.split(',').map(|e| e.split(':').next().unwrap_or_default().trim()).any(|e| !enabled(e)) {
                self.set_blocked(ctx, rel, Some(EXTENSIONS_REQUESTED));
                return self.settle_status(ctx);
            }
        }
        let database = request.get("database").cloned().unwrap_or_else(|| remote.clone());
        if validate_database(&database).is_err() {
            self.set_blocked(ctx, rel, Some(INVALID_DATABASE));
            return self.settle_status(ctx);
        }
        let first = relation_user(rel);
        let user = rotation::current_login(ctx, rel, &first)?;
        let own_unit = ctx.relation_get(rel, &ctx.unit.clone())?;
        let password = match own_unit.get("password") {
            Some(p) if own_unit.get("user").map(String::as_str) == Some(user.as_str()) => SecretString::new(p.clone()),
            _ => generate_password(PASSWORD_LEN),
        };
        let roles = if endpoint == "db-admin" { "superuser" } else { "" };
        let ownership = if self.database_shared(ctx, rel, &database)? { Ownership::Shared } else { Ownership::Sole };
        let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        let grants = [DatabaseGrant { name: &database, ownership, extra_user_roles: roles }];
        let wanted = RelationUser { user: &user, password: &password, extra_user_roles: roles, databases: &grants, acts_as: Some(&first) };
        if reconcile::issue_relation_user(ctx, &*admin, endpoint, rel, &wanted).await?.is_none() {
            return self.settle_status(ctx);
        }
        let ((host, port), read_only) = addresses(ctx).await?;
        let conn = |hosts: &str, ports: &str| {
            format!(
                "host={hosts} dbname={database} port={ports} user={user} password={} fallback_application_name={remote}",
                password.expose()
            )
        };
        let master = conn(&host, &port.to_string());
        // The replicas as one libpq multi-host string (`host=a,b port=p,q`), or the primary
        // while there are none (as Canonical's Kubernetes charm points at its primary).
        let replicas: Vec<(&str, &str)> = read_only.split(',').filter_map(|e| e.rsplit_once(':')).collect();
        let standbys = match replicas.is_empty() {
            true => master.clone(),
            false => {
                let (hosts, ports): (Vec<&str>, Vec<&str>) = replicas.into_iter().unzip();
                conn(&hosts.join(","), &ports.join(","))
            }
        };
        let mut allowed = ctx.remote_units(rel)?;
        allowed.sort();
        let mut bag = Bag::from([
            ("master".to_string(), master),
            ("standbys".to_string(), standbys),
            ("host".to_string(), host.clone()),
            ("port".to_string(), port.to_string()),
            ("user".to_string(), user.clone()),
            ("password".to_string(), password.expose().to_string()),
            ("database".to_string(), database.clone()),
            ("allowed-units".to_string(), allowed.join(",")),
        ]);
        if let Some(v) = server::primary_version(ctx) {
            bag.insert("version".into(), v);
        }
        if let Some(ext) = request.get("extensions") {
            bag.insert("extensions".into(), ext.clone());
        }
        ctx.relation_replace_app(rel, &bag)?;
        ctx.relation_set_unit(rel, &bag)?;
        self.settle_status(ctx)
    }

    /// Whether another live relation of this application uses the same database.
    fn database_shared(&self, ctx: &HookContext, rel: i64, database: &str) -> anyhow::Result<bool> {
        for other in ctx.relation_ids(DATABASE)? {
            if other != rel && Request::read_all(&ctx.remote_app_data(other)?).iter().any(|r| r.database == database) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn broken(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        // A unit leaving (not the relation) also runs relation-broken: keep the user.
        if !ctx.leader || ctx.relation(rel)?.life == Life::Alive {
            return Ok(());
        }
        let first = relation_user(rel);
        // Unreachable now: the orphan sweep of the next update-status drops the users.
        let Some(admin) = admin(&self.services, ctx).await? else { return self.settle_status(ctx) };
        // Rotated logins first; the first user, which owns the objects, last.
        let logins = rotation::forget(ctx, rel, &first)?;
        reconcile::revoke_relation_logins(ctx, &*admin, endpoint, rel, &logins)
            .await
            .map_err(|e| anyhow!("Failed to delete user during {endpoint} relation broken event: {e}"))?;
        self.settle_status(ctx)
    }

    /// Start under Patroni: this unit's etcd member and Patroni; then the leader makes the
    /// groups and system users on the primary (replicas get them by replication) and
    /// re-serves every relation with the primary's address.
    async fn start_ha(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.set_status(WorkloadStatus::Maintenance, "starting etcd and Patroni")?;
        let settings = pg_settings::desired(ctx)?;
        cluster_ha::start(&LAYOUT, ctx, &self.services, settings.clone()).await?;
        let view = cluster_ha::await_primary(ctx).await?;
        cluster_ha::note_role(ctx, &view);
        cluster_ha::watch(ctx, &self.services);
        if ctx.leader {
            if let Some((_, port)) = view.primary {
                let admin = self.services.pg.get(port, &operator_password(ctx)?).await?;
                ensure_internal_roles(ctx, &admin).await?;
                ctx.state_set(server::STATE_VERSION, &admin.version().await?);
                if settings_state::applied(ctx).is_empty() {
                    // The cluster was bootstrapped with them.
                    settings_state::record(ctx, &settings)?;
                }
                // Patroni's own options wait for a config change: put in the shared
                // configuration while the cluster still forms, synchronous_mode_strict
                // (Canonical's default) would hold the writes that form it.
                self.configure_ha(ctx, &admin, false).await?;
                self.repair_drift(ctx).await?;
            }
        }
        self.settle_status(ctx)
    }

    /// The leader applies the config to a Patroni cluster: settings and (when
    /// `with_patroni_options`, or with any setting) Patroni's own options through its shared configuration (restarting the members when a setting
    /// needs it), extensions on the primary (replication carries them).
    async fn configure_ha(&self, ctx: &mut HookContext, admin: &PgAdmin, with_patroni_options: bool) -> anyhow::Result<()> {
        let desired = pg_settings::desired(ctx)?;
        let changed: Vec<String> = settings_state::changes(ctx, &desired).into_keys().collect();
        if !changed.is_empty() || (with_patroni_options && cluster_ha::dcs_pending(ctx)?) {
            let restart_only = admin.restart_only(&changed).await?;
            if !restart_only.is_empty() {
                settings_state::restarting(ctx, "PostgreSQL", &restart_only)?;
            }
            cluster_ha::apply_settings(&LAYOUT, ctx, &desired, restart_only).await?;
        }
        pg_settings::extensions(ctx, admin).await
    }

    /// `promote-to-primary`: scope `unit` switches the primary over to this unit through
    /// Patroni; scope `cluster` (promoting a standby cluster) has no meaning without
    /// asynchronous replication between clusters, which tether does not have.
    async fn promote_to_primary(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let scope = ctx.action_param_str("scope").unwrap_or_else(|| "unit".into());
        if scope != "unit" && scope != "cluster" {
            ctx.action_fail("Scope should be either cluster or unit");
            return Ok(());
        }
        if scope == "cluster" {
            ctx.action_fail("cluster scope promotes a standby cluster: tether has no asynchronous replication between clusters");
            return Ok(());
        }
        if !ha::is_ha(ctx) {
            ctx.action_fail("promote-to-primary needs an application deployed with more than one unit (Patroni)");
            return Ok(());
        }
        match cluster_ha::promote_self(&LAYOUT, ctx).await {
            Ok(()) => {
                ctx.action_log(&format!("{} is the primary", ctx.unit));
                Ok(())
            }
            Err(e) => {
                ctx.action_fail(&format!("switchover failed: {e}"));
                Ok(())
            }
        }
    }

    async fn get_password(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopted(ctx).is_some() {
            ctx.action_fail("get-password is not available on an adopted server: tether has no system users there");
            return Ok(());
        }
        let username = ctx.action_param_str("username").unwrap_or_else(|| "operator".into());
        // `patroni` is the user of Patroni's REST API (its password unlocks switchovers).
        let key = if username == cluster_ha::REST_USER { Some(cluster_ha::REST_PASSWORD_KEY) } else { None };
        let Some(key) = key.or_else(|| SYSTEM_USERS.iter().find(|(u, _)| *u == username).map(|(_, k)| *k)) else {
            ctx.action_fail(&format!(
                "The action can be run only for system users or Patroni: backup, replication, rewind, operator, monitoring, patroni not {username}"
            ));
            return Ok(());
        };
        let passwords = server::internal(ctx, &internal_label(&ctx.app))?;
        ctx.action_set("password", passwords.get(key).cloned().unwrap_or_default().into());
        Ok(())
    }

    async fn set_password(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopted(ctx).is_some() {
            ctx.action_fail(adopt::SET_PASSWORD_REFUSED);
            return Ok(());
        }
        if !ctx.leader {
            ctx.action_fail("The action can be run only on leader unit");
            return Ok(());
        }
        if convert::pending(&LAYOUT, ctx) {
            ctx.action_fail("the server is being turned into a Patroni cluster: try again once the units are active");
            return Ok(());
        }
        let patroni = ha::is_ha(ctx);
        let username = ctx.action_param_str("username").unwrap_or_else(|| "operator".into());
        let key = if patroni && username == cluster_ha::REST_USER { Some(cluster_ha::REST_PASSWORD_KEY) } else { None };
        let Some(key) = key.or_else(|| SYSTEM_USERS.iter().find(|(u, _)| *u == username).map(|(_, k)| *k)) else {
            ctx.action_fail(&format!(
                "The action can be run only for system users: backup, replication, rewind, operator, monitoring not {username}"
            ));
            return Ok(());
        };
        let key = &key;
        let new = ctx.action_param_str("password").map(SecretString::new).unwrap_or_else(|| generate_password(PASSWORD_LEN));
        if new.is_empty() {
            ctx.action_fail("Failed changing the password.");
            return Ok(());
        }
        let passwords = server::internal(ctx, &internal_label(&ctx.app))?;
        if passwords.get(*key).map(String::as_str) == Some(new.expose()) {
            ctx.log("INFO", "The old and new passwords are equal.");
            ctx.action_set("password", new.expose().into());
            return Ok(());
        }
        let label = internal_label(&ctx.app);
        if patroni && username == cluster_ha::REST_USER {
            // Only Patroni knows this one: every member's configuration changes.
            server::store_internal_password(ctx, &label, key, &new)?;
            cluster_ha::passwords_changed(&LAYOUT, ctx, &self.services, pg_settings::desired(ctx)?).await?;
            ctx.audit("rotated", "action:set-password", &username, "internal user password changed");
            ctx.action_set("password", new.expose().into());
            return Ok(());
        }
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(()) };
        let who = InternalUser { user: &username, label: &label, key, is_admin_login: username == "operator" };
        // The supervisor logs in to check a restarted server: give it the new password.
        // Under Patroni the server is Patroni's: its configuration follows instead.
        let supervise = async |ctx: &mut HookContext| {
            if patroni {
                return Ok(());
            }
            let spec =
                PgSpec::for_unit(&ctx.unit_dir(), server::primary_port(ctx)?, new.clone()).with_settings(settings_state::applied(ctx));
            Ok(self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?)
        };
        match reconcile::rotate_internal_password(ctx, &*admin, &who, &new, supervise).await {
            Ok(()) => {}
            Err(RotateError::Server(e)) => {
                ctx.log("ERROR", &format!("set-password for {username}: {e}"));
                ctx.action_fail("Failed changing the password.");
                return Ok(());
            }
            Err(RotateError::Context(e)) => return Err(e),
        }
        if patroni && ["operator", "replication", "rewind"].contains(&username.as_str()) {
            // Patroni logs in (and replicas stream) with these: every member follows.
            cluster_ha::passwords_changed(&LAYOUT, ctx, &self.services, pg_settings::desired(ctx)?).await?;
        }
        ctx.action_set("password", new.expose().into());
        Ok(())
    }
}

#[async_trait::async_trait]
impl ServerCharm for PostgresqlCharm {
    fn charm_meta(&self) -> CharmMeta {
        meta()
    }

    fn services(&self) -> &Services {
        &self.services
    }

    fn check_config(&self, config: &BTreeMap<String, Value>) -> Result<(), String> {
        pg_config::check(config)?;
        let effective = tether_core::config::effective(&meta(), config);
        pg_config::extensions(&effective)?;
        if let Ok(host) = host_resources() {
            pg_config::parameters(&effective, &host)?;
        }
        rotation::check_config(config)?;
        adopt::check_config(config)
    }

    fn check_config_change(&self, old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Result<(), String> {
        adopt::check_config_change(old, new)
    }

    fn install(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopted(ctx).is_some() {
            server::claim_role(ctx);
            ctx.set_status(WorkloadStatus::Maintenance, "adopting an existing PostgreSQL server")?;
            return Ok(());
        }
        server::claim_port_and_role(ctx)?;
        ha::decide_mode(ctx)?;
        ctx.set_status(WorkloadStatus::Maintenance, "installing PostgreSQL")?;
        Ok(())
    }

    /// The leader makes sure every internal password exists (never replacing one).
    fn leader_elected(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let mut keys: Vec<(&str, usize)> = SYSTEM_USERS.iter().map(|(_, k)| (*k, PASSWORD_LEN)).collect();
        keys.push((cluster_ha::REST_PASSWORD_KEY, PASSWORD_LEN));
        server::ensure_internal_secret(ctx, &internal_label(&ctx.app), &keys)
    }

    async fn start(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopted(ctx).is_none() {
            if convert::pending(&LAYOUT, ctx) && ctx.leader && server::is_primary(ctx) {
                return self.convert(ctx).await;
            }
            if !convert::pending(&LAYOUT, ctx) && ha::await_mode(ctx).await? {
                return self.start_ha(ctx).await;
            }
            if !server::is_primary(ctx) {
                // An added unit: the leader turns its single server into the cluster.
                convert::note_waiting(ctx);
                return self.settle_status(ctx);
            }
        }
        if !server::is_primary(ctx) {
            return self.settle_status(ctx);
        }
        if adopted(ctx).is_some() {
            // No server of our own: log in, check the admin, record the version.
            if let Some(admin) = admin(&self.services, ctx).await? {
                let version = admin.version().await?;
                ctx.state_set(server::STATE_VERSION, &version);
                self.repair_drift(ctx).await?;
            }
            return self.settle_status(ctx);
        }
        ctx.set_status(WorkloadStatus::Maintenance, "starting PostgreSQL")?;
        let dir = ctx.unit_dir();
        let label = internal_label(&ctx.app);
        let settings = pg_settings::for_start(ctx)?;
        let spec = |port, pw| PgSpec::for_unit(&dir, port, pw).with_settings(settings.clone());
        let (pw, port, moved) = server::start_workload(ctx, &self.services.supervisor, &label, "operator-password", spec).await?;
        settings_state::record(ctx, &settings)?;
        let admin = self.services.pg.get(port, &pw).await?;
        pg_settings::extensions(ctx, &admin).await?;
        admin.ensure_groups().await?;
        let passwords = server::internal(ctx, &internal_label(&ctx.app))?;
        for (user, key) in SYSTEM_USERS {
            if let Some(p) = passwords.get(key) {
                admin.ensure_system_user(user, &SecretString::new(p.clone())).await?;
            }
        }
        let version = admin.version().await?;
        ctx.state_set(server::STATE_VERSION, &version);
        if moved {
            // New endpoints for every relation (re-serving publishes them).
            self.repair_drift(ctx).await?;
        }
        self.settle_status(ctx)
    }

    /// Applies the config to the plain server tether runs (an adopted server's settings are
    /// its owner's): settings live or by a restart, plugin extensions, then legacy relations
    /// that waited for an extension are served again.
    async fn config_changed(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if convert::pending(&LAYOUT, ctx) {
            // Applied through Patroni's configuration once the cluster exists.
            return self.settle_status(ctx);
        }
        if ha::is_ha(ctx) {
            if ctx.leader && server::server_running(ctx, &self.services.supervisor) {
                if let Some((_, port)) = cluster_ha::cluster(ctx).await?.primary {
                    let admin = self.services.pg.get(port, &operator_password(ctx)?).await?;
                    self.configure_ha(ctx, &admin, true).await?;
                }
            }
            return self.settle_status(ctx);
        }
        if adopted(ctx).is_some() || !server::is_primary(ctx) || !server::server_running(ctx, &self.services.supervisor) {
            return self.settle_status(ctx);
        }
        let admin = self.services.pg.get(server::primary_port(ctx)?, &operator_password(ctx)?).await?;
        let desired = pg_settings::desired(ctx)?;
        match pg_settings::change(ctx, &admin, &desired).await? {
            settings_state::Change::NeedsRestart(names) => {
                settings_state::restarting(ctx, "PostgreSQL", &names)?;
                server::stop(ctx, &self.services.supervisor).await;
                self.start(ctx).await?;
            }
            settings_state::Change::Applied => {
                // The supervisor's restarts (after a crash) write what the server now runs with.
                let spec = PgSpec::for_unit(&ctx.unit_dir(), server::primary_port(ctx)?, operator_password(ctx)?).with_settings(desired);
                self.services.supervisor.ensure_running(&server::workload_key(ctx), spec).await?;
            }
            settings_state::Change::None => {}
        }
        pg_settings::extensions(ctx, &admin).await?;
        if ctx.leader {
            for ep in LEGACY {
                for rel in ctx.relation_ids(ep)? {
                    self.serve_endpoint(ctx, rel, ep).await?;
                }
            }
        }
        self.settle_status(ctx)
    }

    /// Active unless a relation request is blocked or the server is not running.
    fn settle_status(&self, ctx: &HookContext) -> anyhow::Result<()> {
        let patroni = ha::is_ha(ctx);
        let adopted = adopted(ctx);
        if !patroni && !server::is_primary(ctx) {
            if adopted.is_some() {
                return Ok(ctx.set_status(WorkloadStatus::Blocked, ADOPTED_EXTRA_UNIT)?);
            }
            if convert::waiting(ctx) {
                let leader = server::primary(ctx)?.map(|(u, _, _)| u).unwrap_or_else(|| "the leader".into());
                let message = format!("waiting for {leader} to turn its server into a Patroni cluster, then joins it as a replica");
                return Ok(ctx.set_status(WorkloadStatus::Waiting, &message)?);
            }
            return server::standby_status(ctx, HA);
        }
        if !patroni && convert::pending(&LAYOUT, ctx) {
            return Ok(ctx.set_status(WorkloadStatus::Maintenance, CONVERTING)?);
        }
        if patroni {
            if let Some((status, message)) = server::workload_problem(ctx, &self.services.supervisor, "Patroni") {
                return Ok(ctx.set_status(status, &message)?);
            }
            if !ctx.leader {
                let primary = cluster_ha::recorded_role(ctx).as_deref() == Some("primary");
                return Ok(ctx.set_status(WorkloadStatus::Active, if primary { PRIMARY } else { "" })?);
            }
        } else if adopted.is_some() {
            if let Some((status, message)) = adopt::problem(ctx) {
                return Ok(ctx.set_status(status, &message)?);
            }
        } else if let Some((status, message)) = server::workload_problem(ctx, &self.services.supervisor, "PostgreSQL") {
            return Ok(ctx.set_status(status, &message)?);
        }
        let legacy_in_use =
            LEGACY.iter().map(|ep| ctx.relation_ids(ep).map(|r| !r.is_empty())).collect::<Result<Vec<_>, _>>()?.contains(&true);
        if legacy_in_use && !ctx.relation_ids(DATABASE)?.is_empty() {
            ctx.set_status(WorkloadStatus::Blocked, MIXED_ENDPOINTS)?;
            return Ok(());
        }
        let blocked = if adopted.is_none() { settings_state::problem(ctx) } else { None }.or_else(|| server::first_blocked(ctx));
        match (blocked, adopted) {
            (Some(reason), _) => ctx.set_status(WorkloadStatus::Blocked, &reason)?,
            (None, Some((host, port))) => ctx.set_status(WorkloadStatus::Active, &adopt::active_message(ctx, &host, port, ENGINE))?,
            (None, None) if patroni && cluster_ha::recorded_role(ctx).as_deref() == Some("primary") => {
                ctx.set_status(WorkloadStatus::Active, PRIMARY)?
            }
            (None, None) => ctx.set_status(WorkloadStatus::Active, "")?,
        }
        Ok(())
    }

    /// The database is the truth for credentials: on every update-status the leader
    /// compares the relation users that exist with those that should, drops the ones
    /// no live relation owns, and re-ensures every live relation's user (recreating a
    /// user dropped by hand, resetting a password changed by hand). Users tether did not
    /// create (other names) are never touched.
    async fn repair_drift(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopted(ctx).is_none() {
            if self.scale_out(ctx).await? {
                return Ok(());
            }
            if convert::waiting(ctx) && ha::is_ha(ctx) {
                // The leader-settings-changed that should have started it did not (yet).
                return self.join_cluster(ctx).await;
            }
        }
        let patroni = ha::is_ha(ctx);
        if patroni && server::server_running(ctx, &self.services.supervisor) {
            // Every unit learns its role; the leader re-serves below, which rewrites the
            // endpoints of every relation when the primary moved.
            match cluster_ha::cluster(ctx).await {
                Ok(view) if view.primary.is_some() => cluster_ha::note_role(ctx, &view),
                Ok(_) => {
                    // A failover in progress: Patroni elects; the next update-status serves.
                    ctx.log("WARNING", "the Patroni cluster has no primary now");
                    return Ok(());
                }
                Err(e) => {
                    ctx.log("WARNING", &format!("cannot learn the primary: {e}"));
                    return Ok(());
                }
            }
        }
        let running = adopted(ctx).is_some() || server::server_running(ctx, &self.services.supervisor);
        if !ctx.leader || !(patroni || server::is_primary(ctx)) || !running {
            return Ok(());
        }
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(()) };
        let mut live = Vec::new();
        for ep in [DATABASE, "db", "db-admin"] {
            live.extend(ctx.relation_ids(ep)?.into_iter().map(|r| (ep, r)));
        }
        let expected = rotation::expected_logins(self, ctx)?;
        let existing = reconcile::drop_orphaned_users(ctx, &*admin, &expected).await?;
        for (ep, rel) in live {
            let current = rotation::current_login(ctx, rel, &relation_user(rel))?;
            match ep {
                DATABASE => self.serve(ctx, rel, Serve::Always).await?,
                _ => self.serve_legacy(ctx, rel, ep).await?,
            }
            if !existing.contains(&current) && !server::is_blocked(ctx, rel) {
                reconcile::note_recreated(ctx, &current, rel);
            }
        }
        Ok(())
    }

    async fn leader_settings_changed(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        if adopted(ctx).is_none() && convert::waiting(ctx) && ha::is_ha(ctx) {
            return self.join_cluster(ctx).await;
        }
        if ha::is_ha(ctx) && server::server_running(ctx, &self.services.supervisor) {
            cluster_ha::follow_passwords(&LAYOUT, ctx, &self.services, pg_settings::desired(ctx)?).await?;
        }
        self.settle_status(ctx)
    }

    async fn rotation_tick(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        rotation::tick(self, ctx, &self.services).await
    }

    async fn serve_endpoint(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE => self.serve(ctx, rel, Serve::IfChanged).await,
            "db" | "db-admin" => self.serve_legacy(ctx, rel, endpoint).await,
            PEERS if adopted(ctx).is_none() => self.scale_out(ctx).await.map(|_| ()),
            _ => Ok(()),
        }
    }

    async fn endpoint_broken(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE | "db" | "db-admin" => self.broken(ctx, rel, endpoint).await,
            _ => Ok(()),
        }
    }

    async fn run_action(&self, ctx: &mut HookContext, action: &str) -> anyhow::Result<()> {
        match action {
            "get-password" => self.get_password(ctx).await,
            "set-password" => self.set_password(ctx).await,
            adopt::ROTATE_ADMIN_PASSWORD => {
                adopt::rotate_action(ctx, async |ctx| admin(&self.services, ctx).await, generate_password(PASSWORD_LEN)).await
            }
            "get-primary" => {
                let primary = if ha::is_ha(ctx) {
                    cluster_ha::cluster(ctx).await?.primary.map(|(u, _)| u).unwrap_or_default()
                } else {
                    server::primary(ctx)?.map(|(u, _, _)| u).unwrap_or_default()
                };
                ctx.action_set("primary", primary.into());
                Ok(())
            }
            "promote-to-primary" => self.promote_to_primary(ctx).await,
            rotation::ACTION => rotation::run_action(self, ctx, &self.services).await,
            other => Err(anyhow!("action {other:?} not implemented")),
        }
    }

    async fn stop(&self, ctx: &mut HookContext) {
        if ha::is_ha(ctx) {
            cluster_ha::stop(&LAYOUT, ctx, &self.services).await;
        } else {
            server::stop(ctx, &self.services.supervisor).await;
        }
    }

    async fn after_remove(&self, ctx: &mut HookContext, port: Option<u16>) {
        if let Some((host, port)) = adopted(ctx) {
            // The adopted server is not ours: it keeps running, only our session goes.
            self.services.pg.forget_key(&format!("{host}:{port}")).await;
        } else if let Some(port) = port {
            self.services.pg.forget(port).await;
        }
    }
}

#[async_trait::async_trait]
impl rotation::RotatingCharm for PostgresqlCharm {
    fn login_endpoints(&self) -> &'static [&'static str] {
        &[DATABASE, "db", "db-admin"]
    }

    fn first_user(&self, _ctx: &HookContext, rel: i64) -> String {
        relation_user(rel)
    }

    fn rotated_user(&self, first: &str, generation: u32) -> String {
        tether_core::pg_plan::rotated_user(first, generation)
    }

    fn keeps_owner(&self) -> bool {
        true
    }

    async fn republish(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()> {
        match endpoint {
            DATABASE => self.serve(ctx, rel, Serve::Always).await,
            _ => self.serve_legacy(ctx, rel, endpoint).await,
        }
    }

    async fn retire(&self, ctx: &mut HookContext, login: &str, owner: &str) -> anyhow::Result<bool> {
        let Some(admin) = admin(&self.services, ctx).await? else { return Ok(false) };
        UserAdmin::retire_login(&*admin, login, owner).await?;
        Ok(true)
    }
}
