//! Signoff's signing keys in KMS (`signoff-kms`) against a local KMS (moto's server) with
//! the real `aws-sdk-kms` client: tokens signed by a key that never leaves KMS verify
//! against the published JWKS, the public key is fetched once, rotation publishes both
//! keys, and every failure says whether a retry may help.

use aws_sdk_kms::types::KeySpec;
use base64::Engine;
use serde_json::json;
use signoff_jose::{sign_compact, JwsSigner, VerifyingKeySet};
use signoff_kms::{KeySet, KmsError, MAX_RAW_MESSAGE_BYTES};
use signoff_tests::kms::{client_config, TestKms};

fn claims() -> serde_json::Value {
    json!({"iss": "https://signoff.example", "aud": "rs-1", "iat": 1_800_000_000,
        "token_introspection": {"active": false}})
}

fn header_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let encoded = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_kms_key_signs_es256_tokens_that_verify_against_the_published_jwks() {
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff-signing")
        .await;
    let keys = KeySet::new(kms.client.clone(), "alias/signoff-signing".into(), vec![]);

    let signer = keys.signer().await.expect("the key loads");
    let header = json!({"typ": "token-introspection+jwt"});
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(
            sign_compact(signer, &header, &claims())
                .await
                .expect("signed"),
        );
    }
    let jwks = keys.jwks().await.expect("jwks");
    assert_eq!(jwks.len(), 1);
    assert_eq!(
        jwks[0].kid,
        jwks[0].thumbprint(),
        "kid is the RFC 7638 thumbprint"
    );
    assert_eq!(
        (
            jwks[0].kty.as_str(),
            jwks[0].alg.as_str(),
            jwks[0].crv.as_deref()
        ),
        ("EC", "ES256", Some("P-256"))
    );
    assert_eq!(signer.kid(), jwks[0].kid);
    let verifier = VerifyingKeySet::new(jwks);
    for token in &tokens {
        let payload = verifier.verify_jws(token).expect("the token verifies");
        assert_eq!(serde_json::Value::Object(payload), claims());
        let header = header_of(token);
        assert_eq!(
            header,
            json!({"alg": "ES256", "kid": jwks[0].kid, "typ": "token-introspection+jwt"})
        );
    }
    // ECDSA signatures are randomised: five tokens, five signatures.
    let signatures: std::collections::BTreeSet<_> = tokens
        .iter()
        .map(|t| t.rsplit('.').next().unwrap())
        .collect();
    assert_eq!(signatures.len(), 5);
    // The public key was fetched once, for the life of the key set; each token is one Sign.
    assert_eq!(kms.requests.get("GetPublicKey"), 1);
    assert_eq!(kms.requests.get("Sign"), 5);
}

#[tokio::test]
async fn a_rotation_publishes_the_new_and_the_previous_key() {
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/old").await;
    kms.create_key(KeySpec::EccNistP256, "alias/new").await;
    let before = KeySet::new(kms.client.clone(), "alias/old".into(), vec![]);
    let during = KeySet::new(
        kms.client.clone(),
        "alias/new".into(),
        vec!["alias/old".into(), "alias/new".into()],
    );
    let old_token = sign_compact(before.signer().await.unwrap(), &json!({}), &claims())
        .await
        .unwrap();
    let new_token = sign_compact(during.signer().await.unwrap(), &json!({}), &claims())
        .await
        .unwrap();

    let jwks = during.jwks().await.unwrap();
    // The current key first; a key named twice is published once.
    assert_eq!(jwks.len(), 2);
    assert_eq!(jwks[0].kid, during.signer().await.unwrap().kid());
    assert_ne!(jwks[0].kid, jwks[1].kid);
    let verifier = VerifyingKeySet::new(jwks);
    assert!(verifier.verify_jws(&old_token).is_ok());
    assert!(verifier.verify_jws(&new_token).is_ok());
    // Once the old key is dropped from the set, its tokens no longer verify.
    let after = VerifyingKeySet::new(&jwks[..1]);
    assert!(after.verify_jws(&old_token).is_err());
}

