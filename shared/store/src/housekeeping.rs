//! Housekeeping: deleting records whose expiry has passed but which DynamoDB's TTL has not
//! removed yet (TTL can lag by days, and local emulators may never run it).
//!
//! Every record that expires (token records, session items, and the user, grant and device
//! markers) carries `expiry_bucket` = `<hour of expiry>#<shard>`, the partition key of the
//! by-expiry index, with `expires_at` as its sort key. A sweep queries only the buckets of
//! hours that have begun, and within each only `expires_at <= now`: what it reads is what
//! has expired, so its cost follows the number of expired records, never the table's size.
//!
//! - **Resumable.** A cursor item remembers the first hour not yet swept completely. A run
//!   starts there and moves it forward, never back, past every hour it finishes.
//! - **Bounded.** A run stops at its deadline (the invocation's remaining time) or at its
//!   cap on deletes, and reports that it stopped early; the next run carries on from the
//!   cursor. What was deleted stays deleted, so nothing is read twice but index entries
//!   DynamoDB has not dropped yet.
//! - **Idempotent and safe to run twice at once.** Each delete is conditional on the
//!   record's expiry still having passed. A record another run deleted first, or whose
//!   expiry moved forward meanwhile (an ended session logged out again), fails that
//!   condition and is counted as skipped, not deleted. The cursor only moves forward.
//!
//! Deletes go 25 to a request as PartiQL `BatchExecuteStatement`, each statement a
//! `DELETE ... WHERE pk = ? AND expires_at <= ? RETURNING ALL OLD *`: the extra predicate
//! is a condition, as on DeleteItem, so a marker refreshed between the read and the delete
//! survives (`ConditionalCheckFailed`), and the old item handed back tells a delete from
//! one of a record already gone (which DynamoDB answers with success and no item).
//! BatchWriteItem cannot carry a condition, and one DeleteItem per record costs 25 times
//! the round trips. Each statement succeeds or fails alone; statements DynamoDB throttled
//! are sent again with backoff. Write units are the same either way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementErrorCodeEnum, BatchStatementRequest};
use futures_util::stream::{self, StreamExt};

use crate::bulk::{pause_before_retry, BATCH_SIZE};
use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::Item;
use crate::table::{self, attr};
use crate::Store;

/// The cursor's attribute: the first hour (epoch hours) not yet swept completely.
const NEXT_HOUR: &str = "next_hour";
const CURSOR_KIND: &str = "housekeeping";

/// An hour is finished for good only once it ended this long ago: an index entry can
/// appear well after its record was written (indexes are eventually consistent), and an
/// hour behind the cursor is never read again.
const INDEX_SETTLE_SECONDS: i64 = 15 * 60;

/// Buckets swept at once; each has up to `SIGNOFF_DELETE_CONCURRENCY` deletes in flight.
/// Buckets are separate index partitions, so they do not compete for one partition's
/// write capacity.
const BUCKETS_IN_FLIGHT: usize = 8;

/// What sweeping one bucket left.
struct BucketSweep {
    /// The bucket was read to its end and its full batches deleted.
    finished: bool,
    /// Expired records listed but not deleted: fewer than a batch, for the caller to send
    /// with other buckets' leftovers.
    leftovers: Vec<AttributeValue>,
}

impl BucketSweep {
    /// The run's deadline or cap stopped the bucket early.
    fn stopped() -> Self {
        Self {
            finished: false,
            leftovers: Vec::new(),
        }
    }
}

/// One statement of a batch that DynamoDB refused for a reason retrying cannot fix.
#[derive(Debug, thiserror::Error)]
#[error("statement failed: {code}: {message}")]
struct StatementError {
    code: String,
    message: String,
}

/// What bounds one run.
#[derive(Clone, Debug)]
pub struct SweepLimits {
    /// Stop starting new work at this instant (the invocation's deadline minus a margin).
    pub deadline: Instant,
    /// Stop waiting for work in flight at this instant, save the cursor and report: a call
    /// that hangs must not cost the run its progress when Lambda ends the invocation.
    pub hard_stop: Instant,
    /// Delete at most this many records in one run.
    pub max_deletes: u64,
    /// Where the very first run starts: this many hours before now. Records that expired
    /// earlier than that are left to DynamoDB's TTL.
    pub first_run_lookback_hours: u32,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepEnd {
    /// Every expired record the index listed was handled.
    Complete,
    /// The run reached its deadline.
    Deadline,
    /// The run reached its cap on deletes.
    Cap,
    /// A store error ended the run.
    Failed,
}

impl SweepEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepEnd::Complete => "complete",
            SweepEnd::Deadline => "deadline",
            SweepEnd::Cap => "cap",
            SweepEnd::Failed => "failed",
        }
    }
}

