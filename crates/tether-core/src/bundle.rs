//! Juju bundles, read and planned without I/O: a `bundle.yaml` (applications with a
//! charm, `num_units` or `scale`, `options`, `trust`, `resources`; `relations` as pairs
//! of `app[:endpoint]`), overlays merged onto it, the changes that would bring a model to
//! it ([`plan`]: deploy, add units, set config, trust, integrate — never remove, as Juju
//! does), and a model written back as a bundle ([`export`]) so that exporting and
//! deploying again changes nothing.
//!
//! A local charm path in a bundle (`./charms/foo`) is relative to the bundle file;
//! [`Bundle::resolve_local_charms`] makes it absolute from the directory the caller gives.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a bundle cannot be used. Messages name the application or relation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("cannot parse bundle: {0}")]
    Parse(String),
    #[error("bundle has no applications")]
    Empty,
    #[error("application {0:?} in bundle has no charm")]
    NoCharm(String),
    #[error("relation {0:?} in bundle must be a pair of application endpoints")]
    BadRelation(String),
    #[error("relation {relation:?} in bundle names application {app:?}, which the bundle and the model lack")]
    UnknownApplication { relation: String, app: String },
    #[error("application {app:?} exists with charm {have:?}; the bundle wants {want:?} (use refresh to change a charm)")]
    CharmMismatch { app: String, have: String, want: String },
}

/// One application of a bundle.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BundleApp {
    #[serde(default)]
    pub charm: String,
    /// `num_units` (machine bundles) or `scale` (Kubernetes bundles); at least one unit
    /// for a principal charm when neither is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_units: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trust: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, String>,
}

impl BundleApp {
    /// The units the bundle asks for.
    pub fn units(&self) -> u32 {
        self.scale.or(self.num_units).unwrap_or(1)
    }
}

/// A bundle, after overlays.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Bundle {
    pub applications: BTreeMap<String, BundleApp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<[String; 2]>,
}

/// A bundle document as written: `applications` (or the older `services`), relations as
/// lists of endpoint strings. An overlay may set an application to null to remove it.
#[derive(Debug, Deserialize)]
struct RawBundle {
    #[serde(default)]
    applications: Option<BTreeMap<String, Option<BundleApp>>>,
    #[serde(default)]
    services: Option<BTreeMap<String, Option<BundleApp>>>,
    #[serde(default)]
    relations: Vec<Vec<String>>,
}

fn parse_raw(text: &str) -> Result<RawBundle, BundleError> {
    serde_norway::from_str(text).map_err(|e| BundleError::Parse(e.to_string().lines().next().unwrap_or_default().to_string()))
}

fn pairs(raw: Vec<Vec<String>>) -> Result<Vec<[String; 2]>, BundleError> {
    raw.into_iter()
        .map(|r| match <[String; 2]>::try_from(r) {
            Ok(pair) if pair.iter().all(|e| !e.is_empty()) => Ok(pair),
            Ok(pair) => Err(BundleError::BadRelation(pair.join(" "))),
            Err(other) => Err(BundleError::BadRelation(other.join(" "))),
        })
        .collect()
}

impl Bundle {
    /// Parses a bundle document and merges the overlays onto it, in order: an overlay's
    /// application replaces the fields it gives (options are merged key by key), a null
    /// application is removed with its relations, and its relations are added.
    pub fn parse(text: &str, overlays: &[&str]) -> Result<Bundle, BundleError> {
        let raw = parse_raw(text)?;
        let apps = raw.applications.or(raw.services).unwrap_or_default();
        let mut bundle = Bundle { applications: BTreeMap::new(), relations: pairs(raw.relations)? };
        for (name, app) in apps {
            bundle.applications.insert(name, app.unwrap_or_default());
        }
        for text in overlays {
            bundle.apply_overlay(parse_raw(text)?)?;
        }
        if bundle.applications.is_empty() {
            return Err(BundleError::Empty);
        }
        if let Some((name, _)) = bundle.applications.iter().find(|(_, a)| a.charm.is_empty()) {
            return Err(BundleError::NoCharm(name.clone()));
        }
        Ok(bundle)
    }

