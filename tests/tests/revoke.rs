//! Token and device revocation (`/nidp/oauth/nam/revoke`, `/oauth2/revoke`,
//! `/nidp/oauth/nam/revoke/{device_id}`) against a real DynamoDB-compatible server, through
//! the function's handler.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::SharedInterceptor;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use signoff_edge::cors::CorsPolicy;
use signoff_revoke::handle;
use signoff_revoke::settings::{DeviceRevocationAuth, Settings as RevocationConfig};
use signoff_store::model::TokenType;
use signoff_store::Store;
use signoff_tests::db::{ErrorInjector, TestDb, UnprocessedInjector};
use signoff_tests::event::HttpApiEvent;
use signoff_tests::seed::{self, basic, form, parts, post, token_stored};

const TENANT: &str = "nam";
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const NETIQ: &str = "/nidp/oauth/nam/revoke";
const RFC7009: &str = "/oauth2/revoke";

fn config(device_auth: DeviceRevocationAuth) -> RevocationConfig {
    RevocationConfig {
        device_auth,
        ..RevocationConfig::for_tenant(TENANT)
    }
}

/// A tenant with a confidential client `web` and a public client `app`, and in grant `g1`
/// of `web` a refresh token `rt-1` and access tokens `at-1`, `at-2`; beside them `at-3`
/// (grant `g2` of `web`) and `app-rt` (a refresh token of `app`).
struct Fixture {
    db: TestDb,
    secret: String,
}

async fn fixture() -> Fixture {
    fixture_with(TestDb::start().await).await
}

async fn fixture_with(db: TestDb) -> Fixture {
    seed::tenant(&db.store, TENANT, None).await;
    let secret = seed::client(&db.store, TENANT, "web", true).await.unwrap();
    assert_eq!(seed::client(&db.store, TENANT, "app", false).await, None);
    let in_grant = |value: &str, token_type, grant: &str| {
        seed::grant_token(TENANT, value, token_type, "web", grant)
    };
    seed::register(
        &db.store,
        vec![
            in_grant("rt-1", TokenType::Refresh, "g1"),
            in_grant("at-1", TokenType::Access, "g1"),
            in_grant("at-2", TokenType::Access, "g1"),
            in_grant("at-3", TokenType::Access, "g2"),
            seed::token(TENANT, "app-rt", TokenType::Refresh, "app"),
        ],
    )
    .await;
    db.requests.reset();
    Fixture { db, secret }
}

impl Fixture {
    async fn send(&self, request: Request) -> Response<Body> {
        send(
            &self.db.store,
            &config(DeviceRevocationAuth::Client),
            request,
        )
        .await
    }

    /// POSTs a form body to `path` with the client's credentials in the body.
    async fn revoke(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        parts(self.send(post(path, None, FORM, &form(pairs))).await)
    }

    async fn stored(&self, value: &str) -> bool {
        token_stored(&self.db.store, TENANT, value).await
    }

    /// Which of the fixture's tokens are still stored.
    async fn remaining(&self) -> Vec<&'static str> {
        let mut left = Vec::new();
        for value in ["rt-1", "at-1", "at-2", "at-3", "app-rt"] {
            if self.stored(value).await {
                left.push(value);
            }
        }
        left
    }
}

async fn send(store: &Store, config: &RevocationConfig, request: Request) -> Response<Body> {
    handle(store, config, request)
        .await
        .expect("the handler never fails")
}

const ALL: [&str; 5] = ["rt-1", "at-1", "at-2", "at-3", "app-rt"];

fn assert_empty_200(response: &(u16, Value)) {
    assert_eq!(response, &(200, Value::Null), "{}", response.1);
}

