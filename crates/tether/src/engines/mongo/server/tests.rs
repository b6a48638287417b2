//! Tests against a real FerretDB (found as tether finds it: `$TETHER_FERRETDB_BIN` or
//! `.tools/bin/ferretdb` from `scripts/install-ferretdb`; missing is a failure, not a
//! skip): start, authenticated ping, adoption, stale pid files, the supervisor restarting a
//! killed server, and the router relaying an authenticated client. mongod is not in
//! Debian, so its path is not exercised here.

use std::time::Duration;

use mongodb::bson::{doc, Document};

use super::*;
use crate::engines::mongo::router::{self as mongos_router, RouterSpec, Routers};
use crate::workload::process::{signal, stop_pid_blocking};
use crate::workload::{free_port, Supervisor, WorkloadState};

/// Stops every server it was told about, and the one in the pid file, on drop.
pub(crate) struct Guard {
    data_dir: PathBuf,
    pids: std::sync::Mutex<Vec<u32>>,
}

impl Guard {
    pub(crate) fn track(&self, pid: u32) {
        self.pids.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut pids = std::mem::take(&mut *self.pids.lock().unwrap_or_else(|p| p.into_inner()));
        pids.extend(read_pid_file(&self.data_dir).map(|(pid, _)| pid));
        for pid in pids {
            stop_pid_blocking(pid, Signal::SIGTERM, Duration::from_secs(20));
        }
    }
}

/// A 0700 temporary home with a FerretDB spec in it; fields drop in order, so the guard
/// stops the server before the directory goes.
pub(crate) struct MongoHome {
    pub guard: Guard,
    pub spec: MongoSpec,
    pub home: tempfile::TempDir,
}

impl MongoHome {
    pub(crate) fn new() -> MongoHome {
        let engine =
            MongoEngine::detect(Some("ferretdb")).expect("FerretDB must be installed for these tests: run scripts/install-ferretdb");
        let home = tempfile::Builder::new().prefix("tether-test.").tempdir().expect("temp home");
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod 0700");
        let unit = home.path().join("units/model-uuid/mongodb-0");
        let spec = MongoSpec::for_unit(&unit, free_port().expect("free port"), generate_password(32), engine, Some("mongodb".into()));
        MongoHome { guard: Guard { data_dir: spec.data_dir.clone(), pids: Default::default() }, spec, home }
    }

    /// Starts the server and has the guard track it.
    pub(crate) async fn started() -> (MongoHome, Proc) {
        let t = MongoHome::new();
        let proc = start(&t.spec).await.expect("start FerretDB");
        t.guard.track(proc.pid());
        (t, proc)
    }
}

