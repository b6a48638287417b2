//! `models`: a small table of the controller's models, or Juju-like JSON/YAML.

use super::table::{Cell, Style, Table};
use serde_json::{json, Value};
use tether_core::wire::ModelSummary;

/// Juju's `models` table for a Kubernetes-like cloud, under `Controller: tether`, with
/// `*` after the current model's name. tether does not record connections, so
/// `Last connection` says `-` rather than guess.
pub fn render_tabular(current: Option<&str>, models: &[ModelSummary], color: bool) -> String {
    let mut t = Table::new().align_right(4);
    t.header(&["Model", "Cloud/Region", "Type", "Status", "Units", "Access", "Last connection"]);
    for m in models {
        let is_current = current == Some(m.name.as_str());
        let name = if is_current { format!("{}*", m.name) } else { m.name.clone() };
        t.row(vec![
            Cell::styled(name, is_current.then_some(Style::Current)),
            Cell::plain("local/localhost"),
            Cell::plain("caas"),
            Cell::status("available"),
            Cell::plain(m.units.to_string()),
            Cell::plain("admin"),
            Cell::plain("-"),
        ]);
    }
    format!("Controller: tether\n\n{}", t.render(color))
}

/// The structured form, shaped like Juju's `models --format json`.
pub fn structured(current: Option<&str>, models: &[ModelSummary]) -> Value {
    let list: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "name": format!("admin/{}", m.name),
                "short-name": m.name,
                "model-uuid": m.uuid,
                "model-type": "caas",
                "controller-name": "tether",
                "owner": "admin",
                "life": "alive",
                "status": {"current": "available"},
                "application-count": m.applications,
                "unit-count": m.units,
            })
        })
        .collect();
    let mut out = json!({ "models": list });
    if let Some(c) = current {
        out["current-model"] = json!(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_model_is_starred() {
        let models = vec![
            ModelSummary { name: "a".into(), uuid: "u1".into(), applications: 1, units: 3 },
            ModelSummary { name: "bb".into(), uuid: "u2".into(), applications: 0, units: 0 },
        ];
        assert_eq!(
            render_tabular(Some("a"), &models, false),
            "Controller: tether\n\n\
             Model  Cloud/Region     Type  Status     Units  Access  Last connection\n\
             a*     local/localhost  caas  available      3  admin   -\n\
             bb     local/localhost  caas  available      0  admin   -\n"
        );
        let s = structured(Some("a"), &models);
        assert_eq!(s["current-model"], "a");
        assert_eq!(s["models"][1]["short-name"], "bb");
    }
}
