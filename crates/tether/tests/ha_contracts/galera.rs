//! What every kind of requirer sees of a MariaDB Galera cluster (issue 15), end to end: a
//! data-integrator (`get-credentials`), a v1 `mysql_client` requirer (a `requests` list,
//! answered with a user secret), a v0 requirer without secrets (databag fields) and a
//! legacy `mysql` requirer (every mysql-k8s unit's databag: `host`, `port`, `user`, ...),
//! all integrated with one `mysql-k8s -n 3`. Each names the write node (`endpoints`, the
//! legacy `port`) and the other synced members (`read-only-endpoints`). Galera has no
//! switchover: the write node moves when it fails. After a SIGKILL of the write node's
//! mariadbd every contract names the cluster's write node again; with the write node
//! frozen (SIGSTOP) every contract is rewritten to the new write node and the remaining
//! reader, with the same credentials, which find their rows there and write; drift repair
//! makes a user dropped by hand again on the new write node and leaves a look-alike made
//! by hand alone; resumed, the old write node takes writes again and every contract
//! follows it back. No login user is left over.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const MY: &str = "mysql-k8s";
const DI: &str = "data-integrator";
const V1_REQUIRER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/v1-requirer");
/// The server's own users (charm-protocol §4) and MariaDB's.
const INTERNAL: [&str; 8] = ["root", "serverconfig", "clusteradmin", "monitoring", "backups", "mariadb.sys", "mysql", "PUBLIC"];

/// The ports of an endpoint list, sorted (the contracts are compared as sets).
fn sorted_ports(endpoints: &str) -> Vec<u16> {
    let mut ports = ports_of(endpoints);
    ports.sort();
    ports
}

/// The v1 test charm (tests/charms/v1-requirer) on the `mysql_client` interface.
fn mysql_requirer(dir: &Path) -> PathBuf {
    let path = dir.join("v1-mysql");
    fs::create_dir_all(&path).expect("charm dir");
    for f in ["dispatch", "actions.yaml"] {
        fs::copy(Path::new(V1_REQUIRER).join(f), path.join(f)).expect("copy the test charm");
    }
    fs::write(path.join("metadata.yaml"), "name: v1-mysql\nrequires:\n  database:\n    interface: mysql_client\n").expect("metadata");
    path
}

/// The write node's port and the other synced members' ports, once `get-cluster-status`
/// shows `synced` synced members and a write node other than `not`.
fn wait_cluster(c: &Controller, synced: usize, not: Option<&str>, what: &str) -> (String, u16, Vec<u16>) {
    wait_until(what, SETTLE_TIMEOUT, || {
        let r = c.try_action_results(&format!("{MY}/leader"), "get-cluster-status", &[])?;
        let members = r["members"].as_object().ok_or_else(|| format!("no members: {r}"))?;
        let is_synced = |m: &Value| m["state"] == "Synced" && (m["primary-component"] == true || m["primary-component"] == "true");
        let write = r["write-node"].as_str().unwrap_or_default().to_string();
        let n = members.values().filter(|m| is_synced(m)).count();
        if n != synced || write.is_empty() || Some(write.as_str()) == not {
            return Err(format!("{r}"));
        }
        let port = |m: &Value| first_endpoint(m["address"].as_str().unwrap_or_default()).1;
        let write_port = members.values().find(|m| m["unit"] == write.as_str()).map(port).ok_or_else(|| format!("{r}"))?;
        let mut readers: Vec<u16> = members.values().filter(|m| is_synced(m) && m["unit"] != write.as_str()).map(port).collect();
        readers.sort();
        Ok((write, write_port, readers))
    })
}

/// The provider's application databag as `unit` sees it on its `database` endpoint.
fn provider_bag(c: &Controller, unit: &str) -> Result<Value, String> {
    let (code, out, err) = c.probe(unit, &format!("relation-get -r $(relation-ids database) --app --format=json - {MY}"));
    if code != 0 {
        return Err(err);
    }
    serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))
}

