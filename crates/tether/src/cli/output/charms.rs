//! `info CHARM` and `charms`: what a charm offers (endpoints with role and interface,
//! config options, actions), so a user can see what integrates with what.

use super::table::{Cell, Table};
use serde_json::{json, Map, Value};
use tether_core::charm_meta::Role;
use tether_core::wire::CharmInfo;

/// The structured form of `info`, shaped like `juju info`'s YAML.
pub fn structured(info: &CharmInfo) -> Value {
    let m = &info.meta;
    let group = |role: Role| -> Map<String, Value> {
        m.endpoints.iter().filter(|e| e.role == role).map(|e| (e.name.clone(), Value::String(e.interface.clone()))).collect()
    };
    let options: Map<String, Value> = m
        .config
        .iter()
        .map(|o| {
            let mut v = json!({"type": o.kind.as_str(), "description": o.description});
            if let Some(d) = &o.default {
                v["default"] = d.clone();
            }
            (o.name.clone(), v)
        })
        .collect();
    let actions: Map<String, Value> = m
        .actions
        .iter()
        .map(|a| {
            let params: Map<String, Value> = a
                .params
                .iter()
                .map(|p| {
                    let mut v = json!({"type": p.kind, "description": p.description});
                    if let Some(d) = &p.default {
                        v["default"] = d.clone();
                    }
                    (p.name.clone(), v)
                })
                .collect();
            (a.name.clone(), json!({"description": a.description, "params": params}))
        })
        .collect();
    json!({
        "name": m.name,
        "origin": info.origin,
        "summary": m.summary,
        "subordinate": m.subordinate,
        "relations": {"provides": group(Role::Provider), "requires": group(Role::Requirer), "peers": group(Role::Peer)},
        "config": {"options": options},
        "actions": actions,
    })
}

/// `charms` as a table.
pub fn render_list(charms: &[CharmInfo], color: bool) -> String {
    let mut t = Table::new();
    t.header(&["Charm", "Origin", "Summary"]);
    for c in charms {
        t.row(vec![Cell::plain(c.meta.name.clone()), Cell::plain(c.origin.clone()), Cell::plain(c.meta.summary.clone())]);
    }
    t.render(color)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_core::charm_meta::{CharmMeta, Endpoint};

    #[test]
    fn info_groups_endpoints_by_role() {
        let meta = CharmMeta {
            resources: vec![],
            storage: vec![],
            action_schemas: Default::default(),
            name: "x".into(),
            summary: "s".into(),
            subordinate: false,
            endpoints: vec![Endpoint::new("db", Role::Provider, "pgsql"), Endpoint::new("p", Role::Peer, "pp")],
            config: vec![],
            actions: vec![],
        };
        let v = structured(&CharmInfo { origin: "local".into(), meta });
        assert_eq!(v["relations"]["provides"]["db"], "pgsql");
        assert_eq!(v["relations"]["peers"]["p"], "pp");
        assert!(v["relations"]["requires"].as_object().unwrap().is_empty());
    }
}
