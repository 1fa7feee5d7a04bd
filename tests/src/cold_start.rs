//! One cold start of a function binary, measured the way Lambda's `REPORT` line would see
//! it: a fresh process polling a Lambda Runtime API of its own (`runtime_api.rs`, the one
//! the local gateway runs too) for exactly one event, with the DynamoDB emulator over HTTP
//! behind it. Used by the cold-start benchmark (`tests/benches/cold_start.rs`) and,
//! untimed, by a test that keeps it working.
//!
//! What is measured, per start:
//! - init: spawning the process until its first `GET /2018-06-01/runtime/invocation/next`
//!   (what Lambda bills as Init Duration);
//! - first request: the event handed out until the response is posted; it includes opening
//!   the connection to DynamoDB and, in the SDK, loading the TLS root certificates;
//! - peak memory: the process's `VmHWM` when the response is posted (Max Memory Used);
//! - CPU time of all the process's threads by each of those two moments, from
//!   `/proc/<pid>/task/*/schedstat`. On a shared machine wall times wander with the load;
//!   CPU time does not, and it is what a 128 MB Lambda (about 1/14 of a vCPU) stretches.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::io::AsyncReadExt;

use crate::runtime_api::{Hooks, RuntimeApi};

/// A function binary and the event its cold start is measured with.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    /// The binary's name (`[[bin]] name`), as `cargo lambda build` names its folder.
    pub binary: &'static str,
    /// The event file under `events/`.
    pub event: &'static str,
    /// Whether a missing binary or event is an error (`false`: skipped with a note, for a
    /// function that has not landed on this branch yet).
    pub required: bool,
}

/// Every function binary and its event: one line per function.
pub const FUNCTIONS: &[Function] = &[
    Function {
        binary: "nativesso-logout",
        event: "nativesso-logout.json",
        required: true,
    },
    Function {
        binary: "token-register",
        event: "token-register.json",
        required: true,
    },
    // A logout verifies the demo refresh JWT (ES256): the crypto cost is in the figures.
    Function {
        binary: "descope-auth",
        event: "descope-logout.json",
        required: true,
    },
    // A confidential client's secret check and a grant revocation.
    Function {
        binary: "token-revoke",
        event: "netiq-revoke.json",
        required: true,
    },
    // A resource server's secret check and a token lookup with its markers.
    Function {
        binary: "token-introspect",
        event: "token-introspect.json",
        required: true,
    },
    // The scheduled housekeeping function: a sweep of the demo's expired records.
    Function {
        binary: "housekeeping",
        event: "housekeeping.json",
        required: true,
    },
];

/// The environment every function gets on top of the database's: the demo tenant for the
/// revocation function (as `scripts/dev` serves it), a short first-run lookback for
/// housekeeping, and no index settle wait, so that a
/// logout right after seeding measures the work and the connection, not a deliberate sleep.
pub fn bench_env() -> Vec<(String, String)> {
    [
        (
            signoff_revoke::settings::REVOCATION_TENANT_VAR,
            signoff_store::demo::SERVICE_ID,
        ),
        ("SIGNOFF_INDEX_SETTLE_MS", "0"),
        ("SIGNOFF_ISSUER", "https://signoff.example"),
        // Housekeeping's first run would read two weeks of (empty) hours; the demo's
        // expired records are an hour old.
        ("SIGNOFF_HOUSEKEEPING_LOOKBACK_HOURS", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Where a function's binary is under `dir`: `cargo lambda build`'s `<dir>/<name>/bootstrap`,
/// or cargo's own `<dir>/<name>`.
pub fn find_binary(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name).join("bootstrap"), dir.join(name)]
        .into_iter()
        .find(|path| path.is_file())
}

/// What one cold start measured.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Spawn until the first poll for an event.
    pub init: Duration,
    /// The event handed out until the response was posted.
    pub first_request: Duration,
    /// `VmHWM` when the response was posted, in KiB.
    pub peak_kib: u64,
    /// CPU time of all threads by the first poll.
    pub init_cpu: Duration,
    /// CPU time of all threads from the first poll to the response.
    pub request_cpu: Duration,
    /// The response payload as posted (for HTTP functions an API Gateway response object).
    pub response: serde_json::Value,
}

impl Sample {
    /// The API Gateway response's `statusCode`, if the payload is one.
    pub fn status(&self) -> Option<u64> {
        self.response.get("statusCode").and_then(|s| s.as_u64())
    }
}

