//! The control socket: a unix socket only the owner can open, one JSON request line
//! and one JSON reply line per connection, each request carrying the controller token.

use super::api;
use super::state::Controller;
use crate::paths::Home;
use crate::secret::SecretString;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use tether_core::wire::{Envelope, Reply, Request};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use zeroize::Zeroizing;

/// Requests larger than this are refused (a request is a few hundred bytes).
const MAX_REQUEST: usize = 4 << 20;

pub fn bind(home: &Home) -> anyhow::Result<UnixListener> {
    let path = home.socket();
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            anyhow::bail!("a controller is already running in {}", home.root().display());
        }
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

pub async fn serve(listener: UnixListener, controller: Arc<Controller>) {
    let text = Zeroizing::new(std::fs::read_to_string(controller.home.token()).unwrap_or_default());
    let token = Arc::new(SecretString::new(text.trim()));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (c, t) = (controller.clone(), token.clone());
        tokio::spawn(async move {
            let _ = handle(stream, c, t).await;
        });
    }
}

fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(stream: UnixStream, controller: Arc<Controller>, token: Arc<SecretString>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    // The request and its reply may carry the token, secret contents or passwords.
    let mut line = Zeroizing::new(String::new());
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Envelope>(&line) {
        Err(e) => Reply::Error { message: format!("malformed request: {}", e.to_string().lines().next().unwrap_or("")), usage: true },
        // A hook tool has no token: its registered context id is its credential.
        Ok(Envelope { request: Request::HookTool { context, tool, args, stdin }, .. })
            if controller.charms.services().hook_tools.is_registered(&context) =>
        {
            api::hook_tool(&controller, &context, tool, args, stdin).await
        }
        Ok(env) if !same_token(&env.token, token.expose()) => Reply::error("permission denied: wrong controller token"),
        Ok(env) => api::dispatch(&controller, env.request).await,
    };
    let mut out = Zeroizing::new(serde_json::to_vec(&reply).unwrap_or_default());
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}
