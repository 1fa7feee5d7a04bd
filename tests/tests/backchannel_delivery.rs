//! Back-channel logout delivery end to end (docs/back-channel-logout.md), with the parts
//! `scripts/dev` runs: a logout through the real endpoint, the table's stream read by
//! `signoff-stream-runner` into the `logout-fanout` binary, moto's SQS queue fed by
//! `signoff-queue-runner` to the `logout-deliver` binary, and relying parties
//! (`tests/clients/node/logout_receiver.mjs`) that validate every token with the `jose`
//! library exactly as OpenID Connect Back-Channel Logout 1.0 section 2.6 asks.

use std::time::Duration;

use serde_json::{json, Value};
use signoff_store::backchannel::{BackchannelLogout, Reach};
use signoff_store::model::{TokenRecord, TokenType};
use signoff_tests::admin::run_admin;
use signoff_tests::backchannel::LogoutPath;
use signoff_tests::db::TestDb;
use signoff_tests::kms::TestKms;
use signoff_tests::seed;

const SERVICE: &str = "5001";
/// Long enough for a debug build on a busy 2-core machine; deliveries take well under a
/// second when nothing fails.
const WITHIN: Duration = Duration::from_secs(60);

async fn listen(db: &TestDb, path: &LogoutPath, client: &str) {
    let logout = BackchannelLogout::new(&path.receivers.uri(client), false, Reach::Loopback)
        .expect("a loopback URI, allowed");
    db.store
        .set_backchannel_logout(SERVICE, client, Some(&logout))
        .await
        .expect("the URI is stored");
}

fn token(value: &str, client: &str, subject: &str, session: Option<&str>) -> TokenRecord {
    TokenRecord {
        subject: Some(subject.into()),
        session_id: session.map(str::to_owned),
        ..seed::token(SERVICE, value, TokenType::Access, client)
    }
}

async fn call(path: &LogoutPath, service_token: &str, api: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/{SERVICE}/{api}", path.gateway.base_url()))
        .bearer_auth(service_token)
        .json(&body)
        .send()
        .await
        .expect("the gateway answers");
    assert!(
        response.status().is_success(),
        "{api}: {}",
        response.status()
    );
    response.json().await.expect("a JSON answer")
}

