//! A client that keeps querying while credentials rotate, whatever the engine: one thread
//! opens a new connection for every query with the credentials it was last handed (the
//! test hands it what the requirer side publishes after each change), another keeps one
//! connection open from the start and queries on it until the server ends it. Every
//! failure is kept with its time, so a test can say "zero failed queries before the grace
//! period ended".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often each client queries.
const PACE: Duration = Duration::from_millis(100);

/// What the clients saw.
#[derive(Debug)]
pub struct TrafficReport {
    /// Queries on fresh connections that succeeded.
    pub queries: u64,
    /// Failed queries on fresh connections: (seconds since the epoch, what failed).
    pub failures: Vec<(f64, String)>,
    /// Queries on the long-lived connection that succeeded.
    pub long_lived_queries: u64,
    /// When (seconds since the epoch) and how the long-lived connection was ended.
    pub long_lived_ended: Option<(f64, String)>,
}

impl TrafficReport {
    /// What a rotation whose previous credentials were valid `until` (seconds since the
    /// epoch) and were seen refused at `refused_at` must show: refused no earlier than the
    /// grace period's end, zero failed queries while the clients kept querying, and (when
    /// `session_ended`) the long-lived session ended then, not before.
    pub fn assert_rotation(&self, until: f64, refused_at: f64, session_ended: bool) {
        assert!(refused_at >= until, "the old credentials were refused at {refused_at}, before the grace period ended at {until}");
        assert!(self.failures.is_empty(), "zero failed queries: {:?}", self.failures);
        assert!(self.queries > 20 && self.long_lived_queries > 20, "the clients kept querying: {self:?}");
        if session_ended {
            let (ended, why) =
                self.long_lived_ended.clone().unwrap_or_else(|| panic!("the long-lived session survived the retirement: {self:?}"));
            assert!(ended >= until, "the long-lived session was ended at {ended}, before the grace period ended at {until} ({why})");
        }
    }
}

/// The running clients; [`Traffic::stop`] ends them and reports.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    fresh: JoinHandle<(u64, Vec<(f64, String)>)>,
    long_lived: JoinHandle<Option<(f64, String)>>,
    long_lived_queries: Arc<AtomicU64>,
}

/// Seconds since the epoch, now.
pub fn epoch_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

impl Traffic {
    /// Starts both clients. `creds` is read before every fresh connection; `fresh_query`
    /// connects with them and runs one query; `open` makes the long-lived connection from
    /// the credentials at the start and `query` runs one query on it.
    pub fn start<C, S>(
        creds: Arc<Mutex<C>>,
        fresh_query: impl Fn(&C) -> Result<(), String> + Send + 'static,
        open: impl FnOnce(&C) -> Result<S, String>,
        query: impl Fn(&mut S) -> Result<(), String> + Send + 'static,
    ) -> Traffic
    where
        C: Clone + Send + 'static,
        S: Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let initial = creds.lock().unwrap().clone();
        let mut session = open(&initial).unwrap_or_else(|e| panic!("the long-lived connection cannot open: {e}"));
        let long_lived_queries = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), long_lived_queries.clone());
        let long_lived = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Err(e) = query(&mut session) {
                    return Some((epoch_now(), e));
                }
                n.fetch_add(1, Ordering::SeqCst);
                sleep(PACE);
            }
            None
        });
        let s = stop.clone();
        let fresh = std::thread::spawn(move || {
            let (mut ok, mut failures) = (0, Vec::new());
            while !s.load(Ordering::SeqCst) {
                let now = creds.lock().unwrap().clone();
                match fresh_query(&now) {
                    Ok(()) => ok += 1,
                    Err(e) => failures.push((epoch_now(), e)),
                }
                sleep(PACE);
            }
            (ok, failures)
        });
        Traffic { stop, fresh, long_lived, long_lived_queries }
    }

    /// Stops both clients and reports what they saw.
    pub fn stop(self) -> TrafficReport {
        self.stop.store(true, Ordering::SeqCst);
        let (queries, failures) = self.fresh.join().expect("the fresh-connection client panicked");
        let long_lived_ended = self.long_lived.join().expect("the long-lived client panicked");
        TrafficReport { queries, failures, long_lived_queries: self.long_lived_queries.load(Ordering::SeqCst), long_lived_ended }
    }
}

/// Seconds since the epoch of an RFC 3339 time the controller printed.
pub fn epoch_of(rfc3339: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}")).timestamp() as f64
}
