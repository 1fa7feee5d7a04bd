//! A local stand-in for API Gateway (HTTP API, payload format 2.0) and the Lambda Runtime
//! API, so end-to-end tests drive the real compiled function binaries over HTTP the way an
//! API Gateway client would: like `sam local start-api`, without Docker.
//!
//! Each function binary runs as a child process polling its own Runtime API server
//! (`runtime_api.rs`). The front server turns a request into a v2 event (`event.rs`, the
//! builder in-process tests use too), queues it for the function that owns the route, and
//! turns the reply into an HTTP response. Failures get API Gateway's own status
//! codes and bodies, because tests assert that bad input never causes a 5xx.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use crate::event::{match_route, HttpApiEvent};
/// API Gateway's maximum integration timeout, also given to the function as its deadline.
use crate::runtime_api::INVOCATION_TIMEOUT as INTEGRATION_TIMEOUT;
use crate::runtime_api::{serve, RuntimeApi};

use aws_smithy_types::base64;
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;

/// API Gateway's request payload limit.
const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;
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

impl Route {
    pub fn new(method: &str, path: &str, function: &str) -> Self {
        Route {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            function: function.to_owned(),
        }
    }
}

/// Reads routes from the workspace Cargo.toml: table [workspace.metadata.lambda.watch.router], entries like
/// "/api/{serviceId}/nativesso/logout" = [{ method = "POST", function = "nativesso-logout" }]
/// (a plain string value "path" = "bin" means all methods: use method "ANY").
pub fn routes_from_manifest(manifest: &Path) -> Result<Vec<Route>, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    parse_routes(&text).map_err(|e| format!("{}: {e}", manifest.display()))
}

/// The workspace's router table, read once.
pub fn router_table() -> &'static [Route] {
    static TABLE: std::sync::OnceLock<Vec<Route>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        routes_from_manifest(&crate::paths::workspace().join("Cargo.toml"))
            .expect("the router table in Cargo.toml parses")
    })
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
        let route = |method: &str, function: &str| Route::new(method, path, function);
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

/// Written in a value of the functions' environment, stands for the gateway's own URL
/// (`http://127.0.0.1:PORT`): what a function must know of its public address.
pub const GATEWAY_URL: &str = "{gateway}";