/// Waits until every queued delivery has been handled.
async fn settle(path: &LogoutPath) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    while path.depth(&path.deliveries_url).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "deliveries pending");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn accepted<'a>(received: &'a [Value], client: &str) -> Vec<&'a Value> {
    received
        .iter()
        .filter(|r| r["client_id"] == client && r["accepted"] == true)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_logout_and_a_logout_all_reach_every_client_that_held_a_token() {
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    let service_token = seed::tenant(&db.store, SERVICE, None).await;
    for client in ["web", "mobile", "legacy", "bystander"] {
        seed::client(&db.store, SERVICE, client, true).await;
    }
    let path = LogoutPath::start(&db, &kms, SERVICE, Duration::from_secs(600)).await;
    // legacy registered no logout URI; bystander did, but never held alice's tokens.
    for client in ["web", "mobile", "bystander"] {
        listen(&db, &path, client).await;
    }
    seed::register(
        &db.store,
        vec![
            token("s1-web", "web", "alice", Some("s-1")),
            token("s1-mobile", "mobile", "alice", Some("s-1")),
            token("s1-legacy", "legacy", "alice", Some("s-1")),
            token("s2-web", "web", "alice", Some("s-2")),
            token("bob-web", "bystander", "bob", Some("s-3")),
        ],
    )
    .await;

    // One session ends: its clients hear of that session, with sid and sub.
    let answer = call(
        &path,
        &service_token,
        "nativesso/logout",
        json!({"sessionId": "s-1"}),
    )
    .await;
    assert_eq!(answer["count"], 3, "{answer}");
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            accepted(r, "web").len() == 1 && accepted(r, "mobile").len() == 1
        })
        .await;
    for client in ["web", "mobile"] {
        let token = accepted(&received, client)[0];
        assert_eq!(
            (&token["sid"], &token["sub"]),
            (&json!("s-1"), &json!("alice"))
        );
    }
    settle(&path).await;
    let received = path.receivers.received().await;
    assert_eq!(received.len(), 2, "only web and mobile: {received:#?}");
    assert!(received.iter().all(|r| r["accepted"] == true));

    // alice is logged out everywhere: each client that ever held one of her tokens hears
    // of it with sub alone (all her sessions there), bob's client does not.
    let answer = call(
        &path,
        &service_token,
        "auth/token/revoke",
        json!({"subject": "alice"}),
    )
    .await;
    assert_eq!(answer["resultCode"], "A312001", "{answer}");
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            accepted(r, "web").len() == 2 && accepted(r, "mobile").len() == 2
        })
        .await;
    for client in ["web", "mobile"] {
        let token = accepted(&received, client)[1];
        assert_eq!(token["sub"], "alice");
        assert!(token.get("sid").is_none_or(Value::is_null), "{token}");
    }
    settle(&path).await;
    let received = path.receivers.received().await;
    assert_eq!(received.len(), 4, "{received:#?}");
    assert!(path.receivers.received_by("bystander").await.is_empty());
    assert_eq!(path.depth(&path.undelivered_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_down_refusing_or_slow_each_get_what_is_theirs_and_hold_back_no_other() {
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    let service_token = seed::tenant(&db.store, SERVICE, None).await;
    let clients = ["down", "refusing", "slow", "fast", "also-fast"];
    for client in clients {
        seed::client(&db.store, SERVICE, client, true).await;
    }
    let path = LogoutPath::start(&db, &kms, SERVICE, Duration::from_secs(600)).await;
    for client in clients {
        listen(&db, &path, client).await;
    }
    path.receivers.answer("down", 503, Duration::ZERO).await;
    path.receivers.answer("refusing", 400, Duration::ZERO).await;
    path.receivers
        .answer("slow", 200, Duration::from_secs(10))
        .await;
    seed::register(
        &db.store,
        clients
            .iter()
            .map(|client| token(&format!("t-{client}"), client, "carol", Some("s-9")))
            .collect(),
    )
    .await;
    call(
        &path,
        &service_token,
        "nativesso/logout",
        json!({"sessionId": "s-9"}),
    )
    .await;

    // The slow receiver takes 10 s to answer; the others have theirs before it does.
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            ["fast", "also-fast"]
                .iter()
                .all(|c| accepted(r, c).len() == 1)
                && r.iter().any(|e| e["client_id"] == "slow")
        })
        .await;
    let slow = path
        .receivers
        .wait_until(WITHIN, |r| {
            r.iter()
                .any(|e| e["client_id"] == "slow" && e["answered_at_ms"].is_number())
        })
        .await;
    let slow_answered = slow
        .iter()
        .find(|e| e["client_id"] == "slow")
        .and_then(|e| e["answered_at_ms"].as_u64())
        .unwrap();
    for client in ["fast", "also-fast"] {
        let at = accepted(&received, client)[0]["at_ms"].as_u64().unwrap();
        assert!(
            at < slow_answered,
            "{client} received at {at}, after the slow receiver answered at {slow_answered}"
        );
    }

    // The receiver that is down gets retried with a fresh token each time; once it is
    // back, it has the logout, once.
    path.receivers
        .wait_until(WITHIN, |r| {
            r.iter().filter(|e| e["client_id"] == "down").count() >= 2
        })
        .await;
    path.receivers.answer("down", 200, Duration::ZERO).await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            r.iter()
                .any(|e| e["client_id"] == "down" && e["answered"] == 200)
        })
        .await;
    let attempts = accepted(&received, "down");
    assert!(attempts.len() >= 3, "{attempts:#?}");
    let mut ids: Vec<&str> = attempts
        .iter()
        .map(|e| e["jti"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), attempts.len(), "a fresh token per attempt");

    // The refusing receiver was asked once: a 400 is not retried, and waits for an
    // operator on the undelivered queue.
    settle(&path).await;
    let received = path.receivers.received().await;
    let delivered = |client: &str| {
        received
            .iter()
            .filter(|e| e["client_id"] == client && e["answered"] == 200)
            .count()
    };
    assert_eq!(path.receivers.received_by("refusing").await.len(), 1);
    for client in ["down", "slow", "fast", "also-fast"] {
        assert_eq!(delivered(client), 1, "{client}: {received:#?}");
    }
    assert_eq!(path.depth(&path.undelivered_url).await, 1);

    // The operator looks first: listing changes nothing, and leaves it to redeliver at once.
    let run = run_admin(&db, &["redeliver", "--list"], &path.admin_env()).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("waiting client refusing of tenant 5001")
            && run.stdout.contains("0 redelivered, 1 left"),
        "{}",
        run.stdout
    );
    // Fixed, the operator redelivers it with one command.
    path.receivers.answer("refusing", 204, Duration::ZERO).await;
    let run = run_admin(&db, &["redeliver"], &path.admin_env()).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("redelivered client refusing of tenant 5001")
            && run
                .stdout
                .contains("HTTP 400 (invalid_request), not retried")
            && run.stdout.contains("1 redelivered, 0 left"),
        "{}",
        run.stdout
    );
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            r.iter()
                .any(|e| e["client_id"] == "refusing" && e["answered"] == 204)
        })
        .await;
    assert!(accepted(&received, "refusing").len() == 2);
    settle(&path).await;
    assert_eq!(path.depth(&path.undelivered_url).await, 0);
}

