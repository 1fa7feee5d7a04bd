//! `signoff-stream-runner`, Lambda's DynamoDB Streams event source mapping for the local
//! stack, against the test database's real stream: what it delivers (Lambda's event, in
//! order, filtered on `pk`), and how it retries a failed invocation, resends a batch from
//! the first item a function reports failed, skips a batch that keeps failing, starts at
//! LATEST, and passes on the identity of a TTL deletion. The function is a stand-in here:
//! a small server playing the Lambda Invoke API that records every event it gets.
//!
//! Needs the runner binary: `cargo build -p signoff-devdb --bins`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use signoff_tests::db::{client_config, TestDb};
use signoff_tests::paths::binaries_dir;
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinHandle;

const FUNCTION: &str = "stream-consumer";

/// How the stand-in function answers its `n`th invocation (from 0) of `event`: an HTTP
/// status and a JSON body.
type Respond = dyn Fn(usize, &Value) -> (u16, Value) + Send + Sync;

/// One invocation the stand-in function got, and how it answered.
#[derive(Clone, Debug)]
struct Call {
    function: String,
    status: u16,
    answer: Value,
    event: Value,
}

impl Call {
    fn records(&self) -> &[Value] {
        self.event["Records"].as_array().map_or(&[], Vec::as_slice)
    }

    /// Answered 200 with nothing to retry.
    fn succeeded(&self) -> bool {
        self.status == 200
            && self.answer.get("errorType").is_none()
            && self.answer["batchItemFailures"]
                .as_array()
                .is_none_or(Vec::is_empty)
    }
}

/// A server playing the Lambda Invoke API for any function name.
struct FakeFunction {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    server: JoinHandle<()>,
}

struct FakeState {
    calls: Arc<Mutex<Vec<Call>>>,
    respond: Box<Respond>,
}

impl FakeFunction {
    async fn start(
        respond: impl Fn(usize, &Value) -> (u16, Value) + Send + Sync + 'static,
    ) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(FakeState {
            calls: calls.clone(),
            respond: Box::new(respond),
        });
        let router = axum::Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                axum::routing::post(invoked),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, calls, server }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }

    /// Every record of the invocations that succeeded, in the order they came.
    fn delivered(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .filter(|call| call.succeeded())
            .flat_map(|call| call.records().to_vec())
            .collect()
    }
}

impl Drop for FakeFunction {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn invoked(
    State(state): State<Arc<FakeState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> (StatusCode, String) {
    let event: Value = serde_json::from_slice(&body).expect("the runner sends JSON");
    let mut calls = state.calls.lock().expect("calls lock");
    let (status, answer) = (state.respond)(calls.len(), &event);
    calls.push(Call {
        function: name,
        status,
        answer: answer.clone(),
        event,
    });
    (
        StatusCode::from_u16(status).expect("a valid status"),
        answer.to_string(),
    )
}

/// A running `signoff-stream-runner` (killed on drop) and what it has logged.
struct Runner {
    _child: tokio::process::Child,
    log: Arc<Mutex<String>>,
}

impl Runner {
    fn start(env: &[(String, String)], table: &str, invoke_url: &str, extra: &[&str]) -> Self {
        let binary = binaries_dir().join("signoff-stream-runner");
        let mut child = tokio::process::Command::new(&binary)
            .args([
                "--table",
                table,
                "--function",
                FUNCTION,
                "--invoke-url",
                invoke_url,
            ])
            .args(extra)
            .env_remove("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
            .envs(env.iter().cloned())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (run `cargo build -p signoff-devdb --bins` first): {e}",
                    binary.display()
                )
            });
        let log = Arc::new(Mutex::new(String::new()));
        let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("piped")).lines();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self { _child: child, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }
}

/// Waits up to 30 s for `done`, then fails with `what` and the runner's log.
async fn wait_for(what: &str, runner: &Runner, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the runner logged:\n{}",
            runner.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Gives the runner time to deliver anything more it was going to (there must be none).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

async fn stream_arn(client: &aws_sdk_dynamodb::Client, table: &str) -> String {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream")
}

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, item: HashMap<String, Av>) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("PutItem");
}

