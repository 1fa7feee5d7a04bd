//! Demo data for the local stack, and the seeding the admin tool and the tests share.
//!
//! The demo credential is a fixed, published value so that `events/*.json`, the README's
//! curl and `sam local invoke` work against a freshly seeded local database. It is
//! refused anywhere but a local endpoint (see the admin tool's `seed-demo`).

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::credentials::{CredentialScope, ProvisionError, Tenant};
use crate::keys::TokenHash;
use crate::model::{TokenRecord, TokenType};
use crate::tokens::{RegisterError, MAX_REGISTRATION_BATCH};
use crate::Store;

pub const SERVICE_ID: &str = "715948317";
pub const ORGANIZATION_ID: &str = "demo-org";
/// The demo service access token. For local use only: it is printed in the README.
pub const SERVICE_TOKEN: &str = "sgn_sat_DEMO-local-only-not-a-secret";
pub const CLIENT_ID: &str = "demo-app";
pub const SUBJECT: &str = "demo-user";
pub const SESSION_ID: &str = "demo-session-1";

/// Registers `count` tokens (alternately access and refresh) for `session_id`, through
/// the same atomic, session-checked path the registration API uses, in batches of 25 with
/// a few batches in flight. `progress` is called with the number of tokens registered
/// after each batch. Token values are derived from `prefix`, so callers can recompute them.
pub async fn register_session_tokens(
    store: &Store,
    tenant: &str,
    session_id: &str,
    count: usize,
    prefix: &str,
    progress: impl Fn(usize),
) -> Result<Vec<TokenHash>, RegisterError> {
    let now = crate::now_epoch_seconds();
    let records: Vec<TokenRecord> = (0..count)
        .map(|i| TokenRecord {
            tenant: tenant.to_owned(),
            hash: TokenHash::of(&format!("{prefix}-{i}")),
            token_type: if i % 2 == 0 {
                TokenType::Access
            } else {
                TokenType::Refresh
            },
            client_id: CLIENT_ID.to_owned(),
            subject: Some(SUBJECT.to_owned()),
            session_id: Some(session_id.to_owned()),
            grant_id: Some(format!("{session_id}-grant-{}", i / 2)),
            device: None,
            issued_at: now,
            expires_at: now + 86_400,
        })
        .collect();
    let hashes = records.iter().map(|r| r.hash).collect();
    // Owned batches: a stream of borrowed chunks makes the future unusable in a spawned task.
    let batches: Vec<Vec<TokenRecord>> = records
        .chunks(MAX_REGISTRATION_BATCH)
        .map(<[TokenRecord]>::to_vec)
        .collect();
    let concurrency = store.config().bulk.concurrency;
    stream::iter(batches)
        .map(|batch| async move {
            store.register_tokens(&batch).await?;
            Ok::<usize, RegisterError>(batch.len())
        })
        .buffer_unordered(concurrency)
        .try_fold(0usize, |done, n| {
            let done = done + n;
            progress(done);
            async move { Ok(done) }
        })
        .await?;
    Ok(hashes)
}

/// Creates the demo organization's service and its public client (if missing), stores the
/// demo credential and
/// registers `tokens` tokens in [`SESSION_ID`].
pub async fn seed(store: &Store, tokens: usize, progress: impl Fn(usize)) -> Result<(), SeedError> {
    let tenant = Tenant {
        id: SERVICE_ID.to_owned(),
        name: "Signoff demo service".to_owned(),
        organization: Some(ORGANIZATION_ID.to_owned()),
        created_at: crate::now_epoch_seconds(),
    };
    match store.create_tenant(&tenant).await {
        Ok(()) | Err(ProvisionError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    store
        .store_credential(
            SERVICE_TOKEN,
            CredentialScope::Service {
                tenant: SERVICE_ID.to_owned(),
            },
            "demo service access token (local only)",
        )
        .await
        .map_err(ProvisionError::from)?;
    match store.register_client(SERVICE_ID, CLIENT_ID, false).await {
        Ok(_) | Err(ProvisionError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    // Seeding a database whose demo session was already logged out fails with
    // SessionEnded, as it would for a real authorization server; `scripts/dev` starts
    // from an empty database every time.
    register_session_tokens(
        store,
        SERVICE_ID,
        SESSION_ID,
        tokens,
        "demo-token",
        progress,
    )
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Tenant(#[from] ProvisionError),
    #[error(transparent)]
    Register(#[from] RegisterError),
}
