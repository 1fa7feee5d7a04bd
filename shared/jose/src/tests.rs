//! The rules of the old `signoff::jwt` module, kept, and the signing side.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use super::*;

/// A compact JWS's protected header, decoded (for tests of what was signed).
pub(crate) fn header_of(token: &str) -> serde_json::Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn issuers() {
    assert!(issuer_matches("P2abc", "P2abc"));
    assert!(issuer_matches("https://api.descope.com/P2abc", "P2abc"));
    assert!(issuer_matches("https://api.descope.com/v1/P2abc/", "P2abc"));
    assert!(!issuer_matches("https://api.descope.com/P2abcd", "P2abc"));
    assert!(!issuer_matches("P2abc/x", "P2abc"));
    assert!(!issuer_matches("evil/P2abc", "P2abc"));
    assert!(!issuer_matches("https://a/b?x=/P2abc", "P2abc"));
    assert!(!issuer_matches("https://a/b#/P2abc", "P2abc"));
    assert!(!issuer_matches("https://P2abc", "P2abc"));
    assert!(!issuer_matches("x://a/P2abc", "P2abc"));
    assert!(!issuer_matches("https://a/P2abc//", "P2abc"));
    assert!(!issuer_matches("https:///P2abc", "P2abc"));
}

#[test]
fn private_keys_are_refused() {
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"});
    assert_eq!(Jwk::from_json(&jwk), Err(KeyError::Private));
    assert_eq!(
        Jwk::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            None
        ),
        Err(KeyError::Private)
    );
    // Recognised by its label even when its body is not base64.
    assert_eq!(
        Jwk::from_pem(
            "-----BEGIN EC PRIVATE KEY-----\n!!!!\n-----END EC PRIVATE KEY-----\n",
            None
        ),
        Err(KeyError::Private)
    );
}

#[test]
fn weak_and_mismatched_keys_are_refused() {
    let short = URL_SAFE_NO_PAD.encode([0xffu8; 128]); // 1024 bits
    let jwk = json!({"kty": "RSA", "n": short, "e": "AQAB"});
    assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("2048")));
    let jwk = json!({"kty": "RSA", "alg": "HS256", "n": short, "e": "AQAB"});
    assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("RS256")));
    let jwk = json!({"kty": "oct", "k": "c2VjcmV0"});
    assert!(Jwk::from_json(&jwk).is_err());
    let huge = URL_SAFE_NO_PAD.encode([0xc5u8; 1025]); // 8200 bits
    let jwk = json!({"kty": "RSA", "n": huge, "e": "AQAB"});
    assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("8192")));
    let mut even = [0xc5u8; 256];
    even[255] = 0xc4;
    let jwk = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(even), "e": "AQAB"});
    assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("odd")));
    let p384 = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
    assert!(matches!(Jwk::from_json(&p384), Err(KeyError::Invalid(m)) if m.contains("P-256")));
}

#[test]
fn keys_the_crypto_library_would_refuse_are_refused_at_registration() {
    let n = URL_SAFE_NO_PAD.encode([0xc5u8; 256]); // 2048 bits, odd
    let rsa = |e: &str| json!({"kty": "RSA", "n": n, "e": e});
    assert!(Jwk::from_json(&rsa("AQAB")).is_ok());
    for bad_e in ["AQ", "", "AA", "Ag", "AQAAAAAB"] {
        assert!(Jwk::from_json(&rsa(bad_e)).is_err(), "e={bad_e}");
    }
    let off_curve = json!({"kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])});
    assert!(matches!(Jwk::from_json(&off_curve), Err(KeyError::Invalid(m)) if m.contains("curve")));
    let numeric_kid = json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": 7});
    assert!(Jwk::from_json(&numeric_kid).is_err());
    let numeric_n = json!({"kty": "RSA", "n": 7, "e": "AQAB"});
    assert!(Jwk::from_json(&numeric_n).is_err());
    for kid in [String::new(), "k".repeat(129), "a\u{7}b".into()] {
        let jwk = json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": kid});
        assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("kid")));
    }
    let jwk = json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "é".repeat(128)});
    assert!(Jwk::from_json(&jwk).is_ok());
    let empty = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----";
    assert!(Jwk::from_pem(empty, None).is_err());
}