    fn apply_overlay(&mut self, raw: RawBundle) -> Result<(), BundleError> {
        for (name, app) in raw.applications.or(raw.services).unwrap_or_default() {
            match app {
                None => {
                    self.applications.remove(&name);
                    self.relations.retain(|pair| pair.iter().all(|e| app_of(e) != name));
                }
                Some(over) => {
                    let base = self.applications.entry(name).or_default();
                    if !over.charm.is_empty() {
                        base.charm = over.charm;
                    }
                    base.num_units = over.num_units.or(base.num_units);
                    base.scale = over.scale.or(base.scale);
                    base.options.extend(over.options);
                    base.trust |= over.trust;
                    base.resources.extend(over.resources);
                }
            }
        }
        for pair in pairs(raw.relations)? {
            if !self.relations.contains(&pair) {
                self.relations.push(pair);
            }
        }
        Ok(())
    }

    /// Makes every local charm path (`./x`, `../x`, or a relative path with a `/`)
    /// absolute from `bundle_dir`, the directory of the bundle file.
    pub fn resolve_local_charms(&mut self, bundle_dir: &str) {
        for app in self.applications.values_mut() {
            if is_relative_path(&app.charm) {
                app.charm = format!("{}/{}", bundle_dir.trim_end_matches('/'), app.charm.trim_start_matches("./"));
            }
        }
    }

    /// The bundle as YAML (applications sorted by name).
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }
}

fn is_relative_path(charm: &str) -> bool {
    !charm.starts_with('/') && (charm.starts_with('.') || charm.contains('/'))
}

/// The application of `app` or `app:endpoint`.
pub fn app_of(endpoint: &str) -> &str {
    endpoint.split(':').next().unwrap_or_default()
}

/// An application as the model has it now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeployedApp {
    pub charm: String,
    pub units: u32,
    /// The options set explicitly (defaults left out).
    pub options: BTreeMap<String, Value>,
    pub trust: bool,
    pub subordinate: bool,
}

/// What the model has now: its applications, and its relations as the two
/// `app:endpoint` sides of each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelState {
    pub applications: BTreeMap<String, DeployedApp>,
    pub relations: Vec<[String; 2]>,
}

/// One step that brings the model closer to the bundle, in the order they run.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Deploy { app: String, charm: String, units: u32, options: BTreeMap<String, Value>, trust: bool, resources: BTreeMap<String, String> },
    AddUnits { app: String, count: u32 },
    SetConfig { app: String, options: BTreeMap<String, Value> },
    Trust { app: String },
    Integrate { a: String, b: String },
}

impl std::fmt::Display for Change {
    /// One line as `deploy`/`diff-bundle` print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Deploy { app, charm, units, .. } => write!(f, "deploy application {app} from {charm} with {units} unit(s)"),
            Change::AddUnits { app, count } => write!(f, "add {count} unit(s) to {app}"),
            Change::SetConfig { app, options } => {
                write!(f, "set config of {app}: {}", options.keys().cloned().collect::<Vec<_>>().join(", "))
            }
            Change::Trust { app } => write!(f, "trust {app}"),
            Change::Integrate { a, b } => write!(f, "integrate {a} and {b}"),
        }
    }
}

/// Whether the model's relation `have` is the bundle's relation `want`: the same two
/// applications, and the same endpoint on each side the bundle names one for.
fn same_relation(want: &[String; 2], have: &[String; 2]) -> bool {
    let side = |w: &str, h: &str| app_of(w) == app_of(h) && (!w.contains(':') || w == h);
    (side(&want[0], &have[0]) && side(&want[1], &have[1])) || (side(&want[0], &have[1]) && side(&want[1], &have[0]))
}

