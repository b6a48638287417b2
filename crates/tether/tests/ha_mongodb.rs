//! High availability of `mongodb` under FerretDB, end to end on real servers: `deploy
//! mongodb -n 3` runs an etcd member, a Patroni with its PostgreSQL and a FerretDB per
//! unit, every FerretDB storing its data in the application's Patroni cluster. A
//! data-integrator's credentials are issued once and keep working, with every
//! acknowledged document, after the primary unit is frozen (SIGSTOP of its Patroni and
//! PostgreSQL, then SIGCONT), after SIGKILL of the primary unit's PostgreSQL, of its
//! Patroni and of every process of the unit, after a switchover, while a replica is
//! removed under writes and after add-unit; `endpoints` follows the Patroni primary's
//! FerretDB and a frozen, killed or new unit serves as a replica; a failover while no
//! controller runs is followed by the next one. `update-status` runs
//! every 10 minutes here, so what follows a failover is the charm's watcher. Every wait
//! polls a condition, bounded.

mod common;

use common::*;
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const MONGO: &str = "mongodb";
const DI: &str = "data-integrator";
const V1: &str = "v1";
const DATABASE: &str = "ha_docs";
const COLLECTION: &str = "acknowledged";
const PRIMARY: &str = "Primary (FerretDB over Patroni)";
const REPLICA: &str = "replica (FerretDB over Patroni)";

/// The FerretDB binary the daemon will find (`.tools/bin/ferretdb` above it, or
/// `$TETHER_FERRETDB_BIN`): the test fails, never skips, without it.
fn assert_ferretdb_installed() {
    let from_env = std::env::var_os("TETHER_FERRETDB_BIN").filter(|p| !p.is_empty()).map(PathBuf::from);
    let found = from_env.or_else(|| std::path::Path::new(TETHER).ancestors().map(|d| d.join(".tools/bin/ferretdb")).find(|p| p.is_file()));
    assert!(found.is_some(), "FerretDB is not installed: run scripts/install-ferretdb");
}

/// A unit's process pids, from the pid files tether and the servers write.
fn pids(c: &Controller, unit: &str) -> Vec<(&'static str, Option<i32>)> {
    let dir = c.unit_dir(unit);
    vec![
        ("etcd", live_pid(&dir.join("etcd/etcd.pid"))),
        ("patroni", live_pid(&dir.join("patroni/patroni.pid"))),
        ("postgres", live_pid(&dir.join("pgdata/postmaster.pid"))),
        ("ferretdb", live_pid(&dir.join("mongodata/tether-server.pid"))),
    ]
}

fn pid_of(c: &Controller, unit: &str, what: &str) -> i32 {
    pids(c, unit).into_iter().find(|(w, _)| *w == what).and_then(|(_, p)| p).unwrap_or_else(|| panic!("{unit} runs no {what}"))
}

/// A unit's directory, once it exists (`Controller::unit_dir` requires it).
fn existing_unit_dir(c: &Controller, unit: &str) -> Option<PathBuf> {
    let units = std::fs::read_dir(c.home().join("units")).ok()?;
    units.flatten().map(|m| m.path().join(unit.replace('/', "-"))).find(|d| d.is_dir())
}

/// The port a unit's FerretDB listens on (the second line of tether's pid file).
fn ferretdb_port(c: &Controller, unit: &str) -> Option<u16> {
    let text = std::fs::read_to_string(existing_unit_dir(c, unit)?.join("mongodata/tether-server.pid")).ok()?;
    text.lines().nth(1)?.trim().parse().ok()
}

/// The longest one driver call may take: the driver has no socket timeout, and a call
/// that never returns would hang the test instead of failing it.
const OP_TIMEOUT: Duration = Duration::from_secs(30);

/// A driver session as the relation's user on one FerretDB; errors as text. Every call is
/// bounded by [`OP_TIMEOUT`].
struct Session {
    client: mongodb::Client,
    rt: tokio::runtime::Runtime,
}

