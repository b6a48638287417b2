//! Crash safety of the controller, on real PostgreSQL and MariaDB servers.
//!
//! Each scenario arms one failpoint (`TETHER_FAILPOINT`, see `src/failpoint.rs`) in a
//! freshly started controller, runs the operation, and requires the controller to die at
//! that step (its log names the failpoint). A plain CLI command then starts a controller
//! again; the test retries the operation only when the store shows it was not recorded
//! (as a user whose command failed would), waits for the model to settle and proves
//! convergence:
//!
//! - the login users on the server are exactly the internal users plus one per live
//!   integration (`pg_roles` with `rolcanlogin`, `mysql.user` without roles, read as the
//!   operator / root user with the password from `get-password`);
//! - every live integration's credentials (from `get-credentials`) log in;
//! - no removed integration's credentials do (the server says "bad credentials");
//! - every secret of the model still decrypts (`show-secret --reveal`).
//!
//! The storm tests run many concurrent integrate/remove-relation commands while the
//! controller is SIGKILLed (pid from `controller.pid`) several times at random moments,
//! then make the same proof. Sizes: `STORM_PG` and `STORM_MY` below (50 each, as the issue
//! asks); every wait is bounded.
//!
//! The integrate/remove-relation scenario runs again against adopted servers (a PostgreSQL
//! and a MariaDB started by the test, managed by a non-superuser admin): there the server's
//! own users count as its internal users, and the checks read the server as its superuser.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::thread::sleep;
use std::time::{Duration, Instant};

const DI: &str = "data-integrator";
/// How long the model must stay quiet to count as settled.
const QUIET: Duration = Duration::from_millis(2500);
/// Integrations in the storm tests.
const STORM_PG: usize = 50;
const STORM_MY: usize = 50;
/// Controller kills in the storm tests.
const STORM_KILLS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Db {
    Pg,
    My,
}

impl Db {
    fn charm(self) -> &'static str {
        match self {
            Db::Pg => "postgresql-k8s",
            Db::My => "mysql-k8s",
        }
    }
    /// The key of `get-credentials` results.
    fn key(self) -> &'static str {
        match self {
            Db::Pg => "postgresql",
            Db::My => "mysql",
        }
    }
    fn admin(self) -> &'static str {
        match self {
            Db::Pg => "operator",
            Db::My => "root",
        }
    }
}

/// A login on either engine.
#[derive(Clone, Debug)]
enum Login {
    Pg(PgLogin),
    My(MyLogin),
}

impl Login {
    fn from_credentials(db: Db, creds: &Value) -> Login {
        match db {
            Db::Pg => Login::Pg(PgLogin::from_credentials(creds)),
            Db::My => Login::My(MyLogin::from_credentials(creds)),
        }
    }
    /// The server's user name as listed by [`login_users`].
    fn listed(&self) -> String {
        match self {
            Login::Pg(l) => l.user.clone(),
            Login::My(l) => format!("{}@%", l.user),
        }
    }
    fn outcome(&self) -> LoginOutcome {
        match self {
            Login::Pg(l) => l.outcome(),
            Login::My(l) => l.outcome(),
        }
    }
    /// The admin login on the same server.
    fn admin(&self, db: Db, password: &str) -> Login {
        match self {
            Login::Pg(l) => Login::Pg(l.as_user(db.admin(), password).with_db("postgres")),
            Login::My(l) => Login::My(l.as_user(db.admin(), password).with_db(None)),
        }
    }
}

/// The login users on the server, read as the admin.
fn login_users(admin: &Login) -> BTreeSet<String> {
    match admin {
        Login::Pg(l) => l
            .session()
            .query("SELECT rolname FROM pg_roles WHERE rolcanlogin")
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect(),
        Login::My(l) => l.session().column("SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE is_role = 'N'").into_iter().collect(),
    }
}

/// Polls until `login` gets `want` (bounded: a server may still be coming back).
fn wait_outcome(login: &Login, what: &str, want: impl Fn(&LoginOutcome) -> bool) -> LoginOutcome {
    wait_until(what, Duration::from_secs(60), || {
        let got = login.outcome();
        if want(&got) {
            Ok(got)
        } else {
            Err(format!("{login:?} gives {got:?}"))
        }
    })
}

