//! The bulk-delete engine: delete every record an index key points at, however many.
//!
//! Index pages are read one after another (each page's `LastEvaluatedKey` starts the next),
//! and each page's keys go out in BatchWriteItem calls of 25 while the next page loads, with
//! at most `concurrency` calls in flight. `UnprocessedItems` are retried with capped,
//! jittered exponential backoff. The report counts the deletes DynamoDB acknowledged; if any
//! record could not be deleted the result is an error, never a success.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use futures_util::stream::{self, StreamExt};

use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::Item;
use crate::table::{self, attr, Index};
use crate::Store;

/// BatchWriteItem's limit on requests per call.
pub const BATCH_SIZE: usize = 25;

/// One key of one index: everything stored under it is what a bulk delete removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKey {
    pub index: Index,
    pub partition: String,
    pub sort: Option<String>,
}

impl IndexKey {
    pub fn session(tenant: &str, session_id: &str) -> Self {
        Self::scoped(table::BY_SESSION, tenant, session_id)
    }

    pub fn subject(tenant: &str, subject: &str) -> Self {
        Self::scoped(table::BY_SUBJECT, tenant, subject)
    }

    pub fn grant(tenant: &str, grant_id: &str) -> Self {
        Self::scoped(table::BY_GRANT, tenant, grant_id)
    }

    pub fn device_user(tenant: &str, device_id: &str, user_store: &str, user_dn: &str) -> Self {
        Self {
            index: table::BY_DEVICE,
            partition: item_key::tenant_scoped(tenant, device_id),
            sort: Some(item_key::device_user(user_store, user_dn)),
        }
    }

    fn scoped(index: Index, tenant: &str, value: &str) -> Self {
        Self {
            index,
            partition: item_key::tenant_scoped(tenant, value),
            sort: None,
        }
    }
}

/// What a bulk delete did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteReport {
    /// Records DynamoDB acknowledged as deleted.
    pub deleted: u64,
    /// Index pages read.
    pub pages: u32,
    /// BatchWriteItem calls made, retries included.
    pub batch_calls: u32,
    /// The delete stopped at its deadline with index pages left: records remain.
    pub unfinished: bool,
}

impl DeleteReport {
    /// Adds a further pass's figures to this report.
    pub fn absorb(&mut self, other: DeleteReport) {
        self.deleted += other.deleted;
        self.pages += other.pages;
        self.batch_calls += other.batch_calls;
        self.unfinished |= other.unfinished;
    }
}

/// The outcome of one batch write, retries included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub written: u64,
    pub calls: u32,
}

impl Store {
    /// Deletes every record stored under `key`. See the module documentation.
    pub async fn delete_indexed(&self, key: &IndexKey) -> Result<DeleteReport, StoreError> {
        self.delete_indexed_except(key, None).await
    }

    /// Like [`Store::delete_indexed`], but leaves the record keyed `keep` (a table `pk`)
    /// alone: a revocation deletes the revoked token's own record last, after everything
    /// that goes with it, so that a failure midway leaves it for the retry to find.
    pub async fn delete_indexed_except(
        &self,
        key: &IndexKey,
        keep: Option<&str>,
    ) -> Result<DeleteReport, StoreError> {
        self.delete_indexed_until(key, keep, None).await
    }

    /// [`Store::delete_indexed_except`] that reads no further index page after `deadline`:
    /// the pages already read are deleted, and the report says whether any were left
    /// (`unfinished`), for the caller to hand to the background purge.
    pub async fn delete_indexed_until(
        &self,
        key: &IndexKey,
        keep: Option<&str>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<DeleteReport, StoreError> {
        let concurrency = self.config().bulk.concurrency.max(1);
        // The channel holds a few batches so that reading runs ahead of writing, but only
        // a few: a slow table applies back-pressure to the reader instead of memory growing.
        let (keys_tx, mut keys_rx) = tokio::sync::mpsc::channel::<Vec<Item>>(concurrency * 2);

        let reader = async move {
            let mut pages = 0u32;
            let mut start = None;
            loop {
                if start.is_some() && deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return Ok::<(u32, bool), StoreError>((pages, true));
                }
                let page = self.query_keys(key, start.take()).await?;
                pages += 1;
                let mut entries = page.items.unwrap_or_default();
                if let Some(keep) = keep {
                    entries.retain(|entry| {
                        entry
                            .get(attr::PK)
                            .and_then(|v| v.as_s().ok())
                            .map(String::as_str)
                            != Some(keep)
                    });
                }
                for chunk in entries.chunks(BATCH_SIZE) {
                    if keys_tx.send(chunk.to_vec()).await.is_err() {
                        // The writer stopped on an error; it reports it.
                        return Ok((pages, false));
                    }
                }
                match page.last_evaluated_key {
                    Some(next) if !next.is_empty() => start = Some(next),
                    _ => return Ok((pages, false)),
                }
            }
        };

        let writer = async move {
            let batches = stream::poll_fn(|cx| keys_rx.poll_recv(cx))
                .map(|entries| self.delete_keys(entries))
                .buffer_unordered(concurrency);
            futures_util::pin_mut!(batches);
            let mut report = DeleteReport::default();
            while let Some(outcome) = batches.next().await {
                let outcome = outcome?;
                report.deleted += outcome.written;
                report.batch_calls += outcome.calls;
            }
            Ok::<DeleteReport, StoreError>(report)
        };

        // Both run to completion: if the reader fails, batches already queued still finish
        // (nothing is left half-sent), and the reader's error is returned.
        let (pages, report) = tokio::join!(reader, writer);
        let mut report = report?;
        (report.pages, report.unfinished) = pages?;
        Ok(report)
    }

