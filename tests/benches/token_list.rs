//! Authlete's token list at size: `cargo bench -p signoff-tests --bench token_list`.
//!
//! On the embedded emulator over HTTP, with 2 ms of one-way latency added (a same-region
//! round trip is a few ms), every DynamoDB request counted:
//!
//! 1. one client with `SIGNOFF_BENCH_LIST_TOKENS` (default 10,000, the default
//!    `SIGNOFF_TOKEN_LIST_MAX_RECORDS`) tokens over 1,000 users, and one with 1,000: a
//!    page of 20 of each (every record and its markers read, as the list must to judge
//!    them), and a page of one user's tokens;
//! 2. the whole tenant, over the limit: how fast and cheaply it is refused.
//!
//! Seeding is not timed.

use std::time::{Duration, Instant};

use signoff_store::listing::{ListScope, ListStatus, TokenList};
use signoff_store::model::{TokenRecord, TokenType};
use signoff_tests::db::TestDb;
use signoff_tests::seed;

const TENANT: &str = "715948317";
const LIMIT: usize = 10_000;

fn tokens(client_id: &str, count: usize) -> Vec<TokenRecord> {
    (0..count)
        .map(|i| TokenRecord {
            subject: Some(format!("user-{}", i % 1000)),
            session_id: Some(format!("{client_id}-session-{}", i % 2000)),
            ..seed::token(
                TENANT,
                &format!("{client_id}-{i}"),
                TokenType::Access,
                client_id,
            )
        })
        .collect()
}

async fn measure(db: &TestDb, label: &str, scope: ListScope<'_>) {
    db.requests.reset();
    let started = Instant::now();
    let listed = db
        .store
        .list_tokens(TENANT, scope, ListStatus::Usable, 0..20, LIMIT)
        .await
        .expect("the list answers");
    let elapsed = started.elapsed();
    let outcome = match listed {
        TokenList::Page(page) => {
            format!("{} in scope, {} on the page", page.total, page.tokens.len())
        }
        TokenList::TooMany { limit } => format!("refused: more than {limit}"),
    };
    println!(
        "{label}: {outcome}; {:.0} ms; {} requests {:?}",
        elapsed.as_secs_f64() * 1000.0,
        db.requests.total(),
        db.requests.snapshot()
    );
}

#[tokio::main]
async fn main() {
    let big: usize = std::env::var("SIGNOFF_BENCH_LIST_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LIMIT);
    let db = TestDb::start_with_latency(Duration::from_millis(2)).await;
    seed::tenant(&db.store, TENANT, None).await;
    let mut records = tokens("big", big);
    records.extend(tokens("small", 1_000));
    seed::register(&db.store, records).await;
    println!("seeded {big} tokens of client big, 1,000 of client small (2 ms one-way latency)");

    measure(&db, "client big, first page", ListScope::Client("big")).await;
    measure(&db, "client small, first page", ListScope::Client("small")).await;
    measure(
        &db,
        "user-7, first page",
        ListScope::Subject {
            subject: "user-7",
            client_id: None,
        },
    )
    .await;
    measure(&db, "whole tenant", ListScope::Tenant).await;
}
