//! [`MongoAdmin`]: tether's admin session on one MongoDB-wire server (real `mongod` or
//! FerretDB), logged in as `operator` in `admin` with SCRAM-SHA-256 over 127.0.0.1.
//!
//! Commands are BSON documents built here from names `tether_core::mongo_plan` decided;
//! nothing is concatenated into a query language. Passwords travel only inside
//! `createUser`/`updateUser`, which the driver treats as sensitive (never logged, errors
//! redacted); the server stores SCRAM credentials, never the clear password.
//!
//! What each server enforces (checked by the tests against FerretDB v1.24.2):
//! - `mongod`: users get the roles of `extra-user-roles` and carry
//!   `customData: {managedBy: "tether"}` as the ownership marker; the custom roles the
//!   charm's keywords use (`explainRole`, `pbmAnyAction`) are created when first needed.
//! - FerretDB (its new authentication): users and SCRAM-SHA-256 logins are real, but it
//!   implements neither roles nor `customData` (it refuses non-empty ones), so users are
//!   created without them: every authenticated user may read and write every database.
//!   The ownership marker is a document `{_id: <user>}` in `tether_meta.managed_users`
//!   (the registry MariaDB also uses), written with the user and removed with it; since
//!   FerretDB enforces no roles, an application user could edit that registry, which the
//!   README says. [`MongoAdmin::flavor`] tells which server this is, so callers can say so
//!   in status.
//!
//! Either way [`MongoAdmin::list_managed_users`] lists only marked users: a look-alike
//! `relation-<id>` made by hand is never dropped by drift repair.
//!
//! The `mongodb` crate is held at 3.8: 3.9 dropped the extra empty `saslContinue` round
//! of SCRAM that servers without `skipEmptyExchange` (FerretDB 1.24 among them) need, and
//! fails every login there with "expected SCRAM authentication to have completed".

use super::error::{error_code, MongoAdminError};
use crate::engines::user_admin::{Ensured, RelationUser, UserAdmin};
use std::sync::RwLock;
use std::time::Duration;

use mongodb::bson::{doc, Bson, Document};

use mongodb::options::{AuthMechanism, ClientOptions, Credential, ServerAddress};
use mongodb::Client;
use tether_core::mongo_plan::{self, Role, AUTH_DATABASE, OWNER_KEY, OWNER_VALUE, REGISTRY_COLLECTION, REGISTRY_DATABASE, SCOPE_KEY};

use crate::secret::SecretString;

/// The admin login every tether MongoDB server has.
pub const ADMIN_USER: &str = "operator";
const LOCALHOST: &str = "127.0.0.1";
const SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Server error codes tether reacts to.
const USER_NOT_FOUND: i32 = 11;
const UNAUTHORIZED: i32 = 13;
const NAMESPACE_NOT_FOUND: i32 = 26;
const USER_EXISTS: i32 = 51003;
const ROLE_EXISTS: i32 = 51002;

/// Which server answers: they differ in what they enforce (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MongoFlavor {
    MongoDb,
    FerretDb,
}

/// Driver options for one server on 127.0.0.1: a direct connection (a replica-set member
/// is administered as itself), short timeouts, and SCRAM-SHA-256 against `admin` when
/// `login` is given (none: the localhost exception of a fresh `mongod`).
pub fn client_options(port: u16, login: Option<(&str, &SecretString)>, timeout: Duration) -> ClientOptions {
    client_options_at(LOCALHOST, port, login, timeout)
}

/// [`client_options`] for a server at `host:port` (an adopted one may be on another host).
pub fn client_options_at(host: &str, port: u16, login: Option<(&str, &SecretString)>, timeout: Duration) -> ClientOptions {
    let credential = login.map(|(user, password)| {
        Credential::builder()
            .username(user.to_string())
            .password(password.expose().to_string())
            .source(AUTH_DATABASE.to_string())
            .mechanism(AuthMechanism::ScramSha256)
            .build()
    });
    let mut opts = ClientOptions::builder()
        .hosts(vec![ServerAddress::Tcp { host: host.to_string(), port: Some(port) }])
        .direct_connection(true)
        .server_selection_timeout(timeout)
        .connect_timeout(timeout)
        .app_name("tether".to_string())
        .build();
    opts.credential = credential;
    opts
}

