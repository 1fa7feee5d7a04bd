//! A local stand-in for API Gateway (HTTP API, payload format 2.0) and the Lambda Runtime
//! API, so end-to-end tests drive the real compiled function binaries over HTTP the way an
//! API Gateway client would: like `sam local start-api`, without Docker.
//!
//! Each function binary runs as a child process polling its own Runtime API server. The
//! front server turns a request into a v2 event, queues it for the function that owns the
//! route, and turns the reply into an HTTP response. Failures get API Gateway's own status
//! codes and bodies, because tests assert that bad input never causes a 5xx.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::base64;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, request::Parts, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

const ACCOUNT_ID: &str = "123456789012";
/// API Gateway's request payload limit.
const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;
/// Lambda's limit for a synchronous invocation's response.
const MAX_RESPONSE_PAYLOAD: usize = 6 * 1024 * 1024;
/// API Gateway's maximum integration timeout, also given to the function as its deadline.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One API route and the function binary that serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// HTTP method in upper case, or "ANY" for all methods.
    pub method: String,
    /// Path template, e.g. "/api/{serviceId}/nativesso/logout".
    pub path: String,
    /// Name of the function binary.
    pub function: String,
}

/// Reads routes from the workspace Cargo.toml: table [workspace.metadata.lambda.watch.router], entries like
/// "/api/{serviceId}/nativesso/logout" = [{ method = "POST", function = "nativesso-logout" }]
/// (a plain string value "path" = "bin" means all methods: use method "ANY").
pub fn routes_from_manifest(manifest: &Path) -> Result<Vec<Route>, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    parse_routes(&text).map_err(|e| format!("{}: {e}", manifest.display()))
}

fn parse_routes(manifest: &str) -> Result<Vec<Route>, String> {
    let root = toml::Value::Table(toml::from_str(manifest).map_err(|e| e.to_string())?);
    let router = ["workspace", "metadata", "lambda", "watch", "router"]
        .iter()
        .try_fold(&root, |node, key| node.get(key))
        .and_then(toml::Value::as_table)
        .ok_or("no [workspace.metadata.lambda.watch.router] table")?;
    let mut routes = Vec::new();
    for (path, target) in router {
        let route = |method: &str, function: &str| Route {
            method: method.to_ascii_uppercase(),
            path: path.clone(),
            function: function.to_string(),
        };
        match target {
            toml::Value::String(function) => routes.push(route("ANY", function)),
            toml::Value::Array(entries) => {
                for entry in entries {
                    let field = |name| entry.get(name).and_then(toml::Value::as_str);
                    let function = field("function")
                        .ok_or_else(|| format!("route {path:?}: entry without `function`"))?;
                    routes.push(route(field("method").unwrap_or("ANY"), function));
                }
            }
            _ => return Err(format!("route {path:?}: expected a string or an array")),
        }
    }
    Ok(routes)
}

