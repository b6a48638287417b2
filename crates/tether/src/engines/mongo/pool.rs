//! [`MongoAdmins`]: the pool of MongoDB-wire admin clients, one per server, logging in as
//! `operator` (see `engines::admin_pool`).

use super::admin::{MongoAdmin, ADMIN_USER};
use super::error::MongoAdminError;
use crate::engines::admin_pool::{AdminPool, AdoptedLogin, PooledAdmin};
use crate::secret::SecretString;

pub type MongoAdmins = AdminPool<MongoAdmin>;

#[async_trait::async_trait]
impl PooledAdmin for MongoAdmin {
    type Error = MongoAdminError;
    const ADMIN_USER: &'static str = ADMIN_USER;
    async fn connect(port: u16, user: &str, password: &SecretString) -> Result<MongoAdmin, MongoAdminError> {
        MongoAdmin::connect(port, user, password).await
    }
    async fn use_password(&self, password: &SecretString) -> Result<(), MongoAdminError> {
        self.update_password(password).await
    }
    /// The mongodb charm has no `tls-ca` (see `charms::adopt`): `login.tls` is always `None`.
    async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<MongoAdmin, MongoAdminError> {
        MongoAdmin::connect_adopted(login).await
    }
    fn adopted_as(&self, login: &AdoptedLogin<'_>) -> bool {
        self.user == login.user && self.owner.as_deref() == Some(login.scope)
    }
}
