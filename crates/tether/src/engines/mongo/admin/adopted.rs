//! [`MongoAdmin`] on a MongoDB-wire server tether did not start (adopt mode), logged in
//! as that server's admin (SCRAM-SHA-256, `authSource=admin`) at any `host:port`.
//!
//! Relation users there carry the ownership marker with this application's scope
//! (`<model uuid>/<application>`): `customData.owner` on mongod, the `owner` field of the
//! user's document in the registry collection on FerretDB. A user is claimed before it is
//! created; a name held by a user that is not this application's (made by hand, or by
//! another application adopting the same server) is never taken over, updated or dropped,
//! and the relation is blocked. Listing and dropping see only this application's users.
//!
//! An endpoint that accepts TCP but does not answer a MongoDB `hello` (a PostgreSQL port,
//! say) is told apart from an unreachable one by sending that `hello` by hand.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use tether_core::mongo_plan::{AUTH_DATABASE, SCOPE_KEY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{MongoAdmin, MongoFlavor};
use crate::engines::admin_pool::AdoptedLogin;
use crate::engines::mongo::error::{is_auth_refused, MongoAdminError};
use crate::engines::user_admin::AdoptedAdmin;

/// How long an endpoint may take to accept and answer the `hello` probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// MongoDB's `OP_MSG` opcode, what every server since 3.6 answers with.
const OP_MSG: i32 = 2013;
/// The legacy reply opcode (`OP_REPLY`), what an old server may answer.
const OP_REPLY: i32 = 1;
const PROBE_REQUEST_ID: i32 = 0x7e7e;

/// The actions tether's relation users need from the admin, and on what: users are made
/// in `admin` and given roles on the relation's databases.
const NEEDED: [(&str, &str); 3] = [("createUser", "admin"), ("dropUser", "admin"), ("grantRole", "")];

impl MongoAdmin {
    /// Logs in to an adopted server as its admin (see [`AdoptedLogin`]; never over TLS);
    /// its relation users are the login's scope's.
    pub async fn connect_adopted(login: &AdoptedLogin<'_>) -> Result<MongoAdmin, MongoAdminError> {
        let AdoptedLogin { host, port, user, password, scope, .. } = *login;
        match MongoAdmin::connect_at(host, port, user, password, Some(scope)).await {
            Ok(admin) => Ok(admin),
            Err(e @ MongoAdminError::Connect { .. }) if matches!(&e, MongoAdminError::Connect { source, .. } if is_auth_refused(source)) => {
                Err(e)
            }
            Err(e) => {
                // It may be another kind of server: say so rather than "unreachable".
                probe_hello(host, port).await?;
                Err(e)
            }
        }
    }

    /// Checks that `user` may be created (or updated) as this application's on an adopted
    /// server: absent and unclaimed by anyone else, or already ours.
    pub(super) async fn check_claim(&self, user: &str) -> Result<(), MongoAdminError> {
        let info = self.user_info(user).await?;
        let mark = match self.flavor {
            MongoFlavor::MongoDb => None,
            MongoFlavor::FerretDb => self.registry_owner(user).await?,
        };
        let ours = |owner: Option<&str>| owner.is_some() && owner == self.owner.as_deref();
        let free = match (&info, self.flavor) {
            (None, MongoFlavor::MongoDb) => true,
            (None, MongoFlavor::FerretDb) => mark.is_none() || ours(mark.as_deref()),
            (Some(i), MongoFlavor::MongoDb) => self.marked_ours(i),
            (Some(_), MongoFlavor::FerretDb) => ours(mark.as_deref()),
        };
        if free {
            Ok(())
        } else {
            Err(MongoAdminError::Foreign(user.to_string()))
        }
    }

    /// Whether `user` exists and is this application's.
    pub(super) async fn owns(&self, user: &str) -> Result<bool, MongoAdminError> {
        Ok(match self.flavor {
            MongoFlavor::MongoDb => self.user_info(user).await?.is_some_and(|i| self.marked_ours(&i)),
            MongoFlavor::FerretDb => {
                let owner = self.registry_owner(user).await?;
                owner.is_some() && owner.as_deref() == self.owner.as_deref()
            }
        })
    }

    /// `usersInfo` of `user` in `admin`, with its `customData`.
    async fn user_info(&self, user: &str) -> Result<Option<Document>, MongoAdminError> {
        let cmd = doc! { "usersInfo": { "user": user, "db": AUTH_DATABASE }, "showCustomData": true };
        let reply = self.admin_command("usersInfo", cmd).await?;
        Ok(reply.get_array("users").ok().and_then(|u| u.first()).and_then(|u| u.as_document()).cloned())
    }

    /// The scope the FerretDB registry gives `user`: `None` when unmarked; an empty string
    /// for a mark without scope (a server tether ran itself).
    async fn registry_owner(&self, user: &str) -> Result<Option<String>, MongoAdminError> {
        let client = self.client.lock().await;
        let step = |source| MongoAdminError::Command { step: "reading the managed-user registry", source };
        let found = Self::registry(&client).find_one(doc! { "_id": user }).await.map_err(step)?;
        Ok(found.map(|d| d.get_str(SCOPE_KEY).unwrap_or_default().to_string()))
    }
}

