//! End to end through the CLI, on real MongoDB-wire servers started by tether: the
//! commands of the MongoDB how-to (../shared/seeds/002_*.txt) with `juju` replaced by
//! `tether`, checked with the Rust `mongodb` driver logging in with the credentials
//! data-integrator hands out.
//!
//! The engine is a parameter: `TETHER_TEST_MONGO_ENGINE` (`ferretdb`, the default, or
//! `mongod`) is passed to every `deploy mongodb` as `--config engine=...`. The tests never
//! skip: without the engine's binaries they fail, saying how to install them
//! (`scripts/install-ferretdb` for FerretDB).

mod common;

use common::*;
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;
use serde_json::Value;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MONGO: &str = "mongodb";
const DI: &str = "data-integrator";
/// How long one driver login may take before it counts as unreachable.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(5);
const GET_CREDENTIALS_REFUSED: &str = "The action can be run only after relation is created.";
const MISSING_CLUSTER: &str = "Missing relation to config-server.";

// ---- the engine under test ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    FerretDb,
    Mongod,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::FerretDb => "ferretdb",
            Engine::Mongod => "mongod",
        }
    }

    /// `--config engine=<name>` for `deploy mongodb`.
    fn config(self) -> String {
        format!("engine={}", self.name())
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| is_executable(p))
}

/// The engine named by `TETHER_TEST_MONGO_ENGINE` (default FerretDB), after checking that
/// tether will find its binaries the way the daemon looks for them. Fails loudly otherwise.
fn engine() -> Engine {
    let wanted = std::env::var("TETHER_TEST_MONGO_ENGINE").unwrap_or_default();
    match wanted.trim() {
        "" | "ferretdb" => {
            let found = match std::env::var_os("TETHER_FERRETDB_BIN").filter(|p| !p.is_empty()) {
                Some(p) => {
                    let p = PathBuf::from(p);
                    assert!(
                        is_executable(&p),
                        "$TETHER_FERRETDB_BIN ({}) is not an executable: run scripts/install-ferretdb or fix the variable",
                        p.display()
                    );
                    Some(p)
                }
                None => on_path("ferretdb").or_else(|| {
                    // Where the daemon looks last: `.tools/bin/ferretdb` above its executable.
                    Path::new(TETHER).ancestors().skip(1).map(|d| d.join(".tools/bin/ferretdb")).find(|p| is_executable(p))
                }),
            };
            assert!(
                found.is_some(),
                "FerretDB is not installed, and these tests never skip: run scripts/install-ferretdb \
                 (it builds .tools/bin/ferretdb) or set TETHER_FERRETDB_BIN"
            );
            Engine::FerretDb
        }
        "mongod" => {
            for bin in ["mongod", "mongos"] {
                assert!(on_path(bin).is_some(), "TETHER_TEST_MONGO_ENGINE=mongod but `{bin}` is not on PATH");
            }
            Engine::Mongod
        }
        other => panic!("TETHER_TEST_MONGO_ENGINE={other:?}: expected ferretdb or mongod"),
    }
}

// ---- a controller that also makes sure its MongoDB-wire servers go away ----

/// A [`Controller`] whose drop also checks that every server tether started for it
/// (`tether-server.pid`) is gone after `destroy-controller -y`, killing leftovers (only
/// those still running the very command line they had, so a reused pid is never hit).
struct MongoController {
    c: Option<Controller>,
}

impl MongoController {
    fn bootstrap() -> MongoController {
        MongoController { c: Some(Controller::bootstrap()) }
    }
}

impl Deref for MongoController {
    type Target = Controller;
    fn deref(&self) -> &Controller {
        self.c.as_ref().expect("controller")
    }
}

/// A process's command line, its arguments separated by spaces.
fn cmdline(pid: i32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ")
}

impl Drop for MongoController {
    fn drop(&mut self) {
        let Some(c) = self.c.take() else { return };
        let servers: Vec<(i32, String)> = c.mongo_server_pids().into_iter().map(|pid| (pid, cmdline(pid))).collect();
        drop(c);
        // The same process (pid and command line) still running after the controller went.
        let alive = reap(servers, Duration::from_secs(15), |pid, cmd| is_live_process(pid) && cmdline(pid) == cmd);
        if !std::thread::panicking() {
            assert!(
                alive.is_empty(),
                "MongoDB-wire servers outlived destroy-controller -y: {:?}",
                alive.iter().map(|a| a.0).collect::<Vec<_>>()
            );
        }
    }
}

// ---- logging in with the mongodb driver ----

/// Why a driver login did not work.
enum MongoFailure {
    /// The server answered and refused the credentials.
    Refused(String),
    /// Nothing answered, or something else went wrong.
    Unreachable(String),
}

impl MongoFailure {
    fn describe(&self) -> String {
        match self {
            MongoFailure::Refused(m) => format!("refused: {m}"),
            MongoFailure::Unreachable(m) => format!("unreachable: {m}"),
        }
    }
}

fn classify(e: mongodb::error::Error) -> MongoFailure {
    let refused = match e.kind.as_ref() {
        ErrorKind::Authentication { .. } => true,
        ErrorKind::Command(c) => c.code == 18,
        _ => false,
    };
    if refused || e.to_string().contains("Authentication failed") {
        MongoFailure::Refused(e.to_string())
    } else {
        MongoFailure::Unreachable(e.to_string())
    }
}

/// One authenticated driver client and the small runtime that drives it.
struct MongoSession {
    client: Option<mongodb::Client>,
    rt: tokio::runtime::Runtime,
    /// The URI's database.
    db: String,
}

