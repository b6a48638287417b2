//! The readiness login every engine polls while a server starts: one authenticated
//! round trip, bounded as a whole (something else listening on the port may accept and
//! never answer, which a TCP connect timeout alone does not catch).

use std::future::Future;
use std::time::Duration;

/// How long one readiness login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) enum LoginFailure {
    /// The server answered and rejected the credentials.
    Refused,
    Other(String),
}

/// Runs one login attempt against 127.0.0.1:`port` within [`LOGIN_TIMEOUT`].
pub(crate) async fn bounded(port: u16, attempt: impl Future<Output = Result<(), LoginFailure>>) -> Result<(), LoginFailure> {
    match tokio::time::timeout(LOGIN_TIMEOUT, attempt).await {
        Ok(r) => r,
        Err(_) => Err(LoginFailure::Other(format!("no answer from 127.0.0.1:{port} within {}s", LOGIN_TIMEOUT.as_secs()))),
    }
}
