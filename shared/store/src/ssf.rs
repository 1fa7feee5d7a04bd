//! Shared Signals receivers of a tenant: where the tenant's session ends are pushed as
//! CAEP `session-revoked` Security Event Tokens (RFC 8935 push). An operator configures
//! them (`signoff-admin ssf-receiver`); SSF's stream management API is not offered, so a
//! receiver is a stream the operator set up, its id the stream id.
//!
//! All of a tenant's receivers live on one item, `ssf#<tenant>`, a map by receiver id, so
//! that a logout reads them with one GetItem. A receiver's authorization header (what
//! it authenticates the transmitter by, RFC 8935 section 2) is never stored in the clear:
//! the caller seals it with KMS ([`SsfReceiver::authorization`] holds the ciphertext).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::backchannel::{Reach, ReceiverUri};
use crate::credentials::ProvisionError;
use crate::error::{condition_held, StoreError};
use crate::item_key;
use crate::model::FieldError;
use crate::table::attr;
use crate::Store;

const SSF_KIND: &str = "ssf";
const RECEIVERS: &str = "receivers";
const ENDPOINT: &str = "endpoint";
const AUDIENCE: &str = "audience";
const EVENTS: &str = "events";
const AUTHORIZATION: &str = "authorization";
const UPDATED_AT: &str = "updated_at";

/// The most receivers a tenant may have: every logout of the tenant queues one delivery
/// per receiver.
pub const MAX_RECEIVERS: usize = 20;
/// Rounds of [`Store::put_ssf_receiver`]'s two conditional writes before it gives up.
const PUT_ROUNDS: u32 = 4;
/// The longest audience accepted.
pub const MAX_AUDIENCE_BYTES: usize = 2_048;

/// The KMS encryption context a receiver's authorization header is sealed with: it opens
/// only for the receiver it was set for, at the endpoint it was set for (the admin tool
/// seals, the delivery opens). With the endpoint bound, a write that points a receiver
/// elsewhere (any role that may update the table) cannot have its header sent there: the
/// header no longer opens, and the delivery keeps the event undelivered.
pub fn authorization_context<'a>(
    tenant: &'a str,
    receiver_id: &'a str,
    endpoint: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("signoff:purpose", AUTHORIZATION_PURPOSE),
        ("signoff:tenant", tenant),
        ("signoff:receiver", receiver_id),
        ("signoff:endpoint", endpoint),
    ]
}

/// The purpose every sealed authorization header names in its encryption context, which
/// the template's key policy requires of whoever seals or opens one.
pub const AUTHORIZATION_PURPOSE: &str = "ssf-receiver-authorization";

fn ssf_pk(tenant: &str) -> String {
    item_key::compose(&[SSF_KIND, tenant])
}

/// One Shared Signals receiver (a push stream) of a tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct SsfReceiver {
    /// The stream's id: 1-128 characters of `A-Z a-z 0-9 . _ -`.
    pub id: String,
    /// Where SETs are POSTed.
    pub endpoint: ReceiverUri,
    /// `aud` of its SETs: the receiver's identifier as it checks it.
    pub audience: String,
    /// The event types it asked for (URIs, among those Signoff transmits).
    pub events: Vec<String>,
    /// The `Authorization` header value it expects, sealed by KMS; `None`: none sent.
    pub authorization: Option<Vec<u8>>,
    pub updated_at: i64,
}

/// The sealed header is ciphertext, but a log has no use for it.
impl std::fmt::Debug for SsfReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsfReceiver")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("audience", &self.audience)
            .field("events", &self.events)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "sealed"),
            )
            .finish()
    }
}

