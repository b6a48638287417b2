//! Issue 16: credentials rotate without downtime. A client keeps querying through a
//! rotation (a new connection per query with the credentials the requirer side shows
//! after each change, and one long-lived connection from before it) and sees zero failed
//! queries until the grace period ends; then the old credentials are refused and the
//! long-lived connection is ended, not before. Also: the schedule rotates on its own, a
//! rotation is refused while the previous one's grace period runs, nothing changes owner,
//! the audit trail has the issue and the retirement, and a controller killed mid-rotation
//! leaves one or two valid credentials, never zero.

mod common;

use common::*;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PG: &str = "postgresql-k8s";
const DI: &str = "data-integrator";
const GRACE_SECS: u64 = 20;

/// A controller whose only `update-status` hooks are the ones rotation asks for, with
/// postgresql-k8s and a data-integrator asking for `database`, active.
fn integrated(database: &str) -> Controller {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", DI, "--config", &format!("database-name={database}")]);
    c.ok(&["integrate", DI, PG]);
    c.wait_active(&[PG, DI]);
    c
}

/// The credentials the requirer shows, once they name a user other than `old`.
fn wait_new_credentials(c: &Controller, old: &str) -> Value {
    c.wait_postgresql_credentials(&format!("{DI}/leader"), "the rotated credentials on the requirer side", |m| {
        m["username"].as_str().is_some_and(|u| u != old)
    })
}

fn audit_entries(c: &Controller) -> Vec<Value> {
    c.ok(&["audit", "--format", "json"]).json().as_array().cloned().unwrap_or_default()
}

fn audited(c: &Controller, operation: &str, user: &str) -> bool {
    audit_entries(c).iter().any(|e| e.to_string().contains(&format!("\"{operation}\"")) && e.to_string().contains(&format!("\"{user}\"")))
}

