//! Adopt mode of mongodb, end to end through the CLI: a FerretDB started by this test
//! outside tether ([`ExternalFerretDb`]: its SQLite backend in a temporary directory, on a
//! free port of 127.0.0.1, an admin `dba` made by FerretDB's own setup) is managed by
//! tether, which starts no server or router of its own, issues and revokes relation users
//! there, and never touches the server's own users, databases or process.
//!
//! FerretDB is found as the daemon finds it: `$TETHER_FERRETDB_BIN`, `ferretdb` on `PATH`,
//! else `.tools/bin/ferretdb` above the tether binary (`scripts/install-ferretdb`).

mod common;

use common::*;
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const MONGO: &str = "mongodb";
const APP: &str = "mongo-ext";
const DBA_PASSWORD: &str = "dba-secret-pw";

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn ferretdb_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TETHER_FERRETDB_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let on_path =
        std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).map(|d| d.join("ferretdb")).find(|p| is_executable(p)));
    on_path
        .or_else(|| Path::new(TETHER).ancestors().skip(1).map(|d| d.join(".tools/bin/ferretdb")).find(|p| is_executable(p)))
        .expect("FerretDB is not installed, and these tests never skip: run scripts/install-ferretdb or set TETHER_FERRETDB_BIN")
}

/// A FerretDB this test started, outside tether; killed by its pid when dropped.
struct ExternalFerretDb {
    port: u16,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
}

impl ExternalFerretDb {
    /// Starts FerretDB with the admin `dba` (its setup runs on the first start only).
    fn start() -> ExternalFerretDb {
        let dir = tempfile::Builder::new().prefix("tether-external-ferretdb-").tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        let server = ExternalFerretDb { port, child: Mutex::new(None), dir };
        server.start_again();
        server
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start_again(&self) {
        let d = self.dir.path().display();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("ferretdb.log")).expect("log");
        let child = Command::new(ferretdb_bin())
            .args([
                "--handler=sqlite".to_string(),
                format!("--sqlite-url=file:{d}/"),
                format!("--state-dir={d}"),
                format!("--listen-addr=127.0.0.1:{}", self.port),
                "--debug-addr=-".into(),
                "--telemetry=disable".into(),
                "--test-enable-new-auth".into(),
                "--setup-username=dba".into(),
                "--setup-database=admin".into(),
                "--log-format=text".into(),
            ])
            .env("FERRETDB_SETUP_PASSWORD", DBA_PASSWORD)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start FerretDB");
        *self.child.lock().unwrap() = Some(child);
        wait_until("the external FerretDB to accept its admin", SETTLE_TIMEOUT, || {
            login(&self.endpoint(), "dba", DBA_PASSWORD, "admin").map(drop)
        });
    }