#[test]
fn rfc7638_thumbprint() {
    // The example key of RFC 7638 section 3.1 and its published thumbprint.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    let jwk = Jwk::from_json(&jwk).unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(jwk.kid, "2011-04-29");
}

#[test]
fn malformed_tokens() {
    let keys = [];
    for (token, want) in [
        ("abc", JwtError::Malformed("it does not have three parts")),
        (
            "a.b.c.d",
            JwtError::Malformed("it does not have three parts"),
        ),
        ("!!.b.c", JwtError::Malformed("bad header")),
    ] {
        assert_eq!(verify(token, &keys, "p", 0), Err(want));
    }
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"u"}"#)
    );
    assert_eq!(
        verify(&none, &keys, "p", 0),
        Err(JwtError::UnsupportedAlgorithm("none".into()))
    );
    let long_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{}"}}"#, "A".repeat(5000))),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"u"}"#)
    );
    assert_eq!(
        verify(&long_alg, &keys, "p", 0),
        Err(JwtError::UnsupportedAlgorithm("A".repeat(16)))
    );
    let oversize = "a".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(
        verify(&oversize, &keys, "p", 0),
        Err(JwtError::Malformed("it is too long"))
    );
}

#[test]
fn der_signatures_convert_to_fixed_width() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, KeyPair, ParsedPublicKey, ECDSA_P256_SHA256_ASN1_SIGNING,
        ECDSA_P256_SHA256_FIXED,
    };
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let public = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref()).unwrap();
    for i in 0..32 {
        let message = format!("message {i}");
        let der = key.sign(&SystemRandom::new(), message.as_bytes()).unwrap();
        let fixed = ecdsa_der_to_jws(der.as_ref()).unwrap();
        assert!(public.verify_sig(message.as_bytes(), &fixed).is_ok());
    }
    let int = |bytes: &[u8]| [&[0x02, bytes.len() as u8][..], bytes].concat();
    let seq = |body: &[u8]| [&[0x30, body.len() as u8][..], body].concat();
    let r = [0x11u8; 32];
    let good = seq(&[int(&r), int(&[0x01])].concat());
    let fixed = ecdsa_der_to_jws(&good).unwrap();
    assert_eq!(&fixed[..32], &r);
    assert_eq!(fixed[32..], [[0u8; 31].as_slice(), &[1]].concat());
    let high = [0x80u8; 32];
    let padded = seq(&[int(&[&[0][..], &high].concat()), int(&[0x01])].concat());
    assert_eq!(&ecdsa_der_to_jws(&padded).unwrap()[..32], &high);
    for (name, bad) in [
        ("empty", vec![]),
        ("trailing byte", [good.clone(), vec![0]].concat()),
        (
            "length in two bytes where one would do",
            [&[0x30, 0x81, good[1]][..], &good[2..]].concat(),
        ),
        (
            "needless leading zero",
            seq(&[int(&[0, 0x11]), int(&[1])].concat()),
        ),
        ("negative r", seq(&[int(&high), int(&[1])].concat())),
        (
            "r of 33 bytes",
            seq(&[int(&[0x11u8; 33]), int(&[1])].concat()),
        ),
        ("zero s", seq(&[int(&r), int(&[0])].concat())),
        (
            "a third integer",
            seq(&[int(&r), int(&[1]), int(&[1])].concat()),
        ),
        ("one integer", seq(&int(&r))),
        ("not a sequence", int(&r)),
    ] {
        assert!(ecdsa_der_to_jws(&bad).is_err(), "{name}");
    }
}

/// A signer whose backend answers in DER, as AWS KMS does, converting as a KMS signer
/// would; and one that forgets to.
struct DerSigner {
    key: aws_lc_rs::signature::EcdsaKeyPair,
    convert: bool,
}

