//! Cutoffs: "every token of this client (of this client for this subject, of this whole
//! tenant) issued at or before now is gone", in one request, however many tokens that is.
//!
//! A cutoff is a marker like a user's or a grant's (`revoked_at`, an expiry, housekeeping's
//! bucket), and [`crate::revocation`]'s lookup reads it in the same single BatchGetItem as
//! a token's other markers, so every endpoint that looks a token up (introspection,
//! Descope's logout, RFC 7009 and NetIQ revocation, Authlete's APIs) honours it as soon as
//! the write returns: reads are strongly consistent.
//!
//! A tenant's and a client's cutoffs are read by every lookup of the tenant or the client,
//! so each is written as [`item_key::CUTOFF_COPIES`] copies in one transaction (atomic: a
//! lookup sees all copies moved or none), and a lookup reads the copy its token's hash
//! picks. A client and subject's cutoff is one item.
//!
//! A cutoff only moves forward: a write older than the stored one (another writer's clock)
//! leaves the later one in place. It lives [`MAX_SESSION_MARKER_TTL_DAYS`], the longest any
//! deployment lets a token live, whatever the writer's own setting (the admin tool does
//! not know the deployment's): a cutoff that expired before a token it covers would bring
//! the token back. Deleting the records it made unusable is a separate, later step; until
//! then they stay unusable, then expire.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use crate::bulk::pause_before_conflict_retry;
use crate::config::MAX_SESSION_MARKER_TTL_DAYS;
use crate::error::{classify, transaction_refusal, StoreError, TransactionRefusal};
use crate::item_key;
use crate::model::{check_identifier, number, FieldError, MAX_ID_BYTES};
use crate::revocation::REVOKED_AT;
use crate::table::attr;
use crate::Store;

/// The `kind` of a cutoff item.
const CUTOFF_KIND: &str = "cutoff";

/// Whose tokens a cutoff ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cutoff<'a> {
    /// Every token issued to the client (a compromised or retired client).
    Client { client_id: &'a str },
    /// Every token issued to the client for the subject (a user removing an app's access).
    ClientSubject {
        client_id: &'a str,
        subject: &'a str,
    },
    /// Every token of the tenant (break-glass).
    Tenant,
}

impl Cutoff<'_> {
    /// Checks the identifiers against the limits registration holds tokens to.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Cutoff::Client { client_id } => check_identifier("client_id", client_id, MAX_ID_BYTES),
            Cutoff::ClientSubject { client_id, subject } => {
                check_identifier("client_id", client_id, MAX_ID_BYTES)?;
                check_identifier("subject", subject, MAX_ID_BYTES)
            }
            Cutoff::Tenant => Ok(()),
        }
    }

    /// The items the cutoff is written to: one, or every copy.
    fn pks(&self, tenant: &str) -> Vec<String> {
        match self {
            Cutoff::Client { client_id } => (0..item_key::CUTOFF_COPIES)
                .map(|copy| item_key::client_cutoff_pk(tenant, client_id, copy))
                .collect(),
            Cutoff::ClientSubject { client_id, subject } => {
                vec![item_key::client_subject_cutoff_pk(
                    tenant, client_id, subject,
                )]
            }
            Cutoff::Tenant => (0..item_key::CUTOFF_COPIES)
                .map(|copy| item_key::tenant_cutoff_pk(tenant, copy))
                .collect(),
        }
    }
}

