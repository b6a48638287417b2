//! What deploy and refresh both read from a request: `--config` arguments (pairs or a
//! YAML file) and a local charm path, staged into the model's charm store. Kept below
//! the handlers so neither imports the other.

use super::error::{short, ApiError};
use super::state::Controller;
use crate::charms;
use tether_core::charm_meta::CharmMeta;
use tether_core::config;

/// Reads `--config` arguments: `k=v` pairs, or a YAML file (`{k: v}` or `{app: {k: v}}`).
pub fn config_pairs(args: &[String], app: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for arg in args {
        if arg.contains('=') {
            pairs.push(config::split_assignment(arg)?);
            continue;
        }
        let text = std::fs::read_to_string(arg)
            .map_err(|_| ApiError::invalid(format!("expected \"key=value\" or a YAML file, got {:?}", short(arg))))?;
        let yaml: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| ApiError::invalid(format!("cannot parse config file {arg:?}: {e}")))?;
        let map = match yaml.get(app) {
            Some(inner @ serde_norway::Value::Mapping(_)) => inner.clone(),
            _ => yaml,
        };
        let serde_norway::Value::Mapping(m) = map else { return Err(ApiError::invalid(format!("config file {arg:?} is not a map"))) };
        for (k, v) in m {
            let key = k.as_str().unwrap_or_default().to_string();
            let value = match v {
                serde_norway::Value::String(s) => s,
                other => serde_norway::to_string(&other).unwrap_or_default().trim().to_string(),
            };
            pairs.push((key, value));
        }
    }
    Ok(pairs)
}

/// Copies (or unpacks) the local charm at the absolute path `charm` into the model's
/// charm store under a temporary name, which the caller renames once the change is
/// recorded, or removes.
pub fn stage_local_charm(c: &Controller, model_uuid: &str, charm: &str) -> Result<(CharmMeta, std::path::PathBuf), ApiError> {
    if !charm.starts_with('/') {
        return Err(ApiError::invalid(format!("local charm path {:?} must be absolute", short(charm))));
    }
    let staged = c.home.root().join("charms").join(model_uuid).join(format!(".staging-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(staged.parent().unwrap_or(c.home.root()))
        .map_err(|e| ApiError::invalid(format!("cannot create charm store: {e}")))?;
    let meta = charms::local::install(std::path::Path::new(charm), &staged).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((meta, staged))
}
