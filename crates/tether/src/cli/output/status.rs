//! `status` in Juju's tabular layout (`cmd/juju/status/output_tabular.go`).
//!
//! The JSON and YAML forms are the wire's `StatusView` serialised as is; this module
//! only draws the human table: model header, applications, units (leader marked with
//! `*`, subordinates indented under their principal) and, with `--relations`, the
//! integrations section.

use super::natural_cmp;
use super::table::{status_style, truncate, Cell, Style, Table};
use std::collections::BTreeMap;
use tether_core::log_filter::glob_match;
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

/// Keeps the applications and units the selectors name (Juju's `status APP`, `status
/// APP/0`, globs with `*` and `?`); an application selected by a unit keeps only its
/// selected units. Applications related to a selected one stay out unless selected
/// too. The integrations kept are those with a selected application on either side.
/// No selector keeps everything.
pub fn select(status: &mut StatusView, relations: &mut Vec<RelationRow>, selectors: &[String]) {
    if selectors.is_empty() {
        return;
    }
    let (unit_sel, app_sel): (Vec<&String>, Vec<&String>) = selectors.iter().partition(|s| s.contains('/'));
    status.applications.retain(|name, app| {
        if app_sel.iter().any(|p| glob_match(p, name)) {
            return true;
        }
        app.units.retain(|unit, u| {
            u.subordinates.retain(|sub, _| unit_sel.iter().any(|p| glob_match(p, sub)));
            unit_sel.iter().any(|p| glob_match(p, unit)) || !u.subordinates.is_empty()
        });
        !app.units.is_empty()
    });
    let kept = |end: &str| status.applications.contains_key(end.split(':').next().unwrap_or(end));
    relations.retain(|r| kept(&r.provider) || kept(&r.requirer));
}

/// Juju's times: `since` as `24 Feb 2025 12:03:17+13:00` and the controller's
/// timestamp as `12:04:55+13:00` in local time, or in UTC (`...Z`) with `--utc`. The
/// controller sends UTC; a text that does not parse is left as it came.
pub fn localise_times(status: &mut StatusView, utc: bool) {
    fn info(i: &mut tether_core::wire::StatusInfo, utc: bool) {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&i.since, "%d %b %Y %H:%M:%SZ") {
            i.since = zoned(t.and_utc(), "%d %b %Y %H:%M:%S", utc);
        }
    }
    fn unit(u: &mut UnitStatusView, utc: bool) {
        info(&mut u.workload_status, utc);
        info(&mut u.juju_status, utc);
        u.subordinates.values_mut().for_each(|s| unit(s, utc));
    }
    info(&mut status.model.model_status, utc);
    for app in status.applications.values_mut() {
        info(&mut app.application_status, utc);
        app.units.values_mut().for_each(|u| unit(u, utc));
    }
    if let Some(c) = status.controller.as_mut() {
        if let Ok(t) = chrono::NaiveTime::parse_from_str(&c.timestamp, "%H:%M:%SZ") {
            c.timestamp = zoned(chrono::Utc::now().date_naive().and_time(t).and_utc(), "%H:%M:%S", utc);
        }
    }
}

/// `t` in `fmt` followed by its zone as Go's `Z07:00` writes it (`Z` for UTC).
fn zoned(t: chrono::DateTime<chrono::Utc>, fmt: &str, utc: bool) -> String {
    if utc {
        return format!("{}Z", t.format(fmt));
    }
    let local = t.with_timezone(&chrono::Local);
    if local.offset().local_minus_utc() == 0 {
        format!("{}Z", local.format(fmt))
    } else {
        local.format(&format!("{fmt}%:z")).to_string()
    }
}

