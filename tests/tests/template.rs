//! `template.yaml` against the rest of the workspace: the table is exactly the one
//! `signoff_store::table` defines, the API routes are exactly the local router's, every
//! function's role allows what its code calls, and every function logs somewhere kept.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_dynamodb::config::SharedInterceptor;
use serde_json::{json, Value};
use signoff_store::model::TokenType;
use signoff_tests::db::{IamActionRecorder, TestDb};
use signoff_tests::event::HttpApiEvent;
use signoff_tests::gateway::routes_from_manifest;
use signoff_tests::paths::workspace;
use signoff_tests::seed::{self, post};

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
        signoff_store::table::cloudformation_properties()
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

/// Every function is a binary of the workspace, has a log group with a retention that
/// names it, and the housekeeping function is on a schedule whose failures go somewhere.
#[test]
fn every_function_logs_with_retention_and_housekeeping_runs_on_a_schedule() {
    let template = template();
    let resources = template["Resources"].as_object().expect("resources");
    let functions: Vec<&String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, _)| name)
        .collect();
    let binaries: BTreeSet<&str> = functions
        .iter()
        .map(|name| {
            resources[name.as_str()]["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("Binary")
        })
        .collect();
    let expected: BTreeSet<&str> = [
        "nativesso-logout",
        "token-register",
        "descope-auth",
        "token-revoke",
        "housekeeping",
    ]
    .into();
    assert_eq!(binaries, expected);
    for name in &functions {
        let log_group = resources.values().find(|r| {
            r["Type"] == "AWS::Logs::LogGroup"
                && r["Properties"]["LogGroupName"]
                    .to_string()
                    .contains(&format!("/aws/lambda/${{{name}}}"))
        });
        let log_group = log_group.unwrap_or_else(|| panic!("{name} has no log group"));
        assert!(
            log_group["Properties"]["RetentionInDays"].is_u64(),
            "{name}"
        );
    }
    let housekeeping = &resources["HousekeepingFunction"]["Properties"];
    assert_eq!(housekeeping["Events"]["Schedule"]["Type"], "Schedule");
    assert!(housekeeping["Events"]["Schedule"]["Properties"]["Schedule"]
        .to_string()
        .contains("HousekeepingSchedule"));
    let on_failure = &housekeeping["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"], "SQS");
    assert!(on_failure["Destination"]
        .to_string()
        .contains("HousekeepingFailureQueue"));
    assert_eq!(
        template["Globals"]["Function"]["LoggingConfig"]["LogFormat"],
        "JSON"
    );
}

/// Whether the role of the function built from `binary` allows `action` (on the index, if
/// one is named, else on the table).
fn allowed(template: &Value, binary: &str, action: &str, index: Option<&str>) -> bool {
    let resources = template["Resources"].as_object().expect("resources");
    let function = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no function builds {binary}"));
    let statements = function["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Statement"].as_array().into_iter().flatten());
    statements.into_iter().any(|statement| {
        let actions = match &statement["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        // !GetAtt / !Sub come through as tagged values; their text is what matters here.
        let resource = statement["Resource"].to_string();
        let on_target = match index {
            Some(name) => resource.contains(&format!("/index/{name}")),
            None => resource.contains("TokenTable.Arn") && !resource.contains("/index/"),
        };
        statement["Effect"] == "Allow" && actions.contains(&action) && on_target
    })
}

async fn assert_role_covers(template: &Value, binary: &str, recorder: &IamActionRecorder) {
    let used = recorder.take();
    assert!(!used.is_empty(), "{binary} made no DynamoDB call");
    for (action, index) in used {
        assert!(
            allowed(template, binary, &action, index.as_deref()),
            "{binary} calls {action} on {} but its role does not allow it",
            index.as_deref().unwrap_or("the table")
        );
    }
}

/// A database whose client records the IAM action of every call, with a short index
/// settle window so that logouts right after registrations take every path quickly.
async fn recording_db() -> (TestDb, IamActionRecorder) {
    let recorder = IamActionRecorder::default();
    let db = TestDb::start_with(
        |c| c.index_settle = std::time::Duration::from_millis(50),
        Some(SharedInterceptor::new(recorder.clone())),
    )
    .await;
    (db, recorder)
}