/// One model: a database application and a data-integrator `keep` integrated with it for
/// the whole test (which tells where the server listens).
struct World {
    c: Controller,
    db: Db,
    app: String,
    keep: Login,
    /// The login users before any other integration: internal users only.
    internal: BTreeSet<String>,
    /// An adopted server: the server (kept running for the test) and its superuser, who
    /// reads the users (tether holds no password of that server's to ask for).
    adopted: Option<(Box<dyn std::any::Any + Send + Sync>, Login)>,
}

/// What a database-level `ALL` is made of on MariaDB 10.11 (an adopted admin must hold it to grant it).
const MY_DB_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, \
     LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY";

impl World {
    fn new(db: Db) -> World {
        let c = Controller::bootstrap();
        let app = db.charm().to_string();
        c.ok(&["deploy", &app]);
        World::with_controller(c, db, &app)
    }

    /// A server started by the test outside tether, adopted by `db`'s charm with a
    /// non-superuser admin (PostgreSQL: `CREATEROLE CREATEDB`; MariaDB: `CREATE USER` and
    /// the database privileges `WITH GRANT OPTION`).
    fn adopted(db: Db) -> World {
        let (server, superuser, port): (Box<dyn std::any::Any + Send + Sync>, Login, u16) = match db {
            Db::Pg => {
                let server = ExternalPg::start();
                server.session().execute("CREATE ROLE dba LOGIN CREATEROLE CREATEDB PASSWORD 'dba-secret-pw'");
                let su = Login::Pg(server.superuser.clone());
                let port = server.port;
                (Box::new(server), su, port)
            }
            Db::My => {
                let server = ExternalMariaDb::start();
                server.session().execute(&format!(
                    "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-secret-pw'; GRANT {MY_DB_PRIVILEGES}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION"
                ));
                let su = Login::My(server.superuser.clone());
                let port = server.port;
                (Box::new(server), su, port)
            }
        };
        let (c, uri) = Controller::for_adoption("db-admin", "dba", "dba-secret-pw");
        // The model must be able to fall quiet between the checks.
        c.ok(&["model-config", "update-status-hook-interval=5m"]);
        let app = format!("{}-ext", db.key());
        c.ok(&[
            "deploy",
            db.charm(),
            &app,
            "--config",
            &format!("external-endpoint=127.0.0.1:{port}"),
            "--config",
            &format!("admin-secret={uri}"),
        ]);
        c.ok(&["grant-secret", "db-admin", &app]);
        World::with_controller_and(c, db, &app, Some((server, superuser)))
    }

    fn with_controller(c: Controller, db: Db, app: &str) -> World {
        World::with_controller_and(c, db, app, None)
    }

    fn with_controller_and(c: Controller, db: Db, app: &str, adopted: Option<(Box<dyn std::any::Any + Send + Sync>, Login)>) -> World {
        c.ok(&["deploy", DI, "keep", "--config", "database-name=keep_db"]);
        c.ok(&["integrate", "keep", app]);
        c.wait_active(&[app, "keep"]);
        let keep = Login::from_credentials(db, &c.credentials_for("keep/leader", db.key()));
        let mut w = World { c, db, app: app.to_string(), keep, internal: BTreeSet::new(), adopted };
        let mut users = login_users(&w.admin());
        assert!(users.remove(&w.keep.listed()), "keep's user {} is not on the server: {users:?}", w.keep.listed());
        w.internal = users;
        w
    }

    fn admin_password(&self) -> String {
        let r = self.c.action_results(&format!("{}/leader", self.app), "get-password", &[]);
        r["password"].as_str().unwrap_or_else(|| panic!("get-password returned no password: {r:#}")).to_string()
    }

    fn admin(&self) -> Login {
        match &self.adopted {
            Some((_, superuser)) => superuser.clone(),
            None => self.keep.admin(self.db, &self.admin_password()),
        }
    }

