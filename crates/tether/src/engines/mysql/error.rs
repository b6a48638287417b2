//! Why a MySQL/MariaDB admin operation failed. Messages name the step and carry the
//! server's answer, except for statements that carry a password (MySQL 8), whose text is
//! withheld. [`MyError::class`] is how callers decide what to do, never the message text.

use crate::engines::error_class::{Classify, ErrorClass};
use crate::engines::tls;
use tether_core::my_plan::PlanError;

/// What the charm shows when a requirer's `extra-user-roles` cannot be granted
/// (charm-protocol §4.4.6).
pub const SCOPED_USER_FAILED: &str = "Failed to create scoped user";

#[derive(Debug, thiserror::Error)]
pub enum MyError {
    #[error("connecting to {host}:{port} as {user:?}: {source}")]
    Connect { host: String, port: u16, user: String, source: mysql_async::Error },
    /// An adopted endpoint that answers, but not as a MySQL/MariaDB server (what it did is the text).
    #[error("{0}")]
    NotMysql(String),
    /// A user of a relation user's name exists on an adopted server and is not this
    /// application's.
    #[error("a user named {0} exists on the adopted server and is not this application's")]
    Foreign(String),
    /// What an adopted server's admin cannot do for tether (the message says what).
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("{step}: {source}")]
    Query { step: &'static str, source: mysql_async::Error },
    /// Unknown or forbidden `extra-user-roles`: the charm's text.
    #[error("Failed to create scoped user")]
    ScopedUser(Vec<String>),
    #[error("rendering statements: {0}")]
    Plan(PlanError),
}

impl From<PlanError> for MyError {
    fn from(e: PlanError) -> MyError {
        match e {
            PlanError::InvalidRoles(roles) => MyError::ScopedUser(roles),
            other => MyError::Plan(other),
        }
    }
}

/// MySQL's "access denied" answers (1044 database, 1045 login, 1142/1227 privilege).
const ACCESS_DENIED: [u16; 4] = [1044, 1045, 1142, 1227];

impl MyError {
    /// Whether the connection itself is gone (the operation may run again on a new one),
    /// rather than the server refusing a statement.
    pub fn connection_lost(&self) -> bool {
        matches!(self, MyError::Query { source: mysql_async::Error::Io(_) | mysql_async::Error::Driver(_), .. })
    }
}

impl Classify for MyError {
    fn root(&self) -> String {
        match self {
            MyError::Connect { source, .. } | MyError::Query { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            MyError::Connect { source: mysql_async::Error::Server(s), .. } if ACCESS_DENIED.contains(&s.code) => {
                ErrorClass::Blocked("the admin login was refused".into())
            }
            MyError::Connect { source: mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer), .. } => {
                ErrorClass::Blocked(tls::NO_TLS.into())
            }
            MyError::Connect { source, .. } if tls::refusal(source).is_some() => {
                ErrorClass::Blocked(tls::untrusted(&tls::refusal(source).unwrap_or_default()))
            }
            MyError::Connect { .. } => ErrorClass::Retry,
            e if e.connection_lost() => ErrorClass::Retry,
            MyError::Query { source: mysql_async::Error::Server(s), step } if ACCESS_DENIED.contains(&s.code) => {
                ErrorClass::Blocked(format!("insufficient privilege {step}"))
            }
            MyError::Query { .. } => ErrorClass::Bug,
            MyError::ScopedUser(_) => ErrorClass::Blocked(SCOPED_USER_FAILED.into()),
            MyError::Plan(_) => ErrorClass::Bug,
            MyError::NotMysql(what) => ErrorClass::Blocked(what.clone()),
            MyError::Foreign(_) => ErrorClass::Blocked(self.to_string()),
            MyError::Unsupported(what) => ErrorClass::Blocked((*what).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_roles_block_with_the_charm_text() {
        let e: MyError = PlanError::InvalidRoles(vec!["bogus".into()]).into();
        assert_eq!(e.to_string(), SCOPED_USER_FAILED);
        assert_eq!(e.class(), ErrorClass::Blocked(SCOPED_USER_FAILED.into()));
    }

    #[test]
    fn a_lost_connection_is_retried() {
        let e = MyError::Query { step: "listing users", source: mysql_async::Error::Io(std::io::Error::other("reset").into()) };
        assert!(e.connection_lost());
        assert_eq!(e.class(), ErrorClass::Retry);
    }
}
