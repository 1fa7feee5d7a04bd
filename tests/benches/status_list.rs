//! Token Status Lists at size: `cargo bench -p signoff-tests --bench status_list`.
//!
//! 1. Building and signing a 1,000,000-entry list in memory, with 0.1%, 1% and 10% of the
//!    entries revoked at random: time (median of 5), and the sizes a resource server
//!    downloads (`lst`, the JWT, the JWT gzip-compressed as served). With valgrind
//!    installed, the instructions of one build at 1% as well (callgrind, counted in a
//!    child run of this binary, only inside the build): a figure that does not move with
//!    the machine's load. Signing here is a local ES256 key; deployed it is one KMS Sign.
//! 2. Against the embedded emulator over HTTP with 2 ms of one-way latency:
//!    `SIGNOFF_BENCH_STATUS_HOLDERS` (default 100,000) registered tokens holding entries of
//!    one 1,000,000-entry list; revoking 10,000 of them one by one, 16 at a time (a flip is
//!    deleting a record: flips a second), then a whole build (snapshot: allocation, 16
//!    index shards, cutoffs; judging; signing), with every DynamoDB request counted.
//!
//! Seeding is not timed.

use std::io::Write;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::json;
use signoff_jose::status_list::{StatusList, INVALID, STATUS_LIST_JWT_TYPE};
use signoff_jose::{Algorithm, SigningKey};
use signoff_store::model::{StatusEntry, TokenType};
use signoff_store::purge::RunningPurge;
use signoff_store::revocation::Cascade;
use signoff_store::status_lists::{EntryHolder, StatusListSnapshot};
use signoff_tests::db::TestDb;
use signoff_tests::seed;

const CAPACITY: u64 = 1_000_000;
/// The builder's wait, as deployed by default.
const SETTLE: Duration = Duration::from_millis(signoff_edge::status_list::DEFAULT_SETTLE_MS);
const TENANT: &str = "bench-sl";
/// Set in the child run that callgrind counts.
const CALLGRIND_CHILD: &str = "SIGNOFF_BENCH_STATUS_CALLGRIND_CHILD";

/// `count` distinct pseudo-random indexes below `CAPACITY` (a fixed LCG, so runs compare).
fn revoked_indexes(count: usize) -> Vec<u64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chosen = vec![false; CAPACITY as usize];
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let index = (state >> 33) % CAPACITY;
        if !chosen[index as usize] {
            chosen[index as usize] = true;
            out.push(index);
        }
    }
    out
}

/// A snapshot of a full list whose `revoked` entries have no record.
fn snapshot(revoked: &[u64]) -> StatusListSnapshot {
    let mut gone = vec![false; CAPACITY as usize];
    for index in revoked {
        gone[*index as usize] = true;
    }
    StatusListSnapshot {
        taken_at_ms: 0,
        allocated: CAPACITY,
        holders: (0..CAPACITY)
            .filter(|i| !gone[*i as usize])
            .map(|index| EntryHolder {
                index,
                client: 0,
                // 100,000 users with 10 tokens each.
                subject: index % 100_000 + 1,
                issued_at: 1,
            })
            .collect(),
        clients: vec!["app".into()],
        tenant_cutoff: None,
        client_cutoffs: Default::default(),
        // Three users' purges running, whose tokens all have gone already: judged, and
        // changing nothing, so the revoked share stays what the table says.
        running_purges: (0..3)
            .map(|i| RunningPurge {
                subject: 200_000 + i,
                client_id: None,
                cutoff: 10,
            })
            .collect(),
    }
}

/// What the introspection function does with a snapshot: judge, set the bits, compress,
/// sign. Kept out of line so that callgrind can count exactly this.
#[inline(never)]
fn build_and_sign(snapshot: &StatusListSnapshot, key: &SigningKey) -> String {
    let mut list = StatusList::new(1, CAPACITY as usize).unwrap();
    for index in snapshot.invalid_indexes(CAPACITY) {
        list.set(index as usize, INVALID).unwrap();
    }
    let claims = json!({
        "sub": "https://api.example.com/signoff/v1/tenants/t/statuslists/0",
        "iat": 1_800_000_000, "exp": 1_800_003_600, "ttl": 300,
        "status_list": list.to_json(),
    });
    let header = json!({"alg": "ES256", "kid": key.kid(), "typ": STATUS_LIST_JWT_TYPE});
    key.sign_with_header(&header, &claims)
}

fn gzip(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}

