//! `docs/openapi.yaml` held to what the introspection function answers: RFC 7662 and
//! NetIQ's path (JSON and RFC 9701 JWT answers) and the published signing keys, through
//! the real handler (requests as API Gateway sends them), against a fresh embedded
//! DynamoDB emulator, a missing table, an unreachable store, and a local KMS (moto's
//! server) that has the key, lacks it, or cannot be reached. Every documented status and
//! closed set of codes of these operations must be provoked here.

use std::sync::Arc;

use aws_sdk_kms::types::KeySpec;
use signoff_kms::KeySet;
use signoff_revoke::settings::DeviceRevocationAuth;
use signoff_store::model::TokenType;
use signoff_tests::kms::{client_config, TestKms};
use signoff_tests::openapi::{
    event, fresh_db, request, revocation_config, Api, Recorder, Spec, FORM_TYPE, INTROSPECTION,
    JSON_TYPE,
};
use signoff_tests::seed::{self, basic, form};

const TENANT: &str = "as";
const RFC7662: &str = "/oauth2/introspect";
const NETIQ: &str = "/nidp/oauth/v1/nam/introspect";
const JWKS: &str = "/.well-known/jwks.json";
const SSF_CONFIGURATION: &str = "/.well-known/ssf-configuration";
const JWT: (&str, &str) = ("accept", "application/token-introspection+jwt");

