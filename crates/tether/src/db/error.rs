//! Why an admin operation on a database failed. Messages name the step and carry the
//! server's answer; passwords never appear (they reach the server only as SCRAM verifiers).

use tether_core::pg_plan::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("connecting to 127.0.0.1:{port} as {user:?} (database {database:?}): {source}")]
    Connect { port: u16, user: String, database: String, source: tokio_postgres::Error },
    #[error("{step}: {source}")]
    Query { step: &'static str, source: tokio_postgres::Error },
    /// `extra-user-roles` names roles that neither are keywords nor exist (charm-protocol §3.4.4).
    #[error("invalid role(s) for extra user roles")]
    InvalidRoles(Vec<String>),
    #[error("rendering statements: {0}")]
    Plan(PlanError),
    #[error("connecting to 127.0.0.1:{port} as {user:?}: {source}")]
    MyConnect { port: u16, user: String, source: mysql_async::Error },
    #[error("{step}: {source}")]
    MyQuery { step: &'static str, source: mysql_async::Error },
    /// Unknown or forbidden MySQL `extra-user-roles` (charm-protocol §4.4.6): the charm's text.
    #[error("Failed to create scoped user")]
    ScopedUser(Vec<String>),
    #[error("rendering statements: {0}")]
    MyPlan(tether_core::my_plan::PlanError),
}

impl From<tether_core::my_plan::PlanError> for DbError {
    fn from(e: tether_core::my_plan::PlanError) -> DbError {
        match e {
            tether_core::my_plan::PlanError::InvalidRoles(roles) => DbError::ScopedUser(roles),
            other => DbError::MyPlan(other),
        }
    }
}

impl From<PlanError> for DbError {
    fn from(e: PlanError) -> DbError {
        match e {
            PlanError::InvalidRoles(roles) => DbError::InvalidRoles(roles),
            other => DbError::Plan(other),
        }
    }
}

/// Attaches the step name to a server error.
pub(crate) fn step(step: &'static str) -> impl FnOnce(tokio_postgres::Error) -> DbError {
    move |source| DbError::Query { step, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_roles_use_the_charm_text() {
        let e: DbError = PlanError::InvalidRoles(vec!["bogus".into()]).into();
        assert_eq!(e.to_string(), "invalid role(s) for extra user roles");
        assert!(matches!(e, DbError::InvalidRoles(r) if r == vec!["bogus".to_string()]));
    }
}
