//! Descope-compatible `POST /v1/auth/logout`, `POST /v1/auth/logoutall` and
//! `GET /v2/keys/{projectId}` against a real DynamoDB-compatible server, through the
//! function's handler.

use aws_lc_rs::hmac;
use aws_sdk_dynamodb::config::SharedInterceptor;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use signoff_descope::handle;
use signoff_descope::settings::Settings;
use signoff_jose::{Algorithm, SigningKey};
use signoff_store::item_key::TokenHash;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::project_keys::RefreshTokenSpec;
use signoff_tests::db::{ErrorInjector, TestDb};
use signoff_tests::event::HttpApiEvent;
use signoff_tests::seed::{self, parts, post};

const PROJECT: &str = "P2test";
const USER: &str = "user-1";

struct Project {
    db: TestDb,
    key: SigningKey,
}

/// A project with an ES256 key, registered through the same calls the admin tool makes.
async fn project() -> Project {
    project_with(None).await
}

/// [`project`] on a database whose client carries `faults`.
async fn project_with(faults: Option<SharedInterceptor>) -> Project {
    let db = TestDb::start_with(|_| {}, faults).await;
    seed::tenant(&db.store, PROJECT, None).await;
    let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    db.store
        .add_project_keys(PROJECT, &[key.public_jwk()])
        .await
        .unwrap();
    Project { db, key }
}

fn spec(session: &str) -> RefreshTokenSpec {
    let now = signoff_store::now_epoch_seconds();
    RefreshTokenSpec {
        project: PROJECT.into(),
        subject: USER.into(),
        dsub: None,
        session_id: Some(session.into()),
        grant_id: Some(format!("{session}-grant")),
        client_id: "web".into(),
        issuer: None,
        issued_at: now,
        expires_at: now + 3600,
    }
}

impl Project {
    /// Mints and registers a refresh JWT for `session`, plus `access` access tokens in its
    /// grant (not bound to the session) and `access` more bound to the session only.
    async fn login(&self, session: &str, access: usize) -> String {
        let spec = spec(session);
        let jwt = self
            .db
            .store
            .mint_refresh_jwt(&self.key, &spec)
            .await
            .unwrap();
        for i in 0..access {
            let base = spec.record(&jwt);
            let in_grant = TokenRecord {
                hash: TokenHash::of(&format!("{session}-grant-access-{i}")),
                token_type: TokenType::Access,
                session_id: None,
                ..base.clone()
            };
            let in_session = TokenRecord {
                hash: TokenHash::of(&format!("{session}-session-access-{i}")),
                token_type: TokenType::Access,
                grant_id: None,
                ..base
            };
            self.db
                .store
                .register_tokens(&[in_grant, in_session])
                .await
                .unwrap();
        }
        jwt
    }

    async fn call(&self, path: &str, authorization: Option<String>, body: &str) -> Response<Body> {
        call(&self.db, path, authorization, body).await
    }

    async fn logout(&self, jwt: &str) -> (u16, Value) {
        parts(
            self.call("/v1/auth/logout", Some(bearer(PROJECT, jwt)), "{}")
                .await,
        )
    }

    async fn live(&self, jwt: &str) -> bool {
        self.db
            .store
            .find_token(PROJECT, &TokenHash::of(jwt))
            .await
            .unwrap()
            .is_some()
    }
}

async fn call(
    db: &TestDb,
    path: &str,
    authorization: Option<String>,
    body: &str,
) -> Response<Body> {
    let request = post(
        path,
        authorization.as_deref(),
        Some("application/json"),
        body,
    );
    handle(&db.store, &Settings::default(), request)
        .await
        .expect("the handler never fails")
}

fn bearer(project: &str, jwt: &str) -> String {
    format!("Bearer {project}:{jwt}")
}