#[tokio::test]
async fn a_delivery_attempt_is_claimed_once_and_a_lapsed_claim_again() {
    let db = TestDb::start().await;
    let hold = Duration::from_secs(120);
    let claim = |tenant: &'static str, attempt: &'static str, hold: Duration| {
        let store = &db.store;
        async move { store.claim_delivery(tenant, attempt, hold).await.unwrap() }
    };
    assert!(claim(SERVICE, "attempt-1", hold).await);
    // A second receipt of the same message, while the first sends, and after it finished.
    assert!(!claim(SERVICE, "attempt-1", hold).await);
    db.store
        .finish_delivery(SERVICE, "attempt-1")
        .await
        .unwrap();
    assert!(!claim(SERVICE, "attempt-1", hold).await);
    // Another tenant's attempt of the same identity is its own.
    assert!(claim("5002", "attempt-1", hold).await);
    // A sender that never finished (a crash): its claim lapses, and the attempt is sent.
    assert!(claim(SERVICE, "attempt-2", Duration::ZERO).await);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(claim(SERVICE, "attempt-2", hold).await);
    assert!(!claim(SERVICE, "attempt-2", hold).await);
}

/// The Shared Signals receivers an operator configured, as `signoff-admin ssf-receiver`
/// configures them.
async fn configure_ssf_receiver(
    db: &TestDb,
    path: &LogoutPath,
    id: &str,
    audience: &str,
    authorization: Option<&str>,
) {
    let endpoint = path.receivers.ssf_uri(id);
    let mut env = path.admin_env();
    if let Some(authorization) = authorization {
        env.push(("SIGNOFF_SSF_AUTHORIZATION".into(), authorization.into()));
    }
    let run = run_admin(
        db,
        &[
            "ssf-receiver",
            "--tenant",
            SERVICE,
            "--id",
            id,
            "--endpoint",
            &endpoint,
            "--audience",
            audience,
            "--allow-loopback",
        ],
        &env,
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("SSF receiver {id} of tenant {SERVICE}")),
        "{}",
        run.stdout
    );
}

