//! A unit's etcd member: the unit that was leader at install founds the application's
//! etcd cluster; every other unit (at deploy or `add-unit`) is first added to it through a
//! live member, then starts with the member list the cluster answered. A unit leaving
//! removes its member so the quorum shrinks with the application.

use super::layout::{member_name, own, peers, port, scope, STATE_ETCD_CLIENT, STATE_ETCD_PEER};
use super::view::{POLL, WAIT_FOR_CLUSTER};
use crate::charms::server::{self, workload_key};
use crate::charms::services::Services;
use crate::engine::context::HookContext;
use crate::engines::etcd::{self, EtcdSpec};
use anyhow::anyhow;
use std::time::Instant;

/// The supervisor's key for the unit's etcd member.
fn etcd_key(ctx: &HookContext) -> String {
    format!("{}#etcd", workload_key(ctx))
}

/// Starts the unit's member: founding, joining or restarting from its data.
pub(super) async fn ensure(ctx: &mut HookContext, services: &Services) -> anyhow::Result<()> {
    let name = member_name(&ctx.unit);
    let (client_port, peer_port) = (own(ctx, STATE_ETCD_CLIENT)?, own(ctx, STATE_ETCD_PEER)?);
    let my_peer = etcd::peer_url(peer_port);
    let mut spec = EtcdSpec {
        dir: ctx.unit_dir().join("etcd"),
        name: name.clone(),
        client_port,
        peer_port,
        initial_cluster: format!("{name}={my_peer}"),
        founding: false,
        token: scope(ctx),
    };
    let has_data = spec.data_dir().join("member").is_dir();
    if !has_data {
        let founder = server::is_primary(ctx);
        match live_member(ctx, !founder).await? {
            None => spec.founding = true,
            Some(live) => {
                let members = join(live, &my_peer).await?;
                let peers = peers(ctx)?;
                let named = |url: &str| {
                    peers
                        .iter()
                        .find(|(_, s)| port(s, STATE_ETCD_PEER).is_some_and(|p| etcd::peer_url(p) == url))
                        .map(|(u, _)| member_name(u))
                };
                let mut entries = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    for url in &m.peer_urls {
                        let n = if *url == my_peer {
                            name.clone()
                        } else if !m.name.is_empty() {
                            m.name.clone()
                        } else {
                            named(url).unwrap_or_else(|| format!("joining-{i}"))
                        };
                        entries.push(format!("{n}={url}"));
                    }
                }
                spec.initial_cluster = entries.join(",");
            }
        }
    }
    services.supervisor.ensure_running(&etcd_key(ctx), spec).await?;
    Ok(())
}

/// The client port of another unit's etcd member that answers. With `wait`, polls
/// (bounded) until one does; without, looks once.
async fn live_member(ctx: &HookContext, wait: bool) -> anyhow::Result<Option<u16>> {
    let started = Instant::now();
    loop {
        for (_, state) in peers(ctx)? {
            if let Some(p) = port(&state, STATE_ETCD_CLIENT) {
                if etcd::members(p).await.is_ok() {
                    return Ok(Some(p));
                }
            }
        }
        if !wait {
            return Ok(None);
        }
        if started.elapsed() > WAIT_FOR_CLUSTER {
            return Err(anyhow!("no etcd member of {} answers: cannot join the cluster", ctx.app));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Adds this member through the member on `port`, retrying while the cluster refuses
/// (it refuses a second new member until the first has started).
async fn join(port: u16, my_peer: &str) -> anyhow::Result<Vec<etcd::EtcdMember>> {
    let started = Instant::now();
    loop {
        match etcd::add_member(port, my_peer).await {
            Ok(m) => return Ok(m),
            Err(e) if started.elapsed() > WAIT_FOR_CLUSTER => return Err(anyhow!("joining the etcd cluster: {e}")),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Removes the unit's member from the cluster (best effort: the last members of an
/// application that goes whole cannot reach a quorum) and stops it.
pub(super) async fn leave(ctx: &HookContext, services: &Services) {
    if let (Ok(client), Ok(peer)) = (own(ctx, STATE_ETCD_CLIENT), own(ctx, STATE_ETCD_PEER)) {
        if let Err(e) = etcd::remove_member(client, &etcd::peer_url(peer)).await {
            ctx.log("WARNING", &format!("etcd member of {} not removed from the cluster: {e}", ctx.unit));
        }
    }
    services.supervisor.stop(&etcd_key(ctx)).await;
}