pub struct MongoAdmin {
    host: String,
    port: u16,
    pub(super) user: String,
    password: RwLock<SecretString>,
    /// The client for the current credentials; the lock also serialises operations.
    client: tokio::sync::Mutex<Client>,
    flavor: MongoFlavor,
    version: String,
    /// On an adopted server, the scope (`<model uuid>/<application>`) whose relation users
    /// this client manages (see `adopted`); `None` on a server tether runs.
    pub(super) owner: Option<String>,
}

impl std::fmt::Debug for MongoAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoAdmin")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("flavor", &self.flavor)
            .finish_non_exhaustive()
    }
}

impl MongoAdmin {
    /// Logs in to 127.0.0.1:`port` (failing now if it cannot) and asks what server it is.
    pub async fn connect(port: u16, user: &str, password: &SecretString) -> Result<MongoAdmin, MongoAdminError> {
        Self::connect_at(LOCALHOST, port, user, password, None).await
    }

    /// Logs in to `host:port`; `owner` is the scope of an adopted server's relation users.
    async fn connect_at(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        owner: Option<&str>,
    ) -> Result<MongoAdmin, MongoAdminError> {
        let client = new_client(host, port, user, password)?;
        let info = client
            .database(AUTH_DATABASE)
            .run_command(doc! { "buildInfo": 1 })
            .await
            .map_err(|source| MongoAdminError::Connect { at: format!("{host}:{port} as {user:?}"), source })?;
        let flavor = if info.contains_key("ferretdbVersion") { MongoFlavor::FerretDb } else { MongoFlavor::MongoDb };
        let version = info.get_str("version").unwrap_or_default().to_string();
        Ok(MongoAdmin {
            host: host.to_string(),
            port,
            user: user.to_string(),
            password: RwLock::new(password.clone()),
            client: tokio::sync::Mutex::new(client),
            flavor,
            version,
            owner: owner.map(String::from),
        })
    }

    pub fn flavor(&self) -> MongoFlavor {
        self.flavor
    }

    /// The MongoDB version the server reports (FerretDB reports the MongoDB version it
    /// emulates, e.g. `7.0.77`).
    async fn server_version(&self) -> Result<String, MongoAdminError> {
        Ok(self.version.clone())
    }

    /// Takes `password` for future operations when it differs from the one in use.
    pub async fn update_password(&self, password: &SecretString) -> Result<(), MongoAdminError> {
        if *self.password.read().unwrap_or_else(|p| p.into_inner()) == *password {
            return Ok(());
        }
        let fresh = new_client(&self.host, self.port, &self.user, password)?;
        let mut client = self.client.lock().await;
        *client = fresh;
        *self.password.write().unwrap_or_else(|p| p.into_inner()) = password.clone();
        Ok(())
    }

    async fn admin_command(&self, step: &'static str, command: Document) -> Result<Document, MongoAdminError> {
        let client = self.client.lock().await;
        client.database(AUTH_DATABASE).run_command(command).await.map_err(|source| MongoAdminError::Command { step, source })
    }

    /// Creates `user` in `admin` with SCRAM-SHA-256, or updates its password and roles when
    /// it exists (idempotent; a retried hook converges). On FerretDB roles are not sent.
    pub async fn ensure_user(&self, user: &str, password: &SecretString, roles: &[Role]) -> Result<(), MongoAdminError> {
        if self.flavor == MongoFlavor::MongoDb {
            self.ensure_custom_roles(roles).await?;
        }
        let mut create = doc! { "createUser": user, "pwd": password.expose(), "mechanisms": ["SCRAM-SHA-256"] };
        let mut update = doc! { "updateUser": user, "pwd": password.expose(), "mechanisms": ["SCRAM-SHA-256"] };
        match self.flavor {
            MongoFlavor::MongoDb => {
                let roles: Vec<Bson> = roles.iter().map(|(role, db)| Bson::Document(doc! { "role": role, "db": db })).collect();
                let mut marker = doc! { OWNER_KEY: OWNER_VALUE };
                if let Some(owner) = &self.owner {
                    marker.insert(SCOPE_KEY, owner.as_str());
                }
                for cmd in [&mut create, &mut update] {
                    cmd.insert("roles", roles.clone());
                    cmd.insert("customData", marker.clone());
                }
            }
            MongoFlavor::FerretDb => {
                create.insert("roles", Vec::<Bson>::new());
            }
        }
        if self.owner.is_some() {
            // On an adopted server a name held by someone else's user is never taken over.
            self.check_claim(user).await?;
        }
        if self.flavor == MongoFlavor::FerretDb {
            // Marked before it exists: a crash in between leaves a mark without a user
            // (harmless), never a tether user without its mark.
            self.mark(user).await?;
        }
        match self.admin_command("createUser", create).await {
            Ok(_) => Ok(()),
            Err(MongoAdminError::Command { source, .. }) if error_code(&source) == Some(USER_EXISTS) => {
                self.admin_command("updateUser", update).await.map(drop)
            }
            Err(e) => Err(e),
        }
    }

