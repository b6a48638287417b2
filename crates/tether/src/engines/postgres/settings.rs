//! Changing a running server's settings and extensions, for `config-changed`.
//!
//! Settings go through `ALTER SYSTEM`, the server's own way to change its configuration
//! file while it runs, followed by a reload; which of them wait for a restart is read
//! from `pg_settings` (context `postmaster`), not guessed. Extensions are created or
//! dropped in every database that accepts connections, `template1` included so that
//! databases created later start with them. These run on sessions `admin` opens.

use super::error::{step, PgError};
use crate::engines::settings::SettingChanges;
use std::collections::{BTreeMap, BTreeSet};
use tether_core::pg_plan::{quote_ident, quote_literal};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// What setting extensions could not do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExtensionProblems {
    /// Enabled extensions this machine does not have (nothing was created).
    pub missing: Vec<String>,
    /// Disabled extensions that objects still depend on (left in place).
    pub in_use: Vec<String>,
    /// Extensions the server failed to create, with its reason (another extension's
    /// objects in the way, a package built for another server version).
    pub failed: Vec<(String, String)>,
}

/// Sets or resets each setting, reloads the configuration, and returns the names of
/// those that only take effect after a restart. A value the server refuses is an error
/// and the settings changed before it are put back.
pub(super) async fn change_settings(c: &Client, changes: &SettingChanges) -> Result<Vec<String>, PgError> {
    let mut done: Vec<(&String, &Option<String>)> = Vec::new();
    for (name, (old, new)) in changes {
        if let Err(e) = alter_system(c, name, new.as_deref()).await {
            for (name, old) in done.into_iter().rev() {
                let _ = alter_system(c, name, old.as_deref()).await;
            }
            return Err(e);
        }
        done.push((name, old));
    }
    c.execute("SELECT pg_reload_conf()", &[]).await.map_err(step("reloading the configuration"))?;
    restart_only(c, changes.keys()).await
}

/// Which of these settings PostgreSQL applies only at a restart (as `pg_settings` says).
pub(super) async fn restart_only(c: &Client, names: impl Iterator<Item = &String>) -> Result<Vec<String>, PgError> {
    let names: Vec<String> = names.map(|n| n.to_lowercase()).collect();
    let rows = c
        .query("SELECT name FROM pg_settings WHERE context = 'postmaster' AND lower(name) = ANY($1) ORDER BY name", &[&names])
        .await
        .map_err(step("reading which settings need a restart"))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// The enabled extensions this machine does not have.
pub(super) async fn missing_extensions(c: &Client, wanted: &BTreeMap<String, bool>) -> Result<Vec<String>, PgError> {
    let available: BTreeSet<String> = c
        .query("SELECT name::text FROM pg_available_extensions", &[])
        .await
        .map_err(step("listing available extensions"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(wanted.iter().filter(|(e, on)| **on && !available.contains(*e)).map(|(e, _)| e.clone()).collect())
}

/// Every database that accepts connections.
pub(super) async fn databases(c: &Client) -> Result<Vec<String>, PgError> {
    let rows = c
        .query("SELECT datname::text FROM pg_database WHERE datallowconn ORDER BY datname", &[])
        .await
        .map_err(step("listing databases"))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Creates or drops the extensions of one database (`c` is connected to it); one that
/// objects depend on stays and is named in `problems`.
pub(super) async fn set_extensions_in(
    c: &Client,
    wanted: &BTreeMap<String, bool>,
    problems: &mut ExtensionProblems,
) -> Result<(), PgError> {
    let present: BTreeSet<String> = c
        .query("SELECT extname::text FROM pg_extension", &[])
        .await
        .map_err(step("listing extensions"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (ext, on) in wanted {
        let ident = quote_ident(ext)?;
        let result = match (*on, present.contains(ext)) {
            (true, false) => c.batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {ident} CASCADE")).await,
            (false, true) => c.batch_execute(&format!("DROP EXTENSION IF EXISTS {ident}")).await,
            _ => continue,
        };
        match result {
            Ok(()) => {}
            Err(e) if e.code() == Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST) => {
                if !problems.in_use.contains(ext) {
                    problems.in_use.push(ext.clone());
                }
            }
            Err(e) if *on && e.as_db_error().is_some() => {
                if !problems.failed.iter().any(|(f, _)| f == ext) {
                    let reason = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default();
                    problems.failed.push((ext.clone(), reason));
                }
            }
            Err(e) => return Err(step("changing an extension")(e)),
        }
    }
    Ok(())
}

async fn alter_system(c: &Client, name: &str, value: Option<&str>) -> Result<(), PgError> {
    let ident = quote_ident(name)?;
    let sql = match value {
        Some(v) => format!("ALTER SYSTEM SET {ident} = {}", quote_literal(v)?),
        None => format!("ALTER SYSTEM RESET {ident}"),
    };
    c.batch_execute(&sql).await.map_err(|source| match source.code() {
        Some(code)
            if code.code().starts_with("22") || code == &SqlState::CANT_CHANGE_RUNTIME_PARAM || code == &SqlState::UNDEFINED_OBJECT =>
        {
            PgError::RefusedSetting { name: name.to_string(), source }
        }
        _ => step("changing a setting")(source),
    })
}
