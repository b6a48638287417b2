//! The measurements, in the order one run makes them, each tether figure next to its
//! floor on the same server, for every engine of `--engines` (PostgreSQL, MariaDB,
//! FerretDB; see [`crate::engines`] for what differs between them):
//!
//! 1. deploy each engine's charm to active, against its server initialised and started
//!    by hand;
//! 2. integrate latency, one data-integrator at a time (each deployed and settled before
//!    its timing starts): `tether integrate` until the credentials `get-credentials`
//!    returns log in, against the engine's statements plus one login;
//! 3. remove-relation latency until the old credentials are refused;
//! 4. credential rotation: `rotate-credentials` until the requirer shows new credentials
//!    that log in, against a second login with the same grants made by hand, while a
//!    client keeps querying with whatever the requirer shows (its failures counted);
//! 5. throughput: many data-integrators integrated at once, against the floor at the
//!    same concurrency (PostgreSQL and MariaDB);
//! 6. hook dispatch: an action of a tiny external sh charm against a native charm's;
//! 7. the controller: resident memory, `status --format json` with many applications, a
//!    small model's `status` round trip.
//!
//! An engine that fails is reported and skipped; the others still run.
//!
//! Each phase records what it costs to observe (CLI polls) next to the figure, so a
//! reader can tell tether's time from the harness's.

use crate::engines::{Admin, Engine, Server};
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

