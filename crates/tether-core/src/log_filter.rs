//! `debug-log` filtering as Juju's controller does it, without I/O: levels ordered
//! TRACE < DEBUG < INFO < WARNING < ERROR (a line shows at or above `--level`), entities
//! named as Juju accepts them (`unit-app-0`, `app/0`, `app` meaning all its units, `*`
//! wildcards), modules matched whole or by dotted prefix (`juju.worker` matches
//! `juju.worker.uniter`).

use serde::{Deserialize, Serialize};

/// Juju's log levels, lowest first.
pub const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"];

/// A level name in capitals, `WARN` spelt `WARNING`.
fn normalised(level: &str) -> String {
    let up = level.to_ascii_uppercase();
    if up == "WARN" {
        "WARNING".to_string()
    } else {
        up
    }
}

/// The rank of a level name (unknown names rank as INFO).
pub fn level_rank(level: &str) -> usize {
    let up = normalised(level);
    LEVELS.iter().position(|l| *l == up).unwrap_or(2)
}

/// Checks a `--level` value; the error is Juju's text.
pub fn parse_level(level: &str) -> Result<String, String> {
    let up = normalised(level);
    if LEVELS.contains(&up.as_str()) {
        Ok(up)
    } else {
        let shown: String = level.chars().take(40).collect();
        Err(format!("level value {shown:?} is not one of \"TRACE\", \"DEBUG\", \"INFO\", \"WARNING\", \"ERROR\""))
    }
}

/// What a `debug-log` request shows; every list empty means everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFilter {
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub include_module: Vec<String>,
    #[serde(default)]
    pub exclude_module: Vec<String>,
}

/// An entity as the log stores it: `app/0` is `unit-app-0`, a bare application name is
/// every unit of it (`unit-app-*`); tags and patterns are kept.
pub fn entity_pattern(entity: &str) -> String {
    let e = entity.trim();
    if e.contains('*') || e.starts_with("unit-") || e.starts_with("application-") || e.starts_with("machine-") || e == "controller" {
        return e.to_string();
    }
    if let Some((app, n)) = e.split_once('/') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return format!("unit-{app}-{n}");
        }
    }
    if e.bytes().all(|b| b.is_ascii_digit()) {
        return format!("machine-{e}");
    }
    format!("unit-{e}-*")
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn entity_matches(patterns: &[String], entity: &str) -> bool {
    patterns.iter().any(|p| {
        let p = entity_pattern(p);
        // An application tag stands for its units as well.
        let unit_form = p.strip_prefix("application-").map(|a| format!("unit-{a}-*"));
        glob_match(&p, entity) || unit_form.is_some_and(|u| glob_match(&u, entity))
    })
}

fn module_matches(modules: &[String], module: &str) -> bool {
    modules.iter().any(|m| module == m || module.strip_prefix(m.as_str()).is_some_and(|rest| rest.starts_with('.')))
}

impl LogFilter {
    /// Whether a line of `entity` at `level` from `module` is shown.
    pub fn matches(&self, entity: &str, level: &str, module: &str) -> bool {
        if let Some(min) = &self.level {
            if level_rank(level) < level_rank(min) {
                return false;
            }
        }
        (self.include.is_empty() || entity_matches(&self.include, entity))
            && !entity_matches(&self.exclude, entity)
            && (self.include_module.is_empty() || module_matches(&self.include_module, module))
            && !module_matches(&self.exclude_module, module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_named_as_juju_accepts_them() {
        for (given, want) in [
            ("pg/0", "unit-pg-0"),
            ("unit-pg-0", "unit-pg-0"),
            ("pg", "unit-pg-*"),
            ("postgresql-k8s", "unit-postgresql-k8s-*"),
            ("unit-pg-*", "unit-pg-*"),
            ("0", "machine-0"),
        ] {
            assert_eq!(entity_pattern(given), want, "{given}");
        }
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("unit-pg-*", "unit-pg-10"));
        assert!(!glob_match("unit-pg-*", "unit-pgx-1"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("unit-pg-0", "unit-pg-01"));
    }

    #[test]
    fn filters_combine_as_juju_does() {
        let f = |level: Option<&str>, inc: &[&str], exc: &[&str], im: &[&str], xm: &[&str]| LogFilter {
            level: level.map(String::from),
            include: inc.iter().map(|s| s.to_string()).collect(),
            exclude: exc.iter().map(|s| s.to_string()).collect(),
            include_module: im.iter().map(|s| s.to_string()).collect(),
            exclude_module: xm.iter().map(|s| s.to_string()).collect(),
        };
        let line = ("unit-pg-0", "WARNING", "juju.worker.uniter");
        let shown = |filter: LogFilter| filter.matches(line.0, line.1, line.2);
        assert!(shown(LogFilter::default()));
        assert!(shown(f(Some("WARNING"), &[], &[], &[], &[])));
        assert!(shown(f(Some("info"), &[], &[], &[], &[])));
        assert!(!shown(f(Some("ERROR"), &[], &[], &[], &[])));
        assert!(shown(f(None, &["pg"], &[], &[], &[])));
        assert!(shown(f(None, &["pg/0"], &[], &[], &[])));
        assert!(shown(f(None, &["application-pg"], &[], &[], &[])));
        assert!(!shown(f(None, &["di"], &[], &[], &[])));
        assert!(!shown(f(None, &[], &["unit-pg-0"], &[], &[])));
        assert!(shown(f(None, &[], &[], &["juju.worker"], &[])));
        assert!(!shown(f(None, &[], &[], &["juju.work"], &[])));
        assert!(!shown(f(None, &[], &[], &[], &["juju.worker.uniter"])));
    }

    #[test]
    fn levels_are_ordered_and_checked() {
        assert!(level_rank("TRACE") < level_rank("DEBUG") && level_rank("WARNING") < level_rank("ERROR"));
        assert_eq!(parse_level("warn"), Ok("WARNING".into()));
        assert!(parse_level("LOUD").unwrap_err().contains("is not one of"));
    }
}
