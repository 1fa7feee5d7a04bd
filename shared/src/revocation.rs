//! Looking up one token and revoking it with what goes with it. Descope's logout and
//! RFC 7009 revocation both start from a token the caller holds.
//!
//! A token counts as gone as soon as it is revoked in any way, even if its record has not
//! been deleted yet: when it has expired (DynamoDB's TTL can lag by days), or when its
//! session has ended (the by-session index can lag the logout that ended it).

use aws_sdk_dynamodb::types::AttributeValue;

use crate::bulk::{DeleteReport, IndexKey};
use crate::error::{classify, StoreError};
use crate::keys::{self, TokenHash};
use crate::model::TokenRecord;
use crate::table::attr;
use crate::Store;

/// What a revocation takes with the token itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cascade {
    /// End the token's session: mark it ended and delete every token bound to it.
    pub session: bool,
    /// Delete every token of the token's grant (RFC 7009 2.1: revoking a refresh token
    /// revokes the access tokens of the same authorization grant).
    pub grant: bool,
}

impl Store {
    /// The record of a live token of `tenant`: `None` if there is none, or if it has
    /// expired or its session has ended. Reads are strongly consistent, so a token
    /// revoked a moment ago is not found.
    pub async fn find_token(
        &self,
        tenant: &str,
        hash: &TokenHash,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(keys::token_pk(tenant, hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let record = TokenRecord::from_item(item)?;
        if record.expires_at <= crate::now_epoch_seconds() {
            return Ok(None);
        }
        if let Some(session) = &record.session_id {
            if self.session_ended(tenant, session).await? {
                return Ok(None);
            }
        }
        Ok(Some(record))
    }

    /// Revokes `record`'s token and, per `cascade`, its session and grant. The token's own
    /// record is deleted last: if anything fails, the caller is told, and a retry with the
    /// same token finds it and finishes the job. Idempotent.
    pub async fn revoke_token(
        &self,
        record: &TokenRecord,
        cascade: Cascade,
    ) -> Result<DeleteReport, StoreError> {
        let mut report = DeleteReport::default();
        if cascade.session {
            if let Some(session) = &record.session_id {
                report.absorb(self.end_session(&record.tenant, session).await?);
            }
        }
        if cascade.grant {
            if let Some(grant) = &record.grant_id {
                // The grant's index lists this token too: it must not go before the rest.
                report.absorb(
                    self.delete_indexed_except(
                        &IndexKey::grant(&record.tenant, grant),
                        Some(&record.pk()),
                    )
                    .await?,
                );
            }
        }
        let deleted = self
            .client()
            .delete_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(record.pk()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        if deleted.attributes.is_some_and(|old| !old.is_empty()) {
            report.deleted += 1;
        }
        Ok(report)
    }
}
