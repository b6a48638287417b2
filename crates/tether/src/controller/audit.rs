//! `audit`: the credential audit trail the charms write (database users issued,
//! rotated and revoked, for which relation), for one model or all of them.

use super::error::ApiResult;
use super::lookup::resolve_model;
use super::state::Controller;
use tether_core::wire::{AuditView, Reply};

pub fn audit(c: &Controller, model: Option<String>, all: bool) -> ApiResult {
    let name = if all { None } else { Some(resolve_model(c, model)?.name) };
    let entries = c
        .store
        .read(|tx| tx.audit_entries(name.as_deref()))?
        .into_iter()
        .map(|e| AuditView {
            time: e.ts,
            model: e.model,
            application: e.app,
            relation: e.relation,
            operation: e.operation,
            db_user: e.db_user,
            detail: e.detail,
        })
        .collect();
    Ok(Reply::Audit { entries })
}
