//! `config APP [key]`: the whole view as YAML/JSON, or one value on its own.

use super::super::args::DataFormat;
use super::super::error::CliError;
use serde_json::Value;
use tether_core::wire::ConfigView;

/// The full view in the requested format.
pub fn render(view: &ConfigView, format: DataFormat) -> Result<String, CliError> {
    super::data(format, view)
}

/// One key's value as Juju prints it: strings raw, other values as JSON scalars,
/// nothing for an unset key.
pub fn render_key(view: &ConfigView, key: &str) -> Result<String, CliError> {
    let setting = view.settings.get(key).or_else(|| view.application_config.get(key)).ok_or_else(|| {
        CliError::runtime(format!(
            "key {:?} not found in {:?} application config or charm settings.",
            key.chars().take(64).collect::<String>(),
            view.application
        ))
    })?;
    Ok(match &setting.value {
        None | Some(Value::Null) => "\n".to_string(),
        Some(Value::String(s)) => format!("{s}\n"),
        Some(other) => format!("{other}\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tether_core::wire::SettingView;

    fn view() -> ConfigView {
        let mut settings = BTreeMap::new();
        let s = |kind: &str, value: Option<Value>| SettingView {
            default: None,
            description: String::new(),
            source: if value.is_some() { "user".into() } else { "unset".into() },
            kind: kind.into(),
            value,
        };
        settings.insert("database-name".to_string(), s("string", Some(Value::from("db"))));
        settings.insert("port".to_string(), s("int", Some(Value::from(5432))));
        settings.insert("extra-user-roles".to_string(), s("string", None));
        ConfigView { application: "di".into(), charm: "data-integrator".into(), settings, application_config: BTreeMap::new() }
    }

    #[test]
    fn single_keys_print_bare_values() {
        assert_eq!(render_key(&view(), "database-name").unwrap(), "db\n");
        assert_eq!(render_key(&view(), "port").unwrap(), "5432\n");
        assert_eq!(render_key(&view(), "extra-user-roles").unwrap(), "\n");
        assert!(matches!(render_key(&view(), "nope"), Err(CliError::Runtime(_))));
    }

    #[test]
    fn json_has_settings_with_type_and_value() {
        let v: Value = serde_json::from_str(&render(&view(), DataFormat::Json).unwrap()).unwrap();
        assert_eq!(v["settings"]["port"]["type"], "int");
        assert_eq!(v["settings"]["port"]["value"], 5432);
        assert!(v["settings"]["extra-user-roles"].get("value").is_none());
        assert!(v.get("application-config").is_some());
    }
}