/// Runs `op` on `rt`, bounded by [`OP_TIMEOUT`]; its error, or the timeout, as text naming `what`.
fn bounded<T, E: std::fmt::Display>(
    rt: &tokio::runtime::Runtime,
    what: &str,
    op: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, String> {
    match rt.block_on(async { tokio::time::timeout(OP_TIMEOUT, op.into_future()).await }) {
        Ok(done) => done.map_err(|e| format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {OP_TIMEOUT:?}")),
    }
}

impl Session {
    fn connect(creds: &Value, port: u16) -> Result<Session, String> {
        let user = creds["username"].as_str().unwrap_or_default();
        let password = creds["password"].as_str().unwrap_or_default();
        let uri = format!("mongodb://{user}:{password}@127.0.0.1:{port}/{DATABASE}?directConnection=true&authSource=admin");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let client = bounded(&rt, &format!("login at {port}"), async {
            let mut opts = ClientOptions::parse(&uri).await.map_err(|e| e.to_string())?;
            opts.server_selection_timeout = Some(Duration::from_secs(5));
            opts.connect_timeout = Some(Duration::from_secs(5));
            let client = mongodb::Client::with_options(opts).map_err(|e| e.to_string())?;
            client.database(DATABASE).run_command(doc! { "connectionStatus": 1 }).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(client)
        })?;
        Ok(Session { client, rt })
    }

    fn coll(&self) -> mongodb::Collection<Document> {
        self.client.database(DATABASE).collection(COLLECTION)
    }

    fn insert(&self, n: u64) -> Result<(), String> {
        bounded(&self.rt, &format!("insert {n}"), self.coll().insert_one(doc! { "_id": n as i64 })).map(drop)
    }

    /// `dropUser` of `user`, logged in as the operator.
    fn drop_user(&self, user: &str) -> Result<(), String> {
        bounded(&self.rt, "dropUser", self.client.database("admin").run_command(doc! { "dropUser": user })).map(drop)
    }

    /// The users of the `admin` database (`usersInfo`), logged in as the operator.
    fn users(&self) -> Result<std::collections::BTreeSet<String>, String> {
        let reply = bounded(&self.rt, "usersInfo", self.client.database("admin").run_command(doc! { "usersInfo": 1 }))?;
        let users = reply.get_array("users").map_err(|e| format!("{e}: {reply}"))?;
        Ok(users.iter().filter_map(|u| u.as_document()?.get_str("user").ok().map(String::from)).collect())
    }

    fn count(&self) -> Result<u64, String> {
        bounded(&self.rt, "count", self.coll().count_documents(doc! {}))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = bounded(&self.rt, "shutdown", async {
            client.shutdown().immediate(true).await;
            Ok::<_, String>(())
        });
    }
}

/// A v1 `mongodb_client` requirer: the v1-requirer test charm (a probe action, the test
/// writes its request by hand) with its endpoint on MongoDB's interface.
fn v1_mongodb_requirer(dir: &std::path::Path) -> PathBuf {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/charms/v1-requirer");
    let charm = dir.join("v1-mongodb");
    std::fs::create_dir_all(&charm).expect("charm dir");
    for file in ["dispatch", "actions.yaml"] {
        std::fs::copy(source.join(file), charm.join(file)).expect("copy the v1-requirer charm");
    }
    let meta = "name: v1-mongodb\nsummary: a v1 requirer\nrequires:\n  database:\n    interface: mongodb_client\n";
    std::fs::write(charm.join("metadata.yaml"), meta).expect("metadata");
    charm
}

/// What the v1 requirer was given: its reply's user secret (newest revision) holds `uris`,
/// read as username, password and the port of its one host.
fn v1_given(c: &Controller) -> Result<(String, String, u16), String> {
    let (code, out, err) = c.probe(&format!("{V1}/0"), &format!("relation-get -r $(relation-ids database) --app --format=json - {MONGO}"));
    if code != 0 {
        return Err(err);
    }
    let bag: Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    let replies: Vec<Value> = bag["requests"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let secret = replies.first().and_then(|r| r["secret-user"].as_str()).ok_or_else(|| format!("no reply yet: {bag:#}"))?;
    let (code, out, err) = c.probe(&format!("{V1}/0"), &format!("secret-get {secret} --refresh --format=json"));
    if code != 0 {
        return Err(err);
    }
    let content: Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    let uri = content["uris"].as_str().ok_or_else(|| format!("no uris: {content:#}"))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let opts = rt.block_on(async { ClientOptions::parse(uri).await }).map_err(|e| e.to_string())?;
    let cred = opts.credential.ok_or("no credential in uris")?;
    let port = match opts.hosts.as_slice() {
        [mongodb::options::ServerAddress::Tcp { port: Some(p), .. }] => p,
        other => return Err(format!("uris names {other:?}")),
    };
    Ok((cred.username.unwrap_or_default(), cred.password.unwrap_or_default(), *port))
}

fn credentials(c: &Controller, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
    c.wait_credentials_for(&format!("{DI}/leader"), "mongodb", what, accept)
}

/// Processes [`freeze`] stopped; resumed (SIGCONT) when dropped, also when the test fails
/// meanwhile: a stopped backend whose postmaster the fixture kills never ends.
struct Frozen(Vec<i32>);

impl Drop for Frozen {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGCONT);
        }
    }
}

