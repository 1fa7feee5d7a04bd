//! A fresh DynamoDB-compatible database per test, reached with the real
//! `aws-sdk-dynamodb` client over HTTP.
//!
//! By default each test starts an embedded dynoxide server on 127.0.0.1:0 with its own
//! in-memory database. When `AWS_ENDPOINT_URL_DYNAMODB` (the SDK's standard variable)
//! points at a local server, such as AWS's DynamoDB Local, the same tests run there
//! instead, each in a table of its own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::operation::batch_execute_statement::BatchExecuteStatementOutput;
use aws_sdk_dynamodb::types::{
    BatchStatementError, BatchStatementErrorCodeEnum, BatchStatementResponse,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;
use signoff_store::{Config, Store};

pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_DYNAMODB";

/// A database for one test. Dropping it stops the embedded server.
pub struct TestDb {
    pub store: Store,
    /// The HTTP endpoint, for processes (the function binaries) that should use it too.
    pub endpoint: String,
    pub requests: RequestCounter,
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestDb {
    /// A fresh database holding an empty Signoff table, without its stream (the
    /// emulators make every write several times slower recording one).
    pub async fn start() -> Self {
        Self::start_with(|_| {}, None).await
    }

    /// [`TestDb::start`], the table with its stream, as deployed: for the tests that read
    /// it (back-channel logout delivery).
    pub async fn start_with_stream() -> Self {
        Self::start_configured(|_| {}, None, signoff_store::table::Stream::On).await
    }

    /// Like [`TestDb::start`], with the store's configuration adjusted by `tune` and,
    /// optionally, a fault injector ([`UnprocessedInjector`], [`IndexLagInjector`]).
    pub async fn start_with(
        tune: impl FnOnce(&mut Config),
        faults: Option<SharedInterceptor>,
    ) -> Self {
        Self::start_configured(tune, faults, signoff_store::table::Stream::Off).await
    }

    async fn start_configured(
        tune: impl FnOnce(&mut Config),
        faults: Option<SharedInterceptor>,
        stream: signoff_store::table::Stream,
    ) -> Self {
        let (endpoint, stop, table) = match external_endpoint() {
            Some(endpoint) => (endpoint, None, unique_table_name()),
            None => {
                let (endpoint, stop) = start_dynoxide().await;
                (endpoint, Some(stop), "signoff".to_owned())
            }
        };
        let requests = RequestCounter::default();
        let mut builder = client_config(&endpoint).interceptor(requests.clone());
        if let Some(faults) = faults {
            builder.push_interceptor(faults);
        }
        let client = Client::from_conf(builder.build());
        signoff_store::table::create_table_with(&client, &table, stream)
            .await
            .expect("the test table can be created");
        let mut config = Config::for_table(table);
        tune(&mut config);
        requests.reset();
        Self {
            store: Store::new(client, config),
            endpoint,
            requests,
            _stop: stop,
        }
    }

    /// A fresh database whose client reaches it through [`latency_proxy`] with `one_way`
    /// delay in each direction (for benchmarks).
    pub async fn start_with_latency(one_way: std::time::Duration) -> Self {
        let mut db = Self::start().await;
        let proxied = latency_proxy(&db.endpoint, one_way).await;
        let client = Client::from_conf(
            client_config(&proxied)
                .interceptor(db.requests.clone())
                .build(),
        );
        db.store = Store::new(client, db.store.config().clone());
        db
    }

    /// The environment a function binary needs to use this database.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("SIGNOFF_TABLE_NAME", self.store.table_name()),
            (ENDPOINT_VAR, &self.endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            // Introspection reports it; every function may get it.
            ("SIGNOFF_ISSUER", crate::functions::ISSUER),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// SDK configuration for a local endpoint with dummy credentials.
pub fn client_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "signoff-tests",
        ))
        .endpoint_url(endpoint)
}

fn external_endpoint() -> Option<String> {
    let endpoint = std::env::var(ENDPOINT_VAR).ok().filter(|v| !v.is_empty())?;
    // Tests create tables: never let a stray variable aim them at a real account.
    let local = signoff_store::config::is_local_endpoint(&endpoint);
    assert!(local, "{ENDPOINT_VAR}={endpoint} is not a local endpoint; the tests only run against local servers");
    Some(endpoint)
}

fn unique_table_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "signoff-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn start_dynoxide() -> (String, tokio::sync::oneshot::Sender<()>) {
    let db = dynoxide::Database::memory().expect("an in-memory dynoxide database opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = dynoxide::server::serve_with_shutdown(listener, db, async {
            let _ = stopped.await;
        })
        .await;
    });
    (endpoint, stop)
}

