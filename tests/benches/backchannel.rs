//! Back-channel logout delivery at scale: `cargo bench -p signoff-tests --bench backchannel`.
//!
//! On the local stack the end-to-end tests run (the compiled binaries behind the local
//! gateway, one sandbox per function; `signoff-stream-runner` reading the emulator's
//! stream; moto's SQS fed to the delivery by `signoff-queue-runner`, 4 invocations at once
//! of up to 10 messages; Node receivers validating every token with `jose`):
//!
//! `SIGNOFF_BENCH_LOGOUT_SESSIONS` (default 1,000) sessions, each holding a token of 3
//! clients whose relying parties listen, are logged out through the native SSO logout
//! endpoint, 8 at a time. Reported: deliveries made (3 per session expected), any lost,
//! refused or made twice, and the latency from each logout's answer to each receipt
//! (p50, p99, max), beside the logout answers' own.
//!
//! Seeding is not timed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use signoff_store::backchannel::{BackchannelLogout, Reach};
use signoff_store::model::{TokenRecord, TokenType};
use signoff_tests::backchannel::LogoutPath;
use signoff_tests::cold_start::count_from_env;
use signoff_tests::db::TestDb;
use signoff_tests::kms::TestKms;
use signoff_tests::seed;

const TENANT: &str = "715948317";
const CLIENTS: [&str; 3] = ["web", "mobile", "partner"];
const CONCURRENT_LOGOUTS: usize = 8;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::main]
async fn main() {
    let sessions = count_from_env("SIGNOFF_BENCH_LOGOUT_SESSIONS", 1_000);
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    let service_token = seed::tenant(&db.store, TENANT, None).await;
    for client in CLIENTS {
        seed::client(&db.store, TENANT, client, true).await;
    }
    let path = LogoutPath::start(&db, &kms, TENANT, Duration::from_secs(600)).await;
    for client in CLIENTS {
        let logout = BackchannelLogout::new(&path.receivers.uri(client), false, Reach::Loopback)
            .expect("a loopback URI");
        db.store
            .set_backchannel_logout(TENANT, client, Some(&logout))
            .await
            .unwrap();
    }
    let records: Vec<TokenRecord> = (0..sessions)
        .flat_map(|s| {
            CLIENTS.iter().map(move |client| TokenRecord {
                subject: Some(format!("user-{s}")),
                session_id: Some(format!("s-{s}")),
                ..seed::token(
                    TENANT,
                    &format!("t-{s}-{client}"),
                    TokenType::Access,
                    client,
                )
            })
        })
        .collect();
    seed::register(&db.store, records).await;
    // Past the index settle window, so that the logouts do not wait for it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "{sessions} sessions x {} clients: logging out, {CONCURRENT_LOGOUTS} at a time",
        CLIENTS.len()
    );

    let http = reqwest::Client::new();
    let url = format!("{}/api/{TENANT}/nativesso/logout", path.gateway.base_url());
    let started = Instant::now();
    let answers: Vec<(String, u64, Duration)> = stream::iter(0..sessions)
        .map(|s| {
            let (http, url, token) = (&http, &url, &service_token);
            async move {
                let sid = format!("s-{s}");
                let sent = Instant::now();
                let answer: Value = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"sessionId": sid}))
                    .send()
                    .await
                    .expect("the gateway answers")
                    .json()
                    .await
                    .expect("a JSON answer");
                assert_eq!(answer["count"], 3, "{answer}");
                (sid, epoch_ms(), sent.elapsed())
            }
        })
        .buffer_unordered(CONCURRENT_LOGOUTS)
        .collect()
        .await;
    let logouts_took = started.elapsed();
    let answered: HashMap<String, u64> =
        answers.iter().map(|(s, at, _)| (s.clone(), *at)).collect();
    let expected = sessions * CLIENTS.len();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut received = path.receivers.received().await;
    while received.len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        received = path.receivers.received().await;
    }
    let all_received = started.elapsed();
    // A little longer, for any delivery made twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = path.receivers.received().await;

    let mut per_pair: HashMap<(String, String), usize> = HashMap::new();
    let mut latencies = Vec::new();
    let mut refused = 0;
    for entry in &received {
        if entry["accepted"] != true {
            refused += 1;
            continue;
        }
        let sid = entry["sid"].as_str().unwrap_or_default().to_owned();
        let client = entry["client_id"].as_str().unwrap_or_default().to_owned();
        *per_pair.entry((sid.clone(), client)).or_default() += 1;
        if let (Some(answered), Some(at)) = (answered.get(&sid), entry["at_ms"].as_u64()) {
            latencies.push(at.saturating_sub(*answered));
        }
    }
    latencies.sort_unstable();
    let delivered = per_pair.len();
    let twice = per_pair.values().filter(|&&n| n > 1).count();
    let mut answer_ms: Vec<u64> = answers
        .iter()
        .map(|(_, _, took)| took.as_millis() as u64)
        .collect();
    answer_ms.sort_unstable();
    // One sandbox serves the logout endpoint, so concurrent logouts queue behind each
    // other: their answer times say more about that queue than about a logout.
    println!(
        "{sessions} logouts answered in {:.1} s (one sandbox; answers p50 {} ms, p99 {} ms, queued)",
        logouts_took.as_secs_f64(),
        percentile(&answer_ms, 50.0),
        percentile(&answer_ms, 99.0)
    );
    println!(
        "deliveries: {delivered} of {expected} (lost {}), refused {refused}, made twice {twice}; all received {:.1} s after the first logout was sent",
        expected - delivered.min(expected),
        all_received.as_secs_f64()
    );
    println!(
        "logout answer -> receipt: p50 {} ms, p99 {} ms, max {} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default()
    );
    assert_eq!(delivered, expected, "deliveries lost");
    assert_eq!(refused, 0, "tokens refused");
}
