//! Token introspection (RFC 7662, RFC 9701 JWT responses, NetIQ's path) through the
//! function's handler, against a fresh DynamoDB-compatible server and, for signed
//! responses, a local KMS (moto's server) with the real SDK clients.

use aws_sdk_kms::types::KeySpec;
use base64::Engine;
use lambda_http::http::header;
use serde_json::{json, Value};
use signoff_introspect::settings::Settings;
use signoff_introspect::{handle, JWKS_ROUTE, JWT_MEDIA_TYPE, NETIQ_ROUTE, RFC7662_ROUTE};
use signoff_jose::VerifyingKeySet;
use signoff_kms::KeySet;
use signoff_store::credentials::IntrospectionAccess;
use signoff_store::model::{DeviceBinding, TokenRecord, TokenType};
use signoff_tests::db::TestDb;
use signoff_tests::event::HttpApiEvent;
use signoff_tests::kms::TestKms;
use signoff_tests::seed::{self, basic, form};

const TENANT: &str = "as-1";
const ISSUER: &str = "https://as.example.com";
const FORM: &str = "application/x-www-form-urlencoded";

struct Fixture {
    db: TestDb,
    settings: Settings,
    /// The tenant's service credential (for native SSO logout).
    service_token: String,
    /// A resource server allowed to introspect: (client_id, secret).
    rs: (String, String),
}

async fn fixture() -> Fixture {
    let db = TestDb::start().await;
    let service_token = seed::tenant(&db.store, TENANT, None).await;
    let secret = seed::client(&db.store, TENANT, "api", true).await.unwrap();
    db.store
        .allow_introspection(TENANT, "api", true)
        .await
        .unwrap();
    let settings = Settings {
        tenant: TENANT.into(),
        issuer: ISSUER.into(),
        signing_key: None,
        previous_signing_keys: vec![],
        introspection_scope: "introspection".into(),
        status_lists: signoff_tests::functions::status_lists(),
        ssf_issuer: None,
    };
    Fixture {
        db,
        settings,
        service_token,
        rs: ("api".into(), secret),
    }
}

impl Fixture {
    /// Introspects `token` at `path` as the resource server, by HTTP Basic.
    async fn introspect(&self, token: &str) -> (u16, Value) {
        let (status, headers, body) = self
            .call(
                RFC7662_ROUTE,
                Some(basic(&self.rs.0, &self.rs.1)),
                &form(&[("token", token)]),
                None,
                None,
            )
            .await;
        assert_eq!(headers["cache-control"], "no-store");
        (status, serde_json::from_str(&body).expect("a JSON body"))
    }

    async fn call(
        &self,
        path: &str,
        authorization: Option<String>,
        body: &str,
        accept: Option<&str>,
        keys: Option<&KeySet>,
    ) -> (u16, lambda_http::http::HeaderMap, String) {
        let mut event = HttpApiEvent::post(path)
            .header("content-type", FORM)
            .body(body);
        if let Some(authorization) = authorization {
            event = event.header("authorization", &authorization);
        }
        if let Some(accept) = accept {
            event = event.header("accept", accept);
        }
        let response = handle(&self.db.store, &self.settings, keys, event.request())
            .await
            .expect("the handler never fails");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.into_body() {
            lambda_http::Body::Text(text) => text,
            lambda_http::Body::Empty => String::new(),
            lambda_http::Body::Binary(bytes) => String::from_utf8(bytes).unwrap(),
            _ => String::new(),
        };
        (status, headers, body)
    }
}

fn full_record(value: &str) -> TokenRecord {
    TokenRecord {
        session_id: Some("sid-1".into()),
        grant_id: Some("grant-1".into()),
        scope: Some("openid api:read".into()),
        audience: vec!["https://api.example.com".into()],
        ..seed::token(TENANT, value, TokenType::Access, "web")
    }
}

