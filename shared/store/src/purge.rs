//! The background purge: deleting the records a cutoff made unusable, however many.
//!
//! A cutoff ([`crate::cutoffs`]) ends its tokens in one write; their records stay until
//! they expire unless something deletes them. A purge job does, in the background: a job
//! item says what it deletes (the cutoff's scope) and up to when (the cutoff in force), and
//! each of the by-tenant index's [`item_key::PURGE_SHARDS`] shards is walked on its own,
//! one page at a time, by whoever runs it (the purge function, fed by a queue).
//!
//! - **Resumable.** After each page a shard's item records the page's `LastEvaluatedKey`
//!   and its counts, so a worker killed midway (a timeout, a crash) leaves the next one the
//!   page it was on: at most one page is read again, and deleting a record twice is a
//!   no-op.
//! - **Idempotent, and safe to run twice at once.** A queue may deliver a message twice.
//!   Each checkpoint is conditional on the page count it read, so of two workers on one
//!   shard only one moves it on and counts the page; the other's deletes were of the same
//!   keys, and it reads the shard again.
//! - **Never past the cutoff.** The index sorts a shard by client, subject and issue time;
//!   every entry whose issue time is after the cutoff is skipped (a client and subject's
//!   query stops at the cutoff). Nothing issued later is deleted.
//! - **At the request floor.** One Query per page of up to `SIGNOFF_QUERY_PAGE_SIZE` keys,
//!   one BatchWriteItem per 25 deletes, one UpdateItem per page to checkpoint.
//!
//! - **Seen by the status lists while it runs.** A purge handed to the background for a
//!   user or a client and subject is also written to the tenant's running-purges item
//!   ([`Store::track_background_purge`]), which the Token Status List builder reads with
//!   the cutoffs: the scope's entries read INVALID from the next build on, not as the
//!   records go. The last shard to finish marks it done, and it is dropped
//!   [`RUNNING_PURGE_GRACE_SECONDS`] later ([`Store::finish_background_purge`]).
//!
//! The index is eventually consistent, so a token registered a moment before the cutoff
//! may not be listed yet: the purge leaves it, the cutoff keeps it unusable, and it expires
//! as every record does. A record written before the by-tenant index existed has no entry
//! in it, with the same result.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bulk::BATCH_SIZE;
use crate::cutoffs::Cutoff;
use crate::error::{classify, condition_held, StoreError};
use crate::item_key::{self, PURGE_SHARDS};
use crate::model::{number, Item};
use crate::table::{attr, BY_TENANT};
use crate::Store;

/// How long a job's items are kept after it was created: long enough for an operator to
/// read how it went; the purge itself takes minutes (docs/revoke-by-identity.md).
pub const PURGE_RECORD_TTL_DAYS: i64 = 30;

/// How long a finished purge stays in the tenant's running-purges item: longer than a
/// status list build takes from its first read to its last (the settle time, then the
/// index reads), so that no build reads a record the purge had already deleted, through
/// an index that had not caught up, after the purge's entry was gone.
pub const RUNNING_PURGE_GRACE_SECONDS: i64 = 300;

/// At most this many stale entries are dropped from the running-purges item per write.
const MAX_STALE_DROPPED: usize = 50;

const JOB_KIND: &str = "purge";
const RUNNING_KIND: &str = "running-purges";
/// A running purge's attribute in the running-purges item: this prefix and its job id.
const RUNNING_PREFIX: &str = "job_";
const RUNNING_SUBJECT: &str = "subject_key";
const RUNNING_CLIENT: &str = "client_id";
const RUNNING_CUTOFF: &str = "cutoff";
const RUNNING_UNTIL: &str = "until";
const SHARD_KIND: &str = "purge-shard";
const PAGES: &str = "pages";
const MATCHED: &str = "matched";
const DELETED: &str = "deleted";
const DONE: &str = "done";
const CURSOR: &str = "cursor";

