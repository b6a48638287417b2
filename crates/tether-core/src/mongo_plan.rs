//! MongoDB user naming, role plans, database-name checks and connection URIs.
//!
//! The MongoDB charm (charm-protocol §5.4) names relation users `relation-<id>` (a
//! credential rotation's later logins `relation-<id>r<generation>`), creates
//! them in `admin` and grants roles by the requirer's `extra-user-roles`; it publishes a
//! `mongodb://` URI that drivers use as-is. All of that is pure and lives here so the
//! admin client (`tether::db::mongo`) only sends what these functions decided. Names reach
//! the server as BSON strings (never concatenated into a query language), but database
//! names are also file names on the server, so the hostile ones are refused up front.

/// The MongoDB user of a `database` or `cluster` relation.
pub fn relation_user(relation_id: i64) -> String {
    format!("relation-{relation_id}")
}

/// The login a relation gets at its `generation`th credential rotation (the first login,
/// generation 0, is [`relation_user`] itself): `relation-<id>r<generation>`. `base` may
/// itself be a rotated login (its generation is replaced); a name that is not a relation
/// user gets `r<generation>` at its end.
pub fn rotated_user(base: &str, generation: u32) -> String {
    match split_relation_user(base) {
        Some((id, _)) => format!("relation-{id}r{generation}"),
        None => format!("{base}r{generation}"),
    }
}

/// Whether a user name is one tether issues for relations, a first login or a rotated
/// one (`^relation-\d+(r\d+)?$`).
pub fn is_relation_user(name: &str) -> bool {
    relation_id_of(name).is_some()
}

/// The relation id in a relation user's name (a rotated login's too).
pub fn relation_id_of(name: &str) -> Option<i64> {
    split_relation_user(name)?.0.parse().ok()
}

/// A relation user's id digits and its rotation generation's digits (if any).
fn split_relation_user(name: &str) -> Option<(&str, Option<&str>)> {
    let rest = name.strip_prefix("relation-")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (id, generation) = match rest.split_once('r') {
        Some((id, generation)) => (id, Some(generation)),
        None => (rest, None),
    };
    (digits(id) && generation.is_none_or(digits)).then_some((id, generation))
}

/// Internal users of the charm, with the application-secret key of each password.
pub const SYSTEM_USERS: [(&str, &str); 3] =
    [("operator", "operator-password"), ("backup", "backup-password"), ("monitor", "monitor-password")];

/// The `customData` marker of users tether manages (`{managedBy: "tether"}`).
pub const OWNER_KEY: &str = "managedBy";
pub const OWNER_VALUE: &str = "tether";
/// On an adopted server the marker also names whose the user is (`<model uuid>/<app>`):
/// in `customData` on mongod, in the user's registry document on FerretDB.
pub const SCOPE_KEY: &str = "owner";

/// The database users are created in, and the `authSource` clients name.
pub const AUTH_DATABASE: &str = "admin";

/// Databases that belong to the server; never dropped, never handed out by auto-delete.
pub const SYSTEM_DATABASES: [&str; 4] = ["admin", "local", "config", REGISTRY_DATABASE];

/// Where tether marks the users it manages on a server without `customData` (FerretDB):
/// one document `{_id: <user>}` per user. Never dropped, never handed to an application.
pub const REGISTRY_DATABASE: &str = "tether_meta";
pub const REGISTRY_COLLECTION: &str = "managed_users";

/// The keywords `extra-user-roles` accepts, in the charm's order.
pub const ROLE_KEYWORDS: [&str; 4] = ["default", "admin", "monitor", "backup"];

