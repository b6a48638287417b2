//! Tests of [`MyAdmin`] against a real MariaDB server started in a root-only temporary
//! home: relation users confined to their database, extra-user-roles, legacy users,
//! dropping users, password rotation and hostile database names.

use mysql_async::prelude::Queryable;

use super::*;
use crate::engines::mysql::start;
use crate::engines::mysql::testing::MyTestHome;
use crate::secret::generate_password;

/// A server and its admin session; the guard inside `MyTestHome` stops the server.
async fn server() -> (MyTestHome, MyAdmin) {
    let t = MyTestHome::new();
    let proc = start(&t.spec).await.expect("start MariaDB (it must be installed for these tests)");
    t.guard.track(proc.pid());
    let admin = MyAdmin::connect(t.spec.port, "root", t.password()).await.expect("admin login");
    (t, admin)
}

async fn login(port: u16, user: &str, password: &SecretString) -> Result<Conn, mysql_async::Error> {
    Conn::new(tcp_opts(port, user, password)).await
}

async fn ok(c: &mut Conn, sql: &str) -> bool {
    c.query_drop(sql).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_users_get_their_own_database_only() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    // The server the machine has (MariaDB here, MySQL 8 where that is installed).
    let flavor = crate::engines::mysql::MariaDbBinaries::find().unwrap().flavor;
    assert_eq!(my_plan::Dialect::from_version(&admin.version().await.unwrap()), flavor);
    assert_eq!(admin.dialect(), flavor);

    // Twice (a retried hook): the later password is the one that works.
    let first = generate_password(24);
    let pw1 = generate_password(24);
    let u1 = my_plan::relation_user(1, "99200344-b67b-4e9a-8c3e-0123456789ab");
    admin.ensure_user_on_database(&u1, &first, "app_1", "").await.unwrap();
    admin.ensure_user_on_database(&u1, &pw1, "app_1", "").await.unwrap();
    assert!(login(port, &u1, &first).await.is_err());
    let mut c1 = login(port, &u1, &pw1).await.expect("login");
    assert!(ok(&mut c1, "CREATE TABLE app_1.t (v int)").await);
    assert!(ok(&mut c1, "INSERT INTO app_1.t VALUES (42)").await);
    assert!(!ok(&mut c1, "CREATE DATABASE elsewhere").await, "no CREATE DATABASE");
    assert!(!ok(&mut c1, "CREATE TABLE mysql.x (v int)").await);

    // Another relation, and a database whose name matches app_1 as a pattern.
    let pw2 = generate_password(24);
    admin.ensure_user_on_database("relation-2_abc", &pw2, "appX1", "").await.unwrap();
    let mut c2 = login(port, "relation-2_abc", &pw2).await.unwrap();
    assert!(ok(&mut c2, "CREATE TABLE appX1.t (v int)").await);
    assert!(!ok(&mut c1, "SELECT * FROM appX1.t").await, "app_1's user cannot use appX1");
    assert!(!ok(&mut c2, "SELECT * FROM app_1.t").await);
    let seen: Vec<String> = c1.query("SHOW DATABASES").await.unwrap();
    assert!(seen.contains(&"app_1".to_string()) && !seen.contains(&"appX1".to_string()), "{seen:?}");
    assert_eq!(admin.list_users("relation-").await.unwrap(), vec![u1.clone(), "relation-2_abc".to_string()]);
    let ua: &dyn UserAdmin<Error = MyError> = &admin;
    assert_eq!(ua.list_relation_users().await.unwrap().len(), 2);

    // Drop (twice): sessions end, login refused, data kept.
    admin.drop_user(&u1).await.unwrap();
    admin.drop_user(&u1).await.unwrap();
    assert!(login(port, &u1, &pw1).await.is_err());
    assert!(!ok(&mut c1, "SELECT 1").await, "the session was ended");
    let pw3 = generate_password(24);
    admin.ensure_user_on_database("relation-3_abc", &pw3, "app_1", "").await.unwrap();
    let mut c3 = login(port, "relation-3_abc", &pw3).await.unwrap();
    let v: Option<i32> = c3.query_first("SELECT v FROM app_1.t").await.unwrap();
    assert_eq!(v, Some(42), "data kept for the next user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_user_roles_become_effective_at_login() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let pw = generate_password(24);
    admin.ensure_user_on_database("relation-1_a", &pw, "app1", "").await.unwrap();
    let mut owner = login(port, "relation-1_a", &pw).await.unwrap();
    assert!(ok(&mut owner, "CREATE TABLE app1.t (v int)").await && ok(&mut owner, "INSERT INTO app1.t VALUES (1)").await);

    // charmed_read reads every relation database, writes none.
    admin.ensure_user_on_database("relation-2_a", &pw, "app2", "charmed_read").await.unwrap();
    let mut r = login(port, "relation-2_a", &pw).await.unwrap();
    assert!(ok(&mut r, "SELECT * FROM app1.t").await, "role active without SET ROLE");
    assert!(!ok(&mut r, "INSERT INTO app1.t VALUES (2)").await);

    // charmed_dml writes; several roles at once; re-ensuring with no roles removes them.
    admin.ensure_user_on_database("relation-3_a", &pw, "app3", "charmed_dml, charmed_stats").await.unwrap();
    let mut w = login(port, "relation-3_a", &pw).await.unwrap();
    assert!(ok(&mut w, "INSERT INTO app1.t VALUES (3)").await);
    assert!(!ok(&mut w, "CREATE DATABASE nope").await);
    admin.ensure_user_on_database("relation-3_a", &pw, "app3", "").await.unwrap();
    let mut w = login(port, "relation-3_a", &pw).await.unwrap();
    assert!(!ok(&mut w, "SELECT * FROM app1.t").await, "roles gone");

    // The database-scoped DBA role and charmed_dba.
    let db_role = my_plan::db_dba_role("app1", 0);
    admin.ensure_user_on_database("relation-4_a", &pw, "app4", &db_role).await.unwrap();
    let mut d = login(port, "relation-4_a", &pw).await.unwrap();
    assert!(ok(&mut d, "DROP TABLE app1.t").await);
    admin.ensure_user_on_database("relation-5_a", &pw, "app5", "charmed_dba").await.unwrap();
    let mut dba = login(port, "relation-5_a", &pw).await.unwrap();
    assert!(ok(&mut dba, "CREATE DATABASE made_by_dba").await);

    // Forbidden and unknown roles: the charm's text, and no user.
    for bad in ["charmed_backup", "bogus", "charmed_read,superuser"] {
        let e = admin.ensure_user_on_database("relation-6_a", &pw, "app6", bad).await.unwrap_err();
        assert_eq!(e.to_string(), "Failed to create scoped user");
    }
    assert!(!admin.user_exists("relation-6_a", "%").await.unwrap());

    // Router roles: no database is created.
    admin.ensure_user_on_database("relation-7_a", &pw, "app7", "mysqlrouter").await.unwrap();
    let dbs: Vec<String> = owner.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA").await.unwrap();
    assert!(!dbs.contains(&"app7".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_users_internal_users_and_passwords() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let pw = generate_password(24);
    admin.ensure_legacy_user("relation-4", &pw, "database-4", false).await.unwrap();
    admin.ensure_legacy_user("relation-4", &pw, "database-4", false).await.unwrap();
    let mut m = login(port, "relation-4", &pw).await.unwrap();
    assert!(ok(&mut m, "CREATE TABLE `database-4`.t (v int)").await);
    assert!(!ok(&mut m, "CREATE DATABASE other").await);

    admin.ensure_legacy_user("relation-5", &pw, "database-5", true).await.unwrap();
    let mut r = login(port, "relation-5", &pw).await.unwrap();
    assert!(ok(&mut r, "CREATE DATABASE created_by_root_user").await, "mysql-root can create databases");
    assert!(ok(&mut r, "SELECT * FROM `database-4`.t").await);
    assert!(!ok(&mut r, "SET GLOBAL max_connections = 10").await, "no SUPER");
    assert!(login(port, "root", t.password()).await.is_ok());
    assert!(admin.user_exists("root", "%").await.unwrap());

    // Internal users, then set-password: new works, old refused, the admin keeps working.
    let names = ["serverconfig", "clusteradmin", "monitoring", "backups"];
    let pws: Vec<SecretString> = names.iter().map(|_| generate_password(24)).collect();
    let users: Vec<(&str, &SecretString)> = names.iter().copied().zip(pws.iter()).collect();
    admin.ensure_system_users(&users).await.unwrap();
    admin.ensure_system_users(&users).await.unwrap();
    for (u, p) in &users {
        assert!(login(port, u, p).await.is_ok(), "{u}");
    }
    let new = generate_password(24);
    admin.set_password("serverconfig", "%", &new).await.unwrap();
    assert!(login(port, "serverconfig", &new).await.is_ok());
    assert!(login(port, "serverconfig", &pws[0]).await.is_err());
    let root_new = generate_password(24);
    admin.set_password("root", "localhost", &root_new).await.unwrap();
    assert!(login(port, "root", &root_new).await.is_ok());
    assert!(login(port, "root", t.password()).await.is_err());
    admin.disconnect().await;
    assert!(admin.version().await.is_ok(), "reconnects with the new password");

    // The registry shares one session per port.
    let admins = MyAdmins::default();
    let a = admins.get(port, &root_new).await.unwrap();
    let b = admins.get(port, &root_new).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    admins.forget(port).await;
    assert!(admins.get(port, t.password()).await.is_err(), "the old password is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_database_names_are_only_quoted() {
    let (t, admin) = server().await;
    let pw = generate_password(24);
    for (i, name) in ["we`ird; name", "x'; DROP DATABASE mysql; --", "back\\slash", "50%_off"].into_iter().enumerate() {
        let user = format!("relation-{i}_h");
        admin.ensure_user_on_database(&user, &pw, name, "").await.unwrap();
        let mut c = login(t.spec.port, &user, &pw).await.unwrap();
        let q = my_plan::quote_ident(name).unwrap();
        assert!(ok(&mut c, &format!("CREATE TABLE {q}.t (v int)")).await, "{name}");
    }
    let mut root = login(t.spec.port, "root", t.password()).await.unwrap();
    let dbs: Vec<String> = root.query("SHOW DATABASES").await.unwrap();
    assert!(dbs.contains(&"mysql".to_string()), "{dbs:?}");
    assert!(dbs.contains(&"x'; DROP DATABASE mysql; --".to_string()), "{dbs:?}");
    assert!(admin.ensure_user_on_database("relation-9_h", &pw, "nul\0byte", "").await.is_err());
    assert!(admin.ensure_user_on_database("it's\\", &pw, "odd_user", "").await.is_ok(), "odd user names are literals");
    assert!(login(t.spec.port, "it's\\", &pw).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_operations_share_a_capped_pool_and_survive_broken_sessions() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let admin = std::sync::Arc::new(admin);

    // Twelve integrations at once: every user is created, logs in and is confined.
    let users: Vec<(String, String, SecretString)> =
        (0..12).map(|i| (format!("relation-{i}_c"), format!("conc_{i}"), generate_password(24))).collect();
    let mut tasks = Vec::new();
    for (user, db, pw) in users.clone() {
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move { admin.ensure_user_on_database(&user, &pw, &db, "").await }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap(), "each user is new");
    }
    assert!(admin.idle_sessions() <= POOL_CAP, "at most {POOL_CAP} sessions: {}", admin.idle_sessions());
    for (i, (user, db, pw)) in users.iter().enumerate() {
        let mut c = login(port, user, pw).await.expect("login");
        assert!(ok(&mut c, &format!("CREATE TABLE {db}.t (v int)")).await, "{user}");
        let other = &users[(i + 1) % users.len()].1;
        assert!(!ok(&mut c, &format!("SELECT * FROM {other}.t")).await, "{user} reads {other}");
    }
    // Again (a retried hook): not new, same result.
    assert!(!admin.ensure_user_on_database(&users[0].0, &users[0].2, &users[0].1, "").await.unwrap());

    // The server ends every admin session: the next operations reconnect by themselves.
    let mut root = login(port, "root", t.password()).await.unwrap();
    let ids: Vec<u64> =
        root.query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> CONNECTION_ID()").await.unwrap();
    assert!(!ids.is_empty());
    for id in ids {
        let _ = root.query_drop(format!("KILL CONNECTION {id}")).await;
    }
    let v = admin.version().await;
    assert!(v.is_ok(), "a broken session is replaced: {v:?}");
    let pw = generate_password(24);
    assert!(admin.ensure_user_on_database("relation-99_c", &pw, "conc_99", "").await.unwrap());

    // A new admin password: pooled sessions of the old one are closed, new ones log in
    // with the new one.
    let new = generate_password(24);
    admin.set_password("root", "localhost", &new).await.unwrap();
    assert_eq!(admin.idle_sessions(), 0, "sessions of the old password are not kept");
    let mut tasks = Vec::new();
    for i in 0..6 {
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move { admin.user_exists(&format!("relation-{i}_c"), "%").await }));
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap());
    }
    let old_logins: Vec<u64> =
        root.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> CONNECTION_ID()").await.unwrap();
    assert!(old_logins[0] as usize <= POOL_CAP, "{old_logins:?}");
}

#[test]
fn errors_of_statements_carrying_a_password_keep_only_the_code() {
    let server = || {
        mysql_async::Error::Server(mysql_async::ServerError {
            code: 1064,
            message: "You have an error in your SQL syntax near 'BY 'S3cretPassw0rd''".into(),
            state: "42000".into(),
        })
    };
    let e = withheld("setting the password")(server()).to_string();
    assert!(!e.contains("S3cret") && e.contains("1064") && e.contains("setting the password"), "{e}");
    let e = step("a lookup")(server()).to_string();
    assert!(e.contains("near"), "other statements keep the server's text: {e}");
    assert!(!step("x")(server()).connection_lost());
    assert!(step("x")(mysql_async::Error::Io(std::io::Error::other("gone").into())).connection_lost());
}
