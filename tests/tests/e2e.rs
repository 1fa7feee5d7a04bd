//! End to end: the compiled function binaries, served behind a local stand-in for API
//! Gateway (HTTP API) and the Lambda runtime API, called over HTTP the way a client of the
//! deployed API would call them, with the database on the embedded emulator.
//!
//! Needs `cargo build --workspace --bins` first (`scripts/test` does it).

use std::path::Path;

use serde_json::{json, Value};
use signoff_store::demo;
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{routes_from_manifest, Gateway};
use signoff_tests::paths::binaries_dir;

async fn call(
    client: &reqwest::Client,
    url: String,
    auth: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = auth {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_functions_log_a_session_out_over_http() {
    let db = TestDb::start().await;
    demo::seed(&db.store, 20, |_| {}).await.expect("demo data");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let routes = routes_from_manifest(&manifest).expect("router table");
    let gateway = Gateway::start(routes, &binaries_dir(), &db.function_env())
        .await
        .expect("the function binaries start");
    let api = gateway.base_url();
    let client = reqwest::Client::new();
    let service = demo::SERVICE_ID;
    let register_url = format!("{api}/signoff/v1/tenants/{service}/tokens");
    let logout_url = format!("{api}/api/{service}/nativesso/logout");
    let raw_token = "e2e-refresh-token-value-9f2c";

    // The authorization server registers one more token in the demo session.
    let token = json!({"token": raw_token, "type": "refresh", "clientId": demo::CLIENT_ID,
        "sessionId": demo::SESSION_ID, "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)});
    let (status, body) = call(
        &client,
        register_url.clone(),
        Some(demo::SERVICE_TOKEN),
        &token.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The app logs the session out: all 21 records go.
    let session = json!({"sessionId": demo::SESSION_ID}).to_string();
    let (status, body) = call(
        &client,
        logout_url.clone(),
        Some(demo::SERVICE_TOKEN),
        &session,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 21);
    assert_eq!(body["action"], "OK");
    let (_, body) = call(
        &client,
        logout_url.clone(),
        Some(demo::SERVICE_TOKEN),
        &session,
    )
    .await;
    assert_eq!(body["count"], 0, "a repeated logout deletes nothing");

    // The session stays ended.
    let (status, body) = call(
        &client,
        register_url,
        Some(demo::SERVICE_TOKEN),
        &token.to_string(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("session_ended"))
    );

    // Errors come back in Authlete's shape, never as a gateway 5xx.
    let (status, body) = call(&client, logout_url.clone(), None, &session).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["resultMessage"],
        format!("[A001202] /api/{service}/nativesso/logout, Authorization header is missing.")
    );
    for bad in ["{", "[]", "", "{\"sessionId\": 1}", "\u{0}\u{1}"] {
        let (status, body) =
            call(&client, logout_url.clone(), Some(demo::SERVICE_TOKEN), bad).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["action"], "CALLER_ERROR");
    }
    let (status, _) = call(
        &client,
        format!("{api}/api/{service}/nativesso/nope"),
        None,
        "{}",
    )
    .await;
    assert_eq!(status, 404);

    // What the functions logged: the requests were handled, and no token or credential
    // appears in the clear.
    let logs = gateway.logs();
    assert!(logs.contains("native SSO logout"), "{logs}");
    for secret in [demo::SERVICE_TOKEN, raw_token] {
        assert!(
            !logs.contains(secret),
            "a secret appears in the function logs"
        );
    }
    gateway.shutdown().await;
}
