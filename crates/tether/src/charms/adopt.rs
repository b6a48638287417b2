//! Adopt mode, as every server charm that offers it does it (postgresql-k8s, mysql-k8s,
//! mongodb): with `external-endpoint` (`host:port`, or a comma list whose first is the
//! primary and the rest read-only replicas: [`parse_endpoints`]) and `admin-secret` (the
//! URI of a user secret with `username` and `password`, granted to the application) set
//! at deploy, the charm starts no server and manages relation users on that server (the
//! primary) as that admin; the replicas are only published ([`replicas`]).
//! PostgreSQL and MySQL also take `tls-ca` (PEM): tether's own connections are then TLS
//! that trusts that CA only and checks the server's name, and requirers are told `tls`
//! and `tls-ca` ([`published_tls`]); whether the server offers TLS at all is read at
//! every check and kept in unit state.
//!
//! Written once here so the charms cannot drift apart: the options and their checks
//! (both or neither, fixed after deploy), reading the admin secret, logging in and
//! checking the admin's privileges before anything is created, and turning what went
//! wrong into the unit's status: unreachable → `waiting`, anything the operator must fix
//! (a refused login, a missing privilege, an unreadable secret, a server of another
//! engine) → `blocked`. The reason is kept in unit state ([`STATE_PROBLEM`]) so that
//! `settle_status` shows it; no status text ever carries a secret. Also here: the
//! `rotate-admin-password` action, the one change tether makes to the server's own users
//! (the admin's password, crash-safe through the admin secret).

use crate::engine::context::HookContext;
use crate::engines::admin_pool::AdoptedLogin;
use crate::engines::tls::TlsCa;
use crate::engines::{AdoptedAdmin, Classify, ErrorClass};
use crate::secret::SecretString;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tether_core::charm_meta::{ActionSpec, ConfigOption, OptionType};
use tether_core::status::WorkloadStatus;

use super::server;

pub const EXTERNAL_ENDPOINT: &str = "external-endpoint";
pub const ADMIN_SECRET: &str = "admin-secret";
pub const TLS_CA: &str = "tls-ca";
/// Unit-state key: `on` when the adopted server offers TLS, as the last check found.
const STATE_TLS: &str = "adopted.tls";
/// Unit-state key: why the adopted server cannot be managed now (`waiting|...` or
/// `blocked|...`); absent when it can.
const STATE_PROBLEM: &str = "adopted.problem";
/// How long logging in and checking the admin may take: a server cut off by the network
/// must make the unit wait, not hold its hook.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// What `set-password` answers on an adopted server.
pub const SET_PASSWORD_REFUSED: &str =
    "set-password is not available on an adopted server: tether never changes the server's own users (rotate-admin-password changes its admin's password)";

/// The admin login of an adopted server, from the admin secret.
pub struct AdminLogin {
    pub user: String,
    pub password: SecretString,
}

/// The admin secret's key that holds a new admin password while `rotate-admin-password`
/// sets it on the server (see [`rotate_admin_password`]).
const PENDING: &str = "password-pending";

/// Where and as whom an adopted server is managed: its address, the admin login, and the
/// scope (`<model uuid>/<application>`) whose ownership marker the relation users carry.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub login: AdminLogin,
    pub scope: String,
    /// The CA tether's connections trust (`tls-ca`); `None`: unencrypted.
    pub tls: Option<TlsCa>,
}

impl Target {
    /// How the engine's admin pool logs in to it.
    pub fn admin_login(&self) -> AdoptedLogin<'_> {
        AdoptedLogin {
            host: &self.host,
            port: self.port,
            user: &self.login.user,
            password: &self.login.password,
            scope: &self.scope,
            tls: self.tls.as_ref(),
        }
    }
}

/// The two options, for the charm's metadata; `privileges` says what the admin needs.
pub fn config_options(privileges: &str) -> Vec<ConfigOption> {
    let option = |name: &str, description: String| ConfigOption { name: name.into(), kind: OptionType::String, default: None, description };
    vec![
        option(
            EXTERNAL_ENDPOINT,
            format!(
                "host:port of an existing server to adopt instead of starting one, or a comma list whose first is the primary and the rest its read-only replicas (set at deploy, with {ADMIN_SECRET})"
            ),
        ),
        option(ADMIN_SECRET, format!("URI of a user secret (username, password) of the adopted server's admin, which needs {privileges}")),
    ]
}

