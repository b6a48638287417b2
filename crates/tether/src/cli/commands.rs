//! Runs a parsed command line: the verbs that must not start a controller, then the
//! shape checks, then one arm per verb. Verbs of a noun with more to them live in their
//! own module (`models`, `secrets`, `exec`); the rest are here, one function each:
//! validate what only the CLI can check, build the request, send it, print the reply.
//!
//! The controller validates names, endpoints and values; the CLI checks only argument
//! shape (counts, `key=value` form, durations, files it must read itself) so that bad
//! input fails before anything is sent and nothing is executed.

use super::args::{self, Cli, Command, ControllerAction, TableFormat, VersionFormat};
use super::autostart;
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output;
use super::output::table::colour_stdout;
use super::params::{self, shown, split_list};
use super::reply::{print_done, unexpected};
use super::{actions, bundles, exec, logs, models, ops, relations, secrets, status, unsupported};
use crate::paths::Home;
use anstream::ColorChoice;
use std::io::BufRead;
use std::time::Duration;
use tether_core::duration::parse_duration;
use tether_core::wire::{Reply, Request, JUJU_COMPAT_VERSION};

/// Slack on top of a wait before the client gives up on the socket.
const RUN_SLACK: Duration = Duration::from_secs(30);

fn duration_arg(flag: &str, value: &str) -> Result<Duration, CliError> {
    parse_duration(value).map_err(|_| CliError::usage(format!("invalid value {:?} for option --{flag}: invalid duration", shown(value))))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> CmdResult {
    emit::set_quiet(cli.quiet);
    unsupported::check(&cli)?;
    let home = Home::from_env();
    let model = cli.model.as_deref().map(args::model_name);
    // Commands that must not start a controller come first.
    match cli.command {
        Command::Version(a) => version(a),
        Command::Flags => {
            emit::out(&args::flag_list());
            Ok(0)
        }
        Command::Controller(c) => match c.action {
            ControllerAction::Run => crate::controller::run_foreground(home).map(|_| 0).map_err(|e| CliError::runtime(format!("{e:#}"))),
            ControllerAction::Stop => {
                let was_running = autostart::stop(&home)?;
                if was_running {
                    emit::info(&format!("Stopped controller in {}", home.root().display()));
                } else {
                    emit::info(&format!("No controller running in {}", home.root().display()));
                }
                Ok(0)
            }
        },
        Command::DestroyController(a) => {
            if !a.no_prompt {
                return Err(CliError::usage("destroy-controller needs -y (--no-prompt): it deletes every model and all state"));
            }
            autostart::destroy(&home).map(|_| 0)
        }
        Command::Bootstrap(_) => autostart::bootstrap(&home).map(|_| 0),
        command => {
            validate(&command)?;
            autostart::ensure_running(&home)?;
            dispatch(&Ctx { home, model }, command)
        }
    }
}

/// Shape checks that must fail before a controller is started or anything is sent.
fn validate(command: &Command) -> Result<(), CliError> {
    match command {
        Command::Integrate(a) if a.endpoints.len() != 2 => Err(CliError::usage("an integration must involve two applications")),
        Command::RemoveRelation(a) => relation_args(&a.args).map(|_| ()),
        Command::Run(a) => ops::validate_run(a),
        Command::Status(a) => status::validate_status(a),
        Command::WaitFor(a) => status::validate_wait(a),
        Command::DestroyModel(a) => a.timeout.as_deref().map(|t| duration_arg("timeout", t).map(|_| ())).unwrap_or(Ok(())),
        Command::Deploy(a) => params::config_assignments(&a.config, a.app.as_deref()).map(|_| ()),
        Command::Config(a) => config_mode(a).map(|_| ()),
        _ => Ok(()),
    }
}

/// `remove-relation` arguments: two endpoints, or one integer relation id.
fn relation_args(args: &[String]) -> Result<(String, Option<String>), CliError> {
    match args {
        [id] => {
            if id.parse::<i64>().is_ok() {
                Ok((id.clone(), None))
            } else {
                Err(CliError::usage(format!("relation ID {:?} not valid", shown(id))))
            }
        }
        [a, b] => Ok((a.clone(), Some(b.clone()))),
        _ => Err(CliError::usage("a relation must involve two applications")),
    }
}

/// What a `config` invocation means.
#[derive(Debug, PartialEq, Eq)]
enum ConfigMode {
    GetAll,
    GetKey(String),
    Set { set: Vec<String>, reset: Vec<String> },
}

fn config_mode(a: &args::ConfigArgs) -> Result<ConfigMode, CliError> {
    let (sets, gets): (Vec<&String>, Vec<&String>) = a.args.iter().partition(|s| s.contains('='));
    let reset: Vec<String> = a.reset.iter().flat_map(|r| split_list(r)).collect();
    let mut set = params::config_assignments(&sets.into_iter().cloned().collect::<Vec<_>>(), Some(&a.app))?;
    if let Some(file) = &a.file {
        let text = std::fs::read_to_string(file).map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
        set.extend(params::config_file_assignments(&text, Some(&a.app))?);
    }
    match gets.as_slice() {
        [] if set.is_empty() && reset.is_empty() => Ok(ConfigMode::GetAll),
        [] => Ok(ConfigMode::Set { set, reset }),
        [key] if set.is_empty() && reset.is_empty() => Ok(ConfigMode::GetKey((*key).clone())),
        [_] => Err(CliError::usage("cannot set and retrieve values simultaneously")),
        _ => Err(CliError::usage("can only retrieve a single value, or all values")),
    }
}

fn dispatch(ctx: &Ctx, command: Command) -> CmdResult {
    let model = ctx.model.clone();
    match command {
        Command::AddModel(a) => {
            let name = args::model_name(&a.name);
            print_done(ctx.send(Request::AddModel { name, switch: !a.no_switch }, DEFAULT_TIMEOUT)?)
        }
        Command::Models(a) => models::list(ctx, a.format),
        Command::Info(a) => charm_info(ctx, a),
        Command::Audit(a) => models::audit(ctx, a),
        Command::ModelConfig(a) => models::model_config(ctx, a),
        Command::ShowModel(a) => models::show_model(ctx, a),
        Command::AddSecret(a) => secrets::add(ctx, a),
        Command::UpdateSecret(a) => secrets::update(ctx, a),
        Command::RemoveSecret(a) => secrets::remove(ctx, a),
        Command::GrantSecret(a) => secrets::grant(ctx, a, false),
        Command::RevokeSecret(a) => secrets::grant(ctx, a, true),
        Command::Exec(a) => exec::exec(ctx, a),
        Command::Charms(a) => charm_list(ctx, a.format),
        Command::Machines(a) => models::machines(ctx, a.format),
        Command::Switch(a) => print_done(ctx.send(Request::Switch { model: args::model_name(&a.name) }, DEFAULT_TIMEOUT)?),
        Command::DestroyModel(a) => {
            let name = args::model_name(&a.name);
            if !a.no_prompt {
                confirm(&format!(
                    "WARNING This command will destroy the {name:?} model and all its applications, units and data.\n\
                     This includes the databases tether runs for it. This cannot be undone.\n\nContinue [y/N]? "
                ))
                .map_err(|_| CliError::runtime("model destruction: aborted"))?;
            }
            let timeout = match a.timeout.as_deref() {
                Some(t) => duration_arg("timeout", t)?.max(DEFAULT_TIMEOUT) + RUN_SLACK,
                None => DEFAULT_TIMEOUT * 5,
            };
            print_done(ctx.send(Request::DestroyModel { name, force: a.force }, timeout)?)
        }
        Command::Deploy(a) if bundles::is_bundle(&a.charm) => {
            if a.app.is_some() || !a.config.is_empty() || a.num_units != 1 || !a.resource.is_empty() || a.trust {
                return Err(CliError::usage(
                    "an application name, --config, -n, --resource and --trust go in the bundle, not on the command line",
                ));
            }
            let overlays: Vec<std::path::PathBuf> = a.overlay.iter().map(std::path::PathBuf::from).collect();
            bundles::deploy(ctx, std::path::Path::new(&a.charm), &overlays, a.dry_run)
        }
        Command::Deploy(a) => {
            let config = params::config_assignments(&a.config, a.app.as_deref())?;
            let resources = a.resource.iter().map(|r| resource_arg(r)).collect();
            let request = Request::Deploy {
                model,
                charm: local_path(&a.charm),
                app: a.app,
                config,
                num_units: a.num_units,
                resources,
                trust: a.trust,
                dry_run: a.dry_run,
            };
            print_done(ctx.send(request, DEFAULT_TIMEOUT)?)
        }
        Command::RemoveApplication(a) if a.dry_run => removal_dry_run(ctx, &a.apps),
        Command::RemoveApplication(a) => {
            print_done(ctx.send(Request::RemoveApplication { model, apps: a.apps, force: a.force }, DEFAULT_TIMEOUT)?)
        }
        Command::AddUnit(a) => print_done(ctx.send(Request::AddUnit { model, app: a.app, num_units: a.num_units }, DEFAULT_TIMEOUT)?),
        Command::RemoveUnit(a) => {
            print_done(ctx.send(Request::RemoveUnit { model, units: a.units, num_units: a.num_units }, DEFAULT_TIMEOUT)?)
        }
        Command::Integrate(a) => {
            let [x, y] =
                <[String; 2]>::try_from(a.endpoints).map_err(|_| CliError::usage("an integration must involve two applications"))?;
            relations::integrate(ctx, x, y)
        }
        Command::RemoveRelation(a) => {
            let (x, y) = relation_args(&a.args)?;
            print_done(ctx.send(Request::RemoveRelation { model, a: x, b: y }, DEFAULT_TIMEOUT)?)
        }
        Command::Config(a) => config(ctx, a),
        Command::Actions(a) => actions::list(ctx, a),
        Command::ShowAction(a) => actions::show(ctx, a),
        Command::Refresh(a) => {
            let path = a.path.ok_or_else(|| {
                CliError::runtime(format!("cannot refresh {:?}: tether has no charm store; refresh a local charm with --path", a.app))
            })?;
            let config = params::config_assignments(&a.config, Some(&a.app))?;
            let request = Request::Refresh { model, app: a.app, path: absolute_path(&path), config, trust: a.trust };
            print_done(ctx.send(request, DEFAULT_TIMEOUT)?)
        }
        Command::Trust(a) => print_done(ctx.send(Request::Trust { model, app: a.app, remove: a.remove }, DEFAULT_TIMEOUT)?),
        Command::DiffBundle(a) => bundles::diff(ctx, &a.bundle, &a.overlay),
        Command::ExportBundle(a) => bundles::export_bundle(ctx, a.filename.as_deref()),
        Command::Run(a) => ops::run(ctx, a),
        Command::Operations(a) => ops::operations(ctx, a),
        Command::ShowOperation(a) => ops::show_operation(ctx, a),
        Command::ShowTask(a) => ops::show_task(ctx, a),
        Command::ShowStatusLog(a) => logs::show_status_log(ctx, a),
        Command::Status(a) => status::status(ctx, a),
        Command::WaitFor(a) => status::wait_for(ctx, a),
        Command::ShowUnit(a) => show_unit(ctx, a),
        Command::DebugLog(a) => logs::debug_log(ctx, a),
        Command::Resolve(a) => {
            for unit in a.units {
                print_done(ctx.send(Request::Resolve { model: model.clone(), unit }, DEFAULT_TIMEOUT)?)?;
            }
            Ok(0)
        }
        Command::Secrets(a) => secrets::list(ctx, a),
        Command::ShowSecret(a) => secrets::show(ctx, a),
        Command::Bootstrap(_) | Command::Version(_) | Command::Controller(_) | Command::DestroyController(_) | Command::Flags => {
            Err(CliError::runtime("internal error: command dispatched twice"))
        }
    }
}

/// Asks on stderr and reads one line from stdin; anything but y/yes is a refusal.
fn confirm(question: &str) -> Result<(), ()> {
    use std::io::Write;
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}");
    let _ = stderr.flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    if !matches!(read, Ok(n) if n > 0) {
        let _ = writeln!(stderr);
    }
    match read {
        Ok(_) if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") => Ok(()),
        _ => Err(()),
    }
}

