//! Who hears of a logout: the clients that held a token of the session or the user that
//! ended, as registration noted them, and the logouts the table's stream reports.
//!
//! - **A session's clients** are a string set on the session's item (`clients`, with the
//!   session's `subject`), added by the registration transaction's session update, which
//!   is written anyway: no extra write.
//! - **A user's clients** are a string set on the user's audience item
//!   (`audience#<tenant>#<user>`), added by one UpdateItem per user per registration call,
//!   issued alongside the registration's own write. It lives `session_marker_ttl` from
//!   the user's latest registration, as long as the logout-all marker that would need it.
//!   Written before or with the token, so a logout-all that follows any registration
//!   finds its client; the fanout never depends on index reads or on records that the
//!   logout itself deletes.
//!
//! - **A device's sessions** (NetIQ's device binding: the device and its user) are a string
//!   set on the device's audience item (`device-audience#<tenant>#<device>#<store>#<dn>`),
//!   each entry a client, a session and a subject as one of the device's tokens named
//!   them, added like a user's clients (one UpdateItem per device and user per
//!   registration call, for device-bound tokens only), for the device's revocation to
//!   tell each client of each session it ended.
//!
//! [`Logout::from_change`] reads a stream record's images: a session item whose
//! `ended_at` appears (its first end: ends keep their first time, so a repeated logout is
//! no new event), or a user marker whose `revoked_at` moves forward. TTL and housekeeping
//! deletions are REMOVE records, which carry no new image and are never logouts.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::{TokenRecord, SESSION_KIND};
use crate::sessions::{ENDED_AT, SESSION_CLIENTS, SESSION_SUBJECT};
use crate::table::attr;
use crate::Store;

const AUDIENCE_KIND: &str = "audience";
const AUDIENCE_CLIENTS: &str = "clients";
const DEVICE_SESSIONS: &str = "sessions";
/// A device revocation's marker (see [`crate::revocation`]).
const DEVICE_KIND: &str = "device";
/// The user marker's kind and time (see [`crate::revocation`]).
const USER_KIND: &str = "user";
const REVOKED_AT: &str = "revoked_at";
/// A cutoff's kind (see [`crate::cutoffs`]).
const CUTOFF_KIND: &str = "cutoff";

/// A logout the stream reports: who ended, and when (epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logout {
    /// A session ended: each of its clients hears of it with `sid` (and `sub` when known).
    Session {
        tenant: String,
        session_id: String,
        subject: Option<String>,
        clients: Vec<String>,
        at: i64,
    },
    /// A user was logged out everywhere: each client of the user hears of it with `sub`
    /// alone, which OpenID Connect Back-Channel Logout 1.0 section 2.4 defines as all of
    /// the user's sessions at that client.
    User {
        tenant: String,
        subject: String,
        at: i64,
    },
    /// Every token of a client for a user was cut off (a user removing an app's access):
    /// that client hears of it with `sub` alone, as for a logout-all.
    ClientUser {
        tenant: String,
        client_id: String,
        subject: String,
        at: i64,
    },
    /// Every token of a client was cut off: every session at that client ended. No logout
    /// token says so (section 2.4 names a user or a session), so only Shared Signals
    /// receivers hear of it.
    Client {
        tenant: String,
        client_id: String,
        at: i64,
    },
    /// Every token of the tenant was cut off (break-glass): Shared Signals receivers hear
    /// of it.
    Tenant { tenant: String, at: i64 },
    /// A device's tokens of one user were revoked (NetIQ): each client of each session
    /// they were in hears of that session.
    Device {
        tenant: String,
        device_id: String,
        user_store: String,
        user_dn: String,
        at: i64,
    },
}

/// A session a device's token was in, and its client: what the device's revocation tells.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeviceSession {
    pub client_id: String,
    pub session_id: Option<String>,
    pub subject: Option<String>,
}

impl DeviceSession {
    fn of(record: &TokenRecord) -> Self {
        Self {
            client_id: record.client_id.clone(),
            session_id: record.session_id.clone(),
            subject: record.subject.clone(),
        }
    }

    fn encode(&self) -> String {
        let part = |v: &Option<String>| v.clone().unwrap_or_default();
        item_key::compose(&[
            &self.client_id,
            &part(&self.session_id),
            &part(&self.subject),
        ])
    }

    fn decode(entry: &str) -> Option<Self> {
        let parts = item_key::decompose(entry)?;
        let [client_id, session_id, subject] = parts.as_slice() else {
            return None;
        };
        let present = |v: &String| (!v.is_empty()).then(|| v.clone());
        Some(Self {
            client_id: client_id.clone(),
            session_id: present(session_id),
            subject: present(subject),
        })
    }
}

