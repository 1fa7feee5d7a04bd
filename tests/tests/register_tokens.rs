//! `POST /signoff/v1/tenants/{tenantId}/tokens` against a real DynamoDB-compatible server,
//! through the function's handler.

use aws_sdk_dynamodb::config::SharedInterceptor;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use signoff_register::handle;
use signoff_store::item_key::TokenHash;
use signoff_tests::db::{ErrorInjector, TestDb};
use signoff_tests::seed::{self, parts, post};

/// An expiry a registration accepts: a day from now (a token may not outlive the
/// revocation marks, which last `SIGNOFF_SESSION_MARKER_TTL_DAYS`).
fn future() -> i64 {
    signoff_store::now_epoch_seconds() + 86_400
}

async fn register(db: &TestDb, tenant: &str, token: &str, body: &Value) -> (u16, Value) {
    let request = post(
        &format!("/signoff/v1/tenants/{tenant}/tokens"),
        Some(&format!("Bearer {token}")),
        Some("application/json"),
        &body.to_string(),
    );
    parts(
        handle(&db.store, &Default::default(), request)
            .await
            .expect("the handler never fails"),
    )
}

fn token(value: &str, session: Option<&str>) -> Value {
    let mut t = json!({"token": value, "type": "refresh", "clientId": "app", "subject": "alice", "expiresAt": future()});
    if let Some(s) = session {
        t["sessionId"] = json!(s);
    }
    t
}