async fn put_pk(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str) {
    put(
        client,
        table,
        HashMap::from([("pk".to_owned(), Av::S(pk.into()))]),
    )
    .await;
}

fn pk(record: &Value) -> &str {
    record["dynamodb"]["Keys"]["pk"]["S"]
        .as_str()
        .expect("a string pk")
}

fn pks(records: &[Value]) -> Vec<&str> {
    records.iter().map(pk).collect()
}

/// Sequence numbers are decimal strings of 21 to 40 digits.
fn sequence_order(seq: &str) -> (usize, &str) {
    (seq.len(), seq)
}

#[tokio::test]
async fn delivers_inserts_modifies_and_removes_in_order_filtered_on_pk_and_retries() {
    let db = TestDb::start_with_stream().await;
    let client = db.store.client();
    let table = db.store.table_name().to_owned();
    let arn = stream_arn(client, &table).await;
    // The first invocation fails as a crashed function would: the runner must send the
    // same records again.
    let function = FakeFunction::start(|call, _| {
        if call == 0 {
            (500, json!({"Message": "first invocation fails"}))
        } else {
            (200, json!({}))
        }
    })
    .await;
    let runner = Runner::start(
        &db.function_env(),
        &table,
        &function.url,
        &[
            "--filter-pk-prefix",
            "session#",
            "--filter-pk-prefix",
            "grant#",
        ],
    );

    let item = HashMap::from([
        ("pk".to_owned(), Av::S("session#1".into())),
        ("n".to_owned(), Av::N("1".into())),
        ("tags".to_owned(), Av::Ss(vec!["a".into()])),
        ("sizes".to_owned(), Av::Ns(vec!["7".into()])),
        ("raw".to_owned(), Av::B(Blob::new(b"hi".to_vec()))),
        ("raws".to_owned(), Av::Bs(vec![Blob::new(vec![0xff])])),
        ("live".to_owned(), Av::Bool(true)),
        ("gone".to_owned(), Av::Null(true)),
        (
            "nested".to_owned(),
            Av::M(HashMap::from([(
                "list".to_owned(),
                Av::L(vec![Av::S("x".into()), Av::N("2".into())]),
            )])),
        ),
    ]);
    put(client, &table, item).await;
    put_pk(client, &table, "other#1").await;
    client
        .update_item()
        .table_name(&table)
        .key("pk", Av::S("session#1".into()))
        .update_expression("SET n = :n")
        .expression_attribute_values(":n", Av::N("2".into()))
        .send()
        .await
        .expect("UpdateItem");
    client
        .delete_item()
        .table_name(&table)
        .key("pk", Av::S("session#1".into()))
        .send()
        .await
        .expect("DeleteItem");
    client
        .delete_item()
        .table_name(&table)
        .key("pk", Av::S("other#1".into()))
        .send()
        .await
        .expect("DeleteItem");

    wait_for("three records delivered", &runner, || {
        function.delivered().len() >= 3
    })
    .await;
    settle().await;
    let records = function.delivered();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().expect("eventName"))
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"], "{records:#?}");
    assert_eq!(pks(&records), ["session#1"; 3], "other#1 is filtered out");

    for record in &records {
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["eventVersion"], "1.1");
        assert_eq!(record["eventSourceARN"], arn.as_str());
        assert!(record["eventID"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(record["awsRegion"].is_string());
        assert!(record.get("userIdentity").is_none(), "{record}");
        let stream = &record["dynamodb"];
        assert_eq!(stream["Keys"], json!({"pk": {"S": "session#1"}}));
        assert_eq!(stream["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert!(
            stream["ApproximateCreationDateTime"].is_number(),
            "{stream}"
        );
        assert!(stream["SizeBytes"].as_i64().is_some_and(|n| n > 0));
        assert!(stream["SequenceNumber"].is_string());
    }
    let seqs: Vec<&str> = records
        .iter()
        .map(|r| r["dynamodb"]["SequenceNumber"].as_str().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2)
            .all(|w| sequence_order(w[0]) < sequence_order(w[1])),
        "{seqs:?}"
    );

    let inserted = json!({
        "pk": {"S": "session#1"},
        "n": {"N": "1"},
        "tags": {"SS": ["a"]},
        "sizes": {"NS": ["7"]},
        "raw": {"B": "aGk="},
        "raws": {"BS": ["/w=="]},
        "live": {"BOOL": true},
        "gone": {"NULL": true},
        "nested": {"M": {"list": {"L": [{"S": "x"}, {"N": "2"}]}}},
    });
    let (insert, modify, remove) = (
        &records[0]["dynamodb"],
        &records[1]["dynamodb"],
        &records[2]["dynamodb"],
    );
    assert_eq!(insert["NewImage"], inserted);
    assert!(insert.get("OldImage").is_none(), "{insert}");
    assert_eq!(modify["OldImage"], inserted);
    assert_eq!(modify["NewImage"]["n"], json!({"N": "2"}));
    assert_eq!(modify["NewImage"]["nested"], inserted["nested"]);
    assert_eq!(remove["OldImage"]["n"], json!({"N": "2"}));
    assert!(remove.get("NewImage").is_none(), "{remove}");

    // The failed first invocation was sent again, the same records and in the same order.
    let calls = function.calls();
    assert_eq!(calls[0].status, 500);
    assert_eq!(calls[1].event, calls[0].event);
    assert!(calls.iter().all(|call| call.function == FUNCTION));
    let log = runner.log();
    assert!(
        log.contains(&format!(
            "signoff-stream-runner: {arn} -> {}/2015-03-31/functions/{FUNCTION}/invocations",
            function.url
        )),
        "{log}"
    );
    assert!(log.contains("invoke answered 500"), "{log}");
}

#[tokio::test]
async fn resends_a_batch_from_the_earliest_record_the_function_reports_failed() {
    let db = TestDb::start_with_stream().await;
    let client = db.store.client();
    let table = db.store.table_name().to_owned();
    // Written before the runner starts, so that its first read gets all three.
    for pk in ["session#1", "session#2", "session#3"] {
        put_pk(client, &table, pk).await;
    }
    // The first answer reports the 3rd and the 2nd record failed (in that order): the
    // runner must go on from the 2nd, the earliest of them.
    let function = FakeFunction::start(|call, event| {
        if call > 0 {
            return (200, json!({"batchItemFailures": []}));
        }
        let seq = |i: usize| event["Records"][i]["dynamodb"]["SequenceNumber"].clone();
        (
            200,
            json!({"batchItemFailures": [{"itemIdentifier": seq(2)}, {"itemIdentifier": seq(1)}]}),
        )
    })
    .await;
    let runner = Runner::start(&db.function_env(), &table, &function.url, &[]);

    wait_for("the resent part of the batch", &runner, || {
        function.calls().len() >= 2
    })
    .await;
    settle().await;
    let calls = function.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(
        pks(calls[0].records()),
        ["session#1", "session#2", "session#3"]
    );
    assert_eq!(calls[1].records(), &calls[0].records()[1..]);
    assert!(runner.log().contains("reported record"), "{}", runner.log());
}

#[tokio::test]
async fn skips_a_batch_that_still_fails_after_the_last_retry() {
    let db = TestDb::start_with_stream().await;
    let client = db.store.client();
    let table = db.store.table_name().to_owned();
    put_pk(client, &table, "session#poison").await;
    // A function error as Lambda's Invoke API reports it: 200 with an errorType.
    let function = FakeFunction::start(|_, event| {
        if pks(event["Records"].as_array().expect("Records")).contains(&"session#poison") {
            (
                200,
                json!({"errorType": "Poison", "errorMessage": "cannot handle it"}),
            )
        } else {
            (200, json!({}))
        }
    })
    .await;
    let runner = Runner::start(
        &db.function_env(),
        &table,
        &function.url,
        &["--max-retries", "2"],
    );

    wait_for("the first invocation and two retries", &runner, || {
        function.calls().len() >= 3
    })
    .await;
    put_pk(client, &table, "session#after").await;
    wait_for("the next record", &runner, || function.calls().len() >= 4).await;
    settle().await;
    let calls = function.calls();
    assert_eq!(calls.len(), 4, "{calls:#?}");
    for call in &calls[..3] {
        assert_eq!(pks(call.records()), ["session#poison"]);
    }
    assert_eq!(pks(calls[3].records()), ["session#after"]);
    let log = runner.log();
    assert_eq!(log.matches("the function failed").count(), 3, "{log}");
    assert!(log.contains("SKIPPING 1 record(s)"), "{log}");
}

#[tokio::test]
async fn starting_at_latest_leaves_out_what_was_written_before() {
    let db = TestDb::start_with_stream().await;
    let client = db.store.client();
    let table = db.store.table_name().to_owned();
    put_pk(client, &table, "session#before").await;
    let function = FakeFunction::start(|_, _| (200, json!({}))).await;
    let runner = Runner::start(
        &db.function_env(),
        &table,
        &function.url,
        &["--starting-position", "latest"],
    );
    // When the runner has its iterator is not visible from here: write until a record
    // arrives.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut written = 0;
    while function.delivered().is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing delivered:\n{}",
            runner.log()
        );
        put_pk(client, &table, &format!("session#after-{written}")).await;
        written += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    settle().await;
    let delivered = function.delivered();
    assert!(
        pks(&delivered)
            .iter()
            .all(|pk| pk.starts_with("session#after-")),
        "{delivered:#?}"
    );
}

