//! Tests of [`MongoAdmin`] against a real FerretDB started in a root-only temporary home:
//! relation users and their URIs, dropping users, password rotation (theirs and the
//! admin's own), a rotated login beside the first and retiring one, hostile database
//! names, and what FerretDB does not enforce (roles, ending a dropped user's sessions).

use std::sync::Arc;

use mongodb::bson::Document;
use tether_core::mongo_plan::{relation_user, render_uri, roles_for, rotated_user};

use super::*;
use crate::engines::admin_pool::AdoptedLogin;
use crate::engines::mongo::error::is_auth_refused;
use crate::engines::mongo::tests::MongoHome;
use crate::engines::mongo::MongoAdmins;
use crate::secret::generate_password;
use mongodb::error::Error as DriverError;

async fn server() -> (MongoHome, MongoAdmin) {
    let (t, _proc) = MongoHome::started().await;
    let admin = MongoAdmin::connect(t.spec.port, ADMIN_USER, &t.spec.operator_password).await.expect("admin login");
    (t, admin)
}

fn uri(port: u16, user: &str, password: &SecretString, db: &str) -> String {
    render_uri(user, password.expose(), &[format!("127.0.0.1:{port}")], db, None)
}

/// A plain driver client from the URI a relation would publish: writes and reads `db`.
async fn use_database(uri: &str, db: &str) -> Result<(), DriverError> {
    let client = Client::with_uri_str(uri).await?;
    let coll = client.database(db).collection::<Document>("items");
    coll.insert_one(doc! { "n": 42 }).await?;
    let found = coll.find_one(doc! { "n": 42 }).await?;
    assert!(found.is_some());
    Ok(())
}

