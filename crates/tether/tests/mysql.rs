//! End to end through the CLI, on real MariaDB servers that tether starts: the commands of
//! the MySQL how-to (../shared/seeds/000_*.txt) with `juju` replaced by `tether`, and what
//! the credentials they hand out can and cannot do (charm-protocol.md §4.3, §4.4).

mod common;

use common::*;
use std::time::Duration;

const MY: &str = "mysql-k8s";

/// deploy mysql-k8s; deploy data-integrator NAME --config database-name=DB; integrate; wait.
fn deploy_integrated(c: &Controller, integrator: &str, database: &str) -> MyLogin {
    c.ok(&["deploy", MY]);
    c.ok(&["deploy", "data-integrator", integrator, "--config", &format!("database-name={database}")]);
    c.ok(&["integrate", integrator, MY]);
    c.wait_active(&[MY, integrator]);
    MyLogin::from_credentials(&c.credentials_for(&format!("{integrator}/leader"), "mysql"))
}

/// `run mysql-k8s/leader get-password [username=U]`: the password.
fn password_of(c: &Controller, user: Option<&str>) -> String {
    let param = user.map(|u| format!("username={u}"));
    let params: Vec<&str> = param.iter().map(String::as_str).collect();
    let results = c.action_results(&format!("{MY}/leader"), "get-password", &params);
    assert_eq!(results["username"], user.unwrap_or("root"), "get-password names the user: {results:#}");
    results["password"].as_str().unwrap_or_else(|| panic!("get-password returned no password: {results:#}")).to_string()
}

/// Waits (bounded) until no live process names `home` in its command line: the daemon
/// and every MariaDB server of that controller are gone.
fn assert_nothing_left_running(home: &str) {
    wait_until(&format!("the processes of {home} to end after destroy-controller"), Duration::from_secs(30), || {
        let left = pids_mentioning(home);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    });
}

