//! Every contract a requirer can use (data-integrator's `get-credentials`, v1, v0,
//! legacy) follows a change of primary with the same credentials, end to end on real
//! clusters: PostgreSQL under Patroni (`postgresql`, a switchover) and MariaDB under Galera
//! (`galera`, the write node killed and frozen). One test binary, so the two clusters'
//! tests run side by side.

mod common;

#[path = "ha_contracts/galera.rs"]
mod galera;
#[path = "ha_contracts/postgresql.rs"]
mod postgresql;
