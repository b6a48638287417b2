//! Shared fixture for the end-to-end tests: each test gets a [`Controller`] of its own (a
//! fresh, private `$TETHER_HOME`, a real daemon, real database servers), drives it only
//! through the built `tether` binary, waits for conditions with a bound ([`wait_until`]),
//! and checks credentials by logging in ([`PgLogin`], [`MyLogin`]).
//!
//! This file only declares the parts and re-exports them, so a test file says
//! `use common::*;`:
//! - `controller`: the fixture, running the CLI, its [`Output`], cleanup on drop;
//! - `processes`: the processes a controller starts (pid files, kill, reap);
//! - `status`: reading `status`/`show-unit` JSON and waiting on it;
//! - `actions`: running actions, credentials, secrets;
//! - `login`, `postgres`, `mysql`: logging in to each engine;
//! - `external_pg`, `external_mysql`: PostgreSQL and MariaDB servers started outside
//!   tether, for adopt mode, and `netns`: another host (a network namespace) for them;
//! - `patroni`: Patroni's own view (its REST API) of a highly available application;
//! - `tls`: a CA made by `openssl` for one test, and server certificates it signs;
//! - `traffic`: clients that keep querying while credentials rotate;
//! - `wait`: the one bounded polling loop and the bounds;
//! - `watchdog`: a bound on the whole test binary, which tears every fixture down when a
//!   test hangs.

// Each test binary uses a different part of these modules.
#![allow(dead_code)]

mod actions;
mod controller;
mod external_mysql;
mod external_pg;
mod login;
mod mysql;
mod netns;
mod patroni;
mod postgres;
mod processes;
mod status;
mod tls;
mod traffic;
mod wait;
mod watchdog;

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use {
    controller::*, external_mysql::*, external_pg::*, login::*, mysql::*, netns::*, patroni::*, postgres::*, processes::*, status::*,
    tls::*, traffic::*, wait::*, watchdog::*,
};
