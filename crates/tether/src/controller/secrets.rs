//! User secrets (`add-secret`, `update-secret`, `grant-secret`, `remove-secret`):
//! owned by the model, granted to applications, sealed at rest like every secret.

use super::error::{ApiError, ApiResult};
use super::lookup::resolve_model;
use super::state::Controller;
use crate::store::{new_secret_id, secret_id_from_uri, SecretOwner, StoreError};
use std::collections::BTreeMap;
use tether_core::names::validate_application;
use tether_core::wire::Reply;

/// Grants made directly to an application (not through a relation) use this id.
const DIRECT_GRANT: i64 = -1;

fn check_content(content: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if content.is_empty() {
        return Err(ApiError::invalid("secret content cannot be empty"));
    }
    for (k, v) in content {
        let ok_key = !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !k.starts_with('-');
        if !ok_key {
            return Err(ApiError::invalid(format!("secret key {:?} not valid", k.chars().take(64).collect::<String>())));
        }
        if v.contains('\0') {
            return Err(ApiError::invalid(format!("secret value for {k:?} contains a NUL byte")));
        }
    }
    Ok(())
}

pub fn add(c: &Controller, model: Option<String>, name: &str, info: Option<&str>, content: &BTreeMap<String, String>) -> ApiResult {
    let m = resolve_model(c, model)?;
    check_content(content)?;
    let owner = SecretOwner::Model(m.uuid.clone());
    let id = new_secret_id();
    c.store.write(|tx| {
        if tx.secret_by_label(&m.name, &owner, name)?.is_some() {
            return Err(ApiError::invalid(format!("secret with name {name:?} already exists")));
        }
        tx.create_secret(&m.name, &id, &owner, Some(name), info, content)?;
        Ok(())
    })?;
    Ok(Reply::Done { info: vec![], output: Some(format!("secret:{id}")) })
}

/// Finds a user secret by URI, id or name.
fn find(c: &Controller, model: &str, uuid: &str, id_or_name: &str) -> Result<String, ApiError> {
    let owner = SecretOwner::Model(uuid.to_string());
    let id = secret_id_from_uri(id_or_name);
    c.store.read(|tx| {
        if let Some(s) = tx.secret(model, &id)? {
            return Ok(s.id);
        }
        tx.secret_by_label(model, &owner, id_or_name)?
            .map(|s| s.id)
            .ok_or_else(|| ApiError::invalid(format!("secret {id_or_name:?} not found")))
    })
}

pub fn update(
    c: &Controller,
    model: Option<String>,
    id: &str,
    info: Option<&str>,
    name: Option<&str>,
    content: Option<&BTreeMap<String, String>>,
) -> ApiResult {
    let m = resolve_model(c, model)?;
    let id = find(c, &m.name, &m.uuid, id)?;
    if let Some(content) = content {
        check_content(content)?;
    }
    c.store.write(|tx| {
        if let Some(content) = content {
            tx.update_secret(&m.name, &id, content)?;
        }
        tx.set_secret_meta(&m.name, &id, name, info)?;
        Ok::<_, StoreError>(())
    })?;
    Ok(Reply::Done { info: vec![], output: None })
}

pub fn remove(c: &Controller, model: Option<String>, id: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let id = find(c, &m.name, &m.uuid, id)?;
    c.store.write(|tx| tx.delete_secret(&m.name, &id))?;
    Ok(Reply::Done { info: vec![], output: None })
}

pub fn grant(c: &Controller, model: Option<String>, id: &str, apps: &[String], revoke: bool) -> ApiResult {
    let m = resolve_model(c, model)?;
    let id = find(c, &m.name, &m.uuid, id)?;
    c.store.write(|tx| {
        for app in apps {
            validate_application(app)?;
            tx.app(&m.name, app)?.ok_or_else(|| ApiError::invalid(format!("application {app:?} not found")))?;
            if revoke {
                tx.revoke_secret(&m.name, &id, DIRECT_GRANT, Some(app))?;
            } else {
                tx.grant_secret(&m.name, &id, DIRECT_GRANT, app)?;
            }
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(Reply::Done { info: vec![], output: None })
}
