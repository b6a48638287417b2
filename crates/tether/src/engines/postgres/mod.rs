//! PostgreSQL: the server process (`server`: initdb, start or adopt, stop, as the
//! `postgres` user), the admin client (`admin`: roles, databases, grants, the ownership
//! comment), the controller's pool of admin sessions per server (`pool`) and what can go
//! wrong (`error`).

mod admin;
mod error;
pub mod patroni;
pub mod patroni_api;
mod pool;
mod server;
mod settings;
#[cfg(test)]
pub mod testing;
mod tls;

pub use admin::*;
pub use error::{PgError, CONFIGURATION_ERROR};
pub use pool::*;
pub use server::*;
pub use settings::ExtensionProblems;
