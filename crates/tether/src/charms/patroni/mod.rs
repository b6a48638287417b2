//! A Patroni + etcd cluster per application, written once for the charms that run one:
//! `postgresql-k8s` (its PostgreSQL is the server requirers reach) and `mongodb` under
//! FerretDB (each unit's FerretDB stores its data in the application's Patroni cluster).
//! Every unit runs one etcd member (the application's units form one etcd cluster) and
//! one Patroni managing the unit's PostgreSQL. Patroni elects the primary and fails over;
//! this module starts the two processes under the supervisor, asks Patroni who is
//! primary, and follows it between hooks. tether never decides a failover itself.
//!
//! What differs between the charms is a [`Layout`]: the leader setting of the mode, the
//! internal secret and its password keys, the unit-state key of PostgreSQL's port and the
//! supervisor key Patroni runs under.
//!
//! - `layout`: the [`Layout`], the unit-state keys and ports, the application's units;
//! - `etcd_member`: founding, joining and leaving the etcd cluster;
//! - `member`: starting and stopping a unit's Patroni, following changed passwords;
//! - `view`: who is primary and which replicas are healthy, from Patroni's `/cluster`;
//! - `watcher`: one task per application that queues `update-status` when that changes;
//! - `switchover`: a leaving primary's hand-over and `promote-to-primary`;
//! - `dcs`: settings and Patroni's own options through its shared configuration;
//! - `convert`: a running single server turned into the cluster when units are added.

pub mod convert;
mod dcs;
mod etcd_member;
mod layout;
mod member;
mod switchover;
mod view;
mod watcher;

pub use dcs::{apply_settings, dcs_pending};
pub use layout::{Layout, PasswordKeys, REST_PASSWORD_KEY, REST_USER};
pub use member::{follow_passwords, passwords_changed, start, stop};
pub use switchover::promote_self;
pub use view::{await_primary, cluster, note_role, recorded_role, ClusterView};
pub use watcher::watch;