impl MongoSession {
    /// Logs in with a `mongodb://` URI exactly as handed out (short timeouts added) and
    /// proves it with an authenticated command.
    fn connect(uri: &str) -> Result<MongoSession, MongoFailure> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let (client, db) = rt.block_on(async {
            let mut opts = ClientOptions::parse(uri).await.map_err(|e| MongoFailure::Unreachable(format!("bad uri: {e}")))?;
            opts.server_selection_timeout = Some(LOGIN_TIMEOUT);
            opts.connect_timeout = Some(LOGIN_TIMEOUT);
            opts.app_name = Some("tether-tests".into());
            let db = opts.default_database.clone().unwrap_or_else(|| "admin".into());
            let client = mongodb::Client::with_options(opts).map_err(classify)?;
            let result = client.database(&db).run_command(doc! { "connectionStatus": 1 }).await;
            match result {
                Ok(_) => Ok((client, db)),
                Err(e) => {
                    client.shutdown().immediate(true).await;
                    Err(classify(e))
                }
            }
        })?;
        Ok(MongoSession { client: Some(client), rt, db })
    }

    fn open(uri: &str) -> MongoSession {
        MongoSession::connect(uri).unwrap_or_else(|e| panic!("cannot log in with {}: {}", redact(uri), e.describe()))
    }

    fn client(&self) -> &mongodb::Client {
        self.client.as_ref().expect("client")
    }

    fn coll(&self, name: &str) -> mongodb::Collection<Document> {
        self.client().database(&self.db).collection(name)
    }

    /// The user this session is authenticated as (`connectionStatus`).
    fn user(&self) -> String {
        let status = self
            .rt
            .block_on(async { self.client().database(&self.db).run_command(doc! { "connectionStatus": 1 }).await })
            .expect("connectionStatus");
        let users = status.get_document("authInfo").and_then(|a| a.get_array("authenticatedUsers")).cloned().unwrap_or_default();
        users
            .first()
            .and_then(|u| u.as_document())
            .and_then(|u| u.get_str("user").ok())
            .unwrap_or_else(|| panic!("connectionStatus names no user: {status}"))
            .to_string()
    }

    fn insert(&self, coll: &str, d: Document) {
        self.rt.block_on(async { self.coll(coll).insert_one(d).await }).unwrap_or_else(|e| panic!("insert into {}.{coll}: {e}", self.db));
    }

    fn find_one(&self, coll: &str, filter: Document) -> Option<Document> {
        self.rt.block_on(async { self.coll(coll).find_one(filter).await }).unwrap_or_else(|e| panic!("find in {}.{coll}: {e}", self.db))
    }

    fn count(&self, coll: &str) -> u64 {
        self.rt
            .block_on(async { self.coll(coll).count_documents(doc! {}).await })
            .unwrap_or_else(|e| panic!("count {}.{coll}: {e}", self.db))
    }

    fn collections(&self) -> Vec<String> {
        self.rt.block_on(async { self.client().database(&self.db).list_collection_names().await }).expect("listCollections")
    }
}

impl Drop for MongoSession {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.rt.block_on(async { client.shutdown().immediate(true).await });
        }
    }
}

/// The URI with its password hidden, for messages.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(s), Some(at)) if at > s => match uri[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &uri[..s + 3], &uri[at..]),
            None => uri.to_string(),
        },
        _ => uri.to_string(),
    }
}

/// `mongodb://user:pw@host:port/db?authSource=admin` for a login tether did not hand out
/// (the internal users), built the way the charm builds URIs.
fn uri_for(host_port: &str, user: &str, password: &str, db: &str) -> String {
    let query = if db == "admin" { String::new() } else { "?authSource=admin".into() };
    format!("mongodb://{user}:{password}@{host_port}/{db}{query}")
}

/// Asserts that the server answers and refuses this login.
fn assert_refused(uri: &str) {
    match MongoSession::connect(uri) {
        Err(MongoFailure::Refused(_)) => {}
        Err(other) => panic!("expected the server to refuse {}, got {}", redact(uri), other.describe()),
        Ok(s) => panic!("{} logged in as {}, expected a refusal", redact(uri), s.user()),
    }
}

/// Polls until this login fails in a way `done` accepts; bounded.
fn wait_login_fails(uri: &str, what: &str, done: impl Fn(&MongoFailure) -> bool) -> MongoFailure {
    wait_until(&format!("{} to be {what}", redact(uri)), SETTLE_TIMEOUT, || match MongoSession::connect(uri) {
        Err(f) if done(&f) => Ok(f),
        Err(f) => Err(f.describe()),
        Ok(s) => Err(format!("still logs in as {}", s.user())),
    })
}

fn wait_refused(uri: &str) {
    wait_login_fails(uri, "refused", |f| matches!(f, MongoFailure::Refused(_)));
}

// ---- reading credentials and status ----

fn field<'a>(map: &'a Value, key: &str) -> &'a str {
    map[key].as_str().unwrap_or_else(|| panic!("credentials lack {key:?}: {map:#}"))
}

/// `relation-<digits>`, the user name the MongoDB charm gives a relation (charm-protocol.md §5.4).
fn is_mongo_relation_user(name: &str) -> bool {
    name.strip_prefix("relation-").is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
}

fn assert_charm_password(password: &str, context: &Value) {
    assert!(password.len() == 32 && password.chars().all(|c| c.is_ascii_alphanumeric()), "password must be 32 letters/digits: {context:#}");
}

/// The first `open-ports` entry of a unit (principal or subordinate) as a port number.
fn open_port(unit: &Value) -> u16 {
    let first = unit["open-ports"][0].as_str().unwrap_or_else(|| panic!("unit has no open-ports: {unit:#}"));
    first.trim_end_matches("/tcp").parse().unwrap_or_else(|_| panic!("open-port {first:?} is not PORT/tcp"))
}

/// A subordinate unit's status object under its principal unit.
fn subordinate<'a>(status: &'a Value, principal_unit: &str, unit: &str) -> &'a Value {
    let app = principal_unit.split('/').next().unwrap_or_default();
    &status["applications"][app]["units"][principal_unit]["subordinates"][unit]
}

fn workload(v: &Value) -> (String, String) {
    let w = &v["workload-status"];
    (w["current"].as_str().unwrap_or("").to_string(), w["message"].as_str().unwrap_or("").to_string())
}

fn app_status(status: &Value, app: &str) -> (String, String) {
    let w = &status["applications"][app]["application-status"];
    (w["current"].as_str().unwrap_or("").to_string(), w["message"].as_str().unwrap_or("").to_string())
}

/// The value of one config option, from `config APP KEY`.
fn config_value(c: &Controller, app: &str, key: &str) -> String {
    c.ok(&["config", app, key]).stdout.trim().to_string()
}

