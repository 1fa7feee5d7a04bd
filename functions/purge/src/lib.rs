//! The background purge: each SQS message moves one purge job on
//! ([`signoff_store::purge`], [`signoff_queue`]).
//!
//! - **A job's first message** (no shard) counts the records the job covers, records the
//!   count on the job (the length of the admin tool's progress bar) and queues one message
//!   per shard.
//! - **A shard's message** deletes its shard page by page until the shard is finished or
//!   the invocation is `SIGNOFF_PURGE_MARGIN_MS` from its deadline; then the shard queues
//!   itself again and the invocation ends well. Each page is checkpointed in the table, so
//!   the next message starts where this one stopped.
//! - **A failure** (store or queue trouble, a message that does not parse) is reported as
//!   that message's batch item failure: SQS delivers it again after its visibility timeout,
//!   which resumes from the last checkpoint, and after the queue's `maxReceiveCount`
//!   deliveries moves it to the dead-letter queue, where an alarm fires.
//! - **A job that no longer exists** (its items expired after 30 days) is dropped with a
//!   warning: there is nothing left to do for it.
//!
//! Every message writes one log line and one EMF line (`PurgePages`,
//! `PurgeRecordsDeleted`, `PurgeFailures`).

pub mod settings;

use std::time::SystemTime;

use lambda_http::lambda_runtime::LambdaEvent;
use signoff_queue::{PurgeMessage, PurgeQueue, QueueError};
use signoff_store::purge::{PurgeJob, ShardStep};
use signoff_store::{Store, StoreError};

use crate::settings::Settings;

pub use signoff_queue::{BatchResponse, ItemFailure, SqsEvent, SqsRecord};

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the message is not a purge message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl Failure {
    fn is_retryable(&self) -> bool {
        match self {
            Failure::Malformed(_) => false,
            Failure::Store(err) => err.is_retryable(),
            Failure::Queue(err) => err.is_retryable(),
        }
    }
}

/// What one message did.
#[derive(Debug, Default, Clone, Copy)]
struct Work {
    pages: u64,
    deleted: u64,
    finished: bool,
}

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The job's shards are queued.
    FannedOut,
    /// The shard is finished.
    Finished,
    /// Time ran short: the shard is queued again.
    Continued,
    /// No such job (expired or never made).
    UnknownJob,
}

impl End {
    fn as_str(self) -> &'static str {
        match self {
            End::FannedOut => "fanned-out",
            End::Finished => "finished",
            End::Continued => "continued",
            End::UnknownJob => "unknown-job",
        }
    }
}

/// Handles one SQS batch. Never an invocation error: each failed message is reported.
pub async fn handle(
    store: &Store,
    queue: &PurgeQueue,
    settings: &Settings,
    event: LambdaEvent<SqsEvent>,
) -> Result<BatchResponse, std::convert::Infallible> {
    let deadline = event.context.deadline;
    let mut response = BatchResponse::default();
    for record in event.payload.records {
        let stop_at = |now| signoff_edge::runtime::remaining_time(deadline, now) <= settings.margin;
        let mut work = Work::default();
        let outcome = run_message(store, queue, &record.body, &stop_at, &mut work).await;
        emit(&record, &outcome, work);
        if outcome.is_err() {
            response.batch_item_failures.push(ItemFailure {
                item_identifier: record.message_id,
            });
        }
    }
    Ok(response)
}

async fn run_message(
    store: &Store,
    queue: &PurgeQueue,
    body: &str,
    out_of_time: &impl Fn(SystemTime) -> bool,
    work: &mut Work,
) -> Result<End, Failure> {
    let message: PurgeMessage = serde_json::from_str(body)?;
    let Some(job) = store.purge_job(&message.tenant, &message.job_id).await? else {
        return Ok(End::UnknownJob);
    };
    let Some(shard) = message.shard else {
        if job.estimated.is_none() {
            store.estimate_purge(&job).await?;
        }
        queue.fan_out(&job).await?;
        return Ok(End::FannedOut);
    };
    run_shard(store, &job, shard, out_of_time, work).await?;
    if work.finished {
        // The last shard to finish ends the job's weight on the status lists.
        store.finish_background_purge(&job).await?;
        return Ok(End::Finished);
    }
    queue.send(&message).await?;
    Ok(End::Continued)
}

/// Deletes pages of `shard` until it is finished or time runs short; at least one page,
/// so that even a short invocation moves the shard on.
async fn run_shard(
    store: &Store,
    job: &PurgeJob,
    shard: u8,
    out_of_time: &impl Fn(SystemTime) -> bool,
    work: &mut Work,
) -> Result<(), StoreError> {
    loop {
        let page = store.purge_shard_page(job, shard).await?;
        work.pages += 1;
        work.deleted += page.deleted;
        if page.step == ShardStep::Done {
            work.finished = true;
            return Ok(());
        }
        if out_of_time(SystemTime::now()) {
            return Ok(());
        }
    }
}

fn emit(record: &SqsRecord, outcome: &Result<End, Failure>, work: Work) {
    let counts = [
        ("PurgePages", work.pages),
        ("PurgeRecordsDeleted", work.deleted),
        ("PurgeFailures", u64::from(outcome.is_err())),
    ];
    signoff_edge::metrics::print_counts(&counts);
    match outcome {
        Ok(end) if *end == End::UnknownJob => tracing::warn!(
            message_id = %record.message_id,
            "purge message names no job (expired or never made); dropped"
        ),
        Ok(end) => tracing::info!(
            message_id = %record.message_id,
            end = end.as_str(),
            pages = work.pages,
            deleted = work.deleted,
            "purge message handled"
        ),
        Err(failure) => tracing::error!(
            message_id = %record.message_id,
            pages = work.pages,
            deleted = work.deleted,
            error = %failure,
            retryable = failure.is_retryable(),
            "purge message failed; SQS delivers it again"
        ),
    }
}
