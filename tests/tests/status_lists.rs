//! Token Status Lists against a real DynamoDB-compatible server and a local KMS (moto):
//! allocation under concurrent registrations, entries handed out by the registration
//! function, every revocation path flipping its tokens' bits in the list the introspection
//! function serves and signs, freshness within `ttl`, and the refusals.

use std::collections::HashSet;
use std::io::Read;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::types::KeySpec;
use base64::Engine;
use futures_util::stream::{self, StreamExt};
use lambda_http::http::header;
use lambda_http::Body;
use serde_json::{json, Value};
use signoff_edge::status_list::StatusListSettings;
use signoff_jose::status_list::StatusList;
use signoff_jose::VerifyingKeySet;
use signoff_kms::KeySet;
use signoff_store::cutoffs::Cutoff;
use signoff_store::item_key::{self, TokenHash};
use signoff_store::model::TokenType;
use signoff_store::revocation::Cascade;
use signoff_store::status_lists::StatusEntry;
use signoff_tests::db::TestDb;
use signoff_tests::event::HttpApiEvent;
use signoff_tests::functions::{status_lists, PUBLIC_BASE_URL};
use signoff_tests::kms::TestKms;
use signoff_tests::queue::TestQueue;
use signoff_tests::seed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_allocations_never_share_an_entry_and_fill_lists_in_order() {
    let db = TestDb::start().await;
    let capacity = 1_024;
    // 200 allocations of 1 to 25 entries, 16 at a time: about 2,600 entries, so the
    // allocator moves through three lists while callers race.
    let counts: Vec<u64> = (0..200).map(|i| 1 + (i * 7) % 25).collect();
    let wanted: u64 = counts.iter().sum();
    let allocations: Vec<Vec<StatusEntry>> = stream::iter(counts.clone())
        .map(|count| {
            let store = db.store.clone();
            async move {
                store
                    .allocate_status_entries("100", count, capacity)
                    .await
                    .expect("an allocation succeeds")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut seen = HashSet::new();
    for entries in &allocations {
        // One allocation: consecutive entries of one list.
        assert!(entries
            .windows(2)
            .all(|w| w[1].list == w[0].list && w[1].index == w[0].index + 1));
        for entry in entries {
            assert!(entry.index < capacity, "{entry:?}");
            assert!(seen.insert(*entry), "{entry:?} handed out twice");
        }
    }
    assert_eq!(seen.len() as u64, wanted);
    let lists: HashSet<u64> = seen.iter().map(|e| e.list).collect();
    assert!(lists.len() >= 3, "{lists:?}");
    assert_eq!(lists, (0..lists.len() as u64).collect::<HashSet<_>>());
    // Another tenant's allocator is its own.
    let other = db
        .store
        .allocate_status_entries("200", 3, capacity)
        .await
        .unwrap();
    assert_eq!(
        other,
        (0..3)
            .map(|index| StatusEntry { list: 0, index })
            .collect::<Vec<_>>()
    );
}

/// A tenant with a service token, a local KMS key, and the two functions' settings
/// (`ttl` as given; lists of 1,024 entries).
struct Fixture {
    db: TestDb,
    tenant: String,
    service_token: String,
    keys: KeySet,
    _kms: TestKms,
    registration: signoff_register::Settings,
    introspection: signoff_introspect::settings::Settings,
}

async fn fixture(ttl: Duration) -> Fixture {
    fixture_on(TestDb::start().await, ttl).await
}

async fn fixture_on(db: TestDb, ttl: Duration) -> Fixture {
    let tenant = format!("sl-{}", signoff_tests::event::fresh_id());
    let service_token = seed::tenant(&db.store, &tenant, None).await;
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff").await;
    let keys = KeySet::new(kms.client.clone(), "alias/signoff".into(), vec![]);
    // Registration must write its records within half the settle time of handing out
    // their entries: room enough for a debug build under a loaded test run.
    let lists = StatusListSettings {
        capacity: 1_024,
        ttl,
        settle: Duration::from_millis(800),
        ..status_lists()
    };
    let introspection = signoff_introspect::settings::Settings {
        tenant: tenant.clone(),
        issuer: PUBLIC_BASE_URL.into(),
        signing_key: Some("alias/signoff".into()),
        previous_signing_keys: vec![],
        introspection_scope: "introspection".into(),
        status_lists: lists.clone(),
        ssf_issuer: None,
    };
    Fixture {
        db,
        tenant,
        service_token,
        keys,
        _kms: kms,
        registration: signoff_register::Settings {
            status_lists: lists,
        },
        introspection,
    }
}

/// What a fetched list says.
struct Fetched {
    status: u16,
    headers: lambda_http::http::HeaderMap,
    /// The body, decompressed if it was gzip-encoded.
    body: String,
}

impl Fixture {
    /// Registers `tokens` (JSON token objects) in one batch; the answer's JSON.
    async fn register(&self, tokens: Vec<Value>) -> (u16, Value) {
        let request = seed::post(
            &format!("/signoff/v1/tenants/{}/tokens", self.tenant),
            Some(&format!("Bearer {}", self.service_token)),
            Some("application/json"),
            &json!({ "tokens": tokens }).to_string(),
        );
        seed::parts(
            signoff_register::handle(&self.db.store, &self.registration, request)
                .await
                .unwrap(),
        )
    }

    async fn fetch(&self, uri_path: &str, accept_encoding: Option<&str>) -> Fetched {
        let mut event = HttpApiEvent::get(uri_path);
        if let Some(value) = accept_encoding {
            event = event.header("accept-encoding", value);
        }
        let response = signoff_introspect::handle(
            &self.db.store,
            &self.introspection,
            Some(&self.keys),
            event.request(),
        )
        .await
        .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.into_body() {
            Body::Text(text) => text,
            Body::Binary(bytes) => {
                assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
                let mut text = String::new();
                flate2::read::GzDecoder::new(bytes.as_slice())
                    .read_to_string(&mut text)
                    .expect("a gzip body");
                text
            }
            Body::Empty => String::new(),
            #[allow(unreachable_patterns)]
            _ => String::new(),
        };
        Fetched {
            status,
            headers,
            body,
        }
    }

    /// Fetches the list at `uri`, checks it the way a resource server does (media type,
    /// `typ`, signature by a published key, `sub` equal to the URI), and reads it.
    async fn list(&self, uri: &str) -> (serde_json::Map<String, Value>, StatusList) {
        let path = uri.strip_prefix(PUBLIC_BASE_URL).expect("a list URI");
        let fetched = self.fetch(path, None).await;
        assert_eq!(fetched.status, 200, "{}", fetched.body);
        assert_eq!(
            fetched.headers[header::CONTENT_TYPE],
            "application/statuslist+jwt"
        );
        assert_eq!(fetched.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let jwt = fetched.body;
        let header_json: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header_json["typ"], "statuslist+jwt");
        assert_eq!(header_json["alg"], "ES256");
        let jwks = self.keys.jwks().await.unwrap().to_vec();
        assert_eq!(header_json["kid"], json!(jwks[0].kid));
        let claims = VerifyingKeySet::new(&jwks)
            .verify_jws(&jwt)
            .expect("signed by the published key");
        assert_eq!(claims["sub"], uri);
        let iat = claims["iat"].as_i64().unwrap();
        assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3_600);
        assert_eq!(
            claims["ttl"].as_u64().unwrap(),
            self.introspection.status_lists.ttl.as_secs()
        );
        assert_eq!(claims["status_list"]["bits"], 1);
        let list = StatusList::from_lst(1, claims["status_list"]["lst"].as_str().unwrap(), 1 << 20)
            .expect("a valid lst");
        assert_eq!(list.len(), 1_024);
        (claims, list)
    }
}

/// A token object for registration, asking for a status entry.
fn token(value: &str, client: &str, extra: Value) -> Value {
    let mut token = json!({
        "token": value, "type": "access", "clientId": client, "subject": "alice",
        "expiresIn": 3600, "status": true,
    });
    token
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    token
}

/// The entries a registration answer hands out, in token order: (idx, uri).
fn entries(answer: &Value) -> Vec<(usize, String)> {
    answer["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| {
            (
                s["status_list"]["idx"].as_u64().unwrap() as usize,
                s["status_list"]["uri"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revocation_path_sets_its_tokens_entries_invalid_in_the_signed_list() {
    // ttl 0: every fetch builds afresh, so each step shows what the store says now.
    let f = fixture(Duration::ZERO).await;
    let store = &f.db.store;
    let device = json!({"deviceId": "dev-1", "userStore": "ldap", "userDn": "cn=u"});
    let (status, answer) = f
        .register(vec![
            token("t-session", "app", json!({"sessionId": "s1"})),
            token("t-user", "app", json!({"subject": "u-everywhere"})),
            token(
                "t-grant-rt",
                "app",
                json!({"grantId": "g1", "type": "refresh"}),
            ),
            token("t-grant-at", "app", json!({"grantId": "g1"})),
            token("t-device", "app", device),
            token("t-client", "retired-app", json!({})),
            token("t-pair", "pair-app", json!({"subject": "u-pair"})),
            token("t-keeper", "app", json!({})),
            // Registered without an entry.
            json!({"token": "t-plain", "type": "access", "clientId": "app", "expiresIn": 3600}),
        ])
        .await;
    assert_eq!(status, 200, "{answer}");
    let handed = entries(&json!({"statuses": answer["statuses"].as_array().unwrap()[..8]}));
    assert_eq!(answer["statuses"][8], Value::Null);
    let uri = &handed[0].1;
    assert_eq!(
        uri,
        &format!(
            "{PUBLIC_BASE_URL}/signoff/v1/tenants/{}/statuslists/0",
            f.tenant
        )
    );
    let idx: Vec<usize> = handed.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, (0..8).collect::<Vec<_>>());

    let (_, list) = f.list(uri).await;
    assert!(
        (0..1_024).all(|i| list.get(i).unwrap() == 0),
        "all VALID at first"
    );

    // Each path, as the functions call it.
    store.end_session(&f.tenant, "s1").await.unwrap();
    store
        .log_user_out(&f.tenant, "u-everywhere", None, None)
        .await
        .unwrap();
    let refresh = store
        .find_token(&f.tenant, &TokenHash::of("t-grant-rt"))
        .await
        .unwrap()
        .unwrap();
    let cascade = Cascade {
        session: true,
        grant: true,
    };
    store.revoke_token(&refresh, cascade).await.unwrap();
    store
        .revoke_device(&f.tenant, "dev-1", "ldap", "cn=u")
        .await
        .unwrap();
    // A client cutoff whose purge has not run: the list must not wait for it.
    let client_cutoff = Cutoff::Client {
        client_id: "retired-app",
    };
    store.write_cutoff(&f.tenant, client_cutoff).await.unwrap();
    assert!(seed::token_stored(store, &f.tenant, "t-client").await);
    // A client and subject's cutoff, purged inline as Authlete's revoke API does.
    let pair = Cutoff::ClientSubject {
        client_id: "pair-app",
        subject: "u-pair",
    };
    let at = store.write_cutoff(&f.tenant, pair).await.unwrap();
    let job = store.create_purge(&f.tenant, pair, at).await.unwrap();
    store.purge_inline(&job, None).await.unwrap();

    let (_, list) = f.list(uri).await;
    let invalid: Vec<usize> = (0..1_024).filter(|i| list.get(*i).unwrap() == 1).collect();
    assert_eq!(
        invalid,
        [0, 1, 2, 3, 4, 5, 6],
        "only the keeper stays VALID"
    );

    // The tenant's break-glass cutoff ends the keeper too, before any purge.
    store.write_cutoff(&f.tenant, Cutoff::Tenant).await.unwrap();
    let (_, list) = f.list(uri).await;
    assert_eq!(list.get(7).unwrap(), 1);
    // Entries never handed out stay VALID (0): nothing references them.
    assert_eq!(list.get(8).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_the_served_list_within_its_ttl_and_the_list_is_kept_meanwhile() {
    let ttl = Duration::from_secs(3);
    let f = fixture(ttl).await;
    let (_, answer) = f
        .register(vec![
            token("t-1", "app", json!({})),
            token("t-2", "app", json!({})),
        ])
        .await;
    let uri = entries(&answer)[0].1.clone();
    let path = uri.strip_prefix(PUBLIC_BASE_URL).unwrap().to_owned();
    let (first, list) = f.list(&uri).await;
    assert_eq!((list.get(0).unwrap(), list.get(1).unwrap()), (0, 0));
    let built = tokio::time::Instant::now();

    let record =
        f.db.store
            .find_token(&f.tenant, &TokenHash::of("t-1"))
            .await
            .unwrap()
            .unwrap();
    f.db.store
        .revoke_token(&record, Cascade::default())
        .await
        .unwrap();
    // Within the ttl the same signed list is served, from memory or the kept item, and
    // caches are told to keep it only for what is left of the ttl.
    let again = f.fetch(&path, None).await;
    let cache_control = again.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .to_owned();
    let max_age: u64 = cache_control
        .strip_prefix("public, max-age=")
        .expect("public, max-age")
        .parse()
        .unwrap();
    assert!(max_age <= ttl.as_secs(), "{cache_control}");
    let (kept, _) = f.list(&uri).await;
    assert_eq!(kept["iat"], first["iat"]);
    assert!(
        built.elapsed() < ttl,
        "the test itself took longer than the ttl"
    );

    // Once the ttl has passed, the next fetch serves a list that shows the revocation.
    tokio::time::sleep(ttl.saturating_sub(built.elapsed()) + Duration::from_millis(100)).await;
    let (fresh, list) = f.list(&uri).await;
    assert!(fresh["iat"].as_i64() >= first["iat"].as_i64());
    assert_eq!((list.get(0).unwrap(), list.get(1).unwrap()), (1, 0));

    // Compressed when asked, and the same token.
    let gzipped = f.fetch(&path, Some("br, gzip")).await;
    assert_eq!(gzipped.status, 200);
    let vary: Vec<_> = gzipped.headers.get_all(header::VARY).iter().collect();
    assert!(vary.iter().any(|v| *v == "Accept-Encoding"), "{vary:?}");
    let plain = f.fetch(&path, None).await;
    assert_eq!(gzipped.body, plain.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_get_distinct_entries_of_the_same_list() {
    let f = fixture(Duration::from_secs(60)).await;
    let answers: Vec<(u16, Value)> = stream::iter(0..40)
        .map(|i| {
            let f = &f;
            async move {
                f.register(vec![
                    token(&format!("c-{i}-a"), "app", json!({})),
                    token(&format!("c-{i}-b"), "app", json!({})),
                ])
                .await
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut seen = HashSet::new();
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        for (idx, uri) in entries(answer) {
            assert!(uri.ends_with("/statuslists/0"), "{uri}");
            assert!(seen.insert(idx), "entry {idx} handed out twice");
        }
    }
    assert_eq!(seen.len(), 80);
    let (_, list) = f
        .list(&format!(
            "{PUBLIC_BASE_URL}/signoff/v1/tenants/{}/statuslists/0",
            f.tenant
        ))
        .await;
    assert!(seen.iter().all(|i| list.get(*i).unwrap() == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_left_to_a_background_purge_are_invalid_before_their_records_go() {
    // Two keys an index page: a user's logout and a pair's cutoff read one page inline,
    // then hand the rest to the background purge (moto's SQS, the purge function binary).
    let db = TestDb::start_with(|config| config.bulk.page_size = 2, None).await;
    let f = fixture_on(db, Duration::ZERO).await;
    let store = &f.db.store;
    let mut tokens: Vec<Value> = (0..12)
        .map(|i| token(&format!("big-{i}"), "app", json!({"subject": "u-big"})))
        .collect();
    tokens.extend((0..6).map(|i| {
        token(
            &format!("pair-{i}"),
            "pair-app",
            json!({"subject": "u-pair"}),
        )
    }));
    tokens.push(token(
        "pair-other-client",
        "other-app",
        json!({"subject": "u-pair"}),
    ));
    tokens.push(token(
        "pair-client-other-user",
        "pair-app",
        json!({"subject": "u-else"}),
    ));
    let (status, answer) = f.register(tokens).await;
    assert_eq!(status, 200, "{answer}");
    let handed = entries(&answer);
    let uri = handed[0].1.clone();

    let queue = TestQueue::start(2, 5).await;
    let handoff = queue.handoff(Duration::ZERO).await;
    let logout = signoff_queue::log_user_out(store, Some(&handoff), &f.tenant, "u-big", None)
        .await
        .unwrap();
    let user_job = logout
        .purge
        .expect("the rest of the user's tokens went to the background");
    let pair = Cutoff::ClientSubject {
        client_id: "pair-app",
        subject: "u-pair",
    };
    let cut = signoff_queue::cut_off(store, Some(&handoff), &f.tenant, pair)
        .await
        .unwrap();
    assert!(
        cut.queued,
        "the rest of the pair's tokens went to the background"
    );

    // No worker has run: records of both scopes remain, and their entries read INVALID.
    let mut remaining = 0;
    for i in 0..12 {
        remaining += usize::from(seed::token_stored(store, &f.tenant, &format!("big-{i}")).await);
    }
    assert!(remaining > 0, "the user's purge has records left");
    let (_, list) = f.list(&uri).await;
    let invalid: Vec<usize> = (0..20).filter(|i| list.get(*i).unwrap() == 1).collect();
    assert_eq!(
        invalid,
        (0..18).collect::<Vec<_>>(),
        "the other client's and the other user's stay VALID"
    );

    // The worker deletes the rest; the last shard marks each job finished, and the list
    // still says the same (now from the records being gone).
    let (gateway, _runner) = queue.purge_worker(&f.db, 25, 30_000).await;
    for job in [&user_job, &cut.job] {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let item = store
                .client()
                .get_item()
                .table_name(store.table_name())
                .key(
                    "pk",
                    AttributeValue::S(item_key::background_purges_pk(&f.tenant)),
                )
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .unwrap_or_default();
            let until = item
                .get(&format!("job_{}", job.job_id))
                .and_then(|entry| {
                    entry
                        .as_m()
                        .ok()?
                        .get("until")?
                        .as_n()
                        .ok()?
                        .parse::<i64>()
                        .ok()
                })
                .expect("the job is listed while it runs");
            let now = signoff_store::now_epoch_seconds();
            if until <= now + signoff_store::purge::RUNNING_PURGE_GRACE_SECONDS {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the purge did not finish: {:?}\n{}",
                store.purge_progress(job).await,
                gateway.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(store.purge_progress(job).await.unwrap().is_done());
    }
    for i in 0..12 {
        assert!(!seed::token_stored(store, &f.tenant, &format!("big-{i}")).await);
    }
    let (_, list) = f.list(&uri).await;
    let invalid: Vec<usize> = (0..20).filter(|i| list.get(*i).unwrap() == 1).collect();
    assert_eq!(invalid, (0..18).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_registered_again_keeps_its_entry_whichever_attempt_lands_last() {
    let f = fixture(Duration::ZERO).await;
    let store = &f.db.store;
    let uri = format!(
        "{PUBLIC_BASE_URL}/signoff/v1/tenants/{}/statuslists/0",
        f.tenant
    );
    // Through the function: a retry, or a registration without "status", answers the
    // entry the record holds, and nothing turns INVALID.
    let (status, first) = f.register(vec![token("again", "app", json!({}))]).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(entries(&first)[0].0, 0);
    let (_, retry) = f.register(vec![token("again", "app", json!({}))]).await;
    assert_eq!(entries(&retry), entries(&first), "{retry}");
    let plain = json!({"token": "again", "type": "access", "clientId": "app", "expiresIn": 3600});
    let (status, without) = f.register(vec![plain]).await;
    assert_eq!(status, 200, "{without}");
    assert_eq!(entries(&without), entries(&first), "{without}");
    let (_, list) = f.list(&uri).await;
    assert_eq!(list.get(0).unwrap(), 0, "the token's entry stays VALID");
    assert_eq!(
        list.get(1).unwrap(),
        1,
        "the retry's unused entry is INVALID"
    );

    // The race, written as it lands: an attempt the authorization server timed out on
    // writes its record after the retry the server used. Alone (a conditional PutItem),
    // and in a session (a transaction).
    let mut in_session = seed::token(&f.tenant, "racing-in-session", TokenType::Access, "app");
    in_session.session_id = Some("s-race".into());
    for record in [
        seed::token(&f.tenant, "racing", TokenType::Access, "app"),
        in_session,
    ] {
        let first_attempt = store
            .allocate_status_entries(&f.tenant, 1, 1_024)
            .await
            .unwrap()[0];
        let retry = store
            .allocate_status_entries(&f.tenant, 1, 1_024)
            .await
            .unwrap()[0];
        let answered = store
            .register_tokens_with_status(std::slice::from_ref(&record), &[Some(retry)])
            .await
            .unwrap();
        assert_eq!(answered, [Some(retry)]);
        let late = store
            .register_tokens_with_status(std::slice::from_ref(&record), &[Some(first_attempt)])
            .await
            .unwrap();
        assert_eq!(
            late,
            [Some(retry)],
            "the late attempt keeps the stored entry"
        );
        let (_, list) = f.list(&uri).await;
        assert_eq!(list.get(retry.index as usize).unwrap(), 0);
        assert_eq!(list.get(first_attempt.index as usize).unwrap(), 1);
    }

    // A record past its expiry that TTL has not removed yet still holds its entry.
    let mut expiring = seed::token(&f.tenant, "expiring", TokenType::Access, "app");
    expiring.expires_at = signoff_store::now_epoch_seconds() + 1;
    let entry = store
        .allocate_status_entries(&f.tenant, 1, 1_024)
        .await
        .unwrap()[0];
    store
        .register_tokens_with_status(std::slice::from_ref(&expiring), &[Some(entry)])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let again = store
        .register_tokens_with_status(std::slice::from_ref(&expiring), &[])
        .await
        .unwrap();
    assert_eq!(again, [Some(entry)]);

    // An entry taken back (a registration too slow for its entries) is gone from the
    // record, and the next registration of the token hands out a fresh one.
    let (_, slow) = f.register(vec![token("slow", "app", json!({}))]).await;
    let (slow_idx, _) = entries(&slow)[0].clone();
    let record = store
        .find_token(&f.tenant, &TokenHash::of("slow"))
        .await
        .unwrap()
        .unwrap();
    let taken = StatusEntry {
        list: 0,
        index: slow_idx as u64,
    };
    store
        .take_back_status_entries(&[(&record, taken)])
        .await
        .unwrap();
    let (_, again) = f.register(vec![token("slow", "app", json!({}))]).await;
    let (fresh_idx, _) = entries(&again)[0].clone();
    assert!(fresh_idx > slow_idx, "{again}");
    let (_, list) = f.list(&uri).await;
    assert_eq!(list.get(slow_idx).unwrap(), 1);
    assert_eq!(list.get(fresh_idx).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_lists_wrong_methods_and_store_trouble_are_refused_clearly() {
    let f = fixture(Duration::from_secs(60)).await;
    let base = format!("/signoff/v1/tenants/{}/statuslists", f.tenant);
    // No list handed out yet; malformed ids; another tenant's path shape.
    for path in [
        format!("{base}/0"),
        format!("{base}/01"),
        format!("{base}/-1"),
        format!("{base}/99999999999999999999"),
    ] {
        let fetched = f.fetch(&path, None).await;
        assert_eq!(fetched.status, 404, "{path}: {}", fetched.body);
        let body: Value = serde_json::from_str(&fetched.body).unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
    // Asking for an unknown list leaves nothing behind.
    assert!(!seed::item_stored(&f.db.store, item_key::status_list_pk(&f.tenant, 0)).await);

    // A single token's answer also carries the claim itself.
    let request = seed::post(
        &format!("/signoff/v1/tenants/{}/tokens", f.tenant),
        Some(&format!("Bearer {}", f.service_token)),
        Some("application/json"),
        &token("t-1", "app", json!({})).to_string(),
    );
    let (status, answer) = seed::parts(
        signoff_register::handle(&f.db.store, &f.registration, request)
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"]["status_list"]["idx"], 0);
    assert_eq!(answer["status"], answer["statuses"][0]);
    let post = HttpApiEvent::post(&format!("{base}/0")).request();
    let response = signoff_introspect::handle(&f.db.store, &f.introspection, Some(&f.keys), post)
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()[header::ALLOW], "GET");

    // Another instance holds the lease on the first build and nothing is kept yet: an
    // answer at once, retryable, rather than an instance held waiting.
    let now_ms = signoff_store::now_epoch_millis();
    let lease =
        f.db.store
            .lease_status_list_build(&f.tenant, 0, now_ms, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("the lease is free");
    let busy = f.fetch(&format!("{base}/0"), None).await;
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(busy.headers[header::RETRY_AFTER], "1");
    assert_eq!(busy.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    f.db.store
        .release_status_list_lease(&f.tenant, 0, lease)
        .await
        .unwrap();
    assert_eq!(f.fetch(&format!("{base}/0"), None).await.status, 200);

    // Without a signing key there is no list to serve.
    let response = signoff_introspect::handle(
        &f.db.store,
        &f.introspection,
        None,
        HttpApiEvent::get(&format!("{base}/0")).request(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 404);

    // Store trouble: a retryable 503 (for a list this instance has not served, which it
    // would still answer from memory).
    let unreachable = seed::unreachable_store();
    let response = signoff_introspect::handle(
        &unreachable,
        &f.introspection,
        Some(&f.keys),
        HttpApiEvent::get(&format!("{base}/1")).request(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key(header::RETRY_AFTER));

    // A deployment without a public base URL hands out no entries, and says so.
    let request = seed::post(
        &format!("/signoff/v1/tenants/{}/tokens", f.tenant),
        Some(&format!("Bearer {}", f.service_token)),
        Some("application/json"),
        &token("t-2", "app", json!({})).to_string(),
    );
    let (status, body) = seed::parts(
        signoff_register::handle(&f.db.store, &Default::default(), request)
            .await
            .unwrap(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Token Status Lists"));
    assert!(!seed::token_stored(&f.db.store, &f.tenant, "t-2").await);
    // A non-boolean status is a 400 naming the field.
    let mut bad = token("t-3", "app", json!({}));
    bad["status"] = json!("yes");
    let (status, body) = f.register(vec![bad]).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("status"),
        "{body}"
    );
}