/// A running gateway: the front HTTP server, plus one Runtime API server and one child
/// process per function. Children are killed on [`Gateway::shutdown`] or drop.
pub struct Gateway {
    base_url: String,
    logs: Arc<Mutex<String>>,
    /// Per child: firing or dropping the sender makes the watcher task kill the child.
    children: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    servers: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Starts one Runtime API server per function (each on 127.0.0.1:0), spawns each function binary
    /// `binaries_dir/<function>` with env AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>, AWS_LAMBDA_FUNCTION_NAME,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128, AWS_LAMBDA_FUNCTION_VERSION=$LATEST, AWS_LAMBDA_LOG_GROUP_NAME/STREAM_NAME,
    /// plus the caller's `env` pairs (the child inherits the parent environment too), with
    /// stdout/stderr captured for [`Gateway::logs`], and an HTTP front server on 127.0.0.1:0.
    pub async fn start(
        routes: Vec<Route>,
        binaries_dir: &Path,
        env: &[(String, String)],
    ) -> Result<Gateway, String> {
        let mut names: Vec<&str> = routes.iter().map(|r| r.function.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        // Check every binary before starting anything, so this is the error the user sees.
        if let Some(binary) = names
            .iter()
            .map(|n| binaries_dir.join(n))
            .find(|b| !b.is_file())
        {
            return Err(format!(
                "function binary {} not found: run `cargo build --workspace --bins` first",
                binary.display()
            ));
        }
        // Filled in place, so that an early return drops it and so stops what has started.
        let mut gateway = Gateway {
            base_url: String::new(),
            logs: Arc::default(),
            children: Vec::new(),
            servers: Vec::new(),
        };
        let mut functions = HashMap::new();
        for name in names {
            let function = Arc::new(Function {
                name: name.to_string(),
                logs: gateway.logs.clone(),
                state: Mutex::default(),
                ready: Notify::new(),
            });
            let (runtime_api, server) = serve(runtime_api(function.clone())).await?;
            gateway.servers.push(server);
            let binary = binaries_dir.join(name);
            let child = spawn_function(function.clone(), &binary, runtime_api, env)?;
            gateway.children.push(child);
            functions.insert(name.to_string(), function);
        }
        let front = Arc::new(Front { routes, functions });
        let (addr, server) = serve(Router::new().fallback(front_request).with_state(front)).await?;
        gateway.servers.push(server);
        gateway.base_url = format!("http://{addr}");
        Ok(gateway)
    }

    /// The front server's URL, e.g. "http://127.0.0.1:PORT".
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Everything the function processes printed so far (stdout and stderr), each line
    /// prefixed with `[<function>] `, plus the gateway's notes on init errors and crashes.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("log buffer poisoned").clone()
    }

    /// Kills the function processes, waits for them to exit, and stops the servers.
    pub async fn shutdown(mut self) {
        for (kill, watcher) in std::mem::take(&mut self.children) {
            // A send error only means the child has already exited.
            let _ = kill.send(());
            let _ = watcher.await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Dropping `children` tells the watchers to kill the processes; the processes also
        // have kill_on_drop, for when the runtime stops before the watchers get to run.
        for server in &self.servers {
            server.abort();
        }
    }
}

async fn serve(router: Router) -> Result<(SocketAddr, JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("gateway: server on {addr} failed: {e}");
        }
    });
    Ok((addr, server))
}

fn spawn_function(
    function: Arc<Function>,
    binary: &Path,
    runtime_api: SocketAddr,
    env: &[(String, String)],
) -> Result<(oneshot::Sender<()>, JoinHandle<()>), String> {
    let name = &function.name;
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[$LATEST]{}", fresh_id()),
        )
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    if let Some(stdout) = child.stdout.take() {
        capture(stdout, function.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        capture(stderr, function.clone());
    }
    let (kill, killed) = oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => {
                // Lambda would start a fresh environment; for tests, failing fast says more.
                match status {
                    Ok(status) => function.log(&format!("process exited ({status})")),
                    Err(e) => function.log(&format!("process lost: {e}")),
                }
                function.fail();
            }
            _ = killed => {
                let _ = child.kill().await;
            }
        }
    });
    Ok((kill, watcher))
}

/// Copies a child's output into the logs line by line, as it comes.
fn capture(pipe: impl AsyncRead + Unpin + Send + 'static, function: Arc<Function>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        // Bytes, not `lines()`, so that output which is not UTF-8 is kept rather than ending capture.
        while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
            function.log(String::from_utf8_lossy(&line).trim_end());
            line.clear();
        }
    });
}

/// One function: its invocations, shared by its Runtime API handlers and the front server.
struct Function {
    name: String,
    logs: Arc<Mutex<String>>,
    state: Mutex<Invocations>,
    /// Wakes the long-polling `next` handler when an event is queued.
    ready: Notify,
}

#[derive(Default)]
struct Invocations {
    /// Events not yet handed to the function, oldest first, with their request ids.
    queued: VecDeque<(String, Bytes)>,
    /// The reply channel of every queued or running invocation.
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    /// Set once the function failed to initialise or exited: it will answer nothing more.
    failed: bool,
}

enum Outcome {
    Response(Bytes),
    Error,
}

impl Function {
    fn log(&self, line: &str) {
        let line = format!("[{}] {line}\n", self.name);
        eprint!("{line}");
        self.logs
            .lock()
            .expect("log buffer poisoned")
            .push_str(&line);
    }