/// Freezes `unit`'s Patroni and PostgreSQL: SIGSTOP of Patroni, the postmaster, then
/// every child of the postmaster (backends, walsender, checkpointer...). A frozen Patroni
/// can neither keep its leader lock nor restart anything, so its primary fails over for
/// real. Dropping what it returns resumes them.
fn freeze(c: &Controller, unit: &str) -> Frozen {
    let postmaster = pid_of(c, unit, "postgres");
    let mut frozen = Frozen(vec![pid_of(c, unit, "patroni"), postmaster]);
    for pid in &frozen.0 {
        signal(*pid, nix::sys::signal::Signal::SIGSTOP);
    }
    let backends = children(postmaster);
    for pid in &backends {
        signal(*pid, nix::sys::signal::Signal::SIGSTOP);
    }
    frozen.0.extend(backends);
    eprintln!("froze {unit}: {} processes", frozen.0.len());
    frozen
}

/// After a fault: `endpoints` names the FerretDB of the unit Patroni reports as primary,
/// the same credentials log in there and find every acknowledged document, and a new
/// write is acknowledged (counted in `docs`). Returns the primary unit.
fn check_after_fault(c: &Controller, before: &Value, docs: &mut u64, what: &str, killed: &[i32]) -> String {
    // Settled: the unit Patroni reports as primary runs a PostgreSQL that is not a killed one.
    wait_until(&format!("{what}: a primary whose PostgreSQL runs"), SETTLE_TIMEOUT, || {
        let primary = c.primary_unit(MONGO, "replica-set-primary")?;
        match live_pid(&c.unit_dir(&primary).join("pgdata/postmaster.pid")) {
            Some(pid) if !killed.contains(&pid) => Ok(()),
            other => Err(format!("{primary}'s postgres: {other:?}")),
        }
    });
    let (primary, port) = wait_until(&format!("{what}: endpoints name the primary's FerretDB"), SETTLE_TIMEOUT, || {
        let primary = c.primary_unit(MONGO, "replica-set-primary")?;
        let port = ferretdb_port(c, &primary).ok_or("no FerretDB port")?;
        let creds = c.credentials_for(&format!("{DI}/leader"), "mongodb");
        match creds["endpoints"].as_str().map(ports_of) {
            Some(p) if p == [port] => Ok((primary, port)),
            other => Err(format!("primary {primary} at {port}, endpoints {other:?}")),
        }
    });
    let creds = c.credentials_for(&format!("{DI}/leader"), "mongodb");
    assert_eq!((&creds["username"], &creds["password"]), (&before["username"], &before["password"]), "{what}: the same credentials");
    let uri = creds["uris"].as_str().unwrap_or_default();
    assert!(uri.contains(&format!("@127.0.0.1:{port}/{DATABASE}")), "{what}: the URI names the primary's FerretDB");
    let s = wait_until(&format!("{what}: the credentials log in on {primary}"), SETTLE_TIMEOUT, || Session::connect(&creds, port));
    assert_eq!(s.count().expect("count"), *docs, "{what}: every acknowledged document is there");
    *docs += 1;
    s.insert(*docs).unwrap_or_else(|e| panic!("{what}: a new write: {e}"));
    primary
}

