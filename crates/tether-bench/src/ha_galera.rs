//! The Galera failover figure of the HA phases: `mysql-k8s -n 3` and a data-integrator;
//! SIGKILL of the write node's `mariadbd` (the pid in its unit's `mysqld.pid`; tether's
//! supervisor restarts it and it rejoins by IST), timed in three phases: until a member
//! accepts a write (as the relation's user), then until `get-credentials` names in
//! `endpoints` a member that takes a write (the endpoints moved, or the restarted member
//! took writes again first), then until a login with the published credentials succeeds.
//! Floor: a bare three-node Galera cluster ([`crate::galera_floor`]), the same kill, until
//! a remaining node accepts a write.

use crate::failover::{FailoverSample, FailoverSeries};
use crate::galera_floor::{self, GaleraCluster, DATABASE};
use crate::mariadb;
use crate::phases::{Figure, Results, Row};
use crate::stats::{ms, summarise};
use crate::tether::{all_units, wait_until, Tether};
use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The table of the Galera rows.
pub const HA_GALERA: &str = "MariaDB Galera HA";
const CHARM: &str = "mysql-k8s";
const DI: &str = "mygalera";
const SETTLE: Duration = Duration::from_secs(600);
const STATUS_POLL: Duration = Duration::from_millis(100);
const CREDS_POLL: Duration = Duration::from_millis(20);

struct Creds {
    user: String,
    password: String,
    endpoint: Option<u16>,
    readers: usize,
}

fn ports_of(list: &str) -> Vec<u16> {
    list.split(',').filter_map(|e| e.trim().rsplit(':').next()?.parse().ok()).collect()
}

fn credentials(t: &Tether) -> Result<Creds> {
    let res = t.action(&format!("{DI}/leader"), "get-credentials")?;
    let c = &res["mysql"];
    let field = |k: &str| c[k].as_str().map(str::to_string).ok_or_else(|| anyhow!("get-credentials has no {k}"));
    Ok(Creds {
        user: field("username")?,
        password: field("password")?,
        endpoint: ports_of(&field("endpoints")?).first().copied(),
        readers: ports_of(c["read-only-endpoints"].as_str().unwrap_or_default()).len(),
    })
}

/// `get-cluster-status`: the write node's unit and every member's port, when all three are synced.
fn synced_cluster(t: &Tether) -> Result<Option<(String, Vec<u16>)>> {
    let r = t.action(&format!("{CHARM}/leader"), "get-cluster-status")?;
    let members: Vec<&Value> = r["members"].as_object().map(|m| m.values().collect()).unwrap_or_default();
    let synced = members.iter().filter(|m| m["state"] == "Synced").count();
    let write = r["write-node"].as_str().unwrap_or_default().to_string();
    if members.len() != 3 || synced != 3 || write.is_empty() {
        return Ok(None);
    }
    let ports = members.iter().filter_map(|m| m["address"].as_str().map(ports_of).and_then(|p| p.first().copied())).collect();
    Ok(Some((write, ports)))
}

fn pid_file(t: &Tether, unit: &str) -> Result<PathBuf> {
    let name = unit.replace('/', "-");
    let units = t.home().join("units");
    std::fs::read_dir(&units)
        .with_context(|| format!("read {}", units.display()))?
        .flatten()
        .map(|m| m.path().join(&name).join("mysqld.pid"))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("no mysqld.pid for {unit}"))
}

/// Until every member is synced, every unit active and the requirer sees two readers.
fn wait_whole(t: &Tether) -> Result<(String, Vec<u16>)> {
    let mut found = None;
    wait_until("the Galera cluster to be whole", SETTLE, STATUS_POLL, || {
        found = synced_cluster(t)?;
        Ok(found.is_some() && all_units(&t.status(None)?, CHARM, "active")? && credentials(t)?.readers == 2)
    })?;
    found.ok_or_else(|| anyhow!("no cluster"))
}

