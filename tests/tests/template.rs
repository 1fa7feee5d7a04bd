//! `template.yaml` against the rest of the workspace: the table is exactly the one
//! `signoff::table` defines, and the API routes are exactly the local router's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use signoff_tests::gateway::routes_from_manifest;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn template() -> Value {
    let text = std::fs::read_to_string(workspace().join("template.yaml")).expect("template.yaml");
    // CloudFormation's short-form tags (!Ref, !Sub) parse as tagged values; the parts
    // compared here carry none.
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    serde_json::to_value(yaml).expect("YAML converts to JSON")
}

#[test]
fn the_table_is_the_one_the_code_defines() {
    let template = template();
    let table = &template["Resources"]["TokenTable"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let mut properties = table["Properties"]
        .as_object()
        .expect("table properties")
        .clone();
    // Settings that exist only in AWS; required there, meaningless to an emulator.
    assert_eq!(
        properties.remove("SSESpecification").unwrap()["SSEEnabled"],
        true
    );
    assert_eq!(
        properties
            .remove("PointInTimeRecoverySpecification")
            .unwrap()["PointInTimeRecoveryEnabled"],
        true
    );
    properties.remove("DeletionProtectionEnabled");
    assert_eq!(
        Value::Object(properties),
        signoff::table::cloudformation_properties()
    );
}

#[test]
fn api_routes_match_the_local_router_and_each_names_a_workspace_binary() {
    let template = template();
    let mut deployed = BTreeSet::new();
    for (name, resource) in template["Resources"].as_object().expect("resources") {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no BuildProperties.Binary"));
        assert_eq!(
            resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let events = resource["Properties"]["Events"].as_object();
        for event in events.into_iter().flat_map(|e| e.values()) {
            if event["Type"] == "HttpApi" {
                let p = &event["Properties"];
                deployed.insert((
                    p["Method"].as_str().expect("Method").to_uppercase(),
                    p["Path"].as_str().expect("Path").to_owned(),
                    binary.to_owned(),
                ));
            }
        }
    }
    let local: BTreeSet<_> = routes_from_manifest(&workspace().join("Cargo.toml"))
        .expect("router table")
        .into_iter()
        .map(|r| (r.method, r.path, r.function))
        .collect();
    assert_eq!(deployed, local);
    for (_, _, binary) in &local {
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join("functions")
                .read_dir()
                .unwrap()
                .any(|d| {
                    let manifest = d.unwrap().path().join("Cargo.toml");
                    std::fs::read_to_string(manifest)
                        .is_ok_and(|t| t.contains(&format!("name = \"{binary}\"")))
                }),
            "{binary} is not a binary of functions/"
        );
    }
}
