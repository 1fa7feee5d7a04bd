//! The purge's queue for the tests: moto's SQS server (the same pinned moto as the KMS),
//! a queue with a dead-letter queue as `template.yaml` declares them, and the local
//! stand-in for Lambda's event source mapping (`signoff-queue-runner`, the binary
//! `scripts/dev` runs) feeding a gateway's function through its Invoke API.

use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::kms::start_moto;
use crate::paths::binaries_dir;

/// A running SQS server with the purge queue and its dead-letter queue.
pub struct TestQueue {
    pub client: aws_sdk_sqs::Client,
    pub endpoint: String,
    pub queue_url: String,
    pub dead_letter_url: String,
    _server: tokio::process::Child,
}

impl TestQueue {
    /// Messages come back `visibility_seconds` after a failed or unfinished delivery and go
    /// to the dead-letter queue after `max_receives` receives.
    pub async fn start(visibility_seconds: u32, max_receives: u32) -> Self {
        let (server, endpoint) = start_moto().await;
        let client = aws_sdk_sqs::Client::new(&local_sdk(&endpoint).await);
        let dead_letter_url = client
            .create_queue()
            .queue_name("signoff-purge-dlq")
            .send()
            .await
            .expect("CreateQueue (dead letters)")
            .queue_url
            .expect("queue url");
        let dead_letter_arn = queue_arn(&client, &dead_letter_url).await;
        let queue_url = client
            .create_queue()
            .queue_name("signoff-purge")
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_seconds.to_string(),
            )
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({
                    "deadLetterTargetArn": dead_letter_arn,
                    "maxReceiveCount": max_receives,
                })
                .to_string(),
            )
            .send()
            .await
            .expect("CreateQueue")
            .queue_url
            .expect("queue url");
        Self {
            client,
            endpoint,
            queue_url,
            dead_letter_url,
            _server: server,
        }
    }

    /// The environment a function (or the admin tool) needs to use this queue.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SQS".into(), self.endpoint.clone()),
            (signoff_queue::QUEUE_URL_VAR.into(), self.queue_url.clone()),
        ]
    }

    /// The purge queue as a function holds it (the SDK's default configuration, pointed at
    /// this server).
    pub async fn purge_queue(&self) -> signoff_queue::PurgeQueue {
        Self::queue_at(&self.endpoint, &self.queue_url).await
    }

    /// The queue `url` through an SQS endpoint `endpoint` (this server's, or one that
    /// does not answer), as a function would hold it.
    pub async fn queue_at(endpoint: &str, url: &str) -> signoff_queue::PurgeQueue {
        signoff_queue::PurgeQueue::new(&local_sdk(endpoint).await, url)
    }

    /// A revocation's hand-off to this queue after `inline` of deleting.
    pub async fn handoff(&self, inline: std::time::Duration) -> signoff_queue::Handoff {
        signoff_queue::Handoff {
            queue: self.purge_queue().await,
            inline,
        }
    }

    /// Messages waiting or in flight in `url`, as SQS approximates them.
    pub async fn depth(&self, url: &str) -> u64 {
        queue_depth(&self.client, url).await
    }

    /// The purge function against `db` under the local Runtime API, `page_size` keys a
    /// page and stopping `margin_ms` before its deadline, with the queue runner feeding it.
    pub async fn purge_worker(
        &self,
        db: &crate::db::TestDb,
        page_size: u32,
        margin_ms: u32,
    ) -> (crate::gateway::Gateway, tokio::process::Child) {
        let mut env = db.function_env();
        env.extend(self.env());
        env.push(("SIGNOFF_QUERY_PAGE_SIZE".into(), page_size.to_string()));
        env.push(("SIGNOFF_PURGE_MARGIN_MS".into(), margin_ms.to_string()));
        let gateway = crate::gateway::Gateway::start_with_unrouted(
            Vec::new(),
            &["purge"],
            &binaries_dir(),
            &env,
        )
        .await
        .expect("the purge function starts");
        let runner = self.run("purge", &gateway.invoke_url());
        (gateway, runner)
    }

    /// Starts `signoff-queue-runner` feeding `function` through `invoke_url`; it stops
    /// when the handle is dropped.
    pub fn run(&self, function: &str, invoke_url: &str) -> tokio::process::Child {
        crate::paths::spawn_binary(
            "signoff-queue-runner",
            &[
                "--queue-url",
                &self.queue_url,
                "--function",
                function,
                "--invoke-url",
                invoke_url,
            ],
            &[
                ("AWS_ENDPOINT_URL_SQS".into(), self.endpoint.clone()),
                ("AWS_REGION".into(), "us-east-1".into()),
                ("AWS_ACCESS_KEY_ID".into(), "local".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
            ],
        )
    }
}

/// The SDK's configuration as a function loads it, pointed at a local `endpoint` (moto's
/// server) with dummy credentials.
pub async fn local_sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "signoff-tests",
        ))
        .load()
        .await
}

/// Messages waiting, in flight or delayed in `url`, as SQS approximates them.
pub async fn queue_depth(client: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let attrs = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    attrs.values().filter_map(|v| v.parse::<u64>().ok()).sum()
}

/// The ARN of the queue at `url`.
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> String {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("queue arn")
}
