//! mongod's replica-set commands for an application deployed with more than one unit:
//! `hello` (who is primary: asked, never decided), `replSetGetConfig`, the document of
//! `replSetInitiate` (sent by `server` at the founder's first start), `replSetReconfig`
//! and `replSetStepDown`, one membership change per reconfiguration as MongoDB requires
//! (the plan is `tether_core::mongo_replset`). The documents are built and read here by
//! pure functions, unit-tested, because FerretDB (the only server on the test machine)
//! has no replica-set commands.
//!
//! A reconfiguration sends back the whole document that was read, with only `version`
//! and the members' `host`/`priority`/`votes` changed, so settings tether does not plan
//! (and members' other fields) are kept, as MongoDB's documented procedure does.

use super::{client_options, MongoAdmin, AUTH_DATABASE};
use crate::engines::mongo::error::{error_code, MongoAdminError};
use mongodb::bson::{doc, Bson, Document};
use std::time::Duration;
use tether_core::mongo_replset::{self, Change, Member, ReplSetConfig};

/// How long an anonymous `hello` may take.
const HELLO_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many single changes per [`MongoAdmin::converge_members`] call (a later
/// hook continues).
const MAX_STEPS: usize = 8;

/// What `hello` says about the replica set, as far as tether uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// `setName`: absent on a server that is no replica-set member (FerretDB) or not yet in one.
    pub set_name: Option<String>,
    /// `primary`: `host:port` of the primary this member knows, if any.
    pub primary: Option<String>,
    /// `isWritablePrimary`.
    pub writable_primary: bool,
    /// `me`: this member's own `host:port`.
    pub me: Option<String>,
}

impl Hello {
    pub fn from_document(d: &Document) -> Hello {
        let text = |k: &str| d.get_str(k).ok().map(String::from);
        Hello {
            set_name: text("setName"),
            primary: text("primary"),
            writable_primary: d.get_bool("isWritablePrimary").unwrap_or(false),
            me: text("me"),
        }
    }
}

