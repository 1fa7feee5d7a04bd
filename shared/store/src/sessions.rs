//! Ending a session, race-free.
//!
//! Every registration of a token bound to a session updates the session's item in the same
//! transaction, on condition that the session has not ended, and stamps the time
//! (`last_registered_ms`). Logout first marks the item ended, in one atomic update that
//! also returns that stamp, then deletes every token the by-session index lists. So a
//! registration racing a logout either committed before the mark, and is deleted, or is
//! refused.
//!
//! The index is eventually consistent: a token committed just before the mark may not be
//! listed yet. The stamp says whether that can be the case; if a registration committed
//! within the last `index_settle`, the logout waits out the rest of that window and reads
//! the index again. A session's item is kept for `session_marker_ttl` after it ends.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::bulk::{pause_before_conflict_retry, DeleteReport, IndexKey};
use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::{number, Item, SESSION_KIND};
use crate::table::attr;
use crate::Store;

/// How an end marker's time is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// The first end stands: a session stays ended from its first logout.
    KeepFirst,
    /// A later end moves the mark forward, never back: a user's latest logout-all.
    MoveForward,
}

/// Attribute names of the session item.
pub(crate) const ENDED_AT: &str = "ended_at";
pub(crate) const LAST_REGISTERED_MS: &str = "last_registered_ms";
/// The clients that held a token in the session (a string set) and its user, for the
/// session's logout to tell ([`crate::audiences`]).
pub(crate) const SESSION_CLIENTS: &str = "clients";
pub(crate) const SESSION_SUBJECT: &str = "subject";

pub fn now_epoch_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Ends `session_id` of `tenant`: marks its item ended, then deletes every token record
    /// bound to the session (twice, if a registration committed moments before: see the
    /// module documentation). Idempotent: ending it again deletes nothing more. On error the
    /// session may already be marked ended; a retry finishes the job.
    pub async fn end_session(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<DeleteReport, StoreError> {
        self.end_session_keeping(tenant, session_id, None).await
    }

    /// [`Store::end_session`], leaving the record keyed `keep` for its caller to delete
    /// last (see [`crate::revocation`]).
    pub(crate) async fn end_session_keeping(
        &self,
        tenant: &str,
        session_id: &str,
        keep: Option<&str>,
    ) -> Result<DeleteReport, StoreError> {
        let last_registered_ms = self.mark_session_ended(tenant, session_id).await?;
        let key = IndexKey::session(tenant, session_id);
        let mut report = self.delete_indexed_except(&key, keep).await?;
        if let Some(last) = last_registered_ms {
            let settled_at = last + self.config().index_settle.as_millis() as i64;
            let wait = settled_at - now_epoch_millis();
            if wait > 0 && !self.config().index_settle.is_zero() {
                tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                report.absorb(self.delete_indexed_except(&key, keep).await?);
            }
        }
        Ok(report)
    }

    /// Marks the session ended (keeping the first end time) and returns when a token was
    /// last registered for it.
    async fn mark_session_ended(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let pk = item_key::session_pk(tenant, session_id);
        let marker = self
            .write_marker(&pk, SESSION_KIND, ENDED_AT, Mark::KeepFirst, None)
            .await?;
        Ok(number(marker.as_ref(), LAST_REGISTERED_MS))
    }

    /// Writes an end marker (a session's or a user's): `kind`, the time `attribute` per
    /// `mark`, `flag` set to true if given, and an expiry of `session_marker_ttl`, which
    /// outlives the tokens the marker stands for. Returns the item as written, or `None` if a later mark was already
    /// there. Retries while a registration transaction holds the item.
    pub(crate) async fn write_marker(
        &self,
        pk: &str,
        kind: &str,
        attribute: &str,
        mark: Mark,
        flag: Option<&str>,
    ) -> Result<Option<Item>, StoreError> {
        let now = crate::now_epoch_seconds();
        let expires_at = now + self.config().session_marker_ttl.as_secs() as i64;
        let set_time = match mark {
            Mark::KeepFirst => "#at = if_not_exists(#at, :now)",
            Mark::MoveForward => "#at = :now",
        };
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                pause_before_conflict_retry(&self.config().bulk, attempt, "UpdateItem").await?;
            }
            attempt += 1;
            let mut update = self
                .client()
                .update_item()
                .table_name(self.table_name())
                .key(attr::PK, AttributeValue::S(pk.to_owned()))
                .update_expression(format!(
                    "SET #kind = :kind, {set_time}, #exp = :exp, #bucket = :bucket{}",
                    if flag.is_some() {
                        ", #flag = :true"
                    } else {
                        ""
                    }
                ))
                .expression_attribute_names("#kind", attr::KIND)
                .expression_attribute_names("#at", attribute)
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
                .expression_attribute_values(":kind", AttributeValue::S(kind.into()))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
                .expression_attribute_values(
                    ":bucket",
                    AttributeValue::S(item_key::item_expiry_bucket(pk, expires_at)),
                )
                .return_values(ReturnValue::AllNew);
            if let Some(flag) = flag {
                update = update
                    .expression_attribute_names("#flag", flag)
                    .expression_attribute_values(":true", AttributeValue::Bool(true));
            }
            if let Mark::MoveForward = mark {
                update = update.condition_expression("attribute_not_exists(#at) OR #at <= :now");
            }
            match update.send().await {
                Ok(output) => return Ok(Some(output.attributes.unwrap_or_default())),
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    return Ok(None)
                }
                Err(SdkError::ServiceError(e)) if e.err().is_transaction_conflict_exception() => {
                    continue
                }
                Err(e) => return Err(classify("UpdateItem", e)),
            }
        }
    }

    /// Whether `session_id` of `tenant` has been logged out. Token lookups use it: a token
    /// of an ended session is gone, even if its record was not deleted yet.
    pub async fn session_ended(&self, tenant: &str, session_id: &str) -> Result<bool, StoreError> {
        let item = self.get_item(item_key::session_pk(tenant, session_id), true);
        Ok(item.await?.is_some_and(|item| item.contains_key(ENDED_AT)))
    }
}