/// Starts `binary` with a Lambda-like environment (no variables of this process; see
/// [`lambda_command`]), plus `env`; hands it `event`; measures; and kills it. An init error, an invocation error, an exit or no
/// answer within 30 s is an `Err` carrying the process's output.
pub async fn cold_start(
    name: &str,
    binary: &Path,
    event: Bytes,
    env: &[(String, String)],
) -> Result<Sample, String> {
    let probe = Arc::new(Probe::default());
    let logs = Arc::new(Mutex::new(String::new()));
    let runtime = Arc::new(RuntimeApi::new(name, logs.clone()).with_hooks(probe.clone()));
    // Queued before the process starts: its first poll gets it at once.
    let outcome = runtime
        .invoke(event)
        .ok_or("the runtime API refused the event")?;
    let (runtime_api, server) = runtime.serve().await?;

    let mut command = lambda_command(tokio::process::Command::new(binary), name, runtime_api, env);
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let _ = probe.pid.set(child.id().unwrap_or_default());
    let _ = probe.spawned.set(spawned);
    // The output is kept for the error message; reading it keeps the pipes from filling.
    let output = CapturedOutput::of(&mut child);

    let result = tokio::select! {
        outcome = outcome => match outcome {
            Ok(payload) => probe.sample(&payload),
            // An init or invocation error, noted in the logs.
            Err(_) => Err(logs.lock().expect("log lock").trim_end().to_owned()),
        },
        status = child.wait() => Err(format!("the process exited before answering ({status:?})")),
        _ = tokio::time::sleep(Duration::from_secs(30)) => Err("no answer within 30 s".into()),
    };
    let _ = child.kill().await;
    server.abort();
    output.attach_to(result, binary).await
}

/// One warm invocation: the event handed to the Runtime API until its answer came back,
/// and the CPU time the process's threads spent meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct WarmCall {
    pub wall: Duration,
    pub cpu: Duration,
}

/// Starts `binary` as [`cold_start`] does and hands it `events` one after another, each
/// once the previous was answered, as Lambda hands a warm sandbox one invocation at a time.
/// The first call (the cold one) is left out of the result; every call must be answered
/// below HTTP 400 (`Err` with the answer or the process's output otherwise). CPU time is
/// read between calls, so work a call finishes after posting its answer counts to the next.
pub async fn warm_invocations(
    name: &str,
    binary: &Path,
    env: &[(String, String)],
    events: impl IntoIterator<Item = Bytes>,
) -> Result<Vec<WarmCall>, String> {
    let logs = Arc::new(Mutex::new(String::new()));
    let runtime = Arc::new(RuntimeApi::new(name, logs.clone()));
    let (runtime_api, server) = runtime.serve().await?;
    let mut command = lambda_command(tokio::process::Command::new(binary), name, runtime_api, env);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let pid = child.id().unwrap_or_default();
    let output = CapturedOutput::of(&mut child);
    let calls = async {
        let mut calls = Vec::new();
        let mut cpu_before = cpu_time(pid);
        for (i, event) in events.into_iter().enumerate() {
            let started = Instant::now();
            let outcome = runtime
                .invoke(event)
                .ok_or("the function can no longer answer")?;
            let payload = tokio::time::timeout(Duration::from_secs(30), outcome)
                .await
                .map_err(|_| format!("call {i}: no answer within 30 s"))?
                .map_err(|_| logs.lock().expect("log lock").trim_end().to_owned())?;
            let wall = started.elapsed();
            let cpu_now = cpu_time(pid);
            let answer: serde_json::Value = serde_json::from_slice(&payload)
                .map_err(|e| format!("call {i}: the response is not JSON: {e}"))?;
            if answer["statusCode"].as_u64().is_some_and(|s| s >= 400) {
                return Err(format!("call {i} answered {answer}"));
            }
            if i > 0 {
                calls.push(WarmCall {
                    wall,
                    cpu: cpu_now.saturating_sub(cpu_before),
                });
            }
            cpu_before = cpu_now;
        }
        Ok(calls)
    };
    let result = tokio::select! {
        calls = calls => calls,
        status = child.wait() => Err(format!("the process exited ({status:?})")),
    };
    let _ = child.kill().await;
    server.abort();
    output.attach_to(result, binary).await
}

/// `command` (a function binary, or a tool that runs one) with a Lambda-like environment:
/// no variables of this process, then `env`; output piped, killed when dropped. Not even
/// `SSL_CERT_FILE`/`SSL_CERT_DIR`: Lambda sets neither, cargo sets both for what it runs
/// (its `openssl-probe`), and with either set the functions load the system's root
/// certificates instead of their compiled-in ones (`signoff_store::config::store_from_env`).
fn lambda_command(
    mut command: tokio::process::Command,
    name: &str,
    runtime_api: std::net::SocketAddr,
    env: &[(String, String)],
) -> tokio::process::Command {
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local/[$LATEST]bench")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023");
    command
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The directory of the binaries a benchmark measures: `SIGNOFF_BENCH_BINARIES`, else
/// `default`; relative paths are the workspace's.
pub fn bench_binaries(default: &str) -> PathBuf {
    let dir = std::env::var("SIGNOFF_BENCH_BINARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    if dir.is_relative() {
        crate::paths::workspace().join(dir)
    } else {
        dir
    }
}