/// The error description says `words`.
fn assert_mentions(response: &(u16, Value), words: &str) {
    let description = response.1["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(words), "{description}");
}

fn assert_error(response: &(u16, Value), status: u16, error: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["error"], error, "{}", response.1);
    assert!(
        response.1["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        response.1
    );
}

#[tokio::test]
async fn netiq_revokes_a_refresh_token_and_the_access_tokens_of_its_grant() {
    let f = fixture().await;
    let secret = f.secret.clone();
    let response = f
        .send(post(
            NETIQ,
            None,
            FORM,
            &form(&[
                ("client_id", "web"),
                ("client_secret", &secret),
                ("token", "rt-1"),
            ]),
        ))
        .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_empty_200(&parts(response));
    assert_eq!(f.remaining().await, ["at-3", "app-rt"]);

    // Again: the token is gone, and a caller learns nothing from the answer.
    let again = f
        .revoke(
            NETIQ,
            &[
                ("client_id", "web"),
                ("client_secret", &secret),
                ("token", "rt-1"),
            ],
        )
        .await;
    assert_empty_200(&again);
}

#[tokio::test]
async fn netiq_refuses_access_tokens_and_revokes_nothing() {
    let f = fixture().await;
    let response = f
        .revoke(
            NETIQ,
            &[
                ("client_id", "web"),
                ("client_secret", &f.secret),
                ("token", "at-1"),
            ],
        )
        .await;
    assert_error(&response, 400, "unsupported_token_type");
    assert_mentions(&response, "/oauth2/revoke");
    assert_eq!(f.remaining().await, ALL);
}

#[tokio::test]
async fn rfc7009_revokes_an_access_token_alone_and_a_refresh_token_with_its_grant() {
    let f = fixture().await;
    let auth = basic("web", &f.secret);
    let send = |body: &str| f.send(post(RFC7009, Some(&auth), FORM, body));
    assert_empty_200(&parts(
        send("token=at-3&token_type_hint=access_token").await,
    ));
    assert_eq!(f.remaining().await, ["rt-1", "at-1", "at-2", "app-rt"]);
    // A wrong hint never breaks the lookup, nor does one nobody knows.
    assert_empty_200(&parts(
        send("token=at-2&token_type_hint=refresh_token").await,
    ));
    assert_empty_200(&parts(send("token=rt-1&token_type_hint=id_token").await));
    assert_eq!(f.remaining().await, ["app-rt"]);
}

#[tokio::test]
async fn unknown_expired_and_revoked_tokens_are_200_and_revoke_nothing() {
    let f = fixture().await;
    // An expired record that TTL has not removed yet (written directly: registration
    // refuses expired tokens).
    let mut expired = seed::token(TENANT, "old", TokenType::Refresh, "web");
    expired.expires_at = signoff_store::now_epoch_seconds() - 10;
    f.db.store
        .client()
        .put_item()
        .table_name(f.db.store.table_name())
        .set_item(Some(expired.to_item()))
        .send()
        .await
        .unwrap();
    // The same token value in another tenant is another token.
    seed::tenant(&f.db.store, "other", None).await;
    seed::register(
        &f.db.store,
        vec![seed::token("other", "foreign", TokenType::Refresh, "web")],
    )
    .await;
    for token in ["never-issued", "old", "foreign", &"x".repeat(20_000)] {
        for path in [NETIQ, RFC7009] {
            let response = f
                .revoke(
                    path,
                    &[
                        ("client_id", "web"),
                        ("client_secret", &f.secret),
                        ("token", token),
                    ],
                )
                .await;
            assert_empty_200(&response);
        }
    }
    assert_eq!(f.remaining().await, ALL);
    assert!(token_stored(&f.db.store, "other", "foreign").await);
}

#[tokio::test]
async fn a_token_of_another_client_is_refused_and_kept() {
    let f = fixture().await;
    // The public client tries the confidential client's tokens, and the other way round.
    for (path, pairs) in [
        (NETIQ, vec![("client_id", "app"), ("token", "rt-1")]),
        (RFC7009, vec![("client_id", "app"), ("token", "at-1")]),
        (
            RFC7009,
            vec![
                ("client_id", "web"),
                ("client_secret", f.secret.as_str()),
                ("token", "app-rt"),
            ],
        ),
    ] {
        let response = f.revoke(path, &pairs).await;
        assert_error(&response, 400, "invalid_grant");
    }
    assert_eq!(f.remaining().await, ALL);
    // Its own client may.
    assert_empty_200(
        &f.revoke(NETIQ, &[("client_id", "app"), ("token", "app-rt")])
            .await,
    );
    assert!(!f.stored("app-rt").await);
}

#[tokio::test]
async fn basic_credentials_are_form_decoded_before_they_are_checked() {
    let db = TestDb::start().await;
    seed::tenant(&db.store, TENANT, None).await;
    // An id that needs encoding: a colon (the Basic separator), a space, '+', '%', non-ASCII.
    let client_id = "svc:app 1+%é";
    let secret = seed::client(&db.store, TENANT, client_id, true)
        .await
        .unwrap();
    seed::register(
        &db.store,
        vec![seed::token(TENANT, "rt", TokenType::Refresh, client_id)],
    )
    .await;
    let auth = basic(client_id, &secret);
    // What goes over the wire is the form-encoded id, not the raw one.
    let sent = aws_smithy_types::base64::decode(auth.trim_start_matches("Basic ")).unwrap();
    let sent = String::from_utf8(sent).unwrap();
    assert!(sent.starts_with("svc%3Aapp+1%2B%25%C3%A9:"), "{sent}");
    let config = config(DeviceRevocationAuth::Client);
    let response = send(
        &db.store,
        &config,
        post(NETIQ, Some(&auth), FORM, "token=rt"),
    )
    .await;
    assert_empty_200(&parts(response));
    assert!(!token_stored(&db.store, TENANT, "rt").await);

    // The same id sent raw (not form-encoded) is another id, and fails.
    let raw = format!(
        "Basic {}",
        aws_smithy_types::base64::encode(format!("svc:app 1:{secret}"))
    );
    let response = send(
        &db.store,
        &config,
        post(NETIQ, Some(&raw), FORM, "token=rt"),
    )
    .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn bad_client_credentials_are_invalid_client_401_with_basic_else_400() {
    let f = fixture().await;
    // By HTTP Basic: 401 and a Basic challenge.
    for auth in [
        basic("web", "sgn_cs_wrong"),
        basic("nobody", &f.secret),
        basic("web", ""),
        basic("app", "a-secret-for-a-public-client"),
        "Basic not-base64!".to_owned(),
        "Bearer sgn_sat_something".to_owned(),
    ] {
        let response = f.send(post(RFC7009, Some(&auth), FORM, "token=at-1")).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"),
            "{auth}"
        );
        let response = parts(response);
        assert_error(&response, 401, "invalid_client");
    }
    // In the body: 400, no challenge.
    for pairs in [
        vec![("client_id", "web"), ("client_secret", "sgn_cs_wrong")],
        vec![("client_id", "web")],
        vec![("client_id", "nobody")],
        vec![("client_id", "app"), ("client_secret", "x")],
        vec![("client_secret", f.secret.as_str())],
        vec![],
    ] {
        let mut pairs = pairs;
        pairs.push(("token", "at-1"));
        let response = f.send(post(RFC7009, None, FORM, &form(&pairs))).await;
        assert!(response.headers().get("www-authenticate").is_none());
        assert_error(&parts(response), 400, "invalid_client");
    }
    // Failures say nothing about which clients exist.
    let unknown = f
        .revoke(RFC7009, &[("client_id", "nobody"), ("token", "at-1")])
        .await;
    let wrong = f
        .revoke(
            RFC7009,
            &[
                ("client_id", "web"),
                ("client_secret", "bad"),
                ("token", "at-1"),
            ],
        )
        .await;
    assert_eq!(unknown, wrong);
    assert_eq!(f.remaining().await, ALL);
}

#[tokio::test]
async fn a_secret_sent_both_ways_is_invalid_request_and_revokes_nothing() {
    let f = fixture().await;
    let auth = basic("web", &f.secret);
    for body in [
        form(&[
            ("client_id", "web"),
            ("client_secret", &f.secret),
            ("token", "rt-1"),
        ]),
        form(&[("client_secret", &f.secret), ("token", "rt-1")]),
        // Another client id in the body than in the header.
        form(&[("client_id", "app"), ("token", "rt-1")]),
    ] {
        let response = parts(f.send(post(NETIQ, Some(&auth), FORM, &body)).await);
        assert_error(&response, 400, "invalid_request");
        assert_mentions(&response, "one method");
    }
    // The same client_id in both places is one client, and is fine.
    let body = form(&[("client_id", "web"), ("token", "rt-1")]);
    assert_empty_200(&parts(f.send(post(NETIQ, Some(&auth), FORM, &body)).await));
    assert_eq!(f.remaining().await, ["at-3", "app-rt"]);
}

#[tokio::test]
async fn a_parameter_sent_twice_is_invalid_request() {
    let f = fixture().await;
    let secret = form(&[("client_secret", &f.secret)]);
    for body in [
        format!("client_id=web&{secret}&token=rt-1&token=at-3"),
        format!("client_id=web&client_id=web&{secret}&token=rt-1"),
        format!("client_id=web&{secret}&{secret}&token=rt-1"),
        format!("client_id=web&{secret}&token=rt-1&token_type_hint=a&token_type_hint=b"),
        // Decoded names are compared.
        format!("client_id=web&{secret}&token=rt-1&tok%65n=at-3"),
    ] {
        let response = parts(f.send(post(NETIQ, None, FORM, &body)).await);
        assert_error(&response, 400, "invalid_request");
        assert_mentions(&response, "more than once");
    }
    assert_eq!(f.remaining().await, ALL);
}

#[tokio::test]
async fn malformed_requests_are_invalid_request_naming_the_problem() {
    let f = fixture().await;
    let auth = basic("web", &f.secret);
    let cases: Vec<(Option<&str>, String, &str)> = vec![
        (FORM, String::new(), "'token' parameter is required"),
        (FORM, "token=".into(), "'token' parameter is required"),
        (FORM, "tokens=rt-1".into(), "'token' parameter is required"),
        (
            Some("application/json"),
            r#"{"token":"rt-1"}"#.into(),
            "application/x-www-form-urlencoded",
        ),
        (
            None,
            "token=rt-1".into(),
            "application/x-www-form-urlencoded",
        ),
        (FORM, "token=rt%2".into(), "two hexadecimal digits"),
        (FORM, "token=%FF%FE".into(), "not UTF-8"),
        (
            FORM,
            format!("token={}", "x".repeat(70_000)),
            "larger than 65536 bytes",
        ),
    ];
    for (content_type, body, words) in cases {
        let shown: String = body.chars().take(40).collect();
        let response = parts(
            f.send(post(RFC7009, Some(&auth), content_type, &body))
                .await,
        );
        assert_error(&response, 400, "invalid_request");
        let description = response.1["error_description"].as_str().unwrap();
        assert!(description.contains(words), "{shown}: {description}");
    }
    // A body that arrives base64-encoded (binary) and is not UTF-8.
    let request = HttpApiEvent::post(RFC7009)
        .header("authorization", &auth)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b't', b'o', b'k', b'e', b'n', b'=', 0xff])
        .request();
    assert_error(&parts(f.send(request).await), 400, "invalid_request");

    let get = HttpApiEvent::get(NETIQ).request();
    let response = f.send(get).await;
    assert_eq!(response.headers()["allow"], "OPTIONS, POST");
    assert_error(&parts(response), 405, "invalid_request");
    assert_eq!(f.remaining().await, ALL);
}

