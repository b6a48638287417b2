//! The measurements, in the order one run makes them, each tether figure next to its
//! floor on the same PostgreSQL server:
//!
//! 1. deploy `postgresql-k8s` to active, against `initdb` + start by hand;
//! 2. integrate latency, one data-integrator at a time (each deployed and settled before
//!    its timing starts): `tether integrate` until the credentials `get-credentials`
//!    returns log in, against the plan's statements plus one login;
//! 3. remove-relation latency until the old credentials are refused;
//! 4. throughput: many data-integrators integrated at once, against the floor at the
//!    same concurrency;
//! 5. the controller: resident memory, `status --format json` with many applications, a
//!    small model's `status` round trip.
//!
//! Each phase records what it costs to observe (CLI polls) next to the figure, so a
//! reader can tell tether's time from the harness's.

use crate::floor::{self, Login, OPERATOR};
use crate::machine::{self, Machine};
use crate::stats::{ms, summarise, Summary};
use crate::tether::{all_units, find_key, wait_until, Tether};
use crate::Args;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The engine rows so far; MariaDB and FerretDB add theirs when those charms land.
pub const POSTGRESQL: &str = "PostgreSQL";

/// A figure: a latency distribution, or one number (a rate, a size).
#[derive(Debug, Clone)]
pub enum Figure {
    Latency(Summary),
    Value(f64),
}

impl Figure {
    /// The figure's headline number (p50 for a distribution).
    pub fn headline(&self) -> f64 {
        match self {
            Figure::Latency(s) => s.p50,
            Figure::Value(v) => *v,
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub engine: &'static str,
    pub key: &'static str,
    pub metric: String,
    pub unit: &'static str,
    pub tether: Figure,
    pub floor: Option<Figure>,
    /// Whether a bigger number is better (throughput).
    pub higher_is_better: bool,
}

impl Row {
    /// tether / floor of the headline numbers.
    pub fn ratio(&self) -> Option<f64> {
        let f = self.floor.as_ref()?.headline();
        (f > 0.0).then(|| self.tether.headline() / f)
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub machine: Machine,
    pub rows: Vec<Row>,
    /// Where an integration's time goes, seen from outside (ms, p50/p95).
    pub breakdown: Vec<(String, Summary)>,
    /// Facts the report states next to the numbers (counts, polling costs).
    pub facts: Vec<(String, String)>,
    /// Applications in the model when the "many applications" figures were taken.
    pub apps_at_scale: usize,
    pub throughput_n: usize,
    pub errors: Vec<String>,
}

impl Results {
    fn row(&mut self, key: &'static str, metric: &str, unit: &'static str, tether: Figure, floor: Option<Figure>) {
        self.rows.push(Row { engine: POSTGRESQL, key, metric: metric.into(), unit, tether, floor, higher_is_better: unit == "creds/s" });
    }
    fn fact(&mut self, k: &str, v: impl Into<String>) {
        let v = v.into();
        eprintln!("tether-bench: {k}: {v}");
        self.facts.push((k.into(), v));
    }
}

const SETTLE: Duration = Duration::from_secs(300);
/// How often a waiting phase polls a CLI command (each poll is a whole process).
const STATUS_POLL: Duration = Duration::from_millis(25);
/// Between `show-unit` polls while one integration is timed.
const TIGHT_POLL: Duration = Duration::from_millis(2);

/// Operator connections of the throughput floor: tether keeps one admin connection per
/// application database open, so the server's 100 connections are mostly taken by then.
const FLOOR_POOL: usize = 8;

/// Credentials a data-integrator received.
#[derive(Debug, Clone)]
struct Creds {
    user: String,
    password: String,
    database: String,
}

struct Bench<'a> {
    args: &'a Args,
    t: Tether,
    rt: tokio::runtime::Runtime,
    r: Results,
    port: u16,
    operator_pw: String,
}

pub fn run(args: &Args) -> Result<Results> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let machine = machine::describe(&args.tether);
    eprintln!("tether-bench: starting a controller ({} cores, load {})", machine.cores, machine.load_before);
    let t = Tether::bootstrap(&args.tether)?;
    eprintln!("tether-bench: TETHER_HOME={}", t.home().display());
    let mut b = Bench { args, t, rt, r: Results { machine, ..Default::default() }, port: 0, operator_pw: String::new() };
    let outcome = b.all();
    if let Err(e) = &outcome {
        b.r.errors.push(format!("{e:#}"));
        eprintln!("tether-bench: run stopped early: {e:#}; log: {}/logs/controller.log", b.t.home().display());
    }
    if let Err(e) = b.t.destroy() {
        eprintln!("tether-bench: destroy-controller failed: {e:#}");
    }
    b.r.machine.load_after = machine::loadavg();
    if b.r.rows.is_empty() {
        return Err(outcome.err().unwrap_or_else(|| anyhow!("nothing was measured")));
    }
    Ok(b.r)
}

impl Bench<'_> {
    fn all(&mut self) -> Result<()> {
        let rss_empty = self.t.rss_mib()?;
        self.deploy()?;
        let rss_pg = self.t.rss_mib()?;
        let creds = self.integrate_latency()?;
        self.remove_latency(&creds)?;
        self.throughput()?;
        self.controller(rss_empty, rss_pg)?;
        Ok(())
    }

