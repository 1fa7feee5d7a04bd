//! Authlete's token management APIs (`/auth/token/revoke`, `/auth/token/delete/{id}`,
//! `/client/authorization/delete/{clientId}`, `/auth/token/get/list`) against a real DynamoDB-compatible server
//! and, for the background hand-off, moto's SQS server, through the function's handler.

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::Value;
use signoff_nativesso::{handle, Settings};
use signoff_store::item_key::TokenHash;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::revocation::TokenState;
use signoff_tests::db::TestDb;
use signoff_tests::event::HttpApiEvent;
use signoff_tests::queue::TestQueue;
use signoff_tests::seed::{self, parts};

const SERVICE: &str = "100";
const OTHER_SERVICE: &str = "200";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

struct Fixture {
    db: TestDb,
    /// Service 100's access token.
    credential: String,
    /// Service 200's.
    other_credential: String,
}

/// Tokens `{prefix}-{i}` of `client` for `subject` in `tenant`, issued now.
fn tokens(tenant: &str, client: &str, subject: &str, prefix: &str, n: usize) -> Vec<TokenRecord> {
    (0..n)
        .map(|i| TokenRecord {
            subject: Some(subject.to_owned()),
            ..seed::token(tenant, &format!("{prefix}-{i}"), TokenType::Access, client)
        })
        .collect()
}

async fn fixture() -> Fixture {
    let db = TestDb::start().await;
    let credential = seed::tenant(&db.store, SERVICE, None).await;
    let other_credential = seed::tenant(&db.store, OTHER_SERVICE, None).await;
    let mut records = Vec::new();
    records.extend(tokens(SERVICE, "web", "alice", "web-alice", 5));
    records.extend(tokens(SERVICE, "web", "bob", "web-bob", 4));
    records.extend(tokens(SERVICE, "mobile", "alice", "mobile-alice", 3));
    records.extend(tokens(OTHER_SERVICE, "web", "alice", "other-web-alice", 2));
    // One authorization grant: an access token and the refresh token Authlete keeps with it.
    for (value, token_type) in [
        ("pair-at", TokenType::Access),
        ("pair-rt", TokenType::Refresh),
    ] {
        records.push(TokenRecord {
            subject: Some("carol".into()),
            ..seed::grant_token(SERVICE, value, token_type, "web", "g1")
        });
    }
    seed::register(&db.store, records).await;
    Fixture {
        db,
        credential,
        other_credential,
    }
}

impl Fixture {
    async fn send(&self, settings: &Settings, event: HttpApiEvent) -> Response<Body> {
        handle(&self.db.store, settings, event.request())
            .await
            .expect("the handler never fails")
    }

    /// `POST /api/{service}/auth/token/revoke` with `body` of `content_type`.
    async fn revoke(&self, service: &str, content_type: &str, body: &str) -> (u16, Value) {
        self.revoke_with(&Settings::default(), service, content_type, body)
            .await
    }

    async fn revoke_with(
        &self,
        settings: &Settings,
        service: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, Value) {
        let event = HttpApiEvent::post(&format!("/api/{service}/auth/token/revoke"))
            .header("authorization", &format!("Bearer {}", self.credential))
            .header("content-type", content_type)
            .body(body);
        parts(self.send(settings, event).await)
    }

    /// A DELETE of `target` with service 100's credential.
    async fn delete(&self, target: &str) -> Response<Body> {
        let event = HttpApiEvent::new("DELETE", target)
            .header("authorization", &format!("Bearer {}", self.credential));
        self.send(&Settings::default(), event).await
    }

    async fn stored(&self, tenant: &str, prefix: &str, n: usize) -> usize {
        let mut count = 0;
        for i in 0..n {
            count += usize::from(
                seed::token_stored(&self.db.store, tenant, &format!("{prefix}-{i}")).await,
            );
        }
        count
    }

    async fn state(&self, tenant: &str, value: &str) -> Option<TokenState> {
        let now = signoff_store::now_epoch_seconds();
        self.db
            .store
            .lookup_token(tenant, &TokenHash::of(value), now)
            .await
            .unwrap()
            .map(|(_, state)| state)
    }
}

