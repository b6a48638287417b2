//! [`NetNs`]: another host on this machine, for adopt mode's "a server elsewhere on the
//! network": a network namespace joined to this one by a veth pair whose two addresses
//! (a `10.x.y.0/30` no interface or route here uses) exist only on that pair. A server
//! started through [`NetNs::command`] listens on [`NetNs::remote`], which tether reaches
//! only across the pair, as it would reach another machine.
//!
//! Creating it needs `CAP_NET_ADMIN` (the tests run as root): when the machine forbids it,
//! [`NetNs::create`] panics with the `ip` command and its error, never skips. Dropping it
//! (also while a test panics) kills by pid whatever still runs inside the namespace (only
//! processes this test started can be there), then deletes the pair and the namespace;
//! the watchdog does the same when it ends a hung binary.

use super::watchdog::{watch, Watched};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

pub struct NetNs {
    pub name: String,
    /// This side of the pair, and its address.
    pub host_if: String,
    pub local: String,
    /// The address of the namespace's side: the "remote host".
    pub remote: String,
    _watched: Watched,
}

/// `ip ARGS`, which must succeed; panics with the command and its stderr otherwise.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| panic!("cannot run `ip {}`: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`ip {}` failed (network namespaces need root / CAP_NET_ADMIN): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `10.x.y` prefix (of a `/30`) in a `10.x.0.0/16` that no address or route of this
/// host mentions.
fn unused_prefix(n: u32) -> String {
    let used = format!("{}\n{}", ip(&["-4", "addr"]), ip(&["-4", "route"]));
    assert!(!used.contains("10.0.0.0/8"), "a route covers all of 10.0.0.0/8 here: no address of it is unused\n{used}");
    let seed = (std::process::id() as usize).wrapping_mul(131).wrapping_add(n as usize * 977);
    (0..4096)
        .map(|i| seed.wrapping_add(i * 7919))
        .map(|n| (200 + n % 50, (n / 50) % 64 * 4))
        .find(|(a, _)| !used.contains(&format!("10.{a}.")))
        .map(|(a, b)| format!("10.{a}.{b}"))
        .expect("an unused 10.x.y.0/30")
}

impl NetNs {
    pub fn create() -> NetNs {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // Tests of one binary run at once: choosing a prefix and taking it is one step.
        static CHOOSING: Mutex<()> = Mutex::new(());
        let _choosing = CHOOSING.lock().unwrap_or_else(|p| p.into_inner());
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let prefix = unused_prefix(n);
        let (name, host_if) = (format!("tether-t{tag}"), format!("tth{tag}a"));
        let _watched = {
            let (name, host_if) = (name.clone(), host_if.clone());
            watch(move || remove(&name, &host_if))
        };
        let ns = NetNs { name, host_if, local: format!("{prefix}.1"), remote: format!("{prefix}.2"), _watched };
        let peer = format!("tth{tag}b");
        ip(&["netns", "add", &ns.name]);
        // From here on, dropping `ns` cleans up whatever was made.
        ip(&["link", "add", &ns.host_if, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{}/30", ns.local), "dev", &ns.host_if]);
        ip(&["link", "set", &ns.host_if, "up"]);
        ip(&["-n", &ns.name, "addr", "add", &format!("{}/30", ns.remote), "dev", &peer]);
        ip(&["-n", &ns.name, "link", "set", &peer, "up"]);
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Cuts (`false`) or restores (`true`) the link to the namespace: a network partition.
    pub fn set_link(&self, up: bool) {
        ip(&["link", "set", &self.host_if, if up { "up" } else { "down" }]);
    }

    /// The pids running inside the namespace.
    pub fn pids(&self) -> Vec<i32> {
        pids_in(&self.name)
    }
}

fn pids_in(name: &str) -> Vec<i32> {
    let out = Command::new("ip").args(["netns", "pids", name]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()).unwrap_or_default()
}

/// Kills by pid what still runs inside the namespace `name`, then deletes the pair (one
/// end, `host_if`, takes the other with it) and the namespace.
fn remove(name: &str, host_if: &str) {
    for pid in pids_in(name) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = Command::new("ip").args(["link", "del", host_if]).output();
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// `runuser -u USER --`, inside the namespace named `netns` when there is one; the
/// program and its arguments follow.
pub fn runuser(netns: Option<&str>, user: &str) -> Command {
    let mut c = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "runuser"]);
            c
        }
        None => Command::new("runuser"),
    };
    c.args(["-u", user, "--"]);
    c
}

impl Drop for NetNs {
    fn drop(&mut self) {
        remove(&self.name, &self.host_if);
    }
}