async fn login(port: u16, password: &SecretString) -> bool {
    try_login(port, ADMIN_USER, password).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_ping_adopt_and_restart_from_disk() {
    let (t, mut proc) = MongoHome::started().await;
    assert!(matches!(proc, Proc::Child { .. }));
    assert!(login(t.spec.port, &t.spec.operator_password).await);
    assert!(matches!(try_login(t.spec.port, ADMIN_USER, &SecretString::new("wrong")).await, Err(LoginFailure::Refused)));
    assert!(matches!(try_login(t.spec.port, "nobody", &t.spec.operator_password).await, Err(LoginFailure::Refused)));
    assert_eq!(read_pid_file(&t.spec.data_dir), Some((proc.pid(), t.spec.port)));
    assert!(is_server_of(proc.pid(), &t.spec.data_dir));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&t.spec.data_dir).unwrap().permissions().mode() & 0o777, 0o700);

    // The password is neither in argv nor in any file tether or FerretDB wrote.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", proc.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(t.spec.operator_password.expose()));
    for entry in std::fs::read_dir(&t.spec.data_dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(t.spec.operator_password.expose()), "{:?}", entry.path());
    }

    // A second start adopts the live server.
    let adopted = start(&t.spec).await.expect("adopt");
    assert!(matches!(adopted, Proc::Adopted { .. }));
    assert_eq!(adopted.pid(), proc.pid());
    // A wrong password on adoption is refused, not papered over by a second server.
    let mut wrong = t.spec.clone();
    wrong.operator_password = SecretString::new("not-the-password");
    assert!(matches!(start(&wrong).await, Err(WorkloadError::LoginRefused { .. })));

    // Clean stop; then a stale pid file naming a live process that is not a server.
    proc.terminate(Signal::SIGTERM, Duration::from_secs(30)).await.unwrap();
    assert!(!login(t.spec.port, &t.spec.operator_password).await);
    std::fs::write(t.spec.data_dir.join(PID_FILE), format!("{}\n{}\n", std::process::id(), t.spec.port)).unwrap();
    let again = start(&t.spec).await.expect("start over a stale pid file");
    t.guard.track(again.pid());
    assert!(matches!(again, Proc::Child { .. }));
    assert!(login(t.spec.port, &t.spec.operator_password).await, "same data, same operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_restarts_a_killed_server() {
    let t = MongoHome::new();
    let sup = Supervisor::with_root(t.home.path().to_path_buf(), crate::engines::stray_servers());
    let unit = "mongodb/0";
    let spec = t.spec.clone();
    sup.ensure_running(unit, spec.clone()).await.expect("start");
    let WorkloadState::Running { pid } = sup.state(unit) else { panic!("not running: {:?}", sup.state(unit)) };
    t.guard.track(pid);
    sup.ensure_running(unit, spec.clone()).await.expect("idempotent");
    assert_eq!(sup.state(unit), WorkloadState::Running { pid });

    signal(pid, Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let new_pid = loop {
        match sup.state(unit) {
            WorkloadState::Running { pid: p } if p != pid => break p,
            s if Instant::now() > deadline => panic!("not restarted: {s:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    t.guard.track(new_pid);
    assert!(login(t.spec.port, &t.spec.operator_password).await);

    sup.stop(unit).await;
    assert!(!pid_alive(new_pid));
    let unit_dir = t.spec.data_dir.parent().unwrap().to_path_buf();
    sup.ensure_running(unit, spec).await.expect("back from disk");
    let WorkloadState::Running { pid } = sup.state(unit) else { panic!("not running") };
    t.guard.track(pid);
    sup.remove_data(unit, &unit_dir).await.expect("remove");
    assert!(!pid_alive(pid) && !unit_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_relays_authenticated_clients_to_the_config_server() {
    let (t, _proc) = MongoHome::started().await;
    let port = free_port().unwrap();
    let spec = RouterSpec {
        dir: t.home.path().join("units/model-uuid/mongos-0"),
        port,
        config_db: format!("mongodb/127.0.0.1:{}", t.spec.port),
        keyfile: generate_password(64),
        engine: MongoEngine::FerretDb,
    };
    assert_eq!(spec.upstreams(), vec![format!("127.0.0.1:{}", t.spec.port)]);
    let routers = Routers::default();
    routers.ensure_running("mongos/0", spec.clone()).await.expect("router");
    routers.ensure_running("mongos/0", spec.clone()).await.expect("idempotent");
    assert!(routers.is_running("mongos/0").await);

    // Through the router: SCRAM with the config server's users, and its data.
    let uri =
        tether_core::mongo_plan::render_uri(ADMIN_USER, t.spec.operator_password.expose(), &[format!("127.0.0.1:{port}")], "app", None);
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let coll = client.database("app").collection::<Document>("things");
    coll.insert_one(doc! { "via": "router" }).await.expect("write through the router");
    assert!(login(t.spec.port, &t.spec.operator_password).await);
    let direct =
        mongodb::Client::with_options(client_options(t.spec.port, Some((ADMIN_USER, &t.spec.operator_password)), Duration::from_secs(5)))
            .unwrap();
    let found = direct.database("app").collection::<Document>("things").find_one(doc! {}).await.unwrap().expect("the row");
    assert_eq!(found.get_str("via").unwrap(), "router");
    assert!(!login(port, &SecretString::new("wrong")).await, "wrong passwords are refused through the router");

    routers.stop("mongos/0").await.unwrap();
    assert!(!routers.is_running("mongos/0").await);
    assert!(matches!(try_login(port, ADMIN_USER, &t.spec.operator_password).await, Err(LoginFailure::Other(_))), "stopped");
    routers.stop("mongos/0").await.unwrap();
    routers.ensure_running("mongos/1", spec.clone()).await.expect("again on the same port");
    routers.stop_all().await;
    assert!(!routers.is_running("mongos/1").await);

    let bad = RouterSpec { config_db: "mongodb/".into(), ..spec };
    assert!(mongos_router::start(&bad).await.is_err());
}

#[test]
fn engines_are_detected_and_argv_holds_no_secret() {
    assert!(MongoEngine::detect(Some("ferretdb")).is_ok());
    assert!(MongoEngine::detect(Some(" auto ")).is_ok());
    let e = MongoEngine::detect(Some("cassandra")).unwrap_err().to_string();
    assert!(e.contains("unknown engine \"cassandra\""), "{e}");
    let t = MongoHome::new();
    let a = args(&t.spec, Path::new("/k"));
    assert!(a.contains(&format!("--listen-addr=127.0.0.1:{}", t.spec.port)));
    assert!(a.contains(&"--test-enable-new-auth".to_string()) && a.contains(&"--debug-addr=-".to_string()));
    assert!(!a.iter().any(|x| x.contains(t.spec.operator_password.expose())));
    let mongod = MongoSpec { engine: MongoEngine::Mongod, ..t.spec.clone() };
    let a = args(&mongod, Path::new("/k")).join(" ");
    assert!(a.contains("--auth --keyFile /k --replSet mongodb") && a.contains("--bind_ip 127.0.0.1"), "{a}");
    let shard = MongoSpec { engine: MongoEngine::Mongod, cluster_role: ClusterRole::Shard, ..t.spec.clone() };
    assert!(args(&shard, Path::new("/k")).contains(&"--shardsvr".to_string()));
    let config = MongoSpec { engine: MongoEngine::Mongod, cluster_role: ClusterRole::ConfigServer, ..t.spec.clone() };
    assert!(args(&config, Path::new("/k")).contains(&"--configsvr".to_string()));
    assert!(!url_safe(Path::new("/tmp/a b")) && !url_safe(Path::new("/tmp/a?b")) && url_safe(Path::new("/tmp/tether-test.x1/u")));
}

#[test]
fn keyfile_is_kept_made_or_replaced_and_owner_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k");
    write_keyfile(&path, None).expect("random keyfile");
    let random = std::fs::read_to_string(&path).expect("read");
    assert_eq!(random.len(), 1024);
    write_keyfile(&path, None).expect("kept");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), random);
    let cluster = SecretString::new("c".repeat(1024));
    write_keyfile(&path, Some(&cluster)).expect("replaced");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), cluster.expose());
    assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o400);
}