impl Logout {
    /// The logout a stream record reports, from its `Keys`, `OldImage` and `NewImage` in
    /// DynamoDB JSON (as Lambda's DynamoDB Streams event carries them); `None` for every
    /// other change.
    pub fn from_change(keys: &Value, old: Option<&Value>, new: Option<&Value>) -> Option<Logout> {
        let new = new?;
        let parts = item_key::decompose(keys.get(attr::PK)?.get("S")?.as_str()?)?;
        let string =
            |image: &Value, name: &str| image.get(name)?.get("S")?.as_str().map(str::to_owned);
        let number = |image: Option<&Value>, name: &str| -> Option<i64> {
            image?.get(name)?.get("N")?.as_str()?.parse().ok()
        };
        // A marker's (a user's, a cutoff's) time only moves forward; a write that does not
        // move it is no new event.
        let moved_forward = || {
            let at = number(Some(new), REVOKED_AT)?;
            number(old, REVOKED_AT)
                .is_none_or(|before| before < at)
                .then_some(at)
        };
        let kind = string(new, attr::KIND);
        match (parts.as_slice(), kind.as_deref()) {
            ([prefix, tenant, session_id], Some(SESSION_KIND)) if prefix == "session" => {
                let at = number(Some(new), ENDED_AT)?;
                if number(old, ENDED_AT) == Some(at) {
                    return None;
                }
                let clients = new
                    .get(SESSION_CLIENTS)
                    .and_then(|v| v.get("SS"))
                    .and_then(Value::as_array)
                    .map(|clients| {
                        clients
                            .iter()
                            .filter_map(|c| c.as_str().map(str::to_owned))
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Logout::Session {
                    tenant: tenant.clone(),
                    session_id: session_id.clone(),
                    subject: string(new, SESSION_SUBJECT),
                    clients,
                    at,
                })
            }
            ([prefix, tenant, user], Some(USER_KIND)) if prefix == "user" => {
                let at = moved_forward()?;
                Some(Logout::User {
                    tenant: tenant.clone(),
                    subject: user.clone(),
                    at,
                })
            }
            // A tenant's and a client's cutoffs are written as several copies at once (see
            // crate::cutoffs): the first copy stands for them all.
            ([prefix, tenant, scope, copy], Some(CUTOFF_KIND))
                if prefix == "cutoff" && scope == "tenant" && copy == "0" =>
            {
                let at = moved_forward()?;
                Some(Logout::Tenant {
                    tenant: tenant.clone(),
                    at,
                })
            }
            ([prefix, tenant, scope, client_id, copy], Some(CUTOFF_KIND))
                if prefix == "cutoff" && scope == "client" && copy == "0" =>
            {
                let at = moved_forward()?;
                Some(Logout::Client {
                    tenant: tenant.clone(),
                    client_id: client_id.clone(),
                    at,
                })
            }
            ([prefix, tenant, device_id, user_store, user_dn], Some(DEVICE_KIND))
                if prefix == "device" =>
            {
                let at = moved_forward()?;
                Some(Logout::Device {
                    tenant: tenant.clone(),
                    device_id: device_id.clone(),
                    user_store: user_store.clone(),
                    user_dn: user_dn.clone(),
                    at,
                })
            }
            ([prefix, tenant, scope, client_id, subject], Some(CUTOFF_KIND))
                if prefix == "cutoff" && scope == "client-subject" =>
            {
                let at = moved_forward()?;
                Some(Logout::ClientUser {
                    tenant: tenant.clone(),
                    client_id: client_id.clone(),
                    subject: subject.clone(),
                    at,
                })
            }
            _ => None,
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            Logout::Session { tenant, .. }
            | Logout::User { tenant, .. }
            | Logout::ClientUser { tenant, .. }
            | Logout::Client { tenant, .. }
            | Logout::Tenant { tenant, .. }
            | Logout::Device { tenant, .. } => tenant,
        }
    }

    /// What kind of logout it is, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Logout::Session { .. } => "session",
            Logout::User { .. } => "user",
            Logout::ClientUser { .. } => "client-user",
            Logout::Client { .. } => "client",
            Logout::Tenant { .. } => "tenant",
            Logout::Device { .. } => "device",
        }
    }
}

