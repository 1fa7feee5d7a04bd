//! Authlete's introspection APIs (`/api/{serviceId}/auth/introspection` and
//! `/auth/introspection/standard`) through the introspection function's handler, against a
//! fresh DynamoDB-compatible server and, for signed answers, a local KMS (moto's server).
//! Request bodies are what Authlete's Python SDK 1.3.0 sends, nulls included.

use aws_sdk_kms::types::KeySpec;
use serde_json::{json, Value};
use signoff_introspect::handle;
use signoff_introspect::settings::Settings;
use signoff_jose::VerifyingKeySet;
use signoff_kms::KeySet;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_tests::db::TestDb;
use signoff_tests::kms::TestKms;
use signoff_tests::seed;

const SERVICE: &str = "svc-intro";
const ISSUER: &str = "https://as.example.com";
const JSON: &str = "application/json";

struct Fixture {
    db: TestDb,
    settings: Settings,
    bearer: String,
}

async fn fixture() -> Fixture {
    let db = TestDb::start().await;
    let bearer = seed::tenant(&db.store, SERVICE, Some("org-1")).await;
    let settings = Settings {
        tenant: "oauth-tenant".into(),
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
        bearer,
    }
}

/// `IntrospectionRequest.to_json()` of authlete 1.3.0.
fn sdk_request(token: &str, scopes: Value, subject: Value) -> String {
    json!({"token": token, "scopes": scopes, "subject": subject,
        "clientCertificate": null, "dpop": null, "htm": null, "htu": null,
        "resources": null, "uri": null, "message": null, "headers": null,
        "requiredComponents": null, "acrValues": null, "maxAge": 0,
        "dpopNonceRequired": false})
    .to_string()
}

/// `StandardIntrospectionRequest.to_json()` of authlete 1.3.0.
fn sdk_standard_request(parameters: &str, rs_uri: Value, accept: Value) -> String {
    json!({"parameters": parameters, "withHiddenProperties": false, "rsUri": rs_uri,
        "httpAcceptHeader": accept, "introspectionSignAlg": null,
        "introspectionEncryptionAlg": null, "introspectionEncryptionEnc": null,
        "sharedKeyForSign": null, "sharedKeyForEncryption": null,
        "publicKeyForEncryption": null})
    .to_string()
}

impl Fixture {
    async fn post_as(
        &self,
        bearer: Option<&str>,
        api: &str,
        body: &str,
        keys: Option<&KeySet>,
    ) -> (u16, Value) {
        let authorization = bearer.map(|b| format!("Bearer {b}"));
        let request = seed::post(
            &format!("/api/{SERVICE}/auth/{api}"),
            authorization.as_deref(),
            Some(JSON),
            body,
        );
        let response = handle(&self.db.store, &self.settings, keys, request)
            .await
            .expect("the handler never fails");
        assert_eq!(response.headers()["cache-control"], "no-store");
        seed::parts(response)
    }

    async fn introspect(&self, body: &str) -> Value {
        let (status, result) = self
            .post_as(Some(&self.bearer), "introspection", body, None)
            .await;
        assert_eq!(status, 200, "{result}");
        result
    }

    async fn standard(&self, body: &str, keys: Option<&KeySet>) -> Value {
        let (status, result) = self
            .post_as(Some(&self.bearer), "introspection/standard", body, keys)
            .await;
        assert_eq!(status, 200, "{result}");
        result
    }
}

fn access(value: &str) -> TokenRecord {
    TokenRecord {
        client_id: "26478243745571".into(),
        subject: Some("john".into()),
        session_id: Some("sess-1".into()),
        scope: Some("history.read timeline.read".into()),
        ..seed::token(SERVICE, value, TokenType::Access, "unused")
    }
}

