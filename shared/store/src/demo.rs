//! Demo data for the local stack, and the seeding the admin tool and the tests share.
//!
//! The demo credential is a fixed, published value so that `events/*.json`, the README's
//! curl and `sam local invoke` work against a freshly seeded local database. It is
//! refused anywhere but a local endpoint (see the admin tool's `seed-demo`).

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::credentials::{CredentialScope, ProvisionError, Tenant};
use crate::item_key::TokenHash;
use crate::model::{DeviceBinding, TokenRecord, TokenType};
use crate::project_keys::RefreshTokenSpec;
use crate::tokens::{RegisterError, MAX_REGISTRATION_BATCH};
use crate::Store;
use signoff_jose::SigningKey;

pub const SERVICE_ID: &str = "715948317";
pub const ORGANIZATION_ID: &str = "demo-org";
/// The demo service access token. For local use only: it is printed in the README.
pub const SERVICE_TOKEN: &str = "sgn_sat_DEMO-local-only-not-a-secret";
pub const CLIENT_ID: &str = "demo-app";
pub const SUBJECT: &str = "demo-user";
pub const SESSION_ID: &str = "demo-session-1";

/// The demo Descope-style project, and its signing key. Like the demo credential, the key
/// is published (so `events/*.json` can carry refresh JWTs that verify against a freshly
/// seeded database) and for local use only. Real projects generate their own key with
/// `signoff-admin generate-signing-key` and keep the private half out of the table.
pub const PROJECT_ID: &str = "P2SignoffDemo";
pub const PROJECT_KEY_ID: &str = "demo-key-1";
pub const PROJECT_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8/RKLZTy+g/TNnrZ
3dj9zPW6JlKur8CWJjIOr06xNaShRANCAAQfXcXRdD3kTeHCK9u/+i8a7sJ6nIhC
XlpyKIyc+WQZ4ZT4Nkj8i+WxM6178+9S47C1KCLrGXml8O0VQXGb1WEF
-----END PRIVATE KEY-----
";
/// The demo project's user, and the two sessions the demo gives them.
pub const PROJECT_USER: &str = "demo-user";
/// The demo user's login id, recorded as registration records `loginId`: what the
/// management logout event names.
pub const PROJECT_USER_LOGIN_ID: &str = "demo-user@signoff.example";
/// The demo project's management key (published: local only).
pub const PROJECT_MANAGEMENT_KEY: &str = "sgn_mk_DEMO-local-only-not-a-secret";
pub const PROJECT_SESSIONS: [&str; 2] = ["demo-descope-session-1", "demo-descope-session-2"];
/// Refresh JWTs of the two sessions, signed with the demo key, valid until 2100. The
/// first is for trying logout, the second for logout-all.
pub const PROJECT_REFRESH_JWTS: [&str; 2] = [
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRlbW8ta2V5LTEiLCJ0eXAiOiJKV1QifQ.eyJkcm4iOiJEU1IiLCJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTc5NTI2NjU0MywiaXNzIjoiUDJTaWdub2ZmRGVtbyIsInN1YiI6ImRlbW8tdXNlciJ9.0xjGhjVl1qwnUxdbpY69RujG4DCGv4xreqIIauUrNk6rpCZYOENhkXWaVnpKbLYGILUSXaRP4OTKLEEJ1x2XPw",
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRlbW8ta2V5LTEiLCJ0eXAiOiJKV1QifQ.eyJkcm4iOiJEU1IiLCJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTc5NTI2NjU0MywiaXNzIjoiUDJTaWdub2ZmRGVtbyIsInN1YiI6ImRlbW8tdXNlciJ9.ys9ZRtTEHsM6CGnAO6dN9PFvjFYugB-kMWkfoC79ze0urZHGoexsYdjIDrh11lrwKC7wJQ2iRdLdShzYvkLG6A",
];
/// Session tokens (access tokens) the demo registers in each project session beside its
/// refresh JWT, in the refresh token's grant.
pub const PROJECT_ACCESS_TOKENS_PER_SESSION: usize = 4;
/// A confidential client with a fixed, published secret, for the revocation endpoints.
pub const WEB_CLIENT_ID: &str = "demo-web";
/// The demo client secret. For local use only: it is printed in the README.
pub const WEB_CLIENT_SECRET: &str = "sgn_cs_DEMO-local-only-not-a-secret";
/// A resource server (an API) allowed to introspect tokens, with a fixed, published secret.
pub const RESOURCE_SERVER_ID: &str = "demo-api";
pub const RESOURCE_SERVER_SECRET: &str = "sgn_cs_DEMO-api-local-only-not-a-secret";
/// A refresh token of [`WEB_CLIENT_ID`] in grant [`NETIQ_GRANT_ID`], which also holds
/// [`NETIQ_GRANT_ACCESS_TOKENS`] access tokens: for `POST /nidp/oauth/nam/revoke`.
pub const NETIQ_REFRESH_TOKEN: &str = "demo-netiq-refresh-token";
pub const NETIQ_GRANT_ID: &str = "demo-grant-netiq";
pub const NETIQ_GRANT_ACCESS_TOKENS: usize = 2;
/// An access token of [`WEB_CLIENT_ID`], with [`RFC7009_ACCESS_TOKEN_SCOPE`] for
/// [`RFC7009_ACCESS_TOKEN_AUDIENCE`]: introspected, then revoked by `POST /oauth2/revoke`.
pub const RFC7009_ACCESS_TOKEN: &str = "demo-rfc7009-access-token";
pub const RFC7009_ACCESS_TOKEN_SCOPE: &str = "orders.read";
pub const RFC7009_ACCESS_TOKEN_AUDIENCE: &str = "https://api.demo.example";
/// An access token of [`WEB_CLIENT_ID`] with the same scope and audience that no demo or
/// event revokes: what `events/token-introspect.json` asks about (an active answer, also
/// in the cold-start benchmark).
pub const INTROSPECTED_ACCESS_TOKEN: &str = "demo-orders-access-token";
/// A device holding [`DEVICE_TOKENS`] tokens of the public client [`CLIENT_ID`] issued to
/// [`DEVICE_USER_DN`], and [`DEVICE_OTHER_USER_TOKENS`] issued to another user: for
/// `POST /nidp/oauth/nam/revoke/{device_id}`.
pub const DEVICE_ID: &str = "demo-device-1";
pub const DEVICE_USER_STORE: &str = "Local";
pub const DEVICE_USER_DN: &str = "cn=demo-user,o=demo";
pub const DEVICE_OTHER_USER_DN: &str = "cn=other-user,o=demo";
pub const DEVICE_TOKENS: usize = 4;
pub const DEVICE_OTHER_USER_TOKENS: usize = 2;