impl JwsSigner for DerSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn kid(&self) -> &str {
        "der-1"
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let der = self
            .key
            .sign(&aws_lc_rs::rand::SystemRandom::new(), signing_input)
            .map_err(|e| SignError::Signer {
                retryable: false,
                source: std::sync::Arc::new(std::io::Error::other(e.to_string())),
            })?;
        Ok(if self.convert {
            ecdsa_der_to_jws(der.as_ref())?.to_vec()
        } else {
            der.as_ref().to_vec()
        })
    }
}

#[tokio::test]
async fn any_signer_builds_a_compact_jws_that_verifies() {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let mut jwk = jwk::ec_jwk(key.public_key().as_ref()).unwrap();
    jwk.kid = "der-1".into();
    let set = VerifyingKeySet::new(&[jwk]);
    let mut signer = DerSigner { key, convert: true };
    let claims = json!({"sub": "u1", "iss": "P1", "exp": 1000});
    // The header's own alg and kid are overridden by the signer's.
    let header = json!({"typ": "JWT", "alg": "none", "kid": "other"});
    let token = sign_compact(&signer, &header, &claims).await.unwrap();
    let verified = set.verify(&token, "P1", 1000).unwrap();
    assert_eq!(verified.user, "u1");
    assert_eq!(
        header_of(&token),
        json!({"typ": "JWT", "alg": "ES256", "kid": "der-1"})
    );
    assert!(matches!(
        sign_compact(&signer, &json!([]), &claims).await,
        Err(SignError::Header)
    ));
    signer.convert = false;
    assert!(matches!(
        sign_compact(&signer, &json!({}), &claims).await,
        Err(SignError::BadSignature(_))
    ));
}

#[cfg(feature = "signing")]
mod signing {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_pem_keys_round_trip() {
        for alg in [Algorithm::Es256, Algorithm::Rs256] {
            let key = SigningKey::generate(alg, None).unwrap();
            let jwk = key.public_jwk();
            assert_eq!(jwk.kid, jwk.thumbprint());
            let reread = SigningKey::from_pem(&key.to_pem(), None).unwrap();
            assert_eq!(reread.public_jwk(), jwk);
            assert_eq!(Jwk::from_pem(&key.public_pem(), None).unwrap(), jwk);
            let claims = json!({"sub": "u1", "iss": "P1", "exp": 1000, "drn": "DSR"});
            let token = key.sign(&claims);
            let keys = std::slice::from_ref(&jwk);
            let verified = verify(&token, keys, "P1", 1000).unwrap();
            assert_eq!(verified.user, "u1");
            assert_eq!(verified.drn.as_deref(), Some("DSR"));
            assert_eq!(verify(&token, keys, "P1", 1006), Err(JwtError::Expired));
            assert_eq!(verify(&token, keys, "P2", 1000), Err(JwtError::WrongIssuer));
            // A session token (drn DS) is not a refresh token.
            let session = key.sign(&json!({"sub": "u1", "iss": "P1", "exp": 1000, "drn": "DS"}));
            assert_eq!(
                verify(&session, keys, "P1", 1000),
                Err(JwtError::NotRefreshToken)
            );
            // A signed but oversized user id cannot become an index key.
            let huge = key.sign(&json!({"sub": "u".repeat(300), "iss": "P1", "exp": 1000}));
            assert_eq!(
                verify(&huge, keys, "P1", 1000),
                Err(JwtError::MissingClaim("sub"))
            );
            // Trailing bytes after a public key are refused.
            let (_, mut der) = pem::decode(&key.public_pem()).unwrap();
            der.push(0);
            assert!(Jwk::from_pem(&pem::encode("PUBLIC KEY", &der), None).is_err());
            // A private key is not a public one, and a public one is not a signing key.
            assert_eq!(Jwk::from_pem(&key.to_pem(), None), Err(KeyError::Private));
            assert!(SigningKey::from_pem(&key.public_pem(), None).is_err());
        }
    }

