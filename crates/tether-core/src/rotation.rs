//! Credential rotation's bookkeeping, without I/O: which logins a relation has, which one
//! is published, which one is in its grace period and until when, and when the next
//! scheduled rotation or retirement falls due.
//!
//! A relation starts with one login, its first user. A rotation issues the next login
//! (generation `n + 1`) and keeps the published one valid for the grace period; only then
//! is it retired. So at every moment a relation has one or two valid logins, never zero,
//! and a rotation is refused while the previous one's grace period runs (a third login
//! would be needed otherwise).

use crate::duration::parse_duration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The logins of one relation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logins {
    /// How many rotations the relation has had.
    pub generation: u32,
    /// The published login; absent while it is still the relation's first user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// When the published login was issued, or first seen by the schedule (seconds since
    /// the epoch; 0 = never recorded).
    #[serde(default)]
    pub issued_at: i64,
    /// The previous login, valid until its grace period ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<Retiring>,
}

/// A login in its grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retiring {
    pub login: String,
    /// When it stops working (seconds since the epoch).
    pub until: i64,
}

/// Why a rotation cannot start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the previous credentials ({login}) are still in their grace period")]
pub struct StillRetiring {
    pub login: String,
    pub until: i64,
}

impl Logins {
    /// The published login (`first` is the relation's first user).
    pub fn current<'a>(&'a self, first: &'a str) -> &'a str {
        self.current.as_deref().unwrap_or(first)
    }

    /// The logins the server must keep for this relation: the published one, the one in
    /// its grace period, and the first user when it stays as the owner of the relation's
    /// objects (`keeps_owner`), in that order, without repeats.
    pub fn live(&self, first: &str, keeps_owner: bool) -> Vec<String> {
        let mut out = vec![self.current(first).to_string()];
        out.extend(self.retiring.as_ref().map(|r| r.login.clone()));
        if keeps_owner {
            out.push(first.to_string());
        }
        let mut seen = Vec::new();
        out.retain(|l| {
            let new = !seen.contains(l);
            seen.push(l.clone());
            new
        });
        out
    }

    /// The logins after a rotation to `next` at `now`: `next` published, the current one
    /// retiring at `now + grace`.
    pub fn rotated(&self, first: &str, next: &str, now: i64, grace: Duration) -> Result<Logins, StillRetiring> {
        if let Some(r) = &self.retiring {
            return Err(StillRetiring { login: r.login.clone(), until: r.until });
        }
        Ok(Logins {
            generation: self.generation + 1,
            current: Some(next.to_string()),
            issued_at: now,
            retiring: Some(Retiring { login: self.current(first).to_string(), until: now.saturating_add(secs(grace)) }),
        })
    }

    /// The login whose grace period is over at `now`, if any.
    pub fn retire_due(&self, now: i64) -> Option<&Retiring> {
        self.retiring.as_ref().filter(|r| r.until <= now)
    }

    /// Whether the schedule asks for a rotation at `now` (never while one is retiring, or
    /// before the login's issue time was recorded).
    pub fn rotation_due(&self, now: i64, interval: Option<Duration>) -> bool {
        match interval {
            Some(every) => self.retiring.is_none() && self.issued_at > 0 && self.issued_at.saturating_add(secs(every)) <= now,
            None => false,
        }
    }

