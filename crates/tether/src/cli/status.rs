//! `status` (selectors, formats, local times, `--watch`) and `wait-for`.
//!
//! Both read the model through one `Request::Status`. `status --watch D` prints the
//! status again every D until interrupted or until stdout is closed (on a terminal the
//! screen is cleared between prints; otherwise snapshots are separated by a blank line).
//! `wait-for` polls the status every 500 ms, turns the application, unit or model into
//! the fields of Juju's query language (`tether_core::wait_query`) and exits 0 as soon
//! as the query holds, or 1 with Juju's `timed out waiting for "NAME" to reach goal
//! state` after `--timeout` (10 minutes by default). While it waits it says on stderr
//! what it waits for: one updating line on a terminal, a plain line each time what it
//! observes changes otherwise.

use super::args::{StatusArgs, StatusFormat, WaitForArgs, WaitKind};
use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::output;
use super::output::table::colour_stdout;
use super::params::shown;
use super::reply::unexpected;
use anstream::ColorChoice;
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use tether_core::duration::parse_duration;
use tether_core::wait_query::{self, Expr, Scope, Value};
use tether_core::wire::{AppStatusView, RelationRow, Reply, Request, StatusView, UnitStatusView};

/// How often `wait-for` asks for the status.
const WAIT_POLL: Duration = Duration::from_millis(500);
/// Juju's default `wait-for --timeout`.
const WAIT_TIMEOUT: Duration = Duration::from_secs(600);
/// Clears a terminal and puts the cursor home.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

fn duration_arg(flag: &str, value: &str) -> Result<Duration, CliError> {
    parse_duration(value).map_err(|_| CliError::usage(format!("invalid value {:?} for option --{flag}: invalid duration", shown(value))))
}

/// Shape checks of `status`, before anything starts.
pub fn validate_status(a: &StatusArgs) -> Result<(), CliError> {
    match a.watch.as_deref().map(|w| duration_arg("watch", w)).transpose()? {
        Some(d) if d.is_zero() => Err(CliError::usage("invalid value \"0s\" for option --watch: must be more than zero")),
        _ => Ok(()),
    }
}

/// Shape checks of `wait-for`: the duration and the query parse.
pub fn validate_wait(a: &WaitForArgs) -> Result<(), CliError> {
    a.timeout.as_deref().map(|t| duration_arg("timeout", t)).transpose()?;
    query(a).map(|_| ())
}

fn query(a: &WaitForArgs) -> Result<(String, Expr), CliError> {
    let text = a.query.clone().unwrap_or_else(|| {
        match a.kind {
            WaitKind::Application => wait_query::DEFAULT_APPLICATION,
            WaitKind::Unit => wait_query::DEFAULT_UNIT,
            WaitKind::Model => wait_query::DEFAULT_MODEL,
        }
        .to_string()
    });
    let expr = wait_query::parse(&text).map_err(|e| CliError::usage(format!("invalid --query {:?}: {e}", shown(&text))))?;
    Ok((text, expr))
}

fn fetch(ctx: &Ctx, model: Option<String>) -> Result<(StatusView, Vec<RelationRow>), CliError> {
    match ctx.send(Request::Status { model }, DEFAULT_TIMEOUT)? {
        Reply::Status { status, relations } => Ok((status, relations)),
        other => Err(unexpected(&other)),
    }
}

/// `status`: once, or every `--watch`.
pub fn status(ctx: &Ctx, a: StatusArgs) -> CmdResult {
    let choice = match (a.color, a.no_color) {
        (_, true) => ColorChoice::Never,
        (true, false) => ColorChoice::Always,
        (false, false) => ColorChoice::Auto,
    };
    let color = colour_stdout(choice);
    let Some(every) = a.watch.as_deref().map(|w| duration_arg("watch", w)).transpose()? else {
        let (text, empty) = render(ctx, &a, color)?;
        emit::out(&text);
        if let Some(model) = empty {
            emit::info(&format!("\nModel {model:?} is empty."));
        }
        return Ok(0);
    };
    let terminal = std::io::stdout().is_terminal();
    let mut first = true;
    loop {
        let (text, _) = render(ctx, &a, color)?;
        let frame = match (terminal, first) {
            (true, _) => format!("{CLEAR_SCREEN}{text}"),
            (false, true) => text,
            (false, false) => format!("\n{text}"),
        };
        if !emit::try_out(&frame) {
            return Ok(0);
        }
        first = false;
        std::thread::sleep(every);
    }
}

