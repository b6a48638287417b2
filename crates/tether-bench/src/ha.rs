//! The high-availability phases (`--phases ha`), each tether figure next to a floor the
//! harness starts itself ([`crate::ha_floor`]), in one run:
//!
//! 1. `deploy postgresql-k8s -n 3` until every unit is `active` and one shows `Primary`,
//!    against one `initdb` + start and two `pg_basebackup -R` replicas streaming;
//! 2. failover: SIGKILL of the primary unit's `postgres` (the postmaster only; Patroni
//!    lives on and reacts), timed in three phases: until a member accepts a write (as the
//!    relation's user, on the member's port), then until `get-credentials` of a
//!    data-integrator names that member in `endpoints`, then until a login with the
//!    published credentials on it succeeds; against the same kill on a bare Patroni +
//!    etcd cluster with the charm's timings, until a member accepts a write.
//!
//! 3. the same failover on `mysql-k8s -n 3` (Galera) against a bare three-node Galera
//!    cluster ([`crate::ha_galera`]).
//!
//! Between samples both clusters are left to become whole again (one primary, two
//! replicas streaming), untimed. The results go to their own files (`bench/ha.json`, the
//! `bench/ha.md` section BENCHMARKS.md includes), so running only these phases leaves the
//! other figures as they are.

use crate::failover::{FailoverSample, FailoverSeries};
use crate::ha_floor::{self, PatroniCluster, TABLE};
use crate::ha_galera;
use crate::machine;
use crate::phases::{Figure, Results, Row};
use crate::stats::{ms, summarise};
use crate::tether::{all_units, wait_until, Tether};
use crate::{floor, Args};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The table of the HA rows.
pub const HA: &str = "PostgreSQL HA";
const CHARM: &str = "postgresql-k8s";
const DI: &str = "haint";
const DATABASE: &str = "benchha";
const SETTLE: Duration = Duration::from_secs(600);
const STATUS_POLL: Duration = Duration::from_millis(100);
/// Between `get-credentials` polls while a failover is timed (each is a whole `tether run`).
const CREDS_POLL: Duration = Duration::from_millis(20);

struct Creds {
    user: String,
    password: String,
    endpoints: String,
    read_only: String,
}

fn ports_of(list: &str) -> Vec<u16> {
    list.split(',').filter_map(|e| e.trim().rsplit(':').next()?.parse().ok()).collect()
}

struct Ha<'a> {
    args: &'a Args,
    t: Tether,
    rt: tokio::runtime::Runtime,
    r: Results,
}

pub fn run(args: &Args) -> Result<Results> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let machine = machine::describe(&args.tether);
    eprintln!("tether-bench: HA phases: starting a controller (load {})", machine.load_before);
    let t = Tether::bootstrap(&args.tether)?;
    eprintln!("tether-bench: TETHER_HOME={}", t.home().display());
    let mut h = Ha { args, t, rt, r: Results { machine, ..Default::default() } };
    let outcome = h.all();
    if let Err(e) = &outcome {
        h.r.errors.push(format!("{e:#}"));
        eprintln!("tether-bench: HA run stopped early: {e:#}; log: {}/logs/controller.log", h.t.home().display());
    }
    if let Err(e) = h.t.destroy() {
        eprintln!("tether-bench: destroy-controller failed: {e:#}");
    }
    h.r.machine.load_after = machine::loadavg();
    if h.r.rows.is_empty() {
        return Err(outcome.err().unwrap_or_else(|| anyhow!("nothing was measured")));
    }
    Ok(h.r)
}

