//! Native charms: Rust implementations of the charms tether ships, and the external
//! (any-language) charms deployed from a local directory, all behind the engine's
//! `Charm` trait.
//!
//! A charm receives one event at a time with a hook context; everything it writes
//! through the context is committed only if it returns `Ok`. Outside effects (database
//! users, servers) must therefore be idempotent: "ensure user X with password P", never
//! "create user X". A charm reaches the machine (the workload supervisor, the pooled
//! admin connections, the hook-tool registry) through the [`Services`] it was built
//! with; [`Registry`] builds them and is the engine's `CharmSource`.

mod adopt;
#[cfg(test)]
mod config_parity;
mod data_integrator;
pub mod external;
mod galera_passwords;
mod galera_restart;
mod ha_mode;
pub mod local;
mod mongodb;
mod mongos;
mod my_logs;
mod my_settings;
mod mysql;
mod mysql_ha;
mod patroni;
mod pg_settings;
mod postgresql;
mod postgresql_ha;
mod provider;
mod reconcile;
mod registry;
mod revision;
mod rotation;
mod server;
mod server_hooks;
mod services;
mod settings_state;
mod unit_copy;
mod watcher;

pub use registry::{builtin_names, canonical_name, Registry};
pub use services::Services;
