//! Housekeeping benchmark: `cargo bench -p signoff-tests --bench housekeeping`.
//!
//! A table of 100,000 live and 5,000 expired token records (expired over the last 30
//! hours) on the embedded emulator. Signoff's sweep (the by-expiry index, only
//! `expires_at <= now`, conditional deletes 25 to a request) against what a sweep without that index would
//! have to do: a Scan with a filter on `expires_at`, which reads every record to find the
//! expired ones. Reports records read per record deleted, requests by operation and wall
//! time; then a second sweep an hour later, which is what an hourly schedule costs once
//! the backlog is gone.
//!
//! Environment: `SIGNOFF_BENCH_LIVE` and `SIGNOFF_BENCH_EXPIRED` change the sizes.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use signoff_store::housekeeping::{SweepEnd, SweepLimits};
use signoff_store::model::{Item, TokenType};
use signoff_tests::db::TestDb;
use signoff_tests::seed;

const TENANT: &str = "715948317";

fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let live = size("SIGNOFF_BENCH_LIVE", 100_000);
    let expired = size("SIGNOFF_BENCH_EXPIRED", 5_000);
    let db = TestDb::start().await;
    let now = signoff_store::now_epoch_seconds();
    let seeding = Instant::now();
    let mut items: Vec<Item> = (0..live)
        .map(|i| {
            let mut record = seed::token(TENANT, &format!("live-{i}"), TokenType::Access, "app");
            record.expires_at = now + 2 * 3600 + (i as i64 * 7919) % (30 * 86_400);
            record.to_item()
        })
        .collect();
    items.extend((0..expired).map(|i| {
        let ago = 60 + (i as i64 * 104_729) % (30 * 3600);
        seed::expired_token(TENANT, &format!("gone-{i}"), ago).to_item()
    }));
    seed::put_items(&db.store, items).await;
    // Judged after seeding: every record written as expired has expired by now.
    let now = signoff_store::now_epoch_seconds();
    println!(
        "seeded {live} live + {expired} expired token records in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    // What finding the expired records costs without the index: every record is read.
    db.requests.reset();
    let started = Instant::now();
    let (scanned, matched) = scan_for_expired(&db, now).await;
    println!(
        "\nfiltered Scan (finding only, no deletes): {scanned} records read to find {matched} \
         expired = {:.1} read per expired record, {} Scan requests, {:.0} ms",
        scanned as f64 / matched.max(1) as f64,
        db.requests.get("Scan"),
        started.elapsed().as_secs_f64() * 1000.0
    );

    let limits = SweepLimits::within(
        Duration::from_secs(900),
        Duration::from_secs(5),
        1_000_000,
        48,
    );
    db.requests.reset();
    let started = Instant::now();
    let report = db.store.sweep_expired(now, &limits).await.expect("sweep");
    let elapsed = started.elapsed();
    assert_eq!(report.end, SweepEnd::Complete);
    assert_eq!(report.deleted, expired as u64, "{report:?}");
    println!(
        "\nSignoff sweep (first run, 48 h lookback): {} index entries read, {} deleted, {} skipped \
         = {:.2} read per deleted; {} Query (49 h x 8 shards + pages), {} BatchExecuteStatement \
         ({:.1} deleted per delete request), {} Scan; {:.0} ms ({:.0} deletes/s)",
        report.read,
        report.deleted,
        report.skipped,
        report.read as f64 / report.deleted.max(1) as f64,
        db.requests.get("Query"),
        db.requests.get("BatchExecuteStatement"),
        report.deleted as f64 / db.requests.get("BatchExecuteStatement").max(1) as f64,
        db.requests.get("Scan"),
        elapsed.as_secs_f64() * 1000.0,
        report.deleted as f64 / elapsed.as_secs_f64()
    );
    println!("requests by operation: {:?}", db.requests.snapshot());
    assert_eq!(seed::count_all_tokens(&db.store).await, live);

    // The next scheduled run, an hour later: nothing new has expired (the live records
    // expire two hours after seeding or later; "now" is an hour on only for the sweep).
    db.requests.reset();
    let started = Instant::now();
    let next = db
        .store
        .sweep_expired(now + 3600, &limits)
        .await
        .expect("sweep");
    println!(
        "\nnext hourly run: {} read, {} deleted, {} Query, {:.0} ms",
        next.read,
        next.deleted,
        db.requests.get("Query"),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// Scans the whole table with a filter on expiry, as a sweep without the by-expiry index
/// would: (records read, expired records found).
async fn scan_for_expired(db: &TestDb, now: i64) -> (u64, u64) {
    let (mut scanned, mut matched) = (0, 0);
    let mut start = None;
    loop {
        let page = db
            .store
            .client()
            .scan()
            .table_name(db.store.table_name())
            .filter_expression("expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        scanned += page.scanned_count() as u64;
        matched += page.count() as u64;
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return (scanned, matched),
        }
    }
}
