//! `add-unit` on a postgresql-k8s that runs one plain server: the leader turns that server
//! into the application's Patroni cluster (the steps and why they converge after a crash
//! are `charms::patroni::convert`'s), and the added units join it once it exists. Kept
//! apart from the charm's relation work, which does not change: the same users and
//! passwords are served again from the cluster's primary.

use super::{ensure_internal_roles, PostgresqlCharm, CONVERTING};
use crate::charms::patroni::convert;
use crate::charms::pg_settings;
use crate::charms::postgresql_ha::{self as ha, internal_label, LAYOUT};
use crate::charms::server;
use crate::charms::server_hooks::ServerCharm;
use crate::engine::context::HookContext;
use crate::engines::postgres::{release_settings_to_patroni, PgSpec};
use tether_core::status::WorkloadStatus;

impl PostgresqlCharm {
    /// On the leader that runs the single server, when units were added: begins the
    /// conversion into a Patroni cluster (see `charms::patroni::convert`), or carries out
    /// one that was begun. Returns whether it did either.
    pub(super) async fn scale_out(&self, ctx: &mut HookContext) -> anyhow::Result<bool> {
        if !ctx.leader || !server::is_primary(ctx) || ha::is_ha(ctx) {
            return Ok(false);
        }
        if convert::pending(&LAYOUT, ctx) {
            self.convert(ctx).await?;
            return Ok(true);
        }
        if convert::begin(&LAYOUT, ctx, &self.services)? {
            self.settle_status(ctx)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Hands the single server's data directory to Patroni: the plain server (adopted if an
    /// earlier controller left it running) gets the replication and rewind users Patroni
    /// needs and does not create on an existing data directory, then stops; its settings
    /// move to Patroni's configuration. Then the unit starts under Patroni as at deploy,
    /// on the same port, as the cluster's first member and primary; every relation is
    /// served again (the same users and passwords). Idempotent: once handed over, only the
    /// Patroni start is done again.
    pub(super) async fn convert(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        ctx.set_status(WorkloadStatus::Maintenance, CONVERTING)?;
        if !convert::handed_over(ctx) {
            let dir = ctx.unit_dir();
            let label = internal_label(&ctx.app);
            let settings = pg_settings::for_start(ctx)?;
            let spec = |port, pw| PgSpec::for_unit(&dir, port, pw).with_settings(settings.clone());
            let (pw, port, _) = server::start_workload(ctx, &self.services.supervisor, &label, "operator-password", spec).await?;
            let admin = self.services.pg.get(port, &pw).await?;
            ensure_internal_roles(ctx, &admin).await?;
            drop(admin);
            server::stop(ctx, &self.services.supervisor).await;
            self.services.pg.forget(port).await;
            release_settings_to_patroni(&dir.join("pgdata"))?;
            crate::failpoint::hit("patroni.convert.before-hand-over");
        }
        convert::finish(&LAYOUT, ctx)?;
        self.start_ha(ctx).await?;
        ctx.log("INFO", &format!("{} is the first member of the Patroni cluster, with its data", ctx.unit));
        crate::failpoint::hit("patroni.convert.after-hand-over");
        Ok(())
    }

    /// An added unit that waited for the conversion: joins the cluster (etcd member and
    /// Patroni replica) as any added unit.
    pub(super) async fn join_cluster(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        self.start_ha(ctx).await?;
        convert::joined(ctx);
        Ok(())
    }
}
