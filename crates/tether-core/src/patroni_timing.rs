//! Patroni's failover timings for a highly available postgresql-k8s, kept here so the
//! charm's Patroni configuration and the benchmark's bare Patroni floor cannot drift apart:
//! a failover figure means something only next to a floor run with the same timings.
//!
//! Canonical's charm uses Patroni's defaults (`ttl` 30 s, `loop_wait` 10 s); tether uses
//! shorter values, which fail over sooner on one machine, within Patroni's rule
//! `loop_wait + 2 * retry_timeout <= ttl`.

/// Leader lock lifetime (`ttl`), seconds.
pub const TTL_SECS: u64 = 20;
/// Patroni's loop period (`loop_wait`), seconds.
pub const LOOP_WAIT_SECS: u64 = 5;
/// How long Patroni retries the DCS and PostgreSQL before giving up (`retry_timeout`), seconds.
pub const RETRY_TIMEOUT_SECS: u64 = 5;

const _: () = assert!(LOOP_WAIT_SECS + 2 * RETRY_TIMEOUT_SECS <= TTL_SECS, "Patroni's rule");
