//! The command-line grammar: Juju's verbs and flags as clap derive types.
//!
//! jubilant builds argv the way the real `juju` accepts it: `--model M` right after the
//! verb, flags interleaved with positionals, Go durations such as `60.0s`, and many flags
//! that only matter to a cloud controller. The parser knows those flags so that tether
//! can stand in for `juju` on Every flag declared here is either honoured or refused by `unsupported`
//! with `option --X is not supported by tether: <why>` (the test `every_flag` walks
//! them all through the hidden `__flags` verb). Parse failures are turned into
//! Juju-style one-line usage errors, clap's "did you mean" kept.

use super::error::CliError;
use super::params::shown;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tether",
    about = "A Juju-compatible CLI and controller that connects applications to real databases.",
    disable_version_flag = true,
    color = clap::ColorChoice::Never,
    max_term_width = 100
)]
pub struct Cli {
    /// Model to operate in (`name`, `user/name`, `ctrl:name` or `ctrl:user/name`).
    #[arg(short = 'm', long = "model", global = true, value_name = "MODEL")]
    pub model: Option<String>,

    /// Refused: tether's CLI has no debug log.
    #[arg(long, global = true, hide = true)]
    pub debug: bool,
    /// Refused: tether's CLI has no verbose mode.
    #[arg(long, global = true, hide = true)]
    pub verbose: bool,
    /// Show no informational output (errors are still shown).
    #[arg(long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the local controller in the background.
    Bootstrap(BootstrapArgs),
    /// Add a model.
    AddModel(AddModelArgs),
    /// List models.
    Models(ModelsArgs),
    /// Select the current model.
    Switch(SwitchArgs),
    /// Destroy a model and everything in it.
    DestroyModel(DestroyModelArgs),
    /// Deploy an application.
    Deploy(Box<DeployArgs>),
    /// Remove applications.
    RemoveApplication(RemoveApplicationArgs),
    /// Add units to an application.
    AddUnit(AddUnitArgs),
    /// Remove units.
    RemoveUnit(RemoveUnitArgs),
    /// Integrate two applications.
    #[command(visible_alias = "relate", alias = "add-relation")]
    Integrate(IntegrateArgs),
    /// Remove an integration.
    RemoveRelation(RemoveRelationArgs),
    /// Get, set or reset application configuration.
    Config(ConfigArgs),
    /// Refresh an application's local charm from a new version (`--path`).
    Refresh(RefreshArgs),
    /// Give an application access to trusted credentials (or take it back).
    Trust(TrustArgs),
    /// Show what deploying a bundle would change in the model.
    DiffBundle(DiffBundleArgs),
    /// Write the model as a bundle.
    ExportBundle(ExportBundleArgs),
    /// Run an action on a unit.
    Run(RunArgs),
    /// Show the status of the model.
    Status(StatusArgs),
    /// Wait until an application, a unit or a model reaches a goal (a query).
    WaitFor(WaitForArgs),
    /// Show information about a unit.
    ShowUnit(ShowUnitArgs),
    /// Print the model's log (and follow it on a terminal).
    DebugLog(DebugLogArgs),
    /// Show a unit's or an application's status history.
    ShowStatusLog(ShowStatusLogArgs),
    /// List the actions of an application's charm.
    Actions(ActionsArgs),
    /// Show one action of an application's charm and its parameters.
    ShowAction(ShowActionArgs),
    /// List the operations (`run`) of the model.
    Operations(OperationsArgs),
    /// Show an operation and its tasks.
    ShowOperation(ShowOperationArgs),
    /// Show a task's results and log.
    ShowTask(ShowTaskArgs),
    /// Retry a failed hook.
    #[command(visible_alias = "resolved")]
    Resolve(ResolveArgs),
    /// List secrets.
    Secrets(SecretsArgs),
    /// Show a secret.
    ShowSecret(ShowSecretArgs),
    /// Print the version.
    Version(VersionArgs),
    /// Show a charm's endpoints, config options and actions.
    Info(InfoArgs),
    /// Show the credential audit trail (issued, rotated, revoked; never secrets).
    Audit(AuditArgs),
    /// Get or set model configuration.
    ModelConfig(ModelConfigArgs),
    /// Show a model's details.
    ShowModel(ShowModelArgs),
    /// Add a user secret.
    AddSecret(SecretContentArgs),
    /// Update a user secret.
    UpdateSecret(UpdateSecretArgs),
    /// Remove a user secret.
    RemoveSecret(RemoveSecretArgs),
    /// Grant a user secret to applications.
    GrantSecret(GrantSecretArgs),
    /// Revoke a user secret from applications.
    RevokeSecret(GrantSecretArgs),
    /// Run a command on a unit.
    Exec(ExecArgs),
    /// List the built-in charms.
    Charms(ModelsArgs),
    /// List machines (tether has none: its workloads run beside the controller).
    Machines(ModelsArgs),
    /// Run or stop the controller daemon.
    Controller(ControllerArgs),
    /// Stop the controller and delete all of its state.
    DestroyController(DestroyControllerArgs),
    /// Every flag of every verb, one JSON object a line (for the `every_flag` test).
    #[command(name = "__flags", hide = true)]
    Flags,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Cloud and controller name (there is one local controller), and `--no-switch`;
    /// Juju's other bootstrap flags are refused by name.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AddModelArgs {
    pub name: String,
    /// Cloud or region (tether has one local cloud).
    pub cloud: Option<String>,
    /// Do not make the new model the current one.
    #[arg(long)]
    pub no_switch: bool,
    #[arg(short = 'c', long, hide = true)]
    pub controller: Option<String>,
    #[arg(long, hide = true)]
    pub credential: Option<String>,
    #[arg(long = "config", hide = true)]
    pub config: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Tabular)]
    pub format: TableFormat,
    #[arg(short = 'c', long, hide = true)]
    pub controller: Option<String>,
}

