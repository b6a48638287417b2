//! MariaDB/MySQL statements for a server tether did not start (adopt mode), and reading
//! what its admin may do.
//!
//! The admin of an adopted server is not `root`: it needs `CREATE USER`, `GRANT OPTION`
//! and `CREATE` (checked first, from `SHOW GRANTS`, by [`missing_privileges`]), and may
//! lack the rights to read `mysql.user` or to create the predefined roles. So on an
//! adopted server tether creates no roles, grants `ALL` on the relation's databases to
//! the relation user directly, and keeps its ownership marker in a table of its own
//! ([`ADOPTED_USERS`]) that names the owning application, so that two applications (or
//! two controllers) adopting the same server never sweep each other's users. A user of
//! a relation user's name that is not in that table is someone else's: `CREATE USER`
//! (never `IF NOT EXISTS` for a user tether does not know) refuses to take it over.

use super::{account, ensure_account, grant_scope, joined, password_hash, quote_ident, Auth, PlanError, ANY_HOST, META_DATABASE};

/// The privileges tether needs on `*.*`, as `SHOW GRANTS` words them.
pub const NEEDED_PRIVILEGES: [&str; 3] = ["CREATE USER", "GRANT OPTION", "CREATE"];

/// tether's relation users on adopted servers and the application (`<model uuid>/<app>`)
/// each belongs to.
pub const ADOPTED_USERS: &str = "`tether_meta`.`adopted_users`";

/// The table of [`ADOPTED_USERS`] and its database.
pub fn registry() -> Result<Vec<String>, PlanError> {
    Ok(vec![
        format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(META_DATABASE)?),
        format!("CREATE TABLE IF NOT EXISTS {ADOPTED_USERS} (user VARCHAR(128) PRIMARY KEY, owner VARCHAR(255) NOT NULL) ENGINE=InnoDB"),
    ])
}

/// Who owns a user (bound: the user).
pub const OWNER_OF: &str = "SELECT owner FROM `tether_meta`.`adopted_users` WHERE user = ?";
/// Claims a user for an application before it is created (bound: user, owner).
pub const CLAIM: &str = "INSERT INTO `tether_meta`.`adopted_users` (user, owner) VALUES (?, ?)";
/// Gives a user up (bound: user, owner).
pub const RELEASE: &str = "DELETE FROM `tether_meta`.`adopted_users` WHERE user = ? AND owner = ?";
/// An application's users with a prefix, sorted (bound: owner, prefix, prefix).
pub const LIST: &str = "SELECT user FROM `tether_meta`.`adopted_users` WHERE owner = ? AND LEFT(user, CHAR_LENGTH(?)) = ? ORDER BY user";

/// MySQL's error when `CREATE USER` finds the account taken (`ER_CANNOT_USER`).
pub const ACCOUNT_TAKEN: u16 = 1396;

/// Creates a user tether has just claimed; fails (MySQL error 1396) when the name is
/// taken, which is how a user made by someone else is found without reading `mysql.user`.
pub fn create_user(user: &str, auth: &Auth) -> Result<String, PlanError> {
    Ok(joined(&["CREATE USER", &account(user, ANY_HOST)?, &auth.clause()?]))
}

/// Drops a relation user tether owns (its databases stay).
pub fn drop_user(user: &str) -> Result<String, PlanError> {
    Ok(format!("DROP USER IF EXISTS {}", account(user, ANY_HOST)?))
}

/// A new password for the admin itself (whatever host its account has). MariaDB takes
/// the hash as `SET PASSWORD`'s literal (its `ALTER USER CURRENT_USER()` answers OK and
/// changes nothing); MySQL 8 names the session's account with `USER()`.
pub fn set_own_password(auth: &Auth) -> Result<String, PlanError> {
    Ok(match auth {
        Auth::NativeHash(h) => format!("SET PASSWORD = {}", password_hash(h)?),
        Auth::Sha2(_) => joined(&["ALTER USER USER()", &auth.clause()?]),
    })
}

/// A relation user tether owns, brought to exactly this password and `ALL` on exactly
/// these databases (created when missing; no roles). `existing`: the user may already
/// have grants, which are revoked first.
pub fn relation_user(user: &str, auth: &Auth, databases: &[&str], existing: bool) -> Result<Vec<String>, PlanError> {
    let a = account(user, ANY_HOST)?;
    let mut out = ensure_account(user, ANY_HOST, auth)?;
    if existing {
        out.push(format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {a}"));
    }
    for database in databases {
        out.push(format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database)?));
        out.push(format!("GRANT ALL PRIVILEGES ON {} TO {a}", grant_scope(database)?));
    }
    Ok(out)
}