/// What one requirer was given: where to write, where to read (`None`: the contract has
/// no read-only addresses), as whom, in which database.
#[derive(Debug, Clone, PartialEq)]
struct Given {
    write: Vec<u16>,
    read: Option<Vec<u16>>,
    user: String,
    password: String,
    database: String,
}

impl Given {
    fn login_at(&self, port: u16) -> MyLogin {
        MyLogin {
            host: "127.0.0.1".into(),
            port,
            user: self.user.clone(),
            password: self.password.clone(),
            dbname: Some(self.database.clone()),
        }
    }
}

fn text(v: &Value, k: &str) -> Result<String, String> {
    v[k].as_str().map(String::from).ok_or_else(|| format!("{k} missing: {v:#}"))
}

fn di_given(c: &Controller) -> Result<Given, String> {
    let (out, task) = c.run_action(&format!("{DI}/leader"), "get-credentials", &[]);
    let m = &task["results"]["mysql"];
    if !m.is_object() {
        return Err(out.to_string());
    }
    Ok(Given {
        write: sorted_ports(&text(m, "endpoints")?),
        read: Some(sorted_ports(m["read-only-endpoints"].as_str().unwrap_or_default())),
        user: text(m, "username")?,
        password: text(m, "password")?,
        database: text(m, "database")?,
    })
}

fn v0_given(c: &Controller) -> Result<Given, String> {
    let bag = provider_bag(c, "v0/0")?;
    Ok(Given {
        write: sorted_ports(&text(&bag, "endpoints")?),
        read: Some(sorted_ports(bag["read-only-endpoints"].as_str().unwrap_or_default())),
        user: text(&bag, "username")?,
        password: text(&bag, "password")?,
        database: text(&bag, "database")?,
    })
}

