//! Hostile strings through every pure boundary of tether-core: quotes, semicolons,
//! backslashes, NUL, Unicode (including right-to-left marks and combining characters),
//! SQL and shell metacharacters, and strings of 10 KB. Each boundary must either refuse
//! the string with an error or accept it verbatim; none may panic. The quoting functions
//! must round-trip: the quoted text parses back to the same name.

use proptest::prelude::*;
use tether_core::charm_meta::CharmMeta;
use tether_core::endpoints::EndpointArg;
use tether_core::{config, mongo_plan, my_plan, names, pg_plan};

/// Pieces attackers like, glued together at random with arbitrary text.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("`".to_string()),
        Just(";".to_string()),
        Just("\\".to_string()),
        Just("\0".to_string()),
        Just("--".to_string()),
        Just("/*".to_string()),
        Just("$$".to_string()),
        Just("'; DROP ROLE operator; --".to_string()),
        Just("\" OR 1=1 --".to_string()),
        Just("$(reboot)".to_string()),
        Just("\n\r\t".to_string()),
        Just("\u{202e}".to_string()),
        Just("e\u{301}".to_string()),
        Just("数据库".to_string()),
        Just("😀".to_string()),
        Just("\u{feff}".to_string()),
        Just(":".to_string()),
        Just("/".to_string()),
        Just("=".to_string()),
        Just("a".to_string()),
        Just("-".to_string()),
        Just("_".to_string()),
        "[a-z0-9_-]{0,12}",
        any::<String>(),
    ];
    prop_oneof![
        8 => proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat()),
        1 => "[a-z]{1,4}".prop_map(|s| s.repeat(10 * 1024 / s.len() + 1)),
        1 => any::<char>().prop_map(|c| c.to_string().repeat(10 * 1024)),
    ]
}

/// PostgreSQL's reading of a quoted identifier: `"` … `"` with `""` for one `"`.
fn pg_unquote_ident(q: &str) -> Option<String> {
    let inner = q.strip_prefix('"')?.strip_suffix('"')?;
    unquote_doubled(inner, '"', false)
}

/// PostgreSQL's reading of a standard string literal: `'` … `'` with `''` for one `'`.
fn pg_unquote_literal(q: &str) -> Option<String> {
    let inner = q.strip_prefix('\'')?.strip_suffix('\'')?;
    unquote_doubled(inner, '\'', false)
}

/// MariaDB's reading of a backtick identifier.
fn my_unquote_ident(q: &str) -> Option<String> {
    let inner = q.strip_prefix('`')?.strip_suffix('`')?;
    unquote_doubled(inner, '`', false)
}

/// MariaDB's reading of a string literal (`''` and `\\` escapes, as NO_BACKSLASH_ESCAPES off).
fn my_unquote_literal(q: &str) -> Option<String> {
    let inner = q.strip_prefix('\'')?.strip_suffix('\'')?;
    unquote_doubled(inner, '\'', true)
}