    fn registry(client: &Client) -> mongodb::Collection<Document> {
        client.database(REGISTRY_DATABASE).collection(REGISTRY_COLLECTION)
    }

    /// Records `user` in the FerretDB ownership registry (idempotent).
    async fn mark(&self, user: &str) -> Result<(), MongoAdminError> {
        let client = self.client.lock().await;
        let registry = Self::registry(&client);
        let step = |source| MongoAdminError::Command { step: "marking a managed user", source };
        let mut mark = doc! { "_id": user };
        if let Some(owner) = &self.owner {
            mark.insert(SCOPE_KEY, owner.as_str());
        }
        registry.update_one(doc! { "_id": user }, doc! { "$set": mark }).upsert(true).await.map_err(step)?;
        Ok(())
    }

    /// Removes `user` from the FerretDB ownership registry.
    async fn unmark(&self, user: &str) -> Result<(), MongoAdminError> {
        let client = self.client.lock().await;
        let step = |source| MongoAdminError::Command { step: "unmarking a managed user", source };
        Self::registry(&client).delete_one(doc! { "_id": user }).await.map_err(step)?;
        Ok(())
    }

    /// The users the FerretDB registry marks as tether's.
    async fn marked(&self) -> Result<Vec<String>, MongoAdminError> {
        let client = self.client.lock().await;
        let step = |source| MongoAdminError::Command { step: "reading the managed-user registry", source };
        let filter = match &self.owner {
            Some(owner) => doc! { SCOPE_KEY: owner.as_str() },
            None => doc! {},
        };
        let mut cursor = Self::registry(&client).find(filter).await.map_err(step)?;
        let mut users = Vec::new();
        while cursor.advance().await.map_err(step)? {
            let d = cursor.deserialize_current().map_err(step)?;
            users.extend(d.get_str("_id").ok().map(String::from));
        }
        Ok(users)
    }

    /// Whether a `usersInfo` entry carries tether's `customData` marker (on an adopted
    /// server: with this application's scope).
    fn marked_ours(&self, info: &Document) -> bool {
        let Ok(data) = info.get_document("customData") else { return false };
        data.get_str(OWNER_KEY).ok() == Some(OWNER_VALUE) && self.owner.as_deref().is_none_or(|o| data.get_str(SCOPE_KEY).ok() == Some(o))
    }

    /// Creates the custom roles among `roles` that a fresh `mongod` lacks.
    async fn ensure_custom_roles(&self, roles: &[Role]) -> Result<(), MongoAdminError> {
        for (name, actions) in mongo_plan::CUSTOM_ROLES {
            if !roles.iter().any(|(r, _)| r == name) {
                continue;
            }
            let privileges = vec![doc! { "resource": { "anyResource": true }, "actions": actions.to_vec() }];
            let cmd = doc! { "createRole": name, "privileges": privileges, "roles": Vec::<Bson>::new() };
            match self.admin_command("createRole", cmd).await {
                Err(MongoAdminError::Command { source, .. }) if error_code(&source) == Some(ROLE_EXISTS) => {}
                other => drop(other?),
            }
        }
        Ok(())
    }

