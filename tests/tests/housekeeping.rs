//! Scheduled housekeeping against a real DynamoDB server: it deletes what expired and
//! nothing else, reads only expired records (never a Scan), stops at its deadline and cap
//! and carries on next time, and two runs at once delete each record once. Also: every
//! read path treats a record past its expiry as gone before housekeeping deletes it.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use signoff_store::housekeeping::{SweepEnd, SweepLimits};
use signoff_store::item_key::{self, TokenHash};
use signoff_store::model::{Item, TokenType};
use signoff_store::Store;
use signoff_tests::db::{client_config, TestDb, UnprocessedInjector};
use signoff_tests::seed;

const TENANT: &str = "715948317";

fn limits(max_deletes: u64) -> SweepLimits {
    SweepLimits::within(
        Duration::from_secs(60),
        Duration::from_secs(5),
        max_deletes,
        48,
    )
}

/// `live` records expiring over the next 30 days (the first in ten minutes) and
/// `expired` records that expired over the last 30 hours (at least a minute ago); token values `live-i`/`gone-i`.
async fn seed_tokens(store: &Store, live: usize, expired: usize) {
    let now = signoff_store::now_epoch_seconds();
    let mut items: Vec<Item> = (0..live)
        .map(|i| {
            let mut record = seed::token(TENANT, &format!("live-{i}"), TokenType::Access, "app");
            record.expires_at = now + 600 + (i as i64 * 7919) % (30 * 86_400);
            record.to_item()
        })
        .collect();
    items.extend((0..expired).map(|i| {
        let ago = 60 + (i as i64 * 104_729) % (30 * 3600);
        seed::expired_token(TENANT, &format!("gone-{i}"), ago).to_item()
    }));
    seed::put_items(store, items).await;
}

/// A marker item (a user's logout-all) expiring at `expires_at`, as the store writes it.
fn user_marker(user: &str, expires_at: i64) -> Item {
    let pk = item_key::user_pk(TENANT, user);
    Item::from([
        ("pk".to_owned(), AttributeValue::S(pk.clone())),
        ("kind".to_owned(), AttributeValue::S("user".into())),
        (
            "revoked_at".to_owned(),
            AttributeValue::N((expires_at - 100).to_string()),
        ),
        (
            "expires_at".to_owned(),
            AttributeValue::N(expires_at.to_string()),
        ),
        (
            "expiry_bucket".to_owned(),
            AttributeValue::S(item_key::item_expiry_bucket(&pk, expires_at)),
        ),
    ])
}

fn token_pk(value: &str) -> String {
    item_key::token_pk(TENANT, &TokenHash::of(value))
}

#[tokio::test]
async fn a_sweep_deletes_what_expired_and_reads_nothing_else() {
    let db = TestDb::start().await;
    seed_tokens(&db.store, 2_000, 300).await;
    let now = signoff_store::now_epoch_seconds();
    seed::put_items(
        &db.store,
        vec![
            user_marker("expired-user", now - 7200),
            user_marker("live-user", now + 86_400),
        ],
    )
    .await;
    db.requests.reset();

    let report = db
        .store
        .sweep_expired(signoff_store::now_epoch_seconds(), &limits(10_000))
        .await
        .expect("sweep");
    assert_eq!(report.end, SweepEnd::Complete);
    assert_eq!(report.deleted, 301, "300 tokens and one marker expired");
    assert_eq!(report.skipped, 0);
    // Cost follows the expired records: every entry read was one to delete.
    assert_eq!(report.read, report.deleted);
    assert_eq!(db.requests.get("Scan"), 0);
    assert_eq!(db.requests.get("Query"), report.queries);
    // Deletes go 25 to a request: at least 10 records per request, whatever the buckets.
    assert_eq!(db.requests.get("DeleteItem"), 0);
    assert_eq!(
        db.requests.get("BatchExecuteStatement"),
        report.delete_requests
    );
    assert!(
        report.delete_requests * 10 <= report.deleted,
        "{} requests for {} deletes",
        report.delete_requests,
        report.deleted
    );
    // 49 hours of 8 shards: the lookback, this hour, and nothing more than a page each.
    assert_eq!(report.queries, 49 * 8);
    assert_eq!(seed::count_all_tokens(&db.store).await, 2_000);
    assert!(seed::item_stored(&db.store, token_pk("live-0")).await);
    assert!(!seed::item_stored(&db.store, token_pk("gone-0")).await);
    assert!(seed::item_stored(&db.store, item_key::user_pk(TENANT, "live-user")).await);
    assert!(!seed::item_stored(&db.store, item_key::user_pk(TENANT, "expired-user")).await);

    // The cursor moved to the current hour (or the one before, within a minute of the
    // hour): the next run reads one or two hours, not the whole lookback again.
    let current_hour = now.div_euclid(3600);
    assert!((current_hour - 1..=current_hour).contains(&report.next_hour));
    assert_eq!(
        db.store.housekeeping_cursor().await.unwrap(),
        Some(report.next_hour)
    );
    let again = db
        .store
        .sweep_expired(signoff_store::now_epoch_seconds(), &limits(10_000))
        .await
        .expect("second sweep");
    assert_eq!((again.read, again.deleted), (0, 0));
    assert!(again.queries <= 2 * 8, "{again:?}");
}