/// Runs `get-credentials` and asserts it fails with the data-integrator's no-relation text.
fn assert_get_credentials_refused(c: &Controller, unit: &str) {
    let (out, task) = c.run_action(unit, "get-credentials", &[]);
    assert_eq!(task["status"], "failed", "get-credentials must fail:\n{out}");
    assert_eq!(task["message"], GET_CREDENTIALS_REFUSED, "{out}");
}

/// Polls get-credentials until it fails with the no-relation text; bounded.
fn wait_get_credentials_refused(c: &Controller, unit: &str) {
    wait_until("get-credentials to be refused", SETTLE_TIMEOUT, || {
        let (out, task) = c.run_action(unit, "get-credentials", &[]);
        if task["status"] == "failed" && task["message"] == GET_CREDENTIALS_REFUSED {
            Ok(())
        } else {
            Err(out.to_string())
        }
    })
}

/// The mongos unit under `principal_unit`, if there is one.
fn router_unit<'a>(status: &'a Value, principal_unit: &str) -> Option<(&'a String, &'a Value)> {
    let app = principal_unit.split('/').next().unwrap_or_default();
    status["applications"][app]["units"][principal_unit]["subordinates"].as_object()?.iter().find(|(name, _)| name.starts_with("mongos/"))
}

/// Waits until the mongos unit under `principal_unit` has this workload status (any
/// message when `want.1` is empty).
fn wait_router(c: &Controller, principal_unit: &str, want: (&str, &str)) -> Value {
    c.wait_for(&format!("a mongos unit under {principal_unit} to be {want:?}"), |s| {
        let Some((_, unit)) = router_unit(s, principal_unit) else { return Ok(false) };
        let (word, message) = workload(unit);
        if word == "error" {
            return Err(format!("the mongos unit is in error: {message}"));
        }
        Ok(word == want.0 && (want.1.is_empty() || message == want.1))
    })
}

/// The operator's password from `run APP/leader get-password`.
fn get_password(c: &Controller, app: &str, username: Option<&str>) -> String {
    let param = username.map(|u| format!("username={u}"));
    let params: Vec<&str> = param.iter().map(String::as_str).collect();
    let results = c.action_results(&format!("{app}/leader"), "get-password", &params);
    results["password"].as_str().unwrap_or_else(|| panic!("get-password returned no password: {results:#}")).to_string()
}

/// Asserts the `mongodb` credentials are those of the charm: user, password, database,
/// 127.0.0.1 endpoint and a URI the driver uses as-is; returns the endpoint.
fn check_mongodb_credentials(creds: &Value, engine: Engine, app: &str, database: &str) -> String {
    let user = field(creds, "username");
    assert!(is_mongo_relation_user(user), "username {user:?} is not relation-<n>: {creds:#}");
    let password = field(creds, "password");
    assert_charm_password(password, creds);
    assert_eq!(field(creds, "database"), database, "{creds:#}");
    let endpoints = field(creds, "endpoints");
    let (host, port) = first_endpoint(endpoints);
    assert_eq!((host.as_str(), endpoints.contains(',')), ("127.0.0.1", false), "one endpoint on 127.0.0.1: {creds:#}");
    assert!(port > 0);
    let expected = match engine {
        Engine::FerretDb => {
            assert!(creds.get("replset").is_none(), "FerretDB has no replica set, so no replset: {creds:#}");
            format!("mongodb://{user}:{password}@{endpoints}/{database}?authSource=admin")
        }
        Engine::Mongod => {
            assert_eq!(field(creds, "replset"), app, "{creds:#}");
            format!("mongodb://{user}:{password}@{endpoints}/{database}?replicaSet={app}&authSource=admin")
        }
    };
    assert_eq!(field(creds, "uris"), expected, "uris");
    endpoints.to_string()
}

// ---- the replica-set path ----