/// The v1 requirer's view: its request's reply and the user secret it names.
fn v1_given(c: &Controller) -> Result<Given, String> {
    let bag = provider_bag(c, "v1/0")?;
    let replies: Vec<Value> = bag["requests"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let reply = replies.first().ok_or_else(|| format!("no reply yet: {bag:#}"))?;
    let uri = text(reply, "secret-user")?;
    let (code, secret, err) = c.probe("v1/0", &format!("secret-get {uri} --refresh --format=json"));
    if code != 0 {
        return Err(err);
    }
    let secret: Value = serde_json::from_str(&secret).map_err(|e| e.to_string())?;
    Ok(Given {
        write: sorted_ports(&text(reply, "endpoints")?),
        read: Some(sorted_ports(reply["read-only-endpoints"].as_str().unwrap_or_default())),
        user: text(&secret, "username")?,
        password: text(&secret, "password")?,
        database: text(reply, "database").or_else(|_| text(reply, "resource"))?,
    })
}

/// The legacy `mysql` requirer's view: every mysql-k8s unit's databag, which must agree.
fn legacy_given(c: &Controller) -> Result<Given, String> {
    let unit = c.show_unit("legacy/0");
    let rel = relation_info(&unit, "db", "mysql").ok_or_else(|| format!("no mysql relation: {unit:#}"))?;
    let mut seen = Vec::new();
    for n in 0..3 {
        let bag = &rel["related-units"][format!("{MY}/{n}")]["data"];
        let port: u16 = text(bag, "port")?.parse().map_err(|e| format!("{e}: {bag:#}"))?;
        seen.push(Given {
            write: vec![port],
            read: None,
            user: text(bag, "user")?,
            password: text(bag, "password")?,
            database: text(bag, "database")?,
        });
    }
    if seen.windows(2).all(|w| w[0] == w[1]) {
        Ok(seen.remove(0))
    } else {
        Err(format!("the units' databags disagree: {seen:?}"))
    }
}

type View = fn(&Controller) -> Result<Given, String>;
const VIEWS: [(&str, View); 4] = [("data-integrator", di_given), ("v0", v0_given), ("v1", v1_given), ("legacy mysql", legacy_given)];

/// Waits until every requirer names `write` for writes and `readers` for reads.
fn wait_every_view(c: &Controller, write: u16, readers: &[u16], what: &str) -> Vec<Given> {
    VIEWS
        .iter()
        .map(|(name, view)| {
            wait_until(&format!("{what}: {name} names the write node {write} and the readers {readers:?}"), SETTLE_TIMEOUT, || {
                let given = view(c)?;
                if given.write == [write] && given.read.as_ref().is_none_or(|r| r == readers) {
                    Ok(given)
                } else {
                    Err(format!("{given:?}"))
                }
            })
        })
        .collect()
}

/// Each requirer's credentials log in on `port` (the write node), find `rows` rows and
/// write one more.
fn every_login_writes(given: &[Given], port: u16, rows: i64, what: &str) {
    for g in given {
        let login = g.login_at(port);
        wait_until(&format!("{what}: {} finds {rows} rows at {port}", g.user), SETTLE_TIMEOUT, || match login.count_rows("kept")? {
            n if n == rows => Ok(()),
            n => Err(format!("{n} rows")),
        });
        login.session().execute("INSERT INTO kept VALUES ('written')");
    }
}

/// The login users of the server besides its own.
fn logins(root: &MyLogin) -> BTreeSet<String> {
    root.session()
        .column("SELECT DISTINCT User FROM mysql.user WHERE is_role = 'N'")
        .into_iter()
        .filter(|u| !u.is_empty() && !INTERNAL.contains(&u.as_str()))
        .collect()
}

#[test]
fn every_contract_follows_the_galera_write_node_with_the_same_credentials_and_drift_repair_works_there() {
    let charms = tempfile::tempdir().expect("tempdir");
    let legacy = charms.path().join("legacy");
    fs::create_dir_all(&legacy).expect("charm dir");
    fs::write(legacy.join("metadata.yaml"), "name: legacy\nrequires:\n  db:\n    interface: mysql\n").expect("metadata");
    let requirer = mysql_requirer(charms.path());
    let requirer = requirer.to_str().expect("utf-8 path");

    let c = Controller::bootstrap();
    // What follows a fault is the watcher, not the update-status timer.
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "-n", "3", "--config", "profile=testing"]);
    c.ok(&["deploy", DI, "--config", "database-name=di_db"]);
    c.ok(&["deploy", requirer, "v0"]);
    c.ok(&["deploy", requirer, "v1"]);
    c.ok(&["deploy", legacy.to_str().expect("utf-8 path")]);
    c.wait_active(&["v0", "v1", "legacy"]);
    for app in [DI, "v0", "v1"] {
        c.ok(&["integrate", app, MY]);
    }
    c.ok(&["integrate", "mysql-k8s:mysql", "legacy:db"]);
    let set = |unit: &str, data: &str| {
        let (code, _, err) = c.probe(unit, &format!("relation-set -r $(relation-ids database) --app {data}"));
        assert_eq!(code, 0, "{err}");
    };
    set("v0/0", "database=v0_db");
    set("v1/0", r#"version=v1 requests='[{"resource":"v1_db","request-id":"r1","salt":"s1"}]'"#);
    c.wait_active(&[MY, DI, "v0", "v1", "legacy"]);

    // Every contract names the write node and the two readers; each writes a row there.
    let (writer, write_port, readers) = wait_cluster(&c, 3, None, "three synced members");
    let before = wait_every_view(&c, write_port, &readers, "at first");
    for g in &before {
        g.login_at(write_port).session().execute("CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('before')");
    }
    let mut rows = 1;

    // Fault 1: SIGKILL of the write node's mariadbd. The supervisor restarts it and it
    // rejoins; once three members are synced again every contract names the cluster's
    // write node with the same credentials, which find every row there and write.
    let pid_file = c.unit_dir(&writer).join("mysqld.pid");
    let pid = live_pid(&pid_file).expect("the write node's mariadbd runs");
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    wait_until("the killed mariadbd restarted", SETTLE_TIMEOUT, || match live_pid(&pid_file) {
        Some(p) if p != pid => Ok(()),
        other => Err(format!("mysqld.pid: {other:?}")),
    });
    let (writer, write_port, readers) = wait_cluster(&c, 3, None, "three synced members after the SIGKILL");
    let after_kill = wait_every_view(&c, write_port, &readers, "after the SIGKILL");
    for ((name, _), (old, new)) in VIEWS.iter().zip(before.iter().zip(&after_kill)) {
        assert_eq!((&old.user, &old.password), (&new.user, &new.password), "{name}: the credentials stay the same");
    }
    every_login_writes(&after_kill, write_port, rows, "after the SIGKILL");
    rows += 1;

    // Fault 2: the write node frozen (SIGSTOP): Galera evicts it and another member takes
    // writes; every contract is rewritten to it and to the one remaining reader.
    let frozen = live_pid(&c.unit_dir(&writer).join("mysqld.pid")).expect("the write node's mariadbd runs");
    signal(frozen, nix::sys::signal::Signal::SIGSTOP);
    let (_, new_port, new_readers) = wait_cluster(&c, 2, Some(&writer), "another member to take writes");
    assert_ne!(new_port, write_port, "the write node moved");
    assert!(!new_readers.contains(&write_port), "the frozen member is no reader: {new_readers:?}");
    let moved = wait_every_view(&c, new_port, &new_readers, "after the freeze");
    for ((name, _), (old, new)) in VIEWS.iter().zip(before.iter().zip(&moved)) {
        assert_eq!((&old.user, &old.password), (&new.user, &new.password), "{name}: the credentials stay the same");
    }
    every_login_writes(&moved, new_port, rows, "on the new write node");
    rows += 1;

    // Drift repair on the new write node: a relation user dropped by hand is made again
    // (same password); a look-alike made by hand (not in tether's registry) stays.
    let root_password =
        c.action_results(&format!("{MY}/leader"), "get-password", &[])["password"].as_str().expect("root password").to_string();
    let root = MyLogin { host: "127.0.0.1".into(), port: new_port, user: "root".into(), password: root_password, dbname: None };
    let lookalike = format!("relation-9999_{}", "0".repeat(12));
    let victim = &moved[1];
    {
        let mut admin = root.session();
        admin.execute(&format!("CREATE USER '{lookalike}'@'%' IDENTIFIED BY 'hand-made-1'"));
        admin.execute(&format!("DROP USER '{}'@'%'", victim.user));
    }
    assert!(matches!(victim.login_at(new_port).outcome(), LoginOutcome::BadCredentials(_)), "the dropped user is gone");
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    victim.login_at(new_port).wait_session();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    let mut want: BTreeSet<String> = moved.iter().map(|g| g.user.clone()).collect();
    want.insert(lookalike.clone());
    assert_eq!(logins(&root), want, "login users besides the server's own: one per integration and the look-alike");

    // Resumed, the old write node rejoins and, the lowest-numbered synced member, takes
    // writes again: every contract follows it back with the same credentials.
    signal(frozen, nix::sys::signal::Signal::SIGCONT);
    let (_, back_port, back_readers) = wait_cluster(&c, 3, None, "the resumed member to rejoin");
    let back = wait_every_view(&c, back_port, &back_readers, "after the resume");
    for ((name, _), (old, new)) in VIEWS.iter().zip(before.iter().zip(&back)) {
        assert_eq!((&old.user, &old.password), (&new.user, &new.password), "{name}: the credentials stay the same");
    }
    every_login_writes(&back, back_port, rows, "after the resume");
    let root = MyLogin { port: back_port, ..root };
    assert_eq!(logins(&root), want, "no login user left over after the resume");
}