/// Reads `inner` where `quote` may only appear doubled (a lone one would end the token
/// early: an injection) and, with `backslash`, `\` escapes the next character.
fn unquote_doubled(inner: &str, quote: char, backslash: bool) -> Option<String> {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if backslash && c == '\\' {
            out.push(chars.next()?);
        } else if c == quote {
            if chars.next()? != quote {
                return None;
            }
            out.push(quote);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn meta() -> CharmMeta {
    CharmMeta::from_yaml(
        "name: probe\n",
        Some(
            "options:\n  s: {type: string, default: x}\n  i: {type: int, default: 1}\n  f: {type: float, default: 1.5}\n  b: {type: boolean, default: false}\n  secret: {type: secret}\n",
        ),
        None,
    )
    .expect("probe charm metadata")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn names_refuse_or_accept_verbatim(s in hostile()) {
        let checks: [(&str, Result<(), String>); 5] = [
            ("application", names::validate_application(&s).map_err(|e| e.to_string())),
            ("model", names::validate_model(&s).map_err(|e| e.to_string())),
            ("endpoint", names::validate_endpoint(&s).map_err(|e| e.to_string())),
            ("action", names::validate_action(&s).map_err(|e| e.to_string())),
            ("database", names::validate_database(&s).map_err(|e| e.to_string())),
        ];
        for (what, r) in checks {
            match r {
                Ok(()) => {
                    // Accepted names are plain ASCII identifiers: nothing that needs quoting.
                    prop_assert!(s.len() <= 63 && !s.is_empty(), "{what} accepted {s:?}");
                    prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{what} accepted {s:?}");
                }
                Err(msg) => {
                    // The error echoes the name bounded and without a raw NUL.
                    prop_assert!(!msg.contains('\0'), "{what} error has a NUL: {msg:?}");
                    prop_assert!(msg.chars().count() < 2000, "{what} error is unbounded ({} chars)", msg.chars().count());
                }
            }
        }
        match names::UnitName::parse(&s) {
            Ok(u) => prop_assert_eq!(u.to_string(), s.clone()),
            Err(e) => prop_assert!(!e.to_string().contains('\0') && e.to_string().chars().count() < 2000),
        }
        match names::UnitTarget::parse(&s) {
            Ok(t) => prop_assert!(s.starts_with(t.app())),
            Err(e) => prop_assert!(!e.to_string().contains('\0') && e.to_string().chars().count() < 2000),
        }
    }

    #[test]
    fn endpoint_args_refuse_or_accept_verbatim(s in hostile()) {
        match EndpointArg::parse(&s) {
            Ok(arg) => {
                prop_assert_eq!(arg.to_string(), s.clone());
                prop_assert!(names::validate_application(&arg.app).is_ok());
                if let Some(ep) = &arg.endpoint {
                    prop_assert!(names::validate_endpoint(ep).is_ok());
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\0') && msg.chars().count() < 2000, "{msg:?}");
            }
        }
    }

    #[test]
    fn config_values_are_typed_or_refused(key in prop_oneof![Just("s"), Just("i"), Just("f"), Just("b"), Just("secret")], raw in hostile()) {
        let meta = meta();
        match config::typed_value(&meta, key, &raw) {
            Ok(serde_json::Value::String(v)) => {
                // Strings are stored verbatim.
                prop_assert_eq!(v, raw.clone());
                prop_assert!(key == "s" || key == "secret");
            }
            Ok(v) => prop_assert!(v.is_number() || v.is_boolean(), "{key}: {v:?}"),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\0') && msg.chars().count() < 2000, "{msg:?}");
                prop_assert!(raw.contains('\0') || key != "s", "a NUL-free string was refused: {msg}");
            }
        }
        // The key itself is hostile too: unknown keys are refused, never panic.
        prop_assert!(config::typed_value(&meta, &raw, "x").is_err() || ["s", "i", "f", "b", "secret"].contains(&raw.as_str()));
        let _ = config::split_assignment(&raw);
    }

    #[test]
    fn pg_quoting_round_trips(s in hostile()) {
        match pg_plan::quote_ident(&s) {
            Ok(q) => prop_assert_eq!(pg_unquote_ident(&q), Some(s.clone()), "quoted {:?}", q),
            Err(_) => prop_assert!(s.is_empty() || s.contains('\0')),
        }
        match pg_plan::quote_literal(&s) {
            Ok(q) => prop_assert_eq!(pg_unquote_literal(&q), Some(s.clone()), "quoted {:?}", q),
            Err(_) => prop_assert!(s.contains('\0')),
        }
    }

    #[test]
    fn mariadb_quoting_round_trips(s in hostile()) {
        match my_plan::quote_ident(&s) {
            Ok(q) => prop_assert_eq!(my_unquote_ident(&q), Some(s.clone()), "quoted {:?}", q),
            Err(_) => prop_assert!(s.is_empty() || s.contains('\0')),
        }
        match my_plan::quote_literal(&s) {
            Ok(q) => prop_assert_eq!(my_unquote_literal(&q), Some(s.clone()), "quoted {:?}", q),
            Err(_) => prop_assert!(s.contains('\0')),
        }
    }

    #[test]
    fn mongo_database_names_refuse_or_accept_verbatim(s in hostile()) {
        match mongo_plan::validate_database(&s) {
            Ok(()) => {
                prop_assert!(!s.is_empty() && s.len() < 64);
                prop_assert!(!s.chars().any(|c| c.is_control() || "/\\. \"$*<>:|?".contains(c)), "accepted {s:?}");
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\0') && msg.chars().count() < 2000, "{msg:?}");
            }
        }
    }

    #[test]
    fn extra_user_roles_are_classified_or_refused(s in hostile()) {
        let _ = pg_plan::classify_roles(&s, |_| false);
        let _ = my_plan::classify_roles(&s, |_| false);
        let _ = mongo_plan::roles_for(&s, "db");
    }
}

#[test]
fn unquoting_catches_an_injection() {
    // The helpers above would notice a quoting function that forgot to double a quote.
    assert_eq!(pg_unquote_ident("\"a\"b\""), None);
    assert_eq!(pg_unquote_literal("'x'; DROP ROLE y; --'"), None);
    assert_eq!(my_unquote_literal("'a\\'"), None);
    assert_eq!(my_unquote_ident("`a``b`"), Some("a`b".to_string()));
}
