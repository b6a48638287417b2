//! MongoDB-wire servers: the server process (`server`: mongod or FerretDB, start or
//! adopt, stop), mongos routers (`router`), and the admin client and its pool per server
//! (`admin`: users, roles, the ownership marker) and what can go wrong (`error`).

mod admin;
pub(crate) mod error;
mod pool;
pub mod router;
mod server;

pub use admin::*;
pub use pool::MongoAdmins;
pub use server::*;
