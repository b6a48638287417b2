//! What a refused or failed request is. Every handler and every helper below them
//! returns `ApiError`; only `api::dispatch` turns it into a reply, so this sits beneath
//! all of them and imports none.

use crate::store::StoreError;
use tether_core::wire::Reply;

/// A refused or failed request; `Display` is the text after `ERROR `.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn invalid(msg: impl Into<String>) -> ApiError {
        ApiError::Invalid(msg.into())
    }
}

impl From<tether_core::names::NameError> for ApiError {
    fn from(e: tether_core::names::NameError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

impl From<tether_core::endpoints::InferError> for ApiError {
    fn from(e: tether_core::endpoints::InferError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

impl From<tether_core::config::ConfigError> for ApiError {
    fn from(e: tether_core::config::ConfigError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

pub type ApiResult = Result<Reply, ApiError>;

/// User input as an error text echoes it: at most 64 characters, NUL escaped.
pub fn short(s: &str) -> String {
    s.chars().take(64).collect::<String>().replace('\0', "\\0")
}
