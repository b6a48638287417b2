//! Juju secrets: owned by an application or a unit, with revisions, labels and
//! grants to relations. Contents are sealed at rest.

use super::error::StoreResult;
use super::tx::{now, Tx};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOwner {
    App(String),
    Unit(String),
    /// A user secret (`add-secret`), owned by the model.
    Model(String),
}

impl SecretOwner {
    fn stored(&self) -> String {
        match self {
            SecretOwner::App(a) => format!("app:{a}"),
            SecretOwner::Unit(u) => format!("unit:{u}"),
            SecretOwner::Model(m) => format!("model:{m}"),
        }
    }
    pub(super) fn parse(s: &str) -> SecretOwner {
        match s.split_once(':') {
            Some(("unit", u)) => SecretOwner::Unit(u.to_string()),
            Some(("model", m)) => SecretOwner::Model(m.to_string()),
            Some((_, a)) => SecretOwner::App(a.to_string()),
            None => SecretOwner::App(s.to_string()),
        }
    }
    /// The application that owns the secret (directly or through its unit).
    pub fn app(&self) -> &str {
        match self {
            SecretOwner::App(a) => a,
            SecretOwner::Unit(u) => u.split('/').next().unwrap_or(u),
            SecretOwner::Model(_) => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    pub id: String,
    pub owner: SecretOwner,
    pub label: Option<String>,
    pub description: Option<String>,
    pub revision: i64,
    pub created: String,
    pub updated: String,
}

pub type SecretContent = BTreeMap<String, String>;

/// A new secret id in Juju's shape: 20 characters of base32hex, lowercase.
pub fn new_secret_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Accepts `secret:ID`, `secret://MODEL/ID` or a bare `ID`.
pub fn secret_id_from_uri(uri: &str) -> String {
    let s = uri.strip_prefix("secret:").unwrap_or(uri);
    let s = s.strip_prefix("//").unwrap_or(s);
    s.rsplit('/').next().unwrap_or(s).to_string()
}

fn secret_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        id: r.get(0)?,
        owner: SecretOwner::parse(&r.get::<_, String>(1)?),
        label: r.get(2)?,
        description: r.get(3)?,
        revision: r.get(4)?,
        created: r.get(5)?,
        updated: r.get(6)?,
    })
}

const COLS: &str = "id, owner, label, description, revision, created, updated";

