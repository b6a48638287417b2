//! Models: add, list, switch, destroy, and resolving the model a request names.

use super::api::{ApiError, ApiResult};
use super::Controller;
use crate::store::{ModelRow, StoreError};
use tether_core::names::validate_model;
use tether_core::wire::{ModelSummary, Reply};

/// Accepts `name`, `user/name`, `ctrl:name` and `ctrl:user/name`.
fn bare(name: &str) -> &str {
    let n = name.rsplit_once(':').map(|(_, n)| n).unwrap_or(name);
    n.rsplit_once('/').map(|(_, n)| n).unwrap_or(n)
}

/// The model a request targets: the named one or the current one.
pub fn resolve(c: &Controller, model: Option<String>) -> Result<ModelRow, ApiError> {
    let name = match model {
        Some(m) => bare(&m).to_string(),
        None => c
            .store
            .read(|tx| tx.meta("current-model"))?
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::invalid("no current model, use tether switch or tether add-model"))?,
    };
    c.store.read(|tx| tx.model(&name))?.ok_or_else(|| ApiError::invalid(format!("model {name:?} not found")))
}

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
    let m = resolve(c, Some(name.to_string()))?;
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
    let m = resolve(c, Some(name.to_string()))?;
    let apps: Vec<String> = c.store.read(|tx| tx.apps(&m.name))?.into_iter().map(|a| a.name).collect();
    if !apps.is_empty() {
        super::apps::remove_application(c, Some(m.name.clone()), &apps, force)?;
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
