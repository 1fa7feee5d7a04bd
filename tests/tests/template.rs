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
        "token-introspect",
        "housekeeping",
        "purge",
        "logout-fanout",
        "logout-deliver",
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
    // Small index pages, so that paths which read several pages are exercised.
    let db = TestDb::start_with(
        |c| {
            c.index_settle = std::time::Duration::from_millis(50);
            c.bulk.page_size = 25;
        },
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

    // Registration: a lone token (PutItem) and a session-bound batch (a transaction) with
    // a user's aliases (UpdateItem) and a status list entry (UpdateItem of the allocator).
    let single = json!({"token": "a", "type": "access", "clientId": "c", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)});
    let batch = json!({"tokens": [
        {"token": "b", "type": "refresh", "clientId": "c", "sessionId": "s", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)},
        {"token": "c", "type": "access", "clientId": "c", "sessionId": "s", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400),
         "subject": "u", "loginId": "user-u", "email": "u@example.com", "status": true},
    ]});
    let registration = signoff_register::Settings {
        status_lists: signoff_tests::functions::status_lists(),
    };
    for body in [single, batch] {
        let request = post(
            "/signoff/v1/tenants/100/tokens",
            Some(&auth),
            Some("application/json"),
            &body.to_string(),
        );
        let response = signoff_register::handle(&db.store, &registration, request)
            .await
            .unwrap();
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
    let response =
        signoff_nativesso::handle(&db.store, &signoff_nativesso::Settings::default(), request)
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    assert_role_covers(&template, "nativesso-logout", &recorder).await;

    // Authlete's token APIs: one token with its grant (by value), a subject
    // with no time to delete inline (its purge job and message), a client for a subject
    // (a cutoff purged inline), a token deleted by hash, and lists of every scope.
    let mut pair = vec![
        seed::grant_token("100", "at-1", TokenType::Access, "c", "g-1"),
        seed::grant_token("100", "rt-1", TokenType::Refresh, "c", "g-1"),
    ];
    pair.extend((0..80).map(|i| seed::token("100", &format!("u-{i}"), TokenType::Access, "c")));
    seed::register(&db.store, pair).await;
    recorder.take();
    let queue = signoff_tests::queue::TestQueue::start(30, 5).await;
    let queued = signoff_nativesso::Settings {
        handoff: Some(queue.handoff(std::time::Duration::ZERO).await),
        ..signoff_nativesso::Settings::default()
    };
    let inline = signoff_nativesso::Settings::default();
    for (settings, body) in [
        (&inline, json!({"accessTokenIdentifier": "at-1"})),
        (&queued, json!({"subject": "alice"})),
        (
            &inline,
            json!({"clientIdentifier": "c", "subject": "alice"}),
        ),
    ] {
        let request = post(
            "/api/100/auth/token/revoke",
            Some(&auth),
            Some("application/json"),
            &body.to_string(),
        );
        let response = signoff_nativesso::handle(&db.store, settings, request)
            .await
            .unwrap();
        let (status, answer) = seed::parts(response);
        assert_eq!(status, 200, "{body}: {answer}");
    }
    let hash = signoff_store::item_key::TokenHash::of("a").encoded();
    let request = HttpApiEvent::new("DELETE", &format!("/api/100/auth/token/delete/{hash}"))
        .header("authorization", &auth)
        .request();
    let response = signoff_nativesso::handle(&db.store, &inline, request)
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(queue.depth(&queue.queue_url).await, 1, "a purge was queued");
    // Token lists: a subject's, a client's, the service's.
    for query in ["subject=alice&clientIdentifier=c", "clientIdentifier=c", ""] {
        let request = HttpApiEvent::get(&format!("/api/100/auth/token/get/list?{query}"))
            .header("authorization", &auth)
            .request();
        let response = signoff_nativesso::handle(&db.store, &inline, request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
    }
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
    let config = signoff_revoke::settings::Settings::for_tenant("100");
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
    // Global Token Revocation: the party, the assertion's jti, the user's alias and marker,
    // the user's tokens (more than one index page), and with no time to delete inline, the
    // hand-off to the purge (its job item, its message).
    let party_key =
        signoff_jose::SigningKey::generate(signoff_jose::Algorithm::Es256, Some("k")).unwrap();
    db.store
        .put_trusted_party(&signoff_store::trusted_parties::TrustedParty {
            tenant: "100".into(),
            issuer: "https://idp.example".into(),
            subject: "https://idp.example".into(),
            keys: vec![party_key.public_jwk()],
            subject_issuers: vec!["https://idp.example".into()],
            created_at: 0,
        })
        .await
        .unwrap();
    seed::session_tokens(&db.store, "100", "gtr", 60, "gtr").await;
    recorder.take();
    let queue = signoff_tests::queue::TestQueue::start(30, 5).await;
    let config = signoff_revoke::settings::Settings {
        public_base_url: Some("https://signoff.example".into()),
        handoff: Some(queue.handoff(std::time::Duration::ZERO).await),
        ..config
    };
    for (body, status) in [
        (
            json!({"sub_id": {"format": "opaque", "id": signoff_store::demo::SUBJECT}}),
            204,
        ),
        (
            json!({"sub_id": {"format": "email", "email": "nobody@example.com"}}),
            404,
        ),
    ] {
        let claims = signoff_jose::assertion_claims(
            "https://idp.example",
            "https://idp.example",
            "https://signoff.example/oauth2/global-token-revocation",
            &format!("jti-{status}"),
            signoff_store::now_epoch_seconds(),
            60,
        );
        let request = post(
            "/oauth2/global-token-revocation",
            Some(&format!("Bearer {}", party_key.sign(&claims))),
            Some("application/json"),
            &body.to_string(),
        );
        let response = signoff_revoke::handle(&db.store, &config, request)
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
    }
    assert_eq!(queue.depth(&queue.queue_url).await, 1, "a purge was queued");
    assert_role_covers(&template, "token-revoke", &recorder).await;
}

#[tokio::test]
async fn the_introspection_function_role_allows_every_dynamodb_call_its_code_makes() {
    let template = template();
    let (db, recorder) = recording_db().await;
    seed::tenant(&db.store, "100", None).await;
    let secret = seed::client(&db.store, "100", "api", true).await.unwrap();
    db.store
        .allow_introspection("100", "api", true)
        .await
        .unwrap();
    let mut record = seed::token("100", "t1", TokenType::Access, "web");
    record.session_id = Some("s1".into());
    record.grant_id = Some("g1".into());
    seed::register(&db.store, vec![record]).await;
    recorder.take();
    let settings = signoff_introspect::settings::Settings {
        tenant: "100".into(),
        issuer: "https://as.example".into(),
        signing_key: None,
        previous_signing_keys: vec![],
        introspection_scope: "introspection".into(),
        status_lists: signoff_tests::functions::status_lists(),
        ssf_issuer: None,
    };
    for token in ["t1", "unknown"] {
        let request = post(
            "/oauth2/introspect",
            Some(&seed::basic("api", &secret)),
            Some("application/x-www-form-urlencoded"),
            &format!("token={token}"),
        );
        let response = signoff_introspect::handle(&db.store, &settings, None, request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{token}");
    }
    // A Token Status List, built (allocation, by-status index, cutoffs, lease, keep) and
    // served, signed by a local KMS key.
    let kms = signoff_tests::kms::TestKms::start().await;
    kms.create_key(aws_sdk_kms::types::KeySpec::EccNistP256, "alias/signoff")
        .await;
    let keys = signoff_kms::KeySet::new(kms.client.clone(), "alias/signoff".into(), vec![]);
    let mut listed = seed::token("100", "t-listed", TokenType::Access, "web");
    listed.expires_at = listed.issued_at + 600;
    let entries = db
        .store
        .allocate_status_entries("100", 1, 1_024)
        .await
        .unwrap();
    db.store
        .register_tokens_with_status(&[listed], &[Some(entries[0])])
        .await
        .unwrap();
    recorder.take();
    let list = signoff_tests::event::HttpApiEvent::get("/signoff/v1/tenants/100/statuslists/0");
    let response = signoff_introspect::handle(&db.store, &settings, Some(&keys), list.request())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_role_covers(&template, "token-introspect", &recorder).await;
    // The key policy alone says who signs: the introspection role and the Authlete
    // function's (logout tokens), no one else; no function's IAM role names KMS at all.
    let key = &template["Resources"]["SigningKey"]["Properties"];
    assert_eq!(
        (key["KeySpec"].as_str(), key["KeyUsage"].as_str()),
        (Some("ECC_NIST_P256"), Some("SIGN_VERIFY"))
    );
    let statements = key["KeyPolicy"]["Statement"].as_array().unwrap();
    let may = |statement: &Value, action: &str| {
        let actions: Vec<&str> = match &statement["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        actions.iter().any(|a| {
            *a == action
                || a.strip_suffix('*')
                    .is_some_and(|prefix| action.starts_with(prefix))
        })
    };
    let signers: Vec<String> = statements
        .iter()
        .filter(|s| may(s, "kms:Sign"))
        .map(|s| reference(&s["Principal"]["AWS"]))
        .collect();
    assert_eq!(
        signers,
        [
            "GetAtt TokenIntrospectFunctionRole.Arn",
            "GetAtt NativeSsoLogoutFunctionRole.Arn",
            "GetAtt LogoutDeliverFunctionRole.Arn"
        ]
    );
    for (name, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] == "AWS::Serverless::Function" {
            let policies = resource["Properties"]["Policies"].to_string();
            assert!(
                !policies.contains("kms:"),
                "{name}'s role names KMS actions"
            );
        }
    }
}