/// The table of the rows that belong to no engine.
pub const CONTROLLER: &str = "Controller";

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
    /// Where the time of an integration, a removal, a rotation goes, seen from outside (engine, step, ms p50/p95).
    pub breakdown: Vec<(&'static str, String, Summary)>,
    /// Facts the report states next to the numbers (counts, polling costs).
    pub facts: Vec<(String, String)>,
    /// Applications in the model when the "many applications" figures were taken.
    pub apps_at_scale: usize,
    pub throughput_n: usize,
    /// Per engine: the queries the client made through the rotations, and the rotations.
    pub rotation_queries: Vec<(&'static str, usize, usize)>,
    /// The engines asked for, in order (those that failed are in `errors`).
    pub engines: Vec<Engine>,
    pub errors: Vec<String>,
}

impl Results {
    fn row(&mut self, engine: &'static str, key: &'static str, metric: &str, unit: &'static str, tether: Figure, floor: Option<Figure>) {
        self.rows.push(Row { engine, key, metric: metric.into(), unit, tether, floor, higher_is_better: unit == "creds/s" });
    }
    fn step(&mut self, engine: Engine, name: &str, samples: &[Duration]) -> Result<()> {
        self.breakdown.push((engine.name(), name.into(), summarise(samples).ok_or_else(|| anyhow!("no samples"))?));
        Ok(())
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

/// `credential-grace-period` while rotations are timed: long enough that the client
/// querying through a rotation switches to the new credentials while the old ones work.
pub const ROTATION_GRACE: Duration = Duration::from_secs(5);
/// Between two queries of the client that queries through rotations.
const CLIENT_EVERY: Duration = Duration::from_millis(30);

/// Admin connections of the throughput floor (tether's admin is one session per server;
/// 8 keeps the floor well inside every server's connection limit).
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
    /// The server of each engine's charm, once deployed.
    servers: Vec<Server>,
    /// Engines that failed: their later phases are skipped.
    failed: Vec<Engine>,
    /// A data-integrator holding credentials (native charm of the dispatch figure).
    integrated: Option<String>,
}

pub fn run(args: &Args) -> Result<Results> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let machine = machine::describe(&args.tether);
    eprintln!("tether-bench: starting a controller ({} cores, load {})", machine.cores, machine.load_before);
    let t = Tether::bootstrap(&args.tether)?;
    eprintln!("tether-bench: TETHER_HOME={}", t.home().display());
    let r = Results { machine, engines: args.engines.clone(), ..Default::default() };
    let mut b = Bench { args, t, rt, r, servers: Vec::new(), failed: Vec::new(), integrated: None };
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
        let engines = self.args.engines.clone();
        for &e in &engines {
            let r = self.deploy(e);
            self.survive(e, "deploy", r);
        }
        let rss_servers = self.t.rss_mib()?;
        for &e in &engines {
            if self.failed.contains(&e) {
                continue;
            }
            let r = self.integrate_latency(e).and_then(|creds| self.remove_latency(e, &creds));
            self.survive(e, "integrate/remove", r);
            if self.failed.contains(&e) {
                continue;
            }
            // A failed rotation is reported but does not skip the engine's throughput.
            if let Err(err) = self.rotation(e) {
                eprintln!("tether-bench: {} rotation failed: {err:#}", e.name());
                self.r.errors.push(format!("{} rotation: {err:#}", e.name()));
            }
        }
        for &e in engines.iter().filter(|e| e.throughput()) {
            if self.failed.contains(&e) {
                continue;
            }
            let r = self.throughput(e);
            self.survive(e, "throughput", r);
        }
        if let Err(e) = self.dispatch() {
            self.r.errors.push(format!("hook dispatch: {e:#}"));
            eprintln!("tether-bench: hook dispatch failed: {e:#}");
        }
        self.controller(rss_empty, rss_servers)?;
        Ok(())
    }

    /// Records an engine's failure and skips its later phases; the run goes on.
    fn survive(&mut self, e: Engine, phase: &str, r: Result<()>) {
        if let Err(err) = r {
            eprintln!("tether-bench: {} {phase} failed: {err:#}", e.name());
            self.r.errors.push(format!("{} {phase}: {err:#}", e.name()));
            self.failed.push(e);
        }
    }

    fn server(&self, e: Engine) -> Result<&Server> {
        self.servers.iter().find(|s| s.engine == e).ok_or_else(|| anyhow!("{} has no server", e.name()))
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

    /// Deploys `n` data-integrators `<prefix><kind><i>` (database `<kind>_<i>`), untimed,
    /// and waits until they are blocked (no relation yet).
    fn deploy_integrators(&self, e: Engine, kind: &str, n: usize) -> Result<Vec<String>> {
        let apps: Vec<String> = (0..n).map(|i| format!("{}{kind}{i}", e.prefix())).collect();
        eprintln!("tether-bench: deploying {n} data-integrators for {} (untimed)", e.name());
        self.parallel(n, 4, |i| {
            ["deploy", "data-integrator", &apps[i], "--config", &format!("database-name={kind}_{i}")].map(String::from).to_vec()
        })?;
        self.wait_apps(&apps, "blocked", Duration::from_millis(200))?;
        Ok(apps)
    }

    /// `get-credentials` of a data-integrator, for engine `e`.
    fn credentials(&self, e: Engine, app: &str) -> Result<Creds> {
        let res = self.t.action(&format!("{app}/leader"), "get-credentials")?;
        let c = &res[e.product()];
        let field = |k: &str| c[k].as_str().map(str::to_string).ok_or_else(|| anyhow!("get-credentials of {app} has no {k}: {res}"));
        Ok(Creds { user: field("username")?, password: field("password")?, database: field("database")? })
    }

    /// Deploy to active: the model's server of the engine first, then extra applications
    /// (removed again); each interleaved with the server started by hand.
    fn deploy(&mut self, e: Engine) -> Result<()> {
        let charm = e.charm();
        let mut tether = Vec::new();
        let mut hand = Vec::new();
        for i in 0..self.args.deploys {
            let app = if i == 0 { charm.to_string() } else { format!("{}deploy{i}", e.prefix()) };
            let start = Instant::now();
            self.t.ok(&["deploy", charm, &app])?;
            self.wait_app(&app, "active")?;
            tether.push(start.elapsed());
            eprintln!("tether-bench: deploy {app} to active: {:.0} ms", ms(start.elapsed()));
            if i > 0 {
                self.t.ok(&["remove-application", &app])?;
                wait_until(&format!("{app} to go"), SETTLE, STATUS_POLL, || {
                    Ok(self.t.status(None)?["applications"].get(app.as_str()).is_none())
                })?;
            }
            let d = e.deploy_by_hand(&self.rt, &self.args.tether)?;
            eprintln!("tether-bench: {} by hand: {:.0} ms", e.deploy_floor(), ms(d));
            hand.push(d);
        }
        let unit = self.t.json(&["show-unit", &format!("{charm}/0"), "--format", "json"])?;
        let port = find_key(&unit, "opened-ports")
            .and_then(|p| p.as_array()?.first()?.as_str()?.split('/').next()?.parse().ok())
            .ok_or_else(|| anyhow!("{charm}/0 shows no port"))?;
        let res = self.t.action(&format!("{charm}/leader"), "get-password")?;
        let admin_pw = res["password"].as_str().ok_or_else(|| anyhow!("get-password returned no password"))?.to_string();
        self.servers.push(Server { engine: e, port, admin_pw });
        let metric = format!("Deploy {charm} to active (vs {})", e.deploy_floor());
        self.r.row(e.name(), "deploy", &metric, "ms", lat(&tether)?, Some(lat(&hand)?));
        Ok(())
    }

    /// Sequential integrations, each timed from `tether integrate` to a working login.
    fn integrate_latency(&mut self, e: Engine) -> Result<Vec<Creds>> {
        let n = self.args.integrations;
        let apps = self.deploy_integrators(e, "lat", n)?;
        let server = self.server(e)?.clone();
        let mut admin = self.rt.block_on(server.admin()).context("admin login for the floor")?;
        let mut total = Vec::new();
        let (mut cmd, mut visible, mut get_creds, mut login) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut floor_t = Vec::new();
        let (mut polls, mut poll_time) = (0usize, Duration::ZERO);
        let mut creds = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            let unit = format!("{app}/0");
            let start = Instant::now();
            self.t.ok(&["integrate", app, e.charm()])?;
            let t_cmd = start.elapsed();
            wait_until(&format!("{app}'s credentials"), Duration::from_secs(120), TIGHT_POLL, || {
                let out = self.t.ok(&["show-unit", &unit, "--format", "json"])?;
                polls += 1;
                poll_time += out.elapsed;
                let v: Value = serde_json::from_str(&out.stdout)?;
                Ok(find_key(&v, "secret-user").is_some())
            })?;
            let t_visible = start.elapsed();
            let c = self.credentials(e, app)?;
            let t_creds = start.elapsed();
            match self.rt.block_on(server.login(&c.user, &c.password, &c.database)) {
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
            self.rt.block_on(server.integrate(&mut admin, &name, &floor::password(i as u64)))?;
            floor_t.push(fstart.elapsed());
            if (i + 1) % 10 == 0 || i + 1 == n {
                eprintln!(
                    "tether-bench: {} integrate {}/{n}: last {:.0} ms (floor {:.0} ms)",
                    e.name(),
                    i + 1,
                    ms(t_login),
                    ms(fstart.elapsed())
                );
            }
        }
        self.integrated.get_or_insert_with(|| apps[n - 1].clone());
        self.r.row(e.name(), "integrate", "Integrate → credentials that log in", "ms", lat(&total)?, Some(lat(&floor_t)?));
        self.r.step(e, "`tether integrate` returns", &cmd)?;
        self.r.step(e, "… then credentials visible (`show-unit` polled)", &visible)?;
        self.r.step(e, "… then `run get-credentials`", &get_creds)?;
        self.r.step(e, "… then one login", &login)?;
        // What one observation costs when nothing changes: the polling overhead (once).
        if !self.r.breakdown.iter().any(|(_, k, _)| k.starts_with("idle")) {
            let mut show = Vec::new();
            let mut action = Vec::new();
            for _ in 0..10 {
                show.push(self.t.ok(&["show-unit", &format!("{}/0", apps[0]), "--format", "json"])?.elapsed);
                let s = Instant::now();
                self.t.action(&format!("{}/leader", apps[0]), "get-credentials")?;
                action.push(s.elapsed());
            }
            self.r.step(e, "idle `show-unit --format json` (one poll)", &show)?;
            self.r.step(e, "idle `run get-credentials`", &action)?;
        }
        self.r.fact(
            &format!("{}: show-unit polls per integration", e.name()),
            format!("{:.1} (mean {:.1} ms each, {TIGHT_POLL:?} apart)", polls as f64 / n as f64, ms(poll_time) / polls.max(1) as f64),
        );
        Ok(creds)
    }

    /// `remove-relation` until the old credentials are refused.
    fn remove_latency(&mut self, e: Engine, creds: &[Creds]) -> Result<()> {
        let server = self.server(e)?.clone();
        let mut admin = self.rt.block_on(server.admin()).context("admin login for the floor")?;
        let mut tether = Vec::new();
        let mut cmd = Vec::new();
        let mut hand = Vec::new();
        for (i, c) in creds.iter().enumerate().take(self.args.removals) {
            let app = format!("{}lat{i}", e.prefix());
            let start = Instant::now();
            self.t.ok(&["remove-relation", &app, e.charm()])?;
            cmd.push(start.elapsed());
            wait_until(&format!("{app}'s old credentials to be refused"), Duration::from_secs(120), TIGHT_POLL, || {
                Ok(match self.rt.block_on(server.login(&c.user, &c.password, &c.database)) {
                    Login::Refused => true,
                    Login::Ok => false,
                    // The database may refuse connections while the user is dropped.
                    Login::Other(_) => false,
                })
            })?;
            tether.push(start.elapsed());
            let name = format!("floor_lat_{i}");
            let s = Instant::now();
            self.rt.block_on(server.remove(&mut admin, &name, &floor::password(i as u64)))?;
            hand.push(s.elapsed());
        }
        if self.integrated.as_deref() == Some(&format!("{}lat{}", e.prefix(), creds.len() - 1)) && self.args.removals >= creds.len() {
            self.integrated = None;
        }
        self.r.row(e.name(), "remove", "Remove relation → old credentials refused", "ms", lat(&tether)?, Some(lat(&hand)?));
        self.r.step(e, "`tether remove-relation` returns", &cmd)?;
        Ok(())
    }

    /// Credential rotation of one integration, sample after sample: from starting
    /// `rotate-credentials` until the requirer's `get-credentials` shows the new username
    /// and a login with the new credentials succeeds. Between samples the previous login's
    /// retirement (after [`ROTATION_GRACE`]) is awaited, untimed, so every rotation finds
    /// none in its grace period. Throughout, a client opens a new connection with the
    /// credentials the requirer shows and runs one query every [`CLIENT_EVERY`], switching
    /// as soon as `get-credentials` shows the new ones; its failures are counted.
    fn rotation(&mut self, e: Engine) -> Result<()> {
        let n = self.args.rotations;
        let charm = e.charm();
        let leader = format!("{charm}/leader");
        self.t.ok(&["config", charm, &format!("credential-grace-period={}s", ROTATION_GRACE.as_secs())])?;
        let app = self.deploy_integrators(e, "rot", 1)?.remove(0);
        self.t.ok(&["integrate", &app, charm])?;
        self.wait_app(&app, "active")?;
        let first = self.credentials(e, &app)?;
        let server = self.server(e)?.clone();
        if self.rt.block_on(server.login(&first.user, &first.password, &first.database)) != Login::Ok {
            bail!("{app}'s credentials do not log in");
        }
        let mut admin = self.rt.block_on(server.admin()).context("admin login for the floor")?;
        let floor_first = "floor_rot";
        self.rt.block_on(server.integrate(&mut admin, floor_first, &floor::password(20_000)))?;

        let client = Client::start(&self.rt, e, server.port, first.clone());
        let outcome = self.rotation_samples(e, n, &leader, &app, &server, &mut admin, floor_first, &client, first);
        let (queries, failures, errors) = client.stop(&self.rt);
        let (tether, hand, cmd, shown, login, polls) = outcome?;
        let name = e.name();
        self.r.row(name, "rotate", "Rotate credentials → requirer has new ones that log in", "ms", lat(&tether)?, Some(lat(&hand)?));
        self.r.row(
            name,
            "rotate_failed_queries",
            &format!("Queries that failed during rotations (of {queries} in {n} rotations)"),
            "count",
            Figure::Value(failures as f64),
            None,
        );
        self.r.rotation_queries.push((name, queries, n));
        self.r.step(e, "`tether run rotate-credentials` returns", &cmd)?;
        self.r.step(e, "… then `get-credentials` shows the new username (polled)", &shown)?;
        self.r.step(e, "… then one login with the new credentials", &login)?;
        self.r.fact(
            &format!("{name} rotation: `get-credentials` polls per rotation"),
            format!("{:.1} (credential-grace-period={}s)", polls as f64 / n as f64, ROTATION_GRACE.as_secs()),
        );
        if let Some(first_error) = errors.first() {
            self.r.fact(&format!("{name} rotation: first failed query"), first_error.clone());
        }
        Ok(())
    }

    /// The timed samples of [`Bench::rotation`]: tether's and the floor's times and
    /// tether's steps (command, then new username shown, then login) and the polls made.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn rotation_samples(
        &self,
        e: Engine,
        n: usize,
        leader: &str,
        app: &str,
        server: &Server,
        admin: &mut Admin,
        floor_first: &str,
        client: &Client,
        mut current: Creds,
    ) -> Result<(Vec<Duration>, Vec<Duration>, Vec<Duration>, Vec<Duration>, Vec<Duration>, usize)> {
        let (mut tether, mut hand, mut cmd, mut shown, mut login) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut polls = 0usize;
        let target = format!("application={app}");
        for i in 0..n {
            let old = current.clone();
            let start = Instant::now();
            let res = self.t.action_with(leader, "rotate-credentials", &[&target])?;
            let t_cmd = start.elapsed();
            let new_user = res["rotated"]
                .as_object()
                .and_then(|m| m.values().next())
                .and_then(|r| r["username"].as_str())
                .map(str::to_string)
                .ok_or_else(|| anyhow!("rotate-credentials named no new username: {res}"))?;
            let mut seen = None;
            wait_until(&format!("{app} to show {new_user}"), Duration::from_secs(120), TIGHT_POLL, || {
                polls += 1;
                let c = self.credentials(e, app)?;
                let done = c.user == new_user;
                seen = Some(c).filter(|_| done);
                Ok(done)
            })?;
            let t_shown = start.elapsed();
            current = seen.ok_or_else(|| anyhow!("no credentials seen"))?;
            client.switch(current.clone());
            match self.rt.block_on(server.login(&current.user, &current.password, &current.database)) {
                Login::Ok => {}
                other => bail!("{app}'s rotated credentials do not log in: {other:?}"),
            }
            let t_login = start.elapsed();
            tether.push(t_login);
            cmd.push(t_cmd);
            shown.push(t_shown - t_cmd);
            login.push(t_login - t_shown);

            let s = Instant::now();
            let next = format!("{floor_first}_r{}", i + 1);
            self.rt.block_on(server.rotate(admin, floor_first, &next, &floor::password(20_001 + i as u64)))?;
            hand.push(s.elapsed());
            eprintln!(
                "tether-bench: {} rotation {}/{n}: {:.0} ms (floor {:.0} ms); waiting for {} to be retired (untimed)",
                e.name(),
                i + 1,
                ms(t_login),
                ms(s.elapsed()),
                old.user
            );
            // Untimed: the previous login retired when the grace period ends, so the next
            // rotation is not refused. The client keeps querying with the new credentials.
            wait_until(&format!("{}'s previous login to be refused", app), ROTATION_GRACE * 6 + SETTLE / 10, STATUS_POLL * 4, || {
                Ok(self.rt.block_on(server.login(&old.user, &old.password, &old.database)) == Login::Refused)
            })?;
            // The retiring hook commits right after the server refuses: let it finish.
            sleep(Duration::from_millis(300));
        }
        Ok((tether, hand, cmd, shown, login, polls))
    }

    /// Many data-integrators integrated at once, against the floor at the same concurrency.
    fn throughput(&mut self, e: Engine) -> Result<()> {
        let n = self.args.throughput;
        self.r.throughput_n = n;
        let apps = self.deploy_integrators(e, "tp", n)?;
        // The floor runs first, so its databases and users do not slow tether's (nor the
        // other way round more than the latency phase already did).
        let floor_total = self.floor_throughput(e, n)?;
        eprintln!("tether-bench: {} floor at the same concurrency: {:.1} s", e.name(), floor_total.as_secs_f64());
        eprintln!("tether-bench: integrating {n} at once with {}", e.charm());
        let start = Instant::now();
        self.parallel(n, 16, |i| ["integrate", &apps[i], e.charm()].map(String::from).to_vec())?;
        let issued = start.elapsed();
        self.wait_apps(&apps, "active", Duration::from_millis(100))?;
        let total = start.elapsed();
        eprintln!("tether-bench: {n} integrations: {:.1} s (commands issued in {:.1} s)", total.as_secs_f64(), issued.as_secs_f64());
        // Untimed proof that what "active" announced logs in, on a sample.
        let server = self.server(e)?.clone();
        let sample: Vec<usize> = (0..n).step_by((n / 20).max(1)).collect();
        for &i in &sample {
            let c = self.credentials(e, &apps[i])?;
            if self.rt.block_on(server.login(&c.user, &c.password, &c.database)) != Login::Ok {
                bail!("{}'s credentials do not log in", apps[i]);
            }
        }
        self.integrated = Some(apps[0].clone());
        if e == Engine::Pg {
            let held = self.rt.block_on(async {
                let c = floor::connect(server.port, OPERATOR, &server.admin_pw, "postgres").await?;
                let row = c.query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tether'", &[]).await?;
                Ok::<i64, anyhow::Error>(row.get(0))
            })?;
            self.r.fact(
                "PostgreSQL: server connections held by tether's admin after the throughput phase",
                format!("{held} (max_connections 100)"),
            );
        }
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        let name = e.name();
        self.r.row(
            name,
            "throughput",
            &format!("{n} integrations at once (credentials/s)"),
            "creds/s",
            Figure::Value(rate(total)),
            Some(Figure::Value(rate(floor_total))),
        );
        self.r.row(
            name,
            "throughput_total",
            &format!("{n} integrations at once (total)"),
            "ms",
            Figure::Value(ms(total)),
            Some(Figure::Value(ms(floor_total))),
        );
        self.r.fact(&format!("{name} throughput: all integrate commands returned after"), format!("{:.0} ms", ms(issued)));
        self.r.fact(&format!("{name} throughput: credentials checked by a login"), format!("{} of {n} (untimed)", sample.len()));
        Ok(())
    }

    /// `n` tokio tasks issuing the floor's statements over a pool of admin connections.
    fn floor_throughput(&self, e: Engine, n: usize) -> Result<Duration> {
        let pool_size = n.min(FLOOR_POOL);
        let server = Arc::new(self.server(e)?.clone());
        self.rt.block_on(async move {
            let mut conns: Vec<Admin> = Vec::new();
            for _ in 0..pool_size {
                conns.push(server.admin().await?);
            }
            let pool = Arc::new(tokio::sync::Mutex::new(conns));
            let permits = Arc::new(tokio::sync::Semaphore::new(pool_size));
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..n {
                let (pool, permits, server) = (pool.clone(), permits.clone(), server.clone());
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await?;
                    let mut c = pool.lock().await.pop().ok_or_else(|| anyhow!("pool empty"))?;
                    let name = format!("floor_tp_{i}");
                    let r = server.integrate(&mut c, &name, &floor::password(10_000 + i as u64)).await;
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

    /// An action of a tiny external sh charm (`bench/charms/noop`) against a native
    /// charm's (`data-integrator`'s `get-credentials`), both whole `tether run` processes,
    /// interleaved.
    fn dispatch(&mut self) -> Result<()> {
        let native = self.integrated.clone().ok_or_else(|| anyhow!("no data-integrator with credentials to compare with"))?;
        let charm =
            self.args.noop_charm.canonicalize().with_context(|| format!("the external charm {}", self.args.noop_charm.display()))?;
        self.t.ok(&["deploy", &charm.to_string_lossy(), "noop"])?;
        self.wait_app("noop", "active")?;
        let (mut noop, mut set, mut native_t) = (Vec::new(), Vec::new(), Vec::new());
        let native_unit = format!("{native}/leader");
        for i in 0..self.args.rounds + 3 {
            let a = self.t.ok(&["run", "noop/0", "noop"])?.elapsed;
            let b = self.t.ok(&["run", "noop/0", "set"])?.elapsed;
            let c = self.t.ok(&["run", &native_unit, "get-credentials"])?.elapsed;
            if i >= 3 {
                noop.push(a);
                set.push(b);
                native_t.push(c);
            }
        }
        let native_fig = lat(&native_t)?;
        self.r.row(
            CONTROLLER,
            "dispatch_noop",
            "`run` no-op action, external sh charm (vs native `get-credentials`)",
            "ms",
            lat(&noop)?,
            Some(native_fig.clone()),
        );
        self.r.row(
            CONTROLLER,
            "dispatch_set",
            "`run` action with one `action-set`, external sh charm (vs native)",
            "ms",
            lat(&set)?,
            Some(native_fig),
        );
        self.r.fact("hook dispatch: native action timed", format!("`run {native_unit} get-credentials` (data-integrator, in-process)"));
        Ok(())
    }

    /// Memory, `status` with many applications, a small model's round trip.
    fn controller(&mut self, rss_empty: f64, rss_servers: f64) -> Result<()> {
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
        let deployed: Vec<&str> = self.servers.iter().map(|s| s.engine.charm()).collect();
        let c = CONTROLLER;
        self.r.row(c, "rss_idle", "Controller RSS, empty model", "MiB", Figure::Value(rss_empty), None);
        self.r.row(c, "rss_servers", &format!("Controller RSS, {} only", deployed.join(" + ")), "MiB", Figure::Value(rss_servers), None);
        self.r.row(c, "rss_many", &format!("Controller RSS, {apps} applications"), "MiB", Figure::Value(rss_many), None);
        self.r.row(c, "status_many", &format!("`status --format json`, {apps} applications"), "ms", lat(&status)?, None);
        self.r.row(c, "status_small", "`status` round trip, small model", "ms", lat(&small)?, Some(lat(&version)?));
        self.r.fact("floor of the small-model round trip", "`tether version` (the same process start, no controller request)");
        Ok(())
    }
}

fn lat(samples: &[Duration]) -> Result<Figure> {
    summarise(samples).map(Figure::Latency).ok_or_else(|| anyhow!("no samples"))
}

/// The client that queries through rotations: a task opening a new connection with the
/// credentials the requirer shows (set by [`Client::switch`]) and running one query every
/// [`CLIENT_EVERY`], counting the queries and the failures.
struct Client {
    creds: Arc<Mutex<Creds>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    queries: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    fn start(rt: &tokio::runtime::Runtime, e: Engine, port: u16, creds: Creds) -> Client {
        let creds = Arc::new(Mutex::new(creds));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (c, st, q, f, er) = (creds.clone(), stop.clone(), queries.clone(), failures.clone(), errors.clone());
        let task = rt.spawn(async move {
            while !st.load(Ordering::SeqCst) {
                let now = c.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let r = e.query(port, &now.user, &now.password, &now.database).await;
                q.fetch_add(1, Ordering::SeqCst);
                if let Err(why) = r {
                    f.fetch_add(1, Ordering::SeqCst);
                    let mut er = er.lock().unwrap_or_else(|p| p.into_inner());
                    if er.len() < 5 {
                        er.push(format!("as {}: {why}", now.user));
                    }
                }
                tokio::time::sleep(CLIENT_EVERY).await;
            }
        });
        Client { creds, stop, queries, failures, errors, task }
    }

    /// The credentials `get-credentials` shows now.
    fn switch(&self, creds: Creds) {
        *self.creds.lock().unwrap_or_else(|p| p.into_inner()) = creds;
    }

    /// Stops the client; the queries made, those that failed, the first failures.
    fn stop(self, rt: &tokio::runtime::Runtime) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = rt.block_on(self.task);
        let errors = self.errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (self.queries.load(Ordering::SeqCst), self.failures.load(Ordering::SeqCst), errors)
    }
}
