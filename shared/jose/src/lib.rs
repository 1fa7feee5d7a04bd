//! Signoff's JOSE layer: public keys as JWKs, verification of Descope-style refresh JWTs,
//! and signing of compact JWS through one signer trait.
//!
//! It stands alone (no store, no HTTP, no AWS SDK) so that whatever needs a key rule can
//! depend on it: the store checks keys at registration, the Descope function verifies
//! refresh tokens, the admin tool and the tests mint them.
//!
//! # Parsers
//!
//! No hand-written PEM or DER reader. PEM armour is read by `pem-rfc7468` (strict RFC 7468
//! framing). Every key structure inside is parsed by aws-lc-rs, the crypto library the
//! binaries already link for TLS and signatures: SubjectPublicKeyInfo and PKCS #1 with
//! AWS-LC's strict DER reader (minimal lengths, canonical integers), which also checks the
//! key itself (RSA consistency, the point on P-256). On top of that a key is accepted only
//! in the exact encoding AWS-LC would write for it, so bytes after the key and any other
//! alternative encoding are refused. The one structure aws-lc-rs has no public parser for,
//! the DER ECDSA signature AWS KMS returns, is read with the `der` crate ([`ecdsa_der_to_jws`]).
//!
//! `jsonwebtoken` 10 on its aws-lc-rs backend was the alternative. It would not replace
//! the rules below (kid lookup with alg match, `crit`, Descope's `drn` and issuer URLs,
//! the JWK checks at registration, integer-or-float `exp`), only wrap the same aws-lc-rs
//! calls, and for PEM keys (`use_pem`) it brings `pem`, `simple_asn1`, `num-bigint` and
//! `time` along. Normal dependencies, `cargo tree -e normal`, each crate once: this crate
//! 21 (new to the workspace: `der`, `pem-rfc7468`, `base64ct`, and `untrusted` 0.7 for
//! aws-lc-rs's `ring-io`), against 33 for `jsonwebtoken` with `aws_lc_rs` and `use_pem`
//! plus the same serde/thiserror/base64. Init cost is the same either way: nothing is
//! parsed at start, a project's keys are parsed when read.
//!
//! # Verification
//!
//! Deliberately narrow. Only ES256 and RS256; the key is chosen by `kid` among the
//! project's keys and must be of the header's algorithm (an RSA key never checks an ES256
//! signature, and no key checks an HMAC one, so `alg: none` and HMAC-with-the-public-key
//! confusion fail before any signature is computed); `crit` headers are refused. Keys are
//! parsed once into a [`VerifyingKeySet`] and reused for every token checked against it.
//!
//! # Signing
//!
//! [`JwsSigner`] is the one interface: an algorithm, a key id and an async `sign` over the
//! JWS signing input, so a key held in AWS KMS plugs in beside the local keys without
//! touching callers; [`sign_compact`] builds a compact JWS with any signer. With the
//! `signing` feature (the admin tool and the tests), [`SigningKey`] generates, reads and
//! writes local key pairs and signs with them.

mod assertion;
mod jwk;
pub mod logout_token;
mod pem;
pub mod security_event;
mod sign;
pub mod status_list;
mod verify;

pub use assertion::{
    assertion_claims, unverified_issuer, Assertion, AssertionError, AssertionRules, MAX_JTI_BYTES,
};
pub use jwk::{Jwk, KeyError};
#[cfg(feature = "signing")]
pub use sign::SigningKey;
pub use sign::{ecdsa_der_to_jws, sign_compact, JwsSigner, SignError};
pub use verify::{
    issuer_matches, verify, JwtError, ParsedKey, RefreshClaims, VerifyingKeySet, REFRESH_DRN,
};

/// Clock skew tolerated on `exp` and `nbf`, as Descope's Node SDK allows.
pub const LEEWAY_SECONDS: i64 = 5;

/// Longest token accepted: refresh JWTs with many tenants and roles run to a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The JWS algorithms Signoff accepts and signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Algorithm::Es256),
            "RS256" => Some(Algorithm::Rs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

#[cfg(test)]
mod tests;