#[derive(Debug, Args)]
pub struct SwitchArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DestroyModelArgs {
    pub name: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub no_prompt: bool,
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub destroy_storage: bool,
    #[arg(long)]
    pub release_storage: bool,
    #[arg(long)]
    pub no_wait: bool,
    /// Go-style duration; accepted and checked, the controller decides how long teardown takes.
    #[arg(long)]
    pub timeout: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Tabular)]
    pub format: TableFormat,
    /// Every model, not only the current one.
    #[arg(long)]
    pub all_models: bool,
}

#[derive(Debug, Args)]
pub struct ModelConfigArgs {
    /// `key=value` to set, or nothing to show all.
    pub args: Vec<String>,
    /// Keys to reset (comma-separated, repeatable).
    #[arg(long)]
    pub reset: Vec<String>,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
}

#[derive(Debug, Args)]
pub struct ShowModelArgs {
    pub name: Option<String>,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
}

#[derive(Debug, Args)]
pub struct SecretContentArgs {
    pub name: String,
    /// `key=value` content.
    pub content: Vec<String>,
    #[arg(long)]
    pub info: Option<String>,
    /// A YAML map of content.
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateSecretArgs {
    pub id: String,
    pub content: Vec<String>,
    #[arg(long)]
    pub info: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    #[arg(long, hide = true)]
    pub auto_prune: bool,
}

#[derive(Debug, Args)]
pub struct RemoveSecretArgs {
    pub id: String,
    #[arg(long, hide = true)]
    pub revision: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GrantSecretArgs {
    pub id: String,
    /// Applications, comma-separated.
    pub apps: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[arg(long)]
    pub unit: Option<String>,
    #[arg(long)]
    pub machine: Option<String>,
    #[arg(long)]
    pub wait: Option<String>,
    #[arg(long, value_enum, default_value_t = RunFormat::Plain)]
    pub format: RunFormat,
    /// The command and its arguments (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A built-in charm name or a local charm path.
    pub charm: String,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// A charm name (`postgresql-k8s`) or a local path starting with `.` or `/`.
    pub charm: String,
    /// Application name (defaults to the charm name).
    pub app: Option<String>,
    /// `key=value` or a YAML file; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE|FILE")]
    pub config: Vec<String>,
    #[arg(short = 'n', long = "num-units", default_value_t = 1)]
    pub num_units: u32,
    #[arg(long, hide = true)]
    pub channel: Option<String>,
    /// Lets the charm read the cloud credential (`credential-get`).
    #[arg(long)]
    pub trust: bool,
    #[arg(long, hide = true)]
    pub base: Option<String>,
    #[arg(long, hide = true)]
    pub series: Option<String>,
    #[arg(long, hide = true)]
    pub revision: Option<String>,
    #[arg(long, hide = true)]
    pub constraints: Vec<String>,
    #[arg(long, hide = true)]
    pub to: Option<String>,
    #[arg(long, hide = true)]
    pub bind: Option<String>,
    #[arg(long, hide = true)]
    pub force: bool,
    /// `NAME=PATH`: a file for one of the charm's resources (`resource-get NAME`); repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    pub resource: Vec<String>,
    #[arg(long, hide = true)]
    pub storage: Vec<String>,
    /// Overlays merged onto a bundle, in order (only with a bundle).
    #[arg(long)]
    pub overlay: Vec<String>,
    #[arg(long, hide = true)]
    pub attach_storage: Option<String>,
    /// Print what would be deployed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RemoveApplicationArgs {
    #[arg(required = true, value_name = "APP")]
    pub apps: Vec<String>,
    #[arg(long)]
    pub no_prompt: bool,
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub destroy_storage: bool,
    #[arg(long, hide = true)]
    pub no_wait: bool,
    /// Print what would be removed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct AddUnitArgs {
    pub app: String,
    #[arg(short = 'n', long = "num-units", default_value_t = 1)]
    pub num_units: u32,
    #[arg(long, hide = true)]
    pub to: Option<String>,
    #[arg(long, hide = true)]
    pub attach_storage: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveUnitArgs {
    #[arg(required = true, value_name = "UNIT_OR_APP")]
    pub units: Vec<String>,
    #[arg(long)]
    pub no_prompt: bool,
    /// Number of units to remove (with an application name).
    #[arg(long)]
    pub num_units: Option<u32>,
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub destroy_storage: bool,
    #[arg(long, hide = true)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct IntegrateArgs {
    /// `app[:endpoint]` twice.
    #[arg(value_name = "APP[:ENDPOINT]")]
    pub endpoints: Vec<String>,
    /// Cross-model only: refused.
    #[arg(long, hide = true)]
    pub via: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveRelationArgs {
    /// `app[:endpoint] app[:endpoint]` or one relation id.
    #[arg(value_name = "APP[:ENDPOINT]|ID")]
    pub args: Vec<String>,
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ActionsArgs {
    pub app: String,
    /// Show each action's parameters as a JSON Schema (yaml unless --format json).
    #[arg(long)]
    pub schema: bool,
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(Debug, Args)]
pub struct ShowActionArgs {
    pub app: String,
    pub action: String,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    pub app: String,
    /// The new version of the local charm: a directory or a `.charm` file.
    #[arg(long)]
    pub path: Option<String>,
    /// `key=value` or a YAML file applied with the refresh; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE|FILE")]
    pub config: Vec<String>,
    /// Lets the charm read the cloud credential (`credential-get`).
    #[arg(long)]
    pub trust: bool,
    #[arg(long, hide = true)]
    pub base: Option<String>,
    #[arg(long, hide = true)]
    pub bind: Option<String>,
    #[arg(long, hide = true)]
    pub channel: Option<String>,
    #[arg(long, hide = true)]
    pub force: bool,
    #[arg(long, hide = true)]
    pub force_base: bool,
    #[arg(long, hide = true)]
    pub force_units: bool,
    #[arg(long, hide = true)]
    pub resource: Vec<String>,
    #[arg(long, hide = true)]
    pub revision: Option<String>,
    #[arg(long, hide = true)]
    pub storage: Vec<String>,
    #[arg(long, hide = true)]
    pub switch: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    pub app: String,
    /// Take the trust back.
    #[arg(long)]
    pub remove: bool,
    #[arg(long, hide = true)]
    pub scope: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiffBundleArgs {
    /// The bundle file.
    pub bundle: std::path::PathBuf,
    /// Overlays merged onto the bundle, in order.
    #[arg(long)]
    pub overlay: Vec<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportBundleArgs {
    /// Write the bundle to this file instead of stdout.
    #[arg(long)]
    pub filename: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    pub app: String,
    /// `key` (print one value) or `key=value` (set).
    #[arg(value_name = "KEY|KEY=VALUE")]
    pub args: Vec<String>,
    /// Comma-separated keys to reset to their defaults; repeatable.
    #[arg(long)]
    pub reset: Vec<String>,
    /// A YAML file of values to set.
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// One or more units (`app/N`, `app/leader`), the action name, then `key=value` params.
    #[arg(value_name = "UNIT ACTION [KEY=VALUE]")]
    pub args: Vec<String>,
    /// A YAML file of params (command-line params override it).
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// How long to wait for results (Go duration; 0 or unset: 60s; negative: forever).
    #[arg(long, allow_hyphen_values = true)]
    pub wait: Option<String>,
    /// Do not type `key=value` values as YAML.
    #[arg(long)]
    pub string_args: bool,
    /// Schedule the action and return without waiting.
    #[arg(long)]
    pub background: bool,
    #[arg(long, value_enum, default_value_t = RunFormat::Plain)]
    pub format: RunFormat,
    /// Show action-log times in UTC.
    #[arg(long)]
    pub utc: bool,
    #[arg(long, hide = true)]
    pub color: bool,
    #[arg(long, hide = true)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show only these applications or units (names or globs: `pg`, `pg/0`, `'pg*'`).
    #[arg(value_name = "SELECTOR")]
    pub selectors: Vec<String>,
    #[arg(long, value_enum, default_value_t = StatusFormat::Tabular)]
    pub format: StatusFormat,
    /// Show the integrations section.
    #[arg(long, alias = "integrations")]
    pub relations: bool,
    /// Force colours.
    #[arg(long)]
    pub color: bool,
    /// Never use colours.
    #[arg(long)]
    pub no_color: bool,
    /// Show times in UTC (local time otherwise).
    #[arg(long)]
    pub utc: bool,
    /// Refused: tether's status has no storage section.
    #[arg(long, hide = true)]
    pub storage: bool,
    /// Print the status again every DURATION (`5s`) until interrupted.
    #[arg(long, value_name = "DURATION")]
    pub watch: Option<String>,
}

/// What `wait-for` waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WaitKind {
    Application,
    Unit,
    Model,
}

#[derive(Debug, Args)]
pub struct WaitForArgs {
    /// `application`, `unit` or `model`.
    #[arg(value_enum)]
    pub kind: WaitKind,
    /// The application, unit or model name.
    pub name: String,
    /// The goal, in Juju's query language (Juju's default for the kind when absent).
    #[arg(long)]
    pub query: Option<String>,
    /// Give up after this long (default 10m).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Print the fields of what was waited for once the goal is reached.
    #[arg(long)]
    pub summary: bool,
}

#[derive(Debug, Args)]
pub struct ShowUnitArgs {
    #[arg(required = true, value_name = "UNIT")]
    pub units: Vec<String>,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
    /// Show only the related application's data (no unit bags).
    #[arg(long)]
    pub app: bool,
    /// Show only the relations of this endpoint.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Show only this related unit's data.
    #[arg(long)]
    pub related_unit: Option<String>,
}

#[derive(Debug, Args)]
pub struct DebugLogArgs {
    /// Show this many of the most recent (filtered) lines (default 10).
    #[arg(short = 'n', long = "lines")]
    pub lines: Option<u64>,
    /// Show this many of the most recent (filtered) lines and exit (0: all of them).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Show the entire (filtered) log.
    #[arg(long)]
    pub replay: bool,
    /// Stop after the existing lines (the default when stdout is not a terminal).
    #[arg(long)]
    pub no_tail: bool,
    /// Wait for new lines (the default on a terminal).
    #[arg(long)]
    pub tail: bool,
    /// Show lines at or above this level: TRACE, DEBUG, INFO, WARNING, ERROR.
    #[arg(short = 'l', long)]
    pub level: Option<String>,
    /// Only show lines of these entities (`unit-app-0`, `app/0`, `app`); repeatable.
    #[arg(short = 'i', long)]
    pub include: Vec<String>,
    /// Do not show lines of these entities; repeatable.
    #[arg(short = 'x', long)]
    pub exclude: Vec<String>,
    /// Only show lines of these modules (or their sub-modules); repeatable.
    #[arg(long)]
    pub include_module: Vec<String>,
    /// Do not show lines of these modules; repeatable.
    #[arg(long)]
    pub exclude_module: Vec<String>,
    /// Show dates as well as times.
    #[arg(long)]
    pub date: bool,
    /// Show times to millisecond precision.
    #[arg(long)]
    pub ms: bool,
    /// Show times in UTC.
    #[arg(long)]
    pub utc: bool,
    #[arg(long, hide = true)]
    pub color: bool,
    #[arg(long, hide = true)]
    pub location: bool,
}

#[derive(Debug, Args)]
pub struct ShowStatusLogArgs {
    /// A unit (`app/0`) or an application.
    pub entity: String,
    /// Only the history of the last N days.
    #[arg(long)]
    pub days: Option<u32>,
    /// Only the last N entries.
    #[arg(short = 'n')]
    pub n: Option<u32>,
    /// `unit` (workload and agent), `workload`, `juju-unit` or `application`.
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(long, value_enum, default_value_t = TableFormat::Tabular)]
    pub format: TableFormat,
    /// Show times in UTC.
    #[arg(long)]
    pub utc: bool,
}

#[derive(Debug, Args)]
pub struct OperationsArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Tabular)]
    pub format: TableFormat,
    /// Show times in UTC.
    #[arg(long)]
    pub utc: bool,
}

#[derive(Debug, Args)]
pub struct ShowOperationArgs {
    pub id: String,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
    #[arg(long, hide = true)]
    pub utc: bool,
}

#[derive(Debug, Args)]
pub struct ShowTaskArgs {
    pub id: String,
    /// Wait for the task to finish.
    #[arg(long)]
    pub watch: bool,
    #[arg(long, value_enum, default_value_t = RunFormat::Plain)]
    pub format: RunFormat,
    /// Show times in UTC.
    #[arg(long)]
    pub utc: bool,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[arg(required = true, value_name = "UNIT")]
    pub units: Vec<String>,
    /// Refused: tether always runs the failed hook again.
    #[arg(long, hide = true)]
    pub no_retry: bool,
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Tabular)]
    pub format: TableFormat,
    /// Only secrets with this owner.
    #[arg(long)]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowSecretArgs {
    pub id: String,
    /// Include the secret's content.
    #[arg(long)]
    pub reveal: bool,
    #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
    pub format: DataFormat,
    #[arg(long, hide = true)]
    pub revisions: bool,
    #[arg(long, hide = true)]
    pub revision: Option<u64>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[arg(long, value_enum, default_value_t = VersionFormat::Smart)]
    pub format: VersionFormat,
    /// Print all version details.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ControllerArgs {
    #[command(subcommand)]
    pub action: ControllerAction,
}

