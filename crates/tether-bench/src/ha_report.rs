//! The HA figures' own report: `bench/ha.md` (the section BENCHMARKS.md includes between
//! `<!-- ha:begin -->` and `<!-- ha:end -->`) and `bench/ha.json` (the raw numbers).
//!
//! Why files of their own: the HA phases take minutes and run on their own (`--phases ha`);
//! written into `bench/latest.json` they would erase the other figures of the last full
//! run. So an HA-only run rewrites its two files and replaces only its section of
//! BENCHMARKS.md, and a main run includes the last `bench/ha.md` as it is.

use crate::ha::HA;
use crate::ha_galera::HA_GALERA;
use crate::phases::Results;
use crate::report::{figure_json, fmt_num, table, HA_BEGIN as BEGIN, HA_END as END};
use crate::stats::Summary;
use crate::Args;
use anyhow::{Context, Result};
use serde_json::json;
use std::fmt::Write as _;

fn command_line(args: &Args) -> String {
    format!("scripts/bench --phases ha{}", if args.quick { " --quick" } else { "" })
}

/// The section, without its markers.
pub fn section(args: &Args, r: &Results) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "## Results: high availability (`-n 3`: PostgreSQL on Patroni + etcd, MariaDB on Galera)\n");
    let busy = m.load_before.split_whitespace().next().and_then(|l| l.parse::<f64>().ok()).unwrap_or(0.0) > m.cores as f64 * 0.5;
    let _ = writeln!(
        s,
        "Run on its own: {} on commit `{}`, `{}` ({} deploys, {} failovers; load average {} before, {} after, on {} cores{}). \
         Generated into `bench/ha.md` and `bench/ha.json`.\n",
        m.date,
        m.commit,
        command_line(args),
        args.ha_deploys,
        args.failovers,
        m.load_before,
        m.load_after,
        m.cores,
        if busy { " shared with other work, so absolute numbers are noisy" } else { "" }
    );
    if !r.errors.is_empty() {
        let _ = writeln!(s, "> **Part of the run failed**: {}. The figures of what failed are missing.\n", r.errors.join("; "));
    }
    let _ = writeln!(s, "PostgreSQL (`postgresql-k8s`):\n");
    table(&mut s, r, HA);
    if r.rows.iter().any(|x| x.engine == HA_GALERA) {
        let _ = writeln!(s, "\nMariaDB Galera (`mysql-k8s`):\n");
        table(&mut s, r, HA_GALERA);
    }
    let _ = writeln!(s, "\n| step of a failover under tether | p50 | p95 | samples |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for (_, name, Summary { p50, p95, n, .. }) in &r.breakdown {
        let _ = writeln!(s, "| {name} | {} | {} | {n} |", fmt_num(*p50, "ms"), fmt_num(*p95, "ms"));
    }
    if !r.facts.is_empty() {
        let _ = writeln!(s);
        for (k, v) in &r.facts {
            let _ = writeln!(s, "- {k}: {v}");
        }
    }
    let _ = writeln!(
        s,
        "\nWhat each figure and floor is:\n\n\
         - **Deploy `-n 3`**: `tether deploy postgresql-k8s -n 3` until all three units are `active` and one says `Primary` \
         (`status` polled every 100 ms; each unit starts an etcd member and a Patroni, which bootstraps or clones its \
         PostgreSQL); the first sample is the cluster the failovers use, the others are removed again. Floor: as `postgres`, \
         `initdb` and `postgres` of a primary until an `operator` login works, then two `pg_basebackup -R -X stream -c fast` \
         taken side by side and both replicas started, until the primary's `pg_stat_replication` shows both streaming \
         (asynchronous; no etcd, no Patroni).\n\
         - **Failover**: SIGKILL of the primary unit's `postgres` postmaster (read from its `postmaster.pid`; Patroni and \
         etcd live on). Timed: until any member takes a write (a new connection as the data-integrator's user and one \
         `INSERT`, each attempt given 1 s, since a commit may wait for a synchronous standby that is gone), then until \
         `tether run <data-integrator>/leader get-credentials` (a whole process, polled every 20 ms) names that member in \
         `endpoints`, then until a login with the published credentials on it succeeds. The second row is the sum. Between \
         samples the cluster is left to become whole (one primary, both replicas streaming as synchronous standbys and one Patroni loop more for Patroni to confirm them, two `read-only-endpoints`), \
         untimed. Floor: a bare three-member Patroni + etcd cluster the harness starts, with the charm's `ttl`, \
         `loop_wait`, `retry_timeout`, `synchronous_mode` (every replica synchronous), `primary_start_timeout: 0` and \
         `pg_rewind`; the same kill, until a member takes a write (as `operator`). Both clusters run side by side and \
         their samples are interleaved. Patroni decides the failover in both: tether's part is the watcher that sees it \
         (every 2 s), the `update-status` hooks that rewrite `endpoints`, and the CLI that reads them.\n\
         - **Galera failover**: `tether deploy mysql-k8s -n 3 --config profile=testing` and a data-integrator; SIGKILL \
         of the write node's `mariadbd` (from its unit's `mysqld.pid`; tether's supervisor restarts it within about a \
         second and it rejoins by IST). Timed: until any member takes a write as the relation's user (a new connection \
         and one `INSERT`, 1 s per attempt), then until `get-credentials` (polled every 20 ms) names in `endpoints` a \
         member that takes a write (the endpoints moved to another synced member, or the restarted member was synced \
         and took writes again before they did), then until a login with the published credentials succeeds; the \
         second row is the sum. Between samples all three members are `Synced` again and the requirer sees two \
         `read-only-endpoints`, untimed. Floor: a bare three-node Galera cluster the harness starts as `mysql` \
         (`mariadb-install-db` for the first node, the others joining empty by rsync SST; tether's `wsrep` options, \
         no tether), the same kill of the first node, until one of the other two takes a write as `root`; the killed \
         node is started again between samples. Galera decides in both; tether's part is its watcher (every 2 s), the \
         `update-status` hooks that rewrite `endpoints`, and the CLI that reads them.\n"
    );
    s
}

