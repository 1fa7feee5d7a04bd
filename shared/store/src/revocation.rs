//! Looking up one token and revoking it with what goes with it. Descope's logout and
//! RFC 7009 revocation both start from a token the caller holds.
//!
//! A token counts as gone as soon as it is revoked in any way, even if its record has not
//! been deleted yet: when it has expired (DynamoDB's TTL can lag by days), when its
//! session has ended (the by-session index can lag the logout that ended it), or when its
//! user was logged out everywhere, or its grant or its device revoked, or its client, its
//! client and subject, or its whole tenant cut off ([`crate::cutoffs`]), after it was
//! issued (those indexes can lag too, and a token registered while such a revocation runs
//! may be missed by it). Each of these writes a marker with the time; a lookup reads the
//! markers that concern a token in one call.
//!
//! A revocation deletes the presented token's own record last, after everything that goes
//! with it: if anything fails the caller is told, and a retry with the same token finds
//! the record and finishes the job.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use std::collections::HashMap;

use crate::bulk::{DeleteReport, IndexKey};
use crate::credentials::IntrospectionAccess;
use crate::error::{classify, condition_held, StoreError};
use crate::item_key::{self, TokenHash};
use crate::model::number;
use crate::model::Item;
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
    /// Its client's access for its subject was cut off after it was issued.
    ClientSubjectCutOff,
    /// Every token of its client was cut off after it was issued.
    ClientCutOff,
    /// Every token of its tenant was cut off after it was issued (break-glass).
    TenantCutOff,
}

/// Attribute of the user, grant and device markers: when the last revocation was (epoch
/// s). A token issued at or before it is gone; issued in the same second counts as
/// before, so that no token survives because of the clock's granularity.
pub(crate) const REVOKED_AT: &str = "revoked_at";
/// Set on a device marker while its revocation runs, cleared when it has finished.
const PENDING: &str = "pending";
const USER_KIND: &str = "user";
const GRANT_KIND: &str = "grant";
const DEVICE_KIND: &str = "device";

/// What [`Store::introspect_as_bearer`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BearerIntrospection {
    /// The bearer may introspect: who it is, what it may see, and the token (whatever its
    /// state; `None` if unknown or expired).
    Answered {
        client_id: String,
        access: IntrospectionAccess,
        /// Boxed: a token record is large beside a rejection.
        token: Option<Box<(TokenRecord, TokenState)>>,
    },
    Rejected(BearerRejection),
}

/// Why a bearer credential may not introspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BearerRejection {
    /// Unknown, expired, revoked, not an access token, or its client is gone.
    #[error("the bearer token is not a live access token of a known client")]
    InvalidToken,
    /// A live token without the introspection scope.
    #[error("the bearer token lacks the introspection scope")]
    InsufficientScope,
    /// Its client is not allowed to introspect.
    #[error("the bearer token's client is not allowed to introspect")]
    NotAllowed,
}

/// The keys of the markers that concern a token (its session, user, grant and device),
/// read together in one BatchGetItem.
pub(crate) struct MarkerKeys {
    session: Option<String>,
    revoked: [(Option<String>, TokenState); 6],
}

impl MarkerKeys {
    pub(crate) fn of(record: &TokenRecord) -> Self {
        let tenant = record.tenant.as_str();
        // Which copy of the tenant's and the client's cutoffs this token reads.
        let copy = record.hash.shard(item_key::CUTOFF_COPIES);
        MarkerKeys {
            session: record
                .session_id
                .as_deref()
                .map(|s| item_key::session_pk(tenant, s)),
            revoked: [
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
                (
                    record.subject.as_deref().map(|subject| {
                        item_key::client_subject_cutoff_pk(tenant, &record.client_id, subject)
                    }),
                    TokenState::ClientSubjectCutOff,
                ),
                (
                    Some(item_key::client_cutoff_pk(tenant, &record.client_id, copy)),
                    TokenState::ClientCutOff,
                ),
                (
                    Some(item_key::tenant_cutoff_pk(tenant, copy)),
                    TokenState::TenantCutOff,
                ),
            ],
        }
    }

    pub(crate) fn pks(&self) -> impl Iterator<Item = &String> {
        self.session
            .iter()
            .chain(self.revoked.iter().filter_map(|(pk, _)| pk.as_ref()))
    }

    /// The state of a live, unexpired `record` given the markers `found` (by key).
    pub(crate) fn state(&self, record: &TokenRecord, found: &HashMap<String, Item>) -> TokenState {
        let marker = |pk: &Option<String>| pk.as_ref().and_then(|pk| found.get(pk));
        if marker(&self.session).is_some_and(|m| m.contains_key(ENDED_AT)) {
            return TokenState::SessionEnded;
        }
        for (pk, state) in &self.revoked {
            if number(marker(pk), REVOKED_AT).is_some_and(|t| record.issued_at <= t) {
                return *state;
            }
        }
        TokenState::Live
    }
}

