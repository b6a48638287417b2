//! Model verbs whose replies need printing: `models`, `machines` (always none),
//! `model-config`, `show-model` and the credential `audit` trail (a table of its own). `add-model`, `switch` and
//! `destroy-model` print a `Done` and stay in `commands`.

use super::args::{AuditArgs, ModelConfigArgs, ShowModelArgs, TableFormat};
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output;
use super::output::table::{colour_stdout, Cell, Table};
use super::params::split_list;
use super::reply::{print_done, unexpected};
use anstream::ColorChoice;
use tether_core::wire::{Reply, Request};

pub fn list(ctx: &Ctx, format: TableFormat) -> CmdResult {
    match ctx.send(Request::Models, DEFAULT_TIMEOUT)? {
        Reply::Models { current, models } => {
            emit::out(&match format {
                TableFormat::Tabular => output::models::render_tabular(current.as_deref(), &models, colour_stdout(ColorChoice::Auto)),
                TableFormat::Json => output::json(&output::models::structured(current.as_deref(), &models))?,
                TableFormat::Yaml => output::yaml(&output::models::structured(current.as_deref(), &models))?,
            });
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

/// `machines`: tether has none (units run beside the controller), but the model must exist.
pub fn machines(ctx: &Ctx, format: TableFormat) -> CmdResult {
    match ctx.send(Request::Status { model: ctx.model.clone() }, DEFAULT_TIMEOUT)? {
        Reply::Status { status, .. } => {
            let shaped = serde_json::json!({ "machines": status.machines });
            match format {
                TableFormat::Tabular if status.machines.is_empty() => emit::info("No machines to display."),
                TableFormat::Tabular => emit::out(&output::yaml(&shaped)?),
                TableFormat::Json => emit::out(&output::json(&shaped)?),
                TableFormat::Yaml => emit::out(&output::yaml(&shaped)?),
            }
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

pub fn audit(ctx: &Ctx, a: AuditArgs) -> CmdResult {
    match ctx.send(Request::Audit { model: ctx.model.clone(), all: a.all_models }, DEFAULT_TIMEOUT)? {
        Reply::Audit { entries } => {
            emit::out_line(&match a.format {
                TableFormat::Json => output::json(&entries)?,
                TableFormat::Yaml => output::yaml(&entries)?,
                TableFormat::Tabular => {
                    let mut t = Table::new();
                    t.header(&["Time", "Model", "Application", "Relation", "Operation", "Database user", "Detail"]);
                    for e in &entries {
                        t.row(
                            [&e.time, &e.model, &e.application, &e.relation, &e.operation, &e.db_user, &e.detail]
                                .iter()
                                .map(|s| Cell::plain(s.to_string()))
                                .collect(),
                        );
                    }
                    t.render(colour_stdout(ColorChoice::Auto))
                }
            });
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

pub fn model_config(ctx: &Ctx, a: ModelConfigArgs) -> CmdResult {
    let model = ctx.model.clone();
    let reset: Vec<String> = a.reset.iter().flat_map(|r| split_list(r)).collect();
    if a.args.is_empty() && reset.is_empty() {
        match ctx.send(Request::ModelConfig { model, set: vec![], reset: vec![] }, DEFAULT_TIMEOUT)? {
            Reply::ModelConfig { config } => {
                emit::out(&output::data(a.format, &config)?);
                Ok(0)
            }
            other => Err(unexpected(&other)),
        }
    } else {
        if let Some(bad) = a.args.iter().find(|x| !x.contains('=')) {
            return Err(CliError::usage(format!("expected key=value, got {:?}", bad.chars().take(64).collect::<String>())));
        }
        print_done(ctx.send(Request::ModelConfig { model, set: a.args, reset }, DEFAULT_TIMEOUT)?)
    }
}

pub fn show_model(ctx: &Ctx, a: ShowModelArgs) -> CmdResult {
    let target = a.name.map(|n| super::args::model_name(&n)).or(ctx.model.clone());
    match ctx.send(Request::ShowModel { model: target }, DEFAULT_TIMEOUT)? {
        Reply::ShowModel { models } => {
            emit::out(&output::data(a.format, &models)?);
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}