#[test]
fn replica_set_credentials_rotation_and_internal_passwords() {
    let engine = engine();
    let c = MongoController::bootstrap();
    c.ok(&["deploy", MONGO, "--config", &engine.config()]);
    c.ok(&["deploy", DI, "--config", "database-name=mdb"]);
    c.ok(&["integrate", DI, MONGO]);
    let status = c.wait_active(&[MONGO, DI]);
    assert_eq!(c.mongo_server_pids().len(), 1, "one server runs, and the leak check at drop sees it");

    assert_eq!(related_apps(&status, MONGO, "database"), [DI], "{status:#}");
    assert_eq!(related_apps(&status, DI, "mongodb"), [MONGO], "{status:#}");
    assert_eq!(status["applications"][MONGO]["relations"]["database"][0]["interface"], "mongodb_client", "{status:#}");
    let version = status["applications"][MONGO]["version"].as_str().unwrap_or_default();
    assert!(version.starts_with(engine.name()), "status shows the engine in the version: {version:?}");
    if engine == Engine::FerretDb {
        let (_, message) = app_status(&status, MONGO);
        assert!(message.contains("no replica set"), "FerretDB's limits are said in status: {message:?}");
    }

    // The seed's command, default output format.
    let plain = c.ok(&["run", "data-integrator/leader", "get-credentials"]);
    assert!(plain.stdout.contains("mongodb:") && plain.stdout.contains("relation-"), "{plain}");

    let first = c.credentials_for("data-integrator/leader", "mongodb");
    let endpoint = check_mongodb_credentials(&first, engine, MONGO, "mdb");
    let first_user = field(&first, "username").to_string();
    let first_uri = field(&first, "uris").to_string();

    // The driver logs in with the URI as handed out, and writes and reads its database.
    let db = MongoSession::open(&first_uri);
    assert_eq!(db.user(), first_user);
    db.insert("seed_check", doc! { "_id": 1, "note": "before rotation" });
    let found = db.find_one("seed_check", doc! { "_id": 1 }).expect("the document just written");
    assert_eq!(found.get_str("note").ok(), Some("before rotation"));
    assert!(db.collections().contains(&"seed_check".to_string()), "written to database mdb");
    drop(db);

    // The seed's rotation: remove the integration (the user goes), integrate again.
    c.ok(&["remove-relation", DI, MONGO]);
    wait_refused(&first_uri);
    c.wait_for("the relation to be gone", |s| Ok(related_apps(s, MONGO, "database").is_empty()));
    wait_get_credentials_refused(&c, "data-integrator/leader");

    c.ok(&["integrate", DI, MONGO]);
    c.wait_active(&[MONGO, DI]);
    let second =
        c.wait_credentials_for("data-integrator/leader", "mongodb", "a new relation user", |m| m["username"] != first_user.as_str());
    assert_eq!(check_mongodb_credentials(&second, engine, MONGO, "mdb"), endpoint, "same server");
    assert_ne!(second["password"], first["password"]);
    let second_uri = field(&second, "uris").to_string();
    let db = MongoSession::open(&second_uri);
    assert_eq!(db.user(), field(&second, "username"));
    let kept = db.find_one("seed_check", doc! { "_id": 1 }).expect("data written before the rotation is still there");
    assert_eq!(kept.get_str("note").ok(), Some("before rotation"));
    db.insert("seed_check", doc! { "_id": 2, "note": "after rotation" });
    assert_eq!(db.count("seed_check"), 2);
    drop(db);
    assert_refused(&first_uri);

    // get-password: the operator by default, and the other internal users.
    let operator = |pw: &str| uri_for(&endpoint, "operator", pw, "admin");
    let initial = get_password(&c, MONGO, None);
    assert_charm_password(&initial, &Value::String("operator".into()));
    assert_eq!(get_password(&c, MONGO, Some("operator")), initial);
    assert_eq!(MongoSession::open(&operator(&initial)).user(), "operator");
    let backup = get_password(&c, MONGO, Some("backup"));
    let monitor = get_password(&c, MONGO, Some("monitor"));
    assert!(backup != monitor && backup != initial, "each internal user has its own password");
    assert_eq!(MongoSession::open(&uri_for(&endpoint, "backup", &backup, "admin")).user(), "backup");
    assert_eq!(MongoSession::open(&uri_for(&endpoint, "monitor", &monitor, "admin")).user(), "monitor");
    let (out, task) = c.run_action("mongodb/leader", "get-password", &["username=root"]);
    assert_eq!(task["status"], "failed", "{out}");
    assert_eq!(task["message"], "The action can be run only for users used by the charm: operator, backup, monitor not root", "{out}");

    // set-password password=X: X works, the old one is refused.
    let chosen = "Chosen0perator7PasswordForMongo1";
    let set = c.action_results("mongodb/leader", "set-password", &[&format!("password={chosen}")]);
    assert_eq!(set["password"], chosen, "set-password reports the password it set: {set:#}");
    assert_eq!(set["secret-id"], "mongodb.app", "{set:#}");
    assert_eq!(MongoSession::open(&operator(chosen)).user(), "operator");
    assert_refused(&operator(&initial));
    assert_eq!(get_password(&c, MONGO, None), chosen);

    // set-password without a password: a fresh random one.
    let random = c.action_results("mongodb/leader", "set-password", &[]);
    let random = random["password"].as_str().unwrap_or_else(|| panic!("no password in {random:#}")).to_string();
    assert_charm_password(&random, &Value::String(random.clone()));
    assert!(random != chosen && random != initial, "a fresh random password");
    assert_eq!(MongoSession::open(&operator(&random)).user(), "operator");
    assert_refused(&operator(chosen));
    assert_eq!(get_password(&c, MONGO, None), random);

    // Another internal user.
    let set = c.action_results("mongodb/leader", "set-password", &["username=monitor"]);
    let new_monitor = set["password"].as_str().unwrap_or_default().to_string();
    assert!(new_monitor.len() == 32 && new_monitor != monitor, "{set:#}");
    assert_eq!(MongoSession::open(&uri_for(&endpoint, "monitor", &new_monitor, "admin")).user(), "monitor");
    assert_refused(&uri_for(&endpoint, "monitor", &monitor, "admin"));
    assert_eq!(get_password(&c, MONGO, Some("monitor")), new_monitor);

    // Logins after the rotations: the existing relation user is untouched, and tether
    // manages the server with the operator password it now has (a new integration).
    assert_eq!(MongoSession::open(&second_uri).count("seed_check"), 2);
    c.ok(&["deploy", DI, "di-after", "--config", "database-name=afterdb"]);
    c.ok(&["integrate", "di-after", MONGO]);
    c.wait_active(&[MONGO, DI, "di-after"]);
    let after = c.credentials_for("di-after/leader", "mongodb");
    check_mongodb_credentials(&after, engine, MONGO, "afterdb");
    assert_ne!(after["username"], second["username"]);
    let db = MongoSession::open(field(&after, "uris"));
    db.insert("t", doc! { "v": 42 });
    assert_eq!(db.find_one("t", doc! {}).and_then(|d| d.get_i32("v").ok()), Some(42));
    drop(db);

    // The role is fixed at deploy (charm-protocol.md §5.2); nothing changes.
    c.tether(&["config", MONGO, "role=config-server"])
        .assert_one_line_error("Migration of sharding components not permitted, revert config role to replication");
    assert_eq!(config_value(&c, MONGO, "role"), "replication");

    // Unknown extra-user-roles: the charm says so in status and issues no user; removing
    // the relation clears it.
    c.ok(&["deploy", DI, "di-roles", "--config", "database-name=rolesdb", "--config", "extra-user-roles=wizard"]);
    c.ok(&["integrate", "di-roles", MONGO]);
    let blocked = c.wait_for("mongodb to refuse the unknown role", |s| {
        let (word, message) = app_status(s, MONGO);
        Ok(word == "blocked" && message.contains("wizard"))
    });
    let (_, message) = app_status(&blocked, MONGO);
    assert!(message.contains("extra-user-roles"), "the message names the option: {message:?}");
    assert_get_credentials_refused(&c, "di-roles/leader");
    c.ok(&["remove-relation", "di-roles", MONGO]);
    c.wait_active(&[MONGO]);
    assert_eq!(MongoSession::open(&second_uri).count("seed_check"), 2, "other relations are untouched");
}

// ---- the sharded path: config server, mongos subordinate, data-integrator ----

