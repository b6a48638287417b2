//! The controller daemon: owns the store, the event engine, the workloads and the
//! control socket. `tether controller run` runs it in the foreground; the CLI starts it
//! in the background when none answers.
//!
//! Start-up order: home (0700) → store and key → default model → engine (every
//! installed unit runs `start` again, so workloads come back) → socket (0600) and pid
//! file. Shutdown (request or SIGTERM/SIGINT) reverses it: stop accepting, stop the
//! workers, stop every workload, remove socket and pid file. State stays on disk.
//!
//! Modules, top to bottom (each imports only those below it): `server` (the socket) →
//! `api` (dispatch) → one handler per noun (`models`, `applications`, `relations`,
//! `secrets`, `actions`, `audit`, `views`; `resources` serves `applications`) →
//! `lifecycle` (hook plans shared by handlers) → `lookup` (what a request names) →
//! `error` and `state`. No handler imports another handler.

mod actions;
mod api;
mod applications;
mod audit;
mod error;
mod inputs;
mod lifecycle;
mod lookup;
mod models;
mod refresh;
mod relations;
mod resources;
mod secrets;
mod server;
mod state;
mod views;

use crate::charms::{Registry, Services};
use crate::engine::Engine;
use crate::paths::Home;
use crate::store::{Store, StoreError};
use anyhow::Context;
use state::Controller;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::sync::Arc;
use tokio::sync::Notify;

/// Runs the controller in the foreground until it is told to stop (request or signal).
pub fn run_foreground(home: Home) -> anyhow::Result<()> {
    init_log();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(run(home))
}

/// The daemon's own log: `tracing` events as lines on stderr (which `autostart` sends to
/// `$TETHER_HOME/logs/controller.log`), filtered by `TETHER_LOG` (`tracing-subscriber`'s
/// `EnvFilter` syntax, e.g. `debug` or `tether::engine=debug`; `info` when unset or
/// invalid). No colour: the file is read with ordinary tools. The model's log
/// (`debug-log`) is in the store and does not pass through here.
fn init_log() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TETHER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Already set only when something in this process set it first; keep that one.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
}

fn ensure_home(home: &Home) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home.root())
        .with_context(|| format!("cannot create {}", home.root().display()))?;
    // Close the home to others, but never chmod it to 0700 blindly: its group bits are the
    // mask of the traverse-only ACL entries the database users need (postgres, mysql), and
    // resetting them would lock those servers out of their data on the next restart.
    let mode = std::fs::metadata(home.root())?.permissions().mode();
    if mode & 0o007 != 0 {
        std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(mode & 0o770))?;
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(home.logs())?;
    Ok(())
}

fn ensure_token(home: &Home) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if home.token().exists() {
        return Ok(());
    }
    let token = crate::secret::generate_password(40);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(home.token())?;
    f.write_all(token.expose().as_bytes())?;
    Ok(())
}

async fn run(home: Home) -> anyhow::Result<()> {
    // Everything the controller creates (store, logs, key) is the owner's alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    ensure_home(&home)?;
    ensure_token(&home)?;
    let store = Arc::new(Store::open(&home.store(), &home.key()).context("cannot open the store")?);
    let uuid = store.write(|tx| {
        let uuid = match tx.meta("controller-uuid")? {
            Some(u) => u,
            None => {
                let u = uuid::Uuid::new_v4().to_string();
                tx.set_meta("controller-uuid", &u)?;
                u
            }
        };
        if tx.models()?.is_empty() && tx.meta("current-model")?.is_none() {
            tx.create_model("default", &uuid::Uuid::new_v4().to_string())?;
            tx.set_meta("current-model", "default")?;
        }
        Ok::<_, StoreError>(uuid)
    })?;
    let services = Arc::new(Services::new(home.clone()));
    let charms = Arc::new(Registry::new(services.clone()));
    let engine = Engine::new(store.clone(), home.clone(), charms.clone());
    let _ = services.engine.set(Arc::downgrade(&engine));
    let controller = Arc::new(Controller { home: home.clone(), store, engine: engine.clone(), charms, shutdown: Notify::new(), uuid });
    let listener = server::bind(&home)?;
    std::fs::write(home.pid(), std::process::id().to_string())?;
    engine.resume_all()?;
    tracing::info!("tether controller listening on {}", home.socket().display());

    let serve = tokio::spawn(server::serve(listener, controller.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = controller.shutdown.notified() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    // The socket keeps serving while the running hooks finish: a charm's hook tools
    // (`relation-get`, `action-set`...) are requests on it.
    engine.shutdown().await;
    serve.abort();
    services.supervisor.stop_all().await;
    services.routers.stop_all().await;
    let _ = std::fs::remove_file(home.socket());
    let _ = std::fs::remove_file(home.pid());
    tracing::info!("tether controller stopped");
    Ok(())
}
