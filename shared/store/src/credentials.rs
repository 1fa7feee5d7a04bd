//! Tenants and the credentials that call Signoff's APIs on their behalf.
//!
//! A tenant is what Authlete calls a service (and Descope a project). Two kinds of API
//! credential exist, as in Authlete: a *service access token* works for one tenant, an
//! *organization token* for every tenant of its organization. Only a credential's SHA-256
//! is stored; the value is shown once, when it is issued. Credentials are 256-bit random
//! values, so a fast hash is enough (nothing to brute-force), and the stored hash is
//! compared with the presented one in constant time.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use serde::{Deserialize, Serialize};

use crate::error::{classify, StoreError};
use crate::item_key::{self, TokenHash};
use crate::model::Item;
use crate::table::attr;
use crate::Store;

pub const SERVICE_TOKEN_PREFIX: &str = "sgn_sat_";
pub const CLIENT_SECRET_PREFIX: &str = "sgn_cs_";
pub const ORGANIZATION_TOKEN_PREFIX: &str = "sgn_org_";
/// Prefix of a Descope-style project's management key.
pub const MANAGEMENT_KEY_PREFIX: &str = "sgn_mk_";

/// Longest bearer value or client secret looked up; anything longer is not one of ours.
const MAX_CREDENTIAL_BYTES: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// The organization whose organization tokens may act on this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    pub created_at: i64,
}

/// What a credential may act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "lowercase")]
pub enum CredentialScope {
    /// A service access token: one tenant.
    Service { tenant: String },
    /// An organization token: every tenant of the organization.
    Organization { organization: String },
    /// A Descope-style project's management key: that project's management APIs only
    /// (`POST /v1/mgmt/user/logout`), never another family's.
    Management { project: String },
}

/// The answer to "may this bearer act on this tenant?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    Granted,
    /// No such credential (or a malformed one).
    UnknownCredential,
    /// A real credential, but not for this tenant (or the tenant does not exist).
    Forbidden,
}

/// The answer to "is this the client it says it is?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// The client is who it says; `confidential` if it proved it with a secret (a public
    /// client's id alone proves nothing: it ships inside apps).
    Authenticated {
        confidential: bool,
        /// What an operator allowed this client to introspect, if anything.
        introspection: IntrospectionAccess,
    },
    Rejected(ClientRejection),
}

/// What a client may introspect (`signoff-admin allow-introspection`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IntrospectionAccess {
    #[default]
    Denied,
    /// Any token of the tenant.
    AnyAudience,
    /// Only tokens meant for one of these audiences; others are inactive to it.
    Audiences(Vec<String>),
}

impl IntrospectionAccess {
    fn of(client: &ClientItem) -> Self {
        match (
            client.may_introspect,
            client.introspection_audiences.as_slice(),
        ) {
            (false, _) => IntrospectionAccess::Denied,
            (true, []) => IntrospectionAccess::AnyAudience,
            (true, audiences) => IntrospectionAccess::Audiences(audiences.to_vec()),
        }
    }

    /// Whether a token meant for `audience` may be shown to this caller as active. A
    /// caller restricted to audiences sees no token without one.
    pub fn may_see(&self, audience: &[String]) -> bool {
        match self {
            IntrospectionAccess::Denied => false,
            IntrospectionAccess::AnyAudience => true,
            IntrospectionAccess::Audiences(mine) => audience.iter().any(|a| mine.contains(a)),
        }
    }
}

/// Why client authentication failed; for logs. Callers are told only that it failed, so a
/// response does not reveal which clients exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientRejection {
    #[error("no such client")]
    UnknownClient,
    #[error("the client secret does not match")]
    WrongSecret,
    #[error("a confidential client sent no secret")]
    SecretMissing,
    #[error("a public client sent a secret")]
    UnexpectedSecret,
    #[error("a public client cannot authenticate for this")]
    PublicClient,
}

#[derive(Serialize, Deserialize)]
struct TenantItem {
    pk: String,
    kind: String,
    #[serde(flatten)]
    tenant: Tenant,
}