/// A client of the demo service that is being retired: [`RETIRED_CLIENT_TOKENS`] tokens
/// of 50 users (`demo-retired-token-<i>`), for a cutoff and its background purge to end.
pub const RETIRED_CLIENT_ID: &str = "demo-retired-app";
pub const RETIRED_CLIENT_TOKENS: usize = 1_000;

/// Registers the [`RETIRED_CLIENT_ID`]'s tokens (`scripts/dev`'s purge demo; not part of
/// [`seed`], which the tests use).
pub async fn seed_retired_client(store: &Store) -> Result<(), SeedError> {
    match store
        .store_client(SERVICE_ID, RETIRED_CLIENT_ID, None)
        .await
    {
        Ok(()) | Err(ProvisionError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let records = (0..RETIRED_CLIENT_TOKENS)
        .map(|i| TokenRecord {
            subject: Some(format!("retired-user-{}", i % 50)),
            ..demo_record(
                &format!("demo-retired-token-{i}"),
                TokenType::Access,
                RETIRED_CLIENT_ID,
            )
        })
        .collect();
    register_in_batches(store, records, |_| {}).await?;
    Ok(())
}

/// Global Token Revocation: the demo service trusts the demo identity provider, which
/// signs its requests with this key (published, like the demo credential: local only).
pub const TRUSTED_PARTY_ISSUER: &str = "https://idp.demo.example";
pub const TRUSTED_PARTY_KEY_ID: &str = "demo-idp-key-1";
pub const TRUSTED_PARTY_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsWp1mQGQ9x/Og0z2
uz3wFZzR2Jn7JfMKE/2fTnqSYO2hRANCAAQY1oStPOuNotY76T2Tp9zXJKQjN2D6
OdrsLFpr/Ss9o7LQRKr5W5QhzY477r5OzSlShIcsjtrFr45bic8m1bSy
-----END PRIVATE KEY-----
";
/// The employee the identity provider logs out: [`DEPARTED_TOKENS`] tokens
/// (`demo-departed-token-<i>`) in three sessions of the web client, known by email.
pub const DEPARTED_SUBJECT: &str = "departed-employee";
pub const DEPARTED_EMAIL: &str = "departed@signoff.example";
pub const DEPARTED_TOKENS: usize = 6;

/// Trusts the demo identity provider in the demo service and registers the departed
/// employee's tokens and email (`scripts/dev`'s Global Token Revocation demo; not part
/// of [`seed`]).
pub async fn seed_global_revocation(store: &Store) -> Result<(), SeedError> {
    let key = SigningKey::from_pem(TRUSTED_PARTY_PRIVATE_KEY_PEM, Some(TRUSTED_PARTY_KEY_ID))
        .expect("the demo party's key is a valid P-256 key");
    let now = crate::now_epoch_seconds();
    store
        .put_trusted_party(&crate::trusted_parties::TrustedParty {
            tenant: SERVICE_ID.to_owned(),
            issuer: TRUSTED_PARTY_ISSUER.to_owned(),
            subject: TRUSTED_PARTY_ISSUER.to_owned(),
            keys: vec![key.public_jwk()],
            subject_issuers: vec![TRUSTED_PARTY_ISSUER.to_owned()],
            created_at: now,
        })
        .await?;
    let records = (0..DEPARTED_TOKENS)
        .map(|i| TokenRecord {
            subject: Some(DEPARTED_SUBJECT.to_owned()),
            session_id: Some(format!("demo-departed-session-{}", i % 3)),
            ..demo_record(
                &format!("demo-departed-token-{i}"),
                if i % 2 == 0 {
                    TokenType::Refresh
                } else {
                    TokenType::Access
                },
                WEB_CLIENT_ID,
            )
        })
        .collect();
    register_in_batches(store, records, |_| {}).await?;
    store
        .record_aliases(&[crate::users::UserAlias {
            tenant: SERVICE_ID.to_owned(),
            subject: DEPARTED_SUBJECT.to_owned(),
            kind: crate::users::AliasKind::Email,
            value: DEPARTED_EMAIL.to_owned(),
            expires_at: now + 86_400,
        }])
        .await?;
    Ok(())
}

/// A partner app the demo user signed in to: `DELETE /api/{serviceId}/client/authorization/
/// delete/demo-partner-app?subject=demo-user` (Authlete) removes its
/// [`PARTNER_TOKENS`] tokens, `demo-partner-token-<i>`.
pub const PARTNER_CLIENT_ID: &str = "demo-partner-app";
pub const PARTNER_TOKENS: usize = 3;
/// A token for Authlete's `DELETE /api/{serviceId}/auth/token/delete/{id}` (by value, or
/// by its hash as Authlete's `accessTokenHash`).
pub const AUTHLETE_ACCESS_TOKEN: &str = "demo-authlete-access-token";

/// Token records that expired an hour ago and that DynamoDB's TTL has not removed yet:
/// what the housekeeping event deletes (`demo-expired-token-<i>`).
pub const EXPIRED_TOKENS: usize = 5;

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
            scope: None,
            audience: Vec::new(),
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
        scope: None,
        audience: Vec::new(),
    }
}