#[test]
fn sharded_cluster_through_the_mongos_subordinate() {
    let engine = engine();
    let c = MongoController::bootstrap();
    c.ok(&["deploy", MONGO, "config-server", "--config", "role=config-server", "--config", &engine.config()]);
    c.ok(&["deploy", "mongos"]);
    c.ok(&["deploy", DI, "di2", "--config", "database-name=shardeddb"]);
    let status = c.wait_active(&["config-server"]);
    assert!(unit_names(&status, "mongos").is_empty(), "deploying a subordinate creates no unit: {status:#}");
    let config_server_port = open_port(&status["applications"]["config-server"]["units"]["config-server/0"]);
    assert_eq!(c.mongo_server_pids().len(), 1, "one server runs, and the leak check at drop sees it");

    // integrate mongos di2: one mongos unit beside di2/0, shown under it, waiting for
    // the config server.
    c.ok(&["integrate", "mongos", "di2"]);
    let status = wait_router(&c, "di2/0", ("blocked", MISSING_CLUSTER));
    let mongos = &status["applications"]["mongos"];
    assert_eq!(mongos["subordinate-to"], serde_json::json!(["di2"]), "{status:#}");
    assert!(mongos["units"].as_object().is_none_or(|u| u.is_empty()), "subordinate units show under their principal only: {status:#}");
    let subs = status["applications"]["di2"]["units"]["di2/0"]["subordinates"].as_object().cloned().unwrap_or_default();
    assert_eq!(subs.keys().collect::<Vec<_>>(), ["mongos/0"], "{status:#}");
    assert_eq!(related_apps(&status, "mongos", "mongos_proxy"), ["di2"], "{status:#}");
    assert_eq!(status["applications"]["mongos"]["relations"]["mongos_proxy"][0]["scope"], "container", "{status:#}");
    assert_eq!(related_apps(&status, "di2", "mongos"), ["mongos"], "{status:#}");
    assert_get_credentials_refused(&c, "di2/leader");

    // integrate config-server mongos: the router starts and di2 gets working credentials.
    c.ok(&["integrate", "config-server", "mongos"]);
    wait_router(&c, "di2/0", ("active", ""));
    let status = c.wait_active(&["config-server", "di2"]);
    assert_eq!(related_apps(&status, "mongos", "cluster"), ["config-server"], "{status:#}");
    assert_eq!(related_apps(&status, "config-server", "cluster"), ["mongos"], "{status:#}");
    let router_port = open_port(subordinate(&status, "di2/0", "mongos/0"));
    assert_ne!(router_port, config_server_port, "clients reach the router, not the config server");

    let plain = c.ok(&["run", "di2/leader", "get-credentials"]);
    assert!(plain.stdout.contains("mongos:") && plain.stdout.contains("relation-"), "{plain}");
    let creds = c.credentials_for("di2/leader", "mongos");
    let user = field(&creds, "username").to_string();
    assert!(is_mongo_relation_user(&user), "{creds:#}");
    let password = field(&creds, "password").to_string();
    assert_charm_password(&password, &creds);
    assert_eq!(field(&creds, "database"), "shardeddb");
    let uri = field(&creds, "uris").to_string();
    assert_eq!(uri, format!("mongodb://{user}:{password}@127.0.0.1:{router_port}/shardeddb?authSource=admin"), "uris point at the router");

    let db = MongoSession::open(&uri);
    assert_eq!(db.user(), user);
    db.insert("orders", doc! { "_id": 1, "via": "mongos" });
    assert_eq!(db.find_one("orders", doc! { "_id": 1 }).and_then(|d| d.get_str("via").ok().map(String::from)).as_deref(), Some("mongos"));
    drop(db);
    if engine == Engine::FerretDb {
        // The FerretDB router forwards to the config server: the document is there.
        let operator = get_password(&c, "config-server", None);
        let direct = MongoSession::open(&uri_for(&format!("127.0.0.1:{config_server_port}"), "operator", &operator, "shardeddb"));
        assert_eq!(direct.count("orders"), 1);
    }

    // remove-relation config-server mongos: the router stops, the user is dropped, the
    // host's credentials go.
    c.ok(&["remove-relation", "config-server", "mongos"]);
    wait_router(&c, "di2/0", ("blocked", MISSING_CLUSTER));
    let failure = wait_login_fails(&uri, "cut off", |_| true);
    eprintln!("through the router after remove-relation: {}", failure.describe());
    let direct_uri = uri.replace(&format!(":{router_port}/"), &format!(":{config_server_port}/"));
    wait_refused(&direct_uri);
    wait_get_credentials_refused(&c, "di2/leader");
    let status = c.status();
    assert!(related_apps(&status, "mongos", "cluster").is_empty(), "{status:#}");
    assert_eq!(related_apps(&status, "mongos", "mongos_proxy"), ["di2"], "the router stays beside its host: {status:#}");

    // The seed's rotation for the sharded path: integrate again, a new user, same data.
    c.ok(&["integrate", "config-server", "mongos"]);
    wait_router(&c, "di2/0", ("active", ""));
    let again = c.wait_credentials_for("di2/leader", "mongos", "a new mongos user", |m| m["username"] != user.as_str());
    assert!(is_mongo_relation_user(field(&again, "username")), "{again:#}");
    let db = MongoSession::open(field(&again, "uris"));
    assert_eq!(db.user(), field(&again, "username"));
    assert_eq!(db.count("orders"), 1, "data written before the rotation is there");
    drop(db);
    assert_refused(&direct_uri);

    // Bad input on the sharded side: the role is fixed, and a config server refuses the
    // `database` endpoint (charm-protocol.md §5.2, §5.4).
    c.tether(&["config", "config-server", "role=replication"])
        .assert_one_line_error("Migration of sharding components not permitted, revert config role to config-server");
    assert_eq!(
        c.tether(&["config", "config-server", "role=replication"]).stderr.trim(),
        "ERROR Migration of sharding components not permitted, revert config role to config-server"
    );
    assert_eq!(config_value(&c, "config-server", "role"), "config-server");
    c.ok(&["deploy", DI, "di-direct", "--config", "database-name=directdb"]);
    c.ok(&["integrate", "di-direct", "config-server"]);
    c.wait_for("the config server to refuse the database endpoint", |s| {
        Ok(app_status(s, "config-server") == ("blocked".into(), "Sharding roles do not support database interface.".into()))
    });
    assert_get_credentials_refused(&c, "di-direct/leader");
}

// ---- drift repair (issue 6 §3): marked users repaired, unmarked ones untouched ----

