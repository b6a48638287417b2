//! Where a running hook's tool calls meet the hook that runs it.
//!
//! An external charm's hook registers a channel under a fresh random context id for as
//! long as its process runs. The control socket forwards each `HookTool` request to
//! that channel; the hook's own task executes the tool against its `HookContext` (so
//! reads see the hook's pending writes and nothing is committed before the hook ends)
//! and answers on the one-shot channel carried by the call. An id that is not
//! registered gets nothing: the id is the only credential a hook tool has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The longest a tool waits for its hook to answer (the hook answers between its
/// other work; a hung answer must not hold a socket connection forever).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// What a hook tool prints and exits with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl ToolOutput {
    pub fn ok(stdout: impl Into<String>) -> Self {
        ToolOutput { stdout: stdout.into(), stderr: String::new(), code: 0 }
    }
    /// Juju's tool error shape: `ERROR <message>` on stderr, exit 1 (2 for usage).
    pub fn error(message: &str, code: i32) -> Self {
        ToolOutput { stdout: String::new(), stderr: format!("ERROR {message}\n"), code }
    }
}

/// One tool invocation waiting to be executed by its hook.
#[derive(Debug)]
pub struct ToolCall {
    pub tool: String,
    pub args: Vec<String>,
    pub stdin: Option<String>,
    pub reply: oneshot::Sender<ToolOutput>,
}

#[derive(Default)]
pub struct HookToolRegistry {
    hooks: Arc<Mutex<HashMap<String, mpsc::Sender<ToolCall>>>>,
}

/// Keeps a context id registered; dropping it unregisters the id.
pub struct Registration {
    pub id: String,
    hooks: Arc<Mutex<HashMap<String, mpsc::Sender<ToolCall>>>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

impl HookToolRegistry {
    /// Registers a new context for `unit`'s `hook`; calls arrive on the receiver.
    pub fn register(&self, unit: &str, hook: &str) -> (Registration, mpsc::Receiver<ToolCall>) {
        let (tx, rx) = mpsc::channel(16);
        let id = format!("{}-{hook}-{}", unit.replace('/', "-"), uuid::Uuid::new_v4().simple());
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), tx);
        (Registration { id, hooks: self.hooks.clone() }, rx)
    }

    pub fn is_registered(&self, id: &str) -> bool {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).contains_key(id)
    }

    /// Hands a call to its hook and waits for the answer; `None` when the context is
    /// unknown or its hook has ended.
    pub async fn call(&self, id: &str, tool: String, args: Vec<String>, stdin: Option<String>) -> Option<ToolOutput> {
        let sender = self.hooks.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()?;
        let (reply, answer) = oneshot::channel();
        sender.send(ToolCall { tool, args, stdin, reply }).await.ok()?;
        tokio::time::timeout(CALL_TIMEOUT, answer).await.ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_reach_the_registered_hook_only_while_registered() {
        let reg = HookToolRegistry::default();
        let (guard, mut rx) = reg.register("app/0", "install");
        assert!(guard.id.starts_with("app-0-install-") && guard.id.len() > 40);
        let id = guard.id.clone();
        let server = tokio::spawn(async move {
            let call = rx.recv().await.unwrap();
            let _ = call.reply.send(ToolOutput::ok(format!("{} {}", call.tool, call.args.join(" "))));
        });
        let out = reg.call(&id, "is-leader".into(), vec!["--format=json".into()], None).await.unwrap();
        assert_eq!(out.stdout, "is-leader --format=json");
        server.await.unwrap();
        assert!(reg.call("nope", "is-leader".into(), vec![], None).await.is_none());
        drop(guard);
        assert!(!reg.is_registered(&id));
        assert!(reg.call(&id, "is-leader".into(), vec![], None).await.is_none());
    }
}