fn version(a: args::VersionArgs) -> CmdResult {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64el",
        other => other,
    };
    let version = format!("{JUJU_COMPAT_VERSION}-ubuntu-{arch}");
    #[derive(serde::Serialize)]
    struct Full<'a> {
        version: &'a str,
        #[serde(rename = "git-commit")]
        git_commit: &'a str,
        compiler: &'a str,
    }
    let full = Full { version: &version, git_commit: "", compiler: "gc" };
    emit::out(&match a.format {
        VersionFormat::Json => output::json(&full)?,
        VersionFormat::Yaml if a.all => output::yaml(&full)?,
        VersionFormat::Yaml => output::yaml(&version)?,
        VersionFormat::Smart if a.all => format!("version: {version}\ngit-commit: \"\"\ncompiler: gc\n"),
        VersionFormat::Smart => format!("{version}\n"),
    });
    Ok(0)
}

/// Local charm paths (`./x`, `/x`) are made absolute here: the controller does not
/// share the CLI's working directory.
/// `NAME=PATH` with the path made absolute (the controller does not share the CLI's
/// working directory); anything else is passed on for the controller to refuse.
fn resource_arg(arg: &str) -> String {
    match arg.split_once('=') {
        Some((name, path)) if !path.is_empty() => match std::path::absolute(path) {
            Ok(p) => format!("{name}={}", p.display()),
            Err(_) => arg.to_string(),
        },
        _ => arg.to_string(),
    }
}

