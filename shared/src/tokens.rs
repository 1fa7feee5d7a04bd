//! Registering issued tokens. The authorization server records every token it issues (or
//! its hash) so that logout and revocation know what to delete.
//!
//! A token bound to a session is written in a transaction with a check that the session has
//! no end-of-session marker. Logout writes that marker *before* it deletes, so a token
//! either commits before the marker (and the logout's index read finds and deletes it) or
//! is refused: none registered concurrently with a logout survives it.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

use crate::error::{classify, StoreError};
use crate::keys;
use crate::model::TokenRecord;
use crate::table::attr;
use crate::Store;

/// Tokens per registration call. A batch is one DynamoDB transaction: its puts plus one
/// session check per distinct session must stay within the 100-action limit.
pub const MAX_REGISTRATION_BATCH: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Some tokens belong to sessions that have been logged out. Nothing was registered.
    #[error("session(s) already ended: {}", .sessions.join(", "))]
    SessionEnded { sessions: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Registers a batch of up to [`MAX_REGISTRATION_BATCH`] validated tokens of one tenant,
    /// atomically: either all are stored or none is. Registering the same token again
    /// overwrites its record (the authorization server may retry).
    pub async fn register_tokens(&self, records: &[TokenRecord]) -> Result<(), RegisterError> {
        assert!(
            !records.is_empty() && records.len() <= MAX_REGISTRATION_BATCH,
            "register 1 to {MAX_REGISTRATION_BATCH} tokens at a time"
        );
        // (tenant, session) pairs to check; sorted so cancellation reasons line up with them.
        let sessions: BTreeSet<(&str, &str)> = records
            .iter()
            .filter_map(|r| r.session_id.as_deref().map(|s| (r.tenant.as_str(), s)))
            .collect();

        if sessions.is_empty() && records.len() == 1 {
            // Nothing to check: a plain put costs half a transaction.
            self.client()
                .put_item()
                .table_name(self.table_name())
                .set_item(Some(records[0].to_item()))
                .send()
                .await
                .map_err(|e| classify("PutItem", e))?;
            return Ok(());
        }

        let mut actions = Vec::with_capacity(sessions.len() + records.len());
        for (tenant, session) in &sessions {
            let check = ConditionCheck::builder()
                .table_name(self.table_name())
                .key(
                    attr::PK,
                    AttributeValue::S(keys::session_end_pk(tenant, session)),
                )
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .build()
                .expect("condition check has its required fields");
            actions.push(TransactWriteItem::builder().condition_check(check).build());
        }
        for record in records {
            let put = Put::builder()
                .table_name(self.table_name())
                .set_item(Some(record.to_item()))
                .build()
                .expect("put has its required fields");
            actions.push(TransactWriteItem::builder().put(put).build());
        }

        match self
            .client()
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                let ended = ended_sessions(&err, &sessions);
                if ended.is_empty() {
                    Err(classify("TransactWriteItems", err).into())
                } else {
                    Err(RegisterError::SessionEnded { sessions: ended })
                }
            }
        }
    }
}

/// The sessions whose checks failed, from a cancelled transaction's reasons (listed in the
/// order of the actions, session checks first).
fn ended_sessions<R>(
    err: &SdkError<TransactWriteItemsError, R>,
    sessions: &BTreeSet<(&str, &str)>,
) -> Vec<String> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return Vec::new();
    };
    cancelled
        .cancellation_reasons()
        .iter()
        .zip(sessions)
        .filter(|(reason, _)| reason.code() == Some("ConditionalCheckFailed"))
        .map(|(_, (_, session))| session.to_string())
        .collect()
}
