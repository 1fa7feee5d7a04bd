//! Back-channel logout deliveries: one SQS message per logout and client, so that each
//! receiver is retried on its own and one slow or dead receiver never holds back another.
//! The fanout (the table's stream) queues them; the delivery function sends each, queues
//! it again with a delay after a failure worth retrying, and moves it to the undelivered
//! queue when it gives up, whence `signoff-admin redeliver` sends it again.
//!
//! A message names the logout, never a token: the delivery mints a fresh logout token for
//! every attempt, since a token is good for two minutes only.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use signoff_store::audiences::{DeviceSession, Logout};

use crate::{Queue, QueueError};

/// The deliveries queue's URL (`template.yaml` sets it).
pub const LOGOUT_QUEUE_URL_VAR: &str = "SIGNOFF_LOGOUT_QUEUE_URL";
/// The undelivered queue's URL.
pub const UNDELIVERED_QUEUE_URL_VAR: &str = "SIGNOFF_UNDELIVERED_QUEUE_URL";

/// One logout to tell one recipient: a client (a logout token to its back-channel logout
/// URI) or a Shared Signals receiver (a `session-revoked` SET, or a verification event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogoutDelivery {
    pub tenant: String,
    /// The client told; empty for an SSF receiver.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// The SSF receiver (stream) told, instead of a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssf_receiver: Option<String>,
    /// An SSF verification event rather than a logout (SSF 1.0 section 8.1.4), with the
    /// `state` to echo if the operator gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The client whose tokens were cut off (every session there, or the subject's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Every session of the tenant ended (its cutoff).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole_tenant: bool,
    /// The device whose tokens were revoked (NetIQ's device binding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// When the logout happened (epoch seconds).
    pub logged_out_at: i64,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// Where the retry period starts (epoch milliseconds): the logout, or an operator's
    /// redelivery. Retries end a fixed time after it.
    pub since_ms: i64,
    /// Not to be attempted before (epoch milliseconds): a backoff longer than the 15
    /// minutes SQS can delay a message travels as several delays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_ms: Option<i64>,
    /// Why the last attempt failed (what an operator reads on the undelivered queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}

/// What an SSF verification event carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Who a delivery is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient<'a> {
    Client(&'a str),
    SsfReceiver(&'a str),
}

impl LogoutDelivery {
    /// One delivery of `logout` per client in `clients`. The same logout always makes the
    /// same deliveries, so that a stream batch handled twice queues nothing new (see
    /// [`LogoutDelivery::attempt_identity`]).
    pub fn for_clients(logout: &Logout, clients: &[String]) -> Vec<Self> {
        let none = None::<String>;
        let (tenant, subject, session_id, application, whole_tenant, at) = match logout {
            Logout::Session {
                tenant,
                session_id,
                subject,
                at,
                ..
            } => (
                tenant,
                subject.clone(),
                Some(session_id.clone()),
                none,
                false,
                *at,
            ),
            Logout::User {
                tenant,
                subject,
                at,
            } => (tenant, Some(subject.clone()), None, none, false, *at),
            Logout::ClientUser {
                tenant,
                client_id,
                subject,
                at,
            } => (
                tenant,
                Some(subject.clone()),
                None,
                Some(client_id.clone()),
                false,
                *at,
            ),
            Logout::Client {
                tenant,
                client_id,
                at,
            } => (tenant, None, None, Some(client_id.clone()), false, *at),
            Logout::Tenant { tenant, at } => (tenant, None, None, none, true, *at),
            Logout::Device { tenant, at, .. } => (tenant, None, None, none, false, *at),
        };
        let device = match logout {
            Logout::Device { device_id, .. } => Some(device_id.clone()),
            _ => None,
        };
        clients
            .iter()
            .map(|client_id| Self {
                tenant: tenant.clone(),
                client_id: client_id.clone(),
                ssf_receiver: None,
                verification: None,
                subject: subject.clone(),
                session_id: session_id.clone(),
                application: application.clone(),
                whole_tenant,
                device: device.clone(),
                logged_out_at: at,
                attempts: 0,
                since_ms: at * 1000,
                not_before_ms: None,
                last_failure: None,
            })
            .collect()
    }

    /// A device revocation's deliveries to clients: one per session (or sessionless token's
    /// subject) of `sessions`, to its client, naming that session and its subject.
    pub fn for_device_sessions(logout: &Logout, sessions: &[DeviceSession]) -> Vec<Self> {
        sessions
            .iter()
            .filter(|s| s.session_id.is_some() || s.subject.is_some())
            .flat_map(|session| {
                Self::for_clients(logout, std::slice::from_ref(&session.client_id))
                    .into_iter()
                    .map(|delivery| Self {
                        session_id: session.session_id.clone(),
                        subject: session.subject.clone(),
                        ..delivery
                    })
            })
            .collect()
    }

    /// One delivery of `logout` per SSF receiver in `receivers`.
    pub fn for_ssf_receivers(logout: &Logout, receivers: &[String]) -> Vec<Self> {
        let mut deliveries = Self::for_clients(logout, receivers);
        for delivery in &mut deliveries {
            delivery.ssf_receiver = Some(std::mem::take(&mut delivery.client_id));
        }
        deliveries
    }

    /// An SSF verification event for `receiver` of `tenant`, asked for at `now_ms`.
    pub fn verification(tenant: &str, receiver: &str, state: Option<&str>, now_ms: i64) -> Self {
        Self {
            tenant: tenant.to_owned(),
            client_id: String::new(),
            ssf_receiver: Some(receiver.to_owned()),
            verification: Some(Verification {
                state: state.map(str::to_owned),
            }),
            subject: None,
            session_id: None,
            application: None,
            whole_tenant: false,
            device: None,
            logged_out_at: now_ms / 1000,
            attempts: 0,
            since_ms: now_ms,
            not_before_ms: None,
            last_failure: None,
        }
    }

    pub fn recipient(&self) -> Recipient<'_> {
        match &self.ssf_receiver {
            Some(receiver) => Recipient::SsfReceiver(receiver),
            None => Recipient::Client(&self.client_id),
        }
    }

    /// Names the recipient within the deployment: what deliveries to the same receiver
    /// share (their bound on requests in flight).
    pub fn recipient_key(&self) -> String {
        match self.recipient() {
            Recipient::Client(client) => {
                signoff_store::item_key::compose(&["client", &self.tenant, client])
            }
            Recipient::SsfReceiver(receiver) => {
                signoff_store::item_key::compose(&["ssf", &self.tenant, receiver])
            }
        }
    }

    /// The recipient, for logs and the admin tool: the client id, or `ssf:<receiver>`.
    pub fn recipient_name(&self) -> String {
        match self.recipient() {
            Recipient::Client(client) => client.to_owned(),
            Recipient::SsfReceiver(receiver) => format!("ssf:{receiver}"),
        }
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("a logout delivery always serializes")
    }

    /// What names this attempt, and no other: the logout, the client, where the retry
    /// period started and the attempt number. Its sender claims it once
    /// ([`signoff_store::Store::claim_delivery`]).
    pub fn attempt_identity(&self) -> String {
        let mut parts = serde_json::json!([
            self.client_id,
            self.subject,
            self.session_id,
            self.logged_out_at,
            self.since_ms,
            self.attempts,
        ]);
        // Appended, not inserted: a delivery of a session end or a logout-all to a client
        // keeps the identity it always had.
        let parts_of = parts.as_array_mut().expect("an array");
        if let Some(receiver) = &self.ssf_receiver {
            parts_of.push(receiver.as_str().into());
            parts_of.push(serde_json::json!(self.verification));
        }
        if self.application.is_some() || self.whole_tenant || self.device.is_some() {
            parts_of.push(serde_json::json!([
                self.application,
                self.whole_tenant,
                self.device
            ]));
        }
        parts.to_string()
    }

    /// Names the event this delivery tells its recipient, the same for every attempt and
    /// every redelivery (unlike [`LogoutDelivery::attempt_identity`]): the SET's `jti`, by
    /// which a receiver knows a retry of what it already has. Derived, so nothing more
    /// travels in the message.
    pub fn event_id(&self) -> String {
        let event = serde_json::json!([
            self.tenant,
            self.client_id,
            self.ssf_receiver,
            self.verification,
            self.subject,
            self.session_id,
            self.application,
            self.whole_tenant,
            self.device,
            self.logged_out_at,
        ]);
        signoff_store::item_key::TokenHash::of(&event.to_string()).encoded()
    }

    /// The same logout, as new: for an operator's redelivery, which gets a full retry
    /// period again.
    pub fn restarted(self, now_ms: i64) -> Self {
        Self {
            attempts: 0,
            since_ms: now_ms,
            not_before_ms: None,
            last_failure: None,
            ..self
        }
    }
}