/// Juju's `short`/`oneline`/`line` format: a blank line, then one line per unit,
/// `- UNIT: ADDRESS (agent:AGENT, workload:WORKLOAD)` and its open ports, subordinates
/// indented two spaces under their principal.
pub fn render_oneline(status: &StatusView) -> String {
    fn line(out: &mut String, name: &str, u: &UnitStatusView, level: usize) {
        let address = u.public_address.as_deref().or(u.address.as_deref()).unwrap_or_default();
        out.push_str(&format!(
            "\n{}- {name}: {address} (agent:{}, workload:{})",
            "  ".repeat(level),
            u.juju_status.current,
            u.workload_status.current
        ));
        if !u.open_ports.is_empty() {
            out.push_str(&format!(" {}", u.open_ports.join(", ")));
        }
        let mut subs: Vec<&String> = u.subordinates.keys().collect();
        subs.sort_by(|a, b| natural_cmp(a, b));
        for sub in subs {
            line(out, sub, &u.subordinates[sub], level + 1);
        }
    }
    let mut out = String::new();
    let mut apps: Vec<&String> = status.applications.keys().collect();
    apps.sort_by(|a, b| natural_cmp(a, b));
    for app in apps {
        let units = &status.applications[app].units;
        let mut names: Vec<&String> = units.keys().collect();
        names.sort_by(|a, b| natural_cmp(a, b));
        for name in names {
            line(&mut out, name, &units[name], 0);
        }
    }
    out.push('\n');
    out
}

