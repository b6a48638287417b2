//! Failpoints: named steps at which a test can make the controller die on the spot.
//!
//! `TETHER_FAILPOINT=<name>` makes the first [`hit`] of `<name>` abort the process;
//! `TETHER_FAILPOINT=<name>:<n>` makes the n-th hit do so. `abort` runs no destructor,
//! flushes nothing and removes no file: to the store, the workloads and the CLI it is the
//! same as a SIGKILL at that step, which is what the crash tests simulate.
//!
//! Always compiled in: without the variable a hit is one load of an already initialised
//! `OnceLock` and a `None` check. The variable is read once, at the first hit.
//!
//! The names (the tests in `tests/crash_recovery.rs`, `tests/refresh.rs` and `tests/ha_scale_out.rs` use them all):
//! - `<request>.after-validate` and `<request>.after-store` for the requests `deploy`,
//!   `integrate`, `remove-relation`, `remove-application` and `run` (actions such as
//!   `set-password`): input checked but nothing stored / change and hooks stored but no
//!   worker woken yet.
//! - `refresh.after-swap`: the refreshed charm is stored, the store still names the old.
//! - `hook.<hook-name>.before`, `hook.<hook-name>.after-effects`, `hook.<hook-name>.after-commit`
//!   around each hook or action the engine runs (`<hook-name>` as Juju names it, such as
//!   `database-relation-broken` or `set-password`): before the charm runs / the charm has
//!   done its outside effects but nothing is committed / committed.
//! - `patroni.convert.before-hand-over`, `patroni.convert.after-hand-over` (`add-unit` on a
//!   single postgresql-k8s server, the mode recorded as `converting`): the plain server
//!   readied for Patroni and stopped, no Patroni configured yet / its data directory runs
//!   under Patroni and etcd, nothing of that hook committed (`tests/ha_scale_out.rs`).
//! - `galera.after-founding`: mysql-k8s's leader has restarted its single server as the
//!   founder of a Galera cluster, and the hook that records the change is not committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms one failpoint.
pub const ENV: &str = "TETHER_FAILPOINT";

struct Armed {
    name: String,
    nth: u64,
    hits: AtomicU64,
}

/// `name` or `name:N` (N ≥ 1); anything after a last `:` that is not a number is part of the name.
fn parse(spec: &str) -> Option<Armed> {
    let spec = spec.trim();
    if spec.is_empty() {
        return None;
    }
    let (name, nth) = match spec.rsplit_once(':') {
        Some((name, n)) => match n.parse::<u64>() {
            Ok(n) if n >= 1 => (name, n),
            _ => (spec, 1),
        },
        None => (spec, 1),
    };
    Some(Armed { name: name.to_string(), nth, hits: AtomicU64::new(0) })
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED.get_or_init(|| std::env::var(ENV).ok().as_deref().and_then(parse)).as_ref()
}

/// Whether `armed` is due at this hit of `name` (counts the hit).
fn due(armed: &Armed, name: &str) -> bool {
    armed.name == name && armed.hits.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth
}

/// Aborts the process when `name` is the armed failpoint and this is its armed hit.
pub fn hit(name: &str) {
    if let Some(a) = armed() {
        if due(a, name) {
            // Written synchronously: the line is in the log before the abort.
            tracing::warn!("failpoint {name} (hit {}): aborting the controller", a.nth);
            std::process::abort();
        }
    }
}

/// [`hit`] for `hook.<hook>.<stage>`, formatting the name only when a failpoint is armed.
pub fn hook(hook: &str, stage: &str) {
    if armed().is_some() {
        hit(&format!("hook.{hook}.{stage}"));
    }
}

#[cfg(test)]
mod tests {
    use super::{due, parse};

    #[test]
    fn parses_name_and_hit_count() {
        let a = parse("integrate.after-store").expect("armed");
        assert_eq!((a.name.as_str(), a.nth), ("integrate.after-store", 1));
        let a = parse("hook.database-relation-changed.before:3").expect("armed");
        assert_eq!((a.name.as_str(), a.nth), ("hook.database-relation-changed.before", 3));
        let a = parse("odd:name").expect("armed");
        assert_eq!((a.name.as_str(), a.nth), ("odd:name", 1));
        let a = parse("zero:0").expect("armed");
        assert_eq!((a.name.as_str(), a.nth), ("zero:0", 1));
        assert!(parse("  ").is_none());
    }

    #[test]
    fn only_the_nth_hit_of_the_armed_name_is_due() {
        let a = parse("x:2").expect("armed");
        assert!(!due(&a, "y"));
        assert!(!due(&a, "x"));
        assert!(due(&a, "x"));
        assert!(!due(&a, "x"));
    }
}