fn sample(t: &Tether, rt: &tokio::runtime::Runtime) -> Result<FailoverSample> {
    let (writer, ports) = wait_whole(t)?;
    let before = credentials(t)?;
    let pid: i32 = std::fs::read_to_string(pid_file(t, &writer)?)?.trim().parse().context("mysqld.pid")?;
    let start = Instant::now();
    crate::ha_floor::sigkill(pid)?;
    galera_floor::first_writable(rt, &ports, &before.user, &before.password, DATABASE)?;
    let write = start.elapsed();
    let mut published = None;
    wait_until("get-credentials to name a member that takes writes", SETTLE, CREDS_POLL, || {
        let c = credentials(t)?;
        let ok = c.endpoint.is_some_and(|p| rt.block_on(galera_floor::write_once(p, &c.user, &c.password, DATABASE)));
        published = Some(c);
        Ok(ok)
    })?;
    let publish = start.elapsed() - write;
    let c = published.ok_or_else(|| anyhow!("no credentials"))?;
    let port = c.endpoint.ok_or_else(|| anyhow!("no endpoint"))?;
    let login = loop {
        match rt.block_on(mariadb::login(port, &c.user, &c.password, DATABASE)) {
            crate::floor::Login::Ok => break start.elapsed() - write - publish,
            other if start.elapsed() > SETTLE => bail!("the published credentials do not log in on {port}: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    Ok(FailoverSample { write, publish, login, moved: Some(port) != before.endpoint })
}

/// Deploys the cluster and the floor, runs `n` failovers on each, interleaved, and adds
/// the rows, steps and facts to `r`.
pub fn failovers(t: &Tether, rt: &tokio::runtime::Runtime, n: usize, r: &mut Results) -> Result<()> {
    t.ok(&["deploy", CHARM, "-n", "3", "--config", "profile=testing"])?;
    t.ok(&["deploy", "data-integrator", DI, "--config", &format!("database-name={DATABASE}")])?;
    t.ok(&["integrate", DI, CHARM])?;
    wait_until("mysql-k8s and its data-integrator active", SETTLE, STATUS_POLL, || {
        let s = t.status(None)?;
        Ok(all_units(&s, CHARM, "active")? && all_units(&s, DI, "active")?)
    })?;
    wait_whole(t)?;
    let c = credentials(t)?;
    let port = c.endpoint.ok_or_else(|| anyhow!("no endpoint"))?;
    rt.block_on(async {
        let mut s = mariadb::connect(port, &c.user, &c.password).await?;
        s.query_drop(format!("USE {DATABASE}")).await?;
        s.query_drop(galera_floor::create_table()).await?;
        anyhow::Ok(())
    })
    .context("create the write table as the relation's user")?;
    eprintln!("tether-bench: starting a bare three-node Galera cluster (the failover floor)");
    let mut bare = GaleraCluster::start(rt)?;
    let (mut series, mut floor) = (FailoverSeries::default(), Vec::new());
    for i in 0..n {
        let s = sample(t, rt)?;
        series.record(&format!("Galera failover {i}"), &s, " (the restarted member took writes again first)");
        let d = bare.failover(rt)?;
        eprintln!("tether-bench: bare Galera failover {i}: write after {:.0} ms", ms(d));
        floor.push(d);
    }
    drop(bare);
    let lat = |s: &[Duration]| summarise(s).map(Figure::Latency).ok_or_else(|| anyhow!("no samples"));
    for (key, metric, tether) in [
        ("galera_write", "Failover: SIGKILL of the write node's `mariadbd` → a member accepts a write", &series.write),
        (
            "galera_login",
            "Failover: SIGKILL → endpoints name a member that takes writes → a requirer's login (vs → a write)",
            &series.total,
        ),
    ] {
        r.rows.push(Row {
            engine: HA_GALERA,
            key,
            metric: metric.into(),
            unit: "ms",
            tether: lat(tether)?,
            floor: Some(lat(&floor)?),
            higher_is_better: false,
        });
    }
    for (name, s) in series.breakdown([
        "Galera: SIGKILL → a member accepts a write (as the relation's user)",
        "Galera: … then `get-credentials` names a member that takes writes (polled)",
        "Galera: … then a login with the published credentials succeeds",
    ])? {
        r.breakdown.push((HA_GALERA, name, s));
    }
    r.facts.push((
        "MariaDB Galera HA: failovers whose endpoints moved to another member (else the supervisor's restart took writes again first)"
            .into(),
        format!("{} of {n}", series.moved),
    ));
    Ok(())
}
