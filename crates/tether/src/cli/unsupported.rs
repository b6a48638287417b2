//! The flags tether parses because `juju` has them but cannot honour: each is refused
//! by name, before a controller is started or anything is sent, with
//! `option --X is not supported by tether: <why>` (exit 2). Nothing is accepted and
//! ignored: a flag is either honoured by its verb or listed here (the `every_flag` test
//! walks every flag clap knows and checks one or the other).

use super::args::{Cli, Command};
use super::error::CliError;
use super::params::shown;

const NO_MACHINES: &str = "tether has no machines: every unit runs beside the controller";
const NO_STORE: &str = "tether deploys its built-in charms or local charm paths, which come in one version";
const NO_FORCE: &str = "tether cannot skip failing hooks; fix the unit and run resolve";
const NO_STORAGE: &str = "tether's storage is a directory per instance, with no pools or attachable volumes";
const ONE_CONTROLLER: &str = "tether runs one local controller";
const NO_WAIT: &str = "tether runs every removal step";

/// The refusal of one flag.
pub fn refused(flag: &str, why: &str) -> CliError {
    CliError::usage(format!("option {flag} is not supported by tether: {why}"))
}

/// The first refused flag of the command line, if any.
pub fn check(cli: &Cli) -> Result<(), CliError> {
    let mut given: Vec<(bool, &str, &str)> = vec![
        (cli.debug, "--debug", "the CLI has no debug log; the controller logs to $TETHER_HOME/logs/controller.log"),
        (cli.verbose, "--verbose", "tether's output has no verbose mode"),
    ];
    match &cli.command {
        Command::Bootstrap(a) => return bootstrap(&a.args),
        Command::AddModel(a) => given.extend([
            (a.controller.is_some(), "--controller", ONE_CONTROLLER),
            (a.credential.is_some(), "--credential", "tether's local cloud has no credentials"),
            (!a.config.is_empty(), "--config", "set model settings with model-config after add-model"),
        ]),
        Command::Models(a) | Command::Charms(a) | Command::Machines(a) => {
            given.push((a.controller.is_some(), "--controller", ONE_CONTROLLER))
        }
        Command::DestroyModel(a) => given.extend([
            (a.release_storage, "--release-storage", "a model's units take their data with them"),
            (a.no_wait, "--no-wait", NO_WAIT),
        ]),
        Command::Deploy(a) => given.extend([
            (a.channel.is_some(), "--channel", NO_STORE),
            (a.revision.is_some(), "--revision", NO_STORE),
            (a.base.is_some(), "--base", "units run on this machine's operating system"),
            (a.series.is_some(), "--series", "units run on this machine's operating system"),
            (!a.constraints.is_empty(), "--constraints", NO_MACHINES),
            (a.to.is_some(), "--to", NO_MACHINES),
            (a.bind.is_some(), "--bind", "tether has no network spaces"),
            (a.force, "--force", "tether has no deployment checks to bypass"),
            (!a.storage.is_empty(), "--storage", NO_STORAGE),
            (a.attach_storage.is_some(), "--attach-storage", NO_STORAGE),
            (
                !a.overlay.is_empty() && !super::bundles::is_bundle(&a.charm),
                "--overlay",
                "overlays apply to bundles, and this deploys a charm",
            ),
        ]),
        Command::Refresh(a) => given.extend([
            (a.channel.is_some(), "--channel", NO_STORE),
            (a.revision.is_some(), "--revision", NO_STORE),
            (a.switch.is_some(), "--switch", "a local charm is refreshed from its new version with --path"),
            (a.base.is_some(), "--base", "units run on this machine's operating system"),
            (a.force_base, "--force-base", "units run on this machine's operating system"),
            (a.bind.is_some(), "--bind", "tether has no network spaces"),
            (a.force, "--force", "tether has no refresh checks to bypass"),
            (a.force_units, "--force-units", NO_FORCE),
            (!a.resource.is_empty(), "--resource", "a refresh keeps the application's resources; deploy sets them"),
            (!a.storage.is_empty(), "--storage", NO_STORAGE),
        ]),
        Command::Trust(a) => given.push((a.scope.is_some(), "--scope", "tether has no cluster to scope the trust to")),
        Command::RemoveApplication(a) => given.extend([(a.force, "--force", NO_FORCE), (a.no_wait, "--no-wait", NO_WAIT)]),
        Command::AddUnit(a) => {
            given.extend([(a.to.is_some(), "--to", NO_MACHINES), (a.attach_storage.is_some(), "--attach-storage", NO_STORAGE)])
        }
        Command::RemoveUnit(a) => given.extend([(a.force, "--force", NO_FORCE), (a.no_wait, "--no-wait", NO_WAIT)]),
        Command::Integrate(a) => given.push((a.via.is_some(), "--via", "tether has no cross-model relations")),
        Command::RemoveRelation(a) => given.push((a.force, "--force", NO_FORCE)),
        Command::Run(a) => given.push((a.color, "--color", "run's output has no colours")),
        Command::DebugLog(a) => given.extend([
            (a.color, "--color", "debug-log's lines have no colours"),
            (a.location, "--location", "tether's log lines carry no source location"),
        ]),
        Command::Resolve(a) => given.push((a.no_retry, "--no-retry", "tether always runs the failed hook again")),
        Command::UpdateSecret(a) => {
            given.push((a.auto_prune, "--auto-prune", "tether keeps a user secret's revisions until remove-secret"))
        }
        Command::RemoveSecret(a) => given.push((a.revision.is_some(), "--revision", "tether removes a user secret whole")),
        Command::ShowSecret(a) => given.extend([
            (a.revisions, "--revisions", "show-secret shows the latest revision only"),
            (a.revision.is_some(), "--revision", "show-secret shows the latest revision only"),
        ]),
        Command::DestroyController(a) => given.push((a.force, "--force", NO_FORCE)),
        Command::Exec(a) => given.push((a.machine.is_some(), "--machine", NO_MACHINES)),
        Command::Status(a) => given.push((
            a.storage,
            "--storage",
            "tether's status has no storage section: a charm's storage is a directory per instance, which its hooks list with storage-list",
        )),
        _ => {}
    }
    match given.into_iter().find(|(set, _, _)| *set) {
        Some((_, flag, why)) => Err(refused(flag, why)),
        None => Ok(()),
    }
}

/// `bootstrap [CLOUD [CONTROLLER]] [--no-switch]`: Juju's other flags are refused by name.
fn bootstrap(args: &[String]) -> Result<(), CliError> {
    if let Some(flag) = args.iter().find(|a| a.starts_with('-') && a.as_str() != "--no-switch") {
        let name = flag.split_once('=').map(|(f, _)| f).unwrap_or(flag);
        return Err(refused(&shown(name), "the controller is local and bootstraps with no options"));
    }
    let positional = args.iter().filter(|a| !a.starts_with('-')).count();
    if positional > 2 {
        return Err(CliError::usage(format!("unrecognized args: {:?}", shown(&args[args.len() - 1]))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_refuses_flags_by_name() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(bootstrap(&v(&["localhost", "ctrl", "--no-switch"])).is_ok());
        assert_eq!(
            bootstrap(&v(&["localhost", "--config=a=b"])),
            Err(CliError::usage("option --config is not supported by tether: the controller is local and bootstraps with no options"))
        );
    }
}