impl Ha<'_> {
    fn all(&mut self) -> Result<()> {
        self.deploys()?;
        self.failovers()?;
        // The Galera figure comes last; if it fails, PostgreSQL's are still reported.
        if let Err(e) = ha_galera::failovers(&self.t, &self.rt, self.args.failovers, &mut self.r) {
            eprintln!("tether-bench: Galera failovers: {e:#}");
            self.r.errors.push(format!("Galera failovers: {e:#}"));
        }
        Ok(())
    }

    fn row(&mut self, key: &'static str, metric: &str, tether: &[Duration], floor: Option<&[Duration]>) -> Result<()> {
        let lat = |s: &[Duration]| summarise(s).map(Figure::Latency).ok_or_else(|| anyhow!("no samples"));
        let floor = floor.map(lat).transpose()?;
        self.r.rows.push(Row { engine: HA, key, metric: metric.into(), unit: "ms", tether: lat(tether)?, floor, higher_is_better: false });
        Ok(())
    }

    fn fact(&mut self, k: &str, v: impl Into<String>) {
        let v = v.into();
        eprintln!("tether-bench: {k}: {v}");
        self.r.facts.push((k.into(), v));
    }

    fn status(&self) -> Result<Value> {
        self.t.status(None)
    }

    /// Every unit active and exactly one saying `Primary`; the primary's unit name.
    fn primary_unit(&self, app: &str) -> Result<Option<String>> {
        let s = self.status()?;
        if !all_units(&s, app, "active")? {
            return Ok(None);
        }
        let units = s["applications"][app]["units"].as_object().cloned().unwrap_or_default();
        let primaries: Vec<&String> =
            units.iter().filter(|(_, u)| u["workload-status"]["message"].as_str() == Some("Primary")).map(|(n, _)| n).collect();
        Ok((units.len() == 3 && primaries.len() == 1).then(|| primaries[0].clone()))
    }

    fn deploys(&mut self) -> Result<()> {
        let (mut tether, mut hand) = (Vec::new(), Vec::new());
        for i in 0..self.args.ha_deploys {
            let app = if i == 0 { CHARM.to_string() } else { format!("pgha{i}") };
            let start = Instant::now();
            self.t.ok(&["deploy", CHARM, &app, "-n", "3"])?;
            wait_until(&format!("{app}: three units active, one Primary"), SETTLE, STATUS_POLL, || Ok(self.primary_unit(&app)?.is_some()))?;
            tether.push(start.elapsed());
            eprintln!("tether-bench: deploy {app} -n 3 to active with a Primary: {:.0} ms", ms(start.elapsed()));
            if i > 0 {
                self.t.ok(&["remove-application", &app])?;
                wait_until(&format!("{app} to go"), SETTLE, STATUS_POLL, || {
                    Ok(self.status()?["applications"].get(app.as_str()).is_none())
                })?;
            }
            let d = ha_floor::three_by_hand(&self.rt)?;
            eprintln!("tether-bench: initdb + start + two pg_basebackup -R replicas streaming: {:.0} ms", ms(d));
            hand.push(d);
        }
        self.row(
            "deploy_n3",
            "Deploy postgresql-k8s -n 3 to active with a Primary (vs initdb + start + two `pg_basebackup -R` replicas streaming)",
            &tether,
            Some(&hand),
        )
    }

    fn credentials(&self) -> Result<Creds> {
        let res = self.t.action(&format!("{DI}/leader"), "get-credentials")?;
        let c = &res["postgresql"];
        let field = |k: &str| c[k].as_str().map(str::to_string).ok_or_else(|| anyhow!("get-credentials has no {k}"));
        Ok(Creds {
            user: field("username")?,
            password: field("password")?,
            endpoints: field("endpoints")?,
            read_only: c["read-only-endpoints"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The unit's data directory under the controller's home (`units/<model>/<unit>`).
    fn pgdata(&self, unit: &str) -> Result<PathBuf> {
        let name = unit.replace('/', "-");
        let units = self.t.home().join("units");
        std::fs::read_dir(&units)
            .with_context(|| format!("read {}", units.display()))?
            .flatten()
            .map(|m| m.path().join(&name).join("pgdata"))
            .find(|p| p.is_dir())
            .ok_or_else(|| anyhow!("no data directory for {unit}"))
    }

    /// Until the requirer sees one primary and two read-only endpoints, and the cluster is
    /// whole (every replica streaming).
    fn wait_whole(&self, operator_pw: &str) -> Result<Vec<u16>> {
        let mut ports = Vec::new();
        wait_until("the requirer to see a primary and two replicas", SETTLE, STATUS_POLL, || {
            let c = self.credentials()?;
            ports = ports_of(&c.endpoints);
            ports.extend(ports_of(&c.read_only));
            Ok(ports.len() == 3 && self.primary_unit(CHARM)?.is_some())
        })?;
        ha_floor::wait_settled(&self.rt, &ports, operator_pw)?;
        Ok(ports)
    }

    fn failovers(&mut self) -> Result<()> {
        self.t.ok(&["deploy", "data-integrator", DI, "--config", &format!("database-name={DATABASE}")])?;
        self.t.ok(&["integrate", DI, CHARM])?;
        wait_until("the data-integrator to be active", SETTLE, STATUS_POLL, || all_units(&self.status()?, DI, "active"))?;
        let res = self.t.action(&format!("{CHARM}/leader"), "get-password")?;
        let operator_pw = res["password"].as_str().ok_or_else(|| anyhow!("get-password returned no password"))?.to_string();
        self.wait_whole(&operator_pw)?;
        let c = self.credentials()?;
        let primary = ports_of(&c.endpoints)[0];
        self.rt
            .block_on(async {
                let s = floor::connect(primary, &c.user, &c.password, DATABASE).await?;
                s.batch_execute(&format!("CREATE TABLE IF NOT EXISTS {TABLE} (at timestamptz)")).await
            })
            .context("create the write table as the relation's user")?;

        eprintln!("tether-bench: starting a bare Patroni + etcd cluster (the failover floor)");
        let bare = PatroniCluster::start(&self.rt)?;
        let (mut series, mut floor, mut floor_moved) = (FailoverSeries::default(), Vec::new(), 0);
        for i in 0..self.args.failovers {
            let s = self.failover_sample(&operator_pw)?;
            series.record(&format!("failover {i}"), &s, " (restarted in place)");
            let (d, m) = bare.failover(&self.rt)?;
            eprintln!(
                "tether-bench: bare Patroni failover {i}: write after {:.0} ms{}",
                ms(d),
                if m { "" } else { " (restarted in place)" }
            );
            floor.push(d);
            floor_moved += usize::from(m);
        }
        drop(bare);
        let n = self.args.failovers;
        self.row(
            "failover_write",
            "Failover: SIGKILL of the primary's `postgres` → a member accepts a write",
            &series.write,
            Some(&floor),
        )?;
        self.row(
            "failover_login",
            "Failover: SIGKILL → endpoints republished → a requirer's login on the new endpoint succeeds (vs → a write)",
            &series.total,
            Some(&floor),
        )?;
        for (name, s) in series.breakdown([
            "SIGKILL → a member accepts a write (as the relation's user)",
            "… then `get-credentials` names it in `endpoints` (polled)",
            "… then a login with the published credentials succeeds",
        ])? {
            self.r.breakdown.push((HA, name, s));
        }
        self.fact(
            "PostgreSQL HA: failovers where another member took over (else Patroni restarted the primary in place)",
            format!("tether {} of {n}, bare Patroni {floor_moved} of {n}", series.moved),
        );
        self.fact(
            "PostgreSQL HA: Patroni timings of both clusters (tether_core::patroni_timing)",
            format!(
                "ttl {} s, loop_wait {} s, retry_timeout {} s",
                tether_core::patroni_timing::TTL_SECS,
                tether_core::patroni_timing::LOOP_WAIT_SECS,
                tether_core::patroni_timing::RETRY_TIMEOUT_SECS
            ),
        );
        Ok(())
    }

    fn failover_sample(&self, operator_pw: &str) -> Result<FailoverSample> {
        let ports = self.wait_whole(operator_pw)?;
        let unit = self.primary_unit(CHARM)?.ok_or_else(|| anyhow!("no Primary unit"))?;
        let data = self.pgdata(&unit)?;
        let pid = ha_floor::postmaster_pid(&data).ok_or_else(|| anyhow!("{unit} has no postmaster.pid"))?;
        let before = self.credentials()?;
        let old = ports_of(&before.endpoints)[0];
        let start = Instant::now();
        ha_floor::sigkill(pid)?;
        let port = ha_floor::first_writable(&self.rt, &ports, &before.user, &before.password, DATABASE)?;
        let write = start.elapsed();
        let mut creds = None;
        wait_until("get-credentials to name the new primary", SETTLE, CREDS_POLL, || {
            let c = self.credentials()?;
            let ok = ports_of(&c.endpoints) == [port];
            creds = Some(c);
            Ok(ok)
        })?;
        let publish = start.elapsed() - write;
        let c = creds.ok_or_else(|| anyhow!("no credentials"))?;
        let login = loop {
            match self.rt.block_on(floor::login(port, &c.user, &c.password, DATABASE)) {
                floor::Login::Ok => break start.elapsed() - write - publish,
                other if start.elapsed() > SETTLE => bail!("the published credentials do not log in on {port}: {other:?}"),
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        Ok(FailoverSample { write, publish, login, moved: port != old })
    }
}
