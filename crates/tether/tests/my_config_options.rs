//! mysql-k8s's config options on a real MariaDB: the production profile sizes the buffer
//! pool and connections from the machine, `testing` shrinks them (a restart: the
//! integration's credentials and data are kept; `experimental-max-connections` resizes the
//! pool too), the audit options are set live (same server process), and values outside the charm's rules
//! are refused with its messages before anything is stored.

mod common;

use common::*;

const MY: &str = "mysql-k8s";

fn variable(root: &MyLogin, name: &str) -> String {
    root.session().row(&format!("SELECT @@GLOBAL.{name}"))[0].clone()
}

fn server_pid(c: &Controller) -> i32 {
    let pids = c.server_pid_files();
    assert_eq!(pids.len(), 1, "one server: {pids:?}");
    pids[0].0
}

fn wait_variable(root: &MyLogin, name: &str, want: &str) {
    wait_until(&format!("{name} = {want}"), SETTLE_TIMEOUT, || {
        match root.connect().map_err(|e| format!("{e:?}")).and_then(|mut s| s.try_row(&format!("SELECT @@GLOBAL.{name}"))) {
            Ok(v) if v[0] == want => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

#[test]
fn config_options_become_the_servers_settings() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", MY]);
    c.ok(&["deploy", "data-integrator", "--config", "database-name=cfg_db"]);
    c.ok(&["integrate", "data-integrator", MY]);
    c.wait_active(&[MY, "data-integrator"]);
    let app = MyLogin::from_credentials(&c.credentials_for("data-integrator/leader", "mysql"));
    let root_password = c.action_results(&format!("{MY}/leader"), "get-password", &[])["password"].as_str().unwrap_or_default().to_string();
    let root = app.as_user("root", &root_password).with_db(None);

    // Production: three quarters of the machine's memory for the buffer pool (at least
    // a gigabyte on any machine that runs these tests), the audit plugin logging logins.
    let pool: u64 = variable(&root, "innodb_buffer_pool_size").parse().unwrap_or_default();
    assert!(pool >= 1 << 30, "production buffer pool: {pool}");
    assert_eq!(variable(&root, "binlog_expire_logs_seconds"), "604800");
    assert_eq!(variable(&root, "server_audit_logging"), "1");
    assert_eq!(variable(&root, "server_audit_events"), "CONNECT");

    // Live settings: the same server process.
    let pid = server_pid(&c);
    c.ok(&["config", MY, "logs_audit_policy=queries", "binlog_retention_days=2"]);
    wait_variable(&root, "server_audit_events", "QUERY");
    assert_eq!(variable(&root, "binlog_expire_logs_seconds"), "172800");
    assert_eq!(server_pid(&c), pid, "live settings must not restart the server");

    // The testing profile: a small buffer pool, by a restart; the integration is kept.
    app.session().execute("CREATE TABLE IF NOT EXISTS kept (n INT)");
    c.ok(&["config", MY, "profile=testing", "plugin-audit-enabled=false", "experimental-max-connections=57"]);
    wait_variable(&root, "innodb_buffer_pool_size", &(20 << 20).to_string());
    assert_ne!(server_pid(&c), pid, "the buffer pool's size needs a restart");
    assert_eq!(variable(&root, "server_audit_logging"), "0");
    assert_eq!(variable(&root, "max_connections"), "57");
    c.wait_active(&[MY]);
    assert_eq!(app.session().row("SELECT COUNT(*) FROM kept")[0], "0");

    // Outside the charm's rules: refused, nothing stored.
    c.tether(&["config", MY, "profile=staging"]).assert_one_line_error("Value not one of 'testing' or 'production'");
    c.tether(&["config", MY, "experimental-max-connections=5"])
        .assert_one_line_error("experimental-max-connections must be greater than 10");
    c.tether(&["config", MY, "cluster-name=1st"]).assert_one_line_error("cluster, cluster-set name must start with a letter");
    c.tether(&["config", MY, "profile-limit-memory=100"]).assert_one_line_error("MySQL Charm requires at least 600MB for bootstrapping");
    assert_eq!(c.ok(&["config", MY, "profile"]).stdout.trim(), "testing");
}

/// A file written `days_ago` days ago (its modification time set with `touch -d`).
fn aged_file(path: &std::path::Path, days_ago: u64) {
    std::fs::write(path, "rotated\n").expect("write");
    let out = std::process::Command::new("touch").arg("-d").arg(format!("{days_ago} days ago")).arg(path).output().expect("touch");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn rotated_server_logs_past_the_retention_period_are_removed() {
    let c = Controller::bootstrap();
    c.ok(&["model-config", "update-status-hook-interval=1s"]);
    c.ok(&["deploy", MY, "--config", "logs_retention_period=5"]);
    c.wait_active(&[MY]);
    let dir = c.unit_dir(&format!("{MY}/0"));
    let (old_error, kept_error) = (dir.join("mariadb.log-20200101"), dir.join("mariadb.log-20200102"));
    let (old_audit, kept_audit) = (dir.join("mysqldata/server_audit.log.7"), dir.join("mysqldata/server_audit.log.1"));
    let unrelated = dir.join("mariadb.log-notes");
    aged_file(&old_error, 6);
    aged_file(&old_audit, 6);
    aged_file(&kept_error, 4);
    aged_file(&kept_audit, 4);
    aged_file(&unrelated, 30);
    wait_until("the rotated logs past 5 days to go", SETTLE_TIMEOUT, || {
        if old_error.exists() || old_audit.exists() {
            Err("still there".to_string())
        } else {
            Ok(())
        }
    });
    assert!(kept_error.exists() && kept_audit.exists(), "rotated logs within the period stay");
    assert!(unrelated.exists() && dir.join("mariadb.log").exists(), "only rotated logs are ever removed");
    // A shorter period takes the rest.
    c.ok(&["config", MY, "logs_retention_period=3"]);
    wait_until("the rotated logs past 3 days to go", SETTLE_TIMEOUT, || {
        if kept_error.exists() || kept_audit.exists() {
            Err("still there".to_string())
        } else {
            Ok(())
        }
    });
}