/// Counts the HTTP requests an AWS SDK client sends, by operation (retries included).
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl RequestCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().expect("counter lock").clone()
    }

    pub fn get(&self, operation: &str) -> u64 {
        self.snapshot().get(operation).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    pub fn reset(&self) {
        self.0.lock().expect("counter lock").clear();
    }

    /// Counts one request of `operation`.
    pub fn add(&self, operation: &str) {
        *self
            .0
            .lock()
            .expect("counter lock")
            .entry(operation.to_owned())
            .or_default() += 1;
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        *self
            .0
            .lock()
            .expect("counter lock")
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

/// Makes batch writes behave as DynamoDB does under load, which the emulators never do:
/// for the next `times` calls, the second half of each batch is not sent to the server and
/// comes back unprocessed instead: in `UnprocessedItems` for BatchWriteItem, as statements
/// answered `ThrottlingError` for BatchExecuteStatement.
#[derive(Clone, Debug)]
pub struct UnprocessedInjector {
    remaining: Arc<AtomicU32>,
}

impl UnprocessedInjector {
    pub fn new(times: u32) -> Self {
        Self {
            remaining: Arc::new(AtomicU32::new(times)),
        }
    }

    /// Every call leaves half its items unprocessed, forever.
    pub fn always() -> Self {
        Self::new(u32::MAX)
    }

    /// How many injections are left.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }
}

/// The operation an interceptor hook is running for, e.g. "BatchWriteItem".
fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Uses up one of the injections `remaining` holds; false once none are left.
fn take_one(remaining: &AtomicU32) -> bool {
    remaining
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn json_body(body: &SdkBody) -> Result<Value, BoxError> {
    Ok(serde_json::from_slice(
        body.bytes().ok_or("streaming body")?,
    )?)
}

fn replace_request_body(request: &mut HttpRequest, body: Vec<u8>) {
    request
        .headers_mut()
        .insert("content-length", body.len().to_string());
    *request.body_mut() = SdkBody::from(body);
}

fn replace_response_body(response: &mut HttpResponse, body: Vec<u8>) {
    response
        .headers_mut()
        .insert("content-length", body.len().to_string());
    *response.body_mut() = SdkBody::from(body);
}

/// What one batch attempt held back from the server.
#[derive(Debug, Clone)]
enum HeldBack {
    /// BatchWriteItem: (table, requests).
    Writes(String, Vec<Value>),
    /// BatchExecuteStatement: how many statements, all at the end of the batch.
    Statements(usize),
}

impl Storable for HeldBack {
    type Storer = StoreReplace<Self>;
}

impl Intercept for UnprocessedInjector {
    fn name(&self) -> &'static str {
        "UnprocessedInjector"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        if !matches!(
            operation.as_str(),
            "BatchWriteItem" | "BatchExecuteStatement"
        ) || !take_one(&self.remaining)
        {
            return Ok(());
        }
        let request = context.request_mut();
        let mut body = json_body(request.body())?;
        let held = if operation == "BatchWriteItem" {
            let items = body["RequestItems"]
                .as_object_mut()
                .ok_or("no RequestItems")?;
            let (table, writes) = items.iter_mut().next().ok_or("empty RequestItems")?;
            let writes = writes
                .as_array_mut()
                .ok_or("RequestItems entry is not a list")?;
            let keep = writes.len().div_ceil(2);
            HeldBack::Writes(table.clone(), writes.split_off(keep))
        } else {
            let statements = body["Statements"].as_array_mut().ok_or("no Statements")?;
            let keep = statements.len().div_ceil(2);
            HeldBack::Statements(statements.split_off(keep).len())
        };
        cfg.interceptor_state().store_put(held);
        replace_request_body(request, serde_json::to_vec(&body)?);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(held) = cfg.load::<HeldBack>().cloned() else {
            return Ok(());
        };
        cfg.interceptor_state().unset::<HeldBack>();
        if context.response().status().as_u16() != 200 {
            return Ok(());
        }
        let HeldBack::Writes(table, writes) = held else {
            // Statements: the response body is still a stream here; the throttled answers
            // are added to the parsed output (modify_before_attempt_completion).
            cfg.interceptor_state().store_put(held);
            return Ok(());
        };
        if writes.is_empty() {
            return Ok(());
        }
        let body = serde_json::json!({ "UnprocessedItems": { table: writes } });
        replace_response_body(context.response_mut(), serde_json::to_vec(&body)?);
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(HeldBack::Statements(count)) = cfg.load::<HeldBack>().cloned() else {
            return Ok(());
        };
        cfg.interceptor_state().unset::<HeldBack>();
        let Some(Ok(output)) = context.output_or_error_mut() else {
            return Ok(());
        };
        let output = output
            .downcast_mut::<BatchExecuteStatementOutput>()
            .ok_or("not a BatchExecuteStatement output")?;
        let throttled = BatchStatementResponse::builder()
            .error(
                BatchStatementError::builder()
                    .code(BatchStatementErrorCodeEnum::ThrottlingError)
                    .message("Throughput exceeds the current capacity of your table or index.")
                    .build(),
            )
            .build();
        output
            .responses
            .get_or_insert_with(Vec::new)
            .extend(std::iter::repeat_n(throttled, count));
        Ok(())
    }
}

/// Makes the by-session index lag behind the table, as DynamoDB's global secondary indexes
/// do and the emulators' never do: a token written less than `lag` ago is missing from
/// by-session Query results (a filter on its key is added to the request).
#[derive(Clone, Debug)]
pub struct IndexLagInjector {
    lag: std::time::Duration,
    written: Arc<Mutex<Vec<(std::time::Instant, String)>>>,
}

impl IndexLagInjector {
    pub fn new(lag: std::time::Duration) -> Self {
        Self {
            lag,
            written: Arc::default(),
        }
    }

    fn fresh_keys(&self) -> Vec<String> {
        let mut written = self.written.lock().expect("lag lock");
        written.retain(|(at, _)| at.elapsed() < self.lag);
        written.iter().map(|(_, pk)| pk.clone()).collect()
    }
}

/// Token keys a write request puts, held until its response says it committed.
#[derive(Debug, Clone)]
struct PendingWrites(Vec<String>);

impl Storable for PendingWrites {
    type Storer = StoreReplace<Self>;
}

fn token_keys_put(operation: &str, body: &Value) -> Vec<String> {
    let puts: Vec<&Value> = match operation {
        "PutItem" => vec![&body["Item"]],
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|action| &action["Put"]["Item"])
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .filter_map(Value::as_array)
            .flatten()
            .map(|request| &request["PutRequest"]["Item"])
            .collect(),
        _ => Vec::new(),
    };
    puts.into_iter()
        .filter_map(|item| item["pk"]["S"].as_str())
        .filter(|pk| pk.starts_with("token#"))
        .map(str::to_owned)
        .collect()
}

impl Intercept for IndexLagInjector {
    fn name(&self) -> &'static str {
        "IndexLagInjector"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        let request = context.request_mut();
        let mut body = json_body(request.body())?;
        if operation != "Query" {
            cfg.interceptor_state()
                .store_put(PendingWrites(token_keys_put(&operation, &body)));
            return Ok(());
        }
        if body["IndexName"] != signoff_store::table::BY_SESSION.name {
            return Ok(());
        }
        let fresh = self.fresh_keys();
        if fresh.is_empty() {
            return Ok(());
        }
        // IN takes at most 100 values: one clause per hundred.
        let mut clauses = Vec::new();
        for (chunk_no, chunk) in fresh.chunks(100).enumerate() {
            let names: Vec<String> = (0..chunk.len())
                .map(|i| format!(":lag{chunk_no}_{i}"))
                .collect();
            for (name, pk) in names.iter().zip(chunk) {
                body["ExpressionAttributeValues"][name] = serde_json::json!({ "S": pk });
            }
            clauses.push(format!("NOT (#lagpk IN ({}))", names.join(", ")));
        }
        body["ExpressionAttributeNames"]["#lagpk"] = Value::from("pk");
        body["FilterExpression"] = Value::from(clauses.join(" AND "));
        replace_request_body(request, serde_json::to_vec(&body)?);
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.response().status().as_u16() != 200 {
            return Ok(());
        }
        if let Some(PendingWrites(keys)) = cfg.load::<PendingWrites>().cloned() {
            let now = std::time::Instant::now();
            self.written
                .lock()
                .expect("lag lock")
                .extend(keys.into_iter().map(|pk| (now, pk)));
        }
        Ok(())
    }
}