#[tokio::test]
async fn registers_a_token_by_value_keeping_only_its_hash() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let (status, body) = register(
        &db,
        "100",
        &credential,
        &token("rt-secret-value", Some("s1")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let hash = TokenHash::of("rt-secret-value");
    assert_eq!(
        body,
        json!({"registered": 1, "tokenHashes": [hash.encoded()]})
    );

    let item = db
        .store
        .client()
        .get_item()
        .table_name(db.store.table_name())
        .key(
            "pk",
            AttributeValue::S(signoff_store::item_key::token_pk("100", &hash)),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the record is stored under the hash");
    assert!(
        !format!("{item:?}").contains("rt-secret-value"),
        "the raw token was stored"
    );
    let record = signoff_store::model::TokenRecord::from_item(item).unwrap();
    assert_eq!(record.session_id.as_deref(), Some("s1"));
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s1").await, 1);
}

#[tokio::test]
async fn registers_by_hash_and_in_batches_of_up_to_25() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let mut by_hash = token("unused", Some("s1"));
    by_hash.as_object_mut().unwrap().remove("token");
    by_hash["tokenHash"] = json!(TokenHash::of("at-1").encoded());
    assert_eq!(register(&db, "100", &credential, &by_hash).await.0, 200);

    let batch: Vec<Value> = (0..25)
        .map(|i| token(&format!("rt-{i}"), Some("s2")))
        .collect();
    let (status, body) = register(&db, "100", &credential, &json!({"tokens": batch})).await;
    assert_eq!(
        (status, body["registered"].as_u64()),
        (200, Some(25)),
        "{body}"
    );
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s2").await, 25);

    let too_many: Vec<Value> = (0..26).map(|i| token(&format!("x-{i}"), None)).collect();
    let (status, body) = register(&db, "100", &credential, &json!({"tokens": too_many})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Registering the same token again is harmless (the authorization server may retry).
    assert_eq!(
        register(&db, "100", &credential, &token("rt-0", Some("s2")))
            .await
            .0,
        200
    );
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s2").await, 25);
}

#[tokio::test]
async fn tokens_of_an_ended_session_are_refused_and_a_batch_is_all_or_nothing() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    db.store.end_session("100", "gone").await.unwrap();

    let (status, body) = register(&db, "100", &credential, &token("late", Some("gone"))).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "session_ended");
    assert_eq!(body["sessions"], json!(["gone"]));

    let batch =
        json!({"tokens": [token("a", Some("live")), token("b", Some("gone")), token("c", None)]});
    let (status, body) = register(&db, "100", &credential, &batch).await;
    assert_eq!((status, body["sessions"].clone()), (409, json!(["gone"])));
    assert_eq!(
        seed::count_all_tokens(&db.store).await,
        0,
        "nothing of a refused batch is stored"
    );
    // Another tenant's session of the same name is a different session.
    let other = seed::tenant(&db.store, "200", None).await;
    assert_eq!(
        register(&db, "200", &other, &token("late", Some("gone")))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn credentials_are_required_and_scoped() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", Some("org")).await;
    seed::tenant(&db.store, "200", None).await;
    let org = seed::organization_token(&db.store, "org").await;
    let body = token("t", None);

    let request = post(
        "/signoff/v1/tenants/100/tokens",
        None,
        Some("application/json"),
        &body.to_string(),
    );
    let response = handle(&db.store, &Default::default(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(parts(response).0, 401);
    assert_eq!(register(&db, "100", "sgn_sat_unknown", &body).await.0, 401);
    let (status, response) = register(&db, "200", &credential, &body).await;
    assert_eq!(
        (status, response["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(register(&db, "100", &org, &body).await.0, 200);
    assert_eq!(register(&db, "200", &org, &body).await.0, 403);
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_field() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut t = token("t", None);
        f(&mut t);
        t
    };
    let cases = [
        (
            with(&|t| t["sessionID"] = json!("s")),
            "unknown field `sessionID`",
        ),
        (with(&|t| t["type"] = json!("id_token")), "type: must be"),
        (
            with(&|t| t["expiresAt"] = json!(1)),
            "expiresAt: is not in the future",
        ),
        (with(&|t| t["expiresAt"] = json!("tomorrow")), "expiresAt"),
        (
            with(&|t| t["deviceId"] = json!("d")),
            "deviceId, userStore and userDn go together",
        ),
        (
            with(&|t| t["tokenHash"] = json!("abc")),
            "send either token or tokenHash",
        ),
        (with(&|t| t["token"] = json!("")), "token: must be 1 to"),
        (
            with(&|t| t["clientId"] = json!("")),
            "clientId: must not be empty",
        ),
        (
            with(&|t| t["subject"] = json!("a\u{7}")),
            "subject: must not contain control characters",
        ),
        (json!({"tokens": "x"}), "'tokens' must be an array"),
        (
            json!({"tokens": [token("a", None)], "extra": 1}),
            "only the 'tokens' field",
        ),
        (
            json!({"tokens": [token("a", None), {"type": "access"}]}),
            "tokens[1]: missing field",
        ),
    ];
    for (body, words) in cases {
        let (status, response) = register(&db, "100", &credential, &body).await;
        assert_eq!(status, 400, "{body}: {response}");
        assert_eq!(response["error"], "invalid_request");
        let description = response["error_description"].as_str().unwrap();
        assert!(description.contains(words), "{body}: {description}");
    }
    for (content_type, raw) in [
        (Some("application/json"), "{"),
        (Some("text/plain"), "{}"),
        (None, "[]"),
    ] {
        let request = post(
            "/signoff/v1/tenants/100/tokens",
            Some(&format!("Bearer {credential}")),
            content_type,
            raw,
        );
        let (status, response) = parts(
            handle(&db.store, &Default::default(), request)
                .await
                .unwrap(),
        );
        assert_eq!(
            (status, response["error"].as_str()),
            (400, Some("invalid_request")),
            "{raw}"
        );
    }
    assert_eq!(seed::count_all_tokens(&db.store).await, 0);
}

#[tokio::test]
async fn store_trouble_is_503_with_retry_after_and_nothing_registered() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let unreachable = seed::unreachable_store();
    let request = post(
        "/signoff/v1/tenants/100/tokens",
        Some(&format!("Bearer {credential}")),
        Some("application/json"),
        &token("t", None).to_string(),
    );
    let response = handle(&unreachable, &Default::default(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(!body.to_string().contains("127.0.0.1"));
}

#[tokio::test]
async fn transaction_conflicts_are_retried_then_reported_as_retryable() {
    let conflicts = ErrorInjector::conflict("TransactWriteItems", 2);
    let db = TestDb::start_with(
        |c| c.bulk.base_backoff = std::time::Duration::from_millis(1),
        Some(SharedInterceptor::new(conflicts.clone())),
    )
    .await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let (status, body) = register(&db, "100", &credential, &token("t1", Some("s1"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        conflicts.remaining(),
        0,
        "both conflicts were met and retried"
    );
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s1").await, 1);

    let db = TestDb::start_with(
        |c| {
            c.bulk.base_backoff = std::time::Duration::from_millis(1);
            c.bulk.max_attempts = 3;
        },
        Some(SharedInterceptor::new(ErrorInjector::conflict(
            "TransactWriteItems",
            u32::MAX,
        ))),
    )
    .await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let request = post(
        "/signoff/v1/tenants/100/tokens",
        Some(&format!("Bearer {credential}")),
        Some("application/json"),
        &token("t1", Some("s1")).to_string(),
    );
    let response = handle(&db.store, &Default::default(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(seed::count_all_tokens(&db.store).await, 0);
}

/// Scope and audience are recorded as sent, for introspection to report; one audience may
/// be a plain string, as RFC 7662 writes `aud`.
#[tokio::test]
async fn scope_and_audience_are_recorded() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let mut many = token("rt-with-audiences", None);
    many["scope"] = json!("openid profile api:read");
    many["audience"] = json!(["https://api.example.com", "billing"]);
    let mut one = token("at-with-audience", None);
    one["type"] = json!("access");
    one["audience"] = json!("https://api.example.com");
    let (status, body) = register(&db, "100", &credential, &json!({"tokens": [many, one]})).await;
    assert_eq!(status, 200, "{body}");

    let many = stored(&db, "rt-with-audiences").await;
    assert_eq!(many.scope.as_deref(), Some("openid profile api:read"));
    assert_eq!(many.audience, ["https://api.example.com", "billing"]);
    let one = stored(&db, "at-with-audience").await;
    assert_eq!(
        (one.scope, one.audience),
        (None, vec!["https://api.example.com".to_owned()])
    );
    // Without either, nothing is stored for them.
    let (status, _) = register(&db, "100", &credential, &token("plain", None)).await;
    assert_eq!(status, 200);
    let plain = stored(&db, "plain").await;
    assert_eq!((plain.scope, plain.audience), (None, Vec::<String>::new()));
}

#[tokio::test]
async fn malformed_scope_or_audience_is_a_400_that_names_the_field() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    for (field, value) in [
        ("scope", json!("")),
        ("scope", json!("two  spaces")),
        ("scope", json!(" leading")),
        ("scope", json!("quote\"d")),
        ("scope", json!("back\\slash")),
        ("scope", json!("caf\u{e9}")),
        ("scope", json!("x".repeat(1025))),
        ("scope", json!(["openid"])),
        ("audience", json!([])),
        ("audience", json!("")),
        ("audience", json!(["ok", 7])),
        ("audience", json!(["tab\there"])),
        (
            "audience",
            json!((0..17).map(|i| format!("aud-{i}")).collect::<Vec<_>>()),
        ),
    ] {
        let mut body = token("t", None);
        body[field] = value.clone();
        let (status, body) = register(&db, "100", &credential, &body).await;
        assert_eq!(status, 400, "{field} = {value}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(field),
            "{field} = {value}: {description}"
        );
    }
    assert_eq!(seed::count_all_tokens(&db.store).await, 0);
}

async fn stored(db: &TestDb, value: &str) -> signoff_store::model::TokenRecord {
    db.store
        .find_token("100", &TokenHash::of(value))
        .await
        .unwrap()
        .expect("registered")
}

/// Times are integers as JSON Schema counts them: `3600.0` is the integer 3600, `1.5` is
/// not an integer and is refused, naming the field.
#[tokio::test]
async fn integral_numbers_written_with_a_fraction_are_integers() {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, "100", None).await;
    let now = signoff_store::now_epoch_seconds();
    let body = json!({"token": "t", "type": "access", "clientId": "app",
        "issuedAt": now as f64, "expiresIn": 3600.0});
    let (status, response) = register(&db, "100", &credential, &body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(stored(&db, "t").await.expires_at, now + 3600);
    for (field, value) in [
        ("expiresIn", json!(1.5)),
        ("issuedAt", json!(1e300)),
        ("expiresAt", json!("1800")),
    ] {
        let mut body = json!({"token": "u", "type": "access", "clientId": "app", "expiresIn": 60});
        body[field] = value.clone();
        if field == "expiresAt" {
            body.as_object_mut().unwrap().remove("expiresIn");
        }
        let (status, response) = register(&db, "100", &credential, &body).await;
        assert_eq!(status, 400, "{field} = {value}: {response}");
        let description = response["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(field),
            "{field} = {value}: {description}"
        );
    }
}
