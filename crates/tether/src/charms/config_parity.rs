//! Parity of the three server charms' options with Canonical's published `config.yaml`:
//! every option it lists exists here with the same type and default, and a charm lists no
//! option it does not, besides the few tether adds (named here, each with its reason). The
//! published facts are kept in `tests/data/` with their source, so a missing, renamed or
//! retyped option fails CI.

use serde_json::Value;
use tether_core::charm_meta::CharmMeta;

/// (name, type, default as the data file writes it; `-` for none).
fn published(file: &str) -> Vec<(String, String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "bad line in {file}: {l:?}");
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

fn shown_default(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_f64() => format!("{:?}", n.as_f64().unwrap_or_default()),
        Some(other) => other.to_string(),
    }
}

fn assert_parity(file: &str, meta: &CharmMeta, ours_only: &[&str]) {
    let theirs = published(file);
    let mut problems = Vec::new();
    for (name, kind, default) in &theirs {
        match meta.config.iter().find(|o| &o.name == name) {
            None => problems.push(format!("missing option {name}")),
            Some(o) => {
                if o.kind.as_str() != kind {
                    problems.push(format!("{name}: type {} != published {kind}", o.kind.as_str()));
                }
                if &shown_default(&o.default) != default {
                    problems.push(format!("{name}: default {} != published {default}", shown_default(&o.default)));
                }
            }
        }
    }
    for o in &meta.config {
        if !theirs.iter().any(|(n, _, _)| n == &o.name) && !ours_only.contains(&o.name.as_str()) {
            problems.push(format!("option {} is not in the published config.yaml", o.name));
        }
    }
    assert!(problems.is_empty(), "{file}:\n{}", problems.join("\n"));
}

/// Adopt mode (issue 14): a server tether did not start.
const ADOPT: [&str; 2] = ["external-endpoint", "admin-secret"];
/// Credential rotation without downtime (issue 16).
const ROTATION: [&str; 2] = [super::rotation::INTERVAL, super::rotation::GRACE];
/// Adopt mode over TLS (PostgreSQL and MySQL).
const ADOPT_TLS: [&str; 1] = [super::adopt::TLS_CA];

#[test]
fn postgresql_k8s_options_match_the_published_config() {
    assert_parity("postgresql-k8s-config.tsv", &super::postgresql::meta(), &[&ADOPT[..], &ROTATION, &ADOPT_TLS].concat());
}

#[test]
fn mysql_k8s_options_match_the_published_config() {
    assert_parity("mysql-k8s-config.tsv", &super::mysql::meta(), &[&ADOPT[..], &ROTATION, &ADOPT_TLS].concat());
}

#[test]
fn mongodb_options_match_the_published_config() {
    // `engine`: mongod or FerretDB, the stand-in this project's machines run.
    assert_parity("mongodb-config.tsv", &super::mongodb::meta(), &[&["engine"][..], &ADOPT, &ROTATION].concat());
}
