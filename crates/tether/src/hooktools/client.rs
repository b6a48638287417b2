//! The hook-tool side of the `tether` binary: when it runs under a tool's name (a link
//! in a hook's tools directory), it forwards its arguments, and stdin when a tool reads
//! it, to the controller with the hook's context id, then prints what comes back and
//! exits with its code. Files named in arguments (`--file PATH`, `KEY#file=PATH`) are
//! read here, in the hook's own process, so the controller never opens paths on a
//! hook's behalf.

use super::ToolOutput;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;
use tether_core::wire::{Envelope, Reply, Request};

/// The most a tool reads from stdin or from a named file.
const MAX_INPUT: u64 = 8 << 20;

fn read_input(path: &str) -> Result<String, String> {
    let mut out = String::new();
    let res = if path == "-" {
        std::io::stdin().take(MAX_INPUT).read_to_string(&mut out)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT).read_to_string(&mut out))
    };
    res.map(|_| out).map_err(|e| format!("cannot read {path:?}: {e}"))
}

/// Turns file references into inline data: `--file X` becomes `--file -` with X's
/// contents as stdin; `KEY#file=PATH` becomes `KEY=<contents>`.
fn inline_files(tool: &str, args: Vec<String>) -> Result<(Vec<String>, Option<String>), String> {
    let mut out = Vec::with_capacity(args.len());
    let mut stdin = None;
    let mut it = args.into_iter();
    let mut flags_done = false;
    while let Some(arg) = it.next() {
        if arg == "--" {
            flags_done = true;
            out.push(arg);
            continue;
        }
        if !flags_done && (arg == "--file" || arg == "-file") {
            let path = it.next().ok_or_else(|| "flag needs an argument: -file".to_string())?;
            stdin = Some(read_input(&path)?);
            out.extend(["--file".to_string(), "-".to_string()]);
        } else if let Some(path) = arg.strip_prefix("--file=").filter(|_| !flags_done) {
            stdin = Some(read_input(path)?);
            out.extend(["--file".to_string(), "-".to_string()]);
        } else if let Some((key, path)) = arg.split_once("#file=").filter(|_| tool.starts_with("secret-")) {
            let value = read_input(path)?;
            out.push(format!("{key}={value}"));
        } else {
            out.push(arg);
        }
    }
    Ok((out, stdin))
}

fn call(tool: &str, args: Vec<String>) -> Result<ToolOutput, String> {
    let socket = std::env::var("JUJU_AGENT_SOCKET_ADDRESS").map_err(|_| "JUJU_AGENT_SOCKET_ADDRESS not set".to_string())?;
    let context = std::env::var("JUJU_CONTEXT_ID").map_err(|_| "JUJU_CONTEXT_ID not set".to_string())?;
    let (args, stdin) = inline_files(tool, args)?;
    let request = Request::HookTool { context, tool: tool.to_string(), args, stdin };
    let mut line = serde_json::to_string(&Envelope { token: String::new(), request }).map_err(|e| e.to_string())?;
    line.push('\n');
    let stream = UnixStream::connect(&socket).map_err(|e| format!("cannot connect to the unit agent at {socket}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(330))).map_err(|e| e.to_string())?;
    (&stream).write_all(line.as_bytes()).map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).map_err(|e| format!("no answer from the unit agent: {e}"))?;
    match serde_json::from_str::<Reply>(reply.trim_end()) {
        Ok(Reply::HookTool { stdout, stderr, code }) => Ok(ToolOutput { stdout, stderr, code }),
        Ok(Reply::Error { message, .. }) => Err(message),
        Ok(_) => Err("unexpected answer from the unit agent".into()),
        Err(e) => Err(format!("cannot decode the unit agent's answer: {e}")),
    }
}

/// Runs the tool named `tool` with the process's arguments.
pub fn main(tool: &str) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match call(tool, args) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.stdout.as_bytes());
            let _ = std::io::stderr().write_all(out.stderr.as_bytes());
            ExitCode::from(out.code.clamp(0, 255) as u8)
        }
        Err(message) => {
            eprintln!("ERROR {message}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_become_inline_data() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("password");
        std::fs::write(&f, "s3cret").unwrap();
        let arg = format!("password#file={}", f.display());
        let (args, stdin) = inline_files("secret-add", vec!["--label".into(), "x".into(), arg]).unwrap();
        assert_eq!(args, ["--label", "x", "password=s3cret"]);
        assert!(stdin.is_none());
        let (args, stdin) = inline_files("relation-set", vec!["--file".into(), f.display().to_string()]).unwrap();
        assert_eq!(args, ["--file", "-"]);
        assert_eq!(stdin.as_deref(), Some("s3cret"));
    }
}
