//! `actions APP [--schema] [--format]` and `show-action APP ACTION`: what an application's
//! charm can be asked to do, from the charm's metadata as the controller keeps it (the
//! schema is the one `run` checks parameters against).

use super::args::{ActionsArgs, ShowActionArgs, TableFormat};
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output;
use super::reply::unexpected;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use tether_core::wire::{ActionView, Reply, Request};

fn fetch(ctx: &Ctx, app: &str) -> Result<BTreeMap<String, ActionView>, CliError> {
    match ctx.send(Request::Actions { model: ctx.model.clone(), app: app.to_string() }, DEFAULT_TIMEOUT)? {
        Reply::Actions { actions } => Ok(actions),
        other => Err(unexpected(&other)),
    }
}

/// An action's schema with its description, as Juju's `actions --schema` shows it.
fn schema(view: &ActionView) -> Value {
    let mut s = view.params.as_object().cloned().unwrap_or_default();
    s.insert("description".into(), json!(view.description));
    Value::Object(s)
}

pub fn list(ctx: &Ctx, a: ActionsArgs) -> CmdResult {
    let actions = fetch(ctx, &a.app)?;
    let format = a.format.unwrap_or(if a.schema { TableFormat::Yaml } else { TableFormat::Tabular });
    let value: Value = if a.schema {
        Value::Object(actions.iter().map(|(name, v)| (name.clone(), schema(v))).collect::<Map<_, _>>())
    } else {
        Value::Object(actions.iter().map(|(name, v)| (name.clone(), json!(v.description))).collect::<Map<_, _>>())
    };
    match format {
        TableFormat::Json => emit::out(&output::json(&value)?),
        TableFormat::Yaml => emit::out(&output::yaml(&value)?),
        TableFormat::Tabular if actions.is_empty() => emit::info(&format!("No actions defined for {}.", a.app)),
        TableFormat::Tabular => {
            let width = actions.keys().map(String::len).max().unwrap_or(0).max("Action".len());
            let mut text = format!("{:<width$}  Description\n", "Action");
            for (name, v) in &actions {
                text.push_str(&format!("{name:<width$}  {}\n", v.description));
            }
            emit::out(&text);
        }
    }
    Ok(0)
}

pub fn show(ctx: &Ctx, a: ShowActionArgs) -> CmdResult {
    let actions = fetch(ctx, &a.app)?;
    let view = actions.get(&a.action).ok_or_else(|| {
        CliError::runtime(format!("unable to find action {:?} for application {:?}", super::params::shown(&a.action), a.app))
    })?;
    let mut text = format!("{}\n", view.description);
    let properties = view.params.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    if !properties.is_empty() {
        text.push_str("\nArguments:\n");
        text.push_str(&output::yaml(&Value::Object(properties))?);
    }
    emit::out(&text);
    Ok(0)
}
