//! Bundles against a real controller and a real PostgreSQL: `deploy ./bundle.yaml` brings
//! the seeds' model up (and the credentials work), deploying it again changes nothing and
//! says so, `--overlay` and `diff-bundle` show and apply a change, `export-bundle` writes
//! a bundle that plans to nothing, `trust` is recorded, and a bad bundle is one `ERROR`
//! line with nothing deployed.

mod common;

use common::*;

const BUNDLE: &str = "applications:
  postgresql-k8s:
    charm: postgresql-k8s
    scale: 1
  data-integrator:
    charm: data-integrator
    scale: 1
    options:
      database-name: bundledb
relations:
- [data-integrator, postgresql-k8s:database]
";

const OVERLAY: &str = "applications:
  data-integrator:
    options:
      extra-user-roles: admin
";

#[test]
fn a_bundle_deploys_the_seed_model_once_and_overlays_and_exports_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle.yaml");
    let overlay = dir.path().join("overlay.yaml");
    std::fs::write(&bundle, BUNDLE).unwrap();
    std::fs::write(&overlay, OVERLAY).unwrap();
    let bundle = bundle.display().to_string();
    let overlay = overlay.display().to_string();
    let c = Controller::bootstrap();

    // A dry run says what it would do and does nothing.
    let dry = c.ok(&["deploy", &bundle, "--dry-run"]);
    assert!(dry.stderr.contains("- deploy application postgresql-k8s from postgresql-k8s with 1 unit(s)"), "{dry}");
    assert!(app_names(&c.status()).is_empty(), "a dry run deployed something");

    let out = c.ok(&["deploy", &bundle]);
    assert!(out.stderr.contains("- integrate data-integrator and postgresql-k8s:database"), "{out}");
    assert!(out.stderr.contains("Deploy of bundle completed."), "{out}");
    c.wait_active(&["postgresql-k8s", "data-integrator"]);
    let creds = c.postgresql_credentials("data-integrator/leader");
    let login = PgLogin::from_credentials(&creds);
    assert_eq!(login.dbname, "bundledb");
    login.session().execute("CREATE TABLE t (v int)");

    // Applying it again changes nothing, and says so.
    let again = c.ok(&["deploy", &bundle]);
    assert!(again.stderr.contains("No changes to apply."), "{again}");
    assert_eq!(c.ok(&["diff-bundle", &bundle]).stdout, "");

    // An overlay's change is shown, then applied.
    let diff = c.ok(&["diff-bundle", &bundle, "--overlay", &overlay]);
    assert_eq!(diff.stdout, "- set config of data-integrator: extra-user-roles\n");
    c.ok(&["deploy", &bundle, "--overlay", &overlay]);
    let cfg = c.ok(&["config", "data-integrator", "extra-user-roles"]);
    assert_eq!(cfg.stdout.trim(), "admin");
    assert_eq!(c.ok(&["diff-bundle", &bundle, "--overlay", &overlay]).stdout, "");

    // trust is recorded (and shown by config).
    c.ok(&["trust", "data-integrator"]);
    let cfg = c.ok(&["config", "data-integrator", "--format", "json"]).json();
    assert_eq!(cfg["application-config"]["trust"]["value"], serde_json::json!(true), "{cfg}");
    c.ok(&["trust", "data-integrator", "--remove"]);
    let cfg = c.ok(&["config", "data-integrator", "--format", "json"]).json();
    assert_eq!(cfg["application-config"]["trust"]["value"], serde_json::json!(false), "{cfg}");
    c.ok(&["trust", "data-integrator"]);

    // The exported model deploys onto itself as no change.
    let exported = dir.path().join("exported.yaml");
    c.ok(&["export-bundle", "--filename", &exported.display().to_string()]);
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.contains("database-name: bundledb") && text.contains("trust: true"), "{text}");
    assert_eq!(c.ok(&["diff-bundle", &exported.display().to_string()]).stdout, "", "{text}");
}

#[test]
fn a_bad_bundle_is_one_error_line_and_deploys_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Controller::bootstrap();
    for (name, text, needle) in [
        ("empty.yaml", "applications: {}\n", "bundle has no applications"),
        ("nocharm.yaml", "applications:\n  a: {}\n", "application \"a\" in bundle has no charm"),
        ("ghost.yaml", "applications:\n  a:\n    charm: data-integrator\nrelations:\n- [a, ghost]\n", "names application \"ghost\""),
        ("broken.yaml", "applications: [\n", "cannot parse bundle"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        c.tether(&["deploy", &path.display().to_string()]).assert_one_line_error(needle);
    }
    let path = dir.path().join("flags.yaml");
    std::fs::write(&path, BUNDLE).unwrap();
    c.tether(&["deploy", &path.display().to_string(), "-n", "3"]).assert_one_line_error("go in the bundle").assert_code(2);
    c.tether(&["deploy", "postgresql-k8s", "--overlay", "x.yaml"]).assert_one_line_error("--overlay is not supported").assert_code(2);
    assert!(app_names(&c.status()).is_empty(), "a refused bundle deployed something");
}