    fn deploy_integrator(&self, name: &str) {
        self.c.ok(&["deploy", DI, name, "--config", &format!("database-name={}_db", name.replace('-', "_"))]);
    }

    /// The credentials a data-integrator holds, once it holds some (bounded).
    fn credentials(&self, di: &str) -> Login {
        let m = self.c.wait_credentials_for(&format!("{di}/leader"), self.db.key(), &format!("{di}'s credentials"), |m| {
            m["username"].as_str().is_some_and(|u| !u.is_empty()) && m["password"].as_str().is_some_and(|p| !p.is_empty())
        });
        Login::from_credentials(self.db, &m)
    }

    fn related(&self, status: &Value) -> BTreeSet<String> {
        related_apps(status, &self.app, "database").into_iter().collect()
    }

    /// Waits for the model to settle with exactly `live` (besides `keep`) integrated, then
    /// proves convergence. Returns the live integrations' logins.
    fn prove(&self, live: &[String], removed: &[Login]) -> Vec<Login> {
        let mut want: BTreeSet<String> = live.iter().cloned().collect();
        want.insert("keep".into());
        self.c.wait_settled(QUIET, |s| self.related(s) == want);
        let mut logins = Vec::new();
        for di in &want {
            let login = self.credentials(di);
            wait_outcome(&login, &format!("{di}'s credentials must log in"), |o| *o == LoginOutcome::Accepted);
            logins.push(login);
        }
        let mut expected = self.internal.clone();
        expected.extend(logins.iter().map(Login::listed));
        let admin = self.admin();
        wait_outcome(&admin, "the admin must log in (with the password get-password reports, or the adopted server's superuser)", |o| {
            *o == LoginOutcome::Accepted
        });
        let actual = login_users(&admin);
        assert_eq!(actual, expected, "login users on the server (left) != internal users + one per live integration (right)");
        for gone in removed {
            assert!(!actual.contains(&gone.listed()), "removed user {} is still on the server", gone.listed());
            let o = gone.outcome();
            assert!(matches!(o, LoginOutcome::BadCredentials(_)), "removed integration's credentials {gone:?} must be refused: {o:?}");
        }
        self.c.assert_every_secret_decrypts();
        logins
    }

    fn crash_at(&self, failpoint: &str, op: impl FnOnce(&Controller) -> Output) -> Output {
        self.c.crash_at(failpoint, op)
    }

    fn is_related(&self, di: &str) -> bool {
        self.related(&self.c.status()).contains(di)
    }
}

const INTEGRATE_POINTS: [&str; 9] = [
    "integrate.after-validate",
    "integrate.after-store",
    "hook.database-relation-created.after-effects",
    "hook.database-relation-joined.after-effects",
    "hook.database-relation-changed.before",
    "hook.database-relation-changed.after-effects",
    "hook.database-relation-changed.after-commit",
    "hook.{DI}-relation-changed.after-effects",
    "hook.{DI}-relation-changed.after-commit",
];

const REMOVE_POINTS: [&str; 7] = [
    "remove-relation.after-validate",
    "remove-relation.after-store",
    "hook.database-relation-departed.after-effects",
    "hook.database-relation-broken.before",
    "hook.database-relation-broken.after-effects",
    "hook.database-relation-broken.after-commit",
    "hook.{DI}-relation-broken.after-effects",
];

/// integrate and remove-relation, killed at each step.
fn integrate_and_remove(db: Db) {
    integrate_and_remove_in(World::new(db));
}