impl Tx<'_> {
    pub fn create_secret(
        &self,
        model: &str,
        id: &str,
        owner: &SecretOwner,
        label: Option<&str>,
        description: Option<&str>,
        content: &SecretContent,
    ) -> StoreResult<()> {
        let ts = now();
        self.tx.execute(
            "INSERT INTO secrets(model, id, owner, label, description, revision, created, updated) VALUES(?1,?2,?3,?4,?5,1,?6,?6)",
            params![model, id, owner.stored(), label, description, ts],
        )?;
        self.tx.execute(
            "INSERT INTO secret_revisions(model, secret_id, revision, content, created) VALUES(?1,?2,1,?3,?4)",
            params![model, id, self.sealer.seal_json(content), ts],
        )?;
        Ok(())
    }

    /// Stores new content as a new revision, only if it differs from the latest.
    /// Keeps at most the two newest revisions (older ones are pruned).
    pub fn update_secret(&self, model: &str, id: &str, content: &SecretContent) -> StoreResult<i64> {
        let Some(row) = self.secret(model, id)? else { return Ok(0) };
        if self.secret_content(model, id, None)?.as_ref() == Some(content) {
            return Ok(row.revision);
        }
        let rev = row.revision + 1;
        let ts = now();
        self.tx.execute("UPDATE secrets SET revision = ?3, updated = ?4 WHERE model = ?1 AND id = ?2", params![model, id, rev, ts])?;
        self.tx.execute(
            "INSERT INTO secret_revisions(model, secret_id, revision, content, created) VALUES(?1,?2,?3,?4,?5)",
            params![model, id, rev, self.sealer.seal_json(content), ts],
        )?;
        self.tx
            .execute("DELETE FROM secret_revisions WHERE model = ?1 AND secret_id = ?2 AND revision < ?3", params![model, id, rev - 1])?;
        Ok(rev)
    }

    pub fn set_secret_meta(&self, model: &str, id: &str, label: Option<&str>, description: Option<&str>) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE secrets SET label = COALESCE(?3, label), description = COALESCE(?4, description) WHERE model = ?1 AND id = ?2",
            params![model, id, label, description],
        )?;
        Ok(())
    }

    pub fn secret(&self, model: &str, id: &str) -> StoreResult<Option<SecretRow>> {
        Ok(self.tx.query_row(&format!("SELECT {COLS} FROM secrets WHERE model = ?1 AND id = ?2"), [model, id], secret_row).optional()?)
    }

    /// A secret owned by `owner`'s application (or unit) with this label.
    pub fn secret_by_label(&self, model: &str, owner: &SecretOwner, label: &str) -> StoreResult<Option<SecretRow>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {COLS} FROM secrets WHERE model = ?1 AND owner = ?2 AND label = ?3"),
                params![model, owner.stored(), label],
                secret_row,
            )
            .optional()?)
    }

    pub fn secrets(&self, model: &str) -> StoreResult<Vec<SecretRow>> {
        let mut st = self.tx.prepare(&format!("SELECT {COLS} FROM secrets WHERE model = ?1 ORDER BY created, id"))?;
        let rows = st.query_map([model], secret_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The content of a revision (the latest when `revision` is None).
    pub fn secret_content(&self, model: &str, id: &str, revision: Option<i64>) -> StoreResult<Option<SecretContent>> {
        let sealed: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT content FROM secret_revisions WHERE model = ?1 AND secret_id = ?2 AND (?3 IS NULL OR revision = ?3) ORDER BY revision DESC LIMIT 1",
                params![model, id, revision],
                |r| r.get(0),
            )
            .optional()?;
        sealed.map(|s| self.sealer.open_json(&s).map_err(Into::into)).transpose()
    }

    pub fn delete_secret(&self, model: &str, id: &str) -> StoreResult<()> {
        for sql in [
            "DELETE FROM secrets WHERE model = ?1 AND id = ?2",
            "DELETE FROM secret_revisions WHERE model = ?1 AND secret_id = ?2",
            "DELETE FROM secret_grants WHERE model = ?1 AND secret_id = ?2",
            "DELETE FROM secret_timers WHERE model = ?1 AND secret_id = ?2",
        ] {
            self.tx.execute(sql, [model, id])?;
        }
        Ok(())
    }

    pub fn grant_secret(&self, model: &str, id: &str, relation_id: i64, app: &str) -> StoreResult<()> {
        self.tx.execute(
            "INSERT OR IGNORE INTO secret_grants(model, secret_id, relation_id, app) VALUES(?1,?2,?3,?4)",
            params![model, id, relation_id, app],
        )?;
        Ok(())
    }

    /// Removes grants on a relation: all of them (`None`), an application's (its unit
    /// grants too), or one unit's (`app/N`).
    pub fn revoke_secret(&self, model: &str, id: &str, relation_id: i64, grantee: Option<&str>) -> StoreResult<()> {
        self.tx.execute(
            "DELETE FROM secret_grants WHERE model = ?1 AND secret_id = ?2 AND relation_id = ?3 \
             AND (?4 IS NULL OR app = ?4 OR (instr(?4, '/') = 0 AND substr(app, 1, length(?4) + 1) = ?4 || '/'))",
            params![model, id, relation_id, grantee],
        )?;
        Ok(())
    }

    /// `(relation id, grantee)` pairs the secret is granted to; a grantee is an
    /// application, or one unit (`app/N`) for a `secret-grant --unit`.
    pub fn secret_grants(&self, model: &str, id: &str) -> StoreResult<Vec<(i64, String)>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT relation_id, app FROM secret_grants WHERE model = ?1 AND secret_id = ?2 ORDER BY relation_id")?;
        let rows = st.query_map([model, id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Whether `app` may read the secret: it owns it or it was granted to it.
    /// Whether `unit` may read the secret: its application owns it, or it is granted to
    /// the application or to that unit.
    pub fn secret_readable_by(&self, model: &str, id: &str, unit: &str) -> StoreResult<bool> {
        let Some(row) = self.secret(model, id)? else { return Ok(false) };
        let app = unit.split('/').next().unwrap_or(unit);
        Ok(row.owner.app() == app || self.secret_grants(model, id)?.iter().any(|(_, g)| g == app || g == unit))
    }

    /// Removes one revision that is not the newest (`secret-remove --revision`).
    pub fn delete_secret_revision(&self, model: &str, id: &str, revision: i64) -> StoreResult<()> {
        self.tx.execute(
            "DELETE FROM secret_revisions WHERE model = ?1 AND secret_id = ?2 AND revision = ?3 \
             AND revision < (SELECT revision FROM secrets WHERE model = ?1 AND id = ?2)",
            params![model, id, revision],
        )?;
        Ok(())
    }

    /// Secrets owned by an application or its units (for remove-application).
    pub fn secrets_owned_by_app(&self, model: &str, app: &str) -> StoreResult<Vec<String>> {
        Ok(self.secrets(model)?.into_iter().filter(|s| s.owner.app() == app).map(|s| s.id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{temp_store, StoreError};

    #[test]
    fn revisions_grants_and_labels() {
        let (_d, s) = temp_store();
        let owner = SecretOwner::App("pg".into());
        let id = new_secret_id();
        assert_eq!(id.len(), 20);
        let c1 = SecretContent::from([("password".into(), "p1".into())]);
        let c2 = SecretContent::from([("password".into(), "p2".into())]);
        let (rev_same, rev_new, readable, label) = s
            .write(|tx| {
                tx.create_model("m", "u")?;
                tx.create_secret("m", &id, &owner, Some("database.3.user.secret"), None, &c1)?;
                let same = tx.update_secret("m", &id, &c1)?;
                let new = tx.update_secret("m", &id, &c2)?;
                tx.grant_secret("m", &id, 3, "di")?;
                let readable = (tx.secret_readable_by("m", &id, "di/0")?, tx.secret_readable_by("m", &id, "other/0")?);
                let label = tx.secret_by_label("m", &owner, "database.3.user.secret")?.map(|r| r.id);
                Ok::<_, StoreError>((same, new, readable, label))
            })
            .unwrap();
        assert_eq!((rev_same, rev_new), (1, 2));
        assert_eq!(readable, (true, false));
        assert_eq!(label.as_deref(), Some(id.as_str()));
        assert_eq!(secret_id_from_uri(&format!("secret:{id}")), id);
        assert_eq!(secret_id_from_uri(&format!("secret://abc/{id}")), id);
        let content = s.read(|tx| tx.secret_content("m", &id, None)).unwrap().unwrap();
        assert_eq!(content["password"], "p2");
    }

    #[test]
    fn a_unit_grant_reaches_that_unit_only_and_an_app_revoke_removes_it() {
        let (_d, s) = temp_store();
        let id = new_secret_id();
        let owner = SecretOwner::App("pg".into());
        let seen = s
            .write(|tx| {
                tx.create_secret("m", &id, &owner, None, None, &std::collections::BTreeMap::from([("k".to_string(), "v".to_string())]))?;
                tx.grant_secret("m", &id, 3, "di/1")?;
                let before = (tx.secret_readable_by("m", &id, "di/1")?, tx.secret_readable_by("m", &id, "di/0")?);
                tx.revoke_secret("m", &id, 3, Some("di"))?;
                let after = tx.secret_readable_by("m", &id, "di/1")?;
                Ok::<_, StoreError>((before, after))
            })
            .unwrap();
        assert_eq!(seen, ((true, false), false));
    }
}
