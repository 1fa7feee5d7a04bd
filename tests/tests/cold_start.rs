//! The cold-start benchmark's harness (`signoff_tests::cold_start`) kept working, untimed:
//! every function binary, started as a fresh process against the minimal Runtime API,
//! answers its event, and the benchmark's table covers every routed function. Timing
//! goals live in the benchmark (`scripts/bench`), never here.
//!
//! Needs `cargo build --workspace --bins` first (`scripts/test` does it).

use std::collections::BTreeSet;

use signoff_tests::cold_start::{
    bench_env, cold_start, count_instructions, find_binary, Until, FUNCTIONS,
};
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

/// The instruction count (`scripts/init-instructions`) keeps working: it stops at the first
/// and the second poll, and the second includes a handled event. Skipped without valgrind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructions_are_counted_to_the_first_and_the_second_poll() {
    if std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("valgrind is not installed: instruction counting not checked");
        return;
    }
    let function = &FUNCTIONS[0];
    let binary = find_binary(&binaries_dir(), function.binary)
        .expect("built: run `cargo build --workspace --bins` first");
    let event = std::fs::read(workspace().join("events").join(function.event)).expect("event");
    let db = TestDb::start().await;
    signoff_store::demo::seed(&db.store, 20, |_| {})
        .await
        .expect("demo data");
    let mut env = db.function_env();
    env.extend(bench_env());
    let count =
        |until| count_instructions(function.binary, &binary, event.clone().into(), &env, until);
    let init = count(Until::FirstPoll)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = count(Until::SecondPoll)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(init.instructions > 0 && init.response.is_none());
    assert!(first.instructions > init.instructions, "{init:?} {first:?}");
    let status = first
        .response
        .as_ref()
        .and_then(|r| r["statusCode"].as_u64());
    assert!(status.is_some_and(|s| s < 400), "{:?}", first.response);
}