/// The two queues of back-channel logout delivery.
#[derive(Clone, Debug)]
pub struct LogoutQueues {
    pub deliveries: Queue,
    pub undelivered: Queue,
}

impl LogoutQueues {
    /// Queues `delivery` again, to be received after `delay` (at most SQS's 15 minutes; a
    /// longer wait is the message's `not_before_ms`).
    pub async fn retry(
        &self,
        delivery: &LogoutDelivery,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.deliveries.send_body(delivery.body(), delay).await
    }

    /// Keeps `delivery` where an operator sees it.
    pub async fn give_up(&self, delivery: &LogoutDelivery) -> Result<(), QueueError> {
        self.undelivered
            .send_body(delivery.body(), Duration::ZERO)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_logout_names_the_session_and_a_user_logout_the_user() {
        let session = Logout::Session {
            tenant: "t".into(),
            session_id: "s1".into(),
            subject: Some("u".into()),
            clients: vec!["a".into(), "b".into()],
            at: 10,
        };
        let deliveries = LogoutDelivery::for_clients(&session, &["a".into(), "b".into()]);
        // The same logout again (a stream batch retried) makes the same attempts.
        assert_eq!(
            deliveries[0].attempt_identity(),
            LogoutDelivery::for_clients(&session, &["a".into()])[0].attempt_identity()
        );
        assert_ne!(
            deliveries[0].attempt_identity(),
            deliveries[1].attempt_identity()
        );
        assert_eq!(deliveries.len(), 2);
        assert_eq!(deliveries[1].client_id, "b");
        assert_eq!(deliveries[1].session_id.as_deref(), Some("s1"));
        assert_eq!(deliveries[1].subject.as_deref(), Some("u"));
        let user = Logout::User {
            tenant: "t".into(),
            subject: "u".into(),
            at: 10,
        };
        let delivery = &LogoutDelivery::for_clients(&user, &["a".into()])[0];
        assert_eq!(delivery.session_id, None);
        let back: LogoutDelivery = serde_json::from_str(&delivery.body()).unwrap();
        assert_eq!(&back, delivery);
        let mut tried = back.clone();
        tried.attempts = 7;
        tried.last_failure = Some("HTTP 400".into());
        let again = tried.clone().restarted(100);
        assert_eq!((again.since_ms, again.attempts), (100, 0));
        assert_ne!(again.attempt_identity(), back.attempt_identity());
        // One event, whatever the attempt: the SET's jti stays.
        assert_eq!(again.event_id(), back.event_id());
        assert_ne!(
            again.event_id(),
            LogoutDelivery::for_clients(&user, &["b".into()])[0].event_id()
        );
    }
}
