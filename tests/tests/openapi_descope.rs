//! `docs/openapi.yaml` held to what the functions answer: Descope's session logout and its
//! public keys, through the real handler (requests as API Gateway sends them), against a
//! fresh embedded DynamoDB emulator, a missing table and an unreachable store. Every
//! documented status and closed set of codes of these operations must be provoked here
//! (see `signoff_tests::openapi`).

use std::collections::BTreeSet;

use serde_json::json;
use signoff_jose::{Algorithm, SigningKey};
use signoff_revoke::settings::DeviceRevocationAuth;
use signoff_store::project_keys::RefreshTokenSpec;
use signoff_tests::openapi::{
    event, fresh_db, request, revocation_config, Api, Recorder, Spec, DESCOPE, JSON_TYPE,
};
use signoff_tests::seed;

const PROJECT: &str = "P2openapi";

async fn descope(rec: &mut Recorder) {
    let db = fresh_db().await;
    seed::tenant(&db.store, PROJECT, None).await;
    let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    let rsa = SigningKey::generate(Algorithm::Rs256, Some("rsa-1")).unwrap();
    db.store
        .add_project_keys(PROJECT, &[key.public_jwk(), rsa.public_jwk()])
        .await
        .unwrap();
    let api = Api::new(
        &db.store,
        revocation_config(PROJECT, DeviceRevocationAuth::Client, ""),
    );
    let now = signoff_store::now_epoch_seconds();
    let sessions = std::cell::Cell::new(0);
    let login = async |signer: &SigningKey| {
        sessions.set(sessions.get() + 1);
        let sessions = sessions.get();
        let spec = RefreshTokenSpec {
            project: PROJECT.into(),
            subject: "user-1".into(),
            dsub: None,
            session_id: Some(format!("s{sessions}")),
            grant_id: Some(format!("g{sessions}")),
            client_id: "web".into(),
            issuer: None,
            issued_at: now,
            expires_at: now + 3600,
        };
        db.store.mint_refresh_jwt(signer, &spec).await.unwrap()
    };
    let claims = |exp: i64, iss: &str| json!({"sub": "user-1", "iss": iss, "iat": now, "exp": now + exp, "drn": "DSR"});
    let stranger = SigningKey::generate(Algorithm::Es256, Some("not-registered")).unwrap();
    let bearer = |jwt: &str| format!("Bearer {PROJECT}:{jwt}");

    for path in ["/v1/auth/logout", "/v1/auth/logoutall"] {
        let post = |auth: Option<&str>, body: &str| {
            let headers: Vec<_> = auth
                .map(|a| ("authorization", a))
                .into_iter()
                .chain([JSON_TYPE])
                .collect();
            request("POST", path, &headers, body)
        };
        let jwt = login(&key).await;
        let x = rec
            .expect(&api, post(Some(bearer(&jwt).as_str()), "{}"), 200)
            .await;
        assert_eq!(
            x.headers.iter().filter(|(n, _)| n == "set-cookie").count(),
            2,
            "DS and DSR are deleted"
        );
        let jwt = login(&rsa).await;
        rec.expect(
            &api,
            post(
                Some(bearer(&jwt).as_str()),
                r#"{"logoutType":["everything"]}"#,
            ),
            200,
        )
        .await;
        let jwt = login(&key).await;
        rec.expect(&api, post(Some(bearer(&jwt).as_str()), ""), 200)
            .await;

        let live = login(&key).await;
        let auth = bearer(&live);
        for (body, code) in [("[]", "E011001"), (r#"{"logoutType":"all"}"#, "E011003")] {
            let x = rec.expect(&api, post(Some(&auth), body), 400).await;
            assert_eq!(x.json()["errorCode"], code);
        }
        let unknown_kid = stranger.sign(&claims(60, PROJECT));
        let cases = [
            (None, "E011002"),
            (Some(format!("Bearer {live}")), "E011004"),
            (Some(format!("Bearer P2unknown:{live}")), "E061001"),
            (Some(bearer("a.b.c")), "E061002"),
            (Some(bearer(&unknown_kid)), "E061003"),
            (Some(bearer(&key.sign(&claims(-60, PROJECT)))), "E061004"),
            (Some(bearer(&key.sign(&claims(60, "P2other")))), "E061005"),
            (Some(bearer(&key.sign(&claims(60, PROJECT)))), "E064001"),
        ];
        for (auth, code) in cases {
            let x = rec.expect(&api, post(auth.as_deref(), "{}"), 401).await;
            assert_eq!(x.json()["errorCode"], code);
        }
    }

    // The management logout.
    let management_key = db
        .store
        .issue_credential(
            signoff_store::credentials::CredentialScope::Management {
                project: PROJECT.into(),
            },
            "openapi",
        )
        .await
        .unwrap();
    let mgmt = |auth: Option<&str>, body: &str| {
        let headers: Vec<_> = auth
            .map(|a| ("authorization", a))
            .into_iter()
            .chain([JSON_TYPE])
            .collect();
        request("POST", "/v1/mgmt/user/logout", &headers, body)
    };
    let mgmt_auth = format!("Bearer {PROJECT}:{management_key}");
    login(&key).await;
    let x = rec
        .expect(&api, mgmt(Some(&mgmt_auth), r#"{"userId":"user-1"}"#), 200)
        .await;
    assert_eq!(x.json(), json!({}));
    for (body, code) in [
        ("[]", "E011001"),
        ("{}", "E011002"),
        (r#"{"userId":"","loginId":null}"#, "E011002"),
        (r#"{"userId":7}"#, "E011003"),
    ] {
        let x = rec.expect(&api, mgmt(Some(&mgmt_auth), body), 400).await;
        assert_eq!(x.json()["errorCode"], code, "{body}");
    }
    for (auth, code) in [
        (None, "E011002"),
        (Some(format!("Bearer {management_key}")), "E011004"),
        (Some(format!("Bearer {PROJECT}:sgn_mk_wrong")), "E011004"),
    ] {
        let x = rec
            .expect(&api, mgmt(auth.as_deref(), r#"{"userId":"user-1"}"#), 401)
            .await;
        assert_eq!(x.json()["errorCode"], code);
    }
    let x = rec
        .expect(&api, mgmt(Some(&mgmt_auth), r#"{"loginId":"nobody"}"#), 404)
        .await;
    assert_eq!(x.json()["errorCode"], "E112102");

    let keys = |project: &str| request("GET", &format!("/v2/keys/{project}"), &[], "");
    let x = rec.expect(&api, keys(PROJECT), 200).await;
    let kinds: BTreeSet<String> = x.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["EC".to_owned(), "RSA".to_owned()]));
    rec.expect(&api, keys("P2none"), 404).await;

    let jwt = login(&key).await;
    let auth = bearer(&jwt);
    let headers = [("authorization", auth.as_str()), JSON_TYPE];
    let trouble = [
        (event("POST", "/v1/auth/logout", &headers, "{}"), 500, 503),
        (
            event("POST", "/v1/auth/logoutall", &headers, "{}"),
            500,
            503,
        ),
        (
            event("GET", &format!("/v2/keys/{PROJECT}"), &[], ""),
            500,
            503,
        ),
        (
            event(
                "POST",
                "/v1/mgmt/user/logout",
                &[("authorization", mgmt_auth.as_str()), JSON_TYPE],
                r#"{"userId":"user-1"}"#,
            ),
            500,
            503,
        ),
    ];
    rec.expect_store_trouble(&api, &trouble).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_descope_response_is_what_the_functions_answer() {
    let mut rec = Recorder::new(Spec::load());
    descope(&mut rec).await;
    rec.assert_vendor_covered(&DESCOPE);
}
