//! Cold-start benchmark: `scripts/bench` (builds the release binaries for both
//! architectures, prints their sizes, then runs this on the host's), or on its own
//! `SIGNOFF_BENCH_BINARIES=target/lambda cargo bench -p signoff-tests --bench cold_start`.
//!
//! Each function binary in [`FUNCTIONS`] is started `SIGNOFF_BENCH_RUNS` times (20), each
//! time as a fresh process against a minimal Lambda Runtime API and a fresh embedded
//! DynamoDB emulator holding the demo data (seeding is not timed), and handed its event
//! from `events/`. Printed per binary: init (spawn until the first poll for an event),
//! the first request (event handed out until the response is posted, which includes
//! opening the DynamoDB connection), peak memory (VmHWM) and the CPU time of each, as
//! median / p90 / max, against the goals below. Fails when a required binary or event is
//! missing or a start fails; the goals are reported, not enforced.
//!
//! Binaries are looked up in `SIGNOFF_BENCH_BINARIES` (default `target/lambda`), as
//! `<dir>/<name>/bootstrap` (cargo lambda) or `<dir>/<name>` (cargo).

use std::process::ExitCode;
use std::time::Duration;

use signoff_tests::cold_start::{
    bench_binaries, bench_env, cold_start, count_from_env, find_binary, spread, Sample, FUNCTIONS,
};
use signoff_tests::db::TestDb;
use signoff_tests::paths::workspace;

/// The goals of issue 5, for a local run.
const INIT_GOAL: Duration = Duration::from_millis(10);
const PEAK_GOAL_MIB: u64 = 30;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn triple<T: Copy + Ord>(values: &[T], show: impl Fn(T) -> String) -> String {
    spread(values).map_or("-".into(), |(p50, p90, max)| {
        format!("{} / {} / {}", show(p50), show(p90), show(max))
    })
}

async fn one_run(name: &str, binary: &std::path::Path, event: &[u8]) -> Result<Sample, String> {
    let db = TestDb::start().await;
    signoff_store::demo::seed(&db.store, 20, |_| {})
        .await
        .map_err(|e| format!("seeding the demo data: {e}"))?;
    let mut env = db.function_env();
    env.extend(bench_env());
    let sample = cold_start(name, binary, event.to_vec().into(), &env).await?;
    match sample.status() {
        Some(status) if status >= 400 => {
            Err(format!("{name} answered {status}: {}", sample.response))
        }
        _ => Ok(sample),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let dir = bench_binaries("target/lambda");
    let runs = count_from_env("SIGNOFF_BENCH_RUNS", 20);
    println!(
        "cold starts: {runs} per binary from {}; goals: init < {} ms, peak memory < {PEAK_GOAL_MIB} MiB",
        dir.display(),
        INIT_GOAL.as_millis()
    );
    println!("each figure is median / p90 / max; CPU is all threads' time on a CPU\n");

    let mut failed = false;
    let mut rows = Vec::new();
    for function in FUNCTIONS {
        let binary = find_binary(&dir, function.binary);
        let event = std::fs::read(workspace().join("events").join(function.event));
        let (binary, event) = match (binary, event) {
            (Some(binary), Ok(event)) => (binary, event),
            (binary, _) => {
                let missing = if binary.is_none() {
                    format!("binary {}", function.binary)
                } else {
                    format!("event events/{}", function.event)
                };
                if function.required {
                    eprintln!("error: {missing} not found: build it (scripts/bench does)");
                    failed = true;
                } else {
                    println!("{}: skipped, {missing} not found\n", function.binary);
                }
                continue;
            }
        };
        let mut samples = Vec::new();
        for _ in 0..runs {
            match one_run(function.binary, &binary, &event).await {
                Ok(sample) => samples.push(sample),
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                    break;
                }
            }
        }
        if samples.is_empty() {
            continue;
        }
        let field = |f: fn(&Sample) -> Duration| samples.iter().map(f).collect::<Vec<_>>();
        let init = field(|s| s.init);
        let peaks: Vec<u64> = samples.iter().map(|s| s.peak_kib).collect();
        let init_ok = spread(&init).is_some_and(|(p50, _, _)| p50 < INIT_GOAL);
        let peak_ok = spread(&peaks).is_some_and(|(_, _, max)| max < PEAK_GOAL_MIB * 1024);
        let verdict = |ok| if ok { "ok" } else { "OVER GOAL" };
        println!(
            "{} ({} runs, event {})",
            function.binary,
            samples.len(),
            function.event
        );
        println!(
            "  init ms          {:<24} {}",
            triple(&init, ms),
            verdict(init_ok)
        );
        println!("  init CPU ms      {}", triple(&field(|s| s.init_cpu), ms));
        println!(
            "  first request ms {}",
            triple(&field(|s| s.first_request), ms)
        );
        println!(
            "  request CPU ms   {}",
            triple(&field(|s| s.request_cpu), ms)
        );
        println!(
            "  peak MiB         {:<24} {}\n",
            triple(&peaks, mib),
            verdict(peak_ok)
        );
        let p50 = |values: &[Duration]| spread(values).map_or(Duration::ZERO, |(p50, _, _)| p50);
        rows.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            function.binary,
            ms(p50(&init)),
            ms(p50(&field(|s| s.init_cpu))),
            ms(p50(&field(|s| s.first_request))),
            ms(p50(&field(|s| s.request_cpu))),
            spread(&peaks).map_or("-".into(), |(_, _, max)| mib(max)),
        ));
    }
    if !rows.is_empty() {
        println!("| binary | init ms | init CPU ms | first request ms | request CPU ms | peak MiB (max) |");
        println!("|---|---|---|---|---|---|");
        for row in rows {
            println!("{row}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
