//! Looking up one token and revoking it with what goes with it. Descope's logout and
//! RFC 7009 revocation both start from a token the caller holds.
//!
//! A token counts as gone as soon as it is revoked in any way, even if its record has not
//! been deleted yet: when it has expired (DynamoDB's TTL can lag by days), when its
//! session has ended (the by-session index can lag the logout that ended it), or when its
//! user was logged out everywhere, or its grant or its device revoked, after it was issued
//! (those indexes can lag too, and a token registered while such a revocation runs may be
//! missed by it). Each of these writes a marker with the time; a lookup reads the markers
//! that concern a token in one call.
//!
//! A revocation deletes the presented token's own record last, after everything that goes
//! with it: if anything fails the caller is told, and a retry with the same token finds
//! the record and finishes the job.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::bulk::{DeleteReport, IndexKey};
use crate::error::{classify, StoreError};
use crate::item_key::{self, TokenHash};
use crate::model::number;
use crate::model::TokenRecord;
use crate::sessions::{Mark, ENDED_AT};
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

/// Whether a stored token is still usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    Live,
    /// Past its own expiry; DynamoDB's TTL has not removed it yet.
    Expired,
    /// Its session was logged out; the record was left behind (or is being deleted).
    SessionEnded,
    /// Its user was logged out everywhere after it was issued.
    UserLoggedOut,
    /// Its grant was revoked after it was issued.
    GrantRevoked,
    /// Its device's tokens for its user were revoked after it was issued.
    DeviceRevoked,
}

/// Attribute of the user, grant and device markers: when the last revocation was (epoch
/// s). A token issued at or before it is gone; issued in the same second counts as
/// before, so that no token survives because of the clock's granularity.
const REVOKED_AT: &str = "revoked_at";
/// Set on a device marker while its revocation runs, cleared when it has finished.
const PENDING: &str = "pending";
const USER_KIND: &str = "user";
const GRANT_KIND: &str = "grant";
const DEVICE_KIND: &str = "device";

impl Store {
    /// The record of a live token of `tenant`: `None` if there is none, or if it is not
    /// [`TokenState::Live`]. Reads are strongly consistent, so a token revoked a moment
    /// ago is not found.
    pub async fn find_token(
        &self,
        tenant: &str,
        hash: &TokenHash,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let now = crate::now_epoch_seconds();
        Ok(match self.lookup_token(tenant, hash, now).await? {
            Some((record, TokenState::Live)) => Some(record),
            _ => None,
        })
    }

    /// The stored record of a token of `tenant`, whatever its state, and that state.
    /// `now` is the instant expiry is judged at (a caller that allows clock skew passes
    /// an earlier one).
    pub async fn lookup_token(
        &self,
        tenant: &str,
        hash: &TokenHash,
        now: i64,
    ) -> Result<Option<(TokenRecord, TokenState)>, StoreError> {
        let token_pk = item_key::token_pk(tenant, hash);
        let Some(item) = self.get_item_even_if_expired(token_pk, true).await? else {
            return Ok(None);
        };
        let record = TokenRecord::from_item(item)?;
        if record.expires_at <= now {
            return Ok(Some((record, TokenState::Expired)));
        }
        // The markers of the token's session, user, grant and device, read together.
        let session_pk = record
            .session_id
            .as_deref()
            .map(|s| item_key::session_pk(tenant, s));
        let revoked_markers = [
            (
                record
                    .subject
                    .as_deref()
                    .map(|u| item_key::user_pk(tenant, u)),
                TokenState::UserLoggedOut,
            ),
            (
                record
                    .grant_id
                    .as_deref()
                    .map(|g| item_key::grant_pk(tenant, g)),
                TokenState::GrantRevoked,
            ),
            (
                record.device.as_ref().map(|d| {
                    item_key::device_user_pk(tenant, &d.device_id, &d.user_store, &d.user_dn)
                }),
                TokenState::DeviceRevoked,
            ),
        ];
        let pks: Vec<String> = session_pk
            .iter()
            .chain(revoked_markers.iter().filter_map(|(pk, _)| pk.as_ref()))
            .cloned()
            .collect();
        if pks.is_empty() {
            return Ok(Some((record, TokenState::Live)));
        }
        let mut markers = self.get_many(pks).await?;
        let mut marker = |pk: &Option<String>| pk.as_ref().and_then(|pk| markers.remove(pk));
        if marker(&session_pk).is_some_and(|m| m.contains_key(ENDED_AT)) {
            return Ok(Some((record, TokenState::SessionEnded)));
        }
        for (pk, state) in &revoked_markers {
            if number(marker(pk).as_ref(), REVOKED_AT).is_some_and(|t| record.issued_at <= t) {
                return Ok(Some((record, *state)));
            }
        }
        Ok(Some((record, TokenState::Live)))
    }