/// Whose records a purge deletes: a cutoff's scope, or a user logged out everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "kebab-case")]
pub enum PurgeScope {
    /// Every token of the user (behind a user's `revoked_at` marker).
    User {
        subject: String,
    },
    Client {
        client_id: String,
    },
    ClientSubject {
        client_id: String,
        subject: String,
    },
    Tenant,
}

impl From<Cutoff<'_>> for PurgeScope {
    fn from(cutoff: Cutoff<'_>) -> Self {
        match cutoff {
            Cutoff::Client { client_id } => PurgeScope::Client {
                client_id: client_id.to_owned(),
            },
            Cutoff::ClientSubject { client_id, subject } => PurgeScope::ClientSubject {
                client_id: client_id.to_owned(),
                subject: subject.to_owned(),
            },
            Cutoff::Tenant => PurgeScope::Tenant,
        }
    }
}

impl PurgeScope {
    /// The by-tenant sort keys this scope's entries start with (none: the whole shard).
    fn sort_prefix(&self) -> Option<String> {
        match self {
            PurgeScope::User { subject } => Some(item_key::subject_sort_prefix(subject)),
            PurgeScope::ClientSubject { client_id, subject } => {
                Some(item_key::subject_client_sort_prefix(subject, client_id))
            }
            PurgeScope::Client { .. } | PurgeScope::Tenant => None,
        }
    }

    /// Whether the index entry with sort key `sort_key` is this scope's and issued at or
    /// before `cutoff`.
    fn covers(&self, sort_key: &str, cutoff: i64) -> bool {
        let Some(key) = item_key::TenantSortKey::parse(sort_key) else {
            return false;
        };
        key.issued_at <= cutoff
            && match self {
                PurgeScope::Client { client_id } => key.is_client(client_id),
                // The query's key condition already holds them to their prefix.
                PurgeScope::User { .. } | PurgeScope::ClientSubject { .. } | PurgeScope::Tenant => {
                    true
                }
            }
    }

    /// Whether a COUNT query can size the purge: a client's entries are spread through
    /// whole shards among every other client's, so its purge is measured in shards.
    pub fn countable(&self) -> bool {
        !matches!(self, PurgeScope::Client { .. })
    }

    /// For operators: what the purge covers.
    pub fn describe(&self) -> String {
        match self {
            PurgeScope::User { subject } => format!("user {subject:?}"),
            PurgeScope::Client { client_id } => format!("client {client_id:?}"),
            PurgeScope::ClientSubject { client_id, subject } => {
                format!("client {client_id:?} for subject {subject:?}")
            }
            PurgeScope::Tenant => "the whole tenant".into(),
        }
    }
}

/// A background purge of a user's or a client and subject's tokens, as the status list
/// builder judges holders by it: every token of the subject (of the client, if named)
/// issued at or before `cutoff` is revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningPurge {
    /// [`item_key::status_subject_key`] of the subject.
    pub subject: u64,
    pub client_id: Option<String>,
    pub cutoff: i64,
}

impl RunningPurge {
    /// The running purges a tenant's running-purges item lists at `now` (none without one).
    pub(crate) fn listed(item: Option<&Item>, now: i64) -> Result<Vec<Self>, StoreError> {
        let Some(item) = item else {
            return Ok(Vec::new());
        };
        let mut running = Vec::new();
        for (name, value) in item {
            if !name.starts_with(RUNNING_PREFIX) {
                continue;
            }
            let entry = value
                .as_m()
                .map_err(|_| StoreError::Corrupt(format!("running purge {name}")))?;
            let field = |key| number(Some(entry), key);
            let (Some(subject), Some(cutoff), Some(until)) = (
                entry
                    .get(RUNNING_SUBJECT)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok()),
                field(RUNNING_CUTOFF),
                field(RUNNING_UNTIL),
            ) else {
                return Err(StoreError::Corrupt(format!("running purge {name}")));
            };
            if until < now {
                continue;
            }
            running.push(RunningPurge {
                subject,
                client_id: entry
                    .get(RUNNING_CLIENT)
                    .and_then(|v| v.as_s().ok())
                    .cloned(),
                cutoff,
            });
        }
        Ok(running)
    }
}

