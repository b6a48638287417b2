//! Why a PostgreSQL admin operation failed. Messages name the step and carry the server's
//! answer; passwords never appear (they reach the server only as SCRAM verifiers).
//! [`PgError::class`] is how callers decide what to do, never the message text.

use crate::engines::error_class::{Classify, ErrorClass};
use crate::engines::tls;
use tether_core::pg_plan::PlanError;
use tokio_postgres::error::SqlState;

/// What the charms show when a requirer's `extra-user-roles` cannot be granted
/// (charm-protocol §3.4.4).
pub const INVALID_ROLES: &str = "invalid role(s) for extra user roles";

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("connecting to {host}:{port} as {user:?} (database {database:?}): {source}")]
    Connect { host: String, port: u16, user: String, database: String, source: tokio_postgres::Error },
    #[error("{step}: {source}")]
    Query { step: &'static str, source: tokio_postgres::Error },
    /// `extra-user-roles` names roles that neither are keywords nor exist.
    #[error("invalid role(s) for extra user roles")]
    InvalidRoles(Vec<String>),
    #[error("rendering statements: {0}")]
    Plan(PlanError),
    /// What an adopted server's admin cannot do for tether (the message says what).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A role of a relation user's name exists on an adopted server and is not this
    /// application's.
    #[error("a role named {0} exists on the adopted server and is not this application's")]
    Foreign(String),
    /// `tls-ca` is set but the adopted server does not offer TLS.
    #[error("{}", crate::engines::tls::NO_TLS)]
    NoTls,
    /// The server refused a setting's value (the application's config asked for it).
    #[error("the server refused the setting {name}: {source}")]
    RefusedSetting { name: String, source: tokio_postgres::Error },
}

/// Why an admin whose connection no `pg_hba.conf` line admits is blocked.
pub const NO_HBA_ENTRY: &str =
    "the server's pg_hba.conf admits no such connection of the admin (a server that takes only TLS needs tls-ca)";

/// The status of a unit whose config the server refused (Canonical's text; the reason is
/// in the log).
pub const CONFIGURATION_ERROR: &str = "Configuration Error. Please check the logs";

impl From<PlanError> for PgError {
    fn from(e: PlanError) -> PgError {
        match e {
            PlanError::InvalidRoles(roles) => PgError::InvalidRoles(roles),
            other => PgError::Plan(other),
        }
    }
}

/// Attaches the step name to a server error.
pub(crate) fn step(step: &'static str) -> impl FnOnce(tokio_postgres::Error) -> PgError {
    move |source| PgError::Query { step, source }
}

/// Server answers that go away by themselves: the connection, the server shutting down
/// or starting, resources, a serialization conflict.
fn transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true, // no SQLSTATE: the connection or its I/O failed
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") || *code == SqlState::T_R_SERIALIZATION_FAILURE
        }
    }
}

impl Classify for PgError {
    fn root(&self) -> String {
        match self {
            PgError::Connect { source, .. } | PgError::Query { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            PgError::Connect { source, .. } if source.code() == Some(&SqlState::INVALID_PASSWORD) => {
                ErrorClass::Blocked("the admin login was refused".into())
            }
            // No pg_hba.conf line lets the login in this way (an adopted server that
            // takes only TLS, say): the operator must act, waiting would not help.
            PgError::Connect { source, .. } if source.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION) => {
                ErrorClass::Blocked(NO_HBA_ENTRY.into())
            }
            PgError::Connect { source, .. } if tls::refusal(source).is_some() => {
                ErrorClass::Blocked(tls::untrusted(&tls::refusal(source).unwrap_or_default()))
            }
            PgError::Connect { .. } => ErrorClass::Retry,
            PgError::NoTls => ErrorClass::Blocked(self.to_string()),
            PgError::Query { source, .. } if transient(source) => ErrorClass::Retry,
            PgError::Query { source, step } if source.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                ErrorClass::Blocked(format!("insufficient privilege {step}"))
            }
            PgError::Query { .. } => ErrorClass::Bug,
            PgError::InvalidRoles(_) => ErrorClass::Blocked(INVALID_ROLES.into()),
            PgError::Plan(_) => ErrorClass::Bug,
            PgError::Unsupported(what) => ErrorClass::Blocked((*what).into()),
            PgError::Foreign(_) => ErrorClass::Blocked(self.to_string()),
            PgError::RefusedSetting { .. } => ErrorClass::Blocked(CONFIGURATION_ERROR.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_roles_use_the_charm_text_and_block() {
        let e: PgError = PlanError::InvalidRoles(vec!["bogus".into()]).into();
        assert_eq!(e.to_string(), INVALID_ROLES);
        assert!(matches!(&e, PgError::InvalidRoles(r) if r == &vec!["bogus".to_string()]));
        assert_eq!(e.class(), ErrorClass::Blocked(INVALID_ROLES.into()));
    }
}
