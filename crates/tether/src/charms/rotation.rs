//! Credential rotation without downtime, for every server charm that issues relation
//! users (postgresql-k8s, mysql-k8s, mongodb): the `rotate-credentials` action, the
//! `credential-rotation-interval` schedule and the `credential-grace-period` after which
//! the previous login is retired.
//!
//! A rotation issues the relation's next login with the same grants (PostgreSQL: a login
//! that acts as the relation's first user, which keeps owning the objects), publishes it
//! the way the requirer reads it (a new revision of the same secret for v1 requirers and
//! data-integrator, new databag fields for v0 and legacy ones) and records the previous
//! login as retiring. Only when the grace period is over is that login retired on the
//! server (its sessions ended then, not before). The bookkeeping (`tether_core::rotation`)
//! lives in the leader settings, one key per relation, committed with the hook that
//! changed the server, so a controller killed mid-rotation leaves either the old state
//! (the new login, if created, is an orphan drift repair drops) or the new one: one or two
//! valid logins, never zero.
//!
//! Written once here; a charm says what differs through [`RotatingCharm`]: its endpoints,
//! its user names, and how it publishes and retires.

use super::services::Services;
use crate::engine::context::{Bag, HookContext};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tether_core::charm_meta::{ActionParam, ActionSpec, ConfigOption, OptionType};
use tether_core::data_interfaces::answer_label;
use tether_core::rotation::{policy, Logins, Policy, DEFAULT_GRACE};

pub const ACTION: &str = "rotate-credentials";
pub const INTERVAL: &str = "credential-rotation-interval";
pub const GRACE: &str = "credential-grace-period";
/// How soon a tick that could not reach the server looks again.
const RETRY: i64 = 15;

/// What a charm tells the rotation about itself.
#[async_trait::async_trait]
pub trait RotatingCharm: Send + Sync {
    /// The provider endpoints whose relations have logins.
    fn login_endpoints(&self) -> &'static [&'static str];
    /// The relation's first user.
    fn first_user(&self, ctx: &HookContext, rel: i64) -> String;
    /// The login of the relation's `generation`th rotation.
    fn rotated_user(&self, first: &str, generation: u32) -> String;
    /// Whether the first user stays, without login, as the owner of the relation's
    /// objects once retired (PostgreSQL).
    fn keeps_owner(&self) -> bool {
        false
    }
    /// Serves the relation again with its current login (from [`logins`]), publishing it.
    async fn republish(&self, ctx: &mut HookContext, rel: i64, endpoint: &str) -> anyhow::Result<()>;
    /// Retires `login` on the server (see `UserAdmin::retire_login`); `Ok(false)` when the
    /// server cannot be managed now (the next tick tries again).
    async fn retire(&self, ctx: &mut HookContext, login: &str, owner: &str) -> anyhow::Result<bool>;
}

/// The two options, for the charms' metadata.
pub fn config_options() -> Vec<ConfigOption> {
    vec![
        ConfigOption {
            name: INTERVAL.into(),
            kind: OptionType::String,
            default: Some(Value::String(String::new())),
            description: "How often every integration's credentials are rotated without downtime (a Go duration such as 720h; empty: never)."
                .into(),
        },
        ConfigOption {
            name: GRACE.into(),
            kind: OptionType::String,
            default: Some(Value::String(DEFAULT_GRACE.into())),
            description: "How long the previous credentials keep working after a rotation (a Go duration); then they are refused and their sessions ended."
                .into(),
        },
    ]
}

/// The `rotate-credentials` action.
pub fn action_spec() -> ActionSpec {
    let param = |name: &str, kind: &str, description: &str| ActionParam {
        name: name.into(),
        kind: kind.into(),
        description: description.into(),
        default: None,
        enum_values: vec![],
    };
    ActionSpec {
        name: ACTION.into(),
        description: "Issues new credentials for one integration (relation-id) or every integration of an application (application) \
                      without downtime: the previous ones keep working for credential-grace-period. Leader only."
            .into(),
        params: vec![
            param("relation-id", "integer", "the integration whose credentials rotate"),
            param("application", "string", "rotate every integration of this application"),
        ],
        required: vec![],
        additional_properties: false,
    }
}

