//! Resources attached at deploy (`deploy --resource NAME=PATH`), as Juju's local
//! resources: each file is copied into the controller's home, owner-only, so the charm's
//! `resource-get NAME` hands back a path that stays valid whatever happens to the
//! original. Everything is checked and copied into a staging directory before the
//! application is recorded; a refused deploy leaves nothing behind.

use super::error::{short, ApiError};
use crate::paths::Home;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tether_core::charm_meta::CharmMeta;

/// Resources copied for an application not recorded yet.
pub struct StagedResources {
    staging: PathBuf,
    dest: PathBuf,
    /// Name → the path the file will have once the application is recorded.
    pub paths: BTreeMap<String, String>,
}

/// Checks every `NAME=PATH` against the charm's metadata and copies the files into a
/// staging directory. `None` when nothing is attached.
pub fn stage(home: &Home, model_uuid: &str, app: &str, meta: &CharmMeta, args: &[String]) -> Result<Option<StagedResources>, ApiError> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut wanted = BTreeMap::new();
    for arg in args {
        let (name, path) = arg
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| ApiError::invalid(format!("invalid --resource {:?}: expected NAME=PATH", short(arg))))?;
        if !meta.resources.iter().any(|r| r.name == name) {
            return Err(ApiError::invalid(format!("invalid resource name {:?}: not found in charm metadata", short(name))));
        }
        let path = Path::new(path);
        if !path.is_absolute() || !path.is_file() {
            return Err(ApiError::invalid(format!("resource {name:?}: {:?} is not a readable file", short(&path.display().to_string()))));
        }
        wanted.insert(name.to_string(), path.to_path_buf());
    }
    let dest = home.resources_dir(model_uuid, app);
    let staging = dest.with_file_name(format!(".staging-{}", uuid::Uuid::new_v4()));
    let mut staged = StagedResources { staging, dest, paths: BTreeMap::new() };
    match staged.copy_in(wanted) {
        Ok(()) => Ok(Some(staged)),
        Err(e) => {
            staged.discard();
            Err(e)
        }
    }
}

impl StagedResources {
    fn copy_in(&mut self, wanted: BTreeMap<String, PathBuf>) -> Result<(), ApiError> {
        let fail = |what: &str, e: std::io::Error| ApiError::invalid(format!("cannot store resources: {what}: {e}"));
        std::fs::create_dir_all(&self.staging).map_err(|e| fail("creating the directory", e))?;
        for (name, from) in wanted {
            let data = std::fs::read(&from).map_err(|e| ApiError::invalid(format!("resource {name:?}: cannot read it: {e}")))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(self.staging.join(&name))
                .map_err(|e| fail("creating the copy", e))?;
            f.write_all(&data).map_err(|e| fail("writing the copy", e))?;
            self.paths.insert(name.clone(), self.dest.join(&name).display().to_string());
        }
        Ok(())
    }

    /// The application is recorded: the staged files take their final place.
    pub fn commit(self) {
        let _ = std::fs::remove_dir_all(&self.dest);
        let _ = std::fs::rename(&self.staging, &self.dest);
    }

    /// The deploy was refused: nothing stays.
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}
