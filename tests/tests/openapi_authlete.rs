//! `docs/openapi.yaml` held to what the functions answer: Authlete's native SSO logout and
//! the token registration beside it, through the real handlers (requests as API Gateway
//! sends them), against a fresh embedded DynamoDB emulator, a missing table and an
//! unreachable store. Every documented status and closed set of codes of these operations
//! must be provoked here (see `signoff_tests::openapi`).

use serde_json::json;
use signoff_revoke::settings::DeviceRevocationAuth;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_tests::openapi::{
    event, fresh_db, future, request, revocation_config, Api, Recorder, Spec, AUTHLETE, FORM_TYPE,
    JSON_TYPE,
};
use signoff_tests::queue::TestQueue;
use signoff_tests::seed;

async fn native_sso_and_registration(rec: &mut Recorder) {
    let db = fresh_db().await;
    let token = seed::tenant(&db.store, "100", Some("acme")).await;
    let org = seed::organization_token(&db.store, "acme").await;
    let other = seed::tenant(&db.store, "200", None).await;
    seed::session_tokens(&db.store, "100", "s1", 3, "t").await;
    let revocation = revocation_config("100", DeviceRevocationAuth::Client, "");
    let api = Api::new(&db.store, revocation);
    let logout = "/api/100/nativesso/logout";
    let bearer = format!("Bearer {token}");
    let auth = ("authorization", bearer.as_str());
    let post =
        |path: &str, headers: &[(&str, &str)], body: &str| request("POST", path, headers, body);

    // Native SSO logout.
    let x = rec
        .expect(
            &api,
            post(logout, &[auth, JSON_TYPE], r#"{"sessionId":"s1"}"#),
            200,
        )
        .await;
    assert_eq!(x.json()["count"], 3);
    let org_bearer = format!("Bearer {org}");
    rec.expect(
        &api,
        post(
            logout,
            &[("authorization", &org_bearer), JSON_TYPE],
            r#"{"sessionId":"unknown"}"#,
        ),
        200,
    )
    .await;
    let long = format!(r#"{{"sessionId":"{}"}}"#, "x".repeat(257));
    let large = format!(r#"{{"sessionId":"s","pad":"{}"}}"#, "x".repeat(9000));
    for (headers, body, code) in [
        (&[auth, JSON_TYPE][..], "{}", "A503201"),
        (&[auth, JSON_TYPE], r#"{"sessionId":5}"#, "A503202"),
        (&[auth, JSON_TYPE], r#"{"sessionId":""}"#, "A503203"),
        (&[auth, JSON_TYPE], long.as_str(), "A503204"),
        (&[auth, JSON_TYPE], r#"{"sessionId":"a\u0001b"}"#, "A503205"),
        (&[auth, JSON_TYPE], "{", "A503206"),
        (&[auth, JSON_TYPE], "[]", "A503207"),
        (
            &[auth, ("content-type", "text/plain")],
            r#"{"sessionId":"s"}"#,
            "A503208",
        ),
        (&[auth, JSON_TYPE], large.as_str(), "A503209"),
    ] {
        let x = rec.expect(&api, post(logout, headers, body), 400).await;
        assert_eq!(x.json()["resultCode"], code);
    }
    let body = r#"{"sessionId":"s1"}"#;
    for (authorization, status, code) in [
        (None, 401, "A001202"),
        (Some("Bearer sgn_sat_unknown"), 401, "A001203"),
        (Some("Basic dXNlcjpwYXNz"), 401, "A001204"),
        (Some("DPoP abc"), 401, "A001204"),
    ] {
        let headers: Vec<_> = authorization
            .map(|a| ("authorization", a))
            .into_iter()
            .chain([JSON_TYPE])
            .collect();
        let x = rec.expect(&api, post(logout, &headers, body), status).await;
        assert_eq!(x.json()["resultCode"], code);
    }
    let other_bearer = format!("Bearer {other}");
    rec.expect(
        &api,
        post(logout, &[("authorization", &other_bearer), JSON_TYPE], body),
        403,
    )
    .await;

    // Token registration.
    let tokens = "/signoff/v1/tenants/100/tokens";
    let one = json!({"token": "r1", "type": "refresh", "clientId": "app", "subject": "alice",
        "sessionId": "live", "grantId": "g1", "issuedAt": signoff_store::now_epoch_seconds() - 60, "expiresAt": future()});
    rec.expect(
        &api,
        post(tokens, &[auth, JSON_TYPE], &one.to_string()),
        200,
    )
    .await;
    let batch = json!({"tokens": [
        {"tokenHash": signoff_store::item_key::TokenHash::of("a1").encoded(), "type": "access", "clientId": "app",
         "deviceId": "d1", "userStore": "Local", "userDn": "cn=alice", "expiresAt": future()},
        {"token": "a2", "type": "access", "clientId": "app", "expiresAt": future()},
    ]});
    let x = rec
        .expect(
            &api,
            post(tokens, &[auth, JSON_TYPE], &batch.to_string()),
            200,
        )
        .await;
    assert_eq!(x.json()["registered"], 2);
    let misspelt = json!({"token": "r2", "type": "refresh", "clientId": "app",
        "sessionID": "s", "expiresAt": future()});
    rec.expect(
        &api,
        post(tokens, &[auth, JSON_TYPE], &misspelt.to_string()),
        400,
    )
    .await;
    rec.expect(&api, post(tokens, &[JSON_TYPE], &one.to_string()), 401)
        .await;
    rec.expect(
        &api,
        post(
            tokens,
            &[("authorization", "Bearer sgn_sat_unknown"), JSON_TYPE],
            &one.to_string(),
        ),
        401,
    )
    .await;
    rec.expect(
        &api,
        post(
            tokens,
            &[("authorization", &other_bearer), JSON_TYPE],
            &one.to_string(),
        ),
        403,
    )
    .await;
    // "s1" was logged out above.
    let late = json!({"token": "late", "type": "access", "clientId": "app", "sessionId": "s1",
        "expiresAt": future()});
    let x = rec
        .expect(
            &api,
            post(tokens, &[auth, JSON_TYPE], &late.to_string()),
            409,
        )
        .await;
    assert_eq!(x.json()["sessions"], json!(["s1"]));

    // Store trouble: a missing table (500) and an unreachable store (500 or 503, retryable).
    let trouble = [
        (event("POST", logout, &[auth, JSON_TYPE], body), 500, 500),
        (
            event("POST", tokens, &[auth, JSON_TYPE], &one.to_string()),
            500,
            503,
        ),
    ];
    rec.expect_store_trouble(&api, &trouble).await;
}

/// Authlete's token management APIs: every documented status and code.
async fn token_management(rec: &mut Recorder) {
    let db = fresh_db().await;
    let token = seed::tenant(&db.store, "100", None).await;
    let other = seed::tenant(&db.store, "200", None).await;
    let mut records: Vec<TokenRecord> = (0..30)
        .map(|i| seed::token("100", &format!("alice-{i}"), TokenType::Access, "web"))
        .collect();
    records.push(seed::grant_token(
        "100",
        "pair-at",
        TokenType::Access,
        "web",
        "g",
    ));
    records.push(seed::grant_token(
        "100",
        "pair-rt",
        TokenType::Refresh,
        "web",
        "g",
    ));
    records.extend((0..30).map(|i| TokenRecord {
        subject: Some("bob".into()),
        ..seed::token("100", &format!("bob-{i}"), TokenType::Access, "mobile")
    }));
    seed::register(&db.store, records).await;
    let mut api = Api::new(
        &db.store,
        revocation_config("100", DeviceRevocationAuth::Client, ""),
    );
    let bearer = format!("Bearer {token}");
    let auth = ("authorization", bearer.as_str());
    let other_bearer = format!("Bearer {other}");
    let revoke = "/api/100/auth/token/revoke";
    let list = "/api/100/auth/token/get/list";

    // /auth/token/get/list, before anything is revoked: a subject's, a client's, the
    // service's tokens, the unusable ones, and every refusal.
    for (query, total) in [
        ("subject=alice&start=30&end=40", 32),
        ("clientIdentifier=mobile", 30),
        ("", 62),
        ("subject=bob&clientIdentifier=web&tokenStatus=INVALID", 0),
    ] {
        let x = rec
            .expect(
                &api,
                request("GET", &format!("{list}?{query}"), &[auth], ""),
                200,
            )
            .await;
        assert_eq!(x.json()["totalCount"], total, "{query}");
    }
    let long_subject = "s".repeat(257);
    api.settings.authlete.list_limit = 40;
    for (query, code) in [
        (format!("subject={long_subject}"), "A138204"),
        ("subject=a%01b".to_owned(), "A138205"),
        ("subject=a&subject=b".to_owned(), "A138214"),
        ("start=-1".to_owned(), "A138215"),
        ("start=2&end=1".to_owned(), "A138215"),
        ("tokenStatus=NONE".to_owned(), "A138216"),
        (String::new(), "A138217"),
    ] {
        let x = rec
            .expect(
                &api,
                request("GET", &format!("{list}?{query}"), &[auth], ""),
                400,
            )
            .await;
        assert_eq!(x.json()["resultCode"], code, "{query}");
    }
    api.settings.authlete.list_limit = signoff_nativesso::DEFAULT_TOKEN_LIST_MAX_RECORDS;

    // /auth/token/revoke: one token by value (JSON) and by hash (form), a client and
    // subject, a client, a subject.
    for (headers, body, count) in [
        (
            &[auth, JSON_TYPE][..],
            r#"{"accessTokenIdentifier":"pair-at"}"#.to_owned(),
            2,
        ),
        (
            &[auth, FORM_TYPE],
            format!(
                "refreshTokenIdentifier={}",
                signoff_store::item_key::TokenHash::of("alice-0").encoded()
            ),
            1,
        ),
        (
            &[auth, JSON_TYPE],
            r#"{"clientIdentifier":"web","subject":"alice","accessTokenIdentifier":null}"#
                .to_owned(),
            29,
        ),
        (&[auth, FORM_TYPE], "clientIdentifier=web".to_owned(), 0),
        (&[auth, JSON_TYPE], r#"{"subject":"nobody"}"#.to_owned(), 0),
    ] {
        let x = rec
            .expect(&api, request("POST", revoke, headers, &body), 200)
            .await;
        assert_eq!(x.json()["count"], count, "{body}");
    }
    let long = format!(r#"{{"subject":"{}"}}"#, "s".repeat(257));
    let large = format!(r#"{{"subject":"s","pad":"{}"}}"#, "x".repeat(9000));
    for (headers, body, code) in [
        (&[auth, JSON_TYPE][..], "{}", "A312201"),
        (&[auth, JSON_TYPE], r#"{"subject":true}"#, "A312202"),
        (&[auth, JSON_TYPE], long.as_str(), "A312204"),
        (&[auth, FORM_TYPE], "subject=a%01b", "A312205"),
        (&[auth, JSON_TYPE], "{", "A312206"),
        (&[auth, JSON_TYPE], "[]", "A312207"),
        (
            &[auth, ("content-type", "text/plain")],
            "subject=bob",
            "A312208",
        ),
        (&[auth, JSON_TYPE], large.as_str(), "A312209"),
        (&[auth, FORM_TYPE], "subject=a&subject=b", "A312214"),
    ] {
        let x = rec
            .expect(&api, request("POST", revoke, headers, body), 400)
            .await;
        assert_eq!(x.json()["resultCode"], code, "{body}");
    }

    // /auth/token/delete/{id}.
    let delete = |id: &str| format!("/api/100/auth/token/delete/{id}");
    rec.expect(&api, request("DELETE", &delete("bob-0"), &[auth], ""), 204)
        .await;
    rec.expect(&api, request("DELETE", &delete("bob-0"), &[auth], ""), 404)
        .await;
    let long_token = "t".repeat(4097);
    for (id, code) in [(long_token.as_str(), "A136204"), ("a%01b", "A136205")] {
        let x = rec
            .expect(&api, request("DELETE", &delete(id), &[auth], ""), 400)
            .await;
        assert_eq!(x.json()["resultCode"], code);
    }

    // /client/authorization/delete/{clientId}, both forms.
    let authorization = "/api/100/client/authorization/delete";
    let x = rec
        .expect(
            &api,
            request(
                "DELETE",
                &format!("{authorization}/mobile?subject=bob"),
                &[auth],
                "",
            ),
            200,
        )
        .await;
    assert!(x.json()["resultMessage"]
        .as_str()
        .unwrap()
        .contains("Deleted 29 token record(s)"));
    rec.expect(
        &api,
        request(
            "DELETE",
            &format!("{authorization}/mobile/bob"),
            &[auth],
            "",
        ),
        200,
    )
    .await;
    let long_id = "c".repeat(257);
    for (target, code) in [
        (format!("{authorization}/mobile"), "A137201"),
        (format!("{authorization}/{long_id}?subject=bob"), "A137204"),
        (format!("{authorization}/mobile?subject=a%01b"), "A137205"),
        (
            format!("{authorization}/mobile?subject=a&subject=b"),
            "A137214",
        ),
    ] {
        let x = rec
            .expect(&api, request("DELETE", &target, &[auth], ""), 400)
            .await;
        assert_eq!(x.json()["resultCode"], code, "{target}");
    }
    for (target, code) in [
        (format!("{authorization}/{long_id}/bob"), "A137204"),
        (format!("{authorization}/mobile/a%01b"), "A137205"),
    ] {
        let x = rec
            .expect(&api, request("DELETE", &target, &[auth], ""), 400)
            .await;
        assert_eq!(x.json()["resultCode"], code, "{target}");
    }

    // Credentials, on every operation.
    let targets = [
        ("POST", revoke.to_owned()),
        ("DELETE", delete("x")),
        ("DELETE", format!("{authorization}/web?subject=alice")),
        ("DELETE", format!("{authorization}/web/alice")),
        ("GET", format!("{list}?subject=alice")),
    ];
    for (method, target) in &targets {
        for (authorization, status) in [
            (None, 401),
            (Some("Bearer sgn_sat_unknown"), 401),
            (Some("Basic dXNlcjpwYXNz"), 401),
            (Some(other_bearer.as_str()), 403),
        ] {
            let headers: Vec<_> = authorization
                .map(|a| ("authorization", a))
                .into_iter()
                .chain([JSON_TYPE])
                .collect();
            rec.expect(
                &api,
                request(method, target, &headers, r#"{"subject":"alice"}"#),
                status,
            )
            .await;
        }
    }

    // The purge cannot be queued: the tokens are cut off, the caller told to retry.
    api.settings.authlete.handoff = Some(signoff_queue::Handoff {
        queue: TestQueue::queue_at("http://127.0.0.1:9", "http://127.0.0.1:9/000000000000/none")
            .await,
        inline: std::time::Duration::ZERO,
    });
    for (method, target, body, code) in [
        (
            "POST",
            revoke.to_owned(),
            r#"{"clientIdentifier":"web"}"#,
            "A312103",
        ),
        (
            "DELETE",
            format!("{authorization}/web?subject=alice"),
            "",
            "A137103",
        ),
        (
            "DELETE",
            format!("{authorization}/web/alice"),
            "",
            "A137103",
        ),
    ] {
        let x = rec
            .expect(
                &api,
                request(method, &target, &[auth, JSON_TYPE], body),
                500,
            )
            .await;
        assert_eq!(x.json()["resultCode"], code);
        assert_eq!(x.header("retry-after"), Some("1"));
    }
    api.settings.authlete.handoff = None;

    // Store trouble: a missing table (500) and an unreachable store (500, retryable).
    let trouble: Vec<_> = [
        ("POST", revoke.to_owned(), r#"{"subject":"alice"}"#),
        ("DELETE", delete("alice-1"), ""),
        ("DELETE", format!("{authorization}/web?subject=alice"), ""),
        ("DELETE", format!("{authorization}/web/alice"), ""),
        ("GET", format!("{list}?subject=alice"), ""),
    ]
    .into_iter()
    .map(|(method, target, body)| (event(method, &target, &[auth, JSON_TYPE], body), 500, 500))
    .collect();
    rec.expect_store_trouble(&api, &trouble).await;
}

/// Authlete's logout token API: every documented status and code.
async fn logout_tokens(rec: &mut Recorder) {
    use aws_sdk_kms::types::KeySpec;
    use signoff_kms::KeySet;
    use signoff_nativesso::LogoutTokens;
    use signoff_store::backchannel::{BackchannelLogout, Reach};
    use std::sync::Arc;

    let db = fresh_db().await;
    let token = seed::tenant(&db.store, "100", None).await;
    let other = seed::tenant(&db.store, "200", None).await;
    for client in ["web", "native"] {
        seed::client(&db.store, "100", client, true).await;
    }
    let required =
        BackchannelLogout::new("https://native.example/bcl", true, Reach::Public).unwrap();
    db.store
        .set_backchannel_logout("100", "native", Some(&required))
        .await
        .unwrap();
    let kms = signoff_tests::kms::TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff").await;
    let signer = |client: aws_sdk_kms::Client, key: &str| {
        Some(LogoutTokens {
            issuer: "https://as.example".into(),
            tenant: "100".into(),
            keys: Arc::new(KeySet::new(client, key.into(), vec![])),
        })
    };
    let mut api = Api::new(
        &db.store,
        revocation_config("100", DeviceRevocationAuth::Client, ""),
    );
    api.settings.authlete.logout_tokens = signer(kms.client.clone(), "alias/signoff");
    let path = "/api/100/backchannel/logout/token";
    let bearer = format!("Bearer {token}");
    let auth = ("authorization", bearer.as_str());
    let post = |headers: &[(&str, &str)], body: &str| request("POST", path, headers, body);
    let body = r#"{"clientIdentifier":"web","subject":"alice","sessionId":"s1"}"#;

    let x = rec.expect(&api, post(&[auth, JSON_TYPE], body), 200).await;
    assert_eq!(x.json()["action"], "OK");
    let with_uri = r#"{"clientIdentifier":"native","sessionId":"s1"}"#;
    let x = rec
        .expect(&api, post(&[auth, JSON_TYPE], with_uri), 200)
        .await;
    assert_eq!(
        x.json()["backchannelLogoutUri"],
        "https://native.example/bcl"
    );
    let long = format!(
        r#"{{"clientIdentifier":"{}","subject":"a"}}"#,
        "x".repeat(257)
    );
    let large = format!(
        r#"{{"clientIdentifier":"web","pad":"{}"}}"#,
        "x".repeat(9000)
    );
    for (headers, body, code) in [
        (&[auth, JSON_TYPE][..], r#"{"subject":"a"}"#, "A504201"),
        (
            &[auth, JSON_TYPE],
            r#"{"clientIdentifier":5,"subject":"a"}"#,
            "A504202",
        ),
        (&[auth, JSON_TYPE], long.as_str(), "A504204"),
        (
            &[auth, JSON_TYPE],
            r#"{"clientIdentifier":"a\u0001b","subject":"a"}"#,
            "A504205",
        ),
        (&[auth, JSON_TYPE], "{", "A504206"),
        (&[auth, JSON_TYPE], "[]", "A504207"),
        (&[auth, ("content-type", "text/plain")], body, "A504208"),
        (&[auth, JSON_TYPE], large.as_str(), "A504209"),
        (
            &[auth, JSON_TYPE],
            r#"{"clientIdentifier":"web"}"#,
            "A504217",
        ),
        (
            &[auth, JSON_TYPE],
            r#"{"clientIdentifier":"nobody","subject":"a"}"#,
            "A504218",
        ),
    ] {
        let x = rec.expect(&api, post(headers, body), 400).await;
        assert_eq!(x.json()["resultCode"], code, "{body}");
    }
    for (authorization, status, code) in [
        (None, 401, "A001202"),
        (Some("Bearer sgn_sat_unknown"), 401, "A001203"),
        (Some("Basic dXNlcjpwYXNz"), 401, "A001204"),
    ] {
        let headers: Vec<_> = authorization
            .map(|a| ("authorization", a))
            .into_iter()
            .chain([JSON_TYPE])
            .collect();
        let x = rec.expect(&api, post(&headers, body), status).await;
        assert_eq!(x.json()["resultCode"], code);
    }
    let other_bearer = format!("Bearer {other}");
    rec.expect(
        &api,
        post(&[("authorization", &other_bearer), JSON_TYPE], body),
        403,
    )
    .await;

    // The signing key: none configured, unreachable (retryable), or not there.
    let mut unsigned = Api::new(
        &db.store,
        revocation_config("100", DeviceRevocationAuth::Client, ""),
    );
    unsigned.settings.authlete.logout_tokens = None;
    let unreachable = aws_sdk_kms::Client::from_conf(
        signoff_tests::kms::client_config("http://127.0.0.1:1").build(),
    );
    let mut offline = Api::new(
        &db.store,
        revocation_config("100", DeviceRevocationAuth::Client, ""),
    );
    offline.settings.authlete.logout_tokens = signer(unreachable, "alias/signoff");
    let mut missing = Api::new(
        &db.store,
        revocation_config("100", DeviceRevocationAuth::Client, ""),
    );
    missing.settings.authlete.logout_tokens = signer(kms.client.clone(), "alias/no-such-key");
    for (api, code) in [
        (&unsigned, "A504105"),
        (&offline, "A504106"),
        (&missing, "A504107"),
    ] {
        let x = rec.expect(api, post(&[auth, JSON_TYPE], body), 500).await;
        assert_eq!(x.json()["resultCode"], code);
    }

    // Store trouble: a missing table (A504102) and an unreachable store (A504101).
    let trouble = [(event("POST", path, &[auth, JSON_TYPE], body), 500, 500)];
    rec.expect_store_trouble(&api, &trouble).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_authlete_response_is_what_the_functions_answer() {
    let mut rec = Recorder::new(Spec::load());
    native_sso_and_registration(&mut rec).await;
    token_management(&mut rec).await;
    logout_tokens(&mut rec).await;
    rec.assert_vendor_covered(&AUTHLETE);
}
