//! Verifying compact JWS against a parsed key set, and Descope's refresh-JWT rules on top.

use aws_lc_rs::signature::ParsedPublicKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jwk::{Jwk, KeyError};
use crate::{Algorithm, LEEWAY_SECONDS, MAX_TOKEN_BYTES};

/// The `drn` of a refresh JWT.
pub const REFRESH_DRN: &str = "DSR";

/// Longest user id accepted from a token: a user id becomes an index key, so it meets
/// the limits registration applies to `subject` (the store's `MAX_ID_BYTES`).
const MAX_USER_BYTES: usize = 256;

/// Why a refresh JWT is refused. Each names the problem; none reveals key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the refresh token is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the refresh token is signed with {0}, which is not accepted (ES256 or RS256 only)")]
    UnsupportedAlgorithm(String),
    #[error("the refresh token has a 'crit' header, which is not supported")]
    CriticalHeader,
    #[error("the refresh token's key id (kid) is missing or not one of the project's keys")]
    UnknownKey,
    #[error("the refresh token's signature is not valid")]
    BadSignature,
    #[error("the refresh token has expired")]
    Expired,
    #[error("the refresh token is not valid yet")]
    NotYetValid,
    #[error("the refresh token was not issued for this project")]
    WrongIssuer,
    #[error("the refresh token has no valid '{0}' claim")]
    MissingClaim(&'static str),
    #[error("the token is not a refresh token (drn is not DSR)")]
    NotRefreshToken,
}

/// What Signoff needs from a verified refresh JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    /// The user: `dsub` when present, else `sub` (as Descope's SDKs read it).
    pub user: String,
    /// `sub`, when `dsub` overrides it.
    pub subject: Option<String>,
    pub issuer: String,
    pub expires_at: i64,
    /// Where the token is kept (Descope's `drn`, e.g. `DSR`), if given.
    pub drn: Option<String>,
}

/// One public key, parsed once and ready to check signatures.
#[derive(Debug, Clone)]
pub struct ParsedKey {
    kid: String,
    algorithm: Algorithm,
    key: ParsedPublicKey,
}

