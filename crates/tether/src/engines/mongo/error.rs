//! Why a MongoDB admin command failed, and what that means for the caller
//! ([`MongoAdminError::class`]). Messages name the step and carry the server's answer;
//! passwords never appear.

use crate::engines::error_class::{Classify, ErrorClass};
use mongodb::error::{Error as DriverError, ErrorKind};
use tether_core::mongo_plan::MongoPlanError;

/// The server's "not authorized" answer.
const UNAUTHORIZED: i32 = 13;
/// The server's "authentication failed" answer.
const AUTHENTICATION_FAILED: i32 = 18;

/// The server's error code, when the server answered with one.
pub fn error_code(e: &DriverError) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// Whether the server refused the credentials (as opposed to being unreachable).
pub fn is_auth_refused(e: &DriverError) -> bool {
    matches!(e.kind.as_ref(), ErrorKind::Authentication { .. }) || error_code(e) == Some(AUTHENTICATION_FAILED)
}

#[derive(Debug, thiserror::Error)]
pub enum MongoAdminError {
    /// `at`: `host:port as "user"`.
    #[error("connecting to {at}: {source}")]
    Connect { at: String, source: DriverError },
    /// The endpoint answers, but not as a MongoDB-wire server (adopt mode).
    #[error("{0}")]
    NotMongo(String),
    /// A user of that name exists on an adopted server and is not this application's.
    #[error("a user named {0:?} exists on the adopted server and is not this application's")]
    Foreign(String),
    #[error("{step}: {source}")]
    Command { step: &'static str, source: DriverError },
    #[error(transparent)]
    Plan(#[from] MongoPlanError),
    #[error("refusing to drop the server's own database {0:?}")]
    SystemDatabase(String),
    /// A replica-set reply tether cannot read (a field missing or of another type).
    #[error("unexpected {0} reply: {1}")]
    BadReply(&'static str, String),
}

/// The driver could not reach the server (or lost it): worth another try.
fn unreachable(e: &DriverError) -> bool {
    matches!(e.kind.as_ref(), ErrorKind::Io(_) | ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. })
}

impl Classify for MongoAdminError {
    fn class(&self) -> ErrorClass {
        match self {
            MongoAdminError::Connect { source, .. } if is_auth_refused(source) => ErrorClass::Blocked("the admin login was refused".into()),
            MongoAdminError::Connect { .. } => ErrorClass::Retry,
            MongoAdminError::Command { source, .. } if unreachable(source) => ErrorClass::Retry,
            MongoAdminError::Command { source, step } if error_code(source) == Some(UNAUTHORIZED) => {
                ErrorClass::Blocked(format!("insufficient privilege {step}"))
            }
            MongoAdminError::Command { .. } | MongoAdminError::SystemDatabase(_) | MongoAdminError::BadReply(..) => ErrorClass::Bug,
            // An extra-user-roles value the charm cannot grant: its text says which.
            MongoAdminError::Plan(e) => ErrorClass::Blocked(e.to_string()),
            MongoAdminError::NotMongo(_) | MongoAdminError::Foreign(_) => ErrorClass::Blocked(self.to_string()),
        }
    }

    /// A server that cannot be reached in a few words: the driver's text for it is its
    /// whole topology.
    fn root(&self) -> String {
        match self {
            MongoAdminError::Connect { source, .. } if unreachable(source) => {
                if source.to_string().contains("Connection refused") {
                    "connection refused".into()
                } else {
                    "no server answered".into()
                }
            }
            other => other.to_string(),
        }
    }
}
