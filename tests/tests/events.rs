//! Every `events/*.json` (the API Gateway events shipped for `sam local invoke -e` and
//! `cargo lambda invoke --data-file`) replayed through its function's handler against a
//! database holding the demo data, as `scripts/dev` seeds it, with the signing key in a
//! local KMS (moto's server) as `scripts/dev` starts one.

use std::path::PathBuf;

use signoff_store::demo;
use signoff_tests::db::TestDb;
use signoff_tests::functions;
use signoff_tests::gateway::routes_from_manifest;
use signoff_tests::paths::workspace;
use signoff_tests::seed::{self, parts};

/// Runs a scheduled event through the housekeeping handler, with a minute to go.
async fn run_housekeeping(
    db: &TestDb,
    event: serde_json::Value,
) -> signoff_store::housekeeping::SweepReport {
    let settings =
        signoff_housekeeping::settings::Settings::from_lookup(|_| None).expect("defaults");
    let metrics = signoff_housekeeping::Metrics {
        function_name: "housekeeping".into(),
    };
    let mut context = lambda_http::lambda_runtime::Context::default();
    context.deadline = (signoff_store::now_epoch_seconds() as u64 + 60) * 1000;
    let event = lambda_http::lambda_runtime::LambdaEvent::new(event, context);
    signoff_housekeeping::handle(&db.store, &settings, &metrics, event)
        .await
        .expect("housekeeping runs")
}