impl Store {
    /// Notes, for every user of `records`, the clients their tokens were issued to: one
    /// UpdateItem per user (see the module documentation).
    pub(crate) async fn note_audiences(&self, records: &[TokenRecord]) -> Result<(), StoreError> {
        // Owned, so that the futures below borrow nothing but the store: each item's key,
        // whether it is a device's (its set is the sessions) or a user's (the clients), and
        // what it adds.
        let mut audiences: BTreeMap<(String, bool), BTreeSet<String>> = BTreeMap::new();
        for record in records {
            if let Some(subject) = record.subject.as_deref() {
                audiences
                    .entry((item_key::audience_pk(&record.tenant, subject), false))
                    .or_default()
                    .insert(record.client_id.clone());
            }
            if let Some(device) = &record.device {
                let pk = item_key::device_audience_pk(
                    &record.tenant,
                    &device.device_id,
                    &device.user_store,
                    &device.user_dn,
                );
                audiences
                    .entry((pk, true))
                    .or_default()
                    .insert(DeviceSession::of(record).encode());
            }
        }
        let expires_at =
            crate::now_epoch_seconds() + self.config().session_marker_ttl.as_secs() as i64;
        stream::iter(audiences)
            .map(|((pk, device), members)| async move {
                let set = if device {
                    DEVICE_SESSIONS
                } else {
                    AUDIENCE_CLIENTS
                };
                self.client()
                    .update_item()
                    .table_name(self.table_name())
                    .update_expression(
                        "SET #kind = :kind, #exp = :exp, #bucket = :bucket ADD #set :members",
                    )
                    .expression_attribute_names("#kind", attr::KIND)
                    .expression_attribute_names("#exp", attr::EXPIRES_AT)
                    .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
                    .expression_attribute_names("#set", set)
                    .expression_attribute_values(":kind", AttributeValue::S(AUDIENCE_KIND.into()))
                    .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
                    .expression_attribute_values(
                        ":bucket",
                        AttributeValue::S(item_key::item_expiry_bucket(&pk, expires_at)),
                    )
                    .expression_attribute_values(
                        ":members",
                        AttributeValue::Ss(members.into_iter().collect()),
                    )
                    .key(attr::PK, AttributeValue::S(pk))
                    .send()
                    .await
                    .map_err(|e| classify("UpdateItem", e))
                    .map(drop)
            })
            .buffer_unordered(self.config().bulk.concurrency.max(1))
            .try_collect()
            .await
    }

    /// The sessions (with their clients and subjects) that device `device_id` of user
    /// `user_store`/`user_dn` of `tenant` held tokens in within the marker lifetime (one
    /// strongly consistent GetItem), sorted.
    pub async fn device_sessions(
        &self,
        tenant: &str,
        device_id: &str,
        user_store: &str,
        user_dn: &str,
    ) -> Result<Vec<DeviceSession>, StoreError> {
        let pk = item_key::device_audience_pk(tenant, device_id, user_store, user_dn);
        let mut sessions: Vec<DeviceSession> = self
            .get_item(pk, true)
            .await?
            .and_then(|mut item| item.remove(DEVICE_SESSIONS))
            .and_then(|set| set.as_ss().ok().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|entry| DeviceSession::decode(entry))
            .collect();
        sessions.sort();
        Ok(sessions)
    }

