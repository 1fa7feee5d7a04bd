//! The fanout: Lambda's DynamoDB Streams event source hands it the table's changes (the
//! template's filter passes only session items, user markers and cutoffs); each logout
//! among them
//! ([`Logout::from_change`]) becomes one delivery per client that registered a
//! back-channel logout URI and one per Shared Signals receiver of the tenant that asked
//! for `session-revoked`, queued at once. Nothing here waits for a receiver.
//!
//! Records are handled in order. A record whose deliveries cannot be queued (store or
//! queue trouble) is reported by its sequence number (`ReportBatchItemFailures`): Lambda
//! retries the batch from it, so no logout is skipped; a logout queued twice that way makes
//! the same deliveries, which the delivery sends once ([`crate::deliver`]).

use futures_util::stream::{self, StreamExt, TryStreamExt};
use lambda_http::lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use signoff_jose::security_event::SESSION_REVOKED_EVENT;
use signoff_queue::logouts::LogoutDelivery;
use signoff_queue::{BatchResponse, ItemFailure, Queue, QueueError};
use std::collections::{BTreeSet, HashMap};

use signoff_store::audiences::{DeviceSession, Logout};
use signoff_store::backchannel::ClientLogout;
use signoff_store::{Store, StoreError};

use crate::settings::FanoutSettings;

/// The part of Lambda's DynamoDB Streams event the fanout reads.
#[derive(Debug, Default, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamRecord {
    #[serde(default)]
    pub dynamodb: StreamChange,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "Keys", default)]
    pub keys: Value,
    #[serde(rename = "OldImage")]
    pub old_image: Option<Value>,
    #[serde(rename = "NewImage")]
    pub new_image: Option<Value>,
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Clients whose registrations are read at once for one logout.
const CLIENT_READS: usize = 8;

/// Handles one batch of stream records. Never an invocation error: the first record that
/// fails is reported, and Lambda retries from it.
pub async fn handle(
    store: &Store,
    deliveries: &Queue,
    settings: &FanoutSettings,
    event: LambdaEvent<StreamEvent>,
) -> Result<BatchResponse, std::convert::Infallible> {
    let (mut logouts, mut queued) = (0u64, 0u64);
    // Each tenant's receivers, read once per batch (a bulk logout is many records of one
    // tenant).
    let mut ssf_receivers: HashMap<String, Vec<String>> = HashMap::new();
    let mut response = BatchResponse::default();
    for record in event.payload.records {
        let change = &record.dynamodb;
        let Some(logout) = Logout::from_change(
            &change.keys,
            change.old_image.as_ref(),
            change.new_image.as_ref(),
        ) else {
            continue;
        };
        logouts += 1;
        // Logout tokens are signed as the deployment's one issuer: another tenant's relying
        // parties would not accept them (docs/back-channel-logout.md). SETs name their
        // tenant in `sub_id`, so every tenant's SSF receivers are told.
        let tell_clients = logout.tenant() == settings.tenant;
        match fan_out(store, deliveries, &logout, tell_clients, &mut ssf_receivers).await {
            Ok(count) => {
                queued += count as u64;
                tracing::info!(
                    tenant = %logout.tenant(),
                    kind = logout.kind(),
                    deliveries = count,
                    "logout fanned out"
                );
            }
            Err(failure) => {
                tracing::error!(
                    tenant = %logout.tenant(),
                    kind = logout.kind(),
                    error = %failure,
                    sequence_number = %change.sequence_number,
                    "logout not fanned out; the stream retries from it"
                );
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: change.sequence_number.clone(),
                });
                break;
            }
        }
    }
    let counts = [
        ("Logouts", logouts),
        ("LogoutDeliveriesQueued", queued),
        ("FanoutFailures", response.batch_item_failures.len() as u64),
    ];
    signoff_edge::metrics::print_counts(&counts);
    Ok(response)
}

/// Queues one delivery per client of `logout` that registered a logout URI (if
/// `tell_clients`), and one per SSF receiver of its tenant that asked for
/// `session-revoked`.
async fn fan_out(
    store: &Store,
    deliveries: &Queue,
    logout: &Logout,
    tell_clients: bool,
    receivers_of: &mut HashMap<String, Vec<String>>,
) -> Result<usize, Failure> {
    let tenant = logout.tenant();
    // A device's revocation: the sessions its tokens were in, as registration noted them.
    let device_sessions = match logout {
        Logout::Device {
            device_id,
            user_store,
            user_dn,
            ..
        } => {
            store
                .device_sessions(tenant, device_id, user_store, user_dn)
                .await?
        }
        _ => Vec::new(),
    };
    let ssf_receivers = match receivers_of.get(tenant) {
        Some(receivers) => receivers.clone(),
        None => {
            let receivers: Vec<String> = store
                .ssf_receivers(tenant)
                .await?
                .into_iter()
                .filter(|r| r.wants(SESSION_REVOKED_EVENT))
                .map(|r| r.id)
                .collect();
            receivers_of.insert(tenant.to_owned(), receivers.clone());
            receivers
        }
    };
    let mut queued = LogoutDelivery::for_ssf_receivers(logout, &ssf_receivers);
    if matches!(logout, Logout::Device { .. }) {
        // The device's user as the tenant knows them, when its tokens name one.
        let subjects: BTreeSet<&str> = device_sessions
            .iter()
            .filter_map(|s| s.subject.as_deref())
            .collect();
        if let [subject] = subjects.into_iter().collect::<Vec<_>>()[..] {
            for delivery in &mut queued {
                delivery.subject = Some(subject.to_owned());
            }
        }
    }
    if tell_clients {
        queued.extend(client_deliveries(store, logout, &device_sessions).await?);
    }
    let bodies: Vec<String> = queued.iter().map(LogoutDelivery::body).collect();
    deliveries.send_bodies(&bodies).await?;
    Ok(queued.len())
}

/// One delivery per client of `logout` that registered a logout URI (per session of the
/// device, for a device's revocation).
async fn client_deliveries(
    store: &Store,
    logout: &Logout,
    device_sessions: &[DeviceSession],
) -> Result<Vec<LogoutDelivery>, Failure> {
    let tenant = logout.tenant();
    let clients = match logout {
        Logout::Session { clients, .. } => clients.clone(),
        Logout::User { subject, .. } => store.user_clients(tenant, subject).await?,
        // The client whose access the user removed: `sub` alone, as for a logout-all.
        Logout::ClientUser { client_id, .. } => vec![client_id.clone()],
        // No logout token says "every session at this client" or "of this tenant"
        // (section 2.4 names a user or a session): Shared Signals receivers hear of these.
        Logout::Client { .. } | Logout::Tenant { .. } => Vec::new(),
        Logout::Device { .. } => device_sessions
            .iter()
            .map(|s| s.client_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let registered: Vec<String> = stream::iter(clients)
        .map(|client| async move {
            let logout = store.client_logout(tenant, &client).await?;
            Ok::<_, StoreError>(matches!(logout, ClientLogout::Registered(_)).then_some(client))
        })
        .buffered(CLIENT_READS)
        .try_filter_map(|client| async move { Ok(client) })
        .try_collect()
        .await?;
    Ok(match logout {
        Logout::Device { .. } => {
            let told: Vec<DeviceSession> = device_sessions
                .iter()
                .filter(|s| registered.contains(&s.client_id))
                .cloned()
                .collect();
            LogoutDelivery::for_device_sessions(logout, &told)
        }
        _ => LogoutDelivery::for_clients(logout, &registered),
    })
}
