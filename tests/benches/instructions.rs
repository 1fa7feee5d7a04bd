//! Instructions to first poll: `scripts/init-instructions` (builds the release binaries,
//! then runs this), `scripts/bench` (after the cold starts), or on its own
//! `SIGNOFF_BENCH_BINARIES=target/release cargo bench -p signoff-tests --bench instructions`.
//!
//! Each function binary in [`FUNCTIONS`] runs under `valgrind --tool=callgrind` against a
//! minimal Lambda Runtime API and a fresh embedded DynamoDB emulator holding the demo data,
//! with the environment of the cold-start benchmark. Counted, all threads together: init
//! (the first instruction until the first poll for an event) and the first request (the
//! first poll until the second: the event handled, the DynamoDB connection opened, the
//! response posted). See `signoff_tests::cold_start::count_instructions` for the method.
//! Instruction counts do not move with the machine's load, unlike the cold-start times.
//!
//! `SIGNOFF_INSTRUCTION_RUNS` (1) counts each binary that many times and prints medians;
//! repeated counts of one binary agree to well under 1%.

use std::process::ExitCode;

use signoff_tests::cold_start::{
    bench_binaries, bench_env, count_from_env, count_instructions, find_binary, Until, FUNCTIONS,
};
use signoff_tests::db::TestDb;
use signoff_tests::paths::workspace;

/// Init's instruction budget (issue 11).
const INIT_GOAL: u64 = 6_000_000;

fn millions(n: u64) -> String {
    format!("{:.2} M", n as f64 / 1e6)
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

/// One pair of counts: to the first poll, and to the second in a fresh process.
async fn one_run(name: &str, binary: &std::path::Path, event: &[u8]) -> Result<(u64, u64), String> {
    let db = TestDb::start().await;
    signoff_store::demo::seed(&db.store, 20, |_| {})
        .await
        .map_err(|e| format!("seeding the demo data: {e}"))?;
    let mut env = db.function_env();
    env.extend(bench_env());
    let init = count_instructions(name, binary, event.to_vec().into(), &env, Until::FirstPoll)
        .await?
        .instructions;
    let second =
        count_instructions(name, binary, event.to_vec().into(), &env, Until::SecondPoll).await?;
    let status = second
        .response
        .as_ref()
        .and_then(|r| r.get("statusCode"))
        .and_then(|s| s.as_u64());
    if let Some(status @ 400..) = status {
        return Err(format!("{name} answered {status}: {:?}", second.response));
    }
    if second.response.is_none() {
        return Err(format!("{name} posted no JSON response"));
    }
    Ok((init, second.instructions.saturating_sub(init)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let dir = bench_binaries("target/release");
    let runs = count_from_env("SIGNOFF_INSTRUCTION_RUNS", 1);
    println!(
        "instructions (callgrind, all threads), {runs} run(s) per binary from {}; goal: init <= {}",
        dir.display(),
        millions(INIT_GOAL)
    );
    let mut failed = false;
    let mut rows = Vec::new();
    for function in FUNCTIONS {
        let binary = find_binary(&dir, function.binary);
        let event = std::fs::read(workspace().join("events").join(function.event));
        let (Some(binary), Ok(event)) = (binary, event) else {
            if function.required {
                eprintln!(
                    "error: {} or events/{} not found",
                    function.binary, function.event
                );
                failed = true;
            }
            continue;
        };
        let (mut inits, mut requests) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            match one_run(function.binary, &binary, &event).await {
                Ok((init, request)) => {
                    inits.push(init);
                    requests.push(request);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                    break;
                }
            }
        }
        if inits.is_empty() {
            continue;
        }
        let size = std::fs::metadata(&binary).map_or(0, |m| m.len());
        let (init, request) = (median(&mut inits), median(&mut requests));
        let verdict = if init <= INIT_GOAL { "ok" } else { "OVER GOAL" };
        rows.push(format!(
            "| {} | {} | {} | {} | {} | {verdict} |",
            function.binary,
            size,
            millions(init),
            millions(request),
            init,
        ));
    }
    if !rows.is_empty() {
        println!("| binary | bytes | init (to first poll) | first request | init, exact | goal |");
        println!("|---|---:|---:|---:|---:|---|");
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
