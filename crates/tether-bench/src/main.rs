//! `tether-bench`: measures tether against the database's own cost, side by side in one
//! run, and writes BENCHMARKS.md, its SVG chart and the raw numbers as JSON.
//!
//! Why a harness of its own rather than criterion: what is measured is a whole system (a
//! CLI process, a daemon running hooks, real PostgreSQL, MariaDB and FerretDB servers) and the end of an
//! operation is observed from outside (credentials that log in, a login that starts
//! being refused). Each tether figure is paired with its floor, the same statements sent
//! directly to the same server, interleaved sample by sample so both see the same load.
//! Benchmarks are never asserted: the harness reports, it does not fail on a slow number.
//!
//! Run through `scripts/bench`; `tether-bench --help` lists the knobs.

mod engines;
mod failover;
mod ferretdb;
mod floor;
mod galera_floor;
mod ha;
mod ha_floor;
mod ha_galera;
mod ha_report;
mod machine;
mod mariadb;
mod phases;
mod report;
mod stats;
mod tether;

use anyhow::{bail, Context, Result};
use engines::Engine;
use std::path::PathBuf;
use std::process::ExitCode;

/// What to run and where to write.
#[derive(Debug, Clone)]
pub struct Args {
    pub tether: PathBuf,
    pub quick: bool,
    /// The engines measured, in this order (`--engines pg,mysql,mongo`).
    pub engines: Vec<Engine>,
    /// The external charm of the hook dispatch figure.
    pub noop_charm: PathBuf,
    /// Sequential integrations for the latency figure.
    pub integrations: usize,
    /// Data-integrators integrated at once for the throughput figure.
    pub throughput: usize,
    /// Removals timed (taken from the latency integrations).
    pub removals: usize,
    /// Credential rotations timed per engine (one relation, rotated again once the
    /// previous login is retired).
    pub rotations: usize,
    /// Deploys to active (and initdb + start floors).
    pub deploys: usize,
    /// CLI round trips timed.
    pub rounds: usize,
    pub out: PathBuf,
    pub svg: PathBuf,
    pub json: PathBuf,
    /// Hand-written analysis included verbatim in BENCHMARKS.md, if present.
    pub notes: PathBuf,
    /// `--phases`: the main figures (`main`), the high-availability ones (`ha`), or both.
    pub main: bool,
    pub ha: bool,
    /// `deploy postgresql-k8s -n 3` samples (and their by-hand floors).
    pub ha_deploys: usize,
    /// Failovers timed (and as many on the bare Patroni floor).
    pub failovers: usize,
    /// The HA section (included in BENCHMARKS.md) and its raw numbers.
    pub ha_md: PathBuf,
    pub ha_json: PathBuf,
}

