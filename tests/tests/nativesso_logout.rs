//! `POST /api/{serviceId}/nativesso/logout` against a real DynamoDB-compatible server,
//! through the function's handler.

use serde_json::{json, Value};
use signoff_nativesso::handle;
use std::time::Duration;

use aws_sdk_dynamodb::config::SharedInterceptor;
use signoff_tests::db::{ErrorInjector, IndexLagInjector, TestDb, UnprocessedInjector};
use signoff_tests::event::HttpApiEvent;
use signoff_tests::seed::{self, parts, post, post_event};

const JSON: Option<&str> = Some("application/json");

fn path(service: &str) -> String {
    format!("/api/{service}/nativesso/logout")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn logout(db: &TestDb, service: &str, token: &str, body: &str) -> (u16, Value) {
    let request = post(&path(service), Some(&bearer(token)), JSON, body);
    parts(
        handle(&db.store, &signoff_nativesso::Settings::default(), request)
            .await
            .expect("the handler never fails"),
    )
}

fn assert_ok(response: &(u16, Value), count: u64) {
    assert_eq!(response.0, 200, "{}", response.1);
    assert_eq!(
        response.1,
        json!({
            "resultCode": "A503001",
            "resultMessage": format!("[A503001] The /nativesso/logout API call successfully deleted {count} access/refresh token record(s)."),
            "action": "OK",
            "count": count,
        })
    );
}

#[tokio::test]
async fn logout_deletes_every_token_of_the_session_and_nothing_else() {
    let db = TestDb::start().await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::tenant(&db.store, "200", None).await;
    seed::session_tokens(&db.store, "100", "s1", 7, "a").await;
    seed::session_tokens(&db.store, "100", "s2", 3, "b").await;
    // Same session id in another service: a different session.
    seed::session_tokens(&db.store, "200", "s1", 4, "c").await;

    let response = logout(&db, "100", &token, r#"{"sessionId":"s1"}"#).await;
    assert_ok(&response, 7);
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s1").await, 0);
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s2").await, 3);
    assert_eq!(seed::count_session_tokens(&db.store, "200", "s1").await, 4);
    assert_eq!(seed::count_all_tokens(&db.store).await, 7);
}

#[tokio::test]
async fn unknown_and_repeated_sessions_are_ok_with_count_zero() {
    let db = TestDb::start().await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::session_tokens(&db.store, "100", "s1", 2, "a").await;
    assert_ok(
        &logout(&db, "100", &token, r#"{"sessionId":"nope"}"#).await,
        0,
    );
    assert_ok(
        &logout(&db, "100", &token, r#"{"sessionId":"s1"}"#).await,
        2,
    );
    assert_ok(
        &logout(&db, "100", &token, r#"{"sessionId":"s1"}"#).await,
        0,
    );
}

#[tokio::test]
async fn a_logged_out_session_refuses_new_tokens() {
    let db = TestDb::start().await;
    let token = seed::tenant(&db.store, "100", None).await;
    assert_ok(
        &logout(&db, "100", &token, r#"{"sessionId":"s1"}"#).await,
        0,
    );
    let err =
        signoff_store::demo::register_session_tokens(&db.store, "100", "s1", 1, "late", |_| {})
            .await
            .unwrap_err();
    assert!(
        matches!(err, signoff_store::tokens::RegisterError::SessionEnded { ref sessions } if sessions == &["s1"])
    );
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s1").await, 0);
}

#[tokio::test]
async fn missing_authorization_is_401_a001202_naming_the_real_path() {
    let db = TestDb::start().await;
    let request = post(&path("715948317"), None, JSON, r#"{"sessionId":"s"}"#);
    let (status, body) = parts(
        handle(&db.store, &signoff_nativesso::Settings::default(), request)
            .await
            .unwrap(),
    );
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({
            "resultCode": "A001202",
            "resultMessage": "[A001202] /api/715948317/nativesso/logout, Authorization header is missing."
        })
    );
}

#[tokio::test]
async fn messages_show_the_api_path_even_behind_a_named_stage() {
    let db = TestDb::start().await;
    let request = post_event("/api/42/nativesso/logout", None, JSON, "{}")
        .stage("prod")
        .request();
    let (status, body) = parts(
        handle(&db.store, &signoff_nativesso::Settings::default(), request)
            .await
            .unwrap(),
    );
    assert_eq!(status, 401);
    assert_eq!(
        body["resultMessage"],
        "[A001202] /api/42/nativesso/logout, Authorization header is missing."
    );
}

#[tokio::test]
async fn credentials_are_checked_and_scoped() {
    let db = TestDb::start().await;
    let token_100 = seed::tenant(&db.store, "100", Some("org-a")).await;
    seed::tenant(&db.store, "200", Some("org-a")).await;
    seed::tenant(&db.store, "300", Some("org-b")).await;
    let org_a = seed::organization_token(&db.store, "org-a").await;
    let body = r#"{"sessionId":"s"}"#;

    // Unknown token, and one that is not a bearer token at all.
    let (status, response) = logout(&db, "100", "sgn_sat_not-a-real-token", body).await;
    assert_eq!(
        (status, response["resultCode"].as_str()),
        (401, Some("A001203"))
    );
    let request = post(&path("100"), Some("Basic dXNlcjpwYXNz"), JSON, body);
    let (status, response) = parts(
        handle(&db.store, &signoff_nativesso::Settings::default(), request)
            .await
            .unwrap(),
    );
    assert_eq!(
        (status, response["resultCode"].as_str()),
        (401, Some("A001204"))
    );
    assert!(response.get("action").is_none());

    // A service token works for its own service only.
    assert_ok(&logout(&db, "100", &token_100, body).await, 0);
    let (status, response) = logout(&db, "200", &token_100, body).await;
    assert_eq!(
        (status, response["resultCode"].as_str()),
        (403, Some("A001205"))
    );
    assert_eq!(
        response["resultMessage"],
        "[A001205] /api/200/nativesso/logout, The access token is not permitted to call APIs of this service."
    );

    // An organization token works for every service of its organization, and no other.
    assert_ok(&logout(&db, "100", &org_a, body).await, 0);
    assert_ok(&logout(&db, "200", &org_a, body).await, 0);
    assert_eq!(logout(&db, "300", &org_a, body).await.0, 403);
    // A service that does not exist, and a malformed service id.
    assert_eq!(logout(&db, "999", &org_a, body).await.0, 403);
    assert_eq!(logout(&db, "a%23b", &token_100, body).await.0, 403);
    // A decoded path parameter with key syntax in it cannot reach another tenant's keys:
    // API Gateway hands `100%23x` over as `100#x`.
    let crafted = post(&path("100%23x"), Some(&bearer(&token_100)), JSON, body);
    assert_eq!(
        lambda_http::RequestExt::path_parameters_ref(&crafted).and_then(|p| p.first("serviceId")),
        Some("100#x")
    );
    assert_eq!(
        parts(
            handle(&db.store, &signoff_nativesso::Settings::default(), crafted)
                .await
                .unwrap()
        )
        .0,
        403
    );

    // A revoked credential stops working at once.
    assert!(db.store.revoke_credential(&token_100).await.unwrap());
    assert_eq!(logout(&db, "100", &token_100, body).await.0, 401);
}

#[tokio::test]
async fn bad_input_is_a_400_caller_error_that_names_the_problem() {
    let db = TestDb::start().await;
    let token = seed::tenant(&db.store, "100", None).await;
    let auth = bearer(&token);
    let long = "x".repeat(257);
    let cases: Vec<(Option<&str>, String, &str, &str)> = vec![
        (JSON, String::new(), "A503201", "required 'sessionId'"),
        (JSON, "{}".into(), "A503201", "required 'sessionId'"),
        (
            JSON,
            r#"{"sessionId":null}"#.into(),
            "A503201",
            "required 'sessionId'",
        ),
        (
            JSON,
            r#"{"sessionID":"s"}"#.into(),
            "A503201",
            "required 'sessionId'",
        ),
        (
            JSON,
            r#"{"sessionId":42}"#.into(),
            "A503202",
            "must be a string",
        ),
        (
            JSON,
            r#"{"sessionId":["s"]}"#.into(),
            "A503202",
            "must be a string",
        ),
        (
            JSON,
            r#"{"sessionId":{"a":1}}"#.into(),
            "A503202",
            "must be a string",
        ),
        (JSON, r#"{"sessionId":""}"#.into(), "A503203", "is empty"),
        (
            JSON,
            format!(r#"{{"sessionId":"{long}"}}"#),
            "A503204",
            "longer than 256 bytes",
        ),
        (
            JSON,
            r#"{"sessionId":"a\u0000b"}"#.into(),
            "A503205",
            "control characters",
        ),
        (
            JSON,
            r#"{"sessionId":"s""#.into(),
            "A503206",
            "not valid JSON",
        ),
        (JSON, "sessionId=s".into(), "A503206", "not valid JSON"),
        (JSON, r#"["s"]"#.into(), "A503207", "must be a JSON object"),
        (
            Some("application/x-www-form-urlencoded"),
            "sessionId=s".into(),
            "A503208",
            "application/json",
        ),
        (
            None,
            r#"{"sessionId":"s"}"#.into(),
            "A503208",
            "application/json",
        ),
        (
            JSON,
            format!(r#"{{"sessionId":"s","pad":"{}"}}"#, "p".repeat(9000)),
            "A503209",
            "larger than 8192 bytes",
        ),
    ];
    for (content_type, body, code, words) in cases {
        let request = post(&path("100"), Some(&auth), content_type, &body);
        let (status, response) = parts(
            handle(&db.store, &signoff_nativesso::Settings::default(), request)
                .await
                .unwrap(),
        );
        let shown: String = body.chars().take(60).collect();
        assert_eq!(status, 400, "{shown}: {response}");
        assert_eq!(response["resultCode"], code, "{shown}: {response}");
        assert_eq!(response["action"], "CALLER_ERROR", "{shown}");
        let message = response["resultMessage"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("[{code}] /api/100/nativesso/logout, ")),
            "{message}"
        );
        assert!(message.contains(words), "{shown}: {message}");
    }

    let request = HttpApiEvent::get(&path("100"))
        .header("authorization", &auth)
        .request();
    let response = handle(&db.store, &signoff_nativesso::Settings::default(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["action"].as_str()),
        (405, Some("CALLER_ERROR"))
    );
}

#[tokio::test]
async fn a_10000_token_session_is_deleted_across_several_pages_in_few_requests() {
    let db = TestDb::start().await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::session_tokens(&db.store, "100", "big", 10_000, "t").await;
    seed::session_tokens(&db.store, "100", "other", 30, "o").await;
    db.requests.reset();

    let response = logout(&db, "100", &token, r#"{"sessionId":"big"}"#).await;
    assert_ok(&response, 10_000);
    assert_eq!(seed::count_session_tokens(&db.store, "100", "big").await, 0);
    assert_eq!(seed::count_all_tokens(&db.store).await, 30);

    let queries = db.requests.get("Query");
    let batches = db.requests.get("BatchWriteItem");
    assert!(
        queries >= 3,
        "the default page size of 1000 keys means several pages, got {queries}"
    );
    assert_eq!(batches, 10_000u64.div_ceil(25));
    // One read for the credential, one write for the session marker, then pages and batches.
    let bound = 10_000u64.div_ceil(25) + queries + 3;
    assert!(
        db.requests.total() <= bound,
        "{:?} > {bound}",
        db.requests.snapshot()
    );
}

#[tokio::test]
async fn unprocessed_items_are_retried_until_every_record_is_gone() {
    let faults = UnprocessedInjector::new(30);
    let db = TestDb::start_with(
        |c| c.bulk.base_backoff = std::time::Duration::from_millis(1),
        Some(SharedInterceptor::new(faults.clone())),
    )
    .await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::session_tokens(&db.store, "100", "s", 500, "t").await;
    faults_reset_after_seeding(&faults, 30);

    let response = logout(&db, "100", &token, r#"{"sessionId":"s"}"#).await;
    assert_ok(&response, 500);
    assert_eq!(seed::count_session_tokens(&db.store, "100", "s").await, 0);
    assert_eq!(faults.remaining(), 0);
    assert!(
        db.requests.get("BatchWriteItem") > 20,
        "retries are extra calls"
    );
}

/// Seeding goes through transactions, not BatchWriteItem, so the injector is untouched;
/// this asserts it, so the retry test really exercises the logout.
fn faults_reset_after_seeding(faults: &UnprocessedInjector, expected: u32) {
    assert_eq!(faults.remaining(), expected);
}

#[tokio::test]
async fn writes_that_stay_unprocessed_are_a_retryable_server_error_never_ok() {
    let db = TestDb::start_with(
        |c| {
            c.bulk.base_backoff = std::time::Duration::from_millis(1);
            c.bulk.max_attempts = 3;
        },
        Some(SharedInterceptor::new(UnprocessedInjector::always())),
    )
    .await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::session_tokens(&db.store, "100", "s", 60, "t").await;

    let request = post(
        &path("100"),
        Some(&bearer(&token)),
        JSON,
        r#"{"sessionId":"s"}"#,
    );
    let response = handle(&db.store, &signoff_nativesso::Settings::default(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_eq!(status, 500);
    assert_eq!(body["action"], "SERVER_ERROR");
    assert_eq!(body["resultCode"], "A503101");
    assert!(seed::count_session_tokens(&db.store, "100", "s").await > 0);
    // The session is nevertheless ended: nothing new can join it while the caller retries.
    assert!(db.store.session_ended("100", "s").await.unwrap());
}

#[tokio::test]
async fn store_failures_are_500_server_error_with_nothing_internal_leaked() {
    // The table does not exist: a configuration fault, not worth retrying.
    let db = TestDb::start().await;
    let token = seed::tenant(&db.store, "100", None).await;
    let missing = signoff_store::Store::new(
        db.store.client().clone(),
        signoff_store::Config::for_table("no-such-table"),
    );
    let request = post(
        &path("100"),
        Some(&bearer(&token)),
        JSON,
        r#"{"sessionId":"s"}"#,
    );
    let response = handle(&missing, &signoff_nativesso::Settings::default(), request)
        .await
        .unwrap();
    assert!(response.headers().get("retry-after").is_none());
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["action"].as_str(), body["resultCode"].as_str()),
        (500, Some("SERVER_ERROR"), Some("A503102"))
    );
    let text = body.to_string();
    for leak in ["no-such-table", "ResourceNotFound", "DynamoDB", "dynamodb"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }

    // Nothing listens: a transient fault, so the caller is told to retry.
    let unreachable = seed::unreachable_store();
    let request = post(
        &path("100"),
        Some(&bearer(&token)),
        JSON,
        r#"{"sessionId":"s"}"#,
    );
    let response = handle(
        &unreachable,
        &signoff_nativesso::Settings::default(),
        request,
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["resultCode"].as_str()),
        (500, Some("A503101"))
    );
    assert!(!body.to_string().contains("127.0.0.1"));
}

/// Tokens registered concurrently with a logout of their session: every one either is
/// refused or is deleted by the logout. None survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_token_registered_during_a_logout_survives_it() {
    // The emulator's index has no lag: a short settle window keeps 200 trials quick.
    let db = TestDb::start_with(|c| c.index_settle = Duration::from_millis(20), None).await;
    let token = seed::tenant(&db.store, "100", None).await;
    let trials = 200;
    let mut registered_before_end = 0usize;
    let mut refused = 0usize;
    for trial in 0..trials {
        let session = format!("race-{trial}");
        seed::session_tokens(&db.store, "100", &session, 5, &format!("pre-{trial}")).await;
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let store = db.store.clone();
                let session = session.clone();
                tokio::spawn(async move {
                    let (mut ok, mut ended) = (0, 0);
                    for i in 0..4 {
                        let prefix = format!("race-{w}-{i}-{session}");
                        match signoff_store::demo::register_session_tokens(
                            &store,
                            "100",
                            &session,
                            2,
                            &prefix,
                            |_| {},
                        )
                        .await
                        {
                            Ok(_) => ok += 2,
                            Err(signoff_store::tokens::RegisterError::SessionEnded { .. }) => {
                                ended += 1
                            }
                            Err(e) => panic!("unexpected store error: {e}"),
                        }
                        tokio::task::yield_now().await;
                    }
                    (ok, ended)
                })
            })
            .collect();
        let response = logout(
            &db,
            "100",
            &token,
            &format!(r#"{{"sessionId":"{session}"}}"#),
        )
        .await;
        assert_eq!(response.0, 200, "{}", response.1);
        for writer in writers {
            let (ok, ended) = writer.await.unwrap();
            registered_before_end += ok;
            refused += ended;
        }
        assert_eq!(
            seed::count_session_tokens(&db.store, "100", &session).await,
            0,
            "trial {trial}: a token survived the logout"
        );
    }
    assert_eq!(seed::count_all_tokens(&db.store).await, 0);
    // Both sides of the race were exercised, or the test proves nothing.
    assert!(refused > 0, "no registration ever hit an ended session");
    assert!(
        registered_before_end > 0,
        "no registration ever beat the logout"
    );
    println!("race: {registered_before_end} tokens registered during logouts were deleted, {refused} registrations refused");
}

/// Logs out sessions whose tokens were registered moments before, through an index that
/// hides writes younger than `lag`; returns how many token records are left afterwards.
async fn tokens_left_after_logouts_under_index_lag(settle: Duration, lag: Duration) -> usize {
    let db = TestDb::start_with(
        |c| c.index_settle = settle,
        Some(SharedInterceptor::new(IndexLagInjector::new(lag))),
    )
    .await;
    let token = seed::tenant(&db.store, "100", None).await;
    for trial in 0..20 {
        let session = format!("lagged-{trial}");
        seed::session_tokens(&db.store, "100", &session, 3, &session).await;
        let response = logout(
            &db,
            "100",
            &token,
            &format!(r#"{{"sessionId":"{session}"}}"#),
        )
        .await;
        assert_eq!(response.0, 200, "{}", response.1);
    }
    // Counted with a scan, which the injector leaves alone.
    seed::count_all_tokens(&db.store).await
}

/// Without the second pass, index lag lets tokens survive: this is what the next test
/// guards against, and shows the injector really hides fresh writes.
#[tokio::test]
async fn without_a_settle_pass_index_lag_lets_tokens_survive() {
    // A lag far longer than a registration and a logout take on any machine, so every
    // fresh token is hidden however slow the run.
    let lag = Duration::from_secs(5);
    assert_eq!(
        tokens_left_after_logouts_under_index_lag(Duration::ZERO, lag).await,
        60
    );
}

#[tokio::test]
async fn index_lag_does_not_let_a_token_registered_before_a_logout_survive_it() {
    // The settle window outlasts the lag: the second read sees everything. It is counted
    // from the registration's stamp, taken before its write is sent, so it leaves room for
    // a slow write (DynamoDB Local on a busy CI machine took more than 140 ms).
    let (settle, lag) = (Duration::from_millis(600), Duration::from_millis(60));
    assert_eq!(
        tokens_left_after_logouts_under_index_lag(settle, lag).await,
        0
    );
}

#[tokio::test]
async fn a_logout_colliding_with_a_registration_transaction_is_retried() {
    let conflicts = ErrorInjector::conflict("UpdateItem", 0);
    let db = TestDb::start_with(
        |c| c.bulk.base_backoff = Duration::from_millis(1),
        Some(SharedInterceptor::new(conflicts.clone())),
    )
    .await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::session_tokens(&db.store, "100", "s", 5, "t").await;
    // Armed after the registration (which updates the user's audience item): the
    // logout's marker update meets the conflicts.
    conflicts.arm(0, 2);
    assert_ok(&logout(&db, "100", &token, r#"{"sessionId":"s"}"#).await, 5);
    assert_eq!(conflicts.remaining(), 0);
}

/// A failure after some pages were already deleted: the caller is told (never OK with a
/// partial count), the session stays ended, and a retry deletes the rest.
#[tokio::test]
async fn a_failure_midway_through_the_delete_is_an_error_and_a_retry_finishes_it() {
    let db = TestDb::start_with(
        |c| c.bulk.page_size = 100,
        Some(SharedInterceptor::new(ErrorInjector::new(
            "Query",
            "ValidationException",
            2,
            1,
        ))),
    )
    .await;
    let token = seed::tenant(&db.store, "100", None).await;
    seed::session_tokens(&db.store, "100", "s", 500, "t").await;

    let (status, body) = logout(&db, "100", &token, r#"{"sessionId":"s"}"#).await;
    assert_eq!(
        (status, body["resultCode"].as_str()),
        (500, Some("A503102")),
        "{body}"
    );
    let left = seed::count_all_tokens(&db.store).await;
    assert_eq!(
        left, 300,
        "the first two pages were deleted, the rest remain"
    );
    assert!(db.store.session_ended("100", "s").await.unwrap());

    assert_ok(
        &logout(&db, "100", &token, r#"{"sessionId":"s"}"#).await,
        300,
    );
    assert_eq!(seed::count_all_tokens(&db.store).await, 0);
}
