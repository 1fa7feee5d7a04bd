//! The delivery: Lambda's SQS event source hands it deliveries (one logout for one
//! client); each is attempted on its own, at most `per_receiver` at once to one client.
//!
//! An attempt reads the client's logout URI again (it may have changed or gone), mints a
//! fresh logout token (a token is good for two minutes; a retry hours later needs its own)
//! and POSTs it. Then:
//!
//! - **2xx** (section 2.8: 200, or 204 as many receivers answer): delivered.
//! - **429, 5xx, no answer** (refused, reset, TLS failure, timeout): queued again with a
//!   delay ([`crate::settings::Backoff`]), the attempt counted, until the retry period
//!   (24 hours by default) has passed since the first attempt; then undelivered.
//! - **any other answer** (a 4xx says the receiver refused this token; a 3xx is not
//!   followed), or a URI that leads to no public address: undelivered at once, not retried.
//! - **the client has no logout URI any more**: dropped, with a log line.
//!
//! Undelivered deliveries wait on the undelivered queue (an alarm watches its depth) for
//! `signoff-admin redeliver`. A failure of the function's own (the store, KMS, SQS) is
//! reported for the message (`ReportBatchItemFailures`): SQS delivers it again after its
//! visibility timeout, and after `maxReceiveCount` moves it to the undelivered queue too.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use lambda_http::lambda_runtime::LambdaEvent;
use signoff_jose::logout_token::LogoutToken;
use signoff_jose::security_event::{
    RevokedSessions, SecurityEvent, SECURITY_EVENT_MEDIA_TYPE, SESSION_REVOKED_EVENT,
};
use signoff_jose::SignError;
use signoff_queue::logouts::{LogoutDelivery, LogoutQueues, Recipient};
use signoff_queue::{BatchResponse, ItemFailure, QueueError, SqsEvent, SqsRecord};
use signoff_store::backchannel::{BackchannelLogout, ClientLogout, ReceiverUri};
use signoff_store::ssf::{authorization_context, SsfReceiver};
use signoff_store::{now_epoch_millis, Store, StoreError};
use tokio::sync::Semaphore;

use crate::sender::{Answer, Push, SendError, Sender};
use crate::settings::{DeliverySettings, SECRETS_KEY_VAR};
use signoff_edge::signing::SSF_ISSUER_VAR;

/// Messages of one batch attempted at once (SQS batches hold at most 10).
const BATCH_CONCURRENCY: usize = 10;

/// Room kept before the invocation's deadline beyond one POST's timeout: to mint and sign
/// the token, and to mark the attempt and queue what follows. An attempt that could not
/// finish within the invocation is not started (Lambda would cut it off after its POST,
/// before it is marked, and the receiver would hear it twice); it is queued again at once.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// How long a claimed attempt is another receipt's to leave alone: longer than an
/// invocation may run (the template's timeout, 60 s), shorter than the queue's visibility
/// timeout (360 s), after which SQS hands out a message whose invocation died.
const CLAIM_HOLD: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the message is not a logout delivery: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the logout token failed: {0}")]
    Signing(#[from] SignError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("opening the receiver's authorization header failed: {0}")]
    Secrets(signoff_kms::KmsError),
}

/// What became of one delivery.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered {
        status: u16,
    },
    /// Queued again, to be attempted after `delay`.
    Retrying {
        delay: Duration,
        reason: String,
    },
    /// Moved to the undelivered queue.
    Undelivered {
        reason: String,
    },
    /// Its backoff is longer than one SQS delay: queued again to wait on.
    Waiting,
    /// Too close to the invocation's deadline to be attempted: queued again at once.
    Postponed,
    /// The client has no logout URI (any more), or is gone.
    Dropped,
    /// The same attempt was sent, or is being sent, by another receipt of its message.
    Duplicate,
}

