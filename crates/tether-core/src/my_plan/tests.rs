//! Table tests of MySQL/MariaDB naming, quoting and statement rendering.

use super::*;

const H: &str = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";

#[test]
fn quoting_doubles_quotes_and_refuses_nul() {
    for (name, quoted) in [("a", "`a`"), ("a`b", "`a``b`"), ("x; DROP DATABASE y", "`x; DROP DATABASE y`"), ("we'ird", "`we'ird`")] {
        assert_eq!(quote_ident(name).unwrap(), quoted);
    }
    assert_eq!(quote_ident("a\0"), Err(PlanError::BadIdentifier));
    assert_eq!(quote_ident(""), Err(PlanError::BadIdentifier));
    for (value, quoted) in [("it's", "'it''s'"), ("a\\b", "'a\\\\b'"), ("\\'", "'\\\\'''"), ("", "''")] {
        assert_eq!(quote_literal(value).unwrap(), quoted);
    }
    assert_eq!(quote_literal("\0"), Err(PlanError::BadLiteral));
    assert_eq!(account("relation-1", "%").unwrap(), "'relation-1'@'%'");
    assert!(account("", "%").is_err());
}

#[test]
fn only_native_password_hashes_are_rendered() {
    assert_eq!(password_hash(H).unwrap(), format!("'{H}'"));
    for bad in ["hunter2", "*2470c0c06dee42fd1618bb99005adca2ec9d1e19", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1", "", "'*' OR 1=1"] {
        assert_eq!(password_hash(bad), Err(PlanError::BadHash), "{bad}");
    }
    assert!(ensure_account("u", "%", &Auth::NativeHash("clear-password".into())).is_err());
}

#[test]
fn grant_scopes_are_not_patterns() {
    assert_eq!(grant_scope("app").unwrap(), "`app`.*");
    assert_eq!(grant_scope("app_1").unwrap(), "`app\\_1`.*");
    assert_eq!(grant_scope("50%").unwrap(), "`50\\%`.*");
    assert_eq!(grant_scope("a\\b").unwrap(), "`a\\\\b`.*");
    assert_eq!(grant_scope("a`b").unwrap(), "`a``b`.*");
}

#[test]
fn user_names_follow_the_charm() {
    assert_eq!(relation_user(8, "99200344-b67b-4e9a-8c3e-000000000000"), "relation-8_99200344b67b4e9");
    assert_eq!(relation_user(8, "99200344-b67b-4e9a-8c3e-000000000000").len(), RELATION_USER_LEN);
    assert_eq!(relation_user(12345, "abc"), "relation-12345_abc");
    assert_eq!(legacy_user(3), "relation-3");
    assert_eq!(legacy_database(3), "database-3");
    for (name, ok) in [
        ("relation-8_99200344b67b4e9", true),
        ("relation-3", true),
        ("relation-7r2_99200344b67b4e", true),
        ("relation-7r2", true),
        ("relation-7r10_abc", true),
        ("relation-", false),
        ("relation-x", false),
        ("root", false),
        ("relation-7r", false),
        ("relation-7r_abc", false),
        ("relation-r2", false),
        ("relation-r2_abc", false),
        ("relation-7x2", false),
        ("relation-7x2_abc", false),
        ("relation-7r2r3", false),
        ("relation-7rr2", false),
        ("relation-7R2", false),
        ("relation-7r2_xyz", false),
        ("relation-7r-2", false),
        ("relation-7_r2", false),
        ("xrelation-7r2", false),
    ] {
        assert_eq!(is_relation_user(name), ok, "{name}");
    }
    assert_eq!(db_dba_role("app", 0), "charmed_dba_app_00");
    let long = db_dba_role("a_very_long_database_name_indeed", 7);
    assert_eq!(long, "charmed_dba_a_very_long_datab_07");
    assert_eq!(long.chars().count(), ROLE_MAX_LEN);
}

