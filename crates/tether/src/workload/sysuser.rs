//! Running a database server as its own system user when tether runs as root.
//!
//! Servers such as PostgreSQL refuse to run as root. When tether is root, the server runs
//! as its system user (`postgres`), its unit and data directories are owned by that user
//! with mode 0700, and every ancestor directory the user could not traverse gets one POSIX
//! ACL entry granting traverse only (`setfacl -m u:<user>:x`), so a home that only root can
//! enter (as `mktemp -d` makes it) stays closed to everyone else. Nothing goes through a
//! shell. When tether is not root everything simply runs as the current user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::error::WorkloadError;

/// The identity a server runs as when tether is root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `Some(user)` when tether is root (the server must not be), `None` otherwise.
pub fn service_user(name: &str) -> Result<Option<RunAs>, WorkloadError> {
    if !is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(Some(RunAs { uid: u.uid.as_raw(), gid: u.gid.as_raw() })),
        _ => Err(WorkloadError::NoSystemUser { user: name.to_string() }),
    }
}

/// Makes `dir` exist with mode 0700, owned by `run_as` when given.
pub fn own_dir(dir: &Path, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let err = |step, source| WorkloadError::Prepare { step, path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(|e| err("create directory", e))?;
    if let Some(r) = run_as {
        std::os::unix::fs::chown(dir, Some(r.uid), Some(r.gid)).map_err(|e| err("chown", e))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| err("chmod 0700", e))
}

/// Gives `user` (resolved as `run_as`) traverse on every ancestor of `dir` it lacks.
pub fn grant_traverse(dir: &Path, user: &str, run_as: Option<RunAs>) -> Result<(), WorkloadError> {
    let Some(r) = run_as else { return Ok(()) };
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    ancestors.reverse();
    for a in ancestors {
        let meta = std::fs::metadata(a).map_err(|e| WorkloadError::Prepare { step: "stat", path: a.to_path_buf(), source: e })?;
        if can_traverse(meta.uid(), meta.gid(), meta.mode(), r) {
            continue;
        }
        let out = std::process::Command::new("setfacl").arg("-m").arg(format!("u:{user}:x")).arg(a).output().map_err(|e| {
            WorkloadError::Acl { path: a.to_path_buf(), user: user.into(), detail: format!("setfacl: {e} (install the acl package)") }
        })?;
        if !out.status.success() {
            let detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(WorkloadError::Acl { path: a.to_path_buf(), user: user.into(), detail });
        }
    }
    Ok(())
}

/// Whether the mode bits let `r` traverse a directory (ACL entries are not consulted, so
/// a directory already opened by ACL gets the same entry again, which is harmless).
fn can_traverse(uid: u32, gid: u32, mode: u32, r: RunAs) -> bool {
    if uid == r.uid {
        mode & 0o100 != 0
    } else if gid == r.gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traverse_follows_owner_group_other() {
        let r = RunAs { uid: 100, gid: 200 };
        assert!(can_traverse(100, 0, 0o700, r));
        assert!(!can_traverse(0, 0, 0o700, r));
        assert!(can_traverse(0, 200, 0o710, r));
        assert!(!can_traverse(0, 200, 0o701, r));
        assert!(can_traverse(0, 0, 0o1777, r));
    }
}