/// A positive whole number from the environment variable `var`, else `default`.
pub fn count_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// A child process's stdout and stderr, read as it runs (which keeps the pipes from
/// filling) and kept for an error message.
struct CapturedOutput {
    text: Arc<Mutex<Vec<u8>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl CapturedOutput {
    fn of(child: &mut tokio::process::Child) -> Self {
        let text = Arc::new(Mutex::new(Vec::new()));
        let readers = [
            child.stdout.take().map(|p| drain(p, text.clone())),
            child.stderr.take().map(|p| drain(p, text.clone())),
        ];
        Self {
            text,
            readers: readers.into_iter().flatten().collect(),
        }
    }

    /// `result`, with the output appended to its error. A process the function started may
    /// still hold the pipes: the readers are given up on soon.
    async fn attach_to<T>(self, result: Result<T, String>, binary: &Path) -> Result<T, String> {
        for mut reader in self.readers {
            if tokio::time::timeout(Duration::from_secs(1), &mut reader)
                .await
                .is_err()
            {
                reader.abort();
            }
        }
        result.map_err(|e| {
            let output =
                String::from_utf8_lossy(&self.text.lock().expect("output lock")).into_owned();
            format!("{}: {e}\n{output}", binary.display())
        })
    }
}

fn drain(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            into.lock()
                .expect("output lock")
                .extend_from_slice(&buf[..n]);
        }
    })
}

/// What the runtime API saw of the one invocation, measured as it happened.
#[derive(Default)]
struct Probe {
    pid: OnceLock<u32>,
    spawned: OnceLock<Instant>,
    /// At the first poll: spawn until then, and the CPU time by then.
    first_poll: OnceLock<(Duration, Duration)>,
    handed_out: OnceLock<Instant>,
    /// When the response was posted, with `VmHWM` and the CPU time then.
    responded: OnceLock<(Instant, u64, Duration)>,
}

impl Hooks for Probe {
    fn polled(&self) {
        let polled = Instant::now();
        let pid = *self
            .pid
            .get()
            .expect("the child is spawned before it can poll");
        let init_cpu = cpu_time(pid);
        if let Some(spawned) = self.spawned.get() {
            // One invocation per process: a later poll waits until the process is killed.
            let _ = self.first_poll.set((polled - *spawned, init_cpu));
        }
    }

    fn handed_out(&self) {
        let _ = self.handed_out.set(Instant::now());
    }

    fn responded(&self) {
        let responded = Instant::now();
        let pid = *self.pid.get().expect("spawned");
        let _ = self
            .responded
            .set((responded, peak_kib(pid), cpu_time(pid)));
    }
}

impl Probe {
    /// The sample, once the response `payload` was posted.
    fn sample(&self, payload: &[u8]) -> Result<Sample, String> {
        let (Some((init, init_cpu)), Some(at)) = (self.first_poll.get(), self.handed_out.get())
        else {
            return Err("a response before any event was handed out".to_owned());
        };
        let (responded, peak_kib, cpu) = *self.responded.get().expect("posted");
        serde_json::from_slice(payload)
            .map_err(|e| format!("the response is not JSON: {e}"))
            .map(|response| Sample {
                init: *init,
                first_request: responded - *at,
                peak_kib,
                init_cpu: *init_cpu,
                request_cpu: cpu.saturating_sub(*init_cpu),
                response,
            })
    }
}

/// Where an instruction count stops: at the process's first or second poll for an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// The first `GET /2018-06-01/runtime/invocation/next`: init, as Lambda bills it.
    FirstPoll,
    /// The second: init, then the event handed out, handled and its response posted.
    SecondPoll,
}

/// What one instruction count found.
#[derive(Clone, Debug)]
pub struct InstructionCount {
    /// Instructions of all the process's threads together.
    pub instructions: u64,
    /// The response posted before the second poll ([`Until::SecondPoll`] only).
    pub response: Option<serde_json::Value>,
}

