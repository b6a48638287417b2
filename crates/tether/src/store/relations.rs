//! Relations, their endpoints and their databags (sealed at rest).
//!
//! A databag is keyed by its owner: an application name for the application bag, a
//! unit name (`app/N`) for a unit bag.

use super::error::StoreResult;
use super::tx::Tx;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;
use tether_core::charm_meta::Role;
use tether_core::charm_meta::Scope;
use tether_core::life::Life;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelEndpoint {
    pub app: String,
    pub endpoint: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationRow {
    pub id: i64,
    pub key: String,
    pub interface: String,
    pub scope: Scope,
    pub life: Life,
    /// One endpoint for a peer relation, two otherwise.
    pub endpoints: Vec<RelEndpoint>,
}

impl RelationRow {
    pub fn is_peer(&self) -> bool {
        self.endpoints.len() == 1
    }
    /// This application's endpoint in the relation.
    pub fn local(&self, app: &str) -> Option<&RelEndpoint> {
        self.endpoints.iter().find(|e| e.app == app)
    }
    /// The other application's endpoint (the own one for a peer relation).
    pub fn remote(&self, app: &str) -> Option<&RelEndpoint> {
        if self.is_peer() {
            return self.endpoints.first();
        }
        self.endpoints.iter().find(|e| e.app != app)
    }
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Provider => "provider",
        Role::Requirer => "requirer",
        Role::Peer => "peer",
    }
}

fn parse_role(s: &str) -> Role {
    match s {
        "provider" => Role::Provider,
        "requirer" => Role::Requirer,
        _ => Role::Peer,
    }
}

