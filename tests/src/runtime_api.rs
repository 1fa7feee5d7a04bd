//! The one emulator of the Lambda Runtime API in the tests: a function process polls it for
//! events (`GET /2018-06-01/runtime/invocation/next`) and posts its answers and errors
//! back, as it would in Lambda. The local gateway (`gateway.rs`) runs one per function
//! binary and queues an event per HTTP request; the cold-start probe (`cold_start.rs`) runs
//! one per start, queues the one event before the process starts, and times the process
//! through [`Hooks`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::event::{epoch_millis, fresh_id};

const ACCOUNT_ID: &str = "123456789012";

/// How long an invocation may run, handed to the function as its deadline (API Gateway's
/// maximum integration timeout).
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What an observer of the Runtime API is told, as it happens (in the request handlers, so
/// a measurement taken here is taken at that moment).
pub trait Hooks: Send + Sync {
    /// A poll for the next event arrived, before it waits for one.
    fn polled(&self) {}
    /// An event is being handed out.
    fn handed_out(&self) {}
    /// An invocation's response arrived, before it is passed on.
    fn responded(&self) {}
}

/// One function's Runtime API: the invocations queued for it and waiting on it.
#[derive(Default)]
pub struct RuntimeApi {
    name: String,
    logs: Arc<Mutex<String>>,
    hooks: Option<Arc<dyn Hooks>>,
    state: Mutex<Invocations>,
    /// Wakes the long-polling `next` handler when an event is queued.
    ready: Notify,
}

#[derive(Default)]
struct Invocations {
    /// Events not yet handed to the function, oldest first, with their request ids.
    queued: VecDeque<(String, Bytes)>,
    /// The reply channel of every queued or running invocation; dropping one fails it.
    waiting: HashMap<String, oneshot::Sender<Bytes>>,
    /// Set once the function failed to initialise or exited: it will answer nothing more.
    failed: bool,
}

impl RuntimeApi {
    /// The Runtime API of function `name`, noting init errors, invocation errors and
    /// [`RuntimeApi::log`] lines in `logs`.
    pub fn new(name: &str, logs: Arc<Mutex<String>>) -> Self {
        Self {
            name: name.to_owned(),
            logs,
            ..Self::default()
        }
    }

    /// Tells `hooks` what happens.
    pub fn with_hooks(self, hooks: Arc<dyn Hooks>) -> Self {
        Self {
            hooks: Some(hooks),
            ..self
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Notes `line` in the logs (and on stderr), prefixed with `[<function>] `.
    pub fn log(&self, line: &str) {
        let line = format!("[{}] {line}\n", self.name);
        eprint!("{line}");
        self.logs
            .lock()
            .expect("log buffer poisoned")
            .push_str(&line);
    }

    fn invocations(&self) -> MutexGuard<'_, Invocations> {
        self.state.lock().expect("invocation state poisoned")
    }

    fn hooks(&self) -> Option<&dyn Hooks> {
        self.hooks.as_deref()
    }

    /// Queues an event; its answer comes through the receiver, which fails if the function
    /// reports an error or dies. `None` if the function can no longer answer.
    pub fn invoke(&self, event: Bytes) -> Option<oneshot::Receiver<Bytes>> {
        let id = fresh_id();
        let (reply, outcome) = oneshot::channel();
        let mut state = self.invocations();
        if state.failed {
            return None;
        }
        state.queued.push_back((id.clone(), event));
        state.waiting.insert(id, reply);
        drop(state);
        // notify_one stores a permit when nobody is polling yet, so no wake-up is lost.
        self.ready.notify_one();
        Some(outcome)
    }

    /// Delivers an invocation's reply, or fails it with `None`. The Runtime API's answer:
    /// 400 when the id is unknown, e.g. already resolved.
    fn resolve(&self, id: &str, reply: Option<Bytes>) -> StatusCode {
        let Some(sender) = self.invocations().waiting.remove(id) else {
            return StatusCode::BAD_REQUEST;
        };
        if let Some(reply) = reply {
            // A send error only means the caller has gone (hung up or timed out).
            let _ = sender.send(reply);
        }
        StatusCode::ACCEPTED
    }

    /// Marks the function dead and fails everything waiting on it, so callers learn at
    /// once rather than after the timeout.
    pub fn fail(&self) {
        let mut state = self.invocations();
        state.failed = true;
        state.queued.clear();
        state.waiting.clear();
    }

    /// The Runtime API's routes, for [`serve`].
    pub fn router(self: Arc<Self>) -> Router {
        let invocation = "/2018-06-01/runtime/invocation";
        Router::new()
            .route(&format!("{invocation}/next"), get(next_invocation))
            .route(&format!("{invocation}/{{id}}/response"), post(respond))
            .route(&format!("{invocation}/{{id}}/error"), post(report_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Replies are passed on whatever their size; Lambda's own limit is not modelled.
            .layer(DefaultBodyLimit::disable())
            .with_state(self)
    }

    /// Serves this Runtime API on a free 127.0.0.1 port: the address to give the function
    /// as `AWS_LAMBDA_RUNTIME_API`, and the server's task.
    pub async fn serve(self: &Arc<Self>) -> Result<(SocketAddr, JoinHandle<()>), String> {
        serve(self.clone().router()).await
    }
}

/// Serves `router` on a free 127.0.0.1 port.
pub async fn serve(router: Router) -> Result<(SocketAddr, JoinHandle<()>), String> {
    serve_on(free_listener().await?, router)
}

/// A listener on a free 127.0.0.1 port.
pub async fn free_listener() -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))
}

/// Serves `router` on `listener`.
pub fn serve_on(
    listener: tokio::net::TcpListener,
    router: Router,
) -> Result<(SocketAddr, JoinHandle<()>), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server on {addr} failed: {e}");
        }
    });
    Ok((addr, server))
}

