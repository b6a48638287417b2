//! Reading what the controller reports: `status --format json` and `show-unit` in Juju's
//! shape (juju-compat.md §A3), as plain functions over the JSON, and the waits on them
//! ([`Controller::wait_for`], [`Controller::wait_active`], [`Controller::wait_settled`],
//! [`Controller::wait_show_unit`]), each bounded by [`SETTLE_TIMEOUT`].

use super::controller::Controller;
use super::wait::{wait_until, SETTLE_TIMEOUT};
use serde_json::Value;
use std::time::{Duration, Instant};

impl Controller {
    /// `status --format json`, which must succeed.
    pub fn status(&self) -> Value {
        self.ok(&["status", "--format", "json"]).json()
    }

    /// `status --format json` when it answers with JSON; otherwise what it did instead
    /// (for a wait to report).
    fn try_status(&self) -> Result<Value, String> {
        let out = self.tether(&["status", "--format", "json"]);
        if out.code != 0 {
            return Err(out.to_string());
        }
        serde_json::from_str(&out.stdout).map_err(|e| format!("stdout is not JSON ({e}):\n{out}"))
    }

    /// Polls `status --format json` until `check` says the model is ready (`Ok(true)`),
    /// failing at once when it says the model went wrong (`Err`), or after
    /// [`SETTLE_TIMEOUT`]. Returns the status that satisfied it.
    pub fn wait_for(&self, what: &str, mut check: impl FnMut(&Value) -> Result<bool, String>) -> Value {
        wait_until(what, SETTLE_TIMEOUT, || {
            let status = self.try_status()?;
            match check(&status) {
                Ok(true) => Ok(status),
                Ok(false) => Err(format!("{status:#}")),
                Err(why) => panic!("while waiting for {what}: {why}\n{}status:\n{status:#}", self.recent_errors()),
            }
        })
    }

    /// The controller's latest `ERROR` log lines (a failed hook's reason), first in a
    /// failure's message: the status says only which hook failed, and CI shows a failing
    /// test's message whole but may cut the rest of its output.
    fn recent_errors(&self) -> String {
        let out = self.tether(&["debug-log", "--level", "ERROR", "--limit", "12"]);
        format!("latest ERROR lines (debug-log exit {}):\n{}{}", out.code, out.stdout, out.stderr)
    }

    /// The model's uuid without dashes, from `show-model`.
    pub fn model_uuid_hex(&self) -> String {
        let json = self.ok(&["show-model", "--format", "json"]).json();
        let uuid = json.as_object().and_then(|m| m.values().next()).and_then(|m| m["model-uuid"].as_str()).unwrap_or_default();
        assert_eq!(uuid.len(), 36, "show-model has no model-uuid: {json:#}");
        uuid.replace('-', "")
    }

    /// Waits until the app's (first) unit shows `word` with a message containing
    /// `needle`; returns the message.
    pub fn wait_unit(&self, app: &str, word: &str, needle: &str) -> String {
        let mut message = String::new();
        self.wait_for(&format!("{app} unit {word} ({needle})"), |s| {
            Ok(match unit_words(s, app) {
                Some((w, m)) if w == word && m.contains(needle) => {
                    message = m;
                    true
                }
                _ => false,
            })
        });
        message
    }

    /// Waits until every named application and each of its units is `active`; fails at
    /// once if one of them is in `error`.
    pub fn wait_active(&self, apps: &[&str]) -> Value {
        self.wait_for(&format!("{apps:?} to be active"), |status| {
            let mut ready = true;
            for app in apps {
                let words = workload_words(status, app);
                if words.iter().any(|(_, w, _)| w == "error") {
                    return Err(format!("{app} is in error: {words:?}"));
                }
                ready &= words.len() >= 2 && words.iter().all(|(_, w, _)| w == "active");
            }
            Ok(ready)
        })
    }

