//! Endpoint inference for `integrate` and `remove-relation`, as Juju does it.
//!
//! Given `A[:ep] B[:ep]` and the two charms' endpoints, find the one pair of endpoints
//! that can relate: same interface, counterpart roles, no peers, container scope only
//! when a subordinate is involved. Ambiguity is resolved by dropping pairs that use the
//! implicit `juju-info` endpoint; what remains must be exactly one pair.

use crate::charm_meta::{CharmMeta, Endpoint, Role, Scope};

/// One side of an integrate request: `app` or `app:endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointArg {
    pub app: String,
    pub endpoint: Option<String>,
}

impl EndpointArg {
    /// Parses `app` or `app:endpoint` with Juju's error texts.
    pub fn parse(s: &str) -> Result<Self, InferError> {
        match s.split_once(':') {
            None => {
                crate::names::validate_application(s).map_err(|_| InferError::BadApplication(show(s)))?;
                Ok(EndpointArg { app: s.to_string(), endpoint: None })
            }
            Some((app, ep)) => {
                if app.is_empty() || ep.is_empty() || ep.contains(':') {
                    return Err(InferError::BadEndpoint(show(s)));
                }
                crate::names::validate_application(app).map_err(|_| InferError::BadApplication(show(app)))?;
                crate::names::validate_endpoint(ep).map_err(|_| InferError::BadEndpoint(show(s)))?;
                Ok(EndpointArg { app: app.to_string(), endpoint: Some(ep.to_string()) })
            }
        }
    }
}

impl std::fmt::Display for EndpointArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.endpoint {
            Some(ep) => write!(f, "{}:{}", self.app, ep),
            None => write!(f, "{}", self.app),
        }
    }
}

fn show(s: &str) -> String {
    s.chars().take(64).collect::<String>().replace('\0', "\\0")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferError {
    #[error("application name {0:?} not valid")]
    BadApplication(String),
    #[error("endpoint {0:?} not valid")]
    BadEndpoint(String),
    #[error("application {0:?} not found")]
    AppNotFound(String),
    #[error("application {app:?} has no {endpoint:?} relation")]
    EndpointNotFound { app: String, endpoint: String },
    #[error("no relations found")]
    NoRelations,
    #[error("ambiguous relation: {args:?} could refer to {candidates}")]
    Ambiguous { args: String, candidates: String },
}

/// An endpoint bound to its application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEndpoint {
    pub app: String,
    pub endpoint: Endpoint,
    pub subordinate: bool,
}

impl AppEndpoint {
    pub fn key(&self) -> String {
        format!("{}:{}", self.app, self.endpoint.name)
    }
}

/// The implicit provider endpoint every application has.
pub fn juju_info() -> Endpoint {
    Endpoint::new("juju-info", Role::Provider, "juju-info")
}

/// The relation key Juju prints: requirer first, then provider (ties by string).
pub fn relation_key(a: &AppEndpoint, b: &AppEndpoint) -> String {
    let mut eps = [a, b];
    eps.sort_by(|x, y| x.endpoint.role.cmp(&y.endpoint.role).then_with(|| x.key().cmp(&y.key())));
    format!("{} {}", eps[0].key(), eps[1].key())
}

fn candidates(arg: &EndpointArg, meta: &CharmMeta) -> Result<Vec<AppEndpoint>, InferError> {
    let mut all: Vec<Endpoint> = meta.endpoints.iter().filter(|e| e.role != Role::Peer).cloned().collect();
    all.push(juju_info());
    let bind = |endpoint: Endpoint| AppEndpoint { app: arg.app.clone(), endpoint, subordinate: meta.subordinate };
    match &arg.endpoint {
        None => Ok(all.into_iter().map(bind).collect()),
        Some(name) => {
            if let Some(peer) = meta.endpoints.iter().find(|e| &e.name == name && e.role == Role::Peer) {
                // A named peer endpoint exists but can never be integrated.
                let _ = peer;
                return Ok(Vec::new());
            }
            let found: Vec<AppEndpoint> = all.into_iter().filter(|e| &e.name == name).map(bind).collect();
            if found.is_empty() {
                return Err(InferError::EndpointNotFound { app: arg.app.clone(), endpoint: name.clone() });
            }
            Ok(found)
        }
    }
}

/// Whether two bound endpoints can form a relation (Juju's `CanRelateTo`).
pub fn can_relate(a: &AppEndpoint, b: &AppEndpoint) -> bool {
    if a.app == b.app || a.endpoint.interface != b.endpoint.interface {
        return false;
    }
    if a.endpoint.role.counterpart() != Some(b.endpoint.role) {
        return false;
    }
    let container = a.endpoint.scope == Scope::Container || b.endpoint.scope == Scope::Container;
    !container || a.subordinate || b.subordinate
}

