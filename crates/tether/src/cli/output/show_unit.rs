//! `show-unit --endpoint E --related-unit U --app`: Juju's filters over the
//! `relation-info` the controller sends whole.

use tether_core::wire::UnitInfoView;

/// What `show-unit`'s flags keep.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only the relations of this endpoint of the unit.
    pub endpoint: Option<String>,
    /// Only this related unit (relations without it are left out).
    pub related_unit: Option<String>,
    /// Only the related application's data: no unit bags, the unit's own neither.
    pub app_only: bool,
}

impl Filter {
    pub fn apply(&self, view: &mut UnitInfoView) {
        if let Some(e) = &self.endpoint {
            view.relation_info.retain(|r| &r.endpoint == e);
        }
        if let Some(u) = &self.related_unit {
            view.relation_info.retain_mut(|r| {
                r.related_units.retain(|name, _| name == u);
                !r.related_units.is_empty()
            });
        }
        if self.app_only {
            for r in &mut view.relation_info {
                r.related_units.clear();
                r.local_unit = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tether_core::wire::{RelatedUnitView, RelationInfoView};

    fn bag(unit: &str) -> RelatedUnitView {
        RelatedUnitView { in_scope: true, data: BTreeMap::from([("who".to_string(), unit.to_string())]) }
    }

    fn view() -> UnitInfoView {
        let rel = |id, endpoint: &str, units: &[&str]| RelationInfoView {
            relation_id: id,
            endpoint: endpoint.into(),
            related_endpoint: "x".into(),
            application_data: BTreeMap::from([("app".to_string(), "data".to_string())]),
            local_unit: Some(bag("me/0")),
            related_units: units.iter().map(|u| (u.to_string(), bag(u))).collect(),
        };
        UnitInfoView {
            opened_ports: vec![],
            charm: "c".into(),
            leader: true,
            life: "alive".into(),
            address: None,
            public_address: None,
            workload_version: String::new(),
            relation_info: vec![rel(1, "database", &["a/0", "a/1"]), rel(2, "peers", &["me/1"])],
        }
    }

    #[test]
    fn filters_follow_juju() {
        let mut v = view();
        Filter { endpoint: Some("database".into()), ..Default::default() }.apply(&mut v);
        assert_eq!(v.relation_info.iter().map(|r| r.relation_id).collect::<Vec<_>>(), [1]);

        let mut v = view();
        Filter { related_unit: Some("a/1".into()), ..Default::default() }.apply(&mut v);
        assert_eq!(v.relation_info.len(), 1);
        assert_eq!(v.relation_info[0].related_units.keys().collect::<Vec<_>>(), ["a/1"]);

        let mut v = view();
        Filter { app_only: true, ..Default::default() }.apply(&mut v);
        assert!(v.relation_info.iter().all(|r| r.related_units.is_empty() && r.local_unit.is_none() && !r.application_data.is_empty()));
    }
}
