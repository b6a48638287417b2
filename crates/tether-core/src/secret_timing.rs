//! When a secret rotates and expires (`secret-add`/`secret-set --rotate POLICY
//! --expire WHEN`): the policies Juju knows and their intervals, and expiry given as an
//! RFC 3339 time or a duration from now (`24h`, `90s`).
//!
//! Pure: the clock and any test override of the intervals are the caller's.

use std::time::Duration;

const HOUR: u64 = 3600;

/// The rotation policies `--rotate` accepts, with their intervals.
const POLICIES: [(&str, u64); 7] = [
    ("never", 0),
    ("hourly", HOUR),
    ("daily", 24 * HOUR),
    ("weekly", 7 * 24 * HOUR),
    ("monthly", 30 * 24 * HOUR),
    ("quarterly", 90 * 24 * HOUR),
    ("yearly", 365 * 24 * HOUR),
];

/// Checks a `--rotate` value.
pub fn validate_policy(policy: &str) -> Result<(), String> {
    if POLICIES.iter().any(|(p, _)| *p == policy) {
        return Ok(());
    }
    let known: Vec<&str> = POLICIES.iter().map(|(p, _)| *p).collect();
    Err(format!("invalid secret rotate policy {policy:?}, expected one of {}", known.join(", ")))
}

/// How long after now a secret with `policy` rotates next (`None` for `never`).
pub fn interval(policy: &str) -> Option<Duration> {
    POLICIES.iter().find(|(p, _)| *p == policy).map(|(_, s)| *s).filter(|s| *s > 0).map(Duration::from_secs)
}

/// `--expire`: an RFC 3339 time, or a duration from `now_ms`; milliseconds since the epoch.
pub fn parse_expire(value: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp_millis());
    }
    match crate::duration::parse_duration(value) {
        Ok(d) => Ok(now_ms + d.as_millis() as i64),
        Err(_) => {
            Err(format!("invalid expire value {:?}: expected a duration or an RFC 3339 time", value.chars().take(40).collect::<String>()))
        }
    }
}

/// A time as `secret-info-get` shows it.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_expiry() {
        assert!(validate_policy("daily").is_ok() && validate_policy("never").is_ok());
        assert!(validate_policy("fortnightly").unwrap_err().contains("expected one of never, hourly"));
        assert_eq!(interval("never"), None);
        assert_eq!(interval("hourly"), Some(Duration::from_secs(3600)));
        assert_eq!(interval("yearly"), Some(Duration::from_secs(365 * 24 * 3600)));
        assert_eq!(interval("fortnightly"), None);
        assert_eq!(parse_expire("90s", 1_000), Ok(91_000));
        assert_eq!(parse_expire("2030-01-02T03:04:05Z", 0), Ok(1_893_553_445_000));
        assert!(parse_expire("soon", 0).is_err());
        assert_eq!(rfc3339(1_893_553_445_000), "2030-01-02T03:04:05Z");
    }
}
