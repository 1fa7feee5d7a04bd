//! Demo data for the local stack, and the seeding the admin tool and the tests share.
//!
//! The demo credential is a fixed, published value so that `events/*.json`, the README's
//! curl and `sam local invoke` work against a freshly seeded local database. It is
//! refused anywhere but a local endpoint (see the admin tool's `seed-demo`).

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::credentials::{CredentialScope, ProvisionError, Tenant};
use crate::keys::TokenHash;
use crate::model::{DeviceBinding, TokenRecord, TokenType};
use crate::tokens::{RegisterError, MAX_REGISTRATION_BATCH};
use crate::Store;

pub const SERVICE_ID: &str = "715948317";
pub const ORGANIZATION_ID: &str = "demo-org";
/// The demo service access token. For local use only: it is printed in the README.
pub const SERVICE_TOKEN: &str = "sgn_sat_DEMO-local-only-not-a-secret";
pub const CLIENT_ID: &str = "demo-app";
pub const SUBJECT: &str = "demo-user";
pub const SESSION_ID: &str = "demo-session-1";

/// A confidential client with a fixed, published secret, for the revocation endpoints.
pub const WEB_CLIENT_ID: &str = "demo-web";
/// The demo client secret. For local use only: it is printed in the README.
pub const WEB_CLIENT_SECRET: &str = "sgn_cs_DEMO-local-only-not-a-secret";
/// A refresh token of [`WEB_CLIENT_ID`] in grant [`NETIQ_GRANT_ID`], which also holds
/// [`NETIQ_GRANT_ACCESS_TOKENS`] access tokens: for `POST /nidp/oauth/nam/revoke`.
pub const NETIQ_REFRESH_TOKEN: &str = "demo-netiq-refresh-token";
pub const NETIQ_GRANT_ID: &str = "demo-grant-netiq";
pub const NETIQ_GRANT_ACCESS_TOKENS: usize = 2;
/// An access token of [`WEB_CLIENT_ID`]: for `POST /oauth2/revoke`.
pub const RFC7009_ACCESS_TOKEN: &str = "demo-rfc7009-access-token";
/// A device holding [`DEVICE_TOKENS`] tokens of the public client [`CLIENT_ID`] issued to
/// [`DEVICE_USER_DN`], and [`DEVICE_OTHER_USER_TOKENS`] issued to another user: for
/// `POST /nidp/oauth/nam/revoke/{device_id}`.
pub const DEVICE_ID: &str = "demo-device-1";
pub const DEVICE_USER_STORE: &str = "Local";
pub const DEVICE_USER_DN: &str = "cn=demo-user,o=demo";
pub const DEVICE_OTHER_USER_DN: &str = "cn=other-user,o=demo";
pub const DEVICE_TOKENS: usize = 4;
pub const DEVICE_OTHER_USER_TOKENS: usize = 2;

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
    register_in_batches(store, records, progress).await?;
    Ok(hashes)
}

/// Registers `records` through the registration API's atomic path, in batches of 25 with
/// at most the store's `concurrency` batches in flight. `progress` is called with the
/// number registered so far after each batch.
pub async fn register_in_batches(
    store: &Store,
    records: Vec<TokenRecord>,
    progress: impl Fn(usize),
) -> Result<(), RegisterError> {
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
    Ok(())
}

/// A token record of the demo service that expires in a day.
fn demo_record(value: &str, token_type: TokenType, client_id: &str) -> TokenRecord {
    let now = crate::now_epoch_seconds();
    TokenRecord {
        tenant: SERVICE_ID.to_owned(),
        hash: TokenHash::of(value),
        token_type,
        client_id: client_id.to_owned(),
        subject: Some(SUBJECT.to_owned()),
        session_id: None,
        grant_id: None,
        device: None,
        issued_at: now,
        expires_at: now + 86_400,
    }
}

/// The tokens the revocation endpoints' demos revoke (none of them in [`SESSION_ID`]).
fn revocation_records() -> Vec<TokenRecord> {
    let in_grant = |mut record: TokenRecord| {
        record.grant_id = Some(NETIQ_GRANT_ID.to_owned());
        record
    };
    let mut records = vec![
        in_grant(demo_record(
            NETIQ_REFRESH_TOKEN,
            TokenType::Refresh,
            WEB_CLIENT_ID,
        )),
        demo_record(RFC7009_ACCESS_TOKEN, TokenType::Access, WEB_CLIENT_ID),
    ];
    records.extend((0..NETIQ_GRANT_ACCESS_TOKENS).map(|i| {
        in_grant(demo_record(
            &format!("{NETIQ_GRANT_ID}-access-{i}"),
            TokenType::Access,
            WEB_CLIENT_ID,
        ))
    }));
    let on_device = |user_dn: &'static str, count: usize| {
        (0..count).map(move |i| {
            let mut record = demo_record(
                &format!("{DEVICE_ID}-{user_dn}-{i}"),
                TokenType::Refresh,
                CLIENT_ID,
            );
            record.device = Some(DeviceBinding {
                device_id: DEVICE_ID.to_owned(),
                user_store: DEVICE_USER_STORE.to_owned(),
                user_dn: user_dn.to_owned(),
            });
            record
        })
    };
    records.extend(on_device(DEVICE_USER_DN, DEVICE_TOKENS));
    records.extend(on_device(DEVICE_OTHER_USER_DN, DEVICE_OTHER_USER_TOKENS));
    records
}

/// Creates the demo organization's service, its public client and its confidential client
/// (if missing), stores the demo credential, registers `tokens` tokens in [`SESSION_ID`],
/// and the tokens of the revocation demos (a grant, an access token and a device).
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
    for (client_id, secret) in [(CLIENT_ID, None), (WEB_CLIENT_ID, Some(WEB_CLIENT_SECRET))] {
        match store.store_client(SERVICE_ID, client_id, secret).await {
            Ok(()) | Err(ProvisionError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    register_in_batches(store, revocation_records(), |_| {}).await?;
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
