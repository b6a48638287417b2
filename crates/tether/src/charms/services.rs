//! [`Services`]: what a charm uses beyond its hook context, given to it when it is built
//! (never through the context, so the engine below the charms knows none of it).

use crate::engine::Engine;
use crate::hooktools::HookToolRegistry;
use crate::paths::Home;
use crate::workload::Supervisor;

/// The machine as the charms see it: one of each for the whole controller.
pub struct Services {
    pub home: Home,
    pub supervisor: Supervisor,
    pub pg: crate::engines::postgres::PgAdmins,
    pub mongo: crate::engines::mongo::MongoAdmins,
    pub mysql: crate::engines::mysql::MyAdmins,
    /// mongos routers, one per mongos unit.
    pub routers: crate::engines::mongo::router::Routers,
    /// Running external hooks by context id, for their hook tools.
    pub hook_tools: HookToolRegistry,
    /// The engine, set once it exists (it is built from the charms): a charm's watcher
    /// asks it for an `update-status` when the workload changed between hooks.
    pub engine: std::sync::OnceLock<std::sync::Weak<Engine>>,
    /// The applications whose workload a watcher task follows (`model/app`).
    pub watchers: std::sync::Mutex<std::collections::HashSet<String>>,
    /// When each unit (`model/unit`) is to be woken for a credential rotation's next step.
    pub wakeups: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Services {
    /// Fresh services for a controller whose home is `home`.
    pub fn new(home: Home) -> Services {
        Services {
            supervisor: Supervisor::new(home.clone(), crate::engines::stray_servers()),
            home,
            pg: Default::default(),
            mongo: Default::default(),
            mysql: Default::default(),
            routers: Default::default(),
            hook_tools: Default::default(),
            engine: Default::default(),
            watchers: Default::default(),
            wakeups: Default::default(),
        }
    }
}