#[tokio::test]
async fn store_trouble_is_503_with_retry_after_and_never_a_200() {
    let f = fixture().await;
    let config = config(DeviceRevocationAuth::Client);
    let body = form(&[
        ("client_id", "web"),
        ("client_secret", &f.secret),
        ("token", "rt-1"),
    ]);
    // Nothing listens: the client cannot even be authenticated.
    let unreachable = seed::unreachable_store();
    for path in [NETIQ, RFC7009, "/nidp/oauth/nam/revoke/d1"] {
        let body = format!("{body}&userstore_name=s&user_dn=u");
        let response = send(&unreachable, &config, post(path, None, FORM, &body)).await;
        assert_eq!(response.headers()["retry-after"], "1", "{path}");
        let response = parts(response);
        assert_error(&response, 503, "temporarily_unavailable");
        assert!(!response.1.to_string().contains("127.0.0.1"));
    }
}

#[tokio::test]
async fn a_throttled_delete_is_503_the_token_stays_and_a_retry_finishes() {
    // The token's own delete is throttled three times (the SDK retries twice by itself):
    // it must still be there, and the caller told.
    let throttled =
        ErrorInjector::new("DeleteItem", "ProvisionedThroughputExceededException", 0, 3);
    let f = fixture_with(
        TestDb::start_with(|_| {}, Some(SharedInterceptor::new(throttled.clone()))).await,
    )
    .await;
    let pairs = [
        ("client_id", "web"),
        ("client_secret", f.secret.as_str()),
        ("token", "rt-1"),
    ];
    let response = f.revoke(NETIQ, &pairs).await;
    assert_error(&response, 503, "temporarily_unavailable");
    assert_eq!(throttled.remaining(), 0);
    assert!(
        f.stored("rt-1").await,
        "a 503 leaves the token findable for the retry"
    );
    assert_empty_200(&f.revoke(NETIQ, &pairs).await);
    assert_eq!(f.remaining().await, ["at-3", "app-rt"]);
}