#[tokio::test]
async fn a_live_token_is_active_with_what_signoff_knows_and_anything_else_is_inactive() {
    let f = fixture().await;
    let record = full_record("at-live");
    let mut refresh = TokenRecord {
        audience: vec!["a".into(), "b".into()],
        ..seed::token(TENANT, "rt-live", TokenType::Refresh, "web")
    };
    refresh.subject = None;
    seed::register(&f.db.store, vec![record.clone(), refresh.clone()]).await;

    let (status, body) = f.introspect("at-live").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "active": true, "client_id": "web", "token_type": "Bearer", "sub": "alice",
            "exp": record.expires_at, "iat": record.issued_at, "iss": ISSUER,
            "scope": "openid api:read", "aud": "https://api.example.com", "sid": "sid-1"
        })
    );
    // Several audiences are an array; no subject, no `sub`.
    let (_, body) = f.introspect("rt-live").await;
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["aud"], json!(["a", "b"]));
    assert!(body.get("sub").is_none() && body.get("scope").is_none() && body.get("sid").is_none());

    // Unknown, expired, of another tenant: exactly {"active": false}.
    seed::tenant(&f.db.store, "other", None).await;
    seed::register(
        &f.db.store,
        vec![seed::token(
            "other",
            "at-other-tenant",
            TokenType::Access,
            "web",
        )],
    )
    .await;
    seed::put_items(
        &f.db.store,
        vec![seed::expired_token(TENANT, "at-expired", 60).to_item()],
    )
    .await;
    for token in ["never-registered", "at-other-tenant", "at-expired"] {
        assert_eq!(
            f.introspect(token).await,
            (200, json!({"active": false})),
            "{token}"
        );
    }
}

