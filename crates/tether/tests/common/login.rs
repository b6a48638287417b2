//! What logging in looks like whatever the engine: where to connect (the first of a
//! credentials map's `endpoints`) and how a login went ([`LoginOutcome`]), so a test can
//! check PostgreSQL and MariaDB credentials alike.

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

/// The first `host:port` of a comma-separated endpoint list.
pub fn first_endpoint(endpoints: &str) -> (String, u16) {
    let first = endpoints.split(',').next().unwrap_or("").trim();
    let (host, port) = first.rsplit_once(':').unwrap_or_else(|| panic!("endpoint {first:?} is not host:port"));
    (host.to_string(), port.parse().unwrap_or_else(|_| panic!("endpoint {first:?} has no numeric port")))
}
