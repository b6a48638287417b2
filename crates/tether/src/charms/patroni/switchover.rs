//! Moving the primary role on purpose, always through Patroni's `/switchover` (Patroni
//! picks or checks the candidate): a leaving primary hands over to a synchronous standby,
//! and `promote-to-primary` asks for this unit.

use super::layout::{member_name, own, Layout, STATE_PATRONI_PORT};
use super::view::{await_view, cluster};
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni_api;

/// When this unit is the primary and has replicas: a switchover to a synchronous standby
/// of Patroni's choice, once there is one (stopping a primary whose standbys are not
/// synchronous yet, as right after a switchover, would leave Patroni nobody to promote).
pub(super) async fn hand_over(layout: &Layout, ctx: &HookContext) -> Result<(), String> {
    let view = cluster(ctx).await.map_err(|e| e.to_string())?;
    if view.primary.as_ref().is_none_or(|(u, _)| *u != ctx.unit) || view.replicas.is_empty() {
        return Ok(());
    }
    await_view(ctx, "synchronous standby", |v| !v.sync.is_empty()).await?;
    let port = own(ctx, STATE_PATRONI_PORT).map_err(|e| e.to_string())?;
    patroni_api::switchover(port, &layout.rest_password(ctx)?, &member_name(&ctx.unit), None).await
}

/// Switches the primary over to this unit, through its own Patroni, once this unit is a
/// synchronous standby (in synchronous mode Patroni promotes no other).
pub async fn promote_self(layout: &Layout, ctx: &HookContext) -> Result<(), String> {
    let view = cluster(ctx).await.map_err(|e| e.to_string())?;
    let Some((primary, _)) = view.primary else { return Err("the cluster has no primary now".into()) };
    if primary == ctx.unit {
        return Err("the unit is already the primary".into());
    }
    let me = ctx.unit.clone();
    let view = await_view(ctx, "synchronous standby role for this unit", |v| v.sync.contains(&me)).await?;
    let primary = view.primary.map(|(u, _)| u).unwrap_or(primary);
    let port = own(ctx, STATE_PATRONI_PORT).map_err(|e| e.to_string())?;
    patroni_api::switchover(port, &layout.rest_password(ctx)?, &member_name(&primary), Some(&member_name(&ctx.unit))).await
}