fn assert_error(response: &(u16, Value), status: u16, code: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    assert_eq!(response.1["errorCode"], code, "{}", response.1);
    let message = response.1["errorMessage"].as_str().expect("errorMessage");
    assert!(!message.is_empty());
    assert!(response.1["errorDescription"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
}

/// A JWT with `claims`, otherwise as the issuer would mint it.
fn jwt_with(key: &SigningKey, claims: Value) -> String {
    key.sign(&claims)
}

fn claims(exp_offset: i64) -> Value {
    let now = signoff_store::now_epoch_seconds();
    json!({"sub": USER, "iss": PROJECT, "iat": now, "exp": now + exp_offset, "drn": "DSR"})
}

/// Registers an already minted `jwt` for `session`.
async fn register(db: &TestDb, jwt: &str, session: &str, expires_at: i64) {
    let record = TokenRecord {
        expires_at,
        ..spec(session).record(jwt)
    };
    db.store.register_tokens(&[record]).await.unwrap();
}

#[tokio::test]
async fn logout_ends_the_session_and_the_grant_and_clears_the_cookies() {
    let p = project().await;
    let jwt = p.login("s1", 3).await;
    let other = p.login("s2", 2).await;
    assert_eq!(seed::count_all_tokens(&p.db.store).await, 7 + 5);

    let response = p
        .call("/v1/auth/logout", Some(bearer(PROJECT, &jwt)), "")
        .await;
    let headers = response.headers().clone();
    let (status, body) = parts(response);
    assert_eq!(status, 200, "{body}");
    // Descope's JWT response, every field present and empty.
    for (field, empty) in [
        ("sessionJwt", json!("")),
        ("refreshJwt", json!("")),
        ("cookieDomain", json!("")),
        ("cookiePath", json!("")),
        ("cookieMaxAge", json!(0)),
        ("cookieExpiration", json!(0)),
        ("firstSeen", json!(false)),
        ("idpResponse", json!({})),
        ("sessionExpiration", json!(0)),
        ("externalToken", json!("")),
        ("claims", json!({})),
        ("tenantSSOID", json!("")),
        ("trustedDeviceJwt", json!("")),
        ("nextRefreshSeconds", json!(0)),
        ("cookieName", json!("")),
        ("sessionCookieName", json!("")),
        ("sessionCookieDomain", json!("")),
    ] {
        assert_eq!(body[field], empty, "{field}");
    }
    assert_eq!(body["user"]["userId"], "");
    assert_eq!(body["user"]["loginIds"], json!([]));
    assert_eq!(body.as_object().unwrap().len(), 18);
    let cookies: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for name in ["DS", "DSR"] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=;")))
            .unwrap_or_else(|| panic!("no deletion cookie for {name}: {cookies:?}"));
        for attribute in [
            "Max-Age=0",
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "Path=/",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
        ] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
    }
    assert_eq!(headers["cache-control"], "no-store");

    // The refresh token, its session's tokens and its grant's tokens are gone; the other
    // session is untouched, and logging out again says so.
    assert!(!p.live(&jwt).await);
    assert_eq!(
        seed::count_session_tokens(&p.db.store, PROJECT, "s1").await,
        0
    );
    assert_eq!(seed::count_all_tokens(&p.db.store).await, 5);
    assert!(p.live(&other).await);
    assert_error(&p.logout(&jwt).await, 401, "E064001");
    // The session is ended: a token registered for it now is refused.
    let late = TokenRecord {
        hash: TokenHash::of("late"),
        ..spec("s1").record(&jwt)
    };
    assert!(p.db.store.register_tokens(&[late]).await.is_err());
}

#[tokio::test]
async fn bodies_and_bearers_descope_clients_send() {
    let p = project().await;
    // Absent body (Go SDK), {} (Python, JS), unknown logoutType values (ignored), a
    // management key appended as a third part, and a form content type (curl -d).
    for (i, (body, suffix)) in [
        ("", ""),
        ("{}", ""),
        (r#"{"logoutType":["everything","unknown"]}"#, ""),
        ("{}", ":K2managementKey"),
    ]
    .into_iter()
    .enumerate()
    {
        let jwt = p.login(&format!("s{i}"), 1).await;
        let auth = format!("{}{suffix}", bearer(PROJECT, &jwt));
        let (status, body_out) = parts(p.call("/v1/auth/logout", Some(auth), body).await);
        assert_eq!(status, 200, "{body}: {body_out}");
        assert!(!p.live(&jwt).await);
    }
    let jwt = p.login("form", 0).await;
    let request = post(
        "/v1/auth/logout",
        Some(&bearer(PROJECT, &jwt)),
        Some("application/x-www-form-urlencoded"),
        "{}",
    );
    let response = handle(&p.db.store, &Settings::default(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Bad input: 4xx in Descope's shape, nothing revoked.
    let jwt = p.login("kept", 1).await;
    let auth = Some(bearer(PROJECT, &jwt));
    for (auth, body, status, code) in [
        (None, "{}", 401, "E011002"),
        (Some(format!("Bearer {jwt}")), "{}", 401, "E011004"),
        (Some(format!("Bearer {PROJECT}:")), "{}", 401, "E011004"),
        (Some(format!("Basic {PROJECT}:{jwt}")), "{}", 401, "E011004"),
        (auth.clone(), r#"{"logoutType":"all"}"#, 400, "E011003"),
        (auth.clone(), r#"{"logoutType":[1]}"#, 400, "E011003"),
        (auth.clone(), "{", 400, "E011001"),
        (auth.clone(), "[]", 400, "E011001"),
        (auth.clone(), &"x".repeat(9000), 400, "E011001"),
    ] {
        let response = parts(p.call("/v1/auth/logout", auth, body).await);
        assert_error(&response, status, code);
    }
    assert!(p.live(&jwt).await);

    // Wrong method, unknown path.
    let request = match auth.as_deref() {
        Some(value) => HttpApiEvent::get("/v1/auth/logout").header("authorization", value),
        None => HttpApiEvent::get("/v1/auth/logout"),
    }
    .request();
    let response = handle(&p.db.store, &Settings::default(), request)
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_error(&parts(response), 405, "E011001");
    assert_error(
        &parts(p.call("/v1/auth/other", auth, "").await),
        404,
        "E011001",
    );
    assert!(p.live(&jwt).await);
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused_before_anything_is_touched() {
    let p = project().await;
    let genuine = p.login("s1", 2).await;
    let before = seed::count_all_tokens(&p.db.store).await;
    let [header, payload, signature]: [&str; 3] =
        genuine.split('.').collect::<Vec<_>>().try_into().unwrap();

    // Tampered payload: another user, the original signature.
    let mut forged_claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    forged_claims["sub"] = json!("admin");
    let tampered = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(forged_claims.to_string())
    );
    // Wrong kid: a key the project does not have.
    let stranger = SigningKey::generate(Algorithm::Es256, Some("other-kid")).unwrap();
    let wrong_kid = stranger.sign(&claims(3600));
    // A kid of the project, signed by another key.
    let impostor = SigningKey::generate(Algorithm::Es256, Some(p.key.kid())).unwrap();
    let wrong_key = impostor.sign(&claims(3600));
    // alg none, and HS256 keyed with the project's public key (algorithm confusion).
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": p.key.kid()}).to_string()),
        URL_SAFE_NO_PAD.encode(claims(3600).to_string())
    );
    let hs_header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": p.key.kid()}).to_string());
    let hs_payload = URL_SAFE_NO_PAD.encode(claims(3600).to_string());
    let hs_key = hmac::Key::new(hmac::HMAC_SHA256, p.key.public_pem().as_bytes());
    let hs_sig = hmac::sign(&hs_key, format!("{hs_header}.{hs_payload}").as_bytes());
    let confused = format!(
        "{hs_header}.{hs_payload}.{}",
        URL_SAFE_NO_PAD.encode(hs_sig.as_ref())
    );
    // Expired a second past the leeway; another issuer.
    let expired = jwt_with(&p.key, claims(-(signoff_jose::LEEWAY_SECONDS + 1)));
    register(
        &p.db,
        &expired,
        "s1",
        signoff_store::now_epoch_seconds() + 60,
    )
    .await;
    let mut foreign_issuer = claims(3600);
    foreign_issuer["iss"] = json!("https://api.descope.com/P2other");
    let foreign_issuer = jwt_with(&p.key, foreign_issuer);
    register(
        &p.db,
        &foreign_issuer,
        "s1",
        signoff_store::now_epoch_seconds() + 3600,
    )
    .await;

    for (token, code) in [
        (tampered.as_str(), "E061003"),
        (&wrong_kid, "E061003"),
        (&wrong_key, "E061003"),
        (&unsigned, "E061002"),
        (&confused, "E061002"),
        ("not-a-jwt", "E061002"),
        (&expired, "E061004"),
        (&foreign_issuer, "E061005"),
    ] {
        assert_error(&p.logout(token).await, 401, code);
        let all = parts(
            p.call("/v1/auth/logoutall", Some(bearer(PROJECT, token)), "{}")
                .await,
        );
        assert_error(&all, 401, code);
    }
    // Unknown project; a token of this project presented for another project that has
    // its own keys.
    assert_error(
        &parts(
            p.call("/v1/auth/logout", Some(bearer("P2nobody", &genuine)), "")
                .await,
        ),
        401,
        "E061001",
    );
    seed::tenant(&p.db.store, "P2other", None).await;
    let other_key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    p.db.store
        .add_project_keys("P2other", &[other_key.public_jwk()])
        .await
        .unwrap();
    assert_error(
        &parts(
            p.call("/v1/auth/logout", Some(bearer("P2other", &genuine)), "")
                .await,
        ),
        401,
        "E061003",
    );

    assert_eq!(seed::count_all_tokens(&p.db.store).await, before + 2);
    assert!(p.live(&genuine).await);
}

#[tokio::test]
async fn expiry_has_five_seconds_of_leeway_and_issuer_urls_are_accepted() {
    let p = project().await;
    let now = signoff_store::now_epoch_seconds();
    // Expired 3 s ago by its claim, inside the leeway; registered, as usual, to expire
    // when the JWT does.
    let within = jwt_with(&p.key, claims(-3));
    register(&p.db, &within, "a", now - 3).await;
    let (status, body) = p.logout(&within).await;
    assert_eq!(status, 200, "{body}");

    let mut url_issuer = claims(3600);
    url_issuer["iss"] = json!(format!("https://api.descope.com/{PROJECT}"));
    let url_issuer = jwt_with(&p.key, url_issuer);
    register(&p.db, &url_issuer, "b", now + 3600).await;
    assert_eq!(p.logout(&url_issuer).await.0, 200);
}

#[tokio::test]
async fn rs256_keys_registered_as_pem_verify() {
    let p = project().await;
    let rsa = SigningKey::generate(Algorithm::Rs256, Some("rsa-1")).unwrap();
    let jwk = signoff_jose::Jwk::from_pem(&rsa.public_pem(), Some("rsa-1")).unwrap();
    p.db.store.add_project_keys(PROJECT, &[jwk]).await.unwrap();
    let jwt =
        p.db.store
            .mint_refresh_jwt(&rsa, &spec("rsa"))
            .await
            .unwrap();
    assert_eq!(p.logout(&jwt).await.0, 200);
    assert!(!p.live(&jwt).await);
    // An RSA key never checks an ES256-labelled token, even with its kid.
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "rsa-1"}).to_string());
    let relabelled = format!("{header}.{}", jwt.split_once('.').unwrap().1);
    assert_error(&p.logout(&relabelled).await, 401, "E061003");
}

#[tokio::test]
async fn unregistered_revoked_access_and_expired_records_count_as_logged_out() {
    let p = project().await;
    // Validly signed but never registered.
    let (unregistered, _) = spec("x").mint(&p.key);
    assert_error(&p.logout(&unregistered).await, 401, "E064001");
    // Registered as an access token.
    let (as_access, record) = spec("y").mint(&p.key);
    let record = TokenRecord {
        token_type: TokenType::Access,
        ..record
    };
    p.db.store.register_tokens(&[record]).await.unwrap();
    assert_error(&p.logout(&as_access).await, 401, "E061002");
    // A record whose own expiry has passed (TTL has not removed it yet).
    let (stale, record) = spec("z").mint(&p.key);
    let mut item = TokenRecord {
        expires_at: signoff_store::now_epoch_seconds() - signoff_jose::LEEWAY_SECONDS - 1,
        ..record
    }
    .to_item();
    item.remove("session_key");
    p.db.store
        .client()
        .put_item()
        .table_name(p.db.store.table_name())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    assert_error(&p.logout(&stale).await, 401, "E064001");
    // A record left behind in a session that has ended (index lag outlived the logout):
    // no longer usable, and a logout with it finishes the cleanup.
    let ended = p.login("ended", 0).await;
    p.db.store.end_session(PROJECT, "ended").await.unwrap();
    register_raw(&p.db, &spec("ended").record(&ended)).await;
    assert!(!p.live(&ended).await);
    assert_eq!(p.logout(&ended).await.0, 200);
    assert_error(&p.logout(&ended).await, 401, "E064001");
}

/// Writes a token record directly, bypassing registration's session check.
async fn register_raw(db: &TestDb, record: &TokenRecord) {
    db.store
        .client()
        .put_item()
        .table_name(db.store.table_name())
        .set_item(Some(record.to_item()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn logout_all_revokes_every_token_of_the_user_however_many() {
    let p = project().await;
    // 5,000 tokens of the user across five sessions, registered as the authorization
    // server would; the demo helper files them under its subject.
    let user = signoff_store::demo::SUBJECT;
    for s in 0..5 {
        seed::session_tokens(
            &p.db.store,
            PROJECT,
            &format!("bulk-{s}"),
            1000,
            &format!("b{s}"),
        )
        .await;
    }
    let mut login = spec("bulk-0");
    login.subject = user.into();
    let jwt = p.db.store.mint_refresh_jwt(&p.key, &login).await.unwrap();
    // Another user of the project, and the same user id in another project: untouched.
    let bystander = p.login("bystander", 2).await;
    seed::tenant(&p.db.store, "P2else", None).await;
    seed::session_tokens(&p.db.store, "P2else", "bulk-0", 10, "e").await;
    let kept = seed::count_all_tokens(&p.db.store).await - 5001;
    assert_eq!(kept, 5 + 10);

    p.db.requests.reset();
    let response = p
        .call("/v1/auth/logoutall", Some(bearer(PROJECT, &jwt)), "{}")
        .await;
    assert_eq!(response.headers().get_all("set-cookie").iter().count(), 2);
    let (status, body) = parts(response);
    assert_eq!(status, 200, "{body}");
    // Through the bulk-delete engine: 25 deletes per batch call. Beside the index pages:
    // three reads (keys, token, its markers together), the user's, session's and grant's
    // marks and the token's own delete.
    let batches = p.db.requests.get("BatchWriteItem");
    assert_eq!(batches, 5001u64.div_ceil(25));
    let bound = batches + p.db.requests.get("Query") + 7;
    assert!(
        p.db.requests.total() <= bound,
        "{:?} > {bound}",
        p.db.requests.snapshot()
    );
    assert_eq!(seed::count_all_tokens(&p.db.store).await, kept);
    assert!(p.live(&bystander).await);
    assert_eq!(
        seed::count_session_tokens(&p.db.store, "P2else", "bulk-0").await,
        10
    );
    assert_error(&p.logout(&jwt).await, 401, "E064001");
}

#[tokio::test]
async fn logout_all_acts_on_dsub_when_present() {
    let p = project().await;
    let mut descope_user = spec("d1");
    descope_user.subject = "external-sub".into();
    descope_user.dsub = Some("U2descope".into());
    let jwt =
        p.db.store
            .mint_refresh_jwt(&p.key, &descope_user)
            .await
            .unwrap();
    let mut other_session = descope_user.clone();
    other_session.session_id = Some("d2".into());
    other_session.grant_id = None;
    let second =
        p.db.store
            .mint_refresh_jwt(&p.key, &other_session)
            .await
            .unwrap();
    let (status, _) = parts(
        p.call("/v1/auth/logoutall", Some(bearer(PROJECT, &jwt)), "")
            .await,
    );
    assert_eq!(status, 200);
    assert!(!p.live(&second).await);
}

#[tokio::test]
async fn the_keys_endpoint_serves_the_public_jwks() {
    let p = project().await;
    let rsa = SigningKey::generate(Algorithm::Rs256, Some("rsa-1")).unwrap();
    p.db.store
        .add_project_keys(PROJECT, &[rsa.public_jwk()])
        .await
        .unwrap();
    let get =
        |project: &str| -> Request { HttpApiEvent::get(&format!("/v2/keys/{project}")).request() };
    let response = handle(&p.db.store, &Settings::default(), get(PROJECT))
        .await
        .unwrap();
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let (status, body) = parts(response);
    assert_eq!(status, 200, "{body}");
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let es = keys.iter().find(|k| k["kid"] == p.key.kid()).unwrap();
    assert_eq!(
        (es["kty"].as_str(), es["alg"].as_str(), es["crv"].as_str()),
        (Some("EC"), Some("ES256"), Some("P-256"))
    );
    let rs = keys.iter().find(|k| k["kid"] == "rsa-1").unwrap();
    assert_eq!(
        (
            rs["kty"].as_str(),
            rs["alg"].as_str(),
            rs["use"].as_str(),
            rs["e"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"), Some("AQAB"))
    );
    assert!(keys.iter().all(|k| k.get("d").is_none()));
    // The served keys verify the project's tokens.
    let served: Vec<signoff_jose::Jwk> = keys
        .iter()
        .map(|k| signoff_jose::Jwk::from_json(k).unwrap())
        .collect();
    let jwt = p.key.sign(&claims(60));
    assert!(
        signoff_jose::verify(&jwt, &served, PROJECT, signoff_store::now_epoch_seconds()).is_ok()
    );

    let (status, body) = parts(
        handle(&p.db.store, &Settings::default(), get("P2none"))
            .await
            .unwrap(),
    );
    assert_error(&(status, body), 404, "E061001");
    // A removed key stops verifying at once.
    assert!(p
        .db
        .store
        .remove_project_key(PROJECT, p.key.kid())
        .await
        .unwrap());
    let jwt = p.login("after-removal", 0).await;
    assert_error(&p.logout(&jwt).await, 401, "E061003");
}

#[tokio::test]
async fn keys_are_public_only_and_kids_are_not_reused() {
    let p = project().await;
    let private = json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "d"});
    assert!(signoff_jose::Jwk::from_json(&private).is_err());
    // Same kid, other material: refused; same key again: a no-op.
    let impostor = SigningKey::generate(Algorithm::Es256, Some(p.key.kid())).unwrap();
    assert!(p
        .db
        .store
        .add_project_keys(PROJECT, &[impostor.public_jwk()])
        .await
        .is_err());
    let keys =
        p.db.store
            .add_project_keys(PROJECT, &[p.key.public_jwk()])
            .await
            .unwrap();
    assert_eq!(keys.len(), 1);
    // Keys need an existing project.
    assert!(p
        .db
        .store
        .add_project_keys("P2missing", &[p.key.public_jwk()])
        .await
        .is_err());
}

#[tokio::test]
async fn store_trouble_is_a_retryable_503_that_leaks_nothing() {
    let store = seed::unreachable_store();
    let request = post("/v1/auth/logout", Some("Bearer P2x:a.b.c"), None, "");
    let response = handle(&store, &Settings::default(), request).await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = parts(response);
    assert_error(&(status, body.clone()), 503, "E130503");
    let text = body.to_string();
    for internal in ["dispatch", "127.0.0.1", "Dynamo", "GetItem", "connect"] {
        assert!(!text.contains(internal), "{text} leaks {internal}");
    }
}

#[tokio::test]
async fn a_logout_that_fails_midway_says_so_and_a_retry_finishes_it() {
    // The session's two batches go through; the grant's fail until the retries give up.
    let faults = ErrorInjector::new(
        "BatchWriteItem",
        "ProvisionedThroughputExceededException",
        2,
        30,
    );
    let p = project_with(Some(SharedInterceptor::new(faults.clone()))).await;
    let jwt = p.login("s1", 30).await;
    let response = p.logout(&jwt).await;
    assert_error(&response, 503, "E130503");
    // Not everything is gone, and the presented token's record is what is left for the
    // retry to find (its session is already ended).
    assert!(seed::count_all_tokens(&p.db.store).await > 1);
    assert!(!p.live(&jwt).await);
    while faults.remaining() > 0 {
        // Use up the injected failures: the store has recovered.
        let _ = p.db.store.client().batch_write_item().send().await;
    }
    let (status, body) = p.logout(&jwt).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(seed::count_all_tokens(&p.db.store).await, 0);
    assert_error(&p.logout(&jwt).await, 401, "E064001");
}

#[tokio::test]
async fn a_logout_all_that_fails_midway_leaves_the_token_for_the_retry() {
    let faults = ErrorInjector::new(
        "BatchWriteItem",
        "ProvisionedThroughputExceededException",
        1,
        30,
    );
    let p = project_with(Some(SharedInterceptor::new(faults.clone()))).await;
    for s in 0..3 {
        seed::session_tokens(
            &p.db.store,
            PROJECT,
            &format!("m{s}"),
            100,
            &format!("m{s}"),
        )
        .await;
    }
    let mut login = spec("m0");
    login.subject = signoff_store::demo::SUBJECT.into();
    let jwt = p.db.store.mint_refresh_jwt(&p.key, &login).await.unwrap();
    let all = || p.call("/v1/auth/logoutall", Some(bearer(PROJECT, &jwt)), "");
    assert_error(&parts(all().await), 503, "E130503");
    assert!(seed::count_all_tokens(&p.db.store).await > 1);
    // Every token the user had counts as gone already: the user's logout mark is written
    // before anything is deleted.
    assert!(p
        .db
        .store
        .find_token(PROJECT, &TokenHash::of("m1-7"))
        .await
        .unwrap()
        .is_none());
    while faults.remaining() > 0 {
        let _ = p.db.store.client().batch_write_item().send().await;
    }
    assert_eq!(parts(all().await).0, 200);
    assert_eq!(seed::count_all_tokens(&p.db.store).await, 0);
}

#[tokio::test]
async fn tokens_issued_before_a_logout_all_are_gone_even_if_the_index_missed_them() {
    let p = project().await;
    let jwt = p.login("s1", 0).await;
    let (status, _) = parts(
        p.call("/v1/auth/logoutall", Some(bearer(PROJECT, &jwt)), "")
            .await,
    );
    assert_eq!(status, 200);
    // A token issued before the logout-all whose record lands after it (a registration
    // racing the logout, or one the by-subject index had not listed yet).
    let now = signoff_store::now_epoch_seconds();
    let straggler = TokenRecord {
        hash: TokenHash::of("straggler"),
        session_id: Some("s9".into()),
        issued_at: now - 30,
        ..spec("s9").record("x")
    };
    let after = TokenRecord {
        hash: TokenHash::of("new-login"),
        session_id: Some("s10".into()),
        issued_at: now + 2,
        ..spec("s10").record("y")
    };
    p.db.store
        .register_tokens(&[straggler, after])
        .await
        .unwrap();
    assert!(p
        .db
        .store
        .find_token(PROJECT, &TokenHash::of("straggler"))
        .await
        .unwrap()
        .is_none());
    assert!(p
        .db
        .store
        .find_token(PROJECT, &TokenHash::of("new-login"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn logout_all_acts_on_the_registered_user_and_refuses_a_mismatch() {
    let p = project().await;
    // Registered under another user than the JWT names.
    let mut mismatched = spec("x1");
    let (jwt, record) = mismatched.mint(&p.key);
    let record = TokenRecord {
        subject: Some("someone-else".into()),
        ..record
    };
    p.db.store.register_tokens(&[record]).await.unwrap();
    let response = parts(
        p.call("/v1/auth/logoutall", Some(bearer(PROJECT, &jwt)), "")
            .await,
    );
    assert_error(&response, 401, "E061002");
    assert!(p.live(&jwt).await);
    // Registered under `sub` while the JWT also carries `dsub`: the registered user goes.
    mismatched.dsub = Some("U2dsub".into());
    mismatched.session_id = Some("x2".into());
    let (jwt, record) = mismatched.mint(&p.key);
    let record = TokenRecord {
        subject: Some(USER.into()),
        ..record
    };
    p.db.store.register_tokens(&[record]).await.unwrap();
    let other = p.login("x3", 0).await;
    let (status, _) = parts(
        p.call("/v1/auth/logoutall", Some(bearer(PROJECT, &jwt)), "")
            .await,
    );
    assert_eq!(status, 200);
    assert!(
        !p.live(&other).await,
        "the registered user's other tokens are revoked"
    );
}

// ---- POST /v1/mgmt/user/logout ----

/// A management key of `project`, issued as the admin tool issues it.
async fn management_key(db: &TestDb, project: &str) -> String {
    db.store
        .issue_credential(
            signoff_store::credentials::CredentialScope::Management {
                project: project.into(),
            },
            "test",
        )
        .await
        .unwrap()
}

async fn management_logout(
    db: &TestDb,
    authorization: Option<String>,
    body: Value,
) -> (u16, Value) {
    parts(call(db, "/v1/mgmt/user/logout", authorization, &body.to_string()).await)
}

#[tokio::test]
async fn a_management_logout_ends_every_session_of_the_user_named_by_id_or_login_id() {
    let p = project().await;
    let key = management_key(&p.db, PROJECT).await;
    let first = p.login("s1", 2).await;
    let second = p.login("s2", 2).await;
    let bystander = {
        let mut spec = spec("other");
        spec.subject = "user-2".into();
        p.db.store.mint_refresh_jwt(&p.key, &spec).await.unwrap()
    };
    // By user id, as the Go SDK sends it: both fields, the unused one empty.
    let response = management_logout(
        &p.db,
        Some(bearer(PROJECT, &key)),
        json!({"userId": USER, "loginId": "", "sessionTypes": null}),
    )
    .await;
    assert_eq!(response, (200, json!({})));
    assert!(!p.live(&first).await && !p.live(&second).await);
    assert!(p.live(&bystander).await, "another user's session stays");
    assert_error(&p.logout(&first).await, 401, "E064001");
    // Again: the user is known by the mark, so the retry of a call that timed out succeeds.
    let again =
        management_logout(&p.db, Some(bearer(PROJECT, &key)), json!({"userId": USER})).await;
    assert_eq!(again, (200, json!({})));

    // By login id, which registration recorded for the user.
    let later = p.login("s3", 1).await;
    p.db.store
        .record_aliases(&[signoff_store::users::UserAlias {
            tenant: PROJECT.into(),
            subject: USER.into(),
            kind: signoff_store::users::AliasKind::LoginId,
            value: "user-1@example.com".into(),
            expires_at: signoff_store::now_epoch_seconds() + 3600,
        }])
        .await
        .unwrap();
    let response = management_logout(
        &p.db,
        Some(format!("Bearer {PROJECT}:{key}")),
        json!({"loginId": "user-1@example.com"}),
    )
    .await;
    assert_eq!(response.0, 200, "{}", response.1);
    assert!(!p.live(&later).await);
}

#[tokio::test]
async fn a_management_logout_refuses_unknown_users_bad_keys_and_other_projects_keys() {
    let p = project().await;
    let key = management_key(&p.db, PROJECT).await;
    let jwt = p.login("s1", 1).await;
    let auth = || Some(bearer(PROJECT, &key));
    assert_error(
        &management_logout(&p.db, auth(), json!({"userId": "nobody"})).await,
        404,
        "E112102",
    );
    assert_error(
        &management_logout(&p.db, auth(), json!({"loginId": "nobody@example.com"})).await,
        404,
        "E112102",
    );
    assert_error(
        &management_logout(&p.db, auth(), json!({})).await,
        400,
        "E011002",
    );
    assert_error(
        &management_logout(&p.db, auth(), json!({"userId": "", "loginId": ""})).await,
        400,
        "E011002",
    );
    assert_error(
        &management_logout(&p.db, auth(), json!({"userId": 7})).await,
        400,
        "E011003",
    );
    assert_error(
        &management_logout(&p.db, None, json!({"userId": USER})).await,
        401,
        "E011002",
    );
    // A key that is not one, a refresh JWT in its place, a service token, and another
    // project's key: all the same 401, so none tells a caller more than the others.
    seed::tenant(&p.db.store, "P2other", None).await;
    let other_key = management_key(&p.db, "P2other").await;
    let service_token =
        p.db.store
            .issue_credential(
                signoff_store::credentials::CredentialScope::Service {
                    tenant: PROJECT.into(),
                },
                "test",
            )
            .await
            .unwrap();
    for presented in [
        "sgn_mk_not-a-key".to_owned(),
        jwt.clone(),
        service_token,
        other_key.clone(),
    ] {
        assert_error(
            &management_logout(
                &p.db,
                Some(bearer(PROJECT, &presented)),
                json!({"userId": USER}),
            )
            .await,
            401,
            "E011004",
        );
    }
    // The other project's key works for its own project only, where the user is unknown.
    assert_error(
        &management_logout(
            &p.db,
            Some(bearer("P2other", &other_key)),
            json!({"userId": USER}),
        )
        .await,
        404,
        "E112102",
    );
    assert!(p.live(&jwt).await, "nothing was revoked");
}