    fn wait_app(&self, app: &str, word: &str) -> Result<Duration> {
        wait_until(&format!("{app} to be {word}"), SETTLE, STATUS_POLL, || all_units(&self.t.status(None)?, app, word))
    }

    /// Waits until every listed application's units show `word`, polling status.
    fn wait_apps(&self, apps: &[String], word: &str, every: Duration) -> Result<Duration> {
        let timeout = SETTLE + Duration::from_millis(500) * apps.len() as u32;
        wait_until(&format!("{} applications to be {word}", apps.len()), timeout, every, || {
            let status = self.t.status(None)?;
            for a in apps {
                if !all_units(&status, a, word)? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    /// Runs `tether ARGS` for every index on `threads` threads at once.
    fn parallel(&self, n: usize, threads: usize, args: impl Fn(usize) -> Vec<String> + Sync) -> Result<()> {
        let next = AtomicUsize::new(0);
        let errors = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..threads.min(n) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let a = args(i);
                    let a: Vec<&str> = a.iter().map(String::as_str).collect();
                    if let Err(e) = self.t.ok(&a) {
                        errors.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{e:#}"));
                    }
                });
            }
        });
        let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
        match errors.first() {
            Some(e) => bail!("{} of {n} commands failed, first: {e}", errors.len()),
            None => Ok(()),
        }
    }

    /// Deploy to active: the model's `postgresql-k8s` first, then extra applications
    /// (removed again); each interleaved with an `initdb` + start by hand.
    fn deploy(&mut self) -> Result<()> {
        let mut tether = Vec::new();
        let mut hand = Vec::new();
        for i in 0..self.args.deploys {
            let app = if i == 0 { "postgresql-k8s".to_string() } else { format!("pgdeploy{i}") };
            let start = Instant::now();
            self.t.ok(&["deploy", "postgresql-k8s", &app])?;
            self.wait_app(&app, "active")?;
            tether.push(start.elapsed());
            eprintln!("tether-bench: deploy {app} to active: {:.0} ms", ms(start.elapsed()));
            if i > 0 {
                self.t.ok(&["remove-application", &app])?;
                wait_until(&format!("{app} to go"), SETTLE, STATUS_POLL, || {
                    Ok(self.t.status(None)?["applications"].get(app.as_str()).is_none())
                })?;
            }
            let d = floor::initdb_and_start(&self.rt)?;
            eprintln!("tether-bench: initdb + start by hand: {:.0} ms", ms(d));
            hand.push(d);
        }
        let unit = self.t.json(&["show-unit", "postgresql-k8s/0", "--format", "json"])?;
        self.port = find_key(&unit, "opened-ports")
            .and_then(|p| p.as_array()?.first()?.as_str()?.split('/').next()?.parse().ok())
            .ok_or_else(|| anyhow!("postgresql-k8s/0 shows no port"))?;
        let res = self.t.action("postgresql-k8s/leader", "get-password")?;
        self.operator_pw = res["password"].as_str().ok_or_else(|| anyhow!("get-password returned no password"))?.to_string();
        self.r.row("deploy", "Deploy postgresql-k8s to active (vs initdb + start)", "ms", lat(&tether)?, Some(lat(&hand)?));
        Ok(())
    }

