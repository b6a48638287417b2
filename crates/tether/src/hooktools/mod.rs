//! Hook tools: the commands an external charm's hook calls (`relation-get`,
//! `status-set`, `secret-add`, …) to read and change the model, as under Juju.
//!
//! Each tool is the `tether` binary itself, reached through a link named after the tool
//! in the hook's tools directory ([`client`]). It sends one `HookTool` request with the
//! hook's context id over the controller socket; the controller hands it to the running
//! hook ([`registry`]), whose task executes it here ([`execute`]) against the hook's own
//! `HookContext`. Running the tools inside the hook's task is what gives them Juju's
//! semantics: reads see the hook's pending writes, and nothing is committed unless the
//! hook process exits 0. Argument forms, outputs and error texts follow
//! juju-compat.md §C4, §C5 and §C7.

mod action;
mod app;
mod args;
pub mod client;
mod registry;
mod relation;
mod secrets;
pub mod storage;
mod unit;

use crate::engine::context::HookContext;
pub use registry::{HookToolRegistry, Registration, ToolOutput};
use tether_core::charm_meta::CharmMeta;

/// Every tool name tether answers to (links of these names run [`client::main`]).
pub const TOOLS: &[&str] = &[
    "juju-log",
    "is-leader",
    "config-get",
    "status-set",
    "status-get",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "relation-model-get",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "application-version-set",
    "state-get",
    "state-set",
    "state-delete",
    "goal-state",
    "network-get",
    "open-port",
    "close-port",
    "opened-ports",
    "secret-add",
    "secret-get",
    "secret-info-get",
    "secret-set",
    "secret-grant",
    "secret-revoke",
    "secret-remove",
    "secret-ids",
    "leader-get",
    "leader-set",
    "resource-get",
    "credential-get",
    "storage-get",
    "storage-list",
    "storage-add",
    "juju-reboot",
    "pod-spec-set",
    "add-metric",
];

pub fn is_tool(name: &str) -> bool {
    TOOLS.contains(&name)
}

/// Runs one tool call against the hook's context.
pub fn execute(ctx: &mut HookContext, meta: &CharmMeta, tool: &str, argv: &[String], stdin: Option<&str>) -> ToolOutput {
    let result = match tool {
        "juju-log" => unit::juju_log(ctx, argv),
        "is-leader" => unit::is_leader(ctx, argv),
        "config-get" => unit::config_get(ctx, meta, argv),
        "status-set" => unit::status_set(ctx, argv),
        "status-get" => unit::status_get(ctx, argv),
        "relation-ids" => relation::ids(ctx, argv),
        "relation-list" => relation::list(ctx, argv),
        "relation-get" => relation::get(ctx, argv),
        "relation-set" => relation::set(ctx, argv, stdin),
        "relation-model-get" => relation::model_get(ctx, argv),
        "action-get" => action::get(ctx, argv),
        "action-set" => action::set(ctx, argv),
        "action-fail" => action::fail(ctx, argv),
        "action-log" => action::log(ctx, argv),
        "application-version-set" => unit::application_version_set(ctx, argv),
        "state-get" => unit::state_get(ctx, argv),
        "state-set" => unit::state_set(ctx, argv, stdin),
        "state-delete" => unit::state_delete(ctx, argv),
        "goal-state" => unit::goal_state(ctx, argv),
        "network-get" => unit::network_get(ctx, meta, argv),
        "open-port" => unit::open_close_port(ctx, argv, true),
        "close-port" => unit::open_close_port(ctx, argv, false),
        "opened-ports" => unit::opened_ports(ctx, argv),
        "secret-add" => secrets::add(ctx, argv),
        "secret-get" => secrets::get(ctx, argv),
        "secret-info-get" => secrets::info_get(ctx, argv),
        "secret-set" => secrets::set(ctx, argv),
        "secret-grant" => secrets::grant(ctx, argv, false),
        "secret-revoke" => secrets::grant(ctx, argv, true),
        "secret-remove" => secrets::remove(ctx, argv),
        "secret-ids" => secrets::ids(ctx, argv),
        "leader-get" => app::leader_get(ctx, argv),
        "leader-set" => app::leader_set(ctx, argv, stdin),
        "resource-get" => app::resource_get(ctx, meta, argv),
        "credential-get" => app::credential_get(ctx, argv),
        "storage-get" => storage::get(ctx, meta, argv),
        "storage-list" => storage::list(ctx, meta, argv),
        "storage-add" => storage::add(ctx, meta, argv),
        "juju-reboot" => Err(args::ToolError::failed("juju-reboot is not supported: tether units share the local machine")),
        "pod-spec-set" => Err(args::ToolError::failed("pod-spec-set is not supported: tether runs sidecar-style charms only")),
        "add-metric" => Err(args::ToolError::failed("add-metric is not supported: tether collects no charm metrics")),
        other => Err(args::ToolError::failed(format!("unknown hook tool {other:?}"))),
    };
    match result {
        Ok(stdout) => ToolOutput::ok(stdout),
        Err(e) => e.output(),
    }
}