fn assert_revoked(response: &(u16, Value), count: u64) {
    assert_eq!(response.0, 200, "{}", response.1);
    assert_eq!(response.1["resultCode"], "A312001", "{}", response.1);
    assert_eq!(response.1["count"], count, "{}", response.1);
    assert_eq!(
        response.1["resultMessage"],
        format!("[A312001] Revoked {count} token record(s).")
    );
}

fn code(response: &(u16, Value)) -> &str {
    response.1["resultCode"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_access_token_is_revoked_with_its_refresh_token_by_value_or_by_hash() {
    let f = fixture().await;
    let response = f
        .revoke(SERVICE, JSON, r#"{"accessTokenIdentifier":"pair-at"}"#)
        .await;
    assert_revoked(&response, 2);
    assert!(!seed::token_stored(&f.db.store, SERVICE, "pair-at").await);
    assert!(!seed::token_stored(&f.db.store, SERVICE, "pair-rt").await);
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 5);

    // Authlete's accessTokenHash names a token as well as its value, in a form body too.
    let hash = TokenHash::of("web-bob-0").encoded();
    let response = f
        .revoke(
            SERVICE,
            FORM,
            &seed::form(&[("refreshTokenIdentifier", &hash)]),
        )
        .await;
    assert_revoked(&response, 1);
    assert!(!seed::token_stored(&f.db.store, SERVICE, "web-bob-0").await);
    assert_eq!(f.stored(SERVICE, "web-bob", 4).await, 3);

    // A token that is not there (any more): nothing to revoke, and a retry is harmless.
    assert_revoked(
        &f.revoke(SERVICE, JSON, r#"{"accessTokenIdentifier":"pair-at"}"#)
            .await,
        0,
    );
}

#[tokio::test]
async fn a_token_identifier_takes_precedence_over_client_and_subject() {
    let f = fixture().await;
    let body =
        r#"{"accessTokenIdentifier":"web-alice-0","clientIdentifier":"web","subject":"alice"}"#;
    assert_revoked(&f.revoke(SERVICE, JSON, body).await, 1);
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 4);
}

#[tokio::test]
async fn a_client_and_subject_lose_their_tokens_and_nobody_else_does() {
    let f = fixture().await;
    let body = r#"{"clientIdentifier":"web","subject":"alice"}"#;
    assert_revoked(&f.revoke(SERVICE, JSON, body).await, 5);
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 0);
    assert_eq!(f.stored(SERVICE, "web-bob", 4).await, 4);
    assert_eq!(f.stored(SERVICE, "mobile-alice", 3).await, 3);
    assert_eq!(f.stored(OTHER_SERVICE, "other-web-alice", 2).await, 2);

    // Alice signs in to the app again a second later: that token is hers to keep.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    seed::register(
        &f.db.store,
        tokens(SERVICE, "web", "alice", "web-alice-again", 1),
    )
    .await;
    assert_eq!(
        f.state(SERVICE, "web-alice-again-0").await,
        Some(TokenState::Live)
    );
}