    /// Drops `user` from `admin`, then ends its sessions where the server can; a missing
    /// user is success. Dropping comes first because it is what refuses new logins (no
    /// MongoDB-wire server can lock an account), so no session starts after the kill.
    ///
    /// - `mongod`: a connection authenticated as a dropped user loses it at its next
    ///   command, and `killAllSessionsByPattern` (by user) ends the user's logical
    ///   sessions with their running operations and open cursors.
    /// - FerretDB (checked against v1.24.2 by the tests): new logins of the dropped user
    ///   are refused, but a connection that authenticated before the drop keeps reading
    ///   and writing as if nothing happened, until its client closes it. FerretDB has no
    ///   way to end it: `killAllSessionsByPattern`, `killAllSessions`, `killSessions`,
    ///   `killOp` and `endSessions` all answer `CommandNotFound`, and `currentOp` lists
    ///   nothing. Only a restart of the server would close it, which would cut every
    ///   other client too, so tether does not.
    pub async fn drop_user(&self, user: &str) -> Result<(), MongoAdminError> {
        if self.owner.is_some() && !self.owns(user).await? {
            // On an adopted server only this application's users are ever dropped.
            return Ok(());
        }
        match self.admin_command("dropUser", doc! { "dropUser": user }).await {
            Err(MongoAdminError::Command { source, .. }) if error_code(&source) == Some(USER_NOT_FOUND) => {}
            other => drop(other?),
        }
        match self.flavor {
            MongoFlavor::MongoDb => {
                let pattern = doc! { "users": [ { "user": user, "db": AUTH_DATABASE } ] };
                match self.admin_command("ending the user's sessions", doc! { "killAllSessionsByPattern": [pattern] }).await {
                    // An adopted server's admin may lack `killAnySession`: the user is
                    // gone, its sessions end with their clients.
                    Err(MongoAdminError::Command { source, .. }) if self.owner.is_some() && error_code(&source) == Some(UNAUTHORIZED) => {}
                    other => drop(other?),
                }
            }
            MongoFlavor::FerretDb => self.unmark(user).await?,
        }
        Ok(())
    }

    /// Whether `user` exists in `admin`.
    pub async fn user_exists(&self, user: &str) -> Result<bool, MongoAdminError> {
        let reply = self.admin_command("usersInfo", doc! { "usersInfo": { "user": user, "db": AUTH_DATABASE } }).await?;
        Ok(reply.get_array("users").map(|u| !u.is_empty()).unwrap_or(false))
    }

    /// The relation users (`relation-<id>`, and rotated logins `relation-<id>r<n>`) in
    /// `admin` that carry tether's ownership marker, by relation id, then name.
    pub async fn list_managed_users(&self) -> Result<Vec<String>, MongoAdminError> {
        let reply = self.admin_command("usersInfo", doc! { "usersInfo": 1, "showCustomData": true }).await?;
        let infos: Vec<&Document> = reply.get_array("users").map(|a| a.iter().filter_map(Bson::as_document).collect()).unwrap_or_default();
        let owned: Vec<&str> = match self.flavor {
            MongoFlavor::MongoDb => infos.iter().filter(|u| self.marked_ours(u)).filter_map(|u| u.get_str("user").ok()).collect(),
            MongoFlavor::FerretDb => {
                let marked = self.marked().await?;
                infos.iter().filter_map(|u| u.get_str("user").ok()).filter(|u| marked.iter().any(|m| m == u)).collect()
            }
        };
        let mut users: Vec<(i64, String)> =
            owned.into_iter().filter_map(|u| Some((mongo_plan::relation_id_of(u)?, u.to_string()))).collect();
        users.sort();
        users.dedup();
        Ok(users.into_iter().map(|(_, u)| u).collect())
    }

    /// Changes `user`'s password; when it is our own login, later operations use the new
    /// one (open connections stay authenticated).
    pub async fn set_password(&self, user: &str, password: &SecretString) -> Result<(), MongoAdminError> {
        let cmd = doc! { "updateUser": user, "pwd": password.expose(), "mechanisms": ["SCRAM-SHA-256"] };
        self.admin_command("updateUser", cmd).await?;
        if user == self.user {
            self.update_password(password).await?;
        }
        Ok(())
    }