/// Exactly one unit says it is the primary (`primary`), every other one a replica, all
/// active (their FerretDB runs).
fn wait_one_primary(c: &Controller, primary: &str, what: &str) {
    c.wait_for(what, |s| {
        let words = workload_words(s, MONGO);
        let primaries = words.iter().skip(1).filter(|(_, _, m)| m == PRIMARY).count();
        Ok(primaries == 1
            && words.len() == 4
            && words.iter().skip(1).all(|(u, w, m)| w == "active" && m == if u == primary { PRIMARY } else { REPLICA }))
    });
}

/// A unit killed or demoted comes back as a healthy replica whose FerretDB serves every
/// document under the same credentials.
fn wait_rejoined(c: &Controller, unit: &str, creds: &Value, docs: u64) {
    let port =
        wait_until(&format!("{unit}'s FerretDB back"), SETTLE_TIMEOUT, || ferretdb_port(c, unit).ok_or_else(|| "no pid file".to_string()));
    credentials(c, &format!("{unit} listed as a healthy replica"), |m| {
        m["read-only-endpoints"].as_str().is_some_and(|r| ports_of(r).contains(&port))
    });
    wait_until(&format!("{unit}'s FerretDB serving every document"), SETTLE_TIMEOUT, || {
        let n = Session::connect(creds, port)?.count()?;
        if n == docs {
            Ok(())
        } else {
            Err(format!("{n} of {docs} documents"))
        }
    });
}

/// `deploy mongodb -n 3` under FerretDB with a data-integrator (and a v1 requirer built in
/// `v1_charms`, when given), checked to say which unit is primary; then 100 documents
/// inserted on the primary one by one, each acknowledged. Returns the data-integrator's
/// credentials, the units, the primary and the number of documents.
fn three_units_with_documents(c: &Controller, v1_charms: Option<&std::path::Path>) -> (Value, Vec<String>, String, u64) {
    assert_ferretdb_installed();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MONGO, "-n", "3", "--config", "engine=ferretdb"]);
    c.ok(&["deploy", DI, "--config", &format!("database-name={DATABASE}")]);
    c.ok(&["integrate", DI, MONGO]);
    if let Some(charms) = v1_charms {
        c.ok(&["deploy", v1_mongodb_requirer(charms).to_str().expect("utf-8 path"), V1]);
        c.wait_active(&[V1]);
        c.ok(&["integrate", V1, MONGO]);
        let (code, _, err) = c.probe(
            &format!("{V1}/0"),
            r#"relation-set -r $(relation-ids database) --app version=v1 requests='[{"resource":"v1_docs","request-id":"r1","salt":"s1"}]'"#,
        );
        assert_eq!(code, 0, "{err}");
        c.wait_active(&[V1]);
    }
    c.wait_active(&[MONGO, DI]);

    let units: Vec<String> = (0..3).map(|n| format!("{MONGO}/{n}")).collect();
    for u in &units {
        for (what, pid) in pids(c, u) {
            assert!(pid.is_some(), "{u} runs {what}");
        }
    }
    let primary = wait_until("get-primary to name a unit", SETTLE_TIMEOUT, || c.primary_unit(MONGO, "replica-set-primary"));
    c.wait_for("the status to say which unit is primary, over Patroni", |s| {
        let words = workload_words(s, MONGO);
        Ok(words.len() == 4 && words.iter().skip(1).all(|(u, w, m)| w == "active" && m == if *u == primary { PRIMARY } else { REPLICA }))
    });
    let creds =
        credentials(c, "two healthy replicas published", |m| m["read-only-endpoints"].as_str().map(|r| ports_of(r).len()) == Some(2));
    let primary_port = ferretdb_port(c, &primary).unwrap();
    assert_eq!(ports_of(creds["endpoints"].as_str().unwrap_or_default()), [primary_port], "{creds:#}");
    let uri = creds["uris"].as_str().unwrap_or_default();
    assert!(
        uri.contains(&format!("@127.0.0.1:{primary_port}/{DATABASE}")) && !uri.contains("replicaSet"),
        "the URI names the primary's FerretDB"
    );

    // Documents inserted one by one, each acknowledged before the next, once both replicas
    // are synchronous standbys (every acknowledged document is then on them).
    c.wait_synchronous_standbys(&primary, 2);
    let mut docs = 0;
    {
        let s = Session::connect(&creds, ferretdb_port(c, &primary).unwrap()).expect("login on the primary");
        for _ in 0..100 {
            docs += 1;
            s.insert(docs).expect("insert");
        }
    }
    // The same login works on the other FerretDBs (the users live in the shared
    // PostgreSQL). They read their catalogue when they started, before this collection
    // existed, so they serve its documents only once a failover restarted them (below).
    for u in units.iter().filter(|u| **u != primary) {
        Session::connect(&creds, ferretdb_port(c, u).unwrap()).unwrap_or_else(|e| panic!("login on {u}: {e}"));
    }
    (creds, units, primary, docs)
}