#[tokio::test]
async fn the_descope_function_role_allows_every_dynamodb_call_its_code_makes() {
    use signoff_store::demo;
    let template = template();
    let recorder = IamActionRecorder::default();
    let db = TestDb::start_with(
        |c| {
            c.index_settle = std::time::Duration::from_millis(50);
            c.bulk.page_size = 25;
        },
        Some(SharedInterceptor::new(recorder.clone())),
    )
    .await;
    // Seeded just now, so logout also takes the second index read; with more of the
    // user's tokens than one index page, and no time to delete inline, logout-all hands
    // the rest to the purge (its job item, its message).
    demo::seed_project(&db.store).await.expect("demo project");
    seed::session_tokens(&db.store, demo::PROJECT_ID, "bulk", 60, "bulk").await;
    recorder.take();
    let queue = signoff_tests::queue::TestQueue::start(30, 5).await;
    let settings = signoff_descope::settings::Settings {
        handoff: Some(queue.handoff(std::time::Duration::ZERO).await),
        ..Default::default()
    };
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
    assert_eq!(
        queue.depth(&queue.queue_url).await,
        1,
        "logout-all started a purge"
    );
    // The management logout: by login id (an alias), then by user id (a mark or a token).
    let auth = format!(
        "Bearer {}:{}",
        demo::PROJECT_ID,
        demo::PROJECT_MANAGEMENT_KEY
    );
    for (body, status) in [
        (json!({"loginId": demo::PROJECT_USER_LOGIN_ID}), 200),
        (json!({"userId": demo::PROJECT_USER}), 200),
        (json!({"userId": "nobody"}), 404),
    ] {
        let request = post(
            "/v1/mgmt/user/logout",
            Some(&auth),
            Some("application/json"),
            &body.to_string(),
        );
        let response = signoff_descope::handle(&db.store, &settings, request)
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
    }
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

#[tokio::test]
async fn the_purge_function_role_allows_every_dynamodb_call_its_code_makes() {
    use signoff_store::cutoffs::Cutoff;
    use signoff_store::purge::ShardStep;
    let template = template();
    let (db, recorder) = recording_db().await;
    seed::tenant(&db.store, "100", None).await;
    let records = (0..40)
        .map(|i| seed::token("100", &format!("t-{i}"), TokenType::Access, "web"))
        .collect();
    seed::register(&db.store, records).await;
    // A client's purge and a user's (whose running entry the function finishes): the
    // seeded tokens are all alice's, so the user's purge finds none left.
    let cutoff = db
        .store
        .write_cutoff("100", Cutoff::Client { client_id: "web" })
        .await
        .unwrap();
    let client_job = db
        .store
        .create_purge("100", Cutoff::Client { client_id: "web" }, cutoff)
        .await
        .unwrap();
    let user = signoff_store::purge::PurgeScope::User {
        subject: "alice".into(),
    };
    let user_job = db.store.create_purge("100", user, cutoff).await.unwrap();
    db.store.track_background_purge(&user_job).await.unwrap();
    recorder.take();
    // What the function does: read the job, count it, walk every shard to its end, and
    // finish the job once every shard is done.
    let mut deleted = 0;
    for job in [client_job, user_job] {
        let job = db
            .store
            .purge_job("100", &job.job_id)
            .await
            .unwrap()
            .unwrap();
        db.store.estimate_purge(&job).await.unwrap();
        for shard in 0..signoff_store::item_key::PURGE_SHARDS {
            loop {
                let page = db.store.purge_shard_page(&job, shard).await.unwrap();
                deleted += page.deleted;
                if page.step == ShardStep::Done {
                    db.store.finish_background_purge(&job).await.unwrap();
                    break;
                }
            }
        }
    }
    assert_eq!(deleted, 40);
    assert_role_covers(&template, "purge", &recorder).await;
}

#[test]
fn the_purge_runs_from_its_queue_whose_dead_letters_raise_an_alarm() {
    let template = template();
    let purge = &template["Resources"]["PurgeFunction"]["Properties"];
    let source = &purge["Events"]["Queue"];
    assert_eq!(source["Type"], "SQS");
    assert_eq!(
        reference(&source["Properties"]["Queue"]),
        "GetAtt PurgeQueue.Arn"
    );
    assert_eq!(source["Properties"]["BatchSize"], 1);
    assert_eq!(
        source["Properties"]["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    // The function may send to its own queue and to nothing else.
    let sends: Vec<String> = purge["Policies"][0]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Action"].to_string().contains("sqs:"))
        .map(|s| reference(&s["Resource"]))
        .collect();
    assert_eq!(sends, ["GetAtt PurgeQueue.Arn"]);
    let queue = &template["Resources"]["PurgeQueue"]["Properties"];
    // A message must stay hidden while an invocation may still be running it (AWS
    // advises six times the function's timeout).
    let timeout = purge["Timeout"].as_u64().unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    assert_eq!(
        reference(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
        "GetAtt PurgeDeadLetterQueue.Arn"
    );
    let found = alarms_on(
        &template,
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "GetAtt PurgeDeadLetterQueue.QueueName",
    );
    let (name, alarm) = found.first().expect("no alarm on the purge's dead letters");
    assert_eq!(alarm["Properties"]["Threshold"], 1, "{name}");
}

#[tokio::test]
async fn the_logout_delivery_roles_allow_every_dynamodb_call_their_code_makes() {
    use signoff_store::backchannel::{BackchannelLogout, Reach};
    let template = template();
    let (db, recorder) = recording_db().await;
    seed::tenant(&db.store, "100", None).await;
    seed::client(&db.store, "100", "web", true).await;
    let logout = BackchannelLogout::new("https://rp.example/bcl", false, Reach::Public).unwrap();
    db.store
        .set_backchannel_logout("100", "web", Some(&logout))
        .await
        .unwrap();
    seed::register(
        &db.store,
        vec![seed::token("100", "t-1", TokenType::Access, "web")],
    )
    .await;
    recorder.take();
    // The fanout: a logout-all's clients, then each client's logout URI.
    let clients = db.store.user_clients("100", "alice").await.unwrap();
    assert_eq!(clients, ["web"]);
    db.store.client_logout("100", "web").await.unwrap();
    // The tenant's Shared Signals receivers; a revoked device's sessions.
    db.store.ssf_receivers("100").await.unwrap();
    db.store
        .device_sessions("100", "d-1", "corp", "cn=alice")
        .await
        .unwrap();
    assert_role_covers(&template, "logout-fanout", &recorder).await;
    // The delivery: the client's logout URI, read again for each attempt; the attempt
    // claimed, then finished.
    db.store.client_logout("100", "web").await.unwrap();
    db.store.ssf_receiver("100", "siem").await.unwrap();
    let hold = std::time::Duration::from_secs(120);
    assert!(db.store.claim_delivery("100", "a-1", hold).await.unwrap());
    db.store.finish_delivery("100", "a-1").await.unwrap();
    assert_role_covers(&template, "logout-deliver", &recorder).await;
}

#[test]
fn logout_delivery_runs_from_the_stream_and_a_queue_whose_undelivered_raise_an_alarm() {
    let template = template();
    let resources = &template["Resources"];
    assert_eq!(
        resources["TokenTable"]["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    let fanout = &resources["LogoutFanoutFunction"]["Properties"];
    let stream = &fanout["Events"]["Stream"];
    assert_eq!(stream["Type"], "DynamoDB");
    assert_eq!(
        reference(&stream["Properties"]["Stream"]),
        "GetAtt TokenTable.StreamArn"
    );
    assert_eq!(
        stream["Properties"]["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    // Only logouts invoke it: ended sessions and user markers (what `scripts/dev` and the
    // tests' stream runner filter with --filter-pk-prefix).
    let patterns: Vec<Value> = stream["Properties"]["FilterCriteria"]["Filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    let prefixes: Vec<&str> = patterns
        .iter()
        .map(|p| {
            p["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(prefixes, ["session#", "user#", "cutoff#", "device#"]);
    assert_eq!(
        patterns[0]["dynamodb"]["NewImage"]["ended_at"]["N"][0]["exists"],
        true
    );
    for marker in &patterns[1..] {
        assert_eq!(
            marker["dynamodb"]["NewImage"]["revoked_at"]["N"][0]["exists"],
            true
        );
    }
    // Retried for as long as the stream keeps the records.
    assert_eq!(stream["Properties"]["MaximumRetryAttempts"], -1);
    assert_eq!(
        reference(&stream["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]),
        "GetAtt LogoutFanoutFailureQueue.Arn"
    );
    let deliver = &resources["LogoutDeliverFunction"]["Properties"];
    let source = &deliver["Events"]["Queue"]["Properties"];
    assert_eq!(
        reference(&source["Queue"]),
        "GetAtt LogoutDeliveryQueue.Arn"
    );
    assert_eq!(
        source["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    let sends = |function: &Value| -> Vec<String> {
        function["Policies"][0]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"].to_string().contains("sqs:"))
            .flat_map(|s| match &s["Resource"] {
                Value::Array(list) => list.iter().map(reference).collect(),
                one => vec![reference(one)],
            })
            .collect()
    };
    assert_eq!(
        sends(fanout),
        [
            "GetAtt LogoutDeliveryQueue.Arn",
            "GetAtt LogoutFanoutFailureQueue.Arn"
        ]
    );
    assert_eq!(
        sends(deliver),
        [
            "GetAtt LogoutDeliveryQueue.Arn",
            "GetAtt UndeliveredLogoutQueue.Arn"
        ]
    );
    let queue = &resources["LogoutDeliveryQueue"]["Properties"];
    let timeout = deliver["Timeout"].as_u64().unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    assert_eq!(
        reference(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
        "GetAtt UndeliveredLogoutQueue.Arn"
    );
    for watched in [
        "GetAtt UndeliveredLogoutQueue.QueueName",
        "GetAtt LogoutFanoutFailureQueue.QueueName",
    ] {
        let found = alarms_on(
            &template,
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            watched,
        );
        let (name, alarm) = found
            .first()
            .unwrap_or_else(|| panic!("no alarm on {watched}"));
        assert_eq!(alarm["Properties"]["Threshold"], 1, "{name}");
    }
}

#[test]
fn only_the_logout_delivery_opens_receivers_sealed_authorization_headers() {
    let template = template();
    let resources = &template["Resources"];
    let key = &resources["ReceiverSecretsKey"]["Properties"];
    assert_eq!(key["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(key["EnableKeyRotation"], true);
    let statements = key["KeyPolicy"]["Statement"].as_array().unwrap();
    let decrypting: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            s["Action"].to_string().contains("kms:Decrypt")
                || s["Action"].to_string().contains("kms:*")
        })
        .collect();
    assert_eq!(decrypting.len(), 1, "{decrypting:#?}");
    assert_eq!(
        reference(&decrypting[0]["Principal"]["AWS"]),
        "GetAtt LogoutDeliverFunctionRole.Arn"
    );
    assert_eq!(
        decrypting[0]["Condition"]["StringEquals"]["kms:EncryptionContext:signoff:purpose"],
        "ssf-receiver-authorization"
    );
    // Sealing is for receivers' headers only; no key grants grants (a grant could hand
    // out Decrypt, or Sign with the signing key).
    let encrypting: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Action"].to_string().contains("kms:Encrypt"))
        .collect();
    assert_eq!(encrypting.len(), 1, "{encrypting:#?}");
    assert_eq!(
        encrypting[0]["Condition"]["StringEquals"]["kms:EncryptionContext:signoff:purpose"],
        "ssf-receiver-authorization"
    );
    for key in ["ReceiverSecretsKey", "SigningKey"] {
        let policy = resources[key]["Properties"]["KeyPolicy"].to_string();
        assert!(
            !policy.contains("kms:Create*") && !policy.contains("CreateGrant"),
            "{key}: {policy}"
        );
    }
    let deliver = &resources["LogoutDeliverFunction"]["Properties"];
    assert_eq!(
        reference(&deliver["Environment"]["Variables"]["SIGNOFF_SECRETS_KEY_ID"]),
        "GetAtt ReceiverSecretsKey.Arn"
    );
    // SETs are signed as the URL the SSF metadata is served under.
    let issuer = deliver["Environment"]["Variables"]["SIGNOFF_SSF_ISSUER"].to_string();
    assert!(
        issuer.contains("PublicBaseUrl") && issuer.contains("execute-api"),
        "{issuer}"
    );
    assert_eq!(
        reference(&template["Outputs"]["ReceiverSecretsKeyId"]["Value"]),
        "GetAtt ReceiverSecretsKey.Arn"
    );
}

// ---- Alarms and the dashboard ----

/// What a short-form intrinsic (`!Ref X`, `!GetAtt X.Y`) refers to, or a plain string as is.
fn reference(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(map) if map.len() == 1 => {
            let (tag, inner) = map.iter().next().unwrap();
            match (tag.as_str(), inner) {
                ("!Ref", Value::String(name)) => format!("Ref {name}"),
                ("!GetAtt", Value::String(name)) => format!("GetAtt {name}"),
                _ => value.to_string(),
            }
        }
        _ => value.to_string(),
    }
}

/// One metric an alarm watches: namespace, name and dimensions (values as [`reference`]s).
#[derive(Debug)]
struct Watched {
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
    /// The id in a metric-math alarm, if any.
    id: Option<String>,
}

fn dimensions(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["Name"].as_str().expect("dimension Name").to_owned(),
                reference(&d["Value"]),
            )
        })
        .collect()
}

/// The metrics `alarm` watches, directly or through metric math.
fn watched(alarm: &Value) -> Vec<Watched> {
    let p = &alarm["Properties"];
    if let Some(name) = p["MetricName"].as_str() {
        return vec![Watched {
            namespace: p["Namespace"].as_str().expect("Namespace").to_owned(),
            name: name.to_owned(),
            dimensions: dimensions(&p["Dimensions"]),
            id: None,
        }];
    }
    p["Metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let metric = &m["MetricStat"]["Metric"];
            Some(Watched {
                namespace: metric["Namespace"].as_str()?.to_owned(),
                name: metric["MetricName"].as_str()?.to_owned(),
                dimensions: dimensions(&metric["Dimensions"]),
                id: m["Id"].as_str().map(str::to_owned),
            })
        })
        .collect()
}

fn alarms(template: &Value) -> Vec<(&String, &Value)> {
    template["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect()
}

/// The alarms with a metric in `namespace` named `name` whose dimension `dimension` is
/// `value`.
fn alarms_on<'a>(
    template: &'a Value,
    namespace: &str,
    name: &str,
    dimension: &str,
    value: &str,
) -> Vec<(&'a String, &'a Value)> {
    alarms(template)
        .into_iter()
        .filter(|(_, alarm)| {
            watched(alarm).iter().any(|w| {
                w.namespace == namespace
                    && w.name == name
                    && w.dimensions
                        .iter()
                        .any(|(k, v)| k == dimension && v == value)
            })
        })
        .collect()
}

/// A metric-math alarm returns one expression, which uses every metric it fetches (a
/// metric left out of the expression is watched by nobody).
fn assert_expression_uses_every_metric(name: &str, alarm: &Value) {
    let metrics = alarm["Properties"]["Metrics"].as_array();
    let Some(metrics) = metrics else { return };
    let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1, "{name} must return exactly one series");
    let expression = returned[0]["Expression"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} returns a metric, not an expression"));
    for w in watched(alarm) {
        let id = w.id.expect("metric id");
        let used = expression
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|token| token == id);
        assert!(used, "{name}: {expression} leaves out {id} ({})", w.name);
    }
}

#[test]
fn every_function_has_an_errors_alarm_and_a_throttles_alarm() {
    let template = template();
    let functions: Vec<&String> = template["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(functions.len(), 9);
    for function in functions {
        for metric in ["Errors", "Throttles"] {
            let found = alarms_on(
                &template,
                "AWS/Lambda",
                metric,
                "FunctionName",
                &format!("Ref {function}"),
            );
            let (name, alarm) = found
                .first()
                .unwrap_or_else(|| panic!("{function} has no {metric} alarm"));
            // One error or throttle is enough to look: anything higher hides a few.
            let p = &alarm["Properties"];
            assert_eq!(
                p["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
                "{name}"
            );
            assert_eq!(p["Threshold"], 1, "{name}");
            assert_eq!(p["TreatMissingData"], "notBreaching", "{name}");
        }
    }
}

#[test]
fn the_table_alarms_cover_throttling_and_system_errors_of_every_operation_the_roles_allow() {
    let template = template();
    let table = "Ref TokenTable";
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        assert!(
            !alarms_on(&template, "AWS/DynamoDB", metric, "TableName", table).is_empty(),
            "no {metric} alarm on the table"
        );
    }
    // DynamoDB reports these per operation: an operation left out is not watched.
    let mut operations: BTreeSet<String> = template["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .flat_map(|r| r["Properties"]["Policies"].as_array().into_iter().flatten())
        .flat_map(|policy| policy["Statement"].as_array().into_iter().flatten())
        .flat_map(|statement| match &statement["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        })
        .filter_map(|action| action.strip_prefix("dynamodb:").map(str::to_owned))
        .collect();
    // Registration's transaction, authorized as PutItem and UpdateItem (see the template).
    operations.insert("TransactWriteItems".into());
    // Housekeeping's PartiQL deletes, which it only ever sends in batches.
    if operations.remove("PartiQLDelete") {
        operations.insert("BatchExecuteStatement".into());
    }
    for metric in ["ThrottledRequests", "SystemErrors"] {
        let found = alarms_on(&template, "AWS/DynamoDB", metric, "TableName", table);
        let (name, alarm) = found
            .first()
            .unwrap_or_else(|| panic!("no {metric} alarm on the table"));
        let watched_operations: BTreeSet<String> = watched(alarm)
            .into_iter()
            .filter(|w| w.name == metric)
            .filter_map(|w| {
                w.dimensions
                    .into_iter()
                    .find(|(k, _)| k == "Operation")
                    .map(|(_, v)| v)
            })
            .collect();
        let missing: Vec<_> = operations.difference(&watched_operations).collect();
        assert!(missing.is_empty(), "{name} does not watch {missing:?}");
        assert_expression_uses_every_metric(name, alarm);
    }
}

#[test]
fn the_api_5xx_alarm_is_a_rate_over_the_templates_api() {
    let template = template();
    let found = alarms_on(&template, "AWS/ApiGateway", "5xx", "ApiId", "Ref HttpApi");
    let (name, alarm) = found.first().expect("no 5xx alarm on HttpApi");
    let metrics = watched(alarm);
    let id_of = |metric: &str| {
        metrics
            .iter()
            .find(|w| {
                w.name == metric && w.dimensions == [("ApiId".to_owned(), "Ref HttpApi".to_owned())]
            })
            .and_then(|w| w.id.clone())
            .unwrap_or_else(|| panic!("{name} fetches no {metric} of HttpApi"))
    };
    let (errors, requests) = (id_of("5xx"), id_of("Count"));
    assert_expression_uses_every_metric(name, alarm);
    let expression = alarm["Properties"]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["Expression"].as_str())
        .unwrap();
    assert!(
        expression.contains(&format!("{errors} / {requests}")),
        "{name} is not the 5xx count over the request count: {expression}"
    );
}

#[test]
fn the_failure_queue_alarm_watches_the_housekeeping_failure_destination() {
    let template = template();
    let on_failure = &template["Resources"]["HousekeepingFunction"]["Properties"]
        ["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"];
    // The destination is the queue's ARN; CloudWatch names the queue by its name.
    let queue = reference(on_failure)
        .strip_prefix("GetAtt ")
        .and_then(|r| r.strip_suffix(".Arn"))
        .map(str::to_owned)
        .expect("the destination is a queue of the template");
    let found = alarms_on(
        &template,
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        &format!("GetAtt {queue}.QueueName"),
    );
    let (name, alarm) = found.first().expect("no alarm on the failure queue");
    let p = &alarm["Properties"];
    assert_eq!(
        p["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
        "{name}"
    );
    assert_eq!(p["Threshold"], 1, "{name}: one failed run is enough");
}

#[test]
fn with_a_topic_every_alarm_notifies_it_and_without_one_none_does() {
    let template = template();
    let parameter = &template["Parameters"]["AlarmTopicArn"];
    assert_eq!(parameter["Default"], "", "notifications are optional");
    // The condition is true exactly when the parameter is set.
    let condition = json!({"!Not": [{"!Equals": [{"!Ref": "AlarmTopicArn"}, ""]}]});
    let conditions = template["Conditions"].as_object().expect("conditions");
    let (condition_name, _) = conditions
        .iter()
        .find(|(_, c)| **c == condition)
        .expect("a condition that AlarmTopicArn is set");
    let all = alarms(&template);
    assert!(all.len() >= 16, "{} alarms", all.len());
    for (name, alarm) in all {
        for key in ["AlarmActions", "OKActions"] {
            let actions = &alarm["Properties"][key];
            let branches = actions["!If"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}.{key} is not conditional: {actions}"));
            assert_eq!(branches.len(), 3, "{name}.{key}");
            assert_eq!(branches[0], condition_name.as_str(), "{name}.{key}");
            // Set: the topic, and only it. Not set: no actions at all.
            assert_eq!(
                branches[1],
                json!([{"!Ref": "AlarmTopicArn"}]),
                "{name}.{key}"
            );
            assert_eq!(branches[2], json!({"!Ref": "AWS::NoValue"}), "{name}.{key}");
        }
    }
}

/// The metrics each emitter declares in its EMF lines, from the code itself: the HTTP
/// functions' (signoff_edge::metrics) and housekeeping's. Each with its dimension names.
fn emitted_metrics() -> Vec<(&'static str, BTreeSet<String>, Vec<String>)> {
    use signoff_edge::metrics::{emf_line, Outcome};
    use signoff_store::housekeeping::{SweepEnd, SweepReport};
    let directive = |line: &Value| {
        let d = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], signoff_edge::metrics::NAMESPACE);
        let names: BTreeSet<String> = d["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect();
        let dims: Vec<String> = d["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect();
        (names, dims)
    };
    // With a token count, an HTTP line declares every metric it can.
    let http = emf_line(
        "f",
        Outcome::Ok,
        std::time::Duration::ZERO,
        Some(1),
        None,
        std::time::UNIX_EPOCH,
    );
    let (http_names, http_dims) = directive(&http);
    let report = SweepReport {
        read: 0,
        deleted: 0,
        skipped: 0,
        queries: 0,
        delete_requests: 0,
        hours_finished: 0,
        next_hour: 0,
        backlog_hours: 0,
        end: SweepEnd::Complete,
    };
    let housekeeping = signoff_housekeeping::Metrics {
        function_name: "f".into(),
    }
    .emf_line(&report, false, std::time::UNIX_EPOCH);
    assert_eq!(
        housekeeping["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        signoff_housekeeping::METRICS_NAMESPACE
    );
    let (hk_names, hk_dims) = directive(&housekeeping);
    vec![
        ("http", http_names, http_dims),
        ("housekeeping", hk_names, hk_dims),
    ]
}

/// AWS metrics the dashboard may plot, with the dimensions each is plotted by.
const AWS_METRICS: &[(&str, &[&str], &[&str])] = &[
    (
        "AWS/Lambda",
        &["Errors", "Throttles", "Invocations", "Duration"],
        &["FunctionName"],
    ),
    (
        "AWS/ApiGateway",
        &["5xx", "4xx", "Count", "Latency"],
        &["ApiId"],
    ),
    (
        "AWS/DynamoDB",
        &["ReadThrottleEvents", "WriteThrottleEvents"],
        &["TableName"],
    ),
    (
        "AWS/SQS",
        &["ApproximateNumberOfMessagesVisible"],
        &["QueueName"],
    ),
];

#[test]
fn the_dashboard_is_json_and_plots_only_metrics_that_exist() {
    let template = template();
    let resources = template["Resources"].as_object().expect("resources");
    let dashboards: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Dashboard")
        .collect();
    assert_eq!(dashboards.len(), 1);
    let body = dashboards[0]["Properties"]["DashboardBody"]["!Sub"]
        .as_str()
        .expect("DashboardBody is a !Sub string");
    // Every ${…} names a resource (or its attribute) or a pseudo parameter; each becomes a
    // placeholder that keeps the name, so the JSON can be parsed and its references read.
    let mut text = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("closed ${") + start;
        let name = &rest[start + 2..end];
        let resource = name.split('.').next().unwrap();
        assert!(
            resources.contains_key(resource) || name.starts_with("AWS::"),
            "the dashboard refers to {name}, which the template does not define"
        );
        text.push_str(&rest[..start]);
        text.push_str(&format!("<{name}>"));
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    let dashboard: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{text}"));

    let emitted = emitted_metrics();
    let http_functions: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| {
            r["Properties"]["Events"]
                .as_object()
                .is_some_and(|e| e.values().any(|e| e["Type"] == "HttpApi"))
        })
        .map(|(name, _)| format!("<{name}>"))
        .collect();
    assert_eq!(http_functions.len(), 5);
    let outcomes: Vec<&str> = signoff_edge::metrics::Outcome::ALL
        .iter()
        .map(|o| o.as_str())
        .collect();
    let mut plotted: Vec<(String, String)> = vec![];
    let widgets = dashboard["widgets"].as_array().expect("widgets");
    for widget in widgets {
        let title = widget["properties"]["title"].as_str().unwrap_or_default();
        let metrics = widget["properties"]["metrics"].as_array();
        assert!(
            widget["type"] != "metric" || metrics.is_some_and(|m| !m.is_empty()),
            "{title}: no metrics"
        );
        for metric in metrics.into_iter().flatten() {
            let parts = metric.as_array().expect("a metric is an array");
            let strings: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
            let options = parts.last().filter(|p| p.is_object());
            let stat = options
                .and_then(|o| o["stat"].as_str())
                .unwrap_or("Average")
                .to_owned();
            let (namespace, name) = (strings[0], strings[1]);
            let dims: Vec<(&str, &str)> = strings[2..]
                .chunks(2)
                .map(|pair| (pair[0], pair[1]))
                .collect();
            let dim_names: Vec<&str> = dims.iter().map(|(k, _)| *k).collect();
            if namespace == signoff_edge::metrics::NAMESPACE {
                let (emitter, _, expected_dims) = emitted
                    .iter()
                    .find(|(_, names, _)| names.contains(name))
                    .unwrap_or_else(|| panic!("{title}: no function emits {namespace}/{name}"));
                assert_eq!(&dim_names, expected_dims, "{title}: {name}");
                for (key, value) in &dims {
                    match (*emitter, *key) {
                        ("http", "FunctionName") => assert!(
                            http_functions.contains(*value),
                            "{title}: {name} of {value}, which is no HTTP function"
                        ),
                        ("housekeeping", "FunctionName") => {
                            assert_eq!(*value, "<HousekeepingFunction>", "{title}: {name}")
                        }
                        (_, "Outcome") => {
                            assert!(outcomes.contains(value), "{title}: Outcome {value}")
                        }
                        _ => panic!("{title}: unexpected dimension {key}"),
                    }
                }
            } else {
                let known = AWS_METRICS
                    .iter()
                    .find(|(ns, names, _)| *ns == namespace && names.contains(&name));
                let (_, _, expected_dims) =
                    known.unwrap_or_else(|| panic!("{title}: {namespace}/{name} is not known"));
                assert_eq!(&dim_names, expected_dims, "{title}: {name}");
            }
            plotted.push((name.to_owned(), stat));
        }
    }
    // What the dashboard is for: logouts (sample counts of TokensRevoked), tokens revoked,
    // latency at p50 and p99, and errors.
    use signoff_edge::metrics::{LATENCY, REQUESTS, TOKENS_REVOKED};
    for (name, stat) in [
        (TOKENS_REVOKED, "SampleCount"),
        (TOKENS_REVOKED, "Sum"),
        (LATENCY, "p50"),
        (LATENCY, "p99"),
        (REQUESTS, "Sum"),
        ("Errors", "Sum"),
        ("5xx", "Sum"),
    ] {
        assert!(
            plotted.iter().any(|(n, s)| n == name && s == stat),
            "the dashboard plots no {stat} of {name}"
        );
    }
}
