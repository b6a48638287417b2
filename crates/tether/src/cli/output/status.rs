//! `status` in Juju's tabular layout (`cmd/juju/status/output_tabular.go`).
//!
//! The JSON and YAML forms are the wire's `StatusView` serialised as is; this module
//! only draws the human table: model header, applications, units (leader marked with
//! `*`, subordinates indented under their principal) and, with `--relations`, the
//! integrations section.

use super::natural_cmp;
use super::table::{status_style, truncate, Cell, Style, Table};
use std::collections::BTreeMap;
use tether_core::wire::{AppStatusView, RelationRow, StatusView, UnitStatusView};

const CAAS_MAX_VERSION_WIDTH: usize = 30;
const IAAS_MAX_VERSION_WIDTH: usize = 15;
const MAX_MESSAGE_WIDTH: usize = 120;

/// Renders the tabular status. `relations` is drawn only when `show_relations`.
pub fn render_tabular(status: &StatusView, relations: &[RelationRow], show_relations: bool, color: bool) -> String {
    let caas = status.model.kind != "iaas";
    let mut sections = vec![header(status).render(color)];
    if !status.applications.is_empty() {
        sections.push(applications(status, caas).render(color));
        let units = units(status, caas);
        if let Some(t) = units {
            sections.push(t.render(color));
        }
    }
    if show_relations && !relations.is_empty() {
        sections.push(integrations(relations).render(color));
    }
    sections.join("\n")
}

fn header(status: &StatusView) -> Table {
    let m = &status.model;
    let mut cloud = m.cloud.clone();
    if let Some(region) = m.region.as_deref().filter(|r| !r.is_empty()) {
        cloud = format!("{cloud}/{region}");
    }
    let mut cols = vec!["Model", "Controller", "Cloud/Region", "Version"];
    let mut values: Vec<Cell> = vec![m.name.clone().into(), m.controller.clone().into(), cloud.into(), m.version.clone().into()];
    if let Some(ts) = status.controller.as_ref().filter(|c| !c.timestamp.is_empty()) {
        cols.push("Timestamp");
        values.push(ts.timestamp.clone().into());
    }
    if !m.model_status.message.is_empty() {
        cols.push("Notes");
        values.push(m.model_status.message.clone().into());
    }
    let mut t = Table::new();
    t.header(&cols);
    t.row(values);
    t
}

/// `N`, or `current/desired` (in yellow) where current counts units whose agent works.
fn scale(app: &AppStatusView) -> Cell {
    let desired = app.scale.map(|s| s as usize).unwrap_or(app.units.len());
    let current = app.units.values().filter(|u| matches!(u.juju_status.current.as_str(), "idle" | "executing")).count();
    if current == desired {
        Cell::plain(desired.to_string())
    } else {
        Cell::styled(format!("{current}/{desired}"), Some(Style::Warning))
    }
}

fn applications(status: &StatusView, caas: bool) -> Table {
    let mut t = Table::new().align_right(3).align_right(6);
    if caas {
        t.header(&["App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Address", "Exposed", "Message"]);
    } else {
        t.header(&["App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Exposed", "Message"]);
    }
    let max_version = if caas { CAAS_MAX_VERSION_WIDTH } else { IAAS_MAX_VERSION_WIDTH };
    let mut names: Vec<&String> = status.applications.keys().collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    for name in names {
        let app = &status.applications[name];
        let version = app.version.lines().next().unwrap_or_default();
        let mut row = vec![
            Cell::plain(name.clone()),
            Cell::plain(truncate(version, max_version)),
            Cell::status(&app.application_status.current),
            scale(app),
            Cell::plain(app.charm_name.clone()),
            Cell::plain(""),
            Cell::plain(app.charm_rev.to_string()),
        ];
        if caas {
            row.push(Cell::styled(app.address.clone().unwrap_or_default(), Some(Style::Info)));
        }
        row.push(Cell::plain(if app.exposed { "yes" } else { "no" }));
        row.push(Cell::plain(truncate(&app.application_status.message, MAX_MESSAGE_WIDTH)));
        t.row(row);
    }
    t
}

