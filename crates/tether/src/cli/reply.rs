//! The replies most verbs end with: a `Done` printed (info on stderr, output on
//! stdout), and any other reply reported as unexpected. Shared by every verb module.

use super::emit;
use super::error::{CliError, CmdResult};
use tether_core::wire::Reply;

pub fn unexpected(reply: &Reply) -> CliError {
    let kind = serde_json::to_value(reply).ok().and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string));
    CliError::runtime(format!("unexpected reply from the controller ({})", kind.unwrap_or_else(|| "unknown".into())))
}

/// Prints a `Done` reply (info to stderr, output to stdout).
pub fn print_done(reply: Reply) -> CmdResult {
    match reply {
        Reply::Done { info, output } => {
            for line in info {
                emit::info(&line);
            }
            if let Some(out) = output.filter(|o| !o.is_empty()) {
                emit::out_line(&out);
            }
            Ok(0)
        }
        other => Err(unexpected(&other)),
    }
}