#[tokio::test]
async fn grant_deletes_left_unprocessed_are_503_with_the_refresh_token_kept() {
    let f = fixture_with(
        TestDb::start_with(
            |c| {
                c.bulk.base_backoff = Duration::from_millis(1);
                c.bulk.max_attempts = 2;
            },
            Some(SharedInterceptor::new(UnprocessedInjector::new(2))),
        )
        .await,
    )
    .await;
    // Enough of the grant that two attempts leave some of it unprocessed.
    let more = (0..6)
        .map(|i| {
            let mut record = seed::token(TENANT, &format!("g1-{i}"), TokenType::Access, "web");
            record.grant_id = Some("g1".into());
            record
        })
        .collect();
    seed::register(&f.db.store, more).await;
    let pairs = [
        ("client_id", "web"),
        ("client_secret", f.secret.as_str()),
        ("token", "rt-1"),
    ];
    let response = f.revoke(NETIQ, &pairs).await;
    assert_error(&response, 503, "temporarily_unavailable");
    // The refresh token goes last, so the retry finds it and finishes the grant.
    assert!(f.stored("rt-1").await);
    assert_empty_200(&f.revoke(NETIQ, &pairs).await);
    assert_eq!(f.remaining().await, ["at-3", "app-rt"]);
    assert!(!f.stored("g1-5").await);
}

