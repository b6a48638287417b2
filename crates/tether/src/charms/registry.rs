//! The charms by name: the built-ins `deploy` accepts (with their aliases) and local
//! charms by their stored metadata. [`Registry`] is what the controller hands the engine
//! as its `CharmSource`; every charm it builds shares the controller's [`Services`].

use super::data_integrator::DataIntegratorCharm;
use super::external::ExternalCharm;
use super::mongodb::MongodbCharm;
use super::mongos::MongosCharm;
use super::mysql::MysqlCharm;
use super::postgresql::PostgresqlCharm;
use super::services::Services;
use crate::engine::charm::{Charm, CharmSource};
use std::sync::Arc;
use tether_core::charm_meta::{CharmMeta, CharmOrigin};

/// Builds the charm of an application, sharing one set of [`Services`].
pub struct Registry {
    services: Arc<Services>,
}

impl Registry {
    pub fn new(services: Arc<Services>) -> Registry {
        Registry { services }
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// A built-in charm by any name `deploy` accepts (aliases included).
    pub fn builtin(&self, name: &str) -> Option<Arc<dyn Charm>> {
        let services = self.services.clone();
        match canonical_name(name)? {
            "postgresql-k8s" => Some(Arc::new(PostgresqlCharm::new(services))),
            "data-integrator" => Some(Arc::new(DataIntegratorCharm)),
            "mongodb" => Some(Arc::new(MongodbCharm::new(services))),
            "mysql-k8s" => Some(Arc::new(MysqlCharm::new(services))),
            "mongos" => Some(Arc::new(MongosCharm::new(services))),
            _ => None,
        }
    }
}

impl CharmSource for Registry {
    /// A local charm with code runs as an external charm; one without is passive (the
    /// external charm decides per hook from the stored charm directory).
    fn charm_for(&self, charm: &str, origin: CharmOrigin, meta: &CharmMeta) -> Option<Arc<dyn Charm>> {
        match origin {
            CharmOrigin::Local => Some(Arc::new(ExternalCharm::new(meta.clone(), self.services.clone()))),
            CharmOrigin::Builtin => self.builtin(charm),
        }
    }
}

/// The canonical charm name for a built-in name or alias.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    match name {
        "postgresql-k8s" | "postgresql" => Some("postgresql-k8s"),
        "data-integrator" => Some("data-integrator"),
        "mongodb" | "mongodb-k8s" => Some("mongodb"),
        "mysql-k8s" | "mysql" => Some("mysql-k8s"),
        "mongos" | "mongos-k8s" => Some("mongos"),
        _ => None,
    }
}

/// Every built-in charm name (without aliases).
pub fn builtin_names() -> &'static [&'static str] {
    &["data-integrator", "mongodb", "mongos", "mysql-k8s", "postgresql-k8s"]
}