/// What the agent is busy with, from its message (`running install hook`, `running action x`).
fn agent_doing(unit: &UnitStatusView) -> Option<String> {
    if unit.juju_status.current != "executing" {
        return None;
    }
    let msg = &unit.juju_status.message;
    if let Some(hook) = msg.strip_prefix("running ").and_then(|m| m.strip_suffix(" hook")) {
        return Some(hook.to_string());
    }
    msg.strip_prefix("running action ").map(str::to_string)
}

fn unit_row(t: &mut Table, name: &str, unit: &UnitStatusView, level: usize, caas: bool) {
    let mut message = unit.workload_status.message.clone();
    if unit.juju_status.current == "allocating" && message.is_empty() {
        message = unit.juju_status.message.clone();
    }
    if let Some(doing) = agent_doing(unit) {
        message = format!("({doing}) {message}");
    }
    let mut shown = format!("{}{name}", " ".repeat(level * 2));
    if unit.leader {
        shown.push('*');
    }
    let address = if caas { unit.address.clone() } else { unit.public_address.clone().or_else(|| unit.address.clone()) };
    let mut row = vec![Cell::plain(shown), Cell::status(&unit.workload_status.current), Cell::status(&unit.juju_status.current)];
    if !caas {
        row.push(Cell::plain(""));
    }
    row.push(Cell::styled(address.unwrap_or_default(), Some(Style::Info)));
    row.push(Cell::plain(unit.open_ports.join(",")));
    row.push(Cell::plain(truncate(&message, MAX_MESSAGE_WIDTH)));
    t.row(row);
    let mut subs: Vec<(&String, &UnitStatusView)> = unit.subordinates.iter().collect();
    subs.sort_by(|a, b| natural_cmp(a.0, b.0));
    for (sub_name, sub) in subs {
        unit_row(t, sub_name, sub, level + 1, caas);
    }
}

fn units(status: &StatusView, caas: bool) -> Option<Table> {
    let all: BTreeMap<&String, &UnitStatusView> = status.applications.values().flat_map(|a| a.units.iter()).collect();
    if all.is_empty() {
        return None;
    }
    let mut t = Table::new();
    if caas {
        t.header(&["Unit", "Workload", "Agent", "Address", "Ports", "Message"]);
    } else {
        t.header(&["Unit", "Workload", "Agent", "Machine", "Public address", "Ports", "Message"]);
    }
    let mut names: Vec<&&String> = all.keys().collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    for name in names {
        unit_row(&mut t, name, all[name], 0, caas);
    }
    Some(t)
}

