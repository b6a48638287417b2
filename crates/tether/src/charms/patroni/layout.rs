//! What one charm's Patroni cluster is made of ([`Layout`]) and what every part of the
//! cluster code reads about a unit: its ports in the unit state, its member name, the
//! application's other units, the internal passwords Patroni runs with. A leaf of the
//! `patroni` modules, so none of them imports another in a circle.

use crate::charms::ha_mode::Mode;
use crate::charms::server;
use crate::engine::context::HookContext;
use crate::engines::postgres::patroni::PatroniPasswords;
pub use crate::engines::postgres::patroni::REST_USER;
use crate::secret::SecretString;
use anyhow::{anyhow, Context};
use std::collections::BTreeMap;
use tether_core::life::Life;

/// Internal-secret key of Patroni's REST API password (Canonical's key name).
pub const REST_PASSWORD_KEY: &str = "patroni-password";
/// Unit-state keys of the ports a unit's Patroni and etcd member listen on.
pub(super) const STATE_PATRONI_PORT: &str = "patroni-port";
pub(super) const STATE_ETCD_CLIENT: &str = "etcd-client-port";
pub(super) const STATE_ETCD_PEER: &str = "etcd-peer-port";

/// The internal-secret keys of the passwords Patroni needs.
pub struct PasswordKeys {
    /// PostgreSQL's superuser (`operator`).
    pub superuser: &'static str,
    pub replication: &'static str,
    pub rewind: &'static str,
    /// Patroni's REST API user.
    pub rest: &'static str,
}

/// One charm's cluster.
pub struct Layout {
    /// The application's mode (single server or Patroni), a leader setting.
    pub mode: Mode,
    /// The label of the application's internal secret, from the application's name.
    pub label: fn(&str) -> String,
    pub passwords: PasswordKeys,
    /// The unit-state key of the port the unit's PostgreSQL listens on.
    pub pg_port: &'static str,
    /// Appended to the unit's workload key for Patroni's supervisor key; empty when
    /// Patroni is the unit's workload itself.
    pub patroni_suffix: &'static str,
}

impl Layout {
    /// The supervisor's key for the unit's Patroni.
    pub(super) fn patroni_key(&self, ctx: &HookContext) -> String {
        format!("{}{}", server::workload_key(ctx), self.patroni_suffix)
    }

    /// The passwords the unit's Patroni runs with, from the internal secret.
    pub fn patroni_passwords(&self, ctx: &HookContext) -> anyhow::Result<PatroniPasswords> {
        let passwords = server::internal(ctx, &(self.label)(&ctx.app))?;
        let pw = |k: &str| passwords.get(k).cloned().map(SecretString::new).ok_or_else(|| anyhow!("internal password {k} missing"));
        Ok(PatroniPasswords {
            operator: pw(self.passwords.superuser)?,
            replication: pw(self.passwords.replication)?,
            rewind: pw(self.passwords.rewind)?,
            rest: pw(self.passwords.rest)?,
        })
    }

    /// Patroni's REST password (switchover, restart, configuration changes).
    pub(super) fn rest_password(&self, ctx: &HookContext) -> Result<SecretString, String> {
        let rest = server::internal(ctx, &(self.label)(&ctx.app)).map_err(|e| e.to_string())?;
        Ok(SecretString::new(rest.get(self.passwords.rest).cloned().ok_or("Patroni's REST password is missing")?))
    }

    /// Free ports for Patroni's REST API, the etcd member and (when it is not the unit's
    /// server port) PostgreSQL, claimed once.
    pub(super) fn claim_ports(&self, ctx: &mut HookContext) -> anyhow::Result<()> {
        let keys = [STATE_PATRONI_PORT, STATE_ETCD_CLIENT, STATE_ETCD_PEER, self.pg_port];
        // free_port may hand out a port twice before anything binds it: not one this unit
        // or another unit of the application (starting at the same time) has claimed.
        let peers = peers(ctx)?;
        for key in keys {
            if ctx.state_get(key).is_none() {
                let taken = |p: u16| {
                    let p = p.to_string();
                    keys.iter()
                        .chain([&server::STATE_PORT])
                        .any(|k| ctx.state_get(k).as_deref() == Some(p.as_str()) || peers.iter().any(|(_, s)| s.get(*k) == Some(&p)))
                };
                let mut p = crate::workload::free_port().context("no free port on 127.0.0.1")?;
                while taken(p) {
                    p = crate::workload::free_port().context("no free port on 127.0.0.1")?;
                }
                ctx.state_set(key, &p.to_string());
            }
        }
        Ok(())
    }
}

/// The member name of a unit in Patroni and etcd (`app/0` → `app-0`).
pub(super) fn member_name(unit: &str) -> String {
    unit.replace('/', "-")
}

/// The cluster's name: one per application (model uuid and application name).
pub(super) fn scope(ctx: &HookContext) -> String {
    format!("{}.{}", ctx.model_uuid, ctx.app)
}

pub(super) fn port(state: &BTreeMap<String, String>, key: &str) -> Option<u16> {
    state.get(key).and_then(|p| p.parse().ok())
}

/// A port of this unit from its unit state.
pub(super) fn own(ctx: &HookContext, key: &str) -> anyhow::Result<u16> {
    ctx.state_get(key).and_then(|p| p.parse().ok()).ok_or_else(|| anyhow!("unit has no {key}"))
}

/// The application's other live units with their unit state (as committed).
pub(super) fn peers(ctx: &HookContext) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let units = ctx.store().read(|tx| tx.units(&ctx.model, Some(&ctx.app)))?;
    Ok(units.into_iter().filter(|u| u.name != ctx.unit && u.life == Life::Alive).map(|u| (u.name, u.state)).collect())
}

/// This unit and its live peers.
pub(super) fn all_units(ctx: &HookContext) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let mut units = vec![(ctx.unit.clone(), ctx.unit_state().clone())];
    units.extend(peers(ctx)?);
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_have_no_slash() {
        assert_eq!(member_name("postgresql-k8s/10"), "postgresql-k8s-10");
    }
}
