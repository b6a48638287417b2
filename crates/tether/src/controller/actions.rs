//! Tasks on units. `run`: validate the units, the action and its parameters against
//! the charm's actions, record one operation with one task per unit, queue each task on
//! its unit (serialised with its hooks), and wait for the results up to `--wait`;
//! `operations`, `show-operation` and `show-task` read them back. `exec`: run a command in the unit's directory and
//! record it as a task.

use super::error::{ApiError, ApiResult};
use super::lookup::resolve_model;
use super::state::Controller;
use crate::store::{OperationRow, StoreError, TaskRow};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tether_core::charm_meta::ActionSpec;
use tether_core::events::Event;
use tether_core::life::Life;
use tether_core::names::{validate_action, UnitTarget};
use tether_core::wire::{OperationView, Reply, TaskView};

const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// Checks params against the action's JSON Schema (`jsonschema`, no remote references:
/// the crate is built without its resolvers) after filling defaults, as Juju does. The
/// errors Juju users know keep Juju's texts; any other rule is named with the parameter
/// it failed on. No error quotes the value given (it may be a password).
pub fn validate_params(spec: &ActionSpec, schema: &Value, params: BTreeMap<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let fail = |m: String| ApiError::invalid(format!("validation failed: (root) : {m}"));
    let mut out = Map::new();
    for (k, v) in params {
        if k.contains('\0') || k.len() > 256 {
            return Err(fail("invalid parameter name".into()));
        }
        let mut v = v;
        if let Some(p) = spec.params.iter().find(|p| p.name == k) {
            // `password=12345` arrives YAML-typed as a number; a string param takes it as written.
            if p.kind == "string" && (v.is_number() || v.is_boolean()) {
                v = Value::String(v.to_string());
            }
        }
        if matches!(&v, Value::String(s) if s.contains('\0')) {
            return Err(fail(format!("{k:?}: value contains a NUL byte")));
        }
        out.insert(k, v);
    }
    for p in &spec.params {
        if !out.contains_key(&p.name) {
            if let Some(d) = &p.default {
                out.insert(p.name.clone(), d.clone());
            }
        }
    }
    let validator = jsonschema::validator_for(schema).map_err(|e| {
        ApiError::invalid(format!("action {:?} has a parameter schema tether cannot use: {}", spec.name, e.kind().keyword()))
    })?;
    let instance = Value::Object(out);
    if let Some(e) = validator.iter_errors(&instance).next() {
        return Err(fail(schema_violation(spec, schema, &e)));
    }
    let Value::Object(out) = instance else { unreachable!("built as an object above") };
    Ok(out)
}

/// One schema violation in words: Juju's texts for an unknown, a missing, a mistyped and
/// a not-enumerated top-level parameter; otherwise the parameter's path and the rule
/// (`"port": must satisfy maximum: 65535`).
fn schema_violation(spec: &ActionSpec, schema: &Value, e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let path: Vec<String> = e.instance_path().iter().map(|s| s.to_string()).collect();
    let param = path.join(".");
    let top = if path.len() == 1 { spec.params.iter().find(|p| p.name == param) } else { None };
    match (e.kind(), top) {
        (K::AdditionalProperties { unexpected }, _) if path.is_empty() => {
            format!("additional property {:?} is not allowed", unexpected.first().map(String::as_str).unwrap_or_default())
        }
        (K::Required { property: Value::String(r) }, _) if path.is_empty() => format!("{r:?} property is missing and required"),
        (K::Type { .. }, Some(p)) => format!("{param:?}: expected {}", p.kind),
        (K::Enum { .. }, Some(p)) if !p.enum_values.is_empty() => format!("{param:?}: must be one of {:?}", p.enum_values),
        (kind, _) => {
            let rule = schema.pointer(e.schema_path().as_str()).map(|v| format!(": {v}")).unwrap_or_default();
            let at = if param.is_empty() { "(root)".to_string() } else { format!("{param:?}") };
            format!("{at}: must satisfy {}{rule}", kind.keyword())
        }
    }
}

