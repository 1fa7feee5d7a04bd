//! Warm introspection benchmark: `scripts/bench` (after the release builds), or on its own
//! `SIGNOFF_BENCH_BINARIES=target/bench/x86_64 cargo bench -p signoff-tests --bench introspect`.
//!
//! One `token-introspect` process (the release binary Lambda would run) against a minimal
//! Lambda Runtime API and the embedded DynamoDB emulator over loopback HTTP, holding the
//! demo data; it is handed `SIGNOFF_BENCH_CALLS` (2,000) introspections of the demo access
//! token one after another, as Lambda hands a warm sandbox one invocation at a time, after
//! one cold call that is not counted. Three ways of asking: a resource server's client
//! credentials (HTTP Basic) with the JSON answer, a bearer credential with the JSON answer,
//! and client credentials with the RFC 9701 answer, signed by a key in moto's KMS server.
//!
//! Printed per way: introspections per second of the one process (calls over wall time),
//! latency p50 / p90 / max, CPU time per call of all the process's threads (what a 128 MB
//! Lambda, about 1/14 of a vCPU, stretches), and DynamoDB and KMS requests per call, by
//! operation, counted in a second pass of 100 calls through proxies in front of the
//! emulator and moto (a proxy adds a loopback hop and its own parsing, which the timed pass
//! does not carry). The emulator and moto run outside the measured process, so their CPU
//! is not counted; their latency is.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_kms::types::KeySpec;
use signoff_store::demo;
use signoff_store::model::TokenType;
use signoff_tests::cold_start::{
    bench_binaries, bench_env, count_from_env, find_binary, spread, warm_invocations, WarmCall,
};
use signoff_tests::db::{counting_proxy, TestDb};
use signoff_tests::kms::TestKms;
use signoff_tests::paths::workspace;
use signoff_tests::seed;

/// A bearer credential of the demo resource server, with the introspection scope.
const BEARER: &str = "bench-introspection-bearer";

#[derive(Clone, Copy)]
enum Way {
    Basic,
    Bearer,
    SignedJwt,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Basic => "client credentials (Basic), JSON",
            Way::Bearer => "bearer credential, JSON",
            Way::SignedJwt => "client credentials (Basic), RFC 9701 JWT (KMS Sign)",
        }
    }
}

/// The shipped event (`events/token-introspect.json`), asking about the demo access token
/// in the way `way` asks.
fn event(way: Way) -> Vec<u8> {
    let text = std::fs::read_to_string(workspace().join("events/token-introspect.json"))
        .expect("events/token-introspect.json");
    let mut event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let body = format!("token={}", demo::INTROSPECTED_ACCESS_TOKEN);
    let headers = event["headers"].as_object_mut().expect("headers");
    headers.insert("content-length".into(), body.len().to_string().into());
    match way {
        Way::Basic => {}
        Way::Bearer => {
            headers.insert("authorization".into(), format!("Bearer {BEARER}").into());
        }
        Way::SignedJwt => {
            headers.insert(
                "accept".into(),
                "application/token-introspection+jwt".into(),
            );
        }
    }
    event["body"] = body.into();
    serde_json::to_vec(&event).expect("serialisable")
}

struct Figures {
    calls: Vec<WarmCall>,
    dynamodb: BTreeMap<String, u64>,
    kms: BTreeMap<String, u64>,
}

/// Requests are counted in a separate, shorter pass: the counting proxies add a loopback
/// hop, and with it CPU and latency, that the timed pass must not carry.
const COUNTED_CALLS: usize = 100;

