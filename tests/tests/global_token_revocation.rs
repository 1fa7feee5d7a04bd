//! OAuth 2.0 Global Token Revocation (`POST /oauth2/global-token-revocation`) and the
//! metadata that advertises it, through the revocation function's handler against a real
//! DynamoDB-compatible server (and moto's SQS for the hand-off to the background purge).

use std::time::Duration;

use aws_sdk_dynamodb::config::SharedInterceptor;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use signoff_jose::{assertion_claims, Algorithm, SigningKey};
use signoff_revoke::global::GLOBAL_ROUTE;
use signoff_revoke::handle;
use signoff_revoke::settings::Settings;
use signoff_store::item_key::TokenHash;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::revocation::TokenState;
use signoff_store::trusted_parties::TrustedParty;
use signoff_store::users::{AliasKind, UserAlias};
use signoff_store::Store;
use signoff_tests::db::{ErrorInjector, TestDb};
use signoff_tests::event::HttpApiEvent;
use signoff_tests::queue::TestQueue;
use signoff_tests::seed;

const TENANT: &str = "gtr";
const OTHER_TENANT: &str = "gtr-other";
const BASE: &str = "https://signoff.example";
const IDP: &str = "https://idp.example";
const OTHER_IDP: &str = "https://idp.other.example";
/// An issuer whose users the IdP may also name by `iss_sub`.
const PARTNER_IDP: &str = "https://partner.example";

fn endpoint() -> String {
    format!("{BASE}{GLOBAL_ROUTE}")
}

fn settings() -> Settings {
    Settings {
        public_base_url: Some(BASE.into()),
        ..Settings::for_tenant(TENANT)
    }
}

struct Fixture {
    db: TestDb,
    /// The tenant's trusted IdP's key.
    idp: SigningKey,
    /// The other tenant's IdP's key.
    other_idp: SigningKey,
}

fn user_tokens(tenant: &str, user: &str, count: usize) -> Vec<TokenRecord> {
    (0..count)
        .map(|i| TokenRecord {
            subject: Some(user.to_owned()),
            session_id: Some(format!("{user}-session-{}", i % 2)),
            ..seed::token(
                tenant,
                &format!("{user}-token-{i}"),
                if i % 2 == 0 {
                    TokenType::Refresh
                } else {
                    TokenType::Access
                },
                "web",
            )
        })
        .collect()
}

async fn trust(store: &Store, tenant: &str, issuer: &str, key: &SigningKey, subjects: &[&str]) {
    store
        .put_trusted_party(&TrustedParty {
            tenant: tenant.into(),
            issuer: issuer.into(),
            subject: issuer.into(),
            keys: vec![key.public_jwk()],
            subject_issuers: subjects.iter().map(|s| s.to_string()).collect(),
            created_at: signoff_store::now_epoch_seconds(),
        })
        .await
        .expect("party registered");
}

/// Two tenants, each trusting its own IdP. In `gtr`: alice (4 tokens, email
/// alice@corp.example), bob (2 tokens), carol (2 tokens). In `gtr-other`: dave (2 tokens,
/// email dave@corp.example).
async fn fixture_with(db: TestDb) -> Fixture {
    seed::tenant(&db.store, TENANT, None).await;
    seed::tenant(&db.store, OTHER_TENANT, None).await;
    let idp = SigningKey::generate(Algorithm::Es256, Some("idp-1")).unwrap();
    let other_idp = SigningKey::generate(Algorithm::Rs256, Some("other-1")).unwrap();
    trust(&db.store, TENANT, IDP, &idp, &[IDP, PARTNER_IDP]).await;
    trust(&db.store, OTHER_TENANT, OTHER_IDP, &other_idp, &[OTHER_IDP]).await;
    let mut records = user_tokens(TENANT, "alice", 4);
    records.extend(user_tokens(TENANT, "bob", 2));
    records.extend(user_tokens(TENANT, "carol", 2));
    records.extend(user_tokens(OTHER_TENANT, "dave", 2));
    seed::register(&db.store, records).await;
    let expires_at = signoff_store::now_epoch_seconds() + 3600;
    db.store
        .record_aliases(&[
            UserAlias {
                tenant: TENANT.into(),
                subject: "alice".into(),
                kind: AliasKind::Email,
                value: "alice@corp.example".into(),
                expires_at,
            },
            UserAlias {
                tenant: OTHER_TENANT.into(),
                subject: "dave".into(),
                kind: AliasKind::Email,
                value: "dave@corp.example".into(),
                expires_at,
            },
        ])
        .await
        .unwrap();
    Fixture { db, idp, other_idp }
}

