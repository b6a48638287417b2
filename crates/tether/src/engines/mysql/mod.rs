//! MySQL and MariaDB: the server process (`server`: mariadb-install-db or
//! `mysqld --initialize-insecure`, start or adopt, stop, as the `mysql` user), the admin
//! client and its pool per server (`admin`: users, grants, the ownership registry) and
//! what can go wrong (`error`); `galera`: a server as a member of a Galera cluster.

mod admin;
mod error;
pub mod galera;
mod layout;
mod mysql8;
mod server;
#[cfg(test)]
pub mod testing;

pub use admin::*;
pub use layout::*;
pub use server::*;
