//! The records Signoff stores, and how each maps onto a DynamoDB item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::item_key::{self, TokenHash};

pub type Item = HashMap<String, AttributeValue>;

/// Limits on caller-supplied identifiers, chosen so every composed index key stays well
/// inside DynamoDB's key size limits (2048 bytes partition, 1024 bytes sort).
pub const MAX_ID_BYTES: usize = 256;
pub const MAX_USER_DN_BYTES: usize = 512;
/// Bounds on what registration records for introspection to report.
pub const MAX_SCOPE_BYTES: usize = 1024;
pub const MAX_AUDIENCES: usize = 16;
pub const MAX_AUDIENCE_BYTES: usize = 256;
/// DynamoDB's limit on a sort key, which the by-device index's user key must respect.
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// How far ahead of Signoff's clock a token's `issuedAt` may be. Revocation marks kill
/// tokens issued at or before the revocation, so an issue time in the future would escape
/// them while the indexes lag: only an authorization server's clock skew is tolerated.
pub const MAX_ISSUED_AT_SKEW_SECONDS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" | "access_token" => Some(TokenType::Access),
            "refresh" | "refresh_token" => Some(TokenType::Refresh),
            _ => None,
        }
    }
}

/// The device a token was issued to, and the user it was issued for there (NetIQ's
/// `device_id` with `userstore_name` and `user_dn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceBinding {
    pub device_id: String,
    pub user_store: String,
    pub user_dn: String,
}

/// A token the authorization server issued, as Signoff records it. The token's value is
/// never kept: only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub tenant: String,
    pub hash: TokenHash,
    pub token_type: TokenType,
    pub client_id: String,
    pub subject: Option<String>,
    pub session_id: Option<String>,
    pub grant_id: Option<String>,
    pub device: Option<DeviceBinding>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The scopes the token was granted, space-separated (RFC 6749 3.3), for introspection
    /// to report.
    pub scope: Option<String>,
    /// The token's intended audiences (RFC 7662 `aud`), for introspection to report.
    pub audience: Vec<String>,
}

/// Where a token's Token Status List entry is: list `list` of its tenant, entry `index`
/// (see [`crate::status_lists`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusEntry {
    pub list: u64,
    pub index: u64,
}

/// A token record's attribute naming the list its entry is in (its index is
/// [`crate::table::attr::STATUS_IDX`]).
pub(crate) const STATUS_LIST: &str = "status_list";

/// Whether `item` carries an expiry (`expires_at`, the TTL attribute) at or before `now`:
/// such a record counts as gone whether or not it was deleted yet.
pub fn is_expired(item: &Item, now: i64) -> bool {
    number(Some(item), crate::table::attr::EXPIRES_AT).is_some_and(|expires_at| expires_at <= now)
}

/// A number attribute of an item, if it has one.
pub(crate) fn number(item: Option<&Item>, name: &str) -> Option<i64> {
    item?.get(name)?.as_n().ok()?.parse().ok()
}

/// Which field of a record is wrong, and why; shown to the caller as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Checks a `scope` value against RFC 6749 3.3: scope tokens of printable ASCII other than
/// space, `"` and `\`, separated by single spaces.
pub fn check_scope(scope: &str) -> Result<(), FieldError> {
    if scope.len() > MAX_SCOPE_BYTES {
        return Err(FieldError::new(
            "scope",
            format!("must be at most {MAX_SCOPE_BYTES} bytes"),
        ));
    }
    let valid_token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    if !scope.split(' ').all(valid_token) {
        return Err(FieldError::new(
            "scope",
            "must be scope tokens separated by single spaces (RFC 6749 3.3)",
        ));
    }
    Ok(())
}

