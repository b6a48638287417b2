//! `postgresql-k8s` deployed with more than one unit runs the application's Patroni
//! cluster (`charms::patroni`): this module says what that cluster is for this charm (its
//! [`LAYOUT`]: the `postgresql-mode` setting, the charm's own internal secret, PostgreSQL
//! on the unit's server port, Patroni as the unit's workload) and answers the mode.
//!
//! **Mode.** The leader decides at its install, from the number of units deployed with
//! it: more than one means `patroni`, one means `single` (the plain server, so single-unit
//! deployments behave exactly as before). `add-unit` on a single server moves the mode on
//! through `converting` to `patroni`, the server's data directory and port taken over by
//! Patroni (`charms::patroni::convert`); a cluster never goes back to `single`.

use super::ha_mode::Mode;
use super::patroni::{Layout, PasswordKeys, REST_PASSWORD_KEY};
use super::server;
use crate::engine::context::HookContext;

/// postgresql-k8s's cluster.
pub const LAYOUT: Layout = Layout {
    mode: Mode { key: "postgresql-mode", clustered: "patroni" },
    label: internal_label,
    passwords: PasswordKeys {
        superuser: "operator-password",
        replication: "replication-password",
        rewind: "rewind-password",
        rest: REST_PASSWORD_KEY,
    },
    pg_port: server::STATE_PORT,
    patroni_suffix: "",
};

/// The label of the application's internal secret (named after its peers endpoint,
/// `database-peers`, as Canonical's charm keeps its secrets in the peer relation).
pub fn internal_label(app: &str) -> String {
    format!("database-peers.{app}.app")
}

/// At the leader's install: records the mode from the number of units deployed.
pub fn decide_mode(ctx: &mut HookContext) -> anyhow::Result<()> {
    LAYOUT.mode.decide(ctx)
}

/// Whether the application runs Patroni, as far as is committed (or set by this hook).
pub fn is_ha(ctx: &HookContext) -> bool {
    LAYOUT.mode.is_clustered(ctx)
}

/// The mode, waiting (bounded) for the leader's install to record it.
pub async fn await_mode(ctx: &HookContext) -> anyhow::Result<bool> {
    LAYOUT.mode.wait(ctx).await
}
