//! Revocation at scale: `cargo bench -p signoff-tests --bench purge`.
//!
//! On the embedded emulator (over HTTP) and moto's SQS server, with the purge function's
//! handler run in-process by workers that poll the queue as Lambda's event source mapping
//! would (so every DynamoDB request is counted):
//!
//! 1. `SIGNOFF_BENCH_PURGE_TOKENS` (default 100,000) tokens of one client, beside 1,000 of
//!    another client: one cutoff request makes them unusable; 1,000 sampled lookups
//!    (what introspection does) all answer "not live". Requests counted.
//! 2. The background purge deletes them, with progress printed each second; the workers
//!    are killed when half is done and new ones resume after SQS redelivers (visibility
//!    timeout 5 s). Wall time, tokens/s, BatchWriteItem calls against ceil(N/25), and a
//!    check that every covered record is gone while 1,000 tokens issued after the cutoff
//!    and the other client's 1,000 remain.
//! 3. A user with N tokens logged out everywhere through Descope's logout-all: the answer's
//!    latency with the default 3 s inline budget, and the purge that finishes the job.
//!
//! Seeding is not timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use signoff_purge::settings::Settings as PurgeSettings;
use signoff_purge::SqsEvent;
use signoff_queue::PurgeQueue;
use signoff_store::cutoffs::Cutoff;
use signoff_store::item_key::TokenHash;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::purge::PurgeJob;
use signoff_store::revocation::TokenState;
use signoff_store::{demo, Store};
use signoff_tests::db::TestDb;
use signoff_tests::queue::TestQueue;
use signoff_tests::seed;
use tokio::task::JoinHandle;

const TENANT: &str = "715948317";
const WORKERS: usize = 16;

fn tokens(client_id: &str, prefix: &str, count: usize, issued_at: i64) -> Vec<TokenRecord> {
    (0..count)
        .map(|i| TokenRecord {
            subject: Some(format!("user-{}", i % 1000)),
            issued_at,
            ..seed::token(
                TENANT,
                &format!("{prefix}-{i}"),
                TokenType::Access,
                client_id,
            )
        })
        .collect()
}

/// How many of `prefix-0..count` are still stored (GetItem each, 32 at a time).
async fn stored(store: &Store, tenant: &str, prefix: &str, count: usize) -> usize {
    stream::iter(0..count)
        .map(|i| {
            let value = format!("{prefix}-{i}");
            async move { seed::token_stored(store, tenant, &value).await }
        })
        .buffer_unordered(32)
        .filter(|kept| std::future::ready(*kept))
        .count()
        .await
}

/// A worker: receive one message at a time, run it through the purge handler with a
/// 120 s deadline (the template's timeout), delete it unless it failed.
fn spawn_workers(
    store: &Store,
    queue: &TestQueue,
    purge_queue: &PurgeQueue,
) -> Vec<JoinHandle<()>> {
    let settings = Arc::new(PurgeSettings {
        queue_url: queue.queue_url.clone(),
        margin: Duration::from_secs(20),
    });
    (0..WORKERS)
        .map(|_| {
            let store = store.clone();
            let purge_queue = purge_queue.clone();
            let client = queue.client.clone();
            let url = queue.queue_url.clone();
            let settings = settings.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(received) = client
                        .receive_message()
                        .queue_url(&url)
                        .max_number_of_messages(1)
                        .wait_time_seconds(1)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    for message in received.messages.unwrap_or_default() {
                        let event: SqsEvent = serde_json::from_value(serde_json::json!({
                            "Records": [{
                                "messageId": message.message_id.clone().unwrap_or_default(),
                                "body": message.body.clone().unwrap_or_default(),
                            }]
                        }))
                        .expect("an SQS event");
                        let mut context = Context::default();
                        context.deadline = (signoff_store::now_epoch_seconds() as u64 + 120) * 1000;
                        let response = signoff_purge::handle(
                            &store,
                            &purge_queue,
                            &settings,
                            LambdaEvent::new(event, context),
                        )
                        .await
                        .expect("infallible");
                        if response.batch_item_failures.is_empty() {
                            let _ = client
                                .delete_message()
                                .queue_url(&url)
                                .receipt_handle(message.receipt_handle.unwrap_or_default())
                                .send()
                                .await;
                        }
                    }
                }
            })
        })
        .collect()
}