async fn fixture() -> Fixture {
    fixture_with(TestDb::start().await).await
}

/// A fresh assertion of `issuer` signed by `key` for the endpoint.
fn assertion(key: &SigningKey, issuer: &str) -> String {
    let now = signoff_store::now_epoch_seconds();
    let jti = format!("jti-{}", fastrand::u64(..));
    key.sign(&assertion_claims(
        issuer,
        issuer,
        &endpoint(),
        &jti,
        now,
        120,
    ))
}

fn request(bearer: Option<&str>, body: &Value) -> Request {
    let mut event = HttpApiEvent::new("POST", GLOBAL_ROUTE)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(bearer) = bearer {
        event = event.header("authorization", &format!("Bearer {bearer}"));
    }
    event.request()
}

/// Status, `WWW-Authenticate`, and the JSON body (`Null` for none).
fn outcome(response: Response<Body>) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        Body::Empty => Value::Null,
        other => panic!("unexpected body {other:?}"),
    };
    (status, challenge, body)
}

fn opaque(user: &str) -> Value {
    json!({"sub_id": {"format": "opaque", "id": user}})
}

impl Fixture {
    async fn send_with(
        &self,
        settings: &Settings,
        request: Request,
    ) -> (u16, Option<String>, Value) {
        outcome(handle(&self.db.store, settings, request).await.unwrap())
    }

    async fn send(&self, bearer: Option<&str>, body: &Value) -> (u16, Option<String>, Value) {
        self.send_with(&settings(), request(bearer, body)).await
    }

    /// Sends `body` with a fresh assertion of the tenant's IdP.
    async fn revoke(&self, body: &Value) -> (u16, Option<String>, Value) {
        self.send(Some(&assertion(&self.idp, IDP)), body).await
    }

    /// How each of `user`'s `count` tokens in `tenant` looks to introspection now.
    async fn states(&self, tenant: &str, user: &str, count: usize) -> Vec<Option<TokenState>> {
        let now = signoff_store::now_epoch_seconds();
        let mut states = Vec::new();
        for i in 0..count {
            let hash = TokenHash::of(&format!("{user}-token-{i}"));
            let found = self
                .db
                .store
                .lookup_token(tenant, &hash, now)
                .await
                .unwrap();
            states.push(found.map(|(_, state)| state));
        }
        states
    }

    async fn live(&self, tenant: &str, user: &str, count: usize) -> bool {
        self.states(tenant, user, count)
            .await
            .iter()
            .all(|s| *s == Some(TokenState::Live))
    }

    async fn none_usable(&self, tenant: &str, user: &str, count: usize) -> bool {
        self.states(tenant, user, count)
            .await
            .iter()
            .all(|s| *s != Some(TokenState::Live))
    }
}

#[tokio::test]
async fn a_trusted_identity_provider_logs_a_user_out_everywhere_by_each_format() {
    let f = fixture().await;
    let (status, _, body) = f.revoke(&opaque("alice")).await;
    assert_eq!((status, body), (204, Value::Null));
    assert!(f.none_usable(TENANT, "alice", 4).await);
    for i in 0..4 {
        assert!(!seed::token_stored(&f.db.store, TENANT, &format!("alice-token-{i}")).await);
    }
    assert!(
        f.live(TENANT, "bob", 2).await,
        "other users keep their tokens"
    );
    assert!(f.live(OTHER_TENANT, "dave", 2).await);

    // Asking again for a user already logged out (every record gone): still known, 204.
    assert_eq!(f.revoke(&opaque("alice")).await.0, 204);

    // By email, as registration recorded it (case-insensitively).
    let (status, ..) = f
        .revoke(&json!({"sub_id": {"format": "email", "email": "Alice@Corp.Example"}}))
        .await;
    assert_eq!(status, 204);

    // By issuer and subject: the IdP's own users, and a partner issuer it may speak for.
    for (iss, user) in [(IDP, "bob"), (PARTNER_IDP, "carol")] {
        let body = json!({"sub_id": {"format": "iss_sub", "iss": iss, "sub": user}});
        assert_eq!(f.revoke(&body).await.0, 204, "{iss}");
        assert!(f.none_usable(TENANT, user, 2).await, "{user}");
    }
}

