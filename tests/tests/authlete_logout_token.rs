//! Authlete's `POST /api/{serviceId}/backchannel/logout/token` against a real
//! DynamoDB-compatible server and a local KMS (moto): a logout token per OpenID Connect
//! Back-Channel Logout 1.0 (errata 1) for a client, in Authlete's answer shape, and every
//! refusal in it. End to end, through the compiled binaries behind the local gateway, a
//! relying party written only on an independent library in another language (Node `jose`,
//! pinned; `tests/clients/node/logout_token_rp.mjs`) validates the tokens as section 2.6
//! says, with the keys the introspection function publishes.
//!
//! The end-to-end test needs `cargo build --workspace --bins` and the pinned clients:
//! `scripts/test` does both.

use std::sync::Arc;

use aws_sdk_kms::types::KeySpec;
use serde_json::{json, Value};
use signoff_jose::VerifyingKeySet;
use signoff_kms::KeySet;
use signoff_store::backchannel::{BackchannelLogout, Reach};
use signoff_tests::db::TestDb;
use signoff_tests::gateway::Gateway;
use signoff_tests::kms::TestKms;
use signoff_tests::paths::run_node_client;
use signoff_tests::seed;

const SERVICE: &str = "715948317";
const ISSUER: &str = "https://as.example";
const PATH: &str = "/api/715948317/backchannel/logout/token";

struct Fixture {
    db: TestDb,
    service_token: String,
    keys: Arc<KeySet>,
    _kms: TestKms,
    settings: signoff_nativesso::Settings,
}

async fn fixture() -> Fixture {
    let db = TestDb::start().await;
    let service_token = seed::tenant(&db.store, SERVICE, None).await;
    for client in ["web", "native", "quiet"] {
        seed::client(&db.store, SERVICE, client, true).await;
    }
    let store = &db.store;
    let web = BackchannelLogout::new("https://web.example/bcl?x=1", false, Reach::Public).unwrap();
    store
        .set_backchannel_logout(SERVICE, "web", Some(&web))
        .await
        .unwrap();
    let native = BackchannelLogout::new("https://native.example/bcl", true, Reach::Public).unwrap();
    store
        .set_backchannel_logout(SERVICE, "native", Some(&native))
        .await
        .unwrap();
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff").await;
    let keys = Arc::new(KeySet::new(
        kms.client.clone(),
        "alias/signoff".into(),
        vec![],
    ));
    let settings = signoff_nativesso::Settings {
        logout_tokens: Some(signoff_nativesso::LogoutTokens {
            issuer: ISSUER.into(),
            tenant: SERVICE.into(),
            keys: keys.clone(),
        }),
        ..Default::default()
    };
    Fixture {
        db,
        service_token,
        keys,
        _kms: kms,
        settings,
    }
}

impl Fixture {
    async fn call(&self, body: &str) -> (u16, Value) {
        self.call_with(&self.settings, body).await
    }