async fn next_invocation(State(function): State<Arc<RuntimeApi>>) -> Response {
    if let Some(hooks) = function.hooks() {
        hooks.polled();
    }
    let (id, event) = loop {
        let next = function.invocations().queued.pop_front();
        match next {
            Some(next) => break next,
            None => function.ready.notified().await,
        }
    };
    let deadline = epoch_millis(SystemTime::now() + INVOCATION_TIMEOUT);
    let arn = format!(
        "arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{}",
        function.name
    );
    let headers = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        ("content-type", "application/json".to_string()),
    ];
    if let Some(hooks) = function.hooks() {
        hooks.handed_out();
    }
    (headers, event).into_response()
}

async fn respond(
    State(function): State<Arc<RuntimeApi>>,
    UrlPath(id): UrlPath<String>,
    payload: Bytes,
) -> StatusCode {
    if let Some(hooks) = function.hooks() {
        hooks.responded();
    }
    function.resolve(&id, Some(payload))
}

async fn report_error(
    State(function): State<Arc<RuntimeApi>>,
    UrlPath(id): UrlPath<String>,
    report: Bytes,
) -> StatusCode {
    let report = String::from_utf8_lossy(&report);
    function.log(&format!("invocation error: {report}"));
    function.resolve(&id, None)
}

async fn init_error(State(function): State<Arc<RuntimeApi>>, report: Bytes) -> StatusCode {
    let report = String::from_utf8_lossy(&report);
    function.log(&format!("init error: {report}"));
    function.fail();
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queues_invocations_and_fails_them_when_the_function_dies() {
        let function = RuntimeApi::default();
        let first = function.invoke(Bytes::from_static(b"1")).expect("queued");
        let second = function.invoke(Bytes::from_static(b"2")).expect("queued");
        let (id, event) = function
            .invocations()
            .queued
            .pop_front()
            .expect("first event");
        assert_eq!(event, "1");
        let reply = Some(Bytes::from_static(b"{}"));
        assert_eq!(function.resolve(&id, reply), StatusCode::ACCEPTED);
        assert_eq!(function.resolve(&id, None), StatusCode::BAD_REQUEST);
        assert_eq!(first.await.expect("a reply"), "{}");
        function.fail();
        assert!(
            second.await.is_err(),
            "a dead function's callers are failed"
        );
        assert!(function.invoke(Bytes::new()).is_none());
    }
}