/// A purge: the records of `scope` in `tenant` issued at or before `cutoff` go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeJob {
    pub tenant: String,
    pub job_id: String,
    #[serde(flatten)]
    pub scope: PurgeScope,
    /// Epoch seconds: the cutoff in force when the job was made.
    pub cutoff: i64,
    pub created_at: i64,
    /// How many index entries the scope had when the purge started (those issued after
    /// the cutoff included, for a user or the tenant): the length of a progress bar. None
    /// for a client ([`PurgeScope::countable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated: Option<u64>,
}

impl PurgeJob {
    /// The job for `scope` up to `cutoff`: the same id for the same cutoff, so a retried
    /// request finds the job its first attempt made.
    pub fn new(tenant: &str, scope: impl Into<PurgeScope>, cutoff_at: i64, now: i64) -> Self {
        let scope = scope.into();
        let (kind, client_id, subject) = match &scope {
            PurgeScope::User { subject } => ("user", "", subject.as_str()),
            PurgeScope::Client { client_id } => ("client", client_id.as_str(), ""),
            PurgeScope::ClientSubject { client_id, subject } => {
                ("client-subject", client_id.as_str(), subject.as_str())
            }
            PurgeScope::Tenant => ("tenant", "", ""),
        };
        let digest = Sha256::digest(
            item_key::compose(&[kind, client_id, subject, &cutoff_at.to_string()]).as_bytes(),
        );
        Self {
            tenant: tenant.to_owned(),
            // Hex, not base64url: an id that began with '-' would read as an option on a
            // command line (`signoff-admin purge-status --job -f...`).
            job_id: digest[..16].iter().map(|b| format!("{b:02x}")).collect(),
            scope,
            cutoff: cutoff_at,
            created_at: now,
            estimated: None,
        }
    }

    fn pk(&self) -> String {
        item_key::purge_job_pk(&self.tenant, &self.job_id)
    }

    fn shard_pk(&self, shard: u8) -> String {
        item_key::purge_shard_pk(&self.tenant, &self.job_id, shard)
    }

    fn expires_at(&self) -> i64 {
        self.created_at + PURGE_RECORD_TTL_DAYS * 86_400
    }

    /// Its entry in the tenant's running-purges item (name, subject key, client), for the
    /// scopes the status list builder cannot judge by a cutoff alone.
    fn running_entry(&self) -> Option<(String, u64, Option<&str>)> {
        let (subject, client) = match &self.scope {
            PurgeScope::User { subject } => (subject, None),
            PurgeScope::ClientSubject { client_id, subject } => (subject, Some(client_id.as_str())),
            // The builder reads a client's and the tenant's cutoffs themselves.
            PurgeScope::Client { .. } | PurgeScope::Tenant => return None,
        };
        Some((
            format!("{RUNNING_PREFIX}{}", self.job_id),
            item_key::status_subject_key(subject),
            client,
        ))
    }
}

/// The job item as stored.
#[derive(Serialize, Deserialize)]
struct JobItem {
    pk: String,
    kind: String,
    #[serde(flatten)]
    job: PurgeJob,
    expires_at: i64,
    expiry_bucket: String,
}

/// Where a purge stands, summed over its shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PurgeProgress {
    pub shards: u8,
    pub shards_done: u8,
    pub pages: u64,
    /// Index entries found covered by the cutoff.
    pub matched: u64,
    /// Records deleted (DynamoDB acknowledged the delete).
    pub deleted: u64,
}

impl PurgeProgress {
    pub fn is_done(&self) -> bool {
        self.shards_done == self.shards
    }

    pub fn state(&self) -> &'static str {
        if self.is_done() {
            "done"
        } else {
            "running"
        }
    }
}

