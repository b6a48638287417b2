//! What logging in looks like whatever the engine: where to connect (the first of a
//! credentials map's `endpoints`), why a login failed ([`LoginFailure`]), the wait for a
//! refusal, and how a login went ([`LoginOutcome`]), so a test can check PostgreSQL and
//! MariaDB credentials alike.

use super::wait::{wait_until, SETTLE_TIMEOUT};
use std::fmt;

/// Why a login (or a statement) did not work, whatever the engine; `C` is its error code
/// (PostgreSQL's SQLSTATE, the default, or MySQL's number).
#[derive(Debug)]
pub enum LoginFailure<C = String> {
    /// The server answered and said no (error code and message).
    Refused { code: C, message: String },
    /// No server answered, or the connection broke.
    Unreachable(String),
}

/// Polls `connect` (a login as `login`) until the server refuses it, not merely
/// unreachable, bounded by [`SETTLE_TIMEOUT`]; returns the refusal's code and message.
pub fn wait_until_refused<C: fmt::Debug, S>(login: &impl fmt::Debug, connect: impl Fn() -> Result<S, LoginFailure<C>>) -> (C, String) {
    wait_until(&format!("the server to refuse {login:?}"), SETTLE_TIMEOUT, || match connect() {
        Err(LoginFailure::Refused { code, message }) => Ok((code, message)),
        Err(other) => Err(format!("{other:?}")),
        Ok(_) => Err("it logs in".into()),
    })
}

/// Whether a login was refused by the server, refused because the server is not there,
/// or accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Accepted,
    /// Authentication failed (the user is gone or its password changed).
    BadCredentials(String),
    /// Some other refusal or no answer.
    Other(String),
}

/// The ports of a comma-separated `host:port` list (`endpoints`, `read-only-endpoints`), in
/// its order; an empty list has none.
pub fn ports_of(endpoints: &str) -> Vec<u16> {
    endpoints.split(',').filter(|e| !e.is_empty()).map(|e| first_endpoint(e).1).collect()
}

/// The first `host:port` of a comma-separated endpoint list.
pub fn first_endpoint(endpoints: &str) -> (String, u16) {
    let first = endpoints.split(',').next().unwrap_or("").trim();
    let (host, port) = first.rsplit_once(':').unwrap_or_else(|| panic!("endpoint {first:?} is not host:port"));
    (host.to_string(), port.parse().unwrap_or_else(|_| panic!("endpoint {first:?} has no numeric port")))
}
