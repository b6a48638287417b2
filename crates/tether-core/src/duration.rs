//! Go-style durations (`60.0s`, `5m`, `1h30m`, `250ms`), as jubilant passes them.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}")]
pub struct DurationError(pub String);

/// A Go duration with its sign (`-1s` is how Juju says "wait forever").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedDuration {
    pub negative: bool,
    pub magnitude: Duration,
}

/// Parses a Go duration that may be negative (`-1s`, `+5m`); `-0s` is zero, not negative.
pub fn parse_signed_duration(s: &str) -> Result<SignedDuration, DurationError> {
    let t = s.trim();
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if rest.starts_with(['-', '+']) || rest.starts_with(char::is_whitespace) {
        return Err(DurationError(s.chars().take(40).collect()));
    }
    let magnitude = parse_duration(rest).map_err(|_| DurationError(s.chars().take(40).collect()))?;
    Ok(SignedDuration { negative: negative && !magnitude.is_zero(), magnitude })
}

/// Parses a Go duration that cannot be negative. A bare number is taken as seconds.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(s.chars().take(40).collect());
    let t = s.trim();
    if t.is_empty() {
        return Err(err());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 { Ok(Duration::from_secs_f64(secs)) } else { Err(err()) };
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        for (s, ms) in
            [("60.0s", 60_000), ("600s", 600_000), ("5m", 300_000), ("1h30m", 5_400_000), ("250ms", 250), ("1.5s", 1500), ("10", 10_000)]
        {
            assert_eq!(parse_duration(s).unwrap().as_millis(), ms, "{s}");
        }
        for bad in ["", "s", "5x", "-1s", "1s2", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_signed_go_durations() {
        let ms = |negative: bool, ms: u64| SignedDuration { negative, magnitude: Duration::from_millis(ms) };
        let cases = [
            ("1m30s", ms(false, 90_000)),
            ("500ms", ms(false, 500)),
            ("-1s", ms(true, 1000)),
            ("-1.5h", ms(true, 5_400_000)),
            ("+2s", ms(false, 2000)),
            ("0", ms(false, 0)),
            ("-0s", ms(false, 0)),
            ("60.0s", ms(false, 60_000)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_signed_duration(s), Ok(want), "{s}");
        }
        for bad in ["", "-", "--1s", "-+1s", "1x", "- 1s", "-s"] {
            assert!(parse_signed_duration(bad).is_err(), "{bad}");
        }
    }
}