/// The status as `--format` prints it, and the model's name when no application is
/// shown in the table (Juju then says the model is empty).
fn render(ctx: &Ctx, a: &StatusArgs, color: bool) -> Result<(String, Option<String>), CliError> {
    let (mut status, mut relations) = fetch(ctx, ctx.model.clone())?;
    output::status::localise_times(&mut status, a.utc);
    output::status::select(&mut status, &mut relations, &a.selectors);
    let text = match a.format {
        StatusFormat::Json => output::json(&status)?,
        StatusFormat::Yaml => output::yaml(&status)?,
        StatusFormat::Short | StatusFormat::Oneline | StatusFormat::Line => output::status::render_oneline(&status),
        StatusFormat::Summary => output::status::render_summary(&status),
        StatusFormat::Tabular => {
            let empty = (status.applications.is_empty() && a.selectors.is_empty()).then(|| status.model.name.clone());
            return Ok((output::status::render_tabular(&status, &relations, a.relations, color), empty));
        }
    };
    Ok((text, None))
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

/// Status leaves `life` out while alive, as Juju does; queries see `alive` then.
fn life(shown: &str) -> Value {
    s(if shown.is_empty() { "alive" } else { shown })
}

fn unit_scope(name: &str, u: &UnitStatusView) -> Scope {
    Scope::from([
        ("name".to_string(), s(name)),
        ("application".to_string(), s(name.split('/').next().unwrap_or(name))),
        ("life".to_string(), life(&u.juju_status.life)),
        ("workload-status".to_string(), s(&u.workload_status.current)),
        ("workload-message".to_string(), s(&u.workload_status.message)),
        ("agent-status".to_string(), s(&u.juju_status.current)),
        ("agent-message".to_string(), s(&u.juju_status.message)),
        ("leader".to_string(), Value::Bool(u.leader)),
        ("address".to_string(), s(u.address.as_deref().unwrap_or_default())),
    ])
}

fn app_scope(name: &str, app: &AppStatusView) -> Scope {
    let units = app.units.iter().map(|(n, u)| unit_scope(n, u)).collect();
    Scope::from([
        ("name".to_string(), s(name)),
        ("life".to_string(), life(&app.life)),
        ("status".to_string(), s(&app.application_status.current)),
        ("message".to_string(), s(&app.application_status.message)),
        ("charm".to_string(), s(&app.charm)),
        ("charm-name".to_string(), s(&app.charm_name)),
        ("exposed".to_string(), Value::Bool(app.exposed)),
        ("units".to_string(), Value::List(units)),
    ])
}

fn find_unit<'a>(units: &'a std::collections::BTreeMap<String, UnitStatusView>, name: &str) -> Option<&'a UnitStatusView> {
    units.get(name).or_else(|| units.values().find_map(|u| find_unit(&u.subordinates, name)))
}

/// The fields of what `wait-for` waits on; `None` while it does not exist.
fn scope(status: &StatusView, kind: WaitKind, name: &str) -> Option<Scope> {
    match kind {
        WaitKind::Application => status.applications.get(name).map(|a| app_scope(name, a)),
        WaitKind::Unit => status.applications.values().find_map(|a| find_unit(&a.units, name)).map(|u| unit_scope(name, u)),
        WaitKind::Model => {
            let m = &status.model;
            let apps = status.applications.iter().map(|(n, a)| app_scope(n, a)).collect();
            Some(Scope::from([
                ("name".to_string(), s(&m.name)),
                ("life".to_string(), s("alive")),
                ("status".to_string(), s(&m.model_status.current)),
                ("message".to_string(), s(&m.model_status.message)),
                ("type".to_string(), s(&m.kind)),
                ("applications".to_string(), Value::List(apps)),
            ]))
        }
    }
}

