//! MySQL and MariaDB: the server process (`server`: mariadb-install-db or
//! `mysqld --initialize-insecure`, start or adopt, stop, as the `mysql` user), the admin
//! client and its pool per server (`admin`: users, grants, the ownership registry) and
//! what can go wrong (`error`).

mod admin;
mod error;
mod server;

pub use admin::*;
pub use server::*;