/// dynoxide deletes TTL-expired items only when swept (the local stack's `signoff-devdb`
/// does it on a timer), so this test runs a dynoxide of its own and sweeps it.
#[tokio::test]
async fn a_ttl_deletion_carries_dynamodbs_service_identity() {
    let database = dynoxide::Database::memory().expect("an in-memory database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(dynoxide::server::serve_with_shutdown(
        listener,
        database.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = aws_sdk_dynamodb::Client::from_conf(client_config(&endpoint).build());
    let table = "ttl-stream";
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream specification"),
        )
        .send()
        .await
        .expect("CreateTable");
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("TTL specification"),
        )
        .send()
        .await
        .expect("UpdateTimeToLive");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    for (pk, expires_at) in [("session#expired", now - 60), ("session#live", now + 3600)] {
        let item = HashMap::from([
            ("pk".to_owned(), Av::S(pk.into())),
            ("expires_at".to_owned(), Av::N(expires_at.to_string())),
        ]);
        put(&client, table, item).await;
    }
    let function = FakeFunction::start(|_, _| (200, json!({}))).await;
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let runner = Runner::start(&env, table, &function.url, &[]);
    let swept = tokio::task::spawn_blocking(move || database.sweep_ttl())
        .await
        .expect("the sweep runs")
        .expect("the sweep succeeds");
    assert_eq!(swept, 1);

    wait_for("the TTL deletion", &runner, || {
        function.delivered().len() >= 3
    })
    .await;
    let records = function.delivered();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().expect("eventName"))
        .collect();
    assert_eq!(names, ["INSERT", "INSERT", "REMOVE"]);
    let removed = &records[2];
    assert_eq!(pk(removed), "session#expired");
    assert_eq!(
        removed["userIdentity"],
        json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    );
    assert_eq!(
        removed["dynamodb"]["OldImage"]["expires_at"],
        json!({"N": (now - 60).to_string()})
    );
    assert!(records[..2].iter().all(|r| r.get("userIdentity").is_none()));
}