/// `tls-ca`, for the charms whose engine tether reaches over TLS.
pub fn tls_option() -> ConfigOption {
    ConfigOption {
        name: TLS_CA.into(),
        kind: OptionType::String,
        default: None,
        description: format!(
            "PEM certificate(s) of the CA that signed the adopted server's certificate (set at deploy, with {EXTERNAL_ENDPOINT}): tether then connects only over TLS, checking the server's name (verify-full), and hands the CA to requirers as tls-ca"
        ),
    }
}

/// The parsed `tls-ca`, when set.
fn tls_ca(config: &BTreeMap<String, Value>) -> Result<Option<TlsCa>, String> {
    match config_text(config, TLS_CA) {
        None => Ok(None),
        Some(pem) => TlsCa::parse(pem).map(Some).map_err(|why| format!("{TLS_CA} {why}")),
    }
}

/// At most this many addresses in `external-endpoint` (they are echoed in the databags).
const MAX_ENDPOINTS: usize = 16;

/// `host:port` of one address.
fn parse_host_port(value: &str) -> Result<(String, u16), String> {
    let shown: String = value.chars().take(64).collect();
    let bad = || format!("{EXTERNAL_ENDPOINT} must be host:port (or a comma list of them), got {shown:?}");
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?;
    tether_core::names::validate_host(host).map_err(|_| bad())?;
    Ok((host.to_string(), port))
}

/// `external-endpoint`: `host:port`, or a comma list of them whose first is the primary
/// (where tether manages users) and the rest its read-only replicas. No empty element,
/// no address twice.
pub fn parse_endpoints(value: &str) -> Result<Vec<(String, u16)>, String> {
    let mut endpoints: Vec<(String, u16)> = Vec::new();
    for (index, element) in value.split(',').enumerate() {
        if element.trim().is_empty() {
            return Err(format!("{EXTERNAL_ENDPOINT} has an empty element (number {} of the comma list)", index + 1));
        }
        let endpoint = parse_host_port(element.trim())?;
        if endpoints.contains(&endpoint) {
            return Err(format!("{EXTERNAL_ENDPOINT} names {}:{} more than once", endpoint.0, endpoint.1));
        }
        endpoints.push(endpoint);
    }
    if endpoints.len() > MAX_ENDPOINTS {
        return Err(format!("{EXTERNAL_ENDPOINT} takes at most {MAX_ENDPOINTS} addresses"));
    }
    Ok(endpoints)
}

fn config_text<'a>(config: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    config.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The adopted server's address (the primary's, when `external-endpoint` is a list),
/// when the application runs in adopt mode.
pub fn endpoint(ctx: &HookContext) -> Option<(String, u16)> {
    all_endpoints(ctx).into_iter().next()
}

fn all_endpoints(ctx: &HookContext) -> Vec<(String, u16)> {
    config_text(&ctx.config, EXTERNAL_ENDPOINT).and_then(|e| parse_endpoints(e).ok()).unwrap_or_default()
}

/// The adopted server's read-only replicas (the rest of `external-endpoint`'s list) as
/// `host:port` strings; empty when it names one address.
pub fn replicas(ctx: &HookContext) -> Vec<String> {
    all_endpoints(ctx).into_iter().skip(1).map(|(h, p)| format!("{h}:{p}")).collect()
}

/// At deploy: both options or neither, a `host:port`, a secret URI.
pub fn check_config(config: &BTreeMap<String, Value>) -> Result<(), String> {
    let endpoint = config_text(config, EXTERNAL_ENDPOINT);
    if let Some(e) = endpoint {
        parse_endpoints(e)?;
    }
    if tls_ca(config)?.is_some() && endpoint.is_none() {
        return Err(format!("{TLS_CA} is for an adopted server: set it with {EXTERNAL_ENDPOINT} and {ADMIN_SECRET}"));
    }
    match (endpoint.is_some(), config_text(config, ADMIN_SECRET)) {
        (true, None) | (false, Some(_)) => Err(format!("{EXTERNAL_ENDPOINT} and {ADMIN_SECRET} go together: set both to adopt a server")),
        (_, Some(uri)) if !is_secret_uri(uri) => Err(format!("{ADMIN_SECRET} must be a secret URI (secret:...)")),
        _ => Ok(()),
    }
}

/// `secret:<id>` or `secret://<model uuid>/<id>`: letters, digits, `-`, `/`, bounded (it
/// is echoed in statuses).
fn is_secret_uri(uri: &str) -> bool {
    uri.strip_prefix("secret:").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 100 && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/'))
    })
}

