//! `signoff-stream-runner`: what Lambda's DynamoDB Streams event source mapping does on
//! AWS, for the local stack. It follows every shard of a table's stream (the local
//! emulator's Streams API, dynoxide's or DynamoDB Local's, through the real SDK) and hands
//! the records to a function as Lambda's DynamoDB Streams event, up to `--batch-size` at a
//! time, through the Lambda Invoke API that `cargo lambda watch` and the tests' gateway
//! serve. As on AWS:
//!
//! - `--filter-pk-prefix` stands in for the template's `FilterCriteria` on the key `pk`
//!   (`{"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"session#"}]}}}}`): a record it filters
//!   out is dropped, never delivered.
//! - The records of one shard go out in order, one batch at a time; different shards are
//!   read concurrently, but a child shard only once its parent is finished (closed and
//!   read to its end).
//! - A batch that failed (the invocation, an `errorType` answer, or items the function
//!   reports with `ReportBatchItemFailures`) is sent again a second later, from the first
//!   record reported failed or else whole. After `--max-retries` retries its records are
//!   skipped with a loud log line: on AWS they would go to the on-failure destination.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::primitives::DateTime;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, Shard, ShardIteratorType};
use base64::Engine as _;
use clap::{Parser, ValueEnum};
use serde_json::{json, Map, Value};
use tokio::task::JoinSet;

/// How often the stream's shards are listed, to find new ones.
const DESCRIBE_EVERY: Duration = Duration::from_secs(1);
/// The pause after a GetRecords call that returned nothing.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// The pause before a failed batch, or a failed call to the Streams API, is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long, and how often, to look for a table or stream that does not exist yet.
const WAIT_FOR_STREAM: Duration = Duration::from_secs(60);
const WAIT_STEP: Duration = Duration::from_millis(500);

#[derive(Parser)]
#[command(name = "signoff-stream-runner", version, about)]
struct Args {
    /// The table whose stream is read. AWS_ENDPOINT_URL_DYNAMODB points the SDK at the
    /// local server, whose Streams API is used too unless AWS_ENDPOINT_URL_DYNAMODB_STREAMS
    /// names another.
    #[arg(long)]
    table: String,
    /// The function the records go to.
    #[arg(long)]
    function: String,
    /// Where the Lambda Invoke API is served, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    invoke_url: String,
    /// Records per invocation at most (the event source mapping's BatchSize).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch_size: u32,
    /// Deliver only records whose key `pk` (a string) starts with this prefix (the
    /// mapping's FilterCriteria); repeatable. Without it every record is delivered.
    #[arg(long = "filter-pk-prefix")]
    filter_pk_prefixes: Vec<String>,
    /// Where reading starts in the shards the stream has when the runner starts (the
    /// mapping's StartingPosition). Shards that appear later are read from their start.
    #[arg(long, value_enum, default_value_t = StartingPosition::TrimHorizon)]
    starting_position: StartingPosition,
    /// Retries of a failed batch before its records are skipped (MaximumRetryAttempts).
    #[arg(long, default_value_t = 10)]
    max_retries: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// What every shard reader shares.
struct Runner {
    streams: aws_sdk_dynamodbstreams::Client,
    http: reqwest::Client,
    stream_arn: String,
    invoke: String,
    /// For a record that does not name its region (a stream record always does).
    region: String,
    batch_size: usize,
    prefixes: Vec<String>,
    max_retries: u32,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let mut streams_config = aws_sdk_dynamodbstreams::config::Builder::from(&sdk);
    // The SDK reads AWS_ENDPOINT_URL_DYNAMODB_STREAMS itself. The emulators serve the
    // Streams API on their DynamoDB endpoint, so that one is the default here.
    if env_var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS").is_none() {
        if let Some(endpoint) = env_var("AWS_ENDPOINT_URL_DYNAMODB") {
            streams_config = streams_config.endpoint_url(endpoint);
        }
    }
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(streams_config.build());
    let stream_arn = wait_for_stream(&dynamodb, &args.table).await?;
    let invoke = format!(
        "{}/2015-03-31/functions/{}/invocations",
        args.invoke_url.trim_end_matches('/'),
        args.function
    );
    eprintln!("signoff-stream-runner: {stream_arn} -> {invoke}");
    let runner = Arc::new(Runner {
        streams,
        http: reqwest::Client::new(),
        stream_arn,
        invoke,
        region: sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        batch_size: args.batch_size as usize,
        prefixes: args.filter_pk_prefixes,
        max_retries: args.max_retries,
    });
    let start = match args.starting_position {
        StartingPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
        StartingPosition::Latest => ShardIteratorType::Latest,
    };
    follow_stream(runner, start).await;
    Ok(())
}