/// Checks a caller-supplied identifier: present, at most `max` bytes, no control
/// characters (they have no place in an identifier and make logs ambiguous).
pub fn check_identifier(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl TokenRecord {
    /// Checks every field against the limits above and the clock `now`.
    pub fn validate(&self, now: i64) -> Result<(), FieldError> {
        if !item_key::valid_tenant_id(&self.tenant) {
            return Err(FieldError::new("tenant", "is not a valid tenant id"));
        }
        check_identifier("clientId", &self.client_id, MAX_ID_BYTES)?;
        for (field, value) in [
            ("subject", &self.subject),
            ("sessionId", &self.session_id),
            ("grantId", &self.grant_id),
        ] {
            if let Some(v) = value {
                check_identifier(field, v, MAX_ID_BYTES)?;
            }
        }
        if let Some(device) = &self.device {
            check_identifier("deviceId", &device.device_id, MAX_ID_BYTES)?;
            // It travels as a path segment of the device-revocation URL.
            if device.device_id.contains(['/', '?', '#']) {
                return Err(FieldError::new(
                    "deviceId",
                    "must not contain '/', '?' or '#' (it is a URL path segment)",
                ));
            }
            check_identifier("userStore", &device.user_store, MAX_ID_BYTES)?;
            check_identifier("userDn", &device.user_dn, MAX_USER_DN_BYTES)?;
            if item_key::device_user(&device.user_store, &device.user_dn).len() > MAX_SORT_KEY_BYTES
            {
                return Err(FieldError::new(
                    "userDn",
                    "is too long together with userStore",
                ));
            }
        }
        if let Some(scope) = &self.scope {
            check_scope(scope)?;
        }
        if self.audience.len() > MAX_AUDIENCES {
            return Err(FieldError::new(
                "audience",
                format!("must name at most {MAX_AUDIENCES} audiences"),
            ));
        }
        for audience in &self.audience {
            check_identifier("audience", audience, MAX_AUDIENCE_BYTES)?;
        }
        if self.expires_at <= now {
            return Err(FieldError::new("expiresAt", "is not in the future"));
        }
        if self.issued_at > self.expires_at {
            return Err(FieldError::new("issuedAt", "is after expiresAt"));
        }
        if self.issued_at > now.saturating_add(MAX_ISSUED_AT_SKEW_SECONDS) {
            return Err(FieldError::new(
                "issuedAt",
                format!(
                    "is more than {MAX_ISSUED_AT_SKEW_SECONDS} seconds in the future (check the issuer's clock)"
                ),
            ));
        }
        Ok(())
    }

    pub fn pk(&self) -> String {
        item_key::token_pk(&self.tenant, &self.hash)
    }

    pub fn to_item(&self) -> Item {
        let scoped = |v: &Option<String>| {
            v.as_deref()
                .map(|v| item_key::tenant_scoped(&self.tenant, v))
        };
        let stored = TokenItem {
            pk: self.pk(),
            kind: TOKEN_KIND.to_owned(),
            tenant: self.tenant.clone(),
            token_hash: self.hash.encoded(),
            token_type: self.token_type,
            client_id: self.client_id.clone(),
            subject: self.subject.clone(),
            subject_key: scoped(&self.subject),
            session_id: self.session_id.clone(),
            session_key: scoped(&self.session_id),
            grant_id: self.grant_id.clone(),
            grant_key: scoped(&self.grant_id),
            device_id: self.device.as_ref().map(|d| d.device_id.clone()),
            device_key: self
                .device
                .as_ref()
                .map(|d| item_key::tenant_scoped(&self.tenant, &d.device_id)),
            user_store: self.device.as_ref().map(|d| d.user_store.clone()),
            user_dn: self.device.as_ref().map(|d| d.user_dn.clone()),
            device_user: self
                .device
                .as_ref()
                .map(|d| item_key::device_user(&d.user_store, &d.user_dn)),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            scope: self.scope.clone(),
            audience: self.audience.clone(),
            expiry_bucket: item_key::expiry_bucket(
                self.expires_at,
                self.hash.shard(item_key::EXPIRY_SHARDS),
            ),
            tenant_shard: Some(item_key::tenant_shard(
                &self.tenant,
                self.hash.shard(item_key::PURGE_SHARDS),
            )),
            subject_client_issued: Some(item_key::subject_client_issued(
                self.subject.as_deref(),
                &self.client_id,
                self.issued_at,
            )),
            client_shard: Some(item_key::client_shard(
                &self.tenant,
                &self.client_id,
                self.hash.shard(item_key::CLIENT_SHARDS),
            )),
        };
        serde_dynamo::to_item(stored).expect("a token item always serializes")
    }

    /// [`TokenRecord::to_item`], with the status entry's attributes (the by-status index's
    /// keys and the list it belongs to) when it has one.
    pub fn to_item_with_status(&self, status: Option<StatusEntry>) -> Item {
        use crate::table::attr;
        let mut item = self.to_item();
        if let Some(entry) = status {
            item.insert(
                attr::STATUS_SHARD.to_owned(),
                AttributeValue::S(item_key::status_shard(
                    &self.tenant,
                    entry.list,
                    entry.index,
                )),
            );
            item.insert(
                attr::STATUS_IDX.to_owned(),
                AttributeValue::N(entry.index.to_string()),
            );
            item.insert(
                STATUS_LIST.to_owned(),
                AttributeValue::N(entry.list.to_string()),
            );
            if let Some(subject) = &self.subject {
                item.insert(
                    attr::STATUS_SUBJECT.to_owned(),
                    AttributeValue::N(item_key::status_subject_key(subject).to_string()),
                );
            }
        }
        item
    }

    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        let stored: TokenItem = serde_dynamo::from_item(item)
            .map_err(|e| StoreError::Corrupt(format!("token item: {e}")))?;
        let hash = TokenHash::parse(&stored.token_hash)
            .map_err(|e| StoreError::Corrupt(format!("token item: {e}")))?;
        let device = match (stored.device_id, stored.user_store, stored.user_dn) {
            (Some(device_id), Some(user_store), Some(user_dn)) => Some(DeviceBinding {
                device_id,
                user_store,
                user_dn,
            }),
            _ => None,
        };
        Ok(Self {
            tenant: stored.tenant,
            hash,
            token_type: stored.token_type,
            client_id: stored.client_id,
            subject: stored.subject,
            session_id: stored.session_id,
            grant_id: stored.grant_id,
            device,
            issued_at: stored.issued_at,
            expires_at: stored.expires_at,
            scope: stored.scope,
            audience: stored.audience,
        })
    }
}

