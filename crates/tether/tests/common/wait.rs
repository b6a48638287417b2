//! Waiting, bounded: the one polling loop of the end-to-end tests. A test that waits for
//! a condition (a status, a login that starts or stops working, a process that goes away)
//! asks [`wait_until`] (or [`poll_until`], when a timeout is not a failure) instead of
//! writing its own loop, so every wait has a bound, polls at a known pace and, when it
//! gives up, says what it waited for and what it saw last.

use std::thread::sleep;
use std::time::{Duration, Instant};

/// The longest the model may take to reach a state the test waits for. Far above what a
/// healthy run needs (seconds); it only bounds a broken one.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a controller may take to die once its failpoint should have fired, or after
/// a SIGKILL.
pub const DEATH_TIMEOUT: Duration = Duration::from_secs(90);
/// How often [`wait_until`] polls.
pub const POLL: Duration = Duration::from_millis(250);

/// Calls `probe` every `every` until it returns `Ok`, and returns that; `Err` carries what
/// the probe saw instead. It gives up, with that last observation, at the first `Err` that
/// comes after `timeout` (so the probe always runs at least once).
pub fn poll_until<T>(timeout: Duration, every: Duration, mut probe: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe() {
            Ok(found) => return Ok(found),
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        sleep(every);
    }
}

/// Waits (polling every [`POLL`]) until `probe` returns `Ok`, and returns its value;
/// after `timeout` panics naming `what` and the probe's last observation (its `Err`).
/// A probe that finds the wait can never succeed may panic at once itself.
pub fn wait_until<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Result<T, String>) -> T {
    poll_until(timeout, POLL, probe).unwrap_or_else(|last| panic!("timed out after {timeout:?} waiting for {what}; last seen:\n{last}"))
}