/// The config check: both options must read.
pub fn check_config(config: &BTreeMap<String, Value>) -> Result<(), String> {
    policy_of(config).map(|_| ())
}

fn policy_of(config: &BTreeMap<String, Value>) -> Result<Policy, String> {
    let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    policy(&text(INTERVAL), &text(GRACE))
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
}

fn key(rel: i64) -> String {
    format!("rotation.{rel}")
}

/// Every relation's record, read from the leader settings once (one store read for a
/// loop over all relations, instead of one per relation).
struct Records(Bag);

impl Records {
    fn read(ctx: &HookContext) -> anyhow::Result<Records> {
        Ok(Records(ctx.leader_settings()?))
    }

    /// The relation's logins (none recorded: the first user only).
    fn logins(&self, rel: i64) -> anyhow::Result<Logins> {
        match self.0.get(&key(rel)) {
            Some(text) => Ok(serde_json::from_str(text)?),
            None => Ok(Logins::default()),
        }
    }
}

/// The relation's logins as the leader settings record them.
pub fn logins(ctx: &HookContext, rel: i64) -> anyhow::Result<Logins> {
    Records::read(ctx)?.logins(rel)
}

fn save(ctx: &mut HookContext, rel: i64, logins: &Logins) -> anyhow::Result<()> {
    ctx.leader_set(&BTreeMap::from([(key(rel), serde_json::to_string(logins)?)]))?;
    Ok(())
}

/// The login the relation publishes now.
pub fn current_login(ctx: &HookContext, rel: i64, first: &str) -> anyhow::Result<String> {
    Ok(logins(ctx, rel)?.current(first).to_string())
}

/// Every login the server must keep for the charm's live relations: drift repair's
/// expected users (the published logins, those in their grace period, and the owners).
pub fn expected_logins<C: RotatingCharm + ?Sized>(charm: &C, ctx: &HookContext) -> anyhow::Result<Vec<String>> {
    let records = Records::read(ctx)?;
    let mut out = Vec::new();
    for (_, rel) in login_relations(charm, ctx)? {
        out.extend(records.logins(rel)?.live(&charm.first_user(ctx, rel), charm.keeps_owner()));
    }
    Ok(out)
}

/// After the relation is gone: every login it had (published, retiring, first), for the
/// charm to drop, and its record forgotten.
pub fn forget(ctx: &mut HookContext, rel: i64, first: &str) -> anyhow::Result<Vec<String>> {
    let all = logins(ctx, rel)?.live(first, true);
    if ctx.leader {
        ctx.leader_set(&BTreeMap::from([(key(rel), String::new())]))?;
    }
    Ok(all)
}

/// The login the relation's published answer names (v1 or v0 secret, v0 or legacy field).
fn published_login(ctx: &HookContext, endpoint: &str, rel: i64) -> anyhow::Result<Option<String>> {
    if let Some(id) = ctx.secret_id_by_label(&answer_label(endpoint, rel, "user", 0))? {
        if let Some(user) = ctx.secret_get(&id)?.get("username") {
            return Ok(Some(user.clone()));
        }
    }
    let own = ctx.relation_get(rel, &ctx.app.clone())?;
    Ok(own.get("username").or_else(|| own.get("user")).cloned())
}

/// The relations on the charm's login endpoints, with their endpoint.
fn login_relations<C: RotatingCharm + ?Sized>(charm: &C, ctx: &HookContext) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for ep in charm.login_endpoints() {
        out.extend(ctx.relation_ids(ep)?.into_iter().map(|r| (*ep, r)));
    }
    Ok(out)
}