#[test]
fn a_frozen_primary_unit_fails_over_also_while_no_controller_runs() {
    let c = Controller::bootstrap();
    let (creds, units, primary, mut docs) = three_units_with_documents(&c, None);

    // Fault 1: the primary unit frozen: SIGSTOP of its Patroni, its postmaster, then every
    // child of the postmaster (backends, walsender, checkpointer...). Its leader lock
    // expires and Patroni promotes a synchronous standby (a frozen Patroni cannot keep or
    // restart anything): a real failover. Resumed (SIGCONT), the old primary must rejoin
    // as a replica (pg_rewind) and its FerretDB serve every document again.
    let frozen_unit = primary.clone();
    let frozen = freeze(&c, &frozen_unit);
    let primary = check_after_fault(&c, &creds, &mut docs, "with the primary unit's Patroni and PostgreSQL frozen", &frozen.0);
    assert_ne!(primary, frozen_unit, "a frozen primary loses its leader lock to another unit");
    drop(frozen);
    wait_rejoined(&c, &frozen_unit, &creds, docs);
    wait_one_primary(&c, &primary, "one primary after the frozen unit resumed, its FerretDB running");
    let s = Session::connect(&creds, ferretdb_port(&c, &primary).unwrap()).expect("login on the primary");
    assert_eq!(s.count().expect("count"), docs, "every acknowledged document after the resume");
    drop(s);

    let after = primary;

    // Fault 2: a failover while no controller runs. The controller SIGKILLed, then the
    // primary unit frozen: Patroni promotes another unit on its own (seen through a
    // replica's Patroni, not through tether); the next command's controller follows the
    // cluster: `endpoints` names the new primary's FerretDB (restarted under it) with the
    // same credentials and every document. Resumed, the old primary rejoins as a replica.
    c.kill_controller().expect("a controller runs");
    let frozen = freeze(&c, &after);
    let witness = units.iter().find(|u| **u != after).expect("another unit");
    let promoted =
        wait_until("Patroni to promote another unit while no controller runs", SETTLE_TIMEOUT, || match patroni_leader(&c, witness)? {
            leader if leader != after.replace('/', "-") => Ok(leader),
            leader => Err(format!("{leader} still leads")),
        });
    eprintln!("while no controller ran Patroni promoted {promoted}");
    let primary = check_after_fault(&c, &creds, &mut docs, "after a failover while the controller was down", &frozen.0);
    assert_eq!(primary.replace('/', "-"), promoted, "the controller follows the primary Patroni elected");
    drop(frozen);
    wait_rejoined(&c, &after, &creds, docs);
    wait_one_primary(&c, &primary, "one primary after the failover without a controller");
}