/// Which of [`NEEDED_PRIVILEGES`] the `SHOW GRANTS` lines of the admin do not give it on
/// `*.*` (`ALL PRIVILEGES` gives all but `GRANT OPTION`, which `WITH GRANT OPTION` gives).
/// Only the privilege list, the object and the trailing option of each line are read:
/// the rest (which may hold the password hash) is never looked at or returned.
pub fn missing_privileges<S: AsRef<str>>(grants: &[S]) -> Vec<&'static str> {
    let mut have: Vec<&str> = Vec::new();
    for line in grants {
        let line = line.as_ref();
        let Some(rest) = line.strip_prefix("GRANT ") else { continue };
        let Some((privileges, after)) = rest.split_once(" ON ") else { continue };
        if !after.starts_with("*.* TO ") {
            continue;
        }
        for p in privileges.split(',').map(str::trim) {
            if p == "ALL PRIVILEGES" || p == "ALL" {
                have.extend(["CREATE USER", "CREATE"]);
            } else {
                have.push(p);
            }
        }
        if line.ends_with(" WITH GRANT OPTION") || line.contains(" WITH GRANT OPTION ") {
            have.push("GRANT OPTION");
        }
    }
    NEEDED_PRIVILEGES.into_iter().filter(|p| !have.contains(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_are_read_from_the_global_grants_only() {
        let root = ["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA unix_socket WITH GRANT OPTION"];
        assert!(missing_privileges(&root).is_empty());
        let dba = ["GRANT SELECT, INSERT, CREATE, CREATE USER ON *.* TO `dba`@`%` IDENTIFIED BY PASSWORD '*AB12' WITH GRANT OPTION"];
        assert!(missing_privileges(&dba).is_empty());
        let no_grant = ["GRANT CREATE, CREATE USER ON *.* TO `dba`@`%` IDENTIFIED BY PASSWORD '*AB12'"];
        assert_eq!(missing_privileges(&no_grant), ["GRANT OPTION"]);
        // CREATE VIEW is not CREATE; grants on one database are not global.
        let narrow = [
            "GRANT CREATE VIEW, CREATE ROUTINE ON *.* TO `dba`@`%` WITH GRANT OPTION",
            "GRANT ALL PRIVILEGES ON `app`.* TO `dba`@`%` WITH GRANT OPTION",
        ];
        assert_eq!(missing_privileges(&narrow), ["CREATE USER", "CREATE"]);
        let mysql8 = ["GRANT CREATE, CREATE USER ON *.* TO `dba`@`%` WITH GRANT OPTION", "GRANT BACKUP_ADMIN ON *.* TO `dba`@`%`"];
        assert!(missing_privileges(&mysql8).is_empty());
        assert_eq!(missing_privileges(&["GRANT USAGE ON *.* TO `x`@`%`"]), NEEDED_PRIVILEGES);
        assert_eq!(missing_privileges::<&str>(&[]), NEEDED_PRIVILEGES);
    }

    #[test]
    fn relation_users_get_their_databases_and_nothing_else() {
        let auth = Auth::NativeHash("*0123456789ABCDEF0123456789ABCDEF01234567".into());
        let fresh = relation_user("relation-4_abc", &auth, &["app_db"], false).unwrap();
        assert!(fresh.iter().all(|s| !s.contains("ROLE")), "{fresh:?}");
        assert!(fresh.contains(&"GRANT ALL PRIVILEGES ON `app\\_db`.* TO 'relation-4_abc'@'%'".to_string()), "{fresh:?}");
        assert!(fresh.contains(&"CREATE DATABASE IF NOT EXISTS `app_db`".to_string()), "{fresh:?}");
        let again = relation_user("relation-4_abc", &auth, &["app_db"], true).unwrap();
        assert!(again.iter().any(|s| s.starts_with("REVOKE ALL PRIVILEGES, GRANT OPTION FROM")), "{again:?}");
        assert!(create_user("a'b", &auth).unwrap().starts_with("CREATE USER 'a''b'@'%' IDENTIFIED BY PASSWORD"));
        assert_eq!(set_own_password(&auth).unwrap(), "SET PASSWORD = '*0123456789ABCDEF0123456789ABCDEF01234567'");
        assert!(set_own_password(&Auth::NativeHash("not a hash".into())).is_err());
        assert!(relation_user("u", &auth, &["bad`name"], false).is_ok_and(|s| s.iter().any(|x| x.contains("`bad``name`"))));
    }
}