#[tokio::test]
async fn a_resource_server_learns_whether_to_serve_the_request() {
    let f = fixture().await;
    let record = access("at-1");
    seed::register(&f.db.store, vec![record.clone()]).await;

    let ok = f
        .introspect(&sdk_request("at-1", json!(["history.read"]), json!("john")))
        .await;
    assert_eq!(
        ok,
        json!({
            "resultCode": "A056001",
            "resultMessage": "[A056001] The access token is valid.",
            "action": "OK",
            "responseContent": "Bearer error=\"invalid_request\"",
            "existent": true, "usable": true, "sufficient": true, "refreshable": false,
            "clientId": 26478243745571_i64, "clientIdAliasUsed": false,
            "subject": "john", "scopes": ["history.read", "timeline.read"],
            "expiresAt": record.expires_at * 1000,
        })
    );

    let forbidden = f
        .introspect(&sdk_request(
            "at-1",
            json!(["history.read", "admin"]),
            Value::Null,
        ))
        .await;
    assert_eq!(forbidden["action"], "FORBIDDEN");
    assert_eq!(forbidden["resultCode"], "A064302");
    assert_eq!(
        forbidden["responseContent"],
        "Bearer error=\"insufficient_scope\",error_description=\"[A064302] The access token does not cover the required scope 'admin'.\",scope=\"history.read admin\""
    );
    assert_eq!(
        (forbidden["usable"].clone(), forbidden["sufficient"].clone()),
        (json!(true), json!(false))
    );

    let other_user = f
        .introspect(&sdk_request("at-1", Value::Null, json!("jane")))
        .await;
    assert_eq!(other_user["action"], "FORBIDDEN");
    assert_eq!(other_user["resultCode"], "A064303");

    let unknown = f
        .introspect(&sdk_request("never-issued", Value::Null, Value::Null))
        .await;
    assert_eq!(unknown["action"], "UNAUTHORIZED");
    assert_eq!(unknown["resultCode"], "A064301");
    assert_eq!(
        unknown["responseContent"],
        "Bearer error=\"invalid_token\",error_description=\"[A064301] The access token does not exist.\""
    );
    assert_eq!(unknown["existent"], false);

    let missing = f
        .introspect(&sdk_request("", Value::Null, Value::Null))
        .await;
    assert_eq!(missing["action"], "BAD_REQUEST");
    assert_eq!(missing["resultCode"], "A054201");
}

#[tokio::test]
async fn revoked_expired_and_foreign_tokens_are_unauthorized() {
    let f = fixture().await;
    let other = seed::tenant(&f.db.store, "svc-other", None).await;
    let foreign = TokenRecord {
        tenant: "svc-other".into(),
        ..access("at-foreign")
    };
    let expired = TokenRecord {
        client_id: "web".into(),
        ..seed::expired_token(SERVICE, "at-expired", 60)
    };
    let refresh = seed::token(SERVICE, "rt-1", TokenType::Refresh, "web");
    seed::register(&f.db.store, vec![access("at-1"), foreign, refresh]).await;
    // What DynamoDB's TTL has not removed yet (registration refuses expired tokens).
    seed::put_items(&f.db.store, vec![expired.to_item()]).await;
    let code = |v: Value| (v["action"].clone(), v["resultCode"].clone());

    assert_eq!(
        code(
            f.introspect(&sdk_request("at-1", Value::Null, Value::Null))
                .await
        ),
        (json!("OK"), json!("A056001"))
    );
    // Native SSO logout of the token's session: the next introspection says it is gone.
    let logout = seed::post(
        &format!("/api/{SERVICE}/nativesso/logout"),
        Some(&format!("Bearer {}", f.bearer)),
        Some(JSON),
        r#"{"sessionId":"sess-1"}"#,
    );
    let (status, _) = seed::parts(
        signoff_nativesso::handle(&f.db.store, &signoff_nativesso::Settings::default(), logout)
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        code(
            f.introspect(&sdk_request("at-1", Value::Null, Value::Null))
                .await
        ),
        (json!("UNAUTHORIZED"), json!("A064301"))
    );
    let expired = f
        .introspect(&sdk_request("at-expired", Value::Null, Value::Null))
        .await;
    assert_eq!(
        code(expired.clone()),
        (json!("UNAUTHORIZED"), json!("A065302"))
    );
    assert_eq!(
        (expired["existent"].clone(), expired["usable"].clone()),
        (json!(true), json!(false))
    );
    // A refresh token is not an access token to a resource server.
    assert_eq!(
        code(
            f.introspect(&sdk_request("rt-1", Value::Null, Value::Null))
                .await
        ),
        (json!("UNAUTHORIZED"), json!("A064301"))
    );
    // Another service's token does not exist for this one; its own credential sees it.
    assert_eq!(
        f.introspect(&sdk_request("at-foreign", Value::Null, Value::Null))
            .await["resultCode"],
        "A064301"
    );
    let (status, _) = f
        .post_as(
            Some(&other),
            "introspection",
            &sdk_request("at-foreign", Value::Null, Value::Null),
            None,
        )
        .await;
    assert_eq!(status, 403, "svc-other's credential is not for {SERVICE}");
}

