//! BENCHMARKS.md, bench/latest.svg and bench/latest.json from one run's [`Results`].
//!
//! The markdown is generated whole so it always holds one run's real numbers; the
//! hand-written analysis of misses lives in `bench/notes.md` and is included verbatim.
//! The chart is plain SVG written here (no plotting dependency): per figure, tether's and
//! the floor's p50 as solid bars with the p95 as a lighter extension, and the ratio.

use crate::engines::Engine;
use crate::phases::{Figure, Results, Row, CONTROLLER};
use crate::stats::Summary;
use crate::Args;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The markers around the HA section in BENCHMARKS.md (written by `ha_report`, which
/// replaces only what stands between them, and included whole by a main run).
pub const HA_BEGIN: &str = "<!-- ha:begin -->";
pub const HA_END: &str = "<!-- ha:end -->";

/// One target from the issue, judged against this run.
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
    pub margin: String,
}

fn row<'r>(r: &'r Results, engine: &str, key: &str) -> Option<&'r Row> {
    r.rows.iter().find(|x| x.engine == engine && x.key == key)
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x.abs() * 100.0)
}

/// Judges the issue's targets (ratios, measured in the same run).
pub fn verdicts(r: &Results) -> Vec<Verdict> {
    let mut v = Vec::new();
    let mut ratio_target = |engine: Engine, key: &str, name: &str, limit: f64, higher: bool| {
        let Some(row) = row(r, engine.name(), key) else { return };
        let Some(ratio) = row.ratio() else { return };
        let met = if higher { ratio >= limit } else { ratio <= limit };
        let margin = if met {
            format!("within, {} inside the limit", pct(ratio / limit - 1.0))
        } else if higher {
            format!("missed: {:.2}× instead of ≥ {limit}× ({} short)", ratio, pct(1.0 - ratio / limit))
        } else {
            format!("missed: {:.2}× instead of ≤ {limit}× ({} over)", ratio, pct(ratio / limit - 1.0))
        };
        v.push(Verdict { target: name.into(), measured: format!("{ratio:.2}×"), met: Some(met), margin });
    };
    ratio_target(Engine::Pg, "integrate", "PostgreSQL integrate latency p50 ≤ 1.3× floor (aim 1.1×)", 1.3, false);
    ratio_target(Engine::My, "integrate", "MariaDB integrate latency p50 ≤ 2× floor", 2.0, false);
    ratio_target(Engine::Mongo, "integrate", "FerretDB integrate latency p50 ≤ 2× floor", 2.0, false);
    ratio_target(Engine::Pg, "throughput", "PostgreSQL throughput ≥ 0.8× floor", 0.8, true);
    ratio_target(Engine::My, "throughput", "MariaDB throughput ≥ 0.8× floor", 0.8, true);
    ratio_target(Engine::Pg, "deploy", "PostgreSQL deploy to active ≤ 1.2× initdb + start", 1.2, false);
    ratio_target(Engine::My, "deploy", "MariaDB deploy to active ≤ 1.2× mariadb-install-db + start", 1.2, false);
    if let Some(row) = row(r, Engine::Pg.name(), "throughput") {
        let rate = row.tether.headline();
        let n = r.throughput_n;
        let projected = 1000.0 / rate;
        if n >= 1000 {
            let total = row_value(r, Engine::Pg.name(), "throughput_total").unwrap_or(0.0) / 1000.0;
            v.push(Verdict {
                target: "1,000 integrations in under a minute (PostgreSQL)".into(),
                measured: format!("{total:.1} s"),
                met: Some(total < 60.0),
                margin: if total < 60.0 { format!("{:.0} s to spare", 60.0 - total) } else { format!("missed by {:.0} s", total - 60.0) },
            });
        } else {
            v.push(Verdict {
                target: "1,000 integrations in under a minute (PostgreSQL)".into(),
                measured: format!("not run at 1,000 (ran {n}); at {rate:.1}/s that is {projected:.0} s"),
                met: None,
                margin: if projected < 60.0 { "projection within".into() } else { format!("projection over by {:.0} s", projected - 60.0) },
            });
        }
    }
    for e in &r.engines {
        let Some(row) = row(r, e.name(), "rotate_failed_queries") else { continue };
        let failed = row.tether.headline();
        let (queries, rotations) =
            r.rotation_queries.iter().find(|(engine, ..)| *engine == e.name()).map(|(_, q, n)| (*q, *n)).unwrap_or_default();
        v.push(Verdict {
            target: format!("{}: no query fails while credentials rotate (issue 16)", e.name()),
            measured: format!("{failed:.0} of {queries} queries failed"),
            met: Some(failed == 0.0),
            margin: format!("{rotations} rotations, {} s grace period each", crate::phases::ROTATION_GRACE.as_secs()),
        });
    }
    let apps = r.apps_at_scale;
    let mut absolute = |key: &str, name: &str, limit: f64, unit: &str| {
        let Some(value) = row_value(r, CONTROLLER, key) else { return };
        let met = value < limit;
        let scale = if key.ends_with("_many") && apps < 1000 { format!(" (at {apps} applications, not 1,000)") } else { String::new() };
        let margin = if met {
            format!("{} under", pct(1.0 - value / limit))
        } else {
            format!("missed by {:.0} {unit} ({} over)", value - limit, pct(value / limit - 1.0))
        };
        v.push(Verdict { target: name.into(), measured: format!("{value:.1} {unit}{scale}"), met: Some(met), margin });
    };
    absolute("rss_many", "Controller memory < 100 MB with 1,000 applications", 100.0 * 1.048_576, "MiB");
    absolute("status_many", "`status --format json` < 200 ms at 1,000 applications", 200.0, "ms");
    absolute("status_small", "Small-model CLI round trip < 20 ms", 20.0, "ms");
    v
}

