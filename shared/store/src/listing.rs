//! Listing the tokens of a subject, a client, a client and subject, or a whole tenant
//! (Authlete's `/auth/token/get/list`), with each token's state judged exactly as a lookup
//! judges it.
//!
//! A token that a revocation has made unusable may keep its record for a while (the
//! background purge deletes what a cutoff ended; DynamoDB's TTL lags expiry by up to two
//! days), so the list reads the markers of every record in scope, as a lookup does, and
//! counts and pages only the records in the state asked for. That needs every record of
//! the scope in hand: a listing reads at most `limit` of them, and answers
//! [`TokenList::TooMany`] rather than read without bound (an index entry says nothing of
//! a token's state, and DynamoDB cannot skip to an offset without reading what precedes
//! it). A subject's tokens are one by-subject partition, a client's the by-client index's
//! shards, a tenant's the by-tenant index's; nothing walks more than its scope.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::bulk::IndexKey;
use crate::error::StoreError;
use crate::item_key::{self, CLIENT_SHARDS, PURGE_SHARDS};
use crate::model::{Item, TokenRecord};
use crate::revocation::{MarkerKeys, TokenState};
use crate::table::{self, attr};
use crate::Store;

/// BatchGetItem's limit on keys per call.
const BATCH_GET_KEYS: usize = 100;

/// Whose tokens to list, within one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListScope<'a> {
    /// A user's tokens, of one client only when `client_id` is given.
    Subject {
        subject: &'a str,
        client_id: Option<&'a str>,
    },
    /// Every token of a client.
    Client(&'a str),
    /// Every token of the tenant.
    Tenant,
}

/// Which tokens a listing counts and pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStatus {
    /// Tokens a lookup would answer live.
    Usable,
    /// Records held of tokens that are no longer usable: expired, or revoked and waiting
    /// for their record to be deleted.
    Unusable,
    /// Both.
    All,
}

