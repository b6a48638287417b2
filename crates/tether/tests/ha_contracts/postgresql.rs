//! What every kind of requirer sees of a PostgreSQL cluster under Patroni (issue 15 §4),
//! end to end: a data-integrator (`get-credentials`), a v1 requirer (a `requests` list,
//! answered with a user secret holding `uris`), a v0 requirer without secrets (databag
//! fields), integrated with one `postgresql-k8s -n 2`, then (the charm refuses legacy and
//! modern relations at once, as Canonical's does) a legacy `db` requirer
//! (`master`/`standbys`). Each names the primary as its write address and the replica as
//! read-only; after a switchover (`promote-to-primary`) every one of them is rewritten to
//! the new primary with the same credentials, which log in there. Drift repair works on
//! the new primary (a user dropped by hand is made again there, a look-alike without
//! tether's marker is left alone), and no login user is left over.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;

const PG: &str = "postgresql-k8s";
const DI: &str = "data-integrator";
const V1_REQUIRER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charms/v1-requirer");

/// The port of the unit's running PostgreSQL (from its `postmaster.pid`).
fn port_of_unit(c: &Controller, unit: &str) -> Option<u16> {
    let text = fs::read_to_string(c.unit_dir(unit).join("pgdata/postmaster.pid")).ok()?;
    text.lines().nth(3)?.trim().parse().ok()
}

/// The provider's application databag as `unit` sees it on its `endpoint`.
fn provider_bag(c: &Controller, unit: &str, endpoint: &str) -> Value {
    let (code, out, err) = c.probe(unit, &format!("relation-get -r $(relation-ids {endpoint}) --app --format=json - {PG}"));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("bag json")
}

/// What one requirer was given: where to write, where to read, and as whom.
#[derive(Debug, Clone, PartialEq)]
struct Given {
    write: Vec<u16>,
    read: Vec<u16>,
    user: String,
    password: String,
}

/// The data-integrator's view.
fn di_given(c: &Controller) -> Result<Given, String> {
    let (out, task) = c.run_action(&format!("{DI}/leader"), "get-credentials", &[]);
    let m = &task["results"]["postgresql"];
    let text = |k: &str| m[k].as_str().map(String::from).ok_or_else(|| format!("{k} missing: {out}"));
    Ok(Given {
        write: ports_of(&text("endpoints")?),
        read: ports_of(m["read-only-endpoints"].as_str().unwrap_or_default()),
        user: text("username")?,
        password: text("password")?,
    })
}

/// The v0 requirer's view: databag fields.
fn v0_given(c: &Controller) -> Result<Given, String> {
    let bag = provider_bag(c, "v0/0", "database");
    let text = |k: &str| bag[k].as_str().map(String::from).ok_or_else(|| format!("{k} missing: {bag:#}"));
    Ok(Given {
        write: ports_of(&text("endpoints")?),
        read: ports_of(bag["read-only-endpoints"].as_str().unwrap_or_default()),
        user: text("username")?,
        password: text("password")?,
    })
}