/// What one run did (the housekeeping function's answer, in camelCase).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Index entries read (every one of them an expired record).
    pub read: u64,
    /// Records deleted by this run.
    pub deleted: u64,
    /// Records listed as expired that were already gone or no longer expired.
    pub skipped: u64,
    /// Index queries made (one per bucket at least, then one per further page).
    pub queries: u64,
    /// Delete requests sent (BatchExecuteStatement calls of up to 25 deletes each).
    pub delete_requests: u64,
    /// Hours finished and put behind the cursor by this run.
    pub hours_finished: u64,
    /// The cursor after the run: the first hour still to sweep completely.
    pub next_hour: i64,
    /// Hours from the cursor to the current hour: how far behind housekeeping is.
    pub backlog_hours: i64,
    pub end: SweepEnd,
}

/// Counters shared by the concurrent parts of one run.
#[derive(Default)]
struct Tally {
    read: AtomicU64,
    deleted: AtomicU64,
    skipped: AtomicU64,
    queries: AtomicU64,
    delete_requests: AtomicU64,
    /// Deletes started: what the cap is checked against.
    started: AtomicU64,
}

impl Tally {
    /// Counts up to `wanted` more deletes against the cap and returns how many it granted,
    /// so concurrent batches never overshoot it.
    fn take_deletes(&self, cap: u64, wanted: usize) -> usize {
        let mut granted = 0;
        let _ = self
            .started
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                granted = cap.saturating_sub(n).min(wanted as u64);
                (granted > 0).then_some(n + granted)
            });
        granted as usize
    }

    fn report(
        &self,
        next_hour: i64,
        current_hour: i64,
        hours_finished: u64,
        end: SweepEnd,
    ) -> SweepReport {
        SweepReport {
            read: self.read.load(Ordering::Relaxed),
            deleted: self.deleted.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
            delete_requests: self.delete_requests.load(Ordering::Relaxed),
            hours_finished,
            next_hour,
            backlog_hours: (current_hour - next_hour).max(0),
            end,
        }
    }
}

/// A run that failed on a store error, with what it did before.
#[derive(Debug, thiserror::Error)]
#[error("housekeeping stopped after deleting {} record(s): {source}", report.deleted)]
pub struct SweepError {
    pub report: SweepReport,
    #[source]
    pub source: StoreError,
}