/// Makes `operation` fail as DynamoDB can and the emulators never do: the request never
/// reaches the server, and the answer is the chosen error. Calls before the first `skip`
/// go through; then the next `times` fail.
#[derive(Clone, Debug)]
pub struct ErrorInjector {
    operation: &'static str,
    error: &'static str,
    skip: Arc<AtomicU32>,
    remaining: Arc<AtomicU32>,
}

impl ErrorInjector {
    /// A concurrent transaction holds the item: TransactionCanceledException with a
    /// TransactionConflict reason for TransactWriteItems, TransactionConflictException for
    /// single-item writes.
    pub fn conflict(operation: &'static str, times: u32) -> Self {
        Self::new(operation, "TransactionConflict", 0, times)
    }

    /// After `skip` good calls, `times` calls fail with DynamoDB error `error` (HTTP 400).
    pub fn new(operation: &'static str, error: &'static str, skip: u32, times: u32) -> Self {
        Self {
            operation,
            error,
            skip: Arc::new(AtomicU32::new(skip)),
            remaining: Arc::new(AtomicU32::new(times)),
        }
    }

    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::SeqCst)
    }

    /// From now on: after `skip` good calls, `times` calls fail (for faults meant for a
    /// test's request, not its fixture's writes).
    pub fn arm(&self, skip: u32, times: u32) {
        self.skip.store(skip, Ordering::SeqCst);
        self.remaining.store(times, Ordering::SeqCst);
    }

    fn error_body(&self, actions: usize) -> Value {
        match (self.error, self.operation) {
            ("TransactionConflict", "TransactWriteItems") => {
                let mut reasons = vec![serde_json::json!({"Code": "None"}); actions];
                reasons[actions - 1] = serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"});
                serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                    "CancellationReasons": reasons,
                })
            }
            ("TransactionConflict", _) => serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                "message": "Transaction is ongoing for the item",
            }),
            (error, _) => serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{error}"),
                "message": "injected by the test",
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct Conflicted(usize);

