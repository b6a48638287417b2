//! What both halves of the mongodb charm read, the replica-set side (`mod.rs`: the
//! server, `database` and `cluster`) and the sharding side (`shards`): the charm itself,
//! its role and engine, its internal passwords, the unit that runs the server, and the
//! admin session of that server.

use super::ha;
use crate::charms::adopt;
use crate::charms::server;
use crate::charms::services::Services;
use crate::engine::context::{Bag, HookContext};
use crate::engines::mongo::{MongoAdmin, MongoEngine, MongoFlavor};
use crate::secret::SecretString;
use anyhow::anyhow;
use std::sync::Arc;

/// Unit state: which server runs (`mongod` or `ferretdb`), or `none` when neither is installed.
pub(super) const STATE_ENGINE: &str = "engine";

pub struct MongodbCharm {
    pub(super) services: Arc<Services>,
}

impl MongodbCharm {
    pub fn new(services: Arc<Services>) -> MongodbCharm {
        MongodbCharm { services }
    }
}

pub(super) use super::ha::internal_label;

pub(super) fn role(ctx: &HookContext) -> String {
    ctx.config_str("role").unwrap_or_else(|| "replication".into())
}

pub(super) fn internal(ctx: &HookContext) -> anyhow::Result<Bag> {
    server::internal(ctx, &internal_label(&ctx.app))
}

pub(super) fn operator_password(ctx: &HookContext) -> anyhow::Result<SecretString> {
    internal(ctx)?.get("operator-password").cloned().map(SecretString::new).ok_or_else(|| anyhow!("operator password missing"))
}

/// The unit that runs the server, its port and its engine.
pub(super) fn primary(ctx: &HookContext) -> anyhow::Result<Option<(String, u16, MongoEngine)>> {
    Ok(server::primary(ctx)?.map(|(unit, port, state)| {
        let engine =
            if state.get(STATE_ENGINE).map(String::as_str) == Some("mongod") { MongoEngine::Mongod } else { MongoEngine::FerretDb };
        (unit, port, engine)
    }))
}

/// The admin session of the server this application runs: under FerretDB over Patroni
/// the primary's FerretDB once it serves, else this unit's (every FerretDB writes to the
/// Patroni primary, and all of them know the users); in a mongod replica set the member
/// `hello` names primary.
pub(super) async fn admin(services: &Services, ctx: &HookContext) -> anyhow::Result<Arc<MongoAdmin>> {
    let port = if ha::is_ha(ctx) {
        match ha::endpoints(ctx, services).await? {
            Some(e) => e.primary.1,
            None => server::own_port(ctx)?,
        }
    } else if super::replset::is_replset(ctx) {
        // Users are made on the primary, whichever member mongod elected.
        super::replset::primary_port(ctx).await?.ok_or_else(|| anyhow!("the replica set has no primary now"))?
    } else {
        server::primary_port(ctx)?
    };
    Ok(services.mongo.get(port, &operator_password(ctx)?).await?)
}

/// How messages name the server before it is known which one answers.
pub(super) const ADOPTED_ENGINE: &str = "MongoDB";

/// The admin client of the server this application manages; in adopt mode `None` when
/// the adopted server cannot be managed now (the reason is in the unit state, see
/// `charms::adopt`), and nothing may be created.
pub(super) async fn managing_admin(services: &Services, ctx: &mut HookContext) -> anyhow::Result<Option<Arc<MongoAdmin>>> {
    if adopt::endpoint(ctx).is_none() {
        return Ok(Some(admin(services, ctx).await?));
    }
    let admin = adopt::admin(ctx, ADOPTED_ENGINE, |t| async move { services.mongo.adopted(&t.admin_login()).await }).await?;
    if let Some(a) = &admin {
        let engine = match a.flavor() {
            MongoFlavor::MongoDb => MongoEngine::Mongod,
            MongoFlavor::FerretDb => MongoEngine::FerretDb,
        };
        ctx.state_set(STATE_ENGINE, engine.name());
    }
    Ok(admin)
}

/// How an adopted server is named in the active status, from what its admin found.
pub(super) fn adopted_engine_name(ctx: &HookContext) -> &'static str {
    match ctx.state_get(STATE_ENGINE).as_deref() {
        Some("mongod") => "MongoDB",
        Some("ferretdb") => "FerretDB",
        _ => ADOPTED_ENGINE,
    }
}

pub(super) fn engine_of(ctx: &HookContext) -> MongoEngine {
    if ctx.state_get(STATE_ENGINE).as_deref() == Some("mongod") {
        MongoEngine::Mongod
    } else {
        MongoEngine::FerretDb
    }
}
