//! PostgreSQL user naming, privilege plans and statement rendering.
//!
//! PostgreSQL cannot bind identifiers or `CREATE ROLE` passwords as parameters, so the
//! statements are rendered here, in one place, with [`quote_ident`] and
//! [`quote_literal`], after the names were validated at the boundary. Passwords never
//! appear: the adapter hashes them into a SCRAM-SHA-256 verifier first, so the server
//! (and its logs) never sees a clear password. Lookups that take values (does this role
//! exist?) are bound parameters in the adapter, not rendered here.

use crate::ownership::Ownership;

/// The PostgreSQL user of a `database`/`db`/`db-admin` relation.
pub fn relation_user(relation_id: i64) -> String {
    format!("relation_id_{relation_id}")
}

/// The login a relation gets at its `generation`th credential rotation (the first login,
/// generation 0, is [`relation_user`] itself, which stays as the owner of the relation's
/// objects): `relation_id_<n>_r<generation>`.
pub fn rotated_user(base: &str, generation: u32) -> String {
    format!("{base}_r{generation}")
}

/// Whether a role name is one tether issues for relations, a first user or a rotated
/// login (never touch the others).
pub fn is_relation_user(name: &str) -> bool {
    let digits = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit());
    name.strip_prefix("relation_id_").is_some_and(|rest| match rest.split_once("_r") {
        Some((id, generation)) => digits(id) && digits(generation),
        None => digits(rest),
    })
}

/// Internal users of the charm, with the application-secret key of each password.
pub const SYSTEM_USERS: [(&str, &str); 5] = [
    ("operator", "operator-password"),
    ("replication", "replication-password"),
    ("rewind", "rewind-password"),
    ("monitoring", "monitoring-password"),
    ("backup", "backup-password"),
];

/// The comment that marks a role as managed by tether.
pub const OWNERSHIP_COMMENT: &str = "managed by tether";

/// The group every relation user joins.
pub const RELATION_ACCESS: &str = "relation_access";
/// The NOLOGIN group behind `extra-user-roles=admin`.
pub const ADMIN_GROUP: &str = "admin";
/// The database every PostgreSQL server has for maintenance; no application's.
pub const MAINTENANCE_DATABASE: &str = "postgres";

/// Who runs tether's statements on a server, and so who owns what tether creates there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin<'a> {
    /// A server tether started: its superuser `operator`.
    Operator,
    /// A server tether adopted: the given login, which need only have `CREATEROLE` and
    /// `CREATEDB` (PostgreSQL 15 semantics). It owns the databases it creates, becomes a
    /// member of each relation user it creates (so it may hand objects to it, reassign
    /// them and end its sessions), and never changes a superuser attribute nor the
    /// database. Its relation users carry `marker` (see [`adopted_marker`]), so two
    /// applications adopting one server never take each other's users for their own.
    Adopted { login: &'a str, marker: &'a str },
}

/// The ownership comment of relation users on an adopted server: tether's, narrowed to
/// the application (`scope`, such as `<model uuid>/<application>`) that created them.
pub fn adopted_marker(scope: &str) -> String {
    format!("{OWNERSHIP_COMMENT}: {scope}")
}

impl Admin<'_> {
    /// The role that owns tether's databases and takes a dropped user's objects.
    pub fn owner(&self) -> &str {
        match self {
            Admin::Operator => "operator",
            Admin::Adopted { login, .. } => login,
        }
    }

    /// The ownership comment its relation users carry.
    pub fn marker(&self) -> &str {
        match self {
            Admin::Operator => OWNERSHIP_COMMENT,
            Admin::Adopted { marker, .. } => marker,
        }
    }
}