/// Counts the instructions `binary` executes, all threads together, from its first
/// instruction until it polls for an event the first or second time ([`Until`]), with
/// valgrind's callgrind (`valgrind` on the `PATH`). Unlike times, instruction counts do not
/// move with the machine's load, so a shared machine measures them as well as a quiet one.
///
/// Method: the process runs as `valgrind --tool=callgrind <binary>` with the environment
/// of [`cold_start`] against a Runtime API of its own that never answers the poll it stops
/// at. Once that poll has arrived and the process has blocked on it (a process waiting for
/// an answer runs no code), it gets SIGTERM, on which callgrind writes its totals. The
/// first request's instructions are the difference between the two stops, each counted in
/// a fresh process.
pub async fn count_instructions(
    name: &str,
    binary: &Path,
    event: Bytes,
    env: &[(String, String)],
    until: Until,
) -> Result<InstructionCount, String> {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let (reached_tx, reached) = tokio::sync::oneshot::channel::<Result<(), String>>();
    let stop = Arc::new(PollStop {
        stop_at: match until {
            Until::FirstPoll => 1,
            Until::SecondPoll => 2,
        },
        polls: Default::default(),
        reached: Mutex::new(Some(reached_tx)),
    });
    let logs = Arc::new(Mutex::new(String::new()));
    let api = Arc::new(RuntimeApi::new(name, logs).with_hooks(stop.clone()));
    // No event after the one counted: the poll the count stops at is never answered.
    let answer = match until {
        Until::FirstPoll => None,
        Until::SecondPoll => api.invoke(event),
    };
    let (runtime_api, server) = api.serve().await?;

    let out = std::env::temp_dir().join(format!(
        "signoff-callgrind-{}-{}.out",
        std::process::id(),
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut valgrind = tokio::process::Command::new("valgrind");
    valgrind
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(binary);
    let mut child = lambda_command(valgrind, name, runtime_api, env)
        .spawn()
        .map_err(|e| format!("cannot start valgrind (is it installed?): {e}"))?;
    let pid = child.id().unwrap_or_default();
    let output = CapturedOutput::of(&mut child);

    let result = async {
        tokio::select! {
            reached = reached => reached.unwrap_or_else(|_| Err("the runtime API stopped".into()))?,
            status = child.wait() => return Err(format!("the process exited before its poll ({status:?})")),
            _ = tokio::time::sleep(Duration::from_secs(120)) => return Err("no poll within 120 s".into()),
        }
        // Let it finish sending and block on the answer; then callgrind's totals are final.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if !killed.success() {
            return Err(format!("kill -TERM {pid} failed"));
        }
        tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .map_err(|_| "valgrind did not stop within 60 s of SIGTERM".to_owned())?
            .map_err(|e| e.to_string())?;
        let totals = std::fs::read_to_string(&out)
            .map_err(|e| format!("callgrind wrote no {}: {e}", out.display()))?;
        let instructions = totals
            .lines()
            .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no totals in {}", out.display()))?;
        let response = match answer {
            Some(answer) => answer
                .await
                .ok()
                .and_then(|reply| serde_json::from_slice(&reply).ok()),
            None => None,
        };
        Ok(InstructionCount {
            instructions,
            response,
        })
    }
    .await;
    let _ = child.kill().await;
    // SIGNOFF_CALLGRIND_KEEP=1 keeps callgrind's file, to see where the instructions went
    // (`callgrind_annotate <file>`; an unstripped binary names the functions).
    if std::env::var_os("SIGNOFF_CALLGRIND_KEEP").is_some() {
        eprintln!("callgrind: {}", out.display());
    } else {
        let _ = std::fs::remove_file(&out);
    }
    server.abort();
    output.attach_to(result, binary).await
}

/// Tells an instruction count when the process has polled the number of times it stops at.
struct PollStop {
    stop_at: usize,
    polls: std::sync::atomic::AtomicUsize,
    reached: Mutex<Option<tokio::sync::oneshot::Sender<Result<(), String>>>>,
}

impl Hooks for PollStop {
    fn polled(&self) {
        let poll = self.polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if poll >= self.stop_at {
            if let Some(sender) = self.reached.lock().expect("poll stop lock").take() {
                let _ = sender.send(Ok(()));
            }
        }
    }
}

/// The process's peak resident set (`VmHWM`), in KiB; 0 if it cannot be read.
pub fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// CPU time the process's threads have run so far (the first field of each thread's
/// `schedstat`, in nanoseconds).
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Summary statistics of `values`: (median, p90, max), nearest rank.
pub fn spread<T: Copy + Ord>(values: &[T]) -> Option<(T, T, T)> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = |p: usize| sorted[(sorted.len() * p).div_ceil(100).max(1) - 1];
    Some((rank(50), rank(90), sorted[sorted.len() - 1]))
}