#[tokio::test]
async fn a_missing_table_is_500_server_error_without_internal_detail() {
    let f = fixture().await;
    let missing = Store::new(
        f.db.store.client().clone(),
        signoff_store::Config::for_table("no-such-table"),
    );
    let body = form(&[
        ("client_id", "web"),
        ("client_secret", &f.secret),
        ("token", "rt-1"),
    ]);
    let response = send(
        &missing,
        &config(DeviceRevocationAuth::Client),
        post(NETIQ, None, FORM, &body),
    )
    .await;
    assert!(response.headers().get("retry-after").is_none());
    let response = parts(response);
    assert_error(&response, 500, "server_error");
    for leak in ["no-such-table", "ResourceNotFound", "DynamoDB"] {
        assert!(!response.1.to_string().contains(leak), "{leak}");
    }
}

const DEVICE_OK: &str = "Successfully revoked token(s) issued to this device.";

fn no_device_tokens() -> Value {
    json!({
        "error": "invalid_request",
        "error_description": "Invalid device ID or no tokens to revoke for this device."
    })
}

/// NetIQ's documented request, as its documentation shows it: a form body with
/// `userstore_name` and a percent-encoded `user_dn`, no Content-Type, no credentials.
fn netiq_sample(device_id: &str) -> HttpApiEvent {
    HttpApiEvent::post(&format!("/nidp/oauth/nam/revoke/{device_id}"))
        .header("host", "idp.example.com")
        .body("userstore_name=Local&user_dn=cn%3Dadmin%2Co%3Dnovell")
}

