//! Parity with Canonical's published `config.yaml`: every option it lists exists in
//! tether with the same type and default, and tether lists no option it does not. The
//! published facts are kept in `tests/data/` (with their source and date), so a missing,
//! renamed or retyped option fails CI.

use serde_json::Value;
use tether_core::charm_meta::ConfigOption;

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

fn assert_parity(file: &str, ours: &[ConfigOption]) {
    let theirs = published(file);
    let mut problems = Vec::new();
    for (name, kind, default) in &theirs {
        match ours.iter().find(|o| &o.name == name) {
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
    for o in ours {
        if !theirs.iter().any(|(n, _, _)| n == &o.name) {
            problems.push(format!("option {} is not in the published config.yaml", o.name));
        }
    }
    assert!(problems.is_empty(), "{file}:\n{}", problems.join("\n"));
}

#[test]
fn postgresql_k8s_options_match_the_published_config() {
    assert_parity("postgresql-k8s-config.tsv", &tether_core::pg_config::options());
}