/// update-status resets a relation user's password changed by hand and recreates one
/// dropped by hand (saying so in debug-log); a hand-made look-alike `relation-<n>` without
/// tether's ownership marker (customData on mongod, the registry under FerretDB) and an
/// unrelated user survive the pass.
#[test]
fn drift_is_repaired_and_users_tether_does_not_own_are_left_alone() {
    let engine = engine();
    let c = MongoController::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    c.ok(&["deploy", MONGO, "--config", &engine.config()]);
    c.ok(&["deploy", DI, "--config", "database-name=driftdb"]);
    c.ok(&["integrate", DI, MONGO]);
    c.wait_active(&[MONGO, DI]);
    let creds = c.credentials_for("data-integrator/leader", "mongodb");
    let user = field(&creds, "username").to_string();
    let uri = field(&creds, "uris").to_string();
    let (_, port) = first_endpoint(field(&creds, "endpoints"));
    let operator = get_password(&c, MONGO, None);
    let admin = MongoSession::open(&uri_for(&format!("127.0.0.1:{port}"), "operator", &operator, "admin"));
    let command = |cmd: Document| {
        admin
            .rt
            .block_on(async { admin.client().database("admin").run_command(cmd.clone()).await })
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    };
    for (name, pw) in [("relation-9999", "hand-made-1"), ("alice", "hand-made-2")] {
        command(doc! { "createUser": name, "pwd": pw, "roles": [], "mechanisms": ["SCRAM-SHA-256"] });
    }
    let wait_login = |what: &str| {
        wait_until(&format!("{what} to be repaired"), Duration::from_secs(60), || MongoSession::connect(&uri).map_err(|f| f.describe()));
    };

    command(doc! { "updateUser": &user, "pwd": "changed-by-hand", "mechanisms": ["SCRAM-SHA-256"] });
    assert!(MongoSession::connect(&uri).is_err(), "the password was changed by hand");
    wait_login("a password changed by hand");

    command(doc! { "dropUser": &user });
    assert!(MongoSession::connect(&uri).is_err(), "the user was dropped by hand");
    wait_login("a user dropped by hand");
    let log = c.ok(&["debug-log", "--limit", "100000"]).stdout;
    assert!(log.contains(&format!("drift repaired: recreated {user}")), "debug-log does not tell the repair:\n{log}");

    let users = command(doc! { "usersInfo": 1 });
    let names: Vec<&str> =
        users.get_array("users").map(|a| a.iter().filter_map(|u| u.as_document()?.get_str("user").ok()).collect()).unwrap_or_default();
    for kept in ["relation-9999", "alice", user.as_str()] {
        assert!(names.contains(&kept), "{kept} is there after the repair pass: {names:?}");
    }
}

// ---- shards (charm-protocol §5.6): mongod joins them, FerretDB says it cannot ----

/// The `sharding` / `config-server` endpoints: a replica set refuses `sharding`; under
/// FerretDB a shard and the config server's relation to it are blocked with the reason;
/// with mongod the shard joins (the config server's router lists it) and is drained on
/// remove-relation. Removing the relations clears every block.
#[test]
fn shards_join_a_config_server_only_where_mongod_runs() {
    let engine = engine();
    let c = MongoController::bootstrap();
    c.ok(&["deploy", MONGO, "cs", "--config", "role=config-server", "--config", &engine.config()]);
    c.ok(&["deploy", MONGO, "sh", "--config", "role=shard", "--config", &engine.config()]);
    c.ok(&["deploy", MONGO, "rs", "--config", &engine.config()]);
    c.wait_active(&["cs", "rs"]);
    let alone = match engine {
        Engine::FerretDb => "role shard needs mongod: FerretDB has no sharding",
        Engine::Mongod => "missing relation to config server",
    };
    c.wait_for("the lone shard to be blocked", |s| Ok(app_status(s, "sh") == ("blocked".into(), alone.into())));

    c.ok(&["integrate", "sh:sharding", "cs:config-server"]);
    match engine {
        Engine::FerretDb => {
            c.wait_for("both sides to say FerretDB cannot shard", |s| {
                Ok(app_status(s, "cs") == ("blocked".into(), "cannot add shard sh: FerretDB has no sharding".into())
                    && app_status(s, "sh") == ("blocked".into(), alone.into()))
            });
        }
        Engine::Mongod => {
            c.wait_active(&["sh"]);
            // The shard took the cluster's operator password: one login across the cluster.
            let operator = get_password(&c, "cs", None);
            assert_eq!(get_password(&c, "sh", None), operator);
            let status = c.status();
            let shard_port = open_port(&status["applications"]["sh"]["units"]["sh/0"]);
            let on_shard = MongoSession::open(&uri_for(&format!("127.0.0.1:{shard_port}"), "operator", &operator, "admin"));
            drop(on_shard);
            wait_shard_listed(&c, &operator, "sh", true);
        }
    }

    // A replica set cannot be a shard.
    c.ok(&["integrate", "rs:sharding", "cs:config-server"]);
    c.wait_for("the replica set to refuse sharding", |s| {
        Ok(app_status(s, "rs") == ("blocked".into(), "sharding interface cannot be used by replicas".into()))
    });

    c.ok(&["remove-relation", "rs:sharding", "cs:config-server"]);
    c.ok(&["remove-relation", "sh:sharding", "cs:config-server"]);
    c.wait_for("every block to clear", |s| {
        Ok(app_status(s, "rs").0 == "active"
            && app_status(s, "cs").0 == "active"
            && app_status(s, "sh") == ("blocked".into(), alone.into()))
    });
    if engine == Engine::Mongod {
        wait_shard_listed(&c, &get_password(&c, "cs", None), "sh", false);
    }
}