#[test]
fn postgresql_rotation_fails_no_query_until_the_grace_period_ends() {
    let c = integrated("rot_db");
    c.ok(&["config", PG, &format!("credential-grace-period={GRACE_SECS}s")]);
    let old = c.postgresql_credentials(&format!("{DI}/leader"));
    let old_login = PgLogin::from_credentials(&old);
    old_login.session().execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (0)");

    let creds = Arc::new(Mutex::new(old_login.clone()));
    let traffic = Traffic::start(
        creds.clone(),
        |login: &PgLogin| {
            let s = login.connect().map_err(|e| format!("{login:?}: {e:?}"))?;
            s.try_row("INSERT INTO kept VALUES (1) RETURNING n").map(|_| ())
        },
        |login: &PgLogin| login.connect().map_err(|e| format!("{e:?}")),
        |s: &mut PgSession| s.try_row("SELECT count(*) FROM kept").map(|_| ()),
    );

    // A bad scope is refused with one clear reason.
    let (_, task) = c.run_action(&format!("{PG}/leader"), "rotate-credentials", &[]);
    assert_eq!(
        (task["status"].as_str(), task["message"].as_str()),
        (Some("failed"), Some("give exactly one of relation-id or application"))
    );
    let (_, task) = c.run_action(&format!("{PG}/leader"), "rotate-credentials", &["application=nosuch"]);
    assert_eq!(task["status"], "failed", "{task:#}");

    let rotated = c.action_results(&format!("{PG}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
    let entry = rotated["rotated"].as_object().and_then(|m| m.values().next().cloned()).unwrap_or_else(|| panic!("{rotated:#}"));
    let until = epoch_of(entry["previous-valid-until"].as_str().unwrap_or_else(|| panic!("{entry:#}")));
    let new = wait_new_credentials(&c, &old_login.user);
    let new_login = PgLogin::from_credentials(&new);
    assert_eq!(new_login.user, format!("{}_r1", old_login.user), "{new:#}");
    assert_eq!(entry["username"], new_login.user.as_str());
    *creds.lock().unwrap() = new_login.clone();
    assert!(!new.to_string().contains(&old_login.password), "the new credentials share nothing with the old");

    // Both work during the grace period, also after drift repair ran (it knows both
    // logins); a second rotation now is refused.
    c.ok(&["model-config", "update-status-hook-interval=1s"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(epoch_now() < until, "the grace period must still run here");
    old_login.session();
    new_login.session();
    let (_, task) = c.run_action(&format!("{PG}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
    assert_eq!(task["status"], "failed", "a rotation during the grace period must be refused: {task:#}");
    assert!(task["message"].as_str().is_some_and(|m| m.contains("grace period")), "{task:#}");

    // The grace period ends: the old credentials are refused, the long-lived session ends.
    old_login.wait_bad_credentials();
    let refused_at = epoch_now();
    wait_until("the long-lived session to be ended", SETTLE_TIMEOUT, || {
        if new_login.connect().is_ok() {
            Ok(())
        } else {
            Err("the new credentials stopped working".to_string())
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    let report = traffic.stop();
    report.assert_rotation(until, refused_at, true);

    // Nothing changed owner: what either login creates belongs to the relation's first user.
    let s = new_login.session();
    s.execute("CREATE TABLE made_after (n int)");
    let owners = s.query("SELECT tableowner::text FROM pg_tables WHERE tablename IN ('kept', 'made_after') ORDER BY 1");
    assert_eq!(owners, vec![vec![Some(old_login.user.clone())], vec![Some(old_login.user.clone())]]);
    assert_eq!(s.row("SELECT count(*) FROM kept")[0].parse::<u64>().unwrap(), report.queries + 1);

    // The audit trail has both steps; no password anywhere in it.
    assert!(audited(&c, "issued", &new_login.user), "{:#?}", audit_entries(&c));
    assert!(audited(&c, "retired", &old_login.user), "{:#?}", audit_entries(&c));
    let trail = c.ok(&["audit", "--format", "json"]).stdout;
    assert!(!trail.contains(&new_login.password) && !trail.contains(&old_login.password));

    // The next rotation now goes through, and the seeds' way still works afterwards.
    let again = c.action_results(&format!("{PG}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
    assert!(again.to_string().contains(&format!("{}_r2", old_login.user)), "{again:#}");
    let third = PgLogin::from_credentials(&wait_new_credentials(&c, &new_login.user));
    third.session().execute("INSERT INTO kept VALUES (3)");
    new_login.session();
    c.ok(&["remove-relation", DI, PG]);
    c.ok(&["integrate", DI, PG]);
    third.wait_bad_credentials();
    new_login.wait_bad_credentials();
    old_login.wait_bad_credentials();
    let fresh = PgLogin::from_credentials(&wait_new_credentials(&c, &third.user));
    assert!(is_relation_user(&fresh.user), "{fresh:?}");
    assert_eq!(fresh.session().row("SELECT count(*) FROM kept")[0], (report.queries + 2).to_string());
}

#[test]
fn postgresql_rotates_on_its_own_schedule() {
    let c = integrated("sched_db");
    let old = PgLogin::from_credentials(&c.postgresql_credentials(&format!("{DI}/leader")));
    c.ok(&["config", PG, "credential-rotation-interval=15s", "credential-grace-period=5s"]);
    let new = PgLogin::from_credentials(&wait_new_credentials(&c, &old.user));
    new.session();
    old.wait_bad_credentials();
    let next = PgLogin::from_credentials(&wait_new_credentials(&c, &new.user));
    assert_eq!(next.user, format!("{}_r2", old.user));
    next.session();
    // Bad values are refused at `config`, before anything changes.
    c.tether(&["config", PG, "credential-rotation-interval=soon"]).assert_one_line_error("credential-rotation-interval");
    c.tether(&["config", PG, "credential-grace-period=later"]).assert_one_line_error("credential-grace-period");
}

#[test]
fn a_controller_killed_mid_rotation_leaves_valid_credentials() {
    let c = integrated("crash_db");
    c.ok(&["config", PG, "credential-grace-period=30s"]);
    let old = PgLogin::from_credentials(&c.postgresql_credentials(&format!("{DI}/leader")));
    let rotate = |c: &Controller| c.tether(&["run", &format!("{PG}/leader"), "rotate-credentials", &format!("application={DI}")]);

    // Killed after the server has the new login, before anything is recorded. Whether
    // the action runs again once a controller is back or not, the old credentials and
    // whatever the requirer is shown both work.
    c.crash_at("hook.rotate-credentials.after-effects", rotate);
    old.session();
    // The restarted controller may run the interrupted action again: let it finish.
    c.wait_settled(Duration::from_secs(3), |_| true);
    let published = PgLogin::from_credentials(&c.postgresql_credentials(&format!("{DI}/leader")));
    published.session();
    let new = if published.user == old.user {
        c.action_results(&format!("{PG}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
        PgLogin::from_credentials(&wait_new_credentials(&c, &old.user))
    } else {
        published
    };
    assert_eq!(new.user, format!("{}_r1", old.user));
    old.session();
    new.session();

    // Killed while retiring the old login (its login already disabled, nothing recorded):
    // the new one works, and the retirement completes once a controller runs again.
    c.crash_at("hook.update-status.after-effects", |c| {
        wait_until(
            "the grace period to end",
            SETTLE_TIMEOUT,
            || if old.connect().is_err() { Ok(()) } else { Err("old still valid".into()) },
        );
        c.tether(&["status"])
    });
    new.session();
    old.wait_bad_credentials();
    // The record is consistent: the next rotation is not refused for a grace period.
    wait_until("a rotation to be accepted again", SETTLE_TIMEOUT, || {
        let (_, task) = c.run_action(&format!("{PG}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
        if task["status"] == "completed" {
            Ok(())
        } else {
            Err(format!("{task:#}"))
        }
    });
    PgLogin::from_credentials(&wait_new_credentials(&c, &new.user)).session();
    new.session();
    assert!(audited(&c, "retired", &old.user), "{:#?}", audit_entries(&c));
}

const MY: &str = "mysql-k8s";

/// The `mysql` credentials the requirer shows, once they name a user other than `old`.
fn wait_new_mysql_credentials(c: &Controller, old: &str) -> Value {
    c.wait_credentials_for(&format!("{DI}/leader"), "mysql", "the rotated credentials on the requirer side", |m| {
        m["username"].as_str().is_some_and(|u| u != old)
    })
}

#[test]
fn mariadb_rotation_fails_no_query_until_the_grace_period_ends() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=10m"]);
    c.ok(&["deploy", MY, "--config", &format!("credential-grace-period={GRACE_SECS}s")]);
    c.ok(&["deploy", DI, "--config", "database-name=rot_my"]);
    c.ok(&["integrate", DI, MY]);
    c.wait_active(&[MY, DI]);
    let old_login = MyLogin::from_credentials(&c.credentials_for(&format!("{DI}/leader"), "mysql"));
    old_login.session().execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (0)");

    let creds = Arc::new(Mutex::new(old_login.clone()));
    let traffic = Traffic::start(
        creds.clone(),
        |login: &MyLogin| {
            let mut s = login.connect().map_err(|e| format!("{login:?}: {e:?}"))?;
            s.try_query("INSERT INTO kept VALUES (1)").map(|_| ()).map_err(|e| format!("{e:?}"))
        },
        |login: &MyLogin| login.connect().map_err(|e| format!("{e:?}")),
        |s: &mut MySession| s.try_row("SELECT count(*) FROM kept").map(|_| ()),
    );

    let rotated = c.action_results(&format!("{MY}/leader"), "rotate-credentials", &[&format!("application={DI}")]);
    let entry = rotated["rotated"].as_object().and_then(|m| m.values().next().cloned()).unwrap_or_else(|| panic!("{rotated:#}"));
    let until = epoch_of(entry["previous-valid-until"].as_str().unwrap_or_else(|| panic!("{entry:#}")));
    let new_login = MyLogin::from_credentials(&wait_new_mysql_credentials(&c, &old_login.user));
    assert_eq!(entry["username"], new_login.user.as_str());
    let id = old_login.user.split('_').next().unwrap_or_default();
    assert!(new_login.user.starts_with(&format!("{id}r1_")), "the rotated login names its relation and generation: {new_login:?}");
    *creds.lock().unwrap() = new_login.clone();

    // Both work during the grace period, with the same grants on the same data.
    assert!(epoch_now() < until, "the grace period must still run here");
    old_login.session();
    let mut s = new_login.session();
    s.execute("CREATE TABLE made_by_new (n int); INSERT INTO kept VALUES (2)");
    drop(s);

    old_login.wait_denied();
    let refused_at = epoch_now();
    std::thread::sleep(Duration::from_secs(1));
    let report = traffic.stop();
    report.assert_rotation(until, refused_at, true);
    let mut s = new_login.session();
    assert_eq!(s.row("SELECT count(*) FROM kept")[0].parse::<u64>().unwrap(), report.queries + 2);
    s.execute("DROP TABLE made_by_new");
    assert!(audited(&c, "issued", &new_login.user) && audited(&c, "retired", &old_login.user), "{:#?}", audit_entries(&c));

    // The schedule rotates on its own.
    c.ok(&["config", MY, "credential-rotation-interval=10s", "credential-grace-period=3s"]);
    let scheduled = MyLogin::from_credentials(&wait_new_mysql_credentials(&c, &new_login.user));
    scheduled.session();
    new_login.wait_denied();
    scheduled.session();
}