pub const TOKEN_KIND: &str = "token";
pub const SESSION_KIND: &str = "session";

/// A token record as stored. Optional attributes are left out rather than stored as NULL:
/// that is what keeps the indexes sparse (and DynamoDB refuses NULL index keys).
#[derive(Serialize, Deserialize)]
struct TokenItem {
    pk: String,
    kind: String,
    tenant: String,
    token_hash: String,
    token_type: TokenType,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grant_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_user: Option<String>,
    issued_at: i64,
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    audience: Vec<String>,
    expiry_bucket: String,
    // The by-tenant index's keys. Optional only so that records written before the index
    // existed still read; every record written now has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_client_issued: Option<String>,
    // The by-client index's partition key (its sort key is `issued_at`); optional for the
    // same reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_shard: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> TokenRecord {
        TokenRecord {
            tenant: "svc1".into(),
            hash: TokenHash::of("at-1"),
            token_type: TokenType::Access,
            client_id: "app".into(),
            subject: Some("alice".into()),
            session_id: Some("sess#1".into()),
            grant_id: None,
            device: Some(DeviceBinding {
                device_id: "dev-1".into(),
                user_store: "ldap".into(),
                user_dn: "cn=alice,o=acme".into(),
            }),
            issued_at: 100,
            expires_at: 3700,
            scope: None,
            audience: Vec::new(),
        }
    }

    #[test]
    fn item_round_trips_and_omits_absent_index_keys() {
        let record = sample();
        let item = record.to_item();
        assert_eq!(item["session_key"].as_s().unwrap(), "svc1#sess%231");
        assert_eq!(item["device_user"].as_s().unwrap(), "ldap#cn=alice,o=acme");
        assert!(!item.contains_key("grant_key") && !item.contains_key("grant_id"));
        assert!(!item.values().any(|v| v.is_null()));
        // The raw token never reaches the item.
        assert!(!format!("{item:?}").contains("at-1"));
        assert_eq!(TokenRecord::from_item(item).unwrap(), record);
    }

    #[test]
    fn validation_names_the_field() {
        let mut r = sample();
        assert_eq!(r.validate(100), Ok(()));
        // Issued in the future: tolerated within the skew, refused beyond it.
        assert_eq!(r.validate(100 - MAX_ISSUED_AT_SKEW_SECONDS), Ok(()));
        assert_eq!(
            r.validate(99 - MAX_ISSUED_AT_SKEW_SECONDS)
                .unwrap_err()
                .field,
            "issuedAt"
        );
        r.expires_at = 50;
        assert_eq!(r.validate(60).unwrap_err().field, "expiresAt");
        let mut r = sample();
        r.client_id = "x".repeat(MAX_ID_BYTES + 1);
        assert_eq!(r.validate(0).unwrap_err().field, "clientId");
        let mut r = sample();
        r.session_id = Some("a\nb".into());
        assert_eq!(r.validate(0).unwrap_err().field, "sessionId");
    }
}