fn sets<'a>(received: &'a [Value], receiver: &str) -> Vec<&'a Value> {
    received
        .iter()
        .filter(|r| r["receiver_id"] == receiver)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_signals_receivers_get_session_revoked_sets_and_a_verification() {
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    let service_token = seed::tenant(&db.store, SERVICE, None).await;
    seed::client(&db.store, SERVICE, "web", true).await;
    let path = LogoutPath::start(&db, &kms, SERVICE, Duration::from_secs(600)).await;
    const SECRET: &str = "Bearer ssf-push-credential-not-stored-in-clear";
    configure_ssf_receiver(&db, &path, "siem", "https://siem.example", Some(SECRET)).await;
    path.receivers
        .expect_sets("siem", "https://siem.example", Some(SECRET), None)
        .await;
    // A receiver configured with the wrong audience: it refuses every SET (400,
    // invalid_audience), which is not retried.
    configure_ssf_receiver(&db, &path, "misconfigured", "https://wrong.example", None).await;
    path.receivers
        .expect_sets("misconfigured", "https://right.example", None, None)
        .await;
    // A receiver that is down at first: its retry carries the same jti (one event).
    configure_ssf_receiver(&db, &path, "flaky", "https://flaky.example", None).await;
    path.receivers
        .expect_sets("flaky", "https://flaky.example", None, Some(503))
        .await;
    // Configured again without a header, siem keeps the one it has.
    configure_ssf_receiver(&db, &path, "siem", "https://siem.example", None).await;
    // The authorization header is stored sealed: not in the clear anywhere in the item.
    let raw = format!(
        "{:?}",
        db.store
            .client()
            .scan()
            .table_name(db.store.table_name())
            .send()
            .await
            .unwrap()
            .items()
    );
    assert!(raw.contains("siem.example") && !raw.contains("ssf-push-credential"));

    // The transmitter's metadata names the issuer (Signoff's public URL, under which it is
    // served, as every SET's iss: the receiver checks both), the keys and push delivery.
    let metadata: Value = reqwest::get(format!(
        "{}/.well-known/ssf-configuration",
        path.gateway.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        metadata,
        json!({
            "spec_version": "1_0",
            "issuer": signoff_tests::backchannel::SSF_ISSUER,
            "jwks_uri": "https://signoff.example/.well-known/jwks.json",
            "delivery_methods_supported": ["urn:ietf:rfc:8935"],
            "critical_subject_members": ["tenant"],
        })
    );

    seed::register(
        &db.store,
        vec![
            token("s1-web", "web", "alice", Some("s-1")),
            token("s2-web", "web", "alice", Some("s-2")),
        ],
    )
    .await;
    // One session ends: session-revoked naming alice, the session and the tenant.
    call(
        &path,
        &service_token,
        "nativesso/logout",
        json!({"sessionId": "s-1"}),
    )
    .await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| !sets(r, "siem").is_empty())
        .await;
    let set = sets(&received, "siem")[0];
    assert_eq!(set["accepted"], true, "{set}");
    assert_eq!(set["answered"], 202);
    let received = path
        .receivers
        .wait_until(WITHIN, |r| !sets(r, "flaky").is_empty())
        .await;
    assert_eq!(sets(&received, "flaky")[0]["answered"], 503);
    path.receivers
        .expect_sets("flaky", "https://flaky.example", None, None)
        .await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            sets(r, "flaky").iter().any(|s| s["answered"] == 202)
        })
        .await;
    let flaky = sets(&received, "flaky");
    assert!(
        flaky
            .iter()
            .all(|s| s["accepted"] == true && s["jti"] == flaky[0]["jti"]),
        "{flaky:#?}"
    );
    assert_ne!(
        flaky[0]["jti"], set["jti"],
        "each receiver's SET is its own event"
    );
    assert_eq!(
        (&set["event"], &set["user"], &set["session"], &set["tenant"]),
        (
            &json!("session-revoked"),
            &json!("alice"),
            &json!("s-1"),
            &json!(SERVICE)
        )
    );
    // alice logged out everywhere: session-revoked with no session.
    call(
        &path,
        &service_token,
        "auth/token/revoke",
        json!({"subject": "alice"}),
    )
    .await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| sets(r, "siem").len() == 2)
        .await;
    let set = sets(&received, "siem")[1];
    assert_eq!(set["accepted"], true, "{set}");
    assert_eq!(
        (&set["user"], &set["session"]),
        (&json!("alice"), &Value::Null)
    );

    // The operator checks the stream: a verification event with the state it chose.
    let run = run_admin(
        &db,
        &[
            "ssf-verify",
            "--tenant",
            SERVICE,
            "--id",
            "siem",
            "--state",
            "check-42",
        ],
        &path.admin_env(),
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    let received = path
        .receivers
        .wait_until(WITHIN, |r| sets(r, "siem").len() == 3)
        .await;
    let set = sets(&received, "siem")[2];
    assert_eq!(
        (
            &set["accepted"],
            &set["event"],
            &set["stream"],
            &set["state"]
        ),
        (
            &json!(true),
            &json!("verification"),
            &json!("siem"),
            &json!("check-42")
        ),
        "{set}"
    );

    // The misconfigured receiver refused both SETs once each: kept undelivered with the
    // error it named, for the operator.
    settle(&path).await;
    let received = path.receivers.received().await;
    let refused = sets(&received, "misconfigured");
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(refused.iter().all(|r| r["answered"] == 400));
    assert_eq!(path.depth(&path.undelivered_url).await, 2);
    let run = run_admin(&db, &["redeliver", "--list"], &path.admin_env()).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("waiting SSF receiver misconfigured of tenant 5001")
            && run.stdout.contains("HTTP 400 (invalid_audience")
            && run.stdout.contains("not retried"),
        "{}",
        run.stdout
    );
    // No client had a logout URI: the receivers were the only ones told.
    assert!(received.iter().all(|r| r["client_id"].is_null()));

    // A write that points siem elsewhere (any role that may update the table could make
    // one) does not take its authorization header along: the header is sealed to its
    // endpoint, does not open for the new one, and the event waits undelivered.
    let attacker = path.receivers.ssf_uri("attacker");
    db.store
        .client()
        .update_item()
        .table_name(db.store.table_name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(signoff_store::item_key::compose(&[
                "ssf", SERVICE,
            ])),
        )
        .update_expression("SET receivers.siem.endpoint = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S(attacker))
        .send()
        .await
        .unwrap();
    let run = run_admin(
        &db,
        &["ssf-verify", "--tenant", SERVICE, "--id", "siem"],
        &path.admin_env(),
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    let deadline = tokio::time::Instant::now() + WITHIN;
    while path.depth(&path.undelivered_url).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not kept undelivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sets(&path.receivers.received().await, "attacker").is_empty());
    let run = run_admin(
        &db,
        &["redeliver", "--list", "--ssf-receiver", "siem"],
        &path.admin_env(),
    )
    .await;
    assert!(
        run.stdout.contains("authorization header does not open"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn ssf_receivers_are_kept_per_tenant_replaced_by_id_removed_and_bounded() {
    use signoff_jose::security_event::SESSION_REVOKED_EVENT;
    use signoff_store::credentials::ProvisionError;
    use signoff_store::ssf::{SsfReceiver, MAX_RECEIVERS};
    let db = TestDb::start().await;
    seed::tenant(&db.store, SERVICE, None).await;
    let events = [SESSION_REVOKED_EVENT.to_owned()];
    let receiver = |id: &str, audience: &str| {
        SsfReceiver::new(
            id,
            &format!("https://{id}.example/events"),
            Reach::Public,
            audience,
            &events,
            None,
        )
        .unwrap()
    };
    assert!(matches!(
        db.store
            .put_ssf_receiver("no-such-tenant", &receiver("a", "x"))
            .await,
        Err(ProvisionError::NoSuchTenant(_))
    ));
    // Two operators adding receivers at once: both land (the first write makes the item).
    let (first, second) = (receiver("a", "aud-a"), receiver("b", "aud-b"));
    let (a, b) = tokio::join!(
        db.store.put_ssf_receiver(SERVICE, &first),
        db.store.put_ssf_receiver(SERVICE, &second),
    );
    a.unwrap();
    b.unwrap();
    // Replaced by id.
    db.store
        .put_ssf_receiver(SERVICE, &receiver("a", "aud-a2"))
        .await
        .unwrap();
    let stored = db.store.ssf_receivers(SERVICE).await.unwrap();
    let audiences: Vec<(&str, &str)> = stored
        .iter()
        .map(|r| (r.id.as_str(), r.audience.as_str()))
        .collect();
    assert_eq!(audiences, [("a", "aud-a2"), ("b", "aud-b")]);
    assert!(stored[0].wants(SESSION_REVOKED_EVENT));
    assert!(db.store.ssf_receivers("other").await.unwrap().is_empty());
    assert!(db.store.remove_ssf_receiver(SERVICE, "b").await.unwrap());
    assert!(!db.store.remove_ssf_receiver(SERVICE, "b").await.unwrap());
    assert!(!db.store.remove_ssf_receiver("other", "b").await.unwrap());
    assert_eq!(db.store.ssf_receiver(SERVICE, "b").await.unwrap(), None);
    // Bounded: every logout of the tenant queues one delivery per receiver.
    for n in 1..MAX_RECEIVERS {
        db.store
            .put_ssf_receiver(SERVICE, &receiver(&format!("r{n}"), "x"))
            .await
            .unwrap();
    }
    let refused = db
        .store
        .put_ssf_receiver(SERVICE, &receiver("one-too-many", "x"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("at most 20"), "{refused}");
    // Replacing one of the twenty is still allowed.
    db.store
        .put_ssf_receiver(SERVICE, &receiver("a", "aud-a3"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sealed_authorization_header_opens_only_for_its_receiver() {
    use signoff_store::ssf::authorization_context;
    let kms = TestKms::start().await;
    kms.create_secrets_key("alias/secrets").await;
    let secrets = signoff_kms::SecretBox::new(kms.client.clone(), "alias/secrets".into());
    let endpoint = "https://siem.example/events";
    let sealed = secrets
        .seal("Bearer abc", &authorization_context("t1", "siem", endpoint))
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("Bearer abc"));
    assert_eq!(
        secrets
            .open(&sealed, &authorization_context("t1", "siem", endpoint))
            .await
            .unwrap(),
        "Bearer abc"
    );
    // Copied onto another receiver or tenant, or the receiver pointed elsewhere, it does
    // not open, and retrying will not help.
    for (tenant, receiver, endpoint) in [
        ("t1", "other", endpoint),
        ("t2", "siem", endpoint),
        ("t1", "siem", "https://attacker.example/events"),
    ] {
        let err = secrets
            .open(&sealed, &authorization_context(tenant, receiver, endpoint))
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutoffs_reach_the_client_concerned_and_the_shared_signals_receivers() {
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    seed::tenant(&db.store, SERVICE, None).await;
    for client in ["web", "mobile"] {
        seed::client(&db.store, SERVICE, client, true).await;
    }
    let path = LogoutPath::start(&db, &kms, SERVICE, Duration::from_secs(600)).await;
    for client in ["web", "mobile"] {
        listen(&db, &path, client).await;
    }
    configure_ssf_receiver(&db, &path, "siem", "https://siem.example", None).await;
    path.receivers
        .expect_sets("siem", "https://siem.example", None, None)
        .await;
    seed::register(
        &db.store,
        vec![
            token("web-1", "web", "alice", Some("s-1")),
            token("mobile-1", "mobile", "alice", Some("s-2")),
        ],
    )
    .await;
    let cut_off = |args: &'static [&'static str]| {
        let db = &db;
        async move {
            let mut all = vec!["cut-off", "--tenant", SERVICE];
            all.extend_from_slice(args);
            let run = run_admin(db, &all, &[]).await;
            assert!(run.ok, "{}", run.stderr);
        }
    };

    // alice removes web's access: web hears of it with sub alone (all her sessions there),
    // mobile does not; the receiver hears of alice's sessions at web.
    cut_off(&["--client-id", "web", "--subject", "alice"]).await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            accepted(r, "web").len() == 1 && sets(r, "siem").len() == 1
        })
        .await;
    let token = accepted(&received, "web")[0];
    assert_eq!(
        (&token["sub"], &token["sid"]),
        (&json!("alice"), &Value::Null)
    );
    let set = sets(&received, "siem")[0];
    assert_eq!(set["accepted"], true, "{set}");
    assert_eq!(
        (
            &set["user"],
            &set["application"],
            &set["session"],
            &set["tenant"]
        ),
        (
            &json!("alice"),
            &json!("web"),
            &Value::Null,
            &json!(SERVICE)
        )
    );

    // mobile is cut off: no logout token can say "every session at this client", so only
    // the receiver hears of it; then the whole tenant, once (not once per copy).
    cut_off(&["--client-id", "mobile"]).await;
    cut_off(&["--whole-tenant"]).await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| sets(r, "siem").len() == 3)
        .await;
    let client = sets(&received, "siem")[1];
    assert_eq!(client["accepted"], true, "{client}");
    assert_eq!(
        (&client["user"], &client["application"]),
        (&Value::Null, &json!("mobile"))
    );
    let tenant = sets(&received, "siem")[2];
    assert_eq!(tenant["accepted"], true, "{tenant}");
    assert_eq!(
        (&tenant["user"], &tenant["application"], &tenant["tenant"]),
        (&Value::Null, &Value::Null, &json!(SERVICE))
    );
    settle(&path).await;
    let received = path.receivers.received().await;
    assert_eq!(sets(&received, "siem").len(), 3, "{received:#?}");
    assert_eq!(path.receivers.received_by("web").await.len(), 1);
    assert!(path.receivers.received_by("mobile").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revocation_reaches_each_client_of_each_session_on_the_device() {
    use signoff_store::model::DeviceBinding;
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    seed::tenant(&db.store, SERVICE, None).await;
    for client in ["web", "mobile", "bystander"] {
        seed::client(&db.store, SERVICE, client, true).await;
    }
    let path = LogoutPath::start(&db, &kms, SERVICE, Duration::from_secs(600)).await;
    for client in ["web", "mobile", "bystander"] {
        listen(&db, &path, client).await;
    }
    configure_ssf_receiver(&db, &path, "siem", "https://siem.example", None).await;
    path.receivers
        .expect_sets("siem", "https://siem.example", None, None)
        .await;
    let on_device = |value: &str, client: &str, session: &str, device: &str| TokenRecord {
        device: Some(DeviceBinding {
            device_id: device.into(),
            user_store: "corp".into(),
            user_dn: "cn=alice,o=corp".into(),
        }),
        ..token(value, client, "alice", Some(session))
    };
    seed::register(
        &db.store,
        vec![
            on_device("web-1", "web", "s-1", "laptop"),
            on_device("web-2", "web", "s-1", "laptop"),
            on_device("mobile-1", "mobile", "s-2", "laptop"),
            // alice's phone is not revoked.
            on_device("phone-1", "bystander", "s-3", "phone"),
        ],
    )
    .await;

    let report = db
        .store
        .revoke_device(SERVICE, "laptop", "corp", "cn=alice,o=corp")
        .await
        .unwrap()
        .expect("the laptop had tokens");
    assert_eq!(report.deleted, 3);
    let received = path
        .receivers
        .wait_until(WITHIN, |r| {
            accepted(r, "web").len() == 1
                && accepted(r, "mobile").len() == 1
                && sets(r, "siem").len() == 1
        })
        .await;
    let sid = |client: &str| accepted(&received, client)[0]["sid"].clone();
    assert_eq!((sid("web"), sid("mobile")), (json!("s-1"), json!("s-2")));
    assert_eq!(accepted(&received, "web")[0]["sub"], "alice");
    let set = sets(&received, "siem")[0];
    assert_eq!(set["accepted"], true, "{set}");
    assert_eq!(
        (
            &set["user"],
            &set["device"],
            &set["session"],
            &set["tenant"]
        ),
        (
            &json!("alice"),
            &json!("laptop"),
            &Value::Null,
            &json!(SERVICE)
        )
    );
    settle(&path).await;
    assert!(path.receivers.received_by("bystander").await.is_empty());
    assert_eq!(path.receivers.received().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_over_https_gets_its_logout_through_tls_trusting_the_configured_roots() {
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    let service_token = seed::tenant(&db.store, SERVICE, None).await;
    seed::client(&db.store, SERVICE, "web", true).await;
    let ca = signoff_tests::backchannel::TestCa::create().await;
    let path =
        LogoutPath::start_with(&db, &kms, SERVICE, Duration::from_secs(600), Some(&ca)).await;
    // https://localhost:<port>: the name is resolved (to loopback, allowed here), the
    // certificate checked against the one authority the delivery trusts, for that name.
    let uri = path.receivers.https_uri("web");
    assert!(uri.starts_with("https://localhost:"), "{uri}");
    let logout = BackchannelLogout::new(&uri, false, Reach::Loopback).unwrap();
    db.store
        .set_backchannel_logout(SERVICE, "web", Some(&logout))
        .await
        .unwrap();
    seed::register(&db.store, vec![token("web-1", "web", "alice", Some("s-1"))]).await;
    call(
        &path,
        &service_token,
        "nativesso/logout",
        json!({"sessionId": "s-1"}),
    )
    .await;
    let received = path
        .receivers
        .wait_until(WITHIN, |r| accepted(r, "web").len() == 1)
        .await;
    assert_eq!(accepted(&received, "web")[0]["sid"], "s-1");
    settle(&path).await;
    assert_eq!(path.depth(&path.undelivered_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_too_close_to_the_deadline_is_queued_again_not_started() {
    use signoff_backchannel::settings::DeliverySettings;
    use signoff_queue::logouts::{LogoutDelivery, LogoutQueues};
    use signoff_store::audiences::Logout;
    let db = TestDb::start_with_stream().await;
    let kms = TestKms::start().await;
    seed::tenant(&db.store, SERVICE, None).await;
    seed::client(&db.store, SERVICE, "web", true).await;
    let path = LogoutPath::start(&db, &kms, SERVICE, Duration::from_secs(600)).await;
    listen(&db, &path, "web").await;
    // The delivery function, called as Lambda would with 10 s left: less than one POST's
    // timeout (15 s) and the margin.
    let sdk = signoff_tests::queue::local_sdk(&path.sqs_endpoint).await;
    let env = [
        ("SIGNOFF_REVOCATION_TENANT", SERVICE),
        ("SIGNOFF_ISSUER", signoff_tests::backchannel::ISSUER),
        (
            "SIGNOFF_SIGNING_KEY_ID",
            signoff_tests::backchannel::KEY_ALIAS,
        ),
        ("SIGNOFF_LOGOUT_QUEUE_URL", &path.deliveries_url),
        ("SIGNOFF_UNDELIVERED_QUEUE_URL", &path.undelivered_url),
    ];
    let settings =
        DeliverySettings::from_lookup(&sdk, &signoff_store::config::lookup_in(&env)).unwrap();
    // This sender may not reach loopback receivers (as deployed): an attempt it made
    // would be refused and kept undelivered; one the running delivery makes arrives.
    let sender = signoff_backchannel::sender::Sender::new(settings.timeout, false).unwrap();
    let queues = LogoutQueues {
        deliveries: signoff_queue::Queue::new(&sdk, path.deliveries_url.clone()),
        undelivered: signoff_queue::Queue::new(&sdk, path.undelivered_url.clone()),
    };
    let delivery = |subject: &str| {
        let logout = Logout::User {
            tenant: SERVICE.into(),
            subject: subject.into(),
            at: signoff_store::now_epoch_seconds(),
        };
        LogoutDelivery::for_clients(&logout, &["web".into()])
            .remove(0)
            .body()
    };
    let invoke = |body: String, left_ms: u64| {
        let (db, queues, sender, settings) = (&db, &queues, &sender, &settings);
        let event: signoff_queue::SqsEvent = serde_json::from_value(json!({"Records": [
            {"messageId": "m-1", "receiptHandle": "r-1", "body": body}
        ]}))
        .unwrap();
        let mut context = lambda_http::lambda_runtime::Context::default();
        context.deadline = signoff_store::now_epoch_millis() as u64 + left_ms;
        async move {
            signoff_backchannel::deliver::handle(
                &db.store,
                queues,
                sender,
                settings,
                lambda_http::lambda_runtime::LambdaEvent::new(event, context),
            )
            .await
            .unwrap()
        }
    };
    // A minute left: attempted here (and refused: loopback), kept undelivered.
    assert!(invoke(delivery("bob"), 60_000)
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(path.depth(&path.undelivered_url).await, 1);
    // Ten seconds left: less than one POST's timeout (15 s) and the margin. Not attempted
    // here: queued again, and the running delivery (as Lambda's next invocation) sends it,
    // once.
    assert!(invoke(delivery("alice"), 10_000)
        .await
        .batch_item_failures
        .is_empty());
    let received = path
        .receivers
        .wait_until(WITHIN, |r| accepted(r, "web").len() == 1)
        .await;
    assert_eq!(accepted(&received, "web")[0]["sub"], "alice");
    settle(&path).await;
    assert_eq!(path.receivers.received_by("web").await.len(), 1);
    assert_eq!(path.depth(&path.undelivered_url).await, 1);
}
