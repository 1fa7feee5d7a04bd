//! JWKs and JWKS documents, as a project registers them: `Jwk::parse_set` and
//! `Jwk::from_json` on arbitrary text never panic, and every key they accept is one the
//! verifier can use (registration's promise: a bad key is refused then, not at every
//! logout): it parses, has a supported algorithm, a valid kid and a thumbprint, and reads
//! back from its own JSON as the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use signoff_jose::{Jwk, ParsedKey};

fn check(jwk: &Jwk) {
    assert!(jwk.algorithm().is_some());
    let parsed = ParsedKey::from_jwk(jwk).expect("an accepted JWK parses for verification");
    assert_eq!(parsed.kid(), jwk.kid);
    assert!(!jwk.thumbprint().is_empty());
    let again = Jwk::from_json(&serde_json::to_value(jwk).unwrap())
        .expect("an accepted JWK reads back from its own JSON");
    assert!(again.same_material(jwk));
    assert_eq!(again.kid, jwk.kid);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(keys) = Jwk::parse_set(text) {
        keys.iter().for_each(check);
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        if let Ok(jwk) = Jwk::from_json(&value) {
            check(&jwk);
        }
    }
});