/// Quotes an identifier the way PostgreSQL's `quote_ident` does (always quoting).
/// Refuses NUL, which no identifier may contain.
pub fn quote_ident(name: &str) -> Result<String, PlanError> {
    if name.contains('\0') || name.is_empty() {
        return Err(PlanError::BadIdentifier);
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Quotes a string literal as an escape-free standard string (`standard_conforming_strings` on).
pub fn quote_literal(value: &str) -> Result<String, PlanError> {
    if value.contains('\0') {
        return Err(PlanError::BadLiteral);
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("identifier is empty or contains a NUL byte")]
    BadIdentifier,
    #[error("literal contains a NUL byte")]
    BadLiteral,
    #[error("invalid role(s) for extra user roles")]
    InvalidRoles(Vec<String>),
}

/// What `extra-user-roles` asks for, classified (charm-protocol §3.4.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolePlan {
    pub admin: bool,
    pub createdb: bool,
    pub createrole: bool,
    pub superuser: bool,
    /// Existing roles to grant to the user.
    pub grants: Vec<String>,
}

/// Classifies a comma-separated `extra-user-roles` value. `existing_role` answers
/// whether a role of that name exists on the server.
pub fn classify_roles(extra_user_roles: &str, existing_role: impl Fn(&str) -> bool) -> Result<RolePlan, PlanError> {
    let mut plan = RolePlan::default();
    let mut invalid = Vec::new();
    for role in extra_user_roles.split(',').map(|r| r.trim().to_lowercase()).filter(|r| !r.is_empty()) {
        match role.as_str() {
            "default" | RELATION_ACCESS => {}
            "admin" => {
                plan.admin = true;
                plan.createdb = true;
            }
            "createdb" => plan.createdb = true,
            "createrole" => plan.createrole = true,
            "superuser" => plan.superuser = true,
            other if existing_role(other) && !SYSTEM_USERS.iter().any(|(u, _)| *u == other) => {
                if !plan.grants.iter().any(|g| g == other) {
                    plan.grants.push(other.to_string());
                }
            }
            other => invalid.push(other.to_string()),
        }
    }
    if invalid.is_empty() {
        Ok(plan)
    } else {
        Err(PlanError::InvalidRoles(invalid))
    }
}

/// Statements that make `user` exist with exactly the plan's attributes and the given
/// SCRAM verifier. `exists` says whether the role is already there.
pub fn ensure_user(user: &str, verifier: &str, plan: &RolePlan, exists: bool) -> Result<Vec<String>, PlanError> {
    ensure_user_as(Admin::Operator, user, verifier, plan, exists)
}

/// [`ensure_user`] run by `admin`. An adopted server's admin may not name the superuser
/// attribute at all unless it is a superuser (PostgreSQL refuses even `NOSUPERUSER` in an
/// `ALTER ROLE` by a non-superuser), so it is left out there unless the plan asks for it;
/// and the admin joins the new role, which PostgreSQL 15 requires before the admin may
/// give it objects, reassign what it owns or end its sessions.
pub fn ensure_user_as(admin: Admin, user: &str, verifier: &str, plan: &RolePlan, exists: bool) -> Result<Vec<String>, PlanError> {
    let u = quote_ident(user)?;
    let attrs = format!("LOGIN {}", role_attributes(admin, plan));
    let pw = quote_literal(verifier)?;
    let mut out = vec![if exists {
        format!("ALTER ROLE {u} WITH {attrs} PASSWORD {pw}")
    } else {
        format!("CREATE ROLE {u} WITH {attrs} PASSWORD {pw}")
    }];
    out.extend(role_marker_and_groups(admin, &u, plan)?);
    Ok(out)
}

/// The attributes a relation's role gets from its plan. An adopted server's admin may not
/// name the superuser attribute unless the plan asks for it (see [`ensure_user_as`]).
fn role_attributes(admin: Admin, plan: &RolePlan) -> String {
    let attr = |on: bool, yes: &str, no: &str| if on { yes.to_string() } else { no.to_string() };
    let superuser = match admin {
        Admin::Adopted { .. } if !plan.superuser => None,
        _ => Some(attr(plan.superuser, "SUPERUSER", "NOSUPERUSER")),
    };
    superuser
        .into_iter()
        .chain([attr(plan.createdb, "CREATEDB", "NOCREATEDB"), attr(plan.createrole, "CREATEROLE", "NOCREATEROLE")])
        .collect::<Vec<_>>()
        .join(" ")
}

/// tether's marker on a relation's role (`role`, quoted), its groups and granted roles,
/// and on an adopted server the admin's membership in it.
fn role_marker_and_groups(admin: Admin, role: &str, plan: &RolePlan) -> Result<Vec<String>, PlanError> {
    let mut out = vec![format!("COMMENT ON ROLE {role} IS {}", quote_literal(admin.marker())?)];
    out.push(format!("GRANT {} TO {role}", quote_ident(RELATION_ACCESS)?));
    if plan.admin {
        out.push(format!("GRANT {} TO {role}", quote_ident(ADMIN_GROUP)?));
    }
    for g in &plan.grants {
        out.push(format!("GRANT {} TO {role}", quote_ident(g)?));
    }
    if let Admin::Adopted { login, .. } = admin {
        out.push(format!("GRANT {role} TO {}", quote_ident(login)?));
    }
    Ok(out)
}

/// Statements that make `owner`, a relation's first user, hold what its rotated logins act
/// as: the plan's attributes and groups, tether's marker, and (created when missing)
/// no login of its own. An existing owner keeps its login attribute and password: while
/// its credentials are in their grace period they still work.
pub fn ensure_owner_role_as(admin: Admin, owner: &str, plan: &RolePlan, exists: bool) -> Result<Vec<String>, PlanError> {
    let o = quote_ident(owner)?;
    let attrs = role_attributes(admin, plan);
    let mut out = vec![if exists { format!("ALTER ROLE {o} WITH {attrs}") } else { format!("CREATE ROLE {o} WITH NOLOGIN {attrs}") }];
    out.extend(role_marker_and_groups(admin, &o, plan)?);
    Ok(out)
}

/// [`ensure_user_as`] for a rotated login that acts as `owner`: it joins the owner and
/// every session it opens runs as the owner (`SET role`), so what it creates belongs to
/// the owner and nothing changes owner when the next login takes over.
pub fn member_login_as(
    admin: Admin,
    login: &str,
    owner: &str,
    verifier: &str,
    plan: &RolePlan,
    exists: bool,
) -> Result<Vec<String>, PlanError> {
    let mut out = ensure_user_as(admin, login, verifier, plan, exists)?;
    let (l, o) = (quote_ident(login)?, quote_ident(owner)?);
    out.push(format!("GRANT {o} TO {l}"));
    out.push(format!("ALTER ROLE {l} SET role = {}", quote_literal(owner)?));
    Ok(out)
}

/// The statement that ends a login's ability to log in (its password goes too); sessions
/// already open are ended separately.
pub fn disable_login(login: &str) -> Result<String, PlanError> {
    Ok(format!("ALTER ROLE {} WITH NOLOGIN PASSWORD NULL", quote_ident(login)?))
}

/// Statements, run in the `postgres` database, that confine a database to its users:
/// nobody but the named roles may connect.
pub fn database_access(database: &str, user: &str) -> Result<Vec<String>, PlanError> {
    database_access_as(Admin::Operator, database, user)
}

/// [`database_access`] run by `admin`: on an adopted server the `admin` group is not
/// tether's to create, so only the user and the adopted admin keep access.
pub fn database_access_as(admin: Admin, database: &str, user: &str) -> Result<Vec<String>, PlanError> {
    let d = quote_ident(database)?;
    let mut out = vec![format!("REVOKE ALL ON DATABASE {d} FROM PUBLIC"), format!("GRANT ALL ON DATABASE {d} TO {}", quote_ident(user)?)];
    if admin == Admin::Operator {
        out.push(format!("GRANT ALL ON DATABASE {d} TO {}", quote_ident(ADMIN_GROUP)?));
    }
    out.push(format!("GRANT ALL ON DATABASE {d} TO {}", quote_ident(admin.owner())?));
    Ok(out)
}

/// Takes back what [`database_access`] gave `user` on `database` (a v1 requirer withdrew
/// the request for it): without `CONNECT` the user cannot reach it any more.
pub fn withdraw_database_access(database: &str, user: &str) -> Result<String, PlanError> {
    Ok(format!("REVOKE ALL ON DATABASE {} FROM {}", quote_ident(database)?, quote_ident(user)?))
}

/// A statement, run inside the application database, that gives `user` its schema
/// objects. With [`Ownership::Sole`] the user becomes owner of every non-system schema, table,
/// sequence and view (so data written by an earlier relation stays usable); otherwise it
/// gets full privileges next to the other users.
pub fn take_over_objects(user: &str, ownership: Ownership) -> Result<String, PlanError> {
    let lit = quote_literal(user)?;
    let schemas = "SELECT nspname AS n FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'";
    let body = if ownership == Ownership::Sole {
        format!(
            "FOR r IN {schemas} LOOP EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.n, {lit}); END LOOP; \
             FOR r IN SELECT schemaname AS s, tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') LOOP EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', r.s, r.t, {lit}); END LOOP; \
             FOR r IN SELECT schemaname AS s, sequencename AS t FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog','information_schema') LOOP EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO %I', r.s, r.t, {lit}); END LOOP; \
             FOR r IN SELECT schemaname AS s, viewname AS t FROM pg_views WHERE schemaname NOT IN ('pg_catalog','information_schema') LOOP EXECUTE format('ALTER VIEW %I.%I OWNER TO %I', r.s, r.t, {lit}); END LOOP;"
        )
    } else {
        format!(
            "FOR r IN {schemas} LOOP \
               EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO %I', r.n, {lit}); \
               EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %I TO %I', r.n, {lit}); \
               EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %I TO %I', r.n, {lit}); \
               EXECUTE format('GRANT ALL ON ALL FUNCTIONS IN SCHEMA %I TO %I', r.n, {lit}); \
             END LOOP;"
        )
    };
    Ok(format!("DO $tether$ DECLARE r record; BEGIN {body} END $tether$"))
}

/// Statements, run in one database, that hand what `user` owns to `operator` and drop
/// its privileges there. Run in every database before [`drop_user`].
pub fn release_objects(user: &str) -> Result<Vec<String>, PlanError> {
    release_objects_as(Admin::Operator, user)
}

/// [`release_objects`] handing the objects to `admin`'s owner role.
pub fn release_objects_as(admin: Admin, user: &str) -> Result<Vec<String>, PlanError> {
    release_objects_to(user, admin.owner())
}

/// Statements, run in one database, that hand what `user` owns to `heir` and drop its
/// privileges there.
pub fn release_objects_to(user: &str, heir: &str) -> Result<Vec<String>, PlanError> {
    let u = quote_ident(user)?;
    Ok(vec![format!("REASSIGN OWNED BY {u} TO {}", quote_ident(heir)?), format!("DROP OWNED BY {u}")])
}

pub fn drop_user(user: &str) -> Result<String, PlanError> {
    Ok(format!("DROP ROLE IF EXISTS {}", quote_ident(user)?))
}

pub fn create_database(database: &str) -> Result<String, PlanError> {
    create_database_as(Admin::Operator, database)
}

/// `CREATE DATABASE` owned by `admin`'s owner role (an adopted admin owns what it creates;
/// naming another owner would need membership in it).
pub fn create_database_as(admin: Admin, database: &str) -> Result<String, PlanError> {
    match admin {
        Admin::Operator => Ok(format!("CREATE DATABASE {} OWNER {}", quote_ident(database)?, quote_ident("operator")?)),
        Admin::Adopted { .. } => Ok(format!("CREATE DATABASE {}", quote_ident(database)?)),
    }
}

/// On an adopted server only the group every relation user joins is created (when
/// missing, marked as tether's); the server's `admin` role, if any, and its maintenance
/// database are not tether's to change.
pub fn bootstrap_adopted_groups(group_exists: impl Fn(&str) -> bool) -> Result<Vec<String>, PlanError> {
    if group_exists(RELATION_ACCESS) {
        return Ok(vec![]);
    }
    let g = quote_ident(RELATION_ACCESS)?;
    Ok(vec![format!("CREATE ROLE {g} NOLOGIN"), format!("COMMENT ON ROLE {g} IS {}", quote_literal(OWNERSHIP_COMMENT)?)])
}

/// Group roles every server needs before relations are served.
pub fn bootstrap_groups(group_exists: impl Fn(&str) -> bool) -> Result<Vec<String>, PlanError> {
    let mut out = Vec::new();
    if !group_exists(RELATION_ACCESS) {
        out.push(format!("CREATE ROLE {} NOLOGIN", quote_ident(RELATION_ACCESS)?));
    }
    if !group_exists(ADMIN_GROUP) {
        out.push(format!("CREATE ROLE {} NOLOGIN", quote_ident(ADMIN_GROUP)?));
    }
    let a = quote_ident(ADMIN_GROUP)?;
    out.push(format!("GRANT pg_read_all_data, pg_write_all_data TO {a}"));
    // The maintenance database is closed to applications' users (as Canonical's charm
    // does at setup): only the admins, the superusers and the internal users given
    // CONNECT below reach it.
    out.push(format!("REVOKE ALL ON DATABASE {} FROM PUBLIC", quote_ident(MAINTENANCE_DATABASE)?));
    out.push(format!("GRANT CONNECT ON DATABASE {} TO {a}", quote_ident(MAINTENANCE_DATABASE)?));
    Ok(out)
}

/// `ALTER ROLE` for a system user's new password (already a SCRAM verifier).
pub fn set_password(user: &str, verifier: &str) -> Result<String, PlanError> {
    Ok(format!("ALTER ROLE {} WITH PASSWORD {}", quote_ident(user)?, quote_literal(verifier)?))
}

/// Ensures a system user exists as a superuser with the given verifier.
pub fn ensure_system_user(user: &str, verifier: &str, exists: bool) -> Result<Vec<String>, PlanError> {
    let u = quote_ident(user)?;
    let pw = quote_literal(verifier)?;
    let verb = if exists { "ALTER" } else { "CREATE" };
    // Least privilege: only the charm's own admin and the backup user are superusers;
    // `replication` replicates, `monitoring` reads statistics, `rewind` runs pg_rewind.
    let attrs = match user {
        "replication" => "LOGIN NOSUPERUSER REPLICATION",
        "monitoring" | "rewind" => "LOGIN NOSUPERUSER NOREPLICATION",
        _ => "LOGIN SUPERUSER",
    };
    let mut out = vec![
        format!("{verb} ROLE {u} WITH {attrs} PASSWORD {pw}"),
        format!("COMMENT ON ROLE {u} IS {}", quote_literal(OWNERSHIP_COMMENT)?),
    ];
    match user {
        "monitoring" => out.push(format!("GRANT pg_monitor TO {u}")),
        "rewind" => {
            for f in [
                "pg_ls_dir(text, boolean, boolean)",
                "pg_stat_file(text, boolean)",
                "pg_read_binary_file(text)",
                "pg_read_binary_file(text, bigint, bigint, boolean)",
            ] {
                out.push(format!("GRANT EXECUTE ON FUNCTION pg_catalog.{f} TO {u}"));
            }
        }
        _ => {}
    }
    if matches!(user, "monitoring" | "rewind" | "replication") {
        // Not superusers: they need CONNECT on the maintenance database, closed to PUBLIC.
        out.push(format!("GRANT CONNECT ON DATABASE {} TO {u}", quote_ident(MAINTENANCE_DATABASE)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes_and_refuses_nul() {
        assert_eq!(quote_ident("a\"b").unwrap(), "\"a\"\"b\"");
        assert_eq!(quote_ident("x; DROP TABLE y").unwrap(), "\"x; DROP TABLE y\"");
        assert!(quote_ident("a\0").is_err());
        assert_eq!(quote_literal("it's").unwrap(), "'it''s'");
        assert!(quote_literal("\0").is_err());
    }

    #[test]
    fn withdrawing_a_database_revokes_only_that_users_access() {
        assert_eq!(
            withdraw_database_access("app\"b", "relation_id_3").unwrap(),
            "REVOKE ALL ON DATABASE \"app\"\"b\" FROM \"relation_id_3\""
        );
    }

    #[test]
    fn roles_are_classified() {
        let exists = |r: &str| r == "pg_read_all_data";
        assert_eq!(classify_roles("", exists).unwrap(), RolePlan::default());
        let p = classify_roles("admin", exists).unwrap();
        assert!(p.admin && p.createdb && !p.superuser);
        let p = classify_roles("CreateDB, pg_read_all_data", exists).unwrap();
        assert!(p.createdb);
        assert_eq!(p.grants, vec!["pg_read_all_data".to_string()]);
        assert_eq!(classify_roles("bogus,admin", exists), Err(PlanError::InvalidRoles(vec!["bogus".into()])));
        assert_eq!(PlanError::InvalidRoles(vec![]).to_string(), "invalid role(s) for extra user roles");
    }

    #[test]
    fn ensure_user_renders_create_or_alter() {
        let s = ensure_user("relation_id_4", "SCRAM-SHA-256$4096:x$y:z", &RolePlan::default(), false).unwrap();
        assert_eq!(
            s[0],
            "CREATE ROLE \"relation_id_4\" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'SCRAM-SHA-256$4096:x$y:z'"
        );
        assert_eq!(s[2], "GRANT \"relation_access\" TO \"relation_id_4\"");
        let s = ensure_user("relation_id_4", "v", &RolePlan { admin: true, createdb: true, ..Default::default() }, true).unwrap();
        assert!(s[0].starts_with("ALTER ROLE \"relation_id_4\" WITH LOGIN NOSUPERUSER CREATEDB"));
        assert!(s.contains(&"GRANT \"admin\" TO \"relation_id_4\"".to_string()));
    }

    #[test]
    fn an_adopted_admin_never_names_the_superuser_attribute_and_joins_its_users() {
        let marker = adopted_marker("uuid/pg-ext");
        let admin = Admin::Adopted { login: "dba", marker: &marker };
        let s = ensure_user_as(admin, "relation_id_4", "v", &RolePlan::default(), true).unwrap();
        assert_eq!(s[0], "ALTER ROLE \"relation_id_4\" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD 'v'");
        assert_eq!(s.last().unwrap(), "GRANT \"relation_id_4\" TO \"dba\"");
        assert_eq!(s[1], "COMMENT ON ROLE \"relation_id_4\" IS 'managed by tether: uuid/pg-ext'");
        let s = ensure_user_as(admin, "relation_id_4", "v", &RolePlan { superuser: true, ..Default::default() }, false).unwrap();
        assert!(s[0].contains(" SUPERUSER "), "{s:?}");
        assert_eq!(create_database_as(admin, "app").unwrap(), "CREATE DATABASE \"app\"");
        let access = database_access_as(admin, "app", "relation_id_4").unwrap();
        assert!(!access.iter().any(|s| s.contains("\"admin\"") || s.contains("operator")), "{access:?}");
        assert_eq!(release_objects_as(admin, "relation_id_4").unwrap()[0], "REASSIGN OWNED BY \"relation_id_4\" TO \"dba\"");
        assert!(bootstrap_adopted_groups(|_| true).unwrap().is_empty());
        assert!(bootstrap_adopted_groups(|_| false).unwrap().iter().all(|s| !s.contains("postgres")));
    }

    #[test]
    fn relation_users_are_recognised() {
        assert_eq!(relation_user(12), "relation_id_12");
        assert!(is_relation_user("relation_id_12"));
        assert!(is_relation_user(&rotated_user("relation_id_12", 3)));
        assert_eq!(rotated_user("relation_id_12", 3), "relation_id_12_r3");
        assert!(!is_relation_user("relation_id_"));
        assert!(!is_relation_user("relation_id_12_r"));
        assert!(!is_relation_user("relation_id_12_x3"));
        assert!(!is_relation_user("operator"));
    }

    #[test]
    fn a_rotated_login_acts_as_the_owner_which_keeps_its_login_until_retired() {
        let plan = RolePlan { createdb: true, ..Default::default() };
        let owner = ensure_owner_role_as(Admin::Operator, "relation_id_7", &plan, true).unwrap();
        assert_eq!(owner[0], "ALTER ROLE \"relation_id_7\" WITH NOSUPERUSER CREATEDB NOCREATEROLE");
        let fresh = ensure_owner_role_as(Admin::Operator, "relation_id_7", &plan, false).unwrap();
        assert!(fresh[0].starts_with("CREATE ROLE \"relation_id_7\" WITH NOLOGIN "), "{fresh:?}");
        let login = member_login_as(Admin::Operator, "relation_id_7_r1", "relation_id_7", "SCRAM", &plan, false).unwrap();
        assert!(login.contains(&"GRANT \"relation_id_7\" TO \"relation_id_7_r1\"".to_string()), "{login:?}");
        assert!(login.contains(&"ALTER ROLE \"relation_id_7_r1\" SET role = 'relation_id_7'".to_string()), "{login:?}");
        assert_eq!(disable_login("relation_id_7").unwrap(), "ALTER ROLE \"relation_id_7\" WITH NOLOGIN PASSWORD NULL");
        assert_eq!(
            release_objects_to("relation_id_7_r1", "relation_id_7").unwrap()[0],
            "REASSIGN OWNED BY \"relation_id_7_r1\" TO \"relation_id_7\""
        );
    }

    #[test]
    fn take_over_quotes_the_user_as_a_literal() {
        let s = take_over_objects("relation_id_1", Ownership::Sole).unwrap();
        assert!(s.starts_with("DO $tether$"));
        assert!(s.contains("'relation_id_1'"));
        assert!(take_over_objects("relation_id_1", Ownership::Shared).unwrap().contains("GRANT ALL ON ALL TABLES"));
    }

    #[test]
    fn the_maintenance_database_is_closed_to_public_and_open_to_the_internal_users() {
        let boot = bootstrap_groups(|_| true).unwrap();
        assert!(boot.contains(&"REVOKE ALL ON DATABASE \"postgres\" FROM PUBLIC".to_string()), "{boot:?}");
        assert!(boot.contains(&"GRANT CONNECT ON DATABASE \"postgres\" TO \"admin\"".to_string()), "{boot:?}");
        for (user, connects) in [("monitoring", true), ("rewind", true), ("replication", true), ("operator", false), ("backup", false)] {
            let plan = ensure_system_user(user, "SCRAM-SHA-256$x", true).unwrap();
            let grant = format!("GRANT CONNECT ON DATABASE \"postgres\" TO \"{user}\"");
            assert_eq!(plan.contains(&grant), connects, "{user}: superusers need no grant; the others do: {plan:?}");
        }
    }
}