/// Rotates one relation: the next login issued and published, the current one retiring
/// at the end of the grace period. `Err` carries why not, in the action's words; nothing
/// is recorded then (a login the server created meanwhile is an orphan drift repair drops).
async fn rotate_one<C: RotatingCharm + ?Sized>(
    charm: &C,
    ctx: &mut HookContext,
    endpoint: &str,
    rel: i64,
    grace: Duration,
    why: &str,
) -> anyhow::Result<Result<(String, i64), String>> {
    let first = charm.first_user(ctx, rel);
    let before = logins(ctx, rel)?;
    let next = charm.rotated_user(&first, before.generation + 1);
    let at = now();
    let after = match before.rotated(&first, &next, at, grace) {
        Ok(after) => after,
        Err(e) => return Ok(Err(format!("relation {rel}: {e} until {}", rfc3339(e.until)))),
    };
    save(ctx, rel, &after)?;
    charm.republish(ctx, rel, endpoint).await?;
    if published_login(ctx, endpoint, rel)?.as_deref() != Some(next.as_str()) {
        save(ctx, rel, &before)?;
        return Ok(Err(format!("relation {rel}: the new credentials could not be issued (see the unit's status)")));
    }
    let retiring = after.retiring.as_ref().map(|r| (r.login.clone(), r.until)).unwrap_or_default();
    ctx.audit("issued", &format!("{endpoint}:{rel}"), &next, &format!("{why}: {} retires at {}", retiring.0, rfc3339(retiring.1)));
    ctx.log("INFO", &format!("relation {rel}: credentials rotated ({why}); the previous ones work until {}", rfc3339(retiring.1)));
    Ok(Ok((next, retiring.1)))
}

/// `rotate-credentials`: `relation-id` or `application`, leader only; every named relation
/// is checked before any is rotated.
pub async fn run_action<C: RotatingCharm + ?Sized>(charm: &C, ctx: &mut HookContext, services: &Arc<Services>) -> anyhow::Result<()> {
    if !ctx.leader {
        ctx.action_fail("The action can be run only on leader unit");
        return Ok(());
    }
    let policy = match policy_of(&ctx.config) {
        Ok(p) => p,
        Err(e) => {
            ctx.action_fail(&e);
            return Ok(());
        }
    };
    let relations = login_relations(charm, ctx)?;
    let targets: Vec<(&str, i64)> = match (ctx.action_param_str("relation-id"), ctx.action_param_str("application")) {
        (Some(id), None) => match id.trim().parse::<i64>().ok().and_then(|id| relations.iter().find(|(_, r)| *r == id)) {
            Some(found) => vec![*found],
            None => {
                ctx.action_fail(&format!("relation {id} is not an integration of {} that has credentials", ctx.app));
                return Ok(());
            }
        },
        (None, Some(app)) => {
            let mut found = Vec::new();
            for (ep, rel) in &relations {
                if ctx.remote_app(*rel)? == app {
                    found.push((*ep, *rel));
                }
            }
            if found.is_empty() {
                ctx.action_fail(&format!("application {app:?} has no integration with {} that has credentials", ctx.app));
                return Ok(());
            }
            found
        }
        _ => {
            ctx.action_fail("give exactly one of relation-id or application");
            return Ok(());
        }
    };
    let records = Records::read(ctx)?;
    for (_, rel) in &targets {
        if let Some(r) = &records.logins(*rel)?.retiring {
            ctx.action_fail(&format!(
                "relation {rel}: the previous credentials are still in their grace period until {}; rotate again after that",
                rfc3339(r.until)
            ));
            return Ok(());
        }
    }
    let mut results = serde_json::Map::new();
    for (endpoint, rel) in targets {
        match rotate_one(charm, ctx, endpoint, rel, policy.grace, "rotate-credentials").await? {
            Ok((login, until)) => {
                let entry = serde_json::json!({"username": login, "previous-valid-until": rfc3339(until)});
                results.insert(rel.to_string(), entry);
            }
            Err(why) => {
                ctx.action_fail(&why);
                break;
            }
        }
    }
    ctx.action_set("rotated", Value::Object(results));
    wake_when_due(charm, ctx, services)
}

