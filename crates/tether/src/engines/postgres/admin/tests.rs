//! Tests of [`PgAdmin`] against a real PostgreSQL server started in a root-only
//! temporary home: relation users, isolation between applications, dropping users,
//! password rotation and hostile database names.

use super::*;
use crate::engines::postgres::start;
use crate::engines::postgres::testing::TestHome;
use crate::engines::postgres::PgAdmins;
use crate::engines::Ownership;
use crate::secret::generate_password;

/// A server and its admin session; the guard inside `TestHome` stops the server.
async fn server() -> (TestHome, PgAdmin) {
    let t = TestHome::new();
    let proc = start(&t.spec).await.expect("start PostgreSQL (it must be installed for these tests)");
    t.guard.track(proc.pid());
    let admin = PgAdmin::connect(t.spec.port, "operator", t.password()).await.expect("admin login");
    (t, admin)
}

async fn login(port: u16, user: &str, password: &SecretString, database: &str) -> Result<Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1").port(port).user(user).password(password.expose()).dbname(database);
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_users_get_their_own_database_only() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    assert!(admin.version().await.unwrap().starts_with(|c: char| c.is_ascii_digit()));
    admin.ensure_groups().await.unwrap();
    admin.ensure_groups().await.unwrap();

    // Twice (a retried hook): the later password is the one that works.
    let first = generate_password(16);
    let pw1 = generate_password(16);
    admin.ensure_user_on_database("relation_id_1", &first, "", "app1", Ownership::Sole, None).await.unwrap();
    admin.ensure_user_on_database("relation_id_1", &pw1, "", "app1", Ownership::Sole, None).await.unwrap();
    assert!(login(port, "relation_id_1", &first, "app1").await.is_err());
    let app1 = login(port, "relation_id_1", &pw1, "app1").await.expect("own database");
    app1.batch_execute("CREATE TABLE t (v int); INSERT INTO t VALUES (42)").await.expect("create a table");
    let row = app1.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await.unwrap();
    assert!(!row.get::<_, bool>(0), "not a superuser");

    let pw2 = generate_password(16);
    admin.ensure_user_on_database("relation_id_2", &pw2, "", "app2", Ownership::Sole, None).await.unwrap();
    let err = login(port, "relation_id_1", &pw1, "app2").await.expect_err("another application's database");
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{err}");
    assert!(login(port, "relation_id_2", &pw2, "app1").await.is_err());
    assert_eq!(admin.list_relation_users().await.unwrap(), vec!["relation_id_1", "relation_id_2"]);
    assert!(admin.role_exists("relation_id_2").await.unwrap());
    assert!(!admin.role_exists("relation_id_9").await.unwrap());

    // Unknown extra roles are refused with the charm's text; known ones are granted.
    let e = admin.ensure_user_on_database("relation_id_3", &pw2, "bogus", "app3", Ownership::Sole, None).await.unwrap_err();
    assert_eq!(e.to_string(), "invalid role(s) for extra user roles");
    assert!(!admin.role_exists("relation_id_3").await.unwrap());
    admin.ensure_user_on_database("relation_id_3", &pw2, "admin,pg_read_all_data", "app3", Ownership::Sole, None).await.unwrap();
    let wide = login(port, "relation_id_3", &pw2, "app1").await.expect("admin reaches every database");
    assert_eq!(wide.query_one("SELECT v FROM t", &[]).await.unwrap().get::<_, i32>(0), 42);

    // Drop (twice): credentials refused, data kept, a new user takes the objects over.
    admin.drop_relation_user("relation_id_1").await.unwrap();
    admin.drop_relation_user("relation_id_1").await.unwrap();
    assert!(login(port, "relation_id_1", &pw1, "app1").await.is_err());
    let pw4 = generate_password(16);
    admin.ensure_user_on_database("relation_id_4", &pw4, "", "app1", Ownership::Sole, None).await.unwrap();
    let app1 = login(port, "relation_id_4", &pw4, "app1").await.unwrap();
    app1.batch_execute("INSERT INTO t VALUES (43)").await.expect("the new user owns the old data");
    assert_eq!(app1.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get::<_, i64>(0), 2);

    // A second user sharing a database gets privileges next to the owner.
    let pw5 = generate_password(16);
    admin.ensure_user_on_database("relation_id_5", &pw5, "", "app1", Ownership::Shared, None).await.unwrap();
    let shared = login(port, "relation_id_5", &pw5, "app1").await.unwrap();
    shared.batch_execute("INSERT INTO t VALUES (44)").await.expect("shared access");

    // The trait is the same operations.
    let ua: &dyn UserAdmin<Error = PgError> = &admin;
    ua.drop_relation_user("relation_id_5").await.unwrap();
    assert_eq!(ua.list_relation_users().await.unwrap(), vec!["relation_id_2", "relation_id_3", "relation_id_4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_rotates_and_admin_keeps_working() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let old = t.password().clone();
    let new = generate_password(16);
    admin.set_password("operator", &new).await.unwrap();
    assert!(login(port, "operator", &new, "postgres").await.is_ok());
    assert!(login(port, "operator", &old, "postgres").await.is_err());
    admin.disconnect().await;
    assert!(!UserAdmin::version(&admin).await.unwrap().is_empty(), "reconnects with the new password");

    // System users; the registry shares one session per port.
    let rep = generate_password(16);
    admin.ensure_system_user("replication", &rep).await.unwrap();
    admin.ensure_system_user("replication", &rep).await.unwrap();
    assert!(admin.role_exists("replication").await.unwrap());
    let admins = PgAdmins::default();
    let a = admins.get(port, &new).await.unwrap();
    let b = admins.get(port, &new).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    admins.forget(port).await;
    assert!(admins.get(port, &old).await.is_err(), "the old password is refused");
    let ua: &dyn UserAdmin<Error = PgError> = &*admins.get(port, &new).await.unwrap();
    let newer = generate_password(16);
    ua.set_internal_password("operator", &newer).await.unwrap();
    assert!(login(port, "operator", &newer, "postgres").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_database_names_are_only_quoted() {
    let (t, admin) = server().await;
    let name = "we\"ird; name";
    let pw = generate_password(16);
    admin.ensure_user_on_database("relation_id_7", &pw, "", name, Ownership::Sole, None).await.unwrap();
    let c = login(t.spec.port, "relation_id_7", &pw, name).await.expect("login to the oddly named database");
    let got: String = c.query_one("SELECT current_database()::text", &[]).await.unwrap().get(0);
    assert_eq!(got, name);
    let hostile = "x\"; DROP DATABASE postgres; --";
    admin.ensure_user_on_database("relation_id_8", &pw, "", hostile, Ownership::Sole, None).await.unwrap();
    let dbs: Vec<String> =
        c.query("SELECT datname::text FROM pg_database ORDER BY 1", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(dbs.contains(&"postgres".to_string()), "{dbs:?}");
    assert!(dbs.contains(&hostile.to_string()), "{dbs:?}");
    assert!(admin.ensure_user_on_database("relation_id_9", &pw, "", "nul\0byte", Ownership::Sole, None).await.is_err());
}
