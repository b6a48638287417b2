//! [`PgAdmins`]: the pool of PostgreSQL admin clients, one per server, logging in as
//! `operator`, or as the admin login of an adopted server (see `engines::admin_pool`).

use super::admin::PgAdmin;
use super::error::PgError;
use crate::engines::admin_pool::{AdminPool, AdoptedLogin, PooledAdmin};
use crate::secret::SecretString;

pub type PgAdmins = AdminPool<PgAdmin>;

#[async_trait::async_trait]
impl PooledAdmin for PgAdmin {
    type Error = PgError;
    const ADMIN_USER: &'static str = "operator";
    async fn connect(port: u16, user: &str, password: &SecretString) -> Result<PgAdmin, PgError> {
        PgAdmin::connect(port, user, password).await
    }
    async fn use_password(&self, password: &SecretString) -> Result<(), PgError> {
        self.update_password(password);
        Ok(())
    }
    async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<PgAdmin, PgError> {
        PgAdmin::connect_adopted(login).await
    }
    fn adopted_as(&self, login: &AdoptedLogin<'_>) -> bool {
        self.login() == login.user && self.marker() == tether_core::pg_plan::adopted_marker(login.scope) && self.tls() == login.tls
    }
}
