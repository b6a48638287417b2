//! What `mongodb` declares to the controller: its endpoints (charm-protocol §5), config
//! options (the charm's own, adopt mode's and rotation's) and actions. Kept apart from the
//! hooks so the charm's surface reads in one place and is checked against Canonical's
//! (`charms::config_parity`).

use super::shards;
use crate::charms::{adopt, rotation};
use serde_json::Value;
use tether_core::charm_meta::{ActionParam, ActionSpec, CharmMeta, ConfigOption, Endpoint, OptionType, Role};

/// The endpoint mongodb_client requirers (and data-integrator) integrate with.
pub(super) const DATABASE: &str = "database";
/// The endpoint mongos routers integrate with (config-server).
pub(super) const CLUSTER: &str = "cluster";

pub fn meta() -> CharmMeta {
    let ep = Endpoint::new;
    let opt = |name: &str, kind, default: Option<Value>, d: &str| ConfigOption { name: name.into(), kind, default, description: d.into() };
    CharmMeta {
        resources: vec![],
        storage: vec![],
        action_schemas: Default::default(),
        name: "mongodb".into(),
        summary: "MongoDB (or FerretDB) with per-application users; replica set, config server or shard.".into(),
        subordinate: false,
        endpoints: vec![
            ep("database-peers", Role::Peer, "mongodb-peers"),
            ep("upgrade-version-a", Role::Peer, "upgrade"),
            ep(DATABASE, Role::Provider, "mongodb_client"),
            ep("cos-agent", Role::Provider, "cos_agent"),
            ep(shards::CONFIG_SERVER, Role::Provider, "shards"),
            ep(CLUSTER, Role::Provider, "config-server"),
            ep("certificates", Role::Requirer, "tls-certificates").limit(1),
            ep("s3-credentials", Role::Requirer, "s3").limit(1),
            ep(shards::SHARDING, Role::Requirer, "shards").limit(1),
        ],
        config: vec![
            opt("role", OptionType::String, Some("replication".into()), "replication, config-server or shard; fixed at deploy"),
            opt("auto-delete", OptionType::Boolean, Some(false.into()), "drop databases no relation requests any more"),
            opt("engine", OptionType::String, Some("auto".into()), "mongod, ferretdb or auto (mongod when installed); fixed at deploy"),
        ]
        .into_iter()
        .chain(adopt::config_options("createUser and dropUser on the admin database and grantRole on any database (userAdminAnyDatabase)"))
        .chain(rotation::config_options())
        .collect(),
        actions: vec![
            ActionSpec {
                name: "get-password".into(),
                description: "Shows an internal user's password.".into(),
                params: vec![ActionParam::string("username", "operator, backup or monitor").with_default("operator")],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "set-password".into(),
                description: "Changes an internal user's password (random when none is given). Leader only.".into(),
                params: vec![
                    ActionParam::string("username", "operator, backup or monitor").with_default("operator"),
                    ActionParam::string("password", "new password"),
                ],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "get-primary".into(),
                description: "Shows the unit that runs the primary.".into(),
                params: vec![],
                required: vec![],
                additional_properties: false,
            },
            ActionSpec {
                name: "promote-to-primary".into(),
                description: "Makes this unit the primary by a Patroni switchover (FerretDB over Patroni only).".into(),
                params: vec![],
                required: vec![],
                additional_properties: false,
            },
            adopt::rotate_action_spec(),
            rotation::action_spec(),
        ],
    }
}