/// What [`Store::log_user_out`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserLogout {
    /// The user's marker (epoch seconds): every token of the user issued at or before it
    /// is gone.
    pub revoked_at: i64,
    pub report: DeleteReport,
}

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
        // Every token has markers to read: at least its client's and its tenant's cutoffs.
        let markers = MarkerKeys::of(&record);
        let found = self.get_many(markers.pks().cloned().collect()).await?;
        let state = markers.state(&record, &found);
        Ok(Some((record, state)))
    }

    /// What a resource server presenting the access token `bearer` may learn of `token`,
    /// in two consistent BatchGetItems: both token records, then the markers of both and
    /// the bearer's client. The bearer must be a live access token of `tenant` whose
    /// scope includes `required_scope`, issued to a client an operator allowed to
    /// introspect.
    pub async fn introspect_as_bearer(
        &self,
        tenant: &str,
        bearer: &TokenHash,
        token: &TokenHash,
        required_scope: &str,
        now: i64,
    ) -> Result<BearerIntrospection, StoreError> {
        let bearer_pk = item_key::token_pk(tenant, bearer);
        let token_pk = item_key::token_pk(tenant, token);
        // A BatchGetItem may not name a key twice (a caller may introspect its own token).
        let mut keys = vec![bearer_pk.clone(), token_pk.clone()];
        keys.dedup();
        let records = self.get_many(keys).await?;
        let live = |item: Option<crate::model::Item>| -> Result<Option<TokenRecord>, StoreError> {
            Ok(match item {
                Some(item) => Some(TokenRecord::from_item(item)?).filter(|r| r.expires_at > now),
                None => None,
            })
        };
        let token_record = live(records.get(&token_pk).cloned())?;
        let Some(bearer_record) = live(records.get(&bearer_pk).cloned())?
            .filter(|r| r.token_type == crate::model::TokenType::Access)
        else {
            return Ok(BearerIntrospection::Rejected(BearerRejection::InvalidToken));
        };
        let scoped = bearer_record
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == required_scope));
        let bearer_markers = MarkerKeys::of(&bearer_record);
        let token_markers = token_record.as_ref().map(MarkerKeys::of);
        let client_pk = item_key::client_pk(tenant, &bearer_record.client_id);
        let mut pks: Vec<String> = bearer_markers
            .pks()
            .chain(token_markers.iter().flat_map(MarkerKeys::pks))
            .cloned()
            .chain(std::iter::once(client_pk.clone()))
            .collect();
        pks.sort();
        pks.dedup();
        let mut found = self.get_many(pks).await?;
        if bearer_markers.state(&bearer_record, &found) != TokenState::Live {
            return Ok(BearerIntrospection::Rejected(BearerRejection::InvalidToken));
        }
        if !scoped {
            return Ok(BearerIntrospection::Rejected(
                BearerRejection::InsufficientScope,
            ));
        }
        let access = match found.remove(&client_pk) {
            Some(item) => crate::credentials::client_introspection_access(item)?,
            None => return Ok(BearerIntrospection::Rejected(BearerRejection::InvalidToken)),
        };
        if access == IntrospectionAccess::Denied {
            return Ok(BearerIntrospection::Rejected(BearerRejection::NotAllowed));
        }
        let token = match (token_record, token_markers) {
            (Some(record), Some(markers)) => {
                let state = markers.state(&record, &found);
                Some(Box::new((record, state)))
            }
            _ => None,
        };
        Ok(BearerIntrospection::Answered {
            client_id: bearer_record.client_id,
            access,
            token,
        })
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

    /// Revokes the token of `tenant` with hash `hash`, whatever its state, with the rest
    /// of its grant (Authlete's access token and the refresh token kept with it).
    /// `None`: no such token. Idempotent.
    pub async fn revoke_token_by_hash(
        &self,
        tenant: &str,
        hash: &TokenHash,
    ) -> Result<Option<DeleteReport>, StoreError> {
        let now = crate::now_epoch_seconds();
        let Some((record, _)) = self.lookup_token(tenant, hash, now).await? else {
            return Ok(None);
        };
        let cascade = Cascade {
            session: false,
            grant: true,
        };
        self.revoke_token(&record, cascade).await.map(Some)
    }

    /// Logs `user` of `tenant` out everywhere: stamps the user's marker, so every token
    /// issued until now counts as gone at once, then deletes every token the by-subject
    /// index lists, except `keep` (the presented token, which its caller deletes last),
    /// reading no index page after `deadline`. The report says whether records remain
    /// (`unfinished`): the caller hands them to the background purge, up to the returned
    /// marker time.
    pub async fn log_user_out(
        &self,
        tenant: &str,
        user: &str,
        keep: Option<&str>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<UserLogout, StoreError> {
        let pk = item_key::user_pk(tenant, user);
        let before = crate::now_epoch_seconds();
        let written = self
            .write_marker(&pk, USER_KIND, REVOKED_AT, Mark::MoveForward, None)
            .await?;
        // A later marker already there covers at least up to `before`, so `before` never
        // names a token the marker leaves live.
        let revoked_at = number(written.as_ref(), REVOKED_AT).unwrap_or(before);
        let report = self
            .delete_indexed_until(&IndexKey::subject(tenant, user), keep, deadline)
            .await?;
        Ok(UserLogout { revoked_at, report })
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
        condition_held(cleared).map(drop)
    }
}
