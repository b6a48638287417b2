//! `models`: a small table of the controller's models, or Juju-like JSON/YAML.

use super::table::{Cell, Style, Table};
use serde_json::{json, Value};
use tether_core::wire::ModelSummary;

/// `Model  Status  Units`, with `*` after the current model's name.
pub fn render_tabular(current: Option<&str>, models: &[ModelSummary], color: bool) -> String {
    let mut t = Table::new().align_right(2);
    t.header(&["Model", "Status", "Units"]);
    for m in models {
        let is_current = current == Some(m.name.as_str());
        let name = if is_current { format!("{}*", m.name) } else { m.name.clone() };
        t.row(vec![Cell::styled(name, is_current.then_some(Style::Current)), Cell::status("available"), Cell::plain(m.units.to_string())]);
    }
    t.render(color)
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
            "Model  Status     Units\na*     available      3\nbb     available      0\n"
        );
        let s = structured(Some("a"), &models);
        assert_eq!(s["current-model"], "a");
        assert_eq!(s["models"][1]["short-name"], "bb");
    }
}