#[tokio::test]
async fn every_revocation_path_makes_the_token_inactive_at_once() {
    let f = fixture().await;
    let store = &f.db.store;
    // Native SSO logout of a session.
    let in_session = TokenRecord {
        session_id: Some("s-logout".into()),
        ..seed::token(TENANT, "at-session", TokenType::Access, "web")
    };
    // RFC 7009 revocation of a refresh token, which takes its grant's access tokens.
    let refresh = seed::grant_token(TENANT, "rt-grant", TokenType::Refresh, "web", "g-7009");
    let grant_access = seed::grant_token(TENANT, "at-grant", TokenType::Access, "web", "g-7009");
    // A user logged out everywhere (Descope logout-all).
    let bobs = TokenRecord {
        subject: Some("bob".into()),
        ..seed::token(TENANT, "at-bob", TokenType::Access, "web")
    };
    // NetIQ device revocation.
    let on_device = TokenRecord {
        device: Some(DeviceBinding {
            device_id: "dev-1".into(),
            user_store: "Local".into(),
            user_dn: "cn=carol".into(),
        }),
        ..seed::token(TENANT, "rt-device", TokenType::Refresh, "web")
    };
    // Untouched by all of the above.
    let bystander = seed::token(TENANT, "at-bystander", TokenType::Access, "web");
    seed::register(
        store,
        vec![
            in_session,
            refresh,
            grant_access,
            bobs,
            on_device,
            bystander,
        ],
    )
    .await;
    for token in [
        "at-session",
        "rt-grant",
        "at-grant",
        "at-bob",
        "rt-device",
        "at-bystander",
    ] {
        assert_eq!(f.introspect(token).await.1["active"], true, "{token}");
    }

    let logout = seed::post(
        &format!("/api/{TENANT}/nativesso/logout"),
        Some(&format!("Bearer {}", f.service_token)),
        Some("application/json"),
        r#"{"sessionId":"s-logout"}"#,
    );
    let (status, _) = seed::parts(
        signoff_nativesso::handle(store, &signoff_nativesso::Settings::default(), logout)
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(f.introspect("at-session").await.1, json!({"active": false}));

    let web_secret = seed::client(store, TENANT, "web", true).await.unwrap();
    let revocation = signoff_revoke::settings::Settings::from_lookup(
        signoff_store::config::lookup_in(&[("SIGNOFF_REVOCATION_TENANT", TENANT)]),
    )
    .unwrap();
    let revoke = seed::post(
        "/oauth2/revoke",
        Some(&basic("web", &web_secret)),
        Some(FORM),
        &form(&[("token", "rt-grant")]),
    );
    let response = signoff_revoke::handle(store, &revocation, revoke)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for token in ["rt-grant", "at-grant"] {
        assert_eq!(
            f.introspect(token).await.1,
            json!({"active": false}),
            "{token}"
        );
    }

    store.log_user_out(TENANT, "bob", None, None).await.unwrap();
    assert_eq!(f.introspect("at-bob").await.1, json!({"active": false}));

    let device = seed::post(
        "/nidp/oauth/nam/revoke/dev-1",
        Some(&basic("web", &web_secret)),
        Some(FORM),
        &form(&[("userstore_name", "Local"), ("user_dn", "cn=carol")]),
    );
    let response = signoff_revoke::handle(store, &revocation, device)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(f.introspect("rt-device").await.1, json!({"active": false}));

    assert_eq!(f.introspect("at-bystander").await.1["active"], true);
}

#[tokio::test]
async fn only_an_authenticated_resource_server_allowed_to_introspect_gets_an_answer() {
    let f = fixture().await;
    seed::register(&f.db.store, vec![full_record("at-1")]).await;
    let public = seed::client(&f.db.store, TENANT, "spa", false).await;
    assert!(public.is_none());
    let not_allowed = seed::client(&f.db.store, TENANT, "web", true)
        .await
        .unwrap();
    let body = form(&[("token", "at-1")]);
    let (id, secret) = (&f.rs.0, &f.rs.1);
    let cases: Vec<(Option<String>, String, u16, &str)> = vec![
        // No credentials at all, a wrong secret, an unknown client, another scheme.
        (None, body.clone(), 401, "invalid_client"),
        (
            Some(basic(id, "wrong")),
            body.clone(),
            401,
            "invalid_client",
        ),
        (
            Some(basic("nobody", secret)),
            body.clone(),
            401,
            "invalid_client",
        ),
        (Some("DPoP abc".into()), body.clone(), 401, "invalid_client"),
        // Body credentials work the same way, and fail the same way.
        (
            None,
            form(&[
                ("token", "at-1"),
                ("client_id", id),
                ("client_secret", "wrong"),
            ]),
            401,
            "invalid_client",
        ),
        // A public client cannot authenticate a resource server.
        (
            None,
            form(&[("token", "at-1"), ("client_id", "spa")]),
            401,
            "invalid_client",
        ),
        // Authenticated, not allowed.
        (
            Some(basic("web", &not_allowed)),
            body.clone(),
            403,
            "unauthorized_client",
        ),
        // Credentials both ways; no token.
        (
            Some(basic(id, secret)),
            form(&[("token", "at-1"), ("client_secret", secret)]),
            400,
            "invalid_request",
        ),
        (
            Some(basic(id, secret)),
            form(&[("token_type_hint", "access_token")]),
            400,
            "invalid_request",
        ),
    ];
    for (authorization, body, status, error) in cases {
        let (got, headers, text) = f
            .call(RFC7662_ROUTE, authorization.clone(), &body, None, None)
            .await;
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (got, json["error"].as_str().unwrap()),
            (status, error),
            "{authorization:?} {body}: {json}"
        );
        assert_eq!(headers["cache-control"], "no-store");
        if status == 401 {
            assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic realm=\"signoff\"");
        }
        // Never a hint about the token.
        assert!(json.get("active").is_none());
    }
    // Body credentials that are right, a token_type_hint that is wrong: still found.
    let (status, _, text) = f
        .call(
            NETIQ_ROUTE,
            None,
            &form(&[
                ("token", "at-1"),
                ("token_type_hint", "refresh_token"),
                ("client_id", id),
                ("client_secret", secret),
            ]),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["active"],
        true
    );
    // Once no longer allowed, the same resource server is refused.
    f.db.store
        .allow_introspection(TENANT, id, false)
        .await
        .unwrap();
    let (status, _) = f.introspect("at-1").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_introspection_costs_at_most_three_dynamodb_requests() {
    let f = fixture().await;
    seed::register(&f.db.store, vec![full_record("at-1")]).await;
    for token in ["at-1", "unknown"] {
        f.db.requests.reset();
        let (status, _) = f.introspect(token).await;
        assert_eq!(status, 200);
        let total = f.db.requests.total();
        assert!(total <= 3, "{token}: {:?}", f.db.requests.snapshot());
    }
}

