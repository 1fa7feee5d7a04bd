//! Ending a session, race-free: first an end-of-session marker, then the deletion of every
//! token bound to the session. While the marker exists no token can be registered for that
//! session (see [`crate::tokens`]), so nothing registered during the logout survives it.
//!
//! A marker is kept for `session_marker_ttl` (DynamoDB's TTL then removes it). The marker
//! is also what makes a token of an ended session count as gone even if an eventually
//! consistent index read missed it: readers check it (see [`Store::session_ended`]).

use aws_sdk_dynamodb::types::AttributeValue;

use crate::bulk::{DeleteReport, IndexKey};
use crate::error::{classify, StoreError};
use crate::keys;
use crate::model::SESSION_END_KIND;
use crate::table::attr;
use crate::Store;

impl Store {
    /// Ends `session_id` of `tenant`: writes the marker, then deletes every token record
    /// bound to the session. Idempotent: ending it again deletes nothing more. On error the
    /// marker may already be written; a retry finishes the job.
    pub async fn end_session(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<DeleteReport, StoreError> {
        self.put_session_end_marker(tenant, session_id).await?;
        self.delete_indexed(&IndexKey::session(tenant, session_id))
            .await
    }

    async fn put_session_end_marker(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let now = crate::now_epoch_seconds();
        let expires_at = now + self.config().session_marker_ttl.as_secs() as i64;
        let pk = keys::session_end_pk(tenant, session_id);
        let shard = keys::TokenHash::of(&pk).shard(keys::EXPIRY_SHARDS);
        self.client()
            .put_item()
            .table_name(self.table_name())
            .item(attr::PK, AttributeValue::S(pk))
            .item(attr::KIND, AttributeValue::S(SESSION_END_KIND.into()))
            .item("ended_at", AttributeValue::N(now.to_string()))
            .item(attr::EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
            .item(
                attr::EXPIRY_BUCKET,
                AttributeValue::S(keys::expiry_bucket(expires_at, shard)),
            )
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// Whether `session_id` of `tenant` has been logged out.
    pub async fn session_ended(&self, tenant: &str, session_id: &str) -> Result<bool, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(keys::session_end_pk(tenant, session_id)),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(output.item.is_some())
    }
}
