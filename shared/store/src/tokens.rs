//! Registering issued tokens. The authorization server records every token it issues (or
//! its hash) so that logout and revocation know what to delete.
//!
//! A token bound to a session is written in a transaction that also updates the session's
//! item, on condition that the session has not ended (see [`crate::sessions`] for the
//! other half): no token registered concurrently with a logout survives it.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::bulk::pause_before_conflict_retry;
use crate::error::{classify, condition_held, transaction_refusal, StoreError, TransactionRefusal};
use crate::item_key;
use crate::model::{number, Item, StatusEntry, TokenRecord, SESSION_KIND, STATUS_LIST};
use crate::sessions::{
    now_epoch_millis, ENDED_AT, LAST_REGISTERED_MS, SESSION_CLIENTS, SESSION_SUBJECT,
};
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

/// How many times one registration re-reads the entries other writes stored under it
/// (a retried registration racing its first attempt settles in one).
const MAX_ENTRY_REREADS: u32 = 3;

/// What a token's put does about its Token Status List entry, and the condition that
/// keeps a stored entry from being overwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryPlan {
    /// The record holds no entry (or does not exist): store this fresh one, or none.
    Fresh(Option<StatusEntry>),
    /// The record holds this entry: keep it.
    Kept(StatusEntry),
}

impl EntryPlan {
    fn entry(self) -> Option<StatusEntry> {
        match self {
            EntryPlan::Fresh(entry) => entry,
            EntryPlan::Kept(entry) => Some(entry),
        }
    }
}

/// A token's put with its condition, for a PutItem or a transaction's Put.
struct ConditionalPut {
    item: Item,
    condition: &'static str,
    names: HashMap<String, String>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl ConditionalPut {
    fn of(record: &TokenRecord, plan: EntryPlan) -> Self {
        let mut names = HashMap::from([("#sidx".to_owned(), attr::STATUS_IDX.to_owned())]);
        let (condition, values) = match plan {
            EntryPlan::Fresh(_) => ("attribute_not_exists(#sidx)", None),
            EntryPlan::Kept(entry) => {
                names.insert("#slist".into(), STATUS_LIST.into());
                let values = HashMap::from([
                    (
                        ":slist".to_owned(),
                        AttributeValue::N(entry.list.to_string()),
                    ),
                    (
                        ":sidx".to_owned(),
                        AttributeValue::N(entry.index.to_string()),
                    ),
                ]);
                ("#slist = :slist AND #sidx = :sidx", Some(values))
            }
        };
        Self {
            item: record.to_item_with_status(plan.entry()),
            condition,
            names,
            values,
        }
    }
}

impl Store {
    /// Registers a batch of up to [`MAX_REGISTRATION_BATCH`] validated tokens atomically:
    /// either all are stored or none is. Registering the same token again overwrites its
    /// record (the authorization server may retry), keeping its status entry if it has one.
    pub async fn register_tokens(&self, records: &[TokenRecord]) -> Result<(), RegisterError> {
        self.register_tokens_with_status(records, &[])
            .await
            .map(drop)
    }

    /// [`Store::register_tokens`], recording with `records[i]` the Token Status List entry
    /// `statuses[i]` when there is one (allocated by [`Store::allocate_status_entries`]):
    /// the record's presence in the by-status index is what keeps the entry VALID
    /// ([`crate::status_lists`]). A shorter `statuses` leaves the remaining records without.
    ///
    /// A token registered before keeps the entry its record holds, whatever `statuses`
    /// says: the authorization server may have embedded it in the token already (a retry
    /// whose first attempt it timed out on, landing after or before the retry). So every
    /// put is conditional on the entry it expects to find, and a put that finds another
    /// re-reads it and tries again. Returns each record's entry as stored, in order; a
    /// fresh entry that was not stored is never referenced, and reads INVALID.
    pub async fn register_tokens_with_status(
        &self,
        records: &[TokenRecord],
        statuses: &[Option<StatusEntry>],
    ) -> Result<Vec<Option<StatusEntry>>, RegisterError> {
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
        // The users' clients are noted alongside: a logout-all reads them to know whom to
        // tell (crate::audiences). Noted even if the registration is refused: a client
        // too many is told of a logout, never one too few.
        let (entries, ()) = tokio::try_join!(
            self.write_registration(&sessions, records, statuses),
            async {
                self.note_audiences(records)
                    .await
                    .map_err(RegisterError::from)
            },
        )?;
        Ok(entries)
    }

