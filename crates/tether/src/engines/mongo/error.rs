//! Why a MongoDB admin command failed, and what that means for the caller
//! ([`MongoAdminError::class`]). Messages name the step and carry the server's answer;
//! passwords never appear.

use super::admin::{error_code, is_auth_refused};
use crate::engines::error_class::{Classify, ErrorClass};
use mongodb::error::{Error as DriverError, ErrorKind};
use tether_core::mongo_plan::MongoPlanError;

/// The server's "not authorized" answer.
const UNAUTHORIZED: i32 = 13;

#[derive(Debug, thiserror::Error)]
pub enum MongoAdminError {
    #[error("connecting to 127.0.0.1:{port} as {user:?}: {source}")]
    Connect { port: u16, user: String, source: DriverError },
    #[error("{step}: {source}")]
    Command { step: &'static str, source: DriverError },
    #[error(transparent)]
    Plan(#[from] MongoPlanError),
    #[error("refusing to drop the server's own database {0:?}")]
    SystemDatabase(String),
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
            MongoAdminError::Command { .. } | MongoAdminError::SystemDatabase(_) => ErrorClass::Bug,
            // An extra-user-roles value the charm cannot grant: its text says which.
            MongoAdminError::Plan(e) => ErrorClass::Blocked(e.to_string()),
        }
    }
}