pub fn task_view(t: &TaskRow) -> TaskView {
    let mut timing = BTreeMap::new();
    timing.insert("enqueued".to_string(), t.enqueued.clone());
    if let Some(s) = &t.started {
        timing.insert("started".into(), s.clone());
    }
    if let Some(s) = &t.completed {
        timing.insert("completed".into(), s.clone());
    }
    TaskView {
        id: t.id.to_string(),
        status: t.status.clone(),
        message: t.message.clone(),
        results: t.results.clone(),
        log: t.log.clone(),
        unit: t.unit.clone(),
        timing: Some(timing),
    }
}

/// The tag Juju names a unit by in progress lines and summaries (`unit-app-0`).
fn unit_tag(unit: &str) -> String {
    format!("unit-{}", unit.replace('/', "-"))
}

/// An operation's status from its tasks': running or pending while any is, then the
/// worst outcome.
fn operation_status(tasks: &[TaskRow]) -> &'static str {
    let any = |s: &str| tasks.iter().any(|t| t.status == s);
    if any("running") {
        "running"
    } else if any("pending") {
        "pending"
    } else if any("error") {
        "error"
    } else if any("failed") {
        "failed"
    } else {
        "completed"
    }
}

pub fn operation_view(op: &OperationRow, tasks: &[TaskRow]) -> OperationView {
    let status = operation_status(tasks);
    let done = matches!(status, "completed" | "failed" | "error");
    OperationView {
        id: op.id.to_string(),
        action: op.action.clone(),
        summary: op.summary.clone(),
        status: status.into(),
        enqueued: op.enqueued.clone(),
        started: tasks.iter().filter_map(|t| t.started.clone()).min(),
        completed: if done { tasks.iter().filter_map(|t| t.completed.clone()).max() } else { None },
        tasks: tasks.iter().map(task_view).collect(),
    }
}

fn parse_id(what: &str, id: &str) -> Result<i64, ApiError> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid(format!("{what} ID {:?} not valid", id.chars().take(40).collect::<String>())))
}

fn load_operation(c: &Controller, model: &str, id: i64) -> Result<OperationView, ApiError> {
    c.store.read(|tx| {
        let op = tx.operation(model, id)?.ok_or_else(|| ApiError::invalid(format!("operation {id} not found")))?;
        let tasks = tx.operation_tasks(model, id)?;
        Ok::<_, ApiError>(operation_view(&op, &tasks))
    })
}

/// `show-operation ID`.
pub fn show_operation(c: &Controller, model: Option<String>, id: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let id = parse_id("operation", id)?;
    Ok(Reply::Operation { operation: load_operation(c, &m.name, id)? })
}

/// `operations`: every operation of the model, oldest first.
pub fn operations(c: &Controller, model: Option<String>) -> ApiResult {
    let m = resolve_model(c, model)?;
    let operations = c.store.read(|tx| {
        let mut out = Vec::new();
        for op in tx.operations(&m.name)? {
            let tasks = tx.operation_tasks(&m.name, op.id)?;
            out.push(operation_view(&op, &tasks));
        }
        Ok::<_, StoreError>(out)
    })?;
    Ok(Reply::Operations { operations })
}

/// `show-task ID`.
pub fn show_task(c: &Controller, model: Option<String>, id: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let id = parse_id("task", id)?;
    let task = c.store.read(|tx| tx.task(&m.name, id))?.ok_or_else(|| ApiError::invalid(format!("task {id} not found")))?;
    let operation = task.operation.map(|o| o.to_string());
    Ok(Reply::Task { unit: task.unit.clone(), task: task_view(&task), timed_out: false, operation })
}