    /// When something falls due next: a retirement, or a scheduled rotation.
    pub fn next_due(&self, interval: Option<Duration>) -> Option<i64> {
        if let Some(r) = &self.retiring {
            return Some(r.until);
        }
        match interval {
            Some(every) if self.issued_at > 0 => Some(self.issued_at.saturating_add(secs(every))),
            _ => None,
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The two options as the charms read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `credential-rotation-interval`; `None` = never on a schedule.
    pub interval: Option<Duration>,
    /// `credential-grace-period`.
    pub grace: Duration,
}

/// The default `credential-grace-period`.
pub const DEFAULT_GRACE: &str = "1h";
/// The shortest interval the schedule accepts: a rotation must not come before the
/// previous one's logins had time to be read.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// Reads the options (Go durations; an empty interval means never). The errors name the
/// option, as the charm's blocked status and `config`'s refusal say them.
pub fn policy(interval: &str, grace: &str) -> Result<Policy, String> {
    let interval = match interval.trim() {
        "" => None,
        text => {
            let every = parse_duration(text)
                .map_err(|_| format!("credential-rotation-interval: {text:?} is not a duration such as 720h or 30m"))?;
            if every < MIN_INTERVAL {
                return Err(format!("credential-rotation-interval: {text:?} is shorter than {}s", MIN_INTERVAL.as_secs()));
            }
            Some(every)
        }
    };
    let grace_text = if grace.trim().is_empty() { DEFAULT_GRACE } else { grace.trim() };
    let grace =
        parse_duration(grace_text).map_err(|_| format!("credential-grace-period: {grace_text:?} is not a duration such as 1h or 90s"))?;
    Ok(Policy { interval, grace })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_rotation_keeps_the_old_login_for_the_grace_period_and_refuses_a_third() {
        let first = Logins { issued_at: 100, ..Default::default() };
        assert_eq!(first.current("relation_id_7"), "relation_id_7");
        let second = first.rotated("relation_id_7", "relation_id_7_r1", 1000, HOUR).unwrap();
        assert_eq!(second.current("relation_id_7"), "relation_id_7_r1");
        assert_eq!(second.generation, 1);
        assert_eq!(second.retiring, Some(Retiring { login: "relation_id_7".into(), until: 4600 }));
        assert_eq!(second.live("relation_id_7", false), vec!["relation_id_7_r1", "relation_id_7"]);
        let refused = second.rotated("relation_id_7", "relation_id_7_r2", 2000, HOUR).unwrap_err();
        assert_eq!(refused.until, 4600);
        assert!(second.retire_due(4599).is_none());
        assert_eq!(second.retire_due(4600).map(|r| r.login.as_str()), Some("relation_id_7"));
        let retired = Logins { retiring: None, ..second };
        assert_eq!(retired.live("relation_id_7", true), vec!["relation_id_7_r1", "relation_id_7"]);
        assert_eq!(retired.live("relation_id_7", false), vec!["relation_id_7_r1"]);
        let third = retired.rotated("relation_id_7", "relation_id_7_r2", 5000, HOUR).unwrap();
        assert_eq!(third.retiring.map(|r| r.login), Some("relation_id_7_r1".into()));
    }

    #[test]
    fn the_schedule_waits_for_a_recorded_issue_time_and_for_the_grace_period() {
        let every = Some(Duration::from_secs(60));
        let unrecorded = Logins::default();
        assert!(!unrecorded.rotation_due(1_000_000, every));
        assert_eq!(unrecorded.next_due(every), None);
        let recorded = Logins { issued_at: 1000, ..Default::default() };
        assert!(!recorded.rotation_due(1059, every));
        assert!(recorded.rotation_due(1060, every));
        assert!(!recorded.rotation_due(1060, None));
        assert_eq!(recorded.next_due(every), Some(1060));
        let retiring = recorded.rotated("u", "u_r1", 1060, HOUR).unwrap();
        assert!(!retiring.rotation_due(99_999, every), "never while a login is retiring");
        assert_eq!(retiring.next_due(every), Some(1060 + 3600));
    }

    #[test]
    fn the_options_are_go_durations_with_a_floor_and_a_default_grace() {
        assert_eq!(policy("", "").unwrap(), Policy { interval: None, grace: HOUR });
        assert_eq!(
            policy("720h", "90s").unwrap(),
            Policy { interval: Some(Duration::from_secs(720 * 3600)), grace: Duration::from_secs(90) }
        );
        assert!(policy("soon", "1h").unwrap_err().starts_with("credential-rotation-interval:"));
        assert!(policy("5s", "1h").unwrap_err().contains("shorter than 10s"));
        assert!(policy("1h", "later").unwrap_err().starts_with("credential-grace-period:"));
        assert_eq!(policy("1h", "0s").unwrap().grace, Duration::ZERO);
    }

    #[test]
    fn the_state_round_trips_as_json() {
        let l = Logins {
            generation: 2,
            current: Some("a_r2".into()),
            issued_at: 5,
            retiring: Some(Retiring { login: "a_r1".into(), until: 9 }),
        };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Logins>(&text).unwrap(), l);
        assert_eq!(serde_json::from_str::<Logins>("{\"generation\":0}").unwrap(), Logins::default());
    }
}
