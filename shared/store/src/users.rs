//! Who a user is, besides the subject their tokens were registered under: the login ids
//! and email addresses registration recorded for them (Descope's management logout names
//! a user by `loginId`, Global Token Revocation by `email`), and whether Signoff knows a
//! user at all (both APIs answer an unknown user with a 404).
//!
//! An alias item (`alias#<tenant>#<kind>#<value>`) names the subject; the latest
//! registration that mentions it wins (an address that moved to another user follows it),
//! and it lives as long as the longest-lived token registered with it.

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::bulk::IndexKey;
use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::{check_identifier, FieldError, Item, MAX_ID_BYTES};
use crate::table::attr;
use crate::Store;

/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

const SUBJECT: &str = "subject";
const ALIAS_KIND: &str = "alias";

/// A name a user goes by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AliasKind {
    LoginId,
    Email,
}

impl AliasKind {
    fn as_str(self) -> &'static str {
        match self {
            AliasKind::LoginId => "login",
            AliasKind::Email => "email",
        }
    }
}

/// How a caller names a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserRef<'a> {
    /// The subject tokens were registered under (Descope's `userId`; `opaque` and
    /// `iss_sub` identifiers).
    Subject(&'a str),
    Alias(AliasKind, &'a str),
}

/// "`value` is `subject`'s `kind`", as registration records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAlias {
    pub tenant: String,
    pub subject: String,
    pub kind: AliasKind,
    pub value: String,
    /// The expiry of the longest-lived token registered with it.
    pub expires_at: i64,
}

/// An email address as aliases are keyed: trimmed and lower-cased (providers treat the
/// local part case-insensitively in practice, and RFC 5321 the domain).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an alias value as registration receives it.
pub fn check_alias(kind: AliasKind, value: &str) -> Result<(), FieldError> {
    match kind {
        AliasKind::LoginId => check_identifier("loginId", value, MAX_ID_BYTES),
        AliasKind::Email => {
            // Printable ASCII around exactly one '@' (docs/openapi.yaml says the same).
            let printable = value.bytes().all(|b| (0x21..=0x7e).contains(&b));
            let valid = value.len() <= MAX_EMAIL_BYTES
                && printable
                && matches!(value.split_once('@'), Some((local, domain))
                    if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
            if !valid {
                return Err(FieldError::new(
                    "email",
                    format!("must be an email address: printable ASCII, one '@', at most {MAX_EMAIL_BYTES} bytes"),
                ));
            }
            Ok(())
        }
    }
}

fn alias_pk(tenant: &str, kind: AliasKind, value: &str) -> String {
    let value = match kind {
        AliasKind::Email => normalize_email(value),
        AliasKind::LoginId => value.to_owned(),
    };
    item_key::compose(&[ALIAS_KIND, tenant, kind.as_str(), &value])
}

impl Store {
    /// Records `aliases` (one UpdateItem each, `SIGNOFF_DELETE_CONCURRENCY` at once): each
    /// now names its subject, and lives at least until its `expires_at`.
    pub async fn record_aliases(&self, aliases: &[UserAlias]) -> Result<(), StoreError> {
        let concurrency = self.config().bulk.concurrency.max(1);
        // By index: a closure over `&UserAlias` would make the future's lifetime generic,
        // which the Lambda runtime's `Send` check cannot prove.
        stream::iter(0..aliases.len())
            .map(|i| self.record_alias(&aliases[i]))
            .buffer_unordered(concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn record_alias(&self, alias: &UserAlias) -> Result<(), StoreError> {
        let pk = alias_pk(&alias.tenant, alias.kind, &alias.value);
        // Never shorten an alias's life: a later registration of a shorter-lived token
        // keeps the longer expiry (and its housekeeping bucket) already there.
        let bucket = item_key::item_expiry_bucket(&pk, alias.expires_at);
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk))
            .update_expression(
                "SET #kind = :kind, #subject = :subject, #exp = :exp, #bucket = :bucket",
            )
            .condition_expression("attribute_not_exists(#exp) OR #exp <= :exp")
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#subject", SUBJECT)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
            .expression_attribute_values(":kind", AttributeValue::S(ALIAS_KIND.into()))
            .expression_attribute_values(":subject", AttributeValue::S(alias.subject.clone()))
            .expression_attribute_values(":exp", AttributeValue::N(alias.expires_at.to_string()))
            .expression_attribute_values(":bucket", AttributeValue::S(bucket))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A longer-lived registration holds it: only the subject may need moving.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.client()
                    .update_item()
                    .table_name(self.table_name())
                    .key(
                        attr::PK,
                        AttributeValue::S(alias_pk(&alias.tenant, alias.kind, &alias.value)),
                    )
                    .update_expression("SET #subject = :subject")
                    .expression_attribute_names("#subject", SUBJECT)
                    .expression_attribute_values(
                        ":subject",
                        AttributeValue::S(alias.subject.clone()),
                    )
                    .send()
                    .await
                    .map_err(|e| classify("UpdateItem", e))?;
                Ok(())
            }
            Err(err) => Err(classify("UpdateItem", err)),
        }
    }

    /// The subject `user` names in `tenant`, if Signoff knows the user: an alias that
    /// registration recorded, or a subject with a registered token or a revocation mark
    /// (so asking again after a logout that deleted every token still finds the user).
    /// One GetItem, plus one Query for a subject without a mark.
    pub async fn resolve_user(
        &self,
        tenant: &str,
        user: UserRef<'_>,
    ) -> Result<Option<String>, StoreError> {
        match user {
            UserRef::Alias(kind, value) => {
                let item = self.get_item(alias_pk(tenant, kind, value), true).await?;
                Ok(item.as_ref().and_then(subject_of))
            }
            UserRef::Subject(subject) => {
                let marked = self
                    .get_item(item_key::user_pk(tenant, subject), true)
                    .await?
                    .is_some();
                let known = marked
                    || self
                        .index_lists_any(&IndexKey::subject(tenant, subject))
                        .await?;
                Ok(known.then(|| subject.to_owned()))
            }
        }
    }
}

fn subject_of(item: &Item) -> Option<String> {
    item.get(SUBJECT)?.as_s().ok().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_keyed_case_insensitively_and_login_ids_exactly() {
        assert_eq!(
            alias_pk("t", AliasKind::Email, " Alice@Example.COM"),
            alias_pk("t", AliasKind::Email, "alice@example.com")
        );
        assert_ne!(
            alias_pk("t", AliasKind::LoginId, "Alice"),
            alias_pk("t", AliasKind::LoginId, "alice")
        );
        assert_ne!(
            alias_pk("t", AliasKind::LoginId, "a"),
            alias_pk("t", AliasKind::Email, "a")
        );
        assert_ne!(
            alias_pk("t", AliasKind::LoginId, "a"),
            alias_pk("u", AliasKind::LoginId, "a")
        );
    }

    #[test]
    fn alias_values_are_checked() {
        assert!(check_alias(AliasKind::Email, "a@b.example").is_ok());
        for bad in ["", "no-at", "@b", "a@", "a b@c", "a\n@b", "a@b@c", "é@b"] {
            assert!(check_alias(AliasKind::Email, bad).is_err(), "{bad:?}");
        }
        assert!(check_alias(AliasKind::LoginId, "alice").is_ok());
        assert!(check_alias(AliasKind::LoginId, &"x".repeat(MAX_ID_BYTES + 1)).is_err());
    }
}
