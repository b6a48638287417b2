//! The context of a model-scoped command once a controller answers: where the
//! controller is, which model the command targets, and sending one request with the
//! controller's refusal turned into the CLI's error. Every verb module uses it.

use super::client;
use super::error::CliError;
use crate::paths::Home;
use std::time::Duration;
use tether_core::wire::{Reply, Request};

/// What every model-scoped command needs: where the controller is and which model.
pub struct Ctx {
    pub home: Home,
    pub model: Option<String>,
}

impl Ctx {
    /// Sends a request (the controller is known to answer) and turns `Reply::Error` into an error.
    pub fn send(&self, request: Request, timeout: Duration) -> Result<Reply, CliError> {
        match client::call(&self.home, request, timeout) {
            Ok(Reply::Error { message, usage: true }) => Err(CliError::Usage(message)),
            Ok(Reply::Error { message, usage: false }) => Err(CliError::Runtime(message)),
            Ok(reply) => Ok(reply),
            Err(e) => Err(e.into_cli(&self.home)),
        }
    }
}
