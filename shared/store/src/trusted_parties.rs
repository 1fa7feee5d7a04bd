//! The parties a tenant trusts to log its users out everywhere through Global Token
//! Revocation (draft-parecki-oauth-global-token-revocation): an identity provider or a
//! security tool, known by the `iss` of the JWTs it signs, with its public keys. One item
//! per party, so authenticating a request costs one read; and one short-lived item per
//! assertion used, so an assertion works once (`jti` replay check).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::credentials::ProvisionError;
use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::FieldError;
use crate::table::attr;
use crate::Store;
use signoff_jose::Jwk;

/// Keys per party: room for a rotation, with a bound on what each request reads.
pub const MAX_PARTY_KEYS: usize = 8;
/// Longest issuer, subject or `jti` accepted (a key's part, and what a log line may hold).
pub const MAX_PARTY_ID_BYTES: usize = 512;
/// Issuers whose `sub` values one party may name (`iss_sub` subject identifiers).
pub const MAX_SUBJECT_ISSUERS: usize = 8;

const KIND: &str = "trusted_party";
const ASSERTION_KIND: &str = "assertion_used";
const PARTY: &str = "party";

/// A party allowed to call a tenant's Global Token Revocation endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedParty {
    pub tenant: String,
    /// The `iss` of its assertions: how a request finds the party.
    pub issuer: String,
    /// The `sub` its assertions must carry (RFC 7523 client assertions repeat `iss`).
    pub subject: String,
    /// The public keys its assertions are signed with (ES256 or RS256, by `kid`).
    pub keys: Vec<Jwk>,
    /// The issuers whose users this party may name by `iss_sub`: the `sub` values of those
    /// issuers are the tenant's subjects. A request naming another issuer is refused (403).
    pub subject_issuers: Vec<String>,
    pub created_at: i64,
}

fn party_pk(tenant: &str, issuer: &str) -> String {
    item_key::compose(&["trusted_party", tenant, issuer])
}

fn assertion_pk(tenant: &str, issuer: &str, jti: &str) -> String {
    item_key::compose(&["assertion", tenant, issuer, jti])
}

/// A party identifier (issuer, subject, `jti`): non-empty, bounded, no control characters.
pub fn check_party_id(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() || value.len() > MAX_PARTY_ID_BYTES || value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be 1-{MAX_PARTY_ID_BYTES} bytes without control characters"),
        ));
    }
    Ok(())
}

impl TrustedParty {
    fn check(&self) -> Result<(), FieldError> {
        check_party_id("issuer", &self.issuer)?;
        check_party_id("subject", &self.subject)?;
        if self.keys.is_empty() || self.keys.len() > MAX_PARTY_KEYS {
            return Err(FieldError::new(
                "keys",
                format!("a trusted party has 1 to {MAX_PARTY_KEYS} public keys"),
            ));
        }
        if self.subject_issuers.len() > MAX_SUBJECT_ISSUERS {
            return Err(FieldError::new(
                "subject_issuers",
                format!("at most {MAX_SUBJECT_ISSUERS}"),
            ));
        }
        for issuer in &self.subject_issuers {
            check_party_id("subject_issuers", issuer)?;
        }
        Ok(())
    }
}

impl Store {
    /// Registers `party` (its tenant must exist), replacing an earlier registration of the
    /// same issuer: that is how its keys rotate.
    pub async fn put_trusted_party(&self, party: &TrustedParty) -> Result<(), ProvisionError> {
        party.check()?;
        if self.get_tenant(&party.tenant).await?.is_none() {
            return Err(ProvisionError::NoSuchTenant(party.tenant.clone()));
        }
        let json = serde_json::to_string(party).expect("a party serializes");
        self.client()
            .put_item()
            .table_name(self.table_name())
            .item(
                attr::PK,
                AttributeValue::S(party_pk(&party.tenant, &party.issuer)),
            )
            .item(attr::KIND, AttributeValue::S(KIND.into()))
            .item("tenant", AttributeValue::S(party.tenant.clone()))
            .item(PARTY, AttributeValue::S(json))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// The party of `tenant` whose assertions carry `issuer`, if there is one. A consistent
    /// read: a party just removed must not authenticate.
    pub async fn trusted_party(
        &self,
        tenant: &str,
        issuer: &str,
    ) -> Result<Option<TrustedParty>, StoreError> {
        if !item_key::valid_tenant_id(tenant) || check_party_id("issuer", issuer).is_err() {
            return Ok(None);
        }
        let Some(item) = self.get_item(party_pk(tenant, issuer), true).await? else {
            return Ok(None);
        };
        let json = item
            .get(PARTY)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("trusted party {issuer}: no record")))?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("trusted party {issuer}: {e}")))
    }

    /// Removes a party; its assertions stop working at once. Returns whether it existed.
    pub async fn remove_trusted_party(
        &self,
        tenant: &str,
        issuer: &str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client()
            .delete_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(party_pk(tenant, issuer)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(out.attributes.is_some())
    }

    /// Records that the assertion `jti` of `issuer` has been used, until `expires_at`
    /// (its `exp`, after which it is refused anyway). Returns `false` if it was used
    /// before: one conditional PutItem, so two concurrent uses cannot both succeed. The
    /// item outlives `expires_at` by a minute, past the clock leeway.
    pub async fn use_assertion(
        &self,
        tenant: &str,
        issuer: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table_name())
            .item(
                attr::PK,
                AttributeValue::S(assertion_pk(tenant, issuer, jti)),
            )
            .item(attr::KIND, AttributeValue::S(ASSERTION_KIND.into()))
            .item(
                attr::EXPIRES_AT,
                AttributeValue::N(expires_at.saturating_add(60).to_string()),
            )
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(err) => Err(classify("PutItem", err)),
        }
    }

    /// Forgets that `jti` was used: after a failure that the caller is told to retry, the
    /// same assertion may be sent again (while it has not expired).
    pub async fn release_assertion(
        &self,
        tenant: &str,
        issuer: &str,
        jti: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(assertion_pk(tenant, issuer, jti)),
            )
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }
}