#[tokio::test]
async fn failures_say_whether_a_retry_may_help_and_nothing_is_cached_on_failure() {
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::Rsa2048, "alias/rsa").await;

    // A key that does not exist: an operator must act. Once it does, the same key set
    // loads it: a failure is never cached.
    let late = KeySet::new(kms.client.clone(), "alias/late".into(), vec![]);
    let err = late.signer().await.err().expect("no such key");
    assert!(
        matches!(&err, KmsError::Call { operation: "GetPublicKey", code, .. } if code == "NotFoundException"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    kms.create_key(KeySpec::EccNistP256, "alias/late").await;
    assert!(late.signer().await.is_ok());

    // A key that exists but is not an ES256 key.
    let rsa = KeySet::new(kms.client.clone(), "alias/rsa".into(), vec![]);
    let err = rsa.signer().await.err().expect("not a P-256 key");
    assert!(matches!(err, KmsError::UnusableKey { .. }), "{err:?}");
    assert!(!err.is_retryable());

    // KMS unreachable: retryable.
    let down = aws_sdk_kms::Client::from_conf(
        client_config("http://127.0.0.1:9")
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build(),
    );
    let unreachable = KeySet::new(down, "alias/signoff-signing".into(), vec![]);
    let err = unreachable.signer().await.err().expect("unreachable");
    assert!(err.is_retryable(), "{err:?}");

    // A previous key that cannot be read is left out; the current key still signs.
    let with_missing_previous = KeySet::new(
        kms.client.clone(),
        "alias/late".into(),
        vec!["alias/never-created".into()],
    );
    assert_eq!(with_missing_previous.jwks().await.unwrap().len(), 1);
    assert!(with_missing_previous.signer().await.is_ok());
}

/// The signer signs with the key GetPublicKey named, so retargeting the configured alias
/// cannot make a signature disagree with the `kid` the key set already published.
#[tokio::test]
async fn a_retargeted_alias_does_not_split_the_signature_from_its_kid() {
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/moving").await;
    let keys = KeySet::new(kms.client.clone(), "alias/moving".into(), vec![]);
    let signer = keys.signer().await.unwrap();
    let other = kms.create_key(KeySpec::EccNistP256, "alias/other").await;
    kms.client
        .update_alias()
        .alias_name("alias/moving")
        .target_key_id(other)
        .send()
        .await
        .unwrap();
    let token = sign_compact(signer, &json!({}), &claims()).await.unwrap();
    let verifier = VerifyingKeySet::new(keys.jwks().await.unwrap());
    assert!(verifier.verify_jws(&token).is_ok());
}

/// A signing input over KMS's 4,096-byte RAW limit is sent as its SHA-256 with
/// MessageType DIGEST. moto ignores DIGEST (it signs the digest's own hash), so the
/// signature cannot be verified here: the request is what is checked.
#[tokio::test]
async fn a_long_signing_input_is_signed_as_its_digest() {
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/ok").await;
    let recorder = SignRecorder::default();
    let client = aws_sdk_kms::Client::from_conf(
        client_config(&kms.endpoint)
            .interceptor(recorder.clone())
            .build(),
    );
    let keys = KeySet::new(client, "alias/ok".into(), vec![]);
    let signer = keys.signer().await.unwrap();
    let short = json!({"n": 1});
    let long = json!({"padding": "x".repeat(MAX_RAW_MESSAGE_BYTES)});
    sign_compact(signer, &json!({}), &short).await.unwrap();
    let token = sign_compact(signer, &json!({}), &long).await.unwrap();
    let sent = recorder.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["MessageType"], "RAW");
    assert_eq!(sent[1]["MessageType"], "DIGEST");
    let digest = base64::engine::general_purpose::STANDARD
        .decode(sent[1]["Message"].as_str().unwrap())
        .unwrap();
    let signing_input = token.rsplit_once('.').unwrap().0;
    use sha2::Digest;
    assert_eq!(
        digest,
        sha2::Sha256::digest(signing_input.as_bytes()).to_vec()
    );
}

/// Keeps the JSON body of every Sign request.
#[derive(Clone, Debug, Default)]
struct SignRecorder(std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for SignRecorder {
    fn name(&self) -> &'static str {
        "SignRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        if target.ends_with(".Sign") {
            let body = serde_json::from_slice(request.body().bytes().unwrap_or(b"{}"))?;
            self.0.lock().unwrap().push(body);
        }
        Ok(())
    }
}