#[tokio::test]
async fn a_jwt_response_is_signed_by_the_kms_key_for_the_caller() {
    let f = fixture().await;
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff").await;
    let keys = KeySet::new(kms.client.clone(), "alias/signoff".into(), vec![]);
    let record = full_record("at-1");
    seed::register(&f.db.store, vec![record.clone()]).await;
    let jwks = keys.jwks().await.unwrap().to_vec();
    let verifier = VerifyingKeySet::new(&jwks);

    for (token, expected) in [
        (
            "at-1",
            json!({
                "active": true, "client_id": "web", "token_type": "Bearer", "sub": "alice",
                "exp": record.expires_at, "iat": record.issued_at, "iss": ISSUER,
                "scope": "openid api:read", "aud": "https://api.example.com", "sid": "sid-1"
            }),
        ),
        ("unknown", json!({"active": false})),
    ] {
        let (status, headers, jwt) = f
            .call(
                RFC7662_ROUTE,
                Some(basic(&f.rs.0, &f.rs.1)),
                &form(&[("token", token)]),
                Some("application/json;q=0.5, application/token-introspection+jwt"),
                Some(&keys),
            )
            .await;
        assert_eq!(status, 200, "{jwt}");
        assert_eq!(headers[header::CONTENT_TYPE], JWT_MEDIA_TYPE);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let claims = verifier
            .verify_jws(&jwt)
            .expect("signed by the published key");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "api");
        assert!(claims["iat"].as_i64().unwrap() >= record.issued_at);
        assert_eq!(claims["token_introspection"], expected);
        // RFC 9701 5: no top-level sub or exp, so the response is no access token.
        assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
        let header_b64 = jwt.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header_b64)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            header,
            json!({"alg": "ES256", "kid": jwks[0].kid, "typ": "token-introspection+jwt"})
        );
    }
    // The keys are published, cacheable for five minutes.
    for (keys, status) in [(Some(&keys), 200), (None, 404)] {
        let response = handle(
            &f.db.store,
            &f.settings,
            keys,
            HttpApiEvent::get(JWKS_ROUTE).request(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), status);
        if status == 200 {
            assert_eq!(
                response.headers()[header::CACHE_CONTROL],
                "public, max-age=300"
            );
            let (_, body) = seed::parts(response);
            assert_eq!(body, json!({ "keys": jwks }));
        }
    }
    // Without a signing key, a caller that accepts only the JWT is told so.
    let (status, _, text) = f
        .call(
            RFC7662_ROUTE,
            Some(basic(&f.rs.0, &f.rs.1)),
            &form(&[("token", "at-1")]),
            Some(JWT_MEDIA_TYPE),
            None,
        )
        .await;
    assert_eq!(status, 406, "{text}");
    // A caller that did not authenticate learns nothing of it: 401 first.
    let (status, _, _) = f
        .call(
            RFC7662_ROUTE,
            None,
            &form(&[("token", "at-1")]),
            Some(JWT_MEDIA_TYPE),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_resource_server_may_authenticate_with_its_own_access_token_scoped_to_introspection() {
    let f = fixture().await;
    let store = &f.db.store;
    let record = full_record("at-1");
    // The resource server's own tokens, from its client-credentials grant.
    let rs_token = |value: &str, scope: Option<&str>| TokenRecord {
        scope: scope.map(str::to_owned),
        subject: None,
        ..seed::token(TENANT, value, TokenType::Access, "api")
    };
    seed::client(store, TENANT, "web", true).await.unwrap();
    seed::register(
        store,
        vec![
            record.clone(),
            rs_token("rs-bearer", Some("introspection other")),
            rs_token("rs-unscoped", Some("orders:read")),
            TokenRecord {
                scope: Some("introspection".into()),
                ..seed::token(TENANT, "web-bearer", TokenType::Access, "web")
            },
            TokenRecord {
                scope: Some("introspection".into()),
                grant_id: Some("rs-grant".into()),
                ..seed::token(TENANT, "rs-revoked", TokenType::Access, "api")
            },
        ],
    )
    .await;
    let bearer = |token: &str| Some(format!("Bearer {token}"));
    let fixture = &f;
    let ask = move |authorization: Option<String>, body: String| async move {
        fixture
            .call(RFC7662_ROUTE, authorization, &body, None, None)
            .await
    };

    let (status, headers, body) = ask(bearer("rs-bearer"), form(&[("token", "at-1")])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], "alice");

    // Without the scope: 403 insufficient_scope, naming the scope (RFC 6750 3.1).
    let (status, headers, body) = ask(bearer("rs-unscoped"), form(&[("token", "at-1")])).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"signoff\", error=\"insufficient_scope\", scope=\"introspection\""
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "insufficient_scope"
    );
    // A client not allowed to introspect, with the scope: 403 all the same.
    let (status, _, body) = ask(bearer("web-bearer"), form(&[("token", "at-1")])).await;
    assert_eq!(status, 403, "{body}");
    // Unknown or revoked: 401 with a Bearer challenge.
    store
        .revoke_token(
            &store
                .find_token(
                    TENANT,
                    &signoff_store::item_key::TokenHash::of("rs-revoked"),
                )
                .await
                .unwrap()
                .unwrap(),
            signoff_store::revocation::Cascade {
                session: false,
                grant: true,
            },
        )
        .await
        .unwrap();
    for token in ["never-issued", "rs-revoked"] {
        let (status, headers, body) = ask(bearer(token), form(&[("token", "at-1")])).await;
        assert_eq!(status, 401, "{token}: {body}");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"signoff\", error=\"invalid_token\""
        );
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "invalid_token"
        );
    }
    // One way of authenticating per request.
    let (status, _, _) = ask(
        bearer("rs-bearer"),
        form(&[
            ("token", "at-1"),
            ("client_id", "api"),
            ("client_secret", &f.rs.1),
        ]),
    )
    .await;
    assert_eq!(status, 400);

    // Still at most three requests: both tokens, then the markers and the bearer's client.
    for token in ["at-1", "unknown"] {
        f.db.requests.reset();
        let (status, _, _) = ask(bearer("rs-bearer"), form(&[("token", token)])).await;
        assert_eq!(status, 200);
        assert!(f.db.requests.total() <= 3, "{:?}", f.db.requests.snapshot());
    }
}

