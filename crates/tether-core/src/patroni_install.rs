//! Which Patroni runs: the one `scripts/setup` installs from PyPI, at a pinned version,
//! into a virtual environment of Debian's own `/usr/bin/python3` (which the `postgres`
//! user Patroni runs as can execute) under `/opt/tether`. Debian's packaged Patroni
//! (3.0.2) compares the synchronous standbys it wants with its `/sync` key only, not
//! with PostgreSQL's `synchronous_standby_names`: a replica named there that left before
//! it was confirmed stayed named, and with two synchronous standbys every commit then
//! waited for it forever (Patroni issue 3468; seen here as a write that never returned
//! while `remove-unit` took a replica away). Patroni 4.1 compares with what PostgreSQL
//! runs. Kept in one place for the charm and the benchmark's bare Patroni floor.

use std::path::PathBuf;

/// The Patroni version `scripts/setup` installs.
pub const VERSION: &str = "4.1.5";
/// Where `scripts/setup` installs it (a symlink to the versioned environment).
pub const DEFAULT_PROGRAM: &str = "/opt/tether/patroni/bin/patroni";
/// Environment variable naming another `patroni` program to run instead.
pub const PROGRAM_ENV: &str = "TETHER_PATRONI";

/// The `patroni` program to run: `$TETHER_PATRONI` when set, else [`DEFAULT_PROGRAM`].
pub fn program() -> PathBuf {
    std::env::var_os(PROGRAM_ENV).filter(|p| !p.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_PROGRAM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_setup_installs_the_pinned_version_where_tether_looks() {
        let setup = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/setup")).expect("scripts/setup");
        assert!(setup.lines().any(|l| l == format!("PATRONI_VERSION={VERSION}")), "scripts/setup pins Patroni {VERSION}");
        let link = DEFAULT_PROGRAM.strip_suffix("/bin/patroni").expect("a bin/patroni path");
        assert!(setup.contains(&format!("ln -sfn \"$env\" {link}")), "scripts/setup links {link}");
    }
}
