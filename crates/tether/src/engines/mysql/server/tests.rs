//! Tests against a real MariaDB server: initialisation, start, login, adoption, a refused
//! password, stale pid files, directory ownership, and the supervisor restarting a killed
//! server.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;
use crate::engines::mysql::testing::MyTestHome;
use crate::workload::process::pid_alive;
use crate::workload::{Supervisor, WorkloadState};

async fn login(port: u16, user: &str, password: &SecretString) -> bool {
    try_login(port, user, password).await.is_ok()
}

#[test]
fn the_native_password_hash_is_mysqls() {
    // SELECT PASSWORD('password') on any MariaDB/MySQL 5.x.
    assert_eq!(native_password_hash(&SecretString::new("password")), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
}

#[test]
fn missing_binaries_are_an_error_naming_the_fix() {
    let e = MariaDbBinaries::find_in(Path::new("/nonexistent"), Path::new("/nonexistent")).unwrap_err();
    assert!(e.to_string().starts_with("MariaDB server binaries not found"), "{e}");
    assert!(e.to_string().contains("install mariadb-server"), "{e}");
}

#[test]
fn mysqld_version_lines_name_the_server() {
    assert_eq!(
        flavor_of("/usr/sbin/mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)"),
        Some(Dialect::MariaDb)
    );
    assert_eq!(flavor_of("/usr/sbin/mysqld  Ver 8.0.36-0ubuntu0.22.04.1 for Linux on x86_64 ((Ubuntu))"), Some(Dialect::MySql));
    assert_eq!(flavor_of("/usr/sbin/mysqld  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)"), Some(Dialect::MySql));
    assert_eq!(flavor_of("mysqld  Ver 9.1.0 for Linux on x86_64 (MySQL Community Server - GPL)"), Some(Dialect::MySql));
    assert_eq!(flavor_of("/usr/sbin/mysqld  Ver 5.7.44 for Linux on x86_64 (MySQL Community Server (GPL))"), None, "no roles before 8");
    assert_eq!(flavor_of(""), None);
}

/// A directory with a fake `mysqld` that prints `line` for `--version`.
fn fake_mysqld(line: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mysqld");
    std::fs::write(&path, format!("#!/bin/sh\necho '{line}'\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_mysql8_mysqld_is_found_and_older_or_incomplete_ones_are_refused() {
    let d = fake_mysqld("/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)");
    let b = MariaDbBinaries::find_in(d.path(), d.path()).unwrap();
    assert_eq!(b.flavor, Dialect::MySql);
    assert_eq!(b.mariadbd, d.path().join("mysqld"));

    let old = fake_mysqld("/usr/sbin/mysqld  Ver 5.7.44 for Linux on x86_64");
    let e = MariaDbBinaries::find_in(old.path(), old.path()).unwrap_err();
    assert!(e.to_string().contains("neither MariaDB nor MySQL 8"), "{e}");
    // A MariaDB mysqld without mariadb-install-db is not enough.
    let maria = fake_mysqld("mysqld  Ver 10.11.6-MariaDB for debian-linux-gnu");
    let e = MariaDbBinaries::find_in(maria.path(), maria.path()).unwrap_err();
    assert!(e.to_string().contains("install mariadb-server"), "{e}");
}

#[test]
fn server_options_differ_only_where_the_servers_do() {
    let t = MyTestHome::new();
    let maria = server_args(&t.spec, Dialect::MariaDb);
    let mysql = server_args(&t.spec, Dialect::MySql);
    assert!(maria.contains(&"--symbolic-links=0".to_string()) && !maria.iter().any(|a| a.starts_with("--mysqlx")));
    assert!(mysql.contains(&"--mysqlx=OFF".to_string()) && !mysql.contains(&"--symbolic-links=0".to_string()));
    for common in [format!("--port={}", t.spec.port), "--bind-address=127.0.0.1".to_string(), "--skip-name-resolve".to_string()] {
        assert!(maria.contains(&common) && mysql.contains(&common), "{common}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_start_login_adopt_and_restart() {
    MariaDbBinaries::find().expect("MariaDB must be installed for these tests");
    let t = MyTestHome::new();
    let mut proc = start(&t.spec).await.expect("first start");
    t.guard.track(proc.pid());
    assert!(matches!(proc, Proc::Child { .. }));
    let port = t.spec.port;
    assert!(login(port, "root", t.password()).await);
    assert!(!login(port, "root", &SecretString::new("wrong")).await);
    assert!(!login(port, "mysql", &SecretString::new("")).await, "no socket or anonymous accounts over TCP");
    assert!(!login(port, "", &SecretString::new("")).await);

    let unit = unit_dir(&t.spec);
    assert_eq!(std::fs::metadata(&unit).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(!t.spec.data_dir.with_extension("init").exists());
    assert!(t.spec.log_file.is_file());
    assert!(socket_path(&t.spec).exists());
    if let Some(r) = service_user(SYSTEM_USER).unwrap() {
        assert_eq!(std::fs::metadata(&t.spec.data_dir).unwrap().uid(), r.uid);
        let home = std::fs::metadata(t.home.path()).unwrap();
        assert_eq!(home.permissions().mode() & 0o007, 0, "the home stays closed");
        let acl = std::process::Command::new("getfacl").arg("-c").arg(t.home.path()).output().unwrap();
        assert!(String::from_utf8_lossy(&acl.stdout).contains("user:mysql:--x"), "{acl:?}");
    }
    // No password in clear anywhere under the unit directory.
    let out = std::process::Command::new("grep").args(["-rqF", t.password().expose()]).arg(&unit).status().unwrap();
    assert_eq!(out.code(), Some(1), "the password is in a file under {}", unit.display());

    let adopted = start(&t.spec).await.expect("adopt");
    assert!(matches!(adopted, Proc::Adopted { .. }));
    assert_eq!(adopted.pid(), proc.pid());
    let mut wrong = t.spec.clone();
    wrong.root_password = SecretString::new("not-the-password");
    assert!(matches!(start(&wrong).await, Err(WorkloadError::LoginRefused { .. })));

    proc.terminate(Signal::SIGTERM, STOP_GRACE).await.unwrap();
    assert!(!pid_alive(proc.pid()));
    assert!(!login(port, "root", t.password()).await);
    // A stale pid file naming a live process that is not our server.
    std::fs::write(pid_file(&t.spec), format!("{}\n", std::process::id())).unwrap();
    let again = start(&t.spec).await.expect("start over a stale pid file");
    t.guard.track(again.pid());
    assert!(matches!(again, Proc::Child { .. }));
    assert!(login(port, "root", t.password()).await, "same data, same password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_foreign_directory_is_refused() {
    let t = MyTestHome::new();
    std::fs::create_dir_all(&t.spec.data_dir).unwrap();
    std::fs::write(t.spec.data_dir.join("something"), "x").unwrap();
    assert!(matches!(start(&t.spec).await, Err(WorkloadError::NotAMariaDbDir { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_restarts_a_killed_server() {
    let t = MyTestHome::new();
    let sup = Supervisor::with_root(t.home.path().to_path_buf(), crate::engines::stray_servers());
    let unit = "mysql-k8s/0";
    let spec = t.spec.clone();
    sup.ensure_running(unit, spec.clone()).await.expect("start");
    let WorkloadState::Running { pid } = sup.state(unit) else { panic!("not running") };
    t.guard.track(pid);
    sup.ensure_running(unit, spec.clone()).await.expect("idempotent");

    crate::workload::process::signal(pid, Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let new_pid = loop {
        match sup.state(unit) {
            WorkloadState::Running { pid: p } if p != pid => break p,
            s if Instant::now() > deadline => panic!("not restarted: {s:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    t.guard.track(new_pid);
    assert!(login(t.spec.port, "root", t.password()).await);
    sup.stop(unit).await;
    assert!(!pid_alive(new_pid));
    assert!(t.spec.data_dir.join("mysql").is_dir(), "data kept");

    // remove_data stops a stray server nobody supervises.
    let stray = start(&t.spec).await.unwrap();
    t.guard.track(stray.pid());
    let unit_dir = unit_dir(&t.spec);
    sup.remove_data(unit, &unit_dir).await.expect("remove");
    assert!(!pid_alive(stray.pid()));
    assert!(!unit_dir.exists());
}

#[test]
fn a_live_server_is_adopted_only_when_started_alike() {
    let plain = MariaDbSpec::for_unit(Path::new("/u"), 3306, SecretString::new("x"));
    let member = plain.clone().with_galera(crate::engines::mysql::galera::GaleraOptions {
        cluster_name: "my".into(),
        node_name: "my-0".into(),
        group_port: 4567,
        ist_port: 4568,
        sst_port: 4444,
        peers: vec![],
        founder: true,
    });
    let as_member = member.galera.as_ref().unwrap().args(3306, true);
    let as_plain = vec!["--port=3306".to_string()];
    assert!(started_alike(&plain, &as_plain));
    assert!(started_alike(&member, &as_member));
    // A member left by an interrupted change to a cluster is no single server, and the
    // other way round; a member on another group port is not this one.
    assert!(!started_alike(&plain, &as_member));
    assert!(!started_alike(&member, &as_plain));
    let elsewhere = as_member.iter().map(|a| a.replace("127.0.0.1:4567", "127.0.0.1:4999")).collect::<Vec<_>>();
    assert!(!started_alike(&member, &elsewhere));
}
