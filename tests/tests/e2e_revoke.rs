//! End to end: token revocation through the compiled `token-revoke` binary behind the local
//! API Gateway stand-in, driven by a real OAuth 2.0 client library (Python's authlib,
//! `tests/clients/revoke_authlib.py`) and, for what authlib does not send (NetIQ's device
//! request, CORS preflights), by plain HTTP.
//!
//! Needs `cargo build --workspace --bins` and the pinned client libraries: `scripts/test`
//! does both and sets `SIGNOFF_TEST_PYTHON`.

use serde_json::{json, Value};
use signoff_store::model::TokenType;
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{routes_from_manifest, Gateway};
use signoff_tests::paths::{binaries_dir, run_client_script, workspace};
use signoff_tests::seed::{self, token_stored};

const TENANT: &str = "nam-e2e";

/// Runs the authlib script with `request` on stdin; returns its JSON report of the response.
async fn authlib_revoke(request: Value) -> Value {
    run_client_script("revoke_authlib.py", &request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_client_library_revokes_tokens_through_the_served_function() {
    let db = TestDb::start().await;
    seed::tenant(&db.store, TENANT, None).await;
    let secret = seed::client(&db.store, TENANT, "web", true).await.unwrap();
    seed::client(&db.store, TENANT, "spa", false).await;
    let refresh = "e2e-refresh-Zq3v.9f2c";
    let access_in_grant = "e2e-access-in-grant-71ab";
    let access = "e2e-access-alone-c0de";
    let spa_refresh = "e2e-spa-refresh-55aa";
    let in_grant = |value: &str, token_type| {
        let mut record = seed::token(TENANT, value, token_type, "web");
        record.grant_id = Some("g1".into());
        record
    };
    seed::register(
        &db.store,
        vec![
            in_grant(refresh, TokenType::Refresh),
            in_grant(access_in_grant, TokenType::Access),
            seed::token(TENANT, access, TokenType::Access, "web"),
            seed::token(TENANT, spa_refresh, TokenType::Refresh, "spa"),
        ],
    )
    .await;
    seed::device_tokens(
        &db.store,
        TENANT,
        "5c1a9e",
        "Local",
        "cn=admin,o=novell",
        "spa",
        3,
        "dev",
    )
    .await;

    let manifest = workspace().join("Cargo.toml");
    let routes = routes_from_manifest(&manifest).expect("router table");
    let mut env = db.function_env();
    env.extend(
        [
            ("SIGNOFF_REVOCATION_TENANT", TENANT),
            // NetIQ's unauthenticated device request is exercised below.
            ("SIGNOFF_DEVICE_REVOCATION_AUTH", "none"),
            ("SIGNOFF_CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let gateway = Gateway::start(routes, &binaries_dir(), &env)
        .await
        .expect("the function binaries start");
    let api = gateway.base_url();
    let netiq = format!("{api}/nidp/oauth/nam/revoke");
    let rfc7009 = format!("{api}/oauth2/revoke");
    let revoke = |url: &str, client: (&str, Option<&str>), method: &str, token: &str, hint| {
        authlib_revoke(json!({
            "url": url, "client_id": client.0, "client_secret": client.1,
            "auth_method": method, "token": token, "token_type_hint": hint,
        }))
    };
    let web = ("web", Some(secret.as_str()));

    // A wrong secret by HTTP Basic: 401 with a Basic challenge, and the token stays.
    let response = revoke(
        &rfc7009,
        ("web", Some("sgn_cs_wrong")),
        "client_secret_basic",
        access,
        None,
    )
    .await;
    assert_eq!(response["status"], 401, "{response}");
    assert!(response["headers"]["www-authenticate"]
        .as_str()
        .is_some_and(|h| h.starts_with("Basic")));
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_client");
    // The same in the body: 400.
    let response = revoke(
        &rfc7009,
        ("web", Some("sgn_cs_wrong")),
        "client_secret_post",
        access,
        None,
    )
    .await;
    assert_eq!(response["status"], 400, "{response}");
    assert!(token_stored(&db.store, TENANT, access).await);

    // NetIQ's path refuses an access token.
    let response = revoke(
        &netiq,
        web,
        "client_secret_basic",
        access,
        Some("access_token"),
    )
    .await;
    assert_eq!(response["status"], 400, "{response}");
    assert!(response["body"]
        .as_str()
        .unwrap()
        .contains("unsupported_token_type"));

    // NetIQ's path, HTTP Basic: the refresh token and its grant go.
    let response = revoke(
        &netiq,
        web,
        "client_secret_basic",
        refresh,
        Some("refresh_token"),
    )
    .await;
    assert_eq!(
        (&response["status"], &response["body"]),
        (&json!(200), &json!("")),
        "{response}"
    );
    assert!(!token_stored(&db.store, TENANT, refresh).await);
    assert!(!token_stored(&db.store, TENANT, access_in_grant).await);

    // RFC 7009's path, secret in the body: an access token goes alone.
    let response = revoke(
        &rfc7009,
        web,
        "client_secret_post",
        access,
        Some("access_token"),
    )
    .await;
    assert_eq!(response["status"], 200, "{response}");
    assert!(!token_stored(&db.store, TENANT, access).await);

    // A public client (no secret) revokes its own refresh token; revoking it again is
    // still a 200.
    for _ in 0..2 {
        let response = revoke(&rfc7009, ("spa", None), "none", spa_refresh, None).await;
        assert_eq!(response["status"], 200, "{response}");
    }
    assert!(!token_stored(&db.store, TENANT, spa_refresh).await);

    // NetIQ's device request as documented: no Content-Type, no client credentials.
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{netiq}/5c1a9e"))
        .body("userstore_name=Local&user_dn=cn%3Dadmin%2Co%3Dnovell")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"status": "Successfully revoked token(s) issued to this device."})
    );
    assert_eq!(
        seed::count_device_tokens(&db.store, TENANT, "5c1a9e", "Local", "cn=admin,o=novell").await,
        0
    );

    // A browser's preflight from the allowed origin.
    let response = client
        .request(reqwest::Method::OPTIONS, &rfc7009)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    // The function logged what it did, and no token or secret in the clear.
    let logs = gateway.logs();
    assert!(logs.contains("token revoked"), "{logs}");
    assert!(logs.contains("device tokens revoked"), "{logs}");
    for secret in [
        secret.as_str(),
        refresh,
        access_in_grant,
        access,
        spa_refresh,
    ] {
        assert!(
            !logs.contains(secret),
            "a secret appears in the function logs"
        );
    }
    gateway.shutdown().await;
}
