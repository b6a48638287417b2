//! Test support: a real PostgreSQL server in a fresh root-only temporary home (as
//! `mktemp -d` makes it), stopped by pid when the test ends, even when it fails.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::server::{read_postmaster_pid, PgSpec};
use crate::secret::{generate_password, SecretString};
use crate::workload::free_port;
use crate::workload::process::stop_pid_blocking;

/// Stops whatever server runs on `data_dir` (and every pid it was told about) on drop.
pub struct ServerGuard {
    pub data_dir: PathBuf,
    pub pids: std::sync::Mutex<Vec<u32>>,
}

impl ServerGuard {
    pub fn track(&self, pid: u32) {
        self.pids.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let mut pids = std::mem::take(&mut *self.pids.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some((pid, _)) = read_postmaster_pid(&self.data_dir) {
            pids.push(pid);
        }
        for pid in pids {
            stop_pid_blocking(pid, Signal::SIGINT, Duration::from_secs(20));
        }
    }
}

/// A home, a spec inside it and the guard. Fields drop in order: the guard stops the
/// server before the temporary directory is deleted.
pub struct TestHome {
    pub guard: ServerGuard,
    pub spec: PgSpec,
    pub home: tempfile::TempDir,
}

impl TestHome {
    /// A fresh 0700 root-owned home with a unit directory two levels down, a free port
    /// and a random operator password. Nothing runs yet.
    pub fn new() -> TestHome {
        let home = tempfile::Builder::new().prefix("tether-test.").tempdir().expect("temp home");
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod 0700 home");
        let unit = home.path().join("units/model-uuid/postgresql-k8s-0");
        let spec = PgSpec::for_unit(&unit, free_port().expect("free port"), generate_password(16));
        TestHome { guard: ServerGuard { data_dir: spec.data_dir.clone(), pids: Default::default() }, spec, home }
    }

    pub fn password(&self) -> &SecretString {
        &self.spec.operator_password
    }
}
