//! `docs/openapi.yaml` held to what the functions answer: Global Token Revocation and the
//! authorization server metadata, through the revocation function's handler (requests as
//! API Gateway sends them), against a fresh embedded DynamoDB emulator, moto's SQS, a
//! missing table and an unreachable store. Every documented status and closed set of codes
//! of these operations must be provoked here (see `signoff_tests::openapi`).

use std::time::Duration;

use serde_json::json;
use signoff_jose::{assertion_claims, Algorithm, SigningKey};
use signoff_revoke::settings::Settings;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::trusted_parties::TrustedParty;
use signoff_tests::db::TestDb;
use signoff_tests::openapi::{event, request, Api, Recorder, Spec, GLOBAL_REVOCATION, JSON_TYPE};
use signoff_tests::queue::TestQueue;
use signoff_tests::seed;

const TENANT: &str = "gtr-doc";
const BASE: &str = "https://signoff.example";
const PATH: &str = "/oauth2/global-token-revocation";
const IDP: &str = "https://idp.example";

async fn global_revocation(rec: &mut Recorder) {
    // Index pages of 10: a user of 30 tokens is more than the inline part deletes at once.
    let db = TestDb::start_with(
        |c| {
            c.index_settle = Duration::ZERO;
            c.bulk.page_size = 10;
        },
        None,
    )
    .await;
    seed::tenant(&db.store, TENANT, None).await;
    let key = SigningKey::generate(Algorithm::Es256, Some("idp-1")).unwrap();
    db.store
        .put_trusted_party(&TrustedParty {
            tenant: TENANT.into(),
            issuer: IDP.into(),
            subject: IDP.into(),
            keys: vec![key.public_jwk()],
            subject_issuers: vec![IDP.into()],
            created_at: 0,
        })
        .await
        .unwrap();
    let tokens = |user: &str, count: usize| -> Vec<TokenRecord> {
        (0..count)
            .map(|i| TokenRecord {
                subject: Some(user.to_owned()),
                ..seed::token(TENANT, &format!("{user}-{i}"), TokenType::Access, "web")
            })
            .collect()
    };
    let mut records = tokens("alice", 3);
    records.extend(tokens("bulk-1", 30));
    records.extend(tokens("bulk-2", 30));
    seed::register(&db.store, records).await;

    let settings = Settings {
        public_base_url: Some(BASE.into()),
        issuer: Some("https://as.example".into()),
        ..Settings::for_tenant(TENANT)
    };
    let api = Api::new(&db.store, settings.clone());
    let fresh = || {
        let jti = format!("jti-{}", fastrand::u64(..));
        let now = signoff_store::now_epoch_seconds();
        let aud = format!("{BASE}{PATH}");
        format!(
            "Bearer {}",
            key.sign(&assertion_claims(IDP, IDP, &aud, &jti, now, 60))
        )
    };
    let revoke = |auth: &str, body: &serde_json::Value| {
        request(
            "POST",
            PATH,
            &[JSON_TYPE, ("authorization", auth)],
            &body.to_string(),
        )
    };
    let opaque = |user: &str| json!({"sub_id": {"format": "opaque", "id": user}});

    rec.expect(&api, revoke(&fresh(), &opaque("alice")), 204)
        .await;
    rec.expect(
        &api,
        revoke(&fresh(), &json!({"sub_id": {"format": "phone_number"}})),
        400,
    )
    .await;
    rec.expect(&api, request("POST", PATH, &[JSON_TYPE], "{}"), 401)
        .await;
    rec.expect(&api, revoke("Bearer not-a-jwt", &opaque("alice")), 401)
        .await;
    let other_issuer = json!({"sub_id": {"format": "iss_sub", "iss": "https://x", "sub": "a"}});
    rec.expect(&api, revoke(&fresh(), &other_issuer), 403).await;
    rec.expect(&api, revoke(&fresh(), &opaque("nobody")), 404)
        .await;

    // The purge queue: one that does not exist refuses the job for good (422); one that
    // cannot be reached is a 503. Either way the tokens are already unusable.
    let queue = TestQueue::start(30, 5).await;
    let mut handoff = queue.handoff(Duration::ZERO).await;
    handoff.queue = TestQueue::queue_at(
        &queue.endpoint,
        &format!("{}/000000000000/no-such-queue", queue.endpoint),
    )
    .await;
    let missing_queue = Api::new(
        &db.store,
        Settings {
            handoff: Some(handoff),
            ..settings.clone()
        },
    );
    rec.expect(&missing_queue, revoke(&fresh(), &opaque("bulk-1")), 422)
        .await;
    let mut handoff = queue.handoff(Duration::ZERO).await;
    handoff.queue =
        TestQueue::queue_at("http://127.0.0.1:9", "http://127.0.0.1:9/000000000000/q").await;
    let unreachable_queue = Api::new(
        &db.store,
        Settings {
            handoff: Some(handoff),
            ..settings.clone()
        },
    );
    rec.expect(&unreachable_queue, revoke(&fresh(), &opaque("bulk-2")), 503)
        .await;

    let x = rec
        .expect(
            &api,
            request("GET", "/.well-known/oauth-authorization-server", &[], ""),
            200,
        )
        .await;
    let body = String::from_utf8_lossy(&x.body);
    assert!(body.contains(&format!("\"{BASE}{PATH}\"")), "{body}");

    // Store trouble, before anything is written: the party cannot be read.
    let trouble = [(
        event(
            "POST",
            PATH,
            &[JSON_TYPE, ("authorization", &fresh())],
            &opaque("alice").to_string(),
        ),
        500,
        503,
    )];
    rec.expect_store_trouble(&api, &trouble).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_global_revocation_response_is_what_the_function_answers() {
    let mut rec = Recorder::new(Spec::load());
    global_revocation(&mut rec).await;
    rec.assert_vendor_covered(&GLOBAL_REVOCATION);
}