/// The variable's value, if it is set and not empty.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The ARN of `table`'s stream, waiting (up to [`WAIT_FOR_STREAM`]) for the table or its
/// stream to exist: the runner may start before the table is created.
async fn wait_for_stream(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, String> {
    let deadline = Instant::now() + WAIT_FOR_STREAM;
    loop {
        let why = match dynamodb.describe_table().table_name(table).send().await {
            Ok(output) => {
                let description = output.table.unwrap_or_else(|| {
                    aws_sdk_dynamodb::types::TableDescription::builder().build()
                });
                let enabled = description
                    .stream_specification
                    .as_ref()
                    .is_some_and(|s| s.stream_enabled);
                match description.latest_stream_arn {
                    Some(arn) if enabled => return Ok(arn),
                    _ => format!("the table {table} has no stream"),
                }
            }
            Err(err) => format!(
                "DescribeTable {table} failed: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&err)
            ),
        };
        if Instant::now() >= deadline {
            return Err(format!("gave up after {WAIT_FOR_STREAM:?}: {why}"));
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

/// Where one shard stands.
enum ShardState {
    /// Not read yet: waits for its parent to be finished.
    Waiting {
        parent: Option<String>,
        start: ShardIteratorType,
    },
    Reading,
    Finished,
}

/// Lists the stream's shards every [`DESCRIBE_EVERY`] and reads each one, a child only
/// once its parent is finished. Never returns.
async fn follow_stream(runner: Arc<Runner>, start: ShardIteratorType) {
    let mut shards: HashMap<String, ShardState> = HashMap::new();
    let mut readers = JoinSet::new();
    let mut reading: HashMap<tokio::task::Id, String> = HashMap::new();
    // The starting position is for the shards there at start, once they have been seen.
    let mut first_listing = true;
    let mut last_error: Option<String> = None;
    loop {
        match list_shards(&runner).await {
            Ok(listed) => {
                last_error = None;
                for shard in listed {
                    let Some(id) = shard.shard_id else { continue };
                    shards.entry(id).or_insert_with(|| ShardState::Waiting {
                        parent: shard.parent_shard_id,
                        start: if first_listing {
                            start.clone()
                        } else {
                            ShardIteratorType::TrimHorizon
                        },
                    });
                }
                first_listing = false;
            }
            // Said once, not every second, while the stream stays unreachable.
            Err(err) if last_error.as_ref() != Some(&err) => {
                eprintln!("signoff-stream-runner: {err}");
                last_error = Some(err);
            }
            Err(_) => {}
        }
        start_ready(&runner, &mut shards, &mut readers, &mut reading);
        let next_listing = tokio::time::sleep(DESCRIBE_EVERY);
        tokio::pin!(next_listing);
        loop {
            tokio::select! {
                () = &mut next_listing => break,
                Some(ended) = readers.join_next_with_id() => {
                    let task = match &ended {
                        Ok((task, ())) => *task,
                        Err(err) => err.id(),
                    };
                    let shard = reading.remove(&task).unwrap_or_default();
                    if let Err(err) = ended {
                        eprintln!("signoff-stream-runner: the reader of shard {shard} failed ({err}); its children are read anyway");
                    }
                    shards.insert(shard, ShardState::Finished);
                    start_ready(&runner, &mut shards, &mut readers, &mut reading);
                }
            }
        }
    }
}

/// Starts a reader for every waiting shard whose parent is finished, or has none, or is
/// no longer in the stream (trimmed: its records are gone).
fn start_ready(
    runner: &Arc<Runner>,
    shards: &mut HashMap<String, ShardState>,
    readers: &mut JoinSet<()>,
    reading: &mut HashMap<tokio::task::Id, String>,
) {
    let ready: Vec<String> = shards
        .iter()
        .filter(|(_, state)| match state {
            ShardState::Waiting { parent, .. } => parent.as_ref().is_none_or(|parent| {
                matches!(shards.get(parent), None | Some(ShardState::Finished))
            }),
            _ => false,
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in ready {
        let Some(ShardState::Waiting { start, .. }) =
            shards.insert(id.clone(), ShardState::Reading)
        else {
            continue;
        };
        let task = readers.spawn(read_shard(runner.clone(), id.clone(), start));
        reading.insert(task.id(), id);
    }
}

/// Every shard of the stream, following DescribeStream's pages.
async fn list_shards(runner: &Runner) -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let output = runner
            .streams
            .describe_stream()
            .stream_arn(&runner.stream_arn)
            .set_exclusive_start_shard_id(after.clone())
            .send()
            .await
            .map_err(|e| format!("DescribeStream failed: {}", DisplayErrorContext(&e)))?;
        let Some(description) = output.stream_description else {
            break;
        };
        shards.extend(description.shards.unwrap_or_default());
        match description.last_evaluated_shard_id {
            // A server that repeats itself would otherwise keep this loop going.
            Some(last) if after.as_ref() != Some(&last) => after = Some(last),
            _ => break,
        }
    }
    Ok(shards)
}

/// Reads `shard` from `start` to its end, delivering its records in order. Returns once
/// the shard is closed and read (GetRecords gives no next iterator) or gone.
async fn read_shard(runner: Arc<Runner>, shard: String, start: ShardIteratorType) {
    // The sequence number of the last record handled (delivered, filtered out or skipped).
    let mut last: Option<String> = None;
    let Some(mut iterator) = runner.iterator(&shard, start.clone(), None).await else {
        return;
    };
    let limit = runner.batch_size.min(1000) as i32;
    loop {
        let answer = runner
            .streams
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(err) => {
                let service = err.as_service_error();
                let renewed = if service.is_some_and(|e| e.is_expired_iterator_exception()) {
                    // Iterators last 15 minutes on AWS. Carry on after the last record
                    // handled; with none yet, from where the shard was to be read.
                    match &last {
                        Some(seq) => {
                            runner
                                .iterator(&shard, ShardIteratorType::AfterSequenceNumber, Some(seq))
                                .await
                        }
                        None => runner.iterator(&shard, start.clone(), None).await,
                    }
                } else if service.is_some_and(|e| e.is_trimmed_data_access_exception()) {
                    eprintln!("signoff-stream-runner: records of shard {shard} were trimmed before they were read; going on from the oldest left");
                    runner
                        .iterator(&shard, ShardIteratorType::TrimHorizon, None)
                        .await
                } else if service.is_some_and(|e| e.is_resource_not_found_exception()) {
                    eprintln!(
                        "signoff-stream-runner: shard {shard} is gone: {}",
                        DisplayErrorContext(&err)
                    );
                    None
                } else {
                    eprintln!(
                        "signoff-stream-runner: GetRecords on shard {shard} failed: {}",
                        DisplayErrorContext(&err)
                    );
                    tokio::time::sleep(RETRY_AFTER).await;
                    Some(iterator)
                };
                match renewed {
                    Some(renewed) => iterator = renewed,
                    None => return,
                }
                continue;
            }
        };
        let records = output.records.unwrap_or_default();
        let idle = records.is_empty();
        if let Some(seq) = records
            .last()
            .and_then(|r| r.dynamodb.as_ref()?.sequence_number.clone())
        {
            runner.deliver_all(&shard, &records).await;
            last = Some(seq);
        }
        // No next iterator: the shard is closed and everything in it has been read.
        let Some(next) = output.next_shard_iterator else {
            return;
        };
        iterator = next;
        if idle {
            tokio::time::sleep(IDLE_POLL).await;
        }
    }
}

impl Runner {
    /// A shard iterator, trying again every [`RETRY_AFTER`] while the Streams API fails;
    /// `None` if the shard is gone.
    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        after: Option<&str>,
    ) -> Option<String> {
        let mut kind = kind;
        loop {
            let answer = self
                .streams
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(shard)
                .shard_iterator_type(kind.clone())
                .set_sequence_number(
                    matches!(kind, ShardIteratorType::AfterSequenceNumber)
                        .then(|| after.map(str::to_owned))
                        .flatten(),
                )
                .send()
                .await;
            let err = match answer {
                Ok(output) => return output.shard_iterator,
                Err(err) => err,
            };
            let service = err.as_service_error();
            if service.is_some_and(|e| e.is_resource_not_found_exception()) {
                eprintln!(
                    "signoff-stream-runner: shard {shard} is gone: {}",
                    DisplayErrorContext(&err)
                );
                return None;
            }
            if service.is_some_and(|e| e.is_trimmed_data_access_exception()) {
                eprintln!("signoff-stream-runner: records of shard {shard} were trimmed before they were read; going on from the oldest left");
                kind = ShardIteratorType::TrimHorizon;
                continue;
            }
            eprintln!(
                "signoff-stream-runner: GetShardIterator on shard {shard} failed: {}",
                DisplayErrorContext(&err)
            );
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    /// Delivers the records the filter lets through, `batch_size` at a time, in order.
    async fn deliver_all(&self, shard: &str, records: &[Record]) {
        let batch: Vec<(String, Value)> = records
            .iter()
            .filter(|record| self.passes(record))
            .map(|record| {
                let seq = record
                    .dynamodb
                    .as_ref()
                    .and_then(|d| d.sequence_number.clone())
                    .unwrap_or_default();
                (seq, self.event_record(record))
            })
            .collect();
        for chunk in batch.chunks(self.batch_size) {
            self.deliver(shard, chunk).await;
        }
    }

    /// Whether the FilterCriteria on `pk` lets `record` through.
    fn passes(&self, record: &Record) -> bool {
        if self.prefixes.is_empty() {
            return true;
        }
        let pk = record
            .dynamodb
            .as_ref()
            .and_then(|d| d.keys.as_ref()?.get("pk")?.as_s().ok());
        pk.is_some_and(|pk| self.prefixes.iter().any(|p| pk.starts_with(p.as_str())))
    }

    /// Invokes the function with `batch` (sequence number and event record, in order) until
    /// it succeeds, resending from the first record it reports failed, or the retries are
    /// used up and the rest is skipped.
    async fn deliver(&self, shard: &str, batch: &[(String, Value)]) {
        let mut from = 0;
        let mut retries = 0;
        loop {
            let pending = &batch[from..];
            let failure = match self.invoke(pending).await {
                Ok(None) => return,
                Ok(Some(failed)) => {
                    from += failed;
                    format!("the function reported record {} failed", batch[from].0)
                }
                Err(reason) => reason,
            };
            eprintln!(
                "signoff-stream-runner: invocation with {} record(s) of shard {shard} from {} failed (attempt {} of {}): {failure}",
                pending.len(),
                pending[0].0,
                retries + 1,
                self.max_retries + 1,
            );
            if retries >= self.max_retries {
                let rest = &batch[from..];
                eprintln!(
                    "signoff-stream-runner: !!! SKIPPING {} record(s) of shard {shard}, sequence numbers {} to {}, after {retries} retries: on AWS they would go to the on-failure destination !!!",
                    rest.len(),
                    rest[0].0,
                    rest[rest.len() - 1].0,
                );
                return;
            }
            retries += 1;
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    /// One invocation. `Ok(None)`: the whole batch succeeded; `Ok(Some(i))`: the function
    /// reported the batch's `i`th record (the earliest it named) and those after it failed.
    ///
    /// Lambda's rules for `ReportBatchItemFailures`: no answer, `null`, `{}`, and a null or
    /// empty `batchItemFailures` are a complete success; an answer that is not JSON, or an
    /// item that names no record of the batch, fails the whole batch.
    async fn invoke(&self, batch: &[(String, Value)]) -> Result<Option<usize>, String> {
        let event = json!({"Records": batch.iter().map(|(_, r)| r).collect::<Vec<_>>()});
        let response = self
            .http
            .post(&self.invoke)
            .json(&event)
            .send()
            .await
            .map_err(|e| format!("invoke failed: {e}"))?;
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        if !status.is_success() {
            return Err(format!("invoke answered {status}"));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|e| format!("the function's answer is not JSON: {e}"))?;
        if function_error || answer.get("errorType").is_some() {
            return Err(format!(
                "the function failed: {} {}",
                answer["errorType"], answer["errorMessage"]
            ));
        }
        let failures = match answer.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(failures)) => failures,
            Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
        };
        let mut earliest: Option<usize> = None;
        for failure in failures {
            let position = failure
                .get("itemIdentifier")
                .and_then(Value::as_str)
                .and_then(|id| batch.iter().position(|(seq, _)| seq == id))
                .ok_or_else(|| {
                    format!("batchItemFailures names no record of the batch: {failure}")
                })?;
            earliest = Some(earliest.map_or(position, |e| e.min(position)));
        }
        Ok(earliest)
    }

    /// `record` as Lambda puts it in a DynamoDB Streams event.
    fn event_record(&self, record: &Record) -> Value {
        let mut dynamodb = Map::new();
        if let Some(stream) = &record.dynamodb {
            if let Some(time) = &stream.approximate_creation_date_time {
                dynamodb.insert("ApproximateCreationDateTime".into(), epoch_seconds(time));
            }
            for (name, image) in [
                ("Keys", &stream.keys),
                ("NewImage", &stream.new_image),
                ("OldImage", &stream.old_image),
            ] {
                if let Some(image) = image {
                    dynamodb.insert(name.into(), item_json(image));
                }
            }
            if let Some(seq) = &stream.sequence_number {
                dynamodb.insert("SequenceNumber".into(), json!(seq));
            }
            if let Some(size) = stream.size_bytes {
                dynamodb.insert("SizeBytes".into(), json!(size));
            }
            if let Some(view) = &stream.stream_view_type {
                dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
            }
        }
        let mut event = json!({
            "eventID": record.event_id,
            "eventName": record.event_name.as_ref().map(|n| n.as_str()),
            "eventVersion": record.event_version,
            "eventSource": record.event_source,
            "awsRegion": record.aws_region.as_deref().unwrap_or(&self.region),
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        });
        // Only a deletion by TTL has one, and it is always DynamoDB's own service principal.
        // dynoxide 3.2.0 names its fields as Lambda's event does (`type`, `principalId`),
        // not as the Streams API does (`Type`, `PrincipalId`), so the SDK reads it as an
        // empty identity: what it can only have said is filled in.
        if let Some(identity) = &record.user_identity {
            event["userIdentity"] = json!({
                "type": identity.r#type.as_deref().unwrap_or("Service"),
                "principalId": identity.principal_id.as_deref().unwrap_or("dynamodb.amazonaws.com"),
            });
        }
        event
    }
}

/// A timestamp as Lambda's events give it: seconds since the epoch, a whole number
/// unless the stream gave a fraction.
fn epoch_seconds(time: &DateTime) -> Value {
    if time.subsec_nanos() == 0 {
        json!(time.secs())
    } else {
        json!(time.as_secs_f64())
    }
}

/// An item (or key) in DynamoDB JSON.
fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect(),
    )
}

/// One attribute value in DynamoDB JSON: `{"S":"x"}`, `{"N":"1"}`, binaries in base64.
fn attribute_json(value: &AttributeValue) -> Value {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": base64(b.as_ref()) }),
        AttributeValue::Ss(set) => json!({ "SS": set }),
        AttributeValue::Ns(set) => json!({ "NS": set }),
        AttributeValue::Bs(set) => {
            json!({ "BS": set.iter().map(|b| base64(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({ "M": item_json(map) }),
        AttributeValue::L(list) => {
            json!({ "L": list.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        // A type newer than this SDK: nothing to say about it.
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::primitives::Blob;

    #[test]
    fn every_attribute_type_becomes_dynamodb_json() {
        let item = HashMap::from([
            ("s".to_owned(), AttributeValue::S("x".into())),
            ("n".to_owned(), AttributeValue::N("1.5".into())),
            ("b".to_owned(), AttributeValue::B(Blob::new(b"hi".to_vec()))),
            (
                "ss".to_owned(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            ("ns".to_owned(), AttributeValue::Ns(vec!["1".into()])),
            (
                "bs".to_owned(),
                AttributeValue::Bs(vec![Blob::new(vec![0xff])]),
            ),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("null".to_owned(), AttributeValue::Null(true)),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "k".to_owned(),
                    AttributeValue::N("2".into()),
                )])),
            ),
            (
                "l".to_owned(),
                AttributeValue::L(vec![
                    AttributeValue::S("y".into()),
                    AttributeValue::Bool(false),
                ]),
            ),
        ]);
        assert_eq!(
            item_json(&item),
            json!({
                "s": {"S": "x"},
                "n": {"N": "1.5"},
                "b": {"B": "aGk="},
                "ss": {"SS": ["a", "b"]},
                "ns": {"NS": ["1"]},
                "bs": {"BS": ["/w=="]},
                "t": {"BOOL": true},
                "null": {"NULL": true},
                "m": {"M": {"k": {"N": "2"}}},
                "l": {"L": [{"S": "y"}, {"BOOL": false}]},
            })
        );
    }

    #[test]
    fn whole_seconds_stay_whole() {
        assert_eq!(
            epoch_seconds(&DateTime::from_secs(1_479_499_740)),
            json!(1_479_499_740)
        );
        assert_eq!(
            epoch_seconds(&DateTime::from_secs_f64(1_479_499_740.5)),
            json!(1_479_499_740.5)
        );
    }
}