#[tokio::test]
async fn runs_stop_at_their_cap_and_the_next_run_carries_on() {
    let db = TestDb::start().await;
    seed_tokens(&db.store, 50, 250).await;
    let mut deleted = Vec::new();
    for _ in 0..3 {
        let report = db
            .store
            .sweep_expired(signoff_store::now_epoch_seconds(), &limits(100))
            .await
            .expect("sweep");
        deleted.push((report.deleted, report.end));
    }
    assert_eq!(
        deleted,
        [
            (100, SweepEnd::Cap),
            (100, SweepEnd::Cap),
            (50, SweepEnd::Complete)
        ]
    );
    assert_eq!(seed::count_all_tokens(&db.store).await, 50);
}

#[tokio::test]
async fn a_run_out_of_time_deletes_nothing_and_keeps_the_cursor() {
    let db = TestDb::start().await;
    seed_tokens(&db.store, 10, 20).await;
    let mut out_of_time = limits(100);
    out_of_time.deadline = Instant::now();
    let report = db
        .store
        .sweep_expired(signoff_store::now_epoch_seconds(), &out_of_time)
        .await
        .expect("sweep");
    assert_eq!(report.end, SweepEnd::Deadline);
    assert_eq!(
        (report.read, report.deleted, report.hours_finished),
        (0, 0, 0)
    );
    assert_eq!(db.store.housekeeping_cursor().await.unwrap(), None);
    assert_eq!(seed::count_all_tokens(&db.store).await, 30);
}

#[tokio::test]
async fn two_runs_at_once_delete_each_record_once() {
    let db = TestDb::start().await;
    seed_tokens(&db.store, 100, 400).await;
    let now = signoff_store::now_epoch_seconds();
    let limits = limits(10_000);
    let (a, b) = tokio::join!(
        db.store.sweep_expired(now, &limits),
        db.store.sweep_expired(now, &limits)
    );
    let (a, b) = (a.expect("first run"), b.expect("second run"));
    assert_eq!(a.deleted + b.deleted, 400, "{a:?} {b:?}");
    // Whatever one run listed and the other deleted first was skipped, not counted twice.
    assert_eq!(
        a.read + b.read,
        a.deleted + b.deleted + a.skipped + b.skipped
    );
    assert_eq!(seed::count_all_tokens(&db.store).await, 100);
    assert_eq!(
        db.store.housekeeping_cursor().await.unwrap(),
        Some(a.next_hour.max(b.next_hour))
    );
}

#[tokio::test]
async fn a_store_failure_is_an_error_that_says_what_was_done() {
    let store = seed::unreachable_store();
    let error = store
        .sweep_expired(signoff_store::now_epoch_seconds(), &limits(10))
        .await
        .expect_err("the store is down");
    assert!(error.source.is_retryable());
    assert_eq!(error.report.deleted, 0);
    assert_eq!(error.report.end, SweepEnd::Failed);
}