impl ListStatus {
    fn admits(self, state: TokenState) -> bool {
        match self {
            ListStatus::Usable => state == TokenState::Live,
            ListStatus::Unusable => state != TokenState::Live,
            ListStatus::All => true,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPage {
    /// How many tokens of the scope are in the state asked for.
    pub total: usize,
    /// The page: in issue order (then by hash, so the order is total and stable), each
    /// with its state.
    pub tokens: Vec<(TokenRecord, TokenState)>,
}

/// What [`Store::list_tokens`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenList {
    Page(TokenPage),
    /// The scope holds more than the listing's limit of records.
    TooMany {
        limit: usize,
    },
}

impl Store {
    /// The tokens of `scope` in `tenant` whose state `status` admits: their number, and
    /// those at positions `range` of the issue order. Reads at most `limit` records (see
    /// the module documentation). The records and markers are read strongly consistent;
    /// which records the scope has comes from an index, which is not, so a token
    /// registered a moment ago may be missing from the count.
    pub async fn list_tokens(
        &self,
        tenant: &str,
        scope: ListScope<'_>,
        status: ListStatus,
        range: Range<usize>,
        limit: usize,
    ) -> Result<TokenList, StoreError> {
        let Some(pks) = self.scope_pks(tenant, scope, limit).await? else {
            return Ok(TokenList::TooMany { limit });
        };
        let client_filter = match scope {
            ListScope::Subject { client_id, .. } => client_id,
            ListScope::Client(client_id) => Some(client_id),
            ListScope::Tenant => None,
        };
        let mut records = Vec::with_capacity(pks.len());
        for item in self.get_all(pks, true).await?.into_values() {
            let record = TokenRecord::from_item(item)?;
            // The index keys are tenant-scoped; the check costs nothing and keeps a
            // listing inside its tenant whatever an index holds.
            if record.tenant == tenant && client_filter.is_none_or(|c| c == record.client_id) {
                records.push(record);
            }
        }
        let now = crate::now_epoch_seconds();
        let markers: Vec<Option<MarkerKeys>> = records
            .iter()
            .map(|r| (r.expires_at > now).then(|| MarkerKeys::of(r)))
            .collect();
        let mut marker_pks: Vec<String> = markers
            .iter()
            .flatten()
            .flat_map(|m| m.pks())
            .cloned()
            .collect();
        marker_pks.sort_unstable();
        marker_pks.dedup();
        let found = self.get_all(marker_pks, false).await?;
        let mut listed: Vec<(TokenRecord, TokenState)> = records
            .into_iter()
            .zip(markers)
            .map(|(record, markers)| {
                let state = match markers {
                    Some(markers) => markers.state(&record, &found),
                    None => TokenState::Expired,
                };
                (record, state)
            })
            .filter(|(_, state)| status.admits(*state))
            .collect();
        listed.sort_by_cached_key(|(record, _)| (record.issued_at, record.hash.encoded()));
        let total = listed.len();
        let start = range.start.min(total);
        let end = range.end.clamp(start, total);
        let tokens = listed.drain(start..end).collect();
        Ok(TokenList::Page(TokenPage { total, tokens }))
    }

    /// The table keys of every record `scope` covers, or `None` if there are more than
    /// `limit`. Index partitions are read in parallel, at most the bulk concurrency at a
    /// time, and all stop once the limit is passed.
    async fn scope_pks(
        &self,
        tenant: &str,
        scope: ListScope<'_>,
        limit: usize,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let partitions: Vec<IndexKey> = match scope {
            ListScope::Subject { subject, .. } => vec![IndexKey::subject(tenant, subject)],
            ListScope::Client(client_id) => (0..CLIENT_SHARDS)
                .map(|shard| IndexKey {
                    index: table::BY_CLIENT,
                    partition: item_key::client_shard(tenant, client_id, shard),
                    sort: None,
                })
                .collect(),
            ListScope::Tenant => (0..PURGE_SHARDS)
                .map(|shard| IndexKey {
                    index: table::BY_TENANT,
                    partition: item_key::tenant_shard(tenant, shard),
                    sort: None,
                })
                .collect(),
        };
        let seen = AtomicUsize::new(0);
        let seen = &seen;
        let per_partition: Vec<Vec<String>> = stream::iter(partitions)
            .map(|key| async move {
                let mut pks = Vec::new();
                let mut start = None;
                loop {
                    let page = self.query_keys(&key, start).await?;
                    let entries = page.items.unwrap_or_default();
                    seen.fetch_add(entries.len(), Ordering::Relaxed);
                    pks.extend(
                        entries
                            .into_iter()
                            .filter_map(|mut e| e.remove(attr::PK)?.as_s().ok().cloned()),
                    );
                    start = page.last_evaluated_key.filter(|k| !k.is_empty());
                    if start.is_none() || seen.load(Ordering::Relaxed) > limit {
                        return Ok::<_, StoreError>(pks);
                    }
                }
            })
            .buffer_unordered(self.config().bulk.concurrency)
            .try_collect()
            .await?;
        if seen.load(Ordering::Relaxed) > limit {
            return Ok(None);
        }
        let mut pks: Vec<String> = per_partition.into_iter().flatten().collect();
        pks.sort_unstable();
        pks.dedup();
        Ok(Some(pks))
    }

    /// Reads items by key, any number, in BatchGetItems of 100 with at most the bulk
    /// concurrency in flight.
    async fn get_all(
        &self,
        pks: Vec<String>,
        keep_expired: bool,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let chunks: Vec<Vec<String>> = pks.chunks(BATCH_GET_KEYS).map(<[String]>::to_vec).collect();
        stream::iter(chunks)
            .map(|chunk| self.get_many_items(chunk, keep_expired))
            .buffer_unordered(self.config().bulk.concurrency)
            .try_fold(HashMap::new(), |mut all, found| async move {
                all.extend(found);
                Ok(all)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_admits_what_it_names() {
        use TokenState::*;
        let states = [Live, Expired, SessionEnded, ClientCutOff, TenantCutOff];
        let admitted = |status: ListStatus| states.iter().filter(|s| status.admits(**s)).count();
        assert_eq!(admitted(ListStatus::Usable), 1);
        assert_eq!(admitted(ListStatus::Unusable), 4);
        assert_eq!(admitted(ListStatus::All), 5);
    }
}
