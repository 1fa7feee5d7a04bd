//! Registering issued tokens. The authorization server records every token it issues (or
//! its hash) so that logout and revocation know what to delete.
//!
//! A token bound to a session is written in a transaction that also updates the session's
//! item, on condition that the session has not ended (see [`crate::sessions`] for the
//! other half): no token registered concurrently with a logout survives it.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::bulk::pause_before_conflict_retry;
use crate::error::{classify, transaction_refusal, StoreError, TransactionRefusal};
use crate::item_key;
use crate::model::StatusEntry;
use crate::model::{TokenRecord, SESSION_KIND};
use crate::sessions::{now_epoch_millis, ENDED_AT, LAST_REGISTERED_MS};
use crate::table::attr;
use crate::Store;

/// Tokens per registration call. A batch is one DynamoDB transaction: its puts plus one
/// session update per distinct session must stay within the 100-action limit.
pub const MAX_REGISTRATION_BATCH: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Nothing to register, or more than [`MAX_REGISTRATION_BATCH`] tokens at once.
    #[error("register 1 to {MAX_REGISTRATION_BATCH} tokens at a time, not {0}")]
    BatchSize(usize),
    /// A token would outlive the revocation marks that could kill it (see
    /// [`Store::register_tokens`]). Nothing was registered.
    #[error(transparent)]
    Invalid(#[from] crate::model::FieldError),
    /// Some tokens belong to sessions that have been logged out. Nothing was registered.
    #[error("session(s) already ended: {}", .sessions.join(", "))]
    SessionEnded { sessions: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a registration transaction was cancelled.
enum Cancelled {
    SessionEnded(Vec<String>),
    /// A concurrent write held one of the items (a logout, or another registration in the
    /// same session): worth retrying.
    Conflict,
}

impl Store {
    /// Registers a batch of up to [`MAX_REGISTRATION_BATCH`] validated tokens atomically:
    /// either all are stored or none is. Registering the same token again overwrites its
    /// record (the authorization server may retry).
    pub async fn register_tokens(&self, records: &[TokenRecord]) -> Result<(), RegisterError> {
        self.register_tokens_with_status(records, &[]).await
    }

    /// [`Store::register_tokens`], recording with `records[i]` the Token Status List entry
    /// `statuses[i]` when there is one (allocated by [`Store::allocate_status_entries`]):
    /// the record's presence in the by-status index is what keeps the entry VALID
    /// ([`crate::status_lists`]). A shorter `statuses` leaves the remaining records without.
    pub async fn register_tokens_with_status(
        &self,
        records: &[TokenRecord],
        statuses: &[Option<StatusEntry>],
    ) -> Result<(), RegisterError> {
        if records.is_empty() || records.len() > MAX_REGISTRATION_BATCH {
            return Err(RegisterError::BatchSize(records.len()));
        }
        // A revocation mark (session end, logout-all, grant or device) kills the tokens
        // issued at or before it and expires after `session_marker_ttl`. A token living
        // longer than that from its issue would come back to life when the mark expires.
        let max_lifetime = self.config().session_marker_ttl.as_secs() as i64;
        if let Some(record) = records
            .iter()
            .find(|r| r.expires_at.saturating_sub(r.issued_at) > max_lifetime)
        {
            let days = max_lifetime / 86_400;
            return Err(RegisterError::Invalid(crate::model::FieldError::new(
                "expiresAt",
                format!(
                    "is more than {days} days after issuedAt: revocation marks last {days} days (SIGNOFF_SESSION_MARKER_TTL_DAYS), so a longer-lived token would outlive the mark that revokes it (record {})",
                    record.hash
                ),
            )));
        }
        // (tenant, session) pairs; ordered, so cancellation reasons line up with them.
        let sessions: BTreeSet<(&str, &str)> = records
            .iter()
            .filter_map(|r| r.session_id.as_deref().map(|s| (r.tenant.as_str(), s)))
            .collect();

        if sessions.is_empty() && records.len() == 1 {
            // No session to check: a plain put costs half a transaction.
            self.client()
                .put_item()
                .table_name(self.table_name())
                .set_item(Some(
                    records[0].to_item_with_status(statuses.first().copied().flatten()),
                ))
                .send()
                .await
                .map_err(|e| classify("PutItem", e))?;
            return Ok(());
        }

        let settings = &self.config().bulk;
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                pause_before_conflict_retry(settings, attempt, "TransactWriteItems").await?;
            }
            attempt += 1;
            let result = self
                .client()
                .transact_write_items()
                .set_transact_items(Some(
                    self.registration_actions(&sessions, records, statuses),
                ))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err) => match cancellation(&err, &sessions) {
                    Some(Cancelled::SessionEnded(ended)) => {
                        return Err(RegisterError::SessionEnded { sessions: ended })
                    }
                    Some(Cancelled::Conflict) => continue,
                    None => return Err(classify("TransactWriteItems", err).into()),
                },
            }
        }
    }

    /// One update per session (stamping the registration, refused once the session has
    /// ended), then one put per token.
    fn registration_actions(
        &self,
        sessions: &BTreeSet<(&str, &str)>,
        records: &[TokenRecord],
        statuses: &[Option<StatusEntry>],
    ) -> Vec<TransactWriteItem> {
        let now_ms = now_epoch_millis();
        let now = crate::now_epoch_seconds();
        // The session item lives as long as an ended session's marker would, counted from
        // the latest registration; housekeeping or DynamoDB's TTL removes sessions nobody
        // logs out of.
        let expires_at = now + self.config().session_marker_ttl.as_secs() as i64;
        let mut actions = Vec::with_capacity(sessions.len() + records.len());
        for (tenant, session) in sessions {
            let pk = item_key::session_pk(tenant, session);
            // An end marker past its expiry is gone, even before housekeeping deletes it:
            // the session may be used again, and the stale end is dropped.
            let update = Update::builder()
                .table_name(self.table_name())
                .update_expression(
                    "SET #kind = :kind, #last = :now, #exp = :exp, #bucket = :bucket REMOVE #ended",
                )
                .condition_expression("attribute_not_exists(#ended) OR #exp <= :now_s")
                .expression_attribute_names("#kind", attr::KIND)
                .expression_attribute_names("#last", LAST_REGISTERED_MS)
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
                .expression_attribute_names("#ended", ENDED_AT)
                .expression_attribute_values(":kind", AttributeValue::S(SESSION_KIND.into()))
                .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
                .expression_attribute_values(":now_s", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
                .expression_attribute_values(
                    ":bucket",
                    AttributeValue::S(item_key::item_expiry_bucket(&pk, expires_at)),
                )
                .key(attr::PK, AttributeValue::S(pk))
                .build()
                .expect("update has its required fields");
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        for (i, record) in records.iter().enumerate() {
            let status = statuses.get(i).copied().flatten();
            let put = Put::builder()
                .table_name(self.table_name())
                .set_item(Some(record.to_item_with_status(status)))
                .build()
                .expect("put has its required fields");
            actions.push(TransactWriteItem::builder().put(put).build());
        }
        actions
    }
}

/// Reads a cancelled transaction's reasons (one per action, session updates first).
fn cancellation<R>(
    err: &SdkError<TransactWriteItemsError, R>,
    sessions: &BTreeSet<(&str, &str)>,
) -> Option<Cancelled> {
    // Only the session updates, which come first, carry conditions.
    Some(match transaction_refusal(err)? {
        TransactionRefusal::ConditionsFailed(failed) => Cancelled::SessionEnded(
            sessions
                .iter()
                .enumerate()
                .filter(|(index, _)| failed.contains(index))
                .map(|(_, (_, session))| session.to_string())
                .collect(),
        ),
        TransactionRefusal::Conflict => Cancelled::Conflict,
    })
}
