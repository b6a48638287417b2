//! Per-application key/value bags that are neither relation data nor unit state: the
//! leader settings (`leader-set`/`leader-get`), the resources attached at deploy
//! (`resource-get`) and application settings such as `trust` (`credential-get`). Sealed at rest like databags (charms put passwords in leader
//! settings); removed with the application or its model.

use super::error::StoreResult;
use super::tx::Tx;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

/// What a bag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppBag {
    LeaderSettings,
    /// Resource name → path of the file the controller keeps.
    Resources,
    /// Application settings that are not charm config (`trust`).
    Settings,
}

impl AppBag {
    fn kind(self) -> &'static str {
        match self {
            AppBag::LeaderSettings => "leader-settings",
            AppBag::Resources => "resources",
            AppBag::Settings => "settings",
        }
    }
}

impl Tx<'_> {
    pub fn app_bag(&self, model: &str, app: &str, bag: AppBag) -> StoreResult<BTreeMap<String, String>> {
        let sealed: Option<Vec<u8>> = self
            .tx
            .prepare_cached("SELECT data FROM app_bags WHERE model = ?1 AND app = ?2 AND kind = ?3")?
            .query_row(params![model, app, bag.kind()], |r| r.get(0))
            .optional()?;
        match sealed {
            Some(s) => Ok(self.sealer.open_json(&s)?),
            None => Ok(BTreeMap::new()),
        }
    }

    pub fn set_app_bag(&self, model: &str, app: &str, bag: AppBag, data: &BTreeMap<String, String>) -> StoreResult<()> {
        if data.is_empty() {
            self.tx.execute("DELETE FROM app_bags WHERE model = ?1 AND app = ?2 AND kind = ?3", params![model, app, bag.kind()])?;
        } else {
            self.tx.execute(
                "INSERT INTO app_bags(model, app, kind, data) VALUES(?1, ?2, ?3, ?4) \
                 ON CONFLICT(model, app, kind) DO UPDATE SET data = excluded.data",
                params![model, app, bag.kind(), self.sealer.seal_json(data)],
            )?;
        }
        Ok(())
    }

    /// Drops every bag of an application (it is being removed).
    pub fn delete_app_bags(&self, model: &str, app: &str) -> StoreResult<()> {
        self.tx.execute("DELETE FROM app_bags WHERE model = ?1 AND app = ?2", params![model, app])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::AppBag;
    use crate::store::temp_store;
    use std::collections::BTreeMap;

    #[test]
    fn bags_are_per_app_and_kind_sealed_and_removed_with_the_app() {
        let (dir, s) = temp_store();
        let settings = BTreeMap::from([("password".to_string(), "very-secret-value".to_string())]);
        s.write(|tx| tx.set_app_bag("m", "a", AppBag::LeaderSettings, &settings)).unwrap();
        assert_eq!(s.read(|tx| tx.app_bag("m", "a", AppBag::LeaderSettings)).unwrap(), settings);
        assert!(s.read(|tx| tx.app_bag("m", "a", AppBag::Resources)).unwrap().is_empty());
        assert!(s.read(|tx| tx.app_bag("m", "b", AppBag::LeaderSettings)).unwrap().is_empty());
        s.write(|tx| tx.delete_app_bags("m", "a")).unwrap();
        assert!(s.read(|tx| tx.app_bag("m", "a", AppBag::LeaderSettings)).unwrap().is_empty());
        drop(s);
        let raw = std::fs::read(dir.path().join("s.db")).unwrap();
        assert!(!raw.windows(17).any(|w| w == b"very-secret-value"), "sealed at rest");
    }
}
