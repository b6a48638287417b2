//! [`MongoAdmins`]: the controller's admin sessions, one per MongoDB-wire server (keyed
//! by port), shared by every hook that manages that server.

use std::collections::HashMap;
use std::sync::Arc;

use super::admin::{MongoAdmin, ADMIN_USER};
use super::error::MongoAdminError;
use crate::secret::SecretString;

/// The controller's admin sessions, one per MongoDB server (keyed by port), shared by
/// every hook that manages that server.
#[derive(Clone, Default)]
pub struct MongoAdmins {
    inner: Arc<tokio::sync::Mutex<HashMap<u16, Arc<MongoAdmin>>>>,
}

impl MongoAdmins {
    /// The admin session of the server on `port`, logging in as `operator` with
    /// `password` when there is none yet. The given password is the truth: a cached
    /// session takes it for its future operations.
    pub async fn get(&self, port: u16, password: &SecretString) -> Result<Arc<MongoAdmin>, MongoAdminError> {
        let mut map = self.inner.lock().await;
        if let Some(admin) = map.get(&port) {
            admin.update_password(password).await?;
            return Ok(admin.clone());
        }
        let admin = Arc::new(MongoAdmin::connect(port, ADMIN_USER, password).await?);
        map.insert(port, admin.clone());
        Ok(admin)
    }

    /// Drops the session of `port` (its server was stopped or removed).
    pub async fn forget(&self, port: u16) {
        self.inner.lock().await.remove(&port);
    }
}
