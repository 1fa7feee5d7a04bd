//! The purge queue: the Amazon SQS messages that move a background purge on
//! ([`signoff_store::purge`]), and the hand-off of a revocation too large to finish inside
//! its call ([`Handoff`], [`log_user_out`]). Whoever makes a purge job (the admin tool, an endpoint whose
//! revocation is too large to delete inside its call) sends one message; the purge
//! function answers it by sending one per shard, and a shard that is not finished when its
//! invocation runs short of time sends itself again. A message lost to a crash comes back
//! when its visibility timeout ends; one that keeps failing goes to the dead-letter queue.
//!
//! Messages carry only the job's key (tenant, job id, shard): the job and each shard's
//! progress live in the table, so a message delivered twice or late does no harm.
//!
//! Locally the queue is moto's SQS server (`AWS_ENDPOINT_URL_SQS`, the SDK's own endpoint
//! variable), started by `scripts/dev` and the tests.

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

pub mod logouts;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use signoff_store::config::{parse_in_range, ConfigError};
use signoff_store::cutoffs::Cutoff;
use signoff_store::item_key::PURGE_SHARDS;
use signoff_store::purge::{PurgeJob, PurgeScope};
use signoff_store::revocation::UserLogout;
use signoff_store::{Store, StoreError};

/// The queue's URL (`template.yaml` sets it).
pub const QUEUE_URL_VAR: &str = "SIGNOFF_PURGE_QUEUE_URL";

/// SendMessageBatch's limit on messages per call.
const SEND_BATCH: usize = 10;

/// A purge job to start (no shard: count it and send one message per shard) or one shard
/// of it to walk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeMessage {
    pub tenant: String,
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u8>,
}

impl PurgeMessage {
    pub fn start(job: &PurgeJob) -> Self {
        Self {
            tenant: job.tenant.clone(),
            job_id: job.job_id.clone(),
            shard: None,
        }
    }

    pub fn shard(job: &PurgeJob, shard: u8) -> Self {
        Self {
            shard: Some(shard),
            ..Self::start(job)
        }
    }

    fn body(&self) -> String {
        serde_json::to_string(self).expect("a purge message always serializes")
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// An SQS call failed.
    #[error("SQS {operation} failed ({code})")]
    Call {
        operation: &'static str,
        code: String,
        retryable: bool,
        #[source]
        source: BoxError,
    },
    /// SQS accepted a batch but refused some of its messages, even when sent again.
    #[error("SQS refused {refused} of {sent} messages ({code})")]
    Refused {
        refused: usize,
        sent: usize,
        code: String,
    },
}

impl QueueError {
    /// True when the same send may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            QueueError::Call { retryable, .. } => *retryable,
            QueueError::Refused { .. } => true,
        }
    }
}

/// The one place that decides whether an SQS failure is worth retrying.
fn classify<E>(
    operation: &'static str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, retryable) = match &err {
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), true),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), true),
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown").to_owned();
            let throttled = code.contains("Throttl") || code == "RequestThrottled";
            (code, ctx.raw().status().as_u16() >= 500 || throttled)
        }
        _ => ("Unknown".to_owned(), false),
    };
    QueueError::Call {
        operation,
        code,
        retryable,
        source: Box::new(err),
    }
}