fn row_value(r: &Results, engine: &str, key: &str) -> Option<f64> {
    row(r, engine, key).map(|x| x.tether.headline())
}

pub(crate) fn fmt_num(x: f64, unit: &str) -> String {
    match unit {
        "MiB" => format!("{x:.1} MiB"),
        "count" => format!("{x:.0}"),
        "creds/s" => format!("{x:.1}/s"),
        _ if x >= 10_000.0 => format!("{:.1} s", x / 1000.0),
        _ if x >= 100.0 => format!("{x:.0} ms"),
        _ => format!("{x:.1} ms"),
    }
}

fn cells(f: Option<&Figure>, unit: &str) -> (String, String) {
    match f {
        Some(Figure::Latency(s)) => (fmt_num(s.p50, unit), fmt_num(s.p95, unit)),
        Some(Figure::Value(x)) => (fmt_num(*x, unit), "–".into()),
        None => ("–".into(), "–".into()),
    }
}

fn samples(f: &Figure) -> String {
    match f {
        Figure::Latency(s) => s.n.to_string(),
        Figure::Value(_) => "1".into(),
    }
}

/// What each engine's figures and floors are, for the reader.
fn describe(e: Engine) -> String {
    let common = "- **Integrate**: from starting `tether integrate <di> CHARM` (each data-integrator deployed and settled \
                  beforehand, untimed) until the credentials are visible (`show-unit --format json` polled, 2 ms apart), fetched \
                  (`run <di>/leader get-credentials --format json`) and a login with them succeeds";
    let remove = "- **Remove relation**: from starting `tether remove-relation` until a login with the old credentials is refused \
                  (polled every 2 ms)";
    let rotate = "- **Rotate credentials**: from starting `tether run CHARM/leader rotate-credentials application=<di>` (one \
                  data-integrator integrated beforehand, `credential-grace-period=GRACEs`) until `run <di>/leader get-credentials \
                  --format json` (polled) shows the new username and a login with the new credentials succeeds; the same \
                  relation each sample, and before the next the previous login's retirement is awaited (a login with it refused, \
                  untimed)";
    let failed = "- **Queries that failed during rotations**: through all of an engine's rotation samples and the retirements \
                  between them, a client opens a new connection with the credentials `get-credentials` last showed and runs one \
                  query (CHECK), about every 30 ms, switching to the new credentials as soon as the harness sees them; the row \
                  counts the queries that failed (the point of rotating without downtime is that this is 0) out of those made. \
                  No floor.";
    let through = "- **Throughput**: all `integrate` commands issued (16 CLI processes at a time) until every data-integrator is \
                   `active` (`status --format json` polled every 100 ms; credentials of a sample checked by login afterwards, \
                   untimed). Floor: the same number of tokio tasks running the integrate floor over a pool of 8 admin connections.";
    let deploy = "- **Deploy**: `tether deploy CHARM` until the unit is `active` (`status` polled every 25 ms); the first sample is \
                  the model's main server, the others extra applications removed again";
    let (integrate, removal, rotation, check, deployed, throughput) = match e {
        Engine::Pg => (
            ". Floor (tokio-postgres as `operator`): `CREATE DATABASE`, then one transaction with `CREATE ROLE` (SCRAM verifier), \
             `COMMENT`, `GRANT relation_access`, `REVOKE ALL ON DATABASE … FROM PUBLIC` and the three `GRANT ALL ON DATABASE`, \
             rendered by `tether_core::pg_plan`, then an `operator` session in the new database that hands its `public` schema \
             to the user (`pg_plan::take_over_objects`: PostgreSQL 15 gives nobody `CREATE` there, so without it the user \
             could not create a table), then one login as the new user.",
            ". Floor: `REASSIGN OWNED` + `DROP OWNED` in the user's database, `DROP ROLE`, one refused login.",
            ". Floor (as `operator`, on a user and database made like the integrate floor's): in one transaction a second \
             login `CREATE ROLE … LOGIN` (SCRAM verifier) with its `COMMENT` and `GRANT relation_access`, `GRANT <first user> \
             TO` it and `ALTER ROLE … SET role = <first user>` (`pg_plan::member_login_as`), `REVOKE ALL ON DATABASE … FROM \
             PUBLIC` and the `GRANT ALL ON DATABASE` that give it `CONNECT` (`pg_plan::database_access_as`), then one login as \
             the new user.",
            "a new connection and `SELECT 1`",
            ". Floor: `initdb` and `postgres` run by hand (as `postgres`, with tether's flags and settings) until an `operator` \
             login succeeds (polled every 10 ms).",
            true,
        ),
        Engine::My => (
            ". Floor (`mysql_async` as `root`): `CREATE DATABASE`, `CREATE USER … IDENTIFIED BY PASSWORD '<native hash>'` and \
             `GRANT ALL PRIVILEGES ON db.*` in one round trip (quoted by `tether_core::my_plan`), then one login as the new user.",
            ". Floor: `DROP USER`, one refused login.",
            ". Floor (as `root`, on a user and database made like the integrate floor's): a second user with the first's \
             grants, `CREATE USER … IDENTIFIED BY PASSWORD '<native hash>'` and `GRANT ALL PRIVILEGES ON db.*` in one round \
             trip (`tether_core::my_plan`), then one login as it.",
            "a new connection and `SELECT 1`",
            ". Floor: `mariadb-install-db`, the `mariadbd --bootstrap` that gives `root` its password hash (tether's \
             initialisation, `my_plan::bootstrap_root`), then `mariadbd` with tether's options, all as `mysql`, until a `root` \
             login succeeds (polled every 10 ms).",
            true,
        ),
        Engine::Mongo => (
            ". Tether's login check, like the floor's, is an authenticated login plus one `insert` into the database. Floor \
             (the `mongodb` crate 3.8 as `operator`): `createUser` (SCRAM-SHA-256, no roles: FerretDB implements none), then one \
             login as the new user and the write.",
            ". Floor: `dropUser`, one refused login.",
            ". Floor (as `operator`, on a user made like the integrate floor's): `createUser` of a second user with the first's \
             roles (SCRAM-SHA-256, none), then one login as it and the write.",
            "a new client, an authenticated login and one `insert`",
            ". Floor: `ferretdb` run by hand with tether's flags (SQLite backend, new authentication, `operator` set up from \
             the environment) until an `operator` login succeeds (TCP connect polled every 10 ms, then the login).",
            false,
        ),
    };
    let mut s = format!("{common}{integrate}\n{remove}{removal}\n{rotate}{rotation}\n{}\n", failed.replace("CHECK", check));
    if throughput {
        s.push_str(through);
        s.push('\n');
    }
    s.push_str(&format!("{deploy}{deployed}\n"));
    s.replace("CHARM", e.charm()).replace("GRACE", &crate::phases::ROTATION_GRACE.as_secs().to_string())
}