#[tokio::test]
async fn the_netiq_sample_device_request_works_when_the_policy_allows_it() {
    let f = fixture().await;
    seed::device_tokens(
        &f.db.store,
        TENANT,
        "5c1a9e",
        "Local",
        "cn=admin,o=novell",
        "app",
        3,
        "mine",
    )
    .await;
    seed::device_tokens(
        &f.db.store,
        TENANT,
        "5c1a9e",
        "Local",
        "cn=bob,o=novell",
        "app",
        2,
        "bob",
    )
    .await;
    let open = config(DeviceRevocationAuth::None);

    let response = send(&f.db.store, &open, netiq_sample("5c1a9e").request()).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(parts(response), (200, json!({ "status": DEVICE_OK })));
    let count = |dn| seed::count_device_tokens(&f.db.store, TENANT, "5c1a9e", "Local", dn);
    assert_eq!(count("cn=admin,o=novell").await, 0);
    assert_eq!(count("cn=bob,o=novell").await, 2);
    assert!(!token_stored(&f.db.store, TENANT, "mine-0").await);
    assert_eq!(f.remaining().await, ALL, "other tokens are untouched");

    // Nothing left for that user, and a device nobody knows: NetIQ's 404.
    for device in ["5c1a9e", "no-such-device"] {
        let response = parts(send(&f.db.store, &open, netiq_sample(device).request()).await);
        assert_eq!(response, (404, no_device_tokens()), "{device}");
    }

    // Under the default policy the same request needs client authentication...
    let default = config(DeviceRevocationAuth::Client);
    let response = parts(send(&f.db.store, &default, netiq_sample("5c1a9e").request()).await);
    assert_error(&response, 400, "invalid_client");
    // ...by a confidential client: a public client's id is no secret (it ships in apps).
    let body = "client_id=app&userstore_name=Local&user_dn=cn%3Dbob%2Co%3Dnovell";
    let request = post("/nidp/oauth/nam/revoke/5c1a9e", None, None, body);
    let response = parts(send(&f.db.store, &default, request).await);
    assert_error(&response, 400, "invalid_client");
    assert_eq!(count("cn=bob,o=novell").await, 2);
    // ...which it may send by Basic or in the body, still without a Content-Type.
    let request = netiq_sample("5c1a9e")
        .header("authorization", &basic("web", &f.secret))
        .body("userstore_name=Local&user_dn=cn%3Dbob%2Co%3Dnovell")
        .request();
    assert_eq!(
        parts(send(&f.db.store, &default, request).await),
        (200, json!({ "status": DEVICE_OK }))
    );
    assert_eq!(count("cn=bob,o=novell").await, 0);
}

#[tokio::test]
async fn device_requests_are_checked_before_anything_is_revoked() {
    let f = fixture().await;
    seed::device_tokens(&f.db.store, TENANT, "d1", "Local", "cn=a", "app", 2, "d").await;
    let open = config(DeviceRevocationAuth::None);
    let device = |body: &str, content_type: Option<&str>| {
        send(
            &f.db.store,
            &open,
            post("/nidp/oauth/nam/revoke/d1", None, content_type, body),
        )
    };
    for (body, content_type, words) in [
        (
            "user_dn=cn%3Da",
            None,
            "'userstore_name' parameter is required",
        ),
        (
            "userstore_name=Local",
            None,
            "'user_dn' parameter is required",
        ),
        (
            "userstore_name=Local&user_dn=",
            FORM,
            "'user_dn' parameter is required",
        ),
        (
            "userstore_name=Local&userstore_name=Local&user_dn=cn%3Da",
            None,
            "more than once",
        ),
        (
            "userstore_name=Local&user_dn=a%00b",
            FORM,
            "control characters",
        ),
        (
            "userstore_name=Local&user_dn=cn%3Da",
            Some("application/json"),
            "application/x-www-form-urlencoded",
        ),
    ] {
        let response = parts(device(body, content_type).await);
        assert_error(&response, 400, "invalid_request");
        let description = response.1["error_description"].as_str().unwrap();
        assert!(description.contains(words), "{body}: {description}");
    }
    // Credentials that are sent are checked even when the policy needs none.
    let request = post(
        "/nidp/oauth/nam/revoke/d1",
        Some(&basic("web", "sgn_cs_wrong")),
        None,
        "userstore_name=Local&user_dn=cn%3Da",
    );
    assert_error(
        &parts(send(&f.db.store, &open, request).await),
        401,
        "invalid_client",
    );
    // An id or user no token could have been registered under is simply not found.
    let long = "x".repeat(300);
    for (path, body) in [
        (
            format!("/nidp/oauth/nam/revoke/{long}"),
            "userstore_name=Local&user_dn=cn%3Da".to_owned(),
        ),
        (
            "/nidp/oauth/nam/revoke/d1".to_owned(),
            format!("userstore_name=Local&user_dn={}", "%25".repeat(500)),
        ),
    ] {
        let response = parts(send(&f.db.store, &open, post(&path, None, None, &body)).await);
        assert_eq!(response, (404, no_device_tokens()));
    }
    assert_eq!(
        seed::count_device_tokens(&f.db.store, TENANT, "d1", "Local", "cn=a").await,
        2
    );
}

