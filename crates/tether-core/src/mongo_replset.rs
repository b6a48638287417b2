//! A mongod replica set of one application, planned without I/O: the configuration the
//! leader initiates, the next single membership change that brings the set to the units
//! that exist, and what requirers are told.
//!
//! Why it is shaped like this: MongoDB takes a whole configuration document, on the
//! primary, with a `version` greater than the current one, and refuses a reconfiguration
//! that adds or removes more than one voting member at a time. So tether never computes
//! "the set it wants" in one step: [`next_change`] returns one change (removals first, so
//! a departed unit's vote stops counting before a new member must catch up), the caller
//! applies it with [`apply`], sends it, reads the configuration back and asks again.
//! At most seven members vote ([`MAX_VOTING`]); the others get `votes: 0` and
//! `priority: 0` (MongoDB requires a non-voter to have priority 0) and are promoted one at
//! a time when a voter leaves. Which member is primary is never decided here: mongod's
//! election decides it and `hello` reports it.

/// MongoDB's limit on voting members.
pub const MAX_VOTING: usize = 7;

/// One member as the configuration document names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `_id`: unique in the set, never reused while the member is in it.
    pub id: i64,
    /// `host:port`.
    pub host: String,
    pub priority: u32,
    pub votes: u32,
}

impl Member {
    fn voting(&self) -> bool {
        self.votes > 0
    }
}

/// The parts of a replica set configuration tether plans (the engine keeps every other
/// field of the document it read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplSetConfig {
    /// `_id`: the replica set name (the application's name).
    pub name: String,
    pub version: i64,
    pub members: Vec<Member>,
}

/// One membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A unit whose member is not in the set yet.
    Add(String),
    /// A member whose unit is gone.
    Remove(String),
    /// A non-voting member that may vote now (a voter left).
    Promote(String),
}

