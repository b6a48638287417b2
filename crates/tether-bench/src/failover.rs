//! One failover figure, as both HA engines measure it: a sample's three phases (the kill →
//! a member accepts a write → `get-credentials` names it → a login with the published
//! credentials succeeds) and the series the samples add up to, so that PostgreSQL and
//! Galera report the same phases the same way.

use crate::stats::{ms, summarise, Summary};
use anyhow::{anyhow, bail, Result};
use std::future::Future;
use std::time::{Duration, Instant};

/// One failover, each phase timed from the end of the one before.
pub struct FailoverSample {
    pub write: Duration,
    pub publish: Duration,
    pub login: Duration,
    /// Whether another member took over (else the killed one came back first).
    pub moved: bool,
}

/// The samples of one engine's failovers, phase by phase.
#[derive(Default)]
pub struct FailoverSeries {
    pub write: Vec<Duration>,
    pub publish: Vec<Duration>,
    pub login: Vec<Duration>,
    /// The three phases together: kill → a requirer's login.
    pub total: Vec<Duration>,
    /// How many samples moved to another member.
    pub moved: usize,
}

impl FailoverSeries {
    /// Adds a sample and says it on stderr (`what` names the engine's failover).
    pub fn record(&mut self, what: &str, s: &FailoverSample, not_moved: &str) {
        eprintln!(
            "tether-bench: {what}: write after {:.0} ms, endpoints after {:.0} ms more, login after {:.1} ms more{}",
            ms(s.write),
            ms(s.publish),
            ms(s.login),
            if s.moved { "" } else { not_moved }
        );
        self.write.push(s.write);
        self.publish.push(s.publish);
        self.login.push(s.login);
        self.total.push(s.write + s.publish + s.login);
        self.moved += usize::from(s.moved);
    }

    /// The three phases summarised, each under its name in `names` (write, publish, login).
    pub fn breakdown(&self, names: [&str; 3]) -> Result<Vec<(String, Summary)>> {
        names
            .into_iter()
            .zip([&self.write, &self.publish, &self.login])
            .map(|(name, samples)| Ok((name.to_string(), summarise(samples).ok_or_else(|| anyhow!("no samples"))?)))
            .collect()
    }
}

/// Polls `ports` (every 20 ms, for at most `settle`) until `write` succeeds on one of
/// them; returns that port. The first phase of a failover, tether's and the floor's alike.
pub fn first_writable<F: Future<Output = bool>>(
    rt: &tokio::runtime::Runtime,
    ports: &[u16],
    settle: Duration,
    write: impl Fn(u16) -> F,
) -> Result<u16> {
    let start = Instant::now();
    loop {
        for &p in ports {
            if rt.block_on(write(p)) {
                return Ok(p);
            }
        }
        if start.elapsed() > settle {
            bail!("no member of {ports:?} took a write within {settle:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
