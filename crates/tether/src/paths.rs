//! Where tether keeps its state: everything lives under `$TETHER_HOME`
//! (default `~/.local/share/tether`), so one directory is the whole controller.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `$TETHER_HOME`, else `$HOME/.local/share/tether`.
    pub fn from_env() -> Home {
        let root = match std::env::var_os("TETHER_HOME") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => {
                let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
                home.join(".local/share/tether")
            }
        };
        let root = if root.is_absolute() { root } else { std::env::current_dir().unwrap_or_default().join(root) };
        Home { root }
    }

    /// A home at `root`, for tests: they point it into a temp dir instead of setting
    /// `$TETHER_HOME`, which tests running in parallel in one process would share.
    #[cfg(test)]
    pub(crate) fn at(root: &Path) -> Home {
        Home { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The SQLite model store (WAL mode).
    pub fn store(&self) -> PathBuf {
        self.root.join("store.db")
    }
    /// 32 random bytes that encrypt secrets and databags at rest; mode 0600.
    pub fn key(&self) -> PathBuf {
        self.root.join("secret.key")
    }
    /// The control socket; mode 0600 inside a 0700 home.
    pub fn socket(&self) -> PathBuf {
        self.root.join("controller.sock")
    }
    /// The token every request must carry; mode 0600.
    pub fn token(&self) -> PathBuf {
        self.root.join("controller.token")
    }
    /// The daemon's pid, written when it listens, removed when it exits.
    pub fn pid(&self) -> PathBuf {
        self.root.join("controller.pid")
    }
    /// The daemon's own log (stdout/stderr when started in the background).
    pub fn controller_log(&self) -> PathBuf {
        self.root.join("logs/controller.log")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The resources attached to an application at deploy (`resources/<model-uuid>/<app>`).
    pub fn resources_dir(&self, model_uuid: &str, app: &str) -> PathBuf {
        self.root.join("resources").join(model_uuid).join(app)
    }
    /// Where `deploy` keeps a local charm of an application (`charms/<model-uuid>/<app>`).
    pub fn charm_dir(&self, model_uuid: &str, app: &str) -> PathBuf {
        self.root.join("charms").join(model_uuid).join(app)
    }
    /// A unit's workload directory (`units/<model-uuid>/<app>-<n>`).
    pub fn unit_dir(&self, model_uuid: &str, unit: &str) -> PathBuf {
        self.root.join("units").join(model_uuid).join(unit.replace('/', "-"))
    }
}
