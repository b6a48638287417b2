//! etcd, the distributed configuration store Patroni keeps its leader lock and member list
//! in: one member per unit of a highly available application, so the store survives
//! losing a unit as the database does.
//!
//! `member` (this file) runs one etcd member as a `ServerProcess`: its own data directory
//! under the unit directory, client and peer ports on 127.0.0.1 chosen free by the charm,
//! never Debian's system etcd on 2379. `cluster` changes the membership through etcd's
//! JSON gateway (a unit joins by being added first, then starting with the member list
//! the cluster answered), because a member cannot be started into a cluster that does not
//! expect it.

mod cluster;
mod member;

pub use cluster::{add_member, members, remove_member, EtcdMember};
pub use member::{peer_url, EtcdSpec, EtcdStrays};
