//! [`PgAdmins`]: the controller's admin sessions, one per PostgreSQL server (keyed by
//! port), shared by every hook that manages that server.

use std::collections::HashMap;
use std::sync::Arc;

use super::admin::PgAdmin;
use super::error::PgError;
use crate::secret::SecretString;

/// The admin login every tether PostgreSQL server has.
const ADMIN_USER: &str = "operator";

#[derive(Clone, Default)]
pub struct PgAdmins {
    inner: Arc<tokio::sync::Mutex<HashMap<u16, Arc<PgAdmin>>>>,
}

impl PgAdmins {
    /// The admin session of the server on `port`, logging in as `operator` with
    /// `password` when there is none yet. The given password is the truth: a cached
    /// session takes it for its future connections.
    pub async fn get(&self, port: u16, password: &SecretString) -> Result<Arc<PgAdmin>, PgError> {
        let mut map = self.inner.lock().await;
        if let Some(admin) = map.get(&port) {
            admin.update_password(password);
            return Ok(admin.clone());
        }
        let admin = Arc::new(PgAdmin::connect(port, ADMIN_USER, password).await?);
        map.insert(port, admin.clone());
        Ok(admin)
    }

    /// Drops the session of `port` (its server was stopped or removed).
    #[cfg_attr(not(test), allow(dead_code))] // for remove-application
    pub async fn forget(&self, port: u16) {
        self.inner.lock().await.remove(&port);
    }
}
