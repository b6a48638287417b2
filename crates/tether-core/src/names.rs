//! Validation of every name a user can type: models, applications, units, endpoints,
//! action and config keys, and the database names that end up in SQL.
//!
//! Names are checked once at the boundary (the controller's request handlers) so that
//! everything deeper can rely on them. The rules follow Juju's where Juju has one.

use std::fmt;

/// Why a name was refused. The `Display` text is what the user sees after `ERROR `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("application name {0:?} not valid")]
    Application(String),
    #[error("model name {0:?} not valid")]
    Model(String),
    #[error("unit name {0:?} not valid")]
    Unit(String),
    #[error("endpoint {0:?} not valid")]
    Endpoint(String),
    #[error("invalid unit or action name {0:?}")]
    Action(String),
    #[error("database name {0:?} not valid: use 1 to 63 letters, digits, '_' or '-', starting with a letter or '_'")]
    Database(String),
    #[error("host {0:?} not valid: use a DNS name or an IPv4 address")]
    Host(String),
}

fn show(s: &str) -> String {
    // Never echo control characters or megabytes back to a terminal.
    let mut shown: String = s.chars().take(64).collect();
    shown = shown.replace('\0', "\\0");
    if s.chars().count() > 64 {
        shown.push('…');
    }
    shown
}

/// Juju's application-name rule: lowercase letters and digits in hyphen-separated
/// groups, starting with a letter, no group made only of digits.
pub fn validate_application(name: &str) -> Result<(), NameError> {
    let err = || NameError::Application(show(name));
    if name.is_empty() || name.len() > 63 {
        return Err(err());
    }
    let mut groups = name.split('-');
    let first = groups.next().ok_or_else(err)?;
    if !first.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(err());
    }
    for g in std::iter::once(first).chain(groups) {
        if g.is_empty() || !g.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(err());
        }
        if g.chars().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
    }
    Ok(())
}

/// A server's host as a user names it (an adopted server's `external-endpoint`): a DNS
/// name (labels of 1 to 63 letters, digits, `-` and `_`, not starting or ending with `-`;
/// 253 characters at most), which covers IPv4 addresses. Nothing else reaches a resolver
/// or a connection string.
pub fn validate_host(name: &str) -> Result<(), NameError> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(NameError::Host(show(name)))
    }
}

/// Juju's model-name rule: lowercase letters, digits and hyphens, not starting with a hyphen.
pub fn validate_model(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(NameError::Model(show(name)))
    }
}

/// Endpoint names: lowercase letters, digits, '-' and '_', starting with a letter.
pub fn validate_endpoint(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(NameError::Endpoint(show(name)))
    }
}

/// Action names and action-parameter key segments: lowercase alphanumerics and
/// hyphens, starting and ending with an alphanumeric.
pub fn validate_action(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(NameError::Action(show(name)))
    }
}

/// Database names that tether will create. Deliberately narrower than what the
/// engines accept: it keeps every name valid on PostgreSQL, MariaDB and MongoDB.
pub fn validate_database(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(NameError::Database(show(name)))
    }
}

/// A unit name `app/N`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitName {
    pub app: String,
    pub number: u32,
}

impl UnitName {
    pub fn new(app: &str, number: u32) -> Self {
        UnitName { app: app.to_string(), number }
    }

    pub fn parse(s: &str) -> Result<Self, NameError> {
        let err = || NameError::Unit(show(s));
        let (app, num) = s.split_once('/').ok_or_else(err)?;
        validate_application(app).map_err(|_| err())?;
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) || (num.len() > 1 && num.starts_with('0')) {
            return Err(err());
        }
        let number = num.parse().map_err(|_| err())?;
        Ok(UnitName { app: app.to_string(), number })
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.number)
    }
}

/// What a user may name as the target of `run`: a unit or `app/leader`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitTarget {
    Unit(UnitName),
    Leader(String),
}

impl UnitTarget {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if let Some(app) = s.strip_suffix("/leader") {
            validate_application(app).map_err(|_| NameError::Action(show(s)))?;
            return Ok(UnitTarget::Leader(app.to_string()));
        }
        UnitName::parse(s).map(UnitTarget::Unit).map_err(|_| NameError::Action(show(s)))
    }

    pub fn app(&self) -> &str {
        match self {
            UnitTarget::Unit(u) => &u.app,
            UnitTarget::Leader(a) => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_dns_names_or_ipv4_addresses() {
        for good in ["127.0.0.1", "db.example.com", "UPPER.Case", "pg-1", "under_score", "10.77.0.2"] {
            assert_eq!(validate_host(good), Ok(()), "{good}");
        }
        let long = "a".repeat(254);
        let long_label = format!("{}.com", "a".repeat(64));
        for bad in ["", "-leading.dash", "trailing-.x", "a..b", ".start", "space in", "semi;colon", "a'b", "数据库", &long, &long_label]
        {
            assert!(validate_host(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn application_names_follow_juju() {
        for good in ["postgresql-k8s", "data-integrator", "a", "app2", "my-app-2x"] {
            assert_eq!(validate_application(good), Ok(()), "{good}");
        }
        for bad in ["", "2app", "App", "a--b", "a-", "-a", "a-2", "a b", "a;b", "a\"b", "a\0b", "a/b"] {
            assert!(validate_application(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn database_names_refuse_quotes_semicolons_and_nul() {
        for good in ["mydb", "my_db", "my-db", "_x", "A1"] {
            assert_eq!(validate_database(good), Ok(()), "{good}");
        }
        for bad in ["", "a\"b", "a'b", "a;b", "a\0b", "1db", "a b", "é", &"x".repeat(64)] {
            assert!(validate_database(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unit_names_parse_and_print() {
        let u = UnitName::parse("postgresql-k8s/0").unwrap();
        assert_eq!(u.app, "postgresql-k8s");
        assert_eq!(u.to_string(), "postgresql-k8s/0");
        for bad in ["app", "app/", "app/x", "app/01", "/0", "App/0"] {
            assert!(UnitName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn leader_targets_resolve_to_their_app() {
        assert_eq!(UnitTarget::parse("pg/leader").unwrap(), UnitTarget::Leader("pg".into()));
        assert_eq!(UnitTarget::parse("pg/3").unwrap().app(), "pg");
        assert!(UnitTarget::parse("pg").is_err());
    }

    #[test]
    fn shown_names_are_bounded_and_escape_nul() {
        let long = "x".repeat(10_000);
        let msg = validate_application(&long).unwrap_err().to_string();
        assert!(msg.len() < 120, "{msg}");
        let msg = validate_database("a\0b").unwrap_err().to_string();
        assert!(!msg.contains('\0'));
    }
}
