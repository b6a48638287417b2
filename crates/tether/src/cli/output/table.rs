//! Aligned text tables with optional ANSI colours, like Go's tabwriter as Juju uses it.
//!
//! Juju writes its tables through a tabwriter with two spaces of padding, some columns
//! right-aligned, and colours that must not count towards column widths. This module
//! reproduces that so the tabular outputs line up exactly like Juju's. The colours are
//! `anstyle` styles; whether stdout gets them at all is [`colour_stdout`]'s call.

use anstream::ColorChoice;
use anstyle::AnsiColor;

/// Whether tables printed on stdout are coloured. `Always` / `Never` are `--color` /
/// `--no-color` (a flag given on the command line wins over the environment, as
/// no-color.org asks); `Auto` is anstream's choice for stdout: only on a terminal that
/// supports colour, never when `NO_COLOR` is set (non-empty) or `CLICOLOR=0`, always
/// with `CLICOLOR_FORCE`.
pub fn colour_stdout(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Auto => anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never,
        flag => flag != ColorChoice::Never,
    }
}

/// A colour Juju uses for a table cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Good,
    Warning,
    Error,
    Info,
    Current,
}

impl Style {
    fn anstyle(self) -> anstyle::Style {
        let colour = match self {
            Style::Good | Style::Current => AnsiColor::Green,
            Style::Warning => AnsiColor::Yellow,
            Style::Error => AnsiColor::Red,
            Style::Info => AnsiColor::Blue,
        };
        anstyle::Style::new().fg_color(Some(colour.into()))
    }
}

/// Juju's colour for a status word (`cmd/output`'s `statusColors`).
pub fn status_style(status: &str) -> Option<Style> {
    match status {
        "active" | "idle" | "started" => Some(Style::Good),
        "allocating" | "executing" | "lost" | "maintenance" | "pending" | "rebooting" | "stopped" | "unknown" => Some(Style::Warning),
        "blocked" | "down" | "error" | "failed" => Some(Style::Error),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub style: Option<Style>,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Self {
        Cell { text: text.into(), style: None }
    }
    pub fn styled(text: impl Into<String>, style: Option<Style>) -> Self {
        Cell { text: text.into(), style }
    }
    pub fn status(text: &str) -> Self {
        Cell { text: text.to_string(), style: status_style(text) }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::plain(s)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::plain(s)
    }
}

/// One table section; rows may have different lengths.
#[derive(Debug, Default, Clone)]
pub struct Table {
    rows: Vec<Vec<Cell>>,
    right_aligned: Vec<usize>,
}

const PADDING: usize = 2;

impl Table {
    pub fn new() -> Self {
        Table::default()
    }
    /// Right-aligns the 0-based column `col`.
    pub fn align_right(mut self, col: usize) -> Self {
        self.right_aligned.push(col);
        self
    }
    pub fn header(&mut self, cols: &[&str]) {
        self.rows.push(cols.iter().map(|c| Cell::plain(*c)).collect());
    }
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Renders the table: every cell but the last of a row is padded to its column's
    /// width plus two spaces; trailing spaces are trimmed.
    pub fn render(&self, color: bool) -> String {
        let ncols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; ncols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i + 1 < row.len() || self.right_aligned.contains(&i) {
                    widths[i] = widths[i].max(width(&cell.text));
                }
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let last = i + 1 == row.len();
                let text = match (color, cell.style) {
                    (true, Some(s)) if !cell.text.is_empty() => {
                        let s = s.anstyle();
                        format!("{}{}{}", s.render(), cell.text, s.render_reset())
                    }
                    _ => cell.text.clone(),
                };
                let fill = widths[i].saturating_sub(width(&cell.text));
                if last {
                    if self.right_aligned.contains(&i) {
                        line.push_str(&" ".repeat(fill));
                    }
                    line.push_str(&text);
                } else if self.right_aligned.contains(&i) {
                    line.push_str(&" ".repeat(fill));
                    line.push_str(&text);
                    line.push_str(&" ".repeat(PADDING));
                } else {
                    line.push_str(&text);
                    line.push_str(&" ".repeat(fill + PADDING));
                }
            }
            out.push_str(line.trim_end_matches(' '));
            out.push('\n');
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Cuts `s` to `max` characters, ending in `...` when cut (Juju's ellipsis).
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(3);
    format!("{}...", s.chars().take(keep).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_by_two_and_right_alignment_keeps_padding_after() {
        let mut t = Table::new().align_right(1);
        t.header(&["App", "Scale", "Charm"]);
        t.row(vec!["database".into(), "1".into(), "db".into()]);
        assert_eq!(t.render(false), "App       Scale  Charm\ndatabase      1  db\n");
    }

    /// The only test that reads these variables: it sets and clears them itself.
    #[test]
    fn colour_follows_the_flags_then_no_color_then_the_terminal() {
        use anstream::ColorChoice;
        assert!(colour_stdout(ColorChoice::Always));
        assert!(!colour_stdout(ColorChoice::Never));
        std::env::set_var("CLICOLOR_FORCE", "1");
        assert!(colour_stdout(ColorChoice::Auto), "CLICOLOR_FORCE colours even a pipe");
        std::env::set_var("NO_COLOR", "1");
        assert!(!colour_stdout(ColorChoice::Auto), "NO_COLOR wins over CLICOLOR_FORCE");
        std::env::set_var("NO_COLOR", "");
        assert!(colour_stdout(ColorChoice::Auto), "an empty NO_COLOR is not set");
        std::env::remove_var("NO_COLOR");
        std::env::remove_var("CLICOLOR_FORCE");
        if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            assert!(!colour_stdout(ColorChoice::Auto), "a pipe gets no colour");
        }
    }

    #[test]
    fn colours_do_not_change_widths() {
        let mut t = Table::new();
        t.header(&["Status", "X"]);
        t.row(vec![Cell::status("active"), "y".into()]);
        let s = t.render(true);
        assert!(s.contains("\x1b[32mactive\x1b[0m  y"), "{s:?}");
        assert_eq!(t.render(false), "Status  X\nactive  y\n");
    }

    #[test]
    fn truncation_uses_an_ellipsis() {
        assert_eq!(truncate("abcdef", 5), "ab...");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