async fn introspection(rec: &mut Recorder) {
    let db = fresh_db().await;
    let service = seed::tenant(&db.store, TENANT, None).await;
    let secret = seed::client(&db.store, TENANT, "api", true).await.unwrap();
    db.store
        .allow_introspection(TENANT, "api", true)
        .await
        .unwrap();
    let other = seed::client(&db.store, TENANT, "web", true).await.unwrap();
    let mut several = seed::token(TENANT, "rt-1", TokenType::Refresh, "web");
    several.audience = vec!["a".into(), "b".into()];
    several.scope = Some("openid".into());
    several.session_id = Some("s1".into());
    // Bearer credentials of the resource server: one with the introspection scope, one
    // without.
    let mut scoped = seed::token(TENANT, "rs-bearer", TokenType::Access, "api");
    scoped.scope = Some("introspection".into());
    let mut unscoped = seed::token(TENANT, "rs-unscoped", TokenType::Access, "api");
    unscoped.scope = Some("read".into());
    seed::register(
        &db.store,
        vec![
            seed::token(TENANT, "at-1", TokenType::Access, "web"),
            several,
            scoped,
            unscoped,
        ],
    )
    .await;
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signing").await;
    let mut api = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::Client, ""),
    );
    api.settings.introspection.tenant = TENANT.into();
    let mut signing = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::Client, ""),
    );
    signing.settings.introspection.tenant = TENANT.into();
    signing.settings.introspection_keys = Some(Arc::new(KeySet::new(
        kms.client.clone(),
        "alias/signing".into(),
        vec![],
    )));
    let rs = basic("api", &secret);
    let post = |path: &str, headers: &[(&str, &str)], body: &str| {
        let mut all = vec![FORM_TYPE];
        all.extend_from_slice(headers);
        request("POST", path, &all, body)
    };

    for path in [RFC7662, NETIQ] {
        // Active (one audience and several), inactive, and both as a JWT.
        for token in ["at-1", "rt-1", "unknown"] {
            rec.expect(
                &api,
                post(path, &[("authorization", &rs)], &form(&[("token", token)])),
                200,
            )
            .await;
            rec.expect(
                &signing,
                post(
                    path,
                    &[("authorization", &rs), JWT],
                    &form(&[("token", token)]),
                ),
                200,
            )
            .await;
        }
        rec.expect(
            &api,
            post(
                path,
                &[],
                &form(&[
                    ("token", "at-1"),
                    ("client_id", "api"),
                    ("client_secret", &secret),
                ]),
            ),
            200,
        )
        .await;
        // Refused: no token, credentials both ways, a parameter twice.
        for (headers, body) in [
            (
                vec![("authorization", rs.as_str())],
                form(&[("token_type_hint", "access_token")]),
            ),
            (
                vec![("authorization", rs.as_str())],
                form(&[("token", "at-1"), ("client_secret", &secret)]),
            ),
            (
                vec![("authorization", rs.as_str())],
                "token=a&token=b".to_owned(),
            ),
        ] {
            rec.expect(&api, post(path, &headers, &body), 400).await;
        }
        for (headers, body) in [
            (vec![], form(&[("token", "at-1")])),
            (
                vec![("authorization", "Bearer x")],
                form(&[("token", "at-1")]),
            ),
        ] {
            rec.expect(&api, post(path, &headers, &body), 401).await;
        }
        // A bearer credential: accepted with the scope (also for a JWT answer, addressed
        // to its client), refused without it.
        for headers in [
            vec![("authorization", "Bearer rs-bearer")],
            vec![("authorization", "Bearer rs-bearer"), JWT],
        ] {
            let api = if headers.len() == 2 { &signing } else { &api };
            rec.expect(api, post(path, &headers, &form(&[("token", "at-1")])), 200)
                .await;
        }
        rec.expect(
            &api,
            post(
                path,
                &[("authorization", "Bearer rs-unscoped")],
                &form(&[("token", "at-1")]),
            ),
            403,
        )
        .await;
        let web = basic("web", &other);
        rec.expect(
            &api,
            post(
                path,
                &[("authorization", &web)],
                &form(&[("token", "at-1")]),
            ),
            403,
        )
        .await;
        rec.expect(
            &api,
            post(
                path,
                &[("authorization", &rs), JWT],
                &form(&[("token", "at-1")]),
            ),
            406,
        )
        .await;
    }

    // The keys: published, none configured, a missing key, KMS unreachable.
    rec.expect(&signing, request("GET", JWKS, &[], ""), 200)
        .await;
    rec.expect(&api, request("GET", JWKS, &[], ""), 404).await;
    // The Shared Signals transmitter metadata: published with a key, none without.
    rec.expect(&signing, request("GET", SSF_CONFIGURATION, &[], ""), 200)
        .await;
    rec.expect(&api, request("GET", SSF_CONFIGURATION, &[], ""), 404)
        .await;
    let mut missing = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::Client, ""),
    );
    missing.settings.introspection_keys = Some(Arc::new(KeySet::new(
        kms.client.clone(),
        "alias/nope".into(),
        vec![],
    )));
    rec.expect(&missing, request("GET", JWKS, &[], ""), 500)
        .await;
    let down = aws_sdk_kms::Client::from_conf(
        client_config("http://127.0.0.1:9")
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build(),
    );
    let mut unreachable = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::Client, ""),
    );
    unreachable.settings.introspection_keys =
        Some(Arc::new(KeySet::new(down, "alias/signing".into(), vec![])));
    rec.expect(&unreachable, request("GET", JWKS, &[], ""), 503)
        .await;

    // Token Status Lists: one served; unknown, malformed and unsigned ones; a key that is
    // missing or unreachable (on lists never built, so nothing kept answers instead).
    for tenant in [TENANT, "as-missing-key", "as-kms-down"] {
        let entries = db
            .store
            .allocate_status_entries(tenant, 1, 1_024)
            .await
            .unwrap();
        let mut listed = seed::token(tenant, "sl-1", TokenType::Access, "web");
        listed.expires_at = listed.issued_at + 600;
        db.store
            .register_tokens_with_status(&[listed], &[Some(entries[0])])
            .await
            .unwrap();
    }
    let list = |tenant: &str, id: &str| {
        request(
            "GET",
            &format!("/signoff/v1/tenants/{tenant}/statuslists/{id}"),
            &[],
            "",
        )
    };
    rec.expect(&signing, list(TENANT, "0"), 200).await;
    for id in ["1", "01", "x"] {
        rec.expect(&signing, list(TENANT, id), 404).await;
    }
    rec.expect(&api, list(TENANT, "0"), 404).await;
    rec.expect(&missing, list("as-missing-key", "0"), 500).await;
    rec.expect(&unreachable, list("as-kms-down", "0"), 503)
        .await;

    // Store trouble.
    let trouble = [RFC7662, NETIQ].map(|path| {
        (
            event(
                "POST",
                path,
                &[FORM_TYPE, ("authorization", &rs)],
                &form(&[("token", "at-1")]),
            ),
            500,
            503,
        )
    });
    rec.expect_store_trouble(&api, &trouble).await;
    // A list no instance remembers, so the store is asked.
    let never_built = event(
        "GET",
        "/signoff/v1/tenants/as-elsewhere/statuslists/0",
        &[],
        "",
    );
    rec.expect_store_trouble(&signing, &[(never_built, 500, 503)])
        .await;

    authlete(rec, &api, &signing, &missing, &unreachable, &service).await;
}