/// 3,000 tokens on one device, 2,000 issued to one user and 1,000 to another: revoking the
/// first user's takes ceil(2000/25) = 80 batch deletes plus the index pages, and leaves
/// the other user's.
#[tokio::test]
async fn a_device_with_3000_tokens_across_two_users_loses_only_the_named_users() {
    let f = fixture().await;
    let started = Instant::now();
    seed::device_tokens(
        &f.db.store,
        TENANT,
        "tablet",
        "Local",
        "cn=alice,o=acme",
        "app",
        2_000,
        "alice",
    )
    .await;
    seed::device_tokens(
        &f.db.store,
        TENANT,
        "tablet",
        "Local",
        "cn=bob,o=acme",
        "web",
        1_000,
        "bob",
    )
    .await;
    println!("registered 3,000 device tokens in {:?}", started.elapsed());
    f.db.requests.reset();

    let started = Instant::now();
    let request = post(
        "/nidp/oauth/nam/revoke/tablet",
        Some(&basic("web", &f.secret)),
        FORM,
        "userstore_name=Local&user_dn=cn%3Dalice%2Co%3Dacme",
    );
    let response = parts(f.send(request).await);
    let elapsed = started.elapsed();
    assert_eq!(response, (200, json!({ "status": DEVICE_OK })));
    let count = |dn| seed::count_device_tokens(&f.db.store, TENANT, "tablet", "Local", dn);
    let requests = f.db.requests.snapshot();
    println!("revoked 2,000 of the device's 3,000 tokens in {elapsed:?} with {requests:?}");
    assert_eq!(count("cn=alice,o=acme").await, 0);
    assert_eq!(count("cn=bob,o=acme").await, 1_000);
    assert_eq!(f.remaining().await, ALL);

    let batches = requests["BatchWriteItem"];
    let queries = requests["Query"];
    assert_eq!(batches, 2_000u64.div_ceil(25));
    assert!(
        queries >= 2,
        "the default page size of 1000 keys means several pages"
    );
    // One read for the client, a one-key query that there is something to revoke, the
    // device's revoked mark (pending), pages and batches, then the mark's pending flag
    // cleared: a retry after store trouble finishes the job (see hardening.rs).
    assert_eq!(requests["UpdateItem"], 2);
    assert_eq!(
        requests.values().sum::<u64>(),
        1 + queries + batches + 2,
        "{requests:?}"
    );
}

