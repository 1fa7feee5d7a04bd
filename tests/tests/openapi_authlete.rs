//! `docs/openapi.yaml` held to what the functions answer: Authlete's native SSO logout and
//! the token registration beside it, through the real handlers (requests as API Gateway
//! sends them), against a fresh embedded DynamoDB emulator, a missing table and an
//! unreachable store. Every documented status and closed set of codes of these operations
//! must be provoked here (see `signoff_tests::openapi`).

use serde_json::json;
use signoff_revoke::settings::DeviceRevocationAuth;
use signoff_tests::openapi::{
    event, fresh_db, future, request, revocation_config, Api, Recorder, Spec, AUTHLETE, JSON_TYPE,
};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_authlete_response_is_what_the_functions_answer() {
    let mut rec = Recorder::new(Spec::load());
    native_sso_and_registration(&mut rec).await;
    rec.assert_vendor_covered(&AUTHLETE);
}
