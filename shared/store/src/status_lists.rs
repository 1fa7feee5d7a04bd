//! Token Status List entries: which list and index a token's status lives at.
//!
//! Each tenant has one allocator item (`statuslists#<tenant>`): the list being filled and
//! the next free index in it. An allocation is one conditional UpdateItem that moves the
//! index on by the number of entries wanted and returns where it ended, so concurrent
//! registrations never get the same index. A list holds `capacity` entries; when the
//! next allocation would not fit, the allocator moves to a fresh list (another
//! conditional UpdateItem, which only one of the racing callers wins) and the
//! allocation is tried again there. Indexes are never handed out twice, so one is never
//! reused while a token that references it can still be valid; a full list is left as
//! it is, and stays served for as long as its tokens can live.
//!
//! What an entry says is derived, never written entry by entry: a token registered with an
//! entry carries it in its record (`status_list`, and the by-status index's keys), and an
//! entry is VALID exactly while its record is there and no tenant or client cutoff, nor
//! a running background purge, covers it. Every revocation path ends by deleting the records it revokes (a logout, RFC 7009 and
//! NetIQ cascades, device revocations, a user logged out everywhere, and the purge behind a
//! cutoff), so a revocation is a handful of small deletes, whatever the list's size, and
//! nothing rewrites a list item per revocation. A purge may take a while, so the builder
//! also reads the tenant's and each client's cutoff and the tenant's running purges of
//! users and client-and-subject pairs ([`crate::purge::RunningPurge`]; a few items), and
//! judges by the client, subject hash and issue time the index carries. Expiry needs
//! nothing: a resource server checks `exp` first, and a record DynamoDB's TTL removed
//! reads as INVALID, which is also true. The other markers (session, user, grant, device)
//! are not read: a record a revocation's index read missed keeps its entry VALID until the
//! record goes (docs/status-lists.md says when that happens).
//!
//! [`Store::status_list_snapshot`] takes what the builder needs: how far the list has been
//! handed out (read first), then, after the settle time, which entries still have a
//! record. An entry handed out after the first read counts as VALID until the next build:
//! its record may not be in the index yet. Registration writes the record right after the
//! allocation and answers 503 if that took longer than half the settle time, so an entry
//! handed out before the first read and still missing after the settle time belongs to no
//! token the authorization server was told about.
//!
//! The signed list is kept in one item per list ([`item_key::status_list_pk`]), rebuilt at
//! most once per `ttl` by whoever takes the lease on it.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::error::{classify, condition_held, StoreError};
use crate::item_key::{self, STATUS_SHARDS};
use crate::model::{number, Item};
use crate::purge::RunningPurge;
use crate::revocation::REVOKED_AT;
use crate::table::{self, attr};
use crate::Store;

/// The allocator item's attributes.
const LIST: &str = "list";
const NEXT: &str = "next";

/// The kept list item's attributes.
const LIST_KIND: &str = "statuslist";
const TOKEN: &str = "token";
const BUILT_AT_MS: &str = "built_at_ms";
const LEASE_UNTIL_MS: &str = "lease_until_ms";

pub use crate::model::StatusEntry;

/// How many times an allocation moves to a fresh list before giving up: more than one
/// move in one call means the lists are far too small for the registrations.
const MAX_ROLLOVERS: u32 = 3;