#[derive(Debug, Subcommand)]
pub enum ControllerAction {
    /// Run the controller in the foreground (for service managers).
    Run,
    /// Stop the controller and its workloads, keeping all state.
    Stop,
}

#[derive(Debug, Args)]
pub struct DestroyControllerArgs {
    /// Controller name: accepted and ignored (there is one local controller).
    pub name: Option<String>,
    /// Do not ask for confirmation (required: tether never prompts here).
    #[arg(short = 'y', long = "no-prompt")]
    pub no_prompt: bool,
    #[arg(long)]
    pub destroy_all_models: bool,
    #[arg(long, hide = true)]
    pub destroy_storage: bool,
    #[arg(long, hide = true)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Tabular,
    Yaml,
    Json,
    /// One line per unit: `- UNIT: ADDRESS (agent:AGENT, workload:WORKLOAD)`.
    Short,
    Oneline,
    Line,
    /// Counts of units, applications and their statuses.
    Summary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Tabular,
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    Plain,
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    Smart,
    Yaml,
    Json,
}

/// Why parsing did not produce a command.
#[derive(Debug)]
pub enum ParseOutcome {
    /// Help was printed; exit 0.
    Printed,
    Error(CliError),
}

/// Parses a full argv (program name first).
pub fn parse<I, T>(argv: I) -> Result<Cli, ParseOutcome>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::error::ErrorKind;
    match Cli::try_parse_from(argv) {
        Ok(cli) => Ok(cli),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                super::emit::out(&e.render().to_string());
                Err(ParseOutcome::Printed)
            }
            _ => Err(ParseOutcome::Error(CliError::Usage(usage_line(&e)))),
        },
    }
}