    /// Revokes `record`'s token and, per `cascade`, its session and grant, deleting the
    /// token's own record last (see the module documentation). Idempotent.
    pub async fn revoke_token(
        &self,
        record: &TokenRecord,
        cascade: Cascade,
    ) -> Result<DeleteReport, StoreError> {
        let keep = record.pk();
        let mut report = DeleteReport::default();
        if cascade.session {
            if let Some(session) = &record.session_id {
                report.absorb(
                    self.end_session_keeping(&record.tenant, session, Some(&keep))
                        .await?,
                );
            }
        }
        if cascade.grant {
            if let Some(grant) = &record.grant_id {
                let key = IndexKey::grant(&record.tenant, grant);
                report.absorb(self.delete_indexed_except(&key, Some(&keep)).await?);
                // Before the answer: a token of the grant the index had not listed yet
                // counts as gone from here on.
                let pk = item_key::grant_pk(&record.tenant, grant);
                self.write_marker(&pk, GRANT_KIND, REVOKED_AT, Mark::MoveForward, None)
                    .await?;
            }
        }
        let deleted = self
            .client()
            .delete_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(keep))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        if deleted.attributes.is_some_and(|old| !old.is_empty()) {
            report.deleted += 1;
        }
        Ok(report)
    }

    /// Logs `user` of `tenant` out everywhere: stamps the user's marker, so every token
    /// issued until now counts as gone at once, then deletes every token the by-subject
    /// index lists, except `keep` (the presented token, which its caller deletes last).
    pub async fn log_user_out(
        &self,
        tenant: &str,
        user: &str,
        keep: Option<&str>,
    ) -> Result<DeleteReport, StoreError> {
        let pk = item_key::user_pk(tenant, user);
        self.write_marker(&pk, USER_KIND, REVOKED_AT, Mark::MoveForward, None)
            .await?;
        self.delete_indexed_except(&IndexKey::subject(tenant, user), keep)
            .await
    }

    /// Revokes every token of `device_id` issued to the user (`user_store`, `user_dn`).
    /// The device is marked revoked for that user first, flagged pending, then the
    /// by-device index's entries are deleted and the flag cleared. So a token the index has
    /// not listed yet counts as gone too, and a call cut short by store trouble leaves a
    /// pending mark: its retry finds the mark (and whatever records remain), moves it
    /// forward and finishes, even when every record was already deleted. `None` when there
    /// is nothing to revoke: the index lists nothing and no revocation of the pair is
    /// pending (never revoked, or revoked completely before: NetIQ's 404). Nothing is
    /// written then, so a guessed id costs two reads.
    pub async fn revoke_device(
        &self,
        tenant: &str,
        device_id: &str,
        user_store: &str,
        user_dn: &str,
    ) -> Result<Option<DeleteReport>, StoreError> {
        let key = IndexKey::device_user(tenant, device_id, user_store, user_dn);
        let pk = item_key::device_user_pk(tenant, device_id, user_store, user_dn);
        if !self.index_lists_any(&key).await? {
            let marker = self.get_item(pk.clone(), true).await?;
            if !marker.is_some_and(|m| m.contains_key(PENDING)) {
                return Ok(None);
            }
        }
        self.write_marker(
            &pk,
            DEVICE_KIND,
            REVOKED_AT,
            Mark::MoveForward,
            Some(PENDING),
        )
        .await?;
        let report = self.delete_indexed(&key).await?;
        self.clear_pending(&pk).await?;
        Ok(Some(report))
    }

    /// Clears a marker's pending flag once its revocation has finished (no-op if the
    /// marker has gone meanwhile).
    async fn clear_pending(&self, pk: &str) -> Result<(), StoreError> {
        let cleared = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk.to_owned()))
            .update_expression("REMOVE #flag")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#flag", PENDING)
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match cleared {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