/// Writes the [`EXPIRED_TOKENS`] records directly: registration refuses expired tokens.
async fn seed_expired(store: &Store) -> Result<(), SeedError> {
    for i in 0..EXPIRED_TOKENS {
        let mut record = demo_record(
            &format!("demo-expired-token-{i}"),
            TokenType::Access,
            CLIENT_ID,
        );
        record.issued_at -= 2 * 3600;
        record.expires_at = record.issued_at + 3600;
        store
            .client()
            .put_item()
            .table_name(store.table_name())
            .set_item(Some(record.to_item()))
            .send()
            .await
            .map_err(|e| crate::error::classify("PutItem", e))?;
    }
    Ok(())
}

/// [`RFC7009_ACCESS_TOKEN`] and [`INTROSPECTED_ACCESS_TOKEN`]: what the demo resource
/// server asks about.
fn resource_server_records() -> [TokenRecord; 2] {
    [RFC7009_ACCESS_TOKEN, INTROSPECTED_ACCESS_TOKEN].map(|value| TokenRecord {
        scope: Some(RFC7009_ACCESS_TOKEN_SCOPE.to_owned()),
        audience: vec![RFC7009_ACCESS_TOKEN_AUDIENCE.to_owned()],
        ..demo_record(value, TokenType::Access, WEB_CLIENT_ID)
    })
}

/// Gives [`RFC7009_ACCESS_TOKEN`] and [`INTROSPECTED_ACCESS_TOKEN`] entries in the demo
/// service's Token Status Lists (lists of `capacity` entries), registering them again with
/// the entries, as an authorization server that asks for them would: `scripts/dev`'s
/// status list demo (not part of [`seed`]). Their entries, in that order.
pub async fn seed_status_entries(
    store: &Store,
    capacity: u64,
) -> Result<Vec<crate::status_lists::StatusEntry>, SeedError> {
    let entries = store
        .allocate_status_entries(SERVICE_ID, 2, capacity)
        .await?;
    let statuses: Vec<_> = entries.iter().copied().map(Some).collect();
    store
        .register_tokens_with_status(&resource_server_records(), &statuses)
        .await?;
    Ok(entries)
}

