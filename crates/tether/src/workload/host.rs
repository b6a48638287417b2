//! What this machine gives a server, read from the kernel: the charms size their servers'
//! memory from it, as Canonical's charms do from their container's.

/// `MemTotal` from `/proc/meminfo` (1 GB when it cannot be read).
pub fn total_memory_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(1_000_000_000, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_has_memory() {
        assert!(super::total_memory_bytes() > 100_000_000);
    }
}