impl Store {
    /// `count` consecutive entries of one list of `tenant`, each list holding `capacity`.
    pub async fn allocate_status_entries(
        &self,
        tenant: &str,
        count: u64,
        capacity: u64,
    ) -> Result<Vec<StatusEntry>, StoreError> {
        // Callers allocate for one registration batch (at most 25) in lists of at least
        // 1,024 entries (their settings' bounds).
        assert!(
            count <= capacity,
            "{count} entries cannot fit a list of {capacity}"
        );
        if count == 0 {
            return Ok(Vec::new());
        }
        let pk = item_key::status_allocator_pk(tenant);
        for _ in 0..=MAX_ROLLOVERS {
            let result = self
                .client()
                .update_item()
                .table_name(self.table_name())
                .key(attr::PK, AttributeValue::S(pk.clone()))
                .update_expression(
                    "SET #next = if_not_exists(#next, :zero) + :count, \
                     #list = if_not_exists(#list, :zero)",
                )
                .condition_expression("attribute_not_exists(#next) OR #next <= :last_start")
                .expression_attribute_names("#next", NEXT)
                .expression_attribute_names("#list", LIST)
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":count", AttributeValue::N(count.to_string()))
                .expression_attribute_values(
                    ":last_start",
                    AttributeValue::N((capacity - count).to_string()),
                )
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match result {
                Ok(output) => {
                    let item = output.attributes;
                    let (Some(list), Some(next)) =
                        (number(item.as_ref(), LIST), number(item.as_ref(), NEXT))
                    else {
                        return Err(StoreError::Corrupt(
                            "status list allocator without list or next".into(),
                        ));
                    };
                    let (list, end) = (list as u64, next as u64);
                    return Ok((end - count..end)
                        .map(|index| StatusEntry { list, index })
                        .collect());
                }
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    self.start_next_status_list(&pk, capacity - count).await?;
                }
                Err(e) => return Err(classify("UpdateItem", e)),
            }
        }
        // Only lists filling faster than this loop runs get here: try again later.
        Err(StoreError::Contention {
            operation: "UpdateItem",
            attempts: MAX_ROLLOVERS + 1,
        })
    }

    /// Moves the allocator at `pk` to a fresh list if the current one has no room for an
    /// allocation starting at `last_start` or later. Racing callers all see the list full;
    /// one moves it on, the others' conditions fail and they simply try again.
    async fn start_next_status_list(&self, pk: &str, last_start: u64) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk.to_owned()))
            .update_expression("SET #list = #list + :one, #next = :zero")
            .condition_expression("#next > :last_start")
            .expression_attribute_names("#next", NEXT)
            .expression_attribute_names("#list", LIST)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":last_start", AttributeValue::N(last_start.to_string()))
            .send()
            .await;
        condition_held(result).map(drop)
    }
}

/// How far a list has been handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// The tenant has no such list (yet).
    Unknown,
    /// Entries `0..n` have been handed out; the list is still being filled.
    UpTo(u64),
    /// The allocator has moved on to a later list: nothing more is handed out here.
    Full,
}

/// A token that holds an entry, as the by-status index lists it. Its client is a position
/// in [`StatusListSnapshot::clients`]: a list may have a million holders and a handful of
/// clients, and the builder runs in 128 MB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHolder {
    pub index: u64,
    pub client: u32,
    /// [`item_key::status_subject_key`] of its subject; 0 for a token without one.
    pub subject: u64,
    pub issued_at: i64,
}

/// Everything a list is built from, read by [`Store::status_list_snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusListSnapshot {
    /// When the allocation was read (epoch ms): what the list says is true as of then.
    pub taken_at_ms: i64,
    /// Entries `0..allocated` had been handed out when the snapshot was taken.
    pub allocated: u64,
    pub holders: Vec<EntryHolder>,
    /// The holders' clients, each once.
    pub clients: Vec<String>,
    /// The tenant's cutoff (epoch seconds), if it has one.
    pub tenant_cutoff: Option<i64>,
    /// Each holder client's cutoff, for the clients that have one.
    pub client_cutoffs: HashMap<String, i64>,
    /// The tenant's background purges of users and client-and-subject pairs still running
    /// (or finished a moment ago): their records may not all be deleted yet.
    pub running_purges: Vec<RunningPurge>,
}

impl StatusListSnapshot {
    /// The entries below `capacity` that are INVALID: handed out, and held by no record
    /// (deleted by a revocation, or never written), or held by one a cutoff or a running
    /// purge covers. Ascending. Entries handed out after the snapshot began are left VALID.
    pub fn invalid_indexes(&self, capacity: u64) -> Vec<u64> {
        let allocated = self.allocated.min(capacity);
        // The running purges' subjects, clients and cutoffs, sorted by subject: a binary
        // search per holder (a few comparisons) where hashing a million keys would double
        // the build's instructions.
        let mut purged: Vec<(u64, PurgedClients, i64)> = Vec::new();
        for purge in &self.running_purges {
            let clients = match &purge.client_id {
                None => PurgedClients::Any,
                Some(id) => match self.clients.iter().position(|client| client == id) {
                    Some(at) => PurgedClients::Only(at as u32),
                    None => continue,
                },
            };
            purged.push((purge.subject, clients, purge.cutoff));
        }
        purged.sort_unstable_by_key(|(subject, _, _)| *subject);
        // A 4,096-bit filter of the purged subjects' low bits: nearly every holder is
        // cleared by one load and test, and only the rest are searched.
        let mut filter = [0u64; 64];
        for (subject, _, _) in &purged {
            let bit = (subject & 4095) as usize;
            filter[bit / 64] |= 1 << (bit % 64);
        }
        let maybe_purged = |subject: u64| {
            let bit = (subject & 4095) as usize;
            filter[bit / 64] & (1 << (bit % 64)) != 0
        };
        let mut live = vec![false; allocated as usize];
        for holder in &self.holders {
            if holder.index >= allocated {
                continue;
            }
            let client_cutoff = self
                .clients
                .get(holder.client as usize)
                .and_then(|client| self.client_cutoffs.get(client))
                .copied();
            let cut_off = self
                .tenant_cutoff
                .into_iter()
                .chain(client_cutoff)
                .any(|cutoff| holder.issued_at <= cutoff);
            let purging = holder.subject != 0 && maybe_purged(holder.subject) && {
                let first = purged.partition_point(|(subject, _, _)| *subject < holder.subject);
                purged[first..]
                    .iter()
                    .take_while(|(subject, _, _)| *subject == holder.subject)
                    .any(|(_, clients, cutoff)| {
                        holder.issued_at <= *cutoff
                            && match clients {
                                PurgedClients::Any => true,
                                PurgedClients::Only(client) => *client == holder.client,
                            }
                    })
            };
            if !cut_off && !purging {
                live[holder.index as usize] = true;
            }
        }
        (0..allocated).filter(|i| !live[*i as usize]).collect()
    }
}

