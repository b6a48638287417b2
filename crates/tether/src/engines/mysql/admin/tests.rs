//! Tests of [`MyAdmin`] against a real MariaDB server started in a root-only temporary
//! home: relation users confined to their database, extra-user-roles, legacy users,
//! dropping users (their sessions ended), rotated logins beside the first and retiring
//! one (also on an adopted server), password rotation and hostile database names.

use mysql_async::prelude::Queryable;

use super::*;
use crate::engines::mysql::start;
use crate::engines::mysql::testing::MyTestHome;
use crate::engines::user_admin::AdoptedAdmin;
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

/// A relation user and its rotated login on `database`, both through the trait as the
/// charms make them (the rotated one acting as the first).
async fn user_and_rotated_login(
    admin: &MyAdmin,
    base: &str,
    database: &str,
    extra_user_roles: &str,
) -> (String, SecretString, String, SecretString) {
    use crate::engines::user_admin::{DatabaseGrant, Ownership};
    let rotated = my_plan::rotated_user(base, 1);
    let (pa, pb) = (generate_password(24), generate_password(24));
    let databases = [DatabaseGrant { name: database, ownership: Ownership::Sole, extra_user_roles }];
    for (user, password, acts_as) in [(base, &pa, None), (rotated.as_str(), &pb, Some(base))] {
        let req = RelationUser { user, password, extra_user_roles, databases: &databases, acts_as };
        assert_eq!(admin.ensure_relation_user(&req).await.unwrap(), Ensured::Created, "{user}");
    }
    (base.to_string(), pa, rotated, pb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_login_works_beside_the_first_which_retiring_locks_ends_and_drops() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let base = my_plan::relation_user(7, "99200344-b67b-4e9a-8c3e-0123456789ab");
    let (a, pa, b, pb) = user_and_rotated_login(&admin, &base, "app_7", "").await;
    assert_eq!(b, "relation-7r1_99200344b67b4");

    // Both log in at once and share the data: what either creates the other uses.
    let mut ca = login(port, &a, &pa).await.expect("first login");
    let mut cb = login(port, &b, &pb).await.expect("rotated login");
    assert!(ok(&mut ca, "CREATE TABLE app_7.t (v int)").await && ok(&mut ca, "INSERT INTO app_7.t VALUES (1)").await);
    assert!(ok(&mut cb, "INSERT INTO app_7.t VALUES (2)").await);
    assert!(ok(&mut cb, "CREATE TABLE app_7.u (v int)").await && ok(&mut ca, "INSERT INTO app_7.u VALUES (3)").await);
    assert!(!ok(&mut cb, "CREATE DATABASE elsewhere").await, "the rotated login is confined like the first");
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![a.clone(), b.clone()]);

    // The first login's long-lived session works until it is retired, and not after.
    let sum: Option<i64> = ca.query_first("SELECT SUM(v) FROM app_7.t").await.unwrap();
    assert_eq!(sum, Some(3));
    admin.retire_login(&a, &a).await.unwrap();
    assert!(!ok(&mut ca, "SELECT 1").await, "the retired login's session was ended");
    assert!(login(port, &a, &pa).await.is_err(), "the retired login is refused");
    assert!(!admin.user_exists(&a, "%").await.unwrap());
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![b.clone()], "forgotten in the registry");

    // The rotated login keeps its session and logs in anew; A's tables are its own.
    assert!(ok(&mut cb, "INSERT INTO app_7.t VALUES (4)").await, "the rotated login's session goes on");
    let mut cb2 = login(port, &b, &pb).await.expect("the rotated login still logs in");
    assert!(ok(&mut cb2, "ALTER TABLE app_7.t ADD COLUMN w int").await && ok(&mut cb2, "UPDATE app_7.t SET w = v").await);
    let sum: Option<i64> = cb2.query_first("SELECT SUM(w) FROM app_7.t").await.unwrap();
    assert_eq!(sum, Some(7));
    let u: Option<i32> = cb2.query_first("SELECT v FROM app_7.u").await.unwrap();
    assert_eq!(u, Some(3));

    // Retiring again, or a login that never was, is success.
    admin.retire_login(&a, &a).await.unwrap();
    admin.retire_login("relation-99r3_abc", "relation-99_abc").await.unwrap();

    // With extra roles: each login has its own bundle role, and retiring one keeps the other's.
    let (a2, pa2, b2, pb2) = user_and_rotated_login(&admin, "relation-8_abc", "app_8", "charmed_ddl").await;
    let mut ca2 = login(port, &a2, &pa2).await.unwrap();
    assert!(ok(&mut ca2, "CREATE TABLE app_8.t (v int)").await && ok(&mut ca2, "INSERT INTO app_8.t VALUES (1)").await);
    admin.retire_login(&a2, &a2).await.unwrap();
    assert!(!ok(&mut ca2, "SELECT 1").await);
    assert!(!admin.user_exists(&my_plan::bundle_role(&a2), admin.dialect().role_host()).await.unwrap());
    assert!(admin.user_exists(&my_plan::bundle_role(&b2), admin.dialect().role_host()).await.unwrap());
    let mut cb2 = login(port, &b2, &pb2).await.unwrap();
    assert!(ok(&mut cb2, "INSERT INTO app_8.t VALUES (2)").await && ok(&mut cb2, "DROP TABLE app_8.t").await);
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![b.clone(), b2.clone()]);
}