#[tokio::test]
async fn the_api_credential_is_checked_before_anything_is_read() {
    let f = fixture().await;
    seed::register(&f.db.store, vec![access("at-1")]).await;
    let body = sdk_request("at-1", Value::Null, Value::Null);
    for (bearer, status, code) in [
        (None, 401, "A001202"),
        (Some("sgn_sat_not-a-credential"), 401, "A001203"),
    ] {
        let (got, result) = f.post_as(bearer, "introspection", &body, None).await;
        assert_eq!((got, result["resultCode"].as_str()), (status, Some(code)));
        assert!(result.get("action").is_none());
    }
    // The organization's credential works for every service of the organization.
    let org = seed::organization_token(&f.db.store, "org-1").await;
    let (status, result) = f.post_as(Some(&org), "introspection", &body, None).await;
    assert_eq!((status, result["action"].as_str()), (200, Some("OK")));
    // A body the SDK cannot have sent is an HTTP error in Authlete's shape.
    let (status, result) = f
        .post_as(Some(&f.bearer), "introspection", "{not json", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(result["resultCode"], "A054206");
    assert!(result["resultMessage"]
        .as_str()
        .unwrap()
        .starts_with(&format!("[A054206] /api/{SERVICE}/auth/introspection, ")));
}

#[tokio::test]
async fn an_authlete_introspection_costs_at_most_three_dynamodb_requests() {
    let f = fixture().await;
    seed::register(&f.db.store, vec![access("at-1")]).await;
    for api in ["introspection", "introspection/standard"] {
        for token in ["at-1", "unknown"] {
            let body = if api == "introspection" {
                sdk_request(token, Value::Null, Value::Null)
            } else {
                sdk_standard_request(&format!("token={token}"), Value::Null, Value::Null)
            };
            f.db.requests.reset();
            let (status, _) = f.post_as(Some(&f.bearer), api, &body, None).await;
            assert_eq!(status, 200);
            assert!(
                f.db.requests.total() <= 3,
                "{api} {token}: {:?}",
                f.db.requests.snapshot()
            );
        }
    }
}

#[tokio::test]
async fn the_standard_api_answers_what_the_authorization_server_relays() {
    let f = fixture().await;
    let record = TokenRecord {
        audience: vec!["https://rs.example.com".into()],
        ..access("at-1")
    };
    let refresh = seed::token(SERVICE, "rt-1", TokenType::Refresh, "web");
    seed::register(&f.db.store, vec![record.clone(), refresh]).await;
    let expected = json!({
        "active": true, "client_id": "26478243745571", "token_type": "Bearer", "sub": "john",
        "exp": record.expires_at, "iat": record.issued_at, "iss": ISSUER,
        "scope": "history.read timeline.read", "aud": "https://rs.example.com", "sid": "sess-1"
    });

    let result = f
        .standard(
            &sdk_standard_request(
                "token=at-1&token_type_hint=access_token",
                Value::Null,
                Value::Null,
            ),
            None,
        )
        .await;
    assert_eq!(result["action"], "OK");
    assert_eq!(result["resultCode"], "A145001");
    assert_eq!(
        result["resultMessage"],
        "[A145001] Introspection was performed successfully (type=access_token, active=true)."
    );
    let content: Value = serde_json::from_str(result["responseContent"].as_str().unwrap()).unwrap();
    assert_eq!(content, expected);

    // For another resource server, a token with audiences is inactive (Authlete's rsUri).
    for (rs, active) in [
        ("https://rs.example.com", true),
        ("https://elsewhere", false),
    ] {
        let result = f
            .standard(
                &sdk_standard_request("token=at-1", json!(rs), Value::Null),
                None,
            )
            .await;
        let content: Value =
            serde_json::from_str(result["responseContent"].as_str().unwrap()).unwrap();
        assert_eq!(content["active"], active, "{rs}");
        if !active {
            assert_eq!(content, json!({"active": false}));
        }
    }

    let result = f
        .standard(
            &sdk_standard_request("token=rt-1", Value::Null, Value::Null),
            None,
        )
        .await;
    assert_eq!(
        result["resultMessage"],
        "[A145001] Introspection was performed successfully (type=refresh_token, active=true)."
    );

    let missing = f
        .standard(
            &sdk_standard_request("token_type_hint=access_token", Value::Null, Value::Null),
            None,
        )
        .await;
    assert_eq!(missing["action"], "BAD_REQUEST");
    assert_eq!(missing["resultCode"], "A145204");
    let content: Value =
        serde_json::from_str(missing["responseContent"].as_str().unwrap()).unwrap();
    assert_eq!(content["error"], "invalid_request");

    // Revoked: inactive, and exactly that.
    signoff_store::Store::log_user_out(&f.db.store, SERVICE, "john", None, None)
        .await
        .unwrap();
    let result = f
        .standard(
            &sdk_standard_request("token=at-1", Value::Null, Value::Null),
            None,
        )
        .await;
    assert_eq!(result["responseContent"], "{\"active\":false}");
    assert!(result["resultMessage"]
        .as_str()
        .unwrap()
        .ends_with("active=false)."));
}

#[tokio::test]
async fn the_standard_api_signs_a_jwt_for_the_resource_server_when_asked() {
    let f = fixture().await;
    let record = access("at-1");
    seed::register(&f.db.store, vec![record.clone()]).await;
    let accept = json!("application/token-introspection+jwt");

    // Without a signing key there is no JWT to give.
    let result = f
        .standard(
            &sdk_standard_request("token=at-1", json!("https://rs"), accept.clone()),
            None,
        )
        .await;
    assert_eq!(
        (result["action"].as_str(), result["resultCode"].as_str()),
        (Some("BAD_REQUEST"), Some("A145214"))
    );

    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff").await;
    let keys = KeySet::new(kms.client.clone(), "alias/signoff".into(), vec![]);
    let verifier = VerifyingKeySet::new(keys.jwks().await.unwrap());
    // RFC 9701 needs the audience: rsUri.
    let result = f
        .standard(
            &sdk_standard_request("token=at-1", Value::Null, accept.clone()),
            Some(&keys),
        )
        .await;
    assert_eq!(result["resultCode"], "A145211");

    let result = f
        .standard(
            &sdk_standard_request("token=at-1", json!("https://rs"), accept.clone()),
            Some(&keys),
        )
        .await;
    assert_eq!(result["action"], "JWT");
    assert_eq!(result["resultCode"], "A145001");
    let claims = verifier
        .verify_jws(result["responseContent"].as_str().unwrap())
        .expect("signed by the published key");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "https://rs");
    assert_eq!(claims["token_introspection"]["active"], true);
    assert_eq!(claims["token_introspection"]["sub"], "john");
    assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
}