fn refused(r: Result<(), DriverError>) -> bool {
    matches!(r, Err(e) if is_auth_refused(&e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_users_log_in_with_their_uri_and_are_dropped() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    assert_eq!(admin.flavor(), MongoFlavor::FerretDb);
    assert!(admin.version().await.unwrap().starts_with(|c: char| c.is_ascii_digit()));

    // Twice (a retried hook): the later password is the one that works.
    let user = relation_user(4);
    let (first, pw) = (generate_password(32), generate_password(32));
    let roles = roles_for("", "app1").unwrap();
    admin.ensure_user(&user, &first, &roles).await.unwrap();
    admin.ensure_user(&user, &pw, &roles).await.unwrap();
    use_database(&uri(port, &user, &pw, "app1"), "app1").await.expect("own database through the URI");
    assert!(refused(use_database(&uri(port, &user, &first, "app1"), "app1").await));
    assert!(admin.user_exists(&user).await.unwrap());

    admin.ensure_user(&relation_user(12), &generate_password(32), &roles_for("admin,monitor", "x").unwrap()).await.unwrap();
    assert_eq!(admin.list_managed_users().await.unwrap(), vec!["relation-4", "relation-12"]);
    assert!(admin.list_databases().await.unwrap().contains(&"app1".to_string()));

    // FerretDB gap: no roles, so one relation's user reaches another's database too.
    use_database(&uri(port, &user, &pw, "app1"), "someone-else").await.expect("FerretDB does not enforce roles");

    admin.drop_user(&user).await.unwrap();
    admin.drop_user(&user).await.expect("dropping a missing user is success");
    assert!(!admin.user_exists(&user).await.unwrap());
    assert!(refused(use_database(&uri(port, &user, &pw, "app1"), "app1").await));
    assert_eq!(admin.list_managed_users().await.unwrap(), vec!["relation-12"]);
    assert!(admin.list_databases().await.unwrap().contains(&"app1".to_string()), "the database stays");
    admin.drop_database("app1").await.unwrap();
    admin.drop_database("app1").await.expect("dropping a missing database is success");
    assert!(!admin.list_databases().await.unwrap().contains(&"app1".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_rotate_for_relations_and_the_admin_itself() {
    let (t, admin) = server().await;
    let port = t.spec.port;
    let user = relation_user(7);
    let (old, new) = (generate_password(32), generate_password(32));
    admin.ensure_user(&user, &old, &roles_for("", "app").unwrap()).await.unwrap();
    admin.set_password(&user, &new).await.unwrap();
    use_database(&uri(port, &user, &new, "app"), "app").await.expect("new password");
    assert!(refused(use_database(&uri(port, &user, &old, "app"), "app").await));

    // The admin's own password: later operations (new connections) use the new one.
    let admins = MongoAdmins::default();
    let shared = admins.get(port, &t.spec.operator_password).await.unwrap();
    let rotated = generate_password(32);
    shared.set_password(ADMIN_USER, &rotated).await.unwrap();
    assert!(refused(use_database(&uri(port, ADMIN_USER, &t.spec.operator_password, "admin"), "x").await));
    use_database(&uri(port, ADMIN_USER, &rotated, "admin"), "x").await.expect("rotated operator password");
    let again = admins.get(port, &rotated).await.unwrap();
    assert!(Arc::ptr_eq(&shared, &again), "one session per server");
    again.ensure_user(&relation_user(8), &generate_password(32), &[]).await.expect("still an admin");
    admins.forget(port).await;
    let fresh = admins.get(port, &rotated).await.expect("a new session logs in with the new password");
    assert!(!Arc::ptr_eq(&shared, &fresh));
    admins.forget(port).await;
    assert!(admins.get(port, &t.spec.operator_password).await.is_err(), "the old password is refused");
    // The workload's adoption check uses the same login.
    drop(admin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_database_names_are_refused_or_harmless() {
    let (t, admin) = server().await;
    for bad in ["a.b", "$cmd", "x\"; db.dropDatabase(); \"", "nul\0db", "../../etc", "a b", ""] {
        let e = admin.drop_database(bad).await.unwrap_err();
        assert!(matches!(e, MongoAdminError::Plan(_)), "{bad:?}: {e}");
        assert!(!e.to_string().contains('\0'));
    }
    assert!(matches!(admin.drop_database("admin").await, Err(MongoAdminError::SystemDatabase(_))));
    assert!(roles_for("", "x").is_ok());

    // A hostile user name is only ever a BSON string: it is stored as given, drops cleanly
    // and is not mistaken for a relation user.
    let odd = "relation-1\"}); db.dropDatabase({";
    admin.ensure_user(odd, &generate_password(32), &[]).await.unwrap();
    assert!(admin.user_exists(odd).await.unwrap());
    assert!(admin.list_managed_users().await.unwrap().is_empty());
    admin.drop_user(odd).await.unwrap();
    assert!(admin.list_databases().await.unwrap().iter().all(|d| !d.contains('"')));
    // A password with URI-special characters works through the rendered URI.
    let pw = SecretString::new("p@ss:w/rd%?#&=+ é");
    admin.ensure_user("relation-99", &pw, &[]).await.unwrap();
    use_database(&uri(t.spec.port, "relation-99", &pw, "db-99"), "db-99").await.expect("encoded URI");
}

#[test]
fn client_options_are_direct_short_and_scram_sha_256() {
    let pw = SecretString::new("pw");
    let o = client_options(27017, Some(("operator", &pw)), Duration::from_secs(3));
    assert_eq!(o.direct_connection, Some(true));
    assert_eq!(o.server_selection_timeout, Some(Duration::from_secs(3)));
    let c = o.credential.unwrap();
    assert_eq!(c.source.as_deref(), Some("admin"));
    assert_eq!(c.mechanism, Some(AuthMechanism::ScramSha256));
    assert!(client_options(1, None, Duration::from_secs(1)).credential.is_none());
}

/// A client of one connection only, so that what it does after a drop is done on the
/// connection that authenticated before it.
async fn one_connection(uri: &str) -> Client {
    let mut options = mongodb::options::ClientOptions::parse(uri).await.unwrap();
    options.max_pool_size = Some(1);
    Client::with_options(options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_login_works_beside_the_first_and_retiring_refuses_its_logins() {
    use crate::engines::user_admin::{DatabaseGrant, Ownership};
    let (t, admin) = server().await;
    let port = t.spec.port;
    let a = relation_user(7);
    let b = rotated_user(&a, 1);
    assert_eq!(b, "relation-7r1");
    let (pa, pb) = (generate_password(32), generate_password(32));
    let databases = [DatabaseGrant { name: "app7", ownership: Ownership::Sole, extra_user_roles: "" }];
    for (user, password, acts_as) in [(a.as_str(), &pa, None), (b.as_str(), &pb, Some(a.as_str()))] {
        let req = RelationUser { user, password, extra_user_roles: "", databases: &databases, acts_as };
        assert_eq!(admin.ensure_relation_user(&req).await.unwrap(), Ensured::Created, "{user}");
    }
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![a.clone(), b.clone()]);

    // Both at once, on the same data: what either creates the other uses.
    let ca = one_connection(&uri(port, &a, &pa, "app7")).await;
    let cb = Client::with_uri_str(uri(port, &b, &pb, "app7")).await.unwrap();
    let (by_a, by_b) = (ca.database("app7").collection::<Document>("made_by_a"), cb.database("app7").collection::<Document>("made_by_b"));
    by_a.insert_one(doc! { "n": 1 }).await.expect("first login writes");
    by_b.insert_one(doc! { "n": 2 }).await.expect("rotated login writes");
    assert_eq!(ca.database("app7").collection::<Document>("made_by_b").count_documents(doc! {}).await.unwrap(), 1);
    cb.database("app7").collection::<Document>("made_by_a").insert_one(doc! { "n": 3 }).await.unwrap();

    admin.retire_login(&a, &a).await.unwrap();
    assert!(refused(use_database(&uri(port, &a, &pa, "app7"), "app7").await), "the retired login is refused");
    assert!(!admin.user_exists(&a).await.unwrap());
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![b.clone()], "unmarked");

    // FerretDB's limit (see `MongoAdmin::drop_user`): the connection that authenticated
    // before the drop goes on reading and writing, and nothing can end it.
    by_a.insert_one(doc! { "n": 4 }).await.expect("FerretDB keeps serving a dropped user's open connection");
    assert_eq!(by_a.count_documents(doc! {}).await.unwrap(), 3);
    for kill in ["killAllSessionsByPattern", "killAllSessions", "killSessions", "killOp", "endSessions"] {
        let e = admin.admin_command("probing", doc! { kill: [] }).await.unwrap_err();
        assert!(matches!(&e, MongoAdminError::Command { source, .. } if error_code(source) == Some(59)), "{kill}: {e}");
    }

    // The rotated login keeps working, on its open client and anew, on A's collections.
    by_b.insert_one(doc! { "n": 5 }).await.expect("the rotated login's client goes on");
    let fresh = Client::with_uri_str(uri(port, &b, &pb, "app7")).await.unwrap();
    let made_by_a = fresh.database("app7").collection::<Document>("made_by_a");
    made_by_a.insert_one(doc! { "n": 6 }).await.expect("the rotated login logs in anew");
    made_by_a.update_many(doc! {}, doc! { "$inc": { "n": 10 } }).await.unwrap();
    assert_eq!(made_by_a.count_documents(doc! { "n": { "$gt": 10 } }).await.unwrap(), 4);
    use_database(&uri(port, &b, &pb, "app7"), "app7").await.expect("the rotated login's URI");

    // Retiring again, or a login that never was, is success.
    admin.retire_login(&a, &a).await.unwrap();
    admin.retire_login("relation-99r3", "relation-99").await.unwrap();
    assert_eq!(admin.list_relation_users().await.unwrap(), vec![b.clone()]);
}

/// Adopt mode on FerretDB: what `connectionStatus` reports there, two applications'
/// scopes on one server never seeing or dropping each other's users, a user made by hand
/// never taken over, and an endpoint that is not MongoDB told apart from an unreachable one.
fn adopted<'a>(port: u16, password: &'a SecretString, scope: &'a str) -> AdoptedLogin<'a> {
    AdoptedLogin { host: "127.0.0.1", port, user: ADMIN_USER, password, scope, tls: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopted_admins_see_only_their_scope_and_tell_other_servers_apart() {
    use crate::engines::user_admin::AdoptedAdmin;
    use crate::engines::{Classify, ErrorClass};
    let (t, _) = server().await;
    let (port, pw) = (t.spec.port, &t.spec.operator_password);
    let a = MongoAdmin::connect_adopted(&adopted(port, pw, "model-1/app-a")).await.expect("adopted login");
    let b = MongoAdmin::connect_adopted(&adopted(port, pw, "model-2/app-b")).await.expect("adopted login");
    let reply = a.admin_command("connectionStatus", doc! { "connectionStatus": 1, "showPrivileges": true }).await.unwrap();
    let privileges = reply.get_document("authInfo").ok().and_then(|i| i.get_array("authenticatedUserPrivileges").ok());
    assert!(privileges.is_none_or(|p| p.is_empty()), "FerretDB reports no privileges: {reply:?}");
    assert!(a.missing_privileges().await.unwrap().is_empty(), "an authenticated FerretDB admin is sufficient");

    let roles = roles_for("", "shared").unwrap();
    a.ensure_user(&relation_user(3), &generate_password(32), &roles).await.unwrap();
    b.ensure_user(&relation_user(4), &generate_password(32), &roles).await.unwrap();
    assert_eq!(a.list_managed_users().await.unwrap(), vec!["relation-3"]);
    assert_eq!(b.list_managed_users().await.unwrap(), vec!["relation-4"]);
    let taken = b.ensure_user(&relation_user(3), &generate_password(32), &roles).await.unwrap_err();
    assert!(matches!(taken.class(), ErrorClass::Blocked(_)), "{taken}");
    b.drop_user(&relation_user(3)).await.unwrap();
    assert!(a.user_exists(&relation_user(3)).await.unwrap(), "another application's user is never dropped");
    // A user made by hand with a relation user's name is never taken over.
    a.admin_command("createUser", doc! { "createUser": "relation-9", "pwd": "theirs", "roles": [] }).await.unwrap();
    assert!(matches!(a.ensure_user("relation-9", &generate_password(32), &roles).await, Err(MongoAdminError::Foreign(_))));
    a.drop_user("relation-9").await.unwrap();
    assert!(a.user_exists("relation-9").await.unwrap());

    // A wrong password is a refusal (blocked), never "unreachable".
    let wrong = MongoAdmin::connect_adopted(&adopted(port, &SecretString::new("wrong"), "m/x")).await.unwrap_err();
    assert!(matches!(wrong.class(), ErrorClass::Blocked(_)), "{wrong}");
    // Something listening that is not MongoDB: blocked, saying so.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"EFATAL unsupported frontend protocol\0");
        }
    });
    let e = MongoAdmin::connect_adopted(&adopted(other, pw, "m/x")).await.unwrap_err();
    assert!(matches!(&e, MongoAdminError::NotMongo(m) if m.contains("not a MongoDB server")), "{e}");
    // Nothing listening: worth another try.
    let closed = crate::workload::free_port().unwrap();
    let e = MongoAdmin::connect_adopted(&adopted(closed, pw, "m/x")).await.unwrap_err();
    assert!(matches!(e.class(), ErrorClass::Retry), "{e}");
}
