//! `secrets` and `show-secret`: Juju's table, or the id-keyed map as JSON/YAML.

use super::table::{Cell, Table};
use std::collections::BTreeMap;
use tether_core::wire::SecretView;

/// `ID  Name  Owner  Rotation  Revision  Last updated`, like `juju secrets`.
pub fn render_tabular(secrets: &BTreeMap<String, SecretView>, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut t = Table::new().align_right(4);
    t.header(&["ID", "Name", "Owner", "Rotation", "Revision", "Last updated"]);
    for (id, s) in secrets {
        t.row(vec![
            Cell::plain(id.clone()),
            Cell::plain(s.name.clone().or_else(|| s.label.clone()).unwrap_or_else(|| "-".into())),
            Cell::plain(s.owner.clone()),
            Cell::plain("never"),
            Cell::plain(s.revision.to_string()),
            Cell::plain(ago(&s.updated, now)),
        ]);
    }
    t.render(false)
}

/// go-humanize style relative time (`2 minutes ago`); unparsable times are shown as is.
pub fn ago(timestamp: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(&timestamp.replace(' ', "T")) else { return timestamp.to_string() };
    let secs = (now - t.with_timezone(&chrono::Utc)).num_seconds();
    let unit = |n: i64, word: &str| if n == 1 { format!("1 {word} ago") } else { format!("{n} {word}s ago") };
    match secs {
        s if s < 1 => "now".into(),
        s if s < 60 => unit(s, "second"),
        s if s < 3600 => unit(s / 60, "minute"),
        s if s < 86_400 => unit(s / 3600, "hour"),
        s => unit(s / 86_400, "day"),
    }
}

/// Secrets whose owner matches `owner` (`app`, `application-app`, `unit-app-0` or `app/0`).
pub fn filter_owner(secrets: BTreeMap<String, SecretView>, owner: Option<&str>) -> BTreeMap<String, SecretView> {
    let Some(owner) = owner else { return secrets };
    let wanted = [owner.to_string(), format!("application-{owner}"), format!("unit-{}", owner.replace('/', "-"))];
    secrets.into_iter().filter(|(_, s)| wanted.contains(&s.owner)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(owner: &str, label: Option<&str>, updated: &str) -> SecretView {
        SecretView {
            revision: 2,
            owner: owner.into(),
            name: None,
            label: label.map(Into::into),
            description: None,
            created: updated.into(),
            updated: updated.into(),
            access: vec![],
            content: None,
        }
    }

    #[test]
    fn table_lists_secrets_with_relative_times() {
        let now = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:10:00Z").unwrap().with_timezone(&chrono::Utc);
        let mut m = BTreeMap::new();
        m.insert("d1abc".to_string(), secret("pg", Some("operator"), "2025-01-01T00:08:00Z"));
        let s = render_tabular(&m, now);
        assert_eq!(
            s,
            "ID     Name      Owner  Rotation  Revision  Last updated\nd1abc  operator  pg     never            2  2 minutes ago\n"
        );
    }

    #[test]
    fn owner_filter_accepts_juju_forms() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), secret("pg", None, "x"));
        m.insert("b".to_string(), secret("di", None, "x"));
        assert_eq!(filter_owner(m.clone(), Some("pg")).len(), 1);
        assert_eq!(filter_owner(m, None).len(), 2);
    }
}
