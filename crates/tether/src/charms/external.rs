//! External charms: a local charm with code (`dispatch`, or `hooks/<name>` and
//! `actions/<name>`), run as Juju's unit agent runs it (juju-compat.md §C1–§C3).
//!
//! For each hook the charm's handler runs as a child process with the unit's own
//! persistent, writable copy of the charm as its working directory (ops keeps
//! `.unit-state.db` there), a clean environment of Juju's variables, and a fresh tools
//! directory first on `PATH` whose hook tools are links to this binary. Their calls
//! come back over the controller socket under a random context id and are executed
//! here, between the child's other work, against the hook's `HookContext`. So reads
//! see the hook's own writes, and the engine commits everything only when the process
//! exits 0; any other exit is a failed hook (or a failed action, `exit status N`).

use super::local::{self, PassiveCharm};
use super::services::Services;
use super::unit_copy;
use crate::engine::charm::Charm;
use crate::engine::context::HookContext;
use crate::hooktools::{self, Registration};
use crate::paths::Home;
use anyhow::Context as _;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tether_core::charm_meta::CharmMeta;
use tether_core::events::{Event, HookKind};
use tokio::io::AsyncReadExt;

/// The Juju version hooks are told (≥ 3.0.3, so charm libraries use secrets).
const JUJU_VERSION: &str = "3.6.5";
/// At most this much of a hook's stdout and of its stderr is kept.
const MAX_OUTPUT: usize = 1 << 20;
/// At most this many output lines per stream reach the model log.
const MAX_LOG_LINES: usize = 200;
/// How long to wait for output after exit (a background child may hold the pipes).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct ExternalCharm {
    meta: CharmMeta,
    services: Arc<Services>,
}

/// `JUJU_DISPATCH_PATH` and the program that handles it, if the charm has one.
fn handler(charm_dir: &Path, event: &Event) -> (String, Option<PathBuf>) {
    let dispatch_path = match (&event.kind, &event.action) {
        (HookKind::Action, Some((_, name))) => format!("actions/{name}"),
        _ => format!("hooks/{}", event.hook_name()),
    };
    let dispatch = charm_dir.join("dispatch");
    if dispatch.is_file() {
        return (dispatch_path, Some(dispatch));
    }
    let direct = charm_dir.join(&dispatch_path);
    (dispatch_path, direct.is_file().then_some(direct))
}

/// A per-dispatch directory of links named after the hook tools, removed on drop.
struct ToolsDir(PathBuf);

impl ToolsDir {
    fn create(home: &Home) -> anyhow::Result<ToolsDir> {
        let exe = tether_binary()?;
        let dir = ToolsDir(home.root().join("run").join(format!("tools-{}", uuid::Uuid::new_v4().simple())));
        std::fs::create_dir_all(&dir.0).with_context(|| format!("cannot create {}", dir.0.display()))?;
        for tool in hooktools::TOOLS {
            std::os::unix::fs::symlink(&exe, dir.0.join(tool)).with_context(|| format!("cannot link the {tool} tool"))?;
        }
        Ok(dir)
    }
}

/// The tether binary the hook tools run. When the running controller's binary was
/// replaced on disk (an upgrade, a rebuild), Linux names it `<path> (deleted)`: the
/// tools then run the binary now at that path, as the next controller would.
fn tether_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the tether binary for the hook tools")?;
    let replaced = exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")).map(PathBuf::from);
    Ok(replaced.filter(|p| p.is_file()).unwrap_or(exe))
}