#[tokio::test]
async fn each_function_role_allows_every_dynamodb_call_its_code_makes() {
    let template = template();
    let (db, recorder) = recording_db().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let auth = format!("Bearer {credential}");
    recorder.take();

    // Registration: a lone token (PutItem) and a session-bound batch (a transaction).
    let single = json!({"token": "a", "type": "access", "clientId": "c", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)});
    let batch = json!({"tokens": [
        {"token": "b", "type": "refresh", "clientId": "c", "sessionId": "s", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)},
        {"token": "c", "type": "access", "clientId": "c", "sessionId": "s", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)},
    ]});
    for body in [single, batch] {
        let request = post(
            "/signoff/v1/tenants/100/tokens",
            Some(&auth),
            Some("application/json"),
            &body.to_string(),
        );
        let response = signoff_register::handle(&db.store, request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_role_covers(&template, "token-register", &recorder).await;

    // Logout right after a registration: every path, the second index read included.
    let request = post(
        "/api/100/nativesso/logout",
        Some(&auth),
        Some("application/json"),
        r#"{"sessionId":"s"}"#,
    );
    let response = signoff_nativesso::handle(&db.store, request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_role_covers(&template, "nativesso-logout", &recorder).await;

    // Revocation: a session-bound refresh token with its grant, an access token, a device.
    let secret = seed::client(&db.store, "100", "web", true).await.unwrap();
    let mut refresh = seed::token("100", "r1", TokenType::Refresh, "web");
    refresh.grant_id = Some("g1".into());
    refresh.session_id = Some("s2".into());
    let mut access = seed::token("100", "a1", TokenType::Access, "web");
    access.grant_id = Some("g1".into());
    seed::register(
        &db.store,
        vec![
            refresh,
            access,
            seed::token("100", "a2", TokenType::Access, "web"),
        ],
    )
    .await;
    seed::device_tokens(&db.store, "100", "d1", "ldap", "cn=a", "web", 3, "d").await;
    recorder.take();
    let config = signoff_revoke::settings::Settings {
        tenant: "100".into(),
        device_auth: signoff_revoke::settings::DeviceRevocationAuth::Client,
        cors: Default::default(),
    };
    let auth = seed::basic("web", &secret);
    for (path, body) in [
        ("/nidp/oauth/nam/revoke", "token=r1"),
        ("/oauth2/revoke", "token=a2"),
        (
            "/nidp/oauth/nam/revoke/d1",
            "userstore_name=ldap&user_dn=cn%3Da",
        ),
    ] {
        let request = post(
            path,
            Some(&auth),
            Some("application/x-www-form-urlencoded"),
            body,
        );
        let response = signoff_revoke::handle(&db.store, &config, request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    for gone in ["r1", "a1", "a2", "d-0"] {
        assert!(!seed::token_stored(&db.store, "100", gone).await, "{gone}");
    }
    assert_role_covers(&template, "token-revoke", &recorder).await;
}

#[tokio::test]
async fn the_descope_function_role_allows_every_dynamodb_call_its_code_makes() {
    use signoff_store::demo;
    let template = template();
    let (db, recorder) = recording_db().await;
    // Seeded just now, so logout also takes the second index read.
    demo::seed_project(&db.store).await.expect("demo project");
    recorder.take();
    let settings = signoff_descope::settings::Settings::default();
    for (path, jwt) in [
        ("/v1/auth/logout", demo::PROJECT_REFRESH_JWTS[0]),
        ("/v1/auth/logoutall", demo::PROJECT_REFRESH_JWTS[1]),
    ] {
        let auth = format!("Bearer {}:{jwt}", demo::PROJECT_ID);
        let request = post(path, Some(&auth), None, "");
        let response = signoff_descope::handle(&db.store, &settings, request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let keys = HttpApiEvent::get(&format!("/v2/keys/{}", demo::PROJECT_ID)).request();
    let response = signoff_descope::handle(&db.store, &settings, keys)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_role_covers(&template, "descope-auth", &recorder).await;
}

#[tokio::test]
async fn the_housekeeping_function_role_allows_every_dynamodb_call_its_code_makes() {
    let template = template();
    let (db, recorder) = recording_db().await;
    let expired = (0..3)
        .map(|i| seed::expired_token("100", &format!("old-{i}"), 60).to_item())
        .collect();
    seed::put_items(&db.store, expired).await;
    recorder.take();
    let limits = signoff_store::housekeeping::SweepLimits::within(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(5),
        100,
        2,
    );
    let now = signoff_store::now_epoch_seconds();
    let report = db.store.sweep_expired(now, &limits).await.expect("sweep");
    assert_eq!(report.deleted, 3);
    // A second run reads the cursor the first one wrote.
    db.store
        .sweep_expired(now + 7200, &limits)
        .await
        .expect("sweep");
    assert_role_covers(&template, "housekeeping", &recorder).await;
}