    /// The registration's writes, retried while other writes hold its items.
    async fn write_registration(
        &self,
        sessions: &BTreeSet<(&str, &str)>,
        records: &[TokenRecord],
        statuses: &[Option<StatusEntry>],
    ) -> Result<Vec<Option<StatusEntry>>, RegisterError> {
        let mut plans: Vec<EntryPlan> = (0..records.len())
            .map(|i| EntryPlan::Fresh(statuses.get(i).copied().flatten()))
            .collect();
        let settings = &self.config().bulk;
        let (mut conflicts, mut rereads) = (0, 0);
        loop {
            let outcome = if sessions.is_empty() && records.len() == 1 {
                // No session to check: a plain put costs half a transaction.
                self.put_token(&records[0], plans[0]).await?
            } else {
                self.register_in_transaction(sessions, records, &plans)
                    .await?
            };
            match outcome {
                Written::All => return Ok(plans.iter().map(|p| p.entry()).collect()),
                Written::SessionEnded(ended) => {
                    return Err(RegisterError::SessionEnded { sessions: ended })
                }
                Written::Conflict => {
                    conflicts += 1;
                    pause_before_conflict_retry(settings, conflicts, "TransactWriteItems").await?;
                }
                Written::EntriesChanged(positions) => {
                    rereads += 1;
                    if rereads > MAX_ENTRY_REREADS {
                        return Err(StoreError::Contention {
                            operation: "PutItem",
                            attempts: rereads,
                        }
                        .into());
                    }
                    self.reread_entries(records, statuses, &positions, &mut plans)
                        .await?;
                }
            }
        }
    }

    /// Takes back fresh entries that were stored too late to be trusted (see the
    /// registration function): each `(record, entry)`'s record drops the entry if it
    /// still holds it, so that a retry of the registration hands out a fresh one. The
    /// entries were never answered to anyone; they read INVALID from the next build on.
    pub async fn take_back_status_entries(
        &self,
        taken: &[(&TokenRecord, StatusEntry)],
    ) -> Result<(), StoreError> {
        let concurrency = self.config().bulk.concurrency.max(1);
        let keys: Vec<(String, StatusEntry)> = taken
            .iter()
            .map(|(record, entry)| (record.pk(), *entry))
            .collect();
        stream::iter(keys)
            .map(|(pk, entry)| self.take_back_status_entry(pk, entry))
            .buffer_unordered(concurrency)
            .try_collect::<()>()
            .await
    }

