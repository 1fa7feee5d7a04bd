//! End to end: token introspection through the compiled `token-introspect` binary behind
//! the local API Gateway stand-in, its signing key in a local KMS (moto's server), driven by
//! a real OAuth 2.0 client library (Python's authlib, `tests/clients/introspect_authlib.py`),
//! whose RFC 9701 answers an independent JOSE library (joserfc) verifies against the JWKS
//! the function publishes.
//!
//! Needs `cargo build --workspace --bins` and the pinned client libraries: `scripts/test`
//! does both and sets `SIGNOFF_TEST_PYTHON`.

use aws_sdk_kms::types::KeySpec;
use serde_json::{json, Value};
use signoff_store::model::TokenType;
use signoff_tests::db::TestDb;
use signoff_tests::functions::ISSUER;
use signoff_tests::gateway::Gateway;
use signoff_tests::kms::TestKms;
use signoff_tests::paths::run_client_script;
use signoff_tests::seed;

const TENANT: &str = "rs-e2e";

async fn authlib_introspect(request: Value) -> Vec<Value> {
    let report = run_client_script("introspect_authlib.py", &request).await;
    serde_json::from_value(report).expect("the script's report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_client_library_introspects_and_a_jose_library_verifies_the_signed_answer() {
    let db = TestDb::start().await;
    seed::tenant(&db.store, TENANT, None).await;
    let secret = seed::client(&db.store, TENANT, "api", true).await.unwrap();
    db.store
        .allow_introspection(TENANT, "api", true)
        .await
        .unwrap();
    let mut live = seed::token(TENANT, "e2e-access-7f3a", TokenType::Access, "web");
    live.scope = Some("orders:read".into());
    live.session_id = Some("sess-9".into());
    let revoked_later = seed::token(TENANT, "e2e-access-revoked", TokenType::Access, "web");
    seed::register(&db.store, vec![live.clone(), revoked_later]).await;

    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/e2e").await;
    let gateway = Gateway::start_signing(&db, &kms, "alias/e2e", TENANT, &[]).await;

    // The second token is revoked before anyone asks; the third never existed.
    db.store
        .revoke_token(
            &db.store
                .find_token(
                    TENANT,
                    &signoff_store::item_key::TokenHash::of("e2e-access-revoked"),
                )
                .await
                .unwrap()
                .unwrap(),
            signoff_store::revocation::Cascade {
                session: false,
                grant: false,
            },
        )
        .await
        .unwrap();
    for auth_method in ["client_secret_basic", "client_secret_post"] {
        let results = authlib_introspect(json!({
            "base_url": gateway.base_url(),
            "client_id": "api",
            "client_secret": secret,
            "auth_method": auth_method,
            "tokens": ["e2e-access-7f3a", "e2e-access-revoked", "never-issued"],
        }))
        .await;
        let expected_live = json!({
            "active": true, "client_id": "web", "token_type": "Bearer", "sub": "alice",
            "exp": live.expires_at, "iat": live.issued_at, "iss": ISSUER,
            "scope": "orders:read", "sid": "sess-9"
        });
        let expected = [
            expected_live,
            json!({"active": false}),
            json!({"active": false}),
        ];
        for (result, expected) in results.iter().zip(expected) {
            assert_eq!(result["status"], 200, "{auth_method}: {result}");
            assert_eq!(result["json"], expected, "{auth_method}");
            let jwt = &result["jwt"];
            assert_eq!(jwt["header"]["typ"], "token-introspection+jwt");
            assert_eq!(jwt["header"]["alg"], "ES256");
            assert_eq!(jwt["claims"]["iss"], ISSUER);
            assert_eq!(jwt["claims"]["aud"], "api");
            assert_eq!(jwt["claims"]["token_introspection"], expected);
        }
    }
    gateway.shutdown().await;
}

/// Authlete's own Python SDK calls `/auth/introspection`, `/auth/introspection/standard`
/// and `/auth/token/get/list` through the served binaries, before and after the token's
/// session is logged out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authletes_sdk_introspects_and_lists_through_the_served_functions() {
    let db = TestDb::start().await;
    let service_token = seed::tenant(&db.store, TENANT, None).await;
    let mut live = seed::token(TENANT, "e2e-authlete-at", TokenType::Access, "4326385670");
    live.scope = Some("profile email".into());
    live.session_id = Some("sess-authlete".into());
    // Two more of alice's tokens of the client, in another session: the token list pages.
    let others: Vec<_> = (2..4)
        .map(|i| {
            let mut other = live.clone();
            other.hash = signoff_store::item_key::TokenHash::of(&format!("e2e-authlete-at-{i}"));
            other.session_id = Some("sess-authlete-2".into());
            other
        })
        .collect();
    seed::register(&db.store, [vec![live.clone()], others.clone()].concat()).await;

    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/e2e").await;
    let gateway = Gateway::start_signing(&db, &kms, "alias/e2e", TENANT, &[]).await;
    let ask = || async {
        let report = run_client_script(
            "introspect_authlete.py",
            &json!({
                "base_url": gateway.base_url(),
                "service_id": TENANT,
                "service_token": service_token,
                "tokens": ["e2e-authlete-at"],
                "scopes": ["profile"],
                "rs_uri": "https://rs.example.com",
            }),
        )
        .await;
        let mut results: Vec<Value> = serde_json::from_value(report).expect("the report");
        results.remove(0)
    };

    let list = || async {
        run_client_script(
            "token_list_authlete.py",
            &json!({
                "base_url": gateway.base_url(),
                "service_id": TENANT,
                "service_token": service_token,
                "client": "4326385670",
                "subject": "alice",
                "page": 2,
            }),
        )
        .await
    };
    let hash_of = |r: &signoff_store::model::TokenRecord| r.hash.encoded();
    let listed = list().await;
    assert_eq!(listed["totalCount"], 3, "{listed}");
    assert_eq!(listed["client"], json!({"clientId": 4326385670_i64}));
    let mut hashes: Vec<String> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["accessTokenHash"].as_str().unwrap().to_owned())
        .collect();
    hashes.sort();
    let mut expected: Vec<String> = std::iter::once(&live).chain(&others).map(hash_of).collect();
    expected.sort();
    assert_eq!(hashes, expected);
    let first = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["accessTokenHash"] == hash_of(&live))
        .unwrap();
    assert_eq!(
        first,
        &json!({
            "accessTokenHash": hash_of(&live), "clientId": 4326385670_i64, "subject": "alice",
            "scopes": ["profile", "email"], "accessTokenExpiresAt": live.expires_at * 1000,
            "createdAt": live.issued_at * 1000,
        })
    );

    let before = ask().await;
    assert_eq!(
        before["introspection"],
        json!({
            "action": "OK", "resultCode": "A056001",
            "responseContent": "Bearer error=\"invalid_request\"",
            "existent": true, "usable": true, "sufficient": true,
            "clientId": 4326385670_i64, "subject": "alice", "scopes": ["profile", "email"],
            "expiresAt": live.expires_at * 1000,
        })
    );
    assert_eq!(before["standard"]["action"], "OK");
    assert_eq!(before["standard"]["resultCode"], "A145001");
    assert_eq!(
        before["standard"]["responseContent"],
        json!({
            "active": true, "client_id": "4326385670", "token_type": "Bearer", "sub": "alice",
            "exp": live.expires_at, "iat": live.issued_at, "iss": ISSUER,
            "scope": "profile email", "sid": "sess-authlete"
        })
    );
    assert_eq!(before["jwt"]["action"], "JWT");
    assert_eq!(before["jwt"]["header"]["typ"], "token-introspection+jwt");
    assert_eq!(before["jwt"]["claims"]["aud"], "https://rs.example.com");
    assert_eq!(
        before["jwt"]["claims"]["token_introspection"]["active"],
        true
    );

    // The session ends (native SSO logout, through the served function too).
    let logout = reqwest::Client::new()
        .post(format!(
            "{}/api/{TENANT}/nativesso/logout",
            gateway.base_url()
        ))
        .bearer_auth(&service_token)
        .json(&json!({"sessionId": "sess-authlete"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(logout.status(), 200);

    // The logged-out session's token leaves the list at once; the other session's stay.
    let listed = list().await;
    assert_eq!(listed["totalCount"], 2, "{listed}");

    let after = ask().await;
    assert_eq!(after["introspection"]["action"], "UNAUTHORIZED");
    assert_eq!(after["introspection"]["resultCode"], "A064301");
    assert_eq!(after["introspection"]["existent"], false);
    assert_eq!(
        after["standard"]["responseContent"],
        json!({"active": false})
    );
    assert_eq!(
        after["jwt"]["claims"]["token_introspection"],
        json!({"active": false})
    );
    gateway.shutdown().await;
}
