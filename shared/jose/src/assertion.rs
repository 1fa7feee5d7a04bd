//! JWT assertions a caller authenticates with (RFC 7523 section 3, the shape Global Token
//! Revocation recommends): signed by the caller's registered key, for exactly one
//! audience (the endpoint's URL), short-lived, with a `jti` the server uses once.

use serde_json::{Map, Value};

use crate::verify::{decode_json, JwtError, VerifyingKeySet};
use crate::{LEEWAY_SECONDS, MAX_TOKEN_BYTES};

/// Longest `jti` accepted: it becomes part of a key.
pub const MAX_JTI_BYTES: usize = 256;

/// What an assertion must say to be accepted.
#[derive(Clone, Copy, Debug)]
pub struct AssertionRules<'a> {
    /// The registered `iss` (and the key set is that issuer's).
    pub issuer: &'a str,
    /// The registered `sub`.
    pub subject: &'a str,
    /// The exact URL of the endpoint called: `aud` must be it or contain it.
    pub audience: &'a str,
    /// Now, epoch seconds.
    pub now: i64,
    /// The longest `exp` may lie ahead of now (and of `iat`), seconds.
    pub max_lifetime: i64,
}

/// A verified assertion: what the replay check needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    pub jti: String,
    pub expires_at: i64,
}

/// Why an assertion is refused. The message is safe to show the caller: it names the
/// rule, never key material or claim values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the bearer assertion is not a signed JWT: {0}")]
    Malformed(&'static str),
    #[error("the bearer assertion is signed with an algorithm other than ES256 or RS256")]
    UnsupportedAlgorithm,
    #[error("the bearer assertion's kid is missing or names none of the registered keys")]
    UnknownKey,
    #[error("the bearer assertion's signature is not valid")]
    BadSignature,
    #[error("the bearer assertion has no valid '{0}' claim")]
    MissingClaim(&'static str),
    #[error("the bearer assertion's '{0}' is not the registered value")]
    Mismatch(&'static str),
    #[error("the bearer assertion's aud is not this endpoint's URL")]
    WrongAudience,
    #[error("the bearer assertion has expired")]
    Expired,
    #[error("the bearer assertion is issued in the future or not valid yet")]
    NotYetValid,
    #[error("the bearer assertion lives longer than {0} seconds")]
    TooLongLived(i64),
}

impl From<JwtError> for AssertionError {
    fn from(err: JwtError) -> Self {
        match err {
            JwtError::Malformed(why) => AssertionError::Malformed(why),
            JwtError::UnsupportedAlgorithm(_) | JwtError::CriticalHeader => {
                AssertionError::UnsupportedAlgorithm
            }
            JwtError::UnknownKey => AssertionError::UnknownKey,
            JwtError::BadSignature => AssertionError::BadSignature,
            // verify_jws judges no claims; these cannot come from it.
            JwtError::Expired => AssertionError::Expired,
            JwtError::NotYetValid => AssertionError::NotYetValid,
            JwtError::WrongIssuer => AssertionError::Mismatch("iss"),
            JwtError::MissingClaim(name) => AssertionError::MissingClaim(name),
            JwtError::NotRefreshToken => AssertionError::Malformed("unexpected drn"),
        }
    }
}

/// The claims of an assertion for `audience`, issued `now` and living `lifetime` seconds,
/// as a trusted party would sign it (the admin tool and the tests mint them with this).
pub fn assertion_claims(
    issuer: &str,
    subject: &str,
    audience: &str,
    jti: &str,
    now: i64,
    lifetime: i64,
) -> Value {
    serde_json::json!({
        "iss": issuer, "sub": subject, "aud": audience, "jti": jti,
        "iat": now, "exp": now.saturating_add(lifetime),
    })
}

/// The `iss` an assertion claims, read before anything is verified: only to find whose
/// keys to verify it with. `None` if there is no readable string `iss`.
pub fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let claims: Map<String, Value> = decode_json(payload)?;
    match claims.get("iss")? {
        Value::String(iss) => Some(iss.clone()),
        _ => None,
    }
}

impl VerifyingKeySet {
    /// Verifies an assertion: the JWS ([`VerifyingKeySet::verify_jws`]), then `iss` and
    /// `sub` equal to the registered values, `aud` naming the endpoint, `exp` in the
    /// future but at most `max_lifetime` ahead, `iat` present and not in the future, `nbf`
    /// if present, and a `jti`. Clock skew of [`LEEWAY_SECONDS`] either way.
    pub fn verify_assertion(
        &self,
        token: &str,
        rules: &AssertionRules<'_>,
    ) -> Result<Assertion, AssertionError> {
        let claims = self.verify_jws(token)?;
        let text = |name: &'static str| match claims.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
            _ => Err(AssertionError::MissingClaim(name)),
        };
        let number = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or(AssertionError::MissingClaim(name)),
        };
        if text("iss")? != rules.issuer {
            return Err(AssertionError::Mismatch("iss"));
        }
        if text("sub")? != rules.subject {
            return Err(AssertionError::Mismatch("sub"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == rules.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(rules.audience)),
            _ => return Err(AssertionError::MissingClaim("aud")),
        };
        if !audience_ok {
            return Err(AssertionError::WrongAudience);
        }
        let now = rules.now;
        let expires_at = number("exp")?.ok_or(AssertionError::MissingClaim("exp"))?;
        if now > expires_at.saturating_add(LEEWAY_SECONDS) {
            return Err(AssertionError::Expired);
        }
        let issued_at = number("iat")?.ok_or(AssertionError::MissingClaim("iat"))?;
        if issued_at > now.saturating_add(LEEWAY_SECONDS) {
            return Err(AssertionError::NotYetValid);
        }
        if let Some(nbf) = number("nbf")? {
            if now < nbf.saturating_sub(LEEWAY_SECONDS) {
                return Err(AssertionError::NotYetValid);
            }
        }
        let longest = rules.max_lifetime.saturating_add(LEEWAY_SECONDS);
        if expires_at.saturating_sub(now) > longest
            || expires_at.saturating_sub(issued_at) > longest
        {
            return Err(AssertionError::TooLongLived(rules.max_lifetime));
        }
        let jti = text("jti")?;
        if jti.len() > MAX_JTI_BYTES || jti.chars().any(char::is_control) {
            return Err(AssertionError::MissingClaim("jti"));
        }
        Ok(Assertion {
            jti: jti.to_owned(),
            expires_at,
        })
    }
}