/// What [`Store::purge_inline`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlinePurge {
    /// Records DynamoDB acknowledged deleting.
    pub deleted: u64,
    /// Whether every shard is finished (nothing is left for the background).
    pub finished: bool,
}

/// What one page of a shard did, and what it left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardPage {
    pub step: ShardStep,
    /// Entries of the page covered by the cutoff.
    pub matched: u64,
    /// Records DynamoDB acknowledged deleting.
    pub deleted: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardStep {
    /// More pages (or another worker moved the shard on first): call again.
    More,
    /// The shard is finished.
    Done,
}

/// A shard's item: where its walk stands.
#[derive(Default)]
struct ShardState {
    pages: u64,
    done: bool,
    cursor: Option<Item>,
}

impl ShardState {
    fn read(item: Option<Item>) -> Result<Self, StoreError> {
        let Some(item) = item else {
            return Ok(Self::default());
        };
        let cursor = match item.get(CURSOR) {
            Some(AttributeValue::M(cursor)) => Some(cursor.clone()),
            Some(_) => return Err(StoreError::Corrupt("purge shard cursor".into())),
            None => None,
        };
        Ok(Self {
            pages: number(Some(&item), PAGES).unwrap_or(0) as u64,
            done: matches!(item.get(DONE), Some(AttributeValue::Bool(true))),
            cursor,
        })
    }
}

