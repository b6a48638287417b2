//! Running charm actions through the CLI (`run UNIT ACTION`) and reading what they hand
//! out: a data-integrator's credentials for any engine (and the wait for new ones), an
//! operator password, a test charm's `probe`, and the model's secrets.

use super::controller::{Controller, Output};
use super::wait::{wait_until, SETTLE_TIMEOUT};
use serde_json::Value;
use std::fs;

impl Controller {
    /// Runs `run UNIT ACTION PARAMS... --format json` and returns the output and the one
    /// task object (the first value of the JSON map, as jubilant reads it).
    pub fn run_action(&self, unit: &str, action: &str, params: &[&str]) -> (Output, Value) {
        let mut args = vec!["run", unit, action];
        args.extend_from_slice(params);
        args.extend_from_slice(&["--format", "json"]);
        let out = self.tether(&args);
        let task = if out.stdout.trim().is_empty() {
            Value::Null
        } else {
            let json = out.json();
            json.as_object().and_then(|m| m.values().next().cloned()).unwrap_or(Value::Null)
        };
        (out, task)
    }

    /// Runs an action that must complete with return code 0 and returns its `results`.
    pub fn action_results(&self, unit: &str, action: &str, params: &[&str]) -> Value {
        let (out, task) = self.run_action(unit, action, params);
        assert_eq!(out.code, 0, "action failed:\n{out}");
        assert_eq!(task["status"], "completed", "action did not complete:\n{out}");
        assert_eq!(task["results"]["return-code"], 0, "return-code must be the integer 0:\n{out}");
        task["results"].clone()
    }

    /// An action asked while a cluster may still be settling: its `results` once it
    /// completed with return code 0, else the CLI's output as the reason.
    pub fn try_action_results(&self, unit: &str, action: &str, params: &[&str]) -> Result<Value, String> {
        let (out, task) = self.run_action(unit, action, params);
        if out.code == 0 && task["status"] == "completed" {
            Ok(task["results"].clone())
        } else {
            Err(out.to_string())
        }
    }

    /// `get-primary` on `app`'s leader: the unit it names under `key` (`primary` for
    /// PostgreSQL, `replica-set-primary` for MongoDB).
    pub fn primary_unit(&self, app: &str, key: &str) -> Result<String, String> {
        let results = self.try_action_results(&format!("{app}/leader"), "get-primary", &[])?;
        match results[key].as_str() {
            Some(p) if !p.is_empty() => Ok(p.to_string()),
            _ => Err(format!("get-primary named no primary: {results}")),
        }
    }

    /// A controller for adopt mode: a 2 s update-status interval and a user secret
    /// `name` holding an adopted server's admin login; returns it with the secret's URI.
    pub fn for_adoption(name: &str, user: &str, password: &str) -> (Controller, String) {
        let c = Controller::bootstrap();
        c.ok(&["model-config", "update-status-hook-interval=2s"]);
        let uri = c.ok(&["add-secret", name, &format!("username={user}"), &format!("password={password}")]).stdout.trim().to_string();
        assert!(uri.starts_with("secret:"), "add-secret prints the URI: {uri:?}");
        (c, uri)
    }

    /// `run UNIT get-credentials` on a data-integrator unit: the map under `key`
    /// (`postgresql`, `mysql`, `mongodb`, `mongos`, ...), which must be there.
    pub fn credentials_for(&self, unit: &str, key: &str) -> Value {
        let results = self.action_results(unit, "get-credentials", &[]);
        assert!(matches!(&results["ok"], Value::String(s) if s == "True") || results["ok"] == true, "ok must be True: {results:#}");
        let map = results[key].clone();
        assert!(map.is_object(), "get-credentials has no `{key}` key: {results:#}");
        map
    }

    /// Polls `get-credentials` until `accept` takes the map under `key` (bounded).
    pub fn wait_credentials_for(&self, unit: &str, key: &str, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, SETTLE_TIMEOUT, || {
            let (out, task) = self.run_action(unit, "get-credentials", &[]);
            let map = &task["results"][key];
            if out.code == 0 && task["status"] == "completed" && map.is_object() && accept(map) {
                Ok(map.clone())
            } else {
                Err(out.to_string())
            }
        })
    }

    /// `run UNIT get-credentials` on a data-integrator unit: its `postgresql` map.
    pub fn postgresql_credentials(&self, unit: &str) -> Value {
        self.credentials_for(unit, "postgresql")
    }

    /// Polls `get-credentials` until `accept` takes the `postgresql` map (bounded).
    pub fn wait_postgresql_credentials(&self, unit: &str, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        self.wait_credentials_for(unit, "postgresql", what, accept)
    }

    /// Runs `cmd` in a test charm's `probe` action (`tests/charms/*`: a shell command with
    /// the hook tools on `PATH`); returns (exit code, stdout, stderr).
    pub fn probe(&self, unit: &str, cmd: &str) -> (i64, String, String) {
        let params = tempfile::NamedTempFile::new().expect("params file");
        fs::write(params.path(), serde_json::json!({ "cmd": cmd }).to_string()).expect("write params");
        let r = self.action_results(unit, "probe", &["--params", params.path().to_str().expect("utf-8 path")]);
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        (s("code").parse().unwrap_or(-1), s("out"), s("err"))
    }

    /// The operator password, from `run postgresql-k8s/leader get-password`.
    pub fn operator_password(&self, app: &str) -> String {
        let results = self.action_results(&format!("{app}/leader"), "get-password", &[]);
        results["password"].as_str().unwrap_or_else(|| panic!("get-password returned no password: {results:#}")).to_string()
    }

    /// A secret as `show-secret NAME --reveal` shows it: (revision, content).
    pub fn revealed_secret(&self, name: &str) -> (i64, Value) {
        let shown = self.ok(&["show-secret", name, "--reveal", "--format", "json"]).json();
        let entry = shown.as_object().and_then(|m| m.values().next()).cloned().unwrap_or_else(|| panic!("show-secret: {shown:#}"));
        let content = if entry["content"]["Data"].is_object() { entry["content"]["Data"].clone() } else { entry["content"].clone() };
        (entry["revision"].as_i64().unwrap_or_else(|| panic!("no revision: {entry:#}")), content)
    }

    /// Every secret of the current model reveals its content (`show-secret --reveal`).
    /// Returns how many there are.
    pub fn assert_every_secret_decrypts(&self) -> usize {
        let list = self.ok(&["secrets", "--format", "json"]).json();
        let ids: Vec<String> = list.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for id in &ids {
            let shown = self.ok(&["show-secret", id, "--reveal", "--format", "json"]).json();
            let entry = shown.as_object().and_then(|m| m.values().next()).unwrap_or_else(|| panic!("show-secret {id}: {shown:#}"));
            let content = &entry["content"];
            assert!(
                content.as_object().is_some_and(|m| !m.is_empty()) || content["Data"].as_object().is_some_and(|m| !m.is_empty()),
                "secret {id} revealed no content: {shown:#}"
            );
        }
        ids.len()
    }
}