#[test]
fn rotated_logins_insert_the_generation_after_the_id_and_keep_the_length() {
    let base = relation_user(7, "99200344-b67b-4e9a-8c3e-000000000000");
    for (generation, rotated) in [(1, "relation-7r1_99200344b67b4"), (2, "relation-7r2_99200344b67b4"), (10, "relation-7r10_99200344b67b")]
    {
        assert_eq!(rotated_user(&base, generation), rotated);
        assert_eq!(rotated.chars().count(), RELATION_USER_LEN);
        assert!(is_relation_user(rotated), "{rotated}");
    }
    // Legacy names, short uuids.
    assert_eq!(rotated_user(&legacy_user(7), 2), "relation-7r2");
    assert_eq!(rotated_user("relation-12345_abc", 3), "relation-12345r3_abc");
    // A rotated login's own generation is replaced, never stacked.
    assert_eq!(rotated_user(&rotated_user(&base, 9), 10), rotated_user(&base, 10));
    assert_eq!(rotated_user("relation-7r2", 3), "relation-7r3");
    // Distinct from the base and from each other, for any id and generation that fit, and
    // within MySQL 8's 32 characters (with the bundle role's `_roles`).
    let mut seen = std::collections::HashSet::new();
    for id in [0, 7, 99, 123_456, 999_999] {
        let base = relation_user(id, "99200344-b67b-4e9a-8c3e-0123456789ab");
        seen.insert(base.clone());
        for generation in [1, 2, 9, 10, 11, 100, u32::MAX] {
            let r = rotated_user(&base, generation);
            assert!(r.chars().count() <= RELATION_USER_LEN && bundle_role(&r).chars().count() <= ROLE_MAX_LEN, "{r}");
            assert!(is_relation_user(&r), "{r}");
            assert!(r.starts_with(&format!("relation-{id}r{generation}")), "{r}");
            assert!(seen.insert(r.clone()), "{r} is not new");
        }
    }
    // Past 16 digits of id and generation the head is kept whole (longer, never ambiguous).
    let huge = rotated_user(&relation_user(123_456_789_012_345, "abcdef"), u32::MAX);
    assert_eq!(huge, "relation-123456789012345r4294967295");
    assert!(is_relation_user(&huge));
    // Not a relation user: the generation goes at the end.
    assert_eq!(rotated_user("custom", 2), "customr2");
}

#[test]
fn mysql8_dual_passwords_retain_then_discard() {
    let pw = Auth::Sha2("Ab1'x\\y".to_string());
    let s = set_password_retaining_current("relation-7r2_abc", "%", &pw).unwrap();
    assert_eq!(
        s.as_str(),
        "ALTER USER 'relation-7r2_abc'@'%' IDENTIFIED WITH caching_sha2_password BY 'Ab1''x\\\\y' RETAIN CURRENT PASSWORD"
    );
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
    zeroized_on_drop(&s);
    assert_eq!(set_password_retaining_current("u", "%", &native()), Err(PlanError::NoDualPasswords), "MariaDB has none");
    assert!(set_password_retaining_current("u", "%", &Auth::Sha2(String::new())).is_err());
    assert!(set_password_retaining_current("u", "%", &Auth::Sha2("nul\0".into())).is_err());
    assert!(set_password_retaining_current("", "%", &pw).is_err());
    assert!(!PlanError::NoDualPasswords.to_string().contains("Ab1"));
    assert_eq!(discard_old_password("relation-7r2_abc", "%").unwrap(), "ALTER USER 'relation-7r2_abc'@'%' DISCARD OLD PASSWORD");
    assert_eq!(discard_old_password("it's", "%").unwrap(), "ALTER USER 'it''s'@'%' DISCARD OLD PASSWORD");
    assert!(discard_old_password("", "%").is_err());
}

#[test]
fn roles_are_classified() {
    let db_role = |r: &str| r == "charmed_dba_app_00";
    assert_eq!(classify_roles("", db_role).unwrap(), ExtraRoles::default());
    let p = classify_roles(" charmed_read, charmed_dml,charmed_read ", db_role).unwrap();
    assert_eq!(p.roles, vec!["charmed_read", "charmed_dml"]);
    assert!(!p.router);
    assert!(classify_roles("mysqlrouter", db_role).unwrap().router);
    assert_eq!(classify_roles("charmed_dba_app_00", db_role).unwrap().roles, vec!["charmed_dba_app_00"]);
    for bad in ["charmed_backup", "superuser", "charmed_dba_other_00", "charmed_read,admin"] {
        let e = classify_roles(bad, db_role).unwrap_err();
        assert_eq!(e.to_string(), "Failed to create scoped user", "{bad}");
    }
}