/// Every flag of every verb (the globals under verb `""`), one JSON object a line:
/// `{"verb", "flag", "short", "takes_value", "hidden"}`.
pub fn flag_list() -> String {
    use clap::CommandFactory;
    fn walk(verb: &str, cmd: &clap::Command, out: &mut String) {
        for arg in cmd.get_arguments().filter(|a| !a.is_positional() && (verb.is_empty() || !a.is_global_set())) {
            let line = serde_json::json!({
                "verb": verb,
                "flag": arg.get_long().map(|l| format!("--{l}")),
                "short": arg.get_short().map(|s| format!("-{s}")),
                "takes_value": arg.get_action().takes_values(),
                "hidden": arg.is_hide_set(),
            });
            out.push_str(&format!("{line}\n"));
        }
        for sub in cmd.get_subcommands() {
            walk(format!("{verb} {}", sub.get_name()).trim_start(), sub, out);
        }
    }
    let mut out = String::new();
    walk("", &Cli::command(), &mut out);
    out
}

/// Clap's error as one line: unknown verbs and flags in Juju's words with clap's
/// suggestion kept (`did you mean "status"?`).
fn usage_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        // clap lists suggestions from the least to the most likely.
        Some(ContextValue::Strings(v)) => v.last().cloned(),
        _ => None,
    };
    let suggestion = |kind| text(kind).map(|s| format!("; did you mean {:?}?", shown(&s))).unwrap_or_default();
    match e.kind() {
        ErrorKind::InvalidSubcommand => match text(ContextKind::InvalidSubcommand) {
            Some(verb) => {
                format!("unrecognized command {:?}{}", shown(&verb), suggestion(ContextKind::SuggestedSubcommand))
            }
            None => first_meaningful_line(&e.render().to_string()),
        },
        ErrorKind::UnknownArgument => match text(ContextKind::InvalidArg) {
            Some(flag) if flag.starts_with('-') => {
                let flag = flag.split_once('=').map(|(f, _)| f).unwrap_or(&flag);
                format!("option provided but not defined: {}{}", shown(flag), suggestion(ContextKind::SuggestedArg))
            }
            _ => first_meaningful_line(&e.render().to_string()),
        },
        _ => first_meaningful_line(&e.render().to_string()),
    }
}