fn integrate_and_remove_in(w: World) {
    let db = w.db;
    let mut live: Vec<String> = Vec::new();
    let mut removed: Vec<Login> = Vec::new();
    for (i, fp) in INTEGRATE_POINTS.iter().enumerate() {
        let fp = fp.replace("{DI}", db.key());
        let di = format!("i{i}");
        w.deploy_integrator(&di);
        w.c.wait_settled(Duration::from_millis(500), |_| true);
        w.crash_at(&fp, |c| c.tether(&["integrate", &di, &w.app]));
        if !w.is_related(&di) {
            assert!(fp.ends_with("after-validate"), "{fp}: the integration was stored before the crash and must survive it");
            w.c.ok(&["integrate", &di, &w.app]);
        }
        live.push(di);
        w.prove(&live, &removed);
        eprintln!("converged after a kill at {fp}");
    }
    for (i, fp) in REMOVE_POINTS.iter().enumerate() {
        let fp = fp.replace("{DI}", db.key());
        let di = live.remove(0);
        let before = w.credentials(&di);
        w.crash_at(&fp, |c| c.tether(&["remove-relation", &di, &w.app]));
        if w.is_related(&di) {
            // A dying relation is still listed until its hooks ran; only retry one still alive.
            let again = w.c.tether(&["remove-relation", &di, &w.app]);
            assert!(again.code == 0 || again.stderr.contains("not found"), "retrying remove-relation after {fp}:\n{again}");
        }
        removed.push(before);
        w.prove(&live, &removed);
        eprintln!("converged after a kill at {fp} ({i})");
    }
}

#[test]
fn postgresql_integrate_and_remove_relation_survive_a_kill_at_every_step() {
    integrate_and_remove(Db::Pg);
}

#[test]
fn mariadb_integrate_and_remove_relation_survive_a_kill_at_every_step() {
    integrate_and_remove(Db::My);
}

#[test]
fn adopted_postgresql_integrate_and_remove_relation_survive_a_kill_at_every_step() {
    integrate_and_remove_in(World::adopted(Db::Pg));
}

#[test]
fn adopted_mariadb_integrate_and_remove_relation_survive_a_kill_at_every_step() {
    integrate_and_remove_in(World::adopted(Db::My));
}

const PASSWORD_POINTS: [&str; 5] = [
    "run.after-validate",
    "run.after-store",
    "hook.set-password.before",
    "hook.set-password.after-effects",
    "hook.set-password.after-commit",
];

/// set-password, killed at each step: afterwards get-password's password logs in and the
/// one before it does not.
fn set_password(db: Db) {
    let w = World::new(db);
    w.deploy_integrator("app");
    w.c.ok(&["integrate", "app", &w.app]);
    let live = vec!["app".to_string()];
    w.prove(&live, &[]);
    for (i, fp) in PASSWORD_POINTS.iter().enumerate() {
        let old = w.admin_password();
        let chosen = format!("Crash{i}Pw{}", &old[..6]);
        let unit = format!("{}/leader", w.app);
        let param = format!("password={chosen}");
        w.crash_at(fp, |c| c.tether(&["run", &unit, "set-password", &param, "--format", "json"]));
        w.c.wait_settled(QUIET, |_| true);
        if w.admin_password() != chosen {
            w.c.action_results(&unit, "set-password", &[&param]);
        }
        assert_eq!(w.admin_password(), chosen, "after {fp}");
        let admin = w.admin();
        wait_outcome(&admin, &format!("after {fp} the chosen password must log in"), |o| *o == LoginOutcome::Accepted);
        let stale = w.keep.admin(db, &old);
        let o = stale.outcome();
        assert!(matches!(o, LoginOutcome::BadCredentials(_)), "after {fp} the old admin password must be refused: {o:?}");
        w.prove(&live, &[]);
        eprintln!("converged after a kill at {fp}");
    }
}

#[test]
fn postgresql_set_password_survives_a_kill_at_every_step() {
    set_password(Db::Pg);
}

#[test]
fn mariadb_set_password_survives_a_kill_at_every_step() {
    set_password(Db::My);
}

const DEPLOY_POINTS: [&str; 6] = [
    "deploy.after-validate",
    "deploy.after-store",
    "hook.install.after-effects",
    "hook.leader-elected.after-effects",
    "hook.start.before",
    "hook.start.after-effects",
];

const REMOVE_APP_POINTS: [&str; 5] = [
    "remove-application.after-validate",
    "remove-application.after-store",
    "hook.database-relation-broken.after-effects",
    "hook.stop.after-effects",
    "hook.remove.before",
];