    fn invocations(&self) -> std::sync::MutexGuard<'_, Invocations> {
        self.state.lock().expect("invocation state poisoned")
    }

    /// Queues an event; `None` if the function can no longer answer.
    fn invoke(&self, event: Bytes) -> Option<oneshot::Receiver<Outcome>> {
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

    /// Delivers an invocation's outcome; false if the id is unknown.
    fn resolve(&self, id: &str, outcome: Outcome) -> bool {
        let reply = self.invocations().waiting.remove(id);
        reply.map(|reply| reply.send(outcome)).is_some()
    }

    /// Marks the function dead and fails everything waiting on it, so callers get a 500 at
    /// once rather than a 503 after the integration timeout.
    fn fail(&self) {
        let mut state = self.invocations();
        state.failed = true;
        state.queued.clear();
        for (_, reply) in state.waiting.drain() {
            let _ = reply.send(Outcome::Error);
        }
    }
}

fn runtime_api(function: Arc<Function>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/{result}",
            post(invocation_result),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(function)
}

async fn next_invocation(State(function): State<Arc<Function>>) -> Response {
    let (id, event) = loop {
        let next = function.invocations().queued.pop_front();
        match next {
            Some(next) => break next,
            None => function.ready.notified().await,
        }
    };
    let deadline = epoch_millis(SystemTime::now() + INTEGRATION_TIMEOUT);
    let arn = format!(
        "arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{}",
        function.name
    );
    // X-Ray's format: epoch seconds, then 24 hex digits (here from the request id's counter).
    let counter = id.rsplit('-').next().unwrap_or_default();
    let trace = format!("Root=1-{:08x}-{counter:0>24};Sampled=0", deadline / 1000);
    let headers = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        ("lambda-runtime-trace-id", trace),
        ("content-type", "application/json".to_string()),
    ];
    (headers, event).into_response()
}

/// `POST .../invocation/{id}/response` and `.../{id}/error`.
async fn invocation_result(
    State(function): State<Arc<Function>>,
    UrlPath((id, result)): UrlPath<(String, String)>,
    body: Body,
) -> StatusCode {
    let payload = to_bytes(body, MAX_RESPONSE_PAYLOAD).await;
    let (outcome, status) = match (result.as_str(), payload) {
        ("response", Ok(payload)) => (Outcome::Response(payload), StatusCode::ACCEPTED),
        // Lambda refuses an oversized response, and the invocation fails.
        ("response", Err(_)) => (Outcome::Error, StatusCode::PAYLOAD_TOO_LARGE),
        ("error", report) => {
            let report = report.unwrap_or_default();
            function.log(&format!(
                "invocation error: {}",
                String::from_utf8_lossy(&report)
            ));
            (Outcome::Error, StatusCode::ACCEPTED)
        }
        _ => return StatusCode::NOT_FOUND,
    };
    if function.resolve(&id, outcome) {
        status
    } else {
        StatusCode::BAD_REQUEST
    }
}

async fn init_error(State(function): State<Arc<Function>>, body: Body) -> StatusCode {
    let report = to_bytes(body, MAX_RESPONSE_PAYLOAD)
        .await
        .unwrap_or_default();
    function.log(&format!("init error: {}", String::from_utf8_lossy(&report)));
    function.fail();
    StatusCode::ACCEPTED
}

struct Front {
    routes: Vec<Route>,
    functions: HashMap<String, Arc<Function>>,
}

async fn front_request(State(front): State<Arc<Front>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    // HTTP APIs decode the path before routing; the event carries it decoded too.
    let path = percent_decode(parts.uri.path());
    let Some((route, params)) = match_route(&front.routes, parts.method.as_str(), &path) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // Also reached when the client hangs up mid-body, and then nobody reads the answer.
    let Ok(body) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let event = build_event(
        route,
        &params,
        &parts,
        &body,
        &fresh_id(),
        SystemTime::now(),
    );
    // Every routed function was started, so `None` means the function has died.
    let function = front.functions.get(&route.function);
    let Some(outcome) = function.and_then(|f| f.invoke(event.to_string().into())) else {
        return internal_error();
    };
    // On a timeout the invocation still runs to its end, as it does in Lambda.
    match tokio::time::timeout(INTEGRATION_TIMEOUT, outcome).await {
        Ok(Ok(Outcome::Response(payload))) => translate_reply(&payload),
        Ok(Ok(Outcome::Error) | Err(_)) => internal_error(),
        Err(_) => gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    }
}