fn local_path(charm: &str) -> String {
    if !(charm.starts_with('.') || charm.starts_with('/')) {
        return charm.to_string();
    }
    absolute_path(charm)
}

/// `path` made absolute (the controller runs elsewhere), resolved if it exists.
fn absolute_path(charm: &str) -> String {
    match std::fs::canonicalize(charm) {
        Ok(p) => p.display().to_string(),
        Err(_) => std::env::current_dir().map(|d| d.join(charm).display().to_string()).unwrap_or_else(|_| charm.to_string()),
    }
}

fn charm_info(ctx: &Ctx, a: args::InfoArgs) -> CmdResult {
    match ctx.send(Request::Info { charm: local_path(&a.charm) }, DEFAULT_TIMEOUT)? {
        Reply::Charms { charms } => {
            for c in &charms {
                let v = output::charms::structured(c);
                emit::out(&output::data(a.format, &v)?);
            }
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

fn charm_list(ctx: &Ctx, format: TableFormat) -> CmdResult {
    match ctx.send(Request::Charms, DEFAULT_TIMEOUT)? {
        Reply::Charms { charms } => {
            emit::out(&match format {
                TableFormat::Tabular => output::charms::render_list(&charms, colour_stdout(ColorChoice::Auto)),
                TableFormat::Json => output::json(&charms.iter().map(output::charms::structured).collect::<Vec<_>>())?,
                TableFormat::Yaml => output::yaml(&charms.iter().map(output::charms::structured).collect::<Vec<_>>())?,
            });
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}

fn config(ctx: &Ctx, a: args::ConfigArgs) -> CmdResult {
    let model = ctx.model.clone();
    match config_mode(&a)? {
        ConfigMode::Set { set, reset } => print_done(ctx.send(Request::ConfigSet { model, app: a.app, set, reset }, DEFAULT_TIMEOUT)?),
        mode => match ctx.send(Request::ConfigGet { model, app: a.app }, DEFAULT_TIMEOUT)? {
            Reply::Config { config } => {
                emit::out(&match mode {
                    ConfigMode::GetKey(key) => output::config::render_key(&config, &key)?,
                    _ => output::config::render(&config, a.format)?,
                });
                Ok(0)
            }
            other => Err(unexpected(&other)),
        },
    }
}

/// `remove-application --dry-run`: what would be removed, in Juju's words; nothing is.
fn removal_dry_run(ctx: &Ctx, apps: &[String]) -> CmdResult {
    let status = match ctx.send(Request::Status { model: ctx.model.clone() }, DEFAULT_TIMEOUT)? {
        Reply::Status { status, .. } => status,
        other => return Err(unexpected(&other)),
    };
    let mut lines = Vec::new();
    for app in apps {
        let found = status.applications.get(app).ok_or_else(|| CliError::runtime(format!("application {:?} not found", shown(app))))?;
        lines.push(format!("will remove application {app}"));
        lines.extend(found.units.keys().map(|u| format!("- will remove unit {u}")));
    }
    for line in &lines {
        emit::info(line);
    }
    Ok(0)
}

/// `integrate`: a relation of the same pair still being removed is waited for (one
/// second quietly, then saying so, at most two minutes in all), as the seeds'
/// `remove-relation` then `integrate` expect.
fn show_unit(ctx: &Ctx, a: args::ShowUnitArgs) -> CmdResult {
    let mut all = std::collections::BTreeMap::new();
    for unit in a.units {
        match ctx.send(Request::ShowUnit { model: ctx.model.clone(), unit }, DEFAULT_TIMEOUT)? {
            Reply::ShowUnit { units } => all.extend(units),
            other => return Err(unexpected(&other)),
        }
    }
    let filter = output::show_unit::Filter { endpoint: a.endpoint, related_unit: a.related_unit, app_only: a.app };
    for view in all.values_mut() {
        filter.apply(view);
    }
    emit::out(&output::data(a.format, &all)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_args(args: &[&str], reset: &[&str]) -> args::ConfigArgs {
        args::ConfigArgs {
            app: "di".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            reset: reset.iter().map(|s| s.to_string()).collect(),
            file: None,
            format: args::DataFormat::Yaml,
        }
    }

    #[test]
    fn config_modes_follow_juju() {
        assert_eq!(config_mode(&config_args(&[], &[])), Ok(ConfigMode::GetAll));
        assert_eq!(config_mode(&config_args(&["database-name"], &[])), Ok(ConfigMode::GetKey("database-name".into())));
        assert_eq!(
            config_mode(&config_args(&["a=1", "b=x=y"], &["c,d", "e"])),
            Ok(ConfigMode::Set { set: vec!["a=1".into(), "b=x=y".into()], reset: vec!["c".into(), "d".into(), "e".into()] })
        );
        assert_eq!(config_mode(&config_args(&["a", "b"], &[])), Err(CliError::usage("can only retrieve a single value, or all values")));
        assert_eq!(config_mode(&config_args(&["a", "b=1"], &[])), Err(CliError::usage("cannot set and retrieve values simultaneously")));
    }

    #[test]
    fn remove_relation_args_follow_juju() {
        assert_eq!(relation_args(&["3".into()]), Ok(("3".into(), None)));
        assert_eq!(relation_args(&["a".into(), "b:x".into()]), Ok(("a".into(), Some("b:x".into()))));
        assert_eq!(relation_args(&["pg".into()]), Err(CliError::usage("relation ID \"pg\" not valid")));
        assert_eq!(relation_args(&[]), Err(CliError::usage("a relation must involve two applications")));
    }

    #[test]
    fn shape_errors_are_caught_before_anything_is_sent() {
        let parse = |argv: &[&str]| {
            let mut full = vec!["tether"];
            full.extend_from_slice(argv);
            match args::parse(full) {
                Ok(cli) => cli.command,
                Err(_) => panic!("{argv:?} did not parse"),
            }
        };
        assert_eq!(validate(&parse(&["integrate", "pg"])), Err(CliError::usage("an integration must involve two applications")));
        assert!(validate(&parse(&["integrate", "pg", "di"])).is_ok());
        assert!(matches!(validate(&parse(&["run", "pg/0", "act", "--wait", "soon"])), Err(CliError::Usage(_))));
        assert!(matches!(validate(&parse(&["run", "pg/0", "act", "--wait", "1s", "--background"])), Err(CliError::Usage(_))));
        assert!(validate(&parse(&["run", "pg/0", "act", "--wait", "-1s"])).is_ok());
        assert!(matches!(validate(&parse(&["deploy", "pg", "--config", "novalue"])), Err(CliError::Usage(_))));
        assert!(matches!(validate(&parse(&["destroy-model", "m", "--timeout", "x"])), Err(CliError::Usage(_))));
        assert!(validate(&parse(&["run", "pg/leader", "get-password", "--wait", "60.0s"])).is_ok());
    }
}