/// The first non-empty line of clap's message without its `error: ` prefix; a line
/// ending in `:` (clap lists the missing arguments below it) gets that list appended.
fn first_meaningful_line(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error:").map(str::trim).unwrap_or(first).to_string();
    if line.ends_with(':') {
        let listed: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:") && !l.starts_with("tip:")).collect();
        if !listed.is_empty() {
            line = format!("{line} {}", listed.join(", "));
        }
    }
    // Never echo megabytes of a bad argument back.
    let mut shown: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        shown.push('…');
    }
    shown
}

/// The model name tether uses for a `--model` value: `ctrl:` and `user/` prefixes are
/// dropped because there is exactly one local controller and one user.
pub fn model_name(raw: &str) -> String {
    let without_ctrl = raw.rsplit_once(':').map(|(_, m)| m).unwrap_or(raw);
    without_ctrl.rsplit_once('/').map(|(_, m)| m).unwrap_or(without_ctrl).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(argv: &[&str]) -> Cli {
        let mut full = vec!["tether"];
        full.extend_from_slice(argv);
        match parse(full) {
            Ok(cli) => cli,
            Err(ParseOutcome::Error(e)) => panic!("{argv:?}: {e:?}"),
            Err(ParseOutcome::Printed) => panic!("{argv:?}: printed help"),
        }
    }

    fn parse_err(argv: &[&str]) -> CliError {
        let mut full = vec!["tether"];
        full.extend_from_slice(argv);
        match parse(full) {
            Err(ParseOutcome::Error(e)) => e,
            other => panic!("{argv:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn deploy_accepts_model_right_after_the_verb() {
        let cli = parse_ok(&["deploy", "--model", "m", "./x", "app", "--config", "a=b"]);
        assert_eq!(cli.model.as_deref(), Some("m"));
        let Command::Deploy(d) = cli.command else { panic!("not deploy") };
        assert_eq!(d.charm, "./x");
        assert_eq!(d.app.as_deref(), Some("app"));
        assert_eq!(d.config, ["a=b"]);
        assert_eq!(d.num_units, 1);
    }

    #[test]
    fn deploy_parses_store_flags_that_unsupported_then_refuses() {
        let cli = parse_ok(&[
            "deploy",
            "postgresql-k8s",
            "--channel",
            "14/stable",
            "--trust",
            "-n",
            "3",
            "--base",
            "ubuntu@22.04",
            "--revision",
            "5",
            "--constraints",
            "mem=1G",
            "--resource",
            "img=x",
            "--config",
            "a=1",
            "--config",
            "b=2",
            "pg",
        ]);
        let Command::Deploy(d) = cli.command else { panic!("not deploy") };
        assert_eq!(d.app.as_deref(), Some("pg"));
        assert_eq!(d.num_units, 3);
        assert_eq!(d.config, ["a=1", "b=2"]);
    }

    #[test]
    fn run_accepts_jubilant_argv() {
        let cli = parse_ok(&["run", "--format", "json", "pg/leader", "set-password", "--wait", "60.0s", "--params", "/tmp/p.yaml"]);
        let Command::Run(r) = cli.command else { panic!("not run") };
        assert_eq!(r.format, RunFormat::Json);
        assert_eq!(r.args, ["pg/leader", "set-password"]);
        assert_eq!(r.wait.as_deref(), Some("60.0s"));
        assert_eq!(r.params.as_deref(), Some(std::path::Path::new("/tmp/p.yaml")));
    }

    #[test]
    fn run_interleaves_model_and_params() {
        let cli = parse_ok(&["run", "--model", "m", "--format", "json", "di/0", "get-credentials", "x=1", "--string-args", "y.z=2"]);
        assert_eq!(cli.model.as_deref(), Some("m"));
        let Command::Run(r) = cli.command else { panic!("not run") };
        assert!(r.string_args);
        assert_eq!(r.args, ["di/0", "get-credentials", "x=1", "y.z=2"]);
    }

    #[test]
    fn remove_relation_takes_an_id_or_two_endpoints() {
        let Command::RemoveRelation(r) = parse_ok(&["remove-relation", "3"]).command else { panic!() };
        assert_eq!(r.args, ["3"]);
        let Command::RemoveRelation(r) = parse_ok(&["remove-relation", "pg:database", "--force", "di"]).command else { panic!() };
        assert_eq!(r.args, ["pg:database", "di"]);
        assert!(r.force);
    }

    #[test]
    fn relate_is_an_alias_of_integrate() {
        let cli = parse_ok(&["relate", "-m", "m", "pg", "di:postgresql"]);
        assert_eq!(cli.model.as_deref(), Some("m"));
        let Command::Integrate(i) = cli.command else { panic!() };
        assert_eq!(i.endpoints, ["pg", "di:postgresql"]);
    }

    #[test]
    fn jubilant_forms_of_other_verbs_parse() {
        parse_ok(&["add-model", "--no-switch", "jubilant-abcd1234"]);
        parse_ok(&["destroy-model", "jubilant-abcd1234", "--no-prompt", "--destroy-storage", "--force", "--timeout", "600s"]);
        parse_ok(&["remove-application", "--model", "m", "--no-prompt", "pg", "di", "--force"]);
        parse_ok(&["remove-unit", "--model", "m", "--no-prompt", "pg", "--num-units", "2"]);
        parse_ok(&["add-unit", "--model", "m", "pg", "--num-units", "2"]);
        parse_ok(&["config", "--model", "m", "--format", "json", "di"]);
        parse_ok(&["config", "--model", "m", "di", "database-name=x", "--reset", "a,b"]);
        parse_ok(&["status", "--model", "m", "--format", "json"]);
        parse_ok(&["show-unit", "--model", "m", "di/0", "--format", "json"]);
        parse_ok(&["debug-log", "--model", "m", "--limit", "0"]);
        parse_ok(&[
            "debug-log",
            "-n",
            "5",
            "--no-tail",
            "-l",
            "INFO",
            "-i",
            "pg/0",
            "-x",
            "unit-di-0",
            "--include-module",
            "juju",
            "--date",
            "--ms",
            "--utc",
        ]);
        parse_ok(&["run", "pg/0", "act", "--wait", "-1s"]);
        parse_ok(&["secrets", "--model", "m", "--format", "json"]);
        parse_ok(&["show-secret", "--model", "m", "abc", "--format", "json", "--reveal"]);
        parse_ok(&["version", "--format", "json", "--all"]);
        parse_ok(&["bootstrap", "localhost", "ctrl", "--no-switch", "--config", "a=b"]);
        parse_ok(&["destroy-controller", "-y"]);
        parse_ok(&["destroy-controller", "tether", "--no-prompt", "--destroy-all-models"]);
        parse_ok(&["controller", "stop"]);
        parse_ok(&["resolved", "pg/0", "--no-retry"]);
        parse_ok(&["status", "--relations", "--no-color"]);
    }

    #[test]
    fn usage_errors_are_one_line_without_clap_prefix() {
        let e = parse_err(&["deploy"]);
        let CliError::Usage(m) = e else { panic!() };
        assert_eq!(m, "the following required arguments were not provided: <CHARM>");
        assert!(!m.contains('\n'));
        let CliError::Usage(m) = parse_err(&["status", "--bogus"]) else { panic!() };
        assert!(m.contains("--bogus"), "{m}");
        let CliError::Usage(m) = parse_err(&["add-unit", "pg", "-n", "x"]) else { panic!() };
        assert!(m.contains("invalid value"), "{m}");
        assert!(matches!(parse_err(&["nosuch"]), CliError::Usage(_)));
    }

    #[test]
    fn huge_arguments_do_not_flood_the_error() {
        let huge = "x".repeat(1_000_000);
        let CliError::Usage(m) = parse_err(&["status", &format!("--{huge}")]) else { panic!() };
        assert!(m.len() < 1000);
    }

    #[test]
    fn model_prefixes_are_dropped() {
        assert_eq!(model_name("m"), "m");
        assert_eq!(model_name("admin/m"), "m");
        assert_eq!(model_name("ctrl:m"), "m");
        assert_eq!(model_name("ctrl:admin/m"), "m");
    }
}