/// Juju's `summary` format: the ports in use, then counts of units by workload status
/// and of applications, each application with its running/total units and whether it
/// is exposed. Labels are right-aligned on the colon.
pub fn render_summary(status: &StatusView) -> String {
    fn all_units<'a>(u: &'a UnitStatusView, out: &mut Vec<&'a UnitStatusView>) {
        out.push(u);
        u.subordinates.values().for_each(|s| all_units(s, out));
    }
    let mut units = Vec::new();
    status.applications.values().flat_map(|a| a.units.values()).for_each(|u| all_units(u, &mut units));
    let mut ports: Vec<&String> = units.iter().flat_map(|u| u.open_ports.iter()).collect();
    ports.sort();
    ports.dedup();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for u in &units {
        *by_status.entry(u.workload_status.current.as_str()).or_default() += 1;
    }
    let mut t = Table::new().align_right(0);
    let ports_text = ports.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
    t.row(vec![Cell::plain("Utilizing ports:"), Cell::plain(ports_text), Cell::plain("")]);
    t.row(vec![Cell::plain("# Machines:"), Cell::plain("(0)"), Cell::plain("")]);
    t.row(vec![Cell::plain(""), Cell::plain(""), Cell::plain("")]);
    t.row(vec![Cell::plain("# Units:"), Cell::plain(format!("({})", units.len())), Cell::plain("")]);
    for (word, n) in by_status {
        t.row(vec![Cell::plain(format!("{word}:")), Cell::plain(n.to_string()), Cell::plain("")]);
    }
    t.row(vec![Cell::plain(""), Cell::plain(""), Cell::plain("")]);
    t.row(vec![Cell::plain("# Applications:"), Cell::plain(format!("({})", status.applications.len())), Cell::plain("")]);
    let mut apps: Vec<&String> = status.applications.keys().collect();
    apps.sort_by(|a, b| natural_cmp(a, b));
    for name in apps {
        let app = &status.applications[name];
        let running = app.units.values().filter(|u| matches!(u.juju_status.current.as_str(), "idle" | "executing")).count();
        let exposed = if app.exposed { "exposed" } else { "" };
        t.row(vec![Cell::plain(name.clone()), Cell::plain(format!("{running}/{}", app.units.len())), Cell::plain(exposed)]);
    }
    t.render(false)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use tether_core::wire::{BaseView, ControllerStatus, ModelStatus, StatusInfo};

    pub fn info(current: &str, message: &str) -> StatusInfo {
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
            life: String::new(),
            application_status: status,
            relations: BTreeMap::new(),
            subordinate_to: vec![],
            units,
            version: String::new(),
            endpoint_bindings: BTreeMap::new(),
        }
    }

    /// Two applications: `pg` (caas, active, units pg/0* active, pg/2 waiting while
    /// executing, pg/10 waiting) and `data-integrator` (blocked, its leader unit with
    /// the subordinate logger/0); model `m`, available. Other CLI tests share it.
    pub fn sample() -> StatusView {
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

    #[test]
    fn selectors_keep_named_applications_and_units() {
        let rel = |p: &str, r: &str| RelationRow {
            id: 0,
            provider: p.into(),
            requirer: r.into(),
            interface: "x".into(),
            kind: "regular".into(),
            status: "joined".into(),
        };
        let pick = |sel: &[&str]| {
            let mut s = sample();
            let mut rels = vec![rel("pg:database", "data-integrator:postgresql"), rel("pg:restart", "pg:restart")];
            select(&mut s, &mut rels, &sel.iter().map(|x| x.to_string()).collect::<Vec<_>>());
            let units: Vec<String> = s.applications.values().flat_map(|a| a.units.keys().cloned()).collect();
            (s.applications.keys().cloned().collect::<Vec<_>>(), units, rels.len())
        };
        let (apps, units, rels) = pick(&["pg"]);
        assert_eq!((apps, units.len(), rels), (vec!["pg".to_string()], 3, 2));
        let (apps, units, _) = pick(&["pg/2"]);
        assert_eq!((apps, units), (vec!["pg".to_string()], vec!["pg/2".to_string()]));
        let (apps, _, _) = pick(&["p*", "data-*"]);
        assert_eq!(apps, ["data-integrator", "pg"]);
        let (apps, units, _) = pick(&["pg/1*"]);
        assert_eq!((apps, units), (vec!["pg".to_string()], vec!["pg/10".to_string()]));
        let (apps, units, rels) = pick(&["nosuch"]);
        assert!(apps.is_empty() && units.is_empty() && rels == 0);
        // A subordinate unit keeps its principal, with only that subordinate.
        let (apps, units, _) = pick(&["logger/*"]);
        assert_eq!((apps, units), (vec!["data-integrator".to_string()], vec!["data-integrator/0".to_string()]));
        assert_eq!(pick(&[]).0.len(), 2);
    }

    #[test]
    fn oneline_and_summary_follow_juju() {
        let mut s = sample();
        s.applications.get_mut("pg").unwrap().units.get_mut("pg/0").unwrap().open_ports = vec!["5432/tcp".into()];
        assert_eq!(
            render_oneline(&s),
            "
- data-integrator/0: 127.0.0.1 (agent:idle, workload:blocked)
  - logger/0: 127.0.0.1 (agent:idle, workload:active)
- pg/0: 127.0.0.1 (agent:idle, workload:active) 5432/tcp
- pg/2: 127.0.0.1 (agent:executing, workload:waiting)
- pg/10: 127.0.0.1 (agent:idle, workload:waiting)
"
        );
        let got = render_summary(&s);
        let want = "\
Utilizing ports:  5432/tcp
     # Machines:  (0)

        # Units:  (5)
         active:  2
        blocked:  1
        waiting:  2

 # Applications:  (2)
 data-integrator  1/1
              pg  3/3
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn times_are_local_unless_utc() {
        let mut s = sample();
        s.model.model_status.since = "24 Feb 2025 12:03:17Z".into();
        let mut utc = s.clone();
        localise_times(&mut utc, true);
        assert_eq!(utc.model.model_status.since, "24 Feb 2025 12:03:17Z");
        assert_eq!(utc.controller.as_ref().unwrap().timestamp, "12:04:55Z");
        let mut bad = s.clone();
        bad.model.model_status.since = "yesterday".into();
        localise_times(&mut bad, false);
        assert_eq!(bad.model.model_status.since, "yesterday");
        // The zone as Go's `Z07:00` writes it.
        let t = chrono::DateTime::parse_from_rfc3339("2025-02-24T12:03:17Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(zoned(t, "%H:%M:%S", true), "12:03:17Z");
    }
}