fn in_memory() {
    let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    println!("1,000,000 entries, 1 bit (125,000 bytes before compression):");
    for (label, permille) in [("0.1%", 1), ("1%", 10), ("10%", 100)] {
        let revoked = revoked_indexes(CAPACITY as usize * permille / 1_000);
        let snapshot = snapshot(&revoked);
        let mut times = Vec::new();
        let mut jwt = String::new();
        for _ in 0..5 {
            let started = Instant::now();
            jwt = build_and_sign(&snapshot, &key);
            times.push(started.elapsed());
        }
        times.sort();
        let payload: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                jwt.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let lst = payload["status_list"]["lst"].as_str().unwrap().len();
        println!(
            "  {label} revoked ({} entries): build and sign {:.1} ms (median of 5); lst {lst} B, JWT {} B, served gzip {} B",
            revoked.len(),
            times[2].as_secs_f64() * 1000.0,
            jwt.len(),
            gzip(jwt.as_bytes()),
        );
    }
    count_instructions();
}

/// One build at 1% under callgrind, in a child run of this binary.
fn count_instructions() {
    if std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("  instructions: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    let out = std::env::temp_dir().join(format!(
        "signoff-status-list-{}.callgrind",
        std::process::id()
    ));
    let status = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--toggle-collect=*build_and_sign*")
        .arg(std::env::current_exe().unwrap())
        .env(CALLGRIND_CHILD, "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("valgrind runs");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("totals: "))
        .and_then(|t| t.trim().parse::<u64>().ok());
    match (status.success(), total) {
        (true, Some(total)) => println!(
            "  instructions of one build and sign at 1% (callgrind): {:.1} M",
            total as f64 / 1e6
        ),
        _ => println!("  instructions: the callgrind run failed ({status})"),
    }
}

async fn against_the_emulator() {
    let holders: u64 = std::env::var("SIGNOFF_BENCH_STATUS_HOLDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let db = TestDb::start_with_latency(Duration::from_millis(2)).await;
    // The first `holders` entries, handed out to them in order.
    let entries = db
        .store
        .allocate_status_entries(TENANT, holders, CAPACITY)
        .await
        .unwrap();
    let records: Vec<_> = (0..holders)
        .map(|i| seed::token(TENANT, &format!("sl-{i}"), TokenType::Access, "app"))
        .collect();
    let items = records
        .iter()
        .zip(&entries)
        .map(|(r, entry)| r.to_item_with_status(Some(*entry)))
        .collect();
    seed::put_items(&db.store, items).await;
    let entry_of = |i: usize| -> StatusEntry { entries[i] };
    println!(
        "\nthe emulator over HTTP, +2 ms one way: {holders} tokens holding entries of a 1,000,000-entry list"
    );

    let flips = 10_000.min(holders as usize);
    db.requests.reset();
    let started = Instant::now();
    stream::iter(records.iter().take(flips))
        .map(|record| db.store.revoke_token(record, Cascade::default()))
        .buffer_unordered(16)
        .for_each(|r| async move {
            r.expect("a revocation");
        })
        .await;
    let elapsed = started.elapsed();
    println!(
        "  {flips} revocations (RFC 7009 path, 16 at a time): {:.0} flips/s; {} requests {:?}",
        flips as f64 / elapsed.as_secs_f64(),
        db.requests.total(),
        db.requests.snapshot()
    );

    let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    db.requests.reset();
    let started = Instant::now();
    let snapshot = db
        .store
        .status_list_snapshot(TENANT, 0, CAPACITY, SETTLE)
        .await
        .unwrap()
        .expect("the list exists");
    let read = started.elapsed();
    let jwt = build_and_sign(&snapshot, &key);
    let total = started.elapsed();
    let invalid = snapshot.invalid_indexes(CAPACITY);
    assert_eq!(invalid.len(), flips);
    assert!((0..flips).all(|i| invalid.binary_search(&entry_of(i).index).is_ok()));
    println!(
        "  a build: snapshot {:.0} ms (settle {} ms included), build and sign {:.0} ms; {} INVALID; JWT {} B; {} requests {:?}",
        read.as_secs_f64() * 1000.0,
        SETTLE.as_millis(),
        (total - read).as_secs_f64() * 1000.0,
        invalid.len(),
        jwt.len(),
        db.requests.total(),
        db.requests.snapshot()
    );
}

fn main() {
    if std::env::var_os(CALLGRIND_CHILD).is_some() {
        let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
        let snapshot = snapshot(&revoked_indexes(CAPACITY as usize / 100));
        std::hint::black_box(build_and_sign(&snapshot, &key));
        return;
    }
    in_memory();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(against_the_emulator());
}