/// deploy (of a database application) and remove-application (of an integrated
/// data-integrator, then of a database application), killed at each step.
fn deploy_and_remove_application(db: Db) {
    let w = World::new(db);
    let mut removed = Vec::new();
    for (i, fp) in DEPLOY_POINTS.iter().enumerate() {
        let app = format!("db{i}");
        // Every installed unit runs `start` again when a controller starts: the new
        // application's start is the hit after those.
        let fp = if fp.starts_with("hook.start.") { format!("{fp}:{}", all_units(&w.c.status()).len() + 1) } else { fp.to_string() };
        w.crash_at(&fp, |c| c.tether(&["deploy", db.charm(), &app]));
        if !has_app(&w.c.status(), &app) {
            assert_eq!(fp, "deploy.after-validate", "the application was stored before the crash and must survive it");
            w.c.ok(&["deploy", db.charm(), &app]);
        }
        // The new server works: an integration on it gets working credentials, and its
        // users are its internal ones plus that integration's.
        let di = format!("on-db{i}");
        w.deploy_integrator(&di);
        w.c.ok(&["integrate", &di, &app]);
        w.c.wait_active(&[&app, &di]);
        let login = w.credentials(&di);
        wait_outcome(&login, &format!("{di}'s credentials"), |o| *o == LoginOutcome::Accepted);
        let r = w.c.action_results(&format!("{app}/leader"), "get-password", &[]);
        let admin = login.admin(db, r["password"].as_str().unwrap_or_default());
        let users = login_users(&admin);
        let mut expected = w.internal.clone();
        expected.insert(login.listed());
        assert_eq!(users, expected, "{app} after a kill at {fp}");
        w.prove(&[], &removed);
        eprintln!("converged after a kill at {fp}");
        if i > 0 {
            // Keep one extra server only (db0, removed under a kill below): every restart
            // restarts them all.
            w.c.ok(&["remove-application", &app, &di]);
            w.c.wait_settled(QUIET, |s| !has_app(s, &app) && !has_app(s, &di));
        }
    }
    for (i, fp) in REMOVE_APP_POINTS.iter().enumerate() {
        let di = format!("r{i}");
        w.deploy_integrator(&di);
        w.c.ok(&["integrate", &di, &w.app]);
        let login = w.credentials(&di);
        w.crash_at(fp, |c| c.tether(&["remove-application", &di]));
        let status = w.c.status();
        if has_app(&status, &di) && fp.ends_with("after-validate") {
            w.c.ok(&["remove-application", &di]);
        }
        w.c.wait_settled(QUIET, |s| !has_app(s, &di));
        removed.push(login);
        w.prove(&[], &removed);
        eprintln!("converged after a kill at {fp}");
    }
    // A database application removed under a kill: its server does not outlive it.
    let servers_before = w.c.server_pid_files().len();
    w.crash_at("hook.stop.after-effects", |c| c.tether(&["remove-application", "db0"]));
    w.c.wait_settled(QUIET, |s| !has_app(s, "db0"));
    let _ = poll_until(Duration::from_secs(30), POLL, || {
        let left = w.c.server_pid_files();
        if left.len() < servers_before {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    });
    assert_eq!(w.c.server_pid_files().len(), servers_before - 1, "db0's server must be stopped: {:?}", w.c.server_pid_files());
    w.prove(&[], &removed);
}

#[test]
fn postgresql_deploy_and_remove_application_survive_a_kill_at_every_step() {
    deploy_and_remove_application(Db::Pg);
}

#[test]
fn mariadb_deploy_and_remove_application_survive_a_kill_at_every_step() {
    deploy_and_remove_application(Db::My);
}

// ---- storm ----

/// A small deterministic generator (xorshift), seeded from the clock and printed, so a
/// failing run can be replayed with `TETHER_STORM_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("TETHER_STORM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
        });
        eprintln!("storm seed {seed} (TETHER_STORM_SEED={seed} replays it)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Many concurrent integrate/remove-relation commands while the controller is SIGKILLed
/// `STORM_KILLS` times at random moments; then the same proof.
fn storm(db: Db, n: usize) {
    let w = World::new(db);
    let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    for di in &names {
        w.deploy_integrator(di);
    }
    for di in &names {
        w.c.ok(&["integrate", di, &w.app]);
    }
    w.prove(&names, &[]);
    let before: Vec<Login> = names.iter().map(|di| w.credentials(di)).collect();

    let mut rng = Rng::new();
    let plans: Vec<(u64, Vec<u64>)> = names.iter().map(|_| (1 + rng.below(3), (0..4).map(|_| rng.below(3000)).collect())).collect();
    let kills: Vec<u64> = (0..STORM_KILLS).map(|_| 500 + rng.below(3000)).collect();
    let started = Instant::now();
    let killed = std::thread::scope(|s| {
        for (di, (ops, pauses)) in names.iter().zip(&plans) {
            let w = &w;
            s.spawn(move || {
                // Every thread removes first, then alternates: an odd count ends removed.
                for k in 0..*ops {
                    sleep(Duration::from_millis(pauses[k as usize]));
                    let verb = if k % 2 == 0 { "remove-relation" } else { "integrate" };
                    let out = w.c.tether(&[verb, di, &w.app]);
                    if out.code != 0 {
                        eprintln!("storm: `{verb} {di}` failed (expected while the controller dies): {}", out.stderr.trim());
                    }
                }
            });
        }
        let w = &w;
        s.spawn(move || {
            let mut killed = 0;
            for pause in kills {
                sleep(Duration::from_millis(pause));
                // On a loaded machine the controller a storm command started may still be
                // coming up: wait (bounded) until one runs, so every kill hits one.
                let _ = poll_until(SETTLE_TIMEOUT, POLL, || match w.c.controller_pid() {
                    Some(pid) => Ok(pid),
                    None => {
                        let _ = w.c.tether(&["status", "--format", "json"]);
                        Err("no controller running yet".to_string())
                    }
                });
                if w.c.kill_controller().is_some() {
                    killed += 1;
                }
                // Bring it back if no storm command does.
                sleep(Duration::from_millis(300));
                let _ = w.c.tether(&["status", "--format", "json"]);
            }
            killed
        })
        .join()
        .expect("killer thread")
    });
    eprintln!("storm: {} commands, {killed} kills in {:?}", plans.iter().map(|p| p.0).sum::<u64>(), started.elapsed());
    assert!(killed >= STORM_KILLS - 1, "the storm killed the controller only {killed} times");

    // A command whose controller died under it may not have been recorded: the user
    // retries until the intent holds (integrated after an even number of steps).
    let status = w.c.wait_settled(QUIET, |_| true);
    let related = w.related(&status);
    let mut live = Vec::new();
    for (di, (ops, _)) in names.iter().zip(&plans) {
        let want = ops % 2 == 0;
        if want && !related.contains(di) {
            w.c.ok(&["integrate", di, &w.app]);
        }
        if !want && related.contains(di) {
            let out = w.c.tether(&["remove-relation", di, &w.app]);
            assert!(out.code == 0 || out.stderr.contains("not found"), "{out}");
        }
        if want {
            live.push(di.clone());
        }
    }
    let logins = w.prove(&live, &[]);
    // A thread whose remove-relation was lost with the controller and whose integrate was
    // then refused ("already exists") keeps its first relation: only the others were removed.
    let live_users: BTreeSet<String> = logins.iter().map(Login::listed).collect();
    let removed: Vec<&Login> = before.iter().filter(|l| !live_users.contains(&l.listed())).collect();
    for gone in &removed {
        let o = gone.outcome();
        assert!(matches!(o, LoginOutcome::BadCredentials(_)), "removed integration's credentials {gone:?} must be refused: {o:?}");
    }
    eprintln!("storm: {} integrations removed for good, their credentials refused", removed.len());
    eprintln!("storm on {}: {n} integrations, {killed} kills, {} live at the end, {} login users checked", w.app, live.len(), logins.len());
}

#[test]
fn postgresql_storm_with_controller_kills_converges() {
    storm(Db::Pg, STORM_PG);
}

#[test]
fn mariadb_storm_with_controller_kills_converges() {
    storm(Db::My, STORM_MY);
}
