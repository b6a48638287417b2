//! Secret verbs: `secrets` and `show-secret` print the controller's views;
//! `add-secret` and `update-secret` read content from `key=value` arguments and/or a
//! YAML file; `remove-secret`, `grant-secret` and `revoke-secret` name the secret and
//! the applications.

use super::args::{GrantSecretArgs, RemoveSecretArgs, SecretContentArgs, SecretsArgs, ShowSecretArgs, TableFormat, UpdateSecretArgs};
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output;
use super::params::split_list;
use super::reply::{print_done, unexpected};
use std::collections::BTreeMap;
use std::path::Path;
use tether_core::wire::{Reply, Request};

pub fn list(ctx: &Ctx, a: SecretsArgs) -> CmdResult {
    match ctx.send(Request::Secrets { model: ctx.model.clone() }, DEFAULT_TIMEOUT)? {
        Reply::Secrets { secrets } => {
            let secrets = output::secrets::filter_owner(secrets, a.owner.as_deref());
            emit::out(&match a.format {
                TableFormat::Tabular => output::secrets::render_tabular(&secrets, chrono::Utc::now()),
                TableFormat::Json => output::json(&secrets)?,
                TableFormat::Yaml => output::yaml(&secrets)?,
            });
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

pub fn show(ctx: &Ctx, a: ShowSecretArgs) -> CmdResult {
    match ctx.send(Request::ShowSecret { model: ctx.model.clone(), id: a.id, reveal: a.reveal }, DEFAULT_TIMEOUT)? {
        Reply::Secrets { secrets } => {
            emit::out(&output::data(a.format, &secrets)?);
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

/// Secret content from `key=value` arguments and/or a YAML file (arguments win).
fn content(args: &[String], file: Option<&Path>) -> Result<BTreeMap<String, String>, CliError> {
    let mut content = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
        let map: BTreeMap<String, serde_norway::Value> =
            serde_norway::from_str(&text).map_err(|e| CliError::usage(format!("cannot parse {}: {e}", path.display())))?;
        for (k, v) in map {
            let value = match v {
                serde_norway::Value::String(s) => s,
                other => serde_norway::to_string(&other).unwrap_or_default().trim().to_string(),
            };
            content.insert(k, value);
        }
    }
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("expected key=value, got {:?}", a.chars().take(64).collect::<String>())))?;
        content.insert(k.to_string(), v.to_string());
    }
    Ok(content)
}

pub fn add(ctx: &Ctx, a: SecretContentArgs) -> CmdResult {
    let content = content(&a.content, a.file.as_deref())?;
    print_done(ctx.send(Request::AddSecret { model: ctx.model.clone(), name: a.name, info: a.info, content }, DEFAULT_TIMEOUT)?)
}

pub fn update(ctx: &Ctx, a: UpdateSecretArgs) -> CmdResult {
    let content = if a.content.is_empty() && a.file.is_none() { None } else { Some(content(&a.content, a.file.as_deref())?) };
    let request = Request::UpdateSecret { model: ctx.model.clone(), id: a.id, info: a.info, name: a.name, content };
    print_done(ctx.send(request, DEFAULT_TIMEOUT)?)
}

pub fn remove(ctx: &Ctx, a: RemoveSecretArgs) -> CmdResult {
    print_done(ctx.send(Request::RemoveSecret { model: ctx.model.clone(), id: a.id }, DEFAULT_TIMEOUT)?)
}

/// `grant-secret` (`revoke: false`) and `revoke-secret` (`revoke: true`).
pub fn grant(ctx: &Ctx, a: GrantSecretArgs, revoke: bool) -> CmdResult {
    let request = Request::GrantSecret { model: ctx.model.clone(), id: a.id, apps: split_list(&a.apps), revoke };
    print_done(ctx.send(request, DEFAULT_TIMEOUT)?)
}