/// Whether a privilege's resource covers `db` (`""`: any database).
fn covers(resource: &Document, db: &str) -> bool {
    if resource.get_bool("anyResource").unwrap_or(false) {
        return true;
    }
    // `{db: "", collection: ""}` is every database; a database's own privileges hold for
    // its users (`{db: "admin", collection: ""}`).
    match resource.get_str("db") {
        Ok(d) => resource.get_str("collection").map(str::is_empty).unwrap_or(false) && (d.is_empty() || d == db),
        Err(_) => false,
    }
}

/// The needed actions `privileges` (`connectionStatus`'s `authenticatedUserPrivileges`)
/// do not grant, in MongoDB's words.
pub(crate) fn missing_from(privileges: &[Document]) -> Vec<&'static str> {
    NEEDED
        .iter()
        .filter(|(action, db)| {
            !privileges.iter().any(|p| {
                let on = p.get_document("resource").is_ok_and(|r| covers(r, db));
                on && p.get_array("actions").is_ok_and(|a| a.iter().any(|x| x.as_str() == Some(action)))
            })
        })
        .map(|(action, db)| match (*action, *db) {
            ("createUser", _) => "createUser on the admin database",
            ("dropUser", _) => "dropUser on the admin database",
            _ => "grantRole on any database",
        })
        .collect()
}

#[async_trait::async_trait]
impl AdoptedAdmin for MongoAdmin {
    /// mongod: read from `connectionStatus` with `showPrivileges: true` (the admin's own
    /// privileges, no other user's): `createUser` and `dropUser` on `admin` (or on any
    /// database), `grantRole` on any database (`userAdminAnyDatabase` and `root` have them).
    ///
    /// FerretDB (v1.24, checked by the tests) enforces no roles: its `connectionStatus`
    /// names the authenticated user but reports no privileges (`authenticatedUserPrivileges`
    /// is absent or empty), and every authenticated user may create and drop users. There
    /// an admin that logged in is sufficient; a refused login never gets here.
    async fn missing_privileges(&self) -> Result<Vec<&'static str>, MongoAdminError> {
        let reply = self.admin_command("connectionStatus", doc! { "connectionStatus": 1, "showPrivileges": true }).await?;
        let info = reply.get_document("authInfo").ok();
        let privileges: Vec<Document> = info
            .and_then(|i| i.get_array("authenticatedUserPrivileges").ok())
            .map(|a| a.iter().filter_map(|p| p.as_document().cloned()).collect())
            .unwrap_or_default();
        if self.flavor == MongoFlavor::FerretDb && privileges.is_empty() {
            return Ok(vec![]);
        }
        Ok(missing_from(&privileges))
    }
}

/// Sends a MongoDB `hello` to `host:port` by hand: a MongoDB-wire server answers with a
/// reply to it; anything else, or silence, is not MongoDB. Unreachable stays unreachable.
async fn probe_hello(host: &str, port: u16) -> Result<(), MongoAdminError> {
    let Ok(Ok(mut stream)) = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect((host, port))).await else {
        return Ok(());
    };
    let not_mongo = |what: &str| MongoAdminError::NotMongo(format!("{host}:{port} is not a MongoDB server ({what})"));
    let body = mongodb::bson::to_vec(&doc! { "hello": 1, "$db": AUTH_DATABASE }).map_err(|_| not_mongo("cannot encode a hello"))?;
    let length = 16 + 4 + 1 + body.len();
    let mut message = Vec::with_capacity(length);
    for n in [length as i32, PROBE_REQUEST_ID, 0, OP_MSG] {
        message.extend_from_slice(&n.to_le_bytes());
    }
    message.extend_from_slice(&0u32.to_le_bytes());
    message.push(0);
    message.extend_from_slice(&body);
    if stream.write_all(&message).await.is_err() {
        return Err(not_mongo("it closed the connection on a hello"));
    }
    let mut header = [0u8; 16];
    match tokio::time::timeout(PROBE_TIMEOUT, stream.read_exact(&mut header)).await {
        Ok(Ok(_)) => {
            let word = |i: usize| i32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
            if word(8) == PROBE_REQUEST_ID && matches!(word(12), OP_MSG | OP_REPLY) {
                Ok(())
            } else {
                Err(not_mongo("it does not answer a hello as MongoDB does"))
            }
        }
        Ok(Err(_)) => Err(not_mongo("it closed the connection on a hello")),
        Err(_) => Err(not_mongo("no answer to a hello within 5 s")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_are_read_as_mongodb_names_them() {
        let p = |resource: Document, actions: &[&str]| doc! { "resource": resource, "actions": actions.to_vec() };
        let any_db = doc! { "db": "", "collection": "" };
        let user_admin_any = [p(any_db.clone(), &["createUser", "dropUser", "grantRole", "revokeRole"])];
        assert!(missing_from(&user_admin_any).is_empty());
        assert!(missing_from(&[p(doc! { "anyResource": true }, &["createUser", "dropUser", "grantRole"])]).is_empty());
        let only_admin = [p(doc! { "db": "admin", "collection": "" }, &["createUser", "dropUser", "grantRole"])];
        assert_eq!(missing_from(&only_admin), vec!["grantRole on any database"]);
        let read_only = [p(any_db, &["find"]), p(doc! { "db": "admin", "collection": "x" }, &["createUser"])];
        assert_eq!(missing_from(&read_only).len(), 3);
        assert_eq!(missing_from(&[]).len(), 3);
    }
}