    async fn call_with(&self, settings: &signoff_nativesso::Settings, body: &str) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.service_token);
        self.send(settings, PATH, Some(&bearer), body).await
    }

    /// `body` to `path` with `authorization`, through the handler.
    async fn send(
        &self,
        settings: &signoff_nativesso::Settings,
        path: &str,
        authorization: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let request = seed::post(path, authorization, Some("application/json"), body);
        seed::parts(
            signoff_nativesso::handle(&self.db.store, settings, request)
                .await
                .unwrap(),
        )
    }

    /// The claims of `token`, after checking its header and signature with the published
    /// keys.
    async fn verified(&self, token: &str) -> serde_json::Map<String, Value> {
        use base64::Engine;
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        let jwks = self.keys.jwks().await.unwrap().to_vec();
        assert_eq!(
            header,
            json!({"typ": "logout+jwt", "alg": "ES256", "kid": jwks[0].kid})
        );
        VerifyingKeySet::new(&jwks)
            .verify_jws(token)
            .expect("signed by the published key")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_token_for_a_client_in_authletes_answer_shape() {
    let f = fixture().await;
    let (status, answer) = f
        .call(r#"{"clientIdentifier": "web", "subject": "alice", "sessionId": "s-1"}"#)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["resultCode"], "A504001");
    assert_eq!(answer["action"], "OK");
    assert_eq!(
        answer["backchannelLogoutUri"],
        "https://web.example/bcl?x=1"
    );
    let claims = f.verified(answer["logoutToken"].as_str().unwrap()).await;
    let now = signoff_store::now_epoch_seconds();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["sid"], "s-1");
    let iat = claims["iat"].as_i64().unwrap();
    assert!((now - 5..=now).contains(&iat), "{iat} vs {now}");
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 120);
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(!claims.contains_key("nonce"));

    // A user's every session: sub only (Authlete's SDKs send null for what is unset). A
    // second token for the same logout has its own jti.
    let (status, first) = f
        .call(r#"{"clientIdentifier": "web", "subject": "alice", "sessionId": null}"#)
        .await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = f
        .call(r#"{"clientIdentifier": "web", "subject": "alice"}"#)
        .await;
    let one = f.verified(first["logoutToken"].as_str().unwrap()).await;
    let two = f.verified(second["logoutToken"].as_str().unwrap()).await;
    assert!(!one.contains_key("sid"));
    assert_ne!(one["jti"], two["jti"]);

    // A client without a back-channel logout URI still gets its token, and no URI
    // (Authlete: "it may even be null").
    let (status, quiet) = f
        .call(r#"{"clientIdentifier": "quiet", "sessionId": "s-2"}"#)
        .await;
    assert_eq!(status, 200, "{quiet}");
    assert!(quiet.get("backchannelLogoutUri").is_none(), "{quiet}");
    let claims = f.verified(quiet["logoutToken"].as_str().unwrap()).await;
    assert!(!claims.contains_key("sub"));

    // As Authlete, which does not check the client's metadata: a token without sid for
    // a client that requires one is still issued.
    let (status, native) = f
        .call(r#"{"clientIdentifier": "native", "subject": "alice"}"#)
        .await;
    assert_eq!(status, 200, "{native}");
    assert_eq!(native["backchannelLogoutUri"], "https://native.example/bcl");
    assert!(!f
        .verified(native["logoutToken"].as_str().unwrap())
        .await
        .contains_key("sid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_caller_or_server_errors_in_authletes_shape() {
    let f = fixture().await;
    for (body, code, words) in [
        (r#"{"subject": "alice"}"#, "A504201", "clientIdentifier"),
        (
            r#"{"clientIdentifier": "", "subject": "alice"}"#,
            "A504201",
            "clientIdentifier",
        ),
        (
            r#"{"clientIdentifier": 7, "subject": "alice"}"#,
            "A504202",
            "must be a string",
        ),
        (r#"{"clientIdentifier": "web"}"#, "A504217", "neither"),
        (
            r#"{"clientIdentifier": "web", "subject": "", "sessionId": null}"#,
            "A504217",
            "neither",
        ),
        (
            r#"{"clientIdentifier": "nobody", "subject": "alice"}"#,
            "A504218",
            "No client",
        ),
        ("[1]", "A504207", "JSON object"),
        ("{", "A504206", "not valid JSON"),
    ] {
        let (status, answer) = f.call(body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["resultCode"], code, "{body}: {answer}");
        assert_eq!(answer["action"], "CALLER_ERROR", "{body}");
        let message = answer["resultMessage"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("[{code}] {PATH}, ")),
            "{message}"
        );
        assert!(message.contains(words), "{body}: {message}");
        assert!(answer.get("logoutToken").is_none());
    }
    let long = format!(
        r#"{{"clientIdentifier": "web", "sessionId": "{}"}}"#,
        "s".repeat(300)
    );
    assert_eq!(f.call(&long).await.1["resultCode"], "A504204");

    // Another service of the deployment, with its own credential and a client named like
    // this service's: no token (it would pass at this service's relying parties).
    let other_token = seed::tenant(&f.db.store, "715948318", None).await;
    seed::client(&f.db.store, "715948318", "web", true).await;
    let (status, answer) = f
        .send(
            &f.settings,
            "/api/715948318/backchannel/logout/token",
            Some(&format!("Bearer {other_token}")),
            r#"{"clientIdentifier": "web", "subject": "alice"}"#,
        )
        .await;
    assert_eq!(
        (status, answer["resultCode"].as_str()),
        (500, Some("A504105")),
        "{answer}"
    );
    assert!(answer.get("logoutToken").is_none());

    // A deployment without a signing key: a server error, not retryable.
    let unsigned = signoff_nativesso::Settings::default();
    let (status, answer) = f
        .call_with(
            &unsigned,
            r#"{"clientIdentifier": "web", "subject": "alice"}"#,
        )
        .await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["resultCode"], "A504105");
    assert_eq!(answer["action"], "SERVER_ERROR");

    // Another service's credential, or none: Authlete's authentication errors.
    let (status, answer) = f
        .send(
            &f.settings,
            PATH,
            None,
            r#"{"clientIdentifier": "web", "subject": "a"}"#,
        )
        .await;
    assert_eq!(
        (status, answer["resultCode"].as_str()),
        (401, Some("A001202"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_relying_party_accepts_the_tokens_the_binaries_issue() {
    let db = TestDb::start().await;
    let service_token = seed::tenant(&db.store, SERVICE, None).await;
    seed::client(&db.store, SERVICE, "web", true).await;
    seed::client(&db.store, SERVICE, "other", true).await;
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/e2e").await;
    let gateway = Gateway::start_signing(
        &db,
        &kms,
        "alias/e2e",
        SERVICE,
        &[("SIGNOFF_ISSUER", ISSUER)],
    )
    .await;
    let base = gateway.base_url();
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for (client, body) in [
        (
            "web",
            json!({"clientIdentifier": "web", "subject": "alice", "sessionId": "s-1"}),
        ),
        (
            "web",
            json!({"clientIdentifier": "web", "subject": "alice"}),
        ),
        (
            "web",
            json!({"clientIdentifier": "web", "sessionId": "s-2"}),
        ),
        (
            "other",
            json!({"clientIdentifier": "other", "subject": "bob"}),
        ),
    ] {
        let answer: Value = http
            .post(format!("{base}{PATH}"))
            .bearer_auth(&service_token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["action"],
            "OK",
            "{client}: {answer}\n{}",
            gateway.logs()
        );
        tokens.push(answer["logoutToken"].as_str().unwrap().to_owned());
    }
    // Tokens each breaking one rule of section 2.6, signed with the same key, for the
    // relying party to refuse: it must check each rule, not only the signature.
    let keys = KeySet::new(kms.client.clone(), "alias/e2e".into(), vec![]);
    let signer = keys.signer().await.unwrap();
    let now = signoff_store::now_epoch_seconds();
    let good =
        signoff_jose::logout_token::LogoutToken::new(ISSUER, "web", Some("alice"), Some("s-9"))
            .unwrap()
            .claims(now);
    let typed = json!({"typ": "logout+jwt"});
    let mut broken = Vec::new();
    let mut claims = good.clone();
    claims.insert("nonce".into(), json!("n-1"));
    broken.push((typed.clone(), claims, "nonce present"));
    let mut claims = good.clone();
    claims.remove("events");
    broken.push((typed.clone(), claims, "ERR_JWT_CLAIM_VALIDATION_FAILED"));
    let mut claims = good.clone();
    claims.insert(
        "events".into(),
        json!({"http://schemas.openid.net/event/backchannel-logout": true}),
    );
    broken.push((typed.clone(), claims, "no back-channel logout event"));
    let mut claims = good.clone();
    claims.remove("sub");
    claims.remove("sid");
    broken.push((typed.clone(), claims, "neither sub nor sid"));
    let mut claims = good.clone();
    claims.insert("iat".into(), json!(now - 600));
    claims.insert("exp".into(), json!(now - 480));
    broken.push((typed.clone(), claims, "ERR_JWT_EXPIRED"));
    broken.push((
        json!({"typ": "JWT"}),
        good.clone(),
        "ERR_JWT_CLAIM_VALIDATION_FAILED",
    ));
    let mut claims = good.clone();
    claims.insert("iss".into(), json!("https://someone-else.example"));
    broken.push((typed.clone(), claims, "ERR_JWT_CLAIM_VALIDATION_FAILED"));
    for (header, claims, _) in &broken {
        let token = signoff_jose::sign_compact(signer, header, &Value::Object(claims.clone()))
            .await
            .unwrap();
        tokens.push(token);
    }
    let report = run_node_client(
        "logout_token_rp.mjs",
        &json!({
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "issuer": ISSUER,
            "client_id": "web",
            "tokens": tokens,
        }),
    )
    .await;
    let results = report.as_array().expect("one result per token");
    assert_eq!(results[0]["accepted"], true, "{report}");
    assert_eq!(
        (results[0]["sub"].as_str(), results[0]["sid"].as_str()),
        (Some("alice"), Some("s-1"))
    );
    assert_eq!(results[1]["accepted"], true, "{report}");
    assert!(results[1].get("sid").is_none_or(Value::is_null), "{report}");
    assert_eq!(results[2]["accepted"], true, "{report}");
    assert_ne!(results[0]["jti"], results[1]["jti"]);
    // Another client's token is refused by this one: its aud is not ours.
    assert_eq!(results[3]["accepted"], false, "{report}");
    assert!(
        results[3]["reason"]
            .as_str()
            .unwrap()
            .contains("CLAIM_VALIDATION_FAILED"),
        "{report}"
    );
    for (i, (_, _, reason)) in broken.iter().enumerate() {
        let result = &results[4 + i];
        assert_eq!(result["accepted"], false, "{i}: {report}");
        assert_eq!(result["reason"], *reason, "{i}: {report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_registers_and_removes_a_clients_back_channel_logout_uri() {
    use signoff_store::backchannel::ClientLogout;
    use signoff_tests::admin::run_admin;
    let db = TestDb::start().await;
    seed::tenant(&db.store, SERVICE, None).await;
    seed::client(&db.store, SERVICE, "web", true).await;
    let set = |uri: &str| {
        [
            "set-backchannel-logout",
            "--tenant",
            SERVICE,
            "--client-id",
            "web",
            "--uri",
        ]
        .into_iter()
        .chain([uri])
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    let mut required = set("https://web.example/bcl");
    required.push("--session-required".into());
    let run = run_admin(&db, &args(&required), &[]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("https://web.example/bcl (sid required)"),
        "{}",
        run.stdout
    );
    assert_eq!(
        db.store.client_logout(SERVICE, "web").await.unwrap(),
        ClientLogout::Registered(
            BackchannelLogout::new("https://web.example/bcl", true, Reach::Public).unwrap()
        )
    );
    // Refused, and nothing changed: plain http to another host, a fragment, credentials.
    for bad in [
        "http://web.example/bcl",
        "https://web.example/bcl#x",
        "https://u:p@web.example/bcl",
    ] {
        let run = run_admin(&db, &args(&set(bad)), &[]).await;
        assert!(!run.ok, "{bad}");
        assert!(
            run.stderr.contains("backchannelLogoutUri"),
            "{bad}: {}",
            run.stderr
        );
    }
    // A receiver on this machine only with --allow-loopback.
    let run = run_admin(&db, &args(&set("http://127.0.0.1:9/bcl")), &[]).await;
    assert!(!run.ok, "{}", run.stdout);
    let mut local = set("http://127.0.0.1:9/bcl");
    local.push("--allow-loopback".into());
    let run = run_admin(&db, &args(&local), &[]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(matches!(
        db.store.client_logout(SERVICE, "web").await.unwrap(),
        ClientLogout::Registered(l) if l.uri() == "http://127.0.0.1:9/bcl" && !l.session_required()
    ));
    let run = run_admin(&db, &args(&required), &[]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(matches!(
        db.store.client_logout(SERVICE, "web").await.unwrap(),
        ClientLogout::Registered(_)
    ));
    // A client nobody registered.
    let mut unknown = set("https://x.example/bcl");
    unknown[4] = "nobody".into();
    let run = run_admin(&db, &args(&unknown), &[]).await;
    assert!(
        !run.ok && run.stderr.contains("no client nobody"),
        "{}",
        run.stderr
    );
    // Removed.
    let run = run_admin(
        &db,
        &[
            "set-backchannel-logout",
            "--tenant",
            SERVICE,
            "--client-id",
            "web",
            "--remove",
        ],
        &[],
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        db.store.client_logout(SERVICE, "web").await.unwrap(),
        ClientLogout::NotRegistered
    );
}
