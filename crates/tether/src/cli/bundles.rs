//! Bundles, as Juju's `deploy ./bundle.yaml [--overlay F]`, `diff-bundle` and
//! `export-bundle` do them: the bundle is read and planned here, against the model as the
//! controller reports it (`status` and each application's `config`), with
//! `tether_core::bundle`; the plan is then carried out as the ordinary requests
//! (`deploy`, `add-unit`, `config`, `trust`, `integrate`), one after another, each
//! validated by the controller as if typed. A second deploy of the same bundle finds
//! nothing to do and says so. Local charm paths are relative to the bundle file.

use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::relations;
use super::reply::{print_done, unexpected};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tether_core::bundle::{export, plan, Bundle, Change, DeployedApp, ModelState};
use tether_core::wire::{Reply, Request};

/// Whether `deploy`'s argument names a bundle file rather than a charm.
pub fn is_bundle(charm: &str) -> bool {
    (charm.ends_with(".yaml") || charm.ends_with(".yml")) && Path::new(charm).is_file()
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read bundle {}: {e}", path.display())))
}

/// The bundle at `path` with its overlays, local charm paths made absolute.
fn load(path: &Path, overlays: &[PathBuf]) -> Result<Bundle, CliError> {
    let text = read(path)?;
    let overlay_texts: Vec<String> = overlays.iter().map(|o| read(o)).collect::<Result<_, _>>()?;
    let refs: Vec<&str> = overlay_texts.iter().map(String::as_str).collect();
    let mut bundle = Bundle::parse(&text, &refs).map_err(|e| CliError::usage(e.to_string()))?;
    let dir = std::fs::canonicalize(path).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
    bundle.resolve_local_charms(&dir.display().to_string());
    Ok(bundle)
}

/// The model as the planner sees it: each application's charm, units, the options set
/// explicitly and trust, and every relation (peers left out) by its two endpoints.
fn model_state(ctx: &Ctx) -> Result<ModelState, CliError> {
    let (status, relations) = match ctx.send(Request::Status { model: ctx.model.clone() }, DEFAULT_TIMEOUT)? {
        Reply::Status { status, relations } => (status, relations),
        other => return Err(unexpected(&other)),
    };
    let mut state = ModelState::default();
    for (name, app) in status.applications {
        let config = match ctx.send(Request::ConfigGet { model: ctx.model.clone(), app: name.clone() }, DEFAULT_TIMEOUT)? {
            Reply::Config { config } => config,
            other => return Err(unexpected(&other)),
        };
        let options = config.settings.into_iter().filter(|(_, s)| s.source == "user").filter_map(|(k, s)| Some((k, s.value?))).collect();
        let trust = config.application_config.get("trust").and_then(|t| t.value.clone()) == Some(Value::Bool(true));
        let charm = if app.charm_origin == "local" { format!("local:{}", app.charm_name) } else { app.charm_name.clone() };
        let deployed = DeployedApp { charm, units: app.units.len() as u32, options, trust, subordinate: !app.subordinate_to.is_empty() };
        state.applications.insert(name, deployed);
    }
    state.relations = relations.into_iter().filter(|r| r.kind != "peer").map(|r| [r.requirer, r.provider]).collect();
    Ok(state)
}

/// A config value as `key=value` text, the way `config` takes it.
fn assignment(key: &str, value: &Value) -> String {
    match value {
        Value::String(s) => format!("{key}={s}"),
        other => format!("{key}={other}"),
    }
}

/// Carries out one change with the ordinary request.
fn apply(ctx: &Ctx, change: Change) -> CmdResult {
    let model = ctx.model.clone();
    let request = match change {
        Change::Deploy { app, charm, units, options, trust, resources } => Request::Deploy {
            model,
            charm,
            config: options.iter().map(|(k, v)| assignment(k, v)).collect(),
            app: Some(app),
            num_units: units,
            resources: resources.iter().map(|(name, path)| format!("{name}={path}")).collect(),
            trust,
            dry_run: false,
        },
        Change::AddUnits { app, count } => Request::AddUnit { model, app, num_units: count },
        Change::SetConfig { app, options } => {
            Request::ConfigSet { model, app, set: options.iter().map(|(k, v)| assignment(k, v)).collect(), reset: vec![] }
        }
        Change::Trust { app } => Request::Trust { model, app, remove: false },
        Change::Integrate { a, b } => return relations::integrate(ctx, a, b),
    };
    print_done(ctx.send(request, DEFAULT_TIMEOUT)?)
}

/// `deploy BUNDLE [--overlay F]... [--dry-run]`.
pub fn deploy(ctx: &Ctx, path: &Path, overlays: &[PathBuf], dry_run: bool) -> CmdResult {
    let bundle = load(path, overlays)?;
    let changes = plan(&bundle, &model_state(ctx)?).map_err(|e| CliError::runtime(e.to_string()))?;
    if changes.is_empty() {
        emit::info("No changes to apply.");
        return Ok(0);
    }
    for change in changes {
        emit::info(&format!("- {change}"));
        if !dry_run {
            apply(ctx, change)?;
        }
    }
    emit::info(if dry_run { "Changes to deploy bundle (dry run: nothing was changed)." } else { "Deploy of bundle completed." });
    Ok(0)
}

/// `diff-bundle BUNDLE [--overlay F]...`: the changes a deploy would make, one a line on
/// stdout (nothing when the model matches).
pub fn diff(ctx: &Ctx, path: &Path, overlays: &[PathBuf]) -> CmdResult {
    let bundle = load(path, overlays)?;
    let changes = plan(&bundle, &model_state(ctx)?).map_err(|e| CliError::runtime(e.to_string()))?;
    let text: String = changes.iter().map(|c| format!("- {c}\n")).collect();
    emit::out(&text);
    if changes.is_empty() {
        emit::info("The model matches the bundle.");
    }
    Ok(0)
}

/// `export-bundle [--filename F]`: the model as a bundle that deploys onto it as no change.
pub fn export_bundle(ctx: &Ctx, filename: Option<&Path>) -> CmdResult {
    let yaml = export(&model_state(ctx)?).to_yaml();
    match filename {
        None => emit::out(&yaml),
        Some(f) => {
            std::fs::write(f, yaml).map_err(|e| CliError::runtime(format!("cannot write {}: {e}", f.display())))?;
            emit::info(&format!("Bundle successfully exported to {}", f.display()));
        }
    }
    Ok(0)
}
