//! The machine a run happened on, read from /proc and a few commands, so BENCHMARKS.md
//! says what its numbers mean (a 2-core shared box is not a quiet 16-core one).

use std::process::Command;

#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub postgresql: String,
    pub mariadb: String,
    pub ferretdb: String,
    pub date: String,
    pub commit: String,
    pub tether_version: String,
    pub load_before: String,
    pub load_after: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn command(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

pub fn describe(tether_bin: &std::path::Path) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|v| v.trim_start_matches([' ', '\t', ':']).to_string());
    let mem_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let os = read("/etc/os-release").lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap_or_default().trim_matches('"').to_string();
    Machine {
        cpu: cpu.unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        memory_gib: mem_kib / 1024.0 / 1024.0,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        os,
        postgresql: crate::floor::pg_version(),
        mariadb: crate::mariadb::version(),
        ferretdb: crate::ferretdb::version(tether_bin),
        date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        commit: command("git", &["rev-parse", "--short", "HEAD"]),
        tether_version: command(&tether_bin.to_string_lossy(), &["version"]),
        load_before: loadavg(),
        load_after: String::new(),
    }
}