/// The schedule, on the leader (update-status and config-changed): logins whose grace
/// period is over are retired, relations whose interval has passed are rotated, and a
/// wake-up is set for the next of those. A server that cannot be reached is tried again
/// soon; nothing here fails the hook.
pub async fn tick<C: RotatingCharm + ?Sized>(charm: &C, ctx: &mut HookContext, services: &Arc<Services>) -> anyhow::Result<()> {
    if !ctx.leader {
        return Ok(());
    }
    let policy = match policy_of(&ctx.config) {
        Ok(p) => p,
        Err(_) => return Ok(()),
    };
    let mut retry = false;
    let records = Records::read(ctx)?;
    for (endpoint, rel) in login_relations(charm, ctx)? {
        // Each iteration writes only its own relation's record: one read serves them all.
        let state = records.logins(rel)?;
        let first = charm.first_user(ctx, rel);
        let at = now();
        if let Some(due) = state.retire_due(at).cloned() {
            match charm.retire(ctx, &due.login, &first).await {
                Ok(true) => {
                    save(ctx, rel, &Logins { retiring: None, ..state })?;
                    ctx.audit("retired", &format!("{endpoint}:{rel}"), &due.login, "credential grace period over");
                    ctx.log("INFO", &format!("relation {rel}: the previous credentials ({}) were retired", due.login));
                }
                Ok(false) => retry = true,
                Err(e) => {
                    ctx.log("WARNING", &format!("relation {rel}: retiring the previous credentials failed, will retry: {e:#}"));
                    retry = true;
                }
            }
        } else if policy.interval.is_some() && state.issued_at == 0 {
            // The schedule starts counting when it first sees the relation.
            save(ctx, rel, &Logins { issued_at: at, ..state })?;
        } else if state.rotation_due(at, policy.interval) {
            match rotate_one(charm, ctx, endpoint, rel, policy.grace, "credential-rotation-interval").await {
                Ok(Ok(_)) => {}
                Ok(Err(why)) => {
                    ctx.log("WARNING", &format!("scheduled rotation: {why}"));
                    retry = true;
                }
                Err(e) => {
                    ctx.log("WARNING", &format!("relation {rel}: scheduled rotation failed, will retry: {e:#}"));
                    retry = true;
                }
            }
        }
    }
    if retry {
        wake_at(ctx, services, now() + RETRY);
    }
    wake_when_due(charm, ctx, services)
}

/// Sets a wake-up (an `update-status` on this unit) for the next retirement or scheduled
/// rotation of any relation.
pub fn wake_when_due<C: RotatingCharm + ?Sized>(charm: &C, ctx: &HookContext, services: &Arc<Services>) -> anyhow::Result<()> {
    if !ctx.leader {
        return Ok(());
    }
    let interval = policy_of(&ctx.config).ok().and_then(|p| p.interval);
    let records = Records::read(ctx)?;
    let mut next: Option<i64> = None;
    for (_, rel) in login_relations(charm, ctx)? {
        if let Some(due) = records.logins(rel)?.next_due(interval) {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    if let Some(at) = next {
        wake_at(ctx, services, at);
    }
    Ok(())
}

/// Asks the engine for `update-status` on this unit at `at` (seconds since the epoch),
/// unless a wake-up at or before it is already set. Wake-ups live in memory: after a
/// controller restart the first `start`/`update-status` sets them again.
fn wake_at(ctx: &HookContext, services: &Arc<Services>, at: i64) {
    let unit_key = format!("{}/{}", ctx.model, ctx.unit);
    {
        let mut set = services.wakeups.lock().unwrap_or_else(|p| p.into_inner());
        match set.get(&unit_key) {
            Some(existing) if *existing <= at && *existing > now() => return,
            _ => set.insert(unit_key.clone(), at),
        };
    }
    let (model, unit, services) = (ctx.model.clone(), ctx.unit.clone(), services.clone());
    tokio::spawn(async move {
        let wait = (at - now()).max(0) as u64;
        // A second past the deadline, so the hook finds it due.
        tokio::time::sleep(Duration::from_secs(wait + 1)).await;
        {
            let mut set = services.wakeups.lock().unwrap_or_else(|p| p.into_inner());
            if set.get(&unit_key) == Some(&at) {
                set.remove(&unit_key);
            }
        }
        if let Some(engine) = services.engine.get().and_then(std::sync::Weak::upgrade) {
            let _ = engine.request_update_status(&model, &unit);
        }
    });
}
