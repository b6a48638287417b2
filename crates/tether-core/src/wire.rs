//! The messages the CLI and the controller exchange over the control socket.
//!
//! One request per connection: the client writes one JSON line (an [`Envelope`]), the
//! controller answers with one JSON line (a [`Reply`]). The view types are shaped like
//! Juju's own `--format json` output, so the CLI prints them by serialising them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A request with the controller's token (read from a file only the owner can read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub token: String,
    pub request: Request,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    Ping,
    AddModel {
        name: String,
        switch: bool,
    },
    Models,
    Switch {
        model: String,
    },
    DestroyModel {
        name: String,
        force: bool,
    },
    Deploy {
        model: Option<String>,
        charm: String,
        app: Option<String>,
        config: Vec<String>,
        num_units: u32,
        /// `NAME=PATH` with an absolute path, one per `--resource`.
        #[serde(default)]
        resources: Vec<String>,
        #[serde(default)]
        trust: bool,
        /// Check everything, say what would be deployed, record nothing.
        #[serde(default)]
        dry_run: bool,
    },
    RemoveApplication {
        model: Option<String>,
        apps: Vec<String>,
        force: bool,
    },
    AddUnit {
        model: Option<String>,
        app: String,
        num_units: u32,
    },
    RemoveUnit {
        model: Option<String>,
        units: Vec<String>,
        num_units: Option<u32>,
    },
    /// With `wait_ms`, a relation of the same key that is still being removed is waited
    /// for that long; still there, the reply is `Pending` (a second request may wait
    /// again). Without it, that relation is an error at once.
    Integrate {
        model: Option<String>,
        a: String,
        b: String,
        #[serde(default)]
        wait_ms: Option<u64>,
    },
    /// `b` is `None` when `a` is a relation id.
    RemoveRelation {
        model: Option<String>,
        a: String,
        b: Option<String>,
    },
    ConfigGet {
        model: Option<String>,
        app: String,
    },
    /// `refresh APP --path DIR`: a local charm replaced by a new version (absolute path).
    Refresh {
        model: Option<String>,
        app: String,
        path: String,
        #[serde(default)]
        config: Vec<String>,
        #[serde(default)]
        trust: bool,
    },
    /// `trust APP [--remove]`: the application's access to trusted credentials.
    Trust {
        model: Option<String>,
        app: String,
        #[serde(default)]
        remove: bool,
    },
    ConfigSet {
        model: Option<String>,
        app: String,
        set: Vec<String>,
        reset: Vec<String>,
    },
    /// One operation with one task per unit (all of one application).
    Run {
        model: Option<String>,
        units: Vec<String>,
        action: String,
        params: BTreeMap<String, Value>,
        wait_ms: Option<u64>,
    },
    Operations {
        model: Option<String>,
    },
    ShowOperation {
        model: Option<String>,
        id: String,
    },
    ShowTask {
        model: Option<String>,
        id: String,
    },
    /// A unit's or an application's status history, newest last.
    StatusLog {
        model: Option<String>,
        entity: String,
        /// `unit` (workload and agent), `workload`, `juju-unit` or `application`.
        kind: Option<String>,
        days: Option<u32>,
        limit: Option<u32>,
    },
    Status {
        model: Option<String>,
    },
    ShowUnit {
        model: Option<String>,
        unit: String,
    },
    /// The last `limit` matching lines (all when None), or with `after` the matching
    /// lines logged after that cursor (a following client polls with the cursor it got).
    DebugLog {
        model: Option<String>,
        limit: Option<u64>,
        #[serde(default)]
        filter: crate::log_filter::LogFilter,
        #[serde(default)]
        after: Option<i64>,
    },
    Resolve {
        model: Option<String>,
        unit: String,
    },
    Secrets {
        model: Option<String>,
    },
    ShowSecret {
        model: Option<String>,
        id: String,
        reveal: bool,
    },
    Version,
    StopController,
    /// A built-in charm name or an absolute local charm path.
    Info {
        charm: String,
    },
    /// `actions APP` / `show-action APP ACTION`: the actions of an application's charm.
    Actions {
        model: Option<String>,
        app: String,
    },
    Charms,
    /// The credential audit trail (all models when `model` is None and `all`).
    Audit {
        model: Option<String>,
        all: bool,
    },
    /// Get (both lists empty) or change model config.
    ModelConfig {
        model: Option<String>,
        set: Vec<String>,
        reset: Vec<String>,
    },
    ShowModel {
        model: Option<String>,
    },
    /// A user-owned secret; replies with its URI in `Done.output`.
    AddSecret {
        model: Option<String>,
        name: String,
        info: Option<String>,
        content: BTreeMap<String, String>,
    },
    UpdateSecret {
        model: Option<String>,
        id: String,
        info: Option<String>,
        name: Option<String>,
        content: Option<BTreeMap<String, String>>,
    },
    RemoveSecret {
        model: Option<String>,
        id: String,
    },
    GrantSecret {
        model: Option<String>,
        id: String,
        apps: Vec<String>,
        revoke: bool,
    },
    /// Runs a command (argv, no shell) in a unit's directory, like `juju exec`.
    Exec {
        model: Option<String>,
        unit: String,
        command: Vec<String>,
        wait_ms: Option<u64>,
    },
    /// A hook tool run by an external charm's hook. Carries no controller token: the
    /// context id (random, known only to the running hook) is the credential.
    HookTool {
        context: String,
        tool: String,
        args: Vec<String>,
        stdin: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reply {
    /// Success; `info` lines go to stderr, `output` (if any) to stdout verbatim.
    Done {
        info: Vec<String>,
        output: Option<String>,
    },
    Error {
        message: String,
        usage: bool,
    },
    /// The request could not complete yet and did nothing: `message` says what it
    /// waits for, `error` is what to report if the caller stops waiting.
    Pending {
        message: String,
        error: String,
    },
    Models {
        current: Option<String>,
        models: Vec<ModelSummary>,
    },
    Status {
        status: StatusView,
        relations: Vec<RelationRow>,
    },
    Config {
        config: ConfigView,
    },
    Task {
        unit: String,
        task: TaskView,
        timed_out: bool,
        /// The operation the task belongs to (every task but those of old stores has one).
        #[serde(default)]
        operation: Option<String>,
    },
    ShowUnit {
        units: BTreeMap<String, UnitInfoView>,
    },
    Log {
        records: Vec<LogRecord>,
        /// Pass back as `after` to get only what is logged later.
        cursor: i64,
    },
    Operation {
        operation: OperationView,
    },
    Operations {
        operations: Vec<OperationView>,
    },
    StatusLog {
        entries: Vec<StatusLogEntry>,
    },
    Secrets {
        secrets: BTreeMap<String, SecretView>,
    },
    Version {
        version: String,
    },
    Charms {
        charms: Vec<CharmInfo>,
    },
    /// Each action of an application's charm: its description and its parameters' JSON
    /// Schema (as `actions --schema` shows it).
    Actions {
        actions: BTreeMap<String, ActionView>,
    },
    Audit {
        entries: Vec<AuditView>,
    },
    ModelConfig {
        config: BTreeMap<String, ModelConfigValue>,
    },
    ShowModel {
        models: BTreeMap<String, Value>,
    },
    /// What a hook tool prints and exits with.
    HookTool {
        stdout: String,
        stderr: String,
        code: i32,
    },
}

/// One credential event of the audit trail (never a secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditView {
    pub time: String,
    pub model: String,
    pub application: String,
    pub relation: String,
    pub operation: String,
    #[serde(rename = "database-user")]
    pub db_user: String,
    pub detail: String,
}

