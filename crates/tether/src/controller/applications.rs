//! Applications and units: deploy, add-unit, remove-unit, remove-application, config
//! and resolve. Each validates everything first, then records the change and queues
//! Juju's hooks for it in one store transaction (the hook plans of units coming and
//! going are `lifecycle`'s), then wakes the affected units.

use super::error::{short, ApiError, ApiResult};
use super::inputs::{config_pairs, stage_local_charm};
use super::lifecycle::{add_units, depart_unit, remove_applications};
use super::lookup::{existing_app, resolve_model};
use super::resources;
use super::state::Controller;
use crate::charms;
use crate::engine::charm::CharmSource;
use crate::store::{AppBag, AppRow, RelEndpoint, RelationRow, StoreError, Tx};
use serde_json::Value;
use std::collections::BTreeMap;
use tether_core::charm_meta::CharmOrigin;
use tether_core::charm_meta::{CharmMeta, Role};
use tether_core::config;
use tether_core::events::{Event, HookKind};
use tether_core::life::Life;
use tether_core::names::{validate_application, UnitName};
use tether_core::status::WorkloadStatus;
use tether_core::wire::{ConfigView, Reply, SettingView};

/// What `deploy` asks for.
pub struct DeployRequest<'a> {
    pub charm: &'a str,
    pub app: Option<String>,
    pub config: &'a [String],
    pub num_units: u32,
    /// `NAME=PATH` (absolute) of each `--resource`.
    pub resources: &'a [String],
    pub trust: bool,
    /// Check everything and say what would be deployed; record nothing.
    pub dry_run: bool,
}

pub fn deploy(c: &Controller, model: Option<String>, req: DeployRequest<'_>) -> ApiResult {
    let DeployRequest { charm, app, config: cfg, num_units, resources, trust, dry_run } = req;
    let m = resolve_model(c, model)?;
    let local = charm.starts_with('.') || charm.starts_with('/');
    let (canonical, meta, origin, staged) = if local {
        let (meta, staged) = stage_local_charm(c, &m.uuid, charm)?;
        (meta.name.clone(), meta, CharmOrigin::Local, Some(staged))
    } else {
        let canonical = charms::canonical_name(charm)
            .ok_or_else(|| ApiError::invalid(format!("cannot resolve charm or bundle {:?}: charm or bundle not found", short(charm))))?;
        let native = c.charms.builtin(canonical).ok_or_else(|| ApiError::invalid(format!("charm {canonical:?} not available")))?;
        (canonical.to_string(), native.meta(), CharmOrigin::Builtin, None)
    };
    let discard = |staged: &Option<std::path::PathBuf>| {
        if let Some(s) = staged {
            let _ = std::fs::remove_dir_all(s);
        }
    };
    let name = app.unwrap_or_else(|| if local { meta.name.clone() } else { charm.to_string() });
    let checked = (|| {
        validate_application(&name)?;
        let values = config::apply(&meta, &BTreeMap::new(), &config_pairs(cfg, &name)?, &[])?;
        if let Some(native) = c.charms.charm_for(&canonical, origin, &meta) {
            native.validate_config(&values).map_err(ApiError::Invalid)?;
        }
        Ok::<_, ApiError>(values)
    })();
    let (values, staged_resources) = match checked.and_then(|v| Ok((v, resources::stage(&c.home, &m.uuid, &name, &meta, resources)?))) {
        Ok(v) => v,
        Err(e) => {
            discard(&staged);
            return Err(e);
        }
    };
    let n = if meta.subordinate { 0 } else { num_units };
    if dry_run {
        discard(&staged);
        if let Some(r) = &staged_resources {
            r.discard();
        }
        let exists = c.store.read(|tx| tx.app(&m.name, &name))?.is_some();
        if exists {
            return Err(ApiError::invalid(format!("cannot add application {name:?}: application already exists")));
        }
        return Ok(Reply::Done { info: dry_run_lines(&canonical, local, &name, n, &values, resources, trust), output: None });
    }
    let resource_paths = staged_resources.as_ref().map(|r| r.paths.clone()).unwrap_or_default();
    let settings = if trust { BTreeMap::from([("trust".to_string(), "true".to_string())]) } else { BTreeMap::new() };
    crate::failpoint::hit("deploy.after-validate");
    let written = c.store.write(|tx| {
        if tx.app(&m.name, &name)?.is_some() {
            return Err(ApiError::invalid(format!("cannot add application {name:?}: application already exists")));
        }
        tx.create_app(
            &m.name,
            &AppRow {
                name: name.clone(),
                charm: canonical.clone(),
                meta: meta.clone(),
                origin,
                rev: 0,
                config: values.clone(),
                status: WorkloadStatus::Unknown,
                message: String::new(),
                since: String::new(),
                life: Life::Alive,
            },
        )?;
        for peer in meta.peers() {
            let id = tx.next_relation_id(&m.name)?;
            tx.create_relation(
                &m.name,
                &RelationRow {
                    id,
                    key: format!("{name}:{}", peer.name),
                    interface: peer.interface.clone(),
                    scope: peer.scope,
                    life: Life::Alive,
                    endpoints: vec![RelEndpoint { app: name.clone(), endpoint: peer.name.clone(), role: Role::Peer }],
                },
            )?;
        }
        tx.set_app_bag(&m.name, &name, AppBag::Resources, &resource_paths)?;
        tx.set_app_bag(&m.name, &name, AppBag::Settings, &settings)?;
        Ok(add_units(tx, &m.name, &name, n)?)
    });
    let units = match written {
        Ok(u) => u,
        Err(e) => {
            discard(&staged);
            if let Some(r) = &staged_resources {
                r.discard();
            }
            return Err(e);
        }
    };
    if let Some(r) = staged_resources {
        r.commit();
    }
    crate::failpoint::hit("deploy.after-store");
    if let Some(s) = &staged {
        let dest = s.with_file_name(&name);
        let _ = std::fs::remove_dir_all(&dest);
        let _ = std::fs::rename(s, &dest);
    }
    c.engine.kick_all(&m.name, units);
    let source = if local { "local charm" } else { "built-in charm" };
    Ok(Reply::done(format!("Deployed {name:?} from {source} {canonical:?}, revision 0")))
}

