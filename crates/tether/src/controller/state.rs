//! The controller's shared state, handed to every request handler. It lives apart
//! from `mod.rs` (which builds it at start-up) so that handlers and the server depend
//! on it without depending on the daemon's lifecycle code.

use crate::charms::Registry;
use crate::engine::Engine;
use crate::paths::Home;
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::Notify;

/// What request handlers share.
pub struct Controller {
    pub home: Home,
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    /// The charms (built-in and local) and the services they share.
    pub charms: Arc<Registry>,
    pub shutdown: Notify,
    pub uuid: String,
}