/// Finds the route for a request; a path template's `{name}` matches one non-empty segment.
/// As in API Gateway the most specific route wins: the most literal segments, then an
/// exact method over ANY.
fn match_route<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, Vec<(String, String)>)> {
    routes
        .iter()
        .filter(|route| route.method == "ANY" || route.method.eq_ignore_ascii_case(method))
        .filter_map(|route| Some((route, path_params(&route.path, path)?)))
        .max_by_key(|(route, params)| {
            (
                route.path.split('/').count() - params.len(),
                route.method != "ANY",
            )
        })
}

fn path_params(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    if template.split('/').count() != path.split('/').count() {
        return None;
    }
    let mut params = Vec::new();
    for (pattern, segment) in template.split('/').zip(path.split('/')) {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => {
                params.push((name.to_string(), segment.to_string()))
            }
            None if pattern == segment => {}
            _ => return None,
        }
    }
    Some(params)
}

/// Builds the API Gateway HTTP API payload format 2.0 event for a request whose path
/// matched `route` with `params`.
fn build_event(
    route: &Route,
    params: &[(String, String)],
    parts: &Parts,
    body: &[u8],
    request_id: &str,
    now: SystemTime,
) -> Value {
    let route_key = format!("{} {}", route.method, route.path);
    let path = percent_decode(parts.uri.path());
    let mut headers = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        // Format 2.0 moves cookies to a field of their own.
        if name == header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from),
            );
        } else {
            push_joined(&mut headers, name.to_string(), &value);
        }
    }
    let raw_query = parts.uri.query().unwrap_or("");
    let mut query = BTreeMap::new();
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        push_joined(&mut query, percent_decode(key), &percent_decode(value));
    }
    let epoch_ms = epoch_millis(now);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent").map_or("", String::as_str),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": format_clf_time(epoch_ms / 1000),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": false,
    });
    let fields = event.as_object_mut().expect("built as an object");
    if !cookies.is_empty() {
        fields.insert("cookies".into(), json!(cookies));
    }
    if !query.is_empty() {
        fields.insert("queryStringParameters".into(), json!(query));
    }
    if !params.is_empty() {
        let params: BTreeMap<_, _> = params.iter().cloned().collect();
        fields.insert("pathParameters".into(), json!(params));
    }
    if !body.is_empty() {
        let (body, encoded) = match std::str::from_utf8(body) {
            Ok(text) => (text.to_string(), false),
            Err(_) => (base64::encode(body), true),
        };
        fields.insert("body".into(), json!(body));
        fields.insert("isBase64Encoded".into(), json!(encoded));
    }
    event
}

/// Format 2.0 joins repeated headers and query parameters with commas.
fn push_joined(map: &mut BTreeMap<String, String>, key: String, value: &str) {
    map.entry(key)
        .and_modify(|joined| {
            joined.push(',');
            joined.push_str(value);
        })
        .or_insert_with(|| value.to_string());
}

/// Turns a function's reply into the HTTP response API Gateway (format 2.0) would send.
fn translate_reply(payload: &[u8]) -> Response {
    let Ok(reply) = serde_json::from_slice::<Value>(payload) else {
        return internal_error();
    };
    match reply
        .as_object()
        .filter(|fields| fields.contains_key("statusCode"))
    {
        Some(fields) => structured_reply(fields).unwrap_or_else(internal_error),
        // Valid JSON without a statusCode: format 2.0 infers a 200 with it as the JSON body.
        None => (
            [(header::CONTENT_TYPE, "application/json")],
            payload.to_vec(),
        )
            .into_response(),
    }
}