#[tokio::test]
async fn a_resource_server_restricted_to_audiences_sees_only_tokens_meant_for_them() {
    let f = fixture().await;
    let store = &f.db.store;
    let meant = |value: &str, audience: &[&str]| TokenRecord {
        audience: audience.iter().map(|a| a.to_string()).collect(),
        ..seed::token(TENANT, value, TokenType::Access, "web")
    };
    seed::register(
        store,
        vec![
            meant("for-api", &["https://api.example.com"]),
            meant(
                "for-both",
                &["https://billing.example.com", "https://api.example.com"],
            ),
            meant("for-billing", &["https://billing.example.com"]),
            meant("for-anyone", &[]),
        ],
    )
    .await;
    store
        .set_introspection_access(
            TENANT,
            "api",
            &IntrospectionAccess::Audiences(vec!["https://api.example.com".into()]),
        )
        .await
        .unwrap();
    for (token, active) in [
        ("for-api", true),
        ("for-both", true),
        ("for-billing", false),
        ("for-anyone", false),
    ] {
        let (status, body) = f.introspect(token).await;
        assert_eq!(status, 200);
        if active {
            assert_eq!(body["active"], true, "{token}");
        } else {
            assert_eq!(body, json!({"active": false}), "{token}");
        }
    }
    // Lifting the restriction shows every token of the tenant again; revoking access
    // refuses the caller.
    store
        .set_introspection_access(TENANT, "api", &IntrospectionAccess::AnyAudience)
        .await
        .unwrap();
    assert_eq!(f.introspect("for-billing").await.1["active"], true);
    store
        .set_introspection_access(TENANT, "api", &IntrospectionAccess::Denied)
        .await
        .unwrap();
    assert_eq!(f.introspect("for-billing").await.0, 403);
    // An unusable restriction is refused, not stored.
    for audiences in [vec![], vec!["a\u{0}b".to_owned()]] {
        assert!(store
            .set_introspection_access(TENANT, "api", &IntrospectionAccess::Audiences(audiences))
            .await
            .is_err());
    }
}

/// Introspects `token` Authlete's way, with the tenant's service credential: the action.
async fn authlete_action(f: &Fixture, token: &str) -> String {
    let event = HttpApiEvent::post(&format!("/api/{TENANT}/auth/introspection"))
        .header("content-type", "application/json")
        .header("authorization", &format!("Bearer {}", f.service_token))
        .body(json!({ "token": token }).to_string());
    let response = handle(&f.db.store, &f.settings, None, event.request())
        .await
        .expect("the handler never fails");
    let (status, body) = seed::parts(response);
    assert_eq!(status, 200, "{body}");
    body["action"].as_str().expect("an action").to_owned()
}