pub(crate) fn table(s: &mut String, r: &Results, engine: &str) {
    let _ = writeln!(s, "| figure | tether p50 | tether p95 | floor p50 | floor p95 | ratio | samples |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for row in r.rows.iter().filter(|x| x.engine == engine) {
        let (tp50, tp95) = cells(Some(&row.tether), row.unit);
        let (fp50, fp95) = cells(row.floor.as_ref(), row.unit);
        let ratio = row.ratio().map(|x| format!("{x:.2}×")).unwrap_or_else(|| "–".into());
        let _ = writeln!(s, "| {} | {tp50} | {tp95} | {fp50} | {fp95} | {ratio} | {} |", row.metric, samples(&row.tether));
    }
}

/// The command line that reproduces this run (stable: a later run on a quiet machine
/// prints the same shape).
fn command_line(args: &Args) -> String {
    let mut cmd = String::from(if args.quick { "scripts/bench --quick" } else { "scripts/bench" });
    if args.engines != crate::engines::ALL.to_vec() {
        let names: Vec<&str> = args.engines.iter().map(|e| e.flag()).collect();
        let _ = write!(cmd, " --engines {}", names.join(","));
    }
    cmd
}

pub fn markdown(args: &Args, r: &Results, notes: Option<&str>, ha: Option<&str>) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let cmd = command_line(args);
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "<!-- Generated by scripts/bench (crates/tether-bench). Do not edit by hand: the analysis lives in bench/notes.md. -->\n"
    );
    let _ = writeln!(
        s,
        "tether against the database's own cost, measured side by side in one run: each figure next to its **floor**, the same \
         work done directly on the same server (PostgreSQL, MariaDB behind `mysql-k8s`, FerretDB behind `mongodb`) by a Rust \
         client as the server's admin, interleaved sample by sample. Ratios are tether / floor of the p50 (for throughput, of \
         the rate: higher is better).\n"
    );
    let _ = writeln!(
        s,
        "Latest run: {} on commit `{}`, `{cmd}` ({} sequential integrations, {} removals and {} credential rotations per engine, {} at once, {} deploys, \
         {} CLI rounds).\n",
        m.date, m.commit, args.integrations, args.removals, args.rotations, args.throughput, args.deploys, args.rounds
    );
    let busy = m.load_before.split_whitespace().next().and_then(|l| l.parse::<f64>().ok()).unwrap_or(0.0);
    if busy > m.cores as f64 * 0.5 {
        let _ = writeln!(
            s,
            "> **This run shared the machine with other work** (load average {} before, {} after, on {} cores), so absolute \
             numbers are pessimistic and noisy; tether and its floor ran interleaved under the same load, so the ratios are the \
             fairer reading. A re-run on a quiet machine should replace these numbers.\n",
            m.load_before, m.load_after, m.cores
        );
    }
    if !r.errors.is_empty() {
        let _ = writeln!(s, "> **Part of the run failed**: {}. The figures of what failed are missing.\n", r.errors.join("; "));
    }
    let _ = writeln!(s, "![tether vs floor: p50 (solid) and p95 (light), ratios labelled](bench/latest.svg)\n");
    for e in &r.engines {
        let _ = writeln!(s, "## Results: {} (`{}`)\n", e.name(), e.charm());
        table(&mut s, r, e.name());
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Results: controller and hook dispatch\n");
    table(&mut s, r, CONTROLLER);
    let _ = writeln!(s, "\n### What each figure and floor is\n");
    for e in &r.engines {
        let _ = writeln!(s, "{}:\n\n{}", e.name(), describe(*e));
    }
    let _ = writeln!(
        s,
        "Controller:\n\n\
         - **Hook dispatch**: `tether run noop/0 noop` on a tiny external charm written in sh (`bench/charms/noop`: its \
         `dispatch` does nothing for `noop`, one `action-set` for `set`), against `tether run <data-integrator>/leader \
         get-credentials` on a native charm, interleaved; both are whole CLI processes waiting for the action's result.\n\
         - **Controller**: `VmRSS` of the pid in `$TETHER_HOME/controller.pid`; `status --format json` and the small-model \
         `status` are whole CLI processes, so they include process start; the round trip's floor is `tether version`, the same \
         process start without a controller request.\n"
    );
    let _ = writeln!(s, "## Targets (issues 7 and 16)\n");
    let _ = writeln!(s, "| target | measured | met | margin |");
    let _ = writeln!(s, "|---|---|:-:|---|");
    for v in verdicts(r) {
        let met = match v.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(s, "| {} | {} | {met} | {} |", v.target, v.measured, v.margin);
    }
    let _ = writeln!(s, "\n## Where the time goes (seen from outside)\n");
    let _ = writeln!(s, "| engine | step | p50 | p95 | samples |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|");
    for (engine, name, Summary { p50, p95, n, .. }) in &r.breakdown {
        let _ = writeln!(s, "| {engine} | {name} | {} | {} | {n} |", fmt_num(*p50, "ms"), fmt_num(*p95, "ms"));
    }
    if !r.facts.is_empty() {
        let _ = writeln!(s);
        for (k, v) in &r.facts {
            let _ = writeln!(s, "- {k}: {v}");
        }
    }
    if let Some(ha) = ha {
        let _ = write!(s, "\n{}\n{}\n{}", HA_BEGIN, ha.trim_end(), HA_END);
    }
    let _ = writeln!(s, "\n## Machine\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    for (k, v) in [
        ("CPU", format!("{} ({} cores available)", m.cpu, m.cores)),
        ("Memory", format!("{:.1} GiB", m.memory_gib)),
        ("OS / kernel", format!("{} / Linux {}", m.os, m.kernel)),
        ("PostgreSQL", m.postgresql.clone()),
        ("MariaDB", m.mariadb.clone()),
        ("FerretDB", m.ferretdb.clone()),
        ("tether", m.tether_version.clone()),
        ("Date", m.date.clone()),
        ("Load average (1/5/15 min)", format!("{} before, {} after", m.load_before, m.load_after)),
    ] {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n## How to reproduce\n");
    let _ = writeln!(
        s,
        "```shell\nscripts/bench                      # 100 sequential integrations per engine, 200 at once, 20 removals, 20 rotations, 3 deploys\n\
         scripts/bench --quick              # 20, 50, 10, 10, 2: about ten minutes\n\
         scripts/bench --engines pg,mysql   # a subset of pg, mysql, mongo (default all, in that order)\n\
         scripts/bench --throughput 1000    # the issue's 1,000-application figure\n\
         scripts/bench --phases ha          # only the high-availability figures: 3 deploys -n 3, 3 failovers (--quick: 1, 2)\n```\n\n\
         `scripts/bench` runs `scripts/setup` (PostgreSQL, MariaDB, FerretDB), builds `tether` and `tether-bench` in release \
         mode, exports `TETHER_FERRETDB_BIN` (`.tools/bin/ferretdb` unless set), and runs the harness against a controller of \
         its own in a fresh temporary `TETHER_HOME` (destroyed at the end). It rewrites this file, `bench/latest.svg` and \
         `bench/latest.json`; the high-availability phases (alone with `--phases ha`, after the others with \
         `--phases all`; not part of a plain run) write `bench/ha.md` and `bench/ha.json` instead and replace only their \
         section of this file, and a plain run includes the last `bench/ha.md` as it is, so neither erases the other's figures. Run it as root (the servers run as `postgres` and `mysql`) on an otherwise idle machine. \
         Benchmarks are never asserted in tests.\n"
    );
    if let Some(n) = notes {
        let _ = writeln!(s, "## Analysis\n\n{}", n.trim());
    }
    s
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Horizontal bars per figure with a floor: tether and floor, p50 solid, p95 light.
pub fn svg(r: &Results) -> String {
    let rows: Vec<&Row> = r.rows.iter().filter(|x| x.floor.is_some()).collect();
    let (w, label_w, group_h, top) = (1100.0, 440.0, 74.0, 48.0);
    let bar_max = w - label_w - 190.0;
    let h = top + group_h * rows.len() as f64 + 36.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="16" y="26" font-size="16" font-weight="bold">tether vs floor ({}, {})</text>"##,
        esc(&r.machine.date),
        esc(&format!("{} cores", r.machine.cores))
    );
    let _ = writeln!(
        s,
        r##"<rect x="{}" y="14" width="14" height="12" fill="#3b6fb6"/><text x="{}" y="25">tether</text><rect x="{}" y="14" width="14" height="12" fill="#8a8a8a"/><text x="{}" y="25">floor</text><text x="{}" y="25" fill="#555">solid p50, light p95</text>"##,
        w - 380.0,
        w - 362.0,
        w - 300.0,
        w - 282.0,
        w - 230.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = top + group_h * i as f64;
        let (t, f) = (&row.tether, row.floor.as_ref().expect("filtered"));
        let hi = |x: &Figure| match x {
            Figure::Latency(s) => s.p95,
            Figure::Value(v) => *v,
        };
        let max = hi(t).max(hi(f)).max(f64::MIN_POSITIVE);
        let _ = writeln!(s, r##"<text x="16" y="{}" font-weight="bold">{}</text>"##, y + 24.0, esc(&row.metric));
        let ratio = row.ratio().unwrap_or(0.0);
        let bad = if row.higher_is_better { ratio < 1.0 } else { ratio > 1.0 };
        let _ = writeln!(
            s,
            r##"<text x="16" y="{}" fill="{}">{} · ratio {ratio:.2}×{}</text>"##,
            y + 44.0,
            if bad { "#b03030" } else { "#2a7a2a" },
            esc(row.engine),
            if row.higher_is_better { " (higher is better)" } else { "" }
        );
        for (j, (fig, colour, light, who)) in
            [(t, "#3b6fb6", "#a9c1e4", "tether"), (f, "#8a8a8a", "#d0d0d0", "floor")].into_iter().enumerate()
        {
            let by = y + 10.0 + 26.0 * j as f64;
            let scale = |v: f64| (v / max * bar_max).max(1.0);
            let (p50, text) = match fig {
                Figure::Latency(sm) => {
                    let _ = writeln!(s, r##"<rect x="{label_w}" y="{by}" width="{:.1}" height="20" fill="{light}"/>"##, scale(sm.p95));
                    (sm.p50, format!("{who} {} / {}", fmt_num(sm.p50, row.unit), fmt_num(sm.p95, row.unit)))
                }
                Figure::Value(v) => (*v, format!("{who} {}", fmt_num(*v, row.unit))),
            };
            let _ = writeln!(s, r##"<rect x="{label_w}" y="{by}" width="{:.1}" height="20" fill="{colour}"/>"##, scale(p50));
            let _ = writeln!(s, r##"<text x="{:.1}" y="{}">{}</text>"##, label_w + scale(hi(fig)) + 6.0, by + 15.0, esc(&text));
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="16" y="{}" fill="#555">Each figure is scaled to its own largest value. Generated by scripts/bench.</text>"##,
        h - 14.0
    );
    s.push_str("</svg>\n");
    s
}

pub(crate) fn figure_json(f: &Figure) -> Value {
    match f {
        Figure::Latency(s) => json!({"n": s.n, "p50": s.p50, "p95": s.p95, "min": s.min, "max": s.max, "mean": s.mean}),
        Figure::Value(v) => json!({"value": v}),
    }
}

pub fn json_report(args: &Args, r: &Results) -> Value {
    let m = &r.machine;
    json!({
        "quick": args.quick,
        "command": command_line(args),
        "engines": r.engines.iter().map(|e| e.flag()).collect::<Vec<_>>(),
        "machine": {"cpu": m.cpu, "cores": m.cores, "memory_gib": m.memory_gib, "kernel": m.kernel, "os": m.os,
                    "postgresql": m.postgresql, "mariadb": m.mariadb, "ferretdb": m.ferretdb, "date": m.date, "commit": m.commit, "tether": m.tether_version,
                    "load_before": m.load_before, "load_after": m.load_after},
        "rows": r.rows.iter().map(|x| json!({"engine": x.engine, "key": x.key, "metric": x.metric, "unit": x.unit,
            "tether": figure_json(&x.tether), "floor": x.floor.as_ref().map(figure_json), "ratio": x.ratio()})).collect::<Vec<_>>(),
        "breakdown": r.breakdown.iter().map(|(e, k, s)| json!({"engine": e, "step": k, "p50": s.p50, "p95": s.p95, "n": s.n})).collect::<Vec<_>>(),
        "facts": r.facts.iter().map(|(k, v)| json!({"fact": k, "value": v})).collect::<Vec<_>>(),
        "errors": r.errors,
    })
}

pub fn write(args: &Args, r: &Results) -> Result<()> {
    for p in [&args.out, &args.svg, &args.json] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
    }
    let notes = std::fs::read_to_string(&args.notes).ok();
    let ha = std::fs::read_to_string(&args.ha_md).ok();
    std::fs::write(&args.out, markdown(args, r, notes.as_deref(), ha.as_deref()))
        .with_context(|| format!("write {}", args.out.display()))?;
    std::fs::write(&args.svg, svg(r)).with_context(|| format!("write {}", args.svg.display()))?;
    std::fs::write(&args.json, serde_json::to_string_pretty(&json_report(args, r))? + "\n")
        .with_context(|| format!("write {}", args.json.display()))?;
    Ok(())
}