fn number(v: Option<&Bson>) -> Option<i64> {
    match v? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(f) if f.fract() == 0.0 && *f >= 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// The planned parts of `replSetGetConfig`'s `config` document.
pub fn config_from_document(d: &Document) -> Result<ReplSetConfig, MongoAdminError> {
    let bad = |what: &str| MongoAdminError::BadReply("replSetGetConfig", what.to_string());
    let name = d.get_str("_id").map_err(|_| bad("no _id"))?.to_string();
    let version = number(d.get("version")).ok_or_else(|| bad("no version"))?;
    let mut members = Vec::new();
    for m in d.get_array("members").map_err(|_| bad("no members"))? {
        let m = m.as_document().ok_or_else(|| bad("a member is not a document"))?;
        members.push(Member {
            id: number(m.get("_id")).ok_or_else(|| bad("a member without _id"))?,
            host: m.get_str("host").map_err(|_| bad("a member without host"))?.to_string(),
            // Absent means MongoDB's default of 1; a fractional priority is rounded up, so
            // an electable member stays electable.
            priority: number(m.get("priority")).or_else(|| m.get_f64("priority").ok().map(|f| f.ceil() as i64)).unwrap_or(1) as u32,
            votes: number(m.get("votes")).unwrap_or(1) as u32,
        });
    }
    Ok(ReplSetConfig { name, version, members })
}

fn member_document(base: Option<&Document>, m: &Member) -> Document {
    let mut d = base.cloned().unwrap_or_default();
    d.insert("_id", m.id);
    d.insert("host", m.host.clone());
    d.insert("priority", i64::from(m.priority));
    d.insert("votes", i64::from(m.votes));
    d
}

/// The document `replSetInitiate` takes.
pub fn initiate_document(config: &ReplSetConfig) -> Document {
    let members: Vec<Document> = config.members.iter().map(|m| member_document(None, m)).collect();
    doc! { "_id": config.name.clone(), "version": config.version, "members": members }
}

/// `read` (the document `replSetGetConfig` gave) with `next`'s version and members; every
/// other field, of the set and of the members kept, as it was.
pub fn reconfig_document(read: &Document, next: &ReplSetConfig) -> Document {
    let old: Vec<&Document> = read.get_array("members").map(|a| a.iter().filter_map(Bson::as_document).collect()).unwrap_or_default();
    let members: Vec<Document> = next
        .members
        .iter()
        .map(|m| {
            let base = old.iter().find(|o| number(o.get("_id")) == Some(m.id)).copied();
            member_document(base, m)
        })
        .collect();
    let mut d = read.clone();
    d.insert("version", next.version);
    d.insert("members", members);
    d
}

/// An anonymous `hello` to the member on 127.0.0.1:`port` (it needs no login, so a member
/// not yet in the set, which has no users, answers too).
pub async fn hello_at(port: u16) -> Result<Hello, MongoAdminError> {
    let client = mongodb::Client::with_options(client_options(port, None, HELLO_TIMEOUT))
        .map_err(|source| MongoAdminError::Connect { at: mongo_replset::host(port), source })?;
    let reply = client.database(AUTH_DATABASE).run_command(doc! { "hello": 1 }).await;
    client.shutdown().immediate(true).await;
    let reply = reply.map_err(|source| MongoAdminError::Command { step: "hello", source })?;
    Ok(Hello::from_document(&reply))
}

impl MongoAdmin {
    /// `hello` on this admin's server, logged in (the charm asks anonymously: [`hello_at`]).
    #[cfg(test)]
    pub async fn hello(&self) -> Result<Hello, MongoAdminError> {
        Ok(Hello::from_document(&self.admin_command("hello", doc! { "hello": 1 }).await?))
    }

    /// The replica set's configuration document.
    pub async fn replset_config_document(&self) -> Result<Document, MongoAdminError> {
        let reply = self.admin_command("replSetGetConfig", doc! { "replSetGetConfig": 1 }).await?;
        reply.get_document("config").cloned().map_err(|_| MongoAdminError::BadReply("replSetGetConfig", "no config".into()))
    }

    /// The members' `host:port`, in `_id` order (what requirers are given).
    pub async fn replset_hosts(&self) -> Result<Vec<String>, MongoAdminError> {
        Ok(mongo_replset::hosts(&config_from_document(&self.replset_config_document().await?)?))
    }

    /// Asks this server, the primary, to step down for `seconds` so another member is
    /// elected (a unit that goes hands the role over first). The server closes the
    /// connection while stepping down, so a lost connection is success too.
    pub async fn step_down(&self, seconds: i64) -> Result<(), MongoAdminError> {
        match self.admin_command("replSetStepDown", doc! { "replSetStepDown": seconds }).await {
            Err(MongoAdminError::Command { source, .. }) if error_code(&source).is_none() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Brings the set's members to `wanted` (every started unit's `host:port`), one
    /// change per `replSetReconfig` (run on the primary: this admin's server must be it),
    /// each read back before the next is planned. Returns the changes made; stops after
    /// [`MAX_STEPS`].
    pub async fn converge_members(&self, wanted: &[String]) -> Result<Vec<Change>, MongoAdminError> {
        let mut made = Vec::new();
        while made.len() < MAX_STEPS {
            let read = self.replset_config_document().await?;
            let current = config_from_document(&read)?;
            let Some(change) = mongo_replset::next_change(&current, wanted) else { break };
            let next = mongo_replset::apply(&current, &change);
            self.admin_command("replSetReconfig", doc! { "replSetReconfig": reconfig_document(&read, &next) }).await?;
            made.push(change);
        }
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_core::mongo_replset::{apply, host, initiate};

    fn read_back() -> Document {
        doc! {
            "_id": "mongodb", "version": 3_i32, "term": 2_i64, "protocolVersion": 1_i64,
            "members": [
                { "_id": 0_i32, "host": "127.0.0.1:30000", "arbiterOnly": false, "priority": 1.0, "votes": 1_i32, "tags": { "unit": "mongodb/0" } },
                { "_id": 1_i32, "host": "127.0.0.1:30001", "priority": 1.0, "votes": 1_i32 },
            ],
            "settings": { "electionTimeoutMillis": 10000_i32 },
        }
    }

    #[test]
    fn initiate_document_names_set_version_and_members() {
        let d = initiate_document(&initiate("mongodb", &[host(30000), host(30001)]));
        assert_eq!(d.get_str("_id").unwrap(), "mongodb");
        assert_eq!(d.get_i64("version").unwrap(), 1);
        let members = d.get_array("members").unwrap();
        assert_eq!(members.len(), 2);
        let second = members[1].as_document().unwrap();
        assert_eq!(second.get_i64("_id").unwrap(), 1);
        assert_eq!(second.get_str("host").unwrap(), "127.0.0.1:30001");
        assert_eq!((second.get_i64("priority").unwrap(), second.get_i64("votes").unwrap()), (1, 1));
    }

    #[test]
    fn a_read_config_is_planned_from_its_members() {
        let c = config_from_document(&read_back()).unwrap();
        assert_eq!(c.name, "mongodb");
        assert_eq!(c.version, 3);
        assert_eq!(
            c.members,
            vec![Member { id: 0, host: host(30000), priority: 1, votes: 1 }, Member { id: 1, host: host(30001), priority: 1, votes: 1 },]
        );
        let half = doc! { "_id": "x", "version": 1_i64, "members": [{ "_id": 0_i32, "host": "h:1", "priority": 0.5 }] };
        assert_eq!(config_from_document(&half).unwrap().members[0].priority, 1);
        let missing = doc! { "_id": "x", "members": [] };
        assert!(matches!(config_from_document(&missing), Err(MongoAdminError::BadReply(..))));
    }

    #[test]
    fn a_reconfig_keeps_what_tether_does_not_plan_and_bumps_the_version() {
        let read = read_back();
        let current = config_from_document(&read).unwrap();
        let next = apply(&current, &Change::Add(host(30002)));
        let d = reconfig_document(&read, &next);
        assert_eq!(d.get_i64("version").unwrap(), 4);
        assert_eq!(d.get_i64("term").unwrap(), 2);
        assert_eq!(d.get_document("settings").unwrap(), read.get_document("settings").unwrap());
        let members = d.get_array("members").unwrap();
        assert_eq!(members.len(), 3);
        let first = members[0].as_document().unwrap();
        assert_eq!(first.get_document("tags").unwrap().get_str("unit").unwrap(), "mongodb/0");
        assert!(!first.get_bool("arbiterOnly").unwrap());
        assert_eq!(members[2].as_document().unwrap().get_str("host").unwrap(), "127.0.0.1:30002");
        // A removal drops the member, nothing else.
        let removed = reconfig_document(&read, &apply(&current, &Change::Remove(host(30000))));
        let hosts: Vec<&str> =
            removed.get_array("members").unwrap().iter().map(|m| m.as_document().unwrap().get_str("host").unwrap()).collect();
        assert_eq!(hosts, vec!["127.0.0.1:30001"]);
    }

    #[test]
    fn hello_reads_the_primary_it_reports() {
        let h = Hello::from_document(&doc! {
            "setName": "mongodb", "primary": "127.0.0.1:30001", "me": "127.0.0.1:30000",
            "isWritablePrimary": false, "secondary": true,
        });
        assert_eq!(h.set_name.as_deref(), Some("mongodb"));
        assert_eq!(h.primary.as_deref(), Some("127.0.0.1:30001"));
        assert!(!h.writable_primary);
        assert_eq!(Hello::from_document(&doc! {}), Hello::default());
    }

    /// FerretDB answers `hello` (as a standalone: writable, no set) and refuses the
    /// replica-set commands; the anonymous `hello` works without a login.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ferretdb_answers_hello_as_a_standalone() {
        let (t, _proc) = crate::engines::mongo::tests::MongoHome::started().await;
        let hello = hello_at(t.spec.port).await.expect("anonymous hello");
        assert!(hello.writable_primary);
        assert_eq!(hello.set_name, None);
        let admin = MongoAdmin::connect(t.spec.port, super::super::ADMIN_USER, &t.spec.operator_password).await.unwrap();
        assert_eq!(admin.hello().await.unwrap(), hello);
        assert!(admin.replset_config_document().await.is_err());
    }
}
