//! `refresh APP --path DIR`: a local charm replaced by a new version, as Juju 3.6 does
//! it. Everything is checked against the new charm first (its name, subordinacy, and
//! that every live relation keeps its endpoint: Juju's "would break relation"), then
//! the stored charm is swapped and, in one store transaction, the new metadata and
//! revision are recorded and every unit is given `upgrade-charm` then `config-changed`
//! (and the joins of any new peer relation). Config values and relations are kept; a
//! value for an option the new charm no longer has is dropped, one its new type refuses
//! is refused. Each unit swaps its own
//! copy of the charm when it runs `upgrade-charm` (the external charm module). A refused
//! refresh leaves the stored charm and the store as they were.

use super::error::ApiError;
use super::inputs::{config_pairs, stage_local_charm};
use super::lookup::{existing_app, resolve_model};
use super::state::Controller;
use crate::store::{AppBag, AppRow, RelEndpoint, RelationRow, Tx};
use std::path::{Path, PathBuf};
use tether_core::charm_meta::{CharmMeta, CharmOrigin, Role};
use tether_core::config;
use tether_core::events::{integrate_plan, refresh_plan};
use tether_core::life::Life;
use tether_core::wire::Reply;

/// What `refresh` asks for.
pub struct RefreshRequest<'a> {
    pub app: &'a str,
    /// The new charm: an absolute path to a directory or a `.charm` file.
    pub path: &'a str,
    /// `--config` assignments applied with the refresh.
    pub config: &'a [String],
    pub trust: bool,
}

/// Why the new charm cannot replace the old one, in Juju's words where Juju has them.
fn check_compatible(tx: &Tx<'_>, model: &str, old: &AppRow, new: &CharmMeta, charm_url: &str) -> Result<(), ApiError> {
    let app = &old.name;
    let refuse = |why: String| ApiError::invalid(format!("cannot upgrade application {app:?} to charm {charm_url:?}: {why}"));
    if new.name != old.meta.name {
        return Err(refuse(format!("cannot change the charm's name from {:?} to {:?}", old.meta.name, new.name)));
    }
    if new.subordinate != old.meta.subordinate {
        return Err(refuse("cannot change an application's subordinacy".into()));
    }
    for rel in tx.relations(model, Some(app))? {
        let Some(local) = rel.local(app) else { continue };
        if rel.is_peer() || rel.life == Life::Dead {
            continue;
        }
        let kept = new.endpoint(&local.endpoint).is_some_and(|e| e.role == local.role && e.interface == rel.interface);
        if !kept {
            return Err(refuse(format!("would break relation {:?}", rel.key)));
        }
    }
    Ok(())
}

/// Peer relations for the peer endpoints the new charm adds: each unit hears
/// relation-created and a join of every other unit, after its upgrade-charm.
fn add_new_peers(tx: &Tx<'_>, model: &str, app: &str, old: &CharmMeta, new: &CharmMeta) -> Result<(), ApiError> {
    let units: Vec<String> = tx.units(model, Some(app))?.into_iter().filter(|u| u.life == Life::Alive).map(|u| u.name).collect();
    for peer in new.peers().filter(|p| old.endpoint(&p.name).is_none()) {
        let id = tx.next_relation_id(model)?;
        tx.create_relation(
            model,
            &RelationRow {
                id,
                key: format!("{app}:{}", peer.name),
                interface: peer.interface.clone(),
                scope: peer.scope,
                life: Life::Alive,
                endpoints: vec![RelEndpoint { app: app.to_string(), endpoint: peer.name.clone(), role: Role::Peer }],
            },
        )?;
        for u in &units {
            let others: Vec<String> = units.iter().filter(|o| *o != u).cloned().collect();
            tx.enqueue_all(model, u, &integrate_plan(id, &peer.name, app, &others))?;
        }
    }
    Ok(())
}

/// The stored charm directory replaced by `staged`, the old one kept aside until the
/// store has recorded the refresh (and put back if it did not).
struct Swap {
    dest: PathBuf,
    aside: PathBuf,
}

