//! Finding what a request names: the model (named or current) and a live
//! application. Every handler starts with these, so they live below all handlers and
//! their "not found" texts are written once.

use super::error::ApiError;
use super::state::Controller;
use crate::store::{AppRow, ModelRow, Tx};
use tether_core::life::Life;
use tether_core::names::validate_application;

/// Accepts `name`, `user/name`, `ctrl:name` and `ctrl:user/name`.
pub fn bare(name: &str) -> &str {
    let n = name.rsplit_once(':').map(|(_, n)| n).unwrap_or(name);
    n.rsplit_once('/').map(|(_, n)| n).unwrap_or(n)
}

/// The model a request targets: the named one or the current one.
pub fn resolve_model(c: &Controller, model: Option<String>) -> Result<ModelRow, ApiError> {
    let name = match model {
        Some(m) => bare(&m).to_string(),
        None => c
            .store
            .read(|tx| tx.meta("current-model"))?
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::invalid("no current model, use tether switch or tether add-model"))?,
    };
    c.store.read(|tx| tx.model(&name))?.ok_or_else(|| ApiError::invalid(format!("model {name:?} not found")))
}

/// A live application of the model, its name validated first.
pub fn existing_app(tx: &Tx<'_>, model: &str, app: &str) -> Result<AppRow, ApiError> {
    validate_application(app)?;
    tx.app(model, app)?.filter(|a| a.life == Life::Alive).ok_or_else(|| ApiError::invalid(format!("application {app:?} not found")))
}