/// Infers the endpoint pair for `integrate A B`. `lookup` returns an app's charm metadata.
pub fn infer<'m>(
    a: &EndpointArg,
    b: &EndpointArg,
    lookup: impl Fn(&str) -> Option<&'m CharmMeta>,
) -> Result<(AppEndpoint, AppEndpoint), InferError> {
    let meta_a = lookup(&a.app).ok_or_else(|| InferError::AppNotFound(a.app.clone()))?;
    let meta_b = lookup(&b.app).ok_or_else(|| InferError::AppNotFound(b.app.clone()))?;
    let ca = candidates(a, meta_a)?;
    let cb = candidates(b, meta_b)?;
    let mut pairs: Vec<(AppEndpoint, AppEndpoint)> = Vec::new();
    for x in &ca {
        for y in &cb {
            if can_relate(x, y) {
                pairs.push((x.clone(), y.clone()));
            }
        }
    }
    if pairs.len() > 1 {
        let explicit: Vec<_> =
            pairs.iter().filter(|(x, y)| x.endpoint.name != "juju-info" && y.endpoint.name != "juju-info").cloned().collect();
        if !explicit.is_empty() {
            pairs = explicit;
        }
    }
    match pairs.len() {
        0 => Err(InferError::NoRelations),
        1 => Ok(pairs.remove(0)),
        _ => {
            let mut keys: Vec<String> = pairs.iter().map(|(x, y)| relation_key(x, y)).collect();
            keys.sort();
            let candidates = keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join("; ");
            Err(InferError::Ambiguous { args: format!("{a} {b}"), candidates })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm_meta::Endpoint as E;

    fn meta(name: &str, eps: Vec<E>, subordinate: bool) -> CharmMeta {
        CharmMeta { name: name.into(), summary: String::new(), subordinate, endpoints: eps, ..Default::default() }
    }

    fn pg() -> CharmMeta {
        meta(
            "postgresql-k8s",
            vec![
                E::new("database-peers", Role::Peer, "postgresql_peers"),
                E::new("database", Role::Provider, "postgresql_client"),
                E::new("db", Role::Provider, "pgsql"),
                E::new("db-admin", Role::Provider, "pgsql"),
            ],
            false,
        )
    }

    fn di() -> CharmMeta {
        meta(
            "data-integrator",
            vec![
                E::new("data-integrator-peers", Role::Peer, "data-integrator-peers"),
                E::new("postgresql", Role::Requirer, "postgresql_client").limit(1),
                E::new("mysql", Role::Requirer, "mysql_client").limit(1),
                E::new("mongos", Role::Provider, "mongos_client").limit(1),
            ],
            false,
        )
    }

    fn mattermost() -> CharmMeta {
        meta("mattermost-k8s", vec![E::new("db", Role::Requirer, "pgsql")], false)
    }

    fn check(a: &str, b: &str, expected: Result<&str, &str>) {
        let metas = [("postgresql-k8s", pg()), ("data-integrator", di()), ("mattermost-k8s", mattermost())];
        let lookup = |n: &str| metas.iter().find(|(k, _)| *k == n).map(|(_, m)| m);
        let got = (|| {
            let (x, y) = infer(&EndpointArg::parse(a)?, &EndpointArg::parse(b)?, lookup)?;
            Ok::<_, InferError>(relation_key(&x, &y))
        })();
        match (got, expected) {
            (Ok(k), Ok(e)) => assert_eq!(k, e, "{a} {b}"),
            (Err(err), Err(e)) => assert_eq!(err.to_string(), e, "{a} {b}"),
            (got, expected) => panic!("{a} {b}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn inference_table() {
        check("postgresql-k8s", "data-integrator", Ok("data-integrator:postgresql postgresql-k8s:database"));
        check("data-integrator", "postgresql-k8s", Ok("data-integrator:postgresql postgresql-k8s:database"));
        check("postgresql-k8s:database", "data-integrator", Ok("data-integrator:postgresql postgresql-k8s:database"));
        check("postgresql-k8s:db", "mattermost-k8s:db", Ok("mattermost-k8s:db postgresql-k8s:db"));
        check("postgresql-k8s:db-admin", "mattermost-k8s:db", Ok("mattermost-k8s:db postgresql-k8s:db-admin"));
        check(
            "postgresql-k8s",
            "mattermost-k8s",
            Err(
                r#"ambiguous relation: "postgresql-k8s mattermost-k8s" could refer to "mattermost-k8s:db postgresql-k8s:db"; "mattermost-k8s:db postgresql-k8s:db-admin""#,
            ),
        );
        check("postgresql-k8s:db", "data-integrator", Err("no relations found"));
        check("postgresql-k8s:database-peers", "data-integrator", Err("no relations found"));
        check("nope", "data-integrator", Err(r#"application "nope" not found"#));
        check("postgresql-k8s:nope", "data-integrator", Err(r#"application "postgresql-k8s" has no "nope" relation"#));
        check("postgresql-k8s:", "data-integrator", Err(r#"endpoint "postgresql-k8s:" not valid"#));
        check("Bad", "data-integrator", Err(r#"application name "Bad" not valid"#));
        check("postgresql-k8s", "postgresql-k8s", Err("no relations found"));
    }

    #[test]
    fn container_scope_needs_a_subordinate() {
        let host = meta("host", vec![E::new("mongos", Role::Provider, "mongos_client")], false);
        let sub = meta("mongos", vec![E::new("mongos_proxy", Role::Requirer, "mongos_client").container()], true);
        let notsub = meta("other", vec![E::new("mongos_proxy", Role::Requirer, "mongos_client").container()], false);
        let metas = [("host", host), ("mongos", sub), ("other", notsub)];
        let lookup = |n: &str| metas.iter().find(|(k, _)| *k == n).map(|(_, m)| m);
        let a = EndpointArg::parse("mongos").unwrap();
        let b = EndpointArg::parse("host").unwrap();
        let (x, y) = infer(&a, &b, lookup).unwrap();
        assert_eq!(relation_key(&x, &y), "mongos:mongos_proxy host:mongos");
        let c = EndpointArg::parse("other").unwrap();
        assert_eq!(infer(&c, &b, lookup).unwrap_err(), InferError::NoRelations);
    }
}