    /// Drops a database (a missing one is success). Refuses invalid names and the server's
    /// own databases.
    pub async fn drop_database(&self, database: &str) -> Result<(), MongoAdminError> {
        mongo_plan::validate_database(database)?;
        if mongo_plan::is_system_database(database) {
            return Err(MongoAdminError::SystemDatabase(database.to_string()));
        }
        let client = self.client.lock().await;
        match client.database(database).run_command(doc! { "dropDatabase": 1 }).await {
            Err(e) if error_code(&e) == Some(NAMESPACE_NOT_FOUND) => Ok(()),
            other => other.map(drop).map_err(|source| MongoAdminError::Command { step: "dropDatabase", source }),
        }
    }

    /// The shards a `mongos` knows, by name (run against a router, never a mongod).
    pub async fn shard_names(&self) -> Result<Vec<String>, MongoAdminError> {
        let reply = self.admin_command("listShards", doc! { "listShards": 1 }).await?;
        let shards =
            reply.get_array("shards").map(|a| a.iter().filter_map(|d| d.as_document()?.get_str("_id").ok()).map(String::from).collect());
        Ok(shards.unwrap_or_default())
    }

    /// Adds the replica set `replset` at `hosts` as shard `name` (through a `mongos`);
    /// a shard already there is success.
    pub async fn add_shard(&self, name: &str, replset: &str, hosts: &[String]) -> Result<(), MongoAdminError> {
        if self.shard_names().await?.iter().any(|s| s == name) {
            return Ok(());
        }
        let connection = format!("{replset}/{}", hosts.join(","));
        self.admin_command("addShard", doc! { "addShard": connection, "name": name }).await.map(drop)
    }

    /// Starts draining shard `name` out of the cluster (through a `mongos`); MongoDB
    /// finishes it in the background. A shard that is not there is success.
    pub async fn remove_shard(&self, name: &str) -> Result<(), MongoAdminError> {
        if !self.shard_names().await?.iter().any(|s| s == name) {
            return Ok(());
        }
        self.admin_command("removeShard", doc! { "removeShard": name }).await.map(drop)
    }

    /// The names of the databases on the server.
    #[cfg(test)]
    pub async fn list_databases(&self) -> Result<Vec<String>, MongoAdminError> {
        let client = self.client.lock().await;
        client.list_database_names().await.map_err(|source| MongoAdminError::Command { step: "listDatabases", source })
    }
}

fn new_client(host: &str, port: u16, user: &str, password: &SecretString) -> Result<Client, MongoAdminError> {
    Client::with_options(client_options_at(host, port, Some((user, password)), SELECTION_TIMEOUT))
        .map_err(|source| MongoAdminError::Connect { at: format!("{host}:{port} as {user:?}"), source })
}

#[async_trait::async_trait]
impl UserAdmin for MongoAdmin {
    type Error = MongoAdminError;

    /// The user gets, on each database, the roles of the extra roles asked with it.
    async fn ensure_relation_user(&self, req: &RelationUser<'_>) -> Result<Ensured, MongoAdminError> {
        let mut roles: Vec<Role> = Vec::new();
        for db in req.databases {
            for role in mongo_plan::roles_for(db.extra_user_roles, db.name)? {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        let existed = self.user_exists(req.user).await?;
        self.ensure_user(req.user, req.password, &roles).await?;
        Ok(if existed { Ensured::AlreadyThere } else { Ensured::Created })
    }
    async fn drop_relation_user(&self, user: &str) -> Result<(), MongoAdminError> {
        self.drop_user(user).await
    }
    /// The login is dropped whoever `owner` is (MongoDB's objects have no owner), and its
    /// sessions are ended where the server can: see [`MongoAdmin::drop_user`] for what
    /// FerretDB cannot do.
    async fn retire_login(&self, login: &str, _owner: &str) -> Result<(), MongoAdminError> {
        self.drop_user(login).await
    }
    async fn list_relation_users(&self) -> Result<Vec<String>, MongoAdminError> {
        self.list_managed_users().await
    }
    async fn set_internal_password(&self, user: &str, password: &SecretString) -> Result<(), MongoAdminError> {
        self.set_password(user, password).await
    }
    async fn version(&self) -> Result<String, MongoAdminError> {
        self.server_version().await
    }
}

mod adopted;
pub mod replset;
#[cfg(test)]
mod tests;
