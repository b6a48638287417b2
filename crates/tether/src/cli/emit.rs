//! Writing to stdout and stderr without panicking.
//!
//! `println!` panics when the reader of a pipe goes away (`tether status | head -1`);
//! a CLI must instead stop quietly. Every line the CLI prints goes through here.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--quiet`: informational lines are dropped, errors and stdout are not.
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Writes `text` to stdout verbatim.
pub fn out(text: &str) {
    let _ = try_out(text);
}

/// Writes `text` to stdout; false when the reader has gone (a follower stops then).
pub fn try_out(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()).is_ok()
}

/// Writes `text` to stdout, adding a final newline if it lacks one.
pub fn out_line(text: &str) {
    if text.ends_with('\n') {
        out(text);
    } else {
        out(&format!("{text}\n"));
    }
}

/// Writes one informational line to stderr (nothing under `--quiet`).
pub fn info(line: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        line_to_stderr(line);
    }
}

/// Replaces the progress line on a terminal's stderr with `text` (nothing under
/// `--quiet`); [`progress_end`] clears it.
pub fn progress(text: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K{text}");
        let _ = stderr.flush();
    }
}

/// Clears the progress line.
pub fn progress_end() {
    progress("");
}

fn line_to_stderr(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

/// Writes Juju's `ERROR <message>` line to stderr.
pub fn error(message: &str) {
    line_to_stderr(&format!("ERROR {message}"));
}