impl SsfReceiver {
    /// A receiver, its fields checked: `endpoint` as a back-channel logout URI is (public
    /// https, or loopback where `reach` allows), `audience` a non-empty string without
    /// control characters, `events` known ones.
    pub fn new(
        id: &str,
        endpoint: &str,
        reach: Reach,
        audience: &str,
        events: &[String],
        authorization: Option<Vec<u8>>,
    ) -> Result<Self, FieldError> {
        if !item_key::valid_tenant_id(id) {
            return Err(FieldError::new(
                "receiverId",
                "must be 1-128 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        let endpoint = ReceiverUri::new(endpoint, "endpoint", reach)?;
        if audience.is_empty()
            || audience.len() > MAX_AUDIENCE_BYTES
            || audience.chars().any(char::is_control)
        {
            return Err(FieldError::new(
                "audience",
                format!("must be 1-{MAX_AUDIENCE_BYTES} bytes without control characters"),
            ));
        }
        if events.is_empty() {
            return Err(FieldError::new("events", "must name at least one event"));
        }
        if let Some(unknown) = events
            .iter()
            .find(|e| !signoff_jose::security_event::TRANSMITTED_EVENTS.contains(&e.as_str()))
        {
            return Err(FieldError::new(
                "events",
                format!("{unknown} is not an event Signoff transmits"),
            ));
        }
        let mut events = events.to_vec();
        events.sort();
        events.dedup();
        Ok(Self {
            id: id.to_owned(),
            endpoint,
            audience: audience.to_owned(),
            events,
            authorization,
            updated_at: crate::now_epoch_seconds(),
        })
    }

    /// Whether it asked for `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == event_type)
    }

    fn to_attribute(&self) -> AttributeValue {
        let mut map = HashMap::from([
            (
                ENDPOINT.to_owned(),
                AttributeValue::S(self.endpoint.as_str().to_owned()),
            ),
            (
                AUDIENCE.to_owned(),
                AttributeValue::S(self.audience.clone()),
            ),
            (EVENTS.to_owned(), AttributeValue::Ss(self.events.clone())),
            (
                UPDATED_AT.to_owned(),
                AttributeValue::N(self.updated_at.to_string()),
            ),
        ]);
        if let Some(sealed) = &self.authorization {
            map.insert(
                AUTHORIZATION.to_owned(),
                AttributeValue::B(Blob::new(sealed.clone())),
            );
        }
        AttributeValue::M(map)
    }

    fn from_attribute(id: &str, value: &AttributeValue) -> Option<Self> {
        let map = value.as_m().ok()?;
        let text = |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some(Self {
            id: id.to_owned(),
            // Checked when stored; read back as stored.
            endpoint: ReceiverUri::stored(text(ENDPOINT)?),
            audience: text(AUDIENCE)?,
            events: map
                .get(EVENTS)
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default(),
            authorization: map
                .get(AUTHORIZATION)
                .and_then(|v| v.as_b().ok())
                .map(|b| b.as_ref().to_vec()),
            updated_at: map
                .get(UPDATED_AT)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        })
    }
}

impl Store {
    /// Adds `receiver` to `tenant`'s, or replaces the one with its id.
    pub async fn put_ssf_receiver(
        &self,
        tenant: &str,
        receiver: &SsfReceiver,
    ) -> Result<(), ProvisionError> {
        if self.get_tenant(tenant).await?.is_none() {
            return Err(ProvisionError::NoSuchTenant(tenant.to_owned()));
        }
        let current = self.ssf_receivers(tenant).await?;
        if current.len() >= MAX_RECEIVERS && !current.iter().any(|r| r.id == receiver.id) {
            return Err(FieldError::new(
                "receiverId",
                format!("a tenant has at most {MAX_RECEIVERS} receivers"),
            )
            .into());
        }
        let pk = ssf_pk(tenant);
        // Into the map if the item has one; else the item is made with it. Either write
        // is conditional, so two operators adding receivers at once both land. The two
        // conditions are complementary: another round is needed only if the item was made
        // or deleted in between, which a few rounds outlast.
        for _ in 0..PUT_ROUNDS {
            let into_map = self
                .client()
                .update_item()
                .table_name(self.table_name())
                .key(attr::PK, AttributeValue::S(pk.clone()))
                .update_expression("SET #receivers.#id = :receiver")
                .condition_expression("attribute_exists(#receivers)")
                .expression_attribute_names("#receivers", RECEIVERS)
                .expression_attribute_names("#id", &receiver.id)
                .expression_attribute_values(":receiver", receiver.to_attribute())
                .send()
                .await;
            if condition_held(into_map)? {
                return Ok(());
            }
            let made = self
                .client()
                .update_item()
                .table_name(self.table_name())
                .key(attr::PK, AttributeValue::S(pk.clone()))
                .update_expression("SET #kind = :kind, #receivers = :receivers")
                .condition_expression("attribute_not_exists(#receivers)")
                .expression_attribute_names("#kind", attr::KIND)
                .expression_attribute_names("#receivers", RECEIVERS)
                .expression_attribute_values(":kind", AttributeValue::S(SSF_KIND.into()))
                .expression_attribute_values(
                    ":receivers",
                    AttributeValue::M(HashMap::from([(
                        receiver.id.clone(),
                        receiver.to_attribute(),
                    )])),
                )
                .send()
                .await;
            if condition_held(made)? {
                return Ok(());
            }
        }
        Err(StoreError::Contention {
            operation: "UpdateItem",
            attempts: PUT_ROUNDS,
        }
        .into())
    }

    /// Removes receiver `id` of `tenant`; `false` if there was none.
    pub async fn remove_ssf_receiver(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(ssf_pk(tenant)))
            .update_expression("REMOVE #receivers.#id")
            .condition_expression("attribute_exists(#receivers.#id)")
            .expression_attribute_names("#receivers", RECEIVERS)
            .expression_attribute_names("#id", id)
            .send()
            .await;
        condition_held(result)
    }

    /// `tenant`'s receivers, by id (one strongly consistent GetItem).
    pub async fn ssf_receivers(&self, tenant: &str) -> Result<Vec<SsfReceiver>, StoreError> {
        let Some(item) = self.get_item(ssf_pk(tenant), true).await? else {
            return Ok(Vec::new());
        };
        let mut receivers: Vec<SsfReceiver> = item
            .get(RECEIVERS)
            .and_then(|v| v.as_m().ok())
            .map(|map| {
                map.iter()
                    .filter_map(|(id, value)| SsfReceiver::from_attribute(id, value))
                    .collect()
            })
            .unwrap_or_default();
        receivers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(receivers)
    }

    /// Receiver `id` of `tenant`, if it is configured.
    pub async fn ssf_receiver(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<SsfReceiver>, StoreError> {
        Ok(self
            .ssf_receivers(tenant)
            .await?
            .into_iter()
            .find(|r| r.id == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_jose::security_event::SESSION_REVOKED_EVENT;

    #[test]
    fn a_receiver_is_checked_and_round_trips_through_its_attribute() {
        let events = vec![SESSION_REVOKED_EVENT.to_owned()];
        let receiver = SsfReceiver::new(
            "siem-1",
            "https://siem.example/events",
            Reach::Public,
            "https://siem.example",
            &events,
            Some(vec![1, 2, 3]),
        )
        .unwrap();
        assert!(receiver.wants(SESSION_REVOKED_EVENT));
        let back = SsfReceiver::from_attribute("siem-1", &receiver.to_attribute()).unwrap();
        assert_eq!(back, receiver);
        let refused = |id: &str, endpoint: &str, audience: &str, events: &[String]| {
            SsfReceiver::new(id, endpoint, Reach::Public, audience, events, None)
                .unwrap_err()
                .field
        };
        let ok = "https://siem.example/events";
        assert_eq!(refused("a b", ok, "x", &events), "receiverId");
        assert_eq!(
            refused("a", "http://siem.example/", "x", &events),
            "endpoint"
        );
        assert_eq!(refused("a", "https://10.0.0.1/", "x", &events), "endpoint");
        assert_eq!(refused("a", ok, "", &events), "audience");
        assert_eq!(refused("a", ok, "x\n", &events), "audience");
        assert_eq!(refused("a", ok, "x", &[]), "events");
        assert_eq!(
            refused(
                "a",
                ok,
                "x",
                &["https://schemas.openid.net/secevent/risc/event-type/account-disabled".into()]
            ),
            "events"
        );
        assert!(SsfReceiver::new(
            "a",
            "http://127.0.0.1:9/e",
            Reach::Loopback,
            "x",
            &events,
            None
        )
        .is_ok());
    }
}