impl Tx<'_> {
    pub fn create_relation(&self, model: &str, rel: &RelationRow) -> StoreResult<()> {
        self.tx.execute(
            "INSERT INTO relations(model, id, key, interface, scope) VALUES(?1,?2,?3,?4,?5)",
            params![model, rel.id, rel.key, rel.interface, rel.scope.as_str()],
        )?;
        for ep in &rel.endpoints {
            self.tx.execute(
                "INSERT INTO relation_endpoints(model, relation_id, app, endpoint, role) VALUES(?1,?2,?3,?4,?5)",
                params![model, rel.id, ep.app, ep.endpoint, role_str(ep.role)],
            )?;
        }
        Ok(())
    }

    pub fn relation(&self, model: &str, id: i64) -> StoreResult<Option<RelationRow>> {
        let row: Option<(i64, String, String, String, String)> = self
            .tx
            .prepare_cached("SELECT id, key, interface, scope, life FROM relations WHERE model = ?1 AND id = ?2")?
            .query_row(params![model, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()?;
        let Some((id, key, interface, scope, life)) = row else { return Ok(None) };
        let mut st = self.tx.prepare_cached(
            "SELECT app, endpoint, role FROM relation_endpoints WHERE model = ?1 AND relation_id = ?2 ORDER BY role DESC, app",
        )?;
        let endpoints = st
            .query_map(params![model, id], |r| {
                Ok(RelEndpoint { app: r.get(0)?, endpoint: r.get(1)?, role: parse_role(&r.get::<_, String>(2)?) })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(RelationRow { id, key, interface, scope: Scope::parse(&scope), life: Life::parse(&life), endpoints }))
    }

    /// All relations of a model, or only those an application takes part in, in one
    /// query (a provider with a thousand relations reads them on every hook).
    pub fn relations(&self, model: &str, app: Option<&str>) -> StoreResult<Vec<RelationRow>> {
        const COLUMNS: &str = "SELECT r.id, r.key, r.interface, r.scope, r.life, e.app, e.endpoint, e.role \
             FROM relations r JOIN relation_endpoints e ON e.model = r.model AND e.relation_id = r.id WHERE r.model = ?1";
        const ORDER: &str = "ORDER BY r.id, e.role DESC, e.app";
        let mut st = match app {
            None => self.tx.prepare_cached(&format!("{COLUMNS} {ORDER}"))?,
            Some(_) => self.tx.prepare_cached(&format!(
                "{COLUMNS} AND r.id IN (SELECT relation_id FROM relation_endpoints INDEXED BY relation_endpoints_by_app \
                 WHERE model = ?1 AND app = ?2) {ORDER}"
            ))?,
        };
        let mut rows = match app {
            None => st.query(params![model])?,
            Some(a) => st.query(params![model, a])?,
        };
        let mut out: Vec<RelationRow> = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let endpoint = RelEndpoint { app: r.get(5)?, endpoint: r.get(6)?, role: parse_role(&r.get::<_, String>(7)?) };
            match out.last_mut() {
                Some(last) if last.id == id => last.endpoints.push(endpoint),
                _ => out.push(RelationRow {
                    id,
                    key: r.get(1)?,
                    interface: r.get(2)?,
                    scope: Scope::parse(&r.get::<_, String>(3)?),
                    life: Life::parse(&r.get::<_, String>(4)?),
                    endpoints: vec![endpoint],
                }),
            }
        }
        Ok(out)
    }

    /// The ids and life of an application's relations on one endpoint.
    pub fn relation_ids_on(&self, model: &str, app: &str, endpoint: &str) -> StoreResult<Vec<(i64, Life)>> {
        let mut st = self.tx.prepare_cached(
            // INDEXED BY and CROSS JOIN keep SQLite's planner (which has no statistics) on
            // the (model, app, endpoint) index, rather than walking every endpoint of the model.
            "SELECT DISTINCT r.id, r.life FROM relation_endpoints e INDEXED BY relation_endpoints_by_app \
             CROSS JOIN relations r ON r.model = e.model AND r.id = e.relation_id \
             WHERE e.model = ?1 AND e.app = ?2 AND e.endpoint = ?3 ORDER BY r.id",
        )?;
        let rows = st
            .query_map(params![model, app, endpoint], |r| Ok((r.get(0)?, Life::parse(&r.get::<_, String>(1)?))))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub fn relation_by_key(&self, model: &str, key: &str) -> StoreResult<Option<RelationRow>> {
        let id: Option<i64> =
            self.tx.query_row("SELECT id FROM relations WHERE model = ?1 AND key = ?2", params![model, key], |r| r.get(0)).optional()?;
        id.map(|id| self.relation(model, id)).transpose().map(Option::flatten)
    }

    pub fn set_relation_life(&self, model: &str, id: i64, life: Life) -> StoreResult<()> {
        self.tx.execute("UPDATE relations SET life = ?3 WHERE model = ?1 AND id = ?2", params![model, id, life.as_str()])?;
        Ok(())
    }

    /// Removes a relation with its databags and the secret grants made to it.
    pub fn delete_relation(&self, model: &str, id: i64) -> StoreResult<()> {
        for sql in [
            "DELETE FROM relations WHERE model = ?1 AND id = ?2",
            "DELETE FROM relation_endpoints WHERE model = ?1 AND relation_id = ?2",
            "DELETE FROM databags WHERE model = ?1 AND relation_id = ?2",
            "DELETE FROM secret_grants WHERE model = ?1 AND relation_id = ?2",
        ] {
            self.tx.execute(sql, params![model, id])?;
        }
        Ok(())
    }

    /// The units on the other side of `rel` that `unit` sees: every unit of the remote
    /// application, or, on a container-scoped relation, only the unit it is attached to
    /// (its principal, or its subordinate). Never `unit` itself.
    pub fn scope_units(&self, model: &str, rel: &RelationRow, unit: &str) -> StoreResult<Vec<String>> {
        let app = unit.split('/').next().unwrap_or_default();
        let Some(remote) = rel.remote(app) else { return Ok(vec![]) };
        let units = self.units(model, Some(&remote.app))?;
        if rel.scope != Scope::Container {
            return Ok(units.into_iter().map(|u| u.name).filter(|u| u != unit).collect());
        }
        let principal = self.unit(model, unit)?.and_then(|u| u.principal);
        Ok(units
            .into_iter()
            .filter(|u| u.principal.as_deref() == Some(unit) || principal.as_deref() == Some(u.name.as_str()))
            .map(|u| u.name)
            .filter(|u| u != unit)
            .collect())
    }

    pub fn databag(&self, model: &str, relation_id: i64, owner: &str) -> StoreResult<BTreeMap<String, String>> {
        let sealed: Option<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT data FROM databags WHERE model = ?1 AND relation_id = ?2 AND owner = ?3")?
            .query_row(params![model, relation_id, owner], |r| r.get(0))
            .optional()?;
        match sealed {
            Some(s) => Ok(self.sealer.open_json(&s)?),
            None => Ok(BTreeMap::new()),
        }
    }

    pub fn set_databag(&self, model: &str, relation_id: i64, owner: &str, data: &BTreeMap<String, String>) -> StoreResult<()> {
        if data.is_empty() {
            self.tx
                .execute("DELETE FROM databags WHERE model = ?1 AND relation_id = ?2 AND owner = ?3", params![model, relation_id, owner])?;
        } else {
            self.tx.execute(
                "INSERT INTO databags(model, relation_id, owner, data) VALUES(?1,?2,?3,?4) \
                 ON CONFLICT(model, relation_id, owner) DO UPDATE SET data = excluded.data",
                params![model, relation_id, owner, self.sealer.seal_json(data)],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{temp_store, StoreError};

    #[test]
    fn databags_round_trip_sealed() {
        let (dir, s) = temp_store();
        let rel = RelationRow {
            id: 3,
            key: "di:postgresql pg:database".into(),
            interface: "postgresql_client".into(),
            scope: Scope::Global,
            life: Life::Alive,
            endpoints: vec![
                RelEndpoint { app: "di".into(), endpoint: "postgresql".into(), role: Role::Requirer },
                RelEndpoint { app: "pg".into(), endpoint: "database".into(), role: Role::Provider },
            ],
        };
        s.write(|tx| {
            tx.create_model("m", "u")?;
            tx.create_relation("m", &rel)?;
            tx.set_databag("m", 3, "pg", &BTreeMap::from([("password".to_string(), "sekr1t-value".to_string())]))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let got = s.read(|tx| Ok::<_, StoreError>((tx.relation("m", 3)?.unwrap(), tx.databag("m", 3, "pg")?))).unwrap();
        assert_eq!(got.0.remote("pg").unwrap().app, "di");
        assert_eq!(got.1["password"], "sekr1t-value");
        let raw = std::fs::read(dir.path().join("s.db")).unwrap();
        let wal = std::fs::read(dir.path().join("s.db-wal")).unwrap_or_default();
        assert!(!raw.windows(12).chain(wal.windows(12)).any(|w| w == b"sekr1t-value"));
    }
}