/// After deploy: the options never change (the application's users live on that server).
pub fn check_config_change(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Result<(), String> {
    for key in [EXTERNAL_ENDPOINT, ADMIN_SECRET, TLS_CA] {
        if config_text(old, key) != config_text(new, key) {
            return Err(format!("{key} is fixed at deploy (the application's users live on that server)"));
        }
    }
    Ok(())
}

fn admin_secret_uri(ctx: &HookContext) -> String {
    config_text(&ctx.config, ADMIN_SECRET).unwrap_or_default().to_string()
}

/// The admin login in the admin secret and the password of a rotation in flight, or the
/// reason it cannot be read (never a secret).
fn admin_login(ctx: &HookContext) -> Result<(AdminLogin, Option<SecretString>), String> {
    let uri = admin_secret_uri(ctx);
    let Ok(content) = ctx.secret_get(&uri) else {
        return Err(format!("{ADMIN_SECRET} {uri} cannot be read: removed, or not granted to {}", ctx.app));
    };
    let pending = content.get(PENDING).map(|p| SecretString::new(p.clone()));
    match (content.get("username"), content.get("password")) {
        (Some(user), Some(password)) if !user.is_empty() => {
            Ok((AdminLogin { user: user.clone(), password: SecretString::new(password.clone()) }, pending))
        }
        _ => Err(format!("{ADMIN_SECRET} {uri} needs the keys username and password")),
    }
}

/// Makes the admin secret say `password` and forget any rotation in flight (committed
/// with the hook; a new revision only when that changes something).
fn settle_admin_secret(ctx: &mut HookContext, password: &SecretString) -> anyhow::Result<()> {
    let uri = admin_secret_uri(ctx);
    let mut content = ctx.secret_get(&uri)?;
    let before = content.clone();
    content.remove(PENDING);
    content.insert("password".into(), password.expose().to_string());
    if content != before {
        ctx.secret_set(&uri, content)?;
    }
    Ok(())
}

/// `rotate-admin-password`: a new password for the adopted server's admin, known only to
/// tether. Crash-safe like `set-password`: the new password is recorded in the admin
/// secret (sealed, committed at once) before the server changes, so a controller killed in
/// between finds it when the old one is refused ([`admin`] completes the change); the
/// secret's `password` then takes it, as a new revision, with the hook. A refusal by the
/// server is returned (the stale record is dropped by the next login).
async fn rotate_admin_password<A: AdoptedAdmin>(
    ctx: &mut HookContext,
    admin: &A,
    new: &SecretString,
) -> anyhow::Result<Result<(), A::Error>> {
    let uri = admin_secret_uri(ctx);
    let mut content = ctx.secret_get(&uri)?;
    let user = content.get("username").cloned().unwrap_or_default();
    content.insert(PENDING.into(), new.expose().to_string());
    ctx.secret_set_now(&uri, &content)?;
    if let Err(e) = admin.set_internal_password(&user, new).await {
        return Ok(Err(e));
    }
    settle_admin_secret(ctx, new)?;
    ctx.audit("rotated", "action:rotate-admin-password", &user, "adopted server admin password changed");
    Ok(Ok(()))
}

/// The admin client of the adopted server, logged in with the admin secret (`connect`)
/// and checked for its privileges; `None` when it cannot be used now, the reason then
/// being in the unit state (shown by [`problem`]) and nothing may be created. The server
/// version is recorded the first time. `engine` names the server kind in messages.
pub async fn admin<A, F, Fut>(ctx: &mut HookContext, engine: &str, connect: F) -> anyhow::Result<Option<Arc<A>>>
where
    A: AdoptedAdmin,
    F: Fn(Target) -> Fut,
    Fut: Future<Output = Result<Arc<A>, A::Error>>,
{
    let Some((host, port)) = endpoint(ctx) else { anyhow::bail!("{EXTERNAL_ENDPOINT} is not set") };
    let scope = format!("{}/{}", ctx.model_uuid, ctx.app);
    // Checked at deploy; a value that no longer parses (a newer rustls) blocks.
    let tls = tls_ca(&ctx.config);
    let check = async |login: AdminLogin| {
        let target = Target { host: host.clone(), port, login, scope: scope.clone(), tls: tls.clone().ok().flatten() };
        let checked = async {
            let admin = connect(target).await?;
            let missing = admin.missing_privileges().await?;
            // Only once the check passed: a lacking admin's sessions are all dropped
            // (MariaDB gives global privileges at login), none must be opened before it
            // has them.
            let offers_tls = if missing.is_empty() { admin.server_tls().await? } else { false };
            Ok::<_, A::Error>((admin, missing, offers_tls))
        };
        tokio::time::timeout(CHECK_TIMEOUT, checked).await
    };
    let problem = match (admin_login(ctx), &tls) {
        (_, Err(why)) => Err((WorkloadStatus::Blocked, why.clone())),
        (Err(why), _) => Err((WorkloadStatus::Blocked, why)),
        (Ok((login, pending)), Ok(_)) => {
            let user = login.user.clone();
            let old = login.password.clone();
            let mut outcome = check(login).await;
            let refused = matches!(&outcome, Ok(Err(e)) if matches!(e.class(), ErrorClass::Blocked(_)));
            match pending {
                // A rotation was cut short after the server took the new password.
                Some(new) if refused => {
                    outcome = check(AdminLogin { user: user.clone(), password: new.clone() }).await;
                    if matches!(outcome, Ok(Ok(_))) {
                        ctx.log("WARNING", "an interrupted rotate-admin-password was completed");
                        settle_admin_secret(ctx, &new)?;
                    }
                }
                // A rotation the server never took: the old password stays.
                Some(_) if matches!(outcome, Ok(Ok(_))) => settle_admin_secret(ctx, &old)?,
                _ => {}
            }
            match outcome {
                Err(_) => Err((
                    WorkloadStatus::Waiting,
                    format!("adopted {engine} server {host}:{port} unreachable: no answer within {} s", CHECK_TIMEOUT.as_secs()),
                )),
                Ok(Ok((admin, missing, offers_tls))) if missing.is_empty() => Ok((admin, offers_tls)),
                Ok(Ok((_, missing, _))) => Err((
                    WorkloadStatus::Blocked,
                    format!(
                        "the admin {user:?} of adopted server {host}:{port} lacks {}; nothing is created until it has it",
                        missing.join(" and ")
                    ),
                )),
                Ok(Err(e)) => match e.class() {
                    ErrorClass::Retry => {
                        Err((WorkloadStatus::Waiting, format!("adopted {engine} server {host}:{port} unreachable: {}", e.root())))
                    }
                    ErrorClass::Blocked(why) => Err((WorkloadStatus::Blocked, format!("adopted server {host}:{port}: {why}"))),
                    ErrorClass::Bug => return Err(e.into()),
                },
            }
        }
    };
    match problem {
        Ok((admin, offers_tls)) => {
            ctx.state_delete(STATE_PROBLEM);
            if offers_tls {
                ctx.state_set(STATE_TLS, "on");
            } else {
                ctx.state_delete(STATE_TLS);
            }
            if ctx.state_get(server::STATE_VERSION).is_none() {
                ctx.state_set(server::STATE_VERSION, &admin.version().await?);
            }
            Ok(Some(admin))
        }
        Err((status, message)) => {
            ctx.log("WARNING", &message);
            ctx.state_set(STATE_PROBLEM, &format!("{}|{message}", status.as_str()));
            Ok(None)
        }
    }
}

/// What requirers are told about TLS on the adopted server: whether it offers TLS (as
/// the last check found), and the CA to verify it with (`tls-ca`, when set).
pub fn published_tls(ctx: &HookContext) -> (bool, Option<String>) {
    let on = ctx.state_get(STATE_TLS).as_deref() == Some("on");
    let ca = config_text(&ctx.config, TLS_CA).filter(|_| on).map(str::to_string);
    (on, ca)
}

/// The `rotate-admin-password` action's name and metadata.
pub const ROTATE_ADMIN_PASSWORD: &str = "rotate-admin-password";

pub fn rotate_action_spec() -> ActionSpec {
    ActionSpec {
        name: ROTATE_ADMIN_PASSWORD.into(),
        description: "On an adopted server: sets a new random password for its admin, known only to tether (the admin secret gets a new revision). Leader only.".into(),
        params: vec![],
        required: vec![],
        additional_properties: false,
    }
}

/// Runs `rotate-admin-password` (see [`rotate_admin_password`]) with the admin client the
/// charm's `admin` gives (`None`: the server cannot be managed now) and the new password.
pub async fn rotate_action<A: AdoptedAdmin>(
    ctx: &mut HookContext,
    admin: impl AsyncFnOnce(&mut HookContext) -> anyhow::Result<Option<Arc<A>>>,
    new: SecretString,
) -> anyhow::Result<()> {
    if endpoint(ctx).is_none() {
        ctx.action_fail("rotate-admin-password is for an adopted server; use set-password for the charm's own users");
        return Ok(());
    }
    if !ctx.leader {
        ctx.action_fail("The action can be run only on leader unit");
        return Ok(());
    }
    let Some(admin) = admin(ctx).await? else {
        ctx.action_fail("the adopted server cannot be managed now (see the unit's status)");
        return Ok(());
    };
    if let Err(e) = rotate_admin_password(ctx, &*admin, &new).await? {
        ctx.log("ERROR", &format!("rotate-admin-password: {e}"));
        ctx.action_fail("Failed changing the password.");
        return Ok(());
    }
    ctx.action_set("rotated", true.into());
    Ok(())
}

/// Why the adopted server cannot be managed, as the last attempt found it.
pub fn problem(ctx: &HookContext) -> Option<(WorkloadStatus, String)> {
    let stored = ctx.state_get(STATE_PROBLEM)?;
    let (status, message) = stored.split_once('|')?;
    let status = if status == "waiting" { WorkloadStatus::Waiting } else { WorkloadStatus::Blocked };
    Some((status, message.to_string()))
}

/// The active status of an adopted server: where it is and what it runs.
pub fn active_message(ctx: &HookContext, host: &str, port: u16, engine: &str) -> String {
    let version = server::primary_version(ctx).unwrap_or_else(|| "unknown".into());
    if version.contains(engine) {
        format!("adopted server {host}:{port}, {version}")
    } else {
        format!("adopted server {host}:{port}, {engine} {version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_a_host_and_port_or_a_list_of_them() {
        let one = |h: &str, p: u16| (h.to_string(), p);
        assert_eq!(parse_endpoints("db.example:5432"), Ok(vec![one("db.example", 5432)]));
        assert_eq!(parse_endpoints("10.1.2.3:3306"), Ok(vec![one("10.1.2.3", 3306)]));
        assert_eq!(parse_endpoints("a:1, b:2,c:3"), Ok(vec![one("a", 1), one("b", 2), one("c", 3)]));
        for bad in ["nonsense", "host:", ":5432", "host:0", "host:99999", "h o st:1", "host;drop:1", "a:1,nonsense"] {
            assert!(parse_endpoints(bad).unwrap_err().contains("must be host:port"), "{bad}");
        }
        for empty in ["", "a:1,", ",a:1", "a:1,,b:2", "a:1, ,b:2"] {
            assert!(parse_endpoints(empty).unwrap_err().contains("empty element"), "{empty:?}");
        }
        assert!(parse_endpoints("a:1,b:2,a:1").unwrap_err().contains("a:1 more than once"));
        let many = (1..=17).map(|p| format!("h:{p}")).collect::<Vec<_>>().join(",");
        assert!(parse_endpoints(&many).unwrap_err().contains("at most 16"));
    }

    #[test]
    fn the_options_go_together_and_never_change() {
        let config =
            |pairs: &[(&str, &str)]| -> BTreeMap<String, Value> { pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect() };
        assert!(check_config(&config(&[])).is_ok());
        assert!(check_config(&config(&[(EXTERNAL_ENDPOINT, "h:1"), (ADMIN_SECRET, "secret:x")])).is_ok());
        assert!(check_config(&config(&[(EXTERNAL_ENDPOINT, "h:1")])).unwrap_err().contains("go together"));
        assert!(check_config(&config(&[(ADMIN_SECRET, "secret:x")])).unwrap_err().contains("go together"));
        for bad in ["x", "secret:", "secret:a b", "secret:a\nb", "secret:'; DROP", &format!("secret:{}", "a".repeat(101))] {
            let refused = check_config(&config(&[(EXTERNAL_ENDPOINT, "h:1"), (ADMIN_SECRET, bad)])).unwrap_err();
            assert!(refused.contains("secret URI") && refused.len() < 100, "{bad:?}: {refused}");
        }
        assert!(check_config(&config(&[(EXTERNAL_ENDPOINT, "h:1"), (ADMIN_SECRET, "secret://0123-abcd/d0esn0t")])).is_ok());
        let old = config(&[(EXTERNAL_ENDPOINT, "h:1"), (ADMIN_SECRET, "secret:x")]);
        let new = config(&[(EXTERNAL_ENDPOINT, "h:2"), (ADMIN_SECRET, "secret:x")]);
        assert!(check_config_change(&old, &new).unwrap_err().contains("fixed at deploy"));
        assert!(check_config_change(&old, &old).is_ok());
    }
}