/// Whose tokens of a subject a running purge covers: all, or one client's (a position in
/// [`StatusListSnapshot::clients`]).
enum PurgedClients {
    Any,
    Only(u32),
}

/// A signed Status List Token as kept between builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptStatusList {
    /// The compact JWT.
    pub token: String,
    /// The snapshot time it reflects (epoch ms); a build never replaces a later one.
    pub built_at_ms: i64,
    /// Its `exp` (epoch seconds): DynamoDB's TTL removes the item after it.
    pub expires_at: i64,
}

impl Store {
    /// How far `list` of `tenant` has been handed out (a strongly consistent read).
    pub async fn status_list_allocation(
        &self,
        tenant: &str,
        list: u64,
    ) -> Result<Allocation, StoreError> {
        let item = self
            .get_item(item_key::status_allocator_pk(tenant), true)
            .await?;
        let (Some(current), Some(next)) =
            (number(item.as_ref(), LIST), number(item.as_ref(), NEXT))
        else {
            return Ok(Allocation::Unknown);
        };
        let (current, next) = (current as u64, next as u64);
        Ok(match list.cmp(&current) {
            std::cmp::Ordering::Less => Allocation::Full,
            std::cmp::Ordering::Equal => Allocation::UpTo(next),
            std::cmp::Ordering::Greater => Allocation::Unknown,
        })
    }

    /// What list `list` of `tenant` (of `capacity` entries) is built from, or `None` if the
    /// tenant has no such list. Reads the allocation, waits `settle` (registration writes
    /// its records within half of it), then reads the list's by-status shards
    /// (`SIGNOFF_DELETE_CONCURRENCY` at once) and the cutoffs of the tenant and of the
    /// holders' clients.
    pub async fn status_list_snapshot(
        &self,
        tenant: &str,
        list: u64,
        capacity: u64,
        settle: Duration,
    ) -> Result<Option<StatusListSnapshot>, StoreError> {
        let taken_at_ms = crate::now_epoch_millis();
        let allocated = match self.status_list_allocation(tenant, list).await? {
            Allocation::Unknown => return Ok(None),
            Allocation::UpTo(n) => n.min(capacity),
            Allocation::Full => capacity,
        };
        if settle > Duration::ZERO {
            tokio::time::sleep(settle).await;
        }
        let concurrency = self.config().bulk.concurrency.max(1);
        let shards: Vec<Vec<(u64, String, u64, i64)>> = stream::iter(0..u64::from(STATUS_SHARDS))
            .map(|shard| self.status_shard_holders(tenant, list, shard))
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        // Each client's name once; holders point at it.
        let mut clients: Vec<String> = Vec::new();
        let mut client_numbers: HashMap<String, u32> = HashMap::new();
        let mut holders: Vec<EntryHolder> = Vec::new();
        for (index, client, subject, issued_at) in shards.into_iter().flatten() {
            let next = clients.len() as u32;
            let number = *client_numbers.entry(client).or_insert_with_key(|client| {
                clients.push(client.clone());
                next
            });
            holders.push(EntryHolder {
                index,
                client: number,
                subject,
                issued_at,
            });
        }
        holders.sort_by_key(|h| h.index);
        let tenant_pk = item_key::tenant_cutoff_pk(tenant, 0);
        let client_pks: Vec<(String, &str)> = clients
            .iter()
            .map(|client| {
                (
                    item_key::client_cutoff_pk(tenant, client, 0),
                    client.as_str(),
                )
            })
            .collect();
        let purges_pk = item_key::background_purges_pk(tenant);
        let found = self
            .get_many(
                [tenant_pk.clone(), purges_pk.clone()]
                    .into_iter()
                    .chain(client_pks.iter().map(|(pk, _)| pk.clone()))
                    .collect(),
            )
            .await?;
        let running_purges = RunningPurge::listed(found.get(&purges_pk), taken_at_ms / 1_000)?;
        let tenant_cutoff = number(found.get(&tenant_pk), REVOKED_AT);
        let client_cutoffs = client_pks
            .iter()
            .filter_map(|(pk, client)| {
                number(found.get(pk), REVOKED_AT).map(|at| (client.to_string(), at))
            })
            .collect();
        Ok(Some(StatusListSnapshot {
            taken_at_ms,
            allocated,
            holders,
            clients,
            tenant_cutoff,
            client_cutoffs,
            running_purges,
        }))
    }

