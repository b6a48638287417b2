//! Tests against a real PostgreSQL server: initdb, start, login, adoption, stale lock
//! files, refused passwords, directory ownership and the traverse ACL.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use super::*;
use crate::engines::postgres::testing::TestHome;

async fn login(port: u16, password: &SecretString) -> bool {
    try_login(port, SUPERUSER, password).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initdb_start_login_adopt_and_restart() {
    PgBinaries::find().expect("PostgreSQL must be installed for these tests");
    let t = TestHome::new();
    let mut proc = start(&t.spec).await.expect("first start");
    t.guard.track(proc.pid());
    assert!(matches!(proc, Proc::Child { .. }));
    assert!(login(t.spec.port, t.password()).await);
    assert!(!login(t.spec.port, &SecretString::new("wrong")).await);

    // Layout, ownership and settings.
    let meta = std::fs::metadata(&t.spec.data_dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let unit = t.spec.data_dir.parent().unwrap();
    assert_eq!(std::fs::metadata(unit).unwrap().permissions().mode() & 0o777, 0o700);
    if let Some(r) = service_user(SYSTEM_USER).unwrap() {
        assert_eq!(meta.uid(), r.uid);
        assert_eq!(std::fs::metadata(unit).unwrap().uid(), r.uid);
        // The home stays root-only; the postgres user got traverse through an ACL.
        let home = std::fs::metadata(t.home.path()).unwrap();
        assert_eq!(home.permissions().mode() & 0o007, 0);
        let acl = std::process::Command::new("getfacl").arg("-c").arg(t.home.path()).output().unwrap();
        assert!(String::from_utf8_lossy(&acl.stdout).contains("user:postgres:--x"), "{acl:?}");
    }
    assert_eq!(std::fs::read_to_string(t.spec.data_dir.join("pg_hba.conf")).unwrap().lines().filter(|l| !l.starts_with('#')).count(), 1);
    assert!(!t.spec.data_dir.with_extension("initdb").exists());
    assert!(t.spec.log_file.is_file());

    // A second start adopts the live server instead of starting another.
    let adopted = start(&t.spec).await.expect("adopt");
    assert!(matches!(adopted, Proc::Adopted { .. }));
    assert_eq!(adopted.pid(), proc.pid());

    // A wrong password on adoption is refused, not papered over by a second server.
    let mut wrong = t.spec.clone();
    wrong.operator_password = SecretString::new("not-the-password");
    assert!(matches!(start(&wrong).await, Err(WorkloadError::LoginRefused { .. })));

    // Clean stop, then a stale lock file naming a live non-postgres process.
    proc.terminate(Signal::SIGINT, Duration::from_secs(30)).await.unwrap();
    assert!(!pid_alive(proc.pid()));
    assert!(!login(t.spec.port, t.password()).await);
    let stale = format!("{}\n{}\n0\n{}\n\n127.0.0.1\n0 0\nready\n", std::process::id(), t.spec.data_dir.display(), t.spec.port);
    std::fs::write(t.spec.data_dir.join("postmaster.pid"), stale).unwrap();
    let again = start(&t.spec).await.expect("start over a stale lock file");
    t.guard.track(again.pid());
    assert!(matches!(again, Proc::Child { .. }));
    assert!(login(t.spec.port, t.password()).await, "same cluster, same password");
}

#[tokio::test]
async fn missing_binaries_are_an_error_naming_the_fix() {
    let e = PgBinaries::highest_in(std::path::Path::new("/nonexistent"));
    assert!(e.is_none());
    assert!(not_found("x".into()).to_string().starts_with("PostgreSQL server binaries not found"));
}

#[test]
fn settings_keep_the_server_private() {
    let s = settings(5555);
    assert!(s.contains(&("listen_addresses", "127.0.0.1".to_string())));
    assert!(s.contains(&("unix_socket_directories", String::new())));
    assert!(s.contains(&("log_statement", "none".to_string())));
    assert!(s.contains(&("port", "5555".to_string())));
}
