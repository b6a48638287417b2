//! `debug-log` lines and the `show-status-log` table in Juju's shapes.

use super::format_time;
use super::table::{Cell, Table};
use tether_core::wire::{LogRecord, StatusLogEntry};

/// How `debug-log` shows times (`--date`, `--ms`, `--utc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeStyle {
    pub date: bool,
    pub ms: bool,
    pub utc: bool,
}

/// One line as Juju prints it: `unit-pg-0: 14:03:22 INFO unit.pg/0.juju-log message`.
pub fn log_line(r: &LogRecord, style: TimeStyle) -> String {
    let mut fmt = String::from(if style.date { "%Y-%m-%d %H:%M:%S" } else { "%H:%M:%S" });
    if style.ms {
        fmt.push_str("%.3f");
    }
    format!("{}: {} {} {} {}", r.entity, format_time(&r.ts, &fmt, style.utc), r.level, r.module, r.message)
}

/// `show-status-log`'s table: `Time  Type  Status  Message`.
pub fn status_table(entries: &[StatusLogEntry], utc: bool) -> String {
    let mut t = Table::new();
    t.header(&["Time", "Type", "Status", "Message"]);
    for e in entries {
        t.row(vec![
            Cell::plain(format_time(&e.time, "%d %b %Y %H:%M:%S%:z", utc)),
            Cell::plain(e.kind.clone()),
            Cell::plain(e.status.clone()),
            Cell::plain(e.message.clone()),
        ]);
    }
    t.render(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> LogRecord {
        LogRecord {
            ts: "2024-05-06T14:03:22.123Z".into(),
            entity: "unit-postgresql-k8s-0".into(),
            level: "INFO".into(),
            module: "unit.postgresql-k8s/0.juju-log".into(),
            message: "Running legacy hooks/install.".into(),
        }
    }

    #[test]
    fn lines_follow_jujus_format() {
        let utc = TimeStyle { utc: true, ..Default::default() };
        assert_eq!(
            log_line(&rec(), utc),
            "unit-postgresql-k8s-0: 14:03:22 INFO unit.postgresql-k8s/0.juju-log Running legacy hooks/install."
        );
        let full = TimeStyle { date: true, ms: true, utc: true };
        assert!(log_line(&rec(), full).starts_with("unit-postgresql-k8s-0: 2024-05-06 14:03:22.123 INFO "));
    }

    #[test]
    fn the_status_table_has_jujus_columns() {
        let e = StatusLogEntry {
            time: "2024-05-06T14:03:22.123Z".into(),
            kind: "workload".into(),
            status: "active".into(),
            message: "ready".into(),
        };
        let out = status_table(&[e], true);
        let mut lines = out.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["Time", "Type", "Status", "Message"]);
        assert!(lines.next().unwrap().starts_with("06 May 2024 14:03:22+00:00  workload  active"), "{out}");
    }
}