/// What is observed, in one line: the scope's own status words and its units'.
fn observed(kind: WaitKind, scope: Option<&Scope>) -> String {
    let Some(scope) = scope else { return "not found yet".to_string() };
    let word = |sc: &Scope, k: &str| match sc.get(k) {
        Some(Value::Str(v)) => v.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    };
    let list = |k: &str| match scope.get(k) {
        Some(Value::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    match kind {
        WaitKind::Unit => format!("workload {}, agent {}", word(scope, "workload-status"), word(scope, "agent-status")),
        WaitKind::Application => {
            let units: Vec<String> = list("units")
                .iter()
                .map(|u| format!("{} {}/{}", word(u, "name"), word(u, "workload-status"), word(u, "agent-status")))
                .collect();
            format!("{} ({})", word(scope, "status"), if units.is_empty() { "no units".into() } else { units.join(", ") })
        }
        WaitKind::Model => {
            let apps: Vec<String> = list("applications").iter().map(|a| format!("{} {}", word(a, "name"), word(a, "status"))).collect();
            format!("{} ({})", word(scope, "status"), if apps.is_empty() { "no applications".into() } else { apps.join(", ") })
        }
    }
}

fn to_json(scope: &Scope) -> serde_json::Value {
    scope
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Str(s) => serde_json::Value::String(s.clone()),
                Value::Bool(b) => serde_json::Value::Bool(*b),
                Value::Int(n) => serde_json::Value::from(*n),
                Value::List(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
            };
            (k.clone(), v)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn kind_word(kind: WaitKind) -> &'static str {
    match kind {
        WaitKind::Application => "application",
        WaitKind::Unit => "unit",
        WaitKind::Model => "model",
    }
}

/// `wait-for application|unit|model NAME`.
pub fn wait_for(ctx: &Ctx, a: WaitForArgs) -> CmdResult {
    let (text, expr) = query(&a)?;
    let timeout = a.timeout.as_deref().map(|t| duration_arg("timeout", t)).transpose()?.unwrap_or(WAIT_TIMEOUT);
    let model = match a.kind {
        WaitKind::Model => Some(a.name.clone()),
        _ => ctx.model.clone(),
    };
    let what = format!("{} {:?}", kind_word(a.kind), shown(&a.name));
    let terminal = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last: Option<String> = None;
    loop {
        let (status, _) = fetch(ctx, model.clone())?;
        let found = scope(&status, a.kind, &a.name);
        if let Some(sc) = &found {
            let reached = wait_query::eval(&expr, sc)
                .map_err(|e| CliError::runtime(format!("cannot evaluate --query {:?} on {what}: {e}", shown(&text))))?;
            if reached {
                if terminal {
                    emit::progress_end();
                }
                emit::info(&format!("{what} reached goal state ({text})"));
                if a.summary {
                    emit::out(&output::yaml(&to_json(sc))?);
                }
                return Ok(0);
            }
        }
        let seen = observed(a.kind, found.as_ref());
        if terminal {
            emit::progress(&format!("waiting for {what} to reach {text}: {seen} [{}s]", start.elapsed().as_secs()));
        } else if last.as_deref() != Some(seen.as_str()) {
            emit::info(&format!("waiting for {what} to reach {text}: {seen}"));
        }
        last = Some(seen);
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            if terminal {
                emit::progress_end();
            }
            return Err(CliError::runtime(format!("timed out waiting for {:?} to reach goal state", shown(&a.name))));
        }
        std::thread::sleep(WAIT_POLL.min(timeout - elapsed));
    }
}

#[cfg(test)]
mod tests {
    use super::super::output::status::tests::sample;
    use super::*;

    fn holds(q: &str, kind: WaitKind, name: &str) -> Option<bool> {
        let e = wait_query::parse(q).unwrap();
        scope(&sample(), kind, name).map(|sc| wait_query::eval(&e, &sc).unwrap())
    }

    #[test]
    fn juju_default_queries_hold_on_the_status() {
        use wait_query::{DEFAULT_APPLICATION as APP, DEFAULT_MODEL as MODEL, DEFAULT_UNIT as UNIT};
        assert_eq!(holds(APP, WaitKind::Application, "pg"), Some(true));
        assert_eq!(holds(APP, WaitKind::Application, "data-integrator"), Some(false));
        assert_eq!(holds(APP, WaitKind::Application, "nosuch"), None);
        assert_eq!(holds(UNIT, WaitKind::Unit, "pg/0"), Some(true));
        assert_eq!(holds(UNIT, WaitKind::Unit, "pg/2"), Some(false));
        assert_eq!(holds(UNIT, WaitKind::Unit, "logger/0"), Some(true), "a subordinate is found under its principal");
        assert_eq!(holds(UNIT, WaitKind::Unit, "pg/1"), None);
        assert_eq!(holds(MODEL, WaitKind::Model, "m"), Some(true));
        let each = r#"forEach(units, unit => unit.workload-status == "active" || !unit.leader)"#;
        assert_eq!(holds(each, WaitKind::Application, "pg"), Some(true));
        let apps = r#"forEach(applications, app => app.status == "active")"#;
        assert_eq!(holds(apps, WaitKind::Model, "m"), Some(false));
        let apps = r#"forEach(applications, app => app.status == "active" || app.status == "blocked")"#;
        assert_eq!(holds(apps, WaitKind::Model, "m"), Some(true));
        let di = scope(&sample(), WaitKind::Application, "data-integrator");
        assert_eq!(observed(WaitKind::Application, di.as_ref()), "blocked (data-integrator/0 blocked/idle)");
        assert_eq!(observed(WaitKind::Unit, None), "not found yet");
    }
}