/// `127.0.0.1:<port>`: every member listens on the loopback address.
pub fn host(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn member(id: i64, host: &str, voting: bool) -> Member {
    let v = u32::from(voting);
    Member { id, host: host.to_string(), priority: v, votes: v }
}

/// The configuration `replSetInitiate` takes: every started unit's member (in the order
/// given, duplicates dropped), version 1, the first seven voting.
pub fn initiate(name: &str, hosts: &[String]) -> ReplSetConfig {
    let mut members: Vec<Member> = Vec::new();
    for h in hosts {
        if !members.iter().any(|m| &m.host == h) {
            let voting = members.len() < MAX_VOTING;
            members.push(member(members.len() as i64, h, voting));
        }
    }
    ReplSetConfig { name: name.to_string(), version: 1, members }
}

/// The one change that brings `current` nearer to `wanted` (the hosts of the units that
/// exist and have started), or `None` when the set is what it should be: first a removal,
/// then a promotion while fewer than seven vote, then an addition.
pub fn next_change(current: &ReplSetConfig, wanted: &[String]) -> Option<Change> {
    if let Some(gone) = current.members.iter().find(|m| !wanted.contains(&m.host)) {
        return Some(Change::Remove(gone.host.clone()));
    }
    let voting = current.members.iter().filter(|m| m.voting()).count();
    if voting < MAX_VOTING {
        if let Some(m) = current.members.iter().find(|m| !m.voting()) {
            return Some(Change::Promote(m.host.clone()));
        }
    }
    let mut seen = Vec::new();
    for h in wanted {
        if !seen.contains(h) && !current.members.iter().any(|m| &m.host == h) {
            return Some(Change::Add(h.clone()));
        }
        seen.push(h.clone());
    }
    None
}

/// `current` with `change` made and the version one higher. An addition takes the next
/// unused `_id` and votes while fewer than seven do.
pub fn apply(current: &ReplSetConfig, change: &Change) -> ReplSetConfig {
    let mut next = current.clone();
    next.version = current.version + 1;
    match change {
        Change::Remove(h) => next.members.retain(|m| &m.host != h),
        Change::Promote(h) => {
            for m in next.members.iter_mut().filter(|m| &m.host == h) {
                m.votes = 1;
                m.priority = 1;
            }
        }
        Change::Add(h) => {
            if !next.members.iter().any(|m| &m.host == h) {
                let id = next.members.iter().map(|m| m.id + 1).max().unwrap_or(0);
                let voting = next.members.iter().filter(|m| m.voting()).count() < MAX_VOTING;
                next.members.push(member(id, h, voting));
            }
        }
    }
    next
}

/// The members' hosts in `_id` order (what requirers get as `endpoints` and in `uris`).
pub fn hosts(config: &ReplSetConfig) -> Vec<String> {
    let mut members: Vec<&Member> = config.members.iter().collect();
    members.sort_by_key(|m| m.id);
    members.into_iter().map(|m| m.host.clone()).collect()
}

/// The unit status message for a member: Canonical's `Primary`, else `replica`.
pub fn role_message(is_primary: bool) -> &'static str {
    if is_primary {
        "Primary"
    } else {
        "replica"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(ports: &[u16]) -> Vec<String> {
        ports.iter().map(|p| host(*p)).collect()
    }

    /// Applies changes until none is left (bounded), checking each is one voting change.
    fn converge(mut c: ReplSetConfig, wanted: &[String]) -> (ReplSetConfig, Vec<Change>) {
        let mut changes = Vec::new();
        while let Some(ch) = next_change(&c, wanted) {
            let next = apply(&c, &ch);
            assert_eq!(next.version, c.version + 1);
            let voters = |c: &ReplSetConfig| c.members.iter().filter(|m| m.votes > 0).map(|m| m.host.clone()).collect::<Vec<_>>();
            let (before, after) = (voters(&c), voters(&next));
            let diff = before.iter().filter(|h| !after.contains(h)).count() + after.iter().filter(|h| !before.contains(h)).count();
            assert!(diff <= 1, "{ch:?} changed {diff} voters");
            changes.push(ch);
            c = next;
            assert!(changes.len() < 100);
        }
        (c, changes)
    }

    #[test]
    fn initiate_names_every_started_unit_once() {
        let c = initiate("mongodb", &hs(&[30000, 30001, 30001, 30002]));
        assert_eq!(c.name, "mongodb");
        assert_eq!(c.version, 1);
        assert_eq!(c.members.iter().map(|m| m.id).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(c.members.iter().all(|m| m.votes == 1 && m.priority == 1));
        assert_eq!(hosts(&c), hs(&[30000, 30001, 30002]));
    }

    #[test]
    fn only_seven_vote_and_non_voters_have_priority_zero() {
        let c = initiate("a", &hs(&[1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert_eq!(c.members.iter().filter(|m| m.votes == 1).count(), MAX_VOTING);
        assert!(c.members.iter().filter(|m| m.votes == 0).all(|m| m.priority == 0));
        let added = apply(&c, &Change::Add(host(10)));
        assert_eq!(added.members.last().unwrap().votes, 0);
    }

    #[test]
    fn add_unit_is_one_change_with_a_fresh_id_and_version_plus_one() {
        let c = initiate("a", &hs(&[1, 2, 3]));
        let wanted = hs(&[1, 2, 3, 4]);
        assert_eq!(next_change(&c, &wanted), Some(Change::Add(host(4))));
        let (done, changes) = converge(c, &wanted);
        assert_eq!(changes.len(), 1);
        assert_eq!(done.version, 2);
        assert_eq!(done.members.last().unwrap(), &Member { id: 3, host: host(4), priority: 1, votes: 1 });
        assert_eq!(next_change(&done, &wanted), None);
    }

    #[test]
    fn a_new_id_is_above_every_id_in_the_set() {
        let c = initiate("a", &hs(&[1, 2, 3]));
        let c = apply(&c, &Change::Remove(host(2)));
        let c = apply(&c, &Change::Add(host(4)));
        assert_eq!(c.members.iter().map(|m| m.id).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(c.version, 3);
    }

    #[test]
    fn removals_come_first_then_promotions_then_additions() {
        let c = initiate("a", &hs(&[1, 2, 3, 4, 5, 6, 7, 8]));
        // Unit 1 goes, unit 9 comes: remove, promote the eighth, add the ninth (voting).
        let wanted = hs(&[2, 3, 4, 5, 6, 7, 8, 9]);
        let (done, changes) = converge(c, &wanted);
        assert_eq!(changes, vec![Change::Remove(host(1)), Change::Promote(host(8)), Change::Add(host(9))]);
        assert_eq!(done.members.iter().filter(|m| m.votes == 1).count(), MAX_VOTING);
        assert_eq!(done.version, 4);
    }

    #[test]
    fn scaling_several_units_at_once_is_a_series_of_single_changes() {
        let (done, changes) = converge(initiate("a", &hs(&[1])), &hs(&[1, 2, 3, 4, 5]));
        assert_eq!(changes.len(), 4);
        assert_eq!(hosts(&done), hs(&[1, 2, 3, 4, 5]));
        let (done, changes) = converge(done, &hs(&[5]));
        assert_eq!(changes.len(), 4);
        assert_eq!(hosts(&done), hs(&[5]));
    }

    #[test]
    fn applying_an_addition_twice_changes_nothing_more() {
        let c = apply(&initiate("a", &hs(&[1])), &Change::Add(host(2)));
        let again = apply(&c, &Change::Add(host(2)));
        assert_eq!(again.members, c.members);
    }

    #[test]
    fn messages_are_canonicals() {
        assert_eq!(role_message(true), "Primary");
        assert_eq!(role_message(false), "replica");
    }
}
