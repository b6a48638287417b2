//! The database side of a relation, written once for every engine over
//! `engines::UserAdmin`: issuing a relation's user (a refusal the engine classifies as
//! `Blocked` becomes the relation's blocked reason, never a hook error), revoking it when
//! the relation is gone, drift repair's orphan sweep, and crash-safe changes of the
//! charm's internal passwords.
//!
//! The charms keep what differs: which endpoints they serve, what they publish, the
//! Canonical texts of their actions. Everything here is idempotent, so a hook that runs
//! again after a crash does the same thing again.

use super::{provider, server};
use crate::engine::context::HookContext;
use crate::engines::{Classify, Ensured, ErrorClass, RelationUser, UserAdmin};
use crate::secret::SecretString;

/// Makes the relation's user exist as requested. `Ok(None)` means the engine refused the
/// request for a reason the requirer must fix (recorded as the relation's blocked reason);
/// `Some` says whether the user is new (then audited as issued). Other errors fail the hook.
pub async fn issue_relation_user<A: UserAdmin + ?Sized>(
    ctx: &mut HookContext,
    admin: &A,
    endpoint: &str,
    rel: i64,
    req: &RelationUser<'_>,
) -> anyhow::Result<Option<Ensured>> {
    match admin.ensure_relation_user(req).await {
        Ok(ensured) => {
            server::set_blocked(ctx, rel, None);
            if ensured == Ensured::Created {
                let databases: Vec<&str> = req.databases.iter().map(|d| d.name).collect();
                ctx.audit("issued", &format!("{endpoint}:{rel}"), req.user, &format!("database {}", databases.join(", ")));
            }
            Ok(Some(ensured))
        }
        Err(e) => match e.class() {
            ErrorClass::Blocked(reason) => {
                ctx.log("WARNING", &format!("relation {rel}: {reason}"));
                server::set_blocked(ctx, rel, Some(&reason));
                Ok(None)
            }
            ErrorClass::Retry | ErrorClass::Bug => Err(e.into()),
        },
    }
}

/// After a relation is removed: its user is dropped (a missing one is fine), the secrets
/// it was given are removed, the revocation is audited and the relation is no longer
/// blocked. A failure to drop is returned as the engine's error, for the charm to word.
pub async fn revoke_relation_user<A: UserAdmin + ?Sized>(
    ctx: &mut HookContext,
    admin: &A,
    endpoint: &str,
    rel: i64,
    user: &str,
) -> Result<(), RevokeError<A::Error>> {
    admin.drop_relation_user(user).await.map_err(RevokeError::Drop)?;
    provider::forget_secrets(ctx, endpoint, rel).map_err(RevokeError::Context)?;
    ctx.audit("revoked", &format!("{endpoint}:{rel}"), user, "relation removed");
    server::set_blocked(ctx, rel, None);
    Ok(())
}

/// [`revoke_relation_user`] for a relation that had more than one login (credential
/// rotation): every login is dropped in the order given (the rotated ones first, the
/// relation's first user, which owns its objects, last), each audited.
pub async fn revoke_relation_logins<A: UserAdmin + ?Sized>(
    ctx: &mut HookContext,
    admin: &A,
    endpoint: &str,
    rel: i64,
    logins: &[String],
) -> Result<(), RevokeError<A::Error>> {
    let Some((first, rotated)) = logins.split_last() else { return Ok(()) };
    for login in rotated {
        admin.drop_relation_user(login).await.map_err(RevokeError::Drop)?;
        ctx.audit("revoked", &format!("{endpoint}:{rel}"), login, "relation removed");
    }
    revoke_relation_user(ctx, admin, endpoint, rel, first).await
}

/// Why [`revoke_relation_user`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Drop(E),
    #[error(transparent)]
    Context(anyhow::Error),
}

/// Drift repair's sweep: the relation users on the server that no live relation owns
/// (`expected` are the users of the live ones) are dropped, each logged and audited.
/// Returns the managed users that existed before the sweep.
pub async fn drop_orphaned_users<A: UserAdmin + ?Sized>(
    ctx: &mut HookContext,
    admin: &A,
    expected: &[String],
) -> anyhow::Result<Vec<String>> {
    let existing = admin.list_relation_users().await?;
    for orphan in existing.iter().filter(|u| !expected.contains(u)) {
        admin.drop_relation_user(orphan).await?;
        ctx.log("WARNING", &format!("drift repaired: dropped {orphan}, which no live relation owns"));
        ctx.audit("revoked", "drift-repair", orphan, "user without a live relation");
    }
    Ok(existing)
}

/// What drift repair says when a live relation's user was missing and was made again
/// (said after the relation was served, and only when it is not blocked).
pub fn note_recreated(ctx: &HookContext, user: &str, rel: i64) {
    ctx.log("WARNING", &format!("drift repaired: recreated {user} for relation {rel}"));
}

/// One internal user whose password changes: its name on the server, its key in the
/// charm's internal secret (labelled `label`), and whether it is the admin tether logs in
/// as (whose change must survive a crash between the server and the store).
pub struct InternalUser<'a> {
    pub user: &'a str,
    pub label: &'a str,
    pub key: &'a str,
    pub is_admin_login: bool,
}

/// Changes an internal user's password on the server and in the internal secret. For the
/// admin login the new password is recorded before the server changes (committed at
/// once, outside the hook), and `use_new_admin` (which restarts supervision with it) runs
/// before the stored password is replaced; `start` completes an interrupted change. An
/// error from the server is returned as is, nothing stored changed.
pub async fn rotate_internal_password<A, F>(
    ctx: &mut HookContext,
    admin: &A,
    who: &InternalUser<'_>,
    new: &SecretString,
    use_new_admin: F,
) -> Result<(), RotateError<A::Error>>
where
    A: UserAdmin + ?Sized,
    F: AsyncFnOnce(&mut HookContext) -> anyhow::Result<()>,
{
    if who.is_admin_login {
        server::record_pending_admin_password(ctx, who.label, who.key, new).map_err(RotateError::Context)?;
    }
    admin.set_internal_password(who.user, new).await.map_err(RotateError::Server)?;
    if who.is_admin_login {
        use_new_admin(ctx).await.map_err(RotateError::Context)?;
        server::settle_admin_password(ctx, who.label, who.key, new).map_err(RotateError::Context)?;
    } else {
        server::store_internal_password(ctx, who.label, who.key, new).map_err(RotateError::Context)?;
    }
    ctx.audit("rotated", "action:set-password", who.user, "internal user password changed");
    Ok(())
}

/// Why [`rotate_internal_password`] failed: the server refused (the action says so in the
/// charm's words), or the hook context did.
#[derive(Debug, thiserror::Error)]
pub enum RotateError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Server(E),
    #[error(transparent)]
    Context(anyhow::Error),
}
