//! What a charm declares: its endpoints, config options and actions.
//!
//! Native charms build a [`CharmMeta`] in code; local charms (a later issue) parse
//! `metadata.yaml`, `config.yaml` and `actions.yaml` into the same type with
//! [`CharmMeta::from_yaml`]. Endpoint inference, config typing and action validation
//! all work on this one type, so they behave the same for both kinds of charm.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The role of an endpoint, ordered as Juju orders them in relation keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Requirer,
    Provider,
    Peer,
}

impl Role {
    pub fn counterpart(self) -> Option<Role> {
        match self {
            Role::Requirer => Some(Role::Provider),
            Role::Provider => Some(Role::Requirer),
            Role::Peer => None,
        }
    }
}

/// Relation scope: `global` for ordinary relations, `container` for subordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Global,
    Container,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Container => "container",
        }
    }

    /// Reads a stored word; anything but `container` is global.
    pub fn parse(word: &str) -> Scope {
        match word {
            "container" => Scope::Container,
            _ => Scope::Global,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub role: Role,
    pub interface: String,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub optional: bool,
}

impl Endpoint {
    pub fn new(name: &str, role: Role, interface: &str) -> Self {
        Endpoint { name: name.into(), role, interface: interface.into(), limit: None, scope: Scope::Global, optional: false }
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn container(mut self) -> Self {
        self.scope = Scope::Container;
        self
    }
}

/// Juju's config option types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionType {
    String,
    Int,
    Float,
    Boolean,
    Secret,
}

impl OptionType {
    pub fn as_str(self) -> &'static str {
        match self {
            OptionType::String => "string",
            OptionType::Int => "int",
            OptionType::Float => "float",
            OptionType::Boolean => "boolean",
            OptionType::Secret => "secret",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: OptionType,
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionParam {
    pub name: String,
    /// JSON-schema type name (`string`, `integer`, `number`, `boolean`, `object`, `array`).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub enum_values: Vec<String>,
}

impl ActionParam {
    /// A `string` parameter without default or choices, the kind most actions take.
    pub fn string(name: &str, description: &str) -> ActionParam {
        ActionParam { name: name.into(), kind: "string".into(), description: description.into(), default: None, enum_values: vec![] }
    }

    /// The same parameter with a default value.
    pub fn with_default(self, default: impl Into<serde_json::Value>) -> ActionParam {
        ActionParam { default: Some(default.into()), ..self }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub params: Vec<ActionParam>,
    #[serde(default)]
    pub required: Vec<String>,
    /// Whether parameters not listed are accepted (Juju 3 default: true).
    #[serde(default = "yes")]
    pub additional_properties: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CharmMeta {
    pub name: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub subordinate: bool,
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub config: Vec<ConfigOption>,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    /// `resources:` of the metadata: what `deploy --resource` may attach.
    #[serde(default)]
    pub resources: Vec<ResourceMeta>,
    /// `storage:` of the metadata: what each unit gets a directory for.
    #[serde(default)]
    pub storage: Vec<StorageMeta>,
    /// A local charm's actions as `actions.yaml` wrote their parameters: the JSON Schema
    /// of each action's parameter object (`properties`, `required`,
    /// `additionalProperties`), by action name. Native charms have none; their actions
    /// are described by [`ActionSpec`] alone (see [`CharmMeta::action_schema`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub action_schemas: BTreeMap<String, serde_json::Value>,
}

/// One resource a charm declares (`type: file` or `oci-image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceMeta {
    pub name: String,
    pub kind: String,
}

/// One storage a charm declares (`type: filesystem` or `block`), with how many
/// instances a unit starts with (`multiple.range`'s lower bound, at least 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageMeta {
    pub name: String,
    pub kind: String,
    pub count: u32,
}

impl CharmMeta {
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }
    pub fn option(&self, name: &str) -> Option<&ConfigOption> {
        self.config.iter().find(|o| o.name == name)
    }
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The JSON Schema an action's parameters must satisfy: the one `actions.yaml` wrote,
    /// or for an action known only by its [`ActionSpec`] (native charms, stores from before
    /// schemas were kept) the schema its simplified fields describe.
    pub fn action_schema(&self, spec: &ActionSpec) -> serde_json::Value {
        if let Some(raw) = self.action_schemas.get(&spec.name) {
            return raw.clone();
        }
        let properties: serde_json::Map<String, serde_json::Value> = spec
            .params
            .iter()
            .map(|p| {
                let mut prop = serde_json::Map::new();
                if matches!(p.kind.as_str(), "string" | "integer" | "number" | "boolean" | "object" | "array") {
                    prop.insert("type".into(), p.kind.clone().into());
                }
                if !p.enum_values.is_empty() {
                    prop.insert("enum".into(), p.enum_values.clone().into());
                }
                (p.name.clone(), prop.into())
            })
            .collect();
        params_schema(properties.into(), &spec.required, spec.additional_properties)
    }
    pub fn peers(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter().filter(|e| e.role == Role::Peer)
    }

    /// The storage instances of a unit (`data/0`, `data/1`, ...): each declared storage's
    /// initial count plus what `added` says the unit added since (`storage-add`).
    pub fn storage_ids(&self, added: impl Fn(&str) -> u32) -> Vec<String> {
        self.storage.iter().flat_map(|s| (0..s.count + added(&s.name)).map(move |i| format!("{}/{i}", s.name))).collect()
    }

    /// Parses a local charm's YAML files (`metadata.yaml` or `charmcraft.yaml`,
    /// optional `config.yaml` and `actions.yaml`).
    pub fn from_yaml(metadata: &str, config: Option<&str>, actions: Option<&str>) -> Result<CharmMeta, MetaError> {
        let md: RawMetadata = serde_norway::from_str(metadata).map_err(|e| MetaError::Metadata(first_line(&e.to_string())))?;
        let name = md.name.ok_or(MetaError::Metadata("missing \"name\"".into()))?;
        crate::names::validate_application(&name).map_err(|_| MetaError::Metadata(format!("charm name {name:?} not valid")))?;
        let mut endpoints = Vec::new();
        for (role, map) in [(Role::Provider, md.provides), (Role::Requirer, md.requires), (Role::Peer, md.peers)] {
            for (ep, raw) in map.unwrap_or_default() {
                crate::names::validate_endpoint(&ep).map_err(|e| MetaError::Metadata(e.to_string()))?;
                let interface = raw.interface.ok_or_else(|| MetaError::Metadata(format!("endpoint {ep:?} has no interface")))?;
                endpoints.push(Endpoint {
                    name: ep,
                    role,
                    interface,
                    limit: raw.limit,
                    scope: if raw.scope.as_deref() == Some("container") { Scope::Container } else { Scope::Global },
                    optional: raw.optional.unwrap_or(false),
                });
            }
        }
        let config_src = config.or(md.config_inline.as_deref());
        let mut options = Vec::new();
        if let Some(src) = config_src {
            let raw: RawConfig = serde_norway::from_str(src).map_err(|e| MetaError::Config(first_line(&e.to_string())))?;
            for (name, o) in raw.options.unwrap_or_default() {
                let kind = match o.kind.as_str() {
                    "string" => OptionType::String,
                    "int" => OptionType::Int,
                    "float" => OptionType::Float,
                    "boolean" => OptionType::Boolean,
                    "secret" => OptionType::Secret,
                    other => return Err(MetaError::Config(format!("option {name:?} has unknown type {other:?}"))),
                };
                options.push(ConfigOption {
                    name,
                    kind,
                    default: o.default.map(yaml_to_json),
                    description: o.description.unwrap_or_default(),
                });
            }
        }
        let mut acts = Vec::new();
        let mut action_schemas = BTreeMap::new();
        if let Some(src) = actions {
            let raw: BTreeMap<String, RawAction> =
                serde_norway::from_str::<Option<_>>(src).map_err(|e| MetaError::Actions(first_line(&e.to_string())))?.unwrap_or_default();
            for (name, a) in raw {
                crate::names::validate_action(&name).map_err(|e| MetaError::Actions(e.to_string()))?;
                let raw_params = a.params.unwrap_or_default();
                let properties = raw_params.iter().map(|(pname, p)| (pname.clone(), yaml_to_json(p.clone()))).collect();
                let required = a.required.unwrap_or_default();
                let additional_properties = a.additional_properties.unwrap_or(true);
                action_schemas.insert(name.clone(), params_schema(serde_json::Value::Object(properties), &required, additional_properties));
                let params = raw_params
                    .into_iter()
                    .map(|(pname, p)| {
                        let p: RawParam = serde_norway::from_value(p)
                            .map_err(|e| MetaError::Actions(format!("{name}.{pname}: {}", first_line(&e.to_string()))))?;
                        Ok(ActionParam {
                            name: pname,
                            kind: p.kind.unwrap_or_else(|| "string".into()),
                            description: p.description.unwrap_or_default(),
                            default: p.default.map(yaml_to_json),
                            enum_values: p.enum_values.unwrap_or_default().into_iter().map(|v| yaml_scalar(&v)).collect(),
                        })
                    })
                    .collect::<Result<_, MetaError>>()?;
                acts.push(ActionSpec { name, description: a.description.unwrap_or_default(), params, required, additional_properties });
            }
        }
        let mut resources = Vec::new();
        for (name, r) in md.resources.unwrap_or_default() {
            // The name becomes a file name in the controller's home.
            crate::names::validate_endpoint(&name).map_err(|_| MetaError::Metadata(format!("resource name {name:?} not valid")))?;
            resources.push(ResourceMeta { name, kind: r.kind.unwrap_or_else(|| "file".into()) });
        }
        let mut storage = Vec::new();
        for (name, s) in md.storage.unwrap_or_default() {
            crate::names::validate_endpoint(&name).map_err(|_| MetaError::Metadata(format!("storage name {name:?} not valid")))?;
            let count = storage_count(s.multiple.as_ref().and_then(|m| m.range.as_deref()));
            storage.push(StorageMeta { name, kind: s.kind.unwrap_or_else(|| "filesystem".into()), count });
        }
        Ok(CharmMeta {
            name,
            summary: md.summary.unwrap_or_default(),
            subordinate: md.subordinate.unwrap_or(false),
            endpoints,
            config: options,
            actions: acts,
            resources,
            storage,
            action_schemas,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    #[error("cannot parse metadata: {0}")]
    Metadata(String),
    #[error("cannot parse config.yaml: {0}")]
    Config(String),
    #[error("cannot parse actions.yaml: {0}")]
    Actions(String),
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// Converts YAML to JSON values (keys stringified).
pub fn yaml_to_json(v: serde_norway::Value) -> serde_json::Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => serde_json::Value::Null,
        Y::Bool(b) => b.into(),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                n.as_f64().map(Into::into).unwrap_or(serde_json::Value::Null)
            }
        }
        Y::String(s) => s.into(),
        Y::Sequence(s) => s.into_iter().map(yaml_to_json).collect(),
        Y::Mapping(m) => m.into_iter().map(|(k, v)| (yaml_scalar(&k), yaml_to_json(v))).collect::<serde_json::Map<_, _>>().into(),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

fn yaml_scalar(v: &serde_norway::Value) -> String {
    match v {
        serde_norway::Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

#[derive(Deserialize)]
struct RawMetadata {
    name: Option<String>,
    summary: Option<String>,
    subordinate: Option<bool>,
    provides: Option<BTreeMap<String, RawEndpoint>>,
    requires: Option<BTreeMap<String, RawEndpoint>>,
    peers: Option<BTreeMap<String, RawEndpoint>>,
    #[serde(rename = "config", default, deserialize_with = "inline_config")]
    config_inline: Option<String>,
    resources: Option<BTreeMap<String, RawResource>>,
    storage: Option<BTreeMap<String, RawStorage>>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct RawStorage {
    #[serde(rename = "type")]
    kind: Option<String>,
    multiple: Option<RawMultiple>,
}

#[derive(Deserialize)]
struct RawMultiple {
    range: Option<String>,
}

/// The lower bound of a storage `range` (`2`, `2-`, `2-5`), at least 1.
fn storage_count(range: Option<&str>) -> u32 {
    range.and_then(|r| r.split('-').next()).and_then(|n| n.trim().parse().ok()).unwrap_or(1).max(1)
}

fn inline_config<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<serde_norway::Value> = Option::deserialize(d)?;
    Ok(v.map(|v| serde_norway::to_string(&v).unwrap_or_default()))
}

#[derive(Deserialize)]
struct RawEndpoint {
    interface: Option<String>,
    limit: Option<u32>,
    scope: Option<String>,
    optional: Option<bool>,
}

#[derive(Deserialize)]
struct RawConfig {
    options: Option<BTreeMap<String, RawOption>>,
}

#[derive(Deserialize)]
struct RawOption {
    #[serde(rename = "type")]
    kind: String,
    default: Option<serde_norway::Value>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    description: Option<String>,
    /// Each parameter's JSON Schema as written (`minimum`, `pattern`, nested `properties`,
    /// ...); the fields tether shows are read from it as a [`RawParam`].
    params: Option<BTreeMap<String, serde_norway::Value>>,
    required: Option<Vec<String>>,
    #[serde(rename = "additionalProperties")]
    additional_properties: Option<bool>,
}

#[derive(Deserialize)]
struct RawParam {
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    default: Option<serde_norway::Value>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<serde_norway::Value>>,
}

/// The JSON Schema of an action's parameter object.
fn params_schema(properties: serde_json::Value, required: &[String], additional_properties: bool) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": additional_properties,
    })
}

/// How an application's charm was deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharmOrigin {
    /// A charm tether ships (`postgresql-k8s`, `data-integrator`, ...).
    Builtin,
    /// A charm directory or `.charm` file given to `deploy`.
    Local,
}

impl CharmOrigin {
    /// The word the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            CharmOrigin::Builtin => "builtin",
            CharmOrigin::Local => "local",
        }
    }

    /// Reads the stored word; anything but `local` is a built-in.
    pub fn parse(word: &str) -> CharmOrigin {
        match word {
            "local" => CharmOrigin::Local,
            _ => CharmOrigin::Builtin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_passive_charm() {
        let md = "name: mattermost-k8s\nrequires:\n  db:\n    interface: pgsql\npeers:\n  mm-peers:\n    interface: mm\n";
        let meta = CharmMeta::from_yaml(md, None, None).unwrap();
        assert_eq!(meta.name, "mattermost-k8s");
        assert_eq!(meta.endpoint("db").unwrap().role, Role::Requirer);
        assert_eq!(meta.peers().count(), 1);
    }

    #[test]
    fn parses_resources_and_storage_and_refuses_unsafe_names() {
        let md = "name: c\nresources:\n  conf:\n    type: file\nstorage:\n  data:\n    type: filesystem\n    multiple:\n      range: 2-4\n";
        let m = CharmMeta::from_yaml(md, None, None).unwrap();
        assert_eq!(m.resources, [ResourceMeta { name: "conf".into(), kind: "file".into() }]);
        assert_eq!(m.storage_ids(|_| 1), ["data/0", "data/1", "data/2"]);
        for bad in ["resources:\n  ../x:\n    type: file\n", "storage:\n  a/b:\n    type: filesystem\n"] {
            let e = CharmMeta::from_yaml(&format!("name: c\n{bad}"), None, None).unwrap_err().to_string();
            assert!(e.contains("not valid"), "{e}");
        }
    }

    #[test]
    fn parses_config_and_actions() {
        let cfg = "options:\n  foo:\n    type: int\n    default: 3\n";
        let acts = "do-it:\n  params:\n    x:\n      type: string\n  required: [x]\n";
        let meta = CharmMeta::from_yaml("name: a\n", Some(cfg), Some(acts)).unwrap();
        assert_eq!(meta.option("foo").unwrap().default, Some(serde_json::json!(3)));
        assert_eq!(meta.action("do-it").unwrap().required, vec!["x".to_string()]);
    }

    #[test]
    fn refuses_broken_metadata() {
        assert!(CharmMeta::from_yaml(": :\n-", None, None).is_err());
        assert!(CharmMeta::from_yaml("summary: x\n", None, None).is_err());
        assert!(CharmMeta::from_yaml("name: a\nrequires:\n  db: {}\n", None, None).is_err());
    }
}