    async fn take_back_status_entry(
        &self,
        pk: String,
        entry: StatusEntry,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk))
            .update_expression("REMOVE #shard, #sidx, #slist")
            .condition_expression("#slist = :slist AND #sidx = :sidx")
            .expression_attribute_names("#shard", attr::STATUS_SHARD)
            .expression_attribute_names("#sidx", attr::STATUS_IDX)
            .expression_attribute_names("#slist", STATUS_LIST)
            .expression_attribute_values(":slist", AttributeValue::N(entry.list.to_string()))
            .expression_attribute_values(":sidx", AttributeValue::N(entry.index.to_string()))
            .send()
            .await;
        // Not held: the record is gone, or holds another entry; nothing of ours to take back.
        condition_held(result).map(drop)
    }

    /// One token without a session: a conditional PutItem.
    async fn put_token(
        &self,
        record: &TokenRecord,
        plan: EntryPlan,
    ) -> Result<Written, StoreError> {
        let put = ConditionalPut::of(record, plan);
        let result = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(put.item))
            .condition_expression(put.condition)
            .set_expression_attribute_names(Some(put.names))
            .set_expression_attribute_values(put.values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::All),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(Written::EntriesChanged(vec![0]))
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// The batch in one transaction: the session updates, then the puts.
    async fn register_in_transaction(
        &self,
        sessions: &BTreeSet<(&str, &str)>,
        records: &[TokenRecord],
        plans: &[EntryPlan],
    ) -> Result<Written, StoreError> {
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(self.registration_actions(sessions, records, plans)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::All),
            Err(err) => match transaction_refusal(&err) {
                Some(TransactionRefusal::ConditionsFailed(failed)) => {
                    Ok(Written::from_failed(&failed, sessions))
                }
                Some(TransactionRefusal::Conflict) => Ok(Written::Conflict),
                None => Err(classify("TransactWriteItems", err)),
            },
        }
    }

    /// Reads the stored records at `positions` (consistently) and plans to keep the entry
    /// each holds; a record that is gone, or holds none, gets its fresh entry again.
    async fn reread_entries(
        &self,
        records: &[TokenRecord],
        statuses: &[Option<StatusEntry>],
        positions: &[usize],
        plans: &mut [EntryPlan],
    ) -> Result<(), StoreError> {
        let pks: Vec<String> = positions.iter().map(|&i| records[i].pk()).collect();
        let mut keys = pks.clone();
        keys.sort();
        keys.dedup();
        // Expired records too: their entry is the token's as long as the record is there.
        let stored = self.get_many_items(keys, true).await?;
        for (&i, pk) in positions.iter().zip(&pks) {
            let item = stored.get(pk);
            plans[i] = match (number(item, STATUS_LIST), number(item, attr::STATUS_IDX)) {
                (Some(list), Some(index)) => EntryPlan::Kept(StatusEntry {
                    list: list as u64,
                    index: index as u64,
                }),
                _ => EntryPlan::Fresh(statuses.get(i).copied().flatten()),
            };
        }
        Ok(())
    }

    /// One update per session (stamping the registration, refused once the session has
    /// ended), then one conditional put per token.
    fn registration_actions(
        &self,
        sessions: &BTreeSet<(&str, &str)>,
        records: &[TokenRecord],
        plans: &[EntryPlan],
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
            let members = || {
                records
                    .iter()
                    .filter(|r| r.tenant == *tenant && r.session_id.as_deref() == Some(*session))
            };
            // The session's clients and user, for its logout to tell (crate::audiences).
            let clients: BTreeSet<String> = members().map(|r| r.client_id.clone()).collect();
            let subject = members().find_map(|r| r.subject.clone());
            // An end marker past its expiry is gone, even before housekeeping deletes it:
            // the session may be used again, and the stale end is dropped.
            let mut update = Update::builder()
                .table_name(self.table_name())
                .update_expression(format!(
                    "SET #kind = :kind, #last = :now, #exp = :exp, #bucket = :bucket{} REMOVE #ended ADD #clients :clients",
                    if subject.is_some() { ", #subject = :subject" } else { "" }
                ))
                .expression_attribute_names("#clients", SESSION_CLIENTS)
                .expression_attribute_values(":clients", AttributeValue::Ss(clients.into_iter().collect()))
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
                .key(attr::PK, AttributeValue::S(pk));
            if let Some(subject) = subject {
                update = update
                    .expression_attribute_names("#subject", SESSION_SUBJECT)
                    .expression_attribute_values(":subject", AttributeValue::S(subject));
            }
            let update = update.build().expect("update has its required fields");
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        for (record, plan) in records.iter().zip(plans) {
            let conditional = ConditionalPut::of(record, *plan);
            let put = Put::builder()
                .table_name(self.table_name())
                .set_item(Some(conditional.item))
                .condition_expression(conditional.condition)
                .set_expression_attribute_names(Some(conditional.names))
                .set_expression_attribute_values(conditional.values)
                .build()
                .expect("put has its required fields");
            actions.push(TransactWriteItem::builder().put(put).build());
        }
        actions
    }
}

/// What a registration attempt's write did.
enum Written {
    All,
    /// Some tokens belong to sessions that have ended: nothing was written.
    SessionEnded(Vec<String>),
    /// A concurrent write held one of the items (a logout, or another registration in the
    /// same session): worth retrying.
    Conflict,
    /// The records at these positions hold another entry than the put expected.
    EntriesChanged(Vec<usize>),
}

impl Written {
    /// Reads a cancelled transaction's failed conditions (one per action, session updates
    /// first). An ended session wins: the registration is refused whatever its records.
    fn from_failed(failed: &[usize], sessions: &BTreeSet<(&str, &str)>) -> Self {
        let ended: Vec<String> = sessions
            .iter()
            .enumerate()
            .filter(|(index, _)| failed.contains(index))
            .map(|(_, (_, session))| session.to_string())
            .collect();
        if !ended.is_empty() {
            return Written::SessionEnded(ended);
        }
        Written::EntriesChanged(
            failed
                .iter()
                .filter_map(|index| index.checked_sub(sessions.len()))
                .collect(),
        )
    }
}