/// The v1 requirer's view: its request's reply, whose user secret (newest revision) holds
/// `uris` and `read-only-uris`.
fn v1_given(c: &Controller) -> Result<Given, String> {
    let bag = provider_bag(c, "v1/0", "database");
    let replies: Vec<Value> = bag["requests"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let uri = replies.first().and_then(|r| r["secret-user"].as_str()).ok_or_else(|| format!("no reply yet: {bag:#}"))?;
    let (code, secret, err) = c.probe("v1/0", &format!("secret-get {uri} --refresh --format=json"));
    if code != 0 {
        return Err(err);
    }
    let secret: Value = serde_json::from_str(&secret).map_err(|e| e.to_string())?;
    let uri = |key: &str| -> Result<tokio_postgres::Config, String> {
        let text = secret[key].as_str().ok_or_else(|| format!("no {key}: {secret:#}"))?;
        text.parse().map_err(|e| format!("{key} {text:?}: {e}"))
    };
    let (writer, readers) = (uri("uris")?, uri("read-only-uris")?);
    let user = writer.get_user().unwrap_or_default().to_string();
    let password = String::from_utf8_lossy(writer.get_password().unwrap_or_default()).into_owned();
    Ok(Given { write: writer.get_ports().to_vec(), read: readers.get_ports().to_vec(), user, password })
}

/// The legacy `db` requirer's view: `master` and `standbys` (libpq key=value strings).
fn legacy_given(c: &Controller) -> Result<Given, String> {
    let unit = c.show_unit("legacy/0");
    let bag = relation_info(&unit, "db", "db").map(|r| r["application-data"].clone()).ok_or_else(|| format!("no db relation: {unit:#}"))?;
    let field = |conn: &str, key: &str| {
        conn.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{key}="))).map(String::from).unwrap_or_default()
    };
    let master = bag["master"].as_str().ok_or_else(|| format!("no master: {bag:#}"))?.to_string();
    let port = |conn: &str| field(conn, "port").parse::<u16>().map_err(|e| format!("{conn}: {e}"));
    let standbys = bag["standbys"].as_str().ok_or_else(|| format!("no standbys: {bag:#}"))?;
    let read =
        field(standbys, "port").split(',').map(|p| p.parse::<u16>().map_err(|e| format!("{standbys}: {e}"))).collect::<Result<_, _>>()?;
    Ok(Given { write: vec![port(&master)?], read, user: field(&master, "user"), password: field(&master, "password") })
}

type View = fn(&Controller) -> Result<Given, String>;
const MODERN: [(&str, View); 3] = [("data-integrator", di_given), ("v0", v0_given), ("v1", v1_given)];
const LEGACY: [(&str, View); 1] = [("legacy db", legacy_given)];

/// Waits until every requirer of `views` names `primary` for writes and `replica` for reads.
fn wait_every_view(c: &Controller, views: &[(&str, View)], primary: u16, replica: u16, what: &str) -> Vec<Given> {
    views
        .iter()
        .map(|(name, view)| {
            wait_until(&format!("{what}: {name} names the primary {primary} and the replica {replica}"), SETTLE_TIMEOUT, || {
                let given = view(c)?;
                if given.write == [primary] && given.read == [replica] {
                    Ok(given)
                } else {
                    Err(format!("{given:?}"))
                }
            })
        })
        .collect()
}

fn login_at(given: &Given, port: u16, dbname: &str) -> PgLogin {
    PgLogin { host: "127.0.0.1".into(), port, user: given.user.clone(), password: given.password.clone(), dbname: dbname.into() }
}

#[test]
fn every_contract_follows_a_switchover_with_the_same_credentials_and_drift_repair_works_on_the_new_primary() {
    let charms = tempfile::tempdir().expect("tempdir");
    let legacy = charms.path().join("legacy");
    fs::create_dir_all(&legacy).expect("charm dir");
    fs::write(legacy.join("metadata.yaml"), "name: legacy\nrequires:\n  db:\n    interface: pgsql\n").expect("metadata");

    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", PG, "-n", "2"]);
    c.ok(&["deploy", DI, "--config", "database-name=di_db"]);
    c.ok(&["deploy", V1_REQUIRER, "v0"]);
    c.ok(&["deploy", V1_REQUIRER, "v1"]);
    c.ok(&["deploy", legacy.to_str().expect("utf-8 path")]);
    c.wait_active(&[PG, "v0", "v1", "legacy"]);
    for app in [DI, "v0", "v1"] {
        c.ok(&["integrate", app, PG]);
    }
    let set = |unit: &str, data: &str| {
        let (code, _, err) = c.probe(unit, &format!("relation-set -r $(relation-ids database) --app {data}"));
        assert_eq!(code, 0, "{err}");
    };
    set("v0/0", "database=v0_db");
    set("v1/0", r#"version=v1 requests='[{"resource":"v1_db","request-id":"r1","salt":"s1"}]'"#);
    c.wait_active(&[PG, DI, "v0", "v1"]);

    let primary = wait_until("get-primary", SETTLE_TIMEOUT, || c.primary_unit(PG, "primary"));
    let units = [format!("{PG}/0"), format!("{PG}/1")];
    let replica = units.iter().find(|u| **u != primary).expect("a replica").clone();
    let (primary_port, replica_port) =
        (port_of_unit(&c, &primary).expect("primary port"), port_of_unit(&c, &replica).expect("replica port"));
    let before = wait_every_view(&c, &MODERN, primary_port, replica_port, "before the switchover");
    let databases = ["di_db", "v0_db", "v1_db"];
    for (given, db) in before.iter().zip(databases) {
        let s = login_at(given, primary_port, db).session();
        s.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')");
    }

    // Switchover: every requirer is rewritten to the new primary, same credentials.
    c.action_results(&replica, "promote-to-primary", &["scope=unit"]);
    let after = wait_every_view(&c, &MODERN, replica_port, primary_port, "after the switchover");
    for ((name, _), (old, new)) in MODERN.iter().zip(before.iter().zip(&after)) {
        assert_eq!((&old.user, &old.password), (&new.user, &new.password), "{name}: the credentials stay the same");
    }
    for (given, db) in after.iter().zip(databases) {
        let s = login_at(given, replica_port, db).session();
        assert_eq!(s.row("SELECT count(*)::text FROM kept")[0], "1", "{db}: the row written before");
        s.execute("INSERT INTO kept VALUES ('after')");
    }

    // Drift repair on the new primary: a relation user dropped by hand is made again; a
    // look-alike made by hand without tether's marker is left alone.
    let operator = login_at(&after[0], replica_port, "postgres").as_user("operator", &c.operator_password(PG));
    let admin = operator.session();
    admin.execute("CREATE ROLE relation_id_9999 LOGIN PASSWORD 'hand-made-1'");
    let victim = &after[1];
    let in_db = operator.with_db("v0_db").session();
    in_db.execute(&format!("REASSIGN OWNED BY \"{0}\" TO operator; DROP OWNED BY \"{0}\"", victim.user));
    drop(in_db);
    admin.execute(&format!("DROP ROLE \"{}\"", victim.user));
    c.ok(&["model-config", "update-status-hook-interval=2s"]);
    let victim_login = login_at(victim, replica_port, "v0_db");
    wait_until("the dropped user to be made again on the new primary", SETTLE_TIMEOUT, || {
        victim_login.connect().map(drop).map_err(|e| format!("{e:?}"))
    });
    c.ok(&["model-config", "update-status-hook-interval=10m"]);

    // No login user left over: the internal users, the look-alike and one per relation.
    let mut want: BTreeSet<String> = after.iter().map(|g| g.user.clone()).collect();
    want.insert("relation_id_9999".into());
    assert_eq!(logins(&admin), want, "login users besides the internal ones");

    // The modern relations go (their users with them), the legacy one comes: it names the
    // current primary, and follows a switchover back with the same credentials.
    for app in [DI, "v0", "v1"] {
        c.ok(&["remove-relation", app, PG]);
    }
    c.wait_for("the modern relations to be gone", |s| Ok(related_apps(s, PG, "database").is_empty()));
    wait_until("the removed relations' users to be dropped", SETTLE_TIMEOUT, || match logins(&admin) {
        left if left == BTreeSet::from(["relation_id_9999".to_string()]) => Ok(()),
        left => Err(format!("{left:?}")),
    });
    c.ok(&["integrate", "postgresql-k8s:db", "legacy:db"]);
    c.wait_active(&[PG, "legacy"]);
    let legacy_before = wait_every_view(&c, &LEGACY, replica_port, primary_port, "legacy, before switching back");
    login_at(&legacy_before[0], replica_port, "legacy").session().execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('x')");
    c.action_results(&primary, "promote-to-primary", &["scope=unit"]);
    let legacy_after = wait_every_view(&c, &LEGACY, primary_port, replica_port, "legacy, after switching back");
    assert_eq!(
        (&legacy_before[0].user, &legacy_before[0].password),
        (&legacy_after[0].user, &legacy_after[0].password),
        "the legacy credentials stay the same"
    );
    let s = login_at(&legacy_after[0], primary_port, "legacy").session();
    assert_eq!(s.row("SELECT count(*)::text FROM kept")[0], "1");
    s.execute("INSERT INTO kept VALUES ('y')");
}

/// The login users on the server besides the internal ones.
fn logins(admin: &PgSession) -> BTreeSet<String> {
    admin
        .query(
            "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname NOT IN ('operator', 'replication', 'rewind', 'monitoring', 'backup', 'postgres')",
        )
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}