/// `run`: one operation with one task per unit (all units of one application), queued
/// on each unit; waits up to `wait_ms` for all of them (the CLI passes 0 and polls the
/// operation, so it can show `action-log` lines as they come).
pub async fn run(
    c: &Controller,
    model: Option<String>,
    units: &[String],
    action: &str,
    params: BTreeMap<String, Value>,
    wait_ms: Option<u64>,
) -> ApiResult {
    let m = resolve_model(c, model)?;
    if units.is_empty() {
        return Err(ApiError::Usage("no unit specified".into()));
    }
    let targets = units.iter().map(|u| UnitTarget::parse(u)).collect::<Result<Vec<_>, _>>()?;
    if targets.iter().any(|t| t.app() != targets[0].app()) {
        return Err(ApiError::Usage("all units must be of the same application".into()));
    }
    validate_action(action)?;
    let (unit_names, spec, schema) = c.store.read(|tx| {
        let app_name = targets[0].app();
        let app = tx
            .app(&m.name, app_name)?
            .filter(|a| a.life == Life::Alive)
            .ok_or_else(|| ApiError::invalid(format!("application {app_name:?} not found")))?;
        let mut names = Vec::new();
        for target in &targets {
            let unit_name = match target {
                UnitTarget::Leader(a) => tx
                    .units(&m.name, Some(a))?
                    .into_iter()
                    .find(|u| u.leader)
                    .map(|u| u.name)
                    .ok_or_else(|| ApiError::invalid(format!("could not determine leader for {a:?}")))?,
                UnitTarget::Unit(u) => {
                    let name = u.to_string();
                    tx.unit(&m.name, &name)?
                        .filter(|u| u.life == Life::Alive)
                        .ok_or_else(|| ApiError::invalid(format!("unit {name:?} not found")))?;
                    name
                }
            };
            if !names.contains(&unit_name) {
                names.push(unit_name);
            }
        }
        let spec = app
            .meta
            .action(action)
            .cloned()
            .ok_or_else(|| ApiError::invalid(format!("action {action:?} not defined on unit {:?} (not found)", names[0])))?;
        let schema = app.meta.action_schema(&spec);
        Ok::<_, ApiError>((names, spec, schema))
    })?;
    let params = validate_params(&spec, &schema, params)?;
    crate::failpoint::hit("run.after-validate");
    let mut done = c.engine.task_events();
    let summary = format!("{action} run on {}", unit_names.iter().map(|u| unit_tag(u)).collect::<Vec<_>>().join(","));
    let (op_id, ids) = c.store.write(|tx| {
        let op_id = tx.next_task_id(&m.name)?;
        tx.create_operation(&m.name, op_id, action, &summary)?;
        let mut ids = Vec::new();
        for unit_name in &unit_names {
            let id = tx.next_task_id(&m.name)?;
            tx.create_task(&m.name, id, Some(op_id), unit_name, action, &params)?;
            tx.enqueue(&m.name, unit_name, &Event::action(id, action))?;
            ids.push(id);
        }
        Ok::<_, StoreError>((op_id, ids))
    })?;
    crate::failpoint::hit("run.after-store");
    for unit_name in &unit_names {
        c.engine.kick(&m.name, unit_name);
    }
    let wait = wait_ms.map(Duration::from_millis).unwrap_or(DEFAULT_WAIT);
    let finished = |c: &Controller| {
        c.store
            .read(|tx| tx.operation_tasks(&m.name, op_id))
            .is_ok_and(|ts| ts.iter().all(|t| matches!(t.status.as_str(), "completed" | "failed" | "error")))
    };
    if !wait.is_zero() {
        let mut pending: Vec<i64> = ids.clone();
        let _ = tokio::time::timeout(wait, async {
            while !pending.is_empty() {
                match done.recv().await {
                    Ok((mm, tid)) if mm == m.name => pending.retain(|id| *id != tid),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) if finished(c) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        })
        .await;
    }
    Ok(Reply::Operation { operation: load_operation(c, &m.name, op_id)? })
}

/// `exec`: runs `command` (argv, no shell) in the unit's directory and reports it as a
/// task whose results carry `return-code`, `stdout` and `stderr`, as Juju's `exec` does.
pub async fn exec(c: &Controller, model: Option<String>, unit: &str, command: Vec<String>, wait_ms: Option<u64>) -> ApiResult {
    let m = resolve_model(c, model)?;
    if command.is_empty() {
        return Err(ApiError::Usage("no commands specified".into()));
    }
    if command.iter().any(|a| a.contains('\0')) {
        return Err(ApiError::invalid("command arguments cannot contain NUL bytes"));
    }
    let target = UnitTarget::parse(unit)?;
    let unit_name = c.store.read(|tx| {
        let units = tx.units(&m.name, Some(target.app()))?;
        let found = match &target {
            UnitTarget::Leader(_) => units.into_iter().find(|u| u.leader),
            UnitTarget::Unit(u) => units.into_iter().find(|x| x.name == u.to_string()),
        };
        found.map(|u| u.name).ok_or_else(|| ApiError::invalid(format!("unit {unit:?} not found")))
    })?;
    let params = Map::from_iter([("command".to_string(), Value::String(command.join(" ")))]);
    // As in Juju, an exec is an operation of one `juju-exec` task, listed by `operations`.
    let summary = format!("juju-exec run on {}", unit_tag(&unit_name));
    let (op_id, id) = c.store.write(|tx| {
        let op_id = tx.next_task_id(&m.name)?;
        tx.create_operation(&m.name, op_id, "juju-exec", &summary)?;
        let id = tx.next_task_id(&m.name)?;
        tx.create_task(&m.name, id, Some(op_id), &unit_name, "juju-exec", &params)?;
        tx.start_task(&m.name, id)?;
        Ok::<_, StoreError>((op_id, id))
    })?;
    let dir = c.home.unit_dir(&m.uuid, &unit_name);
    let cwd = if dir.is_dir() { dir } else { c.home.root().to_path_buf() };
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]).current_dir(cwd).stdin(std::process::Stdio::null()).kill_on_drop(true);
    cmd.env("JUJU_UNIT_NAME", &unit_name).env("JUJU_MODEL_NAME", &m.name);
    let wait = wait_ms.map(Duration::from_millis).unwrap_or(Duration::from_secs(300));
    let (status, results, message, timed_out) = match tokio::time::timeout(wait, cmd.output()).await {
        Err(_) => ("failed", Map::new(), "timed out".to_string(), true),
        Ok(Err(e)) => {
            let mut r = Map::new();
            r.insert("return-code".into(), 127.into());
            r.insert("stderr".into(), Value::String(format!("{}: {e}", command[0])));
            ("failed", r, format!("cannot run {:?}: {e}", command[0]), false)
        }
        Ok(Ok(out)) => {
            let mut r = Map::new();
            r.insert("return-code".into(), out.status.code().unwrap_or(1).into());
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            if !stdout.is_empty() {
                r.insert("stdout".into(), stdout.into());
            }
            if !stderr.is_empty() {
                r.insert("stderr".into(), stderr.into());
            }
            ("completed", r, String::new(), false)
        }
    };
    c.store.write(|tx| tx.finish_task(&m.name, id, status, &results, &message, &[]))?;
    let task = c.store.read(|tx| tx.task(&m.name, id))?.ok_or_else(|| ApiError::invalid(format!("task {id} vanished")))?;
    Ok(Reply::Task { unit: unit_name, task: task_view(&task), timed_out, operation: Some(op_id.to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tether_core::charm_meta::{ActionParam, CharmMeta};

    fn spec() -> ActionSpec {
        ActionSpec {
            name: "set-password".into(),
            description: String::new(),
            params: vec![
                ActionParam {
                    name: "username".into(),
                    kind: "string".into(),
                    description: String::new(),
                    default: Some("operator".into()),
                    enum_values: vec![],
                },
                ActionParam {
                    name: "password".into(),
                    kind: "string".into(),
                    description: String::new(),
                    default: None,
                    enum_values: vec![],
                },
            ],
            required: vec![],
            additional_properties: false,
        }
    }

    /// Validates against the schema a native charm's `ActionSpec` describes.
    fn check_native(params: Value) -> Result<Map<String, Value>, ApiError> {
        let params = serde_json::from_value(params).unwrap();
        validate_params(&spec(), &CharmMeta::default().action_schema(&spec()), params)
    }

    #[test]
    fn params_are_checked_and_defaults_filled() {
        let p = check_native(json!({"password": "x"})).unwrap();
        assert_eq!(p["username"], "operator");
        let e = check_native(json!({"bogus": "x"})).unwrap_err();
        assert_eq!(e.to_string(), "validation failed: (root) : additional property \"bogus\" is not allowed");
        // A YAML-typed scalar given to a string parameter is taken as written.
        assert_eq!(check_native(json!({"password": 3})).unwrap()["password"], "3");
        let e = check_native(json!({"password": {"a": 1}})).unwrap_err();
        assert_eq!(e.to_string(), "validation failed: (root) : \"password\": expected string");
    }

    const ACTIONS: &str = r#"
configure:
  params:
    replicas: {type: integer, minimum: 1}
    code: {type: string, pattern: "^[a-z]+$"}
    mode: {type: string, enum: [fast, safe]}
    target:
      type: object
      properties:
        host: {type: string}
        port: {type: integer, maximum: 65535}
      required: [host]
      additionalProperties: false
  required: [replicas]
  additionalProperties: false
"#;

    /// Validates `configure` of a local charm whose actions.yaml is [`ACTIONS`]; the error
    /// text, or `ok`.
    fn check_local(params: Value) -> String {
        let meta = CharmMeta::from_yaml("name: local\n", None, Some(ACTIONS)).unwrap();
        let spec = meta.action("configure").unwrap();
        match validate_params(spec, &meta.action_schema(spec), serde_json::from_value(params).unwrap()) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string().strip_prefix("validation failed: (root) : ").unwrap().to_string(),
        }
    }

    #[test]
    fn a_local_charms_params_are_checked_against_its_whole_schema() {
        let cases = [
            (json!({"replicas": 2}), "ok"),
            (json!({"replicas": 1, "code": "abc", "mode": "safe", "target": {"host": "db", "port": 5432}}), "ok"),
            (json!({"replicas": 0}), "\"replicas\": must satisfy minimum: 1"),
            (json!({"replicas": 2, "code": "ABC"}), "\"code\": must satisfy pattern: \"^[a-z]+$\""),
            (json!({"replicas": 2, "mode": "slow"}), "\"mode\": must be one of [\"fast\", \"safe\"]"),
            (json!({"replicas": 2, "target": {"host": "db", "port": 70000}}), "\"target.port\": must satisfy maximum: 65535"),
            (json!({"replicas": 2, "target": {"port": 1}}), "\"target\": must satisfy required: [\"host\"]"),
            (json!({"replicas": 2, "target": {"host": "db", "user": "x"}}), "\"target\": must satisfy additionalProperties: false"),
            (json!({"replicas": "many"}), "\"replicas\": expected integer"),
            (json!({"code": "abc"}), "\"replicas\" property is missing and required"),
            (json!({"replicas": 2, "other": 1}), "additional property \"other\" is not allowed"),
        ];
        for (params, want) in cases {
            assert_eq!(check_local(params.clone()), want, "{params}");
        }
    }

    #[test]
    fn a_remote_reference_is_never_fetched() {
        let schema = json!({"type": "object", "properties": {"x": {"$ref": "https://example.invalid/x.json"}}});
        let params = BTreeMap::from([("x".to_string(), Value::from(1))]);
        let e = validate_params(&spec(), &schema, params).unwrap_err();
        assert!(e.to_string().contains("parameter schema tether cannot use"), "{e}");
    }

    #[test]
    fn a_schema_error_never_quotes_the_value() {
        let e = check_local(json!({"replicas": 2, "code": "Secret-Password-1"}));
        assert!(!e.contains("Secret-Password-1"), "{e}");
    }
}
