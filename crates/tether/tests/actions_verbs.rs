//! `actions APP [--schema] [--format]` and `show-action APP ACTION` against a real
//! controller: the charm's actions with their descriptions, the parameters' schema that
//! `run` checks, one action's arguments, and one-line errors for what does not exist.

mod common;

use common::*;

#[test]
fn actions_and_show_action_describe_the_charms_actions() {
    let c = Controller::bootstrap();
    c.ok(&["deploy", "postgresql-k8s"]);

    let table = c.ok(&["actions", "postgresql-k8s"]).stdout;
    let mut lines = table.lines();
    assert!(lines.next().is_some_and(|h| h.starts_with("Action") && h.ends_with("Description")), "{table}");
    let names: Vec<&str> = lines.map(|l| l.split_whitespace().next().unwrap_or_default()).collect();
    assert!(names.contains(&"get-password") && names.contains(&"set-password"), "{table}");

    let listed = c.ok(&["actions", "postgresql-k8s", "--format", "json"]).json();
    assert!(listed["set-password"].as_str().is_some_and(|d| !d.is_empty()), "{listed}");

    let schema = c.ok(&["actions", "postgresql-k8s", "--schema", "--format", "json"]).json();
    let set = &schema["set-password"];
    assert_eq!(set["type"], "object", "{schema}");
    assert_eq!(set["properties"]["username"]["type"], "string", "{schema}");
    assert!(set["properties"].get("password").is_some(), "{schema}");
    assert!(set["description"].as_str().is_some_and(|d| !d.is_empty()), "{schema}");
    let yaml = c.ok(&["actions", "postgresql-k8s", "--schema"]).stdout;
    assert!(yaml.contains("set-password:") && yaml.contains("properties:"), "--schema defaults to yaml: {yaml}");

    let shown = c.ok(&["show-action", "postgresql-k8s", "set-password"]).stdout;
    assert!(shown.contains("\nArguments:\n") && shown.contains("username:") && shown.contains("password:"), "{shown}");

    c.tether(&["show-action", "postgresql-k8s", "no-such-action"]).assert_one_line_error("unable to find action").assert_code(1);
    c.tether(&["actions", "no-such-app"]).assert_one_line_error("no-such-app").assert_code(1);
}
