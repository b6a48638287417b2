//! Read-only views in Juju's shapes: status, show-unit, debug-log, secrets.
//!
//! Views never include secret content except `show-secret --reveal`, which is the
//! owner's explicit request.

use super::error::{ApiError, ApiResult};
use super::lookup::{existing_app, resolve_model};
use super::state::Controller;
use crate::store::{AppRow, RelationRow, SecretRow, StoreError, Tx, UnitRow};
use std::collections::BTreeMap;
use tether_core::charm_meta::CharmOrigin;
use tether_core::charm_meta::Role;
use tether_core::charm_meta::Scope;
use tether_core::life::Life;
use tether_core::log_filter::{parse_level, LogFilter};
use tether_core::names::UnitName;
use tether_core::status::{derive_app_status, WorkloadStatus};
use tether_core::wire::*;

const ADDRESS: &str = "127.0.0.1";

/// Juju's status timestamp format (`24 Feb 2025 12:03:17Z`).
fn since(ts: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| t.with_timezone(&chrono::Utc).format("%d %b %Y %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn info(current: &str, message: &str, ts: &str) -> StatusInfo {
    StatusInfo { current: current.into(), message: message.into(), since: since(ts), ..Default::default() }
}

/// A unit's workload status as shown: a failed hook overrides what the charm set.
fn unit_workload(u: &UnitRow) -> (WorkloadStatus, String) {
    match &u.error_hook {
        Some(h) => (WorkloadStatus::Error, format!("hook failed: {h:?}")),
        None => (u.workload, u.message.clone()),
    }
}

/// The port a unit serves on, as `N/tcp` (standbys run no server: none).
fn serving_port(u: &UnitRow) -> Vec<String> {
    if u.state.get("role").map(String::as_str) == Some("standby") {
        return vec![];
    }
    u.state.get("port").map(|p| vec![format!("{p}/tcp")]).unwrap_or_default()
}

/// Life as Juju's status shows it: only when not alive (a unit's under `juju-status`).
fn shown_life(life: Life) -> String {
    if life == Life::Alive {
        String::new()
    } else {
        life.as_str().into()
    }
}

fn unit_view(u: &UnitRow) -> UnitStatusView {
    let (wl, msg) = unit_workload(u);
    let agent = if u.life != Life::Alive && u.agent == "idle" { "executing" } else { u.agent.as_str() };
    UnitStatusView {
        workload_status: info(wl.as_str(), &msg, &u.since),
        juju_status: StatusInfo {
            version: JUJU_COMPAT_VERSION.into(),
            life: shown_life(u.life),
            ..info(agent, &u.agent_message, &u.since)
        },
        leader: u.leader,
        address: Some(ADDRESS.into()),
        public_address: None,
        open_ports: serving_port(u),
        subordinates: BTreeMap::new(),
    }
}

/// The model's units and relations, read once and grouped, so a status of N
/// applications costs three queries rather than a few per application and unit.
struct ModelRows {
    units_by_app: BTreeMap<String, Vec<UnitRow>>,
    subordinates_by_principal: BTreeMap<String, Vec<UnitRow>>,
    relations_by_app: BTreeMap<String, Vec<RelationRow>>,
}

impl ModelRows {
    fn read(tx: &Tx<'_>, model: &str) -> Result<ModelRows, StoreError> {
        let mut rows =
            ModelRows { units_by_app: BTreeMap::new(), subordinates_by_principal: BTreeMap::new(), relations_by_app: BTreeMap::new() };
        for u in tx.units(model, None)? {
            if let Some(p) = &u.principal {
                rows.subordinates_by_principal.entry(p.clone()).or_default().push(u.clone());
            }
            rows.units_by_app.entry(u.app.clone()).or_default().push(u);
        }
        for r in tx.relations(model, None)? {
            let apps: std::collections::BTreeSet<String> = r.endpoints.iter().map(|e| e.app.clone()).collect();
            for app in apps {
                rows.relations_by_app.entry(app).or_default().push(r.clone());
            }
        }
        Ok(rows)
    }
}

fn app_view(rows: &ModelRows, a: &AppRow) -> AppStatusView {
    let no_units = Vec::new();
    let units = rows.units_by_app.get(&a.name).unwrap_or(&no_units);
    let no_relations = Vec::new();
    let app_relations = rows.relations_by_app.get(&a.name).unwrap_or(&no_relations);
    let subordinate_to: Vec<String> = if a.meta.subordinate {
        let mut p: Vec<String> =
            app_relations.iter().filter(|r| r.scope == Scope::Container).filter_map(|r| r.remote(&a.name).map(|e| e.app.clone())).collect();
        p.sort();
        p.dedup();
        p
    } else {
        vec![]
    };
    let shown: Vec<(WorkloadStatus, String)> = units.iter().map(unit_workload).collect();
    let app_set = (a.status != WorkloadStatus::Unknown).then_some((a.status, a.message.as_str()));
    let (st, msg) = derive_app_status(app_set, shown.iter().map(|(s, m)| (*s, m.as_str())));
    let mut relations: BTreeMap<String, Vec<AppRelationView>> = BTreeMap::new();
    for r in app_relations {
        let (Some(local), Some(remote)) = (r.local(&a.name), r.remote(&a.name)) else { continue };
        relations.entry(local.endpoint.clone()).or_default().push(AppRelationView {
            related_application: remote.app.clone(),
            interface: r.interface.clone(),
            scope: r.scope.as_str().into(),
        });
    }
    let version = units.iter().find_map(|u| u.state.get("version").cloned()).unwrap_or_default();
    let since_ts = units.iter().map(|u| u.since.as_str()).max().unwrap_or(a.since.as_str()).to_string();
    let charm = if a.origin == CharmOrigin::Local { format!("local:{}-{}", a.charm, a.rev) } else { a.charm.clone() };
    AppStatusView {
        charm,
        charm_origin: a.origin.as_str().into(),
        charm_name: a.charm.clone(),
        charm_rev: a.rev,
        exposed: false,
        base: BaseView { name: "ubuntu".into(), channel: "22.04".into() },
        scale: Some(units.len() as u32),
        address: Some(ADDRESS.into()),
        life: shown_life(a.life),
        application_status: info(st.as_str(), msg, if app_set.is_some() { &a.since } else { &since_ts }),
        relations,
        subordinate_to,
        units: if a.meta.subordinate {
            BTreeMap::new()
        } else {
            units
                .iter()
                .map(|u| {
                    let mut view = unit_view(u);
                    for sub in rows.subordinates_by_principal.get(&u.name).into_iter().flatten() {
                        view.subordinates.insert(sub.name.clone(), unit_view(sub));
                    }
                    (u.name.clone(), view)
                })
                .collect()
        },
        version,
        endpoint_bindings: BTreeMap::new(),
    }
}

fn relation_row(r: &RelationRow) -> RelationRow2 {
    let ep = |role: Role| r.endpoints.iter().find(|e| e.role == role).map(|e| format!("{}:{}", e.app, e.endpoint));
    let (provider, requirer, kind) = if r.is_peer() {
        let k = r.endpoints.first().map(|e| format!("{}:{}", e.app, e.endpoint)).unwrap_or_default();
        (k.clone(), k, "peer")
    } else {
        (
            ep(Role::Provider).unwrap_or_default(),
            ep(Role::Requirer).unwrap_or_default(),
            if r.scope == Scope::Container { "subordinate" } else { "regular" },
        )
    };
    RelationRow2 {
        id: r.id,
        provider,
        requirer,
        interface: r.interface.clone(),
        kind: kind.into(),
        status: if r.life == Life::Alive { "joined".into() } else { r.life.as_str().into() },
    }
}

type RelationRow2 = tether_core::wire::RelationRow;

pub fn status(c: &Controller, model: Option<String>) -> ApiResult {
    let m = resolve_model(c, model)?;
    let (applications, relations) = c.store.read(|tx| {
        let rows = ModelRows::read(tx, &m.name)?;
        let mut apps = BTreeMap::new();
        for a in tx.apps(&m.name)? {
            apps.insert(a.name.clone(), app_view(&rows, &a));
        }
        let mut rels: Vec<_> = rows.relations_by_app.values().flatten().map(relation_row).collect();
        rels.sort_by_key(|r| r.id);
        rels.dedup_by_key(|r| r.id);
        Ok::<_, StoreError>((apps, rels))
    })?;
    let status = StatusView {
        model: ModelStatus {
            name: m.name.clone(),
            kind: "caas".into(),
            controller: "tether".into(),
            cloud: "local".into(),
            region: Some("localhost".into()),
            version: JUJU_COMPAT_VERSION.into(),
            model_status: StatusInfo { current: "available".into(), ..Default::default() },
        },
        machines: BTreeMap::new(),
        applications,
        controller: Some(ControllerStatus { timestamp: chrono::Utc::now().format("%H:%M:%SZ").to_string() }),
    };
    Ok(Reply::Status { status, relations })
}

/// A unit bag as Juju shows it: the addresses Juju writes into every unit's bag when it
/// enters a relation (the ones `network-get` answers), unless the charm set its own.
fn with_network(mut data: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (k, v) in [("egress-subnets", format!("{ADDRESS}/32")), ("ingress-address", ADDRESS.into()), ("private-address", ADDRESS.into())] {
        data.entry(k.to_string()).or_insert(v);
    }
    data
}

pub fn show_unit(c: &Controller, model: Option<String>, unit: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let name = UnitName::parse(unit)?.to_string();
    let view = c.store.read(|tx| {
        let u = tx.unit(&m.name, &name)?.ok_or_else(|| ApiError::invalid(format!("unit {name:?} not found")))?;
        let app = tx.app(&m.name, &u.app)?.ok_or_else(|| ApiError::invalid(format!("application {:?} not found", u.app)))?;
        let mut relation_info = Vec::new();
        for r in tx.relations(&m.name, Some(&u.app))? {
            let (Some(local), Some(remote)) = (r.local(&u.app), r.remote(&u.app)) else { continue };
            let mut related_units = BTreeMap::new();
            for ru in tx.scope_units(&m.name, &r, &u.name)? {
                related_units.insert(ru.clone(), RelatedUnitView { in_scope: true, data: with_network(tx.databag(&m.name, r.id, &ru)?) });
            }
            relation_info.push(RelationInfoView {
                relation_id: r.id,
                endpoint: local.endpoint.clone(),
                related_endpoint: remote.endpoint.clone(),
                application_data: tx.databag(&m.name, r.id, &remote.app)?,
                local_unit: Some(RelatedUnitView { in_scope: true, data: with_network(tx.databag(&m.name, r.id, &u.name)?) }),
                related_units,
            });
        }
        Ok::<_, ApiError>(UnitInfoView {
            opened_ports: serving_port(&u),
            charm: app.charm.clone(),
            leader: u.leader,
            life: u.life.as_str().into(),
            address: Some(ADDRESS.into()),
            public_address: None,
            workload_version: u.state.get("version").cloned().unwrap_or_default(),
            relation_info,
        })
    })?;
    Ok(Reply::ShowUnit { units: BTreeMap::from([(name, view)]) })
}

/// `debug-log`: the lines the filter shows, filtered here so a following client is
/// sent only what it prints.
pub fn debug_log(c: &Controller, model: Option<String>, limit: Option<u64>, filter: &LogFilter, after: Option<i64>) -> ApiResult {
    let m = resolve_model(c, model)?;
    if let Some(level) = &filter.level {
        parse_level(level).map_err(ApiError::Usage)?;
    }
    let (records, cursor) = c.store.read(|tx| tx.log_records(&m.name, filter, limit, after))?;
    Ok(Reply::Log { records, cursor })
}

/// `show-status-log UNIT|APP`: a unit's workload and agent history (`--type unit`, the
/// default for a unit), one of them, or an application's (`--type application`, the
/// default for a name without `/`).
pub fn status_log(
    c: &Controller,
    model: Option<String>,
    entity: &str,
    kind: Option<&str>,
    days: Option<u32>,
    limit: Option<u32>,
) -> ApiResult {
    let m = resolve_model(c, model)?;
    let shown: String = entity.chars().take(60).collect();
    let is_unit = entity.contains('/');
    let kind = kind.unwrap_or(if is_unit { "unit" } else { "application" });
    let kinds: &[&str] = match (kind, is_unit) {
        ("unit", true) => &["workload", "juju-unit"],
        ("workload", true) => &["workload"],
        ("juju-unit", true) => &["juju-unit"],
        ("application", false) => &["application"],
        ("unit" | "workload" | "juju-unit" | "application", _) => {
            return Err(ApiError::Usage(format!("type {kind:?} does not apply to {shown:?}")));
        }
        _ => {
            return Err(ApiError::Usage(format!(
                "unrecognised status type {:?}; valid types are unit, workload, juju-unit, application",
                kind.chars().take(40).collect::<String>()
            )))
        }
    };
    let since =
        days.map(|d| (chrono::Utc::now() - chrono::Duration::days(i64::from(d))).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let entries = c.store.read(|tx| {
        let exists = if is_unit { tx.unit(&m.name, entity)?.is_some() } else { tx.app(&m.name, entity)?.is_some() };
        if !exists {
            let what = if is_unit { "unit" } else { "application" };
            return Err(ApiError::invalid(format!("{what} {shown:?} not found")));
        }
        Ok(tx.status_history(&m.name, entity, kinds, since.as_deref(), limit)?)
    })?;
    Ok(Reply::StatusLog { entries })
}

fn secret_view(tx: &Tx<'_>, model: &str, s: &SecretRow, reveal: bool) -> Result<SecretView, StoreError> {
    let mut access = Vec::new();
    for (rel_id, app) in tx.secret_grants(model, &s.id)? {
        let scope = tx
            .relation(model, rel_id)?
            .map(|r| format!("relation-{}", r.key.replace(' ', ".")))
            .unwrap_or_else(|| format!("relation-{rel_id}"));
        // A unit grant (`app/N`) shows as Juju shows it, `unit-app-N`.
        let target = if app.contains('/') { format!("unit-{}", app.replace('/', "-")) } else { format!("application-{app}") };
        access.push(SecretAccessView { target, scope, role: "view".into() });
    }
    let user_secret = matches!(s.owner, crate::store::SecretOwner::Model(_));
    let content = if reveal { tx.secret_content(model, &s.id, None)?.map(|data| SecretContentView { data }) } else { None };
    Ok(SecretView {
        revision: s.revision,
        owner: if s.owner.app().is_empty() { "<model>".to_string() } else { s.owner.app().to_string() },
        name: s.label.clone().filter(|_| user_secret),
        label: s.label.clone().filter(|_| !user_secret),
        description: s.description.clone(),
        created: s.created.clone(),
        updated: s.updated.clone(),
        access,
        content,
    })
}

pub fn secrets(c: &Controller, model: Option<String>) -> ApiResult {
    let m = resolve_model(c, model)?;
    let secrets = c.store.read(|tx| {
        let mut out = BTreeMap::new();
        for s in tx.secrets(&m.name)? {
            out.insert(s.id.clone(), secret_view(tx, &m.name, &s, false)?);
        }
        Ok::<_, StoreError>(out)
    })?;
    Ok(Reply::Secrets { secrets })
}

pub fn show_secret(c: &Controller, model: Option<String>, id: &str, reveal: bool) -> ApiResult {
    let m = resolve_model(c, model)?;
    let wanted = crate::store::secret_id_from_uri(id);
    let secrets = c.store.read(|tx| {
        let s = match tx.secret(&m.name, &wanted)? {
            Some(s) => s,
            None => tx
                .secrets(&m.name)?
                .into_iter()
                .find(|s| s.label.as_deref() == Some(id) && matches!(s.owner, crate::store::SecretOwner::Model(_)))
                .ok_or_else(|| ApiError::invalid(format!("secret {id:?} not found")))?,
        };
        let id = s.id.clone();
        Ok::<_, ApiError>(BTreeMap::from([(id.clone(), secret_view(tx, &m.name, &s, reveal)?)]))
    })?;
    Ok(Reply::Secrets { secrets })
}

/// `actions APP`: each action of the application's charm with its parameters' schema.
pub fn actions(c: &Controller, model: Option<String>, app: &str) -> ApiResult {
    let m = resolve_model(c, model)?;
    let a = c.store.read(|tx| existing_app(tx, &m.name, app))?;
    let actions = a
        .meta
        .actions
        .iter()
        .map(|spec| (spec.name.clone(), ActionView { description: spec.description.clone(), params: a.meta.action_schema(spec) }))
        .collect();
    Ok(Reply::Actions { actions })
}

/// `info CHARM`: a built-in charm by name or a local charm by absolute path.
pub fn charm_info(c: &Controller, charm: &str) -> ApiResult {
    let info = if charm.starts_with('/') {
        let meta = crate::charms::local::inspect(std::path::Path::new(charm)).map_err(|e| ApiError::invalid(e.to_string()))?;
        CharmInfo { origin: "local".into(), meta }
    } else {
        let native = crate::charms::canonical_name(charm)
            .and_then(|name| c.charms.builtin(name))
            .ok_or_else(|| ApiError::invalid(format!("charm {:?} not found", charm.chars().take(64).collect::<String>())))?;
        CharmInfo { origin: "built-in".into(), meta: native.meta() }
    };
    Ok(Reply::Charms { charms: vec![info] })
}

/// `charms`: every built-in charm.
pub fn charms(c: &Controller) -> Reply {
    let charms = crate::charms::builtin_names()
        .iter()
        .filter_map(|n| c.charms.builtin(n))
        .map(|c| CharmInfo { origin: "built-in".into(), meta: c.meta() })
        .collect();
    Reply::Charms { charms }
}