#[tokio::test]
async fn the_scheduled_handler_reports_its_run() {
    let db = TestDb::start().await;
    seed_tokens(&db.store, 20, 30).await;
    let settings = signoff_housekeeping::settings::Settings::from_lookup(|_| None).unwrap();
    let metrics = signoff_housekeeping::Metrics {
        function_name: "housekeeping-test".into(),
    };
    let mut context = lambda_http::lambda_runtime::Context::default();
    context.deadline = (signoff_store::now_epoch_seconds() as u64 + 60) * 1000;
    let event = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events"});
    let summary = signoff_housekeeping::handle(
        &db.store,
        &settings,
        &metrics,
        lambda_http::lambda_runtime::LambdaEvent::new(event.clone(), context.clone()),
    )
    .await
    .expect("run");
    assert_eq!((summary.deleted, summary.end), (30, SweepEnd::Complete));
    assert_eq!(seed::count_all_tokens(&db.store).await, 20);

    // An invocation whose time is already up does nothing and says so.
    context.deadline = (signoff_store::now_epoch_seconds() as u64 - 1) * 1000;
    let summary = signoff_housekeeping::handle(
        &db.store,
        &settings,
        &metrics,
        lambda_http::lambda_runtime::LambdaEvent::new(event, context),
    )
    .await
    .expect("run");
    assert_eq!((summary.deleted, summary.end), (0, SweepEnd::Deadline));
}

/// Before housekeeping gets to them: an expired token is not live, an expired end of
/// session no longer blocks the session, and an expired logout-all marker no longer hides
/// the user's tokens.
#[tokio::test]
async fn expired_records_are_gone_before_housekeeping_deletes_them() {
    let db = TestDb::start().await;
    let store = &db.store;
    let now = signoff_store::now_epoch_seconds();

    seed::put_items(
        store,
        vec![seed::expired_token(TENANT, "stale", 10).to_item()],
    )
    .await;
    assert!(store
        .find_token(TENANT, &TokenHash::of("stale"))
        .await
        .unwrap()
        .is_none());

    // A session ended long ago, its marker past expiry: the session may be used again.
    let mut session_token = seed::token(TENANT, "session-token", TokenType::Refresh, "app");
    session_token.session_id = Some("reused".into());
    seed::register(store, vec![session_token.clone()]).await;
    store.end_session(TENANT, "reused").await.unwrap();
    assert!(store.session_ended(TENANT, "reused").await.unwrap());
    expire_now(store, item_key::session_pk(TENANT, "reused")).await;
    assert!(!store.session_ended(TENANT, "reused").await.unwrap());
    let mut later = seed::token(TENANT, "later-token", TokenType::Refresh, "app");
    later.session_id = Some("reused".into());
    seed::register(store, vec![later]).await;
    assert!(store
        .find_token(TENANT, &TokenHash::of("later-token"))
        .await
        .unwrap()
        .is_some());

    // A user's logout-all marker past its expiry no longer counts against their tokens.
    let mut old = seed::token(TENANT, "old-token", TokenType::Refresh, "app");
    old.subject = Some("bob".into());
    old.issued_at = now - 60;
    seed::register(store, vec![old]).await;
    store.log_user_out(TENANT, "bob", None, None).await.unwrap();
    assert!(store
        .find_token(TENANT, &TokenHash::of("old-token"))
        .await
        .unwrap()
        .is_none());
    let mut reissued = seed::token(TENANT, "old-token", TokenType::Refresh, "app");
    reissued.subject = Some("bob".into());
    reissued.issued_at = now - 60;
    seed::register(store, vec![reissued]).await;
    assert!(store
        .find_token(TENANT, &TokenHash::of("old-token"))
        .await
        .unwrap()
        .is_none());
    expire_now(store, item_key::user_pk(TENANT, "bob")).await;
    assert!(store
        .find_token(TENANT, &TokenHash::of("old-token"))
        .await
        .unwrap()
        .is_some());
}

