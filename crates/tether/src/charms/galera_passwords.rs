//! `set-password` for `mysql-k8s` under Galera: the internal users' passwords change once,
//! on the write node (Galera replicates `SET PASSWORD` to every member, as any DDL), and
//! every unit then runs with the new `root` password, which is what each unit's
//! supervisor (the readiness login after a restart) and the application's watcher log in
//! with.
//!
//! **Following.** As under Patroni (`charms::postgresql_ha`): the leader bumps a revision in
//! the leader settings with the hook that stores the new password; every other unit sees
//! `leader-settings-changed`, reads the stored password and hands it to its supervisor's
//! spec (never starting anything) and to the watcher. A unit records the revision it
//! follows in its unit state.
//!
//! **Crash safety.** `root`'s new password is recorded as pending before the server
//! changes (`charms::reconcile::rotate_internal_password`). A controller killed after the
//! change but before the hook's commit leaves the stored password refused: every unit's
//! next `start` asks the members which of the stored and the pending password logs in
//! ([`working_root`]) and runs with that one; the leader makes it the stored password and
//! bumps the revision. State transfers need no password here (rsync SST, IST), so a member
//! restarted later rejoins whatever the passwords are.

use super::mysql_ha as ha;
use super::revision::Revision;
use super::server;
use super::services::Services;
use super::settings_state;
use crate::engine::context::HookContext;
use crate::secret::SecretString;
use std::sync::Arc;

/// The revision of the internal passwords every member runs with (leader setting), and the
/// one this unit's supervisor and watcher follow (unit state).
const REVISION: Revision = Revision { setting: "galera-passwords", seen: "galera-passwords-seen" };
/// The internal secret's key of the admin login.
pub const ROOT_KEY: &str = "root-password";

/// Hands `root`'s password to this unit's supervised member (for its next restart's
/// readiness login; never starts it) and to the application's watcher.
pub async fn use_root(ctx: &HookContext, services: &Arc<Services>, root: &SecretString) -> anyhow::Result<()> {
    ha::refresh_peers(ctx, services, root, settings_state::applied(ctx)).await?;
    ha::watch(ctx, services, root);
    Ok(())
}

/// On the leader, once a password changed: the other units follow the new revision
/// (committed with the hook).
pub fn bump(ctx: &mut HookContext) -> anyhow::Result<()> {
    REVISION.bump(ctx)
}

/// On `leader-settings-changed`: a unit behind the leader's revision runs with the stored
/// `root` password from now on.
pub async fn follow(ctx: &mut HookContext, services: &Arc<Services>, label: &str) -> anyhow::Result<()> {
    let Some(revision) = REVISION.behind(ctx)? else { return Ok(()) };
    let root = stored_root(ctx, label)?;
    use_root(ctx, services, &root).await?;
    REVISION.followed(ctx, &revision);
    ctx.log("INFO", "the Galera member follows the changed internal passwords");
    Ok(())
}

fn stored_root(ctx: &HookContext, label: &str) -> anyhow::Result<SecretString> {
    server::internal(ctx, label)?.get(ROOT_KEY).cloned().map(SecretString::new).ok_or_else(|| anyhow::anyhow!("root password missing"))
}

/// Whether some member accepts `password` for `root`.
async fn accepted(ctx: &HookContext, password: &SecretString) -> anyhow::Result<bool> {
    Ok(ha::cluster(ctx, password).await?.members.iter().any(|m| m.status.is_some()))
}

/// The `root` password the cluster accepts: the stored one, unless an interrupted
/// `set-password` left a pending one that the members take instead. The leader settles
/// what it found (the pending record goes; a password that won becomes the stored one,
/// and the other units follow). When no member answers, the stored one.
pub async fn working_root(ctx: &mut HookContext, label: &str, stored: SecretString) -> anyhow::Result<SecretString> {
    let Some(pending) = server::pending_admin_password(ctx, label, ROOT_KEY)? else { return Ok(stored) };
    let working = if accepted(ctx, &stored).await? {
        stored
    } else if accepted(ctx, &pending).await? {
        ctx.log("WARNING", "an interrupted password change of root-password was completed at start");
        pending
    } else {
        return Ok(stored);
    };
    if ctx.leader {
        server::settle_admin_password(ctx, label, ROOT_KEY, &working)?;
        bump(ctx)?;
    }
    Ok(working)
}