impl ParsedKey {
    /// Parses a stored JWK (its material was checked at registration; this parses it
    /// again, so a key that no longer parses is an error here too).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let algorithm = jwk
            .algorithm()
            .ok_or_else(|| KeyError::Invalid(format!("algorithm {} is not supported", jwk.alg)))?;
        Ok(ParsedKey {
            kid: jwk.kid.clone(),
            algorithm,
            key: jwk.public_key()?,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` (JWS form: raw `r || s` for ES256) signs `message`.
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// A project's keys, parsed once and reused for every token checked against them.
#[derive(Debug, Clone, Default)]
pub struct VerifyingKeySet {
    keys: Vec<ParsedKey>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

impl VerifyingKeySet {
    /// Parses `keys`. A stored key that does not parse (which registration prevents) is
    /// left out: no token verifies against it, as none could before.
    pub fn new(keys: &[Jwk]) -> Self {
        VerifyingKeySet {
            keys: keys
                .iter()
                .filter_map(|k| ParsedKey::from_jwk(k).ok())
                .collect(),
        }
    }

    pub fn keys(&self) -> &[ParsedKey] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a compact JWS: at most [`MAX_TOKEN_BYTES`], ES256 or RS256, no `crit`, a
    /// `kid` naming one of the keys of the header's algorithm, a valid signature, and a
    /// JSON object as payload, which it returns. Nothing of the payload is judged.
    pub fn verify_jws(&self, token: &str) -> Result<Map<String, Value>, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed("it is too long"));
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("it does not have three parts"));
        };
        let header: Header = decode_json(header_b64).ok_or(JwtError::Malformed("bad header"))?;
        let alg = header
            .alg
            .ok_or(JwtError::Malformed("no alg in the header"))?;
        // The name is echoed in the error: keep what an attacker can make us repeat short.
        let algorithm = Algorithm::parse(&alg)
            .ok_or_else(|| JwtError::UnsupportedAlgorithm(alg.chars().take(16).collect()))?;
        if header.crit.is_some() {
            return Err(JwtError::CriticalHeader);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid && k.algorithm == algorithm)
            .ok_or(JwtError::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
        let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
        if !key.verify_signature(signed.as_bytes(), &signature) {
            return Err(JwtError::BadSignature);
        }
        decode_json(payload_b64).ok_or(JwtError::Malformed("bad payload"))
    }

    /// Verifies a refresh JWT of `project` at time `now` (epoch seconds): the JWS first
    /// ([`VerifyingKeySet::verify_jws`]), then `exp`/`nbf` with [`LEEWAY_SECONDS`], then
    /// `iss` ([`issuer_matches`]), the user (`dsub` or `sub`) and `drn`.
    pub fn verify(&self, token: &str, project: &str, now: i64) -> Result<RefreshClaims, JwtError> {
        let claims = self.verify_jws(token)?;
        refresh_claims(&claims, project, now)
    }
}

/// Verifies a refresh JWT of `project` against the project's `keys` at time `now`: parses
/// the keys, then [`VerifyingKeySet::verify`]. Build the set once where several tokens are
/// checked against the same keys.
pub fn verify(
    token: &str,
    keys: &[Jwk],
    project: &str,
    now: i64,
) -> Result<RefreshClaims, JwtError> {
    VerifyingKeySet::new(keys).verify(token, project, now)
}

/// Descope's rules on the claims of a JWS whose signature has been checked.
fn refresh_claims(
    claims: &Map<String, Value>,
    project: &str,
    now: i64,
) -> Result<RefreshClaims, JwtError> {
    let number = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(JwtError::MissingClaim(name)),
    };
    let text = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::MissingClaim(name)),
    };
    let expires_at = number("exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if now > expires_at.saturating_add(LEEWAY_SECONDS) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = number("nbf")? {
        if now < nbf.saturating_sub(LEEWAY_SECONDS) {
            return Err(JwtError::NotYetValid);
        }
    }
    let issuer = text("iss")?.ok_or(JwtError::MissingClaim("iss"))?;
    if !issuer_matches(&issuer, project) {
        return Err(JwtError::WrongIssuer);
    }
    let sub = text("sub")?.map(|s| check_user(s, "sub")).transpose()?;
    let (user, subject) = match text("dsub")? {
        Some(dsub) => (check_user(dsub, "dsub")?, sub),
        None => (sub.ok_or(JwtError::MissingClaim("sub"))?, None),
    };
    // Descope marks where a token lives: DSR for refresh tokens, DS for session tokens.
    let drn = text("drn")?;
    if drn.as_deref().is_some_and(|d| d != REFRESH_DRN) {
        return Err(JwtError::NotRefreshToken);
    }
    Ok(RefreshClaims {
        user,
        subject,
        issuer,
        expires_at,
        drn,
    })
}

/// A user id is used as an index key: the limits registration applies to `subject`
/// (non-empty, at most 256 bytes, no control characters), checked the same way here so
/// this crate needs nothing of the store.
fn check_user(user: String, claim: &'static str) -> Result<String, JwtError> {
    if user.is_empty() || user.len() > MAX_USER_BYTES || user.chars().any(char::is_control) {
        return Err(JwtError::MissingClaim(claim));
    }
    Ok(user)
}

pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Whether `iss` names `project`: the project id itself, or a URL whose last path segment
/// is the project id (`https://api.descope.com/<projectId>`).
pub fn issuer_matches(iss: &str, project: &str) -> bool {
    if iss == project {
        return true;
    }
    let Some(rest) = iss
        .strip_prefix("https://")
        .or_else(|| iss.strip_prefix("http://"))
    else {
        return false;
    };
    // Host, then a path; no query or fragment, no empty segments but a trailing slash.
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    if host.is_empty() || rest.contains(['?', '#']) {
        return false;
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    !segments.iter().any(|s| s.is_empty()) && segments.last() == Some(&project)
}