/// `model-config --format json` value (Juju's capitalised keys).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelConfigValue {
    #[serde(rename = "Value")]
    pub value: Value,
    #[serde(rename = "Source")]
    pub source: String,
}

/// A charm as `info` and `charms` show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CharmInfo {
    /// `built-in` or `local`.
    pub origin: String,
    pub meta: crate::charm_meta::CharmMeta,
}

impl Reply {
    pub fn error(message: impl Into<String>) -> Self {
        Reply::Error { message: message.into(), usage: false }
    }
    pub fn done(info: impl Into<String>) -> Self {
        Reply::Done { info: vec![info.into()], output: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    pub uuid: String,
    pub applications: usize,
    pub units: usize,
}

/// One action as `actions --schema` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionView {
    pub description: String,
    /// The parameters' JSON Schema (`type: object`, `properties`, `required`, ...).
    pub params: Value,
}

/// `status` as Juju's `--format json` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusView {
    pub model: ModelStatus,
    pub machines: BTreeMap<String, Value>,
    pub applications: BTreeMap<String, AppStatusView>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub controller: Option<ControllerStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ControllerStatus {
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub controller: String,
    pub cloud: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    pub version: String,
    #[serde(rename = "model-status")]
    pub model_status: StatusInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct StatusInfo {
    pub current: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub since: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub version: String,
    /// `dying` or `dead`; empty (left out) while alive, as Juju leaves it out.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub life: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct AppStatusView {
    pub charm: String,
    pub charm_origin: String,
    pub charm_name: String,
    pub charm_rev: i64,
    pub exposed: bool,
    pub base: BaseView,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scale: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    /// `dying` or `dead`; empty (left out) while alive, as Juju leaves it out.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub life: String,
    pub application_status: StatusInfo,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub relations: BTreeMap<String, Vec<AppRelationView>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub subordinate_to: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub units: BTreeMap<String, UnitStatusView>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub version: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub endpoint_bindings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaseView {
    pub name: String,
    pub channel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct AppRelationView {
    pub related_application: String,
    pub interface: String,
    pub scope: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct UnitStatusView {
    pub workload_status: StatusInfo,
    pub juju_status: StatusInfo,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub leader: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub public_address: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub open_ports: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub subordinates: BTreeMap<String, UnitStatusView>,
}

/// One row of `status --relations` (not part of Juju's JSON; sent beside it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelationRow {
    pub id: i64,
    pub provider: String,
    pub requirer: String,
    pub interface: String,
    /// `regular`, `peer` or `subordinate`.
    pub kind: String,
    pub status: String,
}

/// `config APP --format json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct ConfigView {
    pub application: String,
    pub charm: String,
    pub settings: BTreeMap<String, SettingView>,
    pub application_config: BTreeMap<String, SettingView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingView {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub description: String,
    /// `default`, `user` or `unset`.
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<Value>,
}

/// One task of `run`, as Juju's `--format json` prints it under the unit name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskView {
    pub id: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub message: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty", default)]
    pub results: serde_json::Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub log: Vec<String>,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timing: Option<BTreeMap<String, String>>,
}

/// One line of the model log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    /// RFC 3339, UTC.
    pub ts: String,
    pub entity: String,
    pub level: String,
    pub module: String,
    pub message: String,
}

/// An operation (`run`): its tasks, one per unit, ids from the same counter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperationView {
    pub id: String,
    pub action: String,
    pub summary: String,
    /// Derived from the tasks: `pending`, `running`, `completed`, `failed` or `error`.
    pub status: String,
    pub enqueued: String,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub completed: Option<String>,
    pub tasks: Vec<TaskView>,
}

/// One row of `show-status-log`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusLogEntry {
    /// RFC 3339, UTC.
    pub time: String,
    /// `workload`, `juju-unit` or `application`.
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub message: String,
}

