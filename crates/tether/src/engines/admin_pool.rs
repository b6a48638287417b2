//! [`AdminPool`]: the controller's admin clients, one per server (keyed by `host:port`), shared
//! by every hook that manages that server, for any engine whose admin client is a
//! [`PooledAdmin`]. The password a caller gives is the truth: a cached client takes it
//! for its future connections (the charm may just have rotated it).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::engines::tls::TlsCa;
use crate::secret::SecretString;

/// An engine's admin client as the pool needs it.
#[async_trait::async_trait]
pub trait PooledAdmin: Send + Sync + Sized + 'static {
    type Error;
    /// The login every server of this engine that tether runs has for it.
    const ADMIN_USER: &'static str;
    async fn connect(port: u16, user: &str, password: &SecretString) -> Result<Self, Self::Error>;
    /// Takes `password` for the connections it opens from now on.
    async fn use_password(&self, password: &SecretString) -> Result<(), Self::Error>;
    /// Logs in to a server tether did not start as `login` says.
    async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<Self, Self::Error>;
    /// Whether this client logged in as `login` says (the same user, scope and CA).
    fn adopted_as(&self, login: &AdoptedLogin<'_>) -> bool;
}

/// Where and as whom an adopted server's admin client logs in.
#[derive(Clone, Copy)]
pub struct AdoptedLogin<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a SecretString,
    /// The application (`<model uuid>/<application>`) whose relation users the client
    /// manages there, and only those.
    pub scope: &'a str,
    /// The CA the client's connections trust (over TLS, the server's name checked);
    /// `None`: unencrypted. An engine without TLS support is never given one.
    pub tls: Option<&'a TlsCa>,
}

pub struct AdminPool<A> {
    inner: Arc<tokio::sync::Mutex<HashMap<String, Arc<A>>>>,
}

impl<A> Clone for AdminPool<A> {
    fn clone(&self) -> Self {
        AdminPool { inner: self.inner.clone() }
    }
}

impl<A> Default for AdminPool<A> {
    fn default() -> Self {
        AdminPool { inner: Default::default() }
    }
}

impl<A: PooledAdmin> AdminPool<A> {
    /// The admin client of the server on `port`, logging in as the engine's admin with
    /// `password` when there is none yet.
    pub async fn get(&self, port: u16, password: &SecretString) -> Result<Arc<A>, A::Error> {
        self.get_with(local_key(port), password, |_| true, || A::connect(port, A::ADMIN_USER, password)).await
    }

    /// The admin client of an adopted server, logging in as `login` says (a cached client
    /// of another login, after the admin secret changed, or of another application adopting
    /// the same server, or trusting another `tls-ca`, is replaced).
    pub async fn adopted(&self, login: &AdoptedLogin<'_>) -> Result<Arc<A>, A::Error> {
        let key = format!("{}:{}", login.host, login.port);
        self.get_with(key, login.password, |a| a.adopted_as(login), || A::connect_adopted(login)).await
    }

    /// The client cached under `key` if `usable` accepts it (it then takes `password`),
    /// else a new one from `connect`, cached in its place.
    pub async fn get_with<F, Fut>(
        &self,
        key: String,
        password: &SecretString,
        usable: impl Fn(&A) -> bool,
        connect: F,
    ) -> Result<Arc<A>, A::Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<A, A::Error>>,
    {
        let mut map = self.inner.lock().await;
        if let Some(admin) = map.get(&key).filter(|a| usable(a)) {
            admin.use_password(password).await?;
            return Ok(admin.clone());
        }
        let admin = Arc::new(connect().await?);
        map.insert(key, admin.clone());
        Ok(admin)
    }

    /// Drops the client of the local server on `port` (it was stopped or removed).
    pub async fn forget(&self, port: u16) {
        self.forget_key(&local_key(port)).await;
    }

    /// Drops the client cached under `key` (`host:port`).
    pub async fn forget_key(&self, key: &str) {
        self.inner.lock().await.remove(key);
    }
}

/// The pool key of a server tether runs on 127.0.0.1.
fn local_key(port: u16) -> String {
    format!("127.0.0.1:{port}")
}