#[tokio::test]
async fn a_token_issued_after_the_revocation_stays_live() {
    let f = fixture().await;
    assert_eq!(f.revoke(&opaque("alice")).await.0, 204);
    // The marker covers tokens issued up to its second; one issued later is the user's
    // new login.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = TokenRecord {
        subject: Some("alice".into()),
        ..seed::token(TENANT, "alice-token-after", TokenType::Access, "web")
    };
    seed::register(&f.db.store, vec![fresh]).await;
    let now = signoff_store::now_epoch_seconds();
    let found =
        f.db.store
            .lookup_token(TENANT, &TokenHash::of("alice-token-after"), now)
            .await
            .unwrap();
    assert_eq!(found.map(|(_, s)| s), Some(TokenState::Live));
}

#[tokio::test]
async fn an_assertion_works_once() {
    let f = fixture().await;
    let jwt = assertion(&f.idp, IDP);
    assert_eq!(f.send(Some(&jwt), &opaque("alice")).await.0, 204);
    let (status, challenge, body) = f.send(Some(&jwt), &opaque("bob")).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
    assert_eq!(body["error"], "invalid_token");
    assert!(body["error_description"].as_str().unwrap().contains("jti"));
    assert!(f.live(TENANT, "bob", 2).await, "the replay revoked nothing");
}

#[tokio::test]
async fn bad_authentication_is_401_and_changes_nothing() {
    let f = fixture().await;
    let now = signoff_store::now_epoch_seconds();
    let claims = |aud: &str, iat: i64, lifetime: i64| {
        assertion_claims(
            IDP,
            IDP,
            aud,
            &format!("j-{}", fastrand::u64(..)),
            iat,
            lifetime,
        )
    };
    let stranger = SigningKey::generate(Algorithm::Es256, Some("idp-1")).unwrap();
    let unsigned = {
        let jwt = f.idp.sign(&claims(&endpoint(), now, 120));
        let (header_payload, _) = jwt.rsplit_once('.').unwrap();
        let (_, payload) = header_payload.split_once('.').unwrap();
        // alg none, the real payload, no signature.
        format!("eyJhbGciOiJub25lIiwia2lkIjoiaWRwLTEifQ.{payload}.")
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no credential", None),
        ("not a JWT", Some("sgn_sat_not-a-jwt".into())),
        (
            "another audience",
            Some(f.idp.sign(&claims(
                "https://elsewhere.example/oauth2/global-token-revocation",
                now,
                120,
            ))),
        ),
        (
            "expired",
            Some(f.idp.sign(&claims(&endpoint(), now - 600, 120))),
        ),
        (
            "lives too long",
            Some(f.idp.sign(&claims(&endpoint(), now, 3600))),
        ),
        (
            "signed by a stranger with the IdP's kid",
            Some(stranger.sign(&claims(&endpoint(), now, 120))),
        ),
        ("alg none", Some(unsigned)),
        // Cross-tenant: the other tenant's IdP, correctly signed, is not trusted here.
        (
            "another tenant's party",
            Some(assertion(&f.other_idp, OTHER_IDP)),
        ),
        (
            "an unknown issuer",
            Some(stranger.sign(&assertion_claims(
                "https://evil.example",
                "https://evil.example",
                &endpoint(),
                "j-evil",
                now,
                120,
            ))),
        ),
    ];
    for (case, bearer) in cases {
        let (status, challenge, body) = f.send(bearer.as_deref(), &opaque("alice")).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["error"], "invalid_token", "{case}");
        let expected = if bearer.is_none() {
            "Bearer"
        } else {
            "Bearer error=\"invalid_token\""
        };
        assert_eq!(challenge.as_deref(), Some(expected), "{case}");
    }
    assert!(f.live(TENANT, "alice", 4).await, "nothing was revoked");
}

