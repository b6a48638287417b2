//! `integrate` as the seeds use it: a pair whose relation is still being removed (the
//! rotation recipe, `remove-relation` then at once `integrate`) is waited for on the
//! controller, quietly for a second, then with a line on stderr. Shared by the
//! `integrate` verb and bundle deployment.

use super::client::DEFAULT_TIMEOUT;
use super::context::Ctx;
use super::emit;
use super::error::{CliError, CmdResult};
use super::reply::print_done;
use std::time::Duration;
use tether_core::wire::{Reply, Request};

/// Slack on top of a wait before the client gives up on the socket.
const SLACK: Duration = Duration::from_secs(30);
/// How long `integrate` waits quietly for a relation being removed before saying so,
/// and how much longer it then waits (Juju's bound: two minutes in all).
const QUIET_REMOVAL_WAIT: Duration = Duration::from_secs(1);
const REMOVAL_WAIT: Duration = Duration::from_secs(119);

/// Integrates `a` and `b`, waiting (bounded) for an earlier relation of the pair to go.
pub fn integrate(ctx: &Ctx, a: String, b: String) -> CmdResult {
    let request = |wait: Duration| Request::Integrate {
        model: ctx.model.clone(),
        a: a.clone(),
        b: b.clone(),
        wait_ms: Some(wait.as_millis() as u64),
    };
    match ctx.send(request(QUIET_REMOVAL_WAIT), DEFAULT_TIMEOUT + QUIET_REMOVAL_WAIT)? {
        Reply::Pending { message, .. } => {
            emit::info(&message);
            match ctx.send(request(REMOVAL_WAIT), REMOVAL_WAIT + SLACK)? {
                Reply::Pending { error, .. } => Err(CliError::runtime(error)),
                other => print_done(other),
            }
        }
        other => print_done(other),
    }
}
