//! Hardening (issue 10): a retry after a retryable error finishes the job, and the
//! registration rules that keep a revocation from being escaped.

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use lambda_http::{Body, Request};
use serde_json::json;
use signoff_revoke::settings::{DeviceRevocationAuth, Settings};
use signoff_revoke::{handle, DEVICE_REVOKED, NO_DEVICE_TOKENS};
use signoff_store::item_key;
use signoff_tests::db::{ErrorInjector, TestDb};
use signoff_tests::seed::{self, parts};

const TENANT: &str = "715948317";
const DEVICE: &str = "5c1a9e";
const DN: &str = "cn=admin,o=novell";
/// The SDK's own attempts at one call (standard retry mode): a fault must outlast them.
const ATTEMPTS: u32 = 3;

fn device_request() -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://idp.example.com/nidp/oauth/nam/revoke/{DEVICE}"
        ))
        .body(Body::Text(
            "userstore_name=Local&user_dn=cn%3Dadmin%2Co%3Dnovell".into(),
        ))
        .unwrap()
}

/// The device revocation's UpdateItem calls: the first marks the device revoked (pending),
/// the last clears the pending flag after every record is deleted. Throttling either one
/// must leave a state whose retry finishes and answers 200.
#[tokio::test]
async fn a_device_revocation_retried_after_a_throttled_marker_write_finishes() {
    for skip in [0, 1] {
        let faults = ErrorInjector::new("UpdateItem", "ThrottlingException", 0, 0);
        let db = TestDb::start_with(|_| {}, Some(SharedInterceptor::new(faults.clone()))).await;
        seed::tenant(&db.store, TENANT, None).await;
        seed::device_tokens(&db.store, TENANT, DEVICE, "Local", DN, "app", 30, "d").await;
        // Armed after the registration (which updates the user's audience item).
        faults.arm(skip, ATTEMPTS);
        let settings = Settings {
            device_auth: DeviceRevocationAuth::None,
            ..Settings::for_tenant(TENANT)
        };
        let count = || seed::count_device_tokens(&db.store, TENANT, DEVICE, "Local", DN);

        let first = handle(&db.store, &settings, device_request())
            .await
            .unwrap();
        assert_eq!(first.status(), 503, "skip {skip}");
        assert_eq!(first.headers()["retry-after"], "1");
        assert_eq!(faults.remaining(), 0, "the throttle was used");
        if skip == 1 {
            assert_eq!(count().await, 0, "the first call deleted every record");
        }

        let retry = handle(&db.store, &settings, device_request())
            .await
            .unwrap();
        assert_eq!(
            parts(retry),
            (200, json!({ "status": DEVICE_REVOKED })),
            "skip {skip}"
        );
        assert_eq!(count().await, 0);
        let marker = item_key::device_user_pk(TENANT, DEVICE, "Local", DN);
        assert!(
            seed::item_stored(&db.store, marker).await,
            "the device is marked"
        );

        // Finished: a further request has nothing to revoke (NetIQ's 404).
        let again = handle(&db.store, &settings, device_request())
            .await
            .unwrap();
        assert_eq!(
            parts(again),
            (
                404,
                json!({ "error": "invalid_request", "error_description": NO_DEVICE_TOKENS })
            )
        );
    }
}

/// A registrar whose clock runs ahead would issue tokens that user, grant and device
/// marks (which kill tokens issued at or before them) do not reach: refused beyond the
/// documented skew.
#[tokio::test]
async fn an_issue_time_in_the_future_is_refused_beyond_the_skew() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, TENANT, None).await;
    let now = signoff_store::now_epoch_seconds();
    let register = |token: &str, issued_at: i64| {
        let body = json!({
            "token": token, "type": "access", "clientId": "app",
            "issuedAt": issued_at, "expiresAt": now + 3600,
        });
        seed::post(
            &format!("/signoff/v1/tenants/{TENANT}/tokens"),
            Some(&format!("Bearer {credential}")),
            Some("application/json"),
            &body.to_string(),
        )
    };
    let ahead = signoff_register::handle(
        &db.store,
        &Default::default(),
        register("t-ahead", now + 3600),
    )
    .await
    .unwrap();
    let (status, body) = parts(ahead);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("issuedAt: "),
        "{body}"
    );
    assert!(!seed::token_stored(&db.store, TENANT, "t-ahead").await);

    let skewed = signoff_register::handle(
        &db.store,
        &Default::default(),
        register("t-skewed", now + 10),
    )
    .await
    .unwrap();
    assert_eq!(skewed.status(), 200);
}

