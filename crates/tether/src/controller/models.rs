//! Models: add, list, switch, destroy, and the model-level settings and view jubilant
//! and operators use (`model-config`, `show-model`).

use super::error::{ApiError, ApiResult};
use super::lifecycle::remove_applications;
use super::lookup::{bare, resolve_model};
use super::state::Controller;
use crate::store::StoreError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tether_core::config::split_assignment;
use tether_core::names::validate_model;
use tether_core::wire::{ModelConfigValue, ModelSummary, Reply};

pub fn add_model(c: &Controller, name: &str, switch: bool) -> ApiResult {
    let name = bare(name);
    validate_model(name)?;
    c.store.write(|tx| {
        if tx.model(name)?.is_some() {
            return Err(ApiError::invalid(format!("model {name:?} already exists")));
        }
        tx.create_model(name, &uuid::Uuid::new_v4().to_string())?;
        if switch {
            tx.set_meta("current-model", name)?;
        }
        Ok(())
    })?;
    Ok(Reply::done(format!("Added '{name}' model on tether/local with credential 'local' for user 'admin'")))
}

pub fn list(c: &Controller) -> ApiResult {
    let (current, models) = c.store.read(|tx| {
        let mut out = Vec::new();
        for m in tx.models()? {
            out.push(ModelSummary {
                applications: tx.apps(&m.name)?.len(),
                units: tx.units(&m.name, None)?.len(),
                name: m.name,
                uuid: m.uuid,
            });
        }
        Ok::<_, StoreError>((tx.meta("current-model")?, out))
    })?;
    Ok(Reply::Models { current, models })
}

pub fn switch(c: &Controller, model: &str) -> ApiResult {
    let name = bare(model);
    let m = resolve_model(c, Some(name.to_string()))?;
    let old = c.store.write(|tx| {
        let old = tx.meta("current-model")?;
        tx.set_meta("current-model", &m.name)?;
        Ok::<_, StoreError>(old)
    })?;
    Ok(Reply::done(format!("{} -> tether:admin/{}", old.map(|o| format!("tether:admin/{o}")).unwrap_or_else(|| "tether".into()), m.name)))
}

/// Destroys a model: every application goes through its removal hooks (so database
/// users and servers are cleaned up), then the model's records are deleted.
pub async fn destroy(c: &Controller, name: &str, force: bool) -> ApiResult {
    let m = resolve_model(c, Some(name.to_string()))?;
    let apps: Vec<String> = c.store.read(|tx| tx.apps(&m.name))?.into_iter().map(|a| a.name).collect();
    if !apps.is_empty() {
        remove_applications(c, &m.name, &apps)?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let left = c.store.read(|tx| tx.units(&m.name, None))?.len();
        if left == 0 {
            break;
        }
        if std::time::Instant::now() > deadline {
            if !force {
                return Err(ApiError::invalid(format!("timed out destroying model {:?}: {left} units still tearing down", m.name)));
            }
            // --force: stop whatever the hooks did not, then forget the model.
            for u in c.store.read(|tx| tx.units(&m.name, None))? {
                c.charms.services().supervisor.stop(&format!("{}/{}", m.uuid, u.name)).await;
            }
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.store.write(|tx| {
        tx.delete_model(&m.name)?;
        if tx.meta("current-model")?.as_deref() == Some(m.name.as_str()) {
            tx.set_meta("current-model", "")?;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(Reply::done(format!("Destroyed model {:?}", m.name)))
}

/// Model config keys tether knows, with their defaults.
const DEFAULTS: [(&str, &str); 3] =
    [("update-status-hook-interval", "5m"), ("automatically-retry-hooks", "true"), ("logging-config", "<root>=INFO")];

fn default_value(key: &str) -> Option<Value> {
    DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| match *v {
        "true" => Value::Bool(true),
        other => Value::String(other.to_string()),
    })
}

pub fn model_config(c: &Controller, model: Option<String>, set: &[String], reset: &[String]) -> ApiResult {
    let m = resolve_model(c, model)?;
    if set.is_empty() && reset.is_empty() {
        let mut out = BTreeMap::new();
        for (k, _) in DEFAULTS {
            let (value, source) = match m.config.get(k) {
                Some(v) => (v.clone(), "model"),
                None => (default_value(k).unwrap_or(Value::Null), "default"),
            };
            out.insert(k.to_string(), ModelConfigValue { value, source: source.into() });
        }
        for (k, v) in &m.config {
            out.entry(k.clone()).or_insert_with(|| ModelConfigValue { value: v.clone(), source: "model".into() });
        }
        return Ok(Reply::ModelConfig { config: out });
    }
    let mut next = m.config.clone();
    for k in reset {
        next.remove(k);
    }
    for item in set {
        let (k, v) = split_assignment(item)?;
        if k == "update-status-hook-interval" {
            tether_core::duration::parse_duration(&v).map_err(|e| ApiError::invalid(e.to_string()))?;
        }
        if v.contains('\0') || k.contains('\0') {
            return Err(ApiError::invalid("model config values cannot contain NUL bytes"));
        }
        let value = match default_value(&k) {
            Some(Value::Bool(_)) => Value::Bool(matches!(v.as_str(), "true" | "True" | "1")),
            _ => Value::String(v),
        };
        next.insert(k, value);
    }
    c.store.write(|tx| tx.set_model_config(&m.name, &next))?;
    // Idle workers sleep for the old update-status interval: wake them to re-read it.
    let units: Vec<String> = c.store.read(|tx| tx.units(&m.name, None))?.into_iter().map(|u| u.name).collect();
    c.engine.kick_all(&m.name, units);
    Ok(Reply::Done { info: vec![], output: None })
}

pub fn show_model(c: &Controller, model: Option<String>) -> ApiResult {
    let m = resolve_model(c, model)?;
    let (apps, units) = c.store.read(|tx| Ok::<_, ApiError>((tx.apps(&m.name)?.len(), tx.units(&m.name, None)?.len())))?;
    let info = json!({
        "name": format!("admin/{}", m.name),
        "short-name": m.name,
        "model-uuid": m.uuid,
        "model-type": "caas",
        "controller-uuid": c.uuid,
        "controller-name": "tether",
        "is-controller": false,
        "owner": "admin",
        "cloud": "local",
        "region": "localhost",
        "type": "kubernetes",
        "life": "alive",
        "status": {"current": "available"},
        "agent-version": tether_core::wire::JUJU_COMPAT_VERSION,
        "application-count": apps,
        "unit-count": units,
    });
    Ok(Reply::ShowModel { models: BTreeMap::from([(m.name.clone(), info)]) })
}
