//! Refresh-JWT claims (and headers) behind a valid signature, which the `jwt` target cannot
//! reach: the input is JSON, either a claims object or `[header, claims]`; the target signs
//! it with the demo project's key and verifies it against that key. Never panics, and an
//! accepted token meets Descope's rules: not expired at `now` (with leeway), issued by the
//! project, a usable user id taken from `dsub` or else `sub`, `drn` absent or `DSR`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use signoff_jose::{issuer_matches, SigningKey, VerifyingKeySet, LEEWAY_SECONDS, REFRESH_DRN};
use signoff_store::demo;

static KEY: LazyLock<(SigningKey, VerifyingKeySet)> = LazyLock::new(|| {
    let key =
        SigningKey::from_pem(demo::PROJECT_PRIVATE_KEY_PEM, Some(demo::PROJECT_KEY_ID)).unwrap();
    let set = VerifyingKeySet::new(&[key.public_jwk()]);
    (key, set)
});

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (key, set) = &*KEY;
    let (header, claims) = match input {
        Value::Array(mut pair) if pair.len() == 2 => {
            let claims = pair.pop().unwrap();
            (pair.pop().unwrap(), claims)
        }
        claims => (
            json!({"alg": "ES256", "kid": demo::PROJECT_KEY_ID, "typ": "JWT"}),
            claims,
        ),
    };
    let token = key.sign_with_header(&header, &claims);
    let Ok(verified) = set.verify(&token, demo::PROJECT_ID, NOW) else {
        return;
    };
    assert!(verified.expires_at.saturating_add(LEEWAY_SECONDS) >= NOW);
    assert!(issuer_matches(&verified.issuer, demo::PROJECT_ID));
    assert_eq!(claims["iss"].as_str(), Some(verified.issuer.as_str()));
    let user = &verified.user;
    assert!(!user.is_empty() && user.len() <= 256 && !user.chars().any(char::is_control));
    match claims.get("dsub") {
        Some(dsub) => {
            assert_eq!(dsub.as_str(), Some(user.as_str()));
            assert_eq!(verified.subject.as_deref(), claims["sub"].as_str());
        }
        None => {
            assert_eq!(claims["sub"].as_str(), Some(user.as_str()));
            assert_eq!(verified.subject, None);
        }
    }
    assert!(verified.drn.as_deref().is_none_or(|d| d == REFRESH_DRN));
});
