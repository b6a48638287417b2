//! Local charms end to end: `tether deploy ./dir` and `/abs/file.charm` for charms with only
//! metadata (passive applications), `tether info` and `tether charms` (what integrates with
//! what), and bad input that must be refused with one clear line and leave nothing behind.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PG: &str = "postgresql-k8s";

const METADATA: &str =
    "name: shop\nsummary: A passive test charm\nrequires:\n  db:\n    interface: mysql\nprovides:\n  website:\n    interface: http\n";
const CONFIG: &str = "options:\n  greeting:\n    type: string\n    default: hello\n    description: what to say\n  count:\n    type: int\n    default: 3\n    description: how often\n";
const ACTIONS: &str = "do-thing:\n  description: does a thing\n  params:\n    level:\n      type: integer\n      description: how hard\n";

fn write_charm_dir(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    fs::create_dir_all(dir).expect("create charm dir");
    for (name, body) in files {
        fs::write(dir.join(name), body).expect("write charm file");
    }
    dir.to_path_buf()
}

/// Packs `files` into a `.charm` (zip) archive at `path`.
fn write_charm_zip(path: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).expect("create .charm"));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in files {
        zip.start_file(*name, options).expect("zip entry");
        zip.write_all(body).expect("zip write");
    }
    zip.finish().expect("finish zip");
    path.to_path_buf()
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `tether ARGS...` against `c` with the working directory `cwd` (for relative charm
/// paths, as a user types them); returns (exit code, stdout, stderr).
fn tether_in(c: &Controller, cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(TETHER)
        .args(args)
        .current_dir(cwd)
        .env("TETHER_HOME", c.home())
        .env_remove("JUJU_MODEL")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {TETHER}: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The parts of the model a refused command must not change: applications with their
/// units, and every relation.
fn model_shape(status: &Value) -> Value {
    let apps = status["applications"].as_object().cloned().unwrap_or_default();
    let shape: serde_json::Map<String, Value> = apps
        .into_iter()
        .map(|(name, a)| {
            let units = unit_names(status, &name);
            (name, json!({ "charm": a["charm-name"], "units": units, "relations": a["relations"] }))
        })
        .collect();
    Value::Object(shape)
}

/// Every path under `dir` whose name contains `needle` (bounded depth).
fn find_named(dir: &Path, needle: &str, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(needle) {
            out.push(path.clone());
        }
        if depth > 0 && entry.file_type().is_ok_and(|t| t.is_dir()) {
            find_named(&path, needle, depth - 1, out);
        }
    }
}

#[test]
fn local_directory_and_packed_charm_deploy_as_passive_apps_and_show_in_info() {
    let work = tempfile::tempdir().expect("tempdir");
    let files: [(&str, &[u8]); 3] =
        [("metadata.yaml", METADATA.as_bytes()), ("config.yaml", CONFIG.as_bytes()), ("actions.yaml", ACTIONS.as_bytes())];
    let dir = write_charm_dir(&work.path().join("shop"), &files);
    let packed = write_charm_zip(&work.path().join("shop.charm"), &files);
    let crafted = write_charm_dir(
        &work.path().join("crafted"),
        &[("charmcraft.yaml", b"name: crafted\ntype: charm\nrequires:\n  db:\n    interface: pgsql\n")],
    );

    let c = Controller::bootstrap();
    // A relative path, as typed in the charm's parent directory; then absolute paths to a
    // packed .charm and to a charm that has only charmcraft.yaml.
    let (code, stdout, stderr) = tether_in(&c, work.path(), &["deploy", "./shop"]);
    assert_eq!(code, 0, "deploy ./shop:\n{stdout}\n{stderr}");
    assert!(stderr.contains("local charm \"shop\""), "{stderr}");
    c.ok(&["deploy", arg(&packed), "packed-shop"]);
    c.ok(&["deploy", arg(&crafted)]);
    c.ok(&["deploy", arg(&dir), "shop-two", "-n", "2"]);
    // Charms with only metadata are passive applications: active from the start.
    let status = c.wait_active(&["shop", "packed-shop", "crafted", "shop-two"]);
    assert_eq!(status["applications"]["packed-shop"]["charm-name"], "shop", "{status:#}");
    assert_eq!(status["applications"]["packed-shop"]["charm-origin"], "local", "{status:#}");
    assert_eq!(unit_names(&status, "shop-two"), ["shop-two/0", "shop-two/1"], "{status:#}");
    let unit = c.show_unit("packed-shop/0");
    assert!(unit["charm"].as_str().is_some_and(|ch| ch.contains("shop")), "{unit:#}");
    assert!(unit["relation-info"].as_array().is_none_or(|r| r.is_empty()), "no relations yet: {unit:#}");

    // config.yaml: shown with its defaults, typed and validated.
    let config = c.ok(&["config", "packed-shop", "--format", "json"]).json();
    assert_eq!(config["settings"]["greeting"]["value"], "hello", "{config:#}");
    assert_eq!(config["settings"]["count"]["value"], 3, "{config:#}");
    assert_eq!(config["settings"]["count"]["type"], "int", "{config:#}");
    c.ok(&["config", "packed-shop", "count=5", "greeting=hi"]);
    assert_eq!(c.ok(&["config", "packed-shop", "count"]).stdout.trim(), "5");
    c.tether(&["config", "packed-shop", "count=abc"]).assert_one_line_error("count");
    c.tether(&["config", "packed-shop", "no-such-option=1"]).assert_one_line_error("no-such-option");
    c.tether(&["deploy", arg(&dir), "shop-bad", "--config", "count=many"]).assert_one_line_error("count");

    // actions.yaml: an unknown action is refused; a declared one has no code to run.
    c.tether(&["run", "shop/0", "no-such-action"]).assert_one_line_error("no-such-action");
    let (out, task) = c.run_action("shop/0", "do-thing", &["level=2"]);
    assert!(out.code != 0 || task["status"] == "failed", "a passive charm runs no action code:\n{out}");

    // info: the same for the directory (relative path too) and the packed file.
    let (code, stdout, stderr) = tether_in(&c, work.path(), &["info", "./shop", "--format", "json"]);
    assert_eq!(code, 0, "info ./shop:\n{stdout}\n{stderr}");
    let info: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("info is not JSON ({e}): {stdout}"));
    assert_eq!(info["name"], "shop");
    assert_eq!(info["origin"], "local");
    assert_eq!(info["summary"], "A passive test charm");
    assert_eq!(info["relations"]["requires"]["db"], "mysql", "{info:#}");
    assert_eq!(info["relations"]["provides"]["website"], "http", "{info:#}");
    assert_eq!(info["config"]["options"]["count"]["type"], "int", "{info:#}");
    assert_eq!(info["config"]["options"]["count"]["default"], 3, "{info:#}");
    assert_eq!(info["config"]["options"]["greeting"]["default"], "hello", "{info:#}");
    assert!(info["actions"]["do-thing"]["params"]["level"].is_object(), "{info:#}");
    let packed_info = c.ok(&["info", arg(&packed), "--format", "json"]).json();
    assert_eq!(packed_info, info, "a packed charm shows the same as its directory");
    let yaml = c.ok(&["info", arg(&dir)]).stdout;
    assert!(yaml.contains("name: shop") && yaml.contains("db: mysql"), "{yaml}");

    // info on built-in charms: which endpoints speak which interface.
    let pg = c.ok(&["info", PG, "--format", "json"]).json();
    assert_eq!(pg["origin"], "built-in");
    for (endpoint, interface) in [("database", "postgresql_client"), ("db", "pgsql"), ("db-admin", "pgsql")] {
        assert_eq!(pg["relations"]["provides"][endpoint], interface, "{pg:#}");
    }
    assert!(pg["actions"]["set-password"].is_object() && pg["actions"]["get-password"].is_object(), "{pg:#}");
    let my = c.ok(&["info", "mysql-k8s", "--format", "json"]).json();
    for (endpoint, interface) in [("database", "mysql_client"), ("mysql", "mysql"), ("mysql-root", "mysql")] {
        assert_eq!(my["relations"]["provides"][endpoint], interface, "{my:#}");
    }
    for option in ["mysql-interface-user", "mysql-interface-database", "mysql-root-interface-user", "mysql-root-interface-database"] {
        assert_eq!(my["config"]["options"][option]["type"], "string", "{my:#}");
    }
    assert_eq!(c.ok(&["info", "mysql", "--format", "json"]).json()["name"], "mysql-k8s", "mysql is an alias of mysql-k8s");
    let di = c.ok(&["info", "data-integrator", "--format", "json"]).json();
    assert_eq!(di["relations"]["requires"]["mysql"], "mysql_client", "{di:#}");
    assert_eq!(di["relations"]["requires"]["postgresql"], "postgresql_client", "{di:#}");
    assert!(di["actions"]["get-credentials"].is_object(), "{di:#}");

    // charms: the built-in charms.
    let charms = c.ok(&["charms", "--format", "json"]).json();
    let names: Vec<&str> = charms.as_array().map(|a| a.iter().filter_map(|ch| ch["name"].as_str()).collect()).unwrap_or_default();
    for name in ["data-integrator", "mongodb", "mongos", "mysql-k8s", "postgresql-k8s"] {
        assert!(names.contains(&name), "charms lists {name}: {charms:#}");
    }
    assert!(charms.as_array().is_some_and(|a| a.iter().all(|ch| ch["origin"] == "built-in")), "{charms:#}");
    let table = c.ok(&["charms"]).stdout;
    assert!(table.contains("postgresql-k8s") && table.contains("mysql-k8s"), "{table}");

    // A passive charm integrates like any other: the requirer side of a legacy endpoint.
    c.ok(&["deploy", "mysql-k8s"]);
    c.ok(&["integrate", "mysql-k8s:mysql", "shop"]);
    let status = c.wait_active(&["mysql-k8s", "shop"]);
    assert_eq!(related_apps(&status, "shop", "db"), ["mysql-k8s"], "{status:#}");
    let user = c.wait_show_unit("shop/0", "the mysql credentials", |u| {
        relation_info(u, "db", "mysql")?["related-units"]["mysql-k8s/0"]["data"]["user"].as_str().map(String::from)
    });
    assert!(user.starts_with("relation-"), "{user}");
}