/// A running gateway: the front HTTP server, plus one Runtime API server and one child
/// process per function. Children are killed on [`Gateway::shutdown`] or drop.
pub struct Gateway {
    base_url: String,
    logs: Arc<Mutex<String>>,
    /// Every started function, routed or not, for [`Gateway::invoke`].
    functions: HashMap<String, Arc<RuntimeApi>>,
    /// The Lambda Invoke API's URL, for an event source's poller (`signoff-queue-runner`).
    invoke_url: String,
    /// The servers, and per child the task that owns and watches it: aborting that task
    /// drops the child, which kills it (`kill_on_drop`).
    tasks: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Every function of the router table in Cargo.toml against `db`, serving `tenant` as
    /// the OAuth tenant and signing with `key_alias` in `kms` (as `scripts/dev` runs them),
    /// with `extra` variables on top.
    pub async fn start_signing(
        db: &crate::db::TestDb,
        kms: &crate::kms::TestKms,
        key_alias: &str,
        tenant: &str,
        extra: &[(&str, &str)],
    ) -> Gateway {
        let mut env = db.function_env();
        env.extend(
            [
                ("SIGNOFF_REVOCATION_TENANT", tenant),
                ("SIGNOFF_SIGNING_KEY_ID", key_alias),
                ("AWS_ENDPOINT_URL_KMS", kms.endpoint.as_str()),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let routes = router_table().to_vec();
        Gateway::start(routes, &crate::paths::binaries_dir(), &env)
            .await
            .expect("the function binaries start (cargo build --workspace --bins)")
    }

    /// Starts each routed function binary, `binaries_dir/<function>`, against a Runtime API
    /// server of its own, with the environment Lambda sets plus `env` on top of this
    /// process's; then the front server. Every server listens on a free 127.0.0.1 port.
    pub async fn start(
        routes: Vec<Route>,
        binaries_dir: &Path,
        env: &[(String, String)],
    ) -> Result<Gateway, String> {
        Self::start_with_unrouted(routes, &[], binaries_dir, env).await
    }

    /// [`Gateway::start`], also starting `unrouted` functions (the scheduled housekeeping),
    /// which only [`Gateway::invoke`] reaches.
    pub async fn start_with_unrouted(
        routes: Vec<Route>,
        unrouted: &[&str],
        binaries_dir: &Path,
        env: &[(String, String)],
    ) -> Result<Gateway, String> {
        Self::start_with_sandboxes(routes, unrouted, 1, binaries_dir, env).await
    }

    /// [`Gateway::start_with_unrouted`], running `sandboxes` processes of each unrouted
    /// function against its one Runtime API, as Lambda runs concurrent invocations in
    /// separate sandboxes: one long invocation holds back no other.
    pub async fn start_with_sandboxes(
        routes: Vec<Route>,
        unrouted: &[&str],
        sandboxes: usize,
        binaries_dir: &Path,
        env: &[(String, String)],
    ) -> Result<Gateway, String> {
        let names: BTreeSet<String> = routes
            .iter()
            .map(|r| r.function.clone())
            .chain(unrouted.iter().map(|n| n.to_string()))
            .collect();
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
        // The front server's port is taken first, so that the functions can be told their
        // own public URL: [`GATEWAY_URL`] in a value of `env` becomes it.
        let front_listener = crate::runtime_api::free_listener().await?;
        let base_url = format!(
            "http://{}",
            front_listener.local_addr().map_err(|e| e.to_string())?
        );
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.clone(), v.replace(GATEWAY_URL, &base_url)))
            .collect();
        let env = env.as_slice();
        // Filled in place, so that an early return drops it and so stops what has started.
        let mut gateway = Gateway {
            base_url: String::new(),
            invoke_url: String::new(),
            logs: Arc::default(),
            functions: HashMap::new(),
            tasks: Vec::new(),
        };
        let mut functions = HashMap::new();
        for name in names {
            let function = Arc::new(RuntimeApi::new(&name, gateway.logs.clone()));
            let (runtime_api, server) = function.serve().await?;
            gateway.tasks.push(server);
            let binary = binaries_dir.join(&name);
            let copies = if unrouted.contains(&name.as_str()) {
                sandboxes.max(1)
            } else {
                1
            };
            for _ in 0..copies {
                let watcher = spawn_function(function.clone(), &binary, runtime_api, env)?;
                gateway.tasks.push(watcher);
            }
            functions.insert(name, function);
        }
        gateway.functions = functions.clone();
        let invoke_api = Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                axum::routing::post(invoke_request),
            )
            .with_state(Arc::new(functions.clone()));
        let (addr, server) = serve(invoke_api).await?;
        gateway.tasks.push(server);
        gateway.invoke_url = format!("http://{addr}");
        let front = Arc::new(Front { routes, functions });
        let (_, server) = crate::runtime_api::serve_on(
            front_listener,
            Router::new().fallback(front_request).with_state(front),
        )?;
        gateway.tasks.push(server);
        gateway.base_url = base_url;
        Ok(gateway)
    }

    /// The front server's URL, e.g. "http://127.0.0.1:PORT".
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`) of every
    /// started function, as `cargo lambda watch` serves it: what an event source's poller
    /// calls.
    pub fn invoke_url(&self) -> String {
        self.invoke_url.clone()
    }

    /// Everything the function processes printed so far (stdout and stderr), each line
    /// prefixed with `[<function>] `, plus the gateway's notes on init errors and crashes.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("log buffer poisoned").clone()
    }

    /// Invokes `function` with `event` directly, as EventBridge or `aws lambda invoke`
    /// would, and returns its JSON answer, or the error it reported.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, String> {
        let target = self
            .functions
            .get(function)
            .ok_or_else(|| format!("{function} was not started"))?;
        let reply = target
            .invoke(event.to_string().into())
            .ok_or_else(|| format!("{function} has failed"))?;
        match tokio::time::timeout(INTEGRATION_TIMEOUT, reply).await {
            Ok(Ok(payload)) => serde_json::from_slice(&payload).map_err(|e| e.to_string()),
            Ok(Err(_)) => Err(format!("{function} reported an error (see the logs)")),
            Err(_) => Err(format!("{function} did not answer in time")),
        }
    }

    /// Stops the servers and kills the function processes, returning once every process
    /// has been sent its kill signal.
    pub async fn shutdown(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn spawn_function(
    function: Arc<RuntimeApi>,
    binary: &Path,
    runtime_api: SocketAddr,
    env: &[(String, String)],
) -> Result<JoinHandle<()>, String> {
    let name = function.name();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[$LATEST]{name}"),
        )
        .envs(env.iter().cloned())
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
    Ok(tokio::spawn(async move {
        // Lambda would start a fresh environment; for tests, failing fast says more.
        match child.wait().await {
            Ok(status) => function.log(&format!("process exited ({status})")),
            Err(e) => function.log(&format!("process lost: {e}")),
        }
        function.fail();
    }))
}

/// Copies a child's output into the logs line by line, as it comes.
fn capture(pipe: impl AsyncRead + Unpin + Send + 'static, function: Arc<RuntimeApi>) {
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

/// The Lambda Invoke API: the function's answer as the body, or Lambda's error shape with
/// `X-Amz-Function-Error` when it reported an error or died.
async fn invoke_request(
    State(functions): State<Arc<HashMap<String, Arc<RuntimeApi>>>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(function) = functions.get(&name) else {
        return (StatusCode::NOT_FOUND, "no such function").into_response();
    };
    let failed = || {
        let error = json!({"errorType": "Unhandled", "errorMessage": "the function failed"});
        ([("x-amz-function-error", "Unhandled")], error.to_string()).into_response()
    };
    let Some(reply) = function.invoke(body) else {
        return failed();
    };
    match tokio::time::timeout(INTEGRATION_TIMEOUT * 2, reply).await {
        Ok(Ok(payload)) => payload.to_vec().into_response(),
        _ => failed(),
    }
}

struct Front {
    routes: Vec<Route>,
    functions: HashMap<String, Arc<RuntimeApi>>,
}

async fn front_request(State(front): State<Arc<Front>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |t| t.as_str());
    let mut event = HttpApiEvent::new(parts.method.as_str(), target);
    for (name, value) in &parts.headers {
        event = event.header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    // HTTP APIs route by the path and hand over the decoded parameters of the route.
    if match_route(&front.routes, parts.method.as_str(), parts.uri.path()).is_none() {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    }
    // Also reached when the client hangs up mid-body, and then nobody reads the answer.
    let Ok(body) = to_bytes(body, MAX_REQUEST_BODY).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let (Some(route), event) = event.body(body.to_vec()).routed_by(&front.routes) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // Every routed function was started, so indexing cannot fail.
    let Some(reply) = front.functions[&route.function].invoke(event.to_string().into()) else {
        return internal_error();
    };
    match tokio::time::timeout(INTEGRATION_TIMEOUT, reply).await {
        Ok(Ok(payload)) => translate_reply(&payload).unwrap_or_else(internal_error),
        // The function reported an error, or died.
        Ok(Err(_)) => internal_error(),
        // The invocation still runs to its end, as it does in Lambda.
        Err(_) => gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    }
}

/// The HTTP response API Gateway (format 2.0) makes of a function's reply; `None` when the
/// reply is malformed, which API Gateway answers with a 500.
fn translate_reply(payload: &[u8]) -> Option<Response> {
    let reply: Value = serde_json::from_slice(payload).ok()?;
    let Some(fields) = reply.as_object().filter(|f| f.contains_key("statusCode")) else {
        // Valid JSON without a statusCode: format 2.0 infers a 200 with it as the JSON body.
        let json = [(header::CONTENT_TYPE, "application/json")];
        return Some((json, payload.to_vec()).into_response());
    };
    let status = u16::try_from(fields.get("statusCode")?.as_u64()?).ok()?;
    let mut response = Response::builder().status(status);
    // Containers of the wrong type are ignored; a value that cannot be a header is not.
    let headers = fields.get("headers").and_then(Value::as_object);
    for (name, value) in headers.into_iter().flatten() {
        response = response.header(name.as_str(), value.as_str()?);
    }
    let cookies = fields.get("cookies").and_then(Value::as_array);
    for cookie in cookies.into_iter().flatten() {
        response = response.header(header::SET_COOKIE, cookie.as_str()?);
    }
    let body = match (fields.get("body"), fields.get("isBase64Encoded")) {
        (None | Some(Value::Null), _) => Vec::new(),
        (Some(Value::String(body)), Some(Value::Bool(true))) => base64::decode(body).ok()?,
        (Some(Value::String(body)), _) => body.clone().into_bytes(),
        _ => return None,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(routes.contains(&Route::new(
            "POST",
            "/api/{serviceId}/nativesso/logout",
            "nativesso-logout"
        )));
        assert!(routes.contains(&Route::new("ANY", "/health", "health")));
        assert!(parse_routes("[workspace]").is_err());
    }

    #[tokio::test]
    async fn translates_structured_replies() {
        let reply = json!({
            "statusCode": 401,
            "headers": { "content-type": "application/json" },
            "cookies": ["s=1; Path=/", "t=2"],
            "body": "eyJvayI6ZmFsc2V9",
            "isBase64Encoded": true,
        });
        let response = translate_reply(reply.to_string().as_bytes()).expect("well formed");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let headers = response.headers();
        assert_eq!(headers.get_all(header::SET_COOKIE).iter().count(), 2);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(body_text(response).await, r#"{"ok":false}"#);
    }

    #[tokio::test]
    async fn infers_or_rejects_other_replies() {
        let inferred = translate_reply(br#"{"hello":"world"}"#).expect("inferred");
        assert_eq!(inferred.status(), StatusCode::OK);
        assert_eq!(inferred.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(body_text(inferred).await, r#"{"hello":"world"}"#);

        for bad in [
            &b"not json"[..],
            br#"{"statusCode":"x"}"#,
            br#"{"statusCode":200,"body":"%","isBase64Encoded":true}"#,
            br#"{"statusCode":200,"headers":{"x":1}}"#,
        ] {
            assert!(
                translate_reply(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