impl Storable for Conflicted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for ErrorInjector {
    fn name(&self) -> &'static str {
        "ErrorInjector"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if operation(cfg) != self.operation || take_one(&self.skip) || !take_one(&self.remaining) {
            return Ok(());
        }
        let request = context.request_mut();
        let actions = json_body(request.body())?["TransactItems"]
            .as_array()
            .map_or(1, Vec::len);
        cfg.interceptor_state().store_put(Conflicted(actions));
        // Send something the server refuses without writing anything.
        let refused = br#"{"TableName":"conflict-injected-no-such-table","Key":{"pk":{"S":"x"}}}"#;
        replace_request_body(request, refused.to_vec());
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Conflicted(actions)) = cfg.load::<Conflicted>().cloned() else {
            return Ok(());
        };
        cfg.interceptor_state().unset::<Conflicted>();
        let response = context.response_mut();
        *response.status_mut() = aws_smithy_runtime_api::http::StatusCode::try_from(400u16)?;
        // The refused request's own error type would otherwise win over the body's.
        response.headers_mut().remove("x-amzn-errortype");
        replace_response_body(response, serde_json::to_vec(&self.error_body(actions))?);
        Ok(())
    }
}

/// A TCP proxy on 127.0.0.1:0 in front of `upstream` that holds every chunk of data for
/// `one_way` in each direction, so a benchmark can see what a real network round trip
/// (in-region DynamoDB: a few milliseconds) does to a design. Returns its endpoint URL.
///
/// The delay runs on plain threads with `std::thread::sleep`, which wakes within tens of
/// microseconds of its deadline. tokio's timer rounds every sleep up to its 1 ms wheel, so
/// "1 ms each way" through it came to about +4.2 ms per round trip instead of +2.
pub async fn latency_proxy(upstream: &str, one_way: std::time::Duration) -> String {
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                continue;
            };
            for (from, to) in [(&client, &server), (&server, &client)] {
                let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                    continue;
                };
                delayed_copy(from, to, one_way);
            }
        }
    });
    endpoint
}