/// What `deploy --dry-run` prints: where the charm comes from, then what would be
/// deployed (application, units, the config that differs from the charm's defaults).
fn dry_run_lines(
    charm: &str,
    local: bool,
    app: &str,
    units: u32,
    config: &BTreeMap<String, Value>,
    resources: &[String],
    trust: bool,
) -> Vec<String> {
    let source = if local { "local charm" } else { "built-in charm" };
    let mut lines = vec![
        format!("Located {source} {charm:?}"),
        format!("Deploy of {source} {charm:?} would create application {app:?} with {units} unit{}", if units == 1 { "" } else { "s" }),
    ];
    for (k, v) in config {
        let v = match v {
            // A value that may be a credential is named, never shown.
            _ if ["password", "token", "credential"].iter().any(|w| k.contains(w)) => "(hidden)".to_string(),
            Value::String(s) => short(s),
            other => short(&other.to_string()),
        };
        lines.push(format!("  config {k}={v}"));
    }
    for r in resources {
        lines.push(format!("  resource {}", short(r.split_once('=').map(|(n, _)| n).unwrap_or(r))));
    }
    if trust {
        lines.push("  trusted (credential-get)".into());
    }
    lines.push("Dry run: nothing was deployed".into());
    lines
}

pub fn add_unit(c: &Controller, model: Option<String>, app: &str, n: u32) -> ApiResult {
    let m = resolve_model(c, model)?;
    if n == 0 {
        return Err(ApiError::Usage("--num-units must be a positive integer".into()));
    }
    let units = c.store.write(|tx| {
        let a = existing_app(tx, &m.name, app)?;
        if a.meta.subordinate {
            return Err(ApiError::invalid(format!("cannot add units to subordinate application {app:?}")));
        }
        Ok(add_units(tx, &m.name, app, n)?)
    })?;
    let names = units.join(", ");
    c.engine.kick_all(&m.name, units.clone());
    // Remote units that got joins for the new units must wake too.
    let all: Vec<String> = c.store.read(|tx| tx.units(&m.name, None))?.into_iter().map(|u| u.name).collect();
    c.engine.kick_all(&m.name, all);
    Ok(Reply::done(format!("added {names}")))
}

pub fn remove_unit(c: &Controller, model: Option<String>, targets: &[String], num_units: Option<u32>) -> ApiResult {
    let m = resolve_model(c, model)?;
    if targets.is_empty() {
        return Err(ApiError::Usage("no units specified".into()));
    }
    let (woken, removed) = c.store.write(|tx| {
        let mut chosen = Vec::new();
        for t in targets {
            if let Some(n) = num_units {
                let a = existing_app(tx, &m.name, t)?;
                let mut alive: Vec<String> =
                    tx.units(&m.name, Some(&a.name))?.into_iter().filter(|u| u.life == Life::Alive).map(|u| u.name).collect();
                if n as usize > alive.len() {
                    return Err(ApiError::invalid(format!("cannot remove {n} units from {t:?}: it has {}", alive.len())));
                }
                chosen.extend(alive.split_off(alive.len() - n as usize));
            } else {
                let un = UnitName::parse(t)?;
                let unit = un.to_string();
                match tx.unit(&m.name, &unit)? {
                    Some(u) if u.principal.is_none() => chosen.push(unit),
                    Some(_) => return Err(ApiError::invalid(format!("unit {unit:?} is a subordinate, remove its relation instead"))),
                    None => return Err(ApiError::invalid(format!("unit {unit:?} not found"))),
                }
            }
        }
        let mut woken = Vec::new();
        for u in &chosen {
            woken.extend(depart_unit(tx, &m.name, u)?);
        }
        Ok((woken, chosen))
    })?;
    c.engine.kick_all(&m.name, woken);
    Ok(Reply::Done { info: removed.iter().map(|u| format!("will remove unit {u}")).collect(), output: None })
}