    /// Every holder in one by-status shard of a list, all pages: (index, client, subject
    /// key, issued at).
    async fn status_shard_holders(
        &self,
        tenant: &str,
        list: u64,
        shard: u64,
    ) -> Result<Vec<(u64, String, u64, i64)>, StoreError> {
        let mut holders = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table_name())
                .index_name(table::BY_STATUS.name)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", attr::STATUS_SHARD)
                .expression_attribute_values(
                    ":p",
                    AttributeValue::S(item_key::status_shard(tenant, list, shard)),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in page.items.unwrap_or_default() {
                let (Some(index), Some(issued_at)) = (
                    number(Some(&item), attr::STATUS_IDX),
                    number(Some(&item), attr::ISSUED_AT),
                ) else {
                    return Err(StoreError::Corrupt(
                        "by-status entry without status_idx or issued_at".into(),
                    ));
                };
                let client_id = item
                    .get(attr::CLIENT_ID)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let subject = item
                    .get(attr::STATUS_SUBJECT)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                holders.push((index as u64, client_id, subject, issued_at));
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(holders),
            }
        }
    }

    /// The kept Status List Token of a list, if one was built (an eventually consistent
    /// read: a build a moment old may be missed, and the caller's freshness check decides).
    pub async fn kept_status_list(
        &self,
        tenant: &str,
        list: u64,
    ) -> Result<Option<KeptStatusList>, StoreError> {
        let Some(item) = self
            .get_item_even_if_expired(item_key::status_list_pk(tenant, list), false)
            .await?
        else {
            return Ok(None);
        };
        let token = item.get(TOKEN).and_then(|v| v.as_s().ok()).cloned();
        let built_at_ms = number(Some(&item), BUILT_AT_MS);
        let expires_at = number(Some(&item), attr::EXPIRES_AT);
        Ok(match (token, built_at_ms, expires_at) {
            (Some(token), Some(built_at_ms), Some(expires_at)) => Some(KeptStatusList {
                token,
                built_at_ms,
                expires_at,
            }),
            // Only a lease so far: nothing built yet.
            _ => None,
        })
    }

    /// Takes the lease on the next build of a list for `lease` from `now_ms`, unless another
    /// builder holds an unexpired one: whoever gets the lease (its end, epoch ms) builds,
    /// the others serve what is kept (or wait for it). A builder that dies loses the lease
    /// when it runs out; one that fails gives it back ([`Store::release_status_list_lease`]).
    pub async fn lease_status_list_build(
        &self,
        tenant: &str,
        list: u64,
        now_ms: i64,
        lease: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let until = now_ms + lease.as_millis() as i64;
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(item_key::status_list_pk(tenant, list)),
            )
            // A list never built has no expiry yet: a day, so that DynamoDB's TTL removes
            // the item if no build ever succeeds. A build's keep sets the real one.
            .update_expression(
                "SET #lease = :until, #kind = :kind, #exp = if_not_exists(#exp, :day_later)",
            )
            .condition_expression("attribute_not_exists(#lease) OR #lease < :now")
            .expression_attribute_names("#lease", LEASE_UNTIL_MS)
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S(LIST_KIND.into()))
            .expression_attribute_values(
                ":day_later",
                AttributeValue::N((now_ms / 1_000 + 86_400).to_string()),
            )
            .send()
            .await;
        Ok(condition_held(result)?.then_some(until))
    }

    /// Gives back the lease ending at `until` (if it is still that one) after a failed
    /// build, so that the next request tries again at once instead of waiting it out.
    pub async fn release_status_list_lease(
        &self,
        tenant: &str,
        list: u64,
        until: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(item_key::status_list_pk(tenant, list)),
            )
            .update_expression("REMOVE #lease")
            .condition_expression("#lease = :until")
            .expression_attribute_names("#lease", LEASE_UNTIL_MS)
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .send()
            .await;
        condition_held(result).map(drop)
    }

    /// Keeps a freshly built list and releases the lease, unless a build of a later
    /// snapshot is kept already (then that one stays, and this returns `false`).
    pub async fn keep_status_list(
        &self,
        tenant: &str,
        list: u64,
        kept: &KeptStatusList,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(item_key::status_list_pk(tenant, list)),
            )
            .update_expression(
                "SET #token = :token, #built = :built, #exp = :exp, #kind = :kind REMOVE #lease",
            )
            .condition_expression("attribute_not_exists(#built) OR #built < :built")
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_names("#built", BUILT_AT_MS)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#lease", LEASE_UNTIL_MS)
            .expression_attribute_values(":token", AttributeValue::S(kept.token.clone()))
            .expression_attribute_values(":built", AttributeValue::N(kept.built_at_ms.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(kept.expires_at.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S(LIST_KIND.into()))
            .send()
            .await;
        condition_held(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clients: 0 "app", 1 "cut".
    fn holder(index: u64, client: &str, issued_at: i64) -> EntryHolder {
        EntryHolder {
            index,
            client: u32::from(client == "cut"),
            subject: 0,
            issued_at,
        }
    }

    #[test]
    fn an_entry_is_invalid_without_a_live_record_or_under_a_cutoff() {
        let snapshot = StatusListSnapshot {
            taken_at_ms: 0,
            allocated: 6,
            holders: vec![
                holder(0, "app", 100),
                holder(2, "app", 300),
                holder(3, "cut", 100),
                holder(4, "cut", 500),
                holder(5, "app", 50),
                // Handed out after the snapshot began: not judged.
                holder(7, "app", 100),
            ],
            clients: vec!["app".into(), "cut".into()],
            tenant_cutoff: Some(60),
            client_cutoffs: HashMap::from([("cut".to_owned(), 200)]),
            running_purges: vec![],
        };
        // 1: no record. 3: its client was cut off after it was issued. 5: the tenant's
        // cutoff covers it. 4 was issued after its client's cutoff.
        assert_eq!(snapshot.invalid_indexes(1_024), [1, 3, 5]);
        // Nothing at or beyond the capacity.
        assert_eq!(snapshot.invalid_indexes(2), [1]);
    }

    #[test]
    fn a_running_purge_covers_its_subjects_tokens_issued_by_its_cutoff_and_of_its_client() {
        let (alice, bob) = (
            item_key::status_subject_key("alice"),
            item_key::status_subject_key("bob"),
        );
        let of = |index, client, subject, issued_at| EntryHolder {
            subject,
            ..holder(index, client, issued_at)
        };
        let snapshot = StatusListSnapshot {
            taken_at_ms: 0,
            allocated: 7,
            holders: vec![
                of(0, "app", alice, 100),
                of(1, "app", alice, 300),
                of(2, "cut", alice, 100),
                of(3, "app", bob, 100),
                of(4, "cut", bob, 100),
                of(5, "cut", bob, 300),
                of(6, "app", 0, 100),
            ],
            clients: vec!["app".into(), "cut".into()],
            tenant_cutoff: None,
            client_cutoffs: HashMap::new(),
            running_purges: vec![
                // Alice logged out everywhere at 200.
                RunningPurge {
                    subject: alice,
                    client_id: None,
                    cutoff: 200,
                },
                // Bob's tokens of "cut" cut off at 200; of a client no holder has, at 999.
                RunningPurge {
                    subject: bob,
                    client_id: Some("cut".into()),
                    cutoff: 200,
                },
                RunningPurge {
                    subject: bob,
                    client_id: Some("gone".into()),
                    cutoff: 999,
                },
            ],
        };
        // 1 and 5 were issued after their purge's cutoff; 3 is bob's token of another
        // client; 6 has no subject.
        assert_eq!(snapshot.invalid_indexes(1_024), [0, 2, 4]);
    }
}
