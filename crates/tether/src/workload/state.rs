//! [`WorkloadState`]: what a supervised server is doing now, as the supervisor publishes
//! it and the charms turn it into a status.

/// What a unit's workload is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadState {
    Stopped,
    Starting,
    Running {
        pid: u32,
    },
    /// It died unexpectedly (or a restart failed); the next attempt follows a backoff.
    Restarting {
        attempt: u32,
        reason: String,
    },
}

impl WorkloadState {
    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        match self {
            WorkloadState::Running { pid } => Some(*pid),
            _ => None,
        }
    }
}