/// The changes that make `model` match `bundle`: missing applications deployed, units
/// added up to the bundle's count (never removed), options the bundle sets that differ,
/// trust, and missing relations. Applying them and planning again gives nothing.
pub fn plan(bundle: &Bundle, model: &ModelState) -> Result<Vec<Change>, BundleError> {
    let mut deploys = Vec::new();
    let mut updates = Vec::new();
    for (name, want) in &bundle.applications {
        match model.applications.get(name) {
            None => deploys.push(Change::Deploy {
                app: name.clone(),
                charm: want.charm.clone(),
                units: want.units(),
                options: want.options.clone(),
                trust: want.trust,
                resources: want.resources.clone(),
            }),
            Some(have) => {
                if !charm_matches(&want.charm, &have.charm) {
                    return Err(BundleError::CharmMismatch { app: name.clone(), have: have.charm.clone(), want: want.charm.clone() });
                }
                if !have.subordinate && want.units() > have.units {
                    updates.push(Change::AddUnits { app: name.clone(), count: want.units() - have.units });
                }
                let changed: BTreeMap<String, Value> =
                    want.options.iter().filter(|(k, v)| have.options.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
                if !changed.is_empty() {
                    updates.push(Change::SetConfig { app: name.clone(), options: changed });
                }
                if want.trust && !have.trust {
                    updates.push(Change::Trust { app: name.clone() });
                }
            }
        }
    }
    let mut relations = Vec::new();
    for pair in &bundle.relations {
        for side in pair {
            let app = app_of(side);
            if !bundle.applications.contains_key(app) && !model.applications.contains_key(app) {
                return Err(BundleError::UnknownApplication { relation: pair.join(" "), app: app.to_string() });
            }
        }
        if !model.relations.iter().any(|have| same_relation(pair, have)) {
            relations.push(Change::Integrate { a: pair[0].clone(), b: pair[1].clone() });
        }
    }
    Ok(deploys.into_iter().chain(updates).chain(relations).collect())
}

/// A bundle's charm matches a deployed one by name (an alias or a local path names the
/// charm by its last component).
fn charm_matches(want: &str, have: &str) -> bool {
    let name = |c: &str| c.trim_end_matches('/').rsplit('/').next().unwrap_or_default().trim_start_matches("local:").to_string();
    want == have || name(want) == name(have)
}

/// The model as a bundle that, deployed onto the same model, changes nothing: every
/// application with its charm, units (as `scale`), explicitly set options and trust, and
/// every relation with both endpoints named.
pub fn export(model: &ModelState) -> Bundle {
    let applications = model
        .applications
        .iter()
        .map(|(name, a)| {
            let app = BundleApp {
                charm: a.charm.clone(),
                scale: (!a.subordinate).then_some(a.units),
                options: a.options.clone(),
                trust: a.trust,
                ..Default::default()
            };
            (name.clone(), app)
        })
        .collect();
    let mut relations = model.relations.clone();
    relations.sort();
    Bundle { applications, relations }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEED: &str = "applications:
  postgresql-k8s:
    charm: postgresql-k8s
    scale: 1
    options:
      profile: testing
  data-integrator:
    charm: data-integrator
    num_units: 1
    options:
      database-name: appdb
relations:
- [data-integrator, postgresql-k8s:database]
";

    fn model(apps: &[(&str, &str, u32)], relations: &[[&str; 2]]) -> ModelState {
        ModelState {
            applications: apps
                .iter()
                .map(|(n, c, u)| (n.to_string(), DeployedApp { charm: c.to_string(), units: *u, ..Default::default() }))
                .collect(),
            relations: relations.iter().map(|[a, b]| [a.to_string(), b.to_string()]).collect(),
        }
    }

    #[test]
    fn parses_applications_units_options_and_relations() {
        let b = Bundle::parse(SEED, &[]).unwrap();
        assert_eq!(b.applications.len(), 2);
        assert_eq!(b.applications["postgresql-k8s"].units(), 1);
        assert_eq!(b.applications["data-integrator"].options["database-name"], json!("appdb"));
        assert_eq!(b.relations, vec![["data-integrator".to_string(), "postgresql-k8s:database".to_string()]]);
        let old = Bundle::parse("services:\n  a:\n    charm: mysql-k8s\n", &[]).unwrap();
        assert_eq!(old.applications["a"].units(), 1, "services: is the older name; one unit by default");
    }

    #[test]
    fn bad_bundles_are_refused_with_a_reason() {
        let cases: [(&str, BundleError); 4] = [
            ("applications: {}\n", BundleError::Empty),
            ("applications:\n  a: {}\n", BundleError::NoCharm("a".into())),
            ("applications:\n  a:\n    charm: x\nrelations:\n- [a]\n", BundleError::BadRelation("a".into())),
            ("applications:\n  a:\n    charm: x\nrelations:\n- [a, b, c]\n", BundleError::BadRelation("a b c".into())),
        ];
        for (text, want) in cases {
            assert_eq!(Bundle::parse(text, &[]), Err(want), "{text}");
        }
        assert!(matches!(Bundle::parse("applications: [", &[]), Err(BundleError::Parse(_))));
    }

    #[test]
    fn overlays_merge_remove_and_add() {
        let overlay = "applications:
  postgresql-k8s:
    options:
      plugin_pg_trgm_enable: true
  data-integrator: null
  mysql-k8s:
    charm: mysql-k8s
    trust: true
relations:
- [mysql-k8s, postgresql-k8s]
";
        let b = Bundle::parse(SEED, &[overlay]).unwrap();
        let pg = &b.applications["postgresql-k8s"];
        assert_eq!((pg.options["profile"].clone(), pg.options["plugin_pg_trgm_enable"].clone()), (json!("testing"), json!(true)));
        assert!(!b.applications.contains_key("data-integrator"), "null removes the application");
        assert!(b.applications["mysql-k8s"].trust);
        assert_eq!(b.relations, vec![["mysql-k8s".to_string(), "postgresql-k8s".to_string()]], "its relations went with it");
    }

    #[test]
    fn local_charm_paths_are_relative_to_the_bundle() {
        let mut b =
            Bundle::parse("applications:\n  a:\n    charm: ./charms/a\n  b:\n    charm: /abs/b\n  c:\n    charm: postgresql-k8s\n", &[])
                .unwrap();
        b.resolve_local_charms("/home/me/deploy/");
        let charms: Vec<&str> = b.applications.values().map(|a| a.charm.as_str()).collect();
        assert_eq!(charms, ["/home/me/deploy/charms/a", "/abs/b", "postgresql-k8s"]);
    }

    #[test]
    fn plan_deploys_what_is_missing_then_updates_then_relates() {
        let b = Bundle::parse(SEED, &[]).unwrap();
        let changes = plan(&b, &ModelState::default()).unwrap();
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "deploy application data-integrator from data-integrator with 1 unit(s)",
                "deploy application postgresql-k8s from postgresql-k8s with 1 unit(s)",
                "integrate data-integrator and postgresql-k8s:database",
            ]
        );
    }

    #[test]
    fn plan_of_a_model_that_matches_is_empty_and_never_removes() {
        let b = Bundle::parse(SEED, &[]).unwrap();
        let mut m = model(
            &[("postgresql-k8s", "postgresql-k8s", 3), ("data-integrator", "data-integrator", 1)],
            &[["data-integrator:postgresql", "postgresql-k8s:database"]],
        );
        m.applications.get_mut("postgresql-k8s").unwrap().options.insert("profile".into(), json!("testing"));
        m.applications.get_mut("data-integrator").unwrap().options.insert("database-name".into(), json!("appdb"));
        assert_eq!(plan(&b, &m).unwrap(), vec![], "more units than the bundle asks for are left alone");
        m.applications.get_mut("data-integrator").unwrap().options.insert("database-name".into(), json!("other"));
        m.relations.clear();
        assert_eq!(
            plan(&b, &m).unwrap(),
            vec![
                Change::SetConfig { app: "data-integrator".into(), options: BTreeMap::from([("database-name".into(), json!("appdb"))]) },
                Change::Integrate { a: "data-integrator".into(), b: "postgresql-k8s:database".into() },
            ]
        );
    }

    #[test]
    fn plan_refuses_a_charm_change_and_unknown_relation_apps() {
        let b = Bundle::parse(SEED, &[]).unwrap();
        let m = model(&[("postgresql-k8s", "mysql-k8s", 1)], &[]);
        assert!(matches!(plan(&b, &m), Err(BundleError::CharmMismatch { .. })));
        let b = Bundle::parse("applications:\n  a:\n    charm: x\nrelations:\n- [a, ghost]\n", &[]).unwrap();
        assert!(matches!(plan(&b, &ModelState::default()), Err(BundleError::UnknownApplication { app, .. }) if app == "ghost"));
    }

    #[test]
    fn export_round_trips_to_an_empty_plan() {
        let mut m = model(&[("pg", "postgresql-k8s", 2), ("di", "data-integrator", 1)], &[["di:postgresql", "pg:database"]]);
        m.applications.get_mut("di").unwrap().options.insert("database-name".into(), json!("appdb"));
        m.applications.get_mut("pg").unwrap().trust = true;
        let yaml = export(&m).to_yaml();
        let again = Bundle::parse(&yaml, &[]).unwrap();
        assert_eq!(plan(&again, &m).unwrap(), vec![], "{yaml}");
        assert_eq!(again, export(&m));
    }
}