fn native() -> Auth {
    Auth::NativeHash(H.to_string())
}

#[test]
fn relation_users_are_confined_or_get_a_bundle_role() {
    let md = Dialect::MariaDb;
    let s = ensure_relation_user(md, "relation-1_abc", &native(), &["app_1"], &ExtraRoles::default(), false).unwrap();
    assert_eq!(s[0], format!("CREATE USER IF NOT EXISTS 'relation-1_abc'@'%' IDENTIFIED BY PASSWORD '{H}'"));
    assert!(s.contains(&"REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'relation-1_abc'@'%'".to_string()));
    assert!(s.contains(&"GRANT ALL PRIVILEGES ON `app\\_1`.* TO 'relation-1_abc'@'%'".to_string()));
    assert!(s.contains(&"SET DEFAULT ROLE NONE FOR 'relation-1_abc'@'%'".to_string()));
    assert_eq!(s.last().unwrap(), "INSERT IGNORE INTO `tether_meta`.`managed_users` (user) VALUES ('relation-1_abc')");
    assert!(!s.iter().any(|x| x.contains("*.* TO")));

    // A user the lookup did not find: created, granted, marked; nothing to reset.
    let s = ensure_relation_user(md, "relation-1_abc", &native(), &["app_1"], &ExtraRoles::default(), true).unwrap();
    assert_eq!(
        s,
        vec![
            format!("CREATE USER 'relation-1_abc'@'%' IDENTIFIED BY PASSWORD '{H}'"),
            "GRANT ALL PRIVILEGES ON `app\\_1`.* TO 'relation-1_abc'@'%'".to_string(),
            "INSERT IGNORE INTO `tether_meta`.`managed_users` (user) VALUES ('relation-1_abc')".to_string(),
        ]
    );

    // A v1 requirer's two requests: one user, ALL on both databases.
    let s = ensure_relation_user(md, "relation-2_abc", &native(), &["app_a", "app_b"], &ExtraRoles::default(), true).unwrap();
    assert!(s.contains(&"GRANT ALL PRIVILEGES ON `app\\_a`.* TO 'relation-2_abc'@'%'".to_string()), "{s:?}");
    assert!(s.contains(&"GRANT ALL PRIVILEGES ON `app\\_b`.* TO 'relation-2_abc'@'%'".to_string()), "{s:?}");

    let extra = ExtraRoles { roles: vec!["charmed_read".into(), "charmed_stats".into()], router: false };
    let s = ensure_relation_user(md, "u", &native(), &["app"], &extra, false).unwrap();
    assert!(s.contains(&"CREATE ROLE 'u_roles'".to_string()));
    assert!(s.contains(&"GRANT 'charmed_stats' TO 'u_roles'".to_string()));
    assert!(s.contains(&"SET DEFAULT ROLE 'u_roles' FOR 'u'@'%'".to_string()));
    assert!(!s.iter().any(|x| x.contains("`app`")), "no database grant with extra roles");
}