const USAGE: &str = "usage: tether-bench --tether PATH [--quick] [--engines pg,mysql,mongo] [--integrations N]
                    [--throughput N] [--removals N] [--rotations N] [--deploys N] [--rounds N] [--out BENCHMARKS.md]
                    [--svg bench/latest.svg] [--json bench/latest.json] [--notes bench/notes.md]
                    [--noop-charm bench/charms/noop] [--phases main,ha] [--ha-deploys N] [--failovers N]
                    [--ha-md bench/ha.md] [--ha-json bench/ha.json]
  --phases         main (integrate, remove, rotate, throughput, deploy, dispatch, controller; the
                   default), ha (postgresql-k8s -n 3: deploy and failover against bare Patroni;
                   mysql-k8s -n 3: failover against bare Galera), or
                   all (both); ha writes bench/ha.md and bench/ha.json and only its section of --out
  --engines        which servers to measure, in order (default all: pg,mysql,mongo;
                   throughput runs for pg and mysql)
  --quick          20 integrations, 50 at once, 10 removals, 10 rotations, 2 deploys, 20 rounds,
                   1 deploy -n 3, 2 failovers
  defaults         100 integrations, 200 at once (--throughput 1000 for the issue's figure),
                   20 removals, 20 rotations, 3 deploys, 30 rounds, 3 deploys -n 3, 3 failovers";

/// What a run does unless told otherwise (`--quick` or not).
fn defaults(quick: bool) -> Args {
    Args {
        tether: PathBuf::new(),
        quick,
        engines: engines::ALL.to_vec(),
        noop_charm: "bench/charms/noop".into(),
        integrations: if quick { 20 } else { 100 },
        throughput: if quick { 50 } else { 200 },
        removals: if quick { 10 } else { 20 },
        rotations: if quick { 10 } else { 20 },
        deploys: if quick { 2 } else { 3 },
        rounds: if quick { 20 } else { 30 },
        out: "BENCHMARKS.md".into(),
        svg: "bench/latest.svg".into(),
        json: "bench/latest.json".into(),
        notes: "bench/notes.md".into(),
        main: true,
        ha: false,
        ha_deploys: if quick { 1 } else { 3 },
        failovers: if quick { 2 } else { 3 },
        ha_md: "bench/ha.md".into(),
        ha_json: "bench/ha.json".into(),
    }
}

fn parse_args() -> Result<Args> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = defaults(quick);
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        let count = |v: String| -> Result<usize> {
            match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => bail!("{flag} takes a positive number, not {v:?}"),
            }
        };
        match flag.as_str() {
            "--quick" => {}
            "--tether" => a.tether = value()?.into(),
            "--integrations" => a.integrations = count(value()?)?,
            "--throughput" => a.throughput = count(value()?)?,
            "--removals" => a.removals = count(value()?)?,
            "--rotations" => a.rotations = count(value()?)?,
            "--deploys" => a.deploys = count(value()?)?,
            "--rounds" => a.rounds = count(value()?)?,
            "--out" => a.out = value()?.into(),
            "--svg" => a.svg = value()?.into(),
            "--json" => a.json = value()?.into(),
            "--notes" => a.notes = value()?.into(),
            "--noop-charm" => a.noop_charm = value()?.into(),
            "--ha-deploys" => a.ha_deploys = count(value()?)?,
            "--failovers" => a.failovers = count(value()?)?,
            "--ha-md" => a.ha_md = value()?.into(),
            "--ha-json" => a.ha_json = value()?.into(),
            "--phases" => {
                let v = value()?;
                let names: Vec<&str> = v.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
                if let Some(bad) = names.iter().find(|n| !matches!(**n, "main" | "ha" | "all")) {
                    bail!("unknown phase {bad:?}: expected main, ha or all");
                }
                if names.is_empty() {
                    bail!("--phases needs at least one of main, ha");
                }
                a.main = names.iter().any(|n| *n == "main" || *n == "all");
                a.ha = names.iter().any(|n| *n == "ha" || *n == "all");
            }
            "--engines" => {
                let mut list = Vec::new();
                for name in value()?.split(',').filter(|n| !n.trim().is_empty()) {
                    let e = Engine::parse(name)?;
                    if !list.contains(&e) {
                        list.push(e);
                    }
                }
                if list.is_empty() {
                    bail!("--engines needs at least one of pg, mysql, mongo");
                }
                a.engines = list;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if a.tether.as_os_str().is_empty() {
        bail!("--tether PATH is required\n{USAGE}");
    }
    a.removals = a.removals.min(a.integrations);
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tether-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut code = ExitCode::SUCCESS;
    if args.main {
        match phases::run(&args).and_then(|results| report::write(&args, &results)) {
            Ok(()) => eprintln!("tether-bench: wrote {}, {} and {}", args.out.display(), args.svg.display(), args.json.display()),
            Err(e) => {
                eprintln!("tether-bench: {e:#}");
                code = ExitCode::FAILURE;
            }
        }
    }
    if args.ha {
        match ha::run(&args).and_then(|results| ha_report::write(&args, &results)) {
            Ok(()) => eprintln!(
                "tether-bench: wrote {}, {} and the HA section of {}",
                args.ha_md.display(),
                args.ha_json.display(),
                args.out.display()
            ),
            Err(e) => {
                eprintln!("tether-bench: HA phases: {e:#}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
