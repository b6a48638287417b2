//! Local charms: a charm directory or a packed `.charm` file deployed by path.
//!
//! The charm is copied (or unpacked, keeping Unix modes) into the controller's home so
//! that later edits to the source do not change a deployed application. A charm with
//! code (`dispatch` or `hooks/`) runs as an external charm (the external charm module). A
//! charm without code is a *passive* application: its units exist, join relations and
//! hold what the other side writes; its status is `active`.

use crate::engine::charm::Charm;
use crate::engine::context::HookContext;
use std::path::{Path, PathBuf};
use tether_core::charm_meta::CharmMeta;
use tether_core::events::{Event, HookKind};
use tether_core::status::WorkloadStatus;

#[derive(Debug, thiserror::Error)]
pub enum LocalCharmError {
    #[error("charm path {0:?} not found")]
    NotFound(String),
    #[error("charm path {0:?} has neither metadata.yaml nor charmcraft.yaml")]
    NoMetadata(String),
    #[error("{0}")]
    Meta(#[from] tether_core::charm_meta::MetaError),
    #[error("cannot read charm {path:?}: {reason}")]
    Read { path: String, reason: String },
}

fn read_opt(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// Parses a charm directory's YAML files.
pub fn read_meta(dir: &Path) -> Result<CharmMeta, LocalCharmError> {
    let shown = dir.display().to_string();
    let file =
        ["metadata.yaml", "charmcraft.yaml"].into_iter().find(|f| dir.join(f).is_file()).ok_or(LocalCharmError::NoMetadata(shown))?;
    let metadata =
        std::fs::read_to_string(dir.join(file)).map_err(|e| tether_core::charm_meta::MetaError::Metadata(format!("{file}: {e}")))?;
    Ok(CharmMeta::from_yaml(&metadata, read_opt(dir, "config.yaml").as_deref(), read_opt(dir, "actions.yaml").as_deref())?)
}

/// Whether the charm has code to run (an external charm) or is passive.
pub fn has_code(dir: &Path) -> bool {
    dir.join("dispatch").exists() || dir.join("hooks").is_dir()
}

/// Copies or unpacks the charm at `source` into `dest` (replacing it) and returns its metadata.
pub fn install(source: &Path, dest: &Path) -> Result<CharmMeta, LocalCharmError> {
    let shown = source.display().to_string();
    if !source.exists() {
        return Err(LocalCharmError::NotFound(shown));
    }
    let staging = dest.with_extension("staging");
    let _ = std::fs::remove_dir_all(&staging);
    // Whatever goes wrong, nothing staged is left behind, and errors name the user's path.
    let staged = stage(source, &staging).map_err(|e| e.naming(&staging, &shown));
    let meta = match staged {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&staging, dest).map_err(|e| LocalCharmError::Read { path: dest.display().to_string(), reason: e.to_string() })?;
    Ok(meta)
}

/// Copies or unpacks the charm into `staging` and reads its metadata.
fn stage(source: &Path, staging: &Path) -> Result<CharmMeta, LocalCharmError> {
    let read_err = |e: std::io::Error| LocalCharmError::Read { path: source.display().to_string(), reason: e.to_string() };
    std::fs::create_dir_all(staging).map_err(read_err)?;
    if source.is_dir() {
        copy_dir(source, staging).map_err(read_err)?;
    } else {
        unpack(source, staging)?;
    }
    read_meta(staging)
}

impl LocalCharmError {
    /// The same error, naming `shown` wherever it named the internal `staged` path.
    fn naming(self, staged: &Path, shown: &str) -> LocalCharmError {
        let staged = staged.display().to_string();
        match self {
            LocalCharmError::NoMetadata(p) if p == staged => LocalCharmError::NoMetadata(shown.to_string()),
            LocalCharmError::Read { path, reason } if path == staged => LocalCharmError::Read { path: shown.to_string(), reason },
            other => other,
        }
    }
}

/// Reads metadata straight from a source path (directory or `.charm`), for `info`.
pub fn inspect(source: &Path) -> Result<CharmMeta, LocalCharmError> {
    if source.is_dir() {
        return read_meta(source);
    }
    let tmp = std::env::temp_dir().join(format!("tether-inspect-{}", uuid::Uuid::new_v4()));
    let result = std::fs::create_dir_all(&tmp)
        .map_err(|e| LocalCharmError::Read { path: tmp.display().to_string(), reason: e.to_string() })
        .and_then(|_| unpack(source, &tmp))
        .and_then(|_| read_meta(&tmp));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        } else if kind.is_symlink() {
            // Into a unit's copy being upgraded, a link of the same name may be there.
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        }
    }
    Ok(())
}

fn unpack(archive: &Path, to: &Path) -> Result<(), LocalCharmError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = archive.display().to_string();
    let err = |reason: String| LocalCharmError::Read { path: shown.clone(), reason };
    let file = std::fs::File::open(archive).map_err(|e| err(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| err(format!("not a charm archive: {e}")))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| err(e.to_string()))?;
        let Some(rel) = entry.enclosed_name() else { return Err(err("archive entry escapes the charm directory".into())) };
        let target: PathBuf = to.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| err(e.to_string()))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let mut out = std::fs::File::create(&target).map_err(|e| err(e.to_string()))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| err(e.to_string()))?;
        if let Some(mode) = entry.unix_mode() {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o777)).map_err(|e| err(e.to_string()))?;
        }
    }
    Ok(())
}

/// A charm with metadata only: units exist, join relations, hold what others write.
pub struct PassiveCharm {
    pub meta: CharmMeta,
}

#[async_trait::async_trait]
impl Charm for PassiveCharm {
    fn meta(&self) -> CharmMeta {
        self.meta.clone()
    }

    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()> {
        match event.kind {
            HookKind::Start => ctx.set_status(WorkloadStatus::Active, "")?,
            HookKind::Action => ctx.action_fail(&format!("action not implemented on unit {:?}", ctx.unit)),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_a_passive_charm_directory() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("metadata.yaml"), "name: mattermost-k8s\nrequires:\n  db:\n    interface: pgsql\n").unwrap();
        let home = tempfile::tempdir().unwrap();
        let dest = home.path().join("charm");
        let meta = install(src.path(), &dest).unwrap();
        assert_eq!(meta.name, "mattermost-k8s");
        assert!(dest.join("metadata.yaml").exists());
    }

    #[test]
    fn refuses_missing_paths_and_broken_metadata() {
        let home = tempfile::tempdir().unwrap();
        let err = install(Path::new("/nonexistent/charm"), &home.path().join("x")).unwrap_err();
        assert_eq!(err.to_string(), "charm path \"/nonexistent/charm\" not found");
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("metadata.yaml"), "name: [unclosed\n").unwrap();
        assert!(install(src.path(), &home.path().join("y")).is_err());
        assert!(!home.path().join("y").exists());
    }
}
