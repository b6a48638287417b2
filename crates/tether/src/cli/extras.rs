//! Commands beyond the seed documents that jubilant and operators use: the audit
//! trail, model config, show-model, user secrets and exec.

use super::args::{Command, DataFormat, TableFormat};
use super::client::DEFAULT_TIMEOUT;
use super::commands::{print_done, unexpected, Ctx};
use super::output::{self, table::Cell, table::Table, task::TaskOutcome};
use super::{emit, CliError, CmdResult};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;
use tether_core::wire::{Reply, Request};

const EXEC_WAIT: Duration = Duration::from_secs(300);

fn data(format: DataFormat, value: &impl serde::Serialize) -> Result<String, CliError> {
    match format {
        DataFormat::Json => output::json(value),
        DataFormat::Yaml => output::yaml(value),
    }
}

/// Secret content from `key=value` arguments and/or a YAML file (arguments win).
fn secret_content(args: &[String], file: Option<&Path>) -> Result<BTreeMap<String, String>, CliError> {
    let mut content = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
        let map: BTreeMap<String, serde_yaml::Value> =
            serde_yaml::from_str(&text).map_err(|e| CliError::usage(format!("cannot parse {}: {e}", path.display())))?;
        for (k, v) in map {
            let value = match v {
                serde_yaml::Value::String(s) => s,
                other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_string(),
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

fn split_apps(apps: &str) -> Vec<String> {
    apps.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect()
}

pub(super) fn dispatch(ctx: &Ctx, command: Command) -> CmdResult {
    let model = ctx.model.clone();
    match command {
        Command::Audit(a) => match ctx.send(Request::Audit { model, all: a.all_models }, DEFAULT_TIMEOUT)? {
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
                        t.render(std::io::stdout().is_terminal())
                    }
                });
                Ok(0)
            }
            other => Err(unexpected(&other)),
        },
        Command::ModelConfig(a) => {
            let reset: Vec<String> = a.reset.iter().flat_map(|r| split_apps(r)).collect();
            if a.args.is_empty() && reset.is_empty() {
                match ctx.send(Request::ModelConfig { model, set: vec![], reset: vec![] }, DEFAULT_TIMEOUT)? {
                    Reply::ModelConfig { config } => {
                        emit::out(&data(a.format, &config)?);
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
        Command::ShowModel(a) => {
            let target = a.name.map(|n| super::args::model_name(&n)).or(model);
            match ctx.send(Request::ShowModel { model: target }, DEFAULT_TIMEOUT)? {
                Reply::ShowModel { models } => {
                    emit::out(&data(a.format, &models)?);
                    Ok(0)
                }
                other => Err(unexpected(&other)),
            }
        }
        Command::AddSecret(a) => {
            let content = secret_content(&a.content, a.file.as_deref())?;
            print_done(ctx.send(Request::AddSecret { model, name: a.name, info: a.info, content }, DEFAULT_TIMEOUT)?)
        }
        Command::UpdateSecret(a) => {
            let content =
                if a.content.is_empty() && a.file.is_none() { None } else { Some(secret_content(&a.content, a.file.as_deref())?) };
            print_done(ctx.send(Request::UpdateSecret { model, id: a.id, info: a.info, name: a.name, content }, DEFAULT_TIMEOUT)?)
        }
        Command::RemoveSecret(a) => print_done(ctx.send(Request::RemoveSecret { model, id: a.id }, DEFAULT_TIMEOUT)?),
        Command::GrantSecret(a) => {
            print_done(ctx.send(Request::GrantSecret { model, id: a.id, apps: split_apps(&a.apps), revoke: false }, DEFAULT_TIMEOUT)?)
        }
        Command::RevokeSecret(a) => {
            print_done(ctx.send(Request::GrantSecret { model, id: a.id, apps: split_apps(&a.apps), revoke: true }, DEFAULT_TIMEOUT)?)
        }
        Command::Exec(a) => {
            let unit = match (a.unit, a.machine) {
                (Some(u), _) => u,
                (None, Some(_)) => return Err(CliError::usage("tether has no machines: use --unit")),
                (None, None) => return Err(CliError::usage("you must specify a target, either through --unit or --machine")),
            };
            let wait = match &a.wait {
                Some(w) => tether_core::duration::parse_duration(w).map_err(|e| CliError::usage(e.to_string()))?,
                None => EXEC_WAIT,
            };
            let request = Request::Exec { model, unit, command: a.command, wait_ms: Some(wait.as_millis() as u64) };
            match ctx.send(request, wait + Duration::from_secs(30))? {
                Reply::Task { unit, task, timed_out } => {
                    let rendered = output::task::render_run(&[TaskOutcome { unit, task, timed_out }], a.format)?;
                    emit::out(&rendered.stdout);
                    for line in &rendered.stderr {
                        emit::info(line);
                    }
                    Ok(rendered.exit)
                }
                other => Err(unexpected(&other)),
            }
        }
        _ => Err(CliError::runtime("internal error: not an extra command")),
    }
}