#[test]
fn mysql8_statements_use_caching_sha2_and_its_role_syntax() {
    let my = Dialect::MySql;
    let pw = Auth::Sha2("Ab1'x\\y".to_string());
    assert_eq!(format!("{pw:?}"), "Sha2([REDACTED])");
    assert!(pw.is_clear() && !native().is_clear());
    assert!(Auth::Sha2(String::new()).clause().is_err());
    assert!(Auth::Sha2("nul\0".into()).clause().is_err());
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
    zeroized_on_drop(&pw);
    zeroized_on_drop(&pw.clause().unwrap());
    let s = ensure_relation_user(my, "relation-1_abc", &pw, &["app_1"], &ExtraRoles::default(), true).unwrap();
    assert_eq!(s[0], "CREATE USER 'relation-1_abc'@'%' IDENTIFIED WITH caching_sha2_password BY 'Ab1''x\\\\y'");
    assert_eq!(s[1], "GRANT ALL PRIVILEGES ON `app\\_1`.* TO 'relation-1_abc'@'%'");
    let s = ensure_relation_user(my, "relation-1_abc", &pw, &["app_1"], &ExtraRoles::default(), false).unwrap();
    assert!(s.contains(&"ALTER USER 'relation-1_abc'@'%' IDENTIFIED WITH caching_sha2_password BY 'Ab1''x\\\\y'".to_string()));
    assert!(s.contains(&"SET DEFAULT ROLE NONE TO 'relation-1_abc'@'%'".to_string()));
    let extra = ExtraRoles { roles: vec!["charmed_dml".into()], router: false };
    let s = ensure_relation_user(my, "u", &pw, &["app"], &extra, true).unwrap();
    assert!(s.contains(&"GRANT 'charmed_dml' TO 'u_roles'".to_string()));
    assert!(s.contains(&"SET DEFAULT ROLE 'u_roles' TO 'u'@'%'".to_string()));
    assert_eq!(
        set_password("root", "localhost", &pw).unwrap(),
        "ALTER USER 'root'@'localhost' IDENTIFIED WITH caching_sha2_password BY 'Ab1''x\\\\y'"
    );

    // Privilege names: REPLICATION CLIENT instead of MariaDB's monitors.
    let roles = predefined_roles(my).unwrap();
    assert!(roles.contains(&"GRANT PROCESS, RELOAD, REPLICATION CLIENT ON *.* TO 'charmed_stats'".to_string()), "{roles:?}");
    assert!(!roles.iter().any(|r| r.contains("MONITOR")));
    let mariadb_roles = predefined_roles(Dialect::MariaDb).unwrap();
    assert!(mariadb_roles.contains(&"GRANT PROCESS, RELOAD, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'charmed_stats'".to_string()));
    assert!(!mariadb_roles.iter().any(|r| r.contains("REPLICATION CLIENT") || r.contains("BACKUP_ADMIN")));

    // mysql-root: ALL, then the charm's REVOKE.
    let g = mysql_root_grant(my, "r", "%").unwrap();
    assert_eq!(g[0], "GRANT ALL PRIVILEGES ON *.* TO 'r'@'%' WITH GRANT OPTION");
    assert!(g[1].starts_with("REVOKE SYSTEM_USER, SYSTEM_VARIABLES_ADMIN, SUPER,") && g[1].ends_with(" ON *.* FROM 'r'@'%'"), "{g:?}");
    let mon = system_user(my, "monitoring", &pw).unwrap();
    assert!(mon.contains(&"SET DEFAULT ROLE 'charmed_stats' TO 'monitoring'@'%'".to_string()));

    // The first login to an --initialize-insecure directory.
    let b = mysql8_bootstrap_root("secret").unwrap();
    assert!(b.contains(&"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED WITH caching_sha2_password BY 'secret'".to_string()));
    assert!(b.contains(&"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION".to_string()));
}

#[test]
fn dialects_are_told_apart_by_the_version() {
    assert_eq!(Dialect::from_version("10.11.6-MariaDB-0+deb12u1"), Dialect::MariaDb);
    assert_eq!(Dialect::from_version("8.0.31-0ubuntu0.22.04.1"), Dialect::MySql);
    assert_eq!(Dialect::from_version("8.4.3"), Dialect::MySql);
    assert_eq!(Dialect::MariaDb.role_host(), "");
    assert_eq!(Dialect::MySql.role_host(), "%");
}

#[test]
fn the_dba_role_is_the_one_holding_the_database_or_the_first_free() {
    assert_eq!(db_dba_role_prefix("app"), "charmed_dba_app_");
    assert_eq!(choose_dba_role("app", &[]), "charmed_dba_app_00");
    let taken = vec![("charmed_dba_app_00".to_string(), false), ("charmed_dba_app_01".to_string(), false)];
    assert_eq!(choose_dba_role("app", &taken), "charmed_dba_app_02");
    let held = vec![("charmed_dba_app_00".to_string(), false), ("charmed_dba_app_01".to_string(), true)];
    assert_eq!(choose_dba_role("app", &held), "charmed_dba_app_01");
    assert_eq!(grant_scope_pattern("a_b`c").unwrap(), "a\\_b`c");
    assert_eq!(db_role_candidates("charmed_read, charmed_dba_x_00"), vec!["charmed_dba_x_00"]);
}

