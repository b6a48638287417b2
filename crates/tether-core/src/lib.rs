//! The I/O-free core of tether.
//!
//! Everything here is a pure function of its inputs so it can be tested with tables:
//! name validation, charm metadata, endpoint inference, hook-event plans, status
//! derivation, configuration typing, duration parsing, PostgreSQL statement rendering
//! and the wire types the CLI and the controller exchange. The `tether` crate owns all
//! sockets, files, processes and database connections.

pub mod bundle;
pub mod charm_meta;
pub mod config;
pub mod data_interfaces;
pub mod duration;
pub mod endpoints;
pub mod events;
pub mod life;
pub mod log_filter;
pub mod mongo_plan;
pub mod mongo_replset;
pub mod my_config;
pub mod my_plan;
pub mod names;
pub mod ownership;
pub mod params;
pub mod patroni_install;
pub mod patroni_timing;
pub mod pg_config;
pub mod pg_plan;
pub mod rotation;
pub mod secret_timing;
pub mod status;
pub mod storage;
pub mod wait_query;
pub mod wire;