/// The tokens the revocation endpoints' demos revoke (none of them in [`SESSION_ID`]).
fn revocation_records() -> Vec<TokenRecord> {
    let in_grant = |mut record: TokenRecord| {
        record.grant_id = Some(NETIQ_GRANT_ID.to_owned());
        record
    };
    let mut records = vec![in_grant(demo_record(
        NETIQ_REFRESH_TOKEN,
        TokenType::Refresh,
        WEB_CLIENT_ID,
    ))];
    records.extend(resource_server_records());
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
    records.extend((0..PARTNER_TOKENS).map(|i| {
        demo_record(
            &format!("demo-partner-token-{i}"),
            TokenType::Access,
            PARTNER_CLIENT_ID,
        )
    }));
    records.push(demo_record(
        AUTHLETE_ACCESS_TOKEN,
        TokenType::Access,
        CLIENT_ID,
    ));
    records
}

/// Creates the demo organization's service, its public client and its confidential client
/// (if missing), stores the demo credential, registers `tokens` tokens in [`SESSION_ID`],
/// and the tokens of the revocation demos (a grant, an access token and a device); then
/// seeds the demo project ([`seed_project`]).
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
    for (client_id, secret) in [
        (CLIENT_ID, None),
        (WEB_CLIENT_ID, Some(WEB_CLIENT_SECRET)),
        (RESOURCE_SERVER_ID, Some(RESOURCE_SERVER_SECRET)),
    ] {
        match store.store_client(SERVICE_ID, client_id, secret).await {
            Ok(()) | Err(ProvisionError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    store
        .allow_introspection(SERVICE_ID, RESOURCE_SERVER_ID, true)
        .await?;
    register_in_batches(store, revocation_records(), |_| {}).await?;
    seed_expired(store).await?;
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
    seed_project(store).await
}

/// Creates the demo project (if missing), registers its public key, and registers
/// [`PROJECT_REFRESH_JWTS`], each with [`PROJECT_ACCESS_TOKENS_PER_SESSION`] access tokens
/// in its session and grant, all for [`PROJECT_USER`].
pub async fn seed_project(store: &Store) -> Result<(), SeedError> {
    let project = Tenant {
        id: PROJECT_ID.to_owned(),
        name: "Signoff demo project (Descope-compatible)".to_owned(),
        organization: None,
        created_at: crate::now_epoch_seconds(),
    };
    match store.create_tenant(&project).await {
        Ok(()) | Err(ProvisionError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let key = SigningKey::from_pem(PROJECT_PRIVATE_KEY_PEM, Some(PROJECT_KEY_ID))
        .expect("the demo key is a valid P-256 key");
    store
        .add_project_keys(PROJECT_ID, &[key.public_jwk()])
        .await?;
    let now = crate::now_epoch_seconds();
    for (session, jwt) in PROJECT_SESSIONS.iter().zip(PROJECT_REFRESH_JWTS) {
        let grant = format!("{session}-grant");
        let spec = RefreshTokenSpec {
            project: PROJECT_ID.to_owned(),
            subject: PROJECT_USER.to_owned(),
            dsub: None,
            session_id: Some((*session).to_owned()),
            grant_id: Some(grant.clone()),
            client_id: CLIENT_ID.to_owned(),
            issuer: None,
            issued_at: now,
            expires_at: now + 90 * 86_400,
        };
        let mut records = vec![spec.record(jwt)];
        records.extend((0..PROJECT_ACCESS_TOKENS_PER_SESSION).map(|i| TokenRecord {
            hash: TokenHash::of(&format!("{session}-access-{i}")),
            token_type: TokenType::Access,
            expires_at: now + 3600,
            ..spec.record(jwt)
        }));
        store.register_tokens(&records).await?;
    }
    store
        .record_aliases(&[crate::users::UserAlias {
            tenant: PROJECT_ID.to_owned(),
            subject: PROJECT_USER.to_owned(),
            kind: crate::users::AliasKind::LoginId,
            value: PROJECT_USER_LOGIN_ID.to_owned(),
            expires_at: now + 90 * 86_400,
        }])
        .await?;
    store
        .store_credential(
            PROJECT_MANAGEMENT_KEY,
            CredentialScope::Management {
                project: PROJECT_ID.to_owned(),
            },
            "demo project management key (local only)",
        )
        .await
        .map_err(ProvisionError::from)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Tenant(#[from] ProvisionError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}