#[test]
fn sigkill_faults_a_switchover_remove_unit_and_add_unit_keep_every_document_and_credential() {
    let c = Controller::bootstrap();
    let charms = tempfile::tempdir().expect("tempdir");
    let (creds, units, primary, mut docs) = three_units_with_documents(&c, Some(charms.path()));

    // Fault 1: SIGKILL of the primary's PostgreSQL. Patroni promotes a synchronous standby
    // (or, when its health check cannot confirm one in time, restarts the primary in place).
    let postgres = pid_of(&c, &primary, "postgres");
    sigkill(postgres);
    let now = check_after_fault(&c, &creds, &mut docs, "after SIGKILL of the primary's PostgreSQL", &[postgres]);
    if now == primary {
        eprintln!("Patroni restarted the crashed PostgreSQL of {primary} in place");
    } else {
        eprintln!("Patroni failed over from {primary} to {now}");
        wait_rejoined(&c, &primary, &creds, docs);
    }

    // Fault 2: SIGKILL of the primary's Patroni: the supervisor restarts it.
    let patroni = pid_of(&c, &now, "patroni");
    sigkill(patroni);
    wait_until("Patroni restarted by the supervisor", SETTLE_TIMEOUT, || match live_pid(&c.unit_dir(&now).join("patroni/patroni.pid")) {
        Some(p) if p != patroni => Ok(()),
        other => Err(format!("patroni.pid: {other:?}")),
    });
    let now = check_after_fault(&c, &creds, &mut docs, "after SIGKILL of the primary's Patroni", &[]);

    // Fault 3: every process of the primary's unit SIGKILLed at once (etcd, Patroni,
    // PostgreSQL, FerretDB): the supervisor restarts them; another unit becomes primary
    // and the killed one rejoins as a replica, or (when its Patroni is back before its
    // leader lock expires) it stays primary, which is Patroni's rule.
    let killed: Vec<i32> = pids(&c, &now).into_iter().filter_map(|(_, p)| p).collect();
    assert_eq!(killed.len(), 4, "{now} runs etcd, Patroni, PostgreSQL and FerretDB");
    for pid in &killed {
        sigkill(*pid);
    }
    wait_until("every killed process replaced", SETTLE_TIMEOUT, || {
        let back = pids(&c, &now);
        match back.iter().all(|(_, p)| p.is_some_and(|p| !killed.contains(&p))) {
            true => Ok(()),
            false => Err(format!("{back:?}")),
        }
    });
    let after = check_after_fault(&c, &creds, &mut docs, "after every process of the primary's unit was killed", &killed);
    if after == now {
        eprintln!("Patroni kept the primary on the restarted unit {now}");
    } else {
        wait_rejoined(&c, &now, &creds, docs);
    }

    // A switchover (always a move): the endpoints follow to the promoted unit's FerretDB,
    // and the former primary serves every document as a replica.
    // The v1 requirer's `uris` follow it too, with the same user and password.
    let names = |port: u16| {
        move |c: &Controller| match v1_given(c)? {
            given if given.2 == port => Ok(given),
            given => Err(format!("the v1 requirer was given port {}, not {port}", given.2)),
        }
    };
    let target = units.iter().find(|u| **u != after).unwrap().clone();
    let v1_before = wait_until("the v1 requirer names the primary", SETTLE_TIMEOUT, || names(ferretdb_port(&c, &after).unwrap())(&c));
    let (out, _) = c.run_action(&target, "promote-to-primary", &[]);
    assert_eq!(out.code, 0, "promote-to-primary: {out}");
    let after_switch = check_after_fault(&c, &creds, &mut docs, "after a switchover", &[]);
    assert_eq!(after_switch, target, "the promoted unit is the primary");
    let target_port = ferretdb_port(&c, &target).unwrap();
    let v1_after = wait_until("the v1 requirer names the promoted unit", SETTLE_TIMEOUT, || names(target_port)(&c));
    assert_eq!((&v1_after.0, &v1_after.1), (&v1_before.0, &v1_before.1), "the v1 requirer's credentials stay the same");
    let v1_login = serde_json::json!({ "username": v1_after.0, "password": v1_after.1 });
    Session::connect(&v1_login, target_port).expect("the v1 requirer's login on the new primary");

    // Drift repair on the new primary: the v1 requirer's user, dropped by hand, is made again.
    let operator = serde_json::json!({ "username": "operator", "password": c.operator_password(MONGO) });
    Session::connect(&operator, target_port).expect("operator's login").drop_user(&v1_after.0).expect("dropUser");
    assert!(Session::connect(&v1_login, target_port).is_err(), "the dropped user is refused");
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    wait_until("the dropped user made again on the new primary", SETTLE_TIMEOUT, || Session::connect(&v1_login, target_port).map(drop));
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    wait_rejoined(&c, &after, &creds, docs);
    let after = after_switch;
    let s = Session::connect(&creds, ferretdb_port(&c, &after).unwrap()).expect("login on the primary");
    assert_eq!(s.count().expect("count"), docs, "every acknowledged document, at the end");
    // FerretDB's PostgreSQL URL (it holds the password) is in no log.
    for u in &units {
        let log = std::fs::read_to_string(c.unit_dir(u).join("mongo.log")).unwrap_or_default();
        assert!(!log.is_empty() && !log.contains("postgres://"), "{u}'s FerretDB log names no PostgreSQL URL");
    }

    // remove-unit of a replica while a client writes through `endpoints`, one acknowledged
    // insert after another: none fails, none is lost, one primary stays.
    let removed = units.iter().find(|u| **u != after).unwrap().clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (creds, stop, port, first) = (creds.clone(), stop.clone(), ferretdb_port(&c, &after).unwrap(), docs);
        std::thread::spawn(move || {
            let s = Session::connect(&creds, port).expect("the writer's login");
            let (mut n, mut failed) = (first, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match s.insert(n + 1) {
                    Ok(()) => n += 1,
                    Err(e) => failed.push(e),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (n, failed)
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    c.ok(&["remove-unit", &removed]);
    c.wait_for(&format!("{removed} gone"), |s| Ok(s["applications"][MONGO]["units"].get(&removed).is_none()));
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acknowledged, failed) = writer.join().expect("the writer");
    assert!(failed.is_empty(), "no write failed while {removed} left: {failed:?}");
    assert!(acknowledged > docs, "the writer wrote while {removed} left");
    eprintln!("{} documents acknowledged while {removed} left", acknowledged - docs);
    docs = acknowledged;
    wait_until(&format!("{removed}'s directory gone"), SETTLE_TIMEOUT, || match existing_unit_dir(&c, &removed) {
        Some(d) => Err(format!("{} is there", d.display())),
        None => Ok(()),
    });

    // add-unit: the new unit joins etcd and Patroni as a replica, its FerretDB serves every
    // document and is listed in `read-only-endpoints`; still one primary.
    c.ok(&["add-unit", MONGO]);
    let added = format!("{MONGO}/3");
    wait_rejoined(&c, &added, &creds, docs);
    wait_one_primary(&c, &after, "one primary after remove-unit and add-unit");
    let creds_now = c.credentials_for(&format!("{DI}/leader"), "mongodb");
    assert_eq!((&creds_now["username"], &creds_now["password"]), (&creds["username"], &creds["password"]), "the same credentials");
    let s = Session::connect(&creds, ferretdb_port(&c, &after).unwrap()).expect("login on the primary");
    assert_eq!(s.count().expect("count"), docs, "every acknowledged document, after remove-unit and add-unit");
    docs += 1;
    s.insert(docs).expect("a new write after add-unit");
    drop(s);

    // Every live integration's credentials log in on the primary, and no user is left
    // over: the internal ones and one per relation.
    let primary_port = ferretdb_port(&c, &after).unwrap();
    Session::connect(&v1_login, primary_port).expect("the v1 requirer's login after remove-unit and add-unit");
    let users = Session::connect(&operator, primary_port).expect("operator's login").users().expect("usersInfo");
    let want: std::collections::BTreeSet<String> =
        ["operator", "backup", "monitor", creds["username"].as_str().unwrap_or_default(), v1_after.0.as_str()]
            .into_iter()
            .map(String::from)
            .collect();
    assert_eq!(users, want, "the users on the primary");
}
