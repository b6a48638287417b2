//! Workload status values and how an application's status is derived from its units.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadStatus {
    Unknown,
    Active,
    Blocked,
    Maintenance,
    Waiting,
    Error,
    Terminated,
}

impl WorkloadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadStatus::Unknown => "unknown",
            WorkloadStatus::Active => "active",
            WorkloadStatus::Blocked => "blocked",
            WorkloadStatus::Maintenance => "maintenance",
            WorkloadStatus::Waiting => "waiting",
            WorkloadStatus::Error => "error",
            WorkloadStatus::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unknown" => WorkloadStatus::Unknown,
            "active" => WorkloadStatus::Active,
            "blocked" => WorkloadStatus::Blocked,
            "maintenance" => WorkloadStatus::Maintenance,
            "waiting" => WorkloadStatus::Waiting,
            "error" => WorkloadStatus::Error,
            "terminated" => WorkloadStatus::Terminated,
            _ => return None,
        })
    }

    /// Juju's severity order: error > blocked > maintenance > waiting > active > terminated > unknown.
    pub fn severity(self) -> u8 {
        match self {
            WorkloadStatus::Error => 100,
            WorkloadStatus::Blocked => 90,
            WorkloadStatus::Maintenance => 80,
            WorkloadStatus::Waiting => 70,
            WorkloadStatus::Active => 60,
            WorkloadStatus::Terminated => 50,
            WorkloadStatus::Unknown => 40,
        }
    }
}

/// The application status Juju shows: the leader-set status unless it is `unknown`,
/// otherwise the most severe unit status (first unit wins ties), or an unknown
/// application status when no unit has one. A unit in `error` always wins, so that a
/// failed hook is visible at the application level.
pub fn derive_app_status<'a>(
    app_set: Option<(WorkloadStatus, &'a str)>,
    units: impl IntoIterator<Item = (WorkloadStatus, &'a str)>,
) -> (WorkloadStatus, &'a str) {
    let worst = units.into_iter().fold(None::<(WorkloadStatus, &str)>, |acc, u| match acc {
        Some(a) if a.0.severity() >= u.0.severity() => Some(a),
        _ => Some(u),
    });
    match (app_set, worst) {
        (_, Some(w)) if w.0 == WorkloadStatus::Error => w,
        (Some(a), _) if a.0 != WorkloadStatus::Unknown => a,
        (_, Some(w)) => w,
        (Some(a), None) => a,
        (None, None) => (WorkloadStatus::Unknown, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkloadStatus::*;

    #[test]
    fn app_status_derivation() {
        assert_eq!(derive_app_status(None, [(Active, ""), (Blocked, "b")]), (Blocked, "b"));
        assert_eq!(derive_app_status(Some((Active, "set")), [(Blocked, "b")]), (Active, "set"));
        assert_eq!(derive_app_status(Some((Unknown, "")), [(Waiting, "w"), (Active, "")]), (Waiting, "w"));
        assert_eq!(derive_app_status(Some((Active, "")), [(Error, "hook failed: \"start\"")]), (Error, "hook failed: \"start\""));
        assert_eq!(derive_app_status(None, []), (Unknown, ""));
        assert_eq!(derive_app_status(None, [(Active, "first"), (Active, "second")]), (Active, "first"));
    }
}