/// Authlete's `/auth/introspection` and `/auth/introspection/standard`.
async fn authlete(
    rec: &mut Recorder,
    api: &Api<'_>,
    signing: &Api<'_>,
    missing_key: &Api<'_>,
    unreachable_key: &Api<'_>,
    service: &str,
) {
    let bearer = format!("Bearer {service}");
    let rs_path = format!("/api/{TENANT}/auth/introspection");
    let standard_path = format!("/api/{TENANT}/auth/introspection/standard");
    let json = |path: &str, authorization: &str, body: &str| {
        request(
            "POST",
            path,
            &[JSON_TYPE, ("authorization", authorization)],
            body,
        )
    };
    let too_large = format!(r#"{{"token":"{}"}}"#, "x".repeat(70_000));
    // Every action of the resource server's API.
    for body in [
        r#"{"token":"at-1","scopes":null,"subject":null,"maxAge":0}"#,
        r#"{"token":"at-1","scopes":["admin"]}"#,
        r#"{"token":"unknown"}"#,
        r#"{"token":""}"#,
    ] {
        rec.expect(api, json(&rs_path, &bearer, body), 200).await;
    }
    // Every action of the standard API: JSON, the JWT, a bad request.
    let jwt = r#"{"parameters":"token=at-1","rsUri":"https://rs","httpAcceptHeader":"application/token-introspection+jwt"}"#;
    rec.expect(
        api,
        json(&standard_path, &bearer, r#"{"parameters":"token=at-1"}"#),
        200,
    )
    .await;
    rec.expect(signing, json(&standard_path, &bearer, jwt), 200)
        .await;
    rec.expect(
        api,
        json(&standard_path, &bearer, r#"{"parameters":""}"#),
        200,
    )
    .await;
    for path in [&rs_path, &standard_path] {
        for body in ["{not json", "[]"] {
            rec.expect(api, json(path, &bearer, body), 400).await;
        }
        for authorization in [None, Some("Bearer unknown"), Some("Basic eDp5")] {
            let mut headers = vec![JSON_TYPE];
            if let Some(value) = authorization {
                headers.push(("authorization", value));
            }
            rec.expect(api, request("POST", path, &headers, "{}"), 401)
                .await;
        }
        rec.expect(
            api,
            json(&path.replace(TENANT, "other-service"), &bearer, "{}"),
            403,
        )
        .await;
        rec.expect(api, json(path, &bearer, &too_large), 413).await;
        rec.expect(
            api,
            request(
                "POST",
                path,
                &[("content-type", "text/plain"), ("authorization", &bearer)],
                "{}",
            ),
            415,
        )
        .await;
    }
    // The signing key missing or unreachable.
    for keys in [missing_key, unreachable_key] {
        rec.expect(keys, json(&standard_path, &bearer, jwt), 500)
            .await;
    }
    let trouble = [
        (rs_path.as_str(), r#"{"token":"at-1"}"#),
        (standard_path.as_str(), r#"{"parameters":"token=at-1"}"#),
    ]
    .map(|(path, body)| {
        (
            event("POST", path, &[JSON_TYPE, ("authorization", &bearer)], body),
            500,
            500,
        )
    });
    rec.expect_store_trouble(api, &trouble).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_introspection_response_is_what_the_function_answers() {
    let mut rec = Recorder::new(Spec::load());
    introspection(&mut rec).await;
    rec.assert_vendor_covered(&INTROSPECTION);
}