impl Outcome {
    fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Retrying { .. } => "retrying",
            Outcome::Undelivered { .. } => "undelivered",
            Outcome::Waiting => "waiting",
            Outcome::Postponed => "postponed",
            Outcome::Dropped => "dropped",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// Handles one SQS batch. Never an invocation error: each failed message is reported.
pub async fn handle(
    store: &Store,
    queues: &LogoutQueues,
    sender: &Sender,
    settings: &DeliverySettings,
    event: LambdaEvent<SqsEvent>,
) -> Result<BatchResponse, std::convert::Infallible> {
    let deadline = event.context.deadline;
    // One bound per client, shared by this batch's messages to it.
    let mut receivers: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let work: Vec<(SqsRecord, Option<Arc<Semaphore>>)> = event
        .payload
        .records
        .into_iter()
        .map(|record| {
            let receiver = serde_json::from_str::<LogoutDelivery>(&record.body)
                .ok()
                .map(|d| d.recipient_key())
                .map(|key| {
                    receivers
                        .entry(key)
                        .or_insert_with(|| Arc::new(Semaphore::new(settings.per_receiver)))
                        .clone()
                });
            (record, receiver)
        })
        .collect();
    let outcomes: Vec<(SqsRecord, Result<Outcome, Failure>)> = stream::iter(work)
        .map(|(record, receiver)| async move {
            let _slot = match &receiver {
                Some(receiver) => Some(receiver.acquire().await.expect("never closed")),
                None => None,
            };
            let left =
                signoff_edge::runtime::remaining_time(deadline, std::time::SystemTime::now());
            let outcome = if left < settings.timeout + DEADLINE_MARGIN {
                postpone(queues, &record.body).await
            } else {
                attempt(store, queues, sender, settings, &record.body).await
            };
            (record, outcome)
        })
        .buffer_unordered(BATCH_CONCURRENCY)
        .collect()
        .await;
    let mut response = BatchResponse::default();
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    for (record, outcome) in &outcomes {
        *counts
            .entry(match outcome {
                Ok(outcome) => outcome.as_str(),
                Err(_) => "failed",
            })
            .or_default() += 1;
        log(record, outcome);
        if outcome.is_err() {
            response.batch_item_failures.push(ItemFailure {
                item_identifier: record.message_id.clone(),
            });
        }
    }
    let count = |name| counts.get(name).copied().unwrap_or(0);
    let line = [
        ("LogoutsDelivered", count("delivered")),
        ("LogoutRetries", count("retrying")),
        ("LogoutsUndelivered", count("undelivered")),
        ("LogoutsDropped", count("dropped")),
        ("LogoutDuplicatesSkipped", count("duplicate")),
        ("LogoutDeliveriesPostponed", count("postponed")),
        ("LogoutDeliveryFailures", count("failed")),
    ];
    signoff_edge::metrics::print_counts(&line);
    Ok(response)
}

/// Queues the delivery again, unchanged and at once, for an invocation with time for it.
async fn postpone(queues: &LogoutQueues, body: &str) -> Result<Outcome, Failure> {
    let delivery: LogoutDelivery = serde_json::from_str(body)?;
    queues.retry(&delivery, Duration::ZERO).await?;
    Ok(Outcome::Postponed)
}

async fn attempt(
    store: &Store,
    queues: &LogoutQueues,
    sender: &Sender,
    settings: &DeliverySettings,
    body: &str,
) -> Result<Outcome, Failure> {
    let delivery: LogoutDelivery = serde_json::from_str(body)?;
    let now_ms = now_epoch_millis();
    if let Some(not_before) = delivery.not_before_ms.filter(|&t| t > now_ms) {
        let wait = Duration::from_millis((not_before - now_ms) as u64);
        queues.retry(&delivery, wait).await?;
        return Ok(Outcome::Waiting);
    }
    let Some(target) = target(store, settings, &delivery).await? else {
        return Ok(Outcome::Dropped);
    };
    // Claimed once: a message received twice, or queued twice by a retried stream batch,
    // is sent once. A claim its sender never finished (a crash) lapses after CLAIM_HOLD.
    let identity = delivery.attempt_identity();
    if !store
        .claim_delivery(&delivery.tenant, &identity, CLAIM_HOLD)
        .await?
    {
        return Ok(Outcome::Duplicate);
    }
    let tenant = delivery.tenant.clone();
    let outcome = send(queues, sender, settings, delivery, &target).await?;
    store.finish_delivery(&tenant, &identity).await?;
    Ok(outcome)
}

/// Where a delivery goes, read again at each attempt (it may have changed or gone).
enum Target {
    /// A client's back-channel logout URI.
    Client(BackchannelLogout),
    /// A Shared Signals receiver.
    Ssf(SsfReceiver),
}

impl Target {
    fn uri(&self) -> &ReceiverUri {
        match self {
            Target::Client(logout) => logout.receiver(),
            Target::Ssf(receiver) => &receiver.endpoint,
        }
    }
}

/// The delivery's target, or `None` if it is to be dropped: a client without a logout URI
/// (or of another tenant than the one whose issuer signs), a receiver removed, or one that
/// no longer asks for the event.
async fn target(
    store: &Store,
    settings: &DeliverySettings,
    delivery: &LogoutDelivery,
) -> Result<Option<Target>, Failure> {
    Ok(match delivery.recipient() {
        Recipient::Client(client) => {
            if delivery.tenant != settings.tokens.tenant {
                return Ok(None);
            }
            match store.client_logout(&delivery.tenant, client).await? {
                ClientLogout::Registered(logout) => Some(Target::Client(logout)),
                _ => None,
            }
        }
        Recipient::SsfReceiver(id) => store
            .ssf_receiver(&delivery.tenant, id)
            .await?
            .filter(|r| delivery.verification.is_some() || r.wants(SESSION_REVOKED_EVENT))
            .map(Target::Ssf),
    })
}

/// What is sent to `target` for `delivery` at `now`: a fresh logout token or SET, or why
/// nothing can be (kept undelivered for the operator).
async fn push_for(
    settings: &DeliverySettings,
    delivery: &LogoutDelivery,
    target: &Target,
    now: i64,
) -> Result<Result<Push, String>, Failure> {
    let tokens = &settings.tokens;
    let signer = || async {
        tokens
            .keys
            .signer()
            .await
            .map_err(|e| Failure::Signing(e.into()))
    };
    match target {
        Target::Client(_) => {
            let Ok(token) = LogoutToken::new(
                &tokens.issuer,
                &delivery.client_id,
                delivery.subject.as_deref(),
                delivery.session_id.as_deref(),
            ) else {
                return Ok(Err("names neither a subject nor a session".into()));
            };
            let token = token.sign(signer().await?, now).await?;
            Ok(Ok(Push::logout_token(&token)))
        }
        Target::Ssf(receiver) => {
            let Some(issuer) = settings.ssf_issuer.as_deref() else {
                return Ok(Err(format!(
                    "{SSF_ISSUER_VAR} is not set: SETs have no issuer"
                )));
            };
            let event = match &delivery.verification {
                Some(verification) => SecurityEvent::verification(
                    issuer,
                    &receiver.audience,
                    &receiver.id,
                    verification.state.as_deref(),
                ),
                None => match SecurityEvent::session_revoked(
                    issuer,
                    &receiver.audience,
                    &delivery.tenant,
                    RevokedSessions {
                        user: delivery.subject.as_deref(),
                        session: delivery.session_id.as_deref(),
                        application: delivery.application.as_deref(),
                        device: delivery.device.as_deref(),
                        whole_tenant: delivery.whole_tenant,
                    },
                    delivery.logged_out_at,
                ) {
                    Ok(event) => event,
                    Err(_) => return Ok(Err("names no user, session, client or tenant".into())),
                },
            };
            let authorization = match (&receiver.authorization, &settings.secrets) {
                (None, _) => None,
                (Some(sealed), Some(secrets)) => {
                    let context = authorization_context(
                        &delivery.tenant,
                        &receiver.id,
                        receiver.endpoint.as_str(),
                    );
                    match secrets.open(sealed, &context).await {
                        Ok(authorization) => Some(authorization),
                        Err(err) if err.is_retryable() => return Err(Failure::Secrets(err)),
                        Err(err) => {
                            return Ok(Err(format!(
                                "the receiver's authorization header does not open: {err}"
                            )))
                        }
                    }
                }
                (Some(_), None) => {
                    return Ok(Err(format!(
                        "the receiver has an authorization header and {SECRETS_KEY_VAR} is not set"
                    )))
                }
            };
            // One `jti` and `iat` for every attempt of this event to this receiver: a
            // receiver that took an attempt whose answer was lost knows the retry.
            let set = event
                .sign(
                    signer().await?,
                    delivery.since_ms / 1000,
                    &delivery.event_id(),
                )
                .await?;
            Ok(Ok(Push {
                content_type: SECURITY_EVENT_MEDIA_TYPE,
                authorization,
                body: set,
            }))
        }
    }
}

/// Sends the claimed attempt, and queues what follows from its answer.
async fn send(
    queues: &LogoutQueues,
    sender: &Sender,
    settings: &DeliverySettings,
    mut delivery: LogoutDelivery,
    target: &Target,
) -> Result<Outcome, Failure> {
    let push = match push_for(
        settings,
        &delivery,
        target,
        signoff_store::now_epoch_seconds(),
    )
    .await?
    {
        Ok(push) => push,
        Err(reason) => return Ok(give_up(queues, delivery, reason).await?),
    };
    delivery.attempts += 1;
    let answered = |answer: &Answer, note: &str| match &answer.error {
        Some(error) => format!("HTTP {} ({error}){note}", answer.status),
        None => format!("HTTP {}{note}", answer.status),
    };
    let reason = match sender.post(target.uri(), push).await {
        Ok(answer) if (200..300).contains(&answer.status) => {
            return Ok(Outcome::Delivered {
                status: answer.status,
            });
        }
        Ok(answer) if answer.status == 429 || answer.status >= 500 => answered(&answer, ""),
        Ok(answer) => {
            let reason = answered(&answer, ", not retried");
            return Ok(give_up(queues, delivery, reason).await?);
        }
        Err(SendError::Network(reason)) => reason,
        Err(refused) => return Ok(give_up(queues, delivery, refused.to_string()).await?),
    };
    let backoff = settings.backoff;
    let delay = backoff.delay(delivery.attempts, jitter());
    let next_ms = now_epoch_millis() + delay.as_millis() as i64;
    if next_ms > delivery.since_ms + backoff.retry_for.as_millis() as i64 {
        let reason = format!("{reason}; retried for {} s", backoff.retry_for.as_secs());
        return Ok(give_up(queues, delivery, reason).await?);
    }
    delivery.not_before_ms = Some(next_ms);
    delivery.last_failure = Some(reason.clone());
    queues.retry(&delivery, delay).await?;
    Ok(Outcome::Retrying { delay, reason })
}

async fn give_up(
    queues: &LogoutQueues,
    mut delivery: LogoutDelivery,
    reason: String,
) -> Result<Outcome, QueueError> {
    delivery.not_before_ms = None;
    delivery.last_failure = Some(reason.clone());
    queues.give_up(&delivery).await?;
    Ok(Outcome::Undelivered { reason })
}

/// A number in [0, 1) for the backoff's jitter: not for secrets, only to spread retries.
fn jitter() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(now_epoch_millis());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn log(record: &SqsRecord, outcome: &Result<Outcome, Failure>) {
    let delivery = serde_json::from_str::<LogoutDelivery>(&record.body).ok();
    let (tenant, client, attempts) = delivery
        .as_ref()
        .map(|d| (d.tenant.as_str(), d.recipient_name(), d.attempts))
        .unwrap_or_default();
    let id = &record.message_id;
    match outcome {
        Ok(Outcome::Delivered { status }) => {
            tracing::info!(message_id = %id, %tenant, %client, status, "logout delivered")
        }
        Ok(Outcome::Retrying { delay, reason }) => {
            tracing::warn!(message_id = %id, %tenant, %client, attempt = attempts + 1, delay_ms = delay.as_millis() as u64, %reason, "logout not delivered; retrying")
        }
        Ok(Outcome::Undelivered { reason }) => {
            tracing::error!(message_id = %id, %tenant, %client, %reason, "logout undelivered; kept for signoff-admin redeliver")
        }
        Ok(Outcome::Waiting) => {
            tracing::debug!(message_id = %id, %tenant, %client, "logout waiting for its retry")
        }
        Ok(Outcome::Postponed) => {
            tracing::info!(message_id = %id, %tenant, %client, "logout postponed: too close to the invocation's deadline; queued again")
        }
        Ok(Outcome::Duplicate) => {
            tracing::info!(message_id = %id, %tenant, %client, "logout attempt already sent or being sent; skipped")
        }
        Ok(Outcome::Dropped) => {
            tracing::warn!(message_id = %id, %tenant, %client, "logout dropped: the client has no back-channel logout URI, or the receiver no longer wants it")
        }
        Err(failure) => {
            tracing::error!(message_id = %id, %tenant, %client, error = %failure, "logout delivery failed; SQS delivers it again")
        }
    }
}