impl Store {
    /// Writes `cutoff` in `tenant` at the current second and returns the cutoff in force
    /// (epoch seconds): this one, or a later one already there. One request, a
    /// TransactWriteItems of every copy (of the one item for a client and subject), retried
    /// while another transaction holds an item; idempotent.
    pub async fn write_cutoff(&self, tenant: &str, cutoff: Cutoff<'_>) -> Result<i64, StoreError> {
        let pks = cutoff.pks(tenant);
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                pause_before_conflict_retry(&self.config().bulk, attempt, "TransactWriteItems")
                    .await?;
            }
            attempt += 1;
            let now = crate::now_epoch_seconds();
            let result = self
                .client()
                .transact_write_items()
                .set_transact_items(Some(self.cutoff_actions(&pks, now)))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(now),
                Err(err) => match transaction_refusal(&err) {
                    // A copy holds a later cutoff (another writer's clock ahead of ours);
                    // the copies are written together, so every one does, and it stands.
                    Some(TransactionRefusal::ConditionsFailed(_)) => {
                        return self.cutoff_in_force(&pks[0]).await
                    }
                    Some(TransactionRefusal::Conflict) => continue,
                    None => return Err(classify("TransactWriteItems", err)),
                },
            }
        }
    }

    /// The cutoff stored at `pk`, read consistently; `now` if it vanished meanwhile (a
    /// later cutoff stood a moment ago, so one at `now` is no later than the truth).
    async fn cutoff_in_force(&self, pk: &str) -> Result<i64, StoreError> {
        let item = self.get_item(pk.to_owned(), true).await?;
        Ok(number(item.as_ref(), REVOKED_AT).unwrap_or_else(crate::now_epoch_seconds))
    }

    /// One update per copy, each moving `revoked_at` forward to `now`, never back.
    fn cutoff_actions(&self, pks: &[String], now: i64) -> Vec<TransactWriteItem> {
        let expires_at = now + (MAX_SESSION_MARKER_TTL_DAYS * 86_400) as i64;
        pks.iter()
            .map(|pk| {
                let update = Update::builder()
                    .table_name(self.table_name())
                    .key(attr::PK, AttributeValue::S(pk.clone()))
                    .update_expression(
                        "SET #kind = :kind, #at = :now, #exp = :exp, #bucket = :bucket",
                    )
                    .condition_expression("attribute_not_exists(#at) OR #at <= :now")
                    .expression_attribute_names("#kind", attr::KIND)
                    .expression_attribute_names("#at", REVOKED_AT)
                    .expression_attribute_names("#exp", attr::EXPIRES_AT)
                    .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
                    .expression_attribute_values(":kind", AttributeValue::S(CUTOFF_KIND.into()))
                    .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                    .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
                    .expression_attribute_values(
                        ":bucket",
                        AttributeValue::S(item_key::item_expiry_bucket(pk, expires_at)),
                    )
                    .build()
                    .expect("key, table and expression are set");
                TransactWriteItem::builder().update(update).build()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_and_client_cutoffs_are_written_to_every_copy_and_a_subjects_to_one_item() {
        let client = Cutoff::Client { client_id: "web" }.pks("t");
        assert_eq!(client.len(), item_key::CUTOFF_COPIES as usize);
        let distinct: std::collections::BTreeSet<_> = client.iter().collect();
        assert_eq!(distinct.len(), client.len());
        assert_eq!(
            Cutoff::Tenant.pks("t").len(),
            item_key::CUTOFF_COPIES as usize
        );
        let one = Cutoff::ClientSubject {
            client_id: "web",
            subject: "alice",
        };
        assert_eq!(one.pks("t").len(), 1);
        // No cutoff's items are another's, nor another tenant's.
        let mut all: Vec<String> = client;
        all.extend(Cutoff::Tenant.pks("t"));
        all.extend(one.pks("t"));
        all.extend(Cutoff::Tenant.pks("u"));
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
    }

    #[test]
    fn identifiers_are_checked_as_registration_checks_them() {
        assert!(Cutoff::Client { client_id: "" }.validate().is_err());
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert!(Cutoff::ClientSubject {
            client_id: "web",
            subject: &long
        }
        .validate()
        .is_err());
        assert!(Cutoff::Client {
            client_id: "a\u{0}b"
        }
        .validate()
        .is_err());
        assert!(Cutoff::Tenant.validate().is_ok());
    }
}