/// `text` with its HA section (markers included) replaced by `ha`, or `ha` inserted before
/// `## Machine` (at the end when there is none).
pub fn splice(text: &str, ha: &str) -> String {
    let block = format!("{BEGIN}\n{}\n{END}\n", ha.trim_end());
    if let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) {
        if b < e {
            let after = text[e + END.len()..].strip_prefix('\n').unwrap_or(&text[e + END.len()..]);
            return format!("{}{block}{after}", &text[..b]);
        }
    }
    match text.find("\n## Machine") {
        Some(i) => format!("{}{block}{}", &text[..=i], &text[i + 1..]),
        None => format!("{}\n{block}", text.trim_end()),
    }
}

pub fn json_report(args: &Args, r: &Results) -> serde_json::Value {
    let m = &r.machine;
    json!({
        "command": command_line(args),
        "machine": {"date": m.date, "commit": m.commit, "cores": m.cores, "load_before": m.load_before, "load_after": m.load_after,
                    "postgresql": m.postgresql},
        "rows": r.rows.iter().map(|x| json!({"key": x.key, "metric": x.metric, "unit": x.unit,
            "tether": figure_json(&x.tether), "floor": x.floor.as_ref().map(figure_json), "ratio": x.ratio()})).collect::<Vec<_>>(),
        "breakdown": r.breakdown.iter().map(|(_, k, s)| json!({"step": k, "p50": s.p50, "p95": s.p95, "n": s.n})).collect::<Vec<_>>(),
        "facts": r.facts.iter().map(|(k, v)| json!({"fact": k, "value": v})).collect::<Vec<_>>(),
        "errors": r.errors,
    })
}

/// Writes `bench/ha.md` and `bench/ha.json` and replaces the HA section of BENCHMARKS.md.
pub fn write(args: &Args, r: &Results) -> Result<()> {
    for p in [&args.ha_md, &args.ha_json] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
    }
    let ha = section(args, r);
    std::fs::write(&args.ha_md, &ha).with_context(|| format!("write {}", args.ha_md.display()))?;
    std::fs::write(&args.ha_json, serde_json::to_string_pretty(&json_report(args, r))? + "\n")
        .with_context(|| format!("write {}", args.ha_json.display()))?;
    let text = std::fs::read_to_string(&args.out).unwrap_or_default();
    std::fs::write(&args.out, splice(&text, &ha)).with_context(|| format!("write {}", args.out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_its_own_section_and_keeps_the_rest() {
        let first = splice("# B\n\nfigures\n\n## Machine\n\nm\n", "## HA\n\nold\n");
        assert_eq!(first, "# B\n\nfigures\n\n<!-- ha:begin -->\n## HA\n\nold\n<!-- ha:end -->\n## Machine\n\nm\n");
        let second = splice(&first, "## HA\n\nnew\n");
        assert_eq!(second, first.replace("old", "new"));
        assert_eq!(splice("# B\n", "x"), "# B\n<!-- ha:begin -->\nx\n<!-- ha:end -->\n");
    }

    #[test]
    fn a_main_report_keeps_the_last_ha_section_and_an_ha_run_replaces_only_it() {
        let args = crate::defaults(true);
        let main = crate::report::markdown(&args, &Results::default(), None, Some("## HA\n\nfirst\n"));
        let (before, after) = main.split_once(BEGIN).expect("the section's markers");
        assert!(after.contains("first") && after.find(END) < after.find("## Machine"), "{main}");
        let again = splice(&main, "## HA\n\nsecond\n");
        assert_eq!(again.split_once(BEGIN).map(|(b, _)| b), Some(before), "what precedes the section is kept");
        assert!(again.contains("second") && !again.contains("first") && again.contains("## How to reproduce"));
    }
}