    /// One page of the table keys stored under `key` (up to `SIGNOFF_QUERY_PAGE_SIZE`),
    /// from `start`: the index pager of the bulk-delete engine.
    pub async fn query_keys(
        &self,
        key: &IndexKey,
        start: Option<Item>,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput, StoreError> {
        self.query_page(key, start, self.config().bulk.page_size)
            .await
    }

    /// Whether the index lists anything under `key` (one Query of one key).
    pub async fn index_lists_any(&self, key: &IndexKey) -> Result<bool, StoreError> {
        let page = self.query_page(key, None, 1).await?;
        Ok(page.items.is_some_and(|items| !items.is_empty()))
    }

    async fn query_page(
        &self,
        key: &IndexKey,
        start: Option<Item>,
        limit: i32,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput, StoreError> {
        let mut query = self
            .client()
            .query()
            .table_name(self.table_name())
            .index_name(key.index.name)
            .expression_attribute_names("#p", key.index.partition_key.0)
            .expression_attribute_values(":p", AttributeValue::S(key.partition.clone()))
            .limit(limit)
            .set_exclusive_start_key(start);
        query = match (&key.sort, key.index.sort_key) {
            (Some(sort), Some((sort_attr, _))) => query
                .key_condition_expression("#p = :p AND #s = :s")
                .expression_attribute_names("#s", sort_attr)
                .expression_attribute_values(":s", AttributeValue::S(sort.clone())),
            _ => query.key_condition_expression("#p = :p"),
        };
        query.send().await.map_err(|e| classify("Query", e))
    }

    /// Deletes the table items whose keys are in `entries` (index entries or items).
    pub(crate) async fn delete_keys(&self, entries: Vec<Item>) -> Result<BatchOutcome, StoreError> {
        let requests = entries
            .into_iter()
            .filter_map(|mut entry| entry.remove(attr::PK))
            .map(|pk| {
                let delete = DeleteRequest::builder()
                    .key(attr::PK, pk)
                    .build()
                    .expect("delete request has a key");
                WriteRequest::builder().delete_request(delete).build()
            })
            .collect();
        self.write_batch(requests).await
    }

    /// Writes up to 25 put/delete requests in one BatchWriteItem, retrying whatever
    /// DynamoDB leaves unprocessed with capped, full-jitter exponential backoff. Duplicate
    /// keys are dropped first (DynamoDB rejects a batch that names a key twice).
    async fn write_batch(&self, requests: Vec<WriteRequest>) -> Result<BatchOutcome, StoreError> {
        debug_assert!(
            requests.len() <= BATCH_SIZE,
            "callers chunk by {BATCH_SIZE}"
        );
        let mut seen = HashSet::new();
        let mut pending: Vec<WriteRequest> = requests
            .into_iter()
            .filter(|r| seen.insert(request_pk(r)))
            .collect();
        let mut outcome = BatchOutcome::default();
        let settings = &self.config().bulk;
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt > 0 {
                pause_before_retry(settings, attempt, pending.len()).await?;
            }
            attempt += 1;
            let sent = pending.len() as u64;
            outcome.calls += 1;
            let response = self
                .client()
                .batch_write_item()
                .request_items(self.table_name(), pending)
                .send()
                .await
                .map_err(|e| classify("BatchWriteItem", e))?;
            pending = response
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(self.table_name()))
                .unwrap_or_default();
            outcome.written += sent - pending.len() as u64;
        }
        Ok(outcome)
    }
}

fn request_pk(request: &WriteRequest) -> Option<String> {
    let key = match (&request.delete_request, &request.put_request) {
        (Some(delete), _) => delete.key.get(attr::PK),
        (None, Some(put)) => put.item.get(attr::PK),
        (None, None) => None,
    };
    key.and_then(|v| v.as_s().ok()).cloned()
}

/// Waits before retrying what DynamoDB left unprocessed, or gives up with
/// [`StoreError::Unprocessed`] once `attempt` reaches the configured maximum.
pub(crate) async fn pause_before_retry(
    settings: &crate::config::BulkSettings,
    attempt: u32,
    remaining: usize,
) -> Result<(), StoreError> {
    if attempt >= settings.max_attempts {
        return Err(StoreError::Unprocessed {
            remaining,
            attempts: attempt,
        });
    }
    tokio::time::sleep(backoff(
        attempt,
        settings.base_backoff,
        settings.max_backoff,
    ))
    .await;
    Ok(())
}

/// Waits before retrying a write that collided with a concurrent transaction, or gives up
/// with [`StoreError::Contention`] once `attempt` reaches the configured maximum.
pub(crate) async fn pause_before_conflict_retry(
    settings: &crate::config::BulkSettings,
    attempt: u32,
    operation: &'static str,
) -> Result<(), StoreError> {
    pause_before_retry(settings, attempt, 0)
        .await
        .map_err(|_| StoreError::Contention {
            operation,
            attempts: attempt,
        })
}

/// Full-jitter exponential backoff: a random wait between zero and
/// `min(cap, base * 2^(attempt-1))`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(cap);
    ceiling.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(10);
        let cap = Duration::from_millis(100);
        for _ in 0..100 {
            assert!(backoff(1, base, cap) <= Duration::from_millis(10));
            assert!(backoff(3, base, cap) <= Duration::from_millis(40));
            assert!(backoff(30, base, cap) <= cap);
        }
    }

    #[test]
    fn index_keys_are_tenant_scoped() {
        assert_eq!(IndexKey::session("t1", "s").partition, "t1#s");
        assert_ne!(IndexKey::session("t1", "s"), IndexKey::session("t2", "s"));
        let device = IndexKey::device_user("t1", "d1", "ldap", "cn=a");
        assert_eq!(device.sort.as_deref(), Some("ldap#cn=a"));
    }
}