/// An SQS queue: a client and the queue's URL. Build it once at init.
#[derive(Clone, Debug)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    pub fn new(sdk: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(sdk),
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one message, delivered after `delay` (SQS allows at most 15 minutes:
    /// [`MAX_DELAY_SECONDS`]).
    pub async fn send_body(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        let delay = delay.as_secs().min(MAX_DELAY_SECONDS.into()) as i32;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .set_delay_seconds((delay > 0).then_some(delay))
            .send()
            .await
            .map_err(|e| classify("SendMessage", e))?;
        Ok(())
    }

    /// Sends every body (SendMessageBatch calls of 10, each sending what SQS refused once
    /// more).
    pub async fn send_bodies(&self, bodies: &[String]) -> Result<(), QueueError> {
        for batch in bodies.chunks(SEND_BATCH) {
            self.send_batch(batch).await?;
        }
        Ok(())
    }

    async fn send_batch(&self, bodies: &[String]) -> Result<(), QueueError> {
        let mut pending: Vec<(String, &String)> = bodies
            .iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m))
            .collect();
        for attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body.as_str())
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify("SendMessageBatch", e))?;
            let failed = output.failed;
            if failed.is_empty() {
                return Ok(());
            }
            if attempt == 1 || failed.iter().any(|f| f.sender_fault) {
                return Err(QueueError::Refused {
                    refused: failed.len(),
                    sent: bodies.len(),
                    code: failed[0].code.clone(),
                });
            }
            pending.retain(|(id, _)| failed.iter().any(|f| &f.id == id));
        }
        Ok(())
    }

    /// Receives up to 10 messages, waiting up to `wait` for the first. For the admin
    /// tool; functions get theirs from Lambda.
    pub async fn receive(&self, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(SEND_BATCH as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| classify("ReceiveMessage", e))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(Received {
                    id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Makes a received message visible again at once (it was looked at, not handled).
    pub async fn release(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| classify("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Deletes a received message.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| classify("DeleteMessage", e))?;
        Ok(())
    }
}

/// A message received from a queue.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub receipt_handle: String,
    pub body: String,
}

/// The longest delay SQS puts on a message.
pub const MAX_DELAY_SECONDS: u32 = 900;

/// The purge queue.
#[derive(Clone, Debug)]
pub struct PurgeQueue(Queue);

impl PurgeQueue {
    pub fn new(sdk: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        Self(Queue::new(sdk, url))
    }

    pub fn url(&self) -> &str {
        self.0.url()
    }

    /// Queues the start of `job`: one SendMessage.
    pub async fn start(&self, job: &PurgeJob) -> Result<(), QueueError> {
        self.send(&PurgeMessage::start(job)).await
    }

    /// Queues one message per shard of `job`.
    pub async fn fan_out(&self, job: &PurgeJob) -> Result<(), QueueError> {
        let bodies: Vec<String> = (0..PURGE_SHARDS)
            .map(|shard| PurgeMessage::shard(job, shard).body())
            .collect();
        self.0.send_bodies(&bodies).await
    }

    /// Queues `message` again: its shard goes on in another invocation.
    pub async fn send(&self, message: &PurgeMessage) -> Result<(), QueueError> {
        self.0.send_body(message.body(), Duration::ZERO).await
    }
}

/// The part of Lambda's SQS event a function reads.
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsRecord>,
}

#[derive(Debug, Deserialize)]
pub struct SqsRecord {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(default)]
    pub body: String,
}

/// The partial batch response (`ReportBatchItemFailures`): the messages (or, for a
/// stream, the first record by sequence number) to deliver again.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// How long a revocation deletes records itself before it hands the rest to the
/// background purge (`SIGNOFF_INLINE_DELETE_MS`).
pub const INLINE_DELETE_MS_VAR: &str = "SIGNOFF_INLINE_DELETE_MS";

/// How a function's revocation hands what it cannot delete in time to the background
/// purge: the queue, and how long to delete inline first. Built once at init.
#[derive(Clone, Debug)]
pub struct Handoff {
    pub queue: PurgeQueue,
    pub inline: Duration,
}

impl Handoff {
    /// The hand-off `SIGNOFF_PURGE_QUEUE_URL` and `SIGNOFF_INLINE_DELETE_MS` describe, or
    /// `None` without a queue: then a revocation deletes everything itself, however long.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(sdk, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        sdk: &aws_config::SdkConfig,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let inline = Duration::from_millis(parse_in_range(
            &get,
            INLINE_DELETE_MS_VAR,
            3_000,
            0..=20_000,
        )?);
        Ok(get(QUEUE_URL_VAR)
            .filter(|url| !url.trim().is_empty())
            .map(|url| Self {
                queue: PurgeQueue::new(sdk, url),
                inline,
            }))
    }
}

/// A revocation that wrote its marker but could not finish deleting.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl HandoffError {
    pub fn is_retryable(&self) -> bool {
        match self {
            HandoffError::Store(err) => err.is_retryable(),
            HandoffError::Queue(err) => err.is_retryable(),
        }
    }
}