/// Ends `user`'s sessions as on MySQL 8, one `KILL CONNECTION <id>` each.
async fn end_sessions_by_id(admin: &MyAdmin, user: &str) -> Result<(), MyError> {
    with_session!(admin, |s| { s.end_sessions(my_plan::Dialect::MySql, user).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_user_ends_its_sessions_on_either_dialect() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let pw = generate_password(24);
    admin.ensure_user_on_database("relation-3_abc", &pw, "app_3", "").await.unwrap();

    // MySQL's way (each session killed by its id) also works on MariaDB: run it here.
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(login(port, "relation-3_abc", &pw).await.unwrap());
    }
    end_sessions_by_id(&admin, "relation-3_abc").await.unwrap();
    for c in &mut sessions {
        assert!(!ok(c, "SELECT 1").await, "ended by its id");
    }
    end_sessions_by_id(&admin, "nobody").await.unwrap();

    // A revoked relation user's open session does not survive the drop.
    let mut c = login(port, "relation-3_abc", &pw).await.unwrap();
    assert!(ok(&mut c, "CREATE TABLE app_3.t (v int)").await);
    let ua: &dyn UserAdmin<Error = MyError> = &admin;
    ua.drop_relation_user("relation-3_abc").await.unwrap();
    assert!(!ok(&mut c, "SELECT 1").await);
    assert!(login(port, "relation-3_abc", &pw).await.is_err());
    ua.drop_relation_user("relation-3_abc").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_keeps_its_sessions_and_refuses_new_logins() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let pw = generate_password(24);
    admin.ensure_user_on_database("relation-4_abc", &pw, "app_4", "").await.unwrap();
    let mut open = login(port, "relation-4_abc", &pw).await.unwrap();
    let mut root = login(port, "root", t.password()).await.unwrap();
    root.query_drop(my_plan::lock_account("relation-4_abc", "%").unwrap()).await.unwrap();
    assert!(login(port, "relation-4_abc", &pw).await.is_err(), "no new login");
    assert!(ok(&mut open, "CREATE TABLE app_4.t (v int)").await, "which is why retiring ends the sessions next");
    root.query_drop(my_plan::lock_account("relation-missing", "%").unwrap()).await.expect("a missing account is no error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_adopted_server_retiring_ends_sessions_when_the_admin_may() {
    let (t, _admin) = server().await;
    let port = t.spec.port;
    // An admin with what adopt mode needs (and the database privileges it hands on), but
    // not CONNECTION ADMIN.
    let mut root = login(port, "root", t.password()).await.unwrap();
    let dba_pw = generate_password(24);
    root.query_drop(format!("CREATE USER 'dba'@'%' IDENTIFIED BY PASSWORD '{}'", native_password_hash(&dba_pw))).await.unwrap();
    let db_privileges = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, \
         LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY";
    root.query_drop(format!("GRANT {db_privileges}, CREATE USER ON *.* TO 'dba'@'%' WITH GRANT OPTION")).await.unwrap();
    let owner = "99200344-b67b-4e9a-8c3e-0123456789ab/mysql";
    let admin =
        MyAdmin::connect_adopted(&AdoptedLogin { host: "127.0.0.1", port, user: "dba", password: &dba_pw, scope: owner, tls: None })
            .await
            .unwrap();
    assert!(admin.missing_privileges().await.unwrap().is_empty());

    let (a, pa, b, pb) = user_and_rotated_login(&admin, "relation-5_abc", "app_5", "").await;
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![a.clone(), b.clone()]);
    let mut ca = login(port, &a, &pa).await.unwrap();
    assert!(ok(&mut ca, "CREATE TABLE app_5.t (v int)").await);
    admin.retire_login(&a, &a).await.unwrap();
    assert!(login(port, &a, &pa).await.is_err(), "no new login");
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![b.clone()]);
    // Without CONNECTION ADMIN the open session goes on (the documented limit)...
    assert!(ok(&mut ca, "SELECT 1").await, "MariaDB keeps a dropped user's session");
    let mut cb = login(port, &b, &pb).await.unwrap();
    assert!(ok(&mut cb, "INSERT INTO app_5.t VALUES (1)").await);

    // ... and with it, retiring ends it.
    root.query_drop("GRANT CONNECTION ADMIN ON *.* TO 'dba'@'%'").await.unwrap();
    let admin =
        MyAdmin::connect_adopted(&AdoptedLogin { host: "127.0.0.1", port, user: "dba", password: &dba_pw, scope: owner, tls: None })
            .await
            .unwrap();
    let mut cb = login(port, &b, &pb).await.unwrap();
    admin.retire_login(&b, &a).await.unwrap();
    assert!(!ok(&mut cb, "SELECT 1").await, "ended");
    assert!(login(port, &b, &pb).await.is_err());
    admin.retire_login(&b, &a).await.unwrap();
    assert!(admin.list_relation_users().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_error_log_is_reopened_by_name() {
    let (t, admin) = server().await;
    let rotated = t.spec.log_file.with_extension("log-20200101");
    std::fs::rename(&t.spec.log_file, &rotated).expect("rename the error log");
    admin.reopen_logs(false).await.expect("FLUSH ERROR LOGS");
    assert!(t.spec.log_file.exists(), "the server opened a new error log by name");
    assert!(rotated.exists(), "the rotated one stays as it was");
}
