use super::*;
use serde_json::json;

fn config(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn defaults() -> BTreeMap<String, Value> {
    options().into_iter().filter_map(|o| o.default.map(|d| (o.name, d))).collect()
}

fn host() -> Host {
    Host { memory_bytes: 8_000_000_000, cpu_cores: 2, libraries: vec!["pg_stat_statements".into()] }
}

#[test]
fn every_option_has_a_description_and_a_unique_name() {
    let opts = options();
    let names: std::collections::BTreeSet<_> = opts.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names.len(), opts.len());
    for o in &opts {
        assert!(!o.description.is_empty(), "{} has no description", o.name);
    }
}

#[test]
fn defaults_pass_their_own_rules() {
    check(&defaults()).expect("the published defaults are valid");
}

#[test]
fn values_outside_the_rules_are_refused_with_the_charms_text() {
    let cases: [(&str, Value, &str); 8] = [
        ("memory_shared_buffers", json!(15), "ensure this value is greater than or equal to 16"),
        ("connection_authentication_timeout", json!(601), "ensure this value is less than or equal to 600"),
        ("optimizer_cursor_tuple_fraction", json!(1.5), "ensure this value is less than or equal to 1"),
        ("profile", json!("staging"), "Value not one of 'testing' or 'production'"),
        ("durability_synchronous_commit", json!("off"), "Value not one of 'on', 'remote_apply' or 'remote_write'"),
        ("optimizer_track_functions", json!("some"), "unexpected value; permitted: 'none', 'pl', 'all'"),
        ("cpu_max_parallel_workers", json!("1"), "ensure this value is greater than or equal to 2"),
        ("synchronous_node_count", json!("most"), "permitted: 'all', 'majority' or a positive integer"),
    ];
    for (name, value, text) in cases {
        let err = check(&config(&[(name, value.clone())])).expect_err(name);
        assert!(err.contains(name) && err.contains(text), "{name}={value}: {err}");
    }
    for (name, value) in
        [("cpu_max_parallel_workers", json!("auto")), ("synchronous_node_count", json!("2")), ("profile", json!("testing"))]
    {
        check(&config(&[(name, value.clone())])).unwrap_or_else(|e| panic!("{name}={value}: {e}"));
    }
}

#[test]
fn options_map_to_the_servers_settings_by_canonicals_names() {
    let mut c = defaults();
    c.insert("memory_work_mem".into(), json!(8192));
    c.insert("request_time_zone".into(), json!("Europe/Paris"));
    let p = parameters(&c, &host()).unwrap();
    assert_eq!(p["work_mem"], "8192");
    assert_eq!(p["TimeZone"], "Europe/Paris");
    assert_eq!(p["DateStyle"], "ISO, MDY");
    assert_eq!(p["pg_stat_statements.track"], "top");
    assert_eq!(p["log_connections"], "on");
    assert_eq!(p["authentication_timeout"], "60");
    assert_eq!(p["password_encryption"], "scram-sha-256");
    assert!(!p.contains_key("maximum_lag_on_failover") && !p.contains_key("max_lag_on_failover"));
    assert_eq!(p["shared_preload_libraries"], "pg_stat_statements");
}

#[test]
fn workers_resolve_auto_from_the_cores_and_refuse_more_than_ten_per_core() {
    let p = parameters(&defaults(), &host()).unwrap();
    assert_eq!(p["max_worker_processes"], "4");
    assert_eq!(p["max_parallel_workers"], "4");
    assert_eq!(p["max_connections"], "100");
    let mut c = defaults();
    c.insert("cpu_max_worker_processes".into(), json!("21"));
    let err = parameters(&c, &host()).unwrap_err();
    assert_eq!(err, "cpu_max_worker_processes value 21 exceeds maximum allowed of 20 (10 * vCores). Please set a value <= 20.");
    c.insert("cpu_max_worker_processes".into(), json!("6"));
    c.insert("cpu_max_parallel_workers".into(), json!("12"));
    c.insert("experimental_max_connections".into(), json!(30));
    let p = parameters(&c, &host()).unwrap();
    assert_eq!((p["max_worker_processes"].as_str(), p["max_parallel_workers"].as_str()), ("6", "6"));
    assert_eq!(p["max_connections"], "30");
}

#[test]
fn the_production_profile_sizes_memory_and_testing_leaves_it() {
    let p = parameters(&defaults(), &host()).unwrap();
    // A quarter of 8 GB in 8 kB pages, the rest as the cache estimate.
    assert_eq!(p["shared_buffers"], "256000");
    assert_eq!(p["effective_cache_size"], "768000");
    let mut c = defaults();
    c.insert("profile_limit_memory".into(), json!(1000));
    assert_eq!(parameters(&c, &host()).unwrap()["shared_buffers"], "32000");
    c.insert("memory_shared_buffers".into(), json!(60_000));
    let err = parameters(&c, &host()).unwrap_err();
    assert_eq!(err, "Shared buffers config option should be at most 40% of the available memory, which is 400MB");
    c.insert("profile".into(), json!("testing"));
    c.insert("memory_shared_buffers".into(), json!(2048));
    let p = parameters(&c, &host()).unwrap();
    assert_eq!(p["shared_buffers"], "2048");
    assert!(!p.contains_key("effective_cache_size"));
}

#[test]
fn plugins_name_their_extensions_and_dependencies() {
    let mut c = defaults();
    let e = extensions(&c).unwrap();
    assert!(e["pgaudit"]);
    assert!(!e["pg_trgm"]);
    assert!(!e["uuid-ossp"]);
    assert!(["refint", "autoinc", "insert_username", "moddatetime"].iter().all(|m| e.contains_key(*m)));
    c.insert("plugin_postgis_topology_enable".into(), json!(true));
    assert_eq!(extensions(&c).unwrap_err(), "plugin postgis_topology needs postgis enabled first");
    c.insert("plugin_postgis_enable".into(), json!(true));
    assert!(extensions(&c).unwrap()["postgis_topology"]);
}

#[test]
fn the_auto_conf_quotes_values_and_refuses_nothing_it_was_given() {
    let settings: BTreeMap<String, String> = [("TimeZone", "Europe/Paris"), ("DateStyle", "ISO, MDY"), ("search_path", r"a'b\c")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let text = render_auto_conf(&settings);
    assert!(text.contains("TimeZone = 'Europe/Paris'\n"), "{text}");
    assert!(text.contains("DateStyle = 'ISO, MDY'\n"), "{text}");
    assert!(text.contains(r"search_path = 'a''b\\c'"), "{text}");
    let err = check(&config(&[("request_time_zone", json!("UTC\nshared_preload_libraries = 'x'"))])).unwrap_err();
    assert!(err.contains("request_time_zone") && err.contains("control characters"), "{err}");
}

#[test]
fn patroni_options_follow_the_cluster_size() {
    let dcs = |pairs: &[(&str, Value)], units| patroni_dcs(&config(pairs), units);
    assert_eq!(dcs(&[("synchronous_node_count", json!("all"))], 3)["synchronous_node_count"], 2);
    assert_eq!(dcs(&[("synchronous_node_count", json!("majority"))], 5)["synchronous_node_count"], 2);
    assert_eq!(dcs(&[("synchronous_node_count", json!("7"))], 3)["synchronous_node_count"], 2);
    let d = dcs(&[("synchronous_mode_strict", json!(false)), ("durability_maximum_lag_on_failover", json!(1024))], 3);
    assert_eq!((d["synchronous_mode_strict"].clone(), d["maximum_lag_on_failover"].clone()), (json!(false), json!(1024)));
}