#[test]
fn seed_commands_give_data_integrator_working_mysql_credentials_confined_to_their_database() {
    let c = Controller::bootstrap();
    let home = c.home().to_string_lossy().into_owned();
    // The seed's commands: deploy, deploy data-integrator --config database-name=..., integrate.
    c.ok(&["deploy", MY]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=seed_db"]);
    c.ok(&["integrate", "data-integrator", MY]);
    // The seed's modern form with the database first: integrate mysql-k8s <charm>.
    c.ok(&["deploy", "data-integrator", "di-other", "--config", "database-name=other_db"]);
    c.ok(&["integrate", MY, "di-other"]);
    let status = c.wait_active(&[MY, "data-integrator", "di-other"]);

    assert_eq!(related_apps(&status, MY, "database"), ["data-integrator", "di-other"], "{status:#}");
    assert_eq!(related_apps(&status, "data-integrator", "mysql"), [MY], "{status:#}");
    assert_eq!(status["applications"][MY]["relations"]["database"][0]["interface"], "mysql_client", "{status:#}");
    let version = status["applications"][MY]["version"].as_str().unwrap_or_default().to_string();
    assert!(!version.is_empty(), "the application shows the server version: {status:#}");

    // The seed's command, default output format.
    let plain = c.ok(&["run", "data-integrator/leader", "get-credentials"]);
    assert!(plain.stdout.contains("mysql") && plain.stdout.contains("relation-"), "{plain}");

    let my = c.credentials_for("data-integrator/leader", "mysql");
    let user = my["username"].as_str().unwrap_or_default().to_string();
    assert!(is_mysql_relation_user(&user), "username {user:?} is not relation-<id>_<uuid> cut to 26: {my:#}");
    let uuid = c.model_uuid_hex();
    let suffix = user.split_once('_').map(|(_, s)| s).unwrap_or_default();
    assert!(uuid.starts_with(suffix), "the user name ends with the model uuid ({uuid}): {user}");
    let password = my["password"].as_str().unwrap_or_default();
    assert!(password.len() == 24 && password.chars().all(|ch| ch.is_ascii_alphanumeric()), "password must be 24 letters/digits: {my:#}");
    assert_eq!(my["database"], "seed_db");
    assert_eq!(my["version"], version.as_str(), "{my:#}");
    let endpoints = my["endpoints"].as_str().unwrap_or_default();
    assert!(endpoints.starts_with("127.0.0.1:"), "endpoints: {my:#}");
    assert!(my["read-only-endpoints"].as_str().is_some_and(|e| !e.is_empty()), "read-only-endpoints: {my:#}");

    // The user reads and writes its own database.
    let login = MyLogin::from_credentials(&my);
    let mut db = login.session();
    assert_eq!(db.row("SELECT CURRENT_USER(), DATABASE()"), [format!("{user}@%"), "seed_db".to_string()]);
    db.execute("CREATE TABLE seed_check (id INT PRIMARY KEY, note TEXT NOT NULL)");
    db.execute("INSERT INTO seed_check VALUES (1, 'from the seed test')");
    assert_eq!(db.row("SELECT note FROM seed_check WHERE id = 1"), ["from the seed test"]);

    // The other integration's user fills its own database.
    let other = MyLogin::from_credentials(&c.credentials_for("di-other/leader", "mysql"));
    assert_ne!(other.user, login.user, "each relation gets its own user");
    assert_eq!(other.dbname.as_deref(), Some("other_db"));
    let mut odb = other.session();
    odb.execute("CREATE TABLE secrets (v TEXT); INSERT INTO secrets VALUES ('other')");

    // ... and nothing else: no other database, no new database, no privileges on *.*.
    let visible = db.column("SHOW DATABASES");
    assert!(!visible.iter().any(|d| d == "other_db" || d == "mysql"), "seed user sees {visible:?}");
    assert!(visible.iter().any(|d| d == "seed_db"), "seed user sees {visible:?}");
    let (code, message) = db.refused("SELECT v FROM other_db.secrets");
    assert!(code == 1142 || code == 1044, "reading another relation's database: {code} {message}");
    let (code, message) = db.refused("CREATE DATABASE sneaky_db");
    assert_eq!(code, 1044, "creating a database: {code} {message}");
    let (code, message) = db.refused("SELECT user FROM mysql.user");
    assert!(code == 1142 || code == 1044, "reading mysql.user: {code} {message}");
    let (code, message) = db.refused("CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'");
    assert!(code == 1227 || code == 1044, "creating a user: {code} {message}");
    assert_my_refused(&login.with_db(Some("other_db")));
    assert_my_refused(&other.with_db(Some("seed_db")));
    drop((db, odb));

    // Destroying the controller stops its MariaDB servers too.
    drop(c);
    assert_nothing_left_running(&home);
}

#[test]
fn remove_relation_refuses_old_credentials_and_reintegrate_issues_new_user_keeping_data() {
    let c = Controller::bootstrap();
    let first = deploy_integrated(&c, "data-integrator", "rotate_db");
    first.session().execute("CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('before rotation')");

    let mut previous = vec![first];
    // The seed's rotation, once in each order: remove-relation <charm> mysql-k8s, then
    // remove-relation mysql-k8s <charm>; each followed by integrate <charm> mysql-k8s.
    for (round, remove) in [["data-integrator", MY], [MY, "data-integrator"]].iter().enumerate() {
        let old = previous.last().expect("a login").clone();
        c.ok(&["remove-relation", remove[0], remove[1]]);
        let (code, message) = old.wait_denied();
        assert_eq!(code, 1045, "the removed relation's user is refused: {message}");
        c.wait_for("the relation to be gone", |s| Ok(related_apps(s, MY, "database").is_empty()));

        c.ok(&["integrate", "data-integrator", MY]);
        c.wait_active(&[MY, "data-integrator"]);
        let seen: Vec<String> = previous.iter().map(|l| l.user.clone()).collect();
        let creds = c.wait_credentials_for("data-integrator/leader", "mysql", "a new relation user", |my| {
            my["username"].as_str().is_some_and(|u| !seen.iter().any(|s| s == u))
        });
        let new = MyLogin::from_credentials(&creds);
        assert!(is_mysql_relation_user(&new.user), "{creds:#}");
        assert!(previous.iter().all(|p| p.password != new.password), "a new password too");
        assert_eq!(new.dbname.as_deref(), Some("rotate_db"));

        let mut db = new.session();
        assert_eq!(db.row("SELECT v FROM kept WHERE v = 'before rotation'"), ["before rotation"], "data written before the rotation stays");
        db.execute(&format!("INSERT INTO kept VALUES ('after rotation {round}')"));
        assert_eq!(db.row("SELECT COUNT(*) FROM kept"), [(round + 2).to_string()]);
        for p in &previous {
            assert_my_refused(p);
        }
        previous.push(new);
    }
}

#[test]
fn internal_passwords_can_be_read_set_and_randomised_and_tether_keeps_managing_the_server() {
    let c = Controller::bootstrap();
    // An integration first, to learn where the server listens.
    let before = deploy_integrated(&c, "di-before", "before_db");
    let as_root = |password: &str| before.as_user("root", password).with_db(None);

    // get-password: root by default, any charm user by name.
    let initial = password_of(&c, None);
    assert!(initial.len() == 24 && initial.chars().all(|ch| ch.is_ascii_alphanumeric()), "24 letters/digits: {initial:?}");
    assert_eq!(as_root(&initial).session().row("SELECT CURRENT_USER()")[0].split('@').next(), Some("root"));
    let serverconfig = password_of(&c, Some("serverconfig"));
    before.as_user("serverconfig", &serverconfig).with_db(None).session().row("SELECT 1");
    let (out, task) = c.run_action(&format!("{MY}/leader"), "get-password", &["username=nobody"]);
    assert!(out.code != 0 || task["status"] == "failed", "an unknown user must fail:\n{out}");
    assert!(
        out.stdout.contains("The action can be run only for users used by the charm")
            || out.stderr.contains("The action can be run only for users used by the charm"),
        "§4.3's invalid-user text:\n{out}"
    );

    // The seed: set-password password=<password>. The new one works, the old one is refused.
    let chosen = "Chosen0root7PasswordXyz1";
    c.action_results(&format!("{MY}/leader"), "set-password", &[&format!("password={chosen}")]);
    as_root(chosen).wait_session();
    assert_my_refused(&as_root(&initial));
    assert_eq!(password_of(&c, None), chosen);

    // The seed: set-password with no password gives a random one (24 characters).
    c.action_results(&format!("{MY}/leader"), "set-password", &[]);
    let random = password_of(&c, None);
    assert!(random.len() == 24 && random != chosen && random != initial, "a fresh random password: {random:?}");
    as_root(&random).wait_session();
    assert_my_refused(&as_root(chosen));

    // Another charm user by name.
    let sc = "ServerConfig0Rotated1234";
    c.action_results(&format!("{MY}/leader"), "set-password", &["username=serverconfig", &format!("password={sc}")]);
    assert_eq!(password_of(&c, Some("serverconfig")), sc);
    before.as_user("serverconfig", sc).with_db(None).wait_session();
    assert_my_refused(&before.as_user("serverconfig", &serverconfig).with_db(None));

    // set-password runs only on the leader; nothing changes on a refusal.
    c.ok(&["add-unit", MY]);
    c.wait_for("mysql-k8s/1 to exist", |s| Ok(unit_names(s, MY).iter().any(|u| u == "mysql-k8s/1")));
    let (out, task) = c.run_action("mysql-k8s/1", "set-password", &["password=NotTheLeader123456789012"]);
    assert!(out.code != 0 || task["status"] == "failed", "set-password on a non-leader must fail:\n{out}");
    assert!(
        out.stdout.contains("set-password action can only be run on the leader unit.")
            || out.stderr.contains("set-password action can only be run on the leader unit."),
        "§4.3's leader-only text:\n{out}"
    );
    assert_eq!(password_of(&c, None), random, "the refused set-password changed nothing");
    let on_follower = c.action_results("mysql-k8s/1", "get-password", &[]);
    assert_eq!(on_follower["password"], random.as_str(), "get-password runs on any unit");

    // tether goes on managing the server with the password it now has, also after a
    // controller restart: a new integration gets a working user, the earlier one still works.
    c.ok(&["controller", "stop"]);
    c.ok(&["deploy", "data-integrator", "di-after", "--config", "database-name=after_db"]);
    c.ok(&["integrate", "di-after", MY]);
    c.wait_for("mysql-k8s/0 and di-after to be active", |s| {
        let words: Vec<_> = workload_words(s, MY).into_iter().chain(workload_words(s, "di-after")).collect();
        if words.iter().any(|(_, w, _)| w == "error") {
            return Err(format!("error: {words:?}"));
        }
        Ok(words.iter().filter(|(n, _, _)| n != "mysql-k8s/1" && n != MY).all(|(_, w, _)| w == "active") && words.len() >= 4)
    });
    let after = MyLogin::from_credentials(&c.wait_credentials_for("di-after/leader", "mysql", "di-after's credentials", |_| true));
    let mut db = after.wait_session();
    db.execute("CREATE TABLE t (v INT); INSERT INTO t VALUES (42)");
    assert_eq!(db.row("SELECT v FROM t"), ["42"]);
    assert_eq!(before.wait_session().row("SELECT DATABASE()"), ["before_db"]);
    as_root(&random).session();
}

#[test]
fn concurrent_integrations_each_get_working_credentials_confined_to_their_database() {
    const N: usize = 8;
    let c = Controller::bootstrap();
    c.ok(&["deploy", MY]);
    let apps: Vec<String> = (0..N).map(|i| format!("di-conc-{}", (b'a' + i as u8) as char)).collect();
    for (i, app) in apps.iter().enumerate() {
        c.ok(&["deploy", "data-integrator", app, "--config", &format!("database-name=conc_{i}")]);
    }
    // All integrations at once: the provider's relation hooks run side by side on one
    // server, through MyAdmin's pool.
    std::thread::scope(|s| {
        for app in &apps {
            let c = &c;
            s.spawn(move || c.ok(&["integrate", app, MY]));
        }
    });
    let mut names: Vec<&str> = apps.iter().map(String::as_str).collect();
    names.push(MY);
    c.wait_active(&names);

    let logins: Vec<MyLogin> =
        apps.iter().map(|app| MyLogin::from_credentials(&c.credentials_for(&format!("{app}/leader"), "mysql"))).collect();
    let users: std::collections::BTreeSet<&str> = logins.iter().map(|l| l.user.as_str()).collect();
    assert_eq!(users.len(), N, "one user per integration");
    for (i, login) in logins.iter().enumerate() {
        assert_eq!(login.dbname.as_deref(), Some(format!("conc_{i}").as_str()));
        let mut db = login.session();
        db.execute(&format!("CREATE TABLE t (v INT); INSERT INTO t VALUES ({i})"));
        assert_eq!(db.row("SELECT v FROM t"), [i.to_string()]);
        let (code, message) = db.refused("CREATE DATABASE sneaky_db");
        assert_eq!(code, 1044, "{}: creating a database: {message}", login.user);
    }
    for (i, login) in logins.iter().enumerate() {
        let other = format!("conc_{}", (i + 1) % N);
        let mut db = login.session();
        let (code, message) = db.refused(&format!("SELECT v FROM {other}.t"));
        assert!(code == 1142 || code == 1044, "{} reading {other}: {code} {message}", login.user);
        assert_my_refused(&login.with_db(Some(&other)));
        let visible = db.column("SHOW DATABASES");
        assert!(!visible.iter().any(|d| d.starts_with("conc_") && *d != format!("conc_{i}")), "{} sees {visible:?}", login.user);
    }
}
