//! PEM public keys, as a project registers them: `Jwk::from_pem` on arbitrary text (with
//! and without a kid) never panics, and a key it accepts is one the verifier can use and
//! that reads back from its JWK JSON as the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signoff_jose::{Jwk, ParsedKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kid in [None, Some("fuzz-kid")] {
        let Ok(jwk) = Jwk::from_pem(text, kid) else {
            continue;
        };
        assert!(jwk.algorithm().is_some());
        ParsedKey::from_jwk(&jwk).expect("an accepted PEM key parses for verification");
        if let Some(kid) = kid {
            assert_eq!(jwk.kid, kid);
        } else {
            assert_eq!(jwk.kid, jwk.thumbprint());
        }
        let again = Jwk::from_json(&serde_json::to_value(&jwk).unwrap())
            .expect("an accepted PEM key reads back from its JWK JSON");
        assert!(again.same_material(&jwk));
    }
});
