//! When secrets rotate and expire: one row per secret that has a rotation policy or an
//! expiry, read by the controller's secret timer to queue `secret-rotate` and
//! `secret-expired` on the owner. Times are milliseconds since the epoch.

use super::error::StoreResult;
use super::secrets::SecretOwner;
use super::tx::Tx;
use rusqlite::{params, OptionalExtension};

/// A secret's rotation and expiry as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretTiming {
    pub rotate: Option<String>,
    pub next_rotate: Option<i64>,
    pub expire_at: Option<i64>,
    /// The revision the expiry applies to.
    pub expire_rev: Option<i64>,
}

/// What fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Rotate,
    /// The revision that expired.
    Expire(i64),
}

/// One due timer of one secret.
#[derive(Debug, Clone)]
pub struct DueTimer {
    pub model: String,
    pub secret_id: String,
    pub owner: SecretOwner,
    pub due: Due,
    pub rotate: Option<String>,
}

impl Tx<'_> {
    pub fn secret_timing(&self, model: &str, id: &str) -> StoreResult<SecretTiming> {
        let row = self
            .tx
            .prepare_cached("SELECT rotate, next_rotate, expire_at, expire_rev FROM secret_timers WHERE model = ?1 AND secret_id = ?2")?
            .query_row([model, id], |r| {
                Ok(SecretTiming { rotate: r.get(0)?, next_rotate: r.get(1)?, expire_at: r.get(2)?, expire_rev: r.get(3)? })
            })
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    /// Stores a secret's timing (a row with nothing set is removed).
    pub fn set_secret_timing(&self, model: &str, id: &str, t: &SecretTiming) -> StoreResult<()> {
        if t.rotate.is_none() && t.next_rotate.is_none() && t.expire_at.is_none() {
            self.tx.execute("DELETE FROM secret_timers WHERE model = ?1 AND secret_id = ?2", [model, id])?;
            return Ok(());
        }
        self.tx.execute(
            "INSERT INTO secret_timers(model, secret_id, rotate, next_rotate, expire_at, expire_rev) VALUES(?1,?2,?3,?4,?5,?6) \
             ON CONFLICT(model, secret_id) DO UPDATE SET rotate = excluded.rotate, next_rotate = excluded.next_rotate, \
             expire_at = excluded.expire_at, expire_rev = excluded.expire_rev",
            params![model, id, t.rotate, t.next_rotate, t.expire_at, t.expire_rev],
        )?;
        Ok(())
    }

    /// Every rotation and expiry due at `now_ms`, across models.
    pub fn due_secret_timers(&self, now_ms: i64) -> StoreResult<Vec<DueTimer>> {
        let mut st = self.tx.prepare_cached(
            "SELECT t.model, t.secret_id, s.owner, t.rotate, t.next_rotate, t.expire_at, t.expire_rev FROM secret_timers t \
             JOIN secrets s ON s.model = t.model AND s.id = t.secret_id WHERE t.next_rotate <= ?1 OR t.expire_at <= ?1",
        )?;
        let rows = st.query_map([now_ms], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (model, secret_id, owner, rotate, next_rotate, expire_at, expire_rev) = row?;
            let owner = SecretOwner::parse(&owner);
            if next_rotate.is_some_and(|n| n <= now_ms) {
                out.push(DueTimer {
                    model: model.clone(),
                    secret_id: secret_id.clone(),
                    owner: owner.clone(),
                    due: Due::Rotate,
                    rotate: rotate.clone(),
                });
            }
            if expire_at.is_some_and(|e| e <= now_ms) {
                out.push(DueTimer { model, secret_id, owner, due: Due::Expire(expire_rev.unwrap_or(0)), rotate });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{new_secret_id, temp_store};
    use std::collections::BTreeMap;

    #[test]
    fn due_timers_are_found_and_cleared() {
        let (_d, s) = temp_store();
        let id = new_secret_id();
        s.write(|tx| {
            tx.create_secret("m", &id, &SecretOwner::App("a".into()), None, None, &BTreeMap::from([("k".into(), "v".into())]))?;
            tx.set_secret_timing(
                "m",
                &id,
                &SecretTiming { rotate: Some("hourly".into()), next_rotate: Some(100), expire_at: Some(200), expire_rev: Some(1) },
            )
        })
        .unwrap();
        assert!(s.read(|tx| tx.due_secret_timers(50)).unwrap().is_empty());
        let due = s.read(|tx| tx.due_secret_timers(150)).unwrap();
        assert_eq!(due.iter().map(|d| d.due.clone()).collect::<Vec<_>>(), [Due::Rotate]);
        assert_eq!(s.read(|tx| tx.due_secret_timers(250)).unwrap().len(), 2);
        s.write(|tx| tx.set_secret_timing("m", &id, &SecretTiming::default())).unwrap();
        assert!(s.read(|tx| tx.due_secret_timers(250)).unwrap().is_empty());
        assert_eq!(s.read(|tx| tx.secret_timing("m", &id)).unwrap(), SecretTiming::default());
    }
}