async fn run(
    binary: &std::path::Path,
    way: Way,
    calls: usize,
    counted: bool,
) -> Result<Figures, String> {
    let db = TestDb::start().await;
    demo::seed(&db.store, 20, |_| {})
        .await
        .map_err(|e| format!("seeding the demo data: {e}"))?;
    let mut bearer = seed::token(
        demo::SERVICE_ID,
        BEARER,
        TokenType::Access,
        demo::RESOURCE_SERVER_ID,
    );
    bearer.scope = Some("introspection".into());
    seed::register(&db.store, vec![bearer]).await;
    let mut dynamodb = None;
    let mut env = db.function_env();
    if counted {
        let (endpoint, counter) = counting_proxy(&db.endpoint).await;
        for (name, value) in env.iter_mut() {
            if name == "AWS_ENDPOINT_URL_DYNAMODB" {
                *value = endpoint.clone();
            }
        }
        dynamodb = Some(counter);
    }
    env.extend(bench_env());
    let mut _kms_server = None;
    let mut kms = None;
    if let Way::SignedJwt = way {
        let server = TestKms::start().await;
        server
            .create_key(KeySpec::EccNistP256, "alias/bench-signing")
            .await;
        let mut endpoint = server.endpoint.clone();
        if counted {
            let (proxy, counter) = counting_proxy(&server.endpoint).await;
            endpoint = proxy;
            kms = Some(counter);
        }
        env.push(("AWS_ENDPOINT_URL_KMS".into(), endpoint));
        env.push((
            "SIGNOFF_SIGNING_KEY_ID".into(),
            "alias/bench-signing".into(),
        ));
        _kms_server = Some(server);
    }
    let event = event(way);
    let events = std::iter::repeat_n(event, calls + 1).map(Into::into);
    let measured = warm_invocations("token-introspect", binary, &env, events).await?;
    Ok(Figures {
        calls: measured,
        dynamodb: dynamodb.map_or_else(BTreeMap::new, |c| c.snapshot()),
        kms: kms.map_or_else(BTreeMap::new, |c| c.snapshot()),
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Requests per call by operation: `total / (calls + 1)`, the cold call included, since the
/// counters saw it too.
fn per_call(counts: &BTreeMap<String, u64>, calls: usize) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(op, n)| format!("{op} {:.2}", *n as f64 / (calls + 1) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let dir = bench_binaries("target/lambda");
    let calls = count_from_env("SIGNOFF_BENCH_CALLS", 2000);
    let Some(binary) = find_binary(&dir, "token-introspect") else {
        eprintln!(
            "error: token-introspect not found in {}: build it (scripts/bench does)",
            dir.display()
        );
        return ExitCode::FAILURE;
    };
    println!(
        "warm introspections: {calls} per way, one process ({}), loopback",
        binary.display()
    );
    let mut rows = Vec::new();
    for way in [Way::Basic, Way::Bearer, Way::SignedJwt] {
        let (figures, counts) = match (
            run(&binary, way, calls, false).await,
            run(&binary, way, COUNTED_CALLS, true).await,
        ) {
            (Ok(figures), Ok(counts)) => (figures, counts),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: {}: {e}", way.label());
                return ExitCode::FAILURE;
            }
        };
        let walls: Vec<Duration> = figures.calls.iter().map(|c| c.wall).collect();
        let total_wall: Duration = walls.iter().sum();
        let total_cpu: Duration = figures.calls.iter().map(|c| c.cpu).sum();
        let per_second = figures.calls.len() as f64 / total_wall.as_secs_f64();
        let cpu_per_call = total_cpu / figures.calls.len() as u32;
        let (p50, p90, max) = spread(&walls).expect("calls were made");
        let dynamodb = per_call(&counts.dynamodb, COUNTED_CALLS);
        let kms = per_call(&counts.kms, COUNTED_CALLS);
        println!("\n{}", way.label());
        println!("  introspections/s {per_second:.0}");
        println!(
            "  latency ms       {} / {} / {} (p50 / p90 / max)",
            ms(p50),
            ms(p90),
            ms(max)
        );
        println!(
            "  CPU per call ms  {} (at most {:.0} calls/s of one vCPU)",
            ms(cpu_per_call),
            1.0 / cpu_per_call.as_secs_f64()
        );
        println!("  DynamoDB/call    {dynamodb}");
        println!("  KMS/call         {kms}");
        rows.push(format!(
            "| {} | {per_second:.0} | {} | {} | {} | {dynamodb} | {kms} |",
            way.label(),
            ms(p50),
            ms(p90),
            ms(cpu_per_call),
        ));
    }
    println!("\n| way | introspections/s | p50 ms | p90 ms | CPU per call ms | DynamoDB requests per call | KMS requests per call |");
    println!("|---|---:|---:|---:|---:|---|---|");
    for row in rows {
        println!("{row}");
    }
    ExitCode::SUCCESS
}