/// Runs a stream event through the fanout with demo-app listening for logouts, and
/// returns after checking the one delivery it queued (on moto's SQS, beside the KMS).
async fn run_fanout(db: &TestDb, kms: &signoff_tests::kms::TestKms, event: serde_json::Value) {
    use signoff_store::backchannel::{BackchannelLogout, Reach};
    let logout = BackchannelLogout::new(
        "http://127.0.0.1:8002/rp/demo-app/logout",
        false,
        Reach::Loopback,
    )
    .unwrap();
    db.store
        .set_backchannel_logout(demo::SERVICE_ID, demo::CLIENT_ID, Some(&logout))
        .await
        .unwrap();
    let sdk = signoff_tests::queue::local_sdk(&kms.endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name("signoff-logouts")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let settings = signoff_backchannel::settings::FanoutSettings {
        tenant: demo::SERVICE_ID.into(),
        deliveries_url: url.clone(),
    };
    let deliveries = signoff_queue::Queue::new(&sdk, url.clone());
    let event = serde_json::from_value(event).expect("a DynamoDB Streams event");
    let event = lambda_http::lambda_runtime::LambdaEvent::new(
        event,
        lambda_http::lambda_runtime::Context::default(),
    );
    let response = signoff_backchannel::fanout::handle(&db.store, &deliveries, &settings, event)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let received = deliveries
        .receive(std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let delivery: signoff_queue::logouts::LogoutDelivery =
        serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        (
            delivery.client_id.as_str(),
            delivery.session_id.as_deref(),
            delivery.subject.as_deref()
        ),
        (demo::CLIENT_ID, Some(demo::SESSION_ID), Some(demo::SUBJECT))
    );
}

#[tokio::test]
async fn every_event_runs_through_its_handler() {
    let routes = routes_from_manifest(&workspace().join("Cargo.toml")).expect("router table");
    let db = TestDb::start().await;
    demo::seed(&db.store, 20, |_| {}).await.expect("demo data");
    demo::seed_global_revocation(&db.store)
        .await
        .expect("the demo trusted party");
    let entries = demo::seed_status_entries(&db.store, 1_024)
        .await
        .expect("the demo status entries");
    let kms = signoff_tests::kms::TestKms::start().await;
    kms.create_key(aws_sdk_kms::types::KeySpec::EccNistP256, "alias/signoff")
        .await;

    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("events"))
        .expect("events/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    // By name (logout before logout-all), but registration first: it uses a session the
    // logout event does not end.
    files.sort();
    files.sort_by_key(|p| !p.ends_with("token-register.json"));
    // As `scripts/dev` serves it: the demo tenant, the default device policy, the key.
    let mut settings = functions::Settings::demo();
    let keys = std::sync::Arc::new(signoff_kms::KeySet::new(
        kms.client.clone(),
        "alias/signoff".into(),
        vec![],
    ));
    settings.introspection_keys = Some(keys.clone());
    settings.authlete.logout_tokens = Some(signoff_nativesso::LogoutTokens {
        issuer: functions::ISSUER.into(),
        tenant: demo::SERVICE_ID.into(),
        keys,
    });
    let mut covered = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable event");
        let event: serde_json::Value = serde_json::from_str(&text).expect("event is JSON");
        if event["Records"][0]["eventSource"] == "aws:dynamodb" {
            // The table's stream: the demo session's end, fanned out to demo-app.
            run_fanout(&db, &kms, event).await;
            covered.push("logout-fanout".to_owned());
            continue;
        }
        if event["source"] == "aws.events" {
            // The schedule's event: housekeeping deletes the demo's expired records.
            let summary = run_housekeeping(&db, event).await;
            assert_eq!(summary.deleted, demo::EXPIRED_TOKENS as u64, "{summary:?}");
            assert_eq!(summary.end, signoff_store::housekeeping::SweepEnd::Complete);
            covered.push("housekeeping".to_owned());
            continue;
        }
        let route_key = event["routeKey"].as_str().expect("routeKey");
        let route = routes
            .iter()
            .find(|r| format!("{} {}", r.method, r.path) == route_key)
            .unwrap_or_else(|| panic!("{}: no route {route_key} in Cargo.toml", file.display()));
        let request = lambda_http::request::from_str(&text).expect("an API Gateway v2 event");
        let response = functions::handle(&route.function, &db.store, &settings, request).await;
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "status-list.json" {
            // A signed Status List Token, gzip-compressed as the event asks, for the list
            // the demo's access tokens hold entries of.
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers()["content-type"],
                "application/statuslist+jwt"
            );
            assert_eq!(response.headers()["content-encoding"], "gzip");
            let lambda_http::Body::Binary(gzipped) = response.body() else {
                panic!("a compressed body");
            };
            let mut jwt = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(gzipped.as_slice()),
                &mut jwt,
            )
            .unwrap();
            let payload = jwt.split('.').nth(1).expect("a JWT");
            let claims: serde_json::Value = serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .unwrap(),
            )
            .unwrap();
            let list = entries[0].list;
            assert!(
                claims["sub"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/signoff/v1/tenants/715948317/statuslists/{list}")),
                "{claims}"
            );
            covered.push(route_key.to_owned());
            continue;
        }
        let (status, body) = parts(response);
        match name.as_str() {
            "nativesso-logout.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["count"], 20, "the demo session's tokens are deleted");
                assert_eq!(
                    seed::count_session_tokens(&db.store, "715948317", "demo-session-1").await,
                    0
                );
            }
            "authlete-client-authorization-delete-subject.json" => {
                // Sorted first: the partner app's tokens of the demo user go here.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["resultCode"], "A137001");
                let message = body["resultMessage"].as_str().unwrap();
                assert!(
                    message.starts_with(&format!(
                        "[A137001] Deleted {} token record(s)",
                        demo::PARTNER_TOKENS
                    )),
                    "{message}"
                );
                for i in 0..demo::PARTNER_TOKENS {
                    let value = format!("demo-partner-token-{i}");
                    assert!(!seed::token_stored(&db.store, demo::SERVICE_ID, &value).await);
                }
            }
            "authlete-client-authorization-delete.json" => {
                // The same authorization again, in the query form: nothing left.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["resultCode"], "A137001");
                assert!(body["resultMessage"]
                    .as_str()
                    .unwrap()
                    .starts_with("[A137001] Deleted 0 token record(s)"));
            }
            "authlete-token-delete.json" => {
                assert_eq!(status, 204, "{body}");
                assert!(
                    !seed::token_stored(&db.store, demo::SERVICE_ID, demo::AUTHLETE_ACCESS_TOKEN)
                        .await
                );
            }
            "authlete-token-get-list.json" => {
                // Before the revocation below: the departed employee's tokens, by hash.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["totalCount"], demo::DEPARTED_TOKENS, "{body}");
                let listed: Vec<&str> = body["accessTokens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        t["accessTokenHash"]
                            .as_str()
                            .or(t["refreshTokenHash"].as_str())
                            .unwrap()
                    })
                    .collect();
                for i in 0..demo::DEPARTED_TOKENS {
                    let hash =
                        signoff_store::item_key::TokenHash::of(&format!("demo-departed-token-{i}"));
                    assert!(listed.contains(&hash.encoded().as_str()), "{body}");
                }
                assert!(!body.to_string().contains("demo-departed-token-"));
            }
            "authlete-token-revoke.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["resultCode"], "A312001");
                assert_eq!(body["count"], demo::DEPARTED_TOKENS as u64, "{body}");
            }
            "token-register.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["registered"], 1);
                assert_eq!(
                    seed::count_session_tokens(&db.store, "715948317", "demo-session-2").await,
                    1
                );
            }
            "descope-keys.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["keys"][0]["kid"], demo::PROJECT_KEY_ID);
            }
            "descope-logout.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["sessionJwt"], "");
                // The first demo session's refresh JWT and its access tokens are gone.
                let session = demo::PROJECT_SESSIONS[0];
                let left = seed::count_session_tokens(&db.store, demo::PROJECT_ID, session).await;
                assert_eq!(left, 0);
                let other = demo::PROJECT_SESSIONS[1];
                let kept = seed::count_session_tokens(&db.store, demo::PROJECT_ID, other).await;
                assert_eq!(kept, demo::PROJECT_ACCESS_TOKENS_PER_SESSION + 1);
            }
            "descope-logoutall.json" => {
                assert_eq!(status, 200, "{body}");
                for session in demo::PROJECT_SESSIONS {
                    let left =
                        seed::count_session_tokens(&db.store, demo::PROJECT_ID, session).await;
                    assert_eq!(left, 0, "{session}");
                }
            }
            "descope-mgmt-user-logout.json" => {
                // After descope-logoutall.json: the demo user, named by the login id
                // registration recorded, is known by its mark and logged out again.
                assert_eq!((status, &body), (200, &serde_json::json!({})));
            }
            "netiq-revoke.json" => {
                assert_eq!((status, &body), (200, &serde_json::Value::Null));
                // The refresh token went, and its grant's access tokens with it.
                assert!(
                    !seed::token_stored(&db.store, demo::SERVICE_ID, demo::NETIQ_REFRESH_TOKEN)
                        .await
                );
                for i in 0..demo::NETIQ_GRANT_ACCESS_TOKENS {
                    let access = format!("{}-access-{i}", demo::NETIQ_GRANT_ID);
                    assert!(!seed::token_stored(&db.store, demo::SERVICE_ID, &access).await);
                }
            }
            "oauth2-revoke.json" => {
                assert_eq!((status, &body), (200, &serde_json::Value::Null));
                assert!(
                    !seed::token_stored(&db.store, demo::SERVICE_ID, demo::RFC7009_ACCESS_TOKEN)
                        .await
                );
            }
            "netiq-device-revoke.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(
                    body["status"],
                    "Successfully revoked token(s) issued to this device."
                );
                let count = |dn| {
                    seed::count_device_tokens(
                        &db.store,
                        demo::SERVICE_ID,
                        demo::DEVICE_ID,
                        demo::DEVICE_USER_STORE,
                        dn,
                    )
                };
                assert_eq!(count(demo::DEVICE_USER_DN).await, 0);
                assert_eq!(
                    count(demo::DEVICE_OTHER_USER_DN).await,
                    demo::DEVICE_OTHER_USER_TOKENS
                );
            }
            "token-introspect.json" => {
                // A demo access token, asked about by the demo resource server (HTTP Basic).
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["active"], true, "{body}");
                assert_eq!(body["token_type"], "Bearer");
                assert_eq!(body["scope"], demo::RFC7009_ACCESS_TOKEN_SCOPE);
                assert_eq!(body["aud"], demo::RFC7009_ACCESS_TOKEN_AUDIENCE);
                assert_eq!(body["client_id"], demo::WEB_CLIENT_ID);
                assert_eq!(body["iss"], functions::ISSUER);
            }
            "netiq-introspect.json" => {
                // The token token-register.json registered, asked about by the demo
                // resource server with body credentials.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["active"], true, "{body}");
                assert_eq!(body["sid"], "demo-session-2");
                assert_eq!(body["token_type"], "refresh_token");
                assert_eq!(body["iss"], functions::ISSUER);
            }
            "authlete-introspection.json" => {
                // The demo access token, before oauth2-revoke.json revokes it, for the
                // scope it was issued with.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["action"], "OK", "{body}");
                assert_eq!(body["resultCode"], "A056001");
                assert_eq!(body["scopes"][0], demo::RFC7009_ACCESS_TOKEN_SCOPE);
            }
            "authlete-introspection-standard.json" => {
                // The RFC 7662 answer an authorization server relays, for the resource
                // server the token is meant for.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["action"], "OK", "{body}");
                let content: serde_json::Value =
                    serde_json::from_str(body["responseContent"].as_str().expect("a string"))
                        .expect("RFC 7662 JSON");
                assert_eq!(content["active"], true, "{content}");
                assert_eq!(content["aud"], demo::RFC7009_ACCESS_TOKEN_AUDIENCE);
            }
            "global-token-revocation.json" => {
                // A stored event's assertion expired two minutes after it was signed (in
                // November 2026): the request's shape, and the 401 a stale JWT gets. Live
                // requests sign a fresh one (`signoff-admin sign-revocation-assertion`).
                assert_eq!(status, 401, "{body}");
                assert_eq!(body["error"], "invalid_token");
                assert!(body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("expired"));
            }
            "oauth-authorization-server.json" => {
                // No SIGNOFF_PUBLIC_BASE_URL: the endpoints are under the URL API Gateway
                // was called at.
                assert_eq!(status, 200);
                assert_eq!(
                    body["global_token_revocation_endpoint"],
                    "https://abcdef1234.execute-api.us-east-1.amazonaws.com/oauth2/global-token-revocation"
                );
            }
            "authlete-backchannel-logout-token.json" => {
                // A logout token for the demo client, which has no back-channel logout URI.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["action"], "OK", "{body}");
                assert_eq!(body["resultCode"], "A504001");
                let token = body["logoutToken"].as_str().expect("a logout token");
                assert_eq!(token.split('.').count(), 3, "{token}");
                assert!(body.get("backchannelLogoutUri").is_none(), "{body}");
            }
            "jwks.json" => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["keys"][0]["kty"], "EC", "{body}");
            }
            "ssf-configuration.json" => {
                // The keys' URL is built from the configured base or, as here, the API's.
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["spec_version"], "1_0", "{body}");
                assert_eq!(
                    body["delivery_methods_supported"],
                    serde_json::json!(["urn:ietf:rfc:8935"])
                );
                assert!(
                    body["jwks_uri"]
                        .as_str()
                        .is_some_and(|u| u.ends_with("/.well-known/jwks.json")),
                    "{body}"
                );
            }
            other => panic!("{other}: say in this test what the event should do"),
        }
        covered.push(route_key.to_owned());
    }
    assert!(
        covered.iter().any(|c| c == "housekeeping"),
        "no scheduled event for the housekeeping function"
    );
    assert!(
        covered.iter().any(|c| c == "logout-fanout"),
        "no stream event for the logout fanout"
    );
    // Every route has an event, CORS preflights aside.
    for route in routes.iter().filter(|r| r.method != "OPTIONS") {
        let route_key = format!("{} {}", route.method, route.path);
        assert!(
            covered.contains(&route_key),
            "no event for route {route_key}"
        );
    }
}