/// Prints progress every second until the job is done (or `stop_at` records are deleted);
/// returns the last progress.
async fn watch(
    store: &Store,
    job: &PurgeJob,
    stop_at: Option<u64>,
    started: Instant,
) -> signoff_store::purge::PurgeProgress {
    loop {
        let progress = store.purge_progress(job).await.expect("progress");
        println!(
            "  {:>6.1}s  shards {:>2}/64  matched {:>7}  deleted {:>7}",
            started.elapsed().as_secs_f64(),
            progress.shards_done,
            progress.matched,
            progress.deleted
        );
        if progress.is_done() || stop_at.is_some_and(|n| progress.deleted >= n) {
            return progress;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn client_cutoff(n: usize) {
    println!("\n== {n} tokens of one client: one cutoff, then the background purge ==");
    let db = TestDb::start().await;
    seed::tenant(&db.store, TENANT, None).await;
    let seeding = Instant::now();
    let now = signoff_store::now_epoch_seconds();
    let mut records = tokens("retired", "retired", n, now - 60);
    records.extend(tokens("kept", "kept", 1000, now - 60));
    seed::register(&db.store, records).await;
    println!(
        "seeded {} tokens in {:.1}s (not timed below)",
        n + 1000,
        seeding.elapsed().as_secs_f64()
    );

    db.requests.reset();
    let started = Instant::now();
    let cutoff = db
        .store
        .write_cutoff(
            TENANT,
            Cutoff::Client {
                client_id: "retired",
            },
        )
        .await
        .expect("cutoff");
    let took = started.elapsed();
    println!(
        "cutoff: {:.1} ms, {} request(s) {:?}",
        took.as_secs_f64() * 1000.0,
        db.requests.total(),
        db.requests.snapshot()
    );
    seed::register(&db.store, tokens("retired", "later", 1000, cutoff + 1)).await;

    db.requests.reset();
    let sample = 1000.min(n);
    let mut live = 0;
    for _ in 0..sample {
        let value = format!("retired-{}", fastrand::usize(..n));
        let found = db
            .store
            .lookup_token(
                TENANT,
                &TokenHash::of(&value),
                signoff_store::now_epoch_seconds(),
            )
            .await
            .expect("lookup");
        live += usize::from(matches!(found, Some((_, TokenState::Live))));
    }
    println!(
        "introspection right after: {live} of {sample} sampled tokens live; {:.2} requests per lookup {:?}",
        db.requests.total() as f64 / sample as f64,
        db.requests.snapshot()
    );
    assert_eq!(live, 0);

    let queue = TestQueue::start(5, 50).await;
    let purge_queue = queue.purge_queue().await;
    db.requests.reset();
    let job = db
        .store
        .create_purge(
            TENANT,
            Cutoff::Client {
                client_id: "retired",
            },
            cutoff,
        )
        .await
        .expect("job");
    purge_queue.start(&job).await.expect("queued");
    let started = Instant::now();
    let workers = spawn_workers(&db.store, &queue, &purge_queue);
    let half = watch(&db.store, &job, Some(n as u64 / 2), started).await;
    for worker in &workers {
        worker.abort();
    }
    let killed_at = started.elapsed();
    println!(
        "killed every worker at {:.1}s with {} deleted; new workers resume once SQS redelivers",
        killed_at.as_secs_f64(),
        half.deleted
    );
    let workers = spawn_workers(&db.store, &queue, &purge_queue);
    let done = watch(&db.store, &job, None, started).await;
    let wall = started.elapsed();
    for worker in &workers {
        worker.abort();
    }
    let requests = db.requests.snapshot();
    let batch_writes = requests.get("BatchWriteItem").copied().unwrap_or(0);
    let floor = n.div_ceil(25) as u64;
    println!(
        "purge: {:.1}s wall ({:.0} tokens/s, the 5 s redelivery pause included), {} matched, {} deleted by the job's count \
         (pages deleted by a killed attempt are done but never counted)",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        done.matched,
        done.deleted
    );
    println!(
        "requests: BatchWriteItem {batch_writes} (floor ceil(N/25) = {floor}), Query {} (index pages), all {requests:?}",
        requests.get("Query").copied().unwrap_or(0)
    );
    let left = stored(&db.store, TENANT, "retired", n).await;
    let later = stored(&db.store, TENANT, "later", 1000).await;
    let kept = stored(&db.store, TENANT, "kept", 1000).await;
    println!("after: {left} covered records left, {later}/1000 later tokens and {kept}/1000 of the other client kept");
    assert_eq!((left, later, kept), (0, 1000, 1000));
    assert!(done.deleted <= n as u64, "nothing counted twice");
}

async fn user_logout_all(n: usize) {
    println!("\n== a user with {n} tokens logged out everywhere (Descope logout-all) ==");
    let db = TestDb::start().await;
    demo::seed_project(&db.store).await.expect("demo project");
    let seeding = Instant::now();
    let now = signoff_store::now_epoch_seconds();
    let records = (0..n)
        .map(|i| TokenRecord {
            tenant: demo::PROJECT_ID.into(),
            subject: Some(demo::PROJECT_USER.into()),
            issued_at: now - 60,
            ..seed::token(
                demo::PROJECT_ID,
                &format!("heavy-{i}"),
                TokenType::Access,
                "app",
            )
        })
        .collect();
    seed::register(&db.store, records).await;
    println!(
        "seeded {n} tokens in {:.1}s",
        seeding.elapsed().as_secs_f64()
    );
    let queue = TestQueue::start(5, 50).await;
    let settings = signoff_descope::settings::Settings {
        handoff: Some(queue.handoff(Duration::from_secs(3)).await),
        ..Default::default()
    };
    let auth = format!(
        "Bearer {}:{}",
        demo::PROJECT_ID,
        demo::PROJECT_REFRESH_JWTS[1]
    );
    let request = seed::post("/v1/auth/logoutall", Some(&auth), None, "");
    db.requests.reset();
    let started = Instant::now();
    let response = signoff_descope::handle(&db.store, &settings, request)
        .await
        .expect("handled");
    let latency = started.elapsed();
    let inline = n - stored(&db.store, demo::PROJECT_ID, "heavy", n).await;
    println!(
        "logout-all answered {} in {:.2}s ({inline} records deleted inline, the rest queued)",
        response.status(),
        latency.as_secs_f64()
    );
    assert_eq!(response.status(), 200);
    let purge_queue = queue.purge_queue().await;
    let started = Instant::now();
    let workers = spawn_workers(&db.store, &queue, &purge_queue);
    loop {
        let left = stored(&db.store, demo::PROJECT_ID, "heavy", n).await;
        if left == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "{left} left");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for worker in &workers {
        worker.abort();
    }
    println!(
        "the background purge deleted the remaining {} in {:.1}s",
        n - inline,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n = std::env::var("SIGNOFF_BENCH_PURGE_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    client_cutoff(n).await;
    user_logout_all(n).await;
}