#[test]
fn bad_local_charms_are_refused_with_one_error_and_nothing_is_half_created() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let pg_app = write_charm_dir(&w.join("pg-app"), &[("metadata.yaml", b"name: pg-app\nrequires:\n  db:\n    interface: pgsql\n")]);
    let mongo_app =
        write_charm_dir(&w.join("mongo-app"), &[("metadata.yaml", b"name: mongo-app\nrequires:\n  db:\n    interface: mongodb\n")]);

    let c = Controller::bootstrap();
    c.ok(&["deploy", PG]);
    c.ok(&["deploy", arg(&pg_app)]);
    c.ok(&["deploy", arg(&mongo_app)]);
    c.ok(&["integrate", "postgresql-k8s:db", "pg-app"]);
    let before = model_shape(&c.wait_active(&[PG, "pg-app", "mongo-app"]));

    // Paths that do not exist, absolute and relative.
    c.tether(&["deploy", arg(&w.join("no-such-charm"))]).assert_one_line_error("not found");
    let (code, _, stderr) = tether_in(&c, w, &["deploy", "./no-such-charm"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.trim().starts_with("ERROR ") && stderr.trim().lines().count() == 1 && stderr.contains("no-such-charm"), "{stderr}");
    c.tether(&["info", arg(&w.join("no-such-charm"))]).assert_one_line_error("no-such-charm");
    c.tether(&["deploy", "./definitely-not-here.charm"]).assert_one_line_error("definitely-not-here");

    // Metadata that does not parse, or says something impossible.
    let bad_metadata: [(&str, &[u8], &str); 6] = [
        ("unclosed", b"name: [unclosed\n", "metadata"),
        ("requires-list", b"name: reqlist\nrequires: [1, 2]\n", "metadata"),
        ("nameless", b"summary: no name\n", "name"),
        ("bad-name", b"name: Bad_Name!\n", "Bad_Name!"),
        ("no-interface", b"name: noif\nrequires:\n  db: {}\n", "interface"),
        ("not-yaml", b"\t- : : :\n\x01", "metadata"),
    ];
    for (dir, body, needle) in bad_metadata {
        let path = write_charm_dir(&w.join(dir), &[("metadata.yaml", body)]);
        c.tether(&["deploy", arg(&path)]).assert_one_line_error(needle);
        c.tether(&["info", arg(&path)]).assert_one_line_error(needle);
        // The same, packed.
        let packed = write_charm_zip(&w.join(format!("{dir}.charm")), &[("metadata.yaml", body)]);
        c.tether(&["deploy", arg(&packed)]).assert_one_line_error(needle);
    }
    // Broken config.yaml / actions.yaml next to good metadata.
    let bad_config = write_charm_dir(
        &w.join("bad-config"),
        &[("metadata.yaml", b"name: bad-config\n"), ("config.yaml", b"options:\n  x:\n    type: nonsense\n")],
    );
    c.tether(&["deploy", arg(&bad_config)]).assert_one_line_error("config.yaml");
    let bad_actions =
        write_charm_dir(&w.join("bad-actions"), &[("metadata.yaml", b"name: bad-actions\n"), ("actions.yaml", b"do-thing: [unclosed\n")]);
    c.tether(&["deploy", arg(&bad_actions)]).assert_one_line_error("actions.yaml");
    // No metadata at all; a .charm that is not a zip; a zip without metadata.
    let empty = write_charm_dir(&w.join("empty"), &[("README.md", b"nothing here\n")]);
    c.tether(&["deploy", arg(&empty)]).assert_one_line_error("metadata.yaml");
    let no_meta = write_charm_zip(&w.join("no-meta.charm"), &[("README.md", b"nothing here\n")]);
    c.tether(&["deploy", arg(&no_meta)]).assert_one_line_error("metadata.yaml");
    // A good charm under a name that is taken or not valid.
    c.tether(&["deploy", arg(&pg_app)]).assert_one_line_error("already exists");
    c.tether(&["deploy", arg(&pg_app), "Bad/Name"]).assert_one_line_error("not valid");

    // Endpoints whose interfaces do not match, named or inferred.
    c.tether(&["integrate", "postgresql-k8s:db", "mongo-app:db"]).assert_one_line_error("no relations found");
    c.tether(&["integrate", PG, "mongo-app"]).assert_one_line_error("no relations found");
    c.tether(&["integrate", "mongo-app:db", "postgresql-k8s:database"]).assert_one_line_error("no relations found");
    c.tether(&["integrate", "pg-app", "mongo-app"]).assert_one_line_error("no relations found");
    c.tether(&["integrate", "postgresql-k8s:db", "pg-app:nope"]).assert_one_line_error("nope");

    // Nothing half-created: the same applications, units and relations; no staged charm left.
    let after = model_shape(&c.wait_active(&[PG, "pg-app", "mongo-app"]));
    assert_eq!(after, before, "the refusals changed the model");
    let mut staged = Vec::new();
    find_named(c.home(), "staging", 4, &mut staged);
    assert!(staged.is_empty(), "refused deploys left staged charms behind: {staged:?}");
    // A .charm that is not a zip archive is refused too.
    let garbage = w.join("garbage.charm");
    fs::write(&garbage, b"this is not a zip archive").expect("write garbage");
    c.tether(&["deploy", arg(&garbage)]).assert_one_line_error("garbage.charm");
    c.tether(&["info", arg(&garbage)]).assert_one_line_error("garbage.charm");
    assert_eq!(model_shape(&c.status()), before, "the refused .charm changed the model");
    // The relation that existed still works.
    let bag = c.wait_show_unit("pg-app/0", "pg-app's credentials", |u| {
        relation_info(u, "db", "db").map(|r| r["application-data"].clone()).filter(|d| d["master"].is_string())
    });
    assert_eq!(bag["database"], "pg-app", "{bag:#}");
}

#[test]
fn a_refused_packed_charm_leaves_no_staged_files() {
    let work = tempfile::tempdir().expect("tempdir");
    let garbage = work.path().join("garbage.charm");
    fs::write(&garbage, b"this is not a zip archive").expect("write garbage");
    let c = Controller::bootstrap();
    c.tether(&["deploy", arg(&garbage)]).assert_one_line_error("garbage.charm");
    let mut staged = Vec::new();
    find_named(c.home(), "staging", 4, &mut staged);
    assert!(staged.is_empty(), "the refused deploy left staged files behind: {staged:?}");
}