#[test]
fn mysql_root_gets_everything_but_the_withheld_privileges() {
    let g = mysql_root_grant(Dialect::MariaDb, "r", "%").unwrap();
    assert_eq!(g.len(), 1);
    let g = &g[0];
    assert!(g.starts_with("GRANT SELECT, INSERT"));
    assert!(g.ends_with(" ON *.* TO 'r'@'%' WITH GRANT OPTION"));
    assert!(g.contains("CREATE USER") && g.contains(", CREATE,"));
    for w in MYSQL_ROOT_WITHHELD {
        assert!(!g.contains(&format!(" {w},")) && !g.contains(&format!(" {w} ON")), "{w} in {g}");
    }
    assert!(!g.contains("SUPER"));
    let s = ensure_legacy_user(Dialect::MariaDb, "db-user", &native(), "legacy_db", false).unwrap();
    assert!(s.contains(&"GRANT ALL PRIVILEGES ON `legacy\\_db`.* TO 'db-user'@'%'".to_string()));
}

#[test]
fn system_users_and_bootstrap() {
    let md = Dialect::MariaDb;
    let root = system_user(md, "root", &native()).unwrap();
    assert!(root.contains(&"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION".to_string()));
    assert!(root.contains(&format!("ALTER USER 'root'@'localhost' IDENTIFIED BY PASSWORD '{H}'")));
    let mon = system_user(md, "monitoring", &native()).unwrap();
    assert!(mon.contains(&"SET DEFAULT ROLE 'charmed_stats' FOR 'monitoring'@'%'".to_string()));
    assert!(system_user(md, "backups", &native()).unwrap().iter().any(|s| s.contains("charmed_backup")));
    assert!(system_user(md, "serverconfig", &native()).unwrap().iter().any(|s| s.ends_with("WITH GRANT OPTION")));
    assert_eq!(system_user(md, "operator", &native()), Err(PlanError::UnknownSystemUser("operator".into())));
    assert!(system_user(md, "root", &Auth::NativeHash("pw".into())).is_err(), "only hashes on MariaDB");
    let b = bootstrap_root(H).unwrap();
    assert_eq!(b[0], "FLUSH PRIVILEGES");
    assert!(b.iter().any(|s| s == &format!("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY PASSWORD '{H}'")));
    assert!(bootstrap_root("pw").is_err());
    assert_eq!(
        drop_user("u", "%").unwrap(),
        vec!["DROP USER IF EXISTS 'u'@'%'", "DROP ROLE IF EXISTS 'u_roles'", "DELETE FROM `tether_meta`.`managed_users` WHERE user = 'u'"]
    );
    assert_eq!(kill_sessions(md, "u").unwrap().as_deref(), Some("KILL CONNECTION USER 'u'@'%'"));
    assert_eq!(kill_sessions(Dialect::MySql, "u").unwrap(), None);
    assert_eq!(lock_account("relation-7r2_abc", "%").unwrap(), "ALTER USER IF EXISTS 'relation-7r2_abc'@'%' ACCOUNT LOCK");
    assert_eq!(lock_account("it's\\", "%").unwrap(), "ALTER USER IF EXISTS 'it''s\\\\'@'%' ACCOUNT LOCK");
    assert!(lock_account("nul\0", "%").is_err());
    let long = "a-legacy-user-of-32-characters-x";
    assert_eq!(drop_user(long, "%").unwrap().len(), 2, "no DROP ROLE of a 38-character name (MySQL refuses it)");
    let c = create_database("app_1", "charmed_dba_app_1_00").unwrap();
    assert_eq!(c[0], "CREATE DATABASE IF NOT EXISTS `app_1`");
    assert!(c.contains(&"GRANT SELECT ON `app\\_1`.* TO 'charmed_read'".to_string()));
    assert!(predefined_roles(md).unwrap().iter().any(|s| s == "GRANT 'charmed_read' TO 'charmed_dml'"));
}