impl Drop for ToolsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the hook's whole process group if the hook is abandoned before it exits
/// (controller shutdown), so no charm process outlives its controller.
struct Group {
    pid: Option<i32>,
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The hook's environment, built from scratch as Juju's `HookVars` does (§C2).
fn environment(
    ctx: &HookContext,
    event: &Event,
    charm_dir: &Path,
    tools: &Path,
    dispatch_path: &str,
    context_id: &str,
) -> Vec<(String, String)> {
    let system_path = std::env::var("PATH").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| SYSTEM_PATH.to_string());
    let charm = charm_dir.display().to_string();
    let mut env: Vec<(&str, String)> = vec![
        ("JUJU_VERSION", JUJU_VERSION.into()),
        ("JUJU_DISPATCH_PATH", dispatch_path.into()),
        ("JUJU_HOOK_NAME", if event.kind == HookKind::Action { String::new() } else { event.hook_name() }),
        ("JUJU_UNIT_NAME", ctx.unit.clone()),
        ("JUJU_MODEL_NAME", ctx.model.clone()),
        ("JUJU_MODEL_UUID", ctx.model_uuid.clone()),
        ("JUJU_CHARM_DIR", charm.clone()),
        ("CHARM_DIR", charm),
        ("JUJU_CONTEXT_ID", context_id.into()),
        ("JUJU_AGENT_SOCKET_ADDRESS", ctx.home().socket().display().to_string()),
        ("JUJU_AGENT_SOCKET_NETWORK", "unix".into()),
        ("JUJU_API_ADDRESSES", String::new()),
        ("JUJU_MACHINE_ID", String::new()),
        ("JUJU_PRINCIPAL_UNIT", String::new()),
        ("JUJU_AVAILABILITY_ZONE", String::new()),
        ("PATH", format!("{}:{system_path}", tools.display())),
        ("LANG", "C.UTF-8".into()),
        ("TERM", "tmux-256color".into()),
        ("DEBIAN_FRONTEND", "noninteractive".into()),
        ("APT_LISTCHANGES_FRONTEND", "none".into()),
    ];
    if let Some((id, endpoint)) = &event.relation {
        env.push(("JUJU_RELATION", endpoint.clone()));
        env.push(("JUJU_RELATION_ID", format!("{endpoint}:{id}")));
        env.push(("JUJU_REMOTE_UNIT", event.remote_unit.clone().unwrap_or_default()));
        env.push(("JUJU_REMOTE_APP", event.remote_app.clone().unwrap_or_default()));
        if let Some(departing) = &event.departing_unit {
            env.push(("JUJU_DEPARTING_UNIT", departing.clone()));
        }
    }
    if let Some((id, name)) = &event.action {
        env.push(("JUJU_ACTION_NAME", name.clone()));
        env.push(("JUJU_ACTION_UUID", id.to_string()));
        env.push(("JUJU_ACTION_TAG", format!("action-{id}")));
    }
    if let Some((uri, rev)) = &event.secret {
        let id = crate::store::secret_id_from_uri(uri);
        env.push(("JUJU_SECRET_ID", format!("secret:{id}")));
        if let Some(label) = secret_label(ctx, &id) {
            env.push(("JUJU_SECRET_LABEL", label));
        }
        if *rev > 0 && event.kind != HookKind::SecretChanged {
            env.push(("JUJU_SECRET_REVISION", rev.to_string()));
        }
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The label this unit knows a secret by: its consumer label, else the owner's label.
fn secret_label(ctx: &HookContext, id: &str) -> Option<String> {
    let consumer = ctx.unit_state().iter().find(|(k, v)| k.starts_with("tether.secret-label.") && *v == id);
    if let Some((k, _)) = consumer {
        return k.strip_prefix("tether.secret-label.").map(str::to_string);
    }
    let row = ctx.store().read(|tx| tx.secret(&ctx.model, id)).ok().flatten()?;
    (row.owner.app() == ctx.app).then_some(row.label).flatten()
}

/// Reads a stream into a shared buffer, bounded.
fn capture<R: tokio::io::AsyncRead + Unpin + Send + 'static>(mut stream: R) -> (Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    let task = tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let mut b = sink.lock().unwrap_or_else(|p| p.into_inner());
            let room = MAX_OUTPUT.saturating_sub(b.len());
            b.extend_from_slice(&chunk[..n.min(room)]);
        }
    });
    (buf, task)
}

async fn collect(buf: Arc<Mutex<Vec<u8>>>, task: tokio::task::JoinHandle<()>) -> String {
    let abort = task.abort_handle();
    if tokio::time::timeout(DRAIN_GRACE, task).await.is_err() {
        abort.abort();
    }
    let bytes = buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn exit_message(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => {
            let name =
                nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().trim_start_matches("SIG").to_lowercase()).unwrap_or_default();
            format!("signal: {name}")
        }
        _ => "hook process ended abnormally".into(),
    }
}

impl ExternalCharm {
    pub fn new(meta: CharmMeta, services: Arc<Services>) -> ExternalCharm {
        ExternalCharm { meta, services }
    }