#[derive(Serialize, Deserialize)]
struct CredentialItem {
    pk: String,
    kind: String,
    secret_hash: String,
    #[serde(flatten)]
    scope: CredentialScope,
    label: String,
    created_at: i64,
}

/// An OAuth client of a tenant. A confidential client's secret is kept as its SHA-256.
#[derive(Serialize, Deserialize)]
struct ClientItem {
    pk: String,
    kind: String,
    tenant: String,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_hash: Option<String>,
    /// Allowed to call the introspection endpoints (`signoff-admin allow-introspection`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    may_introspect: bool,
    /// When set, the only audiences whose tokens this resource server may see as active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    introspection_audiences: Vec<String>,
    created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("tenant id must be 1-128 characters of A-Z a-z 0-9 . _ -")]
    InvalidId,
    #[error("{0}")]
    InvalidField(#[from] crate::model::FieldError),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("no tenant {0}")]
    NoSuchTenant(String),
    #[error("no client {client_id} of tenant {tenant}")]
    NoSuchClient { tenant: String, client_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Creates a tenant; refuses to overwrite an existing one.
    pub async fn create_tenant(&self, tenant: &Tenant) -> Result<(), ProvisionError> {
        if !item_key::valid_tenant_id(&tenant.id) {
            return Err(ProvisionError::InvalidId);
        }
        let item = TenantItem {
            pk: item_key::tenant_pk(&tenant.id),
            kind: "tenant".into(),
            tenant: tenant.clone(),
        };
        self.put_new(
            serde_dynamo::to_item(item).expect("tenant item serializes"),
            || format!("tenant {}", tenant.id),
        )
        .await
    }

    pub async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        if !item_key::valid_tenant_id(id) {
            return Ok(None);
        }
        let item = self.get_item(item_key::tenant_pk(id), false).await?;
        item.map(parse_tenant).transpose()
    }

    /// Issues a new credential with `scope` and returns its value. Only the hash is
    /// stored: show the value to the operator once and forget it.
    pub async fn issue_credential(
        &self,
        scope: CredentialScope,
        label: &str,
    ) -> Result<String, StoreError> {
        let prefix = match scope {
            CredentialScope::Service { .. } => SERVICE_TOKEN_PREFIX,
            CredentialScope::Organization { .. } => ORGANIZATION_TOKEN_PREFIX,
            CredentialScope::Management { .. } => MANAGEMENT_KEY_PREFIX,
        };
        let secret = item_key::generate_secret(prefix);
        self.store_credential(&secret, scope, label).await?;
        Ok(secret)
    }

    /// Stores the hash of a credential whose value the caller chose. Used for the fixed,
    /// documented demo credential of the local stack; production credentials come from
    /// [`Store::issue_credential`].
    pub async fn store_credential(
        &self,
        secret: &str,
        scope: CredentialScope,
        label: &str,
    ) -> Result<(), StoreError> {
        let hash = TokenHash::of(secret);
        let item = CredentialItem {
            pk: item_key::credential_pk(&hash),
            kind: "credential".into(),
            secret_hash: hash.encoded(),
            scope,
            label: label.to_owned(),
            created_at: crate::now_epoch_seconds(),
        };
        self.client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(
                serde_dynamo::to_item(item).expect("credential item serializes"),
            ))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// Registers an OAuth client of `tenant`. A confidential client gets a generated secret,
    /// returned here once and stored only as its hash; a public client has none. Refuses to
    /// overwrite an existing client (that would silently rotate its secret).
    pub async fn register_client(
        &self,
        tenant: &str,
        client_id: &str,
        confidential: bool,
    ) -> Result<Option<String>, ProvisionError> {
        let secret = confidential.then(|| item_key::generate_secret(CLIENT_SECRET_PREFIX));
        self.store_client(tenant, client_id, secret.as_deref())
            .await?;
        Ok(secret)
    }

    /// Stores a client whose secret (if any) the caller chose. Used for the fixed,
    /// documented demo client of the local stack; production clients come from
    /// [`Store::register_client`].
    pub(crate) async fn store_client(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<(), ProvisionError> {
        crate::model::check_identifier("clientId", client_id, crate::model::MAX_ID_BYTES)?;
        if self.get_tenant(tenant).await?.is_none() {
            return Err(ProvisionError::NoSuchTenant(tenant.to_owned()));
        }
        let item = ClientItem {
            pk: item_key::client_pk(tenant, client_id),
            kind: "client".into(),
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            secret_hash: secret.map(|s| TokenHash::of(s).encoded()),
            may_introspect: false,
            introspection_audiences: Vec::new(),
            created_at: crate::now_epoch_seconds(),
        };
        self.put_new(
            serde_dynamo::to_item(item).expect("client item serializes"),
            || format!("client {client_id} of tenant {tenant}"),
        )
        .await
    }

    /// Allows (or no longer allows) a client of `tenant` to introspect tokens: the
    /// resource servers that ask whether a token is still good.
    pub async fn allow_introspection(
        &self,
        tenant: &str,
        client_id: &str,
        allowed: bool,
    ) -> Result<(), ProvisionError> {
        let access = if allowed {
            IntrospectionAccess::AnyAudience
        } else {
            IntrospectionAccess::Denied
        };
        self.set_introspection_access(tenant, client_id, &access)
            .await
    }

    /// Sets what a client of `tenant` may introspect, in one conditional UpdateItem.
    pub async fn set_introspection_access(
        &self,
        tenant: &str,
        client_id: &str,
        access: &IntrospectionAccess,
    ) -> Result<(), ProvisionError> {
        let update = |update: UpdateItemFluentBuilder| -> Result<_, ProvisionError> {
            let update = update
                .expression_attribute_names("#may", "may_introspect")
                .expression_attribute_names("#aud", "introspection_audiences");
            Ok(match access {
                IntrospectionAccess::Denied => update.update_expression("REMOVE #may, #aud"),
                IntrospectionAccess::AnyAudience => update
                    .update_expression("SET #may = :yes REMOVE #aud")
                    .expression_attribute_values(":yes", AttributeValue::Bool(true)),
                IntrospectionAccess::Audiences(audiences) => {
                    if audiences.is_empty() || audiences.len() > crate::model::MAX_AUDIENCES {
                        return Err(crate::model::FieldError::new(
                            "audience",
                            format!("give 1 to {} audiences", crate::model::MAX_AUDIENCES),
                        )
                        .into());
                    }
                    for audience in audiences {
                        crate::model::check_identifier(
                            "audience",
                            audience,
                            crate::model::MAX_AUDIENCE_BYTES,
                        )?;
                    }
                    update
                        .update_expression("SET #may = :yes, #aud = :aud")
                        .expression_attribute_values(":yes", AttributeValue::Bool(true))
                        .expression_attribute_values(
                            ":aud",
                            AttributeValue::L(
                                audiences.iter().cloned().map(AttributeValue::S).collect(),
                            ),
                        )
                }
            })
        };
        self.update_client(tenant, client_id, update).await
    }

    /// Updates the existing client `client_id` of `tenant` with the one UpdateItem `update`
    /// completes (its expression, names and values), on condition that the client exists.
    pub(crate) async fn update_client(
        &self,
        tenant: &str,
        client_id: &str,
        update: impl FnOnce(UpdateItemFluentBuilder) -> Result<UpdateItemFluentBuilder, ProvisionError>,
    ) -> Result<(), ProvisionError> {
        let no_such_client = || ProvisionError::NoSuchClient {
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
        };
        if !could_be_client(tenant, client_id) {
            return Err(no_such_client());
        }
        let request = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(item_key::client_pk(tenant, client_id)),
            )
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK);
        match update(request)?.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Err(no_such_client())
            }
            Err(e) => Err(classify("UpdateItem", e).into()),
        }
    }

    /// Whether `client_id` is a registered client of `tenant` (read consistently).
    pub async fn client_registered(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let item = self
            .get_item(item_key::client_pk(tenant, client_id), true)
            .await?;
        Ok(item.is_some())
    }

    /// Authenticates an OAuth client of `tenant` (RFC 6749 2.3): a confidential client must
    /// present its secret, compared in constant time with the stored hash; a public client
    /// has none and must present none. One strongly consistent GetItem.
    pub async fn authenticate_client(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<ClientAuthentication, StoreError> {
        use ClientAuthentication::{Authenticated, Rejected};
        if crate::model::check_identifier("client_id", client_id, crate::model::MAX_ID_BYTES)
            .is_err()
            || !item_key::valid_tenant_id(tenant)
        {
            return Ok(Rejected(ClientRejection::UnknownClient));
        }
        let client = self.get_item(item_key::client_pk(tenant, client_id), true);
        let Some(item) = client.await? else {
            return Ok(Rejected(ClientRejection::UnknownClient));
        };
        let client: ClientItem = serde_dynamo::from_item(item)
            .map_err(|e| StoreError::Corrupt(format!("client item: {e}")))?;
        let stored = client
            .secret_hash
            .as_deref()
            .map(TokenHash::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("client item: {e}")))?;
        let introspection = IntrospectionAccess::of(&client);
        Ok(match (stored, secret) {
            (None, None) => Authenticated {
                confidential: false,
                introspection,
            },
            (None, Some(_)) => Rejected(ClientRejection::UnexpectedSecret),
            (Some(_), None) => Rejected(ClientRejection::SecretMissing),
            (Some(stored), Some(presented)) => {
                if presented.len() <= MAX_CREDENTIAL_BYTES
                    && stored.ct_eq(&TokenHash::of(presented))
                {
                    Authenticated {
                        confidential: true,
                        introspection,
                    }
                } else {
                    Rejected(ClientRejection::WrongSecret)
                }
            }
        })
    }

    /// Writes `item` unless an item with its key exists; `what` names it in the error.
    async fn put_new(
        &self,
        item: Item,
        what: impl FnOnce() -> String,
    ) -> Result<(), ProvisionError> {
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
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(ProvisionError::AlreadyExists(what()))
            }
            Err(e) => Err(classify("PutItem", e).into()),
        }
    }

    /// Deletes a credential, given its value; returns whether it existed.
    pub async fn revoke_credential(&self, secret: &str) -> Result<bool, StoreError> {
        let output = self
            .client()
            .delete_item()
            .table_name(self.table_name())
            .key(
                attr::PK,
                AttributeValue::S(item_key::credential_pk(&TokenHash::of(secret))),
            )
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// Decides whether `bearer` (a service or organization token) may act on `tenant_id`,
    /// in one BatchGetItem that reads the credential and the tenant together.
    pub async fn authorize(
        &self,
        bearer: &str,
        tenant_id: &str,
    ) -> Result<Authorization, StoreError> {
        self.authorize_scope(bearer, tenant_id, |scope, tenant| match scope {
            CredentialScope::Service { tenant: t } => *t == tenant.id,
            CredentialScope::Organization { organization } => {
                tenant.organization.as_deref() == Some(organization.as_str())
            }
            CredentialScope::Management { .. } => false,
        })
        .await
    }

    /// Decides whether `key` is a management key of `project`, as [`Store::authorize`].
    pub async fn authorize_management(
        &self,
        key: &str,
        project: &str,
    ) -> Result<Authorization, StoreError> {
        self.authorize_scope(key, project, |scope, tenant| {
            matches!(scope, CredentialScope::Management { project } if *project == tenant.id)
        })
        .await
    }

    async fn authorize_scope(
        &self,
        bearer: &str,
        tenant_id: &str,
        permits: impl Fn(&CredentialScope, &Tenant) -> bool,
    ) -> Result<Authorization, StoreError> {
        if bearer.is_empty() || bearer.len() > MAX_CREDENTIAL_BYTES {
            return Ok(Authorization::UnknownCredential);
        }
        let presented = TokenHash::of(bearer);
        let credential_pk = item_key::credential_pk(&presented);
        let tenant_pk =
            item_key::valid_tenant_id(tenant_id).then(|| item_key::tenant_pk(tenant_id));
        let mut items = self
            .get_many(
                std::iter::once(credential_pk.clone())
                    .chain(tenant_pk.clone())
                    .collect(),
            )
            .await?;

        let Some(credential) = items.remove(&credential_pk) else {
            return Ok(Authorization::UnknownCredential);
        };
        let credential: CredentialItem = serde_dynamo::from_item(credential)
            .map_err(|e| StoreError::Corrupt(format!("credential item: {e}")))?;
        let stored = TokenHash::parse(&credential.secret_hash)
            .map_err(|e| StoreError::Corrupt(format!("credential item: {e}")))?;
        if !stored.ct_eq(&presented) {
            return Ok(Authorization::UnknownCredential);
        }
        let Some(tenant) = tenant_pk.and_then(|pk| items.remove(&pk)) else {
            return Ok(Authorization::Forbidden);
        };
        let tenant = parse_tenant(tenant)?;
        Ok(if permits(&credential.scope, &tenant) {
            Authorization::Granted
        } else {
            Authorization::Forbidden
        })
    }

    /// Reads up to 100 items by key in one BatchGetItem (plus retries of unprocessed keys),
    /// keyed by `pk`.
    pub(crate) async fn get_many(
        &self,
        pks: Vec<String>,
    ) -> Result<HashMap<String, Item>, StoreError> {
        self.get_many_items(pks, false).await
    }

    /// [`Store::get_many`], keeping items past their expiry when `keep_expired` (for a
    /// caller that reports expiry as a state).
    pub(crate) async fn get_many_items(
        &self,
        pks: Vec<String>,
        keep_expired: bool,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::new();
        let now = crate::now_epoch_seconds();
        let keys: Vec<Item> = pks
            .into_iter()
            .map(|pk| HashMap::from([(attr::PK.to_owned(), AttributeValue::S(pk))]))
            .collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .expect("keys are set"),
        );
        let settings = &self.config().bulk;
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            if attempt > 0 {
                crate::bulk::pause_before_retry(settings, attempt, request.keys.len()).await?;
            }
            attempt += 1;
            let output = self
                .client()
                .batch_get_item()
                .request_items(self.table_name(), request)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            for item in output
                .responses
                .and_then(|mut r| r.remove(self.table_name()))
                .unwrap_or_default()
            {
                // A marker past its expiry is gone, like one TTL already removed.
                if !keep_expired && crate::model::is_expired(&item, now) {
                    continue;
                }
                if let Some(pk) = item.get(attr::PK).and_then(|v| v.as_s().ok()).cloned() {
                    found.insert(pk, item);
                }
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.table_name()))
                .filter(|k| !k.keys.is_empty());
        }
        Ok(found)
    }
}

/// The introspection access of a stored client item; `Denied` when it is not one.
pub(crate) fn client_introspection_access(item: Item) -> Result<IntrospectionAccess, StoreError> {
    let client: ClientItem = serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("client item: {e}")))?;
    Ok(IntrospectionAccess::of(&client))
}

/// Whether `client_id` of `tenant` could name a client at all: a valid tenant id and
/// client id. Anything else is no client, without a read.
pub(crate) fn could_be_client(tenant: &str, client_id: &str) -> bool {
    item_key::valid_tenant_id(tenant)
        && crate::model::check_identifier("clientId", client_id, crate::model::MAX_ID_BYTES).is_ok()
}

fn parse_tenant(item: Item) -> Result<Tenant, StoreError> {
    serde_dynamo::from_item::<_, TenantItem>(item)
        .map(|t| t.tenant)
        .map_err(|e| StoreError::Corrupt(format!("tenant item: {e}")))
}