impl Store {
    /// Records the purge of `scope` in `tenant` up to `cutoff_at` and returns it; if the
    /// same purge was recorded before (a retried request), returns that one. One PutItem.
    pub async fn create_purge(
        &self,
        tenant: &str,
        scope: impl Into<PurgeScope>,
        cutoff_at: i64,
    ) -> Result<PurgeJob, StoreError> {
        let job = PurgeJob::new(tenant, scope, cutoff_at, crate::now_epoch_seconds());
        let item = serde_dynamo::to_item(JobItem {
            pk: job.pk(),
            kind: JOB_KIND.into(),
            expires_at: job.expires_at(),
            expiry_bucket: item_key::item_expiry_bucket(&job.pk(), job.expires_at()),
            job: job.clone(),
        })
        .expect("a purge job always serializes");
        let result = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(job),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.purge_job(tenant, &job.job_id)
                    .await?
                    .ok_or_else(|| StoreError::NotReady("the purge job vanished".into()))
            }
            Err(err) => Err(classify("PutItem", err)),
        }
    }

    /// Records that `job` runs in the background, for the Token Status List builder: until
    /// it is finished, every token of its user (or client and subject) issued at or before
    /// its cutoff reads INVALID, whether or not its record is deleted yet. One UpdateItem on
    /// the tenant's running-purges item; nothing for a client's or the tenant's purge,
    /// whose cutoffs the builder reads. Idempotent. Call it before the job is queued.
    pub async fn track_background_purge(&self, job: &PurgeJob) -> Result<(), StoreError> {
        let Some((name, subject, client)) = job.running_entry() else {
            return Ok(());
        };
        let mut entry = HashMap::from([
            (
                RUNNING_SUBJECT.to_owned(),
                AttributeValue::N(subject.to_string()),
            ),
            (
                RUNNING_CUTOFF.to_owned(),
                AttributeValue::N(job.cutoff.to_string()),
            ),
            // A purge that never finishes (its job expired) stops counting with its job.
            (
                RUNNING_UNTIL.to_owned(),
                AttributeValue::N(job.expires_at().to_string()),
            ),
        ]);
        if let Some(client) = client {
            entry.insert(
                RUNNING_CLIENT.to_owned(),
                AttributeValue::S(client.to_owned()),
            );
        }
        self.client()
            .update_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(item_key::background_purges_pk(&job.tenant)),
            )
            .update_expression("SET #kind = :kind, #job = :entry")
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#job", name)
            .expression_attribute_values(":kind", AttributeValue::S(RUNNING_KIND.into()))
            .expression_attribute_values(":entry", AttributeValue::M(entry))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// Once every shard of `job` is done, marks it finished in the tenant's running-purges
    /// item: the builder goes on judging by it for [`RUNNING_PURGE_GRACE_SECONDS`], then
    /// drops it. Also drops entries whose time is up. For a tracked job, one BatchGetItem
    /// (its progress), then one consistent GetItem and at most one UpdateItem; nothing
    /// for the others. Idempotent: whoever finishes a shard calls it, and the last to
    /// finish sees them all done.
    pub async fn finish_background_purge(&self, job: &PurgeJob) -> Result<(), StoreError> {
        let Some((name, _, _)) = job.running_entry() else {
            return Ok(());
        };
        if !self.purge_progress(job).await?.is_done() {
            return Ok(());
        }
        let pk = item_key::background_purges_pk(&job.tenant);
        let Some(item) = self.get_item(pk.clone(), true).await? else {
            return Ok(());
        };
        let now = crate::now_epoch_seconds();
        let stale: Vec<&String> = item
            .iter()
            .filter(|(other, value)| {
                other.starts_with(RUNNING_PREFIX)
                    && **other != name
                    && value.as_m().is_ok_and(|entry| {
                        number(Some(entry), RUNNING_UNTIL).is_none_or(|u| u < now)
                    })
            })
            .map(|(other, _)| other)
            .take(MAX_STALE_DROPPED)
            .collect();
        let ours = item.contains_key(&name);
        if !ours && stale.is_empty() {
            return Ok(());
        }
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk));
        let mut clauses = Vec::new();
        if ours {
            clauses.push("SET #job.#until = :until".to_owned());
            update = update
                .condition_expression("attribute_exists(#job)")
                .expression_attribute_names("#job", &name)
                .expression_attribute_names("#until", RUNNING_UNTIL)
                .expression_attribute_values(
                    ":until",
                    AttributeValue::N((now + RUNNING_PURGE_GRACE_SECONDS).to_string()),
                );
        }
        if !stale.is_empty() {
            let placeholders: Vec<String> =
                (0..stale.len()).map(|i| format!("#stale{i}")).collect();
            for (placeholder, other) in placeholders.iter().zip(&stale) {
                update = update.expression_attribute_names(placeholder, *other);
            }
            clauses.push(format!("REMOVE {}", placeholders.join(", ")));
        }
        // Not held: the entry went meanwhile (another worker finished it first).
        condition_held(update.update_expression(clauses.join(" ")).send().await).map(drop)
    }

    /// The purge job `job_id` of `tenant`, if there is one (consistent read).
    pub async fn purge_job(
        &self,
        tenant: &str,
        job_id: &str,
    ) -> Result<Option<PurgeJob>, StoreError> {
        let Some(item) = self
            .get_item(item_key::purge_job_pk(tenant, job_id), true)
            .await?
        else {
            return Ok(None);
        };
        let stored: JobItem = serde_dynamo::from_item(item)
            .map_err(|e| StoreError::Corrupt(format!("purge job: {e}")))?;
        Ok(Some(stored.job))
    }

    /// Counts the index entries of the job's scope (one COUNT Query per page of each
    /// shard) and records the number on the job as its estimate; nothing for a scope that
    /// is not [`PurgeScope::countable`].
    pub async fn estimate_purge(&self, job: &PurgeJob) -> Result<Option<u64>, StoreError> {
        if !job.scope.countable() {
            return Ok(None);
        }
        let concurrency = self.config().bulk.concurrency.max(1);
        let total: u64 = stream::iter(0..PURGE_SHARDS)
            .map(|shard| self.count_shard(job, shard))
            .buffer_unordered(concurrency)
            .try_fold(0u64, |sum, n| async move { Ok(sum + n) })
            .await?;
        self.client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(job.pk()))
            .update_expression("SET #estimated = :n")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#estimated", "estimated")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":n", AttributeValue::N(total.to_string()))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(Some(total))
    }

    async fn count_shard(&self, job: &PurgeJob, shard: u8) -> Result<u64, StoreError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let page = self
                .shard_query(job, shard, start.take())
                .select(Select::Count)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            count += page.count.max(0) as u64;
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(count),
            }
        }
    }

    /// Runs `job` here, shard by shard (`SIGNOFF_DELETE_CONCURRENCY` shards at once),
    /// reading no page after `deadline` (`None`: until it is finished). What a revocation
    /// does inside its call before it hands the rest to the background purge: the shards'
    /// checkpoints are the same, so a worker given the job later resumes each shard where
    /// this stopped and skips the finished ones.
    pub async fn purge_inline(
        &self,
        job: &PurgeJob,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<InlinePurge, StoreError> {
        let concurrency = self.config().bulk.concurrency.max(1);
        stream::iter(0..PURGE_SHARDS)
            .map(|shard| self.drain_shard(job, shard, deadline))
            .buffer_unordered(concurrency)
            .try_fold(
                InlinePurge {
                    deleted: 0,
                    finished: true,
                },
                |sum, (deleted, done)| async move {
                    Ok(InlinePurge {
                        deleted: sum.deleted + deleted,
                        finished: sum.finished && done,
                    })
                },
            )
            .await
    }

    /// Pages of `shard` until it is done or `deadline` has passed: (deleted, done).
    async fn drain_shard(
        &self,
        job: &PurgeJob,
        shard: u8,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<(u64, bool), StoreError> {
        let mut deleted = 0;
        loop {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Ok((deleted, false));
            }
            let page = self.purge_shard_page(job, shard).await?;
            deleted += page.deleted;
            if page.step == ShardStep::Done {
                return Ok((deleted, true));
            }
        }
    }

    /// Where `job` stands: its shards' items, read in one BatchGetItem.
    pub async fn purge_progress(&self, job: &PurgeJob) -> Result<PurgeProgress, StoreError> {
        // 64 shards: one BatchGetItem (its limit is 100 keys).
        let items = self
            .get_many((0..PURGE_SHARDS).map(|s| job.shard_pk(s)).collect())
            .await?;
        let mut progress = PurgeProgress {
            shards: PURGE_SHARDS,
            ..PurgeProgress::default()
        };
        for item in items.values() {
            let state = ShardState::read(Some(item.clone()))?;
            progress.pages += state.pages;
            progress.shards_done += u8::from(state.done);
            progress.matched += number(Some(item), MATCHED).unwrap_or(0) as u64;
            progress.deleted += number(Some(item), DELETED).unwrap_or(0) as u64;
        }
        Ok(progress)
    }

    /// Deletes one page of `shard`'s records covered by `job` and records how far it got.
    /// See the module documentation.
    pub async fn purge_shard_page(
        &self,
        job: &PurgeJob,
        shard: u8,
    ) -> Result<ShardPage, StoreError> {
        let pk = job.shard_pk(shard);
        let state = ShardState::read(self.get_item(pk.clone(), true).await?)?;
        if state.done {
            return Ok(ShardPage {
                step: ShardStep::Done,
                matched: 0,
                deleted: 0,
            });
        }
        let page = self
            .shard_query(job, shard, state.cursor.clone())
            .limit(self.config().bulk.page_size)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let covered: Vec<Item> = page
            .items
            .unwrap_or_default()
            .into_iter()
            .filter(|entry| {
                entry
                    .get(attr::SUBJECT_CLIENT_ISSUED)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sort| job.scope.covers(sort, job.cutoff))
            })
            .collect();
        let matched = covered.len() as u64;
        let deleted = self.delete_entries(covered).await?;
        let next = page.last_evaluated_key.filter(|next| !next.is_empty());
        let done = next.is_none();
        let checkpoint = self.checkpoint_shard(job, &pk, &state, next, matched, deleted);
        let step = match checkpoint.await {
            Ok(()) if done => ShardStep::Done,
            Ok(()) => ShardStep::More,
            // Another worker checkpointed this page first; it counted it.
            Err(Checkpoint::Lost) => ShardStep::More,
            Err(Checkpoint::Failed(err)) => return Err(err),
        };
        Ok(ShardPage {
            step,
            matched,
            deleted,
        })
    }

    /// Deletes the table items `entries` (index entries) name: BatchWriteItem calls of 25,
    /// `SIGNOFF_DELETE_CONCURRENCY` in flight. Returns how many DynamoDB acknowledged.
    async fn delete_entries(&self, entries: Vec<Item>) -> Result<u64, StoreError> {
        let concurrency = self.config().bulk.concurrency.max(1);
        let batches: Vec<Vec<Item>> = entries.chunks(BATCH_SIZE).map(<[_]>::to_vec).collect();
        stream::iter(batches)
            .map(|batch| self.delete_keys(batch))
            .buffer_unordered(concurrency)
            .try_fold(
                0u64,
                |sum, outcome| async move { Ok(sum + outcome.written) },
            )
            .await
    }

    /// The Query of one shard of `job`'s scope, from `start`.
    fn shard_query(
        &self,
        job: &PurgeJob,
        shard: u8,
        start: Option<Item>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self
            .client()
            .query()
            .table_name(self.table_name())
            .index_name(BY_TENANT.name)
            .expression_attribute_names("#p", attr::TENANT_SHARD)
            .expression_attribute_values(
                ":p",
                AttributeValue::S(item_key::tenant_shard(&job.tenant, shard)),
            )
            .set_exclusive_start_key(start);
        match (&job.scope, job.scope.sort_prefix()) {
            // The subject's entries end at the cutoff: the query stops there.
            (PurgeScope::ClientSubject { .. }, Some(prefix)) => query
                .key_condition_expression("#p = :p AND #s BETWEEN :low AND :high")
                .expression_attribute_names("#s", attr::SUBJECT_CLIENT_ISSUED)
                .expression_attribute_values(":low", AttributeValue::S(prefix.clone()))
                .expression_attribute_values(
                    ":high",
                    AttributeValue::S(format!("{prefix}{:020}", job.cutoff.max(0))),
                ),
            (_, Some(prefix)) => query
                .key_condition_expression("#p = :p AND begins_with(#s, :prefix)")
                .expression_attribute_names("#s", attr::SUBJECT_CLIENT_ISSUED)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix)),
            (_, None) => query.key_condition_expression("#p = :p"),
        }
    }

    /// Moves `shard` past the page just deleted, if no other worker did first.
    async fn checkpoint_shard(
        &self,
        job: &PurgeJob,
        pk: &str,
        read: &ShardState,
        next: Option<Item>,
        matched: u64,
        deleted: u64,
    ) -> Result<(), Checkpoint> {
        let set_cursor = if next.is_some() {
            "#cursor = :cursor"
        } else {
            "#done = :true"
        };
        let remove = if next.is_some() {
            ""
        } else {
            " REMOVE #cursor"
        };
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk.to_owned()))
            .update_expression(format!(
                "SET #kind = :kind, #pages = :pages, #exp = :exp, #bucket = :bucket, {set_cursor} \
                 ADD #matched :matched, #deleted :deleted{remove}"
            ))
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#pages", PAGES)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
            .expression_attribute_names("#matched", MATCHED)
            .expression_attribute_names("#deleted", DELETED)
            .expression_attribute_names("#cursor", CURSOR)
            .expression_attribute_values(":kind", AttributeValue::S(SHARD_KIND.into()))
            .expression_attribute_values(":pages", AttributeValue::N((read.pages + 1).to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(job.expires_at().to_string()))
            .expression_attribute_values(
                ":bucket",
                AttributeValue::S(item_key::item_expiry_bucket(pk, job.expires_at())),
            )
            .expression_attribute_values(":matched", AttributeValue::N(matched.to_string()))
            .expression_attribute_values(":deleted", AttributeValue::N(deleted.to_string()));
        update = match next {
            Some(cursor) => {
                update.expression_attribute_values(":cursor", AttributeValue::M(cursor))
            }
            None => update
                .expression_attribute_names("#done", DONE)
                .expression_attribute_values(":true", AttributeValue::Bool(true)),
        };
        update = if read.pages == 0 {
            update.condition_expression("attribute_not_exists(#pages)")
        } else {
            update
                .condition_expression("#pages = :read")
                .expression_attribute_values(":read", AttributeValue::N(read.pages.to_string()))
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(Checkpoint::Lost)
            }
            Err(err) => Err(Checkpoint::Failed(classify("UpdateItem", err))),
        }
    }
}