/// Waits until the config server's cluster does (or no longer does) list `shard`, asking
/// through a mongos router (deploys one beside a data-integrator the first time).
fn wait_shard_listed(c: &Controller, operator: &str, shard: &str, listed: bool) {
    if !has_app(&c.status(), "probe") {
        c.ok(&["deploy", DI, "probe", "--config", "database-name=probe"]);
        c.ok(&["deploy", "mongos", "probe-router"]);
        c.ok(&["integrate", "probe-router", "probe"]);
        c.ok(&["integrate", "cs", "probe-router"]);
    }
    let status = wait_router(c, "probe/0", ("active", ""));
    let port = open_port(subordinate(&status, "probe/0", "probe-router/0"));
    let session = MongoSession::open(&uri_for(&format!("127.0.0.1:{port}"), "operator", operator, "admin"));
    wait_until(&format!("shard {shard} listed={listed}"), Duration::from_secs(120), || {
        let reply = session.rt.block_on(async { session.client().database("admin").run_command(doc! { "listShards": 1 }).await });
        let reply = reply.expect("listShards through the router");
        let states: Vec<(String, i64)> = reply
            .get_array("shards")
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_document())
                    .map(|d| {
                        (
                            d.get_str("_id").unwrap_or("").to_string(),
                            d.get_i32("draining").map(i64::from).or_else(|_| d.get_bool("draining").map(i64::from)).unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let active = states.iter().any(|(name, draining)| name == shard && *draining == 0);
        if active == listed {
            Ok(())
        } else {
            Err(reply.to_string())
        }
    });
}

// ---- mongodb -n 3 with mongod: a replica set of every unit ----

/// The units' workload statuses, by unit name.
fn unit_statuses(status: &Value, app: &str) -> Vec<(String, (String, String))> {
    let units = status["applications"][app]["units"].as_object().cloned().unwrap_or_default();
    units.iter().map(|(name, u)| (name.clone(), workload(u))).collect()
}

/// The unit showing `Primary`, once exactly one does and every other shows `replica`.
fn wait_one_primary(c: &Controller, app: &str, units: usize) -> String {
    let mut primary = String::new();
    c.wait_for(&format!("one Primary and {} replicas", units - 1), |s| {
        let statuses = unit_statuses(s, app);
        let primaries: Vec<&String> = statuses.iter().filter(|(_, w)| *w == ("active".into(), "Primary".into())).map(|(n, _)| n).collect();
        let replicas = statuses.iter().filter(|(_, w)| *w == ("active".into(), "replica".into())).count();
        if statuses.len() == units && primaries.len() == 1 && replicas == units - 1 {
            primary = primaries[0].clone();
            return Ok(true);
        }
        Ok(false)
    });
    primary
}

/// Waits until the credentials name `members` endpoints, and checks their shape: every
/// member in `endpoints` and in the URI, `replset` the application, `replicaSet` in the URI.
fn wait_replset_credentials(c: &Controller, members: usize) -> Value {
    let creds = c.wait_credentials_for("data-integrator/leader", "mongodb", &format!("{members} endpoints"), |m| {
        m["endpoints"].as_str().is_some_and(|e| e.split(',').count() == members)
    });
    let endpoints = field(&creds, "endpoints");
    assert_eq!(field(&creds, "replset"), MONGO, "{creds:#}");
    let (user, password) = (field(&creds, "username"), field(&creds, "password"));
    assert_eq!(field(&creds, "uris"), format!("mongodb://{user}:{password}@{endpoints}/mdb?replicaSet={MONGO}&authSource=admin"), "uris");
    creds
}

/// `deploy mongodb -n 3`: with mongod, a replica set of three members, one per unit (the
/// primary is whatever mongod elected, `Primary` in its unit's status, `replica` in the
/// others'); requirers get every member and `replicaSet`; `add-unit` adds a member and
/// `remove-unit` of the primary leaves a set whose new primary serves the same data
/// through the same URI. Under FerretDB (its cluster is `ha_mongodb`'s) this test checks
/// only that a single unit stays single after `add-unit`: the replica-set half runs only
/// where mongod is installed (`TETHER_TEST_MONGO_ENGINE=mongod`).
#[test]
fn mongod_replica_set_of_every_unit() {
    let engine = engine();
    let c = MongoController::bootstrap();
    c.ok(&["deploy", DI, "--config", "database-name=mdb"]);
    match engine {
        Engine::FerretDb => {
            c.ok(&["deploy", MONGO, "--config", &engine.config()]);
            c.ok(&["integrate", DI, MONGO]);
            c.wait_active(&[MONGO, DI]);
            c.ok(&["add-unit", MONGO]);
            c.wait_for("the added unit to run nothing of its own", |s| {
                let w = workload(&s["applications"][MONGO]["units"]["mongodb/1"]);
                Ok(w.0 == "waiting" && w.1.starts_with("no server of its own"))
            });
            let creds = c.credentials_for("data-integrator/leader", "mongodb");
            check_mongodb_credentials(&creds, engine, MONGO, "mdb");
            assert_eq!(c.mongo_server_pids().len(), 1, "still one server");
        }
        Engine::Mongod => {
            c.ok(&["deploy", MONGO, "-n", "3", "--config", &engine.config()]);
            c.ok(&["integrate", DI, MONGO]);
            c.wait_active(&[MONGO, DI]);
            let primary = wait_one_primary(&c, MONGO, 3);
            assert_eq!(c.mongo_server_pids().len(), 3, "one mongod per unit");
            let got = c.action_results(&format!("{MONGO}/leader"), "get-primary", &[]);
            assert_eq!(got["replica-set-primary"].as_str(), Some(primary.as_str()), "get-primary says what hello says");

            let creds = wait_replset_credentials(&c, 3);
            let uri = field(&creds, "uris").to_string();
            let db = MongoSession::open(&uri);
            db.insert("replicated", doc! { "_id": 1, "note": "written through the replica set" });
            drop(db);

            // add-unit: a fourth member, added by the leader on the primary.
            c.ok(&["add-unit", MONGO]);
            wait_one_primary(&c, MONGO, 4);
            wait_replset_credentials(&c, 4);

            // remove-unit of the primary: it steps down and leaves; mongod elects another.
            c.ok(&["remove-unit", &primary]);
            let next = wait_one_primary(&c, MONGO, 3);
            assert_ne!(next, primary);
            let creds = wait_replset_credentials(&c, 3);
            let db = MongoSession::open(field(&creds, "uris"));
            let kept = db.find_one("replicated", doc! { "_id": 1 }).expect("the document survives the primary's removal");
            assert_eq!(kept.get_str("note").ok(), Some("written through the replica set"));
            drop(db);
            // The URI handed out before still works: its other members lead the driver to
            // the new primary, and users live in the set, not in a unit.
            let before = MongoSession::open(&uri);
            assert_eq!(before.count("replicated"), 1);
        }
    }
}

// ---- bad input: one line, non-zero exit, nothing created ----

#[test]
fn bad_mongo_input_is_refused_in_one_line_and_creates_nothing() {
    engine();
    let c = MongoController::bootstrap();
    let apps_before = app_names(&c.status());

    c.tether(&["deploy", MONGO, "m2", "--config", "role=bogus"]).assert_one_line_error("unknown role \"bogus\"");
    c.tether(&["deploy", MONGO, "m2", "--config", "engine=bogus"]).assert_one_line_error("unknown engine \"bogus\"");
    for hostile in ["a$b", "a.b", "../etc", "a b", "a/b", "x;db.dropDatabase()"] {
        c.tether(&["deploy", DI, "x", "--config", &format!("database-name={hostile}")]).assert_one_line_error("database name");
    }
    assert_eq!(app_names(&c.status()), apps_before, "nothing was deployed");
    // The names are free: the refused deploys left nothing behind.
    c.ok(&["deploy", DI, "x", "--config", "database-name=fine_name"]);

    // mongos with an application that has no mongos_client endpoint.
    c.ok(&["deploy", "mongos"]);
    c.ok(&["deploy", "postgresql-k8s"]);
    c.tether(&["integrate", "mongos", "postgresql-k8s"]).assert_one_line_error("no relations found");
    c.tether(&["integrate", "postgresql-k8s", "mongos"]).assert_one_line_error("no relations found");
    let status = c.status();
    for app in ["mongos", "postgresql-k8s"] {
        let rels = &status["applications"][app]["relations"];
        let others: Vec<String> = rels
            .as_object()
            .map(|m| {
                m.values()
                    .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                    .filter_map(|r| r["related-application"].as_str().map(String::from))
                    .filter(|a| a != app)
                    .collect()
            })
            .unwrap_or_default();
        assert!(others.is_empty(), "{app} got no relation: {status:#}");
    }
    assert!(unit_names(&status, "mongos").is_empty(), "no mongos unit was placed: {status:#}");
}

// ---- regression: container relations can be removed and integrated again ----

/// Removing the container relation between mongos and its host, then integrating them
/// again, must place a fresh mongos unit (the relation once stayed `dying` forever when a
/// subordinate's departure queued a `relation-departed` after the principal's broken).
#[test]
fn container_relation_can_be_removed_and_integrated_again() {
    let c = MongoController::bootstrap();
    c.ok(&["deploy", "mongos"]);
    c.ok(&["deploy", DI, "di2", "--config", "database-name=x"]);
    c.ok(&["integrate", "mongos", "di2"]);
    wait_router(&c, "di2/0", ("blocked", MISSING_CLUSTER));
    c.ok(&["remove-relation", "mongos", "di2"]);
    c.wait_for("the container relation to be gone", |s| Ok(related_apps(s, "di2", "mongos").is_empty()));
    c.ok(&["integrate", "mongos", "di2"]);
    wait_router(&c, "di2/0", ("blocked", MISSING_CLUSTER));
}

// ---- issue 16: rotation without downtime ----

impl MongoSession {
    /// One authenticated command on this session, as a result (the traffic clients).
    fn try_count(&self, coll: &str) -> Result<u64, String> {
        self.rt.block_on(async { self.coll(coll).count_documents(doc! {}).await }).map_err(|e| e.to_string())
    }

    fn try_insert(&self, coll: &str, d: Document) -> Result<(), String> {
        self.rt.block_on(async { self.coll(coll).insert_one(d).await }).map(|_| ()).map_err(|e| e.to_string())
    }
}

#[test]
fn credentials_rotate_without_a_failed_query() {
    let engine = engine();
    let c = MongoController::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MONGO, "--config", &engine.config(), "--config", "credential-grace-period=20s"]);
    c.ok(&["deploy", DI, "--config", "database-name=rotdb"]);
    c.ok(&["integrate", DI, MONGO]);
    c.wait_active(&[MONGO, DI]);
    let old = c.credentials_for("data-integrator/leader", "mongodb");
    let old_uri = field(&old, "uris").to_string();
    MongoSession::open(&old_uri).insert("kept", doc! { "n": 0 });

    let creds = std::sync::Arc::new(std::sync::Mutex::new(old_uri.clone()));
    let traffic = Traffic::start(
        creds.clone(),
        |uri: &String| {
            let s = MongoSession::connect(uri).map_err(|e| format!("{}: {}", redact(uri), e.describe()))?;
            s.try_insert("kept", doc! { "n": 1 })
        },
        |uri: &String| MongoSession::connect(uri).map_err(|e| e.describe()),
        |s: &mut MongoSession| s.try_count("kept").map(|_| ()),
    );

    let rotated = c.action_results("mongodb/leader", "rotate-credentials", &[&format!("application={DI}")]);
    let entry = rotated["rotated"].as_object().and_then(|m| m.values().next().cloned()).unwrap_or_else(|| panic!("{rotated:#}"));
    let until = epoch_of(entry["previous-valid-until"].as_str().unwrap_or_else(|| panic!("{entry:#}")));
    let new = c.wait_credentials_for("data-integrator/leader", "mongodb", "the rotated credentials", |m| m["username"] != old["username"]);
    let new_uri = field(&new, "uris").to_string();
    assert_eq!(field(&new, "username"), format!("{}r1", field(&old, "username")));
    *creds.lock().unwrap() = new_uri.clone();
    assert!(epoch_now() < until, "the grace period must still run here");
    MongoSession::open(&old_uri);
    assert_eq!(MongoSession::open(&new_uri).user(), field(&new, "username"));

    wait_refused(&old_uri);
    let refused_at = epoch_now();
    let report = traffic.stop();
    // FerretDB has no command that ends another connection's session: the one already
    // open keeps working until its client closes it (said in the README).
    report.assert_rotation(until, refused_at, engine == Engine::Mongod);
    if engine == Engine::FerretDb {
        assert!(report.long_lived_ended.is_none(), "{report:?}");
    }
    let db = MongoSession::open(&new_uri);
    assert_eq!(db.count("kept"), report.queries + 1, "every write of either login is there");
}