    /// The clients that held a token of `user` of `tenant` within the marker lifetime
    /// (one strongly consistent GetItem), sorted.
    pub async fn user_clients(&self, tenant: &str, user: &str) -> Result<Vec<String>, StoreError> {
        let item = self
            .get_item(item_key::audience_pk(tenant, user), true)
            .await?;
        let mut clients: Vec<String> = item
            .and_then(|mut item| item.remove(AUDIENCE_CLIENTS))
            .and_then(|clients| clients.as_ss().ok().cloned())
            .unwrap_or_default();
        clients.sort();
        Ok(clients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session_keys() -> Value {
        json!({"pk": {"S": item_key::session_pk("t1", "s#1")}})
    }

    #[test]
    fn a_session_ends_once_with_its_clients_and_user() {
        let old = json!({"kind": {"S": "session"}, "clients": {"SS": ["b", "a"]}});
        let new = json!({"kind": {"S": "session"}, "clients": {"SS": ["b", "a"]},
            "subject": {"S": "u1"}, "ended_at": {"N": "100"}});
        assert_eq!(
            Logout::from_change(&session_keys(), Some(&old), Some(&new)),
            Some(Logout::Session {
                tenant: "t1".into(),
                session_id: "s#1".into(),
                subject: Some("u1".into()),
                clients: vec!["a".into(), "b".into()],
                at: 100,
            })
        );
        // A logout of the ended session again keeps the first end: no new event.
        assert_eq!(
            Logout::from_change(&session_keys(), Some(&new), Some(&new)),
            None
        );
        // Registration's updates, and deletions, are not logouts.
        assert_eq!(
            Logout::from_change(&session_keys(), Some(&old), Some(&old)),
            None
        );
        assert_eq!(Logout::from_change(&session_keys(), Some(&new), None), None);
    }

    #[test]
    fn a_user_logout_counts_when_its_mark_moves_forward() {
        let keys = json!({"pk": {"S": item_key::user_pk("t1", "alice")}});
        let at = |t: i64| json!({"kind": {"S": "user"}, "revoked_at": {"N": t.to_string()}});
        let expected = Some(Logout::User {
            tenant: "t1".into(),
            subject: "alice".into(),
            at: 200,
        });
        assert_eq!(Logout::from_change(&keys, None, Some(&at(200))), expected);
        assert_eq!(
            Logout::from_change(&keys, Some(&at(100)), Some(&at(200))),
            expected
        );
        assert_eq!(
            Logout::from_change(&keys, Some(&at(200)), Some(&at(200))),
            None
        );
    }

    #[test]
    fn cutoffs_are_logouts_once_per_move_and_copy() {
        let image = |at: i64| json!({"kind": {"S": "cutoff"}, "revoked_at": {"N": at.to_string()}});
        let change = |pk: String, old: Option<Value>, at: i64| {
            Logout::from_change(&json!({"pk": {"S": pk}}), old.as_ref(), Some(&image(at)))
        };
        assert_eq!(
            change(
                item_key::client_subject_cutoff_pk("t1", "web", "alice"),
                None,
                5
            ),
            Some(Logout::ClientUser {
                tenant: "t1".into(),
                client_id: "web".into(),
                subject: "alice".into(),
                at: 5
            })
        );
        assert_eq!(
            change(
                item_key::client_cutoff_pk("t1", "web", 0),
                Some(image(4)),
                5
            ),
            Some(Logout::Client {
                tenant: "t1".into(),
                client_id: "web".into(),
                at: 5
            })
        );
        assert_eq!(
            change(item_key::tenant_cutoff_pk("t1", 0), None, 5),
            Some(Logout::Tenant {
                tenant: "t1".into(),
                at: 5
            })
        );
        // The other copies of the same cutoff, and a write that does not move it: nothing.
        assert_eq!(
            change(item_key::client_cutoff_pk("t1", "web", 3), None, 5),
            None
        );
        assert_eq!(change(item_key::tenant_cutoff_pk("t1", 15), None, 5), None);
        assert_eq!(
            change(item_key::tenant_cutoff_pk("t1", 0), Some(image(5)), 5),
            None
        );
    }

    #[test]
    fn a_device_revocation_is_a_logout_and_its_sessions_round_trip() {
        let pk = item_key::device_user_pk("t1", "d-1", "store", "cn=alice,o=x");
        let image = |at: i64| json!({"kind": {"S": "device"}, "revoked_at": {"N": at.to_string()}});
        assert_eq!(
            Logout::from_change(&json!({"pk": {"S": pk}}), None, Some(&image(7))),
            Some(Logout::Device {
                tenant: "t1".into(),
                device_id: "d-1".into(),
                user_store: "store".into(),
                user_dn: "cn=alice,o=x".into(),
                at: 7
            })
        );
        // The pending flag cleared afterwards moves nothing: no second event.
        assert_eq!(
            Logout::from_change(&json!({"pk": {"S": pk}}), Some(&image(7)), Some(&image(7))),
            None
        );
        for session in [
            DeviceSession {
                client_id: "web#1".into(),
                session_id: Some("s%1".into()),
                subject: Some("alice".into()),
            },
            DeviceSession {
                client_id: "web".into(),
                session_id: None,
                subject: None,
            },
        ] {
            assert_eq!(DeviceSession::decode(&session.encode()), Some(session));
        }
    }

    #[test]
    fn other_items_are_no_logouts() {
        let new = json!({"kind": {"S": "grant"}, "revoked_at": {"N": "5"}});
        let keys = json!({"pk": {"S": item_key::grant_pk("t1", "g")}});
        assert_eq!(Logout::from_change(&keys, None, Some(&new)), None);
        // A kind that does not match its key is no logout either.
        let keys = json!({"pk": {"S": item_key::user_pk("t1", "alice")}});
        let new = json!({"kind": {"S": "audience"}, "revoked_at": {"N": "5"}});
        assert_eq!(Logout::from_change(&keys, None, Some(&new)), None);
        assert_eq!(Logout::from_change(&json!({}), None, Some(&new)), None);
    }
}