/// Every HTTP function binary answers events lambda_http cannot read (a query string with
/// bytes a URI may not hold, a header with a control byte, a base64 body that does not
/// decode) with a 400 in its vendor's shape, through the local Lambda runtime, and is still
/// alive to answer the next event. Before, the first kind panicked the process (with
/// panic=abort: the sandbox dies) and the second failed the invocation (API Gateway: 500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_answers_unreadable_events_with_a_400_in_its_vendors_shape() {
    use signoff_tests::event::HttpApiEvent;
    use signoff_tests::gateway::{router_table, Gateway};
    use signoff_tests::paths::binaries_dir;

    let db = TestDb::start().await;
    let mut env = db.function_env();
    env.push(("SIGNOFF_REVOCATION_TENANT".into(), TENANT.into()));
    let gateway = Gateway::start(router_table().to_vec(), &binaries_dir(), &env)
        .await
        .expect("the function binaries start (build them with `cargo build --workspace --bins`)");
    // One route per function, and the member of its vendor's error body that says what
    // went wrong.
    let functions = [
        (
            "nativesso-logout",
            "/api/42/nativesso/logout",
            "resultCode",
            "A503212",
        ),
        (
            "token-register",
            "/signoff/v1/tenants/42/tokens",
            "error",
            "invalid_request",
        ),
        ("descope-auth", "/v1/auth/logout", "errorCode", "E011001"),
        ("token-revoke", "/oauth2/revoke", "error", "invalid_request"),
        (
            "token-introspect",
            "/oauth2/introspect",
            "error",
            "invalid_request",
        ),
    ];
    for (function, path, member, code) in functions {
        let good = HttpApiEvent::post(path).to_json();
        let mut bad_events = Vec::new();
        for query in ["a=\"b\"", "a=<b>", "a b", "a=\tb", "a=\u{7f}"] {
            let mut event = good.clone();
            event["rawQueryString"] = json!(query);
            bad_events.push((format!("query {query:?}"), event));
        }
        for value in ["a\u{1}b", "a\u{7f}", "a\r\nx-injected: 1"] {
            let mut event = good.clone();
            event["headers"]["x-test"] = json!(value);
            bad_events.push((format!("header {value:?}"), event));
        }
        let mut event = good.clone();
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!("%%% not base64");
        bad_events.push(("base64 body".into(), event));

        for (what, event) in bad_events {
            let reply = gateway
                .invoke(function, &event)
                .await
                .unwrap_or_else(|e| panic!("{function}, {what}: {e}\n{}", gateway.logs()));
            assert_eq!(reply["statusCode"], 400, "{function}, {what}: {reply}");
            let body: serde_json::Value =
                serde_json::from_str(reply["body"].as_str().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{function}, {what}: {e}: {reply}"));
            assert_eq!(body[member], code, "{function}, {what}: {body}");
        }
        // Still alive: an ordinary event is answered (here without credentials: 4xx).
        let reply = gateway
            .invoke(function, &good)
            .await
            .expect("still answering");
        let status = reply["statusCode"].as_u64().unwrap_or_default();
        assert!((400..500).contains(&status), "{function}: {reply}");
    }
    gateway.shutdown().await;
}

/// Revocation marks expire after the marker TTL (180 days by default): a token living
/// longer would come back to life when the mark that revoked it expires. Registration
/// refuses such lifetimes, and `expiresIn` (OAuth's relative form) is accepted.
#[tokio::test]
async fn a_token_may_not_outlive_the_marks_that_revoke_it() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, TENANT, None).await;
    let ttl = db.store.config().session_marker_ttl.as_secs() as i64;
    let now = signoff_store::now_epoch_seconds();
    let register = |body: serde_json::Value| {
        seed::post(
            &format!("/signoff/v1/tenants/{TENANT}/tokens"),
            Some(&format!("Bearer {credential}")),
            Some("application/json"),
            &body.to_string(),
        )
    };
    let base = |token: &str| json!({"token": token, "type": "refresh", "clientId": "app"});
    let with = |token: &str, field: &str, value: i64| {
        let mut body = base(token);
        body[field] = json!(value);
        body
    };
    for body in [
        with("too-long", "expiresAt", now + ttl + 60),
        with("too-long-in", "expiresIn", ttl + 60),
        {
            let mut b = with("old-issue", "expiresAt", now + 3600);
            b["issuedAt"] = json!(now + 3600 - ttl - 1);
            b
        },
    ] {
        let response =
            signoff_register::handle(&db.store, &Default::default(), register(body.clone()))
                .await
                .unwrap();
        let (status, reply) = parts(response);
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(
            reply["error_description"]
                .as_str()
                .unwrap()
                .starts_with("expiresAt: is more than 180 days after issuedAt"),
            "{reply}"
        );
    }
    // Neither, or both, is refused; a lifetime within the bound in either form is taken.
    let neither =
        signoff_register::handle(&db.store, &Default::default(), register(base("neither")))
            .await
            .unwrap();
    assert_eq!(neither.status(), 400);
    let mut both = with("both", "expiresAt", now + 60);
    both["expiresIn"] = json!(60);
    let both = signoff_register::handle(&db.store, &Default::default(), register(both))
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
    for body in [
        with("at", "expiresAt", now + ttl),
        with("in", "expiresIn", ttl),
    ] {
        let response = signoff_register::handle(&db.store, &Default::default(), register(body))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(seed::token_stored(&db.store, TENANT, "in").await);
    assert!(!seed::token_stored(&db.store, TENANT, "too-long").await);
}