impl Store {
    /// Deletes records whose expiry is at or before `now`, from the cursor's hour up to the
    /// current one, within `limits`. On a store error the records already deleted stay
    /// deleted, the cursor keeps every hour finished before it, and the error carries what
    /// the run did until then; a later run carries on.
    pub async fn sweep_expired(
        &self,
        now: i64,
        limits: &SweepLimits,
    ) -> Result<SweepReport, SweepError> {
        let failed = |report: SweepReport| move |source| SweepError { report, source };
        // Descope logouts still accept a refresh token up to LEEWAY_SECONDS past its
        // expiry: its record must outlive that window.
        let now = now - signoff_jose::LEEWAY_SECONDS;
        let tally = Tally::default();
        let current_hour = now.div_euclid(3600);
        let first_hour = match self.housekeeping_cursor().await {
            Ok(Some(hour)) => hour,
            Ok(None) => current_hour - i64::from(limits.first_run_lookback_hours),
            Err(e) => {
                return Err(failed(tally.report(
                    current_hour,
                    current_hour,
                    0,
                    SweepEnd::Failed,
                ))(e))
            }
        };
        let mut next_hour = first_hour;
        let mut end = SweepEnd::Complete;
        let mut failure = None;
        // Records listed but not deleted yet, with their hour: buckets hand over what does
        // not fill a batch of their own.
        let mut carried: Vec<(i64, AttributeValue)> = Vec::new();
        // Every bucket from the cursor's hour on, swept BUCKETS_IN_FLIGHT at a time across
        // hour boundaries (most buckets of past hours are empty: one cheap Query each), with
        // results taken in order, so that an hour counts as finished only once it and every
        // hour before it are.
        // Once a bucket reports a stop or an error, no further bucket starts, and those
        // already started are still awaited: a delete sent is then always counted.
        let halted = AtomicBool::new(false);
        let buckets = (first_hour..=current_hour)
            .flat_map(|hour| (0..item_key::EXPIRY_SHARDS).map(move |shard| (hour, shard)))
            .take_while(|_| !halted.load(Ordering::Relaxed));
        let tally_ref = &tally;
        let mut swept = stream::iter(buckets)
            .map(|(hour, shard)| {
                let bucket = item_key::expiry_bucket(hour * 3600, shard);
                async move {
                    (
                        hour,
                        self.sweep_bucket(bucket, now, limits, tally_ref).await,
                    )
                }
            })
            .buffered(BUCKETS_IN_FLIGHT);
        let mut shards_done = 0;
        let hard_stop = tokio::time::Instant::from_std(limits.hard_stop);
        loop {
            let next = match tokio::time::timeout_at(hard_stop, swept.next()).await {
                Ok(next) => next,
                // In-flight deletes are abandoned; each is conditional, so whether or not
                // it happened, the next run sorts it out.
                Err(_) => {
                    end = SweepEnd::Deadline;
                    break;
                }
            };
            let Some((hour, outcome)) = next else { break };
            let halting = halted.load(Ordering::Relaxed);
            match outcome {
                Ok(bucket) => {
                    carried.extend(bucket.leftovers.into_iter().map(|pk| (hour, pk)));
                    if !bucket.finished || halting {
                        if !halting {
                            end = self
                                .stop_reason(limits, &tally)
                                .unwrap_or(SweepEnd::Deadline);
                            halted.store(true, Ordering::Relaxed);
                        }
                        continue;
                    }
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    halted.store(true, Ordering::Relaxed);
                    continue;
                }
            }
            // Records left over from sparse buckets fill batches together.
            match self
                .flush_carried(&mut carried, BATCH_SIZE, now, limits, &tally)
                .await
            {
                Ok(None) => {}
                Ok(Some(stop)) => {
                    end = stop;
                    halted.store(true, Ordering::Relaxed);
                    if stop == SweepEnd::Deadline {
                        break;
                    }
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    halted.store(true, Ordering::Relaxed);
                }
            }
            shards_done += 1;
            if shards_done < item_key::EXPIRY_SHARDS {
                continue;
            }
            shards_done = 0;
            // The current hour (and one that ended moments ago) may still gain expired
            // records: sweep it, but leave it in front of the cursor.
            if (hour + 1) * 3600 + INDEX_SETTLE_SECONDS <= now {
                next_hour = hour + 1;
            }
        }
        drop(swept);
        if end == SweepEnd::Complete && failure.is_none() {
            match self
                .flush_carried(&mut carried, 1, now, limits, &tally)
                .await
            {
                Ok(None) => {}
                Ok(Some(stop)) => end = stop,
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        // An hour whose records are still carried, not deleted, is not finished.
        if let Some(hour) = carried.iter().map(|(hour, _)| *hour).min() {
            next_hour = next_hour.min(hour);
        }
        if next_hour > first_hour {
            if let Err(e) = self.advance_housekeeping_cursor(next_hour).await {
                failure.get_or_insert(e);
            }
        }
        if failure.is_some() {
            end = SweepEnd::Failed;
        }
        let hours_finished = (next_hour - first_hour).max(0) as u64;
        let report = tally.report(next_hour, current_hour, hours_finished, end);
        match failure {
            None => Ok(report),
            Some(e) => Err(failed(report)(e)),
        }
    }

    fn stop_reason(&self, limits: &SweepLimits, tally: &Tally) -> Option<SweepEnd> {
        if Instant::now() >= limits.deadline {
            Some(SweepEnd::Deadline)
        } else if tally.started.load(Ordering::Relaxed) >= limits.max_deletes {
            Some(SweepEnd::Cap)
        } else {
            None
        }
    }

    /// Sweeps one bucket, page by page, deleting its expired records in full batches; what
    /// does not fill a batch is handed back as leftovers.
    async fn sweep_bucket(
        &self,
        bucket: String,
        now: i64,
        limits: &SweepLimits,
        tally: &Tally,
    ) -> Result<BucketSweep, StoreError> {
        let mut start: Option<Item> = None;
        let mut listed: Vec<AttributeValue> = Vec::new();
        loop {
            if self.stop_reason(limits, tally).is_some() {
                return Ok(BucketSweep::stopped());
            }
            tally.queries.fetch_add(1, Ordering::Relaxed);
            let page = self
                .client()
                .query()
                .table_name(self.table_name())
                .index_name(table::BY_EXPIRY.name)
                .key_condition_expression("#bucket = :bucket AND #exp <= :now")
                .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_values(":bucket", AttributeValue::S(bucket.clone()))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .limit(self.config().bulk.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            let entries = page.items.unwrap_or_default();
            tally
                .read
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            listed.extend(
                entries
                    .into_iter()
                    .filter_map(|mut entry| entry.remove(attr::PK)),
            );
            let full = listed.len() - listed.len() % BATCH_SIZE;
            let batches: Vec<AttributeValue> = listed.drain(..full).collect();
            let mut deletes = stream::iter(batches.chunks(BATCH_SIZE))
                .map(|chunk| async move {
                    if Instant::now() >= limits.deadline {
                        return Ok(false);
                    }
                    let granted = tally.take_deletes(limits.max_deletes, chunk.len());
                    if granted == 0 {
                        return Ok(false);
                    }
                    self.delete_counted(&chunk[..granted], now, tally).await?;
                    Ok::<bool, StoreError>(granted == chunk.len())
                })
                .buffer_unordered(self.config().bulk.concurrency);
            // Every delete sent is awaited and counted, even after one fails.
            let mut all_handled = true;
            let mut failure = None;
            while let Some(outcome) = deletes.next().await {
                match outcome {
                    Ok(handled) => all_handled &= handled,
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if !all_handled {
                return Ok(BucketSweep::stopped());
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => {
                    return Ok(BucketSweep {
                        finished: true,
                        leftovers: listed,
                    })
                }
            }
        }
    }

    /// Deletes `carried` records a batch at a time while at least `min_batch` remain. The
    /// reason if the run must stop: its deadline or cap, or its hard stop while a batch was
    /// in flight (that batch stays carried, so its hour stays in front of the cursor).
    async fn flush_carried(
        &self,
        carried: &mut Vec<(i64, AttributeValue)>,
        min_batch: usize,
        now: i64,
        limits: &SweepLimits,
        tally: &Tally,
    ) -> Result<Option<SweepEnd>, StoreError> {
        let hard_stop = tokio::time::Instant::from_std(limits.hard_stop);
        while carried.len() >= min_batch.max(1) {
            let batch = self.delete_carried(carried, now, limits, tally);
            match tokio::time::timeout_at(hard_stop, batch).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    return Ok(Some(
                        self.stop_reason(limits, tally)
                            .unwrap_or(SweepEnd::Deadline),
                    ))
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(Some(SweepEnd::Deadline)),
            }
        }
        Ok(None)
    }

    /// Deletes the first batch of `carried` records (up to 25, as the cap allows). False if
    /// the deadline or the cap left some of them undeleted; those, and on an error the
    /// whole batch, stay in `carried`.
    async fn delete_carried(
        &self,
        carried: &mut Vec<(i64, AttributeValue)>,
        now: i64,
        limits: &SweepLimits,
        tally: &Tally,
    ) -> Result<bool, StoreError> {
        let wanted = carried.len().min(BATCH_SIZE);
        let granted = if Instant::now() >= limits.deadline {
            0
        } else {
            tally.take_deletes(limits.max_deletes, wanted)
        };
        if granted == 0 {
            return Ok(false);
        }
        let pks: Vec<AttributeValue> = carried[..granted]
            .iter()
            .map(|(_, pk)| pk.clone())
            .collect();
        self.delete_counted(&pks, now, tally).await?;
        carried.drain(..granted);
        Ok(granted == wanted)
    }

    /// [`Store::delete_if_expired`], counted in the run's tally.
    async fn delete_counted(
        &self,
        pks: &[AttributeValue],
        now: i64,
        tally: &Tally,
    ) -> Result<(), StoreError> {
        let deleted = self.delete_if_expired(pks, now, tally).await?;
        tally.deleted.fetch_add(deleted, Ordering::Relaxed);
        tally
            .skipped
            .fetch_add(pks.len() as u64 - deleted, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes each record keyed in `pks` (at most 25) whose expiry is still at or before
    /// `now`, in one BatchExecuteStatement, sending again with backoff the statements
    /// DynamoDB throttled. Returns how many it deleted; the others were gone already, had
    /// their expiry moved forward, or were being revived by a registration right then.
    async fn delete_if_expired(
        &self,
        pks: &[AttributeValue],
        now: i64,
        tally: &Tally,
    ) -> Result<u64, StoreError> {
        debug_assert!(pks.len() <= BATCH_SIZE, "callers chunk by {BATCH_SIZE}");
        // Table names are [A-Za-z0-9_.-]+, so quoting cannot be broken out of.
        let statement = format!(
            r#"DELETE FROM "{}" WHERE "{}" = ? AND "{}" <= ? RETURNING ALL OLD *"#,
            self.table_name(),
            attr::PK,
            attr::EXPIRES_AT
        );
        let now = AttributeValue::N(now.to_string());
        let settings = &self.config().bulk;
        let mut pending: Vec<&AttributeValue> = pks.iter().collect();
        let mut deleted = 0;
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt > 0 {
                pause_before_retry(settings, attempt, pending.len()).await?;
            }
            attempt += 1;
            let statements = pending
                .iter()
                .map(|pk| {
                    BatchStatementRequest::builder()
                        .statement(&statement)
                        .parameters((*pk).clone())
                        .parameters(now.clone())
                        .build()
                        .expect("a statement is set")
                })
                .collect();
            tally.delete_requests.fetch_add(1, Ordering::Relaxed);
            let responses = self
                .client()
                .batch_execute_statement()
                .set_statements(Some(statements))
                .send()
                .await
                .map_err(|e| classify("BatchExecuteStatement", e))?
                .responses
                .unwrap_or_default();
            if responses.len() != pending.len() {
                return Err(StoreError::Corrupt(format!(
                    "BatchExecuteStatement answered {} of {} statements",
                    responses.len(),
                    pending.len()
                )));
            }
            let mut throttled = Vec::new();
            // Responses come in the order of the statements.
            for (pk, response) in pending.into_iter().zip(responses) {
                let Some(error) = response.error else {
                    // A DELETE of a missing item succeeds too, with no old item: only
                    // one that hands the item back removed something.
                    if response.item.is_some() {
                        deleted += 1;
                    }
                    continue;
                };
                match error.code {
                    Some(
                        BatchStatementErrorCodeEnum::ConditionalCheckFailed
                        | BatchStatementErrorCodeEnum::TransactionConflict,
                    ) => {}
                    Some(
                        BatchStatementErrorCodeEnum::ThrottlingError
                        | BatchStatementErrorCodeEnum::ProvisionedThroughputExceeded
                        | BatchStatementErrorCodeEnum::RequestLimitExceeded
                        | BatchStatementErrorCodeEnum::InternalServerError,
                    ) => throttled.push(pk),
                    code => {
                        let code = code.as_ref().map_or("Unknown", |c| c.as_str()).to_owned();
                        return Err(StoreError::Dynamo {
                            operation: "BatchExecuteStatement",
                            source: Box::new(StatementError {
                                code: code.clone(),
                                message: error.message.unwrap_or_default(),
                            }),
                            code,
                            retryable: false,
                        });
                    }
                }
            }
            pending = throttled;
        }
        Ok(deleted)
    }

    /// The first hour not yet swept completely, if housekeeping ever ran.
    pub async fn housekeeping_cursor(&self) -> Result<Option<i64>, StoreError> {
        let item = self.get_item(item_key::housekeeping_pk(), true).await?;
        Ok(crate::model::number(item.as_ref(), NEXT_HOUR))
    }

    /// Moves the cursor to `next_hour`, unless a concurrent run already moved it further.
    async fn advance_housekeeping_cursor(&self, next_hour: i64) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(item_key::housekeeping_pk()))
            .update_expression("SET #kind = :kind, #next = :next")
            .condition_expression("attribute_not_exists(#next) OR #next < :next")
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#next", NEXT_HOUR)
            .expression_attribute_values(":kind", AttributeValue::S(CURSOR_KIND.into()))
            .expression_attribute_values(":next", AttributeValue::N(next_hour.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}

impl SweepLimits {
    /// Limits for a run with `remaining` time: new work stops `margin` before the end (at
    /// most a fifth of the time left, so a short invocation, such as Lambda's default 3 s,
    /// still gets most of its time), and waiting for work in flight stops halfway through
    /// the margin, leaving the rest to save the cursor and report.
    pub fn within(
        remaining: Duration,
        margin: Duration,
        max_deletes: u64,
        first_run_lookback_hours: u32,
    ) -> Self {
        let start = Instant::now();
        let working = working_time(remaining, margin);
        Self {
            deadline: start + working,
            hard_stop: start + working + (remaining - working) / 2,
            max_deletes,
            first_run_lookback_hours,
        }
    }
}

fn working_time(remaining: Duration, margin: Duration) -> Duration {
    remaining.saturating_sub(margin.min(remaining / 5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_keeps_its_margin_but_never_more_than_a_fifth_of_its_time() {
        let s = Duration::from_secs;
        assert_eq!(working_time(s(300), s(5)), s(295));
        assert_eq!(working_time(s(3), s(5)), Duration::from_millis(2400));
        assert_eq!(working_time(Duration::ZERO, s(5)), Duration::ZERO);
    }
}