#[tokio::test]
async fn a_cutoff_makes_every_token_it_covers_inactive_at_once_and_spares_later_ones() {
    use signoff_store::cutoffs::Cutoff;
    use signoff_store::revocation::TokenState;
    let f = fixture().await;
    let store = &f.db.store;
    let of = |value: &str, client: &str, subject: &str| TokenRecord {
        subject: Some(subject.into()),
        ..seed::token(TENANT, value, TokenType::Access, client)
    };
    seed::tenant(store, "as-2", None).await;
    seed::register(
        store,
        vec![
            of("at-web-alice", "web", "alice"),
            of("rt-web-alice", "web", "alice"),
            of("at-web-bob", "web", "bob"),
            of("at-mobile-alice", "mobile", "alice"),
            seed::token("as-2", "at-other-tenant", TokenType::Access, "web"),
        ],
    )
    .await;
    let tokens = [
        "at-web-alice",
        "rt-web-alice",
        "at-web-bob",
        "at-mobile-alice",
    ];
    for token in tokens {
        assert_eq!(f.introspect(token).await.1["active"], true, "{token}");
    }
    let state = |token: &'static str, tenant: &'static str| async move {
        let hash = signoff_store::item_key::TokenHash::of(token);
        let now = signoff_store::now_epoch_seconds();
        store
            .lookup_token(tenant, &hash, now)
            .await
            .unwrap()
            .unwrap()
            .1
    };

    // A user removes an app's access: that app's tokens for that user only.
    let alice_web = store
        .write_cutoff(
            TENANT,
            Cutoff::ClientSubject {
                client_id: "web",
                subject: "alice",
            },
        )
        .await
        .unwrap();
    for token in ["at-web-alice", "rt-web-alice"] {
        assert_eq!(
            f.introspect(token).await.1,
            json!({"active": false}),
            "{token}"
        );
        assert_eq!(state(token, TENANT).await, TokenState::ClientSubjectCutOff);
    }
    assert_eq!(authlete_action(&f, "at-web-alice").await, "UNAUTHORIZED");
    for token in ["at-web-bob", "at-mobile-alice"] {
        assert_eq!(f.introspect(token).await.1["active"], true, "{token}");
    }
    assert_eq!(authlete_action(&f, "at-web-bob").await, "OK");
    // A token issued after the cutoff (alice consents again) is live.
    seed::register(
        store,
        vec![TokenRecord {
            issued_at: alice_web + 1,
            ..of("at-web-alice-again", "web", "alice")
        }],
    )
    .await;
    assert_eq!(f.introspect("at-web-alice-again").await.1["active"], true);

    // A compromised client: all of its tokens, whoever they were issued to.
    store
        .write_cutoff(
            TENANT,
            Cutoff::Client {
                client_id: "mobile",
            },
        )
        .await
        .unwrap();
    assert_eq!(
        f.introspect("at-mobile-alice").await.1,
        json!({"active": false})
    );
    assert_eq!(
        state("at-mobile-alice", TENANT).await,
        TokenState::ClientCutOff
    );
    assert_eq!(f.introspect("at-web-bob").await.1["active"], true);

    // Break-glass: every token of the tenant, in one request, at most 3 per introspection
    // still; another tenant's tokens are untouched.
    f.db.requests.reset();
    let tenant_cut = store.write_cutoff(TENANT, Cutoff::Tenant).await.unwrap();
    assert_eq!(f.db.requests.snapshot().values().sum::<u64>(), 1);
    assert_eq!(f.db.requests.get("TransactWriteItems"), 1);
    f.db.requests.reset();
    assert_eq!(f.introspect("at-web-bob").await.1, json!({"active": false}));
    assert!(f.db.requests.total() <= 3, "{:?}", f.db.requests.snapshot());
    assert_eq!(state("at-web-bob", TENANT).await, TokenState::TenantCutOff);
    assert_eq!(state("at-other-tenant", "as-2").await, TokenState::Live);
    seed::register(
        store,
        vec![TokenRecord {
            issued_at: tenant_cut + 1,
            ..of("at-after-break-glass", "web", "bob")
        }],
    )
    .await;
    assert_eq!(f.introspect("at-after-break-glass").await.1["active"], true);

    // Writing again (concurrently, or a retry) is harmless and never moves a cutoff back.
    let again =
        futures_util::future::join_all((0..4).map(|_| store.write_cutoff(TENANT, Cutoff::Tenant)))
            .await;
    for at in again {
        assert!(at.unwrap() >= tenant_cut);
    }
}