    #[test]
    fn the_user_claim_has_the_store_s_identifier_limits() {
        let key = SigningKey::generate(Algorithm::Es256, Some("k")).unwrap();
        let keys = VerifyingKeySet::new(&[key.public_jwk()]);
        let token = |claims: serde_json::Value| key.sign(&claims);
        let ok = |sub: &str, dsub: Option<&str>| {
            let mut claims = json!({"sub": sub, "iss": "P1", "exp": 1000});
            if let Some(dsub) = dsub {
                claims["dsub"] = json!(dsub);
            }
            keys.verify(&token(claims), "P1", 1000)
        };
        assert_eq!(ok(&"u".repeat(256), None).unwrap().user, "u".repeat(256));
        assert_eq!(
            ok(&"u".repeat(257), None),
            Err(JwtError::MissingClaim("sub"))
        );
        assert_eq!(ok("", None), Err(JwtError::MissingClaim("sub")));
        assert_eq!(ok("a\u{0}b", None), Err(JwtError::MissingClaim("sub")));
        assert_eq!(ok("u", Some("a\tb")), Err(JwtError::MissingClaim("dsub")));
        let claims = ok("u", Some("d")).unwrap();
        assert_eq!(
            (claims.user.as_str(), claims.subject.as_deref()),
            ("d", Some("u"))
        );
        // 128 two-byte characters are 256 bytes: allowed; one more byte is not.
        assert!(ok(&"é".repeat(128), None).is_ok());
        assert!(ok(&format!("{}x", "é".repeat(128)), None).is_err());
        let no_sub = token(json!({"iss": "P1", "exp": 1000}));
        assert_eq!(
            keys.verify(&no_sub, "P1", 1000),
            Err(JwtError::MissingClaim("sub"))
        );
        let numeric = token(json!({"sub": 5, "iss": "P1", "exp": 1000}));
        assert_eq!(
            keys.verify(&numeric, "P1", 1000),
            Err(JwtError::MissingClaim("sub"))
        );
        // exp as a float is read as its integer part.
        let float = token(json!({"sub": "u", "iss": "P1", "exp": 1000.9}));
        assert_eq!(keys.verify(&float, "P1", 1005).unwrap().expires_at, 1000);
    }

    #[tokio::test]
    async fn the_local_key_is_a_jws_signer() {
        for alg in [Algorithm::Es256, Algorithm::Rs256] {
            let key = SigningKey::generate(alg, Some("local")).unwrap();
            let claims = json!({"sub": "u1", "iss": "P1", "exp": 1000});
            let token = sign_compact(&key, &json!({"typ": "JWT"}), &claims)
                .await
                .unwrap();
            // The same token the synchronous path mints, bar the signature.
            let sync = key.sign(&claims);
            assert_eq!(
                token.rsplit_once('.').unwrap().0,
                sync.rsplit_once('.').unwrap().0
            );
            let keys = VerifyingKeySet::new(&[key.public_jwk()]);
            assert_eq!(keys.verify(&token, "P1", 1000).unwrap().user, "u1");
            assert_eq!(JwsSigner::kid(&key), "local");
        }
    }
}

#[test]
fn a_kms_style_spki_becomes_the_same_jwk_as_its_pem() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let der = key.public_key().as_der().unwrap();
    let from_der = Jwk::from_spki_der(der.as_ref(), None).unwrap();
    let pem = crate::pem::encode("PUBLIC KEY", der.as_ref());
    assert_eq!(from_der, Jwk::from_pem(&pem, None).unwrap());
    // The kid defaults to the RFC 7638 thumbprint, so it names the key, not a label.
    assert_eq!(from_der.kid, from_der.thumbprint());
    assert_eq!(
        (from_der.kty.as_str(), from_der.alg.as_str()),
        ("EC", "ES256")
    );
    // Trailing bytes, or a truncated key, are refused.
    let mut longer = der.as_ref().to_vec();
    longer.push(0);
    assert!(Jwk::from_spki_der(&longer, None).is_err());
    assert!(Jwk::from_spki_der(&der.as_ref()[..60], None).is_err());
}

#[cfg(feature = "signing")]
mod assertions {
    use super::*;

    const AUD: &str = "https://signoff.example/oauth2/global-token-revocation";

