//! [`PgAdmins`]: the pool of PostgreSQL admin clients, one per server, logging in as
//! `operator`, or as the admin login of an adopted server (see `engines::admin_pool`).

use super::admin::PgAdmin;
use super::error::PgError;
use crate::engines::admin_pool::{AdminPool, PooledAdmin};
use crate::engines::tls::TlsCa;
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
    async fn connect_adopted(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        scope: &str,
        tls: Option<&TlsCa>,
    ) -> Result<PgAdmin, PgError> {
        PgAdmin::connect_adopted(host, port, user, password, scope, tls).await
    }
    fn adopted_as(&self, user: &str, scope: &str, tls: Option<&TlsCa>) -> bool {
        self.login() == user && self.marker() == tether_core::pg_plan::adopted_marker(scope) && self.tls() == tls
    }
}