pub fn remove_application(c: &Controller, model: Option<String>, apps: &[String], _force: bool) -> ApiResult {
    let m = resolve_model(c, model)?;
    if apps.is_empty() {
        return Err(ApiError::Usage("no application specified".into()));
    }
    remove_applications(c, &m.name, apps)?;
    Ok(Reply::Done { info: apps.iter().map(|a| format!("will remove application {a}")).collect(), output: None })
}

fn setting_views(meta: &CharmMeta, set: &BTreeMap<String, Value>) -> BTreeMap<String, SettingView> {
    meta.config
        .iter()
        .map(|o| {
            let value = set.get(&o.name).or(o.default.as_ref()).cloned();
            let source = if set.contains_key(&o.name) {
                "user"
            } else if o.default.is_some() {
                "default"
            } else {
                "unset"
            };
            (
                o.name.clone(),
                SettingView {
                    default: o.default.clone(),
                    description: o.description.clone(),
                    source: source.into(),
                    kind: o.kind.as_str().into(),
                    value,
                },
            )
        })
        .collect()
}

pub fn config_get(c: &Controller, model: Option<String>, app: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let a = c.store.read(|tx| existing_app(tx, &m.name, app))?;
    let trusted = c.store.read(|tx| tx.app_bag(&m.name, app, AppBag::Settings))?.get("trust").is_some_and(|t| t == "true");
    let trust = SettingView {
        default: Some(false.into()),
        description: "Does this application have access to trusted credentials".into(),
        source: if trusted { "user" } else { "default" }.into(),
        kind: "bool".into(),
        value: Some(trusted.into()),
    };
    Ok(Reply::Config {
        config: ConfigView {
            application: a.name.clone(),
            charm: a.charm.clone(),
            settings: setting_views(&a.meta, &a.config),
            application_config: BTreeMap::from([("trust".to_string(), trust)]),
        },
    })
}

/// Queues `config-changed` on every unit of `app` (an application setting changed);
/// returns the units to wake.
fn queue_config_changed(tx: &Tx<'_>, model: &str, app: &str) -> Result<Vec<String>, StoreError> {
    let units: Vec<String> = tx.units(model, Some(app))?.into_iter().map(|u| u.name).collect();
    for u in &units {
        tx.enqueue(model, u, &Event::simple(HookKind::ConfigChanged))?;
    }
    Ok(units)
}

/// `trust APP [--remove]`: records the application's trust (what `credential-get` checks)
/// and runs `config-changed` on its units, as a change of application config does in Juju.
pub fn trust(c: &Controller, model: Option<String>, app: &str, trusted: bool) -> ApiResult {
    let m = resolve_model(c, model)?;
    let woken = c.store.write(|tx| {
        existing_app(tx, &m.name, app)?;
        let mut settings = tx.app_bag(&m.name, app, AppBag::Settings)?;
        if settings.get("trust").is_some_and(|t| t == "true") == trusted {
            return Ok(vec![]);
        }
        settings.insert("trust".to_string(), trusted.to_string());
        tx.set_app_bag(&m.name, app, AppBag::Settings, &settings)?;
        Ok::<_, ApiError>(queue_config_changed(tx, &m.name, app)?)
    })?;
    c.engine.kick_all(&m.name, woken);
    Ok(Reply::Done { info: vec![], output: None })
}

pub fn config_set(c: &Controller, model: Option<String>, app: &str, set: &[String], reset: &[String]) -> ApiResult {
    let m = resolve_model(c, model)?;
    let woken = c.store.write(|tx| {
        let a = existing_app(tx, &m.name, app)?;
        let pairs = config_pairs(set, app)?;
        let next = config::apply(&a.meta, &a.config, &pairs, reset)?;
        if let Some(native) = c.charms.builtin(&a.charm) {
            native.validate_config(&next).map_err(ApiError::Invalid)?;
            native
                .validate_config_change(&config::effective(&a.meta, &a.config), &config::effective(&a.meta, &next))
                .map_err(ApiError::Invalid)?;
        }
        if config::effective(&a.meta, &next) == config::effective(&a.meta, &a.config) {
            return Ok(vec![]);
        }
        tx.set_app_config(&m.name, app, &next)?;
        Ok::<_, ApiError>(queue_config_changed(tx, &m.name, app)?)
    })?;
    c.engine.kick_all(&m.name, woken);
    Ok(Reply::Done { info: vec![], output: None })
}

pub fn resolve(c: &Controller, model: Option<String>, unit: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let name = UnitName::parse(unit)?.to_string();
    c.store.write(|tx| {
        let u = tx.unit(&m.name, &name)?.ok_or_else(|| ApiError::invalid(format!("unit {name:?} not found")))?;
        if u.error_hook.is_none() {
            return Err(ApiError::invalid(format!("unit {name:?} is not in an error state")));
        }
        tx.set_unit_retry_now(&m.name, &name)?;
        Ok(())
    })?;
    c.engine.kick(&m.name, &name);
    Ok(Reply::Done { info: vec![], output: None })
}