    fn admin(&self) -> Result<tokio_postgres::Client> {
        self.rt.block_on(floor::connect(self.port, OPERATOR, &self.operator_pw, "postgres")).context("operator login for the floor")
    }

    /// Sequential integrations, each timed from `tether integrate` to a working login.
    fn integrate_latency(&mut self) -> Result<Vec<Creds>> {
        let n = self.args.integrations;
        let apps: Vec<String> = (0..n).map(|i| format!("dilat{i}")).collect();
        eprintln!("tether-bench: deploying {n} data-integrators (untimed)");
        self.parallel(n, 4, |i| {
            ["deploy", "data-integrator", &apps[i], "--config", &format!("database-name=lat_{i}")].map(String::from).to_vec()
        })?;
        self.wait_apps(&apps, "blocked", Duration::from_millis(200))?;
        let admin = self.admin()?;
        let mut total = Vec::new();
        let (mut cmd, mut visible, mut get_creds, mut login) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut floor_t = Vec::new();
        let (mut polls, mut poll_time) = (0usize, Duration::ZERO);
        let mut creds = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            let unit = format!("{app}/0");
            let start = Instant::now();
            self.t.ok(&["integrate", app, "postgresql-k8s"])?;
            let t_cmd = start.elapsed();
            wait_until(&format!("{app}'s credentials"), Duration::from_secs(120), TIGHT_POLL, || {
                let out = self.t.ok(&["show-unit", &unit, "--format", "json"])?;
                polls += 1;
                poll_time += out.elapsed;
                let v: Value = serde_json::from_str(&out.stdout)?;
                Ok(find_key(&v, "secret-user").is_some())
            })?;
            let t_visible = start.elapsed();
            let res = self.t.action(&format!("{app}/leader"), "get-credentials")?;
            let pg = &res["postgresql"];
            let field = |k: &str| pg[k].as_str().map(str::to_string).ok_or_else(|| anyhow!("get-credentials of {app} has no {k}: {res}"));
            let c = Creds { user: field("username")?, password: field("password")?, database: field("database")? };
            let t_creds = start.elapsed();
            match self.rt.block_on(floor::login(self.port, &c.user, &c.password, &c.database)) {
                Login::Ok => {}
                other => bail!("{app}'s credentials do not log in: {other:?}"),
            }
            let t_login = start.elapsed();
            total.push(t_login);
            cmd.push(t_cmd);
            visible.push(t_visible - t_cmd);
            get_creds.push(t_creds - t_visible);
            login.push(t_login - t_creds);
            creds.push(c);

            let fstart = Instant::now();
            let name = format!("floor_lat_{i}");
            self.rt.block_on(floor::integrate(&admin, self.port, &name, &name, &floor::password(i as u64)))?;
            floor_t.push(fstart.elapsed());
            if (i + 1) % 10 == 0 || i + 1 == n {
                eprintln!("tether-bench: integrate {}/{n}: last {:.0} ms (floor {:.0} ms)", i + 1, ms(t_login), ms(fstart.elapsed()));
            }
        }
        self.r.row("integrate", "Integrate → credentials that log in", "ms", lat(&total)?, Some(lat(&floor_t)?));
        for (name, v) in [
            ("`tether integrate` returns", &cmd),
            ("… then credentials visible (`show-unit` polled)", &visible),
            ("… then `run get-credentials`", &get_creds),
            ("… then one login", &login),
        ] {
            self.r.breakdown.push((name.into(), summarise(v).ok_or_else(|| anyhow!("no samples"))?));
        }
        // What one observation costs when nothing changes: the polling overhead.
        let mut show = Vec::new();
        let mut action = Vec::new();
        for _ in 0..10 {
            show.push(self.t.ok(&["show-unit", "dilat0/0", "--format", "json"])?.elapsed);
            let s = Instant::now();
            self.t.action("dilat0/leader", "get-credentials")?;
            action.push(s.elapsed());
        }
        let (show, action) = (summarise(&show).expect("10 samples"), summarise(&action).expect("10 samples"));
        self.r.breakdown.push(("idle `show-unit --format json` (one poll)".into(), show));
        self.r.breakdown.push(("idle `run get-credentials`".into(), action));
        self.r.fact(
            "show-unit polls per integration",
            format!("{:.1} (mean {:.1} ms each, {TIGHT_POLL:?} apart)", polls as f64 / n as f64, ms(poll_time) / polls.max(1) as f64),
        );
        Ok(creds)
    }

    /// `remove-relation` until the old credentials are refused.
    fn remove_latency(&mut self, creds: &[Creds]) -> Result<()> {
        let admin = self.admin()?;
        let mut tether = Vec::new();
        let mut cmd = Vec::new();
        let mut hand = Vec::new();
        for (i, c) in creds.iter().enumerate().take(self.args.removals) {
            let app = format!("dilat{i}");
            let start = Instant::now();
            self.t.ok(&["remove-relation", &app, "postgresql-k8s"])?;
            cmd.push(start.elapsed());
            wait_until(&format!("{app}'s old credentials to be refused"), Duration::from_secs(120), TIGHT_POLL, || {
                Ok(match self.rt.block_on(floor::login(self.port, &c.user, &c.password, &c.database)) {
                    Login::Refused => true,
                    Login::Ok => false,
                    // The database may refuse connections while the user is dropped.
                    Login::Other(_) => false,
                })
            })?;
            tether.push(start.elapsed());
            let name = format!("floor_lat_{i}");
            let s = Instant::now();
            self.rt.block_on(floor::remove(&admin, self.port, &self.operator_pw, &name, &name, &floor::password(i as u64)))?;
            hand.push(s.elapsed());
        }
        self.r.row("remove", "Remove relation → old credentials refused", "ms", lat(&tether)?, Some(lat(&hand)?));
        self.r.breakdown.push(("`tether remove-relation` returns".into(), summarise(&cmd).ok_or_else(|| anyhow!("no samples"))?));
        Ok(())
    }

    /// Many data-integrators integrated at once, against the floor at the same concurrency.
    fn throughput(&mut self) -> Result<()> {
        let n = self.args.throughput;
        self.r.throughput_n = n;
        let apps: Vec<String> = (0..n).map(|i| format!("ditp{i}")).collect();
        eprintln!("tether-bench: deploying {n} more data-integrators (untimed)");
        self.parallel(n, 4, |i| {
            ["deploy", "data-integrator", &apps[i], "--config", &format!("database-name=tp_{i}")].map(String::from).to_vec()
        })?;
        self.wait_apps(&apps, "blocked", Duration::from_millis(250))?;
        // The floor runs first: after tether's phase its admin holds one connection per
        // database and the floor could not open its own.
        let floor_total = self.floor_throughput(n)?;
        eprintln!("tether-bench: floor at the same concurrency: {:.1} s", floor_total.as_secs_f64());
        eprintln!("tether-bench: integrating {n} at once");
        let start = Instant::now();
        self.parallel(n, 16, |i| ["integrate", &apps[i], "postgresql-k8s"].map(String::from).to_vec())?;
        let issued = start.elapsed();
        self.wait_apps(&apps, "active", Duration::from_millis(100))?;
        let total = start.elapsed();
        eprintln!("tether-bench: {n} integrations: {:.1} s (commands issued in {:.1} s)", total.as_secs_f64(), issued.as_secs_f64());
        // Untimed proof that what "active" announced logs in, on a sample.
        let sample: Vec<usize> = (0..n).step_by((n / 20).max(1)).collect();
        for &i in &sample {
            let res = self.t.action(&format!("{}/leader", apps[i]), "get-credentials")?;
            let pg = &res["postgresql"];
            let (u, p, d) = (pg["username"].as_str(), pg["password"].as_str(), pg["database"].as_str());
            let (Some(u), Some(p), Some(d)) = (u, p, d) else { bail!("{} has no credentials: {res}", apps[i]) };
            if self.rt.block_on(floor::login(self.port, u, p, d)) != Login::Ok {
                bail!("{}'s credentials do not log in", apps[i]);
            }
        }
        let held = self.rt.block_on(async {
            let c = floor::connect(self.port, OPERATOR, &self.operator_pw, "postgres").await?;
            let row = c.query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tether'", &[]).await?;
            Ok::<i64, anyhow::Error>(row.get(0))
        })?;
        self.r.fact("server connections held by tether's admin after the throughput phase", format!("{held} (max_connections 100)"));
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        self.r.row(
            "throughput",
            &format!("{n} integrations at once (credentials/s)"),
            "creds/s",
            Figure::Value(rate(total)),
            Some(Figure::Value(rate(floor_total))),
        );
        self.r.row(
            "throughput_total",
            &format!("{n} integrations at once (total)"),
            "ms",
            Figure::Value(ms(total)),
            Some(Figure::Value(ms(floor_total))),
        );
        self.r.fact("throughput: all integrate commands returned after", format!("{:.0} ms", ms(issued)));
        self.r.fact("throughput: credentials checked by a login", format!("{} of {n} (untimed)", sample.len()));
        Ok(())
    }

    /// `n` tokio tasks issuing the floor's statements over a pool of operator connections
    /// (as many as the server's `max_connections` allows next to the logins).
    fn floor_throughput(&self, n: usize) -> Result<Duration> {
        let pool_size = n.min(FLOOR_POOL);
        let port = self.port;
        let pw = self.operator_pw.clone();
        self.rt.block_on(async move {
            let mut conns = Vec::new();
            for _ in 0..pool_size {
                conns.push(floor::connect(port, OPERATOR, &pw, "postgres").await?);
            }
            let pool = Arc::new(tokio::sync::Mutex::new(conns));
            let permits = Arc::new(tokio::sync::Semaphore::new(pool_size));
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..n {
                let (pool, permits) = (pool.clone(), permits.clone());
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await?;
                    let c = pool.lock().await.pop().ok_or_else(|| anyhow!("pool empty"))?;
                    let name = format!("floor_tp_{i}");
                    let r = floor::integrate(&c, port, &name, &name, &floor::password(10_000 + i as u64)).await;
                    pool.lock().await.push(c);
                    r
                });
            }
            while let Some(r) = tasks.join_next().await {
                r??;
            }
            Ok::<_, anyhow::Error>(start.elapsed())
        })
    }

    /// Memory, `status` with many applications, a small model's round trip.
    fn controller(&mut self, rss_empty: f64, rss_pg: f64) -> Result<()> {
        sleep(Duration::from_secs(1));
        let apps = self.t.status(None)?["applications"].as_object().map(|a| a.len()).unwrap_or(0);
        self.r.apps_at_scale = apps;
        let rss_many = self.t.rss_mib()?;
        let mut status = Vec::new();
        for _ in 0..self.args.rounds.min(15) {
            status.push(self.t.ok(&["status", "--format", "json"])?.elapsed);
        }
        self.t.ok(&["add-model", "bench-small"])?;
        self.t.ok(&["deploy", "-m", "bench-small", "data-integrator", "--config", "database-name=small"])?;
        wait_until("bench-small's data-integrator to settle", SETTLE, STATUS_POLL, || {
            all_units(&self.t.status(Some("bench-small"))?, "data-integrator", "blocked")
        })?;
        let mut small = Vec::new();
        let mut version = Vec::new();
        for i in 0..self.args.rounds + 3 {
            let s = self.t.ok(&["status", "-m", "bench-small"])?.elapsed;
            let v = self.t.ok(&["version"])?.elapsed;
            if i >= 3 {
                small.push(s);
                version.push(v);
            }
        }
        self.r.row("rss_idle", "Controller RSS, empty model", "MiB", Figure::Value(rss_empty), None);
        self.r.row("rss_pg", "Controller RSS, postgresql-k8s only", "MiB", Figure::Value(rss_pg), None);
        self.r.row("rss_many", &format!("Controller RSS, {apps} applications"), "MiB", Figure::Value(rss_many), None);
        self.r.row("status_many", &format!("`status --format json`, {apps} applications"), "ms", lat(&status)?, None);
        self.r.row("status_small", "`status` round trip, small model", "ms", lat(&small)?, Some(lat(&version)?));
        self.r.fact("floor of the small-model round trip", "`tether version` (the same process start, no controller request)");
        Ok(())
    }
}

fn lat(samples: &[Duration]) -> Result<Figure> {
    summarise(samples).map(Figure::Latency).ok_or_else(|| anyhow!("no samples"))
}
