//! The cold-start benchmark's harness (`signoff_tests::cold_start`) kept working, untimed:
//! every function binary, started as a fresh process against the minimal Runtime API,
//! answers its event, and the benchmark's table covers every routed function. Timing
//! goals live in the benchmark (`scripts/bench`), never here.
//!
//! Needs `cargo build --workspace --bins` first (`scripts/test` does it).

use std::collections::BTreeSet;

use signoff_tests::cold_start::{bench_env, cold_start, find_binary, FUNCTIONS};
use signoff_tests::db::TestDb;
use signoff_tests::gateway::routes_from_manifest;
use signoff_tests::paths::{binaries_dir, workspace};

#[test]
fn the_benchmark_table_covers_every_routed_function_with_an_existing_event() {
    let routes = routes_from_manifest(&workspace().join("Cargo.toml")).expect("router table");
    let routed: BTreeSet<&str> = routes.iter().map(|r| r.function.as_str()).collect();
    let benched: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.binary).collect();
    let missing: Vec<_> = routed.difference(&benched).collect();
    assert!(
        missing.is_empty(),
        "add {missing:?} to cold_start::FUNCTIONS"
    );
    for function in FUNCTIONS.iter().filter(|f| f.required) {
        let event = workspace().join("events").join(function.event);
        assert!(
            event.is_file(),
            "{}: no {}",
            function.binary,
            event.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_binary_answers_its_event_from_a_cold_start() {
    for function in FUNCTIONS {
        let Some(binary) = find_binary(&binaries_dir(), function.binary) else {
            assert!(
                !function.required,
                "{} not built: run `cargo build --workspace --bins` first",
                function.binary
            );
            continue;
        };
        let Ok(event) = std::fs::read(workspace().join("events").join(function.event)) else {
            assert!(!function.required, "events/{} missing", function.event);
            continue;
        };
        let db = TestDb::start().await;
        signoff_store::demo::seed(&db.store, 20, |_| {})
            .await
            .expect("demo data");
        let mut env = db.function_env();
        env.extend(bench_env());
        let sample = cold_start(function.binary, &binary, event.into(), &env)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            sample.status().is_none_or(|s| s < 400),
            "{}: {}",
            function.binary,
            sample.response
        );
        // Measured at all (no bounds: timing goals are the benchmark's).
        assert!(sample.peak_kib > 0, "{}: no VmHWM", function.binary);
        assert!(!sample.init.is_zero() && !sample.first_request.is_zero());
    }
}
