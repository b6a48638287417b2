//! Tasks on a unit. `run`: validate the unit, the action and its parameters against
//! the charm's actions, queue the task on the unit (serialised with its hooks), and wait
//! for the result up to `--wait`. `exec`: run a command in the unit's directory and
//! record it as a task.

use super::error::{ApiError, ApiResult};
use super::lookup::resolve_model;
use super::state::Controller;
use crate::store::{StoreError, TaskRow};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tether_core::charm_meta::ActionSpec;
use tether_core::events::Event;
use tether_core::life::Life;
use tether_core::names::{validate_action, UnitTarget};
use tether_core::wire::{Reply, TaskView};

const DEFAULT_WAIT: Duration = Duration::from_secs(60);

fn type_ok(kind: &str, v: &Value) -> bool {
    match kind {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => true,
    }
}

/// Checks params against the action's schema and fills defaults (as Juju does).
pub fn validate_params(spec: &ActionSpec, params: BTreeMap<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let fail = |m: String| ApiError::invalid(format!("validation failed: (root) : {m}"));
    let mut out = Map::new();
    for (k, v) in params {
        if k.contains('\0') || k.len() > 256 {
            return Err(fail("invalid parameter name".into()));
        }
        let mut v = v;
        match spec.params.iter().find(|p| p.name == k) {
            Some(p) => {
                // `password=12345` arrives YAML-typed as a number; a string param takes it as written.
                if p.kind == "string" && (v.is_number() || v.is_boolean()) {
                    v = Value::String(v.to_string());
                }
                if !type_ok(&p.kind, &v) {
                    return Err(fail(format!("{k:?}: expected {}", p.kind)));
                }
                if let Value::String(s) = &v {
                    if s.contains('\0') {
                        return Err(fail(format!("{k:?}: value contains a NUL byte")));
                    }
                    if !p.enum_values.is_empty() && !p.enum_values.contains(s) {
                        return Err(fail(format!("{k:?}: must be one of {:?}", p.enum_values)));
                    }
                }
            }
            None if !spec.additional_properties => return Err(fail(format!("additional property {k:?} is not allowed"))),
            None => {}
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
    for r in &spec.required {
        if !out.contains_key(r) {
            return Err(fail(format!("{r:?} property is missing and required")));
        }
    }
    Ok(out)
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

pub async fn run(
    c: &Controller,
    model: Option<String>,
    unit: &str,
    action: &str,
    params: BTreeMap<String, Value>,
    wait_ms: Option<u64>,
) -> ApiResult {
    let m = resolve_model(c, model)?;
    let target = UnitTarget::parse(unit)?;
    validate_action(action)?;
    let (unit_name, spec) = c.store.read(|tx| {
        let app = tx
            .app(&m.name, target.app())?
            .filter(|a| a.life == Life::Alive)
            .ok_or_else(|| ApiError::invalid(format!("application {:?} not found", target.app())))?;
        let unit_name = match &target {
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
        let spec = app
            .meta
            .action(action)
            .cloned()
            .ok_or_else(|| ApiError::invalid(format!("action {action:?} not defined on unit {unit_name:?} (not found)")))?;
        Ok::<_, ApiError>((unit_name, spec))
    })?;
    let params = validate_params(&spec, params)?;
    crate::failpoint::hit("run.after-validate");
    let mut done = c.engine.task_events();
    let id = c.store.write(|tx| {
        let id = tx.next_task_id(&m.name)?;
        tx.create_task(&m.name, id, &unit_name, action, &params)?;
        tx.enqueue(&m.name, &unit_name, &Event::action(id, action))?;
        Ok::<_, StoreError>(id)
    })?;
    crate::failpoint::hit("run.after-store");
    c.engine.kick(&m.name, &unit_name);
    let wait = wait_ms.map(Duration::from_millis).unwrap_or(DEFAULT_WAIT);
    let finished = tokio::time::timeout(wait, async {
        loop {
            match done.recv().await {
                Ok((mm, tid)) if mm == m.name && tid == id => return,
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let status = c.store.read(|tx| tx.task(&m.name, id)).ok().flatten().map(|t| t.status);
                    if matches!(status.as_deref(), Some("completed" | "failed")) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    })
    .await
    .is_ok();
    let task = c.store.read(|tx| tx.task(&m.name, id))?.ok_or_else(|| ApiError::invalid(format!("task {id} vanished")))?;
    Ok(Reply::Task { unit: unit_name, task: task_view(&task), timed_out: !finished })
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
    let id = c.store.write(|tx| {
        let id = tx.next_task_id(&m.name)?;
        tx.create_task(&m.name, id, &unit_name, "juju-exec", &params)?;
        tx.start_task(&m.name, id)?;
        Ok::<_, StoreError>(id)
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
    Ok(Reply::Task { unit: unit_name, task: task_view(&task), timed_out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_core::charm_meta::ActionParam;

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

    #[test]
    fn params_are_checked_and_defaults_filled() {
        let p = validate_params(&spec(), BTreeMap::from([("password".to_string(), Value::from("x"))])).unwrap();
        assert_eq!(p["username"], "operator");
        let e = validate_params(&spec(), BTreeMap::from([("bogus".to_string(), Value::from("x"))])).unwrap_err();
        assert_eq!(e.to_string(), "validation failed: (root) : additional property \"bogus\" is not allowed");
        // A YAML-typed scalar given to a string parameter is taken as written.
        assert_eq!(validate_params(&spec(), BTreeMap::from([("password".to_string(), Value::from(3))])).unwrap()["password"], "3");
        assert!(validate_params(&spec(), BTreeMap::from([("password".to_string(), serde_json::json!({"a": 1}))])).is_err());
    }
}