#[tokio::test]
async fn a_client_loses_every_token_and_a_subject_every_token_of_theirs() {
    let f = fixture().await;
    // web: 5 of alice, 4 of bob, carol's pair.
    assert_revoked(&f.revoke(SERVICE, FORM, "clientIdentifier=web").await, 11);
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 0);
    assert_eq!(f.stored(SERVICE, "web-bob", 4).await, 0);
    assert_eq!(f.stored(SERVICE, "mobile-alice", 3).await, 3);
    assert_eq!(f.stored(OTHER_SERVICE, "other-web-alice", 2).await, 2);

    assert_revoked(&f.revoke(SERVICE, JSON, r#"{"subject":"alice"}"#).await, 3);
    assert_eq!(f.stored(SERVICE, "mobile-alice", 3).await, 0);
    assert_eq!(f.stored(OTHER_SERVICE, "other-web-alice", 2).await, 2);
}

#[tokio::test]
async fn what_cannot_be_deleted_in_time_is_unusable_at_once_and_purged_in_the_background() {
    let f = fixture().await;
    let queue = TestQueue::start(30, 5).await;
    let settings = Settings {
        handoff: Some(queue.handoff(Duration::ZERO).await),
        ..Settings::default()
    };
    let (status, body) = f
        .revoke_with(&settings, SERVICE, JSON, r#"{"clientIdentifier":"web"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resultCode"], "A312001");
    assert_eq!(body["count"], 0, "no time to delete inline: {body}");
    let message = body["resultMessage"].as_str().unwrap();
    let job_id = message
        .split("(purge ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(")."))
        .unwrap_or_else(|| panic!("the message names the purge: {message}"));
    assert_eq!(
        queue.depth(&queue.queue_url).await,
        1,
        "the purge was queued"
    );
    for i in 0..5 {
        assert_eq!(
            f.state(SERVICE, &format!("web-alice-{i}")).await,
            Some(TokenState::ClientCutOff)
        );
    }
    assert_eq!(
        f.state(SERVICE, "mobile-alice-0").await,
        Some(TokenState::Live)
    );

    // What the purge function does with the message: the records go.
    let job =
        f.db.store
            .purge_job(SERVICE, job_id)
            .await
            .unwrap()
            .expect("the job is recorded");
    let done = f.db.store.purge_inline(&job, None).await.unwrap();
    assert!(done.finished);
    assert_eq!(done.deleted, 11);
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 0);
    assert_eq!(f.stored(SERVICE, "mobile-alice", 3).await, 3);
}

#[tokio::test]
async fn bad_revocation_requests_are_caller_errors_in_authletes_shape() {
    let f = fixture().await;
    let cases: &[(&str, &str, &str)] = &[
        (JSON, "", "A312201"),
        (JSON, "{}", "A312201"),
        (JSON, r#"{"subject":""}"#, "A312201"),
        (JSON, r#"{"subject":5}"#, "A312202"),
        (JSON, r#"{"clientIdentifier":"a\u0000b"}"#, "A312205"),
        (JSON, "{", "A312206"),
        (JSON, "[]", "A312207"),
        ("text/plain", "subject=alice", "A312208"),
        (FORM, "subject=alice&subject=bob", "A312214"),
    ];
    for (content_type, body, expected) in cases {
        let response = f.revoke(SERVICE, content_type, body).await;
        assert_eq!(response.0, 400, "{body}: {}", response.1);
        assert_eq!(code(&response), *expected, "{body}: {}", response.1);
        assert!(response.1["resultMessage"]
            .as_str()
            .unwrap()
            .starts_with(&format!("[{expected}] /api/100/auth/token/revoke, ")));
    }
    let long = format!(r#"{{"subject":"{}"}}"#, "s".repeat(257));
    assert_eq!(code(&f.revoke(SERVICE, JSON, &long).await), "A312204");
    // Nothing was revoked by any of them.
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 5);
}

#[tokio::test]
async fn a_service_credential_acts_on_its_own_service_only() {
    let f = fixture().await;
    // Service 100's credential on service 200's API.
    let response = f
        .revoke(OTHER_SERVICE, JSON, r#"{"subject":"alice"}"#)
        .await;
    assert_eq!(response.0, 403, "{}", response.1);
    assert_eq!(code(&response), "A001205");
    assert_eq!(f.stored(OTHER_SERVICE, "other-web-alice", 2).await, 2);
    // Service 200's token named on service 100's API: not one of its tokens.
    let response = f
        .delete("/api/100/auth/token/delete/other-web-alice-0")
        .await;
    assert_eq!(response.status(), 404);
    assert!(seed::token_stored(&f.db.store, OTHER_SERVICE, "other-web-alice-0").await);
    // And with service 200's own credential, it goes.
    let event = HttpApiEvent::new("DELETE", "/api/200/auth/token/delete/other-web-alice-0")
        .header("authorization", &format!("Bearer {}", f.other_credential));
    assert_eq!(f.send(&Settings::default(), event).await.status(), 204);
    assert!(!seed::token_stored(&f.db.store, OTHER_SERVICE, "other-web-alice-0").await);
}

#[tokio::test]
async fn token_delete_answers_204_then_404() {
    let f = fixture().await;
    let response = f.delete("/api/100/auth/token/delete/pair-at").await;
    assert_eq!(response.status(), 204);
    assert!(matches!(response.body(), Body::Empty));
    assert!(!seed::token_stored(&f.db.store, SERVICE, "pair-at").await);
    assert!(!seed::token_stored(&f.db.store, SERVICE, "pair-rt").await);

    let (status, body) = parts(f.delete("/api/100/auth/token/delete/pair-at").await);
    assert_eq!(status, 404);
    assert_eq!(body["resultCode"], "A136213");
    // The message names the API, never the token.
    let message = body["resultMessage"].as_str().unwrap();
    assert_eq!(
        message,
        "[A136213] /api/100/auth/token/delete/{accessTokenIdentifier}, The access token was not found."
    );

    let hash = TokenHash::of("web-alice-1").encoded();
    let response = f
        .delete(&format!("/api/100/auth/token/delete/{hash}"))
        .await;
    assert_eq!(response.status(), 204);
    assert!(!seed::token_stored(&f.db.store, SERVICE, "web-alice-1").await);
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 4);
}

#[tokio::test]
async fn client_authorization_delete_ends_one_client_for_one_subject() {
    let f = fixture().await;
    let (status, body) = parts(
        f.delete("/api/100/client/authorization/delete/web?subject=alice")
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resultCode"], "A137001");
    assert_eq!(
        body["resultMessage"],
        "[A137001] Deleted 5 token record(s) issued to the client (ID = web) of the service (API Key = 100)."
    );
    assert_eq!(f.stored(SERVICE, "web-alice", 5).await, 0);
    assert_eq!(f.stored(SERVICE, "web-bob", 4).await, 4);
    assert_eq!(f.stored(SERVICE, "mobile-alice", 3).await, 3);
    assert_eq!(
        f.state(SERVICE, "pair-at").await,
        Some(TokenState::Live),
        "carol's grant with the same client is not alice's"
    );

    // The older form, with the subject in the path.
    let (status, body) = parts(
        f.delete("/api/100/client/authorization/delete/web/bob")
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(f.stored(SERVICE, "web-bob", 4).await, 0);

    let (status, body) = parts(f.delete("/api/100/client/authorization/delete/web").await);
    assert_eq!(status, 400);
    assert_eq!(body["resultCode"], "A137201");
}

#[tokio::test]
async fn wrong_methods_and_store_trouble_get_authletes_answers() {
    let f = fixture().await;
    let event = HttpApiEvent::get("/api/100/auth/token/revoke")
        .header("authorization", &format!("Bearer {}", f.credential));
    let response = f.send(&Settings::default(), event).await;
    assert_eq!(response.headers()["allow"], "POST");
    let (status, body) = parts(response);
    assert_eq!(status, 405);
    assert_eq!(body["resultCode"], "A312210");

    let store = seed::unreachable_store();
    let event = HttpApiEvent::post("/api/100/auth/token/revoke")
        .header("authorization", &format!("Bearer {}", f.credential))
        .header("content-type", JSON)
        .body(r#"{"subject":"alice"}"#);
    let response = handle(&store, &Settings::default(), event.request())
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_eq!(status, 500);
    assert_eq!(body["resultCode"], "A312101");
}

impl Fixture {
    /// `GET /api/100/auth/token/get/list?{query}` with service 100's credential.
    async fn list(&self, settings: &Settings, query: &str) -> (u16, Value) {
        let event = HttpApiEvent::get(&format!("/api/100/auth/token/get/list?{query}"))
            .header("authorization", &format!("Bearer {}", self.credential));
        parts(self.send(settings, event).await)
    }

    /// Every hash a list query names, read 3 a page (so that paging is exercised), and
    /// the total the pages reported.
    async fn list_all(&self, query: &str) -> (Vec<String>, usize) {
        let mut hashes = Vec::new();
        let mut total = 0;
        for start in (0..).step_by(3) {
            let (status, body) = self
                .list(
                    &Settings::default(),
                    &format!("{query}&start={start}&end={}", start + 3),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                (body["start"].as_u64(), body["end"].as_u64()),
                (Some(start), Some(start + 3))
            );
            total = body["totalCount"].as_u64().unwrap() as usize;
            let page = body["accessTokens"].as_array().unwrap();
            if page.is_empty() {
                break;
            }
            hashes.extend(page.iter().map(|t| {
                t["accessTokenHash"]
                    .as_str()
                    .or(t["refreshTokenHash"].as_str())
                    .expect("each entry names its token by hash")
                    .to_owned()
            }));
        }
        (hashes, total)
    }
}

/// The hashes of tokens `{prefix}-{i}`, i < n.
fn hashes(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| TokenHash::of(&format!("{prefix}-{i}")).encoded())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn token_list_names_a_subjects_a_clients_and_the_services_tokens_by_hash() {
    let f = fixture().await;
    let pair = vec![
        TokenHash::of("pair-at").encoded(),
        TokenHash::of("pair-rt").encoded(),
    ];
    let alice_web = hashes("web-alice", 5);
    let alice_mobile = hashes("mobile-alice", 3);
    let bob_web = hashes("web-bob", 4);

    let (listed, total) = f.list_all("subject=alice").await;
    assert_eq!(total, 8);
    assert_eq!(
        sorted(listed),
        sorted([alice_web.clone(), alice_mobile.clone()].concat())
    );

    let (listed, total) = f.list_all("subject=alice&clientIdentifier=web").await;
    assert_eq!(total, 5);
    assert_eq!(sorted(listed), sorted(alice_web.clone()));

    let (listed, total) = f.list_all("clientIdentifier=web").await;
    assert_eq!(total, 11);
    assert_eq!(
        sorted(listed),
        sorted([alice_web.clone(), bob_web.clone(), pair.clone()].concat())
    );

    // The whole service: never service 200's tokens.
    let (listed, total) = f.list_all("").await;
    assert_eq!(total, 14);
    assert_eq!(
        sorted(listed),
        sorted([alice_web, alice_mobile, bob_web, pair].concat())
    );

    // Authlete's defaults (0 to 5), the client as Authlete names one, one record an entry.
    let (status, body) = f.list(&Settings::default(), "clientIdentifier=web").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["start"].as_u64(), body["end"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(body["accessTokens"].as_array().unwrap().len(), 5);
    assert_eq!(
        body["client"],
        serde_json::json!({"clientId": 0, "clientIdAlias": "web", "clientIdAliasEnabled": true})
    );
    let (_, body) = f.list(&Settings::default(), "subject=carol").await;
    let entries = body["accessTokens"].as_array().unwrap();
    assert_eq!(body["subject"], "carol");
    assert_eq!(entries.len(), 2);
    let access = entries
        .iter()
        .find(|e| e["accessTokenHash"].is_string())
        .unwrap();
    assert_eq!(
        access["accessTokenHash"],
        TokenHash::of("pair-at").encoded()
    );
    assert!(access["accessTokenExpiresAt"].as_i64().unwrap() > 1_000_000_000_000);
    assert_eq!(access["subject"], "carol");
    assert_eq!(access["clientIdAlias"], "web");
    // Hashes only: no token value anywhere in an answer.
    assert!(!body.to_string().contains("pair-"));
    // A window past the end is empty, with the total still right.
    let (_, body) = f
        .list(&Settings::default(), "subject=alice&start=50&end=60")
        .await;
    assert_eq!(body["totalCount"], 8);
    assert_eq!(body["accessTokens"], serde_json::json!([]));
}

#[tokio::test]
async fn token_list_shows_a_revoked_or_expired_token_only_when_asked() {
    let f = fixture().await;
    let store = &f.db.store;
    // Cut alice off web without deleting anything (as while the purge runs), then issue
    // her one more web token after the cutoff, and one that expires at once.
    store
        .write_cutoff(
            SERVICE,
            signoff_store::cutoffs::Cutoff::ClientSubject {
                client_id: "web",
                subject: "alice",
            },
        )
        .await
        .unwrap();
    let now = signoff_store::now_epoch_seconds();
    let mut later = tokens(SERVICE, "web", "alice", "web-alice-later", 1).remove(0);
    later.issued_at = now + 1;
    let mut brief = tokens(SERVICE, "mobile", "alice", "mobile-alice-brief", 1).remove(0);
    brief.expires_at = now + 1;
    seed::register(store, vec![later, brief]).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let (listed, total) = f.list_all("subject=alice&clientIdentifier=web").await;
    assert_eq!((total, listed), (1, hashes("web-alice-later", 1)));
    let (listed, total) = f
        .list_all("subject=alice&clientIdentifier=web&tokenStatus=INVALID")
        .await;
    assert_eq!(total, 5);
    assert_eq!(sorted(listed), sorted(hashes("web-alice", 5)));
    let (_, total) = f.list_all("subject=alice&tokenStatus=ALL").await;
    assert_eq!(total, 5 + 1 + 3 + 1);
    let (listed, _) = f.list_all("subject=alice&tokenStatus=INVALID").await;
    assert!(listed.contains(&hashes("mobile-alice-brief", 1)[0]));
    let (listed, total) = f.list_all("subject=alice").await;
    assert_eq!(total, 4, "the later web token and mobile's 3");
    assert!(!listed.contains(&hashes("mobile-alice-brief", 1)[0]));
}

#[tokio::test]
async fn token_list_refuses_bad_queries_other_services_and_scopes_over_its_limit() {
    let f = fixture().await;
    let settings = Settings::default();
    for (query, expected) in [
        ("start=-1", "A138215"),
        ("end=abc", "A138215"),
        ("start=6&end=5", "A138215"),
        ("tokenStatus=EXPIRED", "A138216"),
        ("subject=a&subject=b", "A138214"),
    ] {
        let response = f.list(&settings, query).await;
        assert_eq!(response.0, 400, "{query}: {}", response.1);
        assert_eq!(code(&response), expected, "{query}");
        let message = response.1["resultMessage"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("[{expected}] /api/100/auth/token/get/list, ")),
            "{message}"
        );
    }
    // A page is at most 20.
    let (status, body) = f.list(&settings, "start=0&end=1000").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["end"], 20);
    assert_eq!(body["accessTokens"].as_array().unwrap().len(), 14);

    // More records in scope than the limit: refused, saying how to narrow it; a narrower
    // scope still answers.
    let small = Settings {
        list_limit: 10,
        ..Settings::default()
    };
    let response = f.list(&small, "").await;
    assert_eq!(response.0, 400, "{}", response.1);
    assert_eq!(code(&response), "A138217");
    assert!(response.1["resultMessage"]
        .as_str()
        .unwrap()
        .contains("More than 10 token records"));
    let (status, body) = f.list(&small, "subject=alice").await;
    assert_eq!((status, body["totalCount"].as_u64()), (200, Some(8)));

    // Service 200's credential cannot list service 100's tokens.
    let event = HttpApiEvent::get("/api/100/auth/token/get/list?subject=alice")
        .header("authorization", &format!("Bearer {}", f.other_credential));
    let response = parts(f.send(&settings, event).await);
    assert_eq!(response.0, 403, "{}", response.1);
    assert_eq!(code(&response), "A001205");
    // Nor can anyone without a credential.
    let response = parts(
        f.send(&settings, HttpApiEvent::get("/api/100/auth/token/get/list"))
            .await,
    );
    assert_eq!(response.0, 401, "{}", response.1);
    // A list is a GET.
    let event = HttpApiEvent::post("/api/100/auth/token/get/list")
        .header("authorization", &format!("Bearer {}", f.credential));
    let response = f.send(&settings, event).await;
    assert_eq!(response.headers()["allow"], "GET");
    assert_eq!(code(&parts(response)), "A138210");
    // Store trouble: retryable, in Authlete's shape.
    let event = HttpApiEvent::get("/api/100/auth/token/get/list?subject=alice")
        .header("authorization", &format!("Bearer {}", f.credential));
    let response = handle(&seed::unreachable_store(), &settings, event.request())
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let response = parts(response);
    assert_eq!((response.0, code(&response)), (500, "A138101"));
}