    /// Runs the handler, answering its hook tools until it exits.
    async fn run(&self, ctx: &mut HookContext, event: &Event, program: &Path, charm_dir: &Path, dispatch_path: &str) -> anyhow::Result<()> {
        let (registration, mut calls): (Registration, _) = self.services.hook_tools.register(&ctx.unit, &event.hook_name());
        let tools = ToolsDir::create(ctx.home())?;
        let mut env = environment(ctx, event, charm_dir, &tools.0, dispatch_path, &registration.id);
        if let Some(id) = &event.storage {
            let (location, kind) = hooktools::storage::location(ctx, &self.meta, id).map_err(|e| anyhow::anyhow!("{e}"))?;
            env.push(("JUJU_STORAGE_ID".into(), id.clone()));
            env.push(("JUJU_STORAGE_LOCATION".into(), location.display().to_string()));
            env.push(("JUJU_STORAGE_KIND".into(), kind));
        }
        let mut child = tokio::process::Command::new(program)
            .current_dir(charm_dir)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        let mut group = Group { pid: child.id().map(|p| p as i32) };
        let (out, out_task) = capture(child.stdout.take().context("no stdout pipe")?);
        let (err, err_task) = capture(child.stderr.take().context("no stderr pipe")?);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status.context("waiting for the hook process")?,
                Some(call) = calls.recv() => {
                    let answer = hooktools::execute(ctx, &self.meta, &call.tool, &call.args, call.stdin.as_deref());
                    let _ = call.reply.send(answer);
                }
            }
        };
        group.pid = None;
        drop(registration);
        drop(tools);
        let (stdout, stderr) = (collect(out, out_task).await, collect(err, err_task).await);
        for line in stdout.lines().filter(|l| !l.trim().is_empty()).take(MAX_LOG_LINES) {
            ctx.log("DEBUG", line);
        }
        for line in stderr.lines().filter(|l| !l.trim().is_empty()).take(MAX_LOG_LINES) {
            ctx.log("WARNING", line);
        }
        if let Some(action) = ctx.action.as_mut() {
            action.results.insert("return-code".into(), Value::from(status.code().unwrap_or(-1)));
            if !stdout.is_empty() {
                action.results.insert("stdout".into(), Value::String(stdout));
            }
            if !stderr.is_empty() {
                action.results.insert("stderr".into(), Value::String(stderr));
            }
        }
        if status.success() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(exit_message(status)))
        }
    }
}

#[async_trait::async_trait]
impl Charm for ExternalCharm {
    fn meta(&self) -> CharmMeta {
        self.meta.clone()
    }

    async fn handle(&self, ctx: &mut HookContext, event: &Event) -> anyhow::Result<()> {
        let home = ctx.home().clone();
        let stored = home.charm_dir(&ctx.model_uuid, &ctx.app);
        if !local::has_code(&stored) {
            return PassiveCharm { meta: self.meta.clone() }.handle(ctx, event).await;
        }
        // Juju swaps the unit's charm directory for the new charm, then runs upgrade-charm.
        let charm_dir = if event.kind == HookKind::UpgradeCharm {
            unit_copy::upgrade(&home, &stored, &ctx.model_uuid, &ctx.unit)?
        } else {
            unit_copy::ensure(&home, &stored, &ctx.model_uuid, &ctx.unit)?
        };
        let (dispatch_path, program) = handler(&charm_dir, event);
        match program {
            Some(program) => self.run(ctx, event, &program, &charm_dir, &dispatch_path).await,
            None => {
                // No handler: Juju skips the hook; an action is "not implemented".
                if event.kind == HookKind::Action {
                    ctx.action_fail(&format!("action not implemented on unit {:?}", ctx.unit));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dispatch_then_hooks_then_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ev = Event::simple(HookKind::Install);
        assert_eq!(handler(dir.path(), &ev), ("hooks/install".to_string(), None));
        std::fs::create_dir_all(dir.path().join("hooks")).unwrap();
        std::fs::write(dir.path().join("hooks/install"), "#!/bin/sh\n").unwrap();
        assert_eq!(handler(dir.path(), &ev).1, Some(dir.path().join("hooks/install")));
        std::fs::write(dir.path().join("dispatch"), "#!/bin/sh\n").unwrap();
        assert_eq!(
            handler(dir.path(), &Event::action(3, "get-creds")),
            ("actions/get-creds".to_string(), Some(dir.path().join("dispatch")))
        );
    }
}