    /// Stops it (by its pid) and waits for it to be gone.
    fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn running(&self) -> bool {
        self.child.lock().unwrap().as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Runs `f` with a driver client logged in as `dba` with `password`.
    fn as_admin<T>(&self, password: &str, f: impl AsyncFnOnce(&mongodb::Client) -> T) -> T {
        let uri = format!("mongodb://dba:{password}@{}/admin", self.endpoint());
        runtime().block_on(async {
            let client = connect(&uri).await.unwrap_or_else(|e| panic!("admin login: {e}"));
            f(&client).await
        })
    }
}

impl Drop for ExternalFerretDb {
    fn drop(&mut self) {
        self.stop();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// Logs in with a URI's parts (SCRAM, `authSource=admin`) and proves it with `connectionStatus`.
fn login(endpoint: &str, user: &str, password: &str, db: &str) -> Result<(), String> {
    uri_login(&format!("mongodb://{user}:{password}@{endpoint}/{db}?authSource=admin"))
}

/// Whether the URI logs in (the client is closed again).
fn uri_login(uri: &str) -> Result<(), String> {
    runtime().block_on(async { connect(uri).await.map(drop) })
}

/// Runs `f` with a client logged in with `uri`.
fn with_uri<T>(uri: &str, f: impl AsyncFnOnce(&mongodb::Client) -> T) -> T {
    runtime().block_on(async {
        let client = connect(uri).await.unwrap_or_else(|e| panic!("login with a published URI: {e}"));
        f(&client).await
    })
}

async fn connect(uri: &str) -> Result<mongodb::Client, String> {
    {
        let mut opts = ClientOptions::parse(uri).await.map_err(|e| format!("bad uri: {e}"))?;
        opts.server_selection_timeout = Some(Duration::from_secs(3));
        opts.connect_timeout = Some(Duration::from_secs(3));
        let db = opts.default_database.clone().unwrap_or_else(|| "admin".into());
        let client = mongodb::Client::with_options(opts).map_err(|e| e.to_string())?;
        client.database(&db).run_command(doc! { "connectionStatus": 1 }).await.map_err(|e| e.to_string())?;
        Ok(client)
    }
}

fn refused(r: Result<(), String>) -> bool {
    matches!(r, Err(e) if e.contains("Authentication failed") || e.contains("authentication"))
}

fn wait_refused(uri: &str) {
    wait_until("the login to be refused", SETTLE_TIMEOUT, || if refused(uri_login(uri)) { Ok(()) } else { Err("still accepted".into()) });
}

async fn users(client: &mongodb::Client) -> Vec<String> {
    let reply = client.database("admin").run_command(doc! { "usersInfo": 1 }).await.expect("usersInfo");
    let list = reply.get_array("users").cloned().unwrap_or_default();
    list.iter().filter_map(|u| u.as_document()?.get_str("user").ok().map(String::from)).collect()
}

async fn databases(client: &mongodb::Client) -> Vec<String> {
    client.list_database_names().await.expect("listDatabases")
}

fn deploy_adopted(c: &Controller, app: &str, endpoint: &str, uri: &str, secret: &str) {
    c.ok(&["deploy", MONGO, app, "--config", &format!("external-endpoint={endpoint}"), "--config", &format!("admin-secret={uri}")]);
    c.ok(&["grant-secret", secret, app]);
}

fn credentials(c: &Controller) -> (String, String) {
    let creds = c.credentials_for("data-integrator/leader", "mongodb");
    (creds["username"].as_str().unwrap().to_string(), creds["uris"].as_str().unwrap().to_string())
}

#[test]
fn seed_flow_on_an_adopted_ferretdb() {
    let server = ExternalFerretDb::start();
    let endpoint = server.endpoint();
    // The server's own: a user, a database, and a look-alike relation user made by hand.
    server.as_admin(DBA_PASSWORD, async |client| {
        for (user, pwd) in [("their_user", "theirs"), ("relation-999", "by-hand")] {
            client.database("admin").run_command(doc! { "createUser": user, "pwd": pwd, "roles": [] }).await.expect("createUser");
        }
        client.database("their_db").collection::<Document>("payroll").insert_one(doc! { "v": "x" }).await.expect("insert");
    });
    let (c, uri) = Controller::for_adoption("mongo-admin", "dba", DBA_PASSWORD);

    c.tether(&["deploy", MONGO, "bad", "--config", &format!("external-endpoint={endpoint}")]).assert_one_line_error("go together");
    c.tether(&[
        "deploy",
        MONGO,
        "bad",
        "--config",
        "role=config-server",
        "--config",
        &format!("external-endpoint={endpoint}"),
        "--config",
        &format!("admin-secret={uri}"),
    ])
    .assert_one_line_error("role replication only");
    deploy_adopted(&c, APP, &endpoint, &uri, "mongo-admin");
    c.ok(&["deploy", "data-integrator", "--config", "database-name=adopted_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    let status = c.wait_active(&[APP, "data-integrator"]);
    let (_, message) = unit_words(&status, APP).expect("the unit");
    assert!(message.contains(&endpoint) && message.contains("FerretDB") && message.contains('.'), "{message}");
    assert!(!message.contains(DBA_PASSWORD), "{message}");

    // The published URI points at the adopted server and writes there.
    let creds = c.credentials_for("data-integrator/leader", "mongodb");
    assert_eq!(creds["endpoints"], endpoint.as_str(), "{creds:#}");
    let (old_user, old_uri) = credentials(&c);
    assert!(old_uri.contains(&format!("@{endpoint}/adopted_db")), "the URI names the endpoint");
    with_uri(&old_uri, async |client| {
        client.database("adopted_db").collection::<Document>("kept").insert_one(doc! { "v": "before" }).await.expect("write")
    });
    // Its ownership marker names this application.
    let owner = server.as_admin(DBA_PASSWORD, async |client| {
        let registry = client.database("tether_meta").collection::<Document>("managed_users");
        registry.find_one(doc! { "_id": &old_user }).await.expect("registry").and_then(|d| d.get_str("owner").ok().map(String::from))
    });
    assert!(owner.as_deref().is_some_and(|o| o.ends_with(&format!("/{APP}"))), "{owner:?}");

    // The options are fixed; the server's own users are not tether's to show or change.
    c.tether(&["config", APP, "external-endpoint=127.0.0.1:1"]).assert_one_line_error("fixed at deploy");
    for action in ["set-password", "get-password"] {
        let (_, task) = c.run_action(&format!("{APP}/leader"), action, &["username=operator"]);
        assert_eq!(task["status"], "failed", "{task:#}");
        assert!(task["message"].as_str().unwrap_or_default().contains("adopted server"), "{task:#}");
    }

    // remove-relation: the user is refused, the database stays; integrating again issues a new user.
    c.ok(&["remove-relation", "data-integrator", APP]);
    wait_refused(&old_uri);
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    let second = c.wait_credentials_for("data-integrator/leader", "mongodb", "a new relation user", |m| m["username"] != old_user.as_str());
    let new_uri = second["uris"].as_str().unwrap().to_string();
    let found = with_uri(&new_uri, async |client| {
        client.database("adopted_db").collection::<Document>("kept").find_one(doc! { "v": "before" }).await.expect("read")
    });
    assert!(found.is_some(), "the data survives the new user");
    // The look-alike made by hand survives drift repair (a few update-status rounds).
    std::thread::sleep(Duration::from_secs(5));
    assert!(server.as_admin(DBA_PASSWORD, async |c| users(c).await).contains(&"relation-999".to_string()));

    // The server going away: waiting, naming the endpoint; back again: active.
    server.stop();
    let waiting = c.wait_unit(APP, "waiting", &endpoint);
    assert!(waiting.contains("unreachable") && !waiting.contains(DBA_PASSWORD), "{waiting}");
    server.start_again();
    c.wait_active(&[APP]);
    uri_login(&new_uri).expect("the relation's user still logs in");

    // rotate-admin-password: a password only tether knows; the old one is refused.
    let results = c.action_results(&format!("{APP}/leader"), "rotate-admin-password", &[]);
    assert!(!results.to_string().contains("password\":"), "{results:#}");
    let (_, content) = c.revealed_secret("mongo-admin");
    let rotated = content["password"].as_str().expect("a password").to_string();
    assert!(rotated != DBA_PASSWORD && content.get("password-pending").is_none(), "{content:#}");
    assert!(refused(login(&endpoint, "dba", DBA_PASSWORD, "admin")), "the old admin password is refused");
    login(&endpoint, "dba", &rotated, "admin").expect("the rotated admin password works");
    // Killed after the server took a newer password, before the hook committed: the
    // restarted controller finds the recorded password and completes the change.
    c.crash_at("hook.rotate-admin-password.after-effects", |c| c.tether(&["run", &format!("{APP}/leader"), "rotate-admin-password"]));
    assert!(refused(login(&endpoint, "dba", &rotated, "admin")), "the server took a newer password");
    let rotated = wait_until("the admin secret to hold the password the server takes", SETTLE_TIMEOUT, || {
        let (_, content) = c.revealed_secret("mongo-admin");
        let password = content["password"].as_str().unwrap_or_default().to_string();
        match (content.get("password-pending"), login(&endpoint, "dba", &password, "admin")) {
            (None, Ok(())) => Ok(password),
            other => Err(format!("pending: {}, login: {:?}", other.0.is_some(), other.1.err())),
        }
    });
    c.wait_active(&[APP]);
    // tether keeps working with it: a removed relation's user is dropped.
    c.ok(&["remove-relation", "data-integrator", APP]);
    wait_refused(&new_uri);

    // remove-application: the server, its own users and databases, and the data stay.
    c.ok(&["remove-application", APP]);
    c.wait_for("the application to be gone", |s| Ok(!has_app(s, APP)));
    assert!(server.running(), "the adopted server keeps running");
    let (left, dbs) = server.as_admin(&rotated, async |c| (users(c).await, databases(c).await));
    for user in ["dba", "their_user", "relation-999"] {
        assert!(left.contains(&user.to_string()), "{user} stays: {left:?}");
    }
    assert!(dbs.contains(&"their_db".to_string()) && dbs.contains(&"adopted_db".to_string()), "{dbs:?}");
    login(&endpoint, "their_user", "theirs", "their_db").expect("their user still logs in");
}

#[test]
fn a_refused_login_and_a_server_that_is_not_mongodb_block_with_a_clear_reason() {
    let server = ExternalFerretDb::start();
    let pg = ExternalPg::start();
    let (c, uri) = Controller::for_adoption("mongo-admin", "dba", "wrong-password");
    let free = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    deploy_adopted(&c, "mongo-wrong", &server.endpoint(), &uri, "mongo-admin");
    deploy_adopted(&c, "mongo-pg", &format!("127.0.0.1:{}", pg.port), &uri, "mongo-admin");
    deploy_adopted(&c, "mongo-nobody", &format!("127.0.0.1:{free}"), &uri, "mongo-admin");
    let wrong = c.wait_unit("mongo-wrong", "blocked", "refused");
    assert!(wrong.contains(&server.endpoint()) && !wrong.contains("wrong-password"), "{wrong}");
    let not_mongo = c.wait_unit("mongo-pg", "blocked", "not a MongoDB server");
    assert!(!not_mongo.contains("wrong-password"), "{not_mongo}");
    let nobody = c.wait_unit("mongo-nobody", "waiting", &format!("127.0.0.1:{free}"));
    assert!(nobody.contains("unreachable"), "{nobody}");
    // Nothing was created on the FerretDB.
    let left = server.as_admin(DBA_PASSWORD, async |c| users(c).await);
    assert_eq!(left, vec!["dba".to_string()], "{left:?}");
}

#[test]
fn a_list_of_endpoints_publishes_the_rest_as_read_only_endpoints() {
    let server = ExternalFerretDb::start();
    let primary = server.endpoint();
    let (c, uri) = Controller::for_adoption("mongo-admin", "dba", DBA_PASSWORD);
    // A duplicate is refused at deploy; the replicas are only handed on, never contacted.
    c.tether(&[
        "deploy",
        MONGO,
        "bad",
        "--config",
        &format!("external-endpoint={primary},{primary}"),
        "--config",
        &format!("admin-secret={uri}"),
    ])
    .assert_one_line_error("more than once");
    let replicas = "10.0.0.7:27017,10.0.0.8:27017";
    deploy_adopted(&c, APP, &format!("{primary},{replicas}"), &uri, "mongo-admin");
    c.ok(&["deploy", "data-integrator", "--config", "database-name=listed_db"]);
    c.ok(&["integrate", "data-integrator", APP]);
    c.wait_active(&[APP, "data-integrator"]);
    let creds = c.credentials_for("data-integrator/leader", "mongodb");
    assert_eq!((creds["endpoints"].as_str(), creds["read-only-endpoints"].as_str()), (Some(primary.as_str()), Some(replicas)), "{creds:#}");
    uri_login(creds["uris"].as_str().expect("uris")).expect("the published URI logs in on the primary");
}
