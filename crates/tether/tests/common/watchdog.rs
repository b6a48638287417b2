//! A bound on a whole test binary. Every wait in these tests is bounded, but a call that
//! blocks without one (a driver with no socket timeout, a thread joined) can still hang a
//! test, and a hung binary holds CI until CI's own limit ends it, with nothing said and
//! its servers left running. The watchdog, armed by the first fixture that asks for it,
//! gives the binary [`binary_limit`]; past it, it says so, tears down every fixture still
//! alive (its logs printed, its controller destroyed, what it started reaped) and exits
//! non-zero: the run fails in minutes, saying what hung, and leaves no process behind.
//!
//! The other tests keep running meanwhile, and any CLI command starts a controller when
//! none runs: so the watchdog first closes a gate every test command passes
//! ([`pass`]), waiting for those in flight (each bounded), and only then tears down;
//! a test that asks to pass after that waits for the exit. It reports on the process's
//! own stderr: a thread spawned by a test shares that test's captured output, which the
//! harness would never print once the binary exits.

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, RwLock, RwLockReadGuard};
use std::time::Duration;

/// The default bound on one test binary: over twice the slowest binary's whole run.
const DEFAULT_BINARY_LIMIT: Duration = Duration::from_secs(1200);

type Teardown = Box<dyn Fn() + Send>;

/// The fixtures alive now: what each is (the test that made it) and how to tear it down.
static LIVE: Mutex<BTreeMap<u64, (String, Teardown)>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);
static ARMED: Once = Once::new();
/// Open (`false`) until the watchdog fires; a test command holds it shared while it runs.
static GATE: RwLock<bool> = RwLock::new(false);

/// Lets a test command through, to run while the returned guard lives; once the watchdog
/// has fired, waits (for the binary's exit) instead.
pub fn pass() -> RwLockReadGuard<'static, bool> {
    let open = GATE.read().unwrap_or_else(|p| p.into_inner());
    if *open {
        drop(open);
        loop {
            std::thread::park();
        }
    }
    open
}

/// Writes `text` to the process's own stderr, past the harness's capture of the test
/// that armed the watchdog.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The bound on this binary: `TETHER_TEST_BINARY_LIMIT_SECS` when set (to try the
/// watchdog itself), else [`DEFAULT_BINARY_LIMIT`].
pub fn binary_limit() -> Duration {
    std::env::var("TETHER_TEST_BINARY_LIMIT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_BINARY_LIMIT)
}

/// A fixture the watchdog tears down if the binary runs over its bound; dropping it (the
/// fixture's own teardown ran) takes it off the list.
pub struct Watched(u64);

impl Drop for Watched {
    fn drop(&mut self) {
        live().remove(&self.0);
    }
}

/// Puts a fixture on the watchdog's list (arming the watchdog the first time): `teardown`
/// runs if the binary runs over its bound while the fixture lives. After the watchdog
/// fired, waits for the exit instead.
pub fn watch(teardown: impl Fn() + Send + 'static) -> Watched {
    ARMED.call_once(|| {
        let limit = binary_limit();
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            expire(limit)
        });
    });
    let _open = pass();
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    live().insert(id, (test, Box::new(teardown)));
    Watched(id)
}

fn live() -> std::sync::MutexGuard<'static, BTreeMap<u64, (String, Teardown)>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tears down every live fixture, each on its own (one that panics does not keep the
/// others running), and ends the binary with a failure.
fn expire(limit: Duration) -> ! {
    say(&format!("==== WATCHDOG: this test binary ran over {limit:?}: a test hangs; closing the gate"));
    *GATE.write().unwrap_or_else(|p| p.into_inner()) = true;
    let fixtures = std::mem::take(&mut *live());
    say(&format!("==== WATCHDOG: {} fixture(s) still alive", fixtures.len()));
    for (_, (test, teardown)) in fixtures {
        say(&format!("==== WATCHDOG: tearing down the fixture of {test}"));
        if catch_unwind(AssertUnwindSafe(&teardown)).is_err() {
            say(&format!("==== WATCHDOG: the teardown of {test}'s fixture panicked"));
        }
    }
    std::process::exit(101)
}
