//! The FerretDB floor: what an integration on `mongodb` must cost at least, sent by the
//! `mongodb` driver (3.8, as tether pins it) as `operator` on an open client: `createUser`
//! (SCRAM-SHA-256, no roles: FerretDB implements none), then one authenticated login as
//! the new user and a write to its database (FerretDB creates a database on first write).
//! Removal: `dropUser`, then a login that must be refused. Deploy: `ferretdb` started by
//! hand with the flags of tether's workload module, until an `operator` login works.

use crate::floor::{free_port, password, port_seed, stop_child, Login};
use anyhow::{anyhow, bail, Context, Result};
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::options::{AuthMechanism, ClientOptions, Credential, ServerAddress};
use mongodb::Client;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const OPERATOR: &str = "operator";
/// What the floor and the check of tether's credentials write.
const COLLECTION: &str = "bench";

fn client(port: u16, user: &str, password: &str) -> Result<Client> {
    let mut opts = ClientOptions::builder()
        .hosts(vec![ServerAddress::Tcp { host: "127.0.0.1".into(), port: Some(port) }])
        .direct_connection(true)
        .server_selection_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .build();
    opts.credential = Some(
        Credential::builder()
            .username(user.to_string())
            .password(password.to_string())
            .source("admin".to_string())
            .mechanism(AuthMechanism::ScramSha256)
            .build(),
    );
    Client::with_options(opts).context("mongodb client options")
}

/// An `operator` client whose login has happened (a `ping`).
pub async fn connect(port: u16, user: &str, password: &str) -> Result<Client> {
    let c = client(port, user, password)?;
    c.database("admin").run_command(doc! { "ping": 1 }).await.with_context(|| format!("FerretDB login as {user} on port {port}"))?;
    Ok(c)
}

/// One authenticated login and one write to `db`, the client closed at once.
pub async fn login(port: u16, user: &str, password: &str, db: &str) -> Login {
    let c = match client(port, user, password) {
        Ok(c) => c,
        Err(e) => return Login::Other(format!("{e:#}")),
    };
    let r = c.database(db).collection::<Document>(COLLECTION).insert_one(doc! { "by": user }).await;
    c.shutdown().immediate(true).await;
    match r {
        Ok(_) => Login::Ok,
        Err(e) if matches!(e.kind.as_ref(), ErrorKind::Authentication { .. }) => Login::Refused,
        Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 18) => Login::Refused,
        Err(e) => Login::Other(e.to_string()),
    }
}

/// The floor of one integration: `createUser`, then a login and a write as that user.
pub async fn integrate(admin: &Client, port: u16, db: &str, user: &str, pw: &str) -> Result<()> {
    let cmd = doc! { "createUser": user, "pwd": pw, "mechanisms": ["SCRAM-SHA-256"], "roles": Vec::<String>::new() };
    admin.database("admin").run_command(cmd).await.context("createUser")?;
    match login(port, user, pw, db).await {
        Login::Ok => Ok(()),
        other => bail!("floor login as {user} failed: {other:?}"),
    }
}

/// The floor of one rotation: a second user `login` with the first user's roles (none:
/// FerretDB implements none), then a login and a write as it.
pub async fn rotate(admin: &Client, port: u16, db: &str, login_name: &str, pw: &str) -> Result<()> {
    integrate(admin, port, db, login_name, pw).await
}

/// A new client as `user` and one query (the login check's `insert`), closed at once.
pub async fn query(port: u16, user: &str, password: &str, db: &str) -> Result<(), String> {
    match login(port, user, password, db).await {
        Login::Ok => Ok(()),
        Login::Refused => Err(format!("{user} refused")),
        Login::Other(e) => Err(e),
    }
}

/// The floor of removing one relation user: `dropUser`, then a refused login.
pub async fn remove(admin: &Client, port: u16, db: &str, user: &str, pw: &str) -> Result<()> {
    admin.database("admin").run_command(doc! { "dropUser": user }).await.context("dropUser")?;
    match login(port, user, pw, db).await {
        Login::Refused => Ok(()),
        other => bail!("the dropped user {user} was not refused: {other:?}"),
    }
}

/// `$TETHER_FERRETDB_BIN`, else `ferretdb` on `PATH`, else `.tools/bin/ferretdb` above the
/// tether binary (where scripts/install-ferretdb puts it), as tether finds it.
pub fn binary(tether: &std::path::Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TETHER_FERRETDB_BIN").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let on_path = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("ferretdb")).find(|p| p.is_file()));
    on_path.or_else(|| {
        let abs = std::fs::canonicalize(tether).ok()?;
        abs.ancestors().skip(1).map(|d| d.join(".tools/bin/ferretdb")).find(|p| p.is_file())
    })
}

/// `ferretdb --version`, first line.
pub fn version(tether: &std::path::Path) -> String {
    binary(tether)
        .and_then(|b| Command::new(b).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "not installed".into())
}

/// Deploy's floor: `ferretdb` started with tether's flags, an `operator` login polled
/// every 10 ms. The server is stopped (SIGTERM to its pid) and its directory removed.
pub fn start(rt: &tokio::runtime::Runtime, tether: &std::path::Path) -> Result<Duration> {
    let bin = binary(tether).ok_or_else(|| anyhow!("FerretDB not found: run scripts/install-ferretdb or set $TETHER_FERRETDB_BIN"))?;
    let dir = tempfile::Builder::new().prefix("tether-bench-floor-mg-").tempdir().context("create floor dir")?;
    let data = dir.path().join("data");
    std::fs::create_dir(&data)?;
    let pw = password(port_seed());
    let port = free_port()?;
    let d = data.display();
    let start = Instant::now();
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--handler=sqlite".to_string(),
        format!("--sqlite-url=file:{d}/"),
        format!("--state-dir={d}"),
        format!("--listen-addr=127.0.0.1:{port}"),
        "--debug-addr=-".into(),
        "--telemetry=disable".into(),
        "--test-enable-new-auth".into(),
        format!("--setup-username={OPERATOR}"),
        "--setup-database=admin".into(),
        "--log-format=text".into(),
    ]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FERRETDB_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("FERRETDB_SETUP_PASSWORD", &pw).current_dir(&data).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().context("start ferretdb")?;
    // The driver waits for its monitor once a first connection fails, so the port is
    // polled with plain TCP connects first, then the login.
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && start.elapsed() < Duration::from_secs(60) {
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let ready = loop {
        if let Some(status) = child.try_wait()? {
            break Err(anyhow!("ferretdb exited during start ({status})"));
        }
        let attempt = rt.block_on(async {
            let c = client(port, OPERATOR, &pw)?;
            let r = c.database("admin").run_command(doc! { "ping": 1 }).await;
            c.shutdown().immediate(true).await;
            Ok::<_, anyhow::Error>(r?)
        });
        match attempt {
            Ok(_) => break Ok(start.elapsed()),
            Err(_) if start.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(anyhow!("ferretdb not ready after 60 s: {e:#}")),
        }
    };
    stop_child(&mut child, "-TERM");
    ready
}