#[tokio::test]
async fn browsers_from_allowed_origins_get_cors_headers_on_preflights_and_answers() {
    let f = fixture().await;
    let config = RevocationConfig {
        cors: CorsPolicy::parse("https://app.example.com").unwrap(),
        ..config(DeviceRevocationAuth::Client)
    };
    let preflight = |origin: &str| {
        HttpApiEvent::new("OPTIONS", RFC7009)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .request()
    };
    let response = send(&f.db.store, &config, preflight("https://app.example.com")).await;
    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-methods"], "POST");
    assert_eq!(
        headers["access-control-allow-headers"],
        "authorization, content-type"
    );
    let response = send(&f.db.store, &config, preflight("https://evil.example.com")).await;
    assert_eq!(response.status(), 204);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // The answers themselves, success and error alike, are readable by the allowed origin.
    let call = |auth: String| {
        let mut request = post(RFC7009, Some(&auth), FORM, "token=at-1");
        request
            .headers_mut()
            .insert("origin", "https://app.example.com".parse().unwrap());
        send(&f.db.store, &config, request)
    };
    for (auth, status) in [(basic("web", "bad"), 401), (basic("web", &f.secret), 200)] {
        let response = call(auth).await;
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(response.headers()["vary"], "origin");
    }
    assert!(!f.stored("at-1").await);

    // With CORS off (the default) nothing is added.
    let off = config_without_cors();
    let response = send(&f.db.store, &off, preflight("https://app.example.com")).await;
    assert_eq!(response.status(), 204);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

fn config_without_cors() -> RevocationConfig {
    config(DeviceRevocationAuth::Client)
}

#[tokio::test]
async fn one_revocation_costs_a_handful_of_requests() {
    let f = fixture().await;
    let pairs = [
        ("client_id", "web"),
        ("client_secret", f.secret.as_str()),
        ("token", "rt-1"),
    ];
    assert_empty_200(&f.revoke(NETIQ, &pairs).await);
    // Client, token, the markers of its user and grant (one BatchGetItem), grant page, one
    // batch for the grant, the grant's revoked mark, the token itself.
    assert_eq!(
        f.db.requests.snapshot(),
        [
            ("BatchGetItem", 1),
            ("BatchWriteItem", 1),
            ("DeleteItem", 1),
            ("GetItem", 2),
            ("Query", 1),
            ("UpdateItem", 1)
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    );
}

/// Index lag or a registration racing the revocation can leave a token of a revoked grant,
/// or of a revoked device, unlisted. Its record may stay, but no lookup finds it usable.
#[tokio::test]
async fn tokens_the_index_missed_count_as_gone_once_their_grant_or_device_is_revoked() {
    let f = fixture().await;
    let pairs = [
        ("client_id", "web"),
        ("client_secret", f.secret.as_str()),
        ("token", "rt-1"),
    ];
    assert_empty_200(&f.revoke(NETIQ, &pairs).await);
    seed::device_tokens(&f.db.store, TENANT, "d1", "Local", "cn=a", "app", 2, "d").await;
    let open = config(DeviceRevocationAuth::None);
    let body = "userstore_name=Local&user_dn=cn%3Da";
    let response = send(
        &f.db.store,
        &open,
        post("/nidp/oauth/nam/revoke/d1", None, None, body),
    );
    assert_eq!(response.await.status(), 200);

    // Issued before the revocations, their records written after them.
    let now = signoff_store::now_epoch_seconds();
    let mut late_grant = seed::token(TENANT, "late-at", TokenType::Access, "web");
    late_grant.grant_id = Some("g1".into());
    late_grant.issued_at = now - 60;
    let mut late_device = seed::token(TENANT, "late-dev", TokenType::Access, "app");
    late_device.device = Some(signoff_store::model::DeviceBinding {
        device_id: "d1".into(),
        user_store: "Local".into(),
        user_dn: "cn=a".into(),
    });
    late_device.issued_at = now - 60;
    // Issued after them: a new grant of the same id, a new login on the device.
    let mut fresh = late_grant.clone();
    fresh.hash = signoff_store::item_key::TokenHash::of("fresh-at");
    fresh.issued_at = now + 2;
    seed::register(&f.db.store, vec![late_grant, late_device, fresh]).await;

    let store = &f.db.store;
    let live = |value: &'static str| async move {
        let hash = signoff_store::item_key::TokenHash::of(value);
        store.find_token(TENANT, &hash).await.unwrap().is_some()
    };
    assert!(!live("late-at").await, "a token of the revoked grant");
    assert!(!live("late-dev").await, "a token of the revoked device");
    assert!(
        live("fresh-at").await,
        "a token issued after the revocation"
    );
    // The other grant of the same client is untouched.
    assert!(live("at-3").await);
}

/// Under the open policy the NetIQ request needs no credentials, so a browser would send
/// it cross-site for any page (a form POST needs no preflight): only allowed origins, or
/// requests without an `Origin`, get through. Device ids arrive percent-encoded in the path.
#[tokio::test]
async fn the_open_device_policy_refuses_other_sites_and_decodes_the_device_id() {
    let f = fixture().await;
    seed::device_tokens(
        &f.db.store,
        TENANT,
        "tab 1",
        "Local",
        "cn=admin,o=novell",
        "app",
        2,
        "t",
    )
    .await;
    let open = RevocationConfig {
        cors: CorsPolicy::parse("https://app.example.com").unwrap(),
        ..config(DeviceRevocationAuth::None)
    };
    let count =
        || seed::count_device_tokens(&f.db.store, TENANT, "tab 1", "Local", "cn=admin,o=novell");
    let cross_site = netiq_sample("tab%201")
        .header("origin", "https://evil.example.com")
        .request();
    let response = parts(send(&f.db.store, &open, cross_site).await);
    assert_error(&response, 400, "invalid_request");
    assert_eq!(count().await, 2);

    let allowed = netiq_sample("tab%201")
        .header("origin", "https://app.example.com")
        .request();
    let response = parts(send(&f.db.store, &open, allowed).await);
    assert_eq!(response, (200, json!({ "status": DEVICE_OK })));
    assert_eq!(count().await, 0);
}