/// `show-unit` for one unit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct UnitInfoView {
    pub opened_ports: Vec<String>,
    pub charm: String,
    pub leader: bool,
    pub life: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub public_address: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub workload_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub relation_info: Vec<RelationInfoView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct RelationInfoView {
    pub relation_id: i64,
    pub endpoint: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub related_endpoint: String,
    pub application_data: BTreeMap<String, String>,
    /// Absent only under `show-unit --app`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local_unit: Option<RelatedUnitView>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub related_units: BTreeMap<String, RelatedUnitView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedUnitView {
    pub in_scope: bool,
    pub data: BTreeMap<String, String>,
}

/// `secrets --format json` / `show-secret` for one secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretView {
    pub revision: i64,
    pub owner: String,
    /// The name of a user secret (`add-secret NAME`); charm secrets have a label instead.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    pub created: String,
    pub updated: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub access: Vec<SecretAccessView>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content: Option<SecretContentView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretAccessView {
    pub target: String,
    pub scope: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretContentView {
    #[serde(rename = "Data")]
    pub data: BTreeMap<String, String>,
}

/// The version tether reports for itself in Juju's format (`maj.min.patch-release-arch`).
pub const JUJU_COMPAT_VERSION: &str = "3.6.5";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_tagged_json() {
        let r = Request::Integrate { model: None, a: "pg".into(), b: "di".into(), wait_ms: None };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"op\":\"integrate\""), "{s}");
        let back: Request = serde_json::from_str(&s).unwrap();
        assert!(matches!(back, Request::Integrate { .. }));
    }

    #[test]
    fn unit_status_omits_false_leader() {
        let u = UnitStatusView {
            workload_status: StatusInfo { current: "active".into(), ..Default::default() },
            juju_status: StatusInfo { current: "idle".into(), ..Default::default() },
            leader: false,
            address: None,
            public_address: None,
            open_ports: vec![],
            subordinates: BTreeMap::new(),
        };
        let v = serde_json::to_value(&u).unwrap();
        assert!(v.get("leader").is_none());
        assert_eq!(v["workload-status"]["current"], "active");
    }
}
