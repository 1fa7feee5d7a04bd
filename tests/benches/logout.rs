//! Logout benchmark: `cargo bench -p signoff-tests --bench logout`.
//!
//! For sessions of 1, 100 and 10,000 tokens on the embedded emulator (over HTTP, as in
//! the tests), the native SSO logout handler (authorization, session marker, pipelined
//! bulk delete) against a naive loop that reads the same index pages and sends one
//! DeleteItem per token. Each run gets a fresh database; seeding is not timed. Reports wall
//! time and DynamoDB requests by operation, and checks the request budget
//! ceil(N/25) + index pages + 3.
//!
//! Twice: on loopback, where a round trip costs ~0.3 ms and the emulator's own per-item
//! work dominates (it runs one SQLite transaction per item, batched or not), and through
//! a proxy adding 1 ms each way, closer to what a Lambda sees talking to DynamoDB in its
//! region.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use signoff_store::Store;
use signoff_tests::db::TestDb;
use signoff_tests::seed::{self, parts, post};

const TENANT: &str = "715948317";
const SESSION: &str = "bench-session";

struct Run {
    elapsed: Duration,
    requests: BTreeMap<String, u64>,
}

async fn seeded(n: usize, one_way: Duration) -> (TestDb, String) {
    let db = if one_way.is_zero() {
        TestDb::start().await
    } else {
        TestDb::start_with_latency(one_way).await
    };
    let credential = seed::tenant(&db.store, TENANT, None).await;
    seed::session_tokens(&db.store, TENANT, SESSION, n, "bench").await;
    assert_eq!(
        seed::count_session_tokens(&db.store, TENANT, SESSION).await,
        n
    );
    // A logout usually comes long after the last registration; one right after it waits
    // out the index settle window (see shared/store/src/sessions.rs), which is not measured here.
    tokio::time::sleep(db.store.config().index_settle).await;
    db.requests.reset();
    (db, credential)
}

async fn engine(n: usize, one_way: Duration) -> Run {
    let (db, credential) = seeded(n, one_way).await;
    let request = post(
        &format!("/api/{TENANT}/nativesso/logout"),
        Some(&format!("Bearer {credential}")),
        Some("application/json"),
        &format!(r#"{{"sessionId":"{SESSION}"}}"#),
    );
    let started = Instant::now();
    let response =
        signoff_nativesso::handle(&db.store, &signoff_nativesso::Settings::default(), request)
            .await
            .expect("handled");
    let elapsed = started.elapsed();
    let requests = db.requests.snapshot();
    let (status, body) = parts(response);
    assert_eq!(
        (status, body["count"].as_u64()),
        (200, Some(n as u64)),
        "{body}"
    );
    assert_eq!(
        seed::count_session_tokens(&db.store, TENANT, SESSION).await,
        0
    );
    Run { elapsed, requests }
}

/// What a first implementation tends to do: page through the index, then delete each
/// record with its own DeleteItem, one after another.
async fn naive_delete(store: &Store) -> u64 {
    let keys = seed::session_token_keys(store, TENANT, SESSION).await;
    for pk in &keys {
        store
            .client()
            .delete_item()
            .table_name(store.table_name())
            .key("pk", pk.clone())
            .send()
            .await
            .expect("delete");
    }
    keys.len() as u64
}

async fn naive(n: usize, one_way: Duration) -> Run {
    let (db, _) = seeded(n, one_way).await;
    let started = Instant::now();
    assert_eq!(naive_delete(&db.store).await, n as u64);
    let elapsed = started.elapsed();
    let requests = db.requests.snapshot();
    assert_eq!(
        seed::count_session_tokens(&db.store, TENANT, SESSION).await,
        0
    );
    Run { elapsed, requests }
}

fn show(requests: &BTreeMap<String, u64>) -> String {
    requests
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Median time of one small DynamoDB request (a GetItem of a missing key) through `db`.
async fn median_round_trip(db: &TestDb) -> Duration {
    let mut times = Vec::new();
    for i in 0..200 {
        let started = Instant::now();
        db.store
            .client()
            .get_item()
            .table_name(db.store.table_name())
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("missing#{i}")),
            )
            .send()
            .await
            .expect("get");
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// What the latency proxy really adds to a round trip, so the tables below say what they
/// measured.
async fn proxy_overhead(one_way: Duration) {
    let direct = median_round_trip(&TestDb::start().await).await;
    let proxied = median_round_trip(&TestDb::start_with_latency(one_way).await).await;
    println!(
        "GetItem round trip, median of 200: direct {:.2} ms, through the proxy at {} ms each way {:.2} ms (+{:.2} ms)",
        direct.as_secs_f64() * 1e3,
        one_way.as_millis(),
        proxied.as_secs_f64() * 1e3,
        (proxied.saturating_sub(direct)).as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    proxy_overhead(Duration::from_millis(1)).await;
    for one_way in [Duration::ZERO, Duration::from_millis(1)] {
        println!("\nround trip added: {} ms", (one_way * 2).as_millis());
        println!("| tokens | Signoff logout | requests | budget | naive loop | naive requests | speed-up |");
        println!("|---:|---:|---|---:|---:|---|---:|");
        for n in [1usize, 100, 10_000] {
            let ours = engine(n, one_way).await;
            let theirs = naive(n, one_way).await;
            let pages = ours.requests.get("Query").copied().unwrap_or(0);
            let budget = (n as u64).div_ceil(25) + pages + 3;
            let total: u64 = ours.requests.values().sum();
            assert!(
                total <= budget,
                "{n} tokens: {total} requests > budget {budget}"
            );
            println!(
                "| {n} | {:.1} ms | {} (total {total}) | {budget} | {:.1} ms | {} | {:.1}x |",
                ours.elapsed.as_secs_f64() * 1e3,
                show(&ours.requests),
                theirs.elapsed.as_secs_f64() * 1e3,
                show(&theirs.requests),
                theirs.elapsed.as_secs_f64() / ours.elapsed.as_secs_f64(),
            );
        }
    }
}
