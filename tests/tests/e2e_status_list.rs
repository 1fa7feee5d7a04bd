//! End to end: Token Status Lists through the compiled binaries behind the local API
//! Gateway stand-in, the signing key in a local KMS (moto's server). The test plays the
//! authorization server: it registers tokens asking for status entries, and issues JWT
//! access tokens carrying the `status` claims the registration answered. A resource server
//! written only on independent libraries in another language (Node: `jose` and
//! `@sd-jwt/jwt-status-list`, pinned; `tests/clients/node/status_list_rs.mjs`) validates
//! them offline as draft-ietf-oauth-status-list section 8.3 says, fetching the list over
//! HTTP: accepted before the RFC 7009 revocation, rejected once the list is rebuilt.
//!
//! Needs `cargo build --workspace --bins` and the pinned clients: `scripts/test` does both.

use std::time::Duration;

use aws_sdk_kms::types::KeySpec;
use serde_json::{json, Value};
use signoff_jose::{Algorithm, SigningKey};
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{Gateway, GATEWAY_URL};
use signoff_tests::kms::TestKms;
use signoff_tests::paths::run_node_client;
use signoff_tests::seed;

const TENANT: &str = "sl-e2e";
/// The authorization server the test plays.
const AS_ISSUER: &str = "https://as.example";
/// The shortest `ttl` the functions accept.
const TTL_SECONDS: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_resource_server_accepts_a_token_until_the_served_list_says_revoked() {
    let db = TestDb::start().await;
    let service_token = seed::tenant(&db.store, TENANT, None).await;
    let web_secret = seed::client(&db.store, TENANT, "web", true).await.unwrap();
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/e2e").await;
    let extra = [
        ("SIGNOFF_ISSUER", AS_ISSUER),
        ("SIGNOFF_PUBLIC_BASE_URL", GATEWAY_URL),
        ("SIGNOFF_STATUS_LIST_TTL_SECONDS", "10"),
        ("SIGNOFF_STATUS_LIST_SETTLE_MS", "600"),
    ];
    let gateway = Gateway::start_signing(&db, &kms, "alias/e2e", TENANT, &extra).await;
    let base = gateway.base_url();
    let http = reqwest::Client::new();

    // The authorization server registers two access tokens, asking for status entries.
    let token = |value: &str| {
        json!({"token": value, "type": "access", "clientId": "web", "subject": "alice",
               "expiresIn": 600, "status": true})
    };
    let answer: Value = http
        .post(format!("{base}/signoff/v1/tenants/{TENANT}/tokens"))
        .bearer_auth(&service_token)
        .json(&json!({"tokens": [token("opaque-at-1"), token("opaque-at-2")]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses = answer["statuses"].as_array().expect("statuses").clone();
    assert_eq!(statuses.len(), 2, "{answer}");
    let uri = statuses[0]["status_list"]["uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("{base}/signoff/v1/tenants/{TENANT}/statuslists/0")
    );

    // ...and issues JWTs that carry them, signed with its own key.
    let as_key = SigningKey::generate(Algorithm::Es256, Some("as-key-1")).unwrap();
    let now = signoff_store::now_epoch_seconds();
    let jwt = |status: &Value, exp: i64| {
        as_key.sign(&json!({
            "iss": AS_ISSUER, "sub": "alice", "client_id": "web", "iat": now, "exp": exp,
            "status": status,
        }))
    };
    let tokens = vec![
        jwt(&statuses[0], now + 600),
        jwt(&statuses[1], now + 600),
        // Expired: refused before its (VALID) entry is even looked at.
        jwt(&statuses[1], now - 60),
    ];
    let request = json!({
        "as_jwks": {"keys": [as_key.public_jwk()]},
        "issuer": AS_ISSUER,
        "list_jwks_uri": format!("{base}/.well-known/jwks.json"),
        "tokens": tokens,
    });
    let check = || async { run_node_client("status_list_rs.mjs", &request).await };

    let before = check().await;
    assert_eq!(before[0]["accepted"], true, "{before}");
    assert_eq!(before[1]["accepted"], true, "{before}");
    assert_eq!(before[2]["accepted"], false, "{before}");
    assert!(
        before[2]["reason"].as_str().unwrap().contains("EXPIRED"),
        "{before}"
    );

    // The first token is revoked the RFC 7009 way (its value, by its client).
    let revoked = http
        .post(format!("{base}/oauth2/revoke"))
        .basic_auth("web", Some(&web_secret))
        .form(&[("token", "opaque-at-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    // Once the served list is rebuilt (within the ttl, plus the settle time and a build),
    // the resource server rejects the first token and still accepts the second.
    tokio::time::sleep(Duration::from_secs(TTL_SECONDS) + Duration::from_millis(1_500)).await;
    let after = check().await;
    assert_eq!(after[0]["accepted"], false, "{after}");
    assert_eq!(after[0]["status"], 1, "{after}");
    assert_eq!(after[1]["accepted"], true, "{after}");
    assert!(!gateway.logs().contains("panicked"), "{}", gateway.logs());
    gateway.shutdown().await;
}
