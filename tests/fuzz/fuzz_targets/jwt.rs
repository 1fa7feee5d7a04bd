//! JWT header and claims, as an attacker sends them: `VerifyingKeySet::verify_jws` and
//! `verify` on arbitrary text against a fixed set of public keys (the EC and RSA keys of
//! shared/jose's test vectors and the demo project's key) never panic, and an `Ok` carries
//! a valid signature: the fuzzer holds no private key, so an accepted token must sign the
//! same header and payload as one of the published tokens (the vectors' and the demo's).
//! Its signature may differ (an ECDSA signature has two valid forms), its signed part not.
#![no_main]

use std::collections::HashSet;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use signoff_jose::{Jwk, SigningKey, VerifyingKeySet};
use signoff_store::demo;

const VECTORS: &str = include_str!("../../../shared/jose/tests/vectors/vectors.json");

struct Fixture {
    keys: VerifyingKeySet,
    /// `header.payload` of every published token.
    signed: HashSet<String>,
    projects: [String; 2],
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let mut keys = Jwk::parse_set(&vectors["jwks"].to_string()).unwrap();
    let demo_key =
        SigningKey::from_pem(demo::PROJECT_PRIVATE_KEY_PEM, Some(demo::PROJECT_KEY_ID)).unwrap();
    keys.push(demo_key.public_jwk());
    let keys = VerifyingKeySet::new(&keys);
    assert_eq!(keys.keys().len(), 3);
    let mut tokens: Vec<String> = demo::PROJECT_REFRESH_JWTS.map(str::to_owned).to_vec();
    for list in ["valid", "invalid"] {
        for case in vectors[list].as_array().unwrap() {
            tokens.push(case["token"].as_str().unwrap().to_owned());
        }
    }
    let signed = tokens
        .iter()
        .filter_map(|t| t.rsplit_once('.').map(|(signed, _)| signed.to_owned()))
        .collect();
    let projects = [
        vectors["project"].as_str().unwrap().to_owned(),
        demo::PROJECT_ID.to_owned(),
    ];
    Fixture {
        keys,
        signed,
        projects,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let fixture = &*FIXTURE;
    let accepted = fixture.keys.verify_jws(token).is_ok();
    if accepted {
        let (signed, _) = token.rsplit_once('.').unwrap();
        assert!(
            fixture.signed.contains(signed),
            "a token no published key signed verified: {token:?}"
        );
    }
    for project in &fixture.projects {
        for now in [i64::MIN, 0, 1_700_000_000, 4_102_444_805, i64::MAX] {
            let claims = fixture.keys.verify(token, project, now);
            assert!(
                claims.is_err() || accepted,
                "verify accepted what verify_jws refused"
            );
        }
    }
});
