//! Test support: a real MariaDB server in a fresh root-only temporary home, stopped by
//! pid when the test ends, even when it fails.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::layout::{read_pid_file, MariaDbSpec};
use crate::secret::{generate_password, SecretString};
use crate::workload::free_port;
use crate::workload::process::stop_pid_blocking;

/// Stops whatever server the unit's pid file names (and every pid it was told about).
pub struct MyGuard {
    pub unit_dir: PathBuf,
    pub pids: std::sync::Mutex<Vec<u32>>,
}

impl MyGuard {
    pub fn track(&self, pid: u32) {
        self.pids.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
    }
}

impl Drop for MyGuard {
    fn drop(&mut self) {
        let mut pids = std::mem::take(&mut *self.pids.lock().unwrap_or_else(|p| p.into_inner()));
        pids.extend(read_pid_file(&self.unit_dir));
        for pid in pids {
            stop_pid_blocking(pid, Signal::SIGTERM, Duration::from_secs(30));
        }
    }
}

/// A home, a spec inside it and the guard; the guard drops (stops the server) first.
pub struct MyTestHome {
    pub guard: MyGuard,
    pub spec: MariaDbSpec,
    pub home: tempfile::TempDir,
}

impl MyTestHome {
    /// A fresh 0700 home with a unit directory two levels down, a free port and a random
    /// root password. Nothing runs yet.
    pub fn new() -> MyTestHome {
        let home = tempfile::Builder::new().prefix("tether-my.").tempdir().expect("temp home");
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod 0700 home");
        let unit = home.path().join("units/model-uuid/mysql-k8s-0");
        let spec = MariaDbSpec::for_unit(&unit, free_port().expect("free port"), generate_password(24));
        MyTestHome { guard: MyGuard { unit_dir: unit, pids: Default::default() }, spec, home }
    }

    pub fn password(&self) -> &SecretString {
        &self.spec.root_password
    }
}