/// Sets the expiry of the item keyed `pk` to the past, as if its time had run out.
async fn expire_now(store: &Store, pk: String) {
    let past = signoff_store::now_epoch_seconds() - 1;
    store
        .client()
        .update_item()
        .table_name(store.table_name())
        .key("pk", AttributeValue::S(pk))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", AttributeValue::N(past.to_string()))
        .send()
        .await
        .expect("update");
}

/// Statements DynamoDB throttles inside a batch are sent again, and every record goes.
#[tokio::test]
async fn throttled_deletes_in_a_batch_are_sent_again() {
    let faults = UnprocessedInjector::new(4);
    let db = TestDb::start_with(|_| {}, Some(SharedInterceptor::new(faults.clone()))).await;
    // Seeded past the injector, which would otherwise spend itself on BatchWriteItem.
    let uninjected = Store::new(
        aws_sdk_dynamodb::Client::from_conf(client_config(&db.endpoint).build()),
        db.store.config().clone(),
    );
    seed_tokens(&uninjected, 0, 120).await;
    assert_eq!(faults.remaining(), 4);

    let report = db
        .store
        .sweep_expired(signoff_store::now_epoch_seconds(), &limits(10_000))
        .await
        .expect("sweep");
    assert_eq!(faults.remaining(), 0, "every injection was used");
    assert_eq!((report.deleted, report.skipped), (120, 0), "{report:?}");
    assert_eq!(seed::count_all_tokens(&db.store).await, 0);
}

/// A record the index lists as expired but whose expiry moved forward before the delete
/// (a session logged out again, a re-registered token) is skipped, never deleted: the
/// delete's condition is checked against the record, not against the index entry. Made
/// here by having the by-expiry Query list records up to a day ahead.
#[tokio::test]
async fn a_record_no_longer_expired_when_the_delete_arrives_survives() {
    let db = TestDb::start_with(|_| {}, Some(SharedInterceptor::new(ListAheadOfTime))).await;
    seed_tokens(&db.store, 0, 40).await;
    let now = signoff_store::now_epoch_seconds();
    // Live for 20 more minutes, but indexed under the current hour's bucket, so the
    // sweep reads it: as if its expiry moved forward after the index listed it.
    let mut live = seed::token(TENANT, "renewed", TokenType::Refresh, "app");
    live.expires_at = now + 1200;
    let mut item = live.to_item();
    item.insert(
        "expiry_bucket".to_owned(),
        AttributeValue::S(item_key::item_expiry_bucket(&token_pk("renewed"), now)),
    );
    seed::put_items(&db.store, vec![item]).await;

    let report = db
        .store
        .sweep_expired(now, &limits(10_000))
        .await
        .expect("sweep");
    assert_eq!((report.deleted, report.skipped), (40, 1), "{report:?}");
    assert!(seed::item_stored(&db.store, token_pk("renewed")).await);
    assert_eq!(seed::count_all_tokens(&db.store).await, 1);
}

/// Rewrites every by-expiry Query to list records expiring up to a day later than asked.
#[derive(Debug)]
struct ListAheadOfTime;

impl Intercept for ListAheadOfTime {
    fn name(&self) -> &'static str {
        "ListAheadOfTime"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let Some(bytes) = request.body().bytes() else {
            return Ok(());
        };
        let mut body: serde_json::Value = serde_json::from_slice(bytes)?;
        if body["IndexName"] != signoff_store::table::BY_EXPIRY.name {
            return Ok(());
        }
        let now: i64 = body["ExpressionAttributeValues"][":now"]["N"]
            .as_str()
            .ok_or("no :now")?
            .parse()?;
        body["ExpressionAttributeValues"][":now"]["N"] = (now + 86_400).to_string().into();
        let body = serde_json::to_vec(&body)?;
        request
            .headers_mut()
            .insert("content-length", body.len().to_string());
        *request.body_mut() = SdkBody::from(body);
        Ok(())
    }
}
