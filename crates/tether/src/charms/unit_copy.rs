//! A unit's own copy of its external charm, and swapping it for a refreshed charm.
//!
//! Each unit runs its hooks in a writable copy of the stored charm (ops keeps
//! `.unit-state.db` there, charmcraft's `dispatch` may add a `venv/bin/python` link).
//! So that a refresh keeps what the charm itself wrote, the copy is tracked by a
//! manifest beside it, as Juju's manifest deployer does: an upgrade removes the files
//! the old charm brought, copies the new charm's files in, and only then records the new
//! manifest. Interrupted anywhere, the next attempt redoes it to the same result.

use super::local;
use crate::paths::Home;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// The copy's directory and its manifest (one relative path per line).
fn locations(home: &Home, model_uuid: &str, unit: &str) -> (PathBuf, PathBuf) {
    let unit_dir = home.unit_dir(model_uuid, unit);
    (unit_dir.join("charm"), unit_dir.join("charm.manifest"))
}

/// Every file and link under `dir`, relative to it, in a stable order.
fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in std::fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_manifest(stored: &Path, manifest: &Path) -> anyhow::Result<()> {
    let listed: Vec<String> = files(stored)?.iter().map(|p| p.display().to_string()).collect();
    let staging = manifest.with_extension("manifest.new");
    std::fs::write(&staging, listed.join("\n")).with_context(|| format!("cannot write {}", staging.display()))?;
    std::fs::rename(&staging, manifest).with_context(|| format!("cannot write {}", manifest.display()))
}

/// The unit's copy of the charm, made from the stored one on first use.
pub fn ensure(home: &Home, stored: &Path, model_uuid: &str, unit: &str) -> anyhow::Result<PathBuf> {
    let (dir, manifest) = locations(home, model_uuid, unit);
    if dir.is_dir() {
        return Ok(dir);
    }
    let staging = dir.with_extension("staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    local::copy_dir(stored, &staging).with_context(|| format!("cannot copy the charm to {}", staging.display()))?;
    write_manifest(stored, &manifest)?;
    std::fs::rename(&staging, &dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Replaces the old charm's files in the unit's copy with the stored (new) charm's,
/// keeping every file the charm made itself. A copy from before manifests were kept
/// counts every file but top-level dotfiles (ops' state) as the old charm's.
pub fn upgrade(home: &Home, stored: &Path, model_uuid: &str, unit: &str) -> anyhow::Result<PathBuf> {
    let (dir, manifest) = locations(home, model_uuid, unit);
    if !dir.is_dir() {
        return ensure(home, stored, model_uuid, unit);
    }
    let old: Vec<PathBuf> = match std::fs::read_to_string(&manifest) {
        Ok(text) => text.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect(),
        Err(_) => files(&dir)?.into_iter().filter(|p| !(p.components().count() == 1 && p.to_string_lossy().starts_with('.'))).collect(),
    };
    for rel in &old {
        // Only paths inside the copy: a manifest is ours, but stay inside regardless.
        if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            continue;
        }
        match std::fs::remove_file(dir.join(rel)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", dir.join(rel).display()))
            }
            _ => {}
        }
    }
    local::copy_dir(stored, &dir).with_context(|| format!("cannot copy the refreshed charm to {}", dir.display()))?;
    write_manifest(stored, &manifest)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_swaps_the_charms_files_and_keeps_the_units_own() {
        let home_dir = tempfile::tempdir().unwrap();
        let home = Home::at(home_dir.path());
        let (v1, v2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir_all(v1.path().join("src")).unwrap();
        std::fs::write(v1.path().join("src/old.py"), "v1").unwrap();
        std::fs::write(v1.path().join("dispatch"), "v1").unwrap();
        std::fs::write(v2.path().join("dispatch"), "v2").unwrap();
        std::os::unix::fs::symlink("dispatch", v2.path().join("link")).unwrap();

        let dir = ensure(&home, v1.path(), "m", "a/0").unwrap();
        std::fs::write(dir.join(".unit-state.db"), "state").unwrap();
        std::fs::write(dir.join("src/made-by-charm"), "mine").unwrap();
        for _ in 0..2 {
            // Twice: an upgrade interrupted and redone ends the same.
            let dir = upgrade(&home, v2.path(), "m", "a/0").unwrap();
            assert_eq!(std::fs::read_to_string(dir.join("dispatch")).unwrap(), "v2");
            assert_eq!(std::fs::read_link(dir.join("link")).unwrap(), PathBuf::from("dispatch"));
            assert!(!dir.join("src/old.py").exists());
            assert_eq!(std::fs::read_to_string(dir.join(".unit-state.db")).unwrap(), "state");
            assert_eq!(std::fs::read_to_string(dir.join("src/made-by-charm")).unwrap(), "mine");
        }
    }
}