/// One granted role: `(role, db)`, as in MongoDB's `roles: [{role, db}]`.
pub type Role = (String, String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MongoPlanError {
    #[error("unknown extra-user-roles {}: expected a comma-separated list of default, admin, monitor, backup", .0.join(", "))]
    UnknownRoles(Vec<String>),
    #[error("invalid database name {shown}: {why}")]
    BadDatabase { shown: String, why: &'static str },
}

/// The MongoDB roles behind `extra-user-roles` (comma-separated; blank means `default`).
/// Naming roles replaces `default`, as in the charm. Unknown keywords are an error listing
/// them all; duplicates are granted once.
pub fn roles_for(extra_user_roles: &str, database: &str) -> Result<Vec<Role>, MongoPlanError> {
    let mut keywords: Vec<&str> = extra_user_roles.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
    if keywords.is_empty() {
        keywords.push("default");
    }
    let unknown: Vec<String> = keywords.iter().filter(|k| !ROLE_KEYWORDS.contains(k)).map(|k| shown(k)).collect();
    if !unknown.is_empty() {
        return Err(MongoPlanError::UnknownRoles(unknown));
    }
    let on = |db: &str, names: &[&str]| -> Vec<Role> { names.iter().map(|n| (n.to_string(), db.to_string())).collect() };
    let mut roles: Vec<Role> = Vec::new();
    for k in keywords {
        let add = match k {
            "default" => on(database, &["readWrite", "enableSharding"]),
            "admin" => on(AUTH_DATABASE, &["userAdminAnyDatabase", "readWriteAnyDatabase", "userAdmin", "enableSharding"]),
            "monitor" => [on(AUTH_DATABASE, &["explainRole", "clusterMonitor"]), on("local", &["read"])].concat(),
            _ => on(AUTH_DATABASE, &["readWrite", "backup", "clusterMonitor", "restore", "pbmAnyAction"]),
        };
        for r in add {
            if !roles.contains(&r) {
                roles.push(r);
            }
        }
    }
    Ok(roles)
}

/// The roles of the internal `operator` user (created through the localhost exception).
pub fn operator_roles() -> Vec<Role> {
    ["userAdminAnyDatabase", "readWriteAnyDatabase", "clusterAdmin"].iter().map(|r| (r.to_string(), AUTH_DATABASE.to_string())).collect()
}

/// Custom roles the keyword roles use that a fresh MongoDB lacks: `(role, actions on any
/// resource)`; `explainRole` is the charm's, `pbmAnyAction` Percona Backup's.
pub const CUSTOM_ROLES: [(&str, &[&str]); 2] =
    [("explainRole", &["listIndexes", "listCollections", "dbStats", "dbHash", "collStats", "find"]), ("pbmAnyAction", &["anyAction"])];

/// Refuses names MongoDB cannot hold or that would be unsafe as file names: empty, 64
/// bytes or more, NUL or other control characters, `/ \ . " $ * < > : | ?` or space, and
/// tether's own registry database.
pub fn validate_database(name: &str) -> Result<(), MongoPlanError> {
    let bad = |why| Err(MongoPlanError::BadDatabase { shown: shown(name), why });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() >= 64 {
        return bad("it must be shorter than 64 bytes");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.chars().any(|c| "/\\. \"$*<>:|?".contains(c)) {
        return bad("it contains one of / \\ . \" $ * < > : | ? or a space");
    }
    if name == REGISTRY_DATABASE {
        return bad("it is reserved for tether's own records");
    }
    Ok(())
}

/// Whether `name` is one of the server's own databases.
pub fn is_system_database(name: &str) -> bool {
    SYSTEM_DATABASES.contains(&name)
}

/// `mongodb://user:pw@host1,host2/db?replicaSet=rs&authSource=admin`, with user,
/// password, database and replica set percent-encoded (RFC 3986 unreserved characters
/// stay). `authSource` is left out when the database is `admin`, `replicaSet` when there
/// is no replica set (FerretDB, mongos); no `?` when neither is there.
pub fn render_uri(user: &str, password: &str, hosts: &[String], database: &str, replset: Option<&str>) -> String {
    let mut options = Vec::new();
    if let Some(rs) = replset.filter(|r| !r.is_empty()) {
        options.push(format!("replicaSet={}", percent_encode(rs)));
    }
    if database != AUTH_DATABASE {
        options.push(format!("authSource={AUTH_DATABASE}"));
    }
    let query = if options.is_empty() { String::new() } else { format!("?{}", options.join("&")) };
    format!("mongodb://{}:{}@{}/{}{query}", percent_encode(user), percent_encode(password), hosts.join(","), percent_encode(database))
}

/// Percent-encodes every byte outside RFC 3986's unreserved set.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A name as shown in errors: quoted, bounded, NUL escaped.
fn shown(s: &str) -> String {
    let bounded: String = s.chars().take(64).collect();
    let more = if s.chars().count() > 64 { "..." } else { "" };
    format!("{:?}{more}", bounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(role: &str, db: &str) -> Role {
        (role.to_string(), db.to_string())
    }

    #[test]
    fn relation_users_are_named_and_recognised() {
        assert_eq!(relation_user(7), "relation-7");
        assert!(is_relation_user("relation-12"));
        assert_eq!(relation_id_of("relation-12"), Some(12));
        for other in ["relation-", "relation-x", "relation_id_1", "operator", "relation-1a", "relation--1", "xrelation-1"] {
            assert!(!is_relation_user(other), "{other}");
        }
    }

    #[test]
    fn rotated_logins_are_named_and_recognised() {
        assert_eq!(rotated_user(&relation_user(7), 2), "relation-7r2");
        assert_eq!(rotated_user("relation-7r2", 3), "relation-7r3", "a generation is replaced, never stacked");
        assert_eq!(rotated_user("operator", 1), "operatorr1");
        for (id, generation) in [(0, 1), (7, 2), (12, 10), (i64::MAX, u32::MAX)] {
            let r = rotated_user(&relation_user(id), generation);
            assert!(is_relation_user(&r), "{r}");
            assert_eq!(relation_id_of(&r), Some(id), "{r}");
            assert_ne!(r, relation_user(id));
        }
        assert_eq!(relation_id_of("relation-7r10"), Some(7));
        for other in [
            "relation-7r",
            "relation-r2",
            "relation-r",
            "relation-7x2",
            "relation-7r2r3",
            "relation-7rr2",
            "relation-7R2",
            "relation-7r-2",
            "relation-7r2 ",
            "relation-7_r2",
            "relation-7r2_abc",
            "xrelation-7r2",
            "relation-99999999999999999999r1",
        ] {
            assert!(!is_relation_user(other), "{other}");
            assert_eq!(relation_id_of(other), None, "{other}");
        }
    }

    #[test]
    fn roles_follow_the_charm_table() {
        assert_eq!(roles_for("", "app").unwrap(), vec![r("readWrite", "app"), r("enableSharding", "app")]);
        assert_eq!(roles_for(" default ", "app").unwrap(), roles_for("", "app").unwrap());
        assert_eq!(
            roles_for("admin", "app").unwrap(),
            vec![
                r("userAdminAnyDatabase", "admin"),
                r("readWriteAnyDatabase", "admin"),
                r("userAdmin", "admin"),
                r("enableSharding", "admin")
            ]
        );
        assert_eq!(roles_for("monitor", "x").unwrap(), vec![r("explainRole", "admin"), r("clusterMonitor", "admin"), r("read", "local")]);
        let backup = roles_for("backup,monitor,backup", "x").unwrap();
        assert_eq!(backup.iter().filter(|(n, _)| n == "clusterMonitor").count(), 1, "duplicates granted once");
        assert!(backup.contains(&r("pbmAnyAction", "admin")));
        assert!(!backup.contains(&r("readWrite", "x")), "naming roles replaces default");
    }

    #[test]
    fn unknown_roles_are_listed() {
        let e = roles_for("admin,superuser,root\0", "x").unwrap_err();
        assert_eq!(e, MongoPlanError::UnknownRoles(vec!["\"superuser\"".into(), "\"root\\0\"".into()]));
        assert!(e.to_string().starts_with("unknown extra-user-roles \"superuser\", \"root\\0\": expected"));
    }

    #[test]
    fn hostile_database_names_are_refused() {
        for ok in ["app", "my-db_1", "DB", "ünïcode"] {
            validate_database(ok).unwrap();
        }
        for bad in ["", "a.b", "a$b", "a\"b", "a\0b", "a/b", "a\\b", "a b", "a\nb", "x".repeat(64).as_str(), REGISTRY_DATABASE] {
            assert!(validate_database(bad).is_err(), "{bad:?}");
        }
        let e = validate_database("evil\0db").unwrap_err().to_string();
        assert!(e.contains("\\0") && !e.contains('\0'), "{e}");
        assert!(is_system_database("local") && is_system_database(REGISTRY_DATABASE) && !is_system_database("app"));
    }

    #[test]
    fn uris_are_encoded_and_shaped_like_the_charm() {
        let hosts = vec!["127.0.0.1:27017".to_string(), "127.0.0.1:27018".to_string()];
        assert_eq!(
            render_uri("relation-3", "p@ss:w/rd%", &hosts, "app", Some("mongodb")),
            "mongodb://relation-3:p%40ss%3Aw%2Frd%25@127.0.0.1:27017,127.0.0.1:27018/app?replicaSet=mongodb&authSource=admin"
        );
        assert_eq!(render_uri("u", "p", &hosts[..1], "admin", None), "mongodb://u:p@127.0.0.1:27017/admin");
        assert_eq!(render_uri("u", "p", &hosts[..1], "my db", Some("")), "mongodb://u:p@127.0.0.1:27017/my%20db?authSource=admin");
        assert_eq!(render_uri("u", "p", &hosts[..1], "admin", Some("rs")), "mongodb://u:p@127.0.0.1:27017/admin?replicaSet=rs");
    }

    #[test]
    fn operator_and_system_users() {
        assert!(operator_roles().contains(&r("clusterAdmin", "admin")));
        assert_eq!(SYSTEM_USERS.map(|(u, _)| u), ["operator", "backup", "monitor"]);
    }
}