/// Forwards bytes from `from` to `to`, each chunk delivered `delay` after it arrived: pure
/// latency, no bandwidth limit (a chunk does not wait for the previous chunk's delay). One
/// thread reads, one writes; both end when either side closes.
fn delayed_copy(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    delay: std::time::Duration,
) {
    use std::io::{Read, Write};
    use std::time::Instant;
    let _ = from.set_nodelay(true);
    let _ = to.set_nodelay(true);
    let (chunks, delivered) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if chunks
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in delivered {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// An HTTP proxy on 127.0.0.1:0 in front of an AWS JSON-protocol endpoint (DynamoDB, KMS)
/// that counts each request by its operation, the part of `X-Amz-Target` after the dot:
/// what another process (a function binary) sends, which no interceptor of ours sees.
/// Returns its endpoint URL and the counts.
pub async fn counting_proxy(upstream: &str) -> (String, RequestCounter) {
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;

    let counter = RequestCounter::default();
    let upstream = upstream.trim_end_matches('/').to_owned();
    let forward =
        |State((client, upstream, counter)): State<(reqwest::Client, String, RequestCounter)>,
         request: Request| async move {
            let (parts, body) = request.into_parts();
            let operation = parts
                .headers
                .get("x-amz-target")
                .and_then(|t| t.to_str().ok())
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or("(no X-Amz-Target)")
                .to_owned();
            counter.add(&operation);
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut headers = parts.headers.clone();
            headers.remove(axum::http::header::HOST);
            let sent = client
                .request(parts.method, format!("{upstream}{path}"))
                .headers(headers)
                .body(body)
                .send()
                .await;
            let Ok(answer) = sent else {
                return Response::builder()
                    .status(502)
                    .body(Body::from("upstream unreachable"))
                    .expect("a valid response");
            };
            let mut response = Response::builder().status(answer.status());
            // Hop-by-hop and framing headers are the proxy's own: copied, they would frame
            // the body twice and could cost the function its kept-alive connection.
            for (name, value) in answer.headers() {
                if !matches!(
                    name.as_str(),
                    "connection" | "keep-alive" | "transfer-encoding" | "content-length"
                ) {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response.body(Body::from(bytes)).expect("a valid response")
        };
    let router = axum::Router::new().fallback(forward).with_state((
        reqwest::Client::new(),
        upstream,
        counter.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (endpoint, counter)
}

/// Records the IAM action each DynamoDB request needs, as `(action, index)`: a transaction
/// needs one action per item (`dynamodb:PutItem` for a Put, and so on), a query on an index
/// needs the action on that index's ARN. Lets a test hold a function's role to what its code
/// really calls.
#[derive(Clone, Debug, Default)]
pub struct IamActionRecorder(Arc<Mutex<IamActions>>);

/// `(action, index)` pairs, e.g. `("dynamodb:Query", Some("by-session"))`.
pub type IamActions = std::collections::BTreeSet<(String, Option<String>)>;

impl IamActionRecorder {
    pub fn take(&self) -> IamActions {
        std::mem::take(&mut *self.0.lock().expect("recorder lock"))
    }
}

impl Intercept for IamActionRecorder {
    fn name(&self) -> &'static str {
        "IamActionRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation(cfg);
        let body: Value =
            serde_json::from_slice(context.request().body().bytes().unwrap_or(b"{}"))?;
        let mut actions = Vec::new();
        if operation == "TransactWriteItems" {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if item.get(kind).is_some() {
                        actions.push((format!("dynamodb:{action}"), None));
                    }
                }
            }
        } else if operation == "BatchExecuteStatement" {
            // Each statement needs the PartiQL action of its verb (dynamodb:PartiQLDelete
            // for a DELETE); the batch call itself needs none.
            for statement in body["Statements"].as_array().into_iter().flatten() {
                let verb = statement["Statement"]
                    .as_str()
                    .and_then(|text| text.split_whitespace().next())
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let mut verb = verb.chars();
                let verb: String = verb
                    .next()
                    .map(|first| first.to_ascii_uppercase())
                    .into_iter()
                    .chain(verb)
                    .collect();
                actions.push((format!("dynamodb:PartiQL{verb}"), None));
            }
        } else {
            let index = body["IndexName"].as_str().map(str::to_owned);
            actions.push((format!("dynamodb:{operation}"), index));
        }
        self.0.lock().expect("recorder lock").extend(actions);
        Ok(())
    }
}
