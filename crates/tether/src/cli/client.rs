//! The control-socket client: one request per connection, one JSON line each way.
//!
//! Blocking std I/O is enough for a process that sends one request and exits, and it
//! keeps the CLI free of an async runtime. Connection failures are told apart from
//! protocol failures so that the autostart knows when to start a controller.

use super::error::CliError;
use crate::paths::Home;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use tether_core::wire::{Envelope, Reply, Request};

/// The most the CLI reads from one reply (a status of a very large model fits easily).
const MAX_REPLY_BYTES: u64 = 256 * 1024 * 1024;

/// The read timeout for requests that do not wait for something else.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

const CLOSED: &str = "the controller closed the connection without a reply";

/// Why a request got no reply.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing listens on the socket (missing file or connection refused).
    NotRunning,
    /// A connection was accepted and then closed before any reply: the controller is
    /// going down (a crash in progress keeps the socket open for a moment).
    Closed,
    /// Something listens but the exchange failed.
    Failed(String),
}

impl ClientError {
    pub fn into_cli(self, home: &Home) -> CliError {
        match self {
            ClientError::NotRunning => CliError::runtime(format!("no controller is running in {}", home.root().display())),
            ClientError::Closed => CliError::runtime(CLOSED),
            ClientError::Failed(m) => CliError::runtime(m),
        }
    }
}

/// Sends `request` and waits up to `timeout` for the reply.
pub fn call(home: &Home, request: Request, timeout: Duration) -> Result<Reply, ClientError> {
    let socket = home.socket();
    let stream = UnixStream::connect(&socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => ClientError::NotRunning,
        _ => ClientError::Failed(format!("cannot connect to the controller at {}: {e}", socket.display())),
    })?;
    let token = std::fs::read_to_string(home.token())
        .map_err(|e| ClientError::Failed(format!("cannot read the controller token {}: {e}", home.token().display())))?
        .trim()
        .to_string();
    let envelope = Envelope { token, request };
    // The request and the reply may carry the token, secret contents or passwords.
    let mut line = zeroize::Zeroizing::new(
        serde_json::to_string(&envelope).map_err(|e| ClientError::Failed(format!("cannot encode the request: {e}")))?,
    );
    line.push('\n');

    let io_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            ClientError::Failed(format!("timed out after {}s waiting for the controller to answer", timeout.as_secs()))
        }
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => ClientError::Closed,
        _ => ClientError::Failed(format!("talking to the controller: {e}")),
    };
    stream.set_write_timeout(Some(Duration::from_secs(30))).map_err(io_err)?;
    stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(io_err)?;
    (&stream).write_all(line.as_bytes()).map_err(io_err)?;
    (&stream).flush().map_err(io_err)?;

    let mut reader = BufReader::new((&stream).take(MAX_REPLY_BYTES));
    let mut reply = zeroize::Zeroizing::new(String::new());
    let n = reader.read_line(&mut reply).map_err(io_err)?;
    if n == 0 {
        return Err(ClientError::Closed);
    }
    serde_json::from_str(reply.trim_end()).map_err(|e| ClientError::Failed(format!("cannot decode the controller's reply: {e}")))
}