    fn rules(now: i64) -> AssertionRules<'static> {
        AssertionRules {
            issuer: "https://idp.example",
            subject: "https://idp.example",
            audience: AUD,
            now,
            max_lifetime: 300,
        }
    }

    fn claims(now: i64) -> serde_json::Value {
        json!({"iss": "https://idp.example", "sub": "https://idp.example", "aud": AUD,
               "iat": now, "exp": now + 120, "jti": "a-1"})
    }

    #[test]
    fn a_well_formed_assertion_is_accepted_once_each_rule_holds() {
        let key = SigningKey::generate(Algorithm::Es256, Some("k1")).unwrap();
        let keys = VerifyingKeySet::new(&[key.public_jwk()]);
        let now = 1_800_000_000;
        let ok = keys.verify_assertion(&key.sign(&claims(now)), &rules(now));
        assert_eq!(
            ok,
            Ok(Assertion {
                jti: "a-1".into(),
                expires_at: now + 120
            })
        );
        assert_eq!(
            unverified_issuer(&key.sign(&claims(now))).as_deref(),
            Some("https://idp.example")
        );
        let mut aud_list = claims(now);
        aud_list["aud"] = json!(["https://other.example", AUD]);
        assert!(keys
            .verify_assertion(&key.sign(&aud_list), &rules(now))
            .is_ok());

        let refused = |change: &dyn Fn(&mut serde_json::Value), at: i64| {
            let mut c = claims(now);
            change(&mut c);
            keys.verify_assertion(&key.sign(&c), &rules(at))
                .unwrap_err()
        };
        assert_eq!(
            refused(&|c| c["aud"] = json!(format!("{AUD}/")), now),
            AssertionError::WrongAudience
        );
        assert_eq!(
            refused(&|c| c["iss"] = json!("https://evil.example"), now),
            AssertionError::Mismatch("iss")
        );
        assert_eq!(
            refused(&|c| c["sub"] = json!("someone"), now),
            AssertionError::Mismatch("sub")
        );
        assert_eq!(refused(&|_| {}, now + 200), AssertionError::Expired);
        assert_eq!(
            refused(&|c| c["exp"] = json!(now + 3600), now),
            AssertionError::TooLongLived(300)
        );
        assert_eq!(
            refused(&|c| c["iat"] = json!(now + 60), now),
            AssertionError::NotYetValid
        );
        for claim in ["jti", "iat", "exp", "aud"] {
            assert_eq!(
                refused(
                    &|c| {
                        c.as_object_mut().unwrap().remove(claim);
                    },
                    now
                ),
                AssertionError::MissingClaim(claim),
                "{claim}"
            );
        }
        // Another key with the same kid: the signature does not verify.
        let other = SigningKey::generate(Algorithm::Es256, Some("k1")).unwrap();
        assert_eq!(
            keys.verify_assertion(&other.sign(&claims(now)), &rules(now)),
            Err(AssertionError::BadSignature)
        );
    }
}

#[tokio::test]
async fn a_status_list_token_is_a_signed_statuslist_jwt() {
    use crate::status_list::{sign_status_list_token, StatusList, StatusListClaims, INVALID};
    use aws_lc_rs::signature::{
        EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1_SIGNING,
        ECDSA_P256_SHA256_FIXED,
    };
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let public = key.public_key().as_ref().to_vec();
    let signer = DerSigner { key, convert: true };
    let mut list = StatusList::new(1, 16).unwrap();
    list.set(3, INVALID).unwrap();
    let claims = StatusListClaims {
        uri: "https://signoff.example/statuslists/100/0",
        issued_at: 1_000,
        expires_at: 1_600,
        ttl: 300,
    };
    let token = sign_status_list_token(&signer, &claims, &list)
        .await
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |part: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(
        decode(parts[0]),
        json!({"typ": "statuslist+jwt", "alg": "ES256", "kid": "der-1"})
    );
    let payload = decode(parts[1]);
    assert_eq!(
        payload,
        json!({
            "sub": "https://signoff.example/statuslists/100/0", "iat": 1_000, "exp": 1_600,
            "ttl": 300, "status_list": {"bits": 1, "lst": list.lst()},
        })
    );
    let read = StatusList::from_lst(1, payload["status_list"]["lst"].as_str().unwrap(), 2).unwrap();
    assert_eq!(read.get(3).unwrap(), INVALID);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the signature verifies with the signer's public key");
}
