//! `signoff-queue-runner`: what Lambda's SQS event source mapping does on AWS, for the
//! local stack. It long-polls a queue (moto's SQS server locally, through the real SDK),
//! hands messages to a function as Lambda's SQS event (`--batch-size` at a time, as
//! `template.yaml` sets it for the function) through the Lambda Invoke API that `cargo
//! lambda watch` and the tests' gateway serve, and deletes each message only when the
//! function reports it done (`ReportBatchItemFailures`). Up to `--concurrency`
//! invocations run at once, each poller on its own, so that one slow invocation does not
//! hold back the next batch. A message that failed, or whose invocation failed, stays
//! in the queue: it comes back when its visibility timeout ends, and after the queue's
//! `maxReceiveCount` receives SQS moves it to the dead-letter queue, as on AWS.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, QueueAttributeName};
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "signoff-queue-runner", version, about)]
struct Args {
    /// The queue's URL (AWS_ENDPOINT_URL_SQS points the SDK at the local server).
    #[arg(long)]
    queue_url: String,
    /// The function the messages go to.
    #[arg(long)]
    function: String,
    /// Where the Lambda Invoke API is served, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    invoke_url: String,
    /// Invocations in flight at once (the event source mapping's maximum concurrency).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Messages per invocation, 1 to 10 (the event source mapping's batch size).
    #[arg(long, default_value_t = 1)]
    batch_size: i32,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let http = reqwest::Client::new();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&args.queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("cannot read the queue {}: {e:?}", args.queue_url))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let invoke = format!(
        "{}/2015-03-31/functions/{}/invocations",
        args.invoke_url.trim_end_matches('/'),
        args.function
    );
    eprintln!("signoff-queue-runner: {} -> {}", args.queue_url, invoke);
    let pollers = (0..args.concurrency.max(1)).map(|_| {
        poll(
            &sqs,
            &http,
            &args.queue_url,
            &arn,
            &invoke,
            args.batch_size.clamp(1, 10),
        )
    });
    futures_util::future::join_all(pollers).await;
    Ok(())
}

/// Receives batches and hands each to the function, until the process ends.
async fn poll(
    sqs: &aws_sdk_sqs::Client,
    http: &reqwest::Client,
    queue_url: &str,
    arn: &str,
    invoke: &str,
    batch_size: i32,
) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(batch_size)
            .wait_time_seconds(1)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                eprintln!("signoff-queue-runner: ReceiveMessage failed: {err:?}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !messages.is_empty() {
            deliver(sqs, http, queue_url, arn, invoke, messages).await;
        }
    }
}

/// Invokes the function with `messages` and deletes the ones it did not report failed.
async fn deliver(
    sqs: &aws_sdk_sqs::Client,
    http: &reqwest::Client,
    queue_url: &str,
    arn: &str,
    invoke: &str,
    messages: Vec<Message>,
) {
    let region = arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let receives = message
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .cloned()
                .unwrap_or_else(|| "1".into());
            json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": {"ApproximateReceiveCount": receives},
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            })
        })
        .collect();
    let event = json!({ "Records": records });
    let answer = match http.post(invoke).json(&event).send().await {
        Ok(response) if response.status().is_success() => response.json::<Value>().await.ok(),
        Ok(response) => {
            eprintln!(
                "signoff-queue-runner: invoke answered {}",
                response.status()
            );
            None
        }
        Err(err) => {
            eprintln!("signoff-queue-runner: invoke failed: {err}");
            None
        }
    };
    // An invocation error fails the whole batch; otherwise only the reported messages.
    let failed: Vec<String> = match &answer {
        Some(answer) if answer.get("errorType").is_none() => answer["batchItemFailures"]
            .as_array()
            .map(|failures| {
                failures
                    .iter()
                    .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        _ => messages
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect(),
    };
    for message in messages {
        let id = message.message_id.clone().unwrap_or_default();
        if failed.contains(&id) {
            eprintln!("signoff-queue-runner: message {id} failed; it comes back after its visibility timeout");
            continue;
        }
        if let Some(handle) = message.receipt_handle {
            if let Err(err) = sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
            {
                eprintln!("signoff-queue-runner: DeleteMessage failed: {err:?}");
            }
        }
    }
}