#[tokio::test]
async fn requests_are_judged_by_the_draft_statuses() {
    let f = fixture().await;
    // 400: malformed, or a format Signoff does not resolve.
    for body in [
        json!({}),
        json!({"sub_id": "alice"}),
        json!({"sub_id": {"format": "opaque"}}),
        json!({"sub_id": {"format": "phone_number", "phone_number": "+12065550100"}}),
        json!({"sub_id": {"format": "email", "email": "not an email"}}),
    ] {
        let (status, _, reply) = f.revoke(&body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(reply["error"], "invalid_request", "{body}");
    }
    let not_json = HttpApiEvent::new("POST", GLOBAL_ROUTE)
        .header("content-type", "application/json")
        .header(
            "authorization",
            &format!("Bearer {}", assertion(&f.idp, IDP)),
        )
        .body("{\"sub_id\":")
        .request();
    assert_eq!(f.send_with(&settings(), not_json).await.0, 400);

    // 403: an issuer the party may not speak for.
    let body = json!({"sub_id": {"format": "iss_sub", "iss": OTHER_IDP, "sub": "alice"}});
    let (status, _, reply) = f.revoke(&body).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (403, Some("access_denied"))
    );

    // 404: nobody by that id or email here, including the other tenant's user.
    for body in [
        opaque("nobody"),
        opaque("dave"),
        json!({"sub_id": {"format": "email", "email": "dave@corp.example"}}),
    ] {
        let (status, _, reply) = f.revoke(&body).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (404, Some("user_not_found")),
            "{body}"
        );
    }
    assert!(f.live(TENANT, "alice", 4).await);
    assert!(f.live(OTHER_TENANT, "dave", 2).await);
}

#[tokio::test]
async fn store_trouble_is_a_503_and_the_same_assertion_finishes_the_job_on_retry() {
    // The user marker's UpdateItem is throttled through the SDK's three attempts, then works.
    let faults = ErrorInjector::new("UpdateItem", "ThrottlingException", 0, 0);
    let db = TestDb::start_with(|_| {}, Some(SharedInterceptor::new(faults.clone()))).await;
    let f = fixture_with(db).await;
    faults.arm(0, 3);
    let jwt = assertion(&f.idp, IDP);
    let response = handle(
        &f.db.store,
        &settings(),
        request(Some(&jwt), &opaque("alice")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(f.live(TENANT, "alice", 4).await, "nothing was done");
    let (status, ..) = f.send(Some(&jwt), &opaque("alice")).await;
    assert_eq!(
        status, 204,
        "the retry with the same assertion finishes the job"
    );
    assert!(f.none_usable(TENANT, "alice", 4).await);
}

#[tokio::test]
async fn a_user_with_more_tokens_than_the_budget_allows_is_handed_to_the_background_purge() {
    // Index pages of 50: the inline part (no time budget) deletes one page at most.
    let f = fixture_with(TestDb::start_with(|c| c.bulk.page_size = 50, None).await).await;
    seed::register(&f.db.store, user_tokens(TENANT, "erin", 300)).await;
    let queue = TestQueue::start(30, 5).await;
    let settings = Settings {
        handoff: Some(queue.handoff(Duration::ZERO).await),
        ..settings()
    };
    let request = request(Some(&assertion(&f.idp, IDP)), &opaque("erin"));
    let (status, ..) = f.send_with(&settings, request).await;
    assert_eq!(status, 204);
    // Unusable at once; what was not deleted inline is the purge's (tests/tests/purge.rs
    // runs the purge itself).
    assert!(f.none_usable(TENANT, "erin", 300).await);
    assert_eq!(
        queue.depth(&queue.queue_url).await,
        1,
        "the purge was queued"
    );
}

#[tokio::test]
async fn the_metadata_advertises_the_endpoint_and_how_to_authenticate() {
    let f = fixture().await;
    let settings = Settings {
        issuer: Some("https://as.example".into()),
        ..settings()
    };
    let request = HttpApiEvent::get("/.well-known/oauth-authorization-server").request();
    let (status, _, body) = f.send_with(&settings, request).await;
    assert_eq!(status, 200);
    assert_eq!(body["issuer"], "https://as.example");
    assert_eq!(body["global_token_revocation_endpoint"], endpoint());
    assert_eq!(
        body["global_token_revocation_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(body["revocation_endpoint"], format!("{BASE}/oauth2/revoke"));
}

#[tokio::test]
async fn a_removed_party_is_refused_at_once() {
    let f = fixture().await;
    assert!(f.db.store.remove_trusted_party(TENANT, IDP).await.unwrap());
    let (status, ..) = f.revoke(&opaque("alice")).await;
    assert_eq!(status, 401);
    assert!(f.live(TENANT, "alice", 4).await);
}