fn integrations(relations: &[RelationRow]) -> Table {
    let mut rows: Vec<&RelationRow> = relations.iter().collect();
    rows.sort_by(|a, b| a.provider.cmp(&b.provider).then_with(|| a.requirer.cmp(&b.requirer)));
    let mut t = Table::new();
    t.header(&["Integration provider", "Requirer", "Interface", "Type", "Message"]);
    for r in rows {
        let mut row = vec![
            Cell::plain(r.provider.clone()),
            Cell::plain(r.requirer.clone()),
            Cell::plain(r.interface.clone()),
            Cell::plain(r.kind.clone()),
        ];
        if !r.status.is_empty() && r.status != "joined" {
            let style = status_style(&r.status).or(Some(Style::Warning));
            row.push(Cell::styled(r.status.clone(), style));
        } else {
            row.push(Cell::plain(""));
        }
        t.row(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_core::wire::{BaseView, ControllerStatus, ModelStatus, StatusInfo};

    fn info(current: &str, message: &str) -> StatusInfo {
        StatusInfo { current: current.into(), message: message.into(), ..Default::default() }
    }

    fn unit(workload: &str, agent: &str, leader: bool, address: &str) -> UnitStatusView {
        UnitStatusView {
            workload_status: info(workload, ""),
            juju_status: info(agent, ""),
            leader,
            address: Some(address.into()),
            public_address: None,
            open_ports: vec![],
            subordinates: BTreeMap::new(),
        }
    }

    fn app(name: &str, status: StatusInfo, units: BTreeMap<String, UnitStatusView>) -> AppStatusView {
        AppStatusView {
            charm: format!("local:{name}-0"),
            charm_origin: "local".into(),
            charm_name: name.into(),
            charm_rev: 0,
            exposed: false,
            base: BaseView { name: "ubuntu".into(), channel: "22.04".into() },
            scale: Some(units.len() as u32),
            address: None,
            application_status: status,
            relations: BTreeMap::new(),
            subordinate_to: vec![],
            units,
            version: String::new(),
            endpoint_bindings: BTreeMap::new(),
        }
    }

    fn sample() -> StatusView {
        let mut pg_units = BTreeMap::new();
        pg_units.insert("pg/0".to_string(), unit("active", "idle", true, "127.0.0.1"));
        pg_units.insert("pg/10".to_string(), unit("waiting", "idle", false, "127.0.0.1"));
        pg_units.insert("pg/2".to_string(), unit("waiting", "executing", false, "127.0.0.1"));
        pg_units.get_mut("pg/2").unwrap().juju_status.message = "running start hook".into();
        pg_units.get_mut("pg/2").unwrap().workload_status.message = "no HA yet".into();
        let mut di_units = BTreeMap::new();
        let mut di0 = unit("blocked", "idle", true, "127.0.0.1");
        di0.workload_status.message = "Please specify either topic or database name".into();
        di0.subordinates.insert("logger/0".into(), unit("active", "idle", true, "127.0.0.1"));
        di_units.insert("data-integrator/0".to_string(), di0);
        let mut apps = BTreeMap::new();
        let mut pg = app("postgresql-k8s", info("active", ""), pg_units);
        pg.version = "14.11".into();
        pg.scale = Some(4);
        apps.insert("pg".to_string(), pg);
        apps.insert(
            "data-integrator".to_string(),
            app("data-integrator", info("blocked", "Please specify either topic or database name"), di_units),
        );
        StatusView {
            model: ModelStatus {
                name: "m".into(),
                kind: "caas".into(),
                controller: "tether".into(),
                cloud: "local".into(),
                region: Some("localhost".into()),
                version: "3.6.5".into(),
                model_status: info("available", ""),
            },
            machines: BTreeMap::new(),
            applications: apps,
            controller: Some(ControllerStatus { timestamp: "12:04:55Z".into() }),
        }
    }

    #[test]
    fn tabular_status_matches_juju_layout() {
        let relations = vec![RelationRow {
            id: 1,
            provider: "pg:database".into(),
            requirer: "data-integrator:postgresql".into(),
            interface: "postgresql_client".into(),
            kind: "regular".into(),
            status: "joined".into(),
        }];
        let got = render_tabular(&sample(), &relations, true, false);
        let want = "\
Model  Controller  Cloud/Region     Version  Timestamp
m      tether      local/localhost  3.6.5    12:04:55Z

App              Version  Status   Scale  Charm            Channel  Rev  Address  Exposed  Message
data-integrator           blocked      1  data-integrator             0           no       Please specify either topic or database name
pg               14.11    active     3/4  postgresql-k8s              0           no

Unit                Workload  Agent      Address    Ports  Message
data-integrator/0*  blocked   idle       127.0.0.1         Please specify either topic or database name
  logger/0*         active    idle       127.0.0.1
pg/0*               active    idle       127.0.0.1
pg/2                waiting   executing  127.0.0.1         (start) no HA yet
pg/10               waiting   idle       127.0.0.1

Integration provider  Requirer                    Interface          Type     Message
pg:database           data-integrator:postgresql  postgresql_client  regular
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn relations_are_hidden_without_the_flag_and_colours_need_a_terminal() {
        let s = render_tabular(&sample(), &[], false, false);
        assert!(!s.contains("Integration provider"));
        assert!(!s.contains('\x1b'));
        let coloured = render_tabular(&sample(), &[], false, true);
        assert!(coloured.contains("\x1b[31mblocked\x1b[0m"));
        assert!(coloured.contains("\x1b[32mactive\x1b[0m"));
    }

    #[test]
    fn empty_model_shows_only_the_header() {
        let mut s = sample();
        s.applications.clear();
        assert_eq!(render_tabular(&s, &[], true, false).lines().count(), 2);
    }
}