impl Swap {
    fn new(staged: &Path, dest: &Path) -> Result<Swap, ApiError> {
        let aside = dest.with_file_name(format!(".old-{}", uuid::Uuid::new_v4()));
        let io = |e: std::io::Error| ApiError::invalid(format!("cannot replace the stored charm: {e}"));
        std::fs::rename(dest, &aside).map_err(io)?;
        if let Err(e) = std::fs::rename(staged, dest) {
            let _ = std::fs::rename(&aside, dest);
            return Err(io(e));
        }
        Ok(Swap { dest: dest.to_path_buf(), aside })
    }

    fn undo(self) {
        let _ = std::fs::remove_dir_all(&self.dest);
        let _ = std::fs::rename(&self.aside, &self.dest);
    }

    fn commit(self) {
        let _ = std::fs::remove_dir_all(&self.aside);
    }
}

pub fn refresh(c: &Controller, model: Option<String>, req: RefreshRequest<'_>) -> Result<Reply, ApiError> {
    let m = resolve_model(c, model)?;
    let app = c.store.read(|tx| existing_app(tx, &m.name, req.app))?;
    if app.origin == CharmOrigin::Builtin {
        return Err(ApiError::invalid(format!(
            "cannot refresh {:?} with --path: it runs tether's built-in charm {:?}, which is not a local charm",
            app.name, app.charm
        )));
    }
    let (meta, staged) = stage_local_charm(c, &m.uuid, req.path)?;
    let discard = || {
        let _ = std::fs::remove_dir_all(&staged);
    };
    let rev = app.rev + 1;
    let charm_url = format!("local:{}-{rev}", meta.name);
    let checked = c.store.read(|tx| check_compatible(tx, &m.name, &app, &meta, &charm_url)).and_then(|()| {
        let kept = config::carry_over(&meta, &app.config)
            .map_err(|e| ApiError::invalid(format!("cannot upgrade application {:?} to charm {charm_url:?}: {e}", app.name)))?;
        Ok(config::apply(&meta, &kept, &config_pairs(req.config, &app.name)?, &[])?)
    });
    let values = match checked {
        Ok(v) => v,
        Err(e) => {
            discard();
            return Err(e);
        }
    };
    let swap = match Swap::new(&staged, &c.home.charm_dir(&m.uuid, &app.name)) {
        Ok(s) => s,
        Err(e) => {
            discard();
            return Err(e);
        }
    };
    crate::failpoint::hit("refresh.after-swap");
    let written = c.store.write(|tx| {
        // Checked again inside the transaction: a relation, a refresh or a config change may
        // have come meanwhile.
        let now = existing_app(tx, &m.name, &app.name)?;
        if now.rev != app.rev || now.config != app.config {
            return Err(ApiError::invalid(format!("cannot refresh {:?}: it was refreshed or configured meanwhile; try again", app.name)));
        }
        check_compatible(tx, &m.name, &now, &meta, &charm_url)?;
        tx.set_app_charm(&m.name, &app.name, &meta, rev)?;
        tx.set_app_config(&m.name, &app.name, &values)?;
        if req.trust {
            let mut settings = tx.app_bag(&m.name, &app.name, AppBag::Settings)?;
            settings.insert("trust".to_string(), "true".to_string());
            tx.set_app_bag(&m.name, &app.name, AppBag::Settings, &settings)?;
        }
        let units: Vec<String> =
            tx.units(&m.name, Some(&app.name))?.into_iter().filter(|u| u.life == Life::Alive).map(|u| u.name).collect();
        for u in &units {
            tx.enqueue_all(&m.name, u, &refresh_plan())?;
        }
        add_new_peers(tx, &m.name, &app.name, &now.meta, &meta)?;
        Ok(units)
    });
    match written {
        Ok(units) => {
            swap.commit();
            c.engine.kick_all(&m.name, units);
            Ok(Reply::done(format!("Added local charm {:?}, revision {rev}, to the model", meta.name)))
        }
        Err(e) => {
            swap.undo();
            Err(e)
        }
    }
}
