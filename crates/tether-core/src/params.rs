//! Juju's `key.sub=value` assignments, as `juju run UNIT ACTION key=value` and the
//! `action-set` hook tool take them: a dotted key names a path of nested maps, each
//! segment lowercase alphanumeric with inner hyphens, and a later assignment overrides an
//! earlier one (a value in the way of a deeper key is replaced by a map, as Juju's
//! `addValueToMap` does).

use serde_json::{Map, Value};

/// Why an argument is not a `key...=value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentError {
    /// No `=` in the argument.
    NotKeyValue,
    /// A segment of the dotted key breaks the naming rule (the segment is carried).
    BadKey(String),
}

/// The text both the CLI and `action-set` use for a bad key segment (its name shown as
/// the caller bounds it).
pub fn bad_key_message(shown_segment: &str) -> String {
    format!("key {shown_segment:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric and hyphens")
}

/// A key segment starts and ends with a lowercase letter or digit and holds only those
/// and hyphens.
pub fn valid_segment(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.chars().next().is_some_and(ok) && s.chars().last().is_some_and(ok) && s.chars().all(|c| ok(c) || c == '-')
}

/// Splits `a.b.c=value` into its key path and raw value, checking every segment.
pub fn parse_assignment(arg: &str) -> Result<(Vec<&str>, &str), AssignmentError> {
    let (key, raw) = arg.split_once('=').ok_or(AssignmentError::NotKeyValue)?;
    let path: Vec<&str> = key.split('.').collect();
    match path.iter().find(|s| !valid_segment(s)) {
        Some(bad) => Err(AssignmentError::BadKey(bad.to_string())),
        None => Ok((path, raw)),
    }
}

/// Puts `value` at the key path inside `target`, creating maps on the way and replacing
/// anything that is not a map.
pub fn insert_nested(target: &mut Map<String, Value>, keys: &[&str], value: Value) {
    let Some((last, path)) = keys.split_last() else { return };
    let mut cursor = target;
    for k in path {
        let slot = cursor.entry(k.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else { return };
        cursor = next;
    }
    cursor.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(assignments: &[&str], expected: Result<Value, AssignmentError>) {
        let mut map = Map::new();
        let got = assignments
            .iter()
            .try_for_each(|a| {
                let (keys, raw) = parse_assignment(a)?;
                insert_nested(&mut map, &keys, Value::String(raw.into()));
                Ok(())
            })
            .map(|()| Value::Object(map));
        assert_eq!(got, expected, "{assignments:?}");
    }

    #[test]
    fn dotted_keys_nest_and_later_ones_win() {
        check(&["a=1"], Ok(json!({"a": "1"})));
        check(&["a.b=1", "a.c=2"], Ok(json!({"a": {"b": "1", "c": "2"}})));
        check(&["a=1", "a.b=2"], Ok(json!({"a": {"b": "2"}})));
        check(&["a.b=1", "a=2"], Ok(json!({"a": "2"})));
        check(&["k=x=y"], Ok(json!({"k": "x=y"})));
        check(&["with-hyphen=v", "n0=v"], Ok(json!({"with-hyphen": "v", "n0": "v"})));
    }

    #[test]
    fn keys_follow_the_naming_rule() {
        check(&["novalue"], Err(AssignmentError::NotKeyValue));
        check(&["Upper=1"], Err(AssignmentError::BadKey("Upper".into())));
        check(&["a..b=1"], Err(AssignmentError::BadKey("".into())));
        check(&["-a=1"], Err(AssignmentError::BadKey("-a".into())));
        check(&["a.b-=1"], Err(AssignmentError::BadKey("b-".into())));
        assert!(bad_key_message("X").starts_with("key \"X\" must start and end"));
    }
}