/// `None` when the reply is malformed, which API Gateway answers with a 500.
fn structured_reply(fields: &Map<String, Value>) -> Option<Response> {
    let status = fields.get("statusCode")?.as_u64()?;
    let mut response = Response::builder().status(u16::try_from(status).ok()?);
    // Containers of the wrong type are ignored; a value that cannot be a header is not.
    let object = |name| {
        fields
            .get(name)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    };
    for (name, value) in object("headers") {
        response = response.header(name.as_str(), value.as_str()?);
    }
    for (name, values) in object("multiValueHeaders") {
        for value in values.as_array().into_iter().flatten() {
            response = response.header(name.as_str(), value.as_str()?);
        }
    }
    for cookie in fields
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        response = response.header(header::SET_COOKIE, cookie.as_str()?);
    }
    let encoded = fields
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match fields.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(body)) if encoded => base64::decode(body).ok()?,
        Some(Value::String(body)) => body.clone().into_bytes(),
        Some(_) => return None,
    };
    response.body(Body::from(body)).ok()
}

/// API Gateway's own error responses: `{"message": "..."}`.
fn gateway_error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn internal_error() -> Response {
    gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A UUID-shaped id: unique in this process (counter), and across runs (start time).
fn fresh_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:08x}-{:04x}-4000-8000-{count:012x}",
        (nanos >> 32) as u32,
        (nanos >> 16) as u16
    )
}

fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The format of `requestContext.time`, e.g. "04/Mar/2020:19:03:58 +0000" (UTC).
fn format_clf_time(epoch_secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // The civil date from a day count (Howard Hinnant's algorithm), to avoid a date crate.
    let z = (epoch_secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (
        epoch_secs / 3600 % 24,
        epoch_secs / 60 % 60,
        epoch_secs % 60,
    );
    let month = MONTHS[(month - 1) as usize];
    format!("{day:02}/{month}/{year}:{hour:02}:{minute:02}:{second:02} +0000")
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let hex = |byte: &u8| char::from(*byte).to_digit(16).map(|digit| digit as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).and_then(hex),
            bytes.get(i + 2).and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (byte, ..) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, function: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function: function.into(),
        }
    }

    async fn body_text(response: Response<Body>) -> String {
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8 body")
    }

    #[test]
    fn parses_the_router_table() {
        let manifest = r#"
            [workspace.metadata.lambda.watch.router]
            "/api/{serviceId}/nativesso/logout" = [{ method = "post", function = "nativesso-logout" }]
            "/health" = "health"
        "#;
        let routes = parse_routes(manifest).expect("routes");
        assert!(routes.contains(&route(
            "POST",
            "/api/{serviceId}/nativesso/logout",
            "nativesso-logout"
        )));
        assert!(routes.contains(&route("ANY", "/health", "health")));
        assert!(parse_routes("[workspace]").is_err());
    }

    #[test]
    fn matches_routes_like_api_gateway() {
        let routes = [
            route("POST", "/api/{serviceId}/logout", "logout"),
            route("ANY", "/api/{serviceId}/{action}", "any"),
            route("GET", "/api/special/logout", "special"),
        ];
        let (found, params) = match_route(&routes, "POST", "/api/a b/logout").expect("match");
        assert_eq!(found.function, "logout");
        assert_eq!(params, vec![("serviceId".to_string(), "a b".to_string())]);
        assert_eq!(
            match_route(&routes, "DELETE", "/api/1/logout")
                .expect("any")
                .0
                .function,
            "any"
        );
        assert_eq!(
            match_route(&routes, "GET", "/api/special/logout")
                .expect("literal")
                .0
                .function,
            "special"
        );
        assert!(match_route(&routes, "POST", "/api//logout").is_none());
        assert!(match_route(&routes, "POST", "/api/1/logout/more").is_none());
    }

    #[test]
    fn builds_a_v2_event() {
        let request = Request::post("/api/7%2e/logout?a=1&a=2&b=%41")
            .header("Authorization", "Bearer t")
            .header("X-Many", "one")
            .header("X-Many", "two")
            .header("Cookie", "c1=x; c2=y")
            .header("User-Agent", "test")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let route = route("POST", "/api/{serviceId}/logout", "logout");
        let params = [("serviceId".to_string(), "7".to_string())];
        let now = UNIX_EPOCH + Duration::from_millis(1_583_348_638_390);
        let event = build_event(&route, &params, &parts, b"{\"k\":1}", "req-1", now);
        assert_eq!(event["routeKey"], "POST /api/{serviceId}/logout");
        assert_eq!(event["rawPath"], "/api/7./logout");
        assert_eq!(event["requestContext"]["http"]["path"], "/api/7./logout");
        assert_eq!(event["rawQueryString"], "a=1&a=2&b=%41");
        assert_eq!(
            event["queryStringParameters"],
            json!({ "a": "1,2", "b": "A" })
        );
        assert_eq!(event["pathParameters"], json!({ "serviceId": "7" }));
        assert_eq!(event["headers"]["authorization"], "Bearer t");
        assert_eq!(event["headers"]["x-many"], "one,two");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["c1=x", "c2=y"]));
        assert_eq!(event["requestContext"]["http"]["userAgent"], "test");
        assert_eq!(
            event["requestContext"]["time"],
            "04/Mar/2020:19:03:58 +0000"
        );
        assert_eq!(event["requestContext"]["timeEpoch"], 1_583_348_638_390u64);
        assert_eq!(event["body"], "{\"k\":1}");
        assert_eq!(event["isBase64Encoded"], false);

        let (parts, ()) = Request::get("/x").body(()).expect("request").into_parts();
        let event = build_event(&route, &[], &parts, &[0xff, 0], "req-2", now);
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
        assert!(event.get("pathParameters").is_none() && event.get("cookies").is_none());
        let event = build_event(&route, &[], &parts, b"", "req-3", now);
        assert!(event.get("body").is_none() && event.get("queryStringParameters").is_none());
    }

    #[tokio::test]
    async fn translates_structured_replies() {
        let reply = json!({
            "statusCode": 401,
            "headers": { "content-type": "application/json" },
            "multiValueHeaders": { "x-multi": ["a", "b"] },
            "cookies": ["s=1; Path=/", "t=2"],
            "body": "eyJvayI6ZmFsc2V9",
            "isBase64Encoded": true,
        });
        let response = translate_reply(reply.to_string().as_bytes());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let headers = response.headers();
        assert_eq!(headers.get_all(header::SET_COOKIE).iter().count(), 2);
        assert_eq!(headers.get_all("x-multi").iter().count(), 2);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(body_text(response).await, r#"{"ok":false}"#);
    }

    #[tokio::test]
    async fn infers_or_rejects_other_replies() {
        let inferred = translate_reply(br#"{"hello":"world"}"#);
        assert_eq!(inferred.status(), StatusCode::OK);
        assert_eq!(inferred.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(body_text(inferred).await, r#"{"hello":"world"}"#);

        let internal = r#"{"message":"Internal Server Error"}"#;
        for bad in [
            &b"not json"[..],
            br#"{"statusCode":"x"}"#,
            br#"{"statusCode":200,"body":"%","isBase64Encoded":true}"#,
        ] {
            let response = translate_reply(bad);
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body_text(response).await, internal);
        }
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b%2Fc%e2%82%ac"), "a b/c\u{20ac}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%+1%4"), "%zz%+1%4");
        assert_eq!(format_clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(format_clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
    }

    #[tokio::test]
    async fn queues_invocations_and_fails_them_when_the_function_dies() {
        let function = Function {
            name: "f".into(),
            logs: Arc::default(),
            state: Mutex::default(),
            ready: Notify::new(),
        };
        let first = function.invoke(Bytes::from_static(b"1")).expect("queued");
        let second = function.invoke(Bytes::from_static(b"2")).expect("queued");
        let (id, event) = function
            .invocations()
            .queued
            .pop_front()
            .expect("first event");
        assert_eq!(event, "1");
        assert!(function.resolve(&id, Outcome::Response(Bytes::from_static(b"{}"))));
        assert!(
            !function.resolve(&id, Outcome::Error),
            "an id resolves once"
        );
        assert!(matches!(first.await, Ok(Outcome::Response(_))));
        function.fail();
        assert!(matches!(second.await, Ok(Outcome::Error)));
        assert!(function.invoke(Bytes::new()).is_none());
    }
}
