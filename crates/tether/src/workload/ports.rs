//! Free ports on 127.0.0.1 for new servers.
//!
//! The OS picks a port that is free now, but nothing holds it until the server binds it,
//! and hooks of several units run at once: two of them (an application's units starting
//! together) could be handed the same port before either server runs. So a port this
//! controller handed out once is never handed out again in its lifetime; ports claimed
//! before a restart are in the units' state, where the charms check them.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Every port [`free_port`] returned in this process.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
/// How many ports the OS offers before [`free_port`] gives up on finding a new one.
const ATTEMPTS: usize = 256;

/// A port on 127.0.0.1 that is free now (the OS picks it) and that this process has not
/// handed out before.
pub fn free_port() -> std::io::Result<u16> {
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..ATTEMPTS {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        if handed.insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, format!("no new free port on 127.0.0.1 in {ATTEMPTS} tries")))
}

#[cfg(test)]
mod tests {
    use super::free_port;
    use std::collections::BTreeSet;

    #[test]
    fn no_port_is_handed_out_twice_also_to_threads_asking_at_once() {
        let ports: Vec<u16> = std::thread::scope(|s| {
            let askers: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..50).map(|_| free_port().expect("a free port")).collect::<Vec<_>>())).collect();
            askers.into_iter().flat_map(|a| a.join().expect("asker")).collect()
        });
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
    }
}