    /// Waits until the model is quiet: every unit's agent `idle`, none in `error`, for
    /// `quiet` without interruption (hooks on one unit wake others, so one idle snapshot
    /// is not enough). Bounded by [`SETTLE_TIMEOUT`]; `check` must also hold.
    pub fn wait_settled(&self, quiet: Duration, mut check: impl FnMut(&Value) -> bool) -> Value {
        let mut since: Option<Instant> = None;
        wait_until("the model to settle", SETTLE_TIMEOUT, || {
            let status = self.try_status().inspect_err(|_| since = None)?;
            let quiet_now = all_units(&status)
                .iter()
                .all(|u| u["juju-status"]["current"].as_str() == Some("idle") && u["workload-status"]["current"].as_str() != Some("error"))
                && check(&status);
            if !quiet_now {
                since = None;
            } else if since.get_or_insert_with(Instant::now).elapsed() >= quiet {
                return Ok(status);
            }
            Err(format!("{status:#}"))
        })
    }

    /// `show-unit UNIT --format json`: the unit's object.
    pub fn show_unit(&self, unit: &str) -> Value {
        let json = self.ok(&["show-unit", unit, "--format", "json"]).json();
        let u = json[unit].clone();
        assert!(u.is_object(), "show-unit has no {unit:?} key: {json:#}");
        u
    }

    /// Polls `show-unit` until `pick` finds what the test waits for (bounded) and returns it.
    pub fn wait_show_unit<T>(&self, unit: &str, what: &str, pick: impl Fn(&Value) -> Option<T>) -> T {
        wait_until(what, SETTLE_TIMEOUT, || {
            let out = self.tether(&["show-unit", unit, "--format", "json"]);
            let json = (out.code == 0).then(|| serde_json::from_str::<Value>(&out.stdout).ok()).flatten();
            json.and_then(|json| pick(&json[unit])).ok_or_else(|| out.to_string())
        })
    }
}

/// `(name, workload word, message)` for the application itself and each of its units;
/// empty when the application is not in the status.
pub fn workload_words(status: &Value, app: &str) -> Vec<(String, String, String)> {
    let Some(a) = status["applications"].get(app) else { return Vec::new() };
    let word = |v: &Value| v["current"].as_str().unwrap_or("unknown").to_string();
    let msg = |v: &Value| v["message"].as_str().unwrap_or("").to_string();
    let mut words = vec![(app.to_string(), word(&a["application-status"]), msg(&a["application-status"]))];
    if let Some(units) = a["units"].as_object() {
        for (name, u) in units {
            words.push((name.clone(), word(&u["workload-status"]), msg(&u["workload-status"])));
        }
    }
    words
}

/// The app's first unit's `(workload word, message)`.
pub fn unit_words(status: &Value, app: &str) -> Option<(String, String)> {
    workload_words(status, app).into_iter().find(|(n, _, _)| n.contains('/')).map(|(_, w, m)| (w, m))
}

pub fn has_app(status: &Value, app: &str) -> bool {
    status["applications"].get(app).is_some()
}

/// The applications in the status, sorted.
pub fn app_names(status: &Value) -> Vec<String> {
    status["applications"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The `related-application` of each relation on `app:endpoint`, sorted.
pub fn related_apps(status: &Value, app: &str, endpoint: &str) -> Vec<String> {
    let mut apps: Vec<String> = status["applications"][app]["relations"][endpoint]
        .as_array()
        .map(|rels| rels.iter().filter_map(|r| r["related-application"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    apps.sort();
    apps
}

/// The unit names of `app`, sorted.
pub fn unit_names(status: &Value, app: &str) -> Vec<String> {
    status["applications"][app]["units"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Every unit object in a status (principals and their subordinates).
pub fn all_units(status: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for app in status["applications"].as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
        for u in app["units"].as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
            out.push(u.clone());
            for s in u["subordinates"].as_object().map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
                out.push(s.clone());
            }
        }
    }
    out
}

/// In a show-unit object, the relation on the unit's `endpoint` whose related endpoint is
/// `related_endpoint`.
pub fn relation_info<'a>(unit: &'a Value, endpoint: &str, related_endpoint: &str) -> Option<&'a Value> {
    unit["relation-info"].as_array()?.iter().find(|r| r["endpoint"] == endpoint && r["related-endpoint"] == related_endpoint)
}