/// Hands `job` to the background purge: records it as running, so that Token Status
/// Lists judge its tokens INVALID before their records go
/// ([`Store::track_background_purge`]), then queues it. A retry of a failed hand-off does
/// both again; both are idempotent.
pub async fn hand_off(
    store: &Store,
    queue: &PurgeQueue,
    job: &PurgeJob,
) -> Result<(), HandoffError> {
    store.track_background_purge(job).await?;
    queue.start(job).await?;
    Ok(())
}

/// What [`log_user_out`] did: the marker, what it deleted inline, and the purge it started
/// for the rest, if any.
#[derive(Clone, Debug)]
pub struct UserLogoutOutcome {
    pub logout: UserLogout,
    pub purge: Option<PurgeJob>,
}

/// Logs `user` of `tenant` out everywhere ([`Store::log_user_out`]): the marker makes every
/// token of the user unusable in one write; the records are deleted for at most
/// `handoff.inline`, and whatever remains goes to a background purge of the user's tokens
/// up to the marker (one PutItem and one SendMessage more). Without a hand-off it deletes
/// everything itself. If the purge cannot be queued the error says so and the caller's
/// retry starts it (the marker moves forward, the job is new).
pub async fn log_user_out(
    store: &Store,
    handoff: Option<&Handoff>,
    tenant: &str,
    user: &str,
    keep: Option<&str>,
) -> Result<UserLogoutOutcome, HandoffError> {
    let deadline = handoff.map(|h| tokio::time::Instant::now() + h.inline);
    let logout = store.log_user_out(tenant, user, keep, deadline).await?;
    let purge = match handoff {
        Some(handoff) if logout.report.unfinished => {
            let scope = PurgeScope::User {
                subject: user.to_owned(),
            };
            let job = store.create_purge(tenant, scope, logout.revoked_at).await?;
            hand_off(store, &handoff.queue, &job).await?;
            Some(job)
        }
        _ => None,
    };
    Ok(UserLogoutOutcome { logout, purge })
}

/// What [`cut_off`] did: the cutoff in force, what it deleted inline, and the purge that
/// deletes the rest in the background, if any.
#[derive(Clone, Debug)]
pub struct CutoffOutcome {
    /// Epoch seconds: every token of the scope issued at or before it is unusable.
    pub cutoff_at: i64,
    pub deleted: u64,
    /// The job (finished when nothing was left for the background).
    pub job: PurgeJob,
    /// Whether the job was queued: records remained when the inline budget ran out.
    pub queued: bool,
}

/// Cuts off `cutoff`'s tokens in `tenant` ([`Store::write_cutoff`]): one write makes them
/// unusable; then their records are purged here for at most `handoff.inline`, and whatever
/// remains goes to the background purge (one SendMessage). Without a hand-off it purges
/// everything itself. If the purge cannot be queued the error says so; the caller's retry
/// writes a later cutoff and queues a new job that finishes the job.
pub async fn cut_off(
    store: &Store,
    handoff: Option<&Handoff>,
    tenant: &str,
    cutoff: Cutoff<'_>,
) -> Result<CutoffOutcome, HandoffError> {
    let deadline = handoff.map(|h| tokio::time::Instant::now() + h.inline);
    let cutoff_at = store.write_cutoff(tenant, cutoff).await?;
    let job = store.create_purge(tenant, cutoff, cutoff_at).await?;
    let inline = store.purge_inline(&job, deadline).await?;
    let queued = match handoff {
        Some(handoff) if !inline.finished => {
            hand_off(store, &handoff.queue, &job).await?;
            true
        }
        _ => false,
    };
    Ok(CutoffOutcome {
        cutoff_at,
        deleted: inline.deleted,
        job,
        queued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_only_the_jobs_key() {
        let job = PurgeJob::new("t1", Cutoff::Client { client_id: "web" }, 10, 11);
        let start = PurgeMessage::start(&job).body();
        assert_eq!(
            start,
            format!(r#"{{"tenant":"t1","jobId":"{}"}}"#, job.job_id)
        );
        let shard: PurgeMessage =
            serde_json::from_str(&PurgeMessage::shard(&job, 63).body()).expect("round trip");
        assert_eq!(shard.shard, Some(63));
        assert!(!start.contains("web"));
    }
}