enum Checkpoint {
    /// Another worker moved the shard on from the state this one read.
    Lost,
    Failed(StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_purge_is_the_same_job_and_another_cutoff_another() {
        let client = Cutoff::Client { client_id: "web" };
        let a = PurgeJob::new("t", client, 1_000, 1_001);
        assert_eq!(a.job_id, PurgeJob::new("t", client, 1_000, 2_000).job_id);
        assert_ne!(a.job_id, PurgeJob::new("t", client, 1_001, 1_001).job_id);
        let subject = Cutoff::ClientSubject {
            client_id: "web",
            subject: "",
        };
        assert_ne!(a.job_id, PurgeJob::new("t", subject, 1_000, 1_001).job_id);
        assert_ne!(
            a.job_id,
            PurgeJob::new("t", Cutoff::Tenant, 1_000, 1_001).job_id
        );
        assert_eq!(a.job_id.len(), 32);
        assert!(a.job_id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_job_round_trips_through_its_item() {
        let job = PurgeJob::new(
            "t",
            Cutoff::ClientSubject {
                client_id: "web",
                subject: "alice",
            },
            7,
            8,
        );
        let item: Item = serde_dynamo::to_item(JobItem {
            pk: job.pk(),
            kind: JOB_KIND.into(),
            expires_at: job.expires_at(),
            expiry_bucket: String::new(),
            job: job.clone(),
        })
        .unwrap();
        assert_eq!(item["scope"].as_s().unwrap(), "client-subject");
        let back: JobItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.job, job);
    }

    #[test]
    fn running_purges_are_listed_until_their_time_is_up() {
        let entry = |subject: &str, client: Option<&str>, until: i64| {
            let mut map = HashMap::from([
                (
                    RUNNING_SUBJECT.to_owned(),
                    AttributeValue::N(subject.into()),
                ),
                (RUNNING_CUTOFF.to_owned(), AttributeValue::N("100".into())),
                (
                    RUNNING_UNTIL.to_owned(),
                    AttributeValue::N(until.to_string()),
                ),
            ]);
            if let Some(client) = client {
                map.insert(RUNNING_CLIENT.to_owned(), AttributeValue::S(client.into()));
            }
            AttributeValue::M(map)
        };
        let item: Item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("purging#t".into())),
            (
                "job_a".to_owned(),
                entry("18446744073709551615", None, 1_000),
            ),
            ("job_b".to_owned(), entry("7", Some("app"), 999)),
        ]);
        let listed = RunningPurge::listed(Some(&item), 1_000).unwrap();
        assert_eq!(
            listed,
            [RunningPurge {
                subject: u64::MAX,
                client_id: None,
                cutoff: 100,
            }]
        );
        assert_eq!(RunningPurge::listed(Some(&item), 999).unwrap().len(), 2);
        assert!(RunningPurge::listed(None, 0).unwrap().is_empty());
        let mut broken = item.clone();
        broken.insert("job_c".into(), AttributeValue::S("x".into()));
        assert!(RunningPurge::listed(Some(&broken), 0).is_err());
    }
}
