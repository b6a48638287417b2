//! Model-level views and settings jubilant and operators use: `model-config`,
//! `show-model`, and the credential audit trail (`audit`).

use super::api::{ApiError, ApiResult};
use super::models::resolve as resolve_model;
use super::Controller;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tether_core::config::split_assignment;
use tether_core::wire::{AuditView, ModelConfigValue, Reply};

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

pub fn audit(c: &Controller, model: Option<String>, all: bool) -> ApiResult {
    let name = if all { None } else { Some(resolve_model(c, model)?.name) };
    let entries = c
        .store
        .read(|tx| tx.audit_entries(name.as_deref()))?
        .into_iter()
        .map(|e| AuditView {
            time: e.ts,
            model: e.model,
            application: e.app,
            relation: e.relation,
            operation: e.operation,
            db_user: e.db_user,
            detail: e.detail,
        })
        .collect();
    Ok(Reply::Audit { entries })
}
